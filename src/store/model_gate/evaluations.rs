//! Following evaluations of model versions to their jobs: once an evaluation's job has a run,
//! the evaluation is bound to it; once the job ends, the evaluation is finished (the job
//! succeeded) or failed. Submitting one is `models::evaluation`'s (it makes a job); what the
//! gate needs of them is here, so the server can judge gates.
use crate::error::Result;
use crate::model::promotions::{Evaluation, EvaluationStatus};
use crate::model::JobStatus;
use crate::store::Store;

/// The version an evaluation is of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionToEvaluate {
    pub model: String,
    pub version: String,
    pub source: String,
    pub run_id: Option<String>,
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
