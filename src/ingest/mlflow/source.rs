//! Where the MLflow data is, and the one shape both store formats are read into.
//!
//! [`detect`] finds the stores PATH names (an `mlruns/` folder, an `mlflow.db` file, or a folder
//! holding either or both) and the tree the import may read; `files` and `db` read them into
//! [`SourceExperiment`]/[`SourceRun`]; a [`Reader`] streams a run's metric points from either.
use super::report::ImportReport;
use super::tree::SourceTree;
use super::{db, files};
use crate::error::{KirokuError, Result};
use crate::model::{KeyedPoint, Millis, RunStatus};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// An MLflow experiment as read from either store format.
#[derive(Debug, Clone)]
pub(crate) struct SourceExperiment {
    /// MLflow's id (`0` is the automatic Default experiment).
    pub id: String,
    pub name: String,
    pub deleted: bool,
    /// MLflow's `creation_time` and `last_update_time` (absent in stores older than MLflow 2.2).
    pub created_ms: Option<Millis>,
    pub updated_ms: Option<Millis>,
    pub tags: Vec<(String, String)>,
    pub runs: Vec<SourceRun>,
}

/// An MLflow run, everything but its metric points (read later, one run at a time).
#[derive(Debug, Clone, Default)]
pub(crate) struct SourceRun {
    pub id: String,
    /// `run_name` / the runs table's `name`; the `mlflow.runName` tag wins over it.
    pub name: Option<String>,
    pub user: Option<String>,
    pub status: Option<RunStatus>,
    pub start_time: Option<Millis>,
    pub end_time: Option<Millis>,
    pub deleted: bool,
    pub artifact_uri: Option<String>,
    /// Local folders that may hold the run's artifacts, best first.
    pub artifact_dirs: Vec<PathBuf>,
    pub params: Vec<(String, String)>,
    pub tags: Vec<(String, String)>,
    /// The run's folder in an `mlruns` store (its `metrics/` are read from there).
    pub folder: Option<PathBuf>,
    /// Its `log_input` datasets, in the order logged.
    pub datasets: Vec<super::datasets::MlflowDataset>,
}

impl SourceRun {
    pub(super) fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Where a source's metric points come from.
pub(super) enum Reader<'a> {
    Files(&'a SourceTree),
    Db(db::MlflowDb),
}

impl Reader<'_> {
    pub(super) fn for_each_point(
        &self,
        run: &SourceRun,
        report: &mut ImportReport,
        f: &mut dyn FnMut(KeyedPoint) -> Result<()>,
    ) -> Result<()> {
        match self {
            Reader::Files(tree) => match &run.folder {
                Some(folder) => files::for_each_point(folder, tree, report, f),
                None => Ok(()),
            },
            Reader::Db(db) => db.for_each_point(&run.id, f),
        }
    }
}

/// One MLflow store found under PATH.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Source {
    /// An `mlruns` folder: as PATH names it (for the report), and resolved (walked from there,
    /// so that every path read is canonical).
    Files {
        shown: PathBuf,
        root: PathBuf,
    },
    Db(PathBuf),
}

/// What [`detect`] found at PATH.
pub(super) struct Found {
    pub(super) sources: Vec<Source>,
    /// The folder holding the store (canonical): relative artifact locations start there.
    pub(super) base: PathBuf,
    pub(super) tree: SourceTree,
}

/// Whether `path` is an SQLite database file (by its 16-byte header).
pub fn is_sqlite_file(path: &Path) -> bool {
    let mut header = [0u8; 16];
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut header))
        .is_ok()
        && &header == b"SQLite format 3\0"
}

/// The MLflow stores at `path` and the tree the import may read (see [`tree`]). `path` itself is
/// resolved (the user named it); a store inside it that is a link leading out of it is not.
pub(super) fn detect(path: &Path, report: &mut ImportReport) -> Result<Found> {
    let reading = |e| KirokuError::io(format!("reading {}", path.display()), e);
    let meta = fs::metadata(path).map_err(reading)?;
    let resolved = fs::canonicalize(path).map_err(reading)?;
    let parent = resolved.parent().unwrap_or(&resolved).to_path_buf();
    let tree_in = |base: &Path, mlruns: Option<PathBuf>, report: &mut ImportReport| {
        let mlruns = mlruns.or_else(|| SourceTree::store_entry(base, "mlruns", true, report));
        let mlartifacts = SourceTree::store_entry(base, "mlartifacts", true, report);
        SourceTree::new(mlruns.into_iter().chain(mlartifacts).collect())
    };
    if meta.is_file() {
        if is_sqlite_file(path) {
            return Ok(Found {
                sources: vec![Source::Db(path.to_path_buf())],
                tree: tree_in(&parent, None, report),
                base: parent,
            });
        }
        return Err(KirokuError::Invalid(format!(
            "{} is not an SQLite database (expected an mlflow.db file or an mlruns folder)",
            path.display()
        )));
    }
    let mut sources = Vec::new();
    if SourceTree::store_entry(&resolved, "mlflow.db", false, report)
        .is_some_and(|db| is_sqlite_file(&db))
    {
        sources.push(Source::Db(path.join("mlflow.db")));
    }
    let mlruns = SourceTree::store_entry(&resolved, "mlruns", true, report);
    if let Some(root) = &mlruns {
        sources.push(Source::Files {
            shown: path.join("mlruns"),
            root: root.clone(),
        });
    }
    if !sources.is_empty() {
        return Ok(Found {
            sources,
            tree: tree_in(&resolved, mlruns, report),
            base: resolved,
        });
    }
    if files::looks_like_mlruns(&resolved) {
        return Ok(Found {
            sources: vec![Source::Files {
                shown: path.to_path_buf(),
                root: resolved.clone(),
            }],
            tree: tree_in(&parent, Some(resolved), report),
            base: parent,
        });
    }
    Err(KirokuError::Invalid(format!(
        "no MLflow store in {}: expected an mlruns folder, a folder holding mlruns/ or mlflow.db, or an mlflow.db file",
        path.display()
    )))
}

/// Parses an MLflow run status: the FileStore's int (1 RUNNING … 5 KILLED) or a name.
pub(crate) fn parse_status(raw: &str) -> Option<RunStatus> {
    match raw.trim() {
        "1" => Some(RunStatus::Running),
        "2" => Some(RunStatus::Queued),
        "3" => Some(RunStatus::Finished),
        "4" => Some(RunStatus::Failed),
        "5" => Some(RunStatus::Killed),
        other => other.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_from_ints_and_names() {
        assert_eq!(parse_status("3"), Some(RunStatus::Finished));
        assert_eq!(parse_status("2"), Some(RunStatus::Queued));
        assert_eq!(parse_status("KILLED"), Some(RunStatus::Killed));
        assert_eq!(parse_status("SCHEDULED"), Some(RunStatus::Queued));
        assert_eq!(parse_status("9"), None);
    }
}
