//! End-to-end tests of the data commands on real files and a real store: `kiroku data
//! add|ls|show|diff` on CSV and Parquet, run inputs (`run --input`, the metrics file's
//! `{"inputs": …}`, `log input NAME=PATH`), `kiroku review` and `--require-checks` on `run` and
//! `submit`. Check runs are recorded through the store's own API (`DataStore::record_check_run`
//! on the project's SQLite store), as `kiroku check` records them.
mod common;
use common::requires::require_python_module;
use common::{assert_ok, Project};
use kiroku::model::*;
use kiroku::store::prelude::*;
use kiroku::store::SqliteStore;

const TRAIN_V1: &str = "id,age,city\n1,34,Lyon\n2,,Nice\n3,51,Paris\n4,27,\n";
/// One more row, `age` now has a fraction (float), `city` gone, `score` added.
const TRAIN_V2: &str = "id,age,score\n1,34.5,0.1\n2,,0.2\n3,51,\n4,27,0.4\n5,,0.5\n";

fn write(p: &Project, name: &str, text: &str) -> String {
    let path = p.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn exit_code(p: &Project, args: &[&str]) -> (i32, String, String) {
    let out = p.kiroku(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn result(id: &str, status: CheckStatus, unexpected: Option<u64>) -> CheckResult {
    CheckResult {
        id: id.into(),
        check_type: "not_null".into(),
        column: Some("age".into()),
        columns: vec![],
        dataset: None,
        status,
        observed: serde_json::json!(unexpected),
        expected: serde_json::json!(0),
        element_count: Some(4),
        missing_count: None,
        unexpected_count: unexpected,
        unexpected_percent: None,
        samples: vec![],
        top_unexpected: vec![],
        message: None,
        details: serde_json::Value::Null,
    }
}

/// Records a check run of suite `wine` over dataset `name`'s newest version, as `kiroku check`
/// would; returns its id.
fn record_check(p: &Project, name: &str, results: Vec<CheckResult>) -> CheckRunId {
    let store = SqliteStore::open(&p.store_dir(), false).unwrap();
    let version = store.dataset_version(name).unwrap();
    store
        .record_check_run(&NewCheckRun {
            suite: "wine".into(),
            suite_hash: "sha256:0123".into(),
            source: CheckSource::Kiroku,
            datasets: vec![CheckedDataset {
                name: name.into(),
                version_id: version.id.clone(),
                path: version.path.clone(),
                rows: version.row_count,
            }],
            status: CheckStatus::overall(results.iter().map(|r| r.status)),
            results,
            started_at: now_ms(),
            ended_at: now_ms(),
            user: "checker".into(),
            host: "box".into(),
            run_id: None,
        })
        .unwrap()
        .id
}

#[test]
fn data_add_ls_show_and_diff_on_csv_files() {
    let p = Project::new();
    let path = write(&p, "train.csv", TRAIN_V1);
    let added = p.json(&["data", "add", "train", &path]);
    assert_eq!(added["schema"], "kiroku.dataset/v1");
    assert_eq!(added["new"], true);
    let v1 = &added["version"];
    assert_eq!(v1["number"], 1);
    assert_eq!(v1["row_count"], 4);
    assert_eq!(v1["format"], "csv");
    assert_eq!(v1["size_bytes"], TRAIN_V1.len());
    assert_eq!(v1["created_by"], "tester");
    assert!(v1["id"].as_str().unwrap().starts_with("sha256:"));
    let columns: Vec<_> = v1["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].clone(),
                c["type"].clone(),
                c["null_count"].clone(),
            )
        })
        .collect();
    assert_eq!(
        columns,
        vec![
            ("id".into(), "int".into(), 0.into()),
            ("age".into(), "int".into(), 1.into()),
            ("city".into(), "string".into(), 1.into()),
        ]
    );
    // The same bytes again: the same version.
    let again = p.json(&["data", "add", "train", &path]);
    assert_eq!(
        (again["new"].clone(), again["version"]["id"].clone()),
        (false.into(), v1["id"].clone())
    );
    let text = p.ok(&["data", "add", "train", &path, "--format", "table"]);
    assert!(
        text.starts_with("already registered as train@1 (sha256:"),
        "{text}"
    );

    std::fs::write(&path, TRAIN_V2).unwrap();
    let text = p.ok(&["data", "add", "train", &path, "--format", "table"]);
    assert!(text.starts_with("added train@2 (sha256:"), "{text}");
    assert!(text.contains("5 rows, 3 columns"), "{text}");

    let listed = p.json(&["data", "ls"]);
    assert_eq!(listed["schema"], "kiroku.datasets/v1");
    let train = &listed["datasets"][0];
    assert_eq!(
        (train["name"].clone(), train["versions"].clone()),
        ("train".into(), 2.into())
    );
    assert_eq!(train["latest"]["number"], 2);
    let table = p.ok(&["data", "ls", "--format", "table"]);
    assert!(table.contains("NAME") && table.contains("@2"), "{table}");

    let shown = p.json(&["data", "show", "train@1"]);
    assert_eq!(shown["schema"], "kiroku.dataset/v1");
    assert_eq!(shown["version"]["id"], v1["id"]);
    assert_eq!(shown["versions"], 2);
    assert_eq!(shown["version"]["files"][0]["path"], "train.csv");
    assert_eq!(shown["version"]["files"][0]["rows"], 4);
    assert_eq!(shown["readers"].as_array().unwrap().len(), 0);
    let by_prefix = p.json(&["data", "show", &v1["id"].as_str().unwrap()[..16]]);
    assert_eq!(by_prefix["version"]["number"], 1);
    let table = p.ok(&["data", "show", "train", "--format", "table"]);
    assert!(table.starts_with("train@2 (of 2)"), "{table}");
    assert!(
        table.contains("score") && table.contains("not checked yet"),
        "{table}"
    );

    let diff = p.json(&["data", "diff", "train@1", "train@2"]);
    assert_eq!(diff["schema"], "kiroku.data_diff/v1");
    let d = &diff["diff"];
    assert_eq!(
        (
            d["rows"]["from"].clone(),
            d["rows"]["to"].clone(),
            d["rows"]["change"].clone()
        ),
        (4.into(), 5.into(), 1.into())
    );
    assert_eq!(d["added"][0]["name"], "score");
    assert_eq!(d["removed"][0]["name"], "city");
    assert_eq!(
        d["type_changes"][0],
        serde_json::json!({"column": "age", "from": "int", "to": "float"})
    );
    assert_eq!(d["null_changes"][0]["column"], "age");
    assert_eq!(d["null_changes"][0]["change"], 1);
    let text = p.ok(&["data", "diff", "train@1", "train", "--format", "table"]);
    assert!(text.contains("+ column score (float)"), "{text}");
    assert!(text.contains("- column city (string)"), "{text}");
    assert!(text.contains("~ column age: type int → float"), "{text}");
    assert!(text.contains("rows     4 → 5 (+1)"), "{text}");

    let (code, _, err) = exit_code(&p, &["data", "show", "train@9"]);
    assert_eq!(code, 2);
    assert!(err.contains("dataset train has no version 9"), "{err}");
    let (code, _, err) = exit_code(&p, &["data", "add", "bad@name", &path]);
    assert_eq!(code, 2);
    assert!(err.contains("may not hold '@'"), "{err}");
}

#[test]
fn data_add_reads_parquet_files_and_folders() {
    if !require_python_module("pyarrow") {
        return;
    }
    let p = Project::new();
    let folder = p.path().join("parts");
    std::fs::create_dir_all(&folder).unwrap();
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import sys, pyarrow as pa, pyarrow.parquet as pq\n\
             d = sys.argv[1]\n\
             pq.write_table(pa.table({'x': [1, 2, None], 'name': ['a', None, 'c']}), d + '/a.parquet')\n\
             pq.write_table(pa.table({'x': [4, 5], 'name': ['d', 'e']}), d + '/b.parquet')\n",
        )
        .arg(&folder)
        .output()
        .unwrap();
    assert_ok(&out);
    let one = p.json(&[
        "data",
        "add",
        "single",
        &folder.join("a.parquet").display().to_string(),
    ]);
    assert_eq!(one["version"]["format"], "parquet");
    assert_eq!(one["version"]["row_count"], 3);
    let both = p.json(&["data", "add", "parts", &folder.display().to_string()]);
    let v = &both["version"];
    assert_eq!(v["row_count"], 5);
    assert_eq!(v["files"].as_array().unwrap().len(), 2);
    assert_eq!(v["columns"][0]["name"], "x");
    assert_eq!(v["columns"][0]["type"], "int");
    assert_eq!(v["columns"][0]["null_count"], 1);
    assert_eq!(v["columns"][1]["null_count"], 1);
}

#[test]
fn runs_bind_inputs_from_flags_the_metrics_file_and_log_input() {
    let p = Project::new();
    write(&p, "train.csv", TRAIN_V1);
    write(&p, "eval.csv", "id,label\n1,a\n2,b\n");
    let script = p.script(
        "train.sh",
        r#"printf '{"inputs": {"eval": "eval.csv", "bad": "missing.csv"}}\n' >> "$KIROKU_METRICS_FILE"
"#,
    );
    let out = p.kiroku(&[
        "run",
        "--name",
        "r1",
        "--input",
        "train=train.csv",
        "--",
        &script,
    ]);
    assert_ok(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("metrics file input bad=missing.csv"),
        "{stderr}"
    );
    let run = p.json(&["show", "r1"]);
    let run_id = run["run"]["id"].as_str().unwrap().to_string();
    // The MLflow-style record, which `datasets.name` filters on.
    let mut names: Vec<_> = run["run"]["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["dataset"]["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(names, vec!["eval", "train"]);
    let found = p.json(&["runs", "ls", "--filter", "datasets.name = 'eval'"]);
    assert_eq!(found["total"], 1);
    // The data domain's record: each version knows the run that read it.
    for (dataset, path) in [("train", "train.csv"), ("eval", "eval.csv")] {
        let shown = p.json(&["data", "show", dataset]);
        let readers = shown["readers"].as_array().unwrap();
        assert_eq!(readers.len(), 1, "{dataset}: {shown}");
        assert_eq!(readers[0]["run_id"], run_id.as_str());
        assert_eq!(readers[0]["path"], path);
    }
    // `kiroku log input NAME=PATH` into an existing run.
    write(&p, "extra.csv", "a\n1\n");
    let text = p.ok(&["log", "input", "holdout=extra.csv", "--run", "r1"]);
    assert!(text.contains("as holdout@1"), "{text}");
    let shown = p.json(&["data", "show", "holdout"]);
    assert_eq!(shown["readers"][0]["run_id"], run_id.as_str());
    // A bad --input: the run does not start.
    let (code, _, err) = exit_code(&p, &["run", "--input", "nopath", "--", "true"]);
    assert_eq!(code, 2);
    assert!(err.contains("is not NAME=PATH"), "{err}");
    let (code, _, err) = exit_code(&p, &["run", "--input", "x=nothing.csv", "--", "true"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("input x=nothing.csv"), "{err}");
}

#[test]
fn reviews_clear_failures_until_new_data_or_a_worse_failure() {
    let p = Project::new();
    let path = write(&p, "train.csv", TRAIN_V1);
    p.ok(&["data", "add", "train", &path]);
    let run = record_check(
        &p,
        "train",
        vec![
            result("age-not-null", CheckStatus::Fail, Some(1)),
            result("city-not-null", CheckStatus::Warn, Some(1)),
            result("rows", CheckStatus::Pass, None),
        ],
    );
    let run = run.to_string();
    let (code, _, err) = exit_code(
        &p,
        &["review", &format!("{run}/rows"), "--approve", "-m", "x"],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("only a warned, failed or errored result is reviewed"),
        "{err}"
    );
    let (code, _, err) = exit_code(&p, &["review", &run, "--waive"]);
    assert_eq!(code, 2);
    assert!(err.contains("needs a reason"), "{err}");
    let (code, _, err) = exit_code(
        &p,
        &[
            "review",
            &run,
            "--waive",
            "-m",
            "old",
            "--until",
            "2020-01-01",
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("has passed"), "{err}");
    let (code, _, _) = exit_code(&p, &["review", &run]);
    assert_eq!(code, 2, "a verdict is required");

    let text = p.ok(&[
        "review",
        &format!("{run}/city-not-null"),
        "--waive",
        "-m",
        "fixed upstream",
        "--until",
        "7d",
        "--format",
        "table",
    ]);
    assert!(
        text.starts_with(&format!("waived {run}/city-not-null (warn) until ")),
        "{text}"
    );
    // The run alone: what still awaits review (the failure), not the waived warning.
    let reviewed = p.json(&["review", &run, "--approve", "-m", "one missing age is fine"]);
    assert_eq!(reviewed["schema"], "kiroku.reviews/v1");
    let reviews = reviewed["reviews"].as_array().unwrap();
    assert_eq!(reviews.len(), 1);
    assert_eq!(reviews[0]["result_id"], "age-not-null");
    assert_eq!(reviews[0]["reviewer"], "tester");
    let (code, _, err) = exit_code(&p, &["review", &run, "--approve", "-m", "again"]);
    assert_eq!(code, 2);
    assert!(err.contains("already reviewed"), "{err}");

    // Reviews are events in the activity log, with reviewer, verdict and comment.
    let events = p.json(&["events"]);
    let review_events: Vec<_> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"].as_str().unwrap().starts_with("review."))
        .collect();
    assert_eq!(review_events.len(), 2, "{events}");
    assert_eq!(review_events[0]["kind"], "review.approved");
    assert_eq!(review_events[0]["user"], "tester");
    assert_eq!(
        review_events[0]["detail"]["comment"],
        "one missing age is fine"
    );
    assert_eq!(review_events[1]["detail"]["verdict"], "waived");

    p.ok(&["run", "--require-checks", "train", "--", "true"]);
    // The same failure again on the same data stays cleared; worse comes back.
    let worse = record_check(
        &p,
        "train",
        vec![result("age-not-null", CheckStatus::Fail, Some(2))],
    );
    let (code, _, err) = exit_code(&p, &["run", "--require-checks", "train", "--", "true"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("{worse}/age-not-null")) && err.contains("worse than when approved"),
        "{err}"
    );
    // New data: the same failure needs a review again.
    p.ok(&[
        "review",
        &worse.to_string(),
        "--approve",
        "-m",
        "two is fine too",
    ]);
    p.ok(&["run", "--require-checks", "train", "--", "true"]);
    std::fs::write(&path, TRAIN_V2).unwrap();
    p.ok(&["data", "add", "train", &path]);
    let on_new = record_check(
        &p,
        "train",
        vec![result("age-not-null", CheckStatus::Fail, Some(2))],
    );
    let (code, _, err) = exit_code(&p, &["run", "--require-checks", "train", "--", "true"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!(
            "{on_new}/age-not-null  fail, 2 unexpected  not reviewed"
        )),
        "{err}"
    );
    let shown = p.json(&["data", "show", "train"]);
    assert_eq!(shown["check_runs"][0]["awaiting_review"], true);
}

#[test]
fn require_checks_refuses_run_and_submit_until_cleared() {
    let p = Project::new();
    let path = write(&p, "train.csv", TRAIN_V1);
    let (code, _, err) = exit_code(&p, &["run", "--require-checks", "train", "--", "true"]);
    assert_eq!(code, 2);
    assert!(err.contains("no dataset named train"), "{err}");
    p.ok(&["data", "add", "train", &path]);
    let (code, _, err) = exit_code(&p, &["submit", "--require-checks", "train", "--", "true"]);
    assert_eq!(code, 1);
    assert!(err.contains("has no check run"), "{err}");
    let run = record_check(
        &p,
        "train",
        vec![
            result("age-not-null", CheckStatus::Fail, Some(1)),
            result("rows", CheckStatus::Pass, None),
        ],
    );
    let (code, _, err) = exit_code(&p, &["submit", "--require-checks", "train", "--", "true"]);
    assert_eq!(code, 1);
    assert!(err.contains(&format!("{run}/age-not-null")), "{err}");
    assert!(err.contains(&format!("kiroku review {run}")), "{err}");
    assert!(!err.contains("/rows"), "{err}");
    // Nothing was queued, no run started.
    assert_eq!(p.json(&["jobs", "ls"])["jobs"].as_array().unwrap().len(), 0);
    assert_eq!(p.json(&["runs", "ls"])["total"], 0);
    p.ok(&[
        "review",
        &format!("{run}/age-not-null"),
        "--reject",
        "-m",
        "ages must be known",
    ]);
    let (code, _, err) = exit_code(&p, &["run", "--require-checks", "train", "--", "true"]);
    assert_eq!(code, 1);
    assert!(err.contains("rejected by tester"), "{err}");
    p.ok(&[
        "review",
        &format!("{run}/age-not-null"),
        "--approve",
        "-m",
        "imputed later",
    ]);
    let queued = p.ok(&[
        "submit",
        "--require-checks",
        "train",
        "--format",
        "json",
        "--",
        "true",
    ]);
    assert!(queued.contains("kiroku.job/v1"), "{queued}");
    // A run given other bytes under the name is gated on those: unchecked, refused.
    let other = write(&p, "other.csv", TRAIN_V2);
    let (code, _, err) = exit_code(
        &p,
        &[
            "run",
            "--input",
            &format!("train={other}"),
            "--require-checks",
            "train",
            "--",
            "true",
        ],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("train@2") && err.contains("has no check run"),
        "{err}"
    );
    p.ok(&[
        "run",
        "--input",
        &format!("train={path}"),
        "--require-checks",
        "train",
        "--",
        "true",
    ]);
}

/// Runs `tests/mlflow_log_input.py` against `uri`; its findings (run id, digests).
fn log_inputs_with_mlflow(uri: &str, data_dir: &std::path::Path) -> serde_json::Value {
    let out = common::python("mlflow_log_input.py")
        .arg(uri)
        .arg(data_dir)
        .output()
        .unwrap();
    assert_ok(&out);
    let stdout = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

/// The store holds MLflow's two datasets as versions bound to run `logged["run_id"]`.
fn assert_mlflow_inputs_landed(p: &Project, logged: &serde_json::Value) {
    let run_id = logged["run_id"].as_str().unwrap();
    let listed = p.json(&["data", "ls"]);
    let names: Vec<_> = listed["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, vec!["eval", "train"], "{listed}");
    let train = p.json(&["data", "show", "train"]);
    let v = &train["version"];
    assert_eq!(
        v["id"],
        format!("mlflow:{}", logged["train"].as_str().unwrap())
    );
    assert_eq!(v["source"], "mlflow");
    assert_eq!(
        v["number"], 1,
        "logging the same dataset twice is one version"
    );
    assert_eq!(v["row_count"], 3);
    assert_eq!(v["path"], logged["path"]);
    let columns: Vec<_> = v["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}:{}",
                c["name"].as_str().unwrap(),
                c["type"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(columns, vec!["a:int", "b:float", "c:string"]);
    let readers = train["readers"].as_array().unwrap();
    assert_eq!(readers.len(), 1, "{train}");
    assert_eq!(readers[0]["run_id"], run_id);
    assert_eq!(readers[0]["name"], "training");
    let eval = p.json(&["data", "show", "eval"]);
    assert_eq!(
        eval["version"]["id"],
        format!("mlflow:{}", logged["eval"].as_str().unwrap())
    );
    assert_eq!(eval["version"]["row_count"], 2);
    assert_eq!(eval["readers"][0]["name"], "eval");
    // The run's MLflow-style inputs too, which `datasets.name` filters on.
    let found = p.json(&["runs", "ls", "--filter", "datasets.name = 'train'"]);
    assert_eq!(found["total"], 1);
}

#[test]
fn mlflow_log_input_through_the_api_lands_as_dataset_versions() {
    if !require_python_module("mlflow") {
        return;
    }
    let p = Project::new();
    let server = common::Server::start(&p, &[]).unwrap();
    let data = tempfile::tempdir().unwrap();
    let logged = log_inputs_with_mlflow(&server.url, data.path());
    assert_mlflow_inputs_landed(&p, &logged);
    // The MLflow client reads them back on the run, as from MLflow's own server.
    assert_eq!(
        logged["read_back"],
        serde_json::json!([
            ["eval", logged["eval"], "eval"],
            ["train", logged["train"], "training"]
        ])
    );
}

#[test]
fn imported_mlflow_stores_bring_their_log_input_datasets() {
    if !require_python_module("mlflow") {
        return;
    }
    let source = tempfile::tempdir().unwrap();
    let db = source.path().join("mlflow.db");
    let mlruns = source.path().join("mlruns");
    for (uri, path) in [
        (format!("sqlite:///{}", db.display()), db.clone()),
        (format!("file://{}", mlruns.display()), mlruns.clone()),
    ] {
        let logged = log_inputs_with_mlflow(&uri, source.path());
        let p = Project::new();
        let report = p.json(&["import", "mlflow", &path.display().to_string()]);
        assert_eq!(report["report"]["dataset_inputs"], 2, "{uri}: {report}");
        assert_mlflow_inputs_landed(&p, &logged);
        // Importing again changes nothing.
        p.ok(&["import", "mlflow", &path.display().to_string()]);
        assert_eq!(p.json(&["data", "show", "train"])["versions"], 1);
    }
}

fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

#[test]
fn data_and_reviews_work_against_a_remote_store() {
    let p = Project::new();
    let server = common::Server::start(&p, &[]).unwrap();
    let path = write(&p, "train.csv", TRAIN_V1);
    let remote = |args: &[&str]| {
        let mut all = vec!["--store", server.url.as_str()];
        all.extend_from_slice(args);
        all.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let args = remote(&["data", "add", "train", &path]);
    let added = p.json(&refs(&args));
    assert_eq!(added["version"]["number"], 1);
    assert_eq!(added["version"]["created_by"], "tester");
    let run = record_check(
        &p,
        "train",
        vec![result("age-not-null", CheckStatus::Fail, Some(1))],
    );
    let args = remote(&["run", "--require-checks", "train", "--", "true"]);
    let (code, _, err) = exit_code(&p, &refs(&args));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("{run}/age-not-null")), "{err}");
    let args = remote(&["review", &run.to_string(), "--approve", "-m", "fine"]);
    p.ok(&refs(&args));
    let args = remote(&[
        "run",
        "--require-checks",
        "train",
        "--input",
        &format!("train={path}"),
        "--",
        "true",
    ]);
    p.ok(&refs(&args));
    let args = remote(&["data", "show", "train"]);
    let shown = p.json(&refs(&args));
    assert_eq!(shown["readers"].as_array().unwrap().len(), 1);
    assert_eq!(shown["check_runs"][0]["awaiting_review"], false);
}

/// Job `id` once it has ended (the scheduler runs it detached).
fn ended_job(p: &Project, id: &str) -> serde_json::Value {
    let started = std::time::Instant::now();
    loop {
        let job = p.json(&["jobs", "show", id])["job"].clone();
        if !["queued", "starting", "running"].contains(&job["status"].as_str().unwrap()) {
            return job;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(90),
            "job {id} did not end: {job}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn a_queued_job_is_checked_again_when_it_starts() {
    let p = Project::new();
    let path = write(&p, "train.csv", TRAIN_V1);
    p.ok(&["data", "add", "train", &path]);
    record_check(
        &p,
        "train",
        vec![result("age-not-null", CheckStatus::Pass, Some(0))],
    );
    let gate = p.script("wait.sh", "while [ ! -e go ]; do sleep 0.05; done\n");
    let first = p.ok(&["submit", "--", &gate]).trim().to_string();
    let second = p
        .ok(&[
            "submit",
            "--after",
            &first,
            "--require-checks",
            "train",
            "--",
            "true",
        ])
        .trim()
        .to_string();
    // While the second waits for the first, a newer check run fails.
    let failing = record_check(
        &p,
        "train",
        vec![result("age-not-null", CheckStatus::Fail, Some(1))],
    );
    std::fs::write(p.path().join("go"), "").unwrap();
    assert_eq!(ended_job(&p, &first)["status"], "finished");
    let refused = ended_job(&p, &second);
    assert_eq!(refused["status"], "failed", "{refused}");
    let reason = refused["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("{failing}/age-not-null")),
        "{reason}"
    );
    assert!(
        refused["run_id"].is_null(),
        "the command never ran: {refused}"
    );
    // Cleared again, the same submission starts.
    p.ok(&["review", &failing.to_string(), "--approve", "-m", "fine"]);
    let third = p
        .ok(&["submit", "--require-checks", "train", "--", "true"])
        .trim()
        .to_string();
    assert_eq!(ended_job(&p, &third)["status"], "finished");
}

/// `kiroku check` (the engine) records the run; the review and the gate act on it.
#[test]
fn real_check_runs_are_reviewed_and_gate_runs() {
    let p = Project::new();
    let path = write(&p, "train.csv", TRAIN_V1);
    let suite = write(
        &p,
        "suite.toml",
        "[suite]\nname = \"train-suite\"\n\n[[check]]\nid = \"age-known\"\ntype = \"not_null\"\ncolumn = \"age\"\n\n[[check]]\nid = \"rows\"\ntype = \"row_count\"\nmin = 1\n",
    );
    let check = |expect: i32| -> serde_json::Value {
        let out = p.kiroku(&[
            "check",
            &suite,
            "--data",
            &format!("train={path}"),
            "--format",
            "json",
        ]);
        assert_eq!(
            out.status.code(),
            Some(expect),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let first = check(1);
    let id = first["id"].as_i64().unwrap().to_string();
    // `kiroku check` registered the data under its --data name.
    assert_eq!(
        p.json(&["data", "show", "train"])["check_runs"][0]["id"],
        first["id"]
    );
    let (code, _, err) = exit_code(&p, &["run", "--require-checks", "train", "--", "true"]);
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!("{id}/age-known  fail, 1 unexpected")),
        "{err}"
    );
    let reviewed = p.json(&["review", &id, "--waive", "-m", "one row, imputed later"]);
    assert_eq!(reviewed["reviews"][0]["result_id"], "age-known");
    p.ok(&["run", "--require-checks", "train", "--", "true"]);
    // Checking the same data again: the waiver holds (same check, version and suite).
    let again = check(1);
    assert_ne!(again["id"], first["id"]);
    p.ok(&["run", "--require-checks", "train", "--", "true"]);
    // New data with the same failure, worse: back for review.
    std::fs::write(&path, "id,age,city\n1,,Lyon\n2,,Nice\n3,51,Paris\n").unwrap();
    let on_new = check(1);
    let (code, _, err) = exit_code(&p, &["run", "--require-checks", "train", "--", "true"]);
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!(
            "{}/age-known  fail, 2 unexpected  not reviewed",
            on_new["id"]
        )),
        "{err}"
    );
    assert!(err.contains("train@2"), "{err}");
    // Fixed data passes on its own.
    std::fs::write(&path, "id,age,city\n1,30,Lyon\n").unwrap();
    check(0);
    p.ok(&["run", "--require-checks", "train", "--", "true"]);
}
