//! From what a check observed to its result: thresholds decide the status (`fail` breached:
//! fail; else `warn` breached: warn; else pass), and the result carries GX-compatible counts.
use super::json_number;
use super::spec::{Check, CheckKind, Threshold};
use crate::model::{CheckResult, CheckStatus, Sample, ValueCount};
use serde_json::{json, Map, Value as Json};

/// What one check saw in the data.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// A row check: unexpected rows among the rows it looked at.
    Rows(RowObservation),
    /// A metric check: one number (`None`: nothing to compute it from).
    Metric {
        value: Option<f64>,
        observed: Json,
        details: Json,
        message: Option<String>,
    },
    /// A shape check: passes or not as a whole.
    Shape {
        pass: bool,
        observed: Json,
        details: Json,
        message: Option<String>,
    },
    /// The check could not be evaluated.
    Error(String),
}

/// A row check's counts (GX's map-expectation fields).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RowObservation {
    /// Rows looked at (GX `element_count`).
    pub element_count: u64,
    /// Rows skipped as null (GX `missing_count`).
    pub missing_count: u64,
    pub unexpected_count: u64,
    /// What percentages are of: the non-null rows (all rows for not_null).
    pub denominator: u64,
    pub samples: Vec<Sample>,
    pub top_unexpected: Vec<ValueCount>,
    /// Check-specific observed value (observed min/max, …); the unexpected count when null.
    pub observed: Json,
    pub details: Json,
}

impl RowObservation {
    pub fn unexpected_percent(&self) -> f64 {
        if self.denominator == 0 {
            0.0
        } else {
            self.unexpected_count as f64 * 100.0 / self.denominator as f64
        }
    }
}

/// Whether a row observation breaks `threshold`.
fn rows_breach(threshold: &Threshold, rows: &RowObservation) -> bool {
    if threshold
        .max_count
        .is_some_and(|max| rows.unexpected_count > max)
    {
        return true;
    }
    if threshold
        .max_percent
        .is_some_and(|max| rows.unexpected_percent() > max)
    {
        return true;
    }
    if let Some(mostly) = threshold.mostly {
        // GX: success when the share of non-null rows that pass is at least `mostly`; no
        // non-null rows pass.
        if rows.denominator > 0 {
            let passing = (rows.denominator - rows.unexpected_count.min(rows.denominator)) as f64
                / rows.denominator as f64;
            if passing < mostly {
                return true;
            }
        }
    }
    false
}

/// Whether a metric breaks `threshold`'s bounds.
fn metric_breach(threshold: &Threshold, value: f64) -> bool {
    if let Some(min) = threshold.min {
        if value < min || (threshold.strict_min && value == min) {
            return true;
        }
    }
    if let Some(max) = threshold.max {
        if value > max || (threshold.strict_max && value == max) {
            return true;
        }
    }
    value.is_nan()
}

/// A threshold as JSON (only the bounds it sets).
pub fn threshold_json(threshold: &Threshold) -> Json {
    let mut map = Map::new();
    if let Some(min) = threshold.min {
        map.insert("min".into(), json_number(min));
    }
    if let Some(max) = threshold.max {
        map.insert("max".into(), json_number(max));
    }
    if threshold.strict_min {
        map.insert("strict_min".into(), Json::Bool(true));
    }
    if threshold.strict_max {
        map.insert("strict_max".into(), Json::Bool(true));
    }
    if let Some(count) = threshold.max_count {
        map.insert("max_count".into(), json!(count));
    }
    if let Some(percent) = threshold.max_percent {
        map.insert("max_percent".into(), json_number(percent));
    }
    if let Some(mostly) = threshold.mostly {
        map.insert("mostly".into(), json_number(mostly));
    }
    Json::Object(map)
}

/// The thresholds a check runs with: a row check with neither fails on any unexpected row.
pub fn effective_thresholds(check: &Check) -> (Option<Threshold>, Option<Threshold>) {
    let row_check = !check.kind.is_metric() && !check.kind.is_shape();
    match (&check.warn, &check.fail) {
        (None, None) if row_check => (None, Some(Threshold::max_count(0))),
        (warn, fail) => (*warn, *fail),
    }
}

/// The result of `check` on `dataset` given what it observed; `expected` is the check's
/// parameters as JSON (thresholds are added here).
pub fn to_result(
    check: &Check,
    dataset: Option<&str>,
    expected: Json,
    observation: Observation,
) -> CheckResult {
    let (warn, fail) = effective_thresholds(check);
    let mut expected = match expected {
        Json::Object(map) => map,
        Json::Null => Map::new(),
        other => {
            let mut map = Map::new();
            map.insert("value".into(), other);
            map
        }
    };
    if let Some(fail) = &fail {
        expected.insert("fail".into(), threshold_json(fail));
    }
    if let Some(warn) = &warn {
        expected.insert("warn".into(), threshold_json(warn));
    }
    let (columns, column) = result_columns(&check.kind);
    let mut result = CheckResult {
        id: check.id.clone(),
        check_type: check.check_type.clone(),
        column,
        columns,
        dataset: dataset.map(str::to_string),
        status: CheckStatus::Pass,
        observed: Json::Null,
        expected: Json::Object(expected),
        element_count: None,
        missing_count: None,
        unexpected_count: None,
        unexpected_percent: None,
        samples: Vec::new(),
        top_unexpected: Vec::new(),
        message: None,
        details: Json::Null,
    };
    let breach = |threshold: &Option<Threshold>, test: &dyn Fn(&Threshold) -> bool| {
        threshold.as_ref().is_some_and(test)
    };
    match observation {
        Observation::Rows(rows) => {
            result.status = if breach(&fail, &|t| rows_breach(t, &rows)) {
                CheckStatus::Fail
            } else if breach(&warn, &|t| rows_breach(t, &rows)) {
                CheckStatus::Warn
            } else {
                CheckStatus::Pass
            };
            result.element_count = Some(rows.element_count);
            result.missing_count = Some(rows.missing_count);
            result.unexpected_count = Some(rows.unexpected_count);
            result.unexpected_percent = Some(rows.unexpected_percent());
            result.observed = if rows.observed.is_null() {
                json!(rows.unexpected_count)
            } else {
                rows.observed
            };
            result.samples = rows.samples;
            result.top_unexpected = rows.top_unexpected;
            result.details = rows.details;
        }
        Observation::Metric {
            value,
            observed,
            details,
            message,
        } => {
            result.observed = if observed.is_null() {
                value.map(json_number).unwrap_or(Json::Null)
            } else {
                observed
            };
            result.details = details;
            result.message = message;
            result.status = match value {
                None => {
                    if result.message.is_none() {
                        result.message = Some("no non-null values to compute it from".into());
                    }
                    CheckStatus::Fail
                }
                Some(value) => {
                    if breach(&fail, &|t| metric_breach(t, value)) {
                        CheckStatus::Fail
                    } else if breach(&warn, &|t| metric_breach(t, value)) {
                        CheckStatus::Warn
                    } else {
                        CheckStatus::Pass
                    }
                }
            };
        }
        Observation::Shape {
            pass,
            observed,
            details,
            message,
        } => {
            result.status = if pass {
                CheckStatus::Pass
            } else if check.fail.is_none() && check.warn.is_some() {
                CheckStatus::Warn
            } else {
                CheckStatus::Fail
            };
            result.observed = observed;
            result.details = details;
            result.message = message;
        }
        Observation::Error(message) => {
            result.status = CheckStatus::Error;
            result.message = Some(message);
        }
    }
    if let CheckKind::Unsupported { .. } = check.kind {
        result.status = CheckStatus::Unsupported;
    }
    result
}

/// A result's `columns` and `column` for a check: one column goes in `column`.
fn result_columns(kind: &CheckKind) -> (Vec<String>, Option<String>) {
    let named: Vec<String> = match kind {
        CheckKind::Schema(spec) => spec.required.clone(),
        CheckKind::ColumnSet { columns, .. } | CheckKind::ColumnList { columns } => columns.clone(),
        CheckKind::ColumnExists { column, .. } => vec![column.clone()],
        other => other.columns().into_iter().map(str::to_string).collect(),
    };
    match kind {
        CheckKind::Schema(_) | CheckKind::ColumnSet { .. } | CheckKind::ColumnList { .. } => {
            (named, None)
        }
        _ if named.len() == 1 => (Vec::new(), named.into_iter().next()),
        _ => (named, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::spec::Statistic;

    fn rows(unexpected: u64, denominator: u64) -> Observation {
        Observation::Rows(RowObservation {
            element_count: denominator + 2,
            missing_count: 2,
            unexpected_count: unexpected,
            denominator,
            ..RowObservation::default()
        })
    }

    fn not_null() -> Check {
        Check::new("c", "not_null", CheckKind::NotNull { column: "x".into() })
    }

    #[test]
    fn a_row_check_without_thresholds_fails_on_any_unexpected_row() {
        let check = not_null();
        assert_eq!(
            to_result(&check, None, Json::Null, rows(0, 10)).status,
            CheckStatus::Pass
        );
        let result = to_result(&check, None, Json::Null, rows(1, 10));
        assert_eq!(result.status, CheckStatus::Fail);
        assert_eq!(result.unexpected_percent, Some(10.0));
        assert_eq!(result.expected, json!({"fail": {"max_count": 0}}));
    }

    #[test]
    fn mostly_passes_at_the_share_and_with_no_non_null_rows() {
        let mut check = not_null();
        check.fail = Some(Threshold::mostly(0.9));
        assert_eq!(
            to_result(&check, None, Json::Null, rows(1, 10)).status,
            CheckStatus::Pass
        );
        assert_eq!(
            to_result(&check, None, Json::Null, rows(2, 10)).status,
            CheckStatus::Fail
        );
        assert_eq!(
            to_result(&check, None, Json::Null, rows(0, 0)).status,
            CheckStatus::Pass
        );
    }

    #[test]
    fn warn_below_fail_gives_warn_and_fail_wins_when_both_break() {
        let mut check = not_null();
        check.warn = Some(Threshold::max_count(0));
        check.fail = Some(Threshold {
            max_percent: Some(20.0),
            ..Threshold::default()
        });
        assert_eq!(
            to_result(&check, None, Json::Null, rows(1, 10)).status,
            CheckStatus::Warn
        );
        assert_eq!(
            to_result(&check, None, Json::Null, rows(3, 10)).status,
            CheckStatus::Fail
        );
    }

    #[test]
    fn metric_bounds_are_inclusive_unless_strict() {
        let mut check = Check::new(
            "m",
            "stat",
            CheckKind::Stat {
                column: "x".into(),
                stat: Statistic::Mean,
            },
        );
        check.fail = Some(Threshold::between(Some(1.0), Some(2.0)));
        let metric = |v: f64| Observation::Metric {
            value: Some(v),
            observed: Json::Null,
            details: Json::Null,
            message: None,
        };
        assert_eq!(
            to_result(&check, None, Json::Null, metric(1.0)).status,
            CheckStatus::Pass
        );
        assert_eq!(
            to_result(&check, None, Json::Null, metric(2.5)).status,
            CheckStatus::Fail
        );
        check.fail.as_mut().unwrap().strict_min = true;
        assert_eq!(
            to_result(&check, None, Json::Null, metric(1.0)).status,
            CheckStatus::Fail
        );
        let empty = Observation::Metric {
            value: None,
            observed: Json::Null,
            details: Json::Null,
            message: None,
        };
        assert_eq!(
            to_result(&check, None, Json::Null, empty).status,
            CheckStatus::Fail
        );
    }
}
