//! `kiroku gc`: frees the store's content cache of the objects nothing recent refers to.
//!
//! Kept: every output (and dependency) hash of the current `dvc.lock`, and every output hash
//! of the stage runs (`dvc.out.PATH` tags) under the last `keep` pipeline runs of each project
//! on the store (the store is shared: one project's gc keeps the others' recent work); a kept
//! directory keeps its listing and every file in it. Everything else goes, or with `dry` is
//! only listed. A run-cache entry whose objects went simply no longer restores (the stage
//! runs instead).
use super::cache::read_listing;
use super::LockFile;
use crate::error::Result;
use crate::model::pipeline::{is_object_id, PIPELINE_RUN_TAG};
use crate::model::RunQuery;
use crate::store::Store;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// Pipeline runs looked at, newest first, across all projects.
const PIPELINE_RUNS_SCANNED: u64 = 100_000;

/// An object id and its bytes.
type ObjectSize = (String, u64);

/// What a gc did (or, dry, would do).
#[derive(Debug, Clone, serde::Serialize)]
pub struct GcReport {
    pub dry: bool,
    /// Objects kept, and their bytes.
    pub kept: usize,
    pub kept_bytes: u64,
    /// Objects removed (dry: that would be), with their sizes.
    pub removed: Vec<ObjectSize>,
    pub removed_bytes: u64,
}

/// Collects what is kept and removes the rest (unless `dry`). `root`: the project whose
/// `dvc.lock` is current (None: none).
pub fn gc(store: &dyn Store, root: Option<&Path>, keep: usize, dry: bool) -> Result<GcReport> {
    let mut referenced: HashSet<String> = HashSet::new();
    if let Some(root) = root {
        let lock = LockFile::read(root)?;
        for (_, entry) in &lock.stages {
            for path in entry.deps.iter().chain(&entry.outs) {
                referenced.extend(path.md5.clone());
            }
        }
    }
    for run_id in recent_pipeline_runs(store, keep)? {
        let children = store.search_runs_uncounted(&RunQuery {
            filter: Some(format!("tags.`{PIPELINE_RUN_TAG}` = '{run_id}'")),
            ..Default::default()
        })?;
        for child in children.runs {
            referenced.extend(
                child
                    .tags
                    .iter()
                    .filter(|(k, _)| k.starts_with("dvc.out."))
                    .map(|(_, v)| v.clone()),
            );
        }
    }
    referenced.retain(|id| is_object_id(id));
    let dirs: Vec<String> = referenced
        .iter()
        .filter(|id| id.ends_with(".dir"))
        .cloned()
        .collect();
    for dir in dirs {
        if let Some(entries) = read_listing(store, &dir)? {
            referenced.extend(entries.into_iter().map(|e| e.md5));
        }
    }
    let (kept, removed): (Vec<ObjectSize>, Vec<ObjectSize>) = store
        .list_objects()?
        .into_iter()
        .partition(|(id, _)| referenced.contains(id));
    let removed_bytes = if dry {
        removed.iter().map(|(_, size)| size).sum()
    } else {
        let ids: Vec<String> = removed.iter().map(|(id, _)| id.clone()).collect();
        store.delete_objects(&ids)?
    };
    Ok(GcReport {
        dry,
        kept: kept.len(),
        kept_bytes: kept.iter().map(|(_, size)| size).sum(),
        removed,
        removed_bytes,
    })
}

/// The ids of the last `keep` pipeline runs of each project (by its `kiroku.pipeline` tag).
fn recent_pipeline_runs(store: &dyn Store, keep: usize) -> Result<Vec<String>> {
    let runs = store.search_runs_uncounted(&RunQuery {
        filter: Some("tags.`kiroku.pipeline` IS NOT NULL".into()),
        sort: Some("start_time desc".into()),
        limit: Some(PIPELINE_RUNS_SCANNED),
        ..Default::default()
    })?;
    let mut per_project: BTreeMap<String, usize> = BTreeMap::new();
    let mut ids = Vec::new();
    for run in runs.runs {
        let project = run.tags.get("kiroku.pipeline").cloned().unwrap_or_default();
        let seen = per_project.entry(project).or_default();
        if *seen < keep {
            *seen += 1;
            ids.push(run.id);
        }
    }
    Ok(ids)
}
