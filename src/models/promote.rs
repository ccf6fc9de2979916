//! What `kiroku model` (and the TUI's Models screen) do to the registry beyond plain reads:
//! register a run's model as a new version (evaluating it and firing `version_created` hooks),
//! move an alias through its gate (refusing with every failing condition unless forced, the
//! force recorded), roll an alias back to the version it held before its last move, and fire an
//! event's hooks.
//!
//! The move itself (gate, history, hooks queued in the move's transaction) is
//! `store::model_gate::alias_move`'s, the one path every alias move takes, MLflow's alias routes
//! included; here the command that moved the alias then delivers the hooks at once; what fails
//! is retried by the scheduler's loop, `kiroku serve`'s drainer and `kiroku model hooks
//! deliver`. Delivery ids derive from the move's id, so a move's hooks are never enqueued twice.
use super::evaluation::{self, VersionToEvaluate};
use super::hooks::{self, ModelEvent};
use super::outbox::{self, Take};
use super::policy::Verdict;
use super::Submitter;
use crate::config::models::ModelConfig;
use crate::error::{KirokuError, Result};
use crate::model::promotions::{Evaluation, HookDelivery};
use crate::model::registry::{AliasMove, ModelVersion, NewModelVersion, NewRegisteredModel};
use crate::model::Millis;
use crate::store::model_gate::alias_move;

pub use crate::store::model_gate::alias_move::{facts, is_rollback, verdict, ROLLBACK_REASON};

/// What became of a request to move an alias.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Promotion {
    pub verdict: Verdict,
    /// The move, when it was made (None: refused).
    #[serde(rename = "move")]
    pub moved: Option<AliasMove>,
    /// The hook deliveries it fired, as they stand after the first attempt.
    pub deliveries: Vec<HookDelivery>,
}

fn asked(submitter: &Submitter<'_>, reason: &str) -> alias_move::Asked {
    alias_move::Asked {
        user: submitter.user.clone(),
        reason: reason.to_string(),
    }
}

/// Moves `alias` of `model` to `version` through its gate (`store::model_gate::alias_move`),
/// then makes the first attempt at the hook deliveries queued with the move.
pub fn promote(
    submitter: &Submitter<'_>,
    settings: &ModelConfig,
    model: &str,
    alias: &str,
    version: i64,
    reason: &str,
    force: bool,
) -> Result<Promotion> {
    let made = alias_move::promote(
        submitter.store,
        settings,
        model,
        alias,
        version,
        &asked(submitter, reason),
        force,
    )?;
    let deliveries = deliver_now(submitter, model, made.delivery_ids)?;
    Ok(Promotion {
        verdict: made.verdict,
        moved: made.moved,
        deliveries,
    })
}

/// Moves `alias` back to the version it held before its last move, recorded as a rollback
/// (gates are not asked: the version held the alias before), and fires the hooks.
pub fn rollback(
    submitter: &Submitter<'_>,
    settings: &ModelConfig,
    model: &str,
    alias: &str,
    why: &str,
) -> Result<(AliasMove, Vec<HookDelivery>)> {
    let (moved, ids) = alias_move::rollback(
        submitter.store,
        settings,
        model,
        alias,
        &asked(submitter, why),
    )?;
    Ok((moved, deliver_now(submitter, model, ids)?))
}

/// Deletes `model`, or its version `version`, removing the aliases it held (each a move to no
/// version, in the history), and fires their `alias_deleted` hooks.
pub fn delete(
    submitter: &Submitter<'_>,
    settings: &ModelConfig,
    model: &str,
    version: Option<i64>,
    why: &str,
) -> Result<(Vec<AliasMove>, Vec<HookDelivery>)> {
    let asked = asked(submitter, why);
    let removed = match version {
        Some(v) => alias_move::delete_version(submitter.store, settings, model, v, &asked)?,
        None => alias_move::delete_model(submitter.store, settings, model, &asked)?,
    };
    Ok((
        removed.moves,
        deliver_now(submitter, model, removed.delivery_ids)?,
    ))
}

/// Makes the first attempt at deliveries `ids` (queued with an alias move), returning them as
/// they stand after it (those another drainer holds, as the outbox has them).
fn deliver_now(
    submitter: &Submitter<'_>,
    model: &str,
    ids: Vec<String>,
) -> Result<Vec<HookDelivery>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let attempted = outbox::drain(submitter, &Take::These(ids.clone()))?;
    let held = submitter.store.deliveries(Some(model), 1000)?;
    Ok(ids
        .iter()
        .filter_map(|id| {
            attempted
                .iter()
                .chain(held.iter())
                .find(|d| &d.delivery.id == id)
                .cloned()
        })
        .collect())
}

/// Puts the deliveries `event` fires in the outbox and makes the first attempt at each.
pub fn fire(
    submitter: &Submitter<'_>,
    settings: &ModelConfig,
    event: &ModelEvent,
) -> Result<Vec<HookDelivery>> {
    let deliveries = hooks::deliveries_for(settings, event);
    if deliveries.is_empty() {
        return Ok(Vec::new());
    }
    let queued = submitter.store.enqueue_deliveries(&deliveries)?;
    let ids: Vec<String> = queued.iter().map(|d| d.delivery.id.clone()).collect();
    let attempted = outbox::drain(submitter, &Take::These(ids.clone()))?;
    // Those another drainer held stay as the outbox has them.
    Ok(queued
        .into_iter()
        .map(|q| {
            attempted
                .iter()
                .find(|a| a.delivery.id == q.delivery.id)
                .cloned()
                .unwrap_or(q)
        })
        .collect())
}

/// What `register` made.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Registered {
    pub version: ModelVersion,
    pub evaluation: Option<Evaluation>,
    pub deliveries: Vec<HookDelivery>,
}

/// Registers `source` (of run `run_id`) as the next version of `model` (creating the model
/// when it is new), submits its evaluation when the model has one configured, and fires the
/// `version_created` hooks.
pub fn register(
    submitter: &Submitter<'_>,
    settings: &ModelConfig,
    model: &str,
    run_id: Option<&str>,
    source: &str,
) -> Result<Registered> {
    let store = submitter.store;
    match store.registered_model(model) {
        Ok(_) => {}
        Err(KirokuError::NotFound(_)) => {
            store.create_registered_model(&NewRegisteredModel {
                name: model.into(),
                user: submitter.user.clone(),
                ..Default::default()
            })?;
        }
        Err(e) => return Err(e),
    }
    let version = store.create_model_version(&NewModelVersion {
        name: model.into(),
        source: source.into(),
        run_id: run_id.map(str::to_string),
        user: submitter.user.clone(),
        ..Default::default()
    })?;
    let evaluation = evaluate(submitter, settings, &version)?;
    let deliveries = fire(submitter, settings, &created_event(&version))?;
    Ok(Registered {
        version,
        evaluation,
        deliveries,
    })
}

/// Submits the evaluation of `version` when the model has one configured.
fn evaluate(
    submitter: &Submitter<'_>,
    settings: &ModelConfig,
    version: &ModelVersion,
) -> Result<Option<Evaluation>> {
    settings
        .evaluate
        .as_ref()
        .map(|evaluate| evaluation::submit(submitter, evaluate, &to_evaluate(version)))
        .transpose()
}

/// The `version_created` event of `version`.
fn created_event(version: &ModelVersion) -> ModelEvent {
    ModelEvent {
        event: "version_created".into(),
        model: version.name.clone(),
        version: Some(version.version.to_string()),
        source: Some(version.source.clone()),
        run_id: version.run_id.clone(),
        user: version.user.clone(),
        time: version.created_at,
        ..Default::default()
    }
}

/// What follows a version registered another way (MLflow's API, through `kiroku serve`): its
/// evaluation is submitted when the model has one configured, and its `version_created` hooks
/// are queued (the caller's drainer delivers them, so the registering client does not wait on
/// a webhook).
pub fn after_registration(
    submitter: &Submitter<'_>,
    settings: &ModelConfig,
    version: &ModelVersion,
) -> Result<Registered> {
    let evaluation = evaluate(submitter, settings, version)?;
    let deliveries = submitter
        .store
        .enqueue_deliveries(&hooks::deliveries_for(settings, &created_event(version)))?;
    Ok(Registered {
        version: version.clone(),
        evaluation,
        deliveries,
    })
}

/// A version as its evaluation needs it.
pub fn to_evaluate(version: &ModelVersion) -> VersionToEvaluate {
    VersionToEvaluate {
        model: version.name.clone(),
        version: version.version.to_string(),
        source: version.source.clone(),
        run_id: version.run_id.clone(),
    }
}

/// Submits the evaluations of the versions of `model` that have none (those registered
/// through the MLflow API, or before `evaluate` was configured), when the model has an
/// evaluation configured; returns those submitted.
pub fn evaluate_missing(
    submitter: &Submitter<'_>,
    settings: &ModelConfig,
    model: &str,
    versions: &[ModelVersion],
) -> Result<Vec<Evaluation>> {
    let Some(evaluate) = &settings.evaluate else {
        return Ok(Vec::new());
    };
    let evaluations = submitter.store.evaluations(Some(model))?;
    let wanted: Vec<VersionToEvaluate> = versions.iter().map(to_evaluate).collect();
    evaluation::missing(&evaluations, &wanted)
        .into_iter()
        .map(|v| evaluation::submit(submitter, evaluate, v))
        .collect()
}

/// The version each alias held at `time`, from an alias history (oldest first): the last move
/// at or before it (None: the alias was unset then).
pub fn held_at(history: &[AliasMove], time: Millis) -> Vec<(String, Option<i64>, &AliasMove)> {
    let mut held: std::collections::BTreeMap<&str, &AliasMove> = Default::default();
    for step in history.iter().filter(|m| m.time <= time) {
        held.insert(step.alias.as_str(), step);
    }
    held.into_iter()
        .map(|(alias, step)| (alias.to_string(), step.to_version, step))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(id: i64, alias: &str, from: Option<i64>, to: Option<i64>, time: Millis) -> AliasMove {
        AliasMove {
            id,
            model: "m".into(),
            alias: alias.into(),
            from_version: from,
            to_version: to,
            user: "u".into(),
            time,
            reason: String::new(),
            forced: false,
        }
    }

    #[test]
    fn what_each_alias_held_at_a_time() {
        let history = vec![
            step(1, "production", None, Some(1), 100),
            step(2, "staging", None, Some(2), 150),
            step(3, "production", Some(1), Some(2), 200),
            step(4, "staging", Some(2), None, 300),
        ];
        let at = |t| {
            held_at(&history, t)
                .into_iter()
                .map(|(a, v, _)| (a, v))
                .collect::<Vec<_>>()
        };
        assert_eq!(at(50), vec![]);
        assert_eq!(at(100), vec![("production".into(), Some(1))]);
        assert_eq!(
            at(250),
            vec![("production".into(), Some(2)), ("staging".into(), Some(2))]
        );
        assert_eq!(
            at(300),
            vec![("production".into(), Some(2)), ("staging".into(), None)]
        );
    }
}
