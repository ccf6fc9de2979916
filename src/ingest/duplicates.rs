//! The duplicated-metrics rule: when a run writes the metrics file, the metrics file wins.
//!
//! A scalar parsed from the output is not logged when the metrics file has logged the same key,
//! or a key whose last `/` segment is that name (`val/acc` covers `acc`, `train/loss` covers
//! `loss`). Output scalars wait one ingest round before this decision (`HeldScalars`), so a
//! script that prints `loss=0.3` just before it writes `{"train/loss": 0.3}` is covered too.
use crate::model::KeyedPoint;
use std::collections::HashSet;

/// The metric keys the metrics file has logged so far, and their last path segments.
#[derive(Debug, Default)]
pub struct MetricsFileKeys {
    keys: HashSet<String>,
    names: HashSet<String>,
}

impl MetricsFileKeys {
    /// Records a key the metrics file logged.
    pub fn note(&mut self, key: &str) {
        if self.keys.contains(key) {
            return;
        }
        self.keys.insert(key.to_string());
        if let Some((_, name)) = key.rsplit_once('/') {
            self.names.insert(name.to_string());
        }
    }

    /// Whether the metrics file already logs what output key `key` would: the same key, or a
    /// key ending in `/key`.
    pub fn covers(&self, key: &str) -> bool {
        self.keys.contains(key) || self.names.contains(key)
    }
}

/// Output scalars on their way to the store: each waits until the metrics file has been read
/// once after it arrived, then is logged unless the metrics file covers its key.
#[derive(Debug, Default)]
pub struct HeldScalars {
    /// Arrived before the latest read of the metrics file: ready to be decided.
    ready: Vec<KeyedPoint>,
    /// Arrived since: decided after the next read.
    waiting: Vec<KeyedPoint>,
    /// Output scalars not logged because the metrics file covers them.
    pub dropped: u64,
}

impl HeldScalars {
    pub fn push(&mut self, points: Vec<KeyedPoint>) {
        self.waiting.extend(points);
    }

    pub fn len(&self) -> usize {
        self.ready.len() + self.waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Called right after a read of the metrics file (whose keys `file` now holds): returns the
    /// scalars to log (all that are held when `all`, at the end of the run) and keeps the rest
    /// for the next round.
    pub fn release(&mut self, file: &MetricsFileKeys, all: bool) -> Vec<KeyedPoint> {
        let mut out = std::mem::take(&mut self.ready);
        if all {
            out.append(&mut self.waiting);
        } else {
            self.ready = std::mem::take(&mut self.waiting);
        }
        let before = out.len();
        out.retain(|p| !file.covers(&p.key));
        self.dropped += (before - out.len()) as u64;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(key: &str, step: i64) -> KeyedPoint {
        KeyedPoint {
            key: key.into(),
            step,
            timestamp: 0,
            value: 0.5,
        }
    }

    #[test]
    fn same_key_or_last_segment_is_covered() {
        let mut file = MetricsFileKeys::default();
        file.note("val/acc");
        file.note("train/loss");
        file.note("weight_norm");
        assert!(file.covers("acc"));
        assert!(file.covers("loss"));
        assert!(file.covers("val/acc"));
        assert!(file.covers("weight_norm"));
        assert!(
            !file.covers("val"),
            "a leading segment is not the metric's name"
        );
        assert!(!file.covers("lr"));
        assert!(!file.covers("val_acc"));
        assert!(
            !file.covers("test/acc"),
            "a different full key is a different metric"
        );
    }

    #[test]
    fn scalars_wait_one_read_so_a_print_before_the_file_line_is_covered() {
        let mut file = MetricsFileKeys::default();
        let mut held = HeldScalars::default();
        // The script prints `loss=… lr=…` before it writes its metrics-file line.
        held.push(vec![point("loss", 0), point("lr", 0)]);
        assert!(held.release(&file, false).is_empty(), "not decided yet");
        file.note("train/loss");
        let logged = held.release(&file, false);
        assert_eq!(
            logged.iter().map(|p| p.key.as_str()).collect::<Vec<_>>(),
            ["lr"]
        );
        assert_eq!(held.dropped, 1);
        // At the end everything held is decided at once.
        held.push(vec![point("loss", 1), point("gpu_mem", 1)]);
        let logged = held.release(&file, true);
        assert_eq!(
            logged.iter().map(|p| p.key.as_str()).collect::<Vec<_>>(),
            ["gpu_mem"]
        );
        assert!(held.is_empty());
        assert_eq!(held.dropped, 2);
    }

    #[test]
    fn without_a_metrics_file_every_scalar_is_logged() {
        let file = MetricsFileKeys::default();
        let mut held = HeldScalars::default();
        held.push(vec![point("loss", 0), point("acc", 0)]);
        assert_eq!(held.release(&file, true).len(), 2);
    }
}
