//! The README's first command: `kiroku demo DIR` makes a real project on an embedded store: a
//! git repository whose script trains a learning-rate sweep side by side (a few seconds each),
//! with artifacts, two users, notes, no duplicated metrics, and one run that diverges the way a
//! real one does.
mod common;
use std::collections::BTreeSet;
use std::process::Command;

fn kiroku_json(store: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_kiroku"))
        .arg("--store")
        .arg(store)
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn demo_trains_a_real_sweep_in_a_git_project_and_annotates_it() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("proj");
    let started = std::time::Instant::now();
    let (stdout, stderr) = common::run_demo_output(&project, 30);
    let took = started.elapsed();
    assert!(stdout.contains("Look at it:"), "{stdout}");
    // Piped, the demo prints plain lines: no progress bar, no terminal control sequences.
    for noise in ['\r', '\u{1b}'] {
        assert!(
            !stderr.contains(noise),
            "progress noise in piped stderr: {stderr:?}"
        );
    }
    assert_eq!(stderr.matches("  trained ").count(), 7, "{stderr}");
    // The trainings run side by side: seven runs of about three seconds each, in far less
    // than the 21 seconds one after another would take.
    assert!(took.as_secs() < 18, "the demo took {took:?}");

    let store = project.join(".kiroku");
    let v = kiroku_json(
        &store,
        &[
            "runs",
            "ls",
            "--sort",
            "metrics.val/acc desc, metrics.val/loss asc",
        ],
    );
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 7);

    // The diverged run: its loss climbed to inf, it failed, and it sorts after every number.
    let failed: Vec<_> = runs.iter().filter(|r| r["status"] == "failed").collect();
    assert_eq!(failed.len(), 1, "the lr=400 run diverges");
    let diverged = failed[0];
    assert_eq!(diverged["name"], "lr400-s1");
    assert_eq!(diverged["metrics"]["train/loss"]["last"], "Infinity");
    assert_eq!(runs.last().unwrap()["name"], "lr400-s1", "no val/acc: last");
    let by_loss = kiroku_json(&store, &["runs", "ls", "--sort", "metrics.train/loss asc"]);
    let by_loss = by_loss["runs"].as_array().unwrap();
    assert_ne!(by_loss[0]["name"], "lr400-s1", "an inf loss is never best");
    assert_eq!(by_loss.last().unwrap()["name"], "lr400-s1");

    // The best run: starred, tagged, a real accuracy, and no tie with any other run.
    let best = &runs[0];
    assert_eq!(best["stars"][0], "tester");
    assert_eq!(best["tags"]["candidate"], "true");
    let acc = best["metrics"]["val/acc"]["last"].as_f64().unwrap();
    assert!(acc > 0.97, "a real training reaches a real accuracy: {acc}");
    let accs: Vec<String> = runs
        .iter()
        .filter(|r| r["status"] == "finished")
        .map(|r| r["metrics"]["val/acc"]["last"].to_string())
        .collect();
    let distinct: BTreeSet<&String> = accs.iter().collect();
    assert_eq!(distinct.len(), accs.len(), "ties in val/acc: {accs:?}");

    // Every run has the metrics file's metrics only: no output-parsed copies (acc, loss, lr).
    for run in runs {
        let keys: BTreeSet<&str> = run["metrics"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let allowed: BTreeSet<&str> = ["train/loss", "val/loss", "val/acc", "weight_norm"].into();
        assert!(keys.is_subset(&allowed), "{}: {keys:?}", run["name"]);
    }
    // Curves are genuine, params come from flags and from the metrics file.
    assert!(best["metrics"]["train/loss"]["count"].as_u64().unwrap() > 300);
    assert_eq!(best["params"]["epochs"], "30");
    assert_eq!(best["params"]["l2"], "0.01");
    assert_eq!(best["params"]["model"], "logistic-regression");
    // Two users ran the sweep.
    let users: BTreeSet<&str> = runs.iter().map(|r| r["user"].as_str().unwrap()).collect();
    assert_eq!(users, ["mika", "tester"].into());

    // The best run in full: a few seconds long, a code version, artifacts, two users' notes.
    let shown = kiroku_json(&store, &["show", best["name"].as_str().unwrap()]);
    let run = &shown["run"];
    let took_ms = run["end_time"].as_i64().unwrap() - run["start_time"].as_i64().unwrap();
    assert!(took_ms >= 2_000, "a few seconds per run: {took_ms} ms");
    let source = &run["source"];
    assert_eq!(source["git_commit"].as_str().unwrap().len(), 40, "{source}");
    assert_eq!(source["git_dirty"], true);
    assert!(
        source["git_diff"].as_str().unwrap().contains("stop early"),
        "{source}"
    );
    assert_eq!(source["command"][1], "train.sh");
    let artifacts: BTreeSet<&str> = run["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap())
        .collect();
    for file in ["model.json", "confusion_matrix.txt"] {
        assert!(artifacts.contains(file), "{artifacts:?}");
    }
    let authors: BTreeSet<&str> = run["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["author"].as_str().unwrap())
        .collect();
    assert_eq!(authors, ["mika", "tester"].into());

    // The failure note says what the log shows: the loss reached inf and training stopped.
    let failed_run = kiroku_json(&store, &["show", "lr400-s1"]);
    let note = failed_run["run"]["notes"][0]["body"].as_str().unwrap();
    assert!(note.contains("inf"), "{note}");
    let log_path = store
        .join("runs")
        .join(failed_run["run"]["id"].as_str().unwrap())
        .join("output.log");
    let log = std::fs::read_to_string(log_path).unwrap();
    let last = log.lines().last().unwrap();
    assert!(last.starts_with("error: loss is inf at step"), "{log}");
    let step = failed_run["run"]["metrics"]["train/loss"]["step"].to_string();
    assert!(
        last.contains(&format!("step {step} ")),
        "{last} vs step {step}"
    );
    assert!(
        note.contains(&format!("step {step} ")),
        "{note} vs step {step}"
    );
    assert_eq!(failed_run["run"]["exit_code"], 1);
}

/// The demo never overwrites a user's files: a folder with its own `train.sh` is refused
/// before anything is made, and an existing README is kept.
#[test]
fn demo_refuses_a_folder_whose_train_sh_is_not_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("proj");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("train.sh"), "python my_real_training.py\n").unwrap();
    std::fs::write(project.join("README.md"), "# my project\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kiroku"))
        .args([
            "demo",
            project.to_str().unwrap(),
            "--no-ui",
            "--epochs",
            "2",
        ])
        .env("KIROKU_USER", "tester")
        .env_remove("KIROKU_STORE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("train.sh exists and is not the demo's"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(project.join("train.sh")).unwrap(),
        "python my_real_training.py\n"
    );
    assert_eq!(
        std::fs::read_to_string(project.join("README.md")).unwrap(),
        "# my project\n"
    );
    assert!(!project.join(".kiroku").exists(), "no store made");
}
