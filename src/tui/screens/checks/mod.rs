//! The Checks screen (`C`, `:checks`): check runs waiting for a review first, then the history
//! per dataset; beside them the selected run's results (worst first) with where each stands
//! with its reviewers, and below those the selected result: observed vs expected, the unexpected
//! count and percent, its failing rows as a table, or for a drift check the reference and
//! current distributions side by side. `a`, `w` and `r` approve, waive (a reason is required)
//! or reject the selected result with a comment, after a confirmation, through the same store
//! call `kiroku review RUN/RESULT` makes; the lists are asked for again once it is written.
//!
//! What waits for a review is the store's to say (`CheckRunQuery::awaiting_review`, decided by
//! `store::checks_gate`), and each result's standing is `checks_gate::standing`'s: the screen
//! only orders and draws them.
mod draw;
pub use draw::check_glyph;
#[cfg(test)]
mod tests;

use super::confirm::Confirm;
use super::input::InputKind;
use super::overlays::Overlay;
use super::{is_motion, move_cursor, Screen, ScreenBehaviour};
use crate::model::data::{CheckResult, CheckRun, CheckRunId, NewReview, Review, ReviewVerdict};
use crate::store::checks_gate::{self, Standing};
use crate::tui::app::{contains, Action, Effect, State};
use crate::tui::editor::Editor;
use crate::tui::keymap::Cmd;
use crate::tui::worker::{Request, Response};
use crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::Frame;
use std::collections::BTreeSet;

/// The most check runs the screen lists.
pub const CHECK_RUN_LIMIT: usize = 200;

/// Which pane has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChecksFocus {
    /// The check runs (waiting, then history).
    #[default]
    List,
    /// The selected run's results.
    Results,
}

/// The group a check run is listed in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ListGroup {
    /// A warned, failed or errored result no review covers now.
    Waiting,
    /// Everything else, per dataset (the names of the datasets it checked).
    History(String),
}

impl ListGroup {
    pub fn title(&self) -> String {
        match self {
            ListGroup::Waiting => "waiting for review".into(),
            ListGroup::History(dataset) => dataset.clone(),
        }
    }
}

/// A check run with the reviews that bind to its results (the answer to `Request::CheckRun`).
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRunDetail {
    pub run: CheckRun,
    pub reviews: Vec<Review>,
}

#[derive(Debug, Clone, Default)]
pub struct ChecksView {
    /// The newest check runs, newest first.
    pub runs: Vec<CheckRun>,
    /// Those waiting for a review.
    pub awaiting: BTreeSet<CheckRunId>,
    /// Whether the list has been read once (an empty list then says so).
    pub loaded: bool,
    pub selected: Option<CheckRunId>,
    pub focus: ChecksFocus,
    /// The selected run as last read with its reviews.
    pub detail: Option<CheckRunDetail>,
    /// The selected result's id within the selected run.
    pub result: Option<String>,
}

/// The datasets a check run read, as `name@1a2b3c4d` joined by `+`.
pub fn datasets_label(run: &CheckRun) -> String {
    run.run
        .datasets
        .iter()
        .map(|d| {
            let hex = d
                .version_id
                .strip_prefix("sha256:")
                .unwrap_or(&d.version_id);
            format!("{}@{}", d.name, &hex[..hex.len().min(8)])
        })
        .collect::<Vec<_>>()
        .join("+")
}

/// The history group of a check run: its datasets' names joined by `+`.
fn dataset_names(run: &CheckRun) -> String {
    run.run
        .datasets
        .iter()
        .map(|d| d.name.as_str())
        .collect::<Vec<_>>()
        .join("+")
}

/// Results by status: (pass, warn, fail), errors counted as failures, unsupported as neither.
pub fn counts(run: &CheckRun) -> (usize, usize, usize) {
    use crate::model::data::CheckStatus::*;
    let n =
        |pick: &dyn Fn(&CheckResult) -> bool| run.run.results.iter().filter(|r| pick(r)).count();
    (
        n(&|r| r.status == Pass),
        n(&|r| r.status == Warn),
        n(&|r| matches!(r.status, Fail | Error)),
    )
}

/// A run's results in display order: worst first (error, fail, warn, unsupported, pass), the
/// suite's order within a status.
pub fn ordered_results(run: &CheckRun) -> Vec<&CheckResult> {
    let mut results: Vec<&CheckResult> = run.run.results.iter().collect();
    results.sort_by_key(|r| std::cmp::Reverse(r.status));
    results
}

impl ChecksView {
    /// The runs in display order with their group: those waiting for review (newest first),
    /// then the others per dataset (by name; newest first within one).
    pub fn rows(&self) -> Vec<(ListGroup, &CheckRun)> {
        let mut rows: Vec<(ListGroup, &CheckRun)> = self
            .runs
            .iter()
            .map(|r| {
                let group = if self.awaiting.contains(&r.id) {
                    ListGroup::Waiting
                } else {
                    ListGroup::History(dataset_names(r))
                };
                (group, r)
            })
            .collect();
        rows.sort_by(|(ga, a), (gb, b)| ga.cmp(gb).then(b.id.cmp(&a.id)));
        rows
    }

    /// The selected row's index (the first row when the selected run is not listed).
    pub fn cursor(&self) -> usize {
        let rows = self.rows();
        self.selected
            .and_then(|id| rows.iter().position(|(_, r)| r.id == id))
            .unwrap_or(0)
    }

    /// The selected check run: as last read with its reviews, else as listed.
    pub fn selected_run(&self) -> Option<&CheckRun> {
        let id = self.rows().get(self.cursor()).map(|(_, r)| r.id)?;
        match &self.detail {
            Some(d) if d.run.id == id => Some(&d.run),
            _ => self.runs.iter().find(|r| r.id == id),
        }
    }

    /// The reviews of the selected run, once read.
    pub fn reviews(&self) -> Option<&[Review]> {
        let id = self.selected_run()?.id;
        self.detail
            .as_ref()
            .filter(|d| d.run.id == id)
            .map(|d| d.reviews.as_slice())
    }

    /// The selected result's index in `ordered_results` (the first when none is selected).
    pub fn result_cursor(&self) -> usize {
        let Some(run) = self.selected_run() else {
            return 0;
        };
        ordered_results(run)
            .iter()
            .position(|r| Some(&r.id) == self.result.as_ref())
            .unwrap_or(0)
    }

    /// The selected result of the selected run.
    pub fn selected_result(&self) -> Option<&CheckResult> {
        let run = self.selected_run()?;
        ordered_results(run).get(self.result_cursor()).copied()
    }

    /// Where a result of the selected run stands (None until its reviews are read).
    pub fn standing(&self, result: &CheckResult, now: crate::model::Millis) -> Option<Standing> {
        let run = self.selected_run()?;
        Some(checks_gate::standing(run, result, self.reviews()?, now))
    }

    pub fn waiting(&self) -> usize {
        self.awaiting.len()
    }
}

/// The newest check runs and which wait for a review (the screen, and the runs sidebar's
/// count).
pub(crate) fn check_runs_request() -> Request {
    Request::CheckRuns {
        limit: CHECK_RUN_LIMIT,
    }
}

/// Opens the Checks screen.
pub fn open(state: &mut State) -> Vec<Effect> {
    state.go(Screen::Checks);
    let mut out = vec![state.request(check_runs_request())];
    out.extend(sync_detail(state, true));
    out
}

/// Asks for the selected run's reviews when the selection moved to another run (or always,
/// with `again`).
fn sync_detail(state: &mut State, again: bool) -> Vec<Effect> {
    let Some(id) = state.checks.selected_run().map(|r| r.id) else {
        return vec![];
    };
    let have = state.checks.detail.as_ref().map(|d| d.run.id);
    if have == Some(id) && !again {
        return vec![];
    }
    vec![state.request(Request::CheckRun { id })]
}

/// Opens the comment form for a verdict on the selected result.
fn start_review(state: &mut State, verdict: ReviewVerdict) -> Vec<Effect> {
    let v = &state.checks;
    let (Some(run), Some(result)) = (v.selected_run(), v.selected_result()) else {
        state.info("no check result selected");
        return vec![];
    };
    if !result.status.needs_review() {
        state.info(format!(
            "{}/{} {}: nothing to review",
            run.id, result.id, result.status
        ));
        return vec![];
    }
    let what = match result.unexpected_count {
        Some(n) => format!("{}, {n} unexpected", result.status),
        None => result.status.to_string(),
    };
    state.overlay = Some(Overlay::Input {
        kind: InputKind::Review {
            check_run: run.id,
            result_id: result.id.clone(),
            verdict,
            what,
        },
        editor: Editor::default(),
    });
    vec![]
}

/// The comment form was submitted: a waiver without a reason is refused (the form stays), a
/// waiver with one asks when it lapses next; otherwise the review is shown for confirmation.
pub(crate) fn submit_review(
    state: &mut State,
    check_run: CheckRunId,
    result_id: String,
    verdict: ReviewVerdict,
    editor: Editor,
    what: String,
) -> Vec<Effect> {
    let comment = editor.text.trim().to_string();
    if verdict == ReviewVerdict::Waived && comment.is_empty() {
        state.error("a waiver needs a reason");
        state.overlay = Some(Overlay::Input {
            kind: InputKind::Review {
                check_run,
                result_id,
                verdict,
                what,
            },
            editor,
        });
        return vec![];
    }
    if verdict == ReviewVerdict::Waived {
        // The reason is given now: an earlier "needs a reason" no longer applies.
        state.message = None;
        state.overlay = Some(Overlay::Input {
            kind: InputKind::WaiverExpiry {
                check_run,
                result_id,
                reason: comment,
                what,
            },
            editor: Editor::default(),
        });
        return vec![];
    }
    confirm_review(state, check_run, result_id, verdict, comment, None)
}

/// The expiry form of a waiver was submitted: blank is a waiver that never lapses, otherwise
/// the time or span as `kiroku review --until` reads it; one it cannot read is refused with
/// the reason (the form stays).
pub(crate) fn submit_waiver_expiry(
    state: &mut State,
    check_run: CheckRunId,
    result_id: String,
    reason: String,
    editor: Editor,
    what: String,
) -> Vec<Effect> {
    let text = editor.text.trim();
    let expires_at = if text.is_empty() {
        None
    } else {
        match crate::present::time::parse_until(text, state.now, "the expiry") {
            Ok(at) => Some(at),
            Err(e) => {
                state.error(e.to_string());
                state.overlay = Some(Overlay::Input {
                    kind: InputKind::WaiverExpiry {
                        check_run,
                        result_id,
                        reason,
                        what,
                    },
                    editor,
                });
                return vec![];
            }
        }
    };
    confirm_review(
        state,
        check_run,
        result_id,
        ReviewVerdict::Waived,
        reason,
        expires_at,
    )
}

/// Asks to confirm the review.
fn confirm_review(
    state: &mut State,
    check_run: CheckRunId,
    result_id: String,
    verdict: ReviewVerdict,
    comment: String,
    expires_at: Option<crate::model::Millis>,
) -> Vec<Effect> {
    state.overlay = Some(Overlay::Confirm(Confirm::Review(NewReview {
        check_run,
        result_id,
        verdict,
        comment,
        reviewer: state.user.clone(),
        expires_at,
    })));
    vec![]
}

/// The verb of a verdict (`approve`).
pub fn verb(verdict: ReviewVerdict) -> &'static str {
    match verdict {
        ReviewVerdict::Approved => "approve",
        ReviewVerdict::Waived => "waive",
        ReviewVerdict::Rejected => "reject",
    }
}

/// The verb of a verdict for titles (`Approve`).
pub fn verb_title(verdict: ReviewVerdict) -> &'static str {
    match verdict {
        ReviewVerdict::Approved => "Approve",
        ReviewVerdict::Waived => "Waive",
        ReviewVerdict::Rejected => "Reject",
    }
}

pub struct ChecksScreen;

impl ScreenBehaviour for ChecksScreen {
    fn section(&self) -> &'static str {
        "checks"
    }

    fn header(&self, state: &State) -> String {
        let v = &state.checks;
        format!(
            "checks · {} waiting for review · {} check runs",
            v.waiting(),
            v.runs.len()
        )
    }

    fn hints(&self) -> &'static [(Cmd, &'static str)] {
        &[
            (Cmd::Open, "results"),
            (Cmd::Approve, "approve"),
            (Cmd::Waive, "waive"),
            (Cmd::Reject, "reject"),
            (Cmd::NextTab, "pane"),
            (Cmd::Back, "back"),
            (Cmd::Palette, "command"),
            (Cmd::Quit, "quit"),
        ]
    }

    /// On the results pane, `back` returns to the list first.
    fn handle_key(&self, state: &State, key: KeyEvent) -> Option<Action> {
        let cmd = state.keymap.lookup(self.section(), &key)?;
        if cmd == Cmd::Back && state.checks.focus == ChecksFocus::Results {
            return Some(Action::Cmd(Cmd::PrevTab));
        }
        Some(Action::Cmd(cmd))
    }

    fn update(&self, state: &mut State, cmd: Cmd) -> Vec<Effect> {
        match cmd {
            c if is_motion(c) => match state.checks.focus {
                ChecksFocus::List => {
                    let ids: Vec<CheckRunId> =
                        state.checks.rows().iter().map(|(_, r)| r.id).collect();
                    let at = move_cursor(state.checks.cursor(), ids.len(), c, 10);
                    state.checks.selected = ids.get(at).copied();
                    state.checks.result = None;
                    sync_detail(state, false)
                }
                ChecksFocus::Results => {
                    let v = &state.checks;
                    let ids: Vec<String> = v
                        .selected_run()
                        .map(|r| ordered_results(r).iter().map(|r| r.id.clone()).collect())
                        .unwrap_or_default();
                    let at = move_cursor(v.result_cursor(), ids.len(), c, 10);
                    state.checks.result = ids.get(at).cloned();
                    vec![]
                }
            },
            Cmd::Open | Cmd::Right | Cmd::NextTab if state.checks.focus == ChecksFocus::List => {
                if state.checks.selected_run().is_some() {
                    state.checks.focus = ChecksFocus::Results;
                }
                vec![]
            }
            Cmd::Left | Cmd::PrevTab | Cmd::NextTab => {
                state.checks.focus = ChecksFocus::List;
                vec![]
            }
            Cmd::Approve => start_review(state, ReviewVerdict::Approved),
            Cmd::Waive => start_review(state, ReviewVerdict::Waived),
            Cmd::Reject => start_review(state, ReviewVerdict::Rejected),
            _ => vec![],
        }
    }

    /// A check run or result row selects it.
    fn on_click(&self, state: &mut State, x: u16, y: u16) -> Vec<Effect> {
        let Some((r, first)) = state.areas.list else {
            return vec![];
        };
        if !contains(r, x, y) {
            return vec![];
        }
        let line = first + (y - r.y) as usize;
        match state.checks.focus {
            ChecksFocus::List => {
                let Some(Some(id)) = state.areas.check_lines.get(line - first).copied() else {
                    return vec![];
                };
                state.checks.selected = Some(id);
                state.checks.result = None;
                sync_detail(state, false)
            }
            ChecksFocus::Results => {
                let id = state
                    .checks
                    .selected_run()
                    .and_then(|run| ordered_results(run).get(line).map(|r| r.id.clone()));
                if id.is_some() {
                    state.checks.result = id;
                }
                vec![]
            }
        }
    }

    fn on_response(&self, state: &mut State, resp: Response) -> Result<Vec<Effect>, Response> {
        match resp {
            Response::CheckRuns { runs, awaiting } => {
                let v = &mut state.checks;
                v.runs = runs;
                v.awaiting = awaiting.into_iter().collect();
                v.loaded = true;
                let listed = v.rows().iter().any(|(_, r)| Some(r.id) == v.selected);
                if !listed {
                    v.selected = v.rows().first().map(|(_, r)| r.id);
                    v.result = None;
                }
                if state.screen == Screen::Checks {
                    return Ok(sync_detail(state, false));
                }
                Ok(vec![])
            }
            Response::CheckRun { run, reviews } => {
                if state.checks.selected == Some(run.id) {
                    state.checks.detail = Some(CheckRunDetail { run: *run, reviews });
                }
                Ok(vec![])
            }
            other => Err(other),
        }
    }

    /// On a change the list is asked for again (the runs sidebar counts what waits), and the
    /// selected run's reviews while the screen is shown.
    fn on_change(&self, state: &mut State, store: bool, _file: bool) -> Vec<Effect> {
        if !store {
            return vec![];
        }
        let mut out = vec![Effect::Request(check_runs_request())];
        if state.screen == Screen::Checks {
            if let Some(id) = state.checks.selected {
                out.push(Effect::Request(Request::CheckRun { id }));
            }
        }
        out
    }

    fn draw(&self, frame: &mut Frame, area: Rect, state: &mut State) {
        draw::draw(frame, area, state);
    }
}
