//! The local job queue end to end, with the real binary and a real store: `kiroku submit`
//! starts this host's scheduler, which books GPUs of a fake inventory (`gpus = [0, 1]`,
//! `max_parallel = 2` in the project's kiroku.toml) and starts each job's supervisor detached.
//! Each job appends `start <ns> <CUDA_VISIBLE_DEVICES> <name>` and `end <ns> <name>` lines to a
//! shared file, from which the tests check what ran when and where.
mod common;

use common::requires::require_tool;
use common::Project;
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

const INVENTORY: &str = "[targets.local]\nkind = \"local\"\ngpus = [0, 1]\nmax_parallel = 2\n";

fn project() -> Project {
    let p = Project::new();
    std::fs::write(p.path().join("kiroku.toml"), INVENTORY).unwrap();
    p.script(
        "job.sh",
        "echo \"start $(date +%s%N) ${CUDA_VISIBLE_DEVICES-unset} $1\" >> events\n\
         sleep ${2:-0.3}\n\
         echo \"output of $1\"\n\
         echo \"end $(date +%s%N) $1\" >> events\n\
         exit ${3:-0}\n",
    );
    p
}

fn submit(p: &Project, args: &[&str]) -> i64 {
    let mut all = vec!["submit"];
    all.extend_from_slice(args);
    let out = p.ok(&all);
    out.trim()
        .parse()
        .unwrap_or_else(|_| panic!("a job id, got {out:?}"))
}

fn jobs(p: &Project) -> Vec<Value> {
    p.json(&["jobs", "ls"])["jobs"].as_array().unwrap().clone()
}

fn job(p: &Project, id: i64) -> Value {
    p.json(&["jobs", "show", &id.to_string()])["job"].clone()
}

/// Waits (up to 90 s: two shared cores) until every job has ended; returns them.
fn wait_all_ended(p: &Project) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let all = jobs(p);
        let active = ["queued", "starting", "running"];
        if all
            .iter()
            .all(|j| !active.contains(&j["status"].as_str().unwrap()))
        {
            return all;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "jobs did not end: {all:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ok() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "waited in vain for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One job's run as the `events` file shows it.
#[derive(Debug, Default)]
struct Span {
    start: u128,
    end: u128,
    devices: String,
}

fn spans(p: &Project) -> BTreeMap<String, Span> {
    let text = std::fs::read_to_string(p.path().join("events")).unwrap_or_default();
    let mut spans: BTreeMap<String, Span> = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        match f.as_slice() {
            ["start", t, devices, name] => {
                let s = spans.entry(name.to_string()).or_default();
                s.start = t.parse().unwrap();
                s.devices = devices.to_string();
            }
            ["end", t, name] => spans.entry(name.to_string()).or_default().end = t.parse().unwrap(),
            _ => panic!("unexpected line {line:?}"),
        }
    }
    spans
}

/// The processes whose command line holds `needle` (the scheduler of one test's store).
fn processes_with(needle: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    let c = String::from_utf8_lossy(&c).replace('\0', " ");
                    c.contains(needle)
                })
                .unwrap_or(false)
        })
        .filter(|pid| {
            // Not zombies.
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| !s[s.rfind(')').unwrap() + 1..].trim_start().starts_with('Z'))
                .unwrap_or(false)
        })
        .collect()
}

fn scheduler_processes(p: &Project) -> Vec<u32> {
    processes_with(&format!("{} scheduler", p.store_dir().display()))
}

#[test]
fn twelve_jobs_on_two_gpus_never_overlap_a_gpu_and_all_finish() {
    let p = project();
    let ids: Vec<i64> = (0..12)
        .map(|i| {
            let name = format!("j{i}");
            submit(
                &p,
                &["--gpus", "1", "--name", &name, "--", "./job.sh", &name],
            )
        })
        .collect();
    assert_eq!(ids.len(), 12);
    let all = wait_all_ended(&p);
    for j in &all {
        assert_eq!(j["status"], "finished", "{j:#}");
        assert_eq!(j["gpus"], 1);
        assert_eq!(j["assigned_gpus"].as_array().unwrap().len(), 1, "{j:#}");
        let run = j["run_id"].as_str().expect("a run");
        let shown = p.json(&["show", run]);
        assert_eq!(shown["run"]["status"], "finished", "{shown:#}");
        assert_eq!(shown["run"]["tags"]["kiroku.job"], j["id"].to_string());
    }
    let spans = spans(&p);
    assert_eq!(spans.len(), 12, "{spans:#?}");
    let list: Vec<(&String, &Span)> = spans.iter().collect();
    for (name, s) in &list {
        assert!(
            ["0", "1"].contains(&s.devices.as_str()),
            "{name} saw {:?}",
            s.devices
        );
        assert!(s.end > s.start, "{name}: {s:?}");
    }
    // At every start, at most one other job runs, and never on the same GPU.
    for (name, s) in &list {
        let overlapping: Vec<_> = list
            .iter()
            .filter(|(other, o)| other != name && o.start <= s.start && s.start < o.end)
            .collect();
        assert!(
            overlapping.len() <= 1,
            "{name} started while {overlapping:?} ran"
        );
        for (other, o) in overlapping {
            assert_ne!(
                o.devices, s.devices,
                "{name} and {other} shared GPU {}",
                s.devices
            );
        }
    }
    // Each job saw the GPU it was booked on.
    for j in &all {
        let name = j["name"].as_str().unwrap();
        assert_eq!(j["assigned_gpus"][0].to_string(), spans[name].devices);
    }
    // An idle queue leaves no scheduler behind.
    wait_until("the idle scheduler to exit", || {
        scheduler_processes(&p).is_empty()
    });
}

#[test]
fn jobs_run_after_their_parents_succeed_and_are_cancelled_when_one_did_not() {
    let p = project();
    let ok = submit(&p, &["--name", "ok", "--", "./job.sh", "ok", "0.5"]);
    let bad = submit(&p, &["--name", "bad", "--", "./job.sh", "bad", "0.5", "3"]);
    let after_ok = submit(
        &p,
        &[
            "--after",
            &ok.to_string(),
            "--",
            "./job.sh",
            "after-ok",
            "0",
        ],
    );
    let after_bad = submit(
        &p,
        &["--after", &bad.to_string(), "--", "./job.sh", "never", "0"],
    );
    let after_both = submit(
        &p,
        &[
            "--after",
            &after_ok.to_string(),
            "--after",
            &after_bad.to_string(),
            "--",
            "./job.sh",
            "never2",
            "0",
        ],
    );
    wait_all_ended(&p);
    assert_eq!(job(&p, ok)["status"], "finished");
    let bad_job = job(&p, bad);
    assert_eq!(bad_job["status"], "failed");
    assert_eq!(bad_job["exit_code"], 3);
    assert_eq!(job(&p, after_ok)["status"], "finished");
    let cancelled = job(&p, after_bad);
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["reason"], format!("job {bad} failed"));
    let chained = job(&p, after_both);
    assert_eq!(chained["status"], "cancelled");
    assert_eq!(chained["reason"], format!("job {after_bad} was cancelled"));
    let ran: Vec<String> = spans(&p).into_keys().collect();
    assert_eq!(ran, vec!["after-ok", "bad", "ok"]);
    // The dependent job started only after its parent ended.
    let s = spans(&p);
    assert!(s["after-ok"].start >= s["ok"].end);
}

#[test]
fn a_waiting_job_says_why_and_bad_submissions_name_the_problem() {
    let p = project();
    let long = submit(
        &p,
        &[
            "--gpus", "2", "--name", "long", "--", "./job.sh", "long", "3",
        ],
    );
    let next = submit(
        &p,
        &[
            "--gpus", "1", "--name", "next", "--", "./job.sh", "next", "0",
        ],
    );
    wait_until("the second job to wait for a GPU", || {
        job(&p, next)["reason"] == "waiting for 1 GPU, 0 free"
    });
    let out = p.kiroku(&["submit", "--gpus", "3", "--", "true"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("asks for 3 GPUs") && err.contains("has 2"),
        "{err}"
    );
    let out = p.kiroku(&["submit", "--after", "999", "--", "true"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no job 999"));
    let out = p.kiroku(&["submit", "--target", "nowhere", "--", "true"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no target 'nowhere'"));
    // Cancelling the running job frees its GPUs for the next one.
    p.ok(&["jobs", "cancel", &long.to_string()]);
    wait_all_ended(&p);
    assert_eq!(job(&p, long)["status"], "killed");
    assert_eq!(job(&p, next)["status"], "finished");
}

#[test]
fn jobs_ls_json_has_its_schema_and_fields() {
    let p = project();
    let id = submit(
        &p,
        &[
            "--name", "one", "--param", "lr=0.1", "--", "./job.sh", "one", "0",
        ],
    );
    wait_all_ended(&p);
    let listing = p.json(&["jobs", "ls"]);
    assert_eq!(listing["schema"], "kiroku.jobs/v1");
    let j = &listing["jobs"][0];
    for key in [
        "id",
        "name",
        "target",
        "status",
        "reason",
        "gpus",
        "run_id",
        "queued_at",
        "started_at",
        "ended_at",
        "exit_code",
    ] {
        assert!(j.get(key).is_some(), "no {key} in {j:#}");
    }
    assert_eq!(j["id"], id);
    assert_eq!(j["target"], "local");
    assert_eq!(j["exit_code"], 0);
    let table = p.ok(&["jobs", "ls", "--format", "table"]);
    assert!(
        table.contains("ID") && table.contains("finished") && table.contains("one"),
        "{table}"
    );
    let logs = p.ok(&["jobs", "logs", &id.to_string()]);
    assert!(logs.contains("output of one"), "{logs}");
    let retried = p.json(&["jobs", "retry", &id.to_string()]);
    assert_eq!(retried["job"]["retry_of"], id);
    let followed = p.ok(&["jobs", "logs", "-f", &retried["job"]["id"].to_string()]);
    assert!(followed.contains("output of one"), "{followed}");
}

#[test]
fn rerun_rewrites_the_flags_of_the_recorded_command_byte_for_byte() {
    let p = project();
    p.script(
        "train.sh",
        "printf '%s\\n' \"$@\" > \"args-$KIROKU_RUN_ID\"\n",
    );
    let tricky = "a b 'c' \"d\" $HOME `x` ; e\nf";
    let out = p.kiroku(&[
        "run",
        "--name",
        "base",
        "--",
        "./train.sh",
        "--lr",
        "0.01",
        "--epochs=3",
        tricky,
        "--amp",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs = p.json(&["runs", "ls"]);
    let base = runs["runs"][0]["id"].as_str().unwrap().to_string();
    let out = p.kiroku(&[
        "rerun",
        &base,
        "--set",
        "lr=0.1",
        "--set",
        "epochs=10",
        "--set",
        "seed=7",
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let note = String::from_utf8_lossy(&out.stderr);
    assert!(
        note.contains("--seed") && note.contains("appended"),
        "{note}"
    );
    let queued: Value = serde_json::from_slice(&out.stdout).unwrap();
    let expected = [
        "./train.sh",
        "--lr",
        "0.1",
        "--epochs=10",
        tricky,
        "--amp",
        "--seed",
        "7",
    ];
    assert_eq!(queued["job"]["command"], serde_json::json!(expected));
    assert_eq!(queued["job"]["rerun_of"], base);
    wait_all_ended(&p);
    let j = job(&p, queued["job"]["id"].as_i64().unwrap());
    assert_eq!(j["status"], "finished", "{j:#}");
    let run = j["run_id"].as_str().unwrap();
    let args = std::fs::read_to_string(p.path().join(format!("args-{run}"))).unwrap();
    assert_eq!(
        args,
        expected[1..]
            .iter()
            .map(|a| format!("{a}\n"))
            .collect::<String>()
    );
    let shown = p.json(&["show", run]);
    assert_eq!(shown["run"]["tags"]["kiroku.rerun_of"], base);
}

#[test]
fn jobs_survive_the_terminal_and_the_ui_going_away() {
    if !require_tool("tmux", &["-V"]) {
        return;
    }
    let p = project();
    let socket = format!("kiroku-jobs-{}", std::process::id());
    let tmux = |args: &[&str]| {
        Command::new("tmux")
            .arg("-L")
            .arg(&socket)
            .args(args)
            .output()
            .expect("running tmux")
    };
    // In the terminal: submit four jobs, then open the UI.
    let kiroku = env!("CARGO_BIN_EXE_kiroku");
    let script = format!(
        "cd {dir} && for i in 1 2 3 4; do {kiroku} submit --gpus 1 --name t$i -- ./job.sh t$i 1.5; done; exec {kiroku}",
        dir = p.path().display(),
    );
    let out = tmux(&[
        "new-session", "-d", "-s", "main", "-x", "120", "-y", "40",
        &format!(
            "env KIROKU_USER=tester XDG_STATE_HOME={0}/.state XDG_CONFIG_HOME={0}/.config sh -c '{script}'",
            p.path().display()
        ),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_until("all four submitted and two running", || {
        let all = jobs(&p);
        all.len() == 4 && all.iter().filter(|j| j["status"] == "running").count() == 2
    });
    // The terminal goes away, UI and all (as when an SSH session drops).
    tmux(&["kill-server"]);
    let all = wait_all_ended(&p);
    assert_eq!(all.len(), 4);
    for j in &all {
        assert_eq!(j["status"], "finished", "{j:#}");
        let run = j["run_id"].as_str().unwrap();
        let shown = p.json(&["show", run]);
        assert_eq!(shown["run"]["status"], "finished");
        let log = std::fs::read_to_string(p.store_dir().join("runs").join(run).join("output.log"))
            .unwrap();
        assert!(
            log.contains(&format!("output of {}", j["name"].as_str().unwrap())),
            "{log}"
        );
    }
}

#[test]
fn a_killed_scheduler_is_replaced_at_once_by_the_next_submit() {
    let p = project();
    let first = submit(
        &p,
        &[
            "--gpus", "2", "--name", "first", "--", "./job.sh", "first", "2",
        ],
    );
    wait_until("a scheduler", || !scheduler_processes(&p).is_empty());
    // The first job's supervisor has taken it over: a scheduler killed in the middle of a
    // launch leaves that job lost (which `jobs_exec` covers), not what this test is about.
    wait_until("the first job running", || {
        job(&p, first)["status"] == "running"
    });
    let old = scheduler_processes(&p);
    for pid in &old {
        // SAFETY: kill takes a pid and a signal.
        unsafe { libc::kill(*pid as i32, libc::SIGKILL) };
    }
    wait_until("the old scheduler to die", || {
        scheduler_processes(&p).is_empty()
    });
    // Its lease has not expired, but its holder is seen dead: the next submit starts another.
    let second = submit(
        &p,
        &[
            "--gpus", "1", "--name", "second", "--", "./job.sh", "second", "0",
        ],
    );
    wait_until("a new scheduler", || {
        let now = scheduler_processes(&p);
        !now.is_empty() && now.iter().all(|pid| !old.contains(pid))
    });
    wait_all_ended(&p);
    assert_eq!(job(&p, first)["status"], "finished");
    assert_eq!(job(&p, second)["status"], "finished");
    let s = spans(&p);
    assert!(s["second"].start >= s["first"].end, "{s:?}");
}

/// A local job's command starts before its run is committed (`wrap::job`): one that logs to
/// its run at once must still find it, however quick.
#[test]
fn a_command_that_logs_at_once_finds_its_run() {
    let p = project();
    let kiroku = env!("CARGO_BIN_EXE_kiroku");
    let ids: Vec<i64> = (0..12)
        .map(|i| {
            let value = format!("0.{i}");
            submit(&p, &["--", kiroku, "log", "metric", "loss", &value])
        })
        .collect();
    assert_eq!(ids.len(), 12);
    for j in wait_all_ended(&p) {
        assert_eq!(j["status"], "finished", "{j:#}");
        let run = j["run_id"].as_str().expect("a run");
        let shown = p.json(&["show", run]);
        assert_eq!(
            shown["run"]["metrics"]["loss"]["count"], 1,
            "job {}: {shown:#}",
            j["id"]
        );
    }
}

/// `kiroku jobs gpus`, with NVML off and `nvidia-smi` named: `smi` (a folder holding the
/// stand-in and what it answers, `tests/fixtures/nvidia-smi`) or a program that is not there.
fn gpus_listing(p: &Project, smi: &std::path::Path, format: &str) -> String {
    let out = p
        .cmd(&["jobs", "gpus", "--format", format])
        .env("KIROKU_NVML", "off")
        .env("KIROKU_NVIDIA_SMI", smi)
        .output()
        .unwrap();
    common::assert_ok(&out);
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn jobs_gpus_shows_each_gpu_with_the_job_booked_on_it() {
    let p = project();
    let id = submit(&p, &["--gpus", "1", "--", "./job.sh", "holder", "30"]);
    wait_until("the job runs", || job(&p, id)["status"] == "running");
    let booked = job(&p, id)["assigned_gpus"][0].as_u64().unwrap();

    // No driver here: the inventory's GPUs (`gpus = [0, 1]`) are listed, not found, with who
    // holds each, and the listing says why none was found.
    let missing = p.path().join("no-nvidia-smi");
    let listing: Value = serde_json::from_str(&gpus_listing(&p, &missing, "json")).unwrap();
    assert_eq!(listing["schema"], "kiroku.gpus/v1");
    assert_eq!(listing["source"], "none");
    assert!(
        listing["note"]
            .as_str()
            .unwrap()
            .contains("no NVIDIA driver"),
        "{listing:#}"
    );
    let gpus = listing["gpus"].as_array().unwrap();
    assert_eq!(gpus.len(), 2, "{listing:#}");
    for gpu in gpus {
        assert_eq!(gpu["found"], false);
        if gpu["index"] == booked {
            assert_eq!(gpu["jobs"], serde_json::json!([id]));
            assert_eq!(gpu["holder"], format!("job {id} tester"));
        } else {
            assert_eq!(gpu["jobs"], serde_json::json!([]));
            assert_eq!(gpu["holder"], "free");
        }
    }
    let table = gpus_listing(&p, &missing, "table");
    assert!(
        table.contains("listed, not found")
            && table.contains(&format!("job {id} tester"))
            && table.contains("note: no NVIDIA driver"),
        "{table}"
    );
    // CSV stays CSV: the note goes to stderr.
    let csv = gpus_listing(&p, &missing, "csv");
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(!csv.contains("note"), "{csv}");

    // Four GPUs through nvidia-smi, two of them running processes kiroku did not start: the
    // booked one is the job's all the same.
    let smi = p.path().join("smi");
    std::fs::create_dir(&smi).unwrap();
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nvidia-smi");
    std::os::unix::fs::symlink(fixtures.join("fake-nvidia-smi"), smi.join("nvidia-smi")).unwrap();
    std::fs::copy(
        fixtures.join("query-gpu-4x-a100.csv"),
        smi.join("query-gpu.out"),
    )
    .unwrap();
    std::fs::copy(
        fixtures.join("compute-apps-4x-a100.csv"),
        smi.join("compute-apps.out"),
    )
    .unwrap();
    let listing: Value =
        serde_json::from_str(&gpus_listing(&p, &smi.join("nvidia-smi"), "json")).unwrap();
    assert_eq!(listing["source"], "nvidia-smi");
    assert!(listing["note"].is_null(), "{listing:#}");
    let holders: Vec<(u64, String)> = listing["gpus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            assert_eq!(g["found"], true);
            (
                g["index"].as_u64().unwrap(),
                g["holder"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(u64, String)> = (0..4)
        .map(|i| {
            let holder = match i {
                i if i == booked => format!("job {id} tester"),
                0 | 2 => "other process".to_string(),
                _ => "free".to_string(),
            };
            (i, holder)
        })
        .collect();
    assert_eq!(holders, expected);
    let table = gpus_listing(&p, &smi.join("nvidia-smi"), "table");
    assert!(
        table.contains("A100-SXM4-80GB")
            && table.contains("98%")
            && table.contains("71234/81920 MiB"),
        "{table}"
    );

    p.ok(&["jobs", "cancel", &id.to_string()]);
    wait_all_ended(&p);
    let after: Value = serde_json::from_str(&gpus_listing(&p, &missing, "json")).unwrap();
    assert!(
        after["gpus"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["holder"] == "free"),
        "{after:#}"
    );
}
