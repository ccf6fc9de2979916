//! Slurm jobs against a real single-node Slurm with two fake GPUs (`tests/infra/slurm.sh
//! start`, which `.ci/run` runs and which prints the `SLURM_CONF` to export): a GPU job waits
//! in PENDING while the GPUs are taken, runs, completes and saw its GPU; a failing job fails
//! with its code; a time limit ends in `timeout`; cancel ends in `killed`; output and metrics
//! arrive; arguments arrive byte for byte; a job outlives a controller restart; a login node
//! reached through ssh. The backend is first driven as the job supervisor drives it, then the
//! same goes end to end through `kiroku submit --target cluster`.
mod common;

use common::requires::require;
use common::sshd::require_sshd;
use common::Project;
use kiroku::config::{TargetConfig, TargetKind};
use kiroku::jobs::backend::{self, Backend, LaunchSpec, RemoteState};
use kiroku::jobs::targets::Target;
use kiroku::model::{Job, JobStatus};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::{RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

/// Tests share the cluster (read); the one that restarts its controller has it alone (write).
static CLUSTER: RwLock<()> = RwLock::new(());

/// Whether a Slurm controller answers `sinfo` (`SLURM_CONF` from `tests/infra/slurm.sh start`,
/// or the /etc/slurm/slurm.conf it links); skips loudly, or fails under CI, when none does.
fn slurm_answers() -> bool {
    // Without a slurm.conf, sinfo would spend a minute looking for one in DNS.
    let conf = std::env::var("SLURM_CONF").unwrap_or_else(|_| "/etc/slurm/slurm.conf".into());
    let answers = Path::new(&conf).exists()
        && std::process::Command::new("sinfo")
            .args(["-h", "-o", "%T"])
            .output()
            .is_ok_and(|o| o.status.success());
    require(
        answers,
        "a running single-node Slurm",
        "run tests/infra/slurm.sh start and export the SLURM_CONF it prints",
    )
}

/// Whether the cluster answers, with a share of it while the test runs.
fn slurm_running() -> Option<RwLockReadGuard<'static, ()>> {
    let shared = CLUSTER.read().unwrap_or_else(|e| e.into_inner());
    slurm_answers().then_some(shared)
}

fn target(time: Option<&str>) -> Target {
    Target {
        name: "cluster".into(),
        config: TargetConfig {
            kind: TargetKind::Slurm,
            gpus: None,
            max_parallel: None,
            host: None,
            workdir: None,
            setup: None,
            partition: Some("debug".into()),
            account: None,
            qos: None,
            time: time.map(String::from),
            ssh_host: None,
            ssh_options: Vec::new(),
        },
    }
}

/// A launched Slurm job, what came back from it so far, and its folders.
struct Launched {
    backend: Box<dyn Backend>,
    output: Vec<u8>,
    metrics: Vec<u8>,
    seen: Vec<RemoteState>,
    run_dir: PathBuf,
    workdir: tempfile::TempDir,
    _run: tempfile::TempDir,
}

fn launch(name: &str, gpus: u32, time: Option<&str>, command: &[&str]) -> Launched {
    launch_on(&target(time), name, gpus, command)
}

fn launch_on(target: &Target, name: &str, gpus: u32, command: &[&str]) -> Launched {
    launch_with_env(target, name, gpus, command, &[])
}

/// `launch_on` with `extra` in the job's environment.
fn launch_with_env(
    target: &Target,
    name: &str,
    gpus: u32,
    command: &[&str],
    extra: &[(&str, &str)],
) -> Launched {
    // Spaces in both folders: the script must quote them.
    let workdir = tempfile::Builder::new()
        .prefix("slurm work ")
        .tempdir()
        .unwrap();
    let run = tempfile::Builder::new()
        .prefix("slurm run ")
        .tempdir()
        .unwrap();
    let run_dir = run.path().join("r1");
    std::fs::create_dir(&run_dir).unwrap();
    let job = Job {
        id: 1,
        name: name.into(),
        experiment: "default".into(),
        target: "cluster".into(),
        command: command.iter().map(|s| s.to_string()).collect(),
        workdir: workdir.path().display().to_string(),
        env: Vec::new(),
        gpus,
        gpu_memory_mb: None,
        after: Vec::new(),
        params: Vec::new(),
        tags: Vec::new(),
        rerun_of: None,
        retry_of: None,
        time_limit_s: None,
        user: "tester".into(),
        host: "here".into(),
        status: JobStatus::Starting,
        reason: String::new(),
        assigned_gpus: Vec::new(),
        run_id: None,
        queued_at: 0,
        started_at: None,
        ended_at: None,
        exit_code: None,
        supervisor: None,
        handle: None,
        cancel_requested: false,
    };
    // Unique, as run ids are: a login node keeps each job's files under its run id.
    let run_id = format!(
        "r{}",
        run.path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .replace(' ', "-")
    );
    let mut backend = backend::for_target(target).unwrap();
    let id = backend
        .launch(&LaunchSpec {
            job: &job,
            run_id: &run_id,
            run_dir: &run_dir,
            env: [
                ("KIROKU_RUN_ID", "r1"),
                ("KIROKU_STORE", "/nowhere"),
                ("NOTE", "a,b 'c' $d"),
            ]
            .iter()
            .chain(extra)
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        })
        .unwrap();
    assert!(id.parse::<u64>().is_ok(), "handle {id}");
    Launched {
        backend,
        output: Vec::new(),
        metrics: Vec::new(),
        seen: Vec::new(),
        run_dir,
        workdir,
        _run: run,
    }
}

impl Launched {
    /// Polls (at the backend's pace) until `done` holds for the state; panics after `limit`.
    fn poll_until(&mut self, limit: Duration, done: impl Fn(&RemoteState) -> bool) -> RemoteState {
        let start = Instant::now();
        loop {
            let pulled = self.backend.poll().unwrap();
            self.output.extend(&pulled.output);
            self.metrics.extend(&pulled.metrics);
            if self.seen.last() != Some(&pulled.state) {
                self.seen.push(pulled.state.clone());
            }
            if done(&pulled.state) {
                return pulled.state;
            }
            assert!(
                !matches!(pulled.state, RemoteState::Ended { .. }),
                "ended early: {:?}\noutput: {}",
                self.seen,
                self.output_text()
            );
            assert!(
                start.elapsed() < limit,
                "no wanted state within {limit:?}; seen {:?}",
                self.seen
            );
            std::thread::sleep(self.backend.poll_interval());
        }
    }

    fn until_ended(&mut self, limit: Duration) -> RemoteState {
        self.poll_until(limit, |s| matches!(s, RemoteState::Ended { .. }))
    }

    fn output_text(&self) -> String {
        String::from_utf8_lossy(&self.output).into_owned()
    }

    fn touch(&self, name: &str) {
        std::fs::write(self.workdir.path().join(name), "").unwrap();
    }
}

impl Drop for Launched {
    /// A test that failed half-way leaves no job behind on the cluster.
    fn drop(&mut self) {
        if !matches!(self.seen.last(), Some(RemoteState::Ended { .. })) {
            let _ = self.backend.cancel(Duration::ZERO);
        }
    }
}

/// A shell line that waits until a file appears in the working directory.
fn wait_for(file: &str) -> String {
    format!("while [ ! -e {file} ]; do sleep 0.2; done")
}

fn ended(status: JobStatus, exit_code: Option<i32>, reason: &str) -> RemoteState {
    RemoteState::Ended {
        status,
        exit_code,
        reason: reason.into(),
    }
}

const MINUTE: Duration = Duration::from_secs(60);

#[test]
fn a_gpu_job_waits_for_its_gpu_runs_and_completes_with_its_output_and_metrics() {
    let Some(_cluster) = slurm_running() else {
        return;
    };
    // Both fake GPUs taken until the test says so.
    let mut holder = launch("holder", 2, None, &["sh", "-c", &wait_for("release")]);
    holder.poll_until(MINUTE, |s| *s == RemoteState::Running);
    let body = format!(
        "echo \"gpus=$CUDA_VISIBLE_DEVICES run=$KIROKU_RUN_ID note=$NOTE pwd=$(pwd)\"; \
         echo '{{\"loss\": 0.5, \"step\": 1}}' >> \"$KIROKU_METRICS_FILE\"; \
         echo oops >&2; {}; echo done",
        wait_for("go")
    );
    let mut job = launch("gpu one", 1, None, &["sh", "-c", &body]);
    // Right after sbatch the reason is Slurm's `None` until its scheduler looked at the job.
    let waiting = RemoteState::Pending {
        reason: "Resources".into(),
    };
    job.poll_until(MINUTE, |s| *s == waiting);
    holder.touch("release");
    assert_eq!(
        holder.until_ended(MINUTE),
        ended(JobStatus::Finished, Some(0), "exit code 0")
    );
    job.poll_until(MINUTE, |s| *s == RemoteState::Running);
    job.touch("go");
    assert_eq!(
        job.until_ended(MINUTE),
        ended(JobStatus::Finished, Some(0), "exit code 0")
    );
    let output = job.output_text();
    let workdir = job.workdir.path().canonicalize().unwrap();
    assert!(
        output.starts_with(&format!(
            "gpus=0 run=r1 note=a,b 'c' $d pwd={}\n",
            workdir.display()
        )) || output.starts_with("gpus=1 "),
        "{output}"
    );
    assert!(
        output.contains("oops\n") && output.ends_with("done\n"),
        "{output}"
    );
    // The job wrote the run's metrics file itself (it shares this filesystem).
    assert!(job.metrics.is_empty());
    let metrics = std::fs::read_to_string(job.run_dir.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics, "{\"loss\": 0.5, \"step\": 1}\n");
    let script = std::fs::read_to_string(job.run_dir.join("slurm-job.sh")).unwrap();
    assert!(script.contains("#SBATCH --gres=\"gpu:1\""), "{script}");
}

#[test]
fn a_failing_job_fails_with_its_code_and_arguments_arrive_byte_for_byte() {
    let Some(_cluster) = slurm_running() else {
        return;
    };
    let tricky = [
        "a b",
        "it's",
        "$HOME",
        ";",
        "`id`",
        "line\nbreak",
        "\"q\"",
        "",
        "\\",
    ];
    let mut command = vec!["sh", "-c", "printf '<%s>\\n' \"$@\"; exit 3", "sh"];
    command.extend(tricky);
    let mut job = launch("fails", 0, None, &command);
    assert_eq!(
        job.until_ended(MINUTE),
        ended(JobStatus::Failed, Some(3), "exit code 3 (NonZeroExitCode)")
    );
    let expected: String = tricky.iter().map(|w| format!("<{w}>\n")).collect();
    assert_eq!(job.output_text(), expected);
}

/// Both ways at once (each takes over a minute, and the tests run two at a time on small
/// machines): the backend and `kiroku submit` to a target with `time = "1"`.
#[test]
fn a_time_limit_ends_in_timeout_with_slurms_reason() {
    let Some(_cluster) = slurm_running() else {
        return;
    };
    // `time = "1"`: one minute; Slurm ends them within its next check (about 76 s here).
    let p = cluster_project();
    let submitted = submit(
        &p,
        &[
            "--target",
            "short",
            "--",
            "sh",
            "-c",
            "echo started; sleep 600",
        ],
    );
    let mut job = launch(
        "too long",
        0,
        Some("1"),
        &["sh", "-c", "echo started; sleep 600"],
    );
    job.poll_until(MINUTE, |s| *s == RemoteState::Running);
    let end = job.until_ended(Duration::from_secs(240));
    let RemoteState::Ended { status, reason, .. } = &end else {
        unreachable!()
    };
    assert_eq!(
        (*status, reason.as_str()),
        (JobStatus::Timeout, "TimeLimit")
    );
    let output = job.output_text();
    assert!(output.starts_with("started\n"), "{output}");
    assert!(output.contains("DUE TO TIME LIMIT"), "{output}");

    let job = ended_job(&p, &submitted, Duration::from_secs(120));
    assert_eq!(
        (job["status"].as_str(), job["reason"].as_str()),
        (Some("timeout"), Some("TimeLimit")),
        "{job:#}"
    );
    assert!(job_logs(&p, &submitted).starts_with("started\n"));
}

#[test]
fn cancel_ends_a_running_job_as_killed() {
    let Some(_cluster) = slurm_running() else {
        return;
    };
    let mut job = launch("cancelled", 0, None, &["sh", "-c", "echo up; sleep 600"]);
    job.poll_until(MINUTE, |s| *s == RemoteState::Running);
    let run_dir = job.run_dir.clone();
    job.poll_until(MINUTE, |_| !job_output_empty(&run_dir));
    job.backend.cancel(Duration::from_secs(5)).unwrap();
    let end = job.until_ended(MINUTE);
    let RemoteState::Ended { status, .. } = &end else {
        unreachable!()
    };
    assert_eq!(*status, JobStatus::Killed, "{end:?}");
    assert!(
        job.output_text().starts_with("up\n"),
        "{}",
        job.output_text()
    );
}

fn job_output_empty(run_dir: &Path) -> bool {
    std::fs::metadata(run_dir.join("slurm-output.log")).map_or(true, |m| m.len() == 0)
}

/// A job given a token to log back with (`KIROKU_JOB_TOKEN_FILE`, a 0600 file on the submitting
/// box, as `kiroku serve` gives its evaluations) finds its secret in a 0600 `token` beside the
/// job's other files (the run's folder here; `~/.kiroku/slurm/RUN_ID` through a login node,
/// sent on ssh's standard input), in no batch script, and the file is gone once the command
/// ended.
#[test]
fn a_job_token_is_a_private_file_beside_the_job_and_goes_when_it_ends() {
    let Some(_cluster) = slurm_running() else {
        return;
    };
    let here = tempfile::tempdir().unwrap();
    let local = here.path().join("9");
    let secret = "kik_fedcba9876543210fedcba9876543210";
    std::fs::write(&local, secret).unwrap();
    let body = "printf '%s\\n' \"$(cat \"$KIROKU_JOB_TOKEN_FILE\")\" \"$KIROKU_JOB_TOKEN_FILE\"; \
                stat -c %a \"$KIROKU_JOB_TOKEN_FILE\"";
    let mut targets = vec![target(None)];
    if let Some(sshd) = require_sshd() {
        let mut login = target(None);
        login.config.ssh_host = Some(sshd.host.clone());
        login.config.ssh_options = sshd.options();
        targets.push(login);
    }
    for target in &targets {
        let local = local.display().to_string();
        let mut job = launch_with_env(
            target,
            "token",
            0,
            &["sh", "-c", body],
            &[("KIROKU_JOB_TOKEN_FILE", &local)],
        );
        assert_eq!(
            job.until_ended(MINUTE),
            ended(JobStatus::Finished, Some(0), "exit code 0")
        );
        let output = job.output_text();
        let lines: Vec<&str> = output.lines().collect();
        assert_eq!(lines[0], secret, "{output}");
        assert!(
            lines[1].ends_with("/token") && lines[1] != local,
            "{output}"
        );
        assert_eq!(lines[2], "600", "{output}");
        let token = Path::new(lines[1]);
        assert!(
            !token.exists(),
            "the token's file goes when the command ends"
        );
        let script = std::fs::read_to_string(token.with_file_name("slurm-job.sh")).unwrap();
        assert!(
            !script.contains(secret),
            "not in the batch script: {script}"
        );
    }
}

#[test]
fn through_a_login_node_the_output_and_metrics_come_back_over_ssh() {
    let Some(_cluster) = slurm_running() else {
        return;
    };
    let Some(sshd) = require_sshd() else {
        return;
    };
    // The login node is this box through the test sshd; Slurm's tools there find the cluster
    // through /etc/slurm/slurm.conf (tests/infra/slurm.sh links it).
    let mut login = target(None);
    login.config.ssh_host = Some(sshd.host.clone());
    login.config.ssh_options = sshd.options();
    let body = "echo \"on the login node: $1\"; \
                printf '{\"acc\": 0.75}\\n' >> \"$KIROKU_METRICS_FILE\"; \
                case \"$KIROKU_METRICS_FILE\" in */.kiroku/slurm/*) echo remote-files;; esac; exit 4";
    let mut job = launch_on(&login, "via login", 0, &["sh", "-c", body, "sh", "it's $x"]);
    assert_eq!(
        job.until_ended(MINUTE),
        ended(JobStatus::Failed, Some(4), "exit code 4 (NonZeroExitCode)")
    );
    assert_eq!(
        job.output_text(),
        "on the login node: it's $x\nremote-files\n"
    );
    assert_eq!(String::from_utf8_lossy(&job.metrics), "{\"acc\": 0.75}\n");
    // Nothing was written into the run folder here: the job's files are on the login node.
    assert!(!job.run_dir.join("slurm-job.sh").exists());
}

#[test]
fn a_job_is_followed_again_after_a_controller_restart() {
    let _alone = CLUSTER.write().unwrap_or_else(|e| e.into_inner());
    if !slurm_answers() {
        return;
    }
    // The cluster of tests/infra/slurm.sh: its pid files are beside its slurm.conf.
    let conf = std::env::var("SLURM_CONF").unwrap_or_else(|_| "/etc/slurm/slurm.conf".into());
    let conf = std::fs::canonicalize(conf).unwrap();
    let pid_file = conf.parent().unwrap().join("run/slurmctld.pid");
    let mut job = launch(
        "outlives",
        0,
        None,
        &["sh", "-c", &format!("echo a; {}; echo b", wait_for("go"))],
    );
    job.poll_until(MINUTE, |s| *s == RemoteState::Running);
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: kill has no memory preconditions; the pid is the controller this cluster started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let start = Instant::now();
    while Path::new(&format!("/proc/{pid}")).exists() {
        assert!(start.elapsed() < MINUTE, "slurmctld {pid} did not stop");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Nobody answers (squeue gives up after its timeout): the poll says so, and polling on,
    // as the supervisor does, follows the job once the controller is back.
    let err = job.backend.poll().unwrap_err().to_string();
    assert!(
        err.contains("squeue") && err.contains("slurm controller"),
        "{err}"
    );
    let restarted = std::process::Command::new("/usr/sbin/slurmctld")
        .env("SLURM_CONF", &conf)
        .status()
        .unwrap();
    assert!(restarted.success());
    job.touch("go");
    assert_eq!(
        job.until_ended(MINUTE),
        ended(JobStatus::Finished, Some(0), "exit code 0")
    );
    assert_eq!(job.output_text(), "a\nb\n");
}

// End to end: `kiroku submit --target cluster`, the scheduler, the job's supervisor
// (`kiroku job-exec`) driving this backend, the job and its run in the store.

const CLUSTER_TOML: &str = "[targets.cluster]\nkind = \"slurm\"\npartition = \"debug\"\n\n\
                            [targets.short]\nkind = \"slurm\"\ntime = \"1\"\n";

fn cluster_project() -> Project {
    let p = Project::new();
    std::fs::write(p.path().join("kiroku.toml"), CLUSTER_TOML).unwrap();
    p
}

fn submit(p: &Project, args: &[&str]) -> String {
    let mut all = vec!["submit"];
    all.extend_from_slice(args);
    let id = p.ok(&all).trim().to_string();
    assert!(id.parse::<i64>().is_ok(), "a job id, got {id:?}");
    id
}

fn job_json(p: &Project, id: &str) -> Value {
    p.json(&["jobs", "show", id])["job"].clone()
}

/// Waits until job `id` satisfies `done`; returns it (panics after `limit`).
fn wait_job(p: &Project, id: &str, limit: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let job = job_json(p, id);
        if done(&job) {
            return job;
        }
        assert!(
            start.elapsed() < limit,
            "job {id} not as wanted within {limit:?}: {job:#}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The job's output as its run holds it.
fn job_logs(p: &Project, id: &str) -> String {
    let logs = p.json(&["jobs", "logs", id]);
    logs["text"]
        .as_str()
        .unwrap_or_else(|| panic!("{logs:#}"))
        .to_string()
}

fn status_is(job: &Value, status: &str) -> bool {
    job["status"] == status
}

fn ended_job(p: &Project, id: &str, limit: Duration) -> Value {
    wait_job(p, id, limit, |j| {
        !["queued", "starting", "running"].contains(&j["status"].as_str().unwrap_or(""))
    })
}

#[test]
fn submitted_to_the_cluster_a_gpu_job_waits_runs_and_its_run_holds_output_and_metrics() {
    let Some(_cluster) = slurm_running() else {
        return;
    };
    let p = cluster_project();
    let holder = submit(
        &p,
        &[
            "--target",
            "cluster",
            "--gpus",
            "2",
            "--name",
            "holder",
            "--",
            "sh",
            "-c",
            &wait_for("release"),
        ],
    );
    wait_job(&p, &holder, MINUTE, |j| {
        status_is(j, "running") && j["reason"] == ""
    });
    let body = format!(
        "echo \"gpus=$CUDA_VISIBLE_DEVICES\"; echo 'loss: 0.25'; \
         echo '{{\"acc\": 0.5, \"step\": 3}}' >> \"$KIROKU_METRICS_FILE\"; {}; echo done",
        wait_for("go")
    );
    let id = submit(
        &p,
        &[
            "--target", "cluster", "--gpus", "1", "--name", "one gpu", "--", "sh", "-c", &body,
        ],
    );
    // Slurm holds it back for want of GPUs; the job says so in Slurm's words.
    let waiting = wait_job(&p, &id, MINUTE, |j| j["reason"] == "Resources");
    assert_eq!(waiting["status"], "running", "{waiting:#}");
    std::fs::write(p.path().join("release"), "").unwrap();
    let held = ended_job(&p, &holder, MINUTE);
    assert_eq!(
        (held["status"].as_str(), held["exit_code"].as_i64()),
        (Some("finished"), Some(0))
    );
    wait_job(&p, &id, MINUTE, |j| {
        j["reason"] == "" && status_is(j, "running")
    });
    std::fs::write(p.path().join("go"), "").unwrap();
    let job = ended_job(&p, &id, MINUTE);
    assert_eq!(
        (job["status"].as_str(), job["exit_code"].as_i64()),
        (Some("finished"), Some(0)),
        "{job:#}"
    );
    assert!(
        job["handle"]
            .as_str()
            .is_some_and(|h| h.parse::<u64>().is_ok()),
        "{job:#}"
    );
    let run_id = job["run_id"].as_str().unwrap().to_string();
    let logs = job_logs(&p, &id);
    assert!(
        logs.starts_with("gpus=0\n") || logs.starts_with("gpus=1\n"),
        "{logs}"
    );
    assert!(logs.ends_with("done\n"), "{logs}");
    let run = &p.json(&["show", &run_id])["run"];
    assert_eq!(run["status"], "finished", "{run:#}");
    assert_eq!(run["tags"]["kiroku.target"], "cluster", "{run:#}");
    assert_eq!(run["metrics"]["acc"]["last"], 0.5, "{run:#}");
    assert_eq!(run["metrics"]["loss"]["last"], 0.25, "{run:#}");
}

#[test]
fn submitted_to_the_cluster_a_failure_keeps_its_code_and_a_cancel_kills() {
    let Some(_cluster) = slurm_running() else {
        return;
    };
    let p = cluster_project();
    let fails = submit(
        &p,
        &[
            "--target",
            "cluster",
            "--",
            "sh",
            "-c",
            "echo failing; exit 3",
        ],
    );
    let cancelled = submit(
        &p,
        &[
            "--target",
            "cluster",
            "--",
            "sh",
            "-c",
            "echo up; sleep 600",
        ],
    );

    let job = ended_job(&p, &fails, MINUTE);
    assert_eq!(
        (job["status"].as_str(), job["exit_code"].as_i64()),
        (Some("failed"), Some(3)),
        "{job:#}"
    );
    assert!(
        job["reason"].as_str().unwrap().contains("exit code 3"),
        "{job:#}"
    );
    assert_eq!(job_logs(&p, &fails), "failing\n");

    wait_job(&p, &cancelled, MINUTE, |j| {
        status_is(j, "running") && j["reason"] == ""
    });
    let start = Instant::now();
    while !job_logs(&p, &cancelled).contains("up") {
        assert!(start.elapsed() < MINUTE, "no output from job {cancelled}");
        std::thread::sleep(Duration::from_millis(200));
    }
    p.ok(&["jobs", "cancel", &cancelled]);
    let job = ended_job(&p, &cancelled, MINUTE);
    assert_eq!(job["status"], "killed", "{job:#}");
}
