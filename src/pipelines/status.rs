//! Change detection with reasons, by DVC's rules: a stage is stale when its command changed,
//! a dep or a tracked param changed, was added or is gone, an output is missing or changed,
//! it is `always_changed`, or it has neither deps nor outputs; a stage never recorded in
//! `dvc.lock` is stale. A `frozen` stage never reruns; like DVC, its outputs are still
//! checked and reported. A stage downstream of a stale stage reruns too ([`Reason::Upstream`]);
//! `dvc status` does not list those, so [`StageStatus::own_reasons`] leaves them out.
use super::dag::Dag;
use super::definition::{ParamKeys, Pipeline, Stage};
use super::hash::{hash_path_opt, PathHash};
use super::lock::{stage_cmd_json, LockEntry, LockFile, LockPath};
use super::params::{lookup, read_params_file};
use super::stat_cache::StatCache;
use super::template::to_str;
use crate::error::Result;
use serde::Serialize;
use serde_json::{Map, Value as Json};
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

/// How a dep, an output or a param differs from the lock (DVC's words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Modified,
    New,
    Deleted,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            Change::Modified => "modified",
            Change::New => "new",
            Change::Deleted => "deleted",
        })
    }
}

/// Why a stage reruns.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// No entry in `dvc.lock`: never run (or its entry was lost).
    NeverRun,
    CommandChanged,
    AlwaysChanged,
    /// Neither deps nor outputs: DVC runs such a stage every time.
    NoDepsOrOuts,
    /// `path` from the pipeline's root (as `dvc status` shows it), not from the stage's wdir.
    Dep {
        path: String,
        change: Change,
    },
    /// A tracked param (`key` None: the params file itself is missing).
    Param {
        file: String,
        key: Option<String>,
        change: Change,
        old: Option<Json>,
        new: Option<Json>,
    },
    /// `path` from the pipeline's root.
    Out {
        path: String,
        change: Change,
    },
    /// An upstream stage reruns, so this one will too.
    Upstream {
        stage: String,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let show = |v: &Option<Json>| {
            v.as_ref().map_or("-".to_string(), |v| {
                to_str(v, false).unwrap_or_else(|_| v.to_string())
            })
        };
        match self {
            Reason::NeverRun => f.write_str("never run (no entry in dvc.lock)"),
            Reason::CommandChanged => f.write_str("command changed"),
            Reason::AlwaysChanged => f.write_str("always changed"),
            Reason::NoDepsOrOuts => f.write_str("always changed (no deps or outs)"),
            Reason::Dep { path, change } => write!(f, "deps {}: {path}", change_word(*change)),
            Reason::Param {
                file,
                key: None,
                change,
                ..
            } => write!(f, "params file {}: {file}", change_word(*change)),
            Reason::Param {
                key: Some(key),
                change: Change::Modified,
                old,
                new,
                ..
            } => {
                write!(f, "param {key}: {} → {}", show(old), show(new))
            }
            Reason::Param {
                key: Some(key),
                change: Change::New,
                new,
                ..
            } => write!(f, "param {key} added: {}", show(new)),
            Reason::Param {
                key: Some(key),
                change: Change::Deleted,
                old,
                ..
            } => write!(f, "param {key} removed (was {})", show(old)),
            Reason::Out { path, change } => write!(f, "outs {}: {path}", change_word(*change)),
            Reason::Upstream { stage } => write!(f, "upstream stage '{stage}' reruns"),
        }
    }
}

fn change_word(change: Change) -> &'static str {
    match change {
        Change::Modified => "changed",
        Change::New => "added",
        Change::Deleted => "missing",
    }
}

/// A stage's state.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", content = "reasons", rename_all = "snake_case")]
pub enum StageState {
    Fresh,
    Stale(Vec<Reason>),
    /// Never reruns; the reasons are what changed in its outputs (as `dvc status` reports).
    Frozen(Vec<Reason>),
}

/// One stage's status.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageStatus {
    pub name: String,
    /// Index into [`Pipeline::stages`].
    pub index: usize,
    #[serde(flatten)]
    pub state: StageState,
}

impl StageStatus {
    pub fn is_stale(&self) -> bool {
        matches!(self.state, StageState::Stale(_))
    }

    /// The reasons that are this stage's own (what `dvc status` lists), without upstream ones.
    pub fn own_reasons(&self) -> Vec<&Reason> {
        match &self.state {
            StageState::Fresh => Vec::new(),
            StageState::Stale(r) | StageState::Frozen(r) => r
                .iter()
                .filter(|r| !matches!(r, Reason::Upstream { .. }))
                .collect(),
        }
    }
}

/// Hashes and params files read once per status pass.
struct Probe<'a> {
    root: PathBuf,
    cache: &'a mut StatCache,
    hashes: HashMap<PathBuf, Option<PathHash>>,
    params: HashMap<PathBuf, Option<Map<String, Json>>>,
}

impl Probe<'_> {
    fn hash(&mut self, stage: &Stage, path: &str) -> Result<Option<PathHash>> {
        let on_disk = stage.path_on_disk(&self.root, path);
        if let Some(known) = self.hashes.get(&on_disk) {
            return Ok(known.clone());
        }
        let hash = hash_path_opt(&on_disk, self.cache)?;
        self.hashes.insert(on_disk, hash.clone());
        Ok(hash)
    }

    fn params_file(&mut self, stage: &Stage, file: &str) -> Result<Option<Map<String, Json>>> {
        let on_disk = stage.path_on_disk(&self.root, file);
        if let Some(known) = self.params.get(&on_disk) {
            return Ok(known.clone());
        }
        let read = if on_disk.is_file() {
            Some(read_params_file(&on_disk)?)
        } else {
            None
        };
        self.params.insert(on_disk, read.clone());
        Ok(read)
    }
}

/// The status of every stage, in `dvc.yaml` order.
pub fn status(
    pipeline: &Pipeline,
    dag: &Dag,
    lock: &LockFile,
    cache: &mut StatCache,
) -> Result<Vec<StageStatus>> {
    let mut probe = Probe {
        root: pipeline.root.clone(),
        cache,
        hashes: HashMap::new(),
        params: HashMap::new(),
    };
    let mut states: Vec<Option<StageState>> = vec![None; pipeline.stages.len()];
    for &i in dag.order() {
        let stage = &pipeline.stages[i];
        let mut reasons = own_reasons(stage, lock.entry(&stage.name), &mut probe)?;
        if stage.frozen {
            reasons.retain(|r| matches!(r, Reason::Out { .. }));
            states[i] = Some(StageState::Frozen(reasons));
            continue;
        }
        for &up in dag.upstream(i) {
            if matches!(states[up], Some(StageState::Stale(_))) {
                reasons.push(Reason::Upstream {
                    stage: pipeline.stages[up].name.clone(),
                });
            }
        }
        states[i] = Some(if reasons.is_empty() {
            StageState::Fresh
        } else {
            StageState::Stale(reasons)
        });
    }
    Ok(states
        .into_iter()
        .enumerate()
        .map(|(index, state)| StageStatus {
            name: pipeline.stages[index].name.clone(),
            index,
            state: state.unwrap_or(StageState::Fresh),
        })
        .collect())
}

/// A stage's own reasons to rerun, against its lock entry.
fn own_reasons(stage: &Stage, entry: Option<&LockEntry>, probe: &mut Probe) -> Result<Vec<Reason>> {
    let mut reasons = Vec::new();
    if stage.always_changed {
        reasons.push(Reason::AlwaysChanged);
    } else if stage.deps.is_empty() && stage.outs.is_empty() {
        reasons.push(Reason::NoDepsOrOuts);
    }
    let Some(entry) = entry else {
        reasons.insert(0, Reason::NeverRun);
        // What DVC would list for the outputs still matters for frozen stages.
        for out in &stage.outs {
            let change = if probe.hash(stage, &out.path)?.is_some() {
                Change::Modified
            } else {
                Change::Deleted
            };
            reasons.push(Reason::Out {
                path: stage.path_from_root(&out.path),
                change,
            });
        }
        return Ok(reasons);
    };
    if entry.cmd != stage_cmd_json(stage) {
        reasons.push(Reason::CommandChanged);
    }
    for dep in &stage.deps {
        if let Some(change) = path_change(stage, &dep.path, &entry.deps, probe)? {
            reasons.push(Reason::Dep {
                path: stage.path_from_root(&dep.path),
                change,
            });
        }
    }
    param_reasons(stage, entry, probe, &mut reasons)?;
    for out in &stage.outs {
        if let Some(change) = path_change(stage, &out.path, &entry.outs, probe)? {
            reasons.push(Reason::Out {
                path: stage.path_from_root(&out.path),
                change,
            });
        }
    }
    Ok(reasons)
}

/// How a path differs from its recorded hash (DVC's `workspace_status`).
fn path_change(
    stage: &Stage,
    path: &str,
    recorded: &[LockPath],
    probe: &mut Probe,
) -> Result<Option<Change>> {
    let Some(now) = probe.hash(stage, path)? else {
        return Ok(Some(Change::Deleted));
    };
    let was = recorded
        .iter()
        .find(|r| r.path == path)
        .and_then(|r| r.md5.as_deref());
    Ok(match was {
        None => Some(Change::Modified),
        Some(md5) if md5 != now.md5 => Some(Change::Modified),
        Some(_) => None,
    })
}

fn param_reasons(
    stage: &Stage,
    entry: &LockEntry,
    probe: &mut Probe,
    reasons: &mut Vec<Reason>,
) -> Result<()> {
    for param in &stage.params {
        let recorded = entry
            .params
            .iter()
            .find(|(f, _)| *f == param.file)
            .map(|(_, v)| v);
        let Some(current) = probe.params_file(stage, &param.file)? else {
            reasons.push(Reason::Param {
                file: param.file.clone(),
                key: None,
                change: Change::Deleted,
                old: None,
                new: None,
            });
            continue;
        };
        let keys: Vec<String> = match &param.keys {
            ParamKeys::Keys(keys) => keys.clone(),
            ParamKeys::All => {
                let mut keys: Vec<String> = current.keys().cloned().collect();
                for k in recorded.into_iter().flat_map(|r| r.keys()) {
                    if !keys.contains(k) {
                        keys.push(k.clone());
                    }
                }
                keys
            }
        };
        for key in keys {
            let old = recorded.and_then(|r| r.get(&key)).cloned();
            let new = lookup(&current, &key).cloned();
            let change = match (&old, &new) {
                (None, None) => Some(Change::Deleted),
                (None, Some(_)) => Some(Change::New),
                (Some(_), None) => Some(Change::Deleted),
                (Some(a), Some(b)) if !same_value(a, b) => Some(Change::Modified),
                _ => None,
            };
            match (change, &old, &new) {
                (Some(Change::Modified), Some(Json::Object(a)), Some(Json::Object(b))) => {
                    // A mapping param: name the leaves that changed (`train.lr`), not the whole.
                    leaf_changes(&param.file, &key, a, b, reasons)
                }
                (Some(change), _, _) => reasons.push(Reason::Param {
                    file: param.file.clone(),
                    key: Some(key),
                    change,
                    old,
                    new,
                }),
                (None, _, _) => {}
            }
        }
    }
    Ok(())
}

/// The changed leaves between two mappings of a param, as dotted keys under `prefix`.
fn leaf_changes(
    file: &str,
    prefix: &str,
    old: &Map<String, Json>,
    new: &Map<String, Json>,
    reasons: &mut Vec<Reason>,
) {
    let mut keys: Vec<&String> = old.keys().collect();
    keys.extend(new.keys().filter(|k| !old.contains_key(*k)));
    for k in keys {
        let dotted = format!("{prefix}.{k}");
        match (old.get(k), new.get(k)) {
            (Some(Json::Object(a)), Some(Json::Object(b))) => {
                leaf_changes(file, &dotted, a, b, reasons)
            }
            (a, b) => {
                let change = match (a, b) {
                    (None, Some(_)) => Change::New,
                    (Some(_), None) => Change::Deleted,
                    (Some(x), Some(y)) if !same_value(x, y) => Change::Modified,
                    _ => continue,
                };
                reasons.push(Reason::Param {
                    file: file.to_string(),
                    key: Some(dotted),
                    change,
                    old: a.cloned(),
                    new: b.cloned(),
                });
            }
        }
    }
}

/// Values compare as DVC compares them after loading: `1` and `1.0` are equal.
fn same_value(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_value(a, b))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_value(v, w)))
        }
        _ => a == b,
    }
}
