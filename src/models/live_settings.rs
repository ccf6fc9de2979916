//! `[models]` as `kiroku serve` judges by, kept in step with the files it comes from: the
//! user's configuration and the project's `kiroku.toml`. Each registry write that needs the
//! settings (an alias move, a deletion, a version registered) first compares the files' stamps
//! (modification time and length: one `stat` each) with those last read, and reads them again
//! only when one changed. An edit that does not load (bad TOML, an unknown key, a `require`
//! condition that does not parse) is refused with the error naming its file, line and key: the
//! server keeps serving, and writes that need the settings get that error until the file is
//! fixed (judging a gate by settings the user has replaced would be worse).
use super::settings::check_conditions;
use crate::config::models::ModelConfig;
use crate::config::Config;
use crate::error::{KirokuError, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// What tells a changed file: its modification time and length (None: no such file).
type Stamp = Option<(Option<SystemTime>, u64)>;

fn stamp(path: &Path) -> Stamp {
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.modified().ok(), m.len()))
}

/// The models of the files as last read: the settings, or why they do not load.
type Loaded = std::result::Result<Arc<BTreeMap<String, ModelConfig>>, String>;

/// The `[models]` settings of a project, read again when its configuration files change.
pub struct LiveModels {
    project_dir: Option<PathBuf>,
    files: Vec<PathBuf>,
    last: Mutex<(Vec<Stamp>, Loaded)>,
}

impl LiveModels {
    /// Starts from `config` (loaded from the user's file and `project_dir`'s `kiroku.toml`);
    /// its conditions are checked (an error names the file, line and key).
    pub fn new(config: &Config, project_dir: Option<&Path>) -> Result<LiveModels> {
        check_conditions(config, project_dir)?;
        let files = super::settings::config_files(project_dir);
        let stamps = files.iter().map(|f| stamp(f)).collect();
        Ok(LiveModels {
            project_dir: project_dir.map(Path::to_path_buf),
            files,
            last: Mutex::new((stamps, Ok(Arc::new(config.models.clone())))),
        })
    }

    /// Every model's settings as the files say now.
    pub fn models(&self) -> Result<Arc<BTreeMap<String, ModelConfig>>> {
        let now: Vec<Stamp> = self.files.iter().map(|f| stamp(f)).collect();
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if now != last.0 {
            let loaded = Config::load(self.project_dir.as_deref())
                .and_then(|config| {
                    check_conditions(&config, self.project_dir.as_deref())?;
                    Ok(Arc::new(config.models))
                })
                .map_err(|e| e.to_string());
            match &loaded {
                Ok(_) => eprintln!("kiroku serve: [models] read again (a configuration file changed)"),
                Err(e) => eprintln!(
                    "kiroku serve: a configuration file changed and does not load; registry writes that need [models] are refused until it is fixed:\n{e}"
                ),
            }
            *last = (now, loaded);
        }
        last.1.clone().map_err(|e| {
            KirokuError::Invalid(format!("the server's [models] settings do not load: {e}"))
        })
    }

    /// The settings of model `name` (empty when it has none), as the files say now.
    pub fn model(&self, name: &str) -> Result<ModelConfig> {
        Ok(self.models()?.get(name).cloned().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `text` as the project's kiroku.toml, with a length that differs from the last
    /// (`pad`), so that the change shows even within the file system's time resolution.
    fn write(dir: &Path, text: &str, pad: usize) {
        std::fs::write(
            dir.join("kiroku.toml"),
            format!("{text}{}", "\n".repeat(pad)),
        )
        .unwrap();
    }

    #[test]
    fn an_edit_is_picked_up_and_a_broken_one_names_file_line_and_key_until_fixed() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "[models.m.aliases.production]\napprovals = 1\n",
            0,
        );
        let config = Config::load(Some(dir.path())).unwrap();
        let live = LiveModels::new(&config, Some(dir.path())).unwrap();
        assert_eq!(
            live.model("m").unwrap().aliases["production"].approvals,
            Some(1)
        );
        assert!(live.model("other").unwrap().aliases.is_empty());

        write(
            dir.path(),
            "[models.m.aliases.production]\napprovals = 2\n",
            1,
        );
        assert_eq!(
            live.model("m").unwrap().aliases["production"].approvals,
            Some(2)
        );

        // A condition that does not parse.
        write(
            dir.path(),
            "[models.m.aliases.production]\napprovals = 2\nrequire = [\"metrics.acc >>= 1\"]\n",
            2,
        );
        let e = live.model("m").unwrap_err().to_string();
        assert!(
            e.contains("kiroku.toml: line 3: models.m.aliases.production.require[0]"),
            "{e}"
        );
        // An unknown key, on the next edit; still refused while unchanged.
        write(dir.path(), "[models.m]\nevaluat = 1\n", 3);
        let e = live.model("m").unwrap_err().to_string();
        assert!(e.contains("kiroku.toml") && e.contains("evaluat"), "{e}");
        assert_eq!(live.model("m").unwrap_err().to_string(), e);

        write(dir.path(), "[models.m.aliases.staging]\napprovals = 3\n", 4);
        let fixed = live.model("m").unwrap();
        assert_eq!(fixed.aliases["staging"].approvals, Some(3));
        assert!(!fixed.aliases.contains_key("production"));
    }
}
