//! The pipelines' cache over HTTP (`/api/v1/pipelines/...`, the other side of
//! `store::http::pipelines`): content objects stream up (`PUT objects/{id}`, checked against
//! its md5 by the store, bounded by `Limits::max_artifact`) and down (`GET objects/{id}`);
//! which objects are present is asked in one batch (`POST objects/present`); run-cache
//! entries are JSON (`GET`/`POST run-cache`), recorded as the token's user when it names one.
use super::artifacts::{feed, too_large, ChannelReader, Feed, Piece, UPLOAD_SLOTS};
use super::auth::Caller;
use super::errors::invalid;
use super::kiroku_api::{parse_body, P, Q};
use super::AppState;
use crate::api::{
    ApiError, Empty, ObjectStored, ObjectsPresent, ObjectsPresentQuery, RunCacheKeyQuery,
};
use crate::model::pipeline::RunCacheEntry;
use axum::body::Body;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use std::sync::Arc;

type St = State<Arc<AppState>>;

pub fn routes(max_object: usize) -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/pipelines/objects/present", post(present))
        .route(
            "/api/v1/pipelines/objects/{id}",
            get(download)
                .put(upload)
                .layer(DefaultBodyLimit::max(max_object)),
        )
        .route(
            "/api/v1/pipelines/run-cache",
            get(run_cache_entry).post(record_run_cache),
        )
}

async fn present(
    State(st): St,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Result<Json<ObjectsPresent>, ApiError> {
    let q: ObjectsPresentQuery = parse_body(body)?;
    crate::limits::list_len("ids", q.ids.len(), 100_000)?;
    let present = st.call(move |s| s.has_objects(&q.ids)).await?;
    Ok(Json(ObjectsPresent { present }))
}

/// Streams the body into the store as `artifacts::upload` does for artifacts.
async fn upload(
    State(st): St,
    P(id): P<String>,
    body: Body,
) -> Result<Json<ObjectStored>, ApiError> {
    if !crate::model::pipeline::is_object_id(&id) {
        return Err(invalid(format!("'{id}' is no cache object id")));
    }
    let max = st.limits.max_artifact;
    let _slot = UPLOAD_SLOTS
        .acquire()
        .await
        .map_err(|_| ApiError::new("TEMPORARILY_UNAVAILABLE", "the server is stopping"))?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Piece>(8);
    let store = Arc::clone(&st.store);
    let stored = tokio::task::spawn_blocking(move || {
        store.put_object(&id, Box::new(ChannelReader::new(rx)))
    });
    let fed = feed(body, &tx, max).await;
    drop(tx);
    let stored = stored
        .await
        .map_err(|e| ApiError::new("INTERNAL_ERROR", format!("upload task failed: {e}")))?;
    match fed {
        Feed::TooLarge => return Err(too_large(max)),
        Feed::Broken(e) => return Err(invalid(format!("could not read the request body: {e}"))),
        Feed::Done => {}
    }
    let size = stored?;
    Ok(Json(ObjectStored { size }))
}

/// Sends the object in pieces as it is read (from the store's own file, as artifact downloads
/// are).
async fn download(State(st): St, P(id): P<String>) -> Result<Response, ApiError> {
    let lookup = id.clone();
    let path = st.call(move |s| s.object_file(&lookup)).await?;
    let path =
        path.ok_or_else(|| ApiError::new("NOT_IMPLEMENTED", "this store keeps no cache files"))?;
    let file = tokio::task::spawn_blocking(move || std::fs::File::open(path))
        .await
        .map_err(|e| ApiError::new("INTERNAL_ERROR", format!("file task failed: {e}")))?
        .map_err(|e| {
            ApiError::from(crate::error::KirokuError::io(
                format!("reading cache object {id}"),
                e,
            ))
        })?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let stream =
        tokio_util::io::ReaderStream::with_capacity(tokio::fs::File::from_std(file), 256 * 1024);
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, len.to_string()),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

async fn record_run_cache(
    State(st): St,
    Extension(c): Extension<Caller>,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Result<Json<Empty>, ApiError> {
    let mut entry: RunCacheEntry = parse_body(body)?;
    entry.user = c.user_or(&entry.user);
    st.write(move |s| s.record_run_cache(&entry)).await?;
    Ok(Json(Empty {}))
}

async fn run_cache_entry(
    State(st): St,
    Q(q): Q<RunCacheKeyQuery>,
) -> Result<Json<Option<RunCacheEntry>>, ApiError> {
    Ok(Json(st.call(move |s| s.run_cache_entry(&q.key)).await?))
}
