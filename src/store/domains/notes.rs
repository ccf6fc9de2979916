//! `NoteStore`: what people say about runs (notes and replies) and the stars they give them.
use crate::error::Result;
use crate::model::{NewNote, Note};

pub trait NoteStore {
    fn add_note(&self, id: &str, note: &NewNote) -> Result<Note>;
    fn notes(&self, id: &str) -> Result<Vec<Note>>;
    /// Changes a note's text; only its author may (`Forbidden` otherwise).
    fn edit_note(&self, id: &str, note_id: i64, body: &str, user: &str) -> Result<Note>;
    /// Deletes a note; only its author may. Replies to it stay, detached.
    fn delete_note(&self, id: &str, note_id: i64, user: &str) -> Result<()>;
    /// Returns whether anything changed.
    fn set_star(&self, id: &str, user: &str, starred: bool) -> Result<bool>;
}
