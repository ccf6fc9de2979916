//! `kiroku model` end to end on a real project store with real jobs: gated promotion refused by
//! each kind of gate (a threshold on the run and on its evaluation, better than the current
//! holder, the training data's checks, approvals) and then allowed; `--force` recorded;
//! evaluation on registration (a job with the version in its environment whose metrics attach
//! to the version); the alias history, "what was in production at T", and rollback; deploy
//! hooks: a command run as a job with the event in its environment, and a webhook checked by a
//! receiver in this test (HMAC-SHA256 computed here, independently) that fails the first
//! delivery so the retry is seen, by `hooks deliver` and by the job scheduler's loop.
mod common;

use common::hook_receiver::receiver;
use common::{wait_for, wait_for_explained, Project};
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

fn write(p: &Project, name: &str, text: &str) -> String {
    let path = p.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// A finished run named `name` printing `metrics` (as `key: value` lines), reading `inputs`.
fn train(p: &Project, name: &str, metrics: &[(&str, f64)], inputs: &[&str]) -> String {
    let printed: String = metrics
        .iter()
        .map(|(k, v)| format!("echo {k}: {v}; "))
        .collect();
    let mut args = vec!["run", "--name", name];
    for input in inputs {
        args.extend(["--input", input]);
    }
    args.extend(["--", "sh", "-c", &printed]);
    p.ok(&args);
    p.json(&["show", name])["run"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `kiroku ARGS --format json`: the exit code and the JSON printed (Null when none).
fn model_json(p: &Project, args: &[&str]) -> (i32, Value, String) {
    let mut all = vec!["model"];
    all.extend(args);
    all.extend(["--format", "json"]);
    let out = p.kiroku(&all);
    let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        json,
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// The failing conditions' kinds of a promotion's verdict.
fn failing(promotion: &Value) -> Vec<String> {
    promotion["result"]["verdict"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .map(|c| c["kind"].as_str().unwrap().to_string())
        .collect()
}

fn register(p: &Project, run: &str, model: &str) -> i64 {
    let (code, json, err) = model_json(p, &["register", run, model]);
    assert_eq!(code, 0, "{err}");
    json["result"]["version"]["version"].as_i64().unwrap()
}

/// Waits for the evaluation of `model/version` to finish; returns the version's view.
fn evaluated(p: &Project, model: &str, version: i64) -> Value {
    let target = format!("{model}/{version}");
    let mut view = Value::Null;
    wait_for(&format!("the evaluation of {target}"), || {
        let (_, json, _) = model_json(p, &["show", &target]);
        view = json["result"]["versions"][0].clone();
        view["evaluation"]["status"] == "finished"
    });
    view
}

const TRAIN_CSV: &str = "id,age,city\n1,34,Lyon\n2,,Nice\n3,51,Paris\n";

const GATED: &str = r#"
[models.churn]
evaluate = { command = "./eval.sh" }

[models.churn.aliases.production]
require = ["metrics.acc >= 0.95", "metrics.eval_acc >= 0.9"]
better_than_current = "-loss"
data_checks = "reviewed"
approvals = 1
"#;

#[test]
fn each_kind_of_gate_refuses_then_allows_and_force_is_recorded() {
    let p = Project::new();
    write(&p, "kiroku.toml", GATED);
    // The evaluation: its environment into a file, and a metric from the version's number.
    p.script(
        "eval.sh",
        "env | grep -E '^(KIROKU_MODEL_|KIROKU_RUN_ID)' | sort > \"eval-env-$KIROKU_MODEL_VERSION.txt\"\necho eval_acc: 0.9$KIROKU_MODEL_VERSION\n",
    );
    write(&p, "train.csv", TRAIN_CSV);
    let suite = write(
        &p,
        "suite.toml",
        "[suite]\nname = \"s\"\n\n[[check]]\nid = \"age-known\"\ntype = \"not_null\"\ncolumn = \"age\"\n",
    );
    let checked = p.kiroku(&[
        "check",
        &suite,
        "--data",
        "train=train.csv",
        "--format",
        "json",
    ]);
    assert_eq!(
        checked.status.code(),
        Some(1),
        "the check fails on a missing age"
    );
    let check_run: Value = serde_json::from_slice(&checked.stdout).unwrap();
    let check_id = check_run["id"].as_i64().unwrap().to_string();

    let run1 = train(
        &p,
        "r1",
        &[("acc", 0.96), ("loss", 0.2)],
        &["train=train.csv"],
    );
    assert_eq!(register(&p, "r1", "churn"), 1);
    // Evaluation on registration: a job with the version in its environment, whose metrics
    // attach to the version.
    let v1 = evaluated(&p, "churn", 1);
    assert_eq!(v1["evaluation_metrics"]["eval_acc"], 0.91);
    let env = std::fs::read_to_string(p.path().join("eval-env-1.txt")).unwrap();
    for line in [
        "KIROKU_MODEL_NAME=churn".to_string(),
        "KIROKU_MODEL_VERSION=1".to_string(),
        format!("KIROKU_MODEL_RUN_ID={run1}"),
        format!("KIROKU_MODEL_SOURCE=runs:/{run1}/model"),
    ] {
        assert!(env.lines().any(|l| l == line), "{line} in:\n{env}");
    }
    let eval_run = v1["evaluation"]["run_id"].as_str().unwrap();
    assert!(env.contains(&format!("KIROKU_RUN_ID={eval_run}")), "{env}");

    // Data checks (not reviewed) and approvals (none) refuse; the thresholds pass.
    let (code, refused, err) = model_json(&p, &["alias", "churn@production", "1"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(failing(&refused), ["data_checks", "approvals"]);
    assert!(
        err.contains("training data checks reviewed") && err.contains("approvals >= 1"),
        "{err}"
    );
    assert!(
        err.contains("not reviewed"),
        "the data gate's own words: {err}"
    );
    p.ok(&[
        "review",
        &check_id,
        "--waive",
        "-m",
        "one row, imputed later",
    ]);
    let (code, refused, _) = model_json(&p, &["alias", "churn@production", "1"]);
    assert_eq!(
        (code, failing(&refused)),
        (1, vec!["approvals".to_string()])
    );
    // A rejection blocks until that reviewer approves.
    let (code, _, _) = model_json(&p, &["reject", "churn/1", "-m", "wait for the audit"]);
    assert_eq!(code, 0);
    let (code, refused, _) = model_json(&p, &["alias", "churn@production", "1"]);
    assert_eq!(
        (code, failing(&refused)),
        (1, vec!["approvals".to_string()])
    );
    model_json(
        &p,
        &[
            "approve",
            "churn/1",
            "--alias",
            "production",
            "-m",
            "audit done",
        ],
    );
    let (code, moved, err) = model_json(&p, &["alias", "churn@production", "1", "-m", "first"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(moved["result"]["move"]["to_version"], 1);
    assert_eq!(moved["result"]["move"]["forced"], false);

    // A threshold on the training run refuses (acc 0.93), the rest passes.
    train(
        &p,
        "r2",
        &[("acc", 0.93), ("loss", 0.15)],
        &["train=train.csv"],
    );
    register(&p, "r2", "churn");
    evaluated(&p, "churn", 2);
    model_json(&p, &["approve", "churn/2", "-m", "ok"]);
    let (code, refused, _) = model_json(&p, &["alias", "churn@production", "2"]);
    assert_eq!((code, failing(&refused)), (1, vec!["require".to_string()]));

    // Worse than the version production holds (loss 0.25 > 0.2: lower is better) refuses.
    train(
        &p,
        "r3",
        &[("acc", 0.97), ("loss", 0.25)],
        &["train=train.csv"],
    );
    register(&p, "r3", "churn");
    evaluated(&p, "churn", 3);
    model_json(&p, &["approve", "churn/3", "-m", "ok"]);
    let (code, refused, err) = model_json(&p, &["alias", "churn@production", "3"]);
    assert_eq!(
        (code, failing(&refused)),
        (1, vec!["better_than_current".to_string()])
    );
    assert!(err.contains("loss = 0.25 vs 0.2 for version 1"), "{err}");
    // --force moves it anyway, recorded as forced, with what it overrode.
    let (code, forced, _) = model_json(&p, &["alias", "churn@production", "3", "--force"]);
    assert_eq!(code, 0);
    assert_eq!(forced["result"]["move"]["forced"], true);
    let (_, history, _) = model_json(&p, &["history", "churn"]);
    let last = history["result"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (last["from_version"].clone(), last["to_version"].clone()),
        (1.into(), 3.into())
    );
    assert_eq!(last["forced"], true);
    assert!(
        last["reason"].as_str().unwrap().contains("better"),
        "{last}"
    );

    // A threshold on the evaluation's metric: version 4's evaluation prints 0.94 (≥ 0.9), the
    // training run passes too; everything holds.
    train(
        &p,
        "r4",
        &[("acc", 0.98), ("loss", 0.1)],
        &["train=train.csv"],
    );
    register(&p, "r4", "churn");
    let (code, refused, _) = model_json(&p, &["gate", "churn@production", "4"]);
    assert_eq!(code, 1, "no evaluation metric yet, no approval: {refused}");
    evaluated(&p, "churn", 4);
    model_json(&p, &["approve", "churn/4", "-m", "ok"]);
    let (code, moved, err) = model_json(&p, &["alias", "churn@production", "4"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(moved["result"]["move"]["from_version"], 3);
    // `show` carries the gate of each version and the approvals.
    let (_, shown, _) = model_json(&p, &["show", "churn"]);
    let versions = shown["result"]["versions"].as_array().unwrap();
    assert_eq!(versions[0]["version"], 4);
    assert_eq!(versions[0]["gates"][0]["alias"], "production");
    assert!(versions[0]["approvals"][0]["reviewer"] == "tester");
    // The approvals are in the activity log, as data reviews are.
    let events = p.json(&["events"]);
    let kinds: Vec<&str> = events["events"]
        .as_array()
        .or_else(|| events.as_array())
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"model.approved") && kinds.contains(&"model.rejected"),
        "{kinds:?}"
    );
}

/// A time as the CLI takes it, in UTC, to the second.
fn utc_text(ms: i64) -> String {
    let out = std::process::Command::new("date")
        .args([
            "-u",
            "-d",
            &format!("@{}", ms / 1000),
            "+%Y-%m-%dT%H:%M:%SZ",
        ])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn history_answers_what_an_alias_held_and_rollback_undoes_the_last_move() {
    let p = Project::new();
    for (i, name) in ["run-a", "run-b", "run-c"].iter().enumerate() {
        train(&p, name, &[("acc", 0.9 + i as f64 / 100.0)], &[]);
        register(&p, name, "fraud");
    }
    let (code, _, err) = model_json(&p, &["rollback", "fraud@production"]);
    assert_ne!(code, 0);
    assert!(err.contains("never been set"), "{err}");
    let mut times = Vec::new();
    for v in ["1", "2", "3"] {
        let (code, moved, err) = model_json(&p, &["alias", "fraud@production", v, "-m", "ship"]);
        assert_eq!(code, 0, "{err}");
        times.push(moved["result"]["move"]["time"].as_i64().unwrap());
        std::thread::sleep(Duration::from_millis(1100));
    }
    // Between the second move and the third, production held version 2.
    let at = utc_text(times[1] + 999);
    let (_, held, _) = model_json(&p, &["history", "fraud", "--at", &at]);
    let aliases = held["result"]["aliases"].as_array().unwrap();
    assert_eq!(aliases.len(), 1);
    assert_eq!(
        (aliases[0]["alias"].clone(), aliases[0]["version"].clone()),
        ("production".into(), 2.into())
    );
    let (_, before, _) = model_json(&p, &["history", "fraud", "--at", "2001-01-01"]);
    assert!(before["result"]["aliases"].as_array().unwrap().is_empty());
    // Rollback: back to what it held before its last move, recorded as a rollback.
    let (code, rolled, err) = model_json(&p, &["rollback", "fraud@production", "-m", "alerts"]);
    assert_eq!(code, 0, "{err}");
    let step = &rolled["result"]["move"];
    assert_eq!(
        (step["from_version"].clone(), step["to_version"].clone()),
        (3.into(), 2.into())
    );
    let reason = step["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("rollback of move") && reason.ends_with("alerts"),
        "{reason}"
    );
    let (_, history, _) = model_json(&p, &["history", "fraud", "--alias", "production"]);
    assert_eq!(history["result"].as_array().unwrap().len(), 4);
    // A rollback of the rollback goes forward again.
    let (_, again, _) = model_json(&p, &["rollback", "fraud@production"]);
    assert_eq!(again["result"]["move"]["to_version"], 3);
}

/// `v1,<base64 HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>`, computed here with the
/// `hmac` crate and Python's standard library as a second opinion.
fn expected_signature(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let script = "import base64,hashlib,hmac,sys\nsecret, msg = sys.argv[1].encode(), sys.stdin.buffer.read()\nprint('v1,' + base64.b64encode(hmac.new(secret, msg, hashlib.sha256).digest()).decode())";
    let mut message = format!("{id}.{timestamp}.").into_bytes();
    message.extend_from_slice(body);
    let mut child = std::process::Command::new("python3")
        .args(["-c", script, secret])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child.stdin.take().unwrap().write_all(&message).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A project whose model `churn` has a webhook `notify` to `url` (when given) and a command
/// hook `deploy` (when given), both for `production`.
fn hooked_project(url: Option<&str>, command: Option<&str>) -> Project {
    let p = Project::new();
    let mut toml = String::new();
    if let Some(url) = url {
        toml.push_str(&format!(
            "[[models.churn.hooks]]\nname = \"notify\"\non = [\"alias_moved\"]\naliases = [\"production\"]\nurl = \"{url}\"\nsecret_env = \"HOOK_SECRET\"\n"
        ));
    }
    if let Some(command) = command {
        toml.push_str(&format!(
            "[[models.churn.hooks]]\nname = \"deploy\"\naliases = [\"production\"]\ncommand = \"{command}\"\n"
        ));
    }
    write(&p, "kiroku.toml", &toml);
    p
}

/// `kiroku model ARGS --format json` with the hook secret in the environment.
fn with_secret(p: &Project, args: &[&str]) -> (i32, Value, String) {
    let mut all = vec!["model"];
    all.extend(args);
    all.extend(["--format", "json"]);
    let out = p.cmd(&all).env("HOOK_SECRET", "s3cret").output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn env_file(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn delivery<'a>(promotion: &'a Value, hook: &str) -> &'a Value {
    promotion["result"]["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["hook"] == hook)
        .unwrap_or_else(|| panic!("no {hook} delivery in {promotion}"))
}

#[test]
fn webhooks_are_signed_and_a_failed_delivery_is_retried() {
    if !common::requires::require_tool("python3", &["--version"]) {
        return;
    }
    let (url, got) = receiver(1);
    let p = hooked_project(Some(&url), None);
    let run1 = train(&p, "r1", &[("acc", 0.9)], &[]);
    register(&p, "r1", "churn");
    train(&p, "r2", &[("acc", 0.95)], &[]);
    register(&p, "r2", "churn");
    assert!(
        got.lock().unwrap().is_empty(),
        "no hook fires on version_created"
    );
    // The first delivery gets a 503 and waits for its retry.
    let (code, moved, err) = with_secret(&p, &["alias", "churn@production", "1"]);
    assert_eq!(code, 0, "{err}");
    let first = delivery(&moved, "notify");
    assert_eq!(first["state"], "pending", "{first}");
    assert_eq!(first["attempts"][0]["status_code"], 503);
    let (_, listed, _) = with_secret(&p, &["hooks", "ls", "churn"]);
    assert_eq!(
        listed["result"]["deliveries"][0]["attempts"][0]["status_code"],
        503
    );
    // `hooks deliver --now` retries it; the receiver sees the same delivery id again.
    let (code, delivered, err) = with_secret(&p, &["hooks", "deliver", "--now"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(delivered["result"][0]["state"], "delivered", "{delivered}");
    let attempts = delivered["result"][0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[1]["status_code"], 200);
    let (code, moved, _) = with_secret(&p, &["alias", "churn@production", "2", "-m", "ship"]);
    assert_eq!(code, 0);
    assert_eq!(delivery(&moved, "notify")["state"], "delivered");
    let requests = got.lock().unwrap().clone();
    assert_eq!(requests.len(), 3);
    assert_eq!(
        requests[0].header("X-MLflow-Delivery-Id"),
        requests[1].header("X-MLflow-Delivery-Id")
    );
    assert_ne!(
        requests[1].header("X-MLflow-Delivery-Id"),
        requests[2].header("X-MLflow-Delivery-Id")
    );
    for r in &requests {
        let id = r.header("X-MLflow-Delivery-Id");
        let ts = r.header("X-MLflow-Timestamp");
        assert!(ts.parse::<i64>().unwrap() > 1_700_000_000, "seconds: {ts}");
        assert_eq!(
            r.header("X-MLflow-Signature"),
            expected_signature("s3cret", id, ts, &r.body),
            "signature of {id}"
        );
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["entity"], "model_version_alias");
        assert_eq!(body["action"], "created");
        assert_eq!(body["data"]["name"], "churn");
        assert_eq!(body["data"]["alias"], "production");
    }
    let body: Value = serde_json::from_slice(&requests[2].body).unwrap();
    assert_eq!(body["data"]["version"], "2");
    assert_eq!(body["data"]["previous_version"], "1");
    // A rollback fires it too.
    let (code, rolled, _) = with_secret(&p, &["rollback", "churn@production"]);
    assert_eq!(code, 0);
    assert_eq!(delivery(&rolled, "notify")["state"], "delivered");
    let body: Value = serde_json::from_slice(&got.lock().unwrap()[3].body).unwrap();
    assert_eq!(body["data"]["rollback"], true);
    assert_eq!(body["data"]["version"], "1");
    assert_eq!(body["data"]["run_id"], run1.as_str());
    // A test delivery.
    let (code, tested, err) = with_secret(&p, &["hooks", "test", "churn"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(tested["result"][0]["state"], "delivered");
    let body: Value = serde_json::from_slice(&got.lock().unwrap()[4].body).unwrap();
    assert_eq!(body["action"], "test");
    // Without its secret a webhook is not sent unsigned: the attempt fails, saying why.
    let (code, untested, _) = model_json(&p, &["hooks", "test", "churn"]);
    assert_eq!(code, 1);
    let error = untested["result"][0]["attempts"][0]["error"]
        .as_str()
        .unwrap();
    assert!(error.contains("HOOK_SECRET"), "{error}");
    assert_eq!(got.lock().unwrap().len(), 5);
}

#[test]
fn a_hook_command_runs_as_a_job_with_the_event_in_its_environment() {
    let p = hooked_project(
        None,
        Some("env | grep ^KIROKU_ | sort > hook-$KIROKU_MODEL_VERSION.txt"),
    );
    train(&p, "r1", &[("acc", 0.9)], &[]);
    register(&p, "r1", "churn");
    train(&p, "r2", &[("acc", 0.95)], &[]);
    register(&p, "r2", "churn");
    model_json(&p, &["alias", "churn@production", "1"]);
    let (code, moved, err) = model_json(&p, &["alias", "churn@production", "2"]);
    assert_eq!(code, 0, "{err}");
    let deploy = delivery(&moved, "deploy");
    assert_eq!(deploy["state"], "delivered");
    let job = deploy["attempts"][0]["job_id"].as_i64().unwrap();
    let file = p.path().join("hook-2.txt");
    wait_for_explained(
        "the deploy hook's job",
        || !env_file(&file).is_empty(),
        || p.jobs_state(),
    );
    let env = env_file(&file);
    for line in [
        "KIROKU_MODEL_NAME=churn",
        "KIROKU_MODEL_ALIAS=production",
        "KIROKU_MODEL_VERSION=2",
        "KIROKU_MODEL_PREVIOUS_VERSION=1",
        "KIROKU_MODEL_ROLLBACK=false",
        "KIROKU_HOOK_EVENT=alias_moved",
    ] {
        assert!(env.iter().any(|l| l == line), "{line} in {env:?}");
    }
    assert!(
        env.iter()
            .any(|l| l.starts_with("KIROKU_MODEL_SOURCE=runs:/")),
        "{env:?}"
    );
    // It is a job of the queue like any other.
    let shown = p.json(&["jobs", "show", &job.to_string()]);
    assert!(shown.to_string().contains("hook churn deploy"), "{shown}");
    // A rollback fires it with the versions the other way round.
    let (code, _, _) = model_json(&p, &["rollback", "churn@production"]);
    assert_eq!(code, 0);
    let file = p.path().join("hook-1.txt");
    wait_for_explained(
        "the rollback's hook job",
        || {
            env_file(&file)
                .iter()
                .any(|l| l == "KIROKU_MODEL_ROLLBACK=true")
        },
        || p.jobs_state(),
    );
    assert!(env_file(&file)
        .iter()
        .any(|l| l == "KIROKU_MODEL_PREVIOUS_VERSION=2"));
    // Deleting the version production holds removes the alias: a move to nothing in the
    // history, and the hook hears it (no version now, the previous one given).
    let (code, deleted, err) = model_json(&p, &["delete", "churn/1", "-m", "retired"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(deleted["result"]["moves"][0]["alias"], "production");
    assert_eq!(deleted["result"]["moves"][0]["to_version"], Value::Null);
    assert_eq!(delivery(&deleted, "deploy")["state"], "delivered");
    let file = p.path().join("hook-.txt");
    wait_for_explained(
        "the deletion's hook job",
        || !env_file(&file).is_empty(),
        || p.jobs_state(),
    );
    let env = env_file(&file);
    for line in [
        "KIROKU_HOOK_EVENT=alias_deleted",
        "KIROKU_MODEL_ALIAS=production",
        "KIROKU_MODEL_PREVIOUS_VERSION=1",
    ] {
        assert!(env.iter().any(|l| l == line), "{line} in {env:?}");
    }
    let (_, history, _) = model_json(&p, &["history", "churn"]);
    let last = history["result"]
        .as_array()
        .and_then(|m| m.last().cloned())
        .unwrap_or_else(|| panic!("moves in {history}"));
    assert_eq!(last["reason"], "version 1 deleted: retired", "{history}");
}

#[test]
fn the_job_scheduler_retries_due_deliveries() {
    let (url, got) = receiver(1);
    // The deploy command keeps the scheduler busy past the first retry's backoff (2 s).
    let p = hooked_project(Some(&url), Some("sleep 6"));
    train(&p, "r1", &[("acc", 0.9)], &[]);
    register(&p, "r1", "churn");
    let (code, moved, err) = with_secret(&p, &["alias", "churn@production", "1"]);
    assert_eq!(code, 0, "{err}");
    let webhook = delivery(&moved, "notify");
    assert_eq!(webhook["state"], "pending", "{webhook}");
    // Nobody runs `hooks deliver`: the scheduler (started for the deploy job, with the
    // secret in its environment as the command that started it had) retries it.
    wait_for("the scheduler's retry", || got.lock().unwrap().len() >= 2);
    wait_for("the retry recorded", || {
        let (_, listed, _) = with_secret(&p, &["hooks", "ls", "churn"]);
        listed["result"]["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["hook"] == "notify" && d["state"] == "delivered")
    });
}

#[test]
fn a_version_registered_before_its_evaluation_was_configured_is_evaluated_by_the_next_model_command(
) {
    // (One registered through the MLflow API while `evaluate` is configured is evaluated as it
    // is created: tests/mlflow_model_gates.rs.)
    let p = Project::new();
    let run = train(&p, "r1", &[("acc", 0.9)], &[]);
    let server = common::Server::start(&p, &[]).unwrap();
    let client = reqwest::blocking::Client::new();
    let post = |path: &str, body: Value| {
        let response = client
            .post(format!("{}/api/2.0/mlflow/{path}", server.url))
            .json(&body)
            .send()
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.text().unwrap()
        );
    };
    post(
        "registered-models/create",
        serde_json::json!({"name": "churn"}),
    );
    post(
        "model-versions/create",
        serde_json::json!({"name": "churn", "source": format!("runs:/{run}/model"), "run_id": run}),
    );
    drop(server);
    write(
        &p,
        "kiroku.toml",
        "[models.churn]\nevaluate = { command = \"echo eval_acc: 0.88\" }\n",
    );
    let evaluations = |p: &Project| {
        let (_, shown, _) = model_json(p, &["show", "churn/1"]);
        shown["result"]["versions"][0]["evaluation"].clone()
    };
    let out = p.kiroku(&["model", "ls", "--format", "json"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("evaluating churn/1"), "{err}");
    assert!(evaluations(&p)["job_id"].is_i64());
    let v1 = evaluated(&p, "churn", 1);
    assert_eq!(v1["evaluation_metrics"]["eval_acc"], 0.88);
    // Evaluated once: the next command submits nothing more.
    let out = p.kiroku(&["model", "ls", "--format", "json"]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("evaluating"));
}
