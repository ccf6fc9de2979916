//! The run a supervisor (`kiroku run`, a job's `kiroku job-exec`) creates for the command it
//! starts: its folder (or, for a remote store, a spool folder), the run itself created together
//! with this process's supervisor record (`crate::supervise`), its source and environment
//! (`RunOrigin`, recorded apart); and, at the end, the spooled `output.log` sent up as an
//! artifact.
use super::capture::{metrics_file_path, report};
use super::source;
use crate::error::{KirokuError, Result};
use crate::model::{ChildProcess, NewRun, Run, RunSource, Supervisor};
use crate::store::{run_files, Store};
use std::path::{Path, PathBuf};

/// What the run is.
pub struct RunSpec<'a> {
    pub experiment: String,
    pub name: Option<String>,
    pub user: String,
    pub tags: Vec<(String, String)>,
    pub params: Vec<(String, String)>,
    pub parent_id: Option<String>,
    /// Where the command runs (its git state is recorded).
    pub cwd: &'a Path,
    pub command: &'a [String],
    /// The environment variables recorded with the run.
    pub environment: Vec<(String, String)>,
}

/// A created run and where its files are.
pub struct StartedRun {
    pub run: Run,
    /// The run's folder, or its spool folder for a remote store (canonical).
    pub run_dir: PathBuf,
    /// Whether `run_dir` is a spool folder (a remote store has no local run folder).
    pub spooled: bool,
    /// The supervisor record the run was created with (None without /proc).
    pub supervisor: Option<Supervisor>,
}

/// Where a run's command comes from: the git state of its folder and its command line
/// (`RunSource`), and the environment variables recorded with it.
pub struct RunOrigin {
    pub source: RunSource,
    pub environment: Vec<(String, String)>,
}

impl RunOrigin {
    /// The origin of the command `spec` describes, looked at now (git runs now: before the
    /// command starts, so the state recorded is the one it started from).
    pub fn of(spec: &RunSpec) -> RunOrigin {
        RunOrigin {
            source: source::capture_source(spec.cwd, spec.command),
            environment: spec.environment.clone(),
        }
    }

    /// Records it on run `run_id`.
    pub fn record(&self, store: &dyn Store, run_id: &str) -> Result<()> {
        store.set_source(run_id, &self.source)?;
        store.set_environment(run_id, &self.environment)
    }
}

/// Where a supervised run's files go and who supervises it, chosen before the run exists (its
/// id included): a job's command can then start before its run is written (`RunPlace::create`
/// in the same transaction).
pub struct RunPlace {
    pub run_id: String,
    /// The run's folder, or its spool folder for a remote store (canonical, made).
    pub run_dir: PathBuf,
    /// Whether `run_dir` is a spool folder (a remote store has no local run folder).
    pub spooled: bool,
    /// The supervisor record the run will be created with (None without /proc); `create`
    /// adds the command's process when it was started first.
    supervisor: Option<Supervisor>,
}

impl RunPlace {
    /// Chooses the run's id and makes its folder (or spool folder).
    pub fn prepare(store: &dyn Store) -> Result<RunPlace> {
        let run_id = crate::ids::new_run_id();
        // A remote store has no local run folder: the log and metrics file are spooled in a
        // temporary folder and the log is uploaded as the artifact `output.log` at the end (or
        // by the recovery of a lost run, which finds the folder through the supervisor record).
        let (run_dir, spooled) = match store.run_dir(&run_id) {
            Some(dir) => (dir, false),
            None => (
                std::env::temp_dir().join("kiroku-spool").join(&run_id),
                true,
            ),
        };
        std::fs::create_dir_all(&run_dir)
            .map_err(|e| KirokuError::io(format!("creating {}", run_dir.display()), e))?;
        // Recorded for whoever recovers the run, from whatever directory they look.
        let run_dir = run_dir.canonicalize().unwrap_or(run_dir);
        let supervisor = crate::supervise::supervisor_for(&metrics_file_path(&run_dir));
        Ok(RunPlace {
            run_id,
            run_dir,
            spooled,
            supervisor,
        })
    }

    /// Creates the run `spec` describes here, with its supervisor record in the same step
    /// (naming `child`, the command, when it was started first).
    pub fn create(
        &self,
        store: &dyn Store,
        spec: &RunSpec,
        child: Option<ChildProcess>,
    ) -> Result<StartedRun> {
        let supervisor = self.supervisor.clone().map(|supervisor| Supervisor {
            child: child.or(supervisor.child),
            ..supervisor
        });
        let new_run = NewRun {
            id: Some(self.run_id.clone()),
            experiment: spec.experiment.clone(),
            name: spec.name.clone(),
            user: spec.user.clone(),
            host: source::host_name(),
            tags: spec.tags.clone(),
            params: spec.params.clone(),
            parent_id: spec.parent_id.clone(),
            ..Default::default()
        };
        let run = match &supervisor {
            Some(supervisor) => store.create_supervised_run(&new_run, supervisor)?,
            // No /proc (not Linux): nobody could judge this process later anyway.
            None => store.create_run(&new_run)?,
        };
        Ok(StartedRun {
            run,
            run_dir: self.run_dir.clone(),
            spooled: self.spooled,
            supervisor,
        })
    }

    /// Removes the folder made for a run that was never created.
    pub fn abandon(self) {
        let _ = std::fs::remove_dir_all(&self.run_dir);
    }
}

/// Creates the run for a command this process supervises (its origin is recorded apart,
/// `RunOrigin`, which a job's supervisor does once the command has started).
pub fn start_supervised_run(store: &dyn Store, spec: &RunSpec) -> Result<StartedRun> {
    RunPlace::prepare(store)?.create(store, spec, None)
}

impl StartedRun {
    /// The metric points the run holds once its command has ended, whichever way they came:
    /// output scalars and the metrics file (`captured`, the fallback when the store cannot be
    /// read), `kiroku log metric` calls and MLflow API calls (`--mlflow`).
    pub fn points_logged(&self, store: &dyn Store, captured: u64) -> u64 {
        store
            .run(&self.run.id)
            .map(|detail| detail.run.metrics.values().map(|m| m.count).sum::<u64>())
            .map_or(captured, |held| held.max(captured))
    }

    /// For a spooled run, once the capture has finished: uploads `output.log` as the run's
    /// artifact and removes the spool folder (kept, with a warning, when the upload fails).
    pub fn upload_spooled_log(&self, store: &dyn Store, warnings: &mut Vec<String>) {
        if !self.spooled {
            return;
        }
        let log_path = run_files::output_log_path(&self.run_dir);
        // Streamed, and only a regular file reached without links: the script could have
        // replaced its log with a link (or a FIFO).
        match run_files::open_in_run(&self.run_dir, &log_path) {
            Ok(file) => {
                if let Err(e) =
                    store.upload_artifact(&self.run.id, run_files::OUTPUT_LOG, Box::new(file), None)
                {
                    report(
                        warnings,
                        format!(
                            "could not upload output.log: {e} (kept at {})",
                            log_path.display()
                        ),
                    );
                } else {
                    let _ = std::fs::remove_dir_all(&self.run_dir);
                }
            }
            Err(e) => report(
                warnings,
                format!("could not read {}: {e}", log_path.display()),
            ),
        }
    }
}
