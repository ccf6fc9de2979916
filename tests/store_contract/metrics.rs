//! The `MetricStore` part of the store contract. Metrics: series and summaries, special values
//! included.
use super::*;

contract!(metrics_series_and_summaries_keep_special_values,);

fn metrics_series_and_summaries_keep_special_values(store: &dyn Store) {
    let r = new_run(store, "e", "m");
    let values = [1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.5];
    let points: Vec<KeyedPoint> = values
        .iter()
        .enumerate()
        .map(|(i, v)| KeyedPoint {
            key: "train/loss".into(),
            step: i as i64,
            timestamp: 1000 + i as i64,
            value: *v,
        })
        .collect();
    store.log_metrics(&r.id, &points).unwrap();
    let series = store.metric_series(&r.id, "train/loss").unwrap();
    assert_eq!(series.len(), 5);
    assert!(series[1].value.is_nan());
    assert_eq!(series[2].value, f64::INFINITY);
    assert_eq!(series[3].value, f64::NEG_INFINITY);
    assert_eq!((series[4].step, series[4].timestamp), (4, 1004));
    let summary = &store.run(&r.id).unwrap().run.metrics["train/loss"];
    assert_eq!((summary.last, summary.count, summary.step), (0.5, 5, 4));
    let many: Vec<KeyedPoint> = (0..2000)
        .map(|i| KeyedPoint {
            key: "acc".into(),
            step: i,
            timestamp: i,
            value: i as f64,
        })
        .collect();
    store.log_metrics(&r.id, &many).unwrap();
    let sampled = store
        .metric_series_sampled(
            &r.id,
            "acc",
            &SeriesQuery {
                buckets: 10,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(sampled.points, 2000);
    assert_eq!(sampled.buckets.len(), 10);
    assert_eq!(sampled.buckets.iter().map(|b| b.count).sum::<u64>(), 2000);
    assert_eq!(sampled.buckets[9].max, Some(1999.0));
}
