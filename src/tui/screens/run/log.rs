//! The Logs tab's data: reading the run's output (whole, then what was appended; the file is
//! followed while the run runs), and searching it; plus the Params tab's search field.
use super::RunTab;
use crate::tui::app::{Effect, State, TextField};
use crate::tui::editor::EditKey;
use crate::tui::worker::Request;

/// Puts a log answer into the text held: appended to it (`appended`, bounded: whole lines are
/// dropped from the front past `LOG_LIMIT`), or in its place.
pub(crate) fn merge_log(held: &mut Option<String>, text: String, appended: bool) {
    match (held.as_mut(), appended) {
        (Some(log), true) => {
            log.push_str(&text);
            let limit = crate::tui::worker::LOG_LIMIT as usize;
            if log.len() > limit {
                let mut cut = log.len() - limit;
                while !log.is_char_boundary(cut) {
                    cut += 1;
                }
                let at = log[cut..].find('\n').map_or(cut, |i| cut + i + 1);
                log.drain(..at);
            }
        }
        _ => *held = Some(text),
    }
}

impl State {
    pub(crate) fn log_effects(&mut self) -> Vec<Effect> {
        let Some(rv) = &self.run else { return vec![] };
        let id = rv.id.clone();
        let running = rv
            .detail
            .as_ref()
            .is_some_and(|d| !d.run.status.is_terminal());
        let path = rv
            .detail
            .as_ref()
            .and_then(|d| d.run_dir.clone())
            .map(|d| format!("{d}/output.log"));
        vec![
            self.request(Request::Log {
                run_id: id,
                from: 0,
            }),
            Effect::WatchFile(if running { path } else { None }),
        ]
    }
}

/// A key while the params or log search has the keyboard.
pub(crate) fn on_search_edit(state: &mut State, key: EditKey) -> Vec<Effect> {
    let field = state.field;
    let Some(rv) = state.run.as_mut() else {
        state.field = None;
        return vec![];
    };
    let editor = if field == Some(TextField::ParamSearch) {
        &mut rv.param_search
    } else {
        &mut rv.log_search
    };
    match key {
        EditKey::Submit => state.field = None,
        // Esc puts back the search as it was before `/` (Enter keeps what is typed).
        EditKey::Cancel => {
            *editor = crate::tui::editor::Editor::with_text(&state.field_before);
            state.field = None;
        }
        k => {
            editor.apply(k);
        }
    }
    if field == Some(TextField::LogSearch) {
        jump_to_match(state, true, true);
    }
    vec![]
}

/// Moves the log view to the next (or previous) line matching the search.
pub(crate) fn jump_to_match(state: &mut State, forward: bool, include_current: bool) {
    let Some(rv) = state.run.as_mut() else { return };
    let needle = rv.log_search.text.to_lowercase();
    let Some(log) = &rv.log else { return };
    if needle.is_empty() {
        return;
    }
    let lines: Vec<&str> = log.lines().collect();
    let cur = rv.scroll_of(RunTab::Logs);
    let n = lines.len();
    let found = if forward {
        let start = if include_current { cur } else { cur + 1 };
        (start..n).find(|i| lines[*i].to_lowercase().contains(&needle))
    } else {
        (0..cur)
            .rev()
            .find(|i| lines[*i].to_lowercase().contains(&needle))
    };
    match found {
        Some(i) => {
            rv.follow = false;
            rv.scroll.insert(RunTab::Logs.title(), i);
        }
        None => {
            let text = format!("no more matches for '{}'", rv.log_search.text);
            state.info(text);
        }
    }
}

/// Clears the search of the current tab (Params or Logs); whether there was one.
pub(crate) fn clear_search(state: &mut State) -> bool {
    let Some(rv) = state.run.as_mut() else {
        return false;
    };
    let editor = match rv.tab {
        RunTab::Params => &mut rv.param_search,
        RunTab::Logs => &mut rv.log_search,
        _ => return false,
    };
    if editor.text.is_empty() {
        return false;
    }
    *editor = crate::tui::editor::Editor::default();
    state.info("search cleared");
    true
}

/// Whether the Logs tab is shown with a search in force (`n`/`N` then move between matches).
pub(crate) fn log_search_active(state: &State) -> bool {
    state
        .run
        .as_ref()
        .is_some_and(|rv| rv.tab == RunTab::Logs && !rv.log_search.text.is_empty())
}
