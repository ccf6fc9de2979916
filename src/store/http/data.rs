//! `DataStore` over HTTP: `/api/v1/datasets...` (versions, lookups, run inputs),
//! `/api/v1/checks...` (check runs) and `/api/v1/reviews` (see `server::kiroku_api`). Names,
//! references and ids travel in queries and bodies, so any dataset name does.
use super::HttpStore;
use crate::api::*;
use crate::error::Result;
use crate::model::data::{DatasetVersion, RunInput};
use crate::model::*;
use crate::store::DataStore;

impl DataStore for HttpStore {
    fn add_dataset_version(&self, version: &DatasetVersion) -> Result<AddedVersion> {
        self.post("/datasets/versions", version)
    }

    fn dataset_versions(&self, name: &str) -> Result<Vec<DatasetVersion>> {
        self.get("/datasets/versions", &[("name", name)])
    }

    fn dataset_version(&self, reference: &str) -> Result<DatasetVersion> {
        self.get("/datasets/resolve", &[("reference", reference)])
    }

    fn datasets(&self) -> Result<Vec<DatasetSummary>> {
        self.get("/datasets", &[])
    }

    fn add_run_inputs(&self, run_id: &str, inputs: &[RunInput]) -> Result<()> {
        let body = RunInputsRequest {
            run_id: run_id.into(),
            inputs: inputs.to_vec(),
        };
        self.post_unit("/datasets/inputs", &body)
    }

    fn run_inputs(&self, run_id: &str) -> Result<Vec<RunInput>> {
        self.get("/datasets/inputs", &[("run", run_id)])
    }

    fn version_readers(&self, version_id: &str) -> Result<Vec<RunInput>> {
        self.get("/datasets/readers", &[("version", version_id)])
    }

    fn record_check_run(&self, run: &NewCheckRun) -> Result<CheckRun> {
        self.post("/checks", run)
    }

    fn check_run(&self, id: CheckRunId) -> Result<CheckRun> {
        self.get(&format!("/checks/{id}"), &[])
    }

    fn check_runs(&self, query: &CheckRunQuery) -> Result<Vec<CheckRun>> {
        let pairs = CheckRunListQuery::pairs(query);
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.get("/checks", &pairs)
    }

    fn add_review(&self, review: &NewReview) -> Result<Review> {
        self.post("/reviews", review)
    }

    fn reviews(&self, check_run: CheckRunId, result_id: Option<&str>) -> Result<Vec<Review>> {
        let run = check_run.to_string();
        let mut pairs = vec![("check_run", run.as_str())];
        if let Some(result) = result_id {
            pairs.push(("result", result));
        }
        self.get("/reviews", &pairs)
    }
}
