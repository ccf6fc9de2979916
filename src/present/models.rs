//! Models as both front ends show them: a gate's verdict (one line per condition, ✓ or ✗ with
//! what was found), an alias move (`production: 1 → 2 by alice, forced: …`), a hook delivery
//! with its attempts, and a version's evaluation metrics.
use super::{format_timestamp, format_value};
use crate::model::promotions::{DeliveryState, HookAction, HookDelivery};
use crate::model::registry::AliasMove;
use crate::models::policy::Verdict;
use std::collections::BTreeMap;

/// A model's aliases on one line: `production→3 staging→4`.
pub fn aliases_text(aliases: &BTreeMap<String, i64>) -> String {
    aliases
        .iter()
        .map(|(alias, version)| format!("{alias}→{version}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `✓ metrics.val/acc >= 0.95  (val/acc = 0.96)`, one line per condition, indented by `indent`.
pub fn verdict_lines(verdict: &Verdict, indent: &str) -> String {
    if verdict.conditions.is_empty() {
        return format!("{indent}(no gate: anything may take {})\n", verdict.alias);
    }
    let mut out = String::new();
    for c in &verdict.conditions {
        let mark = if c.passed { "✓" } else { "✗" };
        out.push_str(&format!("{indent}{mark} {}  ({})\n", c.condition, c.found));
    }
    out
}

fn version_text(v: Option<i64>) -> String {
    v.map_or("—".to_string(), |v| v.to_string())
}

/// `#3 2026-11-24 10:00  production  1 → 2  alice  [forced] reason`.
pub fn move_line(step: &AliasMove) -> String {
    let mut flags = String::new();
    if step.forced {
        flags.push_str("[forced] ");
    }
    format!(
        "#{} {}  {}  {} → {}  {}  {}{}",
        step.id,
        format_timestamp(step.time),
        step.alias,
        version_text(step.from_version),
        version_text(step.to_version),
        step.user,
        flags,
        step.reason
    )
}

/// Where a delivery goes: `POST url` or `job on target: command`.
pub fn delivery_target(delivery: &HookDelivery) -> String {
    match &delivery.delivery.action {
        HookAction::Webhook { url, .. } => format!("POST {url}"),
        HookAction::Command { command, target } => {
            let on = if target.is_empty() {
                "default target"
            } else {
                target
            };
            format!("job on {on}: {command}")
        }
    }
}

/// `delivered after 2 attempts (HTTP 200)`, `pending: 1 attempt, next at …`, `failed: …`.
pub fn delivery_status(delivery: &HookDelivery) -> String {
    let n = delivery.attempts.len();
    let attempts = format!("{n} attempt{}", if n == 1 { "" } else { "s" });
    let last = delivery.attempts.last().map(|a| {
        let mut parts = Vec::new();
        if let Some(code) = a.status_code {
            parts.push(format!("HTTP {code}"));
        }
        if let Some(job) = a.job_id {
            parts.push(format!("job {job}"));
        }
        if let Some(e) = &a.error {
            parts.push(e.clone());
        }
        parts.join(", ")
    });
    let last = last.map(|l| format!(" ({l})")).unwrap_or_default();
    match delivery.state {
        DeliveryState::Delivered => format!("delivered after {attempts}{last}"),
        DeliveryState::Failed => format!("failed after {attempts}{last}"),
        DeliveryState::Pending if n == 0 => "pending, not tried yet".to_string(),
        DeliveryState::Pending => format!(
            "pending after {attempts}{last}, next at {}",
            format_timestamp(delivery.next_attempt_at)
        ),
    }
}

/// `acc=0.96 loss=0.12`.
pub fn metrics_text(metrics: &BTreeMap<String, f64>) -> String {
    metrics
        .iter()
        .map(|(k, v)| format!("{k}={}", format_value(*v)))
        .collect::<Vec<_>>()
        .join(" ")
}
