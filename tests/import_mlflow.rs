//! `import_mlflow` against stores written by MLflow itself: the 3.17 fixtures in
//! `shared/fixtures/mlflow-3.17` (an `mlruns/` FileStore and an `mlflow.db` SQL store, each with
//! an expected JSON of what MLflow reports), and a store generated here by `tests/mlflow_gen.py`
//! when the `mlflow` Python package is installed.
//!
//! Every run is compared field by field with MLflow's own report: id, name, status, times,
//! user, deleted flag, parent, params, tags, latest metric values and every point of every
//! metric history (NaN-aware, otherwise exact).
mod common;

use common::requires::require_python_module;
use kiroku::ingest::mlflow::{import_mlflow, ImportReport};
use kiroku::model::{MetricPoint, RunQuery};
use kiroku::store::prelude::*;
use kiroku::store::SqliteStore;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/fixtures/mlflow-3.17"
);

fn fixture(name: &str) -> PathBuf {
    Path::new(FIXTURES).join(name)
}

fn new_store(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(&dir.path().join(".kiroku"), false).expect("open store")
}

fn load_json(path: &Path) -> Value {
    let text =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// A metric value as the expected JSON writes it: a number, null for NaN, or a string
/// (`"inf"`, `"-inf"`, `"nan"`). MLflow's SQL store reports ±inf as ±1.7976931348623157e308
/// (how it stores them); kiroku restores ±inf, so for that store the maximum means infinity.
fn expected_float(v: &Value, sql_store: bool) -> f64 {
    let x = match v {
        Value::Null => f64::NAN,
        Value::Number(n) => n.as_f64().expect("number"),
        Value::String(s) => match s.as_str() {
            "inf" | "Infinity" => f64::INFINITY,
            "-inf" | "-Infinity" => f64::NEG_INFINITY,
            "nan" | "NaN" => f64::NAN,
            other => other
                .parse()
                .unwrap_or_else(|_| panic!("bad float {other:?}")),
        },
        other => panic!("bad float {other}"),
    };
    if sql_store && x == f64::MAX {
        f64::INFINITY
    } else if sql_store && x == -f64::MAX {
        f64::NEG_INFINITY
    } else {
        x
    }
}

fn same_float(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b
}

fn str_map(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .expect("object")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("string value").to_string()))
        .collect()
}

/// MLflow's status name as kiroku spells it.
fn kiroku_status(mlflow: &str) -> String {
    match mlflow {
        "SCHEDULED" => "queued".into(),
        other => other.to_ascii_lowercase(),
    }
}

/// Compares every run of `expected` (the JSON shape of the fixture files) with the store.
/// Returns the number of runs checked.
fn assert_matches_expected(store: &dyn Store, expected: &Value) -> usize {
    let sql_store = expected["store"].as_str() == Some("sqlite");
    let mut checked = 0;
    for exp in expected["experiments"].as_array().expect("experiments") {
        let exp_name = exp["name"].as_str().unwrap();
        let exp_deleted = exp["lifecycle_stage"].as_str() == Some("deleted");
        let runs = exp["runs"].as_array().unwrap();
        if !runs.is_empty() {
            let e = store
                .experiment(exp_name)
                .unwrap_or_else(|e| panic!("experiment {exp_name:?}: {e}"));
            assert_eq!(e.name, exp_name);
            assert_eq!(
                e.deleted, exp_deleted,
                "experiment {exp_name:?} deleted flag"
            );
        }
        for er in runs {
            let id = er["run_id"].as_str().unwrap();
            let detail = store.run(id).unwrap_or_else(|e| panic!("run {id}: {e}"));
            let run = &detail.run;
            let ctx = format!("run {id} ({})", er["run_name"]);
            assert_eq!(run.id, id, "{ctx}");
            assert_eq!(run.name, er["run_name"].as_str().unwrap(), "{ctx}: name");
            assert_eq!(run.experiment, exp_name, "{ctx}: experiment");
            assert_eq!(
                run.status.as_str(),
                kiroku_status(er["status"].as_str().unwrap()),
                "{ctx}: status"
            );
            assert_eq!(
                run.start_time,
                er["start_time"].as_i64().unwrap(),
                "{ctx}: start_time"
            );
            assert_eq!(run.end_time, er["end_time"].as_i64(), "{ctx}: end_time");
            assert_eq!(run.user, er["user_id"].as_str().unwrap(), "{ctx}: user");
            let deleted = er["lifecycle_stage"].as_str() == Some("deleted") || exp_deleted;
            assert_eq!(run.deleted, deleted, "{ctx}: deleted");
            assert_eq!(
                run.parent_id.as_deref(),
                er["parent_run_id"].as_str(),
                "{ctx}: parent"
            );
            assert_eq!(run.params, str_map(&er["params"]), "{ctx}: params");
            let tags = str_map(&er["tags"]);
            assert_eq!(run.tags, tags, "{ctx}: tags");

            // Latest values, by MLflow's rule.
            let latest = er["latest_metrics"].as_object().unwrap();
            let mut keys: Vec<&String> = run.metrics.keys().collect();
            keys.sort();
            let mut expected_keys: Vec<&String> = latest.keys().collect();
            expected_keys.sort();
            assert_eq!(keys, expected_keys, "{ctx}: metric keys");
            for (key, value) in latest {
                let want = expected_float(value, sql_store);
                let got = run.metrics[key].last;
                assert!(
                    same_float(got, want),
                    "{ctx}: latest {key}: got {got}, MLflow says {want}"
                );
            }

            // Full histories, point by point, in MLflow's order.
            let history = er["metric_history"].as_object().unwrap();
            assert_eq!(history.len(), latest.len(), "{ctx}: history keys");
            for (key, points) in history {
                let want: Vec<MetricPoint> = points
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| MetricPoint {
                        step: p[0].as_i64().unwrap(),
                        timestamp: p[1].as_i64().unwrap(),
                        value: expected_float(&p[2], sql_store),
                    })
                    .collect();
                let got = store
                    .metric_series(id, key)
                    .unwrap_or_else(|e| panic!("{ctx}: series {key}: {e}"));
                assert_eq!(
                    got.len(),
                    want.len(),
                    "{ctx}: {key} has {} points, MLflow {}",
                    got.len(),
                    want.len()
                );
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        g.step == w.step
                            && g.timestamp == w.timestamp
                            && same_float(g.value, w.value),
                        "{ctx}: {key} point {i}: got {g:?}, MLflow {w:?}"
                    );
                }
                assert_eq!(
                    run.metrics[key].count,
                    want.len() as u64,
                    "{ctx}: {key} count"
                );
            }

            // The description tag is also a note, by the run's user at its start time.
            match tags
                .get("mlflow.note.content")
                .filter(|b| !b.trim().is_empty())
            {
                Some(body) => {
                    assert_eq!(detail.notes.len(), 1, "{ctx}: notes");
                    let note = &detail.notes[0];
                    assert_eq!(&note.body, body, "{ctx}: note body");
                    assert_eq!(note.author, run.user, "{ctx}: note author");
                    assert_eq!(note.created_ms, run.start_time, "{ctx}: note time");
                }
                None => assert!(detail.notes.is_empty(), "{ctx}: unexpected notes"),
            }
            if let Some(source) = tags.get("mlflow.source.name") {
                assert_eq!(
                    detail.source.command,
                    vec![source.clone()],
                    "{ctx}: source command"
                );
            }
            assert_eq!(
                detail.source.git_commit.as_ref(),
                tags.get("mlflow.source.git.commit"),
                "{ctx}: git commit"
            );
            assert_eq!(
                detail.source.git_branch.as_ref(),
                tags.get("mlflow.source.git.branch"),
                "{ctx}: git branch"
            );

            // Artifacts: listed in generated expectations; otherwise at least one entry.
            match er.get("artifacts").and_then(Value::as_array) {
                Some(files) if !files.is_empty() => {
                    let run_dir = PathBuf::from(detail.run_dir.as_ref().unwrap());
                    let got: Vec<(String, Option<u64>, Option<String>, String)> = detail
                        .artifacts
                        .iter()
                        .map(|a| (a.path.clone(), a.size, a.hash.clone(), a.stored.clone()))
                        .collect();
                    let want: Vec<(String, Option<u64>, Option<String>, String)> = files
                        .iter()
                        .map(|f| {
                            (
                                f["path"].as_str().unwrap().to_string(),
                                f["size"].as_u64(),
                                f["sha256"].as_str().map(str::to_string),
                                "copied".to_string(),
                            )
                        })
                        .collect();
                    assert_eq!(got, want, "{ctx}: artifacts");
                    for (path, _, hash, _) in &want {
                        let copy = run_dir.join("artifacts").join(path);
                        assert_eq!(Some(sha256_file(&copy)), *hash, "{ctx}: copied {path}");
                    }
                }
                _ => assert!(
                    !detail.artifacts.is_empty(),
                    "{ctx}: artifacts neither copied nor referenced"
                ),
            }
            checked += 1;
        }
    }
    checked
}

fn sha256_file(path: &Path) -> String {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn expected_run_count(expected: &Value) -> usize {
    expected["experiments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["runs"].as_array().unwrap().len())
        .sum()
}

fn expected_point_count(expected: &Value) -> u64 {
    let mut n = 0;
    for e in expected["experiments"].as_array().unwrap() {
        for r in e["runs"].as_array().unwrap() {
            for points in r["metric_history"].as_object().unwrap().values() {
                n += points.as_array().unwrap().len() as u64;
            }
        }
    }
    n
}

fn all_runs(store: &dyn Store) -> u64 {
    store
        .search_runs(&RunQuery {
            include_deleted: true,
            ..Default::default()
        })
        .unwrap()
        .total
}

/// (runs, metric points, notes, artifacts) across the whole store.
fn store_totals(store: &dyn Store) -> (u64, u64, u64, u64) {
    let page = store
        .search_runs(&RunQuery {
            include_deleted: true,
            ..Default::default()
        })
        .unwrap();
    let mut points = 0;
    let mut notes = 0;
    let mut artifacts = 0;
    for run in &page.runs {
        points += run.metrics.values().map(|m| m.count).sum::<u64>();
        let detail = store.run(&run.id).unwrap();
        notes += detail.notes.len() as u64;
        artifacts += detail.artifacts.len() as u64;
    }
    (page.total, points, notes, artifacts)
}

fn check_report_totals(report: &ImportReport, expected: &Value) {
    assert_eq!(
        report.runs_imported as usize,
        expected_run_count(expected),
        "{report:#?}"
    );
    assert_eq!(report.runs_skipped, 0);
    assert_eq!(report.runs_failed, 0, "{report:#?}");
    assert_eq!(report.metric_points, expected_point_count(expected));
    assert!(
        report.warnings.is_empty(),
        "unexpected warnings: {:#?}",
        report.warnings
    );
}

#[test]
fn imports_the_mlruns_fixture_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let store = new_store(&tmp);
    let report = import_mlflow(&store, &fixture("mlruns"), "importer").unwrap();
    let expected = load_json(&fixture("expected-mlruns.json"));
    check_report_totals(&report, &expected);
    assert_eq!(
        report.sources,
        vec![fixture("mlruns").display().to_string()]
    );
    assert_eq!(assert_matches_expected(&store, &expected), 31);
    assert_eq!(report.notes, 18);
}

#[test]
fn imports_the_mlflow_db_fixture_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let store = new_store(&tmp);
    let report = import_mlflow(&store, &fixture("mlflow.db"), "importer").unwrap();
    let expected = load_json(&fixture("expected-mlflow-db.json"));
    check_report_totals(&report, &expected);
    assert_eq!(assert_matches_expected(&store, &expected), 31);
    assert_eq!(report.notes, 18);
}

#[test]
fn a_folder_with_both_stores_imports_both() {
    let tmp = tempfile::tempdir().unwrap();
    let store = new_store(&tmp);
    let report = import_mlflow(&store, Path::new(FIXTURES), "importer").unwrap();
    assert_eq!(report.sources.len(), 2, "{:?}", report.sources);
    assert_eq!(report.runs_imported, 62);
    assert_eq!(report.experiments, 8);
    // Same experiment names in both: four kiroku experiments (MLflow's empty Default too).
    assert_eq!(report.experiments_created, 4);
    let names: Vec<String> = store
        .experiments(true)
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names.len(), 4, "{names:?}");
    assert_matches_expected(&store, &load_json(&fixture("expected-mlruns.json")));
    assert_matches_expected(&store, &load_json(&fixture("expected-mlflow-db.json")));
}

#[test]
fn deleted_runs_are_kept_but_hidden_by_default() {
    for source in ["mlruns", "mlflow.db"] {
        let tmp = tempfile::tempdir().unwrap();
        let store = new_store(&tmp);
        import_mlflow(&store, &fixture(source), "importer").unwrap();
        let visible = store.search_runs(&RunQuery::default()).unwrap();
        assert_eq!(visible.total, 30, "{source}");
        assert!(
            visible
                .runs
                .iter()
                .all(|r| !r.deleted && r.name != "to-delete"),
            "{source}"
        );
        let all = store
            .search_runs(&RunQuery {
                include_deleted: true,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(all.total, 31, "{source}");
        let deleted: Vec<_> = all.runs.iter().filter(|r| r.deleted).collect();
        assert_eq!(deleted.len(), 1, "{source}");
        assert_eq!(deleted[0].name, "to-delete");
        assert_eq!(
            deleted[0].params.get("x").map(String::as_str),
            Some("1"),
            "{source}"
        );
    }
}

#[test]
fn reimporting_adds_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let store = new_store(&tmp);
    let first = import_mlflow(&store, Path::new(FIXTURES), "importer").unwrap();
    let before = store_totals(&store);
    assert_eq!(before.0, 62);
    assert_eq!(before.1, first.metric_points);
    assert_eq!(before.2, first.notes);
    assert_eq!(
        before.3,
        first.artifacts_copied + first.artifacts_referenced
    );

    let second = import_mlflow(&store, Path::new(FIXTURES), "importer").unwrap();
    assert_eq!(second.runs_imported, 0);
    assert_eq!(second.runs_skipped, 62);
    assert_eq!(second.experiments_created, 0);
    assert_eq!(
        (
            second.metric_points,
            second.notes,
            second.params,
            second.tags
        ),
        (0, 0, 0, 0)
    );
    assert_eq!(
        (second.artifacts_copied, second.artifacts_referenced),
        (0, 0)
    );
    assert_eq!(store_totals(&store), before);
}

#[test]
fn artifacts_are_copied_when_found_and_referenced_otherwise() {
    let tmp = tempfile::tempdir().unwrap();
    let store = new_store(&tmp);
    let report = import_mlflow(&store, &fixture("mlruns"), "importer").unwrap();
    // The runs' artifact_uri points to another machine; the files are found in the run folders.
    let expected = load_json(&fixture("expected-mlruns.json"));
    let mut copied = 0;
    for exp in expected["experiments"].as_array().unwrap() {
        for er in exp["runs"].as_array().unwrap() {
            let id = er["run_id"].as_str().unwrap();
            let source_dir = fixture("mlruns")
                .join(exp["experiment_id"].as_str().unwrap())
                .join(id)
                .join("artifacts");
            let detail = store.run(id).unwrap();
            let source_file = source_dir.join("reports/tmp_artifact.txt");
            if source_file.is_file() {
                assert_eq!(detail.artifacts.len(), 1, "{id}");
                let a = &detail.artifacts[0];
                assert_eq!(
                    (a.path.as_str(), a.stored.as_str()),
                    ("reports/tmp_artifact.txt", "copied")
                );
                assert_eq!(a.size, Some(fs::metadata(&source_file).unwrap().len()));
                assert_eq!(a.hash.as_deref(), Some(sha256_file(&source_file).as_str()));
                let copy = Path::new(detail.run_dir.as_ref().unwrap())
                    .join("artifacts/reports/tmp_artifact.txt");
                assert_eq!(fs::read(&copy).unwrap(), fs::read(&source_file).unwrap());
                copied += 1;
            } else {
                assert_eq!(detail.artifacts.len(), 1, "{id}");
                let a = &detail.artifacts[0];
                assert_eq!((a.path.as_str(), a.stored.as_str()), ("", "referenced"));
                let location = a.location.as_deref().unwrap();
                assert!(
                    location.starts_with("file:///home/alice/") && location.contains(id),
                    "{location}"
                );
            }
        }
    }
    // The 18 parent runs logged one artifact each; the 13 others have none.
    assert_eq!(copied, 18);
    assert_eq!(report.artifacts_copied, 18);
    assert_eq!(report.artifacts_referenced, 13);

    // mlflow.db: the artifact paths are on another machine and not beside the database.
    let tmp = tempfile::tempdir().unwrap();
    let store = new_store(&tmp);
    let report = import_mlflow(&store, &fixture("mlflow.db"), "importer").unwrap();
    assert_eq!(
        (report.artifacts_copied, report.artifacts_referenced),
        (0, 31)
    );
    let any = &store.search_runs(&RunQuery::default()).unwrap().runs[0];
    let artifacts = store.run(&any.id).unwrap().artifacts;
    assert_eq!(artifacts.len(), 1);
    assert_eq!(
        artifacts[0].location.as_deref().unwrap(),
        format!(
            "/home/alice/experiments/mlruns/{}/{}/artifacts",
            exp_id_of_db_run(&any.id),
            any.id
        )
    );
}

#[test]
fn experiment_tags_and_descriptions_are_imported_once() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("mlflow.db");
    fs::copy(fixture("mlflow.db"), &db).unwrap();
    let mut perms = fs::metadata(&db).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    fs::set_permissions(&db, perms).unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let baseline: i64 = conn
        .query_row(
            "SELECT experiment_id FROM experiments WHERE name = 'baseline'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    conn.execute(
        "INSERT INTO experiment_tags (key, value, experiment_id) VALUES
             ('team', 'vision', ?1), ('mlflow.note.content', 'about baseline', ?1)",
        [baseline],
    )
    .unwrap();
    drop(conn);

    let store = new_store(&tmp);
    let report = import_mlflow(&store, &db, "importer").unwrap();
    assert!(report.warnings.is_empty(), "{:#?}", report.warnings);
    let e = store.experiment("baseline").unwrap();
    assert_eq!(
        e.tags,
        BTreeMap::from([
            (
                "mlflow.note.content".to_string(),
                "about baseline".to_string()
            ),
            ("team".to_string(), "vision".to_string()),
        ])
    );
    assert_eq!(e.description.as_deref(), Some("about baseline"));
    let version = store.version().unwrap();
    import_mlflow(&store, &db, "importer").unwrap();
    assert_eq!(
        store.version().unwrap(),
        version,
        "a re-import changes nothing"
    );
}

fn exp_id_of_db_run(run_id: &str) -> String {
    let expected = load_json(&fixture("expected-mlflow-db.json"));
    for exp in expected["experiments"].as_array().unwrap() {
        if exp["runs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["run_id"] == run_id)
        {
            return exp["experiment_id"].as_str().unwrap().to_string();
        }
    }
    panic!("run {run_id} not in the expected file");
}

/// Copies a folder tree with fresh, writable files (the fixtures are read-only).
fn copy_tree(src: &Path, dest: &Path) {
    fs::create_dir_all(dest).unwrap();
    for entry in fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let to = dest.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &to);
        } else {
            fs::write(&to, fs::read(entry.path()).unwrap()).unwrap();
        }
    }
}

#[test]
fn a_malformed_metric_line_is_a_warning_and_the_rest_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let mlruns = tmp.path().join("copy/mlruns");
    copy_tree(&fixture("mlruns"), &mlruns);
    // baseline-3: insert a broken line as line 3 of train/loss.
    let metric =
        mlruns.join("689505788157558880/01deb8815b21432bac91f8e02c2cecb8/metrics/train/loss");
    let text = fs::read_to_string(&metric).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(2, "1795812112266 not-a-number 2");
    fs::write(&metric, lines.join("\n") + "\n").unwrap();

    let store = new_store(&tmp);
    let report = import_mlflow(&store, &mlruns, "importer").unwrap();
    assert_eq!(report.warnings.len(), 1, "{:#?}", report.warnings);
    let warning = &report.warnings[0];
    assert!(
        warning.contains(&format!("{}:3:", metric.display())),
        "{warning}"
    );
    assert!(warning.contains("not-a-number"), "{warning}");
    assert_eq!(report.runs_imported, 31);
    // Every real point is there, in order: the whole store still matches MLflow's report.
    let expected = load_json(&fixture("expected-mlruns.json"));
    assert_eq!(report.metric_points, expected_point_count(&expected));
    assert_matches_expected(&store, &expected);
}

#[test]
fn a_parent_missing_from_the_source_is_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let mlruns = tmp.path().join("copy/mlruns");
    copy_tree(&fixture("mlruns"), &mlruns);
    // baseline-5 is the parent of two trial runs; drop it from the copy.
    let parent = "d88bca624a61449fa8f623aad8672e91";
    fs::remove_dir_all(mlruns.join("689505788157558880").join(parent)).unwrap();
    let store = new_store(&tmp);
    let report = import_mlflow(&store, &mlruns, "importer").unwrap();
    assert_eq!(report.runs_imported, 30);
    assert_eq!(report.warnings.len(), 2, "{:#?}", report.warnings);
    for child in [
        "4a09b59a666340708b995fdd66f7dc70",
        "9802d46a6193472c855c23ad3b97c4a9",
    ] {
        let run = store.run(child).unwrap().run;
        assert_eq!(run.parent_id, None);
        assert_eq!(
            run.tags.get("mlflow.parentRunId").map(String::as_str),
            Some(parent)
        );
        assert!(
            report
                .warnings
                .iter()
                .any(|w| w.contains(child) && w.contains(parent)),
            "{:#?}",
            report.warnings
        );
    }
}

#[test]
fn odd_entries_become_warnings_and_the_rest_is_imported() {
    let tmp = tempfile::tempdir().unwrap();
    let mlruns = tmp.path().join("copy/mlruns");
    copy_tree(&fixture("mlruns"), &mlruns);
    let exp = mlruns.join("689505788157558880");
    // An experiment description (imported, as the experiment's description).
    fs::create_dir_all(exp.join("tags")).unwrap();
    fs::write(exp.join("tags/mlflow.note.content"), "about baseline").unwrap();
    // A metric key kiroku refuses (a control character).
    let run = "01deb8815b21432bac91f8e02c2cecb8";
    fs::write(
        exp.join(run).join("metrics/bad\u{1}key"),
        "1795812112265 1.0 0\n",
    )
    .unwrap();
    // A folder that is not a run.
    fs::create_dir_all(exp.join("0123456789abcdef0123456789abcdef")).unwrap();

    let store = new_store(&tmp);
    let report = import_mlflow(&store, &mlruns, "importer").unwrap();
    assert_eq!(report.runs_imported, 31);
    assert_eq!(report.warnings.len(), 2, "{:#?}", report.warnings);
    let has = |needle: &str| report.warnings.iter().any(|w| w.contains(needle));
    let baseline = store.experiment("baseline").unwrap();
    assert_eq!(baseline.description.as_deref(), Some("about baseline"));
    assert!(
        has(&format!(
            "run {run}: metric key \"bad\\u{{1}}key\" contains a control character"
        )),
        "{:#?}",
        report.warnings
    );
    assert!(
        has("0123456789abcdef0123456789abcdef: run folder without meta.yaml"),
        "{:#?}",
        report.warnings
    );
    assert_matches_expected(&store, &load_json(&fixture("expected-mlruns.json")));
}

#[test]
fn paths_without_an_mlflow_store_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let store = new_store(&tmp);
    let empty = tmp.path().join("empty");
    fs::create_dir_all(&empty).unwrap();
    let err = import_mlflow(&store, &empty, "importer").unwrap_err();
    assert!(err.to_string().contains("no MLflow store"), "{err}");
    assert_eq!(err.exit_code(), 2);
    let text = tmp.path().join("notes.txt");
    fs::write(&text, "hello").unwrap();
    let err = import_mlflow(&store, &text, "importer").unwrap_err();
    assert!(err.to_string().contains("not an SQLite database"), "{err}");
    // kiroku's own database is SQLite but not MLflow's.
    let err = import_mlflow(&store, &tmp.path().join(".kiroku/kiroku.db"), "importer").unwrap_err();
    assert!(
        err.to_string().contains("not an MLflow tracking store"),
        "{err}"
    );
    assert!(import_mlflow(&store, &tmp.path().join("missing"), "importer").is_err());
    assert_eq!(all_runs(&store), 0);
}

#[test]
fn a_store_written_by_the_mlflow_python_package_imports_exactly() {
    if !require_python_module("mlflow") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("gen");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mlflow_gen.py");
    let result = Command::new("python3")
        .arg(script)
        .arg(&out)
        .output()
        .expect("running python3");
    assert!(
        result.status.success(),
        "mlflow_gen.py failed:\n{}\n{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );

    for (source, expected_file) in [
        ("file/mlruns", "expected-mlruns.json"),
        ("sql/mlflow.db", "expected-mlflow-db.json"),
    ] {
        let expected = load_json(&out.join(expected_file));
        let store_dir = tempfile::tempdir().unwrap();
        let store = new_store(&store_dir);
        let report = import_mlflow(&store, &out.join(source), "importer").unwrap();
        check_report_totals(&report, &expected);
        let n = assert_matches_expected(&store, &expected);
        assert_eq!(n, expected_run_count(&expected), "{source}");
        assert!(report.artifacts_copied >= 2, "{source}: {report:#?}");
        // The deleted experiment is deleted in kiroku too, and its runs hidden.
        let trashed = store.experiment("gen-trash").unwrap();
        assert!(trashed.deleted, "{source}");
        let visible = store.search_runs(&RunQuery::default()).unwrap();
        assert!(
            visible
                .runs
                .iter()
                .all(|r| r.experiment != "gen-trash" && !r.deleted),
            "{source}"
        );

        let again = import_mlflow(&store, &out.join(source), "importer").unwrap();
        assert_eq!(
            (again.runs_imported, again.runs_skipped),
            (0, n as u64),
            "{source}"
        );
        assert!(again.warnings.is_empty(), "{source}: {:#?}", again.warnings);
    }
}

/// The experiments MLflow wrote into a fixture, as it reports them: (id, name, creation time,
/// last update time), from the `mlruns` experiments' `meta.yaml` or the `mlflow.db` table.
fn mlflow_experiments(source: &str) -> Vec<(i64, String, i64, i64)> {
    let mut out = Vec::new();
    if source == "mlflow.db" {
        let db = rusqlite::Connection::open_with_flags(
            fixture(source),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .unwrap();
        let mut stmt = db
            .prepare("SELECT experiment_id, name, creation_time, last_update_time FROM experiments")
            .unwrap();
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap();
        out.extend(rows.map(Result::unwrap));
    } else {
        for entry in fs::read_dir(fixture(source)).unwrap() {
            let meta = fs::read_to_string(entry.unwrap().path().join("meta.yaml")).unwrap();
            let field = |key: &str| -> String {
                meta.lines()
                    .find_map(|l| l.strip_prefix(&format!("{key}: ")))
                    .unwrap_or_else(|| panic!("{key} in {meta}"))
                    .trim_matches('\'')
                    .to_string()
            };
            out.push((
                field("experiment_id").parse().unwrap(),
                field("name"),
                field("creation_time").parse().unwrap(),
                field("last_update_time").parse().unwrap(),
            ));
        }
    }
    out.sort();
    assert_eq!(out.len(), 4, "{out:?}");
    out
}

/// Every experiment of the store as (id, name, creation time, last update time).
fn kiroku_experiments(store: &dyn Store) -> Vec<(i64, String, i64, i64)> {
    let mut out: Vec<_> = store
        .experiments(true)
        .unwrap()
        .into_iter()
        .map(|e| (e.id, e.name, e.created_ms, e.updated_ms))
        .collect();
    out.sort();
    out
}

#[test]
fn experiments_keep_mlflow_ids_and_times_and_default_is_imported() {
    for source in ["mlruns", "mlflow.db"] {
        let expected = mlflow_experiments(source);
        assert_eq!((expected[0].0, expected[0].1.as_str()), (0, "Default"));
        let tmp = tempfile::tempdir().unwrap();
        let store = new_store(&tmp);
        let report = import_mlflow(&store, &fixture(source), "importer").unwrap();
        assert_eq!(report.experiments_created, 4, "{source}");
        assert!(
            report.warnings.is_empty(),
            "{source}: {:?}",
            report.warnings
        );
        assert_eq!(kiroku_experiments(&store), expected, "{source}");

        // A second import adds no experiment and changes none.
        let again = import_mlflow(&store, &fixture(source), "importer").unwrap();
        assert_eq!(again.experiments_created, 0, "{source}");
        assert!(again.warnings.is_empty(), "{source}: {:?}", again.warnings);
        assert_eq!(kiroku_experiments(&store), expected, "{source}");
    }
}

#[test]
fn kiroku_s_own_default_is_mlflow_s_experiment_0_so_ids_line_up_after_import() {
    let tmp = tempfile::tempdir().unwrap();
    let store = new_store(&tmp);
    // A run without an experiment makes kiroku's Default.
    let run = store
        .create_run(&kiroku::model::NewRun {
            user: "ana".into(),
            ..Default::default()
        })
        .unwrap();
    let default = store.experiment("Default").unwrap();
    assert_eq!(default.id, 0);
    let report = import_mlflow(&store, &fixture("mlflow.db"), "importer").unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(report.experiments_created, 3);
    let got: Vec<(i64, String)> = kiroku_experiments(&store)
        .into_iter()
        .map(|(id, name, _, _)| (id, name))
        .collect();
    let want: Vec<(i64, String)> = mlflow_experiments("mlflow.db")
        .into_iter()
        .map(|(id, name, _, _)| (id, name))
        .collect();
    assert_eq!(got, want);
    // kiroku's Default keeps its own times and its run.
    let after = store.experiment("0").unwrap();
    assert_eq!(
        (after.name.as_str(), after.created_ms),
        ("Default", default.created_ms)
    );
    assert_eq!(store.run(&run.id).unwrap().run.experiment, "Default");

    // An id another experiment holds is not kept: that experiment gets a new id after the
    // others, with a warning, and the free ids still line up.
    let tmp = tempfile::tempdir().unwrap();
    let store = new_store(&tmp);
    store.create_experiment("mine", "ana").unwrap(); // id 1, MLflow's `baseline`
    let report = import_mlflow(&store, &fixture("mlflow.db"), "importer").unwrap();
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(
        report.warnings[0].contains("'baseline'"),
        "{:?}",
        report.warnings
    );
    let ids: BTreeMap<String, i64> = kiroku_experiments(&store)
        .into_iter()
        .map(|(id, name, _, _)| (name, id))
        .collect();
    assert_eq!(ids["Default"], 0);
    assert_eq!(ids["mine"], 1);
    assert_eq!(ids["sweep-lr"], 2);
    assert_eq!(ids["ablation ünïcode/名前"], 3);
    assert_eq!(ids["baseline"], 4);
}
