//! The app shell: what every screen shares, and the pure key → action → state logic that
//! routes to the screens. `handle_key(&State, KeyEvent) -> Option<Action>` turns a key into an
//! action without touching anything, and `update(&mut State, Action) -> Vec<Effect>` changes
//! the state and says what the loop must do (store requests, quitting, saving UI state). No
//! terminal and no store here, so behaviour is tested as plain functions (the module tests of
//! each screen, and `tests/tui_app.rs` against a real store).
//!
//! The shell keeps only the shared parts: the screen stack (`screen`, `history`), the overlay
//! and text field that have the keyboard, the global keys (quit, help, palette, refresh,
//! activity, compare, back), messages, the outstanding requests (`pending`, a set of
//! `RequestKind`s) and the routing of store answers and change notices to the screens. Each
//! screen's state, keys, update, answers and drawing live in its module under `screens/`.
//!
//! Adding a screen:
//! 1. write `screens/NAME.rs` (or `screens/NAME/mod.rs`) with its state type and a unit
//!    struct implementing `screens::ScreenBehaviour`: `section` (its keymap section; add its
//!    bindings to `keymap.toml` and `keymap::SECTIONS`), `header`, `hints`, `update` (its
//!    commands), `draw`, and where it needs them `handle_key`, `on_click`, `on_response` (the
//!    store answers it owns), `on_change` (what to ask again when the store changes),
//!    `on_failure`, `on_leave`, `on_return` and `targets`;
//! 2. register it with one line in the `screens!` registry in `screens/mod.rs`;
//! 3. keep its state in a field of `State` below, and open it with `State::go` from a
//!    global key, the palette or another screen.
//!
//! Overlays are registered the same way (`screens/overlays.rs`, trait `Layer`).
use super::editor::{edit_key, EditKey};
use super::keymap::{Cmd, Keymap};
use super::state_file::UiState;
use super::theme::Theme;
use super::worker::{Request, RequestKind, Response};
use crate::model::{Experiment, Millis};
use crossterm::event::{KeyEvent, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Rect;
use std::collections::BTreeSet;

// The screens' types, where tests, benchmarks and the drawing code have always found them.
pub use super::screens::activity::ActivityView;
pub use super::screens::charts::{ChartSettings, XMode, SMOOTHING_LEVELS};
pub use super::screens::checks::{ChecksFocus, ChecksView};
pub use super::screens::compare::CompareView;
pub use super::screens::confirm::Confirm;
pub use super::screens::input::{parse_tag_edit, InputKind, TagEdit};
pub use super::screens::jobs::{GpuPanel, JobLog, JobsView};
pub use super::screens::launch::LaunchForm;
pub use super::screens::models::{ModelsFocus, ModelsView};
pub use super::screens::overlays::Overlay;
pub use super::screens::palette::{palette_completions, PALETTE};
pub use super::screens::pipelines::PipelinesView;
pub use super::screens::run::{highlight_requests, RunTab, RunView};
pub use super::screens::runs::{
    auto_columns, half_typed_keyword, query_key, sort_field, MetricStat, RunsFocus, RunsView,
};
pub use super::screens::Screen;

/// Which text field, if any, has the keyboard (outside overlays).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextField {
    /// The runs table's filter bar.
    Filter,
    /// The run screen's Params search.
    ParamSearch,
    /// The run screen's Logs search.
    LogSearch,
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
    /// The Jobs screen's list: the job on each line of `list` (None: a group title).
    pub job_lines: Vec<Option<crate::model::JobId>>,
    /// The Checks screen's list: the check run on each line of `list` (None: a group title).
    pub check_lines: Vec<Option<crate::model::data::CheckRunId>>,
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
    pub field: Option<TextField>,
    /// The text the field held when it took the keyboard: Esc in the field puts it back.
    pub field_before: String,
    pub experiments: Vec<Experiment>,
    // One field per screen that keeps state between visits.
    pub runs: RunsView,
    pub run: Option<RunView>,
    pub compare: Option<CompareView>,
    pub activity: ActivityView,
    pub jobs: JobsView,
    pub checks: ChecksView,
    pub models: ModelsView,
    pub pipelines: PipelinesView,
    pub message: Option<Message>,
    /// Kinds of requests awaiting an answer (besides the runs page, which counts by seq).
    pub pending: BTreeSet<RequestKind>,
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
    /// Time passed with nothing else happening (only while a screen asks for ticks).
    Tick,
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
            field_before: String::new(),
            experiments: Vec::new(),
            runs: RunsView::default(),
            run: None,
            compare: None,
            activity: ActivityView::default(),
            jobs: JobsView::default(),
            checks: ChecksView::default(),
            models: ModelsView::default(),
            pipelines: PipelinesView::default(),
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
        self.screen.behaviour().section()
    }

    /// The initial requests.
    pub fn start(&mut self) -> Vec<Effect> {
        vec![
            Effect::Request(Request::Experiments),
            self.reload_runs(),
            Effect::Request(Request::Events { limit: 200 }),
            Effect::Request(super::screens::jobs::jobs_request()),
            Effect::Request(super::screens::checks::check_runs_request()),
        ]
    }

    /// A request whose answer the UI waits for (the spinner turns until it comes).
    pub(crate) fn request(&mut self, r: Request) -> Effect {
        self.pending.insert(r.kind());
        Effect::Request(r)
    }

    /// The runs a run-level command applies to (the marked ones, else the selected one).
    pub(crate) fn targets(&self) -> Vec<String> {
        self.screen.behaviour().targets(self)
    }

    /// Gives `field` the keyboard; Esc in it puts back `before`, the text it held.
    pub(crate) fn open_field(&mut self, field: TextField, before: String) {
        self.field = Some(field);
        self.field_before = before;
    }

    /// Opens `screen` over the current one (`back` returns).
    pub(crate) fn go(&mut self, screen: Screen) {
        if self.screen != screen {
            self.history.push(self.screen);
            self.screen = screen;
        }
    }
}

/// Keys → action. Overlays and text fields take typing first; everything else goes to the
/// current screen (through the keymap of its section).
pub fn handle_key(state: &State, key: KeyEvent) -> Option<Action> {
    if let Some(overlay) = &state.overlay {
        return overlay.layer().handle_key(state, key);
    }
    if state.field.is_some() {
        return edit_key(key, false).map(Action::Edit);
    }
    state.screen.behaviour().handle_key(state, key)
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

/// Whether cell (`x`, `y`) is inside `r`.
pub(crate) fn contains(r: Rect, x: u16, y: u16) -> bool {
    x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height
}

pub fn update(state: &mut State, action: Action) -> Vec<Effect> {
    match action {
        Action::Resize(w, h) => {
            state.size = (w, h);
            vec![]
        }
        Action::Store(resp) => on_response(state, resp),
        Action::Changed { store, file } => on_change(state, store, file),
        Action::Mouse(m) => state.screen.behaviour().on_click(state, m.column, m.row),
        Action::Tick => state.screen.behaviour().on_tick(state),
        action => {
            // An open overlay has the first say over commands, edits and answers.
            if let Some(layer) = state.overlay.as_ref().map(Overlay::layer) {
                if let Some(out) = layer.update(state, &action) {
                    return out;
                }
            }
            match action {
                Action::Cmd(cmd) => on_cmd(state, cmd),
                Action::Edit(key) => on_field_edit(state, key),
                // An answer with no question left closes whatever is open.
                _ => {
                    state.overlay = None;
                    vec![]
                }
            }
        }
    }
}

/// The store or the followed log changed: every screen asks again for what it shows.
fn on_change(state: &mut State, store: bool, file: bool) -> Vec<Effect> {
    let mut out = Vec::new();
    for screen in Screen::ALL {
        out.extend(screen.behaviour().on_change(state, store, file));
    }
    out
}

/// A store answer: the shell takes writes and failures; every other answer goes to the screen
/// that owns it.
fn on_response(state: &mut State, resp: Response) -> Vec<Effect> {
    if let Some(kind) = resp.kind() {
        state.pending.remove(&kind);
    }
    match resp {
        Response::Written(msg) => {
            state.info(format!("✓ {msg}"));
            // The watcher will notice too; asking now makes the change show at once.
            on_change(state, true, false)
        }
        Response::Error(e) => {
            state.pending.clear();
            for screen in Screen::ALL {
                screen.behaviour().on_failure(state);
            }
            state.error(e);
            vec![]
        }
        mut resp => {
            for screen in Screen::ALL {
                match screen.behaviour().on_response(state, resp) {
                    Ok(out) => return out,
                    Err(unclaimed) => resp = unclaimed,
                }
            }
            vec![]
        }
    }
}

/// A key while a text field has the keyboard, to the screen that owns the field.
fn on_field_edit(state: &mut State, key: EditKey) -> Vec<Effect> {
    use super::screens::{run, runs};
    match state.field {
        Some(TextField::Filter) => runs::filter::on_filter_edit(state, key),
        Some(TextField::ParamSearch) | Some(TextField::LogSearch) => {
            run::log::on_search_edit(state, key)
        }
        None => vec![],
    }
}

/// Commands: the global ones here, the rest to the current screen.
pub(crate) fn on_cmd(state: &mut State, cmd: Cmd) -> Vec<Effect> {
    use super::screens::{
        activity, checks, compare, help, jobs, launch, models, palette, pipelines,
    };
    match cmd {
        Cmd::Quit => {
            state.quit = true;
            vec![Effect::Quit]
        }
        Cmd::Help => {
            help::open(state);
            vec![]
        }
        Cmd::Palette => {
            palette::open(state);
            vec![]
        }
        Cmd::Refresh => on_change(state, true, true),
        Cmd::Activity => activity::open(state),
        Cmd::Jobs => jobs::open(state),
        Cmd::Checks => checks::open(state),
        Cmd::Models => models::open(state),
        Cmd::Pipelines => pipelines::open(state),
        Cmd::Rerun => launch::open_rerun(state),
        Cmd::Back if state.overlay.is_some() => {
            state.overlay = None;
            vec![]
        }
        Cmd::Back => {
            // Esc first undoes what the screen has applied (a filter, a search).
            if let Some(out) = state.screen.behaviour().on_back(state) {
                return out;
            }
            let last = state.history.is_empty();
            state.screen.behaviour().on_leave(state, last);
            if let Some(prev) = state.history.pop() {
                state.screen = prev;
                return prev.behaviour().on_return(state);
            }
            vec![Effect::SaveUiState]
        }
        Cmd::Compare => compare::open(state),
        _ => state.screen.behaviour().update(state, cmd),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::screens::test_support::{answer, press, requests, state, typed, with_runs};
    use crossterm::event::KeyCode;

    #[test]
    fn global_keys_open_help_and_palette_and_esc_closes_them() {
        let mut s = state();
        typed(&mut s, "?");
        assert!(matches!(s.overlay, Some(Overlay::Help { .. })));
        press(&mut s, KeyCode::Esc);
        assert!(s.overlay.is_none());
        typed(&mut s, ":");
        assert!(matches!(s.overlay, Some(Overlay::Palette { .. })));
        // Inside the palette `q` is text, not quit.
        typed(&mut s, "q");
        assert!(!s.quit);
        press(&mut s, KeyCode::Esc);
        assert_eq!(typed(&mut s, "q"), vec![Effect::Quit]);
        assert!(s.quit);
    }

    #[test]
    fn requests_are_outstanding_by_kind_until_answered_and_a_failure_clears_all() {
        let mut s = with_runs(3);
        assert!(!s.busy());
        let effects = press(&mut s, KeyCode::Enter);
        assert_eq!(s.screen, Screen::Run);
        assert!(matches!(requests(&effects)[..], [Request::Run { .. }]));
        assert_eq!(s.pending, BTreeSet::from([RequestKind::Run]));
        assert!(s.busy());
        answer(&mut s, Response::Events(vec![]));
        assert_eq!(
            s.pending,
            BTreeSet::from([RequestKind::Run]),
            "other kinds stay"
        );
        answer(&mut s, Response::Error("gone".into()));
        assert!(s.pending.is_empty());
        assert!(s.message.as_ref().is_some_and(|m| m.error));
    }

    #[test]
    fn back_walks_the_screen_stack_and_stops_following_the_log_off_the_run_screen() {
        let mut s = with_runs(3);
        press(&mut s, KeyCode::Enter);
        typed(&mut s, ":activity");
        press(&mut s, KeyCode::Enter);
        assert_eq!(s.screen, Screen::Activity);
        assert_eq!(s.history, vec![Screen::Runs, Screen::Run]);
        assert_eq!(
            press(&mut s, KeyCode::Esc),
            vec![],
            "back on the run: its log stays"
        );
        assert_eq!(s.screen, Screen::Run);
        assert_eq!(press(&mut s, KeyCode::Esc), vec![Effect::WatchFile(None)]);
        assert_eq!(s.screen, Screen::Runs);
        assert_eq!(press(&mut s, KeyCode::Esc), vec![Effect::SaveUiState]);
        assert_eq!(s.screen, Screen::Runs);
    }

    #[test]
    fn a_write_answer_says_so_and_asks_every_open_screen_again() {
        let mut s = with_runs(3);
        press(&mut s, KeyCode::Enter);
        let effects = answer(&mut s, Response::Written("starred r0".into()));
        assert_eq!(s.message.as_ref().unwrap().text, "✓ starred r0");
        let kinds: Vec<RequestKind> = requests(&effects).iter().map(|r| r.kind()).collect();
        for kind in [
            RequestKind::Experiments,
            RequestKind::Runs,
            RequestKind::Run,
            RequestKind::Events,
        ] {
            assert!(kinds.contains(&kind), "{kind:?} in {kinds:?}");
        }
    }
}
