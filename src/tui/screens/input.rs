//! The tag and note editors: `t` tags the marked (or selected) runs with `k=v -k`, `n` and
//! `r` write a note or a reply (markdown, several lines, ctrl-s saves); on the Checks screen
//! `a`, `w` and `r` take the comment of a review (one line; a waiver's reason is required, then
//! when it lapses).
//! Leaving with a draft asks first (`confirm`).
use super::confirm::Confirm;
use super::overlays::{centered, Layer, Overlay};
use crate::model::NewNote;
use crate::tui::app::{Action, Effect, State};
use crate::tui::editor::{edit_key, EditKey, Editor};
use crate::tui::worker::{Request, Write};
use crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

/// What a text input overlay is for.
#[derive(Debug, Clone, PartialEq)]
pub enum InputKind {
    Tag {
        run_ids: Vec<String>,
    },
    Note {
        run_id: String,
        reply_to: Option<i64>,
    },
    /// The comment of a verdict on result `result_id` of check run `check_run` (`what`: its
    /// status and unexpected count, for the title).
    Review {
        check_run: crate::model::data::CheckRunId,
        result_id: String,
        verdict: crate::model::data::ReviewVerdict,
        what: String,
    },
    /// When the waiver with `reason` on result `result_id` of check run `check_run` lapses
    /// (blank: never), read as `kiroku review --until` reads it (`present::time::parse_until`).
    WaiverExpiry {
        check_run: crate::model::data::CheckRunId,
        result_id: String,
        reason: String,
        what: String,
    },
    /// The alias to move to version `version` of `model` (the Models screen's promote).
    ModelAlias {
        model: String,
        version: i64,
    },
    /// The comment of a verdict on a model version.
    ModelApproval {
        model: String,
        version: i64,
        verdict: crate::model::promotions::ApprovalVerdict,
    },
}

pub struct InputLayer;

impl Layer for InputLayer {
    fn handle_key(&self, state: &State, key: KeyEvent) -> Option<Action> {
        let multiline = matches!(
            state.overlay,
            Some(Overlay::Input {
                kind: InputKind::Note { .. },
                ..
            })
        );
        edit_key(key, multiline).map(Action::Edit)
    }

    fn update(&self, state: &mut State, action: &Action) -> Option<Vec<Effect>> {
        let Action::Edit(key) = action else {
            return None;
        };
        let Some(Overlay::Input { kind, mut editor }) = state.overlay.take() else {
            return None;
        };
        match *key {
            EditKey::Cancel => {
                if !editor.text.trim().is_empty() {
                    state.overlay = Some(Overlay::Confirm(Confirm::DiscardDraft { kind, editor }));
                }
            }
            EditKey::Submit => return Some(submit_input(state, kind, editor)),
            k => {
                editor.apply(k);
                state.overlay = Some(Overlay::Input { kind, editor });
            }
        }
        Some(vec![])
    }

    fn draw(&self, frame: &mut Frame, area: Rect, state: &State) {
        let Some(Overlay::Input { kind, editor }) = &state.overlay else {
            return;
        };
        let (title, hint, h) = match kind {
            InputKind::Tag { run_ids } => (
                format!(
                    " Tag {} run{} ",
                    run_ids.len(),
                    if run_ids.len() == 1 { "" } else { "s" }
                ),
                "k=v sets, -k removes · enter saves · esc cancels",
                5,
            ),
            InputKind::Note { run_id, reply_to } => (
                match reply_to {
                    Some(r) => {
                        format!(" Reply to note #{r} on {} ", crate::ids::short(run_id))
                    }
                    None => format!(" Note on {} ", crate::ids::short(run_id)),
                },
                "markdown · enter: new line · ctrl-s saves · esc cancels",
                14,
            ),
            InputKind::Review {
                check_run,
                result_id,
                verdict,
                what,
            } => (
                format!(
                    " {} {check_run}/{result_id} ({what}) ",
                    super::checks::verb_title(*verdict)
                ),
                if *verdict == crate::model::data::ReviewVerdict::Waived {
                    "the reason (required) · enter: next · esc cancels"
                } else {
                    "a comment (optional) · enter: next · esc cancels"
                },
                5,
            ),
            InputKind::WaiverExpiry {
                check_run,
                result_id,
                what,
                ..
            } => (
                format!(" Waive {check_run}/{result_id} ({what}) until? "),
                "a time (2026-12-31) or a span (7d) · blank: never · enter: next · esc cancels",
                5,
            ),
            InputKind::ModelAlias { model, version } => (
                format!(" Promote {model}/{version}: which alias? "),
                "the alias · enter: see the gate · esc cancels",
                5,
            ),
            InputKind::ModelApproval {
                model,
                version,
                verdict,
            } => (
                format!(
                    " {} {model}/{version} ",
                    if *verdict == crate::model::promotions::ApprovalVerdict::Approved {
                        "Approve"
                    } else {
                        "Reject"
                    }
                ),
                if *verdict == crate::model::promotions::ApprovalVerdict::Rejected {
                    "the reason (required) · enter: next · esc cancels"
                } else {
                    "a comment (optional) · enter: next · esc cancels"
                },
                5,
            ),
        };
        let r = centered(area, 80, h);
        frame.render_widget(Clear, r);
        let b = super::block(state, Span::styled(title, state.theme.style("title")), true);
        let inner = b.inner(r);
        frame.render_widget(b, r);
        let (cl, cc) = editor.cursor_line_col();
        let width = (inner.width as usize).max(1);
        let input = state.theme.style("input");
        let cursor = state.theme.style("input.cursor");
        // Hard-wrap each line to the box (ratatui's word wrap drops lines that hold
        // only the cursor); track which visual row holds the cursor.
        let mut lines: Vec<Line> = Vec::new();
        let mut cursor_row = 0;
        for (i, l) in editor.text.split('\n').enumerate() {
            let chars: Vec<char> = l.chars().collect();
            let mut chunks: Vec<&[char]> = chars.chunks(width).collect();
            if chunks.is_empty()
                || (i == cl && cc == chars.len() && chars.len().is_multiple_of(width))
            {
                chunks.push(&[]);
            }
            for (k, chunk) in chunks.iter().enumerate() {
                let text: String = chunk.iter().collect();
                let here = i == cl && cc / width == k;
                if !here {
                    lines.push(Line::styled(text, input));
                    continue;
                }
                cursor_row = lines.len();
                let at = cc % width;
                let before: String = chunk.iter().take(at).collect();
                let under: String = chunk.get(at).map(|c| c.to_string()).unwrap_or(" ".into());
                let after: String = chunk.iter().skip(at + 1).collect();
                lines.push(Line::from(vec![
                    Span::styled(before, input),
                    Span::styled(under, cursor),
                    Span::styled(after, input),
                ]));
            }
        }
        let body_h = inner.height.saturating_sub(1) as usize;
        let skip = (cursor_row + 1).saturating_sub(body_h);
        let mut shown: Vec<Line> = lines.into_iter().skip(skip).take(body_h).collect();
        while shown.len() < body_h {
            shown.push(Line::raw(""));
        }
        shown.push(Line::styled(hint, state.theme.style("text.dim")));
        frame.render_widget(Paragraph::new(shown), inner);
    }
}

/// Tags to set and tag keys to remove.
pub type TagEdit = (Vec<(String, String)>, Vec<String>);

/// Parses `k=v k2=v2 -k3` into tags to set and keys to remove.
pub fn parse_tag_edit(text: &str) -> Result<TagEdit, String> {
    let mut set = Vec::new();
    let mut remove = Vec::new();
    for word in text.split_whitespace() {
        if let Some(k) = word.strip_prefix('-') {
            remove.push(k.to_string());
        } else {
            set.extend(
                crate::present::parse_pairs(&[word.to_string()], "tag")
                    .map_err(|e| e.to_string())?,
            );
        }
    }
    if set.is_empty() && remove.is_empty() {
        return Err("no tags given (k=v sets, -k removes)".into());
    }
    Ok((set, remove))
}

fn submit_input(state: &mut State, kind: InputKind, editor: Editor) -> Vec<Effect> {
    let text = editor.text.clone();
    match kind {
        InputKind::Review {
            check_run,
            result_id,
            verdict,
            what,
        } => super::checks::submit_review(state, check_run, result_id, verdict, editor, what),
        InputKind::WaiverExpiry {
            check_run,
            result_id,
            reason,
            what,
        } => super::checks::submit_waiver_expiry(state, check_run, result_id, reason, editor, what),
        InputKind::ModelAlias { model, version } => {
            super::models::submit_alias(state, model, version, text)
        }
        InputKind::ModelApproval {
            model,
            version,
            verdict,
        } => super::models::submit_approval(state, model, version, verdict, editor),
        InputKind::Note { run_id, reply_to } => {
            if text.trim().is_empty() {
                state.info("empty note not saved");
                return vec![];
            }
            let note = NewNote {
                author: state.user.clone(),
                body: text,
                reply_to,
                anchor: None,
                created_ms: None,
            };
            vec![state.request(Request::Write(Write::Note { run_id, note }))]
        }
        InputKind::Tag { run_ids } => match parse_tag_edit(&text) {
            // One write for every run, so the message names them all.
            Ok((set, remove)) => {
                let user = state.user.clone();
                vec![state.request(Request::Write(Write::Tags {
                    run_ids,
                    set,
                    remove,
                    user,
                }))]
            }
            // The box stays open with what was typed, the error below it.
            Err(e) => {
                state.error(e);
                state.overlay = Some(Overlay::Input {
                    kind: InputKind::Tag { run_ids },
                    editor,
                });
                vec![]
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::screens::test_support::{press, press_mod, requests, typed, with_runs};
    use crossterm::event::{KeyCode, KeyModifiers};

    #[test]
    fn tag_edits_parse_sets_and_removals() {
        assert_eq!(
            parse_tag_edit("stage=eval -old").unwrap(),
            (vec![("stage".into(), "eval".into())], vec!["old".into()])
        );
        assert!(parse_tag_edit("   ").is_err());
    }

    #[test]
    fn a_tag_goes_to_every_marked_run() {
        let mut s = with_runs(3);
        typed(&mut s, "  t");
        typed(&mut s, "stage=eval");
        let effects = press(&mut s, KeyCode::Enter);
        match requests(&effects)[..] {
            [Request::Write(Write::Tags { run_ids, .. })] => assert_eq!(run_ids, &["r0", "r1"]),
            ref other => panic!("one write for both runs: {other:?}"),
        }
        assert!(s.overlay.is_none());
    }

    #[test]
    fn a_bad_tag_keeps_the_box_open_with_the_text_and_says_why() {
        let mut s = with_runs(2);
        typed(&mut s, "t");
        typed(&mut s, "stage");
        let effects = press(&mut s, KeyCode::Enter);
        assert!(requests(&effects).is_empty());
        assert!(
            matches!(&s.overlay, Some(Overlay::Input { kind: InputKind::Tag { .. }, editor }) if editor.text == "stage")
        );
        let m = s.message.as_ref().unwrap();
        assert!(m.error && m.text.contains("stage"), "{m:?}");
        // Fixing it saves.
        typed(&mut s, "=eval");
        let effects = press(&mut s, KeyCode::Enter);
        assert_eq!(requests(&effects).len(), 1);
        assert!(s.overlay.is_none());
    }

    #[test]
    fn notes_take_several_lines_and_ctrl_s_saves() {
        let mut s = with_runs(1);
        typed(&mut s, "nfirst");
        press(&mut s, KeyCode::Enter);
        typed(&mut s, "q");
        assert!(!s.quit, "q is text in the editor");
        let effects = press_mod(&mut s, KeyCode::Char('s'), KeyModifiers::CONTROL);
        match requests(&effects)[..] {
            [Request::Write(Write::Note { run_id, note })] => {
                assert_eq!((run_id.as_str(), note.body.as_str()), ("r0", "first\nq"))
            }
            ref other => panic!("{other:?}"),
        }
    }

    #[test]
    fn esc_with_a_draft_asks_and_no_goes_back_to_it() {
        let mut s = with_runs(1);
        typed(&mut s, "ndraft");
        press(&mut s, KeyCode::Esc);
        assert!(matches!(
            s.overlay,
            Some(Overlay::Confirm(Confirm::DiscardDraft { .. }))
        ));
        typed(&mut s, "n");
        assert!(
            matches!(&s.overlay, Some(Overlay::Input { editor, .. }) if editor.text == "draft")
        );
        // An empty editor closes at once.
        let mut s = with_runs(1);
        typed(&mut s, "n");
        press(&mut s, KeyCode::Esc);
        assert!(s.overlay.is_none());
    }
}
