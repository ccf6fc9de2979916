//! The MLflow wire format: what a request carries (`Input`, read the way MLflow's server reads
//! its protobuf-JSON: query strings for GET, lenient numbers and strings) and the JSON MLflow's
//! clients expect back (`RunOut` and friends, `experiment_json`, page tokens, statuses).
//!
//! Kept apart from the handlers so every endpoint family validates and answers alike: the key
//! rule, truncation and paging live once, here. Runs are serialised straight from the model
//! into typed structs (no intermediate JSON tree: searches return thousands of them).
use crate::api::ApiError;
use crate::limits::{MAX_KEY_LENGTH, SEARCH_DEFAULT_RESULTS, SEARCH_MAX_RESULTS};
use crate::mlflow_names::{NOTE_TAG, PARENT_RUN_TAG, RUN_NAME_TAG};
use crate::model::{json_float, Experiment, Run, RunStatus};
use crate::server::errors::{body_rejection, invalid};
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::Method;
use base64::Engine;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::borrow::Cow;

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
    pub(super) fn text(&self, key: &str) -> Option<String> {
        text_of(self.0.get(key)?)
    }

    /// A required string: missing or empty is a 400, as in MLflow's `_assert_required`.
    pub(super) fn required(&self, key: &str) -> Result<String, ApiError> {
        self.text(key)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid(format!("Missing value for required parameter '{key}'.")))
    }

    pub(super) fn run_id(&self) -> Result<String, ApiError> {
        match self.text("run_id").filter(|s| !s.is_empty()) {
            Some(id) => Ok(id),
            None => self
                .required("run_uuid")
                .map_err(|_| invalid("Missing value for required parameter 'run_id'.")),
        }
    }

    pub(super) fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.0.get(key).map_or(Ok(None), |v| int_of(v, key))
    }

    /// A repeated field (a JSON array, or one value), borrowed: batches hold 1,000 items.
    pub(super) fn list(&self, key: &str) -> Cow<'_, [Value]> {
        match self.0.get(key) {
            None | Some(Value::Null) => Cow::Borrowed(&[]),
            Some(Value::Array(items)) => Cow::Borrowed(items),
            Some(other) => Cow::Owned(vec![other.clone()]),
        }
    }
}

pub(super) fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => items.last().and_then(text_of),
        _ => None,
    }
}

pub(super) fn int_of(v: &Value, key: &str) -> Result<Option<i64>, ApiError> {
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

pub(super) fn float_of(v: &Value, key: &str) -> Result<f64, ApiError> {
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
pub fn validate_mlflow_key(key: &str, what: &str) -> Result<(), ApiError> {
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
pub(super) fn truncate(value: String, max: usize) -> String {
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

pub(super) fn parse_status(s: &str) -> Result<RunStatus, ApiError> {
    match s {
        "RUNNING" | "SCHEDULED" | "FINISHED" | "FAILED" | "KILLED" => {
            s.parse().map_err(|e: String| invalid(e))
        }
        other => Err(invalid(format!("Invalid run status '{other}'"))),
    }
}

pub(super) fn experiment_json(e: &Experiment) -> Value {
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
    pub(super) artifact_uri: String,
    lifecycle_stage: &'static str,
}

#[derive(Serialize)]
pub struct MetricOut<'a> {
    pub(super) key: &'a str,
    #[serde(with = "json_float")]
    pub(super) value: f64,
    pub(super) timestamp: i64,
    pub(super) step: i64,
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

/// MLflow's empty `outputs` (kiroku keeps no logged-model outputs).
#[derive(Serialize)]
pub struct EmptyOut {}

/// MLflow's `RunInputs`: the run's dataset inputs (`{}` when there are none, as MLflow writes
/// an empty list).
#[derive(Serialize, Default)]
pub struct InputsOut {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    dataset_inputs: Vec<DatasetInputOut>,
}

/// MLflow's `DatasetInput`: the dataset and the input's tags.
#[derive(Serialize)]
struct DatasetInputOut {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<OwnedKeyValueOut>,
    dataset: DatasetOut,
}

#[derive(Serialize)]
struct OwnedKeyValueOut {
    key: String,
    value: String,
}

/// MLflow's `Dataset`.
#[derive(Serialize)]
struct DatasetOut {
    name: String,
    digest: String,
    source_type: String,
    source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    schema: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<String>,
}

impl DatasetInputOut {
    /// An input as MLflow logged it (`log_input`, or imported): every field as it was.
    fn logged_by_mlflow(m: &crate::model::MlflowDataset) -> Self {
        DatasetInputOut {
            tags: m
                .tags
                .iter()
                .map(|(key, value)| OwnedKeyValueOut {
                    key: key.clone(),
                    value: value.clone(),
                })
                .collect(),
            dataset: DatasetOut {
                name: m.name.clone(),
                digest: m.digest.clone(),
                source_type: m.source_type.clone(),
                source: m.source.clone(),
                schema: m.schema.clone(),
                profile: m.profile.clone(),
            },
        }
    }

    /// kiroku's own input (`kiroku run --input`, `kiroku log input`): its name, its hash as
    /// the digest, its location as a `local` source, its schema and row count, its context.
    fn logged_by_kiroku(input: &crate::model::LoggedInput) -> Self {
        let d = &input.dataset;
        let tags = if input.context.is_empty() {
            Vec::new()
        } else {
            vec![OwnedKeyValueOut {
                key: crate::model::MlflowDataset::CONTEXT_TAG.into(),
                value: input.context.clone(),
            }]
        };
        DatasetInputOut {
            tags,
            dataset: DatasetOut {
                name: d.name.clone(),
                digest: d.hash.clone(),
                source_type: "local".into(),
                source: serde_json::json!({ "uri": d.location.clone().unwrap_or_default() })
                    .to_string(),
                schema: d.schema.as_ref().map(|s| s.to_string()),
                profile: d
                    .rows
                    .map(|n| serde_json::json!({ "num_rows": n }).to_string()),
            },
        }
    }
}

impl InputsOut {
    /// The run's recorded inputs as MLflow dataset inputs.
    pub fn of(inputs: &[crate::model::LoggedInput]) -> Self {
        let dataset_inputs = inputs
            .iter()
            .map(|input| match &input.mlflow {
                Some(m) => DatasetInputOut::logged_by_mlflow(m),
                None => DatasetInputOut::logged_by_kiroku(input),
            })
            .collect();
        InputsOut { dataset_inputs }
    }
}

/// MLflow's `Run`.
#[derive(Serialize)]
pub struct RunOut<'a> {
    info: RunInfoOut<'a>,
    data: RunDataOut<'a>,
    inputs: InputsOut,
    outputs: EmptyOut,
}

impl RunOut<'_> {
    /// The run with its dataset inputs (`runs/get`, `runs/search`).
    pub fn with_inputs(mut self, inputs: &[crate::model::LoggedInput]) -> Self {
        self.inputs = InputsOut::of(inputs);
        self
    }
}

pub(super) fn run_info(r: &Run) -> RunInfoOut<'_> {
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
    if let (Some(p), false) = (&r.parent_id, r.tags.contains_key(PARENT_RUN_TAG)) {
        tags.push(KeyValueOut {
            key: PARENT_RUN_TAG,
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
        inputs: InputsOut::default(),
        outputs: EmptyOut {},
    }
}

#[derive(Serialize)]
pub(super) struct OneRun<'a> {
    pub(super) run: RunOut<'a>,
}

#[derive(Serialize)]
pub(super) struct RunsPage<'a> {
    pub(super) runs: Vec<RunOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) next_page_token: Option<String>,
}

#[derive(Serialize)]
pub(super) struct HistoryPage<'a> {
    pub(super) metrics: Vec<MetricOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) next_page_token: Option<String>,
}

pub(super) fn view_type(input: &Input, key: &str) -> Result<(bool, bool), ApiError> {
    match input.text(key).as_deref() {
        None | Some("") | Some("ACTIVE_ONLY") | Some("1") => Ok((false, false)),
        Some("DELETED_ONLY") | Some("2") => Ok((true, true)),
        Some("ALL") | Some("3") => Ok((true, false)),
        Some(other) => Err(invalid(format!("Invalid view type '{other}'"))),
    }
}

pub(super) fn max_results(input: &Input) -> Result<u64, ApiError> {
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
pub(super) fn order_by(input: &Input) -> Result<Vec<String>, ApiError> {
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

pub(super) fn encode_token(offset: u64) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{{\"offset\": {offset}}}"))
}

/// The offset a page token holds, read as MLflow reads it: base64 of a JSON object whose
/// `offset` is a non-zero integer, or a string or float that `int()` takes (`"5"`, `5.0`).
/// What MLflow refuses (an `offset` of 0 or missing) is a 400 here as well; where MLflow
/// fails with a 500 (a token that is not a JSON object) or reads a negative offset, this is
/// a 400 too.
pub(super) fn decode_token(input: &Input) -> Result<u64, ApiError> {
    let Some(token) = input.text("page_token").filter(|t| !t.is_empty()) else {
        return Ok(0);
    };
    let bad = || invalid(format!("Invalid page token '{token}'"));
    // Python's b64decode drops characters outside the alphabet before decoding.
    let kept: String = token
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
        .collect();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(kept.as_bytes())
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let offset = match v.get("offset") {
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f >= 1.0).map(|f| f as u64)),
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    offset
        .filter(|o| *o > 0 && *o <= i64::MAX as u64)
        .ok_or_else(bad)
}

pub(super) fn pairs_of(
    items: &[Value],
    what: &str,
    max_value: usize,
) -> Result<Vec<(String, String)>, ApiError> {
    items
        .iter()
        .map(|item| {
            let key = item.get("key").and_then(text_of).unwrap_or_default();
            validate_mlflow_key(&key, what)?;
            let value = item.get("value").and_then(text_of).unwrap_or_default();
            Ok((key, truncate(value, max_value)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_mlflow_rules() {
        for good in ["loss", "train/loss", "a.b-c d:e", "x_1"] {
            assert!(validate_mlflow_key(good, "metric").is_ok(), "{good}");
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
            assert!(validate_mlflow_key(bad, "metric").is_err(), "{bad}");
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
