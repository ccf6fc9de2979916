-- Migration 2: a store-wide change counter, bumped by every write transaction, so readers
-- (the terminal UI, the server's watch stream) can tell cheaply whether anything changed.
CREATE TABLE store_meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO store_meta (key, value) VALUES ('version', 0);
