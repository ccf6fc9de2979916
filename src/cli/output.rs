//! Output for listings: `--format table|json|csv|md`, table on a terminal and JSON otherwise.
//! Tables are aligned and fit the terminal's width (low-priority columns are dropped first,
//! long cells truncated with `…`). Also the shared number, time and duration formats.
use crate::model::Millis;
use clap::ValueEnum;
use serde::Serialize;
use std::io::{IsTerminal, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
    Md,
}

impl Format {
    /// The explicit choice, else a table on a terminal and JSON otherwise.
    pub fn resolve(choice: Option<Format>) -> Format {
        choice.unwrap_or(if std::io::stdout().is_terminal() {
            Format::Table
        } else {
            Format::Json
        })
    }
}

/// A table of text cells.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Columns that may be dropped when the terminal is too narrow, from the right.
    pub droppable_from: usize,
    /// Right-align these columns (numbers).
    pub numeric: Vec<bool>,
}

impl Table {
    pub fn new(headers: Vec<String>) -> Self {
        let n = headers.len();
        Table {
            headers,
            rows: Vec::new(),
            droppable_from: n,
            numeric: vec![false; n],
        }
    }

    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Table | Format::Json => self.render_aligned(terminal_width()),
            Format::Csv => self.render_csv(),
            Format::Md => self.render_md(),
        }
    }

    fn widths(&self) -> Vec<usize> {
        let mut w: Vec<usize> = self.headers.iter().map(|h| display_width(h)).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if i < w.len() {
                    w[i] = w[i].max(display_width(cell));
                }
            }
        }
        w
    }

    pub fn render_aligned(&self, max_width: Option<usize>) -> String {
        let mut widths = self.widths();
        let mut shown = widths.len();
        if let Some(max) = max_width {
            let total =
                |ws: &[usize], n: usize| ws[..n].iter().sum::<usize>() + 2 * n.saturating_sub(1);
            while shown > self.droppable_from.max(1) && total(&widths, shown) > max {
                shown -= 1;
            }
            // Still too wide: shrink the widest columns, keeping at least 8 characters.
            while total(&widths, shown) > max {
                let (i, w) = widths[..shown]
                    .iter()
                    .enumerate()
                    .max_by_key(|(_, w)| **w)
                    .map(|(i, w)| (i, *w))
                    .unwrap_or((0, 0));
                if w <= 8 {
                    break;
                }
                widths[i] = w - 1;
            }
        }
        let mut out = String::new();
        let line = |cells: &[String], out: &mut String| {
            let mut parts = Vec::new();
            for (i, &width) in widths.iter().enumerate().take(shown) {
                let cell = cells.get(i).map(String::as_str).unwrap_or("");
                let cell = truncate(cell, width);
                let pad = width.saturating_sub(display_width(&cell));
                let last = i + 1 == shown;
                if self.numeric.get(i).copied().unwrap_or(false) {
                    parts.push(format!("{}{}", " ".repeat(pad), cell));
                } else if last {
                    parts.push(cell);
                } else {
                    parts.push(format!("{}{}", cell, " ".repeat(pad)));
                }
            }
            out.push_str(parts.join("  ").trim_end());
            out.push('\n');
        };
        line(&self.headers, &mut out);
        for row in &self.rows {
            line(row, &mut out);
        }
        if shown < self.headers.len() {
            out.push_str(&format!(
                "({} more column{} hidden to fit the terminal; use --columns or --format json)\n",
                self.headers.len() - shown,
                if self.headers.len() - shown == 1 {
                    ""
                } else {
                    "s"
                }
            ));
        }
        out
    }

    fn render_csv(&self) -> String {
        let mut out = String::new();
        for row in std::iter::once(&self.headers).chain(self.rows.iter()) {
            let cells: Vec<String> = row.iter().map(|c| csv_cell(c)).collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }

    fn render_md(&self) -> String {
        let esc = |c: &str| c.replace('|', "\\|").replace('\n', " ");
        let mut out = format!(
            "| {} |\n",
            self.headers
                .iter()
                .map(|h| esc(h))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        out.push_str(&format!(
            "|{}|\n",
            (0..self.headers.len())
                .map(|i| if self.numeric.get(i).copied().unwrap_or(false) {
                    "---:"
                } else {
                    "---"
                })
                .collect::<Vec<_>>()
                .join("|")
        ));
        for row in &self.rows {
            out.push_str(&format!(
                "| {} |\n",
                row.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | ")
            ));
        }
        out
    }
}

fn csv_cell(c: &str) -> String {
    if c.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", c.replace('"', "\"\""))
    } else {
        c.to_string()
    }
}

/// Width in terminal cells (wide CJK characters count two).
pub fn display_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

fn char_width(c: char) -> usize {
    let cp = c as u32;
    if c.is_control() {
        0
    } else if (0x1100..=0x115F).contains(&cp)
        || (0x2E80..=0xA4CF).contains(&cp)
        || (0xAC00..=0xD7A3).contains(&cp)
        || (0xF900..=0xFAFF).contains(&cp)
        || (0xFE30..=0xFE4F).contains(&cp)
        || (0xFF00..=0xFF60).contains(&cp)
        || (0xFFE0..=0xFFE6).contains(&cp)
        || (0x1F300..=0x1FAFF).contains(&cp)
    {
        2
    } else {
        1
    }
}

/// Cuts `s` to `width` cells, ending with `…` when cut. Newlines become spaces.
pub fn truncate(s: &str, width: usize) -> String {
    let s = s.replace(['\n', '\r', '\t'], " ");
    if display_width(&s) <= width {
        return s;
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = char_width(c);
        if w + cw + 1 > width {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push('…');
    out
}

pub fn terminal_width() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    crossterm::terminal::size().ok().map(|(w, _)| w as usize)
}

/// A metric value for people: 4 significant digits, scientific when very large or small.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e6).contains(&a) {
        return format!("{v:.3e}");
    }
    if v.fract() == 0.0 {
        return format!("{v:.0}");
    }
    let decimals = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// `3s`, `4m12s`, `2h05m`, `3d04h`.
pub fn format_duration(ms: i64) -> String {
    let s = (ms.max(0) / 1000) as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

/// `12s ago`, `5m ago`, `3h ago`, `2d ago`, or a date for older times.
pub fn format_relative(time: Millis, now: Millis) -> String {
    let s = (now - time) / 1000;
    if s < 0 {
        return "just now".into();
    }
    match s {
        0..=59 => format!("{s}s ago"),
        60..=3599 => format!("{}m ago", s / 60),
        3600..=86399 => format!("{}h ago", s / 3600),
        86400..=2_591_999 => format!("{}d ago", s / 86400),
        _ => format_timestamp(time),
    }
}

/// UTC `YYYY-MM-DD HH:MM:SS`.
pub fn format_timestamp(ms: Millis) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Prints JSON (pretty on a terminal, one line otherwise).
pub fn print_json<T: Serialize>(value: &T) -> std::io::Result<()> {
    let text = if std::io::stdout().is_terminal() {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    }
    .map_err(std::io::Error::other)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")
}

/// The error for output that could not be written (anything but a closed pipe, which ends
/// the process quietly).
pub fn output_error(e: std::io::Error) -> crate::error::KirokuError {
    crate::error::KirokuError::io("writing output", e)
}

/// Prints text to stdout.
pub fn print_text(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_durations_and_dates() {
        assert_eq!(format_value(0.931234), "0.9312");
        assert_eq!(format_value(12.5), "12.5");
        assert_eq!(format_value(1e-5), "1.000e-5");
        assert_eq!(format_value(f64::NAN), "nan");
        assert_eq!(format_duration(61_000), "1m01s");
        assert_eq!(format_timestamp(0), "1970-01-01 00:00:00");
        assert_eq!(format_timestamp(1_700_000_000_000), "2023-11-14 22:13:20");
    }

    #[test]
    fn tables_align_drop_columns_and_escape() {
        let mut t = Table::new(vec!["ID".into(), "NAME".into(), "X".into()]);
        t.droppable_from = 2;
        t.push(vec!["a1".into(), "名前がとても長い".into(), "1".into()]);
        let narrow = t.render_aligned(Some(14));
        assert!(narrow.contains("1 more column"), "{narrow}");
        assert!(
            narrow
                .lines()
                .all(|l| l.starts_with('(') || display_width(l) <= 14),
            "{narrow}"
        );
        t.push(vec!["b".into(), "x,\"y\"".into(), "2".into()]);
        assert!(t.render(Format::Csv).contains("\"x,\"\"y\"\"\""));
        assert!(t.render(Format::Md).starts_with("| ID | NAME | X |"));
    }
}
