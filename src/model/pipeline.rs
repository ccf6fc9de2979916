//! Records of the pipelines' cache: content objects are addressed by their DVC md5 (a file's
//! `md5`, a directory's `md5.dir` listing), and run-cache entries say which outputs one stage
//! execution produced, so that a later execution with the same key restores them instead of
//! running.
use super::Millis;
use serde::{Deserialize, Serialize};

/// The job tag naming the pipeline run a queued stage belongs to: the job's supervisor makes
/// the stage's run a child of it.
pub const PIPELINE_RUN_TAG: &str = "kiroku.pipeline.run";

/// One output of a stage execution as the run-cache restores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedOut {
    /// Relative to the project root (`data/prep/a.bin`, `models/`).
    pub path: String,
    /// The content object: `<32 hex>` for a file, `<32 hex>.dir` for a directory.
    pub md5: String,
    /// Bytes (a directory: of all its files).
    pub size: u64,
    /// Files under a directory output (none for a file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nfiles: Option<u64>,
}

/// A run-cache entry: a stage execution's key (sha256 over its command, dependencies' paths
/// and hashes, params' values and outputs' paths) and what it produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCacheEntry {
    /// 64 hex digits.
    pub key: String,
    /// The stage's name (`train@cnn`), for people reading the cache.
    pub stage: String,
    pub outs: Vec<CachedOut>,
    /// The run that produced the outputs.
    #[serde(default)]
    pub run_id: Option<String>,
    /// Who recorded it (set by the server from the token when it names one).
    pub user: String,
    /// When it was recorded (set by the store).
    #[serde(default)]
    pub created_at: Millis,
}

/// Whether `id` names a content object: 32 lowercase hex digits, with `.dir` for a
/// directory's listing.
pub fn is_object_id(id: &str) -> bool {
    let hex = id.strip_suffix(".dir").unwrap_or(id);
    hex.len() == 32 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether `key` is a run-cache key: 64 lowercase hex digits.
pub fn is_run_cache_key(key: &str) -> bool {
    key.len() == 64 && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_ids_are_md5_hex_with_an_optional_dir_suffix() {
        assert!(is_object_id("0123456789abcdef0123456789abcdef"));
        assert!(is_object_id("0123456789abcdef0123456789abcdef.dir"));
        for bad in [
            "",
            "0123456789ABCDEF0123456789abcdef",
            "0123456789abcdef0123456789abcde",
            "../23456789abcdef0123456789abcdef",
            "0123456789abcdef0123456789abcdef.tar",
        ] {
            assert!(!is_object_id(bad), "{bad}");
        }
        assert!(is_run_cache_key(&"a".repeat(64)));
        assert!(!is_run_cache_key(&"a".repeat(63)));
    }
}
