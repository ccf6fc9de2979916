//! `kiroku import mlflow PATH`: copies MLflow experiments and runs into a kiroku store.
//!
//! PATH is an `mlruns/` FileStore folder, a folder holding `mlruns/` and/or `mlflow.db`, or an
//! `mlflow.db` SQLite file. `source` finds which; `files` (with `yaml` for `meta.yaml`) and `db`
//! read the two formats into the same [`SourceExperiment`]/[`SourceRun`] shape; `experiments`,
//! `runs` and `artifacts` write them through the [`Store`] trait only, and `report` counts what
//! happened; `registry` brings an `mlflow.db`'s model registry and logged models along. Runs keep their MLflow ids, so importing the same source again skips every run
//! that is already there and adds nothing twice.
//!
//! The source is untrusted: the import reads nothing outside the source tree (see [`tree`]
//! for what the tree is, for `mlruns` folders and `mlflow.db` files alike), follows no folder
//! link, and reads bounded amounts. An artifact location outside the tree is recorded as a
//! reference, never copied. Param and tag values longer than MLflow's limits are cut to them,
//! as MLflow itself does when they are logged. Everything left out is a warning and a count in
//! [`ImportReport::skipped`].
mod artifacts;
pub mod datasets;
mod db;
mod experiments;
mod files;
mod registry;
mod report;
mod runs;
mod source;
mod tree;
mod yaml;

pub use report::{ImportProgress, ImportReport, SkipReason};

use crate::error::Result;
use crate::store::Store;
use artifacts::ArtifactSources;
use experiments::import_experiments;
use source::{detect, Reader, Source};
use std::collections::BTreeSet;
use std::path::Path;

pub(crate) use artifacts::artifact_candidates;
pub use source::is_sqlite_file;
pub(crate) use source::{parse_status, SourceExperiment, SourceRun};

/// Points per `Store::log_metrics` call.
const METRIC_BATCH: usize = 50_000;

/// MLflow's length limits for values (`mlflow/utils/validation.py`), in characters. MLflow cuts
/// longer param and run tag values to them when they are logged; the import does the same.
pub(crate) const MAX_PARAM_VALUE_CHARS: usize = 6000;
pub(crate) const MAX_TAG_VALUE_CHARS: usize = 8000;
pub(crate) const MAX_EXPERIMENT_TAG_VALUE_CHARS: usize = 20_000;

/// Shortens text quoted in a warning to its first 100 characters (`model::excerpt`).
pub(crate) fn excerpt(text: &str) -> String {
    crate::model::excerpt(text, 100)
}

/// Cuts `value` to its first `max_chars` characters; whether it was longer.
pub(crate) fn cut_to_chars(value: &mut String, max_chars: usize) -> bool {
    match value.char_indices().nth(max_chars) {
        Some((cut, _)) => {
            value.truncate(cut);
            true
        }
        None => false,
    }
}

/// Imports every experiment and run of the MLflow store(s) at `path` into `store`.
///
/// `user` is recorded as the creator of new experiments and stands in for runs that name no
/// user. Problems with single entries (a malformed metric line, an unreadable `meta.yaml`, a
/// parent that is missing) become warnings in the report; only failures of the store itself,
/// or a PATH that holds no MLflow store, are errors.
pub fn import_mlflow(store: &dyn Store, path: &Path, user: &str) -> Result<ImportReport> {
    import_mlflow_with_progress(store, path, user, &|_| {})
}

/// `import_mlflow`, telling `progress` how far it is after each run.
pub fn import_mlflow_with_progress(
    store: &dyn Store,
    path: &Path,
    user: &str,
    progress: &dyn Fn(ImportProgress),
) -> Result<ImportReport> {
    let mut report = ImportReport::default();
    let found = detect(path, &mut report)?;
    let mut artifacts = ArtifactSources {
        tree: &found.tree,
        claimed: BTreeSet::new(),
    };
    for source in &found.sources {
        let (experiments, reader) = match source {
            Source::Files { shown, root } => {
                report.sources.push(shown.display().to_string());
                let experiments = files::read_store(root, &found.base, &found.tree, &mut report)?;
                (experiments, Reader::Files(&found.tree))
            }
            Source::Db(file) => {
                report.sources.push(file.display().to_string());
                let db = db::MlflowDb::open(file)?;
                (db.read(&found.base, &mut report)?, Reader::Db(db))
            }
        };
        import_experiments(
            store,
            experiments,
            &reader,
            &mut artifacts,
            user,
            &mut report,
            progress,
        )?;
        if let Reader::Db(db) = &reader {
            registry::import_models(store, db, &found.base, &mut artifacts, user, &mut report)?;
        }
    }
    Ok(report)
}
