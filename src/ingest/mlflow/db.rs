//! Reads MLflow's SQL tracking store from an `mlflow.db` SQLite file, opened read-only.
//!
//! Tables used: `experiments`, `experiment_tags`, `runs`, `params`, `tags`, `metrics`. MLflow's
//! SQL store keeps NaN as `is_nan = 1, value = 0` and ±inf as ±1.7976931348623157e308 (the
//! largest finite double); both are mapped back to NaN and ±inf here. A metric's history is
//! read in the order MLflow's `get_metric_history` reports it: by timestamp, step, value.
//!
//! The database is untrusted input like an `mlruns` folder: no value longer than
//! [`MAX_VALUE_BYTES`] is ever loaded (SQLite's own length limit is set on the connection, so
//! such a database is a clear error rather than gigabytes in memory), param and tag values are
//! cut to MLflow's limits with a warning, and `artifact_uri` values are resolved against the
//! tree beside the database (its `mlruns/` and `mlartifacts/` siblings, see `tree`) when
//! artifacts are imported: a location outside it is recorded as a reference, never copied.
use super::datasets::MlflowDataset;
use super::report::ImportReport;
use super::{
    artifact_candidates, cut_to_chars, parse_status, SourceExperiment, SourceRun,
    MAX_EXPERIMENT_TAG_VALUE_CHARS, MAX_PARAM_VALUE_CHARS, MAX_TAG_VALUE_CHARS,
};
use crate::error::{KirokuError, Result};
use crate::model::KeyedPoint;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// The longest text or blob read from the database. MLflow's largest values the import reads
/// are experiment tag values (20,000 characters); anything longer makes SQLite refuse the row.
pub const MAX_VALUE_BYTES: i32 = 1 << 20;

pub struct MlflowDb {
    conn: Connection,
    path: PathBuf,
    /// Whether `metrics` has the `step` and `is_nan` columns (added in MLflow 1.x migrations).
    has_step: bool,
    has_is_nan: bool,
}

/// Text of an SQL value (ids are integers in the experiments table, strings elsewhere).
fn text(v: Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::Integer(i) => Some(i.to_string()),
        Value::Real(f) => Some(f.to_string()),
        Value::Text(s) => Some(s),
        Value::Blob(b) => Some(String::from_utf8_lossy(&b).into_owned()),
    }
}

/// MLflow's stored metric value back to the logged one.
pub fn metric_value(value: f64, is_nan: bool) -> f64 {
    if is_nan {
        f64::NAN
    } else if value == f64::MAX {
        f64::INFINITY
    } else if value == -f64::MAX {
        f64::NEG_INFINITY
    } else {
        value
    }
}

impl MlflowDb {
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| KirokuError::Invalid(format!("cannot open {}: {e}", path.display())))?;
        // SAFETY: the handle is the live connection's own, used on this thread only, and
        // sqlite3_limit only sets a number on it.
        unsafe {
            rusqlite::ffi::sqlite3_limit(
                conn.handle(),
                rusqlite::ffi::SQLITE_LIMIT_LENGTH,
                MAX_VALUE_BYTES,
            );
        }
        let mut db = MlflowDb {
            conn,
            path: path.to_path_buf(),
            has_step: true,
            has_is_nan: true,
        };
        for table in ["experiments", "runs", "params", "tags", "metrics"] {
            if db.columns(table)?.is_empty() {
                return Err(KirokuError::Invalid(format!(
                    "{} is an SQLite database but not an MLflow tracking store (no '{table}' table)",
                    path.display()
                )));
            }
        }
        let metric_columns = db.columns("metrics")?;
        db.has_step = metric_columns.contains("step");
        db.has_is_nan = metric_columns.contains("is_nan");
        Ok(db)
    }

    /// The open database, for the readers of other tables (`registry`).
    pub(super) fn connection(&self) -> &Connection {
        &self.conn
    }

    pub(super) fn columns(&self, table: &str) -> Result<HashSet<String>> {
        let mut stmt = self
            .conn
            .prepare(&format!("PRAGMA table_info(\"{table}\")"))?;
        let names = stmt
            .query_map([], |r| r.get::<_, String>(1))?
            .collect::<rusqlite::Result<HashSet<_>>>()?;
        Ok(names)
    }

    pub(super) fn err(&self, e: rusqlite::Error) -> KirokuError {
        if e.sqlite_error_code() == Some(rusqlite::ErrorCode::TooBig) {
            return KirokuError::Invalid(format!(
                "{} holds a value longer than {MAX_VALUE_BYTES} bytes, which MLflow never writes; not imported",
                self.path.display()
            ));
        }
        KirokuError::Database(format!("reading {}: {e}", self.path.display()))
    }

    /// (owner id, key, value) rows of a key/value table, grouped by owner, in key order. Values
    /// longer than `max_chars` are cut to it with a warning naming `what`.
    fn key_values(
        &self,
        sql: &str,
        what: &str,
        max_chars: usize,
        report: &mut ImportReport,
    ) -> Result<HashMap<String, Vec<(String, String)>>> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((text(r.get(0)?), text(r.get(1)?), text(r.get(2)?)))
            })
            .map_err(|e| self.err(e))?;
        let mut out: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for row in rows {
            let (owner, key, value) = row.map_err(|e| self.err(e))?;
            if let (Some(owner), Some(key)) = (owner, key) {
                let mut value = value.unwrap_or_default();
                if cut_to_chars(&mut value, max_chars) {
                    report.values_truncated += 1;
                    report.warn(format!(
                        "{}: {what} {} of {owner}: the value is longer than {max_chars} characters; cut to that length",
                        self.path.display(),
                        super::excerpt(&key)
                    ));
                }
                out.entry(owner).or_default().push((key, value));
            }
        }
        Ok(out)
    }

    /// The `log_input` datasets of every run, by run id, in the order logged (none in a
    /// database older than MLflow 2.4, which has no `inputs` table).
    fn dataset_inputs(&self) -> Result<HashMap<String, Vec<MlflowDataset>>> {
        if self.columns("inputs")?.is_empty() || self.columns("datasets")?.is_empty() {
            return Ok(HashMap::new());
        }
        let mut tags: HashMap<String, Vec<(String, String)>> = HashMap::new();
        if !self.columns("input_tags")?.is_empty() {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT input_uuid, name, value FROM input_tags ORDER BY input_uuid, rowid",
                )
                .map_err(|e| self.err(e))?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((text(r.get(0)?), text(r.get(1)?), text(r.get(2)?)))
                })
                .map_err(|e| self.err(e))?;
            for row in rows {
                if let (Some(input), Some(name), value) = row.map_err(|e| self.err(e))? {
                    tags.entry(input)
                        .or_default()
                        .push((name, value.unwrap_or_default()));
                }
            }
        }
        let sql =
            "SELECT i.destination_id, d.name, d.digest, d.dataset_source_type, d.dataset_source,
                d.dataset_schema, d.dataset_profile, i.input_uuid
             FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id
             WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN'
             ORDER BY i.destination_id, i.rowid";
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    text(r.get(0)?),
                    MlflowDataset {
                        name: text(r.get(1)?).unwrap_or_default(),
                        digest: text(r.get(2)?).unwrap_or_default(),
                        source_type: text(r.get(3)?).unwrap_or_default(),
                        source: text(r.get(4)?).unwrap_or_default(),
                        schema: text(r.get(5)?),
                        profile: text(r.get(6)?),
                        tags: text(r.get(7)?)
                            .and_then(|input| tags.get(&input).cloned())
                            .unwrap_or_default(),
                    },
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out: HashMap<String, Vec<MlflowDataset>> = HashMap::new();
        for row in rows {
            if let (Some(run), dataset) = row.map_err(|e| self.err(e))? {
                out.entry(run).or_default().push(dataset);
            }
        }
        Ok(out)
    }

    /// Every experiment with its runs (params and tags included, metrics read later). Relative
    /// artifact locations are taken from `base`, the folder holding the database (canonical).
    pub fn read(&self, base: &Path, report: &mut ImportReport) -> Result<Vec<SourceExperiment>> {
        let experiment_tags = if self.columns("experiment_tags")?.is_empty() {
            HashMap::new()
        } else {
            self.key_values(
                "SELECT experiment_id, \"key\", value FROM experiment_tags ORDER BY experiment_id, \"key\"",
                "experiment tag",
                MAX_EXPERIMENT_TAG_VALUE_CHARS,
                report,
            )?
        };
        let params = self.key_values(
            "SELECT run_uuid, \"key\", value FROM params ORDER BY run_uuid, \"key\"",
            "param",
            MAX_PARAM_VALUE_CHARS,
            report,
        )?;
        let tags = self.key_values(
            "SELECT run_uuid, \"key\", value FROM tags ORDER BY run_uuid, \"key\"",
            "tag",
            MAX_TAG_VALUE_CHARS,
            report,
        )?;

        let mut datasets = self.dataset_inputs()?;
        let mut experiments: BTreeMap<i64, SourceExperiment> = BTreeMap::new();
        let mut order_key: HashMap<String, i64> = HashMap::new();
        {
            // `creation_time` and `last_update_time` came with MLflow 2.2.
            let columns = self.columns("experiments")?;
            let time = |column: &str| {
                if columns.contains(column) {
                    column.to_string()
                } else {
                    "NULL".to_string()
                }
            };
            let mut stmt = self
                .conn
                .prepare(&format!(
                    "SELECT experiment_id, name, lifecycle_stage, {}, {} FROM experiments ORDER BY experiment_id",
                    time("creation_time"),
                    time("last_update_time")
                ))
                .map_err(|e| self.err(e))?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        text(r.get(0)?),
                        text(r.get(1)?),
                        text(r.get(2)?),
                        r.get::<_, Value>(3)?,
                        r.get::<_, Value>(4)?,
                    ))
                })
                .map_err(|e| self.err(e))?;
            let millis = |v: Value| match v {
                Value::Integer(i) => Some(i),
                _ => None,
            };
            for (n, row) in rows.enumerate() {
                let (id, name, stage, created, updated) = row.map_err(|e| self.err(e))?;
                let (Some(id), Some(name)) = (id, name) else {
                    continue;
                };
                let sort = id.parse::<i64>().unwrap_or(i64::MAX - 1_000_000 + n as i64);
                order_key.insert(id.clone(), sort);
                experiments.insert(
                    sort,
                    SourceExperiment {
                        tags: experiment_tags.get(&id).cloned().unwrap_or_default(),
                        id,
                        name,
                        deleted: stage.as_deref() == Some("deleted"),
                        created_ms: millis(created),
                        updated_ms: millis(updated),
                        runs: Vec::new(),
                    },
                );
            }
        }

        let mut stmt = self
            .conn
            .prepare(
                "SELECT run_uuid, name, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri, experiment_id
                 FROM runs ORDER BY start_time, run_uuid",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    text(r.get(0)?),
                    text(r.get(1)?),
                    text(r.get(2)?),
                    text(r.get(3)?),
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, Option<i64>>(5)?,
                    text(r.get(6)?),
                    text(r.get(7)?),
                    text(r.get(8)?),
                ))
            })
            .map_err(|e| self.err(e))?;
        for row in rows {
            let (id, name, user, status, start, end, stage, artifact_uri, experiment_id) =
                row.map_err(|e| self.err(e))?;
            let Some(id) = id else { continue };
            let Some(exp) = experiment_id
                .as_ref()
                .and_then(|e| order_key.get(e))
                .and_then(|k| experiments.get_mut(k))
            else {
                report.warn(format!(
                    "{}: run {id} belongs to experiment {} which does not exist; skipped",
                    self.path.display(),
                    experiment_id.unwrap_or_default()
                ));
                continue;
            };
            let status = match status {
                None => None,
                Some(raw) => {
                    let parsed = parse_status(&raw);
                    if parsed.is_none() {
                        report.warn(format!(
                            "{}: run {id} has unknown status '{}'; imported as running",
                            self.path.display(),
                            super::excerpt(&raw)
                        ));
                    }
                    parsed
                }
            };
            let artifact_dirs = artifact_uri
                .as_deref()
                .map(|u| artifact_candidates(u, base))
                .unwrap_or_default();
            exp.runs.push(SourceRun {
                datasets: datasets.remove(&id).unwrap_or_default(),
                params: params.get(&id).cloned().unwrap_or_default(),
                tags: tags.get(&id).cloned().unwrap_or_default(),
                id,
                name: name.filter(|n| !n.is_empty()),
                user: user.filter(|u| !u.is_empty()),
                status,
                start_time: start,
                end_time: end,
                deleted: stage.as_deref() == Some("deleted"),
                artifact_uri,
                artifact_dirs,
                folder: None,
            });
        }
        Ok(experiments.into_values().collect())
    }

    /// Streams the run's points key by key, each key in MLflow's history order.
    pub fn for_each_point(
        &self,
        run_id: &str,
        f: &mut dyn FnMut(KeyedPoint) -> Result<()>,
    ) -> Result<()> {
        let step = if self.has_step { "step" } else { "0" };
        let is_nan = if self.has_is_nan { "is_nan" } else { "0" };
        let sql = format!(
            "SELECT \"key\", value, timestamp, {step}, {is_nan} FROM metrics WHERE run_uuid = ?1
             ORDER BY \"key\", timestamp, {step}, value, {is_nan}"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let mut rows = stmt.query([run_id]).map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let key: String = r.get(0).map_err(|e| self.err(e))?;
            let value: Option<f64> = r.get(1).map_err(|e| self.err(e))?;
            let timestamp: Option<i64> = r.get(2).map_err(|e| self.err(e))?;
            let step: Option<i64> = r.get(3).map_err(|e| self.err(e))?;
            let nan: Option<i64> = r.get(4).map_err(|e| self.err(e))?;
            let value = metric_value(value.unwrap_or(f64::NAN), nan.unwrap_or(0) != 0);
            f(KeyedPoint {
                key,
                step: step.unwrap_or(0),
                timestamp: timestamp.unwrap_or(0),
                value,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_values_map_back() {
        assert!(metric_value(0.0, true).is_nan());
        assert_eq!(metric_value(1.7976931348623157e308, false), f64::INFINITY);
        assert_eq!(
            metric_value(-1.7976931348623157e308, false),
            f64::NEG_INFINITY
        );
        assert_eq!(metric_value(0.25, false), 0.25);
    }
}
