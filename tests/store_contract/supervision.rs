//! The `SupervisionStore` part of the store contract. Supervision and durability: batches written
//! whole or not at all, supervised runs and their recovery by compare-and-swap.
use super::*;

contract!(
    a_batch_is_written_whole_or_not_at_all,
    a_supervised_run_is_recovered_once_by_compare_and_swap,
);

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
