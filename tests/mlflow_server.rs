//! The real `mlflow` Python client against a live `kiroku serve`, then the headless commands
//! on the same store; and the zero-change path (`kiroku run --mlflow`).
mod common;
use common::requires::require_python_module;
use common::{assert_ok, python_findings, Project, Server};

#[test]
fn mlflow_client_logs_searches_and_reads_back_through_kiroku_serve() {
    if !require_python_module("mlflow") {
        return;
    }
    let project = Project::new();
    let server = Server::start(&project, &[]).unwrap();
    let got = python_findings("mlflow_client_compat.py", &server.url);

    assert_eq!(got["param_change"], "INVALID_PARAMETER_VALUE");
    assert_eq!(
        got["batch_limit"],
        serde_json::json!([400, "INVALID_PARAMETER_VALUE"])
    );
    assert_eq!(got["unknown_run"], "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(got["bad_filter"], "INVALID_PARAMETER_VALUE");
    assert_eq!(got["artifact"], "w=1\n");
    assert_eq!(got["listing"], serde_json::json!(["model/weights.txt"]));
    let root_uri = format!(
        "mlflow-artifacts:/{}/{}/artifacts",
        got["experiment_id"].as_str().unwrap(),
        got["parent_id"].as_str().unwrap()
    );
    assert_eq!(
        got["tracking_listing"],
        serde_json::json!([
            {"root_uri": root_uri, "files": [{"path": "model", "is_dir": true}]},
            {"root_uri": root_uri, "files": [{"path": "model/weights.txt", "is_dir": false, "file_size": 4}]},
            [],
            400,
            404
        ])
    );
    let history: Vec<(i64, f64)> = serde_json::from_value(got["history"].clone()).unwrap();
    assert_eq!(history.len(), 10);
    assert_eq!(history[3], (3, 0.25));
    assert_eq!(got["stamped"], serde_json::json!([1700000000123i64]));
    assert_eq!(got["status"], "FINISHED");
    assert_eq!(got["params"]["lr"], "0.01");
    assert_eq!(got["params"]["epochs"], "3");
    assert_eq!(
        got["params"]["long"].as_str().unwrap().len(),
        6000,
        "truncated to MLflow's limit"
    );
    assert_eq!(got["special"], serde_json::json!(["nan", "inf", "-inf"]));
    assert_eq!(got["tags"]["stage"], "eval");
    assert_eq!(got["tags"]["a"], "1");
    assert!(got["tags"].get("b").is_none());
    assert_eq!(got["search_filter"], serde_json::json!(["parent"]));
    assert_eq!(
        got["search_order"],
        serde_json::json!(["child", "parent", "killed", "failed"])
    );
    assert_eq!(got["search_status"], serde_json::json!(["killed"]));
    assert_eq!(got["search_param"], serde_json::json!(["parent"]));
    assert_eq!(got["search_child"], serde_json::json!(["child"]));
    assert_eq!(
        got["pages"],
        serde_json::json!([["child", "failed"], ["killed", "parent"]])
    );

    let gone = got["gone_id"].as_str().unwrap();
    let refusal = serde_json::json!([
        "INVALID_PARAMETER_VALUE",
        format!("The run {gone} must be in the 'active' state. Current state is deleted.")
    ]);
    let refusals = got["deleted_refusals"].as_object().unwrap();
    assert_eq!(refusals.len(), 8);
    for (call, answer) in refusals {
        assert_eq!(answer, &refusal, "{call} on a deleted run");
    }
    assert_eq!(got["restored_metrics"], serde_json::json!({"acc": 0.5}));

    let tagged = got["tagged_id"].as_str().unwrap();
    let tags = serde_json::json!({"team": "nlp", "mlflow.note.content": "about"});
    assert_eq!(got["exp_tags"], tags);
    assert_eq!(got["exp_tags_by_name"], tags);
    assert_eq!(
        got["exp_search"],
        serde_json::json!({
            "tags.team = 'nlp'": ["tagged"],
            "tags.`team` LIKE 'n%'": ["tagged"],
            "tags.team != 'nlp'": [],
            "tags.missing = 'x'": [],
            "name = 'tagged' and tags.team ILIKE 'NLP'": ["tagged"],
        })
    );
    assert_eq!(got["exp_tag_missing"], "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(
        got["exp_tag_deleted"],
        serde_json::json!([
            "INVALID_PARAMETER_VALUE",
            format!(
                "The experiment {tagged} must be in the 'active' state. Current state is deleted."
            )
        ])
    );

    // The headless commands see the same data in the store file.
    drop(server);
    let pid = got["parent_id"].as_str().unwrap();
    let shown = project.json(&["show", pid]);
    let run = &shown["run"];
    assert_eq!(run["name"], "parent");
    assert_eq!(run["status"], "finished");
    assert_eq!(run["experiment"], "compat");
    assert_eq!(run["children"], serde_json::json!([got["child_id"]]));
    assert_eq!(run["metrics"]["loss"]["count"], 10);
    assert_eq!(run["metrics"]["weird"]["last"], "NaN");
    assert_eq!(run["notes"][0]["body"], "first try");
    assert!(run["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["path"] == "model/weights.txt" && a["size"] == 4));
    let killed = project.json(&["runs", "ls", "--filter", "status = 'killed'"]);
    assert_eq!(killed["runs"][0]["name"], "killed");
}

#[test]
fn mlflow_script_under_kiroku_run_mlflow_lands_in_that_run() {
    if !require_python_module("mlflow") {
        return;
    }
    let project = Project::new();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("mlflow_zero_change.py");
    let run_script = |args: &[&str]| {
        let out = project
            .cmd(args)
            .arg("python3")
            .arg(&script)
            .env("MLFLOW_DISABLE_TELEMETRY", "true")
            .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
            .output()
            .unwrap();
        assert_ok(&out);
        // The points logged through the MLflow API count in the summary line.
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("finished · 3 points"), "{stderr}");
    };
    run_script(&[
        "run", "--mlflow", "--exp", "zero", "--name", "wrapped", "--",
    ]);
    let runs = project.json(&["runs", "ls"]);
    assert_eq!(
        runs["total"], 1,
        "the script must not make a run of its own: {runs}"
    );
    let run = &runs["runs"][0];
    assert_eq!(run["name"], "wrapped");
    assert_eq!(run["experiment"], "zero");
    assert_eq!(run["status"], "finished");
    assert_eq!(run["params"]["depth"], "4");
    assert_eq!(run["metrics"]["val_loss"]["count"], 3);
    assert_eq!(run["tags"]["framework"], "plain-mlflow");

    // The same through the project's config instead of the flag.
    std::fs::write(project.path().join("kiroku.toml"), "[run]\nmlflow = true\n").unwrap();
    run_script(&["run", "--exp", "zero", "--name", "configured", "--"]);
    let runs = project.json(&["runs", "ls", "--filter", "name = 'configured'"]);
    assert_eq!(runs["runs"][0]["metrics"]["val_loss"]["count"], 3);
    assert_eq!(project.json(&["runs", "ls"])["total"], 2);
}

#[test]
fn kiroku_run_against_a_remote_store_spools_its_log_and_uploads_it() {
    let project = Project::new();
    let server = Server::start(&project, &[]).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let out = project
        .cmd(&["--store", &server.url, "run", "--name", "remote", "--"])
        .args([
            "sh",
            "-c",
            "echo 'epoch 1 loss=0.5'; echo 'epoch 2 loss=0.25'",
        ])
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    assert_ok(&out);
    let shown = project.json(&["--store", &server.url, "show", "remote"]);
    let run = &shown["run"];
    assert_eq!(run["status"], "finished");
    assert_eq!(run["metrics"]["loss"]["count"], 2);
    assert!(run["run_dir"].is_null());
    let log = run["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["path"] == "output.log")
        .expect("output.log uploaded");
    assert!(log["size"].as_u64().unwrap() > 0);
    let id = run["id"].as_str().unwrap();
    let stored = project
        .store_dir()
        .join("runs")
        .join(id)
        .join("artifacts/output.log");
    assert!(std::fs::read_to_string(stored)
        .unwrap()
        .contains("loss=0.25"));
}

#[test]
fn mlflow_client_authenticates_with_mlflow_tracking_token() {
    if !require_python_module("mlflow") {
        return;
    }
    let project = Project::new();
    let token = project.json(&["token", "create", "--user", "trainer"])["token"]
        .as_str()
        .unwrap()
        .to_string();
    let server = Server::start(&project, &[]).unwrap();
    let script = "import sys, mlflow\n\
                  mlflow.set_tracking_uri(sys.argv[1])\n\
                  with mlflow.start_run(run_name='authed'):\n    mlflow.log_metric('m', 1.0)\n";
    let run = |token: Option<&str>| {
        let mut c = std::process::Command::new("python3");
        c.args(["-c", script, &server.url])
            .env("MLFLOW_DISABLE_TELEMETRY", "true")
            .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
            .env_remove("MLFLOW_TRACKING_TOKEN")
            .env_remove("MLFLOW_RUN_ID");
        if let Some(t) = token {
            c.env("MLFLOW_TRACKING_TOKEN", t);
        }
        c.output().unwrap()
    };
    let refused = run(None);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("UNAUTHENTICATED"));
    let ok = run(Some(&token));
    assert_ok(&ok);
    drop(server);
    let runs = project.json(&["runs", "ls"]);
    assert_eq!(runs["total"], 1);
    assert_eq!(runs["runs"][0]["name"], "authed");
    assert_eq!(
        runs["runs"][0]["user"], "trainer",
        "the token's user owns the run"
    );
}
