//! Supervision and durability in SQLite: batches applied in one transaction, supervised runs
//! and the compare-and-swap recovery of lost ones.
//!
//! The `run_supervisors` table (schema v5) says which process supervises a running run, and
//! the byte offset of its metrics file ingested so far. Rows exist only while the run runs.
use super::events::record_event;
use super::notes::insert_note;
use super::runs::{insert_params, rename_run_of, set_tags_of};
use super::{active_rid_of, metrics, run_owner, touch, SqliteStore};
use crate::error::{KirokuError, Result};
use crate::mlflow_names::{NOTE_TAG as RUN_NOTE_TAG, RUN_NAME_TAG};
use crate::model::*;
use crate::store::SupervisionStore;
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

/// Records the supervised command's process.
pub fn set_child(conn: &Connection, rid: i64, child: ChildProcess) -> Result<()> {
    conn.prepare_cached(
        "UPDATE run_supervisors SET child_pid = ?1, child_start_ticks = ?2 WHERE rid = ?3",
    )?
    .execute(params![child.pid, child.start_ticks as i64, rid])?;
    Ok(())
}

/// Forgets the supervisor once the run has ended.
pub fn remove(conn: &Connection, rid: i64) -> Result<()> {
    conn.prepare_cached("DELETE FROM run_supervisors WHERE rid = ?1")?
        .execute([rid])?;
    Ok(())
}

pub fn running(conn: &Connection) -> Result<Vec<SupervisedRun>> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.id, s.host, s.boot_id, s.pid_namespace, s.pid, s.start_ticks, s.metrics_file, s.ingested_to,
                s.child_pid, s.child_start_ticks
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
                child: match (r.get::<_, Option<u32>>(8)?, r.get::<_, Option<i64>>(9)?) {
                    (Some(pid), Some(ticks)) => Some(ChildProcess {
                        pid,
                        start_ticks: ticks as u64,
                    }),
                    _ => None,
                },
            },
            ingested_to: r.get::<_, i64>(7)? as u64,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Writes a batch into an active run: params, metrics, then tags with the meaning MLflow gives
/// `mlflow.runName` and `mlflow.note.content`, then the supervisor checkpoint.
fn apply_batch(conn: &Connection, id: &str, rid: i64, batch: &RunBatch, user: &str) -> Result<()> {
    insert_params(conn, rid, id, &batch.params)?;
    metrics::append(conn, rid, &batch.metrics)?;
    if !batch.tags.is_empty() {
        set_tags_of(conn, rid, &batch.tags, user)?;
    }
    for (key, value) in &batch.tags {
        if value.trim().is_empty() {
            continue;
        }
        if key == RUN_NAME_TAG {
            rename_run_of(conn, rid, value.trim(), user)?;
        } else if key == RUN_NOTE_TAG {
            let note = NewNote {
                author: user.to_string(),
                body: value.clone(),
                reply_to: None,
                anchor: None,
                created_ms: None,
            };
            insert_note(conn, id, rid, &note)?;
        }
    }
    if let Some(offset) = batch.ingested_to {
        set_ingested_to(conn, rid, offset)?;
    }
    touch(conn, rid)
}

impl SupervisionStore for SqliteStore {
    fn log_batch(&self, id: &str, batch: &RunBatch, user: &str) -> Result<()> {
        if batch.is_empty() && batch.ingested_to.is_none() {
            // Nothing to write, but the run must exist and take writes, as for the single calls.
            return self.read(|c| active_rid_of(c, id).map(|_| ()));
        }
        self.write(|tx| {
            let rid = active_rid_of(tx, id)?;
            apply_batch(tx, id, rid, batch, user)
        })
    }

    fn create_supervised_run(&self, new: &NewRun, supervisor: &Supervisor) -> Result<Run> {
        self.create_run_with(new, Some(supervisor))
    }

    fn set_supervised_child(&self, id: &str, child: ChildProcess) -> Result<()> {
        self.write(|tx| {
            let rid = super::rid_of(tx, id)?;
            set_child(tx, rid, child)
        })
    }

    fn supervised_runs(&self) -> Result<Vec<SupervisedRun>> {
        self.read(running)
    }

    fn recover_lost_run(
        &self,
        id: &str,
        expected_offset: u64,
        rest: &RunBatch,
        user: &str,
    ) -> Result<bool> {
        self.write(|tx| {
            let (rid, deleted_ms): (i64, Option<i64>) = tx
                .prepare_cached("SELECT rid, deleted_ms FROM runs WHERE id = ?1")?
                .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?
                .ok_or_else(|| KirokuError::NotFound(format!("no run with id {id}")))?;
            if running_checkpoint(tx, rid)? != Some(expected_offset) {
                return Ok(false);
            }
            // A run deleted while it ran takes no data, but it still ends.
            if deleted_ms.is_none() {
                apply_batch(tx, id, rid, rest, user)?;
            }
            let now = now_ms();
            tx.execute(
                "UPDATE runs SET status = 'lost', end_ms = ?1, updated_ms = ?1 WHERE rid = ?2",
                params![now, rid],
            )?;
            remove(tx, rid)?;
            let eid = run_owner(tx, rid)?.1;
            record_event(tx, "run.lost", user, Some(rid), Some(eid), None)?;
            Ok(true)
        })
    }
}
