//! Why a job's supervisor stops the command before it ends by itself, and the watch that
//! notices: a cancel request (seen in the store within `STORE_LOOK_EVERY`, at once when the
//! canceller is on this host and wakes the supervisor with SIGTERM), the job's time limit, or
//! a signal to the supervisor itself. Between looks the supervisor sleeps in `Wakeup::wait`.
use super::wakeup::{signal_name, Wakeup};
use crate::model::{Job, JobId, JobStatus};
use crate::store::Store;
use std::time::{Duration, Instant};

/// How often the supervisor reads its job from the store for a cancel request made elsewhere.
pub const STORE_LOOK_EVERY: Duration = Duration::from_secs(1);

/// Why the command is being stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopCause {
    /// Cancelled by someone (the reason: `cancelled by USER`).
    Cancelled(String),
    /// The job's time limit, in seconds, was reached.
    TimeLimit(u64),
    /// The supervisor itself got this signal without a cancel request (a shutdown).
    Signalled(libc::c_int),
}

impl StopCause {
    /// The job's status and reason once the command stopped for this cause.
    pub fn status_and_reason(&self) -> (JobStatus, String) {
        match self {
            StopCause::Cancelled(reason) => (JobStatus::Killed, reason.clone()),
            StopCause::TimeLimit(secs) => {
                (JobStatus::Timeout, format!("time limit of {secs}s reached"))
            }
            StopCause::Signalled(sig) => (
                JobStatus::Killed,
                format!("its supervisor got {}", signal_name(*sig)),
            ),
        }
    }
}

/// The reason a cancelled job ends with: the one the canceller wrote, else `cancelled`.
pub fn cancel_reason_of(job: &Job) -> String {
    if job.reason.starts_with("cancelled") {
        job.reason.clone()
    } else {
        "cancelled".into()
    }
}

/// Watches for a reason to stop while the supervisor waits.
pub struct StopWatch<'a> {
    store: &'a dyn Store,
    job_id: JobId,
    wakeup: Wakeup,
    /// When the time limit is reached, and the limit in seconds (cleared once reported).
    time_limit: Option<(Instant, u64)>,
    next_store_look: Instant,
}

impl<'a> StopWatch<'a> {
    /// A watch over job `job_id` whose time limit (if any) counts from now.
    pub fn new(
        store: &'a dyn Store,
        job_id: JobId,
        wakeup: Wakeup,
        time_limit_s: Option<u64>,
    ) -> Self {
        let now = Instant::now();
        StopWatch {
            store,
            job_id,
            wakeup,
            time_limit: time_limit_s.map(|s| (now + Duration::from_secs(s), s)),
            next_store_look: now + STORE_LOOK_EVERY,
        }
    }

    /// Stops enforcing the time limit (a target that enforces its own).
    pub fn without_time_limit(mut self) -> Self {
        self.time_limit = None;
        self
    }

    /// Waits up to `timeout` (less when a look at the store or the time limit comes first),
    /// or until a signal arrives; returns why the command must stop, if it must. A child's
    /// end (SIGCHLD) ends the wait with None, for the caller to look.
    pub fn wait(&mut self, timeout: Duration) -> Option<StopCause> {
        let now = Instant::now();
        let mut until = (now + timeout).min(self.next_store_look);
        if let Some((deadline, _)) = self.time_limit {
            until = until.min(deadline);
        }
        match self.wakeup.wait(until.saturating_duration_since(now)) {
            Some(libc::SIGCHLD) | None => {}
            Some(sig) => {
                // A canceller on this host asked in the store before it signalled.
                return Some(self.cancel_requested().unwrap_or(StopCause::Signalled(sig)));
            }
        }
        let now = Instant::now();
        if now >= self.next_store_look {
            self.next_store_look = now + STORE_LOOK_EVERY;
            if let Some(cause) = self.cancel_requested() {
                return Some(cause);
            }
        }
        match self.time_limit {
            Some((deadline, secs)) if now >= deadline => {
                self.time_limit = None;
                Some(StopCause::TimeLimit(secs))
            }
            _ => None,
        }
    }

    /// Reads the job: `Cancelled` when a cancel was requested. A store that cannot be read now
    /// is asked again at the next look.
    pub fn cancel_requested(&self) -> Option<StopCause> {
        match self.store.job(self.job_id) {
            Ok(job) if job.cancel_requested => Some(StopCause::Cancelled(cancel_reason_of(&job))),
            Ok(_) => None,
            Err(e) => {
                eprintln!("kiroku: could not read job {}: {e}", self.job_id);
                None
            }
        }
    }
}
