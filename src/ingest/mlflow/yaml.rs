//! A reader for the flat `key: value` YAML that MLflow's FileStore writes as `meta.yaml`.
//!
//! MLflow dumps one mapping of scalars with PyYAML: plain strings, `'single'` and `"double"`
//! quoted strings, integers, `null`, `''` and `[]`. Long plain or quoted scalars may be folded
//! onto indented continuation lines. Nothing else (nesting, anchors, block scalars) occurs, so
//! this reader handles exactly that and reports anything it cannot make sense of.
//!
//! A `meta.yaml` comes from a store that may be hostile: the reader never panics, works in
//! time linear in its input (no recursion: a nested flow list is an error), and quotes at most
//! an excerpt of the input in its errors.
use super::excerpt;
use std::collections::BTreeMap;

/// One scalar value of a `meta.yaml` entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Str(String),
    /// `[]`, or any flow list (only the legacy empty `tags: []` occurs).
    List(Vec<String>),
}

impl Value {
    /// The value as text: strings as they are, integers in decimal, null and lists as None.
    pub fn text(&self) -> Option<String> {
        match self {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Null | Value::List(_) => None,
        }
    }

    /// The value as an integer: integers, and strings that hold one.
    pub fn int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Str(s) => s.trim().parse().ok(),
            Value::Null | Value::List(_) => None,
        }
    }
}

/// A parsed `meta.yaml`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Meta(pub BTreeMap<String, Value>);

impl Meta {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// The text of `key`, None when absent, null or empty.
    pub fn text(&self, key: &str) -> Option<String> {
        self.get(key)
            .and_then(Value::text)
            .filter(|s| !s.is_empty())
    }

    pub fn int(&self, key: &str) -> Option<i64> {
        self.get(key).and_then(Value::int)
    }
}

/// Parses a `meta.yaml`. Errors name the 1-based line that could not be read.
pub fn parse(text: &str) -> Result<Meta, String> {
    let mut entries: Vec<(usize, String, String)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let trimmed = line.trim_end();
        if trimmed.trim().is_empty() {
            // An empty line inside a folded scalar is a line break.
            if let Some(last) = entries.last_mut() {
                last.2.push('\n');
            }
            continue;
        }
        if trimmed.starts_with('#') || trimmed == "---" || trimmed == "..." {
            continue;
        }
        if trimmed.starts_with([' ', '\t']) {
            let Some(last) = entries.last_mut() else {
                return Err(format!("line {line_no}: indented line before any key"));
            };
            if !last.2.is_empty() && !last.2.ends_with('\n') {
                last.2.push(' ');
            }
            last.2.push_str(trimmed.trim());
            continue;
        }
        let Some((key, rest)) = split_key(trimmed) else {
            return Err(format!(
                "line {line_no}: expected 'key: value', found {:?}",
                excerpt(trimmed)
            ));
        };
        entries.push((line_no, key, rest.trim().to_string()));
    }
    let mut out = BTreeMap::new();
    for (line_no, key, raw) in entries {
        let value =
            scalar(raw.trim_end_matches('\n')).map_err(|e| format!("line {line_no}: {e}"))?;
        out.insert(key, value);
    }
    Ok(Meta(out))
}

/// Splits `key: rest` at the first `: ` (or a trailing `:`). Keys may be quoted.
fn split_key(line: &str) -> Option<(String, &str)> {
    if line.starts_with(['\'', '"']) {
        let (key, used) = quoted_prefix(line)?;
        let rest = line[used..].strip_prefix(':')?;
        return (rest.is_empty() || rest.starts_with(' ')).then_some((key, rest));
    }
    let pos = line
        .find(": ")
        .or_else(|| line.ends_with(':').then(|| line.len() - 1))?;
    let key = line[..pos].trim();
    (!key.is_empty()).then(|| (key.to_string(), &line[pos + 1..]))
}

/// Reads a quoted string at the start of `s`; returns it and the bytes consumed.
fn quoted_prefix(s: &str) -> Option<(String, usize)> {
    let quote = s.chars().next()?;
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        if quote == '\'' {
            if c == '\'' {
                if matches!(chars.peek(), Some((_, '\''))) {
                    chars.next();
                    out.push('\'');
                    continue;
                }
                return Some((out, i + 1));
            }
            out.push(c);
        } else {
            match c {
                '"' => return Some((out, i + 1)),
                '\\' => {
                    let (_, e) = chars.next()?;
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        '0' => out.push('\0'),
                        'a' => out.push('\x07'),
                        'b' => out.push('\x08'),
                        'e' => out.push('\x1b'),
                        'f' => out.push('\x0c'),
                        'v' => out.push('\x0b'),
                        ' ' => out.push(' '),
                        '/' => out.push('/'),
                        '"' => out.push('"'),
                        '\\' => out.push('\\'),
                        'N' => out.push('\u{85}'),
                        '_' => out.push('\u{a0}'),
                        'L' => out.push('\u{2028}'),
                        'P' => out.push('\u{2029}'),
                        'x' | 'u' | 'U' => {
                            let len = match e {
                                'x' => 2,
                                'u' => 4,
                                _ => 8,
                            };
                            let mut hex = String::new();
                            for _ in 0..len {
                                hex.push(chars.next()?.1);
                            }
                            out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                        }
                        // A backslash before a folded line break joins the lines without a space.
                        other => out.push(other),
                    }
                }
                c => out.push(c),
            }
        }
    }
    None
}

fn scalar(raw: &str) -> Result<Value, String> {
    let raw = raw.trim();
    if raw.is_empty() || raw == "null" || raw == "~" || raw == "Null" || raw == "NULL" {
        return Ok(Value::Null);
    }
    if raw.starts_with(['\'', '"']) {
        let (s, used) = quoted_prefix(raw)
            .ok_or_else(|| format!("unterminated quoted string {:?}", excerpt(raw)))?;
        if !raw[used..].trim().is_empty() {
            return Err(format!(
                "unexpected text after quoted string {:?}",
                excerpt(raw)
            ));
        }
        return Ok(Value::Str(s));
    }
    if let Some(inner) = raw.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        let items = inner
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(list_item)
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Value::List(items));
    }
    if let Ok(i) = raw.parse::<i64>() {
        return Ok(Value::Int(i));
    }
    Ok(Value::Str(raw.to_string()))
}

/// One item of a flow list: a plain or quoted scalar (never a list: no recursion).
fn list_item(item: &str) -> Result<String, String> {
    if item.starts_with(['[', '{']) {
        return Err(format!(
            "nested collections are not supported: {:?}",
            excerpt(item)
        ));
    }
    scalar(item).map(|v| v.text().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reads_a_run_meta_yaml() {
        let text = "artifact_uri: file:///home/a/mlruns/1/abc/artifacts\nend_time: null\nentry_point_name: ''\nexperiment_id: '853099972095872099'\nlifecycle_stage: active\nrun_name: SVM kernel\nstatus: 3\ntags: []\nuser_id: muskaanjain\n";
        let m = parse(text).unwrap();
        assert_eq!(
            m.text("artifact_uri").as_deref(),
            Some("file:///home/a/mlruns/1/abc/artifacts")
        );
        assert_eq!(m.get("end_time"), Some(&Value::Null));
        assert_eq!(m.get("entry_point_name"), Some(&Value::Str(String::new())));
        assert_eq!(m.text("entry_point_name"), None);
        assert_eq!(
            m.get("experiment_id"),
            Some(&Value::Str("853099972095872099".into()))
        );
        assert_eq!(m.int("experiment_id"), Some(853099972095872099));
        assert_eq!(m.int("status"), Some(3));
        assert_eq!(m.get("tags"), Some(&Value::List(vec![])));
        assert_eq!(m.text("run_name").as_deref(), Some("SVM kernel"));
    }

    #[test]
    fn reads_quotes_escapes_unicode_and_folded_lines() {
        let text = "name: 'it''s: here'\nother: \"tab\\there \\u00e9\\U0001F600\"\nplain: ablation ünïcode/名前\nlong: 'a b\n  c d'\nnum_str: '12'\nkey_only:\n";
        let m = parse(text).unwrap();
        assert_eq!(m.text("name").as_deref(), Some("it's: here"));
        assert_eq!(m.text("other").as_deref(), Some("tab\there é😀"));
        assert_eq!(m.text("plain").as_deref(), Some("ablation ünïcode/名前"));
        assert_eq!(m.text("long").as_deref(), Some("a b c d"));
        assert_eq!(m.get("num_str"), Some(&Value::Str("12".into())));
        assert_eq!(m.get("key_only"), Some(&Value::Null));
    }

    #[test]
    fn nested_lists_are_an_error_not_a_recursion() {
        let deep = format!("tags: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse(&deep).unwrap_err().contains("nested collections"));
        assert_eq!(
            parse("tags: [a, 'b', \"c\"]\n").unwrap().get("tags"),
            Some(&Value::List(vec!["a".into(), "b".into(), "c".into()]))
        );
    }

    /// Hostile inputs of 256 KiB each, shaped to catch recursion and quadratic work: quadratic
    /// work on them would take minutes, linear takes well under a second even in a debug build
    /// (the bound is loose for loaded CI machines).
    #[test]
    fn hostile_inputs_parse_in_linear_time() {
        const SIZE: usize = 1 << 18;
        let inputs = [
            format!("a: {}{}", "[".repeat(SIZE / 2), "]".repeat(SIZE / 2)),
            format!("a: '{}'", "''".repeat(SIZE / 2)),
            format!("a: \"{}\"", "\\n".repeat(SIZE / 2)),
            format!("a: \"{}", "\\".repeat(SIZE)),
            "k: v\n".repeat(SIZE / 5),
            format!("a: x{}", "\n  y".repeat(SIZE / 4)),
            format!("a: x{}", "\n".repeat(SIZE)),
            format!("'{}: v", "'".repeat(SIZE)),
            ": ".repeat(SIZE / 2),
            format!("a: [{}]", ",".repeat(SIZE)),
        ];
        for input in &inputs {
            let started = std::time::Instant::now();
            let result = parse(input);
            let took = started.elapsed();
            assert!(
                took < std::time::Duration::from_secs(10),
                "{took:?} for {:?}",
                &input[..40]
            );
            if let Err(e) = result {
                assert!(e.len() < 400, "an error quotes at most an excerpt: {e}");
            }
        }
    }

    fn key() -> impl Strategy<Value = String> {
        "[a-z_]{1,12}"
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn parse_never_panics_on_any_text(text in "(?s).{0,300}") {
            let _ = parse(&text);
        }

        #[test]
        fn parse_never_panics_on_yaml_like_text(
            pieces in prop::collection::vec(prop::sample::select(vec![
                "a: ", "'", "''", "\"", "\\", "\\x", "\\u00", "\\U0010FFFF", "\\UFFFFFFFF",
                "[", "]", ",", "{", "\n", "\n  ", "\n\t", "#", "---", "...", ": ", "~", "null",
                "-9223372036854775809", "é", "\u{2028}", "\r", " ",
            ]), 0..60)
        ) {
            let _ = parse(&pieces.concat());
        }

        /// Values written the way PyYAML quotes them read back exactly.
        #[test]
        fn quoted_values_read_back_exactly(
            entries in prop::collection::btree_map(key(), "[ -~]{0,40}", 0..8),
            double in any::<bool>(),
        ) {
            let mut text = String::new();
            for (k, v) in &entries {
                let quoted = if double {
                    format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
                } else {
                    format!("'{}'", v.replace('\'', "''"))
                };
                text.push_str(&format!("{k}: {quoted}\n"));
            }
            let meta = parse(&text).unwrap();
            for (k, v) in &entries {
                prop_assert_eq!(meta.get(k), Some(&Value::Str(v.clone())));
            }
        }
    }

    #[test]
    fn reports_bad_lines() {
        assert!(parse("just text\n").unwrap_err().contains("line 1"));
        assert!(parse("a: 1\nb: 'open\n").unwrap_err().contains("line 2"));
    }
}
