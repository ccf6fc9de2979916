-- Migration 9: the pipelines' run-cache (issue 11). The content objects themselves are files in
-- the store folder's `cache/files/md5/<2 hex>/<30 hex>` (DVC 3's layout), not rows.
--
-- One entry per run-cache key (sha256 over a stage's command, dependencies, params and output
-- paths): the outputs it produced as JSON text (`[{path, md5, size, nfiles}]`), the run that
-- produced them, who recorded it and when. A later execution with the same key replaces it.
CREATE TABLE pipeline_run_cache (
    key        TEXT    PRIMARY KEY,
    stage      TEXT    NOT NULL,
    outs       TEXT    NOT NULL,
    run_id     TEXT,
    user       TEXT    NOT NULL,
    created_ms INTEGER NOT NULL
) WITHOUT ROWID;
