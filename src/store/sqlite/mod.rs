//! `SqliteStore`: the embedded store (rusqlite, bundled SQLite, WAL).
