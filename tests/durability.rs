//! Durability of the write paths, with real processes and signals: a killed `kiroku run` is
//! found dead and its flushed points recovered; the metrics file keeps good data beside bad
//! lines; implicit steps saturate; bad input is quoted only in excerpts.
mod common;

use common::{Project, Server};
use kiroku::ingest::metrics_file::{Ingested, LineParser};
use kiroku::model::RunStatus;
use kiroku::store::prelude::*;
use kiroku::store::SqliteStore;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A file a wrapped script wrote (an id, a pid), without its newline.
fn read_trimmed(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap().trim().to_string()
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill with a pid we spawned.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
}

/// Whether a process has ended (gone, or a zombie nobody reaped yet).
fn is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            let state = stat[stat.rfind(')').unwrap() + 1..]
                .split_whitespace()
                .next();
            matches!(state, Some("Z") | Some("X"))
        }
    }
}

/// A wrapped command that writes 500 points, a param and a tag, waits for `go`, writes 500 more
/// points, a tag and a last line without its newline (1,001 points, steps 0..=1000), then runs
/// until killed.
const TWO_HALVES: &str = r#"
echo "$KIROKU_RUN_ID" > run_id.tmp && mv run_id.tmp run_id
echo $$ > child_pid
i=0
while [ $i -lt 500 ]; do echo "{\"x\": $i}" >> "$KIROKU_METRICS_FILE"; i=$((i+1)); done
echo '{"params": {"p": "1"}, "tags": {"t": "first"}}' >> "$KIROKU_METRICS_FILE"
echo "some output"
touch ready
while [ ! -e go ]; do sleep 0.02; done
while [ $i -lt 1000 ]; do echo "{\"x\": $i}" >> "$KIROKU_METRICS_FILE"; i=$((i+1)); done
echo '{"tags": {"t2": "last"}}' >> "$KIROKU_METRICS_FILE"
printf '{"x": 1000}' >> "$KIROKU_METRICS_FILE"
touch written
while :; do sleep 0.05; done
"#;

/// Runs `TWO_HALVES` under `kiroku run` (with `extra` options), lets the first half be
/// ingested, freezes the wrapper, has the second half written, then SIGKILLs the wrapper.
/// Checks that the child died with it and returns the run id.
fn kill_kiroku_run_with_unflushed_lines(
    p: &Project,
    extra: &[&str],
    env: &[(&str, &Path)],
) -> String {
    let script = p.script("two_halves.sh", TWO_HALVES);
    let mut args = vec!["run", "--name", "victim"];
    args.extend_from_slice(extra);
    args.extend(["--", script.as_str()]);
    let mut cmd = p.cmd(&args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut wrapper = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ready = p.path().join("ready");
    wait_for("the first half", Duration::from_secs(30), || ready.exists());
    // More than one flush window: the first half is ingested and checkpointed.
    std::thread::sleep(Duration::from_millis(600));
    signal(&wrapper, libc::SIGSTOP);
    std::fs::write(p.path().join("go"), "").unwrap();
    let written = p.path().join("written");
    wait_for("the second half", Duration::from_secs(30), || {
        written.exists()
    });
    signal(&wrapper, libc::SIGKILL);
    wrapper.wait().unwrap();
    let child: u32 = read_trimmed(&p.path().join("child_pid")).parse().unwrap();
    wait_for(
        "the wrapped command to die with kiroku run",
        Duration::from_secs(5),
        || is_gone(child),
    );
    read_trimmed(&p.path().join("run_id"))
}

fn assert_everything_recovered(store: &dyn Store, run_id: &str) {
    let d = store.run(run_id).unwrap().run;
    assert_eq!(d.status, RunStatus::Lost);
    let steps: Vec<i64> = store
        .metric_series(run_id, "x")
        .unwrap()
        .iter()
        .map(|p| p.step)
        .collect();
    assert_eq!(
        steps,
        (0..=1000).collect::<Vec<i64>>(),
        "every flushed point, once"
    );
    assert_eq!(d.params.get("p").map(String::as_str), Some("1"));
    assert_eq!(d.tags.get("t").map(String::as_str), Some("first"));
    assert_eq!(d.tags.get("t2").map(String::as_str), Some("last"));
}

#[test]
fn a_sigkilled_kiroku_run_is_marked_lost_and_its_flushed_points_recovered() {
    let p = Project::new();
    let run_id = kill_kiroku_run_with_unflushed_lines(&p, &[], &[]);
    {
        // Opening the store does not look: the run is still `running`, the second half unread.
        let store = SqliteStore::open(&p.store_dir(), false).unwrap();
        assert_eq!(store.run(&run_id).unwrap().run.status, RunStatus::Running);
        let before = store.metric_series(&run_id, "x").unwrap().len();
        assert!(
            (500..1001).contains(&before),
            "{before} points before the look"
        );
    }
    // Anyone listing runs looks, and the dead wrapper's run is recovered.
    let listed = p.json(&["runs", "ls"]);
    assert_eq!(listed["runs"][0]["status"], "lost");
    let store = SqliteStore::open(&p.store_dir(), false).unwrap();
    assert_everything_recovered(&store, &run_id);
    // A second look finds nothing more to do.
    p.json(&["show", &run_id]);
    assert_eq!(store.metric_series(&run_id, "x").unwrap().len(), 1001);
    assert!(store.supervised_runs().unwrap().is_empty());
}

#[test]
fn a_server_marks_a_killed_remote_kiroku_run_lost_from_its_spool_folder() {
    let p = Project::new();
    let server = Server::start(&p, &[]).unwrap();
    let spool_root = p.path().join("tmp");
    std::fs::create_dir_all(&spool_root).unwrap();
    let run_id = kill_kiroku_run_with_unflushed_lines(
        &p,
        &["--store", &server.url],
        &[("TMPDIR", &spool_root)],
    );
    let spool = spool_root.join("kiroku-spool").join(&run_id);
    assert!(spool.join("metrics.jsonl").exists());
    // Nobody lists anything: the server's own periodic look recovers the run.
    let store = SqliteStore::open(&p.store_dir(), false).unwrap();
    wait_for(
        "the server to mark the run lost",
        Duration::from_secs(15),
        || store.run(&run_id).unwrap().run.status == RunStatus::Lost,
    );
    assert_everything_recovered(&store, &run_id);
    // The output log goes up after the recovery, as the wrapper would have sent it.
    let log = store.run_dir(&run_id).unwrap().join("artifacts/output.log");
    wait_for("the output log", Duration::from_secs(10), || {
        !spool.exists()
    });
    assert_eq!(std::fs::read_to_string(log).unwrap(), "some output\n");
    assert!(!spool.exists(), "the spool folder goes once recovered");
}

fn run_script(p: &Project, name: &str, body: &str, extra: &[&str]) -> std::process::Output {
    let script = p.script(&format!("{name}.sh"), body);
    let mut args = vec!["run", "--name", name, "--"];
    args.push(&script);
    args.extend_from_slice(extra);
    p.kiroku(&args)
}

#[test]
fn a_bad_tag_line_does_not_drop_the_good_tags_flushed_with_it() {
    let p = Project::new();
    let out = run_script(
        &p,
        "tags",
        r#"
cat >> "$KIROKU_METRICS_FILE" <<'LINES'
{"tags": {"a": "1"}}
{"tags": {"": "x"}}
{"tags": {"b": "2"}, "params": {"": "y", "ok": "yes"}, "loss": 1}
{"params": {"bs": "1"}}
{"params": {"bs": "2"}, "loss": 2}
{"params": {"lr": "0.5"}, "loss": 3}
LINES
"#,
        &["--lr", "0.1"],
    );
    common::assert_ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 2: tag key is empty; ignored"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 3: param key is empty; ignored"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 5: param 'bs' is already '1'"),
        "{stderr}"
    );
    let store = SqliteStore::open(&p.store_dir(), false).unwrap();
    let id = store.resolve_run("tags").unwrap();
    let d = store.run(&id).unwrap().run;
    assert_eq!(d.tags.get("a").map(String::as_str), Some("1"));
    assert_eq!(d.tags.get("b").map(String::as_str), Some("2"));
    assert_eq!(d.params.get("ok").map(String::as_str), Some("yes"));
    assert_eq!(d.params.get("bs").map(String::as_str), Some("1"));
    // The command line's `--lr 0.1` stays; the file's other value does not fail the flush.
    assert_eq!(d.params.get("lr").map(String::as_str), Some("0.1"));
    let losses: Vec<f64> = store
        .metric_series(&id, "loss")
        .unwrap()
        .iter()
        .map(|p| p.value)
        .collect();
    assert_eq!(losses, vec![1.0, 2.0, 3.0]);
}

#[test]
fn implicit_steps_do_not_wrap_after_i64_max() {
    let mut parser = LineParser::new();
    let mut out = Ingested::default();
    parser.parse_line(br#"{"step": 9223372036854775807, "x": 1}"#, &mut out);
    parser.parse_line(br#"{"x": 2}"#, &mut out);
    parser.parse_line(br#"{"x": 3}"#, &mut out);
    let steps: Vec<i64> = out.points.iter().map(|p| p.step).collect();
    assert_eq!(steps, vec![i64::MAX; 3]);
    assert!(
        out.warnings[0].starts_with("line 2: the implicit step of 'x' has reached its maximum"),
        "{:?}",
        out.warnings
    );
}

#[test]
fn a_bad_10_mb_value_or_key_is_quoted_only_in_an_excerpt() {
    let huge = "a".repeat(10 << 20);
    let mut parser = LineParser::new();
    let mut out = Ingested::default();
    parser.parse_line(format!(r#"{{"x": "{huge}"}}"#).as_bytes(), &mut out);
    parser.parse_line(format!(r#"{{"{huge}": 1}}"#).as_bytes(), &mut out);
    parser.parse_line(
        format!(r#"{{"tags": {{"{huge}": "v"}}}}"#).as_bytes(),
        &mut out,
    );
    parser.parse_line(
        format!(r#"{{"step": "{huge}", "x": 1}}"#).as_bytes(),
        &mut out,
    );
    parser.parse_line(format!(r#"{{"x": [{huge}]}}"#).as_bytes(), &mut out);
    assert_eq!(out.warnings.len(), 5, "{:?}", out.warnings);
    for w in &out.warnings {
        assert!(w.len() < 400, "a {}-byte warning", w.len());
    }
    assert!(out.points.is_empty() && out.tags.is_empty());

    // And through `kiroku run`: stderr carries an excerpt, not 10 MB.
    let p = Project::new();
    let out = run_script(
        &p,
        "huge",
        r#"
printf '{"x": "' >> "$KIROKU_METRICS_FILE"
head -c 10485760 /dev/zero | tr '\0' a >> "$KIROKU_METRICS_FILE"
printf '"}\n{"y": 1}\n' >> "$KIROKU_METRICS_FILE"
"#,
        &[],
    );
    common::assert_ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.len() < 2000, "{} bytes of stderr", stderr.len());
    // A line over the protocol's limit is not even held whole: it is skipped as too long.
    assert!(stderr.contains("line 1: longer than 8 MiB"), "{stderr}");
    let store = SqliteStore::open(&p.store_dir(), false).unwrap();
    let id = store.resolve_run("huge").unwrap();
    assert_eq!(store.metric_series(&id, "y").unwrap().len(), 1);
}

#[test]
fn a_huge_filter_is_quoted_in_its_error_only_around_the_problem() {
    let huge = "a".repeat(1 << 20);
    for filter in [
        format!("metrics.acc > {huge}"),
        format!("params.`{huge}"),
        format!("{huge} = 1 and"),
    ] {
        let e = kiroku::query::parse_filter(&filter).unwrap_err();
        assert!(e.message.len() < 400, "a {}-byte message", e.message.len());
        let caret = e.render_caret(&filter);
        assert!(caret.len() < 400, "a {}-byte caret", caret.len());
        let (line, marker) = caret.split_once('\n').unwrap();
        let column = marker.chars().count() - 1;
        assert!(column <= line.chars().count(), "{caret}");
    }
    let e = kiroku::query::parse_filter("metrics.acc >").unwrap_err();
    assert_eq!(
        e.render_caret("metrics.acc >"),
        "metrics.acc >\n             ^"
    );
}

#[test]
fn error_answers_quote_a_huge_request_only_in_an_excerpt() {
    let p = Project::new();
    let server = Server::start(&p, &[]).unwrap();
    let huge_id = "z".repeat(1 << 20);
    let answer = reqwest::blocking::Client::new()
        .post(format!("{}/api/2.0/mlflow/runs/set-tag", server.url))
        .json(&serde_json::json!({"run_id": huge_id, "key": "k", "value": "v"}))
        .send()
        .unwrap();
    assert!(answer.status().is_client_error(), "{}", answer.status());
    let body: serde_json::Value = answer.json().unwrap();
    let message = body["message"].as_str().unwrap();
    assert!(message.len() < 1200, "a {}-byte message", message.len());
    assert!(message.contains("bytes left out"), "{message}");
}

#[test]
fn a_huge_bad_value_in_kiroku_toml_is_quoted_only_in_an_excerpt() {
    let huge = "a".repeat(1 << 20);
    let path = Path::new("kiroku.toml");
    for text in [
        format!("[run]\nflag_params = \"{huge}\"\n"),
        format!("[[scalars.patterns]]\nregex = \"({huge}\"\n"),
    ] {
        let e = kiroku::config::Config::parse(&text, path).unwrap_err();
        let message = e.to_string();
        assert!(message.len() < 1000, "a {}-byte message", message.len());
    }
}

/// A supervisor record of a process that is gone (this process's pid, another start time).
fn dead_supervisor(metrics_file: &Path) -> kiroku::model::Supervisor {
    let mut s = kiroku::supervise::supervisor_for(metrics_file).unwrap();
    s.start_ticks += 1;
    s
}

#[test]
fn a_lost_run_recovery_reads_no_file_outside_the_run_or_spool_folder() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join(".kiroku"), false).unwrap();
    let secret = dir.path().join("secret.jsonl");
    std::fs::write(&secret, "{\"params\": {\"secret\": \"hunter2\"}}\n").unwrap();
    let new = kiroku::model::NewRun {
        experiment: "e".into(),
        user: "mallory".into(),
        ..Default::default()
    };
    // Anyone with a write token can record any path: a file elsewhere, and a link named right.
    let elsewhere = store
        .create_supervised_run(&new, &dead_supervisor(&secret))
        .unwrap();
    let linked_id = kiroku::ids::new_run_id();
    let spool = dir.path().join("kiroku-spool").join(&linked_id);
    std::fs::create_dir_all(&spool).unwrap();
    std::os::unix::fs::symlink(&secret, spool.join("metrics.jsonl")).unwrap();
    let linked = store
        .create_supervised_run(
            &kiroku::model::NewRun {
                id: Some(linked_id),
                ..new.clone()
            },
            &dead_supervisor(&spool.join("metrics.jsonl")),
        )
        .unwrap();
    let mut lost = kiroku::supervise::recover_lost_runs(&store).unwrap();
    lost.sort();
    let mut expected = vec![elsewhere.id.clone(), linked.id.clone()];
    expected.sort();
    assert_eq!(lost, expected, "both end");
    for id in [&elsewhere.id, &linked.id] {
        let d = store.run(id).unwrap().run;
        assert_eq!(d.status, RunStatus::Lost);
        assert!(d.params.is_empty(), "{:?}", d.params);
    }
    assert!(secret.exists() && spool.exists(), "nothing removed");
}

#[test]
fn looks_at_once_from_several_processes_recover_a_lost_run_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join(".kiroku");
    let store = SqliteStore::open(&store_dir, false).unwrap();
    let id = kiroku::ids::new_run_id();
    let folder = store.run_dir(&id).unwrap();
    std::fs::create_dir_all(&folder).unwrap();
    let metrics = folder.canonicalize().unwrap().join("metrics.jsonl");
    let lines: String = (0..2000).map(|i| format!("{{\"x\": {i}}}\n")).collect();
    std::fs::write(&metrics, lines).unwrap();
    let new = kiroku::model::NewRun {
        id: Some(id.clone()),
        experiment: "e".into(),
        user: "alice".into(),
        ..Default::default()
    };
    store
        .create_supervised_run(&new, &dead_supervisor(&metrics))
        .unwrap();
    // Each looker has its own connection, as separate processes would.
    let lookers: Vec<_> = (0..6)
        .map(|_| {
            let store_dir = store_dir.clone();
            std::thread::spawn(move || {
                let store = SqliteStore::open(&store_dir, false).unwrap();
                kiroku::supervise::recover_lost_runs(&store).unwrap()
            })
        })
        .collect();
    let recovered: usize = lookers.into_iter().map(|l| l.join().unwrap().len()).sum();
    assert_eq!(recovered, 1);
    let steps: Vec<i64> = store
        .metric_series(&id, "x")
        .unwrap()
        .iter()
        .map(|p| p.step)
        .collect();
    assert_eq!(steps, (0..2000).collect::<Vec<i64>>());
}

/// A wrapped command that ignores SIGTERM (so the death signal of its wrapper does not stop it)
/// and keeps appending numbered points, acknowledging each one after it is written.
const STUBBORN_WRITER: &str = r#"
trap '' TERM
echo "$KIROKU_RUN_ID" > run_id.tmp && mv run_id.tmp run_id
echo $$ > child_pid
i=0
while :; do
  echo "{\"step\": $i, \"x\": $i}" >> "$KIROKU_METRICS_FILE"
  echo $i >> ack
  i=$((i+1))
done
"#;

#[test]
fn a_lost_run_is_recovered_only_once_its_command_has_stopped_writing() {
    let p = Project::new();
    let script = p.script("stubborn.sh", STUBBORN_WRITER);
    let mut wrapper = p
        .cmd(&["run", "--name", "stubborn", "--", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ack = p.path().join("ack");
    wait_for("some points", Duration::from_secs(30), || {
        std::fs::metadata(&ack).is_ok_and(|m| m.len() > 2_000)
    });
    signal(&wrapper, libc::SIGKILL);
    wrapper.wait().unwrap();
    let child: u32 = read_trimmed(&p.path().join("child_pid")).parse().unwrap();
    // The command outlives its wrapper (it ignores the death signal) and keeps writing.
    std::thread::sleep(Duration::from_millis(300));
    assert!(!is_gone(child), "the command should still be running");
    let run_id = read_trimmed(&p.path().join("run_id"));

    // One look: the orphaned command is stopped first, then everything it wrote is ingested.
    common::assert_ok(&p.cmd(&["runs", "ls"]).output().unwrap());
    assert!(is_gone(child), "the look should stop the orphaned command");
    let store = SqliteStore::open(&p.store_dir(), false).unwrap();
    assert_eq!(store.run(&run_id).unwrap().run.status, RunStatus::Lost);
    let text = std::fs::read_to_string(&ack).unwrap();
    let acked: Vec<i64> = text[..text.rfind('\n').map_or(0, |i| i + 1)]
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let steps: Vec<i64> = store
        .metric_series(&run_id, "x")
        .unwrap()
        .iter()
        .map(|p| p.step)
        .collect();
    assert!(
        steps.len() >= acked.len(),
        "{} points stored, {} acknowledged",
        steps.len(),
        acked.len()
    );
    assert_eq!(
        steps[..acked.len()],
        acked[..],
        "every acknowledged point, once, in order"
    );
}
