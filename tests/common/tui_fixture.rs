//! A fixed store for the UI tests: two experiments, runs with fixed ids, times, params,
//! metrics, logs, notes, tags, stars and an artifact, and a UI state with a fixed clock, so
//! screens render the same on every machine (and in UTC, whatever the machine's zone).
use kiroku::model::{Artifact, KeyedPoint, NewNote, NewRun, RunSource, RunStatus};
use kiroku::store::prelude::*;
use kiroku::store::SqliteStore;
use kiroku::tui::app::State;
use kiroku::tui::keymap::Keymap;
use kiroku::tui::state_file::UiState;
use kiroku::tui::theme::Theme;

/// The fixed "now" (2001-09-09); the store's own event times come later, so they read
/// "just now" and never depend on when the test runs.
pub const NOW: i64 = 1_000_000_000_000;
const MIN: i64 = 60_000;

pub struct Fixture {
    /// Keeps the store's folder alive.
    pub _dir: tempfile::TempDir,
    pub store: SqliteStore,
}

pub fn run_id(i: usize) -> String {
    format!("{:02x}a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5", i * 17 + 3)
}

pub fn fixture() -> Fixture {
    // Times show in the reader's zone: the snapshots are drawn in UTC. Every test sets the same
    // value before anything reads it, so the threads of the test binary agree.
    std::env::set_var("TZ", "UTC");
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join(".kiroku"), false).unwrap();
    let specs: [(&str, &str, f64, u64, RunStatus); 6] = [
        ("resnet-sweep", "lr3e-4-s1", 3e-4, 1, RunStatus::Finished),
        ("resnet-sweep", "lr1e-3-s2", 1e-3, 2, RunStatus::Running),
        ("resnet-sweep", "lr1e-2-s1", 1e-2, 1, RunStatus::Failed),
        ("resnet-sweep", "lr3e-4-s2", 3e-4, 2, RunStatus::Finished),
        ("resnet-sweep", "lr1e-3-s1", 1e-3, 1, RunStatus::Killed),
        ("bert-ft", "bert-base", 5e-5, 1, RunStatus::Finished),
    ];
    for (i, (exp, name, lr, seed, status)) in specs.iter().enumerate() {
        let start = NOW - (200 - i as i64 * 30) * MIN;
        let end = (*status != RunStatus::Running).then_some(start + (20 + i as i64 * 3) * MIN);
        let id = run_id(i);
        store
            .create_run(&NewRun {
                id: Some(id.clone()),
                experiment: exp.to_string(),
                name: Some(name.to_string()),
                user: if i % 2 == 0 { "alice" } else { "bob" }.into(),
                host: Some("gpu01".into()),
                status: Some(*status),
                start_time: Some(start),
                end_time: end,
                tags: vec![("team".into(), "vision".into())],
                params: vec![
                    ("lr".into(), lr.to_string()),
                    ("seed".into(), seed.to_string()),
                    ("optimizer".into(), "adam".into()),
                ],
                ..Default::default()
            })
            .unwrap();
        let mut points = Vec::new();
        for step in 0..200i64 {
            let t = step as f64 / 200.0;
            let ceiling = 0.9 - (lr.log10() + 3.5).abs() * 0.05 + *seed as f64 * 0.003;
            points.push(KeyedPoint {
                key: "val/acc".into(),
                step,
                timestamp: start + step * 1000,
                value: ceiling * (1.0 - (-6.0 * t).exp()),
            });
            points.push(KeyedPoint {
                key: "train/loss".into(),
                step,
                timestamp: start + step * 1000,
                value: if *status == RunStatus::Failed && step > 150 {
                    f64::NAN
                } else {
                    2.0 * (-4.0 * t).exp() + 0.05 + if step == 120 { 1.5 } else { 0.0 }
                },
            });
        }
        store.log_metrics(&id, &points).unwrap();
        store
            .set_source(
                &id,
                &RunSource {
                    git_commit: Some("9c1e2f0aa1b2c3d4e5f60718293a4b5c6d7e8f90".into()),
                    git_branch: Some("main".into()),
                    git_dirty: Some(i == 0),
                    git_diff: (i == 0).then(|| {
                        "diff --git a/train.py b/train.py\n--- a/train.py\n+++ b/train.py\n@@ -1,3 +1,3 @@\n import torch\n-lr = 1e-3\n+lr = 3e-4\n".to_string()
                    }),
                    command: vec!["python".into(), "train.py".into(), "--lr".into(), lr.to_string()],
                    cwd: Some("/home/alice/proj".into()),
                },
            )
            .unwrap();
        let run_dir = store.run_dir(&id).unwrap();
        std::fs::create_dir_all(run_dir.join("artifacts")).unwrap();
        let mut log = String::new();
        for e in 0..40 {
            log.push_str(&format!(
                "epoch {e} \u{1b}[32mloss\u{1b}[0m={:.4} acc: {:.4}\n",
                2.0 * (-0.1 * e as f64).exp(),
                0.5 + e as f64 / 100.0
            ));
        }
        std::fs::write(run_dir.join("output.log"), log).unwrap();
        if i == 0 {
            std::fs::write(
                run_dir.join("artifacts/config.yaml"),
                "model: resnet50\nlr: 3e-4\n",
            )
            .unwrap();
            store
                .add_artifact(
                    &id,
                    &Artifact {
                        path: "config.yaml".into(),
                        size: Some(27),
                        hash: Some("5d41402abc4b2a76b9719d911017c592".into()),
                        stored: "copied".into(),
                        location: None,
                    },
                )
                .unwrap();
            // A nested copied file (binary) and a referenced one: the Artifacts tree.
            std::fs::create_dir_all(run_dir.join("artifacts/model/sub")).unwrap();
            std::fs::write(
                run_dir.join("artifacts/model/sub/w.bin"),
                [0u8, 159, 146, 150],
            )
            .unwrap();
            store
                .add_artifact(
                    &id,
                    &Artifact {
                        path: "model/sub/w.bin".into(),
                        size: Some(4),
                        hash: Some("9f86d081884c7d659a2feaa0c55ad015".into()),
                        stored: "copied".into(),
                        location: None,
                    },
                )
                .unwrap();
            store
                .add_artifact(
                    &id,
                    &Artifact {
                        path: "data/train.csv".into(),
                        size: Some(2_500_000),
                        hash: None,
                        stored: "referenced".into(),
                        location: Some("s3://bucket/data/train.csv".into()),
                    },
                )
                .unwrap();
            store.set_star(&id, "alice", true).unwrap();
            let first = store
                .add_note(
                    &id,
                    &NewNote {
                        author: "alice".into(),
                        body: "# Best so far\nValidation accuracy **0.89**; try `lr=1e-4` next.\n- seed 2 agrees".into(),
                        reply_to: None,
                        anchor: None,
                        created_ms: Some(NOW - 30 * MIN),
                    },
                )
                .unwrap();
            store
                .add_note(
                    &id,
                    &NewNote {
                        author: "bob".into(),
                        body: "Agreed.".into(),
                        reply_to: Some(first.id),
                        anchor: None,
                        created_ms: Some(NOW - 10 * MIN),
                    },
                )
                .unwrap();
        }
    }
    Fixture { _dir: dir, store }
}

/// A UI state over the fixture with defaults (no user files), at the fixed clock.
pub fn state(width: u16, height: u16) -> State {
    let mut s = State::with_parts(
        "proj/.kiroku".into(),
        "alice".into(),
        "gpu01".into(),
        UiState::default(),
        Keymap::defaults(),
        Theme::fallback(),
        NOW,
    );
    s.size = (width, height);
    s
}

/// Jobs in every group on the fixture's store (only the tests of the Jobs screen add them):
/// id 1 finished (run 0, target local), 2 failed (run 2, cluster), 3 running on GPU 0
/// (run 1, local), 4 cancelled, 5 and 6 queued (6 after 5). Their times are fixed relative to
/// `NOW`, except the queue times the store sets itself (queued jobs show `0s` waited).
/// Run 1 carries the tags a job's run gets.
pub fn add_jobs(f: &Fixture) {
    use kiroku::model::{JobStatus, JobUpdate, NewJob};
    // name, target, GPUs, status, reason, the fixture run it became.
    type Spec = (
        &'static str,
        &'static str,
        u32,
        JobStatus,
        &'static str,
        Option<usize>,
    );
    let specs: [Spec; 6] = [
        (
            "eval-best",
            "local",
            0,
            JobStatus::Finished,
            "exit code 0",
            Some(0),
        ),
        (
            "sweep-lr-1",
            "cluster",
            1,
            JobStatus::Failed,
            "exit code 3",
            Some(2),
        ),
        (
            "sweep-lr-3",
            "local",
            1,
            JobStatus::Running,
            "running",
            Some(1),
        ),
        (
            "sweep-lr-9",
            "local",
            1,
            JobStatus::Cancelled,
            "cancelled by bob",
            None,
        ),
        (
            "sweep-lr-4",
            "local",
            2,
            JobStatus::Queued,
            "waiting for 2 GPUs, 1 free",
            None,
        ),
        ("report", "local", 0, JobStatus::Queued, "after job 5", None),
    ];
    for (i, (name, target, gpus, status, reason, run)) in specs.into_iter().enumerate() {
        let job = f
            .store
            .submit_job(&NewJob {
                name: Some(name.into()),
                experiment: "resnet-sweep".into(),
                target: target.into(),
                command: vec!["python".into(), "train.py".into(), format!("--seed={i}")],
                workdir: "/home/alice/proj".into(),
                gpus,
                after: if name == "report" { vec![5] } else { vec![] },
                user: if i % 2 == 0 { "alice" } else { "bob" }.into(),
                host: "gpu01".into(),
                ..Default::default()
            })
            .unwrap();
        let started = run.map(|_| NOW - (40 - i as i64 * 5) * MIN);
        f.store
            .update_job(
                job.id,
                &JobUpdate {
                    status: Some(status),
                    reason: Some(reason.into()),
                    assigned_gpus: (status == JobStatus::Running).then(|| vec![0]),
                    run_id: run.map(run_id),
                    started_at: started,
                    ended_at: (status.is_terminal())
                        .then(|| started.unwrap_or(NOW - 50 * MIN) + 12 * MIN),
                    exit_code: match status {
                        JobStatus::Finished => Some(0),
                        JobStatus::Failed => Some(3),
                        _ => None,
                    },
                    ..Default::default()
                },
            )
            .unwrap();
    }
    f.store
        .set_tags(
            &run_id(1),
            &[
                ("kiroku.job".into(), "3".into()),
                ("kiroku.target".into(), "local".into()),
            ],
            "alice",
        )
        .unwrap();
}
