//! `kiroku repro`: brings a pipeline up to date. Which stages run is the definition side's
//! answer (`status`: stale stages and why, `Dag::select` for targets, `-s`, `--downstream`);
//! this file runs them in dependency order, independent ones at the same time
//! (`executor`), each as a job and a run under one pipeline run (`stage_job`), and records
//! what they produced: outputs into the store's cache, a run-cache entry, the `dvc.lock`
//! entry.
//!
//! A stage whose run-cache key (`cache::run_cache_key`) matches an earlier execution (anyone's
//! on the same store) has its outputs restored instead of running, unless it is
//! `always_changed`, has a `persist` or uncached output, is forced, or `--no-run-cache`.
//! Before a stage runs its outputs are removed (unless `persist`); after it succeeds every
//! output must exist. A failing stage skips what depends on it; the rest still run. An
//! interrupt (Ctrl-C) stops the running stages' process groups, marks their jobs and runs
//! killed and records nothing of them.
use super::cache::{self, run_cache_key};
use super::executor::{self, Event, Outcome, Task, TaskRunner};
use super::progress::Progress;
use super::stage_job::{self, Ended, RunContext, Running, StageCommand, StageRecords};
use super::stat_cache::FileStat;
use super::{hash, status, Dag, LockEntry, LockFile, OutputKind, Pipeline, Stage, StatCache};
use crate::error::{KirokuError, Result};
use crate::model::pipeline::{CachedOut, RunCacheEntry, PIPELINE_RUN_TAG};
use crate::model::{now_ms, NewRun, RunStatus};
use crate::store::Store;
use serde_json::{Map, Value as Json};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// What `kiroku repro` was asked.
#[derive(Debug, Clone, Default)]
pub struct ReproOptions {
    pub targets: Vec<String>,
    pub force: bool,
    pub single_item: bool,
    pub downstream: bool,
    pub dry: bool,
    /// Stages at once; None: the number of CPUs.
    pub jobs: Option<usize>,
    /// The target for stages that name none (`--target`).
    pub target: Option<String>,
    pub no_run_cache: bool,
}

/// One stage that was (or would be) run, and how it ended.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StageReport {
    pub stage: String,
    /// Why it reran (the definition side's reasons, or `forced`).
    pub reasons: Vec<String>,
    /// `ran`, `restored`, `failed`, `killed`, `skipped`, or `would run` (dry).
    pub outcome: String,
    /// Why it failed or was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// A restored stage: the run whose outputs it got.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restored_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<crate::model::JobId>,
    pub seconds: f64,
}

/// What a repro did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReproReport {
    pub pipeline_run: Option<String>,
    pub stages: Vec<StageReport>,
    /// Stages skipped because they are frozen.
    pub frozen: Vec<String>,
    pub interrupted: bool,
}

impl ReproReport {
    pub fn failed(&self) -> bool {
        self.interrupted
            || self
                .stages
                .iter()
                .any(|s| matches!(s.outcome.as_str(), "failed" | "killed" | "skipped"))
    }
}

/// Where and as whom stages run.
pub struct ReproEnv<'a> {
    pub store: &'a dyn Store,
    pub config: &'a crate::config::Config,
    pub store_location: String,
    pub stat_cache: StatCache,
    pub experiment: String,
    pub user: String,
    pub host: String,
    /// Set by Ctrl-C.
    pub interrupted: &'a AtomicBool,
    /// Live progress on a terminal, else plain lines (to stderr).
    pub progress: Progress,
}

/// A stage that is to run.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Into `Pipeline::stages`.
    pub index: usize,
    pub reasons: Vec<String>,
    /// Whether to look again when its turn comes (as DVC does): it was found stale while a
    /// stage it depends on was to run too, which may put back exactly what it had.
    pub recheck: bool,
}

/// The stages to run, in dependency order, with their reasons; and the frozen ones.
pub fn plan(
    pipeline: &Pipeline,
    dag: &Dag,
    stat_cache: &mut StatCache,
    opts: &ReproOptions,
) -> Result<(Vec<Planned>, Vec<String>)> {
    let lock = LockFile::read(&pipeline.root)?;
    let statuses = status(pipeline, dag, &lock, stat_cache)?;
    let selected = dag.select(&opts.targets, opts.single_item, opts.downstream)?;
    let mut run = Vec::new();
    let mut frozen = Vec::new();
    for i in selected {
        let stage = &pipeline.stages[i];
        if stage.frozen {
            frozen.push(stage.name.clone());
            continue;
        }
        let planned = match &statuses[i].state {
            super::StageState::Stale(reasons) => Planned {
                index: i,
                reasons: reasons.iter().map(|r| r.to_string()).collect(),
                recheck: !opts.force,
            },
            _ if opts.force => Planned {
                index: i,
                reasons: vec!["forced".into()],
                recheck: false,
            },
            _ => continue,
        };
        run.push(planned);
    }
    Ok((run, frozen))
}

/// Runs `kiroku repro` on the pipeline in `root`.
pub fn repro(root: &Path, env: ReproEnv, opts: &ReproOptions) -> Result<ReproReport> {
    // Absolute, so that a stage's working directory means the same to a queued job's
    // supervisor, which runs elsewhere.
    let root = &root
        .canonicalize()
        .map_err(|e| KirokuError::io(format!("opening {}", root.display()), e))?;
    let pipeline = super::load(root)?;
    let dag = Dag::build(&pipeline)?;
    let mut stat_cache = env.stat_cache;
    let (to_run, frozen) = plan(&pipeline, &dag, &mut stat_cache, opts)?;
    if opts.dry || to_run.is_empty() {
        return Ok(ReproReport {
            pipeline_run: None,
            stages: to_run
                .into_iter()
                .map(|p| StageReport {
                    stage: pipeline.stages[p.index].name.clone(),
                    reasons: p.reasons,
                    outcome: "would run".into(),
                    detail: None,
                    run_id: None,
                    restored_from: None,
                    job: None,
                    seconds: 0.0,
                })
                .collect(),
            frozen,
            interrupted: false,
        });
    }
    let pipeline_run = NewRun {
        experiment: env.experiment.clone(),
        name: Some(format!("pipeline {}", project_name(root))),
        user: env.user.clone(),
        host: Some(env.host.clone()),
        status: Some(RunStatus::Running),
        start_time: Some(now_ms()),
        tags: vec![
            ("kiroku.pipeline".into(), root.display().to_string()),
            (
                "kiroku.pipeline.stages".into(),
                to_run
                    .iter()
                    .map(|p| pipeline.stages[p.index].name.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
        ],
        ..Default::default()
    };
    // Supervised by this process (no metrics file of its own), so that a repro that dies
    // leaves a run that anyone's next look marks lost rather than running for ever.
    let no_metrics =
        std::env::temp_dir().join(format!("kiroku-pipeline-{}.jsonl", std::process::id()));
    let pipeline_run = match crate::supervise::supervisor_for(&no_metrics) {
        Some(supervisor) => env
            .store
            .create_supervised_run(&pipeline_run, &supervisor)?,
        None => env.store.create_run(&pipeline_run)?,
    };
    // Each stage waits for the stages it (transitively) depends on among those that run.
    let position: std::collections::HashMap<usize, usize> = to_run
        .iter()
        .enumerate()
        .map(|(t, p)| (p.index, t))
        .collect();
    let mut pools = TargetPools::default();
    let mut tasks: Vec<Task> = Vec::with_capacity(to_run.len());
    for p in &to_run {
        let stage = &pipeline.stages[p.index];
        let target = stage
            .settings
            .target
            .as_deref()
            .or(opts.target.as_deref())
            .unwrap_or("local");
        tasks.push(Task {
            name: stage.name.clone(),
            needs: dag
                .ancestors(p.index)
                .into_iter()
                .filter_map(|a| position.get(&a).copied())
                .collect(),
            pool: pools.pool_of(env.config, target)?,
        });
    }
    let slots = opts.jobs.unwrap_or_else(|| default_slots(env.config));
    let runner = StageRunner {
        pipeline: &pipeline,
        dag: &dag,
        recheck: to_run
            .iter()
            .zip(&tasks)
            .map(|(p, task)| p.recheck && !task.needs.is_empty())
            .collect(),
        stages: to_run.iter().map(|p| p.index).collect(),
        ctx: RunContext {
            store: env.store,
            config: env.config,
            store_location: env.store_location.clone(),
            experiment: env.experiment.clone(),
            user: env.user.clone(),
            host: env.host.clone(),
            pipeline_run: Some(pipeline_run.id.clone()),
        },
        stat_cache: Mutex::new(stat_cache),
        running: Running::default(),
        records: Mutex::new(vec![None; to_run.len()]),
        details: Mutex::new(vec![None; to_run.len()]),
        default_target: opts.target.clone(),
        run_cache: !opts.no_run_cache && !opts.force,
        progress: &env.progress,
    };
    let mut seconds = vec![0.0; tasks.len()];
    env.progress.begin(tasks.len());
    let outcomes = executor::execute(
        &tasks,
        slots,
        &pools.limits,
        &runner,
        &|| env.interrupted.load(Ordering::SeqCst),
        &mut |event| {
            if let Event::Ended { task, elapsed, .. } = event {
                seconds[*task] = elapsed.as_secs_f64();
            }
            env.progress.event(&tasks, event)
        },
        &mut || env.progress.tick(),
    );
    env.progress.finish();
    let interrupted = env.interrupted.load(Ordering::SeqCst);
    let records = runner
        .records
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    let details = runner
        .details
        .into_inner()
        .unwrap_or_else(|p| p.into_inner());
    let stages: Vec<StageReport> = to_run
        .into_iter()
        .zip(outcomes)
        .enumerate()
        .map(|(t, (planned, outcome))| {
            let (word, detail) = match outcome {
                Outcome::Ran => ("ran", None),
                Outcome::Restored => ("restored", details[t].as_ref().map(|r| r.note.clone())),
                Outcome::UpToDate => ("up to date", None),
                Outcome::Failed(why) => ("failed", Some(why)),
                Outcome::Killed => ("killed", None),
                Outcome::Skipped(by) => ("skipped", Some(format!("{by} did not succeed"))),
            };
            let record: Option<&StageRecords> = records[t].as_ref();
            StageReport {
                stage: pipeline.stages[planned.index].name.clone(),
                reasons: planned.reasons,
                outcome: word.into(),
                detail,
                run_id: record
                    .and_then(|r| r.run_id.clone())
                    .or_else(|| details[t].as_ref().and_then(|r| r.run_id.clone())),
                restored_from: details[t].as_ref().and_then(|r| r.from_run.clone()),
                job: record.map(|r| r.job),
                seconds: seconds[t],
            }
        })
        .collect();
    let report = ReproReport {
        pipeline_run: Some(pipeline_run.id.clone()),
        stages,
        frozen,
        interrupted,
    };
    let status = if interrupted {
        RunStatus::Killed
    } else if report.failed() {
        RunStatus::Failed
    } else {
        RunStatus::Finished
    };
    env.store.set_status(&pipeline_run.id, status, None, None)?;
    Ok(report)
}

/// Stages at once without `-j`: the local target's `max_parallel` when set, else the number
/// of CPUs, and never fewer than `MIN_SLOTS` (stages are processes that often wait: on disk,
/// on GPUs, on remote targets).
fn default_slots(config: &crate::config::Config) -> usize {
    let cpus = std::thread::available_parallelism().map_or(MIN_SLOTS, |n| n.get());
    match crate::jobs::targets::resolve(config, Some("local")) {
        Ok(target) if target.config.max_parallel.is_some() => target.max_parallel(0),
        _ => cpus.max(MIN_SLOTS),
    }
}

/// The targets that hold only so many jobs at once, as capacity pools for the executor: an
/// ssh target its `max_parallel` (1 when unset), as the job queue places them, so stages
/// waiting for a busy box do not hold `-j` slots that local stages could use. Local stages
/// count against `-j` alone (GPU stages are booked by the queue); Slurm queues on its own.
#[derive(Default)]
struct TargetPools {
    names: Vec<String>,
    limits: Vec<usize>,
}

impl TargetPools {
    fn pool_of(&mut self, config: &crate::config::Config, target: &str) -> Result<Option<usize>> {
        if let Some(i) = self.names.iter().position(|n| n == target) {
            return Ok(Some(i));
        }
        if target == "local" {
            return Ok(None);
        }
        let resolved = crate::jobs::targets::resolve(config, Some(target))?;
        if resolved.config.kind != crate::config::TargetKind::Ssh {
            return Ok(None);
        }
        self.names.push(target.to_string());
        self.limits
            .push(resolved.config.max_parallel.unwrap_or(1).max(1) as usize);
        Ok(Some(self.names.len() - 1))
    }
}

/// The fewest stages at once by default.
const MIN_SLOTS: usize = 4;

/// The project folder's name, for the pipeline run's name.
fn project_name(root: &Path) -> String {
    root.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pipeline".into())
}

/// `require_checks`: why the stage may not run (issue 10's gate, the one `--require-checks`
/// applies: each named dataset's newest version must have cleared its checks); None when it
/// may.
fn checks_refusal(store: &dyn Store, stage: &Stage) -> Result<Option<String>> {
    if stage.settings.require_checks.is_empty() {
        return Ok(None);
    }
    match crate::store::checks_gate::require_checks(
        store,
        &stage.settings.require_checks,
        &[],
        now_ms(),
    ) {
        Ok(refusal) => Ok(refusal),
        Err(KirokuError::NotFound(why)) => {
            Ok(Some(format!("refusing to start (require_checks): {why}")))
        }
        Err(e) => Err(e),
    }
}

/// Runs the pipeline's stages for the executor.
struct StageRunner<'a> {
    pipeline: &'a Pipeline,
    dag: &'a Dag,
    /// Per task: whether to look again at its turn (stale while a stage it needs was to run).
    recheck: Vec<bool>,
    /// Task index → stage index.
    stages: Vec<usize>,
    ctx: RunContext<'a>,
    stat_cache: Mutex<StatCache>,
    running: Running,
    records: Mutex<Vec<Option<StageRecords>>>,
    /// A restored stage's note (which run produced the outputs) and its own run.
    details: Mutex<Vec<Option<Restored>>>,
    default_target: Option<String>,
    run_cache: bool,
    progress: &'a Progress,
}

impl TaskRunner for StageRunner<'_> {
    fn run(&self, task: usize, stop: &AtomicBool) -> Outcome {
        let stage = &self.pipeline.stages[self.stages[task]];
        match self.run_stage(task, stage, stop) {
            Ok(outcome) => outcome,
            Err(e) => Outcome::Failed(e.to_string()),
        }
    }

    fn interrupt(&self) {
        self.progress
            .note("interrupted: stopping the running stages");
        self.running
            .stop_all(self.ctx.store, &self.ctx.user, Duration::from_secs(5));
    }
}

impl StageRunner<'_> {
    fn cache(&self) -> std::sync::MutexGuard<'_, StatCache> {
        self.stat_cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn run_stage(&self, task: usize, stage: &Stage, stop: &AtomicBool) -> Result<Outcome> {
        let root = &self.pipeline.root;
        if let Some(refusal) = checks_refusal(self.ctx.store, stage)? {
            return Ok(Outcome::Failed(refusal));
        }
        if self.recheck[task] && self.fresh_now(stage)? {
            return Ok(Outcome::UpToDate);
        }
        let key = self.run_cache_key(stage)?;
        if let Some(key) = &key {
            if let Some(restored) = self.try_restore(stage, key)? {
                self.details.lock().unwrap_or_else(|p| p.into_inner())[task] = Some(restored);
                return Ok(Outcome::Restored);
            }
        }
        for out in &stage.outs {
            if !out.persist {
                cache::remove_path(&stage.path_on_disk(root, &out.path))?;
            }
        }
        let params = stage_params(root, stage)?;
        let command = StageCommand {
            stage: stage.name.clone(),
            commands: stage.cmd.clone(),
            workdir: stage.wdir_path(root),
            target: stage
                .settings
                .target
                .clone()
                .or_else(|| self.default_target.clone())
                .unwrap_or_else(|| "local".into()),
            gpus: stage.settings.gpus.unwrap_or(0),
            params,
            // The queue's supervisor checks the gate again when it starts a queued stage.
            tags: if stage.settings.require_checks.is_empty() {
                Vec::new()
            } else {
                vec![(
                    "kiroku.require_checks".to_string(),
                    stage.settings.require_checks.join(","),
                )]
            },
        };
        let mut command = command;
        let remote =
            super::remote::RemoteProject::for_target(self.ctx.config, &command.target, root)?;
        if let Some(remote) = &remote {
            remote.push(root, stage)?;
            command.commands.insert(0, remote.cd_command(stage)?);
        }
        let (ended, records) =
            stage_job::run_stage(&self.ctx, &command, &self.running, stop, &|r| {
                self.records.lock().unwrap_or_else(|p| p.into_inner())[task] = Some(r.clone());
                self.progress
                    .started(&stage.name, &command.target, r.run_id.as_deref());
            })?;
        self.records.lock().unwrap_or_else(|p| p.into_inner())[task] = Some(records.clone());
        let ended = match ended {
            Ended::Succeeded => match remote
                .as_ref()
                .map_or(Ok(()), |r| r.fetch(root, stage))
                .and_then(|()| self.record_success(stage, key.as_deref(), &records))
            {
                Ok(()) => Ended::Succeeded,
                Err(e) => Ended::Failed(e.to_string()),
            },
            other => other,
        };
        stage_job::end_stage(self.ctx.store, &records, &ended);
        Ok(match ended {
            Ended::Succeeded => Outcome::Ran,
            Ended::Failed(why) => {
                let tail = records.log.as_deref().map(log_tail).unwrap_or_default();
                Outcome::Failed(if tail.is_empty() {
                    why
                } else {
                    format!("{why}\n{tail}")
                })
            }
            Ended::Killed => Outcome::Killed,
        })
    }

    /// Hashes the files at `path` (a file, or every file under a folder) that the stat cache
    /// does not know yet, outside its lock, so that stages finishing at once hash their
    /// outputs in parallel; the hashing under the lock that follows finds them all known.
    fn warm(&self, path: &Path) -> Result<()> {
        let files: Vec<(std::path::PathBuf, FileStat)> = match std::fs::metadata(path) {
            Err(_) => return Ok(()),
            Ok(meta) if meta.is_dir() => hash::walk(path)?
                .into_iter()
                .map(|(_, file, stat)| (file, stat))
                .collect(),
            Ok(meta) => vec![(path.to_path_buf(), FileStat::of(&meta))],
        };
        let unknown: Vec<(std::path::PathBuf, FileStat)> = {
            let mut cache = self.cache();
            files
                .into_iter()
                .filter(|(file, stat)| cache.get(file, stat).is_none())
                .collect()
        };
        let mut rows = Vec::with_capacity(unknown.len());
        for (file, stat) in unknown {
            let md5 = hash::md5_file(&file)?;
            rows.push((file, stat, md5));
        }
        self.cache().put(&rows)
    }

    /// Whether `stage` has no reason of its own to run, against `dvc.lock` as it is now.
    fn fresh_now(&self, stage: &Stage) -> Result<bool> {
        let lock = LockFile::read(&self.pipeline.root)?;
        let statuses = status(self.pipeline, self.dag, &lock, &mut self.cache())?;
        Ok(statuses
            .iter()
            .find(|s| s.name == stage.name)
            .is_some_and(|s| s.own_reasons().is_empty()))
    }

    /// The stage's run-cache key, or None when the run-cache does not apply to it.
    fn run_cache_key(&self, stage: &Stage) -> Result<Option<String>> {
        let cacheable = self.run_cache
            && !stage.always_changed
            && !stage.outs.is_empty()
            && stage.outs.iter().all(|o| o.cache && !o.persist);
        if !cacheable {
            return Ok(None);
        }
        let root = &self.pipeline.root;
        let mut deps = Vec::with_capacity(stage.deps.len());
        for dep in &stage.deps {
            let on_disk = stage.path_on_disk(root, &dep.path);
            self.warm(&on_disk)?;
            let hash = hash::hash_path_opt(&on_disk, &mut self.cache())?.ok_or_else(|| {
                KirokuError::NotFound(format!(
                    "stage '{}': dependency '{}' does not exist",
                    stage.name, dep.path
                ))
            })?;
            deps.push((stage.path_from_root(&dep.path), hash.md5));
        }
        let params = super::lock::current_params(root, stage)?;
        let params = Json::Object(
            params
                .into_iter()
                .map(|(file, values)| (file, Json::Object(values)))
                .collect::<Map<String, Json>>(),
        );
        let outs: Vec<String> = stage
            .outs
            .iter()
            .map(|o| stage.path_from_root(&o.path))
            .collect();
        Ok(Some(run_cache_key(&stage.cmd, &deps, &params, &outs)))
    }

    /// Restores the stage's outputs from the run-cache entry under `key`, when there is one
    /// whose objects are all in the cache; records the lock entry and the stage's own run
    /// (finished, tagged restored). Returns what it restored, or None (the stage must run).
    fn try_restore(&self, stage: &Stage, key: &str) -> Result<Option<Restored>> {
        let store = self.ctx.store;
        let Some(entry) = store.run_cache_entry(key)? else {
            return Ok(None);
        };
        for out in &entry.outs {
            if !cache::can_restore(store, out)? {
                return Ok(None);
            }
        }
        let started = now_ms();
        let root = &self.pipeline.root;
        for out in &entry.outs {
            cache::restore_output(store, out, &root.join(&out.path))?;
        }
        for out in &stage.outs {
            self.warm(&stage.path_on_disk(root, &out.path))?;
        }
        super::record_current(self.pipeline, stage, &mut self.cache())?;
        super::dvc_cache::commit_outputs(root, stage, &mut self.cache())?;
        let by = match &entry.run_id {
            Some(run) => format!("run {} by {}", crate::ids::short(run), entry.user),
            None => format!("an execution by {}", entry.user),
        };
        let run_id = self.record_restored_run(stage, key, &entry, started)?;
        self.progress.restored(&stage.name, &by);
        Ok(Some(Restored {
            note: format!("restored from the run-cache ({by})"),
            run_id: Some(run_id),
            from_run: entry.run_id.clone(),
        }))
    }

    /// A restored stage's run: a finished child of the pipeline run with the stage's params,
    /// the hashes of its deps and outputs (`dvc.dep.PATH`, `dvc.out.PATH`), its metrics files
    /// as metrics, and `kiroku.pipeline.restored` = `true` with the run-cache key and the run
    /// it was restored from (`kiroku.pipeline.restored_from`).
    fn record_restored_run(
        &self,
        stage: &Stage,
        key: &str,
        entry: &RunCacheEntry,
        started: crate::model::Millis,
    ) -> Result<String> {
        let root = &self.pipeline.root;
        let store = self.ctx.store;
        let lock = LockEntry::compute(root, stage, &mut self.cache())?;
        let mut tags: Vec<(String, String)> = vec![
            ("kiroku.pipeline.stage".into(), stage.name.clone()),
            (RESTORED_TAG.into(), "true".into()),
            ("kiroku.pipeline.run_cache_key".into(), key.to_string()),
            ("kiroku.command".into(), stage.cmd.join(" && ")),
        ];
        if let Some(parent) = &self.ctx.pipeline_run {
            tags.push((PIPELINE_RUN_TAG.into(), parent.clone()));
        }
        if let Some(from) = &entry.run_id {
            tags.push((RESTORED_FROM_TAG.into(), from.clone()));
        }
        tags.extend(hash_tags(&lock));
        let run = store.create_run(&NewRun {
            experiment: self.ctx.experiment.clone(),
            name: Some(stage.name.clone()),
            user: self.ctx.user.clone(),
            host: Some(self.ctx.host.clone()),
            status: Some(RunStatus::Finished),
            start_time: Some(started),
            end_time: Some(now_ms().max(started)),
            parent_id: self.ctx.pipeline_run.clone(),
            tags,
            params: stage_params(root, stage)?,
            ..Default::default()
        })?;
        for out in &stage.outs {
            if out.kind == OutputKind::Metric {
                log_metrics_file(store, &run.id, &stage.path_on_disk(root, &out.path));
            }
        }
        Ok(run.id)
    }

    /// After a stage succeeded: its outputs hashed and cached, its metrics logged, its
    /// run-cache entry and lock entry recorded.
    fn record_success(
        &self,
        stage: &Stage,
        key: Option<&str>,
        records: &StageRecords,
    ) -> Result<()> {
        let root = &self.pipeline.root;
        let store = self.ctx.store;
        for path in stage
            .deps
            .iter()
            .map(|d| &d.path)
            .chain(stage.outs.iter().map(|o| &o.path))
        {
            self.warm(&stage.path_on_disk(root, path))?;
        }
        let entry: LockEntry = LockEntry::compute(root, stage, &mut self.cache())?;
        let mut cached = Vec::new();
        for out in &stage.outs {
            let on_disk = stage.path_on_disk(root, &out.path);
            let locked = entry
                .outs
                .iter()
                .find(|p| p.path == out.path)
                .ok_or_else(|| {
                    KirokuError::Invalid(format!("output '{}' was not hashed", out.path))
                })?;
            let md5 = locked.md5.clone().unwrap_or_default();
            if out.cache {
                self.cache_output(&on_disk, &md5)?;
            }
            cached.push(CachedOut {
                path: stage.path_from_root(&out.path),
                md5,
                size: locked.size.unwrap_or(0),
                nfiles: locked.nfiles,
            });
            if out.kind == OutputKind::Metric {
                if let Some(run_id) = &records.run_id {
                    log_metrics_file(store, run_id, &on_disk);
                }
            }
        }
        if let Some(run_id) = &records.run_id {
            let _ = store.set_tags(run_id, &hash_tags(&entry), "");
        }
        if let Some(key) = key {
            store.record_run_cache(&RunCacheEntry {
                key: key.to_string(),
                stage: stage.name.clone(),
                outs: cached,
                run_id: records.run_id.clone(),
                user: self.ctx.user.clone(),
                created_at: 0,
            })?;
        }
        super::record_stage(self.pipeline, &stage.name, entry)?;
        super::dvc_cache::commit_outputs(root, stage, &mut self.cache())
    }

    /// Puts a cached output into the store's cache.
    fn cache_output(&self, on_disk: &Path, md5: &str) -> Result<()> {
        let store = self.ctx.store;
        if md5.ends_with(".dir") {
            let files = hash::dir_files(on_disk, &mut self.cache())?;
            let entries: Vec<(String, String)> = files
                .iter()
                .map(|f| (f.relpath.clone(), f.md5.clone()))
                .collect();
            cache::push_tree(store, on_disk, &entries, &hash::listing_of(&files), md5)
        } else {
            cache::push_file(store, on_disk, md5)
        }
    }
}

/// A restored stage's record: the note for the report, its run, the run it came from.
#[derive(Debug, Clone)]
struct Restored {
    note: String,
    run_id: Option<String>,
    from_run: Option<String>,
}

/// The tag (`true`) on the run of a stage restored from the run-cache rather than run.
pub const RESTORED_TAG: &str = "kiroku.pipeline.restored";
/// The tag naming the run whose outputs a restored stage got.
pub const RESTORED_FROM_TAG: &str = "kiroku.pipeline.restored_from";

/// The `dvc.dep.PATH` / `dvc.out.PATH` tags: the hashes of a stage's deps and outputs.
fn hash_tags(entry: &LockEntry) -> Vec<(String, String)> {
    let deps = entry.deps.iter().map(|d| ("dep", d));
    let outs = entry.outs.iter().map(|o| ("out", o));
    deps.chain(outs)
        .map(|(kind, p)| {
            (
                format!("dvc.{kind}.{}", p.path),
                p.md5.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// The stage's tracked params as run params (`key` = value, as text).
fn stage_params(root: &Path, stage: &Stage) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (file, values) in super::lock::current_params(root, stage)? {
        let prefix = if file == super::params::DEFAULT_PARAMS_FILE {
            String::new()
        } else {
            format!("{file}:")
        };
        for (key, value) in values {
            let text = match &value {
                Json::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.push((format!("{prefix}{key}"), text));
        }
    }
    Ok(out)
}

/// A metrics file (JSON, YAML or TOML) logged as the run's metrics through the metrics-file
/// parser (nested keys flatten to `a/b`).
fn log_metrics_file(store: &dyn Store, run_id: &str, path: &Path) {
    let Ok(values) = super::params::read_params_file(path) else {
        return;
    };
    let line = Json::Object(values).to_string();
    let mut ingested = crate::ingest::metrics_file::Ingested::default();
    crate::ingest::metrics_file::LineParser::new().parse_line(line.as_bytes(), &mut ingested);
    ingested.params.clear();
    ingested.tags.clear();
    stage_job::log_ingested(store, run_id, ingested);
}

/// The last lines of a failed stage's output, for the summary.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(10);
    lines[start..]
        .iter()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
