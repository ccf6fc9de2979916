-- Migration 6: the job queue (issue 9). A job is a command queued to run on a target; its id is
-- small and sequential (AUTOINCREMENT: never reused, even after the newest job is deleted), what
-- users type. Lists (command, env, params, tags, after, assigned GPUs) and the supervisor are JSON
-- text; the queue reads them whole with the row. The indexes serve the listings: by status (the
-- scheduler's queued and active jobs), by host (a host's scheduler), by target (the Jobs screen).
CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT    NOT NULL,
    experiment       TEXT    NOT NULL,
    target           TEXT    NOT NULL,
    command          TEXT    NOT NULL,
    workdir          TEXT    NOT NULL,
    env              TEXT    NOT NULL DEFAULT '[]',
    gpus             INTEGER NOT NULL,
    gpu_memory_mb    INTEGER,
    after            TEXT    NOT NULL DEFAULT '[]',
    params           TEXT    NOT NULL DEFAULT '[]',
    tags             TEXT    NOT NULL DEFAULT '[]',
    rerun_of         TEXT,
    retry_of         INTEGER,
    time_limit_s     INTEGER,
    user             TEXT    NOT NULL,
    host             TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    reason           TEXT    NOT NULL,
    assigned_gpus    TEXT    NOT NULL DEFAULT '[]',
    run_id           TEXT,
    queued_ms        INTEGER NOT NULL,
    started_ms       INTEGER,
    ended_ms         INTEGER,
    exit_code        INTEGER,
    supervisor       TEXT,
    handle           TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_by_status ON jobs(status, id);
CREATE INDEX jobs_by_host ON jobs(host, status, id);
CREATE INDEX jobs_by_target ON jobs(target, status, id);

-- Leases: who acts as a host's scheduler for this store, until when (`holder` is the holder's
-- process identity as JSON, a `Supervisor`).
CREATE TABLE job_leases (
    name       TEXT    PRIMARY KEY,
    holder     TEXT    NOT NULL,
    expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
