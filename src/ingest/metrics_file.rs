//! The metrics-file protocol: a run's process appends JSON lines to `KIROKU_METRICS_FILE`:
//! `{"step": 10, "loss": 0.31, "acc": 0.9}`, `{"params": {...}}`, `{"tags": {...}}`,
//! `{"inputs": {"train": "data/train.csv"}}` (datasets the run read: a name and a path, which
//! the run wrapper registers and binds, see `wrap::inputs`).
//!
//! Numbers (and the strings "NaN", "Infinity", "-Infinity") are metrics; a nested object
//! flattens to `outer/inner` keys; `step` and `timestamp` (ms) apply to the line's metrics
//! (a key without a step gets its own count, which stops at i64::MAX). A bad line, key or value
//! is reported with its line number and skipped; nothing else is lost: every key is checked
//! here, line by line, so what reaches the store cannot fail the batch it joins. A param keeps
//! the first value the file gives it. Messages quote input only in short excerpts.
//! `MetricsFileTail` reads a growing file incrementally and only ever consumes complete lines;
//! `read_rest` re-reads a file after a crash from a recorded offset.
use crate::model::{excerpt, json_float, now_ms, validate_kiroku_key, KeyedPoint, EXCERPT_CHARS};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// What a batch of lines held.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Ingested {
    pub points: Vec<KeyedPoint>,
    pub params: Vec<(String, String)>,
    pub tags: Vec<(String, String)>,
    /// Declared inputs: dataset name and path, as written.
    pub inputs: Vec<(String, String)>,
    /// `line N: problem` for each skipped line or value.
    pub warnings: Vec<String>,
}

impl Ingested {
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
            && self.params.is_empty()
            && self.tags.is_empty()
            && self.inputs.is_empty()
            && self.warnings.is_empty()
    }
}

/// Parses lines and keeps per-key step counters across calls.
#[derive(Debug, Default)]
pub struct LineParser {
    steps: HashMap<String, i64>,
    /// The value each param got first (a later, different value is refused line by line).
    params: HashMap<String, String>,
    line_no: u64,
}

/// A key for messages: short, quoted.
fn quoted(key: &str) -> String {
    format!("'{}'", excerpt(key, EXCERPT_CHARS))
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

    /// Counts a line that is not parsed, with the reason.
    fn skip_line(&mut self, why: &str, out: &mut Ingested) {
        self.line_no += 1;
        out.warnings.push(format!("line {}: {why}", self.line_no));
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
                out.warnings.push(format!(
                    "line {n}: invalid JSON ({}), skipped",
                    excerpt(&e.to_string(), EXCERPT_CHARS)
                ));
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
                    "line {n}: step must be an integer, got {}; line skipped",
                    excerpt(&other.to_string(), EXCERPT_CHARS)
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
                "inputs" => parse_inputs(value, n, out),
                "params" | "tags" => {
                    let Value::Object(map) = value else {
                        out.warnings
                            .push(format!("line {n}: '{key}' must be an object, ignored"));
                        continue;
                    };
                    let kind = if key == "params" { "param" } else { "tag" };
                    for (k, v) in map {
                        if let Err(e) = validate_kiroku_key(kind, k) {
                            out.warnings.push(format!("line {n}: {e}; ignored"));
                            continue;
                        }
                        let value = scalar_text(v);
                        if kind == "tag" {
                            out.tags.push((k.clone(), value));
                            continue;
                        }
                        match self.params.get(k) {
                            Some(first) if *first == value => {}
                            Some(first) => out.warnings.push(format!(
                                "line {n}: param {} is already {}; params cannot change, ignored",
                                quoted(k),
                                quoted(first)
                            )),
                            None => {
                                self.params.insert(k.clone(), value.clone());
                                out.params.push((k.clone(), value));
                            }
                        }
                    }
                }
                _ => flatten_metric(key, value, n, &mut metrics, &mut out.warnings),
            }
        }
        for (key, value) in metrics {
            if let Err(e) = validate_kiroku_key("metric", &key) {
                out.warnings.push(format!("line {n}: {e}; ignored"));
                continue;
            }
            let counter = self.steps.entry(key.clone()).or_insert(0);
            let s = step.unwrap_or(*counter);
            if step.is_none() && s == i64::MAX {
                out.warnings.push(format!(
                    "line {n}: the implicit step of {} has reached its maximum and stays there",
                    quoted(&key)
                ));
            }
            *counter = s.saturating_add(1);
            out.points.push(KeyedPoint {
                key,
                step: s,
                timestamp,
                value,
            });
        }
    }
}

/// `{"inputs": {"NAME": "PATH", ...}}`: each dataset name (see `limits::dataset_name`) and its
/// path, a non-empty string; anything else is reported and ignored.
fn parse_inputs(value: &Value, line: u64, out: &mut Ingested) {
    let Value::Object(map) = value else {
        out.warnings.push(format!(
            "line {line}: 'inputs' must be an object of dataset names and paths, ignored"
        ));
        return;
    };
    for (name, path) in map {
        if let Err(e) = crate::limits::dataset_name(name) {
            out.warnings
                .push(format!("line {line}: input: {e}; ignored"));
            continue;
        }
        match path {
            Value::String(p) if !p.is_empty() => out.inputs.push((name.clone(), p.clone())),
            other => out.warnings.push(format!(
                "line {line}: input {} must be a path (a string), got {}; ignored",
                quoted(name),
                excerpt(&other.to_string(), EXCERPT_CHARS)
            )),
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
                "line {line}: value of {} is out of range, ignored",
                quoted(key)
            )),
        },
        Value::String(s) => match json_float::parse_special(s) {
            Some(v) => out.push((key.to_string(), v)),
            None => warnings.push(format!(
                "line {line}: value of {} is not a number ({:?}), ignored",
                quoted(key),
                excerpt(s, EXCERPT_CHARS)
            )),
        },
        Value::Object(map) => {
            for (inner, v) in map {
                flatten_metric(&format!("{key}/{inner}"), v, line, out, warnings);
            }
        }
        Value::Null => {}
        other => warnings.push(format!(
            "line {line}: value of {} is not a number ({}), ignored",
            quoted(key),
            excerpt(&other.to_string(), EXCERPT_CHARS)
        )),
    }
}

/// The longest line the protocol takes. A longer one is skipped and reported without ever
/// being held whole, so a runaway writer cannot make the reader's memory grow with it.
pub const MAX_LINE_BYTES: usize = 8 << 20;
/// How much of a file one `MetricsFileTail::poll` reads at most (its output stays bounded
/// however much was appended since the last poll).
const POLL_BUDGET: u64 = 64 << 20;
/// The size of one read.
const READ_CHUNK: usize = 1 << 20;

/// A line as the splitter hands it out.
enum Line<'a> {
    Text(&'a [u8]),
    /// Longer than `MAX_LINE_BYTES`: its bytes were not kept.
    TooLong,
}

/// Splits a byte stream into lines, holding at most one line (`MAX_LINE_BYTES`) at a time, and
/// knows the offset where the line being read starts.
#[derive(Debug, Default)]
struct LineSplitter {
    partial: Vec<u8>,
    /// Bytes of the current line when it is too long (its start was dropped); 0 otherwise.
    overlong: usize,
    /// Where the line being read starts: every line before it was handed out.
    line_start: u64,
}

impl LineSplitter {
    /// Feeds `chunk`; each complete line goes to `on_line` with the offset it starts at.
    fn feed(&mut self, mut chunk: &[u8], on_line: &mut dyn FnMut(u64, Line<'_>)) {
        while let Some(pos) = chunk.iter().position(|b| *b == b'\n') {
            self.take(&chunk[..pos]);
            self.finish_line(1, on_line);
            chunk = &chunk[pos + 1..];
        }
        self.take(chunk);
    }

    /// Hands out a last line that has no newline (its writer is gone).
    fn finish(&mut self, on_line: &mut dyn FnMut(u64, Line<'_>)) {
        if self.held_len() > 0 {
            self.finish_line(0, on_line);
        }
    }

    fn take(&mut self, bytes: &[u8]) {
        if self.overlong > 0 {
            self.overlong += bytes.len();
        } else if self.partial.len() + bytes.len() > MAX_LINE_BYTES {
            self.overlong = self.partial.len() + bytes.len();
            self.partial = Vec::new();
        } else {
            self.partial.extend_from_slice(bytes);
        }
    }

    /// The length of the line read (or skipped) so far.
    fn held_len(&self) -> usize {
        if self.overlong > 0 {
            self.overlong
        } else {
            self.partial.len()
        }
    }

    fn finish_line(&mut self, newline: usize, on_line: &mut dyn FnMut(u64, Line<'_>)) {
        let line = if self.overlong > 0 {
            Line::TooLong
        } else {
            Line::Text(&self.partial)
        };
        on_line(self.line_start, line);
        self.line_start += (self.held_len() + newline) as u64;
        self.partial.clear();
        self.overlong = 0;
    }
}

impl LineParser {
    /// Parses a line from the splitter into `out`.
    fn parse(&mut self, line: Line<'_>, out: &mut Ingested) {
        match line {
            Line::Text(bytes) => self.parse_line(bytes, out),
            Line::TooLong => self.skip_line(
                &format!("longer than {} MiB, skipped", MAX_LINE_BYTES >> 20),
                out,
            ),
        }
    }
}

/// Reads a growing metrics file incrementally.
pub struct MetricsFileTail {
    path: PathBuf,
    /// Bytes read so far (complete lines plus the partial last one).
    offset: u64,
    lines: LineSplitter,
    parser: LineParser,
    /// Whether the last poll reached the end of the file.
    caught_up: bool,
}

impl MetricsFileTail {
    pub fn new(path: &Path) -> Self {
        MetricsFileTail {
            path: path.to_path_buf(),
            offset: 0,
            lines: LineSplitter::default(),
            parser: LineParser::new(),
            caught_up: true,
        }
    }

    /// The byte offset up to which the file has been consumed: every complete line before it
    /// has been returned by `poll` (a partial last line is not counted until it completes).
    pub fn consumed_offset(&self) -> u64 {
        self.lines.line_start
    }

    /// Whether the last `poll` read to the end of the file (else call it again: one poll reads
    /// at most `POLL_BUDGET` bytes, so its output stays bounded).
    pub fn caught_up(&self) -> bool {
        self.caught_up
    }

    /// Parses what was appended since the last call, up to `POLL_BUDGET` bytes. `at_end` also
    /// takes a last line that has no newline (the writer has exited) once the end is reached.
    pub fn poll(&mut self, at_end: bool) -> std::io::Result<Ingested> {
        let mut out = Ingested::default();
        let mut file = match crate::fsutil::open_regular(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        let len = file.metadata()?.len();
        if len < self.offset {
            // Truncated or replaced: start over rather than lose what is there now.
            self.offset = 0;
            self.lines = LineSplitter::default();
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut buf = vec![0u8; READ_CHUNK];
        let mut read = 0u64;
        let parser = &mut self.parser;
        let mut on_line = |_: u64, line: Line<'_>| parser.parse(line, &mut out);
        self.caught_up = false;
        while read < POLL_BUDGET {
            let n = file.read(&mut buf)?;
            if n == 0 {
                self.caught_up = true;
                break;
            }
            read += n as u64;
            self.offset += n as u64;
            self.lines.feed(&buf[..n], &mut on_line);
        }
        if at_end && self.caught_up {
            self.lines.finish(&mut on_line);
        }
        Ok(out)
    }
}

/// What a metrics file holds after byte `offset` (a line boundary recorded by the wrapper),
/// read once its writer is gone: complete lines and a last line without its newline. Lines
/// before `offset` are parsed too, and their output dropped, so implicit steps and first param
/// values continue exactly as the wrapper had them. Returns the lines' content and the offset
/// of the end of the file. A file shorter than `offset` (replaced) gives nothing. The file is
/// streamed: memory holds one line and what follows `offset`.
pub fn read_rest(path: &Path, offset: u64) -> std::io::Result<(Ingested, u64)> {
    // Not through a symbolic link: the path comes from a record, not from the user here.
    let mut file = match crate::fsutil::open_regular(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((Ingested::default(), offset))
        }
        Err(e) => return Err(e),
    };
    let end = file.metadata()?.len();
    if end <= offset {
        return Ok((Ingested::default(), offset.max(end)));
    }
    let mut parser = LineParser::new();
    let mut out = Ingested::default();
    let mut on_line = |start: u64, line: Line<'_>| {
        if start < offset {
            // Only the parser's state (steps, first params) matters for lines already written.
            parser.parse(line, &mut Ingested::default());
        } else {
            parser.parse(line, &mut out);
        }
    };
    let mut lines = LineSplitter::default();
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        lines.feed(&buf[..n], &mut on_line);
    }
    lines.finish(&mut on_line);
    Ok((out, end))
}

/// Drops the params of `batch` that the run already holds with another value (params cannot
/// change, so they would fail the whole batch); returns a warning for each.
pub fn drop_changed_params(
    store: &dyn crate::store::Store,
    run_id: &str,
    batch: &mut crate::model::RunBatch,
) -> crate::error::Result<Vec<String>> {
    if batch.params.is_empty() {
        return Ok(Vec::new());
    }
    let held = store.run(run_id)?.run.params;
    let mut warnings = Vec::new();
    batch.params.retain(|(key, value)| match held.get(key) {
        Some(old) if old != value => {
            warnings.push(format!(
                "param {} is already {}; params cannot change, ignored",
                quoted(key),
                quoted(old)
            ));
            false
        }
        _ => true,
    });
    Ok(warnings)
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
    fn inputs_are_names_and_paths_and_bad_ones_are_reported() {
        let out = parse(&[
            r#"{"inputs": {"train": "data/train.csv", "eval": "/abs/eval.parquet"}}"#,
            r#"{"inputs": {"bad@name": "x.csv", "rows": 3, "empty": ""}}"#,
            r#"{"inputs": ["x.csv"]}"#,
        ]);
        assert_eq!(
            out.inputs,
            vec![
                ("train".to_string(), "data/train.csv".to_string()),
                ("eval".to_string(), "/abs/eval.parquet".to_string())
            ]
        );
        assert_eq!(out.warnings.len(), 4, "{:?}", out.warnings);
        assert!(out.warnings[0].starts_with("line 2: input: dataset name"));
        assert!(out.warnings[1].contains("input 'rows' must be a path"));
        assert!(out.warnings[3].starts_with("line 3: 'inputs' must be an object"));
        assert!(out.points.is_empty());
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
