//! Downsampling metric series for charts: per pixel column keep the count, first, last, min
//! and max, so a 1,000,000-point series draws as fast as a short one and never hides a spike.
//! Pure functions over `MetricPoint`s; the store (or the server) applies them before data
//! travels to a chart.
use crate::model::{json_float, json_float_opt, MetricPoint, Millis};
use serde::{Deserialize, Serialize};

/// What a chart's x axis measures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum XAxis {
    #[default]
    Step,
    /// Wall-clock time (ms since the epoch).
    Time,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SeriesQuery {
    /// Columns to reduce to; 0 keeps every point (one bucket each).
    pub buckets: usize,
    pub x: XAxis,
    /// Only points with x in this inclusive range (zoom).
    pub x_min: Option<i64>,
    pub x_max: Option<i64>,
}

/// The points of one x column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesBucket {
    pub x_lo: i64,
    pub x_hi: i64,
    pub count: u64,
    #[serde(with = "json_float")]
    pub first: f64,
    #[serde(with = "json_float")]
    pub last: f64,
    /// NaN values are left out of min and max (None when all were NaN).
    #[serde(with = "json_float_opt")]
    pub min: Option<f64>,
    #[serde(with = "json_float_opt")]
    pub max: Option<f64>,
    pub last_timestamp: Millis,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampledSeries {
    pub key: String,
    /// Points in the x range (before reduction).
    pub points: u64,
    pub x: XAxis,
    pub buckets: Vec<SeriesBucket>,
}

fn x_of(p: &MetricPoint, x: XAxis) -> i64 {
    match x {
        XAxis::Step => p.step,
        XAxis::Time => p.timestamp,
    }
}

/// Reduces `points` (in logging order) to at most `q.buckets` columns over the x range.
pub fn downsample(key: &str, points: &[MetricPoint], q: &SeriesQuery) -> SampledSeries {
    let in_range = |p: &&MetricPoint| {
        let x = x_of(p, q.x);
        q.x_min.is_none_or(|lo| x >= lo) && q.x_max.is_none_or(|hi| x <= hi)
    };
    let selected: Vec<&MetricPoint> = points.iter().filter(in_range).collect();
    let mut sorted = selected.clone();
    sorted.sort_by_key(|p| x_of(p, q.x));
    let n = sorted.len();
    if n == 0 {
        return SampledSeries {
            key: key.into(),
            points: 0,
            x: q.x,
            buckets: Vec::new(),
        };
    }
    let lo = x_of(sorted[0], q.x);
    let hi = x_of(sorted[n - 1], q.x);
    let columns = if q.buckets == 0 || n <= q.buckets {
        n
    } else {
        q.buckets
    };
    let span = hi as i128 - lo as i128 + 1;
    let mut buckets: Vec<Option<SeriesBucket>> = vec![None; columns];
    for (i, p) in sorted.iter().enumerate() {
        let x = x_of(p, q.x);
        let column = if columns == n {
            i
        } else {
            (((x as i128 - lo as i128) * columns as i128) / span) as usize
        };
        let column = column.min(columns - 1);
        let finite = (!p.value.is_nan()).then_some(p.value);
        match &mut buckets[column] {
            Some(b) => {
                b.x_hi = x;
                b.count += 1;
                b.last = p.value;
                b.last_timestamp = p.timestamp;
                if let Some(v) = finite {
                    b.min = Some(b.min.map_or(v, |m| m.min(v)));
                    b.max = Some(b.max.map_or(v, |m| m.max(v)));
                }
            }
            slot => {
                *slot = Some(SeriesBucket {
                    x_lo: x,
                    x_hi: x,
                    count: 1,
                    first: p.value,
                    last: p.value,
                    min: finite,
                    max: finite,
                    last_timestamp: p.timestamp,
                })
            }
        }
    }
    SampledSeries {
        key: key.into(),
        points: n as u64,
        x: q.x,
        buckets: buckets.into_iter().flatten().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(n: i64) -> Vec<MetricPoint> {
        (0..n)
            .map(|s| MetricPoint {
                step: s,
                timestamp: 1000 + s,
                value: if s == 500_123 { 99.0 } else { 0.0 },
            })
            .collect()
    }

    #[test]
    fn a_spike_survives_reduction_and_counts_add_up() {
        let pts = series(1_000_000);
        let s = downsample(
            "x",
            &pts,
            &SeriesQuery {
                buckets: 200,
                ..Default::default()
            },
        );
        assert_eq!(s.buckets.len(), 200);
        assert_eq!(s.buckets.iter().map(|b| b.count).sum::<u64>(), 1_000_000);
        assert_eq!(
            s.buckets
                .iter()
                .filter_map(|b| b.max)
                .fold(f64::MIN, f64::max),
            99.0
        );
    }

    #[test]
    fn short_series_keep_every_point_and_zoom_filters() {
        let pts = series(10);
        let all = downsample(
            "x",
            &pts,
            &SeriesQuery {
                buckets: 100,
                ..Default::default()
            },
        );
        assert_eq!(all.buckets.len(), 10);
        let zoom = downsample(
            "x",
            &pts,
            &SeriesQuery {
                buckets: 100,
                x_min: Some(3),
                x_max: Some(5),
                ..Default::default()
            },
        );
        assert_eq!(
            zoom.buckets.iter().map(|b| b.x_lo).collect::<Vec<_>>(),
            vec![3, 4, 5]
        );
        let nan = downsample(
            "x",
            &[MetricPoint {
                step: 0,
                timestamp: 0,
                value: f64::NAN,
            }],
            &SeriesQuery::default(),
        );
        assert_eq!(nan.buckets[0].min, None);
        let by_time = downsample(
            "x",
            &pts,
            &SeriesQuery {
                buckets: 2,
                x: XAxis::Time,
                ..Default::default()
            },
        );
        assert_eq!(by_time.buckets[0].x_lo, 1000);
    }
}
