//! `kiroku model ...`: the registry from the command line, with kiroku's own side of it.
//!
//! - `ls`: models with their aliases and version counts.
//! - `show NAME[/VERSION]`: versions with their run, evaluation metrics, the gate of each
//!   configured alias, approvals; the aliases' history; hook deliveries.
//! - `register RUN[/PATH] NAME`: a new version from a run's model (`PATH` default `model`),
//!   evaluated when `[models.NAME] evaluate` says how.
//! - `alias NAME@ALIAS VERSION [-m REASON] [--force]`: moves an alias through its gate; a
//!   refusal lists every failing condition (exit 1); `--force` moves it anyway, recorded.
//! - `gate NAME@ALIAS VERSION`: the gate's verdict alone.
//! - `history NAME [--alias A] [--at TIME]`: every move, or what each alias held at a time.
//! - `rollback NAME@ALIAS [-m REASON]`: back to the version it held before its last move.
//! - `delete NAME[/VERSION] [-m REASON]`: deletes a version or a whole model; each alias it
//!   held is removed as a move in the history, firing its `alias_deleted` hooks.
//! - `approve|reject NAME/VERSION [--alias A] -m TEXT`: a reviewer's verdict.
//! - `hooks ls NAME`, `hooks test NAME`, `hooks deliver [NAME] [--now]`.
//!
//! `ls`, `show`, `alias` and `gate` first submit the evaluations of the versions they meet that
//! have none (those that came through the MLflow API), when the model has one configured.
use super::output::{output_error, print_json, print_text, Table};
use super::Context;
use crate::config::models::ModelConfig;
use crate::error::{KirokuError, Result};
use crate::model::now_ms;
use crate::model::promotions::{ApprovalVerdict, DeliveryState, NewApproval};
use crate::model::registry::ModelVersion;
use crate::models::hooks::ModelEvent;
use crate::models::outbox::{self, Take};
use crate::models::{overview, promote, settings, Submitter};
use crate::present::models::{
    delivery_status, delivery_target, metrics_text, move_line, verdict_lines,
};
use crate::present::{format_timestamp, Format};
use clap::{Args, Subcommand};

/// The JSON schemas of `kiroku model` outputs.
const SCHEMA: &str = "kiroku.model/v1";

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Registered models with their aliases.
    Ls,
    /// A model's versions (or one), evaluations, gates, approvals, history and hook deliveries.
    Show {
        /// `NAME` or `NAME/VERSION`.
        target: String,
    },
    /// Registers a run's model as a new version (evaluated when configured).
    Register {
        /// `RUN` or `RUN/PATH` (the model's folder among the run's artifacts; default `model`).
        run: String,
        name: String,
    },
    /// Moves an alias to a version through its gate.
    Alias(AliasArgs),
    /// The gate's verdict on moving an alias to a version, without moving it.
    Gate {
        /// `NAME@ALIAS`.
        target: String,
        version: i64,
    },
    /// Every alias move, or what each alias held at a time.
    History {
        name: String,
        #[arg(long)]
        alias: Option<String>,
        /// A time (`2026-11-24`, `2026-11-24 18:00`): what each alias held then.
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
    },
    /// Moves an alias back to the version it held before its last move.
    Rollback {
        /// `NAME@ALIAS`.
        target: String,
        #[arg(long, short = 'm', value_name = "REASON", default_value = "")]
        message: String,
    },
    /// Deletes a version (`NAME/VERSION`) or a whole model (`NAME`); the aliases it held are
    /// removed, each recorded in the history and firing its hooks.
    Delete {
        /// `NAME` or `NAME/VERSION`.
        target: String,
        #[arg(long, short = 'm', value_name = "REASON", default_value = "")]
        message: String,
    },
    /// Approves a version (for one alias, or any).
    Approve(ApprovalArgs),
    /// Rejects a version (for one alias, or any), with a reason.
    Reject(ApprovalArgs),
    /// Deploy hooks: their deliveries, a test delivery, delivering what is due.
    #[command(subcommand)]
    Hooks(HooksCommand),
}

#[derive(Debug, Args)]
pub struct AliasArgs {
    /// `NAME@ALIAS`.
    pub target: String,
    pub version: i64,
    /// Why (recorded with the move).
    #[arg(long, short = 'm', value_name = "REASON", default_value = "")]
    pub message: String,
    /// Move it even when the gate refuses (recorded as forced).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ApprovalArgs {
    /// `NAME/VERSION`.
    pub target: String,
    /// The alias the verdict is for (default: any).
    #[arg(long)]
    pub alias: Option<String>,
    #[arg(long, short = 'm', value_name = "TEXT")]
    pub message: String,
}

#[derive(Debug, Subcommand)]
pub enum HooksCommand {
    /// The model's hooks and their deliveries with every attempt.
    Ls { name: String },
    /// Fires every hook of the model with a test event.
    Test { name: String },
    /// Delivers what is due in the outbox (every pending one with `--now`).
    Deliver {
        name: Option<String>,
        #[arg(long)]
        now: bool,
    },
}

/// `NAME@ALIAS`.
fn split_alias(target: &str) -> Result<(&str, &str)> {
    match target.rsplit_once('@') {
        Some((name, alias)) if !name.is_empty() && !alias.is_empty() => Ok((name, alias)),
        _ => Err(KirokuError::Invalid(format!(
            "'{target}' is not NAME@ALIAS (as in churn@production)"
        ))),
    }
}

/// `NAME/VERSION` (VERSION required when `need_version`).
fn split_version(target: &str, need_version: bool) -> Result<(&str, Option<i64>)> {
    let bad = || {
        KirokuError::Invalid(format!(
            "'{target}' is not {} (as in churn/3)",
            if need_version {
                "NAME/VERSION"
            } else {
                "NAME or NAME/VERSION"
            }
        ))
    };
    match target.rsplit_once('/') {
        Some((name, version)) if !name.is_empty() => {
            let v = version.parse::<i64>().map_err(|_| bad())?;
            Ok((name, Some(v)))
        }
        Some(_) => Err(bad()),
        None if need_version => Err(bad()),
        None => Ok((target, None)),
    }
}

fn submitter<'a>(ctx: &Context, store: &'a dyn crate::store::Store) -> Result<Submitter<'a>> {
    Ok(Submitter {
        store,
        config: ctx.config.clone(),
        store_location: ctx.location_text(),
        user: ctx.user.clone(),
        host: crate::process::host_name().unwrap_or_else(|| "localhost".into()),
        workdir: crate::models::workdir_for(&ctx.location_text()),
        queue_directly: false,
        server_url: None,
        job_tokens: None,
    })
}

fn model_settings(ctx: &Context, name: &str) -> Result<ModelConfig> {
    settings::model_settings(&ctx.config, ctx.location.project_dir().as_deref(), name)
}

fn json(ctx: &Context) -> bool {
    ctx.format == Format::Json
}

fn emit<T: serde::Serialize>(kind: &str, value: &T) -> Result<()> {
    print_json(&serde_json::json!({"schema": SCHEMA, "kind": kind, "result": value}))
        .map_err(output_error)
}

fn text(out: &str) -> Result<()> {
    print_text(out).map_err(output_error)
}

/// Submits the evaluations of the model's versions that have none, saying so on stderr.
fn evaluate_missing(
    submitter: &Submitter<'_>,
    settings: &ModelConfig,
    name: &str,
    versions: &[ModelVersion],
) -> Result<()> {
    for e in promote::evaluate_missing(submitter, settings, name, versions)? {
        eprintln!(
            "kiroku: evaluating {name}/{} (job {}): it had no evaluation",
            e.version, e.job_id
        );
    }
    Ok(())
}

/// `kiroku model ...`.
pub fn model(ctx: &mut Context, command: &ModelCommand) -> Result<i32> {
    match command {
        ModelCommand::Ls => ls(ctx),
        ModelCommand::Show { target } => show(ctx, target),
        ModelCommand::Register { run, name } => register(ctx, run, name),
        ModelCommand::Alias(args) => alias(ctx, args),
        ModelCommand::Gate { target, version } => gate(ctx, target, *version),
        ModelCommand::History { name, alias, at } => {
            history(ctx, name, alias.as_deref(), at.as_deref())
        }
        ModelCommand::Rollback { target, message } => rollback(ctx, target, message),
        ModelCommand::Delete { target, message } => delete(ctx, target, message),
        ModelCommand::Approve(args) => approve(ctx, args, ApprovalVerdict::Approved),
        ModelCommand::Reject(args) => approve(ctx, args, ApprovalVerdict::Rejected),
        ModelCommand::Hooks(HooksCommand::Ls { name }) => hooks_ls(ctx, name),
        ModelCommand::Hooks(HooksCommand::Test { name }) => hooks_test(ctx, name),
        ModelCommand::Hooks(HooksCommand::Deliver { name, now }) => {
            hooks_deliver(ctx, name.as_deref(), *now)
        }
    }
}

fn ls(ctx: &mut Context) -> Result<i32> {
    let store = ctx.store()?;
    let models = crate::models::overview::all_models(store.as_ref())?;
    // Versions that came another way (the MLflow API) get their evaluation now.
    settings::check_conditions(&ctx.config, ctx.location.project_dir().as_deref())?;
    let submitter = submitter(ctx, store.as_ref())?;
    for m in models.iter().filter(|m| {
        ctx.config
            .models
            .get(&m.name)
            .is_some_and(|c| c.evaluate.is_some())
    }) {
        let versions = store.model_versions(&m.name)?;
        evaluate_missing(&submitter, &ctx.config.models[&m.name], &m.name, &versions)?;
    }
    if json(ctx) {
        emit("models", &models)?;
        return Ok(0);
    }
    let mut table = Table::new(vec![
        "NAME".into(),
        "LATEST".into(),
        "ALIASES".into(),
        "UPDATED".into(),
    ]);
    for m in &models {
        let latest = m
            .latest_versions
            .iter()
            .map(|v| v.version)
            .max()
            .map_or("—".into(), |v| v.to_string());
        let aliases = crate::present::models::aliases_text(&m.aliases);
        table.push(vec![
            m.name.clone(),
            latest,
            aliases,
            format_timestamp(m.updated_at),
        ]);
    }
    text(&table.render(ctx.format))?;
    Ok(0)
}

fn show(ctx: &mut Context, target: &str) -> Result<i32> {
    let (name, only) = split_version(target, false)?;
    let settings = model_settings(ctx, name)?;
    let store = ctx.store()?;
    let submitter = submitter(ctx, store.as_ref())?;
    let versions = submitter.store.model_versions(name)?;
    evaluate_missing(&submitter, &settings, name, &versions)?;
    let view = overview::model_view(submitter.store, &settings, name, only, now_ms())?;
    if json(ctx) {
        emit("model", &view)?;
        return Ok(0);
    }
    let mut out = view.model.name.clone();
    if !view.model.aliases.is_empty() {
        let aliases: Vec<String> = view
            .model
            .aliases
            .iter()
            .map(|(a, v)| format!("@{a} → {v}"))
            .collect();
        out.push_str(&format!("  {}", aliases.join("  ")));
    }
    out.push('\n');
    for v in &view.versions {
        let version = &v.version;
        out.push_str(&format!(
            "\nversion {}{}  {}  run {}  by {} {}\n",
            version.version,
            if version.aliases.is_empty() {
                String::new()
            } else {
                format!(" (@{})", version.aliases.join(" @"))
            },
            version.source,
            version.run_id.as_deref().unwrap_or("—"),
            version.user,
            format_timestamp(version.created_at)
        ));
        match &v.evaluation {
            Some(e) => out.push_str(&format!(
                "  evaluation: {} (job {}, run {})  {}\n",
                e.status,
                e.job_id,
                e.run_id.as_deref().unwrap_or("—"),
                metrics_text(&v.evaluation_metrics)
            )),
            None if settings.evaluate.is_some() => out.push_str("  evaluation: none yet\n"),
            None => {}
        }
        for verdict in &v.gates {
            out.push_str(&format!("  gate @{}: {}\n", verdict.alias, verdict.label()));
            out.push_str(&verdict_lines(verdict, "    "));
        }
        for a in &v.approvals {
            out.push_str(&format!(
                "  {} by {}{} {}: {}\n",
                a.approval.verdict,
                a.approval.reviewer,
                a.approval
                    .alias
                    .as_deref()
                    .map(|x| format!(" for @{x}"))
                    .unwrap_or_default(),
                format_timestamp(a.created_at),
                a.approval.comment
            ));
        }
    }
    if !view.history.is_empty() {
        out.push_str("\nalias history:\n");
        for step in &view.history {
            out.push_str(&format!("  {}\n", move_line(step)));
        }
    }
    if !view.deliveries.is_empty() {
        out.push_str("\nhook deliveries:\n");
        for d in &view.deliveries {
            out.push_str(&format!(
                "  {}  {}  {}\n",
                d.delivery.hook,
                delivery_target(d),
                delivery_status(d)
            ));
        }
    }
    text(&out)?;
    Ok(0)
}

fn register(ctx: &mut Context, run: &str, name: &str) -> Result<i32> {
    let settings = model_settings(ctx, name)?;
    let store = ctx.store()?;
    let submitter = submitter(ctx, store.as_ref())?;
    let (run_ref, path) = match run.split_once('/') {
        Some((r, p)) if !p.is_empty() => (r, p.trim_matches('/')),
        Some((r, _)) => (r, "model"),
        None => (run, "model"),
    };
    let run_id = submitter.store.resolve_run(run_ref)?;
    let source = format!("runs:/{run_id}/{path}");
    let made = promote::register(&submitter, &settings, name, Some(&run_id), &source)?;
    if json(ctx) {
        emit("registered", &made)?;
        return Ok(0);
    }
    let mut out = format!(
        "registered {name}/{} from {}\n",
        made.version.version, made.version.source
    );
    if let Some(e) = &made.evaluation {
        out.push_str(&format!("evaluation: job {}\n", e.job_id));
    }
    text(&out)?;
    Ok(0)
}

fn alias(ctx: &mut Context, args: &AliasArgs) -> Result<i32> {
    let (name, alias) = split_alias(&args.target)?;
    let settings = model_settings(ctx, name)?;
    let store = ctx.store()?;
    let submitter = submitter(ctx, store.as_ref())?;
    let version = submitter.store.model_version(name, args.version)?;
    evaluate_missing(&submitter, &settings, name, &[version])?;
    let promotion = promote::promote(
        &submitter,
        &settings,
        name,
        alias,
        args.version,
        &args.message,
        args.force,
    )?;
    let code = if promotion.moved.is_some() { 0 } else { 1 };
    if json(ctx) {
        emit("promotion", &promotion)?;
        if let Some(refusal) = promotion.verdict.refusal(name).filter(|_| code == 1) {
            eprintln!("kiroku: {refusal}");
        }
        return Ok(code);
    }
    match &promotion.moved {
        None => {
            eprintln!(
                "kiroku: {}",
                promotion.verdict.refusal(name).unwrap_or_default()
            );
        }
        Some(step) => {
            let mut out = format!("{name}@{alias}: {}\n", move_line(step));
            if step.forced {
                out.push_str("forced past the gate:\n");
                out.push_str(&verdict_lines(&promotion.verdict, "  "));
            }
            out.push_str(&deliveries_lines(&promotion.deliveries));
            text(&out)?;
        }
    }
    Ok(code)
}

fn gate(ctx: &mut Context, target: &str, version: i64) -> Result<i32> {
    let (name, alias) = split_alias(target)?;
    let settings = model_settings(ctx, name)?;
    let store = ctx.store()?;
    let v = store.model_version(name, version)?;
    evaluate_missing(
        &submitter(ctx, store.as_ref())?,
        &settings,
        name,
        std::slice::from_ref(&v),
    )?;
    let verdict = promote::verdict(store.as_ref(), &settings, name, alias, &v, now_ms())?;
    if json(ctx) {
        emit("verdict", &verdict)?;
    } else {
        text(&format!(
            "{name}@{alias} → {version}: {}\n{}",
            verdict.label(),
            verdict_lines(&verdict, "  ")
        ))?;
    }
    Ok(if verdict.passes() { 0 } else { 1 })
}

fn history(ctx: &mut Context, name: &str, alias: Option<&str>, at: Option<&str>) -> Result<i32> {
    let store = ctx.store()?;
    let moves = store.alias_history(name, alias)?;
    let Some(at) = at else {
        if json(ctx) {
            emit("history", &moves)?;
        } else {
            let lines: String = moves.iter().map(|m| move_line(m) + "\n").collect();
            text(&lines)?;
        }
        return Ok(0);
    };
    let time = crate::query::time::parse_local_time_ms(at.trim()).ok_or_else(|| {
        KirokuError::Invalid(format!(
            "--at '{at}': expected a time (2026-11-24, 2026-11-24 18:00, 2026-11-24T18:00:00Z)"
        ))
    })?;
    // A bare date means the end of that day: "what was in production on Tuesday".
    let time = if at.trim().len() == 10 {
        time + 86_400_000 - 1
    } else {
        time
    };
    let held = promote::held_at(&moves, time);
    if json(ctx) {
        let rows: Vec<serde_json::Value> = held
            .iter()
            .map(|(alias, version, step)| {
                serde_json::json!({"alias": alias, "version": version, "since": step.time, "move": step})
            })
            .collect();
        emit("held_at", &serde_json::json!({"at": time, "aliases": rows}))?;
        return Ok(0);
    }
    let mut out = format!("{name} at {}:\n", format_timestamp(time));
    if held.is_empty() {
        out.push_str("  no alias was set\n");
    }
    for (alias, version, step) in &held {
        out.push_str(&format!(
            "  @{alias}  {}  (since {}, move #{})\n",
            version.map_or("unset".into(), |v| format!("version {v}")),
            format_timestamp(step.time),
            step.id
        ));
    }
    text(&out)?;
    Ok(0)
}

fn rollback(ctx: &mut Context, target: &str, message: &str) -> Result<i32> {
    let (name, alias) = split_alias(target)?;
    let settings = model_settings(ctx, name)?;
    let store = ctx.store()?;
    let submitter = submitter(ctx, store.as_ref())?;
    let (step, deliveries) = promote::rollback(&submitter, &settings, name, alias, message)?;
    if json(ctx) {
        emit(
            "rollback",
            &serde_json::json!({"move": step, "deliveries": deliveries}),
        )?;
        return Ok(0);
    }
    let mut out = format!("{name}@{alias}: {}\n", move_line(&step));
    out.push_str(&deliveries_lines(&deliveries));
    text(&out)?;
    Ok(0)
}

/// One line per hook delivery a command made: its hook, where it goes, how it stands.
fn deliveries_lines(deliveries: &[crate::model::promotions::HookDelivery]) -> String {
    deliveries
        .iter()
        .map(|d| {
            format!(
                "hook {}: {}  {}\n",
                d.delivery.hook,
                delivery_target(d),
                delivery_status(d)
            )
        })
        .collect()
}

fn delete(ctx: &mut Context, target: &str, message: &str) -> Result<i32> {
    let (name, version) = split_version(target, false)?;
    let settings = model_settings(ctx, name)?;
    let store = ctx.store()?;
    let submitter = submitter(ctx, store.as_ref())?;
    let (moves, deliveries) = promote::delete(&submitter, &settings, name, version, message)?;
    if json(ctx) {
        emit(
            "delete",
            &serde_json::json!({"model": name, "version": version, "moves": moves, "deliveries": deliveries}),
        )?;
        return Ok(0);
    }
    let mut out = match version {
        Some(v) => format!("deleted {name}/{v}\n"),
        None => format!("deleted {name}\n"),
    };
    for step in &moves {
        out.push_str(&format!("{name}: {}\n", move_line(step)));
    }
    out.push_str(&deliveries_lines(&deliveries));
    text(&out)?;
    Ok(0)
}

fn approve(ctx: &mut Context, args: &ApprovalArgs, verdict: ApprovalVerdict) -> Result<i32> {
    let (name, version) = split_version(&args.target, true)?;
    let version = version.expect("a version was required");
    let store = ctx.store()?;
    store.model_version(name, version)?;
    if let Some(alias) = &args.alias {
        if !crate::config::models::alias_name_ok(alias) {
            return Err(KirokuError::Invalid(format!(
                "--alias '{alias}' is not an alias (letters, digits, `_` and `-`; not `latest` or vN)"
            )));
        }
    }
    let recorded = store.add_approval(&NewApproval {
        model: name.into(),
        version: version.to_string(),
        alias: args.alias.clone(),
        verdict,
        comment: args.message.clone(),
        reviewer: ctx.user.clone(),
    })?;
    if json(ctx) {
        emit("approval", &recorded)?;
    } else {
        text(&format!(
            "{} {name}/{version}{} by {}\n",
            recorded.approval.verdict,
            args.alias
                .as_deref()
                .map(|a| format!(" for @{a}"))
                .unwrap_or_default(),
            recorded.approval.reviewer
        ))?;
    }
    Ok(0)
}

fn hooks_ls(ctx: &mut Context, name: &str) -> Result<i32> {
    let settings = model_settings(ctx, name)?;
    let store = ctx.store()?;
    let deliveries = store.deliveries(Some(name), 200)?;
    if json(ctx) {
        let hooks: Vec<serde_json::Value> = settings
            .hooks
            .iter()
            .enumerate()
            .map(|(i, h)| {
                serde_json::json!({"name": h.display_name(i), "on": h.on, "aliases": h.aliases,
                    "command": h.command, "target": h.target, "url": h.url, "secret_env": h.secret_env})
            })
            .collect();
        emit(
            "hooks",
            &serde_json::json!({"hooks": hooks, "deliveries": deliveries}),
        )?;
        return Ok(0);
    }
    let mut out = String::new();
    if settings.hooks.is_empty() {
        out.push_str(&format!(
            "{name} has no hooks ([[models.{name}.hooks]] in kiroku.toml)\n"
        ));
    }
    for (i, h) in settings.hooks.iter().enumerate() {
        let on = if h.on.is_empty() {
            "every event".to_string()
        } else {
            h.on.join(", ")
        };
        let aliases = if h.aliases.is_empty() {
            "any alias".to_string()
        } else {
            h.aliases.join(", ")
        };
        out.push_str(&format!("{}: on {on} for {aliases}\n", h.display_name(i)));
    }
    if !deliveries.is_empty() {
        out.push_str("\ndeliveries (newest first):\n");
    }
    for d in &deliveries {
        out.push_str(&format!(
            "  {}  {}  {}  {}\n",
            d.delivery.id,
            d.delivery.hook,
            delivery_target(d),
            delivery_status(d)
        ));
        for a in &d.attempts {
            out.push_str(&format!(
                "      {}  {}{}{}\n",
                format_timestamp(a.at),
                a.status_code
                    .map(|c| format!("HTTP {c} "))
                    .unwrap_or_default(),
                a.job_id.map(|j| format!("job {j} ")).unwrap_or_default(),
                a.error.as_deref().unwrap_or("ok")
            ));
        }
    }
    text(&out)?;
    Ok(0)
}

fn hooks_test(ctx: &mut Context, name: &str) -> Result<i32> {
    let settings = model_settings(ctx, name)?;
    if settings.hooks.is_empty() {
        return Err(KirokuError::Invalid(format!(
            "{name} has no hooks to test ([[models.{name}.hooks]] in kiroku.toml)"
        )));
    }
    let store = ctx.store()?;
    let submitter = submitter(ctx, store.as_ref())?;
    let event = ModelEvent {
        event: "test".into(),
        model: name.into(),
        user: submitter.user.clone(),
        reason: "kiroku model hooks test".into(),
        time: now_ms(),
        ..Default::default()
    };
    let deliveries = promote::fire(&submitter, &settings, &event)?;
    let failed = deliveries
        .iter()
        .any(|d| d.state != DeliveryState::Delivered);
    if json(ctx) {
        emit("deliveries", &deliveries)?;
    } else {
        let lines: String = deliveries
            .iter()
            .map(|d| {
                format!(
                    "{}  {}  {}\n",
                    d.delivery.hook,
                    delivery_target(d),
                    delivery_status(d)
                )
            })
            .collect();
        text(&lines)?;
    }
    Ok(if failed { 1 } else { 0 })
}

fn hooks_deliver(ctx: &mut Context, name: Option<&str>, now: bool) -> Result<i32> {
    let store = ctx.store()?;
    let submitter = submitter(ctx, store.as_ref())?;
    let take = if now {
        let pending: Vec<String> = submitter
            .store
            .deliveries(name, 1000)?
            .into_iter()
            .filter(|d| d.state == DeliveryState::Pending)
            .map(|d| d.delivery.id)
            .collect();
        Take::These(pending)
    } else {
        Take::Due
    };
    let mut delivered = outbox::drain(&submitter, &take)?;
    if let Some(name) = name {
        delivered.retain(|d| d.delivery.model == name);
    }
    if json(ctx) {
        emit("deliveries", &delivered)?;
    } else if delivered.is_empty() {
        text("nothing due\n")?;
    } else {
        let lines: String = delivered
            .iter()
            .map(|d| {
                format!(
                    "{}  {}  {}\n",
                    d.delivery.id,
                    delivery_target(d),
                    delivery_status(d)
                )
            })
            .collect();
        text(&lines)?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_split_into_names_aliases_and_versions() {
        assert_eq!(
            split_alias("churn@production").unwrap(),
            ("churn", "production")
        );
        assert!(split_alias("churn").is_err());
        assert!(split_alias("@p").is_err());
        assert_eq!(split_version("churn/3", true).unwrap(), ("churn", Some(3)));
        assert_eq!(split_version("churn", false).unwrap(), ("churn", None));
        assert!(split_version("churn", true).is_err());
        assert!(split_version("churn/x", false).is_err());
    }
}
