//! Drift of a column against a reference dataset: the reference is read first into a
//! [`Reference`] (numeric: a seeded reservoir sample of up to [`SAMPLE_CAP`] values and its
//! quantile bin edges; categorical: category counts), then the current data streams through a
//! [`DriftAccumulator`] (exact bin or category counts, and a reservoir sample for KS).
//!
//! Statistics: PSI `Σ (c−r)·ln(c/r)`, Jensen–Shannon distance (base 2), two-sample KS `D` with
//! its asymptotic p-value, chi-square goodness of fit of current counts to reference shares
//! with its p-value. Empty shares are floored at 1e-4 (as Evidently does).
use super::chunk::{Chunk, Value};
use super::evaluate::Observation;
use super::json_number;
use super::rowcheck::{category_name, Accumulator};
use super::spec::DriftMethod;
use super::tally::{hash_values, HashKeyed};
use serde_json::{json, Value as Json};
use std::sync::Arc;

/// Values kept per side for KS and for the reference's bin edges.
pub const SAMPLE_CAP: usize = 200_000;

/// Distinct values above which a numeric column is no longer treated as categorical.
const CATEGORICAL_MAX_DISTINCT: usize = 10;

/// Categories counted per side; a column with more is compared as numbers or not at all.
const MAX_CATEGORIES: usize = 10_000;

const SHARE_FLOOR: f64 = 1e-4;

/// A deterministic reservoir sample.
#[derive(Debug, Clone)]
struct Reservoir {
    values: Vec<f64>,
    seen: u64,
    state: u64,
}

impl Reservoir {
    fn new() -> Self {
        Reservoir {
            values: Vec::new(),
            seen: 0,
            state: 0x9E37_79B9_7F4A_7C15,
        }
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn add(&mut self, value: f64) {
        self.seen += 1;
        if self.values.len() < SAMPLE_CAP {
            self.values.push(value);
        } else {
            let slot = self.next_random() % self.seen;
            if (slot as usize) < SAMPLE_CAP {
                self.values[slot as usize] = value;
            }
        }
    }
}

/// Category counts (name → count), capped.
#[derive(Debug, Clone, Default)]
struct Categories {
    counts: HashKeyed<(u64, Json)>,
    overflow: bool,
}

impl Categories {
    fn add(&mut self, value: Value<'_>) {
        let hash = hash_values([value]);
        if let Some(entry) = self.counts.get_mut(&hash) {
            entry.0 += 1;
        } else if self.counts.len() < MAX_CATEGORIES {
            self.counts.insert(hash, (1, value.to_json()));
        } else {
            self.overflow = true;
        }
    }

    fn named(&self) -> Vec<(String, u64)> {
        let mut named: Vec<(String, u64)> = self
            .counts
            .values()
            .map(|(count, value)| (category_name(value), *count))
            .collect();
        named.sort();
        named
    }
}

/// Reads the reference side of a drift check.
#[derive(Debug, Clone)]
pub struct ReferenceBuilder {
    pub column: usize,
    sample: Reservoir,
    categories: Categories,
    not_numbers: u64,
    count: u64,
}

impl ReferenceBuilder {
    pub fn new(column: usize) -> Self {
        ReferenceBuilder {
            column,
            sample: Reservoir::new(),
            categories: Categories::default(),
            not_numbers: 0,
            count: 0,
        }
    }

    pub fn add(&mut self, chunk: &Chunk) {
        let column = chunk.column(self.column);
        let numbers = column.numbers();
        for row in 0..chunk.rows {
            let value = column.value(row);
            if value.is_null() {
                continue;
            }
            self.count += 1;
            match numbers[row] {
                Some(n) => self.sample.add(n),
                None => self.not_numbers += 1,
            }
            self.categories.add(value);
        }
    }

    /// The reference, binned into `bins` quantile bins when numeric.
    pub fn finish(self, bins: usize) -> Reference {
        let numeric = self.not_numbers == 0
            && self.count > 0
            && (self.categories.overflow
                || self.categories.counts.len() > CATEGORICAL_MAX_DISTINCT);
        if numeric {
            let mut sorted = self.sample.values;
            sorted.sort_by(f64::total_cmp);
            let mut edges: Vec<f64> = (1..bins.max(2))
                .map(|i| {
                    let position = i as f64 / bins.max(2) as f64 * (sorted.len() - 1) as f64;
                    sorted[position.round() as usize]
                })
                .collect();
            edges.dedup();
            let mut counts = vec![0u64; edges.len() + 1];
            for value in &sorted {
                counts[bin_of(&edges, *value)] += 1;
            }
            Reference {
                count: self.count,
                kind: ReferenceKind::Numeric {
                    sorted,
                    edges,
                    counts,
                },
            }
        } else {
            Reference {
                count: self.count,
                kind: ReferenceKind::Categorical {
                    counts: self.categories.named(),
                    overflow: self.categories.overflow,
                },
            }
        }
    }
}

fn bin_of(edges: &[f64], value: f64) -> usize {
    edges.partition_point(|edge| *edge < value)
}

/// The reference side, ready to compare against.
#[derive(Debug, Clone)]
pub struct Reference {
    pub count: u64,
    pub kind: ReferenceKind,
}

#[derive(Debug, Clone)]
pub enum ReferenceKind {
    Numeric {
        /// The reservoir sample, sorted.
        sorted: Vec<f64>,
        /// Interior bin edges (a value equal to an edge falls in the lower bin).
        edges: Vec<f64>,
        /// The sample's count per bin.
        counts: Vec<u64>,
    },
    Categorical {
        counts: Vec<(String, u64)>,
        overflow: bool,
    },
}

/// The current side of a drift check.
pub struct DriftAccumulator {
    pub column: usize,
    pub method: DriftMethod,
    pub reference: Arc<Reference>,
    sample: Reservoir,
    bins: Vec<u64>,
    categories: Categories,
    not_numbers: u64,
    count: u64,
}

impl DriftAccumulator {
    pub fn new(column: usize, method: DriftMethod, reference: Arc<Reference>) -> Self {
        let bins = match &reference.kind {
            ReferenceKind::Numeric { counts, .. } => vec![0; counts.len()],
            ReferenceKind::Categorical { .. } => Vec::new(),
        };
        DriftAccumulator {
            column,
            method,
            reference,
            sample: Reservoir::new(),
            bins,
            categories: Categories::default(),
            not_numbers: 0,
            count: 0,
        }
    }
}

impl Accumulator for DriftAccumulator {
    fn add(&mut self, chunk: &Chunk) {
        let column = chunk.column(self.column);
        match &self.reference.kind {
            ReferenceKind::Numeric { edges, .. } => {
                let numbers = column.numbers();
                for row in 0..chunk.rows {
                    if column.is_null(row) {
                        continue;
                    }
                    self.count += 1;
                    match numbers[row] {
                        Some(n) => {
                            self.bins[bin_of(edges, n)] += 1;
                            self.sample.add(n);
                        }
                        None => self.not_numbers += 1,
                    }
                }
            }
            ReferenceKind::Categorical { .. } => {
                for row in 0..chunk.rows {
                    let value = column.value(row);
                    if !value.is_null() {
                        self.count += 1;
                        self.categories.add(value);
                    }
                }
            }
        }
    }

    fn finish(self: Box<Self>, _rows: u64) -> Observation {
        if self.reference.count == 0 {
            return Observation::Error("the reference has no non-null values".into());
        }
        if self.count == 0 {
            return Observation::Metric {
                value: None,
                observed: Json::Null,
                details: Json::Null,
                message: Some("no non-null values to compare".into()),
            };
        }
        match &self.reference.kind {
            ReferenceKind::Numeric {
                sorted,
                edges,
                counts,
            } => {
                if self.not_numbers > 0 {
                    return Observation::Error(format!(
                        "the reference is numeric but {} current values are not numbers",
                        self.not_numbers
                    ));
                }
                let method = match self.method {
                    DriftMethod::Auto => DriftMethod::Psi,
                    other => other,
                };
                let labels: Vec<String> = (0..counts.len()).map(|i| bin_label(edges, i)).collect();
                let mut details = distributions(&labels, counts, &self.bins);
                details["method"] = json!(method.as_str());
                let value = match method {
                    DriftMethod::Ks => {
                        let mut current = self.sample.values.clone();
                        current.sort_by(f64::total_cmp);
                        let d = ks_statistic(sorted, &current);
                        details["p_value"] =
                            json_number(ks_p_value(d, sorted.len(), current.len()));
                        d
                    }
                    other => compare_counts(other, counts, &self.bins, &mut details),
                };
                Observation::Metric {
                    value: Some(value),
                    observed: Json::Null,
                    details,
                    message: None,
                }
            }
            ReferenceKind::Categorical { counts, overflow } => {
                if *overflow || self.categories.overflow {
                    return Observation::Error(format!(
                        "more than {MAX_CATEGORIES} distinct values: too many categories to compare"
                    ));
                }
                let method =
                    match self.method {
                        DriftMethod::Auto => DriftMethod::JensenShannon,
                        DriftMethod::Ks => return Observation::Error(
                            "KS compares numbers; this column is categorical (use psi, js or chi2)"
                                .into(),
                        ),
                        other => other,
                    };
                let current = self.categories.named();
                let mut labels: Vec<String> = counts.iter().map(|(n, _)| n.clone()).collect();
                for (name, _) in &current {
                    if !labels.contains(name) {
                        labels.push(name.clone());
                    }
                }
                let count_of = |side: &[(String, u64)], name: &str| {
                    side.iter().find(|(n, _)| n == name).map_or(0, |(_, c)| *c)
                };
                let reference_counts: Vec<u64> =
                    labels.iter().map(|l| count_of(counts, l)).collect();
                let current_counts: Vec<u64> =
                    labels.iter().map(|l| count_of(&current, l)).collect();
                let mut details = distributions(&labels, &reference_counts, &current_counts);
                details["method"] = json!(method.as_str());
                let value =
                    compare_counts(method, &reference_counts, &current_counts, &mut details);
                Observation::Metric {
                    value: Some(value),
                    observed: Json::Null,
                    details,
                    message: None,
                }
            }
        }
    }
}

fn bin_label(edges: &[f64], bin: usize) -> String {
    let low = if bin == 0 {
        "-inf".to_string()
    } else {
        edges[bin - 1].to_string()
    };
    let high = if bin == edges.len() {
        "inf".to_string()
    } else {
        edges[bin].to_string()
    };
    format!("({low}, {high}]")
}

fn shares(counts: &[u64]) -> Vec<f64> {
    let total: u64 = counts.iter().sum();
    counts
        .iter()
        .map(|c| {
            if total == 0 {
                0.0
            } else {
                *c as f64 / total as f64
            }
        })
        .collect()
}

fn floored(shares: &[f64]) -> Vec<f64> {
    let raised: Vec<f64> = shares.iter().map(|s| s.max(SHARE_FLOOR)).collect();
    let total: f64 = raised.iter().sum();
    raised.iter().map(|s| s / total).collect()
}

/// The reference and current shares per bin or category, for reports.
fn distributions(labels: &[String], reference: &[u64], current: &[u64]) -> Json {
    let reference_shares = shares(reference);
    let current_shares = shares(current);
    let bins: Vec<Json> = labels
        .iter()
        .enumerate()
        .map(|(i, label)| {
            json!({"bin": label, "reference": json_number(reference_shares[i]), "current": json_number(current_shares[i])})
        })
        .collect();
    json!({"bins": bins})
}

/// PSI, JS distance or the chi-square p-value from per-bin counts.
fn compare_counts(
    method: DriftMethod,
    reference: &[u64],
    current: &[u64],
    details: &mut Json,
) -> f64 {
    let r = floored(&shares(reference));
    let c = floored(&shares(current));
    match method {
        DriftMethod::ChiSquare => {
            let n: u64 = current.iter().sum();
            let statistic: f64 = current
                .iter()
                .zip(&r)
                .map(|(observed, share)| {
                    let expected = share * n as f64;
                    (*observed as f64 - expected).powi(2) / expected
                })
                .sum();
            let df = (reference.len().max(2) - 1) as f64;
            let p = gamma_q(df / 2.0, statistic / 2.0);
            details["statistic"] = json_number(statistic);
            details["df"] = json_number(df);
            p
        }
        DriftMethod::JensenShannon => js_distance(&r, &c),
        _ => psi(&r, &c),
    }
}

/// Population stability index of current shares `c` against reference shares `r`.
pub fn psi(r: &[f64], c: &[f64]) -> f64 {
    r.iter().zip(c).map(|(r, c)| (c - r) * (c / r).ln()).sum()
}

/// Jensen–Shannon distance, base 2 (0 same, 1 disjoint).
pub fn js_distance(p: &[f64], q: &[f64]) -> f64 {
    let kl = |a: &[f64], m: &[f64]| -> f64 {
        a.iter()
            .zip(m)
            .filter(|(a, _)| **a > 0.0)
            .map(|(a, m)| a * (a / m).log2())
            .sum()
    };
    let m: Vec<f64> = p.iter().zip(q).map(|(p, q)| (p + q) / 2.0).collect();
    (0.5 * kl(p, &m) + 0.5 * kl(q, &m)).max(0.0).sqrt()
}

/// Two-sample KS statistic of two sorted samples.
pub fn ks_statistic(a: &[f64], b: &[f64]) -> f64 {
    let (n, m) = (a.len(), b.len());
    if n == 0 || m == 0 {
        return 0.0;
    }
    let (mut i, mut j, mut d) = (0usize, 0usize, 0f64);
    while i < n && j < m {
        let x = a[i].min(b[j]);
        while i < n && a[i] <= x {
            i += 1;
        }
        while j < m && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / n as f64 - j as f64 / m as f64).abs());
    }
    d
}

/// The asymptotic p-value of a two-sample KS statistic (Numerical Recipes' `probks`).
pub fn ks_p_value(d: f64, n: usize, m: usize) -> f64 {
    if n == 0 || m == 0 {
        return 1.0;
    }
    let ne = (n as f64 * m as f64) / (n + m) as f64;
    let lambda = (ne.sqrt() + 0.12 + 0.11 / ne.sqrt()) * d;
    if lambda < 1e-3 {
        return 1.0;
    }
    let mut sum = 0.0;
    let mut sign = 1.0;
    for k in 1..=100 {
        let term = sign * 2.0 * (-2.0 * (k as f64).powi(2) * lambda * lambda).exp();
        sum += term;
        if term.abs() < 1e-12 {
            break;
        }
        sign = -sign;
    }
    sum.clamp(0.0, 1.0)
}

/// The regularized upper incomplete gamma function Q(a, x) (chi-square survival:
/// `Q(df/2, x/2)`), by series or continued fraction (Numerical Recipes).
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let ln_gamma_a = ln_gamma(a);
    if x < a + 1.0 {
        let mut sum = 1.0 / a;
        let mut term = sum;
        let mut ap = a;
        for _ in 0..1000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-15 {
                break;
            }
        }
        1.0 - sum * (-x + a * x.ln() - ln_gamma_a).exp()
    } else {
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-15 {
                break;
            }
        }
        (-x + a * x.ln() - ln_gamma_a).exp() * h
    }
}

/// ln Γ(x) (Lanczos, g = 7).
fn ln_gamma(x: f64) -> f64 {
    const COEFFICIENTS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = COEFFICIENTS[0];
    let t = x + 7.5;
    for (i, c) in COEFFICIENTS.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_distributions_do_not_drift_and_disjoint_ones_do() {
        let same = [0.25, 0.25, 0.5];
        assert!(psi(&same, &same).abs() < 1e-12);
        assert!(js_distance(&same, &same).abs() < 1e-12);
        assert!((js_distance(&[1.0, 0.0], &[0.0, 1.0]) - 1.0).abs() < 1e-12);
        // PSI by hand: (0.6-0.5)ln(1.2) + (0.4-0.5)ln(0.8).
        let expected = 0.1 * 1.2f64.ln() - 0.1 * 0.8f64.ln();
        assert!((psi(&[0.5, 0.5], &[0.6, 0.4]) - expected).abs() < 1e-12);
    }

    #[test]
    fn ks_and_chi_square_match_scipy_on_small_cases() {
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [3.0, 4.0, 5.0, 6.0];
        assert!((ks_statistic(&a, &b) - 0.5).abs() < 1e-12);
        assert_eq!(ks_statistic(&a, &a), 0.0);
        // scipy.stats.chi2.sf(3.84, 1) = 0.05004; chi2.sf(10, 4) = 0.04043
        assert!((gamma_q(0.5, 3.84 / 2.0) - 0.050_043).abs() < 1e-5);
        assert!((gamma_q(2.0, 5.0) - 0.040_428).abs() < 1e-5);
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-10);
        assert_eq!(ks_p_value(0.0, 100, 100), 1.0);
        assert!(ks_p_value(0.5, 1000, 1000) < 1e-10);
    }
}
