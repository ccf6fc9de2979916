//! `kiroku log metric|param|tag`: logging from shell scripts into the current run
//! (`$KIROKU_RUN_ID`, set by `kiroku run`) or the one named by `--run`.
use super::output::{output_error, print_text};
use super::Context;
use crate::error::{KirokuError, Result};
use crate::ids;
use crate::model::{json_float, now_ms, KeyedPoint};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Log one metric value: `kiroku log metric loss 0.31 --step 10`.
    Metric {
        key: String,
        value: String,
        /// Default: the next step of this key.
        #[arg(long)]
        step: Option<i64>,
        #[arg(long)]
        run: Option<String>,
    },
    /// Log a param (params cannot change once set).
    Param {
        key: String,
        value: String,
        #[arg(long)]
        run: Option<String>,
    },
    /// Copy a file or folder into the run's artifacts (size and sha256 recorded).
    Artifact {
        path: std::path::PathBuf,
        /// Where under the run's artifacts (default: the file's name).
        #[arg(long = "as")]
        dest: Option<String>,
        #[arg(long)]
        run: Option<String>,
    },
    /// Record a dataset file the run read: content hash, size, and rows/columns of CSV files.
    Input {
        path: std::path::PathBuf,
        /// Dataset name (default: the file name without extension).
        #[arg(long)]
        name: Option<String>,
        /// How the run used it (train, validation, …).
        #[arg(long, default_value = "")]
        context: String,
        #[arg(long)]
        run: Option<String>,
    },
    /// Set a tag.
    Tag {
        key: String,
        value: String,
        #[arg(long)]
        run: Option<String>,
    },
}

fn target_run(ctx: &mut Context, run: &Option<String>) -> Result<String> {
    let reference = match run {
        Some(r) => r.clone(),
        None => std::env::var("KIROKU_RUN_ID")
            .ok()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                KirokuError::Invalid(
                    "no run: pass --run RUN or run inside `kiroku run` (KIROKU_RUN_ID)".into(),
                )
            })?,
    };
    ctx.store()?.resolve_run(&reference)
}

pub fn log(ctx: &mut Context, cmd: &LogCommand) -> Result<i32> {
    match cmd {
        LogCommand::Metric {
            key,
            value,
            step,
            run,
        } => {
            let v = json_float::parse_special(value).ok_or_else(|| {
                KirokuError::Invalid(format!("metric value '{value}' is not a number"))
            })?;
            let id = target_run(ctx, run)?;
            let store = ctx.store()?;
            let step = match step {
                Some(s) => *s,
                None => store
                    .run(&id)?
                    .run
                    .metrics
                    .get(key)
                    .map(|m| m.count as i64)
                    .unwrap_or(0),
            };
            store.log_metrics(
                &id,
                &[KeyedPoint {
                    key: key.clone(),
                    step,
                    timestamp: now_ms(),
                    value: v,
                }],
            )?;
        }
        LogCommand::Param { key, value, run } => {
            let id = target_run(ctx, run)?;
            ctx.store()?
                .log_params(&id, &[(key.clone(), value.clone())])?;
        }
        LogCommand::Artifact { path, dest, run } => {
            let id = target_run(ctx, run)?;
            let copied = crate::ingest::files::log_artifact(
                ctx.store()?.as_ref(),
                &id,
                path,
                dest.as_deref(),
            )?;
            let size: u64 = copied.iter().filter_map(|a| a.size).sum();
            print_text(&format!(
                "copied {} file(s), {size} bytes, into run {}\n",
                copied.len(),
                ids::short(&id)
            ))
            .map_err(output_error)?;
        }
        LogCommand::Input {
            path,
            name,
            context,
            run,
        } => {
            let id = target_run(ctx, run)?;
            let input = crate::ingest::files::log_input(
                ctx.store()?.as_ref(),
                &id,
                path,
                name.as_deref(),
                context,
            )?;
            let rows = input
                .dataset
                .rows
                .map(|r| format!(", {r} rows"))
                .unwrap_or_default();
            print_text(&format!(
                "recorded input {}@{}{rows} for run {}\n",
                input.dataset.name,
                &input.dataset.hash[..12],
                ids::short(&id)
            ))
            .map_err(output_error)?;
        }
        LogCommand::Tag { key, value, run } => {
            let id = target_run(ctx, run)?;
            let user = ctx.user.clone();
            ctx.store()?
                .set_tags(&id, &[(key.clone(), value.clone())], &user)?;
        }
    }
    let _ = print_text("");
    Ok(0)
}
