//! Helpers for tests of `kiroku check`: run it for JSON, find a result, its sample rows.
use super::Project;
use serde_json::Value;

/// Runs `kiroku check ARGS --format json`; returns the exit code and the printed JSON.
pub fn check_json(project: &Project, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["check"];
    all.extend(args);
    all.extend(["--format", "json"]);
    let out = project.kiroku(&all);
    let code = out.status.code().unwrap_or(-1);
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "kiroku {all:?} (exit {code}) printed no JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (code, json)
}

/// The result with `id` of a check run's JSON.
pub fn result<'a>(json: &'a Value, id: &str) -> &'a Value {
    json["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no result {id} in {json:#}"))
}

/// The row numbers of a result's samples.
pub fn rows(result: &Value) -> Vec<u64> {
    result["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["row"].as_u64().unwrap())
        .collect()
}
