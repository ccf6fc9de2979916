//! `JobStore` for `HttpStore`: placeholder until the jobs domain lands (issue 9, in progress).
use super::HttpStore;
use crate::error::{KirokuError, Result};
use crate::model::*;
use crate::store::JobStore;

fn pending() -> KirokuError {
    KirokuError::Invalid("the job queue is not in this build yet".into())
}

impl JobStore for HttpStore {
    fn submit_job(&self, _new: &NewJob) -> Result<Job> {
        Err(pending())
    }
    fn job(&self, _id: JobId) -> Result<Job> {
        Err(pending())
    }
    fn jobs(&self, _query: &JobQuery) -> Result<Vec<Job>> {
        Err(pending())
    }
    fn update_job(&self, _id: JobId, _update: &JobUpdate) -> Result<Option<Job>> {
        Err(pending())
    }
    fn request_cancel(&self, _id: JobId, _user: &str) -> Result<Job> {
        Err(pending())
    }
    fn acquire_lease(
        &self,
        _name: &str,
        _holder: &Supervisor,
        _now: Millis,
        _expires_at: Millis,
        _replacing: Option<&Supervisor>,
    ) -> Result<bool> {
        Err(pending())
    }
    fn release_lease(&self, _name: &str, _holder: &Supervisor) -> Result<()> {
        Err(pending())
    }
    fn lease(&self, _name: &str) -> Result<Option<Lease>> {
        Err(pending())
    }
}
