//! Evaluation on registration: each new version of a model whose `[models.NAME]` names an
//! `evaluate` command gets a job running it, with the version in its environment
//! (`KIROKU_MODEL_NAME`, `KIROKU_MODEL_VERSION`, `KIROKU_MODEL_SOURCE`, `KIROKU_MODEL_RUN_ID`,
//! and `MLFLOW_TRACKING_URI` when the store is a server). The job's run is the evaluation run:
//! the metrics it logs (printed `key: value` lines, `KIROKU_METRICS_FILE`, or MLflow) are the
//! version's evaluation metrics, laid over its training run's in gates and listings.
//!
//! `refresh` follows pending evaluations to their job: once the job has a run, the evaluation
//! is bound to it; once the job ends, the evaluation is finished (the job succeeded) or failed.
//! Versions that arrive another way (the MLflow API) are picked up by `missing`: every
//! `kiroku model` command that lists versions submits their evaluations (see `cli::model`).
use super::Submitter;
use crate::config::models::EvaluateConfig;
use crate::error::Result;
use crate::model::promotions::{Evaluation, EvaluationStatus};
use crate::model::JobStatus;
use crate::store::Store;

/// The experiment evaluation runs go to unless `evaluate.experiment` says otherwise.
pub const DEFAULT_EXPERIMENT: &str = "model-eval";

/// The version an evaluation is of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionToEvaluate {
    pub model: String,
    pub version: String,
    pub source: String,
    pub run_id: Option<String>,
}

/// Submits the evaluation job of `version` and records it.
pub fn submit(
    submitter: &Submitter<'_>,
    evaluate: &EvaluateConfig,
    version: &VersionToEvaluate,
) -> Result<Evaluation> {
    let mut env = vec![
        ("KIROKU_MODEL_NAME".to_string(), version.model.clone()),
        ("KIROKU_MODEL_VERSION".to_string(), version.version.clone()),
        ("KIROKU_MODEL_SOURCE".to_string(), version.source.clone()),
        (
            "KIROKU_MODEL_RUN_ID".to_string(),
            version.run_id.clone().unwrap_or_default(),
        ),
    ];
    if let Some(uri) = submitter.tracking_uri() {
        env.push(("MLFLOW_TRACKING_URI".to_string(), uri));
    }
    let job = submitter.new_job(
        &format!("eval {}/{}", version.model, version.version),
        evaluate.experiment.as_deref().unwrap_or(DEFAULT_EXPERIMENT),
        &evaluate.command,
        evaluate.target.as_deref(),
        env,
    )?;
    let job = submitter.submit(&job)?;
    submitter
        .store
        .add_evaluation(&version.model, &version.version, job.id, &submitter.user)
}

/// What an evaluation's job says of it now: its run (once it has one) and its status.
fn follow(store: &dyn Store, evaluation: &Evaluation) -> Result<Option<Evaluation>> {
    let job = store.job(evaluation.job_id)?;
    let status = match job.status {
        JobStatus::Finished => EvaluationStatus::Finished,
        JobStatus::Queued | JobStatus::Starting | JobStatus::Running => EvaluationStatus::Pending,
        _ => EvaluationStatus::Failed,
    };
    if status == evaluation.status && job.run_id == evaluation.run_id {
        return Ok(None);
    }
    store
        .update_evaluation(evaluation.job_id, job.run_id.as_deref(), status)
        .map(Some)
}

/// Brings the pending evaluations of `model` (of every model when None) up to date with their
/// jobs; returns every evaluation of it, as recorded after.
pub fn refresh(store: &dyn Store, model: Option<&str>) -> Result<Vec<Evaluation>> {
    let mut evaluations = store.evaluations(model)?;
    for evaluation in evaluations.iter_mut() {
        if evaluation.status != EvaluationStatus::Pending {
            continue;
        }
        if let Some(updated) = follow(store, evaluation)? {
            *evaluation = updated;
        }
    }
    Ok(evaluations)
}

/// The evaluation that counts for `model`/`version`: its newest.
pub fn latest<'a>(
    evaluations: &'a [Evaluation],
    model: &str,
    version: &str,
) -> Option<&'a Evaluation> {
    evaluations
        .iter()
        .rev()
        .find(|e| e.model == model && e.version == version)
}

/// The versions among `versions` that have no evaluation yet.
pub fn missing<'a>(
    evaluations: &[Evaluation],
    versions: &'a [VersionToEvaluate],
) -> Vec<&'a VersionToEvaluate> {
    versions
        .iter()
        .filter(|v| latest(evaluations, &v.model, &v.version).is_none())
        .collect()
}
