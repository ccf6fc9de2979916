//! A job on an `ssh` or `slurm` target, driven through its `jobs::backend::Backend`: launched
//! once (its handle recorded on the job), then polled every `poll_interval` until it ends.
//! Each poll's output goes into the run's capture and its metrics bytes into the run's local
//! `metrics.jsonl`, where the capture's tail ingests them; a pending state's reason (Slurm's
//! `Resources`) becomes the job's reason. A cancel or the time limit asks the backend to stop
//! the command, and polling goes on until the target reports the end.
use super::stop::{StopCause, StopWatch};
use super::{Ending, JobRun};
use crate::jobs::backend::{Backend, LaunchSpec, RemoteState};
use crate::model::{JobStatus, JobUpdate};
use crate::wrap::capture::{report, Capture};
use std::time::{Duration, Instant};

/// How long a target may stay unreachable before the job counts as lost (its command is
/// asked to stop, in case it can still be reached).
const UNREACHABLE_LIMIT: Duration = Duration::from_secs(600);

/// Launches the job through `backend` with `env` and follows it to its end.
pub(super) fn run_remote(
    run: &JobRun,
    backend: &mut dyn Backend,
    capture: &mut Capture,
    watch: &mut StopWatch,
    env: Vec<(String, String)>,
    warnings: &mut Vec<String>,
) -> Ending {
    let spec = LaunchSpec {
        job: &run.job,
        run_id: &run.run_id,
        run_dir: &run.run_dir,
        env,
    };
    let handle = match backend.launch(&spec) {
        Ok(handle) => handle,
        Err(e) => {
            return Ending::failed(
                format!("could not start on target '{}': {e}", run.job.target),
                None,
            )
        }
    };
    run.update(
        JobUpdate {
            handle: Some(handle),
            ..JobUpdate::from(&[JobStatus::Running])
        },
        warnings,
    );
    let mut shown_reason = String::new();
    let mut stop: Option<StopCause> = None;
    let mut stop_asked = false;
    let mut unreachable_since: Option<Instant> = None;
    let mut next_poll = Instant::now();
    loop {
        if Instant::now() >= next_poll {
            next_poll = Instant::now() + backend.poll_interval();
            let reason = match backend.poll() {
                Ok(pulled) => {
                    unreachable_since = None;
                    capture.push_output(&pulled.output);
                    if let Err(e) = capture.append_metrics(&pulled.metrics) {
                        report(warnings, e.to_string());
                    }
                    match pulled.state {
                        RemoteState::Ended {
                            status,
                            exit_code,
                            reason,
                        } => return ended(stop.as_ref(), status, exit_code, reason),
                        RemoteState::Pending { reason } => reason,
                        RemoteState::Running => String::new(),
                    }
                }
                Err(e) => {
                    let since = *unreachable_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= UNREACHABLE_LIMIT {
                        let _ = backend.cancel(run.grace);
                        return Ending {
                            status: JobStatus::Lost,
                            reason: format!("target unreachable: {e}"),
                            exit_code: None,
                        };
                    }
                    format!("target unreachable: {e}")
                }
            };
            // Once stopping, the reason is the stop's (a canceller wrote who asked).
            if stop.is_none() && reason != shown_reason {
                run.update(
                    JobUpdate {
                        reason: Some(reason.clone()),
                        ..JobUpdate::from(&[JobStatus::Running])
                    },
                    warnings,
                );
                shown_reason = reason;
            }
        }
        if let Some(cause) = watch.wait(next_poll.saturating_duration_since(Instant::now())) {
            stop.get_or_insert(cause);
        }
        if stop.is_some() && !stop_asked {
            // Asked again at the next look when the target cannot be reached now.
            match backend.cancel(run.grace) {
                Ok(()) => stop_asked = true,
                Err(e) => report(warnings, format!("could not stop the command yet: {e}")),
            }
        }
    }
}

/// How the job ended, from what the target reported and why it was being stopped: a command
/// that did not finish after a stop was asked for ended by that stop.
fn ended(
    stop: Option<&StopCause>,
    status: JobStatus,
    exit_code: Option<i32>,
    reason: String,
) -> Ending {
    match stop {
        Some(cause) if status != JobStatus::Finished => Ending::stopped(cause, exit_code),
        _ => Ending {
            status,
            reason,
            exit_code,
        },
    }
}
