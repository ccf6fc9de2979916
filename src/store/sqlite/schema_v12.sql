-- Migration 12: metrics logged against MLflow 3 logged models (issue 12, models2): every value
-- `log_metric(..., model_id=…)` / `log_batch` sends with a `model_id`, by the run that logged it,
-- optionally on a dataset, returned with the model by get and search as MLflow returns them.
CREATE TABLE logged_model_metrics (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    model_id       TEXT    NOT NULL REFERENCES logged_models(model_id) ON DELETE CASCADE,
    key            TEXT    NOT NULL,
    value          REAL,            -- NULL: NaN (SQLite keeps none)
    ts_ms          INTEGER NOT NULL,
    step           INTEGER NOT NULL,
    run_id         TEXT,
    dataset_name   TEXT,
    dataset_digest TEXT
);
CREATE INDEX logged_model_metrics_by_model ON logged_model_metrics(model_id, seq);
