//! `SqliteStore`: the embedded store, one SQLite database (WAL) plus a folder per run.
//!
//! Layout of a store folder (`.kiroku/`): `kiroku.db` and `runs/<run id>/` (logs, copied
//! artifacts). One connection per store object behind a mutex; writes are short
//! `BEGIN IMMEDIATE` transactions, retried while another process holds the write lock, so many
//! processes can log into one store at once without surfacing busy errors.
//!
//! This file holds the connection, its transactions and the run-row helpers every domain
//! writes through (`rid_of`, `active_rid_of`, `run_owner`, `touch`); each domain of the
//! `Store` trait is implemented in a file of its own beside it (`experiments`, `runs`,
//! `metrics`, `notes`, `artifacts`, `supervision`, `jobs`, `events`, `data`, `pipelines`). `run_rows` and `search_sql`
//! read and search runs for `runs`, `migrations` keeps the schema, and `tokens` holds the
//! server's API tokens, which are no part of `Store`.
mod artifacts;
mod data;
mod events;
mod experiments;
mod jobs;
pub mod metrics;
mod migrations;
mod models;
mod notes;
mod pipelines;
pub(crate) use pipelines::check_object_id;
mod promotions;
mod registry_filter;
mod run_rows;
mod runs;
pub mod search_sql;
mod supervision;
pub mod tokens;

use crate::error::{KirokuError, Result};
use crate::model::*;
use crate::store::Store;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub use migrations::SCHEMA_VERSION;

/// The pipelines' stat cache table (in the store's own migration; a remote store's clients
/// create it in a machine-local file).
pub const PIPELINE_STAT_CACHE_SQL: &str = include_str!("schema_v8.sql");

/// How long a writer keeps retrying while other processes hold the write lock.
const BUSY_GIVE_UP: Duration = Duration::from_secs(120);

pub struct SqliteStore {
    dir: PathBuf,
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating when missing) the store in folder `dir`. `shared` makes a new store
    /// group-writable with the setgid bit, so several users of one box can write to it.
    pub fn open(dir: &Path, shared: bool) -> Result<Self> {
        std::fs::create_dir_all(dir.join("runs"))
            .map_err(|e| KirokuError::io(format!("creating {}", dir.display()), e))?;
        if shared {
            make_shared(dir)?;
        }
        if is_group_writable(dir) {
            // Files and folders other users must write to (run folders, WAL) stay group-writable.
            // SAFETY: umask only changes this process's file-creation mask.
            unsafe { libc::umask(0o002) };
        }
        let db_path = dir.join("kiroku.db");
        let conn = Connection::open(&db_path).map_err(|e| corrupt(&db_path, e))?;
        configure(&conn).map_err(|e| corrupt(&db_path, e))?;
        migrations::migrate(&conn, &db_path)?;
        if shared {
            set_mode(&db_path, 0o664)?;
        }
        Ok(SqliteStore {
            dir: dir.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back on drop).
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` in a write transaction, retrying the whole transaction while the database is
    /// busy (another process writing) for up to two minutes. The store's change counter moves
    /// with it.
    pub fn write<T>(&self, f: impl FnMut(&Transaction) -> Result<T>) -> Result<T> {
        self.write_counted(true, f)
    }

    /// A write that nothing a watcher shows depends on (a scheduler renewing its lease): as
    /// `write`, but the change counter stays, so it wakes no watcher (the renewing scheduler
    /// included).
    fn write_unwatched<T>(&self, f: impl FnMut(&Transaction) -> Result<T>) -> Result<T> {
        self.write_counted(false, f)
    }

    fn write_counted<T>(
        &self,
        counted: bool,
        mut f: impl FnMut(&Transaction) -> Result<T>,
    ) -> Result<T> {
        let mut conn = self.lock();
        let started = Instant::now();
        let mut pause = Duration::from_millis(2);
        loop {
            let attempt = (|| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let out = f(&tx)?;
                if counted {
                    tx.prepare_cached(
                        "UPDATE store_meta SET value = value + 1 WHERE key = 'version'",
                    )?
                    .execute([])?;
                }
                tx.commit()?;
                Ok(out)
            })();
            match attempt {
                Err(KirokuError::Database(msg))
                    if is_busy(&msg) && started.elapsed() < BUSY_GIVE_UP =>
                {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(100));
                }
                other => return other,
            }
        }
    }

    /// Runs `f` over a consistent snapshot.
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.lock();
        f(&conn)
    }
}

fn is_busy(msg: &str) -> bool {
    msg.contains("database is locked") || msg.contains("database is busy") || msg.contains("busy")
}

fn corrupt(path: &Path, e: rusqlite::Error) -> KirokuError {
    KirokuError::Corrupt {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(30))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "case_sensitive_like", "ON")?;
    conn.pragma_update(None, "cache_size", -32000)?;
    Ok(())
}

fn is_group_writable(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(dir)
        .map(|m| m.permissions().mode() & 0o020 != 0)
        .unwrap_or(false)
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| KirokuError::io(format!("setting permissions on {}", path.display()), e))
}

fn make_shared(dir: &Path) -> Result<()> {
    set_mode(dir, 0o2775)?;
    set_mode(&dir.join("runs"), 0o2775)
}

/// The internal row id of a run, or a not-found error.
fn rid_of(conn: &Connection, id: &str) -> Result<i64> {
    conn.prepare_cached("SELECT rid FROM runs WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?
        .ok_or_else(|| KirokuError::NotFound(format!("no run with id {id}")))
}

/// The run's owner and experiment id, for the events that a change of the run records.
fn run_owner(conn: &Connection, rid: i64) -> Result<(String, i64)> {
    Ok(conn
        .prepare_cached("SELECT user, experiment_id FROM runs WHERE rid = ?1")?
        .query_row([rid], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// The internal row id of a run that may take writes: not-found for an unknown run, and
/// MLflow's own refusal (`INVALID_PARAMETER_VALUE` on the wire) for a deleted one. A deleted
/// run (on its own or with its experiment) takes no data writes until restored.
fn active_rid_of(conn: &Connection, id: &str) -> Result<i64> {
    let (rid, deleted_ms): (i64, Option<i64>) = conn
        .prepare_cached("SELECT rid, deleted_ms FROM runs WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or_else(|| KirokuError::NotFound(format!("no run with id {id}")))?;
    if deleted_ms.is_some() {
        return Err(KirokuError::Invalid(format!(
            "The run {id} must be in the 'active' state. Current state is deleted."
        )));
    }
    Ok(rid)
}

/// Marks the run as changed now (its `updated_ms`).
fn touch(conn: &Connection, rid: i64) -> Result<()> {
    conn.prepare_cached("UPDATE runs SET updated_ms = ?1 WHERE rid = ?2")?
        .execute(params![now_ms(), rid])?;
    Ok(())
}

impl Store for SqliteStore {
    fn describe(&self) -> String {
        self.dir.display().to_string()
    }

    fn run_dir(&self, run_id: &str) -> Option<PathBuf> {
        Some(self.dir.join("runs").join(run_id))
    }
}
