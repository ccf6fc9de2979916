//! The run screen: one run in tabs (Overview, Params, Metrics, Logs, Source, Artifacts,
//! Notes, Inputs). The state is `RunView`; the log's reading and search are in `log`, drawing
//! in `draw` (the text tabs), `draw_files` (Source, Artifacts, Notes) and `draw_inputs` (the
//! input dataset versions with their check status).
mod draw;
mod draw_files;
mod draw_inputs;
pub mod log;

use super::charts::{x_extent, ChartSettings};
use super::{is_motion, move_cursor, writes, Screen, ScreenBehaviour};
use crate::model::RunDetail;
use crate::series::SampledSeries;
use crate::tui::app::{contains, Action, Effect, State, TextField};
use crate::tui::artifact_tree::{self, TreeRow};
use crate::tui::editor::Editor;
use crate::tui::keymap::Cmd;
use crate::tui::worker::{
    ArtifactEntry, Chart, Highlighted, InputCheck, Request, RequestKind, Response,
};
use crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::Frame;
use std::collections::{BTreeMap, BTreeSet};

use super::input::InputKind;
use super::overlays::Overlay;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunTab {
    Overview,
    Params,
    Metrics,
    Logs,
    Source,
    Artifacts,
    Notes,
    Inputs,
}

impl RunTab {
    pub const ALL: [RunTab; 8] = [
        RunTab::Overview,
        RunTab::Params,
        RunTab::Metrics,
        RunTab::Logs,
        RunTab::Source,
        RunTab::Artifacts,
        RunTab::Notes,
        RunTab::Inputs,
    ];
    pub fn title(self) -> &'static str {
        match self {
            RunTab::Overview => "Overview",
            RunTab::Params => "Params",
            RunTab::Metrics => "Metrics",
            RunTab::Logs => "Logs",
            RunTab::Source => "Source",
            RunTab::Artifacts => "Artifacts",
            RunTab::Notes => "Notes",
            RunTab::Inputs => "Inputs",
        }
    }
    fn index(self) -> usize {
        RunTab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
}

#[derive(Debug, Clone)]
pub struct RunView {
    pub id: String,
    pub detail: Option<RunDetail>,
    pub tab: RunTab,
    /// Scroll position per tab (lines or rows).
    pub scroll: BTreeMap<&'static str, usize>,
    pub param_search: Editor,
    pub log: Option<String>,
    /// The log file offset read up to.
    pub log_end: u64,
    /// Follow the end of the log (on while the run runs, until you scroll up).
    pub follow: bool,
    pub log_search: Editor,
    pub keep_ansi: bool,
    pub charts: ChartSettings,
    /// Grid of charts, or a list with sparklines.
    pub chart_list: bool,
    pub chart_selected: usize,
    pub series: BTreeMap<String, SampledSeries>,
    pub notes_cursor: usize,
    /// The selected row of the artifact tree (`artifact_rows`).
    pub artifact_cursor: usize,
    pub artifacts: Vec<ArtifactEntry>,
    /// Folders of the artifact tree that are folded (by path, `model/sub`).
    pub artifact_closed: BTreeSet<String>,
    /// Highlighted texts: `source:diff`, `source:command`, `artifact:PATH`.
    pub highlighted: BTreeMap<String, Highlighted>,
    /// The run's input dataset versions with their check standing (None until read).
    pub inputs: Option<Vec<InputCheck>>,
}

impl RunView {
    pub(crate) fn new(id: String) -> RunView {
        RunView {
            id,
            detail: None,
            tab: RunTab::Overview,
            scroll: BTreeMap::new(),
            param_search: Editor::default(),
            log: None,
            log_end: 0,
            follow: true,
            log_search: Editor::default(),
            keep_ansi: true,
            charts: ChartSettings::default(),
            chart_list: false,
            chart_selected: 0,
            series: BTreeMap::new(),
            notes_cursor: 0,
            artifact_cursor: 0,
            artifacts: Vec::new(),
            artifact_closed: BTreeSet::new(),
            highlighted: BTreeMap::new(),
            inputs: None,
        }
    }

    pub fn scroll_of(&self, tab: RunTab) -> usize {
        self.scroll.get(tab.title()).copied().unwrap_or(0)
    }

    /// The artifact tree's visible rows.
    pub fn artifact_rows(&self) -> Vec<TreeRow> {
        artifact_tree::rows(&self.artifacts, &self.artifact_closed)
    }

    /// The artifact file under the cursor (none when it is on a folder).
    pub fn selected_artifact(&self) -> Option<&ArtifactEntry> {
        let rows = self.artifact_rows();
        match rows.get(self.artifact_cursor.min(rows.len().saturating_sub(1)))? {
            TreeRow::File { index, .. } => self.artifacts.get(*index),
            TreeRow::Folder { .. } => None,
        }
    }

    /// Artifacts tab: open or close the folder under the cursor (`open`), open it (`right`),
    /// close it or go up to the folder that holds the row (`left`).
    pub(crate) fn artifact_tree_cmd(&mut self, cmd: Cmd) {
        let rows = self.artifact_rows();
        let i = self.artifact_cursor.min(rows.len().saturating_sub(1));
        let Some(row) = rows.get(i) else { return };
        match (cmd, row) {
            (Cmd::Open, TreeRow::Folder { path, open, .. }) => {
                if *open {
                    self.artifact_closed.insert(path.clone());
                } else {
                    self.artifact_closed.remove(path);
                }
            }
            (Cmd::Right, TreeRow::Folder { path, open, .. }) => {
                if *open {
                    // Already open: step onto its first entry.
                    if rows.get(i + 1).is_some_and(|r| r.depth() > row.depth()) {
                        self.artifact_cursor = i + 1;
                    }
                } else {
                    self.artifact_closed.remove(path);
                }
            }
            (
                Cmd::Left,
                TreeRow::Folder {
                    path, open: true, ..
                },
            ) => {
                self.artifact_closed.insert(path.clone());
            }
            (Cmd::Left, _) => {
                if let Some(p) = artifact_tree::parent_row(&rows, i) {
                    self.artifact_cursor = p;
                }
            }
            _ => {}
        }
    }

    pub fn metric_keys(&self) -> Vec<String> {
        self.detail
            .as_ref()
            .map(|d| d.run.metrics.keys().cloned().collect())
            .unwrap_or_default()
    }
}

impl State {
    /// Opens the run screen on a run (what `enter` does on a row).
    pub fn open_run(&mut self, id: String) -> Vec<Effect> {
        self.run = Some(RunView::new(id.clone()));
        self.go(Screen::Run);
        vec![self.request(Request::Run { id })]
    }

    /// Series requests for the run's metric charts.
    pub(crate) fn run_series_requests(&mut self) -> Vec<Effect> {
        let Some(rv) = &self.run else { return vec![] };
        let q = rv.charts.series_query(self.chart_buckets());
        let id = rv.id.clone();
        let keys = rv.metric_keys();
        let mut out = Vec::new();
        for key in keys {
            out.push(self.request(Request::Series {
                run_id: id.clone(),
                key,
                query: q.clone(),
                chart: Chart::Run,
            }));
        }
        out
    }
}

/// Switches tab and asks for what the new one shows.
pub(crate) fn set_tab(state: &mut State, tab: RunTab) -> Vec<Effect> {
    let Some(rv) = state.run.as_mut() else {
        return vec![];
    };
    rv.tab = tab;
    let mut out = vec![Effect::WatchFile(None)];
    match tab {
        RunTab::Metrics => out.extend(state.run_series_requests()),
        RunTab::Logs => out = state.log_effects(),
        RunTab::Inputs => out.push(inputs_request(state)),
        _ => {}
    }
    out.extend(highlight_requests(state));
    out
}

/// Asks for the open run's inputs and their check standing.
fn inputs_request(state: &mut State) -> Effect {
    let run_id = state.run.as_ref().map(|r| r.id.clone()).unwrap_or_default();
    state.request(Request::RunInputs { run_id })
}

/// Highlighting the open tab needs (the diff and command on Source, the selected file on
/// Artifacts), each asked for once.
pub fn highlight_requests(state: &mut State) -> Vec<Effect> {
    let theme = state.theme.syntax.clone();
    let Some(rv) = state.run.as_mut() else {
        return vec![];
    };
    let Some(d) = &rv.detail else {
        return vec![];
    };
    let mut wanted: Vec<Request> = Vec::new();
    match rv.tab {
        RunTab::Source => {
            if let Some(diff) = d.source.git_diff.as_ref().filter(|d| !d.is_empty()) {
                wanted.push(Request::Highlight {
                    run_id: rv.id.clone(),
                    key: "source:diff".into(),
                    text: diff.clone(),
                    lang: "diff".into(),
                    theme: theme.clone(),
                });
            }
            if !d.source.command.is_empty() {
                wanted.push(Request::Highlight {
                    run_id: rv.id.clone(),
                    key: "source:command".into(),
                    text: d.source.command.join(" "),
                    lang: "sh".into(),
                    theme: theme.clone(),
                });
            }
        }
        RunTab::Artifacts => {
            if let Some(e) = rv.selected_artifact() {
                if let Some(path) = &e.local {
                    wanted.push(Request::Preview {
                        run_id: rv.id.clone(),
                        key: format!("artifact:{}", e.path),
                        path: path.clone(),
                        theme: theme.clone(),
                    });
                }
            }
        }
        _ => {}
    }
    let mut out = Vec::new();
    for r in wanted {
        let key = match &r {
            Request::Highlight { key, .. } | Request::Preview { key, .. } => key.clone(),
            _ => continue,
        };
        if rv.highlighted.contains_key(&key) {
            continue;
        }
        rv.highlighted.insert(key, Highlighted::Pending);
        out.push(Effect::Request(r));
    }
    if !out.is_empty() {
        state.pending.insert(RequestKind::Highlight);
    }
    out
}

pub struct RunScreen;

impl ScreenBehaviour for RunScreen {
    fn section(&self) -> &'static str {
        "run"
    }

    fn header(&self, state: &State) -> String {
        state
            .run
            .as_ref()
            .map(|r| format!("run {}", crate::ids::short(&r.id)))
            .unwrap_or_default()
    }

    fn hints(&self) -> &'static [(Cmd, &'static str)] {
        &[
            (Cmd::NextTab, "next tab"),
            (Cmd::SmoothMore, "smooth"),
            (Cmd::LogY, "log-y"),
            (Cmd::XAxis, "x axis"),
            (Cmd::ZoomIn, "zoom"),
            (Cmd::ChartMode, "grid/list"),
            (Cmd::Right, "cursor"),
            (Cmd::Note, "note"),
            (Cmd::Back, "back"),
            (Cmd::Quit, "quit"),
        ]
    }

    /// In Logs with a search in force, `note` (n) is the next match, as in less.
    fn handle_key(&self, state: &State, key: KeyEvent) -> Option<Action> {
        let cmd = state.keymap.lookup(self.section(), &key)?;
        if cmd == Cmd::Note && log::log_search_active(state) {
            return Some(Action::Cmd(Cmd::SearchNext));
        }
        Some(Action::Cmd(cmd))
    }

    /// `back` with a search in force (Params, Logs) clears it first.
    fn on_back(&self, state: &mut State) -> Option<Vec<Effect>> {
        log::clear_search(state).then(Vec::new)
    }

    /// Each tab's own keys.
    fn current_hints(&self, state: &State) -> &'static [(Cmd, &'static str)] {
        match state.run.as_ref().map(|r| r.tab) {
            Some(RunTab::Metrics) => self.hints(),
            // While a search is in force `n` is the next match (see `handle_key`).
            Some(RunTab::Logs) => &[
                (Cmd::Filter, "search"),
                (Cmd::Follow, "follow"),
                (Cmd::Ansi, "colours"),
                (Cmd::SearchPrev, "prev match"),
                (Cmd::NextTab, "next tab"),
                (Cmd::Note, "note"),
                (Cmd::Back, "back"),
            ],
            Some(RunTab::Params) => &[
                (Cmd::NextTab, "next tab"),
                (Cmd::Filter, "search"),
                (Cmd::Note, "note"),
                (Cmd::Tag, "tag"),
                (Cmd::Rerun, "rerun"),
                (Cmd::Back, "back"),
            ],
            Some(RunTab::Notes) => &[
                (Cmd::NextTab, "next tab"),
                (Cmd::Note, "note"),
                (Cmd::Reply, "reply"),
                (Cmd::Back, "back"),
            ],
            Some(RunTab::Artifacts) => &[
                (Cmd::NextTab, "next tab"),
                (Cmd::Open, "open/close"),
                (Cmd::Note, "note"),
                (Cmd::Back, "back"),
            ],
            _ => &[
                (Cmd::NextTab, "next tab"),
                (Cmd::Note, "note"),
                (Cmd::Tag, "tag"),
                (Cmd::Star, "star"),
                (Cmd::Rerun, "rerun"),
                (Cmd::Back, "back"),
            ],
        }
    }

    fn update(&self, state: &mut State, cmd: Cmd) -> Vec<Effect> {
        let Some(rv) = state.run.as_mut() else {
            return vec![];
        };
        let tab = rv.tab;
        match cmd {
            Cmd::NextTab | Cmd::PrevTab => {
                let i = tab.index();
                let n = RunTab::ALL.len();
                let next = if cmd == Cmd::NextTab {
                    (i + 1) % n
                } else {
                    (i + n - 1) % n
                };
                return set_tab(state, RunTab::ALL[next]);
            }
            Cmd::Star | Cmd::Tag | Cmd::Note => return writes::run_write_cmd(state, cmd),
            Cmd::Reply => {
                let Some(d) = &rv.detail else { return vec![] };
                // The cursor walks the notes in thread order, as they are drawn.
                let order = crate::present::thread_order(&d.notes);
                let Some(note) = order.get(rv.notes_cursor).map(|(i, _)| &d.notes[*i]) else {
                    return vec![];
                };
                state.overlay = Some(Overlay::Input {
                    kind: InputKind::Note {
                        run_id: rv.id.clone(),
                        reply_to: Some(note.id),
                    },
                    editor: Editor::default(),
                });
                return vec![];
            }
            Cmd::Filter => {
                match tab {
                    RunTab::Params => {
                        let before = rv.param_search.text.clone();
                        state.open_field(TextField::ParamSearch, before);
                    }
                    RunTab::Logs => {
                        let before = rv.log_search.text.clone();
                        state.open_field(TextField::LogSearch, before);
                    }
                    _ => {}
                }
                return vec![];
            }
            Cmd::SearchNext | Cmd::SearchPrev => {
                log::jump_to_match(state, cmd == Cmd::SearchNext, false);
                return vec![];
            }
            Cmd::Follow => {
                rv.follow = !rv.follow;
                return vec![];
            }
            Cmd::Ansi => {
                rv.keep_ansi = !rv.keep_ansi;
                return vec![];
            }
            Cmd::ChartMode => {
                rv.chart_list = !rv.chart_list;
                return vec![];
            }
            Cmd::Open | Cmd::Left | Cmd::Right if tab == RunTab::Artifacts => {
                rv.artifact_tree_cmd(cmd);
                return highlight_requests(state);
            }
            _ => {}
        }
        if tab == RunTab::Metrics {
            let keys = rv.metric_keys();
            if matches!(
                cmd,
                Cmd::Down | Cmd::Up | Cmd::Top | Cmd::Bottom | Cmd::PageDown | Cmd::PageUp
            ) {
                // Grid: down/up move a row of two charts; list: one entry.
                let stride = if rv.chart_list { 1 } else { 2 };
                rv.chart_selected = match cmd {
                    Cmd::Down => (rv.chart_selected + stride).min(keys.len().saturating_sub(1)),
                    Cmd::Up => rv.chart_selected.saturating_sub(stride),
                    c => move_cursor(rv.chart_selected, keys.len(), c, 6),
                };
                return vec![];
            }
            // Enter on a metric of the list opens its chart (the grid, at that chart).
            if cmd == Cmd::Open && rv.chart_list {
                rv.chart_list = false;
                return vec![];
            }
            let range = x_extent(rv.series.values());
            if rv.charts.apply(cmd, range) {
                rv.series.clear();
                return state.run_series_requests();
            }
            return vec![];
        }
        if is_motion(cmd) {
            let len = match tab {
                RunTab::Notes => rv.detail.as_ref().map(|d| d.notes.len()).unwrap_or(0),
                RunTab::Artifacts => rv.artifact_rows().len(),
                RunTab::Logs => rv.log.as_ref().map(|l| l.lines().count()).unwrap_or(0),
                _ => 10_000,
            };
            let page = state.size.1.saturating_sub(8).max(1) as usize;
            match tab {
                RunTab::Notes => rv.notes_cursor = move_cursor(rv.notes_cursor, len, cmd, page),
                RunTab::Artifacts => {
                    rv.artifact_cursor = move_cursor(rv.artifact_cursor, len, cmd, page);
                    return highlight_requests(state);
                }
                _ => {
                    let pos = rv.scroll_of(tab);
                    let new = move_cursor(pos, len, cmd, page);
                    rv.scroll.insert(tab.title(), new);
                    if tab == RunTab::Logs {
                        // Scrolling up leaves follow mode; G (bottom) resumes it.
                        rv.follow = cmd == Cmd::Bottom;
                    }
                }
            }
        }
        vec![]
    }

    /// A tab switches to it; in Notes and Artifacts a row selects (a second click on a folder
    /// opens or closes it).
    fn on_click(&self, state: &mut State, x: u16, y: u16) -> Vec<Effect> {
        let areas = state.areas.clone();
        for (r, tab) in &areas.tabs {
            if contains(*r, x, y) {
                return set_tab(state, *tab);
            }
        }
        if let Some((r, first)) = areas.list {
            if contains(r, x, y) {
                let i = first + (y - r.y) as usize;
                if let Some(rv) = &mut state.run {
                    match rv.tab {
                        RunTab::Notes => rv.notes_cursor = i,
                        RunTab::Artifacts if i < rv.artifact_rows().len() => {
                            // A click on the selected folder opens or closes it.
                            if rv.artifact_cursor == i {
                                rv.artifact_tree_cmd(Cmd::Open);
                            }
                            rv.artifact_cursor = i;
                            return highlight_requests(state);
                        }
                        _ => {}
                    }
                }
            }
        }
        vec![]
    }

    fn on_response(&self, state: &mut State, resp: Response) -> Result<Vec<Effect>, Response> {
        match resp {
            Response::Run(detail, artifacts) => {
                let mut out = Vec::new();
                if let Some(rv) = state.run.as_mut().filter(|rv| rv.id == detail.run.id) {
                    let first = rv.detail.is_none();
                    rv.detail = Some(*detail);
                    rv.artifacts = artifacts;
                    if first {
                        let failed = rv
                            .detail
                            .as_ref()
                            .is_some_and(|d| d.run.status == crate::model::RunStatus::Failed);
                        match rv.tab {
                            RunTab::Metrics => out.extend(state.run_series_requests()),
                            RunTab::Logs => out.extend(state.log_effects()),
                            // A failed run's overview says why, from the end of its log.
                            RunTab::Overview if failed => {
                                let run_id = rv.id.clone();
                                out.push(state.request(Request::Log { run_id, from: 0 }));
                            }
                            _ => {}
                        }
                    }
                }
                out.extend(highlight_requests(state));
                return Ok(out);
            }
            Response::Series {
                run_id,
                chart: Chart::Run,
                series,
            } => {
                if let Some(rv) = state.run.as_mut().filter(|r| r.id == run_id) {
                    rv.series.insert(series.key.clone(), series);
                }
            }
            Response::Log {
                run_id,
                text,
                end,
                appended,
            } => {
                if let Some(rv) = state.run.as_mut().filter(|r| r.id == run_id) {
                    log::merge_log(&mut rv.log, text, appended);
                    rv.log_end = end;
                }
            }
            Response::Highlighted {
                run_id,
                key,
                content,
            } => {
                if let Some(rv) = state.run.as_mut().filter(|r| r.id == run_id) {
                    rv.highlighted.insert(key, content);
                }
            }
            Response::RunInputs { run_id, inputs } => {
                if let Some(rv) = state.run.as_mut().filter(|r| r.id == run_id) {
                    rv.inputs = Some(inputs);
                }
            }
            other => return Err(other),
        }
        Ok(vec![])
    }

    fn on_change(&self, state: &mut State, store: bool, file: bool) -> Vec<Effect> {
        let mut out = Vec::new();
        if store {
            if let Some(id) = state.run.as_ref().map(|r| r.id.clone()) {
                out.push(Effect::Request(Request::Run { id: id.clone() }));
                if state.run.as_ref().is_some_and(|r| r.tab == RunTab::Metrics) {
                    out.extend(state.run_series_requests());
                }
                if state.run.as_ref().is_some_and(|r| r.tab == RunTab::Inputs) {
                    out.push(Effect::Request(Request::RunInputs { run_id: id }));
                }
            }
        }
        if (file || store) && state.run.as_ref().is_some_and(|r| r.tab == RunTab::Logs) {
            if let Some(rv) = state.run.as_ref() {
                // Only what was written since the last read.
                out.push(Effect::Request(Request::Log {
                    run_id: rv.id.clone(),
                    from: rv.log_end,
                }));
            }
        }
        out
    }

    /// Back on the run screen, its log is still followed.
    fn on_return(&self, _state: &mut State) -> Vec<Effect> {
        vec![]
    }

    fn targets(&self, state: &State) -> Vec<String> {
        state.run.iter().map(|r| r.id.clone()).collect()
    }

    fn draw(&self, frame: &mut Frame, area: Rect, state: &mut State) {
        draw::draw(frame, area, state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::SampledSeries;
    use crate::tui::screens::test_support;
    use crate::tui::screens::test_support::{answer, press, requests, state, typed};
    use crossterm::event::KeyCode;

    fn detail(id: &str) -> RunDetail {
        test_support::detail(id, &["train/loss", "val/acc"])
    }

    #[test]
    fn the_title_leaves_no_dangling_separator_for_an_empty_host() {
        let s = state();
        let mut d = detail("r1");
        d.run.host = None;
        let title = draw::run_title(&d, &s);
        assert!(
            !title.contains("·  ") && !title.trim_end().ends_with('·'),
            "{title:?}"
        );
        d.run.host = Some("gpu1".into());
        assert!(draw::run_title(&d, &s).trim_end().ends_with("· gpu1"));
    }

    fn opened(id: &str) -> State {
        let mut s = state();
        s.open_run(id.into());
        answer(&mut s, Response::Run(Box::new(detail(id)), vec![]));
        s
    }

    fn series(key: &str) -> SampledSeries {
        SampledSeries {
            key: key.into(),
            points: 0,
            x: crate::series::XAxis::Step,
            buckets: vec![],
        }
    }

    #[test]
    fn tabs_cycle_both_ways_and_metrics_ask_for_one_series_per_key() {
        let mut s = opened("r1");
        assert_eq!(s.run.as_ref().unwrap().tab, RunTab::Overview);
        press(&mut s, KeyCode::Tab);
        let effects = press(&mut s, KeyCode::Tab);
        assert_eq!(s.run.as_ref().unwrap().tab, RunTab::Metrics);
        let keys: Vec<(&str, Chart)> = requests(&effects)
            .iter()
            .filter_map(|r| match r {
                Request::Series { key, chart, .. } => Some((key.as_str(), *chart)),
                _ => None,
            })
            .collect();
        assert_eq!(keys, [("train/loss", Chart::Run), ("val/acc", Chart::Run)]);
        assert!(s.pending.contains(&RequestKind::Series));
        typed(&mut s, "[[[");
        assert_eq!(s.run.as_ref().unwrap().tab, RunTab::Inputs, "wraps round");
        let effects = typed(&mut s, "[]");
        assert_eq!(s.run.as_ref().unwrap().tab, RunTab::Inputs);
        assert!(matches!(
            requests(&effects)[..],
            [Request::RunInputs { ref run_id }] if run_id == "r1"
        ));
    }

    #[test]
    fn series_land_in_the_open_run_only() {
        let mut s = opened("r1");
        let got = |run_id: &str, chart| Response::Series {
            run_id: run_id.into(),
            chart,
            series: series("val/acc"),
        };
        answer(&mut s, got("other", Chart::Run));
        answer(&mut s, got("r1", Chart::Compare));
        assert!(s.run.as_ref().unwrap().series.is_empty());
        answer(&mut s, got("r1", Chart::Run));
        assert!(s.run.as_ref().unwrap().series.contains_key("val/acc"));
    }

    #[test]
    fn appended_log_text_is_added_and_a_search_jumps_to_the_match() {
        let mut s = opened("r1");
        let log = |text: &str, appended| Response::Log {
            run_id: "r1".into(),
            text: text.into(),
            end: 10,
            appended,
        };
        answer(&mut s, log("epoch 1\n", false));
        answer(&mut s, log("epoch 2\nloss nan\n", true));
        assert_eq!(
            s.run.as_ref().unwrap().log.as_deref(),
            Some("epoch 1\nepoch 2\nloss nan\n")
        );
        s.run.as_mut().unwrap().tab = RunTab::Logs;
        typed(&mut s, "/nan");
        assert_eq!(s.field, Some(TextField::LogSearch));
        let rv = s.run.as_ref().unwrap();
        assert_eq!(rv.scroll_of(RunTab::Logs), 2);
        assert!(!rv.follow, "a search stops following");
        press(&mut s, KeyCode::Esc);
        assert!(s.field.is_none());
        assert_eq!(
            s.run.as_ref().unwrap().log_search.text,
            "",
            "esc puts back the search before `/`: none"
        );
    }

    #[test]
    fn in_logs_n_and_shift_n_move_between_matches_and_esc_restores_then_clears() {
        let mut s = opened("r1");
        answer(
            &mut s,
            Response::Log {
                run_id: "r1".into(),
                text: "a nan\nb\nc nan\nd\ne nan\n".into(),
                end: 10,
                appended: false,
            },
        );
        s.run.as_mut().unwrap().tab = RunTab::Logs;
        typed(&mut s, "/nan");
        press(&mut s, KeyCode::Enter);
        let at = |s: &State| s.run.as_ref().unwrap().scroll_of(RunTab::Logs);
        assert_eq!(at(&s), 0);
        typed(&mut s, "n");
        assert!(s.overlay.is_none(), "n is the next match, not a note");
        assert_eq!(at(&s), 2);
        typed(&mut s, "n");
        assert_eq!(at(&s), 4);
        typed(&mut s, "N");
        assert_eq!(at(&s), 2);
        // Esc in the search bar puts back the search as it was before `/`.
        typed(&mut s, "/");
        press(&mut s, KeyCode::Backspace);
        typed(&mut s, "X");
        press(&mut s, KeyCode::Esc);
        assert!(s.field.is_none());
        assert_eq!(s.run.as_ref().unwrap().log_search.text, "nan");
        // Esc on the tab clears the search and stays on the run; n is a note again.
        press(&mut s, KeyCode::Esc);
        assert_eq!(s.screen, Screen::Run);
        assert_eq!(s.run.as_ref().unwrap().log_search.text, "");
        typed(&mut s, "n");
        assert!(matches!(s.overlay, Some(Overlay::Input { .. })));
    }

    #[test]
    fn replies_are_drawn_under_their_note_and_r_answers_the_note_shown_at_the_cursor() {
        let mut s = state();
        s.open_run("r1".into());
        let mut d = detail("r1");
        let note = |id: i64, reply_to: Option<i64>| crate::model::Note {
            id,
            run_id: "r1".into(),
            author: "alice".into(),
            created_ms: test_support::NOW - 1000 + id,
            updated_ms: 0,
            body: format!("body of {id}"),
            reply_to,
            anchor: None,
        };
        // #1, then #2 (a note of its own), then a reply to #1 (#3).
        d.notes = vec![note(1, None), note(2, None), note(3, Some(1))];
        answer(&mut s, Response::Run(Box::new(d), vec![]));
        s.run.as_mut().unwrap().tab = RunTab::Notes;
        let text = crate::tui::render_to_string(&mut s, 80, 24);
        let row = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap();
        assert!(row("#1 alice") < row("#3 alice") && row("#3 alice") < row("#2 alice"));
        assert!(text.contains("    #3 alice"), "{text}");
        // The cursor walks the notes as drawn: the second is #3.
        typed(&mut s, "jr");
        match &s.overlay {
            Some(Overlay::Input {
                kind: InputKind::Note { reply_to, .. },
                ..
            }) => assert_eq!(*reply_to, Some(3)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_footer_shows_the_tabs_own_keys_and_keeps_help_and_quit_at_80_columns() {
        let mut s = opened("r1");
        let footer = |s: &mut State| {
            let text = crate::tui::render_to_string(s, 80, 24);
            text.lines().last().unwrap().to_string()
        };
        s.run.as_mut().unwrap().tab = RunTab::Logs;
        let logs = footer(&mut s);
        for want in ["f follow", "A colours", "? help", "q quit"] {
            assert!(logs.contains(want), "{want:?} in {logs:?}");
        }
        assert!(!logs.contains("smooth"), "{logs:?}");
        s.run.as_mut().unwrap().tab = RunTab::Metrics;
        let metrics = footer(&mut s);
        assert!(
            metrics.contains("e smooth") && metrics.trim_end().ends_with("q quit"),
            "{metrics:?}"
        );
        // A long message leaves room for help and quit.
        s.error("x".repeat(200));
        let with_message = footer(&mut s);
        assert!(with_message.contains("? help  q quit"), "{with_message:?}");
    }

    #[test]
    fn a_failed_runs_overview_shows_its_exit_code_and_last_error_line() {
        let mut s = state();
        s.open_run("r1".into());
        let mut d = detail("r1");
        d.run.status = crate::model::RunStatus::Failed;
        d.run.exit_code = Some(1);
        let effects = answer(&mut s, Response::Run(Box::new(d), vec![]));
        assert!(
            requests(&effects)
                .iter()
                .any(|r| matches!(r, Request::Log { run_id, from: 0 } if run_id == "r1")),
            "the log is read for the overview"
        );
        answer(
            &mut s,
            Response::Log {
                run_id: "r1".into(),
                text: "epoch 3 loss=inf\nTraceback (most recent call last):\n  File \"t.py\"\nFloatingPointError: loss is nan at epoch 4\n\n".into(),
                end: 10,
                appended: false,
            },
        );
        let text = crate::tui::render_to_string(&mut s, 100, 30);
        assert!(text.contains("failed (exit 1)"), "{text}");
        assert!(
            text.contains("error       FloatingPointError: loss is nan at epoch 4"),
            "{text}"
        );
    }

    #[test]
    fn enter_on_a_metric_of_the_list_opens_its_chart_marked_as_selected() {
        let mut s = opened("r1");
        typed(&mut s, "]]");
        assert_eq!(s.run.as_ref().unwrap().tab, RunTab::Metrics);
        typed(&mut s, "v");
        typed(&mut s, "j");
        let list = crate::tui::render_to_string(&mut s, 100, 30);
        assert!(list.contains("▸val/acc"), "{list}");
        press(&mut s, KeyCode::Enter);
        let rv = s.run.as_ref().unwrap();
        assert!(!rv.chart_list && rv.chart_selected == 1);
        let grid = crate::tui::render_to_string(&mut s, 100, 30);
        assert!(grid.contains("▸ val/acc"), "{grid}");
    }

    #[test]
    fn note_opens_the_editor_on_this_run() {
        let mut s = opened("r1");
        typed(&mut s, "n");
        match &s.overlay {
            Some(Overlay::Input {
                kind: InputKind::Note { run_id, reply_to },
                ..
            }) => assert_eq!((run_id.as_str(), *reply_to), ("r1", None)),
            other => panic!("{other:?}"),
        }
    }
}
