//! `kiroku job-exec ID` (hidden): the supervisor of one started job, run by the scheduler
//! detached from any terminal (`crate::wrap::job`).
use super::Context;
use crate::error::Result;
use crate::model::JobId;
use crate::wrap::job::{job_exec, JobExecOptions};

pub fn job_exec_command(ctx: &mut Context, id: JobId) -> Result<i32> {
    let store = ctx.store()?;
    let opts = JobExecOptions {
        config: ctx.config.clone(),
        store_location: ctx.location_text(),
    };
    match job_exec(store, id, &opts)? {
        None => {
            eprintln!("kiroku: job {id} is not starting: nothing to do");
            Ok(0)
        }
        Some(outcome) => {
            eprintln!(
                "kiroku: job {} {} ({}) · run {} · {} points",
                outcome.job.id,
                outcome.job.status,
                outcome.job.reason,
                outcome.run_id,
                outcome.points
            );
            Ok(0)
        }
    }
}
