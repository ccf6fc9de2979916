//! A model's settings as a `kiroku model` command needs them: its `[models.NAME]` (an empty one
//! when the configuration has none) with each `require` condition parsed by the query language.
//! `config` reads and checks the rest of the table; the conditions are checked here because
//! `query` sits in `config`'s own layer. A condition that does not parse is an error naming the
//! file, the line and the key.
use crate::config::models::{fault_at, ModelConfig};
use crate::config::Config;
use crate::error::Result;
use std::path::{Path, PathBuf};

/// The configuration files a model's settings may come from, project last.
pub(super) fn config_files(project_dir: Option<&Path>) -> Vec<PathBuf> {
    [
        crate::config::user_config_path(),
        project_dir.map(|dir| dir.join("kiroku.toml")),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Checks every `require` condition of every model; the first that does not parse is an error
/// naming the file that holds it (the project's over the user's), its line and key.
pub fn check_conditions(config: &Config, project_dir: Option<&Path>) -> Result<()> {
    for (name, model) in &config.models {
        for (alias, policy) in &model.aliases {
            for (i, condition) in policy.require.iter().enumerate() {
                let Err(e) = crate::query::parse_filter(condition) else {
                    continue;
                };
                let key = format!("models.{name}.aliases.{alias}.require[{i}]");
                let message = format!("`{condition}`: {e}");
                let holder = config_files(project_dir)
                    .into_iter()
                    .rev()
                    .find_map(|path| {
                        let text = std::fs::read_to_string(&path).ok()?;
                        text.contains(condition.as_str()).then_some((path, text))
                    });
                return Err(match holder {
                    Some((path, text)) => {
                        fault_at(&text, &path, &key, Some(condition.clone()), &message)
                    }
                    None => fault_at("", Path::new("kiroku.toml"), &key, None, &message),
                });
            }
        }
    }
    Ok(())
}

/// The settings of model `name` (empty when it has none), after checking the conditions.
pub fn model_settings(
    config: &Config,
    project_dir: Option<&Path>,
    name: &str,
) -> Result<ModelConfig> {
    check_conditions(config, project_dir)?;
    Ok(config.models.get(name).cloned().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_condition_names_file_line_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let text =
            "[models.m.aliases.production]\napprovals = 1\nrequire = [\"metrics.acc >>= 1\"]\n";
        std::fs::write(dir.path().join("kiroku.toml"), text).unwrap();
        let config = Config::parse(text, &dir.path().join("kiroku.toml")).unwrap();
        let e = check_conditions(&config, Some(dir.path()))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("kiroku.toml: line 3: models.m.aliases.production.require[0]")
                && e.contains("column"),
            "{e}"
        );
        let good = Config::parse(
            "[models.m.aliases.p]\nrequire = ['metrics.acc > 1']\n",
            Path::new("k"),
        )
        .unwrap();
        assert!(model_settings(&good, None, "m").is_ok());
        assert!(model_settings(&good, None, "other")
            .unwrap()
            .aliases
            .is_empty());
    }
}
