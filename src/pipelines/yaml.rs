//! YAML documents as a tree of [`Node`]s that remember their line, read with serde-saphyr (the
//! crate the MLflow importer reads `meta.yaml` with).
//!
//! `dvc.yaml` needs more than a typed struct: `${…}` templating, `foreach` and `matrix` work on
//! the raw tree before any field has a type, and an error must still name the line the bad value
//! sits on. So the whole document is read into [`Node`] (each value with its 1-based line, each
//! mapping in file order), and the definition layer walks it.
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value as Json;
use serde_saphyr::{Budget, DuplicateKeyPolicy, Options, Spanned};
use std::fmt;

/// One YAML value and the line it starts on (0 when unknown: a value made, not read).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: Kind,
    pub line: u64,
}

/// The shape of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in file order; keys as text.
    Map(Vec<(String, Node)>),
}

impl Node {
    pub fn new(kind: Kind, line: u64) -> Node {
        Node { kind, line }
    }

    /// The value of `key` when this is a mapping that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// What kind of value this is, in words, for error messages.
    pub fn describe(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) => "an integer",
            Kind::Float(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    /// The value as JSON (mappings keep their order).
    pub fn to_json(&self) -> Json {
        match &self.kind {
            Kind::Null => Json::Null,
            Kind::Bool(b) => Json::Bool(*b),
            Kind::Int(i) => Json::from(*i),
            Kind::Float(f) => serde_json::Number::from_f64(*f)
                .map(Json::Number)
                .unwrap_or_else(|| Json::String(f.to_string())),
            Kind::Str(s) => Json::String(s.clone()),
            Kind::Seq(items) => Json::Array(items.iter().map(Node::to_json).collect()),
            Kind::Map(entries) => Json::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// A node from JSON, every part on `line`.
    pub fn from_json(value: &Json, line: u64) -> Node {
        let kind = match value {
            Json::Null => Kind::Null,
            Json::Bool(b) => Kind::Bool(*b),
            Json::Number(n) => match n.as_i64() {
                Some(i) => Kind::Int(i),
                None => Kind::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Json::String(s) => Kind::Str(s.clone()),
            Json::Array(items) => {
                Kind::Seq(items.iter().map(|v| Node::from_json(v, line)).collect())
            }
            Json::Object(map) => Kind::Map(
                map.iter()
                    .map(|(k, v)| (k.clone(), Node::from_json(v, line)))
                    .collect(),
            ),
        };
        Node { kind, line }
    }
}

/// What a pipeline file may cost: far above any real `dvc.yaml` or params file.
fn budget() -> Budget {
    let mut budget = Budget::default();
    budget.max_depth = 64;
    budget.max_documents = 1;
    budget.max_nodes = 2_000_000;
    budget
}

/// Parses one YAML document; an empty document is null. Errors read `line L, column C: why`.
pub fn parse(text: &str) -> Result<Node, String> {
    let mut options = Options::default();
    options.budget = Some(budget());
    options.duplicate_keys = DuplicateKeyPolicy::Error;
    // YAML 1.2 as DVC's ruamel reads it: `n`, `yes`, `off` are strings, not booleans.
    options.strict_booleans = true;
    options.with_snippet = false;
    let parsed: Option<Node> = serde_saphyr::from_str_with_options(text, options).map_err(|e| {
        let message = e.without_snippet().to_string();
        match e.location() {
            Some(at) => {
                let (line, column) = (at.line(), at.column());
                let bare = message
                    .strip_suffix(&format!(" at line {line}, column {column}"))
                    .unwrap_or(&message);
                format!("line {line}, column {column}: {bare}")
            }
            None => message,
        }
    })?;
    Ok(parsed.unwrap_or(Node::new(Kind::Null, 1)))
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Kind>::deserialize(d)?;
        Ok(Node {
            kind: spanned.value,
            line: spanned.referenced.line(),
        })
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(KindVisitor)
    }
}

struct KindVisitor;

impl<'de> Visitor<'de> for KindVisitor {
    type Value = Kind;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Kind, E> {
        Ok(Kind::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Kind, D::Error> {
        Kind::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Kind, E> {
        Ok(Kind::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Kind, E> {
        Ok(Kind::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Kind, E> {
        Ok(i64::try_from(v).map_or(Kind::Float(v as f64), Kind::Int))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Kind, E> {
        Ok(i64::try_from(v).map_or(Kind::Float(v as f64), Kind::Int))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Kind, E> {
        Ok(i64::try_from(v).map_or(Kind::Float(v as f64), Kind::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Kind, E> {
        Ok(Kind::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Kind, E> {
        Ok(Kind::Str(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Kind, E> {
        Ok(Kind::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Kind, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Kind::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Kind, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Node>()? {
            let key = match key.kind {
                Kind::Str(s) => s,
                Kind::Int(i) => i.to_string(),
                Kind::Float(f) => f.to_string(),
                Kind::Bool(b) => b.to_string(),
                Kind::Null => "null".to_string(),
                Kind::Seq(_) | Kind::Map(_) => {
                    return Err(de::Error::custom(format!(
                        "line {}: a mapping key must be a scalar",
                        key.line
                    )))
                }
            };
            let value = map.next_value::<Node>()?;
            entries.push((key, value));
        }
        Ok(Kind::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_keep_their_lines_and_order() {
        let text = "stages:\n  b:\n    cmd: echo hi\n    deps:\n    - x\n    - y\n  a:\n    frozen: true\n";
        let doc = parse(text).unwrap();
        let stages = doc.get("stages").unwrap();
        let Kind::Map(entries) = &stages.kind else {
            panic!("not a map")
        };
        assert_eq!(entries[0].0, "b");
        assert_eq!(entries[1].0, "a");
        let b = &entries[0].1;
        assert_eq!(b.get("cmd").unwrap().line, 3);
        let Kind::Seq(deps) = &b.get("deps").unwrap().kind else {
            panic!("not a seq")
        };
        assert_eq!(deps[1].line, 6);
        assert_eq!(entries[1].1.get("frozen").unwrap().kind, Kind::Bool(true));
    }

    #[test]
    fn scalars_are_typed_as_yaml_1_2() {
        let doc = parse("a: 1\nb: 0.5\nc: 'x'\nd: null\ne: yes\nf: 1e-3\n").unwrap();
        assert_eq!(doc.get("a").unwrap().kind, Kind::Int(1));
        assert_eq!(doc.get("b").unwrap().kind, Kind::Float(0.5));
        assert_eq!(doc.get("c").unwrap().kind, Kind::Str("x".into()));
        assert_eq!(doc.get("d").unwrap().kind, Kind::Null);
        assert_eq!(doc.get("e").unwrap().kind, Kind::Str("yes".into()));
        let keys = parse(
            "n: 1
y: 2
on: 3
",
        )
        .unwrap();
        assert_eq!(keys.get("n").unwrap().kind, Kind::Int(1));
        assert_eq!(keys.get("on").unwrap().kind, Kind::Int(3));
    }

    #[test]
    fn errors_name_the_line() {
        let err = parse("a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert!(err.starts_with("line "), "{err}");
        let dup = parse("a: 1\na: 2\n").unwrap_err();
        assert!(dup.contains("line 2"), "{dup}");
    }
}
