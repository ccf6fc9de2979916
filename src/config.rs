//! Configuration: `kiroku.toml` beside `.kiroku/` (project) over `$XDG_CONFIG_HOME/kiroku/config.toml`
//! (user defaults). Unknown keys and bad values are errors that name the file, line and key.
use crate::error::{KirokuError, Result};
use crate::model::{excerpt, excerpt_middle, EXCERPT_CHARS};
use crate::user_dirs::UserDir;
use serde::Deserialize;
use std::path::{Path, PathBuf};

mod target_checks;
pub use target_checks::{slurm_time_seconds, LOCAL_TARGET};
pub mod models;
pub use models::ModelConfig;

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub run: RunConfig,
    #[serde(default)]
    pub scalars: ScalarConfig,
    #[serde(default)]
    pub user: Option<String>,
    /// Where `kiroku submit` sends jobs without `--target` (default: the built-in `local`).
    #[serde(default)]
    pub default_target: Option<String>,
    /// `[targets.NAME]`: where jobs can run.
    #[serde(default)]
    pub targets: std::collections::BTreeMap<String, TargetConfig>,
    #[serde(default)]
    pub jobs: JobsConfig,
    /// `[models.NAME]`: evaluation, alias gates and deploy hooks of a registered model.
    #[serde(default)]
    pub models: std::collections::BTreeMap<String, ModelConfig>,
}

/// The kind of a job target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    Local,
    Ssh,
    Slurm,
}

/// Which GPUs a local target schedules on (`gpus = "auto"` or `gpus = [0, 1]`; any other
/// value is an error naming the line, and an index listed twice is one too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GpuSpec {
    /// `"auto"` (always that word): discovered (NVML, else `nvidia-smi`); a box without GPUs has none.
    Auto(String),
    /// An explicit list of GPU indexes (`jobs::gpus::local_inventory` takes them as given).
    List(Vec<u32>),
}

/// `[targets.NAME]`. Which keys apply depends on `kind`; one that does not apply is an error.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    pub kind: TargetKind,
    /// local: `"auto"` or a list of indexes (default `"auto"`).
    pub gpus: Option<GpuSpec>,
    /// local and ssh: at most this many jobs at once (default: one per GPU, at least 1).
    pub max_parallel: Option<u32>,
    /// ssh: the host as `ssh` takes it (`user@host`, an alias of `~/.ssh/config`).
    pub host: Option<String>,
    /// ssh: the directory jobs run in on the host.
    pub workdir: Option<String>,
    /// ssh: a shell line run before each job's command (`source venv/bin/activate`).
    pub setup: Option<String>,
    /// slurm: `--partition`, `--account`, `--qos`, `--time` (`D-HH:MM:SS` or minutes).
    pub partition: Option<String>,
    pub account: Option<String>,
    pub qos: Option<String>,
    /// A Slurm time (`minutes`, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`, `UNLIMITED`); an
    /// integer is minutes and is kept as its digits.
    #[serde(default, deserialize_with = "target_checks::string_or_minutes")]
    pub time: Option<String>,
    /// slurm: a login node reached over ssh to run `sbatch`/`squeue`/`scancel` on.
    pub ssh_host: Option<String>,
    /// ssh, slurm: extra `ssh` options (`["-p", "2222", "-i", "key"]`), given before kiroku's own
    /// defaults so they win (ssh keeps the first value of an option).
    #[serde(default)]
    pub ssh_options: Vec<String>,
}

/// `[jobs]`: how the queue behaves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsConfig {
    /// A GPU running processes kiroku did not start still counts as free when it has at least
    /// this much free memory (MiB; default: never).
    pub gpu_free_memory_mb: Option<u64>,
    /// Seconds between SIGTERM and SIGKILL when a job is cancelled (default 10).
    pub cancel_grace_s: Option<u64>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Experiment for `kiroku run` when `--exp` is not given.
    pub experiment: Option<String>,
    /// Extra environment variables to record with each run (secret-looking names never are).
    #[serde(default)]
    pub env: Vec<String>,
    /// Turn `--key value` flags of the wrapped command into params (default true).
    pub flag_params: Option<bool>,
    /// Give the command an MLflow tracking endpoint for its run, as `--mlflow` does (default false).
    pub mlflow: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScalarConfig {
    /// Parse `key: number` / `key=number` from output (default true).
    pub enabled: Option<bool>,
    /// Keep the built-in `key: number` / `key=number` patterns (default true).
    pub default_patterns: Option<bool>,
    /// Extra patterns: a regex with a `value` group and a `key` group (or a fixed `key`).
    #[serde(default, rename = "pattern")]
    pub patterns: Vec<ScalarPattern>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScalarPattern {
    pub regex: String,
    pub key: Option<String>,
}

impl Config {
    /// Parses one file's text; errors name the file, line and key. Every `[targets.NAME]` is
    /// checked here (`target_checks`); whether `default_target` names a target is checked by
    /// `load`, once the user's and the project's files are merged (either may define it).
    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let config: Config = toml::from_str(text).map_err(|e| {
            KirokuError::Invalid(format!(
                "{}: {}",
                path.display(),
                describe_toml_error(text, &e)
            ))
        })?;
        for (i, p) in config.scalars.patterns.iter().enumerate() {
            let re = regex::Regex::new(&p.regex).map_err(|e| {
                KirokuError::Invalid(format!(
                    "{}: scalars.pattern[{i}].regex is not a valid regex: {}",
                    path.display(),
                    excerpt_middle(&e.to_string(), MAX_QUOTE_CHARS)
                ))
            })?;
            let names: Vec<_> = re.capture_names().flatten().collect();
            if !names.contains(&"value") || (p.key.is_none() && !names.contains(&"key")) {
                return Err(KirokuError::Invalid(format!(
                    "{}: scalars.pattern[{i}] needs a (?P<value>…) group and either a (?P<key>…) group or `key = \"…\"`",
                    path.display()
                )));
            }
        }
        target_checks::check_targets(&config, text, path)?;
        models::check_models(&config.models, text, path)?;
        Ok(config)
    }

    pub fn load_file(path: &Path) -> Result<Option<Config>> {
        Ok(read_config_file(path)?.map(|(_, config)| config))
    }

    /// The user file, then the project file over it; then `default_target` must name a target
    /// of the merged configuration (or the built-in `local`).
    pub fn load(project_dir: Option<&Path>) -> Result<Config> {
        let files = [
            user_config_path(),
            project_dir.map(|dir| dir.join("kiroku.toml")),
        ];
        let mut merged = Config::default();
        // The file (and its text) that set the `default_target` in force.
        let mut default_target_from: Option<(PathBuf, String)> = None;
        for path in files.into_iter().flatten() {
            if let Some((text, config)) = read_config_file(&path)? {
                if config.default_target.is_some() {
                    default_target_from = Some((path, text));
                }
                merged.merge(config);
            }
        }
        if let Some((path, text)) = &default_target_from {
            target_checks::check_default_target(&merged, text, path)?;
        }
        Ok(merged)
    }

    fn merge(&mut self, over: Config) {
        self.user = over.user.or(self.user.take());
        self.run.experiment = over.run.experiment.or(self.run.experiment.take());
        self.run.flag_params = over.run.flag_params.or(self.run.flag_params);
        self.run.mlflow = over.run.mlflow.or(self.run.mlflow);
        self.run.env.extend(over.run.env);
        self.scalars.enabled = over.scalars.enabled.or(self.scalars.enabled);
        self.scalars.default_patterns = over
            .scalars
            .default_patterns
            .or(self.scalars.default_patterns);
        self.scalars.patterns.extend(over.scalars.patterns);
        self.default_target = over.default_target.or(self.default_target.take());
        self.targets.extend(over.targets);
        self.jobs.gpu_free_memory_mb = over
            .jobs
            .gpu_free_memory_mb
            .or(self.jobs.gpu_free_memory_mb);
        self.jobs.cancel_grace_s = over.jobs.cancel_grace_s.or(self.jobs.cancel_grace_s);
        self.models.extend(over.models);
    }
}

/// The longest part of an error message that quotes the file (a value, a regex).
const MAX_QUOTE_CHARS: usize = 300;

/// A file's text and its configuration; None when there is no such file.
fn read_config_file(path: &Path) -> Result<Option<(String, Config)>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Config::parse(&text, path).map(|config| Some((text, config))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(KirokuError::reading(
            format!("reading {}", path.display()),
            e,
        )),
    }
}

/// The 1-based line and column of byte `offset` of `text`.
pub(crate) fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// `line N, column M: message` from a toml error (which carries a byte span). When the span is
/// a value (`key = value`), the key is named too.
pub(crate) fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = excerpt_middle(e.message().trim(), MAX_QUOTE_CHARS);
    match e.span() {
        Some(span) => {
            let (line, column) = line_and_column(text, span.start);
            let start = span.start.min(text.len());
            let quoted = excerpt(
                text.get(start..span.end.min(text.len()))
                    .unwrap_or_default()
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .trim(),
                EXCERPT_CHARS,
            );
            let key = text
                .get(..start)
                .and_then(|before| before.rsplit('\n').next())
                .and_then(key_before_value)
                .map(|key| excerpt(key, EXCERPT_CHARS));
            match (key, quoted.is_empty()) {
                (Some(key), false) => {
                    format!("line {line}, column {column}: {key} = `{quoted}`: {message}")
                }
                (None, false) => format!("line {line}, column {column}: at `{quoted}`: {message}"),
                (_, true) => format!("line {line}, column {column}: {message}"),
            }
        }
        None => message,
    }
}

/// The key whose value the rest of the line goes on with: `gpus` from `gpus = [0, ` or from
/// `{ kind = "local", gpus = `; None where that is not clear.
fn key_before_value(line_start: &str) -> Option<&str> {
    let (before, value_so_far) = line_start.rsplit_once('=')?;
    if value_so_far.contains(['{', '"', '\'']) {
        return None;
    }
    let key = before.rsplit(['{', ',']).next()?.trim();
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_alphanumeric() || "_-.\"' ".contains(c));
    plain.then_some(key)
}

pub fn user_config_path() -> Option<PathBuf> {
    UserDir::Config.path().map(|dir| dir.join("config.toml"))
}

/// What the configuration files `Config::load` reads looked like (per file: its modification
/// time, size and inode, or None when absent), so a long-lived process (the scheduler, a spare
/// supervisor prepared ahead of its job) reads them again only after an edit. Take the stamp
/// before reading: an edit made meanwhile then shows as a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigStamp(Vec<Option<(std::time::SystemTime, u64, u64)>>);

impl ConfigStamp {
    /// The stamp of the files `Config::load(project_dir)` reads, now.
    pub fn of(project_dir: Option<&Path>) -> ConfigStamp {
        use std::os::unix::fs::MetadataExt;
        ConfigStamp(
            [
                user_config_path(),
                project_dir.map(|dir| dir.join("kiroku.toml")),
            ]
            .into_iter()
            .map(|path| {
                let meta = std::fs::metadata(path?).ok()?;
                Some((meta.modified().ok()?, meta.len(), meta.ino()))
            })
            .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = Config::parse(
            "[run]\nexperiment = \"x\"\nexperimnt = \"y\"\n",
            Path::new("/p/kiroku.toml"),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("/p/kiroku.toml") && msg.contains("line 3") && msg.contains("experimnt"),
            "{msg}"
        );
    }

    #[test]
    fn bad_value_and_bad_regex_are_errors() {
        let err = Config::parse("[run]\nflag_params = \"yes\"\n", Path::new("k.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        let err = Config::parse(
            "[[scalars.pattern]]\nregex = '(?P<value>['\n",
            Path::new("k.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("not a valid regex"), "{err}");
        let ok = Config::parse(
            "[[scalars.pattern]]\nregex = 'val (?P<value>\\S+)'\nkey = 'val'\n",
            Path::new("k.toml"),
        )
        .unwrap();
        assert_eq!(ok.scalars.patterns.len(), 1);
    }
}
