//! The UI's behaviour without a terminal: keys → actions → state, with store requests carried
//! out inline against a fixed store (`worker::settle`).
#[path = "common/tui_fixture.rs"]
mod tui_fixture;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kiroku::model::JobStatus;
use kiroku::store::prelude::*;
use kiroku::tui::app::{handle_key, update, Action, Overlay, RunTab, Screen, State};
use kiroku::tui::worker::settle;
use tui_fixture::{add_jobs, fixture, run_id, state, Fixture};

fn press(s: &mut State, f: &Fixture, code: KeyCode) {
    press_mod(s, f, code, KeyModifiers::NONE);
}

fn press_mod(s: &mut State, f: &Fixture, code: KeyCode, m: KeyModifiers) {
    if let Some(a) = handle_key(s, KeyEvent::new(code, m)) {
        let effects = update(s, a);
        settle(s, &f.store, effects);
    }
}

fn keys(s: &mut State, f: &Fixture, text: &str) {
    for c in text.chars() {
        press(s, f, KeyCode::Char(c));
    }
}

fn started(f: &Fixture) -> State {
    let mut s = state(160, 48);
    let effects = s.start();
    settle(&mut s, &f.store, effects);
    s
}

#[test]
fn the_table_loads_newest_first_and_the_filter_updates_as_you_type() {
    let f = fixture();
    let mut s = started(&f);
    assert_eq!(s.runs.total, 6);
    assert_eq!(s.runs.rows[0].name, "bert-base");
    keys(&mut s, &f, "/params.lr = '0.001'");
    assert_eq!(s.runs.total, 2, "{:?}", s.runs.filter_error);
    // A syntax error keeps the last good result and points at the column.
    keys(&mut s, &f, " and");
    let e = s.runs.filter_error.clone().expect("an error");
    assert_eq!(e.column, 24, "{e:?}"); // one past the end: the input ended too early
    assert_eq!(s.runs.total, 2);
    press(&mut s, &f, KeyCode::Esc);
    assert!(s.field.is_none());
}

#[test]
fn half_typed_keywords_wait_and_enter_searches_them() {
    use kiroku::tui::app::half_typed_keyword;
    for (text, waits) in [
        ("me", true),
        ("metrics", true),
        ("params.lr > 1 an", true),
        ("params.lr > 1 and ", false),
        ("mnist", false),
        ("lr3e", false),
        ("(ta", true),
    ] {
        assert_eq!(half_typed_keyword(text), waits, "{text}");
    }
    let f = fixture();
    let mut s = started(&f);
    keys(&mut s, &f, "/bert");
    assert_eq!(s.runs.total, 1);
    // `p` might become `params.`: the table keeps what it shows until enter.
    keys(&mut s, &f, " and p");
    assert!(s.runs.filter_deferred);
    assert_eq!(s.runs.applied_filter, "bert");
    assert_eq!(s.runs.total, 1);
    press(&mut s, &f, KeyCode::Enter);
    assert_eq!(s.runs.applied_filter, "bert and p");
    assert!(!s.runs.filter_deferred);
}

#[test]
fn sort_mark_star_tag_and_delete_go_through_the_store() {
    let f = fixture();
    let mut s = started(&f);
    // Move to the name column and sort by it.
    let name_col = s.columns().iter().position(|c| c.spec() == "name").unwrap();
    for _ in 0..name_col {
        press(&mut s, &f, KeyCode::Char('l'));
    }
    press(&mut s, &f, KeyCode::Char('s'));
    assert_eq!(s.runs.rows[0].name, "bert-base");
    press(&mut s, &f, KeyCode::Char('s'));
    assert_eq!(s.runs.rows[0].name, "lr3e-4-s2");
    // Mark two, star them, tag them.
    press(&mut s, &f, KeyCode::Char(' '));
    press(&mut s, &f, KeyCode::Char(' '));
    assert_eq!(s.runs.marked.len(), 2);
    press(&mut s, &f, KeyCode::Char('*'));
    keys(&mut s, &f, "tstage=eval");
    press(&mut s, &f, KeyCode::Enter);
    let a = f.store.run(&s.runs.marked[0]).unwrap();
    assert!(a.run.stars.contains(&"alice".to_string()));
    assert_eq!(a.run.tags.get("stage").map(String::as_str), Some("eval"));
    // Delete asks first; "n" keeps, "y" deletes.
    press(&mut s, &f, KeyCode::Char('d'));
    assert!(matches!(s.overlay, Some(Overlay::Confirm(_))));
    press(&mut s, &f, KeyCode::Char('n'));
    assert_eq!(s.runs.total, 6);
    press(&mut s, &f, KeyCode::Char('d'));
    press(&mut s, &f, KeyCode::Char('y'));
    assert_eq!(s.runs.total, 4);
}

#[test]
fn open_a_run_switch_tabs_and_write_a_note() {
    let f = fixture();
    let mut s = started(&f);
    press(&mut s, &f, KeyCode::Char('G'));
    press(&mut s, &f, KeyCode::Enter);
    assert_eq!(s.screen, Screen::Run);
    assert_eq!(s.run.as_ref().unwrap().id, run_id(0));
    press(&mut s, &f, KeyCode::Tab);
    press(&mut s, &f, KeyCode::Tab);
    let rv = s.run.as_ref().unwrap();
    assert_eq!(rv.tab, RunTab::Metrics);
    assert_eq!(rv.series.len(), 2, "one series per metric key");
    press(&mut s, &f, KeyCode::Tab);
    assert!(s
        .run
        .as_ref()
        .unwrap()
        .log
        .as_deref()
        .unwrap()
        .contains("epoch 39"));
    keys(&mut s, &f, "n");
    keys(&mut s, &f, "first line");
    press(&mut s, &f, KeyCode::Enter);
    keys(&mut s, &f, "second q line");
    // q inside the editor is text, not quit.
    assert!(!s.quit);
    press_mod(&mut s, &f, KeyCode::Char('s'), KeyModifiers::CONTROL);
    let notes = f.store.notes(&run_id(0)).unwrap();
    assert_eq!(notes.last().unwrap().body, "first line\nsecond q line");
    assert!(s.message.as_ref().unwrap().text.contains("saved"));
    press(&mut s, &f, KeyCode::Esc);
    assert_eq!(s.screen, Screen::Runs);
}

#[test]
fn leaving_the_note_editor_with_a_draft_asks_and_no_returns_to_it() {
    let f = fixture();
    let mut s = started(&f);
    keys(&mut s, &f, "ndraft");
    press(&mut s, &f, KeyCode::Esc);
    assert!(matches!(s.overlay, Some(Overlay::Confirm(_))));
    press(&mut s, &f, KeyCode::Char('n'));
    match &s.overlay {
        Some(Overlay::Input { editor, .. }) => assert_eq!(editor.text, "draft"),
        other => panic!("{other:?}"),
    }
    press(&mut s, &f, KeyCode::Esc);
    press(&mut s, &f, KeyCode::Char('y'));
    assert!(s.overlay.is_none());
    assert!(f.store.notes(&s.runs.rows[0].id).unwrap().is_empty());
}

#[test]
fn compare_needs_two_marks_and_picks_baseline_and_direction() {
    let f = fixture();
    let mut s = started(&f);
    press(&mut s, &f, KeyCode::Char('c'));
    assert!(s.message.as_ref().unwrap().error);
    assert_eq!(s.screen, Screen::Runs);
    keys(&mut s, &f, "j  ");
    press(&mut s, &f, KeyCode::Char('c'));
    assert_eq!(s.screen, Screen::Compare);
    let cv = s.compare.as_ref().unwrap();
    assert_eq!(cv.runs.len(), 2);
    assert!(!cv.higher_is_better("train/loss"));
    assert!(cv.higher_is_better("val/acc"));
    assert_eq!(
        cv.series.len(),
        4,
        "two metrics side by side at 160 columns, one series per run each"
    );
    keys(&mut s, &f, "bj");
    let cv = s.compare.as_ref().unwrap();
    assert_eq!(cv.baseline, 1);
    assert_eq!(cv.metric_cursor, 1);
    // Metrics are sorted: train/loss, val/acc; B flips the selected one.
    keys(&mut s, &f, "B");
    let cv = s.compare.as_ref().unwrap();
    assert!(!cv.higher_is_better("val/acc"));
    assert!(!cv.higher_is_better("train/loss"));
}

#[test]
fn palette_completes_and_switches_experiment_and_theme() {
    let f = fixture();
    let mut s = started(&f);
    keys(&mut s, &f, ":ex");
    press(&mut s, &f, KeyCode::Tab);
    keys(&mut s, &f, "ber");
    press(&mut s, &f, KeyCode::Tab);
    match &s.overlay {
        Some(Overlay::Palette { input, .. }) => assert_eq!(input.text, "exp bert-ft"),
        other => panic!("{other:?}"),
    }
    press(&mut s, &f, KeyCode::Enter);
    assert_eq!(s.runs.experiment.as_deref(), Some("bert-ft"));
    assert_eq!(s.runs.total, 1);
    keys(&mut s, &f, ":nope");
    press(&mut s, &f, KeyCode::Enter);
    assert!(s.message.as_ref().unwrap().error);
}

#[test]
fn activity_marks_new_events_and_enter_opens_the_run() {
    let f = fixture();
    let mut s = started(&f);
    keys(&mut s, &f, "a");
    assert_eq!(s.screen, Screen::Activity);
    assert!(!s.activity.events.is_empty());
    assert_eq!(
        s.activity.seen_before, 0,
        "everything is new the first time"
    );
    let idx = s
        .activity
        .events
        .iter()
        .position(|e| e.run_id.is_some())
        .unwrap();
    for _ in 0..idx {
        press(&mut s, &f, KeyCode::Char('j'));
    }
    press(&mut s, &f, KeyCode::Enter);
    assert_eq!(s.screen, Screen::Run);
    let newest = s.activity.events[0].id;
    assert_eq!(s.ui.last_seen_event.get("proj/.kiroku"), Some(&newest));
}

#[test]
fn live_changes_from_other_writers_are_picked_up() {
    let f = fixture();
    let mut s = started(&f);
    f.store
        .create_run(&kiroku::model::NewRun {
            experiment: "resnet-sweep".into(),
            name: Some("from-elsewhere".into()),
            user: "carol".into(),
            ..Default::default()
        })
        .unwrap();
    let effects = update(
        &mut s,
        Action::Changed {
            store: true,
            file: false,
        },
    );
    settle(&mut s, &f.store, effects);
    assert_eq!(s.runs.total, 7);
    assert!(s.runs.rows.iter().any(|r| r.name == "from-elsewhere"));
}

#[test]
fn column_choices_hide_move_and_show_per_experiment() {
    let f = fixture();
    let mut s = started(&f);
    let before: Vec<String> = s.columns().iter().map(|c| c.spec()).collect();
    assert!(before.contains(&"params.lr".to_string()), "{before:?}");
    assert!(
        !before.contains(&"params.optimizer".to_string()),
        "does not vary"
    );
    // Hide the first column, move the new first one right.
    keys(&mut s, &f, "x");
    let after: Vec<String> = s.columns().iter().map(|c| c.spec()).collect();
    assert_eq!(after, before[1..].to_vec());
    keys(&mut s, &f, ">");
    let moved: Vec<String> = s.columns().iter().map(|c| c.spec()).collect();
    assert_eq!(moved[1], after[0]);
    // :columns shows a column that would not be shown automatically.
    keys(&mut s, &f, ":columns");
    press(&mut s, &f, KeyCode::Enter);
    let all = s.available_columns();
    let opt = all
        .iter()
        .position(|c| c.spec() == "params.optimizer")
        .unwrap();
    for _ in 0..opt {
        press(&mut s, &f, KeyCode::Char('j'));
    }
    press(&mut s, &f, KeyCode::Char(' '));
    press(&mut s, &f, KeyCode::Esc);
    assert!(s.columns().iter().any(|c| c.spec() == "params.optimizer"));
    assert!(s.ui.columns_by_store[&s.store_name].contains_key("*"));
}

#[test]
fn paging_fetches_windows_around_the_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let store = kiroku::store::SqliteStore::open(&dir.path().join(".kiroku"), false).unwrap();
    kiroku::store::synthetic::generate(
        &store,
        &kiroku::store::synthetic::SyntheticSpec {
            runs: 1000,
            points: 2000,
            big_series: 0,
            experiment: "big".into(),
        },
    )
    .unwrap();
    let f = Fixture { _dir: dir, store };
    // A full uncounted page gives a lower bound; the counted search the exact total.
    let q = kiroku::model::RunQuery {
        limit: Some(10),
        ..Default::default()
    };
    assert_eq!(f.store.search_runs_uncounted(&q).unwrap().total, 10);
    assert_eq!(f.store.search_runs(&q).unwrap().total, 1000);
    let mut s = started(&f);
    assert_eq!(s.runs.total, 1000);
    assert!(s.runs.total_known(), "the count followed the page");
    assert!(s.runs.rows.len() < 1000, "only a window is fetched");
    press(&mut s, &f, KeyCode::Char('G'));
    assert_eq!(s.runs.cursor, 999);
    let sel = s.runs.selected().expect("the last row is fetched");
    let all = f
        .store
        .search_runs(&kiroku::model::RunQuery::default())
        .unwrap();
    assert_eq!(all.runs.last().unwrap().id, sel.id);
    press(&mut s, &f, KeyCode::Char('g'));
    assert!(s.runs.selected().is_some());
}

fn click(s: &mut State, f: &Fixture, x: u16, y: u16) {
    use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    kiroku::tui::render_to_string(s, 160, 48);
    let m = MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: x,
        row: y,
        modifiers: KeyModifiers::NONE,
    };
    if let Some(a) = kiroku::tui::app::handle_mouse(s, m) {
        let effects = update(s, a);
        settle(s, &f.store, effects);
    }
}

#[test]
fn mouse_clicks_sort_headers_select_and_open_rows_and_switch_tabs() {
    let f = fixture();
    let mut s = started(&f);
    kiroku::tui::render_to_string(&mut s, 160, 48);
    let name_col = s.columns().iter().position(|c| c.spec() == "name").unwrap();
    let (rect, _) = *s
        .areas
        .header_cells
        .iter()
        .find(|(_, c)| *c == name_col)
        .unwrap();
    click(&mut s, &f, rect.x + 1, rect.y);
    assert_eq!(
        s.runs.sort.as_ref().map(|(c, _)| c.spec()),
        Some("name".into())
    );
    let (body, _) = s.areas.table_body.unwrap();
    click(&mut s, &f, body.x + 10, body.y + 2);
    assert_eq!(s.runs.cursor, 2);
    assert_eq!(s.screen, Screen::Runs);
    click(&mut s, &f, body.x + 10, body.y + 2);
    assert_eq!(s.screen, Screen::Run);
    kiroku::tui::render_to_string(&mut s, 160, 48);
    let (tab, _) = *s
        .areas
        .tabs
        .iter()
        .find(|(_, t)| *t == RunTab::Notes)
        .unwrap();
    click(&mut s, &f, tab.x + 1, tab.y);
    assert_eq!(s.run.as_ref().unwrap().tab, RunTab::Notes);
    // The wheel scrolls.
    use crossterm::event::{MouseEvent, MouseEventKind};
    let wheel = MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: 0,
        row: 0,
        modifiers: KeyModifiers::NONE,
    };
    assert!(matches!(
        kiroku::tui::app::handle_mouse(&s, wheel),
        Some(Action::Cmd(kiroku::tui::keymap::Cmd::Down))
    ));
}

#[test]
fn resizing_keeps_the_cursor_on_screen() {
    let f = fixture();
    let mut s = started(&f);
    keys(&mut s, &f, "G");
    let effects = update(&mut s, Action::Resize(80, 8));
    settle(&mut s, &f.store, effects);
    let text = kiroku::tui::render_to_string(&mut s, 80, 8);
    assert!(text.contains("lr3e-4-s1"), "{text}");
}

#[test]
fn a_growing_log_is_read_a_piece_at_a_time_and_split_characters_wait() {
    use std::io::Write;
    let f = fixture();
    let mut s = started(&f);
    keys(&mut s, &f, "G");
    press(&mut s, &f, KeyCode::Enter);
    for _ in 0..3 {
        press(&mut s, &f, KeyCode::Tab);
    }
    let path = f.store.run_dir(&run_id(0)).unwrap().join("output.log");
    let len = std::fs::metadata(&path).unwrap().len();
    assert_eq!(s.run.as_ref().unwrap().log_end, len);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    // "é" is two bytes; the first arrives alone.
    file.write_all(b"epoch 40 caf\xc3").unwrap();
    let effects = update(
        &mut s,
        Action::Changed {
            store: false,
            file: true,
        },
    );
    settle(&mut s, &f.store, effects);
    let rv = s.run.as_ref().unwrap();
    assert!(
        rv.log.as_ref().unwrap().ends_with("epoch 40 caf"),
        "the half character waits"
    );
    assert_eq!(rv.log_end, len + 12);
    file.write_all(b"\xa9\n").unwrap();
    let effects = update(
        &mut s,
        Action::Changed {
            store: false,
            file: true,
        },
    );
    settle(&mut s, &f.store, effects);
    let rv = s.run.as_ref().unwrap();
    assert!(rv
        .log
        .as_ref()
        .unwrap()
        .ends_with("epoch 39 \u{1b}[32mloss\u{1b}[0m=0.0405 acc: 0.8900\nepoch 40 café\n"));
    assert_eq!(rv.log_end, len + 15);
}

/// The Artifacts tab's rows as `indent + name` (folders end in `/`, a fold marker first).
fn artifact_rows(s: &State) -> Vec<String> {
    use kiroku::tui::artifact_tree::TreeRow;
    let rv = s.run.as_ref().expect("a run is open");
    rv.artifact_rows()
        .iter()
        .map(|r| match r {
            TreeRow::Folder {
                name, depth, open, ..
            } => format!(
                "{}{}{name}/",
                "  ".repeat(*depth),
                if *open { "-" } else { "+" }
            ),
            TreeRow::File { name, depth, .. } => format!("{}{name}", "  ".repeat(*depth)),
        })
        .collect()
}

#[test]
fn artifacts_are_a_tree_whose_folders_open_and_close() {
    let f = fixture();
    let mut s = started(&f);
    press(&mut s, &f, KeyCode::Char('G'));
    press(&mut s, &f, KeyCode::Enter);
    for _ in 0..5 {
        press(&mut s, &f, KeyCode::Tab);
    }
    assert_eq!(s.run.as_ref().unwrap().tab, RunTab::Artifacts);
    // Folders first (open), then files; nested paths become nested folders.
    let all = [
        "-data/",
        "  train.csv",
        "-model/",
        "  -sub/",
        "    w.bin",
        "config.yaml",
    ];
    assert_eq!(artifact_rows(&s), all);
    // enter closes the folder under the cursor, space opens it again.
    press(&mut s, &f, KeyCode::Enter);
    assert_eq!(
        artifact_rows(&s),
        ["+data/", "-model/", "  -sub/", "    w.bin", "config.yaml"]
    );
    press(&mut s, &f, KeyCode::Char(' '));
    assert_eq!(artifact_rows(&s), all);
    // l on an open folder steps into it: the referenced file shows where it lives.
    press(&mut s, &f, KeyCode::Char('l'));
    let rv = s.run.as_ref().unwrap();
    assert_eq!(rv.artifact_cursor, 1);
    let e = rv.selected_artifact().expect("a file");
    assert_eq!(e.path, "data/train.csv");
    assert!(e.local.is_none());
    assert_eq!(e.location.as_deref(), Some("s3://bucket/data/train.csv"));
    // h on a file goes up to its folder, h on an open folder closes it, l opens it.
    press(&mut s, &f, KeyCode::Char('h'));
    assert_eq!(s.run.as_ref().unwrap().artifact_cursor, 0);
    press(&mut s, &f, KeyCode::Char('h'));
    assert_eq!(artifact_rows(&s)[0], "+data/");
    press(&mut s, &f, KeyCode::Char('l'));
    assert_eq!(artifact_rows(&s), all);
    // Closing `model/` hides `sub/` and `w.bin` but keeps `sub/`'s own state.
    press(&mut s, &f, KeyCode::Char('j'));
    press(&mut s, &f, KeyCode::Char('j'));
    press(&mut s, &f, KeyCode::Char('j'));
    press(&mut s, &f, KeyCode::Char('j'));
    let rv = s.run.as_ref().unwrap();
    assert_eq!(rv.selected_artifact().unwrap().path, "model/sub/w.bin");
    // The nested copied file is found on disk and previewed (binary: no text).
    assert!(rv.selected_artifact().unwrap().local.is_some());
    assert_eq!(
        rv.highlighted.get("artifact:model/sub/w.bin"),
        Some(&kiroku::tui::worker::Highlighted::Binary)
    );
    press(&mut s, &f, KeyCode::Char('h'));
    press(&mut s, &f, KeyCode::Char('h'));
    press(&mut s, &f, KeyCode::Char('h'));
    assert_eq!(
        artifact_rows(&s),
        ["-data/", "  train.csv", "-model/", "  +sub/", "config.yaml"]
    );
    press(&mut s, &f, KeyCode::Char('h'));
    press(&mut s, &f, KeyCode::Char('h'));
    assert_eq!(
        artifact_rows(&s),
        ["-data/", "  train.csv", "+model/", "config.yaml"]
    );
    // The text file's preview is highlighted as before.
    press(&mut s, &f, KeyCode::Char('G'));
    let rv = s.run.as_ref().unwrap();
    assert_eq!(rv.selected_artifact().unwrap().path, "config.yaml");
    assert!(matches!(
        rv.highlighted.get("artifact:config.yaml"),
        Some(kiroku::tui::worker::Highlighted::Text(_))
    ));
}

#[test]
fn windows_in_the_far_half_are_read_from_the_end_with_the_same_rows() {
    use kiroku::tui::worker::runs_window;
    let f = fixture();
    for sort in [
        None,
        Some("metrics.acc desc"),
        Some("params.lr"),
        Some("name desc"),
    ] {
        let all = f
            .store
            .search_runs(&kiroku::model::RunQuery {
                sort: sort.map(str::to_string),
                ..Default::default()
            })
            .unwrap();
        let n = all.total;
        for offset in 0..n {
            for limit in [1u64, 2, 5] {
                let q = kiroku::model::RunQuery {
                    sort: sort.map(str::to_string),
                    offset,
                    limit: Some(limit),
                    ..Default::default()
                };
                let forward = f.store.search_runs_uncounted(&q).unwrap();
                let page = runs_window(&f.store, &q, Some(n)).unwrap();
                let ids = |p: &kiroku::model::RunPage| -> Vec<String> {
                    p.runs.iter().map(|r| r.id.clone()).collect()
                };
                assert_eq!(ids(&page), ids(&forward), "{sort:?} {offset} {limit}");
                if offset + limit >= n {
                    assert_eq!(page.total, n);
                }
            }
        }
    }
    // G on the table lands on the last run.
    let mut s = started(&f);
    press(&mut s, &f, KeyCode::Char('G'));
    assert_eq!(s.runs.cursor, 5);
    assert_eq!(s.runs.rows.last().map(|r| r.id.clone()), Some(run_id(0)));
}

/// The Jobs screen over a store with jobs in every group: `J` opens it; the rows go running,
/// queued (next first), ended (newest first); keys move and open a job's run.
fn jobs_opened(f: &Fixture) -> State {
    add_jobs(f);
    let mut s = started(f);
    keys(&mut s, f, "J");
    assert_eq!(s.screen, Screen::Jobs);
    s
}

fn row_ids(s: &State) -> Vec<i64> {
    s.jobs.rows().iter().map(|j| j.id).collect()
}

#[test]
fn jobs_screen_lists_groups_moves_and_opens_a_job_s_run() {
    let f = fixture();
    let mut s = jobs_opened(&f);
    assert_eq!(row_ids(&s), [3, 5, 6, 4, 2, 1]);
    assert_eq!(s.jobs.selected, Some(3));
    // The running job's output is tailed.
    let log = s.jobs.log.as_ref().expect("the selected job's log");
    assert_eq!(log.run_id, run_id(1));
    assert!(log.text.as_deref().unwrap_or("").contains("epoch 39"));
    keys(&mut s, &f, "j");
    assert_eq!(s.jobs.selected, Some(5));
    assert!(s.jobs.log.is_none(), "a queued job has no run");
    keys(&mut s, &f, "G");
    assert_eq!(s.jobs.selected, Some(1));
    press(&mut s, &f, KeyCode::Enter);
    assert_eq!(s.screen, Screen::Run);
    assert_eq!(s.run.as_ref().unwrap().id, run_id(0));
    press(&mut s, &f, KeyCode::Esc);
    assert_eq!(s.screen, Screen::Jobs);
    // One target at a time.
    keys(&mut s, &f, "t");
    assert_eq!(s.jobs.target.as_deref(), Some("cluster"));
    assert_eq!(row_ids(&s), [2]);
    keys(&mut s, &f, "t");
    assert_eq!(s.jobs.target.as_deref(), Some("local"));
    assert_eq!(row_ids(&s), [3, 5, 6, 4, 1]);
}

#[test]
fn cancelling_a_job_asks_naming_it_and_yes_goes_to_the_store() {
    let f = fixture();
    let mut s = jobs_opened(&f);
    keys(&mut s, &f, "j"); // job 5, queued
    keys(&mut s, &f, "x");
    let Some(Overlay::Confirm(c)) = &s.overlay else {
        panic!("no confirm: {:?}", s.overlay)
    };
    assert!(format!("{c:?}").contains("sweep-lr-4"), "{c:?}");
    keys(&mut s, &f, "n");
    assert_eq!(f.store.job(5).unwrap().status, JobStatus::Queued);
    keys(&mut s, &f, "dy");
    let job = f.store.job(5).unwrap();
    assert_eq!(
        (job.status, job.reason.as_str()),
        (JobStatus::Cancelled, "cancelled by alice")
    );
    // The list follows the store: job 5 is now among the ended ones.
    assert_eq!(row_ids(&s), [3, 6, 5, 4, 2, 1]);
    assert_eq!(s.message.as_ref().unwrap().text, "✓ cancelled job 5");
    // A running job is asked to stop (its supervisor acts on it).
    keys(&mut s, &f, "gxy");
    assert!(f.store.job(3).unwrap().cancel_requested);
}

#[test]
fn rerun_opens_the_launch_form_filled_from_the_run_and_its_job() {
    let f = fixture();
    add_jobs(&f);
    let mut s = started(&f);
    // Run 1 (lr1e-3-s2) was started by job 3 on target local with 1 GPU.
    let row = s.runs.rows.iter().position(|r| r.id == run_id(1)).unwrap();
    for _ in 0..row {
        keys(&mut s, &f, "j");
    }
    keys(&mut s, &f, "R");
    let Some(Overlay::Launch(form)) = &s.overlay else {
        panic!("no form: {:?}", s.overlay)
    };
    assert_eq!(form.targets[form.target], "local");
    assert_eq!(form.gpus.text, "1");
    assert_eq!(form.experiment.text, "resnet-sweep");
    assert_eq!(form.name.text, "lr1e-3-s2");
    assert_eq!(form.command.text, "python train.py --lr 0.001");
    assert_eq!(form.params.text, "lr=0.001");
    assert_eq!(form.rerun_of.as_deref(), Some(run_id(1).as_str()));
    assert_eq!(form.workdir, "/home/alice/proj");
    press(&mut s, &f, KeyCode::Esc);
    assert!(s.overlay.is_none());
    // Its overview says which job and target started it.
    press(&mut s, &f, KeyCode::Enter);
    let d = s.run.as_ref().unwrap().detail.as_ref().unwrap();
    assert_eq!(d.run.tags.get("kiroku.job").map(String::as_str), Some("3"));
}

/// The runs table sorts a metric as the CLI does (`model::metric_order`): numbers first, then
/// infinities, then NaN, in both directions, so a diverged loss is never the best row.
#[test]
fn a_metric_sort_puts_inf_and_nan_after_every_number_both_ways() {
    use kiroku::model::metric_order::cmp_metric_values;
    use kiroku::model::KeyedPoint;
    use std::cmp::Ordering;
    let f = fixture();
    // lr1e-3-s1 diverged: its loss ends at inf. lr1e-2-s1's ends at NaN (the fixture's).
    f.store
        .log_metrics(
            &run_id(4),
            &[KeyedPoint {
                key: "train/loss".into(),
                step: 10_000,
                timestamp: 0,
                value: f64::INFINITY,
            }],
        )
        .unwrap();
    let mut s = started(&f);
    let col = s
        .columns()
        .iter()
        .position(|c| c.spec() == "metrics.train/loss")
        .unwrap();
    for _ in 0..col {
        press(&mut s, &f, KeyCode::Char('l'));
    }
    for descending in [false, true] {
        press(&mut s, &f, KeyCode::Char('s'));
        let losses: Vec<Option<f64>> = s
            .runs
            .rows
            .iter()
            .map(|r| r.metrics.get("train/loss").map(|m| m.last))
            .collect();
        assert!(
            losses
                .windows(2)
                .all(|w| cmp_metric_values(w[0], w[1], descending) != Ordering::Greater),
            "descending {descending}: {losses:?}"
        );
        assert!(losses[0].unwrap().is_finite(), "{losses:?}");
        let names: Vec<&str> = s.runs.rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            &names[names.len() - 2..],
            ["lr1e-3-s1", "lr1e-2-s1"],
            "inf, then NaN, last (descending {descending})"
        );
    }
}
