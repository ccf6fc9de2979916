//! `SupervisionStore`: durability. Batches written whole or not at all, runs created together
//! with the record of the process supervising them, and the recovery of runs whose supervisor
//! died.
use crate::error::Result;
use crate::model::{NewRun, Run, RunBatch, SupervisedRun, Supervisor};

pub trait SupervisionStore {
    /// Writes a batch of params, metrics and tags in one transaction: all of it or none. The
    /// rules are those of `log_params`, `log_metrics` and `set_tags` (a deleted run takes
    /// nothing, a param cannot change), and, as in MLflow's API, a non-empty tag
    /// `mlflow.runName` also renames the run and `mlflow.note.content` adds a note by `user`.
    /// `batch.ingested_to` moves the run's supervisor checkpoint in the same transaction.
    fn log_batch(&self, id: &str, batch: &RunBatch, user: &str) -> Result<()>;
    /// Creates a run together with the record of the process supervising it (`kiroku run`),
    /// in one transaction, so no running run exists without a way to tell whether it lives.
    fn create_supervised_run(&self, new: &NewRun, supervisor: &Supervisor) -> Result<Run>;
    /// The running runs that have a supervisor, with their ingest checkpoints.
    fn supervised_runs(&self) -> Result<Vec<SupervisedRun>>;
    /// Recovery of a run whose supervisor died, as one compare-and-swap: only when the run is
    /// still `running` and its checkpoint is still `expected_offset`, writes `rest` (the part of
    /// the metrics file after the checkpoint) and marks the run `lost`, in one transaction.
    /// Returns whether it did; false means someone else got there first (or the run ended).
    fn recover_lost_run(
        &self,
        id: &str,
        expected_offset: u64,
        rest: &RunBatch,
        user: &str,
    ) -> Result<bool>;
}
