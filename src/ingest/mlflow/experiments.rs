//! Experiments: each MLflow experiment becomes (or joins) the kiroku experiment of its name,
//! with its tags, then its runs go in; a deleted MLflow experiment is deleted once they are.
use super::artifacts::ArtifactSources;
use super::report::{ImportProgress, ImportReport};
use super::runs::{import_run, parents_first, RunContext};
use super::source::{Reader, SourceExperiment, SourceRun};
use crate::error::{KirokuError, Result};
use crate::store::Store;
use std::collections::{HashMap, HashSet};

/// What to do with a kiroku experiment once its runs are in.
pub(super) struct ExperimentPlan {
    /// The MLflow experiment is deleted and this import created the kiroku one: delete it after.
    pub(super) delete_after: bool,
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
    let mut plans: HashMap<String, ExperimentPlan> = HashMap::new();
    let mut runs: Vec<(String, bool, SourceRun)> = Vec::new();
    for exp in experiments {
        if plans.contains_key(&exp.name) {
            report.warnings.push(format!(
                "two MLflow experiments are named '{}'; their runs go into one kiroku experiment",
                exp.name
            ));
        } else {
            let plan = plan_experiment(store, &exp, user, report)?;
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
        if plan.delete_after {
            store.delete_experiment(name, user)?;
        }
    }
    Ok(())
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
    user: &str,
    report: &mut ImportReport,
) -> Result<ExperimentPlan> {
    let mut plan = ExperimentPlan {
        delete_after: false,
        blocked: None,
    };
    let existing = match store.experiment(&exp.name) {
        Ok(e) if e.name == exp.name => Some(e),
        // `Store::experiment` also takes numeric ids: another experiment's id is no match.
        Ok(_) => None,
        Err(KirokuError::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    match existing {
        Some(e) if e.deleted => {
            plan.blocked = Some(format!(
                "experiment '{}' is deleted in kiroku; restore it to import its runs",
                exp.name
            ));
        }
        Some(_) => {}
        None => {
            // MLflow's automatic Default experiment is only worth creating when it has runs, and
            // a deleted experiment only for the runs it brings.
            let nothing_to_bring = exp.runs.is_empty() && (exp.id == "0" || exp.deleted);
            if !nothing_to_bring {
                store.create_experiment(&exp.name, user)?;
                report.experiments_created += 1;
                plan.delete_after = exp.deleted;
            }
        }
    }
    Ok(plan)
}
