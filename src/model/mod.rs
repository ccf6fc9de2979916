//! Plain domain types shared by the store, the commands and (later) the server and TUI.
//!
//! No I/O here. Everything is serde-serialisable so the HTTP store can reuse the same types.
pub mod data;
mod jobs;
pub mod metric_order;
pub mod pipeline;
pub mod registry;
pub use data::*;
pub use jobs::*;
pub mod promotions;
pub use registry::*;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// The current time in ms since the epoch.
pub fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A run's lifecycle state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Queued,
    Running,
    Finished,
    Failed,
    Killed,
    Lost,
}

impl RunStatus {
    pub const ALL: [RunStatus; 6] = [
        RunStatus::Queued,
        RunStatus::Running,
        RunStatus::Finished,
        RunStatus::Failed,
        RunStatus::Killed,
        RunStatus::Lost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Running => "running",
            RunStatus::Finished => "finished",
            RunStatus::Failed => "failed",
            RunStatus::Killed => "killed",
            RunStatus::Lost => "lost",
        }
    }

    /// Whether the run has ended (no more data expected).
    pub fn is_terminal(self) -> bool {
        !matches!(self, RunStatus::Queued | RunStatus::Running)
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RunStatus {
    type Err = String;
    /// Accepts kiroku's names and MLflow's (`FINISHED`, `SCHEDULED`), case-insensitively.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "queued" | "scheduled" => Ok(RunStatus::Queued),
            "running" => Ok(RunStatus::Running),
            "finished" => Ok(RunStatus::Finished),
            "failed" => Ok(RunStatus::Failed),
            "killed" => Ok(RunStatus::Killed),
            "lost" => Ok(RunStatus::Lost),
            other => Err(format!(
                "unknown run status '{other}' (known: queued, running, finished, failed, killed, lost)"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    pub id: i64,
    pub name: String,
    pub description: Option<String>,
    pub deleted: bool,
    pub created_ms: Millis,
    pub updated_ms: Millis,
    /// Active runs in the experiment.
    pub run_count: u64,
    /// MLflow-style experiment tags; `mlflow.note.content` mirrors `description`.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// An experiment as an import's source (MLflow) kept it: `ExperimentStore::import_experiment`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportedExperiment {
    pub name: String,
    /// The source's id, kept when no experiment holds it.
    #[serde(default)]
    pub id: Option<i64>,
    /// When absent, now.
    #[serde(default)]
    pub created_ms: Option<Millis>,
    /// When absent, the creation time.
    #[serde(default)]
    pub updated_ms: Option<Millis>,
}

/// Summary of one metric key of one run, kept up to date on every insert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSummary {
    /// The latest value by MLflow's rule (highest step, then latest timestamp, then largest value).
    #[serde(with = "json_float")]
    pub last: f64,
    #[serde(with = "json_float_opt")]
    pub min: Option<f64>,
    #[serde(with = "json_float_opt")]
    pub max: Option<f64>,
    pub count: u64,
    /// The step of the latest value.
    pub step: i64,
    /// The timestamp (ms) of the latest value.
    pub timestamp: Millis,
}

/// One point of a metric series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricPoint {
    pub step: i64,
    pub timestamp: Millis,
    #[serde(with = "json_float")]
    pub value: f64,
}

/// A metric point with its key, as written by loggers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyedPoint {
    pub key: String,
    pub step: i64,
    pub timestamp: Millis,
    #[serde(with = "json_float")]
    pub value: f64,
}

/// The list view of a run: everything a table row needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub id: String,
    pub name: String,
    pub experiment: String,
    pub experiment_id: i64,
    pub status: RunStatus,
    pub exit_code: Option<i32>,
    pub user: String,
    pub host: Option<String>,
    pub start_time: Millis,
    pub end_time: Option<Millis>,
    pub parent_id: Option<String>,
    pub deleted: bool,
    pub params: BTreeMap<String, String>,
    pub metrics: BTreeMap<String, MetricSummary>,
    pub tags: BTreeMap<String, String>,
    /// Users who starred the run.
    pub stars: Vec<String>,
}

/// Where a run's code came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunSource {
    pub git_commit: Option<String>,
    pub git_branch: Option<String>,
    pub git_dirty: Option<bool>,
    pub git_diff: Option<String>,
    pub command: Vec<String>,
    pub cwd: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub id: i64,
    pub run_id: String,
    pub author: String,
    pub created_ms: Millis,
    pub updated_ms: Millis,
    pub body: String,
    pub reply_to: Option<i64>,
    pub anchor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewNote {
    pub author: String,
    pub body: String,
    pub reply_to: Option<i64>,
    pub anchor: Option<String>,
    /// When absent, now.
    pub created_ms: Option<Millis>,
}

/// A dataset as a run's input was logged (MLflow `log_input`, `/api/v1/runs/{id}/inputs`): a
/// reference by name and digest. Registered, content-addressed versions are `DatasetVersion`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedDataset {
    pub name: String,
    pub location: Option<String>,
    pub hash: String,
    pub size: Option<u64>,
    pub rows: Option<u64>,
    pub schema: Option<serde_json::Value>,
}

/// A logged dataset and its role in the run (MLflow's input `context`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedInput {
    pub dataset: LoggedDataset,
    pub context: String,
    /// The input as MLflow logged it (`log_input`, or imported), so that MLflow's API answers
    /// with it as MLflow does; absent for kiroku's own inputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mlflow: Option<MlflowDataset>,
}

/// One MLflow dataset input of a run, as MLflow stores it (its `DatasetInput`: the dataset's
/// JSON fields as text, and the input's tags).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MlflowDataset {
    pub name: String,
    pub digest: String,
    pub source_type: String,
    pub source: String,
    #[serde(default)]
    pub schema: Option<String>,
    #[serde(default)]
    pub profile: Option<String>,
    /// The input's tags (`mlflow.data.context` and any other), as logged.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

impl MlflowDataset {
    /// The tag naming how a run used the dataset (`training`).
    pub const CONTEXT_TAG: &'static str = "mlflow.data.context";

    /// The input's `mlflow.data.context` tag.
    pub fn context(&self) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == Self::CONTEXT_TAG)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    pub path: String,
    pub size: Option<u64>,
    pub hash: Option<String>,
    /// `copied` (the file is in the run's folder) or `referenced` (only its location is known).
    pub stored: String,
    pub location: Option<String>,
}

/// Everything about one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunDetail {
    #[serde(flatten)]
    pub run: Run,
    pub source: RunSource,
    pub environment: BTreeMap<String, String>,
    pub notes: Vec<Note>,
    pub inputs: Vec<LoggedInput>,
    pub artifacts: Vec<Artifact>,
    pub children: Vec<String>,
    /// Folder holding the run's logs and copied artifacts, when the store is local.
    pub run_dir: Option<String>,
}

/// What a new run starts with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewRun {
    /// Public id; generated when absent (imports keep the source's id).
    pub id: Option<String>,
    pub experiment: String,
    pub name: Option<String>,
    pub user: String,
    pub host: Option<String>,
    pub status: Option<RunStatus>,
    pub start_time: Option<Millis>,
    pub end_time: Option<Millis>,
    pub parent_id: Option<String>,
    pub tags: Vec<(String, String)>,
    pub params: Vec<(String, String)>,
    pub deleted: bool,
}

/// How to select and order runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunQuery {
    /// Experiment names; empty means all experiments.
    pub experiments: Vec<String>,
    /// Filter in the query language.
    pub filter: Option<String>,
    /// Order in the query language (`metrics.acc desc, start_time`).
    pub sort: Option<String>,
    pub limit: Option<u64>,
    pub offset: u64,
    /// Include soft-deleted runs.
    pub include_deleted: bool,
    /// Only soft-deleted runs.
    pub only_deleted: bool,
    /// Read the page from the exactly reversed order: every ORDER BY term's direction flipped
    /// (the tie-break too, and for a metric key missing first, then NaN, then numbers
    /// reversed), with `offset` counted from the end. Rows come back in that reversed order.
    /// A window near the end of a long result is then read with a small offset.
    #[serde(default)]
    pub reverse: bool,
    /// Which query language `filter` and `sort` are written in (kiroku's unless the search
    /// came through the MLflow API; see `crate::query::dialect`).
    #[serde(default)]
    pub dialect: QueryDialect,
}

/// The two dialects of the run query language: kiroku's own (the CLI, the TUI, `/api/v1`) and
/// MLflow's (`/api/2.0/mlflow/*`, `/ajax-api/*`). Where and how they differ is written down
/// once, in `crate::query::dialect`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueryDialect {
    #[default]
    Kiroku,
    Mlflow,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunPage {
    pub runs: Vec<Run>,
    /// Number of runs matching the query, ignoring limit and offset.
    pub total: u64,
}

/// One entry of the activity log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: i64,
    pub time: Millis,
    pub kind: String,
    pub user: String,
    pub run_id: Option<String>,
    pub run_name: Option<String>,
    pub experiment: Option<String>,
    pub detail: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventQuery {
    pub since_id: Option<i64>,
    pub run_id: Option<String>,
    pub limit: Option<u64>,
}

/// Checks a metric, param or tag key by kiroku's own rule: non-empty, at most 250 characters, no
/// control characters; any other character is allowed. The MLflow API applies MLflow's stricter
/// rule (letters, digits and `_-. :/` only) on top, in `server::mlflow_api`.
pub fn validate_kiroku_key(kind: &str, key: &str) -> Result<(), crate::error::KirokuError> {
    if key.is_empty() {
        return Err(crate::error::KirokuError::Invalid(format!(
            "{kind} key is empty"
        )));
    }
    if key.chars().count() > 250 {
        return Err(crate::error::KirokuError::Invalid(format!(
            "{kind} key '{}…' is longer than 250 characters",
            key.chars().take(40).collect::<String>()
        )));
    }
    if key.chars().any(char::is_control) {
        return Err(crate::error::KirokuError::Invalid(format!(
            "{kind} key {key:?} contains a control character"
        )));
    }
    Ok(())
}

/// Serialises f64 as a JSON number, or the strings "NaN", "Infinity", "-Infinity".
pub mod json_float {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_nan() {
            s.serialize_str("NaN")
        } else if *v == f64::INFINITY {
            s.serialize_str("Infinity")
        } else if *v == f64::NEG_INFINITY {
            s.serialize_str("-Infinity")
        } else {
            s.serialize_f64(*v)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum NumOrStr {
            Num(f64),
            Str(String),
        }
        match NumOrStr::deserialize(d)? {
            NumOrStr::Num(n) => Ok(n),
            NumOrStr::Str(s) => parse_special(&s)
                .ok_or_else(|| serde::de::Error::custom(format!("not a number: {s:?}"))),
        }
    }

    /// Parses the special spellings of floats used by JSON producers (and plain numbers).
    pub fn parse_special(s: &str) -> Option<f64> {
        match s.trim() {
            "NaN" | "nan" | "NAN" => Some(f64::NAN),
            "Infinity" | "inf" | "+inf" | "Inf" | "+Infinity" => Some(f64::INFINITY),
            "-Infinity" | "-inf" | "-Inf" => Some(f64::NEG_INFINITY),
            other => other.parse().ok(),
        }
    }

    /// The JSON value for a float under the same rule.
    pub fn to_value(v: f64) -> serde_json::Value {
        if v.is_finite() {
            serde_json::json!(v)
        } else if v.is_nan() {
            serde_json::json!("NaN")
        } else if v > 0.0 {
            serde_json::json!("Infinity")
        } else {
            serde_json::json!("-Infinity")
        }
    }
}

/// `Option<f64>` under the `json_float` rule (None is null).
pub mod json_float_opt {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(x) => super::json_float::serialize(x, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        let v = Option::<serde_json::Value>::deserialize(d)?;
        match v {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::Number(n)) => Ok(n.as_f64()),
            Some(serde_json::Value::String(s)) => super::json_float::parse_special(&s)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom(format!("not a number: {s:?}"))),
            Some(other) => Err(serde::de::Error::custom(format!("not a number: {other}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_floats_round_trip_through_json() {
        for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1.5, -0.0] {
            let p = MetricPoint {
                step: 1,
                timestamp: 2,
                value: v,
            };
            let s = serde_json::to_string(&p).unwrap();
            let back: MetricPoint = serde_json::from_str(&s).unwrap();
            assert!(
                back.value == v || (v.is_nan() && back.value.is_nan()),
                "{s}"
            );
        }
        let p = MetricPoint {
            step: 1,
            timestamp: 2,
            value: f64::NAN,
        };
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"step":1,"timestamp":2,"value":"NaN"}"#
        );
    }

    #[test]
    fn status_accepts_mlflow_names() {
        assert_eq!(
            "FINISHED".parse::<RunStatus>().unwrap(),
            RunStatus::Finished
        );
        assert_eq!("SCHEDULED".parse::<RunStatus>().unwrap(), RunStatus::Queued);
        assert!("done".parse::<RunStatus>().is_err());
    }
}

/// Quotes user input in a message, cut to a readable length: a bad 10 MB value must not be
/// echoed whole into a warning, an error answer or a log. Longer text keeps its first
/// `max_chars` characters and says how much was left out.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}… ({} more bytes)", &text[..cut], text.len() - cut),
    }
}

/// A message that may quote long input, kept to about `max_chars` characters: a longer one
/// keeps its beginning and its end (where messages say what was expected) and says how much
/// was left out between.
pub fn excerpt_middle(text: &str, max_chars: usize) -> String {
    let total = text.chars().count();
    if total <= max_chars {
        return text.to_string();
    }
    let head_chars = max_chars * 2 / 3;
    let tail_chars = max_chars - head_chars;
    let head_end = text
        .char_indices()
        .nth(head_chars)
        .map_or(text.len(), |(i, _)| i);
    let tail_start = text
        .char_indices()
        .nth(total - tail_chars)
        .map_or(text.len(), |(i, _)| i);
    format!(
        "{} … ({} bytes left out) … {}",
        &text[..head_end],
        tail_start - head_end,
        &text[tail_start..]
    )
}

/// The usual length of an `excerpt` in messages.
pub const EXCERPT_CHARS: usize = 80;

/// One batch of a run's data that is written whole or not at all (`Store::log_batch`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunBatch {
    #[serde(default)]
    pub params: Vec<(String, String)>,
    #[serde(default)]
    pub metrics: Vec<KeyedPoint>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// For a supervised run (`kiroku run`): the byte offset of its metrics file that this batch
    /// brings the ingest to, recorded in the same transaction, so a recovery after a crash
    /// resumes exactly there.
    #[serde(default)]
    pub ingested_to: Option<u64>,
}

impl RunBatch {
    pub fn is_empty(&self) -> bool {
        self.params.is_empty() && self.metrics.is_empty() && self.tags.is_empty()
    }

    /// Drops the entries whose keys the store would refuse, so they cannot fail the rest of
    /// the batch; returns a warning for each.
    pub fn drop_invalid_keys(&mut self) -> Vec<String> {
        let mut warnings = Vec::new();
        let mut keep = |kind: &str, key: &str| match validate_kiroku_key(kind, key) {
            Ok(()) => true,
            Err(e) => {
                warnings.push(format!("{e}; ignored"));
                false
            }
        };
        self.params.retain(|(k, _)| keep("param", k));
        self.tags.retain(|(k, _)| keep("tag", k));
        self.metrics.retain(|p| keep("metric", &p.key));
        warnings
    }
}

/// Who supervises a running run (the `kiroku run` process), so anyone on the same host and
/// boot can tell whether it still lives, and where its metrics file is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supervisor {
    pub host: String,
    /// `/proc/sys/kernel/random/boot_id` of the supervisor's boot.
    pub boot_id: String,
    /// The supervisor's pid namespace (`/proc/self/ns/pid`, e.g. `pid:[4026531836]`): a pid
    /// means something only inside it (containers sharing a host name and boot).
    pub pid_namespace: String,
    pub pid: u32,
    /// The process start time (clock ticks after boot, `/proc/PID/stat` field 22): with the
    /// pid it names one process for the life of a boot.
    pub start_ticks: u64,
    /// The metrics file the run's command appends to (on the supervisor's host).
    pub metrics_file: String,
    /// The command the supervisor started, once it runs (`SupervisionStore::set_supervised_child`).
    #[serde(default)]
    pub child: Option<ChildProcess>,
}

impl Supervisor {
    /// The supervising process, by identity (`crate::process`).
    pub fn process(&self) -> crate::process::ProcessIdentity {
        crate::process::ProcessIdentity {
            host: self.host.clone(),
            boot_id: self.boot_id.clone(),
            pid_namespace: self.pid_namespace.clone(),
            pid: self.pid,
            start_ticks: self.start_ticks,
        }
    }

    /// A process the supervisor recorded (its command), by identity: on its host, boot and
    /// pid namespace.
    pub fn child_process(&self, child: ChildProcess) -> crate::process::ProcessIdentity {
        crate::process::ProcessIdentity {
            pid: child.pid,
            start_ticks: child.start_ticks,
            ..self.process()
        }
    }
}

/// A process on the supervisor's host, boot and pid namespace: its pid and start time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildProcess {
    pub pid: u32,
    pub start_ticks: u64,
}

/// A running run with a supervisor, and how far its metrics file has been ingested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupervisedRun {
    pub run_id: String,
    pub supervisor: Supervisor,
    pub ingested_to: u64,
}
