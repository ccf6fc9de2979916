//! The UI in a real terminal: tmux runs `kiroku` over a demo store, the test types like a user
//! (filter, open a run, switch tabs, write a note, mark two runs, compare), reads the screen
//! with `capture-pane`, and checks with the headless commands that the note was stored. A
//! second test makes the UI panic (`KIROKU_DEV_PANIC=after-first-frame`) inside a plain shell
//! and checks that the prompt works again: the alternate screen left, `stty -a` cooked. A third
//! works the Jobs screen over real jobs (scheduler, supervisors): follows a running job's output,
//! cancels a queued and a running job through the confirm dialog, launches one from the form, and
//! reruns a job's run with an edited param from its overview. A fourth records a failing check
//! run with `kiroku check`, finds it waiting on the Checks screen, waives it with a reason (an
//! empty one refused) and sees it cleared, as `--require-checks` then agrees.
//! Needs tmux: in CI (`CI` set) a missing tmux fails the test; elsewhere it is skipped loudly.
mod common;

use common::requires::require_tool;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: String,
}

impl Tmux {
    fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("running tmux")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.cmd(&["capture-pane", "-p", "-t", "main"]).stdout)
            .into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.cmd(&["send-keys", "-t", "main", k]);
        }
    }

    fn type_text(&self, text: &str) {
        self.cmd(&["send-keys", "-t", "main", "-l", text]);
    }

    /// Waits until the screen shows `needle` (30 s at most: CI machines can be busy).
    fn wait_for(&self, needle: &str) -> String {
        self.wait_until(needle, true)
    }

    /// Waits until the screen no longer shows `needle`. An `Escape` must be seen to land
    /// before the next key goes: ESC and a key read together are Alt+key to a terminal app.
    fn wait_gone(&self, needle: &str) -> String {
        self.wait_until(needle, false)
    }

    fn wait_until(&self, needle: &str, present: bool) -> String {
        let started = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(needle) == present {
                return s;
            }
            if started.elapsed() > Duration::from_secs(30) {
                let what = if present {
                    "never showed"
                } else {
                    "kept showing"
                };
                panic!("the screen {what} {needle:?}; it shows:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Tmux {
    /// A detached `width`x`height` tmux session `main` (on its own server, `name`) running
    /// `command`.
    fn start(name: &str, width: u16, height: u16, command: &str) -> Tmux {
        let tmux = Tmux {
            socket: format!("kiroku-{name}-{}", std::process::id()),
        };
        let (w, h) = (width.to_string(), height.to_string());
        let out = tmux.cmd(&[
            "new-session",
            "-d",
            "-s",
            "main",
            "-x",
            &w,
            "-y",
            &h,
            command,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        tmux
    }

    /// Opens the UI over `store` in a 160x48 session, started in `cwd`, with its own (empty)
    /// user config and state under `home`.
    fn open(name: &str, home: &Path, store: &Path, cwd: &Path) -> Tmux {
        let command = format!(
            "cd {3} && env KIROKU_USER=tester XDG_STATE_HOME={0}/state XDG_CONFIG_HOME={0}/config {1} --store {2}",
            home.display(),
            env!("CARGO_BIN_EXE_kiroku"),
            store.display(),
            cwd.display()
        );
        Tmux::start(name, 160, 48, &command)
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

/// A scratch folder and the project path in it, when tmux is there to drive the UI (None:
/// skipped loudly, or failed under CI, by `require_tool`).
fn scratch() -> Option<(tempfile::TempDir, std::path::PathBuf)> {
    if !require_tool("tmux", &["-V"]) {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("proj");
    Some((dir, project))
}

/// A headless command over `store`, run in the folder holding it (a job's workdir).
fn kiroku(store: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_kiroku"))
        .arg("--store")
        .arg(store)
        .args(args)
        .current_dir(store.parent().unwrap())
        .env("KIROKU_USER", "tester")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_user_filters_opens_notes_marks_and_compares_in_a_real_terminal() {
    let Some((dir, project)) = scratch() else {
        return;
    };
    common::run_demo(&project, 8);
    let store = project.join(".kiroku");
    let tmux = Tmux::open("e2e", dir.path(), &store, &project);

    tmux.wait_for("breast-cancer-logreg");
    tmux.wait_for("7 runs");

    // Filter: results update as you type; an error shows a caret.
    tmux.keys(&["/"]);
    tmux.type_text("params.lr = 0.1 and");
    tmux.wait_for("expected a condition after 'and'");
    tmux.keys(&["BSpace", "BSpace", "BSpace", "BSpace"]);
    tmux.wait_for("2 matching");
    tmux.keys(&["Enter"]);
    let s = tmux.wait_for("(esc clears)");
    assert!(s.contains("lr0.1-s3") && s.contains("lr0.1-s4"), "{s}");
    assert!(!s.contains("lr0.5-s2"), "{s}");
    // Esc in the filter bar puts back the filter as it was before `/` (as k9s, less, vim).
    tmux.keys(&["/", "C-u"]);
    tmux.wait_for("7 runs");
    tmux.type_text("params.lr = 0.5");
    tmux.wait_for("lr0.5-s2");
    tmux.keys(&["Escape"]);
    let s = tmux.wait_gone("lr0.5-s2");
    assert!(s.contains("params.lr = 0.1   (esc clears)"), "{s}");
    assert!(s.contains("lr0.1-s3") && s.contains("lr0.1-s4"), "{s}");

    // Open the first match, look at its metrics and logs, write a note.
    tmux.keys(&["Enter"]);
    tmux.wait_for("Overview");
    tmux.keys(&["Tab", "Tab"]);
    tmux.wait_for("smoothing");
    tmux.keys(&["Tab"]);
    tmux.wait_for("epoch 1/8 ");
    tmux.keys(&["n"]);
    tmux.wait_for("ctrl-s saves");
    tmux.type_text("written in tmux");
    tmux.keys(&["Enter"]);
    tmux.type_text("second line");
    tmux.keys(&["C-s"]);
    tmux.wait_for("saved on");

    // Back to the table (the filter still applied), Esc clears it; mark two runs, compare.
    tmux.keys(&["Escape"]);
    tmux.wait_for("(esc clears)");
    tmux.keys(&["Escape"]);
    tmux.wait_for("7 runs");
    tmux.wait_gone("(esc clears)");
    tmux.keys(&["Space", "Space"]);
    tmux.wait_for("2 marked");
    tmux.keys(&["c"]);
    let s = tmux.wait_for("Compare 2 runs");
    assert!(s.contains("Metrics (last"), "{s}");

    // Quit: the terminal is given back and the process ends.
    tmux.keys(&["q"]);
    let started = Instant::now();
    while tmux.cmd(&["has-session", "-t", "main"]).status.success() {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "kiroku did not quit"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // The note is in the store, as the headless commands see it.
    let page: serde_json::Value = serde_json::from_str(&kiroku(
        &store,
        &[
            "runs",
            "ls",
            "--filter",
            "params.lr = 0.1",
            "--format",
            "json",
        ],
    ))
    .unwrap();
    let mut bodies = Vec::new();
    for run in page["runs"].as_array().unwrap() {
        let id = run["id"].as_str().unwrap();
        let notes: serde_json::Value =
            serde_json::from_str(&kiroku(&store, &["note", "ls", id, "--format", "json"])).unwrap();
        for n in notes["notes"].as_array().unwrap() {
            bodies.push((n["body"].as_str().unwrap().to_string(), n["author"].clone()));
        }
    }
    assert!(
        bodies
            .iter()
            .any(|(b, a)| b == "written in tmux\nsecond line" && a == "tester"),
        "{bodies:?}"
    );
}

/// On a terminal `kiroku demo` shows a progress bar while its trainings run (piped, it prints
/// plain lines: `tests/demo.rs`).
#[test]
fn the_demo_shows_progress_on_a_terminal() {
    let Some((dir, project)) = scratch() else {
        return;
    };
    let command = format!(
        "env KIROKU_USER=tester {} demo {} --no-ui --epochs 30; sleep 30",
        env!("CARGO_BIN_EXE_kiroku"),
        project.display()
    );
    let tmux = Tmux::start("progress", 120, 30, &command);
    let s = tmux.wait_for("training [");
    assert!(s.contains("/7"), "{s}");
    // Finished lines print above the bar; at the end the bar is cleared.
    let s = tmux.wait_for("Look at it:");
    assert!(s.contains("trained lr400-s1"), "{s}");
    assert!(!s.contains("training ["), "{s}");
    drop(dir);
}

/// A panic inside the UI gives the terminal back: the panic hook leaves the alternate screen
/// and raw mode before the message prints, so the shell prompt works again. The panic is the
/// developer trigger `KIROKU_DEV_PANIC=after-first-frame` (see `tui::event_loop::run`).
#[test]
fn a_panic_in_the_ui_gives_the_shell_back_a_usable_terminal() {
    if !require_tool("tmux", &["-V"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("proj");
    let out = Command::new(env!("CARGO_BIN_EXE_kiroku"))
        .args([
            "demo",
            project.to_str().unwrap(),
            "--no-ui",
            "--epochs",
            "2",
        ])
        .env("KIROKU_USER", "tester")
        .env_remove("KIROKU_STORE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = project.join(".kiroku");

    // A plain POSIX shell (no line editor that would reset the terminal modes itself).
    let tmux = Tmux::start("e2e-panic", 120, 40, "env PS1='ready$ ' sh");
    tmux.wait_for("ready$");
    tmux.type_text(&format!(
        "KIROKU_DEV_PANIC=after-first-frame KIROKU_USER=tester XDG_STATE_HOME={0}/state \
         XDG_CONFIG_HOME={0}/config {1} --store {2}; echo \"kiroku exit status: $?\"",
        dir.path().display(),
        env!("CARGO_BIN_EXE_kiroku"),
        store.display()
    ));
    tmux.keys(&["Enter"]);
    // 101 (unwinding) or 134 (abort): either way a failure status after the panic message.
    let s = tmux.wait_for("kiroku exit status: 1");
    assert!(s.contains("a deliberate panic"), "{s}");
    // The alternate screen is left: the panic message is on the shell's own screen.
    let alt = tmux.cmd(&["display-message", "-p", "-t", "main", "#{alternate_on}"]);
    assert_eq!(String::from_utf8_lossy(&alt.stdout).trim(), "0");
    // The prompt takes a typed command (with raw mode left on, Enter would not end the line).
    tmux.type_text("stty -a; echo stty-$((40 + 2))-done");
    tmux.keys(&["Enter"]);
    let s = tmux.wait_for("stty-42-done");
    // The typed command was echoed (echo on); what follows it is stty's report.
    let typed = "ready$ stty -a; echo stty-$((40 + 2))-done";
    let at = s
        .find(typed)
        .unwrap_or_else(|| panic!("the command was not echoed:\n{s}"));
    let report = &s[at + typed.len()..];
    let modes: Vec<&str> = report.split_whitespace().collect();
    for mode in ["icanon", "echo", "icrnl", "opost"] {
        assert!(modes.contains(&mode), "stty -a lacks {mode}:\n{report}");
        assert!(
            !modes.contains(&format!("-{mode}").as_str()),
            "stty -a shows -{mode}:\n{report}"
        );
    }
}

/// Cancels the store's unfinished jobs when dropped, so a failing test leaves no job running
/// (their supervisors outlive the test by design).
struct CancelJobsOnDrop(std::path::PathBuf);

impl Drop for CancelJobsOnDrop {
    fn drop(&mut self) {
        let run = |args: &[&str]| {
            Command::new(env!("CARGO_BIN_EXE_kiroku"))
                .arg("--store")
                .arg(&self.0)
                .args(args)
                .output()
        };
        let Ok(out) = run(&["jobs", "ls", "--format", "json"]) else {
            return;
        };
        let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        for job in listed["jobs"].as_array().into_iter().flatten() {
            if matches!(
                job["status"].as_str(),
                Some("queued" | "starting" | "running")
            ) {
                let _ = run(&["jobs", "cancel", &job["id"].to_string()]);
            }
        }
    }
}

/// Waits until `kiroku jobs show ID` says `status` (30 s at most).
fn wait_job_status(store: &Path, id: i64, status: &str) -> serde_json::Value {
    let started = Instant::now();
    loop {
        let out = kiroku(
            store,
            &["jobs", "show", &id.to_string(), "--format", "json"],
        );
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let job = v.get("job").unwrap_or(&v).clone();
        if job["status"] == status {
            return job;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "job {id} never became {status}: {job}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_user_follows_cancels_launches_and_reruns_jobs_in_a_real_terminal() {
    let Some((dir, project)) = scratch() else {
        return;
    };
    std::fs::create_dir_all(&project).unwrap();
    let store = project.join(".kiroku");
    kiroku(&store, &["init"]);
    let _cancel = CancelJobsOnDrop(store.clone());
    // A training that says each step, long enough to be watched and cancelled.
    std::fs::write(
        project.join("train.sh"),
        "echo \"args: $*\"\ni=0\nwhile [ $i -lt 600 ]; do echo \"step $i loss=0.$i\"; i=$((i+1)); sleep 0.1; done\n",
    )
    .unwrap();
    let submit = |args: &[&str]| -> i64 {
        let args: Vec<&str> = std::iter::once("submit")
            .chain(args.iter().copied())
            .collect();
        kiroku(&store, &args).trim().parse().unwrap()
    };
    let long = submit(&[
        "--name", "long", "--exp", "sweep", "--", "sh", "train.sh", "--lr", "0.1",
    ]);
    let after = submit(&[
        "--name",
        "after-long",
        "--after",
        &long.to_string(),
        "--",
        "true",
    ]);
    wait_job_status(&store, long, "running");

    let tmux = Tmux::open("e2e-jobs", dir.path(), &store, &project);
    tmux.wait_for("Runs");
    tmux.keys(&["J"]);
    tmux.wait_for("Jobs · all targets");
    tmux.wait_for("─ running (1)");
    tmux.wait_for(&format!("after job {long}"));
    // The GPU panel: this box's GPUs, or a clean "no GPUs".
    tmux.wait_for("GPUs ·");
    // The panel says "looking for GPUs…" until the discovery answers (slow on a busy machine).
    let s = tmux.wait_gone("looking for GPUs");
    assert!(s.contains("no GPUs") || s.contains(" on "), "{s}");
    // The running job's output follows as it grows.
    tmux.wait_for("(following)");
    tmux.wait_for("step 5 ");
    tmux.wait_for("step 15 ");

    // Cancel the queued job: the dialog names it; yes cancels it in the store.
    tmux.keys(&["j", "x"]);
    tmux.wait_for(&format!("Cancel job {after} (after-long)?"));
    tmux.keys(&["y"]);
    tmux.wait_for(&format!("cancelled job {after}"));
    wait_job_status(&store, after, "cancelled");

    // Cancel the running one: its supervisor stops it.
    tmux.keys(&["g", "x"]);
    tmux.wait_for(&format!("Cancel job {long} (long)?"));
    tmux.keys(&["y"]);
    wait_job_status(&store, long, "killed");
    tmux.wait_for("killed");

    // Launch a job from the form.
    tmux.keys(&["n"]);
    tmux.wait_for("Launch a job");
    tmux.type_text("echo launched-from-the-form");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&format!("✓ queued job {} (echo) on local", after + 1));
    wait_job_status(&store, after + 1, "finished");

    // Its run says which job and target started it; R reruns it with an edited param.
    let job = wait_job_status(&store, long, "killed");
    let run = job["run_id"].as_str().unwrap().to_string();
    // The oldest ended job is the last row.
    tmux.keys(&["G"]);
    tmux.wait_for(&format!("Log · job {long} long"));
    tmux.keys(&["Enter"]);
    tmux.wait_for("Overview");
    tmux.wait_for(&format!("job {long} on target local"));
    tmux.keys(&["R"]);
    tmux.wait_for(&format!("Rerun {} as a job", &run[..8]));
    tmux.wait_for("lr=0.1");
    tmux.keys(&["End"]);
    tmux.type_text("5");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&format!("✓ queued job {} (long)", after + 2));
    let rerun = wait_job_status(&store, after + 2, "running");
    assert_eq!(rerun["rerun_of"], run.as_str());
    assert_eq!(
        rerun["command"],
        serde_json::json!(["sh", "train.sh", "--lr", "0.15"])
    );
    tmux.keys(&["q"]);
}

/// `kiroku ARGS` over `store` in `cwd`: exit code, stdout and stderr.
fn kiroku_status(store: &Path, cwd: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kiroku"))
        .arg("--store")
        .arg(store)
        .args(args)
        .current_dir(cwd)
        .env("KIROKU_USER", "tester")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_reviewer_waives_a_failed_check_from_the_checks_screen_and_the_cli_agrees() {
    let Some((dir, project)) = scratch() else {
        return;
    };
    std::fs::create_dir_all(&project).unwrap();
    let mut csv = String::from("user_id,age\n");
    for i in 0..30 {
        let age = if i == 17 { 131 } else { 20 + i };
        csv.push_str(&format!("u-{i:02},{age}\n"));
    }
    std::fs::write(project.join("train.csv"), csv).unwrap();
    std::fs::write(
        project.join("churn.toml"),
        "[suite]\nname = \"churn\"\nkey = [\"user_id\"]\n\n[[check]]\nid = \"age-range\"\ntype = \"between\"\ncolumn = \"age\"\nmin = 0\nmax = 120\n",
    )
    .unwrap();
    let store = project.join(".kiroku");
    let (code, _, err) = kiroku_status(&store, &project, &["init"]);
    assert_eq!(code, Some(0), "{err}");
    // A real failing check run, recorded by `kiroku check` (exit 1: a failure).
    let (code, _, err) = kiroku_status(
        &store,
        &project,
        &["check", "churn.toml", "--data", "train=train.csv"],
    );
    assert_eq!(code, Some(1), "{err}");
    // The data is not cleared: --require-checks refuses, naming the check.
    let (code, _, err) = kiroku_status(
        &store,
        &project,
        &["run", "--require-checks", "train", "--", "true"],
    );
    assert_ne!(code, Some(0));
    assert!(err.contains("age-range"), "{err}");

    let tmux = Tmux::open("e2e-checks", dir.path(), &store, &project);
    tmux.wait_for("live");
    tmux.keys(&["C"]);
    let s = tmux.wait_for("waiting for review (1)");
    assert!(s.contains("train@"), "{s}");
    tmux.keys(&["Enter"]);
    let s = tmux.wait_for("failing rows");
    assert!(
        s.contains("u-17") && s.contains("131"),
        "the failing row: {s}"
    );
    // The result's reviews load after the result itself ("reading reviews…" until then).
    tmux.wait_for("awaiting review");
    // A waiver needs a reason: an empty one is refused and the form stays.
    tmux.keys(&["w"]);
    tmux.wait_for("Waive 1/age-range");
    tmux.keys(&["Enter"]);
    tmux.wait_for("a waiver needs a reason");
    tmux.type_text("known outliers in the export");
    tmux.keys(&["Enter"]);
    // Then when it lapses: a span, read like `kiroku review --until`.
    tmux.wait_for("until?");
    tmux.type_text("30d");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Waive 1/age-range as tester until");
    tmux.keys(&["y"]);
    let s = tmux.wait_for("waived · tester");
    tmux.wait_for("0 waiting for review");
    assert!(!s.contains("waiting for review (1)"), "{s}");
    tmux.keys(&["q"]);

    // The CLI agrees: the data is cleared for --require-checks, and a run-wide review finds
    // nothing left waiting.
    let (code, _, err) = kiroku_status(
        &store,
        &project,
        &["run", "--require-checks", "train", "--", "true"],
    );
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = kiroku_status(&store, &project, &["review", "1", "--approve"]);
    assert_ne!(code, Some(0));
    assert!(err.contains("already reviewed"), "{err}");
}

#[test]
fn a_reviewer_approves_and_promotes_a_model_version_from_the_models_screen() {
    let Some((dir, project)) = scratch() else {
        return;
    };
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("kiroku.toml"),
        "[models.churn.aliases.production]\nrequire = [\"metrics.acc >= 0.9\"]\napprovals = 1\n",
    )
    .unwrap();
    let store = project.join(".kiroku");
    let run = |args: &[&str]| {
        let (code, out, err) = kiroku_status(&store, &project, args);
        assert_eq!(code, Some(0), "kiroku {args:?}: {err}");
        out
    };
    run(&["init"]);
    run(&["run", "--name", "good", "--", "sh", "-c", "echo acc: 0.95"]);
    run(&["model", "register", "good", "churn"]);

    let tmux = Tmux::open("e2e-models", dir.path(), &store, &project);
    tmux.wait_for("live");
    tmux.keys(&["M"]);
    tmux.wait_for("churn");
    tmux.keys(&["Enter"]);
    let s = tmux.wait_for("gate @production: blocked (1)");
    assert!(s.contains("0 of 1 approval"), "{s}");
    // Approve with a comment, confirmed.
    tmux.keys(&["a"]);
    tmux.wait_for("Approve churn/1");
    tmux.type_text("numbers check out");
    tmux.keys(&["Enter"]);
    tmux.wait_for("Approve churn/1 as tester?");
    tmux.keys(&["y"]);
    tmux.wait_for("gate @production: passed");
    // Promote: the alias, then the gate's verdict before confirming.
    tmux.keys(&["p"]);
    // The alias the gate is configured for is filled in.
    let s = tmux.wait_for("which alias?");
    assert!(s.contains("production"), "{s}");
    tmux.keys(&["Enter"]);
    let s = tmux.wait_for("Move churn@production to version 1?");
    assert!(
        s.contains("approvals >= 1  (1 of 1 approval (tester))"),
        "{s}"
    );
    assert!(!s.contains("FORCES"), "{s}");
    tmux.keys(&["y"]);
    tmux.wait_for("@production→1");
    tmux.keys(&["q"]);

    // The CLI agrees: production holds version 1, moved by tester, not forced.
    let history = run(&["model", "history", "churn", "--format", "json"]);
    let history: serde_json::Value = serde_json::from_str(&history).unwrap();
    let moves = history["result"].as_array().unwrap();
    assert_eq!(moves.len(), 1);
    assert_eq!(moves[0]["to_version"], 1);
    assert_eq!(moves[0]["user"], "tester");
    assert_eq!(moves[0]["forced"], false);
}

#[test]
fn a_user_sees_a_restored_stage_and_forces_it_from_the_pipelines_screen() {
    let Some((dir, project)) = scratch() else {
        return;
    };
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(
        project.join("dvc.yaml"),
        "stages:\n  make:\n    cmd: echo made from $(cat in.txt) > made.txt && echo making done\n    deps: [in.txt]\n    outs: [made.txt]\n  use:\n    cmd: cat made.txt > used.txt\n    deps: [made.txt]\n    outs: [used.txt]\n",
    )
    .unwrap();
    std::fs::write(project.join("in.txt"), "input").unwrap();
    let store = project.join(".kiroku");
    let (code, _, err) = kiroku_status(&store, &project, &["init"]);
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = kiroku_status(&store, &project, &["repro"]);
    assert_eq!(code, Some(0), "{err}");
    // make's output deleted: the next repro restores it from the run-cache.
    std::fs::remove_file(project.join("made.txt")).unwrap();
    let (code, _, err) = kiroku_status(&store, &project, &["repro"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("restored make from run"), "{err}");

    let tmux = Tmux::open("e2e-pipelines", dir.path(), &store, &project);
    tmux.wait_for("live");
    tmux.keys(&["P"]);
    // make (the first line) restored, with its run and where it came from, its output cached.
    let s = tmux.wait_for("from run ");
    assert!(s.contains("make  restored from cache"), "{s}");
    assert!(s.contains("made.txt · "), "{s}");
    assert!(s.contains("· cached"), "{s}");
    // The other stage ran: its run is finished, its log shown.
    tmux.keys(&["j"]);
    tmux.wait_for("used.txt · ");
    // Forcing make from here runs it: no longer restored, its log shows what it printed.
    tmux.keys(&["k"]);
    tmux.wait_for("from run ");
    tmux.keys(&["f"]);
    tmux.wait_for("make done");
    let s = tmux.wait_gone("restored from cache");
    assert!(s.contains("making done"), "{s}");
    tmux.keys(&["q"]);
    // The CLI agrees: make's newest run is a run, not a restore.
    let runs = kiroku(
        &store,
        &[
            "runs",
            "ls",
            "--format",
            "json",
            "--filter",
            "tags.`kiroku.pipeline.stage` = 'make'",
        ],
    );
    let runs: serde_json::Value = serde_json::from_str(&runs).unwrap();
    let restored = runs["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["tags"]["kiroku.pipeline.restored"] == "true")
        .count();
    assert_eq!(restored, 1, "{runs}");
    assert_eq!(runs["runs"].as_array().unwrap().len(), 3, "{runs}");
}

/// A store of four runs with what crowds a narrow table: long params the same in every run, a
/// param `lr` and a metric `lr` (the schedule), and the metrics a user sorts on.
fn crowded_store(dir: &Path) -> std::path::PathBuf {
    use kiroku::model::{KeyedPoint, NewRun};
    use kiroku::store::prelude::*;
    let path = dir.join(".kiroku");
    let store = kiroku::store::SqliteStore::open(&path, false).unwrap();
    for (i, lr) in ["0.1", "0.01", "0.001", "0.0001"].iter().enumerate() {
        let id = store
            .create_run(&NewRun {
                experiment: "sweep".into(),
                name: Some(format!("sweep-lr{lr}")),
                user: "alice".into(),
                status: Some(kiroku::model::RunStatus::Finished),
                start_time: Some(1_000_000_000_000 + i as i64 * 60_000),
                end_time: Some(1_000_000_000_000 + i as i64 * 60_000 + 30_000),
                params: vec![
                    ("lr".into(), lr.to_string()),
                    ("dataset".into(), "imagenet-1k-train-full".into()),
                    ("architecture".into(), "resnet50-wide".into()),
                    ("optimizer".into(), "adamw-decoupled".into()),
                    ("scheduler".into(), "cosine-with-warmup".into()),
                ],
                ..Default::default()
            })
            .unwrap()
            .id;
        let point = |key: &str, value: f64| KeyedPoint {
            key: key.into(),
            step: 1,
            timestamp: 1,
            value,
        };
        store
            .log_metrics(
                &id,
                &[
                    point("lr", 0.5 / (i + 1) as f64),
                    point("train/loss", 0.1 * (i + 1) as f64),
                    point("val/acc", 0.9 - 0.01 * i as f64),
                ],
            )
            .unwrap();
    }
    path
}

#[test]
fn runs_ls_in_a_narrow_terminal_keeps_the_sorted_metric_and_says_what_it_left_out() {
    let Some((dir, _)) = scratch() else {
        return;
    };
    let store = crowded_store(dir.path());
    let tmux = Tmux::start("e2e-runs-ls", 100, 30, "env PS1='ready$ ' sh");
    tmux.wait_for("ready$");
    tmux.type_text(&format!(
        "KIROKU_USER=tester {} --store {} runs ls --sort 'metrics.val/acc desc'; echo ls-done-$((1+1))",
        env!("CARGO_BIN_EXE_kiroku"),
        store.display()
    ));
    tmux.keys(&["Enter"]);
    let s = tmux.wait_for("ls-done-2");
    let table: Vec<&str> = s
        .lines()
        .skip_while(|l| !l.contains("NAME"))
        .take_while(|l| !l.contains("ls-done-2"))
        .collect();
    let header = table[0];
    // The sorted metric stays; the constant params go before anything else.
    assert!(header.contains("val/acc"), "{s}");
    for constant in ["dataset", "architecture", "optimizer", "scheduler"] {
        assert!(!header.contains(constant), "{constant} shown:\n{s}");
    }
    // The param lr and the metric lr are told apart.
    assert!(
        header.contains("params.lr") && header.contains("metrics.lr"),
        "{s}"
    );
    assert!(table.iter().all(|l| l.chars().count() <= 100), "{s}");
    let (note, names) = (table[table.len() - 2], table[table.len() - 1]);
    assert!(
        note.contains("6 more columns hidden") && note.contains("--columns"),
        "{s}"
    );
    assert!(
        names.starts_with("(hidden: USER, DUR, architecture, dataset"),
        "the note names them: {s}"
    );
    // Rows are in val/acc order, best first.
    assert!(table[1].contains("sweep-lr0.1 "), "{s}");
}
