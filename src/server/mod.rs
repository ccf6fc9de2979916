//! `kiroku serve`: one store over HTTP. kiroku's own API (`/api/v1`, everything the TUI and
//! the commands do, see `kiroku_api`), the MLflow tracking API (`/api/2.0/mlflow` and
//! `/ajax-api/2.0/mlflow`, see `mlflow_api`) and MLflow's artifact proxy (`artifacts`).
//!
//! The store is synchronous (SQLite); every store call runs under `block_in_place` (see
//! `AppState::call`), never on the reactor. Writers wake long-polling watchers at once; writes by other processes sharing
//! the store file are noticed by a slow re-check while a watcher waits.
pub mod access;
pub mod artifacts;
pub mod auth;
pub mod conn;
pub mod errors;
pub mod job_scope;
pub mod kiroku_api;
pub mod mlflow_api;
pub mod null_mlflow;
pub mod pipeline_cache;
pub mod tls;

use crate::api::ApiError;
use crate::error::{KirokuError, Result};
use crate::store::{SqliteStore, Store};
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::Router;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::Notify;

/// Request size and connection bounds.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest JSON body (bytes).
    pub max_body: usize,
    /// Largest artifact upload (bytes).
    pub max_artifact: usize,
    /// How many connections, and how long each may take to say what it wants.
    pub connections: conn::ConnectionLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: 16 << 20,
            max_artifact: 512 << 20,
            connections: conn::ConnectionLimits::default(),
        }
    }
}

/// What every handler shares.
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// Where tokens live; `None` serves without authentication (loopback clients only).
    pub tokens: Option<Arc<SqliteStore>>,
    pub limits: Limits,
    /// Woken after every write through this server.
    pub changed: Notify,
    /// Set (and `changed` woken) when the server begins to shut down, so long polls end at once
    /// instead of holding the graceful shutdown for their whole timeout.
    pub stopping: std::sync::atomic::AtomicBool,
    pub(crate) token_cache: auth::TokenCache,
    /// The model registry's settings and what follows its changes (MLflow's API).
    pub registry: RegistrySettings,
}

/// What `kiroku serve` brings to the model registry beyond the store: `[models]` of the
/// project's `kiroku.toml` beside the store (each alias's gate, the hooks), and what happens
/// after MLflow's API registers a version or queues hook deliveries. The two callbacks are set
/// by `cli::serve`, which may submit jobs (an evaluation) and deliver the outbox; the server's
/// layer may not.
#[derive(Default)]
pub struct RegistrySettings {
    /// The settings of a model as the configuration files say now (`models::live_settings`:
    /// re-read when they change; an error names the file, line and key of a broken edit).
    /// None: no model has settings.
    #[allow(clippy::type_complexity)]
    pub models: Option<
        Box<dyn Fn(&str) -> crate::error::Result<crate::config::models::ModelConfig> + Send + Sync>,
    >,
    /// After a version is created through MLflow's API (submits its evaluation, queues its
    /// `version_created` hooks). Errors are logged, never the client's.
    #[allow(clippy::type_complexity)]
    pub version_created: Option<Box<dyn Fn(&crate::model::registry::ModelVersion) + Send + Sync>>,
    /// After an alias move queued hook deliveries (wakes the outbox drainer).
    pub hooks_queued: Option<Box<dyn Fn() + Send + Sync>>,
    /// The job a job token (`models::job_tokens`) was issued for, by the token's id: its
    /// writes are limited to that job's run (`job_scope`). None: the server issues no job tokens.
    #[allow(clippy::type_complexity)]
    pub job_of_token: Option<Box<dyn Fn(i64) -> Option<crate::model::JobId> + Send + Sync>>,
}

impl RegistrySettings {
    /// The settings of model `name` (empty when it has none).
    pub fn model(&self, name: &str) -> crate::error::Result<crate::config::models::ModelConfig> {
        match &self.models {
            Some(models) => models(name),
            None => Ok(Default::default()),
        }
    }
}

impl AppState {
    pub fn new(
        store: Arc<dyn Store>,
        tokens: Option<Arc<SqliteStore>>,
        limits: Limits,
    ) -> Arc<Self> {
        Self::with_registry(store, tokens, limits, RegistrySettings::default())
    }

    /// A state whose model registry has `registry`'s settings (`kiroku serve`).
    pub fn with_registry(
        store: Arc<dyn Store>,
        tokens: Option<Arc<SqliteStore>>,
        limits: Limits,
        registry: RegistrySettings,
    ) -> Arc<Self> {
        Arc::new(AppState {
            store,
            tokens,
            limits,
            changed: Notify::new(),
            stopping: std::sync::atomic::AtomicBool::new(false),
            token_cache: auth::TokenCache::default(),
            registry,
        })
    }

    /// Runs a store call off the reactor: `block_in_place` hands this worker's other tasks
    /// (and the I/O driver) to another thread while the call blocks, so nothing else waits,
    /// and the call itself runs without a round trip through the blocking pool. That trip
    /// (two thread wake-ups, ~50 us here) was a third of the server's cost of a single
    /// `log_metric` call. Needs the multi-thread runtime, which every server here uses.
    pub async fn call<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&dyn Store) -> Result<T> + Send + 'static,
    ) -> std::result::Result<T, ApiError> {
        let store = Arc::clone(&self.store);
        let via = auth::REQUEST_VIA.try_with(|v| *v).ok().flatten();
        tokio::task::block_in_place(move || match via {
            Some(via) => crate::store::origin::through(via, || f(store.as_ref())),
            None => f(store.as_ref()),
        })
        .map_err(ApiError::from)
    }

    /// Whether the server is shutting down.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Ends long polls: called when the shutdown signal arrives.
    fn stop(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.changed.notify_waiters();
    }

    /// Runs a writing store call and wakes watchers when it succeeds.
    pub async fn write<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&dyn Store) -> Result<T> + Send + 'static,
    ) -> std::result::Result<T, ApiError> {
        let out = self.call(f).await;
        if out.is_ok() {
            self.changed.notify_waiters();
        }
        out
    }
}

/// The whole HTTP surface over one state. Authentication runs as a route layer, so it knows
/// the route template each request matched (`access` classifies by it), and on the fallback,
/// which matched none.
pub fn router(state: Arc<AppState>) -> Router {
    router_with(state, Router::new())
}

/// `router` plus `extra` routes behind the same authentication (`access::OPTIONAL` classifies
/// them): how `kiroku serve --mcp` mounts `/mcp`, which lives in a layer above the server.
pub fn router_with(state: Arc<AppState>, extra: Router<Arc<AppState>>) -> Router {
    let limits = state.limits;
    let authenticate =
        || axum::middleware::from_fn_with_state(Arc::clone(&state), auth::authenticate);
    routes(limits)
        .merge(extra)
        .route_layer(authenticate())
        .fallback(errors::endpoint_not_found.layer(authenticate()))
        .layer(DefaultBodyLimit::max(limits.max_body))
        .with_state(state)
}

/// Every route the server registers, without authentication or fallback (`access::table`
/// must list each of them; `tests/server_routes.rs` checks).
pub fn routes(limits: Limits) -> Router<Arc<AppState>> {
    Router::new()
        .merge(kiroku_api::routes())
        .merge(mlflow_api::routes())
        .merge(artifacts::routes(limits.max_artifact))
        .merge(pipeline_cache::routes(limits.max_artifact))
        .route("/health", axum::routing::get(|| async { "OK" }))
        .route(
            "/version",
            axum::routing::get(|| async { env!("CARGO_PKG_VERSION") }),
        )
}

/// Whether an address is loopback (127.0.0.0/8, ::1).
pub fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// Refuses to expose a store without tokens beyond this machine.
pub fn check_bind(bind: &SocketAddr, has_tokens: bool) -> Result<()> {
    if !is_loopback(bind) && !has_tokens {
        return Err(KirokuError::Invalid(format!(
            "refusing to listen on {bind} without authentication: anyone who can reach it could read \
             and change the store. Create a token first (`kiroku token create --user NAME`), or bind \
             a loopback address such as 127.0.0.1:5000"
        )));
    }
    Ok(())
}

/// Serves on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.limits.connections;
    let shutdown = stop_then(Arc::clone(&state), shutdown);
    conn::serve_connections(listener, None, router(state), limits, shutdown).await
}

/// The shutdown signal, which first ends the long polls.
async fn stop_then(state: Arc<AppState>, shutdown: impl Future<Output = ()>) {
    shutdown.await;
    state.stop();
}

/// Serves `router` (from `router_with`), over TLS when `acceptor` is given, until `shutdown`
/// completes.
pub async fn serve_router(
    listener: tokio::net::TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    state: Arc<AppState>,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.limits.connections;
    let shutdown = stop_then(state, shutdown);
    conn::serve_connections(listener, acceptor, router, limits, shutdown).await
}

/// Serves TLS connections on `listener` until `shutdown` completes.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.limits.connections;
    let shutdown = stop_then(Arc::clone(&state), shutdown);
    conn::serve_connections(listener, Some(acceptor), router(state), limits, shutdown).await
}

/// A server running on its own thread and runtime (tests, `kiroku run --mlflow`); stops when
/// dropped.
pub struct BackgroundServer {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BackgroundServer {
    /// Starts serving `store` on `bind` (port 0 picks a free port).
    pub fn start(
        store: Arc<dyn Store>,
        tokens: Option<Arc<SqliteStore>>,
        bind: SocketAddr,
    ) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| KirokuError::io("starting the server runtime", e))?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(bind))
            .map_err(|e| KirokuError::io(format!("listening on {bind}"), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| KirokuError::io("reading the listening address", e))?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = AppState::new(store, tokens, Limits::default());
        let thread = std::thread::Builder::new()
            .name("kiroku-server".into())
            .spawn(move || {
                let shutdown = async move {
                    let _ = stopped.await;
                };
                if let Err(e) = runtime.block_on(serve(listener, state, shutdown)) {
                    eprintln!("kiroku: embedded server stopped: {e}");
                }
            })
            .map_err(|e| KirokuError::io("starting the server thread", e))?;
        Ok(BackgroundServer {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for BackgroundServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
