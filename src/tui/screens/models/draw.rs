//! Drawing the Models screen: the models (with their aliases) beside the selected model's
//! versions on a wide terminal (the focused pane alone on a narrow one); below the versions, the
//! selected version's gates condition by condition and approvals, the alias history (newest
//! first) and the hook deliveries with their status.
use super::ModelsFocus;
use crate::models::overview::VersionView;
use crate::present::models::{delivery_status, delivery_target, metrics_text, move_line};
use crate::present::truncate;
use crate::tui::app::State;
use crate::tui::screens::block;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// From this width on, the list sits beside the versions.
const SIDE_BY_SIDE_W: u16 = 100;

pub fn draw(frame: &mut Frame, area: Rect, state: &mut State) {
    if area.width >= SIDE_BY_SIDE_W {
        let list_w = (area.width / 4).clamp(24, 40);
        let [list, detail] =
            Layout::horizontal([Constraint::Length(list_w), Constraint::Min(30)]).areas(area);
        draw_list(frame, list, state);
        draw_detail(frame, detail, state);
    } else if state.models.focus == ModelsFocus::List {
        draw_list(frame, area, state);
    } else {
        draw_detail(frame, area, state);
    }
}

fn draw_list(frame: &mut Frame, area: Rect, state: &mut State) {
    let focused = state.models.focus == ModelsFocus::List;
    let b = block(
        state,
        Span::styled(" Models ", state.theme.style("title")),
        focused,
    );
    let inner = b.inner(area);
    frame.render_widget(b, area);
    let width = inner.width as usize;
    let v = &state.models;
    let mut lines: Vec<Line> = Vec::new();
    if v.models.is_empty() {
        lines.push(Line::styled(
            if v.loaded {
                "no registered models (kiroku model register RUN NAME)"
            } else {
                "loading…"
            },
            state.theme.style("text.dim"),
        ));
    }
    let cursor = v.cursor();
    for (i, m) in v.models.iter().enumerate() {
        let aliases: Vec<String> = m.aliases.iter().map(|(a, n)| format!("@{a}→{n}")).collect();
        let text = truncate(&format!("{}  {}", m.name, aliases.join(" ")), width);
        let line = Line::styled(text, state.theme.style("text"));
        lines.push(if i == cursor {
            line.style(state.theme.style("table.selected"))
        } else {
            line
        });
    }
    state.areas.list = Some((inner, 0));
    frame.render_widget(Paragraph::new(lines), inner);
}

fn version_line(state: &State, v: &VersionView, width: usize, selected: bool) -> Line<'static> {
    let aliases = if v.version.aliases.is_empty() {
        String::new()
    } else {
        format!(" @{}", v.version.aliases.join(" @"))
    };
    let run = v
        .version
        .run_id
        .as_deref()
        .map(crate::ids::short)
        .unwrap_or("—")
        .to_string();
    let eval = match &v.evaluation {
        Some(e) => format!("eval {} {}", e.status, metrics_text(&v.evaluation_metrics)),
        None => "no eval".into(),
    };
    let gates: Vec<String> = v
        .gates
        .iter()
        .map(|g| format!("@{} {}", g.alias, g.label()))
        .collect();
    let approvals = v
        .approvals
        .iter()
        .filter(|a| a.approval.verdict == crate::model::promotions::ApprovalVerdict::Approved)
        .count();
    let text = format!(
        "v{}{aliases}  run {run}  {eval}  {}  ✓{approvals}",
        v.version.version,
        gates.join(" ")
    );
    let line = Line::styled(truncate(&text, width), state.theme.style("text"));
    if selected {
        line.style(state.theme.style("table.selected"))
    } else {
        line
    }
}

fn draw_detail(frame: &mut Frame, area: Rect, state: &mut State) {
    let focused = state.models.focus == ModelsFocus::Versions;
    let v = &state.models;
    let title = match v.model() {
        Some(m) => format!(" {} ", m.model.name),
        None => " Versions ".into(),
    };
    let b = block(
        state,
        Span::styled(title, state.theme.style("title")),
        focused,
    );
    let inner = b.inner(area);
    frame.render_widget(b, area);
    let width = inner.width as usize;
    let Some(model) = v.model() else {
        frame.render_widget(
            Paragraph::new(Line::styled("loading…", state.theme.style("text.dim"))),
            inner,
        );
        return;
    };
    let dim = state.theme.style("text.dim");
    let accent = state.theme.style("text.accent");
    let mut lines: Vec<Line> = Vec::new();
    let cursor = v.version_cursor();
    for (i, version) in model.versions.iter().enumerate() {
        lines.push(version_line(state, version, width, focused && i == cursor));
    }
    if let Some(version) = v.selected_version() {
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            format!(
                "version {}  {}",
                version.version.version, version.version.source
            ),
            accent,
        ));
        for gate in &version.gates {
            lines.push(Line::styled(
                format!(" gate @{}: {}", gate.alias, gate.label()),
                state.theme.style("text"),
            ));
            for c in &gate.conditions {
                let (mark, role) = if c.passed {
                    ("✓", "status.finished")
                } else {
                    ("✗", "status.failed")
                };
                lines.push(Line::from(vec![
                    Span::styled(format!("   {mark} "), state.theme.style(role)),
                    Span::styled(
                        truncate(
                            &format!("{}  ({})", c.condition, c.found),
                            width.saturating_sub(5),
                        ),
                        state.theme.style("text"),
                    ),
                ]));
            }
        }
        for a in &version.approvals {
            lines.push(Line::styled(
                truncate(
                    &format!(
                        " {} by {}: {}",
                        a.approval.verdict, a.approval.reviewer, a.approval.comment
                    ),
                    width,
                ),
                dim,
            ));
        }
    }
    if !model.history.is_empty() {
        lines.push(Line::raw(""));
        lines.push(Line::styled("alias history", accent));
        for step in model.history.iter().rev().take(8) {
            lines.push(Line::styled(
                truncate(&format!(" {}", move_line(step)), width),
                dim,
            ));
        }
    }
    if !model.deliveries.is_empty() {
        lines.push(Line::raw(""));
        lines.push(Line::styled("hook deliveries", accent));
        for d in model.deliveries.iter().take(8) {
            lines.push(Line::styled(
                truncate(
                    &format!(
                        " {}  {}  {}",
                        d.delivery.hook,
                        delivery_target(d),
                        delivery_status(d)
                    ),
                    width,
                ),
                dim,
            ));
        }
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
