//! Annotations and the activity log: `note add|ls|edit|rm`, `tag`, `untag`, `star`, `unstar`, `rm`,
//! `restore`, `events`.
use super::output::{output_error, print_json, print_text, Table};
use super::Context;
use crate::error::{KirokuError, Result};
use crate::ids;
use crate::model::{now_ms, EventQuery, NewNote};
use crate::present::{format_relative, format_timestamp, parse_pairs, Format};
use clap::{Args, Subcommand};
use std::io::Read;

#[derive(Debug, Subcommand)]
pub enum NoteCommand {
    /// Add a note (markdown) to a run.
    Add {
        run: String,
        /// The note text; `-` reads it from standard input.
        #[arg(short = 'm', long = "message", required = true)]
        message: String,
        /// Reply to note number N (see `kiroku note ls`).
        #[arg(long)]
        reply_to: Option<i64>,
    },
    /// List a run's notes, oldest first.
    Ls { run: String },
    /// Change one of your notes.
    Edit {
        run: String,
        /// The note number (see `kiroku note ls`).
        note: i64,
        #[arg(short = 'm', long = "message", required = true)]
        message: String,
    },
    /// Delete one of your notes.
    Rm { run: String, note: i64 },
}

pub fn note(ctx: &mut Context, cmd: &NoteCommand) -> Result<i32> {
    let store = ctx.store()?;
    match cmd {
        NoteCommand::Add {
            run,
            message,
            reply_to,
        } => {
            let id = store.resolve_run(run)?;
            let body = if message == "-" {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .map_err(|e| KirokuError::reading("reading the note from stdin", e))?;
                text
            } else {
                message.clone()
            };
            let note = store.add_note(
                &id,
                &NewNote {
                    author: ctx.user.clone(),
                    body,
                    reply_to: *reply_to,
                    anchor: None,
                    created_ms: None,
                },
            )?;
            if ctx.format == Format::Json {
                print_json(&serde_json::json!({"schema": "kiroku.note/v1", "note": note}))
                    .map_err(output_error)?;
            } else {
                print_text(&format!(
                    "added note #{} to run {}\n",
                    note.id,
                    ids::short(&id)
                ))
                .map_err(output_error)?;
            }
        }
        NoteCommand::Edit { run, note, message } => {
            let id = store.resolve_run(run)?;
            let edited = store.edit_note(&id, *note, message, &ctx.user)?;
            if ctx.format == Format::Json {
                print_json(&serde_json::json!({"schema": "kiroku.note/v1", "note": edited}))
                    .map_err(output_error)?;
            } else {
                print_text(&format!("edited note #{note} of run {}\n", ids::short(&id)))
                    .map_err(output_error)?;
            }
        }
        NoteCommand::Rm { run, note } => {
            let id = store.resolve_run(run)?;
            store.delete_note(&id, *note, &ctx.user)?;
            print_text(&format!(
                "deleted note #{note} of run {}\n",
                ids::short(&id)
            ))
            .map_err(output_error)?;
        }
        NoteCommand::Ls { run } => {
            let id = store.resolve_run(run)?;
            let notes = store.notes(&id)?;
            if ctx.format == Format::Json {
                print_json(
                    &serde_json::json!({"schema": "kiroku.notes/v1", "run": id, "notes": notes}),
                )
                .map_err(output_error)?;
            } else {
                let mut t = Table::new(vec![
                    "#".into(),
                    "AUTHOR".into(),
                    "WHEN".into(),
                    "REPLY TO".into(),
                    "NOTE".into(),
                ]);
                t.numeric = vec![true, false, false, true, false];
                let now = now_ms();
                for n in notes {
                    let when = if ctx.format == Format::Table {
                        format_relative(n.created_ms, now)
                    } else {
                        format_timestamp(n.created_ms)
                    };
                    t.push(vec![
                        n.id.to_string(),
                        n.author,
                        when,
                        n.reply_to.map(|r| r.to_string()).unwrap_or_default(),
                        n.body,
                    ]);
                }
                print_text(&t.render(ctx.format)).map_err(output_error)?;
            }
        }
    }
    Ok(0)
}

pub fn tag(ctx: &mut Context, run: &str, items: &[String]) -> Result<i32> {
    let store = ctx.store()?;
    let id = store.resolve_run(run)?;
    let tags = parse_pairs(items, "tag")?;
    store.set_tags(&id, &tags, &ctx.user)?;
    print_text(&format!(
        "tagged run {} ({})\n",
        ids::short(&id),
        items.join(" ")
    ))
    .map_err(output_error)?;
    Ok(0)
}

pub fn untag(ctx: &mut Context, run: &str, keys: &[String]) -> Result<i32> {
    let store = ctx.store()?;
    let id = store.resolve_run(run)?;
    store.remove_tags(&id, keys, &ctx.user)?;
    print_text(&format!(
        "removed {} from run {}\n",
        keys.join(", "),
        ids::short(&id)
    ))
    .map_err(output_error)?;
    Ok(0)
}

pub fn star(ctx: &mut Context, run: &str, on: bool) -> Result<i32> {
    let store = ctx.store()?;
    let id = store.resolve_run(run)?;
    let changed = store.set_star(&id, &ctx.user, on)?;
    let what = match (on, changed) {
        (true, true) => "starred",
        (true, false) => "already starred",
        (false, true) => "unstarred",
        (false, false) => "was not starred",
    };
    print_text(&format!(
        "run {} {what} (by {})\n",
        ids::short(&id),
        ctx.user
    ))
    .map_err(output_error)?;
    Ok(0)
}

pub fn delete(ctx: &mut Context, refs: &[String], deleted: bool) -> Result<i32> {
    let store = ctx.store()?;
    let ids = refs
        .iter()
        .map(|r| store.resolve_run(r))
        .collect::<Result<Vec<_>>>()?;
    for id in &ids {
        store.set_deleted(id, deleted, &ctx.user)?;
        let what = if deleted {
            "deleted (kiroku restore brings it back)"
        } else {
            "restored"
        };
        print_text(&format!("run {} {what}\n", ids::short(id))).map_err(output_error)?;
    }
    Ok(0)
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only events of this run.
    #[arg(long)]
    pub run: Option<String>,
    #[arg(long, short = 'l', default_value_t = 50)]
    pub limit: u64,
    /// Only events after this event id.
    #[arg(long)]
    pub since: Option<i64>,
}

pub fn events(ctx: &mut Context, args: &EventsArgs) -> Result<i32> {
    let store = ctx.store()?;
    let run_id = args
        .run
        .as_deref()
        .map(|r| store.resolve_run(r))
        .transpose()?;
    let events = store.events(&EventQuery {
        since_id: args.since,
        run_id,
        limit: Some(args.limit),
    })?;
    if ctx.format == Format::Json {
        print_json(&serde_json::json!({"schema": "kiroku.events/v1", "events": events}))
            .map_err(output_error)?;
        return Ok(0);
    }
    let mut t = Table::new(vec![
        "#".into(),
        "WHEN".into(),
        "USER".into(),
        "EVENT".into(),
        "RUN".into(),
        "DETAIL".into(),
    ]);
    t.numeric = vec![true, false, false, false, false, false];
    let now = now_ms();
    for e in events {
        let when = if ctx.format == Format::Table {
            format_relative(e.time, now)
        } else {
            format_timestamp(e.time)
        };
        let run = match (&e.run_id, &e.run_name) {
            (Some(id), Some(name)) => format!("{} {name}", ids::short(id)),
            _ => e.experiment.clone().unwrap_or_default(),
        };
        let detail = crate::present::event_detail(&e);
        t.push(vec![e.id.to_string(), when, e.user, e.kind, run, detail]);
    }
    print_text(&t.render(ctx.format)).map_err(output_error)?;
    Ok(0)
}
