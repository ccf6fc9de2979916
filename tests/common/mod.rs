//! Helpers shared by the integration tests: a temporary project and the real binary.
#![allow(dead_code)]
pub mod checks;
pub mod hook_receiver;
pub mod raw_http;
pub mod requires;
pub mod rng;
pub mod sshd;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `kiroku demo DIR --no-ui --epochs EPOCHS` as user `tester` on DIR's own store, asserts
/// it succeeded and returns what it printed.
pub fn run_demo(dir: &Path, epochs: u32) -> String {
    run_demo_output(dir, epochs).0
}

/// `run_demo`, with its stdout and stderr.
pub fn run_demo_output(dir: &Path, epochs: u32) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kiroku"))
        .args(["demo", dir.to_str().unwrap(), "--no-ui", "--epochs"])
        .arg(epochs.to_string())
        .env("KIROKU_USER", "tester")
        .env_remove("KIROKU_STORE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    (stdout, stderr)
}

pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    /// A new project folder with an initialised store.
    pub fn new() -> Project {
        let p = Project {
            dir: tempfile::tempdir().unwrap(),
        };
        let out = p.kiroku(&["init"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        p
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn store_dir(&self) -> PathBuf {
        self.path().join(".kiroku")
    }

    /// A `kiroku` command running in the project folder with a clean environment.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kiroku"));
        c.args(args)
            .current_dir(self.path())
            .env_remove("KIROKU_STORE")
            .env_remove("KIROKU_RUN_ID")
            .env("KIROKU_USER", "tester")
            // Times show in the reader's zone; tests read them in UTC unless they say otherwise.
            .env("TZ", "UTC")
            .env("XDG_CONFIG_HOME", self.path().join(".config"))
            .env("XDG_DATA_HOME", self.path().join(".data"));
        c
    }

    pub fn kiroku(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Runs and expects success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.kiroku(args);
        assert!(
            out.status.success(),
            "kiroku {args:?} failed ({:?}):\n{}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.extend(["--format", "json"]);
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    /// The queue as the store has it and the scheduler's and supervisors' own logs: what a
    /// job that never showed its effect needs to be understood.
    pub fn jobs_state(&self) -> String {
        let listed = self.kiroku(&["jobs", "ls", "--format", "json"]);
        let mut text = format!(
            "jobs: {}{}",
            String::from_utf8_lossy(&listed.stdout),
            String::from_utf8_lossy(&listed.stderr)
        );
        let logs = self.store_dir().join("scheduler");
        for entry in std::fs::read_dir(&logs).into_iter().flatten().flatten() {
            let content = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let tail = &content[content.len().saturating_sub(4000)..];
            text.push_str(&format!("\n== {}\n{tail}", entry.path().display()));
        }
        text
    }

    /// Writes an executable shell script in the project and returns its path.
    pub fn script(&self, name: &str, body: &str) -> String {
        let path = self.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.display().to_string()
    }
}

/// A `kiroku serve` child process on a free loopback port; killed when dropped.
pub struct Server {
    pub child: std::process::Child,
    pub url: String,
    /// What the server wrote to stderr so far (drained by a thread so it never blocks).
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Server {
    /// Starts `kiroku serve` for the project's store with extra arguments and waits until it
    /// listens. Returns the child's stderr text instead when it exits (a refused start).
    pub fn start(project: &Project, extra: &[&str]) -> Result<Server, String> {
        Server::start_with(project, extra, |_| {})
    }

    /// `start`, with a last say over the command (limits for the child, environment).
    pub fn start_with(
        project: &Project,
        extra: &[&str],
        adjust: impl FnOnce(&mut Command),
    ) -> Result<Server, String> {
        use std::io::{BufRead, BufReader, Read};
        let mut args = vec!["serve", "--bind", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut cmd = project.cmd(&args);
        adjust(&mut cmd);
        let mut child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Some(at) = line.find("http://").or_else(|| line.find("https://")) else {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            let _ = child.wait();
            return Err(err);
        };
        let url = line[at..].split_whitespace().next().unwrap().to_string();
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = std::sync::Arc::clone(&stderr);
        let mut pipe = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Ok(Server { child, url, stderr })
    }

    pub fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A python3 command with the MLflow client set up for tests: no telemetry, no retries (a 5xx
/// must fail at once rather than be retried for minutes).
pub fn python(script: &str) -> Command {
    let mut c = Command::new("python3");
    c.arg(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests")
            .join(script),
    )
    .env("MLFLOW_DISABLE_TELEMETRY", "true")
    .env("DO_NOT_TRACK", "true")
    .env("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    .env("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    .env_remove("MLFLOW_TRACKING_URI")
    .env_remove("MLFLOW_RUN_ID")
    .env_remove("MLFLOW_TRACKING_TOKEN");
    c
}

/// Runs a test script (`python(script)`) against a server and reads the one JSON line of
/// findings it prints last; fails with the script's stderr when it fails.
pub fn python_findings(script: &str, url: &str) -> serde_json::Value {
    last_json_line(script, python(script).arg(url).output().unwrap())
}

/// The JSON on the last line `script` printed; fails with its stderr when it failed.
fn last_json_line(script: &str, out: Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{script} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap()
}

/// Asserts that a finished command succeeded, showing its stderr otherwise.
pub fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits for `cond` (up to a minute, looking every 100 ms), failing with `what`.
pub fn wait_for(what: &str, cond: impl FnMut() -> bool) {
    wait_for_explained(what, cond, String::new)
}

/// `wait_for`, with what `explain` says then added to the failure (the state behind a timeout,
/// e.g. `Project::jobs_state`).
pub fn wait_for_explained(
    what: &str,
    mut cond: impl FnMut() -> bool,
    explain: impl FnOnce() -> String,
) {
    let start = std::time::Instant::now();
    while !cond() {
        if start.elapsed() >= std::time::Duration::from_secs(60) {
            panic!("timed out waiting for {what}\n{}", explain());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Runs a differential script (`python(script)` given the kiroku binary and a fresh work
/// folder) and reads the JSON tally it prints last; fails with the script's stderr when it fails.
pub fn differential_tally(script: &str, kiroku: &str) -> serde_json::Value {
    let work = tempfile::tempdir().unwrap();
    let out = python(script)
        .arg(kiroku)
        .arg(work.path())
        .output()
        .unwrap();
    last_json_line(script, out)
}
