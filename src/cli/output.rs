//! Output for listings: `--format table|json|csv|md`, table on a terminal and JSON otherwise.
//! Tables are aligned and fit the terminal's width (low-priority columns are dropped first,
//! long cells truncated with `…`). How numbers, times and widths look is `crate::present`'s
//! business, shared with the UI; this module lays cells out and writes them.
use crate::present::{display_width, truncate, Format};
use serde::Serialize;
use std::io::{IsTerminal, Write};

/// A table of text cells.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Columns that may be dropped when the terminal is too narrow, from the right.
    pub droppable_from: usize,
    /// Right-align these columns (numbers).
    pub numeric: Vec<bool>,
    /// When set, which columns a narrow terminal drops instead of `droppable_from`: the
    /// highest rank first (`present::column_fit`), never rank 0.
    pub keep_rank: Vec<u8>,
}

impl Table {
    pub fn new(headers: Vec<String>) -> Self {
        let n = headers.len();
        Table {
            headers,
            rows: Vec::new(),
            droppable_from: n,
            numeric: vec![false; n],
            keep_rank: Vec::new(),
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
        let n = widths.len();
        let mut shown: Vec<usize> = (0..n).collect();
        if let Some(max) = max_width {
            let total = |ws: &[usize], shown: &[usize]| {
                shown.iter().map(|i| ws[*i]).sum::<usize>() + 2 * shown.len().saturating_sub(1)
            };
            if self.keep_rank.len() == n {
                shown = crate::present::column_fit::fit_by_rank(
                    &widths,
                    &self.keep_rank,
                    2,
                    max + 2,
                    None,
                );
            } else {
                while shown.len() > self.droppable_from.max(1) && total(&widths, &shown) > max {
                    shown.pop();
                }
            }
            // Still too wide: shrink the widest columns, keeping at least 8 characters.
            while total(&widths, &shown) > max {
                let Some(&i) = shown.iter().max_by_key(|i| widths[**i]) else {
                    break;
                };
                if widths[i] <= 8 {
                    break;
                }
                widths[i] -= 1;
            }
        }
        let mut out = String::new();
        let line = |cells: &[String], out: &mut String| {
            let mut parts = Vec::new();
            for (k, &i) in shown.iter().enumerate() {
                let width = widths[i];
                let cell = cells.get(i).map(String::as_str).unwrap_or("");
                let cell = truncate(cell, width);
                let pad = width.saturating_sub(display_width(&cell));
                let last = k + 1 == shown.len();
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
        let hidden: Vec<&str> = (0..n)
            .filter(|i| !shown.contains(i))
            .map(|i| self.headers[i].as_str())
            .collect();
        if !hidden.is_empty() {
            out.push_str(&format!(
                "({} more column{} hidden to fit the terminal; use --columns or --format json)\n",
                hidden.len(),
                if hidden.len() == 1 { "" } else { "s" },
            ));
            let names = format!("(hidden: {})", hidden.join(", "));
            let names = match max_width {
                Some(max) if display_width(&names) > max => {
                    format!("{})", truncate(&names, max.saturating_sub(1)))
                }
                _ => names,
            };
            out.push_str(&names);
            out.push('\n');
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

pub fn terminal_width() -> Option<usize> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    crossterm::terminal::size().ok().map(|(w, _)| w as usize)
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
