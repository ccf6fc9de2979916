//! The ssh backend against a real sshd on 127.0.0.1 (`tests/infra/sshd.sh`): jobs start
//! detached, their output and metrics come back as they are written, exit codes are kept, cancel
//! stops the whole process group (a child that ignores SIGTERM included), a runner that dies is
//! `lost`, and arguments and environment values arrive byte for byte.
//!
//! The "remote" box is this one, so a test can look at the job's files and processes directly.
mod common;

use common::sshd::{require_sshd, TestSshd};
use common::Project;
use kiroku::config::TargetKind;
use kiroku::jobs::backend::{for_target, Backend, LaunchSpec, Pulled, RemoteState};
use kiroku::jobs::remote_shell::Ssh;
use kiroku::jobs::targets::Target;
use kiroku::model::{Job, JobStatus};
use std::path::Path;
use std::time::{Duration, Instant};

fn ssh_target(sshd: &TestSshd, workdir: &Path, setup: Option<&str>) -> Target {
    let mut target = Target::builtin_local();
    target.name = "box".into();
    target.config.kind = TargetKind::Ssh;
    target.config.gpus = None;
    target.config.host = Some(sshd.host.clone());
    target.config.workdir = Some(workdir.display().to_string());
    target.config.setup = setup.map(str::to_string);
    target.config.ssh_options = sshd.options();
    target
}

fn job_of(command: &[&str]) -> Job {
    Job {
        id: 7,
        name: "test".into(),
        experiment: "default".into(),
        target: "box".into(),
        command: command.iter().map(|s| s.to_string()).collect(),
        workdir: String::new(),
        env: Vec::new(),
        gpus: 0,
        gpu_memory_mb: None,
        after: Vec::new(),
        params: Vec::new(),
        tags: Vec::new(),
        rerun_of: None,
        retry_of: None,
        time_limit_s: None,
        user: "ana".into(),
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
    }
}

/// A started job and everything pulled of it so far.
struct Started {
    backend: Box<dyn Backend>,
    handle: String,
    output: Vec<u8>,
    metrics: Vec<u8>,
    last: RemoteState,
}

impl Started {
    fn launch(target: &Target, job: &Job, run_id: &str, env: &[(&str, &str)]) -> Started {
        let mut backend = for_target(target).unwrap();
        let run_dir = tempfile::tempdir().unwrap();
        let spec = LaunchSpec {
            job,
            run_id,
            run_dir: run_dir.path(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        let handle = backend.launch(&spec).unwrap();
        Started {
            backend,
            handle,
            output: Vec::new(),
            metrics: Vec::new(),
            last: RemoteState::Running,
        }
    }

    fn poll(&mut self) -> &RemoteState {
        let Pulled {
            output,
            metrics,
            state,
        } = self.backend.poll().unwrap();
        self.output.extend(output);
        self.metrics.extend(metrics);
        self.last = state;
        &self.last
    }

    /// Polls until `done` holds (at most 30 s).
    fn poll_until(&mut self, what: &str, done: impl Fn(&Started) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            self.poll();
            if done(self) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "waited 30 s for {what}; state {:?}, output {:?}",
                self.last,
                String::from_utf8_lossy(&self.output)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn until_ended(&mut self) -> (JobStatus, Option<i32>, String) {
        self.poll_until("the end", |s| matches!(s.last, RemoteState::Ended { .. }));
        match &self.last {
            RemoteState::Ended {
                status,
                exit_code,
                reason,
            } => (*status, *exit_code, reason.clone()),
            _ => unreachable!(),
        }
    }

    fn pgid(&self) -> u32 {
        self.handle.split('@').next().unwrap().parse().unwrap()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Whether `pid` is a live process here (a zombie is not).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat[stat.rfind(')').unwrap() + 1..]
                .split_whitespace()
                .next();
            !matches!(state, Some("Z") | Some("X"))
        }
        Err(_) => false,
    }
}

/// Waits (at most 30 s) until `done` holds.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "waited 30 s for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The whole first line a process writes to `path`.
fn wait_for_line(path: &Path) -> String {
    let mut line = String::new();
    wait_until(&path.display().to_string(), || {
        line = std::fs::read_to_string(path).unwrap_or_default();
        line.ends_with('\n')
    });
    line
}

#[test]
fn output_and_metrics_arrive_while_the_job_runs_and_its_exit_code_is_kept() {
    let Some(sshd) = require_sshd() else { return };
    let workdir = tempfile::tempdir().unwrap();
    let target = ssh_target(&sshd, workdir.path(), None);
    let script = r#"echo "one $KIROKU_RUN_ID"
printf '{"step": 1, "loss": 0.5}\n' >> "$KIROKU_METRICS_FILE"
while [ ! -e go ]; do sleep 0.05; done
echo two >&2
printf '{"step": 2, "loss": 0.25}\n' >> "$KIROKU_METRICS_FILE"
exit 3"#;
    let mut job = Started::launch(&target, &job_of(&["sh", "-c", script]), "run-a1", &[]);
    assert!(
        job.handle.ends_with(&format!("@{}", sshd.host)),
        "{}",
        job.handle
    );
    job.poll_until("the first line and metric", |s| {
        text(&s.output).contains("one run-a1\n") && text(&s.metrics).contains("\"step\": 1")
    });
    assert_eq!(job.last, RemoteState::Running);
    assert!(!text(&job.output).contains("two"));

    std::fs::write(workdir.path().join("go"), "").unwrap();
    let (status, code, reason) = job.until_ended();
    assert_eq!((status, code), (JobStatus::Failed, Some(3)));
    assert_eq!(reason, "exit code 3");
    assert_eq!(text(&job.output), "one run-a1\ntwo\n");
    assert_eq!(
        text(&job.metrics),
        "{\"step\": 1, \"loss\": 0.5}\n{\"step\": 2, \"loss\": 0.25}\n"
    );
    // The job's files are in its folder under the workdir.
    let folder = workdir.path().join(".kiroku/jobs/run-a1");
    assert_eq!(
        std::fs::read_to_string(folder.join("exit_code")).unwrap(),
        "3\n"
    );
    // Nothing more arrives after the end.
    let again = job.backend.poll().unwrap();
    assert!(again.output.is_empty() && again.metrics.is_empty());
}

#[test]
fn a_job_that_exits_zero_finishes_and_setup_runs_first_in_the_workdir() {
    let Some(sshd) = require_sshd() else { return };
    let workdir = tempfile::tempdir().unwrap();
    let target = ssh_target(
        &sshd,
        workdir.path(),
        Some("export GREETING='from setup'; cd sub 2>/dev/null; true"),
    );
    let mut job = Started::launch(
        &target,
        &job_of(&["sh", "-c", "echo \"$GREETING\"; pwd; echo \"$MINE\""]),
        "run-b2",
        &[("MINE", "mine"), ("KIROKU_METRICS_FILE", "/local/path")],
    );
    let (status, code, _) = job.until_ended();
    assert_eq!((status, code), (JobStatus::Finished, Some(0)));
    let want = format!("from setup\n{}\nmine\n", workdir.path().display());
    assert_eq!(text(&job.output), want);
}

/// A job given a token to log back with (`KIROKU_JOB_TOKEN_FILE`, a 0600 file on the
/// submitting box, as `kiroku serve` gives its evaluations) finds it on the host: its secret in
/// the job folder's `token`, mode 0600, sent on ssh's standard input and on no command line;
/// the file is gone once the command ended.
#[test]
fn a_job_token_reaches_the_host_in_a_private_file_and_goes_with_the_job() {
    let Some(sshd) = require_sshd() else { return };
    let workdir = tempfile::tempdir().unwrap();
    let target = ssh_target(&sshd, workdir.path(), None);
    let here = tempfile::tempdir().unwrap();
    let local_token = here.path().join("17");
    let secret = "kik_0123456789abcdef0123456789abcdef";
    std::fs::write(&local_token, secret).unwrap();
    let mut job = Started::launch(
        &target,
        &job_of(&[
            "sh",
            "-c",
            "printf '%s\\n' \"$(cat \"$KIROKU_JOB_TOKEN_FILE\")\" \"$KIROKU_JOB_TOKEN_FILE\"; stat -c %a \"$KIROKU_JOB_TOKEN_FILE\"; ps -eo args",
        ]),
        "run-tok",
        &[("KIROKU_JOB_TOKEN_FILE", &local_token.display().to_string())],
    );
    let (status, code, _) = job.until_ended();
    assert_eq!((status, code), (JobStatus::Finished, Some(0)));
    let output = text(&job.output);
    let mut lines = output.lines();
    assert_eq!(lines.next(), Some(secret));
    let remote = workdir.path().join(".kiroku/jobs/run-tok/token");
    assert_eq!(lines.next(), Some(remote.display().to_string().as_str()));
    assert_eq!(lines.next(), Some("600"));
    // No process's command line carried it while the job ran (the listing's own line aside).
    assert!(
        lines.all(|l| !l.contains(secret)),
        "the secret on a command line: {output}"
    );
    assert!(
        !remote.exists(),
        "the token's file goes when the command ends"
    );
    let runner =
        std::fs::read_to_string(workdir.path().join(".kiroku/jobs/run-tok/run.sh")).unwrap();
    assert!(!runner.contains(secret), "not in the runner either");
}

#[test]
fn a_failing_setup_fails_the_job_with_its_reason() {
    let Some(sshd) = require_sshd() else { return };
    let workdir = tempfile::tempdir().unwrap();
    let target = ssh_target(&sshd, workdir.path(), Some("false"));
    let mut job = Started::launch(&target, &job_of(&["echo", "never"]), "run-c3", &[]);
    let (status, code, _) = job.until_ended();
    assert_eq!((status, code), (JobStatus::Failed, Some(1)));
    let output = text(&job.output);
    assert!(output.contains("setup failed (exit 1)"), "{output}");
    assert!(!output.contains("never"), "{output}");
}

#[test]
fn tricky_arguments_and_environment_values_arrive_byte_for_byte() {
    let Some(sshd) = require_sshd() else { return };
    let workdir = tempfile::tempdir().unwrap();
    let target = ssh_target(&sshd, workdir.path(), None);
    let tricky = [
        "plain",
        "two words",
        "it's",
        "\"double\"",
        "$HOME",
        "${PATH}",
        "$(touch pwned)",
        "`touch pwned2`",
        "a;touch pwned3",
        "line one\nline two",
        "*",
        "",
        "ünïcödé ✓ 日本",
        "--flag=a b",
        "back\\slash",
        "'",
        "~",
        "tab\tand|pipe&amp>redir<in",
        "!history #comment",
    ];
    let mut command = vec!["printf", "%s\\0"];
    command.extend(tricky);
    let env_value = "it's \"$HOME\" `x` ; \n end";
    let mut job = Started::launch(
        &target,
        &job_of(&command),
        "run-d4",
        &[("TRICKY", env_value)],
    );
    let (status, _, _) = job.until_ended();
    assert_eq!(status, JobStatus::Finished, "{}", text(&job.output));
    let mut words: Vec<String> = text(&job.output).split('\0').map(String::from).collect();
    assert_eq!(words.pop().as_deref(), Some(""));
    assert_eq!(words, tricky);
    for name in ["pwned", "pwned2", "pwned3"] {
        assert!(!workdir.path().join(name).exists(), "{name} was run");
    }

    let mut env_job = Started::launch(
        &target,
        &job_of(&["sh", "-c", "printf '%s' \"$TRICKY\""]),
        "run-d5",
        &[("TRICKY", env_value)],
    );
    env_job.until_ended();
    assert_eq!(text(&env_job.output), env_value);
}

#[test]
fn cancel_stops_the_process_group_including_a_child_that_ignores_sigterm() {
    let Some(sshd) = require_sshd() else { return };
    let workdir = tempfile::tempdir().unwrap();
    let target = ssh_target(&sshd, workdir.path(), None);
    // The command ignores SIGTERM, and so does its child (which inherits that).
    let script = "trap '' TERM; sleep 1000 & echo $! > child.pid; echo started; wait";
    let mut job = Started::launch(&target, &job_of(&["sh", "-c", script]), "run-e5", &[]);
    job.poll_until("the start", |s| text(&s.output).contains("started"));
    let child: u32 = wait_for_line(&workdir.path().join("child.pid"))
        .trim()
        .parse()
        .unwrap();
    let runner = job.pgid();
    assert!(alive(child) && alive(runner));

    job.backend.cancel(Duration::from_secs(1)).unwrap();
    let (status, code, _) = job.until_ended();
    assert_eq!(status, JobStatus::Killed);
    assert_eq!(code, Some(137), "SIGKILL after the grace period");
    wait_until("the child that ignores SIGTERM to end", || !alive(child));
}

#[test]
fn cancel_of_a_job_that_stops_on_sigterm_records_its_code() {
    let Some(sshd) = require_sshd() else { return };
    let workdir = tempfile::tempdir().unwrap();
    let target = ssh_target(&sshd, workdir.path(), None);
    let script = "trap 'echo got-term; exit 5' TERM; echo started; while :; do sleep 0.05; done";
    let mut job = Started::launch(&target, &job_of(&["sh", "-c", script]), "run-f6", &[]);
    job.poll_until("the start", |s| text(&s.output).contains("started"));
    job.backend.cancel(Duration::from_secs(30)).unwrap();
    let started = Instant::now();
    let (status, code, _) = job.until_ended();
    assert_eq!((status, code), (JobStatus::Killed, Some(5)));
    assert!(text(&job.output).contains("got-term"));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "it ended on SIGTERM, not at the grace period"
    );
}

#[test]
fn a_job_whose_runner_died_is_lost() {
    let Some(sshd) = require_sshd() else { return };
    let workdir = tempfile::tempdir().unwrap();
    let target = ssh_target(&sshd, workdir.path(), None);
    let mut job = Started::launch(
        &target,
        &job_of(&["sh", "-c", "echo started; sleep 1000"]),
        "run-g7",
        &[],
    );
    job.poll_until("the start", |s| text(&s.output).contains("started"));
    let pgid = job.pgid();
    // SAFETY: kill with a pid and a signal; the runner is our own test's process.
    unsafe { libc::kill(pgid as i32, libc::SIGKILL) };
    let (status, code, reason) = job.until_ended();
    assert_eq!((status, code), (JobStatus::Lost, None));
    assert!(reason.contains(&format!("pid {pgid}")), "{reason}");
    // SAFETY: as above; the group's remaining sleep.
    unsafe { libc::kill(-(pgid as i32), libc::SIGKILL) };
}

#[test]
fn an_unreachable_host_and_a_missing_workdir_are_clear_errors() {
    let Some(sshd) = require_sshd() else { return };
    let workdir = tempfile::tempdir().unwrap();
    let mut target = ssh_target(&sshd, workdir.path(), None);
    target
        .config
        .ssh_options
        .extend(["-o".to_string(), "Port=1".to_string()]);
    let mut backend = for_target(&target).unwrap();
    let job = job_of(&["true"]);
    let run_dir = tempfile::tempdir().unwrap();
    let spec = LaunchSpec {
        job: &job,
        run_id: "run-h8",
        run_dir: run_dir.path(),
        env: Vec::new(),
    };
    let err = backend.launch(&spec).unwrap_err().to_string();
    assert!(
        err.contains(&format!("ssh to '{}' failed", sshd.host)),
        "{err}"
    );
    assert!(err.contains("refused"), "{err}");

    let target = ssh_target(&sshd, &workdir.path().join("nowhere"), None);
    let mut backend = for_target(&target).unwrap();
    let err = backend.launch(&spec).unwrap_err().to_string();
    assert!(err.contains("target 'box'"), "{err}");
    assert!(err.contains("nowhere does not exist"), "{err}");
}

#[test]
fn the_ssh_runner_passes_input_keeps_exit_codes_and_names_a_refused_login() {
    let Some(sshd) = require_sshd() else { return };
    let ssh = Ssh::new(&sshd.host, &sshd.options()).unwrap();
    let out = ssh.run("echo to-err >&2; exit 4").unwrap();
    assert_eq!(out.code, Some(4));
    assert_eq!(out.stderr_line(), "to-err");
    let input: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    let out = ssh.run_with_input("cat; printf end", &input).unwrap();
    assert!(out.success());
    assert_eq!(&out.stdout[..input.len()], &input[..]);
    assert_eq!(&out.stdout[input.len()..], b"end");

    let mut options = sshd.options();
    options.extend(["-o".to_string(), "User=no-such-user".to_string()]);
    let err = Ssh::new(&sshd.host, &options)
        .unwrap()
        .run("true")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("ssh to '{}' failed", sshd.host)),
        "{err}"
    );
    assert!(err.contains("Permission denied"), "{err}");
}

#[test]
fn binary_output_larger_than_one_poll_arrives_whole_before_the_end() {
    let Some(sshd) = require_sshd() else { return };
    let workdir = tempfile::tempdir().unwrap();
    let target = ssh_target(&sshd, workdir.path(), None);
    // 9 MB of random bytes (newlines, NULs, anything) in one go: three polls' worth.
    let mut job = Started::launch(
        &target,
        &job_of(&["head", "-c", "9000000", "/dev/urandom"]),
        "run-i9",
        &[],
    );
    let (status, _, _) = job.until_ended();
    assert_eq!(status, JobStatus::Finished);
    let written = std::fs::read(workdir.path().join(".kiroku/jobs/run-i9/output.log")).unwrap();
    assert_eq!(written.len(), 9_000_000);
    assert!(
        job.output == written,
        "the pulled bytes differ from the written ones"
    );
}

#[test]
fn cancel_after_the_command_ended_by_itself_keeps_its_own_ending() {
    let Some(sshd) = require_sshd() else { return };
    let workdir = tempfile::tempdir().unwrap();
    let target = ssh_target(&sshd, workdir.path(), None);
    let mut job = Started::launch(&target, &job_of(&["true"]), "run-j10", &[]);
    let exit_file = workdir.path().join(".kiroku/jobs/run-j10/exit_code");
    wait_until("the exit code", || exit_file.exists());
    job.backend.cancel(Duration::from_secs(1)).unwrap();
    let (status, code, _) = job.until_ended();
    assert_eq!((status, code), (JobStatus::Finished, Some(0)));
}

/// A project whose `kiroku.toml` has the ssh target `box` on the test sshd, running in its own
/// folder (the "remote" workdir), which holds `train.py`.
fn project_with_ssh_target(sshd: &TestSshd) -> (Project, tempfile::TempDir) {
    let project = Project::new();
    let remote = tempfile::tempdir().unwrap();
    std::fs::write(
        project.path().join("kiroku.toml"),
        format!(
            "{}\n[jobs]\ncancel_grace_s = 2\n",
            sshd.target_toml("box", remote.path())
        ),
    )
    .unwrap();
    std::fs::write(
        remote.path().join("train.py"),
        r#"import json, os, signal, sys, time
print("args " + json.dumps(sys.argv[1:]), flush=True)
with open(os.environ["KIROKU_METRICS_FILE"], "a") as metrics:
    for step in range(1, 4):
        metrics.write(json.dumps({"step": step, "loss": 1.0 / step}) + "\n")
        metrics.flush()
        print(f"step {step}", flush=True)
        time.sleep(0.2)
if "--hang" in sys.argv:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("hanging", flush=True)
    time.sleep(1000)
"#,
    )
    .unwrap();
    (project, remote)
}

fn job_json(project: &Project, id: &str) -> serde_json::Value {
    project.json(&["jobs", "show", id])["job"].clone()
}

fn wait_for_status(project: &Project, id: &str, want: &[&str]) -> serde_json::Value {
    let mut job = serde_json::Value::Null;
    wait_until(&format!("job {id} to be {want:?}"), || {
        job = job_json(project, id);
        want.contains(&job["status"].as_str().unwrap_or(""))
    });
    job
}

#[test]
fn submit_to_an_ssh_target_follows_logs_brings_metrics_and_cancels() {
    let Some(sshd) = require_sshd() else { return };
    if !common::requires::require_tool("python3", &["--version"]) {
        return;
    }
    let (project, _remote) = project_with_ssh_target(&sshd);
    let tricky = ["it's $HOME", "a;b `c`", "line\nbreak", ""];
    let mut submit = vec![
        "submit", "--target", "box", "--", "python3", "train.py", "--lr", "0.1",
    ];
    submit.extend(tricky);
    let id = project.ok(&submit).trim().to_string();

    // `jobs logs -f` follows the job to its end.
    let follow = project.ok(&["jobs", "logs", "-f", &id]);
    let args: Vec<String> = serde_json::from_str(
        follow
            .lines()
            .find_map(|l| l.strip_prefix("args "))
            .unwrap_or_else(|| panic!("no args line in {follow:?}")),
    )
    .unwrap();
    let mut want = vec!["--lr", "0.1"];
    want.extend(tricky);
    assert_eq!(args, want);
    assert!(follow.contains("step 3"), "{follow}");

    let job = wait_for_status(&project, &id, &["finished", "failed", "killed", "lost"]);
    assert_eq!(job["status"], "finished", "{job}");
    assert_eq!(job["exit_code"], 0);
    assert!(job["handle"]
        .as_str()
        .unwrap()
        .ends_with(&format!("@{}", sshd.host)));
    let run = job["run_id"].as_str().unwrap().to_string();
    let loss = project.json(&["metrics", &run, "loss"]);
    let points = loss["points"].as_array().unwrap();
    assert_eq!(points.len(), 3, "{loss}");
    assert_eq!(points[2][0], 3);
    let shown = project.json(&["show", &run]);
    assert_eq!(shown["run"]["tags"]["kiroku.target"], "box", "{shown}");

    // Cancel: the job ignores SIGTERM, so it ends at the grace period, killed.
    let id = project
        .ok(&[
            "submit", "--target", "box", "--", "python3", "train.py", "--hang",
        ])
        .trim()
        .to_string();
    wait_until("the job to hang", || {
        // Until the job has a run, `jobs logs` says it has none.
        let logs = project.kiroku(&["jobs", "logs", &id]);
        String::from_utf8_lossy(&logs.stdout).contains("hanging")
    });
    project.ok(&["jobs", "cancel", &id]);
    let job = wait_for_status(&project, &id, &["killed", "finished", "failed", "lost"]);
    assert_eq!(job["status"], "killed", "{job}");
    assert!(
        job["reason"].as_str().unwrap().contains("cancelled by"),
        "{job}"
    );
    let pgid: u32 = job["handle"]
        .as_str()
        .unwrap()
        .split('@')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    wait_until("the remote process group to be gone", || {
        live_group_members(pgid).is_empty()
    });
}

/// The live (not zombie) processes of process group `pgid` here.
fn live_group_members(pgid: u32) -> Vec<u32> {
    let mut members = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..]
            .split_whitespace()
            .collect();
        // fields[0] is the state (field 3), fields[2] the process group (field 5).
        if fields[2] == pgid.to_string() && !matches!(fields[0], "Z" | "X") {
            members.push(pid);
        }
    }
    members
}
