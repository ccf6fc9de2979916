//! `ModelStore` in SQLite (schema v8): `logged_models` with their tags and params, the registry
//! (`registered_models`, `model_versions`, their tag tables, `model_aliases`) and the
//! append-only `alias_moves`.
//!
//! Every registering write and every alias move is one write transaction that records its
//! activity event (`model.registered`, `model.version_created`, `model.alias_set`,
//! `model.alias_deleted`, `model.renamed`, `model.deleted`, `model.version_deleted`) and, for an
//! alias, appends its move to the history. Numbering a version takes the model's `next_version`
//! in the same transaction, so concurrent registrations never share a number. Searches are one SQL
//! query each (`registry_filter` turns MLflow's filter into its condition), paged by offset.
use super::events::record_event;
use super::logged_model_filter;
use super::registry_filter::{next_page, page_offset, Field, Grammar};
use super::SqliteStore;
use crate::error::{KirokuError, Result};
use crate::limits;
use crate::model::now_ms;
use crate::model::promotions::{NewDelivery, RemovalHooks};
use crate::model::registry::*;
use crate::store::ModelStore;
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

/// MLflow's page sizes: registered models default to 100 (at most 1,000), versions to 10,000
/// (at most 200,000), logged models to 100.
const MODELS_PAGE: u32 = 100;
const MODELS_PAGE_MAX: u32 = 1000;
const VERSIONS_PAGE: u32 = 10_000;
const VERSIONS_PAGE_MAX: u32 = 200_000;
const LOGGED_PAGE: u32 = 100;
const LOGGED_PAGE_MAX: u32 = 1000;

const MODEL_GRAMMAR: Grammar = Grammar {
    what: "registered models",
    fields: &[
        Field {
            name: "name",
            aliases: &[],
            column: "m.name",
            numeric: false,
        },
        Field {
            name: "creation_timestamp",
            aliases: &["creation_time"],
            column: "m.created_ms",
            numeric: true,
        },
        Field {
            name: "last_updated_timestamp",
            aliases: &["last_updated_time", "timestamp"],
            column: "m.updated_ms",
            numeric: true,
        },
    ],
    tag_exists: Some(
        "m.mid IN (SELECT t.mid FROM registered_model_tags t WHERE t.key = ? AND {op})",
    ),
};

const VERSION_GRAMMAR: Grammar = Grammar {
    what: "model versions",
    fields: &[
        Field {
            name: "name",
            aliases: &[],
            column: "m.name",
            numeric: false,
        },
        Field {
            name: "version_number",
            aliases: &["version"],
            column: "v.version",
            numeric: true,
        },
        Field {
            name: "run_id",
            aliases: &[],
            column: "v.run_id",
            numeric: false,
        },
        Field {
            name: "source_path",
            aliases: &["source"],
            column: "v.source",
            numeric: false,
        },
        Field {
            name: "model_id",
            aliases: &[],
            column: "v.model_id",
            numeric: false,
        },
        Field {
            name: "current_stage",
            aliases: &[],
            column: "v.stage",
            numeric: false,
        },
        Field {
            name: "creation_timestamp",
            aliases: &["creation_time"],
            column: "v.created_ms",
            numeric: true,
        },
        Field {
            name: "last_updated_timestamp",
            aliases: &["last_updated_time", "timestamp"],
            column: "v.updated_ms",
            numeric: true,
        },
    ],
    tag_exists: Some("v.vid IN (SELECT t.vid FROM model_version_tags t WHERE t.key = ? AND {op})"),
};

/// Logged models' attributes, for their `order_by` (their filter is `logged_model_filter`'s).
const LOGGED_GRAMMAR: Grammar = Grammar {
    what: "logged models",
    fields: &[
        Field {
            name: "name",
            aliases: &[],
            column: "l.name",
            numeric: false,
        },
        Field {
            name: "model_id",
            aliases: &[],
            column: "l.model_id",
            numeric: false,
        },
        Field {
            name: "source_run_id",
            aliases: &[],
            column: "l.source_run_id",
            numeric: false,
        },
        Field {
            name: "model_type",
            aliases: &[],
            column: "l.model_type",
            numeric: false,
        },
        Field {
            name: "status",
            aliases: &[],
            column: "l.status",
            numeric: false,
        },
        Field {
            name: "creation_timestamp",
            aliases: &["creation_time", "creation_timestamp_ms"],
            column: "l.created_ms",
            numeric: true,
        },
        Field {
            name: "last_updated_timestamp",
            aliases: &["last_updated_timestamp_ms"],
            column: "l.updated_ms",
            numeric: true,
        },
    ],
    tag_exists: None,
};

fn model_missing(name: &str) -> KirokuError {
    KirokuError::NotFound(format!("Registered Model with name={name} not found"))
}

fn version_missing(name: &str, version: i64) -> KirokuError {
    KirokuError::NotFound(format!(
        "Model Version (name={name}, version={version}) not found"
    ))
}

fn logged_missing(model_id: &str) -> KirokuError {
    KirokuError::NotFound(format!("Logged model with ID '{model_id}' not found."))
}

/// A registered model's name: not blank, at most 256 characters, no `/` (MLflow's rule; it
/// would break `models:/NAME/VERSION`).
fn check_model_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(KirokuError::Invalid(
            "Registered model name cannot be empty.".into(),
        ));
    }
    if name.contains('/') {
        return Err(KirokuError::Invalid(format!(
            "Invalid model name: '{name}'. Names cannot contain '/'."
        )));
    }
    if name.chars().count() > 256 {
        return Err(KirokuError::Invalid(format!(
            "Registered model name '{}…' is longer than 256 characters.",
            name.chars().take(40).collect::<String>()
        )));
    }
    Ok(())
}

fn check_alias(alias: &str) -> Result<()> {
    match alias_name_problem(alias) {
        Some(problem) => Err(KirokuError::Invalid(problem)),
        None => Ok(()),
    }
}

fn check_tag(key: &str, value: &str) -> Result<()> {
    if key.is_empty() {
        return Err(KirokuError::Invalid("a tag key cannot be empty".into()));
    }
    limits::tag_value(key, value)
}

/// The internal id of a registered model.
fn mid_of(conn: &Connection, name: &str) -> Result<i64> {
    conn.prepare_cached("SELECT mid FROM registered_models WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?
        .ok_or_else(|| model_missing(name))
}

/// The internal ids of a model and one of its versions.
fn vid_of(conn: &Connection, name: &str, version: i64) -> Result<(i64, i64)> {
    conn.prepare_cached(
        "SELECT m.mid, v.vid FROM registered_models m JOIN model_versions v ON v.mid = m.mid
         WHERE m.name = ?1 AND v.version = ?2",
    )?
    .query_row(params![name, version], |r| Ok((r.get(0)?, r.get(1)?)))
    .optional()?
    .ok_or_else(|| version_missing(name, version))
}

/// A run's row id and experiment, for the events that name it (`None` for unknown runs).
fn run_of(conn: &Connection, run_id: Option<&str>) -> Result<(Option<i64>, Option<i64>)> {
    let Some(id) = run_id else {
        return Ok((None, None));
    };
    let found = conn
        .prepare_cached("SELECT rid, experiment_id FROM runs WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(found.map_or((None, None), |(rid, exp)| (Some(rid), Some(exp))))
}

/// Key/value rows of a tag or param table for one owner.
fn pairs(
    conn: &Connection,
    table: &str,
    owner: &str,
    id: &Value,
) -> Result<BTreeMap<String, String>> {
    let sql = format!("SELECT key, value FROM {table} WHERE {owner} = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

// ---------------------------------------------------------------------------------------------
// logged models

const LOGGED_COLUMNS: &str = "l.model_id, l.experiment_id, l.name, l.source_run_id, l.status,
    l.status_message, l.model_type, l.user, l.created_ms, l.updated_ms, l.deleted_ms";

fn logged_of_row(r: &Row) -> rusqlite::Result<LoggedModel> {
    let model_id: String = r.get(0)?;
    let experiment_id: i64 = r.get(1)?;
    let status: String = r.get(4)?;
    Ok(LoggedModel {
        artifact_location: format!("mlflow-artifacts:/{experiment_id}/models/{model_id}/artifacts"),
        model_id,
        experiment_id,
        name: r.get(2)?,
        source_run_id: r.get(3)?,
        status: status
            .parse()
            .map_err(|e: String| super::jobs::conversion_failure(4, e))?,
        status_message: r.get(5)?,
        model_type: r.get(6)?,
        user: r.get(7)?,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
        deleted: r.get::<_, Option<i64>>(10)?.is_some(),
        tags: BTreeMap::new(),
        params: BTreeMap::new(),
        metrics: Vec::new(),
    })
}

fn with_logged_pairs(conn: &Connection, mut model: LoggedModel) -> Result<LoggedModel> {
    let id = Value::Text(model.model_id.clone());
    model.tags = pairs(conn, "logged_model_tags", "model_id", &id)?;
    model.params = pairs(conn, "logged_model_params", "model_id", &id)?;
    model.metrics = logged_metrics(conn, &model.model_id)?;
    Ok(model)
}

/// The metrics logged against a logged model, in the order logged.
fn logged_metrics(conn: &Connection, model_id: &str) -> Result<Vec<LoggedModelMetric>> {
    let mut stmt = conn.prepare_cached(
        "SELECT key, value, ts_ms, step, run_id, dataset_name, dataset_digest
         FROM logged_model_metrics WHERE model_id = ?1 ORDER BY seq",
    )?;
    let rows = stmt.query_map([model_id], |r| {
        Ok(LoggedModelMetric {
            model_id: model_id.to_string(),
            key: r.get(0)?,
            value: r.get::<_, Option<f64>>(1)?.unwrap_or(f64::NAN),
            timestamp: r.get(2)?,
            step: r.get(3)?,
            run_id: r.get(4)?,
            dataset_name: r.get(5)?,
            dataset_digest: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Appends metric values to logged models (each must exist and not be deleted).
fn write_logged_metrics(conn: &Connection, metrics: &[LoggedModelMetric]) -> Result<()> {
    for m in metrics {
        if m.key.is_empty() {
            return Err(KirokuError::Invalid("a metric key cannot be empty".into()));
        }
        conn.prepare_cached(
            "INSERT INTO logged_model_metrics (model_id, key, value, ts_ms, step, run_id, dataset_name, dataset_digest)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            m.model_id,
            m.key,
            // SQLite keeps no NaN (it reads back as NULL, and NULL back as NaN).
            (!m.value.is_nan()).then_some(m.value),
            m.timestamp,
            m.step,
            m.run_id,
            m.dataset_name,
            m.dataset_digest
        ])?;
    }
    Ok(())
}

fn read_logged(conn: &Connection, model_id: &str, allow_deleted: bool) -> Result<LoggedModel> {
    let sql = format!("SELECT {LOGGED_COLUMNS} FROM logged_models l WHERE l.model_id = ?1");
    let model = conn
        .prepare_cached(&sql)?
        .query_row([model_id], logged_of_row)
        .optional()?
        .filter(|m| allow_deleted || !m.deleted)
        .ok_or_else(|| logged_missing(model_id))?;
    with_logged_pairs(conn, model)
}

/// A logged model that may take writes (exists, not deleted).
fn live_logged(conn: &Connection, model_id: &str) -> Result<()> {
    read_logged(conn, model_id, false).map(|_| ())
}

fn touch_logged(conn: &Connection, model_id: &str) -> Result<()> {
    conn.prepare_cached("UPDATE logged_models SET updated_ms = ?1 WHERE model_id = ?2")?
        .execute(params![now_ms(), model_id])?;
    Ok(())
}

fn write_logged_params(
    conn: &Connection,
    model_id: &str,
    params: &BTreeMap<String, String>,
) -> Result<()> {
    for (key, value) in params {
        if key.is_empty() {
            return Err(KirokuError::Invalid("a param key cannot be empty".into()));
        }
        limits::param_value(key, value)?;
        let existing: Option<String> = conn
            .prepare_cached(
                "SELECT value FROM logged_model_params WHERE model_id = ?1 AND key = ?2",
            )?
            .query_row(params![model_id, key], |r| r.get(0))
            .optional()?;
        match existing {
            Some(old) if &old == value => {}
            Some(old) => {
                return Err(KirokuError::Conflict(format!(
                    "Changing param values is not allowed. Param with key='{key}' was already logged with value='{old}' for logged model ID='{model_id}'. Attempted logging new value '{value}'."
                )))
            }
            None => {
                conn.prepare_cached(
                    "INSERT INTO logged_model_params (model_id, key, value) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![model_id, key, value])?;
            }
        }
    }
    Ok(())
}

fn write_logged_tags(
    conn: &Connection,
    model_id: &str,
    tags: &BTreeMap<String, String>,
) -> Result<()> {
    for (key, value) in tags {
        check_tag(key, value)?;
        conn.prepare_cached(
            "INSERT OR REPLACE INTO logged_model_tags (model_id, key, value) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![model_id, key, value])?;
    }
    Ok(())
}

/// A logged model's name when none is given: MLflow's style of two words and a number.
fn generated_name(model_id: &str) -> String {
    crate::ids::friendly_name(model_id.trim_start_matches("m-"))
}

fn search_logged(conn: &Connection, q: &LoggedModelQuery) -> Result<LoggedModelPage> {
    let condition = logged_model_filter::condition(q.filter.as_deref())?;
    let limit = page_limit(q.max_results, LOGGED_PAGE, LOGGED_PAGE_MAX, "logged models")?;
    let offset = page_offset(q.page_token.as_deref())?;
    // The datasets metric clauses are limited to, as a table the clauses read.
    let (scope, mut args) = metric_scope(&q.datasets)?;
    let mut condition_sql = condition.sql;
    if !q.datasets.is_empty() && !condition.on_metrics {
        // Datasets but no metric clause: the models with a metric on one of them.
        condition_sql = format!(
            "({condition_sql}) AND EXISTS (SELECT 1 FROM logged_model_metrics m JOIN metric_scope s ON s.name = m.dataset_name AND m.dataset_digest IS s.digest WHERE m.model_id = l.model_id)"
        );
    }
    args.extend(condition.args);
    let experiments = if q.experiment_ids.is_empty() {
        "1".to_string()
    } else {
        args.extend(q.experiment_ids.iter().map(|e| Value::Integer(*e)));
        format!(
            "l.experiment_id IN ({})",
            vec!["?"; q.experiment_ids.len()].join(", ")
        )
    };
    let order = logged_order(&q.order_by, &mut args)?;
    args.push(Value::Integer(limit + 1));
    args.push(Value::Integer(offset));
    let sql = format!(
        "WITH metric_scope(name, digest) AS ({scope})
         SELECT {LOGGED_COLUMNS} FROM logged_models l
         WHERE l.deleted_ms IS NULL AND ({condition_sql}) AND {experiments}
         ORDER BY {order} LIMIT ? OFFSET ?"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), logged_of_row)?;
    let mut models = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    let next_page_token = next_page(&mut models, offset, limit);
    let models = models
        .into_iter()
        .map(|m| with_logged_pairs(conn, m))
        .collect::<Result<_>>()?;
    Ok(LoggedModelPage {
        models,
        next_page_token,
    })
}

/// The rows of the `metric_scope` table (dataset name, digest or NULL) with their parameters;
/// no rows for no datasets. A dataset must have a name (MLflow's rule).
fn metric_scope(datasets: &[DatasetScope]) -> Result<(String, Vec<Value>)> {
    if datasets.is_empty() {
        return Ok(("SELECT NULL, NULL WHERE 0".into(), Vec::new()));
    }
    let mut args = Vec::new();
    for d in datasets {
        if d.dataset_name.is_empty() {
            return Err(KirokuError::Invalid(
                "`dataset_name` in the `datasets` clause must be specified.".into(),
            ));
        }
        args.push(Value::Text(d.dataset_name.clone()));
        args.push(d.dataset_digest.clone().map_or(Value::Null, Value::Text));
    }
    let rows = vec!["(?, ?)"; datasets.len()].join(", ");
    Ok((format!("VALUES {rows}"), args))
}

/// MLflow's order of logged models: each key in turn (an attribute, or `metrics.<key>`: the
/// model's latest value of it, by time, then step, then run id, on the key's dataset when it
/// names one), models without a value last; then newest first and by id unless a key was
/// those.
fn logged_order(keys: &[OrderKey], args: &mut Vec<Value>) -> Result<String> {
    let mut terms = Vec::new();
    let (mut by_created, mut by_id) = (false, false);
    for key in keys {
        let direction = if key.ascending { "ASC" } else { "DESC" };
        let column = match key.field.strip_prefix("metrics.") {
            Some(metric) => {
                let mut latest = "(SELECT m.value FROM logged_model_metrics m WHERE m.model_id = l.model_id AND m.key = ?".to_string();
                let mut these = vec![Value::Text(metric.to_string())];
                if let Some(name) = &key.dataset_name {
                    latest.push_str(" AND m.dataset_name = ?");
                    these.push(Value::Text(name.clone()));
                }
                if let Some(digest) = &key.dataset_digest {
                    latest.push_str(" AND m.dataset_digest = ?");
                    these.push(Value::Text(digest.clone()));
                }
                latest.push_str(" ORDER BY m.ts_ms DESC, m.step DESC, m.run_id ASC LIMIT 1)");
                // Once for the nulls-last term, once for the value.
                args.extend(these.iter().cloned());
                args.extend(these);
                terms.push(format!("{latest} IS NULL ASC"));
                terms.push(format!("{latest} {direction}"));
                continue;
            }
            None if key.field.contains('.') && !key.field.starts_with("attribute") => {
                return Err(KirokuError::Invalid(format!(
                    "Invalid order by field name: {}. Only metrics are supported.",
                    key.field
                )))
            }
            None => LOGGED_GRAMMAR.order_column(&key.field, &key.field)?,
        };
        by_created |= column == "l.created_ms";
        by_id |= column == "l.model_id";
        terms.push(format!("{column} IS NULL ASC, {column} {direction}"));
    }
    if !by_created {
        terms.push("l.created_ms DESC".into());
    }
    if !by_id {
        terms.push("l.model_id ASC".into());
    }
    Ok(terms.join(", "))
}

/// A page size within bounds: the default when none is asked, `Invalid` beyond the maximum.
fn page_limit(asked: Option<u32>, default: u32, max: u32, what: &str) -> Result<i64> {
    match asked {
        None | Some(0) => Ok(default as i64),
        Some(n) if n > max => Err(KirokuError::Invalid(format!(
            "Invalid value {n} for parameter 'max_results' supplied: searching {what} returns at most {max} per page."
        ))),
        Some(n) => Ok(n as i64),
    }
}

// ---------------------------------------------------------------------------------------------
// versions

const VERSION_COLUMNS: &str = "v.vid, v.mid, m.name, v.version, v.source, v.run_id, v.model_id,
    v.status, v.status_message, v.description, v.stage, v.run_link, v.user, v.created_ms, v.updated_ms";

/// A version row with its internal ids (for the tag and alias reads that complete it).
struct VersionRow {
    vid: i64,
    mid: i64,
    version: ModelVersion,
}

fn version_of_row(r: &Row) -> rusqlite::Result<VersionRow> {
    let status: String = r.get(7)?;
    Ok(VersionRow {
        vid: r.get(0)?,
        mid: r.get(1)?,
        version: ModelVersion {
            name: r.get(2)?,
            version: r.get(3)?,
            source: r.get(4)?,
            run_id: r.get(5)?,
            model_id: r.get(6)?,
            status: status
                .parse()
                .map_err(|e: String| super::jobs::conversion_failure(7, e))?,
            status_message: r.get(8)?,
            description: r.get(9)?,
            stage: r.get(10)?,
            run_link: r.get(11)?,
            user: r.get(12)?,
            created_at: r.get(13)?,
            updated_at: r.get(14)?,
            tags: BTreeMap::new(),
            aliases: Vec::new(),
        },
    })
}

/// Fills in the tags and aliases of version rows: one query per table for a chunk of rows,
/// not one per row (searches return thousands).
fn complete_versions(conn: &Connection, rows: Vec<VersionRow>) -> Result<Vec<ModelVersion>> {
    const CHUNK: usize = 500;
    let mut tags: HashMap<i64, BTreeMap<String, String>> = HashMap::new();
    let mut aliases: HashMap<(i64, i64), Vec<String>> = HashMap::new();
    for chunk in rows.chunks(CHUNK) {
        let vids: Vec<Value> = chunk.iter().map(|r| Value::Integer(r.vid)).collect();
        let marks = vec!["?"; vids.len()].join(", ");
        let mut stmt = conn.prepare(&format!(
            "SELECT vid, key, value FROM model_version_tags WHERE vid IN ({marks})"
        ))?;
        let found = stmt.query_map(params_from_iter(vids), |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for row in found {
            let (vid, key, value) = row?;
            tags.entry(vid).or_default().insert(key, value);
        }
        let mut mids: Vec<i64> = chunk.iter().map(|r| r.mid).collect();
        mids.sort_unstable();
        mids.dedup();
        let marks = vec!["?"; mids.len()].join(", ");
        let mut stmt = conn.prepare(&format!(
            "SELECT mid, version, alias FROM model_aliases WHERE mid IN ({marks}) ORDER BY alias"
        ))?;
        let found = stmt.query_map(params_from_iter(mids), |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        for row in found {
            let (mid, version, alias) = row?;
            aliases.entry((mid, version)).or_default().push(alias);
        }
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let mut version = row.version;
            version.tags = tags.remove(&row.vid).unwrap_or_default();
            version.aliases = aliases
                .get(&(row.mid, version.version))
                .cloned()
                .unwrap_or_default();
            version
        })
        .collect())
}

fn select_versions(conn: &Connection, filter: &str, args: Vec<Value>) -> Result<Vec<ModelVersion>> {
    Ok(select_versions_with_mids(conn, filter, args)?
        .into_iter()
        .map(|(_, v)| v)
        .collect())
}

/// `select_versions`, each version with its model's internal id.
fn select_versions_with_mids(
    conn: &Connection,
    filter: &str,
    args: Vec<Value>,
) -> Result<Vec<(i64, ModelVersion)>> {
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM model_versions v JOIN registered_models m ON m.mid = v.mid WHERE {filter}"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), version_of_row)?;
    let rows = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    let mids: Vec<i64> = rows.iter().map(|r| r.mid).collect();
    Ok(mids
        .into_iter()
        .zip(complete_versions(conn, rows)?)
        .collect())
}

fn read_version(conn: &Connection, name: &str, version: i64) -> Result<ModelVersion> {
    let (_, vid) = vid_of(conn, name, version)?;
    select_versions(conn, "v.vid = ?", vec![Value::Integer(vid)])?
        .pop()
        .ok_or_else(|| version_missing(name, version))
}

fn touch_version(conn: &Connection, vid: i64, mid: i64) -> Result<()> {
    let now = now_ms();
    conn.prepare_cached("UPDATE model_versions SET updated_ms = ?1 WHERE vid = ?2")?
        .execute(params![now, vid])?;
    touch_model(conn, mid, now)
}

fn touch_model(conn: &Connection, mid: i64, now: i64) -> Result<()> {
    conn.prepare_cached("UPDATE registered_models SET updated_ms = ?1 WHERE mid = ?2")?
        .execute(params![now, mid])?;
    Ok(())
}

fn search_versions(conn: &Connection, s: &RegistrySearch) -> Result<ModelVersionPage> {
    let condition = VERSION_GRAMMAR.condition(s.filter.as_deref())?;
    // MLflow's order: the newest change first unless asked otherwise, then name and number.
    let order = VERSION_GRAMMAR.order(
        &s.order_by,
        "v.updated_ms DESC",
        "m.name ASC, v.version DESC",
    )?;
    let limit = page_limit(
        s.max_results,
        VERSIONS_PAGE,
        VERSIONS_PAGE_MAX,
        "model versions",
    )?;
    let offset = page_offset(s.page_token.as_deref())?;
    let mut args = condition.args;
    args.push(Value::Integer(limit + 1));
    args.push(Value::Integer(offset));
    let filter = format!("{} ORDER BY {order} LIMIT ? OFFSET ?", condition.sql);
    let mut versions = select_versions(conn, &filter, args)?;
    let next_page_token = next_page(&mut versions, offset, limit);
    Ok(ModelVersionPage {
        versions,
        next_page_token,
    })
}

// ---------------------------------------------------------------------------------------------
// registered models

fn read_model_by_mid(conn: &Connection, mid: i64) -> Result<RegisteredModel> {
    read_models_by_mid(conn, &[mid])?
        .pop()
        .ok_or_else(|| KirokuError::NotFound(format!("no registered model {mid}")))
}

/// `?, ?, …` for `n` values, and the values, of an `IN (…)` over ids.
fn id_list(ids: &[i64]) -> (String, Vec<Value>) {
    (
        vec!["?"; ids.len()].join(", "),
        ids.iter().map(|&id| Value::Integer(id)).collect(),
    )
}

/// Registered models with their tags, aliases and latest version per stage, in the order of
/// `mids`: four queries for the lot (a search's page), none per model.
fn read_models_by_mid(conn: &Connection, mids: &[i64]) -> Result<Vec<RegisteredModel>> {
    const CHUNK: usize = 500;
    let mut out = Vec::with_capacity(mids.len());
    for chunk in mids.chunks(CHUNK) {
        let (marks, ids) = id_list(chunk);
        let mut models: HashMap<i64, RegisteredModel> = HashMap::new();
        let mut stmt = conn.prepare(&format!(
            "SELECT mid, name, description, user, created_ms, updated_ms FROM registered_models WHERE mid IN ({marks})"
        ))?;
        let rows = stmt.query_map(params_from_iter(ids.clone()), |r| {
            Ok((
                r.get::<_, i64>(0)?,
                RegisteredModel {
                    name: r.get(1)?,
                    description: r.get(2)?,
                    user: r.get(3)?,
                    created_at: r.get(4)?,
                    updated_at: r.get(5)?,
                    tags: BTreeMap::new(),
                    aliases: BTreeMap::new(),
                    latest_versions: Vec::new(),
                },
            ))
        })?;
        for row in rows {
            let (mid, model) = row?;
            models.insert(mid, model);
        }
        let mut stmt = conn.prepare(&format!(
            "SELECT mid, key, value FROM registered_model_tags WHERE mid IN ({marks})"
        ))?;
        let rows = stmt.query_map(params_from_iter(ids.clone()), |r| {
            Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?))
        })?;
        for row in rows {
            let (mid, key, value) = row?;
            if let Some(m) = models.get_mut(&mid) {
                m.tags.insert(key, value);
            }
        }
        let mut stmt = conn.prepare(&format!(
            "SELECT mid, alias, version FROM model_aliases WHERE mid IN ({marks})"
        ))?;
        let rows = stmt.query_map(params_from_iter(ids.clone()), |r| {
            Ok((r.get::<_, i64>(0)?, r.get(1)?, r.get(2)?))
        })?;
        for row in rows {
            let (mid, alias, version) = row?;
            if let Some(m) = models.get_mut(&mid) {
                m.aliases.insert(alias, version);
            }
        }
        // Each model's newest version in each stage: one index seek per (model, stage) pair
        // (`model_versions_by_stage`), not a look at every version of the models.
        let stage_rows = vec!["(?)"; MODEL_STAGES.len()].join(", ");
        let mut args: Vec<Value> = MODEL_STAGES
            .iter()
            .map(|s| Value::Text(s.to_string()))
            .collect();
        args.extend(ids);
        let latest = select_versions_with_mids(
            conn,
            &format!(
                "v.vid IN (SELECT (SELECT x.vid FROM model_versions x WHERE x.mid = w.mid AND x.stage = s.column1
                                   ORDER BY x.version DESC LIMIT 1)
                           FROM registered_models w, (VALUES {stage_rows}) s WHERE w.mid IN ({marks}))
                 ORDER BY v.version"
            ),
            args,
        )?;
        for (mid, version) in latest {
            if let Some(m) = models.get_mut(&mid) {
                m.latest_versions.push(version);
            }
        }
        out.extend(chunk.iter().filter_map(|mid| models.remove(mid)));
    }
    Ok(out)
}

fn read_model(conn: &Connection, name: &str) -> Result<RegisteredModel> {
    let mid = mid_of(conn, name)?;
    read_model_by_mid(conn, mid)
}

fn search_models(conn: &Connection, s: &RegistrySearch) -> Result<RegisteredModelPage> {
    let condition = MODEL_GRAMMAR.condition(s.filter.as_deref())?;
    let order = MODEL_GRAMMAR.order(&s.order_by, "", "m.name ASC")?;
    let limit = page_limit(
        s.max_results,
        MODELS_PAGE,
        MODELS_PAGE_MAX,
        "registered models",
    )?;
    let offset = page_offset(s.page_token.as_deref())?;
    let mut args = condition.args;
    args.push(Value::Integer(limit + 1));
    args.push(Value::Integer(offset));
    let sql = format!(
        "SELECT m.mid FROM registered_models m WHERE {} ORDER BY {order} LIMIT ? OFFSET ?",
        condition.sql
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut mids = stmt
        .query_map(params_from_iter(args), |r| r.get::<_, i64>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let next_page_token = next_page(&mut mids, offset, limit);
    let models = read_models_by_mid(conn, &mids)?;
    Ok(RegisteredModelPage {
        models,
        next_page_token,
    })
}

// ---------------------------------------------------------------------------------------------
// aliases

fn alias_target(conn: &Connection, mid: i64, alias: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT version FROM model_aliases WHERE mid = ?1 AND alias = ?2")?
        .query_row(params![mid, alias], |r| r.get(0))
        .optional()?)
}

/// Queues the deliveries of move `moved` from their templates, in the move's transaction.
fn queue_hooks(tx: &Connection, moved: &AliasMove, hooks: &[NewDelivery]) -> Result<()> {
    let deliveries: Vec<NewDelivery> = hooks.iter().map(|h| h.of_move(moved)).collect();
    super::promotions::enqueue(tx, &deliveries).map(drop)
}

/// Appends one move to the alias history and records its event; returns the move.
fn record_move(
    conn: &Connection,
    model: &str,
    alias: &str,
    from_version: Option<i64>,
    to_version: Option<i64>,
    why: &AliasReason,
) -> Result<AliasMove> {
    limits::user_name(&why.user)?;
    let time = now_ms();
    conn.prepare_cached(
        "INSERT INTO alias_moves (model, alias, from_version, to_version, user, ts_ms, reason, forced)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        model,
        alias,
        from_version,
        to_version,
        why.user,
        time,
        why.reason,
        why.forced
    ])?;
    let id = conn.last_insert_rowid();
    let kind = if to_version.is_some() {
        "model.alias_set"
    } else {
        "model.alias_deleted"
    };
    record_event(
        conn,
        kind,
        &why.user,
        None,
        None,
        Some(json!({
            "model": model, "alias": alias, "from_version": from_version,
            "to_version": to_version, "reason": why.reason, "forced": why.forced,
        })),
    )?;
    Ok(AliasMove {
        id,
        model: model.to_string(),
        alias: alias.to_string(),
        from_version,
        to_version,
        user: why.user.clone(),
        time,
        reason: why.reason.clone(),
        forced: why.forced,
    })
}

/// Removes the aliases on one version (or on every version of the model when `None`), each
/// recorded as a move to nothing with its hooks queued (`hooks` must name every alias removed:
/// one missing was set after the caller read the aliases, and the deletion is refused).
fn drop_aliases(
    conn: &Connection,
    mid: i64,
    name: &str,
    version: Option<i64>,
    why: &AliasReason,
    hooks: &RemovalHooks,
) -> Result<Vec<AliasMove>> {
    for templates in hooks.values() {
        super::promotions::check_deliveries(templates)?;
    }
    let mut stmt = conn.prepare_cached(
        "SELECT alias, version FROM model_aliases WHERE mid = ?1 AND (?2 IS NULL OR version = ?2) ORDER BY alias",
    )?;
    let held: Vec<(String, i64)> = stmt
        .query_map(params![mid, version], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut moves = Vec::with_capacity(held.len());
    for (alias, on) in held {
        let templates = hooks.get(&alias).ok_or_else(|| {
            KirokuError::Conflict(format!(
                "alias {alias} of model {name} was set while the deletion was prepared; try again"
            ))
        })?;
        conn.prepare_cached("DELETE FROM model_aliases WHERE mid = ?1 AND alias = ?2")?
            .execute(params![mid, alias])?;
        let moved = record_move(conn, name, &alias, Some(on), None, why)?;
        queue_hooks(conn, &moved, templates)?;
        moves.push(moved);
    }
    Ok(moves)
}

fn read_history(conn: &Connection, name: &str, alias: Option<&str>) -> Result<Vec<AliasMove>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, model, alias, from_version, to_version, user, ts_ms, reason, forced
         FROM alias_moves WHERE model = ?1 AND (?2 IS NULL OR alias = ?2) ORDER BY id",
    )?;
    let rows = stmt.query_map(params![name, alias], |r| {
        Ok(AliasMove {
            id: r.get(0)?,
            model: r.get(1)?,
            alias: r.get(2)?,
            from_version: r.get(3)?,
            to_version: r.get(4)?,
            user: r.get(5)?,
            time: r.get(6)?,
            reason: r.get(7)?,
            forced: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

impl ModelStore for SqliteStore {
    fn create_logged_model(&self, new: &NewLoggedModel) -> Result<LoggedModel> {
        limits::user_name(&new.user)?;
        let model_id = format!("m-{}", crate::ids::new_run_id());
        let name = match new.name.as_deref().map(str::trim) {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => generated_name(&model_id),
        };
        self.write(|tx| {
            let exists: bool = tx
                .prepare_cached("SELECT count(*) FROM experiments WHERE id = ?1")?
                .query_row([new.experiment_id], |r| r.get::<_, i64>(0))?
                > 0;
            if !exists {
                return Err(KirokuError::NotFound(format!(
                    "No Experiment with id={} exists",
                    new.experiment_id
                )));
            }
            if let Some(run) = &new.source_run_id {
                super::rid_of(tx, run)?;
            }
            let now = now_ms();
            tx.prepare_cached(
                "INSERT INTO logged_models (model_id, experiment_id, name, source_run_id, status, model_type, user, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6, ?7, ?7)",
            )?
            .execute(params![model_id, new.experiment_id, name, new.source_run_id, new.model_type, new.user, now])?;
            write_logged_tags(tx, &model_id, &new.tags)?;
            write_logged_params(tx, &model_id, &new.params)?;
            let (rid, _) = run_of(tx, new.source_run_id.as_deref())?;
            record_event(
                tx,
                "model.logged",
                &new.user,
                rid,
                Some(new.experiment_id),
                Some(json!({"model_id": model_id, "name": name})),
            )?;
            read_logged(tx, &model_id, false)
        })
    }

    fn logged_model(&self, model_id: &str, allow_deleted: bool) -> Result<LoggedModel> {
        self.read(|c| read_logged(c, model_id, allow_deleted))
    }

    fn search_logged_models(&self, query: &LoggedModelQuery) -> Result<LoggedModelPage> {
        self.read(|c| search_logged(c, query))
    }

    fn finalize_logged_model(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
    ) -> Result<LoggedModel> {
        self.write(|tx| {
            live_logged(tx, model_id)?;
            tx.prepare_cached(
                "UPDATE logged_models SET status = ?1, updated_ms = ?2 WHERE model_id = ?3",
            )?
            .execute(params![status.as_str(), now_ms(), model_id])?;
            read_logged(tx, model_id, false)
        })
    }

    fn delete_logged_model(&self, model_id: &str) -> Result<()> {
        self.write(|tx| {
            live_logged(tx, model_id)?;
            tx.prepare_cached("UPDATE logged_models SET deleted_ms = ?1 WHERE model_id = ?2")?
                .execute(params![now_ms(), model_id])?;
            Ok(())
        })
    }

    fn set_logged_model_tags(&self, model_id: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        self.write(|tx| {
            live_logged(tx, model_id)?;
            write_logged_tags(tx, model_id, tags)?;
            touch_logged(tx, model_id)
        })
    }

    fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()> {
        self.write(|tx| {
            live_logged(tx, model_id)?;
            let n = tx
                .prepare_cached("DELETE FROM logged_model_tags WHERE model_id = ?1 AND key = ?2")?
                .execute(params![model_id, key])?;
            if n == 0 {
                return Err(KirokuError::NotFound(format!(
                    "No tag with key '{key}' found for logged model with ID '{model_id}'."
                )));
            }
            touch_logged(tx, model_id)
        })
    }

    fn log_logged_model_params(
        &self,
        model_id: &str,
        params: &BTreeMap<String, String>,
    ) -> Result<()> {
        self.write(|tx| {
            live_logged(tx, model_id)?;
            write_logged_params(tx, model_id, params)?;
            touch_logged(tx, model_id)
        })
    }

    fn log_logged_model_metrics(&self, metrics: &[LoggedModelMetric]) -> Result<()> {
        if metrics.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            let ids: std::collections::BTreeSet<&str> =
                metrics.iter().map(|m| m.model_id.as_str()).collect();
            for id in &ids {
                live_logged(tx, id)?;
            }
            write_logged_metrics(tx, metrics)?;
            for id in ids {
                touch_logged(tx, id)?;
            }
            Ok(())
        })
    }

    fn logged_model_dir(&self, model_id: &str) -> Option<PathBuf> {
        Some(self.dir().join("models").join(model_id))
    }

    fn create_registered_model(&self, new: &NewRegisteredModel) -> Result<RegisteredModel> {
        check_model_name(&new.name)?;
        limits::user_name(&new.user)?;
        for (k, v) in &new.tags {
            check_tag(k, v)?;
        }
        self.write(|tx| {
            let taken = tx
                .prepare_cached("SELECT 1 FROM registered_models WHERE name = ?1")?
                .query_row([&new.name], |_| Ok(()))
                .optional()?
                .is_some();
            if taken {
                return Err(KirokuError::Conflict(format!(
                    "Registered Model (name={}) already exists.",
                    new.name
                )));
            }
            let now = now_ms();
            tx.prepare_cached(
                "INSERT INTO registered_models (name, description, user, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?4)",
            )?
            .execute(params![new.name, new.description, new.user, now])?;
            let mid = tx.last_insert_rowid();
            for (k, v) in &new.tags {
                tx.prepare_cached(
                    "INSERT INTO registered_model_tags (mid, key, value) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![mid, k, v])?;
            }
            record_event(
                tx,
                "model.registered",
                &new.user,
                None,
                None,
                Some(json!({"model": new.name})),
            )?;
            read_model_by_mid(tx, mid)
        })
    }

    fn registered_model(&self, name: &str) -> Result<RegisteredModel> {
        self.read(|c| read_model(c, name))
    }

    fn rename_registered_model(&self, name: &str, new_name: &str) -> Result<RegisteredModel> {
        check_model_name(new_name)?;
        self.write(|tx| {
            let mid = mid_of(tx, name)?;
            if name != new_name {
                let taken = tx
                    .prepare_cached("SELECT 1 FROM registered_models WHERE name = ?1")?
                    .query_row([new_name], |_| Ok(()))
                    .optional()?
                    .is_some();
                if taken {
                    return Err(KirokuError::Conflict(format!(
                        "Registered Model (name={new_name}) already exists."
                    )));
                }
            }
            tx.prepare_cached(
                "UPDATE registered_models SET name = ?1, updated_ms = ?2 WHERE mid = ?3",
            )?
            .execute(params![new_name, now_ms(), mid])?;
            tx.prepare_cached("UPDATE alias_moves SET model = ?1 WHERE model = ?2")?
                .execute(params![new_name, name])?;
            record_event(
                tx,
                "model.renamed",
                "",
                None,
                None,
                Some(json!({"model": new_name, "from": name})),
            )?;
            read_model_by_mid(tx, mid)
        })
    }

    fn update_registered_model(&self, name: &str, description: &str) -> Result<RegisteredModel> {
        self.write(|tx| {
            let mid = mid_of(tx, name)?;
            tx.prepare_cached(
                "UPDATE registered_models SET description = ?1, updated_ms = ?2 WHERE mid = ?3",
            )?
            .execute(params![description, now_ms(), mid])?;
            read_model_by_mid(tx, mid)
        })
    }

    fn delete_registered_model(
        &self,
        name: &str,
        why: &AliasReason,
        hooks: &RemovalHooks,
    ) -> Result<Vec<AliasMove>> {
        limits::user_name(&why.user)?;
        self.write(|tx| {
            let mid = mid_of(tx, name)?;
            let moves = drop_aliases(tx, mid, name, None, why, hooks)?;
            tx.prepare_cached("DELETE FROM registered_models WHERE mid = ?1")?
                .execute([mid])?;
            record_event(
                tx,
                "model.deleted",
                &why.user,
                None,
                None,
                Some(json!({"model": name})),
            )?;
            Ok(moves)
        })
    }

    fn search_registered_models(&self, search: &RegistrySearch) -> Result<RegisteredModelPage> {
        self.read(|c| search_models(c, search))
    }

    fn set_registered_model_tag(&self, name: &str, key: &str, value: &str) -> Result<()> {
        check_tag(key, value)?;
        self.write(|tx| {
            let mid = mid_of(tx, name)?;
            tx.prepare_cached(
                "INSERT OR REPLACE INTO registered_model_tags (mid, key, value) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![mid, key, value])?;
            touch_model(tx, mid, now_ms())
        })
    }

    fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()> {
        self.write(|tx| {
            let mid = mid_of(tx, name)?;
            tx.prepare_cached("DELETE FROM registered_model_tags WHERE mid = ?1 AND key = ?2")?
                .execute(params![mid, key])?;
            touch_model(tx, mid, now_ms())
        })
    }

    fn create_model_version(&self, new: &NewModelVersion) -> Result<ModelVersion> {
        limits::user_name(&new.user)?;
        if new.source.trim().is_empty() {
            return Err(KirokuError::Invalid(
                "a model version needs a source (where its files are)".into(),
            ));
        }
        for (k, v) in &new.tags {
            check_tag(k, v)?;
        }
        // A version from a logged model names it and its run, as MLflow's store fills them in.
        let model_id = new.model_id.clone().or_else(|| {
            new.source
                .strip_prefix("models:/")
                .filter(|id| id.starts_with("m-") && !id.contains('/'))
                .map(str::to_string)
        });
        self.write(|tx| {
            let mid = mid_of(tx, &new.name)?;
            let run_id = match (&new.run_id, &model_id) {
                (Some(run), _) => Some(run.clone()),
                (None, Some(id)) => tx
                    .prepare_cached("SELECT source_run_id FROM logged_models WHERE model_id = ?1")?
                    .query_row([id], |r| r.get::<_, Option<String>>(0))
                    .optional()?
                    .flatten(),
                (None, None) => None,
            };
            let version: i64 = tx
                .prepare_cached("SELECT next_version FROM registered_models WHERE mid = ?1")?
                .query_row([mid], |r| r.get(0))?;
            let now = now_ms();
            tx.prepare_cached("UPDATE registered_models SET next_version = ?1, updated_ms = ?2 WHERE mid = ?3")?
                .execute(params![version + 1, now, mid])?;
            tx.prepare_cached(
                "INSERT INTO model_versions (mid, version, source, run_id, model_id, status, description, run_link, user, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'ready', ?6, ?7, ?8, ?9, ?9)",
            )?
            .execute(params![mid, version, new.source, run_id, model_id, new.description, new.run_link, new.user, now])?;
            let vid = tx.last_insert_rowid();
            for (k, v) in &new.tags {
                tx.prepare_cached(
                    "INSERT INTO model_version_tags (vid, key, value) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![vid, k, v])?;
            }
            let (rid, experiment) = run_of(tx, run_id.as_deref())?;
            record_event(
                tx,
                "model.version_created",
                &new.user,
                rid,
                experiment,
                Some(json!({"model": new.name, "version": version, "source": new.source, "model_id": model_id})),
            )?;
            read_version(tx, &new.name, version)
        })
    }

    fn model_version(&self, name: &str, version: i64) -> Result<ModelVersion> {
        self.read(|c| read_version(c, name, version))
    }

    fn model_versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        self.read(|c| {
            let mid = mid_of(c, name)?;
            select_versions(c, "v.mid = ? ORDER BY v.version", vec![Value::Integer(mid)])
        })
    }

    fn update_model_version(
        &self,
        name: &str,
        version: i64,
        description: &str,
    ) -> Result<ModelVersion> {
        self.write(|tx| {
            let (mid, vid) = vid_of(tx, name, version)?;
            tx.prepare_cached("UPDATE model_versions SET description = ?1 WHERE vid = ?2")?
                .execute(params![description, vid])?;
            touch_version(tx, vid, mid)?;
            read_version(tx, name, version)
        })
    }

    fn transition_model_version_stage(
        &self,
        name: &str,
        version: i64,
        stage: &str,
        archive_existing: bool,
    ) -> Result<ModelVersion> {
        let stage = canonical_stage(stage).map_err(KirokuError::Invalid)?;
        self.write(|tx| {
            let (mid, vid) = vid_of(tx, name, version)?;
            let now = now_ms();
            if archive_existing && matches!(stage, "Staging" | "Production") {
                tx.prepare_cached(
                    "UPDATE model_versions SET stage = 'Archived', updated_ms = ?1 WHERE mid = ?2 AND stage = ?3 AND vid != ?4",
                )?
                .execute(params![now, mid, stage, vid])?;
            }
            tx.prepare_cached("UPDATE model_versions SET stage = ?1 WHERE vid = ?2")?
                .execute(params![stage, vid])?;
            touch_version(tx, vid, mid)?;
            read_version(tx, name, version)
        })
    }

    fn delete_model_version(
        &self,
        name: &str,
        version: i64,
        why: &AliasReason,
        hooks: &RemovalHooks,
    ) -> Result<Vec<AliasMove>> {
        limits::user_name(&why.user)?;
        self.write(|tx| {
            let (mid, vid) = vid_of(tx, name, version)?;
            let moves = drop_aliases(tx, mid, name, Some(version), why, hooks)?;
            tx.prepare_cached("DELETE FROM model_versions WHERE vid = ?1")?
                .execute([vid])?;
            touch_model(tx, mid, now_ms())?;
            record_event(
                tx,
                "model.version_deleted",
                &why.user,
                None,
                None,
                Some(json!({"model": name, "version": version})),
            )?;
            Ok(moves)
        })
    }

    fn search_model_versions(&self, search: &RegistrySearch) -> Result<ModelVersionPage> {
        self.read(|c| search_versions(c, search))
    }

    fn latest_model_versions(&self, name: &str, stages: &[String]) -> Result<Vec<ModelVersion>> {
        let stages = stages
            .iter()
            .map(|s| canonical_stage(s).map_err(KirokuError::Invalid))
            .collect::<Result<Vec<_>>>()?;
        self.read(|c| {
            let model = read_model(c, name)?;
            Ok(model
                .latest_versions
                .into_iter()
                .filter(|v| stages.is_empty() || stages.contains(&v.stage.as_str()))
                .collect())
        })
    }

    fn set_model_version_tag(
        &self,
        name: &str,
        version: i64,
        key: &str,
        value: &str,
    ) -> Result<()> {
        check_tag(key, value)?;
        self.write(|tx| {
            let (mid, vid) = vid_of(tx, name, version)?;
            tx.prepare_cached(
                "INSERT OR REPLACE INTO model_version_tags (vid, key, value) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![vid, key, value])?;
            touch_version(tx, vid, mid)
        })
    }

    fn delete_model_version_tag(&self, name: &str, version: i64, key: &str) -> Result<()> {
        self.write(|tx| {
            let (mid, vid) = vid_of(tx, name, version)?;
            tx.prepare_cached("DELETE FROM model_version_tags WHERE vid = ?1 AND key = ?2")?
                .execute(params![vid, key])?;
            touch_version(tx, vid, mid)
        })
    }

    fn set_alias(
        &self,
        name: &str,
        alias: &str,
        version: i64,
        why: &AliasReason,
        hooks: &[NewDelivery],
    ) -> Result<AliasMove> {
        check_alias(alias)?;
        super::promotions::check_deliveries(hooks)?;
        self.write(|tx| {
            let (mid, _) = vid_of(tx, name, version)?;
            let from = alias_target(tx, mid, alias)?;
            tx.prepare_cached(
                "INSERT OR REPLACE INTO model_aliases (mid, alias, version) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![mid, alias, version])?;
            touch_model(tx, mid, now_ms())?;
            let moved = record_move(tx, name, alias, from, Some(version), why)?;
            queue_hooks(tx, &moved, hooks)?;
            Ok(moved)
        })
    }

    fn delete_alias(
        &self,
        name: &str,
        alias: &str,
        why: &AliasReason,
        hooks: &[NewDelivery],
    ) -> Result<AliasMove> {
        super::promotions::check_deliveries(hooks)?;
        self.write(|tx| {
            let mid = mid_of(tx, name)?;
            let from = alias_target(tx, mid, alias)?.ok_or_else(|| {
                KirokuError::NotFound(format!(
                    "Registered model alias {alias} not found for model {name}."
                ))
            })?;
            tx.prepare_cached("DELETE FROM model_aliases WHERE mid = ?1 AND alias = ?2")?
                .execute(params![mid, alias])?;
            touch_model(tx, mid, now_ms())?;
            let moved = record_move(tx, name, alias, Some(from), None, why)?;
            queue_hooks(tx, &moved, hooks)?;
            Ok(moved)
        })
    }

    fn version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        self.read(|c| {
            let mid = mid_of(c, name)?;
            let version = alias_target(c, mid, alias)?.ok_or_else(|| {
                KirokuError::NotFound(format!(
                    "Registered model alias {alias} not found for model {name}."
                ))
            })?;
            read_version(c, name, version)
        })
    }

    fn alias_history(&self, name: &str, alias: Option<&str>) -> Result<Vec<AliasMove>> {
        self.read(|c| read_history(c, name, alias))
    }

    fn import_registered_model(
        &self,
        model: &RegisteredModel,
        versions: &[ModelVersion],
        next_version: i64,
        why: &AliasReason,
    ) -> Result<bool> {
        check_model_name(&model.name)?;
        for alias in model.aliases.keys() {
            check_alias(alias)?;
        }
        self.write(|tx| {
            if mid_of(tx, &model.name).is_ok() {
                return Ok(false);
            }
            let next = versions
                .iter()
                .map(|v| v.version + 1)
                .max()
                .unwrap_or(1)
                .max(next_version);
            tx.prepare_cached(
                "INSERT INTO registered_models (name, description, user, created_ms, updated_ms, next_version) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![model.name, model.description, model.user, model.created_at, model.updated_at, next])?;
            let mid = tx.last_insert_rowid();
            for (k, v) in &model.tags {
                tx.prepare_cached("INSERT INTO registered_model_tags (mid, key, value) VALUES (?1, ?2, ?3)")?
                    .execute(params![mid, k, v])?;
            }
            for v in versions {
                let stage = canonical_stage(&v.stage).unwrap_or("None");
                tx.prepare_cached(
                    "INSERT INTO model_versions (mid, version, source, run_id, model_id, status, status_message, description, stage, run_link, user, created_ms, updated_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                )?
                .execute(params![mid, v.version, v.source, v.run_id, v.model_id, v.status.as_str(), v.status_message, v.description, stage, v.run_link, v.user, v.created_at, v.updated_at])?;
                let vid = tx.last_insert_rowid();
                for (k, value) in &v.tags {
                    tx.prepare_cached("INSERT INTO model_version_tags (vid, key, value) VALUES (?1, ?2, ?3)")?
                        .execute(params![vid, k, value])?;
                }
            }
            for (alias, version) in &model.aliases {
                if !versions.iter().any(|v| v.version == *version) {
                    continue;
                }
                tx.prepare_cached("INSERT INTO model_aliases (mid, alias, version) VALUES (?1, ?2, ?3)")?
                    .execute(params![mid, alias, version])?;
                record_move(tx, &model.name, alias, None, Some(*version), why)?;
            }
            record_event(tx, "model.registered", &why.user, None, None, Some(json!({"model": model.name, "imported": true})))?;
            Ok(true)
        })
    }

    fn import_logged_model(&self, model: &LoggedModel) -> Result<bool> {
        limits::user_name(&model.user)?;
        self.write(|tx| {
            let taken = tx
                .prepare_cached("SELECT 1 FROM logged_models WHERE model_id = ?1")?
                .query_row([&model.model_id], |_| Ok(()))
                .optional()?
                .is_some();
            if taken {
                return Ok(false);
            }
            tx.prepare_cached(
                "INSERT INTO logged_models (model_id, experiment_id, name, source_run_id, status, status_message, model_type, user, created_ms, updated_ms, deleted_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                model.model_id, model.experiment_id, model.name, model.source_run_id, model.status.as_str(),
                model.status_message, model.model_type, model.user, model.created_at, model.updated_at,
                model.deleted.then_some(model.updated_at)
            ])?;
            for (k, v) in &model.tags {
                tx.prepare_cached("INSERT INTO logged_model_tags (model_id, key, value) VALUES (?1, ?2, ?3)")?
                    .execute(params![model.model_id, k, v])?;
            }
            for (k, v) in &model.params {
                tx.prepare_cached("INSERT INTO logged_model_params (model_id, key, value) VALUES (?1, ?2, ?3)")?
                    .execute(params![model.model_id, k, v])?;
            }
            write_logged_metrics(tx, &model.metrics)?;
            Ok(true)
        })
    }
}
