//! The `ExperimentStore` part of the store contract. Experiments: names, soft deletion with their
//! runs, and tags.
use super::*;

contract!(
    experiments_create_rename_delete_restore,
    experiment_tags_set_list_remove_and_describe,
    experiments_imported_keep_their_ids_and_times,
);

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

fn experiments_imported_keep_their_ids_and_times(store: &dyn Store) {
    let imported = |name: &str, id: i64| kiroku::model::ImportedExperiment {
        name: name.into(),
        id: Some(id),
        created_ms: Some(1_000),
        updated_ms: Some(2_000),
    };
    let e = store
        .import_experiment(&imported("old", 4242), "alice")
        .unwrap();
    assert_eq!((e.id, e.created_ms, e.updated_ms), (4242, 1_000, 2_000));
    // A held id is not taken twice; a name in use is a conflict.
    let other = store
        .import_experiment(&imported("other", 4242), "alice")
        .unwrap();
    assert_ne!(other.id, 4242);
    assert!(matches!(
        store.import_experiment(&imported("old", 7), "alice"),
        Err(KirokuError::Conflict(_))
    ));
    // kiroku's own Default is MLflow's experiment 0.
    let run = new_run(store, "", "in-default");
    assert_eq!(store.experiment("Default").unwrap().id, 0);
    assert_eq!(run.experiment, "Default");

    let r = new_run(store, "old", "a");
    store.delete_experiment_at("old", 3_000, "alice").unwrap();
    let gone = store.experiment("old").unwrap();
    assert!(gone.deleted);
    assert_eq!((gone.created_ms, gone.updated_ms), (1_000, 3_000));
    assert!(store.run(&r.id).unwrap().run.deleted);
    store.restore_experiment("old", "alice").unwrap();
    assert!(!store.run(&r.id).unwrap().run.deleted);
}
