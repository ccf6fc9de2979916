//! A do-nothing MLflow tracking server, the benchmark peer that shows the MLflow Python
//! client's own ceiling: every call is answered at once with a fixed, well-formed answer
//! (bodies are read, never parsed or stored; `metrics/get-history` pages through a canned
//! 100,000-point series). `kiroku dev null-mlflow --bind ADDR`.
//!
//! With `--replay FILE` it serves recorded answers instead: FILE holds JSON lines
//! `{"method", "uri", "body", "answer"}` (a request exactly as a client sent it, path and query
//! as on the wire, and the bytes some server answered), and each request is answered with the
//! recorded bytes of the identical request, anything else with a 404. Serving a real server's
//! answers from memory shows what the client itself costs for exactly those answers: the floor
//! under any server for that query.
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

const RUN_ID: &str = "0123456789abcdef0123456789abcdef";

fn run() -> serde_json::Value {
    json!({
        "info": {"run_id": RUN_ID, "run_uuid": RUN_ID, "run_name": "null", "experiment_id": "1",
                 "user_id": "bench", "status": "RUNNING", "start_time": 0,
                 "artifact_uri": format!("mlflow-artifacts:/1/{RUN_ID}/artifacts"),
                 "lifecycle_stage": "active"},
        "data": {"metrics": [], "params": [], "tags": []},
    })
}

/// Points in the canned metric history, served in pages like a real server's, so the client's
/// own cost of reading a 100,000-point history can be measured (the floor for any server).
const HISTORY_POINTS: usize = 100_000;

fn history_page(query: &str) -> serde_json::Value {
    let field = |name: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse::<usize>().ok())
    };
    let start = field("page_token").unwrap_or(0).min(HISTORY_POINTS);
    let end = (start + field("max_results").unwrap_or(HISTORY_POINTS)).min(HISTORY_POINTS);
    let metrics: Vec<serde_json::Value> = (start..end)
        .map(|i| json!({"key": "loss", "value": 1.0 / (i as f64 + 1.0), "timestamp": 1_700_000_000_000i64 + i as i64, "step": i}))
        .collect();
    let mut page = json!({"metrics": metrics});
    if end < HISTORY_POINTS {
        page["next_page_token"] = json!(end.to_string());
    }
    page
}

async fn answer(uri: Uri, _body: Bytes) -> Response {
    let path = uri.path();
    let tail = path.rsplit("/mlflow/").next().unwrap_or(path);
    let experiment = json!({"experiment_id": "1", "name": "bench", "lifecycle_stage": "active",
                            "artifact_location": "mlflow-artifacts:/1"});
    let body = match tail {
        "experiments/get-by-name" | "experiments/get" => json!({"experiment": experiment}),
        "experiments/create" => json!({"experiment_id": "1"}),
        "experiments/search" => json!({"experiments": [experiment]}),
        "runs/create" | "runs/get" => json!({"run": run()}),
        "runs/update" => json!({"run_info": run()["info"]}),
        "runs/search" => json!({"runs": []}),
        "metrics/get-history" => history_page(uri.query().unwrap_or("")),
        _ => json!({}),
    };
    Json(body).into_response()
}

/// One recorded exchange of a replay file.
#[derive(Deserialize)]
struct Recorded {
    method: String,
    uri: String,
    #[serde(default)]
    body: String,
    answer: String,
}

/// Recorded answers by (method, path and query, request body).
type Recording = HashMap<(String, String, Bytes), Bytes>;

/// Reads a replay file (JSON lines of `Recorded`).
fn read_recording(path: &std::path::Path) -> std::io::Result<Recording> {
    let text = std::fs::read_to_string(path)?;
    let mut out = Recording::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let r: Recorded = serde_json::from_str(line).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}:{}: {e}", path.display(), n + 1),
            )
        })?;
        out.insert(
            (r.method, r.uri, Bytes::from(r.body)),
            Bytes::from(r.answer),
        );
    }
    Ok(out)
}

async fn replay(
    State(recording): State<Arc<Recording>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let wire = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
    match recording.get(&(method.as_str().to_string(), wire.to_string(), body)) {
        Some(answer) => {
            ([(header::CONTENT_TYPE, "application/json")], answer.clone()).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"error_code": "ENDPOINT_NOT_FOUND",
                        "message": format!("no recorded answer for {method} {wire}")})),
        )
            .into_response(),
    }
}

/// Answers every route: with the recording's answers when given one, else the fixed answers.
pub fn router(recording: Option<Recording>) -> Router {
    let router = match recording {
        Some(recording) => Router::new()
            .route("/", any(replay))
            .route("/{*path}", any(replay))
            .with_state(Arc::new(recording)),
        None => Router::new()
            .route("/", any(answer))
            .route("/{*path}", any(answer)),
    };
    router.layer(axum::extract::DefaultBodyLimit::max(64 << 20))
}

/// Serves until Ctrl-C, replaying the answers of `replay_file` when given one.
pub fn serve_blocking(
    bind: std::net::SocketAddr,
    replay_file: Option<&std::path::Path>,
) -> std::io::Result<()> {
    let recording = replay_file.map(read_recording).transpose()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(bind).await?;
        println!("null MLflow server on http://{}", listener.local_addr()?);
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        let limits = super::conn::ConnectionLimits::default();
        super::conn::serve_connections(listener, None, router(recording), limits, shutdown).await
    })
}
