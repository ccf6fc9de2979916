//! Datasets and data-quality checks: dataset versions, what runs read, check runs with their
//! results, and reviews of those results. Plain records; the checks engine is `crate::checks`,
//! storage the `DataStore` domain.
//!
//! A dataset version is identified by its content hash, so the same bytes registered twice are
//! one version. A check run is one suite run against one or more dataset versions; its results
//! are one per check (or per imported expectation). A review is a person's verdict on one failed
//! or warned result, and holds for the same check on the same dataset version and suite only.
use super::Millis;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The content hash identifying a dataset version: `sha256:` and 64 lowercase hex digits.
pub type VersionId = String;

/// A check run's id: small and sequential per store, what users type (`kiroku review 12`).
pub type CheckRunId = i64;

/// A column's type as kiroku infers it (CSV) or reads it (Parquet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// Whole numbers.
    Int,
    /// Numbers with a fraction, or `NaN`/infinities.
    Float,
    /// `true`/`false`.
    Bool,
    /// Calendar dates.
    Date,
    /// Dates with a time.
    Timestamp,
    /// Anything else.
    String,
    /// Every value is null (or the file has no rows).
    Null,
}

impl ColumnType {
    pub const ALL: [ColumnType; 7] = [
        ColumnType::Int,
        ColumnType::Float,
        ColumnType::Bool,
        ColumnType::Date,
        ColumnType::Timestamp,
        ColumnType::String,
        ColumnType::Null,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ColumnType::Int => "int",
            ColumnType::Float => "float",
            ColumnType::Bool => "bool",
            ColumnType::Date => "date",
            ColumnType::Timestamp => "timestamp",
            ColumnType::String => "string",
            ColumnType::Null => "null",
        }
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ColumnType {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ColumnType::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| {
                format!("unknown column type '{text}' (expected int, float, bool, date, timestamp, string or null)")
            })
    }
}

/// One column of a dataset version's schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnSchema {
    pub name: String,
    #[serde(rename = "type")]
    pub column_type: ColumnType,
    /// Null (empty, `NA`, `null`) values in the column.
    pub null_count: u64,
}

/// The file format of a dataset version (a folder holds files of one format).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DataFormat {
    Csv,
    Parquet,
}

impl DataFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            DataFormat::Csv => "csv",
            DataFormat::Parquet => "parquet",
        }
    }
}

impl fmt::Display for DataFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One file of a dataset version (a single-file dataset has one; a folder has several).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataFile {
    /// Relative to the version's path (its file name for a single file).
    pub path: String,
    pub size_bytes: u64,
    /// `sha256:` and the file's hex digest.
    pub sha256: String,
    pub rows: u64,
}

/// A registered dataset version (`kiroku data add NAME PATH`): content-addressed, so adding the
/// same bytes again finds the same version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetVersion {
    /// The content hash over the version's files (names and digests, in path order).
    pub id: VersionId,
    /// The dataset's name (`train`, `churn-test`).
    pub dataset: String,
    /// The version's number within its dataset (1, 2, …), in order of registration.
    pub number: i64,
    /// Where it was read from when registered (absolute).
    pub path: String,
    pub format: DataFormat,
    pub size_bytes: u64,
    pub row_count: u64,
    pub columns: Vec<ColumnSchema>,
    pub files: Vec<DataFile>,
    pub created_at: Millis,
    pub created_by: String,
    /// Where it came from when not registered by kiroku (`mlflow`: an MLflow `log_input`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// What a run read: one named input bound to a dataset version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInput {
    pub run_id: String,
    /// The input's role in the run (`train`, `eval`); the dataset's name unless given.
    pub name: String,
    pub dataset: String,
    pub version_id: VersionId,
    /// The path the run was given (as the user wrote it).
    pub path: String,
}

/// The outcome of one check, of a check run, or of a dataset's latest check run.
///
/// Ordered by severity: a check run's status is its worst result's (`unsupported` counts as a
/// pass for the run's status but is always shown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Pass,
    /// A check type kiroku does not run (an imported or GX expectation it does not know).
    Unsupported,
    Warn,
    Fail,
    /// The check could not be evaluated (a missing column, an unreadable reference).
    Error,
}

impl CheckStatus {
    pub const ALL: [CheckStatus; 5] = [
        CheckStatus::Pass,
        CheckStatus::Unsupported,
        CheckStatus::Warn,
        CheckStatus::Fail,
        CheckStatus::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Pass => "pass",
            CheckStatus::Unsupported => "unsupported",
            CheckStatus::Warn => "warn",
            CheckStatus::Fail => "fail",
            CheckStatus::Error => "error",
        }
    }

    /// Whether a result with this status needs a reviewer's verdict before data is trusted.
    pub fn needs_review(self) -> bool {
        matches!(
            self,
            CheckStatus::Warn | CheckStatus::Fail | CheckStatus::Error
        )
    }

    /// A check run's status from its results' statuses: the worst, where `unsupported` is a
    /// pass; `pass` for no results.
    pub fn overall(statuses: impl IntoIterator<Item = CheckStatus>) -> CheckStatus {
        statuses
            .into_iter()
            .map(|status| match status {
                CheckStatus::Unsupported => CheckStatus::Pass,
                other => other,
            })
            .max()
            .unwrap_or(CheckStatus::Pass)
    }
}

impl fmt::Display for CheckStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CheckStatus {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        CheckStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| {
                format!("unknown check status '{text}' (expected pass, unsupported, warn, fail or error)")
            })
    }
}

/// One failing row kept as an example: its 0-based data row number (CSV: rows after the header;
/// Parquet: row index across the file's row groups; a folder: across its files in path order)
/// and the values of the key columns and the checked columns, as read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub row: u64,
    /// Column name to value, key columns first, then the checked columns.
    pub values: serde_json::Map<String, serde_json::Value>,
}

/// One check's (or one imported expectation's) result in a check run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The check's id within its suite (`age-range`; GX: `type` and its column, made unique).
    pub id: String,
    /// The check's type (`between`; GX: `expect_column_values_to_be_between`).
    #[serde(rename = "type")]
    pub check_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// For checks on several columns (compound unique, column pairs, schema).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// The dataset this result is about (the input name in the check run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    pub status: CheckStatus,
    /// What the data showed (a count, a statistic, a schema; JSON of the check's choosing).
    pub observed: serde_json::Value,
    /// What the suite asked for (bounds, a set, thresholds).
    pub expected: serde_json::Value,
    /// Rows the check looked at (GX `element_count`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub element_count: Option<u64>,
    /// Null rows among them (GX `missing_count`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unexpected_count: Option<u64>,
    /// Of the non-null rows, as GX counts it (0–100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unexpected_percent: Option<f64>,
    #[serde(default)]
    pub samples: Vec<Sample>,
    /// Values outside a set with their counts, most frequent first (in_set, not_in_set).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub top_unexpected: Vec<ValueCount>,
    /// A sentence for people: why it failed or could not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Check-specific detail (drift: reference and current distributions; schema: the lists).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub details: serde_json::Value,
}

/// A value and how many rows hold it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueCount {
    pub value: serde_json::Value,
    pub count: u64,
}

/// Where a check run came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckSource {
    /// kiroku ran a kiroku TOML suite.
    Kiroku,
    /// kiroku ran a Great Expectations expectation-suite JSON natively.
    Gx,
    /// Imported Great Expectations validation results.
    GxImport,
    /// Imported Soda scan results.
    SodaImport,
}

impl CheckSource {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckSource::Kiroku => "kiroku",
            CheckSource::Gx => "gx",
            CheckSource::GxImport => "gximport",
            CheckSource::SodaImport => "sodaimport",
        }
    }
}

/// One dataset a check run read: its name in the run (`--data NAME=PATH`) and its version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckedDataset {
    pub name: String,
    pub version_id: VersionId,
    pub path: String,
    pub rows: u64,
}

/// A check run to record: one suite against one or more dataset versions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewCheckRun {
    /// The suite's name (its `[suite] name`, GX `name`, or the file stem).
    pub suite: String,
    /// `sha256:` and the hex digest of the suite file's bytes; a review holds for one suite hash.
    pub suite_hash: String,
    pub source: CheckSource,
    pub datasets: Vec<CheckedDataset>,
    pub status: CheckStatus,
    pub results: Vec<CheckResult>,
    pub started_at: Millis,
    pub ended_at: Millis,
    pub user: String,
    pub host: String,
    /// The run that ran the checks, when a `kiroku run` or a job did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
}

/// A recorded check run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckRun {
    pub id: CheckRunId,
    #[serde(flatten)]
    pub run: NewCheckRun,
}

/// A reviewer's verdict on one result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewVerdict {
    /// The failure is acceptable as it is.
    Approved,
    /// Accepted for now, with a reason, optionally until a time.
    Waived,
    /// The data must not be used.
    Rejected,
}

impl ReviewVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewVerdict::Approved => "approved",
            ReviewVerdict::Waived => "waived",
            ReviewVerdict::Rejected => "rejected",
        }
    }
}

impl fmt::Display for ReviewVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A review to record: a verdict on result `result_id` of check run `check_run`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewReview {
    pub check_run: CheckRunId,
    pub result_id: String,
    pub verdict: ReviewVerdict,
    pub comment: String,
    pub reviewer: String,
    /// When a waiver lapses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Millis>,
}

/// A recorded review, with what it binds to: the check (`result_id`), the dataset version and
/// the suite hash, and how bad the result was when reviewed (a worse result needs a new review).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    pub id: i64,
    #[serde(flatten)]
    pub review: NewReview,
    pub version_id: VersionId,
    pub suite_hash: String,
    pub status_reviewed: CheckStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unexpected_count_reviewed: Option<u64>,
    pub created_at: Millis,
}

/// What `add_dataset_version` did: the version as stored, and whether it is new (false when
/// the same bytes were already a version of the dataset).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AddedVersion {
    pub version: DatasetVersion,
    pub new: bool,
}

/// One dataset in a listing (`kiroku data ls`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetSummary {
    pub name: String,
    pub latest: DatasetVersion,
    pub versions: u64,
    /// The status of the latest check run over the latest version, if any ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_check: Option<CheckStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_check_run: Option<CheckRunId>,
}

/// Which check runs to list, newest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckRunQuery {
    /// Runs that checked a version of this dataset (or an input of this name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    /// Runs that checked this version (a full `sha256:` id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<VersionId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite: Option<String>,
    /// Any of these statuses (all when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statuses: Vec<CheckStatus>,
    /// Only runs with a warned, failed or errored result that no review covers now.
    #[serde(default)]
    pub awaiting_review: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

impl CheckRun {
    /// The dataset version a result is about: its dataset's version, or, for a result that
    /// names none, the run's only dataset's; a result over several datasets (none named, several
    /// checked) binds to all of them, their ids joined by `+` in the run's order, so a change to
    /// any one of them calls for a new review.
    pub fn version_of(&self, result: &CheckResult) -> VersionId {
        let datasets = &self.run.datasets;
        if let Some(name) = &result.dataset {
            if let Some(found) = datasets.iter().find(|d| &d.name == name) {
                return found.version_id.clone();
            }
        }
        datasets
            .iter()
            .map(|d| d.version_id.as_str())
            .collect::<Vec<_>>()
            .join("+")
    }

    /// The result with this id.
    pub fn result(&self, id: &str) -> Option<&CheckResult> {
        self.run.results.iter().find(|r| r.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_runs_status_is_its_worst_result_with_unsupported_as_a_pass() {
        use CheckStatus::*;
        assert_eq!(CheckStatus::overall([]), Pass);
        assert_eq!(CheckStatus::overall([Pass, Unsupported]), Pass);
        assert_eq!(CheckStatus::overall([Unsupported, Warn, Pass]), Warn);
        assert_eq!(CheckStatus::overall([Fail, Warn]), Fail);
        assert_eq!(CheckStatus::overall([Fail, Error]), Error);
    }

    #[test]
    fn statuses_and_types_round_trip_through_their_names() {
        for status in CheckStatus::ALL {
            assert_eq!(status.as_str().parse::<CheckStatus>(), Ok(status));
        }
        for kind in ColumnType::ALL {
            assert_eq!(kind.as_str().parse::<ColumnType>(), Ok(kind));
        }
        assert!("integer".parse::<ColumnType>().is_err());
    }
}
