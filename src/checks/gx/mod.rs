//! Great Expectations 1.x expectation suites (JSON), run natively with GX's own semantics: no
//! Python, same answers as GX on its pandas engine.
//!
//! - `suite`: the suite's JSON (1.x `type`, 0.x `expectation_type`) parsed into typed
//!   expectations; unknown types are kept and reported `unsupported`, never skipped.
//! - `frame`: the data read as pandas' `read_csv` reads a CSV (its null strings, its
//!   per-column types), since that decides what GX sees, or as `read_parquet` reads Parquet.
//! - `python`: Python's `str()` of values and `re.search` on Rust's `regex` (what differs).
//! - `evaluate`: each expectation's GX result (success, counts, observed value, rows).
//!
//! Why not the engine's streaming checks (`checks::spec::Suite`): GX's answers depend on
//! pandas' typing of a whole column before any value is looked at (`"5"` is the number 5 in a
//! column of numbers but the string `"5"`, unequal to 5, in a column that also holds `"a"`),
//! on pandas' null strings, and on Python's `str()` and `re`. Those are a property of how the
//! data is read, so the GX dialect reads it its own way and evaluates here, into the engine's
//! `SuiteOutcome` and `CheckResult`s. It holds the checked columns in memory, as pandas does
//! (typed: 8 bytes a number, a string column's text in one buffer), not the others.
pub mod evaluate;
pub mod frame;
pub mod python;
pub mod suite;

use crate::checks::{DataInput, SuiteOutcome};
use crate::error::{KirokuError, Result};
use crate::model::{CheckResult, CheckStatus, CheckedDataset, Sample, ValueCount};
use evaluate::Evaluation;
use frame::{Column, Frame};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
pub use suite::{looks_like_gx_suite, parse_suite, GxExpectation, GxSuite, Parsed};

/// Failing rows kept per result unless `--samples` says (`RunOptions::sample_limit`), as GX's
/// `partial_unexpected_count`.
pub const SAMPLE_LIMIT: usize = 20;

/// A GX suite read from its file, with the file's hash (reviews bind to it).
#[derive(Debug, Clone)]
pub struct LoadedGxSuite {
    pub suite: GxSuite,
    /// `sha256:` and the hex digest of the file's bytes.
    pub hash: String,
}

/// The GX expectation suite at `path`, or `None` when the file is not one (so `kiroku check`
/// picks the dialect by content). A suite without a name is named after its file.
pub fn load_if_gx(path: &Path) -> Result<Option<LoadedGxSuite>> {
    let bytes = std::fs::read(path).map_err(|error| {
        KirokuError::Invalid(format!("cannot read suite {}: {error}", path.display()))
    })?;
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Ok(None);
    };
    if !looks_like_gx_suite(text) {
        return Ok(None);
    }
    let mut suite = parse_suite(text, &path.display().to_string())?;
    if suite.name.is_empty() {
        suite.name = path.file_stem().map_or_else(
            || "suite".to_string(),
            |stem| stem.to_string_lossy().into_owned(),
        );
    }
    Ok(Some(LoadedGxSuite {
        suite,
        hash: crate::checks::toml_suite::suite_hash(&bytes),
    }))
}

/// One expectation's outcome: the result kiroku reports, and GX's full evaluation when it ran.
#[derive(Debug, Clone)]
pub struct GxOutcome {
    pub result: CheckResult,
    pub evaluation: Option<Evaluation>,
}

/// Runs `suite` (whose file hashed to `suite_hash`) over every input: each input is one GX
/// batch, so a suite over two inputs gives two results per expectation, their ids prefixed with
/// the input's name.
///
/// `options` as for kiroku's own suites (`checks::run_suite_with`): `sample_limit` failing rows
/// kept per result (else [`SAMPLE_LIMIT`]) and `progress` counting the bytes and rows read.
pub fn run_gx_suite(
    suite: &GxSuite,
    suite_hash: &str,
    inputs: &[DataInput],
    options: &crate::checks::RunOptions<'_>,
) -> Result<SuiteOutcome> {
    let sample_limit = options.sample_limit.unwrap_or(SAMPLE_LIMIT);
    if inputs.is_empty() {
        return Err(KirokuError::Invalid(
            "a GX suite needs data to check: --data NAME=PATH".to_string(),
        ));
    }
    let mut datasets = Vec::new();
    let mut results = Vec::new();
    for input in inputs {
        let frame = read_input(input, suite, options.progress.as_ref())?;
        // The version's content hash, as `kiroku data add` computes it.
        let files = crate::checks::dataset::Dataset::open(&input.path)?.files;
        let digests = files
            .iter()
            .map(|file| crate::checks::dataset::sha256_file(&file.path))
            .collect::<Result<Vec<_>>>()?;
        datasets.push(CheckedDataset {
            name: input.name.clone(),
            version_id: crate::checks::dataset::version_hash(
                files
                    .iter()
                    .zip(&digests)
                    .map(|(file, digest)| (file.relative.as_str(), digest.as_str())),
            ),
            path: input.path.display().to_string(),
            rows: frame.rows as u64,
        });
        // With several inputs each result names its dataset, and its id starts with it
        // (`train.expect_column_values_to_be_unique:id`), so ids stay unique in the run.
        let dataset = (inputs.len() > 1).then_some(input.name.as_str());
        results.extend(
            run_expectations(suite, &frame, dataset, sample_limit)
                .into_iter()
                .map(|outcome| {
                    let mut result = outcome.result;
                    if let Some(dataset) = dataset {
                        result.id = format!("{dataset}.{}", result.id);
                    }
                    result
                }),
        );
    }
    Ok(SuiteOutcome {
        suite: suite.name.clone(),
        suite_hash: suite_hash.to_string(),
        datasets,
        status: CheckStatus::overall(results.iter().map(|result| result.status)),
        results,
        notes: Vec::new(),
    })
}

/// Reads one input as pandas would (`read_csv`, or `read_parquet` for Parquet files and
/// folders), keeping only the columns the suite's expectations read; `progress` counts what
/// was read.
pub fn read_input(
    input: &DataInput,
    suite: &GxSuite,
    progress: Option<&std::sync::Arc<crate::checks::dataset::ReadProgress>>,
) -> Result<Frame> {
    let mut wanted: Vec<String> = suite
        .expectations
        .iter()
        .filter_map(|expectation| match &expectation.parsed {
            Parsed::Run(expectation) => Some(expectation.columns()),
            _ => None,
        })
        .flatten()
        .collect();
    wanted.sort();
    wanted.dedup();
    let is_csv = input
        .path
        .extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| extension.eq_ignore_ascii_case("csv"));
    if is_csv && input.path.is_file() {
        return Frame::read_csv_with_progress(&input.path, Some(&wanted), progress);
    }
    let dataset = crate::checks::dataset::Dataset::open(&input.path)?;
    match dataset.format {
        crate::model::DataFormat::Parquet => {
            Frame::read_parquet_with_progress(&input.path, &wanted, progress)
        }
        crate::model::DataFormat::Csv => Err(KirokuError::Invalid(format!(
            "{}: a GX suite reads one CSV file per --data (pandas' read_csv), not a folder of them",
            input.path.display()
        ))),
    }
}

/// Runs every expectation of `suite` on `frame`, one outcome each, in suite order; `dataset`
/// names the input on each result when a run has several; each result keeps up to
/// `sample_limit` failing rows.
pub fn run_expectations(
    suite: &GxSuite,
    frame: &Frame,
    dataset: Option<&str>,
    sample_limit: usize,
) -> Vec<GxOutcome> {
    let mut outcomes: Vec<GxOutcome> = suite
        .expectations
        .iter()
        .map(|expectation| {
            let mut outcome = outcome(expectation, frame, sample_limit);
            outcome.result.dataset = dataset.map(str::to_string);
            outcome
        })
        .collect();
    let mut results: Vec<&mut CheckResult> = outcomes
        .iter_mut()
        .map(|outcome| &mut outcome.result)
        .collect();
    make_ids_unique(&mut results);
    outcomes
}

/// Gives repeated result ids a `#2`, `#3` suffix in order, so each result of a run has its own
/// (reviews name them).
pub fn make_ids_unique(results: &mut [&mut CheckResult]) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for result in results.iter_mut() {
        let count = seen.entry(result.id.clone()).or_default();
        *count += 1;
        if *count > 1 {
            result.id = format!("{}#{count}", result.id);
        }
    }
}

/// A result for a GX expectation of `type_name` with `kwargs`, before it is evaluated (status
/// `unsupported`): its id is the type and the columns it names (`type:column`, `type:a,b`),
/// its `expected` the kwargs less column names and GX's bookkeeping. Shared by the native runner
/// and the importer of GX validation results, so both name a result the same way.
pub fn gx_result(type_name: &str, kwargs: &serde_json::Map<String, Value>) -> CheckResult {
    let text = |key: &str| kwargs.get(key).and_then(Value::as_str).map(str::to_string);
    let (column, columns) = if let Some(column) = text("column") {
        (Some(column), Vec::new())
    } else if let (Some(a), Some(b)) = (text("column_A"), text("column_B")) {
        (None, vec![a, b])
    } else {
        let list = kwargs
            .get("column_list")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        (None, list)
    };
    let skip = [
        "column",
        "column_A",
        "column_B",
        "column_list",
        "batch_id",
        "result_format",
        "catch_exceptions",
    ];
    let expected: serde_json::Map<String, Value> = kwargs
        .iter()
        .filter(|(key, _)| !skip.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    CheckResult {
        id: match (&column, columns.is_empty()) {
            (Some(column), _) => format!("{type_name}:{column}"),
            (None, false) => format!("{type_name}:{}", columns.join(",")),
            (None, true) => type_name.to_string(),
        },
        check_type: type_name.to_string(),
        column,
        columns,
        dataset: None,
        status: CheckStatus::Unsupported,
        observed: Value::Null,
        expected: Value::Object(expected),
        element_count: None,
        missing_count: None,
        unexpected_count: None,
        unexpected_percent: None,
        samples: Vec::new(),
        top_unexpected: Vec::new(),
        message: None,
        details: Value::Null,
    }
}

/// A GX result's status: `success`, else `warn` for GX's `warning`/`info` severities and
/// `fail` otherwise.
pub fn status_of(success: bool, severity: Option<&str>) -> CheckStatus {
    match (success, matches!(severity, Some("warning" | "info"))) {
        (true, _) => CheckStatus::Pass,
        (false, true) => CheckStatus::Warn,
        (false, false) => CheckStatus::Fail,
    }
}

/// What kiroku shows as `observed` for a GX result: its `observed_value`, or for a map
/// expectation its unexpected count and percent.
pub fn observed_of(
    observed_value: Option<&Value>,
    unexpected_count: Option<u64>,
    unexpected_percent: Option<f64>,
    success: bool,
) -> Value {
    match (observed_value, unexpected_count) {
        (Some(observed), _) => observed.clone(),
        (None, Some(unexpected)) => json!({
            "unexpected_count": unexpected,
            "unexpected_percent": unexpected_percent,
        }),
        (None, None) => json!({ "success": success }),
    }
}

fn outcome(expectation: &GxExpectation, frame: &Frame, sample_limit: usize) -> GxOutcome {
    let mut result = gx_result(&expectation.type_name, &expectation.kwargs);
    let parsed = match &expectation.parsed {
        Parsed::Unsupported(reason) => {
            result.message = Some(reason.clone());
            return GxOutcome {
                result,
                evaluation: None,
            };
        }
        Parsed::Invalid(reason) => {
            result.status = CheckStatus::Error;
            result.message = Some(reason.clone());
            return GxOutcome {
                result,
                evaluation: None,
            };
        }
        Parsed::Run(parsed) => parsed,
    };
    let evaluation = match evaluate::evaluate(parsed, frame) {
        Ok(evaluation) => evaluation,
        Err(reason) => {
            result.status = CheckStatus::Error;
            result.message = Some(reason);
            return GxOutcome {
                result,
                evaluation: None,
            };
        }
    };
    result.status = status_of(evaluation.success, expectation.severity.as_deref());
    result.element_count = evaluation.element_count;
    result.missing_count = evaluation.missing_count;
    result.unexpected_count = evaluation.unexpected_count;
    result.unexpected_percent = evaluation.unexpected_percent;
    result.details = evaluation.details.clone();
    result.observed = observed_of(
        evaluation.observed_value.as_ref(),
        evaluation.unexpected_count,
        evaluation.unexpected_percent,
        evaluation.success,
    );
    let checked: Vec<String> = match (&result.column, result.columns.is_empty()) {
        (Some(column), _) => vec![column.clone()],
        _ => result.columns.clone(),
    };
    let columns: Vec<&Column> = checked
        .iter()
        .filter_map(|name| frame.column(name))
        .collect();
    result.samples = evaluation
        .unexpected_rows
        .iter()
        .take(sample_limit)
        .map(|&row| Sample {
            row,
            values: checked
                .iter()
                .cloned()
                .zip(
                    columns
                        .iter()
                        .map(|column| column.get(row as usize).to_json()),
                )
                .collect(),
        })
        .collect();
    if let (Some(column), true) = (columns.first(), result.column.is_some()) {
        result.top_unexpected = top_values(column, &evaluation.unexpected_rows);
    }
    if !evaluation.success {
        result.message = Some(failure_message(&evaluation));
    }
    GxOutcome {
        result,
        evaluation: Some(evaluation),
    }
}

/// The unexpected values with their counts, most frequent first (then first seen), at most
/// `SAMPLE_LIMIT`: GX's `partial_unexpected_counts`.
fn top_values(column: &Column, unexpected_rows: &[u64]) -> Vec<ValueCount> {
    let mut order: Vec<Value> = Vec::new();
    let mut counts: HashMap<String, u64> = HashMap::new();
    for &row in unexpected_rows {
        let value = column.get(row as usize).to_json();
        let key = value.to_string();
        let count = counts.entry(key).or_default();
        if *count == 0 {
            order.push(value);
        }
        *count += 1;
    }
    let mut top: Vec<ValueCount> = order
        .into_iter()
        .map(|value| ValueCount {
            count: counts[&value.to_string()],
            value,
        })
        .collect();
    top.sort_by_key(|value| std::cmp::Reverse(value.count));
    top.truncate(SAMPLE_LIMIT);
    top
}

fn failure_message(evaluation: &Evaluation) -> String {
    match (evaluation.unexpected_count, &evaluation.observed_value) {
        (Some(count), _) => match evaluation.unexpected_percent {
            Some(percent) => format!("{count} unexpected values ({percent:.2}% of those checked)"),
            None => format!("{count} unexpected values"),
        },
        (None, Some(Value::Null)) => "the statistic is undefined (no values, or NaN)".to_string(),
        (None, Some(observed)) => format!("observed {observed}, outside what the suite expects"),
        (None, None) => "the expectation is not met".to_string(),
    }
}
