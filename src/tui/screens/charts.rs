//! The view settings every chart shares (smoothing, log scale, x axis, zoom, cursor) and the
//! chart keys that change them: the run screen's Metrics tab and compare both use them.
use crate::series::{SampledSeries, SeriesQuery, XAxis};
use crate::tui::app::State;
use crate::tui::keymap::Cmd;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XMode {
    Step,
    Time,
    Relative,
}

/// The view settings every chart shares.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartSettings {
    /// EMA weight of the past (0 = raw).
    pub smoothing: f64,
    pub log_y: bool,
    pub x: XMode,
    /// Zoomed x range, in the axis' units (steps or ms).
    pub zoom: Option<(i64, i64)>,
    /// Cursor as a fraction of the visible x range.
    pub cursor: Option<f64>,
}

impl Default for ChartSettings {
    fn default() -> Self {
        ChartSettings {
            smoothing: 0.0,
            log_y: false,
            x: XMode::Step,
            zoom: None,
            cursor: None,
        }
    }
}

pub const SMOOTHING_LEVELS: [f64; 7] = [0.0, 0.3, 0.6, 0.8, 0.9, 0.95, 0.99];

impl ChartSettings {
    pub fn series_query(&self, buckets: usize) -> SeriesQuery {
        SeriesQuery {
            buckets,
            x: match self.x {
                XMode::Step => XAxis::Step,
                XMode::Time | XMode::Relative => XAxis::Time,
            },
            x_min: self.zoom.map(|z| z.0),
            x_max: self.zoom.map(|z| z.1),
        }
    }

    pub fn apply(&mut self, cmd: Cmd, range: Option<(i64, i64)>) -> bool {
        let level = SMOOTHING_LEVELS
            .iter()
            .position(|l| *l >= self.smoothing - 1e-9)
            .unwrap_or(0);
        match cmd {
            Cmd::SmoothMore => self.smoothing = SMOOTHING_LEVELS[(level + 1).min(6)],
            Cmd::SmoothLess => self.smoothing = SMOOTHING_LEVELS[level.saturating_sub(1)],
            Cmd::LogY => self.log_y = !self.log_y,
            Cmd::XAxis => {
                self.x = match self.x {
                    XMode::Step => XMode::Time,
                    XMode::Time => XMode::Relative,
                    XMode::Relative => XMode::Step,
                };
                self.zoom = None;
                return true;
            }
            Cmd::ZoomIn => {
                let Some((lo, hi)) = self.zoom.or(range) else {
                    return false;
                };
                let c = self.cursor.unwrap_or(0.5);
                let center = lo as f64 + (hi - lo) as f64 * c;
                let half = ((hi - lo) as f64 / 4.0).max(1.0);
                self.zoom = Some(((center - half) as i64, (center + half) as i64));
                self.cursor = Some(0.5);
                return true;
            }
            Cmd::ZoomReset => {
                let changed = self.zoom.is_some();
                self.zoom = None;
                return changed;
            }
            Cmd::Left | Cmd::Right => {
                let step = if cmd == Cmd::Left { -0.025 } else { 0.025 };
                self.cursor = Some((self.cursor.unwrap_or(0.5) + step).clamp(0.0, 1.0));
            }
            _ => {}
        }
        false
    }
}

/// The x range (in the query's units) covered by some series.
pub fn x_extent<'a>(series: impl Iterator<Item = &'a SampledSeries>) -> Option<(i64, i64)> {
    series
        .filter_map(|s| Some((s.buckets.first()?.x_lo, s.buckets.last()?.x_hi)))
        .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)))
}

impl State {
    /// How many points a chart asks for: two per column of the terminal, within bounds.
    pub fn chart_buckets(&self) -> usize {
        (self.size.0 as usize * 2).clamp(64, 1000)
    }
}
