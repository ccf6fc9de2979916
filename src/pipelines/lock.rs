//! `dvc.lock` in DVC 3's format, read and written.
//!
//! ```yaml
//! schema: '2.0'
//! stages:
//!   train:
//!     cmd: python train.py
//!     deps:
//!     - path: data/prep
//!       hash: md5
//!       md5: 3f7…dir
//!       size: 1024
//!       nfiles: 3
//!     params:
//!       params.yaml:
//!         train.lr: 0.1
//!     outs:
//!     - path: model.bin
//!       hash: md5
//!       md5: 9a0…
//!       size: 512
//! ```
//!
//! Written as DVC's ruamel dump writes it: keys in DVC's order, deps and outs sorted by path,
//! block style, two-space indents with list items at the parent's column, plain scalars where
//! YAML allows them, long plain and single-quoted scalars folded at 80 columns. Entries are
//! recorded one stage at a time ([`record_stage`]) under a lock on the file's folder, by an
//! atomic rewrite, stages kept in `dvc.yaml` order.
use super::definition::{ParamKeys, Pipeline, Stage};
use super::emit;
use super::hash::{hash_path_opt, PathHash};
use super::params::{lookup, read_params_file, DEFAULT_PARAMS_FILE};
use super::stat_cache::StatCache;
use super::yaml::{self, Kind};
use crate::error::{KirokuError, Result};
use serde::Serialize;
use serde_json::{Map, Value as Json};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The lock file's name.
pub const DVC_LOCK: &str = "dvc.lock";

/// A parsed `dvc.lock`: entries in file order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LockFile {
    pub stages: Vec<(String, LockEntry)>,
}

/// One stage's recorded execution.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LockEntry {
    /// A string, or a list of strings (as the stage's `cmd` is written).
    pub cmd: Json,
    pub deps: Vec<LockPath>,
    /// Per params file (in the stage's order), the tracked keys and their values.
    pub params: Vec<(String, Map<String, Json>)>,
    pub outs: Vec<LockPath>,
}

/// A dep's or an out's recorded hash.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LockPath {
    pub path: String,
    /// `md5` for DVC 3 hashes; None for DVC 2's legacy entries.
    pub hash: Option<String>,
    pub md5: Option<String>,
    pub size: Option<u64>,
    pub nfiles: Option<u64>,
    pub isexec: bool,
}

impl LockPath {
    /// The entry for a path of `hash`.
    pub fn new(path: &str, hash: &PathHash, isexec: bool) -> LockPath {
        LockPath {
            path: path.to_string(),
            hash: Some("md5".into()),
            md5: Some(hash.md5.clone()),
            size: Some(hash.size),
            nfiles: hash.nfiles,
            isexec,
        }
    }
}

impl LockFile {
    /// Reads `ROOT/dvc.lock`; a missing file is an empty lock.
    pub fn read(root: &Path) -> Result<LockFile> {
        let path = root.join(DVC_LOCK);
        match std::fs::read_to_string(&path) {
            Ok(text) => LockFile::parse(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LockFile::default()),
            Err(e) => Err(KirokuError::reading(
                format!("reading {}", path.display()),
                e,
            )),
        }
    }

    pub fn entry(&self, stage: &str) -> Option<&LockEntry> {
        self.stages.iter().find(|(n, _)| n == stage).map(|(_, e)| e)
    }

    /// Parses a `dvc.lock`'s text (schema 2.0).
    pub fn parse(text: &str) -> Result<LockFile> {
        let bad = |line: u64, why: String| {
            KirokuError::Invalid(format!("{DVC_LOCK}, line {line}: {why}"))
        };
        let doc =
            yaml::parse(text).map_err(|e| KirokuError::Invalid(format!("{DVC_LOCK}, {e}")))?;
        if matches!(doc.kind, Kind::Null) {
            return Ok(LockFile::default());
        }
        match doc.get("schema").and_then(|s| s.as_str()) {
            Some("2.0") => {}
            Some(other) => {
                return Err(bad(
                    doc.line,
                    format!("schema '{other}' is not supported (DVC 3 writes '2.0')"),
                ))
            }
            None => {
                return Err(bad(
                    doc.line,
                    "no 'schema: 2.0': a DVC 1 lock file is not supported".into(),
                ))
            }
        }
        let mut stages = Vec::new();
        if let Some(node) = doc.get("stages") {
            let Kind::Map(entries) = &node.kind else {
                return Err(bad(node.line, "'stages' must be a mapping".into()));
            };
            for (name, entry) in entries {
                let json = entry.to_json();
                let at = |why: &str| bad(entry.line, format!("stage '{name}': {why}"));
                let cmd = json.get("cmd").cloned().ok_or_else(|| at("no 'cmd'"))?;
                let paths = |key: &str| -> Result<Vec<LockPath>> {
                    match json.get(key) {
                        None | Some(Json::Null) => Ok(Vec::new()),
                        Some(Json::Array(items)) => items
                            .iter()
                            .map(|i| lock_path(i).ok_or_else(|| at(&format!("bad '{key}' entry"))))
                            .collect(),
                        Some(_) => Err(at(&format!("'{key}' must be a list"))),
                    }
                };
                let params = match json.get("params") {
                    None | Some(Json::Null) => Vec::new(),
                    Some(Json::Object(files)) => files
                        .iter()
                        .map(|(file, values)| match values {
                            Json::Object(values) => Ok((file.clone(), values.clone())),
                            Json::Null => Ok((file.clone(), Map::new())),
                            _ => Err(at("'params' values must be mappings")),
                        })
                        .collect::<Result<_>>()?,
                    Some(_) => return Err(at("'params' must be a mapping")),
                };
                stages.push((
                    name.clone(),
                    LockEntry {
                        cmd,
                        deps: paths("deps")?,
                        params,
                        outs: paths("outs")?,
                    },
                ));
            }
        }
        Ok(LockFile { stages })
    }

    /// The file's text as DVC writes it.
    pub fn to_yaml(&self) -> String {
        let mut stages = Map::new();
        for (name, entry) in &self.stages {
            stages.insert(name.clone(), entry.to_json());
        }
        let mut doc = Map::new();
        doc.insert("schema".into(), Json::String("2.0".into()));
        doc.insert("stages".into(), Json::Object(stages));
        emit::to_yaml(&Json::Object(doc))
    }
}

fn lock_path(value: &Json) -> Option<LockPath> {
    let map = value.as_object()?;
    Some(LockPath {
        path: map.get("path")?.as_str()?.to_string(),
        hash: map.get("hash").and_then(Json::as_str).map(str::to_string),
        md5: map.get("md5").and_then(Json::as_str).map(str::to_string),
        size: map.get("size").and_then(Json::as_u64),
        nfiles: map.get("nfiles").and_then(Json::as_u64),
        isexec: map.get("isexec").and_then(Json::as_bool).unwrap_or(false),
    })
}

impl LockPath {
    fn to_json(&self) -> Json {
        let mut map = Map::new();
        map.insert("path".into(), Json::String(self.path.clone()));
        if let Some(hash) = &self.hash {
            map.insert("hash".into(), Json::String(hash.clone()));
        }
        if let Some(md5) = &self.md5 {
            map.insert("md5".into(), Json::String(md5.clone()));
        }
        if let Some(size) = self.size {
            map.insert("size".into(), Json::from(size));
        }
        if let Some(nfiles) = self.nfiles {
            map.insert("nfiles".into(), Json::from(nfiles));
        }
        if self.isexec {
            map.insert("isexec".into(), Json::Bool(true));
        }
        Json::Object(map)
    }
}

impl LockEntry {
    fn to_json(&self) -> Json {
        let mut map = Map::new();
        map.insert("cmd".into(), self.cmd.clone());
        if !self.deps.is_empty() {
            map.insert(
                "deps".into(),
                Json::Array(self.deps.iter().map(LockPath::to_json).collect()),
            );
        }
        if !self.params.is_empty() {
            let files = self
                .params
                .iter()
                .map(|(file, values)| (file.clone(), Json::Object(values.clone())))
                .collect();
            map.insert("params".into(), Json::Object(files));
        }
        if !self.outs.is_empty() {
            map.insert(
                "outs".into(),
                Json::Array(self.outs.iter().map(LockPath::to_json).collect()),
            );
        }
        Json::Object(map)
    }

    /// The entry a stage's current state would record: its command, every dep's and out's
    /// hash (each must exist), and the values of its params.
    pub fn compute(root: &Path, stage: &Stage, cache: &mut StatCache) -> Result<LockEntry> {
        let hashed = |path: &str, cache: &mut StatCache, what: &str| -> Result<LockPath> {
            let on_disk = stage.path_on_disk(root, path);
            let hash = hash_path_opt(&on_disk, cache)?.ok_or_else(|| {
                KirokuError::NotFound(format!(
                    "stage '{}': {what} '{path}' does not exist",
                    stage.name
                ))
            })?;
            Ok(LockPath::new(path, &hash, is_exec(&on_disk, &hash)))
        };
        let mut deps = stage
            .deps
            .iter()
            .map(|d| hashed(&d.path, cache, "dependency"))
            .collect::<Result<Vec<_>>>()?;
        deps.sort_by(|a, b| a.path.cmp(&b.path));
        let mut outs = stage
            .outs
            .iter()
            .map(|o| hashed(&o.path, cache, "output"))
            .collect::<Result<Vec<_>>>()?;
        outs.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(LockEntry {
            cmd: stage_cmd_json(stage),
            deps,
            params: current_params(root, stage)?,
            outs,
        })
    }
}

/// The stage's `cmd` as the lock records it.
pub fn stage_cmd_json(stage: &Stage) -> Json {
    if stage.cmd_is_list {
        Json::Array(stage.cmd.iter().cloned().map(Json::String).collect())
    } else {
        Json::String(stage.cmd.first().cloned().unwrap_or_default())
    }
}

/// DVC records `isexec: true` for a file with an execute bit.
fn is_exec(path: &Path, hash: &PathHash) -> bool {
    !hash.is_dir && std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

/// The current values of a stage's params, per file, as the lock records them (files and
/// keys in DVC's order). A missing file or key is an error naming it.
pub fn current_params(root: &Path, stage: &Stage) -> Result<Vec<(String, Map<String, Json>)>> {
    let mut out = Vec::new();
    for param in &stage.params {
        let path = stage.path_on_disk(root, &param.file);
        let values = read_params_file(&path)?;
        let selected = match &param.keys {
            ParamKeys::All => values,
            ParamKeys::Keys(keys) => {
                let mut selected = Map::new();
                for key in keys {
                    let value = lookup(&values, key).ok_or_else(|| {
                        KirokuError::NotFound(format!(
                            "stage '{}': param '{key}' is not in {}",
                            stage.name, param.file
                        ))
                    })?;
                    selected.insert(key.clone(), value.clone());
                }
                selected
            }
        };
        // DVC sorts the keys (the top level only).
        let mut keys: Vec<(String, Json)> = selected.into_iter().collect();
        keys.sort_by(|a, b| a.0.cmp(&b.0));
        out.push((param.file.clone(), keys.into_iter().collect()));
    }
    // DVC's order: the default params file first, then the others by path.
    out.sort_by(|a, b| (a.0 != DEFAULT_PARAMS_FILE, &a.0).cmp(&(b.0 != DEFAULT_PARAMS_FILE, &b.0)));
    Ok(out)
}

/// Records one stage's entry in `ROOT/dvc.lock`: read, replace, write atomically, under an
/// exclusive lock so stages finishing at once do not lose each other's entries. Entries are
/// kept in `dvc.yaml` order; entries of stages no longer in the pipeline stay, after them.
pub fn record_stage(pipeline: &Pipeline, stage: &str, entry: LockEntry) -> Result<()> {
    let root = &pipeline.root;
    let _guard = DirLock::acquire(root)?;
    let mut lock = LockFile::read(root)?;
    match lock.stages.iter_mut().find(|(n, _)| n == stage) {
        Some((_, slot)) => *slot = entry,
        None => lock.stages.push((stage.to_string(), entry)),
    }
    let position = |name: &str| {
        pipeline
            .stages
            .iter()
            .position(|s| s.name == name)
            .unwrap_or(usize::MAX)
    };
    lock.stages.sort_by_key(|(name, _)| position(name));
    write_atomic(&root.join(DVC_LOCK), lock.to_yaml().as_bytes())
}

/// Hashes a stage as it is now and records it (what `repro` does after a stage succeeds).
pub fn record_current(
    pipeline: &Pipeline,
    stage: &Stage,
    cache: &mut StatCache,
) -> Result<LockEntry> {
    let entry = LockEntry::compute(&pipeline.root, stage, cache)?;
    record_stage(pipeline, &stage.name, entry.clone())?;
    Ok(entry)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("lock.tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)
        .map_err(|e| KirokuError::io(format!("writing {}", tmp.display()), e))?;
    std::fs::rename(&tmp, path)
        .map_err(|e| KirokuError::io(format!("replacing {}", path.display()), e))
}

/// An exclusive `flock` on the pipeline folder itself (no extra file in the project), held
/// while the lock file is rewritten.
struct DirLock(std::fs::File);

impl DirLock {
    fn acquire(root: &Path) -> Result<DirLock> {
        let dir = std::fs::File::open(root)
            .map_err(|e| KirokuError::io(format!("opening {}", root.display()), e))?;
        use std::os::fd::AsRawFd;
        // SAFETY: flock on a descriptor this function owns.
        let rc = unsafe { libc::flock(dir.as_raw_fd(), libc::LOCK_EX) };
        if rc != 0 {
            return Err(KirokuError::io(
                format!("locking {}", root.display()),
                std::io::Error::last_os_error(),
            ));
        }
        Ok(DirLock(dir))
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        use std::os::fd::AsRawFd;
        // SAFETY: unlocking the descriptor this guard owns.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DVC_WRITTEN: &str = "schema: '2.0'
stages:
  prep:
    cmd: mkdir -p out && cat data/raw/x.txt data/raw/y.txt > out/prep.txt && chmod
      +x out/prep.txt
    deps:
    - path: data/raw
      hash: md5
      md5: 7feddf007e6e3577837d6ca0cff88683.dir
      size: 4
      nfiles: 2
    params:
      params.yaml:
        prep.n: 3
    outs:
    - path: out/prep.txt
      hash: md5
      md5: dd8c6a395b5dd36c56d23275028f526c
      size: 4
      isexec: true
  train:
    cmd:
    - mkdir -p model
    - cp out/prep.txt model/m.bin
    deps:
    - path: out/prep.txt
      hash: md5
      md5: dd8c6a395b5dd36c56d23275028f526c
      size: 4
      isexec: true
    params:
      params.yaml:
        train:
          lr: 0.1
          layers:
          - 8
          - 16
          name: a b
      conf.toml:
        opt:
          beta: 0.9
    outs:
    - path: metrics.json
      hash: md5
      md5: 3f71a31dad1360002379e8f9539df33e
      size: 11
    - path: model
      hash: md5
      md5: ea349ca22f045072efb48c6c8f76bc89.dir
      size: 4
      nfiles: 1
";

    #[test]
    fn stages_recorded_at_once_all_land_in_dvc_yaml_order() {
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<String> = (0..8).map(|i| format!("s{i}")).collect();
        let yaml: String = names
            .iter()
            .rev()
            .map(|n| format!("  {n}:\n    cmd: echo {n} > {n}.txt\n    outs: [{n}.txt]\n"))
            .collect();
        std::fs::write(dir.path().join("dvc.yaml"), format!("stages:\n{yaml}")).unwrap();
        for n in &names {
            std::fs::write(dir.path().join(format!("{n}.txt")), n).unwrap();
        }
        let pipeline = crate::pipelines::load(dir.path()).unwrap();
        std::thread::scope(|scope| {
            for stage in &pipeline.stages {
                let pipeline = &pipeline;
                scope.spawn(move || {
                    let mut cache = StatCache::in_memory().unwrap();
                    record_current(pipeline, stage, &mut cache).unwrap();
                });
            }
        });
        let lock = LockFile::read(dir.path()).unwrap();
        let recorded: Vec<&str> = lock.stages.iter().map(|(n, _)| n.as_str()).collect();
        let expected: Vec<&str> = names.iter().rev().map(String::as_str).collect();
        assert_eq!(recorded, expected);
        assert_eq!(lock.entry("s3").unwrap().outs[0].size, Some(2));
    }

    #[test]
    fn a_lock_dvc_wrote_reads_and_writes_back_byte_for_byte() {
        let lock = LockFile::parse(DVC_WRITTEN).unwrap();
        assert_eq!(lock.stages.len(), 2);
        let prep = lock.entry("prep").unwrap();
        assert_eq!(prep.deps[0].nfiles, Some(2));
        assert!(prep.outs[0].isexec);
        assert_eq!(lock.to_yaml(), DVC_WRITTEN);
    }
}
