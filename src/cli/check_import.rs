//! `kiroku check import gx|soda FILE [--data NAME=PATH|NAME@N]...`: records Great Expectations
//! validation results or a Soda scan's results as check runs (sources `gximport`,
//! `sodaimport`), bound to the dataset versions they are about, and prints them as
//! `kiroku check` does. Exit codes as `kiroku check`: 0 pass or warn, 1 a failure, 2 an error.
//!
//! The data: each `--data NAME=PATH` is registered (or found) as a version of NAME; a
//! `--data NAME@N` (or a version hash) names a registered version. Without `--data`, a GX result
//! whose `batch_spec.path` is a file here is bound to that file, named after its data asset.
use super::check::{exit_code, ImportArgs, CHECK_SCHEMA, DEFAULT_SAMPLES_SHOWN};
use super::output::{output_error, print_json, print_text};
use super::Context;
use crate::checks::import::{import_file, ImportKind, ImportedRun};
use crate::error::{KirokuError, Result};
use crate::model::{CheckStatus, CheckedDataset, NewCheckRun};
use crate::present::checks::{render_check_report, CheckReport};
use crate::present::Format;
use crate::store::Store;
use std::path::Path;

/// Runs `kiroku check import`; returns the exit code.
pub fn import_results(ctx: &mut Context, args: &ImportArgs, format: Option<Format>) -> Result<i32> {
    let kind = ImportKind::parse(&args.kind)?;
    let runs = import_file(kind, &args.file)?;
    let store = ctx.store()?;
    let stem = args.file.file_stem().map_or_else(
        || "imported".to_string(),
        |stem| stem.to_string_lossy().into_owned(),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64);
    let mut printed = Vec::new();
    let mut worst = CheckStatus::Pass;
    for run in runs {
        let datasets = bind_datasets(ctx, store.as_ref(), &args.data, &run)?;
        let suite = if run.suite.is_empty() {
            stem.clone()
        } else {
            run.suite.clone()
        };
        let recorded = store.record_check_run(&NewCheckRun {
            suite,
            suite_hash: run.suite_hash.clone(),
            source: kind.source(),
            datasets,
            status: run.status,
            results: run.results,
            started_at: run.started_at.unwrap_or(now),
            ended_at: run.ended_at.or(run.started_at).unwrap_or(now),
            user: ctx.user.clone(),
            host: crate::process::host_name().unwrap_or_default(),
            run_id: std::env::var("KIROKU_RUN_ID")
                .ok()
                .filter(|id| !id.is_empty()),
        })?;
        worst = CheckStatus::overall([worst, recorded.run.status]);
        printed.push(recorded);
    }
    if format == Some(Format::Json) {
        let documents: Vec<serde_json::Value> = printed
            .iter()
            .map(|recorded| {
                serde_json::json!({
                    "schema": CHECK_SCHEMA,
                    "id": recorded.id,
                    "source": recorded.run.source.as_str(),
                    "suite": recorded.run.suite,
                    "suite_hash": recorded.run.suite_hash,
                    "datasets": recorded.run.datasets,
                    "status": recorded.run.status,
                    "results": recorded.run.results,
                })
            })
            .collect();
        let json = match <[serde_json::Value; 1]>::try_from(documents) {
            Ok([one]) => one,
            Err(many) => serde_json::Value::Array(many),
        };
        print_json(&json).map_err(output_error)?;
    } else {
        for recorded in &printed {
            let text = render_check_report(&CheckReport {
                suite: &recorded.run.suite,
                suite_hash: &recorded.run.suite_hash,
                datasets: &recorded.run.datasets,
                status: recorded.run.status,
                results: &recorded.run.results,
                notes: &[],
                samples: DEFAULT_SAMPLES_SHOWN,
                id: Some(recorded.id),
            });
            print_text(&text).map_err(output_error)?;
        }
    }
    Ok(exit_code(worst, false))
}

/// The dataset versions an imported run is about: `--data` as given, else (GX) the file its
/// results name, else an error asking for `--data`.
fn bind_datasets(
    ctx: &Context,
    store: &dyn Store,
    data: &[String],
    run: &ImportedRun,
) -> Result<Vec<CheckedDataset>> {
    let checked = |name: &str, version: crate::model::data::DatasetVersion| CheckedDataset {
        name: name.to_string(),
        version_id: version.id,
        path: version.path,
        rows: version.row_count,
    };
    let mut datasets = Vec::new();
    for spec in data {
        if spec.contains('=') {
            let (name, path) = crate::wrap::inputs::parse_input_spec(spec, "--data")?;
            let added = crate::wrap::inputs::register_path(store, &name, &path, &ctx.user)?;
            datasets.push(checked(&name, added.version));
        } else {
            let version = store.dataset_version(spec)?;
            let name = version.dataset.clone();
            datasets.push(checked(&name, version));
        }
    }
    if datasets.is_empty() {
        if let Some(path) = run
            .data_path
            .as_deref()
            .filter(|path| Path::new(path).is_file())
        {
            let name = run.data_name.clone().unwrap_or_else(|| {
                Path::new(path).file_stem().map_or_else(
                    || "data".to_string(),
                    |stem| stem.to_string_lossy().into_owned(),
                )
            });
            let added =
                crate::wrap::inputs::register_path(store, &name, Path::new(path), &ctx.user)?;
            datasets.push(checked(&name, added.version));
        }
    }
    if datasets.is_empty() {
        return Err(KirokuError::Invalid(format!(
            "kiroku check import needs --data NAME=PATH (or NAME@N) for the data the results are about{}, so they bind to its version",
            run.data_name
                .as_deref()
                .map(|name| format!(" ('{name}')"))
                .unwrap_or_default()
        )));
    }
    Ok(datasets)
}
