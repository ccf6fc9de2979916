//! `ModelStore`: logged models, the registry, aliases and their history, searches.
use super::new_run;
use kiroku::error::KirokuError;
use kiroku::model::*;
use kiroku::store::Store;
use std::collections::BTreeMap;

contract!(
    registered_models_versions_and_names,
    aliases_move_and_every_move_is_kept,
    an_alias_move_queues_its_hooks_with_it,
    deleting_a_version_or_model_removes_its_aliases_with_their_hooks,
    searches_filter_order_and_page,
    logged_models_live_from_pending_to_ready,
);

fn why(user: &str, reason: &str, forced: bool) -> AliasReason {
    AliasReason {
        user: user.into(),
        reason: reason.into(),
        forced,
    }
}

fn register(store: &dyn Store, name: &str) -> RegisteredModel {
    store
        .create_registered_model(&NewRegisteredModel {
            name: name.into(),
            description: "a classifier".into(),
            tags: BTreeMap::from([("team".into(), "vision".into())]),
            user: "alice".into(),
        })
        .unwrap()
}

fn version(store: &dyn Store, name: &str, run_id: Option<&str>, source: &str) -> ModelVersion {
    store
        .create_model_version(&NewModelVersion {
            name: name.into(),
            source: source.into(),
            run_id: run_id.map(str::to_string),
            user: "alice".into(),
            ..Default::default()
        })
        .unwrap()
}

fn registered_models_versions_and_names(store: &dyn Store) {
    let run = new_run(store, "exp", "train");
    let model = register(store, "clf");
    assert_eq!(model.description, "a classifier");
    assert_eq!(model.tags["team"], "vision");
    assert!(matches!(
        store.create_registered_model(&NewRegisteredModel {
            name: "clf".into(),
            ..Default::default()
        }),
        Err(KirokuError::Conflict(m)) if m.contains("already exists")
    ));
    let v1 = version(store, "clf", Some(&run.id), "runs:/x/model");
    let v2 = version(store, "clf", None, "models:/m-1");
    assert_eq!((v1.version, v2.version), (1, 2));
    assert_eq!(v1.run_id.as_deref(), Some(run.id.as_str()));
    assert_eq!(v1.status, ModelVersionStatus::Ready);
    assert_eq!(v1.stage, "None");
    // A deleted version's number is never reused.
    store
        .delete_model_version("clf", 2, &why("alice", "", false), &BTreeMap::new())
        .unwrap();
    assert_eq!(version(store, "clf", None, "s3").version, 3);
    let listed: Vec<i64> = store
        .model_versions("clf")
        .unwrap()
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(listed, vec![1, 3]);
    assert!(matches!(
        store.model_version("clf", 2),
        Err(KirokuError::NotFound(m)) if m == "Model Version (name=clf, version=2) not found"
    ));
    assert!(matches!(
        store.create_model_version(&NewModelVersion { name: "nope".into(), source: "x".into(), ..Default::default() }),
        Err(KirokuError::NotFound(m)) if m == "Registered Model with name=nope not found"
    ));
    let v1 = store.update_model_version("clf", 1, "first").unwrap();
    assert_eq!(v1.description, "first");
    store.set_model_version_tag("clf", 1, "k", "v").unwrap();
    assert_eq!(store.model_version("clf", 1).unwrap().tags["k"], "v");
    store.delete_model_version_tag("clf", 1, "k").unwrap();
    assert!(store.model_version("clf", 1).unwrap().tags.is_empty());
    let staged = store
        .transition_model_version_stage("clf", 1, "production", false)
        .unwrap();
    assert_eq!(staged.stage, "Production");
    store
        .transition_model_version_stage("clf", 3, "Production", true)
        .unwrap();
    assert_eq!(store.model_version("clf", 1).unwrap().stage, "Archived");
    let latest = store
        .latest_model_versions("clf", &["Production".into()])
        .unwrap();
    assert_eq!(
        latest.iter().map(|v| v.version).collect::<Vec<_>>(),
        vec![3]
    );
    assert!(store
        .transition_model_version_stage("clf", 1, "prod", false)
        .is_err());
    store
        .set_registered_model_tag("clf", "owner", "bob")
        .unwrap();
    store.delete_registered_model_tag("clf", "team").unwrap();
    let model = store.update_registered_model("clf", "better").unwrap();
    assert_eq!(model.description, "better");
    assert_eq!(model.tags, BTreeMap::from([("owner".into(), "bob".into())]));
    assert_eq!(
        model.latest_versions.len(),
        2,
        "one per stage: Archived, Production"
    );
    let renamed = store.rename_registered_model("clf", "classifier").unwrap();
    assert_eq!(renamed.name, "classifier");
    assert_eq!(
        store.model_version("classifier", 3).unwrap().name,
        "classifier"
    );
    assert!(store.registered_model("clf").is_err());
    register(store, "other");
    assert!(matches!(
        store.rename_registered_model("classifier", "other"),
        Err(KirokuError::Conflict(_))
    ));
    assert!(matches!(
        store.create_registered_model(&NewRegisteredModel {
            name: "a/b".into(),
            ..Default::default()
        }),
        Err(KirokuError::Invalid(_))
    ));
    store
        .delete_registered_model("other", &why("alice", "", false), &BTreeMap::new())
        .unwrap();
    assert!(store.registered_model("other").is_err());
    let kinds: Vec<String> = store
        .events(&EventQuery::default())
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .filter(|k| k.starts_with("model."))
        .collect();
    for kind in [
        "model.registered",
        "model.version_created",
        "model.renamed",
        "model.deleted",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
}

/// A hook delivery template as `store::model_gate::hooks::move_templates` makes them.
fn template(hook: &str) -> kiroku::model::promotions::NewDelivery {
    kiroku::model::promotions::NewDelivery {
        id: format!("{hook}-webhook"),
        model: "clf".into(),
        hook: hook.into(),
        action: kiroku::model::promotions::HookAction::Webhook {
            url: "http://127.0.0.1:9/hook".into(),
            secret_env: None,
        },
        payload: serde_json::json!({"entity": "model_version_alias", "data": {"name": "clf"}}),
    }
}

fn an_alias_move_queues_its_hooks_with_it(store: &dyn Store) {
    register(store, "clf");
    version(store, "clf", None, "src");
    version(store, "clf", None, "src");
    store
        .set_alias("clf", "champion", 1, &why("alice", "", false), &[])
        .unwrap();
    let moved = store
        .set_alias(
            "clf",
            "champion",
            2,
            &why("bob", "", false),
            &[template("0")],
        )
        .unwrap();
    let deleted = store
        .delete_alias(
            "clf",
            "champion",
            &why("carol", "", false),
            &[template("1")],
        )
        .unwrap();
    let mut queued = store.deliveries(Some("clf"), 10).unwrap();
    queued.sort_by(|a, b| a.delivery.id.cmp(&b.delivery.id));
    let ids: Vec<&str> = queued.iter().map(|d| d.delivery.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            format!("move-{}-0-webhook", moved.id),
            format!("move-{}-1-webhook", deleted.id)
        ]
    );
    let data = &queued[0].delivery.payload["data"];
    assert_eq!(
        (
            &data["move_id"],
            &data["version"],
            &data["previous_version"]
        ),
        (
            &serde_json::json!(moved.id),
            &serde_json::json!("2"),
            &serde_json::json!("1")
        )
    );
    assert_eq!(
        queued[1].delivery.payload["data"]["version"],
        serde_json::Value::Null
    );
    assert_eq!(
        queued[0].state,
        kiroku::model::promotions::DeliveryState::Pending
    );
    // A move refused by the store (no such version) queues nothing.
    assert!(store
        .set_alias(
            "clf",
            "champion",
            9,
            &why("bob", "", false),
            &[template("2")]
        )
        .is_err());
    assert_eq!(store.deliveries(Some("clf"), 10).unwrap().len(), 2);
}

fn deleting_a_version_or_model_removes_its_aliases_with_their_hooks(store: &dyn Store) {
    register(store, "clf");
    for _ in 0..3 {
        version(store, "clf", None, "src");
    }
    for (alias, v) in [("champion", 1), ("canary", 1), ("staging", 2), ("dev", 3)] {
        store
            .set_alias("clf", alias, v, &why("alice", "", false), &[])
            .unwrap();
    }
    // Hooks that miss an alias the version holds: refused whole (the alias was set since the
    // caller read them), nothing deleted.
    let only_champion = BTreeMap::from([("champion".to_string(), vec![template("0")])]);
    assert!(matches!(
        store.delete_model_version("clf", 1, &why("bob", "", false), &only_champion),
        Err(KirokuError::Conflict(m)) if m.contains("canary")
    ));
    assert!(store.model_version("clf", 1).is_ok());
    assert!(store.deliveries(Some("clf"), 10).unwrap().is_empty());
    let hooks = BTreeMap::from([
        ("champion".to_string(), vec![template("0")]),
        ("canary".to_string(), Vec::new()),
    ]);
    let moves = store
        .delete_model_version("clf", 1, &why("bob", "version 1 deleted", false), &hooks)
        .unwrap();
    let moved: Vec<_> = moves
        .iter()
        .map(|m| (m.alias.as_str(), m.from_version, m.to_version))
        .collect();
    assert_eq!(
        moved,
        [("canary", Some(1), None), ("champion", Some(1), None)]
    );
    let champion = &moves[1];
    let queued = store.deliveries(Some("clf"), 10).unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(
        queued[0].delivery.id,
        format!("move-{}-0-webhook", champion.id)
    );
    assert_eq!(
        queued[0].delivery.payload["data"]["previous_version"],
        serde_json::json!("1")
    );
    // Deleting the model removes every alias left, each with its hooks.
    let hooks = BTreeMap::from([
        ("staging".to_string(), vec![template("1")]),
        ("dev".to_string(), vec![template("2")]),
    ]);
    let moves = store
        .delete_registered_model("clf", &why("carol", "model deleted", false), &hooks)
        .unwrap();
    assert_eq!(moves.len(), 2);
    assert!(moves
        .iter()
        .all(|m| m.to_version.is_none() && m.user == "carol"));
    // The history outlives the model, each removal in it.
    let history = store.alias_history("clf", None).unwrap();
    let removals: Vec<_> = history
        .iter()
        .filter(|m| m.to_version.is_none())
        .map(|m| (m.alias.as_str(), m.reason.as_str()))
        .collect();
    assert_eq!(
        removals,
        [
            ("canary", "version 1 deleted"),
            ("champion", "version 1 deleted"),
            ("dev", "model deleted"),
            ("staging", "model deleted")
        ]
    );
    let mut ids: Vec<String> = store
        .deliveries(Some("clf"), 10)
        .unwrap()
        .into_iter()
        .map(|d| d.delivery.id)
        .collect();
    ids.sort();
    let mut expected: Vec<String> = moves
        .iter()
        .map(|m| {
            format!(
                "move-{}-{}-webhook",
                m.id,
                if m.alias == "dev" { 2 } else { 1 }
            )
        })
        .chain([format!("move-{}-0-webhook", champion.id)])
        .collect();
    expected.sort();
    assert_eq!(ids, expected);
}

fn aliases_move_and_every_move_is_kept(store: &dyn Store) {
    register(store, "clf");
    for _ in 0..3 {
        version(store, "clf", None, "src");
    }
    let first = store
        .set_alias("clf", "champion", 1, &why("alice", "first", false), &[])
        .unwrap();
    assert_eq!((first.from_version, first.to_version), (None, Some(1)));
    let moved = store
        .set_alias("clf", "champion", 2, &why("bob", "better auc", true), &[])
        .unwrap();
    assert_eq!((moved.from_version, moved.to_version), (Some(1), Some(2)));
    assert!(moved.forced);
    store
        .set_alias("clf", "staging", 3, &why("bob", "", false), &[])
        .unwrap();
    assert_eq!(
        store.version_by_alias("clf", "champion").unwrap().version,
        2
    );
    assert_eq!(
        store.model_version("clf", 2).unwrap().aliases,
        vec!["champion".to_string()]
    );
    let model = store.registered_model("clf").unwrap();
    assert_eq!(
        model.aliases,
        BTreeMap::from([("champion".into(), 2), ("staging".into(), 3)])
    );
    for reserved in ["latest", "LATEST", "v3", "V10", "bad name"] {
        assert!(
            matches!(
                store.set_alias("clf", reserved, 1, &why("a", "", false), &[]),
                Err(KirokuError::Invalid(_))
            ),
            "{reserved}"
        );
    }
    assert!(matches!(
        store.set_alias("clf", "x", 9, &why("a", "", false), &[]),
        Err(KirokuError::NotFound(_))
    ));
    let deleted = store
        .delete_alias("clf", "staging", &why("carol", "retired", false), &[])
        .unwrap();
    assert_eq!((deleted.from_version, deleted.to_version), (Some(3), None));
    assert!(matches!(
        store.version_by_alias("clf", "staging"),
        Err(KirokuError::NotFound(_))
    ));
    assert!(store
        .delete_alias("clf", "staging", &why("carol", "", false), &[])
        .is_err());
    // Deleting the version under an alias removes the alias, recorded as a move.
    store
        .delete_model_version(
            "clf",
            2,
            &why("dave", "version 2 deleted", false),
            &BTreeMap::from([("champion".to_string(), Vec::new())]),
        )
        .unwrap();
    let history = store.alias_history("clf", Some("champion")).unwrap();
    let moves: Vec<_> = history
        .iter()
        .map(|m| (m.from_version, m.to_version, m.user.as_str(), m.forced))
        .collect();
    assert_eq!(
        moves,
        vec![
            (None, Some(1), "alice", false),
            (Some(1), Some(2), "bob", true),
            (Some(2), None, "dave", false)
        ]
    );
    assert_eq!(history[1].reason, "better auc");
    assert!(history
        .windows(2)
        .all(|w| w[0].id < w[1].id && w[0].time <= w[1].time));
    assert_eq!(store.alias_history("clf", None).unwrap().len(), 5);
    // History follows a rename.
    store.rename_registered_model("clf", "clf2").unwrap();
    assert_eq!(store.alias_history("clf2", None).unwrap().len(), 5);
    assert!(store.alias_history("clf", None).unwrap().is_empty());
    let events = store.events(&EventQuery::default()).unwrap();
    assert!(events.iter().any(
        |e| e.kind == "model.alias_set" && e.detail.as_ref().unwrap()["reason"] == "better auc"
    ));
}

fn searches_filter_order_and_page(store: &dyn Store) {
    let run = new_run(store, "exp", "train");
    for name in ["alpha", "beta", "gamma"] {
        register(store, name);
        version(store, name, Some(&run.id), &format!("models:/{name}"));
        version(store, name, None, "elsewhere");
    }
    store
        .set_registered_model_tag("beta", "stage", "prod")
        .unwrap();
    let search =
        |filter: &str, order: &[&str], max: Option<u32>, token: Option<String>| RegistrySearch {
            filter: (!filter.is_empty()).then(|| filter.to_string()),
            order_by: order.iter().map(|s| s.to_string()).collect(),
            max_results: max,
            page_token: token,
        };
    let names = |page: &RegisteredModelPage| {
        page.models
            .iter()
            .map(|m| m.name.clone())
            .collect::<Vec<_>>()
    };
    let all = store
        .search_registered_models(&search("", &[], None, None))
        .unwrap();
    assert_eq!(names(&all), ["alpha", "beta", "gamma"]);
    let desc = store
        .search_registered_models(&search("", &["name DESC"], None, None))
        .unwrap();
    assert_eq!(names(&desc), ["gamma", "beta", "alpha"]);
    let like = store
        .search_registered_models(&search(
            "name LIKE '%a%' AND tags.stage = 'prod'",
            &[],
            None,
            None,
        ))
        .unwrap();
    assert_eq!(names(&like), ["beta"]);
    let ilike = store
        .search_registered_models(&search("name ILIKE 'ALP%'", &[], None, None))
        .unwrap();
    assert_eq!(names(&ilike), ["alpha"]);
    let first = store
        .search_registered_models(&search("", &[], Some(2), None))
        .unwrap();
    assert_eq!(names(&first), ["alpha", "beta"]);
    let second = store
        .search_registered_models(&search("", &[], Some(2), first.next_page_token.clone()))
        .unwrap();
    assert_eq!(names(&second), ["gamma"]);
    assert_eq!(second.next_page_token, None);
    assert!(matches!(
        store.search_registered_models(&search("nme = 'x'", &[], None, None)),
        Err(KirokuError::Invalid(_))
    ));

    let versions = store
        .search_model_versions(&search("name = 'beta'", &[], None, None))
        .unwrap();
    let got: Vec<(String, i64)> = versions
        .versions
        .iter()
        .map(|v| (v.name.clone(), v.version))
        .collect();
    assert_eq!(got, [("beta".to_string(), 2), ("beta".to_string(), 1)]);
    let by_run = store
        .search_model_versions(&search(
            &format!("run_id IN ('{}', 'other')", run.id),
            &["name DESC"],
            None,
            None,
        ))
        .unwrap();
    let got: Vec<&str> = by_run.versions.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(got, ["gamma", "beta", "alpha"]);
    let mut paged = Vec::new();
    let mut token = None;
    loop {
        let page = store
            .search_model_versions(&search(
                "version_number >= 1",
                &["name ASC", "version_number ASC"],
                Some(4),
                token,
            ))
            .unwrap();
        paged.extend(
            page.versions
                .iter()
                .map(|v| format!("{}/{}", v.name, v.version)),
        );
        token = page.next_page_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(
        paged,
        ["alpha/1", "alpha/2", "beta/1", "beta/2", "gamma/1", "gamma/2"]
    );
    assert!(store
        .search_model_versions(&search("", &["nope"], None, None))
        .is_err());
}

fn logged_models_live_from_pending_to_ready(store: &dyn Store) {
    let run = new_run(store, "exp", "train");
    let exp = store.experiment("exp").unwrap();
    let model = store
        .create_logged_model(&NewLoggedModel {
            experiment_id: exp.id,
            name: Some("model".into()),
            source_run_id: Some(run.id.clone()),
            model_type: Some("sklearn".into()),
            tags: BTreeMap::from([("a".into(), "1".into())]),
            params: BTreeMap::from([("alpha".into(), "0.5".into())]),
            user: "alice".into(),
        })
        .unwrap();
    assert!(model.model_id.starts_with("m-") && model.model_id.len() == 34);
    assert_eq!(model.status, LoggedModelStatus::Pending);
    assert_eq!(
        model.artifact_location,
        format!(
            "mlflow-artifacts:/{}/models/{}/artifacts",
            exp.id, model.model_id
        )
    );
    let id = model.model_id.clone();
    store
        .set_logged_model_tags(&id, &BTreeMap::from([("b".into(), "2".into())]))
        .unwrap();
    store
        .log_logged_model_params(&id, &BTreeMap::from([("beta".into(), "1".into())]))
        .unwrap();
    // Metric values logged against it come back with it, in the order logged (NaN included).
    let metric = |key: &str, value: f64, step: i64, dataset: Option<&str>| LoggedModelMetric {
        model_id: id.clone(),
        key: key.into(),
        value,
        timestamp: 1_000 + step,
        step,
        run_id: Some(run.id.clone()),
        dataset_name: dataset.map(str::to_string),
        dataset_digest: dataset.map(|_| "d1".to_string()),
    };
    let logged = vec![
        metric("acc", 0.9, 1, None),
        metric("acc", 0.95, 2, None),
        metric("loss", f64::NAN, 0, Some("holdout")),
    ];
    store.log_logged_model_metrics(&logged).unwrap();
    let back = store.logged_model(&id, false).unwrap().metrics;
    assert_eq!(back[..2], logged[..2]);
    assert!(back[2].value.is_nan() && back[2].dataset_name.as_deref() == Some("holdout"));
    let mut stray = metric("acc", 1.0, 3, None);
    stray.model_id = "m-0123456789abcdef0123456789abcdef".into();
    assert!(matches!(
        store.log_logged_model_metrics(&[metric("acc", 1.0, 3, None), stray]),
        Err(KirokuError::NotFound(_))
    ));
    assert_eq!(store.logged_model(&id, false).unwrap().metrics.len(), 3);
    assert!(matches!(
        store.log_logged_model_params(&id, &BTreeMap::from([("beta".into(), "2".into())])),
        Err(KirokuError::Conflict(_))
    ));
    store.delete_logged_model_tag(&id, "a").unwrap();
    assert!(matches!(
        store.delete_logged_model_tag(&id, "a"),
        Err(KirokuError::NotFound(_))
    ));
    let ready = store
        .finalize_logged_model(&id, LoggedModelStatus::Ready)
        .unwrap();
    assert_eq!(ready.status, LoggedModelStatus::Ready);
    assert_eq!(ready.tags, BTreeMap::from([("b".into(), "2".into())]));
    assert_eq!(ready.params.len(), 2);
    let unnamed = store
        .create_logged_model(&NewLoggedModel {
            experiment_id: exp.id,
            user: "alice".into(),
            ..Default::default()
        })
        .unwrap();
    assert!(!unnamed.name.is_empty());
    let found = store
        .search_logged_models(&LoggedModelQuery {
            experiment_ids: vec![exp.id],
            filter: Some("name = 'model' AND tags.b = '2'".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(found.models.len(), 1);
    assert_eq!(
        found.models[0].source_run_id.as_deref(),
        Some(run.id.as_str())
    );
    let page = store
        .search_logged_models(&LoggedModelQuery {
            experiment_ids: vec![exp.id],
            max_results: Some(1),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page.models.len(), 1);
    assert!(page.next_page_token.is_some());
    store.delete_logged_model(&id).unwrap();
    assert!(matches!(
        store.logged_model(&id, false),
        Err(KirokuError::NotFound(_))
    ));
    assert!(store.logged_model(&id, true).unwrap().deleted);
    assert!(store
        .search_logged_models(&LoggedModelQuery::default())
        .unwrap()
        .models
        .iter()
        .all(|m| m.model_id != id));
    assert!(matches!(
        store.create_logged_model(&NewLoggedModel {
            experiment_id: 999,
            ..Default::default()
        }),
        Err(KirokuError::NotFound(_))
    ));
}
