//! kiroku's own side of the model registry: gated promotion (`policy`, over plain inputs, and
//! `gate`, which gathers them from the store), evaluation on registration (`evaluation`), and
//! deploy hooks (`hooks`: which fire and what they carry; `webhook`: MLflow 3's signature;
//! `outbox`: at-least-once delivery with retries). `settings` reads a model's `[models.NAME]`.
//! The gate (`policy`, `facts`, `gate`), the hooks an event fires (`hooks`) and the alias move
//! itself live in `store::model_gate` (the server moves aliases too); they are re-exported here.
pub mod evaluation;
pub mod job_tokens;
pub mod live_settings;
pub mod outbox;
pub mod overview;
pub mod promote;
pub mod serving;
pub mod settings;
pub mod webhook;

pub use crate::store::model_gate::gather as gate;
pub use crate::store::model_gate::{facts, hooks, policy};

use crate::config::Config;
use crate::error::Result;
use crate::model::{Job, NewJob};
use crate::store::Store;

/// What submitting a job on behalf of a model needs (an evaluation, a hook's command): the
/// store, the configuration, where the store is (for a scheduler to find it), who and where.
#[derive(Clone)]
pub struct Submitter<'a> {
    pub store: &'a dyn Store,
    pub config: Config,
    pub store_location: String,
    pub user: String,
    pub host: String,
    /// Where the command runs (`workdir_for`: the project folder).
    pub workdir: String,
    /// Queue jobs straight into the store rather than through `jobs::submit` (the scheduler's
    /// own loop submitting: it places them on its next pass).
    pub queue_directly: bool,
    /// The URL of the `kiroku serve` this submits from (None elsewhere): its jobs' MLflow
    /// clients log to it.
    pub server_url: Option<String>,
    /// The tokens of the jobs it submits, when it is a token-protected `kiroku serve` (None
    /// elsewhere): each job that logs back to it gets one of its own.
    pub job_tokens: Option<&'a job_tokens::JobTokens>,
}

/// Where the jobs submitted on a model's behalf (evaluations, hook commands) run, whoever
/// submits them (a command, the TUI, the MCP server, `kiroku serve`, or the scheduler retrying a
/// hook from its own `/`): the project folder, the one whose `kiroku.toml` declares them (the
/// store's parent; with a server's store, the nearest folder above the current one holding a
/// `kiroku.toml`), else the current folder.
pub fn workdir_for(store_location: &str) -> String {
    crate::store::discover::location_from_arg(store_location)
        .project_dir()
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| std::path::PathBuf::from("."))
        .display()
        .to_string()
}

impl Submitter<'_> {
    /// A job running `command` through `sh -c` on `target` (default: `default_target`, else
    /// `local`) in `experiment`, with `env`.
    pub fn new_job(
        &self,
        name: &str,
        experiment: &str,
        command: &str,
        target: Option<&str>,
        env: Vec<(String, String)>,
    ) -> Result<NewJob> {
        let target = crate::jobs::targets::resolve(&self.config, target)?;
        Ok(NewJob {
            name: Some(name.into()),
            experiment: experiment.into(),
            target: target.name,
            command: vec!["sh".into(), "-c".into(), command.into()],
            workdir: self.workdir.clone(),
            env,
            gpus: 0,
            gpu_memory_mb: None,
            after: Vec::new(),
            params: Vec::new(),
            tags: Vec::new(),
            rerun_of: None,
            retry_of: None,
            time_limit_s: None,
            user: self.user.clone(),
            host: self.host.clone(),
        })
    }

    /// Queues `new` and makes sure a scheduler runs it.
    pub fn submit(&self, new: &NewJob) -> Result<Job> {
        if self.queue_directly {
            let job = crate::jobs::submit::queue(self.store, &self.config, new)?;
            // The scheduler submitting from its own loop looks at the queue again at once
            // rather than when something else wakes it.
            crate::jobs::wake::poke(self.store);
            return Ok(job);
        }
        let store = self.store;
        crate::jobs::submit::submit(move || Ok(store), &self.config, &self.store_location, new)
    }

    /// `MLFLOW_TRACKING_URI` for a job's command: the server it is submitted from
    /// (`kiroku serve`), else the store when it is a server (a local store has no MLflow
    /// endpoint of its own).
    pub fn tracking_uri(&self) -> Option<String> {
        let location = &self.store_location;
        self.server_url.clone().or_else(|| {
            (location.starts_with("http://") || location.starts_with("https://"))
                .then(|| location.clone())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::workdir_for;

    #[test]
    fn a_models_jobs_run_in_the_project_folder_whoever_submits_them() {
        // The scheduler retries hooks from `/`; the store's folder decides, not the caller's.
        let project = tempfile::tempdir().unwrap();
        let store = project.path().join(".kiroku");
        assert_eq!(
            workdir_for(&store.display().to_string()),
            project.path().display().to_string()
        );
    }
}
