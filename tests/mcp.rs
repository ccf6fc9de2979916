//! kiroku as an MCP server, driven by the official Python MCP client (`tests/mcp_client.py`,
//! `pip install mcp`): `kiroku mcp` over stdio on a `kiroku demo` store, and `kiroku serve
//! --mcp` over streamable HTTP with tokens. What the agent gets is checked against what the
//! command line says about the same store: the same run for a filter, the same error message
//! and caret for a bad filter, the note in `kiroku note ls` under the right author.
mod common;

use common::raw_http::token;
use common::requires::require_python_module;
use common::{Project, Server};
use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// A project made by `kiroku demo` (seven real trainings, one diverging at lr=400).
fn demo_project() -> Project {
    let dir = tempfile::tempdir().unwrap();
    common::run_demo(dir.path(), 4);
    Project { dir }
}

/// Runs a plan (see `mcp_client.py`) through the Python client; returns its results.
fn client(mode_args: &[&str], cwd: &Path, plan: Value) -> Vec<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp_client.py");
    let mut child = Command::new("python3")
        .arg(script)
        .args(mode_args)
        .current_dir(cwd)
        .env("KIROKU_USER", "tester")
        .env("TZ", "UTC")
        .env_remove("KIROKU_STORE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(plan.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "mcp_client.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let v: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(v["server"], "kiroku");
    v["results"].as_array().unwrap().clone()
}

fn stdio(p: &Project, extra: &[&str], plan: Value) -> Vec<Value> {
    let store = p.store_dir();
    let mut args = vec![
        "stdio",
        env!("CARGO_BIN_EXE_kiroku"),
        store.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    client(&args, p.path(), plan)
}

fn tool_names(result: &Value) -> Vec<String> {
    result["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

/// What the command line prints after `kiroku: error: ` for `args`.
fn cli_error(p: &Project, args: &[&str]) -> String {
    let out = p.kiroku(args);
    assert!(!out.status.success());
    String::from_utf8(out.stderr)
        .unwrap()
        .trim_end()
        .strip_prefix("kiroku: error: ")
        .unwrap()
        .to_string()
}

#[test]
fn stdio_searches_reads_and_reports_errors_as_the_command_line_does() {
    if !require_python_module("mcp") {
        return;
    }
    let p = demo_project();
    let bad_filter = "metrics.val/acc > 0.5 and params.lr = ";
    let results = stdio(
        &p,
        &[],
        json!([
            {"op": "list_tools"},
            {"op": "call", "name": "search_runs", "args": {"filter": "params.lr = '400'", "columns": ["status", "params.lr"]}},
            {"op": "call", "name": "search_runs", "args": {"filter": bad_filter}},
            {"op": "call", "name": "get_run", "args": {"run": "no-such-run"}},
            {"op": "call", "name": "search_runs", "args": {"filtr": "x"}},
            {"op": "call", "name": "search_runs", "args": {"sort": "metrics.val/acc desc", "limit": 2}},
            {"op": "templates"},
        ]),
    );
    let tools = tool_names(&results[0]);
    for t in [
        "search_runs",
        "get_run",
        "compare_runs",
        "add_note",
        "submit_job",
    ] {
        assert!(tools.contains(&t.to_string()), "{tools:?}");
    }
    // The filter finds the diverging run, as `kiroku runs ls` does.
    let found = &results[1];
    assert_eq!(found["is_error"], false, "{found:#}");
    let cli = p.json(&["runs", "ls", "--filter", "params.lr = '400'"]);
    assert_eq!(found["structured"]["total"], 1);
    assert_eq!(found["structured"]["runs"][0]["id"], cli["runs"][0]["id"]);
    assert_eq!(found["structured"]["runs"][0]["status"], "failed");
    assert_eq!(
        found["structured"]["runs"][0]["params"],
        json!({"lr": "400"})
    );
    // A filter error is a tool error with the command line's message and caret.
    let bad = &results[2];
    assert_eq!(bad["is_error"], true, "{bad:#}");
    let expected = cli_error(&p, &["runs", "ls", "--filter", bad_filter]);
    assert_eq!(bad["text"], expected);
    assert_eq!(bad["structured"]["kind"], "query");
    assert!(
        bad["structured"]["message"]
            .as_str()
            .unwrap()
            .contains("column"),
        "{bad:#}"
    );
    assert!(bad["structured"]["caret"].as_str().unwrap().ends_with('^'));
    // An unknown run: the same message as `kiroku show`.
    assert_eq!(results[3]["is_error"], true);
    assert_eq!(results[3]["text"], cli_error(&p, &["show", "no-such-run"]));
    // A misspelt argument is named, with the one meant.
    let typo = results[4]["text"].as_str().unwrap();
    assert!(typo.contains("unknown argument 'filtr'") && typo.contains("'filter'"));
    // Sorted and limited: the best two by val/acc, as the command line orders them.
    let best = p.json(&[
        "runs",
        "ls",
        "--sort",
        "metrics.val/acc desc",
        "--limit",
        "2",
    ]);
    let ids = |v: &Value| -> Vec<Value> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].clone())
            .collect()
    };
    assert_eq!(ids(&results[5]["structured"]["runs"]), ids(&best["runs"]));
    assert_eq!(results[5]["structured"]["next_offset"], 2);
    assert_eq!(
        results[6]["templates"],
        json!(["kiroku://run/{id}", "kiroku://experiment/{id}"])
    );
}

#[test]
fn stdio_writes_are_attributed_and_marked_as_made_through_mcp() {
    if !require_python_module("mcp") {
        return;
    }
    let p = demo_project();
    let run = p.json(&["runs", "ls", "--filter", "params.lr = '400'"])["runs"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let results = stdio(
        &p,
        &["--as", "agent-ana"],
        json!([
            {"op": "call", "name": "add_note", "args": {"run": run, "body": "diverged: lr too high"}},
            {"op": "call", "name": "set_tags", "args": {"run": run, "tags": {"triage": "lr", "epochs": 4}}},
            {"op": "call", "name": "star_run", "args": {"run": run}},
            {"op": "call", "name": "activity", "args": {"since": "1h", "run": run}},
            {"op": "read", "uri": format!("kiroku://run/{run}")},
        ]),
    );
    assert_eq!(results[0]["is_error"], false, "{:#}", results[0]);
    let notes = p.json(&["note", "ls", &run]);
    let note = notes["notes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["body"] == "diverged: lr too high")
        .expect("the note written through MCP");
    assert_eq!(note["author"], "agent-ana");
    let shown = p.json(&["show", &run]);
    assert_eq!(shown["run"]["tags"]["triage"], "lr");
    assert_eq!(shown["run"]["tags"]["epochs"], "4");
    assert!(shown["run"]["stars"]
        .as_array()
        .unwrap()
        .contains(&json!("agent-ana")));
    // The activity log names the agent's user and marks the changes as made through MCP.
    let events = p.json(&["events", "--run", &run]);
    let by_agent: Vec<&Value> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["user"] == "agent-ana")
        .collect();
    assert!(by_agent.len() >= 3, "{events:#}");
    assert!(
        by_agent.iter().all(|e| e["detail"]["via"] == "mcp"),
        "{by_agent:#?}"
    );
    // The demo's own events (not through MCP) carry no mark.
    assert!(events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["user"] == "tester")
        .all(|e| e["detail"]["via"].is_null()));
    let feed = &results[3]["structured"]["events"];
    assert!(feed
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "note" || e["user"] == "agent-ana"));
    // The resource is the run as `kiroku show --format json` gives it.
    let resource: Value = serde_json::from_str(results[4]["text"].as_str().unwrap()).unwrap();
    assert_eq!(resource["schema"], "kiroku.run/v1");
    assert_eq!(resource["run"]["id"], shown["run"]["id"]);
}

#[test]
fn stdio_read_only_offers_and_runs_no_writing_tool() {
    if !require_python_module("mcp") {
        return;
    }
    let p = demo_project();
    let results = stdio(
        &p,
        &["--read-only"],
        json!([
            {"op": "list_tools"},
            {"op": "call", "name": "add_note", "args": {"run": "lr400-s1", "body": "x"}},
        ]),
    );
    let tools = tool_names(&results[0]);
    assert!(tools.contains(&"search_runs".to_string()));
    for write in ["add_note", "set_tags", "submit_job", "cancel_job"] {
        assert!(!tools.contains(&write.to_string()), "{tools:?}");
    }
    assert_eq!(results[1]["is_error"], true);
    assert!(
        results[1]["text"].as_str().unwrap().contains("--read-only"),
        "{:#}",
        results[1]
    );
}

#[test]
fn serve_mcp_over_http_follows_the_tokens() {
    if !require_python_module("mcp") {
        return;
    }
    let p = demo_project();
    let writer = token(&p, "alice", false);
    let reader = token(&p, "bob", true);
    let server = Server::start(&p, &["--mcp"]).unwrap();
    // A job's token (`job:…`) writes only into its job's run: no writing tool. (Made after the
    // server started, which revokes those an earlier server left.)
    let job = token(&p, "job:eval m/1", false);
    let url = format!("{}/mcp", server.url);
    let run = p.json(&["runs", "ls", "--filter", "params.lr = '400'"])["runs"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let plan = json!([
        {"op": "list_tools"},
        {"op": "call", "name": "search_runs", "args": {"filter": "params.lr = '400'"}},
        {"op": "call", "name": "add_note", "args": {"run": run, "body": "seen over http"}},
    ]);
    let as_writer = client(&["http", &url, &writer], p.path(), plan.clone());
    assert_eq!(as_writer[1]["structured"]["runs"][0]["id"], json!(run));
    assert_eq!(as_writer[2]["is_error"], false, "{:#}", as_writer[2]);
    assert_eq!(as_writer[2]["structured"]["note"]["author"], "alice");
    let as_job = client(&["http", &url, &job], p.path(), plan.clone());
    assert_eq!(as_job[1]["structured"]["total"], 1);
    assert_eq!(as_job[2]["is_error"], true, "{:#}", as_job[2]);
    let as_reader = client(&["http", &url, &reader], p.path(), plan);
    let tools = tool_names(&as_reader[0]);
    assert!(tools.contains(&"search_runs".to_string()));
    assert!(!tools.contains(&"add_note".to_string()), "{tools:?}");
    assert_eq!(as_reader[1]["structured"]["total"], 1);
    assert_eq!(as_reader[2]["is_error"], true);
    assert!(
        as_reader[2]["text"]
            .as_str()
            .unwrap()
            .contains("the token of 'bob' is read-only"),
        "{:#}",
        as_reader[2]
    );
    let notes = p.json(&["note", "ls", &run]);
    let bodies: Vec<(&str, &str)> = notes["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["author"].as_str().unwrap(), n["body"].as_str().unwrap()))
        .collect();
    assert!(bodies.contains(&("alice", "seen over http")), "{bodies:?}");
    assert!(!bodies.iter().any(|(a, _)| *a == "bob"), "{bodies:?}");
    // Without a token, /mcp answers nothing.
    let (status, _) = common::raw_http::raw(
        &server.url,
        &common::raw_http::request("POST", "/mcp", None, b"{}"),
    );
    assert_eq!(status, 401);
}

#[test]
fn a_job_submitted_through_mcp_runs_and_its_status_is_read_back() {
    if !require_python_module("mcp") {
        return;
    }
    let p = Project::new();
    let script = p.script("job.sh", "echo \"training with $1\"\necho done\n");
    let results = stdio(
        &p,
        &["--as", "agent-ana"],
        json!([
            {"op": "call", "name": "preview_submit", "args": {"command": [script, "lr=0.1"], "name": "mcp-job"}},
            {"op": "call", "name": "submit_job", "args": {"command": [script, "lr=0.1"], "name": "mcp-job", "params": {"lr": 0.1}}},
            {"op": "poll", "name": "job_status", "args": {"job": 1, "lines": 10},
             "path": ["job", "status"], "until": ["finished", "failed", "cancelled", "lost"], "timeout": 90},
            {"op": "call", "name": "cancel_job", "args": {"job": 1}},
        ]),
    );
    let preview = &results[0]["structured"]["preview"];
    assert_eq!(preview["target"], "local", "{:#}", results[0]);
    assert_eq!(preview["starts_now"], true, "{:#}", results[0]);
    let job = &results[1]["structured"]["job"];
    assert_eq!(job["id"], 1, "{:#}", results[1]);
    assert_eq!(job["user"], "agent-ana");
    let status = &results[2]["structured"];
    assert_eq!(status["job"]["status"], "finished", "{status:#}");
    let log: Vec<&str> = status["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["text"].as_str().unwrap())
        .collect();
    assert_eq!(log, vec!["training with lr=0.1", "done"]);
    // The job's run is a real run, with the params given.
    let run = status["job"]["run_id"].as_str().unwrap();
    let shown = p.json(&["show", run]);
    assert_eq!(shown["run"]["params"]["lr"], "0.1");
    assert_eq!(p.json(&["jobs", "show", "1"])["job"]["status"], "finished");
    // Cancelling without confirm only previews.
    assert_eq!(results[3]["structured"]["preview"], true);
    assert!(results[3]["text"]
        .as_str()
        .unwrap()
        .contains("already ended"));
}

#[test]
fn data_reviews_and_model_promotions_through_mcp_act_as_the_command_line_does() {
    if !require_python_module("mcp") {
        return;
    }
    let p = Project::new();
    std::fs::write(p.path().join("train.csv"), "id,age\n1,34\n2,\n3,51\n").unwrap();
    std::fs::write(
        p.path().join("suite.toml"),
        "[suite]\nname = \"s\"\n\n[[check]]\nid = \"age-known\"\ntype = \"not_null\"\ncolumn = \"age\"\n",
    )
    .unwrap();
    let out = p.kiroku(&[
        "check",
        "suite.toml",
        "--data",
        "train=train.csv",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "the null age fails the check");
    let check_run = serde_json::from_slice::<Value>(&out.stdout).unwrap()["id"].clone();
    // Two runs to register: one good enough for production, one not.
    std::fs::write(
        p.path().join("kiroku.toml"),
        "[models.churn.aliases.production]\nrequire = [\"metrics.acc >= 0.9\"]\n",
    )
    .unwrap();
    let mut runs = Vec::new();
    for acc in ["0.97", "0.5"] {
        p.ok(&[
            "run",
            "--name",
            &format!("acc-{acc}"),
            "--",
            "echo",
            &format!("acc: {acc}"),
        ]);
        runs.push(
            p.json(&["runs", "ls", "--filter", &format!("name = 'acc-{acc}'")])["runs"][0]["id"]
                .clone(),
        );
    }
    for run in &runs {
        p.ok(&["model", "register", run.as_str().unwrap(), "churn"]);
    }
    let refused_by_gate = p.kiroku(&["run", "--require-checks", "train", "--", "true"]);
    assert_eq!(refused_by_gate.status.code(), Some(1));
    let results = stdio(
        &p,
        &["--as", "agent-ana"],
        json!([
            {"op": "call", "name": "list_datasets", "args": {}},
            {"op": "call", "name": "pending_reviews", "args": {}},
            {"op": "call", "name": "review_check", "args": {"check_run": check_run, "verdict": "maybe"}},
            {"op": "call", "name": "review_check", "args": {"check_run": check_run, "verdict": "waive", "reason": "imputed later"}},
            {"op": "call", "name": "pending_reviews", "args": {}},
            {"op": "call", "name": "gate_verdict", "args": {"model": "churn", "alias": "production", "version": 2}},
            {"op": "call", "name": "promote_model", "args": {"model": "churn", "alias": "production", "version": 2, "confirm": true}},
            {"op": "call", "name": "promote_model", "args": {"model": "churn", "alias": "production", "version": 1}},
            {"op": "call", "name": "promote_model", "args": {"model": "churn", "alias": "production", "version": 1, "confirm": true, "reason": "best acc"}},
            {"op": "call", "name": "list_models", "args": {}},
        ]),
    );
    assert_eq!(results[0]["structured"]["datasets"][0]["name"], "train");
    let pending = results[1]["structured"]["pending"].as_array().unwrap();
    assert_eq!(pending.len(), 1, "{:#}", results[1]);
    assert_eq!(pending[0]["result"], "age-known");
    assert_eq!(pending[0]["check_run"], check_run);
    assert_eq!(results[2]["is_error"], true);
    assert!(results[2]["text"].as_str().unwrap().contains("'maybe'"));
    let review = &results[3]["structured"]["reviews"][0];
    assert_eq!(review["reviewer"], "agent-ana", "{:#}", results[3]);
    assert_eq!(review["verdict"], "waived");
    assert_eq!(results[4]["structured"]["pending"], json!([]));
    // The waiver recorded through MCP lifts the command line's gate.
    p.ok(&["run", "--require-checks", "train", "--", "true"]);
    // The gate refuses version 2 (acc 0.5), through the verdict and the promotion alike.
    let conditions = results[5]["structured"]["result"]["conditions"]
        .as_array()
        .unwrap();
    assert!(
        conditions.iter().any(|c| c["passed"] == false),
        "{:#}",
        results[5]
    );
    assert!(
        results[6]["structured"]["result"]["move"].is_null(),
        "{:#}",
        results[6]
    );
    assert!(results[6]["text"].as_str().unwrap().starts_with("refused"));
    // Without confirm: a preview, nothing moved.
    assert_eq!(results[7]["structured"]["result"]["preview"], true);
    assert!(
        results[7]["text"]
            .as_str()
            .unwrap()
            .contains("is not set now"),
        "{:#}",
        results[7]
    );
    let moved = &results[8]["structured"]["result"]["move"];
    assert_eq!(moved["to_version"], 1, "{:#}", results[8]);
    assert_eq!(moved["user"], "agent-ana");
    let history = p.json(&["model", "history", "churn"]);
    assert!(history.to_string().contains("best acc"), "{history:#}");
    assert!(
        results[9]["text"]
            .as_str()
            .unwrap()
            .contains("production→1"),
        "{:#}",
        results[9]
    );
}

#[test]
fn stdio_on_a_served_store_marks_the_servers_activity_log_too() {
    if !require_python_module("mcp") {
        return;
    }
    let p = demo_project();
    let server = Server::start(&p, &[]).unwrap();
    let results = client(
        &[
            "stdio",
            env!("CARGO_BIN_EXE_kiroku"),
            &server.url,
            "--as",
            "agent-ana",
        ],
        p.path(),
        json!([
            {"op": "call", "name": "add_note", "args": {"run": "lr400-s1", "body": "through a server"}},
        ]),
    );
    assert_eq!(results[0]["is_error"], false, "{:#}", results[0]);
    assert_eq!(results[0]["structured"]["note"]["author"], "agent-ana");
    let events = p.json(&["events", "--run", "lr400-s1"]);
    let note = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["user"] == "agent-ana")
        .expect("the note's event");
    assert_eq!(note["detail"]["via"], "mcp", "{note:#}");
}
