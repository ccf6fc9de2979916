//! Reads the flat `key: value` YAML that MLflow's FileStore writes as `meta.yaml`, with the
//! serde-saphyr crate.
//!
//! MLflow dumps one mapping with PyYAML: plain strings, `'single'` and `"double"` quoted
//! strings, integers, `null`, `''`, `[]` and (MLflow 3) `{}`, long scalars folded onto indented
//! lines. [`Value`] keeps exactly that shape (a flat list or mapping at most: anything nested
//! is an error), so the rest of the importer reads entries by name without knowing YAML.
//!
//! A `meta.yaml` comes from a store that may be hostile. The caller reads it bounded; the
//! parser is a maintained, fuzzed, panic-free one without `unsafe` (serde-saphyr over
//! granit-parser), run under a small [`Budget`]: nesting, node count, aliases and documents
//! are capped far above anything MLflow writes and far below anything costly, so parsing is
//! linear in the input. Errors name the 1-based line and quote at most an excerpt.
use super::excerpt;
use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
use serde_saphyr::{Budget, DuplicateKeyPolicy, Options};
use std::collections::BTreeMap;
use std::fmt;

/// One scalar value of a `meta.yaml` entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Str(String),
    /// `[]`, or any flow list of scalars (only the legacy empty `tags: []` occurs).
    List(Vec<String>),
    /// A mapping of scalars (MLflow 3 writes an experiment's `tags: {}`).
    Map(Vec<(String, String)>),
}

impl Value {
    /// The value as text: strings as they are, integers in decimal, null and lists as None.
    pub fn text(&self) -> Option<String> {
        match self {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Null | Value::List(_) | Value::Map(_) => None,
        }
    }

    /// The value as an integer: integers, and strings that hold one.
    pub fn int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Str(s) => s.trim().parse().ok(),
            Value::Null | Value::List(_) | Value::Map(_) => None,
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

/// What a `meta.yaml` may cost: MLflow's hold one mapping of about a dozen scalars.
fn budget() -> Budget {
    let mut budget = Budget::default();
    budget.max_depth = 4;
    budget.max_documents = 1;
    budget.max_nodes = 100_000;
    budget.max_aliases = 0;
    budget.max_anchors = 0;
    budget
}

/// Parses a `meta.yaml`. Errors name the 1-based line that could not be read.
pub fn parse(text: &str) -> Result<Meta, String> {
    // An empty (or comment-only) file is an empty mapping.
    let parsed: Option<BTreeMap<String, Value>> = parse_as(text)?;
    Ok(Meta(parsed.unwrap_or_default()))
}

/// Parses a `meta.yaml` into `T`, under the same budget as [`parse`]. Fields typed `String`
/// keep a plain scalar's text exactly as written: PyYAML writes `digest: 299e7656` unquoted (a
/// string in its YAML 1.1, a float in YAML 1.2), which [`Value`] could only read as a number.
pub fn parse_as<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    let mut options = Options::default();
    options.budget = Some(budget());
    // As the hand-written reader did: the last of repeated keys wins.
    options.duplicate_keys = DuplicateKeyPolicy::LastWins;
    options.with_snippet = false;
    serde_saphyr::from_str_with_options(text, options).map_err(|e| {
        let message = e.without_snippet().to_string();
        match e.location() {
            Some(at) => {
                let (line, column) = (at.line(), at.column());
                let bare = message
                    .strip_suffix(&format!(" at line {line}, column {column}"))
                    .unwrap_or(&message);
                format!("line {line}, column {column}: {}", excerpt(worded(bare)))
            }
            None => excerpt(&message),
        }
    })
}

const NESTED: &str = "nested collections are not supported";

/// The parser's refusal of deep nesting (its scanner looks ahead past the few levels the
/// visitor would reach) worded as the visitor words shallow nesting: one message for one cause.
fn worded(message: &str) -> &str {
    let too_deep = message.starts_with("recursion limit exceeded")
        || message.starts_with("budget breached: Depth");
    if too_deep {
        NESTED
    } else {
        message
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor { in_list: false })
    }
}

/// One item of a flow list, as text (null reads as empty).
struct ListItem(String);

impl<'de> Deserialize<'de> for ListItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let scalar = d.deserialize_any(ValueVisitor { in_list: true })?;
        Ok(ListItem(scalar.text().unwrap_or_default()))
    }
}

/// Reads a scalar, or (at the top) a flat list or mapping of scalars. A collection inside a
/// collection is an error at once: nothing recurses past one level.
struct ValueVisitor {
    in_list: bool,
}

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a scalar or a flat list of scalars")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or_else(|_| Value::Str(v.to_string()), Value::Int))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or_else(|_| Value::Str(v.to_string()), Value::Int))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or_else(|_| Value::Str(v.to_string()), Value::Int))
    }

    /// PyYAML quotes strings that would read as floats or booleans, so MLflow writes none
    /// plain; one that occurs anyway is kept as text.
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        if self.in_list {
            return Err(de::Error::custom(NESTED));
        }
        let mut items = Vec::new();
        while let Some(ListItem(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::List(items))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        if self.in_list {
            return Err(de::Error::custom(NESTED));
        }
        let mut entries = Vec::new();
        while let Some((ListItem(key), ListItem(value))) = map.next_entry()? {
            entries.push((key, value));
        }
        Ok(Value::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn typed_fields_keep_plain_scalars_as_written() {
        #[derive(serde::Deserialize)]
        struct Dataset {
            digest: String,
            other: String,
        }
        let d: Dataset = parse_as("digest: 299e7656\nother: 00123\n").unwrap();
        assert_eq!((d.digest.as_str(), d.other.as_str()), ("299e7656", "00123"));
    }

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
        assert!(parse("tags: [[a]]\n")
            .unwrap_err()
            .contains("nested collections"));
        assert!(parse("a: {b: [1]}\n")
            .unwrap_err()
            .contains("nested collections"));
        assert_eq!(
            parse("tags: {}\nb: {k: v}\n").unwrap().0,
            BTreeMap::from([
                ("tags".to_string(), Value::Map(vec![])),
                ("b".to_string(), Value::Map(vec![("k".into(), "v".into())])),
            ])
        );
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
    fn anchors_and_aliases_are_refused() {
        assert!(parse("a: &x 1\nb: *x\n").unwrap_err().contains("line 1"));
    }

    #[test]
    fn reports_bad_lines() {
        assert!(parse("just text\n").unwrap_err().contains("line 1"));
        assert!(parse("a: 1\nb: 'open\n").unwrap_err().contains("line 2"));
    }
}
