//! Per-user UI state that outlives a session: the theme, the columns chosen per store and
//! experiment,
//! and the last event seen (for "new since you last looked"). One JSON file,
//! `$XDG_STATE_HOME/kiroku/ui.json` (else `~/.local/state/kiroku/ui.json`); a missing or
//! unreadable file means defaults, never an error at start.
use crate::user_dirs::UserDir;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UiState {
    pub theme: Option<String>,
    /// Column choices per store (by its description), then per experiment name (`*` for all
    /// experiments): hiding a column in one store leaves every other store as it was. (Files
    /// of older versions kept one `columns` map for every store; it is ignored.)
    pub columns_by_store: BTreeMap<String, BTreeMap<String, ColumnPrefs>>,
    /// Last seen event id per store (by its description).
    pub last_seen_event: BTreeMap<String, i64>,
}

/// The user's column choices for one experiment, as column specs (`params.lr`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ColumnPrefs {
    /// Display order; columns not listed follow in their automatic order.
    pub order: Vec<String>,
    pub hidden: Vec<String>,
    /// Shown even though they would not be automatically (a param that does not vary, a tag).
    pub shown: Vec<String>,
}

/// `$XDG_STATE_HOME/kiroku` or `~/.local/state/kiroku`.
pub fn state_dir() -> Option<PathBuf> {
    UserDir::State.path()
}

/// `$XDG_CONFIG_HOME/kiroku` or `~/.config/kiroku` (keymap and user themes).
pub fn config_dir() -> Option<PathBuf> {
    UserDir::Config.path()
}

impl UiState {
    pub fn path() -> Option<PathBuf> {
        state_dir().map(|d| d.join("ui.json"))
    }

    pub fn load() -> UiState {
        Self::path()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    /// Saves what this session owns, `store`'s column choices and last seen event (and the
    /// theme), into the file as it is now: a session on another store that saved meanwhile
    /// keeps its choices.
    pub fn save_for_store(&self, store: &str) -> Result<(), String> {
        let mut on_disk = Self::load();
        on_disk.merge_store(self, store);
        on_disk.save()
    }

    /// Takes `store`'s parts (and the theme) from `ours`.
    pub fn merge_store(&mut self, ours: &UiState, store: &str) {
        self.theme = ours.theme.clone();
        match ours.columns_by_store.get(store) {
            Some(c) => self.columns_by_store.insert(store.to_string(), c.clone()),
            None => self.columns_by_store.remove(store),
        };
        if let Some(id) = ours.last_seen_event.get(store) {
            self.last_seen_event.insert(store.to_string(), *id);
        }
    }

    /// Writes atomically (temp file + rename) so two sessions never leave half a file.
    pub fn save(&self) -> Result<(), String> {
        let Some(path) = Self::path() else {
            return Err("no state directory (set HOME or XDG_STATE_HOME)".into());
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        let tmp = path.with_extension(format!("json.{}", std::process::id()));
        std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_takes_only_this_stores_choices() {
        let prefs = |col: &str| ColumnPrefs {
            hidden: vec![col.into()],
            ..ColumnPrefs::default()
        };
        let mut on_disk = UiState::default();
        on_disk
            .columns_by_store
            .entry("b".into())
            .or_default()
            .insert("*".into(), prefs("params.lr"));
        let mut ours = UiState::default();
        ours.columns_by_store
            .entry("a".into())
            .or_default()
            .insert("*".into(), prefs("user"));
        ours.last_seen_event.insert("a".into(), 7);
        on_disk.merge_store(&ours, "a");
        assert_eq!(on_disk.columns_by_store["a"]["*"].hidden, ["user"]);
        assert_eq!(on_disk.columns_by_store["b"]["*"].hidden, ["params.lr"]);
        assert_eq!(on_disk.last_seen_event["a"], 7);
    }
}
