//! Popups drawn over the screen, last: help, palette, confirmations, the tag and note editors
//! and the column chooser.
use super::fit;
use crate::tui::app::{Confirm, InputKind, Overlay, State};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

pub fn draw(frame: &mut Frame, area: Rect, state: &State) {
    let Some(overlay) = &state.overlay else {
        return;
    };
    match overlay {
        Overlay::Help { search, scroll } => {
            let r = centered(area, 90, area.height.saturating_sub(4));
            super::help::draw(frame, r, state, search, *scroll);
        }
        Overlay::Palette { input, selected } => {
            super::palette::draw(frame, area, state, input, *selected)
        }
        Overlay::Confirm(c) => {
            let text = match c {
                Confirm::Delete { run_ids, deleted } => format!(
                    "{} {} run{}? (kiroku {} undoes it)",
                    if *deleted { "Delete" } else { "Restore" },
                    run_ids.len(),
                    if run_ids.len() == 1 { "" } else { "s" },
                    if *deleted { "restore" } else { "rm" },
                ),
                Confirm::DiscardDraft { .. } => "Discard the draft?".into(),
            };
            let r = centered(area, 60, 5);
            frame.render_widget(Clear, r);
            let b = super::block(
                state,
                Span::styled(" Confirm ", state.theme.style("title")),
                true,
            );
            let inner = b.inner(r);
            frame.render_widget(b, r);
            frame.render_widget(
                Paragraph::new(vec![
                    Line::raw(text),
                    Line::styled(
                        "y / enter: yes    n / esc: no",
                        state.theme.style("footer.key"),
                    ),
                ]),
                inner,
            );
        }
        Overlay::Input { kind, editor } => {
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
                            format!(" Reply to note #{r} on {} ", &run_id[..8.min(run_id.len())])
                        }
                        None => format!(" Note on {} ", &run_id[..8.min(run_id.len())]),
                    },
                    "markdown · enter: new line · ctrl-s saves · esc cancels",
                    14,
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
        Overlay::Columns { cursor } => {
            let all = state.available_columns();
            let shown = state.columns();
            let r = centered(
                area,
                50,
                (all.len() as u16 + 3).min(area.height.saturating_sub(2)),
            );
            frame.render_widget(Clear, r);
            let b = super::block(
                state,
                Span::styled(
                    " Columns · space toggles · esc closes ",
                    state.theme.style("title"),
                ),
                true,
            );
            let inner = b.inner(r);
            frame.render_widget(b, r);
            let h = inner.height as usize;
            let first = cursor.saturating_sub(h.saturating_sub(1));
            let lines: Vec<Line> = all
                .iter()
                .enumerate()
                .skip(first)
                .take(h)
                .map(|(i, c)| {
                    let on = shown.contains(c);
                    let mut l = Line::raw(format!(
                        "{} {}",
                        if on { "[x]" } else { "[ ]" },
                        fit(&c.spec(), 40, false)
                    ));
                    if i == *cursor {
                        l = l.style(state.theme.style("table.selected"));
                    }
                    l
                })
                .collect();
            frame.render_widget(Paragraph::new(lines), inner);
        }
    }
}
