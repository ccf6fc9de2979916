//! How metric values order, wherever runs are sorted by a metric or a best value is picked
//! (the store's sort, `kiroku runs ls --sort`, the UI's runs table, compare's ★): numbers by
//! value in the asked direction, then infinities (a diverged loss is no best), then NaN, then
//! runs without the metric, in both directions. A reversed page is this order read backwards.
use std::cmp::Ordering;

/// Where a value falls before its number is compared: numbers, then ±inf, then NaN, then none.
fn rank(v: Option<f64>) -> u8 {
    match v {
        Some(x) if x.is_finite() => 0,
        Some(x) if x.is_infinite() => 1,
        Some(_) => 2,
        None => 3,
    }
}

/// Orders two metric values for a sort, `descending` (largest first) or not. Infinities
/// order among themselves by the direction; NaN and missing values tie within their rank.
pub fn cmp_metric_values(a: Option<f64>, b: Option<f64>, descending: bool) -> Ordering {
    rank(a).cmp(&rank(b)).then_with(|| match (a, b) {
        (Some(x), Some(y)) if !x.is_nan() && !y.is_nan() => {
            let by_value = x.total_cmp(&y);
            if descending {
                by_value.reverse()
            } else {
                by_value
            }
        }
        _ => Ordering::Equal,
    })
}

/// The best value: the first of the sort that puts the best first (`higher`: largest first),
/// and only a number: NaN and infinities are never best.
pub fn best_metric_value(values: &[Option<f64>], higher: bool) -> Option<f64> {
    values
        .iter()
        .copied()
        .filter(|v| v.is_some_and(f64::is_finite))
        .min_by(|a, b| cmp_metric_values(*a, *b, higher))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(values: &[Option<f64>], descending: bool) -> Vec<Option<f64>> {
        let mut v = values.to_vec();
        v.sort_by(|a, b| cmp_metric_values(*a, *b, descending));
        v
    }

    fn text(values: &[Option<f64>]) -> String {
        values
            .iter()
            .map(|v| v.map_or("-".into(), |x| x.to_string()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn numbers_then_infinities_then_nan_then_missing_in_both_directions() {
        let values = [
            Some(f64::NAN),
            Some(0.5),
            None,
            Some(f64::INFINITY),
            Some(-1.0),
            Some(f64::NEG_INFINITY),
            Some(2.0),
        ];
        assert_eq!(text(&sorted(&values, false)), "-1 0.5 2 -inf inf NaN -");
        assert_eq!(text(&sorted(&values, true)), "2 0.5 -1 inf -inf NaN -");
    }

    #[test]
    fn a_diverged_loss_is_never_best() {
        let losses = [
            Some(f64::INFINITY),
            Some(0.31),
            Some(f64::NAN),
            None,
            Some(0.2),
        ];
        assert_eq!(best_metric_value(&losses, false), Some(0.2));
        let accs = [Some(f64::NAN), Some(0.9), Some(f64::INFINITY), Some(0.95)];
        assert_eq!(best_metric_value(&accs, true), Some(0.95));
        assert_eq!(
            best_metric_value(&[Some(f64::NAN), Some(f64::NEG_INFINITY)], false),
            None
        );
        assert_eq!(best_metric_value(&[], true), None);
    }
}
