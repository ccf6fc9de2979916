//! The two ways to reach the server: `kiroku mcp` on stdin/stdout (one client, the process
//! that started it), and the streamable-HTTP service `kiroku serve --mcp` mounts at `/mcp`,
//! where the server's authentication has already named the caller (see `server::actor_for`).
use super::{Host, KirokuMcp};
use crate::error::{KirokuError, Result};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::ServiceExt;
use std::sync::Arc;

/// Serves MCP on stdin/stdout until the client closes them. Nothing else may write to stdout.
pub fn serve_stdio(host: Host) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| KirokuError::io("starting the MCP runtime", e))?;
    let server = KirokuMcp::new(Arc::new(host));
    runtime.block_on(async move {
        let running = server
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| KirokuError::Invalid(format!("the MCP client did not connect: {e}")))?;
        running
            .waiting()
            .await
            .map_err(|e| KirokuError::Invalid(format!("the MCP session failed: {e}")))?;
        Ok::<(), KirokuError>(())
    })?;
    // A pending read of stdin cannot be cancelled; do not wait for it.
    runtime.shutdown_background();
    Ok(())
}

/// The `/mcp` service. `any_host`: accept any `Host` header (the server requires tokens, which
/// a DNS-rebinding page cannot send); otherwise only loopback names, as rmcp defaults to.
/// Cancelling `stop` ends every session (and its open event streams), so the server's graceful
/// shutdown does not wait on them.
pub fn http_service(
    host: Arc<Host>,
    any_host: bool,
    stop: tokio_util::sync::CancellationToken,
) -> StreamableHttpService<KirokuMcp, LocalSessionManager> {
    let mut config = StreamableHttpServerConfig::default().with_cancellation_token(stop);
    if any_host {
        config = config.with_allowed_hosts(Vec::<String>::new());
    }
    StreamableHttpService::new(
        move || Ok(KirokuMcp::new(Arc::clone(&host))),
        Arc::new(LocalSessionManager::default()),
        config,
    )
}
