//! Runs parsed GX expectations on a [`Frame`] with GX's own semantics (its pandas engine, 1.x),
//! producing one [`GxOutcome`] per expectation.
//!
//! GX's rules this follows (from `great_expectations/expectations/expectation.py` and the
//! pandas metric providers):
//! - Map expectations look at non-null values only; `element_count` is the row count,
//!   `missing_count` the nulls, `unexpected_percent` is of the non-null rows; success is
//!   `(nonnull − unexpected) / nonnull ≥ mostly`, and is vacuously true with no rows or no
//!   non-null ones. `not_be_null` is the exception: nulls are what it counts, its percent is of
//!   all rows, and it reports no `missing_count`.
//! - `unique` marks *every* row of a repeated value (pandas `duplicated(keep=False)`), and
//!   compound uniqueness does the same on the column tuple, where nulls equal each other; it
//!   leaves out the rows where all listed columns are null (`ignore_row_if`).
//! - A column pair leaves out rows where both values are null; a row with one null fails the
//!   comparison (NaN compares false).
//! - Aggregates: pandas' `mean`, `median`, `std` (sample, ddof = 1), `min`, `max`, `nunique`,
//!   all skipping nulls; a statistic that is NaN or absent fails with `observed_value` null.
//! - Bounds: an absent `min_value`/`max_value` is open; `strict_*` make them exclusive; a map
//!   `between` with both absent, or with `min > max`, raises in GX and is an `error` here, as is
//!   comparing strings with numbers.
//! - Row indices are 0-based data rows (pandas' default index).
use super::frame::{Cell, Column, Dtype, Frame};
use super::python::{compile_python_regex, python_str};
use super::suite::{Bounds, Expectation, MapTest, MultiIgnore, PairIgnore, Stat};
use serde_json::{json, Value};
use std::cmp::Ordering;
use std::collections::HashMap;

/// What one expectation found, in GX's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub success: bool,
    /// Aggregate and table expectations' `observed_value`.
    pub observed_value: Option<Value>,
    pub element_count: Option<u64>,
    pub missing_count: Option<u64>,
    pub unexpected_count: Option<u64>,
    pub unexpected_percent: Option<f64>,
    /// Every unexpected row (0-based), ascending.
    pub unexpected_rows: Vec<u64>,
    /// GX's `details` (the mismatched columns of the table-column expectations).
    pub details: Value,
}

impl Evaluation {
    fn table(success: bool, observed_value: Value, details: Value) -> Evaluation {
        Evaluation {
            success,
            observed_value: Some(observed_value),
            element_count: None,
            missing_count: None,
            unexpected_count: None,
            unexpected_percent: None,
            unexpected_rows: Vec::new(),
            details,
        }
    }
}

/// An expectation that raised in GX (an `error` here), with the reason.
pub type Raised = String;

/// Runs `expectation` on `frame`.
pub fn evaluate(expectation: &Expectation, frame: &Frame) -> Result<Evaluation, Raised> {
    for column in expectation.columns() {
        if frame.column(&column).is_none() {
            return Err(format!(
                "the column '{column}' is not in the data (its columns: {})",
                frame.columns.join(", ")
            ));
        }
    }
    let column = |name: &str| frame.column(name).expect("checked above");
    match expectation {
        Expectation::TableRowCount(bounds) => {
            let success = within(Scalar::Number(frame.rows as f64), bounds)?;
            Ok(Evaluation::table(
                success,
                Value::from(frame.rows as u64),
                Value::Null,
            ))
        }
        Expectation::TableColumnsMatchSet {
            column_set,
            exact_match,
        } => Ok(columns_match_set(
            &frame.columns,
            column_set.as_deref(),
            *exact_match,
        )),
        Expectation::TableColumnsMatchOrderedList { column_list } => {
            Ok(columns_match_list(&frame.columns, column_list.as_deref()))
        }
        Expectation::ColumnToExist {
            column,
            column_index,
        } => {
            let success = match column_index {
                // GX tests `if column_index:`, so 0 means "anywhere".
                Some(index) if *index != 0 => {
                    let count = frame.columns.len() as i64;
                    let at = if *index < 0 { count + index } else { *index };
                    (0..count).contains(&at) && frame.columns[at as usize] == *column
                }
                _ => frame.columns.contains(column),
            };
            Ok(Evaluation {
                observed_value: None,
                ..Evaluation::table(success, Value::Null, Value::Null)
            })
        }
        Expectation::ColumnMap {
            column: name,
            mostly,
            test,
        } => column_map(column(name), *mostly, test),
        Expectation::ColumnAggregate {
            column: name,
            stat,
            bounds,
        } => {
            let observed = statistic(column(name), *stat)?;
            match observed {
                None => Ok(Evaluation::table(false, Value::Null, Value::Null)),
                Some(observed) => {
                    let success = within(scalar(observed), bounds)?;
                    Ok(Evaluation::table(success, observed.to_json(), Value::Null))
                }
            }
        }
        Expectation::CompoundColumnsUnique {
            columns,
            mostly,
            ignore,
        } => {
            let columns: Vec<&Column> = columns.iter().map(|name| column(name)).collect();
            Ok(compound_unique(&columns, frame.rows, *mostly, *ignore))
        }
        Expectation::ColumnPairAGreaterThanB {
            column_a,
            column_b,
            or_equal,
            mostly,
            ignore,
        } => pair_greater(
            column(column_a),
            column(column_b),
            *or_equal,
            *mostly,
            *ignore,
        ),
    }
}

/// GX's `_mostly_success`.
fn mostly_success(considered: usize, unexpected: usize, mostly: f64) -> bool {
    (considered as f64 - unexpected as f64) / considered as f64 >= mostly
}

/// A map expectation's counts as GX's `_format_map_output` reports them.
fn map_output(
    rows: usize,
    considered: Option<usize>,
    unexpected: Vec<u64>,
    success: bool,
) -> Evaluation {
    let unexpected_count = unexpected.len();
    let unexpected_percent = match considered {
        _ if rows == 0 => None,
        None => Some(unexpected_count as f64 / rows as f64 * 100.0),
        Some(0) => None,
        Some(considered) => Some(unexpected_count as f64 / considered as f64 * 100.0),
    };
    Evaluation {
        success,
        observed_value: None,
        element_count: Some(rows as u64),
        missing_count: considered.map(|considered| (rows - considered) as u64),
        unexpected_count: Some(unexpected_count as u64),
        unexpected_percent,
        unexpected_rows: unexpected,
        details: Value::Null,
    }
}

fn column_map(column: &Column, mostly: f64, test: &MapTest) -> Result<Evaluation, Raised> {
    let rows = column.len();
    if let MapTest::NotNull = test {
        let unexpected: Vec<_> = rows_where(column, |cell| cell.is_null());
        let success = rows == 0 || mostly_success(rows, unexpected.len(), mostly);
        return Ok(map_output(rows, None, unexpected, success));
    }
    let nonnull = rows - column.null_count();
    let unexpected: Vec<u64> = match test {
        MapTest::NotNull => unreachable!("handled above"),
        MapTest::Between(bounds) => {
            if bounds.min.is_none() && bounds.max.is_none() {
                return Err("min_value and max_value cannot both be None".to_string());
            }
            if let (Some(min), Some(max)) = (bounds.min, bounds.max) {
                if min > max {
                    return Err("min_value cannot be greater than max_value".to_string());
                }
            }
            let mut failures = Vec::new();
            for (row, cell) in nonnull_cells(column) {
                if !within(scalar(cell), bounds)? {
                    failures.push(row);
                }
            }
            failures
        }
        MapTest::InSet(set) => match set {
            None => Vec::new(),
            Some(set) => nonnull_where(column, |cell| {
                !set.iter().any(|value| isin_equal(cell, value))
            }),
        },
        MapTest::NotInSet(set) => match set {
            None => Vec::new(),
            Some(set) => nonnull_where(column, |cell| {
                set.iter().any(|value| isin_equal(cell, value))
            }),
        },
        MapTest::Unique => {
            let mut counts: HashMap<HashKey, usize> = HashMap::new();
            for (_, cell) in nonnull_cells(column) {
                *counts.entry(HashKey::of(cell)).or_default() += 1;
            }
            nonnull_where(column, |cell| counts[&HashKey::of(cell)] > 1)
        }
        MapTest::MatchRegex(pattern) => {
            let regex = compile_python_regex(pattern)?;
            nonnull_where(column, |cell| !regex.is_match(&python_str(cell)))
        }
        MapTest::LengthsBetween(bounds) => {
            if bounds.min.is_none() && bounds.max.is_none() {
                return Err("min_value and max_value cannot both be None".to_string());
            }
            let mut failures = Vec::new();
            for (row, cell) in nonnull_cells(column) {
                let length = python_str(cell).chars().count() as f64;
                if !within(Scalar::Number(length), bounds)? {
                    failures.push(row);
                }
            }
            failures
        }
    };
    let success = rows == 0 || nonnull == 0 || mostly_success(nonnull, unexpected.len(), mostly);
    Ok(map_output(rows, Some(nonnull), unexpected, success))
}

fn nonnull_cells(column: &Column) -> impl Iterator<Item = (u64, Cell<'_>)> {
    column
        .iter()
        .enumerate()
        .filter(|(_, cell)| !cell.is_null())
        .map(|(row, cell)| (row as u64, cell))
}

fn nonnull_where(column: &Column, unexpected: impl Fn(Cell) -> bool) -> Vec<u64> {
    nonnull_cells(column)
        .filter(|(_, cell)| unexpected(*cell))
        .map(|(row, _)| row)
        .collect()
}

fn rows_where(column: &Column, unexpected: impl Fn(Cell) -> bool) -> Vec<u64> {
    column
        .iter()
        .enumerate()
        .filter(|(_, cell)| unexpected(*cell))
        .map(|(row, _)| row as u64)
        .collect()
}

/// A value as GX compares it with a bound: a number (bools as Python's 0/1) or text.
#[derive(Debug, Clone, Copy)]
enum Scalar<'a> {
    Number(f64),
    Text(&'a str),
}

fn scalar(cell: Cell<'_>) -> Scalar<'_> {
    match cell {
        Cell::Str(text) => Scalar::Text(text),
        other => Scalar::Number(other.as_f64().unwrap_or(f64::NAN)),
    }
}

/// The key pandas hashes a value by for `duplicated`/`nunique`: numbers by value (so `-0.0`
/// is `0.0`), nulls equal to each other.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum HashKey<'a> {
    Null,
    Int(i64),
    Float(u64),
    Bool(bool),
    Str(&'a str),
}

impl HashKey<'_> {
    fn of(cell: Cell<'_>) -> HashKey<'_> {
        match cell {
            Cell::Null => HashKey::Null,
            Cell::Float(value) if value.is_nan() => HashKey::Null,
            // A float pattern compares with `==`: `-0.0` lands here too.
            Cell::Float(0.0) => HashKey::Float(0f64.to_bits()),
            Cell::Float(value) => HashKey::Float(value.to_bits()),
            Cell::Int(value) => HashKey::Int(value),
            Cell::Bool(value) => HashKey::Bool(value),
            Cell::Str(text) => HashKey::Str(text),
        }
    }
}

/// pandas `isin`'s equality of a cell and a `value_set` member: numbers by value (Python's
/// `True == 1`), strings by text, never a number with a string.
fn isin_equal(cell: Cell, value: &Value) -> bool {
    match (cell, value) {
        (Cell::Str(text), Value::String(member)) => text == member,
        (Cell::Str(_), _) | (_, Value::String(_)) => false,
        (cell, value) => match (cell.as_f64(), json_number(value)) {
            (Some(left), Some(right)) => left == right,
            _ => false,
        },
    }
}

fn json_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::Bool(flag) => Some(f64::from(u8::from(*flag))),
        _ => None,
    }
}

/// GX's test of a value against `min_value`/`max_value` with `strict_*`; text against a
/// numeric bound is Python's `TypeError`.
fn within(value: Scalar, bounds: &Bounds) -> Result<bool, Raised> {
    let value = match value {
        Scalar::Number(number) => number,
        Scalar::Text(text) if bounds.min.is_some() || bounds.max.is_some() => {
            return Err(format!(
                "cannot compare the string '{text}' with a number (GX raises a TypeError)"
            ))
        }
        Scalar::Text(_) => return Ok(true),
    };
    let above = bounds.min.is_none_or(|min| {
        if bounds.strict_min {
            value > min
        } else {
            value >= min
        }
    });
    let below = bounds.max.is_none_or(|max| {
        if bounds.strict_max {
            value < max
        } else {
            value <= max
        }
    });
    Ok(above && below)
}

/// The non-null values of a numeric (or boolean) column as floats, or the error pandas raises
/// for a column of strings (`Cannot perform reduction 'mean' with string dtype`).
fn numbers(column: &Column, stat: &str) -> Result<Vec<f64>, Raised> {
    if column.dtype == Dtype::Str {
        return Err(format!(
            "cannot compute the {stat} of a column of strings (pandas raises)"
        ));
    }
    Ok(column
        .iter()
        .filter(|cell| !cell.is_null())
        .filter_map(|cell| cell.as_f64())
        .collect())
}

/// numpy's pairwise summation (`pairwise_sum` in numpy's `loops_utils.h`), so sums of many
/// floats round as pandas' do.
fn pairwise_sum(values: &[f64]) -> f64 {
    const BLOCK: usize = 128;
    if values.len() < 8 {
        values.iter().fold(0.0, |sum, value| sum + value)
    } else if values.len() <= BLOCK {
        let mut partial = [0.0f64; 8];
        partial.copy_from_slice(&values[..8]);
        let mut index = 8;
        while index + 8 <= values.len() {
            for lane in 0..8 {
                partial[lane] += values[index + lane];
            }
            index += 8;
        }
        let mut sum = ((partial[0] + partial[1]) + (partial[2] + partial[3]))
            + ((partial[4] + partial[5]) + (partial[6] + partial[7]));
        for value in &values[index..] {
            sum += value;
        }
        sum
    } else {
        let mut half = values.len() / 2;
        half -= half % 8;
        pairwise_sum(&values[..half]) + pairwise_sum(&values[half..])
    }
}

/// A column statistic as pandas computes it; `None` when pandas gives NaN (no values, one
/// value for `std`, `inf − inf`).
fn statistic(column: &Column, stat: Stat) -> Result<Option<Cell<'_>>, Raised> {
    let float = |value: f64| (!value.is_nan()).then_some(Cell::Float(value));
    Ok(match stat {
        Stat::Mean => Some(numbers(column, "mean")?)
            .filter(|values| !values.is_empty())
            .and_then(|values| float(pairwise_sum(&values) / values.len() as f64)),
        Stat::Stdev => Some(numbers(column, "standard deviation")?)
            .filter(|values| values.len() >= 2)
            .and_then(|values| {
                let mean = pairwise_sum(&values) / values.len() as f64;
                let squares: Vec<f64> = values.iter().map(|value| (mean - value).powi(2)).collect();
                float((pairwise_sum(&squares) / (values.len() - 1) as f64).sqrt())
            }),
        Stat::Median => Some(numbers(column, "median")?)
            .filter(|values| !values.is_empty())
            .and_then(|mut values| {
                values.sort_by(f64::total_cmp);
                let middle = values.len() / 2;
                if values.len() % 2 == 1 {
                    float(values[middle])
                } else {
                    // numpy takes the mean of the two middle values.
                    float((values[middle - 1] + values[middle]) / 2.0)
                }
            }),
        Stat::Min | Stat::Max => extreme(column, stat == Stat::Max),
        Stat::UniqueValueCount => Some(Cell::Int(distinct(column) as i64)),
        Stat::ProportionOfUniqueValues => {
            let nonnull = column.len() - column.null_count();
            if nonnull == 0 {
                Some(Cell::Int(0))
            } else {
                Some(Cell::Float(distinct(column) as f64 / nonnull as f64))
            }
        }
    })
}

fn distinct(column: &Column) -> usize {
    let keys: std::collections::HashSet<HashKey> = column
        .iter()
        .filter(|cell| !cell.is_null())
        .map(HashKey::of)
        .collect();
    keys.len()
}

/// pandas' `min()`/`max()` skipping nulls: ints stay ints, strings compare as text.
fn extreme(column: &Column, max: bool) -> Option<Cell<'_>> {
    let pick = |order: Ordering| {
        if max {
            order == Ordering::Greater
        } else {
            order == Ordering::Less
        }
    };
    let mut best: Option<Cell> = None;
    for cell in column.iter().filter(|cell| !cell.is_null()) {
        let better = match best {
            None => true,
            Some(current) => pick(match (cell, current) {
                (Cell::Str(left), Cell::Str(right)) => left.cmp(right),
                (left, right) => left
                    .as_f64()
                    .unwrap_or(f64::NAN)
                    .partial_cmp(&right.as_f64().unwrap_or(f64::NAN))
                    .unwrap_or(Ordering::Equal),
            }),
        };
        if better {
            best = Some(cell);
        }
    }
    best.map(|cell| match cell {
        Cell::Bool(flag) => Cell::Int(i64::from(flag)),
        other => other,
    })
}

fn columns_match_set(
    actual: &[String],
    expected: Option<&[String]>,
    exact_match: bool,
) -> Evaluation {
    let mut observed: Vec<String> = actual.to_vec();
    observed.sort();
    observed.dedup();
    let expected_set: Vec<String> = {
        let mut set = expected.map(<[String]>::to_vec).unwrap_or_default();
        set.sort();
        set.dedup();
        set
    };
    let unexpected: Vec<&String> = observed
        .iter()
        .filter(|name| !expected_set.contains(name))
        .collect();
    let missing: Vec<&String> = expected_set
        .iter()
        .filter(|name| !observed.contains(name))
        .collect();
    if (expected.is_none() && !exact_match) || (unexpected.is_empty() && missing.is_empty()) {
        return Evaluation::table(true, json!(observed), Value::Null);
    }
    let mut mismatched = serde_json::Map::new();
    if !unexpected.is_empty() {
        mismatched.insert("unexpected".into(), json!(unexpected));
    }
    if !missing.is_empty() {
        mismatched.insert("missing".into(), json!(missing));
    }
    let success = !exact_match && missing.is_empty();
    Evaluation::table(
        success,
        json!(observed),
        json!({ "mismatched": mismatched }),
    )
}

fn columns_match_list(actual: &[String], expected: Option<&[String]>) -> Evaluation {
    match expected {
        None => Evaluation::table(true, json!(actual), Value::Null),
        Some(expected) if expected == actual => Evaluation::table(true, json!(actual), Value::Null),
        Some(expected) => {
            let mismatched: Vec<Value> = (0..expected.len().max(actual.len()))
                .filter(|&index| expected.get(index) != actual.get(index))
                .map(|index| {
                    json!({"Expected Column Position": index, "Expected": expected.get(index), "Found": actual.get(index)})
                })
                .collect();
            Evaluation::table(false, json!(actual), json!({ "mismatched": mismatched }))
        }
    }
}

fn compound_unique(
    columns: &[&Column],
    rows: usize,
    mostly: f64,
    ignore: MultiIgnore,
) -> Evaluation {
    let kept: Vec<usize> = (0..rows)
        .filter(|&row| {
            let nulls = columns
                .iter()
                .filter(|column| column.get(row).is_null())
                .count();
            match ignore {
                MultiIgnore::AllMissing => nulls < columns.len(),
                MultiIgnore::AnyMissing => nulls == 0,
                MultiIgnore::Never => true,
            }
        })
        .collect();
    let key = |row: usize| -> Vec<HashKey> {
        columns
            .iter()
            .map(|column| HashKey::of(column.get(row)))
            .collect()
    };
    let mut counts: HashMap<Vec<HashKey>, usize> = HashMap::new();
    for &row in &kept {
        *counts.entry(key(row)).or_default() += 1;
    }
    let unexpected: Vec<u64> = kept
        .iter()
        .filter(|&&row| counts[&key(row)] > 1)
        .map(|&row| row as u64)
        .collect();
    let considered = kept.len();
    let success =
        rows == 0 || considered == 0 || mostly_success(considered, unexpected.len(), mostly);
    map_output(rows, Some(considered), unexpected, success)
}

fn pair_greater(
    column_a: &Column,
    column_b: &Column,
    or_equal: bool,
    mostly: f64,
    ignore: PairIgnore,
) -> Result<Evaluation, Raised> {
    let rows = column_a.len();
    let strings = (column_a.dtype == Dtype::Str, column_b.dtype == Dtype::Str);
    if strings.0 != strings.1 {
        return Err("cannot compare a column of strings with a column of numbers".to_string());
    }
    let mut considered = 0;
    let mut unexpected = Vec::new();
    for row in 0..rows {
        let (a, b) = (column_a.get(row), column_b.get(row));
        let skip = match ignore {
            PairIgnore::BothMissing => a.is_null() && b.is_null(),
            PairIgnore::EitherMissing => a.is_null() || b.is_null(),
            PairIgnore::Neither => false,
        };
        if skip {
            continue;
        }
        considered += 1;
        let order = match (a, b) {
            _ if a.is_null() || b.is_null() => None,
            (Cell::Str(a), Cell::Str(b)) => Some(a.cmp(b)),
            _ => a
                .as_f64()
                .zip(b.as_f64())
                .and_then(|(a, b)| a.partial_cmp(&b)),
        };
        let passes = match order {
            Some(Ordering::Greater) => true,
            Some(Ordering::Equal) => or_equal,
            _ => false,
        };
        if !passes {
            unexpected.push(row as u64);
        }
    }
    let success =
        rows == 0 || considered == 0 || mostly_success(considered, unexpected.len(), mostly);
    Ok(map_output(rows, Some(considered), unexpected, success))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(text: &str) -> Frame {
        Frame::from_reader(text.as_bytes(), "t.csv", None).unwrap()
    }

    fn map(column: &str, test: MapTest) -> Expectation {
        Expectation::ColumnMap {
            column: column.into(),
            mostly: 1.0,
            test,
        }
    }

    #[test]
    fn every_row_of_a_duplicated_value_is_unexpected_and_nulls_are_left_out() {
        let data = frame("a\n1\n2\n3\n3\n\n");
        let result = evaluate(&map("a", MapTest::Unique), &frame("a\n1\n2\n3\n3\nNA\n")).unwrap();
        assert_eq!(result.unexpected_rows, [2, 3]);
        assert_eq!(
            (result.element_count, result.missing_count),
            (Some(5), Some(1))
        );
        assert_eq!(result.unexpected_percent, Some(50.0));
        assert_eq!(data.rows, 4, "a blank line is no row");
    }

    #[test]
    fn stdev_is_the_sample_standard_deviation() {
        let stdev = Expectation::ColumnAggregate {
            column: "a".into(),
            stat: Stat::Stdev,
            bounds: Bounds {
                min: None,
                max: None,
                strict_min: false,
                strict_max: false,
            },
        };
        let result = evaluate(&stdev, &frame("a\n1\n2\n3\n4\n")).unwrap();
        let observed = result.observed_value.unwrap().as_f64().unwrap();
        assert!((observed - 1.2909944487358056).abs() < 1e-15, "{observed}");
        let single = evaluate(&stdev, &frame("a\n1\n")).unwrap();
        assert!(!single.success && single.observed_value == Some(Value::Null));
    }

    #[test]
    fn not_null_counts_over_all_rows_and_reports_no_missing_count() {
        let result = evaluate(
            &map("a", MapTest::NotNull),
            &frame("a,b\n1,x\n,y\nnull,z\n4,w\n"),
        )
        .unwrap();
        assert_eq!(result.unexpected_count, Some(2));
        assert_eq!(result.missing_count, None);
        assert_eq!(result.unexpected_percent, Some(50.0));
    }

    #[test]
    fn comparing_strings_with_numbers_raises_as_in_gx() {
        let between = map(
            "s",
            MapTest::Between(Bounds {
                min: Some(0.0),
                max: None,
                strict_min: false,
                strict_max: false,
            }),
        );
        assert!(evaluate(&between, &frame("s\na\nb\n")).is_err());
    }

    #[test]
    fn pairwise_sum_adds_everything() {
        let values: Vec<f64> = (1..=1000).map(f64::from).collect();
        assert_eq!(pairwise_sum(&values), 500500.0);
    }
}
