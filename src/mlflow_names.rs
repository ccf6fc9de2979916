//! MLflow's reserved names, in one place: the `mlflow.*` tags that carry meaning (a run's
//! name, note, parent, user, source) and the `Default` experiment.
//!
//! The store (which gives the name and note tags their meaning), the importer (which reads
//! them from MLflow's files and database) and the MLflow API (which reads and writes them over
//! HTTP) all name the same strings; they take them from here so the three cannot drift apart.
//! A leaf: it imports nothing of kiroku. Each constant notes its name in MLflow's own
//! `mlflow/utils/mlflow_tags.py`, for grepping across the two code bases.

/// A run's name (`MLFLOW_RUN_NAME`); setting it renames the run.
pub const RUN_NAME_TAG: &str = "mlflow.runName";
/// A run's note, or an experiment's description (`MLFLOW_RUN_NOTE`): on a run, setting it adds
/// a note; on an experiment it mirrors `Experiment.description`.
pub const NOTE_TAG: &str = "mlflow.note.content";
/// The id of a run's parent run (`MLFLOW_PARENT_RUN_ID`).
pub const PARENT_RUN_TAG: &str = "mlflow.parentRunId";
/// The user who made a run (`MLFLOW_USER`).
pub const USER_TAG: &str = "mlflow.user";
/// The program (or notebook) that made a run (`MLFLOW_SOURCE_NAME`).
pub const SOURCE_NAME_TAG: &str = "mlflow.source.name";
/// The git commit a run's source was at (`MLFLOW_GIT_COMMIT`).
pub const GIT_COMMIT_TAG: &str = "mlflow.source.git.commit";
/// The git branch a run's source was on (`MLFLOW_GIT_BRANCH`).
pub const GIT_BRANCH_TAG: &str = "mlflow.source.git.branch";
/// The uncommitted changes of a run's source (`MLFLOW_GIT_DIFF`).
pub const GIT_DIFF_TAG: &str = "mlflow.source.git.diff";

/// The experiment MLflow names `"0"` and makes on first use (`DEFAULT_EXPERIMENT_NAME`).
pub const DEFAULT_EXPERIMENT: &str = "Default";
