//! How large the things users and clients send may be: one validating function per kind of
//! input, shared by the store (so the CLI, kiroku's API and the MLflow API refuse the same
//! names) and the servers' request handlers (lists, values, page sizes).
//!
//! The figures are MLflow's own (`mlflow/utils/validation.py`, `mlflow/store/tracking`) where
//! MLflow has one, so a client written against MLflow meets the same bounds; the rest are
//! kiroku's and named as such. Every refusal is `KirokuError::Invalid` (400 on the wire, exit 2
//! in the CLI) and names the limit.
use crate::error::{KirokuError, Result};

/// MLflow's `MAX_EXPERIMENT_NAME_LENGTH`.
pub const MAX_EXPERIMENT_NAME_LENGTH: usize = 500;
/// A run's name is MLflow's `mlflow.runName` tag: a tag value (`MAX_TAG_VAL_LENGTH`).
pub const MAX_RUN_NAME_LENGTH: usize = MAX_TAG_VALUE_LENGTH;
/// MLflow's `MAX_ENTITY_KEY_LENGTH` (metric, param and tag keys).
pub const MAX_KEY_LENGTH: usize = 250;
/// MLflow's `MAX_PARAM_VAL_LENGTH`.
pub const MAX_PARAM_VALUE_LENGTH: usize = 6000;
/// MLflow's `MAX_TAG_VAL_LENGTH`.
pub const MAX_TAG_VALUE_LENGTH: usize = 8000;
/// MLflow's `MAX_EXPERIMENT_TAG_VAL_LENGTH`.
pub const MAX_EXPERIMENT_TAG_VALUE_LENGTH: usize = 20_000;
/// kiroku's: a user name (an acting user, a run's owner, a note's author).
pub const MAX_USER_NAME_LENGTH: usize = 500;
/// kiroku's: a note is prose, longer than a tag but not a file.
pub const MAX_NOTE_LENGTH: usize = 100_000;
/// MLflow's `MAX_METRICS_PER_BATCH`.
pub const MAX_METRICS_PER_BATCH: usize = 1000;
/// MLflow's `MAX_PARAMS_TAGS_PER_BATCH`.
pub const MAX_PARAMS_TAGS_PER_BATCH: usize = 100;
/// MLflow's `MAX_ENTITIES_PER_BATCH`.
pub const MAX_ENTITIES_PER_BATCH: usize = 1000;
/// kiroku's: most keyed pairs (params, tags, environment) or keys in one request of kiroku's
/// API (MLflow's batch limit for all entities together).
pub const MAX_PAIRS_PER_REQUEST: usize = MAX_ENTITIES_PER_BATCH;
/// kiroku's: most distinct experiments one search names (after removing repeats).
pub const MAX_EXPERIMENTS_PER_SEARCH: usize = 1000;
/// MLflow's `SEARCH_MAX_RESULTS_THRESHOLD` (runs and experiments per page).
pub const SEARCH_MAX_RESULTS: u64 = 50_000;
/// MLflow's `SEARCH_MAX_RESULTS_DEFAULT`.
pub const SEARCH_DEFAULT_RESULTS: u64 = 1000;
/// MLflow's `GET_METRIC_HISTORY_MAX_RESULTS` (points per page of `metrics/get-history`).
pub const METRIC_HISTORY_MAX_RESULTS: u64 = 25_000;

/// kiroku's: a dataset's name (`kiroku data add NAME PATH`).
pub const MAX_DATASET_NAME_LENGTH: usize = 250;

/// The first characters of an over-long text, for a message that does not echo it whole.
fn head(text: &str) -> String {
    let mut out: String = text.chars().take(40).collect();
    if text.chars().nth(40).is_some() {
        out.push('…');
    }
    out
}

/// Refuses `text` longer than `max` characters.
fn at_most(what: &str, text: &str, max: usize) -> Result<()> {
    if text.chars().nth(max).is_some() {
        return Err(KirokuError::Invalid(format!(
            "{what} '{}' is longer than {max} characters ({})",
            head(text),
            text.chars().count()
        )));
    }
    Ok(())
}

/// An experiment name: not blank, at most 500 characters. Creating and renaming both check it.
pub fn experiment_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(KirokuError::Invalid("experiment name is empty".into()));
    }
    at_most("experiment name", name, MAX_EXPERIMENT_NAME_LENGTH)
}

/// A run name (creating or renaming): at most 8,000 characters.
pub fn run_name(name: &str) -> Result<()> {
    at_most("run name", name, MAX_RUN_NAME_LENGTH)
}

/// A user name: at most 500 characters. Every write records its acting user, so the store
/// checks it where it records the event.
pub fn user_name(user: &str) -> Result<()> {
    at_most("user name", user, MAX_USER_NAME_LENGTH)
}

/// A dataset's name: not blank, no surrounding spaces, no control characters, no `@` or `:`
/// (which dataset references use: `NAME@N`, `sha256:…`), at most 250 characters.
pub fn dataset_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(KirokuError::Invalid("dataset name is empty".into()));
    }
    if name.trim() != name || name.chars().any(|c| c.is_control() || c == '@' || c == ':') {
        return Err(KirokuError::Invalid(format!(
            "dataset name '{}' may not hold '@', ':', control characters or surrounding spaces",
            head(name).escape_debug()
        )));
    }
    at_most("dataset name", name, MAX_DATASET_NAME_LENGTH)
}

/// A note's body (adding or editing): at most 100,000 characters.
pub fn note_body(body: &str) -> Result<()> {
    at_most("note", body, MAX_NOTE_LENGTH)
}

/// A param's value: at most 6,000 characters.
pub fn param_value(key: &str, value: &str) -> Result<()> {
    at_most(
        &format!("the value of param '{}'", head(key)),
        value,
        MAX_PARAM_VALUE_LENGTH,
    )
}

/// A run tag's value: at most 8,000 characters.
pub fn tag_value(key: &str, value: &str) -> Result<()> {
    at_most(
        &format!("the value of tag '{}'", head(key)),
        value,
        MAX_TAG_VALUE_LENGTH,
    )
}

/// An experiment tag's value: at most 20,000 characters.
pub fn experiment_tag_value(key: &str, value: &str) -> Result<()> {
    at_most(
        &format!("the value of experiment tag '{}'", head(key)),
        value,
        MAX_EXPERIMENT_TAG_VALUE_LENGTH,
    )
}

/// A list in a request: at most `max` items.
pub fn list_len(what: &str, len: usize, max: usize) -> Result<()> {
    if len > max {
        return Err(KirokuError::Invalid(format!(
            "too many {what}: {len} (at most {max} in one request)"
        )));
    }
    Ok(())
}

/// The experiments a search names: repeats removed (first one kept, order kept), then at most
/// `MAX_EXPERIMENTS_PER_SEARCH` left.
pub fn experiment_refs<I: IntoIterator<Item = String>>(refs: I) -> Result<Vec<String>> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for r in refs {
        if seen.contains(&r) {
            continue;
        }
        seen.insert(r.clone());
        out.push(r);
        list_len("experiments", out.len(), MAX_EXPERIMENTS_PER_SEARCH)?;
    }
    Ok(out)
}

/// A page size: positive and at most `max`.
pub fn page_size(what: &str, n: i64, max: u64) -> Result<u64> {
    if n <= 0 || n as u64 > max {
        return Err(KirokuError::Invalid(format!(
            "Invalid value {n} for parameter '{what}' supplied. It must be at most {max} and positive"
        )));
    }
    Ok(n as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_count_characters_not_bytes() {
        assert!(experiment_name(&"é".repeat(500)).is_ok());
        assert!(experiment_name(&"é".repeat(501)).is_err());
        assert!(experiment_name("  ").is_err());
        let long = "x".repeat(100_000);
        let message = experiment_name(&long).unwrap_err().to_string();
        assert!(
            message.len() < 200,
            "the message must not echo the name: {message}"
        );
    }

    #[test]
    fn repeated_experiments_count_once() {
        let many = std::iter::repeat_n("1".to_string(), 100_000);
        assert_eq!(experiment_refs(many).unwrap(), vec!["1".to_string()]);
        let distinct = (0..1001).map(|i| i.to_string());
        assert!(experiment_refs(distinct).is_err());
    }
}
