-- Migration 10: models (issue 12). MLflow 3 logged models with their tags and params; the registry
-- (registered models, numbered versions, tags, aliases); and the append-only alias history.
--
-- A logged model's files live in the store folder (`models/<model_id>/artifacts/`). A registered
-- model has an internal `mid` so a rename is one update; `next_version` numbers its versions and
-- never goes back, so a deleted version's number is not reused. The alias history names models by
-- name (it outlives a deleted model; a rename rewrites it) and is never otherwise changed.
CREATE TABLE logged_models (
    model_id       TEXT    PRIMARY KEY,
    experiment_id  INTEGER NOT NULL REFERENCES experiments(id),
    name           TEXT    NOT NULL,
    source_run_id  TEXT,
    status         TEXT    NOT NULL,   -- pending ready upload_failed
    status_message TEXT,
    model_type     TEXT,
    user           TEXT    NOT NULL,
    created_ms     INTEGER NOT NULL,
    updated_ms     INTEGER NOT NULL,
    deleted_ms     INTEGER
);
CREATE INDEX logged_models_by_experiment ON logged_models(experiment_id, created_ms);
CREATE INDEX logged_models_by_run ON logged_models(source_run_id);

CREATE TABLE logged_model_tags (
    model_id TEXT NOT NULL REFERENCES logged_models(model_id) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
) WITHOUT ROWID;

CREATE TABLE logged_model_params (
    model_id TEXT NOT NULL REFERENCES logged_models(model_id) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
) WITHOUT ROWID;

CREATE TABLE registered_models (
    mid          INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    description  TEXT    NOT NULL DEFAULT '',
    user         TEXT    NOT NULL,
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL,
    next_version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX registered_models_by_updated ON registered_models(updated_ms);

CREATE TABLE registered_model_tags (
    mid   INTEGER NOT NULL REFERENCES registered_models(mid) ON DELETE CASCADE,
    key   TEXT    NOT NULL,
    value TEXT    NOT NULL,
    PRIMARY KEY (mid, key)
) WITHOUT ROWID;

CREATE TABLE model_versions (
    vid            INTEGER PRIMARY KEY,
    mid            INTEGER NOT NULL REFERENCES registered_models(mid) ON DELETE CASCADE,
    version        INTEGER NOT NULL,
    source         TEXT    NOT NULL,
    run_id         TEXT,
    model_id       TEXT,
    status         TEXT    NOT NULL,   -- pending_registration failed_registration ready
    status_message TEXT,
    description    TEXT    NOT NULL DEFAULT '',
    stage          TEXT    NOT NULL DEFAULT 'None',
    run_link       TEXT    NOT NULL DEFAULT '',
    user           TEXT    NOT NULL,
    created_ms     INTEGER NOT NULL,
    updated_ms     INTEGER NOT NULL,
    UNIQUE (mid, version)
);
CREATE INDEX model_versions_by_run ON model_versions(run_id);
-- A model's newest version per stage (`latest_versions`, in every registered model answer).
CREATE INDEX model_versions_by_stage ON model_versions(mid, stage, version);

CREATE TABLE model_version_tags (
    vid   INTEGER NOT NULL REFERENCES model_versions(vid) ON DELETE CASCADE,
    key   TEXT    NOT NULL,
    value TEXT    NOT NULL,
    PRIMARY KEY (vid, key)
) WITHOUT ROWID;

CREATE TABLE model_aliases (
    mid     INTEGER NOT NULL REFERENCES registered_models(mid) ON DELETE CASCADE,
    alias   TEXT    NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (mid, alias)
) WITHOUT ROWID;

CREATE TABLE alias_moves (
    id           INTEGER PRIMARY KEY,
    model        TEXT    NOT NULL,
    alias        TEXT    NOT NULL,
    from_version INTEGER,
    to_version   INTEGER,
    user         TEXT    NOT NULL,
    ts_ms        INTEGER NOT NULL,
    reason       TEXT    NOT NULL,
    forced       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX alias_moves_by_model ON alias_moves(model, alias, id);
