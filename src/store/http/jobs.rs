//! `JobStore` over HTTP: `/api/v1/jobs...` (see `server::kiroku_api`): the queue at
//! `/jobs`, one job at `/jobs/<id>` with its `/update` (compare-and-swap) and `/cancel`, and
//! the schedulers' leases at `/jobs/leases` (named in the query or body, so any name travels).
use super::HttpStore;
use crate::api::*;
use crate::error::Result;
use crate::model::*;
use crate::store::JobStore;

fn job_path(id: JobId, rest: &str) -> String {
    format!("/jobs/{id}{rest}")
}

impl JobStore for HttpStore {
    fn submit_job(&self, new: &NewJob) -> Result<Job> {
        self.post("/jobs", new)
    }

    fn job(&self, id: JobId) -> Result<Job> {
        self.get(&job_path(id, ""), &[])
    }

    fn jobs(&self, query: &JobQuery) -> Result<Vec<Job>> {
        let pairs = JobListQuery::pairs(query);
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.get("/jobs", &pairs)
    }

    fn update_job(&self, id: JobId, update: &JobUpdate) -> Result<Option<Job>> {
        let answer: JobUpdateAnswer = self.post(&job_path(id, "/update"), update)?;
        Ok(answer.job)
    }

    fn request_cancel(&self, id: JobId, user: &str) -> Result<Job> {
        let body = JobCancel { user: user.into() };
        self.post(&job_path(id, "/cancel"), &body)
    }

    fn acquire_lease(
        &self,
        name: &str,
        holder: &Supervisor,
        now: Millis,
        expires_at: Millis,
        replacing: Option<&Supervisor>,
    ) -> Result<bool> {
        let body = LeaseRequest {
            name: name.into(),
            holder: holder.clone(),
            now,
            expires_at,
            replacing: replacing.cloned(),
        };
        let answer: LeaseHeld = self.post("/jobs/leases/acquire", &body)?;
        Ok(answer.held)
    }

    fn release_lease(&self, name: &str, holder: &Supervisor) -> Result<()> {
        let body = LeaseRelease {
            name: name.into(),
            holder: holder.clone(),
        };
        self.post_unit("/jobs/leases/release", &body)
    }

    fn lease(&self, name: &str) -> Result<Option<Lease>> {
        let answer: LeaseAnswer = self.get("/jobs/leases", &[("name", name)])?;
        Ok(answer.lease)
    }
}
