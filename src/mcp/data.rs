//! Data tools: datasets and their versions, the check results waiting for a review, and a
//! review (approve, waive, reject, with a reason) recorded as the connected user. What
//! awaits a review and what a review covers is `store::checks_gate`'s decision, as for
//! `kiroku review` and `--require-checks`.
use super::tools::{boolean, integer, object_schema, pairs, string, Call, Effect, Reply, ToolDef};
use crate::error::{KirokuError, Result};
use crate::model::{now_ms, CheckRunQuery, NewReview, ReviewVerdict};
use crate::store::checks_gate::{self, Standing};
use serde_json::json;

pub static TOOLS: &[ToolDef] = &[
    ToolDef {
        name: "run_check_suite",
        title: "Run a data-check suite",
        description: "Check datasets against a suite (a kiroku TOML suite or a Great Expectations JSON suite) as a job: `kiroku check SUITE --data NAME=PATH…` on the local target. The check run is recorded against each dataset version (registered if new); follow the job with job_status, then see pending_reviews for results to review. The job fails when a check fails.",
        schema: || {
            object_schema(
                &[
                    ("suite", string("The suite file (path relative to `workdir`, or absolute).")),
                    ("data", pairs("Dataset name → path (a CSV or Parquet file or a folder of them), e.g. {\"train\": \"data/train.csv\"}.")),
                    ("fail_on_warn", boolean("Fail the job on warnings too.")),
                    ("workdir", string("Folder to run in (default: where the MCP server runs).")),
                ],
                &["suite", "data"],
            )
        },
        effect: Effect::Write,
        run: run_check_suite,
    },
    ToolDef {
        name: "list_datasets",
        title: "List datasets",
        description: "Registered datasets with their newest version (rows, columns, size) and the status of the newest check run; with `name`, that dataset's versions, newest first (NAME@N, content digest, rows, who added it when).",
        schema: || {
            object_schema(
                &[("name", string("A dataset: list its versions instead."))],
                &[],
            )
        },
        effect: Effect::Read,
        run: list_datasets,
    },
    ToolDef {
        name: "pending_reviews",
        title: "Check results awaiting review",
        description: "Data-check results (warned, failed or errored) that no review covers now: a new failure, one worse than what was reviewed, or a lapsed waiver. Each names its check run, result id, status, dataset version and why it waits. Runs and jobs with --require-checks are blocked until these are reviewed.",
        schema: || {
            object_schema(
                &[
                    ("dataset", string("Only check runs over this dataset.")),
                    ("limit", integer("At most this many check runs to look at, newest first (default 20).", 1, 500)),
                ],
                &[],
            )
        },
        effect: Effect::Read,
        run: pending_reviews,
    },
    ToolDef {
        name: "review_check",
        title: "Review a check result",
        description: "Record a verdict on a check run's failed, warned or errored results: approve (acceptable as is), waive (accepted for now; needs a reason, optionally `until` a time or span) or reject (the data must not be used). Without `result`, reviews each result of the check run awaiting a review. The review binds to the dataset version and suite, so new data needs a new review.",
        schema: || {
            object_schema(
                &[
                    ("check_run", integer("The check run number (from pending_reviews).", 1, 1_000_000_000_000)),
                    ("result", string("One result id of the check run (default: each awaiting review).")),
                    ("verdict", serde_json::json!({"type": "string", "enum": ["approve", "waive", "reject"], "description": "approve, waive or reject."})),
                    ("reason", string("Why (required to waive).")),
                    ("until", string("For a waiver: when it lapses, a time (2026-12-31) or a span from now (12h, 7d).")),
                ],
                &["check_run", "verdict"],
            )
        },
        effect: Effect::Write,
        run: review_check,
    },
];

fn list_datasets(call: &Call) -> Result<Reply> {
    let store = call.store();
    if let Some(name) = call.args.opt_text("name")? {
        let versions = store.dataset_versions(&name)?;
        if versions.is_empty() {
            return Err(KirokuError::NotFound(format!("no dataset named '{name}'")));
        }
        let summary = format!(
            "dataset {name}: {} versions, newest @{} ({} rows)",
            versions.len(),
            versions[0].number,
            versions[0].row_count
        );
        return Ok(Reply::new(
            summary,
            json!({"schema": "kiroku.dataset-versions/v1", "dataset": name, "versions": versions}),
        ));
    }
    let datasets = store.datasets()?;
    let mut summary = format!("{} datasets", datasets.len());
    for d in &datasets {
        summary.push_str(&format!(
            "\n{} @{} ({} versions, {} rows){}",
            d.name,
            d.latest.number,
            d.versions,
            d.latest.row_count,
            match (d.latest_check, d.latest_check_run) {
                (Some(status), Some(run)) => format!(", checks {status} (#{run})"),
                _ => String::new(),
            }
        ));
    }
    Ok(Reply::new(
        summary,
        json!({"schema": "kiroku.datasets/v1", "datasets": datasets}),
    ))
}

fn pending_reviews(call: &Call) -> Result<Reply> {
    let store = call.store();
    let now = now_ms();
    let runs = store.check_runs(&CheckRunQuery {
        dataset: call.args.opt_text("dataset")?,
        awaiting_review: true,
        limit: Some(call.args.u64_or("limit", 20, 500)?.max(1) as usize),
        ..Default::default()
    })?;
    let mut pending = Vec::new();
    for run in &runs {
        let reviews = store.reviews(run.id, None)?;
        for (result, standing) in checks_gate::standings(run, &reviews, now) {
            if let Standing::Awaiting { why, .. } = standing {
                pending.push(json!({
                    "check_run": run.id,
                    "result": result.id,
                    "status": result.status,
                    "suite": run.run.suite,
                    "version_id": run.version_of(result),
                    "datasets": run.run.datasets.iter().map(|d| &d.name).collect::<Vec<_>>(),
                    "why": why,
                    "unexpected_count": result.unexpected_count,
                }));
            }
        }
    }
    let mut summary = format!("{} results await a review", pending.len());
    for p in pending.iter().take(15) {
        summary.push_str(&format!(
            "\n{}/{} {} ({})",
            p["check_run"],
            p["result"].as_str().unwrap_or_default(),
            p["status"].as_str().unwrap_or_default(),
            p["why"].as_str().unwrap_or_default()
        ));
    }
    Ok(Reply::new(
        summary,
        json!({"schema": "kiroku.pending-reviews/v1", "pending": pending}),
    ))
}

fn review_check(call: &Call) -> Result<Reply> {
    let a = &call.args;
    let store = call.store();
    let now = now_ms();
    let check_run = a
        .opt_u64("check_run")?
        .ok_or_else(|| KirokuError::Invalid("argument 'check_run' is required".into()))?;
    let check_run = i64::try_from(check_run)
        .map_err(|_| KirokuError::NotFound(format!("there is no check run {check_run}")))?;
    let verdict = match a.text("verdict")?.as_str() {
        "approve" | "approved" => ReviewVerdict::Approved,
        "waive" | "waived" => ReviewVerdict::Waived,
        "reject" | "rejected" => ReviewVerdict::Rejected,
        other => {
            return Err(KirokuError::Invalid(format!(
                "argument 'verdict': '{other}' is not approve, waive or reject"
            )))
        }
    };
    let reason = a.opt_text("reason")?.unwrap_or_default();
    let expires_at = match a.opt_text("until")? {
        Some(_) if verdict != ReviewVerdict::Waived => {
            return Err(KirokuError::Invalid(
                "argument 'until' applies to a waiver only".into(),
            ))
        }
        Some(text) => Some(crate::present::time::parse_until(
            &text,
            now,
            "argument 'until'",
        )?),
        None => None,
    };
    let results = checks_gate::results_to_review(store, check_run, a.opt_text("result")?, now)?;
    let mut recorded = Vec::new();
    for result_id in results {
        recorded.push(store.add_review(&NewReview {
            check_run,
            result_id,
            verdict,
            comment: reason.clone(),
            reviewer: call.user().to_string(),
            expires_at,
        })?);
    }
    let summary = recorded
        .iter()
        .map(|r| {
            format!(
                "{} {check_run}/{} ({}) by {}",
                r.review.verdict, r.review.result_id, r.status_reviewed, r.review.reviewer
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    Ok(Reply::new(
        summary,
        json!({"schema": "kiroku.reviews/v1", "reviews": recorded}),
    ))
}

fn run_check_suite(call: &Call) -> Result<Reply> {
    let a = &call.args;
    let data = a.pairs("data")?;
    if data.is_empty() {
        return Err(KirokuError::Invalid(
            "argument 'data' names no dataset (name → path)".into(),
        ));
    }
    let exe =
        std::env::current_exe().map_err(|e| KirokuError::io("finding the kiroku program", e))?;
    let mut command = vec![
        exe.display().to_string(),
        "--store".to_string(),
        call.host.location.clone(),
        "check".to_string(),
        a.text("suite")?,
    ];
    for (name, path) in &data {
        command.extend(["--data".to_string(), format!("{name}={path}")]);
    }
    if a.flag("fail_on_warn")? {
        command.push("--fail-on-warn".into());
    }
    let workdir = match a.opt_text("workdir")? {
        Some(dir) => dir,
        None => std::env::current_dir()
            .map(|d| d.display().to_string())
            .map_err(|e| KirokuError::io("reading the current directory", e))?,
    };
    let config = &call.host.config;
    let new = crate::model::NewJob {
        name: Some(format!("check {}", a.text("suite")?)),
        experiment: config
            .run
            .experiment
            .clone()
            .unwrap_or_else(|| "Default".into()),
        target: crate::jobs::targets::resolve(config, Some("local"))?.name,
        command,
        workdir,
        user: call.user().to_string(),
        host: crate::process::host_name().unwrap_or_else(|| "localhost".into()),
        ..Default::default()
    };
    let store = std::sync::Arc::clone(&call.host.store);
    let job = crate::jobs::submit::submit(|| Ok(store), config, &call.host.location, &new)?;
    Ok(Reply::new(
        format!(
            "queued job {} checking {} with {}; follow it with job_status",
            job.id,
            data.iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            a.text("suite")?
        ),
        json!({"schema": "kiroku.job/v1", "job": job}),
    ))
}
