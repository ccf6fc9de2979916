//! MLflow's artifact proxy (`/api/2.0/mlflow-artifacts/artifacts/...`): runs' artifact URIs are
//! `mlflow-artifacts:/<exp>/<run>/artifacts`, which the MLflow client turns into uploads
//! (`PUT`), downloads (`GET .../<path>`) and listings (`GET ...?path=<dir>`) here.
//!
//! Files land in the run's own folder (`runs/<id>/artifacts/<path>`, where `kiroku log artifact`
//! puts them too) and are recorded with their size and SHA-256. Paths are checked component by
//! component (`files::safe_relative`): `..`, absolute paths and NUL bytes are refused with 400,
//! so nothing escapes the run's folder. Uploads are bounded by `Limits::max_artifact` (413).
use super::errors::{body_rejection, invalid, not_found};
use super::kiroku_api::Q;
use super::AppState;
use crate::api::ApiError;
use crate::ingest::files::safe_relative;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::header;
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

/// A proxy path split into the run and the path inside its artifacts.
struct Target {
    run_id: String,
    /// Relative to the run's `artifacts/` folder; empty for the folder itself.
    rel: PathBuf,
}

fn parse_target(path: &str) -> Result<Target, ApiError> {
    if path.contains('\0') || path.starts_with('/') || path.contains('\\') {
        return Err(invalid(format!("Invalid artifact path: '{path}'")));
    }
    let mut parts = path.trim_end_matches('/').splitn(4, '/');
    let (_exp, run, folder) = (parts.next(), parts.next(), parts.next());
    let rest = parts.next().unwrap_or("");
    match (run, folder) {
        (Some(run), Some("artifacts")) if crate::ids::is_full_run_id(run) => {
            let rel = if rest.is_empty() {
                PathBuf::new()
            } else {
                safe_relative(rest).map_err(ApiError::from)?
            };
            Ok(Target {
                run_id: run.to_ascii_lowercase(),
                rel,
            })
        }
        _ => Err(invalid(format!(
            "Invalid artifact path: '{path}' (expected <experiment>/<run>/artifacts/<path>)"
        ))),
    }
}

/// The run's artifacts folder on this server; 404 for unknown runs.
async fn artifacts_dir(st: &Arc<AppState>, run_id: &str) -> Result<PathBuf, ApiError> {
    let id = run_id.to_string();
    let dir = st
        .call(move |s| {
            s.run(&id)?;
            Ok(s.run_dir(&id))
        })
        .await
        .map_err(|e| {
            if e.status() == 404 {
                not_found(format!("Run with id={run_id} not found"))
            } else {
                e
            }
        })?;
    dir.map(|d| d.join("artifacts"))
        .ok_or_else(|| ApiError::new("NOT_IMPLEMENTED", "this store keeps no artifact files"))
}

/// File-system work off the reactor (tokio's `fs` feature would do the same, with more code).
async fn on_disk<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new("INTERNAL_ERROR", format!("file task failed: {e}")))
}

async fn upload(
    State(st): St,
    Path(path): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let target = parse_target(&path)?;
    if target.rel.as_os_str().is_empty() {
        return Err(invalid("an upload needs a file path below artifacts/"));
    }
    let bytes = body.map_err(body_rejection)?;
    let rel_text = target.rel.to_string_lossy().replace('\\', "/");
    let run_id = target.run_id.clone();
    st.write(move |s| s.upload_artifact(&run_id, &rel_text, &bytes))
        .await
        .map_err(|e| {
            if e.status() == 404 {
                not_found(format!("Run with id={} not found", target.run_id))
            } else {
                e
            }
        })?;
    Ok(Json(json!({})))
}

async fn download(State(st): St, Path(path): Path<String>) -> Result<Response, ApiError> {
    let target = parse_target(&path)?;
    let file = artifacts_dir(&st, &target.run_id).await?.join(&target.rel);
    match on_disk(move || std::fs::read(file)).await? {
        Ok(bytes) => {
            let name = target
                .rel
                .file_name()
                .map(|n| n.to_string_lossy().replace('"', ""))
                .unwrap_or_default();
            Ok((
                [
                    (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}\""),
                    ),
                ],
                bytes,
            )
                .into_response())
        }
        Err(_) => Err(not_found(format!("No artifact at '{path}'"))),
    }
}

async fn remove(State(st): St, Path(path): Path<String>) -> Result<Json<Value>, ApiError> {
    let target = parse_target(&path)?;
    if target.rel.as_os_str().is_empty() {
        return Err(invalid("refusing to delete a run's whole artifacts folder"));
    }
    let file = artifacts_dir(&st, &target.run_id).await?.join(&target.rel);
    let removed = on_disk(move || {
        if file.is_dir() {
            std::fs::remove_dir_all(&file)
        } else {
            std::fs::remove_file(&file)
        }
    })
    .await?;
    removed.map_err(|_| not_found(format!("No artifact at '{path}'")))?;
    Ok(Json(json!({})))
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    path: String,
}

async fn list(State(st): St, Q(q): Q<ListQuery>) -> Result<Json<Value>, ApiError> {
    if q.path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .count()
        < 3
    {
        // Above a run's artifacts folder there is nothing to list through this proxy.
        parse_target(&q.path).ok();
        return Ok(Json(json!({"files": []})));
    }
    let target = parse_target(&q.path)?;
    let dir = artifacts_dir(&st, &target.run_id).await?.join(&target.rel);
    let files = on_disk(move || read_listing(&dir, "")).await?;
    Ok(Json(json!({"files": files})))
}

/// The entries of one folder as MLflow `FileInfo`s (`path` is `prefix` + the name), sorted by
/// path; nothing for a file or a missing folder, as MLflow's local repository answers.
fn read_listing(dir: &std::path::Path, prefix: &str) -> Vec<Value> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(meta) = entry.metadata() else {
            continue;
        };
        if name.ends_with(".kiroku-partial") {
            continue;
        }
        let mut f = json!({"path": format!("{prefix}{name}"), "is_dir": meta.is_dir()});
        if meta.is_file() {
            f["file_size"] = json!(meta.len());
        }
        files.push(f);
    }
    files.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
    files
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
    let mut dir = artifacts_dir(st, run_id).await?;
    let prefix = match &rel {
        Some(rel) => {
            dir = dir.join(rel);
            format!("{}/", rel.to_string_lossy().replace('\\', "/"))
        }
        None => String::new(),
    };
    let files = on_disk(move || read_listing(&dir, &prefix)).await?;
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
}
