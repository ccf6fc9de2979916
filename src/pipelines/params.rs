//! Params files (`params.yaml`, or any YAML, JSON or TOML file a stage names) read into JSON,
//! and the values of dotted keys (`train.lr`) in them.
use super::yaml;
use crate::error::{KirokuError, Result};
use serde_json::{Map, Value as Json};
use std::path::Path;

/// The file DVC reads params from when a stage names keys without a file.
pub const DEFAULT_PARAMS_FILE: &str = "params.yaml";

/// Reads a params file by its extension: `.yaml`/`.yml`, `.json`, `.toml`. Errors name the file
/// (and the line, for YAML).
pub fn read_params_file(path: &Path) -> Result<Map<String, Json>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| KirokuError::reading(format!("reading params file {}", path.display()), e))?;
    parse_params(&text, path)
}

/// Parses params text as the format `path`'s extension names.
pub fn parse_params(text: &str, path: &Path) -> Result<Map<String, Json>> {
    let shown = path.display();
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let value = match extension.as_str() {
        "json" => serde_json::from_str::<Json>(text)
            .map_err(|e| KirokuError::Invalid(format!("{shown}, line {}: {e}", e.line())))?,
        "toml" => {
            let table: toml::Table = text
                .parse()
                .map_err(|e: toml::de::Error| KirokuError::Invalid(format!("{shown}: {e}")))?;
            toml_to_json(toml::Value::Table(table))
        }
        "yaml" | "yml" | "" => yaml::parse(text)
            .map_err(|e| KirokuError::Invalid(format!("{shown}, {e}")))?
            .to_json(),
        other => {
            return Err(KirokuError::Invalid(format!(
                "{shown}: params files may be YAML, JSON or TOML, not '.{other}'"
            )))
        }
    };
    match value {
        Json::Object(map) => Ok(map),
        Json::Null => Ok(Map::new()),
        other => Err(KirokuError::Invalid(format!(
            "{shown}: a params file must hold a mapping, not {}",
            json_kind(&other)
        ))),
    }
}

fn json_kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "a mapping",
    }
}

fn toml_to_json(value: toml::Value) -> Json {
    match value {
        toml::Value::String(s) => Json::String(s),
        toml::Value::Integer(i) => Json::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f)
            .map(Json::Number)
            .unwrap_or(Json::Null),
        toml::Value::Boolean(b) => Json::Bool(b),
        toml::Value::Datetime(d) => Json::String(d.to_string()),
        toml::Value::Array(items) => Json::Array(items.into_iter().map(toml_to_json).collect()),
        toml::Value::Table(table) => Json::Object(
            table
                .into_iter()
                .map(|(k, v)| (k, toml_to_json(v)))
                .collect(),
        ),
    }
}

/// The value at a dotted key (`train.lr`; list items by index, `layers.0`). A key that is
/// itself a top-level entry with dots in its name is found first, as DVC does.
pub fn lookup<'a>(params: &'a Map<String, Json>, key: &str) -> Option<&'a Json> {
    if let Some(value) = params.get(key) {
        return Some(value);
    }
    let mut parts = key.split('.');
    let mut current = params.get(parts.next()?)?;
    for part in parts {
        current = match current {
            Json::Object(map) => map.get(part)?,
            Json::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_three_formats_read_alike() {
        let yaml = parse_params(
            "train:\n  lr: 0.1\n  layers: [8, 16]\n",
            Path::new("p.yaml"),
        )
        .unwrap();
        let json = parse_params(
            r#"{"train": {"lr": 0.1, "layers": [8, 16]}}"#,
            Path::new("p.json"),
        )
        .unwrap();
        let toml =
            parse_params("[train]\nlr = 0.1\nlayers = [8, 16]\n", Path::new("p.toml")).unwrap();
        assert_eq!(yaml, json);
        assert_eq!(yaml, toml);
        assert_eq!(lookup(&yaml, "train.lr"), Some(&json!(0.1)));
        assert_eq!(lookup(&yaml, "train.layers.1"), Some(&json!(16)));
        assert_eq!(lookup(&yaml, "train.nope"), None);
    }

    #[test]
    fn errors_name_file_and_line() {
        let err = parse_params("a: 1\nb: [\n", Path::new("conf/p.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("conf/p.yaml, line"), "{err}");
        let err = parse_params("{\n\"a\": }", Path::new("p.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("p.json, line 2"), "{err}");
        assert!(parse_params("x", Path::new("p.ini")).is_err());
    }
}
