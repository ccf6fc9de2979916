//! Terminal UI benchmarks over the 100,000-run, 10,000,000-point bench store (the one
//! `benches/query.rs` makes under `target/bench-stores/`, generated here too when missing):
//!
//! - one frame of the runs screen at 200x50 (target < 2 ms);
//! - start to the first full frame: open the store, query, draw (target < 150 ms);
//! - a keystroke in the filter bar to the redrawn table (target < 50 ms);
//! - resident memory with the store open and the table shown (target < 150 MB), measured in a
//!   fresh child process;
//! - the 1,000,000-point series: reduced in the store and drawn as a chart.
//!
//! `cargo bench --bench tui` (KIROKU_BENCH_RUNS / KIROKU_BENCH_POINTS for a smaller store).
mod common;

use common::{bench_store, env_u64, median};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kiroku::store::prelude::*;
use kiroku::store::SqliteStore;
use kiroku::tui::app::{handle_key, update, Action, Effect, State};
use kiroku::tui::keymap::Keymap;
use kiroku::tui::screens;
use kiroku::tui::state_file::UiState;
use kiroku::tui::theme::Theme;
use kiroku::tui::worker::{execute, settle, Request};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use std::time::Instant;

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn new_state(store: &dyn Store, w: u16, h: u16) -> State {
    let mut s = State::with_parts(
        store.describe(),
        "bench".into(),
        "host".into(),
        UiState::default(),
        Keymap::defaults(),
        Theme::fallback(),
        kiroku::model::now_ms(),
    );
    s.size = (w, h);
    s
}

fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn key(s: &mut State, store: &dyn Store, code: KeyCode) {
    if let Some(a) = handle_key(s, KeyEvent::new(code, KeyModifiers::NONE)) {
        let effects = update(s, a);
        settle(s, store, effects);
    }
}

/// A key, carried out until the table's page is in; the count requests it leads to are
/// returned instead of run.
fn key_until_table(s: &mut State, store: &dyn Store, code: KeyCode) -> Vec<Effect> {
    let mut deferred = Vec::new();
    let Some(a) = handle_key(s, KeyEvent::new(code, KeyModifiers::NONE)) else {
        return deferred;
    };
    let mut queue: std::collections::VecDeque<Effect> = update(s, a).into();
    while let Some(e) = queue.pop_front() {
        match e {
            Effect::Request(r @ Request::Count { .. }) => deferred.push(Effect::Request(r)),
            Effect::Request(r) => queue.extend(update(s, Action::Store(execute(store, r)))),
            _ => {}
        }
    }
    deferred
}

fn main() {
    let (store_dir, big_run) = bench_store();
    if std::env::var_os("KIROKU_BENCH_CHILD").is_some() {
        // Fresh process: open, load the table, draw, move around; then report RSS.
        let store = SqliteStore::open(&store_dir, false).unwrap();
        let mut s = new_state(&store, 200, 50);
        let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
        let effects = s.start();
        settle(&mut s, &store, effects);
        term.draw(|f| screens::draw(f, &mut s)).unwrap();
        for _ in 0..300 {
            key(&mut s, &store, KeyCode::PageDown);
            term.draw(|f| screens::draw(f, &mut s)).unwrap();
        }
        println!("{:.1}", rss_mb());
        return;
    }

    // Start to first full frame.
    let starts: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            let store = SqliteStore::open(&store_dir, false).unwrap();
            let mut s = new_state(&store, 200, 50);
            let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
            term.draw(|f| screens::draw(f, &mut s)).unwrap();
            let effects = s.start();
            settle(&mut s, &store, effects);
            term.draw(|f| screens::draw(f, &mut s)).unwrap();
            assert!(s.runs.total >= 100_000 || env_u64("KIROKU_BENCH_RUNS", 100_000) < 100_000);
            ms(t)
        })
        .collect();

    let store = SqliteStore::open(&store_dir, false).unwrap();
    let mut s = new_state(&store, 200, 50);
    let mut term = Terminal::new(TestBackend::new(200, 50)).unwrap();
    term.draw(|f| screens::draw(f, &mut s)).unwrap();
    let effects = s.start();
    settle(&mut s, &store, effects);

    // Frames of the runs screen.
    let frames: Vec<f64> = (0..300)
        .map(|i| {
            if i % 3 == 0 {
                key(&mut s, &store, KeyCode::Char('j'));
            }
            let t = Instant::now();
            term.draw(|f| screens::draw(f, &mut s)).unwrap();
            ms(t)
        })
        .collect();

    // Keystrokes in the filter bar, each to a redrawn table.
    key(&mut s, &store, KeyCode::Char('/'));
    let mut strokes = Vec::new();
    let mut counts = Vec::new();
    for c in "metrics.acc > 0.5 and params.lr < 0.01".chars() {
        // The table is updated when the page is in and drawn; the exact count (a separate
        // request, drawn as "N+" until then) is timed apart.
        let t = Instant::now();
        let deferred = key_until_table(&mut s, &store, KeyCode::Char(c));
        term.draw(|f| screens::draw(f, &mut s)).unwrap();
        strokes.push((c, ms(t)));
        if !deferred.is_empty() {
            let t = Instant::now();
            settle(&mut s, &store, deferred);
            term.draw(|f| screens::draw(f, &mut s)).unwrap();
            counts.push(ms(t));
        }
    }
    let matched = s.runs.total;
    let all_runs = {
        let p = store
            .search_runs(&kiroku::model::RunQuery {
                limit: Some(1),
                ..Default::default()
            })
            .unwrap();
        p.total
    };
    key(&mut s, &store, KeyCode::Esc);
    // Sorting by a metric column from the keyboard, too.
    let t = Instant::now();
    s.runs.col_cursor = s
        .columns()
        .iter()
        .position(|c| c.spec() == "metrics.acc")
        .unwrap_or(0);
    key(&mut s, &store, KeyCode::Char('s'));
    term.draw(|f| screens::draw(f, &mut s)).unwrap();
    let sort_ms = ms(t);
    let t = Instant::now();
    key(&mut s, &store, KeyCode::Char('G'));
    term.draw(|f| screens::draw(f, &mut s)).unwrap();
    let jump_end_ms = ms(t);

    // The 1,000,000-point series in the Metrics tab.
    let mut big = new_state(&store, 200, 50);
    let t = Instant::now();
    let effects = big.open_run(big_run.clone());
    settle(&mut big, &store, effects);
    key(&mut big, &store, KeyCode::Tab);
    key(&mut big, &store, KeyCode::Tab);
    term.draw(|f| screens::draw(f, &mut big)).unwrap();
    let big_ms = ms(t);
    let big_frames: Vec<f64> = (0..50)
        .map(|_| {
            let t = Instant::now();
            term.draw(|f| screens::draw(f, &mut big)).unwrap();
            ms(t)
        })
        .collect();

    let rss = std::process::Command::new(std::env::current_exe().unwrap())
        .env("KIROKU_BENCH_CHILD", "1")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().lines().last().map(str::to_string))
        .unwrap_or_else(|| "?".into());

    let query_strokes: Vec<f64> = strokes.iter().map(|(_, t)| *t).collect();
    let worst = strokes
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, t)| format!("{t:.1} ms at '{c}'"))
        .unwrap_or_default();
    println!("store: {all_runs} runs ({})", store_dir.display());
    println!(
        "  per keystroke (ms): {}",
        strokes
            .iter()
            .map(|(c, t)| format!("{c}:{t:.0}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "  runs screen frame at 200x50 (median of 300)        {:>8.3} ms  (target < 2 ms)",
        median(frames)
    );
    println!(
        "  start to first full frame (open, query, draw)      {:>8.1} ms  (target < 150 ms)",
        median(starts)
    );
    println!(
        "  filter keystroke to redrawn table: median {:.1} ms, worst {worst}  (target < 50 ms; {matched} runs match the full filter)",
        median(query_strokes)
    );
    if !counts.is_empty() {
        println!(
            "  …then the exact count of matches, redrawn: median {:.1} ms (the table already shows N+)",
            median(counts)
        );
    }
    println!("  sort by metrics.acc from the keyboard, with count   {sort_ms:>8.1} ms");
    println!("  jump to the last of 100,000 rows (G), redrawn       {jump_end_ms:>8.1} ms");
    println!(
        "  resident memory, table open and paged 300 times     {rss:>8} MB  (target < 150 MB)"
    );
    println!("  1,000,000-point series: open run, reduce, draw      {big_ms:>8.1} ms");
    println!(
        "  1,000,000-point series: a redraw (median of 50)     {:>8.3} ms",
        median(big_frames)
    );
}
