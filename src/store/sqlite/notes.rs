//! Notes (with replies, editable and deletable by their authors only) and stars in SQLite.
use super::events::record_event;
use super::{rid_of, run_owner, SqliteStore};
use crate::error::{KirokuError, Result};
use crate::limits;
use crate::model::*;
use crate::store::NoteStore;
use rusqlite::{params, Connection, OptionalExtension};

/// A run's notes, oldest first.
pub(super) fn read_notes(conn: &Connection, rid: i64, run_id: &str) -> Result<Vec<Note>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, author, created_ms, updated_ms, body, reply_to, anchor FROM notes WHERE rid = ?1 ORDER BY created_ms, id",
    )?;
    let rows = stmt.query_map([rid], |r| {
        Ok(Note {
            id: r.get(0)?,
            run_id: run_id.to_string(),
            author: r.get(1)?,
            created_ms: r.get(2)?,
            updated_ms: r.get(3)?,
            body: r.get(4)?,
            reply_to: r.get(5)?,
            anchor: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The run's rid when `note_id` is a note of run `id` written by `user`.
fn own_note(conn: &Connection, id: &str, note_id: i64, user: &str, what: &str) -> Result<i64> {
    let rid = rid_of(conn, id)?;
    let author: Option<String> = conn
        .prepare_cached("SELECT author FROM notes WHERE id = ?1 AND rid = ?2")?
        .query_row(params![note_id, rid], |r| r.get(0))
        .optional()?;
    match author {
        None => Err(KirokuError::NotFound(format!(
            "run {id} has no note {note_id}"
        ))),
        Some(a) if a != user => Err(KirokuError::Forbidden(format!(
            "note {note_id} is by {a}; only its author can {what} it"
        ))),
        Some(_) => Ok(rid),
    }
}

/// Adds a note to run `id` (row `rid`); returns the note's id.
pub(super) fn insert_note(conn: &Connection, id: &str, rid: i64, note: &NewNote) -> Result<i64> {
    if let Some(parent) = note.reply_to {
        let parent_rid: Option<i64> = conn
            .query_row("SELECT rid FROM notes WHERE id = ?1", [parent], |r| {
                r.get(0)
            })
            .optional()?;
        if parent_rid != Some(rid) {
            return Err(KirokuError::NotFound(format!(
                "run {id} has no note {parent} to reply to"
            )));
        }
    }
    let created = note.created_ms.unwrap_or_else(now_ms);
    conn.execute(
        "INSERT INTO notes (rid, author, created_ms, updated_ms, body, reply_to, anchor) VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6)",
        params![rid, note.author, created, note.body, note.reply_to, note.anchor],
    )?;
    let note_id = conn.last_insert_rowid();
    let eid = run_owner(conn, rid)?.1;
    let excerpt: String = note.body.chars().take(80).collect();
    record_event(
        conn,
        "note.added",
        &note.author,
        Some(rid),
        Some(eid),
        Some(serde_json::json!({"note_id": note_id, "excerpt": excerpt})),
    )?;
    Ok(note_id)
}

impl NoteStore for SqliteStore {
    fn add_note(&self, id: &str, note: &NewNote) -> Result<Note> {
        if note.body.trim().is_empty() {
            return Err(KirokuError::Invalid("the note is empty".into()));
        }
        limits::note_body(&note.body)?;
        let note_id = self.write(|tx| {
            let rid = rid_of(tx, id)?;
            insert_note(tx, id, rid, note)
        })?;
        self.notes(id)?
            .into_iter()
            .find(|n| n.id == note_id)
            .ok_or_else(|| KirokuError::Database(format!("note {note_id} vanished after insert")))
    }

    fn notes(&self, id: &str) -> Result<Vec<Note>> {
        self.read(|c| {
            let rid = rid_of(c, id)?;
            read_notes(c, rid, id)
        })
    }

    fn edit_note(&self, id: &str, note_id: i64, body: &str, user: &str) -> Result<Note> {
        if body.trim().is_empty() {
            return Err(KirokuError::Invalid("the note is empty".into()));
        }
        limits::note_body(body)?;
        self.write(|tx| {
            let rid = own_note(tx, id, note_id, user, "edit")?;
            tx.execute(
                "UPDATE notes SET body = ?1, updated_ms = ?2 WHERE id = ?3",
                params![body, now_ms(), note_id],
            )?;
            let eid = run_owner(tx, rid)?.1;
            record_event(
                tx,
                "note.edited",
                user,
                Some(rid),
                Some(eid),
                Some(serde_json::json!({"note": note_id})),
            )
        })?;
        self.notes(id)?
            .into_iter()
            .find(|n| n.id == note_id)
            .ok_or_else(|| KirokuError::Database(format!("note {note_id} vanished after its edit")))
    }

    fn delete_note(&self, id: &str, note_id: i64, user: &str) -> Result<()> {
        self.write(|tx| {
            let rid = own_note(tx, id, note_id, user, "delete")?;
            tx.execute(
                "UPDATE notes SET reply_to = NULL WHERE reply_to = ?1",
                [note_id],
            )?;
            tx.execute("DELETE FROM notes WHERE id = ?1", [note_id])?;
            let eid = run_owner(tx, rid)?.1;
            record_event(
                tx,
                "note.deleted",
                user,
                Some(rid),
                Some(eid),
                Some(serde_json::json!({"note": note_id})),
            )
        })
    }

    fn set_star(&self, id: &str, user: &str, starred: bool) -> Result<bool> {
        self.write(|tx| {
            let rid = rid_of(tx, id)?;
            let changed = if starred {
                tx.execute(
                    "INSERT OR IGNORE INTO stars (rid, user, created_ms) VALUES (?1, ?2, ?3)",
                    params![rid, user, now_ms()],
                )?
            } else {
                tx.execute(
                    "DELETE FROM stars WHERE rid = ?1 AND user = ?2",
                    params![rid, user],
                )?
            } > 0;
            if changed {
                let eid = run_owner(tx, rid)?.1;
                record_event(
                    tx,
                    if starred {
                        "star.added"
                    } else {
                        "star.removed"
                    },
                    user,
                    Some(rid),
                    Some(eid),
                    None,
                )?;
            }
            Ok(changed)
        })
    }
}
