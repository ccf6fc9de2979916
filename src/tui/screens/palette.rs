//! The command palette (`:`): `:runs`, `:exp NAME`, `:activity`, `:theme NAME`, `:columns`,
//! `:compare`, `:help`, `:quit`, with completion (tab) of commands, experiments and themes.
use crate::tui::app::{palette_completions, State, PALETTE};
use crate::tui::editor::Editor;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

pub fn draw(frame: &mut Frame, area: Rect, state: &State, input: &Editor, selected: usize) {
    let completions = palette_completions(state, &input.text);
    let h = (completions.len() as u16 + 3)
        .min(area.height.saturating_sub(2))
        .max(3);
    let w = area.width.saturating_sub(4).min(70);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + 2,
        width: w,
        height: h,
    };
    frame.render_widget(Clear, r);
    let b = super::block(
        state,
        Span::styled(
            " : command · tab completes · enter runs ",
            state.theme.style("title"),
        ),
        true,
    );
    let inner = b.inner(r);
    frame.render_widget(b, r);
    let mut lines = vec![Line::from(vec![
        Span::styled(":", state.theme.style("text.accent")),
        Span::styled(input.text.clone(), state.theme.style("input")),
        Span::styled(" ", state.theme.style("input.cursor")),
    ])];
    for (i, c) in completions.iter().enumerate() {
        let desc = PALETTE
            .iter()
            .find(|(n, _)| *n == c.as_str())
            .map(|(_, d)| *d)
            .unwrap_or("");
        let mut line = Line::from(vec![
            Span::raw(format!(" {}", super::fit(c, 24, false))),
            Span::styled(desc.to_string(), state.theme.style("text.dim")),
        ]);
        if i == selected {
            line = line.style(state.theme.style("table.selected"));
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
