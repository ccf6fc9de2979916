//! `kiroku token create|ls|revoke`: API tokens for `kiroku serve`, on the server's store.
use super::output::{output_error, print_json, print_text, Table};
use super::serve::local_store;
use super::Context;
use crate::error::Result;
use crate::present::{format_timestamp, Format};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token for a user; it is shown once (only its hash is kept).
    Create {
        #[arg(long)]
        user: String,
        /// The token can read but not change anything.
        #[arg(long)]
        read_only: bool,
    },
    /// List tokens (never the tokens themselves).
    Ls,
    /// Revoke a token by id.
    Revoke { id: i64 },
}

pub fn token(ctx: &mut Context, cmd: &TokenCommand) -> Result<i32> {
    let store = local_store(ctx)?;
    match cmd {
        TokenCommand::Create { user, read_only } => {
            let (info, secret) = store.create_token(user, *read_only)?;
            if ctx.format == Format::Json {
                print_json(&serde_json::json!({"token": secret, "info": info}))
                    .map_err(output_error)?;
            } else {
                let access = if info.read_only {
                    "read-only"
                } else {
                    "read-write"
                };
                print_text(&format!(
                    "{secret}\n\ntoken {} for {} ({access}); shown once, store it now.\nClients: KIROKU_TOKEN=... (kiroku) or MLFLOW_TRACKING_TOKEN=... (MLflow)\n",
                    info.id, info.user
                ))
                .map_err(output_error)?;
            }
        }
        TokenCommand::Ls => {
            let tokens = store.tokens()?;
            if ctx.format == Format::Json {
                print_json(&tokens).map_err(output_error)?;
            } else {
                let mut table = Table::new(
                    ["id", "user", "access", "created", "revoked"]
                        .map(String::from)
                        .to_vec(),
                );
                for t in tokens {
                    table.push(vec![
                        t.id.to_string(),
                        t.user,
                        if t.read_only {
                            "read-only"
                        } else {
                            "read-write"
                        }
                        .into(),
                        format_timestamp(t.created_ms),
                        t.revoked_ms.map(format_timestamp).unwrap_or_default(),
                    ]);
                }
                print_text(&table.render(ctx.format)).map_err(output_error)?;
            }
        }
        TokenCommand::Revoke { id } => {
            store.revoke_token(*id)?;
            print_text(&format!("token {id} revoked\n")).map_err(output_error)?;
        }
    }
    Ok(0)
}
