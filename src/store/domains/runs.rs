//! `RunStore`: runs and what describes them (status, params, tags, name, source, environment,
//! inputs), their lookup and their search.
use crate::error::Result;
use crate::model::*;

pub trait RunStore {
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
    /// Soft delete (true) or restore (false).
    fn set_deleted(&self, id: &str, deleted: bool, user: &str) -> Result<()>;
    /// Renames a run (MLflow's `runs/update run_name` and `mlflow.runName` tag).
    fn rename_run(&self, id: &str, name: &str, user: &str) -> Result<()>;
    fn set_source(&self, id: &str, source: &RunSource) -> Result<()>;
    /// Secret-looking names are dropped here too, whatever the caller sent.
    fn set_environment(&self, id: &str, env: &[(String, String)]) -> Result<()>;
    fn add_input(&self, id: &str, input: &LoggedInput) -> Result<()>;
    /// The MLflow-style inputs of each run of `ids`, in that order (none for an unknown id):
    /// MLflow's `runs/search` answers with every run's inputs.
    fn logged_inputs(&self, ids: &[String]) -> Result<Vec<Vec<LoggedInput>>>;
}
