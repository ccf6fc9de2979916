//! What the store knows of a pipeline's stages (the Pipelines screen's details): each stage's
//! latest run — run, or restored from the run-cache — with its log's tail, and each stage's
//! outputs as `dvc.lock` records them (path, size, hash) with whether the store's cache holds
//! their content.
//!
//! A stage's runs are the children of the pipeline runs of this project (the runs tagged
//! `kiroku.pipeline` = the project's folder), found by their `kiroku.pipeline.run` tag.
use super::repro::{RESTORED_FROM_TAG, RESTORED_TAG};
use super::{LockFile, Pipeline};
use crate::error::Result;
use crate::model::pipeline::{is_object_id, PIPELINE_RUN_TAG};
use crate::model::{Run, RunQuery};
use crate::store::Store;
use std::collections::HashMap;
use std::path::Path;

/// The newest pipeline runs of a project looked through for stage runs.
const PIPELINE_RUNS_LOOKED_AT: u64 = 20;
/// The bytes of a stage's log shown.
const LOG_TAIL_BYTES: u64 = 4096;

/// A stage's latest run.
#[derive(Debug, Clone)]
pub struct StageRun {
    pub run: Run,
    /// Restored from the run-cache rather than run.
    pub restored: bool,
    /// The run whose outputs a restored stage got.
    pub restored_from: Option<String>,
    /// The end of its output (empty when the store keeps no files here, or it wrote none).
    pub log_tail: String,
}

/// One output of a stage as `dvc.lock` records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputState {
    pub path: String,
    pub md5: Option<String>,
    pub size: Option<u64>,
    pub nfiles: Option<u64>,
    /// Whether the store's content cache holds it (a folder: its listing).
    pub cached: bool,
}

/// Per stage name: its latest run and its outputs.
#[derive(Debug, Clone, Default)]
pub struct Overview {
    pub runs: HashMap<String, StageRun>,
    pub outputs: HashMap<String, Vec<OutputState>>,
}

/// A string literal of the query language (`'` doubled).
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Reads what the store knows of `pipeline`'s stages.
pub fn overview(store: &dyn Store, pipeline: &Pipeline) -> Result<Overview> {
    Ok(Overview {
        runs: latest_stage_runs(store, &pipeline.root)?,
        outputs: output_states(store, pipeline)?,
    })
}

/// Each stage's newest run among the project's latest pipeline runs.
pub fn latest_stage_runs(store: &dyn Store, root: &Path) -> Result<HashMap<String, StageRun>> {
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let pipelines = store.search_runs_uncounted(&RunQuery {
        filter: Some(format!(
            "tags.`kiroku.pipeline` = {}",
            literal(&root.display().to_string())
        )),
        sort: Some("start_time desc".into()),
        limit: Some(PIPELINE_RUNS_LOOKED_AT),
        ..Default::default()
    })?;
    let mut latest: HashMap<String, Run> = HashMap::new();
    for pipeline_run in &pipelines.runs {
        let children = store.search_runs_uncounted(&RunQuery {
            filter: Some(format!(
                "tags.`{PIPELINE_RUN_TAG}` = {}",
                literal(&pipeline_run.id)
            )),
            ..Default::default()
        })?;
        for run in children.runs {
            let Some(stage) = run.tags.get("kiroku.pipeline.stage").cloned() else {
                continue;
            };
            let newer = latest
                .get(&stage)
                .is_none_or(|seen| seen.start_time < run.start_time);
            if newer {
                latest.insert(stage, run);
            }
        }
    }
    Ok(latest
        .into_iter()
        .map(|(stage, run)| {
            let log_tail = log_tail(store, &run.id);
            let stage_run = StageRun {
                restored: run.tags.get(RESTORED_TAG).is_some_and(|v| v == "true"),
                restored_from: run.tags.get(RESTORED_FROM_TAG).cloned(),
                log_tail,
                run,
            };
            (stage, stage_run)
        })
        .collect())
}

/// The last bytes of a run's `output.log` (a local store; never through a link).
fn log_tail(store: &dyn Store, run_id: &str) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Some(run_dir) = store.run_dir(run_id) else {
        return String::new();
    };
    let Ok(mut file) = crate::store::run_files::open_in_run(&run_dir, &run_dir.join("output.log"))
    else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(LOG_TAIL_BYTES);
    let mut buf = Vec::new();
    if file.seek(SeekFrom::Start(start)).is_err() || file.read_to_end(&mut buf).is_err() {
        return String::new();
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    if start > 0 {
        // From the first whole line.
        text.split_once('\n')
            .map_or(text.clone(), |(_, rest)| rest.to_string())
    } else {
        text
    }
}

/// Every stage's outputs from `dvc.lock`, each with whether the store's cache holds it.
pub fn output_states(
    store: &dyn Store,
    pipeline: &Pipeline,
) -> Result<HashMap<String, Vec<OutputState>>> {
    let lock = LockFile::read(&pipeline.root)?;
    let mut states: HashMap<String, Vec<OutputState>> = HashMap::new();
    let mut ids = Vec::new();
    for stage in &pipeline.stages {
        let Some(entry) = lock.entry(&stage.name) else {
            continue;
        };
        let outs: Vec<OutputState> = entry
            .outs
            .iter()
            .map(|o| OutputState {
                path: o.path.clone(),
                md5: o.md5.clone(),
                size: o.size,
                nfiles: o.nfiles,
                cached: false,
            })
            .collect();
        ids.extend(
            outs.iter()
                .filter_map(|o| o.md5.clone())
                .filter(|m| is_object_id(m)),
        );
        states.insert(stage.name.clone(), outs);
    }
    ids.sort();
    ids.dedup();
    let held: HashMap<String, bool> = if ids.is_empty() {
        HashMap::new()
    } else {
        ids.iter().cloned().zip(store.has_objects(&ids)?).collect()
    };
    for outs in states.values_mut() {
        for out in outs {
            out.cached = out
                .md5
                .as_ref()
                .is_some_and(|m| held.get(m).copied().unwrap_or(false));
        }
    }
    Ok(states)
}
