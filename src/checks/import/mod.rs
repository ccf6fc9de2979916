//! Check results made elsewhere, read into kiroku's model (`kiroku check import gx|soda FILE`):
//! Great Expectations validation results (`gx`) and Soda scan results (`soda`). Each becomes an
//! [`ImportedRun`]: the results as `CheckResult`s with their statuses, which the command binds to
//! the dataset versions they are about and records as a check run.
//!
//! Both tools write Python's `json` output, which spells NaN and infinities as bare `NaN`,
//! `Infinity`, `-Infinity`; those read as null here (`parse_python_json`).
pub mod gx;
pub mod soda;

use crate::error::{KirokuError, Result};
use crate::model::{CheckResult, CheckSource, CheckStatus, Millis};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::Path;

/// What made the results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportKind {
    Gx,
    Soda,
}

impl ImportKind {
    pub fn parse(text: &str) -> Result<ImportKind> {
        match text {
            "gx" | "great_expectations" => Ok(ImportKind::Gx),
            "soda" => Ok(ImportKind::Soda),
            other => Err(KirokuError::Invalid(format!(
                "kiroku check import takes gx (Great Expectations validation results) or soda (Soda scan results), not '{other}'"
            ))),
        }
    }

    pub fn source(self) -> CheckSource {
        match self {
            ImportKind::Gx => CheckSource::GxImport,
            ImportKind::Soda => CheckSource::SodaImport,
        }
    }
}

/// One imported run: a GX validation result (a suite on a batch) or a Soda scan.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedRun {
    /// The suite's name (GX `suite_name`, Soda `definitionName`; empty when the file has none).
    pub suite: String,
    /// `sha256:` over the checks' definitions (GX: each expectation's type and kwargs; Soda:
    /// each check's definition), so the same suite imported again has the same hash and its
    /// reviews still apply.
    pub suite_hash: String,
    pub source: CheckSource,
    pub status: CheckStatus,
    pub results: Vec<CheckResult>,
    pub started_at: Option<Millis>,
    pub ended_at: Option<Millis>,
    /// The data the results name (GX data asset, Soda table).
    pub data_name: Option<String>,
    /// Where the results say the data was read from (GX `batch_spec.path`).
    pub data_path: Option<String>,
}

/// Reads the results file at `path` as `kind`'s results.
pub fn import_file(kind: ImportKind, path: &Path) -> Result<Vec<ImportedRun>> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        KirokuError::Invalid(format!("cannot read {}: {error}", path.display()))
    })?;
    let source = path.display().to_string();
    let value = parse_python_json(&text, &source)?;
    match kind {
        ImportKind::Gx => gx::parse_gx_results(&value, &source),
        ImportKind::Soda => soda::parse_soda_scan(&value, &source).map(|run| vec![run]),
    }
}

/// JSON as Python's `json` writes it: bare `NaN`, `Infinity` and `-Infinity` (outside strings)
/// read as null.
pub fn parse_python_json(text: &str, source: &str) -> Result<Value> {
    let mut cleaned = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            cleaned.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            rest = &rest[c.len_utf8()..];
            continue;
        }
        if let Some(token) = ["-Infinity", "Infinity", "NaN"]
            .iter()
            .find(|token| rest.starts_with(**token))
        {
            cleaned.push_str("null");
            rest = &rest[token.len()..];
            continue;
        }
        if c == '"' {
            in_string = true;
        }
        cleaned.push(c);
        rest = &rest[c.len_utf8()..];
    }
    serde_json::from_str(&cleaned).map_err(|error| {
        KirokuError::Invalid(format!(
            "{source}, line {}, column {}: not valid JSON: {error}",
            error.line(),
            error.column()
        ))
    })
}

/// `sha256:` over `parts`, each followed by a newline.
pub fn definitions_hash<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update(b"\n");
    }
    crate::checks::dataset::digest_text(hasher)
}

/// A time as tools write it: RFC 3339 (`2025-01-01T12:00:00+00:00`) or GX's compact
/// `20250101T120000.000000Z`, in milliseconds.
pub fn parse_time(text: &str) -> Option<Millis> {
    let parse = |text: &str| {
        text.parse::<jiff::Timestamp>()
            .ok()
            .map(|time| time.as_millisecond())
    };
    parse(text).or_else(|| {
        // 20250101T120000.000000Z → 2025-01-01T12:00:00.000000Z
        let bytes = text.as_bytes();
        if text.len() < 16 || bytes.get(8) != Some(&b'T') || !text.is_ascii() {
            return None;
        }
        parse(&format!(
            "{}-{}-{}T{}:{}:{}",
            &text[0..4],
            &text[4..6],
            &text[6..8],
            &text[9..11],
            &text[11..13],
            &text[13..]
        ))
    })
}

/// The run's status from its results' (the worst; `unsupported` passes).
pub fn overall(results: &[CheckResult]) -> CheckStatus {
    CheckStatus::overall(results.iter().map(|result| result.status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_json_non_numbers_read_as_null_but_not_inside_strings() {
        let value = parse_python_json(
            r#"{"a": NaN, "b": [-Infinity, Infinity], "c": "NaN \" Infinity"}"#,
            "x",
        )
        .unwrap();
        assert_eq!(value["a"], Value::Null);
        assert_eq!(value["b"], serde_json::json!([null, null]));
        assert_eq!(value["c"], "NaN \" Infinity");
        let error = parse_python_json("{\n\"a\": }", "r.json")
            .unwrap_err()
            .to_string();
        assert!(error.contains("r.json, line 2"), "{error}");
    }

    #[test]
    fn times_in_rfc3339_and_gx_compact_form() {
        assert_eq!(
            parse_time("2025-01-01T12:00:00+00:00"),
            Some(1_735_732_800_000)
        );
        assert_eq!(
            parse_time("20250101T120000.000000Z"),
            Some(1_735_732_800_000)
        );
        assert_eq!(parse_time("yesterday"), None);
    }
}
