//! Run tools: list experiments, search runs with the query language, get a run, compare runs,
//! a metric's history downsampled, a run's output log with a search.
use super::tools::{
    boolean, integer, object_schema, run_ref, string, strings, Call, Effect, Reply, ToolDef,
};
use crate::error::{KirokuError, Result};
use crate::model::{Run, RunQuery};
use crate::present::{key_hints, Column, Format};
use serde_json::{json, Value};

pub static TOOLS: &[ToolDef] = &[
    ToolDef {
        name: "list_experiments",
        title: "List experiments",
        description: "List the store's experiments (groups of runs) with their run counts. Use the names with search_runs' `experiments` argument.",
        schema: || {
            object_schema(
                &[("include_deleted", boolean("Also list deleted experiments."))],
                &[],
            )
        },
        effect: Effect::Read,
        run: list_experiments,
    },
    ToolDef {
        name: "search_runs",
        title: "Search runs",
        description: "Find runs with kiroku's query language and get them sorted and paged. \
Filter examples: `metrics.acc > 0.9 and params.optimizer = 'adam'`, `status = 'failed'`, \
`tags.team = 'vision' or user = 'ana'`, `start_time > '2026-11-01'`, `params.lr in ('0.1','0.01')`, \
`name like 'resnet%'`. Keys: metrics.KEY (last value), params.KEY, tags.KEY, and attributes \
status, name, user, host, start_time, end_time, duration, experiment. Sort: `metrics.acc desc, start_time`. \
Results carry each run's params, metric summaries (last, min, max, count) and tags; name `columns` to \
trim them to what you need on large searches. A filter with a mistake comes back as an error naming \
the position.",
        schema: || {
            object_schema(
                &[
                    ("filter", string("A filter in the query language (see the tool description). Omit for all runs.")),
                    ("sort", string("Order: comma-separated keys, each optionally `asc` or `desc`, e.g. `metrics.val_loss asc`. Default: newest first.")),
                    ("experiments", strings("Only runs of these experiments (names). Default: all.")),
                    ("columns", strings("Only these fields of each run: status, id, name, experiment, user, host, started, duration, stars, params.KEY, metrics.KEY, tags.KEY. Default: every field.")),
                    ("limit", integer("At most this many runs (default 20).", 1, 1000)),
                    ("offset", integer("Skip this many matching runs first (paging; the reply says the next offset).", 0, 1_000_000_000)),
                    ("include_deleted", boolean("Also search deleted runs.")),
                ],
                &[],
            )
        },
        effect: Effect::Read,
        run: search_runs,
    },
    ToolDef {
        name: "get_run",
        title: "Get a run",
        description: "Everything about one run: status, exit code, timing, the command and git state it ran with, params, metric summaries, tags, notes and replies, inputs, artifacts, children.",
        schema: || object_schema(&[("run", run_ref())], &["run"]),
        effect: Effect::Read,
        run: get_run,
    },
    ToolDef {
        name: "compare_runs",
        title: "Compare runs",
        description: "Compare two or more runs: the params that differ (all with `all_params`), and every metric's last value per run with its delta against the baseline run (the first listed, or `baseline`).",
        schema: || {
            object_schema(
                &[
                    ("runs", strings("The runs to compare (ids, prefixes or names), at least two.")),
                    ("baseline", string("The run deltas are measured against (default: the first of `runs`).")),
                    ("all_params", boolean("List every param, not only those that differ.")),
                ],
                &["runs"],
            )
        },
        effect: Effect::Read,
        run: compare_runs,
    },
    ToolDef {
        name: "metric_history",
        title: "Metric history",
        description: "A metric's history over steps, reduced to at most `points` buckets (each with the step range, count, first, last, min and max), as charts draw it. Use get_run first to see which metric keys a run has.",
        schema: || {
            object_schema(
                &[
                    ("run", run_ref()),
                    ("key", string("The metric key, e.g. `val_loss` (without `metrics.`).")),
                    ("points", integer("At most this many buckets (default 50).", 1, 2000)),
                ],
                &["run", "key"],
            )
        },
        effect: Effect::Read,
        run: metric_history,
    },
    ToolDef {
        name: "run_log",
        title: "Run output log",
        description: "The end of a run's saved output (stdout and stderr of its command), optionally only the lines containing some text (case-insensitive), e.g. `error` or `Traceback`. Lines are numbered from the start of the log.",
        schema: || {
            object_schema(
                &[
                    ("run", run_ref()),
                    ("search", string("Only lines containing this text (case-insensitive).")),
                    ("lines", integer("At most this many lines, the last ones (default 50).", 1, 5000)),
                ],
                &["run"],
            )
        },
        effect: Effect::Read,
        run: run_log,
    },
];

fn list_experiments(call: &Call) -> Result<Reply> {
    let experiments = call
        .store()
        .experiments(call.args.flag("include_deleted")?)?;
    let summary = experiments
        .iter()
        .map(|e| format!("{} ({} runs)", e.name, e.run_count))
        .collect::<Vec<_>>()
        .join(", ");
    Ok(Reply::new(
        format!("{} experiments: {summary}", experiments.len()),
        json!({"schema": "kiroku.experiments/v1", "experiments": experiments}),
    ))
}

/// How many runs a search returns unless told.
const DEFAULT_LIMIT: u64 = 20;

/// A run's JSON reduced to `columns`: the attributes named, and of params, metrics and tags
/// only the keys named (`id` and `name` always stay, to tell runs apart).
pub fn trimmed_run(run: &Run, columns: &[Column]) -> Value {
    let full = serde_json::to_value(run).unwrap_or(Value::Null);
    let mut out = serde_json::Map::new();
    let mut keep = |field: &str| {
        if let Some(v) = full.get(field) {
            out.insert(field.to_string(), v.clone());
        }
    };
    keep("id");
    keep("name");
    for c in columns {
        match c {
            Column::Status => keep("status"),
            Column::Experiment => keep("experiment"),
            Column::User => keep("user"),
            Column::Host => keep("host"),
            Column::Started => keep("start_time"),
            Column::Duration => {
                keep("start_time");
                keep("end_time");
            }
            Column::Stars => keep("stars"),
            Column::Id | Column::Name | Column::Param(_) | Column::Metric(_) | Column::Tag(_) => {}
        }
    }
    for (family, pick) in [("params", 0), ("metrics", 1), ("tags", 2)] {
        let keys: Vec<&String> = columns
            .iter()
            .filter_map(|c| match (c, pick) {
                (Column::Param(k), 0) | (Column::Metric(k), 1) | (Column::Tag(k), 2) => Some(k),
                _ => None,
            })
            .collect();
        if keys.is_empty() {
            continue;
        }
        let source = full.get(family).and_then(Value::as_object);
        let picked: serde_json::Map<String, Value> = keys
            .into_iter()
            .filter_map(|k| {
                source
                    .and_then(|s| s.get(k))
                    .map(|v| (k.clone(), v.clone()))
            })
            .collect();
        out.insert(family.to_string(), Value::Object(picked));
    }
    Value::Object(out)
}

/// A few lines of text for a page of runs, in the given columns.
fn runs_summary(runs: &[Run], columns: &[Column]) -> String {
    let now = crate::model::now_ms();
    let mut lines = vec![columns
        .iter()
        .map(Column::header)
        .collect::<Vec<_>>()
        .join(" | ")];
    for run in runs.iter().take(10) {
        lines.push(
            columns
                .iter()
                .map(|c| c.cell(run, Format::Csv, now))
                .collect::<Vec<_>>()
                .join(" | "),
        );
    }
    if runs.len() > 10 {
        lines.push(format!(
            "… {} more in the structured result",
            runs.len() - 10
        ));
    }
    lines.join("\n")
}

fn search_runs(call: &Call) -> Result<Reply> {
    let a = &call.args;
    let columns = a
        .text_list("columns", true)?
        .iter()
        .map(|c| Column::parse(c.trim()))
        .collect::<Result<Vec<_>>>()?;
    let query = RunQuery {
        experiments: a.text_list("experiments", false)?,
        filter: a.opt_text("filter")?.filter(|f| !f.trim().is_empty()),
        sort: a.opt_text("sort")?.filter(|s| !s.trim().is_empty()),
        limit: Some(a.u64_or("limit", DEFAULT_LIMIT, 1000)?.max(1)),
        offset: a.opt_u64("offset")?.unwrap_or(0),
        include_deleted: a.flag("include_deleted")?,
        ..Default::default()
    };
    let store = call.store();
    let page = key_hints::search_runs_explained(store, &query)?;
    let shown = page.runs.len() as u64;
    let next_offset = (query.offset + shown < page.total).then_some(query.offset + shown);
    let runs: Vec<Value> = if columns.is_empty() {
        page.runs
            .iter()
            .map(|r| serde_json::to_value(r).unwrap_or(Value::Null))
            .collect()
    } else {
        page.runs.iter().map(|r| trimmed_run(r, &columns)).collect()
    };
    let mut summary = format!(
        "{} of {} matching runs (offset {})",
        shown, page.total, query.offset
    );
    if let Some(next) = next_offset {
        summary.push_str(&format!("; more with offset {next}"));
    }
    let hints = if page.total == 0 {
        key_hints::no_match_hints(store, &query)
    } else {
        Vec::new()
    };
    for hint in &hints {
        summary.push_str(&format!("\nno runs match: {hint}"));
    }
    if !page.runs.is_empty() {
        let shown_columns = if columns.is_empty() {
            crate::present::default_columns(&page.runs, true)
        } else {
            columns
        };
        summary.push('\n');
        summary.push_str(&runs_summary(&page.runs, &shown_columns));
    }
    let mut document = json!({
        "schema": "kiroku.runs/v1",
        "total": page.total,
        "offset": query.offset,
        "next_offset": next_offset,
        "runs": runs,
    });
    if !hints.is_empty() {
        document["hints"] = json!(hints);
    }
    Ok(Reply::new(summary, document))
}

fn get_run(call: &Call) -> Result<Reply> {
    let store = call.store();
    let id = store.resolve_run(&call.args.text("run")?)?;
    let detail = store.run(&id)?;
    let r = &detail.run;
    let metrics = r
        .metrics
        .iter()
        .take(12)
        .map(|(k, m)| format!("{k}={}", crate::present::format_value(m.last)))
        .collect::<Vec<_>>()
        .join(", ");
    let summary = format!(
        "run {} '{}' in {}: {} by {}; {} params, {} metrics ({metrics}), {} notes",
        r.id,
        r.name,
        r.experiment,
        r.status,
        r.user,
        r.params.len(),
        r.metrics.len(),
        detail.notes.len()
    );
    Ok(Reply::new(
        summary,
        json!({"schema": "kiroku.run/v1", "run": detail}),
    ))
}

fn compare_runs(call: &Call) -> Result<Reply> {
    let a = &call.args;
    let store = call.store();
    let mut refs = a.text_list("runs", false)?;
    if let Some(baseline) = a.opt_text("baseline")? {
        // The baseline goes first (the diff's deltas are against runs[0]).
        let base_id = store.resolve_run(&baseline)?;
        let mut resolved = Vec::new();
        for r in &refs {
            if store.resolve_run(r)? != base_id {
                resolved.push(r.clone());
            }
        }
        refs = std::iter::once(baseline).chain(resolved).collect();
    }
    if refs.len() < 2 {
        return Err(KirokuError::Invalid(
            "argument 'runs' needs at least two runs to compare".into(),
        ));
    }
    let mut runs = Vec::new();
    for r in &refs {
        runs.push(store.run(&store.resolve_run(r)?)?.run);
    }
    let document = crate::compare::diff_document(&runs, a.flag("all_params")?);
    let changed = document["params"].as_array().map_or(0, Vec::len);
    let metrics = document["metrics"].as_array().map_or(0, Vec::len);
    let summary = format!(
        "compared {} runs against {} ({}): {changed} params {}, {metrics} metrics",
        runs.len(),
        crate::ids::short(&runs[0].id),
        runs[0].name,
        if a.flag("all_params")? {
            "listed"
        } else {
            "differ"
        }
    );
    Ok(Reply::new(summary, document))
}

fn metric_history(call: &Call) -> Result<Reply> {
    let a = &call.args;
    let store = call.store();
    let id = store.resolve_run(&a.text("run")?)?;
    let key = a.text("key")?;
    let points = a.u64_or("points", 50, 2000)?.max(1) as usize;
    let series = store.metric_series_sampled(
        &id,
        &key,
        &crate::series::SeriesQuery {
            buckets: points,
            ..Default::default()
        },
    )?;
    let summary = match (series.buckets.first(), series.buckets.last()) {
        (Some(first), Some(last)) => format!(
            "{key} of run {}: {} buckets, steps {}–{}, first {}, last {}",
            crate::ids::short(&id),
            series.buckets.len(),
            first.x_lo,
            last.x_hi,
            crate::present::format_value(first.first),
            crate::present::format_value(last.last)
        ),
        _ => format!("{key} of run {}: no points", crate::ids::short(&id)),
    };
    Ok(Reply::new(
        summary,
        json!({"schema": "kiroku.series/v1", "run": id, "key": key, "series": series}),
    ))
}

/// The last `max` lines of `text` that contain `search` (case-insensitive), numbered from 1.
pub fn log_lines(text: &str, search: Option<&str>, max: usize) -> (Vec<(usize, String)>, usize) {
    let needle = search.map(str::to_lowercase);
    let matching: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, line)| {
            needle
                .as_deref()
                .is_none_or(|n| line.to_lowercase().contains(n))
        })
        .map(|(i, line)| (i + 1, line))
        .collect();
    let total = matching.len();
    let kept = matching
        .into_iter()
        .skip(total.saturating_sub(max))
        .map(|(n, l)| (n, l.to_string()))
        .collect();
    (kept, total)
}

fn run_log(call: &Call) -> Result<Reply> {
    let a = &call.args;
    let store = call.store();
    let id = store.resolve_run(&a.text("run")?)?;
    let Some(dir) = store.run_dir(&id) else {
        return Err(KirokuError::Invalid(format!(
            "run {id}'s output is kept by the server; this store has no run folder here"
        )));
    };
    let path = crate::store::run_files::output_log_path(&dir);
    let text = match std::fs::read(&path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(KirokuError::io(format!("reading {}", path.display()), e)),
    };
    let search = a.opt_text("search")?.filter(|s| !s.is_empty());
    let max = a.u64_or("lines", 50, 5000)?.max(1) as usize;
    let (lines, matched) = log_lines(&text, search.as_deref(), max);
    let mut summary = match &search {
        Some(s) => format!(
            "{matched} lines of run {}'s output contain '{s}'; the last {} shown",
            crate::ids::short(&id),
            lines.len()
        ),
        None => format!(
            "the last {} of {matched} lines of run {}'s output",
            lines.len(),
            crate::ids::short(&id)
        ),
    };
    for (n, line) in lines.iter().rev().take(20).rev() {
        summary.push_str(&format!("\n{n}: {line}"));
    }
    let lines_json: Vec<Value> = lines
        .iter()
        .map(|(n, l)| json!({"line": n, "text": l}))
        .collect();
    Ok(Reply::new(
        summary,
        json!({"schema": "kiroku.run-log/v1", "run": id, "search": search, "matched": matched, "lines": lines_json}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_keeps_the_last_matching_lines_numbered_from_the_start() {
        let text = "start\nepoch 1\nERROR one\nepoch 2\nerror two\nend\n";
        let (lines, total) = log_lines(text, Some("error"), 1);
        assert_eq!(total, 2);
        assert_eq!(lines, vec![(5, "error two".to_string())]);
        let (lines, total) = log_lines(text, None, 2);
        assert_eq!(total, 6);
        assert_eq!(lines[0], (5, "error two".to_string()));
    }

    #[test]
    fn trimmed_runs_keep_only_the_named_keys() {
        let mut run = Run {
            id: "abc".into(),
            name: "r".into(),
            experiment: "e".into(),
            ..serde_json::from_value(json!({
                "id": "abc", "name": "r", "experiment": "e", "experiment_id": 1,
                "status": "finished", "exit_code": null, "user": "u", "host": null,
                "start_time": 1, "end_time": null, "parent_id": null, "deleted": false,
                "params": {}, "metrics": {}, "tags": {}, "stars": []
            }))
            .unwrap()
        };
        run.params.insert("lr".into(), "0.1".into());
        run.params.insert("bs".into(), "32".into());
        run.tags.insert("team".into(), "v".into());
        let cols = vec![
            Column::parse("params.lr").unwrap(),
            Column::parse("status").unwrap(),
        ];
        let t = trimmed_run(&run, &cols);
        assert_eq!(
            t,
            json!({"id": "abc", "name": "r", "status": "finished", "params": {"lr": "0.1"}})
        );
    }
}
