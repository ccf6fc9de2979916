//! Models: MLflow 3's logged models (what `mlflow.<flavor>.log_model` records, with its files),
//! and the registry (registered models, their numbered versions, tags, aliases), with the
//! append-only history of every alias move. Plain records; storage is the `ModelStore` domain,
//! the MLflow wire shapes `server::mlflow_api::{logged_models, registry}`.
//!
//! A logged model is identified by `m-<32 hex>` (MLflow's form) and keeps its files under the
//! store (`mlflow-artifacts:/<experiment>/models/<id>/artifacts` on the wire). A registered
//! model is a name; its versions are numbered 1, 2, … and a number is never reused, even after
//! its version is deleted. An alias names one version of one model; every move of an alias
//! (set, re-pointed, deleted, removed with its version) is an `AliasMove`, never rewritten.
use super::Millis;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// A logged model's lifecycle: created `Pending`, finalized `Ready` once its files are up, or
/// `UploadFailed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LoggedModelStatus {
    #[default]
    Pending,
    Ready,
    UploadFailed,
}

impl LoggedModelStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LoggedModelStatus::Pending => "pending",
            LoggedModelStatus::Ready => "ready",
            LoggedModelStatus::UploadFailed => "upload_failed",
        }
    }

    /// MLflow's enum name (`LOGGED_MODEL_READY`).
    pub fn mlflow_name(self) -> &'static str {
        match self {
            LoggedModelStatus::Pending => "LOGGED_MODEL_PENDING",
            LoggedModelStatus::Ready => "LOGGED_MODEL_READY",
            LoggedModelStatus::UploadFailed => "LOGGED_MODEL_UPLOAD_FAILED",
        }
    }
}

impl FromStr for LoggedModelStatus {
    type Err = String;
    /// kiroku's names and MLflow's (`LOGGED_MODEL_READY`, `READY`), case-insensitively.
    fn from_str(s: &str) -> Result<Self, String> {
        let upper = s.to_ascii_uppercase();
        match upper.strip_prefix("LOGGED_MODEL_").unwrap_or(&upper) {
            "PENDING" => Ok(LoggedModelStatus::Pending),
            "READY" => Ok(LoggedModelStatus::Ready),
            "UPLOAD_FAILED" => Ok(LoggedModelStatus::UploadFailed),
            _ => Err(format!(
                "unknown logged model status '{s}' (expected PENDING, READY or UPLOAD_FAILED)"
            )),
        }
    }
}

impl fmt::Display for LoggedModelStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An MLflow 3 logged model: a model's files plus its metadata, usually produced by a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedModel {
    /// `m-` and 32 hex digits.
    pub model_id: String,
    pub experiment_id: i64,
    pub name: String,
    pub source_run_id: Option<String>,
    pub status: LoggedModelStatus,
    #[serde(default)]
    pub status_message: Option<String>,
    /// Where its files are, as MLflow names it: `mlflow-artifacts:/<exp>/models/<id>/artifacts`.
    pub artifact_location: String,
    #[serde(default)]
    pub model_type: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Every metric value logged against it (MLflow 3's `log_metric(..., model_id=…)`), in the
    /// order logged.
    #[serde(default)]
    pub metrics: Vec<LoggedModelMetric>,
    pub user: String,
    pub created_at: Millis,
    pub updated_at: Millis,
    #[serde(default)]
    pub deleted: bool,
}

/// One metric value logged against a logged model (MLflow's `Metric` with its `model_id`): by a
/// run, optionally on a dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedModelMetric {
    pub model_id: String,
    pub key: String,
    #[serde(with = "super::json_float")]
    pub value: f64,
    pub timestamp: Millis,
    #[serde(default)]
    pub step: i64,
    /// The run that logged it.
    #[serde(default)]
    pub run_id: Option<String>,
    #[serde(default)]
    pub dataset_name: Option<String>,
    #[serde(default)]
    pub dataset_digest: Option<String>,
}

/// What `create_logged_model` is given; the store assigns the id (and a name when none).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewLoggedModel {
    pub experiment_id: i64,
    pub name: Option<String>,
    pub source_run_id: Option<String>,
    pub model_type: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    pub user: String,
}

/// One ordering key of a search: a field (`name`, `creation_timestamp`, `version_number`, …)
/// and its direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderKey {
    pub field: String,
    pub ascending: bool,
    /// For `metrics.<key>` of logged models: the value on this dataset only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_digest: Option<String>,
}

/// A dataset a logged-model search limits its metric clauses to (MLflow's `datasets`): by
/// name, and digest when given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetScope {
    pub dataset_name: String,
    #[serde(default)]
    pub dataset_digest: Option<String>,
}

/// A search of logged models: MLflow's `SearchLoggedModels` (experiments, a filter such as
/// `name = 'model' AND tags.k = 'v'`, order, paging). Deleted models are never found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoggedModelQuery {
    #[serde(default)]
    pub experiment_ids: Vec<i64>,
    /// The datasets metric clauses (`metrics.x > 1`) are limited to; with no metric clause, the
    /// models with a metric on one of them.
    #[serde(default)]
    pub datasets: Vec<DatasetScope>,
    pub filter: Option<String>,
    #[serde(default)]
    pub order_by: Vec<OrderKey>,
    pub max_results: Option<u32>,
    pub page_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedModelPage {
    pub models: Vec<LoggedModel>,
    pub next_page_token: Option<String>,
}

/// A registered model: a name whose versions are numbered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisteredModel {
    pub name: String,
    /// Empty when none was given (MLflow's `""`).
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Alias → version number.
    #[serde(default)]
    pub aliases: BTreeMap<String, i64>,
    /// The newest version in each stage (MLflow's `latest_versions`), by version number.
    #[serde(default)]
    pub latest_versions: Vec<ModelVersion>,
    pub user: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// What `create_registered_model` is given.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewRegisteredModel {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    pub user: String,
}

/// A version's registration state (MLflow's `ModelVersionStatus`); kiroku registers at once,
/// so versions it makes are `Ready`. Imported ones keep theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ModelVersionStatus {
    PendingRegistration,
    FailedRegistration,
    #[default]
    Ready,
}

impl ModelVersionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelVersionStatus::PendingRegistration => "pending_registration",
            ModelVersionStatus::FailedRegistration => "failed_registration",
            ModelVersionStatus::Ready => "ready",
        }
    }

    /// MLflow's enum name (`READY`).
    pub fn mlflow_name(self) -> &'static str {
        match self {
            ModelVersionStatus::PendingRegistration => "PENDING_REGISTRATION",
            ModelVersionStatus::FailedRegistration => "FAILED_REGISTRATION",
            ModelVersionStatus::Ready => "READY",
        }
    }
}

impl FromStr for ModelVersionStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_uppercase().as_str() {
            "PENDING_REGISTRATION" => Ok(ModelVersionStatus::PendingRegistration),
            "FAILED_REGISTRATION" => Ok(ModelVersionStatus::FailedRegistration),
            "READY" => Ok(ModelVersionStatus::Ready),
            _ => Err(format!("unknown model version status '{s}'")),
        }
    }
}

/// The stages MLflow (deprecated since 2.9) still accepts, in its spelling.
pub const MODEL_STAGES: [&str; 4] = ["None", "Staging", "Production", "Archived"];

/// A stage name in MLflow's spelling, whatever its case; `Invalid` names the accepted ones.
pub fn canonical_stage(stage: &str) -> Result<&'static str, String> {
    MODEL_STAGES
        .iter()
        .find(|s| s.eq_ignore_ascii_case(stage.trim()))
        .copied()
        .ok_or_else(|| {
            format!(
                "Invalid Model Version stage: {stage}. Value must be one of {}.",
                MODEL_STAGES.join(", ")
            )
        })
}

/// One version of a registered model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersion {
    pub name: String,
    /// 1, 2, … per model (a string on MLflow's wire).
    pub version: i64,
    /// Where its files are: `models:/m-…`, `runs:/<run>/path`, `mlflow-artifacts:/…`, a path.
    pub source: String,
    pub run_id: Option<String>,
    /// The logged model it registers, when it came from one.
    pub model_id: Option<String>,
    pub status: ModelVersionStatus,
    #[serde(default)]
    pub status_message: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// The aliases pointing at this version, sorted.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// MLflow's deprecated stage (`None`, `Staging`, `Production`, `Archived`).
    pub stage: String,
    #[serde(default)]
    pub run_link: String,
    pub user: String,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// What `create_model_version` is given; the store numbers it. The registered model must exist.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewModelVersion {
    pub name: String,
    pub source: String,
    pub run_id: Option<String>,
    pub model_id: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub run_link: String,
    #[serde(default)]
    pub description: String,
    pub user: String,
}

/// A search of registered models or of versions: MLflow's filter (`name LIKE 'a%'`,
/// `tags.k = 'v'`, `run_id IN ('…')`, …), order (`name ASC`, `version_number DESC`, …) and
/// paging (`max_results` default 100 for models, 10,000 for versions as MLflow's; an opaque
/// `page_token`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RegistrySearch {
    pub filter: Option<String>,
    #[serde(default)]
    pub order_by: Vec<String>,
    pub max_results: Option<u32>,
    pub page_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegisteredModelPage {
    pub models: Vec<RegisteredModel>,
    pub next_page_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelVersionPage {
    pub versions: Vec<ModelVersion>,
    pub next_page_token: Option<String>,
}

/// Who moves an alias, and why: recorded with the move.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AliasReason {
    pub user: String,
    /// Free text (`via MLflow API`, `rollback`, an operator's words).
    pub reason: String,
    /// Whether a gate was overridden (`kiroku model alias --force`).
    #[serde(default)]
    pub forced: bool,
}

/// One move of an alias, kept forever (`alias_history`): from which version to which (`None`
/// on either side: the alias did not exist before / was deleted), who, when, why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliasMove {
    /// Sequential per store, in the order moves happened.
    pub id: i64,
    pub model: String,
    pub alias: String,
    pub from_version: Option<i64>,
    /// `None`: the alias was deleted (or went with its version).
    pub to_version: Option<i64>,
    pub user: String,
    pub time: Millis,
    pub reason: String,
    pub forced: bool,
}

/// Why an alias name is refused, or `None` when it may be used: MLflow's rule (`^[\w\-]*$`,
/// not empty, at most 255 characters; `latest` in any case and `v<digits>` are reserved).
pub fn alias_name_problem(alias: &str) -> Option<String> {
    if alias.is_empty() || alias.chars().count() > 255 {
        return Some(format!(
            "Alias name '{alias}' is invalid: it must be 1 to 255 characters long."
        ));
    }
    if !alias
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    {
        return Some(format!(
            "Invalid alias name: '{alias}'. Names may only contain alphanumerics, underscores (_) and dashes (-)."
        ));
    }
    if alias.eq_ignore_ascii_case("latest") {
        return Some("'latest' alias name (case insensitive) is reserved.".into());
    }
    let mut chars = alias.chars();
    if matches!(chars.next(), Some('v' | 'V'))
        && alias.len() > 1
        && chars.all(|c| c.is_ascii_digit())
    {
        return Some(format!("Version alias name '{alias}' is reserved."));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_and_malformed_aliases_are_refused() {
        for bad in ["latest", "LaTeSt", "v3", "V12", "", "a b", "a.b", "a/b"] {
            assert!(alias_name_problem(bad).is_some(), "{bad:?}");
        }
        for good in ["champion", "prod-1", "v", "v1x", "x_y", "vv1"] {
            assert_eq!(alias_name_problem(good), None, "{good:?}");
        }
    }

    #[test]
    fn statuses_read_both_spellings() {
        assert_eq!(
            "LOGGED_MODEL_READY".parse::<LoggedModelStatus>().unwrap(),
            LoggedModelStatus::Ready
        );
        assert_eq!(
            "upload_failed".parse::<LoggedModelStatus>().unwrap(),
            LoggedModelStatus::UploadFailed
        );
        assert!("done".parse::<LoggedModelStatus>().is_err());
        assert_eq!(canonical_stage("production").unwrap(), "Production");
        assert!(canonical_stage("prod").is_err());
    }
}
