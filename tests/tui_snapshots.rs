//! Every screen drawn into a `TestBackend` at 80x24 and 160x48 over the fixed store, compared
//! with the snapshots in `tests/snapshots/` (insta; `cargo insta review` or
//! `INSTA_UPDATE=always cargo test --test tui_snapshots` after an intended change).
#[path = "common/tui_fixture.rs"]
mod tui_fixture;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use kiroku::jobs::gpus::{GpuInfo, GpuProcess};
use kiroku::tui::app::{handle_key, update, Action, State};
use kiroku::tui::render_to_string;
use kiroku::tui::worker::{settle, Response};
use tui_fixture::{add_jobs, fixture, state, Fixture};

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

/// Starts the UI at a size and plays keys (`<tab>`, `<enter>`, `<esc>`, `<c-s>` or chars).
fn screen(f: &Fixture, w: u16, h: u16, keys: &[&str]) -> String {
    let mut s: State = state(w, h);
    // One frame first, so paging knows how many rows fit (as in the real loop).
    render_to_string(&mut s, w, h);
    let effects = s.start();
    settle(&mut s, &f.store, effects);
    for k in keys {
        play(&mut s, f, k);
    }
    // The footer message would otherwise depend on write timing.
    s.message = s.message.filter(|m| m.error);
    render_to_string(&mut s, w, h)
}

/// Plays one key spec (`<tab>`, `<enter>`, `<esc>`, `<c-s>` or chars), drawing after each key
/// as the real loop does.
fn play(s: &mut State, f: &Fixture, k: &str) {
    let (w, h) = s.size;
    let events: Vec<KeyEvent> = match k {
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
        if let Some(a) = handle_key(s, e) {
            let effects = update(s, a);
            settle(s, &f.store, effects);
        }
        render_to_string(s, w, h);
    }
}

fn check(name: &str, keys: &[&str]) {
    check_on(&fixture(), name, keys);
}

/// Snapshots of the screen over `f` after `keys`, at both sizes.
fn check_on(f: &Fixture, name: &str, keys: &[&str]) {
    for (w, h) in SIZES {
        let text = screen(f, w, h, keys);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), text);
    }
}

/// Three GPUs as discovery would report them: 0 booked by job 3, 1 busy with a process kiroku
/// did not start, 2 free.
fn fixture_gpus() -> Vec<GpuInfo> {
    let gpu = |index: u32, used: u64, util: u32, pids: &[u32]| GpuInfo {
        index,
        uuid: format!("GPU-{index}"),
        name: "NVIDIA A100-SXM4-40GB".into(),
        memory_used_mb: Some(used),
        memory_total_mb: Some(40960),
        utilization_pct: Some(util),
        processes: pids
            .iter()
            .map(|&pid| GpuProcess {
                pid,
                used_memory_mb: Some(used),
            })
            .collect(),
    };
    vec![
        gpu(0, 31_948, 81, &[4242]),
        gpu(1, 2150, 12, &[777]),
        gpu(2, 0, 0, &[]),
    ]
}

/// The Jobs screen over the fixture with jobs, after `keys`, with `gpus` (and `note`) as the
/// GPU panel's answer: injected, so the drawing does not depend on the machine's GPUs.
fn check_jobs(name: &str, keys: &[&str], gpus: Vec<GpuInfo>, note: Option<&str>) {
    let f = fixture();
    add_jobs(&f);
    for (w, h) in SIZES {
        let mut keys = keys.to_vec();
        keys.insert(0, "J");
        let mut s: State = state(w, h);
        render_to_string(&mut s, w, h);
        let effects = s.start();
        settle(&mut s, &f.store, effects);
        for k in &keys {
            play(&mut s, &f, k);
        }
        update(
            &mut s,
            Action::Store(Response::Gpus {
                gpus: gpus.clone(),
                note: note.map(str::to_string),
            }),
        );
        s.message = s.message.filter(|m| m.error);
        let text = render_to_string(&mut s, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), text);
    }
}

#[test]
fn jobs_with_gpus() {
    check_jobs("jobs_gpus", &[], fixture_gpus(), None);
}

#[test]
fn jobs_without_gpus() {
    check_jobs(
        "jobs_no_gpus",
        &["j"],
        vec![],
        Some("no NVIDIA driver (nvidia-smi not found)"),
    );
}

#[test]
fn jobs_cancel_confirm() {
    check_jobs("jobs_cancel_confirm", &["x"], fixture_gpus(), None);
}

/// A screen over the fixture with jobs, after `keys`.
fn check_with_jobs(name: &str, keys: &[&str]) {
    let f = fixture();
    add_jobs(&f);
    check_on(&f, name, keys);
}

#[test]
fn jobs_rerun_form() {
    // lr1e-3-s2, the run job 3 started (on target local, with 1 GPU).
    check_with_jobs("jobs_rerun_form", &["jjjj", "R"]);
}

#[test]
fn run_overview_of_a_job_s_run() {
    check_with_jobs("run_overview_job", &["J", "<enter>"]);
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

/// `l` walks past the last column in view: the table scrolls, `← N+` says what went left.
#[test]
fn runs_scrolled_to_the_last_column() {
    check("runs_scrolled_right", &["llllllllll"]);
}

/// Sorted by the last metric and filtered on a param: both stay in view at 80 columns.
#[test]
fn runs_keep_sorted_and_filtered_columns() {
    check(
        "runs_sorted_filtered",
        &[
            "/params.seed > 0",
            "<enter>",
            "llllllllll",
            "s",
            "gg",
            "hhhhhhhhhh",
        ],
    );
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

/// Five metrics: the grid charts them all at 160x48 (the selected one marked ▸) and pages
/// them one at a time at 80x24 (`j` twice: the third metric). A run without a metric is left
/// out of its chart, quietly.
#[test]
fn compare_grid_of_every_metric() {
    use kiroku::model::KeyedPoint;
    use kiroku::store::prelude::*;
    let f = fixture();
    // Every run but the first (bert-base, compared too) logs them.
    for i in 0..5 {
        let id = tui_fixture::run_id(i);
        let points: Vec<KeyedPoint> = (0..50i64)
            .flat_map(|step| {
                let t = step as f64 / 50.0;
                [
                    ("val/f1", 0.8 * (1.0 - (-4.0 * t).exp()) + i as f64 * 0.01),
                    ("lr", 1e-3 * (1.0 - t) / i as f64),
                    ("epoch_time", 60.0 + (step % 7) as f64 + i as f64),
                ]
                .map(|(key, value)| KeyedPoint {
                    key: key.into(),
                    step,
                    timestamp: tui_fixture::NOW + step * 1000,
                    value,
                })
            })
            .collect();
        f.store.log_metrics(&id, &points).unwrap();
    }
    check_on(&f, "compare_grid", &[" ", "j", " ", " ", " ", "c", "jj"]);
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

#[test]
fn a_filter_naming_a_key_no_run_has_says_so_with_close_keys() {
    let f = fixture();
    let text = screen(&f, 160, 48, &["/metrics.val/ac > 0.5", "<enter>"]);
    assert!(
        text.contains("no runs match the filter: metrics.val/ac is not a key of any run (close: metrics.val/acc"),
        "{text}"
    );
    let text = screen(&f, 160, 48, &["/metrics.val/acc > 5", "<enter>"]);
    assert!(
        text.contains("no runs match the filter\n") || text.contains("no runs match the filter "),
        "{text}"
    );
    assert!(!text.contains("is not a key"), "{text}");
}

/// A churn dataset with planted defects (two ages out of range, one unknown plan, ages shifted
/// against the reference) and a clean eval set, each checked by kiroku's engine with a real
/// suite and recorded as `kiroku check` records (the times fixed to the fixture's clock).
/// Returns the churn check run's id; the fixture's newest run (bert-base, the first row) reads
/// both datasets.
fn add_check_runs(f: &Fixture) -> i64 {
    use kiroku::checks::{run_suite_with, toml_suite::load_suite, DataInput, RunOptions};
    use kiroku::model::data::{NewCheckRun, RunInput};
    use kiroku::store::prelude::*;
    let dir = f._dir.path().join("data");
    std::fs::create_dir_all(&dir).unwrap();
    let mut train = String::from("user_id,age,plan\n");
    let mut reference = String::from("user_id,age,plan\n");
    for i in 0..40 {
        let age: i64 = match i {
            7 => 131,
            23 => -4,
            _ => 30 + i as i64 % 20,
        };
        let plan = if i == 11 {
            "gold"
        } else {
            ["free", "pro", "team"][i % 3]
        };
        train.push_str(&format!("u-{i:03},{age},{plan}\n"));
        reference.push_str(&format!("u-{i:03},{},free\n", 20 + i % 20));
    }
    std::fs::write(dir.join("train.csv"), train).unwrap();
    std::fs::write(dir.join("reference.csv"), &reference).unwrap();
    // The eval set has the reference's ages: it passes every check.
    std::fs::write(dir.join("eval.csv"), reference.replace(",free", ",pro")).unwrap();
    std::fs::write(
        dir.join("churn.toml"),
        r#"[suite]
name = "churn"
key = ["user_id"]

[[check]]
id = "rows"
type = "row_count"
min = 1

[[check]]
id = "age-known"
type = "not_null"
column = "age"

[[check]]
id = "age-range"
type = "between"
column = "age"
min = 0
max = 120

[[check]]
id = "plan-values"
type = "in_set"
column = "plan"
values = ["free", "pro", "team"]
warn = { max_count = 0 }

[[check]]
id = "age-drift"
type = "drift"
column = "age"
reference = "reference@1"
method = "psi"
bins = 4
"#,
    )
    .unwrap();
    let suite = load_suite(&dir.join("churn.toml")).unwrap();
    let mut first = 0;
    for (i, name) in ["eval", "train"].into_iter().enumerate() {
        let path = dir.join(format!("{name}.csv"));
        // The reference is a registered version (as `kiroku check` resolves `NAME@N`).
        let reference = dir.join("reference.csv");
        let resolve = |_: &str| Ok(reference.clone());
        let outcome = run_suite_with(
            &suite,
            &[DataInput {
                name: name.into(),
                path: path.clone(),
            }],
            &RunOptions {
                resolve: Some(&resolve),
                ..Default::default()
            },
        )
        .unwrap();
        kiroku::wrap::inputs::register_path(&f.store, name, &path, "alice").unwrap();
        let at = tui_fixture::NOW - (10 - i as i64) * 60_000;
        let run = f
            .store
            .record_check_run(&NewCheckRun {
                suite: outcome.suite,
                suite_hash: outcome.suite_hash,
                source: suite.source,
                datasets: outcome.datasets,
                status: outcome.status,
                results: outcome.results,
                started_at: at - 1000,
                ended_at: at,
                user: ["bob", "alice"][i].into(),
                host: "gpu01".into(),
                run_id: None,
            })
            .unwrap();
        first = run.id;
        let version = f.store.dataset_version(name).unwrap();
        f.store
            .add_run_inputs(
                &tui_fixture::run_id(5),
                &[RunInput {
                    run_id: tui_fixture::run_id(5),
                    name: name.into(),
                    dataset: name.into(),
                    version_id: version.id,
                    path: format!("data/{name}.csv"),
                }],
            )
            .unwrap();
    }
    first
}

/// A screen over the fixture with its check runs, after `keys` (a fresh store per size: the
/// keys may write reviews).
fn check_with_checks(name: &str, keys: &[&str]) {
    for (w, h) in SIZES {
        let f = fixture();
        add_check_runs(&f);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), screen(&f, w, h, keys));
    }
}

#[test]
fn checks_empty() {
    check("checks_empty", &["C"]);
    // And on a very small terminal.
    let text = screen(&fixture(), 50, 12, &["C"]);
    insta::assert_snapshot!("checks_empty_50x12", text);
}

#[test]
fn checks_waiting_and_history() {
    check_with_checks("checks_list", &["C"]);
}

#[test]
fn checks_result_failing_rows() {
    check_with_checks("checks_failing_rows", &["C", "<enter>"]);
}

#[test]
fn checks_result_drift() {
    check_with_checks("checks_drift", &["C", "<enter>", "j"]);
}

#[test]
fn checks_waive_form_and_confirm() {
    check_with_checks(
        "checks_waive_form",
        &["C", "<enter>", "w", "known outliers"],
    );
    // Then when it lapses, read as `kiroku review --until` reads it.
    check_with_checks(
        "checks_waive_until",
        &[
            "C",
            "<enter>",
            "w",
            "known outliers",
            "<enter>",
            "2030-01-01",
        ],
    );
    check_with_checks(
        "checks_waive_confirm",
        &[
            "C",
            "<enter>",
            "w",
            "known outliers",
            "<enter>",
            "2030-01-01",
            "<enter>",
        ],
    );
}

#[test]
fn checks_after_waiving_every_result() {
    // Each waiting result waived in turn (the last until a time, shown in its result view):
    // the run leaves "waiting for review".
    let mut keys = vec!["C", "<enter>"];
    for until in ["", "", "2030-01-01"] {
        keys.extend(["w", "ok for now", "<enter>", until, "<enter>", "y", "j"]);
    }
    keys.push("k");
    check_with_checks("checks_after_waive", &keys);
}

#[test]
fn run_inputs_tab() {
    check_with_checks("run_inputs", &["<enter>", "["]);
}

/// A pipeline with a foreach group, a frozen stage and kiroku settings; prep and train ran and
/// were recorded, then a param changed, so train is stale with a reason and eval never ran.
fn pipelines_project() -> tempfile::TempDir {
    use kiroku::pipelines::{self, StatCache};
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let put = |p: &str, text: &str| {
        let path = root.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    put(
        "dvc.yaml",
        "stages:
  prep:
    foreach: [a, b]
    do:
      cmd: cp raw/${item}.txt prep-${item}.txt
      deps:
      - raw/${item}.txt
      outs:
      - prep-${item}.txt
  train:
    desc: fits the model
    cmd: cat prep-a.txt prep-b.txt > model.bin
    deps: [prep-a.txt, prep-b.txt]
    params: [train.lr]
    outs: [model.bin]
    meta: {kiroku: {target: gpu01, gpus: 1, require_checks: [raw]}}
  eval:
    cmd: wc -c model.bin > eval.txt
    deps: [model.bin]
    metrics: [eval.txt: {cache: false}]
  publish:
    cmd: cp eval.txt published.txt
    deps: [eval.txt]
    outs: [published.txt]
    frozen: true
",
    );
    put("params.yaml", "train:\n  lr: 0.1\n");
    put("raw/a.txt", "alpha\n");
    put("raw/b.txt", "beta\n");
    put("prep-a.txt", "alpha\n");
    put("prep-b.txt", "beta\n");
    put("model.bin", "alpha\nbeta\n");
    let pipeline = pipelines::load(root).unwrap();
    let mut cache = StatCache::in_memory().unwrap();
    for name in ["prep@a", "prep@b", "train"] {
        pipelines::record_current(&pipeline, pipeline.stage(name).unwrap(), &mut cache).unwrap();
    }
    put("params.yaml", "train:\n  lr: 0.01\n");
    dir
}

/// The store's side of the pipeline: one pipeline run of the project with its stage runs —
/// prep@a restored from the run-cache, prep@b run, train run with metrics and a log — and
/// train's model.bin in the content cache.
fn add_pipeline_runs(f: &Fixture, root: &std::path::Path) {
    use kiroku::model::{KeyedPoint, NewRun, RunStatus};
    use kiroku::store::prelude::*;
    let s = &f.store;
    let start = tui_fixture::NOW - 30 * 60_000;
    let model = std::fs::read(root.join("model.bin")).unwrap();
    let md5 = kiroku::pipelines::hash::md5_file(&root.join("model.bin")).unwrap();
    let root = root.canonicalize().unwrap().display().to_string();
    let pipeline = s
        .create_run(&NewRun {
            id: Some("9a".repeat(16)),
            experiment: "pipelines".into(),
            name: Some("pipeline proj".into()),
            user: "alice".into(),
            status: Some(RunStatus::Finished),
            start_time: Some(start),
            end_time: Some(start + 70_000),
            tags: vec![("kiroku.pipeline".into(), root)],
            ..Default::default()
        })
        .unwrap();
    let stage = |id: &str, name: &str, took: i64, extra: &[(&str, &str)]| {
        let mut tags = vec![
            ("kiroku.pipeline.stage".to_string(), name.to_string()),
            ("kiroku.pipeline.run".to_string(), pipeline.id.clone()),
        ];
        tags.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        s.create_run(&NewRun {
            id: Some(id.repeat(16)),
            experiment: "pipelines".into(),
            name: Some(name.into()),
            user: "alice".into(),
            status: Some(RunStatus::Finished),
            start_time: Some(start),
            end_time: Some(start + took),
            parent_id: Some(pipeline.id.clone()),
            tags,
            ..Default::default()
        })
        .unwrap()
    };
    stage(
        "a1",
        "prep@a",
        0,
        &[
            ("kiroku.pipeline.restored", "true"),
            ("kiroku.pipeline.restored_from", &"5e".repeat(16)),
        ],
    );
    stage("b2", "prep@b", 2_000, &[]);
    let train = stage("c3", "train", 65_000, &[]);
    s.log_metrics(
        &train.id,
        &[KeyedPoint {
            key: "acc".into(),
            step: 0,
            timestamp: start,
            value: 0.93,
        }],
    )
    .unwrap();
    std::fs::write(
        s.run_dir(&train.id).unwrap().join("output.log"),
        "loading prep-a.txt prep-b.txt\nepoch 1 loss 0.52\nepoch 2 loss 0.31\nsaved model.bin\n",
    )
    .unwrap();
    s.put_object(&md5, Box::new(std::io::Cursor::new(model)))
        .unwrap();
}

#[test]
fn pipelines_tree_and_selected_stage() {
    let f = fixture();
    let project = pipelines_project();
    add_pipeline_runs(&f, project.path());
    for (w, h) in SIZES {
        let mut s: State = state(w, h);
        s.pipelines.root = Some(project.path().to_path_buf());
        render_to_string(&mut s, w, h);
        let effects = s.start();
        settle(&mut s, &f.store, effects);
        for k in ["P", "j"] {
            play(&mut s, &f, k);
        }
        s.message = s.message.filter(|m| m.error);
        let text = render_to_string(&mut s, w, h);
        insta::assert_snapshot!(format!("pipelines_{w}x{h}"), text);
    }
}

/// The fixture with a registered model `churn` whose versions are fixture runs 1 and 2, its
/// `production` alias moved to 1, then 2, then forced back to 1, and an approval of version 2.
fn add_model(f: &Fixture) {
    use kiroku::model::promotions::{ApprovalVerdict, NewApproval};
    use kiroku::model::registry::{AliasReason, NewModelVersion, NewRegisteredModel};
    use kiroku::store::prelude::*;
    let s = &f.store;
    s.create_registered_model(&NewRegisteredModel {
        name: "churn".into(),
        user: "alice".into(),
        ..Default::default()
    })
    .unwrap();
    for i in [1, 2] {
        s.create_model_version(&NewModelVersion {
            name: "churn".into(),
            source: format!("runs:/{}/model", tui_fixture::run_id(i)),
            run_id: Some(tui_fixture::run_id(i)),
            user: "alice".into(),
            ..Default::default()
        })
        .unwrap();
    }
    for (version, forced) in [(1, false), (2, false), (1, true)] {
        let why = AliasReason {
            user: "alice".into(),
            reason: if forced {
                "hotfix".into()
            } else {
                "ship".into()
            },
            forced,
        };
        s.set_alias("churn", "production", version, &why, &[])
            .unwrap();
    }
    s.add_approval(&NewApproval {
        model: "churn".into(),
        version: "2".into(),
        alias: Some("production".into()),
        verdict: ApprovalVerdict::Approved,
        comment: "numbers look right".into(),
        reviewer: "bob".into(),
    })
    .unwrap();
}

/// Absolute times (alias moves and versions are stamped by the store's clock) as `<time>`.
fn without_times(text: &str) -> String {
    regex::Regex::new(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})?")
        .unwrap()
        .replace_all(text, "<time>")
        .into_owned()
}

#[test]
fn models_versions_gates_history() {
    let config = kiroku::config::Config::parse(
        "[models.churn.aliases.production]\nrequire = ['metrics.val/acc >= 0.9']\napprovals = 1\n",
        std::path::Path::new("kiroku.toml"),
    )
    .unwrap();
    for (w, h) in SIZES {
        let f = fixture();
        add_model(&f);
        let mut s: State = state(w, h);
        s.jobs.context.config = config.clone();
        render_to_string(&mut s, w, h);
        let effects = s.start();
        settle(&mut s, &f.store, effects);
        for k in ["M", "<enter>", "j"] {
            play(&mut s, &f, k);
        }
        let text = without_times(&render_to_string(&mut s, w, h));
        insta::assert_snapshot!(format!("models_versions_{w}x{h}"), text);
        // The promotion's confirmation shows the gate before anything moves.
        play(&mut s, &f, "k");
        play(&mut s, &f, "p");
        play(&mut s, &f, "<enter>");
        let text = without_times(&render_to_string(&mut s, w, h));
        insta::assert_snapshot!(format!("models_promote_confirm_{w}x{h}"), text);
    }
}
