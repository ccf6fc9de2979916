//! The terminal UI (`kiroku` on a terminal, or `kiroku ui`): runs, one run, compare, activity,
//! jobs (with GPUs and a launch form), help and a command palette over any `Store`, local or
//! remote.
//!
//! Shape (after gitui, helix and atuin): `app` is the shell (the shared state, the pure
//! key → action → state routing, global keys, messages, outstanding requests); `screens` holds
//! one module per screen and overlay, each owning its state, keys, update, store answers and
//! drawing, registered in one list; `event_loop` owns the terminal and the one event channel;
//! `worker` runs store calls off the UI thread (newest request wins) and watches for changes;
//! `widgets` are the reusable pieces (charts, ANSI text); `keymap` and `theme` are data
//! (embedded TOML, user files over them); `state_file` keeps per-user UI state between
//! sessions.
pub mod app;
pub mod artifact_tree;
pub mod editor;
pub mod event_loop;
pub mod keymap;
pub mod screens;
pub mod state_file;
pub mod theme;
pub mod widgets;
pub mod worker;

use crate::store::Store;
use std::sync::Arc;

/// Opens the UI over `store` and returns when the user quits. `store_dir`, the folder of a
/// local store, is watched for changes (remote stores are polled). `jobs` (the targets and the
/// store's location) is what launching jobs from the UI needs.
pub fn open(
    store: Arc<dyn Store>,
    store_dir: Option<std::path::PathBuf>,
    user: &str,
    jobs: worker::JobsContext,
) -> std::io::Result<()> {
    let host = crate::wrap::source::host_name().unwrap_or_else(|| "localhost".into());
    let mut state = app::State::new(
        store.describe(),
        user.to_string(),
        host,
        state_file::UiState::load(),
        crate::model::now_ms(),
    );
    state.jobs.context = jobs;
    event_loop::run(store, store_dir, state)
}

/// Draws the current state into a `width`×`height` text grid (tests and benchmarks).
pub fn render_to_string(state: &mut app::State, width: u16, height: u16) -> String {
    let backend = ratatui::backend::TestBackend::new(width, height);
    let mut terminal = ratatui::Terminal::new(backend).expect("the test backend cannot fail");
    terminal
        .draw(|f| screens::draw(f, state))
        .expect("the test backend cannot fail");
    let buf = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..height {
        let mut line = String::new();
        for x in 0..width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
