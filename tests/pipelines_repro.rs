//! `kiroku repro` on real pipelines in temporary folders, through the real binary: which
//! stages rerun after each kind of change (a dependency, a param, a command, a deleted
//! output), a failing stage (its dependents skipped, the rest finish), a `persist` output, a
//! frozen stage, stages running at the same time (seen in timestamps the stages write), the
//! run-cache shared by two project copies through one `kiroku serve`, Ctrl-C in the middle of
//! a stage, and the real `dvc status` agreeing afterwards.
mod common;

use common::requires::require_tool;
use common::{Project, Server};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(path, text).unwrap();
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

/// `kiroku repro ARGS --format json` in `dir` against `store` (a folder or a URL): the exit
/// code and the report.
fn repro_in(project: &Project, dir: &Path, store: &str, args: &[&str]) -> (i32, Value) {
    let out = project
        .cmd(&[&["repro", "--format", "json"], args].concat())
        .current_dir(dir)
        .env("KIROKU_STORE", store)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no report ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

fn repro(project: &Project, args: &[&str]) -> (i32, Value) {
    let store = project.store_dir().display().to_string();
    repro_in(project, project.path(), &store, args)
}

/// The stages whose outcome is `word`.
fn with_outcome(report: &Value, word: &str) -> BTreeSet<String> {
    report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["outcome"] == word)
        .map(|s| s["stage"].as_str().unwrap().to_string())
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// raw.txt → prep (param scale) → train (train.py, param lr; metrics) → eval; other
/// (independent).
const CHAIN: &str = r#"
stages:
  prep:
    cmd: python3 -c "import yaml; s=yaml.safe_load(open('params.yaml'))['scale']; open('prep.txt','w').write(open('raw.txt').read()*s)"
    deps: [raw.txt]
    params: [scale]
    outs: [prep.txt]
  train:
    cmd: python3 train.py
    deps: [prep.txt, train.py]
    params: [lr]
    outs: [model.txt]
    metrics: [metrics.json]
  eval:
    cmd: cat model.txt model.txt > eval.txt
    deps: [model.txt]
    outs: [eval.txt]
  other:
    cmd: echo other > other.txt
    outs: [other.txt]
"#;

fn chain_project() -> Project {
    let p = Project::new();
    write(p.path(), "dvc.yaml", CHAIN);
    write(p.path(), "params.yaml", "scale: 2\nlr: 0.1\n");
    write(p.path(), "raw.txt", "abc\n");
    write(
        p.path(),
        "train.py",
        "import json, yaml\n\
         lr = yaml.safe_load(open('params.yaml'))['lr']\n\
         open('model.txt', 'w').write(f\"{len(open('prep.txt').read())} {lr}\\n\")\n\
         json.dump({'acc': 0.5, 'nested': {'loss': 0.25}}, open('metrics.json', 'w'))\n",
    );
    p
}

#[test]
fn rerun_sets_follow_each_kind_of_change() {
    if !require_tool("python3", &["-c", "import yaml"]) {
        return;
    }
    let p = chain_project();
    let (code, first) = repro(&p, &[]);
    assert_eq!(code, 0, "{first}");
    assert_eq!(
        with_outcome(&first, "ran"),
        set(&["prep", "train", "eval", "other"])
    );
    assert_eq!(read(p.path(), "prep.txt"), "abc\nabc\n");
    // Up to date: nothing runs, no pipeline run is made.
    let (code, noop) = repro(&p, &[]);
    assert_eq!(code, 0);
    assert!(noop["stages"].as_array().unwrap().is_empty(), "{noop}");
    assert!(noop["pipeline_run"].is_null());

    // A dependency changed: its stage and everything downstream.
    write(p.path(), "raw.txt", "wxyz\n");
    let (_, after_dep) = repro(&p, &[]);
    assert_eq!(
        with_outcome(&after_dep, "ran"),
        set(&["prep", "train", "eval"])
    );
    let prep = &after_dep["stages"][0];
    assert!(
        prep["reasons"][0].as_str().unwrap().contains("raw.txt"),
        "{prep}"
    );

    // A param of train only: train and eval.
    write(p.path(), "params.yaml", "scale: 2\nlr: 0.01\n");
    let (_, after_param) = repro(&p, &[]);
    assert_eq!(with_outcome(&after_param, "ran"), set(&["train", "eval"]));
    assert!(after_param["stages"][0]["reasons"][0]
        .as_str()
        .unwrap()
        .contains("lr"));

    // The command of eval: eval alone.
    write(
        p.path(),
        "dvc.yaml",
        &CHAIN.replace("cat model.txt model.txt", "cat model.txt"),
    );
    let (_, after_cmd) = repro(&p, &[]);
    assert_eq!(with_outcome(&after_cmd, "ran"), set(&["eval"]));

    // An output deleted: the stage comes back from the run-cache, and train, whose input came
    // back the same, has nothing to do.
    std::fs::remove_file(p.path().join("prep.txt")).unwrap();
    let (_, after_out) = repro(&p, &[]);
    assert_eq!(with_outcome(&after_out, "ran"), set(&[]), "{after_out}");
    assert_eq!(with_outcome(&after_out, "restored"), set(&["prep"]));
    assert_eq!(read(p.path(), "prep.txt"), "wxyz\nwxyz\n");
    // Without the run-cache it runs; train is still not rerun (same output).
    std::fs::remove_file(p.path().join("prep.txt")).unwrap();
    let (_, no_cache) = repro(&p, &["--no-run-cache"]);
    assert_eq!(with_outcome(&no_cache, "ran"), set(&["prep"]));
    assert!(with_outcome(&no_cache, "up to date").contains("train"));

    // Going back to an earlier param value restores train's outputs from the run-cache.
    write(p.path(), "params.yaml", "scale: 2\nlr: 0.1\n");
    let (_, back) = repro(&p, &[]);
    assert!(with_outcome(&back, "restored").contains("train"), "{back}");
    // The restored stage has a run of its own under the pipeline run: finished, tagged
    // restored, naming the run it came from (after_dep's train, the same inputs) and carrying
    // the hashes and the metrics file's metrics.
    let stage_field = |report: &Value, name: &str, field: &str| -> String {
        report["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stage"] == name)
            .unwrap()[field]
            .as_str()
            .unwrap_or_else(|| panic!("{name}.{field} in {report}"))
            .to_string()
    };
    let restored_run = stage_field(&back, "train", "run_id");
    let source_run = stage_field(&after_dep, "train", "run_id");
    assert_eq!(stage_field(&back, "train", "restored_from"), source_run);
    let shown = p.json(&["show", &restored_run]);
    let run = &shown["run"];
    assert_eq!(run["parent_id"], back["pipeline_run"], "{shown}");
    assert_eq!(run["status"], "finished", "{shown}");
    assert_eq!(run["tags"]["kiroku.pipeline.restored"], "true");
    assert_eq!(run["tags"]["kiroku.pipeline.restored_from"], source_run);
    assert!(run["tags"]["dvc.out.model.txt"].is_string(), "{shown}");
    assert!(run["tags"]["kiroku.pipeline.run_cache_key"].is_string());
    assert_eq!(run["metrics"]["acc"]["last"], 0.5);
    assert_eq!(run["params"]["lr"], "0.1");
    // Users can find restored stage runs with a filter.
    let found = p.json(&[
        "runs",
        "ls",
        "--filter",
        "tags.`kiroku.pipeline.restored` = 'true'",
    ]);
    let found: BTreeSet<String> = found["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    assert!(found.contains(&restored_run), "{found:?}");
    assert!(!found.contains(&source_run));
    // And the summary says which stages were restored, from which run.
    write(p.path(), "params.yaml", "scale: 2\nlr: 0.01\n");
    let out = p
        .cmd(&["repro"])
        .env("KIROKU_STORE", p.store_dir())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("restored train from run"),
        "no restored line in:\n{text}"
    );
    write(p.path(), "params.yaml", "scale: 2\nlr: 0.1\n");
    let (_, again) = repro(&p, &[]);
    assert!(
        with_outcome(&again, "restored").contains("train"),
        "{again}"
    );

    // Forced: every stage runs (`-f`), one alone with `-s`, downstream with `--downstream`.
    let (_, forced) = repro(&p, &["-f"]);
    assert_eq!(
        with_outcome(&forced, "ran"),
        set(&["prep", "train", "eval", "other"])
    );
    let (_, single) = repro(&p, &["-f", "-s", "train"]);
    assert_eq!(with_outcome(&single, "ran"), set(&["train"]));
    let (_, down) = repro(&p, &["-f", "--downstream", "train"]);
    assert_eq!(with_outcome(&down, "ran"), set(&["train", "eval"]));

    // --dry says what would run and why, and runs nothing.
    write(p.path(), "raw.txt", "dry\n");
    let (_, dry) = repro(&p, &["--dry"]);
    assert_eq!(
        with_outcome(&dry, "would run"),
        set(&["prep", "train", "eval"])
    );
    assert_eq!(read(p.path(), "prep.txt"), "wxyz\nwxyz\n");

    // The stage runs are children of their pipeline run, with the stage's params, metrics
    // from its metrics file, and the dependency and output hashes.
    let train_run = forced["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "train")
        .unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let shown = p.json(&["show", &train_run]);
    let run = &shown["run"];
    assert_eq!(run["parent_id"], forced["pipeline_run"], "{shown}");
    assert_eq!(run["params"]["lr"], "0.1");
    assert_eq!(run["metrics"]["acc"]["last"], 0.5);
    assert_eq!(run["metrics"]["nested/loss"]["last"], 0.25);
    assert!(run["tags"]["dvc.dep.prep.txt"].is_string(), "{shown}");
    // And each is a job.
    let jobs = p.json(&["jobs", "ls"]);
    assert!(jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|j| j["name"] == "train" && j["status"] == "finished" && j["run_id"] == train_run));
}

#[test]
fn a_failing_stage_skips_its_dependents_and_the_rest_finish() {
    let p = Project::new();
    write(
        p.path(),
        "dvc.yaml",
        r#"
stages:
  first:
    cmd: echo one > one.txt
    outs: [one.txt]
  broken:
    cmd: echo about to fail && exit 3
    deps: [one.txt]
    outs: [broken.txt]
  after:
    cmd: cp broken.txt after.txt
    deps: [broken.txt]
    outs: [after.txt]
  independent:
    cmd: sleep 0.3 && echo fine > fine.txt
    outs: [fine.txt]
"#,
    );
    let (code, report) = repro(&p, &[]);
    assert_eq!(code, 1);
    assert_eq!(with_outcome(&report, "ran"), set(&["first", "independent"]));
    assert_eq!(with_outcome(&report, "failed"), set(&["broken"]));
    assert_eq!(with_outcome(&report, "skipped"), set(&["after"]));
    let broken = &report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "broken")
        .unwrap();
    let detail = broken["detail"].as_str().unwrap();
    assert!(
        detail.contains("exit code 3") && detail.contains("about to fail"),
        "{detail}"
    );
    let lock = read(p.path(), "dvc.lock");
    assert!(lock.contains("first:") && lock.contains("independent:"));
    assert!(!lock.contains("broken:"), "{lock}");
    let run = p.json(&["show", broken["run_id"].as_str().unwrap()]);
    assert_eq!(run["run"]["status"], "failed");
    assert_eq!(run["run"]["exit_code"], 3);
    // The plain summary names them too.
    let out = p
        .cmd(&["repro"])
        .env("KIROKU_STORE", p.store_dir())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        err.contains("1 failed (broken)") && err.contains("1 skipped (after)"),
        "{err}"
    );
}

#[test]
fn persist_outputs_are_kept_and_frozen_stages_never_run() {
    let p = Project::new();
    write(
        p.path(),
        "dvc.yaml",
        r#"
stages:
  kept:
    cmd: echo run >> kept.txt
    outs:
      - kept.txt:
          persist: true
  removed:
    cmd: echo run >> removed.txt
    outs: [removed.txt]
  ice:
    cmd: echo ice > ice.txt
    deps: [input.txt]
    outs: [ice.txt]
    frozen: true
"#,
    );
    write(p.path(), "input.txt", "1");
    let (code, report) = repro(&p, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["frozen"], serde_json::json!(["ice"]));
    assert!(!p.path().join("ice.txt").exists());
    repro(&p, &["-f"]);
    assert_eq!(read(p.path(), "kept.txt"), "run\nrun\n");
    assert_eq!(read(p.path(), "removed.txt"), "run\n");
    // A persist output never comes from the run-cache: deleted, the stage runs.
    std::fs::remove_file(p.path().join("kept.txt")).unwrap();
    let (_, again) = repro(&p, &[]);
    assert_eq!(with_outcome(&again, "ran"), set(&["kept"]));
    write(p.path(), "input.txt", "2");
    let (_, frozen) = repro(&p, &["-f"]);
    assert!(!with_outcome(&frozen, "ran").contains("ice"));
}

#[test]
fn independent_stages_run_at_the_same_time() {
    let p = Project::new();
    let stage = |n: u32| {
        format!(
            "  s{n}:\n    cmd: python3 -c \"import time; a=time.time(); time.sleep(1.5); open('s{n}.txt','w').write(f'{{a}} {{time.time()}}')\"\n    outs: [s{n}.txt]\n"
        )
    };
    let yaml = format!("stages:\n{}", (1..=4).map(stage).collect::<String>());
    write(p.path(), "dvc.yaml", &yaml);
    let (code, report) = repro(&p, &["-j", "4"]);
    assert_eq!(code, 0, "{report}");
    let spans: Vec<(f64, f64)> = (1..=4)
        .map(|n| {
            let text = read(p.path(), &format!("s{n}.txt"));
            let (a, b) = text.split_once(' ').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect();
    let last_start = spans.iter().map(|s| s.0).fold(f64::MIN, f64::max);
    let first_end = spans.iter().map(|s| s.1).fold(f64::MAX, f64::min);
    assert!(
        last_start < first_end,
        "the four stages did not all run at once: {spans:?}"
    );
    // With -j 1 they do not overlap.
    let (_, serial) = repro(&p, &["-f", "-j", "1"]);
    assert_eq!(with_outcome(&serial, "ran").len(), 4);
    let mut spans: Vec<(f64, f64)> = (1..=4)
        .map(|n| {
            let text = read(p.path(), &format!("s{n}.txt"));
            let (a, b) = text.split_once(' ').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        })
        .collect();
    spans.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    assert!(spans.windows(2).all(|w| w[0].1 <= w[1].0), "{spans:?}");
}

/// Copies the project's own files (not its store, outputs or lock) to a new folder.
fn copy_project(from: &Path, to: &Path, files: &[&str]) {
    std::fs::create_dir_all(to).unwrap();
    for name in files {
        std::fs::copy(from.join(name), to.join(name)).unwrap();
    }
}

#[test]
fn two_copies_share_the_run_cache_through_one_server() {
    let p = Project::new();
    let server = Server::start(&p, &[]).unwrap();
    let yaml = r#"
stages:
  make:
    cmd: mkdir -p model/sub && echo w > model/w.bin && echo deep > model/sub/d.txt && echo "$(cat in.txt) made by $$" > made.txt
    deps: [in.txt]
    outs: [model, made.txt]
  use:
    cmd: cat made.txt model/w.bin > used.txt
    deps: [made.txt, model]
    outs: [used.txt]
"#;
    let a = p.path().join("copy-a");
    let b = p.path().join("copy-b");
    write(&a, "dvc.yaml", yaml);
    write(&a, "in.txt", "input");
    copy_project(&a, &b, &["dvc.yaml", "in.txt"]);
    let (code, first) = repro_in(&p, &a, &server.url, &[]);
    assert_eq!(code, 0, "{first}");
    assert_eq!(with_outcome(&first, "ran"), set(&["make", "use"]));
    let made = read(&a, "made.txt");
    std::fs::remove_dir_all(a.join("model")).unwrap();
    std::fs::remove_file(a.join("made.txt")).unwrap();
    // Copy B never ran anything: both stages come from the cache through the server.
    let (code, second) = repro_in(&p, &b, &server.url, &[]);
    assert_eq!(code, 0, "{second}");
    assert_eq!(with_outcome(&second, "ran"), set(&[]), "{second}");
    assert_eq!(with_outcome(&second, "restored"), set(&["make", "use"]));
    assert_eq!(read(&b, "made.txt"), made);
    assert_eq!(read(&b, "model/sub/d.txt"), "deep\n");
    assert_eq!(read(&b, "used.txt"), read(&a, "used.txt"));
    // Both lock files say the same.
    assert_eq!(read(&b, "dvc.lock"), read(&a, "dvc.lock"));
    // A changed input in B: make runs there.
    write(&b, "in.txt", "other");
    let (_, third) = repro_in(&p, &b, &server.url, &[]);
    assert_eq!(with_outcome(&third, "ran"), set(&["make", "use"]));
}

#[test]
fn ctrl_c_kills_the_running_stage_and_records_nothing_of_it() {
    let p = Project::new();
    write(
        p.path(),
        "dvc.yaml",
        r#"
stages:
  quick:
    cmd: echo q > q.txt
    outs: [q.txt]
  slow:
    cmd: echo $$ > slow.pid && echo partial > slow.txt && sleep 60 && echo done >> slow.txt
    outs: [slow.txt]
"#,
    );
    let child = p
        .cmd(&["repro", "--format", "json"])
        .env("KIROKU_STORE", p.store_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid_file = p.path().join("slow.pid");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pid_file.exists() || read(p.path(), "slow.pid").trim().is_empty() {
        assert!(Instant::now() < deadline, "the slow stage never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let stage_pid: i32 = read(p.path(), "slow.pid").trim().parse().unwrap();
    // SAFETY: signalling the child this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["interrupted"], true);
    assert_eq!(with_outcome(&report, "killed"), set(&["slow"]));
    // The stage's processes are gone.
    // SAFETY: probing a pid with signal 0.
    assert_ne!(
        unsafe { libc::kill(stage_pid, 0) },
        0,
        "the stage still runs"
    );
    let slow = report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "slow")
        .unwrap()
        .clone();
    let run = p.json(&["show", slow["run_id"].as_str().unwrap()]);
    assert_eq!(run["run"]["status"], "killed");
    let job = p.json(&["jobs", "show", &slow["job"].to_string()]);
    assert_eq!(job["job"]["status"], "killed", "{job}");
    let pipeline = p.json(&["show", report["pipeline_run"].as_str().unwrap()]);
    assert_eq!(pipeline["run"]["status"], "killed");
    // Nothing of it recorded: no lock entry; the next repro runs it (no run-cache entry).
    let lock = std::fs::read_to_string(p.path().join("dvc.lock")).unwrap_or_default();
    assert!(!lock.contains("slow:"), "{lock}");
    write(
        p.path(),
        "dvc.yaml",
        &read(p.path(), "dvc.yaml").replace("sleep 60", "sleep 0"),
    );
    let (code, next) = repro(&p, &[]);
    assert_eq!(code, 0, "{next}");
    assert_eq!(with_outcome(&next, "ran"), set(&["slow"]));
}

#[test]
fn dvc_status_is_up_to_date_after_kiroku_repro() {
    if !require_tool("dvc", &["--version"]) {
        return;
    }
    let p = Project::new();
    write(
        p.path(),
        "dvc.yaml",
        r#"
stages:
  prep:
    foreach: [a, b]
    do:
      cmd: mkdir -p out/${item} && echo ${item} > out/${item}/x.txt && echo data-${item} > out/${item}.txt
      deps: [raw.txt]
      params: [scale]
      outs:
        - out/${item}
        - out/${item}.txt
  join:
    cmd: cat out/a.txt out/b.txt > joined.txt
    deps: [out/a.txt, out/b.txt, out/a]
    outs: [joined.txt]
"#,
    );
    write(p.path(), "params.yaml", "scale: 3\n");
    write(p.path(), "raw.txt", "raw");
    let dvc = |args: &[&str]| {
        std::process::Command::new("dvc")
            .args(args)
            .current_dir(p.path())
            .env("DVC_NO_ANALYTICS", "1")
            .output()
            .unwrap()
    };
    common::assert_ok(&dvc(&["init", "--no-scm", "-q"]));
    let (code, report) = repro(&p, &[]);
    assert_eq!(code, 0, "{report}");
    let status = dvc(&["status"]);
    common::assert_ok(&status);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("Data and pipelines are up to date"),
        "dvc status after kiroku repro:\n{text}"
    );
    // And after a change both see the same stale stages.
    write(p.path(), "raw.txt", "changed");
    let text = String::from_utf8_lossy(&dvc(&["status"]).stdout).to_string();
    for stage in ["prep@a", "prep@b"] {
        assert!(text.contains(stage), "{text}");
    }
    let (_, dry) = repro(&p, &["--dry"]);
    assert_eq!(
        with_outcome(&dry, "would run"),
        set(&["prep@a", "prep@b", "join"])
    );
}

#[test]
fn a_stage_on_another_target_goes_through_the_queue() {
    let p = Project::new();
    write(
        p.path(),
        "kiroku.toml",
        "[targets.box]\nkind = \"local\"\nmax_parallel = 2\n",
    );
    write(
        p.path(),
        "dvc.yaml",
        r#"
stages:
  here:
    cmd: echo here > here.txt
    outs: [here.txt]
  queued:
    cmd: cat here.txt here.txt > queued.txt
    deps: [here.txt]
    outs: [queued.txt]
    meta:
      kiroku:
        target: box
"#,
    );
    let (code, report) = repro(&p, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(read(p.path(), "queued.txt"), "here\nhere\n");
    let jobs = p.json(&["jobs", "ls"]);
    let job = |name: &str| {
        jobs["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(job("here")["target"], "local");
    assert_eq!(job("queued")["target"], "box");
    assert_eq!(job("queued")["status"], "finished");
    // The queue's supervisor made its run, a child of the pipeline run all the same.
    let run = p.json(&["show", job("queued")["run_id"].as_str().unwrap()]);
    assert_eq!(run["run"]["parent_id"], report["pipeline_run"]);
    assert!(read(p.path(), "dvc.lock").contains("queued:"));
}

#[test]
fn a_stage_on_the_ssh_target_works_like_a_local_one() {
    let Some(sshd) = common::sshd::require_sshd() else {
        return;
    };
    let p = Project::new();
    let remote = tempfile::tempdir().unwrap();
    write(
        p.path(),
        "kiroku.toml",
        &format!(
            "{}\n[jobs]\ncancel_grace_s = 1\n",
            sshd.target_toml("box", remote.path())
        ),
    );
    write(
        p.path(),
        "dvc.yaml",
        r#"
stages:
  far:
    cmd:
    - mkdir -p model/sub && tr a-z A-Z < data/in.txt > model/up.txt
    - echo "$(cat params.yaml)" > model/sub/params.txt && pwd > where.txt
    deps: [data/in.txt]
    params: [lr]
    outs: [model, where.txt]
    meta: {kiroku: {target: box}}
  near:
    cmd: cat model/up.txt model/sub/params.txt > final.txt
    deps: [model]
    outs: [final.txt]
"#,
    );
    write(p.path(), "data/in.txt", "hello\n");
    write(p.path(), "params.yaml", "lr: 0.5\n");
    let (code, first) = repro(&p, &[]);
    assert_eq!(code, 0, "{first}");
    assert_eq!(
        with_outcome(&first, "ran"),
        set(&["far", "near"]),
        "{first}"
    );
    // It ran on the host, in the project's copy under the target's workdir...
    let ran_in = read(p.path(), "where.txt");
    let remote_root = remote.path().canonicalize().unwrap();
    assert!(
        ran_in
            .trim()
            .starts_with(&remote_root.join(".kiroku/pipelines").display().to_string()),
        "{ran_in}"
    );
    // ...and its outputs came back: the local stage after it read them.
    assert_eq!(read(p.path(), "model/up.txt"), "HELLO\n");
    assert_eq!(read(p.path(), "final.txt"), "HELLO\nlr: 0.5\n");
    // Hashed into dvc.lock: nothing is stale, and the same input does not run again.
    let lock = read(p.path(), "dvc.lock");
    assert!(
        lock.contains("path: model\n") && lock.contains(".dir"),
        "{lock}"
    );
    let (code, again) = repro(&p, &[]);
    assert_eq!(code, 0);
    assert!(again["stages"].as_array().unwrap().is_empty(), "{again}");
    // Cached: deleted here, they come back from the run-cache without going to the host.
    std::fs::remove_dir_all(p.path().join("model")).unwrap();
    std::fs::remove_file(p.path().join("where.txt")).unwrap();
    let (code, restored) = repro(&p, &[]);
    assert_eq!(code, 0, "{restored}");
    assert_eq!(
        with_outcome(&restored, "restored"),
        set(&["far"]),
        "{restored}"
    );
    assert_eq!(read(p.path(), "model/up.txt"), "HELLO\n");
    // A changed dependency goes to the host again.
    write(p.path(), "data/in.txt", "again\n");
    let (code, changed) = repro(&p, &[]);
    assert_eq!(code, 0, "{changed}");
    assert_eq!(with_outcome(&changed, "ran"), set(&["far", "near"]));
    assert_eq!(read(p.path(), "final.txt"), "AGAIN\nlr: 0.5\n");
    // An output the command did not write fails the stage, naming it.
    write(
        p.path(),
        "dvc.yaml",
        &read(p.path(), "dvc.yaml").replace(
            "outs: [model, where.txt]",
            "outs: [model, where.txt, never.txt]",
        ),
    );
    let (code, failed) = repro(&p, &["far"]);
    assert_eq!(code, 1, "{failed}");
    assert!(
        failed["stages"][0]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("never.txt"),
        "{failed}"
    );
}

/// The md5 of each output of `stage` in the project's dvc.lock.
fn locked_outs(dir: &Path, stage: &str) -> Vec<String> {
    let lock = kiroku::pipelines::LockFile::read(dir).unwrap();
    lock.entry(stage)
        .unwrap()
        .outs
        .iter()
        .map(|o| o.md5.clone().unwrap())
        .collect()
}

#[test]
fn gc_keeps_the_lock_and_the_last_pipeline_runs_and_frees_the_rest() {
    let p = Project::new();
    write(
        p.path(),
        "dvc.yaml",
        r#"
stages:
  make:
    cmd: mkdir -p model && cp in.txt out.txt && echo "w $(cat in.txt)" > model/w.bin && echo same > model/same.bin
    deps: [in.txt]
    outs: [out.txt, model]
"#,
    );
    let mut versions = Vec::new();
    for v in ["one", "two", "three"] {
        write(p.path(), "in.txt", v);
        let (code, report) = repro(&p, &[]);
        assert_eq!(code, 0, "{report}");
        versions.push(locked_outs(p.path(), "make"));
    }
    let objects =
        |p: &Project| -> usize { walk_files(&p.store_dir().join("cache/files/md5")).len() };
    // Three file versions of out.txt, three listings, three w.bin and one same.bin.
    assert_eq!(objects(&p), 10);
    // Dry: lists the first two runs' objects (not same.bin, which the newest uses), removes
    // nothing.
    let dry = p.json(&["gc", "--keep", "1", "--dry"]);
    let listed: BTreeSet<String> = dry["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_str().unwrap().to_string())
        .collect();
    for old in versions[0].iter().chain(&versions[1]) {
        assert!(listed.contains(old), "{old} not listed: {dry}");
    }
    for current in &versions[2] {
        assert!(!listed.contains(current), "{current} listed: {dry}");
    }
    assert_eq!(listed.len(), 6, "{dry}");
    let bytes: u64 = dry["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[1].as_u64().unwrap())
        .sum();
    assert_eq!(dry["removed_bytes"], bytes);
    assert!(bytes > 0);
    assert_eq!(objects(&p), 10);
    // Keeping two runs frees the first only; its version runs again, the second restores.
    let freed = p.json(&["gc", "--keep", "2"]);
    assert_eq!(freed["removed"].as_array().unwrap().len(), 3, "{freed}");
    assert_eq!(objects(&p), 7);
    write(p.path(), "in.txt", "two");
    let (_, second) = repro(&p, &[]);
    assert_eq!(
        with_outcome(&second, "restored"),
        set(&["make"]),
        "{second}"
    );
    write(p.path(), "in.txt", "one");
    let (_, first) = repro(&p, &[]);
    assert_eq!(with_outcome(&first, "ran"), set(&["make"]), "{first}");
    // The text says what it would free.
    let text = p.ok(&["gc", "--keep", "1", "--dry"]);
    assert!(
        text.contains("would remove ") && text.contains("would free"),
        "{text}"
    );
}

/// Every file under `dir`.
fn walk_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                files.extend(walk_files(&path));
            } else {
                files.push(path);
            }
        }
    }
    files
}

#[test]
fn stages_waiting_for_a_busy_ssh_target_leave_their_slots_to_local_stages() {
    let Some(sshd) = common::sshd::require_sshd() else {
        return;
    };
    let p = Project::new();
    let remote = tempfile::tempdir().unwrap();
    // The box holds one job at once (no max_parallel); -j 2.
    write(
        p.path(),
        "kiroku.toml",
        &sshd.target_toml("box", remote.path()),
    );
    let stamp = "python3 -c 'import time; print(time.time())'";
    write(
        p.path(),
        "dvc.yaml",
        &format!(
            "stages:\n  far1:\n    cmd: {stamp} > far1.txt && sleep 1\n    outs: [far1.txt]\n    meta: {{kiroku: {{target: box}}}}\n  far2:\n    cmd: {stamp} > far2.txt && sleep 1\n    outs: [far2.txt]\n    meta: {{kiroku: {{target: box}}}}\n  near:\n    cmd: {stamp} > near.txt\n    outs: [near.txt]\n"
        ),
    );
    let (code, report) = repro(&p, &["-j", "2"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(with_outcome(&report, "ran"), set(&["far1", "far2", "near"]));
    let at = |name: &str| -> f64 { read(p.path(), name).trim().parse().unwrap() };
    let (far1, far2) = (at("far1.txt"), at("far2.txt"));
    // One at a time on the box...
    assert!((far1 - far2).abs() >= 0.9, "far1 {far1}, far2 {far2}");
    // ...and the local stage did not wait behind the second (which would have held the other
    // slot until the first ended, a second later): it ran while the first slept.
    assert!(at("near.txt") < far1.min(far2) + 0.9, "{report}");
}
