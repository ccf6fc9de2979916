//! `SqliteStore`: the embedded store, one SQLite database (WAL) plus a folder per run.
//!
//! Layout of a store folder (`.kiroku/`): `kiroku.db` and `runs/<run id>/` (logs, copied
//! artifacts). One connection per store object behind a mutex; writes are short
//! `BEGIN IMMEDIATE` transactions, retried while another process holds the write lock, so many
//! processes can log into one store at once without surfacing busy errors.
mod artifacts;
pub mod metrics;
mod migrations;
mod rows;
pub mod search_sql;
mod supervisors;
pub mod tokens;

use crate::error::{KirokuError, Result};
use crate::ids;
use crate::limits;
use crate::mlflow_names::{
    NOTE_TAG as EXPERIMENT_DESCRIPTION_TAG, NOTE_TAG as RUN_NOTE_TAG, RUN_NAME_TAG,
};
use crate::model::*;
use crate::store::{is_secret_name, Store};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub use migrations::SCHEMA_VERSION;

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
    /// busy (another process writing) for up to two minutes.
    pub fn write<T>(&self, mut f: impl FnMut(&Transaction) -> Result<T>) -> Result<T> {
        let mut conn = self.lock();
        let started = Instant::now();
        let mut pause = Duration::from_millis(2);
        loop {
            let attempt = (|| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let out = f(&tx)?;
                tx.prepare_cached("UPDATE store_meta SET value = value + 1 WHERE key = 'version'")?
                    .execute([])?;
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

    /// Creates a run, with the record of its supervisor when given, in one transaction.
    fn create_run_with(&self, new: &NewRun, supervisor: Option<&Supervisor>) -> Result<Run> {
        let id = match &new.id {
            Some(id) if ids::is_full_run_id(id) => id.to_ascii_lowercase(),
            Some(id) => {
                return Err(KirokuError::Invalid(format!(
                    "run id '{id}' is not 32 hex characters"
                )))
            }
            None => ids::new_run_id(),
        };
        let name = new
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| ids::friendly_name(&id));
        limits::run_name(&name)?;
        let status = new.status.unwrap_or(RunStatus::Running);
        let start = new.start_time.unwrap_or_else(now_ms);
        let experiment = if new.experiment.trim().is_empty() {
            "Default"
        } else {
            new.experiment.as_str()
        };
        self.write(|tx| {
            if rid_of(tx, &id).is_ok() {
                return Err(KirokuError::Conflict(format!("a run with id {id} already exists")));
            }
            let eid = get_or_create_experiment(tx, experiment, &new.user)?;
            let parent_rid = match &new.parent_id {
                Some(p) => Some(rid_of(tx, p).map_err(|_| KirokuError::NotFound(format!("parent run {p} does not exist")))?),
                None => None,
            };
            // An ended run without an end time (some imports) keeps none rather than "now".
            let end = new.end_time;
            tx.execute(
                "INSERT INTO runs (id, experiment_id, name, status, user, host, start_ms, end_ms, parent_rid, deleted_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    id,
                    eid,
                    name,
                    status.as_str(),
                    new.user,
                    new.host,
                    start,
                    end,
                    parent_rid,
                    new.deleted.then(now_ms),
                    now_ms()
                ],
            )?;
            let rid = tx.last_insert_rowid();
            insert_params(tx, rid, &id, &new.params)?;
            upsert_tags(tx, rid, &new.tags)?;
            if let Some(s) = supervisor {
                supervisors::insert(tx, rid, s)?;
            }
            let kind = match status {
                RunStatus::Running => "run.started",
                RunStatus::Queued => "run.queued",
                _ => "run.created",
            };
            record_event(tx, kind, &new.user, Some(rid), Some(eid), None)
        })?;
        if let Some(dir) = self.run_dir(&id) {
            std::fs::create_dir_all(&dir)
                .map_err(|e| KirokuError::io(format!("creating {}", dir.display()), e))?;
        }
        Ok(self.run(&id)?.run)
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

fn experiment_by_ref(conn: &Connection, name_or_id: &str) -> Result<Option<Experiment>> {
    let by_name = rows::experiments(conn, "e.name = ?1", &[&name_or_id])?
        .into_iter()
        .next();
    if by_name.is_some() {
        return Ok(by_name);
    }
    match name_or_id.parse::<i64>() {
        Ok(id) => Ok(rows::experiments(conn, "e.id = ?1", &[&id])?
            .into_iter()
            .next()),
        Err(_) => Ok(None),
    }
}

fn record_event(
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

/// The run's rid when `note_id` is a note of run `id` written by `user`.
fn own_note(conn: &Connection, id: &str, note_id: i64, user: &str, what: &str) -> Result<i64> {
    let rid = rid_of(conn, id)?;
    let author: Option<String> = conn
        .prepare_cached("SELECT author FROM notes WHERE id = ?1 AND rid = ?2")?
        .query_row(params![note_id, rid], |r| r.get(0))
        .optional()?;
    match author {
        None => Err(KirokuError::NotFound(format!(
            "run {id} has no note {note_id}"
        ))),
        Some(a) if a != user => Err(KirokuError::Forbidden(format!(
            "note {note_id} is by {a}; only its author can {what} it"
        ))),
        Some(_) => Ok(rid),
    }
}

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

/// An experiment that may take writes: not-found for an unknown one, MLflow's refusal
/// (`INVALID_PARAMETER_VALUE` on the wire) for a deleted one.
fn active_experiment(conn: &Connection, name_or_id: &str) -> Result<Experiment> {
    let e = experiment_by_ref(conn, name_or_id)?
        .ok_or_else(|| KirokuError::NotFound(format!("no experiment named '{name_or_id}'")))?;
    if e.deleted {
        return Err(KirokuError::Invalid(format!(
            "The experiment {} must be in the 'active' state. Current state is deleted.",
            e.id
        )));
    }
    Ok(e)
}

/// The id and deleted flag of an experiment by name (no run count: this is on the write path).
fn experiment_id_by_name(conn: &Connection, name: &str) -> Result<Option<(i64, bool)>> {
    Ok(conn
        .prepare_cached("SELECT id, deleted FROM experiments WHERE name = ?1")?
        .query_row([name], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? != 0)))
        .optional()?)
}

fn get_or_create_experiment(conn: &Connection, name: &str, user: &str) -> Result<i64> {
    if let Some((id, deleted)) = experiment_id_by_name(conn, name.trim())? {
        if deleted {
            return Err(KirokuError::Invalid(format!(
                "experiment '{name}' is deleted; restore it or choose another name"
            )));
        }
        return Ok(id);
    }
    insert_experiment(conn, name, user)
}

fn insert_experiment(conn: &Connection, name: &str, user: &str) -> Result<i64> {
    let name = name.trim();
    limits::experiment_name(name)?;
    let now = now_ms();
    conn.execute(
        "INSERT INTO experiments (name, created_ms, updated_ms) VALUES (?1, ?2, ?2)",
        params![name, now],
    )?;
    let id = conn.last_insert_rowid();
    record_event(
        conn,
        "experiment.created",
        user,
        None,
        Some(id),
        Some(serde_json::json!({"name": name})),
    )?;
    Ok(id)
}

/// Parses a param value as a number when the whole text is one (finite).
pub fn param_number(value: &str) -> Option<f64> {
    crate::query::parse_decimal(value.trim())
}

fn insert_params(
    conn: &Connection,
    rid: i64,
    run_id: &str,
    params_in: &[(String, String)],
) -> Result<()> {
    let mut existing =
        conn.prepare_cached("SELECT value FROM params WHERE rid = ?1 AND key = ?2")?;
    let mut insert =
        conn.prepare_cached("INSERT INTO params (rid, key, value, num) VALUES (?1, ?2, ?3, ?4)")?;
    for (key, value) in params_in {
        validate_key("param", key)?;
        let old: Option<String> = existing
            .query_row(params![rid, key], |r| r.get(0))
            .optional()?;
        match old {
            Some(old) if &old == value => {}
            Some(old) => {
                return Err(KirokuError::Conflict(format!(
                    "param '{key}' of run {run_id} is already '{}'; params cannot change (new value '{}')",
                    excerpt(&old, EXCERPT_CHARS),
                    excerpt(value, EXCERPT_CHARS)
                )))
            }
            None => {
                insert.execute(params![rid, key, value, param_number(value)])?;
            }
        }
    }
    Ok(())
}

fn upsert_tags(conn: &Connection, rid: i64, tags: &[(String, String)]) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO tags (rid, key, value) VALUES (?1, ?2, ?3) ON CONFLICT (rid, key) DO UPDATE SET value = excluded.value",
    )?;
    for (key, value) in tags {
        validate_key("tag", key)?;
        stmt.execute(params![rid, key, value])?;
    }
    Ok(())
}

/// Sets tags of an active run and records who did.
fn set_tags_of(conn: &Connection, rid: i64, tags: &[(String, String)], user: &str) -> Result<()> {
    upsert_tags(conn, rid, tags)?;
    touch(conn, rid)?;
    let eid = run_owner(conn, rid)?.1;
    let detail: serde_json::Map<String, serde_json::Value> = tags
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    record_event(
        conn,
        "tag.set",
        user,
        Some(rid),
        Some(eid),
        Some(detail.into()),
    )
}

/// Renames an active run (`name` already trimmed and non-empty).
fn rename_run_of(conn: &Connection, rid: i64, name: &str, user: &str) -> Result<()> {
    conn.execute(
        "UPDATE runs SET name = ?1, updated_ms = ?2 WHERE rid = ?3",
        params![name, now_ms(), rid],
    )?;
    let eid = run_owner(conn, rid)?.1;
    record_event(
        conn,
        "run.renamed",
        user,
        Some(rid),
        Some(eid),
        Some(serde_json::json!({"to": name})),
    )
}

/// Adds a note to run `id` (row `rid`); returns the note's id.
fn insert_note(conn: &Connection, id: &str, rid: i64, note: &NewNote) -> Result<i64> {
    if let Some(parent) = note.reply_to {
        let parent_rid: Option<i64> = conn
            .query_row("SELECT rid FROM notes WHERE id = ?1", [parent], |r| {
                r.get(0)
            })
            .optional()?;
        if parent_rid != Some(rid) {
            return Err(KirokuError::NotFound(format!(
                "run {id} has no note {parent} to reply to"
            )));
        }
    }
    let created = note.created_ms.unwrap_or_else(now_ms);
    conn.execute(
        "INSERT INTO notes (rid, author, created_ms, updated_ms, body, reply_to, anchor) VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6)",
        params![rid, note.author, created, note.body, note.reply_to, note.anchor],
    )?;
    let note_id = conn.last_insert_rowid();
    let eid = run_owner(conn, rid)?.1;
    let excerpt: String = note.body.chars().take(80).collect();
    record_event(
        conn,
        "note.added",
        &note.author,
        Some(rid),
        Some(eid),
        Some(serde_json::json!({"note_id": note_id, "excerpt": excerpt})),
    )?;
    Ok(note_id)
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
        supervisors::set_ingested_to(conn, rid, offset)?;
    }
    touch(conn, rid)
}

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

    fn experiments(&self, include_deleted: bool) -> Result<Vec<Experiment>> {
        self.read(|c| {
            rows::experiments(
                c,
                if include_deleted {
                    "1"
                } else {
                    "e.deleted = 0"
                },
                &[],
            )
        })
    }

    fn experiment(&self, name_or_id: &str) -> Result<Experiment> {
        self.read(|c| experiment_by_ref(c, name_or_id))?
            .ok_or_else(|| KirokuError::NotFound(format!("no experiment named '{name_or_id}'")))
    }

    fn create_experiment(&self, name: &str, user: &str) -> Result<Experiment> {
        let id = self.write(|tx| {
            // By exact name: a numeric name is a name here, not an id.
            if let Some((_, deleted)) = experiment_id_by_name(tx, name.trim())? {
                let state = if deleted { " (deleted)" } else { "" };
                return Err(KirokuError::Conflict(format!(
                    "experiment '{}' already exists{state}",
                    name.trim()
                )));
            }
            insert_experiment(tx, name, user)
        })?;
        self.read(|c| rows::experiments(c, "e.id = ?1", &[&id]))?
            .pop()
            .ok_or_else(|| KirokuError::Database(format!("experiment {id} vanished after insert")))
    }

    fn rename_experiment(&self, name_or_id: &str, new_name: &str, user: &str) -> Result<()> {
        self.write(|tx| {
            let e = experiment_by_ref(tx, name_or_id)?.ok_or_else(|| {
                KirokuError::NotFound(format!("no experiment named '{name_or_id}'"))
            })?;
            limits::experiment_name(new_name.trim())?;
            if experiment_id_by_name(tx, new_name.trim())?.is_some_and(|(other, _)| other != e.id) {
                return Err(KirokuError::Conflict(format!(
                    "experiment '{new_name}' already exists"
                )));
            }
            tx.execute(
                "UPDATE experiments SET name = ?1, updated_ms = ?2 WHERE id = ?3",
                params![new_name.trim(), now_ms(), e.id],
            )?;
            record_event(
                tx,
                "experiment.renamed",
                user,
                None,
                Some(e.id),
                Some(serde_json::json!({"from": e.name, "to": new_name})),
            )
        })
    }

    fn delete_experiment(&self, name_or_id: &str, user: &str) -> Result<()> {
        self.write(|tx| {
            let e = experiment_by_ref(tx, name_or_id)?
                .ok_or_else(|| KirokuError::NotFound(format!("no experiment named '{name_or_id}'")))?;
            let now = now_ms();
            tx.execute("UPDATE experiments SET deleted = 1, updated_ms = ?1 WHERE id = ?2", params![now, e.id])?;
            tx.execute(
                "UPDATE runs SET deleted_ms = ?1, updated_ms = ?1 WHERE experiment_id = ?2 AND deleted_ms IS NULL",
                params![now, e.id],
            )?;
            record_event(tx, "experiment.deleted", user, None, Some(e.id), Some(serde_json::json!({"name": e.name})))
        })
    }

    fn restore_experiment(&self, name_or_id: &str, user: &str) -> Result<()> {
        self.write(|tx| {
            let e = experiment_by_ref(tx, name_or_id)?
                .ok_or_else(|| KirokuError::NotFound(format!("no experiment named '{name_or_id}'")))?;
            if !e.deleted {
                return Ok(());
            }
            let (deleted_ms, now): (i64, i64) = (e.updated_ms, now_ms());
            tx.execute("UPDATE experiments SET deleted = 0, updated_ms = ?1 WHERE id = ?2", params![now, e.id])?;
            // The runs deleted together with the experiment (same instant), not those deleted before.
            tx.execute(
                "UPDATE runs SET deleted_ms = NULL, updated_ms = ?1 WHERE experiment_id = ?2 AND deleted_ms = ?3",
                params![now, e.id, deleted_ms],
            )?;
            record_event(tx, "experiment.restored", user, None, Some(e.id), Some(serde_json::json!({"name": e.name})))
        })
    }

    fn set_experiment_tags(
        &self,
        name_or_id: &str,
        tags: &[(String, String)],
        user: &str,
    ) -> Result<()> {
        if tags.iter().any(|(k, _)| k.trim().is_empty()) {
            return Err(KirokuError::Invalid(
                "an experiment tag key is empty".into(),
            ));
        }
        for (key, value) in tags {
            limits::experiment_tag_value(key, value)?;
        }
        self.write(|tx| {
            let e = active_experiment(tx, name_or_id)?;
            let mut stmt = tx.prepare_cached(
                "INSERT INTO experiment_tags (experiment_id, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
            )?;
            for (key, value) in tags {
                stmt.execute(params![e.id, key, value])?;
                if key == EXPERIMENT_DESCRIPTION_TAG {
                    tx.execute(
                        "UPDATE experiments SET description = ?1 WHERE id = ?2",
                        params![value, e.id],
                    )?;
                }
            }
            let detail: serde_json::Map<String, serde_json::Value> = tags
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            record_event(
                tx,
                "experiment.tag.set",
                user,
                None,
                Some(e.id),
                Some(detail.into()),
            )
        })
    }

    fn remove_experiment_tags(&self, name_or_id: &str, keys: &[String], user: &str) -> Result<()> {
        self.write(|tx| {
            let e = active_experiment(tx, name_or_id)?;
            for key in keys {
                let n = tx.execute(
                    "DELETE FROM experiment_tags WHERE experiment_id = ?1 AND key = ?2",
                    params![e.id, key],
                )?;
                if n == 0 {
                    return Err(KirokuError::NotFound(format!(
                        "No tag with name: {key} in experiment with id {}",
                        e.id
                    )));
                }
                if key == EXPERIMENT_DESCRIPTION_TAG {
                    tx.execute(
                        "UPDATE experiments SET description = NULL WHERE id = ?1",
                        [e.id],
                    )?;
                }
            }
            record_event(
                tx,
                "experiment.tag.removed",
                user,
                None,
                Some(e.id),
                Some(serde_json::json!({"keys": keys})),
            )
        })
    }

    fn create_run(&self, new: &NewRun) -> Result<Run> {
        self.create_run_with(new, None)
    }

    fn resolve_run(&self, reference: &str) -> Result<String> {
        let reference = reference.trim();
        if reference.is_empty() {
            return Err(KirokuError::Invalid("empty run reference".into()));
        }
        self.read(|c| rows::resolve_run(c, reference))
    }

    fn run(&self, id: &str) -> Result<RunDetail> {
        let mut detail = self.read(|c| {
            let rid = rid_of(c, id)?;
            rows::run_detail(c, rid)
        })?;
        detail.run_dir = self.run_dir(id).map(|p| p.display().to_string());
        Ok(detail)
    }

    fn search_runs(&self, query: &RunQuery) -> Result<RunPage> {
        self.read(|c| rows::search(c, query, true))
    }

    fn search_runs_uncounted(&self, query: &RunQuery) -> Result<RunPage> {
        self.read(|c| rows::search(c, query, false))
    }

    fn set_status_as(
        &self,
        id: &str,
        status: RunStatus,
        exit_code: Option<i32>,
        end_time: Option<Millis>,
        user: Option<&str>,
    ) -> Result<()> {
        self.write(|tx| {
            let rid = active_rid_of(tx, id)?;
            let end = if status.is_terminal() { Some(end_time.unwrap_or_else(now_ms)) } else { None };
            tx.execute(
                "UPDATE runs SET status = ?1, exit_code = ?2, end_ms = ?3, updated_ms = ?4 WHERE rid = ?5",
                params![status.as_str(), exit_code, end, now_ms(), rid],
            )?;
            if status.is_terminal() {
                supervisors::remove(tx, rid)?;
            }
            let (owner, eid) = run_owner(tx, rid)?;
            // The event names who changed the status; the run's owner when nobody else did.
            let actor = user.filter(|u| !u.is_empty()).unwrap_or(&owner);
            let detail = exit_code.map(|c| serde_json::json!({"exit_code": c}));
            record_event(tx, &format!("run.{status}"), actor, Some(rid), Some(eid), detail)
        })
    }

    fn log_params(&self, id: &str, params_in: &[(String, String)]) -> Result<()> {
        self.write(|tx| {
            let rid = active_rid_of(tx, id)?;
            insert_params(tx, rid, id, params_in)?;
            touch(tx, rid)
        })
    }

    fn set_tags(&self, id: &str, tags: &[(String, String)], user: &str) -> Result<()> {
        self.write(|tx| {
            let rid = active_rid_of(tx, id)?;
            set_tags_of(tx, rid, tags, user)
        })
    }

    fn remove_tags(&self, id: &str, keys: &[String], user: &str) -> Result<()> {
        self.write(|tx| {
            let rid = active_rid_of(tx, id)?;
            for key in keys {
                let n = tx.execute(
                    "DELETE FROM tags WHERE rid = ?1 AND key = ?2",
                    params![rid, key],
                )?;
                if n == 0 {
                    return Err(KirokuError::NotFound(format!(
                        "run {id} has no tag '{key}'"
                    )));
                }
            }
            touch(tx, rid)?;
            let eid = run_owner(tx, rid)?.1;
            record_event(
                tx,
                "tag.removed",
                user,
                Some(rid),
                Some(eid),
                Some(serde_json::json!({"keys": keys})),
            )
        })
    }

    fn log_metrics(&self, id: &str, points: &[KeyedPoint]) -> Result<()> {
        if points.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            let rid = active_rid_of(tx, id)?;
            metrics::append(tx, rid, points)?;
            touch(tx, rid)
        })
    }

    fn metric_series(&self, id: &str, key: &str) -> Result<Vec<MetricPoint>> {
        self.read(|c| {
            let rid = rid_of(c, id)?;
            let exists: bool = c
                .prepare_cached("SELECT 1 FROM metric_summary WHERE rid = ?1 AND key = ?2")?
                .exists(params![rid, key])?;
            if !exists {
                return Err(KirokuError::NotFound(format!(
                    "run {id} has no metric '{key}'"
                )));
            }
            metrics::read_series(c, rid, key)
        })
    }

    fn add_note(&self, id: &str, note: &NewNote) -> Result<Note> {
        if note.body.trim().is_empty() {
            return Err(KirokuError::Invalid("the note is empty".into()));
        }
        limits::note_body(&note.body)?;
        let note_id = self.write(|tx| {
            let rid = rid_of(tx, id)?;
            insert_note(tx, id, rid, note)
        })?;
        self.notes(id)?
            .into_iter()
            .find(|n| n.id == note_id)
            .ok_or_else(|| KirokuError::Database(format!("note {note_id} vanished after insert")))
    }

    fn notes(&self, id: &str) -> Result<Vec<Note>> {
        self.read(|c| {
            let rid = rid_of(c, id)?;
            rows::notes(c, rid, id)
        })
    }

    fn edit_note(&self, id: &str, note_id: i64, body: &str, user: &str) -> Result<Note> {
        if body.trim().is_empty() {
            return Err(KirokuError::Invalid("the note is empty".into()));
        }
        limits::note_body(body)?;
        self.write(|tx| {
            let rid = own_note(tx, id, note_id, user, "edit")?;
            tx.execute(
                "UPDATE notes SET body = ?1, updated_ms = ?2 WHERE id = ?3",
                params![body, now_ms(), note_id],
            )?;
            let eid = run_owner(tx, rid)?.1;
            record_event(
                tx,
                "note.edited",
                user,
                Some(rid),
                Some(eid),
                Some(serde_json::json!({"note": note_id})),
            )
        })?;
        self.notes(id)?
            .into_iter()
            .find(|n| n.id == note_id)
            .ok_or_else(|| KirokuError::Database(format!("note {note_id} vanished after its edit")))
    }

    fn delete_note(&self, id: &str, note_id: i64, user: &str) -> Result<()> {
        self.write(|tx| {
            let rid = own_note(tx, id, note_id, user, "delete")?;
            tx.execute(
                "UPDATE notes SET reply_to = NULL WHERE reply_to = ?1",
                [note_id],
            )?;
            tx.execute("DELETE FROM notes WHERE id = ?1", [note_id])?;
            let eid = run_owner(tx, rid)?.1;
            record_event(
                tx,
                "note.deleted",
                user,
                Some(rid),
                Some(eid),
                Some(serde_json::json!({"note": note_id})),
            )
        })
    }

    fn set_star(&self, id: &str, user: &str, starred: bool) -> Result<bool> {
        self.write(|tx| {
            let rid = rid_of(tx, id)?;
            let changed = if starred {
                tx.execute(
                    "INSERT OR IGNORE INTO stars (rid, user, created_ms) VALUES (?1, ?2, ?3)",
                    params![rid, user, now_ms()],
                )?
            } else {
                tx.execute(
                    "DELETE FROM stars WHERE rid = ?1 AND user = ?2",
                    params![rid, user],
                )?
            } > 0;
            if changed {
                let eid = run_owner(tx, rid)?.1;
                record_event(
                    tx,
                    if starred {
                        "star.added"
                    } else {
                        "star.removed"
                    },
                    user,
                    Some(rid),
                    Some(eid),
                    None,
                )?;
            }
            Ok(changed)
        })
    }

    fn set_deleted(&self, id: &str, deleted: bool, user: &str) -> Result<()> {
        self.write(|tx| {
            let rid = rid_of(tx, id)?;
            let now = now_ms();
            tx.execute(
                "UPDATE runs SET deleted_ms = ?1, updated_ms = ?2 WHERE rid = ?3",
                params![deleted.then_some(now), now, rid],
            )?;
            let eid = run_owner(tx, rid)?.1;
            record_event(
                tx,
                if deleted {
                    "run.deleted"
                } else {
                    "run.restored"
                },
                user,
                Some(rid),
                Some(eid),
                None,
            )
        })
    }

    fn rename_run(&self, id: &str, name: &str, user: &str) -> Result<()> {
        let name = name.trim();
        if name.is_empty() {
            return Err(KirokuError::Invalid("run name is empty".into()));
        }
        limits::run_name(name)?;
        self.write(|tx| {
            let rid = active_rid_of(tx, id)?;
            rename_run_of(tx, rid, name, user)
        })
    }

    fn set_source(&self, id: &str, source: &RunSource) -> Result<()> {
        self.write(|tx| {
            let rid = rid_of(tx, id)?;
            tx.execute(
                "INSERT OR REPLACE INTO run_source (rid, git_commit, git_branch, git_dirty, git_diff, command, cwd)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    rid,
                    source.git_commit,
                    source.git_branch,
                    source.git_dirty,
                    source.git_diff,
                    serde_json::to_string(&source.command).unwrap_or_default(),
                    source.cwd
                ],
            )?;
            Ok(())
        })
    }

    fn set_environment(&self, id: &str, env: &[(String, String)]) -> Result<()> {
        self.write(|tx| {
            let rid = rid_of(tx, id)?;
            let mut stmt = tx.prepare_cached(
                "INSERT OR REPLACE INTO run_env (rid, name, value) VALUES (?1, ?2, ?3)",
            )?;
            for (name, value) in env.iter().filter(|(n, _)| !is_secret_name(n)) {
                stmt.execute(params![rid, name, value])?;
            }
            Ok(())
        })
    }

    fn add_artifact(&self, id: &str, artifact: &Artifact) -> Result<()> {
        self.write(|tx| {
            let rid = active_rid_of(tx, id)?;
            tx.execute(
                "INSERT OR REPLACE INTO artifacts (rid, path, size, hash, stored, location) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![rid, artifact.path, artifact.size, artifact.hash, artifact.stored, artifact.location],
            )?;
            Ok(())
        })
    }

    fn upload_artifact(
        &self,
        id: &str,
        path: &str,
        data: Box<dyn std::io::Read + Send>,
        location: Option<&str>,
    ) -> Result<Artifact> {
        self.upload_artifact_file(id, path, data, location)
    }

    fn delete_artifact(&self, id: &str, path: &str) -> Result<()> {
        self.delete_artifact_file(id, path)
    }

    fn add_input(&self, id: &str, input: &RunInput) -> Result<()> {
        self.write(|tx| {
            let rid = rid_of(tx, id)?;
            let d = &input.dataset;
            tx.execute(
                "INSERT INTO datasets (name, location, hash, size, rows, schema_json, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (name, hash) DO NOTHING",
                params![d.name, d.location, d.hash, d.size, d.rows, d.schema.as_ref().map(|s| s.to_string()), now_ms()],
            )?;
            let dataset_id: i64 =
                tx.query_row("SELECT id FROM datasets WHERE name = ?1 AND hash = ?2", params![d.name, d.hash], |r| r.get(0))?;
            tx.execute(
                "INSERT OR IGNORE INTO run_inputs (rid, dataset_id, context) VALUES (?1, ?2, ?3)",
                params![rid, dataset_id, input.context],
            )?;
            Ok(())
        })
    }

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

    fn supervised_runs(&self) -> Result<Vec<SupervisedRun>> {
        self.read(supervisors::running)
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
            if supervisors::running_checkpoint(tx, rid)? != Some(expected_offset) {
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
            supervisors::remove(tx, rid)?;
            let eid = run_owner(tx, rid)?.1;
            record_event(tx, "run.lost", user, Some(rid), Some(eid), None)?;
            Ok(true)
        })
    }
}
