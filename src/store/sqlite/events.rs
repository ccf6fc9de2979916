//! The activity log (`events`) in SQLite: every write records who did what through
//! `record_event`, in the writer's transaction (marked with `store::origin`'s `via` when set);
//! and the store's change counter.
use super::SqliteStore;
use crate::error::Result;
use crate::limits;
use crate::model::*;
use crate::store::EventStore;
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection};

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
        .execute(params![now_ms(), kind, user, rid, experiment_id, crate::store::origin::mark(detail).map(|d| d.to_string())])?;
    Ok(())
}

/// The events matching `q`, newest first.
fn read_events(conn: &Connection, q: &EventQuery) -> Result<Vec<Event>> {
    let mut conditions = vec!["1".to_string()];
    let mut args: Vec<Value> = Vec::new();
    if let Some(since) = q.since_id {
        conditions.push("ev.id > ?".into());
        args.push(Value::Integer(since));
    }
    if let Some(run) = &q.run_id {
        conditions.push("r.id = ?".into());
        args.push(Value::Text(run.clone()));
    }
    args.push(Value::Integer(
        q.limit.map(|l| l.min(i64::MAX as u64) as i64).unwrap_or(-1),
    ));
    let sql = format!(
        "SELECT ev.id, ev.ts_ms, ev.kind, ev.user, r.id, r.name, e.name, ev.detail
         FROM events ev LEFT JOIN runs r ON r.rid = ev.rid LEFT JOIN experiments e ON e.id = ev.experiment_id
         WHERE {} ORDER BY ev.id DESC LIMIT ?",
        conditions.join(" AND ")
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), |r| {
        let detail: Option<String> = r.get(7)?;
        Ok(Event {
            id: r.get(0)?,
            time: r.get(1)?,
            kind: r.get(2)?,
            user: r.get(3)?,
            run_id: r.get(4)?,
            run_name: r.get(5)?,
            experiment: r.get(6)?,
            detail: detail.and_then(|d| serde_json::from_str(&d).ok()),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
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
        self.read(|c| read_events(c, query))
    }
}
