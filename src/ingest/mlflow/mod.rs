//! `kiroku import mlflow PATH`: copies MLflow experiments and runs into a kiroku store.
//!
//! PATH is an `mlruns/` FileStore folder, a folder holding `mlruns/` and/or `mlflow.db`, or an
//! `mlflow.db` SQLite file. `files` and `db` read the two formats into the same
//! [`SourceExperiment`]/[`SourceRun`] shape; this module writes them through the [`Store`]
//! trait only. Runs keep their MLflow ids, so importing the same source again skips every run
//! that is already there and adds nothing twice.
//!
//! The source is untrusted: the import reads nothing outside the source tree (see [`tree`]
//! for what the tree is, for `mlruns` folders and `mlflow.db` files alike), follows no folder
//! link, and reads bounded amounts. An artifact location outside the tree is recorded as a
//! reference, never copied. Param and tag values longer than MLflow's limits are cut to them,
//! as MLflow itself does when they are logged. Everything left out is a warning and a count in
//! [`ImportReport::skipped`].
mod db;
mod files;
mod report;
mod tree;
mod yaml;

pub use report::{ImportReport, SkipReason};

use crate::error::{KirokuError, Result};
use crate::mlflow_names::{
    GIT_BRANCH_TAG, GIT_COMMIT_TAG, GIT_DIFF_TAG, NOTE_TAG, PARENT_RUN_TAG as PARENT_TAG,
    RUN_NAME_TAG, SOURCE_NAME_TAG, USER_TAG,
};
use crate::model::{Artifact, KeyedPoint, Millis, NewNote, NewRun, RunSource, RunStatus};
use crate::store::Store;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs;
use std::io::Read;
use std::path::{Component, Path, PathBuf};
use tree::{SourceTree, ARTIFACT_FOLDER};

/// Points per `Store::log_metrics` call.
const METRIC_BATCH: usize = 50_000;

/// MLflow's length limits for values (`mlflow/utils/validation.py`), in characters. MLflow cuts
/// longer param and run tag values to them when they are logged; the import does the same.
pub(crate) const MAX_PARAM_VALUE_CHARS: usize = 6000;
pub(crate) const MAX_TAG_VALUE_CHARS: usize = 8000;
pub(crate) const MAX_EXPERIMENT_TAG_VALUE_CHARS: usize = 20_000;

/// Shortens text quoted in a warning to its first 100 characters.
pub(crate) fn excerpt(text: &str) -> String {
    const SHOWN: usize = 100;
    match text.char_indices().nth(SHOWN) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}… ({} bytes)", &text[..cut], text.len()),
    }
}

/// Cuts `value` to its first `max_chars` characters; whether it was longer.
pub(crate) fn cut_to_chars(value: &mut String, max_chars: usize) -> bool {
    match value.char_indices().nth(max_chars) {
        Some((cut, _)) => {
            value.truncate(cut);
            true
        }
        None => false,
    }
}

/// An MLflow experiment as read from either store format.
#[derive(Debug, Clone)]
pub(crate) struct SourceExperiment {
    /// MLflow's id (`0` is the automatic Default experiment).
    pub id: String,
    pub name: String,
    pub deleted: bool,
    pub tags: Vec<(String, String)>,
    pub runs: Vec<SourceRun>,
}

/// An MLflow run, everything but its metric points (read later, one run at a time).
#[derive(Debug, Clone, Default)]
pub(crate) struct SourceRun {
    pub id: String,
    /// `run_name` / the runs table's `name`; the `mlflow.runName` tag wins over it.
    pub name: Option<String>,
    pub user: Option<String>,
    pub status: Option<RunStatus>,
    pub start_time: Option<Millis>,
    pub end_time: Option<Millis>,
    pub deleted: bool,
    pub artifact_uri: Option<String>,
    /// Local folders that may hold the run's artifacts, best first.
    pub artifact_dirs: Vec<PathBuf>,
    pub params: Vec<(String, String)>,
    pub tags: Vec<(String, String)>,
    /// The run's folder in an `mlruns` store (its `metrics/` are read from there).
    pub folder: Option<PathBuf>,
}

impl SourceRun {
    fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Where a source's metric points come from.
enum Reader<'a> {
    Files(&'a SourceTree),
    Db(db::MlflowDb),
}

impl Reader<'_> {
    fn for_each_point(
        &self,
        run: &SourceRun,
        report: &mut ImportReport,
        f: &mut dyn FnMut(KeyedPoint) -> Result<()>,
    ) -> Result<()> {
        match self {
            Reader::Files(tree) => match &run.folder {
                Some(folder) => files::for_each_point(folder, tree, report, f),
                None => Ok(()),
            },
            Reader::Db(db) => db.for_each_point(&run.id, f),
        }
    }
}

/// One MLflow store found under PATH.
#[derive(Debug, Clone, PartialEq)]
enum Source {
    /// An `mlruns` folder: as PATH names it (for the report), and resolved (walked from there,
    /// so that every path read is canonical).
    Files {
        shown: PathBuf,
        root: PathBuf,
    },
    Db(PathBuf),
}

/// What [`detect`] found at PATH.
struct Found {
    sources: Vec<Source>,
    /// The folder holding the store (canonical): relative artifact locations start there.
    base: PathBuf,
    tree: SourceTree,
}

/// The folders a run's artifacts may be copied from, and those already copied.
struct ArtifactSources<'a> {
    tree: &'a SourceTree,
    /// Folders (canonical) whose files this import copied as some run's artifacts.
    claimed: BTreeSet<PathBuf>,
}

impl ArtifactSources<'_> {
    /// The first of the run's candidate folders that may be copied, and why an earlier one
    /// that is there was refused (outside the tree, `..` in it, or overlapping).
    fn locate(&self, run: &SourceRun) -> (Option<PathBuf>, Option<(SkipReason, String)>) {
        let mut refused = None;
        for candidate in &run.artifact_dirs {
            if candidate.components().any(|c| c == Component::ParentDir) {
                refused.get_or_insert((
                    SkipReason::ArtifactsOutsideTree,
                    format!("{} names '..'", candidate.display()),
                ));
                continue;
            }
            let Ok(resolved) = fs::canonicalize(candidate) else {
                continue;
            };
            if !resolved.is_dir() {
                continue;
            }
            if !self.tree.contains(&resolved) {
                refused.get_or_insert((
                    SkipReason::ArtifactsOutsideTree,
                    format!("{} is outside the imported tree", resolved.display()),
                ));
                continue;
            }
            if self.tree.is_root(&resolved) || self.overlaps_claimed(&resolved) {
                refused.get_or_insert((
                    SkipReason::ArtifactsOverlap,
                    format!(
                        "{} is a store folder or overlaps artifacts copied for another run",
                        resolved.display()
                    ),
                ));
                continue;
            }
            return (Some(resolved), refused);
        }
        (None, refused)
    }

    /// Whether `dir`, one of its ancestors or one of its descendants was copied already.
    fn overlaps_claimed(&self, dir: &Path) -> bool {
        dir.ancestors().any(|a| self.claimed.contains(a))
            || self
                .claimed
                .range(dir.to_path_buf()..)
                .next()
                .is_some_and(|next| next.starts_with(dir))
    }
}

/// Imports every experiment and run of the MLflow store(s) at `path` into `store`.
///
/// `user` is recorded as the creator of new experiments and stands in for runs that name no
/// user. Problems with single entries (a malformed metric line, an unreadable `meta.yaml`, a
/// parent that is missing) become warnings in the report; only failures of the store itself,
/// or a PATH that holds no MLflow store, are errors.
pub fn import_mlflow(store: &dyn Store, path: &Path, user: &str) -> Result<ImportReport> {
    let mut report = ImportReport::default();
    let found = detect(path, &mut report)?;
    let mut artifacts = ArtifactSources {
        tree: &found.tree,
        claimed: BTreeSet::new(),
    };
    for source in &found.sources {
        let (experiments, reader) = match source {
            Source::Files { shown, root } => {
                report.sources.push(shown.display().to_string());
                let experiments = files::read_store(root, &found.base, &found.tree, &mut report)?;
                (experiments, Reader::Files(&found.tree))
            }
            Source::Db(file) => {
                report.sources.push(file.display().to_string());
                let db = db::MlflowDb::open(file)?;
                (db.read(&found.base, &mut report)?, Reader::Db(db))
            }
        };
        import_experiments(
            store,
            experiments,
            &reader,
            &mut artifacts,
            user,
            &mut report,
        )?;
    }
    Ok(report)
}

/// Whether `path` is an SQLite database file (by its 16-byte header).
pub fn is_sqlite_file(path: &Path) -> bool {
    let mut header = [0u8; 16];
    fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut header))
        .is_ok()
        && &header == b"SQLite format 3\0"
}

/// The MLflow stores at `path` and the tree the import may read (see [`tree`]). `path` itself is
/// resolved (the user named it); a store inside it that is a link leading out of it is not.
fn detect(path: &Path, report: &mut ImportReport) -> Result<Found> {
    let reading = |e| KirokuError::io(format!("reading {}", path.display()), e);
    let meta = fs::metadata(path).map_err(reading)?;
    let resolved = fs::canonicalize(path).map_err(reading)?;
    let parent = resolved.parent().unwrap_or(&resolved).to_path_buf();
    let tree_in = |base: &Path, mlruns: Option<PathBuf>, report: &mut ImportReport| {
        let mlruns = mlruns.or_else(|| SourceTree::store_entry(base, "mlruns", true, report));
        let mlartifacts = SourceTree::store_entry(base, "mlartifacts", true, report);
        SourceTree::new(mlruns.into_iter().chain(mlartifacts).collect())
    };
    if meta.is_file() {
        if is_sqlite_file(path) {
            return Ok(Found {
                sources: vec![Source::Db(path.to_path_buf())],
                tree: tree_in(&parent, None, report),
                base: parent,
            });
        }
        return Err(KirokuError::Invalid(format!(
            "{} is not an SQLite database (expected an mlflow.db file or an mlruns folder)",
            path.display()
        )));
    }
    let mut sources = Vec::new();
    if SourceTree::store_entry(&resolved, "mlflow.db", false, report)
        .is_some_and(|db| is_sqlite_file(&db))
    {
        sources.push(Source::Db(path.join("mlflow.db")));
    }
    let mlruns = SourceTree::store_entry(&resolved, "mlruns", true, report);
    if let Some(root) = &mlruns {
        sources.push(Source::Files {
            shown: path.join("mlruns"),
            root: root.clone(),
        });
    }
    if !sources.is_empty() {
        return Ok(Found {
            sources,
            tree: tree_in(&resolved, mlruns, report),
            base: resolved,
        });
    }
    if files::looks_like_mlruns(&resolved) {
        return Ok(Found {
            sources: vec![Source::Files {
                shown: path.to_path_buf(),
                root: resolved.clone(),
            }],
            tree: tree_in(&parent, Some(resolved), report),
            base: parent,
        });
    }
    Err(KirokuError::Invalid(format!(
        "no MLflow store in {}: expected an mlruns folder, a folder holding mlruns/ or mlflow.db, or an mlflow.db file",
        path.display()
    )))
}

/// What to do with a kiroku experiment once its runs are in.
struct ExperimentPlan {
    /// The MLflow experiment is deleted and this import created the kiroku one: delete it after.
    delete_after: bool,
    /// Runs cannot go in (the reason is already a warning).
    blocked: Option<String>,
}

fn import_experiments(
    store: &dyn Store,
    experiments: Vec<SourceExperiment>,
    reader: &Reader,
    artifacts: &mut ArtifactSources,
    user: &str,
    report: &mut ImportReport,
) -> Result<()> {
    report.experiments += experiments.len() as u64;
    let mut plans: HashMap<String, ExperimentPlan> = HashMap::new();
    let mut runs: Vec<(String, bool, SourceRun)> = Vec::new();
    for exp in experiments {
        if plans.contains_key(&exp.name) {
            report.warnings.push(format!(
                "two MLflow experiments are named '{}'; their runs go into one kiroku experiment",
                exp.name
            ));
        } else {
            let plan = plan_experiment(store, &exp, user, report)?;
            plans.insert(exp.name.clone(), plan);
        }
        import_experiment_tags(store, &exp, user, report)?;
        for run in exp.runs {
            runs.push((exp.name.clone(), exp.deleted, run));
        }
    }

    let order = parents_first(&runs, &mut report.warnings);
    let in_source: HashSet<String> = runs.iter().map(|(_, _, r)| r.id.clone()).collect();
    let mut present: HashSet<String> = HashSet::new();
    for index in order {
        let (experiment, experiment_deleted, run) = &runs[index];
        let plan = &plans[experiment];
        let ctx = RunContext {
            experiment,
            experiment_deleted: *experiment_deleted,
            in_source: &in_source,
            user,
        };
        import_run(
            store,
            reader,
            artifacts,
            run,
            plan,
            &ctx,
            &mut present,
            report,
        )?;
    }

    for (name, plan) in &plans {
        if plan.delete_after {
            store.delete_experiment(name, user)?;
        }
    }
    Ok(())
}

/// Puts the MLflow experiment's tags (its description is `mlflow.note.content`) on the kiroku
/// experiment of the same name, setting only those that differ, so a re-import changes
/// nothing. A deleted kiroku experiment takes no tags (a warning, like its runs).
fn import_experiment_tags(
    store: &dyn Store,
    exp: &SourceExperiment,
    user: &str,
    report: &mut ImportReport,
) -> Result<()> {
    if exp.tags.is_empty() {
        return Ok(());
    }
    let target = match store.experiment(&exp.name) {
        Ok(e) if e.name == exp.name => e,
        // Not created (nothing to bring) or another experiment's id: nowhere to put them.
        Ok(_) | Err(KirokuError::NotFound(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let keys = || {
        exp.tags
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if target.deleted {
        report.warnings.push(format!(
            "experiment '{}' is deleted in kiroku; its tags ({}) were not imported",
            exp.name,
            keys()
        ));
        return Ok(());
    }
    let changed: Vec<(String, String)> = exp
        .tags
        .iter()
        .filter(|(k, v)| target.tags.get(k) != Some(v))
        .cloned()
        .collect();
    if changed.is_empty() {
        return Ok(());
    }
    match store.set_experiment_tags(&exp.name, &changed, user) {
        Ok(()) => Ok(()),
        Err(e @ KirokuError::Invalid(_)) => {
            report.warnings.push(format!(
                "experiment '{}': its tags ({}) were not imported: {e}",
                exp.name,
                keys()
            ));
            Ok(())
        }
        Err(e) => Err(e),
    }
}

fn plan_experiment(
    store: &dyn Store,
    exp: &SourceExperiment,
    user: &str,
    report: &mut ImportReport,
) -> Result<ExperimentPlan> {
    let mut plan = ExperimentPlan {
        delete_after: false,
        blocked: None,
    };
    let existing = match store.experiment(&exp.name) {
        Ok(e) if e.name == exp.name => Some(e),
        // `Store::experiment` also takes numeric ids: another experiment's id is no match.
        Ok(_) => None,
        Err(KirokuError::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    match existing {
        Some(e) if e.deleted => {
            plan.blocked = Some(format!(
                "experiment '{}' is deleted in kiroku; restore it to import its runs",
                exp.name
            ));
        }
        Some(_) => {}
        None => {
            // MLflow's automatic Default experiment is only worth creating when it has runs, and
            // a deleted experiment only for the runs it brings.
            let nothing_to_bring = exp.runs.is_empty() && (exp.id == "0" || exp.deleted);
            if !nothing_to_bring {
                store.create_experiment(&exp.name, user)?;
                report.experiments_created += 1;
                plan.delete_after = exp.deleted;
            }
        }
    }
    Ok(plan)
}

struct RunContext<'a> {
    experiment: &'a str,
    experiment_deleted: bool,
    in_source: &'a HashSet<String>,
    user: &'a str,
}

/// Indexes of `runs` ordered so that every parent in the source comes before its children;
/// otherwise by start time, then id. A cycle of parent tags is broken with a warning.
fn parents_first(runs: &[(String, bool, SourceRun)], warnings: &mut Vec<String>) -> Vec<usize> {
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
fn partly(run_id: &str, what: &str, e: KirokuError) -> KirokuError {
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
fn import_run(
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
    if run.deleted || ctx.experiment_deleted {
        store
            .set_deleted(&id, true, &user)
            .map_err(|e| partly(&id, "deletion", e))?;
    }
    Ok(())
}

/// The entries whose keys kiroku accepts; each other one is left out with a warning (one odd
/// key does not keep the whole run out).
fn valid_entries(
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

/// Copies the run's artifacts from the first candidate folder inside the tree; when nothing is
/// copied, records the run's `artifact_uri` as a reference (a store copied from another machine,
/// a bucket, or a location outside the tree, which is never read).
fn import_artifacts(
    store: &dyn Store,
    id: &str,
    run: &SourceRun,
    sources: &mut ArtifactSources,
    report: &mut ImportReport,
) -> Result<()> {
    let mut copied = 0u64;
    let (found, refused) = sources.locate(run);
    if let (Some(src), Some(run_dir)) = (found, store.run_dir(id)) {
        let files = sources.tree.files_under(&src, ARTIFACT_FOLDER, report);
        sources.claimed.insert(src);
        let dest_root = run_dir.join("artifacts");
        for (rel, path) in files {
            // Opened first so that an unreadable file is a warning, not a failed import.
            if let Err(e) = tree::open_regular(&path) {
                report.skip(
                    SkipReason::Unreadable,
                    format!("{}: {e}; artifact skipped", path.display()),
                );
                continue;
            }
            let dest = dest_root.join(&rel);
            let (size, hash) = crate::ingest::files::copy_hashed(&path, Some(&dest))?;
            store.add_artifact(
                id,
                &Artifact {
                    path: rel,
                    size: Some(size),
                    hash: Some(hash),
                    stored: "copied".into(),
                    location: None,
                },
            )?;
            copied += 1;
            report.artifact_bytes += size;
        }
    }
    report.artifacts_copied += copied;
    if copied > 0 {
        return Ok(());
    }
    let location = run.artifact_uri.clone().filter(|u| !u.is_empty());
    if let Some((reason, why)) = refused {
        report.skip(
            reason,
            format!(
                "run {id}: artifacts at {}: {why}; not copied{}",
                excerpt(location.as_deref().unwrap_or("its artifacts folder")),
                if location.is_some() {
                    ", recorded as a reference"
                } else {
                    ""
                }
            ),
        );
    }
    if let Some(location) = location {
        store.add_artifact(
            id,
            &Artifact {
                path: String::new(),
                size: None,
                hash: None,
                stored: "referenced".into(),
                location: Some(location),
            },
        )?;
        report.artifacts_referenced += 1;
    }
    Ok(())
}

/// Why kiroku would refuse a metric key (the rules of the store: 1 to 250 characters, no
/// control characters), so that one odd key skips its points instead of failing the import.
fn key_problem(key: &str) -> Option<&'static str> {
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

/// Parses an MLflow run status: the FileStore's int (1 RUNNING … 5 KILLED) or a name.
pub(crate) fn parse_status(raw: &str) -> Option<RunStatus> {
    match raw.trim() {
        "1" => Some(RunStatus::Running),
        "2" => Some(RunStatus::Queued),
        "3" => Some(RunStatus::Finished),
        "4" => Some(RunStatus::Failed),
        "5" => Some(RunStatus::Killed),
        other => other.parse().ok(),
    }
}

/// Decodes `%XX` escapes of a URI path (invalid escapes are kept as they are).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Local folders an `artifact_uri` may refer to, best first. `base` is the folder that
/// relative locations are taken from (the one holding `mlflow.db` or `mlruns/`).
///
/// - `file:///abs/path` and `/abs/path`: that path; when it is not there (a store copied from
///   another machine), the part from its last `mlruns`/`mlartifacts` component on, under `base`.
/// - `mlflow-artifacts:/<exp>/<run>/artifacts`: `base/mlartifacts/<exp>/<run>/artifacts`
///   (where `mlflow server --serve-artifacts` keeps them by default).
/// - a relative path: under `base`.
/// - any other scheme (`s3://`, `gs://`, ...): nothing local.
pub(crate) fn artifact_candidates(uri: &str, base: &Path) -> Vec<PathBuf> {
    let uri = uri.trim();
    if uri.is_empty() {
        return Vec::new();
    }
    if let Some(rest) = uri.strip_prefix("mlflow-artifacts:") {
        // mlflow-artifacts:/1/abc/artifacts or mlflow-artifacts://host:port/1/abc/artifacts
        let path = match rest.strip_prefix("//") {
            Some(with_host) => with_host.find('/').map_or("", |i| &with_host[i..]),
            None => rest,
        };
        let rel = percent_decode(path.trim_start_matches('/'));
        return vec![base.join("mlartifacts").join(rel)];
    }
    let local = if let Some(rest) = uri.strip_prefix("file:") {
        // file:///abs, file://localhost/abs, file:/abs
        let path = match rest.strip_prefix("//") {
            Some(with_host) => with_host.find('/').map_or("", |i| &with_host[i..]),
            None => rest,
        };
        percent_decode(path)
    } else if uri.contains("://") || looks_like_scheme(uri) {
        return Vec::new();
    } else {
        uri.to_string()
    };
    let path = PathBuf::from(&local);
    if path.is_relative() {
        return vec![base.join(path)];
    }
    let mut out = vec![path.clone()];
    let components: Vec<_> = path.components().collect();
    if let Some(pos) = components.iter().rposition(|c| {
        let s = c.as_os_str();
        s == "mlruns" || s == "mlartifacts"
    }) {
        let tail: PathBuf = components[pos..].iter().collect();
        out.push(base.join(tail));
    }
    out
}

/// `dbfs:/x`, `s3:bucket` and the like: a scheme of two or more letters before a colon.
fn looks_like_scheme(s: &str) -> bool {
    match s.find(':') {
        Some(i) if i >= 2 => s[..i]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn statuses_map_from_ints_and_names() {
        assert_eq!(parse_status("3"), Some(RunStatus::Finished));
        assert_eq!(parse_status("2"), Some(RunStatus::Queued));
        assert_eq!(parse_status("KILLED"), Some(RunStatus::Killed));
        assert_eq!(parse_status("SCHEDULED"), Some(RunStatus::Queued));
        assert_eq!(parse_status("9"), None);
    }

    #[test]
    fn artifact_uris_resolve_to_local_candidates() {
        let base = Path::new("/data/proj");
        assert_eq!(
            artifact_candidates("mlflow-artifacts:/1/abc/artifacts", base),
            vec![PathBuf::from("/data/proj/mlartifacts/1/abc/artifacts")]
        );
        assert_eq!(
            artifact_candidates("mlflow-artifacts://h:5000/1/abc/artifacts", base),
            vec![PathBuf::from("/data/proj/mlartifacts/1/abc/artifacts")]
        );
        assert_eq!(
            artifact_candidates("file:///home/a/mlruns/1/abc/artifacts", base),
            vec![
                PathBuf::from("/home/a/mlruns/1/abc/artifacts"),
                PathBuf::from("/data/proj/mlruns/1/abc/artifacts")
            ]
        );
        assert_eq!(
            artifact_candidates("file:///home/my%20dir/x", base),
            vec![PathBuf::from("/home/my dir/x")]
        );
        assert_eq!(
            artifact_candidates("./mlruns/1/abc/artifacts", base),
            vec![PathBuf::from("/data/proj/./mlruns/1/abc/artifacts")]
        );
        assert!(artifact_candidates("s3://bucket/1/abc/artifacts", base).is_empty());
        assert!(artifact_candidates("dbfs:/databricks/mlflow/1", base).is_empty());
    }
}
