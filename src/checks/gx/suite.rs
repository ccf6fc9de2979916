//! A Great Expectations expectation suite's JSON, parsed: 1.x (`{"name", "expectations":
//! [{"type", "kwargs", "meta", "id"}]}`) and 0.x (`expectation_suite_name`,
//! `expectation_type`, `ge_cloud_id`). Each expectation becomes a typed [`Expectation`], or, for a
//! type kiroku does not run, [`Parsed::Unsupported`], or, for kwargs GX would refuse,
//! [`Parsed::Invalid`] with the reason; the suite as a whole fails to parse only when it is not
//! a suite at all.
use crate::error::{KirokuError, Result};
use serde_json::{Map, Value};

/// A parsed suite.
#[derive(Debug, Clone)]
pub struct GxSuite {
    pub name: String,
    pub expectations: Vec<GxExpectation>,
}

/// One expectation as the suite wrote it, and what kiroku makes of it.
#[derive(Debug, Clone)]
pub struct GxExpectation {
    /// Its type as written (`expect_column_values_to_be_between`).
    pub type_name: String,
    pub kwargs: Map<String, Value>,
    pub meta: Value,
    pub id: Option<String>,
    /// GX 1.x `severity` (`critical`, `warning`, `info`); a failed `warning`/`info` is `warn`.
    pub severity: Option<String>,
    pub parsed: Parsed,
}

/// What kiroku makes of one expectation.
#[derive(Debug, Clone)]
pub enum Parsed {
    Run(Expectation),
    /// A type (or a kwarg like `row_condition`) kiroku does not run: reported as `unsupported`
    /// with this reason, never skipped.
    Unsupported(String),
    /// Kwargs GX refuses (a missing column, `mostly` outside 0..1): reported as `error`.
    Invalid(String),
}

/// `min_value`/`max_value` with `strict_min`/`strict_max`; a `None` bound is open.
///
/// GX's pydantic models read the bounds as floats (`Comparable`: a number, or a string that
/// parses as one; dates, which kiroku does not compare, also pass there) or as ints (row
/// counts, unique-value counts, lengths: a float is truncated, as pydantic v1 does).
#[derive(Debug, Clone, PartialEq)]
pub struct Bounds {
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub strict_min: bool,
    pub strict_max: bool,
}

/// A column statistic an aggregate expectation bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    Mean,
    Median,
    /// Sample standard deviation (pandas' `std()`, ddof = 1).
    Stdev,
    Min,
    Max,
    UniqueValueCount,
    ProportionOfUniqueValues,
}

/// What a column map expectation tests on each non-null value.
#[derive(Debug, Clone, PartialEq)]
pub enum MapTest {
    /// Nulls are the unexpected values (the one map test that looks at them).
    NotNull,
    Between(Bounds),
    InSet(Option<Vec<Value>>),
    NotInSet(Option<Vec<Value>>),
    /// Every row of a repeated value is unexpected.
    Unique,
    MatchRegex(String),
    LengthsBetween(Bounds),
}

/// Which rows a column-pair expectation leaves out (GX `ignore_row_if`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairIgnore {
    BothMissing,
    EitherMissing,
    Neither,
}

/// Which rows a multicolumn expectation leaves out (GX `ignore_row_if`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultiIgnore {
    AllMissing,
    AnyMissing,
    Never,
}

/// An expectation kiroku runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Expectation {
    TableRowCount(Bounds),
    TableColumnsMatchSet {
        column_set: Option<Vec<String>>,
        exact_match: bool,
    },
    TableColumnsMatchOrderedList {
        column_list: Option<Vec<String>>,
    },
    ColumnToExist {
        column: String,
        column_index: Option<i64>,
    },
    ColumnMap {
        column: String,
        mostly: f64,
        test: MapTest,
    },
    ColumnAggregate {
        column: String,
        stat: Stat,
        bounds: Bounds,
    },
    CompoundColumnsUnique {
        columns: Vec<String>,
        mostly: f64,
        ignore: MultiIgnore,
    },
    ColumnPairAGreaterThanB {
        column_a: String,
        column_b: String,
        or_equal: bool,
        mostly: f64,
        ignore: PairIgnore,
    },
}

impl Expectation {
    /// The columns whose cells this expectation reads.
    pub fn columns(&self) -> Vec<String> {
        match self {
            Expectation::ColumnMap { column, .. } | Expectation::ColumnAggregate { column, .. } => {
                vec![column.clone()]
            }
            Expectation::CompoundColumnsUnique { columns, .. } => columns.clone(),
            Expectation::ColumnPairAGreaterThanB {
                column_a, column_b, ..
            } => vec![column_a.clone(), column_b.clone()],
            Expectation::TableRowCount(_)
            | Expectation::TableColumnsMatchSet { .. }
            | Expectation::TableColumnsMatchOrderedList { .. }
            | Expectation::ColumnToExist { .. } => Vec::new(),
        }
    }
}

/// Whether `text` is a GX expectation suite (a JSON object with an `expectations` list), so
/// `kiroku check` can pick the dialect by content.
pub fn looks_like_gx_suite(text: &str) -> bool {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if !trimmed.starts_with('{') {
        return false;
    }
    serde_json::from_str::<Value>(trimmed)
        .ok()
        .and_then(|value| value.get("expectations").map(Value::is_array))
        .unwrap_or(false)
}

/// Parses a suite's JSON text; `source` names it in errors.
pub fn parse_suite(text: &str, source: &str) -> Result<GxSuite> {
    let text = text.trim_start_matches('\u{feff}');
    let value: Value = serde_json::from_str(text).map_err(|error| {
        KirokuError::Invalid(format!(
            "{source}, line {}, column {}: not valid JSON: {error}",
            error.line(),
            error.column()
        ))
    })?;
    let Value::Object(object) = value else {
        return Err(KirokuError::Invalid(format!(
            "{source}: a GX expectation suite is a JSON object with \"expectations\""
        )));
    };
    let name = ["name", "expectation_suite_name"]
        .iter()
        .find_map(|key| object.get(*key).and_then(Value::as_str))
        .unwrap_or("")
        .to_string();
    let Some(Value::Array(list)) = object.get("expectations") else {
        return Err(KirokuError::Invalid(format!(
            "{source}: the key \"expectations\" must be a list of expectations"
        )));
    };
    let expectations = list
        .iter()
        .enumerate()
        .map(|(index, item)| parse_expectation(item, source, index))
        .collect::<Result<Vec<_>>>()?;
    Ok(GxSuite { name, expectations })
}

fn parse_expectation(item: &Value, source: &str, index: usize) -> Result<GxExpectation> {
    let where_ = format!("{source}: expectations[{index}]");
    let Value::Object(object) = item else {
        return Err(KirokuError::Invalid(format!(
            "{where_} is not a JSON object"
        )));
    };
    let type_name = ["type", "expectation_type"]
        .iter()
        .find_map(|key| object.get(*key).and_then(Value::as_str))
        .ok_or_else(|| {
            KirokuError::Invalid(format!(
                "{where_} has no \"type\" (or 0.x \"expectation_type\")"
            ))
        })?
        .to_string();
    let kwargs = match object.get("kwargs") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(kwargs)) => kwargs.clone(),
        Some(_) => {
            return Err(KirokuError::Invalid(format!(
                "{where_} (\"{type_name}\"): \"kwargs\" must be an object"
            )))
        }
    };
    let id = ["id", "ge_cloud_id"]
        .iter()
        .find_map(|key| object.get(*key).and_then(Value::as_str))
        .map(str::to_string);
    let severity = object
        .get("severity")
        .and_then(Value::as_str)
        .map(str::to_string);
    let parsed = match (
        unsupported_kwarg(&kwargs),
        typed(&type_name, &Kwargs(&kwargs)),
    ) {
        (Some(key), _) => Parsed::Unsupported(format!(
            "kiroku does not evaluate GX's \"{key}\" kwarg; {type_name} is reported, not checked"
        )),
        (None, Ok(Some(expectation))) => Parsed::Run(expectation),
        (None, Ok(None)) => Parsed::Unsupported(format!(
            "kiroku does not run {type_name} natively; it is reported, not checked"
        )),
        (None, Err(reason)) => Parsed::Invalid(format!("{where_} (\"{type_name}\"): {reason}")),
    };
    Ok(GxExpectation {
        type_name,
        kwargs,
        meta: object.get("meta").cloned().unwrap_or(Value::Null),
        id,
        severity,
        parsed,
    })
}

/// A kwarg that changes which rows or values GX checks and that kiroku does not evaluate
/// (`row_condition`, 0.x `parse_strings_as_datetimes`, `allow_cross_type_comparisons`): an
/// expectation using one is reported `unsupported` rather than checked on the wrong rows.
fn unsupported_kwarg(kwargs: &Map<String, Value>) -> Option<&'static str> {
    let set = |value: &Value| !matches!(value, Value::Null | Value::Bool(false)) && value != "";
    [
        "row_condition",
        "parse_strings_as_datetimes",
        "allow_cross_type_comparisons",
    ]
    .into_iter()
    .find(|key| kwargs.get(*key).is_some_and(set))
}

/// Typed access to an expectation's kwargs, with GX's refusals as messages.
struct Kwargs<'a>(&'a Map<String, Value>);

type KwargResult<T> = std::result::Result<T, String>;

impl Kwargs<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        match self.0.get(key) {
            None | Some(Value::Null) => None,
            Some(value) => Some(value),
        }
    }

    fn refuse_parameters(&self) -> KwargResult<()> {
        for (key, value) in self.0 {
            if value.get("$PARAMETER").is_some() {
                return Err(format!(
                    "kwarg \"{key}\" is a suite parameter ($PARAMETER), which kiroku does not evaluate"
                ));
            }
        }
        Ok(())
    }

    fn string(&self, key: &str) -> KwargResult<String> {
        match self.get(key) {
            Some(Value::String(text)) => Ok(text.clone()),
            Some(other) => Err(format!("kwarg \"{key}\" must be a string, not {other}")),
            None => Err(format!("kwarg \"{key}\" is required")),
        }
    }

    fn column(&self) -> KwargResult<String> {
        self.string("column")
    }

    fn bool_or(&self, key: &str, default: bool) -> KwargResult<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(flag)) => Ok(*flag),
            Some(other) => Err(format!(
                "kwarg \"{key}\" must be true or false, not {other}"
            )),
        }
    }

    fn mostly(&self) -> KwargResult<f64> {
        match self.get("mostly") {
            None => Ok(1.0),
            Some(value) => match value.as_f64() {
                Some(mostly) if (0.0..=1.0).contains(&mostly) => Ok(mostly),
                _ => Err(format!(
                    "kwarg \"mostly\" must be a number from 0 to 1, not {value}"
                )),
            },
        }
    }

    /// `min_value`/`max_value` as GX's pydantic fields read them: floats, or ints with
    /// `integers` (a float truncated toward zero, a string of an integer read as one).
    fn bounds(&self, integers: bool) -> KwargResult<Bounds> {
        let bound = |key: &str| -> KwargResult<Option<f64>> {
            let Some(value) = self.get(key) else {
                return Ok(None);
            };
            let number = match value {
                Value::Number(number) => number.as_f64(),
                Value::Bool(flag) => Some(f64::from(u8::from(*flag))),
                Value::String(text) if integers => {
                    text.trim().parse::<i64>().ok().map(|int| int as f64)
                }
                Value::String(text) => python_float(text),
                _ => None,
            };
            match number {
                Some(number) if integers => Ok(Some(number.trunc())),
                Some(number) => Ok(Some(number)),
                None if integers => Err(format!("kwarg \"{key}\" must be an integer, not {value}")),
                None => Err(format!(
                    "kwarg \"{key}\" must be a number, not {value} (GX also takes dates here, which kiroku does not compare)"
                )),
            }
        };
        Ok(Bounds {
            min: bound("min_value")?,
            max: bound("max_value")?,
            strict_min: self.bool_or("strict_min", false)?,
            strict_max: self.bool_or("strict_max", false)?,
        })
    }

    fn strings(&self, key: &str) -> KwargResult<Option<Vec<String>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_str().map(str::to_string).ok_or_else(|| {
                        format!("kwarg \"{key}\" must be a list of column names, but holds {item}")
                    })
                })
                .collect::<KwargResult<Vec<_>>>()
                .map(Some),
            Some(other) => Err(format!(
                "kwarg \"{key}\" must be a list of column names, not {other}"
            )),
        }
    }

    fn value_set(&self) -> KwargResult<Option<Vec<Value>>> {
        match self.get("value_set") {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items.clone())),
            Some(other) => Err(format!("kwarg \"value_set\" must be a list, not {other}")),
        }
    }
}

/// Python's `float(text)`: a decimal or exponent number, `inf`/`infinity`/`nan` in any case,
/// underscores between digits, spaces around.
fn python_float(text: &str) -> Option<f64> {
    let trimmed = text.trim();
    if trimmed.starts_with('_') || trimmed.ends_with('_') || trimmed.contains("__") {
        return None;
    }
    trimmed.replace('_', "").parse().ok()
}

/// The typed expectation for `type_name`, `None` for a type kiroku does not run.
fn typed(type_name: &str, kwargs: &Kwargs) -> KwargResult<Option<Expectation>> {
    let stat = |stat: Stat| -> KwargResult<Expectation> {
        let integers = stat == Stat::UniqueValueCount;
        Ok(Expectation::ColumnAggregate {
            column: kwargs.column()?,
            stat,
            bounds: kwargs.bounds(integers)?,
        })
    };
    let map = |test: MapTest| -> KwargResult<Expectation> {
        Ok(Expectation::ColumnMap {
            column: kwargs.column()?,
            mostly: kwargs.mostly()?,
            test,
        })
    };
    let known = matches!(
        type_name,
        "expect_table_row_count_to_be_between"
            | "expect_table_row_count_to_equal"
            | "expect_table_columns_to_match_set"
            | "expect_table_columns_to_match_ordered_list"
            | "expect_column_to_exist"
            | "expect_column_values_to_not_be_null"
            | "expect_column_values_to_be_between"
            | "expect_column_values_to_be_in_set"
            | "expect_column_values_to_not_be_in_set"
            | "expect_column_values_to_be_unique"
            | "expect_column_values_to_match_regex"
            | "expect_column_value_lengths_to_be_between"
            | "expect_column_mean_to_be_between"
            | "expect_column_median_to_be_between"
            | "expect_column_stdev_to_be_between"
            | "expect_column_min_to_be_between"
            | "expect_column_max_to_be_between"
            | "expect_column_unique_value_count_to_be_between"
            | "expect_column_proportion_of_unique_values_to_be_between"
            | "expect_compound_columns_to_be_unique"
            | "expect_column_pair_values_a_to_be_greater_than_b"
    );
    if !known {
        return Ok(None);
    }
    kwargs.refuse_parameters()?;
    let expectation = match type_name {
        "expect_table_row_count_to_be_between" => {
            let bounds = kwargs.bounds(true)?;
            if let (Some(min), Some(max)) = (bounds.min, bounds.max) {
                if min > max {
                    return Err(format!("min_value ({min}) must be less than or equal to max_value ({max})"));
                }
            }
            Expectation::TableRowCount(bounds)
        }
        "expect_table_row_count_to_equal" => {
            let value = kwargs
                .get("value")
                .and_then(Value::as_f64)
                .ok_or("kwarg \"value\" must be a number")?
                .trunc();
            Expectation::TableRowCount(Bounds {
                min: Some(value),
                max: Some(value),
                strict_min: false,
                strict_max: false,
            })
        }
        "expect_table_columns_to_match_set" => Expectation::TableColumnsMatchSet {
            column_set: kwargs.strings("column_set")?,
            exact_match: kwargs.bool_or("exact_match", true)?,
        },
        "expect_table_columns_to_match_ordered_list" => Expectation::TableColumnsMatchOrderedList {
            column_list: kwargs.strings("column_list")?,
        },
        "expect_column_to_exist" => Expectation::ColumnToExist {
            column: kwargs.column()?,
            column_index: match kwargs.get("column_index") {
                None => None,
                Some(value) => Some(value.as_i64().ok_or_else(|| format!("kwarg \"column_index\" must be an integer, not {value}"))?),
            },
        },
        "expect_column_values_to_not_be_null" => map(MapTest::NotNull)?,
        "expect_column_values_to_be_between" => {
            let bounds = kwargs.bounds(false)?;
            if bounds.min.is_none() && bounds.max.is_none() {
                return Err("min_value and max_value cannot both be None".to_string());
            }
            map(MapTest::Between(bounds))?
        }
        "expect_column_values_to_be_in_set" => map(MapTest::InSet(kwargs.value_set()?))?,
        "expect_column_values_to_not_be_in_set" => map(MapTest::NotInSet(kwargs.value_set()?))?,
        "expect_column_values_to_be_unique" => map(MapTest::Unique)?,
        "expect_column_values_to_match_regex" => map(MapTest::MatchRegex(kwargs.string("regex")?))?,
        "expect_column_value_lengths_to_be_between" => map(MapTest::LengthsBetween(kwargs.bounds(true)?))?,
        "expect_column_mean_to_be_between" => stat(Stat::Mean)?,
        "expect_column_median_to_be_between" => stat(Stat::Median)?,
        "expect_column_stdev_to_be_between" => stat(Stat::Stdev)?,
        "expect_column_min_to_be_between" => stat(Stat::Min)?,
        "expect_column_max_to_be_between" => stat(Stat::Max)?,
        "expect_column_unique_value_count_to_be_between" => stat(Stat::UniqueValueCount)?,
        "expect_column_proportion_of_unique_values_to_be_between" => stat(Stat::ProportionOfUniqueValues)?,
        "expect_compound_columns_to_be_unique" => Expectation::CompoundColumnsUnique {
            columns: kwargs.strings("column_list")?.ok_or("kwarg \"column_list\" is required")?,
            mostly: kwargs.mostly()?,
            ignore: match kwargs.get("ignore_row_if").and_then(Value::as_str) {
                None | Some("all_values_are_missing") => MultiIgnore::AllMissing,
                Some("any_value_is_missing") => MultiIgnore::AnyMissing,
                Some("never") => MultiIgnore::Never,
                Some(other) => return Err(format!("kwarg \"ignore_row_if\" must be all_values_are_missing, any_value_is_missing or never, not \"{other}\"")),
            },
        },
        "expect_column_pair_values_a_to_be_greater_than_b" => Expectation::ColumnPairAGreaterThanB {
            column_a: kwargs.string("column_A")?,
            column_b: kwargs.string("column_B")?,
            or_equal: kwargs.bool_or("or_equal", false)?,
            mostly: kwargs.mostly()?,
            ignore: match kwargs.get("ignore_row_if").and_then(Value::as_str) {
                None | Some("both_values_are_missing") => PairIgnore::BothMissing,
                Some("either_value_is_missing") => PairIgnore::EitherMissing,
                Some("neither") => PairIgnore::Neither,
                Some(other) => return Err(format!("kwarg \"ignore_row_if\" must be both_values_are_missing, either_value_is_missing or neither, not \"{other}\"")),
            },
        },
        _ => return Ok(None),
    };
    Ok(Some(expectation))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_of_suites_and_expectations_parse() {
        let suite = parse_suite(
            r#"{"expectation_suite_name": "old", "expectations": [
                {"expectation_type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}},
                {"type": "expect_column_kl_divergence_to_be_less_than", "kwargs": {"column": "x"}},
                {"type": "expect_column_values_to_be_between", "kwargs": {"column": "x", "min_value": 0, "mostly": 2}}
            ]}"#,
            "suite.json",
        )
        .unwrap();
        assert_eq!(suite.name, "old");
        assert!(matches!(
            suite.expectations[0].parsed,
            Parsed::Run(Expectation::ColumnMap {
                test: MapTest::Unique,
                ..
            })
        ));
        assert!(matches!(
            suite.expectations[1].parsed,
            Parsed::Unsupported(_)
        ));
        let Parsed::Invalid(reason) = &suite.expectations[2].parsed else {
            panic!()
        };
        assert!(
            reason.contains("expectations[2]") && reason.contains("mostly"),
            "{reason}"
        );
    }

    #[test]
    fn a_file_that_is_not_a_suite_is_an_error_naming_where() {
        let error = parse_suite("{\n\"expectations\": [1,]}", "s.json")
            .unwrap_err()
            .to_string();
        assert!(error.contains("s.json, line 2"), "{error}");
        assert!(looks_like_gx_suite(
            " {\"name\": \"x\", \"expectations\": []}"
        ));
        assert!(!looks_like_gx_suite("[suite]\nname = \"x\""));
    }
}
