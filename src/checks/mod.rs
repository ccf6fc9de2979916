//! The checks engine: runs a parsed [`Suite`] (kiroku's TOML dialect or a GX expectation suite)
//! over CSV and Parquet datasets in one streaming pass per dataset, and profiles datasets for
//! registration.
//!
//! - `spec`: the parsed suite both dialects produce; `toml_suite`: kiroku's TOML dialect.
//! - `dataset`, `csv_source`, `parquet_source`, `chunk`: reading datasets as column chunks.
//! - `infer`: CSV column types; `profile`: a dataset version's hash, size, rows and schema.
//! - `engine`: `run_suite`, the entry point: one pass per dataset feeding `rowcheck`, `stats`
//!   and `drift` accumulators; `evaluate` turns observations into `model::CheckResult`s.
//! - `kept`, `spill`: what accumulators keep past their memory budget, in temporary files
//!   (a median's numbers; unique keys and distinct hashes in hash partitions); `key_table`:
//!   the unique checks' table of key hashes.
//! - `gx`: Great Expectations expectation suites, run with GX's own (pandas) semantics.
//! - `import`: GX validation results and Soda scan results read into kiroku's results.
use crate::model::{CheckResult, CheckStatus, CheckedDataset};
use std::path::PathBuf;

pub mod chunk;
pub mod csv_scan;
pub mod csv_source;
pub mod dataset;
pub mod drift;
pub mod engine;
pub mod evaluate;
pub mod gx;
pub mod import;
pub mod infer;
pub mod kept;
pub mod key_table;
pub mod parquet_source;
pub mod profile;
pub mod rowcheck;
pub mod spec;
pub mod spill;
pub mod stats;
pub mod tally;
pub mod toml_suite;

pub use engine::{run_suite, run_suite_with, RunOptions};
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
