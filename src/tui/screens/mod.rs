//! Drawing: the frame every screen shares (header, body, key hints and message footer), the
//! screens' bodies (one module each) and the overlays (help, palette, confirm, input), drawn
//! last. Drawing reads the state and records where clickable things landed (`HitAreas`).
pub mod activity;
pub mod compare;
pub mod help;
pub mod overlays;
pub mod palette;
pub mod run;
pub mod runs;

use super::app::{Screen, State};
use super::keymap::Cmd;
use crate::model::RunStatus;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

const SPINNER: [char; 8] = ['⣾', '⣽', '⣻', '⢿', '⡿', '⣟', '⣯', '⣷'];

/// How long a message stays in the footer (ms).
pub const MESSAGE_MS: i64 = 6000;

/// A status as a glyph (or text for mono themes) with its role.
pub fn status_glyph(status: RunStatus, text: bool) -> (&'static str, &'static str) {
    let role = match status {
        RunStatus::Finished => "status.finished",
        RunStatus::Running => "status.running",
        RunStatus::Failed => "status.failed",
        RunStatus::Killed => "status.killed",
        RunStatus::Lost => "status.lost",
        RunStatus::Queued => "status.queued",
    };
    let glyph = match (status, text) {
        (RunStatus::Finished, false) => "✔",
        (RunStatus::Running, false) => "●",
        (RunStatus::Failed, false) => "✘",
        (RunStatus::Killed, false) => "⊘",
        (RunStatus::Lost, false) => "?",
        (RunStatus::Queued, false) => "◌",
        (RunStatus::Finished, true) => "ok",
        (RunStatus::Running, true) => "run",
        (RunStatus::Failed, true) => "FAIL",
        (RunStatus::Killed, true) => "kill",
        (RunStatus::Lost, true) => "lost",
        (RunStatus::Queued, true) => "wait",
    };
    (glyph, role)
}

/// Draws the whole UI.
pub fn draw(frame: &mut Frame, state: &mut State) {
    let area = frame.area();
    state.size = (area.width, area.height);
    state.areas = Default::default();
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(frame, header, state);
    match state.screen {
        Screen::Runs => runs::draw(frame, body, state),
        Screen::Run => run::draw(frame, body, state),
        Screen::Compare => compare::draw(frame, body, state),
        Screen::Activity => activity::draw(frame, body, state),
    }
    draw_footer(frame, footer, state);
    overlays::draw(frame, area, state);
}

fn draw_header(frame: &mut Frame, area: Rect, state: &State) {
    let style = state.theme.style("header");
    let exp = state
        .runs
        .experiment
        .as_deref()
        .unwrap_or("all experiments");
    let where_ = match state.screen {
        Screen::Runs => format!(
            "exp {exp} · {}{} runs",
            state.runs.total,
            if state.runs.total_known() { "" } else { "+" }
        ),
        Screen::Run => state
            .run
            .as_ref()
            .map(|r| format!("run {}", &r.id[..8.min(r.id.len())]))
            .unwrap_or_default(),
        Screen::Compare => format!(
            "compare {} runs",
            state.compare.as_ref().map(|c| c.ids.len()).unwrap_or(0)
        ),
        Screen::Activity => "activity".to_string(),
    };
    let left = format!(" kiroku · {} · {where_}", state.store_name);
    let spin = if state.busy() {
        format!("{} ", SPINNER[(state.tick % 8) as usize])
    } else {
        String::new()
    };
    let running = if state.running > 0 {
        format!(" · {} running", state.running)
    } else {
        String::new()
    };
    let w = area.width as usize;
    let lw = crate::present::display_width(&left);
    // The longest right-hand part that fits: who and where, live, what runs, help.
    let candidates = [
        format!(
            "{spin}{}@{} · ● live{running} · ? help ",
            state.user, state.host
        ),
        format!("{spin}● live{running} · ? help "),
        format!("{spin}● live "),
    ];
    let right = candidates
        .iter()
        .find(|r| lw + crate::present::display_width(r) + 2 <= w)
        .cloned();
    let text = match right {
        Some(r) => {
            let rw = crate::present::display_width(&r);
            format!("{left}{}{r}", " ".repeat(w - lw - rw))
        }
        None => crate::present::truncate(&left, w),
    };
    frame.render_widget(Paragraph::new(Line::styled(text, style)).style(style), area);
}

/// The footer's key hints for the current screen, from the keymap.
pub fn hints(state: &State) -> Vec<(String, &'static str)> {
    let cmds: &[(Cmd, &str)] = match state.screen {
        Screen::Runs => &[
            (Cmd::Mark, "mark"),
            (Cmd::Open, "open"),
            (Cmd::Compare, "compare"),
            (Cmd::Filter, "filter"),
            (Cmd::Sort, "sort"),
            (Cmd::Note, "note"),
            (Cmd::Tag, "tag"),
            (Cmd::Star, "star"),
            (Cmd::Delete, "delete"),
            (Cmd::Activity, "activity"),
            (Cmd::Palette, "command"),
            (Cmd::Quit, "quit"),
        ],
        Screen::Run => &[
            (Cmd::NextTab, "next tab"),
            (Cmd::Note, "note"),
            (Cmd::Filter, "search"),
            (Cmd::SmoothMore, "smooth"),
            (Cmd::LogY, "log-y"),
            (Cmd::XAxis, "x axis"),
            (Cmd::ZoomIn, "zoom"),
            (Cmd::ChartMode, "grid/list"),
            (Cmd::Back, "back"),
            (Cmd::Quit, "quit"),
        ],
        Screen::Compare => &[
            (Cmd::ToggleAll, "all params"),
            (Cmd::Baseline, "baseline"),
            (Cmd::Direction, "better ↑↓"),
            (Cmd::SmoothMore, "smooth"),
            (Cmd::LogY, "log-y"),
            (Cmd::Back, "back"),
            (Cmd::Quit, "quit"),
        ],
        Screen::Activity => &[
            (Cmd::Open, "open run"),
            (Cmd::MarkSeen, "mark seen"),
            (Cmd::Back, "back"),
            (Cmd::Quit, "quit"),
        ],
    };
    let section = state.section();
    cmds.iter()
        .filter_map(|(c, label)| {
            let mut key = state.keymap.key_for(section, *c)?;
            if *c == Cmd::Compare && !state.runs.marked.is_empty() {
                key = format!("{key}({})", state.runs.marked.len());
            }
            Some((key, *label))
        })
        .collect()
}

fn draw_footer(frame: &mut Frame, area: Rect, state: &State) {
    let key_style = state.theme.style("footer.key");
    let text_style = state.theme.style("footer.text");
    let msg = state
        .message
        .as_ref()
        .filter(|m| m.error || state.now - m.at < MESSAGE_MS);
    let msg_w = msg
        .map(|m| crate::present::display_width(&m.text) + 2)
        .unwrap_or(0)
        .min(area.width as usize / 2 + 10);
    let mut spans = vec![Span::raw(" ")];
    let mut used = 1;
    for (key, label) in hints(state) {
        let w = key.chars().count() + label.chars().count() + 3;
        if used + w + msg_w > area.width as usize {
            break;
        }
        spans.push(Span::styled(key, key_style));
        spans.push(Span::styled(format!(" {label}  "), text_style));
        used += w;
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
    if let Some(m) = msg {
        let role = if m.error {
            "message.error"
        } else {
            "message.info"
        };
        let text = crate::present::truncate(&m.text, msg_w.saturating_sub(1));
        let w = crate::present::display_width(&text) as u16 + 1;
        let r = Rect {
            x: area.x + area.width.saturating_sub(w),
            y: area.y,
            width: w.min(area.width),
            height: 1,
        };
        frame.render_widget(
            Paragraph::new(Span::styled(text, state.theme.style(role))),
            r,
        );
    }
}

/// A block with the theme's border, focused or not.
pub fn block<'a>(
    state: &State,
    title: impl Into<Line<'a>>,
    focused: bool,
) -> ratatui::widgets::Block<'a> {
    ratatui::widgets::Block::bordered()
        .border_style(
            state
                .theme
                .style(if focused { "border.focus" } else { "border" }),
        )
        .title(title)
}

/// Pads or cuts `s` to exactly `w` cells (right-aligned when `right`).
pub fn fit(s: &str, w: usize, right: bool) -> String {
    let t = crate::present::truncate(s, w);
    let pad = w.saturating_sub(crate::present::display_width(&t));
    if right {
        format!("{}{t}", " ".repeat(pad))
    } else {
        format!("{t}{}", " ".repeat(pad))
    }
}

/// A `key  value` line.
pub fn kv<'a>(state: &State, key: &str, value: impl Into<String>, width: usize) -> Line<'a> {
    Line::from(vec![
        Span::styled(fit(key, width, false), state.theme.style("text.dim")),
        Span::styled(value.into(), Style::default()),
    ])
}
