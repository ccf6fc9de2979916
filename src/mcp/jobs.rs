//! Job tools: preview a submission (target, GPUs it would get, why it would wait), submit,
//! rerun a run with changed params, list jobs, a job's status with its log tail, cancel.
use super::tools::{
    boolean, confirm, integer, object_schema, pairs, run_ref, string, strings, Call, Effect, Reply,
    ToolDef,
};
use crate::error::{KirokuError, Result};
use crate::jobs::{cancel, preview, rerun, submit, targets};
use crate::model::{JobId, JobQuery, JobStatus, NewJob};
use serde_json::{json, Value};

/// The arguments a submission takes (preview_submit and submit_job alike).
fn submission_properties() -> Vec<(&'static str, Value)> {
    vec![
        ("command", strings("The program and its arguments, one item each, e.g. [\"python\", \"train.py\", \"--lr\", \"0.01\"].")),
        ("target", string("Where to run: `local` or a target of the project's kiroku.toml (default: its default_target, else local).")),
        ("gpus", integer("GPUs the job needs (default 0).", 0, 64)),
        ("gpu_memory_mb", integer("Share GPUs with other jobs, using at most this many MiB of each.", 1, 10_000_000)),
        ("name", string("Job and run name (default: the program's name).")),
        ("experiment", string("Experiment of the run (default: the project's, else Default).")),
        ("params", pairs("Params recorded on the run, key → value.")),
        ("after", strings("Job ids this job waits for; it is cancelled if one of them fails.")),
        ("time", string("Time limit: minutes, `30s`, `2h`, `HH:MM:SS`.")),
        ("workdir", string("Folder to run in (default: where the MCP server runs).")),
    ]
}

fn submission_schema() -> Value {
    object_schema(&submission_properties(), &["command"])
}

pub static TOOLS: &[ToolDef] = &[
    ToolDef {
        name: "preview_submit",
        title: "Preview a job submission",
        description: "Check a job without queueing it: the target it would go to, whether it would start at once and on which GPUs, or why it would wait (GPUs busy, target full, waiting for another job). Refuses what submit_job would refuse (unknown target, more GPUs than the target has).",
        schema: submission_schema,
        effect: Effect::Read,
        run: preview_submit,
    },
    ToolDef {
        name: "submit_job",
        title: "Submit a job",
        description: "Queue a command as a job on a target; it becomes a tracked run when it starts. Returns the job (its id for job_status). Use preview_submit first to see where and when it would run.",
        schema: submission_schema,
        effect: Effect::Write,
        run: submit_job,
    },
    ToolDef {
        name: "rerun_run",
        title: "Rerun a run with changed params",
        description: "Queue a run's recorded command again with changed params: each `set` key rewrites the command's `--key value` flag (appended when missing). Runs from a job keep that job's target and GPUs unless told. With `preview: true`, only shows the command and placement.",
        schema: || {
            object_schema(
                &[
                    ("run", run_ref()),
                    ("set", pairs("Params to change, key → new value, e.g. {\"lr\": 0.01}.")),
                    ("target", string("Where to run (default: the original job's target).")),
                    ("gpus", integer("GPUs (default: the original job's).", 0, 64)),
                    ("preview", boolean("Only show the rewritten command and where it would run; queue nothing.")),
                ],
                &["run"],
            )
        },
        effect: Effect::Write,
        run: rerun_run,
    },
    ToolDef {
        name: "list_jobs",
        title: "List jobs",
        description: "Jobs, newest first: status (queued, starting, running, finished, failed, cancelled, lost), why they wait or how they ended, GPUs, the run they became.",
        schema: || {
            object_schema(
                &[
                    ("status", strings("Only these statuses.")),
                    ("limit", integer("At most this many (default 20).", 1, 1000)),
                ],
                &[],
            )
        },
        effect: Effect::Read,
        run: list_jobs,
    },
    ToolDef {
        name: "job_status",
        title: "Job status and log",
        description: "One job: its status and reason, GPUs, run, exit code, and the end of its output (optionally only lines containing `search`). Poll it to follow a job.",
        schema: || {
            object_schema(
                &[
                    ("job", integer("The job id.", 1, 1_000_000_000_000)),
                    ("lines", integer("Log lines to show, the last ones (default 20; 0 for none).", 0, 5000)),
                    ("search", string("Only log lines containing this text (case-insensitive).")),
                ],
                &["job"],
            )
        },
        effect: Effect::Read,
        run: job_status,
    },
    ToolDef {
        name: "cancel_job",
        title: "Cancel a job",
        description: "Cancel a job: a queued one ends at once, a running one is stopped (SIGTERM, then SIGKILL). Without confirm: true it only previews what would be cancelled.",
        schema: || {
            object_schema(
                &[
                    ("job", integer("The job id.", 1, 1_000_000_000_000)),
                    ("confirm", confirm()),
                ],
                &["job"],
            )
        },
        effect: Effect::Destructive,
        run: cancel_job,
    },
];

fn host_name() -> String {
    crate::process::host_name().unwrap_or_else(|| "localhost".into())
}

fn current_dir() -> Result<String> {
    std::env::current_dir()
        .map(|d| d.display().to_string())
        .map_err(|e| KirokuError::io("reading the current directory", e))
}

/// The job a submission's arguments describe (its target resolved).
fn new_job(call: &Call) -> Result<NewJob> {
    let a = &call.args;
    let command = a.text_list("command", false)?;
    if command.is_empty() {
        return Err(KirokuError::Invalid(
            "argument 'command' is empty: give the program and its arguments".into(),
        ));
    }
    let config = &call.host.config;
    let target = targets::resolve(config, a.opt_text("target")?.as_deref())?;
    let after = a
        .text_list("after", false)?
        .iter()
        .map(|s| {
            s.trim().parse::<JobId>().map_err(|_| {
                KirokuError::Invalid(format!("argument 'after': '{s}' is not a job id"))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(NewJob {
        name: a.opt_text("name")?,
        experiment: a
            .opt_text("experiment")?
            .or_else(|| config.run.experiment.clone())
            .unwrap_or_else(|| "Default".into()),
        target: target.name,
        command,
        workdir: match a.opt_text("workdir")? {
            Some(dir) => dir,
            None => current_dir()?,
        },
        env: Vec::new(),
        gpus: u32::try_from(a.opt_u64("gpus")?.unwrap_or(0))
            .map_err(|_| KirokuError::Invalid("argument 'gpus' is too large".into()))?,
        gpu_memory_mb: a.opt_u64("gpu_memory_mb")?,
        after,
        params: a.pairs("params")?,
        tags: Vec::new(),
        rerun_of: None,
        retry_of: None,
        time_limit_s: a
            .opt_text("time")?
            .as_deref()
            .map(submit::parse_time_limit)
            .transpose()?,
        user: call.user().to_string(),
        host: host_name(),
    })
}

fn preview_text(p: &preview::SubmitPreview) -> String {
    if p.starts_now {
        format!(
            "would start at once on {} ({}){}",
            p.target,
            p.kind,
            if p.gpus.is_empty() {
                String::new()
            } else {
                format!(
                    " with GPU {}",
                    p.gpus
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                )
            }
        )
    } else {
        format!(
            "would wait on {} ({}): {} ({} queued ahead)",
            p.target,
            p.kind,
            p.reason.as_deref().unwrap_or("unknown"),
            p.queued_ahead
        )
    }
}

fn preview_submit(call: &Call) -> Result<Reply> {
    let new = new_job(call)?;
    let p = preview::preview(call.store(), &call.host.config, &new)?;
    Ok(Reply::new(
        preview_text(&p),
        json!({"schema": "kiroku.submit-preview/v1", "preview": p, "job": new}),
    ))
}

/// Queues `new` (handing it to the scheduler, started when none runs).
fn queue(call: &Call, new: &NewJob) -> Result<crate::model::Job> {
    let store = std::sync::Arc::clone(&call.host.store);
    submit::submit(|| Ok(store), &call.host.config, &call.host.location, new)
}

fn submit_job(call: &Call) -> Result<Reply> {
    let new = new_job(call)?;
    let job = queue(call, &new)?;
    Ok(Reply::new(
        format!(
            "queued job {} '{}' on {} as {}; follow it with job_status",
            job.id, job.name, job.target, job.user
        ),
        json!({"schema": "kiroku.job/v1", "job": job}),
    ))
}

fn rerun_run(call: &Call) -> Result<Reply> {
    let a = &call.args;
    let store = call.store();
    let request = rerun::RerunRequest {
        run_id: store.resolve_run(&a.text("run")?)?,
        sets: a.pairs("set")?,
        target: a.opt_text("target")?,
        gpus: a
            .opt_u64("gpus")?
            .map(|g| u32::try_from(g).unwrap_or(u32::MAX)),
        user: call.user().to_string(),
        host: host_name(),
        fallback_workdir: current_dir()?,
    };
    let (new, appended) = rerun::rerun_job(store, &call.host.config, &request)?;
    let appended_note = if appended.is_empty() {
        String::new()
    } else {
        format!(
            " (the command had no --{} flag; appended)",
            appended.join(", --")
        )
    };
    let command = crate::present::shell_words(&new.command);
    if a.flag("preview")? {
        let p = preview::preview(store, &call.host.config, &new)?;
        return Ok(Reply::new(
            format!("would run `{command}`{appended_note}; {}", preview_text(&p)),
            json!({"schema": "kiroku.submit-preview/v1", "preview": p, "job": new, "appended": appended}),
        ));
    }
    let job = queue(call, &new)?;
    Ok(Reply::new(
        format!("queued job {} running `{command}`{appended_note}", job.id),
        json!({"schema": "kiroku.job/v1", "job": job, "appended": appended}),
    ))
}

fn list_jobs(call: &Call) -> Result<Reply> {
    let a = &call.args;
    let statuses = a
        .text_list("status", false)?
        .iter()
        .map(|s| {
            s.parse::<JobStatus>()
                .map_err(|e| KirokuError::Invalid(format!("argument 'status': {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let jobs = call.store().jobs(&JobQuery {
        statuses,
        limit: Some(a.u64_or("limit", 20, 1000)?.max(1) as usize),
        ..Default::default()
    })?;
    let mut summary = format!("{} jobs", jobs.len());
    for j in jobs.iter().take(15) {
        summary.push_str(&format!(
            "\n{} {} {}{}",
            j.id,
            j.status,
            j.name,
            if j.reason.is_empty() {
                String::new()
            } else {
                format!(" ({})", j.reason)
            }
        ));
    }
    Ok(Reply::new(
        summary,
        json!({"schema": "kiroku.jobs/v1", "jobs": jobs}),
    ))
}

fn job_id(call: &Call) -> Result<JobId> {
    let id = call
        .args
        .opt_u64("job")?
        .ok_or_else(|| KirokuError::Invalid("argument 'job' is required".into()))?;
    i64::try_from(id).map_err(|_| KirokuError::NotFound(format!("there is no job {id}")))
}

fn job_status(call: &Call) -> Result<Reply> {
    let a = &call.args;
    let store = call.store();
    let job = store.job(job_id(call)?)?;
    let lines = a.u64_or("lines", 20, 5000)? as usize;
    let search = a.opt_text("search")?.filter(|s| !s.is_empty());
    let log = match (&job.run_id, lines) {
        (Some(run_id), 1..) => store.run_dir(run_id).map(|dir| {
            let path = crate::store::run_files::output_log_path(&dir);
            let text = std::fs::read(&path).unwrap_or_default();
            super::runs::log_lines(&String::from_utf8_lossy(&text), search.as_deref(), lines).0
        }),
        _ => None,
    };
    let mut summary = format!(
        "job {} '{}' is {}{}",
        job.id,
        job.name,
        job.status,
        if job.reason.is_empty() {
            String::new()
        } else {
            format!(": {}", job.reason)
        }
    );
    if let Some(run) = &job.run_id {
        summary.push_str(&format!("; run {run}"));
    }
    let shown = log.as_deref().unwrap_or_default();
    for (n, line) in &shown[shown.len().saturating_sub(20)..] {
        summary.push_str(&format!("\n{n}: {line}"));
    }
    let log_json: Option<Vec<Value>> = log.map(|lines| {
        lines
            .iter()
            .map(|(n, l)| json!({"line": n, "text": l}))
            .collect()
    });
    Ok(Reply::new(
        summary,
        json!({"schema": "kiroku.job/v1", "job": job, "log": log_json}),
    ))
}

fn cancel_job(call: &Call) -> Result<Reply> {
    let store = call.store();
    let id = job_id(call)?;
    let job = store.job(id)?;
    if !call.args.confirmed()? {
        let what = if job.status.is_terminal() {
            format!("job {id} already ended ({}); nothing to cancel", job.status)
        } else if job.status == JobStatus::Queued {
            format!(
                "would cancel queued job {id} '{}' (it never starts); call again with confirm: true",
                job.name
            )
        } else {
            format!(
                "would stop {} job {id} '{}' (SIGTERM, then SIGKILL){}; call again with confirm: true",
                job.status,
                job.name,
                job.run_id
                    .as_deref()
                    .map(|r| format!(", ending run {r}"))
                    .unwrap_or_default()
            )
        };
        return Ok(Reply::new(
            what,
            json!({"schema": "kiroku.job/v1", "job": job, "preview": true}),
        ));
    }
    let job = cancel::cancel_job(store, id, call.user())?;
    Ok(Reply::new(
        format!(
            "job {id} {}{}",
            job.status,
            if job.cancel_requested && job.status.is_active() {
                " (stopping)"
            } else {
                ""
            }
        ),
        json!({"schema": "kiroku.job/v1", "job": job, "preview": false}),
    ))
}
