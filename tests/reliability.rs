//! Reliability: concurrent writers, a writer killed mid-batch, and bad input of every kind
//! (each gets a clear message and the right exit code, never a panic).
mod common;
use common::Project;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

fn new_run(p: &Project, name: &str) -> String {
    let s = p.script("noop.sh", "true\n");
    p.ok(&["run", "--name", name, "--", &s]);
    p.json(&["show", name])["run"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn count_points(p: &Project, run: &str, key: &str) -> u64 {
    p.json(&["show", run])["run"]["metrics"][key]["count"]
        .as_u64()
        .unwrap_or(0)
}

#[test]
fn eight_processes_logging_at_once_lose_nothing() {
    let p = Project::new();
    let ids: Vec<String> = (0..8).map(|i| new_run(&p, &format!("w{i}"))).collect();
    let children: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            // Four writers share one run (contending on the same chunks), four have their own.
            let target = if i < 4 { ids[0].clone() } else { id.clone() };
            let key = format!("k{i}");
            p.cmd(&[
                "dev",
                "write-points",
                "--run",
                &target,
                "--batches",
                "100",
                "--batch-size",
                "500",
                "--key",
                &key,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "writer failed: {stderr}");
        assert!(
            !stderr.contains("locked") && !stderr.contains("busy"),
            "{stderr}"
        );
    }
    for i in 0..8 {
        let run = if i < 4 {
            "w0".to_string()
        } else {
            format!("w{i}")
        };
        assert_eq!(
            count_points(&p, &run, &format!("k{i}")),
            50_000,
            "writer {i}"
        );
        let series = p.json(&["metrics", &run, &format!("k{i}")]);
        let points = series["points"].as_array().unwrap();
        assert_eq!(points.len(), 50_000);
        assert!(
            points
                .windows(2)
                .all(|w| w[0][0].as_i64() < w[1][0].as_i64()),
            "steps in order"
        );
    }
}

#[test]
fn a_writer_killed_mid_batch_leaves_an_intact_store_with_every_committed_point() {
    let p = Project::new();
    let id = new_run(&p, "victim");
    let mut child = p
        .cmd(&[
            "dev",
            "write-points",
            "--run",
            &id,
            "--batches",
            "100000",
            "--batch-size",
            "2000",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut committed = 0u64;
    for _ in 0..25 {
        let line = lines.next().unwrap().unwrap();
        committed = line.trim_start_matches("committed ").parse().unwrap();
    }
    // SAFETY: killing our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
    let db = rusqlite::Connection::open(p.store_dir().join("kiroku.db")).unwrap();
    let check: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let stored = count_points(&p, "victim", "x");
    assert!(
        stored >= committed,
        "stored {stored} < committed {committed}"
    );
    assert_eq!(stored % 2000, 0, "batches are all or nothing");
    let series = p.json(&["metrics", "victim", "x"]);
    assert_eq!(
        series["points"].as_array().unwrap().len() as u64,
        stored,
        "summary matches the points"
    );
}

fn fails_with(p: &Project, args: &[&str], code: i32, needle: &str) {
    let out = p.kiroku(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "kiroku {args:?}: {stderr}");
    assert!(
        stderr.contains(needle),
        "kiroku {args:?}: expected {needle:?} in {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bad_input_gets_clear_errors_and_exit_codes() {
    let p = Project::new();
    new_run(&p, "r1");
    fails_with(&p, &["show", "ffffffff"], 2, "no run matches 'ffffffff'");
    fails_with(
        &p,
        &["runs", "ls", "--filter", "metrics.acc >"],
        2,
        "error at column 14: expected a value after '>'",
    );
    fails_with(
        &p,
        &["runs", "ls", "--filter", "params.lr = 'x"],
        2,
        "unterminated string",
    );
    fails_with(
        &p,
        &["runs", "ls", "--sort", "metrics.acc sideways"],
        2,
        "error at column",
    );
    fails_with(
        &p,
        &["log", "metric", "loss", "abc", "--run", "r1"],
        2,
        "not a number",
    );
    fails_with(&p, &["log", "metric", "loss", "1"], 2, "no run");
    fails_with(&p, &["log", "param", "lr", "1", "--run", "r1"], 0, "");
    fails_with(
        &p,
        &["log", "param", "lr", "2", "--run", "r1"],
        2,
        "params cannot change",
    );
    fails_with(&p, &["tag", "r1", "novalue"], 2, "key=value");
    fails_with(&p, &["metrics", "r1", "nope"], 2, "has no metric 'nope'");
    fails_with(
        &p,
        &["note", "add", "r1", "-m", "x", "--reply-to", "99"],
        2,
        "no note 99",
    );
    fails_with(
        &p,
        &["runs", "ls", "--columns", "bogus"],
        2,
        "unknown column 'bogus'",
    );
    fails_with(&p, &["frobnicate"], 2, "unrecognized subcommand");
    fails_with(
        &p,
        &["--store", "/nonexistent/place", "runs", "ls"],
        2,
        "kiroku init",
    );
}

#[test]
fn broken_config_names_file_line_and_key() {
    let p = Project::new();
    std::fs::write(
        p.path().join("kiroku.toml"),
        "[run]\nexperiment = \"a\"\nflavour = 1\n",
    )
    .unwrap();
    fails_with(&p, &["runs", "ls"], 2, "kiroku.toml: line 3");
    let out = p.kiroku(&["runs", "ls"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("flavour"));
}

#[test]
fn newer_schema_and_corrupt_database_are_refused_clearly() {
    let p = Project::new();
    let db = p.store_dir().join("kiroku.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .pragma_update(None, "user_version", 999)
        .unwrap();
    fails_with(
        &p,
        &["runs", "ls"],
        1,
        "schema version 999, newer than this kiroku supports",
    );

    let q = Project::new();
    let db = q.store_dir().join("kiroku.db");
    for f in ["kiroku.db-wal", "kiroku.db-shm"] {
        let _ = std::fs::remove_file(q.store_dir().join(f));
    }
    std::fs::write(
        &db,
        b"this is not a database at all, just some bytes that happen to be here....",
    )
    .unwrap();
    fails_with(&q, &["runs", "ls"], 1, "is not a usable kiroku database");
}

#[test]
fn closed_pipe_exits_quietly() {
    let p = Project::new();
    for i in 0..30 {
        new_run(&p, &format!("r{i}"));
    }
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' runs ls --format csv | head -1",
            env!("CARGO_BIN_EXE_kiroku")
        ))
        .current_dir(p.path())
        .env("KIROKU_USER", "tester")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
