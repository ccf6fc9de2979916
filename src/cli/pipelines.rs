//! `kiroku status [STAGE…]` (which stages of `dvc.yaml` would rerun, and why) and `kiroku dag`
//! (the stage graph as an indented tree, JSON or Graphviz dot).
//!
//! Both read the pipeline of the nearest `dvc.yaml` at or above the current directory. Neither
//! opens the store: `status` only uses its stat cache (the store's own SQLite file when local,
//! else a machine-local file), so it stays quick. Text unless `--format json` is asked for.
use crate::error::{KirokuError, Result};
use crate::pipelines::{self, Dag, LockFile, Pipeline, StageState, StageStatus, StatCache};
use crate::present::pipelines::{dag_dot, dag_json, dag_tree, status_text};
use crate::present::Format;
use crate::store::StoreLocation;
use clap::Args;
use std::path::PathBuf;

const STATUS_SCHEMA: &str = "kiroku.pipeline_status/v1";

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only these stages (a `foreach`/`matrix` group's name means all its members).
    pub stages: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DagArgs {
    /// Graphviz dot instead of the indented tree.
    #[arg(long, conflicts_with = "json")]
    pub dot: bool,
    /// JSON (the same as the global `--format json`).
    #[arg(long)]
    pub json: bool,
    /// Only these stages and what they depend on.
    pub stages: Vec<String>,
}

fn current_root() -> Result<PathBuf> {
    let cwd =
        std::env::current_dir().map_err(|e| KirokuError::io("reading the current directory", e))?;
    pipelines::find_root(&cwd)
}

fn load() -> Result<(Pipeline, Dag)> {
    let pipeline = pipelines::load(&current_root()?)?;
    let dag = Dag::build(&pipeline)?;
    Ok((pipeline, dag))
}

/// `kiroku status`: prints stale (and changed frozen) stages with reasons; exit 0.
pub fn status(
    location: Option<&StoreLocation>,
    args: &StatusArgs,
    format: Option<Format>,
) -> Result<i32> {
    let (pipeline, dag) = load()?;
    let lock = LockFile::read(&pipeline.root)?;
    let mut cache = StatCache::for_store(location)?;
    let all = pipelines::status(&pipeline, &dag, &lock, &mut cache)?;
    let wanted: Option<Vec<usize>> = if args.stages.is_empty() {
        None
    } else {
        let mut chosen = Vec::new();
        for target in &args.stages {
            chosen.extend(dag.find(target)?);
        }
        Some(chosen)
    };
    let shown: Vec<StageStatus> = all
        .into_iter()
        .filter(|s| wanted.as_ref().is_none_or(|w| w.contains(&s.index)))
        .filter(|s| match &s.state {
            StageState::Fresh => false,
            StageState::Stale(_) => true,
            StageState::Frozen(reasons) => !reasons.is_empty(),
        })
        .collect();
    if format == Some(Format::Json) {
        let body = serde_json::json!({"schema": STATUS_SCHEMA, "stages": shown});
        crate::cli::output::print_json(&body).map_err(crate::cli::output::output_error)?;
    } else {
        crate::cli::output::print_text(&status_text(&shown))
            .map_err(crate::cli::output::output_error)?;
    }
    Ok(0)
}

/// `kiroku dag`.
pub fn dag(args: &DagArgs, format: Option<Format>) -> Result<i32> {
    let (pipeline, dag) = load()?;
    let selected = dag.select(&args.stages, false, false)?;
    let text = if args.dot {
        dag_dot(&pipeline, &dag, &selected)
    } else if args.json || format == Some(Format::Json) {
        let mut text = serde_json::to_string_pretty(&dag_json(&pipeline, &dag, &selected))
            .map_err(|e| KirokuError::Invalid(e.to_string()))?;
        text.push('\n');
        text
    } else {
        dag_tree(&pipeline, &dag, &selected)
    };
    crate::cli::output::print_text(&text).map_err(crate::cli::output::output_error)?;
    Ok(0)
}
