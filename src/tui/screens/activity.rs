//! The activity log, newest first: runs started and ended, notes, tags, stars. Events newer
//! than the last one you saw (kept in the UI state file) are marked.
use super::fit;
use crate::model::Event;
use crate::present::format_relative;
use crate::tui::app::State;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// A one-line description of an event's detail.
pub fn describe(e: &Event) -> String {
    let Some(d) = &e.detail else {
        return String::new();
    };
    match d {
        serde_json::Value::Object(m) => m
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                format!("{k}={v}")
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

pub fn draw(frame: &mut Frame, area: Rect, state: &mut State) {
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
            (Some(id), Some(name)) => format!("{} {name}", &id[..8.min(id.len())]),
            (Some(id), None) => id[..8.min(id.len())].to_string(),
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
            Span::styled(describe(e), state.theme.style("text.dim")),
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
