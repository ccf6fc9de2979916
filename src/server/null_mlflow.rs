//! A do-nothing MLflow tracking server, the benchmark peer that shows the MLflow Python
//! client's own ceiling: every call is answered at once with a fixed, well-formed answer
//! (bodies are read, never parsed or stored; `metrics/get-history` pages through a canned
//! 100,000-point series). `kiroku dev null-mlflow --bind ADDR`.
use axum::body::Bytes;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::json;

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

/// Answers every route.
pub fn router() -> Router {
    Router::new()
        .route("/", any(answer))
        .route("/{*path}", any(answer))
        .layer(axum::extract::DefaultBodyLimit::max(64 << 20))
}

/// Serves until Ctrl-C.
pub fn serve_blocking(bind: std::net::SocketAddr) -> std::io::Result<()> {
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
        super::conn::serve_connections(listener, None, router(), limits, shutdown).await
    })
}
