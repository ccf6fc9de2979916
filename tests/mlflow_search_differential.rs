//! The MLflow search dialect against MLflow's own server: `mlflow_search_differential.py` writes
//! a few hundred edge-case runs through `mlflow server` (SQLite), imports its database into a
//! kiroku store, serves it, and sends the same generated searches (`runs/search` and
//! `experiments/search`, filters and orders from MLflow's grammar, pages, run views, page
//! tokens) to both through the mlflow client. Every answer must match, except where a query
//! uses one of the extensions the README's dialect table documents.
//! Logged-model searches by metrics and params are compared the same way
//! (`mlflow_logged_model_search.py`).
mod common;
use common::differential_tally;
use common::requires::require_python_module;

#[test]
fn mlflow_routes_search_exactly_like_mlflow() {
    if !require_python_module("mlflow") {
        return;
    }
    let tally = differential_tally(
        "mlflow_search_differential.py",
        env!("CARGO_BIN_EXE_kiroku"),
    );
    eprintln!(
        "queries {}, differences {}, same errors {}, extensions {}, seconds {}",
        tally["queries"],
        tally["differences"],
        tally["same_errors"],
        tally["extensions"],
        tally["seconds"]
    );
    assert!(
        tally["queries"].as_u64().unwrap() >= 600,
        "too few queries: {tally}"
    );
    assert_eq!(
        tally["differences"].as_u64(),
        Some(0),
        "kiroku answered differently from MLflow:\n{}",
        serde_json::to_string_pretty(&tally["examples"]).unwrap()
    );
}

/// Logged-model search by metrics, params, tags and attributes (`metrics.x > v`,
/// `params.lr IN ('0.1')`, `tags.stage NOT IN ("dev",)`, `status = 2`, what MLflow refuses such
/// as `tag.x = 'a'`), `datasets`, `order_by` on metrics with a dataset, against MLflow's own server:
/// `mlflow_logged_model_search.py` writes the same logged models, params and metrics into both and compares every page of the same generated searches.
#[test]
fn logged_model_searches_by_metrics_answer_like_mlflow() {
    if !require_python_module("mlflow") {
        return;
    }
    let tally = differential_tally(
        "mlflow_logged_model_search.py",
        env!("CARGO_BIN_EXE_kiroku"),
    );
    assert!(tally["queries"].as_u64().unwrap() >= 250, "{tally}");
    // Refusals are compared too (the same error code on both).
    assert!(tally["errors"].as_u64().unwrap() > 0, "{tally}");
    assert_eq!(
        tally["differences"].as_u64(),
        Some(0),
        "kiroku answered differently from MLflow:\n{}",
        serde_json::to_string_pretty(&tally["examples"]).unwrap()
    );
}
