//! Which columns the runs table shows: the automatic ones (params that vary, metrics), then
//! the user's choices per experiment (shown, hidden, order; kept in the UI state file), and
//! the `:columns` chooser overlay.
use super::super::fit;
use super::super::overlays::{centered, Layer, Overlay};
use crate::model::Run;
use crate::present::{default_columns, Column};
use crate::tui::app::{Action, Effect, State};
use crate::tui::keymap::Cmd;
use crate::tui::state_file::ColumnPrefs;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;
use std::collections::BTreeSet;

/// The automatic columns: `kiroku runs ls --only-changed`'s, except that a param counts as
/// varying only when it takes two values (not merely present in some runs and absent in
/// others), so a new run without params does not bring in every constant one.
pub fn auto_columns(rows: &[Run]) -> Vec<Column> {
    default_columns(rows, true)
        .into_iter()
        .filter(|c| match c {
            Column::Param(k) => {
                let values: BTreeSet<&String> =
                    rows.iter().filter_map(|r| r.params.get(k)).collect();
                values.len() > 1
            }
            _ => true,
        })
        .collect()
}

/// Quotes a key for the query language when it holds more than `[A-Za-z0-9_/:.-]`.
pub fn query_key(prefix: &str, key: &str) -> String {
    if key
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_/-:.".contains(c))
    {
        format!("{prefix}.{key}")
    } else {
        format!("{prefix}.`{}`", key.replace('`', "``"))
    }
}

/// The sort field of a column in the query language.
pub fn sort_field(col: &Column) -> Option<String> {
    Some(match col {
        Column::Status => "status".into(),
        Column::Id => "run_id".into(),
        Column::Name => "run_name".into(),
        Column::Experiment => "experiment".into(),
        Column::User => "user".into(),
        Column::Host => "host".into(),
        Column::Started => "start_time".into(),
        Column::Duration => "end_time".into(),
        Column::Stars => return None,
        Column::Param(k) => query_key("params", k),
        Column::Metric(k) => query_key("metrics", k),
        Column::Tag(k) => query_key("tags", k),
    })
}

impl State {
    pub(crate) fn exp_key(&self) -> String {
        self.runs.experiment.clone().unwrap_or_else(|| "*".into())
    }

    /// The column choices for this store and the experiment shown.
    pub fn column_prefs(&self) -> ColumnPrefs {
        self.ui
            .columns_by_store
            .get(&self.store_name)
            .and_then(|by_exp| by_exp.get(&self.exp_key()))
            .cloned()
            .unwrap_or_default()
    }

    /// The table's columns after the user's choices: automatic columns (varying params,
    /// metrics) plus the ones shown by hand, in the user's order, minus hidden ones.
    pub fn columns(&self) -> Vec<Column> {
        let prefs = self.column_prefs();
        let mut cols: Vec<Column> = self
            .runs
            .auto_columns
            .iter()
            .filter(|c| **c != Column::Status)
            .cloned()
            .collect();
        for spec in &prefs.shown {
            if let Ok(c) = Column::parse(spec) {
                if !cols.contains(&c) {
                    cols.push(c);
                }
            }
        }
        cols.retain(|c| !prefs.hidden.contains(&c.spec()));
        in_user_order(cols, &prefs.order)
    }

    /// Every column the user could show (for `:columns`).
    pub fn available_columns(&self) -> Vec<Column> {
        let mut cols = vec![
            Column::Id,
            Column::Name,
            Column::Experiment,
            Column::User,
            Column::Host,
            Column::Started,
            Column::Duration,
            Column::Stars,
        ];
        let rows = &self.runs.rows;
        let keys = |f: fn(&Run) -> Vec<&String>| -> BTreeSet<String> {
            rows.iter().flat_map(f).cloned().collect()
        };
        cols.extend(
            keys(|r| r.params.keys().collect())
                .into_iter()
                .map(Column::Param),
        );
        cols.extend(
            keys(|r| r.metrics.keys().collect())
                .into_iter()
                .map(Column::Metric),
        );
        cols.extend(
            keys(|r| r.tags.keys().collect())
                .into_iter()
                .map(Column::Tag),
        );
        cols
    }
}

/// Which group a column belongs to: run attributes, params, metrics, tags.
fn group(c: &Column) -> u8 {
    match c {
        Column::Param(_) => 1,
        Column::Metric(_) => 2,
        Column::Tag(_) => 3,
        _ => 0,
    }
}

/// `cols` in the user's `order`; a column the order does not list (a param first seen in a
/// later run) joins its own group, after the last listed column of that group (or where the
/// group begins), so params stay with params and metrics with metrics.
fn in_user_order(cols: Vec<Column>, order: &[String]) -> Vec<Column> {
    let pos = |c: &Column| order.iter().position(|s| *s == c.spec());
    let (mut listed, unlisted): (Vec<Column>, Vec<Column>) =
        cols.into_iter().partition(|c| pos(c).is_some());
    listed.sort_by_key(|c| pos(c));
    for c in unlisted {
        let g = group(&c);
        let at = match listed.iter().rposition(|l| group(l) == g) {
            Some(last) => last + 1,
            None => listed
                .iter()
                .position(|l| group(l) > g)
                .unwrap_or(listed.len()),
        };
        listed.insert(at, c);
    }
    listed
}

/// Keeps the column choices of this store's current experiment (and saves them).
pub(crate) fn save_prefs(state: &mut State, prefs: ColumnPrefs) -> Vec<Effect> {
    let key = state.exp_key();
    state
        .ui
        .columns_by_store
        .entry(state.store_name.clone())
        .or_default()
        .insert(key, prefs);
    vec![Effect::SaveUiState]
}

/// Opens the chooser (`:columns`).
pub fn open(state: &mut State) {
    state.overlay = Some(Overlay::Columns { cursor: 0 });
}

pub struct ColumnsLayer;

impl Layer for ColumnsLayer {
    fn handle_key(&self, state: &State, key: KeyEvent) -> Option<Action> {
        match key.code {
            KeyCode::Char(' ') | KeyCode::Enter => Some(Action::Cmd(Cmd::Mark)),
            KeyCode::Esc | KeyCode::Char('q') => Some(Action::Cmd(Cmd::Back)),
            _ => state.keymap.lookup("global", &key).map(Action::Cmd),
        }
    }

    /// Every command goes to the chooser while it is open.
    fn update(&self, state: &mut State, action: &Action) -> Option<Vec<Effect>> {
        match action {
            Action::Cmd(cmd) => Some(on_columns_overlay(state, *cmd)),
            _ => None,
        }
    }

    fn draw(&self, frame: &mut Frame, area: Rect, state: &State) {
        let Some(Overlay::Columns { cursor }) = &state.overlay else {
            return;
        };
        let all = state.available_columns();
        let shown = state.columns();
        let r = centered(
            area,
            50,
            (all.len() as u16 + 3).min(area.height.saturating_sub(2)),
        );
        frame.render_widget(Clear, r);
        let b = super::super::block(
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

fn on_columns_overlay(state: &mut State, cmd: Cmd) -> Vec<Effect> {
    let Some(Overlay::Columns { cursor }) = state.overlay.clone() else {
        return vec![];
    };
    let all = state.available_columns();
    match cmd {
        Cmd::Down => {
            state.overlay = Some(Overlay::Columns {
                cursor: (cursor + 1).min(all.len().saturating_sub(1)),
            })
        }
        Cmd::Up => {
            state.overlay = Some(Overlay::Columns {
                cursor: cursor.saturating_sub(1),
            })
        }
        Cmd::Mark => {
            if let Some(col) = all.get(cursor) {
                let spec = col.spec();
                let shown = state.columns().contains(col);
                let mut prefs = state.column_prefs();
                if shown {
                    prefs.shown.retain(|s| *s != spec);
                    if !prefs.hidden.contains(&spec) {
                        prefs.hidden.push(spec);
                    }
                } else {
                    prefs.hidden.retain(|s| *s != spec);
                    if !prefs.shown.contains(&spec) {
                        prefs.shown.push(spec);
                    }
                }
                return save_prefs(state, prefs);
            }
        }
        Cmd::Back | Cmd::Quit => state.overlay = None,
        _ => {}
    }
    vec![]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::screens::test_support::{press, typed, with_runs};
    use crossterm::event::KeyCode;

    #[test]
    fn keys_quote_odd_names_and_the_chooser_shows_a_column_by_hand() {
        assert_eq!(query_key("params", "lr"), "params.lr");
        assert_eq!(query_key("metrics", "a b`c"), "metrics.`a b``c`");
        assert_eq!(sort_field(&Column::Stars), None);
        let mut s = with_runs(2);
        assert!(!s.columns().contains(&Column::Host));
        typed(&mut s, ":columns");
        press(&mut s, KeyCode::Enter);
        let host = s
            .available_columns()
            .iter()
            .position(|c| *c == Column::Host)
            .unwrap();
        for _ in 0..host {
            typed(&mut s, "j");
        }
        assert_eq!(press(&mut s, KeyCode::Char(' ')), vec![Effect::SaveUiState]);
        assert!(s.columns().contains(&Column::Host));
        assert_eq!(s.ui.columns_by_store["proj/.kiroku"]["*"].shown, ["host"]);
        press(&mut s, KeyCode::Esc);
        assert!(s.overlay.is_none());
    }

    #[test]
    fn a_param_first_seen_later_joins_the_params_not_the_end() {
        let p = |k: &str| Column::Param(k.into());
        let m = |k: &str| Column::Metric(k.into());
        // The user moved columns when the runs had lr and acc; a later run brings `seed`.
        let order: Vec<String> = [Column::Name, p("lr"), m("acc")]
            .iter()
            .map(Column::spec)
            .collect();
        let cols = vec![Column::Name, p("lr"), p("seed"), m("acc"), m("loss")];
        assert_eq!(
            in_user_order(cols, &order),
            [Column::Name, p("lr"), p("seed"), m("acc"), m("loss")]
        );
        // No param listed: a new one goes where the params begin (before the metrics).
        let order: Vec<String> = [Column::Name, m("acc")].iter().map(Column::spec).collect();
        assert_eq!(
            in_user_order(vec![Column::Name, p("seed"), m("acc")], &order),
            [Column::Name, p("seed"), m("acc")]
        );
    }

    #[test]
    fn column_choices_belong_to_one_store_and_one_experiment() {
        let mut s = with_runs(2);
        let first = s.columns()[0].clone();
        typed(&mut s, "x");
        assert!(!s.columns().contains(&first));
        // Another experiment of the same store keeps its columns.
        s.runs.experiment = Some("other".into());
        assert!(s.columns().contains(&first));
        s.runs.experiment = None;
        assert!(!s.columns().contains(&first));
        // Another store, with the same saved UI state, keeps its columns.
        let mut other = with_runs(2);
        other.store_name = "elsewhere/.kiroku".into();
        other.ui = s.ui.clone();
        assert!(other.columns().contains(&first));
    }
}
