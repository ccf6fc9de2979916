//! Pipelines: DVC's `dvc.yaml` run as kiroku jobs. This half is the definition side: reading
//! the file ([`load`]: `vars`, `${…}`, `foreach`/`matrix`, params files), DVC 3's content
//! hashes ([`hash_path`], with a [`StatCache`]), `dvc.lock` ([`LockFile`], [`record_stage`]),
//! the stage graph ([`Dag`]) and change detection with reasons ([`status`]).
//!
//! | module | what |
//! |---|---|
//! | `yaml` | YAML documents as line-numbered nodes (serde-saphyr) |
//! | `template` | `${…}` interpolation and the variables context |
//! | `params` | params files (YAML, JSON, TOML) and dotted keys |
//! | `definition` | `dvc.yaml` → [`Pipeline`] of expanded [`Stage`]s |
//! | `sections` | the top-level `params`, `metrics`, `plots`, `artifacts`, checked as DVC does |
//! | `dvcignore` | `.dvcignore` as DVC reads it, for folder hashes |
//! | `hash`, `stat_cache` | DVC 3's md5 of files and `.dir` listings; the stat cache |
//! | `emit`, `lock` | ruamel-style YAML writing; `dvc.lock` read and written |
//! | `dvc_cache` | DVC's own cache filled with kiroku's outputs, so `dvc status` agrees |
//! | `dag` | the graph, DVC's graph errors, topological order, `repro` selection |
//! | `status` | fresh / stale (why) / frozen per stage |
//!
//! The execution side (`kiroku repro`):
//!
//! | module | what |
//! |---|---|
//! | `repro` | what runs and why, each stage's run-cache, restore, records and lock entry |
//! | `executor` | dependency order, independent stages at once, failures skip dependents |
//! | `stage_job` | one stage as a job and a run: local process group or the queue |
//! | `cache` | outputs into and out of the store's content cache; the run-cache key |
//! | `progress` | live progress on a terminal, plain lines when piped |
//! | `gc` | `kiroku gc`: cache objects no current lock or recent pipeline run refers to |
//! | `remote` | a stage on an ssh target: its files sent to the host, its outputs fetched back |
//! | `overview` | each stage's latest run, log tail and cached outputs (the Pipelines screen) |
pub mod cache;
pub mod dag;
pub mod definition;
pub mod dvc_cache;
pub mod dvcignore;
pub mod emit;
pub mod executor;
pub mod gc;
pub mod hash;
pub mod lock;
pub mod overview;
pub mod params;
pub mod progress;
pub mod remote;
pub mod repro;
pub mod sections;
pub mod stage_job;
pub mod stat_cache;
pub mod status;
pub mod template;
pub mod yaml;

pub use dag::Dag;
pub use definition::{
    find_root, load, Dep, Output, OutputKind, ParamKeys, ParamRef, Pipeline, Stage, StageSettings,
};
pub use hash::{hash_path, hash_path_opt, PathHash};
pub use lock::{record_current, record_stage, LockEntry, LockFile, LockPath};
pub use stat_cache::StatCache;
pub use status::{status, Change, Reason, StageState, StageStatus};

/// A pipeline with its graph and every stage's status, read in one go (what the Pipelines
/// screen shows).
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub pipeline: Pipeline,
    pub dag: Dag,
    pub statuses: Vec<StageStatus>,
}

/// Reads `ROOT/dvc.yaml` and `dvc.lock` and takes every stage's status, hashing through the
/// machine-local stat cache.
pub fn snapshot(root: &std::path::Path) -> crate::error::Result<Snapshot> {
    let pipeline = load(root)?;
    let dag = Dag::build(&pipeline)?;
    let lock = LockFile::read(root)?;
    let mut cache = StatCache::for_store(None)?;
    let statuses = status(&pipeline, &dag, &lock, &mut cache)?;
    Ok(Snapshot {
        pipeline,
        dag,
        statuses,
    })
}
