//! The `PromotionStore` part of the store contract: approvals (recorded with their reviewer and
//! time, listed per version, an event each, a rejection needs a reason), evaluations (pending,
//! then bound to their run and finished; unknown jobs refused), and the hook outbox (idempotent
//! on the delivery id, claimed so two drainers do not take one at once, every attempt kept, due
//! again at the time an attempt sets, listed newest first per model).
use super::*;
use kiroku::model::promotions::*;

contract!(
    approvals_are_recorded_listed_and_logged,
    a_rejection_needs_a_reason,
    evaluations_go_from_pending_to_their_run,
    the_outbox_is_idempotent_on_the_delivery_id,
    claims_hold_a_delivery_until_it_is_due_again,
    attempts_are_kept_and_settle_the_delivery,
);

fn approval(version: &str, reviewer: &str, verdict: ApprovalVerdict) -> NewApproval {
    NewApproval {
        model: "churn".into(),
        version: version.into(),
        alias: Some("production".into()),
        verdict,
        comment: "looks good".into(),
        reviewer: reviewer.into(),
    }
}

fn delivery(id: &str, model: &str) -> NewDelivery {
    NewDelivery {
        id: id.into(),
        model: model.into(),
        hook: "deploy".into(),
        action: HookAction::Webhook {
            url: "http://127.0.0.1:9/hook".into(),
            secret_env: Some("S".into()),
        },
        payload: serde_json::json!({"entity": "model_version_alias", "action": "moved",
            "timestamp": 1, "data": {"name": model, "alias": "production", "version": "2"}}),
    }
}

fn approvals_are_recorded_listed_and_logged(store: &dyn Store) {
    let a = store
        .add_approval(&approval("2", "bob", ApprovalVerdict::Approved))
        .unwrap();
    assert_eq!(a.approval.reviewer, "bob");
    assert!(a.created_at > 0);
    let mut any_alias = approval("3", "carol", ApprovalVerdict::Approved);
    any_alias.alias = None;
    store.add_approval(&any_alias).unwrap();
    let all = store.approvals("churn", None).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].id, a.id);
    assert_eq!(all[1].approval.alias, None);
    let two = store.approvals("churn", Some("2")).unwrap();
    assert_eq!(two, vec![a.clone()]);
    assert!(store.approvals("other", None).unwrap().is_empty());
    let events = store.events(&EventQuery::default()).unwrap();
    let logged = events
        .iter()
        .find(|e| e.kind == "model.approved" && e.user == "bob")
        .expect("an approval event");
    let detail = logged.detail.as_ref().unwrap();
    assert_eq!(detail["model"], "churn", "{detail}");
}

fn a_rejection_needs_a_reason(store: &dyn Store) {
    let mut rejection = approval("2", "dave", ApprovalVerdict::Rejected);
    rejection.comment = "  ".into();
    let e = store.add_approval(&rejection).unwrap_err();
    assert!(matches!(e, KirokuError::Invalid(_)), "{e}");
    assert!(e.to_string().contains("comment"), "{e}");
    rejection.comment = "drift on the eval set".into();
    let r = store.add_approval(&rejection).unwrap();
    assert_eq!(r.approval.verdict, ApprovalVerdict::Rejected);
    let events = store.events(&EventQuery::default()).unwrap();
    assert!(events.iter().any(|e| e.kind == "model.rejected"));
    let mut blank = approval("", "bob", ApprovalVerdict::Approved);
    blank.version = String::new();
    assert!(matches!(
        store.add_approval(&blank).unwrap_err(),
        KirokuError::Invalid(_)
    ));
}

fn evaluations_go_from_pending_to_their_run(store: &dyn Store) {
    let e = store.add_evaluation("churn", "2", 41, "alice").unwrap();
    assert_eq!(e.status, EvaluationStatus::Pending);
    assert_eq!(e.run_id, None);
    store.add_evaluation("other", "1", 42, "alice").unwrap();
    let done = store
        .update_evaluation(
            41,
            Some("0123456789abcdef0123456789abcdef"),
            EvaluationStatus::Finished,
        )
        .unwrap();
    assert_eq!(done.status, EvaluationStatus::Finished);
    assert_eq!(
        done.run_id.as_deref(),
        Some("0123456789abcdef0123456789abcdef")
    );
    // A status change without a run keeps the run it had.
    let kept = store
        .update_evaluation(41, None, EvaluationStatus::Failed)
        .unwrap();
    assert_eq!(kept.run_id, done.run_id);
    assert_eq!(store.evaluations(Some("churn")).unwrap().len(), 1);
    assert_eq!(store.evaluations(None).unwrap().len(), 2);
    let missing = store
        .update_evaluation(999, None, EvaluationStatus::Finished)
        .unwrap_err();
    assert!(matches!(missing, KirokuError::NotFound(_)), "{missing}");
    let events = store.events(&EventQuery::default()).unwrap();
    assert!(events
        .iter()
        .any(|e| e.kind == "model.evaluation_submitted" && e.user == "alice"));
}

fn the_outbox_is_idempotent_on_the_delivery_id(store: &dyn Store) {
    let first = store
        .enqueue_deliveries(&[delivery("d-1", "churn"), delivery("d-2", "churn")])
        .unwrap();
    assert_eq!(first.len(), 2);
    assert!(first
        .iter()
        .all(|d| d.state == DeliveryState::Pending && d.attempts.is_empty()));
    assert_eq!(first[0].delivery, delivery("d-1", "churn"));
    let mut changed = delivery("d-1", "churn");
    changed.hook = "other".into();
    let again = store.enqueue_deliveries(&[changed]).unwrap();
    assert_eq!(again[0].delivery.hook, "deploy", "the first enqueue stands");
    assert_eq!(store.deliveries(None, 100).unwrap().len(), 2);
}

fn claims_hold_a_delivery_until_it_is_due_again(store: &dyn Store) {
    store
        .enqueue_deliveries(&[delivery("d-1", "churn"), delivery("d-2", "fraud")])
        .unwrap();
    let now = now_ms() + 1_000;
    let claimed = store.claim_deliveries(now, 60_000, 10, None).unwrap();
    assert_eq!(claimed.len(), 2);
    assert_eq!(claimed[0].delivery.id, "d-1", "oldest first");
    assert!(store
        .claim_deliveries(now, 60_000, 10, None)
        .unwrap()
        .is_empty());
    // Held ones are due again when the hold runs out.
    let later = store
        .claim_deliveries(now + 60_000, 1_000, 1, None)
        .unwrap();
    assert_eq!(later.len(), 1);
    // Named ones are taken even before they are due.
    let named = store
        .claim_deliveries(now, 1_000, 10, Some(&["d-2".to_string()]))
        .unwrap();
    assert_eq!(named.len(), 1);
    assert_eq!(named[0].delivery.id, "d-2");
}

fn attempts_are_kept_and_settle_the_delivery(store: &dyn Store) {
    store
        .enqueue_deliveries(&[delivery("d-1", "churn")])
        .unwrap();
    let failed = store
        .record_attempt(
            "d-1",
            &AttemptOutcome {
                attempt: DeliveryAttempt {
                    at: 1_000,
                    status_code: Some(503),
                    error: Some("HTTP 503".into()),
                    job_id: None,
                },
                state: DeliveryState::Pending,
                next_attempt_at: Some(5_000),
            },
        )
        .unwrap();
    assert_eq!(failed.state, DeliveryState::Pending);
    assert_eq!(failed.next_attempt_at, 5_000);
    assert_eq!(failed.attempts.len(), 1);
    assert!(store
        .claim_deliveries(4_999, 10, 10, None)
        .unwrap()
        .is_empty());
    assert_eq!(
        store.claim_deliveries(5_000, 10, 10, None).unwrap().len(),
        1
    );
    let done = store
        .record_attempt(
            "d-1",
            &AttemptOutcome {
                attempt: DeliveryAttempt {
                    at: 6_000,
                    status_code: Some(200),
                    error: None,
                    job_id: None,
                },
                state: DeliveryState::Delivered,
                next_attempt_at: None,
            },
        )
        .unwrap();
    assert_eq!(done.state, DeliveryState::Delivered);
    assert_eq!(done.attempts.len(), 2);
    assert_eq!(done.attempts[0].status_code, Some(503));
    assert!(store
        .claim_deliveries(i64::MAX / 2, 10, 10, None)
        .unwrap()
        .is_empty());
    store
        .enqueue_deliveries(&[delivery("d-2", "fraud")])
        .unwrap();
    let churn = store.deliveries(Some("churn"), 10).unwrap();
    assert_eq!(churn.len(), 1);
    let all = store.deliveries(None, 10).unwrap();
    assert_eq!(all[0].delivery.id, "d-2", "newest first");
    let missing = store
        .record_attempt(
            "nope",
            &AttemptOutcome {
                attempt: DeliveryAttempt {
                    at: 1,
                    status_code: None,
                    error: None,
                    job_id: None,
                },
                state: DeliveryState::Delivered,
                next_attempt_at: None,
            },
        )
        .unwrap_err();
    assert!(matches!(missing, KirokuError::NotFound(_)), "{missing}");
}
