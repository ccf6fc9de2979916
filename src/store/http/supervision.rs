//! `SupervisionStore` over HTTP: `/api/v1/runs/<id>/batch`, `/runs/supervised` and
//! `/recover-lost`.
use super::HttpStore;
use crate::api::*;
use crate::error::Result;
use crate::model::*;
use crate::store::SupervisionStore;

impl SupervisionStore for HttpStore {
    fn log_batch(&self, id: &str, batch: &RunBatch, user: &str) -> Result<()> {
        let body = BatchRequest {
            batch: batch.clone(),
            user: user.into(),
        };
        self.post_unit(&Self::run_path(id, "/batch"), &body)
    }

    fn create_supervised_run(&self, new: &NewRun, supervisor: &Supervisor) -> Result<Run> {
        let body = SupervisedRunRequest {
            run: new.clone(),
            supervisor: supervisor.clone(),
        };
        self.post("/runs/supervised", &body)
    }

    fn supervised_runs(&self) -> Result<Vec<SupervisedRun>> {
        self.get("/runs/supervised", &[])
    }

    fn recover_lost_run(
        &self,
        id: &str,
        expected_offset: u64,
        rest: &RunBatch,
        user: &str,
    ) -> Result<bool> {
        let body = LostRunRecovery {
            expected_offset,
            rest: rest.clone(),
            user: user.into(),
        };
        let answer: Changed = self.post(&Self::run_path(id, "/recover-lost"), &body)?;
        Ok(answer.changed)
    }
}
