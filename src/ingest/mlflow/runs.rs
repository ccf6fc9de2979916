//! Runs: parents before children, each run with its params, tags, note, source, metric points
//! and artifacts, keeping its MLflow id (a run already in the store is skipped, not doubled).
use super::artifacts::{import_artifacts, ArtifactSources};
use super::experiments::ExperimentPlan;
use super::report::{ImportReport, SkipReason};
use super::source::{Reader, SourceRun};
use super::{excerpt, METRIC_BATCH};
use crate::error::{KirokuError, Result};
use crate::mlflow_names::{
    GIT_BRANCH_TAG, GIT_COMMIT_TAG, GIT_DIFF_TAG, NOTE_TAG, PARENT_RUN_TAG as PARENT_TAG,
    RUN_NAME_TAG, SOURCE_NAME_TAG, USER_TAG,
};
use crate::model::{KeyedPoint, NewNote, NewRun, RunSource};
use crate::store::Store;
use std::collections::{HashMap, HashSet};

pub(super) struct RunContext<'a> {
    pub(super) experiment: &'a str,
    pub(super) experiment_deleted: bool,
    pub(super) in_source: &'a HashSet<String>,
    pub(super) user: &'a str,
}

/// Indexes of `runs` ordered so that every parent in the source comes before its children;
/// otherwise by start time, then id. A cycle of parent tags is broken with a warning.
pub(super) fn parents_first(
    runs: &[(String, bool, SourceRun)],
    warnings: &mut Vec<String>,
) -> Vec<usize> {
    let index: HashMap<&str, usize> = runs
        .iter()
        .enumerate()
        .map(|(i, (_, _, r))| (r.id.as_str(), i))
        .collect();
    let mut by_start: Vec<usize> = (0..runs.len()).collect();
    by_start.sort_by(|&a, &b| {
        let (ra, rb) = (&runs[a].2, &runs[b].2);
        (ra.start_time.unwrap_or(i64::MAX), &ra.id)
            .cmp(&(rb.start_time.unwrap_or(i64::MAX), &rb.id))
    });
    // 0 = not visited, 1 = on the current path, 2 = placed.
    let mut state = vec![0u8; runs.len()];
    let mut order = Vec::with_capacity(runs.len());
    for start in by_start {
        let mut path = Vec::new();
        let mut cur = Some(start);
        // Walk up to the first ancestor that is placed or outside the source.
        while let Some(i) = cur {
            if state[i] == 2 {
                break;
            }
            if state[i] == 1 {
                warnings.push(format!(
                    "runs {} name each other as parent ({PARENT_TAG}); the cycle was broken",
                    path.iter()
                        .map(|&j: &usize| runs[j].2.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                break;
            }
            state[i] = 1;
            path.push(i);
            cur = runs[i]
                .2
                .tag(PARENT_TAG)
                .and_then(|p| index.get(p).copied());
        }
        for &i in path.iter().rev() {
            state[i] = 2;
            order.push(i);
        }
    }
    order
}

/// Converts an error raised after the run was created into one that says so.
pub(super) fn partly(run_id: &str, what: &str, e: KirokuError) -> KirokuError {
    let msg = format!(
        "run {run_id} was created but importing its {what} failed, so it is only partly imported"
    );
    match e {
        KirokuError::Io { context, source } => KirokuError::Io {
            context: format!("{msg}: {context}"),
            source,
        },
        KirokuError::Database(m) => KirokuError::Database(format!("{msg}: {m}")),
        other => KirokuError::Database(format!("{msg}: {other}")),
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn import_run(
    store: &dyn Store,
    reader: &Reader,
    artifacts: &mut ArtifactSources,
    run: &SourceRun,
    plan: &ExperimentPlan,
    ctx: &RunContext<'_>,
    present: &mut HashSet<String>,
    report: &mut ImportReport,
) -> Result<()> {
    let id = run.id.to_ascii_lowercase();
    if !crate::ids::is_full_run_id(&id) {
        report.runs_failed += 1;
        report.warnings.push(format!(
            "run '{}': the id is not 32 hex characters; not imported",
            run.id
        ));
        return Ok(());
    }
    match store.run(&id) {
        Ok(_) => {
            report.runs_skipped += 1;
            present.insert(id);
            return Ok(());
        }
        Err(KirokuError::NotFound(_)) => {}
        Err(e) => return Err(e),
    }
    if let Some(why) = &plan.blocked {
        report.runs_failed += 1;
        report
            .warnings
            .push(format!("run {id}: {why}; not imported"));
        return Ok(());
    }

    let parent_id = match run.tag(PARENT_TAG).map(str::to_ascii_lowercase) {
        None => None,
        Some(p) if present.contains(&p) => Some(p),
        Some(p)
            if !ctx.in_source.contains(&p)
                && crate::ids::is_full_run_id(&p)
                && store.run(&p).is_ok() =>
        {
            Some(p)
        }
        Some(p) => {
            let where_ = if ctx.in_source.contains(&p) {
                "could not be imported"
            } else {
                "is not in the source"
            };
            report.warnings.push(format!(
                "run {id}: parent run {p} {where_}; imported without a parent"
            ));
            None
        }
    };
    let user = run
        .user
        .clone()
        .or_else(|| run.tag(USER_TAG).map(str::to_string))
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| ctx.user.to_string());
    let name = run
        .tag(RUN_NAME_TAG)
        .map(str::to_string)
        .filter(|n| !n.is_empty())
        .or_else(|| run.name.clone());
    let new = NewRun {
        id: Some(id.clone()),
        experiment: ctx.experiment.to_string(),
        name,
        user: user.clone(),
        host: None,
        status: run.status,
        start_time: run.start_time,
        end_time: run.end_time,
        parent_id,
        tags: valid_entries(&run.tags, "tag", &id, report),
        params: valid_entries(&run.params, "param", &id, report),
        // Created active and deleted once loaded: a deleted run takes no writes.
        deleted: false,
    };
    let created = match store.create_run(&new) {
        Ok(r) => r,
        Err(
            e @ (KirokuError::Invalid(_) | KirokuError::NotFound(_) | KirokuError::Conflict(_)),
        ) => {
            report.runs_failed += 1;
            report.warnings.push(format!("run {id}: {e}; not imported"));
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    present.insert(id.clone());
    report.runs_imported += 1;
    report.params += new.params.len() as u64;
    report.tags += new.tags.len() as u64;

    if let Some(body) = run.tag(NOTE_TAG).filter(|b| !b.trim().is_empty()) {
        let note = NewNote {
            author: user.clone(),
            body: body.to_string(),
            reply_to: None,
            anchor: None,
            created_ms: Some(created.start_time),
        };
        store
            .add_note(&id, &note)
            .map_err(|e| partly(&id, "note", e))?;
        report.notes += 1;
    }

    let source = RunSource {
        git_commit: run.tag(GIT_COMMIT_TAG).map(str::to_string),
        git_branch: run.tag(GIT_BRANCH_TAG).map(str::to_string),
        git_dirty: None,
        git_diff: run.tag(GIT_DIFF_TAG).map(str::to_string),
        command: run
            .tag(SOURCE_NAME_TAG)
            .filter(|s| !s.is_empty())
            .map(|s| vec![s.to_string()])
            .unwrap_or_default(),
        cwd: None,
    };
    if source != RunSource::default() {
        store
            .set_source(&id, &source)
            .map_err(|e| partly(&id, "source", e))?;
    }

    if !run.datasets.is_empty() {
        report.dataset_inputs += super::datasets::record_inputs(store, &id, &run.datasets, &user)
            .map_err(|e| partly(&id, "dataset inputs", e))? as u64;
    }

    let mut batch: Vec<KeyedPoint> = Vec::new();
    let mut points = 0u64;
    let mut bad_keys: Vec<(String, &'static str)> = Vec::new();
    reader
        .for_each_point(run, report, &mut |p| {
            if let Some(problem) = key_problem(&p.key) {
                if !bad_keys.iter().any(|(k, _)| k == &p.key) {
                    bad_keys.push((p.key.clone(), problem));
                }
                return Ok(());
            }
            batch.push(p);
            if batch.len() >= METRIC_BATCH {
                store.log_metrics(&id, &batch)?;
                points += batch.len() as u64;
                batch.clear();
            }
            Ok(())
        })
        .map_err(|e| partly(&id, "metrics", e))?;
    store
        .log_metrics(&id, &batch)
        .map_err(|e| partly(&id, "metrics", e))?;
    points += batch.len() as u64;
    report.metric_points += points;
    for (key, problem) in bad_keys {
        report.skip(
            SkipReason::InvalidKey,
            format!("run {id}: metric key {key:?} {problem}; its points were skipped"),
        );
    }

    import_artifacts(store, &id, run, artifacts, report)
        .map_err(|e| partly(&id, "artifacts", e))?;
    // A run of an experiment this import deletes is deleted with it, at its instant (so that
    // restoring the experiment brings it back, as MLflow's restore does).
    if (run.deleted || ctx.experiment_deleted) && !plan.delete_after {
        store
            .set_deleted(&id, true, &user)
            .map_err(|e| partly(&id, "deletion", e))?;
    }
    Ok(())
}

/// The entries whose keys kiroku accepts; each other one is left out with a warning (one odd
/// key does not keep the whole run out).
pub(super) fn valid_entries(
    entries: &[(String, String)],
    kind: &str,
    run_id: &str,
    report: &mut ImportReport,
) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        match key_problem(key) {
            None => out.push((key.clone(), value.clone())),
            Some(problem) => report.skip(
                SkipReason::InvalidKey,
                format!(
                    "run {run_id}: {kind} key {:?} {problem}; skipped",
                    excerpt(key)
                ),
            ),
        }
    }
    out
}

/// Why kiroku would refuse a metric key (the rules of the store: 1 to 250 characters, no
/// control characters), so that one odd key skips its points instead of failing the import.
pub(super) fn key_problem(key: &str) -> Option<&'static str> {
    if key.is_empty() {
        Some("is empty")
    } else if key.chars().count() > 250 {
        Some("is longer than 250 characters")
    } else if key.chars().any(char::is_control) {
        Some("contains a control character")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mlflow_names::PARENT_RUN_TAG as PARENT_TAG;

    fn run(id: &str, start: i64, parent: Option<&str>) -> (String, bool, SourceRun) {
        let tags = parent
            .map(|p| vec![(PARENT_TAG.to_string(), p.to_string())])
            .unwrap_or_default();
        (
            "e".into(),
            false,
            SourceRun {
                id: id.into(),
                start_time: Some(start),
                tags,
                ..Default::default()
            },
        )
    }

    #[test]
    fn parents_come_first_and_cycles_are_broken() {
        // c's parent b started after c; b's parent a; d's parent is outside the source.
        let runs = vec![
            run("c", 1, Some("b")),
            run("b", 5, Some("a")),
            run("a", 9, None),
            run("d", 0, Some("zz")),
        ];
        let mut warnings = Vec::new();
        let order: Vec<&str> = parents_first(&runs, &mut warnings)
            .into_iter()
            .map(|i| runs[i].2.id.as_str())
            .collect();
        assert_eq!(order, ["d", "a", "b", "c"]);
        assert!(warnings.is_empty());

        let cycle = vec![run("x", 1, Some("y")), run("y", 2, Some("x"))];
        let order = parents_first(&cycle, &mut warnings);
        assert_eq!(order.len(), 2);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
    }
}
