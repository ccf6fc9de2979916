//! Braille line charts over downsampled series. Each store bucket (one pixel column) is drawn
//! as first → min → max → last, so spikes survive any zoom level; an EMA-smoothed line is
//! drawn over the faint raw one; log-y, x by step, wall time or time since the run started;
//! a cursor that reads every series' value at its x.
use crate::present::{format_duration, format_timestamp, format_value};
use crate::series::SampledSeries;
use crate::tui::app::{ChartSettings, XMode};
use crate::tui::theme::Theme;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType};
use ratatui::Frame;

/// One line of a chart.
pub struct ChartLine<'a> {
    pub label: String,
    pub style: Style,
    pub series: &'a SampledSeries,
    /// Subtracted from x in relative-time mode (the run's start, ms).
    pub start_ms: i64,
}

fn x_value(x: i64, mode: XMode, start_ms: i64) -> f64 {
    match mode {
        XMode::Step | XMode::Time => x as f64,
        XMode::Relative => (x - start_ms) as f64 / 1000.0,
    }
}

fn y_value(v: f64, log_y: bool) -> Option<f64> {
    if !v.is_finite() {
        return None;
    }
    if log_y {
        (v > 0.0).then(|| v.log10())
    } else {
        Some(v)
    }
}

/// The raw polyline: per bucket first, min, max, last.
pub fn raw_points(line: &ChartLine, s: &ChartSettings) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(line.series.buckets.len() * 4);
    for b in &line.series.buckets {
        let x0 = x_value(b.x_lo, s.x, line.start_ms);
        let x1 = x_value(b.x_hi, s.x, line.start_ms);
        let xm = (x0 + x1) / 2.0;
        let mut push = |x: f64, v: Option<f64>| {
            if let Some(y) = v.and_then(|v| y_value(v, s.log_y)) {
                out.push((x, y));
            }
        };
        push(x0, Some(b.first));
        if b.count > 2 {
            push(xm, b.min);
            push(xm, b.max);
        }
        if b.count > 1 {
            push(x1, Some(b.last));
        }
    }
    out
}

/// EMA over the buckets' last values, debiased at the start (as TensorBoard does).
pub fn smoothed_points(line: &ChartLine, s: &ChartSettings) -> Vec<(f64, f64)> {
    let w = s.smoothing;
    let mut out = Vec::with_capacity(line.series.buckets.len());
    let mut ema = 0.0;
    let mut n = 0i32;
    for b in &line.series.buckets {
        if !b.last.is_finite() {
            continue;
        }
        ema = ema * w + (1.0 - w) * b.last;
        n += 1;
        let debiased = if w > 0.0 {
            ema / (1.0 - w.powi(n))
        } else {
            ema
        };
        if let Some(y) = y_value(debiased, s.log_y) {
            out.push((x_value(b.x_hi, s.x, line.start_ms), y));
        }
    }
    out
}

/// An x position as the axis counts it: a whole step, a time of day, or time since the start.
pub fn x_label(x: f64, mode: XMode) -> String {
    match mode {
        XMode::Step => format_value(x.round()),
        XMode::Time => {
            let t = format_timestamp(x as i64);
            t.get(11..).unwrap_or(&t).to_string()
        }
        XMode::Relative => format_duration((x * 1000.0) as i64),
    }
}

/// The y range to draw `lo..=hi` in: a flat (or one-point) series gets room around its value
/// relative to it (`lr=0.001` from 0.0009 to 0.0011, not from -0.499 to 0.501); a log axis a
/// tenth of a decade either side.
pub fn y_bounds(lo: f64, hi: f64, log_y: bool) -> (f64, f64) {
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if hi > lo {
        return (lo, hi);
    }
    let pad = if log_y {
        0.1
    } else if lo != 0.0 {
        lo.abs() * 0.1
    } else {
        1.0
    };
    (lo - pad, hi + pad)
}

/// The x of the real point nearest to `x` among the lines (where a bucket's last value sits),
/// so the cursor reads values that were logged, at a step that exists.
pub fn snap_x(lines: &[ChartLine], mode: XMode, x: f64) -> Option<f64> {
    lines
        .iter()
        .flat_map(|l| {
            l.series
                .buckets
                .iter()
                .map(move |b| x_value(b.x_hi, mode, l.start_ms))
        })
        .min_by(|a, b| (a - x).abs().total_cmp(&(b - x).abs()))
}

/// The status text of a cursor at `x`: ` · cursor step 18: loss 0.062  acc 0.92`.
pub fn cursor_text(lines: &[ChartLine], s: &ChartSettings, x: f64) -> String {
    let what = match s.x {
        XMode::Step => "step ",
        XMode::Time => "",
        XMode::Relative => "+",
    };
    format!(
        " · cursor {what}{}: {}",
        x_label(x, s.x),
        cursor_values(lines, s, x)
            .iter()
            .map(|(l, v)| format!("{l} {}", v.map(format_value).unwrap_or("—".into())))
            .collect::<Vec<_>>()
            .join("  ")
    )
}

fn y_label(y: f64, log_y: bool) -> String {
    format_value(if log_y { 10f64.powf(y) } else { y })
}

/// The value each line has at fraction `cursor` of the x range (the bucket there).
pub fn cursor_values(lines: &[ChartLine], s: &ChartSettings, x: f64) -> Vec<(String, Option<f64>)> {
    lines
        .iter()
        .map(|l| {
            let smoothed = if s.smoothing > 0.0 {
                Some(smoothed_points(
                    l,
                    &ChartSettings {
                        log_y: false,
                        ..s.clone()
                    },
                ))
            } else {
                None
            };
            let v = match smoothed {
                Some(pts) => pts
                    .iter()
                    .rev()
                    .find(|(px, _)| *px <= x)
                    .or(pts.first())
                    .map(|p| p.1),
                None => l
                    .series
                    .buckets
                    .iter()
                    .rev()
                    .find(|b| x_value(b.x_lo, s.x, l.start_ms) <= x)
                    .or(l.series.buckets.first())
                    .map(|b| b.last),
            };
            (l.label.clone(), v)
        })
        .collect()
}

/// x range over all lines.
pub fn x_range(lines: &[ChartLine], mode: XMode) -> Option<(f64, f64)> {
    lines
        .iter()
        .filter_map(|l| {
            let first = l.series.buckets.first()?;
            let last = l.series.buckets.last()?;
            Some((
                x_value(first.x_lo, mode, l.start_ms),
                x_value(last.x_hi, mode, l.start_ms),
            ))
        })
        .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)))
}

/// Draws a chart with a border titled `title`; `focused` brightens the border. Returns the
/// cursor's x (snapped to a real point) when there is one.
pub fn draw_chart(
    frame: &mut Frame,
    area: Rect,
    theme: &Theme,
    title: &str,
    lines: &[ChartLine],
    s: &ChartSettings,
    focused: bool,
) -> Option<f64> {
    let border = theme.style(if focused { "border.focus" } else { "border" });
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(border)
        .title(Span::styled(format!(" {title} "), theme.style("title")));
    let raw: Vec<Vec<(f64, f64)>> = lines.iter().map(|l| raw_points(l, s)).collect();
    let smooth: Vec<Vec<(f64, f64)>> = if s.smoothing > 0.0 {
        lines.iter().map(|l| smoothed_points(l, s)).collect()
    } else {
        Vec::new()
    };
    let Some((x0, mut x1)) = x_range(lines, s.x) else {
        let empty =
            ratatui::widgets::Paragraph::new(Line::styled("no points", theme.style("text.dim")))
                .block(block);
        frame.render_widget(empty, area);
        return None;
    };
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let (lo, hi) = raw
        .iter()
        .flatten()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
            (lo.min(p.1), hi.max(p.1))
        });
    let (y0, y1) = y_bounds(lo, hi, s.log_y);
    let cursor_x = s
        .cursor
        .and_then(|c| snap_x(lines, s.x, x0 + (x1 - x0) * c));
    let cursor_line: Vec<(f64, f64)> = cursor_x
        .map(|x| {
            (0..=20)
                .map(|i| (x, y0 + (y1 - y0) * i as f64 / 20.0))
                .collect()
        })
        .unwrap_or_default();
    let mut datasets = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let style = if s.smoothing > 0.0 {
            theme.style("chart.raw")
        } else {
            l.style
        };
        datasets.push(
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(style)
                .data(&raw[i]),
        );
    }
    for (i, l) in lines.iter().enumerate() {
        if let Some(pts) = smooth.get(i) {
            datasets.push(
                Dataset::default()
                    .marker(Marker::Braille)
                    .graph_type(GraphType::Line)
                    .style(l.style)
                    .data(pts),
            );
        }
    }
    if !cursor_line.is_empty() {
        datasets.push(
            Dataset::default()
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(theme.style("chart.cursor"))
                .data(&cursor_line),
        );
    }
    let axis = theme.style("chart.axis");
    let x_title = match s.x {
        XMode::Step => "step",
        XMode::Time => "time",
        XMode::Relative => "elapsed",
    };
    let chart = Chart::new(datasets)
        .block(block)
        .x_axis(Axis::default().style(axis).bounds([x0, x1]).labels(vec![
            Span::raw(x_label(x0, s.x)),
            Span::raw(x_title),
            Span::raw(x_label(x1, s.x)),
        ]))
        .y_axis(Axis::default().style(axis).bounds([y0, y1]).labels(vec![
            Span::raw(y_label(y0, s.log_y)),
            Span::raw(y_label(y1, s.log_y)),
        ]));
    frame.render_widget(chart, area);
    cursor_x
}

/// A one-line sparkline of a series' bucket values, `width` cells wide.
pub fn sparkline(series: &SampledSeries, width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let vals: Vec<f64> = series
        .buckets
        .iter()
        .map(|b| b.last)
        .filter(|v| v.is_finite())
        .collect();
    if vals.is_empty() || width == 0 {
        return String::new();
    }
    let cols = width.min(vals.len());
    let (lo, hi) = vals
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    (0..cols)
        .map(|i| {
            let v = vals[i * vals.len() / cols];
            let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
            BARS[((t * 7.0).round() as usize).min(7)]
        })
        .collect()
}

/// The chart settings as a status line.
pub fn settings_line(s: &ChartSettings) -> String {
    format!(
        "smoothing {:.2} · x {} · log-y {} · {}",
        s.smoothing,
        match s.x {
            XMode::Step => "step",
            XMode::Time => "wall time",
            XMode::Relative => "relative",
        },
        if s.log_y { "on" } else { "off" },
        if s.zoom.is_some() {
            "zoomed (Z resets)"
        } else {
            "full range"
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MetricPoint;
    use crate::series::{downsample, SeriesQuery};

    #[test]
    fn spikes_survive_and_smoothing_debiases() {
        let pts: Vec<MetricPoint> = (0..10_000)
            .map(|i| MetricPoint {
                step: i,
                timestamp: i,
                value: if i == 5_000 { 100.0 } else { 1.0 },
            })
            .collect();
        let series = downsample(
            "x",
            &pts,
            &SeriesQuery {
                buckets: 50,
                ..Default::default()
            },
        );
        let line = ChartLine {
            label: "x".into(),
            style: Style::default(),
            series: &series,
            start_ms: 0,
        };
        let s = ChartSettings::default();
        assert!(raw_points(&line, &s).iter().any(|p| p.1 == 100.0));
        let sm = smoothed_points(
            &line,
            &ChartSettings {
                smoothing: 0.9,
                ..s
            },
        );
        // Debiased EMA starts at the first value rather than at a tenth of it.
        assert!((sm[0].1 - 1.0).abs() < 1e-9);
        assert_eq!(sparkline(&series, 10).chars().count(), 10);
    }

    #[test]
    fn a_flat_series_is_padded_relative_to_its_value() {
        assert_eq!(y_bounds(0.001, 0.001, false), (0.0009, 0.0011));
        assert_eq!(y_bounds(-50.0, -50.0, false), (-55.0, -45.0));
        assert_eq!(y_bounds(0.0, 0.0, false), (-1.0, 1.0));
        assert_eq!(y_bounds(0.2, 0.9, false), (0.2, 0.9));
        assert_eq!(
            y_bounds(f64::INFINITY, f64::NEG_INFINITY, false),
            (0.0, 1.0)
        );
    }

    #[test]
    fn the_cursor_snaps_to_logged_points_and_reads_times_as_times() {
        let pts: Vec<MetricPoint> = (0..30)
            .map(|i| MetricPoint {
                step: i * 10,
                timestamp: 1_796_000_000_000 + i * 60_000,
                value: i as f64,
            })
            .collect();
        let by_step = downsample("loss", &pts, &SeriesQuery::default());
        let line = |series| ChartLine {
            label: "loss".into(),
            style: Style::default(),
            series,
            start_ms: 1_796_000_000_000,
        };
        let s = ChartSettings::default();
        let lines = [line(&by_step)];
        assert_eq!(snap_x(&lines, s.x, 181.3), Some(180.0));
        assert_eq!(
            cursor_text(&lines, &s, 180.0),
            " · cursor step 180: loss 18"
        );
        let by_time = downsample(
            "loss",
            &pts,
            &SeriesQuery {
                x: crate::series::XAxis::Time,
                ..Default::default()
            },
        );
        let lines = [line(&by_time)];
        let s = ChartSettings {
            x: XMode::Time,
            ..s
        };
        let x = snap_x(&lines, s.x, 1_796_000_000_000.0 + 121_000.0).unwrap();
        assert_eq!(x, 1_796_000_120_000.0);
        let text = cursor_text(&lines, &s, x);
        assert!(
            !text.contains("e12") && text.ends_with(": loss 2"),
            "{text}"
        );
        assert_eq!(text.matches(':').count(), 3, "a time of day: {text}");
    }
}
