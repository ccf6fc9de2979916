//! The README's first command: `kiroku demo DIR` makes a real project on an embedded store.
mod common;

#[test]
fn demo_trains_real_runs_and_annotates_the_best() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("proj");
    let stdout = common::run_demo(&project, 8);
    assert!(stdout.contains("Look at it:"), "{stdout}");

    let store = project.join(".kiroku");
    let ls = std::process::Command::new(env!("CARGO_BIN_EXE_kiroku"))
        .args([
            "--store",
            store.to_str().unwrap(),
            "runs",
            "ls",
            "--format",
            "json",
            "--sort",
            "metrics.val/acc desc, metrics.val/loss asc",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&ls.stdout).unwrap();
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 7);
    let failed: Vec<_> = runs.iter().filter(|r| r["status"] == "failed").collect();
    assert_eq!(failed.len(), 1, "the lr=400 run diverges");
    let best = &runs[0];
    assert_eq!(best["stars"][0], "tester");
    assert_eq!(best["tags"]["candidate"], "true");
    let acc = best["metrics"]["val/acc"]["last"].as_f64().unwrap();
    assert!(acc > 0.9, "a real training reaches a real accuracy: {acc}");
    // Curves are genuine: many train/loss points from the metrics file, params from flags.
    assert!(best["metrics"]["train/loss"]["count"].as_u64().unwrap() > 50);
    assert_eq!(best["params"]["epochs"], "8");
    assert_eq!(best["params"]["model"], "logistic-regression");
}
