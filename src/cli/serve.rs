//! `kiroku serve`: serves the local store over HTTP (kiroku's API and MLflow's), until Ctrl-C.
use super::output::{output_error, print_text};
use super::Context;
use crate::error::{KirokuError, Result};
use crate::server::{check_bind, AppState, Limits};
use crate::store::{SqliteStore, Store, StoreLocation};
use clap::Args;
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. A non-loopback address needs tokens (`kiroku token create`).
    #[arg(long, default_value = "127.0.0.1:5000")]
    pub bind: SocketAddr,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, requires = "tls_key", value_name = "FILE")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, requires = "tls_cert", value_name = "FILE")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Largest artifact upload, in MiB.
    #[arg(long, default_value_t = 512)]
    pub max_artifact_mb: usize,
    /// Connections held at once (default: from the open-file limit, which `kiroku serve`
    /// raises to its hard limit). At the cap, new connections evict idle ones.
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
    /// Seconds a connection may take to send a request's headers (and to sit idle between
    /// requests, and for a TLS handshake) before it is closed.
    #[arg(long, default_value_t = 10, value_name = "SECS")]
    pub header_timeout: u64,
    /// Also serve the Model Context Protocol (streamable HTTP) at /mcp, behind the same tokens;
    /// a read-only token gets only the reading tools.
    #[arg(long)]
    pub mcp: bool,
}

/// The local store folder a server can serve (a server cannot front another server).
pub fn local_store(ctx: &Context) -> Result<Arc<SqliteStore>> {
    match &ctx.location {
        StoreLocation::Local(dir) => Ok(Arc::new(SqliteStore::open(dir, false)?)),
        StoreLocation::Remote(url) => Err(KirokuError::Invalid(format!(
            "{url} is a server; `kiroku serve` and `kiroku token` work on a local store (--store PATH)"
        ))),
    }
}

/// The URL this server's own jobs reach it at: its address, loopback when it listens on every
/// address.
fn own_url(scheme: &str, addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    format!("{scheme}://{}", SocketAddr::new(ip, addr.port()))
}

/// How often `kiroku serve` looks for runs whose supervisor died.
const LOST_RUN_CHECK_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

pub fn serve(ctx: &mut Context, args: &ServeArgs) -> Result<i32> {
    let sqlite = local_store(ctx)?;
    let has_tokens = sqlite.has_active_tokens()?;
    check_bind(&args.bind, has_tokens)?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(crate::server::tls::acceptor(cert, key)?),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| KirokuError::io("starting the server runtime", e))?;
    let store: Arc<dyn Store> = Arc::clone(&sqlite) as Arc<dyn Store>;
    let open_files = crate::server::conn::raise_open_file_limit();
    let limits = Limits {
        max_artifact: args.max_artifact_mb.saturating_mul(1 << 20),
        connections: crate::server::conn::ConnectionLimits {
            max_connections: args
                .max_connections
                .unwrap_or_else(|| crate::server::conn::connection_cap(open_files))
                .max(1),
            header_timeout: std::time::Duration::from_secs(args.header_timeout.max(1)),
        },
        ..Limits::default()
    };
    // Bound before the registry starts, which needs the server's own URL (port 0 picks one).
    let listener = std::net::TcpListener::bind(args.bind)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .map_err(|e| KirokuError::io(format!("listening on {}", args.bind), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| KirokuError::io("reading the listening address", e))?;
    // `[models]` of the project's kiroku.toml beside the store (over the user's): the gates and
    // hooks of alias moves made through MLflow's API, and evaluations of versions it registers.
    let registry = crate::models::serving::start(
        crate::models::serving::ServedStore {
            store: Arc::clone(&store),
            config: ctx.config.clone(),
            location: ctx.location_text(),
            user: ctx.user.clone(),
            host: crate::process::host_name().unwrap_or_else(|| "localhost".into()),
            workdir: crate::models::workdir_for(&ctx.location_text()),
            url: own_url(scheme, addr),
            job_tokens: Some(Arc::new(crate::models::job_tokens::JobTokens::new(
                Arc::clone(&sqlite),
            )?)),
        },
        ctx.location.project_dir().as_deref(),
    )?;
    let state = AppState::with_registry(Arc::clone(&store), Some(sqlite), limits, registry);
    // Cancelled at shutdown: MCP sessions hold event streams open.
    let mcp_sessions = tokio_util::sync::CancellationToken::new();
    let extra = if args.mcp {
        // The server's own store, so MCP writes are the server's writes.
        let host = Arc::new(crate::mcp::Host {
            store: Arc::clone(&store),
            config: ctx.config.clone(),
            location: ctx.location_text(),
            project_dir: ctx.location.project_dir(),
            user: ctx.user.clone(),
            read_only: false,
        });
        let service = crate::mcp::transport::http_service(host, has_tokens, mcp_sessions.clone());
        axum::Router::new().route_service("/mcp", service)
    } else {
        axum::Router::new()
    };
    let router = crate::server::router_with(Arc::clone(&state), extra);
    // Runs whose `kiroku run` died on this host are recovered and marked lost while serving.
    let _lost_runs =
        crate::supervise::LostRunWatch::start(Arc::clone(&store), LOST_RUN_CHECK_EVERY);
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(|e| KirokuError::io(format!("listening on {}", args.bind), e))?;
        let auth = if has_tokens {
            "tokens required"
        } else {
            "no tokens: loopback clients only"
        };
        print_text(&format!(
            "kiroku serving {} on {scheme}://{addr} ({auth})\n  kiroku:  --store {scheme}://{addr}\n  MLflow:  MLFLOW_TRACKING_URI={scheme}://{addr}\n{}",
            store.describe(),
            if args.mcp {
                format!("  MCP:     {scheme}://{addr}/mcp\n")
            } else {
                String::new()
            }
        ))
        .map_err(output_error)?;
        let shutdown = async move {
            let _ = tokio::signal::ctrl_c().await;
            mcp_sessions.cancel();
        };
        let served = crate::server::serve_router(listener, tls, state, router, shutdown).await;
        served.map_err(|e| KirokuError::io("serving", e))
    })?;
    Ok(0)
}
