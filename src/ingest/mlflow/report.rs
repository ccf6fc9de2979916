//! What an import did: counts, warnings, and what it refused to read and why.
//!
//! Every entry the importer leaves out for safety or size is both a warning (naming the path
//! and the reason) and a count under [`ImportReport::skipped`], keyed by [`SkipReason`], so the
//! `kiroku.import/v1` JSON says at a glance what was not imported.
use serde::Serialize;
use std::collections::BTreeMap;

/// Why the importer left something out (the key of [`ImportReport::skipped`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// A file link whose target is outside the imported tree: not read.
    LinkOutsideTree,
    /// A link to a folder: folder links are never followed.
    FolderLink,
    /// A link whose target does not exist.
    BrokenLink,
    /// Not a regular file (a FIFO, socket or device): not opened.
    NotAFile,
    /// A file or folder that could not be read.
    Unreadable,
    /// A file or line larger than the importer reads (a `meta.yaml` over 1 MiB, a metric line
    /// over 4 KiB).
    TooLarge,
    /// A file or folder name that is not UTF-8.
    NameNotUtf8,
    /// A param, tag or metric key kiroku refuses (empty, over 250 characters, control
    /// characters), nested folders included.
    InvalidKey,
    /// Folders nested deeper than the importer walks.
    TooDeep,
    /// More entries in one folder than the importer lists (the rest are left out).
    TooManyEntries,
    /// A folder reached a second time (a bind mount loop): walked once.
    FolderLoop,
    /// An artifact location outside the imported tree: recorded as a reference, not copied.
    ArtifactsOutsideTree,
    /// An artifact location that is a store folder itself, or overlaps the folder another run's
    /// artifacts were copied from: recorded as a reference, not copied again.
    ArtifactsOverlap,
}

impl SkipReason {
    /// The reason as it appears in the JSON report.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::LinkOutsideTree => "link_outside_tree",
            SkipReason::FolderLink => "folder_link",
            SkipReason::BrokenLink => "broken_link",
            SkipReason::NotAFile => "not_a_file",
            SkipReason::Unreadable => "unreadable",
            SkipReason::TooLarge => "too_large",
            SkipReason::NameNotUtf8 => "name_not_utf8",
            SkipReason::InvalidKey => "invalid_key",
            SkipReason::TooDeep => "too_deep",
            SkipReason::TooManyEntries => "too_many_entries",
            SkipReason::FolderLoop => "folder_loop",
            SkipReason::ArtifactsOutsideTree => "artifacts_outside_tree",
            SkipReason::ArtifactsOverlap => "artifacts_overlap",
        }
    }
}

/// How far an import is, reported after each run of a source (for a progress bar).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportProgress {
    /// Runs of the current source done (imported, skipped or failed).
    pub runs_done: u64,
    /// Runs the current source holds.
    pub runs: u64,
}

/// What an import did. Serialised for `--json` output.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportReport {
    /// The stores that were read (`mlruns` folders and `mlflow.db` files).
    pub sources: Vec<String>,
    /// MLflow experiments read.
    pub experiments: u64,
    /// kiroku experiments created by this import.
    pub experiments_created: u64,
    pub runs_imported: u64,
    /// Runs whose id was already in the store (left untouched).
    pub runs_skipped: u64,
    /// Runs that could not be imported (each has a warning).
    pub runs_failed: u64,
    pub params: u64,
    pub tags: u64,
    pub metric_points: u64,
    pub notes: u64,
    /// MLflow `log_input` datasets bound to imported runs as dataset versions.
    pub dataset_inputs: u64,
    pub artifacts_copied: u64,
    /// Runs whose artifacts were not found, or lie outside the imported tree, recorded by
    /// location only.
    pub artifacts_referenced: u64,
    /// Bytes of artifacts copied.
    pub artifact_bytes: u64,
    /// Registered models imported from `mlflow.db` (with their versions, tags and aliases).
    pub registered_models: u64,
    pub model_versions: u64,
    /// MLflow 3 logged models imported, and their files copied.
    pub logged_models: u64,
    pub logged_model_files: u64,
    /// Entries left out, by reason (each one also has a warning naming it).
    pub skipped: BTreeMap<SkipReason, u64>,
    /// Param and tag values longer than MLflow allows (6,000 and 8,000 characters; 20,000 for
    /// experiment tags), cut to that length as MLflow itself does when they are logged.
    pub values_truncated: u64,
    pub warnings: Vec<String>,
}

impl ImportReport {
    /// Adds a warning.
    pub(crate) fn warn(&mut self, warning: String) {
        self.warnings.push(warning);
    }

    /// Adds a warning for something left out, and counts it under `reason`.
    pub(crate) fn skip(&mut self, reason: SkipReason, warning: String) {
        self.count(reason);
        self.warnings.push(warning);
    }

    /// Counts something left out whose warning is summed up elsewhere.
    pub(crate) fn count(&mut self, reason: SkipReason) {
        *self.skipped.entry(reason).or_default() += 1;
    }

    /// Entries left out, all reasons together.
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }
}

/// A short human summary (the warnings themselves are printed apart, on stderr).
impl std::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "imported {} runs from {} MLflow experiments ({} new in kiroku)",
            self.runs_imported, self.experiments, self.experiments_created
        )?;
        if self.runs_skipped > 0 || self.runs_failed > 0 {
            write!(
                f,
                "; {} already present, {} not imported",
                self.runs_skipped, self.runs_failed
            )?;
        }
        write!(
            f,
            "\n  {} params, {} tags, {} metric points, {} notes, artifacts: {} copied, {} referenced",
            self.params,
            self.tags,
            self.metric_points,
            self.notes,
            self.artifacts_copied,
            self.artifacts_referenced
        )?;
        if self.registered_models + self.logged_models > 0 {
            write!(
                f,
                "\n  models: {} registered with {} versions, {} logged ({} files)",
                self.registered_models,
                self.model_versions,
                self.logged_models,
                self.logged_model_files
            )?;
        }
        if !self.skipped.is_empty() {
            let reasons: Vec<String> = self
                .skipped
                .iter()
                .map(|(reason, n)| format!("{n} {}", reason.as_str()))
                .collect();
            write!(f, "\n  left out: {}", reasons.join(", "))?;
        }
        if self.values_truncated > 0 {
            write!(
                f,
                "\n  {} values cut to MLflow's length limits",
                self.values_truncated
            )?;
        }
        for source in &self.sources {
            write!(f, "\n  from {source}")?;
        }
        if !self.warnings.is_empty() {
            write!(f, "\n  {} warnings", self.warnings.len())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_reasons_serialise_as_their_names() {
        let mut report = ImportReport::default();
        report.skip(SkipReason::LinkOutsideTree, "a".into());
        report.skip(SkipReason::LinkOutsideTree, "b".into());
        report.skip(SkipReason::ArtifactsOverlap, "c".into());
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json["skipped"],
            serde_json::json!({"link_outside_tree": 2, "artifacts_overlap": 1})
        );
        for reason in [
            SkipReason::LinkOutsideTree,
            SkipReason::FolderLink,
            SkipReason::BrokenLink,
            SkipReason::NotAFile,
            SkipReason::Unreadable,
            SkipReason::TooLarge,
            SkipReason::NameNotUtf8,
            SkipReason::InvalidKey,
            SkipReason::TooDeep,
            SkipReason::TooManyEntries,
            SkipReason::FolderLoop,
            SkipReason::ArtifactsOutsideTree,
            SkipReason::ArtifactsOverlap,
        ] {
            assert_eq!(
                serde_json::to_value(reason).unwrap(),
                serde_json::json!(reason.as_str())
            );
        }
        assert_eq!(report.warnings.len(), 3);
        assert_eq!(report.skipped_total(), 3);
        assert!(report
            .to_string()
            .contains("left out: 2 link_outside_tree, 1 artifacts_overlap"));
    }
}
