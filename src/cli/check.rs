//! `kiroku check SUITE --data NAME=PATH...`: runs a suite over datasets, prints the report (or
//! `--format json`: `kiroku.check/v1`), records the check run against each dataset version
//! (registering versions not seen before) and the suite's hash, and exits 0 on pass or warn,
//! 1 on a failure, 2 on a broken suite, unreadable data, or a check that could not run.
//!
//! `kiroku check import gx|soda FILE` is the `Import` subcommand (results made elsewhere).
//!
//! On a terminal (stdout and stderr both), a progress line shows bytes read, rows per second
//! and time left while the data is read; elsewhere nothing but the report is written.
use super::output::{output_error, print_json, print_text};
use super::Context;
use crate::checks::dataset::ReadProgress;
use crate::checks::{run_suite_with, DataInput, RunOptions, Suite, SuiteOutcome};
use crate::error::{KirokuError, Result};
use crate::model::{CheckSource, CheckStatus, NewCheckRun};
use crate::present::checks::{render_check_report, CheckReport};
use crate::present::Format;
use clap::{Args, Subcommand};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The JSON schema name of `kiroku check --format json`.
pub const CHECK_SCHEMA: &str = "kiroku.check/v1";

/// Failing rows shown per result unless `--samples` says.
pub const DEFAULT_SAMPLES_SHOWN: usize = 5;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CheckArgs {
    #[command(subcommand)]
    pub command: Option<CheckCommand>,
    #[command(flatten)]
    pub run: RunCheckArgs,
}

/// `kiroku check`'s subcommands; a bare `kiroku check SUITE` runs a suite.
#[derive(Debug, Subcommand)]
pub enum CheckCommand {
    /// Import results made elsewhere: `kiroku check import gx|soda FILE`.
    Import(ImportArgs),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// What made the results: gx (Great Expectations validation results) or soda (scan results).
    pub kind: String,
    pub file: PathBuf,
    /// The data the results are about: NAME=PATH (registered if new) or a version (NAME@N).
    #[arg(long = "data", value_name = "NAME=PATH")]
    pub data: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RunCheckArgs {
    /// The suite: a kiroku TOML suite, or a Great Expectations expectation suite (JSON).
    #[arg(required = true)]
    pub suite: Option<PathBuf>,
    /// A dataset to check: NAME=PATH (a CSV or Parquet file or a folder of them); a bare PATH
    /// is named after its file. The first is what checks without `dataset` read.
    #[arg(long = "data", value_name = "NAME=PATH", required = true)]
    pub data: Vec<String>,
    /// Failing rows kept and shown per check (default: the suite's `sample`, 5 shown).
    #[arg(long, value_name = "N")]
    pub samples: Option<usize>,
    /// Exit 1 on warnings too (by default a warning passes: exit 0).
    #[arg(long)]
    pub fail_on_warn: bool,
    /// Do not record the check run in the store.
    #[arg(long)]
    pub no_record: bool,
}

/// Runs `kiroku check …`; returns the exit code.
pub fn check(ctx: &mut Context, args: &CheckArgs, format: Option<Format>) -> Result<i32> {
    match &args.command {
        Some(CheckCommand::Import(import)) => {
            super::check_import::import_results(ctx, import, format)
        }
        None => run_check(ctx, &args.run, format),
    }
}

/// A suite, parsed from its file by its dialect.
pub enum LoadedSuite {
    Kiroku(Suite),
    /// A Great Expectations expectation suite (JSON), run with GX's own semantics.
    Gx(crate::checks::gx::LoadedGxSuite),
}

impl LoadedSuite {
    pub fn source(&self) -> CheckSource {
        match self {
            LoadedSuite::Kiroku(suite) => suite.source,
            LoadedSuite::Gx(_) => CheckSource::Gx,
        }
    }
}

/// Reads and parses the suite at `path` (its dialect by content: a JSON object with
/// `expectations` is a GX suite, anything else kiroku's TOML).
pub fn load_suite(path: &Path) -> Result<LoadedSuite> {
    if let Some(gx) = crate::checks::gx::load_if_gx(path)? {
        return Ok(LoadedSuite::Gx(gx));
    }
    Ok(LoadedSuite::Kiroku(crate::checks::toml_suite::load_suite(
        path,
    )?))
}

/// `NAME=PATH`, or a bare path named after its file stem.
fn data_input(spec: &str) -> Result<DataInput> {
    let (name, path) = if spec.contains('=') {
        crate::wrap::inputs::parse_input_spec(spec, "--data")?
    } else {
        let path = PathBuf::from(spec);
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| KirokuError::Invalid(format!("--data '{spec}' is not NAME=PATH")))?;
        (name, path)
    };
    Ok(DataInput { name, path })
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn run_check(ctx: &mut Context, args: &RunCheckArgs, format: Option<Format>) -> Result<i32> {
    let suite_path = args
        .suite
        .as_ref()
        .ok_or_else(|| KirokuError::Invalid("kiroku check needs a SUITE file".into()))?;
    let loaded = load_suite(suite_path)?;
    let inputs: Vec<DataInput> = args
        .data
        .iter()
        .map(|spec| data_input(spec))
        .collect::<Result<_>>()?;
    let mut names = std::collections::HashSet::new();
    for input in &inputs {
        if !names.insert(input.name.as_str()) {
            return Err(KirokuError::Invalid(format!(
                "--data names '{}' twice; give each dataset its own name",
                input.name
            )));
        }
    }
    let store = if args.no_record {
        None
    } else {
        Some(ctx.store()?)
    };
    let resolve = |reference: &str| -> Result<PathBuf> {
        let store = store.as_ref().ok_or_else(|| {
            KirokuError::Invalid(format!(
                "'{reference}' is no file or input; looking up a dataset version needs the store (drop --no-record)"
            ))
        })?;
        Ok(PathBuf::from(store.dataset_version(reference)?.path))
    };
    let progress = Arc::new(ReadProgress::default());
    let started_at = now_millis();
    let options = RunOptions {
        sample_limit: args.samples,
        progress: Some(Arc::clone(&progress)),
        now: started_at,
        resolve: Some(&resolve),
    };
    let total_bytes: u64 = inputs.iter().map(|i| path_size(&i.path)).sum();
    let outcome = with_progress(&progress, total_bytes, || match &loaded {
        LoadedSuite::Kiroku(suite) => run_suite_with(suite, &inputs, &options),
        LoadedSuite::Gx(gx) => {
            crate::checks::gx::run_gx_suite(&gx.suite, &gx.hash, &inputs, &options)
        }
    })?;
    let ended_at = now_millis();
    let id = match &store {
        Some(store) => Some(record(
            ctx,
            store.as_ref(),
            loaded.source(),
            &inputs,
            &outcome,
            started_at,
            ended_at,
        )?),
        None => None,
    };
    let samples = args.samples.unwrap_or(DEFAULT_SAMPLES_SHOWN);
    if format == Some(Format::Json) {
        let mut json = serde_json::json!({
            "schema": CHECK_SCHEMA,
            "suite": outcome.suite,
            "suite_hash": outcome.suite_hash,
            "datasets": outcome.datasets,
            "status": outcome.status,
            "results": outcome.results,
            "notes": outcome.notes,
        });
        if let Some(id) = id {
            json["id"] = serde_json::json!(id);
        }
        print_json(&json).map_err(output_error)?;
    } else {
        let text = render_check_report(&CheckReport {
            suite: &outcome.suite,
            suite_hash: &outcome.suite_hash,
            datasets: &outcome.datasets,
            status: outcome.status,
            results: &outcome.results,
            notes: &outcome.notes,
            samples,
            id,
        });
        print_text(&text).map_err(output_error)?;
    }
    Ok(exit_code(outcome.status, args.fail_on_warn))
}

/// 0 pass (and warn, unless `fail_on_warn`), 1 fail, 2 a check that could not run.
pub fn exit_code(status: CheckStatus, fail_on_warn: bool) -> i32 {
    match status {
        CheckStatus::Pass | CheckStatus::Unsupported => 0,
        CheckStatus::Warn => i32::from(fail_on_warn),
        CheckStatus::Fail => 1,
        CheckStatus::Error => 2,
    }
}

/// Records the run: each dataset's version (registered when new: profiled under its input
/// name) and the results against the suite's hash. Returns the check run's id.
fn record(
    ctx: &Context,
    store: &dyn crate::store::Store,
    source: CheckSource,
    inputs: &[DataInput],
    outcome: &SuiteOutcome,
    started_at: i64,
    ended_at: i64,
) -> Result<i64> {
    for (input, dataset) in inputs.iter().zip(&outcome.datasets) {
        let known = store
            .dataset_version(&format!("{}@{}", input.name, dataset.version_id))
            .is_ok_and(|version| version.id == dataset.version_id);
        if !known {
            crate::wrap::inputs::register_path(store, &input.name, &input.path, &ctx.user)?;
        }
    }
    let run = NewCheckRun {
        suite: outcome.suite.clone(),
        suite_hash: outcome.suite_hash.clone(),
        source,
        datasets: outcome.datasets.clone(),
        status: outcome.status,
        results: outcome.results.clone(),
        started_at,
        ended_at,
        user: ctx.user.clone(),
        host: crate::process::host_name().unwrap_or_default(),
        run_id: std::env::var("KIROKU_RUN_ID")
            .ok()
            .filter(|id| !id.is_empty()),
    };
    debug_assert!(matches!(run.source, CheckSource::Kiroku | CheckSource::Gx));
    Ok(store.record_check_run(&run)?.id)
}

/// A file's size, or the sum of a folder's files.
fn path_size(path: &Path) -> u64 {
    crate::checks::dataset::Dataset::open(path)
        .map(|dataset| dataset.size_bytes())
        .unwrap_or(0)
}

/// Runs `work`, drawing a progress line on stderr meanwhile when stdout and stderr are both
/// terminals.
fn with_progress<T>(progress: &Arc<ReadProgress>, total_bytes: u64, work: impl FnOnce() -> T) -> T {
    if !(std::io::stdout().is_terminal() && std::io::stderr().is_terminal()) || total_bytes == 0 {
        return work();
    }
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let drawer = {
        let progress = Arc::clone(progress);
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(total_bytes),
                indicatif::ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:30} {bytes}/{total_bytes} · {msg} · {eta} left",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let started = std::time::Instant::now();
            // Quick checks draw nothing: the bar appears after half a second.
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(100));
                if started.elapsed().as_millis() < 500 {
                    continue;
                }
                let rows = progress.rows.load(Ordering::Relaxed);
                let rate = rows as f64 / started.elapsed().as_secs_f64().max(1e-3);
                bar.set_message(format!(
                    "{} rows/s",
                    crate::present::format_value(rate.round())
                ));
                bar.set_position(progress.bytes.load(Ordering::Relaxed).min(total_bytes));
            }
            bar.finish_and_clear();
        })
    };
    let out = work();
    done.store(true, Ordering::Relaxed);
    let _ = drawer.join();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_pass_unless_asked_and_errors_are_2() {
        assert_eq!(exit_code(CheckStatus::Pass, false), 0);
        assert_eq!(exit_code(CheckStatus::Warn, false), 0);
        assert_eq!(exit_code(CheckStatus::Warn, true), 1);
        assert_eq!(exit_code(CheckStatus::Fail, false), 1);
        assert_eq!(exit_code(CheckStatus::Error, false), 2);
        assert_eq!(exit_code(CheckStatus::Unsupported, true), 0);
    }

    #[test]
    fn data_is_name_equals_path_or_a_path_named_by_its_stem() {
        assert_eq!(
            data_input("train=data/t.csv").unwrap(),
            DataInput {
                name: "train".into(),
                path: "data/t.csv".into()
            }
        );
        assert_eq!(data_input("data/wine.parquet").unwrap().name, "wine");
    }
}
