//! `JobStore`: the job queue. Jobs are submitted, listed, moved through their states by
//! compare-and-swap updates (`update_job`), and cancelled; a lease names the one scheduler
//! acting for a host at a time. The queue's logic (placement, GPUs, targets) is `crate::jobs`.
use crate::error::Result;
use crate::model::{Job, JobId, JobQuery, JobUpdate, Lease, Millis, NewJob, Supervisor};

pub trait JobStore {
    /// Queues a job (status `queued`, reason `queued`), recording an activity event. Fails with
    /// `NotFound` when a job of `after` does not exist.
    fn submit_job(&self, new: &NewJob) -> Result<Job>;
    /// One job; `NotFound` names the id when there is none.
    fn job(&self, id: JobId) -> Result<Job>;
    /// Jobs matching the query, newest first.
    fn jobs(&self, query: &JobQuery) -> Result<Vec<Job>>;
    /// Applies `update` if the job's status is still one of `update.from` (all statuses when
    /// `from` is empty); returns the job as it is afterwards when it applied, None when the job
    /// had moved on. Terminal statuses record an activity event.
    fn update_job(&self, id: JobId, update: &JobUpdate) -> Result<Option<Job>>;
    /// Asks for a job to be cancelled by `user`: a queued job becomes `cancelled` at once
    /// (reason `cancelled by USER`); a starting or running one gets `cancel_requested` for its
    /// supervisor to act on, and the same reason, which the supervisor keeps when it ends the
    /// job `killed` (the first request's user; a second request changes nothing). Returns the
    /// job afterwards; an ended job is returned unchanged.
    fn request_cancel(&self, id: JobId, user: &str) -> Result<Job>;
    /// Takes or renews the lease `name` for `holder` until `expires_at`: succeeds when it is
    /// free, expired (before `now`), already `holder`'s, or still held by `replacing` (a holder
    /// the caller saw dead: same host and boot, process gone; a compare-and-swap, so two
    /// callers cannot both take it over). Returns whether `holder` now holds it. Holders are
    /// compared as processes (host, boot, pid namespace, pid, start time). Lease changes do not
    /// move `version()`: a renewal wakes no watcher, the renewing scheduler included.
    fn acquire_lease(
        &self,
        name: &str,
        holder: &Supervisor,
        now: Millis,
        expires_at: Millis,
        replacing: Option<&Supervisor>,
    ) -> Result<bool>;
    /// Gives the lease up, if `holder` holds it.
    fn release_lease(&self, name: &str, holder: &Supervisor) -> Result<()>;
    /// The lease `name`, if anyone holds one (expired or not).
    fn lease(&self, name: &str) -> Result<Option<Lease>>;
}
