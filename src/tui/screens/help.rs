//! The help overlay, generated from the merged keymap (so it shows the user's own bindings)
//! and searchable: typing filters by key, action or description.
use super::fit;
use super::overlays::{centered, Layer, Overlay};
use crate::tui::app::{Action, Effect, State};
use crate::tui::editor::{edit_key, EditKey, Editor};
use crate::tui::keymap::Cmd;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
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
    fn handle_key(&self, state: &State, key: KeyEvent) -> Option<Action> {
        // Keys that cannot be typed into the search (pagedown, end, ctrl-d, …) page as
        // everywhere else; letters search.
        let typed =
            matches!(key.code, KeyCode::Char(_)) && !key.modifiers.contains(KeyModifiers::CONTROL);
        if !typed {
            if let Some(cmd @ (Cmd::Top | Cmd::Bottom | Cmd::PageDown | Cmd::PageUp)) =
                state.keymap.lookup("global", &key)
            {
                return Some(Action::Cmd(cmd));
            }
        }
        edit_key(key, false).map(Action::Edit)
    }

    /// Typing searches, up and down scroll, enter or esc close.
    fn update(&self, state: &mut State, action: &Action) -> Option<Vec<Effect>> {
        if !matches!(action, Action::Edit(_) | Action::Cmd(_)) {
            return None;
        }
        let Some(Overlay::Help { mut search, scroll }) = state.overlay.take() else {
            return None;
        };
        let (lines, page) = body_size(state, &search.text);
        let last = lines.saturating_sub(page);
        let scroll = match action {
            Action::Cmd(Cmd::Top) => 0,
            Action::Cmd(Cmd::Bottom) => last,
            Action::Cmd(Cmd::PageDown) => (scroll + page).min(last),
            Action::Cmd(Cmd::PageUp) => scroll.saturating_sub(page),
            Action::Edit(EditKey::Cancel | EditKey::Submit) => return Some(vec![]),
            Action::Edit(EditKey::Down) => (scroll + 1).min(last),
            Action::Edit(EditKey::Up) => scroll.saturating_sub(1),
            Action::Edit(k) => {
                search.apply(*k);
                0
            }
            _ => scroll,
        };
        state.overlay = Some(Overlay::Help { search, scroll });
        Some(vec![])
    }

    fn draw(&self, frame: &mut Frame, area: Rect, state: &State) {
        if let Some(Overlay::Help { search, scroll }) = &state.overlay {
            draw(frame, help_area(area), state, search, *scroll);
        }
    }
}

/// Where the help box goes on a terminal of `area`.
fn help_area(area: Rect) -> Rect {
    centered(area, 90, area.height.saturating_sub(4))
}

/// The help's body for `search`: how many lines it has (bindings and section headers), and
/// how many fit on a page of the current terminal (the box less its borders and search line).
fn body_size(state: &State, search: &str) -> (usize, usize) {
    let rows = rows(state, search);
    let sections = rows
        .iter()
        .map(|(section, ..)| section)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let (w, h) = state.size;
    let page = help_area(Rect::new(0, 0, w, h)).height.saturating_sub(3) as usize;
    ((rows.len() + sections).max(1), page.max(1))
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
    use crate::tui::screens::test_support::{press, press_mod, state, typed};

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

    fn scroll_of(s: &State) -> usize {
        match &s.overlay {
            Some(Overlay::Help { scroll, .. }) => *scroll,
            other => panic!("the help is not open: {other:?}"),
        }
    }

    #[test]
    fn pagedown_ctrl_d_end_and_home_page_through_the_help() {
        let mut s = state();
        s.size = (100, 30);
        typed(&mut s, "?");
        let (lines, page) = body_size(&s, "");
        assert!(
            lines > 2 * page,
            "the help spans pages ({lines} lines, {page} a page)"
        );
        press(&mut s, KeyCode::PageDown);
        assert_eq!(scroll_of(&s), page);
        press_mod(&mut s, KeyCode::Char('d'), KeyModifiers::CONTROL);
        assert_eq!(scroll_of(&s), 2 * page);
        press(&mut s, KeyCode::End);
        assert_eq!(scroll_of(&s), lines - page, "end goes to the bottom");
        press(&mut s, KeyCode::Down);
        assert_eq!(scroll_of(&s), lines - page, "no scrolling past the end");
        press(&mut s, KeyCode::Home);
        assert_eq!(scroll_of(&s), 0);
        typed(&mut s, "d");
        assert!(
            matches!(&s.overlay, Some(Overlay::Help { search, .. }) if search.text == "d"),
            "letters still search"
        );
    }
}
