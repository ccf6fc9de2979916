//! The runs filter bar: results update as you type, parsed here (cheap, no store) and
//! queried when valid, except while a keyword or field name is half typed.
use crate::query::parse_filter;
use crate::tui::app::{Effect, State};
use crate::tui::editor::EditKey;

/// Words of the query language a filter may be on its way to.
const KEYWORDS: &[&str] = &[
    "metrics",
    "metric",
    "params",
    "param",
    "parameters",
    "parameter",
    "tags",
    "tag",
    "attributes",
    "attribute",
    "attr",
    "datasets",
    "dataset",
    "and",
    "or",
    "not",
    "like",
    "ilike",
    "in",
    "is",
    "null",
];

/// Whether the filter ends in a bare word that is a keyword or field type being typed (`me`,
/// `metrics`, `an`): not worth a search of names and tags yet.
pub fn half_typed_keyword(filter: &str) -> bool {
    if filter.ends_with(char::is_whitespace) {
        return false;
    }
    let last = filter
        .rsplit(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    !last.is_empty()
        && last.chars().all(|c| c.is_ascii_alphabetic())
        && KEYWORDS.iter().any(|k| k.starts_with(&last))
}

/// A key while the filter bar has the keyboard.
pub(crate) fn on_filter_edit(state: &mut State, key: EditKey) -> Vec<Effect> {
    let submit = matches!(key, EditKey::Submit);
    match key {
        // Esc puts back the filter as it was before `/` (Enter applies what is typed).
        EditKey::Cancel => {
            state.field = None;
            let before = std::mem::take(&mut state.field_before);
            return set_filter(state, before);
        }
        EditKey::Submit | EditKey::Down => state.field = None,
        k => {
            if !state.runs.filter.apply(k) {
                return vec![];
            }
        }
    }
    // Results update as you type: parse here (cheap, no store), query when valid,
    // except while a keyword or field name is half typed (`me` on the way to
    // `metrics.`): that would search names for `me` only to be replaced a key later.
    // Enter searches whatever is there.
    let text = state.runs.filter.text.clone();
    match parse_filter(&text) {
        Ok(_) => {
            state.runs.filter_error = None;
            state.runs.filter_deferred = !submit && half_typed_keyword(&text);
            if !state.runs.filter_deferred && text.trim() != state.runs.applied_filter.trim() {
                state.runs.applied_filter = text;
                return vec![state.reload_runs()];
            }
        }
        Err(e) => {
            state.runs.filter_deferred = false;
            state.runs.filter_error = Some(e)
        }
    }
    vec![]
}

/// Shows the runs matching `text` (already valid: it was applied before), text and rows both.
pub(crate) fn set_filter(state: &mut State, text: String) -> Vec<Effect> {
    state.runs.filter = crate::tui::editor::Editor::with_text(&text);
    state.runs.filter_error = None;
    state.runs.filter_deferred = false;
    if text.trim() == state.runs.applied_filter.trim() {
        return vec![];
    }
    state.runs.applied_filter = text;
    vec![state.reload_runs()]
}
