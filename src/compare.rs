//! Comparing runs, shared by `kiroku diff` and the UI's compare screen: which params differ,
//! which metrics there are, deltas against a baseline, and which value is best (the direction
//! inferred from the metric's name).
use crate::model::Run;
use std::collections::BTreeSet;

/// One param across runs (`None` where a run lacks it).
#[derive(Debug, Clone, PartialEq)]
pub struct ParamRow {
    pub key: String,
    pub values: Vec<Option<String>>,
}

/// Params side by side, by key; only the ones that differ unless `all`.
pub fn param_rows(runs: &[&Run], all: bool) -> Vec<ParamRow> {
    let keys: BTreeSet<&String> = runs.iter().flat_map(|r| r.params.keys()).collect();
    keys.into_iter()
        .map(|k| ParamRow {
            key: k.clone(),
            values: runs.iter().map(|r| r.params.get(k).cloned()).collect(),
        })
        .filter(|row| all || row.values.iter().collect::<BTreeSet<_>>().len() > 1)
        .collect()
}

/// Every metric key any of the runs has, sorted.
pub fn metric_keys(runs: &[&Run]) -> Vec<String> {
    let keys: BTreeSet<&String> = runs.iter().flat_map(|r| r.metrics.keys()).collect();
    keys.into_iter().cloned().collect()
}

/// Loss, error and the like are better lower; everything else (acc, f1, auc, …) higher.
pub fn higher_is_better(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ![
        "loss",
        "err",
        "mse",
        "mae",
        "perplexity",
        "ppl",
        "wer",
        "cer",
        "time",
        "latency",
        "nll",
        "regret",
        "distance",
    ]
    .iter()
    .any(|w| k.contains(w))
}

/// The best value in the given direction: never NaN or an infinity
/// (`model::metric_order`, the order every metric sort follows).
pub fn best(values: &[Option<f64>], higher: bool) -> Option<f64> {
    crate::model::metric_order::best_metric_value(values, higher)
}

/// The comparison as `kiroku diff --format json` and the MCP `compare_runs` tool give it
/// (`kiroku.diff/v1`): params side by side (only those that differ unless `all`), and each
/// metric's last value per run with its delta against the baseline, `runs[0]`.
pub fn diff_document(runs: &[Run], all: bool) -> serde_json::Value {
    use crate::model::json_float;
    let refs: Vec<&Run> = runs.iter().collect();
    let Some(base) = runs.first() else {
        return serde_json::json!({"schema": "kiroku.diff/v1", "baseline": null, "runs": [], "params": [], "metrics": []});
    };
    let params: Vec<_> = param_rows(&refs, all)
        .iter()
        .map(|row| serde_json::json!({"key": row.key, "values": row.values}))
        .collect();
    let metrics: Vec<_> = metric_keys(&refs)
        .iter()
        .map(|k| {
            let values: Vec<_> = runs
                .iter()
                .map(|r| r.metrics.get(k).map(|m| json_float::to_value(m.last)))
                .collect();
            let deltas: Vec<_> = runs
                .iter()
                .map(|r| match (base.metrics.get(k), r.metrics.get(k)) {
                    (Some(b), Some(m)) => Some(json_float::to_value(m.last - b.last)),
                    _ => None,
                })
                .collect();
            serde_json::json!({"key": k, "values": values, "deltas": deltas})
        })
        .collect();
    let ids: Vec<_> = runs
        .iter()
        .map(|r| serde_json::json!({"id": r.id, "name": r.name}))
        .collect();
    serde_json::json!({"schema": "kiroku.diff/v1", "baseline": base.id, "runs": ids, "params": params, "metrics": metrics})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_and_best() {
        assert!(!higher_is_better("val/loss"));
        assert!(!higher_is_better("test_error"));
        assert!(higher_is_better("val/acc"));
        assert!(higher_is_better("f1"));
        let v = [
            Some(0.2),
            None,
            Some(f64::NAN),
            Some(0.5),
            Some(f64::INFINITY),
        ];
        assert_eq!(best(&v, true), Some(0.5));
        assert_eq!(best(&v, false), Some(0.2));
        let diverged = [Some(f64::NEG_INFINITY), Some(0.3)];
        assert_eq!(best(&diverged, false), Some(0.3), "-inf is no best loss");
    }
}
