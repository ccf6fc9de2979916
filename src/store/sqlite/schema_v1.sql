-- kiroku store schema, migration 1. Migrations are append-only: never edit this file once
-- released; add schema_v2.sql and a step in migrations.rs instead.

CREATE TABLE experiments (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    description TEXT,
    deleted     INTEGER NOT NULL DEFAULT 0,
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL
);

-- One row per run. `rid` is the internal join key; `id` is the public 32-hex id.
CREATE TABLE runs (
    rid           INTEGER PRIMARY KEY,
    id            TEXT    NOT NULL UNIQUE,
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    name          TEXT    NOT NULL,
    status        TEXT    NOT NULL,   -- queued running finished failed killed lost
    exit_code     INTEGER,
    user          TEXT    NOT NULL,
    host          TEXT,
    start_ms      INTEGER NOT NULL,
    end_ms        INTEGER,
    parent_rid    INTEGER REFERENCES runs(rid),
    deleted_ms    INTEGER,            -- NULL while the run is active (soft delete)
    updated_ms    INTEGER NOT NULL
);
CREATE INDEX runs_experiment_start ON runs(experiment_id, start_ms);
CREATE INDEX runs_start ON runs(start_ms);
CREATE INDEX runs_name ON runs(name);
CREATE INDEX runs_parent ON runs(parent_rid);

-- Params are text; `num` holds the value as a number when the whole text parses as one,
-- so `params.lr < 0.01` compares numerically.
CREATE TABLE params (
    rid   INTEGER NOT NULL REFERENCES runs(rid) ON DELETE CASCADE,
    key   TEXT    NOT NULL,
    value TEXT    NOT NULL,
    num   REAL,
    PRIMARY KEY (rid, key)
) WITHOUT ROWID;
CREATE INDEX params_key_num ON params(key, num);
CREATE INDEX params_key_value ON params(key, value);

CREATE TABLE tags (
    rid   INTEGER NOT NULL REFERENCES runs(rid) ON DELETE CASCADE,
    key   TEXT    NOT NULL,
    value TEXT    NOT NULL,
    PRIMARY KEY (rid, key)
) WITHOUT ROWID;
CREATE INDEX tags_key_value ON tags(key, value);

-- Per-run, per-key summary maintained on every insert so tables, filters and sorts never
-- scan points. `last` follows MLflow's rule: the point with the highest (step, timestamp, value).
-- SQLite stores NaN as NULL, so `last_nan` = 1 marks a NaN latest value (last IS NULL then).
-- min/max ignore NaN and are NULL when every value is NaN.
CREATE TABLE metric_summary (
    rid       INTEGER NOT NULL REFERENCES runs(rid) ON DELETE CASCADE,
    key       TEXT    NOT NULL,
    last      REAL,
    last_nan  INTEGER NOT NULL DEFAULT 0,
    last_step INTEGER NOT NULL,
    last_ts   INTEGER NOT NULL,
    min       REAL,
    max       REAL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (rid, key)
) WITHOUT ROWID;
CREATE INDEX metric_summary_key_last ON metric_summary(key, last);

-- Metric points packed in chunks of up to CHUNK_POINTS points per (run, key), in logging
-- order. Each point is 24 bytes little-endian: step i64, timestamp ms i64, value f64 (NaN
-- and infinities kept bit-exact). Reading a 1,000,000-point series touches ~2,000 rows.
CREATE TABLE metric_chunks (
    rid   INTEGER NOT NULL REFERENCES runs(rid) ON DELETE CASCADE,
    key   TEXT    NOT NULL,
    seq   INTEGER NOT NULL,
    n     INTEGER NOT NULL,
    data  BLOB    NOT NULL,
    PRIMARY KEY (rid, key, seq)
) WITHOUT ROWID;

CREATE TABLE notes (
    id         INTEGER PRIMARY KEY,
    rid        INTEGER NOT NULL REFERENCES runs(rid) ON DELETE CASCADE,
    author     TEXT    NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    body       TEXT    NOT NULL,
    reply_to   INTEGER REFERENCES notes(id),
    anchor     TEXT
);
CREATE INDEX notes_run ON notes(rid, created_ms);

CREATE TABLE stars (
    rid        INTEGER NOT NULL REFERENCES runs(rid) ON DELETE CASCADE,
    user       TEXT    NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (rid, user)
) WITHOUT ROWID;

CREATE TABLE datasets (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    location    TEXT,
    hash        TEXT    NOT NULL,
    size        INTEGER,
    rows        INTEGER,
    schema_json TEXT,
    created_ms  INTEGER NOT NULL,
    UNIQUE (name, hash)
);

CREATE TABLE run_inputs (
    rid        INTEGER NOT NULL REFERENCES runs(rid) ON DELETE CASCADE,
    dataset_id INTEGER NOT NULL REFERENCES datasets(id),
    context    TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (rid, dataset_id, context)
) WITHOUT ROWID;

CREATE TABLE artifacts (
    rid      INTEGER NOT NULL REFERENCES runs(rid) ON DELETE CASCADE,
    path     TEXT    NOT NULL,
    size     INTEGER,
    hash     TEXT,
    stored   TEXT    NOT NULL,   -- 'copied' (inside the run folder) or 'referenced' (location only)
    location TEXT,
    PRIMARY KEY (rid, path)
) WITHOUT ROWID;

CREATE TABLE run_source (
    rid        INTEGER PRIMARY KEY REFERENCES runs(rid) ON DELETE CASCADE,
    git_commit TEXT,
    git_branch TEXT,
    git_dirty  INTEGER,
    git_diff   TEXT,
    command    TEXT,    -- JSON array of argv
    cwd        TEXT
);

CREATE TABLE run_env (
    rid   INTEGER NOT NULL REFERENCES runs(rid) ON DELETE CASCADE,
    name  TEXT    NOT NULL,
    value TEXT    NOT NULL,
    PRIMARY KEY (rid, name)
) WITHOUT ROWID;

-- Append-only activity log.
CREATE TABLE events (
    id            INTEGER PRIMARY KEY,
    ts_ms         INTEGER NOT NULL,
    kind          TEXT    NOT NULL,
    user          TEXT    NOT NULL,
    rid           INTEGER REFERENCES runs(rid) ON DELETE SET NULL,
    experiment_id INTEGER REFERENCES experiments(id) ON DELETE SET NULL,
    detail        TEXT
);
CREATE INDEX events_ts ON events(ts_ms);
