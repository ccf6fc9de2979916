//! Hostile input to the request surface: oversized and repeated inputs, filters past SQLite's
//! limits, reads that must not write, misattributed events, undecodable config files, and two
//! property-based fuzzers (the query language against a real store, random JSON against every
//! MLflow and kiroku API route of a real server). Every user error is a 4xx with MLflow's error
//! JSON; nothing is a 5xx, no answer carries SQL or a server path.
mod common;
use common::Project;
use kiroku::model::{EventQuery, KeyedPoint, NewRun, RunQuery};
use kiroku::server::BackgroundServer;
use kiroku::store::prelude::*;
use kiroku::store::SqliteStore;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// A real store served by a real `BackgroundServer` on loopback.
struct Served {
    dir: tempfile::TempDir,
    store: Arc<SqliteStore>,
    server: BackgroundServer,
    client: reqwest::blocking::Client,
}

impl Served {
    /// A fresh store, served; tokens are required as soon as one is made (`token`).
    fn new() -> Served {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join(".kiroku"), false).unwrap());
        Served::over(dir, store)
    }

    fn over(dir: tempfile::TempDir, store: Arc<SqliteStore>) -> Served {
        let server = BackgroundServer::start(
            store.clone() as Arc<dyn Store>,
            Some(store.clone()),
            "127.0.0.1:0".parse().unwrap(),
        )
        .unwrap();
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        Served {
            dir,
            store,
            server,
            client,
        }
    }

    fn token(&self, user: &str, read_only: bool) -> String {
        self.store.create_token(user, read_only).unwrap().1
    }

    /// Sends `body` (JSON for POST, the query string for GET) and returns the status and the
    /// answer's JSON (`Null` when it is not JSON).
    fn send(&self, method: &str, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        let url = format!("{}{path}", self.server.url());
        let mut req = if method == "GET" {
            // A URL stays within what the client sends (the body limit is for bodies): http's
            // `Uri` refuses one over 64 KiB, and a char can take 12 bytes percent-encoded.
            let pairs: Vec<(String, String)> = query_pairs(body)
                .into_iter()
                .take(8)
                .map(|(k, v)| (k.chars().take(500).collect(), v.chars().take(500).collect()))
                .collect();
            self.client.get(&url).query(&pairs)
        } else {
            self.client
                .post(&url)
                .header("content-type", "application/json")
                .body(body.to_string())
        };
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().expect("the server answers");
        let status = res.status().as_u16();
        let text = res.text().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send("POST", path, None, &body)
    }

    fn run(&self, experiment: &str, user: &str) -> String {
        let new = NewRun {
            experiment: experiment.into(),
            user: user.into(),
            ..Default::default()
        };
        self.store.create_run(&new).unwrap().id
    }
}

/// A JSON object as query-string pairs (arrays repeat their key).
fn query_pairs(body: &Value) -> Vec<(String, String)> {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out = Vec::new();
    if let Value::Object(map) = body {
        for (k, v) in map {
            match v {
                Value::Array(items) => out.extend(items.iter().map(|i| (k.clone(), text(i)))),
                other => out.push((k.clone(), text(other))),
            }
        }
    }
    out
}

/// A 400 in MLflow's shape, with no SQL and no server path in its message.
fn assert_user_error(status: u16, body: &Value, served: &Served, what: &str) {
    assert_eq!(status, 400, "{what}: {}", short(body));
    assert_eq!(
        body["error_code"],
        "INVALID_PARAMETER_VALUE",
        "{what}: {}",
        short(body)
    );
    assert_clean(body, served, what);
}

/// No SQL text and no server path in an answer.
fn assert_clean(body: &Value, served: &Served, what: &str) {
    let message = body["message"]
        .as_str()
        .unwrap_or_default()
        .to_ascii_lowercase();
    for leak in ["sql", "select ", "expression tree", "variables", "no such"] {
        assert!(!message.contains(leak), "{what}: leaks '{leak}': {message}");
    }
    let path = served.dir.path().display().to_string();
    assert!(
        !body.to_string().contains(&path),
        "{what}: leaks the store path: {body}"
    );
}

const SEARCH: &str = "/api/2.0/mlflow/runs/search";
const KIROKU_SEARCH: &str = "/api/v1/runs/search";

/// A kiroku API search body.
fn kiroku_search(experiments: Vec<String>, filter: Option<String>) -> Value {
    serde_json::to_value(RunQuery {
        experiments,
        filter,
        limit: Some(10),
        ..Default::default()
    })
    .unwrap()
}

/// The start of an answer, for assertion messages.
fn short(v: &Value) -> String {
    v.to_string().chars().take(300).collect()
}

/// `n` conditions joined by `and`.
fn terms(n: usize) -> String {
    (0..n)
        .map(|i| format!("metrics.m{} > {i}", i % 7))
        .collect::<Vec<_>>()
        .join(" and ")
}

#[test]
fn runs_search_with_100k_copies_of_one_experiment_id_counts_it_once() {
    let s = Served::new();
    let (_, made) = s.post("/api/2.0/mlflow/experiments/create", json!({"name": "e"}));
    let id = made["experiment_id"].as_str().unwrap().to_string();
    s.run("e", "alice");
    let ids = vec![id.clone(); 100_000];
    let started = std::time::Instant::now();
    let (status, body) = s.post(SEARCH, json!({"experiment_ids": ids}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["runs"].as_array().unwrap().len(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    // Distinct ids past the cap are refused before any lookup.
    let many: Vec<String> = (1..=1001).map(|i| i.to_string()).collect();
    let (status, body) = s.post(SEARCH, json!({"experiment_ids": many}));
    assert_user_error(status, &body, &s, "1001 experiment ids");
    // kiroku's own API: the same rule for experiment names.
    let names: Vec<String> = vec!["e".to_string(); 100_000];
    let (status, body) = s.post(KIROKU_SEARCH, kiroku_search(names, None));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["runs"].as_array().unwrap().len(), 1);
}

#[test]
fn experiments_update_refuses_the_long_name_create_refuses() {
    let s = Served::new();
    let (_, made) = s.post("/api/2.0/mlflow/experiments/create", json!({"name": "e"}));
    let id = made["experiment_id"].as_str().unwrap().to_string();
    let long = "n".repeat(100_000);
    let (status, body) = s.post("/api/2.0/mlflow/experiments/create", json!({"name": long}));
    assert_user_error(status, &body, &s, "create");
    let (status, body) = s.post(
        "/api/2.0/mlflow/experiments/update",
        json!({"experiment_id": id, "new_name": long}),
    );
    assert_user_error(status, &body, &s, "update");
    assert!(
        body.to_string().len() < 1000,
        "the message echoes the name: {body}"
    );
    let (status, body) = s.post(
        "/api/v1/experiments/rename",
        json!({"ref": "e", "user": "u", "new_name": long}),
    );
    assert_user_error(status, &body, &s, "kiroku rename");
    let (status, body) = s.post("/api/v1/experiments", json!({"name": long, "user": "u"}));
    assert_user_error(status, &body, &s, "kiroku create");
    // 500 characters is still a name.
    let fine = "é".repeat(500);
    let (status, body) = s.post(
        "/api/2.0/mlflow/experiments/update",
        json!({"experiment_id": id, "new_name": fine}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(s.store.experiment(&id).unwrap().name, fine);
}

#[test]
fn both_apis_refuse_oversized_values_lists_names_users_and_notes() {
    let s = Served::new();
    let run = s.run("e", "alice");
    let cases = [
        (
            format!("/api/v1/runs/{run}/params"),
            json!({"pairs": [["p", "v".repeat(6001)]]}),
        ),
        (
            format!("/api/v1/runs/{run}/tags"),
            json!({"pairs": [["t", "v".repeat(8001)]], "user": "u"}),
        ),
        (
            format!("/api/v1/runs/{run}/tags"),
            json!({"pairs": vec![["t", "v"]; 1001], "user": "u"}),
        ),
        (
            format!("/api/v1/runs/{run}/tags/remove"),
            json!({"keys": vec!["t"; 1001], "user": "u"}),
        ),
        (
            format!("/api/v1/runs/{run}/name"),
            json!({"name": "r".repeat(8001), "user": "u"}),
        ),
        (
            format!("/api/v1/runs/{run}/notes"),
            json!({"author": "u", "body": "b".repeat(100_001), "reply_to": null, "anchor": null}),
        ),
        (
            "/api/v1/experiments/tags".to_string(),
            json!({"ref": "e", "user": "u", "pairs": [["k", "v".repeat(20_001)]]}),
        ),
    ];
    for (path, body) in cases {
        let (status, answer) = s.post(&path, body);
        assert_user_error(status, &answer, &s, &path);
    }
    let (status, body) = s.post(
        "/api/v1/experiments",
        json!({"name": "x", "user": "u".repeat(501)}),
    );
    assert_user_error(status, &body, &s, "a 501-character user");
    let (status, body) = s.post(
        "/api/2.0/mlflow/runs/create",
        json!({"experiment_id": "0", "tags": vec![json!({"key": "k", "value": "v"}); 1001]}),
    );
    assert_user_error(status, &body, &s, "runs/create with 1001 tags");
    let clauses = vec!["name LIKE '%a%'"; 1001].join(" and ");
    let (status, body) = s.post(
        "/api/2.0/mlflow/experiments/search",
        json!({"filter": clauses}),
    );
    assert_user_error(status, &body, &s, "experiments/search with 1001 clauses");
    // MLflow's run rename goes through the same rule.
    let (status, body) = s.post(
        "/api/2.0/mlflow/runs/update",
        json!({"run_id": run, "run_name": "r".repeat(8001)}),
    );
    assert_user_error(status, &body, &s, "runs/update run_name");
    let (status, body) = s.send(
        "GET",
        "/api/2.0/mlflow/metrics/get-history",
        None,
        &json!({"run_id": run, "metric_key": "m", "max_results": 25_001}),
    );
    assert_user_error(status, &body, &s, "get-history max_results");
}

#[test]
fn a_filter_of_1100_terms_is_a_400_with_a_column_not_a_500() {
    let s = Served::new();
    s.run("e", "alice");
    for n in [1100, 5000] {
        let (status, body) = s.post(SEARCH, json!({"filter": terms(n)}));
        assert_user_error(status, &body, &s, "mlflow filter");
        assert!(
            body["message"].as_str().unwrap().contains("at most 1000"),
            "{body}"
        );
        let (status, body) = s.post(KIROKU_SEARCH, kiroku_search(vec![], Some(terms(n))));
        assert_user_error(status, &body, &s, "kiroku filter");
        assert_eq!(body["kind"], "query", "{body}");
    }
    // The largest accepted filter runs, with `and` and with `or`.
    for sep in [" and ", " or "] {
        let filter = (0..1000)
            .map(|i| format!("params.p{} = '{i}'", i % 5))
            .collect::<Vec<_>>()
            .join(sep);
        let (status, body) = s.post(SEARCH, json!({"filter": filter}));
        assert_eq!(status, 200, "{body}");
    }
}

#[test]
fn in_lists_and_experiment_lists_of_40000_items_are_400_never_500() {
    let s = Served::new();
    s.run("e", "alice");
    let list = |n: usize| {
        (0..n)
            .map(|i| format!("'{i}'"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let (status, body) = s.post(
        SEARCH,
        json!({"filter": format!("params.p IN ({})", list(40_000))}),
    );
    assert_user_error(status, &body, &s, "IN list of 40,000");
    // The largest accepted list runs.
    let (status, body) = s.post(
        SEARCH,
        json!({"filter": format!("tags.t IN ({})", list(10_000))}),
    );
    assert_eq!(status, 200, "{body}");
    let ids: Vec<String> = (0..40_000).map(|i| i.to_string()).collect();
    let (status, body) = s.post(SEARCH, json!({"experiment_ids": ids}));
    assert_user_error(status, &body, &s, "40,000 experiment ids");
    // kiroku's API takes names; 1,000 of them (past SQLite's old 999-variable limit) run.
    let names: Vec<String> = (0..1000).map(|i| format!("x{i}")).collect();
    let (status, body) = s.post(KIROKU_SEARCH, kiroku_search(names, None));
    assert_eq!(status, 200, "{body}");
    let names: Vec<String> = (0..40_000).map(|i| format!("x{i}")).collect();
    let (status, body) = s.post(KIROKU_SEARCH, kiroku_search(names, None));
    assert_user_error(status, &body, &s, "40,000 experiment names");
}

#[test]
fn a_filter_of_40000_numbers_lexes_in_linear_time() {
    // Each number used to copy the rest of the input: 10,000 numbers took 10 s to parse.
    let values = (0..40_000)
        .map(|i| format!("{i}.5"))
        .collect::<Vec<_>>()
        .join(",");
    let filter = format!("metrics.m IN ({values})");
    let started = std::time::Instant::now();
    let e = kiroku::query::parse_filter(&filter).unwrap_err();
    assert!(e.message.contains("at most 10000"), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn every_limit_of_the_query_language_runs_in_sqlite_at_its_edge() {
    let dir = tempfile::tempdir().unwrap();
    let store = fuzz_store(&dir);
    let deep = format!("{}metrics.m > 0{}", "(".repeat(63), ")".repeat(63));
    let nots = format!("{}metrics.m > 0", "not ".repeat(63));
    let pattern = format!("run_name LIKE '{}%'", "a".repeat(49_990));
    let ilike = format!("tags.t ILIKE '{}'", "é".repeat(12_000));
    let lists = (0..10)
        .map(|k| {
            let values = (0..1000)
                .map(|i| format!("{i}.5"))
                .collect::<Vec<_>>()
                .join(",");
            format!("metrics.m{k} NOT IN ({values})")
        })
        .collect::<Vec<_>>()
        .join(" or ");
    let words = (0..1000)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" or ");
    let order: String = (0..16)
        .map(|i| format!("metrics.m{i} desc"))
        .collect::<Vec<_>>()
        .join(", ");
    // The most parameters one filter binds: 1,000 conditions (990 bare words take 3 each)
    // and 10,000 list values, about 13,000 of SQLite's 32,766.
    let words_990 = (0..990)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" or ");
    let most = format!("{lists} or {words_990}");
    for filter in [deep, nots, pattern, ilike, lists, words, most] {
        for reverse in [false, true] {
            let q = RunQuery {
                filter: Some(filter.clone()),
                sort: Some(order.clone()),
                limit: Some(3),
                reverse,
                ..Default::default()
            };
            store
                .search_runs(&q)
                .unwrap_or_else(|e| panic!("{}: {e}", &filter[..60.min(filter.len())]));
        }
    }
    // One past each limit is a query error, never a database error.
    let too_deep = format!("{}metrics.m > 0{}", "(".repeat(64), ")".repeat(64));
    let too_long = format!("run_name LIKE '{}'", "a".repeat(50_001));
    let too_many_keys: String = (0..17)
        .map(|i| format!("metrics.m{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    for (filter, sort) in [
        (too_deep, String::new()),
        (too_long, String::new()),
        (terms(1001), String::new()),
        (String::new(), too_many_keys),
    ] {
        let q = RunQuery {
            filter: Some(filter),
            sort: Some(sort),
            ..Default::default()
        };
        let e = store.search_runs(&q).unwrap_err();
        assert!(matches!(e, kiroku::error::KirokuError::Query { .. }), "{e}");
        assert_eq!(e.exit_code(), 2);
    }
}

#[test]
fn cli_exits_2_for_a_filter_of_1100_terms() {
    let project = Project::new();
    let out = project.kiroku(&["runs", "ls", "--filter", &terms(1100)]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("too many conditions"), "{stderr}");
}

#[test]
fn read_only_token_experiments_get_0_creates_no_default_experiment() {
    let s = Served::new();
    let reader = s.token("rita", true);
    let writer = s.token("alice", false);
    for path in [
        "/api/2.0/mlflow/experiments/get",
        "/ajax-api/2.0/mlflow/experiments/get",
    ] {
        let (status, body) = s.send("GET", path, Some(&reader), &json!({"experiment_id": "0"}));
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["experiment"]["name"], "Default");
    }
    let (status, body) = s.send(
        "POST",
        SEARCH,
        Some(&reader),
        &json!({"experiment_ids": ["0"]}),
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        s.store.experiments(true).unwrap().is_empty(),
        "a read made an experiment"
    );
    assert!(s.store.events(&EventQuery::default()).unwrap().is_empty());
    // The first write makes it.
    let (status, body) = s.send(
        "POST",
        "/api/2.0/mlflow/runs/create",
        Some(&writer),
        &json!({"experiment_id": "0"}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(s.store.experiments(true).unwrap()[0].name, "Default");
}

#[test]
fn bob_changing_alices_run_status_is_logged_as_bob() {
    let s = Served::new();
    let bob = s.token("bob", false);
    let run = s.run("e", "alice");
    let (status, body) = s.send(
        "POST",
        "/api/2.0/mlflow/runs/update",
        Some(&bob),
        &json!({"run_id": run, "status": "KILLED"}),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = s.send(
        "POST",
        &format!("/api/v1/runs/{run}/status"),
        Some(&bob),
        &json!({"status": "finished", "exit_code": 0, "end_time": 5, "user": "alice"}),
    );
    assert_eq!(status, 200, "{body}");
    // Every other kind of run write through either API names bob too.
    let writes = [
        (
            "/api/2.0/mlflow/runs/set-tag",
            json!({"run_id": run, "key": "k", "value": "v"}),
        ),
        (
            "/api/2.0/mlflow/runs/update",
            json!({"run_id": run, "run_name": "renamed"}),
        ),
        (
            "/api/2.0/mlflow/runs/delete-tag",
            json!({"run_id": run, "key": "k"}),
        ),
        ("/api/2.0/mlflow/runs/delete", json!({"run_id": run})),
        ("/api/2.0/mlflow/runs/restore", json!({"run_id": run})),
    ];
    for (path, body) in writes {
        let (status, answer) = s.send("POST", path, Some(&bob), &body);
        assert_eq!(status, 200, "{path}: {answer}");
    }
    let kiroku_writes = [
        ("name", json!({"name": "again", "user": "alice"})),
        ("tags", json!({"pairs": [["k2", "v"]], "user": "alice"})),
        ("tags/remove", json!({"keys": ["k2"], "user": "alice"})),
        ("deleted", json!({"deleted": true, "user": "alice"})),
        ("deleted", json!({"deleted": false, "user": "alice"})),
    ];
    for (suffix, body) in kiroku_writes {
        let path = format!("/api/v1/runs/{run}/{suffix}");
        let (status, answer) = s.send("POST", &path, Some(&bob), &body);
        assert_eq!(status, 200, "{path}: {answer}");
    }
    let events = s.store.events(&EventQuery::default()).unwrap();
    let by_others: Vec<_> = events
        .iter()
        .filter(|e| e.run_id.as_deref() == Some(run.as_str()) && e.kind != "run.started")
        .filter(|e| e.user != "bob")
        .collect();
    assert!(by_others.is_empty(), "misattributed: {by_others:#?}");
    let statuses: Vec<_> = events
        .iter()
        .filter(|e| e.kind.starts_with("run.k") || e.kind == "run.finished")
        .collect();
    assert_eq!(statuses.len(), 2, "{events:#?}");
    // The wrapper finishing its own run (no acting user) is still the owner.
    s.store
        .set_status(&run, kiroku::model::RunStatus::Failed, Some(1), None)
        .unwrap();
    let last = &s.store.events(&EventQuery::default()).unwrap()[0];
    assert_eq!(
        (last.kind.as_str(), last.user.as_str()),
        ("run.failed", "alice")
    );
}

#[test]
fn a_non_utf8_kiroku_toml_exits_2() {
    let project = Project::new();
    std::fs::write(
        project.path().join("kiroku.toml"),
        b"[scalars]\nx = \"\xff\xfe\"\n",
    )
    .unwrap();
    let out = project.kiroku(&["runs", "ls"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("not UTF-8"), "{stderr}");
    // The user's config file too.
    let project = Project::new();
    let user_dir = project.path().join(".config").join("kiroku");
    std::fs::create_dir_all(&user_dir).unwrap();
    std::fs::write(user_dir.join("config.toml"), b"\xc3\x28").unwrap();
    let out = project.kiroku(&["runs", "ls"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_database_failure_answers_500_without_sql_or_paths() {
    let s = Served::new();
    let run = s.run("e", "alice");
    // Break the store under the server: the next read of notes fails inside SQLite.
    let conn = rusqlite::Connection::open(s.dir.path().join(".kiroku").join("kiroku.db")).unwrap();
    conn.execute_batch("DROP TABLE notes").unwrap();
    let (status, body) = s.send(
        "GET",
        &format!("/api/v1/runs/{run}/notes"),
        None,
        &Value::Null,
    );
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error_code"], "INTERNAL_ERROR");
    assert_clean(&body, &s, "notes of a broken store");
    assert!(!body.to_string().contains("notes"), "{body}");
}

// ---- the query language against a real store -------------------------------------------

/// A store with a few runs carrying the keys the fuzzers name.
fn fuzz_store(dir: &tempfile::TempDir) -> SqliteStore {
    let store = SqliteStore::open(&dir.path().join(".kiroku"), false).unwrap();
    for i in 0..4 {
        let run = store
            .create_run(&NewRun {
                experiment: "e".into(),
                user: format!("u{i}"),
                name: Some(format!("run {i} aaa")),
                params: vec![
                    ("p".into(), format!("{}", i as f64 * 0.5)),
                    ("q".into(), "adam".into()),
                ],
                tags: vec![("t".into(), format!("v{i}"))],
                ..Default::default()
            })
            .unwrap();
        let points: Vec<KeyedPoint> = (0..3)
            .map(|k| KeyedPoint {
                key: format!("m{k}"),
                step: k,
                timestamp: 1000 + k,
                value: if i == 3 {
                    f64::NAN
                } else {
                    i as f64 + k as f64
                },
            })
            .chain(std::iter::once(KeyedPoint {
                key: "m".into(),
                step: 0,
                timestamp: 1,
                value: i as f64,
            }))
            .collect();
        store.log_metrics(&run.id, &points).unwrap();
    }
    store
}

const FIELDS: &[&str] = &[
    "metrics.m",
    "metrics.m0",
    "metric.`m1`",
    "metrics.\"no such\"",
    "params.p",
    "param.q",
    "tags.t",
    "tags.`mlflow.runName`",
    "attributes.status",
    "status",
    "start_time",
    "end_time",
    "run_name",
    "name",
    "user",
    "run_id",
    "parent_id",
    "experiment",
    "host",
    "datasets.name",
    "datasets.digest",
    "dataset.context",
    "attr.created",
    "id",
];
const OPS: &[&str] = &[
    "=",
    "!=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "LIKE",
    "not like",
    "ILIKE",
    "NOT ILIKE",
    "IN",
    "not in",
    "IS NULL",
    "is not null",
];
const VALUES: &[&str] = &[
    "0",
    "-1",
    "0.5",
    "1e308",
    "-1e-308",
    "99999999999999999999999",
    "NaN",
    "inf",
    "-inf",
    "'adam'",
    "'%a_'",
    "''",
    "'it''s'",
    "\"dq\"",
    "'finished'",
    "'é名'",
    "('a', 'b')",
    "(1, 2.5, NaN)",
    "('x')",
    "()",
    "'\\'",
    "'%'",
];

/// A filter shaped by the grammar, from random choices.
fn filter_strategy() -> impl Strategy<Value = String> {
    let cond = (0..FIELDS.len(), 0..OPS.len(), 0..VALUES.len()).prop_map(|(f, o, v)| {
        let op = OPS[o];
        if op.to_ascii_lowercase().contains("null") {
            format!("{} {op}", FIELDS[f])
        } else if op.to_ascii_lowercase().contains("in")
            && !op.to_ascii_lowercase().contains("like")
        {
            format!(
                "{} {op} ({})",
                FIELDS[f],
                VALUES[v].trim_matches(|c| c == '(' || c == ')')
            )
        } else {
            format!("{} {op} {}", FIELDS[f], VALUES[v])
        }
    });
    let leaf = prop_oneof![
        8 => cond,
        1 => "[a-z]{1,6}".prop_map(|w| w.to_string()),
        1 => Just("'run 1'".to_string()),
    ];
    leaf.prop_recursive(6, 48, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| format!("({e})")),
            inner.clone().prop_map(|e| format!("not {e}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} and {b}")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("{a} OR {b}")),
        ]
    })
}

fn order_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec((0..FIELDS.len(), 0..3usize), 0..4).prop_map(|keys| {
        keys.iter()
            .map(|(f, d)| format!("{}{}", FIELDS[*f], ["", " asc", " DESC"][*d]))
            .collect::<Vec<_>>()
            .join(", ")
    })
}

const PIECES: &[&str] = &[
    "metrics.",
    "params.",
    "tags.",
    "datasets.",
    "m",
    "`a b`",
    "\"x\"",
    "'y'",
    "'",
    "\"",
    "`",
    ">",
    ">=",
    "=",
    "!=",
    "<>",
    "LIKE",
    "ILIKE",
    "IN",
    "(",
    ")",
    ",",
    "NOT",
    "IS",
    "NULL",
    "and",
    "or",
    "0.5",
    "-1e9",
    "nan",
    "-inf",
    " ",
    "é",
    "名",
    "\\",
    "%",
    "_",
    "status",
    ".",
    "asc",
    "desc",
    "\u{0}",
    "\u{202e}",
    "1e999999",
];

fn soup_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => (0..PIECES.len()).prop_map(|i| PIECES[i].to_string()),
            1 => "\\PC{0,4}",
        ],
        0..24,
    )
    .prop_map(|parts| parts.join(" "))
}

/// Every accepted filter and order runs (0 database errors); every refusal is a query error
/// pointing inside the text.
fn check_query(store: &SqliteStore, filter: &str, order: &str, reverse: bool) {
    for (text, parsed) in [
        (filter, kiroku::query::parse_filter(filter).map(|_| ())),
        (order, kiroku::query::parse_order(order).map(|_| ())),
    ] {
        if let Err(e) = parsed {
            let len = text.chars().count();
            assert!(e.column >= 1 && e.column <= len + 1, "{text:?}: {e}");
            let _ = e.render_caret(text);
        }
    }
    let q = RunQuery {
        filter: Some(filter.to_string()),
        sort: Some(order.to_string()),
        limit: Some(2),
        offset: 1,
        reverse,
        ..Default::default()
    };
    match store.search_runs(&q) {
        Ok(_) => {}
        Err(kiroku::error::KirokuError::Query { .. })
        | Err(kiroku::error::KirokuError::Invalid(_)) => {}
        Err(e) => panic!("filter {filter:?} order {order:?}: {e}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fuzz_query_grammar_shaped_filters_run_without_database_errors(
        filter in filter_strategy(),
        order in order_strategy(),
        reverse in any::<bool>(),
    ) {
        thread_local! {
            static STORE: (tempfile::TempDir, SqliteStore) = {
                let dir = tempfile::tempdir().unwrap();
                let store = fuzz_store(&dir);
                (dir, store)
            };
        }
        STORE.with(|(_, store)| check_query(store, &filter, &order, reverse));
    }

    #[test]
    fn fuzz_query_token_soup_never_panics_and_errors_point_inside(
        filter in soup_strategy(),
        order in soup_strategy(),
    ) {
        thread_local! {
            static STORE: (tempfile::TempDir, SqliteStore) = {
                let dir = tempfile::tempdir().unwrap();
                let store = fuzz_store(&dir);
                (dir, store)
            };
        }
        STORE.with(|(_, store)| check_query(store, &filter, &order, false));
    }
}

// ---- random JSON against every route ----------------------------------------------------

/// Every MLflow and kiroku API route, with a well-formed body to mutate. `RUN` and `NOTE`
/// stand for a real run id and note id.
fn routes() -> Vec<(&'static str, &'static str, Value)> {
    vec![
        (
            "POST",
            "/api/2.0/mlflow/experiments/create",
            json!({"name": "x", "tags": [{"key": "k", "value": "v"}]}),
        ),
        (
            "GET",
            "/api/2.0/mlflow/experiments/get",
            json!({"experiment_id": "1"}),
        ),
        (
            "GET",
            "/api/2.0/mlflow/experiments/get-by-name",
            json!({"experiment_name": "e"}),
        ),
        (
            "POST",
            "/api/2.0/mlflow/experiments/search",
            json!({"max_results": 10, "filter": "name LIKE 'e%'", "order_by": ["name DESC"], "view_type": "ALL", "page_token": ""}),
        ),
        (
            "GET",
            "/ajax-api/2.0/mlflow/experiments/search",
            json!({"max_results": 10, "filter": "tags.k = 'v'"}),
        ),
        (
            "POST",
            "/api/2.0/mlflow/experiments/update",
            json!({"experiment_id": "1", "new_name": "e2"}),
        ),
        (
            "POST",
            "/api/2.0/mlflow/experiments/delete",
            json!({"experiment_id": "2"}),
        ),
        (
            "POST",
            "/api/2.0/mlflow/experiments/restore",
            json!({"experiment_id": "2"}),
        ),
        (
            "POST",
            "/api/2.0/mlflow/experiments/set-experiment-tag",
            json!({"experiment_id": "1", "key": "k", "value": "v"}),
        ),
        (
            "POST",
            "/api/2.0/mlflow/experiments/delete-experiment-tag",
            json!({"experiment_id": "1", "key": "k"}),
        ),
        (
            "POST",
            "/api/2.0/mlflow/runs/create",
            json!({"experiment_id": "1", "run_name": "r", "start_time": 1, "tags": [{"key": "mlflow.user", "value": "u"}]}),
        ),
        ("GET", "/api/2.0/mlflow/runs/get", json!({"run_id": "RUN"})),
        (
            "POST",
            "/api/2.0/mlflow/runs/update",
            json!({"run_id": "RUN", "status": "FINISHED", "end_time": 5, "run_name": "n"}),
        ),
        (
            "POST",
            "/api/2.0/mlflow/runs/delete",
            json!({"run_id": "RUN"}),
        ),
        (
            "POST",
            "/api/2.0/mlflow/runs/restore",
            json!({"run_id": "RUN"}),
        ),
        (
            "POST",
            "/api/2.0/mlflow/runs/log-metric",
            json!({"run_id": "RUN", "key": "m", "value": 1.5, "timestamp": 1, "step": 0}),
        ),
        (
            "POST",
            "/api/2.0/mlflow/runs/log-parameter",
            json!({"run_id": "RUN", "key": "p", "value": "v"}),
        ),
        (
            "POST",
            "/api/2.0/mlflow/runs/set-tag",
            json!({"run_id": "RUN", "key": "t", "value": "v"}),
        ),
        (
            "POST",
            "/api/2.0/mlflow/runs/delete-tag",
            json!({"run_id": "RUN", "key": "t"}),
        ),
        (
            "POST",
            "/api/2.0/mlflow/runs/log-batch",
            json!({"run_id": "RUN", "metrics": [{"key": "m", "value": 1, "timestamp": 1, "step": 1}], "params": [{"key": "p2", "value": "v"}], "tags": [{"key": "t", "value": "v"}]}),
        ),
        (
            "POST",
            "/api/2.0/mlflow/runs/search",
            json!({"experiment_ids": ["1"], "filter": "metrics.m > 0", "max_results": 10, "order_by": ["metrics.m desc"], "run_view_type": "ALL", "page_token": ""}),
        ),
        (
            "POST",
            "/ajax-api/2.0/mlflow/runs/search",
            json!({"experiment_ids": ["0", "1"], "filter": "params.p = '1'"}),
        ),
        (
            "GET",
            "/api/2.0/mlflow/metrics/get-history",
            json!({"run_id": "RUN", "metric_key": "m", "max_results": 10}),
        ),
        (
            "GET",
            "/api/2.0/mlflow/artifacts/list",
            json!({"run_id": "RUN", "path": ""}),
        ),
        ("POST", "/api/2.0/mlflow/logged-models/search", json!({})),
        ("GET", "/api/v1/info", json!({})),
        ("GET", "/api/v1/watch", json!({"since": 0, "timeout_ms": 0})),
        (
            "GET",
            "/api/v1/experiments",
            json!({"include_deleted": true}),
        ),
        (
            "POST",
            "/api/v1/experiments",
            json!({"name": "k", "user": "u"}),
        ),
        ("GET", "/api/v1/experiments/lookup", json!({"ref": "1"})),
        (
            "POST",
            "/api/v1/experiments/rename",
            json!({"ref": "1", "user": "u", "new_name": "z"}),
        ),
        (
            "POST",
            "/api/v1/experiments/delete",
            json!({"ref": "3", "user": "u"}),
        ),
        (
            "POST",
            "/api/v1/experiments/restore",
            json!({"ref": "3", "user": "u"}),
        ),
        (
            "POST",
            "/api/v1/experiments/tags",
            json!({"ref": "1", "user": "u", "pairs": [["k", "v"]]}),
        ),
        (
            "POST",
            "/api/v1/experiments/tags/remove",
            json!({"ref": "1", "user": "u", "keys": ["k"]}),
        ),
        (
            "POST",
            "/api/v1/runs",
            json!({"experiment": "e", "user": "u", "name": "n", "id": null, "host": null, "status": null, "start_time": null, "end_time": null, "parent_id": null, "tags": [["a", "b"]], "params": [["c", "d"]], "deleted": false}),
        ),
        ("GET", "/api/v1/runs/resolve", json!({"ref": "RUN"})),
        (
            "POST",
            "/api/v1/runs/search",
            json!({"experiments": ["e"], "filter": "metrics.m > 0", "sort": "metrics.m desc", "limit": 5, "offset": 0, "include_deleted": false, "only_deleted": false, "reverse": false}),
        ),
        ("GET", "/api/v1/runs/RUN", json!({})),
        (
            "POST",
            "/api/v1/runs/RUN/status",
            json!({"status": "finished", "exit_code": 0, "end_time": 1}),
        ),
        (
            "POST",
            "/api/v1/runs/RUN/name",
            json!({"name": "n", "user": "u"}),
        ),
        (
            "POST",
            "/api/v1/runs/RUN/params",
            json!({"pairs": [["a", "b"]]}),
        ),
        (
            "POST",
            "/api/v1/runs/RUN/tags",
            json!({"pairs": [["a", "b"]], "user": "u"}),
        ),
        (
            "POST",
            "/api/v1/runs/RUN/tags/remove",
            json!({"keys": ["a"], "user": "u"}),
        ),
        (
            "POST",
            "/api/v1/runs/RUN/metrics",
            json!({"points": [{"key": "m", "step": 1, "timestamp": 1, "value": 1.0}]}),
        ),
        ("GET", "/api/v1/runs/RUN/series", json!({"key": "m"})),
        (
            "POST",
            "/api/v1/runs/RUN/series/sampled",
            json!({"key": "m", "query": {"buckets": 10, "x": "step", "x_min": null, "x_max": null}}),
        ),
        ("GET", "/api/v1/runs/RUN/notes", json!({})),
        (
            "POST",
            "/api/v1/runs/RUN/notes",
            json!({"author": "u", "body": "b", "reply_to": null, "anchor": null}),
        ),
        (
            "POST",
            "/api/v1/runs/RUN/notes/NOTE",
            json!({"user": "u", "body": "x"}),
        ),
        (
            "POST",
            "/api/v1/runs/RUN/notes/NOTE/delete",
            json!({"user": "u"}),
        ),
        (
            "POST",
            "/api/v1/runs/RUN/star",
            json!({"user": "u", "starred": true}),
        ),
        (
            "POST",
            "/api/v1/runs/RUN/deleted",
            json!({"deleted": false, "user": "u"}),
        ),
        (
            "POST",
            "/api/v1/runs/RUN/source",
            json!({"git_commit": null, "git_branch": null, "git_dirty": null, "git_diff": null, "command": ["x"], "cwd": null}),
        ),
        (
            "POST",
            "/api/v1/runs/RUN/environment",
            json!({"pairs": [["A", "1"]]}),
        ),
        (
            "POST",
            "/api/v1/runs/RUN/artifacts",
            json!({"path": "a.txt", "size": 1, "hash": null, "stored": "reference", "location": null}),
        ),
        (
            "POST",
            "/api/v1/runs/RUN/inputs",
            json!({"dataset": {"name": "d", "location": null, "hash": "h", "size": null, "rows": null, "schema": null}, "context": "train"}),
        ),
        ("GET", "/api/v1/events", json!({"since_id": 0, "limit": 10})),
        (
            "POST",
            "/api/2.0/mlflow/runs/log-inputs",
            json!({"run_id": "RUN", "datasets": [{"tags": [{"key": "mlflow.data.context", "value": "training"}], "dataset": {"name": "d", "digest": "a6d8c71e", "source_type": "local", "source": "{\"uri\": \"x.csv\"}", "schema": "{}", "profile": "{\"num_rows\": 3}"}}]}),
        ),
        ("GET", "/api/v1/datasets", json!({})),
        (
            "POST",
            "/api/v1/datasets/versions",
            json!({"id": "sha256:0000000000000000000000000000000000000000000000000000000000000000", "dataset": "d", "number": 0, "path": "/d.csv", "format": "csv", "size_bytes": 1, "row_count": 1, "columns": [{"name": "a", "type": "int", "null_count": 0}], "files": [], "created_at": 0, "created_by": "u"}),
        ),
        ("GET", "/api/v1/datasets/versions", json!({"name": "d"})),
        (
            "GET",
            "/api/v1/datasets/resolve",
            json!({"reference": "d@1"}),
        ),
        (
            "GET",
            "/api/v1/datasets/readers",
            json!({"version": "sha256:00"}),
        ),
        ("GET", "/api/v1/datasets/inputs", json!({"run": "RUN"})),
        (
            "POST",
            "/api/v1/datasets/inputs",
            json!({"run_id": "RUN", "inputs": [{"run_id": "RUN", "name": "d", "dataset": "d", "version_id": "sha256:00", "path": "/d.csv"}]}),
        ),
        (
            "POST",
            "/api/v1/checks",
            json!({"suite": "s", "suite_hash": "sha256:1", "source": "kiroku", "datasets": [{"name": "d", "version_id": "sha256:00", "path": "/d.csv", "rows": 1}], "status": "fail", "results": [{"id": "c", "type": "between", "status": "fail", "observed": 1, "expected": 0, "unexpected_count": 1, "samples": []}], "started_at": 0, "ended_at": 1, "user": "u", "host": "h"}),
        ),
        (
            "GET",
            "/api/v1/checks",
            json!({"dataset": "d", "status": "fail,warn", "awaiting_review": true, "limit": 5}),
        ),
        ("GET", "/api/v1/checks/NOTE", json!({})),
        (
            "POST",
            "/api/v1/reviews",
            json!({"check_run": 1, "result_id": "c", "verdict": "waived", "comment": "ok", "reviewer": "u", "expires_at": 99999999999999i64}),
        ),
        (
            "GET",
            "/api/v1/reviews",
            json!({"check_run": 1, "result": "c"}),
        ),
    ]
}

const KEYS: &[&str] = &[
    "experiment_id",
    "experiment_ids",
    "run_id",
    "run_uuid",
    "name",
    "new_name",
    "key",
    "value",
    "timestamp",
    "step",
    "metrics",
    "params",
    "tags",
    "filter",
    "order_by",
    "max_results",
    "page_token",
    "status",
    "end_time",
    "run_name",
    "user_id",
    "run_view_type",
    "metric_key",
    "ref",
    "user",
    "pairs",
    "keys",
    "points",
    "query",
    "experiments",
    "sort",
    "limit",
    "offset",
    "body",
    "deleted",
    "starred",
    "since_id",
];

/// A hostile JSON value: wrong types, huge and special numbers, long and odd strings, nesting.
fn hostile_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        Just(json!(u64::MAX)),
        Just(json!(1e308)),
        Just(json!(-0.0)),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
        prop_oneof![
            Just("NaN"),
            Just("Infinity"),
            Just("-inf"),
            Just("0"),
            Just("-1"),
            Just(""),
            Just("99999999999999999999"),
            Just("1e999"),
            Just("../../etc/passwd"),
            Just("metrics.m > 0 and ("),
            Just("ZXhh"),
            Just("eyJvZmZzZXQiOiAtMX0="),
            Just("\u{0}\u{202e}"),
            Just("FINISHED"),
            Just("finished"),
        ]
        .prop_map(|s| Value::String(s.to_string())),
        "\\PC{0,24}".prop_map(Value::String),
        (0..4usize).prop_map(|i| Value::String(["x", "é", "名", "'"][i].repeat(70_000))),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                ((0..KEYS.len()).prop_map(|i| KEYS[i].to_string()), inner),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Each field of the route's body kept, replaced by hostile JSON, or dropped; sometimes
/// extra fields, sometimes a hostile body altogether.
fn request_strategy() -> impl Strategy<Value = (usize, Value, u8)> {
    let n = routes().len();
    (
        0..n,
        prop::collection::vec((0..3u8, hostile_json()), 12),
        hostile_json(),
        0..10u8,
        0..4u8,
    )
        .prop_map(move |(route, edits, whole, mode, path_mode)| {
            let (_, _, template) = &routes()[route];
            let body = if mode == 0 {
                whole
            } else {
                let mut obj = template.as_object().cloned().unwrap_or_default();
                let keys: Vec<String> = obj.keys().cloned().collect();
                for (i, (how, value)) in edits.into_iter().enumerate() {
                    match (keys.get(i), how) {
                        (Some(k), 0) => {
                            obj.insert(k.clone(), value);
                        }
                        (Some(k), 1) if mode == 1 => {
                            obj.remove(k);
                        }
                        (None, 0) if mode == 2 => {
                            obj.insert(KEYS[i % KEYS.len()].to_string(), value);
                        }
                        _ => {}
                    }
                }
                Value::Object(obj)
            };
            (route, body, path_mode)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fuzz_every_route_with_hostile_json_answers_4xx_json_never_5xx(
        (route, body, path_mode) in request_strategy(),
    ) {
        thread_local! {
            static SERVED: (Served, String) = {
                let s = Served::new();
                let (_, made) = s.post("/api/2.0/mlflow/experiments/create", json!({"name": "e"}));
                assert!(made["experiment_id"].is_string(), "{made}");
                let run = s.run("e", "alice");
                (s, run)
            };
        }
        SERVED.with(|(s, run)| {
            let (method, path, _) = &routes()[route];
            // The run and note in the path, each one of several hostile forms.
            let run_in_path = match path_mode % 5 {
                0 => "0123456789abcdef0123456789abcdef".to_string(),
                1 => "%2e%2e".to_string(),
                2 => "%ff%fe".to_string(),
                _ => run.clone(),
            };
            let note = ["1", "99999999999999999999", "-1", "x", "%ff"][(path_mode / 5) as usize % 5];
            let path = path.replace("RUN", &run_in_path).replace("NOTE", note);
            let body = match body {
                Value::Object(mut obj) => {
                    for v in obj.values_mut() {
                        if v == "RUN" {
                            *v = Value::String(run.clone());
                        }
                    }
                    if path.ends_with("/watch") {
                        obj.insert("timeout_ms".into(), json!(0));
                    }
                    Value::Object(obj)
                }
                other => other,
            };
            let (status, answer) = s.send(method, &path, None, &body);
            prop_assert!(status < 500, "{method} {path} {}: {status} {}", short(&body), short(&answer));
            if status >= 400 {
                prop_assert!(answer["error_code"].is_string() && answer["message"].is_string(),
                    "{method} {path}: not MLflow error JSON: {}", short(&answer));
                assert_clean(&answer, s, &path);
            }
            Ok(())
        })?;
    }
}

#[test]
fn garbage_bodies_and_wrong_methods_on_every_route_are_json_4xx_and_the_server_stays_up() {
    let s = Served::new();
    let run = s.run("e", "alice");
    let garbage: &[&[u8]] = &[
        b"",
        b"{",
        b"[]",
        b"null",
        b"\"{\\\"run_id\\\": 5}\"",
        b"\xff\xfe\x00",
        b"{\"run_id\": {\"$gt\": 1}}",
        b"{\"experiment_ids\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
        b"{\"max_results\": 1e400}",
        b"{\"max_results\": -9223372036854775809}",
    ];
    for (method, path, _) in routes() {
        let path = path.replace("RUN", &run).replace("NOTE", "1");
        for body in garbage {
            let url = format!("{}{path}", s.server.url());
            let req = if method == "GET" {
                s.client.get(&url)
            } else {
                s.client.post(&url)
            };
            let res = req.body(body.to_vec()).send().unwrap();
            let status = res.status().as_u16();
            assert!(status < 500, "{method} {path} {body:?}: {status}");
        }
    }
    // A method a route does not take: 405 in MLflow's error shape, not an empty body.
    // (`experiments/search` takes every method, as MLflow's server does.)
    for (_, path, _) in routes() {
        if path.ends_with("experiments/search") {
            continue;
        }
        let path = path.replace("RUN", &run).replace("NOTE", "1");
        let res = s
            .client
            .delete(format!("{}{path}", s.server.url()))
            .send()
            .unwrap();
        assert_eq!(res.status().as_u16(), 405, "DELETE {path}");
        let body: Value = res.json().unwrap_or(Value::Null);
        assert!(body["error_code"].is_string(), "DELETE {path}: {body}");
    }
    let health = s
        .client
        .get(format!("{}/health", s.server.url()))
        .send()
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
}

#[test]
fn a_bad_path_parameter_is_a_json_400_not_plain_text() {
    let s = Served::new();
    let run = s.run("e", "alice");
    for (method, path) in [
        (
            "POST",
            format!("/api/v1/runs/{run}/notes/99999999999999999999"),
        ),
        ("POST", format!("/api/v1/runs/{run}/notes/x/delete")),
        ("GET", "/api/v1/runs/%ff%fe".to_string()),
        ("GET", "/api/v1/runs/%ff/notes".to_string()),
    ] {
        let (status, body) = s.send(method, &path, None, &json!({"user": "u", "body": "b"}));
        assert_user_error(status, &body, &s, &path);
    }
}
