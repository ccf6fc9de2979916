//! Job commands: `kiroku submit`, `rerun`, `jobs ls|show|logs|cancel|retry`, and the hidden
//! `kiroku scheduler` that `submit` starts. The queue's logic is `crate::jobs`; this file turns
//! arguments into `NewJob`s and store calls, and jobs into tables and JSON.
use super::output::{output_error, print_json, print_text, Table};
use super::Context;
use crate::error::{KirokuError, Result};
use crate::jobs::gpu_holders::{self, Holder};
use crate::jobs::gpus::{discover_detailed, GpuInfo};
use crate::jobs::launcher::Launcher;
use crate::jobs::{cancel, rerun, scheduler, submit, targets, wake};
use crate::model::{now_ms, Job, JobId, JobQuery, JobStatus, NewJob};
use crate::present::{
    format_duration, format_relative, format_timestamp, parse_pairs, shell_words, Format,
};
use crate::store::Store;
use clap::{Args, Subcommand};
use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

/// The JSON schema of a job listing.
const JOBS_SCHEMA: &str = "kiroku.jobs/v1";
/// The JSON schema of one job.
const JOB_SCHEMA: &str = "kiroku.job/v1";
/// The JSON schema of `jobs gpus`.
const GPUS_SCHEMA: &str = "kiroku.gpus/v1";

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// Where to run it: `local` or a `[targets.NAME]` of kiroku.toml (default: `default_target`,
    /// else `local`).
    #[arg(long, short = 'T')]
    pub target: Option<String>,
    /// GPUs the job needs.
    #[arg(long, default_value_t = 0)]
    pub gpus: u32,
    /// Share GPUs with other jobs that declare a budget, using at most this many MiB of each.
    #[arg(long = "gpu-memory", value_name = "MB")]
    pub gpu_memory_mb: Option<u64>,
    /// Job (and run) name (default: the program's name).
    #[arg(long, short = 'n')]
    pub name: Option<String>,
    /// Experiment of the run (default from kiroku.toml, else "Default").
    #[arg(long = "exp", short = 'e')]
    pub experiment: Option<String>,
    /// Start only after this job finished successfully; cancelled if it did not (repeatable).
    #[arg(long = "after", value_name = "JOB")]
    pub after: Vec<JobId>,
    /// Params of the run, `k=v` (repeatable).
    #[arg(long = "param", short = 'p', value_name = "K=V")]
    pub params: Vec<String>,
    /// Time limit: minutes, `30s`, `2h`, `HH:MM:SS`, `D-HH:MM:SS`.
    #[arg(long = "time", value_name = "LIMIT")]
    pub time: Option<String>,
    /// Refuse to queue unless dataset NAME's newest version's checks passed or every failure
    /// was reviewed (checked at submission, and again when the job starts; repeatable).
    #[arg(long = "require-checks", value_name = "NAME")]
    pub require_checks: Vec<String>,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct RerunArgs {
    /// The run (id, prefix or name) whose command to queue again.
    pub run: String,
    /// Change a param: rewrites the command's `--k v` / `--k=v` flag (appended when missing).
    #[arg(long = "set", short = 's', value_name = "K=V")]
    pub sets: Vec<String>,
    /// Where to run it (default: the original job's target, else as `submit`).
    #[arg(long, short = 'T')]
    pub target: Option<String>,
    /// GPUs (default: the original job's).
    #[arg(long)]
    pub gpus: Option<u32>,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List jobs, newest first: status, why they wait or how they ended, GPUs, run.
    Ls(JobsLsArgs),
    /// Show one job.
    Show { id: JobId },
    /// A job's output (its run's output.log); `-f` follows it until the job ends.
    Logs {
        id: JobId,
        #[arg(long, short = 'f')]
        follow: bool,
    },
    /// Cancel jobs: a queued one at once, a running one is stopped (SIGTERM, then SIGKILL).
    Cancel {
        #[arg(required = true)]
        ids: Vec<JobId>,
    },
    /// Queue an ended job again (same command, target and resources), linked to it.
    Retry { id: JobId },
    /// This box's GPUs: utilisation, memory, and who holds each (a kiroku job, another
    /// process, or free); how they were found (NVML or nvidia-smi), or why there are none.
    Gpus,
}

#[derive(Debug, Args)]
pub struct JobsLsArgs {
    /// Only these statuses (repeatable): queued, starting, running, finished, failed, …
    #[arg(long = "status")]
    pub statuses: Vec<JobStatus>,
    /// Only this target's jobs.
    #[arg(long, short = 'T')]
    pub target: Option<String>,
    /// At most this many (newest first).
    #[arg(long, short = 'l')]
    pub limit: Option<usize>,
}

fn host() -> String {
    crate::process::host_name().unwrap_or_else(|| "localhost".into())
}

fn current_dir() -> Result<String> {
    std::env::current_dir()
        .map(|d| d.display().to_string())
        .map_err(|e| KirokuError::io("reading the current directory", e))
}

/// Submits and prints the new job: its id, or the job as JSON when `--format json` was asked.
fn submit_and_print(ctx: &mut Context, new: &NewJob, explicit: Option<Format>) -> Result<i32> {
    let (config, location) = (ctx.config.clone(), ctx.location_text());
    let job = submit::submit(|| ctx.store(), &config, &location, new)?;
    if explicit == Some(Format::Json) {
        print_json(&serde_json::json!({"schema": JOB_SCHEMA, "job": job})).map_err(output_error)?;
    } else {
        print_text(&format!("{}\n", job.id)).map_err(output_error)?;
    }
    Ok(0)
}

/// `kiroku submit`.
pub fn submit(ctx: &mut Context, args: &SubmitArgs, explicit: Option<Format>) -> Result<i32> {
    // The store is opened here only for `--require-checks`: a plain submission is handed to
    // the running scheduler without opening it (`submit::submit`).
    if !args.require_checks.is_empty() {
        if let Some(refusal) = crate::store::checks_gate::require_checks(
            ctx.store()?.as_ref(),
            &args.require_checks,
            &[],
            now_ms(),
        )? {
            eprintln!("kiroku: {refusal}");
            return Ok(1);
        }
    }
    let target = targets::resolve(&ctx.config, args.target.as_deref())?;
    let new = NewJob {
        name: args.name.clone(),
        experiment: args
            .experiment
            .clone()
            .or_else(|| ctx.config.run.experiment.clone())
            .unwrap_or_else(|| "Default".into()),
        target: target.name,
        command: args.command.clone(),
        workdir: current_dir()?,
        env: Vec::new(),
        gpus: args.gpus,
        gpu_memory_mb: args.gpu_memory_mb,
        after: args.after.clone(),
        params: parse_pairs(&args.params, "--param")?,
        tags: Vec::new(),
        rerun_of: None,
        retry_of: None,
        time_limit_s: args
            .time
            .as_deref()
            .map(submit::parse_time_limit)
            .transpose()?,
        user: ctx.user.clone(),
        host: host(),
    };
    let new = crate::wrap::job::requiring_checks(new, &args.require_checks);
    submit_and_print(ctx, &new, explicit)
}

/// `kiroku rerun RUN --set k=v`.
pub fn rerun_run(ctx: &mut Context, args: &RerunArgs, explicit: Option<Format>) -> Result<i32> {
    let store = ctx.store()?;
    let run_id = store.resolve_run(&args.run)?;
    let sets = parse_pairs(&args.sets, "--set")?;
    let request = rerun::RerunRequest {
        run_id,
        sets: sets.clone(),
        target: args.target.clone(),
        gpus: args.gpus,
        user: ctx.user.clone(),
        host: host(),
        fallback_workdir: current_dir()?,
    };
    let (new, appended) = rerun::rerun_job(store.as_ref(), &ctx.config, &request)?;
    for key in &appended {
        let value = &sets
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .expect("a set key")
            .1;
        eprintln!("kiroku: the command had no --{key} flag; appended `--{key} {value}`");
    }
    submit_and_print(ctx, &new, explicit)
}

/// `kiroku jobs …`.
pub fn jobs(ctx: &mut Context, cmd: &JobsCommand, explicit: Option<Format>) -> Result<i32> {
    match cmd {
        JobsCommand::Ls(args) => list(ctx, args),
        JobsCommand::Show { id } => show(ctx, *id),
        JobsCommand::Logs { id, follow } => logs(ctx, *id, *follow),
        JobsCommand::Cancel { ids } => cancel_jobs(ctx, ids),
        JobsCommand::Gpus => gpus(ctx),
        JobsCommand::Retry { id } => {
            let store = ctx.store()?;
            let job = store.job(*id)?;
            if !job.status.is_terminal() {
                return Err(KirokuError::Invalid(format!(
                    "job {id} is {}; only an ended job can be retried",
                    job.status
                )));
            }
            let new = submit::retry_of(&job, &ctx.user, &host());
            submit_and_print(ctx, &new, explicit)
        }
    }
}

/// The store for a command that shows jobs: runs and jobs whose supervisor died on this host
/// are marked `lost` first, so nothing shown is `running` without a process.
fn store_to_look_at(ctx: &mut Context) -> Result<std::sync::Arc<dyn Store>> {
    let store = ctx.store()?;
    // Jobs first: that stops a dead supervisor's command, whose run is then recovered.
    crate::jobs::lost::recover_lost_jobs_quietly(store.as_ref());
    crate::supervise::recover_lost_runs_quietly(store.as_ref());
    Ok(store)
}

fn list(ctx: &mut Context, args: &JobsLsArgs) -> Result<i32> {
    let store = store_to_look_at(ctx)?;
    let jobs = store.jobs(&JobQuery {
        statuses: args.statuses.clone(),
        target: args.target.clone(),
        host: None,
        limit: args.limit,
    })?;
    if ctx.format == Format::Json {
        print_json(&serde_json::json!({"schema": JOBS_SCHEMA, "jobs": jobs}))
            .map_err(output_error)?;
        return Ok(0);
    }
    print_text(&jobs_table(&jobs, ctx.format, now_ms()).render(ctx.format))
        .map_err(output_error)?;
    Ok(0)
}

/// `kiroku jobs gpus`: the GPUs discovery finds on this box, and those a local target lists
/// that it does not find, in index order, each with who holds it.
fn gpus(ctx: &mut Context) -> Result<i32> {
    let store = store_to_look_at(ctx)?;
    let host = host();
    let jobs = store.jobs(&JobQuery {
        statuses: vec![JobStatus::Starting, JobStatus::Running],
        target: None,
        host: Some(host.clone()),
        limit: None,
    })?;
    let found = discover_detailed();
    let listed = gpu_holders::listed_not_found(&ctx.config, &found.gpus);
    let mut rows: Vec<(u32, Option<&GpuInfo>)> =
        found.gpus.iter().map(|g| (g.index, Some(g))).collect();
    rows.extend(listed.iter().map(|&index| (index, None)));
    rows.sort_by_key(|(index, _)| *index);
    let holders: Vec<Holder> = rows
        .iter()
        .map(|&(index, gpu)| gpu_holders::holder(&jobs, &ctx.config, &host, index, gpu))
        .collect();
    if ctx.format == Format::Json {
        let gpus: Vec<serde_json::Value> = rows
            .iter()
            .zip(&holders)
            .map(|(&(index, gpu), holder)| {
                let mut value = match gpu {
                    Some(g) => serde_json::to_value(g).unwrap_or_default(),
                    None => serde_json::json!({"index": index}),
                };
                let job_ids: Vec<JobId> = match holder {
                    Holder::Jobs(jobs) => jobs.iter().map(|j| j.id).collect(),
                    _ => Vec::new(),
                };
                if let Some(fields) = value.as_object_mut() {
                    fields.insert("found".into(), gpu.is_some().into());
                    fields.insert("jobs".into(), job_ids.into());
                    fields.insert("holder".into(), holder.label().into());
                }
                value
            })
            .collect();
        print_json(&serde_json::json!({
            "schema": GPUS_SCHEMA,
            "host": host,
            "source": found.source,
            "note": found.note,
            "gpus": gpus,
        }))
        .map_err(output_error)?;
        return Ok(0);
    }
    let table = ctx.format == Format::Table;
    let mut text = if rows.is_empty() && table {
        format!("no GPUs on {host}\n")
    } else {
        gpus_table(&rows, &holders).render(ctx.format)
    };
    // Under a table; beside CSV or Markdown, which must stay only that, on stderr.
    match &found.note {
        Some(note) if table => text.push_str(&format!("note: {note}\n")),
        Some(note) => eprintln!("kiroku: {note}"),
        None => {}
    }
    print_text(&text).map_err(output_error)?;
    Ok(0)
}

/// The rows of `jobs gpus` as a table: index, name, utilisation, memory, holder.
fn gpus_table(rows: &[(u32, Option<&GpuInfo>)], holders: &[Holder]) -> Table {
    let mut t = Table::new(
        ["GPU", "NAME", "UTIL", "MEMORY", "HOLDER"]
            .map(String::from)
            .to_vec(),
    );
    t.numeric[0] = true;
    t.numeric[2] = true;
    for ((index, gpu), holder) in rows.iter().zip(holders) {
        let util = gpu
            .and_then(|g| g.utilization_pct)
            .map_or("—".to_string(), |u| format!("{u}%"));
        let memory = gpu
            .and_then(|g| g.memory_used_mb.zip(g.memory_total_mb))
            .map_or("—".to_string(), |(used, total)| {
                format!("{used}/{total} MiB")
            });
        t.push(vec![
            index.to_string(),
            gpu.map_or("listed, not found".to_string(), |g| g.name.clone()),
            util,
            memory,
            holder.label(),
        ]);
    }
    t
}

/// A job's GPUs as a cell: what it asked for, and which it got (`2 → 0,1`).
fn gpus_cell(job: &Job) -> String {
    let booked: Vec<String> = job.assigned_gpus.iter().map(u32::to_string).collect();
    match (job.gpus, booked.is_empty()) {
        (0, _) => String::new(),
        (n, true) => n.to_string(),
        (n, false) => format!("{n} → {}", booked.join(",")),
    }
}

/// How long a job waited or ran (for a table): queued for, running for, or took.
fn time_cell(job: &Job, now: i64) -> String {
    match (job.started_at, job.ended_at) {
        (Some(start), Some(end)) => format_duration(end - start),
        (Some(start), None) => format_duration(now - start),
        (None, _) => format_relative(job.queued_at, now),
    }
}

pub fn jobs_table(jobs: &[Job], format: Format, now: i64) -> Table {
    let mut t = Table::new(
        [
            "ID", "STATUS", "NAME", "TARGET", "GPUS", "REASON", "RUN", "TIME", "USER",
        ]
        .map(String::from)
        .to_vec(),
    );
    t.numeric[0] = true;
    t.droppable_from = 6;
    for job in jobs {
        let run = job
            .run_id
            .as_deref()
            .map(|r| {
                if format == Format::Table {
                    crate::ids::short(r).to_string()
                } else {
                    r.to_string()
                }
            })
            .unwrap_or_default();
        let reason = match (job.status, job.exit_code) {
            (JobStatus::Finished, _) => String::new(),
            _ => job.reason.clone(),
        };
        t.push(vec![
            job.id.to_string(),
            job.status.to_string(),
            job.name.clone(),
            job.target.clone(),
            gpus_cell(job),
            reason,
            run,
            time_cell(job, now),
            job.user.clone(),
        ]);
    }
    t
}

fn show(ctx: &mut Context, id: JobId) -> Result<i32> {
    let store = store_to_look_at(ctx)?;
    let job = store.job(id)?;
    if ctx.format == Format::Json {
        print_json(&serde_json::json!({"schema": JOB_SCHEMA, "job": job})).map_err(output_error)?;
        return Ok(0);
    }
    let now = now_ms();
    let mut s = format!("job {}  {}\n", job.id, job.name);
    let mut field = |k: &str, v: String| {
        if !v.is_empty() {
            s.push_str(&format!("  {k:<11}{v}\n"));
        }
    };
    field("status", job.status.to_string());
    field("reason", job.reason.clone());
    field("target", job.target.clone());
    field("command", shell_words(&job.command));
    field("workdir", job.workdir.clone());
    field("experiment", job.experiment.clone());
    field("gpus", gpus_cell(&job));
    field(
        "gpu memory",
        job.gpu_memory_mb
            .map(|m| format!("{m} MB"))
            .unwrap_or_default(),
    );
    field(
        "after",
        job.after
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", "),
    );
    field("run", job.run_id.clone().unwrap_or_default());
    field(
        "queued",
        format!(
            "{} ({}) by {} on {}",
            format_timestamp(job.queued_at),
            format_relative(job.queued_at, now),
            job.user,
            job.host
        ),
    );
    field(
        "started",
        job.started_at.map(format_timestamp).unwrap_or_default(),
    );
    if let (Some(start), Some(end)) = (job.started_at, job.ended_at) {
        field(
            "ended",
            format!(
                "{} · took {}",
                format_timestamp(end),
                format_duration(end - start)
            ),
        );
    } else {
        field(
            "ended",
            job.ended_at.map(format_timestamp).unwrap_or_default(),
        );
    }
    field(
        "exit code",
        job.exit_code.map(|c| c.to_string()).unwrap_or_default(),
    );
    field(
        "time limit",
        job.time_limit_s
            .map(|t| format_duration(t as i64 * 1000))
            .unwrap_or_default(),
    );
    field("handle", job.handle.clone().unwrap_or_default());
    field("rerun of", job.rerun_of.clone().unwrap_or_default());
    field(
        "retry of",
        job.retry_of.map(|r| r.to_string()).unwrap_or_default(),
    );
    if job.cancel_requested && !job.status.is_terminal() {
        field("cancel", "requested".into());
    }
    print_text(&s).map_err(output_error)?;
    Ok(0)
}

/// How often `logs -f` looks for more output (a terminal follower, like `tail -f`).
const FOLLOW_EVERY: Duration = Duration::from_millis(200);

fn logs(ctx: &mut Context, id: JobId, follow: bool) -> Result<i32> {
    let store = store_to_look_at(ctx)?;
    let mut job = store.job(id)?;
    // Following a job that has not started yet waits for its run.
    while follow && job.run_id.is_none() && !job.status.is_terminal() {
        std::thread::sleep(FOLLOW_EVERY);
        job = store.job(id)?;
    }
    let Some(run_id) = job.run_id.clone() else {
        return Err(KirokuError::Invalid(format!(
            "job {id} has no run ({}{})",
            job.status,
            if job.reason.is_empty() {
                String::new()
            } else {
                format!(": {}", job.reason)
            }
        )));
    };
    let Some(dir) = store.run_dir(&run_id) else {
        return Err(KirokuError::Invalid(format!(
            "job {id}'s output is in run {run_id} on the server; read its output.log with \
             `kiroku show {run_id}` (remote stores have no run folder here)"
        )));
    };
    let path = crate::store::run_files::output_log_path(&dir);
    if ctx.format == Format::Json && !follow {
        let text = std::fs::read(&path).unwrap_or_default();
        print_json(&serde_json::json!({
            "schema": "kiroku.job-log/v1", "job": id, "run_id": run_id,
            "text": String::from_utf8_lossy(&text),
        }))
        .map_err(output_error)?;
        return Ok(0);
    }
    let mut offset = 0u64;
    loop {
        // The status is read before the file: output written before the job ended is in the
        // file by the time its end is recorded.
        let ended = !follow || store.job(id)?.status.is_terminal();
        offset = copy_new_output(&path, offset)?;
        if ended {
            return Ok(0);
        }
        std::thread::sleep(FOLLOW_EVERY);
    }
}

/// Copies what `path` holds past `offset` to stdout; returns the new offset.
fn copy_new_output(path: &std::path::Path, offset: u64) -> Result<u64> {
    let mut file = match crate::fsutil::open_regular(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(offset),
        Err(e) => return Err(KirokuError::io(format!("reading {}", path.display()), e)),
    };
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| KirokuError::io(format!("reading {}", path.display()), e))?;
    let mut buf = Vec::new();
    file.read_to_end(&mut buf)
        .map_err(|e| KirokuError::io(format!("reading {}", path.display()), e))?;
    let mut out = std::io::stdout().lock();
    out.write_all(&buf)
        .and_then(|_| out.flush())
        .map_err(output_error)?;
    Ok(offset + buf.len() as u64)
}

fn cancel_jobs(ctx: &mut Context, ids: &[JobId]) -> Result<i32> {
    let store = ctx.store()?;
    let mut jobs = Vec::new();
    let mut first_error = None;
    for &id in ids {
        match cancel::cancel_job(store.as_ref(), id, &ctx.user) {
            Ok(job) => jobs.push(job),
            Err(e) => {
                eprintln!("kiroku: job {id}: {e}");
                first_error.get_or_insert(e);
            }
        }
    }
    // A cancelled job frees its place in the queue: the scheduler looks again.
    wake::poke(store.as_ref());
    if ctx.format == Format::Json {
        print_json(&serde_json::json!({"schema": JOBS_SCHEMA, "jobs": jobs}))
            .map_err(output_error)?;
    } else {
        let mut text = String::new();
        for job in &jobs {
            let what = match job.status {
                JobStatus::Cancelled => "cancelled".to_string(),
                status if status.is_terminal() => format!("already ended ({status})"),
                _ => "cancel requested; it is being stopped".to_string(),
            };
            text.push_str(&format!("job {}: {what}\n", job.id));
        }
        print_text(&text).map_err(output_error)?;
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(0),
    }
}

/// The hidden `kiroku scheduler`: acts for this host on the store until idle.
pub fn run_scheduler(ctx: &mut Context) -> Result<i32> {
    // First, while this process has one thread and no store open: the launcher that forks
    // job supervisors (each then runs what `kiroku job-exec ID` would).
    let location = ctx.location.clone();
    let explicit_store = ctx.explicit_store;
    let launcher = Launcher::start(Box::new(move || {
        // Ahead of the job (in a spare supervisor): a local store is opened and its schema
        // read (not a remote one, whose client starts threads: the supervisor must block its
        // signals before any thread starts), the configuration read (again when the job comes
        // if a file changed meanwhile), and this process's identity, which the job's run
        // records as its supervisor, looked up.
        let store = super::job_exec::prepared_store(&location);
        let prepared = super::job_exec::PreparedContext::new(location.clone(), explicit_store);
        let _ = crate::process::ProcessIdentity::current();
        Box::new(move |id| {
            let outcome = prepared.into_current().and_then(|mut job_ctx| {
                if let Some(store) = store {
                    job_ctx.use_store(store);
                }
                super::job_exec::job_exec_command(&mut job_ctx, id)
            });
            outcome.unwrap_or_else(|e| {
                eprintln!("kiroku: error: {e}");
                e.exit_code()
            })
        })
    }));
    let store = ctx.store()?;
    let scheduler = scheduler::Scheduler::new(
        store,
        &ctx.location_text(),
        ctx.location.project_dir(),
        ctx.config.clone(),
    )?;
    // Model deploy hooks due for delivery (or a retry) go out from this loop too.
    let hooks_store = ctx.store()?;
    let (location, user, host) = (ctx.location_text(), ctx.user.clone(), host());
    let workdir = crate::models::workdir_for(&location);
    let scheduler = scheduler.with_pass_hook(Box::new(move |config| {
        crate::models::outbox::scheduler_pass(&crate::models::Submitter {
            store: hooks_store.as_ref(),
            config: config.clone(),
            store_location: location.clone(),
            user: user.clone(),
            host: host.clone(),
            workdir: workdir.clone(),
            queue_directly: true,
            server_url: None,
            job_tokens: None,
        })
    }));
    let scheduler = match launcher {
        Ok(launcher) => scheduler.with_launcher(launcher),
        Err(e) => {
            eprintln!("kiroku scheduler: no launcher ({e}); starting supervisors as processes");
            scheduler
        }
    };
    scheduler.run()?;
    Ok(0)
}
