//! End-to-end tests of the binary: wrapping commands, logging, listing, the JSON contract,
//! annotations and store discovery.
mod common;
use common::Project;

#[test]
fn run_records_output_scalars_metrics_file_params_and_exit_status() {
    let p = Project::new();
    let script = p.script(
        "train.sh",
        r#"echo "epoch 1 loss=0.5 acc: 0.7 scale=2"
echo "epoch 2 loss=0.25 acc: 0.8 scale=4"
echo "warning: grad_norm=7" >&2
printf '{"step": 5, "val/acc": 0.9, "val": {"loss": "NaN"}}\n{"params": {"batch": 64}, "tags": {"stage": "dev"}}\nnot json\n{"step": 6, "big": 1e300, "neg": "-Infinity"}\n' >> "$KIROKU_METRICS_FILE"
kiroku_bin="$1"; shift
"$kiroku_bin" log metric manual 3.5 --step 7
"$kiroku_bin" log tag via shell
printf 'bad byte: \377\376 scale=9\n'
exit 0
"#,
    );
    let bin = env!("CARGO_BIN_EXE_kiroku");
    let out = p.kiroku(&[
        "run",
        "--exp",
        "e1",
        "--name",
        "first",
        "--tag",
        "team=vision",
        "--",
        &script,
        bin,
        "--lr",
        "0.01",
        "--epochs=3",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("epoch 1 loss=0.5"),
        "output passes through: {stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning: grad_norm=7"));
    // Every path counts: output scalars, the metrics file and `kiroku log metric`.
    assert!(stderr.contains("finished · 9 points"), "{stderr}");
    assert!(
        stderr.contains("metrics file line 3: invalid JSON"),
        "bad line reported with its number: {stderr}"
    );

    let v = p.json(&["show", "first"]);
    assert_eq!(v["schema"], "kiroku.run/v1");
    let run = &v["run"];
    assert_eq!(run["status"], "finished");
    assert_eq!(run["exit_code"], 0);
    assert_eq!(run["experiment"], "e1");
    assert_eq!(run["user"], "tester");
    assert_eq!(run["params"]["lr"], "0.01");
    assert_eq!(run["params"]["epochs"], "3");
    assert_eq!(run["params"]["batch"], "64");
    assert_eq!(run["tags"]["team"], "vision");
    assert_eq!(run["tags"]["stage"], "dev");
    assert_eq!(run["tags"]["via"], "shell");
    let m = &run["metrics"];
    assert_eq!(
        m["scale"]["count"], 3,
        "two lines plus the non-UTF-8 one: {m}"
    );
    assert_eq!(m["scale"]["last"], 9.0);
    // The metrics file wins: its val/acc and val/loss cover the output's acc and loss, printed
    // just before the file's line was written.
    assert!(m.get("acc").is_none() && m.get("loss").is_none(), "{m}");
    assert_eq!(m["val/acc"]["last"], 0.9);
    assert_eq!(m["val/acc"]["step"], 5);
    assert_eq!(m["val/loss"]["last"], "NaN");
    assert_eq!(m["big"]["last"], 1e300);
    assert_eq!(m["neg"]["last"], "-Infinity");
    assert_eq!(m["manual"]["last"], 3.5);
    assert_eq!(m["grad_norm"]["last"], 7.0, "scalars on stderr count too");
    assert_eq!(m["manual"]["step"], 7);
    assert!(run["source"]["command"][0]
        .as_str()
        .unwrap()
        .ends_with("train.sh"));
    assert!(run["notes"].is_array() && run["inputs"].is_array() && run["artifacts"].is_array());
    let log = std::fs::read(
        p.store_dir()
            .join("runs")
            .join(run["id"].as_str().unwrap())
            .join("output.log"),
    )
    .unwrap();
    assert!(
        log.windows(4).any(|w| w == b"\xff\xfe s"),
        "raw bytes kept in the log"
    );

    let series = p.json(&["metrics", "first", "val/loss"]);
    assert_eq!(series["schema"], "kiroku.metrics/v1");
    assert_eq!(series["points"][0][2], "NaN");
}

#[test]
fn exit_codes_follow_the_child_and_failures_are_recorded() {
    let p = Project::new();
    let fail = p.script("fail.sh", "echo boom >&2\nexit 3\n");
    let out = p.kiroku(&["run", "--name", "bad", "--", &fail]);
    assert_eq!(out.status.code(), Some(3));
    let run = &p.json(&["show", "bad"])["run"];
    assert_eq!(run["status"], "failed");
    assert_eq!(run["exit_code"], 3);
    assert!(run["end_time"].is_i64());

    let out = p.kiroku(&["run", "--name", "missing", "--", "/no/such/program"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot start '/no/such/program'"));
    assert_eq!(p.json(&["show", "missing"])["run"]["status"], "failed");
}

#[test]
fn interrupt_is_forwarded_and_the_run_is_marked_killed() {
    let p = Project::new();
    let slow = p.script("slow.sh", "echo started\nexec sleep 30\n");
    let mut child = p
        .cmd(&["run", "--name", "slow", "--", &slow])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = [0u8; 8];
    use std::io::Read;
    let _ = stdout.read(&mut buf).unwrap(); // the child has started
                                            // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + libc::SIGINT));
    let run = &p.json(&["show", "slow"])["run"];
    assert_eq!(run["status"], "killed");
}

#[test]
fn runs_ls_json_contract_filters_sorts_and_limits() {
    let p = Project::new();
    let s = p.script("t.sh", "echo \"acc: $4\"\n");
    for (name, lr, acc) in [
        ("a", "0.1", "0.5"),
        ("b", "0.001", "0.9"),
        ("c", "0.005", "0.7"),
        ("d", "adam", "0.95"),
    ] {
        p.ok(&[
            "run", "--exp", "sweep", "--name", name, "--", &s, "--lr", lr, "--acc", acc,
        ]);
    }
    // --acc becomes a param, and the script echoes its value as the acc metric.
    let v = p.json(&[
        "runs",
        "ls",
        "--filter",
        "metrics.acc > 0.6 and params.lr < 0.01",
        "--sort",
        "metrics.acc desc",
    ]);
    assert_eq!(v["schema"], "kiroku.runs/v1");
    let names: Vec<&str> = v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["b", "c"]);
    let r = &v["runs"][0];
    for field in [
        "id",
        "name",
        "experiment",
        "status",
        "user",
        "start_time",
        "end_time",
        "params",
        "metrics",
        "tags",
        "parent_id",
    ] {
        assert!(r.get(field).is_some(), "field {field} missing: {r}");
    }
    assert_eq!(r["id"].as_str().unwrap().len(), 32);
    for field in ["last", "min", "max", "count", "step"] {
        assert!(
            r["metrics"]["acc"].get(field).is_some(),
            "metric field {field}"
        );
    }
    let v = p.json(&["runs", "ls", "--sort", "params.lr", "--limit", "2"]);
    let names: Vec<&str> = v["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["b", "c"], "numeric param order");
    assert_eq!(v["total"], 4);
    let v = p.json(&["runs", "ls", "--filter", "sweep or nothing"]);
    assert_eq!(v["total"], 0, "bare words match names and tags only");
    let csv = p.ok(&[
        "runs",
        "ls",
        "--format",
        "csv",
        "--columns",
        "name,params.lr,metrics.acc",
        "--sort",
        "name",
    ]);
    assert_eq!(csv.lines().next().unwrap(), "NAME,lr,acc");
    assert_eq!(csv.lines().nth(1).unwrap(), "a,0.1,0.5");
    let md = p.ok(&["runs", "ls", "--format", "md", "--only-changed"]);
    assert!(md.starts_with("| ST | ID | NAME |"), "{md}");
}

#[test]
fn annotations_soft_delete_and_events() {
    let p = Project::new();
    let s = p.script("t.sh", "true\n");
    p.ok(&["run", "--name", "r1", "--", &s]);
    p.ok(&["note", "add", "r1", "-m", "looks **good**"]);
    p.ok(&["note", "add", "r1", "-m", "agreed", "--reply-to", "1"]);
    let notes = p.json(&["note", "ls", "r1"]);
    assert_eq!(notes["notes"][1]["reply_to"], 1);
    assert_eq!(notes["notes"][0]["author"], "tester");
    p.ok(&["tag", "r1", "best=yes", "stage=eval"]);
    p.ok(&["untag", "r1", "stage"]);
    p.ok(&["star", "r1"]);
    let run = &p.json(&["show", "r1"])["run"];
    assert_eq!(run["tags"]["best"], "yes");
    assert!(run["tags"].get("stage").is_none());
    assert_eq!(run["stars"][0], "tester");
    p.ok(&["rm", "r1"]);
    assert_eq!(p.json(&["runs", "ls"])["total"], 0);
    assert_eq!(p.json(&["runs", "ls", "--all"])["total"], 1);
    // A deleted run takes no writes until restored (as MLflow's servers refuse them).
    let refused = p.kiroku(&["tag", "r1", "late=yes"]);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("must be in the 'active' state. Current state is deleted."),
        "{stderr}"
    );
    p.ok(&["restore", "r1"]);
    assert_eq!(p.json(&["runs", "ls"])["total"], 1);
    let kinds: Vec<String> = p.json(&["events"])["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    for k in [
        "run.started",
        "run.finished",
        "note.added",
        "tag.set",
        "tag.removed",
        "star.added",
        "run.deleted",
        "run.restored",
    ] {
        assert!(kinds.contains(&k.to_string()), "{k} in {kinds:?}");
    }
    assert_eq!(kinds[0], "run.restored", "newest first");
    p.ok(&["tag", "r1", "late=yes"]);
    // The table shows details as the activity screen does: key=value, not JSON.
    let table = p.ok(&["events", "--format", "table"]);
    assert!(table.contains("late=yes"), "{table}");
    assert!(!table.contains("{\""), "{table}");
}

#[test]
fn diff_shows_differing_params_and_metric_deltas() {
    let p = Project::new();
    let s = p.script("t.sh", "echo \"acc: $4\"\n");
    p.ok(&[
        "run", "--name", "x", "--", &s, "--lr", "0.1", "--v", "0.5", "--seed", "1",
    ]);
    p.ok(&[
        "run", "--name", "y", "--", &s, "--lr", "0.2", "--v", "0.75", "--seed", "1",
    ]);
    let v = p.json(&["diff", "x", "y"]);
    let keys: Vec<&str> = v["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["lr", "v"], "seed is the same and hidden");
    assert_eq!(v["metrics"][0]["deltas"][1], 0.25);
    let all = p.json(&["diff", "x", "y", "--all"]);
    assert_eq!(all["params"].as_array().unwrap().len(), 3);
}

#[test]
fn store_is_found_by_flag_env_and_walking_up() {
    let p = Project::new();
    let sub = p.path().join("a/b");
    std::fs::create_dir_all(&sub).unwrap();
    let s = p.script("t.sh", "true\n");
    let out = p
        .cmd(&["run", "--name", "deep", "--", &s])
        .current_dir(&sub)
        .output()
        .unwrap();
    assert!(out.status.success());
    let other = tempfile::tempdir().unwrap();
    let store = p.path().display().to_string();
    let v: serde_json::Value = serde_json::from_slice(
        &p.cmd(&["runs", "ls", "--format", "json", "--store", &store])
            .current_dir(other.path())
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(v["total"], 1);
    let out = p
        .cmd(&["--format", "json", "runs", "ls"])
        .current_dir(other.path())
        .env("KIROKU_STORE", p.store_dir())
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["runs"][0]["name"], "deep");
    // Nowhere to be found: the per-user default store is used (and created).
    let out = p
        .cmd(&["runs", "ls", "--format", "json"])
        .current_dir(other.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(p
        .path()
        .join(".data/kiroku/default/.kiroku/kiroku.db")
        .is_file());
}

#[test]
fn shared_init_makes_a_group_writable_store() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kiroku"))
        .args(["init", "--shared"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join(".kiroku"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o2070, 0o2070, "setgid and group rwx: {mode:o}");
    let db = std::fs::metadata(dir.path().join(".kiroku/kiroku.db"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(db & 0o060, 0o060);
}

#[test]
fn experiments_can_be_created_renamed_listed_and_removed() {
    let p = Project::new();
    p.ok(&["exp", "create", "vision"]);
    let out = p.kiroku(&["exp", "create", "vision"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    p.ok(&["exp", "rename", "vision", "vision-v2"]);
    let v = p.json(&["exp", "ls"]);
    assert_eq!(v["experiments"][0]["name"], "vision-v2");
    // Not on a terminal: nothing is deleted without --yes.
    let refused = p.kiroku(&["exp", "rm", "vision-v2"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("pass --yes"));
    assert_eq!(
        p.json(&["exp", "ls"])["experiments"][0]["name"],
        "vision-v2"
    );
    let s = p.script("t.sh", "true\n");
    p.ok(&["run", "--exp", "vision-v2", "--name", "r1", "--", &s]);
    let said = p.ok(&["exp", "rm", "vision-v2", "--yes"]);
    assert!(said.contains("its 1 run"), "{said}");
    assert_eq!(p.json(&["runs", "ls"])["runs"].as_array().unwrap().len(), 0);
    let again = p.kiroku(&["exp", "create", "vision-v2"]);
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("kiroku exp restore vision-v2"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(
        p.json(&["exp", "ls"])["experiments"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        p.json(&["exp", "ls", "--all"])["experiments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    p.ok(&["exp", "restore", "vision-v2"]);
    assert_eq!(
        p.json(&["exp", "ls"])["experiments"][0]["name"],
        "vision-v2"
    );
    assert_eq!(p.json(&["runs", "ls"])["runs"].as_array().unwrap().len(), 1);
}

#[test]
fn artifacts_and_inputs_are_recorded_with_hashes() {
    let p = Project::new();
    let s = p.script("t.sh", "true\n");
    p.ok(&["run", "--name", "r", "--", &s]);
    std::fs::write(p.path().join("data.csv"), "a,b\n1,2\n3,4\n").unwrap();
    std::fs::create_dir_all(p.path().join("model")).unwrap();
    std::fs::write(p.path().join("model/w.bin"), b"\x00\x01weights").unwrap();
    p.ok(&[
        "log",
        "input",
        "data.csv",
        "--context",
        "train",
        "--run",
        "r",
    ]);
    p.ok(&["log", "artifact", "model", "--run", "r"]);
    let out = p.kiroku(&[
        "log",
        "artifact",
        "data.csv",
        "--as",
        "../escape.csv",
        "--run",
        "r",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let run = &p.json(&["show", "r"])["run"];
    let input = &run["inputs"][0];
    assert_eq!(input["dataset"]["name"], "data");
    assert_eq!(input["dataset"]["rows"], 2);
    assert_eq!(input["dataset"]["schema"]["columns"][1], "b");
    assert_eq!(input["context"], "train");
    assert_eq!(input["dataset"]["hash"].as_str().unwrap().len(), 64);
    let art = &run["artifacts"][0];
    assert_eq!(art["path"], "model/w.bin");
    assert_eq!(art["size"], 9);
    let copied = p
        .store_dir()
        .join("runs")
        .join(run["id"].as_str().unwrap())
        .join("artifacts/model/w.bin");
    assert_eq!(std::fs::read(copied).unwrap(), b"\x00\x01weights");
    let v = p.json(&["runs", "ls", "--filter", "datasets.name = 'data'"]);
    assert_eq!(v["total"], 1);
}

#[test]
fn a_run_deleted_while_it_runs_keeps_the_commands_exit_code() {
    let p = Project::new();
    let body = format!(
        "'{}' rm \"$KIROKU_RUN_ID\" >/dev/null\necho 'acc: 0.5'\nexit 3\n",
        env!("CARGO_BIN_EXE_kiroku")
    );
    let s = p.script("t.sh", &body);
    let out = p.kiroku(&["run", "--name", "gone", "--", &s]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("must be in the 'active' state"),
        "the refused writes are warnings: {stderr}"
    );
    // Its end could not be recorded (a deleted run takes no writes), but it is not left
    // `running` without a process: the look finds its supervisor gone and marks it lost.
    let listed = p.json(&["runs", "ls", "--all"]);
    assert_eq!(listed["runs"][0]["name"], "gone");
    assert_eq!(listed["runs"][0]["status"], "lost");
}

/// A run that started 2026-11-01 05:30 UTC (01:30 in New York, still summer time, and 14:30
/// in Tokyo) and ended two hours later (02:30 in New York, after the clocks went back).
fn run_at_the_end_of_new_york_summer_time(p: &Project) -> String {
    use kiroku::store::prelude::*;
    use kiroku::store::SqliteStore;
    let start = 1_793_511_000_000;
    let store = SqliteStore::open(&p.store_dir(), false).unwrap();
    store
        .create_run(&kiroku::model::NewRun {
            experiment: "zones".into(),
            name: Some("dst".into()),
            user: "tester".into(),
            status: Some(kiroku::model::RunStatus::Finished),
            start_time: Some(start),
            end_time: Some(start + 2 * 3_600_000),
            ..Default::default()
        })
        .unwrap()
        .id
}

#[test]
fn times_show_and_parse_in_the_readers_zone() {
    let p = Project::new();
    let id = run_at_the_end_of_new_york_summer_time(&p);
    let in_zone = |tz: &str, args: &[&str]| {
        let out = p.cmd(args).env("TZ", tz).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let show = |tz: &str| in_zone(tz, &["show", &id, "--format", "table"]);
    assert!(
        show("UTC").contains("started    2026-11-01 05:30:00"),
        "{}",
        show("UTC")
    );
    assert!(show("Asia/Tokyo").contains("started    2026-11-01 14:30:00"));
    let ny = show("America/New_York");
    assert!(ny.contains("started    2026-11-01 01:30:00"), "{ny}");
    assert!(
        ny.contains("ended      2026-11-01 02:30:00 · took 2h00m"),
        "{ny}"
    );

    let count = |tz: &str, filter: &str| {
        let out = in_zone(tz, &["runs", "ls", "-f", filter, "--format", "json"]);
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["total"].clone()
    };
    assert_eq!(count("Asia/Tokyo", "start_time >= '2026-11-01 14:30'"), 1);
    assert_eq!(count("Asia/Tokyo", "start_time > '2026-11-01 14:30'"), 0);
    assert_eq!(count("UTC", "start_time = '2026-11-01 05:30'"), 1);
    // 01:30 comes twice in New York that night; the first (summer time) is meant.
    assert_eq!(
        count("America/New_York", "start_time = '2026-11-01 01:30'"),
        1
    );
    assert_eq!(
        count("America/New_York", "end_time = '2026-11-01 02:30'"),
        1
    );
    // An offset makes the zone irrelevant.
    assert_eq!(
        count("Asia/Tokyo", "start_time = '2026-11-01T05:30:00Z'"),
        1
    );
    assert_eq!(count("America/New_York", "start_time < '2026-11-01'"), 0);
}

#[test]
fn a_filter_time_sent_to_a_server_in_another_zone_means_the_readers_time() {
    let p = Project::new();
    run_at_the_end_of_new_york_summer_time(&p); // started 2026-11-01 05:30 UTC
    let server = common::Server::start_with(&p, &[], |cmd| {
        cmd.env("TZ", "Asia/Tokyo");
    })
    .unwrap();
    let count = |filter: &str| {
        let out = p
            .cmd(&[
                "--store",
                &server.url,
                "runs",
                "ls",
                "-f",
                filter,
                "--format",
                "json",
            ])
            .env("TZ", "UTC")
            .output()
            .unwrap();
        common::assert_ok(&out);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["total"].clone()
    };
    // Read in the server's zone (Tokyo, UTC+9) each answer would flip: 06:00 would be 21:00 UTC
    // the day before, 10:00 would be 01:00 UTC.
    assert_eq!(count("start_time > '2026-11-01 06:00'"), 0);
    assert_eq!(count("start_time < '2026-11-01 10:00'"), 1);
    // A filter the server must reject still gets its column from there.
    let out = p
        .cmd(&[
            "--store",
            &server.url,
            "runs",
            "ls",
            "-f",
            "start_time > 'soon'",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_filter_or_sort_naming_keys_no_run_has_says_so_with_close_keys() {
    let p = Project::new();
    let s = p.script(
        "t.sh",
        "echo '{\"val/acc\": 0.9, \"step\": 1}' >> \"$KIROKU_METRICS_FILE\"\n",
    );
    p.ok(&["run", "--name", "r1", "--", &s]);
    let out = p.kiroku(&["runs", "ls", "--filter", "metrics.val/ac > 0.5"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("metrics.val/ac is not a key of any run (close: metrics.val/acc)"),
        "{err}"
    );
    let out = p.kiroku(&["runs", "ls", "--sort", "val/acc"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("did you mean metrics.val/acc?"), "{err}");
    // A filter that matches nothing but names known keys adds nothing.
    let out = p.kiroku(&["runs", "ls", "--filter", "metrics.val/acc > 2"]);
    assert!(String::from_utf8_lossy(&out.stderr).is_empty());
}
