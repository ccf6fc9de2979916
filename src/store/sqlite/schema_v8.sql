-- Migration 8: pipelines (definition side), the stat cache of content hashes, so an unchanged file is not
-- read again. One row per file path: its size, mtime (ns) and inode when hashed, and its md5
-- (DVC 3's file hash). A row whose stat no longer matches the file is ignored and replaced.
CREATE TABLE IF NOT EXISTS pipeline_stat_cache (
    path     TEXT PRIMARY KEY,
    size     INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    inode    INTEGER NOT NULL,
    md5      TEXT NOT NULL
) WITHOUT ROWID;
