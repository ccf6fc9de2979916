//! The yes/no overlay: deleting (or restoring) runs, cancelling or retrying a job, recording a
//! review of a check result, and leaving an editor with a draft.
//! `y`/enter says yes; `n`/esc/`q` says no.
use super::input::InputKind;
use super::overlays::{centered, Layer, Overlay};
use crate::model::JobId;
use crate::tui::app::{Action, Effect, State};
use crate::tui::editor::Editor;
use crate::tui::worker::{Request, Write};
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

#[derive(Debug, Clone, PartialEq)]
pub enum Confirm {
    Delete {
        run_ids: Vec<String>,
        deleted: bool,
    },
    /// Cancel job `id` (named `name`, so you see which).
    CancelJob {
        id: JobId,
        name: String,
    },
    /// Queue job `id` again.
    RetryJob {
        id: JobId,
        name: String,
    },
    /// Record this verdict on a check result.
    Review(crate::model::data::NewReview),
    /// Move an alias, the gate's verdict shown (yes forces a refusing gate).
    Promote(super::models::PromotionAsk),
    /// Record this verdict on a model version.
    ModelApproval(crate::model::promotions::NewApproval),
    /// Move `alias` (on version `from`) back to version `to`.
    Rollback {
        model: String,
        alias: String,
        from: i64,
        to: i64,
    },
    /// Closing the editor would lose a draft; "no" goes back to it.
    DiscardDraft {
        kind: InputKind,
        editor: Editor,
    },
}

pub struct ConfirmLayer;

impl Layer for ConfirmLayer {
    fn handle_key(&self, _state: &State, key: KeyEvent) -> Option<Action> {
        match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => Some(Action::Answer(true)),
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Char('q') => {
                Some(Action::Answer(false))
            }
            _ => None,
        }
    }

    fn update(&self, state: &mut State, action: &Action) -> Option<Vec<Effect>> {
        match action {
            Action::Answer(yes) => Some(on_answer(state, *yes)),
            _ => None,
        }
    }

    fn draw(&self, frame: &mut Frame, area: Rect, state: &State) {
        let Some(Overlay::Confirm(c)) = &state.overlay else {
            return;
        };
        let text = match c {
            Confirm::Delete { run_ids, deleted } => format!(
                "{} {}?\n(kiroku {} undoes it)",
                if *deleted { "Delete" } else { "Restore" },
                crate::present::runs_named(&super::writes::run_labels(state, run_ids)),
                if *deleted { "restore" } else { "rm" },
            ),
            Confirm::CancelJob { id, name } => format!("Cancel job {id} ({name})?"),
            Confirm::RetryJob { id, name } => {
                format!("Queue job {id} ({name}) again, as a new job?")
            }
            Confirm::Review(r) => format!(
                "{} {}/{} as {}{}?\n{}",
                super::checks::verb_title(r.verdict),
                r.check_run,
                r.result_id,
                r.reviewer,
                crate::present::time::until_text(r.expires_at),
                if r.comment.is_empty() {
                    "(no comment)".to_string()
                } else {
                    format!("\"{}\"", r.comment)
                }
            ),
            Confirm::Promote(ask) => ask.text(),
            Confirm::ModelApproval(a) => format!(
                "{} {}/{} as {}?\n{}",
                if a.verdict == crate::model::promotions::ApprovalVerdict::Approved {
                    "Approve"
                } else {
                    "Reject"
                },
                a.model,
                a.version,
                a.reviewer,
                if a.comment.is_empty() {
                    "(no comment)".to_string()
                } else {
                    format!("\"{}\"", a.comment)
                }
            ),
            Confirm::Rollback {
                model,
                alias,
                from,
                to,
            } => format!("Roll {model}@{alias} back from version {from} to {to}? (the hooks fire)"),
            Confirm::DiscardDraft { .. } => "Discard the draft?".into(),
        };
        // A promotion lists the gate's conditions: wider and as tall as they need.
        let r = match c {
            Confirm::Promote(_) => centered(area, 90, text.lines().count() as u16 + 3),
            Confirm::Delete { .. } => centered(area, 90, 5),
            _ => centered(area, 60, 5),
        };
        frame.render_widget(Clear, r);
        let b = super::block(
            state,
            Span::styled(" Confirm ", state.theme.style("title")),
            true,
        );
        let inner = b.inner(r);
        frame.render_widget(b, r);
        frame.render_widget(
            Paragraph::new(
                text.lines()
                    .map(|l| Line::raw(crate::present::truncate(l, inner.width as usize)))
                    .chain([Line::styled(
                        "y / enter: yes    n / esc: no",
                        state.theme.style("footer.key"),
                    )])
                    .collect::<Vec<_>>(),
            ),
            inner,
        );
    }
}

fn on_answer(state: &mut State, yes: bool) -> Vec<Effect> {
    let Some(Overlay::Confirm(c)) = state.overlay.take() else {
        return vec![];
    };
    if !yes {
        if let Confirm::DiscardDraft { kind, editor } = c {
            state.overlay = Some(Overlay::Input { kind, editor });
        }
        return vec![];
    }
    match c {
        Confirm::Delete { run_ids, deleted } => {
            let user = state.user.clone();
            vec![state.request(Request::Write(Write::Delete {
                run_ids,
                deleted,
                user,
            }))]
        }
        Confirm::CancelJob { id, .. } => {
            let user = state.user.clone();
            vec![state.request(Request::Write(Write::CancelJob { id, user }))]
        }
        Confirm::RetryJob { id, .. } => {
            let (user, host) = (state.user.clone(), state.host.clone());
            let context = Box::new(state.jobs.context.clone());
            vec![state.request(Request::Write(Write::RetryJob {
                id,
                user,
                host,
                context,
            }))]
        }
        Confirm::Review(review) => vec![state.request(Request::Write(Write::Review(review)))],
        Confirm::Promote(ask) => super::models::promote(state, ask),
        Confirm::ModelApproval(a) => vec![state.request(Request::Write(Write::Approval(a)))],
        Confirm::Rollback { model, alias, .. } => super::models::rollback(state, model, alias),
        Confirm::DiscardDraft { .. } => {
            state.info("draft discarded");
            vec![]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::screens::test_support::{requests, typed, with_runs};

    #[test]
    fn delete_asks_and_only_yes_writes() {
        let mut s = with_runs(2);
        typed(&mut s, "d");
        assert!(matches!(
            &s.overlay,
            Some(Overlay::Confirm(Confirm::Delete { run_ids, deleted: true })) if run_ids == &["r0"]
        ));
        // Other keys do nothing; `n` closes without a write.
        assert!(typed(&mut s, "x").is_empty());
        assert!(s.overlay.is_some());
        assert!(typed(&mut s, "n").is_empty());
        assert!(s.overlay.is_none());
        typed(&mut s, "d");
        let text = crate::tui::render_to_string(&mut s, 120, 30);
        assert!(text.contains("Delete run run-0 (r0)?"), "{text}");
        let effects = typed(&mut s, "y");
        assert!(matches!(
            requests(&effects)[..],
            [Request::Write(Write::Delete { deleted: true, .. })]
        ));
        assert!(s.overlay.is_none());
    }

    #[test]
    fn deleting_marked_runs_names_them() {
        let mut s = with_runs(5);
        typed(&mut s, "    d");
        let text = crate::tui::render_to_string(&mut s, 160, 30);
        assert!(
            text.contains("Delete 4 runs: run-0 (r0), run-1 (r1), run-2 (r2) and 1 more?"),
            "{text}"
        );
    }
}
