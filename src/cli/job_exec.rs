//! `kiroku job-exec ID` (hidden): the supervisor of one started job, run by the scheduler
//! detached from any terminal (`crate::wrap::job`).
use super::Context;
use crate::config::ConfigStamp;
use crate::error::Result;
use crate::model::JobId;
use crate::store::{open_store, Store, StoreLocation};
use crate::wrap::job::{job_exec, JobExecOptions};
use std::sync::Arc;

/// A local store opened ahead of a job, its schema read (None for a remote store, or when it
/// cannot be opened now: the supervisor then opens it itself, and reports why it cannot).
pub fn prepared_store(location: &StoreLocation) -> Option<Arc<dyn Store>> {
    if !matches!(location, StoreLocation::Local(_)) {
        return None;
    }
    let store = open_store(location, false).ok()?;
    // Any query reads the schema; job 0 never exists.
    let _ = store.job(0);
    Some(store)
}

/// A supervisor's context made ahead of its job (in a spare supervisor): the configuration
/// read then, with the stamp of its files (`ConfigStamp`), so the job gets the configuration
/// as it is when the job comes, read again only when a file changed since.
pub struct PreparedContext {
    location: StoreLocation,
    explicit_store: bool,
    stamp: ConfigStamp,
    context: Result<Context>,
}

impl PreparedContext {
    pub fn new(location: StoreLocation, explicit_store: bool) -> PreparedContext {
        let stamp = ConfigStamp::of(location.project_dir().as_deref());
        let context = Context::for_location(location.clone(), explicit_store);
        PreparedContext {
            location,
            explicit_store,
            stamp,
            context,
        }
    }

    /// The context for a job starting now: the prepared one while the configuration files are
    /// as they were, else (or when they could not be read then) one read afresh.
    pub fn into_current(self) -> Result<Context> {
        let unchanged = ConfigStamp::of(self.location.project_dir().as_deref()) == self.stamp;
        let mut context = match self.context {
            Ok(context) if unchanged => context,
            _ => Context::for_location(self.location, self.explicit_store)?,
        };
        // Prepared before the job's log became stdout.
        context.format = crate::present::Format::resolve(None);
        Ok(context)
    }
}

pub fn job_exec_command(ctx: &mut Context, id: JobId) -> Result<i32> {
    let store = ctx.store()?;
    let opts = JobExecOptions {
        config: ctx.config.clone(),
        store_location: ctx.location_text(),
    };
    let outcome = job_exec(Arc::clone(&store), id, &opts);
    // The job's end frees its slot and GPUs: this host's scheduler looks again.
    crate::jobs::wake::poke(store.as_ref());
    match outcome? {
        None => {
            eprintln!("kiroku: job {id} is not starting: nothing to do");
            Ok(0)
        }
        Some(outcome) => {
            eprintln!(
                "kiroku: job {} {} ({}) · run {} · {}",
                outcome.job.id,
                outcome.job.status,
                outcome.job.reason,
                outcome.run_id,
                crate::present::count_of(outcome.points, "point")
            );
            Ok(0)
        }
    }
}
