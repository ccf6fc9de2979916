//! MLflow's artifact proxy (`/api/2.0/mlflow-artifacts/artifacts/...`): runs' artifact URIs are
//! `mlflow-artifacts:/<exp>/<run>/artifacts`, which the MLflow client turns into uploads
//! (`PUT`), downloads (`GET .../<path>`) and listings (`GET ...?path=<dir>`) here.
//!
//! Files land in the run's own folder (`runs/<id>/artifacts/<path>`, where `kiroku log artifact`
//! puts them too) and are recorded with their size and SHA-256. Paths are checked component by
//! component (`fsutil::safe_relative`): `..`, absolute paths and NUL bytes are refused with 400,
//! so nothing escapes the run's folder by name, and the files are reached without following
//! links (`store::run_files`), so nothing escapes it through a link planted in the folder.
//!
//! Bodies stream both ways: a download is sent in pieces as it is read, an upload goes to the
//! store as it arrives (see `upload`), bounded by `Limits::max_artifact` (413). Neither is ever
//! held whole in memory.
use super::errors::{invalid, not_found};
use super::kiroku_api::Q;
use super::AppState;
use crate::api::ApiError;
use crate::fsutil::safe_relative;
use crate::store::run_files::{self, RunFiles};
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;

type St = State<Arc<AppState>>;

pub fn routes(max_artifact: usize) -> Router<Arc<AppState>> {
    let proxy = Router::new()
        .route("/artifacts", get(list))
        .route(
            "/artifacts/{*path}",
            get(download).put(upload).delete(remove),
        )
        .layer(DefaultBodyLimit::max(max_artifact));
    Router::new()
        .nest("/api/2.0/mlflow-artifacts", proxy.clone())
        .nest("/ajax-api/2.0/mlflow-artifacts", proxy)
}

/// Whose files a proxy path names: a run's, or a logged model's.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Owner {
    Run(String),
    Model(String),
}

/// A proxy path split into its owner and the path inside the owner's artifacts.
pub(super) struct Target {
    pub owner: Owner,
    /// Relative to the owner's `artifacts/` folder; empty for the folder itself.
    rel: PathBuf,
}

/// Whether `s` is a logged model id (`m-` and 32 hex digits).
fn is_model_id(s: &str) -> bool {
    s.strip_prefix("m-").is_some_and(crate::ids::is_full_run_id)
}

/// `<exp>/<run>/artifacts/<path>` or `<exp>/models/<model id>/artifacts/<path>`.
pub(super) fn parse_target(path: &str) -> Result<Target, ApiError> {
    if path.contains('\0') || path.starts_with('/') || path.contains('\\') {
        return Err(invalid(format!("Invalid artifact path: '{path}'")));
    }
    let parts: Vec<&str> = path.trim_end_matches('/').splitn(5, '/').collect();
    let (owner, rest) = match parts.as_slice() {
        [_exp, "models", model, "artifacts", rest @ ..] if is_model_id(model) => (
            Owner::Model(model.to_ascii_lowercase()),
            rest.first().copied().unwrap_or(""),
        ),
        [_exp, run, "artifacts", rest @ ..] if crate::ids::is_full_run_id(run) => {
            let rest = match rest {
                [] => String::new(),
                more => more.join("/"),
            };
            return Ok(Target {
                owner: Owner::Run(run.to_ascii_lowercase()),
                rel: relative(&rest)?,
            });
        }
        _ => {
            return Err(invalid(format!(
                "Invalid artifact path: '{path}' (expected <experiment>/<run>/artifacts/<path> or <experiment>/models/<model id>/artifacts/<path>)"
            )))
        }
    };
    Ok(Target {
        owner,
        rel: relative(rest)?,
    })
}

fn relative(rest: &str) -> Result<PathBuf, ApiError> {
    if rest.is_empty() {
        Ok(PathBuf::new())
    } else {
        safe_relative(rest).map_err(ApiError::from)
    }
}

/// The folder of the owner's files on this server (its `artifacts/` is below); 404 in MLflow's
/// words for an unknown run or logged model. A deleted logged model's files are still served
/// (MLflow's `allow_deleted` reads).
async fn owner_dir(st: &Arc<AppState>, owner: &Owner) -> Result<PathBuf, ApiError> {
    let (missing, looked_up) = match owner.clone() {
        Owner::Run(id) => (
            format!("Run with id={id} not found"),
            st.call(move |s| {
                s.run(&id)?;
                Ok(s.run_dir(&id))
            })
            .await,
        ),
        Owner::Model(id) => (
            format!("Logged model with ID '{id}' not found."),
            st.call(move |s| {
                s.logged_model(&id, true)?;
                Ok(s.logged_model_dir(&id))
            })
            .await,
        ),
    };
    let dir = looked_up.map_err(|e| {
        if e.status() == 404 {
            not_found(missing)
        } else {
            e
        }
    })?;
    dir.ok_or_else(|| ApiError::new("NOT_IMPLEMENTED", "this store keeps no artifact files"))
}

/// File-system work off the reactor (tokio's `fs` feature would do the same, with more code).
async fn on_disk<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new("INTERNAL_ERROR", format!("file task failed: {e}")))
}

/// What the upload's query may carry besides the path: where the file came from (kiroku's
/// own client sends it; MLflow's never does).
#[derive(Deserialize)]
struct UploadQuery {
    location: Option<String>,
}

/// A body too large for `Limits::max_artifact`.
pub(super) fn too_large(max: usize) -> ApiError {
    ApiError::new(
        "PAYLOAD_TOO_LARGE",
        format!("artifact is larger than this server's limit of {max} bytes"),
    )
}

/// How many uploads stream into the store at once. Each holds a blocking thread while its
/// body arrives; the rest wait (without a thread) so that slow uploads cannot take every
/// blocking thread from downloads and listings.
const CONCURRENT_UPLOADS: usize = 32;

pub(super) static UPLOAD_SLOTS: tokio::sync::Semaphore =
    tokio::sync::Semaphore::const_new(CONCURRENT_UPLOADS);

/// Streams the body into the store: the store's upload runs on a blocking thread and reads
/// from a channel this task fills as the body arrives (a few pieces of backlog at most), so
/// an upload costs a small, fixed amount of memory whatever its size.
async fn upload(
    State(st): St,
    Path(path): Path<String>,
    Q(q): Q<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let target = parse_target(&path)?;
    if target.rel.as_os_str().is_empty() {
        return Err(invalid("an upload needs a file path below artifacts/"));
    }
    let max = st.limits.max_artifact;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large(max));
    }
    // Unknown owners are refused before a byte is read (MLflow's message).
    let dir = owner_dir(&st, &target.owner).await?;
    let _slot = UPLOAD_SLOTS
        .acquire()
        .await
        .map_err(|_| ApiError::new("TEMPORARILY_UNAVAILABLE", "the server is stopping"))?;
    let rel_text = target.rel.to_string_lossy().replace('\\', "/");
    let (tx, rx) = tokio::sync::mpsc::channel::<Piece>(8);
    let store = Arc::clone(&st.store);
    let owner = target.owner.clone();
    let rel = target.rel.clone();
    let stored = tokio::task::spawn_blocking(move || {
        let reader = Box::new(ChannelReader::new(rx));
        match owner {
            Owner::Run(run_id) => store
                .upload_artifact(&run_id, &rel_text, reader, q.location.as_deref())
                .map(|_| ()),
            Owner::Model(_) => store_model_file(&dir, &rel, &rel_text, reader),
        }
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
    stored?;
    st.changed.notify_waiters();
    Ok(Json(json!({})))
}

/// Streams a logged model's file into `dir/artifacts/<rel>`: a unique temporary beside it,
/// synced, then renamed into place (as a run's artifacts, without their records: a logged
/// model's files are listed from its folder).
fn store_model_file(
    dir: &std::path::Path,
    rel: &std::path::Path,
    rel_text: &str,
    mut data: Box<dyn std::io::Read + Send>,
) -> crate::error::Result<()> {
    use crate::error::KirokuError;
    std::fs::create_dir_all(dir)
        .map_err(|e| KirokuError::io("creating the logged model's folder", e))?;
    let files = RunFiles::open(dir, "artifacts", true)
        .map_err(|e| run_files::artifact_error(e, rel_text))?;
    let mut partial = files
        .create_partial(rel)
        .map_err(|e| run_files::artifact_error(e, rel_text))?;
    crate::fsutil::copy_hashing(&mut data, Some(partial.file() as &mut dyn std::io::Write))
        .map_err(|e| KirokuError::io(format!("storing artifact '{rel_text}'"), e))?;
    partial
        .file()
        .sync_data()
        .map_err(|e| KirokuError::io(format!("storing artifact '{rel_text}'"), e))?;
    partial
        .commit()
        .map_err(|e| run_files::artifact_error(e, rel_text))
}

/// How feeding an upload's body ended.
pub(super) enum Feed {
    Done,
    TooLarge,
    Broken(String),
}

/// What `feed` hands the store's reader.
pub(super) enum Piece {
    Data(Bytes),
    /// The whole body arrived.
    End,
    /// The body is unusable: the store gives the upload up.
    Fail(&'static str),
}

/// Passes the body's pieces to the store's reader, counting them against `max`. A `Fail` makes
/// the store give the upload up (removing its temporary). When the store stops reading early (a
/// refused upload) the rest of the body is read and dropped, so the client gets the refusal
/// rather than a connection closed under it.
pub(super) async fn feed(
    mut body: Body,
    tx: &tokio::sync::mpsc::Sender<Piece>,
    max: usize,
) -> Feed {
    let mut received = 0usize;
    let mut store_reading = true;
    loop {
        let frame = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await;
        let bytes = match frame {
            None => {
                let _ = tx.send(Piece::End).await;
                return Feed::Done;
            }
            Some(Err(e)) => {
                let _ = tx.send(Piece::Fail("the upload broke off")).await;
                return Feed::Broken(e.to_string());
            }
            Some(Ok(frame)) => match frame.into_data() {
                Ok(bytes) => bytes,
                Err(_) => continue, // trailers
            },
        };
        received = received.saturating_add(bytes.len());
        if received > max {
            let _ = tx.send(Piece::Fail("the upload is too large")).await;
            return Feed::TooLarge;
        }
        // When the store stopped reading (it failed), its answer says why.
        if store_reading && tx.send(Piece::Data(bytes)).await.is_err() {
            store_reading = false;
        }
    }
}

/// The blocking side of an upload: `Read` over the pieces `feed` sends. Only `Piece::End` is
/// the end of the file; a sender gone without it (the request was dropped midway) is an error,
/// so a cut-off upload is never stored as if complete.
pub(super) struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Piece>,
    piece: Bytes,
    ended: bool,
}

impl ChannelReader {
    pub(super) fn new(rx: tokio::sync::mpsc::Receiver<Piece>) -> Self {
        ChannelReader {
            rx,
            piece: Bytes::new(),
            ended: false,
        }
    }
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.piece.is_empty() {
            if self.ended {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Piece::Data(bytes)) => self.piece = bytes,
                Some(Piece::End) => self.ended = true,
                Some(Piece::Fail(why)) => return Err(std::io::Error::other(why)),
                None => return Err(std::io::Error::other("the upload was cut off")),
            }
        }
        let n = buf.len().min(self.piece.len());
        buf[..n].copy_from_slice(&self.piece[..n]);
        self.piece = self.piece.slice(n..);
        Ok(n)
    }
}

/// Sends the file in pieces as it is read; only regular files inside the run's folder, reached
/// without following links, are served.
async fn download(State(st): St, Path(path): Path<String>) -> Result<Response, ApiError> {
    let target = parse_target(&path)?;
    let dir = owner_dir(&st, &target.owner).await?;
    let rel = target.rel.clone();
    let opened = on_disk(move || {
        let file = RunFiles::open(&dir, "artifacts", false)?.open_file(&rel)?;
        let len = file.metadata()?.len();
        Ok::<_, std::io::Error>((file, len))
    })
    .await?;
    let Ok((file, len)) = opened else {
        return Err(not_found(format!("No artifact at '{path}'")));
    };
    let name = target
        .rel
        .file_name()
        .map(|n| n.to_string_lossy().replace(['"', '\r', '\n'], ""))
        .unwrap_or_default();
    let stream =
        tokio_util::io::ReaderStream::with_capacity(tokio::fs::File::from_std(file), 64 * 1024);
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, len.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Deletes the file or folder and its records (through the store, which keeps them together).
async fn remove(State(st): St, Path(path): Path<String>) -> Result<Json<Value>, ApiError> {
    let target = parse_target(&path)?;
    if target.rel.as_os_str().is_empty() {
        return Err(invalid("refusing to delete a run's whole artifacts folder"));
    }
    let rel_text = target.rel.to_string_lossy().replace('\\', "/");
    let removed = match target.owner.clone() {
        Owner::Run(run_id) => {
            st.write(move |s| s.delete_artifact(&run_id, &rel_text))
                .await
        }
        owner @ Owner::Model(_) => {
            let dir = owner_dir(&st, &owner).await?;
            let rel = target.rel.clone();
            let shown = path.clone();
            on_disk(move || {
                RunFiles::open(&dir, "artifacts", false)
                    .and_then(|f| f.remove(&rel))
                    .map_err(|e| {
                        if run_files::is_absent(&e) {
                            crate::error::KirokuError::NotFound(format!("no artifact at '{shown}'"))
                        } else {
                            run_files::artifact_error(e, &shown)
                        }
                    })
            })
            .await?
            .map_err(ApiError::from)
        }
    };
    removed.map_err(|e| {
        if e.status() == 404 {
            not_found(format!("No artifact at '{path}'"))
        } else {
            e
        }
    })?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    path: String,
}

async fn list(State(st): St, Q(q): Q<ListQuery>) -> Result<Json<Value>, ApiError> {
    let segments: Vec<&str> = q
        .path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    if segments.len() < 3 || (segments[1] == "models" && segments.len() < 4) {
        // Above a run's artifacts folder there is nothing to list through this proxy.
        parse_target(&q.path).ok();
        return Ok(Json(json!({"files": []})));
    }
    let target = parse_target(&q.path)?;
    let dir = owner_dir(&st, &target.owner).await?;
    let files = on_disk(move || read_listing(&dir, &target.rel, "")).await?;
    Ok(Json(json!({"files": files})))
}

/// The entries of the run's artifact folder `rel` as MLflow `FileInfo`s (`path` is `prefix` +
/// the name), sorted by path; nothing for a file or a missing folder, as MLflow's local
/// repository answers. Links are never followed, nor listed.
fn read_listing(run_dir: &std::path::Path, rel: &std::path::Path, prefix: &str) -> Vec<Value> {
    let entries = RunFiles::open(run_dir, "artifacts", false).and_then(|f| f.list(rel));
    let entries = match entries {
        Ok(entries) => entries,
        Err(e) if run_files::is_absent(&e) => Vec::new(),
        Err(e) => {
            eprintln!(
                "kiroku serve: listing artifacts in {}: {e}",
                run_dir.display()
            );
            Vec::new()
        }
    };
    entries
        .into_iter()
        .map(|e| {
            let mut f = json!({"path": format!("{prefix}{}", e.name), "is_dir": e.is_dir});
            if let Some(size) = e.size {
                f["file_size"] = json!(size);
            }
            f
        })
        .collect()
}

/// MLflow's tracking-side listing (`GET /api/2.0/mlflow/artifacts/list?run_id=..&path=..`):
/// `{"root_uri", "files"}` for one folder of the run's artifacts, with paths relative to the
/// root (`model/weights.txt`). MLflow does not page it; `page_token` is accepted and ignored.
pub async fn list_run_artifacts(
    st: &Arc<AppState>,
    run_id: &str,
    root_uri: String,
    path: Option<&str>,
) -> Result<Json<Value>, ApiError> {
    list_folder(st, Owner::Run(run_id.to_string()), root_uri, path).await
}

/// MLflow's `logged-models/{id}/artifacts/directories`: one folder of a logged model's files,
/// as `list_run_artifacts` answers for a run.
pub async fn list_model_artifacts(
    st: &Arc<AppState>,
    model_id: &str,
    root_uri: String,
    path: Option<&str>,
) -> Result<Json<Value>, ApiError> {
    list_folder(st, Owner::Model(model_id.to_string()), root_uri, path).await
}

async fn list_folder(
    st: &Arc<AppState>,
    owner: Owner,
    root_uri: String,
    path: Option<&str>,
) -> Result<Json<Value>, ApiError> {
    let rel = match path
        .map(|p| p.trim_end_matches('/'))
        .filter(|p| !p.is_empty())
    {
        Some(p) if p.contains(['\\', '\0']) || p.starts_with('/') => {
            return Err(invalid(format!("Invalid path: '{p}'")))
        }
        Some(p) => Some(safe_relative(p).map_err(ApiError::from)?),
        None => None,
    };
    let dir = owner_dir(st, &owner).await?;
    let prefix = match &rel {
        Some(rel) => format!("{}/", rel.to_string_lossy().replace('\\', "/")),
        None => String::new(),
    };
    let rel = rel.unwrap_or_default();
    let files = on_disk(move || read_listing(&dir, &rel, &prefix)).await?;
    Ok(Json(json!({"root_uri": root_uri, "files": files})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_paths_cannot_escape_the_run() {
        let run = "0123456789abcdef0123456789abcdef";
        let ok = parse_target(&format!("1/{run}/artifacts/model/m.pkl")).unwrap();
        assert_eq!(ok.rel, PathBuf::from("model/m.pkl"));
        assert_eq!(ok.owner, Owner::Run(run.into()));
        let model = parse_target(&format!("1/models/m-{run}/artifacts/sub/MLmodel")).unwrap();
        assert_eq!(model.owner, Owner::Model(format!("m-{run}")));
        assert_eq!(model.rel, PathBuf::from("sub/MLmodel"));
        assert!(parse_target(&format!("1/models/m-{run}/artifacts/../x")).is_err());
        assert!(parse_target(&format!("1/models/{run}/artifacts/x")).is_err());
        for bad in [
            format!("1/{run}/artifacts/../../etc/passwd"),
            format!("1/{run}/artifacts/a/../../x"),
            format!("/1/{run}/artifacts/x"),
            format!("1/{run}/artifacts/a\0b"),
            "1/notarun/artifacts/x".to_string(),
            format!("1/{run}/other/x"),
        ] {
            assert!(parse_target(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_upload_dropped_midway_is_an_error_not_the_end_of_the_file() {
        use std::io::Read;
        let read_all = |pieces: Vec<Piece>| {
            let (tx, rx) = tokio::sync::mpsc::channel(pieces.len() + 1);
            for p in pieces {
                tx.try_send(p).ok().unwrap();
            }
            drop(tx);
            let mut out = Vec::new();
            ChannelReader::new(rx).read_to_end(&mut out).map(|_| out)
        };
        let data = |b: &'static [u8]| Piece::Data(Bytes::from_static(b));
        assert_eq!(
            read_all(vec![data(b"ab"), data(b"c"), Piece::End]).unwrap(),
            b"abc"
        );
        assert!(read_all(vec![data(b"ab")]).is_err());
        assert!(read_all(vec![data(b"ab"), Piece::Fail("too large")]).is_err());
    }
}
