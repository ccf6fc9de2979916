//! One stage execution as a job and a run: the job (so it shows in `kiroku jobs`), the run
//! (a child of the pipeline's run, with the stage's command, params and tags), the process,
//! and how both end.
//!
//! A stage on the `local` target without GPUs runs right here, under the same records the
//! queue's supervisor would write: the job is queued and at once taken `queued` → `running`
//! by this process as its supervisor (a compare-and-swap; should this host's scheduler take
//! it first, the stage simply goes through the queue), its commands run in a process group of
//! their own with their output in the run's `output.log`. Going through the scheduler instead
//! costs a scheduler wake-up and a detached supervisor process per stage (tens to hundreds of
//! milliseconds), too much for pipelines of short stages.
//!
//! A stage on another target (ssh, slurm) or asking for GPUs goes through the queue
//! (`jobs::submit`), which places it; this waits for the job to end and takes its run.
use crate::config::Config;
use crate::error::{KirokuError, Result};
use crate::jobs::submit;
use crate::model::pipeline::PIPELINE_RUN_TAG;
use crate::model::{now_ms, JobId, JobStatus, JobUpdate, NewJob, NewRun, RunStatus};
use crate::store::Store;
use std::collections::HashMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Who and where: what every stage's records share.
pub struct RunContext<'a> {
    pub store: &'a dyn Store,
    pub config: &'a Config,
    /// How a spawned scheduler finds the store.
    pub store_location: String,
    pub experiment: String,
    pub user: String,
    pub host: String,
    /// The pipeline's run, parent of every stage run.
    pub pipeline_run: Option<String>,
}

/// What to run for one stage.
#[derive(Debug, Clone)]
pub struct StageCommand {
    pub stage: String,
    /// Run in order through `sh -c`, stopping at the first failure.
    pub commands: Vec<String>,
    pub workdir: PathBuf,
    /// `local` or a target of kiroku.toml.
    pub target: String,
    pub gpus: u32,
    /// Params the run gets (`file:key` = value).
    pub params: Vec<(String, String)>,
    /// Tags the run gets besides kiroku's own.
    pub tags: Vec<(String, String)>,
}

/// How a stage's process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    Succeeded,
    Failed(String),
    Killed,
}

/// The stage's records while it runs.
#[derive(Debug, Clone)]
pub struct StageRecords {
    pub job: JobId,
    pub run_id: Option<String>,
    /// The stage's output (local stages).
    pub log: Option<PathBuf>,
    /// Whether this process supervises the job (else the queue's supervisor ends it).
    pub supervised_here: bool,
}

/// The process groups of the stages running here, and the queued jobs waited on, so that an
/// interrupt stops them all.
#[derive(Default)]
pub struct Running {
    groups: Mutex<HashMap<String, i32>>,
    jobs: Mutex<HashMap<String, JobId>>,
}

impl Running {
    /// SIGTERM to every group, SIGKILL after `grace`; a cancel request for every queued job.
    pub fn stop_all(&self, store: &dyn Store, user: &str, grace: Duration) {
        let groups: Vec<i32> = self.lock_groups().values().copied().collect();
        for &group in &groups {
            // SAFETY: signalling a process group this process created.
            unsafe { libc::kill(-group, libc::SIGTERM) };
        }
        let jobs: Vec<JobId> = self.lock_jobs().values().copied().collect();
        for job in jobs {
            let _ = store.request_cancel(job, user);
        }
        let deadline = std::time::Instant::now() + grace;
        while std::time::Instant::now() < deadline && !self.lock_groups().is_empty() {
            std::thread::sleep(Duration::from_millis(20));
        }
        for group in self.lock_groups().values() {
            // SAFETY: as above; the group outlived its grace.
            unsafe { libc::kill(-group, libc::SIGKILL) };
        }
    }

    fn lock_groups(&self) -> std::sync::MutexGuard<'_, HashMap<String, i32>> {
        self.groups.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_jobs(&self) -> std::sync::MutexGuard<'_, HashMap<String, JobId>> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn new_job(ctx: &RunContext, stage: &StageCommand) -> NewJob {
    let mut tags = vec![("kiroku.pipeline.stage".to_string(), stage.stage.clone())];
    if let Some(parent) = &ctx.pipeline_run {
        tags.push((PIPELINE_RUN_TAG.into(), parent.clone()));
    }
    tags.extend(stage.tags.iter().cloned());
    NewJob {
        name: Some(stage.stage.clone()),
        experiment: ctx.experiment.clone(),
        target: stage.target.clone(),
        command: vec!["sh".into(), "-c".into(), stage.commands.join(" && ")],
        workdir: stage.workdir.display().to_string(),
        gpus: stage.gpus,
        params: stage.params.clone(),
        tags,
        user: ctx.user.clone(),
        host: ctx.host.clone(),
        ..Default::default()
    }
}

/// Runs `stage` to its end as a job and a run; `stop` set means an interrupt arrived (the
/// caller then calls `Running::stop_all`). `on_start` sees the records once they exist.
pub fn run_stage(
    ctx: &RunContext,
    stage: &StageCommand,
    running: &Running,
    stop: &AtomicBool,
    on_start: &dyn Fn(&StageRecords),
) -> Result<(Ended, StageRecords)> {
    let new = new_job(ctx, stage);
    if stage.target != "local" || stage.gpus > 0 {
        return run_queued(ctx, stage, &new, running, stop, on_start);
    }
    let job = ctx.store.submit_job(&new)?;
    let metrics_file = std::env::temp_dir().join(format!(
        "kiroku-stage-{}-{}.jsonl",
        std::process::id(),
        job.id
    ));
    let supervisor = crate::supervise::supervisor_for(&metrics_file);
    let taken = ctx.store.update_job(
        job.id,
        &JobUpdate {
            status: Some(JobStatus::Running),
            reason: Some(String::new()),
            started_at: Some(now_ms()),
            supervisor: supervisor.clone(),
            ..JobUpdate::from(&[JobStatus::Queued])
        },
    )?;
    if taken.is_none() {
        // This host's scheduler took it first: it runs through the queue after all.
        return wait_for_job(ctx, stage, job.id, running, stop, on_start);
    }
    let new_run = NewRun {
        experiment: ctx.experiment.clone(),
        name: Some(stage.stage.clone()),
        user: ctx.user.clone(),
        host: Some(ctx.host.clone()),
        status: Some(RunStatus::Running),
        start_time: Some(now_ms()),
        parent_id: ctx.pipeline_run.clone(),
        tags: new
            .tags
            .iter()
            .cloned()
            .chain([
                ("kiroku.job".to_string(), job.id.to_string()),
                ("kiroku.target".to_string(), "local".to_string()),
                ("kiroku.command".to_string(), stage.commands.join(" && ")),
            ])
            .collect(),
        params: stage.params.clone(),
        ..Default::default()
    };
    // Supervised by this process, as the job is: should it die, anyone's next look marks both
    // lost.
    let run = match &supervisor {
        Some(supervisor) => ctx.store.create_supervised_run(&new_run, supervisor),
        None => ctx.store.create_run(&new_run),
    };
    let run = match run {
        Ok(run) => run,
        Err(e) => {
            end_job(
                ctx.store,
                job.id,
                &Ended::Failed(format!("could not create its run: {e}")),
            );
            return Err(e);
        }
    };
    ctx.store.update_job(
        job.id,
        &JobUpdate {
            run_id: Some(run.id.clone()),
            ..JobUpdate::from(&[JobStatus::Running])
        },
    )?;
    let log = log_path(ctx.store, &run.id)?;
    let records = StageRecords {
        job: job.id,
        run_id: Some(run.id.clone()),
        log: Some(log.clone()),
        supervised_here: true,
    };
    on_start(&records);
    let ended = if stop.load(Ordering::SeqCst) {
        Ended::Killed
    } else {
        run_commands(stage, &log, &run.id, &metrics_file, running, stop)
    };
    ingest_metrics_file(ctx.store, &run.id, &metrics_file);
    let _ = std::fs::remove_file(&metrics_file);
    if ctx.store.run_dir(&run.id).is_none() {
        // A remote store keeps no run folders here: the output goes up as an artifact.
        if let Ok(file) = std::fs::File::open(&log) {
            let _ = ctx
                .store
                .upload_artifact(&run.id, "output.log", Box::new(file), None);
        }
    }
    Ok((ended, records))
}

/// Where a local stage's output goes: the run's `output.log` in a local store (where `kiroku
/// logs` and the TUI look), a temporary for a remote one.
fn log_path(store: &dyn Store, run_id: &str) -> Result<PathBuf> {
    let path = match store.run_dir(run_id) {
        Some(dir) => dir.join("output.log"),
        None => std::env::temp_dir().join(format!("kiroku-stage-{run_id}.log")),
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| KirokuError::io(format!("creating {}", parent.display()), e))?;
    }
    Ok(path)
}

/// Runs the stage's commands in order in a process group of their own, output to `log`.
fn run_commands(
    stage: &StageCommand,
    log: &Path,
    run_id: &str,
    metrics_file: &Path,
    running: &Running,
    stop: &AtomicBool,
) -> Ended {
    for line in &stage.commands {
        if stop.load(Ordering::SeqCst) {
            return Ended::Killed;
        }
        let out = match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            Ok(out) => out,
            Err(e) => return Ended::Failed(format!("opening {}: {e}", log.display())),
        };
        let err = match out.try_clone() {
            Ok(err) => err,
            Err(e) => return Ended::Failed(format!("opening {}: {e}", log.display())),
        };
        let spawned = std::process::Command::new("sh")
            .arg("-c")
            .arg(line)
            .current_dir(&stage.workdir)
            .env("KIROKU_RUN_ID", run_id)
            .env("KIROKU_METRICS_FILE", metrics_file)
            .stdin(std::process::Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) => return Ended::Failed(format!("could not start `{line}`: {e}")),
        };
        running
            .lock_groups()
            .insert(stage.stage.clone(), child.id() as i32);
        let status = child.wait();
        running.lock_groups().remove(&stage.stage);
        let status = match status {
            Ok(status) => status,
            Err(e) => return Ended::Failed(format!("waiting for `{line}`: {e}")),
        };
        if stop.load(Ordering::SeqCst) && !status.success() {
            return Ended::Killed;
        }
        if !status.success() {
            use std::os::unix::process::ExitStatusExt;
            return Ended::Failed(match (status.code(), status.signal()) {
                (Some(code), _) => format!("exit code {code}"),
                (None, Some(signal)) => format!("killed by signal {signal}"),
                _ => "failed".into(),
            });
        }
    }
    Ended::Succeeded
}

/// What a stage's command wrote to its `KIROKU_METRICS_FILE`, into its run.
fn ingest_metrics_file(store: &dyn Store, run_id: &str, path: &Path) {
    if let Ok((ingested, _)) = crate::ingest::metrics_file::read_rest(path, 0) {
        log_ingested(store, run_id, ingested);
    }
}

/// Logs what an ingest found (metrics, params, tags) into the run; problems are reported, not
/// fatal (the stage itself succeeded or failed on its own).
pub fn log_ingested(
    store: &dyn Store,
    run_id: &str,
    ingested: crate::ingest::metrics_file::Ingested,
) {
    if !ingested.points.is_empty() {
        if let Err(e) = store.log_metrics(run_id, &ingested.points) {
            eprintln!("kiroku: run {run_id}: logging metrics: {e}");
        }
    }
    if !ingested.params.is_empty() {
        let _ = store.log_params(run_id, &ingested.params);
    }
    if !ingested.tags.is_empty() {
        let _ = store.set_tags(run_id, &ingested.tags, "");
    }
}

/// Ends the stage's job (and run) as `ended` says.
pub fn end_stage(store: &dyn Store, records: &StageRecords, ended: &Ended) {
    if !records.supervised_here {
        return;
    }
    end_job(store, records.job, ended);
    if let Some(run_id) = &records.run_id {
        let (status, code) = match ended {
            Ended::Succeeded => (RunStatus::Finished, Some(0)),
            Ended::Failed(why) => (RunStatus::Failed, exit_code_of(why)),
            Ended::Killed => (RunStatus::Killed, None),
        };
        let _ = store.set_status(run_id, status, code, None);
    }
}

fn exit_code_of(why: &str) -> Option<i32> {
    why.strip_prefix("exit code ").and_then(|c| c.parse().ok())
}

fn end_job(store: &dyn Store, job: JobId, ended: &Ended) {
    let (status, reason) = match ended {
        Ended::Succeeded => (JobStatus::Finished, "exit code 0".to_string()),
        Ended::Failed(why) => (JobStatus::Failed, why.clone()),
        Ended::Killed => (JobStatus::Killed, "interrupted (Ctrl-C)".to_string()),
    };
    let _ = store.update_job(
        job,
        &JobUpdate {
            status: Some(status),
            reason: Some(reason.clone()),
            ended_at: Some(now_ms()),
            exit_code: exit_code_of(&reason),
            ..JobUpdate::from(&[JobStatus::Running, JobStatus::Starting, JobStatus::Queued])
        },
    );
}

/// Submits the stage to the queue and waits for its job.
fn run_queued(
    ctx: &RunContext,
    stage: &StageCommand,
    new: &NewJob,
    running: &Running,
    stop: &AtomicBool,
    on_start: &dyn Fn(&StageRecords),
) -> Result<(Ended, StageRecords)> {
    let job = submit::submit(|| Ok(ctx.store), ctx.config, &ctx.store_location, new)?;
    wait_for_job(ctx, stage, job.id, running, stop, on_start)
}

/// Waits for a queued job to end; its supervisor writes the job and the run.
fn wait_for_job(
    ctx: &RunContext,
    stage: &StageCommand,
    job: JobId,
    running: &Running,
    stop: &AtomicBool,
    on_start: &dyn Fn(&StageRecords),
) -> Result<(Ended, StageRecords)> {
    running.lock_jobs().insert(stage.stage.clone(), job);
    let mut records = StageRecords {
        job,
        run_id: None,
        log: None,
        supervised_here: false,
    };
    let mut announced = false;
    let outcome = loop {
        let current = ctx.store.job(job)?;
        if !announced && current.run_id.is_some() {
            records.run_id = current.run_id.clone();
            on_start(&records);
            announced = true;
        }
        if current.status.is_terminal() {
            records.run_id = current.run_id.clone();
            break match current.status {
                JobStatus::Finished => Ended::Succeeded,
                JobStatus::Killed | JobStatus::Cancelled if stop.load(Ordering::SeqCst) => {
                    Ended::Killed
                }
                _ => Ended::Failed(format!("job {job} {}: {}", current.status, current.reason)),
            };
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    running.lock_jobs().remove(&stage.stage);
    Ok((outcome, records))
}
