//! Metric points in packed chunks, and the per-key summaries kept beside them.
//!
//! A row of `metric_chunks` holds up to `CHUNK_POINTS` points of one (run, key) in logging
//! order, 24 bytes each. Appends fill the last chunk, then start new ones; every append also
//! merges the batch into `metric_summary` in the same transaction, so readers never see points
//! without their summary or the reverse.
use super::{active_rid_of, rid_of, touch, SqliteStore};
use crate::error::{KirokuError, Result};
use crate::model::{KeyedPoint, MetricPoint};
use crate::store::MetricStore;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashMap;

/// Points per chunk: 24 KiB blobs, so a 1,000,000-point series is ~980 rows.
pub const CHUNK_POINTS: usize = 1024;
const POINT_BYTES: usize = 24;

pub fn encode_point(buf: &mut Vec<u8>, p: &MetricPoint) {
    buf.extend_from_slice(&p.step.to_le_bytes());
    buf.extend_from_slice(&p.timestamp.to_le_bytes());
    buf.extend_from_slice(&p.value.to_bits().to_le_bytes());
}

pub fn decode_points(data: &[u8], out: &mut Vec<MetricPoint>) {
    for c in data.chunks_exact(POINT_BYTES) {
        let word = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&c[i * 8..i * 8 + 8]);
            b
        };
        out.push(MetricPoint {
            step: i64::from_le_bytes(word(0)),
            timestamp: i64::from_le_bytes(word(1)),
            value: f64::from_bits(u64::from_le_bytes(word(2))),
        });
    }
}

/// A summary row while it is being merged.
#[derive(Debug, Clone)]
struct Summary {
    last: MetricPoint,
    min: Option<f64>,
    max: Option<f64>,
    count: i64,
}

/// MLflow's "latest value" order: by step, then timestamp, then value (NaN lowest).
fn is_later(candidate: &MetricPoint, current: &MetricPoint) -> bool {
    (candidate.step, candidate.timestamp) > (current.step, current.timestamp)
        || ((candidate.step, candidate.timestamp) == (current.step, current.timestamp)
            && !candidate.value.is_nan()
            && (current.value.is_nan() || candidate.value > current.value))
}

impl Summary {
    fn start(p: &MetricPoint) -> Self {
        let finite = (!p.value.is_nan()).then_some(p.value);
        Summary {
            last: *p,
            min: finite,
            max: finite,
            count: 1,
        }
    }

    fn add(&mut self, p: &MetricPoint) {
        if is_later(p, &self.last) {
            self.last = *p;
        }
        if !p.value.is_nan() {
            self.min = Some(self.min.map_or(p.value, |m| m.min(p.value)));
            self.max = Some(self.max.map_or(p.value, |m| m.max(p.value)));
        }
        self.count += 1;
    }
}

/// Groups points by key, keeping the order of first appearance and the order within a key.
fn group_by_key(points: &[KeyedPoint]) -> Vec<(&str, Vec<MetricPoint>)> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut groups: Vec<(&str, Vec<MetricPoint>)> = Vec::new();
    for p in points {
        let slot = *index.entry(p.key.as_str()).or_insert_with(|| {
            groups.push((p.key.as_str(), Vec::new()));
            groups.len() - 1
        });
        groups[slot].1.push(MetricPoint {
            step: p.step,
            timestamp: p.timestamp,
            value: p.value,
        });
    }
    groups
}

/// Appends points to run `rid` inside the caller's transaction.
pub fn append(conn: &Connection, rid: i64, points: &[KeyedPoint]) -> Result<()> {
    for (key, series) in group_by_key(points) {
        crate::model::validate_key("metric", key)?;
        append_series(conn, rid, key, &series)?;
    }
    Ok(())
}

fn append_series(conn: &Connection, rid: i64, key: &str, series: &[MetricPoint]) -> Result<()> {
    let mut summary = read_summary(conn, rid, key)?;
    for p in series {
        match summary.as_mut() {
            Some(s) => s.add(p),
            None => summary = Some(Summary::start(p)),
        }
    }

    let last_chunk: Option<(i64, i64, Vec<u8>)> = conn
        .prepare_cached("SELECT seq, n, data FROM metric_chunks WHERE rid = ?1 AND key = ?2 ORDER BY seq DESC LIMIT 1")?
        .query_row(params![rid, key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;

    let mut rest = series;
    let mut next_seq = 0;
    if let Some((seq, n, mut data)) = last_chunk {
        next_seq = seq + 1;
        let room = CHUNK_POINTS.saturating_sub(n as usize);
        if room > 0 {
            let take = room.min(rest.len());
            for p in &rest[..take] {
                encode_point(&mut data, p);
            }
            conn.prepare_cached("UPDATE metric_chunks SET n = ?1, data = ?2 WHERE rid = ?3 AND key = ?4 AND seq = ?5")?
                .execute(params![n + take as i64, data, rid, key, seq])?;
            rest = &rest[take..];
        }
    }
    let mut insert = conn.prepare_cached(
        "INSERT INTO metric_chunks (rid, key, seq, n, data) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut buf = Vec::with_capacity(CHUNK_POINTS * POINT_BYTES);
    for chunk in rest.chunks(CHUNK_POINTS) {
        buf.clear();
        for p in chunk {
            encode_point(&mut buf, p);
        }
        insert.execute(params![rid, key, next_seq, chunk.len() as i64, &buf])?;
        next_seq += 1;
    }

    if let Some(s) = summary {
        let (last, last_nan) = if s.last.value.is_nan() {
            (None, 1)
        } else {
            (Some(s.last.value), 0)
        };
        conn.prepare_cached(
            "INSERT INTO metric_summary (rid, key, last, last_nan, last_step, last_ts, min, max, count)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (rid, key) DO UPDATE SET last = excluded.last, last_nan = excluded.last_nan,
               last_step = excluded.last_step, last_ts = excluded.last_ts, min = excluded.min,
               max = excluded.max, count = excluded.count",
        )?
        .execute(params![rid, key, last, last_nan, s.last.step, s.last.timestamp, s.min, s.max, s.count])?;
    }
    Ok(())
}

fn read_summary(conn: &Connection, rid: i64, key: &str) -> Result<Option<Summary>> {
    Ok(conn
        .prepare_cached(
            "SELECT last, last_nan, last_step, last_ts, min, max, count FROM metric_summary WHERE rid = ?1 AND key = ?2",
        )?
        .query_row(params![rid, key], |r| {
            let last: Option<f64> = r.get(0)?;
            let nan: i64 = r.get(1)?;
            Ok(Summary {
                last: MetricPoint {
                    step: r.get(2)?,
                    timestamp: r.get(3)?,
                    value: if nan == 1 { f64::NAN } else { last.unwrap_or(f64::NAN) },
                },
                min: r.get(4)?,
                max: r.get(5)?,
                count: r.get(6)?,
            })
        })
        .optional()?)
}

/// The full series of one key in logging order.
pub fn read_series(conn: &Connection, rid: i64, key: &str) -> Result<Vec<MetricPoint>> {
    let mut stmt = conn.prepare_cached(
        "SELECT data FROM metric_chunks WHERE rid = ?1 AND key = ?2 ORDER BY seq",
    )?;
    let mut rows = stmt.query(params![rid, key])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let data = row
            .get_ref(0)?
            .as_blob()
            .map_err(|e| KirokuError::Database(e.to_string()))?;
        decode_points(data, &mut out);
    }
    Ok(out)
}

impl MetricStore for SqliteStore {
    fn log_metrics(&self, id: &str, points: &[KeyedPoint]) -> Result<()> {
        if points.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            let rid = active_rid_of(tx, id)?;
            append(tx, rid, points)?;
            touch(tx, rid)
        })
    }

    fn metric_series(&self, id: &str, key: &str) -> Result<Vec<MetricPoint>> {
        self.read(|c| {
            let rid = rid_of(c, id)?;
            let exists: bool = c
                .prepare_cached("SELECT 1 FROM metric_summary WHERE rid = ?1 AND key = ?2")?
                .exists(params![rid, key])?;
            if !exists {
                return Err(KirokuError::NotFound(format!(
                    "run {id} has no metric '{key}'"
                )));
            }
            read_series(c, rid, key)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_follows_step_then_timestamp_then_value() {
        let p = |step, timestamp, value| MetricPoint {
            step,
            timestamp,
            value,
        };
        let mut s = Summary::start(&p(5, 100, 1.0));
        s.add(&p(3, 999, 9.0)); // lower step loses despite later time
        assert_eq!(s.last.value, 1.0);
        s.add(&p(5, 101, 0.5)); // same step, later time wins
        assert_eq!(s.last.value, 0.5);
        s.add(&p(5, 101, 0.7)); // same step and time: larger value wins
        assert_eq!(s.last.value, 0.7);
        s.add(&p(6, 0, f64::NAN));
        assert!(s.last.value.is_nan());
        assert_eq!((s.min, s.max, s.count), (Some(0.5), Some(9.0), 5));
    }

    #[test]
    fn points_round_trip_bit_exact() {
        let pts = [
            MetricPoint {
                step: -1,
                timestamp: 0,
                value: f64::NAN,
            },
            MetricPoint {
                step: i64::MAX,
                timestamp: 7,
                value: f64::NEG_INFINITY,
            },
            MetricPoint {
                step: 3,
                timestamp: 8,
                value: 1e308,
            },
        ];
        let mut buf = Vec::new();
        pts.iter().for_each(|p| encode_point(&mut buf, p));
        let mut out = Vec::new();
        decode_points(&buf, &mut out);
        assert_eq!(out.len(), 3);
        assert!(out[0].value.is_nan());
        assert_eq!(out[1], pts[1]);
        assert_eq!(out[2], pts[2]);
    }
}
