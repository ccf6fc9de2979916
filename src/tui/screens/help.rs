//! The help overlay, generated from the merged keymap (so it shows the user's own bindings)
//! and searchable: typing filters by key, action or description.
use super::fit;
use super::overlays::{centered, Layer, Overlay};
use crate::tui::app::{Action, Effect, State};
use crate::tui::editor::{edit_key, EditKey, Editor};
use crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

/// Help rows matching the search (section, keys, action, description).
pub fn rows(state: &State, search: &str) -> Vec<(String, String, String, &'static str)> {
    let needle = search.to_lowercase();
    state
        .keymap
        .help_rows()
        .into_iter()
        .filter(|(s, k, a, d)| {
            needle.is_empty()
                || [s.as_str(), k.as_str(), a.as_str(), d]
                    .iter()
                    .any(|t| t.to_lowercase().contains(&needle))
        })
        .collect()
}

/// Opens the help (`?`).
pub fn open(state: &mut State) {
    state.overlay = Some(Overlay::Help {
        search: Editor::default(),
        scroll: 0,
    });
}

pub struct HelpLayer;

impl Layer for HelpLayer {
    fn handle_key(&self, _state: &State, key: KeyEvent) -> Option<Action> {
        edit_key(key, false).map(Action::Edit)
    }

    /// Typing searches, up and down scroll, enter or esc close.
    fn update(&self, state: &mut State, action: &Action) -> Option<Vec<Effect>> {
        let Action::Edit(key) = action else {
            return None;
        };
        let Some(Overlay::Help { mut search, scroll }) = state.overlay.take() else {
            return None;
        };
        let scroll = match *key {
            EditKey::Cancel | EditKey::Submit => return Some(vec![]),
            EditKey::Down => scroll + 1,
            EditKey::Up => scroll.saturating_sub(1),
            k => {
                search.apply(k);
                0
            }
        };
        state.overlay = Some(Overlay::Help { search, scroll });
        Some(vec![])
    }

    fn draw(&self, frame: &mut Frame, area: Rect, state: &State) {
        if let Some(Overlay::Help { search, scroll }) = &state.overlay {
            let r = centered(area, 90, area.height.saturating_sub(4));
            draw(frame, r, state, search, *scroll);
        }
    }
}

fn draw(frame: &mut Frame, area: Rect, state: &State, search: &Editor, scroll: usize) {
    frame.render_widget(Clear, area);
    let b = super::block(
        state,
        Span::styled(
            " Help · type to search · esc closes ",
            state.theme.style("title"),
        ),
        true,
    );
    let inner = b.inner(area);
    frame.render_widget(b, area);
    let mut lines = vec![Line::from(vec![
        Span::styled("search: ", state.theme.style("text.accent")),
        Span::styled(search.text.clone(), state.theme.style("input")),
        Span::styled(" ", state.theme.style("input.cursor")),
    ])];
    let rows = rows(state, &search.text);
    let mut last_section = String::new();
    let mut body = Vec::new();
    for (section, keys, action, desc) in rows {
        if section != last_section {
            body.push(Line::styled(
                format!("[{section}]"),
                state.theme.style("table.header"),
            ));
            last_section = section;
        }
        body.push(Line::from(vec![
            Span::styled(fit(&keys, 23, false) + " ", state.theme.style("footer.key")),
            Span::raw(fit(&action, 18, false) + " "),
            Span::styled(desc.to_string(), state.theme.style("text.dim")),
        ]));
    }
    if body.is_empty() {
        body.push(Line::styled(
            "no binding matches",
            state.theme.style("text.dim"),
        ));
    }
    let h = inner.height.saturating_sub(1) as usize;
    lines.extend(body.into_iter().skip(scroll).take(h));
    frame.render_widget(Paragraph::new(lines), inner);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::screens::test_support::{press, state, typed};
    use crossterm::event::KeyCode;

    #[test]
    fn typing_searches_the_bindings_and_arrows_scroll() {
        let mut s = state();
        typed(&mut s, "?");
        press(&mut s, KeyCode::Down);
        assert!(matches!(&s.overlay, Some(Overlay::Help { scroll: 1, .. })));
        typed(&mut s, "zoom");
        assert!(
            matches!(&s.overlay, Some(Overlay::Help { scroll: 0, search }) if search.text == "zoom")
        );
        let found = rows(&s, "zoom");
        assert!(!found.is_empty());
        assert!(found
            .iter()
            .all(|(_, _, a, d)| a.contains("zoom") || d.to_lowercase().contains("zoom")));
        press(&mut s, KeyCode::Enter);
        assert!(s.overlay.is_none());
    }
}
