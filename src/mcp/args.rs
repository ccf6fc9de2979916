//! A tool call's arguments: the JSON object a client sent, read by name with errors that say
//! which argument is wrong and how (`argument 'limit' must be a whole number, not "ten"`).
//!
//! Every tool reads its arguments through `Args`, which also refuses names the tool does not
//! take (a model's typo, `filters` for `filter`, would otherwise be silently ignored), naming
//! the close match.
use crate::error::{KirokuError, Result};
use serde_json::{Map, Value};

/// The arguments of one tool call.
#[derive(Debug, Clone, Default)]
pub struct Args {
    values: Map<String, Value>,
}

fn invalid(message: String) -> KirokuError {
    KirokuError::Invalid(message)
}

/// A short rendering of a JSON value for an error message.
fn shown(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text
    }
}

impl Args {
    /// Wraps a call's arguments (absent arguments are an empty object).
    pub fn new(values: Option<Map<String, Value>>) -> Self {
        Args {
            values: values.unwrap_or_default(),
        }
    }

    /// Refuses arguments outside `known` (the tool's schema's properties).
    pub fn only(&self, known: &[&str]) -> Result<()> {
        for name in self.values.keys() {
            if !known.contains(&name.as_str()) {
                let hint = crate::suggest::close_matches(name, known.iter().copied(), 1)
                    .first()
                    .map(|k| format!("; did you mean '{k}'?"))
                    .unwrap_or_default();
                return Err(invalid(format!(
                    "unknown argument '{name}'{hint} (this tool takes: {})",
                    known.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// The argument, when present and not null.
    fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name).filter(|v| !v.is_null())
    }

    /// A required text argument.
    pub fn text(&self, name: &str) -> Result<String> {
        self.opt_text(name)?
            .ok_or_else(|| invalid(format!("argument '{name}' is required")))
    }

    /// An optional text argument (numbers are accepted as their text: a run named `42`).
    pub fn opt_text(&self, name: &str) -> Result<Option<String>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(invalid(format!(
                "argument '{name}' must be a string, not {}",
                shown(other)
            ))),
        }
    }

    /// An optional whole number ≥ 0.
    pub fn opt_u64(&self, name: &str) -> Result<Option<u64>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| {
                invalid(format!(
                    "argument '{name}' must be a whole number ≥ 0, not {n}"
                ))
            }),
            // Some clients send numbers as strings.
            Some(Value::String(s)) => s.trim().parse::<u64>().map(Some).map_err(|_| {
                invalid(format!(
                    "argument '{name}' must be a whole number ≥ 0, not \"{s}\""
                ))
            }),
            Some(other) => Err(invalid(format!(
                "argument '{name}' must be a whole number ≥ 0, not {}",
                shown(other)
            ))),
        }
    }

    /// An optional whole number with a default, at most `max`.
    pub fn u64_or(&self, name: &str, default: u64, max: u64) -> Result<u64> {
        let value = self.opt_u64(name)?.unwrap_or(default);
        if value > max {
            return Err(invalid(format!(
                "argument '{name}' is {value}; at most {max} is allowed"
            )));
        }
        Ok(value)
    }

    /// An optional true/false (absent is false).
    pub fn flag(&self, name: &str) -> Result<bool> {
        self.flag_or(name, false)
    }

    /// An optional true/false with a default.
    pub fn flag_or(&self, name: &str, default: bool) -> Result<bool> {
        match self.get(name) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(invalid(format!(
                "argument '{name}' must be true or false, not {}",
                shown(other)
            ))),
        }
    }

    /// A list of strings: a JSON array, or one string (with `split` on, comma-separated).
    pub fn text_list(&self, name: &str, split: bool) -> Result<Vec<String>> {
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) if split => Ok(s
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(invalid(format!(
                        "argument '{name}' item {i} must be a string, not {}",
                        shown(other)
                    ))),
                })
                .collect(),
            Some(other) => Err(invalid(format!(
                "argument '{name}' must be a list of strings, not {}",
                shown(other)
            ))),
        }
    }

    /// An object of key → value, the values as text (numbers and booleans written as JSON
    /// writes them): `{"lr": 0.1, "optimizer": "adam"}` → `[("lr","0.1"), ("optimizer","adam")]`.
    pub fn pairs(&self, name: &str) -> Result<Vec<(String, String)>> {
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        Value::Number(_) | Value::Bool(_) => v.to_string(),
                        other => {
                            return Err(invalid(format!(
                                "argument '{name}': the value of '{k}' must be a string or a number, not {}",
                                shown(other)
                            )))
                        }
                    };
                    Ok((k.clone(), text))
                })
                .collect(),
            Some(other) => Err(invalid(format!(
                "argument '{name}' must be an object of key → value, not {}",
                shown(other)
            ))),
        }
    }

    /// Whether a hard-to-undo change was confirmed (`confirm: true`).
    pub fn confirmed(&self) -> Result<bool> {
        self.flag("confirm")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn args(v: Value) -> Args {
        match v {
            Value::Object(map) => Args::new(Some(map)),
            _ => panic!("an object"),
        }
    }

    #[test]
    fn reads_texts_numbers_and_flags() {
        let a = args(json!({"run": "abc", "limit": 5, "offset": "7", "all": true, "n": null}));
        assert_eq!(a.text("run").unwrap(), "abc");
        assert_eq!(a.opt_u64("limit").unwrap(), Some(5));
        assert_eq!(a.opt_u64("offset").unwrap(), Some(7));
        assert_eq!(a.opt_u64("n").unwrap(), None);
        assert!(a.flag("all").unwrap());
        assert!(!a.flag("confirm").unwrap());
        assert_eq!(a.u64_or("missing", 20, 100).unwrap(), 20);
    }

    #[test]
    fn errors_name_the_argument_and_the_value() {
        let a = args(json!({"limit": -3, "run": 1.5, "all": "yes", "cols": 3}));
        let e = a.opt_u64("limit").unwrap_err().to_string();
        assert!(e.contains("'limit'") && e.contains("-3"), "{e}");
        assert_eq!(a.text("run").unwrap(), "1.5");
        let e = a.flag("all").unwrap_err().to_string();
        assert!(e.contains("'all'") && e.contains("\"yes\""), "{e}");
        let e = a.text("missing").unwrap_err().to_string();
        assert_eq!(e, "argument 'missing' is required");
        let e = a.text_list("cols", true).unwrap_err().to_string();
        assert!(e.contains("list of strings"), "{e}");
        let big = args(json!({"limit": 5000}));
        let e = big.u64_or("limit", 10, 1000).unwrap_err().to_string();
        assert!(e.contains("at most 1000"), "{e}");
    }

    #[test]
    fn unknown_arguments_are_refused_with_the_close_match() {
        let a = args(json!({"filtr": "x"}));
        let e = a.only(&["filter", "sort"]).unwrap_err().to_string();
        assert!(
            e.contains("unknown argument 'filtr'") && e.contains("did you mean 'filter'"),
            "{e}"
        );
        assert!(args(json!({"sort": "x"})).only(&["filter", "sort"]).is_ok());
    }

    #[test]
    fn lists_and_pairs() {
        let a = args(json!({
            "cols": "id, name,,metrics.acc",
            "keys": ["a", "b"],
            "tags": {"lr": 0.1, "opt": "adam", "on": true},
            "bad": {"x": [1]}
        }));
        assert_eq!(
            a.text_list("cols", true).unwrap(),
            vec!["id", "name", "metrics.acc"]
        );
        assert_eq!(a.text_list("keys", false).unwrap(), vec!["a", "b"]);
        assert_eq!(
            a.pairs("tags").unwrap(),
            vec![
                ("lr".to_string(), "0.1".to_string()),
                ("opt".to_string(), "adam".to_string()),
                ("on".to_string(), "true".to_string())
            ]
        );
        let e = a.pairs("bad").unwrap_err().to_string();
        assert!(e.contains("'x'"), "{e}");
    }
}
