//! Who may call what, route by route: the access table (`server::access`) against the routes
//! the server really registers, in both directions, and a read-only token against every
//! (method, route) of a real `kiroku serve`, both API prefixes and the artifact proxy included.
mod common;
use common::raw_http::{raw, request, token};
use common::{Project, Server};
use kiroku::server::access::{self, Access};
use std::collections::BTreeSet;

/// Every (method, template) the router answers, read from the router itself (its `Debug`
/// lists each route's template and `Allow` methods). `HEAD` comes with `GET`, as in the table.
fn registered_routes() -> BTreeSet<(String, String)> {
    let whole = format!(
        "{:?}",
        kiroku::server::routes(kiroku::server::Limits::default())
    );
    // The routes proper; the fallback router after them numbers its own (default) routes.
    let dump = whole
        .split_once(", fallback_router:")
        .map_or(whole.as_str(), |(routes, _)| routes);
    let allow = regex::Regex::new(r#"RouteId\((\d+)\): MethodRouter\(MethodRouter \{.*?allow_header: ([A-Za-z]+)(?:\(b"([A-Z,]*)"\))?"#).unwrap();
    let path = regex::Regex::new(r#"RouteId\((\d+)\): "([^"]+)""#).unwrap();
    let paths: std::collections::HashMap<String, String> = path
        .captures_iter(dump)
        .map(|c| (c[1].to_string(), c[2].to_string()))
        .collect();
    let mut routes = BTreeSet::new();
    let mut seen = 0;
    for c in allow.captures_iter(dump) {
        seen += 1;
        let template = paths
            .get(&c[1])
            .unwrap_or_else(|| panic!("route {} has no path in {dump}", &c[1]));
        // `Skip` or no list means the route answers any method (`any(..)`): each must be listed.
        assert_eq!(
            &c[2], "Bytes",
            "{template} answers every method; register the methods it serves"
        );
        for method in c[3].split(',').filter(|m| *m != "HEAD") {
            routes.insert((method.to_string(), template.clone()));
        }
    }
    assert_eq!(seen, paths.len(), "every route is read from the router");
    assert!(
        routes.contains(&(
            "PUT".into(),
            "/ajax-api/2.0/mlflow-artifacts/artifacts/{*path}".into()
        )),
        "the router dump is read as expected: {routes:?}"
    );
    routes
}

fn table_routes() -> BTreeSet<(String, String)> {
    access::table()
        .into_iter()
        .map(|r| (r.method.to_string(), r.template))
        .collect()
}

#[test]
fn every_registered_route_is_in_the_access_table_and_every_table_row_is_registered() {
    let registered = registered_routes();
    let table = table_routes();
    let unlisted: Vec<_> = registered.difference(&table).collect();
    assert!(
        unlisted.is_empty(),
        "routes with no access rule (add them to server::access): {unlisted:?}"
    );
    let stale: Vec<_> = table.difference(&registered).collect();
    assert!(
        stale.is_empty(),
        "access rules for routes that do not exist: {stale:?}"
    );
    assert!(registered.len() > 90, "{}", registered.len());
}

/// A concrete path for a route template.
fn concrete(template: &str, run: &str) -> String {
    template
        .replace("{id}", run)
        .replace("{note}", "1")
        .replace("{*path}", &format!("0/{run}/artifacts/eval/search"))
}

fn create_run(url: &str, token: &str) -> String {
    let (status, body) = raw(
        url,
        &request(
            "POST",
            "/api/2.0/mlflow/runs/create",
            Some(token),
            br#"{"experiment_id":"0"}"#,
        ),
    );
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["run"]["info"]["run_id"].as_str().unwrap().to_string()
}

const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

#[test]
fn read_only_token_is_refused_every_write_and_no_read_on_every_route() {
    let project = Project::new();
    let alice = token(&project, "alice", false);
    let reader = token(&project, "rita", true);
    let server = Server::start(&project, &[]).unwrap();
    let run = create_run(&server.url, &alice);
    let rows = access::table();
    let mut checked = 0;
    for row in &rows {
        let path = concrete(&row.template, &run);
        // Every method: the table's, and those it does not list (which must be writes).
        for method in METHODS {
            let listed = if method == "HEAD" { "GET" } else { method };
            let access = rows
                .iter()
                .find(|r| r.template == row.template && r.method.as_str() == listed)
                .map_or(Access::Write, |r| r.access);
            let (status, body) = raw(&server.url, &request(method, &path, Some(&reader), b"{}"));
            match access {
                Access::Write => assert_eq!(
                    status, 403,
                    "a read-only token must not {method} {path} ({}): {body}",
                    row.template
                ),
                Access::Read | Access::Public => assert!(
                    status != 401 && status != 403,
                    "a read-only token may {method} {path}, got {status}: {body}"
                ),
            }
            checked += 1;
        }
    }
    assert!(checked > 600, "{checked}");
}

#[test]
fn read_only_token_cannot_put_artifacts_under_a_search_suffix() {
    let project = Project::new();
    let alice = token(&project, "alice", false);
    let reader = token(&project, "rita", true);
    let server = Server::start(&project, &[]).unwrap();
    let run = create_run(&server.url, &alice);
    for (i, prefix) in access::ARTIFACT_PREFIXES.iter().enumerate() {
        for tail in ["eval/search", "series/sampled", "x/runs/search"] {
            let path = format!("{prefix}/artifacts/0/{run}/artifacts/{i}/{tail}");
            let (status, body) = raw(
                &server.url,
                &request("PUT", &path, Some(&reader), b"planted"),
            );
            assert_eq!(status, 403, "PUT {path}: {body}");
            assert!(body.contains("PERMISSION_DENIED"), "{body}");
            let (status, _) = raw(&server.url, &request("GET", &path, Some(&reader), b""));
            assert_eq!(status, 404, "nothing was written at {path}");
            // The writer's own file cannot be deleted by the reader either.
            let (status, body) = raw(&server.url, &request("PUT", &path, Some(&alice), b"real"));
            assert_eq!(status, 200, "{body}");
            let (status, _) = raw(&server.url, &request("DELETE", &path, Some(&reader), b""));
            assert_eq!(status, 403, "DELETE {path}");
            let (status, body) = raw(&server.url, &request("GET", &path, Some(&reader), b""));
            assert_eq!((status, body.as_str()), (200, "real"), "{path} survives");
        }
    }
}

#[test]
fn unmatched_paths_tell_nothing_without_a_token_and_are_never_writable_read_only() {
    let project = Project::new();
    let alice = token(&project, "alice", false);
    let reader = token(&project, "rita", true);
    let server = Server::start(&project, &[]).unwrap();
    for path in [
        "/nope",
        "/api/2.0/mlflow/runs/nope",
        "/ajax-api/2.0/mlflow-artifacts/nope",
        "/api/v1/runs/x/y/z/search",
    ] {
        for method in METHODS {
            let (status, _) = raw(&server.url, &request(method, path, None, b"{}"));
            assert_eq!(status, 401, "{method} {path} without a token");
            let (status, _) = raw(&server.url, &request(method, path, Some(&reader), b"{}"));
            assert_eq!(status, 403, "{method} {path} with a read-only token");
        }
        let (status, body) = raw(&server.url, &request("GET", path, Some(&alice), b""));
        assert_eq!(status, 404, "{body}");
        assert!(body.contains("ENDPOINT_NOT_FOUND"), "{body}");
    }
}
