//! `kiroku check import gx|soda FILE`: results made by Great Expectations and Soda, recorded as
//! check runs against dataset versions. The GX 1.x and Soda files are made by the real tools in
//! the test (`tests/check_import_gen.py`); the GX 0.x file is written here from the documented
//! shape (GX 0.x cannot be installed beside 1.x), as is a Soda file with an errored check.
mod common;

use common::requires::require_python_module;
use common::Project;
use kiroku::model::CheckSource;
use kiroku::store::prelude::*;
use kiroku::store::sqlite::SqliteStore;
use serde_json::{json, Value};
use std::path::Path;

fn generate(project: &Project, tool: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/check_import_gen.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(tool)
        .arg(project.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs kiroku with `--format json`: the exit code and the JSON it printed.
fn json_of(project: &Project, args: &[&str]) -> (i32, Value) {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let out = project.kiroku(&all);
    let code = out.status.code().unwrap_or(-1);
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|error| {
        panic!(
            "kiroku {all:?} (exit {code}) printed no JSON ({error}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, json)
}

fn by_id(json: &Value) -> std::collections::BTreeMap<String, Value> {
    json["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|result| (result["id"].as_str().unwrap().to_string(), result.clone()))
        .collect()
}

fn read_json(project: &Project, name: &str) -> Value {
    let text = std::fs::read_to_string(project.path().join(name)).unwrap();
    kiroku::checks::import::parse_python_json(&text, name).unwrap()
}

#[test]
fn great_expectations_1x_results_import_as_gx_reported_them_and_agree_with_kiroku_native() {
    if !require_python_module("great_expectations") {
        return;
    }
    let project = Project::new();
    generate(&project, "gx");
    let (code, imported) = json_of(
        &project,
        &[
            "check",
            "import",
            "gx",
            "validation.json",
            "--data",
            "people=people.csv",
        ],
    );
    assert_eq!(
        code, 2,
        "an expectation GX could not evaluate makes it exit 2: {imported:#}"
    );
    assert_eq!(imported["source"], "gximport");
    assert_eq!(imported["suite"], "people_suite");
    let results = by_id(&imported);

    // Every GX result came in, with GX's verdict and counts.
    let validation = read_json(&project, "validation.json");
    let gx_results = validation["results"].as_array().unwrap();
    assert_eq!(results.len(), gx_results.len());
    for gx in gx_results {
        let config = &gx["expectation_config"];
        let column = config["kwargs"]["column"]
            .as_str()
            .map(|column| format!(":{column}"))
            .unwrap_or_default();
        let pair = config["kwargs"]["column_A"]
            .as_str()
            .map(|a| format!(":{a},{}", config["kwargs"]["column_B"].as_str().unwrap()))
            .unwrap_or_default();
        let id = format!("{}{column}{pair}", config["type"].as_str().unwrap());
        let ours = &results[&id];
        let raised = gx["exception_info"]
            .as_object()
            .unwrap()
            .values()
            .any(|info| info["raised_exception"] == json!(true));
        let expected_status = match (
            raised,
            gx["success"].as_bool().unwrap(),
            config["severity"].as_str(),
        ) {
            (true, _, _) => "error",
            (false, true, _) => "pass",
            (false, false, Some("warning")) => "warn",
            (false, false, _) => "fail",
        };
        assert_eq!(ours["status"], expected_status, "{id}: {ours:#}");
        for field in ["element_count", "missing_count", "unexpected_count"] {
            assert_eq!(
                ours.get(field).unwrap_or(&Value::Null),
                &gx["result"][field],
                "{id} {field}"
            );
        }
        if let Some(rows) = gx["result"]["unexpected_index_list"].as_array() {
            let samples: Vec<&Value> = ours["samples"]
                .as_array()
                .unwrap()
                .iter()
                .map(|sample| &sample["row"])
                .collect();
            assert_eq!(samples, rows.iter().collect::<Vec<_>>(), "{id}");
        }
        if let Some(observed) = gx["result"].get("observed_value") {
            assert_eq!(&ours["observed"], observed, "{id}");
        }
    }
    assert_eq!(
        results["expect_column_values_to_be_between:age"]["samples"][0]["values"]["age"],
        json!(130.0)
    );
    assert!(results["expect_column_mean_to_be_between:name"]["message"]
        .as_str()
        .unwrap()
        .contains("string dtype"));

    // kiroku's native run of the same suite names the results the same and agrees.
    let (_, native) = json_of(
        &project,
        &["check", "suite.json", "--data", "people=people.csv"],
    );
    let native = by_id(&native);
    assert_eq!(
        native.keys().collect::<Vec<_>>(),
        results.keys().collect::<Vec<_>>()
    );
    for (id, ours) in &native {
        let theirs = &results[id];
        for field in [
            "status",
            "element_count",
            "missing_count",
            "unexpected_count",
            "unexpected_percent",
        ] {
            assert_eq!(
                ours.get(field),
                theirs.get(field),
                "{id} {field}: native {ours:#} imported {theirs:#}"
            );
        }
        let rows = |result: &Value| -> Vec<Value> {
            result["samples"]
                .as_array()
                .unwrap()
                .iter()
                .map(|sample| sample["row"].clone())
                .collect()
        };
        assert_eq!(rows(ours), rows(theirs), "{id}");
    }

    // A checkpoint result wrapping the run, with no --data: bound to the file GX read, under
    // its data asset's name, i.e. the same version as above.
    let (_, checkpoint) = json_of(&project, &["check", "import", "gx", "checkpoint.json"]);
    assert_eq!(checkpoint["datasets"][0]["name"], "people");
    assert_eq!(
        checkpoint["datasets"][0]["version_id"],
        imported["datasets"][0]["version_id"]
    );
    assert_eq!(
        checkpoint["suite_hash"], imported["suite_hash"],
        "the same suite hashes the same"
    );
    let store = SqliteStore::open(&project.store_dir(), false).unwrap();
    let run = store.check_run(checkpoint["id"].as_i64().unwrap()).unwrap();
    assert_eq!(run.run.source, CheckSource::GxImport);
    assert_eq!(run.run.results.len(), gx_results.len());
}

/// A GX 0.x validation result as 0.x wrote it (`expectation_type`, `evaluation_parameters`,
/// `meta.expectation_suite_name`, `batch_kwargs`), from dataquality.md §1.3.
const GX_0X: &str = r#"{
  "success": false,
  "evaluation_parameters": {},
  "statistics": {"evaluated_expectations": 3, "successful_expectations": 1, "unsuccessful_expectations": 2, "success_percent": 33.3},
  "meta": {"great_expectations_version": "0.18.22", "expectation_suite_name": "legacy_suite",
           "batch_kwargs": {"data_asset_name": "people", "path": "nowhere.csv"},
           "run_id": {"run_name": null, "run_time": "2024-03-01T08:00:00+00:00"}},
  "results": [
    {"success": false,
     "expectation_config": {"expectation_type": "expect_column_values_to_be_between", "ge_cloud_id": null,
                            "kwargs": {"column": "age", "min_value": 0, "max_value": 120, "mostly": 0.99}, "meta": {}},
     "result": {"element_count": 1000, "unexpected_count": 30, "unexpected_percent": 3.0, "unexpected_percent_nonmissing": 3.0303030303,
                "missing_count": 10, "missing_percent": 1.0, "partial_unexpected_list": [-5, 130, 999],
                "partial_unexpected_counts": [{"value": 999, "count": 12}, {"value": -5, "count": 9}],
                "partial_unexpected_index_list": [{"user_id": 17, "age": 999}]},
     "exception_info": {"raised_exception": false, "exception_traceback": null, "exception_message": null}},
    {"success": true,
     "expectation_config": {"expectation_type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 500, "max_value": 5000}},
     "result": {"observed_value": 1000},
     "exception_info": {"raised_exception": false, "exception_traceback": null, "exception_message": null}},
    {"success": false,
     "expectation_config": {"expectation_type": "expect_column_stdev_to_be_between", "kwargs": {"column": "age", "max_value": 10}},
     "result": {"observed_value": NaN},
     "exception_info": {"raised_exception": true, "exception_traceback": "...", "exception_message": "boom"}}
  ]
}"#;

#[test]
fn great_expectations_0x_results_import_from_their_documented_shape() {
    let project = Project::new();
    std::fs::write(project.path().join("people.csv"), "user_id,age\n17,999\n").unwrap();
    std::fs::write(project.path().join("old.json"), GX_0X).unwrap();
    // No --data and no file where the results say: a clear error naming the data.
    let out = project.kiroku(&["check", "import", "gx", "old.json"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--data") && stderr.contains("'people'"),
        "{stderr}"
    );

    let (code, json) = json_of(
        &project,
        &[
            "check",
            "import",
            "gx",
            "old.json",
            "--data",
            "people=people.csv",
        ],
    );
    assert_eq!(code, 2);
    assert_eq!(json["suite"], "legacy_suite");
    let results = by_id(&json);
    let age = &results["expect_column_values_to_be_between:age"];
    assert_eq!(age["status"], "fail");
    assert_eq!(
        (
            age["unexpected_count"].as_u64(),
            age["missing_count"].as_u64()
        ),
        (Some(30), Some(10))
    );
    assert_eq!(
        age["unexpected_percent"].as_f64(),
        Some(3.0303030303),
        "of the non-null rows"
    );
    assert_eq!(age["top_unexpected"][0], json!({"value": 999, "count": 12}));
    assert_eq!(age["dataset"], "people");
    assert_eq!(
        age["details"]["unexpected_index_list"][0]["user_id"], 17,
        "keyed indices are kept, not made rows"
    );
    assert_eq!(
        results["expect_table_row_count_to_be_between"]["status"],
        "pass"
    );
    let stdev = &results["expect_column_stdev_to_be_between:age"];
    assert_eq!(
        (stdev["status"].as_str(), stdev["message"].as_str()),
        (Some("error"), Some("boom"))
    );
    assert_eq!(
        stdev["observed"],
        Value::Null,
        "a NaN observed value reads as null"
    );
}

#[test]
fn a_real_soda_scan_imports_with_outcomes_values_and_failing_row_counts() {
    if !require_python_module("soda.scan") {
        return;
    }
    let project = Project::new();
    generate(&project, "soda");
    let (code, json) = json_of(
        &project,
        &[
            "check",
            "import",
            "soda",
            "scan.json",
            "--data",
            "people=people.csv",
        ],
    );
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(json["source"], "sodaimport");
    assert_eq!(json["suite"], "people_scan");
    let scan = read_json(&project, "scan.json");
    let results = by_id(&json);
    for check in scan["checks"].as_array().unwrap() {
        let ours = &results[check["name"].as_str().unwrap()];
        assert_eq!(ours["status"], check["outcome"], "{ours:#}");
        assert_eq!(ours["observed"], check["diagnostics"]["value"]);
        assert_eq!(ours["dataset"], check["table"]);
        assert_eq!(ours.get("column").unwrap_or(&Value::Null), &check["column"]);
    }
    assert_eq!(
        results["duplicate_count(id) = 0"]["type"],
        "duplicate_count"
    );
    assert_eq!(results["duplicate_count(id) = 0"]["unexpected_count"], 1);
    assert_eq!(results["scores stay small"]["type"], "max");
    assert_eq!(
        results["scores stay small"]["expected"]["fail"],
        json!({"greaterThanOrEqual": 10.0})
    );
    let store = SqliteStore::open(&project.store_dir(), false).unwrap();
    assert_eq!(
        store
            .check_run(json["id"].as_i64().unwrap())
            .unwrap()
            .run
            .source,
        CheckSource::SodaImport
    );
}

#[test]
fn a_soda_check_without_an_outcome_is_an_error_and_a_non_soda_file_is_refused() {
    let project = Project::new();
    std::fs::write(project.path().join("d.csv"), "a\n1\n").unwrap();
    // The shape of `soda scan -srf` (dataquality.md §2): an errored check has no outcome.
    let scan = r#"{"definitionName": "nightly", "scanStartTimestamp": "2025-01-01T12:00:00+00:00",
        "scanEndTimestamp": "2025-01-01T12:00:05+00:00", "hasErrors": true,
        "checks": [
          {"name": "freshness(ts) < 1d", "table": "d", "column": "ts", "definition": "checks for d:\n  freshness(ts) < 1d",
           "outcome": null, "outcomeReasons": [{"message": "column ts not found"}], "diagnostics": {"value": NaN}},
          {"name": "row_count > 0", "table": "d", "definition": "checks for d:\n  row_count > 0", "outcome": "pass",
           "diagnostics": {"value": 1, "fail": {"lessThanOrEqual": 0}}}
        ]}"#;
    std::fs::write(project.path().join("scan.json"), scan).unwrap();
    let (code, json) = json_of(
        &project,
        &["check", "import", "soda", "scan.json", "--data", "d=d.csv"],
    );
    assert_eq!(code, 2);
    let results = by_id(&json);
    let freshness = &results["freshness(ts) < 1d"];
    assert_eq!(
        (freshness["status"].as_str(), freshness["type"].as_str()),
        (Some("error"), Some("freshness"))
    );
    assert_eq!(freshness["message"], "column ts not found");
    assert_eq!(results["row_count > 0"]["status"], "pass");

    let out = project.kiroku(&["check", "import", "soda", "d.csv", "--data", "d=d.csv"]);
    assert_eq!(out.status.code(), Some(2));
    let out = project.kiroku(&["check", "import", "gx", "scan.json", "--data", "d=d.csv"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no Great Expectations validation results")
    );
    let out = project.kiroku(&["check", "import", "dbt", "scan.json"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("gx") && out.status.code() == Some(2));
}
