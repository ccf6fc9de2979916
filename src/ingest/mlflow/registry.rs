//! MLflow's model registry and MLflow 3's logged models from an `mlflow.db`: tables
//! `registered_models`, `registered_model_tags`, `model_versions`, `model_version_tags`,
//! `registered_model_aliases`, `logged_models`, `logged_model_tags`, `logged_model_params`,
//! `logged_model_metrics`.
//!
//! Registered models keep their names, versions their numbers (MLflow's deleted versions, stage
//! `Deleted_Internal`, are left out but their numbers are not reused), stages, times and tags;
//! each alias comes in as a move in the alias history (`imported from MLflow`). Logged models
//! keep their ids and join the kiroku experiment of their MLflow experiment's name, with their
//! metrics (value, step, time, the run that logged each, its dataset's name and digest); their files
//! are copied when they lie inside the imported tree (as runs' artifacts are). A model or logged
//! model already in the store is left as it is, so a re-import adds nothing. A store without
//! these tables (MLflow before 1.x's registry, or before 3.0's logged models) has none to import.
use super::artifacts::{artifact_candidates, ArtifactSources};
use super::db::MlflowDb;
use super::report::{ImportReport, SkipReason};
use super::tree::ARTIFACT_FOLDER;
use crate::error::Result;
use crate::model::registry::*;
use crate::store::Store;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The reason alias moves made by an import carry.
const IMPORT_REASON: &str = "imported from MLflow";

/// Imports the registry and the logged models of `db` (after its experiments and runs).
pub(super) fn import_models(
    store: &dyn Store,
    db: &MlflowDb,
    base: &Path,
    artifacts: &mut ArtifactSources,
    user: &str,
    report: &mut ImportReport,
) -> Result<()> {
    if !db.columns("logged_models")?.is_empty() {
        import_logged_models(store, db, base, artifacts, user, report)?;
    }
    if !db.columns("registered_models")?.is_empty() {
        import_registry(store, db, user, report)?;
    }
    Ok(())
}

/// The metrics logged against each logged model, in the order MLflow wrote them (none when the
/// store predates the table).
fn logged_metrics(db: &MlflowDb) -> Result<HashMap<String, Vec<LoggedModelMetric>>> {
    let mut out: HashMap<String, Vec<LoggedModelMetric>> = HashMap::new();
    if db.columns("logged_model_metrics")?.is_empty() {
        return Ok(out);
    }
    let mut stmt = db
        .connection()
        .prepare(
            "SELECT model_id, metric_name, metric_value, metric_timestamp_ms, metric_step, run_id,
                    dataset_name, dataset_digest
             FROM logged_model_metrics ORDER BY metric_timestamp_ms, rowid",
        )
        .map_err(|e| db.err(e))?;
    let rows = stmt
        .query_map([], |r| {
            Ok(LoggedModelMetric {
                model_id: r.get(0)?,
                key: r.get(1)?,
                // MLflow keeps NaN as NULL.
                value: r.get::<_, Option<f64>>(2)?.unwrap_or(f64::NAN),
                timestamp: r.get::<_, Option<i64>>(3)?.unwrap_or(0),
                step: r.get::<_, Option<i64>>(4)?.unwrap_or(0),
                run_id: r.get::<_, Option<String>>(5)?.filter(|r| !r.is_empty()),
                dataset_name: r.get::<_, Option<String>>(6)?.filter(|d| !d.is_empty()),
                dataset_digest: r.get::<_, Option<String>>(7)?.filter(|d| !d.is_empty()),
            })
        })
        .map_err(|e| db.err(e))?;
    for row in rows {
        let metric = row.map_err(|e| db.err(e))?;
        out.entry(metric.model_id.clone()).or_default().push(metric);
    }
    Ok(out)
}

/// `(owner, key, value)` rows grouped by owner.
fn grouped(db: &MlflowDb, sql: &str) -> Result<HashMap<String, BTreeMap<String, String>>> {
    let mut out: HashMap<String, BTreeMap<String, String>> = HashMap::new();
    let mut stmt = db.connection().prepare(sql).map_err(|e| db.err(e))?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?.unwrap_or_default(),
            ))
        })
        .map_err(|e| db.err(e))?;
    for row in rows {
        let (owner, key, value) = row.map_err(|e| db.err(e))?;
        out.entry(owner).or_default().insert(key, value);
    }
    Ok(out)
}

fn import_logged_models(
    store: &dyn Store,
    db: &MlflowDb,
    base: &Path,
    artifacts: &mut ArtifactSources,
    user: &str,
    report: &mut ImportReport,
) -> Result<()> {
    let tags = grouped(
        db,
        "SELECT model_id, tag_key, tag_value FROM logged_model_tags",
    )?;
    let params = grouped(
        db,
        "SELECT model_id, param_key, param_value FROM logged_model_params",
    )?;
    let mut metrics = logged_metrics(db)?;
    let conn = db.connection();
    let mut stmt = conn
        .prepare(
            "SELECT l.model_id, e.name, l.name, l.artifact_location, l.creation_timestamp_ms,
                    l.last_updated_timestamp_ms, l.status, l.lifecycle_stage, l.model_type,
                    l.source_run_id, l.status_message
             FROM logged_models l JOIN experiments e ON e.experiment_id = l.experiment_id
             ORDER BY l.creation_timestamp_ms, l.model_id",
        )
        .map_err(|e| db.err(e))?;
    type Row = (
        String,
        String,
        String,
        String,
        i64,
        i64,
        i64,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get::<_, Option<String>>(3)?.unwrap_or_default(),
                r.get::<_, Option<i64>>(4)?.unwrap_or(0),
                r.get::<_, Option<i64>>(5)?.unwrap_or(0),
                r.get::<_, Option<i64>>(6)?.unwrap_or(0),
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
                r.get(10)?,
            ))
        })
        .map_err(|e| db.err(e))?
        .collect::<rusqlite::Result<_>>()
        .map_err(|e| db.err(e))?;
    for row in rows {
        let (
            model_id,
            experiment,
            name,
            location,
            created,
            updated,
            status,
            stage,
            model_type,
            run,
            message,
        ) = row;
        let Ok(kiroku_experiment) = store.experiment(&experiment) else {
            report.warn(format!(
                "logged model {model_id}: its experiment '{experiment}' is not in the store; not imported"
            ));
            continue;
        };
        let model_tags = tags.get(&model_id).cloned().unwrap_or_default();
        let model = LoggedModel {
            artifact_location: String::new(),
            experiment_id: kiroku_experiment.id,
            name,
            source_run_id: run.filter(|r| !r.is_empty()),
            // MLflow's enum: 1 pending, 2 ready, 3 upload failed.
            status: match status {
                2 => LoggedModelStatus::Ready,
                3 => LoggedModelStatus::UploadFailed,
                _ => LoggedModelStatus::Pending,
            },
            status_message: message.filter(|m| !m.is_empty()),
            model_type: model_type.filter(|t| !t.is_empty()),
            user: model_tags
                .get(crate::mlflow_names::USER_TAG)
                .cloned()
                .unwrap_or_else(|| user.to_string()),
            tags: model_tags,
            params: params.get(&model_id).cloned().unwrap_or_default(),
            metrics: metrics.remove(&model_id).unwrap_or_default(),
            created_at: created,
            updated_at: updated,
            deleted: stage.as_deref() == Some("deleted"),
            model_id,
        };
        if !store.import_logged_model(&model)? {
            continue;
        }
        report.logged_models += 1;
        copy_logged_model_files(store, &model.model_id, &location, base, artifacts, report)?;
    }
    Ok(())
}

/// Copies a logged model's files into the store when its location is inside the tree.
fn copy_logged_model_files(
    store: &dyn Store,
    model_id: &str,
    location: &str,
    base: &Path,
    artifacts: &mut ArtifactSources,
    report: &mut ImportReport,
) -> Result<()> {
    let candidates = artifact_candidates(location, base);
    let (found, refused) = artifacts.locate_among(&candidates);
    let (Some(src), Some(dir)) = (found, store.logged_model_dir(model_id)) else {
        if let Some((reason, why)) = refused {
            report.skip(
                reason,
                format!("logged model {model_id}: files at {location}: {why}; not copied"),
            );
        }
        return Ok(());
    };
    let files = artifacts.tree.files_under(&src, ARTIFACT_FOLDER, report);
    artifacts.claimed.insert(src);
    for (rel, path) in files {
        if let Err(e) = crate::fsutil::open_regular(&path) {
            report.skip(
                SkipReason::Unreadable,
                format!("{}: {e}; logged model file skipped", path.display()),
            );
            continue;
        }
        let (size, _) = crate::fsutil::copy_hashed(&path, Some(&dir.join("artifacts").join(&rel)))?;
        report.logged_model_files += 1;
        report.artifact_bytes += size;
    }
    Ok(())
}

fn import_registry(
    store: &dyn Store,
    db: &MlflowDb,
    user: &str,
    report: &mut ImportReport,
) -> Result<()> {
    let conn = db.connection();
    let model_tags = grouped(db, "SELECT name, key, value FROM registered_model_tags")?;
    let version_tags = grouped(
        db,
        "SELECT name || '/' || version, key, value FROM model_version_tags",
    )?;
    let mut aliases: HashMap<String, BTreeMap<String, i64>> = HashMap::new();
    if !db.columns("registered_model_aliases")?.is_empty() {
        let mut stmt = conn
            .prepare("SELECT name, alias, version FROM registered_model_aliases")
            .map_err(|e| db.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .map_err(|e| db.err(e))?;
        for row in rows {
            let (name, alias, version) = row.map_err(|e| db.err(e))?;
            aliases.entry(name).or_default().insert(alias, version);
        }
    }
    let mut stmt = conn
        .prepare(
            "SELECT name, creation_time, last_updated_time, description FROM registered_models ORDER BY name",
        )
        .map_err(|e| db.err(e))?;
    /// name, creation time, last update, description.
    type ModelRow = (String, Option<i64>, Option<i64>, Option<String>);
    let models: Vec<ModelRow> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .map_err(|e| db.err(e))?
        .collect::<rusqlite::Result<_>>()
        .map_err(|e| db.err(e))?;
    let why = AliasReason {
        user: user.to_string(),
        reason: IMPORT_REASON.into(),
        forced: false,
    };
    for (name, created, updated, description) in models {
        let mut versions = Vec::new();
        let mut highest = 0;
        let mut vstmt = conn
            .prepare_cached(
                "SELECT version, creation_time, last_updated_time, description, user_id, current_stage,
                        source, run_id, status, status_message, run_link
                 FROM model_versions WHERE name = ?1 ORDER BY version",
            )
            .map_err(|e| db.err(e))?;
        let rows = vstmt
            .query_map([&name], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, Option<String>>(7)?,
                    r.get::<_, Option<String>>(8)?,
                    r.get::<_, Option<String>>(9)?,
                    r.get::<_, Option<String>>(10)?,
                ))
            })
            .map_err(|e| db.err(e))?;
        for row in rows {
            let (
                version,
                vcreated,
                vupdated,
                vdesc,
                vuser,
                stage,
                source,
                run,
                status,
                message,
                link,
            ) = row.map_err(|e| db.err(e))?;
            highest = highest.max(version);
            let stage = stage.unwrap_or_else(|| "None".into());
            if stage == "Deleted_Internal" {
                continue;
            }
            let source = source.unwrap_or_default();
            versions.push(ModelVersion {
                name: name.clone(),
                version,
                model_id: source
                    .strip_prefix("models:/")
                    .filter(|id| id.starts_with("m-") && !id.contains('/'))
                    .map(str::to_string),
                source,
                run_id: run.filter(|r| !r.is_empty()),
                status: status
                    .as_deref()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_default(),
                status_message: message.filter(|m| !m.is_empty()),
                description: vdesc.unwrap_or_default(),
                tags: version_tags
                    .get(&format!("{name}/{version}"))
                    .cloned()
                    .unwrap_or_default(),
                aliases: Vec::new(),
                stage,
                run_link: link.unwrap_or_default(),
                user: vuser.unwrap_or_default(),
                created_at: vcreated.unwrap_or(0),
                updated_at: vupdated.unwrap_or(0),
            });
        }
        let model = RegisteredModel {
            name: name.clone(),
            description: description.unwrap_or_default(),
            tags: model_tags.get(&name).cloned().unwrap_or_default(),
            aliases: aliases.remove(&name).unwrap_or_default(),
            latest_versions: Vec::new(),
            user: String::new(),
            created_at: created.unwrap_or(0),
            updated_at: updated.unwrap_or(0),
        };
        match store.import_registered_model(&model, &versions, highest + 1, &why) {
            Ok(true) => {
                report.registered_models += 1;
                report.model_versions += versions.len() as u64;
            }
            Ok(false) => {}
            Err(e) => report.warn(format!("registered model '{name}': {e}; not imported")),
        }
    }
    Ok(())
}
