//! Runs in SQLite: creation (with the run's folder), status, params (immutable), tags, names,
//! soft deletion, source, environment and inputs, and the lookups and searches over runs.
use super::events::record_event;
use super::experiments::get_or_create_experiment;
use super::{active_rid_of, rid_of, run_owner, run_rows, supervision, touch, SqliteStore};
use crate::error::{KirokuError, Result};
use crate::ids;
use crate::limits;
use crate::model::*;
use crate::store::{is_secret_name, RunStore, Store};
use rusqlite::{params, Connection, OptionalExtension};

impl SqliteStore {
    /// Creates a run, with the record of its supervisor when given, in one transaction.
    pub(super) fn create_run_with(
        &self,
        new: &NewRun,
        supervisor: Option<&Supervisor>,
    ) -> Result<Run> {
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
                supervision::insert(tx, rid, s)?;
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
        // Only the run (not its source, notes, artifacts…, which a new run has none of yet).
        self.read(|c| run_rows::load_run(c, rid_of(c, &id)?))
    }
}

/// Parses a param value as a number when the whole text is one (finite).
pub fn param_number(value: &str) -> Option<f64> {
    crate::query::parse_decimal(value.trim())
}

/// Adds params to a run; a key logged again must keep its value (params are immutable).
pub(super) fn insert_params(
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
        validate_kiroku_key("param", key)?;
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

/// Sets tags of a run (last write wins), without an event.
fn upsert_tags(conn: &Connection, rid: i64, tags: &[(String, String)]) -> Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO tags (rid, key, value) VALUES (?1, ?2, ?3) ON CONFLICT (rid, key) DO UPDATE SET value = excluded.value",
    )?;
    for (key, value) in tags {
        validate_kiroku_key("tag", key)?;
        stmt.execute(params![rid, key, value])?;
    }
    Ok(())
}

/// Sets tags of an active run and records who did.
pub(super) fn set_tags_of(
    conn: &Connection,
    rid: i64,
    tags: &[(String, String)],
    user: &str,
) -> Result<()> {
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
pub(super) fn rename_run_of(conn: &Connection, rid: i64, name: &str, user: &str) -> Result<()> {
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

impl RunStore for SqliteStore {
    fn create_run(&self, new: &NewRun) -> Result<Run> {
        self.create_run_with(new, None)
    }

    fn resolve_run(&self, reference: &str) -> Result<String> {
        let reference = reference.trim();
        if reference.is_empty() {
            return Err(KirokuError::Invalid("empty run reference".into()));
        }
        self.read_run(reference, |c| run_rows::resolve_run(c, reference))
    }

    fn run(&self, id: &str) -> Result<RunDetail> {
        let mut detail = self.read_run(id, |c| {
            let rid = rid_of(c, id)?;
            run_rows::run_detail(c, rid)
        })?;
        detail.run_dir = self.run_dir(id).map(|p| p.display().to_string());
        Ok(detail)
    }

    fn search_runs(&self, query: &RunQuery) -> Result<RunPage> {
        self.read(|c| run_rows::search(c, query, true))
    }

    fn search_runs_uncounted(&self, query: &RunQuery) -> Result<RunPage> {
        self.read(|c| run_rows::search(c, query, false))
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
                supervision::remove(tx, rid)?;
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

    fn logged_inputs(&self, ids: &[String]) -> Result<Vec<Vec<LoggedInput>>> {
        self.read(|conn| {
            let any: bool = conn
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM run_inputs)")?
                .query_row([], |r| r.get(0))?;
            ids.iter()
                .map(|id| match rid_of(conn, id) {
                    Ok(rid) if any => run_rows::read_logged_inputs(conn, rid),
                    Ok(_) | Err(KirokuError::NotFound(_)) => Ok(Vec::new()),
                    Err(e) => Err(e),
                })
                .collect()
        })
    }

    fn add_input(&self, id: &str, input: &LoggedInput) -> Result<()> {
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
            let mlflow = input.mlflow.as_ref().map(|m| serde_json::json!(m).to_string());
            tx.execute(
                "INSERT OR IGNORE INTO run_inputs (rid, dataset_id, context, mlflow_json) VALUES (?1, ?2, ?3, ?4)",
                params![rid, dataset_id, input.context, mlflow],
            )?;
            Ok(())
        })
    }
}
