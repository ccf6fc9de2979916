//! Which hooks an event fires and what each delivery carries. An event is an alias move (a
//! promotion or a rollback), an alias deleted, a version created, or a test (`kiroku model
//! hooks test`, which fires every hook). Each firing hook becomes one outbox delivery
//! (`model::promotions::NewDelivery`) whose payload is the webhook body MLflow 3 sends,
//! `{entity, action, timestamp, data: {...}}`; a command hook gets the same fields in its
//! environment (`command_env`).
//!
//! Delivery ids are derived from what fired them (`move-<alias move id>-<hook index>`), so
//! enqueueing the deliveries of one move twice changes nothing; a test's ids are fresh. A move's
//! deliveries are decided before the move (`move_templates`) and completed by the store in the
//! move's transaction (`NewDelivery::of_move`), which gives the move its id. This lives in the
//! store layer because the server moves aliases too (MLflow's alias routes).
use crate::config::models::ModelConfig;
use crate::model::promotions::{HookAction, NewDelivery};
use crate::model::Millis;
use serde::{Deserialize, Serialize};

/// What happened, as the hooks see it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelEvent {
    /// `alias_moved`, `alias_deleted`, `version_created` (`config::models::HOOK_EVENTS`), or
    /// `test`.
    pub event: String,
    pub model: String,
    #[serde(default)]
    pub alias: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub previous_version: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub run_id: Option<String>,
    pub user: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub forced: bool,
    #[serde(default)]
    pub rollback: bool,
    /// The alias move's id in the history, when the event is one.
    #[serde(default)]
    pub move_id: Option<i64>,
    pub time: Millis,
}

impl ModelEvent {
    /// MLflow 3's entity and action for the event.
    fn entity_and_action(&self) -> (&'static str, &'static str) {
        match self.event.as_str() {
            "alias_moved" => ("model_version_alias", "created"),
            "alias_deleted" => ("model_version_alias", "deleted"),
            "version_created" => ("model_version", "created"),
            _ => ("webhook", "test"),
        }
    }

    /// The webhook body.
    pub fn payload(&self) -> serde_json::Value {
        let (entity, action) = self.entity_and_action();
        serde_json::json!({
            "entity": entity,
            "action": action,
            "timestamp": self.time,
            "data": {
                "name": self.model,
                "alias": self.alias,
                "version": self.version,
                "previous_version": self.previous_version,
                "source": self.source,
                "run_id": self.run_id,
                "user": self.user,
                "reason": self.reason,
                "forced": self.forced,
                "rollback": self.rollback,
                "move_id": self.move_id,
                "event": self.event,
            },
        })
    }
}

/// The deliveries `event` fires among the hooks of `settings` (every hook for a test).
pub fn deliveries_for(settings: &ModelConfig, event: &ModelEvent) -> Vec<NewDelivery> {
    let key = match (event.move_id, event.event == "test") {
        (Some(id), false) => format!("move-{id}-"),
        _ => format!("{}-{}-", event.event, crate::ids::new_run_id()),
    };
    keyed(settings, event, &key)
}

/// The templates of the deliveries an alias move fires (`event`: the move as requested, before
/// it has an id): ids are the hooks' parts (`0-webhook`), completed by `NewDelivery::of_move`.
pub fn move_templates(settings: &ModelConfig, event: &ModelEvent) -> Vec<NewDelivery> {
    keyed(settings, event, "")
}

/// The deliveries of `event`, each id `<key><hook index>-<command|webhook>`.
fn keyed(settings: &ModelConfig, event: &ModelEvent, key: &str) -> Vec<NewDelivery> {
    let test = event.event == "test";
    let payload = event.payload();
    let mut out = Vec::new();
    for (index, hook) in settings.hooks.iter().enumerate() {
        if !test && !hook.fires_on(&event.event, event.alias.as_deref()) {
            continue;
        }
        let name = hook.display_name(index);
        let mut push = |suffix: &str, action: HookAction| {
            out.push(NewDelivery {
                id: format!("{key}{index}{suffix}"),
                model: event.model.clone(),
                hook: name.clone(),
                action,
                payload: payload.clone(),
            })
        };
        if let Some(command) = &hook.command {
            push(
                "-command",
                HookAction::Command {
                    command: command.clone(),
                    target: hook.target.clone().unwrap_or_default(),
                },
            );
        }
        if let Some(url) = &hook.url {
            push(
                "-webhook",
                HookAction::Webhook {
                    url: url.clone(),
                    secret_env: hook.secret_env.clone(),
                },
            );
        }
    }
    out
}

/// The environment a hook's command gets: the event's fields as `KIROKU_MODEL_*` (and
/// `KIROKU_HOOK_EVENT`, `KIROKU_DELIVERY_ID`); a field the event lacks is set empty.
pub fn command_env(payload: &serde_json::Value, delivery_id: &str) -> Vec<(String, String)> {
    let data = &payload["data"];
    let field = |key: &str| match &data[key] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    vec![
        ("KIROKU_MODEL_NAME".into(), field("name")),
        ("KIROKU_MODEL_ALIAS".into(), field("alias")),
        ("KIROKU_MODEL_VERSION".into(), field("version")),
        (
            "KIROKU_MODEL_PREVIOUS_VERSION".into(),
            field("previous_version"),
        ),
        ("KIROKU_MODEL_SOURCE".into(), field("source")),
        ("KIROKU_MODEL_RUN_ID".into(), field("run_id")),
        ("KIROKU_MODEL_ROLLBACK".into(), field("rollback")),
        ("KIROKU_HOOK_EVENT".into(), field("event")),
        ("KIROKU_DELIVERY_ID".into(), delivery_id.into()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ModelConfig {
        let config = crate::config::Config::parse(
            r#"
[[models.m.hooks]]
name = "deploy"
aliases = ["production"]
command = "./deploy.sh"
url = "http://127.0.0.1:9/x"
[[models.m.hooks]]
on = ["version_created"]
url = "http://127.0.0.1:9/y"
"#,
            std::path::Path::new("k.toml"),
        )
        .unwrap();
        config.models["m"].clone()
    }

    fn moved(alias: &str) -> ModelEvent {
        ModelEvent {
            event: "alias_moved".into(),
            model: "m".into(),
            alias: Some(alias.into()),
            version: Some("2".into()),
            previous_version: Some("1".into()),
            move_id: Some(7),
            user: "alice".into(),
            time: 1,
            ..Default::default()
        }
    }

    #[test]
    fn a_move_fires_the_hooks_of_its_event_and_alias_with_stable_ids() {
        let fired = deliveries_for(&settings(), &moved("production"));
        let ids: Vec<&str> = fired.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["move-7-0-command", "move-7-0-webhook"]);
        assert_eq!(fired[0].hook, "deploy");
        assert_eq!(fired[0].payload["entity"], "model_version_alias");
        assert_eq!(fired[0].payload["data"]["previous_version"], "1");
        assert!(deliveries_for(&settings(), &moved("staging")).is_empty());
        let mut test = moved("staging");
        test.event = "test".into();
        test.move_id = None;
        assert_eq!(deliveries_for(&settings(), &test).len(), 3);
    }

    #[test]
    fn commands_get_the_event_in_their_environment() {
        let env = command_env(&moved("production").payload(), "d-1");
        let get = |k: &str| env.iter().find(|(key, _)| key == k).unwrap().1.clone();
        assert_eq!(get("KIROKU_MODEL_VERSION"), "2");
        assert_eq!(get("KIROKU_MODEL_PREVIOUS_VERSION"), "1");
        assert_eq!(get("KIROKU_MODEL_SOURCE"), "");
        assert_eq!(get("KIROKU_MODEL_ROLLBACK"), "false");
        assert_eq!(get("KIROKU_DELIVERY_ID"), "d-1");
    }
}
