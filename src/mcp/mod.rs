//! kiroku as a Model Context Protocol server: the tools and resources an agent (a coding
//! assistant) uses to look at runs, annotate them, launch and follow jobs, triage data checks
//! and move models, over the same core and with the same rules as a person at the terminal.
//!
//! - `server`: the MCP handler (`rmcp`'s `ServerHandler`): tool listing and dispatch, tool
//!   errors, who is calling, resources.
//! - `transport`: `kiroku mcp` over stdio, and the streamable-HTTP service `kiroku serve --mcp`
//!   mounts at `/mcp` behind the server's tokens.
//! - `tools`: the tool table and what every tool shares; one module per area: `runs`,
//!   `collab` (notes, tags, stars, activity), `jobs`, `data`, `models`.
//! - `args`: reading a call's arguments, with errors naming the argument.
//! - `resources`: `kiroku://run/ID` and `kiroku://experiment/ID`.
//!
//! Results are the `kiroku.*/v1` JSON documents `--format json` prints, as structured content,
//! with a short text summary. A bad argument is a tool error (`isError`) with the message the
//! command line gives, never a protocol error. Writes are attributed to the caller (the token's
//! user, or `--as`) and marked `via: mcp` in the activity log (`store::origin`).
pub mod args;
pub mod collab;
pub mod data;
pub mod jobs;
pub mod models;
pub mod resources;
pub mod runs;
pub mod server;
pub mod tools;
pub mod transport;

use crate::config::Config;
use crate::store::Store;
use std::sync::Arc;

pub use server::KirokuMcp;

/// What every call shares: the store, the project's configuration (job targets, model
/// policies), how to name the store to a job, and who acts by default.
pub struct Host {
    pub store: Arc<dyn Store>,
    pub config: Config,
    /// The store as a job's `KIROKU_STORE` names it (a folder or a server URL).
    pub location: String,
    /// The project folder holding the store, when local (`[models.NAME]` settings files).
    pub project_dir: Option<std::path::PathBuf>,
    /// The acting user when the transport names none (stdio: `--as`, else the usual user).
    pub user: String,
    /// Offer only the tools that read (`kiroku mcp --read-only`).
    pub read_only: bool,
}

/// Who makes one call, and whether they may write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user: String,
    pub may_write: bool,
    /// Why writing is refused, when it is.
    pub refusal: Option<String>,
}
