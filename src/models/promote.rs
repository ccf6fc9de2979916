//! What `kiroku model` (and the TUI's Models screen) do to the registry beyond plain reads:
//! register a run's model as a new version (evaluating it and firing `version_created` hooks),
//! move an alias through its gate (refusing with every failing condition unless forced, the
//! force recorded), roll an alias back to the version it held before its last move, and fire an
//! event's hooks.
//!
//! Hooks are put in the outbox right after the alias move is recorded (the move is the registry's
//! transaction, `ModelStore::set_alias`; the outbox is this domain's), then the command that
//! moved the alias delivers them at once; what fails is retried by the scheduler's loop and
//! `kiroku model hooks deliver`. Delivery ids derive from the move's id, so a move's hooks are
//! never enqueued twice.
use super::evaluation::{self, VersionToEvaluate};
use super::gate::{self, VersionFacts};
use super::hooks::{self, ModelEvent};
use super::outbox::{self, Take};
use super::policy::{self, Verdict};
use super::Submitter;
use crate::config::models::ModelConfig;
use crate::error::{KirokuError, Result};
use crate::model::promotions::{Evaluation, HookDelivery};
use crate::model::registry::{
    AliasMove, AliasReason, ModelVersion, NewModelVersion, NewRegisteredModel,
};
use crate::model::{now_ms, Millis};
use crate::store::Store;

/// A version as the gate sees it.
pub fn facts(version: &ModelVersion) -> VersionFacts {
    VersionFacts {
        version: version.version.to_string(),
        run_id: version.run_id.clone(),
    }
}

/// The gate's verdict on moving `alias` of `model` to `version` (an alias with no policy has
/// no conditions, and passes).
pub fn verdict(
    store: &dyn Store,
    settings: &ModelConfig,
    model: &str,
    alias: &str,
    version: &ModelVersion,
    now: Millis,
) -> Result<Verdict> {
    let policy = settings.aliases.get(alias).cloned().unwrap_or_default();
    let holder = match store.version_by_alias(model, alias) {
        Ok(v) => Some(facts(&v)),
        Err(KirokuError::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    let inputs = gate::gather(store, model, &facts(version), holder.as_ref(), now)?;
    Ok(policy::judge(alias, &policy, &inputs))
}

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

/// Moves `alias` of `model` to `version` when its gate passes, or when `force` (recorded as
/// forced); refuses otherwise (`moved` None), listing every failing condition in the verdict.
#[allow(clippy::too_many_arguments)]
pub fn promote(
    submitter: &Submitter<'_>,
    settings: &ModelConfig,
    model: &str,
    alias: &str,
    version: i64,
    reason: &str,
    force: bool,
) -> Result<Promotion> {
    let store = submitter.store;
    let target = store.model_version(model, version)?;
    let verdict = verdict(store, settings, model, alias, &target, now_ms())?;
    if !verdict.passes() && !force {
        return Ok(Promotion {
            verdict,
            moved: None,
            deliveries: Vec::new(),
        });
    }
    let forced = force && !verdict.passes();
    let reason = if forced && reason.is_empty() {
        format!(
            "forced past: {}",
            verdict
                .failing()
                .map(|c| c.condition.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        )
    } else {
        reason.to_string()
    };
    let moved = store.set_alias(
        model,
        alias,
        version,
        &AliasReason {
            user: submitter.user.clone(),
            reason,
            forced,
        },
    )?;
    let deliveries = fire_move(submitter, settings, &moved, &target, false)?;
    Ok(Promotion {
        verdict,
        moved: Some(moved),
        deliveries,
    })
}

/// The word a rollback's reason starts with, so the history shows it as one.
pub const ROLLBACK_REASON: &str = "rollback";

/// Whether a move was a rollback.
pub fn is_rollback(step: &AliasMove) -> bool {
    step.reason.starts_with(ROLLBACK_REASON)
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
    let store = submitter.store;
    let history = store.alias_history(model, Some(alias))?;
    let Some(last) = history.last() else {
        return Err(KirokuError::NotFound(format!(
            "{model}@{alias} has never been set: nothing to roll back"
        )));
    };
    let Some(previous) = last.from_version else {
        return Err(KirokuError::Invalid(format!(
            "{model}@{alias} held no version before its last move (move {}, to version {}): nothing to roll back to",
            last.id,
            last.to_version.map_or("none".into(), |v| v.to_string())
        )));
    };
    let target = store.model_version(model, previous)?;
    let reason = format!(
        "{ROLLBACK_REASON} of move {} (version {} back to {previous}){}",
        last.id,
        last.to_version.map_or("none".into(), |v| v.to_string()),
        if why.is_empty() {
            String::new()
        } else {
            format!(": {why}")
        }
    );
    let moved = store.set_alias(
        model,
        alias,
        previous,
        &AliasReason {
            user: submitter.user.clone(),
            reason,
            forced: false,
        },
    )?;
    let deliveries = fire_move(submitter, settings, &moved, &target, true)?;
    Ok((moved, deliveries))
}

/// Enqueues and delivers the hooks of one alias move.
fn fire_move(
    submitter: &Submitter<'_>,
    settings: &ModelConfig,
    moved: &AliasMove,
    target: &ModelVersion,
    rollback: bool,
) -> Result<Vec<HookDelivery>> {
    let event = ModelEvent {
        event: "alias_moved".into(),
        model: moved.model.clone(),
        alias: Some(moved.alias.clone()),
        version: moved.to_version.map(|v| v.to_string()),
        previous_version: moved.from_version.map(|v| v.to_string()),
        source: Some(target.source.clone()),
        run_id: target.run_id.clone(),
        user: moved.user.clone(),
        reason: moved.reason.clone(),
        forced: moved.forced,
        rollback,
        move_id: Some(moved.id),
        time: moved.time,
    };
    fire(submitter, settings, &event)
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
    let evaluation = match &settings.evaluate {
        Some(evaluate) => Some(evaluation::submit(
            submitter,
            evaluate,
            &to_evaluate(&version),
        )?),
        None => None,
    };
    let event = ModelEvent {
        event: "version_created".into(),
        model: model.into(),
        version: Some(version.version.to_string()),
        source: Some(version.source.clone()),
        run_id: version.run_id.clone(),
        user: submitter.user.clone(),
        time: version.created_at,
        ..Default::default()
    };
    let deliveries = fire(submitter, settings, &event)?;
    Ok(Registered {
        version,
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
