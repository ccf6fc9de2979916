//! The MLflow tracking API (`/api/2.0/mlflow/...`, also under `/ajax-api/2.0/mlflow/...`) over
//! the kiroku store, so code calling `mlflow.log_metric` logs into kiroku unchanged.
//!
//! Mapping (see ../shared/reference/mlflow.md): MLflow experiment ids are kiroku's integer ids
//! as strings, and `"0"` names the `Default` experiment (made on first use); run ids are the
//! same 32-hex ids; statuses map RUNNING/SCHEDULED/FINISHED/FAILED/KILLED to kiroku's
//! running/queued/finished/failed/killed (lost reads as FAILED). The tags `mlflow.runName`,
//! `mlflow.user`, `mlflow.parentRunId` and `mlflow.note.content` (named in `crate::mlflow_names`)
//! also set the run's name, user, parent and a note; the tags themselves are kept. Searches use
//! kiroku's query language, a superset of MLflow's grammar. Limits and truncation follow
//! MLflow's (`validate_*`).
//!
//! A deleted run (or a run of a deleted experiment) takes no writes until restored: the store
//! refuses them with MLflow's own `The run <id> must be in the 'active' state` (400
//! `INVALID_PARAMETER_VALUE`), the same rule for the CLI and the kiroku API. Experiment tags
//! are stored as such; `mlflow.note.content` among them is the experiment's description.
//!
//! One file per family of MLflow's REST endpoints, so each reads beside the MLflow docs page it
//! follows:
//! - `experiments`: `experiments/*` (create, get, search with its filter, rename, delete, tags);
//! - `runs`: a run's life (`runs/create|get|update|delete|restore|search`, `metrics/get-history`);
//! - `logging`: what a run records (`runs/log-metric|log-parameter|log-batch|set-tag|delete-tag|log-inputs`);
//! - `artifacts`: `artifacts/list` (MLflow's artifact proxy itself is `server::artifacts`);
//! - `logged_models`: MLflow 3's `logged-models/*` and `runs/outputs`;
//! - `registry`: the model registry, `registered-models/*` and `model-versions/*`;
//! - `wire`: the request fields (`Input`) and the MLflow JSON shapes every family answers with.
//!
//! Every route is registered in `routes`,
//! in this file only: the access table (`server::access`, checked by `tests/server_routes.rs`)
//! is read against this one router.
mod artifacts;
mod experiments;
mod logged_models;
mod logging;
mod registry;
mod runs;
mod wire;

use super::errors::{invalid, not_found};
use super::AppState;
use crate::api::ApiError;
use crate::model::Run;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::Arc;

pub use crate::limits::{
    MAX_ENTITIES_PER_BATCH, MAX_EXPERIMENT_TAG_VALUE_LENGTH, MAX_KEY_LENGTH, MAX_METRICS_PER_BATCH,
    MAX_PARAMS_TAGS_PER_BATCH, MAX_PARAM_VALUE_LENGTH, MAX_TAG_VALUE_LENGTH,
    SEARCH_DEFAULT_RESULTS, SEARCH_MAX_RESULTS,
};
pub use logging::check_batch_sizes;
pub use wire::{
    mlflow_status, run_out, validate_mlflow_key, EmptyOut, Input, KeyValueOut, MetricOut,
    RunDataOut, RunInfoOut, RunOut,
};

type St = State<Arc<AppState>>;
type Answer = Result<Json<Value>, ApiError>;
type Typed = Result<Response, ApiError>;

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

/// A search's answer: `{field: items}` plus `next_page_token` when there is a next page.
fn paged(field: &str, items: Vec<Value>, next_page_token: Option<String>) -> Answer {
    let mut out = serde_json::Map::new();
    out.insert(field.into(), Value::Array(items));
    if let Some(token) = next_page_token {
        out.insert("next_page_token".into(), Value::String(token));
    }
    Ok(Json(Value::Object(out)))
}

fn ok() -> Answer {
    Ok(Json(json!({})))
}

pub fn routes() -> Router<Arc<AppState>> {
    let api = Router::new()
        .route("/experiments/create", post(experiments::create_experiment))
        .route("/experiments/get", get(experiments::get_experiment))
        .route(
            "/experiments/get-by-name",
            get(experiments::get_experiment_by_name),
        )
        .route(
            "/experiments/search",
            get(experiments::search_experiments).post(experiments::search_experiments),
        )
        .route("/experiments/update", post(experiments::update_experiment))
        .route("/experiments/delete", post(experiments::delete_experiment))
        .route(
            "/experiments/restore",
            post(experiments::restore_experiment),
        )
        .route(
            "/experiments/set-experiment-tag",
            post(experiments::set_experiment_tag),
        )
        .route(
            "/experiments/delete-experiment-tag",
            post(experiments::delete_experiment_tag),
        )
        .route("/runs/create", post(runs::create_run))
        .route("/runs/get", get(runs::get_run_route))
        .route("/runs/update", post(runs::update_run))
        .route("/runs/delete", post(runs::delete_run))
        .route("/runs/restore", post(runs::restore_run))
        .route("/runs/log-metric", post(logging::log_metric))
        .route("/runs/log-parameter", post(logging::log_param))
        .route("/runs/set-tag", post(logging::set_tag))
        .route("/runs/delete-tag", post(logging::delete_tag))
        .route("/runs/log-batch", post(logging::log_batch))
        .route("/runs/log-inputs", post(logging::log_inputs))
        .route("/runs/search", post(runs::search_runs))
        .route("/metrics/get-history", get(runs::get_history))
        .route("/artifacts/list", get(artifacts::list_artifacts))
        .route("/runs/outputs", post(logged_models::log_outputs))
        .route("/logged-models", post(logged_models::create))
        .route("/logged-models/search", post(logged_models::search))
        .route(
            "/logged-models/{model_id}",
            get(logged_models::get)
                .patch(logged_models::finalize)
                .delete(logged_models::delete),
        )
        .route(
            "/logged-models/{model_id}/tags",
            patch(logged_models::set_tags),
        )
        .route(
            "/logged-models/{model_id}/tags/{tag_key}",
            delete(logged_models::delete_tag),
        )
        .route(
            "/logged-models/{model_id}/params",
            post(logged_models::log_params),
        )
        .route(
            "/logged-models/{model_id}/artifacts/directories",
            get(logged_models::list_artifacts),
        )
        .route("/registered-models/create", post(registry::create_model))
        .route("/registered-models/get", get(registry::get_model))
        .route("/registered-models/rename", post(registry::rename_model))
        .route("/registered-models/update", patch(registry::update_model))
        .route("/registered-models/delete", delete(registry::delete_model))
        .route(
            "/registered-models/search",
            get(registry::search_models).post(registry::search_models),
        )
        .route(
            "/registered-models/get-latest-versions",
            get(registry::latest_versions).post(registry::latest_versions),
        )
        .route("/registered-models/set-tag", post(registry::set_model_tag))
        .route(
            "/registered-models/delete-tag",
            delete(registry::delete_model_tag),
        )
        .route(
            "/registered-models/alias",
            get(registry::get_by_alias)
                .post(registry::set_alias)
                .delete(registry::delete_alias),
        )
        .route("/model-versions/create", post(registry::create_version))
        .route("/model-versions/get", get(registry::get_version))
        .route("/model-versions/update", patch(registry::update_version))
        .route(
            "/model-versions/transition-stage",
            post(registry::transition_stage),
        )
        .route("/model-versions/delete", delete(registry::delete_version))
        .route(
            "/model-versions/search",
            get(registry::search_versions).post(registry::search_versions),
        )
        .route(
            "/model-versions/get-download-uri",
            get(registry::download_uri),
        )
        .route("/model-versions/set-tag", post(registry::set_version_tag))
        .route(
            "/model-versions/delete-tag",
            delete(registry::delete_version_tag),
        )
        .method_not_allowed_fallback(super::errors::method_not_allowed);
    Router::new()
        .nest("/api/2.0/mlflow", api.clone())
        .nest("/ajax-api/2.0/mlflow", api)
}
