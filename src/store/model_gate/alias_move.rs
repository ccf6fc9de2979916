//! An alias move, whoever asks for it: `promote` judges the alias's gate and refuses (listing
//! every failing condition) unless it passes or the move is forced (recorded as forced);
//! `rollback` moves an alias back to the version it held before its last move (no gate: that
//! version held it before); `delete` removes an alias, and `delete_version`/`delete_model`
//! remove the aliases a deleted version or model held. Each writes the move, its history row and
//! its hook deliveries in one transaction (`ModelStore::set_alias`); delivering them is the
//! caller's (`models::promote` drains them at once; `kiroku serve` leaves them to its outbox
//! drainer).
use super::gather::{self, VersionFacts};
use super::hooks::{self, ModelEvent};
use super::policy::{self, Verdict};
use crate::config::models::ModelConfig;
use crate::error::{KirokuError, Result};
use crate::model::promotions::{NewDelivery, RemovalHooks};
use crate::model::registry::{AliasMove, AliasReason, ModelVersion};
use crate::model::{now_ms, Millis};
use crate::store::Store;

/// The word a rollback's reason starts with, so the history shows it as one.
pub const ROLLBACK_REASON: &str = "rollback";

/// Whether a move was a rollback.
pub fn is_rollback(step: &AliasMove) -> bool {
    step.reason.starts_with(ROLLBACK_REASON)
}

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
    let inputs = gather::gather(store, model, &facts(version), holder.as_ref(), now)?;
    Ok(policy::judge(alias, &policy, &inputs))
}

/// Who asks for a move, and why.
#[derive(Debug, Clone, Default)]
pub struct Asked {
    pub user: String,
    pub reason: String,
}

/// What became of a request to move an alias.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Moved {
    pub verdict: Verdict,
    /// The move, when it was made (None: refused).
    #[serde(rename = "move")]
    pub moved: Option<AliasMove>,
    /// The ids of the hook deliveries queued with it.
    #[serde(skip)]
    pub delivery_ids: Vec<String>,
}

/// The event an alias move is to the hooks (`move_id`, versions and time are the store's to
/// fill in, `NewDelivery::of_move`).
fn move_event(
    model: &str,
    alias: &str,
    target: Option<&ModelVersion>,
    why: &AliasReason,
) -> ModelEvent {
    ModelEvent {
        event: if target.is_some() {
            "alias_moved"
        } else {
            "alias_deleted"
        }
        .into(),
        model: model.into(),
        alias: Some(alias.into()),
        source: target.map(|t| t.source.clone()),
        run_id: target.and_then(|t| t.run_id.clone()),
        user: why.user.clone(),
        reason: why.reason.clone(),
        forced: why.forced,
        rollback: why.reason.starts_with(ROLLBACK_REASON),
        ..Default::default()
    }
}

/// The ids the store gives `templates` once the move is `moved`.
fn ids_of(templates: &[NewDelivery], moved: &AliasMove) -> Vec<String> {
    templates.iter().map(|t| t.of_move(moved).id).collect()
}

/// Writes the move of `alias` to `target` with its hooks.
fn set(
    store: &dyn Store,
    settings: &ModelConfig,
    alias: &str,
    target: &ModelVersion,
    why: &AliasReason,
) -> Result<(AliasMove, Vec<String>)> {
    let templates = hooks::move_templates(
        settings,
        &move_event(&target.name, alias, Some(target), why),
    );
    let moved = store.set_alias(&target.name, alias, target.version, why, &templates)?;
    let ids = ids_of(&templates, &moved);
    Ok((moved, ids))
}

/// Moves `alias` of `model` to `version` when its gate passes, or when `force` (recorded as
/// forced, the failing conditions in the reason when none is given); refuses otherwise
/// (`moved` None), listing every failing condition in the verdict.
pub fn promote(
    store: &dyn Store,
    settings: &ModelConfig,
    model: &str,
    alias: &str,
    version: i64,
    asked: &Asked,
    force: bool,
) -> Result<Moved> {
    let target = store.model_version(model, version)?;
    let verdict = verdict(store, settings, model, alias, &target, now_ms())?;
    if !verdict.passes() && !force {
        return Ok(Moved {
            verdict,
            moved: None,
            delivery_ids: Vec::new(),
        });
    }
    let forced = force && !verdict.passes();
    let reason = if forced && asked.reason.is_empty() {
        format!(
            "forced past: {}",
            verdict
                .failing()
                .map(|c| c.condition.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        )
    } else {
        asked.reason.clone()
    };
    let why = AliasReason {
        user: asked.user.clone(),
        reason,
        forced,
    };
    let (moved, delivery_ids) = set(store, settings, alias, &target, &why)?;
    Ok(Moved {
        verdict,
        moved: Some(moved),
        delivery_ids,
    })
}

/// Moves `alias` back to the version it held before its last move, recorded as a rollback;
/// returns the move and its deliveries' ids.
pub fn rollback(
    store: &dyn Store,
    settings: &ModelConfig,
    model: &str,
    alias: &str,
    asked: &Asked,
) -> Result<(AliasMove, Vec<String>)> {
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
        if asked.reason.is_empty() {
            String::new()
        } else {
            format!(": {}", asked.reason)
        }
    );
    let why = AliasReason {
        user: asked.user.clone(),
        reason,
        forced: false,
    };
    set(store, settings, alias, &target, &why)
}

/// Removes `alias` of `model` (no gate: nothing is promoted), firing the `alias_deleted` hooks;
/// returns the move (to no version) and its deliveries' ids.
pub fn delete(
    store: &dyn Store,
    settings: &ModelConfig,
    model: &str,
    alias: &str,
    asked: &Asked,
) -> Result<(AliasMove, Vec<String>)> {
    let why = AliasReason {
        user: asked.user.clone(),
        reason: asked.reason.clone(),
        forced: false,
    };
    let templates = hooks::move_templates(settings, &move_event(model, alias, None, &why));
    let moved = store.delete_alias(model, alias, &why, &templates)?;
    let ids = ids_of(&templates, &moved);
    Ok((moved, ids))
}

/// The hook templates of removing each of `aliases` of `model` (`alias_deleted` events).
fn removal_hooks<'a>(
    settings: &ModelConfig,
    model: &str,
    aliases: impl IntoIterator<Item = &'a String>,
    why: &AliasReason,
) -> RemovalHooks {
    aliases
        .into_iter()
        .map(|alias| {
            let event = move_event(model, alias, None, why);
            (alias.clone(), hooks::move_templates(settings, &event))
        })
        .collect()
}

/// The ids of the deliveries `moves` queued from `hooks`.
fn removal_ids(hooks: &RemovalHooks, moves: &[AliasMove]) -> Vec<String> {
    moves
        .iter()
        .flat_map(|m| ids_of(hooks.get(&m.alias).map_or(&[][..], Vec::as_slice), m))
        .collect()
}

/// What deleting a version or a model did to its aliases: the moves (to no version) and the ids
/// of the hook deliveries they queued.
#[derive(Debug, Clone, Default)]
pub struct Removed {
    pub moves: Vec<AliasMove>,
    pub delivery_ids: Vec<String>,
}

/// Deletes version `version` of `model`; each alias it held is removed as `delete` removes one
/// (history row, `alias_deleted` hooks), in the deletion's transaction.
pub fn delete_version(
    store: &dyn Store,
    settings: &ModelConfig,
    model: &str,
    version: i64,
    asked: &Asked,
) -> Result<Removed> {
    let held = store.model_version(model, version)?.aliases;
    let why = removal_reason(asked, &format!("version {version} deleted"));
    let hooks = removal_hooks(settings, model, &held, &why);
    let moves = store.delete_model_version(model, version, &why, &hooks)?;
    Ok(Removed {
        delivery_ids: removal_ids(&hooks, &moves),
        moves,
    })
}

/// Deletes `model` with its versions; each alias it held is removed as `delete` removes one.
pub fn delete_model(
    store: &dyn Store,
    settings: &ModelConfig,
    model: &str,
    asked: &Asked,
) -> Result<Removed> {
    let held = store.registered_model(model)?.aliases;
    let why = removal_reason(asked, "model deleted");
    let hooks = removal_hooks(settings, model, held.keys(), &why);
    let moves = store.delete_registered_model(model, &why, &hooks)?;
    Ok(Removed {
        delivery_ids: removal_ids(&hooks, &moves),
        moves,
    })
}

/// The reason a removal by deletion is recorded with: what was deleted, and the asker's reason.
fn removal_reason(asked: &Asked, what: &str) -> AliasReason {
    AliasReason {
        user: asked.user.clone(),
        reason: if asked.reason.is_empty() {
            what.to_string()
        } else {
            format!("{what}: {}", asked.reason)
        },
        forced: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_completed_by_the_move_is_the_delivery_the_move_fires() {
        let settings = crate::config::Config::parse(
            "[[models.m.hooks]]\ncommand = './deploy.sh'\nurl = 'http://127.0.0.1:9/x'\n",
            std::path::Path::new("k.toml"),
        )
        .unwrap()
        .models["m"]
            .clone();
        let why = AliasReason {
            user: "alice".into(),
            reason: "rollback of move 3".into(),
            forced: false,
        };
        let target = ModelVersion {
            name: "m".into(),
            version: 2,
            source: "runs:/r/model".into(),
            run_id: Some("r".into()),
            model_id: None,
            status: crate::model::registry::ModelVersionStatus::Ready,
            status_message: None,
            description: String::new(),
            tags: Default::default(),
            aliases: Vec::new(),
            stage: "None".into(),
            run_link: String::new(),
            user: "alice".into(),
            created_at: 1,
            updated_at: 1,
        };
        let moved = AliasMove {
            id: 7,
            model: "m".into(),
            alias: "production".into(),
            from_version: Some(1),
            to_version: Some(2),
            user: "alice".into(),
            time: 1234,
            reason: why.reason.clone(),
            forced: false,
        };
        let templates = hooks::move_templates(
            &settings,
            &move_event("m", "production", Some(&target), &why),
        );
        let completed: Vec<NewDelivery> = templates.iter().map(|t| t.of_move(&moved)).collect();
        let mut event = move_event("m", "production", Some(&target), &why);
        event.move_id = Some(7);
        event.version = Some("2".into());
        event.previous_version = Some("1".into());
        event.time = 1234;
        assert_eq!(completed, hooks::deliveries_for(&settings, &event));
        assert_eq!(
            ids_of(&templates, &moved),
            ["move-7-0-command", "move-7-0-webhook"]
        );
        assert_eq!(completed[0].payload["data"]["rollback"], true);
    }
}
