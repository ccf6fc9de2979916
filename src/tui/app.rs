//! The UI's state and its pure logic: `handle_key(&State, KeyEvent) -> Option<Action>` turns a
//! key into an action without touching anything, and `update(&mut State, Action) -> Vec<Effect>`
//! changes the state and says what the loop must do (store requests, quitting, saving UI
//! state). No terminal and no store here, so nearly all behaviour is tested as plain
//! functions (`tests/tui_app.rs` and the module tests).
use super::artifact_tree::{self, TreeRow};
use super::editor::{EditKey, Editor};
use super::keymap::{Cmd, Keymap};
use super::state_file::{ColumnPrefs, UiState};
use super::theme::Theme;
use super::worker::{ArtifactEntry, Highlighted, Request, Response, Write};
use crate::model::{Event, Experiment, Millis, NewNote, Run, RunDetail, RunQuery, RunStatus};
use crate::present::{default_columns, Column};
use crate::query::{parse_filter, QueryError};
use crate::series::{SampledSeries, SeriesQuery, XAxis};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Runs,
    Run,
    Compare,
    Activity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunTab {
    Overview,
    Params,
    Metrics,
    Logs,
    Source,
    Artifacts,
    Notes,
}

impl RunTab {
    pub const ALL: [RunTab; 7] = [
        RunTab::Overview,
        RunTab::Params,
        RunTab::Metrics,
        RunTab::Logs,
        RunTab::Source,
        RunTab::Artifacts,
        RunTab::Notes,
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
        }
    }
    fn index(self) -> usize {
        RunTab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
}

/// What a text input overlay is for.
#[derive(Debug, Clone, PartialEq)]
pub enum InputKind {
    Tag {
        run_ids: Vec<String>,
    },
    Note {
        run_id: String,
        reply_to: Option<i64>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Confirm {
    Delete {
        run_ids: Vec<String>,
        deleted: bool,
    },
    /// Closing the editor would lose a draft; "no" goes back to it.
    DiscardDraft {
        kind: InputKind,
        editor: Editor,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    Help { search: Editor, scroll: usize },
    Palette { input: Editor, selected: usize },
    Confirm(Confirm),
    Input { kind: InputKind, editor: Editor },
    Columns { cursor: usize },
}

/// Which text field, if any, has the keyboard (outside overlays).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Filter,
    ParamSearch,
    LogSearch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricStat {
    Last,
    Min,
    Max,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XMode {
    Step,
    Time,
    Relative,
}

/// The view settings every chart shares.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartSettings {
    /// EMA weight of the past (0 = raw).
    pub smoothing: f64,
    pub log_y: bool,
    pub x: XMode,
    /// Zoomed x range, in the axis' units (steps or ms).
    pub zoom: Option<(i64, i64)>,
    /// Cursor as a fraction of the visible x range.
    pub cursor: Option<f64>,
}

impl Default for ChartSettings {
    fn default() -> Self {
        ChartSettings {
            smoothing: 0.0,
            log_y: false,
            x: XMode::Step,
            zoom: None,
            cursor: None,
        }
    }
}

pub const SMOOTHING_LEVELS: [f64; 7] = [0.0, 0.3, 0.6, 0.8, 0.9, 0.95, 0.99];

impl ChartSettings {
    pub fn series_query(&self, buckets: usize) -> SeriesQuery {
        SeriesQuery {
            buckets,
            x: match self.x {
                XMode::Step => XAxis::Step,
                XMode::Time | XMode::Relative => XAxis::Time,
            },
            x_min: self.zoom.map(|z| z.0),
            x_max: self.zoom.map(|z| z.1),
        }
    }

    fn apply(&mut self, cmd: Cmd, range: Option<(i64, i64)>) -> bool {
        let level = SMOOTHING_LEVELS
            .iter()
            .position(|l| *l >= self.smoothing - 1e-9)
            .unwrap_or(0);
        match cmd {
            Cmd::SmoothMore => self.smoothing = SMOOTHING_LEVELS[(level + 1).min(6)],
            Cmd::SmoothLess => self.smoothing = SMOOTHING_LEVELS[level.saturating_sub(1)],
            Cmd::LogY => self.log_y = !self.log_y,
            Cmd::XAxis => {
                self.x = match self.x {
                    XMode::Step => XMode::Time,
                    XMode::Time => XMode::Relative,
                    XMode::Relative => XMode::Step,
                };
                self.zoom = None;
                return true;
            }
            Cmd::ZoomIn => {
                let Some((lo, hi)) = self.zoom.or(range) else {
                    return false;
                };
                let c = self.cursor.unwrap_or(0.5);
                let center = lo as f64 + (hi - lo) as f64 * c;
                let half = ((hi - lo) as f64 / 4.0).max(1.0);
                self.zoom = Some(((center - half) as i64, (center + half) as i64));
                self.cursor = Some(0.5);
                return true;
            }
            Cmd::ZoomReset => {
                let changed = self.zoom.is_some();
                self.zoom = None;
                return changed;
            }
            Cmd::Left | Cmd::Right => {
                let step = if cmd == Cmd::Left { -0.025 } else { 0.025 };
                self.cursor = Some((self.cursor.unwrap_or(0.5) + step).clamp(0.0, 1.0));
            }
            _ => {}
        }
        false
    }
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
}

impl RunView {
    fn new(id: String) -> RunView {
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
    fn artifact_tree_cmd(&mut self, cmd: Cmd) {
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

#[derive(Debug, Clone, Default)]
pub struct ActivityView {
    pub events: Vec<Event>,
    pub cursor: usize,
    /// Events with a larger id are new since you last looked.
    pub seen_before: i64,
    pub loaded: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub text: String,
    pub error: bool,
    /// When it was set (ms); messages fade after a few seconds.
    pub at: Millis,
}

/// Where things were drawn last frame, for mouse clicks.
#[derive(Debug, Clone, Default)]
pub struct HitAreas {
    /// The table body and the absolute index of its first row.
    pub table_body: Option<(Rect, u64)>,
    /// Header cells and their column index.
    pub header_cells: Vec<(Rect, usize)>,
    pub sidebar: Option<Rect>,
    pub tabs: Vec<(Rect, RunTab)>,
    /// A plain list (activity, notes, metric rows): area and first item index.
    pub list: Option<(Rect, usize)>,
}

pub struct State {
    pub store_name: String,
    pub user: String,
    pub host: String,
    pub keymap: Keymap,
    pub theme: Theme,
    pub ui: UiState,
    pub screen: Screen,
    /// Screens to go back to.
    pub history: Vec<Screen>,
    pub overlay: Option<Overlay>,
    pub field: Option<Field>,
    pub experiments: Vec<Experiment>,
    pub runs: RunsView,
    pub run: Option<RunView>,
    pub compare: Option<CompareView>,
    pub activity: ActivityView,
    pub message: Option<Message>,
    /// Kinds of requests awaiting an answer (besides the runs page, which counts by seq).
    pub pending: BTreeSet<&'static str>,
    /// The clock used for relative times (set by the loop; fixed in tests).
    pub now: Millis,
    /// Frame counter for the spinner.
    pub tick: u64,
    pub areas: HitAreas,
    /// Terminal size (columns, rows).
    pub size: (u16, u16),
    /// Running runs in the current window (header).
    pub running: usize,
    pub quit: bool,
}

/// What a key, click or store answer asks for.
#[derive(Debug, Clone)]
pub enum Action {
    Cmd(Cmd),
    Edit(EditKey),
    Mouse(MouseEvent),
    Resize(u16, u16),
    Store(Response),
    /// The store or the followed log changed (from the watcher).
    Changed {
        store: bool,
        file: bool,
    },
    /// Confirm dialogs: yes or no.
    Answer(bool),
}

/// Side effects for the loop.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Request(Request),
    /// Follow this log file for growth (None: stop).
    WatchFile(Option<String>),
    SaveUiState,
    Quit,
}

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
    pub fn new(store_name: String, user: String, host: String, ui: UiState, now: Millis) -> State {
        let (keymap, keymap_error) = Keymap::load_user();
        let theme_name = Theme::initial_name(ui.theme.as_deref());
        let theme = Theme::load(&theme_name).unwrap_or_else(|_| Theme::fallback());
        let mut s = State::with_parts(store_name, user, host, ui, keymap, theme, now);
        if let Some(e) = keymap_error {
            s.error(e);
        }
        s
    }

    /// A state with explicit keymap and theme (tests, benchmarks).
    pub fn with_parts(
        store_name: String,
        user: String,
        host: String,
        ui: UiState,
        keymap: Keymap,
        theme: Theme,
        now: Millis,
    ) -> State {
        State {
            store_name,
            user,
            host,
            keymap,
            theme,
            ui,
            screen: Screen::Runs,
            history: Vec::new(),
            overlay: None,
            field: None,
            experiments: Vec::new(),
            runs: RunsView::default(),
            run: None,
            compare: None,
            activity: ActivityView::default(),
            message: None,
            pending: BTreeSet::new(),
            now,
            tick: 0,
            areas: HitAreas::default(),
            size: (160, 48),
            running: 0,
            quit: false,
        }
    }

    pub fn info(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            error: false,
            at: self.now,
        });
    }

    pub fn error(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            error: true,
            at: self.now,
        });
    }

    pub fn busy(&self) -> bool {
        self.runs.loading() || !self.pending.is_empty()
    }

    /// The keymap section of the current screen.
    pub fn section(&self) -> &'static str {
        match self.screen {
            Screen::Runs => "runs",
            Screen::Run => "run",
            Screen::Compare => "compare",
            Screen::Activity => "activity",
        }
    }

    fn exp_key(&self) -> String {
        self.runs.experiment.clone().unwrap_or_else(|| "*".into())
    }

    pub fn column_prefs(&self) -> ColumnPrefs {
        self.ui
            .columns
            .get(&self.exp_key())
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
        // Stable sort by the user's order; unknown columns keep their place after known ones.
        let pos = |c: &Column| {
            prefs
                .order
                .iter()
                .position(|s| *s == c.spec())
                .unwrap_or(usize::MAX)
        };
        let mut indexed: Vec<(usize, usize, Column)> = cols
            .into_iter()
            .enumerate()
            .map(|(i, c)| (pos(&c), i, c))
            .collect();
        indexed.sort_by_key(|(p, i, _)| (*p, *i));
        indexed.into_iter().map(|(_, _, c)| c).collect()
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

    fn run_query(&self, offset: u64, limit: u64) -> RunQuery {
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
        }
    }

    /// The current query without paging (what a count is for).
    fn query_key(&self) -> RunQuery {
        RunQuery {
            offset: 0,
            limit: None,
            ..self.run_query(0, 0)
        }
    }

    fn page_limit(&self) -> u64 {
        (self.runs.visible_rows * 3).max(100)
    }

    /// A fresh first page (the query changed): cursor to the top.
    fn reload_runs(&mut self) -> Effect {
        self.runs.cursor = 0;
        self.runs.scroll = 0;
        self.refetch_runs()
    }

    /// The same query again around the current scroll position (live updates, paging).
    fn refetch_runs(&mut self) -> Effect {
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

    /// Fetches a new window when the visible rows are not all in the current one.
    fn ensure_window(&mut self) -> Vec<Effect> {
        let top = self.runs.scroll;
        let bottom = (top + self.runs.visible_rows).min(self.runs.total);
        let have_lo = self.runs.window_offset;
        let have_hi = have_lo + self.runs.rows.len() as u64;
        if top >= have_lo && bottom <= have_hi {
            return vec![];
        }
        vec![self.refetch_runs()]
    }

    /// The initial requests.
    pub fn start(&mut self) -> Vec<Effect> {
        vec![
            Effect::Request(Request::Experiments),
            self.reload_runs(),
            Effect::Request(Request::Events { limit: 200 }),
        ]
    }

    fn request(&mut self, kind: &'static str, r: Request) -> Effect {
        self.pending.insert(kind);
        Effect::Request(r)
    }

    /// The runs a run-level command applies to: the marked ones, else the selected one.
    fn targets(&self) -> Vec<String> {
        match self.screen {
            Screen::Run => self.run.iter().map(|r| r.id.clone()).collect(),
            Screen::Runs if !self.runs.marked.is_empty() => self.runs.marked.clone(),
            Screen::Runs => self
                .runs
                .selected()
                .map(|r| r.id.clone())
                .into_iter()
                .collect(),
            Screen::Activity => self
                .activity
                .events
                .get(self.activity.cursor)
                .and_then(|e| e.run_id.clone())
                .into_iter()
                .collect(),
            Screen::Compare => vec![],
        }
    }

    fn go(&mut self, screen: Screen) {
        if self.screen != screen {
            self.history.push(self.screen);
            self.screen = screen;
        }
    }

    /// Opens the run screen on a run (what `enter` does on a row).
    pub fn open_run(&mut self, id: String) -> Vec<Effect> {
        self.run = Some(RunView::new(id.clone()));
        self.go(Screen::Run);
        vec![self.request("run", Request::Run { id })]
    }

    fn chart_buckets(&self) -> usize {
        (self.size.0 as usize * 2).clamp(64, 1000)
    }

    /// Series requests for the run's metric charts.
    fn run_series_requests(&mut self) -> Vec<Effect> {
        let Some(rv) = &self.run else { return vec![] };
        let q = rv.charts.series_query(self.chart_buckets());
        let id = rv.id.clone();
        let keys = rv.metric_keys();
        let mut out = Vec::new();
        for key in keys {
            out.push(self.request(
                "series",
                Request::Series {
                    run_id: id.clone(),
                    key: key.clone(),
                    query: q.clone(),
                    slot: format!("run:{key}"),
                },
            ));
        }
        out
    }

    /// How many metrics the compare screen charts side by side.
    pub fn compare_charts(&self) -> usize {
        if self.size.0 >= 120 {
            2
        } else {
            1
        }
    }

    /// Series for the compare charts: the selected metric (and the next on wide terminals),
    /// every run.
    fn compare_series_requests(&mut self) -> Vec<Effect> {
        let Some(cv) = &self.compare else {
            return vec![];
        };
        let keys: Vec<String> = cv
            .metric_keys()
            .into_iter()
            .skip(cv.metric_cursor)
            .take(self.compare_charts())
            .collect();
        let q = cv.charts.series_query(self.chart_buckets());
        let ids = cv.ids.clone();
        let mut out = Vec::new();
        for key in keys {
            for id in &ids {
                out.push(self.request(
                    "series",
                    Request::Series {
                        slot: format!("cmp:{id}:{key}"),
                        run_id: id.clone(),
                        key: key.clone(),
                        query: q.clone(),
                    },
                ));
            }
        }
        out
    }

    fn log_effects(&mut self) -> Vec<Effect> {
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
            self.request(
                "log",
                Request::Log {
                    run_id: id,
                    from: 0,
                },
            ),
            Effect::WatchFile(if running { path } else { None }),
        ]
    }
}

/// Keys → action. Text fields and overlays take typing first; everything else goes through
/// the keymap of the current screen.
pub fn handle_key(state: &State, key: KeyEvent) -> Option<Action> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let edit = |multiline: bool| -> Option<Action> {
        Some(Action::Edit(match key.code {
            KeyCode::Char('s') if ctrl && multiline => EditKey::Submit,
            KeyCode::Char('u') if ctrl => EditKey::Clear,
            KeyCode::Char('c') if ctrl => EditKey::Cancel,
            KeyCode::Char(c) if !ctrl => EditKey::Char(c),
            KeyCode::Enter if multiline && !key.modifiers.contains(KeyModifiers::ALT) => {
                EditKey::Newline
            }
            KeyCode::Enter => EditKey::Submit,
            KeyCode::Esc => EditKey::Cancel,
            KeyCode::Backspace => EditKey::Backspace,
            KeyCode::Delete => EditKey::Delete,
            KeyCode::Left => EditKey::Left,
            KeyCode::Right => EditKey::Right,
            KeyCode::Home => EditKey::Home,
            KeyCode::End => EditKey::End,
            KeyCode::Tab => EditKey::Complete,
            KeyCode::Up => EditKey::Up,
            KeyCode::Down => EditKey::Down,
            _ => return None,
        }))
    };
    match &state.overlay {
        Some(Overlay::Confirm(_)) => {
            return match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => {
                    Some(Action::Answer(true))
                }
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Char('q') => {
                    Some(Action::Answer(false))
                }
                _ => None,
            }
        }
        Some(Overlay::Input { kind, .. }) => {
            return edit(matches!(kind, InputKind::Note { .. }));
        }
        Some(Overlay::Palette { .. }) | Some(Overlay::Help { .. }) => return edit(false),
        Some(Overlay::Columns { .. }) => {
            return match key.code {
                KeyCode::Char(' ') | KeyCode::Enter => Some(Action::Cmd(Cmd::Mark)),
                KeyCode::Esc | KeyCode::Char('q') => Some(Action::Cmd(Cmd::Back)),
                _ => state.keymap.lookup("global", &key).map(Action::Cmd),
            }
        }
        None => {}
    }
    if state.field.is_some() {
        return edit(false);
    }
    state.keymap.lookup(state.section(), &key).map(Action::Cmd)
}

/// Mouse → action: clicks on rows, tabs, headers and the sidebar; the wheel scrolls.
pub fn handle_mouse(state: &State, m: MouseEvent) -> Option<Action> {
    match m.kind {
        MouseEventKind::ScrollDown => Some(Action::Cmd(Cmd::Down)),
        MouseEventKind::ScrollUp => Some(Action::Cmd(Cmd::Up)),
        MouseEventKind::Down(MouseButton::Left) if state.overlay.is_none() => {
            Some(Action::Mouse(m))
        }
        _ => None,
    }
}

fn contains(r: Rect, x: u16, y: u16) -> bool {
    x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height
}

/// Palette commands with their argument completions.
pub const PALETTE: &[(&str, &str)] = &[
    ("runs", "the runs table"),
    ("exp", "switch experiment: :exp NAME (or :exp * for all)"),
    ("activity", "the activity log"),
    ("theme", "switch theme: :theme NAME"),
    ("columns", "choose the table's columns"),
    ("compare", "compare the marked runs"),
    ("help", "key bindings"),
    ("quit", "quit"),
];

/// Completions for the palette's current input (whole command lines).
pub fn palette_completions(state: &State, input: &str) -> Vec<String> {
    let input = input.trim_start();
    if let Some((cmd, arg)) = input.split_once(' ') {
        let options: Vec<String> = match cmd {
            "exp" => std::iter::once("*".to_string())
                .chain(state.experiments.iter().map(|e| e.name.clone()))
                .collect(),
            "theme" => super::theme::names(),
            _ => vec![],
        };
        return options
            .into_iter()
            .filter(|o| o.starts_with(arg.trim()))
            .map(|o| format!("{cmd} {o}"))
            .collect();
    }
    PALETTE
        .iter()
        .filter(|(c, _)| c.starts_with(input))
        .map(|(c, _)| c.to_string())
        .collect()
}

pub fn update(state: &mut State, action: Action) -> Vec<Effect> {
    match action {
        Action::Resize(w, h) => {
            state.size = (w, h);
            vec![]
        }
        Action::Store(resp) => on_response(state, resp),
        Action::Changed { store, file } => on_change(state, store, file),
        Action::Answer(yes) => on_answer(state, yes),
        Action::Edit(key) => on_edit(state, key),
        Action::Mouse(m) => on_click(state, m.column, m.row),
        Action::Cmd(cmd) => {
            if let Some(Overlay::Columns { .. }) = state.overlay {
                return on_columns_overlay(state, cmd);
            }
            on_cmd(state, cmd)
        }
    }
}

fn on_change(state: &mut State, store: bool, file: bool) -> Vec<Effect> {
    let mut out = Vec::new();
    if store {
        out.push(Effect::Request(Request::Experiments));
        out.push(state.refetch_runs());
        out.push(Effect::Request(Request::Events { limit: 200 }));
        if let Some(id) = state.run.as_ref().map(|r| r.id.clone()) {
            out.push(Effect::Request(Request::Run { id }));
            if state.run.as_ref().is_some_and(|r| r.tab == RunTab::Metrics) {
                out.extend(state.run_series_requests());
            }
        }
        if let Some(ids) = state.compare.as_ref().map(|c| c.ids.clone()) {
            out.push(Effect::Request(Request::RunsById { ids }));
            out.extend(state.compare_series_requests());
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

fn on_response(state: &mut State, resp: Response) -> Vec<Effect> {
    match resp {
        Response::Experiments(e) => {
            state.pending.remove("experiments");
            state.experiments = e;
        }
        Response::Runs { seq, query, page } => {
            if seq < state.runs.seq_sent {
                // A newer query is on its way; this answer is stale.
                state.runs.seq_got = state.runs.seq_got.max(seq);
                return vec![];
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
                    out.push(state.request("count", Request::Count { seq, query: what }));
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
            if state.runs.cursor >= state.runs.total {
                state.runs.cursor = state.runs.total.saturating_sub(1);
            }
            let n = state.columns().len();
            if state.runs.col_cursor >= n {
                state.runs.col_cursor = n.saturating_sub(1);
            }
            out.extend(state.ensure_window());
            return out;
        }
        Response::Count { seq, total } => {
            state.pending.remove("count");
            // Only the count of the query shown now applies.
            if let Some((_, what)) = state.runs.counting.take_if(|(s, _)| *s == seq) {
                if what == state.query_key() {
                    state.runs.total = total;
                    state.runs.counted = Some(what);
                }
            }
        }
        Response::Run(detail, artifacts) => {
            state.pending.remove("run");
            let mut out = Vec::new();
            if let Some(rv) = state.run.as_mut().filter(|rv| rv.id == detail.run.id) {
                let first = rv.detail.is_none();
                rv.detail = Some(*detail);
                rv.artifacts = artifacts;
                if first {
                    match rv.tab {
                        RunTab::Metrics => out.extend(state.run_series_requests()),
                        RunTab::Logs => out.extend(state.log_effects()),
                        _ => {}
                    }
                }
            }
            out.extend(highlight_requests(state));
            return out;
        }
        Response::RunsById(runs) => {
            state.pending.remove("compare");
            if let Some(cv) = &mut state.compare {
                let first = cv.runs.is_empty();
                cv.runs = runs;
                if first {
                    return state.compare_series_requests();
                }
            }
        }
        Response::Series {
            run_id,
            slot,
            series,
        } => {
            state.pending.remove("series");
            if let Some(key) = slot.strip_prefix("run:") {
                if let Some(rv) = state.run.as_mut().filter(|r| r.id == run_id) {
                    rv.series.insert(key.to_string(), series);
                }
            } else if let Some(cv) = &mut state.compare {
                cv.series.insert((run_id, series.key.clone()), series);
            }
        }
        Response::Log {
            run_id,
            text,
            end,
            appended,
        } => {
            state.pending.remove("log");
            if let Some(rv) = state.run.as_mut().filter(|r| r.id == run_id) {
                match (&mut rv.log, appended) {
                    (Some(log), true) => {
                        log.push_str(&text);
                        // Bounded: drop whole lines from the front past the limit.
                        let limit = super::worker::LOG_LIMIT as usize;
                        if log.len() > limit {
                            let mut cut = log.len() - limit;
                            while !log.is_char_boundary(cut) {
                                cut += 1;
                            }
                            let at = log[cut..].find('\n').map_or(cut, |i| cut + i + 1);
                            log.drain(..at);
                        }
                    }
                    _ => rv.log = Some(text),
                }
                rv.log_end = end;
            }
        }
        Response::Events(events) => {
            state.pending.remove("events");
            if !state.activity.loaded {
                state.activity.seen_before = state
                    .ui
                    .last_seen_event
                    .get(&state.store_name)
                    .copied()
                    .unwrap_or(0);
                state.activity.loaded = true;
            }
            state.activity.events = events;
        }
        Response::Highlighted {
            run_id,
            key,
            content,
        } => {
            state.pending.remove("highlight");
            if let Some(rv) = state.run.as_mut().filter(|r| r.id == run_id) {
                rv.highlighted.insert(key, content);
            }
        }
        Response::Written(msg) => {
            state.pending.remove("write");
            state.info(format!("✓ {msg}"));
            // The watcher will notice too; asking now makes the change show at once.
            return on_change(state, true, false);
        }
        Response::Error(e) => {
            state.pending.clear();
            state.runs.seq_got = state.runs.seq_sent;
            state.error(e);
        }
    }
    vec![]
}

fn on_answer(state: &mut State, yes: bool) -> Vec<Effect> {
    let Some(Overlay::Confirm(c)) = state.overlay.take() else {
        return vec![];
    };
    if !yes {
        if let Confirm::DiscardDraft { kind, editor } = c {
            state.overlay = Some(Overlay::Input { kind, editor });
        }
        return vec![];
    }
    match c {
        Confirm::Delete { run_ids, deleted } => {
            let user = state.user.clone();
            vec![state.request(
                "write",
                Request::Write(Write::Delete {
                    run_ids,
                    deleted,
                    user,
                }),
            )]
        }
        Confirm::DiscardDraft { .. } => {
            state.info("draft discarded");
            vec![]
        }
    }
}

/// Tags to set and tag keys to remove.
pub type TagEdit = (Vec<(String, String)>, Vec<String>);

/// Parses `k=v k2=v2 -k3` into tags to set and keys to remove.
pub fn parse_tag_edit(text: &str) -> Result<TagEdit, String> {
    let mut set = Vec::new();
    let mut remove = Vec::new();
    for word in text.split_whitespace() {
        if let Some(k) = word.strip_prefix('-') {
            remove.push(k.to_string());
        } else {
            set.extend(
                crate::present::parse_pairs(&[word.to_string()], "tag")
                    .map_err(|e| e.to_string())?,
            );
        }
    }
    if set.is_empty() && remove.is_empty() {
        return Err("no tags given (k=v sets, -k removes)".into());
    }
    Ok((set, remove))
}

fn on_edit(state: &mut State, key: EditKey) -> Vec<Effect> {
    match state.overlay.take() {
        Some(Overlay::Input { kind, mut editor }) => {
            match key {
                EditKey::Cancel => {
                    if !editor.text.trim().is_empty() {
                        state.overlay =
                            Some(Overlay::Confirm(Confirm::DiscardDraft { kind, editor }));
                    }
                }
                EditKey::Submit => return submit_input(state, kind, editor.text),
                k => {
                    editor.apply(k);
                    state.overlay = Some(Overlay::Input { kind, editor });
                }
            }
            vec![]
        }
        Some(Overlay::Palette {
            mut input,
            mut selected,
        }) => {
            let completions = palette_completions(state, &input.text);
            match key {
                EditKey::Cancel => return vec![],
                EditKey::Submit => {
                    let line = if input.text.contains(' ') || completions.is_empty() {
                        input.text.clone()
                    } else {
                        completions
                            .get(selected)
                            .cloned()
                            .unwrap_or(input.text.clone())
                    };
                    return run_palette(state, line.trim());
                }
                EditKey::Complete => {
                    if let Some(c) = completions.get(selected) {
                        input = Editor::with_text(c);
                        if PALETTE.iter().any(|(n, _)| *n == c.as_str())
                            && matches!(c.as_str(), "exp" | "theme")
                        {
                            input.apply(EditKey::Char(' '));
                        }
                        selected = 0;
                    }
                }
                EditKey::Down => selected = (selected + 1).min(completions.len().saturating_sub(1)),
                EditKey::Up => selected = selected.saturating_sub(1),
                k => {
                    if input.apply(k) {
                        selected = 0;
                    }
                }
            }
            state.overlay = Some(Overlay::Palette { input, selected });
            vec![]
        }
        Some(Overlay::Help { mut search, scroll }) => {
            let scroll = match key {
                EditKey::Cancel | EditKey::Submit => return vec![],
                EditKey::Down => scroll + 1,
                EditKey::Up => scroll.saturating_sub(1),
                k => {
                    search.apply(k);
                    0
                }
            };
            state.overlay = Some(Overlay::Help { search, scroll });
            vec![]
        }
        other => {
            state.overlay = other;
            on_field_edit(state, key)
        }
    }
}

fn on_field_edit(state: &mut State, key: EditKey) -> Vec<Effect> {
    match state.field {
        Some(Field::Filter) => {
            let submit = matches!(key, EditKey::Submit);
            match key {
                EditKey::Submit | EditKey::Cancel | EditKey::Down => state.field = None,
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
                    if !state.runs.filter_deferred
                        && text.trim() != state.runs.applied_filter.trim()
                    {
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
        Some(Field::ParamSearch) | Some(Field::LogSearch) => {
            let field = state.field;
            let Some(rv) = state.run.as_mut() else {
                state.field = None;
                return vec![];
            };
            let editor = if field == Some(Field::ParamSearch) {
                &mut rv.param_search
            } else {
                &mut rv.log_search
            };
            match key {
                EditKey::Submit => state.field = None,
                EditKey::Cancel => {
                    editor.apply(EditKey::Clear);
                    state.field = None;
                }
                k => {
                    editor.apply(k);
                }
            }
            if field == Some(Field::LogSearch) {
                jump_to_match(state, true, true);
            }
            vec![]
        }
        None => vec![],
    }
}

/// Moves the log view to the next (or previous) line matching the search.
fn jump_to_match(state: &mut State, forward: bool, include_current: bool) {
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

fn submit_input(state: &mut State, kind: InputKind, text: String) -> Vec<Effect> {
    match kind {
        InputKind::Note { run_id, reply_to } => {
            if text.trim().is_empty() {
                state.info("empty note not saved");
                return vec![];
            }
            let note = NewNote {
                author: state.user.clone(),
                body: text,
                reply_to,
                anchor: None,
                created_ms: None,
            };
            vec![state.request("write", Request::Write(Write::Note { run_id, note }))]
        }
        InputKind::Tag { run_ids } => match parse_tag_edit(&text) {
            Ok((set, remove)) => {
                let user = state.user.clone();
                run_ids
                    .into_iter()
                    .map(|run_id| {
                        state.request(
                            "write",
                            Request::Write(Write::Tags {
                                run_id,
                                set: set.clone(),
                                remove: remove.clone(),
                                user: user.clone(),
                            }),
                        )
                    })
                    .collect()
            }
            Err(e) => {
                state.error(e);
                vec![]
            }
        },
    }
}

fn run_palette(state: &mut State, line: &str) -> Vec<Effect> {
    let (cmd, arg) = line.split_once(' ').unwrap_or((line, ""));
    let arg = arg.trim();
    match cmd {
        "runs" => {
            state.history.clear();
            state.screen = Screen::Runs;
            vec![]
        }
        "exp" => {
            if arg.is_empty() || arg == "*" {
                select_experiment(state, None)
            } else if let Some(e) = state.experiments.iter().find(|e| e.name == arg) {
                let name = e.name.clone();
                select_experiment(state, Some(name))
            } else {
                state.error(format!("no experiment '{arg}'"));
                vec![]
            }
        }
        "activity" => on_cmd(state, Cmd::Activity),
        "theme" => match super::theme::Theme::load(arg) {
            Ok(t) => {
                state.theme = t;
                state.ui.theme = Some(arg.to_string());
                state.info(format!("theme {arg}"));
                if let Some(rv) = state.run.as_mut() {
                    rv.highlighted.clear();
                }
                let mut out = vec![Effect::SaveUiState];
                out.extend(highlight_requests(state));
                out
            }
            Err(e) => {
                state.error(e);
                vec![]
            }
        },
        "columns" => {
            state.overlay = Some(Overlay::Columns { cursor: 0 });
            vec![]
        }
        "compare" => on_cmd(state, Cmd::Compare),
        "help" => on_cmd(state, Cmd::Help),
        "quit" | "q" => on_cmd(state, Cmd::Quit),
        "" => vec![],
        other => {
            state.error(format!("unknown command ':{other}' (try :help)"));
            vec![]
        }
    }
}

fn select_experiment(state: &mut State, name: Option<String>) -> Vec<Effect> {
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

fn save_prefs(state: &mut State, prefs: ColumnPrefs) -> Vec<Effect> {
    let key = state.exp_key();
    state.ui.columns.insert(key, prefs);
    vec![Effect::SaveUiState]
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

/// The x range (in the query's units) covered by some series.
fn x_extent<'a>(series: impl Iterator<Item = &'a SampledSeries>) -> Option<(i64, i64)> {
    series
        .filter_map(|s| Some((s.buckets.first()?.x_lo, s.buckets.last()?.x_hi)))
        .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)))
}

fn move_cursor(pos: usize, len: usize, cmd: Cmd, page: usize) -> usize {
    let last = len.saturating_sub(1);
    match cmd {
        Cmd::Down => (pos + 1).min(last),
        Cmd::Up => pos.saturating_sub(1),
        Cmd::Top => 0,
        Cmd::Bottom => last,
        Cmd::PageDown => (pos + page).min(last),
        Cmd::PageUp => pos.saturating_sub(page),
        _ => pos,
    }
}

fn is_motion(cmd: Cmd) -> bool {
    matches!(
        cmd,
        Cmd::Down | Cmd::Up | Cmd::Top | Cmd::Bottom | Cmd::PageDown | Cmd::PageUp
    )
}

fn on_cmd(state: &mut State, cmd: Cmd) -> Vec<Effect> {
    // Commands that mean the same everywhere.
    match cmd {
        Cmd::Quit => {
            state.quit = true;
            return vec![Effect::Quit];
        }
        Cmd::Help => {
            state.overlay = Some(Overlay::Help {
                search: Editor::default(),
                scroll: 0,
            });
            return vec![];
        }
        Cmd::Palette => {
            state.overlay = Some(Overlay::Palette {
                input: Editor::default(),
                selected: 0,
            });
            return vec![];
        }
        Cmd::Refresh => return on_change(state, true, true),
        Cmd::Activity => {
            state.go(Screen::Activity);
            state.activity.cursor = 0;
            return vec![state.request("events", Request::Events { limit: 200 })];
        }
        Cmd::Back if state.overlay.is_some() => {
            state.overlay = None;
            return vec![];
        }
        Cmd::Back => {
            if state.screen == Screen::Activity {
                mark_events_seen(state);
            }
            if let Some(prev) = state.history.pop() {
                state.screen = prev;
                let mut out = vec![];
                if prev != Screen::Run {
                    out.push(Effect::WatchFile(None));
                }
                if state.screen == Screen::Activity {
                    return out;
                }
                return out;
            }
            if !state.runs.marked.is_empty() && state.screen == Screen::Runs {
                state.runs.marked.clear();
                state.info("marks cleared");
            }
            return vec![Effect::SaveUiState];
        }
        Cmd::Compare => return open_compare(state),
        _ => {}
    }
    match state.screen {
        Screen::Runs => runs_cmd(state, cmd),
        Screen::Run => run_cmd(state, cmd),
        Screen::Compare => compare_cmd(state, cmd),
        Screen::Activity => activity_cmd(state, cmd),
    }
}

fn mark_events_seen(state: &mut State) -> bool {
    let newest = state
        .activity
        .events
        .iter()
        .map(|e| e.id)
        .max()
        .unwrap_or(0);
    let entry = state
        .ui
        .last_seen_event
        .entry(state.store_name.clone())
        .or_insert(0);
    if newest > *entry {
        *entry = newest;
        return true;
    }
    false
}

fn open_compare(state: &mut State) -> Vec<Effect> {
    let ids = state.runs.marked.clone();
    if !(2..=20).contains(&ids.len()) {
        state.error(format!(
            "mark 2 to 20 runs to compare (space marks; {} marked)",
            ids.len()
        ));
        return vec![];
    }
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
    vec![state.request("compare", Request::RunsById { ids })]
}

fn runs_cmd(state: &mut State, cmd: Cmd) -> Vec<Effect> {
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
            state.field = Some(Field::Filter);
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
                state.runs.cursor = (state.runs.cursor + 1).min(state.runs.total.saturating_sub(1));
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
            state.runs.metric_stat = match state.runs.metric_stat {
                MetricStat::Last => MetricStat::Min,
                MetricStat::Min => MetricStat::Max,
                MetricStat::Max => MetricStat::Last,
            };
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
        Cmd::Star | Cmd::Tag | Cmd::Note | Cmd::Delete => run_write_cmd(state, cmd),
        _ => vec![],
    }
}

fn sort_by(state: &mut State, col: Column, reverse: bool) -> Vec<Effect> {
    if sort_field(&col).is_none() {
        state.error(format!("cannot sort by {}", col.header()));
        return vec![];
    }
    let desc = match &state.runs.sort {
        // Sorting by the sorted column again flips it.
        Some((c, d)) if *c == col => !*d,
        // Numbers and times read best largest first.
        _ => reverse != matches!(col, Column::Metric(_) | Column::Started | Column::Duration),
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

/// Star, tag, note and delete: the same on the runs table (marked or selected) and a run.
fn run_write_cmd(state: &mut State, cmd: Cmd) -> Vec<Effect> {
    let targets = state.targets();
    if targets.is_empty() {
        return vec![];
    }
    let user = state.user.clone();
    match cmd {
        Cmd::Star => {
            let starred_by_me = |id: &String| -> bool {
                let in_table = state
                    .runs
                    .rows
                    .iter()
                    .find(|r| &r.id == id)
                    .map(|r| r.stars.contains(&state.user));
                let in_run = state
                    .run
                    .as_ref()
                    .and_then(|r| r.detail.as_ref())
                    .filter(|d| &d.run.id == id)
                    .map(|d| d.run.stars.contains(&state.user));
                in_run.or(in_table).unwrap_or(false)
            };
            let writes: Vec<Write> = targets
                .iter()
                .map(|id| Write::Star {
                    run_id: id.clone(),
                    user: user.clone(),
                    on: !starred_by_me(id),
                })
                .collect();
            writes
                .into_iter()
                .map(|w| state.request("write", Request::Write(w)))
                .collect()
        }
        Cmd::Tag => {
            state.overlay = Some(Overlay::Input {
                kind: InputKind::Tag { run_ids: targets },
                editor: Editor::default(),
            });
            vec![]
        }
        Cmd::Note => {
            state.overlay = Some(Overlay::Input {
                kind: InputKind::Note {
                    run_id: targets[0].clone(),
                    reply_to: None,
                },
                editor: Editor::default(),
            });
            vec![]
        }
        Cmd::Delete => {
            let deleted = !state
                .runs
                .rows
                .iter()
                .find(|r| r.id == targets[0])
                .is_some_and(|r| r.deleted);
            state.overlay = Some(Overlay::Confirm(Confirm::Delete {
                run_ids: targets,
                deleted,
            }));
            vec![]
        }
        _ => vec![],
    }
}

fn set_tab(state: &mut State, tab: RunTab) -> Vec<Effect> {
    let Some(rv) = state.run.as_mut() else {
        return vec![];
    };
    rv.tab = tab;
    let mut out = vec![Effect::WatchFile(None)];
    match tab {
        RunTab::Metrics => out.extend(state.run_series_requests()),
        RunTab::Logs => out = state.log_effects(),
        _ => {}
    }
    out.extend(highlight_requests(state));
    out
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
        state.pending.insert("highlight");
    }
    out
}

fn run_cmd(state: &mut State, cmd: Cmd) -> Vec<Effect> {
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
        Cmd::Star | Cmd::Tag | Cmd::Note => return run_write_cmd(state, cmd),
        Cmd::Reply => {
            let Some(d) = &rv.detail else { return vec![] };
            let Some(note) = d.notes.get(rv.notes_cursor) else {
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
                RunTab::Params => state.field = Some(Field::ParamSearch),
                RunTab::Logs => state.field = Some(Field::LogSearch),
                _ => {}
            }
            return vec![];
        }
        Cmd::SearchNext | Cmd::SearchPrev => {
            jump_to_match(state, cmd == Cmd::SearchNext, false);
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

fn compare_cmd(state: &mut State, cmd: Cmd) -> Vec<Effect> {
    let Some(cv) = state.compare.as_mut() else {
        return vec![];
    };
    let keys = cv.metric_keys();
    match cmd {
        c if is_motion(c) => {
            let before = cv.metric_cursor;
            cv.metric_cursor = move_cursor(cv.metric_cursor, keys.len(), c, 10);
            if cv.metric_cursor != before {
                cv.series.clear();
                cv.charts.zoom = None;
                return state.compare_series_requests();
            }
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

fn activity_cmd(state: &mut State, cmd: Cmd) -> Vec<Effect> {
    match cmd {
        c if is_motion(c) => {
            state.activity.cursor =
                move_cursor(state.activity.cursor, state.activity.events.len(), c, 10);
            vec![]
        }
        Cmd::MarkSeen => {
            mark_events_seen(state);
            state.activity.seen_before = state
                .ui
                .last_seen_event
                .get(&state.store_name)
                .copied()
                .unwrap_or(0);
            vec![Effect::SaveUiState]
        }
        Cmd::Open => {
            let run = state
                .activity
                .events
                .get(state.activity.cursor)
                .and_then(|e| e.run_id.clone());
            match run {
                Some(id) => {
                    let mut out = vec![];
                    if mark_events_seen(state) {
                        out.push(Effect::SaveUiState);
                    }
                    out.extend(state.open_run(id));
                    out
                }
                None => {
                    state.info("this event has no run");
                    vec![]
                }
            }
        }
        Cmd::Star | Cmd::Tag | Cmd::Note => run_write_cmd(state, cmd),
        _ => vec![],
    }
}

fn on_click(state: &mut State, x: u16, y: u16) -> Vec<Effect> {
    let areas = state.areas.clone();
    for (r, tab) in &areas.tabs {
        if contains(*r, x, y) {
            return set_tab(state, *tab);
        }
    }
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
                    return on_cmd(state, Cmd::Open);
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
                return runs_cmd(state, Cmd::Open);
            }
        }
    }
    if let Some((r, first)) = areas.list {
        if contains(r, x, y) {
            let i = first + (y - r.y) as usize;
            match state.screen {
                Screen::Activity if i < state.activity.events.len() => {
                    if state.activity.cursor == i {
                        return activity_cmd(state, Cmd::Open);
                    }
                    state.activity.cursor = i;
                }
                Screen::Compare => {
                    if let Some(cv) = &mut state.compare {
                        if i < cv.metric_keys().len() && cv.metric_cursor != i {
                            cv.metric_cursor = i;
                            cv.series.clear();
                            return state.compare_series_requests();
                        }
                    }
                }
                Screen::Run => {
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
                _ => {}
            }
        }
    }
    vec![]
}
