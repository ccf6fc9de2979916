//! The parsed form of a check suite: what kiroku's TOML dialect (`checks::toml_suite`) and the
//! Great Expectations dialect (`checks::gx`) both produce and what the engine runs.
//!
//! A [`Suite`] is a list of [`Check`]s. Each check has a stable `id` (history and reviews bind to
//! it), the type name it is reported under (`between`, or GX's
//! `expect_column_values_to_be_between`), the dataset it reads (an input name; the first input
//! when `None`), what it checks ([`CheckKind`]), and its `warn` and `fail` [`Threshold`]s.
//!
//! Two families of checks, and what their thresholds bound:
//! - **Row checks** (not_null, unique, between, in_set, not_in_set, regex, length, parseable,
//!   compare, overlap, category_shares) count *unexpected* rows (or categories) and bound that
//!   count with `max_count`, `max_percent` (0–100, of the non-null rows, as GX counts it) or
//!   `mostly` (the fraction of non-null rows that must pass, GX's `mostly`). A row check with no
//!   `fail` and no `warn` fails on any unexpected row; one with only `warn` never fails.
//! - **Metric checks** (row_count, stat, freshness, drift, column_count via schema) observe one
//!   number and bound it with `min`/`max` (`strict_min`/`strict_max` make a bound exclusive).
//! - **Shape checks** (schema, column sets) pass or fail as a whole.
//!
//! Where GX and kiroku count differently the check carries [`Semantics`]: the TOML dialect
//! uses [`Semantics::KIROKU`], the GX dialect [`Semantics::GX`].
use crate::model::{CheckSource, ColumnType};

/// A parsed suite, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Suite {
    /// Its name (`[suite] name`, GX `name`, else the file stem).
    pub name: String,
    /// `sha256:` and the hex digest of the suite file's bytes (reviews bind to it).
    pub hash: String,
    /// Which dialect it came from (`Kiroku` or `Gx`).
    pub source: CheckSource,
    /// Identity columns shown with every failing sample row (when the dataset has them).
    pub key: Vec<String>,
    /// Failing rows kept per check unless a check says otherwise.
    pub sample_limit: usize,
    pub checks: Vec<Check>,
}

/// Failing rows kept per check when a suite does not say.
pub const DEFAULT_SAMPLE_LIMIT: usize = 20;

impl Suite {
    /// An empty suite of `name` from `source`, with the default sample limit.
    pub fn new(name: impl Into<String>, hash: impl Into<String>, source: CheckSource) -> Self {
        Suite {
            name: name.into(),
            hash: hash.into(),
            source,
            key: Vec::new(),
            sample_limit: DEFAULT_SAMPLE_LIMIT,
            checks: Vec::new(),
        }
    }
}

/// One check of a suite.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// Unique within the suite; results, history and reviews bind to it.
    pub id: String,
    /// The type name results report (`between`; GX: `expect_column_values_to_be_between`).
    pub check_type: String,
    /// The input it reads (`--data NAME=PATH`); `None`: the first input.
    pub dataset: Option<String>,
    pub kind: CheckKind,
    pub warn: Option<Threshold>,
    pub fail: Option<Threshold>,
    /// Failing rows kept for this check (`None`: the suite's limit).
    pub sample_limit: Option<usize>,
    pub semantics: Semantics,
}

impl Check {
    /// A check of `kind` reported as `check_type`, reading the first input, no thresholds (a row
    /// check then fails on any unexpected row), kiroku's semantics.
    pub fn new(id: impl Into<String>, check_type: impl Into<String>, kind: CheckKind) -> Self {
        Check {
            id: id.into(),
            check_type: check_type.into(),
            dataset: None,
            kind,
            warn: None,
            fail: None,
            sample_limit: None,
            semantics: Semantics::KIROKU,
        }
    }

    /// The columns this check reads from its dataset (for projection), in the order named.
    pub fn columns(&self) -> Vec<&str> {
        self.kind.columns()
    }
}

/// What a check checks, with its own parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum CheckKind {
    /// The number of rows (metric: bound with thresholds' `min`/`max`).
    RowCount,
    /// The number of columns (metric; GX `expect_table_column_count_to_be_between`).
    ColumnCount,
    /// Required/forbidden columns and their types (shape).
    Schema(SchemaSpec),
    /// One column exists (at `index`, 0-based, when given) (shape; GX `expect_column_to_exist`).
    ColumnExists {
        column: String,
        index: Option<usize>,
    },
    /// The column names equal `columns` as a set; with `exact: false`, include them (shape;
    /// GX `expect_table_columns_to_match_set`).
    ColumnSet { columns: Vec<String>, exact: bool },
    /// The column names equal `columns` in order (shape; GX `..._to_match_ordered_list`).
    ColumnList { columns: Vec<String> },
    /// Null cells are unexpected (row; the percent is of all rows).
    NotNull { column: String },
    /// Rows whose value (one column) or key tuple (several) repeats are unexpected (row).
    Unique { columns: Vec<String> },
    /// Non-null values outside `[min, max]` (or unparseable as numbers) are unexpected (row).
    Between {
        column: String,
        min: Option<f64>,
        max: Option<f64>,
        strict_min: bool,
        strict_max: bool,
    },
    /// Non-null values not in `values` are unexpected (row; top unexpected values reported).
    InSet {
        column: String,
        values: Vec<Literal>,
    },
    /// Non-null values in `values` are unexpected (row; top unexpected values reported).
    NotInSet {
        column: String,
        values: Vec<Literal>,
    },
    /// Non-null values the pattern does not match (unanchored search) are unexpected (row).
    Regex { column: String, pattern: String },
    /// Non-null values whose length in characters is outside `[min, max]` are unexpected (row).
    Length {
        column: String,
        min: Option<u64>,
        max: Option<u64>,
    },
    /// Non-null values that do not parse as `as_type` are unexpected (row). `format`: a
    /// strftime-style format for dates and timestamps (default ISO 8601).
    Parseable {
        column: String,
        as_type: ColumnType,
        format: Option<String>,
    },
    /// A statistic of the column's non-null values (metric).
    Stat { column: String, stat: Statistic },
    /// Rows where `left OP right` does not hold are unexpected (row; rows with a null operand are
    /// skipped as `semantics.skip_rows` says).
    Compare {
        left: String,
        op: CompareOp,
        right: Operand,
    },
    /// The age of the column's newest timestamp at run time, in seconds (metric).
    Freshness { column: String },
    /// Each category's share of the non-null rows within `[min_share, max_share]`, overridden
    /// per category by `shares` (row: unexpected = categories out of bounds).
    CategoryShares {
        column: String,
        min_share: Option<f64>,
        max_share: Option<f64>,
        shares: Vec<(String, ShareBounds)>,
    },
    /// The column's distribution against a reference dataset (metric: the method's statistic).
    Drift {
        column: String,
        /// A path, an input name, `NAME@N`, `NAME@latest` or a version hash.
        reference: String,
        method: DriftMethod,
        /// Bins for numeric PSI/JS (quantile bins of the reference).
        bins: usize,
    },
    /// Rows whose key tuple also appears in `other` (row; train/test leakage).
    Overlap {
        /// A path, an input name, `NAME@N`, `NAME@latest` or a version hash.
        other: String,
        columns: Vec<String>,
    },
    /// A check kiroku does not run (a GX expectation it does not know): reported as
    /// `unsupported` with these parameters, never skipped.
    Unsupported { parameters: serde_json::Value },
}

impl CheckKind {
    /// The columns of its own dataset the check reads, in the order named.
    pub fn columns(&self) -> Vec<&str> {
        use CheckKind::*;
        match self {
            RowCount
            | ColumnCount
            | Schema(_)
            | ColumnExists { .. }
            | ColumnSet { .. }
            | ColumnList { .. }
            | Unsupported { .. } => Vec::new(),
            NotNull { column }
            | Between { column, .. }
            | InSet { column, .. }
            | NotInSet { column, .. }
            | Regex { column, .. }
            | Length { column, .. }
            | Parseable { column, .. }
            | Stat { column, .. }
            | Freshness { column }
            | CategoryShares { column, .. }
            | Drift { column, .. } => vec![column.as_str()],
            Unique { columns } | Overlap { columns, .. } => {
                columns.iter().map(String::as_str).collect()
            }
            Compare { left, right, .. } => match right {
                Operand::Column(right) => vec![left.as_str(), right.as_str()],
                Operand::Value(_) => vec![left.as_str()],
            },
        }
    }

    /// Whether thresholds bound an observed number (`min`/`max`) rather than unexpected rows.
    pub fn is_metric(&self) -> bool {
        matches!(
            self,
            CheckKind::RowCount
                | CheckKind::ColumnCount
                | CheckKind::Stat { .. }
                | CheckKind::Freshness { .. }
                | CheckKind::Drift { .. }
        )
    }

    /// Whether it passes or fails as a whole (no thresholds).
    pub fn is_shape(&self) -> bool {
        matches!(
            self,
            CheckKind::Schema(_)
                | CheckKind::ColumnExists { .. }
                | CheckKind::ColumnSet { .. }
                | CheckKind::ColumnList { .. }
        )
    }
}

/// The schema check's expectations.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SchemaSpec {
    /// Columns that must be present.
    pub required: Vec<String>,
    /// Columns that must be absent; `*` matches any run of characters (`email*`).
    pub forbidden: Vec<String>,
    /// Expected types of columns (a column typed `float` also accepts `int` values in CSV).
    pub types: Vec<(String, ColumnType)>,
    /// No columns beyond `required` (and those in `types`).
    pub exact: bool,
    /// `required` (then `types`) must appear in this order.
    pub ordered: bool,
}

/// A column statistic over non-null values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Statistic {
    Mean,
    /// Exact: the mean of the two middle values for an even count (GX, pandas).
    Median,
    /// Sample standard deviation (n − 1), as GX and pandas.
    Std,
    Min,
    Max,
    Sum,
    /// The q-quantile (0 ≤ q ≤ 1), interpolated as `Semantics::quantile` says.
    Quantile(f64),
    /// Distinct non-null values (GX `unique_value_count`).
    DistinctCount,
    /// Distinct non-null values over non-null values (GX `proportion_of_unique_values`).
    UniqueProportion,
    /// Null rows over all rows.
    NullFraction,
}

impl Statistic {
    /// Its name in the TOML dialect (`quantile` for any q).
    pub fn as_str(self) -> &'static str {
        match self {
            Statistic::Mean => "mean",
            Statistic::Median => "median",
            Statistic::Std => "std",
            Statistic::Min => "min",
            Statistic::Max => "max",
            Statistic::Sum => "sum",
            Statistic::Quantile(_) => "quantile",
            Statistic::DistinctCount => "distinct_count",
            Statistic::UniqueProportion => "unique_proportion",
            Statistic::NullFraction => "null_fraction",
        }
    }
}

/// A comparison between two operands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Lt,
    Le,
    Eq,
    Ne,
    Ge,
    Gt,
}

impl CompareOp {
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Eq => "==",
            CompareOp::Ne => "!=",
            CompareOp::Ge => ">=",
            CompareOp::Gt => ">",
        }
    }

    pub fn parse(text: &str) -> Option<CompareOp> {
        Some(match text {
            "<" => CompareOp::Lt,
            "<=" => CompareOp::Le,
            "==" | "=" => CompareOp::Eq,
            "!=" => CompareOp::Ne,
            ">=" => CompareOp::Ge,
            ">" => CompareOp::Gt,
            _ => return None,
        })
    }
}

/// The right side of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Column(String),
    Value(Literal),
}

/// A literal in a suite: a set member or a comparison's right side.
///
/// A cell matches a number when it parses as an equal number (`1`, `1.0`, `1e0` all match 1), a
/// string when its text is equal, a bool when it reads `true`/`false` (any case) or 1/0.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Number(f64),
    Text(String),
    Bool(bool),
}

impl Literal {
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Literal::Number(n) => crate::checks::json_number(*n),
            Literal::Text(text) => serde_json::Value::String(text.clone()),
            Literal::Bool(b) => serde_json::Value::Bool(*b),
        }
    }
}

/// Per-category share bounds of `category_shares`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ShareBounds {
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// How `drift` compares distributions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriftMethod {
    /// PSI for numeric columns, Jensen–Shannon distance for categorical ones.
    Auto,
    /// Population stability index over reference quantile bins (or categories).
    Psi,
    /// Two-sample Kolmogorov–Smirnov statistic D (p-value in details); numeric only.
    Ks,
    /// Chi-square goodness of fit of current category counts to reference shares: the p-value.
    ChiSquare,
    /// Jensen–Shannon distance (base 2, in [0, 1]) over bins or categories.
    JensenShannon,
}

impl DriftMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            DriftMethod::Auto => "auto",
            DriftMethod::Psi => "psi",
            DriftMethod::Ks => "ks",
            DriftMethod::ChiSquare => "chi2",
            DriftMethod::JensenShannon => "js",
        }
    }
}

/// A `warn` or `fail` threshold: the check breaches it when any bound set here is broken.
///
/// Row checks use `max_count`, `max_percent` and `mostly`; metric checks use `min`, `max`,
/// `strict_min`, `strict_max`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Threshold {
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// `min` itself breaches (observed must be > min).
    pub strict_min: bool,
    /// `max` itself breaches (observed must be < max).
    pub strict_max: bool,
    pub max_count: Option<u64>,
    /// Of the non-null rows (GX's `unexpected_percent`), 0–100.
    pub max_percent: Option<f64>,
    /// The fraction of non-null rows that must pass (0–1); no non-null rows pass (GX).
    pub mostly: Option<f64>,
}

impl Threshold {
    /// Bounds on a metric.
    pub fn between(min: Option<f64>, max: Option<f64>) -> Self {
        Threshold {
            min,
            max,
            ..Threshold::default()
        }
    }

    /// GX's `mostly` on a row check.
    pub fn mostly(mostly: f64) -> Self {
        Threshold {
            mostly: Some(mostly),
            ..Threshold::default()
        }
    }

    /// At most `count` unexpected rows.
    pub fn max_count(count: u64) -> Self {
        Threshold {
            max_count: Some(count),
            ..Threshold::default()
        }
    }
}

/// Where GX and kiroku count differently; a check carries the dialect's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Semantics {
    pub duplicates: DuplicateRows,
    /// Which rows of a multi-column row check (compound unique, compare, overlap) are skipped
    /// for nulls.
    pub skip_rows: SkipRows,
    pub quantile: QuantileInterpolation,
}

impl Semantics {
    /// kiroku's TOML dialect: a duplicate is each repeat after a key's first row; a row with any
    /// null operand is skipped; quantiles interpolate linearly (numpy's default).
    pub const KIROKU: Semantics = Semantics {
        duplicates: DuplicateRows::Repeats,
        skip_rows: SkipRows::AnyNull,
        quantile: QuantileInterpolation::Linear,
    };

    /// Great Expectations 1.x on pandas: every row of a repeated value is unexpected
    /// (`duplicated(keep=False)`); compound unique skips a row only when all its values are
    /// null (GX's default `ignore_row_if`), column pairs only when both are; quantiles as
    /// GX's `column.quantile_values` (`nearest`).
    pub const GX: Semantics = Semantics {
        duplicates: DuplicateRows::EveryOccurrence,
        skip_rows: SkipRows::AllNull,
        quantile: QuantileInterpolation::Nearest,
    };
}

/// Which rows of a repeated value or key count as unexpected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicateRows {
    /// Every row holding a value that occurs more than once (GX).
    EveryOccurrence,
    /// Each row after the value's first (what deduplication would remove; kiroku).
    Repeats,
}

/// When a row with nulls in a multi-column check is skipped (not counted at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipRows {
    /// Any of its columns is null (kiroku).
    AnyNull,
    /// All of its columns are null (GX's `all_values_are_missing` / `both_values_are_missing`);
    /// a row with some nulls is then checked, and a null operand of a comparison fails.
    AllNull,
    /// Never skip.
    Never,
}

/// How a quantile between two values is picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantileInterpolation {
    Linear,
    Nearest,
    Lower,
    Higher,
    Midpoint,
}
