//! `DataStore`: datasets and their content-addressed versions, what runs read, check runs with
//! their results, and reviews of those results. Records are `model::data`'s; what a review
//! covers and what blocks a run (`--require-checks`) is `store::checks_gate`, the one place
//! that decides it.
use crate::error::Result;
use crate::model::data::{DatasetVersion, RunInput};
use crate::model::{
    AddedVersion, CheckRun, CheckRunId, CheckRunQuery, DatasetSummary, NewCheckRun, NewReview,
    Review,
};

pub trait DataStore {
    /// Registers `version` as a version of its dataset. Idempotent on content: when the dataset
    /// already has a version with this `id` (the same bytes), that one is returned (`new`
    /// false) and nothing changes. Otherwise the store numbers it (1, 2, … per dataset), stamps
    /// `created_at`, and records a `dataset.version_added` event; the `number` and
    /// `created_at` given are ignored. The same bytes under another dataset name are a
    /// version of that dataset too.
    fn add_dataset_version(&self, version: &DatasetVersion) -> Result<AddedVersion>;
    /// The versions of dataset `name`, oldest first; `NotFound` when it has none.
    fn dataset_versions(&self, name: &str) -> Result<Vec<DatasetVersion>>;
    /// One version by reference: `NAME` or `NAME@latest` (its newest), `NAME@N`, `NAME@sha256:…`
    /// or a bare `sha256:` prefix (at least 4 hex digits; `Ambiguous` when it names versions
    /// of several datasets or several versions).
    fn dataset_version(&self, reference: &str) -> Result<DatasetVersion>;
    /// Every dataset with its newest version, version count and latest check status, by name.
    fn datasets(&self) -> Result<Vec<DatasetSummary>>;
    /// Binds dataset versions to run `run_id` as its inputs (each version must exist);
    /// binding the same input again changes nothing.
    fn add_run_inputs(&self, run_id: &str, inputs: &[RunInput]) -> Result<()>;
    /// What run `run_id` read, in the order bound.
    fn run_inputs(&self, run_id: &str) -> Result<Vec<RunInput>>;
    /// The runs that read version `version_id`, newest binding first.
    fn version_readers(&self, version_id: &str) -> Result<Vec<RunInput>>;
    /// Records a check run (id assigned, small and sequential) and a `check.recorded` event.
    /// Every dataset it names must be a registered version.
    fn record_check_run(&self, run: &NewCheckRun) -> Result<CheckRun>;
    /// One check run; `NotFound` names the id when there is none.
    fn check_run(&self, id: CheckRunId) -> Result<CheckRun>;
    /// Check runs matching the query, newest first.
    fn check_runs(&self, query: &CheckRunQuery) -> Result<Vec<CheckRun>>;
    /// Records a reviewer's verdict on one result, bound to the result's dataset version and
    /// the run's suite hash, with the status and unexpected count reviewed, and a
    /// `review.<verdict>` event. Refuses an unknown run or result (`NotFound`), a result
    /// that needs no review (a pass), a waiver without a reason, an expiry on anything but a
    /// waiver (`Invalid`).
    fn add_review(&self, review: &NewReview) -> Result<Review>;
    /// The reviews that bind to check run `check_run`'s results (of `result_id` alone when
    /// given): those of the same check on the same dataset version and suite hash, whichever
    /// check run they were made on, oldest first. Whether each still holds is
    /// `checks_gate::standing`'s to say.
    fn reviews(&self, check_run: CheckRunId, result_id: Option<&str>) -> Result<Vec<Review>>;
}
