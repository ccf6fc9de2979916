//! Every screen drawn into a `TestBackend` at 80x24 and 160x48 over the fixed store, compared
//! with the snapshots in `tests/snapshots/` (insta; `cargo insta review` or
//! `INSTA_UPDATE=always cargo test --test tui_snapshots` after an intended change).
#[path = "common/tui_fixture.rs"]
mod tui_fixture;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kiroku::tui::app::{handle_key, update, State};
use kiroku::tui::render_to_string;
use kiroku::tui::worker::settle;
use tui_fixture::{fixture, state, Fixture};

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

/// Starts the UI at a size and plays keys (`<tab>`, `<enter>`, `<esc>`, `<c-s>` or chars).
fn screen(f: &Fixture, w: u16, h: u16, keys: &[&str]) -> String {
    let mut s: State = state(w, h);
    // One frame first, so paging knows how many rows fit (as in the real loop).
    render_to_string(&mut s, w, h);
    let effects = s.start();
    settle(&mut s, &f.store, effects);
    for k in keys {
        let events: Vec<KeyEvent> = match *k {
            "<tab>" => vec![KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE)],
            "<enter>" => vec![KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)],
            "<esc>" => vec![KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)],
            "<c-s>" => vec![KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL)],
            text => text
                .chars()
                .map(|c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
                .collect(),
        };
        for e in events {
            if let Some(a) = handle_key(&s, e) {
                let effects = update(&mut s, a);
                settle(&mut s, &f.store, effects);
            }
            render_to_string(&mut s, w, h);
        }
    }
    // The footer message would otherwise depend on write timing.
    s.message = s.message.filter(|m| m.error);
    render_to_string(&mut s, w, h)
}

fn check(name: &str, keys: &[&str]) {
    let f = fixture();
    for (w, h) in SIZES {
        let text = screen(&f, w, h, keys);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), text);
    }
}

#[test]
fn runs() {
    check("runs", &[]);
}

#[test]
fn runs_filtered_with_error_caret() {
    check("runs_filter_error", &["/metrics.val/acc >> 0.5"]);
}

#[test]
fn runs_marked_and_sorted() {
    check("runs_marked", &["j", " ", " ", "lll", "s"]);
}

#[test]
fn runs_sidebar_focused() {
    check("runs_sidebar", &["<tab>", "j"]);
}

#[test]
fn run_overview() {
    check("run_overview", &["G", "<enter>"]);
}

#[test]
fn run_params_searched() {
    check(
        "run_params",
        &["G", "<enter>", "<tab>", "/", "lr", "<enter>"],
    );
}

#[test]
fn run_metrics_grid() {
    check("run_metrics", &["G", "<enter>", "<tab>", "<tab>"]);
}

#[test]
fn run_metrics_smoothed_with_cursor() {
    check(
        "run_metrics_smoothed",
        &["G", "<enter>", "<tab>", "<tab>", "eell"],
    );
}

#[test]
fn run_metrics_list() {
    check("run_metrics_list", &["G", "<enter>", "<tab>", "<tab>", "v"]);
}

#[test]
fn run_logs() {
    check(
        "run_logs",
        &[
            "G", "<enter>", "<tab>", "<tab>", "<tab>", "/", "epoch 3", "<enter>",
        ],
    );
}

#[test]
fn run_source() {
    check(
        "run_source",
        &["G", "<enter>", "<tab>", "<tab>", "<tab>", "<tab>"],
    );
}

#[test]
fn run_artifacts() {
    check(
        "run_artifacts",
        &["G", "<enter>", "<tab>", "<tab>", "<tab>", "<tab>", "<tab>"],
    );
}

#[test]
fn run_artifacts_referenced_file() {
    check(
        "run_artifacts_referenced_file",
        &[
            "G", "<enter>", "<tab>", "<tab>", "<tab>", "<tab>", "<tab>", "j",
        ],
    );
}

#[test]
fn run_artifacts_folded_folder_and_text_preview() {
    // space closes `data/`; four rows down is `config.yaml`.
    check(
        "run_artifacts_folded_folder_and_text_preview",
        &[
            "G", "<enter>", "<tab>", "<tab>", "<tab>", "<tab>", "<tab>", " jjjj",
        ],
    );
}

#[test]
fn run_notes() {
    check(
        "run_notes",
        &[
            "G", "<enter>", "<tab>", "<tab>", "<tab>", "<tab>", "<tab>", "<tab>",
        ],
    );
}

#[test]
fn note_editor() {
    check(
        "note_editor",
        &["G", "<enter>", "n", "Looks good.", "<enter>", "- more"],
    );
}

#[test]
fn compare() {
    check("compare", &["jj", " ", " ", " ", "c"]);
}

#[test]
fn activity() {
    check("activity", &["a"]);
}

#[test]
fn help() {
    check("help", &["?"]);
}

#[test]
fn help_searched() {
    check("help_search", &["?", "star"]);
}

#[test]
fn palette() {
    check("palette", &[":"]);
}

#[test]
fn confirm_delete() {
    check("confirm_delete", &["d"]);
}
