//! The job queue: jobs submitted to a target (the local box, a box over SSH, a Slurm cluster),
//! placed on GPUs, started, watched, cancelled, and found when their supervisor died.
//!
//! How the parts fit (each file says more):
//!
//! - The queue lives in the store (`store::JobStore`): `kiroku submit` only writes a `queued`
//!   job and makes sure this host's scheduler runs, then returns the job id.
//! - One **scheduler** per store and host (`scheduler`, the hidden `kiroku scheduler`; a store
//!   lease a dead holder cannot keep) decides what starts (`placement`, pure): dependencies
//!   (`after`), slots (`max_parallel`) and GPUs (`gpus`: discovery; a GPU is booked in the
//!   store, by the `queued` → `starting` compare-and-swap, before anything is launched). It
//!   wakes on change and sleeps when there is nothing to do.
//! - Each started job gets its own **supervisor** process, `kiroku job-exec ID`
//!   (`crate::wrap::job`), detached from any terminal: it creates the job's run, starts the
//!   command (locally in its own process group, or through a `backend::Backend` for ssh and
//!   slurm), captures its output and metrics into the run as `kiroku run` does, acts on cancel
//!   requests (SIGTERM to the group, SIGKILL after the grace period), and records how it ended.
//! - A job whose supervisor died is marked `lost` by anyone who looks (`lost`), by the same
//!   pid-and-start-time judgement as runs (`crate::process`).
//! - Targets come from `kiroku.toml` (`targets`).
pub mod backend;
pub mod cancel;
pub mod detach;
pub mod gpu_holders;
pub mod gpus;
pub mod job_processes;
pub mod job_token;
pub mod launcher;
pub mod lost;
pub mod placement;
pub mod preview;
pub mod remote_shell;
pub mod rerun;
pub mod scheduler;
pub mod slurm;
pub mod ssh;
pub mod submit;
pub mod submit_channel;
pub mod targets;
pub mod wake;
