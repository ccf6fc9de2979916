//! What a run records over MLflow's REST API: `runs/log-metric`, `runs/log-parameter`,
//! `runs/log-batch` (one transaction, MLflow's batch limits checked before any item is read),
//! `runs/set-tag`, `runs/delete-tag` and `runs/log-inputs` (`mlflow.log_input` datasets, which
//! become dataset versions bound to the run: `ingest::mlflow::datasets`; model inputs are
//! accepted and not kept).
//!
//! A metric sent with a `model_id` (MLflow 3's `log_metric(..., model_id=…)`) is the run's and
//! is also kept on that logged model (with its dataset, if named), as MLflow keeps it.
//!
//! Setting `mlflow.runName` renames the run and `mlflow.note.content` adds a note, as when a run
//! is created with them.
use super::wire::{float_of, int_of, pairs_of, text_of, validate_mlflow_key, Input};
use super::{ensure_active, get_run, ok, run_not_found, Answer, St};
use crate::api::ApiError;
use crate::ingest::mlflow::datasets::{record_inputs, MlflowDataset};
use crate::limits::{
    MAX_ENTITIES_PER_BATCH, MAX_METRICS_PER_BATCH, MAX_PARAMS_TAGS_PER_BATCH,
    MAX_PARAM_VALUE_LENGTH, MAX_TAG_VALUE_LENGTH,
};
use crate::mlflow_names::{NOTE_TAG, RUN_NAME_TAG};
use crate::model::registry::LoggedModelMetric;
use crate::model::{KeyedPoint, NewNote, RunBatch};
use crate::server::auth::Caller;
use crate::server::errors::{invalid, not_found};
use axum::extract::State;
use axum::Extension;
use serde_json::Value;

fn metric_of(item: &Value) -> Result<KeyedPoint, ApiError> {
    let key = item.get("key").and_then(text_of).unwrap_or_default();
    validate_mlflow_key(&key, "metric")?;
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

/// The metric values among `items` logged against a logged model (MLflow 3: a metric with a
/// `model_id` is the run's and the model's), as the model keeps them.
fn model_metrics_of(
    items: &[Value],
    points: &[KeyedPoint],
    run_id: &str,
) -> Vec<LoggedModelMetric> {
    let text = |item: &Value, key: &str| item.get(key).and_then(text_of).filter(|t| !t.is_empty());
    items
        .iter()
        .zip(points)
        .filter_map(|(item, point)| {
            Some(LoggedModelMetric {
                model_id: text(item, "model_id")?,
                key: point.key.clone(),
                value: point.value,
                timestamp: point.timestamp,
                step: point.step,
                run_id: Some(run_id.to_string()),
                dataset_name: text(item, "dataset_name"),
                dataset_digest: text(item, "dataset_digest"),
            })
        })
        .collect()
}

/// Keeps the values of `model_metrics` on their logged models (after the run has them).
async fn log_model_metrics(
    st: &std::sync::Arc<crate::server::AppState>,
    model_metrics: Vec<LoggedModelMetric>,
) -> Result<(), ApiError> {
    if model_metrics.is_empty() {
        return Ok(());
    }
    st.write(move |s| s.log_logged_model_metrics(&model_metrics))
        .await
}

pub(super) async fn log_metric(State(st): St, input: Input) -> Answer {
    let id = input.run_id()?;
    let item = Value::Object(input.0.clone());
    let point = metric_of(&item)?;
    let model_metrics = model_metrics_of(
        std::slice::from_ref(&item),
        std::slice::from_ref(&point),
        &id,
    );
    let q = id.clone();
    st.write(move |s| s.log_metrics(&q, &[point]))
        .await
        .map_err(run_not_found(&id))?;
    log_model_metrics(&st, model_metrics).await?;
    ok()
}

pub(super) async fn log_param(State(st): St, input: Input) -> Answer {
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

pub(super) async fn set_tag(
    State(st): St,
    Extension(c): Extension<Caller>,
    input: Input,
) -> Answer {
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

pub(super) async fn delete_tag(
    State(st): St,
    Extension(c): Extension<Caller>,
    input: Input,
) -> Answer {
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

pub(super) async fn log_batch(
    State(st): St,
    Extension(c): Extension<Caller>,
    input: Input,
) -> Answer {
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
    let model_metrics = model_metrics_of(&metrics, &points, &id);
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
    log_model_metrics(&st, model_metrics).await?;
    ok()
}

/// MLflow's `MAX_DATASET_NAME_SIZE` and `MAX_DATASET_DIGEST_SIZE`.
const MAX_DATASET_NAME_CHARS: usize = 500;
const MAX_DATASET_DIGEST_CHARS: usize = 36;

/// One `DatasetInput` of a `runs/log-inputs` body: `{"tags": [...], "dataset": {...}}`.
fn dataset_input_of(item: &Value) -> Result<MlflowDataset, ApiError> {
    let dataset = item.get("dataset").unwrap_or(&Value::Null);
    let field = |key: &str| dataset.get(key).and_then(text_of);
    let required = |key: &str| {
        field(key).filter(|v| !v.is_empty()).ok_or_else(|| {
            invalid(format!(
                "Missing value for required parameter 'dataset.{key}'."
            ))
        })
    };
    let name = required("name")?;
    let digest = required("digest")?;
    if name.chars().count() > MAX_DATASET_NAME_CHARS {
        return Err(invalid(format!(
            "Dataset name exceeds the maximum length of {MAX_DATASET_NAME_CHARS}"
        )));
    }
    if digest.chars().count() > MAX_DATASET_DIGEST_CHARS {
        return Err(invalid(format!(
            "Dataset digest exceeds the maximum length of {MAX_DATASET_DIGEST_CHARS}"
        )));
    }
    let tags = item
        .get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|tag| {
            let key = tag.get("key").and_then(text_of)?;
            Some((key, tag.get("value").and_then(text_of).unwrap_or_default()))
        })
        .collect();
    Ok(MlflowDataset {
        name,
        digest,
        source_type: required("source_type")?,
        source: required("source")?,
        schema: field("schema"),
        profile: field("profile"),
        tags,
    })
}

pub(super) async fn log_inputs(
    State(st): St,
    Extension(c): Extension<Caller>,
    input: Input,
) -> Answer {
    let id = input.run_id()?;
    let items = input.list("datasets");
    if items.len() > MAX_ENTITIES_PER_BATCH {
        return Err(invalid(format!(
            "A log-inputs request can contain at most {MAX_ENTITIES_PER_BATCH} datasets. Got {}.",
            items.len()
        )));
    }
    let datasets = items
        .iter()
        .map(dataset_input_of)
        .collect::<Result<Vec<_>, _>>()?;
    let run = get_run(&st, &id).await?;
    ensure_active(&run)?;
    if datasets.is_empty() {
        return ok();
    }
    let user = c.user_or(&run.user);
    let q = id.clone();
    st.write(move |s| record_inputs(s, &q, &datasets, &user).map(|_| ()))
        .await
        .map_err(run_not_found(&id))?;
    ok()
}
