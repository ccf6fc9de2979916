//! `${…}` templating as DVC does it: a context of variables (from `vars`, `params.yaml`, and a
//! `foreach`/`matrix` iteration's `item` and `key`), lookups such as `${a.b}` and `${list[0]}`,
//! whole-value substitution that keeps the value's type (`epochs: ${train.epochs}` stays an
//! integer), and string interpolation that writes values as Python's `str` would (booleans as
//! `true`/`false`; a mapping inside `cmd` as `--key value` arguments).
use super::yaml::{Kind, Node};
use serde_json::{Map, Value as Json};

/// The variables a template is resolved against: a JSON object.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub vars: Map<String, Json>,
}

impl Context {
    /// Merges `other` in; a leaf defined twice is an error naming its dotted key.
    pub fn merge(&mut self, other: &Map<String, Json>, source: &str) -> Result<(), String> {
        merge_into(&mut self.vars, other, "", source)
    }

    /// Looks up an expression such as `a.b`, `list[0]`, `a.b[1].c`.
    pub fn lookup(&self, expr: &str) -> Result<&Json, String> {
        let mut current: Option<&Json> = None;
        for part in split_path(expr)? {
            let next = match (current, &part) {
                (None, PathPart::Key(k)) => self.vars.get(k.as_str()),
                (None, PathPart::Index(_)) => None,
                (Some(Json::Object(map)), PathPart::Key(k)) => map.get(k.as_str()),
                (Some(Json::Array(items)), PathPart::Index(i)) => items.get(*i),
                (Some(Json::Array(items)), PathPart::Key(k)) => {
                    k.parse::<usize>().ok().and_then(|i| items.get(i))
                }
                _ => None,
            };
            current = Some(next.ok_or_else(|| format!("could not find '{expr}'"))?);
        }
        current.ok_or_else(|| format!("empty interpolation '${{{expr}}}'"))
    }
}

fn merge_into(
    into: &mut Map<String, Json>,
    other: &Map<String, Json>,
    prefix: &str,
    source: &str,
) -> Result<(), String> {
    for (key, value) in other {
        let dotted = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match (into.get_mut(key), value) {
            (None, _) => {
                into.insert(key.clone(), value.clone());
            }
            (Some(Json::Object(existing)), Json::Object(incoming)) => {
                merge_into(existing, incoming, &dotted, source)?
            }
            (Some(_), _) => {
                return Err(format!(
                    "cannot redefine '{dotted}' from '{source}': it is already defined"
                ))
            }
        }
    }
    Ok(())
}

enum PathPart {
    Key(String),
    Index(usize),
}

/// `a.b[0].c` → Key(a), Key(b), Index(0), Key(c).
fn split_path(expr: &str) -> Result<Vec<PathPart>, String> {
    let bad = || format!("cannot parse the interpolation '${{{expr}}}'");
    let mut parts = Vec::new();
    for segment in expr.split('.') {
        let (head, mut rest) = match segment.find('[') {
            Some(i) => (&segment[..i], &segment[i..]),
            None => (segment, ""),
        };
        if head.is_empty() && rest.is_empty() {
            return Err(bad());
        }
        if !head.is_empty() {
            parts.push(PathPart::Key(head.to_string()));
        }
        while let Some(stripped) = rest.strip_prefix('[') {
            let close = stripped.find(']').ok_or_else(bad)?;
            let index = stripped[..close].trim().parse().map_err(|_| bad())?;
            parts.push(PathPart::Index(index));
            rest = &stripped[close + 1..];
        }
        if !rest.is_empty() {
            return Err(bad());
        }
    }
    Ok(parts)
}

/// A value as Python's `str` writes it in DVC's interpolation (`in_cmd`: mappings become
/// `--key value` arguments, as DVC allows in `cmd` only).
pub fn to_str(value: &Json, in_cmd: bool) -> Result<String, String> {
    match value {
        Json::Null => Ok("None".into()),
        Json::Bool(b) => Ok(if *b { "true" } else { "false" }.into()),
        Json::Number(n) => Ok(number_str(n)),
        Json::String(s) => Ok(s.clone()),
        Json::Object(map) if in_cmd => dict_args(map),
        Json::Object(_) => Err("cannot interpolate data of type 'dict'".into()),
        Json::Array(_) => Err("cannot interpolate data of type 'list'".into()),
    }
}

/// A number as Python's `str`: integers as they are, floats in their shortest form with
/// Python's exponent rules (`1e-05`, `1e+16`, `0.1`, `3.0`).
pub fn number_str(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    python_float(n.as_f64().unwrap_or(f64::NAN))
}

/// `repr(float)` in Python 3.
pub fn python_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf" } else { "-inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    // Shortest round-trip digits and exponent, via Rust's `{:e}`.
    let sci = format!("{f:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if negative { "-" } else { "" };
    if (-4..16).contains(&exponent) {
        let point = exponent + 1; // digits before the decimal point
        let text = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if point as usize >= digits.len() {
            format!("{}{}.0", digits, "0".repeat(point as usize - digits.len()))
        } else {
            format!(
                "{}.{}",
                &digits[..point as usize],
                &digits[point as usize..]
            )
        };
        format!("{sign}{text}")
    } else {
        let mantissa = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits
        };
        let esign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{esign}{:02}", exponent.abs())
    }
}

/// DVC's dict-in-cmd form: `--k v` per flattened key, `--flag` for true, nothing for false,
/// lists as `--k a b`.
fn dict_args(map: &Map<String, Json>) -> Result<String, String> {
    let mut flat = Vec::new();
    flatten("", map, &mut flat);
    let mut out = String::new();
    for (key, value) in flat {
        match value {
            Json::Bool(true) => out.push_str(&format!("--{key} ")),
            Json::Bool(false) => {}
            Json::String(s) => out.push_str(&format!("--{key} {} ", escape(s))),
            Json::Array(items) => {
                for (n, item) in items.iter().enumerate() {
                    let text = match item {
                        Json::String(s) => escape(s),
                        Json::Array(_) | Json::Object(_) => {
                            return Err(format!("cannot interpolate nested iterable in '{key}'"))
                        }
                        other => to_str(other, false)?,
                    };
                    if n == 0 {
                        out.push_str(&format!("--{key} {text} "));
                    } else {
                        out.push_str(&format!("{text} "));
                    }
                }
            }
            other => out.push_str(&format!("--{key} {} ", to_str(other, false)?)),
        }
    }
    Ok(out.trim_end().to_string())
}

fn flatten<'a>(prefix: &str, map: &'a Map<String, Json>, out: &mut Vec<(String, &'a Json)>) {
    for (k, v) in map {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Json::Object(inner) => flatten(&key, inner, out),
            _ => out.push((key, v)),
        }
    }
}

/// DVC quotes a string argument holding spaces or quotes.
fn escape(s: &str) -> String {
    if s.contains([' ', '\'', '"']) {
        format!("'{}'", s.replace('\'', "\\'"))
    } else {
        s.to_string()
    }
}

/// The `${…}` spans of `text`: (start, end, inner expression). `\${` is not a span.
fn spans(text: &str) -> Vec<(usize, usize, &str)> {
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(rel) = text[i..].find("${") {
        let start = i + rel;
        if start > 0 && bytes[start - 1] == b'\\' {
            i = start + 2;
            continue;
        }
        match text[start + 2..].find('}') {
            Some(close) => {
                let end = start + 2 + close + 1;
                found.push((start, end, text[start + 2..end - 1].trim()));
                i = end;
            }
            None => break,
        }
    }
    found
}

/// Whether a string holds any `${…}`.
pub fn has_interpolation(text: &str) -> bool {
    !spans(text).is_empty()
}

/// Resolves one string: a lone `${x}` becomes x's value with its type; otherwise each `${…}`
/// is replaced by its text (and `\${` by `${`).
pub fn resolve_str(text: &str, ctx: &Context, in_cmd: bool) -> Result<Json, String> {
    let found = spans(text);
    if found.len() == 1 && found[0].0 == 0 && found[0].1 == text.len() {
        return ctx.lookup(found[0].2).cloned();
    }
    let mut out = String::new();
    let mut last = 0;
    for (start, end, expr) in found {
        out.push_str(&text[last..start]);
        let value = ctx.lookup(expr)?;
        out.push_str(&to_str(value, in_cmd).map_err(|e| format!("{e} ('${{{expr}}}')"))?);
        last = end;
    }
    out.push_str(&text[last..]);
    Ok(Json::String(out.replace("\\${", "${")))
}

/// Resolves every string in a node tree, mapping keys included (as DVC's `recurse` does, so
/// `outs: [- metrics-${item}.json: {cache: false}]` names one file per item). `in_cmd` marks
/// the `cmd` subtree. Errors carry the line of the string that failed.
pub fn resolve_node(node: &Node, ctx: &Context, in_cmd: bool) -> Result<Node, (u64, String)> {
    let kind = match &node.kind {
        Kind::Str(s) if has_interpolation(s) || s.contains("\\${") => {
            let value = resolve_str(s, ctx, in_cmd).map_err(|e| (node.line, e))?;
            return Ok(Node::from_json(&value, node.line));
        }
        Kind::Seq(items) => Kind::Seq(
            items
                .iter()
                .map(|item| resolve_node(item, ctx, in_cmd))
                .collect::<Result<_, _>>()?,
        ),
        Kind::Map(entries) => Kind::Map(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = if has_interpolation(k) || k.contains("\\${") {
                        let value = resolve_str(k, ctx, false).map_err(|e| (node.line, e))?;
                        to_str(&value, false).map_err(|e| (node.line, e))?
                    } else {
                        k.clone()
                    };
                    Ok((key, resolve_node(v, ctx, in_cmd || k == "cmd")?))
                })
                .collect::<Result<_, _>>()?,
        ),
        other => other.clone(),
    };
    Ok(Node::new(kind, node.line))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx(value: Json) -> Context {
        let Json::Object(vars) = value else { panic!() };
        Context { vars }
    }

    #[test]
    fn lookups_follow_dots_and_indexes() {
        let c = ctx(json!({"a": {"b": [1, {"c": "x"}]}, "lr": 0.001}));
        assert_eq!(c.lookup("a.b[0]").unwrap(), &json!(1));
        assert_eq!(c.lookup("a.b[1].c").unwrap(), &json!("x"));
        assert_eq!(c.lookup("a.b.1.c").unwrap(), &json!("x"));
        assert!(c.lookup("a.z").unwrap_err().contains("'a.z'"));
    }

    #[test]
    fn whole_values_keep_their_type_and_strings_interpolate_like_python() {
        let c = ctx(json!({"n": 3, "lr": 0.00001, "on": true, "big": 1e16, "f": 2.0}));
        assert_eq!(resolve_str("${n}", &c, false).unwrap(), json!(3));
        assert_eq!(
            resolve_str("run --lr ${lr} --n=${ n } ${on}", &c, false).unwrap(),
            json!("run --lr 1e-05 --n=3 true")
        );
        assert_eq!(
            resolve_str("${big} ${f}", &c, false).unwrap(),
            json!("1e+16 2.0")
        );
        assert_eq!(resolve_str("a \\${n}", &c, false).unwrap(), json!("a ${n}"));
    }

    #[test]
    fn dicts_become_arguments_in_cmd_only() {
        let c = ctx(
            json!({"args": {"lr": 0.1, "fast": true, "slow": false, "name": "a b", "l": [1, 2]}}),
        );
        assert_eq!(
            resolve_str("train ${args}", &c, true).unwrap(),
            json!("train --lr 0.1 --fast --name 'a b' --l 1 2")
        );
        assert!(resolve_str("x ${args}", &c, false).is_err());
    }

    #[test]
    fn mapping_keys_interpolate_too() {
        let ctx = ctx(json!({"item": "a"}));
        let node = Node::from_json(&json!({"metrics-${item}.json": {"cache": false}}), 1);
        let resolved = resolve_node(&node, &ctx, false).unwrap();
        let Kind::Map(entries) = &resolved.kind else {
            panic!("a map stays a map")
        };
        assert_eq!(entries[0].0, "metrics-a.json");
    }

    #[test]
    fn python_floats() {
        for (f, s) in [
            (0.1, "0.1"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (123456.0, "123456.0"),
            (1.5e300, "1.5e+300"),
            (-2.25, "-2.25"),
        ] {
            assert_eq!(python_float(f), s);
        }
    }

    #[test]
    fn merging_refuses_redefinition() {
        let mut c = ctx(json!({"a": {"b": 1}}));
        c.merge(json!({"a": {"c": 2}}).as_object().unwrap(), "x")
            .unwrap();
        let err = c
            .merge(json!({"a": {"b": 3}}).as_object().unwrap(), "vars[1]")
            .unwrap_err();
        assert!(err.contains("'a.b'"), "{err}");
    }
}
