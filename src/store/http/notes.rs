//! `NoteStore` over HTTP: `/api/v1/runs/<id>/notes/...` and `/star`.
use super::HttpStore;
use crate::api::*;
use crate::error::Result;
use crate::model::*;
use crate::store::NoteStore;

impl NoteStore for HttpStore {
    fn add_note(&self, id: &str, note: &NewNote) -> Result<Note> {
        self.post(&Self::run_path(id, "/notes"), note)
    }

    fn notes(&self, id: &str) -> Result<Vec<Note>> {
        self.get(&Self::run_path(id, "/notes"), &[])
    }

    fn edit_note(&self, id: &str, note_id: i64, body: &str, user: &str) -> Result<Note> {
        let change = NoteChange {
            user: user.into(),
            body: Some(body.into()),
        };
        self.post(&Self::run_path(id, &format!("/notes/{note_id}")), &change)
    }

    fn delete_note(&self, id: &str, note_id: i64, user: &str) -> Result<()> {
        let change = NoteChange {
            user: user.into(),
            body: None,
        };
        self.post_unit(
            &Self::run_path(id, &format!("/notes/{note_id}/delete")),
            &change,
        )
    }

    fn set_star(&self, id: &str, user: &str, starred: bool) -> Result<bool> {
        let body = StarChange {
            user: user.into(),
            starred,
        };
        let answer: Changed = self.post(&Self::run_path(id, "/star"), &body)?;
        Ok(answer.changed)
    }
}
