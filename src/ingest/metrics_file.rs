//! The metrics-file protocol: a run's process appends JSON lines to `KIROKU_METRICS_FILE`:
//! `{"step": 10, "loss": 0.31, "acc": 0.9}`, `{"params": {...}}`, `{"tags": {...}}`.
//!
//! Numbers (and the strings "NaN", "Infinity", "-Infinity") are metrics; a nested object
//! flattens to `outer/inner` keys; `step` and `timestamp` (ms) apply to the line's metrics
//! (a key without a step gets its own count). A bad line is reported with its number and
//! skipped; nothing else is lost. `MetricsFileTail` reads a growing file incrementally and
//! only ever consumes complete lines.
use crate::model::{json_float, now_ms, KeyedPoint};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// What a batch of lines held.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Ingested {
    pub points: Vec<KeyedPoint>,
    pub params: Vec<(String, String)>,
    pub tags: Vec<(String, String)>,
    /// `line N: problem` for each skipped line or value.
    pub warnings: Vec<String>,
}

impl Ingested {
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
            && self.params.is_empty()
            && self.tags.is_empty()
            && self.warnings.is_empty()
    }
}

/// Parses lines and keeps per-key step counters across calls.
#[derive(Debug, Default)]
pub struct LineParser {
    steps: HashMap<String, i64>,
    line_no: u64,
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl LineParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses one line (without its newline) into `out`.
    pub fn parse_line(&mut self, line: &[u8], out: &mut Ingested) {
        self.line_no += 1;
        let n = self.line_no;
        let text = match std::str::from_utf8(line) {
            Ok(t) => t.trim(),
            Err(_) => {
                out.warnings
                    .push(format!("line {n}: not valid UTF-8, skipped"));
                return;
            }
        };
        if text.is_empty() {
            return;
        }
        let object: Map<String, Value> = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                out.warnings
                    .push(format!("line {n}: expected a JSON object, skipped"));
                return;
            }
            Err(e) => {
                out.warnings
                    .push(format!("line {n}: invalid JSON ({e}), skipped"));
                return;
            }
        };
        let step = match object.get("step") {
            None | Some(Value::Null) => None,
            Some(Value::Number(s)) if s.as_i64().is_some() => s.as_i64(),
            Some(Value::Number(s))
                if s.as_f64()
                    .is_some_and(|f| f.fract() == 0.0 && f.abs() < 9e15) =>
            {
                s.as_f64().map(|f| f as i64)
            }
            Some(other) => {
                out.warnings.push(format!(
                    "line {n}: step must be an integer, got {other}; line skipped"
                ));
                return;
            }
        };
        let timestamp = match object.get("timestamp") {
            Some(Value::Number(t)) => t.as_i64().unwrap_or_else(now_ms),
            _ => now_ms(),
        };
        let mut metrics = Vec::new();
        for (key, value) in &object {
            match key.as_str() {
                "step" | "timestamp" => {}
                "params" | "tags" => {
                    let Value::Object(map) = value else {
                        out.warnings
                            .push(format!("line {n}: '{key}' must be an object, ignored"));
                        continue;
                    };
                    let target = if key == "params" {
                        &mut out.params
                    } else {
                        &mut out.tags
                    };
                    target.extend(map.iter().map(|(k, v)| (k.clone(), scalar_text(v))));
                }
                _ => flatten_metric(key, value, n, &mut metrics, &mut out.warnings),
            }
        }
        for (key, value) in metrics {
            let counter = self.steps.entry(key.clone()).or_insert(0);
            let s = step.unwrap_or(*counter);
            *counter = s + 1;
            out.points.push(KeyedPoint {
                key,
                step: s,
                timestamp,
                value,
            });
        }
    }
}

fn flatten_metric(
    key: &str,
    value: &Value,
    line: u64,
    out: &mut Vec<(String, f64)>,
    warnings: &mut Vec<String>,
) {
    match value {
        Value::Number(num) => match num.as_f64() {
            Some(v) => out.push((key.to_string(), v)),
            None => warnings.push(format!(
                "line {line}: value of '{key}' is out of range, ignored"
            )),
        },
        Value::String(s) => match json_float::parse_special(s) {
            Some(v) => out.push((key.to_string(), v)),
            None => warnings.push(format!(
                "line {line}: value of '{key}' is not a number ({s:?}), ignored"
            )),
        },
        Value::Object(map) => {
            for (inner, v) in map {
                flatten_metric(&format!("{key}/{inner}"), v, line, out, warnings);
            }
        }
        Value::Null => {}
        other => warnings.push(format!(
            "line {line}: value of '{key}' is not a number ({other}), ignored"
        )),
    }
}

/// Reads complete lines appended to a file since the last call.
pub struct MetricsFileTail {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
    parser: LineParser,
}

impl MetricsFileTail {
    pub fn new(path: &Path) -> Self {
        MetricsFileTail {
            path: path.to_path_buf(),
            offset: 0,
            partial: Vec::new(),
            parser: LineParser::new(),
        }
    }

    /// Parses what was appended since the last call. `at_end` also takes a last line that has
    /// no newline (the writer has exited).
    pub fn poll(&mut self, at_end: bool) -> std::io::Result<Ingested> {
        let mut out = Ingested::default();
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        let len = file.metadata()?.len();
        if len < self.offset {
            // Truncated or replaced: start over rather than lose what is there now.
            self.offset = 0;
            self.partial.clear();
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut buf = Vec::new();
        file.read_to_end(&mut buf)?;
        self.offset += buf.len() as u64;
        self.partial.extend_from_slice(&buf);
        let mut consumed = 0;
        while let Some(pos) = self.partial[consumed..].iter().position(|b| *b == b'\n') {
            let line = &self.partial[consumed..consumed + pos];
            self.parser.parse_line(line, &mut out);
            consumed += pos + 1;
        }
        self.partial.drain(..consumed);
        if at_end && !self.partial.is_empty() {
            let rest = std::mem::take(&mut self.partial);
            self.parser.parse_line(&rest, &mut out);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(lines: &[&str]) -> Ingested {
        let mut p = LineParser::new();
        let mut out = Ingested::default();
        for l in lines {
            p.parse_line(l.as_bytes(), &mut out);
        }
        out
    }

    #[test]
    fn metrics_params_tags_and_steps() {
        let out = parse(&[
            r#"{"step": 10, "loss": 0.31, "acc": 0.9, "timestamp": 5}"#,
            r#"{"params": {"lr": 0.01, "opt": "adam"}, "tags": {"team": "vision"}}"#,
            r#"{"loss": "NaN", "val": {"acc": "Infinity"}}"#,
        ]);
        assert_eq!(
            out.points[0],
            KeyedPoint {
                key: "loss".into(),
                step: 10,
                timestamp: 5,
                value: 0.31
            }
        );
        assert_eq!(
            out.points[1].key, "acc",
            "keys keep the order they were written in"
        );
        assert!(out.points[2].value.is_nan() && out.points[2].step == 11);
        assert_eq!(out.points[3].key, "val/acc");
        assert_eq!(out.points[3].step, 0);
        assert_eq!(
            out.params,
            vec![("lr".into(), "0.01".into()), ("opt".into(), "adam".into())]
        );
        assert_eq!(out.tags, vec![("team".into(), "vision".into())]);
        assert!(out.warnings.is_empty());
    }

    #[test]
    fn bad_lines_are_reported_with_their_number_and_skipped() {
        let mut p = LineParser::new();
        let mut out = Ingested::default();
        p.parse_line(br#"{"loss": 1}"#, &mut out);
        p.parse_line(b"{not json", &mut out);
        p.parse_line(&[0xff, 0xfe, b'{'], &mut out);
        p.parse_line(br#"{"loss": "high", "acc": 3}"#, &mut out);
        p.parse_line(br#"[1,2]"#, &mut out);
        p.parse_line(br#"{"loss": 2}"#, &mut out);
        p.parse_line(br#"{"huge": 1e400}"#, &mut out);
        p.parse_line(br#"{"big": 1.7e308}"#, &mut out);
        assert_eq!(out.points.len(), 4);
        assert!(
            out.warnings
                .iter()
                .any(|w| w.starts_with("line 7: invalid JSON (number out of range")),
            "{:?}",
            out.warnings
        );
        assert!(
            out.warnings[0].starts_with("line 2: invalid JSON"),
            "{:?}",
            out.warnings
        );
        assert!(out.warnings[1].starts_with("line 3: not valid UTF-8"));
        assert!(out
            .warnings
            .iter()
            .any(|w| w.starts_with("line 4: value of 'loss'")));
        assert!(out
            .warnings
            .iter()
            .any(|w| w.starts_with("line 5: expected a JSON object")));
    }

    #[test]
    fn tail_reads_only_complete_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.jsonl");
        let mut tail = MetricsFileTail::new(&path);
        assert!(tail.poll(false).unwrap().is_empty());
        std::fs::write(&path, "{\"a\": 1}\n{\"a\": 2").unwrap();
        assert_eq!(tail.poll(false).unwrap().points.len(), 1);
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"}\n{\"a\": 3}").unwrap();
        assert_eq!(tail.poll(false).unwrap().points.len(), 1);
        let last = tail.poll(true).unwrap();
        assert_eq!(last.points.len(), 1);
        assert_eq!(last.points[0].value, 3.0);
    }
}
