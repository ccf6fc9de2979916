//! The wire types of kiroku's own HTTP API (`/api/v1/...`), shared by the server
//! (`server::kiroku_api`) and the client (`store::http::HttpStore`).
//!
//! Every `Store` method has one route; bodies reuse the `model` types wherever they fit, so
//! this file holds only the envelopes. Later features (the job queue's `/api/v1/jobs...`,
//! checks) add their own routes and types beside these without changing them. Errors travel as `ApiError`, the same
//! `{"error_code", "message"}` shape MLflow uses, plus what kiroku needs to rebuild the exact
//! `KirokuError` on the client.
pub mod models;

use crate::error::KirokuError;
use crate::model::{
    CheckRunId, CheckRunQuery, CheckStatus, Job, JobQuery, JobStatus, KeyedPoint, Lease, Millis,
    RunStatus, Supervisor,
};
use crate::series::SeriesQuery;
use serde::{Deserialize, Serialize};

/// The prefix of every kiroku API route.
pub const PREFIX: &str = "/api/v1";

/// The header naming the user a request acts for when the server has no tokens (loopback use).
/// With tokens, the token's user wins.
pub const USER_HEADER: &str = "x-kiroku-user";

/// The header saying through what a request's writes are made (`mcp`: an agent through
/// `kiroku mcp` on a remote store), so the server's activity log marks them (`store::origin`).
pub const VIA_HEADER: &str = "x-kiroku-via";

/// An error answer: MLflow's shape (`error_code`, `message`) plus kiroku's own details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    pub error_code: String,
    pub message: String,
    /// kiroku's error kind (`not_found`, `invalid`, `query`, `conflict`, `ambiguous`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// For query errors: the line pointing at the problem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caret: Option<String>,
    /// For ambiguous references: what the reference matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidates: Option<Vec<String>>,
}

impl ApiError {
    /// The HTTP status for an MLflow error code (mlflow.md §1.2). Unknown codes are 500s.
    pub fn status_of(code: &str) -> u16 {
        match code {
            "INVALID_PARAMETER_VALUE" | "BAD_REQUEST" | "RESOURCE_ALREADY_EXISTS" => 400,
            // A model version an alias's gate refuses (MLflow answers its own with 400 too).
            "INVALID_STATE" => 400,
            "CUSTOMER_UNAUTHORIZED" | "UNAUTHENTICATED" => 401,
            "PERMISSION_DENIED" => 403,
            "RESOURCE_DOES_NOT_EXIST" | "NOT_FOUND" | "ENDPOINT_NOT_FOUND" => 404,
            "ABORTED" | "RESOURCE_CONFLICT" | "ALREADY_EXISTS" => 409,
            "REQUEST_LIMIT_EXCEEDED" | "RESOURCE_EXHAUSTED" => 429,
            "PAYLOAD_TOO_LARGE" => 413,
            "NOT_IMPLEMENTED" => 501,
            "TEMPORARILY_UNAVAILABLE" => 503,
            _ => 500,
        }
    }

    pub fn new(code: &str, message: impl Into<String>) -> Self {
        ApiError {
            error_code: code.to_string(),
            message: message.into(),
            kind: None,
            caret: None,
            candidates: None,
        }
    }

    pub fn status(&self) -> u16 {
        Self::status_of(&self.error_code)
    }

    /// The client side: back to the error the server's store raised.
    pub fn into_kiroku(self) -> KirokuError {
        match self.kind.as_deref() {
            Some("not_found") => KirokuError::NotFound(self.message),
            Some("ambiguous") => KirokuError::Ambiguous {
                reference: self.message,
                candidates: self.candidates.unwrap_or_default(),
            },
            Some("invalid") => KirokuError::Invalid(self.message),
            Some("query") => KirokuError::Query {
                message: self.message,
                caret: self.caret.unwrap_or_default(),
            },
            Some("conflict") => KirokuError::Conflict(self.message),
            Some("forbidden") => KirokuError::Forbidden(self.message),
            Some("no_store") => KirokuError::NoStore(self.message),
            _ => match self.status() {
                404 => KirokuError::NotFound(self.message),
                400 | 413 => KirokuError::Invalid(self.message),
                401 | 403 => {
                    KirokuError::Invalid(format!("refused by the server: {}", self.message))
                }
                409 => KirokuError::Conflict(self.message),
                _ => KirokuError::Database(format!("server error: {}", self.message)),
            },
        }
    }
}

impl From<&KirokuError> for ApiError {
    /// The server side. User errors are 4xx; only store failures are 500s.
    fn from(e: &KirokuError) -> Self {
        let (code, kind) = match e {
            KirokuError::NotFound(_) => ("RESOURCE_DOES_NOT_EXIST", "not_found"),
            KirokuError::Ambiguous { .. } => ("INVALID_PARAMETER_VALUE", "ambiguous"),
            KirokuError::Invalid(_) => ("INVALID_PARAMETER_VALUE", "invalid"),
            KirokuError::Query { .. } => ("INVALID_PARAMETER_VALUE", "query"),
            KirokuError::Conflict(_) => ("INVALID_PARAMETER_VALUE", "conflict"),
            KirokuError::Forbidden(_) => ("PERMISSION_DENIED", "forbidden"),
            KirokuError::NoStore(_) => ("INTERNAL_ERROR", "no_store"),
            KirokuError::SchemaTooNew { .. }
            | KirokuError::Corrupt { .. }
            | KirokuError::Database(_)
            | KirokuError::Io { .. } => ("INTERNAL_ERROR", "internal"),
        };
        let mut out = ApiError::new(code, e.to_string());
        if kind == "internal" {
            // These name the server's files and folders: they go to the server's log, and the
            // client learns only that the server failed.
            eprintln!("kiroku serve: {e}");
            out.message = "the server failed to carry this out (its log has the details)".into();
        }
        out.kind = Some(kind.to_string());
        match e {
            KirokuError::Query { message, caret } => {
                out.message = message.clone();
                out.caret = Some(caret.clone());
            }
            KirokuError::Ambiguous {
                reference,
                candidates,
            } => {
                out.message = reference.clone();
                out.candidates = Some(candidates.clone());
            }
            _ => {}
        }
        out
    }
}

/// `GET /api/v1/info`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerInfo {
    pub server: String,
    pub version: String,
    /// The store behind the server, as it describes itself.
    pub store: String,
    /// Whether the server asks for tokens.
    pub auth: bool,
    /// The user the request's token belongs to, if any.
    pub user: Option<String>,
}

/// `GET /api/v1/watch?since=V&timeout_ms=T`: answers as soon as the store version differs
/// from `since`, or after the timeout with the unchanged version (long polling).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WatchQuery {
    pub since: Option<i64>,
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionAnswer {
    pub version: i64,
}

/// A reference to an experiment (name or numeric id) or a run (id, prefix or name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefQuery {
    #[serde(rename = "ref")]
    pub reference: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncludeDeleted {
    #[serde(default)]
    pub include_deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdAnswer {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateExperiment {
    pub name: String,
    pub user: String,
}

/// Rename (`new_name` set), delete or restore an experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentChange {
    #[serde(rename = "ref")]
    pub reference: String,
    pub user: String,
    #[serde(default)]
    pub new_name: Option<String>,
}

/// Create an experiment as an import's source kept it (`ExperimentStore::import_experiment`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportExperiment {
    pub experiment: crate::model::ImportedExperiment,
    pub user: String,
}

/// Delete an experiment as of a time (`ExperimentStore::delete_experiment_at`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteExperimentAt {
    #[serde(rename = "ref")]
    pub reference: String,
    pub user: String,
    pub at: crate::model::Millis,
}

/// Runs by id (`RunStore::logged_inputs`: at most `MAX_ENTITIES_PER_BATCH`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunIds {
    pub ids: Vec<String>,
}

/// Set (`pairs`) or remove (`keys`) an experiment's tags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentTags {
    #[serde(rename = "ref")]
    pub reference: String,
    pub user: String,
    #[serde(default)]
    pub pairs: Vec<(String, String)>,
    #[serde(default)]
    pub keys: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: RunStatus,
    pub exit_code: Option<i32>,
    pub end_time: Option<Millis>,
    /// Who changes it (the token's user wins on the server); absent: the run's owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pairs {
    pub pairs: Vec<(String, String)>,
    #[serde(default)]
    pub user: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Keys {
    pub keys: Vec<String>,
    pub user: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Points {
    pub points: Vec<KeyedPoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyQuery {
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampledRequest {
    pub key: String,
    pub query: SeriesQuery,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StarChange {
    pub user: String,
    pub starred: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Changed {
    pub changed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeletedChange {
    pub deleted: bool,
    pub user: String,
}

/// Edit (`body` set) or delete a note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoteChange {
    pub user: String,
    #[serde(default)]
    pub body: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NameChange {
    pub name: String,
    pub user: String,
}

/// The empty success answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Empty {}

/// `POST /api/v1/runs/{id}/batch`: `Store::log_batch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchRequest {
    pub batch: crate::model::RunBatch,
    #[serde(default)]
    pub user: String,
}

/// `POST /api/v1/runs/supervised`: `Store::create_supervised_run`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupervisedRunRequest {
    pub run: crate::model::NewRun,
    pub supervisor: crate::model::Supervisor,
}

/// `POST /api/v1/runs/{id}/recover-lost`: `Store::recover_lost_run`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LostRunRecovery {
    pub expected_offset: u64,
    pub rest: crate::model::RunBatch,
    #[serde(default)]
    pub user: String,
}

/// `GET /api/v1/jobs?status=queued,running&target=T&host=H&limit=N`: `Store::jobs`. Statuses
/// travel comma-separated; absent parameters do not filter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobListQuery {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub limit: Option<usize>,
}

impl JobListQuery {
    /// The query-string pairs for `query` (the client side).
    pub fn pairs(query: &JobQuery) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if !query.statuses.is_empty() {
            let names: Vec<&str> = query.statuses.iter().map(|s| s.as_str()).collect();
            pairs.push(("status", names.join(",")));
        }
        if let Some(target) = &query.target {
            pairs.push(("target", target.clone()));
        }
        if let Some(host) = &query.host {
            pairs.push(("host", host.clone()));
        }
        if let Some(limit) = query.limit {
            pairs.push(("limit", limit.to_string()));
        }
        pairs
    }

    /// Back to the store's query (the server side); an unknown status is an error naming it.
    pub fn into_query(self) -> Result<JobQuery, KirokuError> {
        let statuses = match self.status.as_deref().filter(|s| !s.is_empty()) {
            Some(list) => list
                .split(',')
                .map(|name| name.trim().parse::<JobStatus>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| KirokuError::Invalid(format!("status: {e}")))?,
            None => Vec::new(),
        };
        Ok(JobQuery {
            statuses,
            target: self.target,
            host: self.host,
            limit: self.limit,
        })
    }
}

/// `POST /api/v1/jobs/{id}/update`: the job after a compare-and-swap update, or none when
/// the job had moved on (`Store::update_job`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobUpdateAnswer {
    pub job: Option<Job>,
}

/// `POST /api/v1/jobs/{id}/cancel`: who asks (the token's user wins on the server).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobCancel {
    #[serde(default)]
    pub user: String,
}

/// `GET /api/v1/jobs/leases?name=N`: `Store::lease`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaseQuery {
    pub name: String,
}

/// The answer to `GET /api/v1/jobs/leases`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaseAnswer {
    pub lease: Option<Lease>,
}

/// `POST /api/v1/jobs/leases/acquire`: `Store::acquire_lease`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaseRequest {
    pub name: String,
    pub holder: Supervisor,
    pub now: Millis,
    pub expires_at: Millis,
    #[serde(default)]
    pub replacing: Option<Supervisor>,
}

/// The answer to `POST /api/v1/jobs/leases/acquire`: whether the holder now holds the lease.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaseHeld {
    pub held: bool,
}

/// `POST /api/v1/jobs/leases/release`: `Store::release_lease`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaseRelease {
    pub name: String,
    pub holder: Supervisor,
}

/// `GET /api/v1/datasets/versions?name=N`: `Store::dataset_versions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetNameQuery {
    pub name: String,
}

/// `GET /api/v1/datasets/resolve?reference=R`: `Store::dataset_version` (`NAME`, `NAME@N`, an id
/// prefix).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetRefQuery {
    pub reference: String,
}

/// `GET /api/v1/datasets/readers?version=ID`: `Store::version_readers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionIdQuery {
    pub version: String,
}

/// `GET /api/v1/datasets/inputs?run=ID`: `Store::run_inputs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunIdQuery {
    pub run: String,
}

/// `POST /api/v1/datasets/inputs`: `Store::add_run_inputs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInputsRequest {
    pub run_id: String,
    pub inputs: Vec<crate::model::data::RunInput>,
}

/// `GET /api/v1/checks?dataset=D&version=V&suite=S&status=warn,fail&awaiting_review=true&limit=N`:
/// `Store::check_runs`. Statuses travel comma-separated; absent parameters do not filter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckRunListQuery {
    #[serde(default)]
    pub dataset: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub suite: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub awaiting_review: Option<bool>,
    #[serde(default)]
    pub limit: Option<usize>,
}

impl CheckRunListQuery {
    /// The query-string pairs for `query` (the client side).
    pub fn pairs(query: &CheckRunQuery) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(dataset) = &query.dataset {
            pairs.push(("dataset", dataset.clone()));
        }
        if let Some(version) = &query.version_id {
            pairs.push(("version", version.clone()));
        }
        if let Some(suite) = &query.suite {
            pairs.push(("suite", suite.clone()));
        }
        if !query.statuses.is_empty() {
            let names: Vec<&str> = query.statuses.iter().map(|s| s.as_str()).collect();
            pairs.push(("status", names.join(",")));
        }
        if query.awaiting_review {
            pairs.push(("awaiting_review", "true".into()));
        }
        if let Some(limit) = query.limit {
            pairs.push(("limit", limit.to_string()));
        }
        pairs
    }

    /// Back to the store's query (the server side); an unknown status is an error naming it.
    pub fn into_query(self) -> Result<CheckRunQuery, KirokuError> {
        let statuses = match self.status.as_deref().filter(|s| !s.is_empty()) {
            Some(list) => list
                .split(',')
                .map(|name| name.trim().parse::<CheckStatus>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| KirokuError::Invalid(format!("status: {e}")))?,
            None => Vec::new(),
        };
        Ok(CheckRunQuery {
            dataset: self.dataset,
            version_id: self.version,
            suite: self.suite,
            statuses,
            awaiting_review: self.awaiting_review.unwrap_or(false),
            limit: self.limit,
        })
    }
}

/// `GET /api/v1/reviews?check_run=N&result=ID`: `Store::reviews`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewListQuery {
    pub check_run: CheckRunId,
    #[serde(default)]
    pub result: Option<String>,
}

// The pipelines' cache (`/api/v1/pipelines/...`, `server::pipeline_cache`).

/// `POST /api/v1/pipelines/objects/present`: which of these cache objects the store holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectsPresentQuery {
    pub ids: Vec<String>,
}

/// The answer to `ObjectsPresentQuery`, in the same order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectsPresent {
    pub present: Vec<bool>,
}

/// `PUT /api/v1/pipelines/objects/{id}`: the stored object's size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectStored {
    pub size: u64,
}

/// `GET /api/v1/pipelines/run-cache?key=`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunCacheKeyQuery {
    pub key: String,
}

// The promotions domain (`store::PromotionStore`): approvals, evaluations, the hook outbox,
// under `/api/v1/promotions/...`.

/// `GET /api/v1/promotions/approvals?model=M&version=V`: `Store::approvals`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalListQuery {
    pub model: String,
    #[serde(default)]
    pub version: Option<String>,
}

/// `POST /api/v1/promotions/evaluations`: `Store::add_evaluation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluationRequest {
    pub model: String,
    pub version: String,
    pub job_id: crate::model::JobId,
    pub user: String,
}

/// `POST /api/v1/promotions/evaluations/update`: `Store::update_evaluation`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluationUpdateRequest {
    pub job_id: crate::model::JobId,
    #[serde(default)]
    pub run_id: Option<String>,
    pub status: crate::model::promotions::EvaluationStatus,
}

/// `GET /api/v1/promotions/evaluations?model=M` and `GET /api/v1/promotions/deliveries?model=M&limit=N`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelListQuery {
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub limit: Option<u32>,
}

/// `POST /api/v1/promotions/deliveries/claim`: `Store::claim_deliveries`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimRequest {
    pub now: Millis,
    pub hold_ms: i64,
    pub limit: u32,
    #[serde(default)]
    pub ids: Option<Vec<String>>,
}

/// `POST /api/v1/promotions/deliveries/attempt`: `Store::record_attempt`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptRequest {
    pub id: String,
    pub outcome: crate::model::promotions::AttemptOutcome,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_listing_query_survives_the_query_string() {
        let query = JobQuery {
            statuses: vec![JobStatus::Queued, JobStatus::Running],
            target: Some("gpu box".into()),
            host: None,
            limit: Some(5),
        };
        let pairs = JobListQuery::pairs(&query);
        let field = |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        };
        let back = JobListQuery {
            status: field("status"),
            target: field("target"),
            host: field("host"),
            limit: field("limit").map(|l| l.parse().unwrap()),
        };
        assert_eq!(back.into_query().unwrap(), query);
        let empty = JobListQuery::default();
        assert_eq!(empty.into_query().unwrap(), JobQuery::default());
        let bad = JobListQuery {
            status: Some("queued,asleep".into()),
            ..Default::default()
        };
        let err = bad.into_query().unwrap_err().to_string();
        assert!(err.contains("'asleep'"), "{err}");
    }

    #[test]
    fn errors_survive_the_wire() {
        let cases = [
            KirokuError::NotFound("no run x".into()),
            KirokuError::Invalid("bad".into()),
            KirokuError::Conflict("param lr".into()),
            KirokuError::Forbidden("not yours".into()),
            KirokuError::Query {
                message: "unexpected".into(),
                caret: "  ^".into(),
            },
            KirokuError::Ambiguous {
                reference: "ab".into(),
                candidates: vec!["ab1".into(), "ab2".into()],
            },
        ];
        for e in cases {
            let wire: ApiError = (&e).into();
            assert!(wire.status() < 500, "{e}");
            let json = serde_json::to_string(&wire).unwrap();
            let back: ApiError = serde_json::from_str(&json).unwrap();
            assert_eq!(back.into_kiroku().to_string(), e.to_string());
        }
        assert_eq!(
            ApiError::from(&KirokuError::Database("x".into())).status(),
            500
        );
    }
}
