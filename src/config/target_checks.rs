//! Checks of `[targets.NAME]` and `default_target`: a key that does not apply to the target's
//! kind, a missing `host` or `workdir`, a Slurm `time` Slurm would refuse, a GPU listed twice,
//! `max_parallel = 0`, a target called `local` that is not this box, a `default_target` naming
//! no target. Each fault is reported with the file, the line (of the key at fault, else of the
//! target's table) and the key, found by reading the file a second time with spans.
use super::{line_and_column, Config, GpuSpec, TargetConfig, TargetKind};
use crate::error::{KirokuError, Result};
use crate::model::{excerpt, EXCERPT_CHARS};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// The name of the target every configuration has: this box. `[targets.local]` may configure
/// it (its GPUs, `max_parallel`) but must keep `kind = "local"`.
pub const LOCAL_TARGET: &str = "local";

/// The keys a target of `kind` may have (besides `kind`).
fn applicable_keys(kind: TargetKind) -> &'static [&'static str] {
    match kind {
        TargetKind::Local => &["gpus", "max_parallel"],
        TargetKind::Ssh => &["host", "workdir", "setup", "max_parallel", "ssh_options"],
        TargetKind::Slurm => &[
            "partition",
            "account",
            "qos",
            "time",
            "ssh_host",
            "ssh_options",
        ],
    }
}

/// "a local", "an ssh", "a slurm".
fn a_kind(kind: TargetKind) -> &'static str {
    match kind {
        TargetKind::Local => "a local",
        TargetKind::Ssh => "an ssh",
        TargetKind::Slurm => "a slurm",
    }
}

fn kind_name(kind: TargetKind) -> &'static str {
    match kind {
        TargetKind::Local => "local",
        TargetKind::Ssh => "ssh",
        TargetKind::Slurm => "slurm",
    }
}

/// The optional keys `target` sets, in the order of `TargetConfig`.
fn keys_set(target: &TargetConfig) -> Vec<&'static str> {
    [
        ("gpus", target.gpus.is_some()),
        ("max_parallel", target.max_parallel.is_some()),
        ("host", target.host.is_some()),
        ("workdir", target.workdir.is_some()),
        ("setup", target.setup.is_some()),
        ("partition", target.partition.is_some()),
        ("account", target.account.is_some()),
        ("qos", target.qos.is_some()),
        ("time", target.time.is_some()),
        ("ssh_host", target.ssh_host.is_some()),
        ("ssh_options", !target.ssh_options.is_empty()),
    ]
    .into_iter()
    .filter_map(|(key, set)| set.then_some(key))
    .collect()
}

/// What is wrong with one target: the key at fault (None: the table as a whole) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fault {
    key: Option<&'static str>,
    message: String,
}

impl Fault {
    fn at(key: &'static str, message: impl Into<String>) -> Fault {
        Fault {
            key: Some(key),
            message: message.into(),
        }
    }

    fn table(message: impl Into<String>) -> Fault {
        Fault {
            key: None,
            message: message.into(),
        }
    }
}

/// The first fault of the target `name`, if any.
fn target_fault(name: &str, target: &TargetConfig) -> Option<Fault> {
    let kind = kind_name(target.kind);
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Some(Fault::table(
            "a target name is letters, digits, `-`, `_` and `.` (it is given to `--target`)",
        ));
    }
    if name == LOCAL_TARGET && target.kind != TargetKind::Local {
        return Some(Fault::at(
            "kind",
            format!("the target `local` is this box, so its kind is \"local\", not \"{kind}\"; give this {kind} target another name"),
        ));
    }
    let applicable = applicable_keys(target.kind);
    if let Some(key) = keys_set(target)
        .into_iter()
        .find(|key| !applicable.contains(key))
    {
        let owners: Vec<&str> = [TargetKind::Local, TargetKind::Ssh, TargetKind::Slurm]
            .into_iter()
            .filter(|k| applicable_keys(*k).contains(&key))
            .map(kind_name)
            .collect();
        return Some(Fault::at(
            key,
            format!(
                "does not apply to {a_kind} target (it is for {} targets; {a_kind} target takes {})",
                owners.join(" and "),
                applicable.join(", "),
                a_kind = a_kind(target.kind),
            ),
        ));
    }
    if target.max_parallel == Some(0) {
        return Some(Fault::at(
            "max_parallel",
            "must be at least 1 (leave it out for one job per GPU)",
        ));
    }
    match target.kind {
        TargetKind::Local => gpus_fault(target.gpus.as_ref()),
        TargetKind::Ssh => ssh_fault(target),
        TargetKind::Slurm => slurm_fault(target),
    }
}

fn gpus_fault(gpus: Option<&GpuSpec>) -> Option<Fault> {
    let Some(GpuSpec::List(indexes)) = gpus else {
        return None;
    };
    let mut seen = std::collections::BTreeSet::new();
    indexes
        .iter()
        .find(|index| !seen.insert(**index))
        .map(|index| Fault::at("gpus", format!("GPU {index} is listed twice")))
}

fn ssh_fault(target: &TargetConfig) -> Option<Fault> {
    for (key, value) in [("host", &target.host), ("workdir", &target.workdir)] {
        match value.as_deref() {
            None => {
                return Some(Fault::table(format!(
                    "an ssh target needs `{key}` ({})",
                    if key == "host" {
                        "the host as `ssh` takes it: `user@host` or an alias of ~/.ssh/config"
                    } else {
                        "the directory jobs run in on the host"
                    }
                )))
            }
            Some(v) if v.trim().is_empty() => return Some(Fault::at(key, "must not be empty")),
            Some(_) => {}
        }
    }
    host_fault("host", target.host.as_deref())
}

/// A host that `ssh` would read as an option is refused.
fn host_fault(key: &'static str, host: Option<&str>) -> Option<Fault> {
    match host {
        Some(h) if h.trim().is_empty() => Some(Fault::at(key, "must not be empty")),
        Some(h) if h.starts_with('-') => Some(Fault::at(
            key,
            "must not start with `-` (ssh would read it as an option; options go in `ssh_options`)",
        )),
        _ => None,
    }
}

fn slurm_fault(target: &TargetConfig) -> Option<Fault> {
    for (key, value) in [
        ("partition", &target.partition),
        ("account", &target.account),
        ("qos", &target.qos),
    ] {
        if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
            return Some(Fault::at(key, "must not be empty (leave it out instead)"));
        }
    }
    if let Some(time) = target.time.as_deref() {
        if slurm_time_seconds(time).is_none() {
            return Some(Fault::at(
                "time",
                format!(
                    "`{}` is not a Slurm time (minutes, M:S, H:M:S, D-H, D-H:M, D-H:M:S or UNLIMITED)",
                    excerpt(time, EXCERPT_CHARS)
                ),
            ));
        }
    }
    if let Some(fault) = host_fault("ssh_host", target.ssh_host.as_deref()) {
        return Some(fault);
    }
    if target.ssh_host.is_none() && !target.ssh_options.is_empty() {
        return Some(Fault::at(
            "ssh_options",
            "applies only with `ssh_host` (a login node reached over ssh)",
        ));
    }
    None
}

/// A Slurm time limit in seconds, as `sbatch --time` reads it: `minutes`, `minutes:seconds`,
/// `hours:minutes:seconds`, `days-hours`, `days-hours:minutes`, `days-hours:minutes:seconds`;
/// `UNLIMITED`/`INFINITE` (and `0`, as in Slurm) mean no limit and give `Some(0)`. None when
/// Slurm would refuse it.
pub fn slurm_time_seconds(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("unlimited") || text.eq_ignore_ascii_case("infinite") {
        return Some(0);
    }
    let number = |part: &str| -> Option<u64> {
        if part.is_empty() || part.len() > 9 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (days, clock) = match text.split_once('-') {
        Some((days, clock)) => (Some(number(days)?), clock),
        None => (None, text),
    };
    let parts = clock.split(':').map(number).collect::<Option<Vec<u64>>>()?;
    let seconds = match (days, parts.as_slice()) {
        (None, [m]) => m * 60,
        (None, [m, s]) => m * 60 + s,
        (None, [h, m, s]) => h * 3600 + m * 60 + s,
        (Some(d), [h]) => d * 86400 + h * 3600,
        (Some(d), [h, m]) => d * 86400 + h * 3600 + m * 60,
        (Some(d), [h, m, s]) => d * 86400 + h * 3600 + m * 60 + s,
        _ => return None,
    };
    Some(seconds)
}

/// Where each target and each of its keys is in one file's text.
#[derive(Deserialize, Default)]
struct Locations {
    #[serde(default)]
    default_target: Option<toml::Spanned<toml::Value>>,
    #[serde(default)]
    targets: BTreeMap<String, toml::Spanned<BTreeMap<String, toml::Spanned<toml::Value>>>>,
}

/// Where each key of each target is, for files whose target tables have no span of their own
/// (toml 0.8 refuses a span for a table made of dotted keys, `targets.a.kind = "local"`).
#[derive(Deserialize, Default)]
struct KeyLocations {
    #[serde(default)]
    targets: BTreeMap<String, BTreeMap<String, toml::Spanned<toml::Value>>>,
}

/// The byte offset where `key` of the target `name` is (None: where its table starts).
fn target_offset(text: &str, name: &str, key: Option<&str>) -> Option<usize> {
    if let Ok(locations) = toml::from_str::<Locations>(text) {
        let table = locations.targets.get(name)?;
        return Some(match key.and_then(|key| table.get_ref().get(key)) {
            Some(value) => value.span().start,
            None => table.span().start,
        });
    }
    let keys = toml::from_str::<KeyLocations>(text).ok()?;
    let table = keys.targets.get(name)?;
    match key.and_then(|key| table.get(key)) {
        Some(value) => Some(value.span().start),
        // The first of its keys.
        None => table.values().map(|value| value.span().start).min(),
    }
}

/// Checks every target of one file's configuration.
pub(super) fn check_targets(config: &Config, text: &str, path: &Path) -> Result<()> {
    let Some((name, fault)) = config
        .targets
        .iter()
        .find_map(|(name, target)| Some((name, target_fault(name, target)?)))
    else {
        return Ok(());
    };
    let line = target_offset(text, name, fault.key).map(|offset| line_and_column(text, offset).0);
    let name = excerpt(name, EXCERPT_CHARS);
    let place = match fault.key {
        Some(key) => format!("targets.{name}.{key}"),
        None => format!("[targets.{name}]"),
    };
    Err(KirokuError::Invalid(match line {
        Some(line) => format!(
            "{}: line {line}: {place}: {}",
            path.display(),
            fault.message
        ),
        None => format!("{}: {place}: {}", path.display(), fault.message),
    }))
}

/// Checks that the merged configuration's `default_target` (set in the file `path`, whose text
/// is `text`) names a target of it or the built-in `local`.
pub(super) fn check_default_target(merged: &Config, text: &str, path: &Path) -> Result<()> {
    let Some(name) = merged.default_target.as_deref() else {
        return Ok(());
    };
    if name == LOCAL_TARGET || merged.targets.contains_key(name) {
        return Ok(());
    }
    let mut known: Vec<&str> = merged.targets.keys().map(String::as_str).collect();
    if !known.contains(&LOCAL_TARGET) {
        known.push(LOCAL_TARGET);
    }
    let line = toml::from_str::<Locations>(text)
        .unwrap_or_default()
        .default_target
        .map(|value| format!("line {}: ", line_and_column(text, value.span().start).0))
        .unwrap_or_default();
    Err(KirokuError::Invalid(format!(
        "{}: {line}default_target: names no target: `{}` (known: {}); add [targets.{0}] or name one of those",
        path.display(),
        excerpt(name, EXCERPT_CHARS),
        known.join(", ")
    )))
}

impl<'de> Deserialize<'de> for GpuSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct GpuSpecVisitor;
        impl<'de> Visitor<'de> for GpuSpecVisitor {
            type Value = GpuSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("\"auto\" or a list of GPU indexes such as [0, 1]")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<GpuSpec, E> {
                if v == "auto" {
                    Ok(GpuSpec::Auto(v.into()))
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<GpuSpec, A::Error> {
                let mut indexes = Vec::new();
                while let Some(index) = seq.next_element::<u32>()? {
                    indexes.push(index);
                }
                Ok(GpuSpec::List(indexes))
            }
        }
        deserializer.deserialize_any(GpuSpecVisitor)
    }
}

/// `time = 90` (minutes) or `time = "1-12:00:00"`: both kept as text for `sbatch --time`.
pub(super) fn string_or_minutes<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Option<String>, D::Error> {
    struct TimeVisitor;
    impl<'de> Visitor<'de> for TimeVisitor {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a Slurm time such as \"2:00:00\" or a number of minutes")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Self::Value, E> {
            if v < 0 {
                return Err(E::invalid_value(de::Unexpected::Signed(v), &self));
            }
            Ok(Some(v.to_string()))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
    }
    deserializer.deserialize_any(TimeVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> std::result::Result<Config, String> {
        Config::parse(text, Path::new("/p/kiroku.toml")).map_err(|e| e.to_string())
    }

    /// The error for `text`, which must name the file, `line` and `key`.
    fn error_at(text: &str, line: usize, key: &str) -> String {
        let message = parse(text).expect_err(text);
        assert!(
            message.starts_with(&format!("/p/kiroku.toml: line {line}")) && message.contains(key),
            "want line {line} and `{key}` in: {message}"
        );
        message
    }

    #[test]
    fn good_targets_of_each_kind_parse() {
        let config = parse(
            r#"default_target = "box"

[targets.local]
kind = "local"
gpus = [0, 1]
max_parallel = 2

[targets.box]
kind = "ssh"
host = "ana@gpu-box"
workdir = "/scratch/ana/runs"
setup = "source venv/bin/activate"
ssh_options = ["-p", "2222"]

[targets.cluster]
kind = "slurm"
partition = "gpu"
account = "ml"
qos = "normal"
time = "1-12:00:00"
ssh_host = "login.cluster"
ssh_options = ["-i", "key"]

[targets.short]
kind = "slurm"
time = 90
"#,
        )
        .unwrap();
        assert_eq!(
            config.targets["local"].gpus,
            Some(GpuSpec::List(vec![0, 1]))
        );
        assert_eq!(
            config.targets["cluster"].time.as_deref(),
            Some("1-12:00:00")
        );
        assert_eq!(config.targets["short"].time.as_deref(), Some("90"));
        assert_eq!(config.targets["box"].host.as_deref(), Some("ana@gpu-box"));
        let auto = parse("[targets.gpu]\nkind = \"local\"\ngpus = \"auto\"\n").unwrap();
        assert_eq!(auto.targets["gpu"].gpus, Some(GpuSpec::Auto("auto".into())));
        let none = parse("[targets.cpu]\nkind = \"local\"\ngpus = []\n").unwrap();
        assert_eq!(none.targets["cpu"].gpus, Some(GpuSpec::List(vec![])));
    }

    #[test]
    fn a_key_of_another_kind_is_named_on_its_line() {
        let message = error_at(
            "[targets.box]\nkind = \"ssh\"\nhost = \"h\"\nworkdir = \"/w\"\npartition = \"gpu\"\n",
            5,
            "targets.box.partition",
        );
        assert!(
            message.contains("does not apply to an ssh target"),
            "{message}"
        );
        assert!(message.contains("for slurm targets"), "{message}");
        error_at(
            "# a comment\n\n[targets.gpu]\nkind = \"local\"\n\nhost = \"h\"\n",
            6,
            "targets.gpu.host",
        );
        error_at(
            "[targets.c]\nkind = \"slurm\"\ngpus = [0]\n",
            3,
            "targets.c.gpus",
        );
        error_at(
            "[targets.c]\nkind = \"slurm\"\nmax_parallel = 3\n",
            3,
            "targets.c.max_parallel",
        );
        // Inline tables and dotted keys have lines too.
        error_at(
            "[targets]\na = { kind = \"local\" }\nb = { kind = \"ssh\", host = \"h\", workdir = \"w\", time = \"5\" }\n",
            3,
            "targets.b.time",
        );
        error_at(
            "[targets]\nb = { kind = \"slurm\", time = -5 }\n",
            2,
            "time = `-5`",
        );
        error_at(
            "targets.a.kind = \"ssh\"\ntargets.a.host = \"h\"\n",
            1,
            "[targets.a]: an ssh target needs `workdir`",
        );
        error_at(
            "targets.a.kind = \"local\"\n\ntargets.a.qos = \"q\"\n",
            3,
            "targets.a.qos",
        );
    }

    #[test]
    fn ssh_needs_host_and_workdir_named_at_its_table() {
        let text = "[run]\nexperiment = \"x\"\n\n[targets.box]\nkind = \"ssh\"\nworkdir = \"/w\"\n";
        let message = error_at(text, 4, "[targets.box]");
        assert!(message.contains("needs `host`"), "{message}");
        let message = error_at(
            "[targets.box]\nkind = \"ssh\"\nhost = \"h\"\n",
            1,
            "[targets.box]",
        );
        assert!(message.contains("needs `workdir`"), "{message}");
        error_at(
            "[targets.box]\nkind = \"ssh\"\nhost = \"\"\nworkdir = \"/w\"\n",
            3,
            "targets.box.host",
        );
        let message = error_at(
            "[targets.box]\nkind = \"ssh\"\nhost = \"-oProxyCommand=x\"\nworkdir = \"/w\"\n",
            3,
            "targets.box.host",
        );
        assert!(message.contains("must not start with `-`"), "{message}");
    }

    #[test]
    fn slurm_times_are_checked() {
        for (time, seconds) in [
            ("90", 5400),
            ("1:30", 90),
            ("2:00:00", 7200),
            ("1-12", 129_600),
            ("1-1:30", 91_800),
            ("0-0:0:5", 5),
            ("UNLIMITED", 0),
            ("infinite", 0),
        ] {
            assert_eq!(slurm_time_seconds(time), Some(seconds), "{time}");
            parse(&format!(
                "[targets.c]\nkind = \"slurm\"\ntime = \"{time}\"\n"
            ))
            .unwrap();
        }
        for time in [
            "",
            "1h",
            "1:2:3:4",
            "-5",
            "1-",
            "1-2:3:4:5",
            "1:-2",
            "a-1",
            "1.5",
            " : ",
        ] {
            assert_eq!(slurm_time_seconds(time), None, "{time:?}");
            let message = error_at(
                &format!("[targets.c]\nkind = \"slurm\"\npartition = \"p\"\ntime = \"{time}\"\n"),
                4,
                "targets.c.time",
            );
            assert!(message.contains("not a Slurm time"), "{message}");
        }
        error_at("[targets.c]\nkind = \"slurm\"\ntime = -5\n", 3, "time");
    }

    #[test]
    fn gpus_are_auto_or_distinct_indexes() {
        let message = error_at(
            "[targets.g]\nkind = \"local\"\ngpus = [0, 1, 0]\n",
            3,
            "targets.g.gpus",
        );
        assert!(message.contains("GPU 0 is listed twice"), "{message}");
        let message = error_at("[targets.g]\nkind = \"local\"\ngpus = \"all\"\n", 3, "gpus");
        assert!(
            message.contains("\"auto\" or a list of GPU indexes"),
            "{message}"
        );
        error_at(
            "[targets.g]\nkind = \"local\"\ngpus = [0, -1]\n",
            3,
            "gpus = `-1`",
        );
        error_at("[targets.g]\nkind = \"local\"\ngpus = 2\n", 3, "gpus");
    }

    #[test]
    fn max_parallel_zero_and_a_local_of_another_kind_are_errors() {
        let message = error_at(
            "[targets.g]\nkind = \"local\"\nmax_parallel = 0\n",
            3,
            "targets.g.max_parallel",
        );
        assert!(message.contains("at least 1"), "{message}");
        let message = error_at(
            "[targets.local]\n\nkind = \"ssh\"\nhost = \"h\"\nworkdir = \"/w\"\n",
            3,
            "targets.local.kind",
        );
        assert!(message.contains("another name"), "{message}");
        error_at(
            "[targets.c]\nkind = \"slurm\"\nssh_options = [\"-p\", \"22\"]\n",
            3,
            "targets.c.ssh_options",
        );
        error_at(
            "[targets.\"my box\"]\nkind = \"local\"\n",
            1,
            "[targets.my box]",
        );
        // A kind that does not exist and a missing kind come from the toml reader, with lines.
        error_at("[targets.g]\nkind = \"k8s\"\n", 2, "kind");
        error_at("[targets.g]\ngpus = [0]\n", 1, "kind");
    }

    #[test]
    fn default_target_must_name_a_target_of_the_merged_files() {
        let user_text = "[targets.box]\nkind = \"ssh\"\nhost = \"h\"\nworkdir = \"/w\"\n";
        let project_text = "\ndefault_target = \"box\"\n";
        let user = Config::parse(user_text, Path::new("user.toml")).unwrap();
        let project = Config::parse(project_text, Path::new("kiroku.toml")).unwrap();
        let mut merged = user.clone();
        merged.merge(project.clone());
        check_default_target(&merged, project_text, Path::new("kiroku.toml")).unwrap();
        // Without the user's file the project names a target nobody defines.
        let message = check_default_target(&project, project_text, Path::new("kiroku.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with("kiroku.toml: line 2: default_target: names no target: `box`"),
            "{message}"
        );
        assert!(message.contains("known: local"), "{message}");
        let local = Config::parse("default_target = \"local\"\n", Path::new("k")).unwrap();
        check_default_target(&local, "default_target = \"local\"\n", Path::new("k")).unwrap();
    }

    #[test]
    fn load_checks_default_target_across_the_user_and_project_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("kiroku.toml"),
            "# jobs go to the cluster\ndefault_target = \"cluster\"\n",
        )
        .unwrap();
        // No user file here (XDG_CONFIG_HOME is not changed by tests): the project's
        // default_target names nothing.
        if crate::config::user_config_path().is_some_and(|p| p.exists()) {
            return;
        }
        let message = Config::load(Some(dir.path())).unwrap_err().to_string();
        assert!(
            message.contains("kiroku.toml: line 2: default_target")
                && message.contains("`cluster`"),
            "{message}"
        );
        std::fs::write(
            dir.path().join("kiroku.toml"),
            "default_target = \"cluster\"\n[targets.cluster]\nkind = \"slurm\"\n",
        )
        .unwrap();
        let config = Config::load(Some(dir.path())).unwrap();
        assert_eq!(config.default_target.as_deref(), Some("cluster"));
    }

    #[test]
    fn huge_values_are_quoted_only_in_excerpts() {
        let huge = "9".repeat(1 << 16);
        let message = parse(&format!(
            "[targets.c]\nkind = \"slurm\"\ntime = \"{huge}x\"\n"
        ))
        .unwrap_err();
        assert!(message.len() < 400, "a {}-byte message", message.len());
        let message = parse(&format!(
            "[targets.{huge}]\nkind = \"local\"\nmax_parallel = 0\n"
        ))
        .unwrap_err();
        assert!(message.len() < 400, "a {}-byte message", message.len());
    }
}
