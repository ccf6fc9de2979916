//! The terminal and the loop. Setup enters raw mode, the alternate screen and mouse capture;
//! a guard and a panic hook restore the terminal on every way out. One channel carries every
//! event (input, store answers, change notices); the loop blocks on it, applies everything
//! queued, and draws only when something changed, so an idle UI sleeps. Ticks happen only
//! while something animates (the spinner, a fading message, a running run's clock) or the
//! screen asks for them (`ScreenBehaviour::tick_every`: the Jobs screen's clocks and GPUs).
use super::app::{self, Action, Effect, State};
use super::worker::{self, Request, Response, WatchedFile};
use crate::model::now_ms;
use crate::store::Store;
use crossterm::event::{DisableMouseCapture, EnableMouseCapture, Event as TermEvent, KeyEventKind};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use std::io::Stdout;
use std::path::PathBuf;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub enum LoopEvent {
    Input(TermEvent),
    Store(Response),
    Changed { store: bool, file: bool },
}

fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(
        std::io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

/// Restores the terminal when dropped (normal exit, `?` errors).
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

fn setup() -> std::io::Result<(Terminal<CrosstermBackend<Stdout>>, TerminalGuard)> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        previous(info);
    }));
    enable_raw_mode()?;
    let guard = TerminalGuard;
    execute!(std::io::stdout(), EnterAlternateScreen, EnableMouseCapture)?;
    let terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
    Ok((terminal, guard))
}

/// Runs the UI until the user quits.
/// `store_dir` is the local store's folder (watched for changes), None for a remote store.
pub fn run(
    store: Arc<dyn Store>,
    store_dir: Option<PathBuf>,
    mut state: State,
) -> std::io::Result<()> {
    // Developer trigger for the terminal-restoring panic hook (tests/tui_e2e.rs): with
    // `KIROKU_DEV_PANIC=after-first-frame` the UI panics right after drawing its first frame.
    // Read once, here; no other value, key or state can set it off.
    let dev_panic = std::env::var("KIROKU_DEV_PANIC").is_ok_and(|v| v == "after-first-frame");
    let (mut terminal, _guard) = setup()?;
    let (tx, rx) = mpsc::channel::<LoopEvent>();
    let (req_tx, req_rx) = mpsc::channel::<Request>();
    {
        let tx = tx.clone();
        worker::spawn(Arc::clone(&store), req_rx, move |r| {
            let _ = tx.send(LoopEvent::Store(r));
        });
    }
    let watched: WatchedFile = Arc::new(Mutex::new(None));
    {
        let tx = tx.clone();
        worker::spawn_watcher(
            Arc::clone(&store),
            store_dir,
            Arc::clone(&watched),
            move |store, file| tx.send(LoopEvent::Changed { store, file }).is_ok(),
        );
    }
    spawn_input(tx.clone());

    let size = terminal.size()?;
    state.size = (size.width, size.height);
    state.now = now_ms();
    let effects = state.start();
    // The first frame goes out before the first answer arrives.
    terminal.draw(|f| super::screens::draw(f, &mut state))?;
    if dev_panic {
        panic!("KIROKU_DEV_PANIC=after-first-frame: a deliberate panic (terminal restore test)");
    }
    if run_effects(&mut state, effects, &req_tx, &watched) {
        return Ok(());
    }
    let mut last_draw = Instant::now();
    loop {
        let timeout = next_tick(&state);
        let first = match timeout {
            Some(t) => match rx.recv_timeout(t) {
                Ok(e) => Some(e),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            },
            None => match rx.recv() {
                Ok(e) => Some(e),
                Err(_) => break,
            },
        };
        let mut dirty = first.is_none(); // a tick redraws
        let ticked = first.is_none();
        let mut events: Vec<LoopEvent> = first.into_iter().collect();
        events.extend(rx.try_iter());
        state.now = now_ms();
        if ticked {
            let effects = app::update(&mut state, Action::Tick);
            if run_effects(&mut state, effects, &req_tx, &watched) {
                return Ok(());
            }
        }
        for ev in events {
            let Some(action) = to_action(&state, ev) else {
                continue;
            };
            dirty = true;
            let effects = app::update(&mut state, action);
            if run_effects(&mut state, effects, &req_tx, &watched) {
                return Ok(());
            }
        }
        if dirty {
            // At most one frame per ~16 ms; what arrives meanwhile is drawn with the next.
            let since = last_draw.elapsed();
            if since < Duration::from_millis(16) {
                std::thread::sleep(Duration::from_millis(16) - since);
                for ev in rx.try_iter() {
                    if let Some(action) = to_action(&state, ev) {
                        let effects = app::update(&mut state, action);
                        if run_effects(&mut state, effects, &req_tx, &watched) {
                            return Ok(());
                        }
                    }
                }
            }
            if state.overlay.is_none() {
                state.tick = state.tick.wrapping_add(1);
            }
            terminal.draw(|f| super::screens::draw(f, &mut state))?;
            last_draw = Instant::now();
        }
    }
    Ok(())
}

fn to_action(state: &State, ev: LoopEvent) -> Option<Action> {
    match ev {
        LoopEvent::Input(TermEvent::Key(k)) if k.kind != KeyEventKind::Release => {
            app::handle_key(state, k)
        }
        LoopEvent::Input(TermEvent::Mouse(m)) => app::handle_mouse(state, m),
        LoopEvent::Input(TermEvent::Resize(w, h)) => Some(Action::Resize(w, h)),
        LoopEvent::Input(_) => None,
        LoopEvent::Store(r) => Some(Action::Store(r)),
        LoopEvent::Changed { store, file } => Some(Action::Changed { store, file }),
    }
}

/// When the loop must wake without an event: spinner frames while waiting on the store, the
/// moment a message fades, a running run's clock. `None`: sleep until something happens.
fn next_tick(state: &State) -> Option<Duration> {
    if state.busy() {
        return Some(Duration::from_millis(100));
    }
    let mut t: Option<Duration> = None;
    if let Some(m) = state.message.as_ref().filter(|m| !m.error) {
        let left = super::screens::MESSAGE_MS - (now_ms() - m.at);
        if left > 0 {
            t = Some(Duration::from_millis(left as u64 + 10));
        }
    }
    if state.running > 0 {
        t = Some(t.map_or(Duration::from_secs(1), |t| t.min(Duration::from_secs(1))));
    }
    if let Some(every) = state.screen.behaviour().tick_every(state) {
        t = Some(t.map_or(every, |t| t.min(every)));
    }
    t
}

/// Carries out effects; returns true to quit.
fn run_effects(
    state: &mut State,
    effects: Vec<Effect>,
    req_tx: &Sender<Request>,
    watched: &WatchedFile,
) -> bool {
    for e in effects {
        match e {
            Effect::Request(r) => {
                if req_tx.send(r).is_err() {
                    state.error("the store thread stopped; restart kiroku");
                }
            }
            Effect::WatchFile(p) => {
                if let Ok(mut g) = watched.lock() {
                    *g = p.map(PathBuf::from);
                }
            }
            Effect::SaveUiState => {
                if let Err(e) = state.ui.save_for_store(&state.store_name) {
                    state.error(format!("saving UI state: {e}"));
                }
            }
            Effect::Quit => {
                let _ = state.ui.save_for_store(&state.store_name);
                return true;
            }
        }
    }
    false
}

fn spawn_input(tx: Sender<LoopEvent>) {
    std::thread::Builder::new()
        .name("kiroku-input".into())
        .spawn(move || loop {
            match crossterm::event::read() {
                Ok(ev) => {
                    if tx.send(LoopEvent::Input(ev)).is_err() {
                        return;
                    }
                }
                Err(_) => return,
            }
        })
        .expect("spawning the input thread");
}
