//! `kiroku data add|ls|show|diff`: dataset versions. `add` profiles a CSV or Parquet file (or a
//! folder of them) with the checks engine and registers it as a content-addressed version
//! (`wrap::inputs`); `ls` lists datasets with their newest version and check status; `show`
//! one version with its files, schema, the runs that read it and its check runs; `diff` what
//! changed between two versions (`present::datasets`). Each speaks `--format json` with a
//! schema of its own.
use super::output::{output_error, print_json, print_text, Table};
use super::Context;
use crate::error::Result;
use crate::model::data::DatasetVersion;
use crate::model::{now_ms, CheckRunQuery};
use crate::present::datasets::{diff_versions, format_bytes, signed, VersionDiff};
use crate::present::{format_relative, format_timestamp, Format};
use crate::store::checks_gate;
use clap::Subcommand;
use std::path::PathBuf;

const DATASETS_SCHEMA: &str = "kiroku.datasets/v1";
const DATASET_SCHEMA: &str = "kiroku.dataset/v1";
const DATA_DIFF_SCHEMA: &str = "kiroku.data_diff/v1";
/// The check runs `data show` lists.
const SHOWN_CHECK_RUNS: usize = 10;

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Register a CSV or Parquet file, or a folder of them, as a version of dataset NAME
    /// (the same bytes again are the same version).
    Add { name: String, path: PathBuf },
    /// List datasets: newest version, versions, rows, size, latest check status.
    Ls,
    /// Show a version (NAME for the newest, NAME@N, or a sha256: prefix): files, schema, the
    /// runs that read it, its check runs.
    Show { reference: String },
    /// What changed from version A to version B: columns, types, null counts, rows.
    Diff { from: String, to: String },
}

pub fn data(ctx: &mut Context, cmd: &DataCommand) -> Result<i32> {
    match cmd {
        DataCommand::Add { name, path } => add(ctx, name, path),
        DataCommand::Ls => list(ctx),
        DataCommand::Show { reference } => show(ctx, reference),
        DataCommand::Diff { from, to } => diff(ctx, from, to),
    }
}

/// `train@3`.
fn label(version: &DatasetVersion) -> String {
    format!("{}@{}", version.dataset, version.number)
}

fn add(ctx: &mut Context, name: &str, path: &std::path::Path) -> Result<i32> {
    let store = ctx.store()?;
    let added = crate::wrap::inputs::register_path(store.as_ref(), name, path, &ctx.user)?;
    let version = &added.version;
    if ctx.format == Format::Json {
        print_json(&serde_json::json!({
            "schema": DATASET_SCHEMA,
            "new": added.new,
            "version": version,
        }))
        .map_err(output_error)?;
        return Ok(0);
    }
    let what = if added.new {
        "added"
    } else {
        "already registered as"
    };
    print_text(&format!(
        "{what} {} ({}): {}, {} rows, {}, {}\n",
        label(version),
        checks_gate::short_version(&version.id),
        version.format,
        version.row_count,
        crate::present::count_of(version.columns.len() as u64, "column"),
        format_bytes(version.size_bytes)
    ))
    .map_err(output_error)?;
    Ok(0)
}

fn list(ctx: &mut Context) -> Result<i32> {
    let store = ctx.store()?;
    let datasets = store.datasets()?;
    if ctx.format == Format::Json {
        print_json(&serde_json::json!({"schema": DATASETS_SCHEMA, "datasets": datasets}))
            .map_err(output_error)?;
        return Ok(0);
    }
    let now = now_ms();
    let mut table = Table::new(
        [
            "NAME", "LATEST", "VERSIONS", "ROWS", "COLUMNS", "SIZE", "CHECKS", "ADDED",
        ]
        .map(String::from)
        .to_vec(),
    );
    table.numeric = vec![false, false, true, true, true, true, false, false];
    table.droppable_from = 5;
    for d in &datasets {
        let checks = match (d.latest_check, d.latest_check_run) {
            (Some(status), Some(run)) => format!("{status} (#{run})"),
            _ => "-".into(),
        };
        table.push(vec![
            d.name.clone(),
            format!("@{}", d.latest.number),
            d.versions.to_string(),
            d.latest.row_count.to_string(),
            d.latest.columns.len().to_string(),
            format_bytes(d.latest.size_bytes),
            checks,
            format_relative(d.latest.created_at, now),
        ]);
    }
    if datasets.is_empty() {
        print_text("no datasets yet: kiroku data add NAME PATH\n").map_err(output_error)?;
        return Ok(0);
    }
    print_text(&table.render(ctx.format)).map_err(output_error)?;
    Ok(0)
}

fn show(ctx: &mut Context, reference: &str) -> Result<i32> {
    let store = ctx.store()?;
    let version = store.dataset_version(reference)?;
    let versions = store.dataset_versions(&version.dataset)?.len();
    let readers = store.version_readers(&version.id)?;
    let check_runs = store.check_runs(&CheckRunQuery {
        version_id: Some(version.id.clone()),
        limit: Some(SHOWN_CHECK_RUNS),
        ..Default::default()
    })?;
    let now = now_ms();
    let mut runs_json = Vec::new();
    let mut runs_rows = Vec::new();
    for run in &check_runs {
        let reviews = store.reviews(run.id, None)?;
        let awaiting = checks_gate::awaits_review(run, &reviews, now);
        runs_json.push(serde_json::json!({
            "id": run.id,
            "suite": run.run.suite,
            "suite_hash": run.run.suite_hash,
            "source": run.run.source,
            "status": run.run.status,
            "started_at": run.run.started_at,
            "user": run.run.user,
            "awaiting_review": awaiting,
        }));
        runs_rows.push(vec![
            run.id.to_string(),
            run.run.suite.clone(),
            run.run.status.to_string(),
            if awaiting { "awaiting review" } else { "" }.to_string(),
            format_relative(run.run.started_at, now),
        ]);
    }
    if ctx.format == Format::Json {
        print_json(&serde_json::json!({
            "schema": DATASET_SCHEMA,
            "version": version,
            "versions": versions,
            "readers": readers,
            "check_runs": runs_json,
        }))
        .map_err(output_error)?;
        return Ok(0);
    }
    let mut s = format!("{} (of {versions})  {}\n", label(&version), version.id);
    let mut field = |k: &str, v: String| s.push_str(&format!("  {k:<9}{v}\n"));
    field("path", version.path.clone());
    field("format", version.format.to_string());
    field("rows", version.row_count.to_string());
    field("size", format_bytes(version.size_bytes));
    field(
        "added",
        format!(
            "{} by {}",
            format_timestamp(version.created_at),
            version.created_by
        ),
    );
    if let Some(source) = &version.source {
        field("source", source.clone());
    }
    let section = |s: &mut String, title: &str, table: Table| {
        s.push_str(&format!("\n{title}\n"));
        for line in table.render_aligned(None).lines() {
            s.push_str(&format!("  {line}\n"));
        }
    };
    if !version.files.is_empty() {
        let mut files = Table::new(
            ["FILE", "SIZE", "ROWS", "SHA256"]
                .map(String::from)
                .to_vec(),
        );
        for f in &version.files {
            files.push(vec![
                f.path.clone(),
                format_bytes(f.size_bytes),
                f.rows.to_string(),
                checks_gate::short_version(&f.sha256).to_string(),
            ]);
        }
        section(&mut s, "files", files);
    }
    let mut schema = Table::new(["COLUMN", "TYPE", "NULLS"].map(String::from).to_vec());
    for c in &version.columns {
        schema.push(vec![
            c.name.clone(),
            c.column_type.to_string(),
            c.null_count.to_string(),
        ]);
    }
    section(&mut s, "schema", schema);
    if readers.is_empty() {
        s.push_str("\nread by no run yet\n");
    } else {
        let mut table = Table::new(["RUN", "AS", "PATH"].map(String::from).to_vec());
        for r in &readers {
            table.push(vec![
                crate::ids::short(&r.run_id).to_string(),
                r.name.clone(),
                r.path.clone(),
            ]);
        }
        section(&mut s, "read by", table);
    }
    if runs_rows.is_empty() {
        s.push_str(&format!(
            "\nnot checked yet: kiroku check SUITE --data {}={}\n",
            version.dataset, version.path
        ));
    } else {
        let mut table = Table::new(
            ["CHECK RUN", "SUITE", "STATUS", "REVIEW", "WHEN"]
                .map(String::from)
                .to_vec(),
        );
        runs_rows.into_iter().for_each(|row| table.push(row));
        section(&mut s, "check runs", table);
    }
    print_text(&s).map_err(output_error)?;
    Ok(0)
}

fn diff(ctx: &mut Context, from: &str, to: &str) -> Result<i32> {
    let store = ctx.store()?;
    let from = store.dataset_version(from)?;
    let to = store.dataset_version(to)?;
    let diff = diff_versions(&from, &to);
    if ctx.format == Format::Json {
        print_json(&serde_json::json!({"schema": DATA_DIFF_SCHEMA, "diff": diff}))
            .map_err(output_error)?;
        return Ok(0);
    }
    print_text(&diff_text(&diff)).map_err(output_error)?;
    Ok(0)
}

/// A diff for people: a heading, then one line per change.
fn diff_text(diff: &VersionDiff) -> String {
    let mut s = format!("{} → {}\n", diff.from.label(), diff.to.label());
    if diff.same_content {
        s.push_str("  the same content (one version under two names or numbers)\n");
        return s;
    }
    s.push_str(&format!(
        "  rows     {} → {} ({})\n",
        diff.rows.from,
        diff.rows.to,
        signed(diff.rows.change)
    ));
    s.push_str(&format!(
        "  size     {} → {}\n",
        format_bytes(diff.size_bytes.from),
        format_bytes(diff.size_bytes.to)
    ));
    for c in &diff.added {
        s.push_str(&format!("  + column {} ({})\n", c.name, c.column_type));
    }
    for c in &diff.removed {
        s.push_str(&format!("  - column {} ({})\n", c.name, c.column_type));
    }
    for t in &diff.type_changes {
        s.push_str(&format!(
            "  ~ column {}: type {} → {}\n",
            t.column, t.from, t.to
        ));
    }
    for n in &diff.null_changes {
        s.push_str(&format!(
            "  ~ column {}: nulls {} → {} ({})\n",
            n.column,
            n.nulls.from,
            n.nulls.to,
            signed(n.nulls.change)
        ));
    }
    if !diff.has_changes() {
        s.push_str("  same schema and row count (other bytes)\n");
    }
    s
}
