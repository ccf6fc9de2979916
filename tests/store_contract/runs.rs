//! The `RunStore` part of the store contract. Runs: params, tags, search, soft deletion, source,
//! environment and inputs, and the kinds of error that lookups keep.
use super::*;

contract!(
    runs_params_tags_and_conflicts,
    search_filters_orders_and_pages,
    a_deleted_run_takes_no_writes_until_restored,
    source_environment_artifacts_inputs,
    errors_keep_their_kind,
);

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
    let input = LoggedInput {
        dataset: LoggedDataset {
            name: "train".into(),
            location: None,
            hash: "h1".into(),
            size: Some(10),
            rows: Some(2),
            schema: None,
        },
        context: "training".into(),
        mlflow: None,
    };
    store.add_input(&r.id, &input).unwrap();
    let d = store.run(&r.id).unwrap();
    assert_eq!(d.source, source);
    assert_eq!(d.environment.get("CUDA").map(String::as_str), Some("1"));
    assert!(!d.environment.contains_key("API_TOKEN"));
    assert_eq!(d.artifacts, vec![artifact]);
    assert_eq!(d.inputs, vec![input]);
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
