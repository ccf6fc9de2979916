//! MLflow 3's logged models (`/logged-models...`), which every flavor's `log_model` calls:
//! create (`POST /logged-models`), get, finalize (`PATCH /logged-models/{id}`), delete, search
//! (`POST /logged-models/search`), tags (`PATCH .../tags`, `DELETE .../tags/{key}`), params
//! (`POST .../params`), the file listing (`GET .../artifacts/directories`), and the run's link to
//! its outputs (`POST /runs/outputs`).
//!
//! The files themselves go through the artifact proxy (`server::artifacts`), at the model's
//! `artifact_uri`, `mlflow-artifacts:/<experiment>/models/<model id>/artifacts`. Shapes follow
//! `mlflow.protos.service_pb2.LoggedModel`: `{"model": {"info": {…}, "data": {"params": […],
//! "metrics": […]}}}` (metrics: every value logged against the model, `runs/log-metric` and
//! `runs/log-batch` with a `model_id`),
//! with empty fields left out as MLflow's protobuf JSON leaves them.
use super::experiments::{experiment_by_id, DefaultUse};
use super::wire::{int_of, text_of, Input};
use super::{ok, paged, Answer, St};
use crate::api::ApiError;
use crate::model::registry::*;
use crate::server::auth::Caller;
use crate::server::errors::{invalid, not_found};
use crate::server::kiroku_api::P;
use crate::server::AppState;
use axum::extract::State;
use axum::{Extension, Json};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A logged model's metric value as MLflow's `Metric` message (empty optional fields left out).
fn metric_json(m: &LoggedModelMetric) -> Value {
    let mut out = Map::new();
    out.insert("key".into(), json!(m.key));
    let value = crate::model::json_float::serialize(&m.value, serde_json::value::Serializer)
        .unwrap_or(Value::Null);
    out.insert("value".into(), value);
    out.insert("timestamp".into(), json!(m.timestamp));
    out.insert("step".into(), json!(m.step));
    out.insert("model_id".into(), json!(m.model_id));
    for (field, value) in [
        ("dataset_name", &m.dataset_name),
        ("dataset_digest", &m.dataset_digest),
        ("run_id", &m.run_id),
    ] {
        if let Some(v) = value {
            out.insert(field.into(), json!(v));
        }
    }
    Value::Object(out)
}

/// `[{key, value}]` as MLflow lists tags and params; the empty list is left out by callers.
pub(super) fn key_values(map: &BTreeMap<String, String>) -> Value {
    Value::Array(
        map.iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect(),
    )
}

/// A logged model as MLflow's `LoggedModel` message.
pub(super) fn logged_model_json(m: &LoggedModel) -> Value {
    let mut info = Map::new();
    info.insert("model_id".into(), json!(m.model_id));
    info.insert("experiment_id".into(), json!(m.experiment_id.to_string()));
    info.insert("name".into(), json!(m.name));
    info.insert("creation_timestamp_ms".into(), json!(m.created_at));
    info.insert("last_updated_timestamp_ms".into(), json!(m.updated_at));
    info.insert("artifact_uri".into(), json!(m.artifact_location));
    info.insert("status".into(), json!(m.status.mlflow_name()));
    info.insert(
        "model_type".into(),
        json!(m.model_type.clone().unwrap_or_default()),
    );
    if let Some(run) = &m.source_run_id {
        info.insert("source_run_id".into(), json!(run));
    }
    if let Some(message) = &m.status_message {
        info.insert("status_message".into(), json!(message));
    }
    if !m.tags.is_empty() {
        info.insert("tags".into(), key_values(&m.tags));
    }
    let mut data = Map::new();
    if !m.metrics.is_empty() {
        data.insert(
            "metrics".into(),
            m.metrics.iter().map(metric_json).collect(),
        );
    }
    if !m.params.is_empty() {
        data.insert("params".into(), key_values(&m.params));
    }
    json!({"info": info, "data": data})
}

/// `[{key, value}]` (or one such object) from the request, as a map; keys must not be empty.
fn pairs_of(input: &Input, field: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let mut out = BTreeMap::new();
    for item in input.list(field).iter() {
        let key = item.get("key").and_then(text_of).unwrap_or_default();
        if key.is_empty() {
            return Err(invalid(format!(
                "Missing value for required parameter '{field}.key'."
            )));
        }
        let value = item.get("value").and_then(text_of).unwrap_or_default();
        out.insert(key, value);
    }
    Ok(out)
}

/// MLflow's message for an unknown logged model.
fn model_missing(id: &str) -> impl Fn(ApiError) -> ApiError + '_ {
    move |e| {
        if e.status() == 404 {
            not_found(format!("Logged model with ID '{id}' not found."))
        } else {
            e
        }
    }
}

fn answer(m: &LoggedModel) -> Answer {
    Ok(Json(json!({"model": logged_model_json(m)})))
}

pub(super) async fn create(State(st): St, Extension(c): Extension<Caller>, input: Input) -> Answer {
    let tags = pairs_of(&input, "tags")?;
    let requested_user = tags
        .get(crate::mlflow_names::USER_TAG)
        .cloned()
        .unwrap_or_default();
    let user = c.user_or(&requested_user);
    let experiment_id = input.required("experiment_id")?;
    let experiment = experiment_by_id(&st, &experiment_id, &user, DefaultUse::Create).await?;
    let new = NewLoggedModel {
        experiment_id: experiment.id,
        name: input.text("name").filter(|n| !n.is_empty()),
        source_run_id: input.text("source_run_id").filter(|r| !r.is_empty()),
        model_type: input.text("model_type").filter(|t| !t.is_empty()),
        params: pairs_of(&input, "params")?,
        tags,
        user,
    };
    let model = st.write(move |s| s.create_logged_model(&new)).await?;
    answer(&model)
}

pub(super) async fn get(State(st): St, P(id): P<String>, input: Input) -> Answer {
    let allow_deleted = input.text("allow_deleted").as_deref() == Some("true");
    let key = id.clone();
    let model = st
        .call(move |s| s.logged_model(&key, allow_deleted))
        .await
        .map_err(model_missing(&id))?;
    answer(&model)
}

pub(super) async fn finalize(State(st): St, P(id): P<String>, input: Input) -> Answer {
    let status: LoggedModelStatus = input
        .required("status")?
        .parse()
        .map_err(|e: String| invalid(e))?;
    let key = id.clone();
    let model = st
        .write(move |s| s.finalize_logged_model(&key, status))
        .await
        .map_err(model_missing(&id))?;
    answer(&model)
}

pub(super) async fn delete(State(st): St, P(id): P<String>) -> Answer {
    let key = id.clone();
    st.write(move |s| s.delete_logged_model(&key))
        .await
        .map_err(model_missing(&id))?;
    ok()
}

pub(super) async fn set_tags(State(st): St, P(id): P<String>, input: Input) -> Answer {
    let tags = pairs_of(&input, "tags")?;
    let key = id.clone();
    st.write(move |s| s.set_logged_model_tags(&key, &tags))
        .await
        .map_err(model_missing(&id))?;
    ok()
}

pub(super) async fn delete_tag(State(st): St, P((id, tag)): P<(String, String)>) -> Answer {
    st.write(move |s| s.delete_logged_model_tag(&id, &tag))
        .await?;
    ok()
}

pub(super) async fn log_params(State(st): St, P(id): P<String>, input: Input) -> Answer {
    let params = pairs_of(&input, "params")?;
    let key = id.clone();
    st.write(move |s| s.log_logged_model_params(&key, &params))
        .await
        .map_err(model_missing(&id))?;
    ok()
}

pub(super) async fn search(State(st): St, input: Input) -> Answer {
    let mut experiment_ids = Vec::new();
    for id in input.list("experiment_ids").iter().filter_map(text_of) {
        experiment_ids.push(experiment_by_id(&st, &id, "", DefaultUse::Show).await?.id);
    }
    let text = |v: &Value, key: &str| v.get(key).and_then(text_of).filter(|t| !t.is_empty());
    let order_by = input
        .list("order_by")
        .iter()
        .map(|key| OrderKey {
            field: text(key, "field_name").unwrap_or_default(),
            ascending: key
                .get("ascending")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            dataset_name: text(key, "dataset_name"),
            dataset_digest: text(key, "dataset_digest"),
        })
        .collect();
    let datasets = input
        .list("datasets")
        .iter()
        .map(|d| DatasetScope {
            dataset_name: text(d, "dataset_name").unwrap_or_default(),
            dataset_digest: text(d, "dataset_digest"),
        })
        .collect();
    let max_results = match input.0.get("max_results") {
        Some(v) => int_of(v, "max_results")?.map(|n| n.clamp(0, u32::MAX as i64) as u32),
        None => None,
    };
    let query = LoggedModelQuery {
        experiment_ids,
        datasets,
        filter: input.text("filter").filter(|f| !f.trim().is_empty()),
        order_by,
        max_results,
        page_token: input.text("page_token").filter(|t| !t.is_empty()),
    };
    let page = st.call(move |s| s.search_logged_models(&query)).await?;
    let models = page.models.iter().map(logged_model_json).collect();
    paged("models", models, page.next_page_token)
}

/// `GET /logged-models/{id}/artifacts/directories?artifact_directory_path=…`: one folder of the
/// model's files, as `artifacts/list` lists a run's.
pub(super) async fn list_artifacts(State(st): St, P(id): P<String>, input: Input) -> Answer {
    let key = id.clone();
    let model = st
        .call(move |s| s.logged_model(&key, false))
        .await
        .map_err(model_missing(&id))?;
    let path = input.text("artifact_directory_path");
    crate::server::artifacts::list_model_artifacts(
        &st,
        &model.model_id,
        model.artifact_location.clone(),
        path.as_deref(),
    )
    .await
}

/// `POST /runs/outputs`: the client links a run to the models it produced. The link is the
/// model's `source_run_id` already; the run and each model must exist.
pub(super) async fn log_outputs(State(st): St, input: Input) -> Answer {
    let run_id = input.run_id()?;
    super::get_run(&st, &run_id).await?;
    let ids: Vec<String> = input
        .list("models")
        .iter()
        .filter_map(|m| m.get("model_id").and_then(text_of))
        .collect();
    check_models_exist(&st, ids).await?;
    ok()
}

async fn check_models_exist(st: &Arc<AppState>, ids: Vec<String>) -> Result<(), ApiError> {
    for id in ids {
        let key = id.clone();
        st.call(move |s| s.logged_model(&key, false))
            .await
            .map_err(model_missing(&id))?;
    }
    Ok(())
}
