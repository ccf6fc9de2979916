//! Who may call what: the one table that says, for every route the server registers, whether
//! a method on it reads, writes, or needs no caller at all.
//!
//! Requests are classified by the route TEMPLATE axum matched (`MatchedPath`, e.g.
//! `/api/2.0/mlflow-artifacts/artifacts/{*path}`) and the method, never by the path the client
//! sent: a path suffix such as `/search` says nothing about what a route does. Anything not in
//! the table (an unknown method on a known route, an unmatched path) is a write, so a read-only
//! token can never reach it. `tests/server_routes.rs` checks the table against the router in
//! both directions, so a new route cannot escape it.
use axum::http::Method;
use std::collections::HashMap;
use std::sync::OnceLock;

/// What a caller needs for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token (`/health`).
    Public,
    /// Any token, read-only included.
    Read,
    /// A token that may write.
    Write,
}

use Access::{Public, Read, Write};

/// kiroku's own routes and the server's own, at these templates.
const KIROKU: &[(&str, &str, Access)] = &[
    ("GET", "/health", Public),
    ("GET", "/version", Read),
    ("GET", "/api/v1/info", Read),
    ("GET", "/api/v1/watch", Read),
    ("GET", "/api/v1/events", Read),
    ("GET", "/api/v1/experiments", Read),
    ("POST", "/api/v1/experiments", Write),
    ("GET", "/api/v1/experiments/lookup", Read),
    ("POST", "/api/v1/experiments/rename", Write),
    ("POST", "/api/v1/experiments/delete", Write),
    ("POST", "/api/v1/experiments/restore", Write),
    ("POST", "/api/v1/experiments/import", Write),
    ("POST", "/api/v1/experiments/delete-at", Write),
    ("POST", "/api/v1/logged-inputs", Read),
    ("POST", "/api/v1/experiments/tags", Write),
    ("POST", "/api/v1/experiments/tags/remove", Write),
    ("POST", "/api/v1/runs", Write),
    ("GET", "/api/v1/runs/resolve", Read),
    ("POST", "/api/v1/runs/search", Read),
    ("GET", "/api/v1/runs/{id}", Read),
    ("POST", "/api/v1/runs/{id}/status", Write),
    ("POST", "/api/v1/runs/{id}/name", Write),
    ("POST", "/api/v1/runs/{id}/params", Write),
    ("POST", "/api/v1/runs/{id}/tags", Write),
    ("POST", "/api/v1/runs/{id}/tags/remove", Write),
    ("POST", "/api/v1/runs/{id}/metrics", Write),
    ("GET", "/api/v1/runs/{id}/series", Read),
    ("POST", "/api/v1/runs/{id}/series/sampled", Read),
    ("GET", "/api/v1/runs/{id}/notes", Read),
    ("POST", "/api/v1/runs/{id}/notes", Write),
    ("POST", "/api/v1/runs/{id}/notes/{note}", Write),
    ("POST", "/api/v1/runs/{id}/notes/{note}/delete", Write),
    ("POST", "/api/v1/runs/{id}/star", Write),
    ("POST", "/api/v1/runs/{id}/deleted", Write),
    ("POST", "/api/v1/runs/{id}/source", Write),
    ("POST", "/api/v1/runs/{id}/environment", Write),
    ("POST", "/api/v1/runs/{id}/artifacts", Write),
    ("POST", "/api/v1/runs/{id}/inputs", Write),
    ("POST", "/api/v1/runs/{id}/batch", Write),
    ("GET", "/api/v1/runs/supervised", Read),
    ("POST", "/api/v1/runs/supervised", Write),
    ("POST", "/api/v1/runs/{id}/recover-lost", Write),
    ("POST", "/api/v1/runs/{id}/supervised-child", Write),
    ("GET", "/api/v1/jobs", Read),
    ("POST", "/api/v1/jobs", Write),
    ("GET", "/api/v1/jobs/{id}", Read),
    ("POST", "/api/v1/jobs/{id}/update", Write),
    ("POST", "/api/v1/jobs/{id}/cancel", Write),
    ("GET", "/api/v1/jobs/leases", Read),
    ("POST", "/api/v1/jobs/leases/acquire", Write),
    ("POST", "/api/v1/jobs/leases/release", Write),
    ("GET", "/api/v1/datasets", Read),
    ("GET", "/api/v1/datasets/versions", Read),
    ("POST", "/api/v1/datasets/versions", Write),
    ("GET", "/api/v1/datasets/resolve", Read),
    ("GET", "/api/v1/datasets/readers", Read),
    ("GET", "/api/v1/datasets/inputs", Read),
    ("POST", "/api/v1/datasets/inputs", Write),
    ("GET", "/api/v1/checks", Read),
    ("POST", "/api/v1/checks", Write),
    ("GET", "/api/v1/checks/{id}", Read),
    ("GET", "/api/v1/reviews", Read),
    ("POST", "/api/v1/reviews", Write),
    ("POST", "/api/v1/pipelines/objects/present", Read),
    ("GET", "/api/v1/pipelines/objects/{id}", Read),
    ("PUT", "/api/v1/pipelines/objects/{id}", Write),
    ("GET", "/api/v1/pipelines/run-cache", Read),
    ("POST", "/api/v1/pipelines/run-cache", Write),
    ("POST", "/api/v1/models/query", Read),
    ("POST", "/api/v1/models/change", Write),
    ("GET", "/api/v1/promotions/approvals", Read),
    ("POST", "/api/v1/promotions/approvals", Write),
    ("GET", "/api/v1/promotions/evaluations", Read),
    ("POST", "/api/v1/promotions/evaluations", Write),
    ("POST", "/api/v1/promotions/evaluations/update", Write),
    ("GET", "/api/v1/promotions/deliveries", Read),
    ("POST", "/api/v1/promotions/deliveries", Write),
    ("POST", "/api/v1/promotions/deliveries/claim", Write),
    ("POST", "/api/v1/promotions/deliveries/attempt", Write),
];

/// Where the MLflow tracking API is mounted (the REST API and the web UI's copy).
pub const MLFLOW_PREFIXES: [&str; 2] = ["/api/2.0/mlflow", "/ajax-api/2.0/mlflow"];

/// The MLflow tracking API, under each of `MLFLOW_PREFIXES`.
const MLFLOW: &[(&str, &str, Access)] = &[
    ("POST", "/experiments/create", Write),
    ("GET", "/experiments/get", Read),
    ("GET", "/experiments/get-by-name", Read),
    ("GET", "/experiments/search", Read),
    ("POST", "/experiments/search", Read),
    ("POST", "/experiments/update", Write),
    ("POST", "/experiments/delete", Write),
    ("POST", "/experiments/restore", Write),
    ("POST", "/experiments/set-experiment-tag", Write),
    ("POST", "/experiments/delete-experiment-tag", Write),
    ("POST", "/runs/create", Write),
    ("GET", "/runs/get", Read),
    ("POST", "/runs/update", Write),
    ("POST", "/runs/delete", Write),
    ("POST", "/runs/restore", Write),
    ("POST", "/runs/log-metric", Write),
    ("POST", "/runs/log-parameter", Write),
    ("POST", "/runs/set-tag", Write),
    ("POST", "/runs/delete-tag", Write),
    ("POST", "/runs/log-batch", Write),
    ("POST", "/runs/log-inputs", Write),
    ("POST", "/runs/search", Read),
    ("GET", "/metrics/get-history", Read),
    ("GET", "/artifacts/list", Read),
    ("POST", "/runs/outputs", Write),
    ("POST", "/logged-models", Write),
    ("POST", "/logged-models/search", Read),
    ("GET", "/logged-models/{model_id}", Read),
    ("PATCH", "/logged-models/{model_id}", Write),
    ("DELETE", "/logged-models/{model_id}", Write),
    ("PATCH", "/logged-models/{model_id}/tags", Write),
    ("DELETE", "/logged-models/{model_id}/tags/{tag_key}", Write),
    ("POST", "/logged-models/{model_id}/params", Write),
    (
        "GET",
        "/logged-models/{model_id}/artifacts/directories",
        Read,
    ),
    ("POST", "/registered-models/create", Write),
    ("GET", "/registered-models/get", Read),
    ("POST", "/registered-models/rename", Write),
    ("PATCH", "/registered-models/update", Write),
    ("DELETE", "/registered-models/delete", Write),
    ("GET", "/registered-models/search", Read),
    ("POST", "/registered-models/search", Read),
    ("GET", "/registered-models/get-latest-versions", Read),
    ("POST", "/registered-models/get-latest-versions", Read),
    ("POST", "/registered-models/set-tag", Write),
    ("DELETE", "/registered-models/delete-tag", Write),
    ("GET", "/registered-models/alias", Read),
    ("POST", "/registered-models/alias", Write),
    ("DELETE", "/registered-models/alias", Write),
    ("POST", "/model-versions/create", Write),
    ("GET", "/model-versions/get", Read),
    ("PATCH", "/model-versions/update", Write),
    ("POST", "/model-versions/transition-stage", Write),
    ("DELETE", "/model-versions/delete", Write),
    ("GET", "/model-versions/search", Read),
    ("POST", "/model-versions/search", Read),
    ("GET", "/model-versions/get-download-uri", Read),
    ("POST", "/model-versions/set-tag", Write),
    ("DELETE", "/model-versions/delete-tag", Write),
];

/// Where MLflow's artifact proxy is mounted.
pub const ARTIFACT_PREFIXES: [&str; 2] = [
    "/api/2.0/mlflow-artifacts",
    "/ajax-api/2.0/mlflow-artifacts",
];

/// MLflow's artifact proxy, under each of `ARTIFACT_PREFIXES`.
const ARTIFACTS: &[(&str, &str, Access)] = &[
    ("GET", "/artifacts", Read),
    ("GET", "/artifacts/{*path}", Read),
    ("PUT", "/artifacts/{*path}", Write),
    ("DELETE", "/artifacts/{*path}", Write),
];

/// Routes mounted from above the server by `kiroku serve` when asked (`--mcp`: the MCP
/// endpoint, whose every method needs any token; which tools a read-only token may call is
/// decided per tool behind it). Not part of `routes()`, so listed apart from `table()`.
pub const OPTIONAL: &[(&str, &str, Access)] = &[
    ("POST", "/mcp", Read),
    ("GET", "/mcp", Read),
    ("DELETE", "/mcp", Read),
];

/// One row of the table, its template expanded to the full path axum matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteAccess {
    pub method: Method,
    pub template: String,
    pub access: Access,
}

/// Every (method, template) the server answers, with what it needs. `HEAD` is implied by `GET`.
pub fn table() -> Vec<RouteAccess> {
    let mounted = |prefixes: &'static [&'static str], rows: &'static [(&str, &str, Access)]| {
        prefixes.iter().flat_map(move |prefix| {
            rows.iter()
                .map(move |(m, t, a)| (*m, format!("{prefix}{t}"), *a))
        })
    };
    KIROKU
        .iter()
        .map(|(m, t, a)| (*m, t.to_string(), *a))
        .chain(mounted(&MLFLOW_PREFIXES, MLFLOW))
        .chain(mounted(&ARTIFACT_PREFIXES, ARTIFACTS))
        .map(|(method, template, access)| RouteAccess {
            method: Method::from_bytes(method.as_bytes()).expect("a valid method"),
            template,
            access,
        })
        .collect()
}

/// Methods and their access, by template.
type ByTemplate = HashMap<String, Vec<(Method, Access)>>;

fn by_template() -> &'static ByTemplate {
    static MAP: OnceLock<ByTemplate> = OnceLock::new();
    MAP.get_or_init(|| {
        let mut map = ByTemplate::new();
        let optional = OPTIONAL.iter().map(|(m, t, a)| RouteAccess {
            method: Method::from_bytes(m.as_bytes()).expect("a valid method"),
            template: t.to_string(),
            access: *a,
        });
        for row in table().into_iter().chain(optional) {
            map.entry(row.template)
                .or_default()
                .push((row.method, row.access));
        }
        map
    })
}

/// What `method` on the route matched as `template` needs; `None` for a request that matched
/// no route. Whatever the table does not list is a write.
pub fn classify(method: &Method, template: Option<&str>) -> Access {
    let method = if method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    template
        .and_then(|t| by_template().get(t))
        .and_then(|rows| rows.iter().find(|(m, _)| m == method))
        .map_or(Write, |(_, access)| *access)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_suffix_on_an_artifact_path_is_still_a_write() {
        let artifact = "/api/2.0/mlflow-artifacts/artifacts/{*path}";
        assert_eq!(classify(&Method::PUT, Some(artifact)), Write);
        assert_eq!(classify(&Method::DELETE, Some(artifact)), Write);
        assert_eq!(classify(&Method::GET, Some(artifact)), Read);
        assert_eq!(classify(&Method::HEAD, Some(artifact)), Read);
    }

    #[test]
    fn unknown_methods_and_unmatched_paths_are_writes() {
        assert_eq!(classify(&Method::GET, None), Write);
        assert_eq!(classify(&Method::PATCH, Some("/api/v1/info")), Write);
        assert_eq!(
            classify(&Method::PUT, Some("/api/2.0/mlflow/runs/search")),
            Write
        );
        assert_eq!(
            classify(&Method::POST, Some("/ajax-api/2.0/mlflow/runs/search")),
            Read
        );
        assert_eq!(classify(&Method::GET, Some("/health")), Public);
        assert_eq!(classify(&Method::POST, Some("/health")), Write);
    }

    #[test]
    fn the_table_lists_each_method_and_template_once() {
        let rows = table();
        let mut seen = std::collections::HashSet::new();
        for row in &rows {
            assert!(
                seen.insert((row.method.clone(), row.template.clone())),
                "{row:?} twice"
            );
        }
    }
}
