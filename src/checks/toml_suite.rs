//! kiroku's own suite dialect, TOML, parsed strictly into a [`Suite`]: an unknown key, a
//! misspelled check type, a key that does not belong to a check's type, a threshold bound that
//! does not fit it, or a repeated id is an error naming the file's line.
//!
//! ```toml
//! [suite]
//! name = "churn-train"
//! key = ["user_id"]       # shown with every failing sample row
//! sample = 20             # failing rows kept per check
//!
//! [[check]]
//! id = "age-range"
//! type = "between"
//! column = "age"
//! min = 0
//! max = 120
//! fail = { max_percent = 0.5 }   # of non-null rows; `mostly = 0.995` also works
//! warn = { max_count = 0 }
//! ```
//!
//! Row checks with neither `warn` nor `fail` fail on any unexpected row; with only `warn`
//! they warn and never fail. Metric checks (`row_count`, `stat`, `freshness`, `drift`) take
//! their bounds as `min`/`max` at the top (the fail bounds) or in `warn`/`fail` tables;
//! `drift` has defaults per method.
use super::spec::*;
use crate::config::{describe_toml_error, line_and_column};
use crate::error::{KirokuError, Result};
use crate::model::{CheckSource, ColumnType};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSuite {
    suite: Option<RawHeader>,
    #[serde(default)]
    check: Vec<Spanned<RawCheck>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    name: Option<String>,
    description: Option<String>,
    #[serde(default)]
    key: Vec<String>,
    sample: Option<usize>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    id: Option<String>,
    #[serde(rename = "type")]
    check_type: Option<Spanned<String>>,
    name: Option<String>,
    description: Option<String>,
    dataset: Option<String>,
    column: Option<String>,
    columns: Option<Vec<String>>,
    min: Option<f64>,
    max: Option<f64>,
    strict_min: Option<bool>,
    strict_max: Option<bool>,
    values: Option<Vec<toml::Value>>,
    pattern: Option<String>,
    #[serde(rename = "as")]
    as_type: Option<String>,
    format: Option<String>,
    stat: Option<String>,
    q: Option<f64>,
    left: Option<String>,
    op: Option<String>,
    right: Option<String>,
    value: Option<toml::Value>,
    max_age: Option<String>,
    min_share: Option<f64>,
    max_share: Option<f64>,
    shares: Option<BTreeMap<String, RawShare>>,
    reference: Option<String>,
    method: Option<String>,
    bins: Option<usize>,
    other: Option<String>,
    required: Option<Vec<String>>,
    forbidden: Option<Vec<String>>,
    types: Option<BTreeMap<String, String>>,
    exact: Option<bool>,
    ordered: Option<bool>,
    mostly: Option<f64>,
    sample: Option<usize>,
    warn: Option<RawThreshold>,
    fail: Option<RawThreshold>,
}

#[derive(Debug, Deserialize, Clone, Copy)]
#[serde(deny_unknown_fields)]
struct RawShare {
    min: Option<f64>,
    max: Option<f64>,
}

#[derive(Debug, Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
struct RawThreshold {
    min: Option<f64>,
    max: Option<f64>,
    strict_min: Option<bool>,
    strict_max: Option<bool>,
    max_count: Option<u64>,
    max_percent: Option<f64>,
    mostly: Option<f64>,
    max_age: Option<String>,
}

/// The check types, with the keys each takes beyond the common ones.
const TYPES: &[(&str, &[&str])] = &[
    ("row_count", &["min", "max"]),
    ("column_count", &["min", "max"]),
    (
        "schema",
        &["required", "forbidden", "types", "exact", "ordered"],
    ),
    ("not_null", &["column", "mostly"]),
    ("unique", &["column", "columns", "mostly"]),
    (
        "between",
        &["column", "min", "max", "strict_min", "strict_max", "mostly"],
    ),
    ("in_set", &["column", "values", "mostly"]),
    ("not_in_set", &["column", "values", "mostly"]),
    ("regex", &["column", "pattern", "mostly"]),
    ("length", &["column", "min", "max", "mostly"]),
    ("parseable", &["column", "as", "format", "mostly"]),
    (
        "stat",
        &[
            "column",
            "stat",
            "q",
            "min",
            "max",
            "strict_min",
            "strict_max",
        ],
    ),
    ("compare", &["left", "op", "right", "value", "mostly"]),
    ("freshness", &["column", "max_age"]),
    (
        "category_shares",
        &["column", "min_share", "max_share", "shares"],
    ),
    ("drift", &["column", "reference", "method", "bins"]),
    ("overlap", &["other", "column", "columns", "mostly"]),
];

const COMMON_KEYS: &[&str] = &[
    "id",
    "type",
    "name",
    "description",
    "dataset",
    "sample",
    "warn",
    "fail",
];

/// Reads and parses the suite file at `path`.
pub fn load_suite(path: &Path) -> Result<Suite> {
    let bytes = std::fs::read(path)
        .map_err(|e| KirokuError::Invalid(format!("cannot read suite {}: {e}", path.display())))?;
    let text = String::from_utf8(bytes.clone())
        .map_err(|_| KirokuError::Invalid(format!("{}: not UTF-8 text", path.display())))?;
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "suite".into());
    parse_suite(&text, &stem, &suite_hash(&bytes))
        .map_err(|message| KirokuError::Invalid(format!("{}: {message}", path.display())))
}

/// `sha256:` and the hex digest of a suite file's bytes.
pub fn suite_hash(bytes: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(bytes);
    super::dataset::digest_text(hasher)
}

/// Parses suite text; `default_name` names a suite without `[suite] name`. Errors start with
/// `line N`.
pub fn parse_suite(
    text: &str,
    default_name: &str,
    hash: &str,
) -> std::result::Result<Suite, String> {
    let raw: RawSuite = toml::from_str(text).map_err(|e| describe_toml_error(text, &e))?;
    let header = raw.suite.unwrap_or(RawHeader {
        name: None,
        description: None,
        key: Vec::new(),
        sample: None,
    });
    let _ = header.description;
    let mut suite = Suite::new(
        header.name.unwrap_or_else(|| default_name.to_string()),
        hash,
        CheckSource::Kiroku,
    );
    suite.key = header.key;
    if let Some(sample) = header.sample {
        suite.sample_limit = sample;
    }
    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
    for spanned in raw.check {
        let span = spanned.span();
        let line = line_and_column(text, span.start).0;
        let raw = spanned.into_inner();
        let at = Located {
            text,
            span: span.clone(),
            line,
        };
        let mut check = parse_check(raw, &at)?;
        if check.id.is_empty() {
            check.id = default_id(&check, &ids);
        }
        if let Some(first) = ids.get(&check.id) {
            return Err(format!(
                "line {}: check id '{}' is used twice (first at line {first}); ids must be unique",
                at.key_line("id"),
                check.id
            ));
        }
        ids.insert(check.id.clone(), line);
        suite.checks.push(check);
    }
    Ok(suite)
}

/// A check's place in the text, for errors about its keys.
struct Located<'a> {
    text: &'a str,
    span: std::ops::Range<usize>,
    line: usize,
}

impl Located<'_> {
    /// The line of `key = …` within the check (the check's line when not found).
    fn key_line(&self, key: &str) -> usize {
        let body = self.text.get(self.span.clone()).unwrap_or_default();
        let mut offset = self.span.start;
        for line in body.split_inclusive('\n') {
            let trimmed = line.trim_start();
            let found = trimmed
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='));
            let inline = line.contains(&format!("{key} =")) || line.contains(&format!("{key}="));
            if found || (inline && !trimmed.starts_with('#')) {
                return line_and_column(self.text, offset).0;
            }
            offset += line.len();
        }
        self.line
    }

    fn error(&self, key: &str, message: impl std::fmt::Display) -> String {
        format!("line {}: {key}: {message}", self.key_line(key))
    }
}

fn default_id(check: &Check, ids: &BTreeMap<String, usize>) -> String {
    let columns = check.columns();
    let base = if columns.is_empty() {
        check.check_type.clone()
    } else {
        format!("{}-{}", check.check_type, columns.join("-"))
    };
    let mut id = base.clone();
    let mut n = 1;
    while ids.contains_key(&id) {
        n += 1;
        id = format!("{base}-{n}");
    }
    id
}

/// The keys set on a raw check, by name.
fn keys_set(raw: &RawCheck) -> Vec<&'static str> {
    let mut keys = Vec::new();
    macro_rules! set {
        ($($field:ident => $name:literal),* $(,)?) => {
            $(if raw.$field.is_some() { keys.push($name); })*
        };
    }
    set!(
        column => "column", columns => "columns", min => "min", max => "max",
        strict_min => "strict_min", strict_max => "strict_max", values => "values",
        pattern => "pattern", as_type => "as", format => "format", stat => "stat", q => "q",
        left => "left", op => "op", right => "right", value => "value", max_age => "max_age",
        min_share => "min_share", max_share => "max_share", shares => "shares",
        reference => "reference", method => "method", bins => "bins", other => "other",
        required => "required", forbidden => "forbidden", types => "types", exact => "exact",
        ordered => "ordered", mostly => "mostly",
    );
    keys
}

fn suggestion(word: &str, candidates: &[&str]) -> String {
    candidates
        .iter()
        .map(|c| (crate::suggest::edit_distance(word, c), *c))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, c)| format!(" (did you mean '{c}'?)"))
        .unwrap_or_default()
}

fn parse_check(raw: RawCheck, at: &Located<'_>) -> std::result::Result<Check, String> {
    let Some(type_name) = &raw.check_type else {
        return Err(format!(
            "line {}: check has no `type` (one of: {})",
            at.line,
            TYPES.iter().map(|(t, _)| *t).collect::<Vec<_>>().join(", ")
        ));
    };
    let type_line = line_and_column(at.text, type_name.span().start).0;
    let type_name = type_name.get_ref().as_str();
    let Some((_, allowed)) = TYPES.iter().find(|(t, _)| *t == type_name) else {
        let known: Vec<&str> = TYPES.iter().map(|(t, _)| *t).collect();
        return Err(format!(
            "line {type_line}: type: unknown check type '{type_name}'{}; known types: {}",
            suggestion(type_name, &known),
            known.join(", ")
        ));
    };
    for key in keys_set(&raw) {
        if !allowed.contains(&key) {
            return Err(at.error(
                key,
                format!(
                    "a {type_name} check takes no `{key}` (it takes {}, and {})",
                    allowed.join(", "),
                    COMMON_KEYS.join(", ")
                ),
            ));
        }
    }
    let column = |raw: &RawCheck| -> std::result::Result<String, String> {
        raw.column
            .clone()
            .ok_or_else(|| format!("line {}: a {type_name} check needs `column`", at.line))
    };
    let need = |value: Option<String>, key: &str| -> std::result::Result<String, String> {
        value.ok_or_else(|| format!("line {}: a {type_name} check needs `{key}`", at.line))
    };
    let columns_of = |raw: &RawCheck| -> std::result::Result<Vec<String>, String> {
        match (&raw.column, &raw.columns) {
            (Some(_), Some(_)) => Err(at.error("columns", "give `column` or `columns`, not both")),
            (Some(c), None) => Ok(vec![c.clone()]),
            (None, Some(cs)) if !cs.is_empty() => Ok(cs.clone()),
            _ => Err(format!(
                "line {}: a {type_name} check needs `column` or `columns`",
                at.line
            )),
        }
    };
    let kind = match type_name {
        "row_count" => CheckKind::RowCount,
        "column_count" => CheckKind::ColumnCount,
        "schema" => CheckKind::Schema(SchemaSpec {
            required: raw.required.clone().unwrap_or_default(),
            forbidden: raw.forbidden.clone().unwrap_or_default(),
            types: raw
                .types
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|(column, name)| {
                    parse_type(&name)
                        .map(|t| (column.clone(), t))
                        .map_err(|e| at.error("types", format!("'{column}': {e}")))
                })
                .collect::<std::result::Result<_, _>>()?,
            exact: raw.exact.unwrap_or(false),
            ordered: raw.ordered.unwrap_or(false),
        }),
        "not_null" => CheckKind::NotNull {
            column: column(&raw)?,
        },
        "unique" => CheckKind::Unique {
            columns: columns_of(&raw)?,
        },
        "between" => {
            if raw.min.is_none() && raw.max.is_none() {
                return Err(format!(
                    "line {}: a between check needs `min` or `max`",
                    at.line
                ));
            }
            CheckKind::Between {
                column: column(&raw)?,
                min: raw.min,
                max: raw.max,
                strict_min: raw.strict_min.unwrap_or(false),
                strict_max: raw.strict_max.unwrap_or(false),
            }
        }
        "in_set" | "not_in_set" => {
            let values = raw
                .values
                .clone()
                .ok_or_else(|| format!("line {}: a {type_name} check needs `values`", at.line))?
                .iter()
                .map(|v| literal(v).map_err(|e| at.error("values", e)))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            if type_name == "in_set" {
                CheckKind::InSet {
                    column: column(&raw)?,
                    values,
                }
            } else {
                CheckKind::NotInSet {
                    column: column(&raw)?,
                    values,
                }
            }
        }
        "regex" => {
            let pattern = need(raw.pattern.clone(), "pattern")?;
            if let Err(e) = regex::bytes::Regex::new(&pattern) {
                return Err(at.error("pattern", format!("does not compile: {e}")));
            }
            CheckKind::Regex {
                column: column(&raw)?,
                pattern,
            }
        }
        "length" => {
            let bound = |v: Option<f64>, key: &str| -> std::result::Result<Option<u64>, String> {
                match v {
                    None => Ok(None),
                    Some(v) if v >= 0.0 && v.fract() == 0.0 => Ok(Some(v as u64)),
                    Some(v) => {
                        Err(at.error(key, format!("a length is a whole number ≥ 0, not {v}")))
                    }
                }
            };
            if raw.min.is_none() && raw.max.is_none() {
                return Err(format!(
                    "line {}: a length check needs `min` or `max`",
                    at.line
                ));
            }
            CheckKind::Length {
                column: column(&raw)?,
                min: bound(raw.min, "min")?,
                max: bound(raw.max, "max")?,
            }
        }
        "parseable" => CheckKind::Parseable {
            column: column(&raw)?,
            as_type: parse_type(&need(raw.as_type.clone(), "as")?)
                .map_err(|e| at.error("as", e))?,
            format: raw.format.clone(),
        },
        "stat" => {
            let name = need(raw.stat.clone(), "stat")?;
            let stat = match name.as_str() {
                "mean" => Statistic::Mean,
                "median" => Statistic::Median,
                "std" | "stdev" => Statistic::Std,
                "min" => Statistic::Min,
                "max" => Statistic::Max,
                "sum" => Statistic::Sum,
                "quantile" => {
                    let q = raw.q.ok_or_else(|| {
                        format!("line {}: a quantile needs `q` (0 to 1)", at.line)
                    })?;
                    if !(0.0..=1.0).contains(&q) {
                        return Err(at.error("q", format!("{q} is not between 0 and 1")));
                    }
                    Statistic::Quantile(q)
                }
                "distinct_count" => Statistic::DistinctCount,
                "unique_proportion" => Statistic::UniqueProportion,
                "null_fraction" => Statistic::NullFraction,
                other => {
                    let known = [
                        "mean",
                        "median",
                        "std",
                        "min",
                        "max",
                        "sum",
                        "quantile",
                        "distinct_count",
                        "unique_proportion",
                        "null_fraction",
                    ];
                    return Err(at.error(
                        "stat",
                        format!(
                            "unknown statistic '{other}'{}; known: {}",
                            suggestion(other, &known),
                            known.join(", ")
                        ),
                    ));
                }
            };
            if raw.q.is_some() && !matches!(stat, Statistic::Quantile(_)) {
                return Err(at.error("q", "only a quantile takes `q`"));
            }
            CheckKind::Stat {
                column: column(&raw)?,
                stat,
            }
        }
        "compare" => {
            let op_text = need(raw.op.clone(), "op")?;
            let op = CompareOp::parse(&op_text).ok_or_else(|| {
                at.error(
                    "op",
                    format!("'{op_text}' is no comparison (use <, <=, ==, !=, >=, >)"),
                )
            })?;
            let right = match (&raw.right, &raw.value) {
                (Some(column), None) => Operand::Column(column.clone()),
                (None, Some(value)) => {
                    Operand::Value(literal(value).map_err(|e| at.error("value", e))?)
                }
                (Some(_), Some(_)) => {
                    return Err(at.error(
                        "value",
                        "give `right` (a column) or `value` (a literal), not both",
                    ))
                }
                (None, None) => {
                    return Err(format!(
                        "line {}: a compare check needs `right` (a column) or `value`",
                        at.line
                    ))
                }
            };
            CheckKind::Compare {
                left: need(raw.left.clone(), "left")?,
                op,
                right,
            }
        }
        "freshness" => CheckKind::Freshness {
            column: column(&raw)?,
        },
        "category_shares" => {
            for (key, share) in [("min_share", raw.min_share), ("max_share", raw.max_share)] {
                if share.is_some_and(|s| !(0.0..=1.0).contains(&s)) {
                    return Err(at.error(key, "a share is between 0 and 1"));
                }
            }
            CheckKind::CategoryShares {
                column: column(&raw)?,
                min_share: raw.min_share,
                max_share: raw.max_share,
                shares: raw
                    .shares
                    .clone()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(name, share)| {
                        (
                            name,
                            ShareBounds {
                                min: share.min,
                                max: share.max,
                            },
                        )
                    })
                    .collect(),
            }
        }
        "drift" => CheckKind::Drift {
            column: column(&raw)?,
            reference: need(raw.reference.clone(), "reference")?,
            method: match raw.method.as_deref().unwrap_or("auto") {
                "auto" => DriftMethod::Auto,
                "psi" => DriftMethod::Psi,
                "ks" => DriftMethod::Ks,
                "chi2" | "chisquare" | "chi_square" => DriftMethod::ChiSquare,
                "js" | "jensen_shannon" => DriftMethod::JensenShannon,
                other => {
                    return Err(at.error(
                        "method",
                        format!("unknown drift method '{other}' (auto, psi, ks, chi2 or js)"),
                    ))
                }
            },
            bins: match raw.bins {
                Some(bins) if !(2..=1000).contains(&bins) => {
                    return Err(at.error("bins", "bins are 2 to 1000"))
                }
                Some(bins) => bins,
                None => 10,
            },
        },
        "overlap" => CheckKind::Overlap {
            other: need(raw.other.clone(), "other")?,
            columns: columns_of(&raw)?,
        },
        _ => unreachable!("every type in TYPES is handled"),
    };
    let (warn, fail) = thresholds(&raw, &kind, type_name, at)?;
    Ok(Check {
        id: raw.id.clone().unwrap_or_default(),
        check_type: type_name.to_string(),
        dataset: raw.dataset.clone(),
        kind,
        warn,
        fail,
        sample_limit: raw.sample,
        semantics: Semantics::KIROKU,
    })
    .map(|mut check| {
        let _ = (&raw.name, &raw.description);
        if let Some(name) = &raw.name {
            if check.id.is_empty() {
                check.id = name.clone();
            }
        }
        check
    })
}

/// A column type by its name or a common alias (`int64`, `double`, `datetime`, `str`).
pub fn parse_type(name: &str) -> std::result::Result<ColumnType, String> {
    let lower = name.to_ascii_lowercase();
    Ok(match lower.as_str() {
        "int" | "integer" | "int8" | "int16" | "int32" | "int64" | "uint8" | "uint16"
        | "uint32" | "uint64" | "long" => ColumnType::Int,
        "float" | "float32" | "float64" | "double" | "number" | "decimal" => ColumnType::Float,
        "bool" | "boolean" => ColumnType::Bool,
        "date" => ColumnType::Date,
        "timestamp" | "datetime" => ColumnType::Timestamp,
        "string" | "str" | "text" | "utf8" => ColumnType::String,
        _ => {
            return Err(format!(
                "unknown type '{name}' (int, float, bool, date, timestamp or string)"
            ))
        }
    })
}

fn literal(value: &toml::Value) -> std::result::Result<Literal, String> {
    Ok(match value {
        toml::Value::String(s) => Literal::Text(s.clone()),
        toml::Value::Integer(i) => Literal::Number(*i as f64),
        toml::Value::Float(f) => Literal::Number(*f),
        toml::Value::Boolean(b) => Literal::Bool(*b),
        toml::Value::Datetime(d) => Literal::Text(d.to_string()),
        other => {
            return Err(format!(
                "{other} is no plain value (a string, number or bool)"
            ))
        }
    })
}

/// A duration like `36h`, `90m`, `7d`, `30s`, `1w` in seconds.
pub fn parse_duration(text: &str) -> std::result::Result<f64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is no duration (like 30s, 90m, 36h, 7d, 2w)"))?;
    let seconds = match unit.trim() {
        "s" | "sec" | "secs" | "seconds" => 1.0,
        "m" | "min" | "mins" | "minutes" => 60.0,
        "h" | "hour" | "hours" => 3600.0,
        "d" | "day" | "days" => 86_400.0,
        "w" | "week" | "weeks" => 604_800.0,
        _ => {
            return Err(format!(
                "'{text}' is no duration (like 30s, 90m, 36h, 7d, 2w)"
            ))
        }
    };
    Ok(number * seconds)
}

fn thresholds(
    raw: &RawCheck,
    kind: &CheckKind,
    type_name: &str,
    at: &Located<'_>,
) -> std::result::Result<(Option<Threshold>, Option<Threshold>), String> {
    let metric = kind.is_metric();
    let freshness = matches!(kind, CheckKind::Freshness { .. });
    let convert = |key: &str, t: &RawThreshold| -> std::result::Result<Threshold, String> {
        let row_keys = [
            ("max_count", t.max_count.is_some()),
            ("max_percent", t.max_percent.is_some()),
            ("mostly", t.mostly.is_some()),
        ];
        let metric_keys = [
            ("min", t.min.is_some()),
            ("max", t.max.is_some()),
            ("strict_min", t.strict_min.is_some()),
            ("strict_max", t.strict_max.is_some()),
        ];
        let wrong = if metric {
            row_keys.iter().find(|(_, set)| *set).map(|(k, _)| *k)
        } else {
            metric_keys.iter().find(|(_, set)| *set).map(|(k, _)| *k)
        };
        if let Some(bound) =
            wrong.or_else(|| (t.max_age.is_some() && !freshness).then_some("max_age"))
        {
            let takes = if freshness {
                "max_age (or max, in seconds)"
            } else if metric {
                "min, max, strict_min, strict_max"
            } else {
                "max_count, max_percent, mostly"
            };
            return Err(at.error(
                key,
                format!("a {type_name} threshold takes {takes}, not `{bound}`"),
            ));
        }
        if t.mostly.is_some_and(|m| !(0.0..=1.0).contains(&m)) {
            return Err(at.error(key, "mostly is a fraction between 0 and 1"));
        }
        let mut threshold = Threshold {
            min: t.min,
            max: t.max,
            strict_min: t.strict_min.unwrap_or(false),
            strict_max: t.strict_max.unwrap_or(false),
            max_count: t.max_count,
            max_percent: t.max_percent,
            mostly: t.mostly,
        };
        if let Some(age) = &t.max_age {
            threshold.max = Some(parse_duration(age).map_err(|e| at.error(key, e))?);
        }
        Ok(threshold)
    };
    let warn = raw.warn.as_ref().map(|t| convert("warn", t)).transpose()?;
    let mut fail = raw.fail.as_ref().map(|t| convert("fail", t)).transpose()?;
    // Sugar: top-level bounds are the fail bounds.
    let top_metric = metric && (raw.min.is_some() || raw.max.is_some() || raw.max_age.is_some());
    if top_metric || raw.mostly.is_some() {
        if raw.fail.is_some() {
            let key = if raw.mostly.is_some() {
                "mostly"
            } else if raw.max_age.is_some() {
                "max_age"
            } else if raw.min.is_some() {
                "min"
            } else {
                "max"
            };
            return Err(at.error(
                key,
                "give the fail bounds at the top or in `fail`, not both",
            ));
        }
        let mut threshold = Threshold::default();
        if top_metric {
            threshold.min = raw.min;
            threshold.max = raw.max;
            threshold.strict_min = raw.strict_min.unwrap_or(false);
            threshold.strict_max = raw.strict_max.unwrap_or(false);
            if let Some(age) = &raw.max_age {
                threshold.max = Some(parse_duration(age).map_err(|e| at.error("max_age", e))?);
            }
        }
        if let Some(mostly) = raw.mostly {
            if !(0.0..=1.0).contains(&mostly) {
                return Err(at.error("mostly", "mostly is a fraction between 0 and 1"));
            }
            threshold.mostly = Some(mostly);
        }
        fail = Some(threshold);
    }
    if let CheckKind::Drift { method, .. } = kind {
        if warn.is_none() && fail.is_none() {
            // Defaults per method: PSI 0.1/0.25, JS 0.1/0.2, KS D 0.1/0.2, chi-square p 0.05/0.01.
            let (w, f) = match method {
                DriftMethod::ChiSquare => (
                    Threshold::between(Some(0.05), None),
                    Threshold::between(Some(0.01), None),
                ),
                DriftMethod::Psi | DriftMethod::Auto => (
                    Threshold::between(None, Some(0.1)),
                    Threshold::between(None, Some(0.25)),
                ),
                _ => (
                    Threshold::between(None, Some(0.1)),
                    Threshold::between(None, Some(0.2)),
                ),
            };
            return Ok((Some(w), Some(f)));
        }
    }
    if metric && warn.is_none() && fail.is_none() {
        return Err(format!(
            "line {}: a {type_name} check needs bounds: `min`/`max`{} at the top, or `warn`/`fail` tables",
            at.line,
            if freshness { " or `max_age`" } else { "" }
        ));
    }
    Ok((warn, fail))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> std::result::Result<Suite, String> {
        parse_suite(text, "s", "sha256:0")
    }

    #[test]
    fn a_full_suite_parses_into_checks_with_thresholds() {
        let suite = parse(
            r#"
[suite]
name = "train"
key = ["id"]
sample = 5

[[check]]
id = "rows"
type = "row_count"
fail = { min = 100 }
warn = { min = 150, max = 1000 }

[[check]]
type = "between"
column = "age"
min = 0
max = 120
mostly = 0.99

[[check]]
id = "fresh"
type = "freshness"
column = "ts"
max_age = "36h"

[[check]]
id = "s"
type = "stat"
column = "x"
stat = "quantile"
q = 0.9
max = 5
"#,
        )
        .unwrap();
        assert_eq!(suite.name, "train");
        assert_eq!(suite.key, vec!["id"]);
        assert_eq!(suite.sample_limit, 5);
        assert_eq!(suite.checks.len(), 4);
        assert_eq!(
            suite.checks[0].fail,
            Some(Threshold::between(Some(100.0), None))
        );
        assert_eq!(suite.checks[1].id, "between-age");
        assert_eq!(suite.checks[1].fail, Some(Threshold::mostly(0.99)));
        assert_eq!(suite.checks[2].fail.unwrap().max, Some(36.0 * 3600.0));
        assert!(
            matches!(suite.checks[3].kind, CheckKind::Stat { stat: Statistic::Quantile(q), .. } if q == 0.9)
        );
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line() {
        let error =
            parse("[[check]]\ntype = \"not_null\"\ncolumn = \"a\"\ncolumnn = \"b\"\n").unwrap_err();
        assert!(error.starts_with("line 4"), "{error}");
        assert!(error.contains("columnn"), "{error}");
        let error = parse("[suite]\nnmae = \"x\"\n").unwrap_err();
        assert!(error.starts_with("line 2"), "{error}");
        let error = parse(
            "[[check]]\ntype = \"between\"\ncolumn = \"a\"\nmin = 1\nfail = { max_cont = 1 }\n",
        )
        .unwrap_err();
        assert!(error.starts_with("line 5"), "{error}");
        assert!(error.contains("max_cont"), "{error}");
    }

    #[test]
    fn a_misspelled_type_is_named_with_its_line_and_a_suggestion() {
        let error = parse("\n[[check]]\ncolumn = \"a\"\ntype = \"betwen\"\n").unwrap_err();
        assert!(error.starts_with("line 4"), "{error}");
        assert!(error.contains("did you mean 'between'"), "{error}");
    }

    #[test]
    fn a_key_of_another_type_and_a_wrong_threshold_are_errors_on_their_lines() {
        let error =
            parse("[[check]]\ntype = \"not_null\"\ncolumn = \"a\"\npattern = \"x\"\n").unwrap_err();
        assert!(error.starts_with("line 4: pattern"), "{error}");
        let error =
            parse("[[check]]\ntype = \"row_count\"\nfail = { max_percent = 1 }\n").unwrap_err();
        assert!(error.starts_with("line 3: fail"), "{error}");
        let error = parse("[[check]]\ntype = \"row_count\"\n").unwrap_err();
        assert!(error.contains("needs bounds"), "{error}");
        let error = parse("[[check]]\nid = \"a\"\ntype = \"row_count\"\nmin = 1\n[[check]]\nid = \"a\"\ntype = \"row_count\"\nmin = 2\n").unwrap_err();
        assert!(error.starts_with("line 6"), "{error}");
        let error =
            parse("[[check]]\ntype = \"regex\"\ncolumn = \"a\"\npattern = \"(\"\n").unwrap_err();
        assert!(error.starts_with("line 4: pattern"), "{error}");
    }

    #[test]
    fn durations_read_in_common_units() {
        assert_eq!(parse_duration("36h"), Ok(129_600.0));
        assert_eq!(parse_duration("90m"), Ok(5400.0));
        assert_eq!(parse_duration("1.5d"), Ok(129_600.0));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5 parsecs").is_err());
    }
}
