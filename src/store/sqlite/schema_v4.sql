-- Migration 4: experiment tags (MLflow's `ExperimentTag`), last write wins per key. The tag
-- `mlflow.note.content` mirrors `experiments.description`, which the store keeps in step.
CREATE TABLE experiment_tags (
    experiment_id INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    key           TEXT    NOT NULL,
    value         TEXT    NOT NULL,
    PRIMARY KEY (experiment_id, key)
) WITHOUT ROWID;
