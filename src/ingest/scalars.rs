//! Scalars in program output: `loss: 0.31`, `acc=0.9`, several per line
//! (`epoch 3 loss=0.31 acc: 0.9`), plus user patterns from `kiroku.toml`.
//!
//! A scalar named `step` sets the step of the others on its line and is not logged itself;
//! otherwise each key's step counts its own values (0, 1, 2, …).
use crate::config::ScalarConfig;
use crate::error::Result;
use regex::Regex;
use std::collections::HashMap;

/// A key and its value found in a line.
pub type Scalar = (String, f64);

pub struct ScalarParser {
    builtin: bool,
    patterns: Vec<(Regex, Option<String>)>,
    steps: HashMap<String, i64>,
}

impl ScalarParser {
    pub fn new(config: &ScalarConfig) -> Result<Self> {
        let mut patterns = Vec::new();
        for p in &config.patterns {
            // Validated when the config was loaded.
            let re = Regex::new(&p.regex)
                .map_err(|e| crate::error::KirokuError::Invalid(e.to_string()))?;
            patterns.push((re, p.key.clone()));
        }
        Ok(ScalarParser {
            builtin: config.default_patterns.unwrap_or(true),
            patterns,
            steps: HashMap::new(),
        })
    }

    /// Scalars of one line, with their steps.
    pub fn parse_line(&mut self, line: &str) -> Vec<(String, i64, f64)> {
        let mut found = if self.builtin {
            builtin_scalars(line)
        } else {
            Vec::new()
        };
        for (re, fixed_key) in &self.patterns {
            for caps in re.captures_iter(line) {
                let key = fixed_key
                    .clone()
                    .or_else(|| caps.name("key").map(|m| m.as_str().to_string()));
                let value = caps.name("value").and_then(|m| parse_number(m.as_str()));
                if let (Some(key), Some(value)) = (key, value) {
                    found.push((key, value));
                }
            }
        }
        let explicit_step = found
            .iter()
            .find(|(k, _)| k == "step")
            .map(|(_, v)| *v as i64);
        found
            .into_iter()
            .filter(|(k, _)| k != "step")
            .map(|(key, value)| {
                let counter = self.steps.entry(key.clone()).or_insert(0);
                let step = explicit_step.unwrap_or(*counter);
                *counter = step + 1;
                (key, step, value)
            })
            .collect()
    }
}

fn parse_number(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        "inf" | "+inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

fn is_key_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_key_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'/' | b'-')
}

fn is_boundary(c: Option<&u8>) -> bool {
    match c {
        None => true,
        Some(c) => c.is_ascii_whitespace() || matches!(c, b',' | b';' | b')' | b']' | b'}' | b'|'),
    }
}

/// Length of a number (or nan/inf) at the start of `s`: the query language's decimal rule.
fn number_len(s: &str) -> usize {
    let lower: String = s.chars().take(4).collect::<String>().to_ascii_lowercase();
    for word in ["-inf", "+inf", "inf", "nan"] {
        if lower.starts_with(word) {
            return word.len();
        }
    }
    crate::query::decimal_len(s)
}

/// The built-in `key: number` and `key=number` scanner (no regex: it runs on every output line).
pub fn builtin_scalars(line: &str) -> Vec<Scalar> {
    let b = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let at_word_start = i == 0 || !is_key_char(b[i - 1]);
        if !(at_word_start && is_key_start(b[i])) {
            i += 1;
            continue;
        }
        let key_start = i;
        while i < b.len() && is_key_char(b[i]) {
            i += 1;
        }
        let key_end = i;
        let mut j = i;
        while j < b.len() && b[j] == b' ' {
            j += 1;
        }
        if j >= b.len() || (b[j] != b':' && b[j] != b'=') {
            continue;
        }
        j += 1;
        while j < b.len() && b[j] == b' ' {
            j += 1;
        }
        let n = number_len(&line[j..]);
        if n > 0 && is_boundary(b.get(j + n)) {
            if let Some(v) = parse_number(&line[j..j + n]) {
                out.push((
                    line[key_start..key_end]
                        .trim_end_matches(['.', '/', '-'])
                        .to_string(),
                    v,
                ));
            }
            i = j + n;
        } else {
            i = j;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(line: &str) -> Vec<(String, f64)> {
        builtin_scalars(line)
    }

    #[test]
    fn finds_several_scalars_per_line() {
        assert_eq!(
            keys("epoch 3 loss=0.31 acc: 0.9"),
            vec![("loss".into(), 0.31), ("acc".into(), 0.9)]
        );
        assert_eq!(
            keys("val/acc=1e-3, lr: -2.5E+2"),
            vec![("val/acc".into(), 1e-3), ("lr".into(), -250.0)]
        );
        assert!(keys("loss: nan")[0].1.is_nan());
    }

    #[test]
    fn ignores_times_urls_and_words() {
        assert!(keys("12:30:45 started").is_empty());
        assert!(keys("ETA: 00:12 remaining").is_empty());
        assert!(keys("see http://host:8080/x").is_empty());
        assert!(keys("version=1.2.3").is_empty());
        assert!(keys("name: resnet").is_empty());
    }

    #[test]
    fn step_scalar_sets_the_step() {
        let mut p = ScalarParser::new(&ScalarConfig::default()).unwrap();
        assert_eq!(
            p.parse_line("step=10 loss=0.5"),
            vec![("loss".into(), 10, 0.5)]
        );
        assert_eq!(p.parse_line("loss=0.4"), vec![("loss".into(), 11, 0.4)]);
        let mut q = ScalarParser::new(&ScalarConfig::default()).unwrap();
        assert_eq!(q.parse_line("acc=0.1")[0].1, 0);
        assert_eq!(q.parse_line("acc=0.2")[0].1, 1);
    }

    #[test]
    fn user_patterns_add_keys() {
        let config = ScalarConfig {
            patterns: vec![crate::config::ScalarPattern {
                regex: r"Val Loss (?P<value>\S+)".into(),
                key: Some("val_loss".into()),
            }],
            ..Default::default()
        };
        let mut p = ScalarParser::new(&config).unwrap();
        assert_eq!(
            p.parse_line("Epoch 1 | Val Loss 0.25"),
            vec![("val_loss".into(), 0, 0.25)]
        );
    }
}
