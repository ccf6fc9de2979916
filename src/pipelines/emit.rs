//! A YAML writer for JSON values that writes what DVC's ruamel dump writes (block style,
//! `default_flow_style = False`), so a `dvc.lock` kiroku rewrites reads as DVC's own:
//!
//! - mappings indent by two; a list under a key starts at the key's column (`deps:\n- path: …`);
//! - plain scalars wherever YAML allows (no indicator at the start, no `: ` or ` #` inside, not
//!   readable as a number, boolean or null), else single quotes, else double quotes;
//! - long plain and single-quoted scalars fold at a space past column 80;
//! - floats as Python's `repr` (`0.1`, `1.0e-05`), null inside a mapping as nothing (`key:`),
//!   empty collections as `{}` and `[]`.
use super::template::python_float;
use serde_json::Value as Json;

const WIDTH: usize = 80;

/// The document's text, ending in a newline.
pub fn to_yaml(value: &Json) -> String {
    let mut out = Emitter::default();
    match value {
        Json::Object(map) if !map.is_empty() => out.mapping(map, 0),
        Json::Array(items) if !items.is_empty() => out.sequence(items, 0),
        other => {
            let text = scalar(other, 0, 0);
            out.text.push_str(&text);
            out.text.push('\n');
        }
    }
    out.text
}

#[derive(Default)]
struct Emitter {
    text: String,
}

impl Emitter {
    fn column(&self) -> usize {
        self.text.len() - self.text.rfind('\n').map_or(0, |i| i + 1)
    }

    /// A mapping whose keys start at `indent`; the first key continues the current line.
    fn mapping(&mut self, map: &serde_json::Map<String, Json>, indent: usize) {
        for (i, (key, value)) in map.iter().enumerate() {
            if i > 0 {
                self.text.push_str(&" ".repeat(indent));
            }
            let key_text = scalar(&Json::String(key.clone()), self.column(), indent + 2);
            self.text.push_str(&key_text);
            self.text.push(':');
            self.value(value, indent, false);
        }
    }

    /// A sequence whose dashes start at `indent`; the first item continues the current line.
    fn sequence(&mut self, items: &[Json], indent: usize) {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.text.push_str(&" ".repeat(indent));
            }
            self.text.push('-');
            self.value(item, indent, true);
        }
    }

    /// The value after `key:` (or `-`), with its line end.
    fn value(&mut self, value: &Json, indent: usize, in_sequence: bool) {
        match value {
            Json::Object(map) if !map.is_empty() => {
                if in_sequence {
                    self.text.push(' ');
                    self.mapping(map, indent + 2);
                } else {
                    self.text.push('\n');
                    self.text.push_str(&" ".repeat(indent + 2));
                    self.mapping(map, indent + 2);
                }
            }
            Json::Array(items) if !items.is_empty() => {
                if in_sequence {
                    self.text.push(' ');
                    self.sequence(items, indent + 2);
                } else {
                    self.text.push('\n');
                    self.text.push_str(&" ".repeat(indent));
                    self.sequence(items, indent);
                }
            }
            Json::Null => self.text.push('\n'),
            other => {
                self.text.push(' ');
                // Folded lines continue two columns in from the key or the dash.
                let text = scalar(other, self.column(), indent + 2);
                self.text.push_str(&text);
                self.text.push('\n');
            }
        }
    }
}

/// A scalar's text starting at `column`; folded lines continue at `indent`.
fn scalar(value: &Json, column: usize, indent: usize) -> String {
    match value {
        Json::Null => "null".into(),
        Json::Bool(b) => if *b { "true" } else { "false" }.into(),
        Json::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
        Json::Number(n) => float_text(n.as_f64().unwrap_or(f64::NAN)),
        Json::String(s) => string(s, column, indent),
        Json::Array(_) => "[]".into(),
        Json::Object(_) => "{}".into(),
    }
}

fn float_text(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    let repr = python_float(f);
    if !repr.contains('.') && repr.contains('e') {
        repr.replacen('e', ".0e", 1)
    } else {
        repr
    }
}

enum Style {
    Plain,
    Single,
    Double,
}

fn string(s: &str, column: usize, indent: usize) -> String {
    match style(s) {
        Style::Plain => fold(s, column, indent, false),
        Style::Single => {
            let escaped = s.replace('\'', "''");
            format!("'{}'", fold(&escaped, column + 1, indent, true))
        }
        Style::Double => double_quoted(s),
    }
}

/// Breaks `text` at single spaces once the line is past the width (PyYAML's rule).
fn fold(text: &str, start_column: usize, indent: usize, quoted: bool) -> String {
    let mut out = String::new();
    let mut column = start_column;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == ' ' {
            let single =
                (i == 0 || chars[i - 1] != ' ') && chars.get(i + 1).is_some_and(|n| *n != ' ');
            let at_edge = quoted && (i == 0 || i + 1 == chars.len());
            if single && column > WIDTH && !at_edge {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
                column = indent;
                i += 1;
                continue;
            }
        }
        out.push(c);
        column += 1;
        i += 1;
    }
    out
}

/// Whether a plain scalar would read back as something other than this string under YAML
/// 1.2's core schema as ruamel resolves it (booleans, nulls, ints, floats, timestamps).
fn resolves_to_non_string(s: &str) -> bool {
    static PATTERN: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let pattern = PATTERN.get_or_init(|| {
        regex::Regex::new(
            r"(?x)^(?:
              true|True|TRUE|false|False|FALSE
            | ~|null|Null|NULL
            | [-+]?0b[0-1_]+ | [-+]?0o?[0-7_]+ | [-+]?[0-9_]+ | [-+]?0x[0-9a-fA-F_]+
            | [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
            | [-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
            | \.[0-9_]+(?:[eE][-+][0-9]+)?
            | [-+]?\.(?:inf|Inf|INF) | \.(?:nan|NaN|NAN)
            | [0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:(?:[Tt]|[\ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[\ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)?
            )$",
        )
        .expect("the YAML 1.2 scalar pattern")
    });
    pattern.is_match(s)
}

fn style(s: &str) -> Style {
    if s.is_empty() {
        return Style::Single;
    }
    let special = s.chars().any(|c| {
        (c < ' ' && c != '\n')
            || c == '\u{7f}'
            || c == '\u{feff}'
            || c == '\u{85}'
            || c == '\u{2028}'
            || c == '\u{2029}'
    });
    let has_break = s.contains('\n');
    if special || has_break {
        return Style::Double;
    }
    if s.starts_with(' ') || s.ends_with(' ') || resolves_to_non_string(s) {
        return Style::Single;
    }
    let chars: Vec<char> = s.chars().collect();
    let followed_by_space = |i: usize| chars.get(i + 1).is_none_or(|c| *c == ' ');
    let first = chars[0];
    if "#,[]{}&*!|>'\"%@`".contains(first) || ("?:-".contains(first) && followed_by_space(0)) {
        return Style::Single;
    }
    for i in 1..chars.len() {
        let c = chars[i];
        if (c == ':' && followed_by_space(i)) || (c == '#' && chars[i - 1] == ' ') {
            return Style::Single;
        }
    }
    if s.starts_with("---") || s.starts_with("...") {
        return Style::Single;
    }
    Style::Plain
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02X}", c as u32))
            }
            '\u{85}' => out.push_str("\\N"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            '\u{feff}' => out.push_str("\\uFEFF"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipelines::yaml;
    use serde_json::json;

    #[test]
    fn scalars_are_quoted_only_when_needed_and_read_back() {
        let value = json!({
            "schema": "2.0", "a": "plain text", "b": "x: y", "c": "- x", "d": "it's", "e": "",
            "f": "true", "g": "1e3", "h": "line\nbreak", "q": "0b1ff", "r": "0b101", "t": "no", "i": 1e-5, "j": 0.5, "k": [], "l": {},
            "m": "#no", "n": "a #b", "o": "12:30", "p": " lead",
        });
        let text = to_yaml(&value);
        assert!(text.starts_with("schema: '2.0'\na: plain text\nb: 'x: y'\nc: '- x'\nd: it's\ne: ''\nf: 'true'\ng: '1e3'\n"), "{text}");
        assert!(
            text.contains("i: 1.0e-05\nj: 0.5\nk: []\nl: {}\n"),
            "{text}"
        );
        assert_eq!(yaml::parse(&text).unwrap().to_json(), value);
    }

    #[test]
    fn nested_lists_and_maps_indent_like_ruamel() {
        let value = json!({"s": {"x": {"deps": [{"path": "a", "size": 1}], "l": [[1, 2], 3]}}});
        let text = to_yaml(&value);
        assert_eq!(
            text,
            "s:\n  x:\n    deps:\n    - path: a\n      size: 1\n    l:\n    - - 1\n      - 2\n    - 3\n"
        );
        assert_eq!(yaml::parse(&text).unwrap().to_json(), value);
    }
}
