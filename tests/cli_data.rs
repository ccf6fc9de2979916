//! End-to-end tests of the data commands on real files and a real store: `kiroku data
//! add|ls|show|diff` on CSV and Parquet, run inputs (`run --input`, the metrics file's
//! `{"inputs": …}`, `log input NAME=PATH`), `kiroku review` and `--require-checks` on `run` and
//! `submit`. Check runs are recorded through the store's own API (`DataStore::record_check_run`
//! on the project's SQLite store), as `kiroku check` records them.
mod common;
use common::requires::require_python_module;
use common::Project;
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
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
