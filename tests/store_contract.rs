//! The `Store` contract: every test body is written once over `&dyn Store` and runs against
//! `SqliteStore` and against `HttpStore` talking to a live `kiroku serve` (in-process, on a
//! loopback port) over another `SqliteStore`. Remote and local cannot drift apart.
use kiroku::error::KirokuError;
use kiroku::model::*;
use kiroku::series::SeriesQuery;
use kiroku::server::BackgroundServer;
use kiroku::store::http::HttpStore;
use kiroku::store::{SqliteStore, Store};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Fixture {
    _dir: tempfile::TempDir,
    _server: Option<BackgroundServer>,
    store: Arc<dyn Store>,
}

fn local() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join(".kiroku"), false).unwrap();
    Fixture {
        _dir: dir,
        _server: None,
        store: Arc::new(store),
    }
}

fn remote() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Arc::new(SqliteStore::open(&dir.path().join(".kiroku"), false).unwrap());
    let server = BackgroundServer::start(
        sqlite.clone() as Arc<dyn Store>,
        Some(sqlite),
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap();
    let store = HttpStore::with_token(&server.url(), None).unwrap();
    Fixture {
        _dir: dir,
        _server: Some(server),
        store: Arc::new(store),
    }
}

/// Declares one test per implementation for each contract body.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(super::local().store.as_ref()); })*
        }
        mod http {
            $(#[test] fn $name() { super::$name(super::remote().store.as_ref()); })*
        }
    };
}

contract!(
    experiments_create_rename_delete_restore,
    runs_params_tags_and_conflicts,
    metrics_series_and_summaries_keep_special_values,
    search_filters_orders_and_pages,
    notes_stars_deletion_and_events,
    only_a_notes_author_edits_or_deletes_it,
    source_environment_artifacts_inputs,
    errors_keep_their_kind,
    version_moves_on_every_write,
    watch_returns_on_a_write_or_at_the_timeout,
    a_deleted_run_takes_no_writes_until_restored,
    experiment_tags_set_list_remove_and_describe,
    a_batch_is_written_whole_or_not_at_all,
    a_supervised_run_is_recovered_once_by_compare_and_swap,
    artifacts_upload_streamed_delete_with_their_records_and_refuse_bad_paths,
);

fn new_run(store: &dyn Store, exp: &str, name: &str) -> Run {
    store
        .create_run(&NewRun {
            experiment: exp.into(),
            name: Some(name.into()),
            user: "alice".into(),
            params: vec![("lr".into(), "0.01".into())],
            tags: vec![("team".into(), "vision".into())],
            ..Default::default()
        })
        .unwrap()
}

fn experiments_create_rename_delete_restore(store: &dyn Store) {
    let e = store.create_experiment("sweep", "alice").unwrap();
    assert_eq!(store.experiment("sweep").unwrap().id, e.id);
    assert_eq!(store.experiment(&e.id.to_string()).unwrap().name, "sweep");
    assert!(matches!(
        store.create_experiment("sweep", "bob"),
        Err(KirokuError::Conflict(_))
    ));
    store.rename_experiment("sweep", "sweep2", "alice").unwrap();
    let r = new_run(store, "sweep2", "a");
    store.delete_experiment("sweep2", "alice").unwrap();
    assert!(store
        .experiments(false)
        .unwrap()
        .iter()
        .all(|x| x.name != "sweep2"));
    assert!(store.run(&r.id).unwrap().run.deleted);
    store.restore_experiment("sweep2", "alice").unwrap();
    assert!(store
        .experiments(false)
        .unwrap()
        .iter()
        .any(|x| x.name == "sweep2"));
    assert!(!store.run(&r.id).unwrap().run.deleted);
    assert!(matches!(
        store.experiment("nope"),
        Err(KirokuError::NotFound(_))
    ));
}

fn a_deleted_run_takes_no_writes_until_restored(store: &dyn Store) {
    let r = new_run(store, "e", "gone");
    let point = KeyedPoint {
        key: "loss".into(),
        step: 0,
        timestamp: 1,
        value: 0.5,
    };
    let refused = |result: kiroku::error::Result<()>| match result {
        Err(KirokuError::Invalid(msg)) => assert_eq!(
            msg,
            format!(
                "The run {} must be in the 'active' state. Current state is deleted.",
                r.id
            )
        ),
        other => panic!("expected the deleted-run refusal, got {other:?}"),
    };
    for deleted_with_experiment in [false, true] {
        if deleted_with_experiment {
            store.delete_experiment("e", "alice").unwrap();
        } else {
            store.set_deleted(&r.id, true, "alice").unwrap();
        }
        refused(store.log_metrics(&r.id, std::slice::from_ref(&point)));
        refused(store.log_params(&r.id, &[("bs".into(), "32".into())]));
        refused(store.set_tags(&r.id, &[("stage".into(), "eval".into())], "alice"));
        refused(store.remove_tags(&r.id, &["team".into()], "alice"));
        refused(store.rename_run(&r.id, "renamed", "alice"));
        refused(store.set_status(&r.id, RunStatus::Finished, Some(0), None));
        let d = store.run(&r.id).unwrap().run;
        let points = store.metric_series(&r.id, "loss").map_or(0, |s| s.len());
        assert_eq!(points, usize::from(deleted_with_experiment));
        assert!(!d.params.contains_key("bs"));
        assert_eq!(d.tags.get("team").map(String::as_str), Some("vision"));
        assert_eq!((d.name.as_str(), d.status), ("gone", RunStatus::Running));
        if deleted_with_experiment {
            store.restore_experiment("e", "alice").unwrap();
        } else {
            store.set_deleted(&r.id, false, "alice").unwrap();
        }
        let again = KeyedPoint {
            step: i64::from(deleted_with_experiment) + 1,
            ..point.clone()
        };
        store.log_metrics(&r.id, &[again]).unwrap();
    }
    assert_eq!(store.metric_series(&r.id, "loss").unwrap().len(), 2);
    assert!(matches!(
        store.log_metrics(&"0".repeat(32), &[point]),
        Err(KirokuError::NotFound(_))
    ));
}

fn experiment_tags_set_list_remove_and_describe(store: &dyn Store) {
    let e = store.create_experiment("tagged", "alice").unwrap();
    assert!(e.tags.is_empty() && e.description.is_none());
    let pairs = |items: &[(&str, &str)]| -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    store
        .set_experiment_tags(
            "tagged",
            &pairs(&[("team", "vision"), ("mlflow.note.content", "about")]),
            "alice",
        )
        .unwrap();
    let by_id = e.id.to_string();
    store
        .set_experiment_tags(&by_id, &pairs(&[("team", "nlp")]), "alice")
        .unwrap();
    let got = store.experiment("tagged").unwrap();
    assert_eq!(got.tags.get("team").map(String::as_str), Some("nlp"));
    assert_eq!(got.description.as_deref(), Some("about"));
    let listed = store.experiments(false).unwrap();
    let listed = listed.iter().find(|x| x.id == e.id).unwrap();
    assert_eq!(listed.tags, got.tags);

    store
        .remove_experiment_tags("tagged", &["mlflow.note.content".into()], "alice")
        .unwrap();
    let got = store.experiment("tagged").unwrap();
    assert!(got.description.is_none());
    assert_eq!(got.tags.keys().collect::<Vec<_>>(), ["team"]);
    match store.remove_experiment_tags("tagged", &["nope".into()], "alice") {
        Err(KirokuError::NotFound(msg)) => assert_eq!(
            msg,
            format!("No tag with name: nope in experiment with id {}", e.id)
        ),
        other => panic!("expected not-found, got {other:?}"),
    }
    assert!(matches!(
        store.set_experiment_tags("tagged", &pairs(&[("", "x")]), "alice"),
        Err(KirokuError::Invalid(_))
    ));
    assert!(matches!(
        store.set_experiment_tags("missing", &pairs(&[("k", "v")]), "alice"),
        Err(KirokuError::NotFound(_))
    ));

    store.delete_experiment("tagged", "alice").unwrap();
    let refusal = format!(
        "The experiment {} must be in the 'active' state. Current state is deleted.",
        e.id
    );
    match store.set_experiment_tags("tagged", &pairs(&[("k", "v")]), "alice") {
        Err(KirokuError::Invalid(msg)) => assert_eq!(msg, refusal),
        other => panic!("expected the deleted-experiment refusal, got {other:?}"),
    }
    match store.remove_experiment_tags("tagged", &["team".into()], "alice") {
        Err(KirokuError::Invalid(msg)) => assert_eq!(msg, refusal),
        other => panic!("expected the deleted-experiment refusal, got {other:?}"),
    }
    store.restore_experiment("tagged", "alice").unwrap();
    let got = store.experiment("tagged").unwrap();
    assert_eq!(got.tags.get("team").map(String::as_str), Some("nlp"));
}

fn runs_params_tags_and_conflicts(store: &dyn Store) {
    let r = new_run(store, "e", "first");
    assert_eq!(r.status, RunStatus::Running);
    assert_eq!(store.resolve_run("first").unwrap(), r.id);
    assert_eq!(store.resolve_run(&r.id[..8]).unwrap(), r.id);
    store
        .log_params(
            &r.id,
            &[("lr".into(), "0.01".into()), ("bs".into(), "32".into())],
        )
        .unwrap();
    assert!(matches!(
        store.log_params(&r.id, &[("lr".into(), "0.02".into())]),
        Err(KirokuError::Conflict(_))
    ));
    store
        .set_tags(&r.id, &[("stage".into(), "eval".into())], "alice")
        .unwrap();
    store.remove_tags(&r.id, &["team".into()], "alice").unwrap();
    store.rename_run(&r.id, "renamed", "alice").unwrap();
    store
        .set_status(&r.id, RunStatus::Failed, Some(3), Some(1234))
        .unwrap();
    let d = store.run(&r.id).unwrap();
    assert_eq!(d.run.name, "renamed");
    assert_eq!(d.run.params.get("bs").map(String::as_str), Some("32"));
    assert_eq!(d.run.tags.get("stage").map(String::as_str), Some("eval"));
    assert!(!d.run.tags.contains_key("team"));
    assert_eq!(
        (d.run.status, d.run.exit_code, d.run.end_time),
        (RunStatus::Failed, Some(3), Some(1234))
    );
    let child = store
        .create_run(&NewRun {
            experiment: "e".into(),
            user: "alice".into(),
            parent_id: Some(r.id.clone()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(child.parent_id.as_deref(), Some(r.id.as_str()));
    assert_eq!(store.run(&r.id).unwrap().children, vec![child.id]);
}

fn metrics_series_and_summaries_keep_special_values(store: &dyn Store) {
    let r = new_run(store, "e", "m");
    let values = [1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.5];
    let points: Vec<KeyedPoint> = values
        .iter()
        .enumerate()
        .map(|(i, v)| KeyedPoint {
            key: "train/loss".into(),
            step: i as i64,
            timestamp: 1000 + i as i64,
            value: *v,
        })
        .collect();
    store.log_metrics(&r.id, &points).unwrap();
    let series = store.metric_series(&r.id, "train/loss").unwrap();
    assert_eq!(series.len(), 5);
    assert!(series[1].value.is_nan());
    assert_eq!(series[2].value, f64::INFINITY);
    assert_eq!(series[3].value, f64::NEG_INFINITY);
    assert_eq!((series[4].step, series[4].timestamp), (4, 1004));
    let summary = &store.run(&r.id).unwrap().run.metrics["train/loss"];
    assert_eq!((summary.last, summary.count, summary.step), (0.5, 5, 4));
    let many: Vec<KeyedPoint> = (0..2000)
        .map(|i| KeyedPoint {
            key: "acc".into(),
            step: i,
            timestamp: i,
            value: i as f64,
        })
        .collect();
    store.log_metrics(&r.id, &many).unwrap();
    let sampled = store
        .metric_series_sampled(
            &r.id,
            "acc",
            &SeriesQuery {
                buckets: 10,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(sampled.points, 2000);
    assert_eq!(sampled.buckets.len(), 10);
    assert_eq!(sampled.buckets.iter().map(|b| b.count).sum::<u64>(), 2000);
    assert_eq!(sampled.buckets[9].max, Some(1999.0));
}

fn search_filters_orders_and_pages(store: &dyn Store) {
    for i in 0..12 {
        let r = store
            .create_run(&NewRun {
                experiment: if i % 3 == 0 { "b".into() } else { "a".into() },
                name: Some(format!("r{i:02}")),
                user: "alice".into(),
                start_time: Some(1000 + i),
                params: vec![("opt".into(), ["adam", "sgd"][(i % 2) as usize].into())],
                ..Default::default()
            })
            .unwrap();
        store
            .log_metrics(
                &r.id,
                &[KeyedPoint {
                    key: "acc".into(),
                    step: 0,
                    timestamp: 0,
                    value: i as f64 / 10.0,
                }],
            )
            .unwrap();
    }
    let q = RunQuery {
        experiments: vec!["a".into()],
        filter: Some("metrics.acc > 0.3 and params.opt = 'sgd'".into()),
        sort: Some("metrics.acc desc".into()),
        ..Default::default()
    };
    let page = store.search_runs(&q).unwrap();
    let names: Vec<&str> = page.runs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["r11", "r07", "r05"]);
    assert_eq!(page.total, 3);
    let second = store
        .search_runs(&RunQuery {
            limit: Some(2),
            offset: 2,
            ..q.clone()
        })
        .unwrap();
    assert_eq!(second.runs.len(), 1);
    assert_eq!(second.total, 3);
    // `reverse` reads the exactly reversed order (remote stores pass it on).
    let backwards = store
        .search_runs(&RunQuery {
            limit: Some(2),
            reverse: true,
            ..q.clone()
        })
        .unwrap();
    let names: Vec<&str> = backwards.runs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["r05", "r07"]);
    assert_eq!(backwards.total, 3);
    match store.search_runs(&RunQuery {
        filter: Some("metrics.acc >".into()),
        ..Default::default()
    }) {
        Err(KirokuError::Query { caret, .. }) => assert!(caret.contains('^')),
        other => panic!("expected a query error, got {other:?}"),
    }
}

fn notes_stars_deletion_and_events(store: &dyn Store) {
    let r = new_run(store, "e", "n");
    let note = store
        .add_note(
            &r.id,
            &NewNote {
                author: "alice".into(),
                body: "looks good".into(),
                reply_to: None,
                anchor: Some("metrics.acc".into()),
                created_ms: None,
            },
        )
        .unwrap();
    assert_eq!(store.notes(&r.id).unwrap(), vec![note.clone()]);
    assert!(store.set_star(&r.id, "bob", true).unwrap());
    assert!(!store.set_star(&r.id, "bob", true).unwrap());
    assert_eq!(store.run(&r.id).unwrap().run.stars, vec!["bob".to_string()]);
    store.set_deleted(&r.id, true, "alice").unwrap();
    let hidden = store.search_runs(&RunQuery::default()).unwrap();
    assert!(hidden.runs.iter().all(|x| x.id != r.id));
    store.set_deleted(&r.id, false, "alice").unwrap();
    let events = store
        .events(&EventQuery {
            run_id: Some(r.id.clone()),
            ..Default::default()
        })
        .unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert!(
        kinds.contains(&"run.deleted") && kinds.contains(&"run.restored"),
        "{kinds:?}"
    );
    let limited = store
        .events(&EventQuery {
            limit: Some(1),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(limited.len(), 1);
}

fn only_a_notes_author_edits_or_deletes_it(store: &dyn Store) {
    let r = new_run(store, "e", "owned");
    let add = |author: &str, body: &str, reply_to| NewNote {
        author: author.into(),
        body: body.into(),
        reply_to,
        anchor: None,
        created_ms: None,
    };
    let first = store.add_note(&r.id, &add("alice", "mine", None)).unwrap();
    let reply = store
        .add_note(&r.id, &add("bob", "a reply", Some(first.id)))
        .unwrap();
    assert!(matches!(
        store.edit_note(&r.id, first.id, "bob was here", "bob"),
        Err(KirokuError::Forbidden(_))
    ));
    assert!(matches!(
        store.delete_note(&r.id, first.id, "bob"),
        Err(KirokuError::Forbidden(_))
    ));
    assert!(matches!(
        store.edit_note(&r.id, 9999, "x", "alice"),
        Err(KirokuError::NotFound(_))
    ));
    let edited = store
        .edit_note(&r.id, first.id, "mine, edited", "alice")
        .unwrap();
    assert_eq!(edited.body, "mine, edited");
    assert_eq!(edited.author, "alice");
    store.delete_note(&r.id, first.id, "alice").unwrap();
    let left = store.notes(&r.id).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!((left[0].id, left[0].reply_to), (reply.id, None));
}

fn source_environment_artifacts_inputs(store: &dyn Store) {
    let r = new_run(store, "e", "s");
    let source = RunSource {
        git_commit: Some("abc".into()),
        command: vec!["python".into(), "train.py".into()],
        ..Default::default()
    };
    store.set_source(&r.id, &source).unwrap();
    store
        .set_environment(
            &r.id,
            &[
                ("CUDA".into(), "1".into()),
                ("API_TOKEN".into(), "x".into()),
            ],
        )
        .unwrap();
    let artifact = Artifact {
        path: "model.bin".into(),
        size: Some(3),
        hash: Some("ff".into()),
        stored: "referenced".into(),
        location: Some("s3://b/model.bin".into()),
    };
    store.add_artifact(&r.id, &artifact).unwrap();
    let input = RunInput {
        dataset: DatasetVersion {
            name: "train".into(),
            location: None,
            hash: "h1".into(),
            size: Some(10),
            rows: Some(2),
            schema: None,
        },
        context: "training".into(),
    };
    store.add_input(&r.id, &input).unwrap();
    let d = store.run(&r.id).unwrap();
    assert_eq!(d.source, source);
    assert_eq!(d.environment.get("CUDA").map(String::as_str), Some("1"));
    assert!(!d.environment.contains_key("API_TOKEN"));
    assert_eq!(d.artifacts, vec![artifact]);
    assert_eq!(d.inputs, vec![input]);
}

fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    kiroku::fsutil::hex(&sha2::Sha256::digest(data))
}

fn upload(store: &dyn Store, id: &str, path: &str, data: &[u8]) -> kiroku::error::Result<Artifact> {
    store.upload_artifact(
        id,
        path,
        Box::new(std::io::Cursor::new(data.to_vec())),
        None,
    )
}

fn artifacts_upload_streamed_delete_with_their_records_and_refuse_bad_paths(store: &dyn Store) {
    let r = new_run(store, "e", "files");
    // Bigger than any one buffer on the way, so it travels in many pieces.
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let a = store
        .upload_artifact(
            &r.id,
            "model/w.bin",
            Box::new(std::io::Cursor::new(big.clone())),
            Some("/src/w.bin"),
        )
        .unwrap();
    let want = Artifact {
        path: "model/w.bin".into(),
        size: Some(big.len() as u64),
        hash: Some(sha256(&big)),
        stored: "copied".into(),
        location: Some("/src/w.bin".into()),
    };
    assert_eq!(a, want);
    upload(store, &r.id, "model/cfg.json", b"{}").unwrap();
    upload(store, &r.id, "notes.txt", b"n").unwrap();
    let paths = |store: &dyn Store| -> Vec<String> {
        store
            .run(&r.id)
            .unwrap()
            .artifacts
            .into_iter()
            .map(|a| a.path)
            .collect()
    };
    assert_eq!(paths(store), ["model/cfg.json", "model/w.bin", "notes.txt"]);
    assert_eq!(store.run(&r.id).unwrap().artifacts[1], want);
    // A longest name (255 bytes) is fine; one byte more is the caller's error.
    upload(store, &r.id, &"n".repeat(255), b"x").unwrap();
    store.delete_artifact(&r.id, &"n".repeat(255)).unwrap();
    let invalid = |result: kiroku::error::Result<Artifact>, what: &str| {
        assert!(
            matches!(result, Err(KirokuError::Invalid(_))),
            "{what}: {result:?}"
        )
    };
    invalid(
        upload(store, &r.id, &"n".repeat(256), b"x"),
        "a 256-byte name",
    );
    // File/folder conflicts: a file where a folder is needed, a folder where a file would go.
    invalid(
        upload(store, &r.id, "notes.txt/inner", b"x"),
        "below a file",
    );
    invalid(upload(store, &r.id, "model", b"x"), "over a folder");
    invalid(upload(store, &r.id, "../x", b"x"), "outside the run");
    // Deleting a folder removes its files' records too; deleting again finds nothing.
    store.delete_artifact(&r.id, "model").unwrap();
    assert_eq!(paths(store), ["notes.txt"]);
    assert!(matches!(
        store.delete_artifact(&r.id, "model"),
        Err(KirokuError::NotFound(_))
    ));
    // A deleted run takes no artifact changes.
    store.set_deleted(&r.id, true, "alice").unwrap();
    let refusal = format!(
        "The run {} must be in the 'active' state. Current state is deleted.",
        r.id
    );
    for result in [
        upload(store, &r.id, "late.txt", b"x").map(|_| ()),
        store.delete_artifact(&r.id, "notes.txt"),
        store.add_artifact(&r.id, &want),
    ] {
        match result {
            Err(KirokuError::Invalid(msg)) => assert_eq!(msg, refusal),
            other => panic!("expected the deleted-run refusal, got {other:?}"),
        }
    }
    store.set_deleted(&r.id, false, "alice").unwrap();
    assert_eq!(paths(store), ["notes.txt"]);
    assert!(matches!(
        upload(store, &"0".repeat(32), "x", b"x"),
        Err(KirokuError::NotFound(_))
    ));
}

fn errors_keep_their_kind(store: &dyn Store) {
    let missing = "0123456789abcdef0123456789abcdef";
    assert!(matches!(store.run(missing), Err(KirokuError::NotFound(_))));
    assert!(matches!(
        store.log_metrics(missing, &[]),
        Err(KirokuError::NotFound(_)) | Ok(())
    ));
    assert!(matches!(
        store.resolve_run("no-such-run"),
        Err(KirokuError::NotFound(_))
    ));
    new_run(store, "e", "twin");
    new_run(store, "e", "twin");
    assert!(matches!(
        store.resolve_run("twin"),
        Err(KirokuError::Ambiguous { .. })
    ));
}

fn version_moves_on_every_write(store: &dyn Store) {
    let v0 = store.version().unwrap();
    let r = new_run(store, "e", "v");
    let v1 = store.version().unwrap();
    assert!(v1 > v0);
    store.set_star(&r.id, "alice", true).unwrap();
    assert!(store.version().unwrap() > v1);
}

fn watch_returns_on_a_write_or_at_the_timeout(store: &dyn Store) {
    let v = store.version().unwrap();
    let started = Instant::now();
    assert_eq!(store.watch(v, Duration::from_millis(300)).unwrap(), v);
    assert!(started.elapsed() >= Duration::from_millis(250));
    std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(150));
            new_run(store, "e", "watched");
        });
        let started = Instant::now();
        assert!(store.watch(v, Duration::from_secs(20)).unwrap() > v);
        assert!(started.elapsed() < Duration::from_secs(5));
    });
}

#[test]
fn remote_watch_sees_writes_that_bypass_the_server() {
    // Another process writing to the server's store file (here: a second SqliteStore on the
    // same folder) does not wake watchers directly; the server's slow re-check finds it.
    let f = remote();
    let v = f.store.version().unwrap();
    let other = SqliteStore::open(&f._dir.path().join(".kiroku"), false).unwrap();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        new_run(&other, "e", "beside");
    });
    let started = Instant::now();
    assert!(f.store.watch(v, Duration::from_secs(20)).unwrap() > v);
    assert!(started.elapsed() < Duration::from_secs(3));
    writer.join().unwrap();
}

#[test]
fn stopping_the_server_ends_pending_long_polls_at_once() {
    let f = remote();
    let v = f.store.version().unwrap();
    let store = Arc::clone(&f.store);
    let waiter = std::thread::spawn(move || store.watch(v, Duration::from_secs(50)));
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    drop(f);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown waited for the poll"
    );
    let _ = waiter.join().unwrap();
}

fn point(key: &str, step: i64, value: f64) -> KeyedPoint {
    KeyedPoint {
        key: key.into(),
        step,
        timestamp: 1,
        value,
    }
}

fn a_batch_is_written_whole_or_not_at_all(store: &dyn Store) {
    let r = new_run(store, "e", "batched");
    let batch = RunBatch {
        params: vec![("bs".into(), "32".into())],
        metrics: vec![point("loss", 0, 0.5), point("loss", 1, 0.25)],
        tags: vec![
            ("stage".into(), "train".into()),
            ("mlflow.runName".into(), "renamed".into()),
            ("mlflow.note.content".into(), "looks good".into()),
        ],
        ingested_to: None,
    };
    store.log_batch(&r.id, &batch, "bob").unwrap();
    let d = store.run(&r.id).unwrap();
    assert_eq!(d.run.params.get("bs").map(String::as_str), Some("32"));
    assert_eq!(d.run.tags.get("stage").map(String::as_str), Some("train"));
    assert_eq!(d.run.name, "renamed");
    assert!(d
        .notes
        .iter()
        .any(|n| n.body == "looks good" && n.author == "bob"));
    assert_eq!(store.metric_series(&r.id, "loss").unwrap().len(), 2);

    // A changed param fails the batch, and none of its metrics or tags are kept.
    let conflicting = RunBatch {
        params: vec![("new".into(), "1".into()), ("lr".into(), "0.5".into())],
        metrics: vec![point("acc", 0, 0.9)],
        tags: vec![("after".into(), "conflict".into())],
        ingested_to: None,
    };
    assert!(matches!(
        store.log_batch(&r.id, &conflicting, "bob"),
        Err(KirokuError::Conflict(_))
    ));
    // So does a bad key anywhere in it.
    let bad_key = RunBatch {
        params: vec![("new".into(), "1".into())],
        metrics: vec![point("acc", 0, 0.9)],
        tags: vec![("".into(), "x".into())],
        ingested_to: None,
    };
    assert!(matches!(
        store.log_batch(&r.id, &bad_key, "bob"),
        Err(KirokuError::Invalid(_))
    ));
    let d = store.run(&r.id).unwrap().run;
    assert!(!d.params.contains_key("new"));
    assert!(!d.tags.contains_key("after"));
    assert!(!d.metrics.contains_key("acc"));
    assert!(store.metric_series(&r.id, "acc").is_err());

    // The single calls' rules: a deleted run takes nothing, an unknown one is not found.
    store.set_deleted(&r.id, true, "alice").unwrap();
    assert!(matches!(
        store.log_batch(&r.id, &RunBatch::default(), "bob"),
        Err(KirokuError::Invalid(_))
    ));
    assert!(matches!(
        store.log_batch(&r.id, &batch, "bob"),
        Err(KirokuError::Invalid(_))
    ));
    assert!(matches!(
        store.log_batch(&"0".repeat(32), &batch, "bob"),
        Err(KirokuError::NotFound(_))
    ));
}

fn a_supervised_run_is_recovered_once_by_compare_and_swap(store: &dyn Store) {
    let supervisor = Supervisor {
        host: "h".into(),
        boot_id: "b".into(),
        pid_namespace: "pid:[1]".into(),
        pid: 42,
        start_ticks: 7,
        metrics_file: "/tmp/m.jsonl".into(),
    };
    let new = NewRun {
        experiment: "e".into(),
        user: "alice".into(),
        ..Default::default()
    };
    let run = store.create_supervised_run(&new, &supervisor).unwrap();
    let plain = new_run(store, "e", "unsupervised");
    let listed = store.supervised_runs().unwrap();
    assert_eq!(
        listed,
        vec![SupervisedRun {
            run_id: run.id.clone(),
            supervisor: supervisor.clone(),
            ingested_to: 0
        }]
    );
    let flush = RunBatch {
        metrics: vec![point("loss", 0, 1.0)],
        ingested_to: Some(100),
        ..Default::default()
    };
    store.log_batch(&run.id, &flush, "alice").unwrap();
    assert_eq!(store.supervised_runs().unwrap()[0].ingested_to, 100);

    let rest = RunBatch {
        metrics: vec![point("loss", 1, 0.5)],
        tags: vec![("last".into(), "words".into())],
        ingested_to: Some(150),
        ..Default::default()
    };
    // A stale checkpoint loses the race: nothing written, still running.
    assert!(!store.recover_lost_run(&run.id, 0, &rest, "alice").unwrap());
    assert_eq!(store.run(&run.id).unwrap().run.status, RunStatus::Running);
    assert_eq!(store.metric_series(&run.id, "loss").unwrap().len(), 1);
    assert!(store
        .recover_lost_run(&run.id, 100, &rest, "alice")
        .unwrap());
    let d = store.run(&run.id).unwrap().run;
    assert_eq!(d.status, RunStatus::Lost);
    assert!(d.end_time.is_some());
    assert_eq!(d.tags.get("last").map(String::as_str), Some("words"));
    assert_eq!(store.metric_series(&run.id, "loss").unwrap().len(), 2);
    // Once: the second look finds nothing to do, and the run is no longer supervised.
    assert!(!store
        .recover_lost_run(&run.id, 150, &rest, "alice")
        .unwrap());
    assert_eq!(store.metric_series(&run.id, "loss").unwrap().len(), 2);
    assert!(store.supervised_runs().unwrap().is_empty());
    // A run that ended normally is not supervised either, nor recoverable.
    let ended = store.create_supervised_run(&new, &supervisor).unwrap();
    store
        .set_status(&ended.id, RunStatus::Finished, Some(0), None)
        .unwrap();
    assert!(store.supervised_runs().unwrap().is_empty());
    assert!(!store
        .recover_lost_run(&ended.id, 0, &rest, "alice")
        .unwrap());
    assert!(!store
        .recover_lost_run(&plain.id, 0, &rest, "alice")
        .unwrap());
    assert_eq!(
        store.run(&ended.id).unwrap().run.status,
        RunStatus::Finished
    );
}
