//! Progress on long work: `kiroku import mlflow` reports its progress run by run (a bar on a
//! terminal) and, piped, prints plain lines only. (The demo's bar: `tests/demo.rs` piped,
//! `tests/tui_e2e.rs` in tmux.)
use kiroku::store::SqliteStore;
use std::path::PathBuf;
use std::process::Command;

/// The MLflow 3.17 FileStore fixture.
fn mlruns() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/mlflow-3.17/mlruns"
    ))
}

/// The import reports its progress after every run (what `kiroku import mlflow` draws as a bar
/// on a terminal), and piped, the command prints its summary with no progress noise.
#[test]
fn progress_reaches_every_run_and_the_piped_command_stays_plain() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join(".kiroku"), false).unwrap();
    let seen = std::cell::RefCell::new(Vec::new());
    let report =
        kiroku::ingest::mlflow::import_mlflow_with_progress(&store, &mlruns(), "importer", &|p| {
            seen.borrow_mut().push(p)
        })
        .unwrap();
    let seen = seen.into_inner();
    let last = seen.last().expect("progress was reported");
    assert!(last.runs > 0 && last.runs_done == last.runs, "{seen:?}");
    assert!(last.runs >= report.runs_imported, "{seen:?} {report:?}");
    assert!(seen
        .windows(2)
        .all(|w| w[1].runs_done == w[0].runs_done + 1 || w[1].runs_done == 0));

    let project = tempfile::tempdir().unwrap();
    let kiroku = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_kiroku"))
            .current_dir(project.path())
            .args(args)
            .env_remove("KIROKU_STORE")
            .output()
            .unwrap()
    };
    assert!(kiroku(&["init"]).status.success());
    let out = kiroku(&["import", "mlflow", mlruns().to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    for noise in ['\r', '\u{1b}'] {
        assert!(
            !stderr.contains(noise),
            "progress noise when piped: {stderr:?}"
        );
    }
    assert!(!String::from_utf8_lossy(&out.stdout).is_empty());
}
