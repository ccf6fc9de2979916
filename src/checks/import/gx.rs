//! Great Expectations validation results, 0.x and 1.x, into kiroku's results.
//!
//! Accepted shapes (one file may hold a list of any of them):
//! - a validation result (`ExpectationSuiteValidationResult.to_json_dict()`): `results`, each
//!   with `success`, `expectation_config` (1.x `type`, 0.x `expectation_type`), `result`,
//!   `exception_info`; the suite's name in `suite_name` (1.x) or `meta.expectation_suite_name`
//!   (0.x);
//! - a checkpoint result: `run_results` mapping each validation's key to the validation result,
//!   directly or under `validation_result`;
//! - a checkpoint result's `describe_dict()`: `validation_results`, each with `expectations`
//!   (`expectation_type`, `kwargs`, `success`, `result`).
//!
//! The data: `meta.active_batch_definition.data_asset_name` (0.x `batch_kwargs`) names it,
//! `meta.batch_spec.path` or its `reader_options.filepath_or_buffer` says where it was read.
//!
//! Per expectation: status from `success` (never inferred from counts, since `mostly` may
//! allow some), `error` when `exception_info` says it raised (flat, or keyed by metric when a
//! metric failed), `warn` for a failed `warning`/`info` severity; counts, percent (of the
//! non-null rows: `unexpected_percent_nonmissing` when present), samples from the
//! (partial) unexpected index and value lists, top values from `partial_unexpected_counts`.
use super::{definitions_hash, overall, parse_time, ImportedRun};
use crate::checks::gx::{gx_result, make_ids_unique, observed_of, status_of, SAMPLE_LIMIT};
use crate::error::{KirokuError, Result};
use crate::model::{CheckResult, CheckSource, CheckStatus, Sample, ValueCount};
use serde_json::{json, Map, Value};

/// Every validation result in a GX results file, one imported run each.
pub fn parse_gx_results(value: &Value, source: &str) -> Result<Vec<ImportedRun>> {
    let mut found = Vec::new();
    collect_validation_results(value, &mut found);
    if found.is_empty() {
        return Err(KirokuError::Invalid(format!(
            "{source}: no Great Expectations validation results in it (expected `results`, a checkpoint's `run_results`, or `validation_results`)"
        )));
    }
    found
        .iter()
        .enumerate()
        .map(|(index, validation)| {
            let where_ = if found.len() > 1 {
                format!("{source}: validation result {}", index + 1)
            } else {
                source.to_string()
            };
            one_validation(validation, &where_)
        })
        .collect()
}

fn collect_validation_results<'a>(value: &'a Value, found: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => items
            .iter()
            .for_each(|item| collect_validation_results(item, found)),
        Value::Object(object) => {
            if let Some(Value::Array(_)) = object.get("results") {
                found.push(value);
            } else if let Some(Value::Array(_)) = object.get("expectations") {
                if object.contains_key("success") {
                    found.push(value);
                }
            } else if let Some(Value::Object(runs)) = object.get("run_results") {
                for run in runs.values() {
                    collect_validation_results(run.get("validation_result").unwrap_or(run), found);
                }
            } else if let Some(Value::Array(results)) = object.get("validation_results") {
                results
                    .iter()
                    .for_each(|item| collect_validation_results(item, found));
            }
        }
        _ => {}
    }
}

fn text<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |value, key| value.get(key))?
        .as_str()
}

fn one_validation(validation: &Value, source: &str) -> Result<ImportedRun> {
    let items = validation
        .get("results")
        .or_else(|| validation.get("expectations"))
        .and_then(Value::as_array)
        .ok_or_else(|| KirokuError::Invalid(format!("{source}: no `results` list")))?;
    let mut results = items
        .iter()
        .enumerate()
        .map(|(index, item)| one_expectation(item, &format!("{source}: results[{index}]")))
        .collect::<Result<Vec<_>>>()?;
    let data_name = text(
        validation,
        &["meta", "active_batch_definition", "data_asset_name"],
    )
    .or_else(|| text(validation, &["meta", "batch_kwargs", "data_asset_name"]))
    .map(str::to_string);
    for result in &mut results {
        result.dataset = data_name.clone();
    }
    make_ids_unique(&mut results.iter_mut().collect::<Vec<_>>());
    let definitions: Vec<String> = results
        .iter()
        .map(|result| {
            json!([
                result.check_type,
                result.column,
                result.columns,
                result.expected
            ])
            .to_string()
        })
        .collect();
    let suite = text(validation, &["suite_name"])
        .or_else(|| text(validation, &["meta", "expectation_suite_name"]))
        .or_else(|| text(validation, &["expectation_suite_name"]))
        .unwrap_or_default()
        .to_string();
    let time = text(validation, &["meta", "validation_time"])
        .or_else(|| text(validation, &["meta", "run_id", "run_time"]))
        .and_then(parse_time);
    Ok(ImportedRun {
        suite,
        suite_hash: definitions_hash(definitions.iter().map(String::as_str)),
        source: CheckSource::GxImport,
        status: overall(&results),
        results,
        started_at: time,
        ended_at: time,
        data_name,
        data_path: text(validation, &["meta", "batch_spec", "path"])
            .or_else(|| {
                text(
                    validation,
                    &["meta", "batch_spec", "reader_options", "filepath_or_buffer"],
                )
            })
            .or_else(|| text(validation, &["meta", "batch_kwargs", "path"]))
            .map(str::to_string),
    })
}

/// Whether GX caught an exception for the expectation, and its message (`exception_info` is
/// one record, or, when a metric failed, records keyed by metric).
fn raised(exception_info: Option<&Value>) -> Option<String> {
    let info = exception_info?.as_object()?;
    let records: Vec<&Value> = if info.contains_key("raised_exception") {
        vec![exception_info?]
    } else {
        info.values().collect()
    };
    records
        .into_iter()
        .find(|record| record.get("raised_exception") == Some(&Value::Bool(true)))
        .map(|record| {
            record
                .get("exception_message")
                .and_then(Value::as_str)
                .unwrap_or("GX raised an exception")
                .to_string()
        })
}

fn one_expectation(item: &Value, source: &str) -> Result<CheckResult> {
    let config = item.get("expectation_config").unwrap_or(item);
    let type_name = text(config, &["type"])
        .or_else(|| text(config, &["expectation_type"]))
        .ok_or_else(|| {
            KirokuError::Invalid(format!(
                "{source}: no expectation type (`expectation_config.type`, or 0.x `expectation_type`)"
            ))
        })?;
    let empty = Map::new();
    let kwargs = config
        .get("kwargs")
        .or_else(|| item.get("kwargs"))
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let success = item
        .get("success")
        .and_then(Value::as_bool)
        .ok_or_else(|| KirokuError::Invalid(format!("{source} ({type_name}): no `success`")))?;
    let mut result = gx_result(type_name, kwargs);
    let body = item
        .get("result")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let count = |key: &str| body.get(key).and_then(Value::as_u64);
    result.element_count = count("element_count");
    result.missing_count = count("missing_count");
    result.unexpected_count = count("unexpected_count");
    result.unexpected_percent = body
        .get("unexpected_percent_nonmissing")
        .and_then(Value::as_f64)
        .or_else(|| body.get("unexpected_percent").and_then(Value::as_f64));
    result.observed = observed_of(
        body.get("observed_value"),
        result.unexpected_count,
        result.unexpected_percent,
        success,
    );
    result.top_unexpected = body
        .get("partial_unexpected_counts")
        .and_then(Value::as_array)
        .map(|counts| {
            counts
                .iter()
                .filter_map(|entry| {
                    Some(ValueCount {
                        value: entry.get("value").cloned().unwrap_or(Value::Null),
                        count: entry.get("count")?.as_u64()?,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let indices = body
        .get("unexpected_index_list")
        .or_else(|| body.get("partial_unexpected_index_list"))
        .and_then(Value::as_array);
    let values = body
        .get("unexpected_list")
        .or_else(|| body.get("partial_unexpected_list"))
        .and_then(Value::as_array);
    let mut details = body.get("details").cloned().unwrap_or(Value::Null);
    if let Some(indices) = indices {
        let column_key = result.column.clone().unwrap_or_else(|| "value".to_string());
        if indices.iter().all(Value::is_u64) {
            result.samples = indices
                .iter()
                .take(SAMPLE_LIMIT)
                .enumerate()
                .map(|(position, row)| {
                    let value = values
                        .and_then(|values| values.get(position))
                        .cloned()
                        .unwrap_or(Value::Null);
                    Sample {
                        row: row.as_u64().unwrap_or_default(),
                        values: [(column_key.clone(), value)].into_iter().collect(),
                    }
                })
                .collect();
        } else {
            // Indices named by `unexpected_index_column_names` ({pk: v, column: value}): no row
            // numbers, so they are kept as GX gave them.
            let mut object = details.as_object().cloned().unwrap_or_default();
            object.insert(
                "unexpected_index_list".into(),
                Value::Array(indices.iter().take(SAMPLE_LIMIT).cloned().collect()),
            );
            details = Value::Object(object);
        }
    }
    result.details = details;
    let severity = text(config, &["severity"]);
    result.status = status_of(success, severity);
    if let Some(message) = raised(item.get("exception_info")) {
        result.status = CheckStatus::Error;
        result.message = Some(message);
    } else if !success {
        result.message = Some(match (result.unexpected_count, result.unexpected_percent) {
            (Some(count), Some(percent)) => {
                format!("{count} unexpected values ({percent:.2}% of those checked)")
            }
            (Some(count), None) => format!("{count} unexpected values"),
            _ => format!("observed {}", result.observed),
        });
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metric_exception_keyed_by_metric_is_an_error() {
        let item = json!({
            "success": false,
            "expectation_config": {"type": "expect_column_mean_to_be_between", "kwargs": {"column": "s"}},
            "result": {},
            "exception_info": {"('column.mean', 'x', ())": {"raised_exception": true, "exception_message": "no strings"}}
        });
        let result = one_expectation(&item, "r.json").unwrap();
        assert_eq!(result.status, CheckStatus::Error);
        assert_eq!(result.message.as_deref(), Some("no strings"));
        let missing = one_expectation(
            &json!({"success": true, "expectation_config": {"kwargs": {}}}),
            "r.json",
        );
        assert!(missing
            .unwrap_err()
            .to_string()
            .contains("r.json: no expectation type"));
    }
}
