//! Lost jobs: a starting or running job whose supervisor (`kiroku job-exec`) died is marked
//! `lost` by whoever looks, judged by pid and start time (`crate::process`), so a reused pid
//! does not pass for it. Its command's process group, if any of it still runs here, is killed
//! first (by identity, never a reused id): nobody captures its output any more, and it may
//! hold GPUs the queue is about to give to another job.
//!
//! The job's run is marked lost by `crate::supervise::recover_lost_runs`, which reads the
//! rest of its metrics file once the command has stopped writing: callers call
//! `recover_lost_jobs` first (it stops the command), then that.
use super::job_processes::ProcessGroup;
use crate::error::Result;
use crate::model::{now_ms, Job, JobId, JobQuery, JobStatus, JobUpdate};
use crate::process::Liveness;
use crate::store::Store;
use std::time::Duration;

/// How long a job may stay `starting` without a supervisor having recorded itself, counted
/// from when it was started (`started_at`, set by the scheduler with the move to `starting`),
/// before it counts as lost: the supervisor records itself within moments of its start.
pub const STARTING_GRACE: Duration = Duration::from_secs(30);

/// How long a look waits for the command of a dead supervisor to be gone once killed.
const COMMAND_END_WAIT: Duration = Duration::from_secs(2);

/// Marks the jobs whose supervisor died (judged from this host and boot) `lost`; returns them,
/// or the first error once every job was tried.
pub fn recover_lost_jobs(store: &dyn Store) -> Result<Vec<JobId>> {
    let active = store.jobs(&JobQuery {
        statuses: vec![JobStatus::Starting, JobStatus::Running],
        ..Default::default()
    })?;
    let this_host = crate::process::host_name();
    let mut lost = Vec::new();
    let mut first_error = None;
    for job in active {
        let Some(reason) = lost_reason(&job, this_host.as_deref(), now_ms()) else {
            continue;
        };
        stop_command(&job);
        let update = JobUpdate {
            status: Some(JobStatus::Lost),
            reason: Some(reason),
            ended_at: Some(now_ms()),
            // A compare-and-swap on the status seen: a supervisor that just ended it, or
            // another look, wins.
            ..JobUpdate::from(&[job.status])
        };
        match store.update_job(job.id, &update) {
            Ok(Some(_)) => lost.push(job.id),
            Ok(None) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(lost),
    }
}

/// `recover_lost_jobs` for callers that look in passing (listing jobs): a failure must not
/// fail the listing, so it is only reported on stderr.
pub fn recover_lost_jobs_quietly(store: &dyn Store) {
    if let Err(e) = recover_lost_jobs(store) {
        eprintln!("kiroku: could not check for lost jobs: {e}");
    }
}

/// Why `job` is lost, judged from `this_host` at `now`, or None when it is not (or cannot
/// be told from here).
fn lost_reason(job: &Job, this_host: Option<&str>, now: i64) -> Option<String> {
    if !job.status.is_active() {
        return None;
    }
    match &job.supervisor {
        Some(supervisor) => (supervisor.process().liveness() == Liveness::Dead)
            .then(|| format!("its supervisor (pid {}) died", supervisor.pid)),
        None => {
            let started = job.started_at?;
            let overdue = now.saturating_sub(started) > STARTING_GRACE.as_millis() as i64;
            (job.status == JobStatus::Starting && this_host == Some(job.host.as_str()) && overdue)
                .then(|| "its supervisor never started".to_string())
        }
    }
}

/// Kills what is left of the command of a job whose supervisor died.
fn stop_command(job: &Job) {
    let Some(supervisor) = &job.supervisor else {
        return;
    };
    let Some(child) = supervisor.child else {
        return;
    };
    ProcessGroup::led_by(supervisor.child_process(child)).kill(COMMAND_END_WAIT);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Supervisor;

    fn job(status: JobStatus, supervisor: Option<Supervisor>, started_at: Option<i64>) -> Job {
        Job {
            id: 1,
            name: "j".into(),
            experiment: "e".into(),
            target: "local".into(),
            command: vec!["true".into()],
            workdir: "/".into(),
            env: Vec::new(),
            gpus: 0,
            gpu_memory_mb: None,
            after: Vec::new(),
            params: Vec::new(),
            tags: Vec::new(),
            rerun_of: None,
            retry_of: None,
            time_limit_s: None,
            user: "u".into(),
            host: "here".into(),
            status,
            reason: String::new(),
            assigned_gpus: Vec::new(),
            run_id: None,
            queued_at: 0,
            started_at,
            ended_at: None,
            exit_code: None,
            supervisor,
            handle: None,
            cancel_requested: false,
        }
    }

    fn me() -> Supervisor {
        let me = crate::process::ProcessIdentity::current().unwrap();
        Supervisor {
            host: me.host,
            boot_id: me.boot_id,
            pid_namespace: me.pid_namespace,
            pid: me.pid,
            start_ticks: me.start_ticks,
            metrics_file: String::new(),
            child: None,
        }
    }

    #[test]
    fn a_job_is_lost_when_its_supervisor_is_dead_not_when_it_lives_or_is_elsewhere() {
        let alive = me();
        assert_eq!(
            lost_reason(
                &job(JobStatus::Running, Some(alive.clone()), Some(0)),
                None,
                0
            ),
            None
        );
        let dead = Supervisor {
            start_ticks: alive.start_ticks + 1,
            ..alive.clone()
        };
        assert_eq!(
            lost_reason(
                &job(JobStatus::Running, Some(dead.clone()), Some(0)),
                None,
                0
            ),
            Some(format!("its supervisor (pid {}) died", dead.pid))
        );
        let elsewhere = Supervisor {
            host: format!("{}-elsewhere", alive.host),
            ..dead.clone()
        };
        assert_eq!(
            lost_reason(&job(JobStatus::Running, Some(elsewhere), Some(0)), None, 0),
            None
        );
        assert_eq!(
            lost_reason(&job(JobStatus::Finished, Some(dead), Some(0)), None, 0),
            None
        );
    }

    #[test]
    fn a_starting_job_without_supervisor_is_lost_only_after_the_grace_on_its_host() {
        let grace = STARTING_GRACE.as_millis() as i64;
        let starting = job(JobStatus::Starting, None, Some(1_000));
        assert_eq!(lost_reason(&starting, Some("here"), 1_000 + grace), None);
        assert_eq!(
            lost_reason(&starting, Some("here"), 1_001 + grace).as_deref(),
            Some("its supervisor never started")
        );
        assert_eq!(lost_reason(&starting, Some("there"), 1_001 + grace), None);
        let unstamped = job(JobStatus::Starting, None, None);
        assert_eq!(lost_reason(&unstamped, Some("here"), i64::MAX), None);
    }
}
