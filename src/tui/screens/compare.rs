//! Compare 2 to 20 runs: params side by side (only those that differ, or all), metric
//! summaries with deltas against a baseline and the best value marked (direction inferred from
//! the name, switchable), and every metric charted in a grid, the runs overlaid in their stable
//! colours; the grid holds as many charts as the terminal fits (one on 80x24, six on 160x48)
//! and pages with the metric cursor.
use super::charts::{x_extent, ChartSettings};
use super::{fit, is_motion, move_cursor, Screen, ScreenBehaviour};
use crate::model::RunDetail;
use crate::present::format_value;
use crate::series::SampledSeries;
use crate::tui::app::{contains, Effect, State};
use crate::tui::keymap::Cmd;
use crate::tui::theme::run_color_index;
use crate::tui::widgets::chart::{self, ChartLine};
use crate::tui::worker::{Chart, Request, Response};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct CompareView {
    pub ids: Vec<String>,
    pub runs: Vec<RunDetail>,
    pub baseline: usize,
    pub show_all_params: bool,
    /// Metric → higher is better, where the user flipped the inferred direction.
    pub directions: BTreeMap<String, bool>,
    pub metric_cursor: usize,
    pub charts: ChartSettings,
    /// (run id, metric key) → series of the selected metric.
    pub series: BTreeMap<(String, String), SampledSeries>,
}

impl CompareView {
    pub fn metric_keys(&self) -> Vec<String> {
        let runs: Vec<&crate::model::Run> = self.runs.iter().map(|d| &d.run).collect();
        crate::compare::metric_keys(&runs)
    }

    pub fn higher_is_better(&self, key: &str) -> bool {
        self.directions
            .get(key)
            .copied()
            .unwrap_or_else(|| crate::compare::higher_is_better(key))
    }
}

/// Charts of the grid: (columns, rows) for a terminal of `size`. A chart wants about 50
/// cells by 9 lines; the charts get what the tables above them leave (as `draw` lays out).
pub fn chart_grid(size: (u16, u16)) -> (usize, usize) {
    let (w, h) = (size.0 as usize, size.1 as usize);
    let inner_h = h.saturating_sub(4);
    let tables_h = (inner_h / 2).max(6);
    let charts_h = inner_h.saturating_sub(tables_h + 2);
    (
        (w.saturating_sub(2) / 50).clamp(1, 4),
        (charts_h / 9).max(1),
    )
}

impl State {
    /// How many metrics the compare screen charts at once.
    pub fn compare_charts(&self) -> usize {
        let (cols, rows) = chart_grid(self.size);
        cols * rows
    }

    /// The metrics on the grid's current page: the page that holds the metric cursor.
    pub(crate) fn charted_keys(&self) -> Vec<String> {
        let Some(cv) = &self.compare else {
            return vec![];
        };
        let per_page = self.compare_charts().max(1);
        let page = cv.metric_cursor / per_page;
        cv.metric_keys()
            .into_iter()
            .skip(page * per_page)
            .take(per_page)
            .collect()
    }

    /// Series for the compare charts: every metric on the grid's page, every run.
    pub(crate) fn compare_series_requests(&mut self) -> Vec<Effect> {
        let Some(cv) = &self.compare else {
            return vec![];
        };
        let keys = self.charted_keys();
        let q = cv.charts.series_query(self.chart_buckets());
        // A run without the metric has no series to ask for (once the runs are known).
        let has: Vec<(String, Option<Vec<String>>)> = cv
            .ids
            .iter()
            .map(|id| {
                let keys = cv
                    .runs
                    .iter()
                    .find(|d| d.run.id == *id)
                    .map(|d| d.run.metrics.keys().cloned().collect());
                (id.clone(), keys)
            })
            .collect();
        let mut out = Vec::new();
        for key in keys {
            for (id, run_keys) in &has {
                if run_keys.as_ref().is_some_and(|k| !k.contains(&key)) {
                    continue;
                }
                out.push(self.request(Request::Series {
                    run_id: id.clone(),
                    key: key.clone(),
                    query: q.clone(),
                    chart: Chart::Compare,
                }));
            }
        }
        out
    }

    /// Moves the metric cursor to `to`; the charts follow when it leaves the grid's page.
    fn select_metric(&mut self, to: usize) -> Vec<Effect> {
        let before = self.charted_keys();
        let Some(cv) = self.compare.as_mut() else {
            return vec![];
        };
        if cv.metric_cursor == to {
            return vec![];
        }
        cv.metric_cursor = to;
        if self.charted_keys() == before {
            return vec![];
        }
        let cv = self.compare.as_mut().expect("checked above");
        cv.series.clear();
        cv.charts.zoom = None;
        self.compare_series_requests()
    }
}

/// Opens compare on the marked runs (`c`).
pub fn open(state: &mut State) -> Vec<Effect> {
    let ids = state.runs.marked.clone();
    if !(2..=20).contains(&ids.len()) {
        state.error(format!(
            "mark 2 to 20 runs to compare (space marks; {} marked)",
            ids.len()
        ));
        return vec![];
    }
    // The hint of an earlier `c` with too few marks is answered now: it must not stay.
    state.message = None;
    state.compare = Some(CompareView {
        ids: ids.clone(),
        runs: Vec::new(),
        baseline: 0,
        show_all_params: false,
        directions: BTreeMap::new(),
        metric_cursor: 0,
        charts: ChartSettings::default(),
        series: BTreeMap::new(),
    });
    state.go(Screen::Compare);
    vec![state.request(Request::RunsById { ids })]
}

pub struct CompareScreen;

impl ScreenBehaviour for CompareScreen {
    fn section(&self) -> &'static str {
        "compare"
    }

    fn header(&self, state: &State) -> String {
        format!(
            "compare {} runs",
            state.compare.as_ref().map(|c| c.ids.len()).unwrap_or(0)
        )
    }

    fn hints(&self) -> &'static [(Cmd, &'static str)] {
        &[
            (Cmd::ToggleAll, "all params"),
            (Cmd::Baseline, "baseline"),
            (Cmd::Direction, "better ↑↓"),
            (Cmd::SmoothMore, "smooth"),
            (Cmd::LogY, "log-y"),
            (Cmd::Back, "back"),
            (Cmd::Quit, "quit"),
        ]
    }

    fn update(&self, state: &mut State, cmd: Cmd) -> Vec<Effect> {
        let Some(cv) = state.compare.as_mut() else {
            return vec![];
        };
        let keys = cv.metric_keys();
        match cmd {
            c if is_motion(c) => {
                let to = move_cursor(cv.metric_cursor, keys.len(), c, 10);
                return state.select_metric(to);
            }
            Cmd::ToggleAll => cv.show_all_params = !cv.show_all_params,
            Cmd::Baseline => cv.baseline = (cv.baseline + 1) % cv.runs.len().max(1),
            Cmd::Direction => {
                if let Some(k) = keys.get(cv.metric_cursor) {
                    let now = cv.higher_is_better(k);
                    cv.directions.insert(k.clone(), !now);
                }
            }
            Cmd::Open => {
                let id = cv.ids.get(cv.baseline).cloned();
                if let Some(id) = id {
                    return state.open_run(id);
                }
            }
            _ => {
                let range = x_extent(cv.series.values());
                if cv.charts.apply(cmd, range) {
                    cv.series.clear();
                    return state.compare_series_requests();
                }
            }
        }
        vec![]
    }

    /// A metric row selects it (and charts it).
    fn on_click(&self, state: &mut State, x: u16, y: u16) -> Vec<Effect> {
        let Some((r, first)) = state.areas.list else {
            return vec![];
        };
        if contains(r, x, y) {
            let i = first + (y - r.y) as usize;
            if state
                .compare
                .as_ref()
                .is_some_and(|cv| i < cv.metric_keys().len())
            {
                return state.select_metric(i);
            }
        }
        vec![]
    }

    fn on_response(&self, state: &mut State, resp: Response) -> Result<Vec<Effect>, Response> {
        match resp {
            Response::RunsById(runs) => {
                if let Some(cv) = &mut state.compare {
                    let first = cv.runs.is_empty();
                    cv.runs = runs;
                    if first {
                        return Ok(state.compare_series_requests());
                    }
                }
            }
            Response::Series {
                run_id,
                chart: Chart::Compare,
                series,
            } => {
                if let Some(cv) = &mut state.compare {
                    cv.series.insert((run_id, series.key.clone()), series);
                }
            }
            other => return Err(other),
        }
        Ok(vec![])
    }

    fn on_change(&self, state: &mut State, store: bool, _file: bool) -> Vec<Effect> {
        let mut out = Vec::new();
        if store {
            if let Some(ids) = state.compare.as_ref().map(|c| c.ids.clone()) {
                out.push(Effect::Request(Request::RunsById { ids }));
                out.extend(state.compare_series_requests());
            }
        }
        out
    }

    fn draw(&self, frame: &mut Frame, area: Rect, state: &mut State) {
        draw(frame, area, state);
    }
}

fn draw(frame: &mut Frame, area: Rect, state: &mut State) {
    let Some(cv) = &state.compare else { return };
    if cv.runs.is_empty() {
        frame.render_widget(super::block(state, " Compare (loading…) ", true), area);
        return;
    }
    let base = cv.baseline.min(cv.runs.len() - 1);
    let title = format!(
        " Compare {} runs · baseline {} {} ",
        cv.runs.len(),
        crate::ids::short(&cv.runs[base].run.id),
        cv.runs[base].run.name
    );
    let b = super::block(state, Span::styled(title, state.theme.style("title")), true);
    let inner = b.inner(area);
    frame.render_widget(b, area);
    let tables_h = (inner.height / 2).max(6);
    let [tables, charts] =
        Layout::vertical([Constraint::Length(tables_h), Constraint::Min(3)]).areas(inner);
    // Side by side when wide, stacked when narrow.
    let [params_area, metrics_area] = if tables.width >= 120 {
        Layout::horizontal([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(tables)
    } else {
        Layout::vertical([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(tables)
    };

    // Params.
    let runs: Vec<&crate::model::Run> = cv.runs.iter().map(|d| &d.run).collect();
    let col_w = ((params_area.width as usize).saturating_sub(14) / runs.len().max(1)).clamp(7, 14);
    let rows = crate::compare::param_rows(&runs, cv.show_all_params);
    let key_w = 14;
    let mut lines = vec![Line::styled(
        format!(
            "Params ({})",
            if cv.show_all_params {
                "all · a: only changed"
            } else {
                "only changed · a: all"
            }
        ),
        state.theme.style("table.header"),
    )];
    let mut head = vec![Span::raw(fit("", key_w, false))];
    for r in &runs {
        head.push(Span::styled(
            fit(crate::ids::short(&r.id), col_w - 1, true) + " ",
            state.theme.series(run_color_index(&r.id)),
        ));
    }
    lines.push(Line::from(head));
    if rows.is_empty() {
        lines.push(Line::styled(
            "all params are the same",
            state.theme.style("text.dim"),
        ));
    }
    for crate::compare::ParamRow {
        key: k,
        values: vals,
    } in rows
    {
        // Numbers align right, text left.
        let mut spans = vec![Span::styled(
            fit(&k, key_w, false),
            state.theme.style("text.dim"),
        )];
        for v in vals {
            let text = v.as_deref().unwrap_or("—");
            let numeric = text.parse::<f64>().is_ok();
            spans.push(Span::raw(fit(text, col_w - 1, numeric) + " "));
        }
        lines.push(Line::from(spans));
    }
    frame.render_widget(Paragraph::new(lines), params_area);

    // Metrics with deltas and the best marked.
    let metric_keys = cv.metric_keys();
    let mkey_w = if metrics_area.width >= 100 { 18 } else { 14 };
    let mcol =
        ((metrics_area.width as usize).saturating_sub(mkey_w) / runs.len().max(1)).clamp(9, 24);
    let mut lines = vec![Line::styled(
        "Metrics (last · Δ vs baseline · ★ best · B flips better)",
        state.theme.style("table.header"),
    )];
    let mut head = vec![Span::raw(fit("", mkey_w, false))];
    for r in &runs {
        head.push(Span::styled(
            fit(
                &format!("{} {}", crate::ids::short(&r.id), r.name),
                mcol,
                true,
            ),
            state.theme.series(run_color_index(&r.id)),
        ));
    }
    lines.push(Line::from(head));
    let first_row = cv
        .metric_cursor
        .saturating_sub((tables_h as usize).saturating_sub(4));
    state.areas.list = Some((
        Rect {
            x: metrics_area.x,
            y: metrics_area.y + 2,
            width: metrics_area.width,
            height: metrics_area.height.saturating_sub(2),
        },
        first_row,
    ));
    for (i, k) in metric_keys.iter().enumerate().skip(first_row) {
        let higher = cv.higher_is_better(k);
        let vals: Vec<Option<f64>> = runs
            .iter()
            .map(|r| r.metrics.get(k).map(|m| m.last))
            .collect();
        let best = crate::compare::best(&vals, higher);
        // The selected metric (what B flips, what the charts show) is marked in text too, so
        // it shows in every theme.
        let selected = i == cv.metric_cursor;
        let mut spans = vec![Span::styled(
            fit(
                &format!(
                    "{}{k} {}",
                    if selected { "▸" } else { " " },
                    if higher { "↑" } else { "↓" }
                ),
                mkey_w,
                false,
            ),
            state
                .theme
                .style(if selected { "text.accent" } else { "text.dim" }),
        )];
        let b = vals[base];
        for (j, v) in vals.iter().enumerate() {
            let Some(v) = v else {
                spans.push(Span::raw(fit("—", mcol - 1, true) + " "));
                continue;
            };
            let star = if Some(*v) == best && runs.len() > 1 {
                " ★"
            } else {
                ""
            };
            let delta = match b {
                Some(b) if j != base && v.is_finite() && b.is_finite() => {
                    let d = v - b;
                    let sign = if d > 0.0 { "+" } else { "" };
                    format!(" {sign}{}", format_value(d))
                }
                _ => String::new(),
            };
            let better = b.map(|b| if higher { *v > b } else { *v < b });
            let role = if !star.is_empty() {
                "best"
            } else if j == base || delta.is_empty() {
                "text"
            } else if better == Some(true) {
                "delta.better"
            } else {
                "delta.worse"
            };
            spans.push(Span::styled(
                fit(
                    &format!("{}{delta}{star}", format_value(*v)),
                    mcol - 1,
                    true,
                ) + " ",
                state.theme.style(role),
            ));
        }
        let mut line = Line::from(spans);
        if i == cv.metric_cursor {
            line = line.style(state.theme.style("table.selected"));
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), metrics_area);

    // The grid: every metric of the page, each with every run overlaid.
    let keys = state.charted_keys();
    if keys.is_empty() {
        return;
    }
    let (grid_cols, grid_rows) = chart_grid(state.size);
    let [legend, chart_area, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(charts);
    let per_page = grid_cols * grid_rows;
    let first = (cv.metric_cursor / per_page.max(1)) * per_page;
    let mut legend_spans = vec![Span::styled(
        if metric_keys.len() > per_page {
            format!(
                "charts {}–{} of {} (j/k page)  ",
                first + 1,
                first + keys.len(),
                metric_keys.len()
            )
        } else {
            "runs  ".to_string()
        },
        state.theme.style("title"),
    )];
    for d in &cv.runs {
        legend_spans.push(Span::styled(
            format!("── {} {}  ", crate::ids::short(&d.run.id), d.run.name),
            state.theme.series(run_color_index(&d.run.id)),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(legend_spans)), legend);
    // Only as many rows as the page fills.
    let rows_used = keys.len().div_ceil(grid_cols).min(grid_rows).max(1);
    let row_areas =
        Layout::vertical(vec![Constraint::Ratio(1, rows_used as u32); rows_used]).split(chart_area);
    let cols_used = keys.len().min(grid_cols);
    let mut cursor = String::new();
    for (n, key) in keys.iter().enumerate() {
        let row = n / grid_cols;
        let Some(row_area) = row_areas.get(row) else {
            break;
        };
        let cells = Layout::horizontal(vec![Constraint::Ratio(1, cols_used as u32); cols_used])
            .split(*row_area);
        let area = cells[n % grid_cols];
        let lines: Vec<ChartLine> = cv
            .runs
            .iter()
            .filter_map(|d| {
                let s = cv.series.get(&(d.run.id.clone(), key.clone()))?;
                Some(ChartLine {
                    label: crate::ids::short(&d.run.id).to_string(),
                    style: state.theme.series(run_color_index(&d.run.id)),
                    series: s,
                    start_ms: d.run.start_time,
                })
            })
            .collect();
        let arrow = if cv.higher_is_better(key) {
            "↑"
        } else {
            "↓"
        };
        // The selected metric's chart is marked (and carries the cursor readout).
        let selected = first + n == cv.metric_cursor;
        let title = format!("{}{key} {arrow}", if selected { "▸ " } else { "" });
        let cx = chart::draw_chart(
            frame,
            area,
            &state.theme,
            &title,
            &lines,
            &cv.charts,
            selected,
        );
        if let (Some(x), true) = (cx, selected) {
            cursor = chart::cursor_text(&lines, &cv.charts, x);
        }
    }
    frame.render_widget(
        Paragraph::new(Line::styled(
            format!("{}{cursor}", chart::settings_line(&cv.charts)),
            state.theme.style("text.dim"),
        )),
        status,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::screens::test_support;
    use crate::tui::screens::test_support::{answer, press, requests, typed, with_runs};
    use crossterm::event::KeyCode;

    fn detail(id: &str) -> RunDetail {
        test_support::detail(id, &["train/loss", "val/acc", "val/f1"])
    }

    #[test]
    fn compare_needs_two_marks() {
        let mut s = with_runs(3);
        assert!(typed(&mut s, "c").is_empty());
        assert!(s.message.as_ref().unwrap().error);
        assert_eq!(s.screen, Screen::Runs);
        press(&mut s, KeyCode::Char(' '));
        press(&mut s, KeyCode::Char(' '));
        let effects = typed(&mut s, "c");
        assert_eq!(s.screen, Screen::Compare);
        assert!(
            matches!(requests(&effects)[..], [Request::RunsById { ids }] if ids == &["r0", "r1"])
        );
        assert!(
            s.message.is_none(),
            "the hint to mark runs is gone once compare opens: {:?}",
            s.message
        );
    }

    #[test]
    fn the_runs_bring_series_for_the_charted_metrics_and_keys_move_baseline_and_metric() {
        let mut s = with_runs(3);
        typed(&mut s, "  c");
        let effects = answer(&mut s, Response::RunsById(vec![detail("r0"), detail("r1")]));
        // 160x48: a grid of six charts holds all three metrics, one series per run each.
        assert_eq!(chart_grid(s.size), (3, 2));
        assert_eq!(
            charted(&effects),
            [
                ("r0", "train/loss"),
                ("r1", "train/loss"),
                ("r0", "val/acc"),
                ("r1", "val/acc"),
                ("r0", "val/f1"),
                ("r1", "val/f1")
            ]
        );
        typed(&mut s, "b");
        assert_eq!(s.compare.as_ref().unwrap().baseline, 1);
        typed(&mut s, "b");
        assert_eq!(s.compare.as_ref().unwrap().baseline, 0, "wraps round");
        let effects = typed(&mut s, "j");
        assert_eq!(s.compare.as_ref().unwrap().metric_cursor, 1);
        assert!(
            requests(&effects).is_empty(),
            "the metric is charted already"
        );
        typed(&mut s, "B");
        assert!(!s.compare.as_ref().unwrap().higher_is_better("val/acc"));
    }

    fn charted(effects: &[Effect]) -> Vec<(&str, &str)> {
        requests(effects)
            .iter()
            .filter_map(|r| match r {
                Request::Series {
                    run_id,
                    key,
                    chart: Chart::Compare,
                    ..
                } => Some((run_id.as_str(), key.as_str())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_small_terminal_pages_the_grid_with_the_metric_cursor() {
        let mut s = with_runs(3);
        s.size = (80, 24);
        assert_eq!(chart_grid(s.size), (1, 1));
        typed(&mut s, "  c");
        let effects = answer(&mut s, Response::RunsById(vec![detail("r0"), detail("r1")]));
        assert_eq!(
            charted(&effects),
            [("r0", "train/loss"), ("r1", "train/loss")]
        );
        let effects = typed(&mut s, "j");
        assert_eq!(charted(&effects), [("r0", "val/acc"), ("r1", "val/acc")]);
        assert_eq!(s.charted_keys(), ["val/acc"]);
    }
}
