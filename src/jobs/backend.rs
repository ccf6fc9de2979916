//! `Backend`: how a job's supervisor starts and watches a command somewhere else (a box over
//! SSH, a Slurm cluster). The supervisor (`crate::wrap::job`) calls `launch` once, then `poll`
//! every `poll_interval` until the state is `Ended`, passing the output and metrics bytes it
//! pulls into the run; `cancel` asks the command to stop (the supervisor keeps polling for the end).
use crate::error::Result;
use crate::model::{Job, JobStatus};
use std::path::Path;
use std::time::Duration;

/// What a backend needs to start a job.
pub struct LaunchSpec<'a> {
    pub job: &'a Job,
    /// The run the job became.
    pub run_id: &'a str,
    /// The run's folder on this box (the supervisor assembles `output.log` and
    /// `metrics.jsonl` there).
    pub run_dir: &'a Path,
    /// Environment for the command (`KIROKU_RUN_ID`, the job's own variables, …); the backend
    /// adds `KIROKU_METRICS_FILE` pointing where the command can write.
    pub env: Vec<(String, String)>,
}

/// Where a launched command is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteState {
    /// Accepted but not running yet (Slurm's PENDING), with the scheduler's reason.
    Pending {
        reason: String,
    },
    Running,
    /// Ended: `status` is one of the terminal job statuses; `reason` keeps the target's own
    /// words (Slurm's `TimeLimit`, `NonZeroExitCode`).
    Ended {
        status: JobStatus,
        exit_code: Option<i32>,
        reason: String,
    },
}

/// What one `poll` brought back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    /// New output of the command (stdout and stderr, as the target keeps them) since the last poll.
    pub output: Vec<u8>,
    /// New bytes of the command's metrics file since the last poll, for the supervisor to append
    /// to the run's `metrics.jsonl`; empty when the command writes that file directly.
    pub metrics: Vec<u8>,
    pub state: RemoteState,
}

pub trait Backend: Send {
    /// Starts the command; returns the target's handle for it (`pgid@host`, a Slurm job id),
    /// which the supervisor records on the job.
    fn launch(&mut self, spec: &LaunchSpec) -> Result<String>;
    /// Pulls what is new and the command's state.
    fn poll(&mut self) -> Result<Pulled>;
    /// Asks the command to stop: SIGTERM to its process group (or `scancel`), SIGKILL after
    /// `grace`. Returns at once; `poll` reports the end.
    fn cancel(&mut self, grace: Duration) -> Result<()>;
    /// How long to wait between polls.
    fn poll_interval(&self) -> Duration;
}

/// The backend for a remote target (`ssh`, `slurm`); `local` targets have none (the supervisor
/// runs their command itself).
pub fn for_target(target: &crate::jobs::targets::Target) -> Result<Box<dyn Backend>> {
    match target.config.kind {
        crate::config::TargetKind::Ssh => Ok(Box::new(crate::jobs::ssh::SshBackend::new(target)?)),
        crate::config::TargetKind::Slurm => {
            Ok(Box::new(crate::jobs::slurm::SlurmBackend::new(target)?))
        }
        _ => Err(crate::error::KirokuError::Invalid(format!(
            "target '{}': {:?} targets are not in this build yet",
            target.name, target.config.kind
        ))),
    }
}
