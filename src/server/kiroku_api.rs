//! kiroku's own API under `/api/v1`: one route per `Store` method, bodies from `crate::api`
//! and `crate::model`, so `HttpStore` is a thin mirror of this file. Acting users come from the
//! caller's token when there is one (see `auth::Caller`), else from the request.
//!
//! `GET /api/v1/watch?since=V&timeout_ms=T` is the live-refresh channel: a long poll that
//! answers as soon as the store version moves past `V` (or after `T`, at most 60 s).
use super::auth::Caller;
use super::errors::{body_rejection, invalid};
use super::AppState;
use crate::api::*;
use crate::error::KirokuError;
use crate::limits;
use crate::model::data::{DatasetVersion, RunInput as DataRunInput};
use crate::model::promotions::{Approval, Evaluation, HookDelivery, NewApproval, NewDelivery};
use crate::model::{
    AddedVersion, Artifact, CheckRun, CheckRunId, DatasetSummary, EventQuery, JobId, JobUpdate,
    LoggedInput, NewCheckRun, NewJob, NewNote, NewReview, NewRun, Review, RunQuery, RunSource,
};
use crate::store::Store;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;

type Answer<T> = Result<Json<T>, ApiError>;
type St = State<Arc<AppState>>;
/// A request body, or why it could not be read.
type Body = Result<Bytes, BytesRejection>;

/// A JSON body, or a 4xx saying why not (413 when too large).
pub fn parse_body<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let bytes = body.map_err(body_rejection)?;
    serde_json::from_slice(&bytes).map_err(|e| invalid(format!("malformed request body: {e}")))
}

/// Query-string parameters, or a JSON 400 saying why not.
pub struct Q<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for Q<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Query::try_from_uri(&parts.uri)
            .map(|Query(v)| Q(v))
            .map_err(|e| invalid(format!("bad query parameters: {e}")))
    }
}

/// Path parameters (a run id, a note number), or a JSON 400 saying why not: axum's own
/// rejection is plain text, which MLflow-style clients cannot read.
pub struct P<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> axum::extract::FromRequestParts<S> for P<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| P(v))
            .map_err(|e| invalid(format!("bad path: {}", e.body_text())))
    }
}

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/info", get(info))
        .route("/api/v1/watch", get(watch))
        .route(
            "/api/v1/experiments",
            get(experiments).post(create_experiment),
        )
        .route("/api/v1/experiments/lookup", get(experiment))
        .route("/api/v1/experiments/rename", post(rename_experiment))
        .route("/api/v1/experiments/delete", post(delete_experiment))
        .route("/api/v1/experiments/restore", post(restore_experiment))
        .route("/api/v1/experiments/import", post(import_experiment))
        .route("/api/v1/experiments/delete-at", post(delete_experiment_at))
        .route("/api/v1/logged-inputs", post(logged_inputs))
        .route("/api/v1/experiments/tags", post(set_experiment_tags))
        .route(
            "/api/v1/experiments/tags/remove",
            post(remove_experiment_tags),
        )
        .route("/api/v1/runs", post(create_run))
        .route("/api/v1/runs/resolve", get(resolve_run))
        .route("/api/v1/runs/search", post(search_runs))
        .route("/api/v1/runs/{id}", get(run))
        .route("/api/v1/runs/{id}/status", post(set_status))
        .route("/api/v1/runs/{id}/name", post(rename_run))
        .route("/api/v1/runs/{id}/params", post(log_params))
        .route("/api/v1/runs/{id}/tags", post(set_tags))
        .route("/api/v1/runs/{id}/tags/remove", post(remove_tags))
        .route("/api/v1/runs/{id}/metrics", post(log_metrics))
        .route("/api/v1/runs/{id}/series", get(series))
        .route("/api/v1/runs/{id}/series/sampled", post(series_sampled))
        .route("/api/v1/runs/{id}/notes", get(notes).post(add_note))
        .route("/api/v1/runs/{id}/notes/{note}", post(edit_note))
        .route("/api/v1/runs/{id}/notes/{note}/delete", post(delete_note))
        .route("/api/v1/runs/{id}/star", post(set_star))
        .route("/api/v1/runs/{id}/deleted", post(set_deleted))
        .route("/api/v1/runs/{id}/source", post(set_source))
        .route("/api/v1/runs/{id}/environment", post(set_environment))
        .route("/api/v1/runs/{id}/artifacts", post(add_artifact))
        .route("/api/v1/runs/{id}/inputs", post(add_input))
        .route("/api/v1/events", get(events))
        .route("/api/v1/runs/{id}/batch", post(log_batch))
        .route(
            "/api/v1/runs/supervised",
            get(supervised_runs).post(create_supervised_run),
        )
        .route("/api/v1/runs/{id}/recover-lost", post(recover_lost_run))
        .route(
            "/api/v1/runs/{id}/supervised-child",
            post(set_supervised_child),
        )
        .route("/api/v1/jobs", get(jobs).post(submit_job))
        .route("/api/v1/jobs/{id}", get(job))
        .route("/api/v1/jobs/{id}/update", post(update_job))
        .route("/api/v1/jobs/{id}/cancel", post(cancel_job))
        .route("/api/v1/jobs/leases", get(lease))
        .route("/api/v1/jobs/leases/acquire", post(acquire_lease))
        .route("/api/v1/jobs/leases/release", post(release_lease))
        .route("/api/v1/datasets", get(datasets))
        .route(
            "/api/v1/datasets/versions",
            get(dataset_versions).post(add_dataset_version),
        )
        .route("/api/v1/datasets/resolve", get(dataset_version))
        .route("/api/v1/datasets/readers", get(version_readers))
        .route(
            "/api/v1/datasets/inputs",
            get(run_data_inputs).post(add_run_data_inputs),
        )
        .route("/api/v1/checks", get(check_runs).post(record_check_run))
        .route("/api/v1/checks/{id}", get(check_run))
        .route("/api/v1/reviews", get(reviews).post(add_review))
        .merge(promotion_routes())
        .route("/api/v1/models/query", post(models_query))
        .route("/api/v1/models/change", post(models_change))
        .method_not_allowed_fallback(super::errors::method_not_allowed)
}

/// What the server is. The store's folder is shown only to callers of a server without
/// tokens (which only its own machine can reach); token holders, who may be anywhere, learn
/// no server path.
async fn info(State(st): St, Extension(caller): Extension<Caller>) -> Answer<ServerInfo> {
    let store = if caller.authenticated {
        "kiroku store".to_string()
    } else {
        st.store.describe()
    };
    Ok(Json(ServerInfo {
        server: "kiroku".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        store,
        auth: st.tokens.is_some() && caller.authenticated,
        user: caller.user,
    }))
}

async fn watch(State(st): St, Q(q): Q<WatchQuery>) -> Answer<VersionAnswer> {
    let timeout = Duration::from_millis(q.timeout_ms.unwrap_or(25_000).min(60_000));
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        // Register before reading, so a write between the read and the wait is not missed.
        let notified = st.changed.notified();
        let version = st.call(|s| s.version()).await?;
        let done = tokio::time::Instant::now() >= deadline || st.is_stopping();
        if q.since != Some(version) || done {
            return Ok(Json(VersionAnswer { version }));
        }
        // Other processes writing to the same store file do not wake us: re-check now and then.
        let recheck = tokio::time::Instant::now() + Duration::from_millis(500);
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep_until(recheck.min(deadline)) => {}
        }
    }
}

async fn experiments(
    State(st): St,
    Q(q): Q<IncludeDeleted>,
) -> Answer<Vec<crate::model::Experiment>> {
    Ok(Json(
        st.call(move |s| s.experiments(q.include_deleted)).await?,
    ))
}

async fn experiment(State(st): St, Q(q): Q<RefQuery>) -> Answer<crate::model::Experiment> {
    Ok(Json(st.call(move |s| s.experiment(&q.reference)).await?))
}

async fn create_experiment(
    State(st): St,
    Extension(c): Extension<Caller>,
    body: Body,
) -> Answer<crate::model::Experiment> {
    let b: CreateExperiment = parse_body(body)?;
    let user = c.user_or(&b.user);
    Ok(Json(
        st.write(move |s| s.create_experiment(&b.name, &user))
            .await?,
    ))
}

/// Params, tags or environment variables in a request: at most `MAX_PAIRS_PER_REQUEST`, each
/// value within its kind's length (`value_ok`).
fn check_pairs(
    what: &str,
    pairs: &[(String, String)],
    value_ok: fn(&str, &str) -> crate::error::Result<()>,
) -> crate::error::Result<()> {
    limits::list_len(what, pairs.len(), limits::MAX_PAIRS_PER_REQUEST)?;
    pairs.iter().try_for_each(|(k, v)| value_ok(k, v))
}

/// Parses the body and runs a writing store call with it; `{}` on success. Most write
/// routes are this and nothing else.
async fn apply<B: DeserializeOwned + Send + 'static>(
    st: &Arc<AppState>,
    body: Body,
    f: impl FnOnce(&dyn Store, B) -> crate::error::Result<()> + Send + 'static,
) -> Answer<Empty> {
    let b: B = parse_body(body)?;
    st.write(move |s| f(s, b)).await?;
    Ok(Json(Empty {}))
}

async fn rename_experiment(
    State(st): St,
    Extension(c): Extension<Caller>,
    body: Body,
) -> Answer<Empty> {
    apply(&st, body, move |s, b: ExperimentChange| {
        let new_name = b
            .new_name
            .ok_or_else(|| KirokuError::Invalid("new_name is required".into()))?;
        s.rename_experiment(&b.reference, &new_name, &c.user_or(&b.user))
    })
    .await
}

async fn delete_experiment(
    State(st): St,
    Extension(c): Extension<Caller>,
    body: Body,
) -> Answer<Empty> {
    apply(&st, body, move |s, b: ExperimentChange| {
        s.delete_experiment(&b.reference, &c.user_or(&b.user))
    })
    .await
}

async fn import_experiment(
    State(st): St,
    Extension(c): Extension<Caller>,
    body: Body,
) -> Answer<crate::model::Experiment> {
    let b: ImportExperiment = parse_body(body)?;
    let user = c.user_or(&b.user);
    Ok(Json(
        st.write(move |s| s.import_experiment(&b.experiment, &user))
            .await?,
    ))
}

async fn delete_experiment_at(
    State(st): St,
    Extension(c): Extension<Caller>,
    body: Body,
) -> Answer<Empty> {
    apply(&st, body, move |s, b: DeleteExperimentAt| {
        s.delete_experiment_at(&b.reference, b.at, &c.user_or(&b.user))
    })
    .await
}

async fn restore_experiment(
    State(st): St,
    Extension(c): Extension<Caller>,
    body: Body,
) -> Answer<Empty> {
    apply(&st, body, move |s, b: ExperimentChange| {
        s.restore_experiment(&b.reference, &c.user_or(&b.user))
    })
    .await
}

async fn set_experiment_tags(
    State(st): St,
    Extension(c): Extension<Caller>,
    body: Body,
) -> Answer<Empty> {
    apply(&st, body, move |s, b: ExperimentTags| {
        limits::list_len(
            "experiment tags",
            b.pairs.len(),
            limits::MAX_PAIRS_PER_REQUEST,
        )?;
        s.set_experiment_tags(&b.reference, &b.pairs, &c.user_or(&b.user))
    })
    .await
}

async fn remove_experiment_tags(
    State(st): St,
    Extension(c): Extension<Caller>,
    body: Body,
) -> Answer<Empty> {
    apply(&st, body, move |s, b: ExperimentTags| {
        limits::list_len(
            "experiment tag keys",
            b.keys.len(),
            limits::MAX_PAIRS_PER_REQUEST,
        )?;
        s.remove_experiment_tags(&b.reference, &b.keys, &c.user_or(&b.user))
    })
    .await
}

async fn create_run(
    State(st): St,
    Extension(c): Extension<Caller>,
    body: Body,
) -> Answer<crate::model::Run> {
    let mut new: NewRun = parse_body(body)?;
    check_pairs("params", &new.params, limits::param_value)?;
    check_pairs("tags", &new.tags, limits::tag_value)?;
    new.user = c.user_or(&new.user);
    Ok(Json(st.write(move |s| s.create_run(&new)).await?))
}

async fn resolve_run(State(st): St, Q(q): Q<RefQuery>) -> Answer<IdAnswer> {
    let id = st.call(move |s| s.resolve_run(&q.reference)).await?;
    Ok(Json(IdAnswer { id }))
}

async fn search_runs(State(st): St, body: Body) -> Answer<crate::model::RunPage> {
    let mut q: RunQuery = parse_body(body)?;
    q.experiments = limits::experiment_refs(std::mem::take(&mut q.experiments))?;
    // The store counts in i64 (SQLite); beyond that a page cannot exist.
    if q.offset > i64::MAX as u64 || q.limit.is_some_and(|l| l > i64::MAX as u64) {
        return Err(invalid("offset and limit must be at most 2^63-1"));
    }
    Ok(Json(st.call(move |s| s.search_runs(&q)).await?))
}

async fn run(State(st): St, P(id): P<String>) -> Answer<crate::model::RunDetail> {
    let mut detail = st.call(move |s| s.run(&id)).await?;
    // The server's folders mean nothing to a remote client.
    detail.run_dir = None;
    Ok(Json(detail))
}

async fn set_status(
    State(st): St,
    Extension(c): Extension<Caller>,
    P(id): P<String>,
    body: Body,
) -> Answer<Empty> {
    apply(&st, body, move |s, b: StatusChange| {
        let user = c.user_or(b.user.as_deref().unwrap_or(""));
        s.set_status_as(&id, b.status, b.exit_code, b.end_time, Some(&user))
    })
    .await
}

async fn rename_run(
    State(st): St,
    Extension(c): Extension<Caller>,
    P(id): P<String>,
    body: Body,
) -> Answer<Empty> {
    apply(&st, body, move |s, b: NameChange| {
        s.rename_run(&id, &b.name, &c.user_or(&b.user))
    })
    .await
}

async fn log_params(State(st): St, P(id): P<String>, body: Body) -> Answer<Empty> {
    apply(&st, body, move |s, b: Pairs| {
        check_pairs("params", &b.pairs, limits::param_value)?;
        s.log_params(&id, &b.pairs)
    })
    .await
}

async fn set_tags(
    State(st): St,
    Extension(c): Extension<Caller>,
    P(id): P<String>,
    body: Body,
) -> Answer<Empty> {
    apply(&st, body, move |s, b: Pairs| {
        check_pairs("tags", &b.pairs, limits::tag_value)?;
        s.set_tags(&id, &b.pairs, &c.user_or(&b.user))
    })
    .await
}

async fn remove_tags(
    State(st): St,
    Extension(c): Extension<Caller>,
    P(id): P<String>,
    body: Body,
) -> Answer<Empty> {
    apply(&st, body, move |s, b: Keys| {
        limits::list_len("tag keys", b.keys.len(), limits::MAX_PAIRS_PER_REQUEST)?;
        s.remove_tags(&id, &b.keys, &c.user_or(&b.user))
    })
    .await
}

async fn log_metrics(State(st): St, P(id): P<String>, body: Body) -> Answer<Empty> {
    apply(&st, body, move |s, b: Points| s.log_metrics(&id, &b.points)).await
}

async fn series(
    State(st): St,
    P(id): P<String>,
    Q(q): Q<KeyQuery>,
) -> Answer<Vec<crate::model::MetricPoint>> {
    Ok(Json(st.call(move |s| s.metric_series(&id, &q.key)).await?))
}

async fn series_sampled(
    State(st): St,
    P(id): P<String>,
    body: Body,
) -> Answer<crate::series::SampledSeries> {
    let b: SampledRequest = parse_body(body)?;
    Ok(Json(
        st.call(move |s| s.metric_series_sampled(&id, &b.key, &b.query))
            .await?,
    ))
}

async fn notes(State(st): St, P(id): P<String>) -> Answer<Vec<crate::model::Note>> {
    Ok(Json(st.call(move |s| s.notes(&id)).await?))
}

async fn add_note(
    State(st): St,
    Extension(c): Extension<Caller>,
    P(id): P<String>,
    body: Body,
) -> Answer<crate::model::Note> {
    let mut note: NewNote = parse_body(body)?;
    note.author = c.user_or(&note.author);
    Ok(Json(st.write(move |s| s.add_note(&id, &note)).await?))
}

async fn edit_note(
    State(st): St,
    Extension(c): Extension<Caller>,
    P((id, note)): P<(String, i64)>,
    body: Body,
) -> Answer<crate::model::Note> {
    let b: NoteChange = parse_body(body)?;
    let user = c.user_or(&b.user);
    let text = b.body.ok_or_else(|| invalid("body is required"))?;
    Ok(Json(
        st.write(move |s| s.edit_note(&id, note, &text, &user))
            .await?,
    ))
}

async fn delete_note(
    State(st): St,
    Extension(c): Extension<Caller>,
    P((id, note)): P<(String, i64)>,
    body: Body,
) -> Answer<Empty> {
    apply(&st, body, move |s, b: NoteChange| {
        s.delete_note(&id, note, &c.user_or(&b.user))
    })
    .await
}

async fn set_star(
    State(st): St,
    Extension(c): Extension<Caller>,
    P(id): P<String>,
    body: Body,
) -> Answer<Changed> {
    let b: StarChange = parse_body(body)?;
    let user = c.user_or(&b.user);
    let changed = st.write(move |s| s.set_star(&id, &user, b.starred)).await?;
    Ok(Json(Changed { changed }))
}

async fn set_deleted(
    State(st): St,
    Extension(c): Extension<Caller>,
    P(id): P<String>,
    body: Body,
) -> Answer<Empty> {
    apply(&st, body, move |s, b: DeletedChange| {
        s.set_deleted(&id, b.deleted, &c.user_or(&b.user))
    })
    .await
}

async fn set_source(State(st): St, P(id): P<String>, body: Body) -> Answer<Empty> {
    apply(&st, body, move |s, b: RunSource| s.set_source(&id, &b)).await
}

async fn set_environment(State(st): St, P(id): P<String>, body: Body) -> Answer<Empty> {
    apply(&st, body, move |s, b: Pairs| {
        limits::list_len(
            "environment variables",
            b.pairs.len(),
            limits::MAX_PAIRS_PER_REQUEST,
        )?;
        s.set_environment(&id, &b.pairs)
    })
    .await
}

async fn add_artifact(State(st): St, P(id): P<String>, body: Body) -> Answer<Empty> {
    apply(&st, body, move |s, b: Artifact| s.add_artifact(&id, &b)).await
}

async fn logged_inputs(State(st): St, body: Body) -> Answer<Vec<Vec<LoggedInput>>> {
    let b: RunIds = parse_body(body)?;
    limits::list_len("run ids", b.ids.len(), limits::MAX_ENTITIES_PER_BATCH)?;
    Ok(Json(st.call(move |s| s.logged_inputs(&b.ids)).await?))
}

async fn add_input(State(st): St, P(id): P<String>, body: Body) -> Answer<Empty> {
    apply(&st, body, move |s, b: LoggedInput| s.add_input(&id, &b)).await
}

async fn events(State(st): St, Q(q): Q<EventQuery>) -> Answer<Vec<crate::model::Event>> {
    Ok(Json(st.call(move |s| s.events(&q)).await?))
}

async fn log_batch(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    body: Body,
) -> Answer<Empty> {
    apply(&st, body, move |s, b: BatchRequest| {
        s.log_batch(&id, &b.batch, &c.user_or(&b.user))
    })
    .await
}

async fn create_supervised_run(
    State(st): St,
    Extension(c): Extension<Caller>,
    body: Body,
) -> Answer<crate::model::Run> {
    let mut b: SupervisedRunRequest = parse_body(body)?;
    b.run.user = c.user_or(&b.run.user);
    Ok(Json(
        st.write(move |s| s.create_supervised_run(&b.run, &b.supervisor))
            .await?,
    ))
}

async fn set_supervised_child(State(st): St, Path(id): Path<String>, body: Body) -> Answer<Empty> {
    apply(&st, body, move |s, child: crate::model::ChildProcess| {
        s.set_supervised_child(&id, child)
    })
    .await
}

async fn supervised_runs(State(st): St) -> Answer<Vec<crate::model::SupervisedRun>> {
    Ok(Json(st.call(|s| s.supervised_runs()).await?))
}

async fn recover_lost_run(
    State(st): St,
    Extension(c): Extension<Caller>,
    Path(id): Path<String>,
    body: Body,
) -> Answer<Changed> {
    let b: LostRunRecovery = parse_body(body)?;
    let user = c.user_or(&b.user);
    let changed = st
        .write(move |s| s.recover_lost_run(&id, b.expected_offset, &b.rest, &user))
        .await?;
    Ok(Json(Changed { changed }))
}

async fn submit_job(
    State(st): St,
    Extension(c): Extension<Caller>,
    body: Body,
) -> Answer<crate::model::Job> {
    let mut new: NewJob = parse_body(body)?;
    new.user = c.user_or(&new.user);
    Ok(Json(st.write(move |s| s.submit_job(&new)).await?))
}

async fn jobs(State(st): St, Q(q): Q<JobListQuery>) -> Answer<Vec<crate::model::Job>> {
    let query = q.into_query()?;
    Ok(Json(st.call(move |s| s.jobs(&query)).await?))
}

async fn job(State(st): St, P(id): P<JobId>) -> Answer<crate::model::Job> {
    Ok(Json(st.call(move |s| s.job(id)).await?))
}

async fn update_job(State(st): St, P(id): P<JobId>, body: Body) -> Answer<JobUpdateAnswer> {
    let update: JobUpdate = parse_body(body)?;
    let job = st.write(move |s| s.update_job(id, &update)).await?;
    Ok(Json(JobUpdateAnswer { job }))
}

/// Cancels for the token's user when the server knows it, else for the user the body names.
async fn cancel_job(
    State(st): St,
    Extension(c): Extension<Caller>,
    P(id): P<JobId>,
    body: Body,
) -> Answer<crate::model::Job> {
    let b: JobCancel = parse_body(body)?;
    let user = c.user_or(&b.user);
    Ok(Json(st.write(move |s| s.request_cancel(id, &user)).await?))
}

async fn lease(State(st): St, Q(q): Q<LeaseQuery>) -> Answer<LeaseAnswer> {
    let lease = st.call(move |s| s.lease(&q.name)).await?;
    Ok(Json(LeaseAnswer { lease }))
}

async fn acquire_lease(State(st): St, body: Body) -> Answer<LeaseHeld> {
    let b: LeaseRequest = parse_body(body)?;
    let held = st
        .call(move |s| {
            s.acquire_lease(
                &b.name,
                &b.holder,
                b.now,
                b.expires_at,
                b.replacing.as_ref(),
            )
        })
        .await?;
    Ok(Json(LeaseHeld { held }))
}

async fn release_lease(State(st): St, body: Body) -> Answer<Empty> {
    let b: LeaseRelease = parse_body(body)?;
    st.call(move |s| s.release_lease(&b.name, &b.holder))
        .await?;
    Ok(Json(Empty {}))
}

// The data domain: datasets, run inputs, check runs, reviews. Acting users (who registered,
// who ran the checks, who reviewed) come from the token when it names one.

async fn add_dataset_version(
    State(st): St,
    Extension(c): Extension<Caller>,
    body: Body,
) -> Answer<AddedVersion> {
    let mut version: DatasetVersion = parse_body(body)?;
    version.created_by = c.user_or(&version.created_by);
    Ok(Json(
        st.write(move |s| s.add_dataset_version(&version)).await?,
    ))
}

async fn dataset_versions(State(st): St, Q(q): Q<DatasetNameQuery>) -> Answer<Vec<DatasetVersion>> {
    Ok(Json(st.call(move |s| s.dataset_versions(&q.name)).await?))
}

async fn dataset_version(State(st): St, Q(q): Q<DatasetRefQuery>) -> Answer<DatasetVersion> {
    Ok(Json(
        st.call(move |s| s.dataset_version(&q.reference)).await?,
    ))
}

async fn datasets(State(st): St) -> Answer<Vec<DatasetSummary>> {
    Ok(Json(st.call(move |s| s.datasets()).await?))
}

async fn version_readers(State(st): St, Q(q): Q<VersionIdQuery>) -> Answer<Vec<DataRunInput>> {
    Ok(Json(st.call(move |s| s.version_readers(&q.version)).await?))
}

async fn run_data_inputs(State(st): St, Q(q): Q<RunIdQuery>) -> Answer<Vec<DataRunInput>> {
    Ok(Json(st.call(move |s| s.run_inputs(&q.run)).await?))
}

async fn add_run_data_inputs(State(st): St, body: Body) -> Answer<Empty> {
    let b: RunInputsRequest = parse_body(body)?;
    st.write(move |s| s.add_run_inputs(&b.run_id, &b.inputs))
        .await?;
    Ok(Json(Empty {}))
}

async fn record_check_run(
    State(st): St,
    Extension(c): Extension<Caller>,
    body: Body,
) -> Answer<CheckRun> {
    let mut run: NewCheckRun = parse_body(body)?;
    run.user = c.user_or(&run.user);
    Ok(Json(st.write(move |s| s.record_check_run(&run)).await?))
}

async fn check_run(State(st): St, P(id): P<CheckRunId>) -> Answer<CheckRun> {
    Ok(Json(st.call(move |s| s.check_run(id)).await?))
}

async fn check_runs(State(st): St, Q(q): Q<CheckRunListQuery>) -> Answer<Vec<CheckRun>> {
    let query = q.into_query()?;
    Ok(Json(st.call(move |s| s.check_runs(&query)).await?))
}

async fn add_review(State(st): St, Extension(c): Extension<Caller>, body: Body) -> Answer<Review> {
    let mut review: NewReview = parse_body(body)?;
    review.reviewer = c.user_or(&review.reviewer);
    Ok(Json(st.write(move |s| s.add_review(&review)).await?))
}

async fn reviews(State(st): St, Q(q): Q<ReviewListQuery>) -> Answer<Vec<Review>> {
    Ok(Json(
        st.call(move |s| s.reviews(q.check_run, q.result.as_deref()))
            .await?,
    ))
}

// The promotions domain: approvals, evaluations, the hook outbox. The reviewer of an approval
// and the submitter of an evaluation come from the token when it names one.

fn promotion_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/api/v1/promotions/approvals",
            get(approvals).post(add_approval),
        )
        .route(
            "/api/v1/promotions/evaluations",
            get(evaluations).post(add_evaluation),
        )
        .route(
            "/api/v1/promotions/evaluations/update",
            post(update_evaluation),
        )
        .route(
            "/api/v1/promotions/deliveries",
            get(deliveries).post(enqueue_deliveries),
        )
        .route(
            "/api/v1/promotions/deliveries/claim",
            post(claim_deliveries),
        )
        .route(
            "/api/v1/promotions/deliveries/attempt",
            post(record_attempt),
        )
}

async fn add_approval(
    State(st): St,
    Extension(c): Extension<Caller>,
    body: Body,
) -> Answer<Approval> {
    let mut approval: NewApproval = parse_body(body)?;
    approval.reviewer = c.user_or(&approval.reviewer);
    Ok(Json(st.write(move |s| s.add_approval(&approval)).await?))
}

async fn approvals(State(st): St, Q(q): Q<ApprovalListQuery>) -> Answer<Vec<Approval>> {
    Ok(Json(
        st.call(move |s| s.approvals(&q.model, q.version.as_deref()))
            .await?,
    ))
}

async fn add_evaluation(
    State(st): St,
    Extension(c): Extension<Caller>,
    body: Body,
) -> Answer<Evaluation> {
    let b: EvaluationRequest = parse_body(body)?;
    let user = c.user_or(&b.user);
    Ok(Json(
        st.write(move |s| s.add_evaluation(&b.model, &b.version, b.job_id, &user))
            .await?,
    ))
}

async fn update_evaluation(State(st): St, body: Body) -> Answer<Evaluation> {
    let b: EvaluationUpdateRequest = parse_body(body)?;
    Ok(Json(
        st.write(move |s| s.update_evaluation(b.job_id, b.run_id.as_deref(), b.status))
            .await?,
    ))
}

async fn evaluations(State(st): St, Q(q): Q<ModelListQuery>) -> Answer<Vec<Evaluation>> {
    Ok(Json(
        st.call(move |s| s.evaluations(q.model.as_deref())).await?,
    ))
}

async fn enqueue_deliveries(State(st): St, body: Body) -> Answer<Vec<HookDelivery>> {
    let deliveries: Vec<NewDelivery> = parse_body(body)?;
    Ok(Json(
        st.write(move |s| s.enqueue_deliveries(&deliveries)).await?,
    ))
}

async fn claim_deliveries(State(st): St, body: Body) -> Answer<Vec<HookDelivery>> {
    let b: ClaimRequest = parse_body(body)?;
    Ok(Json(
        st.write(move |s| s.claim_deliveries(b.now, b.hold_ms, b.limit, b.ids.as_deref()))
            .await?,
    ))
}

async fn record_attempt(State(st): St, body: Body) -> Answer<HookDelivery> {
    let b: AttemptRequest = parse_body(body)?;
    Ok(Json(
        st.write(move |s| s.record_attempt(&b.id, &b.outcome))
            .await?,
    ))
}

/// The most deliveries one listing returns.
const MAX_DELIVERIES_LISTED: u32 = 1000;

async fn deliveries(State(st): St, Q(q): Q<ModelListQuery>) -> Answer<Vec<HookDelivery>> {
    let limit = q.limit.unwrap_or(100).min(MAX_DELIVERIES_LISTED);
    Ok(Json(
        st.call(move |s| s.deliveries(q.model.as_deref(), limit))
            .await?,
    ))
}

// The models domain: one request type (`api::models::ModelCall`) on two routes, reads and
// writes; `store::http::models::serve` runs it. Acting users come from the token when it names one.

async fn models_query(State(st): St, body: Body) -> Answer<serde_json::Value> {
    let call: crate::api::models::ModelCall = parse_body(body)?;
    if !call.is_read() {
        return Err(ApiError::from(&crate::store::http::models::not_a_read()));
    }
    Ok(Json(
        st.call(move |s| crate::store::http::models::serve(s, call))
            .await?,
    ))
}

async fn models_change(
    State(st): St,
    Extension(c): Extension<Caller>,
    body: Body,
) -> Answer<serde_json::Value> {
    let mut call: crate::api::models::ModelCall = parse_body(body)?;
    if let Some(user) = call.user_mut() {
        *user = c.user_or(user);
    }
    Ok(Json(
        st.write(move |s| crate::store::http::models::serve(s, call))
            .await?,
    ))
}
