//! `kiroku job-exec ID` (hidden): the supervisor of one started job, run by the scheduler
//! detached from any terminal (`crate::wrap::job`).
use super::Context;
use crate::error::Result;
use crate::model::JobId;
use crate::wrap::job::{job_exec, JobExecOptions};
use std::sync::Arc;

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
