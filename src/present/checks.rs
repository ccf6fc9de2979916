//! A check run as a readable report: the datasets read, then one block per result (worst
//! first within the suite's order: failures and errors, warnings, then passes in one line
//! each) with observed vs expected, counts and percentages, the values outside a set, and up
//! to N failing rows with their row numbers and key columns; a summary line last.
use super::{count_of, display_width, format_value, plain_one_line, truncate};
use crate::model::{CheckResult, CheckStatus, CheckedDataset, Sample};
use serde_json::Value as Json;
use std::fmt::Write;

/// What a report shows.
pub struct CheckReport<'a> {
    pub suite: &'a str,
    pub suite_hash: &'a str,
    pub datasets: &'a [CheckedDataset],
    pub status: CheckStatus,
    pub results: &'a [CheckResult],
    /// Remarks on the data (ragged rows).
    pub notes: &'a [String],
    /// Failing rows shown per result.
    pub samples: usize,
    /// The stored check run's id, when stored.
    pub id: Option<i64>,
}

/// Widest a JSON excerpt (observed, expected) is shown.
const EXCERPT_WIDTH: usize = 160;

/// The status as a report tag.
pub fn status_tag(status: CheckStatus) -> &'static str {
    match status {
        CheckStatus::Pass => "PASS",
        CheckStatus::Unsupported => "UNSUPPORTED",
        CheckStatus::Warn => "WARN",
        CheckStatus::Fail => "FAIL",
        CheckStatus::Error => "ERROR",
    }
}

fn short_hash(hash: &str) -> &str {
    let hex = hash.strip_prefix("sha256:").unwrap_or(hash);
    &hex[..hex.len().min(12)]
}

/// JSON as short text: strings bare, numbers as kiroku shows them, others compact.
pub fn json_text(value: &Json) -> String {
    let text = match value {
        Json::Null => "null".to_string(),
        Json::String(s) => s.clone(),
        Json::Number(n) => n
            .as_f64()
            .map(format_value)
            .unwrap_or_else(|| n.to_string()),
        other => other.to_string(),
    };
    truncate(&plain_one_line(&text), EXCERPT_WIDTH)
}

fn percent(p: f64) -> String {
    if p == 0.0 || p >= 0.01 {
        format!("{p:.2}%")
    } else {
        format!("{p:.1e}%")
    }
}

/// One line saying what a result found.
pub fn summary_line(result: &CheckResult) -> String {
    if let Some(unexpected) = result.unexpected_count {
        let looked_at =
            result
                .element_count
                .unwrap_or(0)
                .saturating_sub(if result.check_type == "not_null" {
                    0
                } else {
                    result.missing_count.unwrap_or(0)
                });
        let looked_at = if result.check_type == "category_shares" {
            if looked_at == 1 {
                "1 category".to_string()
            } else {
                format!("{looked_at} categories")
            }
        } else {
            count_of(looked_at, "row")
        };
        let mut line = format!(
            "{unexpected} of {looked_at} unexpected ({})",
            percent(result.unexpected_percent.unwrap_or(0.0))
        );
        if result.check_type != "not_null" && result.missing_count.unwrap_or(0) > 0 {
            let _ = write!(line, ", {} null skipped", result.missing_count.unwrap_or(0));
        }
        return line;
    }
    match &result.observed {
        Json::Null => result.message.clone().unwrap_or_default(),
        observed => format!("observed {}", json_text(observed)),
    }
}

pub fn expected_text(expected: &Json) -> String {
    match expected {
        Json::Object(map) => map
            .iter()
            .filter(|(_, v)| !v.is_null() && *v != &Json::Bool(false))
            .map(|(k, v)| format!("{k} {}", json_text(v)))
            .collect::<Vec<_>>()
            .join(", "),
        other => json_text(other),
    }
}

/// The failing rows as an aligned table: `row`, then each column in the samples' order.
pub fn samples_table(samples: &[Sample], limit: usize, indent: &str) -> String {
    let shown = &samples[..samples.len().min(limit)];
    if shown.is_empty() {
        return String::new();
    }
    let mut headers = vec!["row".to_string()];
    for sample in shown {
        for name in sample.values.keys() {
            if !headers.contains(name) {
                headers.push(name.clone());
            }
        }
    }
    let rows: Vec<Vec<String>> = shown
        .iter()
        .map(|sample| {
            let mut row = vec![sample.row.to_string()];
            for name in &headers[1..] {
                row.push(
                    sample
                        .values
                        .get(name)
                        .map(|v| truncate(&json_text(v), 40))
                        .unwrap_or_default(),
                );
            }
            row
        })
        .collect();
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| {
            rows.iter()
                .map(|r| display_width(&r[i]))
                .chain([display_width(&headers[i])])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in std::iter::once(&headers).chain(rows.iter()) {
        out.push_str(indent);
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(cell, width)| {
                let pad = width.saturating_sub(display_width(cell));
                format!("{cell}{}", " ".repeat(pad))
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// The whole report.
pub fn render_check_report(report: &CheckReport<'_>) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "suite {} ({})",
        report.suite,
        short_hash(report.suite_hash)
    );
    if let Some(id) = report.id {
        let _ = write!(out, " · check run {id}");
    }
    out.push('\n');
    for dataset in report.datasets {
        let _ = writeln!(
            out,
            "  {}  {}  {}  {}",
            dataset.name,
            dataset.path,
            count_of(dataset.rows, "row"),
            short_hash(&dataset.version_id)
        );
    }
    for note in report.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    out.push('\n');
    let id_width = report
        .results
        .iter()
        .map(|r| display_width(&r.id))
        .max()
        .unwrap_or(0)
        .min(32);
    let show_dataset = report.datasets.len() > 1;
    for result in report.results {
        let target = match (&result.column, result.columns.is_empty()) {
            (Some(column), _) => column.clone(),
            (None, false) => result.columns.join(", "),
            (None, true) => String::new(),
        };
        let target = match (&result.dataset, show_dataset) {
            (Some(dataset), true) if target.is_empty() => dataset.clone(),
            (Some(dataset), true) => format!("{dataset}.{target}"),
            _ => target,
        };
        let id = truncate(&result.id, 32);
        let _ = writeln!(
            out,
            "{:<11} {id}{}  {}{}  {}",
            status_tag(result.status),
            " ".repeat(id_width.saturating_sub(display_width(&id))),
            result.check_type,
            if target.is_empty() {
                String::new()
            } else {
                format!(" {target}")
            },
            summary_line(result)
        );
        if result.status == CheckStatus::Pass {
            continue;
        }
        let indent = "            ";
        if result.unexpected_count.is_some()
            && !result.observed.is_null()
            && !result.observed.is_number()
        {
            let _ = writeln!(out, "{indent}observed {}", json_text(&result.observed));
        }
        let expected = expected_text(&result.expected);
        if !expected.is_empty() {
            let _ = writeln!(out, "{indent}expected {expected}");
        }
        if let Some(message) = &result.message {
            if result.unexpected_count.is_some() || !result.observed.is_null() {
                let _ = writeln!(out, "{indent}{}", plain_one_line(message));
            }
        }
        if !result.top_unexpected.is_empty() {
            let values: Vec<String> = result
                .top_unexpected
                .iter()
                .take(10)
                .map(|v| format!("{} ×{}", json_text(&v.value), v.count))
                .collect();
            let more = result.top_unexpected.len().saturating_sub(10);
            let _ = writeln!(
                out,
                "{indent}outside: {}{}",
                values.join(", "),
                if more > 0 {
                    format!(", … {more} more")
                } else {
                    String::new()
                }
            );
        }
        if report.samples > 0 && !result.samples.is_empty() {
            out.push_str(&samples_table(&result.samples, report.samples, indent));
            let total = result.unexpected_count.unwrap_or(0);
            let shown = result.samples.len().min(report.samples) as u64;
            if total > shown {
                let _ = writeln!(out, "{indent}… {} more", total - shown);
            }
        }
    }
    let mut counts: Vec<String> = Vec::new();
    for status in CheckStatus::ALL {
        let n = report.results.iter().filter(|r| r.status == status).count();
        if n > 0 {
            counts.push(format!("{n} {}", status.as_str()));
        }
    }
    let _ = writeln!(
        out,
        "\n{}: {} · {}",
        count_of(report.results.len() as u64, "check"),
        counts.join(", "),
        status_tag(report.status)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn result(status: CheckStatus) -> CheckResult {
        CheckResult {
            id: "age-range".into(),
            check_type: "between".into(),
            column: Some("age".into()),
            columns: vec![],
            dataset: Some("train".into()),
            status,
            observed: json!({"min": -5, "max": 999}),
            expected: json!({"min": 0, "max": 120, "fail": {"max_count": 0}}),
            element_count: Some(10),
            missing_count: Some(2),
            unexpected_count: Some(2),
            unexpected_percent: Some(25.0),
            samples: vec![
                Sample {
                    row: 3,
                    values: json!({"id": 17, "age": -5}).as_object().unwrap().clone(),
                },
                Sample {
                    row: 7,
                    values: json!({"id": 21, "age": 999}).as_object().unwrap().clone(),
                },
            ],
            top_unexpected: vec![],
            message: None,
            details: Json::Null,
        }
    }

    #[test]
    fn a_failure_shows_counts_observed_expected_and_its_rows() {
        let results = [result(CheckStatus::Fail)];
        let datasets = [CheckedDataset {
            name: "train".into(),
            version_id: "sha256:abcdef0123456789".into(),
            path: "t.csv".into(),
            rows: 10,
        }];
        let text = render_check_report(&CheckReport {
            suite: "s",
            suite_hash: "sha256:00",
            datasets: &datasets,
            status: CheckStatus::Fail,
            results: &results,
            notes: &[],
            samples: 1,
            id: Some(4),
        });
        assert!(text.contains("check run 4"), "{text}");
        assert!(text.contains("FAIL        age-range  between age  2 of 8 rows unexpected (25.00%), 2 null skipped"), "{text}");
        assert!(
            text.contains("observed {\"max\":999,\"min\":-5}")
                || text.contains("observed {\"min\":-5,\"max\":999}"),
            "{text}"
        );
        assert!(
            text.contains("expected min 0, max 120, fail {\"max_count\":0}"),
            "{text}"
        );
        assert!(text.contains("row  id  age\n"), "{text}");
        assert!(text.contains("3    17  -5\n"), "{text}");
        assert!(
            !text.contains("999\n"),
            "only one sample row is shown: {text}"
        );
        assert!(text.contains("… 1 more"), "{text}");
        assert!(
            text.trim_end().ends_with("1 check: 1 fail · FAIL"),
            "{text}"
        );
    }

    #[test]
    fn a_pass_is_one_line() {
        let results = [result(CheckStatus::Pass)];
        let text = render_check_report(&CheckReport {
            suite: "s",
            suite_hash: "sha256:00",
            datasets: &[],
            status: CheckStatus::Pass,
            results: &results,
            notes: &[],
            samples: 5,
            id: None,
        });
        assert_eq!(text.lines().filter(|l| l.starts_with("PASS")).count(), 1);
        assert!(!text.contains("row  id"), "{text}");
    }
}
