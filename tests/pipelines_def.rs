//! The definition side of pipelines on real files: `dvc.yaml` with `foreach`, `matrix`, vars
//! and params in YAML and TOML, frozen stages, errors that name the line; `kiroku status` and
//! `kiroku dag`. Then the real DVC (3.67, through `tests/dvc_probe.py`, a few Python starts for
//! many projects) as the oracle:
//!
//! - seeded generated `dvc.yaml` files resolve to the same stages (names, commands, paths);
//! - hundreds of generated files and folders hash as DVC hashes them, and the `dvc.lock` kiroku
//!   would write for them is byte for byte the one `dvc repro` wrote;
//! - after `dvc repro`, kiroku says everything is up to date (DVC's lock is honoured); after
//!   seeded random edits (a dep, a param, a command, a deleted or changed output) kiroku's
//!   stale stages and their changed paths are DVC's;
//! - after kiroku ran the stages itself and recorded them with its lock API, `dvc status` says
//!   up to date.
mod common;

use common::requires::{dvc_python, require_dvc};
use common::rng::Rng;
use kiroku::pipelines::{
    self, dvc_cache, Dag, LockEntry, LockFile, Reason, StageState, StageStatus, StatCache,
};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const SEED: u64 = 0x6b69726f6b75;

fn write(path: &Path, text: impl AsRef<[u8]>) {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap();
    }
    fs::write(path, text).unwrap();
}

fn kiroku(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kiroku"))
        .args(args)
        .current_dir(dir)
        .env_remove("KIROKU_STORE")
        .env("XDG_CACHE_HOME", dir.join(".cache"))
        .env("XDG_DATA_HOME", dir.join(".data"))
        .env("XDG_CONFIG_HOME", dir.join(".config"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs every stage's commands in dependency order in its wdir, then records it in
/// `dvc.lock` with kiroku's lock API (what `kiroku repro` does around each stage) and puts its
/// cached outputs in DVC's cache when the project is a DVC one. Frozen stages only with
/// `frozen_too` (by hand, as a person would make a frozen stage's outputs).
fn run_and_record(root: &Path, frozen_too: bool) {
    let pipeline = pipelines::load(root).unwrap();
    let dag = Dag::build(&pipeline).unwrap();
    let mut cache = StatCache::in_memory().unwrap();
    for &i in dag.order() {
        let stage = &pipeline.stages[i];
        if stage.frozen && !frozen_too {
            continue;
        }
        for out in &stage.outs {
            if !out.persist {
                let path = stage.path_on_disk(root, &out.path);
                let _ = fs::remove_dir_all(&path);
                let _ = fs::remove_file(&path);
            }
        }
        for cmd in &stage.cmd {
            let status = Command::new("sh")
                .args(["-c", cmd])
                .current_dir(stage.wdir_path(root))
                .status()
                .unwrap();
            assert!(status.success(), "stage {} failed: {cmd}", stage.name);
        }
        pipelines::record_current(&pipeline, stage, &mut cache).unwrap();
        dvc_cache::commit_outputs(root, stage, &mut cache).unwrap();
    }
}

fn statuses(root: &Path) -> Vec<StageStatus> {
    let pipeline = pipelines::load(root).unwrap();
    let dag = Dag::build(&pipeline).unwrap();
    let lock = LockFile::read(root).unwrap();
    let mut cache = StatCache::in_memory().unwrap();
    pipelines::status(&pipeline, &dag, &lock, &mut cache).unwrap()
}

fn state_of<'a>(all: &'a [StageStatus], name: &str) -> &'a StageState {
    &all.iter().find(|s| s.name == name).unwrap().state
}

// ---------------------------------------------------------------------------------------------
// Without DVC.

const FOREACH_MATRIX: &str = r#"vars:
  - shards: [a, b]
  - models: {cnn: {layers: 3}, xgb: {layers: 0}}
stages:
  prep:
    foreach: ${shards}
    do:
      cmd: mkdir -p prep && cat raw/${item}.txt > prep/${item}.txt
      deps:
      - raw/${item}.txt
      outs:
      - prep/${item}.txt
  train:
    matrix:
      model: [cnn, xgb]
      shard: ${shards}
    cmd: mkdir -p models && cat prep/${item.shard}.txt > models/${key}.bin
    deps:
    - prep/${item.shard}.txt
    params: [train.lr]
    outs:
    - models/${item.model}-${item.shard}.bin
  report:
    foreach: ${models}
    do:
      cmd: echo ${key} ${item.layers} > report-${key}.txt
      deps: [models]
      outs:
      - report-${key}.txt
  evaluate:
    cmd:
      - cat models/*.bin > eval.txt
      - echo evaluated >> eval.txt
    deps: [models]
    params:
      - conf.toml: [opt.beta]
    metrics: [eval.txt: {cache: false}]
  snapshot:
    cmd: cp eval.txt snapshot.txt
    deps: [eval.txt]
    outs: [snapshot.txt]
    frozen: true
"#;

fn foreach_matrix_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(&root.join("dvc.yaml"), FOREACH_MATRIX);
    write(
        &root.join("params.yaml"),
        "train:\n  lr: 0.1\n  epochs: 3\n",
    );
    write(&root.join("conf.toml"), "[opt]\nbeta = 0.9\ngamma = 2\n");
    write(&root.join("raw/a.txt"), "alpha\n");
    write(&root.join("raw/b.txt"), "beta\n");
    dir
}

#[test]
fn foreach_and_matrix_expand_as_dvc_names_them_into_one_dag() {
    let dir = foreach_matrix_project();
    let root = dir.path();
    let pipeline = pipelines::load(root).unwrap();
    let names: Vec<&str> = pipeline.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "prep@a",
            "prep@b",
            "train@cnn-a",
            "train@cnn-b",
            "train@xgb-a",
            "train@xgb-b",
            "report@cnn",
            "report@xgb",
            "evaluate",
            "snapshot"
        ]
    );
    let train = pipeline.stage("train@xgb-b").unwrap();
    assert_eq!(
        train.cmd,
        ["mkdir -p models && cat prep/b.txt > models/xgb-b.bin"]
    );
    assert_eq!(train.outs[0].path, "models/xgb-b.bin");
    assert_eq!(
        pipeline.stage("report@xgb").unwrap().cmd,
        ["echo xgb 0 > report-xgb.txt"]
    );
    let dag = Dag::build(&pipeline).unwrap();
    let order: Vec<&str> = dag.order().iter().map(|&i| dag.name(i)).collect();
    assert_eq!(order.last(), Some(&"snapshot"));
    let up = |name: &str| -> BTreeSet<&str> {
        let i = pipeline.stages.iter().position(|s| s.name == name).unwrap();
        dag.upstream(i).iter().map(|&u| dag.name(u)).collect()
    };
    assert_eq!(up("train@cnn-b"), BTreeSet::from(["prep@b"]));
    assert_eq!(
        up("report@cnn").len(),
        4,
        "a dep on a folder holding outputs"
    );
    assert_eq!(up("snapshot"), BTreeSet::from(["evaluate"]));
    let selected: Vec<&str> = dag
        .select(&["train".into()], false, false)
        .unwrap()
        .iter()
        .map(|&i| dag.name(i))
        .collect();
    assert_eq!(
        selected.len(),
        6,
        "the train group and its prep stages: {selected:?}"
    );

    let (code, tree, err) = kiroku(root, &["dag"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        tree.starts_with("prep@a\n├── train@cnn-a\n│   ├── report@cnn\n"),
        "{tree}"
    );
    assert!(tree.contains("snapshot (frozen)"), "{tree}");
    let (_, dot, _) = kiroku(root, &["dag", "--dot"]);
    assert!(dot.contains("\"prep@a\" -> \"train@cnn-a\";"), "{dot}");
    let (_, json_text, _) = kiroku(root, &["dag", "--format", "json"]);
    let graph: Value = serde_json::from_str(&json_text).unwrap();
    assert_eq!(graph["schema"], "kiroku.dag/v1");
    assert_eq!(graph["stages"].as_array().unwrap().len(), 10);
}

#[test]
fn params_in_yaml_and_toml_a_frozen_stage_and_the_status_command() {
    let dir = foreach_matrix_project();
    let root = dir.path();
    let all = statuses(root);
    assert!(all
        .iter()
        .filter(|s| s.name != "snapshot")
        .all(|s| matches!(&s.state, StageState::Stale(r) if r[0] == Reason::NeverRun)));
    run_and_record(root, false);
    // The frozen stage never ran: its output is missing, which is reported, but it stays frozen.
    let all = statuses(root);
    for s in &all {
        match s.name.as_str() {
            "snapshot" => assert!(matches!(&s.state, StageState::Frozen(r) if r.len() == 1)),
            _ => assert_eq!(s.state, StageState::Fresh, "{}", s.name),
        }
    }
    // Its output made by hand and recorded, it is up to date too.
    write(&root.join("snapshot.txt"), "kept by hand\n");
    let pipeline = pipelines::load(root).unwrap();
    let mut cache = StatCache::in_memory().unwrap();
    pipelines::record_current(&pipeline, pipeline.stage("snapshot").unwrap(), &mut cache).unwrap();
    let (code, text, err) = kiroku(root, &["status"]);
    assert_eq!(
        (code, text.as_str()),
        (0, "Data and pipelines are up to date.\n"),
        "{err}"
    );

    // A TOML param: only the stage that tracks it, and what depends on it, are stale.
    write(&root.join("conf.toml"), "[opt]\nbeta = 0.8\ngamma = 2\n");
    let all = statuses(root);
    assert_eq!(
        state_of(&all, "evaluate"),
        &StageState::Stale(vec![Reason::Param {
            file: "conf.toml".into(),
            key: Some("opt.beta".into()),
            change: pipelines::Change::Modified,
            old: Some(json!(0.9)),
            new: Some(json!(0.8)),
        }])
    );
    assert!(matches!(state_of(&all, "snapshot"), StageState::Frozen(r) if r.is_empty()));
    // An untracked key of the same file changes nothing.
    write(&root.join("conf.toml"), "[opt]\nbeta = 0.9\ngamma = 3\n");
    assert!(statuses(root).iter().all(|s| !s.is_stale()));

    // A YAML param: the four train stages, and downstream of them, with the reason in words.
    write(
        &root.join("params.yaml"),
        "train:\n  lr: 0.01\n  epochs: 3\n",
    );
    let (code, text, _) = kiroku(root, &["status"]);
    assert_eq!(code, 0);
    assert!(
        text.contains("train@cnn-a:\n    param train.lr: 0.1 → 0.01\n"),
        "{text}"
    );
    assert!(
        text.contains("report@cnn:\n    upstream stages rerun: train@cnn-a, train@cnn-b, train@xgb-a, train@xgb-b\n"),
        "{text}"
    );
    assert!(!text.contains("prep@a"), "{text}");
    let (_, json_text, _) = kiroku(root, &["status", "train@xgb-a", "--format", "json"]);
    let listed: Value = serde_json::from_str(&json_text).unwrap();
    assert_eq!(listed["schema"], "kiroku.pipeline_status/v1");
    let listed = &listed["stages"];
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["name"], "train@xgb-a");
    assert_eq!(listed[0]["state"], "stale");
    assert_eq!(listed[0]["reasons"][0]["kind"], "param");
    assert_eq!(listed[0]["reasons"][0]["key"], "train.lr");

    // A dep's content: its stage and everything downstream; a touch without a change: nothing.
    write(
        &root.join("params.yaml"),
        "train:\n  lr: 0.1\n  epochs: 3\n",
    );
    write(&root.join("raw/a.txt"), "alpha\n");
    assert!(
        statuses(root).iter().all(|s| !s.is_stale()),
        "a rewrite with the same bytes"
    );
    write(&root.join("raw/b.txt"), "beta, changed\n");
    let stale: BTreeSet<String> = statuses(root)
        .into_iter()
        .filter(|s| s.is_stale())
        .map(|s| s.name)
        .collect();
    let expected = [
        "prep@b",
        "train@cnn-b",
        "train@xgb-b",
        "report@cnn",
        "report@xgb",
        "evaluate",
    ];
    assert_eq!(stale, expected.iter().map(|s| s.to_string()).collect());
}

#[test]
fn errors_name_the_file_the_stage_the_key_and_the_line() {
    let cases: &[(&str, &str)] = &[
        (
            "stages:\n  train:\n    cmd: python t.py\n    outs: model.bin\n",
            "dvc.yaml, line 4: stage 'train', key 'outs': expected a list, got a string",
        ),
        (
            "stages:\n  train:\n    cmd: python t.py\n    deps: [a]\n    outz: [b]\n",
            "dvc.yaml, line 5: stage 'train', key 'outz': unknown key",
        ),
        (
            "stages:\n  train:\n    deps: [a]\n",
            "dvc.yaml, line 3: stage 'train', key 'cmd': a stage needs a 'cmd'",
        ),
        (
            "vars:\n  - {a: 1}\nstages:\n  train:\n    cmd: echo ${b.c}\n",
            "dvc.yaml, line 5: stage 'train', key 'cmd': could not find 'b.c'",
        ),
        (
            "stages:\n  train:\n    foreach: [1, 2]\n    do:\n      cmd: echo ${item}\n      frozen: maybe\n",
            "dvc.yaml, line 6: stage 'train@1', key 'frozen': expected true or false, got a string",
        ),
        (
            "stages:\n  t:\n    cmd: x\n    meta:\n      kiroku:\n        gpus: two\n",
            "dvc.yaml, line 6: stage 't', key 'meta.kiroku.gpus': expected a count of GPUs, got a string",
        ),
        (
            "stages:\n  a:\n    cmd: x\n  b: [1\n",
            "dvc.yaml, line ",
        ),
        (
            "stages:\n  t:\n    cmd: x\n    params:\n      - p.toml: [a]\n",
            "p.toml",
        ),
    ];
    for (yaml, expected) in cases {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("dvc.yaml"), yaml);
        write(&dir.path().join("p.toml"), "a = [\n");
        let err = match pipelines::load(dir.path()) {
            Ok(p) => {
                // Params files are read when the status is taken.
                let mut cache = StatCache::in_memory().unwrap();
                let dag = Dag::build(&p).unwrap();
                write(
                    &dir.path().join("dvc.lock"),
                    "schema: '2.0'\nstages:\n  t:\n    cmd: x\n",
                );
                pipelines::status(&p, &dag, &LockFile::read(dir.path()).unwrap(), &mut cache)
                    .expect_err(yaml)
                    .to_string()
            }
            Err(e) => e.to_string(),
        };
        assert!(
            err.starts_with(expected) || err.contains(expected),
            "{yaml}\n→ {err}"
        );
        let (code, _, stderr) = kiroku(dir.path(), &["status"]);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
    }
    let settings = {
        let dir = tempfile::tempdir().unwrap();
        write(
            &dir.path().join("dvc.yaml"),
            "stages:\n  t:\n    cmd: x\n    meta:\n      owner: me\n      kiroku: {target: box2, gpus: 2, require_checks: [raw]}\n",
        );
        pipelines::load(dir.path()).unwrap().stages[0]
            .settings
            .clone()
    };
    assert_eq!(settings.target.as_deref(), Some("box2"));
    assert_eq!(settings.gpus, Some(2));
    assert_eq!(settings.require_checks, ["raw"]);
}

// ---------------------------------------------------------------------------------------------
// With DVC as the oracle.

fn probe(what: &str, dirs: &[PathBuf]) -> BTreeMap<String, Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dvc_probe.py");
    let out = Command::new(dvc_python())
        .arg(script)
        .arg(what)
        .args(dirs)
        .env("DVC_NO_ANALYTICS", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dvc_probe {what} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn key(dir: &Path) -> String {
    dir.display().to_string()
}

/// A `dvc.yaml` drawing DVC's templating features at random, with the files it reads.
fn generated_definition(rng: &mut Rng, root: &Path) {
    let words = ["alpha", "beta", "gamma", "delta", "x1", "y-2"];
    let floats = ["0.1", "0.001", "1e-05", "2.5", "100.0", "3"];
    let mut vars = String::from("vars:\n");
    vars.push_str(&format!(
        "  - name: {}\n    n: {}\n    lr: {}\n    flag: {}\n    lst: [{}, {}, {}]\n    d: {{a: {}, b: {}}}\n",
        rng.pick(&words),
        rng.below(50),
        rng.pick(&floats),
        rng.chance(50),
        rng.pick(&words),
        rng.below(9),
        rng.pick(&floats),
        rng.pick(&words),
        rng.below(9)
    ));
    write(
        &root.join("extra.yaml"),
        format!(
            "sect:\n  k: {}\n  deep: {{z: {}}}\nother: 1\n",
            rng.pick(&words),
            rng.below(100)
        ),
    );
    vars.push_str(if rng.chance(50) {
        "  - extra.yaml\n"
    } else {
        "  - extra.yaml:sect\n"
    });
    write(
        &root.join("params.yaml"),
        format!(
            "train:\n  lr: {}\n  epochs: {}\nprep:\n  size: {}\n",
            rng.pick(&floats),
            rng.below(20),
            rng.below(5)
        ),
    );
    write(
        &root.join("conf.toml"),
        format!("[opt]\nbeta = {}\n", rng.pick(&floats)),
    );
    let mut stages = String::from("stages:\n");
    let mut n = 0;
    let count = 3 + rng.below(4);
    for _ in 0..count {
        n += 1;
        let cmd = rng
            .pick(&[
                "echo ${name} ${n} ${lr} > o",
                "python x.py --lr ${lr} --flag ${flag} --k ${sect.k}",
                "run ${lst[0]} ${lst[2]} ${d.a}-${d.b}",
                "echo ${sect.deep.z} ${train.epochs}",
            ])
            .to_string();
        match rng.below(4) {
            0 => {
                let cmd_yaml = if rng.chance(40) {
                    format!("\n      - {cmd}\n      - echo second ${{n}}")
                } else {
                    format!(" {cmd}")
                };
                let wdir = if rng.chance(25) {
                    "\n    wdir: sub"
                } else {
                    ""
                };
                stages.push_str(&format!(
                    "  s{n}:\n    cmd:{cmd_yaml}{wdir}\n    deps:\n    - in/${{name}}-{n}.txt\n    - ${{lst[1]}}.dat\n    params:\n      - train.lr\n      - conf.toml: [opt.beta]\n    outs:\n      - out/{n}/${{d.a}}.bin\n      - keep{n}.txt: {{persist: true, cache: false}}\n    metrics: [m{n}.json: {{cache: false}}]\n    plots: [p{n}.csv]\n    frozen: {}\n",
                    rng.chance(20)
                ));
            }
            1 => {
                let (data, body) = *rng.pick(&[
                    ("${lst}", "echo ${item} > f-${item}.txt"),
                    ("[a, b, 3, 0.5]", "echo ${item} > f-${item}.txt"),
                    (
                        "[{x: 1, y: u}, {x: 2, y: v}]",
                        "echo ${item.x} ${item.y} > f-${item.y}.txt",
                    ),
                    (
                        "{p: {x: 1}, q: {x: 2}}",
                        "echo ${key} ${item.x} > f-${key}.txt",
                    ),
                    ("${d}", "echo ${key} ${item} > f-${key}.txt"),
                ]);
                let out = body.rsplit("> ").next().unwrap();
                stages.push_str(&format!(
                    "  g{n}:\n    foreach: {data}\n    do:\n      cmd: {body}\n      deps: [params.yaml]\n      outs:\n      - g{n}/{out}\n      metrics:\n      - g{n}/m-{out}.json:\n          cache: false\n      always_changed: {}\n",
                    rng.chance(20)
                ));
            }
            2 => {
                let axis = *rng.pick(&["[cnn, xgb]", "${lst}", "[1, 2]"]);
                let composite = if rng.chance(50) {
                    "\n      cfg: [{lr: 1}, [2, 3]]"
                } else {
                    ""
                };
                stages.push_str(&format!(
                    "  m{n}:\n    matrix:\n      model: {axis}\n      feat: [a, b]{composite}\n    cmd: train ${{item.model}} ${{item.feat}} ${{key}}\n    params: [prep.size]\n    outs:\n    - m{n}/${{key}}.out\n"
                ));
            }
            _ => {
                stages.push_str(&format!(
                    "  c{n}:\n    vars:\n      - local{n}: {{x: {n}, y: [p, q]}}\n    cmd: ${{name}} ${{d}} ${{local{n}.x}} ${{local{n}.y[1]}}\n    desc: plain ${{n}}\n    params:\n      - extra.yaml:\n      - train\n"
                ));
            }
        }
    }
    // Now and then a file DVC refuses, which kiroku must refuse too.
    match rng.below(12) {
        0 => stages.push_str("  broken:\n    cmd: echo ${nope.x}\n"),
        1 => stages.push_str("  broken:\n    foreach: ${n}\n    do:\n      cmd: echo ${item}\n"),
        2 => vars.push_str("  - name: again\n"),
        _ => {}
    }
    let sections = generated_sections(rng);
    write(&root.join("dvc.yaml"), format!("{vars}{sections}{stages}"));
    fs::create_dir_all(root.join("sub")).unwrap();
}

/// DVC 3's top-level `params`, `metrics`, `plots` and `artifacts`, drawn at random, now and
/// then in a shape DVC's schema refuses.
fn generated_sections(rng: &mut Rng) -> String {
    let mut text = String::new();
    if rng.chance(40) {
        text.push_str(rng.pick::<&str>(&[
            "metrics: [m.json, '${name}.json', eval/scores.yaml]
",
            "metrics: []
",
            "params: [extra.yaml, conf.toml]
",
        ]));
    }
    if rng.chance(40) {
        text.push_str(
            "plots:
",
        );
        for _ in 0..1 + rng.below(3) {
            text.push_str(rng.pick::<&str>(&[
                "- p.csv
",
                "- q.csv: {x: step, y: [a, b], title: Q}
",
                "- Loss:
    y: {l.csv: loss, v.csv: [val, 'x y']}
    x: {l.csv: step}
    template: linear
",
                "- r.csv:
",
                "- s.csv: {y: acc, x_label: epoch, y_label: score}
  t.json:
",
            ]));
        }
    }
    if rng.chance(40) {
        text.push_str(&format!(
            "artifacts:
  model-{}:
    path: models/m.pkl
    type: model
    desc: the model
    labels: [a, b]
    meta: {{k: 1, nested: [x]}}
  data:
    path: data.csv
",
            rng.below(9)
        ));
    }
    if rng.chance(10) {
        text.push_str(rng.pick::<&str>(&[
            "metrics: m.json
",
            "params: [5]
",
            "plots: {a: b}
",
            "plots:
- a.csv: {x: 1}
",
            "plots:
- a.csv: {colour: red}
",
            "artifacts:
  m: {type: model}
",
            "artifacts:
  m: {path: x, extra: 1}
",
            "artifacts: [m]
",
        ]));
    }
    text
}

#[test]
fn generated_definitions_resolve_as_dvc_resolves_them() {
    if !require_dvc() {
        return;
    }
    let mut rng = Rng(SEED);
    let base = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = (0..40)
        .map(|i| {
            let dir = base.path().join(format!("p{i}"));
            fs::create_dir_all(&dir).unwrap();
            generated_definition(&mut rng, &dir);
            dir
        })
        .collect();
    let oracle = probe("resolve", &dirs);
    let mut compared = 0;
    let mut refused = 0;
    let mut sections_seen = 0;
    for dir in &dirs {
        let theirs = &oracle[&key(dir)];
        let ours = pipelines::load(dir);
        let Some(stages) = theirs.get("stages") else {
            refused += 1;
            assert!(
                ours.is_err(),
                "{}: DVC refused ({}) but kiroku read it",
                dir.display(),
                theirs["error"]
            );
            continue;
        };
        let ours = ours.unwrap_or_else(|e| {
            panic!(
                "{}: {e}\n{}",
                dir.display(),
                fs::read_to_string(dir.join("dvc.yaml")).unwrap()
            )
        });
        let our_sections = ours.sections.clone();
        let ours: Vec<Value> = ours
            .stages
            .iter()
            .map(|s| {
                let mut params = serde_json::Map::new();
                for p in &s.params {
                    params.insert(
                        p.file.clone(),
                        match &p.keys {
                            pipelines::ParamKeys::All => Value::Null,
                            pipelines::ParamKeys::Keys(k) => json!(k),
                        },
                    );
                }
                let mut outs: Vec<Value> = s
                    .outs
                    .iter()
                    .map(|o| json!({"path": o.path, "cache": o.cache, "persist": o.persist, "kind": o.kind}))
                    .collect();
                outs.sort_by_key(|o| o["path"].as_str().unwrap().to_string());
                json!({
                    "name": s.name, "cmd": s.cmd, "wdir": s.wdir,
                    "deps": s.deps.iter().map(|d| &d.path).collect::<Vec<_>>(),
                    "params": params, "outs": outs,
                    "frozen": s.frozen, "always_changed": s.always_changed,
                })
            })
            .collect();
        // The top-level sections read as DVC reads them.
        let sections = &theirs["sections"];
        let their_plots: Vec<(String, Value)> = sections["plots"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| match p {
                Value::String(path) => vec![(path.clone(), Value::Null)],
                Value::Object(defs) => defs.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                other => panic!("plot {other}"),
            })
            .collect();
        let their_artifacts: Vec<(String, String)> = sections["artifacts"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, a)| (name.clone(), a["path"].as_str().unwrap().to_string()))
            .collect();
        assert_eq!(
            json!(our_sections.metrics),
            sections["metrics"],
            "{}",
            dir.display()
        );
        assert_eq!(
            json!(our_sections.params),
            sections["params"],
            "{}",
            dir.display()
        );
        assert_eq!(our_sections.plots, their_plots, "{}", dir.display());
        let our_artifacts: Vec<(String, String)> = our_sections
            .artifacts
            .iter()
            .map(|a| (a.name.clone(), a.path.clone()))
            .collect();
        assert_eq!(our_artifacts, their_artifacts, "{}", dir.display());
        sections_seen += usize::from(!their_plots.is_empty() || !their_artifacts.is_empty());
        let mut theirs: Vec<Value> = stages.as_array().unwrap().clone();
        for stage in &mut theirs {
            let mut outs = stage["outs"].as_array().unwrap().clone();
            outs.sort_by_key(|o| o["path"].as_str().unwrap().to_string());
            stage["outs"] = json!(outs);
        }
        assert_eq!(
            ours,
            theirs,
            "{}:\n{}",
            dir.display(),
            fs::read_to_string(dir.join("dvc.yaml")).unwrap()
        );
        compared += ours.len();
    }
    assert!(compared > 150, "only {compared} stages compared");
    assert!(refused >= 3, "only {refused} files refused by DVC");
    assert!(
        sections_seen >= 10,
        "only {sections_seen} files with plots or artifacts"
    );
}

/// Hundreds of files (empty, binary, unicode and odd names, executable) in nested folders,
/// as the deps of one stage.
fn generated_tree(rng: &mut Rng, root: &Path) -> Vec<String> {
    let names = [
        "a.txt",
        "b c.bin",
        "é.dat",
        "日本.csv",
        "x\"q.txt",
        "-lead",
        "UPPER.TXT",
        "tab\tname",
    ];
    let mut deps = Vec::new();
    for i in 0..120 {
        let name = format!("f{i}-{}", rng.pick(&names));
        let size = match rng.below(5) {
            0 => 0,
            1 => rng.below(16) as usize,
            2 => 1 << 20 | rng.below(4096) as usize,
            _ => rng.below(70_000) as usize,
        };
        let path = root.join("data").join(&name);
        write(&path, rng.bytes(size));
        if rng.chance(10) {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        }
        deps.push(format!("data/{name}"));
    }
    for d in 0..40 {
        let top = format!("trees/t{d}");
        let files = rng.below(12);
        for f in 0..files {
            let depth = rng.below(3);
            let mut rel = String::new();
            for k in 0..depth {
                rel.push_str(&format!("{}{k}/", rng.pick(&["s", "é", "z z"])));
            }
            rel.push_str(&format!("{f}{}", rng.pick(&names)));
            let size = rng.below(5000) as usize;
            write(&root.join(&top).join(rel), rng.bytes(size));
        }
        if files == 0 || rng.chance(20) {
            fs::create_dir_all(root.join(&top).join("empty/inner")).unwrap();
        }
        if files == 0 {
            write(&root.join(&top).join("only"), "x");
        }
        deps.push(top);
    }
    deps
}

#[test]
fn hashes_and_the_lock_text_are_dvcs() {
    if !require_dvc() {
        return;
    }
    let mut rng = Rng(SEED ^ 1);
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("hashes");
    let deps = generated_tree(&mut rng, &root);
    let quoted: Vec<String> = deps
        .iter()
        .map(|d| serde_json::to_string(d).unwrap())
        .collect();
    write(
        &root.join("dvc.yaml"),
        format!(
            "stages:\n  hashall:\n    cmd: cat data/* > /dev/null\n    deps: [{}]\n",
            quoted.join(", ")
        ),
    );
    let lock_text = probe("repro", std::slice::from_ref(&root));
    let dvc_lock = lock_text[&key(&root)].as_str().unwrap().to_string();
    let pipeline = pipelines::load(&root).unwrap();
    let mut cache = StatCache::in_memory().unwrap();
    let entry = LockEntry::compute(&root, &pipeline.stages[0], &mut cache).unwrap();
    let theirs = LockFile::parse(&dvc_lock).unwrap();
    let theirs = theirs.entry("hashall").unwrap();
    assert_eq!(entry.deps.len(), 160);
    for (ours, theirs) in entry.deps.iter().zip(&theirs.deps) {
        assert_eq!(ours, theirs);
    }
    let ours = LockFile {
        stages: vec![("hashall".into(), entry)],
    };
    assert_eq!(ours.to_yaml(), dvc_lock);
}

/// Folders of files that a root `.dvcignore` and a nested `data/.dvcignore`, drawn from
/// gitignore's features, partly ignore; the stage's deps are the folders.
fn generated_ignored_trees(rng: &mut Rng, root: &Path) -> usize {
    let root_patterns = [
        "*.tmp",
        "!keep.tmp",
        "/top.log",
        "logs/",
        "**/cache/**",
        "data/t*/deep/**/b",
        "[ab]*.txt",
        "[!a-c]x.txt",
        "?x.bin",
        "build",
        "*.bak  ",
        "sub/*.csv",
        "\\#hash",
        "# a comment",
        "",
        "data/t0/c.txt",
        "*/inner/",
        "!logs/",
    ];
    let nested_patterns = [
        "*.csv",
        "!sub/q.csv",
        "t1/sub/",
        "/t2/zx.bin",
        "deep/",
        "**/b1.txt",
        "!a.tmp",
        "m/",
    ];
    let files = [
        "always.txt",
        "a.tmp",
        "keep.tmp",
        "top.log",
        "x.bak",
        "b1.txt",
        "c.txt",
        "dx.txt",
        "zx.bin",
        "#hash",
        "build",
        "logs/inner.txt",
        "cache/obj",
        "sub/q.csv",
        "sub/r.csv",
        "deep/a/m/b",
        "deep/b",
        "n/inner/f",
        "n/build/g",
    ];
    let mut text = String::new();
    for p in root_patterns {
        if rng.chance(45) {
            text.push_str(p);
            text.push('\n');
        }
    }
    write(&root.join(".dvcignore"), &text);
    if rng.chance(70) {
        let mut nested = String::new();
        for p in nested_patterns {
            if rng.chance(40) {
                nested.push_str(p);
                nested.push('\n');
            }
        }
        write(&root.join("data/.dvcignore"), &nested);
    }
    let trees = 3 + rng.below(3) as usize;
    for t in 0..trees {
        for f in files {
            if f == "always.txt" || rng.chance(55) {
                let size = rng.below(300) as usize;
                write(&root.join(format!("data/t{t}/{f}")), rng.bytes(size));
            }
        }
    }
    let deps: Vec<String> = (0..trees).map(|t| format!("data/t{t}")).collect();
    write(
        &root.join("dvc.yaml"),
        format!(
            "stages:\n  hashall:\n    cmd: echo\n    deps: [{}]\n",
            deps.join(", ")
        ),
    );
    trees
}

#[test]
fn dvcignore_leaves_out_of_folder_hashes_what_dvc_leaves_out() {
    if !require_dvc() {
        return;
    }
    let mut rng = Rng(SEED ^ 7);
    let base = tempfile::tempdir().unwrap();
    let mut trees = 0;
    let dirs: Vec<PathBuf> = (0..16)
        .map(|i| {
            let dir = base.path().join(format!("ign{i}"));
            trees += generated_ignored_trees(&mut rng, &dir);
            dir
        })
        .collect();
    let locks = probe("repro", &dirs);
    let mut differing_from_unignored = 0;
    for dir in &dirs {
        let theirs = LockFile::parse(locks[&key(dir)].as_str().unwrap()).unwrap();
        let theirs = theirs.entry("hashall").unwrap();
        let pipeline = pipelines::load(dir).unwrap();
        let mut cache = StatCache::in_memory().unwrap();
        let ours = LockEntry::compute(dir, &pipeline.stages[0], &mut cache).unwrap();
        assert_eq!(
            ours.deps,
            theirs.deps,
            "{}:\n.dvcignore:\n{}\ndata/.dvcignore:\n{}",
            dir.display(),
            fs::read_to_string(dir.join(".dvcignore")).unwrap(),
            fs::read_to_string(dir.join("data/.dvcignore")).unwrap_or_default()
        );
        // The ignore files mattered: without them some folder hashes differ.
        fs::remove_file(dir.join(".dvcignore")).unwrap();
        let _ = fs::remove_file(dir.join("data/.dvcignore"));
        let mut cache = StatCache::in_memory().unwrap();
        let bare = LockEntry::compute(dir, &pipeline.stages[0], &mut cache).unwrap();
        differing_from_unignored += usize::from(bare.deps != ours.deps);
    }
    assert!(trees >= 48, "{trees} trees");
    assert!(
        differing_from_unignored >= 12,
        "only {differing_from_unignored} projects where .dvcignore changed a hash"
    );
}

/// A pipeline with a foreach, a folder dep and output, params in YAML and TOML, a metrics
/// file, a frozen stage and a stage with neither deps nor outputs.
fn status_project(root: &Path, rng: &mut Rng) {
    for i in 0..3 {
        write(
            &root.join(format!("data/raw_{i}.bin")),
            rng.bytes(200 + i * 10),
        );
    }
    for f in 0..3 {
        write(&root.join(format!("data/images/{f}.png")), rng.bytes(50));
    }
    write(
        &root.join("params.yaml"),
        "prep:\n  scale: 2\ntrain:\n  lr: 0.1\n  epochs: 3\nunused: 1\n",
    );
    write(&root.join("conf.toml"), "[opt]\nbeta = 0.9\n");
    // The frozen stage's output, made by hand (DVC's repro checks that it is there).
    write(&root.join("archive.txt"), "by hand\n");
    fs::create_dir_all(root.join("reports")).unwrap();
    write(
        &root.join("dvc.yaml"),
        r#"stages:
  prep:
    foreach: [0, 1, 2]
    do:
      cmd: mkdir -p prep && cat data/raw_${item}.bin > prep/p${item}.bin && echo ${prep.scale} >> prep/p${item}.bin
      deps:
      - data/raw_${item}.bin
      params: [prep.scale]
      outs:
      - prep/p${item}.bin
  train:
    cmd:
    - mkdir -p model
    - cat prep/p0.bin prep/p1.bin prep/p2.bin data/images/* > model/weights.bin
    - echo acc 0.5 > metrics.json
    deps: [prep/p0.bin, prep/p1.bin, prep/p2.bin, data/images]
    params:
    - train.lr
    - conf.toml:
    outs: [model]
    metrics: [metrics.json: {cache: false}]
  evaluate:
    cmd: wc -c model/weights.bin > eval.txt
    deps: [model]
    outs: [eval.txt]
  archive:
    cmd: cp eval.txt archive.txt
    deps: [eval.txt]
    outs: [archive.txt]
    frozen: true
  ping:
    cmd: echo ping
  report:
    wdir: reports
    cmd: cat ../eval.txt ../model/weights.bin > report.txt
    deps: [../eval.txt, ../model]
    outs: [report.txt]
"#,
    );
}

/// One seeded edit of a project DVC reproduced; returns what it did.
fn random_edit(rng: &mut Rng, root: &Path) -> String {
    let edit = rng.below(13);
    match edit {
        0 => {
            let i = rng.below(3);
            write(&root.join(format!("data/raw_{i}.bin")), rng.bytes(99));
            format!("raw_{i} changed")
        }
        1 => {
            write(&root.join("data/images/new.png"), rng.bytes(9));
            "a file added to a folder dep".into()
        }
        2 => {
            write(
                &root.join("params.yaml"),
                "prep:\n  scale: 2\ntrain:\n  lr: 0.01\n  epochs: 3\nunused: 1\n",
            );
            "train.lr changed".into()
        }
        3 => {
            write(
                &root.join("params.yaml"),
                "prep:\n  scale: 2\ntrain:\n  lr: 0.1\n  epochs: 3\nunused: 2\n",
            );
            "an untracked param changed".into()
        }
        4 => {
            write(&root.join("conf.toml"), "[opt]\nbeta = 0.5\nnew = 1\n");
            "a whole-file TOML param changed".into()
        }
        5 => {
            let text = fs::read_to_string(root.join("dvc.yaml")).unwrap();
            write(
                &root.join("dvc.yaml"),
                text.replace("wc -c model", "wc -l model"),
            );
            "evaluate's cmd changed".into()
        }
        6 => {
            fs::remove_dir_all(root.join("model")).unwrap();
            "the model folder deleted".into()
        }
        7 => {
            let i = rng.below(3);
            fs::remove_file(root.join(format!("prep/p{i}.bin"))).unwrap();
            format!("prep/p{i}.bin deleted")
        }
        8 => {
            write(&root.join("eval.txt"), "tampered\n");
            "an output changed".into()
        }
        9 => {
            fs::remove_file(root.join("archive.txt")).ok();
            "the frozen stage's output deleted".into()
        }
        12 => {
            fs::remove_file(root.join("reports/report.txt")).ok();
            "the output of the stage in a wdir deleted".into()
        }
        10 => {
            let text = fs::read_to_string(root.join("dvc.yaml")).unwrap();
            write(
                &root.join("dvc.yaml"),
                text.replace("deps: [model]", "deps: [model, params.yaml]"),
            );
            "a dep added".into()
        }
        _ => {
            let path = root.join("data/raw_1.bin");
            let bytes = fs::read(&path).unwrap();
            fs::remove_file(&path).unwrap();
            write(&path, bytes);
            "raw_1 rewritten with the same bytes".into()
        }
    }
}

/// DVC's status as (stage, what, path) triples: `dep`/`out` with path and change, `param`
/// with the params file, `always`, `cmd`.
fn dvc_changes(status: &Value) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for (stage, entries) in status.as_object().unwrap() {
        for entry in entries.as_array().unwrap() {
            match entry {
                Value::String(s) if s == "always changed" => {
                    out.insert((stage.clone(), "always".into(), String::new()));
                }
                Value::String(s) if s == "changed command" => {
                    out.insert((stage.clone(), "cmd".into(), String::new()));
                }
                Value::Object(map) => {
                    for (section, changes) in map {
                        let what = if section == "changed deps" {
                            "dep"
                        } else {
                            "out"
                        };
                        for (path, change) in changes.as_object().unwrap() {
                            match change {
                                // A whole-file params file reported as one.
                                Value::String(_) if what == "dep" && path.ends_with(".toml") => {
                                    out.insert((stage.clone(), "param".into(), path.clone()));
                                }
                                Value::String(c) => {
                                    out.insert((stage.clone(), what.into(), format!("{path} {c}")));
                                }
                                Value::Object(_) => {
                                    out.insert((stage.clone(), "param".into(), path.clone()));
                                }
                                other => panic!("unexpected status entry {other}"),
                            }
                        }
                    }
                }
                other => panic!("unexpected status entry {other}"),
            }
        }
    }
    out
}

fn kiroku_changes(all: &[StageStatus]) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for s in all {
        for reason in s.own_reasons() {
            let (what, detail) = match reason {
                Reason::AlwaysChanged | Reason::NoDepsOrOuts => ("always", String::new()),
                Reason::CommandChanged => ("cmd", String::new()),
                Reason::Dep { path, change } => ("dep", format!("{path} {change}")),
                Reason::Out { path, change } => ("out", format!("{path} {change}")),
                Reason::Param { file, .. } => ("param", file.clone()),
                Reason::NeverRun | Reason::Upstream { .. } => continue,
            };
            out.insert((s.name.clone(), what.to_string(), detail));
        }
    }
    out
}

#[test]
fn status_agrees_with_dvc_after_repro_and_after_random_edits() {
    if !require_dvc() {
        return;
    }
    let mut rng = Rng(SEED ^ 2);
    let base = tempfile::tempdir().unwrap();
    let dirs: Vec<PathBuf> = (0..12)
        .map(|i| {
            let dir = base.path().join(format!("s{i}"));
            status_project(&dir, &mut rng);
            dir
        })
        .collect();
    let locks = probe("repro", &dirs);
    let mut edits = Vec::new();
    for dir in &dirs {
        // DVC's lock is honoured: nothing but the always-changed stage, the frozen stage's
        // missing output (DVC never ran it either) are listed.
        let all = statuses(dir);
        for s in &all {
            match s.name.as_str() {
                "ping" => assert_eq!(s.state, StageState::Stale(vec![Reason::NoDepsOrOuts])),
                "archive" => assert!(matches!(&s.state, StageState::Frozen(_))),
                _ => assert_eq!(s.state, StageState::Fresh, "{}: {:?}", s.name, s.state),
            }
        }
        // The lock kiroku would write for the same stages is DVC's, byte for byte.
        let pipeline = pipelines::load(dir).unwrap();
        let mut cache = StatCache::in_memory().unwrap();
        let ours = LockFile {
            stages: pipeline
                .stages
                .iter()
                .map(|s| {
                    (
                        s.name.clone(),
                        LockEntry::compute(dir, s, &mut cache).unwrap(),
                    )
                })
                .collect(),
        };
        assert_eq!(ours.to_yaml(), locks[&key(dir)].as_str().unwrap());
        let mut done = vec![random_edit(&mut rng, dir)];
        if rng.chance(40) {
            done.push(random_edit(&mut rng, dir));
        }
        edits.push(done);
    }
    let oracle = probe("status", &dirs);
    for (dir, done) in dirs.iter().zip(&edits) {
        let all = statuses(dir);
        assert_eq!(
            kiroku_changes(&all),
            dvc_changes(&oracle[&key(dir)]),
            "after {done:?}: DVC says {}",
            oracle[&key(dir)]
        );
    }
}

#[test]
fn a_lock_kiroku_wrote_satisfies_dvc_status() {
    if !require_dvc() {
        return;
    }
    let mut rng = Rng(SEED ^ 3);
    let base = tempfile::tempdir().unwrap();
    let mut dirs = Vec::new();
    for i in 0..3 {
        let dir = base.path().join(format!("k{i}"));
        status_project(&dir, &mut rng);
        dirs.push(dir);
    }
    let dir = base.path().join("fm");
    let fm = foreach_matrix_project();
    copy_tree(fm.path(), &dir);
    dirs.push(dir);
    // `status` on fresh folders makes them DVC projects (dvc_probe inits them).
    probe("status", &dirs);
    for dir in &dirs {
        run_and_record(dir, true);
    }
    let oracle = probe("status", &dirs);
    for dir in &dirs {
        let listed: BTreeSet<&String> = oracle[&key(dir)].as_object().unwrap().keys().collect();
        let expected: BTreeSet<&String> = oracle[&key(dir)]
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| *k == "ping")
            .collect();
        assert_eq!(
            listed,
            expected,
            "{}: DVC says {}",
            dir.display(),
            oracle[&key(dir)]
        );
    }
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}
