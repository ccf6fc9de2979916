//! A filter of the run query language (`crate::query`) evaluated over one run held in memory,
//! with the semantics `store::sqlite::search_sql` gives it in SQL: a run lacking a key never
//! matches a comparison (`!=` included) and `not` is a plain complement; metrics compare their
//! latest value; params compare as numbers when the literal is a number, else as text; `status`,
//! `run_id` and `parent_id` ignore case; `LIKE` is case-sensitive and `ILIKE` is not; a bare word
//! matches the run name or a tag key or value containing it, ignoring case.
//!
//! A gate's conditions are evaluated over the version's training run with its evaluation's
//! metrics laid over the run's own (`models::policy`); `tests` check the evaluator against the
//! SQL search on generated runs.
use crate::model::{LoggedInput, Run};
use crate::query::{Attribute, CmpOp, DatasetField, Dialect, Expr, Literal, RunField};

/// Whether `expr` holds for `run` (whose dataset inputs are `inputs`).
pub fn holds(expr: &Expr, run: &Run, inputs: &[LoggedInput]) -> bool {
    match expr {
        Expr::And(parts) => parts.iter().all(|p| holds(p, run, inputs)),
        Expr::Or(parts) => parts.iter().any(|p| holds(p, run, inputs)),
        Expr::Not(inner) => !holds(inner, run, inputs),
        Expr::Compare { field, op, value } => compare(field, *op, value, run, inputs),
        Expr::Like {
            field,
            pattern,
            case_insensitive,
            negated,
        } => texts(field, run, inputs)
            .iter()
            .any(|text| like(text, pattern, *case_insensitive) != *negated),
        Expr::In {
            field,
            values,
            negated,
        } => in_list(field, values, *negated, run, inputs),
        Expr::IsNull { field, negated } => {
            let present = match field {
                RunField::Metric(k) => run.metrics.contains_key(k),
                RunField::Param(k) => run.params.contains_key(k),
                RunField::Tag(k) => run.tags.contains_key(k),
                RunField::Attribute(a) => attribute(*a, run).is_some(),
                RunField::Dataset(_) => !inputs.is_empty(),
            };
            present == *negated
        }
        Expr::Contains(word) => {
            let word = word.to_lowercase();
            run.name.to_lowercase().contains(&word)
                || run.tags.iter().any(|(k, v)| {
                    k.to_lowercase().contains(&word) || v.to_lowercase().contains(&word)
                })
        }
    }
}

/// An attribute's value as text or number; None when the run lacks it.
enum AttrValue {
    Text(String),
    Number(f64),
}

fn attribute(a: Attribute, run: &Run) -> Option<AttrValue> {
    let text = |s: &str| Some(AttrValue::Text(s.to_string()));
    match a {
        Attribute::RunId => text(&run.id),
        Attribute::RunName => text(&run.name),
        Attribute::User => text(&run.user),
        Attribute::Status => text(run.status.as_str()),
        Attribute::ArtifactUri => text(&format!(
            "mlflow-artifacts:/{}/{}/artifacts",
            run.experiment_id, run.id
        )),
        Attribute::StartTime => Some(AttrValue::Number(run.start_time as f64)),
        Attribute::EndTime => run.end_time.map(|t| AttrValue::Number(t as f64)),
        Attribute::Experiment => text(&run.experiment),
        Attribute::Host => run.host.as_deref().and_then(text),
        Attribute::ParentId => run.parent_id.as_deref().and_then(text),
    }
}

/// A value compared with attribute `a` (a status by kiroku's name: `SCHEDULED` is `queued`).
fn attr_value(a: Attribute, value: &Literal) -> String {
    match a {
        Attribute::Status => Dialect::Kiroku.status_value(value.as_text()),
        _ => value.as_text().to_string(),
    }
}

fn ignores_case(a: Attribute) -> bool {
    matches!(
        a,
        Attribute::Status | Attribute::RunId | Attribute::ParentId
    )
}

fn dataset_values(d: DatasetField, inputs: &[LoggedInput]) -> Vec<String> {
    inputs
        .iter()
        .map(|i| match d {
            DatasetField::Name => i.dataset.name.clone(),
            DatasetField::Digest => i.dataset.hash.clone(),
            DatasetField::Context => i.context.clone(),
        })
        .collect()
}

/// The text values a LIKE can match: a param's or tag's value, a text attribute, each input's
/// dataset field. Metrics and numeric attributes have none.
fn texts(field: &RunField, run: &Run, inputs: &[LoggedInput]) -> Vec<String> {
    match field {
        RunField::Metric(_) => Vec::new(),
        RunField::Param(k) => run.params.get(k).cloned().into_iter().collect(),
        RunField::Tag(k) => run.tags.get(k).cloned().into_iter().collect(),
        RunField::Attribute(a) => match attribute(*a, run) {
            Some(AttrValue::Text(t)) => vec![t],
            _ => Vec::new(),
        },
        RunField::Dataset(d) => dataset_values(*d, inputs),
    }
}

fn ordered<T: PartialOrd>(left: T, op: CmpOp, right: T) -> bool {
    op.holds(&left, &right)
}

fn finite(value: &Literal) -> Option<f64> {
    value.as_number().filter(|n| n.is_finite())
}

fn compare(
    field: &RunField,
    op: CmpOp,
    value: &Literal,
    run: &Run,
    inputs: &[LoggedInput],
) -> bool {
    match field {
        RunField::Metric(k) => {
            let (Some(metric), Some(v)) = (run.metrics.get(k), value.as_number()) else {
                return false;
            };
            let last = metric.last;
            if v.is_nan() || last.is_nan() {
                // `!=` is the complement of `=` among runs holding the metric.
                return match op {
                    CmpOp::Eq => v.is_nan() && last.is_nan(),
                    CmpOp::Ne => v.is_nan() != last.is_nan(),
                    _ => false,
                };
            }
            ordered(last, op, v)
        }
        RunField::Param(k) => {
            let Some(text) = run.params.get(k) else {
                return false;
            };
            match finite(value) {
                Some(n) => match crate::query::parse_decimal(text).filter(|p| p.is_finite()) {
                    Some(p) => ordered(p, op, n),
                    None => op == CmpOp::Ne,
                },
                None => ordered(text.as_str(), op, value.as_text()),
            }
        }
        RunField::Tag(k) => run
            .tags
            .get(k)
            .is_some_and(|t| ordered(t.as_str(), op, value.as_text())),
        RunField::Attribute(a) => match attribute(*a, run) {
            None => false,
            Some(AttrValue::Number(n)) => finite(value).is_some_and(|v| ordered(n, op, v)),
            Some(AttrValue::Text(t)) if ignores_case(*a) => ordered(
                t.to_lowercase().as_str(),
                op,
                attr_value(*a, value).to_lowercase().as_str(),
            ),
            Some(AttrValue::Text(t)) => ordered(t.as_str(), op, value.as_text()),
        },
        RunField::Dataset(d) => dataset_values(*d, inputs)
            .iter()
            .any(|t| ordered(t.as_str(), op, value.as_text())),
    }
}

fn in_list(
    field: &RunField,
    values: &[Literal],
    negated: bool,
    run: &Run,
    inputs: &[LoggedInput],
) -> bool {
    let listed = |hit: bool| hit != negated;
    match field {
        RunField::Metric(k) => match run.metrics.get(k) {
            None => false,
            // A NaN latest value is in a list holding NaN (and `not in` is the complement).
            Some(m) if m.last.is_nan() => listed(
                values
                    .iter()
                    .any(|v| v.as_number().is_some_and(f64::is_nan)),
            ),
            Some(m) => listed(values.iter().any(|v| finite(v) == Some(m.last))),
        },
        // A number (quoted or not) is compared with the param's number, text with its text.
        RunField::Param(k) => match run.params.get(k) {
            None => false,
            Some(text) => {
                let number = crate::query::parse_decimal(text).filter(|n| n.is_finite());
                listed(values.iter().any(|v| match finite(v) {
                    Some(n) => number == Some(n),
                    None => v.as_text() == text,
                }))
            }
        },
        RunField::Tag(k) => match run.tags.get(k) {
            None => false,
            Some(text) => listed(values.iter().any(|v| v.as_text() == text)),
        },
        RunField::Attribute(a) => match attribute(*a, run) {
            None => false,
            Some(AttrValue::Number(n)) => listed(values.iter().any(|v| finite(v) == Some(n))),
            Some(AttrValue::Text(t)) => listed(values.iter().any(|v| {
                if ignores_case(*a) {
                    attr_value(*a, v).to_lowercase() == t.to_lowercase()
                } else {
                    v.as_text() == t
                }
            })),
        },
        RunField::Dataset(d) => dataset_values(*d, inputs)
            .iter()
            .any(|t| listed(values.iter().any(|v| v.as_text() == t))),
    }
}

/// SQL `LIKE`: `%` any run of characters, `_` one character.
fn like(text: &str, pattern: &str, case_insensitive: bool) -> bool {
    let (text, pattern) = if case_insensitive {
        (text.to_lowercase(), pattern.to_lowercase())
    } else {
        (text.to_string(), pattern.to_string())
    };
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    // matches[j]: whether t[..i] matches p[..j], row by row.
    let mut matches = vec![false; p.len() + 1];
    matches[0] = true;
    for j in 1..=p.len() {
        matches[j] = matches[j - 1] && p[j - 1] == '%';
    }
    for &c in &t {
        let mut next = vec![false; p.len() + 1];
        for j in 1..=p.len() {
            next[j] = match p[j - 1] {
                '%' => next[j - 1] || matches[j],
                '_' => matches[j - 1],
                pc => matches[j - 1] && pc == c,
            };
        }
        matches = next;
    }
    matches[p.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_follows_sql() {
        assert!(like("resnet50", "res%", false));
        assert!(like("resnet50", "%net__", false));
        assert!(!like("resnet50", "Res%", false));
        assert!(like("resnet50", "Res%", true));
        assert!(like("", "%", false));
        assert!(!like("a", "", false));
        assert!(like("a%b", "a%b", false));
    }
}
