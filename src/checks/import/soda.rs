//! Soda scan results (`soda scan -srf FILE`, or `Scan.get_scan_results()`) into kiroku's results.
//!
//! The file's `checks` list holds one record per check: `name` (Soda's human name, its
//! identity for history, so it is the result's id here), `table`, `column`, `definition` (the
//! SodaCL line, whose leading metric, `missing_count` or `row_count`, is the result's type),
//! `outcome` (`pass`, `warn`, `fail`; none when Soda could not evaluate the check: `error`)
//! and `diagnostics`: `value` (the observed metric), the `fail`/`warn` thresholds
//! (`greaterThan`, `lessThanOrEqual`, …, the expected side), and for row-level checks a
//! `failedRowsAnalysis` block whose `totalFailingRows` is the unexpected row count. Soda keeps
//! no row numbers or sample values in this file (samples go to Soda Cloud), so no samples.
use super::{definitions_hash, overall, parse_time, ImportedRun};
use crate::checks::gx::make_ids_unique;
use crate::error::{KirokuError, Result};
use crate::model::{CheckResult, CheckSource, CheckStatus};
use serde_json::{Map, Value};

/// A Soda scan result file's checks as one imported run.
pub fn parse_soda_scan(value: &Value, source: &str) -> Result<ImportedRun> {
    let checks = value.get("checks").and_then(Value::as_array).ok_or_else(|| {
        KirokuError::Invalid(format!(
            "{source}: not a Soda scan result (no `checks` list; write one with `soda scan -srf FILE`)"
        ))
    })?;
    let mut results = checks
        .iter()
        .enumerate()
        .map(|(index, check)| one_check(check, &format!("{source}: checks[{index}]")))
        .collect::<Result<Vec<_>>>()?;
    make_ids_unique(&mut results.iter_mut().collect::<Vec<_>>());
    let definitions: Vec<&str> = checks
        .iter()
        .filter_map(|check| check.get("definition").and_then(Value::as_str))
        .collect();
    let time = |key: &str| value.get(key).and_then(Value::as_str).and_then(parse_time);
    Ok(ImportedRun {
        suite: value
            .get("definitionName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        suite_hash: definitions_hash(definitions),
        source: CheckSource::SodaImport,
        status: overall(&results),
        data_name: results.iter().find_map(|result| result.dataset.clone()),
        results,
        started_at: time("scanStartTimestamp"),
        ended_at: time("scanEndTimestamp"),
        data_path: None,
    })
}

/// The metric a SodaCL check line starts with (`missing_count(b) = 0` → `missing_count`,
/// `row_count between 1 and 3` → `row_count`, `schema` → `schema`): the first line after the
/// `checks for TABLE:` header (later lines are the check's configuration).
fn metric_of(definition: &str) -> Option<String> {
    let line = definition
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with("checks for"))?;
    let line = line.strip_prefix("- ").unwrap_or(line);
    let metric: String = line
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ' ')
        .collect::<String>()
        .split_whitespace()
        .next()?
        .to_string();
    (!metric.is_empty()).then_some(metric)
}

fn one_check(check: &Value, source: &str) -> Result<CheckResult> {
    let text = |key: &str| check.get(key).and_then(Value::as_str).map(str::to_string);
    let name = text("name").ok_or_else(|| KirokuError::Invalid(format!("{source}: no `name`")))?;
    let empty = Map::new();
    let diagnostics = check
        .get("diagnostics")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let status = match check.get("outcome").and_then(Value::as_str) {
        Some("pass") => CheckStatus::Pass,
        Some("warn") => CheckStatus::Warn,
        Some("fail") => CheckStatus::Fail,
        None => CheckStatus::Error,
        Some(other) => {
            return Err(KirokuError::Invalid(format!(
                "{source} ('{name}'): outcome '{other}' is not pass, warn or fail"
            )))
        }
    };
    let expected: Map<String, Value> = ["fail", "warn"]
        .iter()
        .filter_map(|key| {
            diagnostics
                .get(*key)
                .map(|bound| (key.to_string(), bound.clone()))
        })
        .collect();
    let failing_rows = diagnostics
        .get("blocks")
        .and_then(Value::as_array)
        .and_then(|blocks| {
            blocks.iter().find(|block| {
                block.get("type").and_then(Value::as_str) == Some("failedRowsAnalysis")
            })
        })
        .and_then(|block| block.get("totalFailingRows"))
        .and_then(Value::as_u64);
    let definition = text("definition");
    let message = match status {
        CheckStatus::Error => Some(
            check
                .get("outcomeReasons")
                .and_then(Value::as_array)
                .and_then(|reasons| reasons.first())
                .and_then(|reason| reason.get("message").or(Some(reason)))
                .map(|reason| {
                    reason
                        .as_str()
                        .map_or_else(|| reason.to_string(), str::to_string)
                })
                .unwrap_or_else(|| "Soda could not evaluate the check".to_string()),
        ),
        CheckStatus::Fail | CheckStatus::Warn => Some(format!(
            "observed {}",
            diagnostics.get("value").unwrap_or(&Value::Null)
        )),
        _ => None,
    };
    Ok(CheckResult {
        id: name,
        check_type: definition
            .as_deref()
            .and_then(metric_of)
            .unwrap_or_else(|| "soda".to_string()),
        column: text("column"),
        columns: Vec::new(),
        dataset: text("table"),
        status,
        observed: diagnostics.get("value").cloned().unwrap_or(Value::Null),
        expected: Value::Object(expected),
        element_count: None,
        missing_count: None,
        unexpected_count: failing_rows,
        unexpected_percent: None,
        samples: Vec::new(),
        top_unexpected: Vec::new(),
        message,
        details: match definition {
            Some(definition) => serde_json::json!({ "definition": definition }),
            None => Value::Null,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metric_is_the_check_lines_first_word() {
        assert_eq!(
            metric_of("checks for t:\n  missing_count(b) = 0").as_deref(),
            Some("missing_count")
        );
        assert_eq!(
            metric_of("checks for t:\n  row_count between 1 and 3").as_deref(),
            Some("row_count")
        );
        assert_eq!(
            metric_of("checks for t:\n  - schema").as_deref(),
            Some("schema")
        );
        let named = "checks for t:\n  - max(score) < 10:\n      name: small\n";
        assert_eq!(metric_of(named).as_deref(), Some("max"));
    }
}
