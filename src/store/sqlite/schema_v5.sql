-- Migration 5: the supervisor of a running run (`kiroku run`): which process on which host and
-- boot, its metrics file, and the byte offset of that file ingested so far (updated in the same
-- transaction as each batch). A dead supervisor's run is recovered from here and marked `lost`.
-- The row goes when the run ends. A recovery waits for the supervised command (the child) to end
-- too, so no line it writes is left behind.
CREATE TABLE run_supervisors (
    rid          INTEGER PRIMARY KEY REFERENCES runs(rid) ON DELETE CASCADE,
    host         TEXT    NOT NULL,
    boot_id      TEXT    NOT NULL,
    pid_namespace TEXT   NOT NULL,
    pid          INTEGER NOT NULL,
    start_ticks  INTEGER NOT NULL,
    metrics_file TEXT    NOT NULL,
    ingested_to  INTEGER NOT NULL DEFAULT 0,
    -- The command the supervisor started (its direct child), once it runs: the metrics file
    -- has a writer until that process is gone too.
    child_pid    INTEGER,
    child_start_ticks INTEGER
);
