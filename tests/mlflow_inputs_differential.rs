//! Runs' dataset inputs through the MLflow API against MLflow's own server:
//! `mlflow_inputs_differential.py` logs the same `mlflow.log_input` datasets through MLflow's
//! server and through `kiroku serve`, imports MLflow's `mlflow.db` and an `mlruns` FileStore
//! written by the client, and compares every run's `inputs.dataset_inputs` (name, digest,
//! source type, source, schema, profile, input tags) from `runs/get` and `runs/search`.
mod common;
use common::differential_tally;
use common::requires::require_python_module;

#[test]
fn runs_get_and_search_return_dataset_inputs_as_mlflow_does() {
    if !require_python_module("mlflow") {
        return;
    }
    let tally = differential_tally(
        "mlflow_inputs_differential.py",
        env!("CARGO_BIN_EXE_kiroku"),
    );
    eprintln!(
        "runs compared {}, inputs {}, differences {}",
        tally["runs"], tally["inputs"], tally["differences"]
    );
    // 3 runs x 2 routes x 3 ways in (logged live, imported from mlflow.db, from mlruns).
    assert_eq!(tally["runs"].as_u64(), Some(18), "{tally}");
    assert!(tally["inputs"].as_u64().unwrap() >= 24, "{tally}");
    assert_eq!(
        tally["differences"].as_u64(),
        Some(0),
        "kiroku answered differently from MLflow:\n{}",
        serde_json::to_string_pretty(&tally["examples"]).unwrap()
    );
}
