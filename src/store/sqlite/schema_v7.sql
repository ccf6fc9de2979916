-- Migration 7: datasets and data checks (issue 10). The v1 tables `datasets` and `run_inputs` keep
-- the MLflow-style inputs runs report through MLflow's API (shown by `runs/get`); the data domain's
-- own records are these.
--
-- A dataset version is content-addressed: `id` is `sha256:<hex>` over its files (or, for an MLflow
-- `log_input` with no file kiroku could hash, `mlflow:<digest>`), unique within its dataset, and
-- numbered 1, 2, ... per dataset in order of registration. Its columns and files are JSON text
-- (read whole with the row).
CREATE TABLE dataset_versions (
    vid        INTEGER PRIMARY KEY,
    dataset    TEXT    NOT NULL,
    number     INTEGER NOT NULL,
    id         TEXT    NOT NULL,
    path       TEXT    NOT NULL,
    format     TEXT    NOT NULL,
    size_bytes INTEGER NOT NULL,
    row_count  INTEGER NOT NULL,
    columns    TEXT    NOT NULL DEFAULT '[]',
    files      TEXT    NOT NULL DEFAULT '[]',
    created_ms INTEGER NOT NULL,
    created_by TEXT    NOT NULL,
    source     TEXT,
    UNIQUE (dataset, id),
    UNIQUE (dataset, number)
);
CREATE INDEX dataset_versions_by_id ON dataset_versions(id);

-- What a run read: named inputs bound to dataset versions, in the order bound (`seq`).
CREATE TABLE data_run_inputs (
    rid  INTEGER NOT NULL REFERENCES runs(rid) ON DELETE CASCADE,
    name TEXT    NOT NULL,
    vid  INTEGER NOT NULL REFERENCES dataset_versions(vid),
    path TEXT    NOT NULL,
    seq  INTEGER NOT NULL,
    PRIMARY KEY (rid, name, vid)
) WITHOUT ROWID;
CREATE INDEX data_run_inputs_by_version ON data_run_inputs(vid, seq);

-- Check runs: one suite against one or more dataset versions; ids small and sequential (what
-- users type: `kiroku review 12`). `run_id` is the run that ran the checks, when one did.
CREATE TABLE check_runs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    suite      TEXT    NOT NULL,
    suite_hash TEXT    NOT NULL,
    source     TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    started_ms INTEGER NOT NULL,
    ended_ms   INTEGER NOT NULL,
    user       TEXT    NOT NULL,
    host       TEXT    NOT NULL,
    run_id     TEXT
);
CREATE INDEX check_runs_by_suite ON check_runs(suite, id);

CREATE TABLE check_run_datasets (
    check_run  INTEGER NOT NULL REFERENCES check_runs(id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    name       TEXT    NOT NULL,
    version_id TEXT    NOT NULL,
    path       TEXT    NOT NULL,
    rows       INTEGER NOT NULL,
    PRIMARY KEY (check_run, position)
) WITHOUT ROWID;
CREATE INDEX check_run_datasets_by_version ON check_run_datasets(version_id, check_run);
CREATE INDEX check_run_datasets_by_name ON check_run_datasets(name, check_run);

-- One row per result, in the run's order; `body` is the whole `CheckResult` as JSON, the status
-- and unexpected count beside it for queries.
CREATE TABLE check_results (
    check_run        INTEGER NOT NULL REFERENCES check_runs(id) ON DELETE CASCADE,
    position         INTEGER NOT NULL,
    result_id        TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    unexpected_count INTEGER,
    body             TEXT    NOT NULL,
    PRIMARY KEY (check_run, position),
    UNIQUE (check_run, result_id)
) WITHOUT ROWID;

-- Reviews: a verdict on one result, bound to the check (`result_id`), the dataset version and the
-- suite hash it was made on, with how bad the result was then; see `store::checks_gate`.
CREATE TABLE reviews (
    id                        INTEGER PRIMARY KEY AUTOINCREMENT,
    check_run                 INTEGER NOT NULL REFERENCES check_runs(id),
    result_id                 TEXT    NOT NULL,
    verdict                   TEXT    NOT NULL,
    comment                   TEXT    NOT NULL,
    reviewer                  TEXT    NOT NULL,
    expires_ms                INTEGER,
    version_id                TEXT    NOT NULL,
    suite_hash                TEXT    NOT NULL,
    status_reviewed           TEXT    NOT NULL,
    unexpected_count_reviewed INTEGER,
    created_ms                INTEGER NOT NULL
);
CREATE INDEX reviews_by_binding ON reviews(version_id, suite_hash, result_id, id);
