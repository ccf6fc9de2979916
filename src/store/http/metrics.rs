//! `MetricStore` over HTTP: `/api/v1/runs/<id>/metrics` and `/series`; sampling happens on
//! the server, so only the reduced series travels.
use super::HttpStore;
use crate::api::*;
use crate::error::Result;
use crate::model::*;
use crate::series::{SampledSeries, SeriesQuery};
use crate::store::MetricStore;
use serde::Serialize;

impl MetricStore for HttpStore {
    fn log_metrics(&self, id: &str, points: &[KeyedPoint]) -> Result<()> {
        #[derive(Serialize)]
        struct PointsRef<'a> {
            points: &'a [KeyedPoint],
        }
        self.post_unit(&Self::run_path(id, "/metrics"), &PointsRef { points })
    }

    fn metric_series(&self, id: &str, key: &str) -> Result<Vec<MetricPoint>> {
        self.get(&Self::run_path(id, "/series"), &[("key", key)])
    }

    fn metric_series_sampled(
        &self,
        id: &str,
        key: &str,
        query: &SeriesQuery,
    ) -> Result<SampledSeries> {
        let body = SampledRequest {
            key: key.into(),
            query: query.clone(),
        };
        self.post(&Self::run_path(id, "/series/sampled"), &body)
    }
}
