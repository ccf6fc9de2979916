//! Column statistics as streaming accumulators: mean, sample standard deviation, sum, min, max
//! (one pass, compensated sums), exact median and quantiles (the column's numbers are kept:
//! 8 bytes a value, spilled past 32 MB), distinct counts (64-bit value hashes, spilled to hash
//! partitions past their budget), null fraction, and
//! freshness (the newest timestamp's age).
use super::chunk::{Chunk, Value};
use super::evaluate::Observation;
use super::infer::parse_timestamp;
use super::json_number;
use super::kept::KeptValues;
use super::rowcheck::Accumulator;
use super::spec::{QuantileInterpolation, Statistic};
use super::spill::DistinctHashes;
use super::tally::hash_values;
use serde_json::{json, Value as Json};

/// A Neumaier-compensated sum (as exact as numpy's pairwise summation, or better).
#[derive(Debug, Default, Clone, Copy)]
pub struct Sum {
    sum: f64,
    compensation: f64,
}

impl Sum {
    pub fn add(&mut self, value: f64) {
        let t = self.sum + value;
        if self.sum.abs() >= value.abs() {
            self.compensation += (self.sum - t) + value;
        } else {
            self.compensation += (value - t) + self.sum;
        }
        self.sum = t;
    }

    pub fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

/// The q-quantile of `values` (reordered as needed), interpolated as `method` says (numpy's
/// definitions; `Linear` is numpy's and pandas' default).
pub fn quantile(values: &mut [f64], q: f64, method: QuantileInterpolation) -> Option<f64> {
    quantile_by(values.len() as u64, q, method, |k| {
        select(values, k as usize)
    })
}

/// The q-quantile of `n` values given their k-th smallest (0-based) by `kth`.
pub fn quantile_by(
    n: u64,
    q: f64,
    method: QuantileInterpolation,
    mut kth: impl FnMut(u64) -> f64,
) -> Option<f64> {
    if n == 0 {
        return None;
    }
    let position = q.clamp(0.0, 1.0) * (n - 1) as f64;
    let lower = position.floor() as u64;
    let upper = position.ceil() as u64;
    let lower_value = kth(lower);
    let upper_value = if upper == lower {
        lower_value
    } else {
        kth(upper)
    };
    let fraction = position - lower as f64;
    Some(match method {
        QuantileInterpolation::Linear => lower_value + (upper_value - lower_value) * fraction,
        QuantileInterpolation::Lower => lower_value,
        QuantileInterpolation::Higher => upper_value,
        QuantileInterpolation::Midpoint => (lower_value + upper_value) / 2.0,
        QuantileInterpolation::Nearest => {
            // numpy rounds half to even on the position.
            let nearest = if fraction == 0.5 {
                if lower.is_multiple_of(2) {
                    lower
                } else {
                    upper
                }
            } else {
                position.round() as u64
            };
            if nearest == lower {
                lower_value
            } else {
                upper_value
            }
        }
    })
}

/// The `k`-th smallest value (0-based), reordering `values` around it.
fn select(values: &mut [f64], k: usize) -> f64 {
    let (_, value, _) = values.select_nth_unstable_by(k, |a, b| a.total_cmp(b));
    *value
}

/// One statistic of one column.
pub struct StatAccumulator {
    pub column: usize,
    pub stat: Statistic,
    pub quantile_method: QuantileInterpolation,
    count: u64,
    nulls: u64,
    not_numbers: u64,
    first_not_number: Option<(u64, Json)>,
    sum: Sum,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
    values: KeptValues,
    spill_error: Option<String>,
    distinct: DistinctHashes,
}

impl StatAccumulator {
    pub fn new(column: usize, stat: Statistic, quantile_method: QuantileInterpolation) -> Self {
        StatAccumulator {
            column,
            stat,
            quantile_method,
            count: 0,
            nulls: 0,
            not_numbers: 0,
            first_not_number: None,
            sum: Sum::default(),
            mean: 0.0,
            m2: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            values: KeptValues::default(),
            spill_error: None,
            distinct: DistinctHashes::default(),
        }
    }

    /// The statistic with distinct counts keeping at most `keys` hashes in memory.
    pub fn keeping_keys(mut self, keys: usize) -> Self {
        self.distinct = DistinctHashes::with_budget(keys);
        self
    }

    fn numeric(&self) -> bool {
        !matches!(
            self.stat,
            Statistic::DistinctCount | Statistic::UniqueProportion | Statistic::NullFraction
        )
    }
}

impl Accumulator for StatAccumulator {
    fn add(&mut self, chunk: &Chunk) {
        let column = chunk.column(self.column);
        if !self.numeric() {
            for row in 0..chunk.rows {
                let value = column.value(row);
                if value.is_null() {
                    self.nulls += 1;
                    continue;
                }
                self.count += 1;
                if self.stat != Statistic::NullFraction {
                    self.distinct.insert(hash_values([value]));
                }
            }
            return;
        }
        let numbers = column.numbers();
        let keep = matches!(self.stat, Statistic::Median | Statistic::Quantile(_));
        for (row, number) in numbers.iter().enumerate() {
            let Some(x) = *number else {
                if column.is_null(row) {
                    self.nulls += 1;
                } else {
                    self.not_numbers += 1;
                    if self.first_not_number.is_none() {
                        self.first_not_number =
                            Some((chunk.first_row + row as u64, column.value(row).to_json()));
                    }
                }
                continue;
            };
            self.count += 1;
            self.sum.add(x);
            let delta = x - self.mean;
            self.mean += delta / self.count as f64;
            self.m2 += delta * (x - self.mean);
            self.min = self.min.min(x);
            self.max = self.max.max(x);
            if keep && self.spill_error.is_none() {
                if let Err(e) = self.values.push(x) {
                    self.spill_error = Some(format!(
                        "cannot keep the column's values in a temporary file: {e}"
                    ));
                }
            }
        }
    }

    fn finish(mut self: Box<Self>, rows: u64) -> Observation {
        if let Some((row, value)) = &self.first_not_number {
            return Observation::Error(format!(
                "{} non-null values are not numbers (the first at row {row}: {value}); {} needs numbers",
                self.not_numbers,
                self.stat.as_str()
            ));
        }
        let n = self.count;
        let value = match self.stat {
            Statistic::Mean => (n > 0).then(|| self.sum.value() / n as f64),
            Statistic::Sum => Some(self.sum.value()),
            Statistic::Std => (n > 1).then(|| (self.m2 / (n - 1) as f64).max(0.0).sqrt()),
            Statistic::Min => (n > 0).then_some(self.min),
            Statistic::Max => (n > 0).then_some(self.max),
            Statistic::Median | Statistic::Quantile(_) => {
                if let Some(message) = self.spill_error.take() {
                    return Observation::Error(message);
                }
                let values = &mut self.values;
                let n = values.len();
                let mut failure = None;
                let mut kth = |k: u64| {
                    values.kth(k).unwrap_or_else(|e| {
                        failure = Some(e.to_string());
                        f64::NAN
                    })
                };
                let value = match self.stat {
                    // pandas' median: the mean of the two middle values for an even count.
                    Statistic::Median => {
                        quantile_by(n, 0.5, QuantileInterpolation::Midpoint, &mut kth)
                    }
                    Statistic::Quantile(q) => quantile_by(n, q, self.quantile_method, &mut kth),
                    _ => None,
                };
                if let Some(message) = failure {
                    return Observation::Error(format!(
                        "cannot read back the column's values: {message}"
                    ));
                }
                value
            }
            Statistic::DistinctCount | Statistic::UniqueProportion => {
                let distinct = match std::mem::take(&mut self.distinct).count() {
                    Ok(distinct) => distinct as f64,
                    Err(message) => return Observation::Error(message),
                };
                match self.stat {
                    Statistic::DistinctCount => Some(distinct),
                    _ => (n > 0).then(|| distinct / n as f64),
                }
            }
            Statistic::NullFraction => Some(if rows == 0 {
                0.0
            } else {
                self.nulls as f64 / rows as f64
            }),
        };
        let mut details = json!({"count": n, "nulls": self.nulls});
        if let Statistic::Quantile(q) = self.stat {
            details["q"] = json_number(q);
        }
        Observation::Metric {
            value,
            observed: Json::Null,
            details,
            message: None,
        }
    }
}

/// The age in seconds, at `now_seconds`, of the column's newest timestamp.
pub struct Freshness {
    pub column: usize,
    pub now_seconds: f64,
    newest: Option<f64>,
    newest_text: Json,
    unparsed: u64,
}

impl Freshness {
    pub fn new(column: usize, now_seconds: f64) -> Self {
        Freshness {
            column,
            now_seconds,
            newest: None,
            newest_text: Json::Null,
            unparsed: 0,
        }
    }
}

impl Accumulator for Freshness {
    fn add(&mut self, chunk: &Chunk) {
        let column = chunk.column(self.column);
        for row in 0..chunk.rows {
            let value = column.value(row);
            let seconds = match value {
                Value::Null => continue,
                Value::Text(bytes) => parse_timestamp(bytes),
                // Numbers: seconds since the epoch.
                other => other.as_number(),
            };
            match seconds {
                Some(s) if self.newest.is_none_or(|n| s > n) => {
                    self.newest = Some(s);
                    self.newest_text = value.to_json();
                }
                Some(_) => {}
                None => self.unparsed += 1,
            }
        }
    }

    fn finish(self: Box<Self>, _rows: u64) -> Observation {
        let age = self.newest.map(|newest| self.now_seconds - newest);
        Observation::Metric {
            value: age,
            observed: match age {
                Some(age) => json!({"age_seconds": json_number(age), "newest": self.newest_text}),
                None => Json::Null,
            },
            details: json!({"unparsed": self.unparsed}),
            message: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_as_numpy() {
        let values = [1.0, 2.0, 3.0, 4.0];
        let q = |q, m| quantile(&mut values.to_vec(), q, m).unwrap();
        assert_eq!(q(0.5, QuantileInterpolation::Linear), 2.5);
        assert_eq!(q(0.25, QuantileInterpolation::Linear), 1.75);
        assert_eq!(q(0.5, QuantileInterpolation::Lower), 2.0);
        assert_eq!(q(0.5, QuantileInterpolation::Higher), 3.0);
        assert_eq!(q(0.5, QuantileInterpolation::Midpoint), 2.5);
        // Position 1.5 rounds half to even: 2, the value 3.
        assert_eq!(q(0.5, QuantileInterpolation::Nearest), 3.0);
        assert_eq!(q(0.3, QuantileInterpolation::Nearest), 2.0);
        assert_eq!(q(1.0, QuantileInterpolation::Linear), 4.0);
        assert_eq!(quantile(&mut [], 0.5, QuantileInterpolation::Linear), None);
    }

    #[test]
    fn compensated_sums_keep_small_terms() {
        let mut sum = Sum::default();
        for value in [1e16, 1.0, -1e16, 1.0] {
            sum.add(value);
        }
        assert_eq!(sum.value(), 2.0);
    }
}
