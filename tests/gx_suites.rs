//! `kiroku check SUITE.json`: a Great Expectations expectation suite is recognised by its
//! content and run natively; results carry GX's counts and 0-based rows, an expectation type
//! kiroku does not run is reported `unsupported`, and the run is recorded as a `gx` check run.
//! (The semantics themselves are compared with GX in `gx_differential.rs`.)
mod common;

use common::checks::{check_json, result, rows};
use common::Project;
use kiroku::model::{CheckSource, CheckStatus};
use kiroku::store::prelude::*;
use kiroku::store::sqlite::SqliteStore;
use serde_json::Value;

const DATA: &str =
    "id,age,plan,score\n1,34,free,0.5\n2,NA,pro,0.75\n3,130,team,\n3,-1,gold,0.25\n5,40,,1.5\n";

const SUITE: &str = r#"{
  "name": "people",
  "expectations": [
    {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1, "max_value": 10}},
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "age", "min_value": 0, "max_value": 120}},
    {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}},
    {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "plan", "value_set": ["free", "pro", "team"], "mostly": 0.5}},
    {"type": "expect_column_stdev_to_be_between", "kwargs": {"column": "score", "min_value": 0}},
    {"expectation_type": "expect_column_values_to_not_be_null", "kwargs": {"column": "score"}, "severity": "warning"},
    {"type": "expect_column_kl_divergence_to_be_less_than", "kwargs": {"column": "score", "threshold": 0.1}}
  ]
}"#;

fn check(project: &Project, suite: &str) -> (i32, Value) {
    check_json(project, &[suite, "--data", "people=people.csv"])
}

#[test]
fn a_gx_suite_runs_natively_with_gx_counts_and_is_recorded_as_gx() {
    let project = Project::new();
    std::fs::write(project.path().join("people.csv"), DATA).unwrap();
    std::fs::write(project.path().join("suite.json"), SUITE).unwrap();
    let (code, json) = check(&project, "suite.json");
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(json["schema"], "kiroku.check/v1");
    assert_eq!(json["suite"], "people");
    assert_eq!(json["status"], "fail");
    assert_eq!(json["results"].as_array().unwrap().len(), 7);

    let rows_result = result(&json, "expect_table_row_count_to_be_between");
    assert_eq!(
        (
            rows_result["status"].as_str(),
            rows_result["observed"].as_u64()
        ),
        (Some("pass"), Some(5))
    );

    // `NA` is null to pandas: 4 non-null ages, 130 and -1 outside, rows 2 and 3 (0-based).
    let age = result(&json, "expect_column_values_to_be_between:age");
    assert_eq!(age["status"], "fail");
    assert_eq!(
        (age["element_count"].as_u64(), age["missing_count"].as_u64()),
        (Some(5), Some(1))
    );
    assert_eq!(
        (
            age["unexpected_count"].as_u64(),
            age["unexpected_percent"].as_f64()
        ),
        (Some(2), Some(50.0))
    );
    assert_eq!(rows(age), [2, 3]);
    // A column of ints with a null is float64 to pandas, so GX reports 130.0.
    assert_eq!(age["samples"][0]["values"]["age"].as_f64(), Some(130.0));
    assert!(age["samples"][0]["values"]["age"].is_f64());

    // Both rows of the repeated id are unexpected.
    assert_eq!(
        rows(result(&json, "expect_column_values_to_be_unique:id")),
        [2, 3]
    );

    // One of four non-null plans is outside the set: 75% pass, mostly 0.5 is met.
    let plan = result(&json, "expect_column_values_to_be_in_set:plan");
    assert_eq!(
        (plan["status"].as_str(), plan["unexpected_count"].as_u64()),
        (Some("pass"), Some(1))
    );
    assert_eq!(plan["top_unexpected"][0]["value"], "gold");

    // The sample standard deviation of 0.5, 0.75, 0.25, 1.5 (ddof 1).
    let stdev = result(&json, "expect_column_stdev_to_be_between:score")["observed"]
        .as_f64()
        .unwrap();
    assert!((stdev - 0.5400617248673217).abs() < 1e-12, "{stdev}");

    // A 0.x spelling with GX's `warning` severity: a warning, not a failure.
    assert_eq!(
        result(&json, "expect_column_values_to_not_be_null:score")["status"],
        "warn"
    );
    let unsupported = result(&json, "expect_column_kl_divergence_to_be_less_than:score");
    assert_eq!(unsupported["status"], "unsupported");
    assert!(unsupported["message"].as_str().unwrap().contains("not run"));

    let id = json["id"].as_i64().expect("the run is recorded");
    let store = SqliteStore::open(&project.store_dir(), false).unwrap();
    let run = store.check_run(id).unwrap();
    assert_eq!(run.run.source, CheckSource::Gx);
    assert_eq!(run.run.status, CheckStatus::Fail);
    assert!(run.run.suite_hash.starts_with("sha256:"));
    assert_eq!(
        run.run.datasets[0].version_id,
        json["datasets"][0]["version_id"]
    );
}

#[test]
fn a_broken_gx_suite_is_exit_2_naming_where_and_an_unsupported_only_suite_passes() {
    let project = Project::new();
    std::fs::write(project.path().join("people.csv"), DATA).unwrap();
    std::fs::write(
        project.path().join("broken.json"),
        "{\"expectations\": [{\"kwargs\": {}}]}",
    )
    .unwrap();
    let out = project.kiroku(&["check", "broken.json", "--data", "people=people.csv"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("broken.json: expectations[0]") && stderr.contains("\"type\""),
        "{stderr}"
    );

    std::fs::write(
        project.path().join("odd.json"),
        r#"{"expectations": [{"type": "expect_column_values_to_be_dateutil_parseable", "kwargs": {"column": "plan"}},
                            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id", "row_condition": "age>0", "condition_parser": "pandas"}},
                            {"type": "expect_column_values_to_be_between", "kwargs": {"column": "nope", "min_value": 1}}]}"#,
    )
    .unwrap();
    let (code, json) = check(&project, "odd.json");
    assert_eq!(
        json["suite"], "odd",
        "a suite without a name is named after its file"
    );
    assert_eq!(json["results"][0]["status"], "unsupported");
    // A row_condition is not evaluated: the expectation is reported, not checked on all rows.
    assert_eq!(json["results"][1]["status"], "unsupported");
    assert!(json["results"][1]["message"]
        .as_str()
        .unwrap()
        .contains("row_condition"));
    // A missing column is an error result (GX raises too): exit 2.
    assert_eq!(json["results"][2]["status"], "error");
    assert!(json["results"][2]["message"]
        .as_str()
        .unwrap()
        .contains("'nope'"));
    assert_eq!(code, 2);
}

#[test]
fn a_gx_suite_keeps_as_many_failing_rows_as_samples_says_like_a_toml_suite() {
    let project = Project::new();
    // 30 ages out of range: more than GX's 20 partial unexpected rows.
    let mut data = String::from("id,age\n");
    for i in 0..40 {
        data.push_str(&format!("{i},{}\n", if i < 30 { 200 + i } else { 30 }));
    }
    std::fs::write(project.path().join("ages.csv"), data).unwrap();
    std::fs::write(
        project.path().join("suite.json"),
        r#"{"name": "ages", "expectations": [
            {"type": "expect_column_values_to_be_between", "kwargs": {"column": "age", "min_value": 0, "max_value": 120}}
        ]}"#,
    )
    .unwrap();
    let samples = |extra: &[&str]| -> Vec<u64> {
        let mut args = vec!["suite.json", "--data", "ages=ages.csv", "--no-record"];
        args.extend(extra);
        let (code, json) = check_json(&project, &args);
        assert_eq!(code, 1, "{json:#}");
        let age = result(&json, "expect_column_values_to_be_between:age");
        assert_eq!(age["unexpected_count"].as_u64(), Some(30));
        age["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["row"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(samples(&[]), (0..20).collect::<Vec<u64>>());
    assert_eq!(samples(&["--samples", "3"]), vec![0, 1, 2]);
    assert_eq!(samples(&["--samples", "25"]), (0..25).collect::<Vec<u64>>());
}
