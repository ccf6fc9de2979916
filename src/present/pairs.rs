//! The `key=value` notation people type for tags, on the command line (`kiroku tag RUN k=v`)
//! and in the UI's tag prompt alike.
use crate::error::{KirokuError, Result};

/// Splits `k=v` arguments.
pub fn parse_pairs(items: &[String], what: &str) -> Result<Vec<(String, String)>> {
    items
        .iter()
        .map(|item| match item.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(KirokuError::Invalid(format!(
                "{what} '{item}' is not of the form key=value"
            ))),
        })
        .collect()
}
