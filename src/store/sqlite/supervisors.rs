//! The `run_supervisors` table (schema v5): which process supervises a running run, and the
//! byte offset of its metrics file ingested so far. Rows exist only while the run runs.
use crate::error::Result;
use crate::model::{SupervisedRun, Supervisor};
use rusqlite::{params, Connection, OptionalExtension};

pub fn insert(conn: &Connection, rid: i64, s: &Supervisor) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO run_supervisors (rid, host, boot_id, pid_namespace, pid, start_ticks, metrics_file, ingested_to)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0)",
    )?
    .execute(params![
        rid,
        s.host,
        s.boot_id,
        s.pid_namespace,
        s.pid,
        s.start_ticks as i64,
        s.metrics_file
    ])?;
    Ok(())
}

/// Moves the checkpoint (a run without a supervisor row is left alone).
pub fn set_ingested_to(conn: &Connection, rid: i64, offset: u64) -> Result<()> {
    conn.prepare_cached("UPDATE run_supervisors SET ingested_to = ?1 WHERE rid = ?2")?
        .execute(params![offset as i64, rid])?;
    Ok(())
}

/// The checkpoint of a run that is still `running` under a supervisor, else None.
pub fn running_checkpoint(conn: &Connection, rid: i64) -> Result<Option<u64>> {
    Ok(conn
        .prepare_cached(
            "SELECT s.ingested_to FROM run_supervisors s JOIN runs r ON r.rid = s.rid
             WHERE s.rid = ?1 AND r.status = 'running'",
        )?
        .query_row([rid], |r| r.get::<_, i64>(0))
        .optional()?
        .map(|o| o as u64))
}

/// Forgets the supervisor once the run has ended.
pub fn remove(conn: &Connection, rid: i64) -> Result<()> {
    conn.prepare_cached("DELETE FROM run_supervisors WHERE rid = ?1")?
        .execute([rid])?;
    Ok(())
}

pub fn running(conn: &Connection) -> Result<Vec<SupervisedRun>> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.id, s.host, s.boot_id, s.pid_namespace, s.pid, s.start_ticks, s.metrics_file, s.ingested_to
         FROM run_supervisors s JOIN runs r ON r.rid = s.rid
         WHERE r.status = 'running' ORDER BY s.rid",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(SupervisedRun {
            run_id: r.get(0)?,
            supervisor: Supervisor {
                host: r.get(1)?,
                boot_id: r.get(2)?,
                pid_namespace: r.get(3)?,
                pid: r.get(4)?,
                start_ticks: r.get::<_, i64>(5)? as u64,
                metrics_file: r.get(6)?,
            },
            ingested_to: r.get::<_, i64>(7)? as u64,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}
