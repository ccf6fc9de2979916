//! `kiroku mcp`: serves the store to an agent over the Model Context Protocol on stdin/stdout
//! (`crate::mcp`). The store is found like every command's (`--store`, a folder or a `kiroku
//! serve` URL); `--read-only` offers only the tools that read; `--as` names who the writes are
//! by. `kiroku serve --mcp` serves the same over HTTP (see `serve`).
use super::Context;
use crate::error::Result;
use crate::mcp::{transport, Host};
use clap::Args;

#[derive(Debug, Args)]
pub struct McpArgs {
    /// Offer only the tools that read: no notes, tags, submissions, reviews or promotions.
    #[arg(long)]
    pub read_only: bool,
    /// Who the writes are attributed to (default: $KIROKU_USER, the config's user, the login).
    #[arg(long = "as", value_name = "NAME")]
    pub as_user: Option<String>,
}

/// The MCP host of a command's context.
pub fn host(ctx: &mut Context, read_only: bool, as_user: Option<&str>) -> Result<Host> {
    let user = match as_user {
        Some(name) => {
            crate::limits::user_name(name)?;
            name.to_string()
        }
        None => ctx.user.clone(),
    };
    Ok(Host {
        store: ctx.store()?,
        config: ctx.config.clone(),
        location: ctx.location_text(),
        project_dir: ctx.location.project_dir(),
        user,
        read_only,
    })
}

pub fn mcp(ctx: &mut Context, args: &McpArgs) -> Result<i32> {
    let host = host(ctx, args.read_only, args.as_user.as_deref())?;
    transport::serve_stdio(host)?;
    Ok(0)
}
