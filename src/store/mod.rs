//! The project store: the `Store` trait that the rest of kiroku talks to, and where a store is.
//!
//! `SqliteStore` implements it over an embedded database; `HttpStore` talks to `kiroku serve`. The trait therefore speaks only in `model` types: no SQLite (or HTTP) types
//! cross it, and every method is a whole operation (no transactions held open by callers).
pub mod discover;
pub mod http;
pub mod run_files;
pub mod sqlite;
pub mod synthetic;

use crate::error::Result;
use crate::model::*;
use crate::series::{SampledSeries, SeriesQuery};
use std::path::PathBuf;

pub use discover::{open_store, resolve_location, StoreLocation};
pub use sqlite::SqliteStore;

/// Environment variable names that look like secrets are never stored.
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL"]
        .iter()
        .any(|word| upper.contains(word))
}

pub trait Store: Send + Sync {
    /// Where the store is, for messages (`/proj/.kiroku`, later `http://host:port`).
    fn describe(&self) -> String;
    /// The folder holding a run's logs and copied artifacts, when the store is local.
    fn run_dir(&self, run_id: &str) -> Option<PathBuf>;

    // Experiments.
    fn experiments(&self, include_deleted: bool) -> Result<Vec<Experiment>>;
    /// By name, or by numeric id.
    fn experiment(&self, name_or_id: &str) -> Result<Experiment>;
    fn create_experiment(&self, name: &str, user: &str) -> Result<Experiment>;
    fn rename_experiment(&self, name_or_id: &str, new_name: &str, user: &str) -> Result<()>;
    /// Soft-deletes the experiment and its runs.
    fn delete_experiment(&self, name_or_id: &str, user: &str) -> Result<()>;
    /// Undoes `delete_experiment`: the experiment and the runs deleted with it come back.
    fn restore_experiment(&self, name_or_id: &str, user: &str) -> Result<()>;
    /// Sets experiment tags (last write wins; listed in `Experiment::tags`). The tag
    /// `mlflow.note.content` is the experiment's `description` too. A deleted experiment takes
    /// no tag changes until restored (MLflow's "must be in the 'active' state").
    fn set_experiment_tags(
        &self,
        name_or_id: &str,
        tags: &[(String, String)],
        user: &str,
    ) -> Result<()>;
    /// Removes experiment tags; a key the experiment lacks is `NotFound`.
    fn remove_experiment_tags(&self, name_or_id: &str, keys: &[String], user: &str) -> Result<()>;

    // Runs.
    fn create_run(&self, new: &NewRun) -> Result<Run>;
    /// A full id, a unique id prefix, or a run name, to the full id.
    fn resolve_run(&self, reference: &str) -> Result<String>;
    fn run(&self, id: &str) -> Result<RunDetail>;
    fn search_runs(&self, query: &RunQuery) -> Result<RunPage>;
    /// Like `search_runs`, except that when the page is full (`limit` rows came back) its
    /// `total` may be a lower bound (offset + rows), which spares counting every match; an
    /// interactive filter shows the page at once and asks `search_runs` for the count after.
    fn search_runs_uncounted(&self, query: &RunQuery) -> Result<RunPage> {
        self.search_runs(query)
    }
    /// Sets the status; terminal statuses also set the end time (now when absent).
    fn set_status(
        &self,
        id: &str,
        status: RunStatus,
        exit_code: Option<i32>,
        end_time: Option<Millis>,
    ) -> Result<()> {
        self.set_status_as(id, status, exit_code, end_time, None)
    }
    /// `set_status` by `user`, whom the activity log records as the one who changed it;
    /// `None` (or empty) records the run's owner (a wrapper finishing its own run).
    fn set_status_as(
        &self,
        id: &str,
        status: RunStatus,
        exit_code: Option<i32>,
        end_time: Option<Millis>,
        user: Option<&str>,
    ) -> Result<()>;
    /// Params are immutable: logging a different value for a key is a conflict.
    fn log_params(&self, id: &str, params: &[(String, String)]) -> Result<()>;
    fn set_tags(&self, id: &str, tags: &[(String, String)], user: &str) -> Result<()>;
    fn remove_tags(&self, id: &str, keys: &[String], user: &str) -> Result<()>;
    /// Appends points (in the given order) and updates the per-key summaries, atomically.
    fn log_metrics(&self, id: &str, points: &[KeyedPoint]) -> Result<()>;
    /// The full series of one key, in logging order.
    fn metric_series(&self, id: &str, key: &str) -> Result<Vec<MetricPoint>>;
    /// One key's series reduced for a chart (per-column count, first, last, min, max).
    fn metric_series_sampled(
        &self,
        id: &str,
        key: &str,
        query: &SeriesQuery,
    ) -> Result<SampledSeries> {
        Ok(crate::series::downsample(
            key,
            &self.metric_series(id, key)?,
            query,
        ))
    }
    fn add_note(&self, id: &str, note: &NewNote) -> Result<Note>;
    fn notes(&self, id: &str) -> Result<Vec<Note>>;
    /// Changes a note's text; only its author may (`Forbidden` otherwise).
    fn edit_note(&self, id: &str, note_id: i64, body: &str, user: &str) -> Result<Note>;
    /// Deletes a note; only its author may. Replies to it stay, detached.
    fn delete_note(&self, id: &str, note_id: i64, user: &str) -> Result<()>;
    /// Returns whether anything changed.
    fn set_star(&self, id: &str, user: &str, starred: bool) -> Result<bool>;
    /// Soft delete (true) or restore (false).
    fn set_deleted(&self, id: &str, deleted: bool, user: &str) -> Result<()>;
    /// Renames a run (MLflow's `runs/update run_name` and `mlflow.runName` tag).
    fn rename_run(&self, id: &str, name: &str, user: &str) -> Result<()>;
    fn set_source(&self, id: &str, source: &RunSource) -> Result<()>;
    /// Secret-looking names are dropped here too, whatever the caller sent.
    fn set_environment(&self, id: &str, env: &[(String, String)]) -> Result<()>;
    fn add_artifact(&self, id: &str, artifact: &Artifact) -> Result<()>;
    /// Stores what `data` yields as the run's artifact `path` (relative, inside the run) and
    /// records it with its size, SHA-256 and `location` (where it was copied from), streaming
    /// (never holding the whole file). The file and its record change together: of concurrent
    /// uploads to one path the last one wins both. Refused for deleted runs; a file/folder
    /// conflict on the way is `Invalid`. Local stores write into the run's folder (never through
    /// a link, see `run_files`); the HTTP store streams to the server, which does the same there.
    fn upload_artifact(
        &self,
        id: &str,
        path: &str,
        data: Box<dyn std::io::Read + Send>,
        location: Option<&str>,
    ) -> Result<Artifact>;
    /// Deletes the run's artifact file or folder at `path` and the records of everything at or
    /// under it; `NotFound` when there is neither. Refused for deleted runs.
    fn delete_artifact(&self, id: &str, path: &str) -> Result<()>;
    fn add_input(&self, id: &str, input: &RunInput) -> Result<()>;

    /// A number that changes whenever anything in the store changes (any write by anyone),
    /// so watchers can tell cheaply whether to look again.
    fn version(&self) -> Result<i64>;

    /// Waits until `version()` differs from `since`, or `timeout` passes; returns the version
    /// then. Live views call this in a loop. The default re-reads the local counter a few times
    /// a second; the HTTP store long-polls the server instead (one request per change).
    fn watch(&self, since: i64, timeout: std::time::Duration) -> Result<i64> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let version = self.version()?;
            let now = std::time::Instant::now();
            if version != since || now >= deadline {
                return Ok(version);
            }
            std::thread::sleep((deadline - now).min(std::time::Duration::from_millis(200)));
        }
    }

    // Activity.
    /// Newest first.
    fn events(&self, query: &EventQuery) -> Result<Vec<Event>>;

    // Batches and supervision (durability).
    /// Writes a batch of params, metrics and tags in one transaction: all of it or none. The
    /// rules are those of `log_params`, `log_metrics` and `set_tags` (a deleted run takes
    /// nothing, a param cannot change), and, as in MLflow's API, a non-empty tag
    /// `mlflow.runName` also renames the run and `mlflow.note.content` adds a note by `user`.
    /// `batch.ingested_to` moves the run's supervisor checkpoint in the same transaction.
    fn log_batch(&self, id: &str, batch: &RunBatch, user: &str) -> Result<()>;
    /// Creates a run together with the record of the process supervising it (`kiroku run`),
    /// in one transaction, so no running run exists without a way to tell whether it lives.
    fn create_supervised_run(&self, new: &NewRun, supervisor: &Supervisor) -> Result<Run>;
    /// The running runs that have a supervisor, with their ingest checkpoints.
    fn supervised_runs(&self) -> Result<Vec<SupervisedRun>>;
    /// Recovery of a run whose supervisor died, as one compare-and-swap: only when the run is
    /// still `running` and its checkpoint is still `expected_offset`, writes `rest` (the part of
    /// the metrics file after the checkpoint) and marks the run `lost`, in one transaction.
    /// Returns whether it did; false means someone else got there first (or the run ended).
    fn recover_lost_run(
        &self,
        id: &str,
        expected_offset: u64,
        rest: &RunBatch,
        user: &str,
    ) -> Result<bool>;
}
