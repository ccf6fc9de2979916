//! The screens, their registry, and the frame they share.
//!
//! A screen is a module that owns its state type, its keys → action, its update, its answers
//! from the store and its drawing, and implements [`ScreenBehaviour`] on a unit struct. The
//! registry below (`screens!`) gives each one a variant of [`Screen`] and is the only place
//! the shell learns of it: adding a screen is adding its module and one line there (plus a
//! field of `State` for what it keeps between visits). Overlays (help, palette, confirm, the
//! tag and note editors, the column chooser) do the same with `overlays::Layer`.
//!
//! Why a trait on unit structs over an enum of per-module functions: the trait is the written
//! contract of what a screen implements (the compiler checks a new one has it all), and the
//! dispatch stays one `match` the macro writes. Why not boxed components that own their state
//! (gitui, helix's compositor): screens act on each other (activity opens a run, a store
//! change refreshes every open screen, compare reads the runs table's marks) and tests read
//! each screen's state as a plain field (`state.run`, `state.compare`); the methods therefore
//! take the whole `State`, keeping the pure `handle_key(&State, KeyEvent) -> Option<Action>` and
//! `update(&mut State, Action) -> Vec<Effect>` shape the app had.
//!
//! The frame (header, body, key hints and message footer) is drawn here; the overlays last.
//! Drawing reads the state and records where clickable things landed (`HitAreas`).
pub mod activity;
pub mod charts;
pub mod checks;
pub mod compare;
pub mod confirm;
pub mod help;
pub mod input;
pub mod jobs;
pub mod launch;
pub mod models;
pub mod overlays;
pub mod palette;
pub mod pipelines;
pub mod run;
pub mod runs;
pub mod writes;

use super::app::{Action, Effect, State};
use super::keymap::Cmd;
use super::worker::Response;
use crate::model::RunStatus;
use crossterm::event::KeyEvent;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// What every screen implements. Each method takes the whole `State`; a screen changes its
/// own part of it (and the shared parts: messages, overlays, requests).
pub trait ScreenBehaviour: Sync {
    /// Its section of the keymap (`[runs]` in `keymap.toml`).
    fn section(&self) -> &'static str;
    /// Where you are, for the header (`exp all · 6 runs`).
    fn header(&self, state: &State) -> String;
    /// The footer's key hints, in order of importance.
    fn hints(&self) -> &'static [(Cmd, &'static str)];
    /// The hints for what is shown now (a screen with tabs: the current tab's keys).
    fn current_hints(&self, _state: &State) -> &'static [(Cmd, &'static str)] {
        self.hints()
    }
    /// Keys → action when no overlay or text field has the keyboard.
    fn handle_key(&self, state: &State, key: KeyEvent) -> Option<Action> {
        state.keymap.lookup(self.section(), &key).map(Action::Cmd)
    }
    /// A command the shell's global keys left to the screen.
    fn update(&self, state: &mut State, cmd: Cmd) -> Vec<Effect>;
    /// A left click at a cell (the areas are those of the last frame).
    fn on_click(&self, _state: &mut State, _x: u16, _y: u16) -> Vec<Effect> {
        vec![]
    }
    /// A store answer: the screen keeps what is its own and gives the rest back. Every screen
    /// is asked, open or not (an answer may land after you left).
    // The answer is handed on by value (moved, never copied) to the next screen; boxing it
    // would cost an allocation per answer for nothing.
    #[allow(clippy::result_large_err)]
    fn on_response(&self, _state: &mut State, resp: Response) -> Result<Vec<Effect>, Response> {
        Err(resp)
    }
    /// The store (`store`) or the followed log (`file`) changed: what to ask for again.
    fn on_change(&self, _state: &mut State, _store: bool, _file: bool) -> Vec<Effect> {
        vec![]
    }
    /// A request failed: stop waiting for what this screen tracks itself.
    fn on_failure(&self, _state: &mut State) {}
    /// `back` on this screen, before it leaves: a screen that has something to undo first (an
    /// applied filter or search) does it and returns its effects; None leaves the screen.
    fn on_back(&self, _state: &mut State) -> Option<Vec<Effect>> {
        None
    }
    /// `back` on this screen; `last` when there is no screen to go back to.
    fn on_leave(&self, _state: &mut State, _last: bool) {}
    /// Coming back to this screen with `back`: by default no log is followed any more.
    fn on_return(&self, _state: &mut State) -> Vec<Effect> {
        vec![Effect::WatchFile(None)]
    }
    /// How often this screen wants `on_tick` while it is shown (None: never).
    fn tick_every(&self, _state: &State) -> Option<std::time::Duration> {
        None
    }
    /// Time passed while this screen is shown (see `tick_every`).
    fn on_tick(&self, _state: &mut State) -> Vec<Effect> {
        vec![]
    }
    /// The runs that run-level commands (star, tag, note, delete) apply to here.
    fn targets(&self, _state: &State) -> Vec<String> {
        vec![]
    }
    fn draw(&self, frame: &mut Frame, area: Rect, state: &mut State);
}

/// Declares `Screen`, one variant per registered screen, and its dispatch to the screen's
/// `ScreenBehaviour`.
macro_rules! screens {
    ($($(#[$doc:meta])* $variant:ident => $behaviour:path,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Screen {
            $($(#[$doc])* $variant,)*
        }

        impl Screen {
            /// Every screen, in registration order.
            pub const ALL: &'static [Screen] = &[$(Screen::$variant,)*];

            pub fn behaviour(self) -> &'static dyn ScreenBehaviour {
                match self {
                    $(Screen::$variant => &$behaviour,)*
                }
            }
        }
    };
}

// The registry: one line per screen.
screens! {
    /// The runs table with the experiments beside it (the first screen).
    Runs => runs::RunsScreen,
    /// One run, in tabs.
    Run => run::RunScreen,
    /// Two to twenty marked runs side by side.
    Compare => compare::CompareScreen,
    /// What happened in the store, newest first.
    Activity => activity::ActivityScreen,
    /// The job queue, this box's GPUs and the selected job's output.
    Jobs => jobs::JobsScreen,
    /// Check runs waiting for review, then history per dataset; the selected run's results.
    Checks => checks::ChecksScreen,
    /// Registered models: versions, evaluations, gates, approvals, alias history, hooks.
    Models => models::ModelsScreen,
    /// The pipeline's stages as a tree with their status; the selected stage's details.
    Pipelines => pipelines::PipelinesScreen,
}

/// Moves a list cursor by a motion command (`page`: rows per page).
pub fn move_cursor(pos: usize, len: usize, cmd: Cmd, page: usize) -> usize {
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

/// The lines of a list shown in groups (the Jobs and Checks screens): a title line (`None`)
/// before each run of rows of one group, then the rows (`Some(index)`); and the first line to
/// show so that the cursor's row is within `height` lines.
pub fn grouped_lines<G: PartialEq>(
    groups: &[G],
    cursor: usize,
    height: usize,
) -> (Vec<Option<usize>>, usize) {
    let mut items: Vec<Option<usize>> = Vec::new();
    let mut group: Option<&G> = None;
    for (i, g) in groups.iter().enumerate() {
        if group != Some(g) {
            items.push(None);
            group = Some(g);
        }
        items.push(Some(i));
    }
    let cursor_line = items.iter().position(|x| *x == Some(cursor)).unwrap_or(0);
    let first = (cursor_line + 1).saturating_sub(height);
    (items, first)
}

pub fn is_motion(cmd: Cmd) -> bool {
    matches!(
        cmd,
        Cmd::Down | Cmd::Up | Cmd::Top | Cmd::Bottom | Cmd::PageDown | Cmd::PageUp
    )
}

const SPINNER: [char; 8] = ['⣾', '⣽', '⣻', '⢿', '⡿', '⣟', '⣯', '⣷'];

/// How long a message stays in the footer (ms).
pub const MESSAGE_MS: i64 = 6000;

/// A status as a glyph (or text for mono themes) with its role.
pub fn status_glyph(status: RunStatus, text: bool) -> (&'static str, &'static str) {
    let role = match status {
        RunStatus::Finished => "status.finished",
        RunStatus::Running => "status.running",
        RunStatus::Failed => "status.failed",
        RunStatus::Killed => "status.killed",
        RunStatus::Lost => "status.lost",
        RunStatus::Queued => "status.queued",
    };
    let glyph = match (status, text) {
        (RunStatus::Finished, false) => "✔",
        (RunStatus::Running, false) => "●",
        (RunStatus::Failed, false) => "✘",
        (RunStatus::Killed, false) => "⊘",
        (RunStatus::Lost, false) => "?",
        (RunStatus::Queued, false) => "◌",
        (RunStatus::Finished, true) => "ok",
        (RunStatus::Running, true) => "run",
        (RunStatus::Failed, true) => "FAIL",
        (RunStatus::Killed, true) => "kill",
        (RunStatus::Lost, true) => "lost",
        (RunStatus::Queued, true) => "wait",
    };
    (glyph, role)
}

/// Draws the whole UI.
pub fn draw(frame: &mut Frame, state: &mut State) {
    let area = frame.area();
    state.size = (area.width, area.height);
    state.areas = Default::default();
    let [header, body, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(frame, header, state);
    state.screen.behaviour().draw(frame, body, state);
    draw_footer(frame, footer, state);
    overlays::draw(frame, area, state);
    paint_background(frame, state);
}

/// A theme with a `background` role (the light one) paints it wherever nothing else set a
/// colour, overlays included: on a dark terminal its dark text and light selection would
/// otherwise sit on the terminal's own dark background.
fn paint_background(frame: &mut Frame, state: &State) {
    let bg = state.theme.style("background");
    if bg == Style::default() {
        return;
    }
    let area = frame.area();
    let buf = frame.buffer_mut();
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            let cell = &mut buf[(x, y)];
            if let (ratatui::style::Color::Reset, Some(c)) = (cell.bg, bg.bg) {
                cell.set_bg(c);
            }
            if let (ratatui::style::Color::Reset, Some(c)) = (cell.fg, bg.fg) {
                cell.set_fg(c);
            }
        }
    }
}

fn draw_header(frame: &mut Frame, area: Rect, state: &State) {
    let style = state.theme.style("header");
    let where_ = state.screen.behaviour().header(state);
    let left = format!(" kiroku · {} · {where_}", state.store_name);
    let spin = if state.busy() {
        format!("{} ", SPINNER[(state.tick % 8) as usize])
    } else {
        String::new()
    };
    let running = if state.running > 0 {
        format!(" · {} running", state.running)
    } else {
        String::new()
    };
    let w = area.width as usize;
    let lw = crate::present::display_width(&left);
    // The longest right-hand part that fits: who and where, live, what runs, help.
    let candidates = [
        format!(
            "{spin}{}@{} · ● live{running} · ? help ",
            state.user, state.host
        ),
        format!("{spin}● live{running} · ? help "),
        format!("{spin}● live "),
    ];
    let right = candidates
        .iter()
        .find(|r| lw + crate::present::display_width(r) + 2 <= w)
        .cloned();
    let text = match right {
        Some(r) => {
            let rw = crate::present::display_width(&r);
            format!("{left}{}{r}", " ".repeat(w - lw - rw))
        }
        None => crate::present::truncate(&left, w),
    };
    frame.render_widget(Paragraph::new(Line::styled(text, style)).style(style), area);
}

/// The keys the footer always shows, last: however narrow the terminal, `?` and `q` stay.
const ALWAYS_SHOWN: [(Cmd, &str); 2] = [(Cmd::Help, "help"), (Cmd::Quit, "quit")];

/// The footer's key hints for the current screen (its current tab), from the keymap; help
/// and quit come last (see `ALWAYS_SHOWN`).
pub fn hints(state: &State) -> Vec<(String, &'static str)> {
    let cmds = state.screen.behaviour().current_hints(state);
    let section = state.section();
    cmds.iter()
        .filter(|(c, _)| !ALWAYS_SHOWN.iter().any(|(a, _)| a == c))
        .chain(ALWAYS_SHOWN.iter())
        .filter_map(|(c, label)| {
            let mut key = state.keymap.key_for(section, *c)?;
            if *c == Cmd::Compare && !state.runs.marked.is_empty() {
                key = format!("{key}({})", state.runs.marked.len());
            }
            Some((key, *label))
        })
        .collect()
}

fn draw_footer(frame: &mut Frame, area: Rect, state: &State) {
    let key_style = state.theme.style("footer.key");
    let text_style = state.theme.style("footer.text");
    let msg = state
        .message
        .as_ref()
        .filter(|m| m.error || state.now - m.at < MESSAGE_MS);
    let all = hints(state);
    let width = |(key, label): &(String, &str)| key.chars().count() + label.chars().count() + 3;
    // The last hints (help, quit) always fit; the others while there is room.
    let (rest, last) = all.split_at(all.len().saturating_sub(ALWAYS_SHOWN.len()));
    let last_w: usize = last.iter().map(width).sum();
    let msg_w = msg
        .map(|m| crate::present::display_width(&m.text) + 2)
        .unwrap_or(0)
        .min(area.width as usize / 2 + 10)
        .min((area.width as usize).saturating_sub(1 + last_w));
    let mut spans = vec![Span::raw(" ")];
    let mut used = 1 + last_w;
    let mut shown: Vec<&(String, &str)> = Vec::new();
    for h in rest {
        let w = width(h);
        if used + w + msg_w > area.width as usize {
            break;
        }
        shown.push(h);
        used += w;
    }
    for (key, label) in shown.into_iter().chain(last) {
        spans.push(Span::styled(key.clone(), key_style));
        spans.push(Span::styled(format!(" {label}  "), text_style));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
    if let Some(m) = msg {
        let role = if m.error {
            "message.error"
        } else {
            "message.info"
        };
        let text = crate::present::truncate(&m.text, msg_w.saturating_sub(1));
        let w = crate::present::display_width(&text) as u16 + 1;
        let r = Rect {
            x: area.x + area.width.saturating_sub(w),
            y: area.y,
            width: w.min(area.width),
            height: 1,
        };
        frame.render_widget(
            Paragraph::new(Span::styled(text, state.theme.style(role))),
            r,
        );
    }
}

/// A block with the theme's border, focused or not.
pub fn block<'a>(
    state: &State,
    title: impl Into<Line<'a>>,
    focused: bool,
) -> ratatui::widgets::Block<'a> {
    ratatui::widgets::Block::bordered()
        .border_style(
            state
                .theme
                .style(if focused { "border.focus" } else { "border" }),
        )
        .title(title)
}

/// Pads or cuts `s` to exactly `w` cells (right-aligned when `right`).
pub fn fit(s: &str, w: usize, right: bool) -> String {
    let t = crate::present::truncate(s, w);
    let pad = w.saturating_sub(crate::present::display_width(&t));
    if right {
        format!("{}{t}", " ".repeat(pad))
    } else {
        format!("{t}{}", " ".repeat(pad))
    }
}

/// A `key  value` line.
pub fn kv<'a>(state: &State, key: &str, value: impl Into<String>, width: usize) -> Line<'a> {
    Line::from(vec![
        Span::styled(fit(key, width, false), state.theme.style("text.dim")),
        Span::styled(value.into(), Style::default()),
    ])
}

/// A store-free harness for the screens' unit tests: a state with the default keymap and a
/// fixed clock, keys played through `handle_key` and `update`, and store answers made by hand.
#[cfg(test)]
pub(crate) mod test_support {
    use crate::model::{
        Event, MetricSummary, Run, RunDetail, RunPage, RunQuery, RunSource, RunStatus,
    };
    use crate::tui::app::{handle_key, update, Action, Effect, State};
    use crate::tui::keymap::Keymap;
    use crate::tui::state_file::UiState;
    use crate::tui::theme::Theme;
    use crate::tui::worker::{Request, Response};
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

    pub const NOW: i64 = 1_000_000_000_000;

    pub fn state() -> State {
        State::with_parts(
            "proj/.kiroku".into(),
            "alice".into(),
            "gpu01".into(),
            UiState::default(),
            Keymap::defaults(),
            Theme::fallback(),
            NOW,
        )
    }

    /// One key, carried out; the effects are returned, not run.
    pub fn press(s: &mut State, code: KeyCode) -> Vec<Effect> {
        press_mod(s, code, KeyModifiers::NONE)
    }

    pub fn press_mod(s: &mut State, code: KeyCode, m: KeyModifiers) -> Vec<Effect> {
        match handle_key(s, KeyEvent::new(code, m)) {
            Some(a) => update(s, a),
            None => vec![],
        }
    }

    /// Keys typed as characters; the effects of the last one.
    pub fn typed(s: &mut State, text: &str) -> Vec<Effect> {
        let mut out = vec![];
        for c in text.chars() {
            out = press(s, KeyCode::Char(c));
        }
        out
    }

    pub fn answer(s: &mut State, resp: Response) -> Vec<Effect> {
        update(s, Action::Store(resp))
    }

    pub fn requests(effects: &[Effect]) -> Vec<&Request> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Request(r) => Some(r),
                _ => None,
            })
            .collect()
    }

    pub fn run(id: &str, name: &str) -> Run {
        Run {
            id: id.into(),
            name: name.into(),
            experiment: "exp".into(),
            experiment_id: 1,
            status: RunStatus::Finished,
            exit_code: Some(0),
            user: "alice".into(),
            host: None,
            start_time: NOW - 60_000,
            end_time: Some(NOW),
            parent_id: None,
            deleted: false,
            params: Default::default(),
            metrics: Default::default(),
            tags: Default::default(),
            stars: vec![],
        }
    }

    /// A run with the metrics `keys` (each last 1.0), as the store answers for one run.
    pub fn detail(id: &str, keys: &[&str]) -> RunDetail {
        let mut r = run(id, id);
        for k in keys {
            r.metrics.insert(
                k.to_string(),
                MetricSummary {
                    last: 1.0,
                    min: None,
                    max: None,
                    count: 1,
                    step: 1,
                    timestamp: 0,
                },
            );
        }
        RunDetail {
            run: r,
            source: RunSource::default(),
            environment: Default::default(),
            notes: vec![],
            inputs: vec![],
            artifacts: vec![],
            children: vec![],
            run_dir: None,
        }
    }

    pub fn event(id: i64, run_id: Option<&str>) -> Event {
        Event {
            id,
            time: NOW,
            kind: "run.started".into(),
            user: "bob".into(),
            run_id: run_id.map(str::to_string),
            run_name: None,
            experiment: None,
            detail: None,
        }
    }

    /// A state whose runs table holds `n` runs (`r0`, `r1`, …), as the store would answer.
    pub fn with_runs(n: usize) -> State {
        let mut s = state();
        let effects = s.start();
        let query = requests(&effects)
            .into_iter()
            .find_map(|r| match r {
                Request::Runs { query, .. } => Some(query.clone()),
                _ => None,
            })
            .expect("a page is asked for");
        let runs: Vec<Run> = (0..n)
            .map(|i| run(&format!("r{i}"), &format!("run-{i}")))
            .collect();
        answer(
            &mut s,
            Response::Runs {
                seq: 1,
                query: RunQuery { ..query },
                page: RunPage {
                    total: n as u64,
                    runs,
                },
            },
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::with_runs;
    use crate::tui::theme::Theme;
    use ratatui::style::Color;

    #[test]
    fn the_light_theme_paints_its_background_so_it_reads_on_a_dark_terminal() {
        let mut s = with_runs(3);
        s.theme = Theme::builtin("light").unwrap();
        let backend = ratatui::backend::TestBackend::new(100, 20);
        let mut terminal = ratatui::Terminal::new(backend).unwrap();
        terminal.draw(|f| super::draw(f, &mut s)).unwrap();
        let buf = terminal.backend().buffer();
        let unpainted = buf
            .content()
            .iter()
            .filter(|c| c.bg == Color::Reset)
            .count();
        assert_eq!(unpainted, 0, "every cell has a background");
        // The selected row keeps its own (light) colour, with dark text.
        let at = (0..20)
            .flat_map(|y| (0..99).map(move |x| (x, y)))
            .find(|&(x, y)| buf[(x, y)].symbol() == "r" && buf[(x + 1, y)].symbol() == "0")
            .unwrap();
        let cell = &buf[at];
        assert_eq!(
            (cell.fg, cell.bg),
            (Color::Black, Color::Rgb(0xdd, 0xe6, 0xf5))
        );
    }
}
