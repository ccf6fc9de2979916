//! `kiroku log metric|param|tag`: logging from shell scripts into the current run
//! (`$KIROKU_RUN_ID`, set by `kiroku run`) or the one named by `--run`.
use super::output::{output_error, print_text};
use super::Context;
use crate::error::{KirokuError, Result};
use crate::ids;
use crate::model::data::RunInput as DataRunInput;
use crate::model::{json_float, now_ms, KeyedPoint};
use clap::Subcommand;
use std::path::PathBuf;

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
    /// Record a dataset the run read: `NAME=PATH` (or PATH with `--name`). A CSV or Parquet file
    /// or folder is registered as a version of dataset NAME and bound to the run; any file is
    /// recorded with its content hash, size, and rows/columns of CSV files.
    Input {
        /// `NAME=PATH`, or a PATH (named by `--name`, else its file name without extension).
        spec: String,
        /// Dataset name (default: the NAME of NAME=PATH, else the file name without extension).
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

/// `NAME=PATH` when the text is one and no file of that name exists, else a path.
fn input_name_and_path(spec: &str, name: Option<&str>) -> Result<(Option<String>, PathBuf)> {
    let as_path = PathBuf::from(spec);
    if spec.contains('=') && !as_path.exists() {
        let (named, path) = crate::wrap::inputs::parse_input_spec(spec, "input")?;
        return Ok((Some(name.map(str::to_string).unwrap_or(named)), path));
    }
    Ok((name.map(str::to_string), as_path))
}

/// `kiroku log input`: the run's MLflow-style input record (any file), and for a CSV or Parquet
/// file or folder a dataset version bound to the run.
fn log_input(
    ctx: &mut Context,
    run_id: &str,
    spec: &str,
    name: Option<&str>,
    context: &str,
) -> Result<()> {
    let (name, path) = input_name_and_path(spec, name)?;
    let store = ctx.store()?;
    let user = ctx.user.clone();
    let registered = match &name {
        Some(n) => crate::wrap::inputs::register_path(store.as_ref(), n, &path, &user),
        None => {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "dataset".into());
            crate::wrap::inputs::register_path(store.as_ref(), &stem, &path, &user)
        }
    };
    let version_note = match registered {
        Ok(added) => {
            let version = added.version;
            let role = if context.is_empty() {
                version.dataset.clone()
            } else {
                context.to_string()
            };
            store.add_run_inputs(
                run_id,
                &[DataRunInput {
                    run_id: run_id.to_string(),
                    name: role,
                    dataset: version.dataset.clone(),
                    version_id: version.id.clone(),
                    path: path.display().to_string(),
                }],
            )?;
            format!(" as {}@{}", version.dataset, version.number)
        }
        // Not a CSV or Parquet dataset: recorded as a file only.
        Err(KirokuError::Invalid(why)) if path.is_file() => {
            eprintln!(
                "kiroku: {} is recorded as a file, not a dataset version: {why}",
                path.display()
            );
            String::new()
        }
        Err(e) => return Err(e),
    };
    let input =
        crate::ingest::files::log_input(store.as_ref(), run_id, &path, name.as_deref(), context)?;
    let rows = input
        .dataset
        .rows
        .map(|r| format!(", {r} rows"))
        .unwrap_or_default();
    print_text(&format!(
        "recorded input {}@{}{rows}{version_note} for run {}\n",
        input.dataset.name,
        &input.dataset.hash[..12],
        ids::short(run_id)
    ))
    .map_err(output_error)
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
            spec,
            name,
            context,
            run,
        } => {
            let id = target_run(ctx, run)?;
            log_input(ctx, &id, spec, name.as_deref(), context)?;
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
