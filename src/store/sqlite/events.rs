//! The activity log (`events`) in SQLite: every write records who did what through
//! `record_event`, in the writer's transaction; and the store's change counter.
use super::{rows, SqliteStore};
use crate::error::Result;
use crate::limits;
use crate::model::*;
use crate::store::EventStore;
use rusqlite::{params, Connection};

/// Appends an event to the activity log, in the caller's transaction.
pub(super) fn record_event(
    conn: &Connection,
    kind: &str,
    user: &str,
    rid: Option<i64>,
    experiment_id: Option<i64>,
    detail: Option<serde_json::Value>,
) -> Result<()> {
    limits::user_name(user)?;
    conn.prepare_cached("INSERT INTO events (ts_ms, kind, user, rid, experiment_id, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
        .execute(params![now_ms(), kind, user, rid, experiment_id, detail.map(|d| d.to_string())])?;
    Ok(())
}

impl EventStore for SqliteStore {
    fn version(&self) -> Result<i64> {
        self.read(|c| {
            Ok(
                c.prepare_cached("SELECT value FROM store_meta WHERE key = 'version'")?
                    .query_row([], |r| r.get(0))?,
            )
        })
    }

    fn events(&self, query: &EventQuery) -> Result<Vec<Event>> {
        self.read(|c| rows::events(c, query))
    }
}
