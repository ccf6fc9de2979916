//! The MLflow tracking API (`/api/2.0/mlflow/...`, also under `/ajax-api/2.0/mlflow/...`) over
//! the kiroku store, so code calling `mlflow.log_metric` logs into kiroku unchanged.
//!
//! Mapping (see ../shared/reference/mlflow.md): MLflow experiment ids are kiroku's integer ids
//! as strings, and `"0"` names the `Default` experiment (made on first use); run ids are the
//! same 32-hex ids; statuses map RUNNING/SCHEDULED/FINISHED/FAILED/KILLED to kiroku's
//! running/queued/finished/failed/killed (lost reads as FAILED). The tags `mlflow.runName`,
//! `mlflow.user`, `mlflow.parentRunId` and `mlflow.note.content` also set the run's name, user,
//! parent and a note; the tags themselves are kept. Searches use kiroku's query language, a
//! superset of MLflow's grammar. Limits and truncation follow MLflow's (`validate_*`).
//!
//! A deleted run (or a run of a deleted experiment) takes no writes until restored: the store
//! refuses them with MLflow's own `The run <id> must be in the 'active' state` (400
//! `INVALID_PARAMETER_VALUE`), the same rule for the CLI and the kiroku API. Experiment tags
//! are stored as such; `mlflow.note.content` among them is the experiment's description.
use super::auth::Caller;
use super::errors::{body_rejection, invalid, not_found};
use super::AppState;
use crate::api::ApiError;
use crate::error::KirokuError;
use crate::model::{
    json_float, Experiment, KeyedPoint, NewNote, NewRun, Run, RunBatch, RunQuery, RunStatus,
};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use base64::Engine;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::sync::Arc;

pub use crate::limits::{
    MAX_ENTITIES_PER_BATCH, MAX_EXPERIMENT_TAG_VALUE_LENGTH, MAX_KEY_LENGTH, MAX_METRICS_PER_BATCH,
    MAX_PARAMS_TAGS_PER_BATCH, MAX_PARAM_VALUE_LENGTH, MAX_TAG_VALUE_LENGTH,
    SEARCH_DEFAULT_RESULTS, SEARCH_MAX_RESULTS,
};

const RUN_NAME_TAG: &str = "mlflow.runName";
const USER_TAG: &str = "mlflow.user";
const PARENT_TAG: &str = crate::ingest::mlflow::PARENT_TAG;
const NOTE_TAG: &str = crate::ingest::mlflow::NOTE_TAG;
const DEFAULT_EXPERIMENT: &str = "Default";

type St = State<Arc<AppState>>;
type Answer = Result<Json<Value>, ApiError>;
type Typed = Result<Response, ApiError>;

/// The request's fields: the query string for GET, the JSON body otherwise (empty = `{}`).
pub struct Input(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for Input {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if req.method() == Method::GET || req.method() == Method::HEAD {
            let pairs: Vec<(String, String)> = axum::extract::Query::try_from_uri(req.uri())
                .map(|axum::extract::Query(p)| p)
                .map_err(|e| invalid(format!("bad query string: {e}")))?;
            let mut map = Map::new();
            for (k, v) in pairs {
                match map.get_mut(&k) {
                    Some(Value::Array(items)) => items.push(Value::String(v)),
                    Some(first) => {
                        let first = first.take();
                        map.insert(k, Value::Array(vec![first, Value::String(v)]));
                    }
                    None => {
                        map.insert(k, Value::String(v));
                    }
                }
            }
            return Ok(Input(map));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Input(Map::new()));
        }
        let mut value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| invalid(format!("malformed JSON request body: {e}")))?;
        // MLflow accepts a body that is a JSON string holding the JSON object.
        if let Value::String(inner) = &value {
            value = serde_json::from_str(inner)
                .map_err(|e| invalid(format!("malformed JSON request body: {e}")))?;
        }
        match value {
            Value::Object(map) => Ok(Input(map)),
            _ => Err(invalid("the request body must be a JSON object")),
        }
    }
}

impl Input {
    fn text(&self, key: &str) -> Option<String> {
        text_of(self.0.get(key)?)
    }

    /// A required string: missing or empty is a 400, as in MLflow's `_assert_required`.
    fn required(&self, key: &str) -> Result<String, ApiError> {
        self.text(key)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid(format!("Missing value for required parameter '{key}'.")))
    }

    fn run_id(&self) -> Result<String, ApiError> {
        match self.text("run_id").filter(|s| !s.is_empty()) {
            Some(id) => Ok(id),
            None => self
                .required("run_uuid")
                .map_err(|_| invalid("Missing value for required parameter 'run_id'.")),
        }
    }

    fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.0.get(key).map_or(Ok(None), |v| int_of(v, key))
    }

    /// A repeated field (a JSON array, or one value), borrowed: batches hold 1,000 items.
    fn list(&self, key: &str) -> Cow<'_, [Value]> {
        match self.0.get(key) {
            None | Some(Value::Null) => Cow::Borrowed(&[]),
            Some(Value::Array(items)) => Cow::Borrowed(items),
            Some(other) => Cow::Owned(vec![other.clone()]),
        }
    }
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => items.last().and_then(text_of),
        _ => None,
    }
}

fn int_of(v: &Value, key: &str) -> Result<Option<i64>, ApiError> {
    let bad = || {
        invalid(format!(
            "Invalid value for parameter '{key}': expected an integer"
        ))
    };
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .map(Some)
            .ok_or_else(bad),
        Value::String(s) => s.trim().parse::<i64>().map(Some).map_err(|_| bad()),
        Value::Array(items) => items.last().map_or(Ok(None), |x| int_of(x, key)),
        _ => Err(bad()),
    }
}

fn float_of(v: &Value, key: &str) -> Result<f64, ApiError> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| invalid(format!("Invalid value for '{key}'"))),
        Value::String(s) => json_float::parse_special(s).ok_or_else(|| {
            invalid(format!(
                "Invalid value \"{s}\" for parameter '{key}': not a number"
            ))
        }),
        _ => Err(invalid(format!(
            "Invalid value {v} for parameter '{key}': must be a number"
        ))),
    }
}

/// MLflow's key rule: `^[/\w.\- :]*$`, normalised (no empty, `.` or `..` segments, no leading
/// or trailing `/`), at most 250 characters.
pub fn validate_key(key: &str, what: &str) -> Result<(), ApiError> {
    let chars_ok = key
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '/' | '.' | '-' | ' ' | ':'));
    let segments_ok = !key.is_empty()
        && key
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..");
    if !chars_ok || !segments_ok {
        return Err(invalid(format!(
            "Invalid {what} name: '{key}'. Names may only contain alphanumerics, underscores (_), dashes (-), \
             periods (.), spaces ( ), colon(:) and slashes (/), and may not be empty or contain '.', '..' or '//' parts."
        )));
    }
    if key.chars().count() > MAX_KEY_LENGTH {
        return Err(invalid(format!(
            "{what} name '{key}' had length {}, which exceeded length limit of {MAX_KEY_LENGTH}",
            key.chars().count()
        )));
    }
    Ok(())
}

/// Cuts an over-long value, as MLflow does while `MLFLOW_TRUNCATE_LONG_VALUES` is on.
fn truncate(value: String, max: usize) -> String {
    match value.char_indices().nth(max) {
        Some((cut, _)) => value[..cut].to_string(),
        None => value,
    }
}

pub fn mlflow_status(s: RunStatus) -> &'static str {
    match s {
        RunStatus::Queued => "SCHEDULED",
        RunStatus::Running => "RUNNING",
        RunStatus::Finished => "FINISHED",
        RunStatus::Failed | RunStatus::Lost => "FAILED",
        RunStatus::Killed => "KILLED",
    }
}

fn parse_status(s: &str) -> Result<RunStatus, ApiError> {
    match s {
        "RUNNING" | "SCHEDULED" | "FINISHED" | "FAILED" | "KILLED" => {
            s.parse().map_err(|e: String| invalid(e))
        }
        other => Err(invalid(format!("Invalid run status '{other}'"))),
    }
}

fn experiment_json(e: &Experiment) -> Value {
    let mut tags: Vec<Value> = e
        .tags
        .iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect();
    if let Some(d) = e
        .description
        .as_ref()
        .filter(|_| !e.tags.contains_key(NOTE_TAG))
    {
        tags.push(json!({"key": NOTE_TAG, "value": d}));
    }
    json!({
        "experiment_id": e.id.to_string(),
        "name": e.name,
        "artifact_location": format!("mlflow-artifacts:/{}", e.id),
        "lifecycle_stage": if e.deleted { "deleted" } else { "active" },
        "last_update_time": e.updated_ms,
        "creation_time": e.created_ms,
        "tags": tags,
    })
}

/// MLflow's `RunInfo`, serialised straight from the run (no intermediate JSON tree: searches
/// return thousands of these).
#[derive(Serialize)]
pub struct RunInfoOut<'a> {
    run_id: &'a str,
    run_uuid: &'a str,
    run_name: &'a str,
    experiment_id: String,
    user_id: &'a str,
    status: &'static str,
    start_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    end_time: Option<i64>,
    artifact_uri: String,
    lifecycle_stage: &'static str,
}

#[derive(Serialize)]
pub struct MetricOut<'a> {
    key: &'a str,
    #[serde(with = "json_float")]
    value: f64,
    timestamp: i64,
    step: i64,
}

#[derive(Serialize)]
pub struct KeyValueOut<'a> {
    key: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
pub struct RunDataOut<'a> {
    metrics: Vec<MetricOut<'a>>,
    params: Vec<KeyValueOut<'a>>,
    tags: Vec<KeyValueOut<'a>>,
}

/// MLflow's empty `inputs` / `outputs` (kiroku's dataset inputs are not MLflow datasets).
#[derive(Serialize)]
pub struct EmptyOut {}

/// MLflow's `Run`.
#[derive(Serialize)]
pub struct RunOut<'a> {
    info: RunInfoOut<'a>,
    data: RunDataOut<'a>,
    inputs: EmptyOut,
    outputs: EmptyOut,
}

fn run_info(r: &Run) -> RunInfoOut<'_> {
    RunInfoOut {
        run_id: &r.id,
        run_uuid: &r.id,
        run_name: &r.name,
        experiment_id: r.experiment_id.to_string(),
        user_id: &r.user,
        status: mlflow_status(r.status),
        start_time: r.start_time,
        end_time: r.end_time,
        artifact_uri: format!("mlflow-artifacts:/{}/{}/artifacts", r.experiment_id, r.id),
        lifecycle_stage: if r.deleted { "deleted" } else { "active" },
    }
}

/// A run as MLflow shows it: summaries as the latest values, all params and tags, plus the
/// name and parent tags kiroku-made runs lack (MLflow's server always has `mlflow.runName`; the
/// user is `info.user_id`, as with MLflow's server).
pub fn run_out(r: &Run) -> RunOut<'_> {
    let metrics = r
        .metrics
        .iter()
        .map(|(k, m)| MetricOut {
            key: k,
            value: m.last,
            timestamp: m.timestamp,
            step: m.step,
        })
        .collect();
    let params = r
        .params
        .iter()
        .map(|(k, v)| KeyValueOut { key: k, value: v })
        .collect();
    let mut tags: Vec<KeyValueOut> = r
        .tags
        .iter()
        .map(|(k, v)| KeyValueOut { key: k, value: v })
        .collect();
    if !r.tags.contains_key(RUN_NAME_TAG) {
        tags.push(KeyValueOut {
            key: RUN_NAME_TAG,
            value: &r.name,
        });
    }
    if let (Some(p), false) = (&r.parent_id, r.tags.contains_key(PARENT_TAG)) {
        tags.push(KeyValueOut {
            key: PARENT_TAG,
            value: p,
        });
    }
    RunOut {
        info: run_info(r),
        data: RunDataOut {
            metrics,
            params,
            tags,
        },
        inputs: EmptyOut {},
        outputs: EmptyOut {},
    }
}

#[derive(Serialize)]
struct OneRun<'a> {
    run: RunOut<'a>,
}

#[derive(Serialize)]
struct RunsPage<'a> {
    runs: Vec<RunOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

#[derive(Serialize)]
struct HistoryPage<'a> {
    metrics: Vec<MetricOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

/// A typed answer, serialised straight to JSON bytes.
fn typed<T: Serialize>(v: &T) -> Typed {
    let bytes = serde_json::to_vec(v)
        .map_err(|e| ApiError::new("INTERNAL_ERROR", format!("encoding the answer: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], bytes).into_response())
}

/// MLflow's message for unknown runs.
fn run_not_found(id: &str) -> impl Fn(ApiError) -> ApiError + '_ {
    move |e| {
        if e.status() == 404 {
            not_found(format!("Run with id={id} not found"))
        } else {
            e
        }
    }
}

/// MLflow's `_check_run_is_active`: a deleted run takes no writes. The store refuses them
/// too (with the same message); this covers the requests that write nothing.
fn ensure_active(run: &Run) -> Result<(), ApiError> {
    if run.deleted {
        return Err(invalid(format!(
            "The run {} must be in the 'active' state. Current state is deleted.",
            run.id
        )));
    }
    Ok(())
}

async fn get_run(st: &Arc<AppState>, id: &str) -> Result<Run, ApiError> {
    let owned = id.to_string();
    st.call(move |s| s.run(&owned).map(|d| d.run))
        .await
        .map_err(run_not_found(id))
}

/// What a request does with the `Default` experiment (`"0"`) when it does not exist yet.
#[derive(Clone, Copy, PartialEq)]
enum DefaultUse {
    /// A write: make it, as MLflow's server always has it.
    Create,
    /// A read: show it as it will be made, and write nothing (reads never write).
    Show,
}

/// The `Default` experiment as a read shows it before anything made it: empty, id 0.
fn unmade_default() -> Experiment {
    Experiment {
        id: 0,
        name: DEFAULT_EXPERIMENT.to_string(),
        description: None,
        deleted: false,
        created_ms: 0,
        updated_ms: 0,
        run_count: 0,
        tags: Default::default(),
    }
}

/// The experiment an MLflow id names, among `all`; `"0"` is the `Default` experiment.
fn find_experiment(all: &[Experiment], id: &str) -> Result<Option<Experiment>, ApiError> {
    let n: i64 = id
        .trim()
        .parse()
        .map_err(|_| invalid(format!("Invalid experiment id '{id}': must be an integer")))?;
    Ok(all
        .iter()
        .find(|e| {
            if n == 0 {
                e.name == DEFAULT_EXPERIMENT
            } else {
                e.id == n
            }
        })
        .cloned())
}

/// The experiment an MLflow id names; `"0"` is the `Default` experiment, made on first write
/// (`DefaultUse::Create`) and only shown by reads.
async fn experiment_by_id(
    st: &Arc<AppState>,
    id: &str,
    user: &str,
    default: DefaultUse,
) -> Result<Experiment, ApiError> {
    let all = st.call(|s| s.experiments(true)).await?;
    if let Some(e) = find_experiment(&all, id)? {
        return Ok(e);
    }
    if id.trim().parse::<i64>() != Ok(0) {
        return Err(not_found(format!("No Experiment with id={id} exists")));
    }
    match default {
        DefaultUse::Show => Ok(unmade_default()),
        DefaultUse::Create => {
            let user = user.to_string();
            st.write(move |s| match s.experiment(DEFAULT_EXPERIMENT) {
                Err(KirokuError::NotFound(_)) => s.create_experiment(DEFAULT_EXPERIMENT, &user),
                other => other,
            })
            .await
        }
    }
}

/// The names of the experiments a search names by MLflow id: repeats count once, at most
/// `MAX_EXPERIMENTS_PER_SEARCH`, all looked up in one listing (an unmade `Default` is kept
/// by name: it matches no run).
async fn experiment_names(st: &Arc<AppState>, ids: Vec<String>) -> Result<Vec<String>, ApiError> {
    let ids = crate::limits::experiment_refs(ids)?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let all = st.call(|s| s.experiments(true)).await?;
    ids.iter()
        .map(|id| match find_experiment(&all, id)? {
            Some(e) => Ok(e.name),
            None if id.trim().parse::<i64>() == Ok(0) => Ok(DEFAULT_EXPERIMENT.to_string()),
            None => Err(not_found(format!("No Experiment with id={id} exists"))),
        })
        .collect()
}

fn ok() -> Answer {
    Ok(Json(json!({})))
}

pub fn routes() -> Router<Arc<AppState>> {
    let api = Router::new()
        .route("/experiments/create", post(create_experiment))
        .route("/experiments/get", get(get_experiment))
        .route("/experiments/get-by-name", get(get_experiment_by_name))
        .route(
            "/experiments/search",
            get(search_experiments).post(search_experiments),
        )
        .route("/experiments/update", post(update_experiment))
        .route("/experiments/delete", post(delete_experiment))
        .route("/experiments/restore", post(restore_experiment))
        .route("/experiments/set-experiment-tag", post(set_experiment_tag))
        .route(
            "/experiments/delete-experiment-tag",
            post(delete_experiment_tag),
        )
        .route("/runs/create", post(create_run))
        .route("/runs/get", get(get_run_route))
        .route("/runs/update", post(update_run))
        .route("/runs/delete", post(delete_run))
        .route("/runs/restore", post(restore_run))
        .route("/runs/log-metric", post(log_metric))
        .route("/runs/log-parameter", post(log_param))
        .route("/runs/set-tag", post(set_tag))
        .route("/runs/delete-tag", post(delete_tag))
        .route("/runs/log-batch", post(log_batch))
        .route("/runs/search", post(search_runs))
        .route("/metrics/get-history", get(get_history))
        .route("/artifacts/list", get(list_artifacts))
        .route("/logged-models/search", post(search_logged_models))
        .method_not_allowed_fallback(super::errors::method_not_allowed);
    Router::new()
        .nest("/api/2.0/mlflow", api.clone())
        .nest("/ajax-api/2.0/mlflow", api)
}

async fn create_experiment(State(st): St, Extension(c): Extension<Caller>, input: Input) -> Answer {
    let name = input.required("name")?;
    crate::limits::experiment_name(&name)?;
    let tags = input.list("tags");
    crate::limits::list_len("tags", tags.len(), crate::limits::MAX_PAIRS_PER_REQUEST)?;
    let tags = experiment_tags_of(&tags)?;
    let user = c.user_or("");
    let created = st
        .write(move |s| {
            let e = s.create_experiment(&name, &user)?;
            if !tags.is_empty() {
                s.set_experiment_tags(&e.id.to_string(), &tags, &user)?;
            }
            Ok(e)
        })
        .await
        .map_err(|e| match e.kind.as_deref() {
            Some("conflict") => ApiError::new("RESOURCE_ALREADY_EXISTS", e.message),
            _ => e,
        })?;
    Ok(Json(json!({"experiment_id": created.id.to_string()})))
}

/// MLflow's `_validate_experiment_tag`: a run-tag key rule, values up to 20,000 characters
/// (refused past that, not truncated).
fn experiment_tags_of(items: &[Value]) -> Result<Vec<(String, String)>, ApiError> {
    items
        .iter()
        .map(|item| {
            let key = item.get("key").and_then(text_of).unwrap_or_default();
            validate_key(&key, "tag")?;
            let value = item.get("value").and_then(text_of).unwrap_or_default();
            if value.chars().count() > MAX_EXPERIMENT_TAG_VALUE_LENGTH {
                return Err(invalid(format!(
                    "'value' exceeds the maximum length of {MAX_EXPERIMENT_TAG_VALUE_LENGTH} characters"
                )));
            }
            Ok((key, value))
        })
        .collect()
}

async fn set_experiment_tag(
    State(st): St,
    Extension(c): Extension<Caller>,
    input: Input,
) -> Answer {
    let id = input.required("experiment_id")?;
    let tags = experiment_tags_of(&[Value::Object(input.0.clone())])?;
    let user = c.user_or("");
    let e = experiment_by_id(&st, &id, &user, DefaultUse::Create).await?;
    st.write(move |s| s.set_experiment_tags(&e.id.to_string(), &tags, &user))
        .await?;
    ok()
}

async fn delete_experiment_tag(
    State(st): St,
    Extension(c): Extension<Caller>,
    input: Input,
) -> Answer {
    let id = input.required("experiment_id")?;
    let key = input.required("key")?;
    let user = c.user_or("");
    let e = experiment_by_id(&st, &id, &user, DefaultUse::Show).await?;
    st.write(move |s| s.remove_experiment_tags(&e.id.to_string(), &[key], &user))
        .await?;
    ok()
}

async fn get_experiment(State(st): St, Extension(c): Extension<Caller>, input: Input) -> Answer {
    let id = input.required("experiment_id")?;
    let e = experiment_by_id(&st, &id, &c.user_or(""), DefaultUse::Show).await?;
    Ok(Json(json!({"experiment": experiment_json(&e)})))
}

async fn get_experiment_by_name(State(st): St, input: Input) -> Answer {
    let name = input.required("experiment_name")?;
    let all = st.call(|s| s.experiments(true)).await?;
    let mut matching: Vec<&Experiment> = all.iter().filter(|e| e.name == name).collect();
    matching.sort_by_key(|e| e.deleted);
    match matching.first() {
        Some(e) => Ok(Json(json!({"experiment": experiment_json(e)}))),
        None => Err(not_found(format!(
            "Could not find experiment with name '{name}'"
        ))),
    }
}

fn view_type(input: &Input, key: &str) -> Result<(bool, bool), ApiError> {
    match input.text(key).as_deref() {
        None | Some("") | Some("ACTIVE_ONLY") | Some("1") => Ok((false, false)),
        Some("DELETED_ONLY") | Some("2") => Ok((true, true)),
        Some("ALL") | Some("3") => Ok((true, false)),
        Some(other) => Err(invalid(format!("Invalid view type '{other}'"))),
    }
}

fn max_results(input: &Input) -> Result<u64, ApiError> {
    let n = input
        .int("max_results")?
        .unwrap_or(SEARCH_DEFAULT_RESULTS as i64);
    Ok(crate::limits::page_size(
        "max_results",
        n,
        SEARCH_MAX_RESULTS,
    )?)
}

/// The `order_by` list of a search: at most as many keys as an order holds.
fn order_by(input: &Input) -> Result<Vec<String>, ApiError> {
    let orders: Vec<String> = input
        .list("order_by")
        .iter()
        .filter_map(text_of)
        .filter(|o| !o.trim().is_empty())
        .collect();
    crate::limits::list_len(
        "order_by clauses",
        orders.len(),
        crate::query::MAX_ORDER_KEYS,
    )?;
    Ok(orders)
}

fn encode_token(offset: u64) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{{\"offset\": {offset}}}"))
}

fn decode_token(input: &Input) -> Result<u64, ApiError> {
    let Some(token) = input.text("page_token").filter(|t| !t.is_empty()) else {
        return Ok(0);
    };
    let bad = || invalid(format!("Invalid page token '{token}'"));
    let raw = base64::engine::general_purpose::STANDARD
        .decode(token.as_bytes())
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    v.get("offset")
        .and_then(Value::as_u64)
        .filter(|o| *o <= i64::MAX as u64)
        .ok_or_else(bad)
}

/// SQL `LIKE` (`%`, `_`) as a regex, case-sensitive unless `ci`; built once per clause, not
/// once per experiment.
fn like_regex(pattern: &str, ci: bool) -> Result<regex::Regex, ApiError> {
    let mut re = String::from(if ci { "(?si)^" } else { "(?s)^" });
    for c in pattern.chars() {
        match c {
            '%' => re.push_str(".*"),
            '_' => re.push('.'),
            other => re.push_str(&regex::escape(&other.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).map_err(|_| invalid("Invalid LIKE pattern: too large or malformed"))
}

/// One clause of an `experiments/search` filter: `name|experiment_id|creation_time|
/// last_update_time op value` or `tags.<key> op 'value'`, joined by AND.
struct ExperimentClause {
    /// The tag key for a `tags.<key>` clause (the field is then `tag`).
    tag: Option<String>,
    field: String,
    op: String,
    value: String,
    /// The pattern of a `LIKE`/`ILIKE` clause.
    like: Option<regex::Regex>,
}

fn parse_experiment_filter(filter: &str) -> Result<Vec<ExperimentClause>, ApiError> {
    let internal = |e: regex::Error| ApiError::new("INTERNAL_ERROR", e.to_string());
    let clause_re = regex::Regex::new(
        r#"^\s*(?:[Tt][Aa][Gg][Ss]?\.(?:`([^`]+)`|"([^"]+)"|([\w.]+))|(?:attributes\.)?([A-Za-z_]+))\s*(=|!=|>=|<=|>|<|[Ii]?[Ll][Ii][Kk][Ee])\s*(?:'([^']*)'|"([^"]*)"|(-?[0-9]+))\s*$"#,
    )
    .map_err(internal)?;
    let split_re = regex::Regex::new(r"\s+[Aa][Nn][Dd]\s+").map_err(internal)?;
    let clauses: Vec<&str> = split_re
        .split(filter)
        .filter(|c| !c.trim().is_empty())
        .collect();
    crate::limits::list_len(
        "experiment filter clauses",
        clauses.len(),
        crate::query::MAX_CONDITIONS,
    )?;
    clauses
        .into_iter()
        .map(|clause| {
            let caps = clause_re
                .captures(clause)
                .ok_or_else(|| invalid(format!("Invalid experiment filter clause '{clause}'")))?;
            let value = caps
                .get(6)
                .or_else(|| caps.get(7))
                .or_else(|| caps.get(8))
                .map_or("", |m| m.as_str());
            let tag = caps
                .get(1)
                .or_else(|| caps.get(2))
                .or_else(|| caps.get(3))
                .map(|m| m.as_str().to_string());
            let field = match (&tag, caps.get(4)) {
                (Some(_), _) => "tag".to_string(),
                (None, Some(m)) => m.as_str().to_ascii_lowercase(),
                (None, None) => String::new(),
            };
            let op = caps[5].to_ascii_uppercase();
            let like = match op.as_str() {
                "LIKE" => Some(like_regex(value, false)?),
                "ILIKE" => Some(like_regex(value, true)?),
                _ => None,
            };
            Ok(ExperimentClause {
                tag,
                field,
                op,
                value: value.to_string(),
                like,
            })
        })
        .collect()
}

fn experiment_matches(e: &Experiment, clauses: &[ExperimentClause]) -> Result<bool, ApiError> {
    for ExperimentClause {
        tag,
        field,
        op,
        value,
        like,
    } in clauses
    {
        let like_matches = |text: &str| like.as_ref().is_some_and(|r| r.is_match(text));
        let ok = match field.as_str() {
            // As MLflow's SQL join: an experiment without the tag matches no tag clause.
            "tag" => {
                if !matches!(op.as_str(), "=" | "!=" | "LIKE" | "ILIKE") {
                    return Err(invalid(format!("Invalid operator '{op}' for a tag")));
                }
                let have = tag.as_ref().and_then(|k| e.tags.get(k));
                match (op.as_str(), have) {
                    (_, None) => false,
                    ("=", Some(h)) => h == value,
                    ("!=", Some(h)) => h != value,
                    ("LIKE" | "ILIKE", Some(h)) => like_matches(h),
                    _ => false,
                }
            }
            "name" => match op.as_str() {
                "=" => &e.name == value,
                "!=" => &e.name != value,
                "LIKE" | "ILIKE" => like_matches(&e.name),
                _ => return Err(invalid(format!("Invalid operator '{op}' for name"))),
            },
            "experiment_id" | "creation_time" | "last_update_time" => {
                let have = match field.as_str() {
                    "experiment_id" => e.id,
                    "creation_time" => e.created_ms,
                    _ => e.updated_ms,
                };
                let want: i64 = value
                    .parse()
                    .map_err(|_| invalid(format!("Invalid value '{value}' for {field}")))?;
                match op.as_str() {
                    "=" => have == want,
                    "!=" => have != want,
                    ">" => have > want,
                    ">=" => have >= want,
                    "<" => have < want,
                    "<=" => have <= want,
                    _ => return Err(invalid(format!("Invalid operator '{op}' for {field}"))),
                }
            }
            other => {
                return Err(invalid(format!(
                    "Invalid attribute key '{other}' in experiment filter"
                )))
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

async fn search_experiments(State(st): St, input: Input) -> Answer {
    let (include_deleted, only_deleted) = view_type(&input, "view_type")?;
    let limit = max_results(&input)? as usize;
    let offset = decode_token(&input)? as usize;
    let clauses = parse_experiment_filter(&input.text("filter").unwrap_or_default())?;
    let mut all: Vec<Experiment> = st
        .call(move |s| s.experiments(include_deleted))
        .await?
        .into_iter()
        .filter(|e| !only_deleted || e.deleted)
        .collect();
    let mut keep = Vec::with_capacity(all.len());
    for e in all.drain(..) {
        if experiment_matches(&e, &clauses)? {
            keep.push(e);
        }
    }
    let orders = order_by(&input)?;
    keep.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then(a.id.cmp(&b.id)));
    for order in orders.iter().rev() {
        let mut words = order.split_whitespace();
        let field = words
            .next()
            .unwrap_or("")
            .trim_start_matches("attributes.")
            .to_ascii_lowercase();
        let desc = words.next().is_some_and(|w| w.eq_ignore_ascii_case("desc"));
        let key = |e: &Experiment| -> (i64, String) {
            match field.as_str() {
                "name" => (0, e.name.clone()),
                "creation_time" => (e.created_ms, String::new()),
                "last_update_time" => (e.updated_ms, String::new()),
                _ => (e.id, String::new()),
            }
        };
        if !matches!(
            field.as_str(),
            "name" | "creation_time" | "last_update_time" | "experiment_id"
        ) {
            return Err(invalid(format!("Invalid order_by clause '{order}'")));
        }
        keep.sort_by(|a, b| {
            let o = key(a).cmp(&key(b));
            if desc {
                o.reverse()
            } else {
                o
            }
        });
    }
    let page: Vec<Value> = keep
        .iter()
        .skip(offset)
        .take(limit)
        .map(experiment_json)
        .collect();
    let mut out = json!({"experiments": page});
    let next = offset.saturating_add(limit);
    if next < keep.len() {
        out["next_page_token"] = json!(encode_token(next as u64));
    }
    Ok(Json(out))
}

async fn update_experiment(State(st): St, Extension(c): Extension<Caller>, input: Input) -> Answer {
    let id = input.required("experiment_id")?;
    let new_name = input.required("new_name")?;
    crate::limits::experiment_name(&new_name)?;
    let user = c.user_or("");
    let e = experiment_by_id(&st, &id, &user, DefaultUse::Create).await?;
    st.write(move |s| s.rename_experiment(&e.name, &new_name, &user))
        .await
        .map_err(|e| match e.kind.as_deref() {
            Some("conflict") => ApiError::new("RESOURCE_ALREADY_EXISTS", e.message),
            _ => e,
        })?;
    ok()
}

async fn delete_experiment(State(st): St, Extension(c): Extension<Caller>, input: Input) -> Answer {
    let id = input.required("experiment_id")?;
    let user = c.user_or("");
    let e = experiment_by_id(&st, &id, &user, DefaultUse::Show).await?;
    if id.trim() == "0" || e.name == DEFAULT_EXPERIMENT {
        return Err(invalid(
            "Cannot delete the default experiment '0'. This is an internally reserved experiment.",
        ));
    }
    st.write(move |s| s.delete_experiment(&e.name, &user))
        .await?;
    ok()
}

async fn restore_experiment(
    State(st): St,
    Extension(c): Extension<Caller>,
    input: Input,
) -> Answer {
    let id = input.required("experiment_id")?;
    let user = c.user_or("");
    let e = experiment_by_id(&st, &id, &user, DefaultUse::Show).await?;
    st.write(move |s| s.restore_experiment(&e.name, &user))
        .await?;
    ok()
}

fn pairs_of(
    items: &[Value],
    what: &str,
    max_value: usize,
) -> Result<Vec<(String, String)>, ApiError> {
    items
        .iter()
        .map(|item| {
            let key = item.get("key").and_then(text_of).unwrap_or_default();
            validate_key(&key, what)?;
            let value = item.get("value").and_then(text_of).unwrap_or_default();
            Ok((key, truncate(value, max_value)))
        })
        .collect()
}

async fn create_run(State(st): St, Extension(c): Extension<Caller>, input: Input) -> Typed {
    let tags = input.list("tags");
    crate::limits::list_len("tags", tags.len(), crate::limits::MAX_PAIRS_PER_REQUEST)?;
    let tags = pairs_of(&tags, "tag", MAX_TAG_VALUE_LENGTH)?;
    let tag = |k: &str| {
        tags.iter()
            .rev()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let field_name = input.text("run_name").filter(|n| !n.is_empty());
    let name = match (field_name, tag(RUN_NAME_TAG)) {
        (Some(a), Some(b)) if a != b => {
            return Err(invalid(format!(
                "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='{a}', mlflow.runName='{b}')."
            )))
        }
        (Some(a), _) => Some(a),
        (None, b) => b,
    };
    let requested_user = input
        .text("user_id")
        .filter(|u| !u.is_empty())
        .or_else(|| tag(USER_TAG))
        .unwrap_or_default();
    let user = c.user_or(&requested_user);
    let experiment_id = input
        .text("experiment_id")
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| "0".into());
    let experiment = experiment_by_id(&st, &experiment_id, &user, DefaultUse::Create).await?;
    if experiment.deleted {
        return Err(invalid(format!(
            "The experiment {experiment_id} must be in the 'active' state. Current state is deleted."
        )));
    }
    let parent_id = match tag(PARENT_TAG) {
        Some(p) if crate::ids::is_full_run_id(&p) => {
            let q = p.clone();
            st.call(move |s| s.run(&q).map(|_| ()))
                .await
                .ok()
                .map(|_| p)
        }
        _ => None,
    };
    let note = tag(NOTE_TAG).filter(|n| !n.trim().is_empty());
    let id = crate::ids::new_run_id();
    let name = name.unwrap_or_else(|| crate::ids::friendly_name(&id));
    let mut all_tags = tags.clone();
    if tag(RUN_NAME_TAG).is_none() {
        all_tags.push((RUN_NAME_TAG.to_string(), name.clone()));
    }
    let new = NewRun {
        id: Some(id.clone()),
        experiment: experiment.name.clone(),
        name: Some(name),
        user: user.clone(),
        host: None,
        status: Some(RunStatus::Running),
        start_time: input.int("start_time")?,
        end_time: None,
        parent_id,
        tags: all_tags,
        params: Vec::new(),
        deleted: false,
    };
    let run = st
        .write(move |s| {
            let run = s.create_run(&new)?;
            if let Some(body) = note {
                let n = NewNote {
                    author: user,
                    body,
                    reply_to: None,
                    anchor: None,
                    created_ms: Some(run.start_time),
                };
                s.add_note(&run.id, &n)?;
            }
            Ok(run)
        })
        .await?;
    typed(&OneRun { run: run_out(&run) })
}

async fn get_run_route(State(st): St, input: Input) -> Typed {
    let id = input.run_id()?;
    let run = get_run(&st, &id).await?;
    typed(&OneRun { run: run_out(&run) })
}

async fn update_run(State(st): St, Extension(c): Extension<Caller>, input: Input) -> Answer {
    let id = input.run_id()?;
    let current = get_run(&st, &id).await?;
    ensure_active(&current)?;
    let status = match input.text("status").filter(|s| !s.is_empty()) {
        Some(s) => Some(parse_status(&s)?),
        None => None,
    };
    let end_time = input.int("end_time")?;
    let run_name = input.text("run_name").filter(|n| !n.is_empty());
    let user = c.user_or("");
    let run = st
        .write(move |s| {
            if let Some(name) = &run_name {
                s.rename_run(&id, name, &user)?;
                s.set_tags(&id, &[(RUN_NAME_TAG.to_string(), name.clone())], &user)?;
            }
            if status.is_some() || end_time.is_some() {
                let status = status.unwrap_or(current.status);
                s.set_status_as(&id, status, None, end_time, Some(&user))?;
            }
            s.run(&id).map(|d| d.run)
        })
        .await?;
    Ok(Json(json!({"run_info": run_info(&run)})))
}

async fn list_artifacts(State(st): St, input: Input) -> Answer {
    let id = input.run_id()?;
    let run = get_run(&st, &id).await?;
    let root_uri = run_info(&run).artifact_uri;
    let path = input.text("path");
    super::artifacts::list_run_artifacts(&st, &run.id, root_uri, path.as_deref()).await
}

async fn delete_run(State(st): St, Extension(c): Extension<Caller>, input: Input) -> Answer {
    set_deleted(st, c, input, true).await
}

async fn restore_run(State(st): St, Extension(c): Extension<Caller>, input: Input) -> Answer {
    set_deleted(st, c, input, false).await
}

async fn set_deleted(st: Arc<AppState>, c: Caller, input: Input, deleted: bool) -> Answer {
    let id = input.run_id()?;
    let user = c.user_or("");
    let q = id.clone();
    st.write(move |s| s.set_deleted(&q, deleted, &user))
        .await
        .map_err(run_not_found(&id))?;
    ok()
}

fn metric_of(item: &Value) -> Result<KeyedPoint, ApiError> {
    let key = item.get("key").and_then(text_of).unwrap_or_default();
    validate_key(&key, "metric")?;
    let value = item
        .get("value")
        .ok_or_else(|| invalid("Missing value for required parameter 'value'."))
        .and_then(|v| float_of(v, "value"))?;
    let timestamp = item
        .get("timestamp")
        .map_or(Ok(None), |v| int_of(v, "timestamp"))?
        .ok_or_else(|| invalid("Missing value for required parameter 'timestamp'."))?;
    if timestamp < 0 {
        return Err(invalid(format!(
            "Invalid timestamp {timestamp}: must be non-negative"
        )));
    }
    let step = item
        .get("step")
        .map_or(Ok(None), |v| int_of(v, "step"))?
        .unwrap_or(0);
    Ok(KeyedPoint {
        key,
        step,
        timestamp,
        value,
    })
}

async fn log_metric(State(st): St, input: Input) -> Answer {
    let id = input.run_id()?;
    let point = metric_of(&Value::Object(input.0.clone()))?;
    let q = id.clone();
    st.write(move |s| s.log_metrics(&q, &[point]))
        .await
        .map_err(run_not_found(&id))?;
    ok()
}

async fn log_param(State(st): St, input: Input) -> Answer {
    let id = input.run_id()?;
    let params = pairs_of(
        &[Value::Object(input.0.clone())],
        "parameter",
        MAX_PARAM_VALUE_LENGTH,
    )?;
    let q = id.clone();
    st.write(move |s| s.log_params(&q, &params))
        .await
        .map_err(run_not_found(&id))?;
    ok()
}

/// Tags, plus what the special MLflow tags mean for the run (name, note).
fn apply_tags(
    s: &dyn crate::store::Store,
    id: &str,
    tags: &[(String, String)],
    user: &str,
) -> crate::error::Result<()> {
    s.set_tags(id, tags, user)?;
    for (k, v) in tags {
        if k == RUN_NAME_TAG && !v.trim().is_empty() {
            s.rename_run(id, v, user)?;
        } else if k == NOTE_TAG && !v.trim().is_empty() {
            let n = NewNote {
                author: user.to_string(),
                body: v.clone(),
                reply_to: None,
                anchor: None,
                created_ms: None,
            };
            s.add_note(id, &n)?;
        }
    }
    Ok(())
}

async fn set_tag(State(st): St, Extension(c): Extension<Caller>, input: Input) -> Answer {
    let id = input.run_id()?;
    let tags = pairs_of(
        &[Value::Object(input.0.clone())],
        "tag",
        MAX_TAG_VALUE_LENGTH,
    )?;
    let user = c.user_or("");
    let q = id.clone();
    st.write(move |s| apply_tags(s, &q, &tags, &user))
        .await
        .map_err(run_not_found(&id))?;
    ok()
}

async fn delete_tag(State(st): St, Extension(c): Extension<Caller>, input: Input) -> Answer {
    let id = input.run_id()?;
    let key = input.required("key")?;
    let run = get_run(&st, &id).await?;
    ensure_active(&run)?;
    if !run.tags.contains_key(&key) {
        return Err(not_found(format!(
            "No tag with name: {key} in run with id {id}"
        )));
    }
    let user = c.user_or("");
    st.write(move |s| s.remove_tags(&id, &[key], &user)).await?;
    ok()
}

/// MLflow's `_validate_batch_limit`: at most 1,000 metrics, 100 params, 100 tags and 1,000
/// entities in all, checked before any item is read.
pub fn check_batch_sizes(metrics: usize, params: usize, tags: usize) -> Result<(), ApiError> {
    if metrics > MAX_METRICS_PER_BATCH {
        return Err(invalid(format!(
            "A batch logging request can contain at most {MAX_METRICS_PER_BATCH} metrics. Got {metrics} metrics."
        )));
    }
    if params > MAX_PARAMS_TAGS_PER_BATCH || tags > MAX_PARAMS_TAGS_PER_BATCH {
        return Err(invalid(format!(
            "A batch logging request can contain at most {MAX_PARAMS_TAGS_PER_BATCH} params and {MAX_PARAMS_TAGS_PER_BATCH} tags. Got {params} params and {tags} tags."
        )));
    }
    let total = metrics + params + tags;
    if total > MAX_ENTITIES_PER_BATCH {
        return Err(invalid(format!(
            "A batch logging request can contain at most {MAX_ENTITIES_PER_BATCH} metrics, params and tags in total. Got {total}."
        )));
    }
    Ok(())
}

async fn log_batch(State(st): St, Extension(c): Extension<Caller>, input: Input) -> Answer {
    let id = input.run_id()?;
    let metrics = input.list("metrics");
    let params = input.list("params");
    let tags = input.list("tags");
    check_batch_sizes(metrics.len(), params.len(), tags.len())?;
    let points = metrics
        .iter()
        .map(metric_of)
        .collect::<Result<Vec<_>, _>>()?;
    let params = pairs_of(&params, "parameter", MAX_PARAM_VALUE_LENGTH)?;
    let mut seen = std::collections::HashSet::new();
    if let Some((dup, _)) = params.iter().find(|(k, _)| !seen.insert(k.as_str())) {
        return Err(invalid(format!(
            "Duplicate parameter keys have been submitted: {dup}. Please ensure the request contains only one param value per param key."
        )));
    }
    let tags = pairs_of(&tags, "tag", MAX_TAG_VALUE_LENGTH)?;
    if params.is_empty() && points.is_empty() && tags.is_empty() {
        // Nothing to write, but MLflow still answers for the run (unknown, deleted).
        return ensure_active(&get_run(&st, &id).await?).and_then(|()| ok());
    }
    let user = c.user_or("");
    let q = id.clone();
    let batch = RunBatch {
        params,
        metrics: points,
        tags,
        ingested_to: None,
    };
    // One transaction: the batch's params, metrics and tags are all kept or none.
    st.write(move |s| s.log_batch(&q, &batch, &user))
        .await
        .map_err(run_not_found(&id))?;
    ok()
}

async fn search_runs(State(st): St, input: Input) -> Typed {
    let (include_deleted, only_deleted) = view_type(&input, "run_view_type")?;
    let limit = max_results(&input)?;
    let offset = decode_token(&input)?;
    let ids = input
        .list("experiment_ids")
        .iter()
        .filter_map(text_of)
        .collect();
    let experiments = experiment_names(&st, ids).await?;
    let orders = order_by(&input)?;
    let query = RunQuery {
        experiments,
        filter: input.text("filter").filter(|f| !f.trim().is_empty()),
        sort: Some(if orders.is_empty() {
            "start_time desc, run_id".to_string()
        } else {
            orders.join(", ")
        }),
        limit: Some(limit),
        offset,
        include_deleted,
        only_deleted,
        reverse: false,
    };
    let page = st.call(move |s| s.search_runs(&query)).await?;
    let next = offset.saturating_add(limit);
    let next_page_token = (next < page.total).then(|| encode_token(next));
    typed(&RunsPage {
        runs: page.runs.iter().map(run_out).collect(),
        next_page_token,
    })
}

/// kiroku keeps no MLflow LoggedModels; the client asks while listing a run's artifacts.
async fn search_logged_models() -> Answer {
    Ok(Json(json!({"models": []})))
}

async fn get_history(State(st): St, input: Input) -> Typed {
    let id = input.run_id()?;
    let key = input.required("metric_key")?;
    let max = input
        .int("max_results")?
        .map(|m| {
            crate::limits::page_size("max_results", m, crate::limits::METRIC_HISTORY_MAX_RESULTS)
        })
        .transpose()?;
    let offset = decode_token(&input)? as usize;
    let q = id.clone();
    let k = key.clone();
    let series = st
        .call(move |s| {
            s.run(&q)?;
            s.metric_series(&q, &k)
        })
        .await
        .map_err(run_not_found(&id))?;
    let take = max.map_or(usize::MAX, |m| m as usize);
    let page: Vec<MetricOut> = series
        .iter()
        .skip(offset)
        .take(take)
        .map(|p| MetricOut {
            key: &key,
            value: p.value,
            timestamp: p.timestamp,
            step: p.step,
        })
        .collect();
    let next = offset.saturating_add(take);
    let next_page_token = (max.is_some() && next < series.len()).then(|| encode_token(next as u64));
    typed(&HistoryPage {
        metrics: page,
        next_page_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_mlflow_rules() {
        for good in ["loss", "train/loss", "a.b-c d:e", "x_1"] {
            assert!(validate_key(good, "metric").is_ok(), "{good}");
        }
        for bad in [
            "",
            "a//b",
            "/a",
            "a/",
            "a/./b",
            "../a",
            ".",
            "a$b",
            &"k".repeat(251),
        ] {
            assert!(validate_key(bad, "metric").is_err(), "{bad}");
        }
    }

    #[test]
    fn page_tokens_round_trip_and_bad_ones_are_400() {
        let mut m = Map::new();
        m.insert("page_token".into(), json!(encode_token(42)));
        assert_eq!(decode_token(&Input(m)).unwrap(), 42);
        let mut m = Map::new();
        m.insert("page_token".into(), json!("garbage!"));
        assert_eq!(decode_token(&Input(m)).unwrap_err().status(), 400);
    }

    #[test]
    fn long_values_are_truncated_on_char_boundaries() {
        assert_eq!(truncate("ééé".into(), 2), "éé");
        assert_eq!(truncate("ab".into(), 5), "ab");
    }
}
