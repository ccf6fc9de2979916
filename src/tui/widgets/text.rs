//! Text rendering helpers: ANSI colour codes in logs (kept as styles or stripped cleanly),
//! search highlighting, a readable rendering of markdown notes, and coloured diffs.
use crate::tui::theme::Theme;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

/// Splits a line with ANSI escape sequences into styled spans. SGR codes (colours, bold,
/// reset) become styles when `keep`; every escape sequence is removed either way.
pub fn ansi_line(line: &str, keep: bool) -> Line<'static> {
    let mut spans = Vec::new();
    let mut style = Style::default();
    let mut text = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                let mut params = String::new();
                let mut final_char = None;
                for p in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&p) {
                        final_char = Some(p);
                        break;
                    }
                    params.push(p);
                }
                if final_char == Some('m') && keep {
                    if !text.is_empty() {
                        spans.push(Span::styled(std::mem::take(&mut text), style));
                    }
                    style = apply_sgr(style, &params);
                }
            } else {
                // Other escapes (ESC x): drop the next character too.
                chars.next();
            }
            continue;
        }
        if c == '\r' {
            // A carriage return redraws the line (progress bars): keep what came last.
            text.clear();
            spans.clear();
            continue;
        }
        if c == '\t' {
            text.push_str("    ");
        } else if !c.is_control() {
            text.push(c);
        }
    }
    if !text.is_empty() {
        spans.push(Span::styled(text, style));
    }
    Line::from(spans)
}

fn basic(n: u16) -> Color {
    match n {
        0 => Color::Black,
        1 => Color::Red,
        2 => Color::Green,
        3 => Color::Yellow,
        4 => Color::Blue,
        5 => Color::Magenta,
        6 => Color::Cyan,
        7 => Color::Gray,
        8 => Color::DarkGray,
        9 => Color::LightRed,
        10 => Color::LightGreen,
        11 => Color::LightYellow,
        12 => Color::LightBlue,
        13 => Color::LightMagenta,
        14 => Color::LightCyan,
        _ => Color::White,
    }
}

fn apply_sgr(mut style: Style, params: &str) -> Style {
    let nums: Vec<u16> = params.split(';').map(|p| p.parse().unwrap_or(0)).collect();
    let mut i = 0;
    while i < nums.len() {
        match nums[i] {
            0 => style = Style::default(),
            1 => style = style.add_modifier(Modifier::BOLD),
            2 => style = style.add_modifier(Modifier::DIM),
            3 => style = style.add_modifier(Modifier::ITALIC),
            4 => style = style.add_modifier(Modifier::UNDERLINED),
            22 => style = style.remove_modifier(Modifier::BOLD | Modifier::DIM),
            n @ 30..=37 => style = style.fg(basic(n - 30)),
            n @ 90..=97 => style = style.fg(basic(n - 90 + 8)),
            n @ 40..=47 => style = style.bg(basic(n - 40)),
            39 => style.fg = None,
            49 => style.bg = None,
            38 | 48 if nums.get(i + 1) == Some(&5) => {
                let c = Color::Indexed(nums.get(i + 2).copied().unwrap_or(0) as u8);
                style = if nums[i] == 38 {
                    style.fg(c)
                } else {
                    style.bg(c)
                };
                i += 2;
            }
            38 | 48 if nums.get(i + 1) == Some(&2) => {
                let g = |k: usize| nums.get(i + k).copied().unwrap_or(0) as u8;
                let c = Color::Rgb(g(2), g(3), g(4));
                style = if nums[i] == 38 {
                    style.fg(c)
                } else {
                    style.bg(c)
                };
                i += 4;
            }
            _ => {}
        }
        i += 1;
    }
    style
}

/// Highlights case-insensitive matches of `needle` in a line's spans.
pub fn highlight(line: Line<'static>, needle: &str, style: Style) -> Line<'static> {
    if needle.is_empty() {
        return line;
    }
    let needle = needle.to_lowercase();
    let mut out = Vec::new();
    for span in line.spans {
        let text = span.content.to_string();
        let lower = text.to_lowercase();
        // Lowercasing can change byte lengths outside ASCII; only split when it did not.
        if lower.len() != text.len() {
            out.push(span);
            continue;
        }
        let mut start = 0;
        while let Some(pos) = lower[start..].find(&needle) {
            let a = start + pos;
            let b = a + needle.len();
            if a > start {
                out.push(Span::styled(text[start..a].to_string(), span.style));
            }
            out.push(Span::styled(
                text[a..b].to_string(),
                span.style.patch(style),
            ));
            start = b;
        }
        if start < text.len() {
            out.push(Span::styled(text[start..].to_string(), span.style));
        }
    }
    Line::from(out)
}

/// Markdown for reading in a terminal: headings bold, bullets as •, `code` and **bold**
/// styled, fenced code dimmed; everything else as written.
pub fn markdown(text: &str, theme: &Theme, indent: &str) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let mut in_code = false;
    for raw in text.lines() {
        if raw.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            out.push(Line::styled(
                format!("{indent}  {raw}"),
                theme.style("text.dim"),
            ));
            continue;
        }
        let trimmed = raw.trim_start();
        if trimmed.is_empty() {
            // A whitespace-only line would wrap into two rows; an empty one stays one.
            out.push(Line::raw(""));
            continue;
        }
        if let Some(h) = trimmed.strip_prefix('#') {
            let h = h.trim_start_matches('#').trim();
            out.push(Line::styled(
                format!("{indent}{h}"),
                theme.style("title").add_modifier(Modifier::BOLD),
            ));
            continue;
        }
        let (prefix, body) = if let Some(b) = trimmed
            .strip_prefix("- ")
            .or_else(|| trimmed.strip_prefix("* "))
        {
            let depth = raw.len() - trimmed.len();
            (format!("{indent}{}• ", " ".repeat(depth)), b)
        } else if let Some(b) = trimmed.strip_prefix("> ") {
            (format!("{indent}│ "), b)
        } else {
            (indent.to_string(), raw)
        };
        let mut spans = vec![Span::raw(prefix)];
        spans.extend(inline(body, theme));
        out.push(Line::from(spans));
    }
    out
}

fn inline(text: &str, theme: &Theme) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let next_code = rest.find('`');
        let next_bold = rest.find("**");
        match (next_code, next_bold) {
            (Some(c), b) if b.is_none_or(|b| c < b) => {
                if let Some(end) = rest[c + 1..].find('`') {
                    spans.push(Span::raw(rest[..c].to_string()));
                    spans.push(Span::styled(
                        rest[c + 1..c + 1 + end].to_string(),
                        theme.style("text.accent"),
                    ));
                    rest = &rest[c + 2 + end..];
                    continue;
                }
                break;
            }
            (_, Some(b)) => {
                if let Some(end) = rest[b + 2..].find("**") {
                    spans.push(Span::raw(rest[..b].to_string()));
                    spans.push(Span::styled(
                        rest[b + 2..b + 2 + end].to_string(),
                        Style::default().add_modifier(Modifier::BOLD),
                    ));
                    rest = &rest[b + 4 + end..];
                    continue;
                }
                break;
            }
            _ => break,
        }
    }
    if !rest.is_empty() {
        spans.push(Span::raw(rest.to_string()));
    }
    spans
}

/// A unified diff line in the theme's diff colours.
pub fn diff_line(line: &str, theme: &Theme) -> Line<'static> {
    let role = if line.starts_with("+++") || line.starts_with("---") || line.starts_with("diff ") {
        "title"
    } else if line.starts_with('+') {
        "diff.add"
    } else if line.starts_with('-') {
        "diff.remove"
    } else if line.starts_with("@@") {
        "diff.hunk"
    } else {
        "text"
    };
    Line::styled(line.replace('\t', "    "), theme.style(role))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(l: &Line) -> String {
        l.spans.iter().map(|s| s.content.to_string()).collect()
    }

    #[test]
    fn ansi_is_kept_as_style_or_stripped() {
        let kept = ansi_line("\u{1b}[31merror\u{1b}[0m: x\u{1b}[2K", true);
        assert_eq!(plain(&kept), "error: x");
        assert_eq!(kept.spans[0].style.fg, Some(Color::Red));
        let stripped = ansi_line("\u{1b}[1;32mok\u{1b}[0m", false);
        assert_eq!(plain(&stripped), "ok");
        assert_eq!(stripped.spans[0].style, Style::default());
        assert_eq!(plain(&ansi_line("10%\r50%\r100%", true)), "100%");
    }

    #[test]
    fn markdown_and_highlight() {
        let t = Theme::fallback();
        let lines = markdown("# Title\n- a `b` **c**", &t, "");
        assert_eq!(plain(&lines[0]), "Title");
        assert_eq!(plain(&lines[1]), "• a b c");
        let h = highlight(Line::raw("Loss=1 loss=2"), "loss", Style::default());
        assert_eq!(h.spans.len(), 4);
    }
}
