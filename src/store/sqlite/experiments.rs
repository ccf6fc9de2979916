//! Experiments in SQLite: lookups by name or id, creation (also on a run's first use of a
//! name), renames, soft deletion with their runs, and tags.
use super::events::record_event;
use super::SqliteStore;
use crate::error::{KirokuError, Result};
use crate::limits;
use crate::mlflow_names::{DEFAULT_EXPERIMENT, NOTE_TAG as EXPERIMENT_DESCRIPTION_TAG};
use crate::model::*;
use crate::store::ExperimentStore;
use rusqlite::{params, Connection, OptionalExtension, ToSql};
use std::collections::{BTreeMap, HashMap};

/// The experiments matching `condition` (SQL over `e`, with `args`), by name, with their tags.
fn read_experiments(
    conn: &Connection,
    condition: &str,
    args: &[&dyn ToSql],
) -> Result<Vec<Experiment>> {
    let sql = format!(
        "SELECT e.id, e.name, e.description, e.deleted, e.created_ms, e.updated_ms,
                (SELECT count(*) FROM runs r WHERE r.experiment_id = e.id AND r.deleted_ms IS NULL)
         FROM experiments e WHERE {condition} ORDER BY e.name"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(args, |r| {
        Ok(Experiment {
            id: r.get(0)?,
            name: r.get(1)?,
            description: r.get(2)?,
            deleted: r.get::<_, i64>(3)? != 0,
            created_ms: r.get(4)?,
            updated_ms: r.get(5)?,
            run_count: r.get::<_, i64>(6)? as u64,
            tags: BTreeMap::new(),
        })
    })?;
    let mut found: Vec<Experiment> = rows.collect::<rusqlite::Result<_>>()?;
    // Experiments are few and tags fewer: one pass over the tag table.
    let mut tags = conn.prepare_cached(
        "SELECT experiment_id, key, value FROM experiment_tags ORDER BY experiment_id",
    )?;
    let by_id: HashMap<i64, usize> = found.iter().enumerate().map(|(i, e)| (e.id, i)).collect();
    for row in tags.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?)))? {
        let (id, key, value): (i64, String, String) = row?;
        if let Some(&i) = by_id.get(&id) {
            found[i].tags.insert(key, value);
        }
    }
    Ok(found)
}

/// The experiment named `name_or_id`, else the one whose numeric id it is.
fn experiment_by_ref(conn: &Connection, name_or_id: &str) -> Result<Option<Experiment>> {
    let by_name = read_experiments(conn, "e.name = ?1", &[&name_or_id])?
        .into_iter()
        .next();
    if by_name.is_some() {
        return Ok(by_name);
    }
    match name_or_id.parse::<i64>() {
        Ok(id) => Ok(read_experiments(conn, "e.id = ?1", &[&id])?
            .into_iter()
            .next()),
        Err(_) => Ok(None),
    }
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

/// The id of the experiment named `name`, created when missing (a run's first use of a
/// name); a deleted one is refused rather than revived.
pub(super) fn get_or_create_experiment(conn: &Connection, name: &str, user: &str) -> Result<i64> {
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

/// Creates the experiment `name` (trimmed, checked) now and records who did. `Default` takes
/// MLflow's id 0 when it is free, so that kiroku's own `Default` is MLflow's `"0"` and an
/// imported MLflow store's ids line up with kiroku's.
fn insert_experiment(conn: &Connection, name: &str, user: &str) -> Result<i64> {
    let now = now_ms();
    let id = (name.trim() == DEFAULT_EXPERIMENT).then_some(0);
    insert_experiment_as(conn, name, id, now, now, user)
}

/// Whether an experiment holds the id `id`.
fn id_taken(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM experiments WHERE id = ?1")?
        .query_row([id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Creates the experiment `name` with the id `wanted` when no experiment holds it (else the
/// next free one) and the given times, and records who did.
fn insert_experiment_as(
    conn: &Connection,
    name: &str,
    wanted: Option<i64>,
    created_ms: Millis,
    updated_ms: Millis,
    user: &str,
) -> Result<i64> {
    let name = name.trim();
    limits::experiment_name(name)?;
    let id = match wanted {
        Some(id) if id >= 0 && !id_taken(conn, id)? => Some(id),
        _ => None,
    };
    conn.execute(
        "INSERT INTO experiments (id, name, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4)",
        params![id, name, created_ms, updated_ms],
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

impl ExperimentStore for SqliteStore {
    fn experiments(&self, include_deleted: bool) -> Result<Vec<Experiment>> {
        self.read(|c| {
            read_experiments(
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
                let name = name.trim();
                let state = if deleted {
                    format!(" (deleted: `kiroku exp restore {name}` brings it back)")
                } else {
                    String::new()
                };
                return Err(KirokuError::Conflict(format!(
                    "experiment '{name}' already exists{state}"
                )));
            }
            insert_experiment(tx, name, user)
        })?;
        self.read(|c| read_experiments(c, "e.id = ?1", &[&id]))?
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
        self.delete_experiment_at(name_or_id, now_ms(), user)
    }

    fn delete_experiment_at(&self, name_or_id: &str, at: Millis, user: &str) -> Result<()> {
        self.write(|tx| {
            let e = experiment_by_ref(tx, name_or_id)?
                .ok_or_else(|| KirokuError::NotFound(format!("no experiment named '{name_or_id}'")))?;
            tx.execute("UPDATE experiments SET deleted = 1, updated_ms = ?1 WHERE id = ?2", params![at, e.id])?;
            // Deleted at the experiment's instant: `restore_experiment` brings back these runs.
            tx.execute(
                "UPDATE runs SET deleted_ms = ?1, updated_ms = ?2 WHERE experiment_id = ?3 AND deleted_ms IS NULL",
                params![at, now_ms(), e.id],
            )?;
            record_event(tx, "experiment.deleted", user, None, Some(e.id), Some(serde_json::json!({"name": e.name})))
        })
    }

    fn import_experiment(&self, new: &ImportedExperiment, user: &str) -> Result<Experiment> {
        let id = self.write(|tx| {
            if experiment_id_by_name(tx, new.name.trim())?.is_some() {
                return Err(KirokuError::Conflict(format!(
                    "experiment '{}' already exists",
                    new.name
                )));
            }
            let now = now_ms();
            let created = new.created_ms.unwrap_or(now);
            insert_experiment_as(
                tx,
                &new.name,
                new.id,
                created,
                new.updated_ms.unwrap_or(created),
                user,
            )
        })?;
        self.read(|c| read_experiments(c, "e.id = ?1", &[&id]))?
            .pop()
            .ok_or_else(|| KirokuError::Database(format!("experiment {id} vanished after insert")))
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
}
