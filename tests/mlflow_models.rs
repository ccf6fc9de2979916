//! The real mlflow client's model APIs against a live `kiroku serve` (`mlflow_models.py`):
//! sklearn and pyfunc models logged, registered, aliased, loaded by alias, version, model id and
//! runs URI and used to predict; registry search with filter, order and paging; rename, delete;
//! MLflow's error codes. Then the store itself: the files landed under the store, and every
//! alias move made through MLflow's API is in the alias history. Metrics logged against logged
//! models come back with them as MLflow's server returns them.
mod common;
use common::requires::require_python_module;
use common::{python_findings, Project, Server};
use kiroku::store::{ModelStore, SqliteStore};
use serde_json::json;

#[test]
fn mlflow_client_logs_registers_aliases_and_loads_models_through_kiroku_serve() {
    if !require_python_module("mlflow") || !require_python_module("sklearn") {
        return;
    }
    let project = Project::new();
    let server = Server::start(&project, &[]).unwrap();
    let got = python_findings("mlflow_models.py", &server.url);

    assert_eq!(got["registered_version"], "1");
    assert_eq!(got["model_id_form"], true);
    assert_eq!(got["adder_version"], "1");
    assert_eq!(got["adder_source_is_model"], true);
    assert_eq!(
        got["loads_match"], true,
        "every way of loading predicts alike"
    );
    assert_eq!(got["adder_predicts"], json!([4.0, 5.0]));
    assert_eq!(got["champion"], json!(["2", ["champion"]]));
    assert_eq!(
        got["model_aliases"],
        json!({"challenger": "1", "champion": "2"})
    );
    assert_eq!(got["version_aliases"], json!(["challenger"]));
    assert_eq!(got["after_delete_alias"], json!(["champion"]));
    assert_eq!(got["version_tags"], json!({"validated": "yes"}));
    assert_eq!(got["model_description"], "classifier");
    assert_eq!(got["latest_production"], json!(["2"]));
    assert!(got["download_uri"].as_str().unwrap().ends_with(&format!(
        "/models/{}/artifacts",
        got["model_id"].as_str().unwrap()
    )));
    let five: Vec<String> = (0..5).map(|i| format!("search-{i}")).collect();
    let mut reversed = five.clone();
    reversed.reverse();
    assert_eq!(got["search_like"], json!(five));
    assert_eq!(got["search_desc"], json!(reversed));
    assert_eq!(got["search_tag"], json!(["search-3"]));
    assert_eq!(
        got["search_pages"],
        json!([["search-0", "search-1"], ["search-2", "search-3"], true])
    );
    // Aliases are filled in search results too (MLflow's server leaves them out).
    assert_eq!(
        got["versions"],
        json!([["1", true, []], ["2", null, ["champion"]]])
    );
    assert_eq!(got["versions_by_run"], json!(["1"]));
    assert_eq!(got["logged_named_model"], 2);
    assert_eq!(got["logged_status"], "READY");
    assert_eq!(got["logged_run"], true);
    assert_eq!(got["bare"], json!(["READY", {"alpha": "1", "beta": "2"}]));
    assert_eq!(got["deleted_logged"], "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(got["mlmodel_has_sklearn"], true);
    let listed = got["listed"].as_array().unwrap();
    assert!(listed.contains(&json!("MLmodel")) && listed.contains(&json!("model.skops")));
    assert_eq!(
        got["errors"],
        json!({
            "exists": "RESOURCE_ALREADY_EXISTS",
            "missing_model": "RESOURCE_DOES_NOT_EXIST",
            "missing_version": "RESOURCE_DOES_NOT_EXIST",
            "latest": "INVALID_PARAMETER_VALUE",
            "v3": "INVALID_PARAMETER_VALUE",
            "missing_alias": "INVALID_PARAMETER_VALUE",
            "bad_filter": "INVALID_PARAMETER_VALUE",
            "rename_taken": "RESOURCE_ALREADY_EXISTS",
        })
    );
    assert_eq!(got["renamed_alias"], "2");
    assert_eq!(got["old_name"], "RESOURCE_DOES_NOT_EXIST");
    assert_eq!(got["after_version_delete"], json!(["2"]));
    assert_eq!(got["after_delete"], "RESOURCE_DOES_NOT_EXIST");
    drop(server);

    // The store: the model's files are on disk, the alias moves are history.
    let model_id = got["model_id"].as_str().unwrap();
    let files = project
        .store_dir()
        .join("models")
        .join(model_id)
        .join("artifacts");
    assert!(files.join("MLmodel").is_file(), "{}", files.display());
    let store = SqliteStore::open(&project.store_dir(), false).unwrap();
    let history = store.alias_history("classifier", None).unwrap();
    let moves: Vec<(&str, Option<i64>, Option<i64>)> = history
        .iter()
        .map(|m| (m.alias.as_str(), m.from_version, m.to_version))
        .collect();
    assert_eq!(
        moves,
        vec![
            ("champion", None, Some(1)),
            ("champion", Some(1), Some(2)),
            ("challenger", None, Some(1)),
            ("challenger", Some(1), None),
            ("champion", Some(2), None),
        ],
        "set, moved, set, deleted, and champion gone with the model"
    );
    assert!(history[..4]
        .iter()
        .all(|m| m.reason == "via MLflow API" && !m.forced));
    assert_eq!(history[4].reason, "model deleted: via MLflow API");
}

/// A logged model's files through the artifact proxy, by hand: upload, download, listing,
/// delete; unknown models are 404, paths out of the folder 400, bodies over the limit 413.
#[test]
fn logged_model_files_go_through_the_artifact_proxy_and_stay_in_their_folder() {
    let project = Project::new();
    let server = Server::start(&project, &["--max-artifact-mb", "1"]).unwrap();
    let http = reqwest::blocking::Client::new();
    let api = format!("{}/api/2.0/mlflow", server.url);
    let exp: serde_json::Value = http
        .post(format!("{api}/experiments/create"))
        .json(&json!({"name": "files"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let exp_id = exp["experiment_id"].as_str().unwrap();
    let made: serde_json::Value = http
        .post(format!("{api}/logged-models"))
        .json(&json!({"experiment_id": exp_id, "name": "m"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let id = made["model"]["info"]["model_id"]
        .as_str()
        .unwrap()
        .to_string();
    let root = made["model"]["info"]["artifact_uri"].as_str().unwrap();
    assert_eq!(
        root,
        format!("mlflow-artifacts:/{exp_id}/models/{id}/artifacts")
    );
    let proxy = format!(
        "{}/api/2.0/mlflow-artifacts/artifacts/{exp_id}/models/{id}/artifacts",
        server.url
    );
    let put = |path: &str, body: Vec<u8>| {
        http.put(format!("{proxy}/{path}"))
            .body(body)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(put("sub/weights.bin", vec![7u8; 300_000]), 200);
    assert_eq!(put("MLmodel", b"flavors: {}\n".to_vec()), 200);
    let got = http.get(format!("{proxy}/sub/weights.bin")).send().unwrap();
    assert_eq!(got.status().as_u16(), 200);
    assert_eq!(got.bytes().unwrap().len(), 300_000);
    let listed: serde_json::Value = http
        .get(format!("{api}/logged-models/{id}/artifacts/directories"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        listed["files"],
        json!([{"path": "MLmodel", "is_dir": false, "file_size": 12}, {"path": "sub", "is_dir": true}])
    );
    // Over the limit: the server answers 413 as soon as it sees the length and may close the
    // connection before the client has written the whole body, so a broken pipe counts too;
    // either way nothing is kept (checked below).
    let big = http
        .put(format!("{proxy}/big.bin"))
        .body(vec![0u8; 2 << 20])
        .send();
    match big {
        Ok(answer) => assert_eq!(answer.status().as_u16(), 413),
        Err(e) => assert!(e.is_request(), "{e:?}"),
    }
    assert_eq!(put("../../escape", b"x".to_vec()), 400);
    let unknown = format!(
        "{}/api/2.0/mlflow-artifacts/artifacts/{exp_id}/models/m-{}/artifacts/x",
        server.url,
        "0".repeat(32)
    );
    assert_eq!(
        http.put(unknown)
            .body("x")
            .send()
            .unwrap()
            .status()
            .as_u16(),
        404
    );
    assert_eq!(
        http.delete(format!("{proxy}/sub"))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert_eq!(
        http.get(format!("{proxy}/sub/weights.bin"))
            .send()
            .unwrap()
            .status()
            .as_u16(),
        404
    );
    let files = project
        .store_dir()
        .join("models")
        .join(&id)
        .join("artifacts");
    assert!(files.join("MLmodel").is_file());
    assert!(!files.join("big.bin").exists() && !files.join("sub").exists());
}

#[test]
fn metrics_logged_against_a_logged_model_come_back_with_it() {
    if !require_python_module("mlflow") || !require_python_module("pandas") {
        return;
    }
    let project = Project::new();
    let server = Server::start(&project, &[]).unwrap();
    let got = python_findings("mlflow_logged_model_metrics.py", &server.url);
    drop(server);
    // What MLflow 3.17's own server answers to the same script (run by hand against
    // `mlflow server --backend-store-uri sqlite:///…`): every value logged against the model, with
    // its step, dataset and run; the run keeps the latest of each; a model logged after the
    // metrics gets the run's latest (the client links them), without their datasets.
    let adder = json!([
        ["acc", 0.9, 1, true, null, true],
        ["acc", 0.95, 2, true, null, true],
        ["f1", 0.8, 0, true, "holdout", true],
        ["implicit", 7.0, 0, true, null, true],
        ["loss", 0.25, 0, true, "holdout", true]
    ]);
    assert_eq!(got["get"], adder);
    assert_eq!(
        got["search"],
        json!({
            "adder": adder,
            "other": [
                ["f1", 0.8, 0, true, null, true],
                ["implicit", 7.0, 0, true, null, true],
                ["loss", 0.25, 0, true, null, true]
            ]
        })
    );
    assert_eq!(
        got["run_metrics"],
        json!({"acc": 0.95, "f1": 0.8, "implicit": 7.0, "loss": 0.25})
    );
    assert_eq!(got["other_has_none"], false);
}
