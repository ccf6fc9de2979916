//! Job targets: the built-in `local` one and the `[targets.NAME]` tables of `kiroku.toml`,
//! resolved by name. The tables are checked when the file is read (`crate::config`: a key that
//! does not apply to the kind, a missing `host`, a bad Slurm `time`, an unknown
//! `default_target`, each named with its file and line), so a resolved target is well formed.
use crate::config::{Config, GpuSpec, TargetConfig, TargetKind, LOCAL_TARGET};
use crate::error::{KirokuError, Result};

/// The name of the target every store has without configuration: this box.
pub const LOCAL: &str = LOCAL_TARGET;

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

    /// Which GPUs a local target schedules on: its `gpus`, else `"auto"`.
    pub fn gpu_spec(&self) -> GpuSpec {
        self.config
            .gpus
            .clone()
            .unwrap_or_else(|| GpuSpec::Auto("auto".into()))
    }

    /// How many jobs may run on the target at once, given how many GPUs it has: its
    /// `max_parallel`, else one per GPU and at least one.
    pub fn max_parallel(&self, gpu_count: usize) -> usize {
        match self.config.max_parallel {
            Some(n) => n as usize,
            None => gpu_count.max(1),
        }
    }
}

/// The kind of target `name` (a `[targets.NAME]`, or the built-in `local`); None for an unknown
/// name. A lookup, for callers asking often (a UI frame per GPU and job); `resolve` says why.
pub fn kind_of(config: &Config, name: &str) -> Option<TargetKind> {
    match config.targets.get(name) {
        Some(target) => Some(target.kind),
        None => (name == LOCAL).then_some(TargetKind::Local),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(text: &str) -> Config {
        Config::parse(text, Path::new("kiroku.toml")).unwrap()
    }

    #[test]
    fn without_configuration_jobs_go_to_the_builtin_local_target() {
        let target = resolve(&Config::default(), None).unwrap();
        assert_eq!(target, Target::builtin_local());
        assert_eq!(target.name, "local");
        assert_eq!(target.config.kind, TargetKind::Local);
        assert_eq!(target.gpu_spec(), GpuSpec::Auto("auto".into()));
        assert_eq!(target.max_parallel(0), 1);
        assert_eq!(target.max_parallel(4), 4);
        assert_eq!(resolve(&Config::default(), Some("local")).unwrap(), target);
    }

    #[test]
    fn default_target_then_an_explicit_name_choose_the_target() {
        let config = config(
            "default_target = \"box\"\n\
             [targets.box]\nkind = \"ssh\"\nhost = \"h\"\nworkdir = \"/w\"\nmax_parallel = 3\n\
             [targets.local]\nkind = \"local\"\ngpus = [1, 3]\n",
        );
        let default = resolve(&config, None).unwrap();
        assert_eq!(default.name, "box");
        assert_eq!(default.config.kind, TargetKind::Ssh);
        assert_eq!(default.max_parallel(8), 3);
        // A configured `local` replaces the built-in one.
        let local = resolve(&config, Some("local")).unwrap();
        assert_eq!(local.gpu_spec(), GpuSpec::List(vec![1, 3]));
        assert_eq!(local.max_parallel(2), 2);
    }

    #[test]
    fn an_unknown_target_is_an_error_listing_the_known_ones() {
        let config = config("[targets.gpu-box]\nkind = \"local\"\n");
        let message = resolve(&config, Some("cluster")).unwrap_err().to_string();
        assert!(
            message.contains("no target 'cluster'") && message.contains("known: gpu-box, local"),
            "{message}"
        );
        assert!(message.contains("[targets.cluster]"), "{message}");
    }

    #[test]
    fn kind_of_agrees_with_resolve() {
        let config = config(
            "[targets.box]\nkind = \"ssh\"\nhost = \"h\"\nworkdir = \"/w\"\n\
             [targets.gpu-box]\nkind = \"local\"\n",
        );
        for name in ["box", "gpu-box", "local", "cluster"] {
            assert_eq!(
                kind_of(&config, name),
                resolve(&config, Some(name)).ok().map(|t| t.config.kind),
                "{name}"
            );
        }
        assert_eq!(
            kind_of(&Config::default(), "local"),
            Some(TargetKind::Local)
        );
        assert_eq!(kind_of(&Config::default(), "box"), None);
    }
}
