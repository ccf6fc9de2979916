//! Gathers what an alias's gate is judged on (`policy::GateInputs`) from the store: the
//! candidate's training run (with the metrics of its newest finished evaluation laid over the
//! run's own), the current holder's metrics likewise, where each dataset version the training
//! run read stands with its checks (`store::checks_gate`, the data issue's one judge), and the
//! approvals of the candidate. Versions are given by what the registry holds of them (the run
//! id), so this needs no registry of its own.
use super::evaluations as evaluation;
use super::policy::{metric_values, Candidate, DataStanding, GateInputs, Holder};
use crate::error::{KirokuError, Result};
use crate::model::promotions::{Evaluation, EvaluationStatus};
use crate::model::{Millis, Run, RunDetail};
use crate::store::{checks_gate, Store};

/// A version as the gate needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionFacts {
    pub version: String,
    pub run_id: Option<String>,
}

fn run_detail(store: &dyn Store, run_id: &str) -> Result<Option<RunDetail>> {
    match store.run(run_id) {
        Ok(detail) => Ok(Some(detail)),
        Err(KirokuError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The version's training run with its evaluation's metrics over its own; whether the newest
/// evaluation is still pending.
fn facts_of(
    store: &dyn Store,
    model: &str,
    version: &VersionFacts,
    evaluations: &[Evaluation],
) -> Result<(Option<RunDetail>, bool)> {
    let mut detail = match &version.run_id {
        Some(id) => run_detail(store, id)?,
        None => None,
    };
    let newest = evaluation::latest(evaluations, model, &version.version);
    let pending = newest.is_some_and(|e| e.status == EvaluationStatus::Pending);
    let finished = evaluations
        .iter()
        .rev()
        .filter(|e| e.model == model && e.version == version.version)
        .find(|e| e.status == EvaluationStatus::Finished && e.run_id.is_some());
    if let Some(eval_run) = finished.and_then(|e| e.run_id.as_deref()) {
        if let Some(eval) = run_detail(store, eval_run)? {
            match &mut detail {
                Some(d) => d.run.metrics.extend(eval.run.metrics),
                // No training run: the evaluation's run stands in (its metrics, its params).
                None => detail = Some(eval),
            }
        }
    }
    Ok((detail, pending))
}

/// Where each dataset version run `run_id` read stands with its checks.
pub fn data_standings(store: &dyn Store, run_id: &str, now: Millis) -> Result<Vec<DataStanding>> {
    let mut out = Vec::new();
    for input in store.run_inputs(run_id)? {
        let version = store.dataset_version(&format!("{}@{}", input.dataset, input.version_id))?;
        let label = format!("{}@{}", version.dataset, version.number);
        let gate = checks_gate::version_gate(store, version, now)?;
        let all_passed = gate
            .check_run
            .as_ref()
            .is_some_and(|run| run.run.results.iter().all(|r| !r.status.needs_review()));
        out.push(DataStanding {
            dataset: label,
            checked: gate.check_run.is_some(),
            all_passed,
            cleared: gate.passes(),
            why: gate.refusal(),
        });
    }
    Ok(out)
}

/// Everything the gate of an alias of `model` is judged on, for moving it to `candidate` from
/// `holder` (the version it holds now, if any).
pub fn gather(
    store: &dyn Store,
    model: &str,
    candidate: &VersionFacts,
    holder: Option<&VersionFacts>,
    now: Millis,
) -> Result<GateInputs> {
    let evaluations = evaluation::refresh(store, Some(model))?;
    let (detail, evaluation_pending) = facts_of(store, model, candidate, &evaluations)?;
    let holder = match holder {
        None => None,
        Some(h) => {
            let (held, _) = facts_of(store, model, h, &evaluations)?;
            Some(Holder {
                version: h.version.clone(),
                metrics: held
                    .map(|d| metric_values(&d.run.metrics))
                    .unwrap_or_default(),
            })
        }
    };
    let data = match &candidate.run_id {
        Some(id) if detail.is_some() => data_standings(store, id, now)?,
        _ => Vec::new(),
    };
    let (run, inputs): (Option<Run>, _) = match detail {
        Some(d) => (Some(d.run), d.inputs),
        None => (None, Vec::new()),
    };
    Ok(GateInputs {
        candidate: Candidate {
            version: candidate.version.clone(),
            run,
            inputs,
            evaluation_pending,
        },
        holder,
        data,
        approvals: store.approvals(model, Some(&candidate.version))?,
    })
}
