//! Hostile MLflow stores: `kiroku import mlflow` reads nothing outside the tree it imports,
//! never loops or hangs, and stays within bounded memory and time whatever it is given.
//!
//! Every test plants a sentinel file outside the imported tree (a unique content) and checks,
//! by scanning every byte the kiroku store wrote (database, WAL, copied artifacts), that the
//! sentinel never reached the store. The regression tests are named after what broke; the
//! property-based fuzzers at the end generate whole random `mlruns` trees (malformed
//! `meta.yaml`, metric lines, odd names and bytes, random links in and out of the tree) and
//! random `mlflow.db` files, and check the same, plus no panic and bounded time.
mod common;

use kiroku::error::KirokuError;
use kiroku::ingest::mlflow::{import_mlflow, ImportReport, SkipReason};
use kiroku::model::RunDetail;
use kiroku::store::prelude::*;
use kiroku::store::SqliteStore;
use proptest::prelude::*;
use std::ffi::OsStr;
use std::fs;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The longest any single import here may take (debug build, shared machine).
const IMPORT_TIME_LIMIT: Duration = Duration::from_secs(30);

/// A project folder to import (`proj/mlruns`, `proj/mlartifacts`, `proj/mlflow.db`), a secret
/// outside it, and a kiroku store beside both.
struct Scene {
    tmp: tempfile::TempDir,
    sentinel: String,
}

impl Scene {
    fn new() -> Scene {
        let tmp = tempfile::tempdir().unwrap();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let sentinel = format!("KIROKU-SENTINEL-{}-{nanos:x}", std::process::id());
        let scene = Scene { tmp, sentinel };
        fs::create_dir_all(scene.outside().join("dir")).unwrap();
        fs::write(scene.secret(), &scene.sentinel).unwrap();
        fs::write(scene.outside().join("dir/secret.txt"), &scene.sentinel).unwrap();
        fs::create_dir_all(scene.mlruns()).unwrap();
        scene
    }

    fn root(&self) -> &Path {
        self.tmp.path()
    }

    fn proj(&self) -> PathBuf {
        self.root().join("proj")
    }

    fn mlruns(&self) -> PathBuf {
        self.proj().join("mlruns")
    }

    fn outside(&self) -> PathBuf {
        self.root().join("outside")
    }

    /// A file outside the tree holding the sentinel.
    fn secret(&self) -> PathBuf {
        self.outside().join("secret.txt")
    }

    fn store_dir(&self) -> PathBuf {
        self.root().join("store/.kiroku")
    }

    /// `mlruns/<id>/meta.yaml` of an active experiment named `exp-<id>`.
    fn experiment(&self, id: &str) -> PathBuf {
        write_experiment(&self.mlruns(), id)
    }

    /// A finished run of experiment `exp` with one param `p0`, one tag `t0` and one metric
    /// `m0`; `artifact_uri` as given.
    fn run(&self, exp: &str, id: &str, artifact_uri: &str) -> PathBuf {
        write_run(&self.mlruns().join(exp), exp, id, artifact_uri)
    }

    fn open_store(&self) -> SqliteStore {
        SqliteStore::open(&self.store_dir(), false).expect("open store")
    }

    /// Imports `path` into the scene's store within the time limit.
    fn import(&self, path: &Path) -> (SqliteStore, Result<ImportReport, KirokuError>) {
        let store = self.open_store();
        let started = Instant::now();
        let result = import_mlflow(&store, path, "importer");
        let took = started.elapsed();
        assert!(took < IMPORT_TIME_LIMIT, "the import took {took:?}");
        self.assert_sentinel_absent();
        if let Ok(report) = &result {
            let json = serde_json::to_string(report).unwrap();
            assert!(
                !json.contains(&self.sentinel),
                "the report quotes the secret"
            );
        }
        (store, result)
    }

    /// Imports `proj` and expects it to work.
    fn import_ok(&self) -> (SqliteStore, ImportReport) {
        let (store, result) = self.import(&self.proj());
        (store, result.expect("import"))
    }

    /// Fails when any byte the kiroku store wrote holds the sentinel.
    fn assert_sentinel_absent(&self) {
        let hits = files_containing(&self.store_dir(), &self.sentinel);
        assert!(hits.is_empty(), "the secret reached the store: {hits:?}");
        let hits = files_containing(&self.store_dir(), "root:x:0:0:");
        assert!(hits.is_empty(), "/etc/passwd reached the store: {hits:?}");
    }
}

fn write_experiment(mlruns: &Path, id: &str) -> PathBuf {
    let dir = mlruns.join(id);
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("meta.yaml"),
        format!(
            "artifact_location: file://{}\ncreation_time: 1700000000000\nexperiment_id: '{id}'\nlast_update_time: 1700000000000\nlifecycle_stage: active\nname: exp-{id}\n",
            dir.display()
        ),
    )
    .unwrap();
    dir
}

fn run_meta(exp: &str, id: &str, artifact_uri: &str) -> String {
    format!(
        "artifact_uri: {artifact_uri}\nend_time: 1700000001000\nentry_point_name: ''\nexperiment_id: '{exp}'\nlifecycle_stage: active\nrun_id: {id}\nrun_name: run-{}\nsource_name: ''\nsource_type: 4\nsource_version: ''\nstart_time: 1700000000000\nstatus: 3\ntags: []\nuser_id: alice\n",
        &id[..6.min(id.len())]
    )
}

fn write_run(exp_dir: &Path, exp: &str, id: &str, artifact_uri: &str) -> PathBuf {
    let dir = exp_dir.join(id);
    for sub in ["params", "tags", "metrics"] {
        fs::create_dir_all(dir.join(sub)).unwrap();
    }
    fs::write(dir.join("meta.yaml"), run_meta(exp, id, artifact_uri)).unwrap();
    fs::write(dir.join("params/p0"), "0.1").unwrap();
    fs::write(dir.join("tags/t0"), "v").unwrap();
    fs::write(dir.join("metrics/m0"), "1700000000000 0.5 0\n").unwrap();
    dir
}

/// A run id: 32 hex characters (with letters, so that YAML reads it as text).
fn rid(n: u32) -> String {
    format!("abcd{n:028x}")
}

/// Files under `dir` (links not followed) whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                // The needles are ASCII, which a lossy decoding keeps intact; std's substring
                // search is fast even in a debug build.
                let bytes = fs::read(entry.path()).unwrap();
                if String::from_utf8_lossy(&bytes).contains(needle) {
                    hits.push(entry.path());
                }
            }
        }
    }
    hits
}

fn detail(store: &SqliteStore, id: &str) -> RunDetail {
    store.run(id).unwrap_or_else(|e| panic!("run {id}: {e}"))
}

fn skipped(report: &ImportReport, reason: SkipReason) -> u64 {
    report.skipped.get(&reason).copied().unwrap_or(0)
}

fn warned(report: &ImportReport, needles: &[&str]) -> bool {
    report
        .warnings
        .iter()
        .any(|w| needles.iter().all(|n| w.contains(n)))
}

fn keys(map: &std::collections::BTreeMap<String, String>) -> Vec<&str> {
    map.keys().map(String::as_str).collect()
}

/// The run's single artifact record, expected to be a reference to `location`.
fn assert_referenced(store: &SqliteStore, id: &str, location: &str) {
    let artifacts = detail(store, id).artifacts;
    assert_eq!(artifacts.len(), 1, "{artifacts:?}");
    assert_eq!(artifacts[0].stored, "referenced");
    assert_eq!(artifacts[0].location.as_deref(), Some(location));
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
}

/// The peak resident memory of this process so far, in bytes.
fn peak_rss() -> u64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) }, 0);
    usage.ru_maxrss as u64 * 1024
}

// ---------------------------------------------------------------------------------------------
// Links out of the tree

#[test]
fn import_does_not_follow_a_tag_folder_symlink_to_etc() {
    let scene = Scene::new();
    scene.experiment("1");
    let run = scene.run("1", &rid(1), "");
    symlink("/etc", run.join("tags/etc_dir")).unwrap();
    symlink(scene.outside().join("dir"), run.join("tags/out_dir")).unwrap();
    symlink(scene.outside().join("dir"), run.join("params/out_dir")).unwrap();
    let (store, report) = scene.import_ok();
    assert_eq!(report.runs_imported, 1, "{report:#?}");
    let run = detail(&store, &rid(1)).run;
    assert_eq!(keys(&run.tags), ["t0"], "no tag from /etc");
    assert_eq!(keys(&run.params), ["p0"]);
    assert_eq!(report.tags, 1);
    assert_eq!(
        skipped(&report, SkipReason::LinkOutsideTree),
        3,
        "{report:#?}"
    );
    assert!(warned(
        &report,
        &["tags/etc_dir", "/etc", "outside the imported tree"]
    ));
}

#[test]
fn import_does_not_read_a_param_file_symlink_to_a_secret() {
    let scene = Scene::new();
    scene.experiment("1");
    let run = scene.run("1", &rid(1), "");
    symlink(scene.secret(), run.join("params/abs")).unwrap();
    symlink("../../../../../outside/secret.txt", run.join("params/rel")).unwrap();
    symlink(scene.secret(), run.join("tags/t1")).unwrap();
    symlink("/etc/passwd", run.join("tags/passwd")).unwrap();
    symlink(scene.secret(), run.join("metrics/m1")).unwrap();
    let (store, report) = scene.import_ok();
    let run = detail(&store, &rid(1)).run;
    assert_eq!(keys(&run.params), ["p0"]);
    assert_eq!(keys(&run.tags), ["t0"]);
    assert_eq!(run.metrics.keys().collect::<Vec<_>>(), ["m0"]);
    assert_eq!(
        skipped(&report, SkipReason::LinkOutsideTree),
        5,
        "{report:#?}"
    );
    assert!(warned(&report, &["params/rel", "secret.txt"]));
}

#[test]
fn import_reads_a_file_link_that_stays_inside_the_tree() {
    let scene = Scene::new();
    scene.experiment("1");
    let run = scene.run("1", &rid(1), "");
    symlink("../params/p0", run.join("tags/same_as_p0")).unwrap();
    let (store, report) = scene.import_ok();
    assert!(report.skipped.is_empty(), "{report:#?}");
    let run = detail(&store, &rid(1)).run;
    assert_eq!(run.tags.get("same_as_p0").map(String::as_str), Some("0.1"));
}

#[test]
fn import_does_not_loop_on_self_links() {
    let scene = Scene::new();
    scene.experiment("1");
    let run = scene.run("1", &rid(1), "");
    // Each link to a folder above doubles what a walk that follows links sees, per level.
    for name in ["a", "b", "c", "d"] {
        symlink(".", run.join("params").join(name)).unwrap();
        symlink("..", run.join("tags").join(name)).unwrap();
        symlink(".", run.join("metrics").join(name)).unwrap();
    }
    fs::create_dir_all(run.join("artifacts")).unwrap();
    fs::write(run.join("artifacts/model.txt"), "weights").unwrap();
    symlink(".", run.join("artifacts/a")).unwrap();
    symlink("..", run.join("artifacts/b")).unwrap();
    symlink(".", scene.mlruns().join("1/loop")).unwrap();
    symlink(".", scene.mlruns().join("loop")).unwrap();
    // Scene::import fails the test past IMPORT_TIME_LIMIT.
    let (store, report) = scene.import_ok();
    assert_eq!(report.runs_imported, 1);
    let detail = detail(&store, &rid(1));
    assert_eq!(keys(&detail.run.params), ["p0"]);
    assert_eq!(keys(&detail.run.tags), ["t0"]);
    let artifacts: Vec<&str> = detail.artifacts.iter().map(|a| a.path.as_str()).collect();
    assert_eq!(artifacts, ["model.txt"]);
    assert_eq!(skipped(&report, SkipReason::FolderLink), 16, "{report:#?}");
}

#[test]
fn import_does_not_follow_an_experiment_folder_link_out_of_the_tree() {
    let scene = Scene::new();
    scene.experiment("1");
    scene.run("1", &rid(1), "");
    // A whole, valid experiment outside, whose run holds the secret as a param.
    let elsewhere = scene.outside().join("mlruns");
    write_experiment(&elsewhere, "2");
    let run = write_run(&elsewhere.join("2"), "2", &rid(2), "");
    fs::write(run.join("params/secret"), &scene.sentinel).unwrap();
    symlink(elsewhere.join("2"), scene.mlruns().join("2")).unwrap();
    // ... and a run folder linked in from it.
    symlink(&run, scene.mlruns().join("1").join(rid(2))).unwrap();
    let (store, report) = scene.import_ok();
    assert_eq!(report.runs_imported, 1);
    assert!(store.run(&rid(2)).is_err());
    assert_eq!(skipped(&report, SkipReason::FolderLink), 2, "{report:#?}");
}

#[test]
fn import_does_not_follow_an_mlruns_link_out_of_the_imported_folder() {
    let scene = Scene::new();
    let elsewhere = scene.outside().join("store/mlruns");
    write_experiment(&elsewhere, "2");
    let run = write_run(&elsewhere.join("2"), "2", &rid(2), "");
    fs::write(run.join("params/secret"), &scene.sentinel).unwrap();
    fs::remove_dir(scene.mlruns()).unwrap();
    symlink(&elsewhere, scene.mlruns()).unwrap();
    let (_store, result) = scene.import(&scene.proj());
    let err = result.unwrap_err();
    assert!(err.to_string().contains("no MLflow store"), "{err}");

    // Named directly, the folder is the user's choice and imports (the secret with it).
    let store = scene.open_store();
    let report = import_mlflow(&store, &elsewhere, "importer").unwrap();
    assert_eq!(report.runs_imported, 1);
}

// ---------------------------------------------------------------------------------------------
// Artifact locations

#[test]
fn a_path_named_with_dotdot_or_through_a_link_still_copies_the_runs_artifacts() {
    let scene = Scene::new();
    scene.experiment("1");
    let run = scene.run("1", &rid(1), "file:///elsewhere/mlruns/1/x/artifacts");
    fs::create_dir_all(run.join("artifacts")).unwrap();
    fs::write(run.join("artifacts/model.txt"), "weights").unwrap();
    symlink(scene.proj(), scene.root().join("link")).unwrap();
    for path in [
        scene.root().join("outside/../proj"),
        scene.root().join("outside/../proj/mlruns"),
        scene.root().join("link"),
    ] {
        let store_dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&store_dir.path().join(".kiroku"), false).unwrap();
        let report = import_mlflow(&store, &path, "importer").unwrap();
        assert_eq!(
            report.artifacts_copied,
            1,
            "{}: {report:#?}",
            path.display()
        );
        assert!(report.skipped.is_empty(), "{report:#?}");
    }
}

#[test]
fn import_references_an_absolute_artifact_uri_outside_the_tree() {
    let scene = Scene::new();
    scene.experiment("1");
    let outside = scene.outside().join("dir").display().to_string();
    scene.run("1", &rid(1), &outside);
    let file_uri = format!("file://{outside}");
    scene.run("1", &rid(2), &file_uri);
    let (store, report) = scene.import_ok();
    assert_eq!(report.artifacts_copied, 0);
    assert_eq!(report.artifacts_referenced, 2);
    assert_eq!(
        skipped(&report, SkipReason::ArtifactsOutsideTree),
        2,
        "{report:#?}"
    );
    assert_referenced(&store, &rid(1), &outside);
    assert_referenced(&store, &rid(2), &file_uri);
    assert!(warned(&report, &[&rid(1), "outside the imported tree"]));
}

#[test]
fn import_references_mlflow_artifacts_uris_that_climb_out_with_dotdot() {
    let scene = Scene::new();
    scene.experiment("1");
    // proj/mlartifacts/../../outside/dir is the secret's folder.
    fs::create_dir_all(scene.proj().join("mlartifacts")).unwrap();
    let climbing = "mlflow-artifacts:/../../outside/dir";
    scene.run("1", &rid(1), climbing);
    let encoded = "mlflow-artifacts:/%2e%2e/%2e%2e/outside/dir";
    scene.run("1", &rid(2), encoded);
    let relative = "../outside/dir";
    scene.run("1", &rid(3), relative);
    let (store, report) = scene.import_ok();
    assert_eq!(report.artifacts_copied, 0);
    assert_eq!(
        skipped(&report, SkipReason::ArtifactsOutsideTree),
        3,
        "{report:#?}"
    );
    assert_referenced(&store, &rid(1), climbing);
    assert_referenced(&store, &rid(2), encoded);
    assert_referenced(&store, &rid(3), relative);
    assert!(warned(&report, &["names '..'"]));
}

#[test]
fn import_does_not_copy_through_an_artifacts_folder_link_out_of_the_tree() {
    let scene = Scene::new();
    scene.experiment("1");
    let run = scene.run("1", &rid(1), "");
    symlink(scene.outside().join("dir"), run.join("artifacts")).unwrap();
    let run = scene.run("1", &rid(2), "");
    symlink("/etc", run.join("artifacts")).unwrap();
    let (store, report) = scene.import_ok();
    assert_eq!(report.artifacts_copied, 0);
    assert_eq!(
        skipped(&report, SkipReason::ArtifactsOutsideTree),
        2,
        "{report:#?}"
    );
    assert!(detail(&store, &rid(2)).artifacts.is_empty());
}

#[test]
fn import_skips_artifact_file_links_that_lead_out_of_the_tree() {
    let scene = Scene::new();
    scene.experiment("1");
    let run = scene.run("1", &rid(1), "");
    fs::create_dir_all(run.join("artifacts/sub")).unwrap();
    fs::write(run.join("artifacts/sub/real.txt"), "real").unwrap();
    symlink(scene.secret(), run.join("artifacts/leak.txt")).unwrap();
    symlink("/etc/passwd", run.join("artifacts/sub/passwd")).unwrap();
    symlink("sub/real.txt", run.join("artifacts/alias.txt")).unwrap();
    let (store, report) = scene.import_ok();
    let artifacts = detail(&store, &rid(1)).artifacts;
    let paths: Vec<&str> = artifacts.iter().map(|a| a.path.as_str()).collect();
    assert_eq!(paths, ["alias.txt", "sub/real.txt"]);
    assert!(artifacts.iter().all(|a| a.stored == "copied"));
    assert_eq!(
        skipped(&report, SkipReason::LinkOutsideTree),
        2,
        "{report:#?}"
    );
}

#[test]
fn import_copies_a_folder_shared_by_many_runs_once() {
    let scene = Scene::new();
    scene.experiment("1");
    let shared = scene.proj().join("mlartifacts/shared");
    fs::create_dir_all(&shared).unwrap();
    fs::write(shared.join("big.bin"), vec![7u8; 4096]).unwrap();
    for n in 1..=3 {
        scene.run("1", &rid(n), "./mlartifacts/shared");
    }
    // A store folder itself is never a run's artifacts.
    scene.run("1", &rid(4), "./mlruns");
    scene.run("1", &rid(5), "mlflow-artifacts:/");
    let (_store, report) = scene.import_ok();
    assert_eq!(report.artifacts_copied, 1);
    assert_eq!(report.artifact_bytes, 4096);
    assert_eq!(report.artifacts_referenced, 4);
    assert_eq!(
        skipped(&report, SkipReason::ArtifactsOverlap),
        4,
        "{report:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Sizes, odd files, odd names

#[test]
fn import_cuts_a_huge_param_value_without_reading_it_whole() {
    let scene = Scene::new();
    scene.experiment("1");
    let run = scene.run("1", &rid(1), "");
    // 1 GiB files that take no disk: their first 10,000 bytes are 'x', the rest a hole.
    for path in [run.join("params/huge"), run.join("tags/huge")] {
        let mut file = fs::File::create(path).unwrap();
        file.write_all(&[b'x'; 10_000]).unwrap();
        file.set_len(1 << 30).unwrap();
    }
    let before = peak_rss();
    let (store, report) = scene.import_ok();
    let grew = peak_rss().saturating_sub(before);
    assert!(
        grew < 256 << 20,
        "the import grew the process by {grew} bytes"
    );
    let run = detail(&store, &rid(1)).run;
    assert_eq!(run.params["huge"], "x".repeat(6000));
    assert_eq!(run.tags["huge"], "x".repeat(8000));
    assert_eq!(report.values_truncated, 2);
    assert!(warned(
        &report,
        &["params/huge", "longer than 6000 characters"]
    ));
}

#[test]
fn import_skips_an_overlong_metric_line_and_keeps_the_rest() {
    let scene = Scene::new();
    scene.experiment("1");
    let run = scene.run("1", &rid(1), "");
    let mut file = fs::File::create(run.join("metrics/loss")).unwrap();
    file.write_all(b"1700000000000 0.5 0\n").unwrap();
    // A 32 MiB line (a hole), then one more good line.
    file.set_len(32 << 20).unwrap();
    file.seek(SeekFrom::End(0)).unwrap();
    file.write_all(b"\n1700000000001 0.25 1\n").unwrap();
    drop(file);
    let (store, report) = scene.import_ok();
    let loss = &detail(&store, &rid(1)).run.metrics["loss"];
    assert_eq!(loss.count, 2);
    assert_eq!(loss.last, 0.25);
    assert_eq!(skipped(&report, SkipReason::TooLarge), 1, "{report:#?}");
    assert!(warned(
        &report,
        &["metrics/loss:2:", "longer than 4096 bytes"]
    ));
    assert!(report.warnings.iter().all(|w| w.len() < 1000));
}

#[test]
fn import_does_not_block_on_fifos() {
    let scene = Scene::new();
    scene.experiment("1");
    let run = scene.run("1", &rid(1), "");
    mkfifo(&run.join("params/fifo"));
    mkfifo(&run.join("metrics/fifo"));
    fs::create_dir_all(run.join("artifacts")).unwrap();
    mkfifo(&run.join("artifacts/fifo"));
    fs::write(run.join("artifacts/ok.txt"), "ok").unwrap();
    let blocked = scene.run("1", &rid(2), "");
    fs::remove_file(blocked.join("meta.yaml")).unwrap();
    mkfifo(&blocked.join("meta.yaml"));
    let (done, wait) = mpsc::channel();
    let proj = scene.proj();
    let store_dir = scene.store_dir();
    std::thread::spawn(move || {
        let store = SqliteStore::open(&store_dir, false).unwrap();
        let _ = done.send(import_mlflow(&store, &proj, "importer"));
    });
    let report = wait
        .recv_timeout(IMPORT_TIME_LIMIT)
        .expect("the import blocked on a FIFO")
        .unwrap();
    scene.assert_sentinel_absent();
    assert_eq!(report.runs_imported, 1);
    assert_eq!(skipped(&report, SkipReason::NotAFile), 4, "{report:#?}");
    let store = scene.open_store();
    let artifacts = detail(&store, &rid(1)).artifacts;
    assert_eq!(artifacts.len(), 1);
    assert_eq!(artifacts[0].path, "ok.txt");
}

#[test]
fn import_warns_on_broken_and_looping_links_instead_of_failing() {
    let scene = Scene::new();
    scene.experiment("1");
    let run = scene.run("1", &rid(1), "");
    symlink("nothing-here", run.join("params/broken")).unwrap();
    symlink("selfloop", run.join("params/selfloop")).unwrap();
    symlink("ping", run.join("tags/pong")).unwrap();
    symlink("pong", run.join("tags/ping")).unwrap();
    let (store, report) = scene.import_ok();
    assert_eq!(keys(&detail(&store, &rid(1)).run.params), ["p0"]);
    assert_eq!(skipped(&report, SkipReason::BrokenLink), 1, "{report:#?}");
    assert_eq!(skipped(&report, SkipReason::Unreadable), 3, "{report:#?}");
}

#[test]
fn import_bounds_deeply_nested_folders() {
    let scene = Scene::new();
    scene.experiment("1");
    let run = scene.run("1", &rid(1), "");
    // A param key nested 200 folders deep is longer than 250 characters.
    let mut deep = run.join("params");
    for _ in 0..200 {
        deep = deep.join("a");
    }
    fs::create_dir_all(&deep).unwrap();
    fs::write(deep.join("v"), "1").unwrap();
    // Artifacts nested deeper than the walk goes.
    let mut deep = run.join("artifacts");
    for _ in 0..100 {
        deep = deep.join("d");
    }
    fs::create_dir_all(&deep).unwrap();
    fs::write(deep.join("f"), "1").unwrap();
    fs::write(run.join("artifacts/top.txt"), "1").unwrap();
    let (store, report) = scene.import_ok();
    let detail = detail(&store, &rid(1));
    assert_eq!(keys(&detail.run.params), ["p0"]);
    assert_eq!(detail.artifacts.len(), 1);
    assert_eq!(skipped(&report, SkipReason::InvalidKey), 1, "{report:#?}");
    assert_eq!(skipped(&report, SkipReason::TooDeep), 1, "{report:#?}");
}

#[test]
fn import_skips_params_with_keys_kiroku_refuses_and_keeps_the_run() {
    let scene = Scene::new();
    scene.experiment("1");
    let run = scene.run("1", &rid(1), "");
    fs::write(run.join("params/bad\u{1}key"), "1").unwrap();
    fs::write(run.join("tags").join(OsStr::from_bytes(b"bin\xffary")), "1").unwrap();
    fs::write(run.join("tags").join("k".repeat(251)), "1").unwrap();
    let (store, report) = scene.import_ok();
    assert_eq!(report.runs_imported, 1, "{report:#?}");
    let run = detail(&store, &rid(1)).run;
    assert_eq!(keys(&run.params), ["p0"]);
    assert_eq!(keys(&run.tags), ["t0"]);
    assert_eq!(skipped(&report, SkipReason::InvalidKey), 2, "{report:#?}");
    assert_eq!(skipped(&report, SkipReason::NameNotUtf8), 1, "{report:#?}");
}

#[test]
fn import_survives_hostile_meta_yaml() {
    let scene = Scene::new();
    scene.experiment("1");
    scene.run("1", &rid(1), "");
    // Deeply nested flow lists (a recursive reader overflows its stack on these).
    let nested = scene.run("1", &rid(2), "");
    let depth = 400_000;
    fs::write(
        nested.join("meta.yaml"),
        format!("tags: {}{}\n", "[".repeat(depth), "]".repeat(depth)),
    )
    .unwrap();
    // Larger than any meta.yaml MLflow writes.
    let huge = scene.run("1", &rid(3), "");
    let mut file = fs::File::create(huge.join("meta.yaml")).unwrap();
    file.write_all(run_meta("1", &rid(3), "").as_bytes())
        .unwrap();
    file.write_all(&vec![b'#'; 2 << 20]).unwrap();
    drop(file);
    // Garbage bytes.
    let garbage = scene.run("1", &rid(4), "");
    fs::write(garbage.join("meta.yaml"), b"\xff\xfe\x00: '\n  \"\\U\n").unwrap();
    let (_store, report) = scene.import_ok();
    assert_eq!(report.runs_imported, 1, "{report:#?}");
    assert_eq!(skipped(&report, SkipReason::TooLarge), 1, "{report:#?}");
    assert!(warned(&report, &[&rid(2), "nested collections"]));
    assert!(report.warnings.iter().all(|w| w.len() < 1000));
}

// ---------------------------------------------------------------------------------------------
// mlflow.db

/// The tables and columns of MLflow's SQL store that the importer reads.
const MLFLOW_SCHEMA: &str = "
CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY, name VARCHAR(256) NOT NULL,
    artifact_location VARCHAR(256), lifecycle_stage VARCHAR(32));
CREATE TABLE experiment_tags (key VARCHAR(250), value VARCHAR(5000), experiment_id INTEGER);
CREATE TABLE runs (run_uuid VARCHAR(32) PRIMARY KEY, name VARCHAR(250), user_id VARCHAR(256),
    status VARCHAR(9), start_time BIGINT, end_time BIGINT, lifecycle_stage VARCHAR(20),
    artifact_uri VARCHAR(200), experiment_id INTEGER);
CREATE TABLE params (key VARCHAR(250), value VARCHAR(8000), run_uuid VARCHAR(32));
CREATE TABLE tags (key VARCHAR(250), value VARCHAR(8000), run_uuid VARCHAR(32));
CREATE TABLE metrics (key VARCHAR(250), value FLOAT, timestamp BIGINT, run_uuid VARCHAR(32),
    step BIGINT, is_nan BOOLEAN);
";

/// `proj/mlflow.db` with experiment 1 and one run per artifact URI (ids `rid(1)`, ...).
fn write_db(scene: &Scene, artifact_uris: &[&str]) -> rusqlite::Connection {
    fs::create_dir_all(scene.proj()).unwrap();
    let conn = rusqlite::Connection::open(scene.proj().join("mlflow.db")).unwrap();
    conn.execute_batch(MLFLOW_SCHEMA).unwrap();
    conn.execute(
        "INSERT INTO experiments VALUES (1, 'exp-1', '', 'active')",
        [],
    )
    .unwrap();
    for (n, uri) in artifact_uris.iter().enumerate() {
        let id = rid(n as u32 + 1);
        conn.execute(
            "INSERT INTO runs VALUES (?1, 'r', 'alice', 'FINISHED', 1700000000000, 1700000001000, 'active', ?2, 1)",
            rusqlite::params![id, uri],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO params VALUES ('p0', '0.1', ?1)",
            rusqlite::params![id],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO metrics VALUES ('m0', 0.5, 1700000000000, ?1, 0, 0)",
            rusqlite::params![id],
        )
        .unwrap();
    }
    conn
}

#[test]
fn db_import_references_artifact_uris_outside_the_tree() {
    let scene = Scene::new();
    fs::remove_dir(scene.mlruns()).unwrap();
    let outside = scene.outside().join("dir").display().to_string();
    let file_uri = format!("file://{outside}");
    let inside = scene.proj().join("mlartifacts/1/r3/artifacts");
    fs::create_dir_all(&inside).unwrap();
    fs::write(inside.join("model.txt"), "weights").unwrap();
    symlink(scene.secret(), inside.join("leak.txt")).unwrap();
    let uris = [
        outside.as_str(),
        "mlflow-artifacts:/../../outside/dir",
        "mlflow-artifacts:/1/r3/artifacts",
        file_uri.as_str(),
        "s3://bucket/1/r5/artifacts",
    ];
    drop(write_db(&scene, &uris));
    let (store, result) = scene.import(&scene.proj().join("mlflow.db"));
    let report = result.unwrap();
    assert_eq!(report.runs_imported, 5);
    assert_eq!(report.artifacts_copied, 1);
    assert_eq!(report.artifacts_referenced, 4);
    assert_eq!(
        skipped(&report, SkipReason::ArtifactsOutsideTree),
        3,
        "{report:#?}"
    );
    assert_eq!(skipped(&report, SkipReason::LinkOutsideTree), 1);
    let copied = detail(&store, &rid(3)).artifacts;
    assert_eq!(copied.len(), 1);
    assert_eq!(copied[0].path, "model.txt");
    for (n, uri) in uris.iter().enumerate() {
        if n != 2 {
            assert_referenced(&store, &rid(n as u32 + 1), uri);
        }
    }
}

#[test]
fn db_import_cuts_long_values_to_mlflows_limits() {
    let scene = Scene::new();
    fs::remove_dir(scene.mlruns()).unwrap();
    let conn = write_db(&scene, &[""]);
    conn.execute(
        "INSERT INTO params VALUES ('long', ?1, ?2)",
        rusqlite::params!["y".repeat(10_000), rid(1)],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO tags VALUES ('long', ?1, ?2)",
        rusqlite::params!["z".repeat(9_000), rid(1)],
    )
    .unwrap();
    drop(conn);
    let (store, result) = scene.import(&scene.proj());
    let report = result.unwrap();
    let run = detail(&store, &rid(1)).run;
    assert_eq!(run.params["long"], "y".repeat(6000));
    assert_eq!(run.tags["long"], "z".repeat(8000));
    assert_eq!(report.values_truncated, 2);
}

#[test]
fn db_import_refuses_a_gigantic_value_without_loading_it() {
    let scene = Scene::new();
    fs::remove_dir(scene.mlruns()).unwrap();
    let conn = write_db(&scene, &[""]);
    conn.execute(
        "INSERT INTO tags VALUES ('huge', zeroblob(64 * 1024 * 1024), ?1)",
        rusqlite::params![rid(1)],
    )
    .unwrap();
    drop(conn);
    let before = peak_rss();
    let (store, result) = scene.import(&scene.proj());
    let grew = peak_rss().saturating_sub(before);
    assert!(
        grew < 48 << 20,
        "the import grew the process by {grew} bytes"
    );
    let err = result.unwrap_err();
    assert!(
        err.to_string().contains("holds a value longer than"),
        "{err}"
    );
    assert_eq!(err.exit_code(), 2);
    assert!(store.run(&rid(1)).is_err());
}

// ---------------------------------------------------------------------------------------------
// The command line

#[test]
fn the_import_summary_counts_what_was_left_out() {
    let project = common::Project::new();
    let scene = Scene::new();
    scene.experiment("1");
    let run = scene.run("1", &rid(1), "");
    symlink(scene.secret(), run.join("params/leak")).unwrap();
    symlink("/etc", run.join("tags/etc_dir")).unwrap();
    let proj = scene.proj().display().to_string();
    let out = project.kiroku(&["import", "mlflow", &proj, "--format", "json"]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stdout.contains(&scene.sentinel) && !stderr.contains(&scene.sentinel));
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["schema"], "kiroku.import/v1");
    assert_eq!(json["report"]["skipped"]["link_outside_tree"], 2);
    assert!(
        stderr.contains("params/leak") && stderr.contains("outside the imported tree"),
        "{stderr}"
    );
    let text = project.ok(&["import", "mlflow", &proj, "--format", "table"]);
    assert!(text.contains("already present"), "{text}");
    assert!(text.contains("left out: 2 link_outside_tree"), "{text}");
    let hits = files_containing(&project.store_dir(), &scene.sentinel);
    assert!(hits.is_empty(), "{hits:?}");
}

// ---------------------------------------------------------------------------------------------
// Property-based fuzzers: whole random stores

/// Where a generated link points.
#[derive(Debug, Clone, Copy)]
enum LinkTo {
    Etc,
    EtcPasswd,
    Secret,
    SecretDir,
    SecretRelative,
    Dot,
    DotDot,
    Up3,
    Nothing,
    SelfLoop,
    Mlruns,
    Sibling,
}

impl LinkTo {
    fn target(self, scene: &Scene, own_name: &OsStr) -> PathBuf {
        match self {
            LinkTo::Etc => "/etc".into(),
            LinkTo::EtcPasswd => "/etc/passwd".into(),
            LinkTo::Secret => scene.secret(),
            LinkTo::SecretDir => scene.outside().join("dir"),
            LinkTo::SecretRelative => "../../../../../outside/secret.txt".into(),
            LinkTo::Dot => ".".into(),
            LinkTo::DotDot => "..".into(),
            LinkTo::Up3 => "../../..".into(),
            LinkTo::Nothing => "nothing-here".into(),
            LinkTo::SelfLoop => Path::new(own_name).into(),
            LinkTo::Mlruns => scene.mlruns(),
            LinkTo::Sibling => "p0".into(),
        }
    }
}

fn link_to() -> impl Strategy<Value = LinkTo> {
    prop::sample::select(vec![
        LinkTo::Etc,
        LinkTo::EtcPasswd,
        LinkTo::Secret,
        LinkTo::SecretDir,
        LinkTo::SecretRelative,
        LinkTo::Dot,
        LinkTo::DotDot,
        LinkTo::Up3,
        LinkTo::Nothing,
        LinkTo::SelfLoop,
        LinkTo::Mlruns,
        LinkTo::Sibling,
    ])
}

/// Whether `name` is a relative path of plain components (never `..`: the fuzzer must not
/// write outside its scene).
fn safe_name(name: &[u8]) -> bool {
    !name.is_empty()
        && !name.contains(&0)
        && name
            .split(|&b| b == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b".." && c.len() <= 255)
}

/// A file name: ordinary, dotted, long, arbitrary bytes (non-UTF-8 too), unicode, nested.
fn name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => "[a-z0-9_.-]{1,12}".prop_map(String::into_bytes),
        1 => Just(b"..a".to_vec()),
        1 => Just(b".hidden".to_vec()),
        1 => "[a-z]{200,255}".prop_map(String::into_bytes),
        2 => prop::collection::vec(any::<u8>(), 1..12),
        1 => Just("名前 ü\u{1}".as_bytes().to_vec()),
        2 => "[a-z]{1,4}/[a-z]{1,4}(/[a-z]{1,3}){0,2}".prop_map(String::into_bytes),
    ]
    .prop_filter("a relative name inside its folder", |n| safe_name(n))
}

/// What a generated file holds.
#[derive(Debug, Clone)]
enum Content {
    Bytes(Vec<u8>),
    Text(String),
    Link(LinkTo),
    Fifo,
    /// A sparse 1 MiB file: a few bytes, then a hole.
    Huge,
}

fn content() -> impl Strategy<Value = Content> {
    prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..64).prop_map(Content::Bytes),
        3 => "\\PC{0,40}".prop_map(Content::Text),
        3 => link_to().prop_map(Content::Link),
        1 => Just(Content::Fifo),
        1 => Just(Content::Huge),
    ]
}

fn metric_line() -> impl Strategy<Value = String> {
    prop_oneof![
        (0i64..2_000_000_000_000, -1e3f64..1e3, 0i64..100)
            .prop_map(|(t, v, s)| format!("{t} {v} {s}")),
        (any::<i64>(), any::<f64>(), any::<i64>()).prop_map(|(t, v, s)| format!("{t} {v} {s}")),
        prop::sample::select(vec![
            "1 nan 2",
            "1 inf",
            "1 -inf 2 dataset 0123abcd",
            "1 2 3 4",
            "",
            " ",
            "1  2 3",
            "99999999999999999999 1 1",
            "1 1e999 -9223372036854775808",
        ])
        .prop_map(str::to_string),
        "\\PC{0,60}",
        "[0-9 .e+-]{0,30}",
    ]
}

fn metric_file() -> impl Strategy<Value = Content> {
    prop_oneof![
        4 => prop::collection::vec(metric_line(), 0..8).prop_map(|l| Content::Text(l.join("\n"))),
        1 => content(),
    ]
}

/// Pieces of YAML, MLflow's and otherwise, to build hostile `meta.yaml` files from.
fn yamlish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        prop::sample::select(vec![
            "key: ",
            "'",
            "\"",
            "\\",
            "\\U0001F600",
            "\\x4",
            "\\u12",
            "[",
            "]",
            "{",
            ",",
            "\n",
            "\n  ",
            "\n\t",
            "run_id: ",
            "artifact_uri: ",
            "experiment_id: ",
            "name: ",
            "#",
            "---\n",
            ": ",
            "''",
            "null",
            "~",
            "-1",
            "99999999999999999999",
            "status: ",
            "\r\n",
            "é",
            "\u{2028}",
        ])
        .prop_map(str::to_string),
        "[a-z0-9]{1,6}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|p| p.concat())
}

/// A `meta.yaml`.
#[derive(Debug, Clone)]
enum MetaSpec {
    /// What MLflow writes.
    Valid,
    /// What MLflow writes, with some lines replaced by pieces of YAML.
    Mangled(Vec<(usize, String)>),
    Text(String),
    Bytes(Vec<u8>),
    Missing,
    Link(LinkTo),
    Fifo,
}

fn meta_spec() -> impl Strategy<Value = MetaSpec> {
    prop_oneof![
        14 => Just(MetaSpec::Valid),
        3 => prop::collection::vec((0usize..16, yamlish()), 1..4).prop_map(MetaSpec::Mangled),
        2 => yamlish().prop_map(MetaSpec::Text),
        1 => prop::collection::vec(any::<u8>(), 0..80).prop_map(MetaSpec::Bytes),
        1 => Just(MetaSpec::Missing),
        1 => link_to().prop_map(MetaSpec::Link),
        1 => Just(MetaSpec::Fifo),
    ]
}

/// A run's `artifact_uri`.
#[derive(Debug, Clone, Copy)]
enum UriSpec {
    Empty,
    OutsideAbsolute,
    OutsideFileUri,
    ClimbingMlflowArtifacts,
    EncodedClimb,
    RelativeClimb,
    Shared,
    Own,
    StoreRoot,
    Bucket,
    Garbage,
}

fn uri_spec() -> impl Strategy<Value = UriSpec> {
    prop::sample::select(vec![
        UriSpec::Empty,
        UriSpec::OutsideAbsolute,
        UriSpec::OutsideFileUri,
        UriSpec::ClimbingMlflowArtifacts,
        UriSpec::EncodedClimb,
        UriSpec::RelativeClimb,
        UriSpec::Shared,
        UriSpec::Own,
        UriSpec::StoreRoot,
        UriSpec::Bucket,
        UriSpec::Garbage,
    ])
}

impl UriSpec {
    fn uri(self, scene: &Scene, run_dir: &Path) -> String {
        let outside = scene.outside().join("dir").display().to_string();
        match self {
            UriSpec::Empty => String::new(),
            UriSpec::OutsideAbsolute => outside,
            UriSpec::OutsideFileUri => format!("file://{outside}"),
            UriSpec::ClimbingMlflowArtifacts => "mlflow-artifacts:/../../outside/dir".into(),
            UriSpec::EncodedClimb => "mlflow-artifacts:/%2e%2e/%2E%2E/outside/dir".into(),
            UriSpec::RelativeClimb => "../outside/dir".into(),
            UriSpec::Shared => "mlflow-artifacts:/shared".into(),
            UriSpec::Own => format!("file://{}/artifacts", run_dir.display()),
            UriSpec::StoreRoot => "./mlruns".into(),
            UriSpec::Bucket => "s3://bucket/x".into(),
            UriSpec::Garbage => "::%zz//\u{0}".into(),
        }
    }
}

type Files = Vec<(Vec<u8>, Content)>;

#[derive(Debug, Clone)]
struct RunSpec {
    valid_id: bool,
    meta: MetaSpec,
    uri: UriSpec,
    params: Files,
    tags: Files,
    metrics: Files,
    artifacts: Files,
    /// One of params/, tags/, metrics/, artifacts/ replaced by a link.
    folder_link: Option<(usize, LinkTo)>,
}

fn files(item: impl Strategy<Value = Content>) -> impl Strategy<Value = Files> {
    prop::collection::vec((name(), item), 0..5)
}

fn run_spec() -> impl Strategy<Value = RunSpec> {
    (
        prop::bool::weighted(0.85),
        meta_spec(),
        uri_spec(),
        files(content()),
        files(content()),
        files(metric_file()),
        files(content()),
        prop::option::weighted(0.2, (0usize..4, link_to())),
    )
        .prop_map(
            |(valid_id, meta, uri, params, tags, metrics, artifacts, folder_link)| RunSpec {
                valid_id,
                meta,
                uri,
                params,
                tags,
                metrics,
                artifacts,
                folder_link,
            },
        )
}

#[derive(Debug, Clone)]
struct ExperimentSpec {
    id: &'static str,
    in_trash: bool,
    meta: MetaSpec,
    tags: Files,
    runs: Vec<RunSpec>,
    /// Links planted among the run folders.
    links: Vec<(Vec<u8>, LinkTo)>,
}

fn experiment_spec() -> impl Strategy<Value = ExperimentSpec> {
    (
        prop::sample::select(vec!["0", "1", "2", "17", "x"]),
        prop::bool::weighted(0.15),
        meta_spec(),
        files(content()),
        prop::collection::vec(run_spec(), 1..4),
        prop::collection::vec((name(), link_to()), 0..2),
    )
        .prop_map(|(id, in_trash, meta, tags, runs, links)| ExperimentSpec {
            id,
            in_trash,
            meta,
            tags,
            runs,
            links,
        })
}

#[derive(Debug, Clone)]
struct StoreSpec {
    experiments: Vec<ExperimentSpec>,
    /// Links planted in `mlruns/` itself.
    links: Vec<(Vec<u8>, LinkTo)>,
    /// Files in `mlartifacts/shared`.
    shared: Files,
    /// Import `mlruns/` itself rather than the folder holding it.
    import_mlruns: bool,
}

fn store_spec() -> impl Strategy<Value = StoreSpec> {
    (
        prop::collection::vec(experiment_spec(), 1..4),
        prop::collection::vec((name(), link_to()), 0..2),
        files(content()),
        any::<bool>(),
    )
        .prop_map(|(experiments, links, shared, import_mlruns)| StoreSpec {
            experiments,
            links,
            shared,
            import_mlruns,
        })
}

/// Writes one generated file (creating its folders); failures (a name too long, a clash) leave
/// it out, as they would any store.
fn plant(scene: &Scene, dir: &Path, name: &[u8], content: &Content) {
    let path = dir.join(OsStr::from_bytes(name));
    if let Some(parent) = path.parent() {
        let _ = fs::create_dir_all(parent);
    }
    // A name generated twice replaces the first (writing into a FIFO planted first would block).
    let _ = fs::remove_file(&path);
    let _ = match content {
        Content::Bytes(bytes) => fs::write(&path, bytes),
        Content::Text(text) => fs::write(&path, text),
        Content::Link(to) => symlink(
            to.target(scene, path.file_name().unwrap_or_default()),
            &path,
        ),
        Content::Fifo => {
            let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
            unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
            Ok(())
        }
        Content::Huge => fs::File::create(&path).and_then(|mut f| {
            f.write_all(b"1700000000000 1 1\nxyz")?;
            f.set_len(1 << 20)
        }),
    };
}

fn plant_meta(scene: &Scene, dir: &Path, meta: &MetaSpec, valid: String) {
    let path = dir.join("meta.yaml");
    let _ = fs::remove_file(&path);
    let _ = match meta {
        MetaSpec::Valid => fs::write(&path, valid),
        MetaSpec::Mangled(changes) => {
            let mut lines: Vec<String> = valid.lines().map(str::to_string).collect();
            for (at, text) in changes {
                let n = lines.len();
                lines[at % n] = text.clone();
            }
            fs::write(&path, lines.join("\n"))
        }
        MetaSpec::Text(text) => fs::write(&path, text),
        MetaSpec::Bytes(bytes) => fs::write(&path, bytes),
        MetaSpec::Missing => Ok(()),
        MetaSpec::Link(to) => {
            plant(scene, dir, b"meta.yaml", &Content::Link(*to));
            Ok(())
        }
        MetaSpec::Fifo => {
            plant(scene, dir, b"meta.yaml", &Content::Fifo);
            Ok(())
        }
    };
}

fn materialize(scene: &Scene, spec: &StoreSpec) {
    let mlruns = scene.mlruns();
    let mut next_id = 0u32;
    for exp in &spec.experiments {
        let exp_dir = if exp.in_trash {
            mlruns.join(".trash").join(exp.id)
        } else {
            mlruns.join(exp.id)
        };
        let _ = fs::create_dir_all(&exp_dir);
        let valid = fs::read_to_string(write_experiment(&mlruns, "template").join("meta.yaml"))
            .unwrap()
            .replace("template", exp.id);
        let _ = fs::remove_dir_all(mlruns.join("template"));
        plant_meta(scene, &exp_dir, &exp.meta, valid);
        for (name, content) in &exp.tags {
            plant(scene, &exp_dir.join("tags"), name, content);
        }
        for run in &exp.runs {
            next_id += 1;
            let folder = if run.valid_id {
                rid(next_id)
            } else {
                format!("junk-{next_id}")
            };
            let run_dir = exp_dir.join(&folder);
            let _ = fs::create_dir_all(&run_dir);
            let uri = run.uri.uri(scene, &run_dir);
            plant_meta(scene, &run_dir, &run.meta, run_meta(exp.id, &folder, &uri));
            let subs = [
                ("params", &run.params),
                ("tags", &run.tags),
                ("metrics", &run.metrics),
                ("artifacts", &run.artifacts),
            ];
            for (i, (sub, files)) in subs.iter().enumerate() {
                if let Some((which, to)) = run.folder_link {
                    if which == i {
                        plant(scene, &run_dir, sub.as_bytes(), &Content::Link(to));
                        continue;
                    }
                }
                let _ = fs::create_dir_all(run_dir.join(sub));
                for (name, content) in files.iter() {
                    plant(scene, &run_dir.join(sub), name, content);
                }
            }
        }
        for (name, to) in &exp.links {
            plant(scene, &exp_dir, name, &Content::Link(*to));
        }
    }
    for (name, to) in &spec.links {
        plant(scene, &mlruns, name, &Content::Link(*to));
    }
    let shared = scene.proj().join("mlartifacts/shared");
    let _ = fs::create_dir_all(&shared);
    for (name, content) in &spec.shared {
        plant(scene, &shared, name, content);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Random `mlruns` trees: the import returns (a report or a clear error) within the time
    /// limit, without a panic, and nothing outside the tree reaches the store or the report.
    #[test]
    fn fuzz_random_mlruns_trees_never_read_outside_loop_or_panic(spec in store_spec()) {
        let scene = Scene::new();
        materialize(&scene, &spec);
        let path = if spec.import_mlruns { scene.mlruns() } else { scene.proj() };
        let (_store, result) = scene.import(&path);
        if let Err(e) = result {
            prop_assert!(!e.to_string().is_empty());
        }
    }
}

/// A generated text for an SQL value: ordinary, long, odd, binary or NULL.
#[derive(Debug, Clone)]
enum SqlText {
    Text(String),
    Long(usize),
    Blob(Vec<u8>),
    Null,
}

impl rusqlite::ToSql for SqlText {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value};
        Ok(match self {
            SqlText::Text(s) => ToSqlOutput::from(s.as_str()),
            SqlText::Long(n) => ToSqlOutput::Owned(Value::Text("w".repeat(*n))),
            SqlText::Blob(b) => ToSqlOutput::from(b.as_slice()),
            SqlText::Null => ToSqlOutput::Owned(Value::Null),
        })
    }
}

fn sql_text() -> impl Strategy<Value = SqlText> {
    prop_oneof![
        4 => "\\PC{0,30}".prop_map(SqlText::Text),
        1 => "[\\x00-\\x1f]{1,5}".prop_map(SqlText::Text),
        1 => (5_000usize..30_000).prop_map(SqlText::Long),
        1 => prop::collection::vec(any::<u8>(), 0..40).prop_map(SqlText::Blob),
        1 => Just(SqlText::Null),
    ]
}

#[derive(Debug, Clone)]
struct DbRun {
    valid_id: bool,
    experiment: i64,
    status: SqlText,
    uri: UriSpec,
    params: Vec<(SqlText, SqlText)>,
    tags: Vec<(SqlText, SqlText)>,
    metrics: Vec<DbMetric>,
}

/// A metrics row: key, value, timestamp, step, is_nan (any of them NULL).
type DbMetric = (SqlText, Option<f64>, Option<i64>, Option<i64>, Option<i64>);

fn db_run() -> impl Strategy<Value = DbRun> {
    let metric = (
        sql_text(),
        prop::option::of(any::<f64>()),
        prop::option::of(any::<i64>()),
        prop::option::of(any::<i64>()),
        prop::option::of(0i64..3),
    );
    (
        prop::bool::weighted(0.85),
        prop::sample::select(vec![1i64, 1, 1, 2, 99]),
        prop_oneof![
            Just(SqlText::Text("FINISHED".into())),
            Just(SqlText::Text("3".into())),
            sql_text()
        ],
        uri_spec(),
        prop::collection::vec((sql_text(), sql_text()), 0..4),
        prop::collection::vec((sql_text(), sql_text()), 0..4),
        prop::collection::vec(metric, 0..5),
    )
        .prop_map(
            |(valid_id, experiment, status, uri, params, tags, metrics)| DbRun {
                valid_id,
                experiment,
                status,
                uri,
                params,
                tags,
                metrics,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Random `mlflow.db` files, with artifact folders in and out of the tree beside them.
    #[test]
    fn fuzz_random_mlflow_dbs_never_read_outside_or_panic(
        runs in prop::collection::vec(db_run(), 1..5),
        experiment_tags in prop::collection::vec((sql_text(), sql_text()), 0..3),
        shared in files(content()),
    ) {
        let scene = Scene::new();
        fs::remove_dir(scene.mlruns()).unwrap();
        let conn = write_db(&scene, &[]);
        conn.execute("INSERT INTO experiments VALUES (2, 'deleted one', '', 'deleted')", []).unwrap();
        for (key, value) in &experiment_tags {
            conn.execute("INSERT INTO experiment_tags VALUES (?1, ?2, 1)", rusqlite::params![key, value]).unwrap();
        }
        for (n, run) in runs.iter().enumerate() {
            let id = if run.valid_id { rid(n as u32 + 1) } else { format!("junk{n}") };
            let run_dir = scene.proj().join("mlartifacts").join(&id);
            let uri = run.uri.uri(&scene, &run_dir);
            conn.execute(
                "INSERT OR IGNORE INTO runs VALUES (?1, 'r', 'alice', ?2, 1700000000000, NULL, 'active', ?3, ?4)",
                rusqlite::params![id, run.status, uri, run.experiment],
            ).unwrap();
            for (table, pairs) in [("params", &run.params), ("tags", &run.tags)] {
                for (key, value) in pairs {
                    conn.execute(
                        &format!("INSERT INTO {table} VALUES (?1, ?2, ?3)"),
                        rusqlite::params![key, value, id],
                    ).unwrap();
                }
            }
            for (key, value, timestamp, step, is_nan) in &run.metrics {
                conn.execute(
                    "INSERT INTO metrics VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    rusqlite::params![key, value, timestamp, id, step, is_nan],
                ).unwrap();
            }
        }
        drop(conn);
        let shared_dir = scene.proj().join("mlartifacts/shared");
        fs::create_dir_all(&shared_dir).unwrap();
        for (name, content) in &shared {
            plant(&scene, &shared_dir, name, content);
        }
        let (_store, result) = scene.import(&scene.proj());
        if let Err(e) = result {
            prop_assert!(!e.to_string().is_empty());
        }
    }
}
