//! `kiroku job-exec ID`: the supervisor of one started job, the process that turns a job into
//! a run and sees it to its end.
//!
//! The scheduler books the job's GPUs and moves it `queued` → `starting`, then starts this
//! process detached (own session, no terminal). It:
//!
//! 1. reads the job, which must be `starting` (anything else: nothing to do);
//! 2. creates the job's run as a supervised run (this process its supervisor, as `kiroku run`
//!    is: experiment and name of the job, user = the job's user, params from the command's
//!    flags and the job's params, tags `kiroku.job`, `kiroku.target`, `kiroku.rerun_of`, source
//!    from the job's workdir);
//! 3. moves the job `starting` → `running` (run id, start time, itself as supervisor);
//! 4. runs the command: on a `local` target itself (`local`), elsewhere through the target's
//!    `Backend` (`remote`), capturing output and metrics into the run (`super::capture`), and
//!    stopping it on a cancel request, at the time limit, or when told to stop (`stop`).
//!    A local command on a local store is started at the head of the transaction of 2 and 3
//!    rather than after it: the run's id and folder are chosen first (`RunPlace`), and the
//!    store's write lock, held from before the command starts to the commit, makes whatever
//!    the command writes wait for its run (and a look for the run by its id, while its folder
//!    exists, waits for that lock: `SqliteStore::read_run`). Its start is not delayed by the
//!    run's writing, and the run, the job's move and the command's process land in one commit;
//! 5. ends the run and the job consistently: `finished` (exit 0), `failed` (`exit code N`),
//!    `killed` (`cancelled by USER`, `killed by signal N`), `timeout`.
//!
//! If it dies instead, anyone's next look marks the job lost (`crate::jobs::lost`) and its run
//! lost (`crate::supervise`).
mod local;
mod remote;
mod stop;
mod wakeup;

use super::capture::{report, Capture, Captured};
use super::source;
use super::supervised_run::{RunOrigin, RunPlace, RunSpec, StartedRun};
use crate::config::{Config, TargetKind};
use crate::error::{KirokuError, Result};
use crate::jobs::backend::Backend;
use crate::model::{now_ms, Job, JobId, JobStatus, JobUpdate, NewJob, RunStatus, Supervisor};
use crate::process::ProcessIdentity;
use crate::store::Store;
use local::LocalCommand;
use std::cell::Cell;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use stop::{cancel_reason_of, StopCause, StopWatch};
use wakeup::Wakeup;

/// The grace between SIGTERM and SIGKILL without `[jobs] cancel_grace_s`.
pub const DEFAULT_CANCEL_GRACE: Duration = Duration::from_secs(10);
/// How long the output streams may stay open after the command's processes are gone (one
/// that escaped this supervisor's care may hold them forever).
const PUMP_WAIT: Duration = Duration::from_secs(5);

/// What the supervisor needs besides the store.
#[derive(Debug, Clone)]
pub struct JobExecOptions {
    pub config: Config,
    /// Given to a local command as `KIROKU_STORE`.
    pub store_location: String,
}

/// Where the job's command runs.
pub enum Executor {
    /// On this box, by this process (which must be a process of its own: it reaps every child).
    Local,
    /// Through a target's backend.
    Remote(Box<dyn Backend>),
}

/// How a supervised job ended.
#[derive(Debug, Clone)]
pub struct JobOutcome {
    /// The job as it is afterwards.
    pub job: Job,
    pub run_id: String,
    pub points: u64,
    pub warnings: Vec<String>,
}

/// `kiroku job-exec ID`: supervises job `id` on its target, to its end. Returns None, having
/// done nothing, when the job is not `starting` (someone else started it, or it was cancelled).
/// Call it first thing, before any thread is started (see `Wakeup::block`).
pub fn job_exec(
    store: Arc<dyn Store>,
    id: JobId,
    opts: &JobExecOptions,
) -> Result<Option<JobOutcome>> {
    let wakeup = Wakeup::block();
    let job = store.job(id)?;
    if job.status != JobStatus::Starting {
        return Ok(None);
    }
    if let Some(refusal) = checks_refusal(store.as_ref(), &job)? {
        fail_unstarted(store.as_ref(), &job, refusal);
        return Ok(None);
    }
    let executor =
        crate::jobs::targets::resolve(&opts.config, Some(&job.target)).and_then(|target| {
            match target.config.kind {
                TargetKind::Local => {
                    become_subreaper()?;
                    Ok(Executor::Local)
                }
                TargetKind::Ssh | TargetKind::Slurm => {
                    crate::jobs::backend::for_target(&target).map(Executor::Remote)
                }
            }
        });
    match executor {
        Ok(executor) => supervise(store, job, opts, executor, wakeup),
        Err(e) => {
            fail_unstarted(
                store.as_ref(),
                &job,
                format!("target '{}': {e}", job.target),
            );
            Err(e)
        }
    }
}

/// Supervises job `id` with the given executor (a caller with a backend of its own; `job_exec`
/// picks the target's). Blocks SIGTERM, SIGINT, SIGHUP and SIGCHLD on the calling thread.
pub fn supervise_job(
    store: Arc<dyn Store>,
    id: JobId,
    opts: &JobExecOptions,
    executor: Executor,
) -> Result<Option<JobOutcome>> {
    let wakeup = Wakeup::block();
    let job = store.job(id)?;
    supervise(store, job, opts, executor, wakeup)
}

/// Orphans of the command are reparented to this process, which reaps and stops them.
fn become_subreaper() -> Result<()> {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes an integer flag.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(KirokuError::io(
            "becoming the subreaper of the job's processes",
            std::io::Error::last_os_error(),
        ));
    }
    Ok(())
}

/// A job being supervised: what the parts running its command need.
struct JobRun<'a> {
    store: &'a dyn Store,
    job: Job,
    run_id: String,
    run_dir: PathBuf,
    /// This process's supervisor record (None without /proc).
    supervisor: Option<Supervisor>,
    /// This process.
    me: ProcessIdentity,
    /// Between SIGTERM and SIGKILL.
    grace: Duration,
    /// The run's origin until recorded (`record_origin`).
    origin: Cell<Option<RunOrigin>>,
}

impl JobRun<'_> {
    /// Records the run's origin (source and environment) unless done already: once the command
    /// has started (or will not start). A failure is a warning.
    fn record_origin(&self, warnings: &mut Vec<String>) {
        record_origin(self.store, &self.run_id, &self.origin, warnings);
    }

    /// Applies an update to the job; a failure is a warning (the job's end is written later).
    fn update(&self, update: JobUpdate, warnings: &mut Vec<String>) {
        if let Err(e) = self.store.update_job(self.job.id, &update) {
            report(
                warnings,
                format!("could not update job {}: {e}", self.job.id),
            );
        }
    }
}

/// Records a run's origin (source and environment) on run `run_id` unless done already. A
/// failure is a warning.
fn record_origin(
    store: &dyn Store,
    run_id: &str,
    origin: &Cell<Option<RunOrigin>>,
    warnings: &mut Vec<String>,
) {
    if let Some(origin) = origin.take() {
        if let Err(e) = origin.record(store, run_id) {
            report(
                warnings,
                format!("could not record the run's source and environment: {e}"),
            );
        }
    }
}

/// How the job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ending {
    status: JobStatus,
    reason: String,
    exit_code: Option<i32>,
}

impl Ending {
    fn failed(reason: String, exit_code: Option<i32>) -> Ending {
        Ending {
            status: JobStatus::Failed,
            reason,
            exit_code,
        }
    }

    /// The command exited by itself with `code`.
    fn exited(code: i32) -> Ending {
        Ending {
            status: if code == 0 {
                JobStatus::Finished
            } else {
                JobStatus::Failed
            },
            reason: format!("exit code {code}"),
            exit_code: Some(code),
        }
    }

    /// The command was stopped for `cause` (its exit code if it exited rather than died of a signal).
    fn stopped(cause: &StopCause, exit_code: Option<i32>) -> Ending {
        let (status, reason) = cause.status_and_reason();
        Ending {
            status,
            reason,
            exit_code,
        }
    }

    /// The status of the job's run.
    fn run_status(&self) -> RunStatus {
        match self.status {
            JobStatus::Finished => RunStatus::Finished,
            JobStatus::Killed | JobStatus::Cancelled | JobStatus::Timeout => RunStatus::Killed,
            JobStatus::Lost => RunStatus::Lost,
            _ => RunStatus::Failed,
        }
    }
}

fn supervise(
    store: Arc<dyn Store>,
    job: Job,
    opts: &JobExecOptions,
    executor: Executor,
    wakeup: Wakeup,
) -> Result<Option<JobOutcome>> {
    if job.status != JobStatus::Starting {
        return Ok(None);
    }
    let Some(me) = ProcessIdentity::current() else {
        let msg = "supervising a job needs Linux's /proc".to_string();
        fail_unstarted(store.as_ref(), &job, msg.clone());
        return Err(KirokuError::Invalid(msg));
    };
    if job.command.is_empty() {
        let msg = format!("job {} has no command", job.id);
        fail_unstarted(store.as_ref(), &job, msg.clone());
        return Err(KirokuError::Invalid(msg));
    }
    let local = matches!(executor, Executor::Local);
    let command_env = command_environment(&job, local);
    let spec = run_spec(&job, opts, &command_env, local);
    // Where the command comes from is looked at before it starts, and recorded once it has
    // (`JobRun::record_origin`): off the way to its start.
    let origin = Cell::new(Some(RunOrigin::of(&spec)));
    let place = match RunPlace::prepare(store.as_ref()) {
        Ok(place) => place,
        Err(e) => {
            fail_unstarted(
                store.as_ref(),
                &job,
                format!("could not create its run: {e}"),
            );
            return Err(e);
        }
    };
    let capture = Capture::start(
        Arc::clone(&store),
        &place.run_id,
        &job.user,
        &place.run_dir,
        &opts.config,
    );
    // A local command on a local store starts first, inside the transaction that then writes
    // its run and the job's move to `running` (one commit): the store's write lock is held from
    // before the command starts until its run is there, so whatever the command writes (`kiroku
    // log`, the MLflow API) waits for its run, a look for it by id waits too (its folder exists:
    // `SqliteStore::read_run`), and the run's writing does not delay the start.
    // A remote store's writes are ordered by no lock, and a remote target's command is started
    // by its backend: there the run is written first.
    let command_first = local && !place.spooled && capture.is_ok();
    let mut command_env_now = match (&capture, command_first) {
        (Ok(capture), true) => Some(local_environment(
            &place.run_id,
            capture,
            opts,
            &command_env,
        )),
        _ => None,
    };
    let mut command: Option<std::result::Result<LocalCommand, Ending>> = None;
    let mut warnings = Vec::new();
    let mut run_made = false;
    let created = crate::store::together(store.as_ref(), || {
        if let Some(env) = command_env_now.take() {
            let current = store.job(job.id)?;
            if current.status != JobStatus::Starting {
                return Ok(None);
            }
            if !current.cancel_requested {
                command = Some(LocalCommand::start(&job, env));
            }
        }
        let child = match &command {
            Some(Ok(started)) => Some(started.process),
            _ => None,
        };
        let started = place.create(store.as_ref(), &spec, child)?;
        run_made = true;
        let running = JobUpdate {
            status: Some(JobStatus::Running),
            // A canceller's reason (who asked) stays for the end.
            reason: (!job.reason.starts_with("cancelled")).then(String::new),
            run_id: Some(started.run.id.clone()),
            started_at: Some(now_ms()),
            supervisor: started.supervisor.clone(),
            ..JobUpdate::from(&[JobStatus::Starting])
        };
        let now = store.update_job(job.id, &running)?;
        if command.is_some() {
            record_origin(store.as_ref(), &started.run.id, &origin, &mut warnings);
        }
        Ok(Some((started, now)))
    });
    if command_first {
        crate::jobs::launcher::command_started();
    }
    let (started, now) = match created {
        Ok(Some(created)) => created,
        Ok(None) => {
            // Moved on before its command started (cancelled, or judged lost): nothing was made.
            if let Ok(capture) = capture {
                capture.finish(None);
            }
            place.abandon();
            let now = store.job(job.id)?;
            eprintln!("kiroku: job {} is {} now, not starting", job.id, now.status);
            return Ok(None);
        }
        Err(e) => {
            // Not committed: a command started first must not run on without its run.
            if let Some(Ok(started)) = command.take() {
                started.kill();
            }
            if !run_made {
                fail_unstarted(
                    store.as_ref(),
                    &job,
                    format!("could not create its run: {e}"),
                );
                place.abandon();
            }
            return Err(e);
        }
    };
    let run_id = started.run.id.clone();
    let Some(job) = now else {
        // Moved on while the run was being made (cancelled, or judged lost).
        record_origin(store.as_ref(), &run_id, &origin, &mut Vec::new());
        let _ = store.set_status(&run_id, RunStatus::Killed, None, None);
        let now = store.job(job.id)?;
        eprintln!(
            "kiroku: job {} is {} now, not starting: its run {} is marked killed",
            job.id, now.status, run_id
        );
        return Ok(None);
    };
    let grace = opts
        .config
        .jobs
        .cancel_grace_s
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_CANCEL_GRACE);
    let run = JobRun {
        store: store.as_ref(),
        job,
        run_id,
        run_dir: started.run_dir.clone(),
        supervisor: started.supervisor.clone(),
        me,
        grace,
        origin,
    };
    let mut capture = match capture {
        Ok(capture) => capture,
        Err(e) => {
            let ending = Ending::failed(format!("could not capture its output: {e}"), None);
            let outcome = finish(&run, &started, ending, Captured::default());
            return outcome.map(Some);
        }
    };
    let mut watch = StopWatch::new(run.store, run.job.id, wakeup, run.job.time_limit_s);
    let ending = if let Some(command) = command {
        match command {
            Ok(command) => command.supervise(&run, &mut capture, &mut watch),
            Err(ending) => ending,
        }
    } else if run.job.cancel_requested {
        // Cancelled while starting: the command is not started at all.
        Ending::stopped(&StopCause::Cancelled(cancel_reason_of(&run.job)), None)
    } else {
        match executor {
            Executor::Local => {
                let env = local_environment(&run.run_id, &capture, opts, &command_env);
                local::run_local(&run, &mut capture, &mut watch, env)
            }
            Executor::Remote(mut backend) => {
                if target_enforces_time_limit(opts, &run.job) {
                    watch = watch.without_time_limit();
                }
                let mut env = vec![
                    ("KIROKU_RUN_ID".to_string(), run.run_id.clone()),
                    ("PYTHONUNBUFFERED".to_string(), "1".to_string()),
                ];
                env.extend(command_env.iter().cloned());
                run.record_origin(&mut warnings);
                crate::jobs::launcher::command_started();
                remote::run_remote(
                    &run,
                    backend.as_mut(),
                    &mut capture,
                    &mut watch,
                    env,
                    &mut warnings,
                )
            }
        }
    };
    let mut captured = capture.finish(Some(PUMP_WAIT));
    captured.warnings.splice(0..0, warnings);
    finish(&run, &started, ending, captured).map(Some)
}

/// What a local command gets added to this process's environment: the run's variables
/// (`KIROKU_RUN_ID` and friends), then the job's (`command_environment`).
fn local_environment<'a>(
    run_id: &str,
    capture: &Capture,
    opts: &JobExecOptions,
    command_env: &'a [(String, String)],
) -> Vec<(&'a str, OsString)> {
    let mut env: Vec<(&str, OsString)> =
        super::run_environment(run_id, capture.metrics_path(), &opts.store_location);
    env.extend(command_env.iter().map(|(k, v)| (k.as_str(), v.into())));
    env
}

/// Whether the job's target stops the command at its time limit by itself (Slurm's `--time`).
fn target_enforces_time_limit(opts: &JobExecOptions, job: &Job) -> bool {
    crate::jobs::targets::resolve(&opts.config, Some(&job.target))
        .is_ok_and(|t| t.config.kind == TargetKind::Slurm)
}

/// The variables the job's command gets besides the run's own (`KIROKU_RUN_ID` and
/// friends): its GPUs (`CUDA_VISIBLE_DEVICES`, empty for none, on a local target; elsewhere
/// only when GPUs were booked for it, since Slurm sets its own), then the job's `env`.
fn command_environment(job: &Job, local: bool) -> Vec<(String, String)> {
    let mut env = Vec::new();
    if local || !job.assigned_gpus.is_empty() {
        let gpus: Vec<String> = job.assigned_gpus.iter().map(u32::to_string).collect();
        env.push(("CUDA_VISIBLE_DEVICES".to_string(), gpus.join(",")));
        env.push(("CUDA_DEVICE_ORDER".to_string(), "PCI_BUS_ID".to_string()));
    }
    env.extend(job.env.iter().cloned());
    env
}

/// The run the job becomes.
fn run_spec<'a>(
    job: &'a Job,
    opts: &JobExecOptions,
    command_env: &[(String, String)],
    local: bool,
) -> RunSpec<'a> {
    let mut params = if opts.config.run.flag_params.unwrap_or(true) {
        source::flag_params(&job.command[1..])
    } else {
        Vec::new()
    };
    // The job's own params win over a flag of the same name.
    params.retain(|(k, _)| !job.params.iter().any(|(key, _)| key == k));
    params.extend(job.params.iter().cloned());
    let mut tags = job.tags.clone();
    tags.push(("kiroku.job".into(), job.id.to_string()));
    tags.push(("kiroku.target".into(), job.target.clone()));
    if let Some(original) = &job.rerun_of {
        tags.push(("kiroku.rerun_of".into(), original.clone()));
    }
    // A local command inherits this process's environment; a remote one gets only its own.
    let mut vars: Vec<(String, String)> = if local {
        std::env::vars().collect()
    } else {
        Vec::new()
    };
    vars.retain(|(k, _)| !command_env.iter().any(|(name, _)| name == k));
    vars.extend(command_env.iter().cloned());
    RunSpec {
        experiment: job.experiment.clone(),
        name: Some(job.name.clone()).filter(|n| !n.is_empty()),
        user: job.user.clone(),
        tags,
        params,
        // A pipeline's stage (`kiroku repro` through the queue) is a child of the pipeline run.
        parent_id: job
            .tags
            .iter()
            .find(|(k, _)| k == crate::model::pipeline::PIPELINE_RUN_TAG)
            .map(|(_, run)| run.clone()),
        cwd: Path::new(&job.workdir),
        command: &job.command,
        environment: source::capture_environment_of(vars, &opts.config.run.env),
    }
}

/// Ends a job that could not be started (still `starting`) as `failed` with `reason`.
/// The job tag naming the datasets whose checks must be cleared when the job starts
/// (`kiroku submit --require-checks`), comma-separated.
pub const REQUIRE_CHECKS_TAG: &str = "kiroku.require_checks";

/// `new` with the datasets of `--require-checks` in its `REQUIRE_CHECKS_TAG` (unchanged when
/// there are none).
pub fn requiring_checks(mut new: NewJob, datasets: &[String]) -> NewJob {
    if !datasets.is_empty() {
        new.tags
            .push((REQUIRE_CHECKS_TAG.to_string(), datasets.join(",")));
    }
    new
}

/// Why a job may not start: a dataset its `REQUIRE_CHECKS_TAG` names is no longer cleared (a
/// new check run failed, a waiver lapsed, a review was replaced by a rejection since it was
/// submitted). None when it may.
fn checks_refusal(store: &dyn Store, job: &Job) -> Result<Option<String>> {
    let Some((_, names)) = job.tags.iter().find(|(k, _)| k == REQUIRE_CHECKS_TAG) else {
        return Ok(None);
    };
    let names: Vec<String> = names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect();
    match crate::store::checks_gate::require_checks(store, &names, &[], now_ms()) {
        Ok(refusal) => Ok(refusal),
        // A dataset gone (or never there) blocks like a failure, with the store's reason.
        Err(KirokuError::NotFound(why)) => {
            Ok(Some(format!("refusing to start (--require-checks): {why}")))
        }
        Err(e) => Err(e),
    }
}

fn fail_unstarted(store: &dyn Store, job: &Job, reason: String) {
    eprintln!("kiroku: job {}: {reason}", job.id);
    let update = JobUpdate {
        status: Some(JobStatus::Failed),
        reason: Some(reason),
        ended_at: Some(now_ms()),
        ..JobUpdate::from(&[JobStatus::Starting])
    };
    if let Err(e) = store.update_job(job.id, &update) {
        eprintln!("kiroku: could not record that job {} failed: {e}", job.id);
    }
}

/// Ends the run, then the job (the job's end is what the scheduler waits for: by then the run
/// holds everything).
fn finish(
    run: &JobRun,
    started: &StartedRun,
    ending: Ending,
    captured: Captured,
) -> Result<JobOutcome> {
    let Captured {
        points,
        mut warnings,
    } = captured;
    run.record_origin(&mut warnings);
    let run_code = if ending.run_status() == RunStatus::Killed {
        None
    } else {
        ending.exit_code
    };
    // A spooled log goes up before the run ends (the run holds everything by then).
    started.upload_spooled_log(run.store, &mut warnings);
    let points = started.points_logged(run.store, points);
    let update = JobUpdate {
        status: Some(ending.status),
        reason: Some(ending.reason.clone()),
        ended_at: Some(now_ms()),
        exit_code: ending.exit_code,
        ..JobUpdate::from(&[JobStatus::Running])
    };
    // The run's end and the job's in one transaction (one commit).
    let ended = crate::store::together(run.store, || {
        if let Err(e) =
            run.store
                .set_status(&run.run_id, ending.run_status(), run_code, Some(now_ms()))
        {
            report(
                &mut warnings,
                format!("could not record the run's end: {e}"),
            );
        }
        run.store.update_job(run.job.id, &update)
    })?;
    let job = match ended {
        Some(job) => job,
        None => {
            let job = run.store.job(run.job.id)?;
            report(
                &mut warnings,
                format!(
                    "job {} was already {} ({}); it ended {} ({})",
                    job.id, job.status, job.reason, ending.status, ending.reason
                ),
            );
            job
        }
    };
    Ok(JobOutcome {
        job,
        run_id: run.run_id.clone(),
        points,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endings_map_to_run_statuses() {
        assert_eq!(Ending::exited(0).status, JobStatus::Finished);
        assert_eq!(Ending::exited(0).run_status(), RunStatus::Finished);
        let failed = Ending::exited(3);
        assert_eq!(
            (failed.status, failed.reason.as_str(), failed.exit_code),
            (JobStatus::Failed, "exit code 3", Some(3))
        );
        let cancelled = Ending::stopped(&StopCause::Cancelled("cancelled by ana".into()), None);
        assert_eq!(cancelled.status, JobStatus::Killed);
        assert_eq!(cancelled.reason, "cancelled by ana");
        assert_eq!(cancelled.run_status(), RunStatus::Killed);
        let timeout = Ending::stopped(&StopCause::TimeLimit(5), Some(0));
        assert_eq!(timeout.status, JobStatus::Timeout);
        assert_eq!(timeout.reason, "time limit of 5s reached");
        assert_eq!(timeout.run_status(), RunStatus::Killed);
    }
}
