//! Cancelling a job: a queued one ends at once; a running one's supervisor is asked (in the
//! store, and woken by a signal when it runs on this host) to stop the command.
use crate::error::Result;
use crate::model::{Job, JobId};
use crate::store::Store;

/// Cancels job `id` on behalf of `user`; returns the job as it is afterwards.
pub fn cancel_job(store: &dyn Store, id: JobId, user: &str) -> Result<Job> {
    store.request_cancel(id, user)
}
