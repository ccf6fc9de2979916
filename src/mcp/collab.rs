//! Collaboration tools: notes and replies, tags, stars, and the activity feed.
use super::tools::{
    boolean, integer, object_schema, pairs, run_ref, string, strings, Call, Effect, Reply, ToolDef,
};
use crate::error::{KirokuError, Result};
use crate::model::{now_ms, EventQuery, NewNote};
use serde_json::json;

pub static TOOLS: &[ToolDef] = &[
    ToolDef {
        name: "add_note",
        title: "Add a note to a run",
        description: "Write a note (markdown) on a run, or a reply to one of its notes (`reply_to`: the note number from get_run's notes). The note is signed by the connected user and shows in `kiroku note ls` and the UI.",
        schema: || {
            object_schema(
                &[
                    ("run", run_ref()),
                    ("body", string("The note's text (markdown).")),
                    ("reply_to", integer("Reply to this note number of the same run.", 1, 1_000_000_000_000)),
                ],
                &["run", "body"],
            )
        },
        effect: Effect::Write,
        run: add_note,
    },
    ToolDef {
        name: "set_tags",
        title: "Set tags on a run",
        description: "Set (add or overwrite) tags on a run, e.g. {\"tags\": {\"status\": \"baseline\", \"team\": \"vision\"}}. Tags are searchable as tags.KEY in search_runs.",
        schema: || {
            object_schema(
                &[
                    ("run", run_ref()),
                    ("tags", pairs("Tag key → value.")),
                ],
                &["run", "tags"],
            )
        },
        effect: Effect::Write,
        run: set_tags,
    },
    ToolDef {
        name: "remove_tags",
        title: "Remove tags from a run",
        description: "Remove tags from a run by key (see get_run for the tags it has). The removal is logged with who made it.",
        schema: || {
            object_schema(
                &[("run", run_ref()), ("keys", strings("The tag keys to remove."))],
                &["run", "keys"],
            )
        },
        effect: Effect::Write,
        run: remove_tags,
    },
    ToolDef {
        name: "star_run",
        title: "Star or unstar a run",
        description: "Star a run for the connected user (or remove the star with starred: false). Starred runs are easy to find again (search `stars` column).",
        schema: || {
            object_schema(
                &[
                    ("run", run_ref()),
                    ("starred", boolean("false removes the star (default true).")),
                ],
                &["run"],
            )
        },
        effect: Effect::Write,
        run: star_run,
    },
    ToolDef {
        name: "activity",
        title: "Activity feed",
        description: "What happened in the store, newest first: runs started and ended, notes, tags, stars, jobs, reviews, promotions, with who did it (and `via: mcp` in the detail for changes made through MCP). `since` takes a time ('2026-11-30', '2026-11-30 14:00', an RFC 3339 instant) or an age ('30m', '2h', '3d').",
        schema: || {
            object_schema(
                &[
                    ("since", string("Only events at or after this time or within this age, e.g. '2h' or '2026-11-30 09:00'.")),
                    ("since_event", integer("Only events after this event number (to poll for what is new).", 0, 1_000_000_000_000)),
                    ("run", string("Only events of this run (id, prefix or name).")),
                    ("limit", integer("At most this many events (default 50).", 1, 1000)),
                ],
                &[],
            )
        },
        effect: Effect::Read,
        run: activity,
    },
];

fn add_note(call: &Call) -> Result<Reply> {
    let store = call.store();
    let id = store.resolve_run(&call.args.text("run")?)?;
    let body = call.args.text("body")?;
    if body.trim().is_empty() {
        return Err(KirokuError::Invalid("argument 'body' is empty".into()));
    }
    let reply_to = call
        .args
        .opt_u64("reply_to")?
        .map(|n| i64::try_from(n).unwrap_or(i64::MAX));
    let note = store.add_note(
        &id,
        &NewNote {
            author: call.user().to_string(),
            body,
            reply_to,
            anchor: None,
            created_ms: None,
        },
    )?;
    Ok(Reply::new(
        format!(
            "added note #{} to run {} as {}",
            note.id,
            crate::ids::short(&id),
            note.author
        ),
        json!({"schema": "kiroku.note/v1", "note": note}),
    ))
}

fn set_tags(call: &Call) -> Result<Reply> {
    let store = call.store();
    let id = store.resolve_run(&call.args.text("run")?)?;
    let tags = call.args.pairs("tags")?;
    if tags.is_empty() {
        return Err(KirokuError::Invalid("argument 'tags' names no tag".into()));
    }
    store.set_tags(&id, &tags, call.user())?;
    let run = store.run(&id)?.run;
    Ok(Reply::new(
        format!(
            "tagged run {} ({})",
            crate::ids::short(&id),
            tags.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        json!({"schema": "kiroku.tags/v1", "run": id, "tags": run.tags}),
    ))
}

fn remove_tags(call: &Call) -> Result<Reply> {
    let store = call.store();
    let id = store.resolve_run(&call.args.text("run")?)?;
    let keys = call.args.text_list("keys", false)?;
    if keys.is_empty() {
        return Err(KirokuError::Invalid("argument 'keys' names no tag".into()));
    }
    store.remove_tags(&id, &keys, call.user())?;
    let run = store.run(&id)?.run;
    Ok(Reply::new(
        format!(
            "removed {} from run {}",
            keys.join(", "),
            crate::ids::short(&id)
        ),
        json!({"schema": "kiroku.tags/v1", "run": id, "tags": run.tags}),
    ))
}

fn star_run(call: &Call) -> Result<Reply> {
    let store = call.store();
    let id = store.resolve_run(&call.args.text("run")?)?;
    let on = call.args.flag_or("starred", true)?;
    let changed = store.set_star(&id, call.user(), on)?;
    let what = match (on, changed) {
        (true, true) => "starred",
        (true, false) => "already starred",
        (false, true) => "unstarred",
        (false, false) => "was not starred",
    };
    let run = store.run(&id)?.run;
    Ok(Reply::new(
        format!("run {} {what} (by {})", crate::ids::short(&id), call.user()),
        json!({"schema": "kiroku.star/v1", "run": id, "starred": on, "changed": changed, "stars": run.stars}),
    ))
}

/// `since` as ms since the epoch: an age (`90s`, `30m`, `2h`, `3d`, `1w`) before `now`, or a
/// time as filters read them.
pub fn since_ms(text: &str, now: i64) -> Result<i64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    if !number.is_empty() {
        let unit_ms: Option<i64> = match unit.trim() {
            "s" => Some(1_000),
            "m" | "min" => Some(60_000),
            "h" => Some(3_600_000),
            "d" => Some(86_400_000),
            "w" => Some(7 * 86_400_000),
            _ => None,
        };
        if let (Some(unit_ms), Ok(n)) = (unit_ms, number.parse::<i64>()) {
            return Ok(now.saturating_sub(n.saturating_mul(unit_ms)));
        }
    }
    crate::query::time::parse_local_time_ms(t).ok_or_else(|| {
        KirokuError::Invalid(format!(
            "argument 'since': '{text}' is neither an age (30m, 2h, 3d) nor {}",
            crate::query::time::TIME_FORMS
        ))
    })
}

fn activity(call: &Call) -> Result<Reply> {
    let a = &call.args;
    let store = call.store();
    let run_id = a
        .opt_text("run")?
        .map(|r| store.resolve_run(&r))
        .transpose()?;
    let limit = a.u64_or("limit", 50, 1000)?.max(1);
    let since = a
        .opt_text("since")?
        .map(|s| since_ms(&s, now_ms()))
        .transpose()?;
    let events = store.events(&EventQuery {
        since_id: a
            .opt_u64("since_event")?
            .map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
        run_id,
        // A time bound filters after reading; read enough to fill the page.
        limit: Some(if since.is_some() { 10_000 } else { limit }),
    })?;
    let events: Vec<_> = events
        .into_iter()
        .filter(|e| since.is_none_or(|s| e.time >= s))
        .take(limit as usize)
        .collect();
    let mut summary = format!("{} events", events.len());
    for e in events.iter().take(15) {
        summary.push_str(&format!(
            "\n#{} {} {} {}{}",
            e.id,
            crate::present::format_timestamp(e.time),
            e.user,
            e.kind,
            e.run_name
                .as_deref()
                .map(|n| format!(" run '{n}'"))
                .unwrap_or_default()
        ));
    }
    Ok(Reply::new(
        summary,
        json!({"schema": "kiroku.events/v1", "events": events}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_reads_ages_and_times() {
        let now = 10 * 86_400_000;
        assert_eq!(since_ms("2h", now).unwrap(), now - 2 * 3_600_000);
        assert_eq!(since_ms(" 3d ", now).unwrap(), now - 3 * 86_400_000);
        assert_eq!(
            since_ms("2026-11-30T00:00:00Z", now).unwrap(),
            1_795_996_800_000
        );
        let e = since_ms("yesterday", now).unwrap_err().to_string();
        assert!(
            e.contains("argument 'since'") && e.contains("yesterday"),
            "{e}"
        );
        assert!(since_ms("5 parsecs", now).is_err());
    }
}
