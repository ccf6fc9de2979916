-- Migration 11: kiroku's own side of the model registry (issue 12, models-ops): approvals of model
-- versions for aliases, evaluations of versions, and the deploy-hook outbox. Versions are named
-- as MLflow names them (model name, version string), so these tables stand beside the registry's
-- own without reaching into them.

-- A reviewer's verdict on a version for an alias (`alias` NULL: any alias). Append-only: a later
-- verdict of the same reviewer replaces an earlier one when counted (see `models::policy`).
CREATE TABLE model_approvals (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    model      TEXT    NOT NULL,
    version    TEXT    NOT NULL,
    alias      TEXT,
    verdict    TEXT    NOT NULL,
    comment    TEXT    NOT NULL,
    reviewer   TEXT    NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE INDEX model_approvals_by_version ON model_approvals(model, version, id);

-- One row per evaluation job of a version; the newest of a version is the one that counts.
CREATE TABLE model_evaluations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    model      TEXT    NOT NULL,
    version    TEXT    NOT NULL,
    job_id     INTEGER NOT NULL,
    run_id     TEXT,
    status     TEXT    NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX model_evaluations_by_version ON model_evaluations(model, version, id);
CREATE INDEX model_evaluations_by_status ON model_evaluations(status);

-- The deploy-hook outbox: one row per hook and event; `attempts` is a JSON list of every try.
-- `next_ms` is when a pending delivery is due (a drainer claims one by moving it forward).
CREATE TABLE hook_deliveries (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT    NOT NULL UNIQUE,
    model      TEXT    NOT NULL,
    hook       TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    payload    TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    created_ms INTEGER NOT NULL,
    next_ms    INTEGER NOT NULL,
    attempts   TEXT    NOT NULL DEFAULT '[]'
);
CREATE INDEX hook_deliveries_due ON hook_deliveries(state, next_ms);
CREATE INDEX hook_deliveries_by_model ON hook_deliveries(model, seq);
