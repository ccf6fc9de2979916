//! The `DataStore` part of the store contract. Dataset versions (content-addressed, numbered per
//! dataset, idempotent, looked up by name, number and id prefix), run inputs and the runs that
//! read a version, check runs (recorded whole, listed by dataset, version, suite, status and
//! awaiting review), reviews (bound to the check, version and suite hash; refusals), the gate
//! `--require-checks` applies, and the events every data write records.
use super::*;
use kiroku::model::data::{DatasetVersion, RunInput};
use kiroku::store::checks_gate;

contract!(
    versions_are_numbered_per_dataset_and_idempotent_on_content,
    versions_are_found_by_name_number_and_id_prefix,
    bad_versions_and_references_are_refused_with_clear_errors,
    datasets_list_their_latest_version_count_and_check_status,
    runs_bind_inputs_and_versions_know_their_readers,
    check_runs_are_recorded_whole_and_listed_newest_first,
    reviews_bind_to_the_result_version_and_suite,
    reviews_refuse_passes_unknown_results_and_waivers_without_reason,
    a_review_on_new_data_or_of_a_worse_failure_is_needed_again,
    the_gate_refuses_until_every_failure_is_reviewed,
    data_writes_record_events,
);

fn hash_of(seed: &str) -> String {
    use std::fmt::Write;
    let mut out = String::from("sha256:");
    for byte in seed.bytes().cycle().take(32) {
        write!(out, "{byte:02x}").unwrap();
    }
    out
}

fn version(dataset: &str, seed: &str, rows: u64) -> DatasetVersion {
    DatasetVersion {
        id: hash_of(seed),
        dataset: dataset.into(),
        number: 0,
        path: format!("/data/{dataset}.csv"),
        format: DataFormat::Csv,
        size_bytes: 10 * rows,
        row_count: rows,
        columns: vec![
            ColumnSchema {
                name: "age".into(),
                column_type: ColumnType::Int,
                null_count: 1,
            },
            ColumnSchema {
                name: "name".into(),
                column_type: ColumnType::String,
                null_count: 0,
            },
        ],
        files: vec![DataFile {
            path: format!("{dataset}.csv"),
            size_bytes: 10 * rows,
            sha256: hash_of(&format!("file-{seed}")),
            rows,
        }],
        created_at: 0,
        created_by: "alice".into(),
        source: None,
    }
}

fn add(store: &dyn Store, dataset: &str, seed: &str) -> DatasetVersion {
    store
        .add_dataset_version(&version(dataset, seed, 100))
        .unwrap()
        .version
}

fn result(id: &str, status: CheckStatus, unexpected: Option<u64>) -> CheckResult {
    CheckResult {
        id: id.into(),
        check_type: "between".into(),
        column: Some("age".into()),
        columns: vec![],
        dataset: None,
        status,
        observed: serde_json::json!({"min": 3}),
        expected: serde_json::json!({"min": 0, "max": 120}),
        element_count: Some(100),
        missing_count: Some(1),
        unexpected_count: unexpected,
        unexpected_percent: unexpected.map(|n| n as f64 / 99.0 * 100.0),
        samples: vec![Sample {
            row: 4,
            values: serde_json::json!({"age": -1}).as_object().unwrap().clone(),
        }],
        top_unexpected: vec![],
        message: None,
        details: serde_json::Value::Null,
    }
}

fn new_check_run(
    version: &DatasetVersion,
    suite_hash: &str,
    results: Vec<CheckResult>,
) -> NewCheckRun {
    NewCheckRun {
        suite: "wine".into(),
        suite_hash: suite_hash.into(),
        source: CheckSource::Kiroku,
        datasets: vec![CheckedDataset {
            name: version.dataset.clone(),
            version_id: version.id.clone(),
            path: version.path.clone(),
            rows: version.row_count,
        }],
        status: CheckStatus::overall(results.iter().map(|r| r.status)),
        results,
        started_at: 1_000,
        ended_at: 2_000,
        user: "alice".into(),
        host: "box".into(),
        run_id: None,
    }
}

fn check(store: &dyn Store, version: &DatasetVersion, results: Vec<CheckResult>) -> CheckRun {
    store
        .record_check_run(&new_check_run(version, "sha256:suite1", results))
        .unwrap()
}

fn review(
    store: &dyn Store,
    run: &CheckRun,
    result: &str,
    verdict: ReviewVerdict,
) -> kiroku::error::Result<Review> {
    store.add_review(&NewReview {
        check_run: run.id,
        result_id: result.into(),
        verdict,
        comment: "looked at it".into(),
        reviewer: "bob".into(),
        expires_at: None,
    })
}

fn versions_are_numbered_per_dataset_and_idempotent_on_content(store: &dyn Store) {
    let first = store
        .add_dataset_version(&version("train", "a", 100))
        .unwrap();
    assert!(first.new);
    assert_eq!(first.version.number, 1);
    assert!(first.version.created_at > 0);
    let again = store
        .add_dataset_version(&version("train", "a", 100))
        .unwrap();
    assert!(!again.new);
    assert_eq!(again.version, first.version);
    let second = store
        .add_dataset_version(&version("train", "b", 120))
        .unwrap();
    assert_eq!((second.new, second.version.number), (true, 2));
    // The same bytes under another name are that dataset's first version.
    let other = store
        .add_dataset_version(&version("test", "a", 100))
        .unwrap();
    assert_eq!((other.new, other.version.number), (true, 1));
    let versions = store.dataset_versions("train").unwrap();
    assert_eq!(
        versions.iter().map(|v| v.number).collect::<Vec<_>>(),
        vec![1, 2]
    );
    // Every field survives the trip.
    let expected = DatasetVersion {
        number: 2,
        created_at: versions[1].created_at,
        ..version("train", "b", 120)
    };
    assert_eq!(versions[1], expected);
    let mlflow = DatasetVersion {
        id: "mlflow:3a4f9c1e".into(),
        source: Some("mlflow".into()),
        ..version("iris", "c", 5)
    };
    let added = store.add_dataset_version(&mlflow).unwrap().version;
    assert_eq!(added.source.as_deref(), Some("mlflow"));
    assert_eq!(store.dataset_version("mlflow:3a4f").unwrap(), added);
}

fn versions_are_found_by_name_number_and_id_prefix(store: &dyn Store) {
    let v1 = add(store, "train", "a");
    let v2 = add(store, "train", "b");
    add(store, "test", "a");
    assert_eq!(store.dataset_version("train").unwrap(), v2);
    assert_eq!(store.dataset_version("train@latest").unwrap(), v2);
    assert_eq!(store.dataset_version("train@1").unwrap(), v1);
    assert_eq!(store.dataset_version(&v2.id[..14]).unwrap(), v2);
    assert_eq!(
        store
            .dataset_version(&format!("train@{}", &v1.id[..12]))
            .unwrap(),
        v1
    );
    // The same bytes are a version of two datasets: a bare prefix names both.
    let err = store.dataset_version(&v1.id[..12]).unwrap_err();
    assert!(
        matches!(&err, KirokuError::Ambiguous { candidates, .. } if candidates.len() == 2),
        "{err}"
    );
    let err = store.dataset_version("train@3").unwrap_err();
    assert!(matches!(err, KirokuError::NotFound(_)), "{err}");
    assert!(err.to_string().contains("1 to 2"), "{err}");
    let err = store.dataset_version("nothing").unwrap_err();
    assert!(
        matches!(&err, KirokuError::NotFound(m) if m.contains("nothing")),
        "{err}"
    );
    let err = store.dataset_version("sha256:ff").unwrap_err();
    assert!(matches!(err, KirokuError::Invalid(_)), "{err}");
}

fn bad_versions_and_references_are_refused_with_clear_errors(store: &dyn Store) {
    for bad_name in ["", "a@b", "x:y", " lead"] {
        let err = store
            .add_dataset_version(&version(bad_name, "a", 1))
            .unwrap_err();
        assert!(matches!(err, KirokuError::Invalid(_)), "{bad_name}: {err}");
    }
    let short = DatasetVersion {
        id: "sha256:abc".into(),
        ..version("train", "a", 1)
    };
    let err = store.add_dataset_version(&short).unwrap_err();
    assert!(err.to_string().contains("64 hex digits"), "{err}");
    let err = store.dataset_versions("train").unwrap_err();
    assert!(matches!(err, KirokuError::NotFound(_)), "{err}");
}

fn datasets_list_their_latest_version_count_and_check_status(store: &dyn Store) {
    assert!(store.datasets().unwrap().is_empty());
    let v1 = add(store, "train", "a");
    let v2 = add(store, "train", "b");
    add(store, "eval", "c");
    check(store, &v1, vec![result("age", CheckStatus::Pass, Some(0))]);
    let listed = store.datasets().unwrap();
    let names: Vec<_> = listed.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, vec!["eval", "train"]);
    let train = &listed[1];
    assert_eq!((train.versions, train.latest.number), (2, 2));
    // The check ran on version 1: the latest version has none yet.
    assert_eq!(train.latest_check, None);
    let run = check(store, &v2, vec![result("age", CheckStatus::Warn, Some(2))]);
    let train = store.datasets().unwrap().remove(1);
    assert_eq!(train.latest_check, Some(CheckStatus::Warn));
    assert_eq!(train.latest_check_run, Some(run.id));
}

fn runs_bind_inputs_and_versions_know_their_readers(store: &dyn Store) {
    store.create_experiment("e", "alice").unwrap();
    let first = new_run(store, "e", "first");
    let second = new_run(store, "e", "second");
    let train = add(store, "train", "a");
    let eval = add(store, "eval", "b");
    let input = |run: &Run, name: &str, v: &DatasetVersion| RunInput {
        run_id: run.id.clone(),
        name: name.into(),
        dataset: v.dataset.clone(),
        version_id: v.id.clone(),
        path: v.path.clone(),
    };
    let bound = vec![
        input(&first, "train", &train),
        input(&first, "holdout", &eval),
    ];
    store.add_run_inputs(&first.id, &bound).unwrap();
    // Binding again changes nothing.
    store.add_run_inputs(&first.id, &bound[..1]).unwrap();
    assert_eq!(store.run_inputs(&first.id).unwrap(), bound);
    store
        .add_run_inputs(&second.id, &[input(&second, "train", &train)])
        .unwrap();
    let readers: Vec<_> = store
        .version_readers(&train.id)
        .unwrap()
        .into_iter()
        .map(|i| i.run_id)
        .collect();
    assert_eq!(readers.len(), 2);
    assert!(readers.contains(&first.id) && readers.contains(&second.id));
    assert!(store.run_inputs(&second.id).unwrap().len() == 1);
    let unknown = RunInput {
        version_id: hash_of("zzz"),
        ..input(&first, "train", &train)
    };
    let err = store.add_run_inputs(&first.id, &[unknown]).unwrap_err();
    assert!(matches!(err, KirokuError::NotFound(_)), "{err}");
    let err = store.run_inputs("no-such-run").unwrap_err();
    assert!(matches!(err, KirokuError::NotFound(_)), "{err}");
}

fn check_runs_are_recorded_whole_and_listed_newest_first(store: &dyn Store) {
    let train = add(store, "train", "a");
    let eval = add(store, "eval", "b");
    let new = new_check_run(
        &train,
        "sha256:suite1",
        vec![
            result("age", CheckStatus::Fail, Some(3)),
            result("rows", CheckStatus::Pass, None),
            result("gx-odd", CheckStatus::Unsupported, None),
        ],
    );
    let first = store.record_check_run(&new).unwrap();
    assert_eq!(first.run, new);
    assert_eq!(store.check_run(first.id).unwrap(), first);
    let second = check(store, &eval, vec![result("age", CheckStatus::Pass, None)]);
    let third = check(
        store,
        &train,
        vec![result("age", CheckStatus::Warn, Some(1))],
    );
    assert_eq!((second.id, third.id), (first.id + 1, first.id + 2));
    let ids = |q: CheckRunQuery| -> Vec<CheckRunId> {
        store.check_runs(&q).unwrap().iter().map(|r| r.id).collect()
    };
    assert_eq!(
        ids(CheckRunQuery::default()),
        vec![third.id, second.id, first.id]
    );
    let by_dataset = CheckRunQuery {
        dataset: Some("train".into()),
        ..Default::default()
    };
    assert_eq!(ids(by_dataset.clone()), vec![third.id, first.id]);
    assert_eq!(
        ids(CheckRunQuery {
            limit: Some(1),
            ..by_dataset
        }),
        vec![third.id]
    );
    assert_eq!(
        ids(CheckRunQuery {
            version_id: Some(eval.id.clone()),
            ..Default::default()
        }),
        vec![second.id]
    );
    assert_eq!(
        ids(CheckRunQuery {
            statuses: vec![CheckStatus::Fail, CheckStatus::Pass],
            ..Default::default()
        }),
        vec![second.id, first.id]
    );
    assert_eq!(
        ids(CheckRunQuery {
            suite: Some("other".into()),
            ..Default::default()
        }),
        Vec::<CheckRunId>::new()
    );
    let awaiting = CheckRunQuery {
        awaiting_review: true,
        ..Default::default()
    };
    assert_eq!(ids(awaiting.clone()), vec![third.id, first.id]);
    // Approving the failure covers the milder warning of the same check on the same data too.
    review(store, &first, "age", ReviewVerdict::Approved).unwrap();
    assert_eq!(ids(awaiting.clone()), Vec::<CheckRunId>::new());
    let worse = check(
        store,
        &train,
        vec![result("age", CheckStatus::Fail, Some(9))],
    );
    assert_eq!(ids(awaiting), vec![worse.id]);
    let err = store.check_run(999).unwrap_err();
    assert!(
        matches!(&err, KirokuError::NotFound(m) if m.contains("999")),
        "{err}"
    );
    let mut twice = new_check_run(&train, "sha256:s", vec![]);
    twice.results = vec![
        result("age", CheckStatus::Pass, None),
        result("age", CheckStatus::Fail, None),
    ];
    let err = store.record_check_run(&twice).unwrap_err();
    assert!(
        err.to_string().contains("two results with id 'age'"),
        "{err}"
    );
}

fn reviews_bind_to_the_result_version_and_suite(store: &dyn Store) {
    let train = add(store, "train", "a");
    let run = check(
        store,
        &train,
        vec![
            result("age", CheckStatus::Fail, Some(3)),
            result("name", CheckStatus::Warn, Some(1)),
        ],
    );
    let until = now_ms() + 3_600_000;
    let waived = store
        .add_review(&NewReview {
            check_run: run.id,
            result_id: "name".into(),
            verdict: ReviewVerdict::Waived,
            comment: "known typo, fixed upstream next week".into(),
            reviewer: "bob".into(),
            expires_at: Some(until),
        })
        .unwrap();
    assert_eq!(
        (
            waived.version_id.as_str(),
            waived.suite_hash.as_str(),
            waived.status_reviewed,
            waived.unexpected_count_reviewed,
            waived.review.expires_at
        ),
        (
            train.id.as_str(),
            "sha256:suite1",
            CheckStatus::Warn,
            Some(1),
            Some(until)
        )
    );
    let approved = review(store, &run, "age", ReviewVerdict::Approved).unwrap();
    assert_eq!(
        store.reviews(run.id, None).unwrap(),
        vec![waived.clone(), approved.clone()]
    );
    assert_eq!(
        store.reviews(run.id, Some("age")).unwrap(),
        vec![approved.clone()]
    );
    // A later run of the same suite on the same data is covered by the same reviews.
    let again = check(
        store,
        &train,
        vec![
            result("age", CheckStatus::Fail, Some(3)),
            result("name", CheckStatus::Warn, Some(1)),
        ],
    );
    assert_eq!(
        store.reviews(again.id, None).unwrap(),
        vec![waived, approved]
    );
    // Another suite hash is another suite: nothing binds.
    let other_suite = store
        .record_check_run(&new_check_run(
            &train,
            "sha256:suite2",
            vec![result("age", CheckStatus::Fail, Some(3))],
        ))
        .unwrap();
    assert!(store.reviews(other_suite.id, None).unwrap().is_empty());
    let err = store.reviews(run.id, Some("nope")).unwrap_err();
    assert!(matches!(err, KirokuError::NotFound(_)), "{err}");
}

fn reviews_refuse_passes_unknown_results_and_waivers_without_reason(store: &dyn Store) {
    let train = add(store, "train", "a");
    let run = check(
        store,
        &train,
        vec![
            result("age", CheckStatus::Fail, Some(3)),
            result("rows", CheckStatus::Pass, None),
        ],
    );
    let err = review(store, &run, "rows", ReviewVerdict::Approved).unwrap_err();
    assert!(
        matches!(&err, KirokuError::Invalid(m) if m.contains("is pass")),
        "{err}"
    );
    let err = review(store, &run, "nope", ReviewVerdict::Approved).unwrap_err();
    assert!(
        matches!(&err, KirokuError::NotFound(m) if m.contains("age, rows")),
        "{err}"
    );
    let mut unknown_run = run.clone();
    unknown_run.id = 4242;
    let err = review(store, &unknown_run, "age", ReviewVerdict::Approved).unwrap_err();
    assert!(
        matches!(&err, KirokuError::NotFound(m) if m.contains("4242")),
        "{err}"
    );
    let no_reason = NewReview {
        check_run: run.id,
        result_id: "age".into(),
        verdict: ReviewVerdict::Waived,
        comment: "  ".into(),
        reviewer: "bob".into(),
        expires_at: None,
    };
    let err = store.add_review(&no_reason).unwrap_err();
    assert!(err.to_string().contains("needs a reason"), "{err}");
    let expiring_approval = NewReview {
        verdict: ReviewVerdict::Approved,
        comment: "fine".into(),
        expires_at: Some(now_ms() + 1000),
        ..no_reason.clone()
    };
    let err = store.add_review(&expiring_approval).unwrap_err();
    assert!(err.to_string().contains("only a waiver expires"), "{err}");
    let past = NewReview {
        comment: "fine".into(),
        expires_at: Some(1_000),
        ..no_reason
    };
    let err = store.add_review(&past).unwrap_err();
    assert!(err.to_string().contains("has passed"), "{err}");
    assert!(store.reviews(run.id, None).unwrap().is_empty());
}

fn a_review_on_new_data_or_of_a_worse_failure_is_needed_again(store: &dyn Store) {
    let now = now_ms();
    let v1 = add(store, "train", "a");
    let run = check(store, &v1, vec![result("age", CheckStatus::Warn, Some(3))]);
    review(store, &run, "age", ReviewVerdict::Approved).unwrap();
    let reviews = store.reviews(run.id, None).unwrap();
    assert!(!checks_gate::awaits_review(&run, &reviews, now));
    // The same failure on a new version comes back.
    let v2 = add(store, "train", "b");
    let on_new = check(store, &v2, vec![result("age", CheckStatus::Warn, Some(3))]);
    let reviews = store.reviews(on_new.id, None).unwrap();
    assert!(reviews.is_empty());
    assert!(checks_gate::awaits_review(&on_new, &reviews, now));
    // The same version, worse: more rows, or a higher status.
    for (status, rows) in [(CheckStatus::Warn, 4), (CheckStatus::Fail, 3)] {
        let worse = check(store, &v1, vec![result("age", status, Some(rows))]);
        let reviews = store.reviews(worse.id, None).unwrap();
        assert_eq!(reviews.len(), 1);
        let standing = checks_gate::standing(&worse, &worse.run.results[0], &reviews, now);
        assert!(
            matches!(&standing, checks_gate::Standing::Awaiting { why, .. } if why.contains("worse")),
            "{standing:?}"
        );
    }
}

fn the_gate_refuses_until_every_failure_is_reviewed(store: &dyn Store) {
    let now = now_ms();
    let err = checks_gate::dataset_gate(store, "train", now).unwrap_err();
    assert!(err.to_string().contains("kiroku data add train"), "{err}");
    let v1 = add(store, "train", "a");
    let gate = checks_gate::dataset_gate(store, "train", now).unwrap();
    assert!(!gate.passes());
    assert!(
        gate.refusal().unwrap().contains("has no check run"),
        "{gate:?}"
    );
    let run = check(
        store,
        &v1,
        vec![
            result("age", CheckStatus::Fail, Some(3)),
            result("name", CheckStatus::Warn, Some(1)),
            result("rows", CheckStatus::Pass, None),
        ],
    );
    let refusal = checks_gate::dataset_gate(store, "train", now)
        .unwrap()
        .refusal()
        .unwrap();
    assert!(refusal.contains(&format!("{}/age", run.id)), "{refusal}");
    assert!(refusal.contains(&format!("{}/name", run.id)), "{refusal}");
    assert!(!refusal.contains("/rows"), "{refusal}");
    assert!(
        refusal.contains(&format!("kiroku review {}", run.id)),
        "{refusal}"
    );
    review(store, &run, "age", ReviewVerdict::Rejected).unwrap();
    review(store, &run, "name", ReviewVerdict::Approved).unwrap();
    let refusal = checks_gate::dataset_gate(store, "train", now)
        .unwrap()
        .refusal()
        .unwrap();
    assert!(refusal.contains("rejected by bob"), "{refusal}");
    assert!(!refusal.contains("/name"), "{refusal}");
    review(store, &run, "age", ReviewVerdict::Approved).unwrap();
    let gate = checks_gate::dataset_gate(store, "train", now).unwrap();
    assert!(gate.passes(), "{:?}", gate.refusal());
    let refusal = |pinned: &[DatasetVersion]| {
        checks_gate::require_checks(store, &["train".into()], pinned, now).unwrap()
    };
    assert_eq!(refusal(&[]), None);
    // A newer version that passed its checks clears on its own.
    let v2 = add(store, "train", "b");
    assert!(refusal(&[]).is_some());
    check(store, &v2, vec![result("age", CheckStatus::Pass, Some(0))]);
    assert_eq!(refusal(&[]), None);
    // Pinned to version 1 (a run given it with --input), the gate looks at that version.
    assert_eq!(refusal(std::slice::from_ref(&v1)), None);
    let v3 = add(store, "train", "c");
    let refused = refusal(&[v3]).unwrap();
    assert!(refused.contains("train@3 ("), "{refused}");
    assert!(refused.contains("has no check run"), "{refused}");
}

fn data_writes_record_events(store: &dyn Store) {
    store.create_experiment("e", "alice").unwrap();
    let run_of_checks = new_run(store, "e", "checker");
    let before = store.version().unwrap();
    let v1 = add(store, "train", "a");
    assert_ne!(store.version().unwrap(), before);
    let mut new = new_check_run(
        &v1,
        "sha256:s",
        vec![result("age", CheckStatus::Fail, Some(2))],
    );
    new.run_id = Some(run_of_checks.id.clone());
    let run = store.record_check_run(&new).unwrap();
    store
        .add_review(&NewReview {
            check_run: run.id,
            result_id: "age".into(),
            verdict: ReviewVerdict::Waived,
            comment: "two legacy rows".into(),
            reviewer: "carol".into(),
            expires_at: None,
        })
        .unwrap();
    let events = store.events(&EventQuery::default()).unwrap();
    let kinds: Vec<_> = events.iter().take(3).map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        vec!["review.waived", "check.recorded", "dataset.version_added"]
    );
    let reviewed = &events[0];
    assert_eq!(reviewed.user, "carol");
    assert_eq!(reviewed.run_id.as_deref(), Some(run_of_checks.id.as_str()));
    let detail = reviewed.detail.as_ref().unwrap();
    assert_eq!(detail["comment"], "two legacy rows");
    assert_eq!(detail["verdict"], "waived");
    assert_eq!(detail["result"], "age");
    assert_eq!(detail["check_run"], run.id);
}
