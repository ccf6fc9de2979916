//! Model registry tools: models and their versions, the gate's verdict on moving an alias to a
//! version, and promotion: a preview (the verdict and the alias's current holder) unless
//! `confirm: true`, then the move through `models::promote` (gates, history, deploy hooks), as
//! `kiroku model alias` makes it, never forced.
use super::tools::{confirm, integer, object_schema, string, Call, Effect, Reply, ToolDef};
use crate::error::{KirokuError, Result};
use crate::model::now_ms;
use crate::models::{overview, promote, settings, Submitter};
use serde_json::json;

/// The JSON schema `kiroku model … --format json` writes (`kind` says what `result` is).
const SCHEMA: &str = "kiroku.model/v1";

fn alias_target() -> Vec<(&'static str, serde_json::Value)> {
    vec![
        ("model", string("The registered model's name.")),
        (
            "alias",
            string("The alias, e.g. `production` or `staging`."),
        ),
        (
            "version",
            integer("The model version number.", 1, 1_000_000_000),
        ),
    ]
}

pub static TOOLS: &[ToolDef] = &[
    ToolDef {
        name: "list_models",
        title: "List models",
        description: "Registered models with their latest version and aliases; with `name`, that model's versions (run, metrics, evaluation) and each alias gate's verdict on each version.",
        schema: || object_schema(&[("name", string("A model: show its versions."))], &[]),
        effect: Effect::Read,
        run: list_models,
    },
    ToolDef {
        name: "gate_verdict",
        title: "Gate verdict",
        description: "Whether moving a model's alias to a version would pass the alias's gate (the project's [models.NAME.aliases.ALIAS] policy: metric conditions, data checks, approvals, evaluation), with every condition and whether it holds.",
        schema: || {
            let props = alias_target();
            object_schema(&props, &["model", "alias", "version"])
        },
        effect: Effect::Read,
        run: gate_verdict,
    },
    ToolDef {
        name: "promote_model",
        title: "Promote a model version",
        description: "Move a model's alias (e.g. production) to a version, through its gate; the move is kept in the alias history and fires the deploy hooks. Without confirm: true it only previews: the gate's verdict and which version holds the alias now. A failing gate refuses the move (it is never forced here).",
        schema: || {
            let mut props = alias_target();
            props.push(("reason", string("Why, kept in the alias history.")));
            props.push(("confirm", confirm()));
            object_schema(&props, &["model", "alias", "version"])
        },
        effect: Effect::Destructive,
        run: promote_model,
    },
];

fn model_settings(call: &Call, name: &str) -> Result<crate::config::ModelConfig> {
    settings::model_settings(&call.host.config, call.host.project_dir.as_deref(), name)
}

fn version_arg(call: &Call) -> Result<i64> {
    let v = call
        .args
        .opt_u64("version")?
        .ok_or_else(|| KirokuError::Invalid("argument 'version' is required".into()))?;
    i64::try_from(v).map_err(|_| KirokuError::Invalid("argument 'version' is too large".into()))
}

fn list_models(call: &Call) -> Result<Reply> {
    let store = call.store();
    if let Some(name) = call.args.opt_text("name")? {
        let settings = model_settings(call, &name)?;
        let view = overview::model_view(store, &settings, &name, None, now_ms())?;
        let document = json!({"schema": SCHEMA, "kind": "model", "result": view});
        let versions = document["result"]["versions"]
            .as_array()
            .map_or(0, Vec::len);
        return Ok(Reply::new(
            format!("model {name}: {versions} versions"),
            document,
        ));
    }
    let models = overview::all_models(store)?;
    let mut summary = format!("{} models", models.len());
    for m in &models {
        let aliases = crate::present::models::aliases_text(&m.aliases);
        summary.push_str(&format!("\n{} {aliases}", m.name));
    }
    Ok(Reply::new(
        summary,
        json!({"schema": SCHEMA, "kind": "models", "result": models}),
    ))
}

/// The verdict on `model@alias` → `version`, and its one-line label.
fn verdict_of(call: &Call) -> Result<(String, String, i64, crate::models::policy::Verdict)> {
    let model = call.args.text("model")?;
    let alias = call.args.text("alias")?;
    let version = version_arg(call)?;
    let settings = model_settings(call, &model)?;
    let store = call.store();
    let v = store.model_version(&model, version)?;
    let verdict = promote::verdict(store, &settings, &model, &alias, &v, now_ms())?;
    Ok((model, alias, version, verdict))
}

fn gate_verdict(call: &Call) -> Result<Reply> {
    let (model, alias, version, verdict) = verdict_of(call)?;
    let summary = format!("{model}@{alias} → {version}: {}", verdict.label());
    Ok(Reply::new(
        summary,
        json!({"schema": SCHEMA, "kind": "verdict", "result": verdict}),
    ))
}

fn promote_model(call: &Call) -> Result<Reply> {
    let (model, alias, version, verdict) = verdict_of(call)?;
    let store = call.store();
    if !call.args.confirmed()? {
        let holder = match store.version_by_alias(&model, &alias) {
            Ok(v) => Some(v.version),
            Err(KirokuError::NotFound(_)) => None,
            Err(e) => return Err(e),
        };
        let now_held = holder
            .map(|v| format!("{model}@{alias} is version {v} now"))
            .unwrap_or_else(|| format!("{model}@{alias} is not set now"));
        let summary = if verdict.passes() {
            format!("{now_held}; moving it to {version} would pass its gate ({}); call again with confirm: true", verdict.label())
        } else {
            format!(
                "{now_held}; moving it to {version} would be refused: {}",
                verdict.refusal(&model).unwrap_or_else(|| verdict.label())
            )
        };
        return Ok(Reply::new(
            summary,
            json!({"schema": SCHEMA, "kind": "promotion-preview", "result": {"verdict": verdict, "holder": holder, "preview": true}}),
        ));
    }
    let settings = model_settings(call, &model)?;
    let submitter = Submitter {
        store,
        config: call.host.config.clone(),
        store_location: call.host.location.clone(),
        user: call.user().to_string(),
        host: crate::process::host_name().unwrap_or_else(|| "localhost".into()),
        workdir: crate::models::workdir_for(&call.host.location),
        queue_directly: false,
        server_url: None,
        job_tokens: None,
    };
    let reason = call.args.opt_text("reason")?.unwrap_or_default();
    let promotion = promote::promote(
        &submitter, &settings, &model, &alias, version, &reason, false,
    )?;
    let summary = match &promotion.moved {
        Some(_) => format!(
            "{model}@{alias} → {version} by {} ({} hook deliveries)",
            call.user(),
            promotion.deliveries.len()
        ),
        None => format!(
            "refused: {}",
            promotion
                .verdict
                .refusal(&model)
                .unwrap_or_else(|| promotion.verdict.label())
        ),
    };
    Ok(Reply::new(
        summary,
        json!({"schema": SCHEMA, "kind": "promotion", "result": promotion}),
    ))
}
