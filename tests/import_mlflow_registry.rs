//! `kiroku import mlflow` brings an `mlflow.db`'s model registry and logged models along: a
//! store written by the real `mlflow` package (`tests/mlflow_registry_gen.py`) imports with its
//! models, versions (numbers kept, a deleted one left out and never reused), stages, tags,
//! aliases (each a move in the alias history) and logged models with their metrics (steps,
//! runs, datasets) and files; a second
//! import adds nothing.
mod common;
use common::requires::require_python_module;
use kiroku::ingest::mlflow::import_mlflow;
use kiroku::model::*;
use kiroku::store::prelude::*;
use kiroku::store::SqliteStore;
use serde_json::{json, Value};
use std::process::Command;

#[test]
fn an_mlflow_registry_imports_with_its_versions_aliases_and_logged_models() {
    if !require_python_module("mlflow") || !require_python_module("sklearn") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("gen");
    let result = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/mlflow_registry_gen.py"
        ))
        .arg(&out)
        .output()
        .expect("running python3");
    assert!(
        result.status.success(),
        "mlflow_registry_gen.py failed:\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("expected.json")).unwrap()).unwrap();

    let store_dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&store_dir.path().join(".kiroku"), false).unwrap();
    let report = import_mlflow(&store, &out.join("mlflow.db"), "importer").unwrap();
    assert_eq!(report.registered_models, 2, "{report:#?}");
    assert_eq!(report.model_versions, 2);
    assert_eq!(report.logged_models, 4);
    assert!(report.logged_model_files >= 4 * 5, "{report:#?}");

    for model in expected["registered_models"].as_array().unwrap() {
        let name = model["name"].as_str().unwrap();
        let got = store.registered_model(name).unwrap();
        assert_eq!(got.description, model["description"].as_str().unwrap());
        assert_eq!(json!(got.tags), model["tags"]);
        assert_eq!(json!(got.aliases), model["aliases"]);
        let versions: Vec<Value> = store
            .model_versions(name)
            .unwrap()
            .iter()
            .map(|v| {
                json!({
                    "version": v.version, "source": v.source, "run_id": v.run_id, "stage": v.stage,
                    "description": v.description, "tags": v.tags, "status": v.status.mlflow_name(),
                })
            })
            .collect();
        assert_eq!(json!(versions), model["versions"], "{name}");
    }
    // The deleted version's number is not reused; aliases came in as moves.
    let next = store
        .create_model_version(&NewModelVersion {
            name: "clf".into(),
            source: "elsewhere".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(next.version, 4);
    let history = store.alias_history("clf", None).unwrap();
    assert_eq!(history.len(), 2);
    assert!(history.iter().all(|m| m.reason == "imported from MLflow"
        && m.from_version.is_none()
        && m.user == "importer"));

    for logged in expected["logged_models"].as_array().unwrap() {
        let id = logged["model_id"].as_str().unwrap();
        let got = store.logged_model(id, false).unwrap();
        assert_eq!(got.name, logged["name"].as_str().unwrap());
        assert_eq!(
            got.status.mlflow_name(),
            format!("LOGGED_MODEL_{}", logged["status"].as_str().unwrap())
        );
        assert_eq!(json!(got.source_run_id), logged["source_run_id"]);
        assert_eq!(json!(got.params), logged["params"]);
        assert_eq!(json!(got.tags), logged["tags"]);
        let mut metrics: Vec<Value> = got
            .metrics
            .iter()
            .map(|m| {
                json!({
                    "key": m.key, "value": m.value, "step": m.step, "timestamp": m.timestamp,
                    "run_id": m.run_id, "dataset_name": m.dataset_name,
                    "dataset_digest": m.dataset_digest,
                })
            })
            .collect();
        metrics.sort_by_key(|m| {
            (
                m["key"].as_str().unwrap().to_string(),
                m["step"].as_i64(),
                m["timestamp"].as_i64(),
            )
        });
        assert_eq!(json!(metrics), logged["metrics"], "{id}");
        assert_eq!(
            got.experiment_id,
            store.experiment("gen-models").unwrap().id
        );
        let mlmodel = store
            .logged_model_dir(id)
            .unwrap()
            .join("artifacts/MLmodel");
        assert!(mlmodel.is_file(), "{}", mlmodel.display());
        // The run it came from is in the store too.
        store.run(got.source_run_id.as_deref().unwrap()).unwrap();
    }

    let again = import_mlflow(&store, &out.join("mlflow.db"), "importer").unwrap();
    assert_eq!(
        (
            again.registered_models,
            again.model_versions,
            again.logged_models
        ),
        (0, 0, 0)
    );
    assert_eq!(store.model_versions("clf").unwrap().len(), 3);
}
