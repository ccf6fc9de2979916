//! Jobs: commands queued to run on a target (the local box, a box over SSH, a Slurm cluster),
//! each becoming a run when it starts. Plain records; the queue's logic is in `crate::jobs`.
use super::{Millis, Supervisor};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The user every job's own token is made for starts with this (`job:eval model/3`): such a
/// token writes only into its job's run (`server::job_scope`; minted by `models::job_tokens`).
pub const JOB_TOKEN_USER_PREFIX: &str = "job:";

/// A job id: small, sequential per store, what users type (`kiroku jobs cancel 41`).
pub type JobId = i64;

/// A job's lifecycle state.
///
/// `queued` waits (for GPUs, a slot, or the jobs it runs after; `reason` says which), `starting`
/// has its resources booked and its supervisor being started, `running` has a run. It ends
/// `finished` (exit 0), `failed` (non-zero exit or could not start), `killed` (cancelled while it
/// ran), `cancelled` (cancelled, or a job it runs after did not succeed, before it started),
/// `timeout` (a time limit ended it) or `lost` (its supervisor died; nobody knows how it ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Starting,
    Running,
    Finished,
    Failed,
    Killed,
    Cancelled,
    Timeout,
    Lost,
}

impl JobStatus {
    pub const ALL: [JobStatus; 9] = [
        JobStatus::Queued,
        JobStatus::Starting,
        JobStatus::Running,
        JobStatus::Finished,
        JobStatus::Failed,
        JobStatus::Killed,
        JobStatus::Cancelled,
        JobStatus::Timeout,
        JobStatus::Lost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Starting => "starting",
            JobStatus::Running => "running",
            JobStatus::Finished => "finished",
            JobStatus::Failed => "failed",
            JobStatus::Killed => "killed",
            JobStatus::Cancelled => "cancelled",
            JobStatus::Timeout => "timeout",
            JobStatus::Lost => "lost",
        }
    }

    /// Whether the job has ended (nothing more will happen to it but a retry, which is a new job).
    pub fn is_terminal(self) -> bool {
        !matches!(
            self,
            JobStatus::Queued | JobStatus::Starting | JobStatus::Running
        )
    }

    /// Whether the job holds its resources (GPUs, a slot on its target).
    pub fn is_active(self) -> bool {
        matches!(self, JobStatus::Starting | JobStatus::Running)
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = JobStatus::ALL.iter().map(|s| s.as_str()).collect();
                format!(
                    "unknown job status '{s}' (expected one of {})",
                    names.join(", ")
                )
            })
    }
}

/// What `kiroku submit` (or `rerun`, a pipeline, the TUI's launch form) asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewJob {
    /// Shown in listings and given to the run; default: the command's program name.
    pub name: Option<String>,
    /// The experiment of the run the job becomes.
    pub experiment: String,
    /// The target's name (`local`, or a `[targets.NAME]` of `kiroku.toml`).
    pub target: String,
    /// The command and its arguments, exactly as given (never re-split or re-quoted).
    pub command: Vec<String>,
    /// The directory the command runs in: on the submitting box for `local` and `slurm`
    /// targets; ssh targets run in their `workdir`.
    pub workdir: String,
    /// Extra environment for the command (names and values, exactly as given).
    #[serde(default)]
    pub env: Vec<(String, String)>,
    /// GPUs the job needs (0: none).
    pub gpus: u32,
    /// With a memory budget in MiB, the job may share a GPU with other sharing jobs as long
    /// as the budgets fit in the GPU's memory; without one, its GPUs are its own.
    #[serde(default)]
    pub gpu_memory_mb: Option<u64>,
    /// Jobs that must finish successfully before this one starts.
    #[serde(default)]
    pub after: Vec<JobId>,
    /// Params the run will be given (`--param k=v`), besides those read from the command's flags.
    #[serde(default)]
    pub params: Vec<(String, String)>,
    /// Tags the run will be given.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// The run this job re-runs (`kiroku rerun`), linked from the new run.
    #[serde(default)]
    pub rerun_of: Option<String>,
    /// The job this one retries (`kiroku jobs retry`).
    #[serde(default)]
    pub retry_of: Option<JobId>,
    /// A time limit in seconds (Slurm's `--time`; local and ssh jobs are stopped at it too).
    #[serde(default)]
    pub time_limit_s: Option<u64>,
    /// Who submitted it.
    pub user: String,
    /// The host it was submitted from: a `local` job runs there, under that host's scheduler.
    pub host: String,
}

/// A job as the store holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: JobId,
    pub name: String,
    pub experiment: String,
    pub target: String,
    pub command: Vec<String>,
    pub workdir: String,
    #[serde(default)]
    pub env: Vec<(String, String)>,
    pub gpus: u32,
    #[serde(default)]
    pub gpu_memory_mb: Option<u64>,
    #[serde(default)]
    pub after: Vec<JobId>,
    #[serde(default)]
    pub params: Vec<(String, String)>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    #[serde(default)]
    pub rerun_of: Option<String>,
    #[serde(default)]
    pub retry_of: Option<JobId>,
    #[serde(default)]
    pub time_limit_s: Option<u64>,
    pub user: String,
    pub host: String,
    pub status: JobStatus,
    /// Why it waits (`waiting for 2 GPUs, 1 free`, `after job 41`) or how it ended
    /// (`exit code 3`, `cancelled by ana`, `job 41 failed`, Slurm's `TimeLimit`).
    pub reason: String,
    /// The GPU indexes booked for it on its target (empty until it starts, or when it needs none).
    #[serde(default)]
    pub assigned_gpus: Vec<u32>,
    /// The run it became, once it started.
    pub run_id: Option<String>,
    pub queued_at: Millis,
    pub started_at: Option<Millis>,
    pub ended_at: Option<Millis>,
    pub exit_code: Option<i32>,
    /// The process supervising it (`kiroku job-exec`), once started, so anyone on its host can
    /// tell whether it still lives (`crate::supervise`).
    #[serde(default)]
    pub supervisor: Option<Supervisor>,
    /// What the target calls it: a remote process group for ssh (`pgid@host`), a Slurm job id.
    #[serde(default)]
    pub handle: Option<String>,
    /// Someone asked to cancel it (the supervisor acts on it; a queued job is cancelled at once).
    #[serde(default)]
    pub cancel_requested: bool,
}

/// Which jobs `JobStore::jobs` lists. Empty fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobQuery {
    #[serde(default)]
    pub statuses: Vec<JobStatus>,
    #[serde(default)]
    pub target: Option<String>,
    /// Only jobs submitted from this host (a host's scheduler looks at its own `local` jobs).
    #[serde(default)]
    pub host: Option<String>,
    /// Newest first, at most this many (None: all).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// A change to a job's state, applied by `JobStore::update_job` only while the job's status is
/// one of `from` (a compare-and-swap: two schedulers, or a scheduler and a canceller, cannot
/// both move it). `None` fields are left as they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobUpdate {
    pub from: Vec<JobStatus>,
    pub status: Option<JobStatus>,
    pub reason: Option<String>,
    pub assigned_gpus: Option<Vec<u32>>,
    pub run_id: Option<String>,
    pub started_at: Option<Millis>,
    pub ended_at: Option<Millis>,
    pub exit_code: Option<i32>,
    pub supervisor: Option<Supervisor>,
    pub handle: Option<String>,
}

impl JobUpdate {
    /// An update that applies only while the job is in one of `from`.
    pub fn from(from: &[JobStatus]) -> JobUpdate {
        JobUpdate {
            from: from.to_vec(),
            ..Default::default()
        }
    }
}

/// A lease: who acts as a host's scheduler for a store, until when. A holder renews it while
/// it lives; a crashed holder's lease expires, and one whose process is seen dead (same host
/// and boot) is taken over at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub name: String,
    pub holder: Supervisor,
    pub expires_at: Millis,
}
