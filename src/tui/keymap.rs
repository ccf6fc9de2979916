//! Key bindings as data: the defaults are an embedded TOML file (`keymap.toml`), a user file
//! (`$XDG_CONFIG_HOME/kiroku/keymap.toml`) overrides single bindings. A bad user file is
//! reported with its line and the defaults stay in force. The help screen is generated from
//! the merged map, so it can never disagree with what the keys do.
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::BTreeMap;

const DEFAULTS: &str = include_str!("keymap.toml");

/// Sections, most specific first when looking a key up (`runs` then `global`).
pub const SECTIONS: [&str; 9] = [
    "global",
    "runs",
    "run",
    "compare",
    "activity",
    "jobs",
    "checks",
    "models",
    "pipelines",
];

/// Defines `Cmd` (every action a key can name) with its name in keymap files and its help text,
/// from one list, so the parser, the help screen and `update` cannot disagree.
macro_rules! commands {
    ($($variant:ident = $name:literal : $desc:literal,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Cmd { $($variant,)* }
        impl Cmd {
            pub const ALL: &'static [(Cmd, &'static str, &'static str)] =
                &[$((Cmd::$variant, $name, $desc),)*];
        }
    };
}

commands! {
    Down = "down": "move down",
    Up = "up": "move up",
    Top = "top": "go to the top",
    Bottom = "bottom": "go to the bottom",
    PageDown = "page_down": "page down",
    PageUp = "page_up": "page up",
    Left = "left": "previous column / chart cursor left",
    Right = "right": "next column / chart cursor right",
    Open = "open": "open the selected item",
    Back = "back": "back / close",
    NextTab = "next_tab": "next pane or tab",
    PrevTab = "prev_tab": "previous pane or tab",
    Quit = "quit": "quit",
    Help = "help": "this help",
    Palette = "palette": "command palette",
    Filter = "filter": "filter / search",
    Refresh = "refresh": "reload from the store",
    Mark = "mark": "mark the run (for compare)",
    UnmarkAll = "unmark_all": "clear all marks",
    Star = "star": "star or unstar",
    Tag = "tag": "set a tag (k=v; -k removes)",
    Note = "note": "write a note",
    Reply = "reply": "reply to the selected note",
    Delete = "delete": "delete or restore (asks first)",
    Compare = "compare": "compare marked runs",
    Sort = "sort": "sort by the selected column",
    SortReverse = "sort_reverse": "reverse the sort",
    MetricStat = "metric_stat": "metric cells: last, best, worst",
    HideColumn = "hide_column": "hide the selected column",
    MoveColumnLeft = "move_column_left": "move the column left",
    MoveColumnRight = "move_column_right": "move the column right",
    ShowDeleted = "show_deleted": "show deleted runs",
    Activity = "activity": "activity log",
    ChartMode = "chart_mode": "charts: grid or sparkline list",
    SmoothMore = "smooth_more": "more EMA smoothing",
    SmoothLess = "smooth_less": "less EMA smoothing",
    LogY = "log_y": "log y axis on/off",
    XAxis = "x_axis": "x axis: step, wall time, relative time",
    ZoomIn = "zoom_in": "zoom in around the cursor",
    ZoomReset = "zoom_reset": "reset zoom",
    Follow = "follow": "follow the log's end",
    Ansi = "ansi": "log colours: keep or strip",
    SearchNext = "search_next": "next match",
    SearchPrev = "search_prev": "previous match",
    ToggleAll = "toggle_all": "params: only changed or all",
    Baseline = "baseline": "next baseline run",
    Direction = "direction": "flip better direction of the metric",
    MarkSeen = "mark_seen": "mark all events seen",
    Jobs = "jobs": "jobs queue, GPUs and job logs",
    Launch = "launch": "launch a job (form)",
    Rerun = "rerun": "run the run again with edited params (form)",
    CancelJob = "cancel_job": "cancel the job (asks first)",
    RetryJob = "retry_job": "queue the job again (asks first)",
    NextTarget = "next_target": "show the next target's jobs",
    Checks = "checks": "check runs: waiting for review, history per dataset",
    Approve = "approve": "approve the selected result (comment, asks first)",
    Waive = "waive": "waive the selected result (reason required, asks first)",
    Reject = "reject": "reject the selected result or model version (comment, asks first)",
    Models = "models": "model registry: versions, gates, approvals, alias history, hooks",
    Promote = "promote": "move an alias to the selected version (shows the gate, asks first)",
    Rollback = "rollback": "move the selected version's alias back (asks first)",
    Pipelines = "pipelines": "the pipeline's stages (dvc.yaml): fresh, stale and why, frozen",
    RunStage = "run_stage": "run the selected stage in the background (kiroku repro STAGE)",
    ForceStage = "force_stage": "run the selected stage even if fresh (kiroku repro STAGE -f)",
}

impl Cmd {
    pub fn from_name(name: &str) -> Option<Cmd> {
        Cmd::ALL
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(c, _, _)| *c)
    }
    pub fn name(self) -> &'static str {
        Cmd::ALL
            .iter()
            .find(|(c, _, _)| *c == self)
            .map(|(_, n, _)| *n)
            .unwrap_or("")
    }
    pub fn describe(self) -> &'static str {
        Cmd::ALL
            .iter()
            .find(|(c, _, _)| *c == self)
            .map(|(_, _, d)| *d)
            .unwrap_or("")
    }
}

#[derive(Debug, Clone)]
pub struct Keymap {
    /// section → key text → action name.
    pub sections: BTreeMap<String, BTreeMap<String, String>>,
}

/// A key event as keymap text: `j`, `G`, `ctrl-d`, `enter`, `space`.
pub fn key_text(key: &KeyEvent) -> Option<String> {
    let base = match key.code {
        KeyCode::Char(' ') => "space".to_string(),
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Enter => "enter".into(),
        KeyCode::Esc => "esc".into(),
        KeyCode::Tab => "tab".into(),
        KeyCode::BackTab => "backtab".into(),
        KeyCode::Backspace => "backspace".into(),
        KeyCode::Up => "up".into(),
        KeyCode::Down => "down".into(),
        KeyCode::Left => "left".into(),
        KeyCode::Right => "right".into(),
        KeyCode::PageUp => "pageup".into(),
        KeyCode::PageDown => "pagedown".into(),
        KeyCode::Home => "home".into(),
        KeyCode::End => "end".into(),
        KeyCode::Delete => "delete".into(),
        KeyCode::F(n) => format!("f{n}"),
        _ => return None,
    };
    let mut out = String::new();
    if key.modifiers.contains(KeyModifiers::CONTROL) {
        out.push_str("ctrl-");
    }
    if key.modifiers.contains(KeyModifiers::ALT) {
        out.push_str("alt-");
    }
    out.push_str(&base);
    Some(out)
}

fn valid_key(text: &str) -> bool {
    let rest = text.trim_start_matches("ctrl-").trim_start_matches("alt-");
    rest.chars().count() == 1
        || matches!(
            rest,
            "space"
                | "enter"
                | "esc"
                | "tab"
                | "backtab"
                | "backspace"
                | "up"
                | "down"
                | "left"
                | "right"
                | "pageup"
                | "pagedown"
                | "home"
                | "end"
                | "delete"
        )
        || (rest.starts_with('f') && rest[1..].parse::<u8>().is_ok())
}

/// The 1-based line of `needle` in `text` (for error messages), else 1.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or(1)
}

/// The 1-based line binding `key` in `[section]` (bare, `"quoted"` or `'quoted'`), else the
/// section's header line, else 1.
fn line_of_binding(text: &str, section: &str, key: &str) -> usize {
    let mut current = None;
    let mut header = None;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
            current = Some(name.trim().trim_matches('"').to_string());
            if current.as_deref() == Some(section) {
                header.get_or_insert(i + 1);
            }
            continue;
        }
        if current.as_deref() != Some(section) {
            continue;
        }
        let Some((name, _)) = line.split_once('=') else {
            continue;
        };
        let name = name.trim();
        let unquoted = name
            .strip_prefix('"')
            .and_then(|n| n.strip_suffix('"'))
            .or_else(|| name.strip_prefix('\'').and_then(|n| n.strip_suffix('\'')))
            .unwrap_or(name);
        if unquoted == key {
            return i + 1;
        }
    }
    header.unwrap_or(1)
}

impl Keymap {
    pub fn defaults() -> Keymap {
        Keymap::parse(DEFAULTS).expect("the embedded keymap is valid (tested)")
    }

    /// Parses a keymap file; errors read `line N: ...`.
    pub fn parse(text: &str) -> Result<Keymap, String> {
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(1);
            format!("line {line}: {}", e.message())
        })?;
        let mut sections = BTreeMap::new();
        for (section, body) in table {
            if !SECTIONS.contains(&section.as_str()) {
                return Err(format!(
                    "line {}: unknown section [{section}] (known: {})",
                    line_of(text, &format!("[{section}]")),
                    SECTIONS.join(", ")
                ));
            }
            let toml::Value::Table(body) = body else {
                return Err(format!(
                    "line {}: '{section}' must be a section of bindings",
                    line_of(text, &section)
                ));
            };
            let mut map = BTreeMap::new();
            for (key, action) in body {
                let line = line_of_binding(text, &section, &key);
                let toml::Value::String(action) = action else {
                    return Err(format!(
                        "line {line}: the action for '{key}' must be a string"
                    ));
                };
                if !valid_key(&key) {
                    return Err(format!("line {line}: unknown key '{key}'"));
                }
                if action != "none" && Cmd::from_name(&action).is_none() {
                    return Err(format!("line {line}: unknown action '{action}'"));
                }
                map.insert(key, action);
            }
            sections.insert(section, map);
        }
        Ok(Keymap { sections })
    }

    /// Defaults with the user's file (`$XDG_CONFIG_HOME/kiroku/keymap.toml`) laid over them.
    pub fn load_user() -> (Keymap, Option<String>) {
        match super::state_file::config_dir() {
            Some(dir) => Keymap::load_file(&dir.join("keymap.toml")),
            None => (Keymap::defaults(), None),
        }
    }

    /// Defaults with `path` laid over them when it exists; a bad file leaves the defaults in
    /// force and comes back as a message naming the file and line.
    pub fn load_file(path: &std::path::Path) -> (Keymap, Option<String>) {
        let mut map = Keymap::defaults();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (map, None),
            Err(e) => {
                let why = crate::error::KirokuError::reading(path.display().to_string(), e);
                return (map, Some(format!("{why} (default keys in force)")));
            }
        };
        match Keymap::parse(&text) {
            Ok(user) => {
                map.merge(user);
                (map, None)
            }
            Err(e) => (
                map,
                Some(format!("{}: {e} (default keys in force)", path.display())),
            ),
        }
    }

    pub fn merge(&mut self, other: Keymap) {
        for (section, bindings) in other.sections {
            let target = self.sections.entry(section).or_default();
            for (k, a) in bindings {
                target.insert(k, a);
            }
        }
    }

    /// The action bound to `key` in `section`, falling back to `global`.
    pub fn lookup(&self, section: &str, key: &KeyEvent) -> Option<Cmd> {
        let text = key_text(key)?;
        // Shifted letters arrive as uppercase chars (with SHIFT set), so `G` is just `G`.
        for s in [section, "global"] {
            if let Some(a) = self.sections.get(s).and_then(|m| m.get(&text)) {
                return Cmd::from_name(a);
            }
        }
        None
    }

    /// The key to show for `cmd` in footer hints: of the keys bound in `section` and
    /// `global`, a letter first, then a named key (`tab`, `enter`), then punctuation.
    pub fn key_for(&self, section: &str, cmd: Cmd) -> Option<String> {
        let mut keys: Vec<&String> = [section, "global"]
            .iter()
            .filter_map(|s| self.sections.get(*s))
            .flat_map(|m| m.iter())
            .filter(|(_, a)| a.as_str() == cmd.name())
            .map(|(k, _)| k)
            .collect();
        // A key rebound in the section shadows the global binding.
        keys.retain(|k| self.lookup_text(section, k) == Some(cmd));
        let rank = |k: &str| {
            let one = k.chars().count() == 1;
            let alnum = k.chars().all(|c| c.is_ascii_alphanumeric());
            match (one, alnum) {
                (true, true) => 0,
                (false, true) => 1,
                (true, false) => 2,
                (false, false) => 3,
            }
        };
        keys.sort_by_key(|k| (rank(k), k.chars().count(), (*k).clone()));
        keys.first().map(|k| (*k).clone())
    }

    fn lookup_text(&self, section: &str, key: &str) -> Option<Cmd> {
        for s in [section, "global"] {
            if let Some(a) = self.sections.get(s).and_then(|m| m.get(key)) {
                return Cmd::from_name(a);
            }
        }
        None
    }

    /// `(section, keys, action, description)` rows for the help screen, keys of one action
    /// joined.
    /// An action the defaults bind in a section but the user's file left without a key (its
    /// key rebound) stays listed as `(unbound)`, so it does not vanish silently.
    pub fn help_rows(&self) -> Vec<(String, String, String, &'static str)> {
        let defaults = Keymap::defaults();
        let mut out = Vec::new();
        for section in SECTIONS {
            let Some(m) = self.sections.get(section) else {
                continue;
            };
            let mut by_action: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for (k, a) in m {
                if a != "none" {
                    by_action.entry(a.as_str()).or_default().push(k.as_str());
                }
            }
            let default_actions: Vec<&String> = defaults
                .sections
                .get(section)
                .map(|d| d.values().collect())
                .unwrap_or_default();
            for (_, action, description) in Cmd::ALL {
                let keys = match by_action.get(action) {
                    Some(keys) => {
                        let mut keys = keys.clone();
                        keys.sort_by_key(|k| (k.chars().count(), k.to_string()));
                        keys.join(" ")
                    }
                    None if default_actions.iter().any(|a| a == action) => "(unbound)".into(),
                    None => continue,
                };
                out.push((section.to_string(), keys, action.to_string(), *description));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_look_up_with_global_fallback() {
        let k = Keymap::defaults();
        let key = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
        assert_eq!(k.lookup("runs", &key(' ')), Some(Cmd::Mark));
        assert_eq!(k.lookup("runs", &key('j')), Some(Cmd::Down));
        assert_eq!(k.lookup("run", &key('n')), Some(Cmd::Note));
        assert_eq!(
            k.lookup(
                "runs",
                &KeyEvent::new(KeyCode::Char('d'), KeyModifiers::CONTROL)
            ),
            Some(Cmd::PageDown)
        );
        assert!(k.help_rows().iter().any(|r| r.2 == "compare"));
    }

    #[test]
    fn rebinding_a_key_keeps_its_old_action_in_the_help() {
        let mut k = Keymap::defaults();
        k.merge(Keymap::parse("[runs]\n\"m\" = \"star\"\n").unwrap());
        let rows = k.help_rows();
        let row = |action: &str| {
            rows.iter()
                .find(|r| r.0 == "runs" && r.2 == action)
                .map(|r| r.1.clone())
        };
        assert_eq!(row("metric_stat").as_deref(), Some("(unbound)"));
        assert_eq!(row("star").as_deref(), Some("* m"));
    }

    #[test]
    fn a_bad_file_keeps_the_defaults_and_says_where() {
        let dir = std::env::temp_dir().join(format!("kiroku-keymap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("keymap.toml");
        std::fs::write(&path, "[runs]\n\"Q\" = \"mark\"\n\"y\" = \"nope\"\n").unwrap();
        let (k, err) = Keymap::load_file(&path);
        let err = err.unwrap();
        assert!(
            err.contains("keymap.toml: line 3: unknown action 'nope'"),
            "{err}"
        );
        let key = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
        assert_eq!(
            k.lookup("runs", &key('Q')),
            None,
            "nothing of a bad file applies"
        );
        assert_eq!(k.lookup("runs", &key(' ')), Some(Cmd::Mark));
        std::fs::write(&path, "[runs]\n\"Q\" = \"mark\"\n").unwrap();
        let (k, err) = Keymap::load_file(&path);
        assert!(err.is_none());
        assert_eq!(k.lookup("runs", &key('Q')), Some(Cmd::Mark));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_bad_binding_names_its_own_line_bare_or_quoted() {
        let err = Keymap::parse("[runs]\n# a comment\n\n\nfoo = \"star\"\n").unwrap_err();
        assert!(err.starts_with("line 5: unknown key 'foo'"), "{err}");
        let err =
            Keymap::parse("[global]\nq = \"quit\"\n[runs]\nx = \"hide_column\"\n'y' = \"nope\"\n")
                .unwrap_err();
        assert!(err.starts_with("line 5: unknown action 'nope'"), "{err}");
    }

    #[test]
    fn bad_user_files_name_the_line_and_overrides_apply() {
        let err = Keymap::parse("[runs]\n\"x\" = \"mark\"\n\"y\" = \"explode\"\n").unwrap_err();
        assert!(err.starts_with("line 3: unknown action 'explode'"), "{err}");
        let err = Keymap::parse("[runs]\n\"x\" = \n").unwrap_err();
        assert!(err.starts_with("line 2"), "{err}");
        let err = Keymap::parse("[nope]\n").unwrap_err();
        assert!(err.contains("line 1: unknown section"), "{err}");
        let mut k = Keymap::defaults();
        k.merge(Keymap::parse("[runs]\n\"x\" = \"mark\"\n\"space\" = \"none\"\n").unwrap());
        let key = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
        assert_eq!(k.lookup("runs", &key('x')), Some(Cmd::Mark));
        assert_eq!(k.lookup("runs", &key(' ')), None);
    }
}
