//! The checks engine: runs a parsed [`Suite`] (kiroku's TOML dialect or a GX expectation suite)
//! over CSV and Parquet datasets in one streaming pass per dataset, and profiles datasets for
//! registration.
//!
//! - `spec`: the parsed suite both dialects produce.
//! - `run_suite`: the entry point; results are `model::CheckResult`s.
use crate::error::Result;
use crate::model::{CheckResult, CheckStatus, CheckedDataset};
use std::path::PathBuf;

pub mod gx;
pub mod spec;

pub use spec::{Check, CheckKind, Suite};

/// One dataset given to a suite run: its name in the run (`--data NAME=PATH`) and where it is
/// (a CSV or Parquet file, or a folder of files of one format).
#[derive(Debug, Clone, PartialEq)]
pub struct DataInput {
    pub name: String,
    pub path: PathBuf,
}

/// What a suite run found: the datasets it read and one result per check.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteOutcome {
    pub suite: String,
    pub suite_hash: String,
    pub datasets: Vec<CheckedDataset>,
    /// The worst result's status (`unsupported` counts as a pass).
    pub status: CheckStatus,
    pub results: Vec<CheckResult>,
    /// Things about the data worth saying that are no check's result (ragged rows).
    pub notes: Vec<String>,
}

/// Runs every check of `suite` over `inputs` (placeholder: reports every check unsupported
/// until the engine lands).
pub fn run_suite(suite: &Suite, inputs: &[DataInput]) -> Result<SuiteOutcome> {
    let results: Vec<CheckResult> = suite
        .checks
        .iter()
        .map(|check| CheckResult {
            id: check.id.clone(),
            check_type: check.check_type.clone(),
            column: None,
            columns: Vec::new(),
            dataset: check.dataset.clone(),
            status: CheckStatus::Unsupported,
            observed: serde_json::Value::Null,
            expected: serde_json::Value::Null,
            element_count: None,
            missing_count: None,
            unexpected_count: None,
            unexpected_percent: None,
            samples: Vec::new(),
            top_unexpected: Vec::new(),
            message: Some("the engine is not written yet".into()),
            details: serde_json::Value::Null,
        })
        .collect();
    Ok(SuiteOutcome {
        suite: suite.name.clone(),
        suite_hash: suite.hash.clone(),
        datasets: inputs
            .iter()
            .map(|input| CheckedDataset {
                name: input.name.clone(),
                version_id: String::new(),
                path: input.path.display().to_string(),
                rows: 0,
            })
            .collect(),
        status: CheckStatus::overall(results.iter().map(|r| r.status)),
        results,
        notes: Vec::new(),
    })
}

/// A number as JSON: whole numbers as integers, NaN and infinities as null.
pub fn json_number(value: f64) -> serde_json::Value {
    if value.is_finite() && value.fract() == 0.0 && value.abs() < 9.0e15 {
        serde_json::Value::from(value as i64)
    } else {
        serde_json::Number::from_f64(value)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null)
    }
}
