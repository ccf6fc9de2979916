//! Experiments: each MLflow experiment becomes (or joins) the kiroku experiment of its name,
//! with its tags, then its runs go in; a deleted MLflow experiment is deleted once they are.
//!
//! A new experiment keeps MLflow's id and its `creation_time` and `last_update_time` (a
//! deleted one is deleted as of its `last_update_time`), so that the MLflow API answers with
//! the ids and times MLflow did. MLflow's `Default` (`"0"`) is imported like any other: it
//! joins kiroku's own `Default`, which kiroku makes with id 0 too. An id another kiroku
//! experiment holds cannot be kept: those experiments are created last (so they take no id
//! that a later one could keep) with a new id, and a warning says so. An experiment that
//! joins one of the same name keeps the kiroku one's id and times (a warning names a
//! different id), which is also why importing a store twice changes nothing.
use super::artifacts::ArtifactSources;
use super::report::{ImportProgress, ImportReport};
use super::runs::{import_run, parents_first, RunContext};
use super::source::{Reader, SourceExperiment, SourceRun};
use crate::error::{KirokuError, Result};
use crate::model::{Experiment, ImportedExperiment, Millis};
use crate::store::Store;
use std::collections::{HashMap, HashSet};

/// What to do with a kiroku experiment once its runs are in.
pub(super) struct ExperimentPlan {
    /// The MLflow experiment is deleted and this import created the kiroku one: delete it after.
    pub(super) delete_after: bool,
    /// When MLflow deleted it (its last update time).
    pub(super) deleted_at: Option<Millis>,
    /// Runs cannot go in (the reason is already a warning).
    pub(super) blocked: Option<String>,
}

pub(super) fn import_experiments(
    store: &dyn Store,
    experiments: Vec<SourceExperiment>,
    reader: &Reader,
    artifacts: &mut ArtifactSources,
    user: &str,
    report: &mut ImportReport,
    progress: &dyn Fn(ImportProgress),
) -> Result<()> {
    report.experiments += experiments.len() as u64;
    let existing = store.experiments(true)?;
    let taken: HashSet<i64> = existing.iter().map(|e| e.id).collect();
    // Experiments whose MLflow id is free come first, so that they keep it.
    let mut experiments = experiments;
    experiments.sort_by_key(|exp| {
        let keeps = mlflow_id(exp).is_some_and(|id| !taken.contains(&id))
            || existing.iter().any(|e| e.name == exp.name);
        !keeps
    });
    let mut plans: HashMap<String, ExperimentPlan> = HashMap::new();
    let mut runs: Vec<(String, bool, SourceRun)> = Vec::new();
    for exp in experiments {
        if plans.contains_key(&exp.name) {
            report.warnings.push(format!(
                "two MLflow experiments are named '{}'; their runs go into one kiroku experiment",
                exp.name
            ));
        } else {
            let same_name = existing.iter().find(|e| e.name == exp.name);
            let plan = plan_experiment(store, &exp, same_name, user, report)?;
            plans.insert(exp.name.clone(), plan);
        }
        import_experiment_tags(store, &exp, user, report)?;
        for run in exp.runs {
            runs.push((exp.name.clone(), exp.deleted, run));
        }
    }

    let order = parents_first(&runs, &mut report.warnings);
    let in_source: HashSet<String> = runs.iter().map(|(_, _, r)| r.id.clone()).collect();
    let mut present: HashSet<String> = HashSet::new();
    let total = order.len() as u64;
    progress(ImportProgress {
        runs_done: 0,
        runs: total,
    });
    for (done, index) in (1u64..).zip(order) {
        let (experiment, experiment_deleted, run) = &runs[index];
        let plan = &plans[experiment];
        let ctx = RunContext {
            experiment,
            experiment_deleted: *experiment_deleted,
            in_source: &in_source,
            user,
        };
        import_run(
            store,
            reader,
            artifacts,
            run,
            plan,
            &ctx,
            &mut present,
            report,
        )?;
        progress(ImportProgress {
            runs_done: done,
            runs: total,
        });
    }

    for (name, plan) in &plans {
        match (plan.delete_after, plan.deleted_at) {
            (true, Some(at)) => store.delete_experiment_at(name, at, user)?,
            (true, None) => store.delete_experiment(name, user)?,
            (false, _) => {}
        }
    }
    Ok(())
}

/// MLflow's id of `exp` as kiroku's integer id, when it is one.
fn mlflow_id(exp: &SourceExperiment) -> Option<i64> {
    exp.id.trim().parse::<i64>().ok().filter(|id| *id >= 0)
}

/// Puts the MLflow experiment's tags (its description is `mlflow.note.content`) on the kiroku
/// experiment of the same name, setting only those that differ, so a re-import changes
/// nothing. A deleted kiroku experiment takes no tags (a warning, like its runs).
pub(super) fn import_experiment_tags(
    store: &dyn Store,
    exp: &SourceExperiment,
    user: &str,
    report: &mut ImportReport,
) -> Result<()> {
    if exp.tags.is_empty() {
        return Ok(());
    }
    let target = match store.experiment(&exp.name) {
        Ok(e) if e.name == exp.name => e,
        // Not created (nothing to bring) or another experiment's id: nowhere to put them.
        Ok(_) | Err(KirokuError::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let keys = || {
        exp.tags
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if target.deleted {
        report.warnings.push(format!(
            "experiment '{}' is deleted in kiroku; its tags ({}) were not imported",
            exp.name,
            keys()
        ));
        return Ok(());
    }
    let changed: Vec<(String, String)> = exp
        .tags
        .iter()
        .filter(|(k, v)| target.tags.get(k) != Some(v))
        .cloned()
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    match store.set_experiment_tags(&exp.name, &changed, user) {
        Ok(()) => Ok(()),
        Err(e @ KirokuError::Invalid(_)) => {
            report.warnings.push(format!(
                "experiment '{}': its tags ({}) were not imported: {e}",
                exp.name,
                keys()
            ));
            Ok(())
        }
        Err(e) => Err(e),
    }
}

pub(super) fn plan_experiment(
    store: &dyn Store,
    exp: &SourceExperiment,
    same_name: Option<&Experiment>,
    user: &str,
    report: &mut ImportReport,
) -> Result<ExperimentPlan> {
    let mut plan = ExperimentPlan {
        delete_after: false,
        deleted_at: None,
        blocked: None,
    };
    let wanted = mlflow_id(exp);
    match same_name {
        Some(e) if e.deleted => {
            plan.blocked = Some(format!(
                "experiment '{}' is deleted in kiroku; restore it to import its runs",
                exp.name
            ));
        }
        Some(e) => {
            if wanted.is_some_and(|id| id != e.id) {
                report.warnings.push(format!(
                    "MLflow experiment {} '{}' joins kiroku's experiment of that name, whose id is {}",
                    exp.id, exp.name, e.id
                ));
            }
        }
        None => {
            let new = ImportedExperiment {
                name: exp.name.clone(),
                id: wanted,
                created_ms: exp.created_ms,
                updated_ms: exp.updated_ms,
            };
            let created = store.import_experiment(&new, user)?;
            if wanted.is_some_and(|id| id != created.id) {
                report.warnings.push(format!(
                    "MLflow experiment {} '{}' is kiroku experiment {}: another experiment holds id {}",
                    exp.id, exp.name, created.id, exp.id
                ));
            }
            report.experiments_created += 1;
            plan.delete_after = exp.deleted;
            plan.deleted_at = exp.updated_ms;
        }
    }
    Ok(plan)
}
