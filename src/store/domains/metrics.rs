//! `MetricStore`: metric series of runs, appended in order and read whole or reduced.
use crate::error::Result;
use crate::model::{KeyedPoint, MetricPoint};
use crate::series::{SampledSeries, SeriesQuery};

pub trait MetricStore {
    /// Appends points (in the given order) and updates the per-key summaries, atomically.
    fn log_metrics(&self, id: &str, points: &[KeyedPoint]) -> Result<()>;
    /// The full series of one key, in logging order.
    fn metric_series(&self, id: &str, key: &str) -> Result<Vec<MetricPoint>>;
    /// One key's series reduced for a chart (per-column count, first, last, min, max).
    fn metric_series_sampled(
        &self,
        id: &str,
        key: &str,
        query: &SeriesQuery,
    ) -> Result<SampledSeries> {
        Ok(crate::series::downsample(
            key,
            &self.metric_series(id, key)?,
            query,
        ))
    }
}
