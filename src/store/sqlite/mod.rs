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
mod logged_model_filter;
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
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

pub use migrations::SCHEMA_VERSION;

/// The pipelines' stat cache table (in the store's own migration; a remote store's clients
/// create it in a machine-local file).
pub const PIPELINE_STAT_CACHE_SQL: &str = include_str!("schema_v8.sql");

/// How long a writer keeps retrying while other processes hold the write lock.
const BUSY_GIVE_UP: Duration = Duration::from_secs(120);
/// How long a statement waits for another process's write lock (SQLite's busy handler).
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a look for a run whose folder exists waits for the write that makes it.
const RUN_WRITE_WAIT: Duration = Duration::from_secs(1);

pub struct SqliteStore {
    dir: PathBuf,
    conn: Mutex<Connection>,
    /// The thread whose `together` holds a transaction open on `conn`, if any: other threads
    /// wait for it to end before they use the connection (`lock`).
    together_owner: Mutex<Option<ThreadId>>,
    together_ended: Condvar,
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
            together_owner: Mutex::new(None),
            together_ended: Condvar::new(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The connection, once no other thread's `together` holds a transaction open on it.
    fn lock(&self) -> MutexGuard<'_, Connection> {
        let me = std::thread::current().id();
        loop {
            // A panic while holding the lock leaves SQLite consistent (transactions roll back
            // on drop).
            let conn = self
                .conn
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            // Looked at with the connection held, so a `together` that starts later waits for
            // this caller to be done with it.
            if self.owner_guard().is_none_or(|t| t == me) {
                return conn;
            }
            drop(conn);
            let mut gate = self.owner_guard();
            while gate.is_some_and(|t| t != me) {
                gate = self
                    .together_ended
                    .wait(gate)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
        }
    }

    fn owner_guard(&self) -> MutexGuard<'_, Option<ThreadId>> {
        self.together_owner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` in a write transaction, retrying the whole transaction while the database is
    /// busy (another process writing) for up to two minutes. The store's change counter moves
    /// with it.
    pub fn write<T>(&self, f: impl FnMut(&Connection) -> Result<T>) -> Result<T> {
        self.write_counted(true, f)
    }

    /// A write that nothing a watcher shows depends on (a scheduler renewing its lease): as
    /// `write`, but the change counter stays, so it wakes no watcher (the renewing scheduler
    /// included).
    fn write_unwatched<T>(&self, f: impl FnMut(&Connection) -> Result<T>) -> Result<T> {
        self.write_counted(false, f)
    }

    fn write_counted<T>(
        &self,
        counted: bool,
        mut f: impl FnMut(&Connection) -> Result<T>,
    ) -> Result<T> {
        let mut conn = self.lock();
        if !conn.is_autocommit() {
            // Inside this thread's `together`: a savepoint of its transaction, so a write that
            // fails leaves the others (its caller may go on).
            let savepoint = conn.savepoint()?;
            let out = f(&savepoint)?;
            if counted {
                bump_version(&savepoint)?;
            }
            savepoint.commit()?;
            return Ok(out);
        }
        let started = Instant::now();
        let mut pause = Duration::from_millis(2);
        loop {
            let attempt = (|| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let out = f(&tx)?;
                if counted {
                    bump_version(&tx)?;
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

    /// `Store::together_dyn`: `f`'s writes (from this thread) in one `BEGIN IMMEDIATE`
    /// transaction, committed when `f` succeeds and rolled back when it fails; other threads
    /// wait meanwhile. Nested calls join the outer one.
    fn together_in_one_transaction(&self, f: &mut dyn FnMut() -> Result<()>) -> Result<()> {
        let me = std::thread::current().id();
        {
            let mut gate = self.owner_guard();
            if *gate == Some(me) {
                drop(gate);
                return f();
            }
            while gate.is_some() {
                gate = self
                    .together_ended
                    .wait(gate)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            *gate = Some(me);
        }
        let _open = TogetherOpen(self);
        self.begin_immediate()?;
        let outcome = f();
        let conn = self.lock();
        match outcome {
            Ok(()) => conn.execute_batch("COMMIT").map_err(|e| {
                let _ = conn.execute_batch("ROLLBACK");
                KirokuError::from(e)
            }),
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// Opens the write transaction of a `together`, retrying while another process writes.
    fn begin_immediate(&self) -> Result<()> {
        let conn = self.lock();
        let started = Instant::now();
        let mut pause = Duration::from_millis(2);
        loop {
            match conn.execute_batch("BEGIN IMMEDIATE") {
                Ok(()) => return Ok(()),
                Err(e) => match KirokuError::from(e) {
                    KirokuError::Database(msg)
                        if is_busy(&msg) && started.elapsed() < BUSY_GIVE_UP =>
                    {
                        std::thread::sleep(pause);
                        pause = (pause * 2).min(Duration::from_millis(100));
                    }
                    other => return Err(other),
                },
            }
        }
    }

    /// Runs `f` over a consistent snapshot.
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let conn = self.lock();
        f(&conn)
    }

    /// `read` of run `id`, which waits for the run when it is being written: a job's
    /// supervisor makes the run's folder, starts the command and only then writes the run, all
    /// under the write lock (`wrap::job`), so the command's first look may come before the
    /// commit. A run that is not found but whose folder exists is looked for again once the
    /// write lock could be taken (that write has landed).
    pub(super) fn read_run<T>(&self, id: &str, f: impl Fn(&Connection) -> Result<T>) -> Result<T> {
        match self.read(&f) {
            Err(KirokuError::NotFound(_)) if self.run_being_written(id) => self.read(&f),
            other => other,
        }
    }

    /// Whether `id` names a run whose folder exists, once the write in flight (if any) has
    /// landed: waits for the write lock, at most `RUN_WRITE_WAIT` (a supervisor holds it for
    /// milliseconds; a writer on this very thread would never let go).
    fn run_being_written(&self, id: &str) -> bool {
        let id = id.trim().to_ascii_lowercase();
        if !crate::ids::is_full_run_id(&id) || !self.dir.join("runs").join(&id).is_dir() {
            return false;
        }
        let conn = self.lock();
        if !conn.is_autocommit() {
            return false; // this thread's own transaction is the writer
        }
        // SQLite's busy handler does the waiting, for this one attempt no longer than the
        // bound; the connection's own timeout is put back after.
        if conn.busy_timeout(RUN_WRITE_WAIT).is_err() {
            return false;
        }
        let landed =
            conn.execute_batch("BEGIN IMMEDIATE").is_ok() && conn.execute_batch("ROLLBACK").is_ok();
        let _ = conn.busy_timeout(BUSY_TIMEOUT);
        landed
    }
}

/// Ends a `together` however it ends (a panic included): other threads may use the
/// connection again.
struct TogetherOpen<'a>(&'a SqliteStore);

impl Drop for TogetherOpen<'_> {
    fn drop(&mut self) {
        let conn = self.0.conn.lock().unwrap_or_else(|p| p.into_inner());
        if !conn.is_autocommit() {
            // Only after a panic in `f`: what it wrote does not stay half done.
            let _ = conn.execute_batch("ROLLBACK");
        }
        drop(conn);
        *self.0.owner_guard() = None;
        self.0.together_ended.notify_all();
    }
}

/// Moves the store's change counter (what watchers wait on).
fn bump_version(conn: &Connection) -> Result<()> {
    conn.prepare_cached("UPDATE store_meta SET value = value + 1 WHERE key = 'version'")?
        .execute([])?;
    Ok(())
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
    conn.busy_timeout(BUSY_TIMEOUT)?;
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

    fn together_dyn(&self, f: &mut dyn FnMut() -> Result<()>) -> Result<()> {
        self.together_in_one_transaction(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::prelude::*;
    use crate::store::together;
    use std::sync::Arc;

    fn new_run(name: &str) -> NewRun {
        NewRun {
            experiment: "e".into(),
            name: Some(name.into()),
            user: "ana".into(),
            ..Default::default()
        }
    }

    fn open(dir: &Path) -> SqliteStore {
        SqliteStore::open(&dir.join(".kiroku"), false).unwrap()
    }

    #[test]
    fn writes_together_land_in_one_transaction_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let other = open(dir.path());
        let id = together(&store, || {
            let run = store.create_run(&new_run("a"))?;
            assert!(
                other.resolve_run(&run.id).is_err(),
                "another connection sees nothing before the end"
            );
            // A write that fails leaves the others in place.
            assert!(store
                .set_status(
                    "0123456789abcdef0123456789abcdef",
                    RunStatus::Failed,
                    None,
                    None
                )
                .is_err());
            store.set_status(&run.id, RunStatus::Finished, Some(0), None)?;
            Ok(run.id)
        })
        .unwrap();
        assert_eq!(other.run(&id).unwrap().run.status, RunStatus::Finished);

        let mut made = None;
        let failed = together(&store, || {
            made = Some(store.create_run(&new_run("b"))?.id);
            Err::<(), _>(KirokuError::Invalid("stop".into()))
        });
        assert!(matches!(failed, Err(KirokuError::Invalid(_))));
        let made = made.expect("the run was made inside");
        assert!(other.resolve_run(&made).is_err(), "rolled back");
        assert!(store.resolve_run(&made).is_err(), "rolled back here too");
        // The store takes ordinary writes again.
        store.create_run(&new_run("c")).unwrap();
    }

    /// A job's supervisor makes the run's folder, then (holding the write lock) starts the
    /// command before it writes the run: the command's look for its run by id waits for it.
    #[test]
    fn a_run_whose_folder_exists_is_waited_for_while_it_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(open(dir.path()));
        let id = crate::ids::new_run_id();
        let (folder_made, wait_for_folder) = std::sync::mpsc::channel();
        let writer = {
            let (store, id) = (Arc::clone(&store), id.clone());
            std::thread::spawn(move || {
                together(store.as_ref(), || {
                    std::fs::create_dir_all(store.run_dir(&id).unwrap()).unwrap();
                    folder_made.send(()).unwrap();
                    std::thread::sleep(Duration::from_millis(300));
                    store.create_run(&NewRun {
                        id: Some(id.clone()),
                        ..new_run("a")
                    })
                })
            })
        };
        wait_for_folder.recv().unwrap();
        let reader = open(dir.path());
        assert_eq!(
            reader.resolve_run(&id).unwrap(),
            id,
            "resolved once written"
        );
        assert_eq!(reader.run(&id).unwrap().run.name, "a");
        writer.join().unwrap().unwrap();
        // Without a folder, an unknown id is not found at once.
        let unknown = crate::ids::new_run_id();
        assert!(matches!(
            reader.resolve_run(&unknown),
            Err(KirokuError::NotFound(_))
        ));
    }

    #[test]
    fn other_threads_wait_for_a_together_to_end() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(open(dir.path()));
        let waiting = together(store.as_ref(), || {
            store.create_run(&new_run("a"))?;
            let s = Arc::clone(&store);
            let waiting = std::thread::spawn(move || s.create_run(&new_run("b")).map(|r| r.id));
            std::thread::sleep(Duration::from_millis(100));
            assert!(!waiting.is_finished(), "the other thread waits");
            Ok(waiting)
        })
        .unwrap();
        let b = waiting.join().unwrap().unwrap();
        assert!(open(dir.path()).resolve_run(&b).is_ok());
    }
}
