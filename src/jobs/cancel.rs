//! Cancelling a job: a queued one ends at once; a starting or running one is marked in the
//! store (`cancel_requested`, and the reason naming who asked), which its supervisor acts on:
//! it sees the mark within a second from any machine (a cancel through `kiroku serve`), and at
//! once when it runs on this host, where it is woken with SIGTERM.
use crate::error::Result;
use crate::model::{Job, JobId, JobStatus, JobUpdate};
use crate::process::{signal_exactly, Liveness};
use crate::store::Store;

/// Cancels job `id` on behalf of `user`; returns the job as it is afterwards.
pub fn cancel_job(store: &dyn Store, id: JobId, user: &str) -> Result<Job> {
    let job = store.request_cancel(id, user)?;
    if !job.status.is_active() || !job.cancel_requested {
        return Ok(job);
    }
    // The supervisor ends the job with this reason (the store keeps who asked in its event).
    let update = JobUpdate {
        reason: Some(cancel_reason(user)),
        ..JobUpdate::from(&[JobStatus::Starting, JobStatus::Running])
    };
    let job = match store.update_job(id, &update)? {
        Some(job) => job,
        // It ended meanwhile.
        None => return store.job(id),
    };
    wake_supervisor(&job);
    Ok(job)
}

/// How a job cancelled by `user` ends: `cancelled by USER`.
pub fn cancel_reason(user: &str) -> String {
    match user.trim() {
        "" => "cancelled".to_string(),
        name => format!("cancelled by {name}"),
    }
}

/// Sends SIGTERM to the job's supervisor when it runs on this host (exactly that process,
/// never one that reused its pid); elsewhere it sees the request in the store.
fn wake_supervisor(job: &Job) {
    let Some(supervisor) = &job.supervisor else {
        // Still starting: the supervisor looks at the request once it has recorded itself.
        return;
    };
    let identity = supervisor.process();
    if identity.liveness() == Liveness::Alive {
        signal_exactly(&identity, libc::SIGTERM);
    }
}
