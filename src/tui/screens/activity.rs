//! The activity log, newest first: runs started and ended, notes, tags, stars. Events newer
//! than the last one you saw (kept in the UI state file) are marked.
use super::{fit, is_motion, move_cursor, writes, ScreenBehaviour};
use crate::model::Event;
use crate::present::{event_detail, format_relative};
use crate::tui::app::{contains, Effect, State};
use crate::tui::keymap::Cmd;
use crate::tui::worker::{Request, Response};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

#[derive(Debug, Clone, Default)]
pub struct ActivityView {
    pub events: Vec<Event>,
    pub cursor: usize,
    /// Events with a larger id are new since you last looked.
    pub seen_before: i64,
    pub loaded: bool,
}

/// Opens the activity log (`a`), at the newest event.
pub fn open(state: &mut State) -> Vec<Effect> {
    state.go(super::Screen::Activity);
    state.activity.cursor = 0;
    vec![state.request(Request::Events { limit: 200 })]
}

/// Remembers the newest event as seen; true when that changed anything.
fn mark_events_seen(state: &mut State) -> bool {
    let newest = state
        .activity
        .events
        .iter()
        .map(|e| e.id)
        .max()
        .unwrap_or(0);
    let entry = state
        .ui
        .last_seen_event
        .entry(state.store_name.clone())
        .or_insert(0);
    if newest > *entry {
        *entry = newest;
        return true;
    }
    false
}

/// The newest event seen in this store before (0: none).
fn last_seen(state: &State) -> i64 {
    state
        .ui
        .last_seen_event
        .get(&state.store_name)
        .copied()
        .unwrap_or(0)
}

pub struct ActivityScreen;

impl ScreenBehaviour for ActivityScreen {
    fn section(&self) -> &'static str {
        "activity"
    }

    fn header(&self, _state: &State) -> String {
        "activity".to_string()
    }

    fn hints(&self) -> &'static [(Cmd, &'static str)] {
        &[
            (Cmd::Open, "open run"),
            (Cmd::MarkSeen, "mark seen"),
            (Cmd::Back, "back"),
            (Cmd::Quit, "quit"),
        ]
    }

    fn update(&self, state: &mut State, cmd: Cmd) -> Vec<Effect> {
        match cmd {
            c if is_motion(c) => {
                state.activity.cursor =
                    move_cursor(state.activity.cursor, state.activity.events.len(), c, 10);
                vec![]
            }
            Cmd::MarkSeen => {
                mark_events_seen(state);
                state.activity.seen_before = last_seen(state);
                vec![Effect::SaveUiState]
            }
            Cmd::Open => {
                let run = state
                    .activity
                    .events
                    .get(state.activity.cursor)
                    .and_then(|e| e.run_id.clone());
                match run {
                    Some(id) => {
                        let mut out = vec![];
                        if mark_events_seen(state) {
                            out.push(Effect::SaveUiState);
                        }
                        out.extend(state.open_run(id));
                        out
                    }
                    None => {
                        state.info("this event has no run");
                        vec![]
                    }
                }
            }
            Cmd::Star | Cmd::Tag | Cmd::Note => writes::run_write_cmd(state, cmd),
            _ => vec![],
        }
    }

    /// An event selects it; a second click opens its run.
    fn on_click(&self, state: &mut State, x: u16, y: u16) -> Vec<Effect> {
        let Some((r, first)) = state.areas.list else {
            return vec![];
        };
        if contains(r, x, y) {
            let i = first + (y - r.y) as usize;
            if i < state.activity.events.len() {
                if state.activity.cursor == i {
                    return self.update(state, Cmd::Open);
                }
                state.activity.cursor = i;
            }
        }
        vec![]
    }

    fn on_response(&self, state: &mut State, resp: Response) -> Result<Vec<Effect>, Response> {
        match resp {
            Response::Events(events) => {
                if !state.activity.loaded {
                    state.activity.seen_before = last_seen(state);
                    state.activity.loaded = true;
                }
                state.activity.events = events;
            }
            other => return Err(other),
        }
        Ok(vec![])
    }

    fn on_change(&self, _state: &mut State, store: bool, _file: bool) -> Vec<Effect> {
        if store {
            vec![Effect::Request(Request::Events { limit: 200 })]
        } else {
            vec![]
        }
    }

    /// Leaving the log marks what it showed as seen.
    fn on_leave(&self, state: &mut State, _last: bool) {
        mark_events_seen(state);
    }

    fn targets(&self, state: &State) -> Vec<String> {
        state
            .activity
            .events
            .get(state.activity.cursor)
            .and_then(|e| e.run_id.clone())
            .into_iter()
            .collect()
    }

    fn draw(&self, frame: &mut Frame, area: Rect, state: &mut State) {
        draw(frame, area, state);
    }
}

fn draw(frame: &mut Frame, area: Rect, state: &mut State) {
    let new = state
        .activity
        .events
        .iter()
        .filter(|e| e.id > state.activity.seen_before)
        .count();
    let title = format!(
        " Activity · {} events · {new} new since you last looked ",
        state.activity.events.len()
    );
    let b = super::block(state, Span::styled(title, state.theme.style("title")), true);
    let inner = b.inner(area);
    frame.render_widget(b, area);
    let h = inner.height as usize;
    let first = state.activity.cursor.saturating_sub(h.saturating_sub(1));
    state.areas.list = Some((inner, first));
    let mut lines = Vec::new();
    for (i, e) in state.activity.events.iter().enumerate().skip(first).take(h) {
        let is_new = e.id > state.activity.seen_before;
        let run = match (&e.run_id, &e.run_name) {
            (Some(id), Some(name)) => format!("{} {name}", crate::ids::short(id)),
            (Some(id), None) => crate::ids::short(id).to_string(),
            _ => String::new(),
        };
        let mut line = Line::from(vec![
            Span::styled(
                if is_new { "● " } else { "  " },
                state.theme.style("event.new"),
            ),
            Span::styled(
                fit(&format_relative(e.time, state.now), 9, false) + " ",
                state.theme.style("text.dim"),
            ),
            Span::styled(
                fit(&e.kind, 18, false) + " ",
                state.theme.style("text.accent"),
            ),
            Span::raw(fit(&e.user, 9, false) + " "),
            Span::raw(fit(&run, 26, false) + " "),
            Span::styled(event_detail(e), state.theme.style("text.dim")),
        ]);
        if i == state.activity.cursor {
            line = line.style(state.theme.style("table.selected"));
        }
        lines.push(line);
    }
    if lines.is_empty() {
        lines.push(Line::styled(
            "no activity yet",
            state.theme.style("text.dim"),
        ));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::screens::test_support::{answer, event, press, requests, typed, with_runs};
    use crate::tui::screens::Screen;
    use crossterm::event::KeyCode;

    #[test]
    fn a_opens_the_log_and_enter_opens_the_event_s_run_marking_it_seen() {
        let mut s = with_runs(2);
        let effects = typed(&mut s, "a");
        assert_eq!(s.screen, Screen::Activity);
        assert!(matches!(requests(&effects)[..], [Request::Events { .. }]));
        answer(
            &mut s,
            Response::Events(vec![event(9, None), event(8, Some("r1"))]),
        );
        assert_eq!(s.activity.seen_before, 0, "all new the first time");
        assert!(press(&mut s, KeyCode::Enter).is_empty());
        assert_eq!(s.message.as_ref().unwrap().text, "this event has no run");
        typed(&mut s, "j");
        let effects = press(&mut s, KeyCode::Enter);
        assert_eq!(effects[0], Effect::SaveUiState);
        assert_eq!(s.screen, Screen::Run);
        assert_eq!(s.run.as_ref().unwrap().id, "r1");
        assert_eq!(s.ui.last_seen_event.get("proj/.kiroku"), Some(&9));
    }

    #[test]
    fn mark_seen_moves_the_new_line_and_leaving_remembers() {
        let mut s = with_runs(2);
        typed(&mut s, "a");
        answer(&mut s, Response::Events(vec![event(5, None)]));
        assert_eq!(typed(&mut s, "R"), vec![Effect::SaveUiState]);
        assert_eq!(s.activity.seen_before, 5);
        answer(
            &mut s,
            Response::Events(vec![event(6, None), event(5, None)]),
        );
        press(&mut s, KeyCode::Esc);
        assert_eq!(s.screen, Screen::Runs);
        assert_eq!(s.ui.last_seen_event.get("proj/.kiroku"), Some(&6));
    }

    #[test]
    fn a_note_excerpt_reads_as_one_plain_line() {
        let event = Event {
            id: 1,
            time: 0,
            kind: "note.added".into(),
            user: "ana".into(),
            run_id: None,
            run_name: None,
            experiment: None,
            detail: Some(serde_json::json!({"note_id": 4, "excerpt": "acc too.\n**Promote?**"})),
        };
        assert_eq!(event_detail(&event), "note_id=4 excerpt=acc too. Promote?");
    }
}
