//! The Checks screen's ordering, selection, focus and review flow, with store answers made by
//! hand (the real store is `tests/tui_app.rs`' and the tmux test's).
use super::*;
use crate::model::data::{CheckSource, CheckStatus, CheckedDataset, NewCheckRun};
use crate::tui::screens::test_support::{answer, press, requests, state, typed, NOW};
use crate::tui::worker::Write;
use crossterm::event::KeyCode;

fn result(id: &str, status: CheckStatus, unexpected: Option<u64>) -> CheckResult {
    CheckResult {
        id: id.into(),
        check_type: "between".into(),
        column: Some("age".into()),
        columns: vec![],
        dataset: None,
        status,
        observed: serde_json::Value::Null,
        expected: serde_json::json!({"min": 0, "max": 120}),
        element_count: Some(100),
        missing_count: Some(0),
        unexpected_count: unexpected,
        unexpected_percent: unexpected.map(|n| n as f64),
        samples: vec![],
        top_unexpected: vec![],
        message: None,
        details: serde_json::Value::Null,
    }
}

fn check_run(id: CheckRunId, dataset: &str, results: Vec<CheckResult>) -> CheckRun {
    let status = CheckStatus::overall(results.iter().map(|r| r.status));
    CheckRun {
        id,
        run: NewCheckRun {
            suite: "churn".into(),
            suite_hash: "sha256:00".into(),
            source: CheckSource::Kiroku,
            datasets: vec![CheckedDataset {
                name: dataset.into(),
                version_id: format!("sha256:{id:04}abcdef"),
                path: format!("/data/{dataset}.csv"),
                rows: 100,
            }],
            status,
            results,
            started_at: NOW - 1000,
            ended_at: NOW,
            user: "alice".into(),
            host: "gpu01".into(),
            run_id: None,
        },
    }
}

fn passed(id: CheckRunId, dataset: &str) -> CheckRun {
    check_run(id, dataset, vec![result("rows", CheckStatus::Pass, None)])
}

fn failed(id: CheckRunId, dataset: &str) -> CheckRun {
    check_run(
        id,
        dataset,
        vec![
            result("rows", CheckStatus::Pass, None),
            result("age", CheckStatus::Warn, Some(2)),
            result("plan", CheckStatus::Fail, Some(5)),
        ],
    )
}

/// A state on the Checks screen holding `runs`, `awaiting` of them waiting.
fn opened(runs: Vec<CheckRun>, awaiting: &[CheckRunId]) -> State {
    let mut s = state();
    let effects = open(&mut s);
    assert!(matches!(
        requests(&effects)[..],
        [Request::CheckRuns { .. }]
    ));
    answer(
        &mut s,
        Response::CheckRuns {
            runs,
            awaiting: awaiting.to_vec(),
        },
    );
    s
}

fn order(s: &State) -> Vec<(ListGroup, CheckRunId)> {
    s.checks
        .rows()
        .iter()
        .map(|(g, r)| (g.clone(), r.id))
        .collect()
}

#[test]
fn waiting_runs_come_first_then_history_per_dataset_newest_first() {
    let s = opened(
        vec![
            passed(6, "train"),
            failed(5, "eval"),
            passed(4, "eval"),
            failed(3, "train"),
            passed(2, "train"),
            failed(1, "eval"),
        ],
        &[5, 3],
    );
    let history = |d: &str| ListGroup::History(d.into());
    assert_eq!(
        order(&s),
        vec![
            (ListGroup::Waiting, 5),
            (ListGroup::Waiting, 3),
            (history("eval"), 4),
            (history("eval"), 1),
            (history("train"), 6),
            (history("train"), 2),
        ]
    );
    assert_eq!(
        s.checks.selected,
        Some(5),
        "the first waiting run is selected"
    );
}

#[test]
fn results_are_worst_first_and_counts_split_pass_warn_fail() {
    let mut run = failed(1, "train");
    run.run
        .results
        .push(result("schema", CheckStatus::Error, None));
    let ids: Vec<&str> = ordered_results(&run)
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(ids, ["schema", "plan", "age", "rows"]);
    assert_eq!(counts(&run), (1, 1, 2));
    assert_eq!(datasets_label(&run), "train@0001abcd");
}

#[test]
fn moving_the_selection_asks_for_the_runs_reviews_once() {
    let mut s = opened(vec![failed(2, "train"), failed(1, "train")], &[2, 1]);
    let effects = press(&mut s, KeyCode::Down);
    assert_eq!(s.checks.selected, Some(1));
    assert!(matches!(
        requests(&effects)[..],
        [Request::CheckRun { id: 1 }]
    ));
    answer(
        &mut s,
        Response::CheckRun {
            run: Box::new(failed(1, "train")),
            reviews: vec![],
        },
    );
    assert_eq!(s.checks.reviews(), Some(&[][..]));
    // An answer for a run no longer selected is dropped.
    press(&mut s, KeyCode::Up);
    answer(
        &mut s,
        Response::CheckRun {
            run: Box::new(failed(1, "train")),
            reviews: vec![],
        },
    );
    assert!(s.checks.reviews().is_none());
}

#[test]
fn enter_focuses_the_results_and_esc_goes_back_to_the_list_then_off_the_screen() {
    let mut s = opened(vec![failed(1, "train")], &[1]);
    press(&mut s, KeyCode::Enter);
    assert_eq!(s.checks.focus, ChecksFocus::Results);
    assert_eq!(s.checks.selected_result().unwrap().id, "plan");
    press(&mut s, KeyCode::Down);
    assert_eq!(s.checks.selected_result().unwrap().id, "age");
    press(&mut s, KeyCode::Esc);
    assert_eq!(s.checks.focus, ChecksFocus::List);
    assert_eq!(s.screen, Screen::Checks);
    press(&mut s, KeyCode::Esc);
    assert_eq!(s.screen, Screen::Runs);
}

#[test]
fn a_waiver_needs_a_reason_then_asks_and_writes_the_review() {
    let mut s = opened(vec![failed(1, "train")], &[1]);
    press(&mut s, KeyCode::Enter);
    typed(&mut s, "w");
    assert!(matches!(
        &s.overlay,
        Some(Overlay::Input { kind: InputKind::Review { check_run: 1, result_id, verdict: ReviewVerdict::Waived, .. }, .. }) if result_id == "plan"
    ));
    // No reason: refused, the form stays open.
    assert!(press(&mut s, KeyCode::Enter).is_empty());
    assert!(s.message.as_ref().is_some_and(|m| m.error));
    assert!(matches!(s.overlay, Some(Overlay::Input { .. })));
    typed(&mut s, "known outliers");
    press(&mut s, KeyCode::Enter);
    // Then when it lapses: blank is never.
    assert!(matches!(
        &s.overlay,
        Some(Overlay::Input { kind: InputKind::WaiverExpiry { reason, .. }, .. }) if reason == "known outliers"
    ));
    press(&mut s, KeyCode::Enter);
    assert!(matches!(
        s.overlay,
        Some(Overlay::Confirm(Confirm::Review(_)))
    ));
    let effects = typed(&mut s, "y");
    match requests(&effects)[..] {
        [Request::Write(Write::Review(r))] => {
            assert_eq!(
                (r.check_run, r.result_id.as_str(), r.verdict),
                (1, "plan", ReviewVerdict::Waived)
            );
            assert_eq!(
                (r.comment.as_str(), r.reviewer.as_str(), r.expires_at),
                ("known outliers", "alice", None)
            );
        }
        ref other => panic!("{other:?}"),
    }
    // Once written, the list and the run's reviews are asked for again.
    let effects = answer(&mut s, Response::Written("waived 1/plan (fail)".into()));
    let asked: Vec<RequestKind> = requests(&effects).iter().map(|r| r.kind()).collect();
    assert!(asked.contains(&RequestKind::CheckRuns), "{asked:?}");
    assert!(asked.contains(&RequestKind::CheckRun), "{asked:?}");
}

#[test]
fn approve_takes_no_comment_and_a_passed_result_has_nothing_to_review() {
    let mut s = opened(vec![failed(1, "train")], &[1]);
    press(&mut s, KeyCode::Enter);
    typed(&mut s, "a");
    press(&mut s, KeyCode::Enter);
    assert!(matches!(
        &s.overlay,
        Some(Overlay::Confirm(Confirm::Review(r))) if r.verdict == ReviewVerdict::Approved && r.comment.is_empty()
    ));
    typed(&mut s, "n");
    assert!(s.overlay.is_none());
    typed(&mut s, "G");
    assert_eq!(s.checks.selected_result().unwrap().id, "rows");
    typed(&mut s, "r");
    assert!(s.overlay.is_none());
    assert!(s
        .message
        .as_ref()
        .unwrap()
        .text
        .contains("nothing to review"));
}

use crate::tui::worker::RequestKind;

#[test]
fn a_waiver_can_lapse_at_a_time_read_as_review_until_reads_it() {
    let mut s = opened(vec![failed(1, "train")], &[1]);
    press(&mut s, KeyCode::Enter);
    typed(&mut s, "w");
    typed(&mut s, "known outliers");
    press(&mut s, KeyCode::Enter);
    // What `--until` refuses is refused here too, with its reason; the form stays.
    typed(&mut s, "soon");
    assert!(press(&mut s, KeyCode::Enter).is_empty());
    assert!(s
        .message
        .as_ref()
        .is_some_and(|m| m.error && m.text.contains("30m, 12h, 7d")));
    assert!(matches!(
        s.overlay,
        Some(Overlay::Input {
            kind: InputKind::WaiverExpiry { .. },
            ..
        })
    ));
    for _ in 0.."soon".len() {
        press(&mut s, KeyCode::Backspace);
    }
    typed(&mut s, "7d");
    press(&mut s, KeyCode::Enter);
    let until = s.now + 7 * 86_400_000;
    assert!(matches!(
        &s.overlay,
        Some(Overlay::Confirm(Confirm::Review(r))) if r.expires_at == Some(until)
    ));
    let effects = typed(&mut s, "y");
    match requests(&effects)[..] {
        [Request::Write(Write::Review(r))] => {
            assert_eq!(
                (r.verdict, r.comment.as_str(), r.expires_at),
                (ReviewVerdict::Waived, "known outliers", Some(until))
            );
        }
        ref other => panic!("{other:?}"),
    }
}
