//! `SqliteStore`: the embedded store (rusqlite, bundled SQLite, WAL).
pub mod search_sql;
