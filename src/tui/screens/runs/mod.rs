//! The runs screen: experiments on the left, the filter bar, and the runs table, a window of
//! rows around the cursor fetched a page at a time (`seq` numbers drop stale pages; a full
//! page's total is a lower bound until its count comes back). Columns are in `columns`, the
//! filter bar in `filter`, drawing in `draw`.
pub mod columns;
mod draw;
pub mod filter;

pub use columns::{auto_columns, query_key, sort_field};
pub use draw::{cell, fit_columns, FitFor, Fitted};
pub use filter::half_typed_keyword;

use super::{is_motion, move_cursor, writes, Screen, ScreenBehaviour};
use crate::model::{Run, RunQuery, RunStatus};
use crate::present::key_hints::KnownKeys;
use crate::present::Column;
use crate::query::QueryError;
use crate::series::SampledSeries;
use crate::tui::app::{contains, Effect, State, TextField};
use crate::tui::editor::Editor;
use crate::tui::keymap::Cmd;
use crate::tui::worker::{Request, Response};
use columns::save_prefs;
use ratatui::layout::Rect;
use ratatui::Frame;
use std::collections::BTreeMap;

/// Cells of a metric's sparkline in the runs table.
pub const SPARK_W: usize = 6;
/// The narrowest table that shows sparklines (narrower ones keep the room for columns).
pub const SPARK_MIN_WIDTH: u16 = 120;
/// Longer histories get no sparkline: reading them would slow the table (the count is in the
/// run's summary, so this costs nothing to check).
const SPARK_MAX_POINTS: u64 = 200_000;
/// The most cells one sparkline request reads, and the most the cache keeps.
const SPARK_MAX_CELLS: usize = 600;
const SPARK_CACHE: usize = 20_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricStat {
    Last,
    Min,
    Max,
}

impl MetricStat {
    /// The next statistic `m` shows: from the last value to the best one for the metric's
    /// direction (min for a loss, max for an accuracy), then the worst, then back.
    pub fn next(self, higher_is_better: bool) -> MetricStat {
        let (best, worst) = if higher_is_better {
            (MetricStat::Max, MetricStat::Min)
        } else {
            (MetricStat::Min, MetricStat::Max)
        };
        match self {
            MetricStat::Last => best,
            s if s == best => worst,
            _ => MetricStat::Last,
        }
    }
}

/// The metric whose direction `m` follows: the one under the column cursor, else the sorted
/// one, else the first metric column.
fn stat_metric(state: &State) -> Option<String> {
    let cols = state.columns();
    let metric = |c: &Column| match c {
        Column::Metric(k) => Some(k.clone()),
        _ => None,
    };
    cols.get(state.runs.col_cursor)
        .and_then(metric)
        .or_else(|| state.runs.sort.as_ref().and_then(|(c, _)| metric(c)))
        .or_else(|| cols.iter().find_map(metric))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunsFocus {
    Sidebar,
    Table,
}

/// The runs table: a window of rows around the cursor, fetched a page at a time.
#[derive(Debug, Clone)]
pub struct RunsView {
    /// None: all experiments.
    pub experiment: Option<String>,
    pub sidebar_cursor: usize,
    pub focus: RunsFocus,
    pub filter: Editor,
    pub filter_error: Option<QueryError>,
    /// The filter parses but ends in a half-typed keyword, so it waits for more (or enter).
    pub filter_deferred: bool,
    /// The filter of the rows shown (the last valid one).
    pub applied_filter: String,
    /// Column sorted by, and descending.
    pub sort: Option<(Column, bool)>,
    pub show_deleted: bool,
    pub total: u64,
    pub window_offset: u64,
    pub rows: Vec<Run>,
    pub cursor: u64,
    pub scroll: u64,
    pub visible_rows: u64,
    pub seq_sent: u64,
    pub seq_got: u64,
    /// The query (without paging) whose `total` is exact; None while only a lower bound.
    pub counted: Option<RunQuery>,
    /// The page (and its query) whose count is on its way.
    pub counting: Option<(u64, RunQuery)>,
    /// Marked run ids in marking order (compare keeps it).
    pub marked: Vec<String>,
    /// Selected column (for sort, hide, move), an index into `columns()`.
    pub col_cursor: usize,
    pub metric_stat: MetricStat,
    /// Columns the window would show before user choices (varying params, metrics).
    pub auto_columns: Vec<Column>,
    /// The metric, param and tag keys of the last rows shown, so a filter that matches nothing
    /// can say which of its keys no run has (`present::key_hints`).
    pub known_keys: KnownKeys,
    /// (run id, metric key) → the metric's history reduced to a sparkline's few values, with
    /// the point count it was read at (a run that logs more is read again).
    pub sparks: BTreeMap<(String, String), (u64, SampledSeries)>,
}

impl Default for RunsView {
    fn default() -> Self {
        RunsView {
            experiment: None,
            sidebar_cursor: 0,
            focus: RunsFocus::Table,
            filter: Editor::default(),
            filter_error: None,
            filter_deferred: false,
            applied_filter: String::new(),
            sort: None,
            show_deleted: false,
            total: 0,
            window_offset: 0,
            rows: Vec::new(),
            cursor: 0,
            scroll: 0,
            visible_rows: 40,
            seq_sent: 0,
            seq_got: 0,
            counted: None,
            counting: None,
            marked: Vec::new(),
            col_cursor: 0,
            metric_stat: MetricStat::Last,
            auto_columns: Vec::new(),
            known_keys: KnownKeys::default(),
            sparks: BTreeMap::new(),
        }
    }
}

impl RunsView {
    /// The row at absolute index `i`, when it is in the fetched window.
    pub fn row(&self, i: u64) -> Option<&Run> {
        i.checked_sub(self.window_offset)
            .and_then(|j| self.rows.get(j as usize))
    }

    pub fn selected(&self) -> Option<&Run> {
        self.row(self.cursor)
    }

    pub fn loading(&self) -> bool {
        self.seq_got < self.seq_sent
    }

    /// Whether `total` is exact (else a lower bound until the count arrives).
    pub fn total_known(&self) -> bool {
        self.counted.is_some()
    }
}

impl State {
    pub(crate) fn run_query(&self, offset: u64, limit: u64) -> RunQuery {
        RunQuery {
            experiments: self.runs.experiment.iter().cloned().collect(),
            filter: Some(self.runs.applied_filter.clone()).filter(|f| !f.trim().is_empty()),
            sort: self.runs.sort.as_ref().and_then(|(c, desc)| {
                sort_field(c).map(|f| format!("{f} {}", if *desc { "desc" } else { "asc" }))
            }),
            limit: Some(limit),
            offset,
            include_deleted: self.runs.show_deleted,
            only_deleted: false,
            reverse: false,
            dialect: crate::model::QueryDialect::Kiroku,
        }
    }

    /// The current query without paging (what a count is for).
    pub(crate) fn query_key(&self) -> RunQuery {
        RunQuery {
            offset: 0,
            limit: None,
            ..self.run_query(0, 0)
        }
    }

    pub(crate) fn page_limit(&self) -> u64 {
        (self.runs.visible_rows * 3).max(100)
    }

    /// A fresh first page (the query changed): cursor to the top.
    pub(crate) fn reload_runs(&mut self) -> Effect {
        self.runs.cursor = 0;
        self.runs.scroll = 0;
        self.refetch_runs()
    }

    /// The same query again around the current scroll position (live updates, paging).
    pub(crate) fn refetch_runs(&mut self) -> Effect {
        self.runs.seq_sent += 1;
        let offset = self.runs.scroll.saturating_sub(self.runs.visible_rows);
        let query = self.run_query(offset, self.page_limit());
        let what = RunQuery {
            offset: 0,
            limit: None,
            ..query.clone()
        };
        let total = (self.runs.counted.as_ref() == Some(&what)).then_some(self.runs.total);
        Effect::Request(Request::Runs {
            seq: self.runs.seq_sent,
            query,
            total,
        })
    }

    /// Sparklines for the window's metric cells not read yet (or read before the run logged
    /// more); none on a terminal too narrow to show them.
    pub(crate) fn spark_requests(&mut self) -> Vec<Effect> {
        if self.size.0 < SPARK_MIN_WIDTH {
            return vec![];
        }
        let keys: Vec<String> = self
            .columns()
            .into_iter()
            .filter_map(|c| match c {
                Column::Metric(k) => Some(k),
                _ => None,
            })
            .collect();
        let mut cells = Vec::new();
        for run in &self.runs.rows {
            for key in &keys {
                let Some(m) = run.metrics.get(key) else {
                    continue;
                };
                let cached = self.runs.sparks.get(&(run.id.clone(), key.clone()));
                if m.count >= 2
                    && m.count <= SPARK_MAX_POINTS
                    && cached.is_none_or(|(n, _)| *n != m.count)
                {
                    cells.push((run.id.clone(), key.clone()));
                }
            }
        }
        if cells.is_empty() {
            return vec![];
        }
        cells.truncate(SPARK_MAX_CELLS);
        vec![self.request(Request::Sparks {
            cells,
            buckets: SPARK_W,
        })]
    }

    /// Fetches a new window when the visible rows are not all in the current one.
    pub(crate) fn ensure_window(&mut self) -> Vec<Effect> {
        let top = self.runs.scroll;
        let bottom = (top + self.runs.visible_rows).min(self.runs.total);
        let have_lo = self.runs.window_offset;
        let have_hi = have_lo + self.runs.rows.len() as u64;
        if top >= have_lo && bottom <= have_hi {
            return vec![];
        }
        vec![self.refetch_runs()]
    }
}

/// Shows the runs of one experiment (`None`: all), from the top.
pub(crate) fn select_experiment(state: &mut State, name: Option<String>) -> Vec<Effect> {
    state.runs.sidebar_cursor = match &name {
        None => 0,
        Some(n) => state
            .experiments
            .iter()
            .position(|e| &e.name == n)
            .map(|i| i + 1)
            .unwrap_or(0),
    };
    state.runs.experiment = name;
    state.runs.col_cursor = 0;
    state.history.clear();
    state.screen = Screen::Runs;
    vec![state.reload_runs()]
}

fn sort_by(state: &mut State, col: Column, reverse: bool) -> Vec<Effect> {
    if sort_field(&col).is_none() {
        state.error(format!("cannot sort by {}", col.header()));
        return vec![];
    }
    let desc = match &state.runs.sort {
        // Sorting by the sorted column again flips it.
        Some((c, d)) if *c == col => !*d,
        // A metric reads best first (loss ascending, accuracy descending); times latest first.
        _ => {
            let largest_first = match &col {
                Column::Metric(k) => crate::compare::higher_is_better(k),
                Column::Started | Column::Duration => true,
                _ => false,
            };
            reverse != largest_first
        }
    };
    state.runs.sort = Some((col, desc));
    vec![state.reload_runs()]
}

fn scroll_to_cursor(state: &mut State) {
    let h = state.runs.visible_rows.max(1);
    if state.runs.cursor < state.runs.scroll {
        state.runs.scroll = state.runs.cursor;
    } else if state.runs.cursor >= state.runs.scroll + h {
        state.runs.scroll = state.runs.cursor + 1 - h;
    }
}

pub struct RunsScreen;

impl ScreenBehaviour for RunsScreen {
    fn section(&self) -> &'static str {
        "runs"
    }

    fn header(&self, state: &State) -> String {
        let exp = state
            .runs
            .experiment
            .as_deref()
            .unwrap_or("all experiments");
        format!(
            "exp {exp} · {}{} runs",
            state.runs.total,
            if state.runs.total_known() { "" } else { "+" }
        )
    }

    fn hints(&self) -> &'static [(Cmd, &'static str)] {
        &[
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
            (Cmd::Jobs, "jobs"),
            (Cmd::Rerun, "rerun"),
            (Cmd::Palette, "command"),
            (Cmd::Quit, "quit"),
        ]
    }

    fn update(&self, state: &mut State, cmd: Cmd) -> Vec<Effect> {
        if state.runs.focus == RunsFocus::Sidebar {
            let n = state.experiments.len() + 1;
            match cmd {
                c if is_motion(c) => {
                    state.runs.sidebar_cursor = move_cursor(state.runs.sidebar_cursor, n, c, 10);
                    return vec![];
                }
                Cmd::Open | Cmd::Right => {
                    let name = match state.runs.sidebar_cursor {
                        0 => None,
                        i => state.experiments.get(i - 1).map(|e| e.name.clone()),
                    };
                    state.runs.focus = RunsFocus::Table;
                    return select_experiment(state, name);
                }
                Cmd::NextTab | Cmd::PrevTab => {
                    state.runs.focus = RunsFocus::Table;
                    return vec![];
                }
                _ => {}
            }
        }
        let ncols = state.columns().len();
        match cmd {
            c if is_motion(c) => {
                let page = state.runs.visible_rows.max(1) as usize;
                let total = state.runs.total as usize;
                state.runs.cursor = move_cursor(state.runs.cursor as usize, total, c, page) as u64;
                scroll_to_cursor(state);
                state.ensure_window()
            }
            Cmd::Left => {
                state.runs.col_cursor = state.runs.col_cursor.saturating_sub(1);
                vec![]
            }
            Cmd::Right => {
                state.runs.col_cursor = (state.runs.col_cursor + 1).min(ncols.saturating_sub(1));
                vec![]
            }
            Cmd::NextTab | Cmd::PrevTab => {
                state.runs.focus = RunsFocus::Sidebar;
                vec![]
            }
            Cmd::Filter => {
                let before = state.runs.applied_filter.clone();
                state.open_field(TextField::Filter, before);
                vec![]
            }
            Cmd::Open => match state.runs.selected() {
                Some(r) => {
                    let id = r.id.clone();
                    state.open_run(id)
                }
                None => vec![],
            },
            Cmd::Mark => {
                if let Some(id) = state.runs.selected().map(|r| r.id.clone()) {
                    if let Some(i) = state.runs.marked.iter().position(|m| *m == id) {
                        state.runs.marked.remove(i);
                    } else {
                        state.runs.marked.push(id);
                    }
                    state.runs.cursor =
                        (state.runs.cursor + 1).min(state.runs.total.saturating_sub(1));
                    scroll_to_cursor(state);
                    return state.ensure_window();
                }
                vec![]
            }
            Cmd::UnmarkAll => {
                state.runs.marked.clear();
                vec![]
            }
            Cmd::Sort | Cmd::SortReverse => {
                let cols = state.columns();
                let Some(col) = cols.get(state.runs.col_cursor).cloned() else {
                    return vec![];
                };
                sort_by(state, col, cmd == Cmd::SortReverse)
            }
            Cmd::MetricStat => {
                let higher = stat_metric(state)
                    .map(|k| crate::compare::higher_is_better(&k))
                    .unwrap_or(true);
                state.runs.metric_stat = state.runs.metric_stat.next(higher);
                vec![]
            }
            Cmd::HideColumn => {
                let cols = state.columns();
                let Some(col) = cols.get(state.runs.col_cursor) else {
                    return vec![];
                };
                let spec = col.spec();
                let mut prefs = state.column_prefs();
                prefs.shown.retain(|s| *s != spec);
                prefs.hidden.push(spec.clone());
                state.info(format!("column {spec} hidden (:columns brings it back)"));
                save_prefs(state, prefs)
            }
            Cmd::MoveColumnLeft | Cmd::MoveColumnRight => {
                let mut cols: Vec<String> = state.columns().iter().map(Column::spec).collect();
                let i = state.runs.col_cursor;
                let j = if cmd == Cmd::MoveColumnLeft {
                    i.checked_sub(1)
                } else {
                    Some(i + 1).filter(|j| *j < cols.len())
                };
                let Some(j) = j else { return vec![] };
                cols.swap(i, j);
                state.runs.col_cursor = j;
                let mut prefs = state.column_prefs();
                prefs.order = cols;
                save_prefs(state, prefs)
            }
            Cmd::ShowDeleted => {
                state.runs.show_deleted = !state.runs.show_deleted;
                state.info(if state.runs.show_deleted {
                    "showing deleted runs"
                } else {
                    "hiding deleted runs"
                });
                vec![state.reload_runs()]
            }
            Cmd::Star | Cmd::Tag | Cmd::Note | Cmd::Delete => writes::run_write_cmd(state, cmd),
            _ => vec![],
        }
    }

    /// Header cells sort, a row selects (a second click opens it), the sidebar switches.
    fn on_click(&self, state: &mut State, x: u16, y: u16) -> Vec<Effect> {
        let areas = state.areas.clone();
        for (r, col) in &areas.header_cells {
            if contains(*r, x, y) {
                let cols = state.columns();
                if let Some(c) = cols.get(*col).cloned() {
                    state.runs.col_cursor = *col;
                    return sort_by(state, c, false);
                }
            }
        }
        if let Some((r, first)) = areas.table_body {
            if contains(r, x, y) {
                let row = first + (y - r.y) as u64;
                if row < state.runs.total {
                    if state.runs.cursor == row {
                        return self.update(state, Cmd::Open);
                    }
                    state.runs.cursor = row;
                    state.runs.focus = RunsFocus::Table;
                }
                return vec![];
            }
        }
        if let Some(r) = areas.sidebar {
            if contains(r, x, y) {
                let i = (y.saturating_sub(r.y + 1)) as usize;
                if i <= state.experiments.len() {
                    state.runs.sidebar_cursor = i;
                    state.runs.focus = RunsFocus::Sidebar;
                    return self.update(state, Cmd::Open);
                }
            }
        }
        vec![]
    }

    fn on_response(&self, state: &mut State, resp: Response) -> Result<Vec<Effect>, Response> {
        match resp {
            Response::Experiments(e) => {
                state.experiments = e;
            }
            Response::Runs { seq, query, page } => {
                if seq < state.runs.seq_sent {
                    // A newer query is on its way; this answer is stale.
                    state.runs.seq_got = state.runs.seq_got.max(seq);
                    return Ok(vec![]);
                }
                state.runs.seq_got = seq;
                let full = query.limit.is_some_and(|l| page.runs.len() as u64 == l);
                let what = RunQuery {
                    offset: 0,
                    limit: None,
                    ..query.clone()
                };
                let mut out = Vec::new();
                if !full {
                    state.runs.total = page.total;
                    state.runs.counted = Some(what);
                } else if state.runs.counted.as_ref() == Some(&what) {
                    // Same query at another offset: the count we have still holds.
                    state.runs.total = state.runs.total.max(page.total);
                } else {
                    // A lower bound for now; the exact count follows (unless already asked for).
                    state.runs.total = page.total;
                    state.runs.counted = None;
                    if state.runs.counting.as_ref().map(|c| &c.1) != Some(&what) {
                        state.runs.counting = Some((seq, what.clone()));
                        out.push(state.request(Request::Count { seq, query: what }));
                    }
                }
                state.runs.window_offset = query.offset;
                state.runs.rows = page.runs;
                state.running = state
                    .runs
                    .rows
                    .iter()
                    .filter(|r| r.status == RunStatus::Running)
                    .count();
                state.runs.auto_columns = auto_columns(&state.runs.rows);
                if !state.runs.rows.is_empty() {
                    state.runs.known_keys = KnownKeys::of_runs(&state.runs.rows);
                }
                if state.runs.cursor >= state.runs.total {
                    state.runs.cursor = state.runs.total.saturating_sub(1);
                }
                let n = state.columns().len();
                if state.runs.col_cursor >= n {
                    state.runs.col_cursor = n.saturating_sub(1);
                }
                out.extend(state.ensure_window());
                out.extend(state.spark_requests());
                return Ok(out);
            }
            Response::Sparks(sparks) => {
                if state.runs.sparks.len() > SPARK_CACHE {
                    state.runs.sparks.clear();
                }
                for (run, key, series) in sparks {
                    state
                        .runs
                        .sparks
                        .insert((run, key), (series.points, series));
                }
            }
            Response::Count { seq, total } => {
                // Only the count of the query shown now applies.
                if let Some((_, what)) = state.runs.counting.take_if(|(s, _)| *s == seq) {
                    if what == state.query_key() {
                        state.runs.total = total;
                        state.runs.counted = Some(what);
                    }
                }
            }
            other => return Err(other),
        }
        Ok(vec![])
    }

    fn on_change(&self, state: &mut State, store: bool, _file: bool) -> Vec<Effect> {
        if !store {
            return vec![];
        }
        vec![Effect::Request(Request::Experiments), state.refetch_runs()]
    }

    fn on_failure(&self, state: &mut State) {
        state.runs.seq_got = state.runs.seq_sent;
    }

    /// `back` with a filter applied clears it (the marks stay).
    fn on_back(&self, state: &mut State) -> Option<Vec<Effect>> {
        if state.runs.applied_filter.trim().is_empty() && state.runs.filter.text.is_empty() {
            return None;
        }
        state.info("filter cleared");
        Some(filter::set_filter(state, String::new()))
    }

    /// `back` at the bottom of the stack clears the marks.
    fn on_leave(&self, state: &mut State, last: bool) {
        if last && !state.runs.marked.is_empty() {
            state.runs.marked.clear();
            state.info("marks cleared");
        }
    }

    fn targets(&self, state: &State) -> Vec<String> {
        if !state.runs.marked.is_empty() {
            return state.runs.marked.clone();
        }
        state
            .runs
            .selected()
            .map(|r| r.id.clone())
            .into_iter()
            .collect()
    }

    fn draw(&self, frame: &mut Frame, area: Rect, state: &mut State) {
        draw::draw(frame, area, state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RunPage;
    use crate::tui::screens::test_support::{answer, press, requests, typed, with_runs};
    use crossterm::event::KeyCode;

    #[test]
    fn motion_moves_the_cursor_within_the_rows() {
        let mut s = with_runs(5);
        assert_eq!(s.runs.selected().unwrap().id, "r0");
        typed(&mut s, "jj");
        assert_eq!(s.runs.cursor, 2);
        typed(&mut s, "G");
        assert_eq!(s.runs.cursor, 4);
        typed(&mut s, "j");
        assert_eq!(s.runs.cursor, 4, "stays on the last row");
        typed(&mut s, "g");
        assert_eq!(s.runs.cursor, 0);
    }

    #[test]
    fn space_marks_in_order_and_steps_down_and_back_at_the_bottom_clears() {
        let mut s = with_runs(5);
        press(&mut s, KeyCode::Char(' '));
        press(&mut s, KeyCode::Char(' '));
        assert_eq!(s.runs.marked, ["r0", "r1"]);
        assert_eq!(s.runs.cursor, 2);
        assert_eq!(self::RunsScreen.targets(&s), ["r0", "r1"]);
        press(&mut s, KeyCode::Esc);
        assert!(s.runs.marked.is_empty());
        assert_eq!(RunsScreen.targets(&s), ["r2"]);
    }

    #[test]
    fn typing_a_filter_queries_valid_text_and_keeps_the_last_good_one_on_errors() {
        let mut s = with_runs(5);
        typed(&mut s, "/");
        assert_eq!(s.field, Some(TextField::Filter));
        let effects = typed(&mut s, "bert");
        match requests(&effects)[..] {
            [Request::Runs { query, .. }] => assert_eq!(query.filter.as_deref(), Some("bert")),
            ref other => panic!("{other:?}"),
        }
        let effects = typed(&mut s, " >");
        assert!(requests(&effects).is_empty());
        assert!(s.runs.filter_error.is_some());
        assert_eq!(s.runs.applied_filter, "bert");
        press(&mut s, KeyCode::Esc);
        assert!(s.field.is_none());
    }

    fn filter_of(effects: &[Effect]) -> Option<Option<String>> {
        match requests(effects)[..] {
            [Request::Runs { ref query, .. }] => Some(query.filter.clone()),
            _ => None,
        }
    }

    #[test]
    fn esc_in_the_filter_bar_restores_the_filter_and_esc_on_the_table_clears_it() {
        let mut s = with_runs(5);
        typed(&mut s, "/bert");
        press(&mut s, KeyCode::Enter);
        assert_eq!(s.runs.applied_filter, "bert");
        press(&mut s, KeyCode::Char(' '));
        assert_eq!(s.runs.marked, ["r0"]);
        // Typing queries as you go; Esc puts back the filter as it was before `/`.
        typed(&mut s, "/");
        press(&mut s, KeyCode::Backspace);
        let effects = typed(&mut s, "ts");
        assert_eq!(filter_of(&effects), Some(Some("berts".into())));
        let effects = press(&mut s, KeyCode::Esc);
        assert!(s.field.is_none());
        assert_eq!(s.runs.filter.text, "bert");
        assert_eq!(s.runs.applied_filter, "bert");
        assert_eq!(filter_of(&effects), Some(Some("bert".into())));
        // Esc on the table clears the applied filter; the marks stay.
        let effects = press(&mut s, KeyCode::Esc);
        assert_eq!(filter_of(&effects), Some(None));
        assert_eq!(
            (s.runs.filter.text.as_str(), s.runs.applied_filter.as_str()),
            ("", "")
        );
        assert_eq!(s.runs.marked, ["r0"]);
        // With no filter, Esc is back (at the bottom: clears the marks).
        press(&mut s, KeyCode::Esc);
        assert!(s.runs.marked.is_empty());
    }

    #[test]
    fn sorting_a_metric_puts_its_best_first() {
        let mut s = with_runs(2);
        let metric = |k: &str| Column::Metric(k.into());
        sort_by(&mut s, metric("train/loss"), false);
        assert_eq!(
            s.runs.sort,
            Some((metric("train/loss"), false)),
            "loss ascending"
        );
        sort_by(&mut s, metric("val/acc"), false);
        assert_eq!(
            s.runs.sort,
            Some((metric("val/acc"), true)),
            "accuracy descending"
        );
        sort_by(&mut s, metric("val/acc"), false);
        assert_eq!(s.runs.sort, Some((metric("val/acc"), false)), "again flips");
        sort_by(&mut s, metric("train/loss"), true);
        assert_eq!(
            s.runs.sort,
            Some((metric("train/loss"), true)),
            "S reverses"
        );
    }

    #[test]
    fn m_starts_from_the_best_statistic_of_the_metric_under_the_cursor() {
        let mut s = with_runs(2);
        for k in ["train/loss", "val/acc"] {
            s.runs.auto_columns.push(Column::Metric(k.into()));
        }
        let cols = s.columns();
        let at = |k: &str| {
            cols.iter()
                .position(|c| *c == Column::Metric(k.into()))
                .unwrap()
        };
        // A loss: min first, then max, then back to the last value.
        s.runs.col_cursor = at("train/loss");
        let mut seen = Vec::new();
        for _ in 0..3 {
            typed(&mut s, "m");
            seen.push(s.runs.metric_stat);
        }
        assert_eq!(
            seen,
            [MetricStat::Min, MetricStat::Max, MetricStat::Last],
            "lower is better"
        );
        // An accuracy: max first.
        s.runs.col_cursor = at("val/acc");
        typed(&mut s, "m");
        assert_eq!(s.runs.metric_stat, MetricStat::Max, "higher is better");
        typed(&mut s, "m");
        assert_eq!(s.runs.metric_stat, MetricStat::Min);
        // Off the metrics (on the name), the sorted metric decides.
        s.runs.col_cursor = cols.iter().position(|c| *c == Column::Name).unwrap();
        s.runs.metric_stat = MetricStat::Last;
        s.runs.sort = Some((Column::Metric("train/loss".into()), false));
        typed(&mut s, "m");
        assert_eq!(s.runs.metric_stat, MetricStat::Min, "the sorted loss");
    }

    #[test]
    fn a_page_asks_for_the_sparklines_it_lacks_and_no_more() {
        use crate::model::MetricSummary;
        use crate::series::SampledSeries;
        let mut s = with_runs(1);
        s.size = (160, 48);
        let summary = |count| MetricSummary {
            last: 1.0,
            min: None,
            max: None,
            count,
            step: 1,
            timestamp: 0,
        };
        let mut r = crate::tui::screens::test_support::run("r9", "x");
        r.metrics.insert("loss".into(), summary(5));
        r.metrics
            .insert("huge".into(), summary(SPARK_MAX_POINTS + 1));
        r.metrics.insert("one".into(), summary(1));
        let effects = typed(&mut s, "D");
        let Request::Runs { seq, query, .. } = requests(&effects)[0].clone() else {
            panic!("a new page");
        };
        let page = |seq| Response::Runs {
            seq,
            query: query.clone(),
            page: RunPage {
                runs: vec![r.clone()],
                total: 1,
            },
        };
        let effects = answer(&mut s, page(seq));
        let sparks: Vec<_> = requests(&effects)
            .into_iter()
            .filter_map(|r| match r {
                Request::Sparks { cells, buckets } => Some((cells.clone(), *buckets)),
                _ => None,
            })
            .collect();
        // Only the history short enough to read and long enough to draw.
        assert_eq!(sparks, [(vec![("r9".into(), "loss".into())], SPARK_W)]);
        let series = SampledSeries {
            key: "loss".into(),
            points: 5,
            x: Default::default(),
            buckets: vec![],
        };
        answer(
            &mut s,
            Response::Sparks(vec![("r9".into(), "loss".into(), series)]),
        );
        // Read once: the same page again asks for nothing; more points ask again.
        assert!(s.spark_requests().is_empty());
        r.metrics.insert("loss".into(), summary(6));
        s.runs.rows = vec![r.clone()];
        assert_eq!(s.spark_requests().len(), 1);
        // A narrow terminal asks for none.
        s.size = (80, 24);
        s.runs.sparks.clear();
        assert!(s.spark_requests().is_empty());
    }

    #[test]
    fn a_stale_page_is_dropped_and_a_full_page_asks_for_its_count() {
        let mut s = with_runs(2);
        let effects = typed(&mut s, "D");
        let Request::Runs { seq, query, .. } = requests(&effects)[0].clone() else {
            panic!("a new page");
        };
        let limit = query.limit.unwrap();
        // An answer to the page before does nothing.
        answer(
            &mut s,
            Response::Runs {
                seq: seq - 1,
                query: query.clone(),
                page: RunPage {
                    runs: vec![],
                    total: 0,
                },
            },
        );
        assert_eq!(s.runs.total, 2);
        let full: Vec<Run> = (0..limit)
            .map(|i| crate::tui::screens::test_support::run(&format!("x{i}"), "x"))
            .collect();
        let effects = answer(
            &mut s,
            Response::Runs {
                seq,
                query,
                page: RunPage {
                    runs: full,
                    total: limit,
                },
            },
        );
        assert!(
            !s.runs.total_known(),
            "a full page's total is a lower bound"
        );
        assert!(matches!(requests(&effects)[..], [Request::Count { .. }]));
        answer(&mut s, Response::Count { seq, total: 5000 });
        assert_eq!(s.runs.total, 5000);
        assert!(s.runs.total_known());
    }
}
