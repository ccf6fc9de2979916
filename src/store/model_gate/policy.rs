//! An alias's gate (`config::models::AliasPolicy`) judged over plain inputs: the candidate
//! version's facts (its training run with its evaluation's metrics laid over the run's own), the
//! alias's current holder's metrics, where the training data's checks stand, and the approvals.
//! No store here: `models::gate` gathers the inputs. Every condition is judged (none stops the
//! others), so a refusal lists all that fail.
use super::facts;
use crate::config::models::{AliasPolicy, DataChecksRule};
use crate::model::promotions::{Approval, ApprovalVerdict};
use crate::model::{LoggedInput, MetricSummary, Run};
use serde::Serialize;
use std::collections::BTreeMap;

/// What a candidate version brings to the gate.
#[derive(Debug, Clone, Default)]
pub struct Candidate {
    pub version: String,
    /// Its training run, with the evaluation's metrics laid over the run's own (None: the
    /// version names no run kiroku has).
    pub run: Option<Run>,
    pub inputs: Vec<LoggedInput>,
    /// Whether an evaluation is still pending (conditions on its metrics may yet change).
    pub evaluation_pending: bool,
}

/// The version the alias holds now, with its metrics (training run's, evaluation's over them).
#[derive(Debug, Clone, Default)]
pub struct Holder {
    pub version: String,
    pub metrics: BTreeMap<String, f64>,
}

/// Where one input dataset of the training run stands with its checks.
#[derive(Debug, Clone, PartialEq)]
pub struct DataStanding {
    /// `train@3`: the dataset and version number.
    pub dataset: String,
    /// A check run covers the version.
    pub checked: bool,
    /// Every result of the newest check run passed (nothing needed a review).
    pub all_passed: bool,
    /// Nothing blocks (failures approved or waived and still standing).
    pub cleared: bool,
    /// Why it does not pass, when it does not (the data gate's own words).
    pub why: Option<String>,
}

/// Everything a gate is judged on.
#[derive(Debug, Clone, Default)]
pub struct GateInputs {
    pub candidate: Candidate,
    pub holder: Option<Holder>,
    /// The training run's input datasets (empty: it read none kiroku knows of).
    pub data: Vec<DataStanding>,
    /// Verdicts on the candidate version, oldest first (any alias; filtered here).
    pub approvals: Vec<Approval>,
}

/// The kind of a gate condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConditionKind {
    Require,
    BetterThanCurrent,
    DataChecks,
    Approvals,
}

/// One condition and how it stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Condition {
    pub kind: ConditionKind,
    /// The condition as configured (`metrics.val/acc >= 0.95`, `approvals >= 2`, ...).
    pub condition: String,
    pub passed: bool,
    /// What was found (`val/acc = 0.93`, `1 of 2 approvals (alice)`).
    pub found: String,
}

/// A gate's verdict on moving `alias` to `version`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub alias: String,
    pub version: String,
    pub conditions: Vec<Condition>,
}

impl Verdict {
    pub fn passes(&self) -> bool {
        self.conditions.iter().all(|c| c.passed)
    }

    pub fn failing(&self) -> impl Iterator<Item = &Condition> {
        self.conditions.iter().filter(|c| !c.passed)
    }

    /// `passed`, `open` (no conditions), or `blocked (N)`.
    pub fn label(&self) -> String {
        match self.failing().count() {
            _ if self.conditions.is_empty() => "open".into(),
            0 => "passed".into(),
            n => format!("blocked ({n})"),
        }
    }

    /// The refusal listing every failing condition; None when the gate passes.
    pub fn refusal(&self, model: &str) -> Option<String> {
        if self.passes() {
            return None;
        }
        let mut text = format!(
            "refusing to move {model}@{} to version {}: {} condition{} of the gate fail{}:\n",
            self.alias,
            self.version,
            self.failing().count(),
            if self.failing().count() == 1 { "" } else { "s" },
            if self.failing().count() == 1 { "s" } else { "" },
        );
        for c in self.failing() {
            text.push_str(&format!("  ✗ {}  ({})\n", c.condition, c.found));
        }
        text.push_str("(`kiroku model alias --force` moves it anyway, recorded as forced)");
        Some(text)
    }
}

/// The candidate's metric values (latest), as a map.
pub fn metric_values(metrics: &BTreeMap<String, MetricSummary>) -> BTreeMap<String, f64> {
    metrics.iter().map(|(k, m)| (k.clone(), m.last)).collect()
}

/// A metric value for messages: at most four decimals, trailing zeros dropped (`0.93`,
/// `0.8787`); very large or small values in exponent form.
fn format_value(v: f64) -> String {
    if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e9) || !v.is_finite() {
        return format!("{v:e}");
    }
    let text = format!("{v:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.into()
    }
}

/// Judges `policy` for `alias` over `inputs`.
pub fn judge(alias: &str, policy: &AliasPolicy, inputs: &GateInputs) -> Verdict {
    let mut conditions = Vec::new();
    let candidate = &inputs.candidate;
    let pending = if candidate.evaluation_pending {
        " (evaluation pending)"
    } else {
        ""
    };
    for text in &policy.require {
        let (passed, found) = match (crate::query::parse_filter(text), &candidate.run) {
            (Err(e), _) => (false, format!("not a valid condition: {e}")),
            (Ok(None), _) => (true, "empty condition".into()),
            (Ok(Some(_)), None) => (false, "the version has no run kiroku knows".into()),
            (Ok(Some(expr)), Some(run)) => {
                let passed = facts::holds(&expr, run, &candidate.inputs);
                (passed, describe_fields(&expr, run) + pending)
            }
        };
        conditions.push(Condition {
            kind: ConditionKind::Require,
            condition: text.clone(),
            passed,
            found,
        });
    }
    if let Some(better) = policy.better_metric() {
        let direction = if better.higher_is_better { ">" } else { "<" };
        let condition = format!(
            "{} {direction} current holder's (better_than_current)",
            better.metric
        );
        let mine = candidate
            .run
            .as_ref()
            .and_then(|r| r.metrics.get(&better.metric))
            .map(|m| m.last);
        let (passed, found) = match (&inputs.holder, mine) {
            (None, _) => (true, format!("{alias} holds no version yet")),
            (Some(h), _) if h.version == candidate.version => {
                (true, format!("version {} holds it already", h.version))
            }
            (Some(_), None) => (
                false,
                format!(
                    "version {} has no {} metric{pending}",
                    candidate.version, better.metric
                ),
            ),
            (Some(h), Some(mine)) => match h.metrics.get(&better.metric) {
                None => (
                    true,
                    format!(
                        "{} = {} (version {} has none)",
                        better.metric,
                        format_value(mine),
                        h.version
                    ),
                ),
                Some(&theirs) => {
                    let passed = if better.higher_is_better {
                        mine > theirs
                    } else {
                        mine < theirs
                    };
                    (
                        passed,
                        format!(
                            "{} = {} vs {} for version {}{pending}",
                            better.metric,
                            format_value(mine),
                            format_value(theirs),
                            h.version
                        ),
                    )
                }
            },
        };
        conditions.push(Condition {
            kind: ConditionKind::BetterThanCurrent,
            condition,
            passed,
            found,
        });
    }
    if let Some(rule) = policy.data_checks {
        conditions.push(judge_data(rule, &inputs.data));
    }
    if let Some(needed) = policy.approvals.filter(|&n| n > 0) {
        conditions.push(judge_approvals(alias, needed, &inputs.approvals));
    }
    Verdict {
        alias: alias.into(),
        version: candidate.version.clone(),
        conditions,
    }
}

/// What the run holds for each field a condition names: `val/acc = 0.93, optimizer missing`.
fn describe_fields(expr: &crate::query::Expr, run: &Run) -> String {
    use crate::query::RunField;
    let mut seen = Vec::new();
    for field in expr.fields() {
        let text = match field {
            RunField::Metric(k) => match run.metrics.get(k) {
                Some(m) => format!("{k} = {}", format_value(m.last)),
                None => format!("{k} missing"),
            },
            RunField::Param(k) => match run.params.get(k) {
                Some(v) => format!("{k} = {v}"),
                None => format!("{k} missing"),
            },
            RunField::Tag(k) => match run.tags.get(k) {
                Some(v) => format!("tag {k} = {v}"),
                None => format!("tag {k} missing"),
            },
            RunField::Attribute(a) => format!("{} of run {}", a.name(), run.id),
            RunField::Dataset(d) => format!("dataset {}", d.name()),
        };
        if !seen.contains(&text) {
            seen.push(text);
        }
    }
    if seen.is_empty() {
        format!("run {}", run.id)
    } else {
        seen.join(", ")
    }
}

fn judge_data(rule: DataChecksRule, data: &[DataStanding]) -> Condition {
    let word = match rule {
        DataChecksRule::Passed => "passed",
        DataChecksRule::Reviewed => "reviewed",
    };
    let condition = format!("training data checks {word}");
    if data.is_empty() {
        return Condition {
            kind: ConditionKind::DataChecks,
            condition,
            passed: false,
            found: "the training run read no registered dataset (kiroku run --input NAME=PATH)"
                .into(),
        };
    }
    let failing: Vec<String> = data
        .iter()
        .filter(|d| {
            !d.checked
                || match rule {
                    DataChecksRule::Passed => !d.all_passed,
                    DataChecksRule::Reviewed => !d.cleared,
                }
        })
        .map(|d| match (&d.why, d.checked) {
            (_, false) => format!("{} has no check run", d.dataset),
            (Some(why), _) if !d.cleared => format!("{}: {}", d.dataset, why),
            _ => format!("{} has results that needed review", d.dataset),
        })
        .collect();
    let found = if failing.is_empty() {
        data.iter()
            .map(|d| d.dataset.clone())
            .collect::<Vec<_>>()
            .join(", ")
            + " "
            + word
    } else {
        failing.join("; ")
    };
    Condition {
        kind: ConditionKind::DataChecks,
        condition,
        passed: failing.is_empty(),
        found,
    }
}

/// The newest verdict of each reviewer on the version for `alias` (or for any alias).
pub fn standing_approvals<'a>(alias: &str, approvals: &'a [Approval]) -> Vec<&'a Approval> {
    let mut newest: BTreeMap<&str, &Approval> = BTreeMap::new();
    for a in approvals
        .iter()
        .filter(|a| a.approval.alias.as_deref().is_none_or(|x| x == alias))
    {
        let slot = newest.entry(a.approval.reviewer.as_str()).or_insert(a);
        if (a.created_at, a.id) >= (slot.created_at, slot.id) {
            *slot = a;
        }
    }
    newest.into_values().collect()
}

fn judge_approvals(alias: &str, needed: u32, approvals: &[Approval]) -> Condition {
    let standing = standing_approvals(alias, approvals);
    let approvers: Vec<&str> = standing
        .iter()
        .filter(|a| a.approval.verdict == ApprovalVerdict::Approved)
        .map(|a| a.approval.reviewer.as_str())
        .collect();
    let rejecters: Vec<String> = standing
        .iter()
        .filter(|a| a.approval.verdict == ApprovalVerdict::Rejected)
        .map(|a| format!("{}: {}", a.approval.reviewer, a.approval.comment))
        .collect();
    let mut found = format!(
        "{} of {needed} approval{}",
        approvers.len(),
        if needed == 1 { "" } else { "s" }
    );
    if !approvers.is_empty() {
        found.push_str(&format!(" ({})", approvers.join(", ")));
    }
    if !rejecters.is_empty() {
        found.push_str(&format!("; rejected by {}", rejecters.join("; ")));
    }
    Condition {
        kind: ConditionKind::Approvals,
        condition: format!("approvals >= {needed}"),
        passed: approvers.len() as u32 >= needed && rejecters.is_empty(),
        found,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::promotions::NewApproval;
    use crate::model::RunStatus;

    fn run_with(metrics: &[(&str, f64)], params: &[(&str, &str)]) -> Run {
        Run {
            id: "r1".into(),
            name: "train".into(),
            experiment: "e".into(),
            experiment_id: 1,
            status: RunStatus::Finished,
            exit_code: Some(0),
            user: "alice".into(),
            host: None,
            start_time: 0,
            end_time: Some(1),
            parent_id: None,
            deleted: false,
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            metrics: metrics
                .iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        MetricSummary {
                            last: *v,
                            min: Some(*v),
                            max: Some(*v),
                            count: 1,
                            step: 0,
                            timestamp: 0,
                        },
                    )
                })
                .collect(),
            tags: Default::default(),
            stars: vec![],
        }
    }

    fn approval(
        id: i64,
        reviewer: &str,
        verdict: ApprovalVerdict,
        alias: Option<&str>,
    ) -> Approval {
        Approval {
            id,
            approval: NewApproval {
                model: "m".into(),
                version: "2".into(),
                alias: alias.map(str::to_string),
                verdict,
                comment: "ok".into(),
                reviewer: reviewer.into(),
            },
            created_at: id,
        }
    }

    fn policy(text: &str) -> AliasPolicy {
        toml::from_str(text).unwrap()
    }

    fn inputs(run: Run) -> GateInputs {
        GateInputs {
            candidate: Candidate {
                version: "2".into(),
                run: Some(run),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn thresholds_list_what_was_found() {
        let p = policy("require = ['metrics.acc >= 0.95', \"params.opt = 'adam'\"]");
        let v = judge(
            "production",
            &p,
            &inputs(run_with(&[("acc", 0.93)], &[("opt", "adam")])),
        );
        assert!(!v.passes());
        let failing: Vec<_> = v.failing().collect();
        assert_eq!(failing.len(), 1);
        assert_eq!(failing[0].found, "acc = 0.93");
        let refusal = v.refusal("m").unwrap();
        assert!(refusal.contains("metrics.acc >= 0.95"), "{refusal}");
        let v = judge(
            "production",
            &p,
            &inputs(run_with(&[("acc", 0.96)], &[("opt", "adam")])),
        );
        assert!(v.passes(), "{v:?}");
    }

    #[test]
    fn better_than_current_reads_the_direction() {
        let mut gate = inputs(run_with(&[("loss", 0.3)], &[]));
        gate.holder = Some(Holder {
            version: "1".into(),
            metrics: [("loss".to_string(), 0.2)].into(),
        });
        assert!(!judge("p", &policy("better_than_current = '-loss'"), &gate).passes());
        assert!(judge("p", &policy("better_than_current = 'loss'"), &gate).passes());
        gate.holder = None;
        assert!(judge("p", &policy("better_than_current = '-loss'"), &gate).passes());
    }

    #[test]
    fn approvals_count_distinct_reviewers_newest_verdict_and_alias() {
        let p = policy("approvals = 2");
        let mut gate = inputs(run_with(&[], &[]));
        gate.approvals = vec![
            approval(1, "bob", ApprovalVerdict::Approved, Some("production")),
            approval(2, "bob", ApprovalVerdict::Approved, None),
            approval(3, "carol", ApprovalVerdict::Approved, Some("staging")),
        ];
        assert!(!judge("production", &p, &gate).passes());
        gate.approvals
            .push(approval(4, "carol", ApprovalVerdict::Approved, None));
        assert!(judge("production", &p, &gate).passes());
        gate.approvals.push(approval(
            5,
            "dave",
            ApprovalVerdict::Rejected,
            Some("production"),
        ));
        let v = judge("production", &p, &gate);
        assert!(!v.passes());
        assert!(v.conditions[0].found.contains("rejected by dave"), "{v:?}");
        // A later approval by the rejecter replaces the rejection.
        gate.approvals
            .push(approval(6, "dave", ApprovalVerdict::Approved, None));
        assert!(judge("production", &p, &gate).passes());
    }

    #[test]
    fn data_checks_passed_is_stricter_than_reviewed() {
        let mut gate = inputs(run_with(&[], &[]));
        let reviewed = DataStanding {
            dataset: "train@1".into(),
            checked: true,
            all_passed: false,
            cleared: true,
            why: None,
        };
        gate.data = vec![reviewed];
        assert!(judge("p", &policy("data_checks = 'reviewed'"), &gate).passes());
        assert!(!judge("p", &policy("data_checks = 'passed'"), &gate).passes());
        gate.data.clear();
        assert!(!judge("p", &policy("data_checks = 'reviewed'"), &gate).passes());
    }
}
