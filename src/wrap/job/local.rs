//! A job on a `local` target: its command runs on this box, in its job's workdir, in a
//! process group of its own (so that cancel reaches everything it started), with stdin from
//! `/dev/null` and its output captured into the run.
//!
//! The supervisor is a child subreaper (`PR_SET_CHILD_SUBREAPER`, set by `job_exec`): a
//! process of the command whose parent exits is reparented to it rather than to init, so it
//! can reap it and stop it too, even one that left the group with `setsid`. It reaps every
//! child itself (`waitpid(-1)`), which is why a local job needs a process of its own.
//!
//! The job is over when its first process has ended and nothing it started is left: what is
//! left after the first process ends on its own gets SIGTERM, then SIGKILL after the grace
//! period, as a cancelled command does, so a finished job holds no GPU.
use super::stop::{StopCause, StopWatch};
use super::{Ending, JobRun};
use crate::jobs::job_processes::ProcessGroup;
use crate::model::{ChildProcess, Job, JobStatus, JobUpdate, Supervisor};
use crate::process::{self, ProcStat, ProcessIdentity};
use crate::wrap::capture::{Capture, Echo};
use crate::wrap::spawn::{spawn, SpawnRequest};
use crate::wrap::{record_child, spawn_failure_code};
use std::ffi::{OsStr, OsString};
use std::path::Path;
use std::process::{ChildStderr, ChildStdout};
use std::time::{Duration, Instant};

/// How long the supervisor sleeps while the command runs, unless woken by a signal.
const IDLE_LOOK: Duration = Duration::from_secs(1);
/// How often it looks while it waits for stopped processes to be gone.
const STOPPING_LOOK: Duration = Duration::from_millis(50);

/// The job's command, started and not yet waited for.
pub(super) struct LocalCommand {
    /// Its first process, which leads its process group.
    pub(super) process: ChildProcess,
    stdout: Option<ChildStdout>,
    stderr: Option<ChildStderr>,
}

impl LocalCommand {
    /// Starts the job's command here with `env` added to this process's environment: in its
    /// job's workdir, in a process group of its own, stdin from `/dev/null`, its output piped.
    /// How it ended when it cannot start.
    pub(super) fn start(job: &Job, env: Vec<(&str, OsString)>) -> Result<LocalCommand, Ending> {
        let workdir = Path::new(&job.workdir);
        if !workdir.is_dir() {
            return Err(Ending::failed(
                format!("workdir {} is not a directory here", job.workdir),
                None,
            ));
        }
        let spawned = spawn(&SpawnRequest {
            program: OsStr::new(&job.command[0]),
            args: &job.command[1..],
            env,
            cwd: workdir,
        })
        .map_err(|e| {
            Ending::failed(
                format!("cannot start '{}': {e}", job.command[0]),
                Some(spawn_failure_code(&e)),
            )
        })?;
        Ok(LocalCommand {
            process: ChildProcess {
                pid: spawned.pid,
                // The child has not been reaped, so its pid cannot name another process yet.
                start_ticks: process::start_ticks(spawned.pid).unwrap_or_default(),
            },
            stdout: Some(ChildStdout::from(spawned.stdout)),
            stderr: Some(ChildStderr::from(spawned.stderr)),
        })
    }

    /// Captures its output and waits for it and what it started to end, stopping them when
    /// the watch says so.
    pub(super) fn supervise(
        mut self,
        run: &JobRun,
        capture: &mut Capture,
        watch: &mut StopWatch,
    ) -> Ending {
        if let Some(out) = self.stdout.take() {
            capture.pump(out, Echo::Nowhere);
        }
        if let Some(err) = self.stderr.take() {
            capture.pump(err, Echo::Nowhere);
        }
        let group = ProcessGroup::led_by(ProcessIdentity {
            pid: self.process.pid,
            start_ticks: self.process.start_ticks,
            ..run.me.clone()
        });
        supervise(&group, run.grace, watch)
    }

    /// Stops it at once (its run could not be recorded): SIGKILL to its group, and waits for
    /// its first process.
    pub(super) fn kill(self) {
        // SAFETY: kill and waitpid on the group and process this supervisor started and has not
        // reaped (its pid names no other process).
        unsafe {
            libc::kill(-(self.process.pid as libc::pid_t), libc::SIGKILL);
            libc::waitpid(self.process.pid as libc::pid_t, std::ptr::null_mut(), 0);
        }
    }
}

/// Runs the job's command here (its run created already): starts it, records it on the run
/// and the job, and supervises it to its end.
pub(super) fn run_local(
    run: &JobRun,
    capture: &mut Capture,
    watch: &mut StopWatch,
    env: Vec<(&str, OsString)>,
) -> Ending {
    let started = LocalCommand::start(&run.job, env);
    crate::jobs::launcher::command_started();
    match started {
        Ok(command) => {
            record_command(run, command.process.pid);
            command.supervise(run, capture, watch)
        }
        Err(ending) => ending,
    }
}

/// Records the command on the run (for the lost-run recovery) and on the job's supervisor
/// record (for the lost-job recovery, which kills its group), and the run's origin: all in one
/// transaction (one commit), once the command runs.
fn record_command(run: &JobRun, pid: u32) {
    let recorded = crate::store::together(run.store, || {
        let mut warnings = Vec::new();
        run.record_origin(&mut warnings);
        let Some(child) = record_child(run.store, &run.run_id, pid) else {
            return Ok(());
        };
        let Some(supervisor) = &run.supervisor else {
            return Ok(());
        };
        let update = JobUpdate {
            supervisor: Some(Supervisor {
                child: Some(child),
                ..supervisor.clone()
            }),
            ..JobUpdate::from(&[JobStatus::Running])
        };
        if let Err(e) = run.store.update_job(run.job.id, &update) {
            eprintln!("kiroku: could not record the command's process on the job: {e}");
        }
        Ok(())
    });
    if let Err(e) = recorded {
        eprintln!("kiroku: could not record the command's process: {e}");
    }
}

/// Stopping what is left of the command: SIGTERM once, SIGKILL from the end of the grace
/// period on (again at every look, for processes forked meanwhile).
struct Stopping {
    /// Why; None when the command ended by itself and only what it left is stopped.
    cause: Option<StopCause>,
    since: Instant,
    terminated: bool,
}

impl Stopping {
    fn new(cause: Option<StopCause>) -> Stopping {
        Stopping {
            cause,
            since: Instant::now(),
            terminated: false,
        }
    }

    fn act(&mut self, group: &ProcessGroup, left: &[ProcStat], grace: Duration) {
        if !self.terminated {
            signal_all(group, left, libc::SIGTERM);
            self.terminated = true;
        } else if self.since.elapsed() >= grace {
            signal_all(group, left, libc::SIGKILL);
        }
    }
}

/// Waits for the command and what it started to end, stopping them when the watch says so.
fn supervise(group: &ProcessGroup, grace: Duration, watch: &mut StopWatch) -> Ending {
    let mut leader_status = None;
    let mut stopping: Option<Stopping> = None;
    loop {
        reap_children(group.id(), &mut leader_status);
        if leader_status.is_some() || stopping.is_some() {
            let left = leftovers(group);
            if leader_status.is_some() && left.is_empty() {
                break;
            }
            let stopping = stopping.get_or_insert_with(|| Stopping::new(None));
            stopping.act(group, &left, grace);
        }
        let look = if stopping.is_some() {
            STOPPING_LOOK
        } else {
            IDLE_LOOK
        };
        if let Some(cause) = watch.wait(look) {
            // The first cause counts; once the command ended by itself, none does.
            if stopping.is_none() {
                stopping = Some(Stopping::new(Some(cause)));
            }
        }
    }
    let status = leader_status.unwrap_or_default();
    let exit_code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    match stopping.and_then(|s| s.cause) {
        Some(cause) => Ending::stopped(&cause, exit_code),
        None if libc::WIFSIGNALED(status) => Ending {
            status: JobStatus::Killed,
            reason: format!("killed by signal {}", libc::WTERMSIG(status)),
            exit_code: None,
        },
        None => Ending::exited(exit_code.unwrap_or(1)),
    }
}

/// Reaps every child that has ended (the command's first process, and orphans of the command
/// handed to this subreaper), noting the first process's wait status.
fn reap_children(leader: u32, leader_status: &mut Option<libc::c_int>) {
    loop {
        let mut status = 0;
        // SAFETY: waitpid with a valid status pointer; WNOHANG never blocks.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return;
        }
        if pid as u32 == leader {
            *leader_status = Some(status);
        }
    }
}

/// The processes of the command still running: its group, and this supervisor's children
/// (orphans that left the group, reparented here).
fn leftovers(group: &ProcessGroup) -> Vec<ProcStat> {
    let me = std::process::id();
    let mut left = group.members();
    if !has_children() {
        return left;
    }
    for p in process::all_processes() {
        if p.parent == me && !p.exited() && !left.iter().any(|m| m.pid == p.pid) {
            left.push(p);
        }
    }
    left
}

/// Whether this process has any child (running or not yet reaped); when not, no scan of every
/// process is needed to find them.
fn has_children() -> bool {
    // SAFETY: waitid with WNOWAIT only looks (reaps nothing); `info` is valid for the call.
    let rc = unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        libc::waitid(
            libc::P_ALL,
            0,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ECHILD)
}

/// Sends `signal` to the group and to the supervisor's own children outside it (unreaped
/// children: their pids cannot have been reused).
fn signal_all(group: &ProcessGroup, left: &[ProcStat], signal: libc::c_int) {
    group.signal(signal);
    let me = std::process::id();
    for p in left {
        if p.parent == me && p.process_group != group.id() {
            // SAFETY: kill takes a pid and a signal; no memory is involved.
            unsafe { libc::kill(p.pid as libc::pid_t, signal) };
        }
    }
}
