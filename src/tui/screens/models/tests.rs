//! The Models screen's selection, focus and its promote / approve / rollback flows, with store
//! answers made by hand (the real store is the tmux test's and `tests/models_ops.rs`').
use super::*;
use crate::model::promotions::{Approval, NewApproval};
use crate::model::registry::{AliasMove, ModelVersion, ModelVersionStatus};
use crate::models::policy::{Condition, ConditionKind};
use crate::tui::screens::test_support::{answer, press, requests, state, typed, NOW};
use crossterm::event::KeyCode;

fn version(n: i64, aliases: &[&str]) -> ModelVersion {
    ModelVersion {
        name: "churn".into(),
        version: n,
        source: format!("runs:/r{n}/model"),
        run_id: Some(format!("{n:032x}")),
        model_id: None,
        status: ModelVersionStatus::Ready,
        status_message: None,
        description: String::new(),
        tags: Default::default(),
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        stage: "None".into(),
        run_link: String::new(),
        user: "alice".into(),
        created_at: NOW - 1000,
        updated_at: NOW - 1000,
    }
}

fn gate(version: i64, passed: bool) -> Verdict {
    Verdict {
        alias: "production".into(),
        version: version.to_string(),
        conditions: vec![Condition {
            kind: ConditionKind::Require,
            condition: "metrics.acc >= 0.95".into(),
            passed,
            found: if passed { "acc = 0.96" } else { "acc = 0.93" }.into(),
        }],
    }
}

fn view() -> ModelView {
    let model = RegisteredModel {
        name: "churn".into(),
        description: String::new(),
        tags: Default::default(),
        aliases: [("production".to_string(), 1)].into(),
        latest_versions: vec![],
        user: "alice".into(),
        created_at: NOW - 5000,
        updated_at: NOW - 1000,
    };
    ModelView {
        versions: vec![
            VersionView {
                version: version(2, &[]),
                evaluation: None,
                evaluation_metrics: Default::default(),
                gates: vec![gate(2, false)],
                approvals: vec![Approval {
                    id: 1,
                    approval: NewApproval {
                        model: "churn".into(),
                        version: "2".into(),
                        alias: None,
                        verdict: ApprovalVerdict::Approved,
                        comment: "ok".into(),
                        reviewer: "bob".into(),
                    },
                    created_at: NOW - 10,
                }],
            },
            VersionView {
                version: version(1, &["production"]),
                evaluation: None,
                evaluation_metrics: Default::default(),
                gates: vec![gate(1, true)],
                approvals: vec![],
            },
        ],
        history: vec![
            AliasMove {
                id: 1,
                model: "churn".into(),
                alias: "production".into(),
                from_version: None,
                to_version: Some(2),
                user: "alice".into(),
                time: NOW - 3000,
                reason: String::new(),
                forced: false,
            },
            AliasMove {
                id: 2,
                model: "churn".into(),
                alias: "production".into(),
                from_version: Some(2),
                to_version: Some(1),
                user: "alice".into(),
                time: NOW - 2000,
                reason: "revert".into(),
                forced: false,
            },
        ],
        deliveries: vec![],
        model,
    }
}

/// The Models screen open on `churn`, its versions pane focused.
fn opened() -> State {
    let mut s = state();
    let effects = typed(&mut s, "M");
    assert_eq!(s.screen, Screen::Models);
    assert!(requests(&effects).contains(&&Request::Models));
    let v = view();
    let effects = answer(&mut s, Response::Models(vec![v.model.clone()]));
    assert!(matches!(requests(&effects)[..], [Request::Model { name, .. }] if name == "churn"));
    answer(&mut s, Response::Model(Box::new(v)));
    press(&mut s, KeyCode::Enter);
    assert_eq!(s.models.focus, ModelsFocus::Versions);
    s
}

#[test]
fn promote_shows_the_gate_then_forces_a_refusal_only_on_yes() {
    let mut s = opened();
    assert_eq!(s.models.selected_version().unwrap().version.version, 2);
    typed(&mut s, "p");
    let Some(Overlay::Input { kind, editor }) = &s.overlay else {
        panic!("{:?}", s.overlay)
    };
    assert_eq!(
        kind,
        &InputKind::ModelAlias {
            model: "churn".into(),
            version: 2
        }
    );
    assert_eq!(
        editor.text, "production",
        "the alias the model has, filled in"
    );
    press(&mut s, KeyCode::Enter);
    let Some(Overlay::Confirm(Confirm::Promote(ask))) = &s.overlay else {
        panic!("{:?}", s.overlay)
    };
    assert!(ask.forces());
    let text = ask.text();
    assert!(
        text.contains("✗ metrics.acc >= 0.95  (acc = 0.93)"),
        "{text}"
    );
    assert!(text.contains("FORCES"), "{text}");
    assert!(typed(&mut s, "n").is_empty());
    typed(&mut s, "p");
    press(&mut s, KeyCode::Enter);
    let effects = typed(&mut s, "y");
    assert!(matches!(
        requests(&effects)[..],
        [Request::Write(Write::Promote {
            version: 2,
            force: true,
            ..
        })]
    ));
}

#[test]
fn approve_and_reject_take_a_comment_and_ask_first() {
    let mut s = opened();
    typed(&mut s, "r");
    press(&mut s, KeyCode::Enter);
    assert!(
        matches!(&s.overlay, Some(Overlay::Input { .. })),
        "a rejection needs a reason"
    );
    typed(&mut s, "drift");
    press(&mut s, KeyCode::Enter);
    let effects = typed(&mut s, "y");
    assert!(matches!(
        requests(&effects)[..],
        [Request::Write(Write::Approval(a))] if a.verdict == ApprovalVerdict::Rejected && a.comment == "drift" && a.version == "2"
    ));
}

#[test]
fn rollback_names_the_alias_of_the_selected_version_and_where_it_goes() {
    let mut s = opened();
    typed(&mut s, "B");
    assert!(s.overlay.is_none(), "version 2 holds no alias");
    press(&mut s, KeyCode::Down);
    typed(&mut s, "B");
    assert_eq!(
        s.overlay,
        Some(Overlay::Confirm(Confirm::Rollback {
            model: "churn".into(),
            alias: "production".into(),
            from: 1,
            to: 2
        }))
    );
    let effects = typed(&mut s, "y");
    assert!(matches!(
        requests(&effects)[..],
        [Request::Write(Write::Rollback { alias, .. })] if alias == "production"
    ));
}
