//! `ExperimentStore`: experiments, their names, soft deletion and tags.
use crate::error::Result;
use crate::model::{Experiment, ImportedExperiment, Millis};

pub trait ExperimentStore {
    fn experiments(&self, include_deleted: bool) -> Result<Vec<Experiment>>;
    /// By name, or by numeric id.
    fn experiment(&self, name_or_id: &str) -> Result<Experiment>;
    fn create_experiment(&self, name: &str, user: &str) -> Result<Experiment>;
    fn rename_experiment(&self, name_or_id: &str, new_name: &str, user: &str) -> Result<()>;
    /// Soft-deletes the experiment and its runs.
    fn delete_experiment(&self, name_or_id: &str, user: &str) -> Result<()>;
    /// `delete_experiment` as of `at` instead of now: an import's source deleted it then
    /// (MLflow's `last_update_time` of a deleted experiment).
    fn delete_experiment_at(&self, name_or_id: &str, at: Millis, user: &str) -> Result<()>;
    /// Creates an experiment as an import's source kept it: its id when no experiment holds
    /// it (else the next free one), its creation and last-update times. A name in use is a
    /// conflict, as with `create_experiment`.
    fn import_experiment(&self, new: &ImportedExperiment, user: &str) -> Result<Experiment>;
    /// Undoes `delete_experiment`: the experiment and the runs deleted with it come back.
    fn restore_experiment(&self, name_or_id: &str, user: &str) -> Result<()>;
    /// Sets experiment tags (last write wins; listed in `Experiment::tags`). The tag
    /// `mlflow.note.content` is the experiment's `description` too. A deleted experiment takes
    /// no tag changes until restored (MLflow's "must be in the 'active' state").
    fn set_experiment_tags(
        &self,
        name_or_id: &str,
        tags: &[(String, String)],
        user: &str,
    ) -> Result<()>;
    /// Removes experiment tags; a key the experiment lacks is `NotFound`.
    fn remove_experiment_tags(&self, name_or_id: &str, keys: &[String], user: &str) -> Result<()>;
}
