//! Syntax highlighting with syntect (its pure-Rust regex engine, embedded syntaxes and
//! themes) for the Source tab's diff and command and the Artifacts preview. It runs on the
//! store thread (loading the syntaxes takes tens of milliseconds, a long diff more), and the
//! UI theme names the syntect theme (`syntax = "..."`; none in `mono`, which stays plain).
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use std::sync::OnceLock;
use syntect::easy::HighlightLines;
use syntect::highlighting::{FontStyle, ThemeSet};
use syntect::parsing::SyntaxSet;

/// Longer texts are shown plain past this many lines (highlighting is linear but not free).
pub const MAX_LINES: usize = 5000;

struct Assets {
    syntaxes: SyntaxSet,
    themes: ThemeSet,
}

fn assets() -> &'static Assets {
    static ASSETS: OnceLock<Assets> = OnceLock::new();
    ASSETS.get_or_init(|| Assets {
        syntaxes: SyntaxSet::load_defaults_newlines(),
        themes: ThemeSet::load_defaults(),
    })
}

/// Highlights `text` as the language of file extension or name `lang` (`diff`, `sh`, `py`,
/// `config.yaml`) with syntect theme `theme`; plain lines when either is unknown or `theme`
/// is None.
pub fn highlight(text: &str, lang: &str, theme: Option<&str>) -> Vec<Line<'static>> {
    let plain = |t: &str| -> Vec<Line<'static>> {
        t.lines()
            .map(|l| Line::raw(l.replace('\t', "    ")))
            .collect()
    };
    let Some(theme_name) = theme else {
        return plain(text);
    };
    let a = assets();
    let ext = lang.rsplit('.').next().unwrap_or(lang);
    let syntax = a
        .syntaxes
        .find_syntax_by_extension(ext)
        .or_else(|| a.syntaxes.find_syntax_by_token(ext));
    let (Some(syntax), Some(theme)) = (syntax, a.themes.themes.get(theme_name)) else {
        return plain(text);
    };
    let mut h = HighlightLines::new(syntax, theme);
    let mut out = Vec::new();
    for (i, line) in syntect::util::LinesWithEndings::from(text).enumerate() {
        if i >= MAX_LINES {
            out.extend(plain(&text.lines().skip(i).collect::<Vec<_>>().join("\n")));
            break;
        }
        let Ok(ranges) = h.highlight_line(line, &a.syntaxes) else {
            out.push(Line::raw(line.trim_end_matches('\n').replace('\t', "    ")));
            continue;
        };
        let spans: Vec<Span<'static>> = ranges
            .into_iter()
            .map(|(style, piece)| {
                let mut s = Style::default().fg(Color::Rgb(
                    style.foreground.r,
                    style.foreground.g,
                    style.foreground.b,
                ));
                if style.font_style.contains(FontStyle::BOLD) {
                    s = s.add_modifier(Modifier::BOLD);
                }
                if style.font_style.contains(FontStyle::ITALIC) {
                    s = s.add_modifier(Modifier::ITALIC);
                }
                Span::styled(
                    piece.trim_end_matches(['\n', '\r']).replace('\t', "    "),
                    s,
                )
            })
            .collect();
        out.push(Line::from(spans));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffs_get_colours_and_unknown_languages_stay_plain() {
        let diff = "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a = 1\n+a = 2\n";
        let lines = highlight(diff, "diff", Some("base16-ocean.dark"));
        assert_eq!(lines.len(), 5);
        let added = &lines[4];
        assert!(added.spans.iter().any(|s| s.style.fg.is_some()));
        let text: String = added.spans.iter().map(|s| s.content.to_string()).collect();
        assert_eq!(text, "+a = 2");
        let plain = highlight("x\ty", "nosuchlang", Some("base16-ocean.dark"));
        assert_eq!(plain[0].spans[0].content, "x    y");
        assert_eq!(
            highlight("a", "py", None)[0].spans[0].style,
            Style::default()
        );
    }
}
