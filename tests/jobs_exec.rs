//! A job's life under its supervisor, with real processes and a real SQLite store: jobs are
//! put in the store and moved to `starting` through the store API (as the scheduler does),
//! then the real `kiroku job-exec ID` is started detached (own session, no terminal), as the
//! scheduler starts it. Covered: output, scalars and metrics-file points reach the run with the
//! booked `CUDA_VISIBLE_DEVICES`; a failing command fails the job with its code; cancel stops a
//! command that ignores SIGTERM, children included; a SIGKILLed supervisor's job is found lost
//! (and its run too); the time limit ends a job `timeout`. The loop that drives a remote
//! target's `Backend` is exercised with a small backend that runs a real detached process and
//! pulls its files, as the ssh backend does. (A SIGKILLed `kiroku run` found lost is covered
//! by `tests/durability.rs`.)
mod common;

use common::Project;
use kiroku::error::Result as KResult;
use kiroku::jobs::backend::{Backend, LaunchSpec, Pulled, RemoteState};
use kiroku::model::{now_ms, Job, JobId, JobStatus, JobUpdate, NewJob, RunStatus};
use kiroku::process;
use kiroku::store::prelude::*;
use kiroku::store::SqliteStore;
use kiroku::wrap::job::{supervise_job, Executor, JobExecOptions};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn open(p: &Project) -> Arc<SqliteStore> {
    Arc::new(SqliteStore::open(&p.store_dir(), false).unwrap())
}

/// Queues a job for `command` in the project and moves it to `starting` with `gpus` booked,
/// as the scheduler does before it starts the supervisor.
fn starting_job(
    store: &SqliteStore,
    p: &Project,
    command: &[&str],
    gpus: &[u32],
    time_limit_s: Option<u64>,
) -> JobId {
    let job = store
        .submit_job(&NewJob {
            name: Some("trainer".into()),
            experiment: "jobs".into(),
            target: "local".into(),
            command: command.iter().map(|s| s.to_string()).collect(),
            workdir: p.path().display().to_string(),
            env: vec![("JOB_NOTE".into(), "a b$c".into())],
            gpus: gpus.len() as u32,
            params: vec![("seed".into(), "7".into())],
            time_limit_s,
            user: "tester".into(),
            host: process::host_name().unwrap(),
            ..Default::default()
        })
        .unwrap();
    let update = JobUpdate {
        status: Some(JobStatus::Starting),
        assigned_gpus: Some(gpus.to_vec()),
        started_at: Some(now_ms()),
        ..JobUpdate::from(&[JobStatus::Queued])
    };
    store.update_job(job.id, &update).unwrap().unwrap();
    job.id
}

/// Starts `kiroku job-exec ID` detached, as the scheduler does: its own session, stdin from
/// /dev/null, output to a file in the project.
fn start_supervisor(p: &Project, id: JobId) -> Child {
    let log = std::fs::File::create(p.path().join(format!("job-exec-{id}.log"))).unwrap();
    let mut cmd = p.cmd(&[
        "--store",
        p.store_dir().to_str().unwrap(),
        "job-exec",
        &id.to_string(),
    ]);
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    cmd.spawn().unwrap()
}

fn wait_for_end(store: &SqliteStore, id: JobId, timeout: Duration) -> Job {
    let mut job = store.job(id).unwrap();
    wait_for(&format!("job {id} to end"), timeout, || {
        job = store.job(id).unwrap();
        job.status.is_terminal()
    });
    job
}

fn supervisor_log(p: &Project, id: JobId) -> String {
    std::fs::read_to_string(p.path().join(format!("job-exec-{id}.log"))).unwrap_or_default()
}

/// Whether a script has written a whole line to `file` (it exists from the moment the shell
/// opens it, before the echo writes).
fn holds_a_line(file: &Path) -> bool {
    std::fs::read_to_string(file).is_ok_and(|text| text.ends_with('\n'))
}

/// A process some script recorded in `file` (its pid), with its start time read now.
fn recorded_process(file: &Path) -> (u32, u64) {
    let pid: u32 = std::fs::read_to_string(file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (pid, process::start_ticks(pid).expect("the process runs"))
}

/// Whether that very process has ended (gone, a zombie, or its pid taken by another).
fn ended(&(pid, ticks): &(u32, u64)) -> bool {
    process::stat(pid).is_none_or(|s| s.exited() || s.start_ticks != ticks)
}

#[test]
fn a_job_runs_in_its_workdir_and_its_run_holds_output_scalars_metrics_and_its_gpus() {
    let p = Project::new();
    let script = p.script(
        "train.sh",
        r#"echo "gpus=$CUDA_VISIBLE_DEVICES order=$CUDA_DEVICE_ORDER note=$JOB_NOTE run=$KIROKU_RUN_ID"
echo "cwd=$(pwd)"
echo "epoch 1 loss=0.5"
echo "epoch 2 loss=0.25" >&2
printf '{"step": 1, "val/acc": 0.75}\n{"step": 2, "val/acc": 0.875}\n' >> "$KIROKU_METRICS_FILE"
read -r line && echo "stdin gave $line"
echo done
"#,
    );
    let store = open(&p);
    let id = starting_job(&store, &p, &[&script, "--lr", "0.1"], &[1, 3], None);
    let mut supervisor = start_supervisor(&p, id);
    let job = wait_for_end(&store, id, Duration::from_secs(30));
    assert!(
        supervisor.wait().unwrap().success(),
        "{}",
        supervisor_log(&p, id)
    );
    assert_eq!(
        job.status,
        JobStatus::Finished,
        "{}",
        supervisor_log(&p, id)
    );
    assert_eq!(
        (job.reason.as_str(), job.exit_code),
        ("exit code 0", Some(0))
    );
    assert!(job.started_at.is_some() && job.ended_at.is_some());
    let supervisor_record = job
        .supervisor
        .as_ref()
        .expect("the supervisor recorded itself");
    assert_eq!(supervisor_record.pid, supervisor.id());
    assert!(
        supervisor_record.child.is_some(),
        "the command was recorded"
    );

    let run_id = job.run_id.clone().expect("the job has a run");
    let run = store.run(&run_id).unwrap();
    assert_eq!(run.run.status, RunStatus::Finished);
    assert_eq!(run.run.name, "trainer");
    assert_eq!(run.run.user, "tester");
    let (tags, params) = (&run.run.tags, &run.run.params);
    assert_eq!(tags.get("kiroku.job"), Some(&id.to_string()));
    assert_eq!(tags.get("kiroku.target").map(String::as_str), Some("local"));
    assert_eq!(
        params.get("lr").map(String::as_str),
        Some("0.1"),
        "flags become params"
    );
    assert_eq!(
        params.get("seed").map(String::as_str),
        Some("7"),
        "the job's params too"
    );
    assert_eq!(
        run.environment
            .get("CUDA_VISIBLE_DEVICES")
            .map(String::as_str),
        Some("1,3")
    );

    let log = std::fs::read_to_string(Path::new(run.run_dir.as_ref().unwrap()).join("output.log"))
        .unwrap();
    assert!(
        log.contains(&format!(
            "gpus=1,3 order=PCI_BUS_ID note=a b$c run={run_id}"
        )),
        "{log}"
    );
    let workdir = p.path().canonicalize().unwrap();
    assert!(log.contains(&format!("cwd={}", workdir.display())), "{log}");
    assert!(
        log.contains("epoch 2 loss=0.25"),
        "stderr is captured too: {log}"
    );
    assert!(!log.contains("stdin gave"), "stdin is /dev/null: {log}");
    let metrics = &p.json(&["metrics", &run_id])["metrics"];
    assert_eq!(metrics["loss"]["count"], 2, "{metrics}");
    // One from each stream, in whichever order they arrived.
    assert_eq!(
        (
            metrics["loss"]["min"].clone(),
            metrics["loss"]["max"].clone()
        ),
        (0.25.into(), 0.5.into())
    );
    assert_eq!(metrics["val/acc"]["last"], 0.875);
}

#[test]
fn a_failing_or_missing_command_fails_the_job_with_its_code() {
    let p = Project::new();
    let store = open(&p);
    let failing = starting_job(&store, &p, &["sh", "-c", "echo trying; exit 3"], &[], None);
    let missing = starting_job(&store, &p, &["/no/such/program"], &[], None);
    let mut a = start_supervisor(&p, failing);
    let mut b = start_supervisor(&p, missing);
    let job = wait_for_end(&store, failing, Duration::from_secs(30));
    assert_eq!(
        (job.status, job.reason.as_str(), job.exit_code),
        (JobStatus::Failed, "exit code 3", Some(3))
    );
    let run = store.run(job.run_id.as_ref().unwrap()).unwrap();
    assert_eq!(
        (run.run.status, run.run.exit_code),
        (RunStatus::Failed, Some(3))
    );
    let job = wait_for_end(&store, missing, Duration::from_secs(30));
    assert_eq!((job.status, job.exit_code), (JobStatus::Failed, Some(127)));
    assert!(
        job.reason.contains("cannot start '/no/such/program'"),
        "{}",
        job.reason
    );
    a.wait().unwrap();
    b.wait().unwrap();
    // A job that is not starting is left alone.
    let again = start_supervisor(&p, failing).wait_with_output().unwrap();
    assert!(again.status.success());
    assert!(supervisor_log(&p, failing).contains("is not starting"));
}

/// The supervisor waits for signals it blocks; the command it starts must not inherit that
/// mask (a program started without a shell, which would not clear it, sees SIGTERM and SIGINT).
#[test]
fn a_command_starts_with_no_signal_blocked() {
    let p = Project::new();
    let store = open(&p);
    let id = starting_job(
        &store,
        &p,
        &["grep", "^SigBlk", "/proc/self/status"],
        &[],
        None,
    );
    start_supervisor(&p, id).wait().unwrap();
    let job = wait_for_end(&store, id, Duration::from_secs(30));
    assert_eq!(job.status, JobStatus::Finished, "{}", job.reason);
    let run = store.run(job.run_id.as_ref().unwrap()).unwrap();
    let log = std::fs::read_to_string(Path::new(run.run_dir.as_ref().unwrap()).join("output.log"))
        .unwrap();
    assert_eq!(log.trim(), "SigBlk:\t0000000000000000", "{log}");
}

#[test]
fn cancel_stops_a_command_that_ignores_sigterm_children_included() {
    let p = Project::new();
    std::fs::write(p.path().join("kiroku.toml"), "[jobs]\ncancel_grace_s = 1\n").unwrap();
    let script = p.script(
        "stubborn.sh",
        r#"trap 'echo got TERM' TERM
sh -c 'trap "" TERM; echo $$ > child.pid; while :; do sleep 0.1; done' &
echo $$ > leader.pid
while :; do sleep 0.1; done
"#,
    );
    let store = open(&p);
    let id = starting_job(&store, &p, &[&script], &[], None);
    let mut supervisor = start_supervisor(&p, id);
    let (leader_file, child_file) = (p.path().join("leader.pid"), p.path().join("child.pid"));
    wait_for("the command and its child", Duration::from_secs(30), || {
        holds_a_line(&leader_file) && holds_a_line(&child_file)
    });
    let (leader, child) = (
        recorded_process(&leader_file),
        recorded_process(&child_file),
    );
    let asked = Instant::now();
    let job = kiroku::jobs::cancel::cancel_job(store.as_ref(), id, "ana").unwrap();
    assert!(job.cancel_requested);
    let job = wait_for_end(&store, id, Duration::from_secs(30));
    assert_eq!(job.status, JobStatus::Killed, "{}", supervisor_log(&p, id));
    assert_eq!(job.reason, "cancelled by ana");
    assert!(ended(&leader), "the command is gone");
    assert!(ended(&child), "its child that ignored SIGTERM is gone too");
    assert!(
        asked.elapsed() < Duration::from_secs(15),
        "stopped after the 1 s grace, not at some later look: {:?}",
        asked.elapsed()
    );
    let run = store.run(job.run_id.as_ref().unwrap()).unwrap();
    assert_eq!(run.run.status, RunStatus::Killed);
    let log = std::fs::read_to_string(Path::new(run.run_dir.as_ref().unwrap()).join("output.log"))
        .unwrap();
    assert!(log.contains("got TERM"), "SIGTERM came first: {log}");
    assert!(supervisor.wait().unwrap().success());
}

#[test]
fn a_job_cancelled_while_starting_never_runs_its_command() {
    let p = Project::new();
    let store = open(&p);
    let id = starting_job(&store, &p, &["touch", "ran"], &[], None);
    let job = kiroku::jobs::cancel::cancel_job(store.as_ref(), id, "ana").unwrap();
    assert_eq!(
        (job.status, job.cancel_requested),
        (JobStatus::Starting, true)
    );
    start_supervisor(&p, id).wait().unwrap();
    let job = store.job(id).unwrap();
    assert_eq!(
        (job.status, job.reason.as_str()),
        (JobStatus::Killed, "cancelled by ana"),
        "{}",
        supervisor_log(&p, id)
    );
    assert!(!p.path().join("ran").exists(), "the command never started");
    let run = store.run(job.run_id.as_ref().unwrap()).unwrap();
    assert_eq!(run.run.status, RunStatus::Killed);
}

#[test]
fn a_sigkilled_supervisor_leaves_a_lost_job_and_a_lost_run_and_no_command() {
    let p = Project::new();
    let script = p.script(
        "ignores-term.sh",
        "trap '' TERM\necho $$ > leader.pid\nwhile :; do sleep 0.1; done\n",
    );
    let store = open(&p);
    let id = starting_job(&store, &p, &[&script], &[], None);
    let mut supervisor = start_supervisor(&p, id);
    let leader_file = p.path().join("leader.pid");
    wait_for("the command", Duration::from_secs(30), || {
        holds_a_line(&leader_file)
    });
    let leader = recorded_process(&leader_file);
    wait_for(
        "the command recorded on the job",
        Duration::from_secs(10),
        || {
            store
                .job(id)
                .unwrap()
                .supervisor
                .is_some_and(|s| s.child.is_some())
        },
    );
    assert!(kiroku::jobs::lost::recover_lost_jobs(store.as_ref())
        .unwrap()
        .is_empty());
    assert_eq!(
        store.job(id).unwrap().status,
        JobStatus::Running,
        "a live supervisor's job runs"
    );

    // SAFETY: kill with a pid we spawned.
    assert_eq!(
        unsafe { libc::kill(supervisor.id() as i32, libc::SIGKILL) },
        0
    );
    supervisor.wait().unwrap();
    let looked = Instant::now();
    let lost = kiroku::jobs::lost::recover_lost_jobs(store.as_ref()).unwrap();
    let runs = kiroku::supervise::recover_lost_runs(store.as_ref()).unwrap();
    assert!(
        looked.elapsed() < Duration::from_secs(5),
        "{:?}",
        looked.elapsed()
    );
    assert_eq!(lost, vec![id]);
    let job = store.job(id).unwrap();
    assert_eq!(job.status, JobStatus::Lost);
    assert_eq!(
        job.reason,
        format!("its supervisor (pid {}) died", supervisor.id())
    );
    assert!(
        ended(&leader),
        "the command that ignored SIGTERM was killed"
    );
    let run_id = job.run_id.unwrap();
    assert_eq!(runs, vec![run_id.clone()]);
    assert_eq!(store.run(&run_id).unwrap().run.status, RunStatus::Lost);
    assert!(
        kiroku::jobs::lost::recover_lost_jobs(store.as_ref())
            .unwrap()
            .is_empty(),
        "found once"
    );
}

#[test]
fn the_time_limit_ends_a_job_as_timeout() {
    let p = Project::new();
    std::fs::write(p.path().join("kiroku.toml"), "[jobs]\ncancel_grace_s = 1\n").unwrap();
    let store = open(&p);
    let id = starting_job(&store, &p, &["sleep", "60"], &[], Some(1));
    let started = Instant::now();
    let mut supervisor = start_supervisor(&p, id);
    let job = wait_for_end(&store, id, Duration::from_secs(30));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(job.status, JobStatus::Timeout, "{}", supervisor_log(&p, id));
    assert_eq!(job.reason, "time limit of 1s reached");
    let run = store.run(job.run_id.as_ref().unwrap()).unwrap();
    assert_eq!(run.run.status, RunStatus::Killed);
    supervisor.wait().unwrap();
}

/// A backend for the test: runs the command detached in its own process group in a folder of
/// its own ("the remote box"), with output and metrics in files there, and pulls what is new
/// from them at each poll, as the ssh backend does over ssh. Pending (reason `Resources`) until
/// a `release` file appears, as a Slurm job waits for resources.
struct FolderBackend {
    remote: PathBuf,
    child: Option<Child>,
    output_read: u64,
    metrics_read: u64,
}

impl FolderBackend {
    fn new(remote: &Path) -> Self {
        FolderBackend {
            remote: remote.to_path_buf(),
            child: None,
            output_read: 0,
            metrics_read: 0,
        }
    }

    fn pull(path: &Path, read: &mut u64) -> Vec<u8> {
        let all = std::fs::read(path).unwrap_or_default();
        let new = all.get(*read as usize..).unwrap_or_default().to_vec();
        *read += new.len() as u64;
        new
    }
}

impl Backend for FolderBackend {
    fn launch(&mut self, spec: &LaunchSpec) -> KResult<String> {
        let script = "while [ ! -e release ]; do sleep 0.05; done
sh -c \"$1\" > out.log 2>&1
echo $? > exit.tmp && mv exit.tmp exit_code";
        let child = Command::new("sh")
            .args(["-c", script, "sh", &spec.job.command.join(" ")])
            .current_dir(&self.remote)
            .envs(spec.env.iter().cloned())
            .env("KIROKU_METRICS_FILE", self.remote.join("metrics.jsonl"))
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| kiroku::error::KirokuError::io("starting the test command", e))?;
        let handle = format!("{}@test", child.id());
        self.child = Some(child);
        Ok(handle)
    }

    fn poll(&mut self) -> KResult<Pulled> {
        let exited = match &mut self.child {
            Some(child) => child.try_wait().unwrap(),
            None => None,
        };
        let state = match std::fs::read_to_string(self.remote.join("exit_code")) {
            // Killed before it could write its code (a cancel reaches the whole group).
            Err(_) if exited.is_some() => {
                use std::os::unix::process::ExitStatusExt;
                let signal = exited.and_then(|s| s.signal()).unwrap_or_default();
                RemoteState::Ended {
                    status: JobStatus::Killed,
                    exit_code: None,
                    reason: format!("killed by signal {signal}"),
                }
            }
            Ok(code) => {
                let code: i32 = code.trim().parse().unwrap();
                if let Some(child) = &mut self.child {
                    child.wait().unwrap();
                }
                let (status, reason) = match code {
                    0 => (JobStatus::Finished, "exit code 0".to_string()),
                    c if c > 128 => (JobStatus::Killed, format!("killed by signal {}", c - 128)),
                    c => (JobStatus::Failed, format!("exit code {c}")),
                };
                RemoteState::Ended {
                    status,
                    exit_code: Some(code),
                    reason,
                }
            }
            Err(_) if !self.remote.join("release").exists() => RemoteState::Pending {
                reason: "Resources".into(),
            },
            Err(_) => RemoteState::Running,
        };
        // After the state: an ended command has written all it will.
        let output = Self::pull(&self.remote.join("out.log"), &mut self.output_read);
        let metrics = Self::pull(&self.remote.join("metrics.jsonl"), &mut self.metrics_read);
        Ok(Pulled {
            output,
            metrics,
            state,
        })
    }

    fn cancel(&mut self, _grace: Duration) -> KResult<()> {
        if let Some(child) = &self.child {
            // The command's group, led by the child this backend has not reaped.
            // SAFETY: kill with a process group this backend started.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGTERM) };
        }
        Ok(())
    }

    fn poll_interval(&self) -> Duration {
        Duration::from_millis(100)
    }
}

/// Supervises job `id` through a `FolderBackend` on a thread of its own.
fn supervise_through_folder(
    p: &Project,
    store: &Arc<SqliteStore>,
    id: JobId,
    remote: &Path,
) -> std::thread::JoinHandle<Option<kiroku::wrap::job::JobOutcome>> {
    let opts = JobExecOptions {
        config: kiroku::config::Config::load(Some(p.path())).unwrap(),
        store_location: p.store_dir().display().to_string(),
    };
    let store: Arc<dyn kiroku::store::Store> = store.clone();
    let backend = Box::new(FolderBackend::new(remote));
    std::thread::spawn(move || supervise_job(store, id, &opts, Executor::Remote(backend)).unwrap())
}

#[test]
fn a_remote_job_is_followed_through_its_backend_from_pending_to_its_end() {
    let p = Project::new();
    let remote = tempfile::tempdir().unwrap();
    let store = open(&p);
    let command = r#"echo "run=$KIROKU_RUN_ID loss=0.5"; printf '{"step": 3, "acc": 0.5}\n' >> "$KIROKU_METRICS_FILE"; exit 4"#;
    let id = starting_job(&store, &p, &[command], &[], None);
    let supervisor = supervise_through_folder(&p, &store, id, remote.path());
    wait_for("the pending reason", Duration::from_secs(30), || {
        store.job(id).unwrap().reason == "Resources"
    });
    let job = store.job(id).unwrap();
    assert_eq!(job.status, JobStatus::Running);
    assert!(job.handle.as_deref().is_some_and(|h| h.ends_with("@test")));
    std::fs::write(remote.path().join("release"), "").unwrap();
    let outcome = supervisor.join().unwrap().expect("it was supervised");
    let job = store.job(id).unwrap();
    assert_eq!(
        (job.status, job.reason.as_str(), job.exit_code),
        (JobStatus::Failed, "exit code 4", Some(4))
    );
    assert_eq!(outcome.job, job);
    let run_id = job.run_id.unwrap();
    let run = store.run(&run_id).unwrap();
    assert_eq!(run.run.status, RunStatus::Failed);
    let log = std::fs::read_to_string(Path::new(run.run_dir.as_ref().unwrap()).join("output.log"))
        .unwrap();
    assert!(log.contains(&format!("run={run_id} loss=0.5")), "{log}");
    let metrics = &p.json(&["metrics", &run_id])["metrics"];
    assert_eq!(metrics["loss"]["last"], 0.5, "{metrics}");
    assert_eq!(
        metrics["acc"]["last"], 0.5,
        "the pulled metrics were ingested"
    );
}

#[test]
fn a_cancel_seen_only_in_the_store_stops_a_remote_job() {
    let p = Project::new();
    let remote = tempfile::tempdir().unwrap();
    std::fs::write(remote.path().join("release"), "").unwrap();
    let store = open(&p);
    let id = starting_job(
        &store,
        &p,
        &["echo started; while :; do sleep 0.1; done"],
        &[],
        None,
    );
    let supervisor = supervise_through_folder(&p, &store, id, remote.path());
    wait_for("the command's output", Duration::from_secs(30), || {
        std::fs::read_to_string(remote.path().join("out.log")).is_ok_and(|l| l.contains("started"))
    });
    // As a cancel from another machine through `kiroku serve` arrives: in the store only.
    store.request_cancel(id, "bob").unwrap();
    let outcome = supervisor.join().unwrap().expect("it was supervised");
    assert_eq!(outcome.job.status, JobStatus::Killed);
    assert!(
        outcome.job.reason.starts_with("cancelled"),
        "{}",
        outcome.job.reason
    );
    let run = store.run(outcome.job.run_id.as_ref().unwrap()).unwrap();
    assert_eq!(run.run.status, RunStatus::Killed);
}
