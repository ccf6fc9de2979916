//! Run commands: `kiroku run`, `runs ls`, `show`, `diff`, `metrics`, `import mlflow`, and the
//! overview printed by a bare `kiroku`.
use super::output::{output_error, print_json, print_text, Table};
use super::Context;
use crate::error::Result;
use crate::model::{json_float, now_ms, Run, RunQuery};
use crate::present::{column_fit, key_hints};
use crate::present::{
    default_columns, format_duration, format_relative, format_timestamp, format_value,
    format_value_as, parse_pairs, Column, Format,
};
use crate::wrap::{run_wrapped, WrapOptions};
use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Experiment (created when missing; default from kiroku.toml, else "Default").
    #[arg(long = "exp", short = 'e')]
    pub experiment: Option<String>,
    /// Run name (default: a generated one).
    #[arg(long, short = 'n')]
    pub name: Option<String>,
    /// Tags, `k=v` (repeatable).
    #[arg(long = "tag", short = 't')]
    pub tags: Vec<String>,
    /// Parent run (id, prefix or name), for sweeps and nested runs.
    #[arg(long)]
    pub parent: Option<String>,
    /// Give the command an MLflow tracking endpoint for this run (sets MLFLOW_TRACKING_URI and
    /// MLFLOW_RUN_ID), so MLflow-instrumented code logs into it unchanged. Default from
    /// `[run] mlflow` in kiroku.toml.
    #[arg(long)]
    pub mlflow: bool,
    /// A dataset the run reads, `NAME=PATH` (a CSV or Parquet file or folder): registered as a
    /// version of dataset NAME and bound to the run (repeatable).
    #[arg(long = "input", short = 'i', value_name = "NAME=PATH")]
    pub inputs: Vec<String>,
    /// Refuse to start unless dataset NAME's checks passed or every failure was reviewed (its
    /// `--input` version, else its newest; repeatable).
    #[arg(long = "require-checks", value_name = "NAME")]
    pub require_checks: Vec<String>,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

pub fn run(ctx: &mut Context, args: &RunArgs) -> Result<i32> {
    let store = ctx.store()?;
    let specs = args
        .inputs
        .iter()
        .map(|spec| crate::wrap::inputs::parse_input_spec(spec, "--input"))
        .collect::<Result<Vec<_>>>()?;
    let inputs = crate::wrap::inputs::prepare_inputs(store.as_ref(), &specs, &ctx.user)?;
    let pinned: Vec<_> = inputs.iter().map(|i| i.version.clone()).collect();
    if let Some(refusal) = crate::store::checks_gate::require_checks(
        store.as_ref(),
        &args.require_checks,
        &pinned,
        now_ms(),
    )? {
        eprintln!("kiroku: {refusal}");
        return Ok(1);
    }
    let parent_id = args
        .parent
        .as_deref()
        .map(|p| store.resolve_run(p))
        .transpose()?;
    let experiment = args
        .experiment
        .clone()
        .or_else(|| ctx.config.run.experiment.clone())
        .unwrap_or_else(|| "Default".to_string());
    let outcome = run_wrapped(
        store,
        WrapOptions {
            experiment,
            name: args.name.clone(),
            tags: parse_pairs(&args.tags, "tag")?,
            command: args.command.clone(),
            config: ctx.config.clone(),
            user: ctx.user.clone(),
            store_location: ctx.location_text(),
            echo: true,
            parent_id,
            mlflow: args.mlflow || ctx.config.run.mlflow.unwrap_or(false),
            inputs,
        },
    )?;
    eprintln!(
        "kiroku: run {} ({}) {} · {} · exit {}",
        &outcome.run_id[..8],
        outcome.run_name,
        outcome.status,
        crate::present::count_of(outcome.points, "point"),
        outcome.exit_code
    );
    Ok(outcome.exit_code)
}

#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// List runs, filtered and sorted with the query language.
    Ls(LsArgs),
}

#[derive(Debug, Args, Default)]
pub struct LsArgs {
    /// Experiment names (repeatable; default all).
    #[arg(long = "exp", short = 'e')]
    pub experiments: Vec<String>,
    /// Filter, e.g. "metrics.acc > 0.9 and params.optimizer = 'adam'".
    #[arg(long, short = 'f')]
    pub filter: Option<String>,
    /// Order, e.g. "metrics.acc desc, start_time".
    #[arg(long, short = 's')]
    pub sort: Option<String>,
    #[arg(long, short = 'l')]
    pub limit: Option<u64>,
    #[arg(long, default_value_t = 0)]
    pub offset: u64,
    /// Columns, comma-separated: status,id,name,experiment,user,host,started,duration,params.K,metrics.K,tags.K
    #[arg(long, short = 'c', value_delimiter = ',')]
    pub columns: Vec<String>,
    /// Only param columns whose values differ among the listed runs.
    #[arg(long)]
    pub only_changed: bool,
    /// Include deleted runs.
    #[arg(long)]
    pub all: bool,
    /// Only deleted runs.
    #[arg(long)]
    pub deleted: bool,
}

/// The store for a command that shows runs: first, runs whose `kiroku run` died on this host
/// are recovered and marked `lost`, so what is shown is not a `running` run without a process.
fn store_to_look_at(ctx: &mut Context) -> Result<std::sync::Arc<dyn crate::store::Store>> {
    let store = ctx.store()?;
    crate::supervise::recover_lost_runs_quietly(store.as_ref());
    Ok(store)
}

pub fn runs(ctx: &mut Context, cmd: &RunsCommand) -> Result<i32> {
    let RunsCommand::Ls(args) = cmd;
    let chosen = args
        .columns
        .iter()
        .map(|c| Column::parse(c.trim()))
        .collect::<Result<Vec<_>>>()?;
    let store = store_to_look_at(ctx)?;
    let query = RunQuery {
        experiments: args.experiments.clone(),
        filter: args.filter.clone(),
        sort: args.sort.clone(),
        limit: args.limit,
        offset: args.offset,
        include_deleted: args.all,
        only_deleted: args.deleted,
        reverse: false,
        dialect: crate::model::QueryDialect::Kiroku,
    };
    let page = key_hints::search_runs_explained(store.as_ref(), &query)?;
    if page.total == 0 {
        // Nothing matched: say so when the query names keys no run has (a typo, usually).
        for hint in key_hints::no_match_hints(store.as_ref(), &query) {
            eprintln!("kiroku: no runs match: {hint}");
        }
    }
    if ctx.format == Format::Json {
        print_json(&serde_json::json!({"schema": "kiroku.runs/v1", "total": page.total, "runs": page.runs})).map_err(output_error)?;
        return Ok(0);
    }
    let columns = if chosen.is_empty() {
        default_columns(&page.runs, args.only_changed)
    } else {
        chosen
    };
    let queried = column_fit::queried_columns(args.filter.as_deref(), args.sort.as_deref());
    let table = runs_table(&page.runs, &columns, &queried, ctx.format);
    let mut text = table.render(ctx.format);
    if ctx.format == Format::Table && (page.runs.len() as u64) < page.total {
        text.push_str(&format!(
            "({} of {} runs; use --limit/--offset for more)\n",
            page.runs.len(),
            page.total
        ));
    }
    print_text(&text).map_err(output_error)?;
    Ok(0)
}

/// The runs as a table of `columns`; a narrow terminal keeps the id, the name and the
/// `queried` columns (what the query filters and sorts on) and drops constant params first
/// (`present::column_fit`). A param and a metric of the same key are labelled apart.
pub fn runs_table(runs: &[Run], columns: &[Column], queried: &[Column], format: Format) -> Table {
    let mut t = Table::new(
        columns
            .iter()
            .map(|c| column_fit::distinct_header(c, columns))
            .collect(),
    );
    t.numeric = columns.iter().map(Column::is_numeric).collect();
    let listed: Vec<&Run> = runs.iter().collect();
    t.keep_rank = columns
        .iter()
        .map(|c| column_fit::keep_rank(c, &listed, queried))
        .collect();
    let now = now_ms();
    for run in runs {
        t.push(columns.iter().map(|c| c.cell(run, format, now)).collect());
    }
    t
}

pub fn show(ctx: &mut Context, reference: &str) -> Result<i32> {
    let store = store_to_look_at(ctx)?;
    let id = store.resolve_run(reference)?;
    let d = store.run(&id)?;
    if ctx.format == Format::Json {
        print_json(&serde_json::json!({"schema": "kiroku.run/v1", "run": d}))
            .map_err(output_error)?;
        return Ok(0);
    }
    let r = &d.run;
    let now = now_ms();
    let mut s = String::new();
    s.push_str(&format!("run {}  {}\n", r.id, r.name));
    let mut field = |k: &str, v: String| {
        if !v.is_empty() {
            s.push_str(&format!("  {k:<11}{v}\n"));
        }
    };
    let status = match r.exit_code {
        Some(code) if code != 0 => format!("{} (exit {code})", r.status),
        _ => r.status.to_string(),
    };
    field("status", status + if r.deleted { " · deleted" } else { "" });
    field("experiment", r.experiment.clone());
    field("user", r.user.clone());
    field("host", r.host.clone().unwrap_or_default());
    field(
        "started",
        format!(
            "{} ({})",
            format_timestamp(r.start_time),
            format_relative(r.start_time, now)
        ),
    );
    if let Some(end) = r.end_time {
        field(
            "ended",
            format!(
                "{} · took {}",
                format_timestamp(end),
                format_duration(end - r.start_time)
            ),
        );
    }
    field("parent", r.parent_id.clone().unwrap_or_default());
    field("children", d.children.join(", "));
    field("stars", r.stars.join(", "));
    if let Some(commit) = &d.source.git_commit {
        let dirty = if d.source.git_dirty == Some(true) {
            " (dirty)"
        } else {
            ""
        };
        field(
            "commit",
            format!(
                "{commit}{dirty} {}",
                d.source.git_branch.clone().unwrap_or_default()
            ),
        );
    }
    field("command", crate::present::shell_words(&d.source.command));
    field("run dir", d.run_dir.clone().unwrap_or_default());
    let section = |s: &mut String, title: &str, t: Table| {
        if !t.rows.is_empty() {
            s.push_str(&format!("\n{title}\n"));
            for line in t.render_aligned(None).lines() {
                s.push_str(&format!("  {line}\n"));
            }
        }
    };
    let mut params = Table::new(vec!["PARAM".into(), "VALUE".into()]);
    r.params
        .iter()
        .for_each(|(k, v)| params.push(vec![k.clone(), v.clone()]));
    section(&mut s, "params", params);
    let mut metrics = metric_summary_table(r);
    metrics.headers[0] = "METRIC".into();
    section(&mut s, "metrics", metrics);
    let mut tags = Table::new(vec!["TAG".into(), "VALUE".into()]);
    r.tags
        .iter()
        .for_each(|(k, v)| tags.push(vec![k.clone(), v.clone()]));
    section(&mut s, "tags", tags);
    let mut inputs = Table::new(vec![
        "DATASET".into(),
        "HASH".into(),
        "ROWS".into(),
        "CONTEXT".into(),
    ]);
    d.inputs.iter().for_each(|i| {
        inputs.push(vec![
            i.dataset.name.clone(),
            i.dataset.hash.clone(),
            i.dataset.rows.map(|n| n.to_string()).unwrap_or_default(),
            i.context.clone(),
        ])
    });
    section(&mut s, "inputs", inputs);
    let mut arts = Table::new(vec!["ARTIFACT".into(), "SIZE".into(), "STORED".into()]);
    d.artifacts.iter().for_each(|a| {
        arts.push(vec![
            if a.path.is_empty() {
                a.location.clone().unwrap_or_default()
            } else {
                a.path.clone()
            },
            a.size.map(|n| n.to_string()).unwrap_or_default(),
            a.stored.clone(),
        ])
    });
    section(&mut s, "artifacts", arts);
    if !d.notes.is_empty() {
        s.push_str("\nnotes\n");
        for n in &d.notes {
            let reply = n
                .reply_to
                .map(|p| format!(" ↳ reply to #{p}"))
                .unwrap_or_default();
            s.push_str(&format!(
                "  #{} {} · {}{reply}\n",
                n.id,
                n.author,
                format_relative(n.created_ms, now)
            ));
            for line in n.body.lines() {
                s.push_str(&format!("    {line}\n"));
            }
        }
    }
    print_text(&s).map_err(output_error)?;
    Ok(0)
}

fn metric_summary_table(r: &Run) -> Table {
    let mut t = Table::new(vec![
        "KEY".into(),
        "LAST".into(),
        "MIN".into(),
        "MAX".into(),
        "COUNT".into(),
        "STEP".into(),
    ]);
    t.numeric = vec![false, true, true, true, true, true];
    let opt = |v: Option<f64>| v.map(format_value).unwrap_or_default();
    for (k, m) in &r.metrics {
        t.push(vec![
            k.clone(),
            format_value(m.last),
            opt(m.min),
            opt(m.max),
            m.count.to_string(),
            m.step.to_string(),
        ]);
    }
    t
}

pub fn diff(ctx: &mut Context, refs: &[String], all: bool) -> Result<i32> {
    let store = store_to_look_at(ctx)?;
    let mut runs = Vec::new();
    for r in refs {
        runs.push(store.run(&store.resolve_run(r)?)?.run);
    }
    let refs: Vec<&Run> = runs.iter().collect();
    let param_rows: Vec<(String, Vec<Option<String>>)> = crate::compare::param_rows(&refs, all)
        .into_iter()
        .map(|r| (r.key, r.values))
        .collect();
    let metric_keys = crate::compare::metric_keys(&refs);
    let base = &runs[0];
    if ctx.format == Format::Json {
        print_json(&crate::compare::diff_document(&runs, all)).map_err(output_error)?;
        return Ok(0);
    }
    let headers = |first: &str| {
        std::iter::once(first.to_string())
            .chain(
                runs.iter()
                    .map(|r| format!("{} {}", crate::ids::short(&r.id), r.name)),
            )
            .collect::<Vec<_>>()
    };
    let mut s = String::new();
    let mut pt = Table::new(headers(if all { "PARAM" } else { "PARAM (differing)" }));
    for (k, vals) in &param_rows {
        pt.push(
            std::iter::once((*k).clone())
                .chain(vals.iter().map(|v| v.clone().unwrap_or_else(|| "—".into())))
                .collect(),
        );
    }
    if pt.rows.is_empty() {
        s.push_str(if all {
            "no params\n"
        } else {
            "params: all the same (use --all to list them)\n"
        });
    } else {
        s.push_str(&pt.render(ctx.format));
    }
    let mut mt = Table::new(headers("METRIC (last, Δ vs first)"));
    mt.numeric = std::iter::once(false)
        .chain(runs.iter().map(|_| true))
        .collect();
    for k in &metric_keys {
        let mut row = vec![(*k).clone()];
        for (i, r) in runs.iter().enumerate() {
            row.push(match (base.metrics.get(k), r.metrics.get(k)) {
                (_, None) => "—".into(),
                (Some(b), Some(m)) if i > 0 => {
                    let delta = m.last - b.last;
                    let sign = if delta > 0.0 { "+" } else { "" };
                    format!("{} ({sign}{})", format_value(m.last), format_value(delta))
                }
                (_, Some(m)) => format_value(m.last),
            });
        }
        mt.push(row);
    }
    if !mt.rows.is_empty() {
        s.push('\n');
        s.push_str(&mt.render(ctx.format));
    }
    print_text(&s).map_err(output_error)?;
    Ok(0)
}

pub fn metrics(
    ctx: &mut Context,
    reference: &str,
    key: Option<&str>,
    buckets: Option<usize>,
) -> Result<i32> {
    let store = store_to_look_at(ctx)?;
    let id = store.resolve_run(reference)?;
    let Some(key) = key else {
        let run = store.run(&id)?.run;
        if ctx.format == Format::Json {
            print_json(&serde_json::json!({"schema": "kiroku.metric-summaries/v1", "run": id, "metrics": run.metrics})).map_err(output_error)?;
        } else {
            print_text(&metric_summary_table(&run).render(ctx.format)).map_err(output_error)?;
        }
        return Ok(0);
    };
    if let Some(buckets) = buckets {
        let sampled = store.metric_series_sampled(
            &id,
            key,
            &crate::series::SeriesQuery {
                buckets,
                ..Default::default()
            },
        )?;
        if ctx.format == Format::Json {
            print_json(
                &serde_json::json!({"schema": "kiroku.series/v1", "run": id, "series": sampled}),
            )
            .map_err(output_error)?;
        } else {
            let mut t = Table::new(
                ["STEPS", "COUNT", "FIRST", "LAST", "MIN", "MAX"]
                    .map(String::from)
                    .to_vec(),
            );
            t.numeric = vec![false, true, true, true, true, true];
            let opt = |v: Option<f64>| v.map(format_value).unwrap_or_default();
            for b in &sampled.buckets {
                t.push(vec![
                    format!("{}–{}", b.x_lo, b.x_hi),
                    b.count.to_string(),
                    format_value(b.first),
                    format_value(b.last),
                    opt(b.min),
                    opt(b.max),
                ]);
            }
            print_text(&t.render(ctx.format)).map_err(output_error)?;
        }
        return Ok(0);
    }
    let points = store.metric_series(&id, key)?;
    if ctx.format == Format::Json {
        let rows: Vec<serde_json::Value> = points
            .iter()
            .map(|p| serde_json::json!([p.step, p.timestamp, json_float::to_value(p.value)]))
            .collect();
        print_json(&serde_json::json!({"schema": "kiroku.metrics/v1", "run": id, "key": key, "points": rows})).map_err(output_error)?;
        return Ok(0);
    }
    let mut t = Table::new(vec!["STEP".into(), "TIME".into(), "VALUE".into()]);
    t.numeric = vec![true, false, true];
    for p in &points {
        t.push(vec![
            p.step.to_string(),
            format_timestamp(p.timestamp),
            format_value_as(p.value, ctx.format),
        ]);
    }
    print_text(&t.render(ctx.format)).map_err(output_error)?;
    Ok(0)
}

pub fn import_mlflow(ctx: &mut Context, path: &std::path::Path) -> Result<i32> {
    let store = ctx.store()?;
    let bar = crate::present::progress::progress_bar(0, "importing runs");
    let report =
        crate::ingest::mlflow::import_mlflow_with_progress(store.as_ref(), path, &ctx.user, &|p| {
            bar.set_length(p.runs);
            bar.set_position(p.runs_done);
        });
    bar.finish_and_clear();
    let report = report?;
    for w in &report.warnings {
        eprintln!("kiroku: warning: {w}");
    }
    if ctx.format == Format::Json {
        print_json(&serde_json::json!({"schema": "kiroku.import/v1", "report": report}))
            .map_err(output_error)?;
    } else {
        print_text(&format!("{report}\n")).map_err(output_error)?;
    }
    Ok(0)
}

/// A bare `kiroku`: where the store is and what is in it (the TUI will open here).
pub fn overview(ctx: &mut Context) -> Result<i32> {
    let store = store_to_look_at(ctx)?;
    let exps = store.experiments(false)?;
    let recent = store.search_runs(&RunQuery {
        limit: Some(10),
        ..Default::default()
    })?;
    let mut s = format!(
        "kiroku · store {} · {} experiments · {} runs\n\n",
        store.describe(),
        exps.len(),
        recent.total
    );
    if recent.runs.is_empty() {
        s.push_str("No runs yet. Try:\n  kiroku run -- python train.py --lr 0.01\n  kiroku demo\n");
    } else {
        s.push_str("Latest runs:\n");
        let cols = vec![
            Column::Status,
            Column::Id,
            Column::Name,
            Column::Experiment,
            Column::User,
            Column::Started,
            Column::Duration,
        ];
        s.push_str(
            &runs_table(&recent.runs, &cols, &[], Format::Table)
                .render_aligned(super::output::terminal_width()),
        );
        s.push_str(
            "\nMore: kiroku runs ls · kiroku show RUN · kiroku diff RUN RUN · kiroku --help\n",
        );
    }
    print_text(&s).map_err(output_error)?;
    Ok(0)
}
