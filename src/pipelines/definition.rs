//! `dvc.yaml` read into [`Pipeline`]: stages with `${…}` resolved and `foreach`/`matrix`
//! expanded into the stages DVC would name (`train@0`, `train@cnn-a`), their deps, params and
//! outputs typed, and kiroku's own settings from `meta: {kiroku: …}`.
//!
//! Every error names the file, the stage, the key and the line:
//! `dvc.yaml, line 7: stage 'train', key 'outs': expected a list, got a string`.
use super::params::{read_params_file, DEFAULT_PARAMS_FILE};
use super::template::{self, Context};
use super::yaml::{self, Kind, Node};
use crate::error::{KirokuError, Result};
use serde::Serialize;
use serde_json::{Map, Value as Json};
use std::path::{Component, Path, PathBuf};

/// The pipeline file's name.
pub const DVC_YAML: &str = "dvc.yaml";

/// A loaded `dvc.yaml`.
#[derive(Debug, Clone, Serialize)]
pub struct Pipeline {
    /// The folder that holds `dvc.yaml` (paths in stages are relative to it and their `wdir`).
    pub root: PathBuf,
    /// Expanded stages in file order (a `foreach`/`matrix` group's members in DVC's order).
    pub stages: Vec<Stage>,
    /// The top-level `params`, `metrics`, `plots` and `artifacts`.
    pub sections: super::sections::Sections,
}

impl Pipeline {
    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.name == name)
    }
}

/// One expanded stage.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Stage {
    /// As DVC names it: `prep`, `train@0`, `train@cnn-a`.
    pub name: String,
    /// The name in `dvc.yaml` before expansion (`train` for `train@cnn-a`).
    pub group: String,
    /// Commands run in order, stopping at the first failure (a string `cmd` is one).
    pub cmd: Vec<String>,
    /// Whether `cmd` was written as a list (the lock keeps the same shape).
    pub cmd_is_list: bool,
    /// Working directory relative to the pipeline root, `/`-separated; empty for the root.
    pub wdir: String,
    pub deps: Vec<Dep>,
    pub params: Vec<ParamRef>,
    /// `outs`, `metrics` and `plots` together, in that order (see [`Output::kind`]).
    pub outs: Vec<Output>,
    pub frozen: bool,
    pub always_changed: bool,
    pub desc: Option<String>,
    /// The stage's `meta`, whole (kiroku's part is parsed into `settings`).
    pub meta: Option<Json>,
    pub settings: StageSettings,
    /// The line of the stage's definition in `dvc.yaml`.
    pub line: u64,
}

/// A dependency as written (relative to the stage's `wdir`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Dep {
    pub path: String,
}

/// Which params of which file a stage tracks.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ParamRef {
    /// Relative to the stage's `wdir` (`params.yaml` by default).
    pub file: String,
    pub keys: ParamKeys,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum ParamKeys {
    /// `{file: null}`: every top-level key of the file.
    All,
    Keys(Vec<String>),
}

/// What section of the stage an output was declared in.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OutputKind {
    Out,
    Metric,
    Plot,
}

/// An output as written (relative to the stage's `wdir`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Output {
    pub path: String,
    /// Stored in the cache (`cache: false` leaves it to git).
    pub cache: bool,
    /// Kept (not removed) before the stage runs.
    pub persist: bool,
    pub kind: OutputKind,
}

/// kiroku's settings for a stage, from `meta: {kiroku: {target, gpus, require_checks}}`.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct StageSettings {
    /// The job target to run on (a name from kiroku.toml's targets).
    pub target: Option<String>,
    /// GPUs the stage's job needs.
    pub gpus: Option<u32>,
    /// Datasets whose newest version's checks must pass before the stage runs.
    pub require_checks: Vec<String>,
}

impl Stage {
    /// The stage's working directory on disk.
    pub fn wdir_path(&self, root: &Path) -> PathBuf {
        if self.wdir.is_empty() {
            root.to_path_buf()
        } else {
            root.join(&self.wdir)
        }
    }

    /// A path of the stage (as written, relative to its wdir) on disk.
    pub fn path_on_disk(&self, root: &Path, path: &str) -> PathBuf {
        self.wdir_path(root).join(path)
    }

    /// A path of the stage relative to the pipeline root, normalised and `/`-separated (how
    /// the DAG matches outputs to deps).
    pub fn path_from_root(&self, path: &str) -> String {
        normalize(&format!("{}/{}", self.wdir, path))
    }

    /// `cmd` as one line (list commands joined by ` && `, for display).
    pub fn cmd_line(&self) -> String {
        self.cmd.join(" && ")
    }
}

/// Normalises a relative `/` path: drops `.` and empty parts, resolves `..` lexically.
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for component in Path::new(path).components() {
        match component {
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else {
                    parts.push("..");
                }
            }
            Component::Normal(s) => parts.push(s.to_str().unwrap_or("")),
        }
    }
    parts.join("/")
}

/// Where an error is: file, line, stage, key.
struct At<'a> {
    file: &'a str,
    stage: &'a str,
}

impl At<'_> {
    fn err(&self, line: u64, key: &str, why: impl std::fmt::Display) -> KirokuError {
        let key = if key.is_empty() {
            String::new()
        } else {
            format!(", key '{key}'")
        };
        KirokuError::Invalid(format!(
            "{}, line {line}: stage '{}'{key}: {why}",
            self.file, self.stage
        ))
    }
}

fn top_err(file: &str, line: u64, why: impl std::fmt::Display) -> KirokuError {
    KirokuError::Invalid(format!("{file}, line {line}: {why}"))
}

/// The folder holding the nearest `dvc.yaml` at or above `start`.
pub fn find_root(start: &Path) -> Result<PathBuf> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        if d.join(DVC_YAML).is_file() {
            return Ok(d.to_path_buf());
        }
        dir = d.parent();
    }
    Err(KirokuError::NotFound(format!(
        "no {DVC_YAML} in {} or any folder above it",
        start.display()
    )))
}

/// Loads `ROOT/dvc.yaml`.
pub fn load(root: &Path) -> Result<Pipeline> {
    let path = root.join(DVC_YAML);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(KirokuError::NotFound(format!(
                "no {DVC_YAML} in {}",
                root.display()
            )))
        }
        Err(e) => {
            return Err(KirokuError::reading(
                format!("reading {}", path.display()),
                e,
            ))
        }
    };
    load_text(root, &text)
}

/// Loads a `dvc.yaml` given as text (params and vars files are read under `root`).
pub fn load_text(root: &Path, text: &str) -> Result<Pipeline> {
    let file = DVC_YAML;
    let doc = yaml::parse(text).map_err(|e| KirokuError::Invalid(format!("{file}, {e}")))?;
    let entries = match &doc.kind {
        Kind::Map(entries) => entries.as_slice(),
        Kind::Null => &[],
        _ => {
            return Err(top_err(
                file,
                doc.line,
                format!("expected a mapping, got {}", doc.describe()),
            ))
        }
    };
    const TOP_KEYS: &[&str] = &[
        "vars",
        "stages",
        "params",
        "metrics",
        "plots",
        "artifacts",
        "datasets",
    ];
    for (key, value) in entries {
        if !TOP_KEYS.contains(&key.as_str()) {
            return Err(top_err(
                file,
                value.line,
                format!(
                    "unknown top-level key '{key}' (expected one of {})",
                    TOP_KEYS.join(", ")
                ),
            ));
        }
    }
    // Checked as written (DVC's schema sees the file before its templates are resolved).
    super::sections::read(&doc).map_err(|(line, why)| top_err(file, line, why))?;
    let mut ctx = Context::default();
    if root.join(DEFAULT_PARAMS_FILE).is_file() {
        let params = read_params_file(&root.join(DEFAULT_PARAMS_FILE))?;
        ctx.merge(&params, DEFAULT_PARAMS_FILE)
            .map_err(|e| top_err(file, 1, e))?;
    }
    if let Some(vars) = doc.get("vars") {
        load_vars(&mut ctx, vars, root, "", |line, why| {
            top_err(file, line, format!("key 'vars': {why}"))
        })?;
    }
    // Then read with `${…}` resolved against the file's vars, as DVC reads them.
    let written: Vec<(String, yaml::Node)> = entries
        .iter()
        .filter(|(key, _)| super::sections::KEYS.contains(&key.as_str()))
        .cloned()
        .collect();
    let sections =
        template::resolve_node(&yaml::Node::new(Kind::Map(written), doc.line), &ctx, false)
            .and_then(|resolved| super::sections::read(&resolved))
            .map_err(|(line, why)| top_err(file, line, why))?;
    let mut stages = Vec::new();
    if let Some(node) = doc.get("stages") {
        let defs = match &node.kind {
            Kind::Map(defs) => defs.as_slice(),
            Kind::Null => &[],
            _ => {
                return Err(top_err(
                    file,
                    node.line,
                    format!("key 'stages': expected a mapping, got {}", node.describe()),
                ))
            }
        };
        for (name, def) in defs {
            expand_group(root, file, name, def, &ctx, &mut stages)?;
        }
    }
    let mut seen = std::collections::HashSet::new();
    for stage in &stages {
        if !seen.insert(stage.name.as_str()) {
            return Err(top_err(
                file,
                stage.line,
                format!("stage '{}' is defined twice", stage.name),
            ));
        }
    }
    Ok(Pipeline {
        root: root.to_path_buf(),
        stages,
        sections,
    })
}

/// Merges a `vars` list (files `f.yaml`, `f.yaml:k1,k2`, or inline mappings) into `ctx`.
fn load_vars(
    ctx: &mut Context,
    vars: &Node,
    dir: &Path,
    stage: &str,
    err: impl Fn(u64, String) -> KirokuError,
) -> Result<()> {
    let items = match &vars.kind {
        Kind::Seq(items) => items.clone(),
        Kind::Null => Vec::new(),
        _ => vec![vars.clone()],
    };
    for (index, item) in items.iter().enumerate() {
        match &item.kind {
            Kind::Str(spec) => {
                if template::has_interpolation(spec) {
                    return Err(err(
                        item.line,
                        format!("'{spec}': interpolation is not allowed in vars"),
                    ));
                }
                let (file, keys) = match spec.split_once(':') {
                    Some((file, keys)) => (file, Some(keys)),
                    None => (spec.as_str(), None),
                };
                let loaded =
                    read_params_file(&dir.join(file)).map_err(|e| err(item.line, e.to_string()))?;
                let selected: Map<String, Json> = match keys {
                    None => loaded,
                    Some(keys) => {
                        let mut out = Map::new();
                        for key in keys.split(',').map(str::trim).filter(|k| !k.is_empty()) {
                            let value = super::params::lookup(&loaded, key).ok_or_else(|| {
                                err(item.line, format!("could not find '{key}' in '{file}'"))
                            })?;
                            insert_dotted(&mut out, key, value.clone());
                        }
                        out
                    }
                };
                if file == DEFAULT_PARAMS_FILE && stage.is_empty() && keys.is_none() {
                    // Already loaded by default (DVC refuses loading it twice only when
                    // keys overlap; the whole file again is a no-op).
                    continue;
                }
                ctx.merge(&selected, spec).map_err(|e| err(item.line, e))?;
            }
            Kind::Map(_) => {
                let Json::Object(map) = item.to_json() else {
                    unreachable!()
                };
                let joiner = if stage.is_empty() { "" } else { "." };
                ctx.merge(&map, &format!("{stage}{joiner}vars[{index}]"))
                    .map_err(|e| err(item.line, e))?;
            }
            _ => {
                return Err(err(
                    item.line,
                    format!("expected a file name or a mapping, got {}", item.describe()),
                ))
            }
        }
    }
    Ok(())
}

fn insert_dotted(map: &mut Map<String, Json>, key: &str, value: Json) {
    match key.split_once('.') {
        None => {
            map.insert(key.to_string(), value);
        }
        Some((head, rest)) => {
            let inner = map
                .entry(head.to_string())
                .or_insert_with(|| Json::Object(Map::new()));
            if let Json::Object(inner) = inner {
                insert_dotted(inner, rest, value);
            }
        }
    }
}

/// Expands one entry of `stages` (plain, `foreach`/`do` or `matrix`) into stages.
fn expand_group(
    root: &Path,
    file: &str,
    name: &str,
    def: &Node,
    ctx: &Context,
    out: &mut Vec<Stage>,
) -> Result<()> {
    let at = At { file, stage: name };
    if name.contains(['@', ':', '/', '\\', ',']) {
        return Err(at.err(
            def.line,
            "",
            "a stage name may not contain '@', ':', ',', '/' or '\\'",
        ));
    }
    if !matches!(def.kind, Kind::Map(_)) {
        return Err(at.err(
            def.line,
            "",
            format!("expected a mapping, got {}", def.describe()),
        ));
    }
    let foreach = def.get("foreach");
    let matrix = def.get("matrix");
    match (foreach, matrix) {
        (Some(_), Some(m)) => Err(at.err(
            m.line,
            "matrix",
            "a stage cannot have both 'foreach' and 'matrix'",
        )),
        (Some(each), None) => {
            let template = def
                .get("do")
                .ok_or_else(|| at.err(def.line, "foreach", "'foreach' needs a 'do' section"))?;
            if let Kind::Map(entries) = &def.kind {
                if let Some((key, v)) = entries.iter().find(|(k, _)| k != "foreach" && k != "do") {
                    return Err(at.err(
                        v.line,
                        key,
                        "a 'foreach' stage holds only 'foreach' and 'do'",
                    ));
                }
            }
            let data =
                resolve_iterable(each, ctx).map_err(|(line, e)| at.err(line, "foreach", e))?;
            let members: Vec<(String, Json, bool)> = match &data {
                Json::Object(map) => map
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone(), true))
                    .collect(),
                Json::Array(items) => {
                    let composite = items.iter().any(|v| v.is_object() || v.is_array());
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, v)| {
                            let key = if composite {
                                Ok(i.to_string())
                            } else {
                                template::to_str(v, false)
                            };
                            key.map(|k| (k, v.clone(), false))
                        })
                        .collect::<std::result::Result<_, _>>()
                        .map_err(|e| at.err(each.line, "foreach", e))?
                }
                other => {
                    return Err(at.err(
                        each.line,
                        "foreach",
                        format!("expected a list or a mapping, got {}", json_kind(other)),
                    ))
                }
            };
            for (key, item, with_key) in members {
                let mut member_ctx = ctx.clone();
                member_ctx.vars.insert("item".into(), item);
                if with_key {
                    member_ctx
                        .vars
                        .insert("key".into(), Json::String(key.clone()));
                }
                let stage_name = format!("{name}@{key}");
                out.push(build_stage(
                    root,
                    file,
                    name,
                    &stage_name,
                    template,
                    &member_ctx,
                )?);
            }
            Ok(())
        }
        (None, Some(m)) => {
            let data = resolve_iterable(m, ctx).map_err(|(line, e)| at.err(line, "matrix", e))?;
            let Json::Object(axes) = data else {
                return Err(at.err(m.line, "matrix", "expected a mapping of lists"));
            };
            let mut combos: Vec<(Vec<String>, Map<String, Json>)> = vec![(Vec::new(), Map::new())];
            for (axis, values) in &axes {
                let Json::Array(values) = values else {
                    return Err(at.err(
                        m.line,
                        "matrix",
                        format!("'{axis}' must be a list, got {}", json_kind(values)),
                    ));
                };
                let mut next = Vec::new();
                for (fragments, item) in &combos {
                    for (i, value) in values.iter().enumerate() {
                        let fragment = if value.is_object() || value.is_array() {
                            format!("{axis}{i}")
                        } else {
                            template::to_str(value, false)
                                .map_err(|e| at.err(m.line, "matrix", e))?
                        };
                        let mut fragments = fragments.clone();
                        fragments.push(fragment);
                        let mut item = item.clone();
                        item.insert(axis.clone(), value.clone());
                        next.push((fragments, item));
                    }
                }
                combos = next;
            }
            let Kind::Map(entries) = &def.kind else {
                unreachable!()
            };
            let template = Node::new(
                Kind::Map(
                    entries
                        .iter()
                        .filter(|(k, _)| k != "matrix")
                        .cloned()
                        .collect(),
                ),
                def.line,
            );
            for (fragments, item) in combos {
                let key = fragments.join("-");
                let mut member_ctx = ctx.clone();
                member_ctx.vars.insert("item".into(), Json::Object(item));
                member_ctx
                    .vars
                    .insert("key".into(), Json::String(key.clone()));
                let stage_name = format!("{name}@{key}");
                out.push(build_stage(
                    root,
                    file,
                    name,
                    &stage_name,
                    &template,
                    &member_ctx,
                )?);
            }
            Ok(())
        }
        (None, None) => {
            if let Some(d) = def.get("do") {
                return Err(at.err(d.line, "do", "'do' needs a 'foreach'"));
            }
            out.push(build_stage(root, file, name, name, def, ctx)?);
            Ok(())
        }
    }
}

fn json_kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "a mapping",
    }
}

/// A `foreach`/`matrix` value: inline data (templated) or a lone `${…}`.
fn resolve_iterable(node: &Node, ctx: &Context) -> std::result::Result<Json, (u64, String)> {
    Ok(template::resolve_node(node, ctx, false)?.to_json())
}

const STAGE_KEYS: &[&str] = &[
    "cmd",
    "wdir",
    "deps",
    "params",
    "outs",
    "metrics",
    "plots",
    "frozen",
    "always_changed",
    "desc",
    "meta",
    "vars",
];

/// One stage from its (unexpanded) definition and the context it resolves in.
fn build_stage(
    root: &Path,
    file: &str,
    group: &str,
    name: &str,
    def: &Node,
    ctx: &Context,
) -> Result<Stage> {
    let at = At { file, stage: name };
    let Kind::Map(entries) = &def.kind else {
        return Err(at.err(
            def.line,
            "",
            format!("expected a mapping, got {}", def.describe()),
        ));
    };
    for (key, value) in entries {
        if !STAGE_KEYS.contains(&key.as_str()) {
            return Err(at.err(
                value.line,
                key,
                format!("unknown key (a stage may have {})", STAGE_KEYS.join(", ")),
            ));
        }
    }
    // wdir resolves first: stage-level vars files are relative to it.
    let wdir = match def.get("wdir") {
        None => String::new(),
        Some(node) => {
            let resolved =
                template::resolve_node(node, ctx, false).map_err(|(l, e)| at.err(l, "wdir", e))?;
            let text = scalar_text(&resolved).ok_or_else(|| {
                at.err(
                    node.line,
                    "wdir",
                    format!("expected a path, got {}", node.describe()),
                )
            })?;
            normalize(&text)
        }
    };
    let mut ctx = ctx.clone();
    if let Some(vars) = def.get("vars") {
        let dir = if wdir.is_empty() {
            root.to_path_buf()
        } else {
            root.join(&wdir)
        };
        load_vars(&mut ctx, vars, &dir, name, |line, why| {
            at.err(line, "vars", why)
        })?;
    }
    let get = |key: &str| -> Result<Option<Node>> {
        match def.get(key) {
            None => Ok(None),
            Some(node) => template::resolve_node(node, &ctx, key == "cmd")
                .map(Some)
                .map_err(|(l, e)| at.err(l, key, e)),
        }
    };
    let cmd_node = get("cmd")?.ok_or_else(|| at.err(def.line, "cmd", "a stage needs a 'cmd'"))?;
    let (cmd, cmd_is_list) = match &cmd_node.kind {
        Kind::Seq(items) => (
            items
                .iter()
                .map(|i| {
                    scalar_text(i).ok_or_else(|| {
                        at.err(
                            i.line,
                            "cmd",
                            format!("each command must be a string, got {}", i.describe()),
                        )
                    })
                })
                .collect::<Result<Vec<_>>>()?,
            true,
        ),
        _ => (
            vec![scalar_text(&cmd_node).ok_or_else(|| {
                at.err(
                    cmd_node.line,
                    "cmd",
                    format!("expected a string or a list, got {}", cmd_node.describe()),
                )
            })?],
            false,
        ),
    };
    let deps = match get("deps")? {
        None => Vec::new(),
        Some(node) => list_of(&node, &at, "deps")?
            .iter()
            .map(|item| {
                scalar_text(item).map(|path| Dep { path }).ok_or_else(|| {
                    at.err(
                        item.line,
                        "deps",
                        format!("expected a path, got {}", item.describe()),
                    )
                })
            })
            .collect::<Result<_>>()?,
    };
    let params = match get("params")? {
        None => Vec::new(),
        Some(node) => parse_params_refs(&node, &at)?,
    };
    let mut outs = Vec::new();
    for (key, kind) in [
        ("outs", OutputKind::Out),
        ("metrics", OutputKind::Metric),
        ("plots", OutputKind::Plot),
    ] {
        if let Some(node) = get(key)? {
            for item in list_of(&node, &at, key)? {
                outs.push(parse_output(&item, kind, &at, key)?);
            }
        }
    }
    let flag = |key: &str| -> Result<bool> {
        match get(key)? {
            None => Ok(false),
            Some(Node {
                kind: Kind::Bool(b),
                ..
            }) => Ok(b),
            Some(other) => Err(at.err(
                other.line,
                key,
                format!("expected true or false, got {}", other.describe()),
            )),
        }
    };
    let frozen = flag("frozen")?;
    let always_changed = flag("always_changed")?;
    let desc = match get("desc")? {
        None => None,
        Some(node) => {
            Some(scalar_text(&node).ok_or_else(|| at.err(node.line, "desc", "expected a string"))?)
        }
    };
    let meta_node = get("meta")?;
    let settings = match meta_node.as_ref().and_then(|m| m.get("kiroku")) {
        None => StageSettings::default(),
        Some(k) => parse_settings(k, &at)?,
    };
    Ok(Stage {
        name: name.to_string(),
        group: group.to_string(),
        cmd,
        cmd_is_list,
        wdir,
        deps,
        params,
        outs,
        frozen,
        always_changed,
        desc,
        meta: meta_node.map(|m| m.to_json()),
        settings,
        line: def.line,
    })
}

/// A scalar as text (numbers and booleans as DVC would write them).
fn scalar_text(node: &Node) -> Option<String> {
    match &node.kind {
        Kind::Str(s) => Some(s.clone()),
        Kind::Int(_) | Kind::Float(_) | Kind::Bool(_) => {
            template::to_str(&node.to_json(), false).ok()
        }
        _ => None,
    }
}

fn list_of(node: &Node, at: &At, key: &str) -> Result<Vec<Node>> {
    match &node.kind {
        Kind::Seq(items) => Ok(items.clone()),
        Kind::Null => Ok(Vec::new()),
        _ => Err(at.err(
            node.line,
            key,
            format!("expected a list, got {}", node.describe()),
        )),
    }
}

fn parse_params_refs(node: &Node, at: &At) -> Result<Vec<ParamRef>> {
    let mut refs: Vec<ParamRef> = Vec::new();
    let mut add = |file: String, keys: ParamKeys| match refs.iter_mut().find(|r| r.file == file) {
        Some(existing) => match (&mut existing.keys, keys) {
            (ParamKeys::Keys(have), ParamKeys::Keys(more)) => {
                for k in more {
                    if !have.contains(&k) {
                        have.push(k);
                    }
                }
            }
            (slot, keys) => {
                *slot = if matches!(keys, ParamKeys::All) {
                    ParamKeys::All
                } else {
                    slot.clone()
                }
            }
        },
        None => refs.push(ParamRef { file, keys }),
    };
    for item in list_of(node, at, "params")? {
        match &item.kind {
            Kind::Str(key) => add(
                DEFAULT_PARAMS_FILE.to_string(),
                ParamKeys::Keys(vec![key.clone()]),
            ),
            Kind::Map(entries) => {
                for (file, keys) in entries {
                    let keys = match &keys.kind {
                        Kind::Null => ParamKeys::All,
                        Kind::Seq(list) => ParamKeys::Keys(
                            list.iter()
                                .map(|k| {
                                    scalar_text(k).ok_or_else(|| {
                                        at.err(
                                            k.line,
                                            "params",
                                            format!(
                                                "a param key must be a string, got {}",
                                                k.describe()
                                            ),
                                        )
                                    })
                                })
                                .collect::<Result<_>>()?,
                        ),
                        _ => {
                            return Err(at.err(
                                keys.line,
                                "params",
                                format!(
                                    "'{file}': expected a list of keys or null, got {}",
                                    keys.describe()
                                ),
                            ))
                        }
                    };
                    add(file.clone(), keys);
                }
            }
            _ => {
                return Err(at.err(
                    item.line,
                    "params",
                    format!(
                        "expected a key or a mapping of file to keys, got {}",
                        item.describe()
                    ),
                ))
            }
        }
    }
    Ok(refs)
}

const OUTPUT_FLAGS: &[&str] = &[
    "cache", "persist", "remote", "push", "desc", "type", "labels", "meta",
];

fn parse_output(item: &Node, kind: OutputKind, at: &At, key: &str) -> Result<Output> {
    match &item.kind {
        Kind::Map(entries) if entries.len() == 1 => {
            let (path, opts) = &entries[0];
            let mut out = Output {
                path: path.clone(),
                cache: true,
                persist: false,
                kind,
            };
            match &opts.kind {
                Kind::Null => {}
                Kind::Map(options) => {
                    for (name, value) in options {
                        match (name.as_str(), &value.kind) {
                            ("cache", Kind::Bool(b)) => out.cache = *b,
                            ("persist", Kind::Bool(b)) => out.persist = *b,
                            ("cache" | "persist", _) => {
                                return Err(at.err(
                                    value.line,
                                    key,
                                    format!(
                                        "'{path}': '{name}' must be true or false, got {}",
                                        value.describe()
                                    ),
                                ))
                            }
                            (other, _)
                                if kind == OutputKind::Plot || OUTPUT_FLAGS.contains(&other) => {}
                            (other, _) => {
                                return Err(at.err(
                                    value.line,
                                    key,
                                    format!(
                                        "'{path}': unknown option '{other}' (expected one of {})",
                                        OUTPUT_FLAGS.join(", ")
                                    ),
                                ))
                            }
                        }
                    }
                }
                _ => {
                    return Err(at.err(
                        opts.line,
                        key,
                        format!(
                            "'{path}': expected a mapping of options, got {}",
                            opts.describe()
                        ),
                    ))
                }
            }
            Ok(out)
        }
        _ => scalar_text(item)
            .map(|path| Output {
                path,
                cache: true,
                persist: false,
                kind,
            })
            .ok_or_else(|| {
                at.err(
                    item.line,
                    key,
                    format!(
                        "expected a path or {{path: {{options}}}}, got {}",
                        item.describe()
                    ),
                )
            }),
    }
}

fn parse_settings(node: &Node, at: &At) -> Result<StageSettings> {
    let key = "meta.kiroku";
    let Kind::Map(entries) = &node.kind else {
        return Err(at.err(
            node.line,
            key,
            format!("expected a mapping, got {}", node.describe()),
        ));
    };
    let mut settings = StageSettings::default();
    for (name, value) in entries {
        match (name.as_str(), &value.kind) {
            ("target", Kind::Str(s)) => settings.target = Some(s.clone()),
            ("gpus", Kind::Int(n)) if *n >= 0 && *n <= u32::MAX as i64 => {
                settings.gpus = Some(*n as u32)
            }
            ("require_checks", Kind::Str(s)) => settings.require_checks = vec![s.clone()],
            ("require_checks", Kind::Seq(items)) => {
                settings.require_checks = items
                    .iter()
                    .map(|i| {
                        i.as_str().map(str::to_string).ok_or_else(|| {
                            at.err(
                                i.line,
                                "meta.kiroku.require_checks",
                                "expected dataset names",
                            )
                        })
                    })
                    .collect::<Result<_>>()?
            }
            ("target", _) => {
                return Err(at.err(
                    value.line,
                    "meta.kiroku.target",
                    format!("expected a target name, got {}", value.describe()),
                ))
            }
            ("gpus", _) => {
                return Err(at.err(
                    value.line,
                    "meta.kiroku.gpus",
                    format!("expected a count of GPUs, got {}", value.describe()),
                ))
            }
            ("require_checks", _) => {
                return Err(at.err(
                    value.line,
                    "meta.kiroku.require_checks",
                    "expected a dataset name or a list of them",
                ))
            }
            (other, _) => {
                return Err(at.err(
                    value.line,
                    key,
                    format!("unknown setting '{other}' (expected target, gpus, require_checks)"),
                ))
            }
        }
    }
    Ok(settings)
}
