//! Job targets: the built-in `local` one and the `[targets.NAME]` tables of `kiroku.toml`,
//! resolved and checked (a key that does not apply to the kind, a missing `host`, an unknown
//! `default_target`).
use crate::config::{Config, GpuSpec, TargetConfig, TargetKind};
use crate::error::{KirokuError, Result};

/// The name of the target every store has without configuration: this box.
pub const LOCAL: &str = "local";

/// A target, by name, as jobs are placed on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub config: TargetConfig,
}

impl Target {
    /// The built-in `local` target: discovered GPUs, one job per GPU (at least one at a time).
    pub fn builtin_local() -> Target {
        Target {
            name: LOCAL.into(),
            config: TargetConfig {
                kind: TargetKind::Local,
                gpus: Some(GpuSpec::Auto("auto".into())),
                max_parallel: None,
                host: None,
                workdir: None,
                setup: None,
                partition: None,
                account: None,
                qos: None,
                time: None,
                ssh_host: None,
                ssh_options: Vec::new(),
            },
        }
    }
}

/// The target `name`, or (without one) `default_target`, else the built-in `local`.
pub fn resolve(config: &Config, name: Option<&str>) -> Result<Target> {
    let name = name.or(config.default_target.as_deref()).unwrap_or(LOCAL);
    match config.targets.get(name) {
        Some(target) => Ok(Target {
            name: name.into(),
            config: target.clone(),
        }),
        None if name == LOCAL => Ok(Target::builtin_local()),
        None => {
            let mut known: Vec<&str> = config.targets.keys().map(String::as_str).collect();
            if !known.contains(&LOCAL) {
                known.push(LOCAL);
            }
            Err(KirokuError::NotFound(format!(
                "no target '{name}' (known: {}); add [targets.{name}] to kiroku.toml",
                known.join(", ")
            )))
        }
    }
}
