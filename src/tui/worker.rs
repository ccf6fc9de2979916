//! Store work off the UI thread. One worker thread takes requests from a channel; before each
//! round it drains the queue and keeps only the newest query of each kind (typing `abc` in the
//! filter bar runs one search, not three), while writes always run, in order. Results come
//! back to the event loop as `Response`s. A second thread watches for changes (the store's
//! `version()` counter and the followed log file) and says when to look again; every few
//! seconds it also looks for runs whose `kiroku run` died (`crate::supervise`) and jobs whose
//! supervisor died (`crate::jobs::lost`), so a lost run or job is marked and shows as such while
//! the UI is open.
//!
//! `execute` is the whole behaviour and is also called directly by tests, without threads.
use crate::jobs::gpus::GpuInfo;
use crate::model::data::{CheckRun, CheckRunId, CheckRunQuery, NewReview, Review, RunInput};
use crate::model::{
    Event, EventQuery, Experiment, Job, JobId, JobQuery, NewJob, NewNote, RunDetail, RunPage,
    RunQuery,
};
use crate::series::{SampledSeries, SeriesQuery};
use crate::store::checks_gate::Gate;
use crate::store::run_files::open_in_run;
use crate::store::Store;
use std::path::PathBuf;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A write from the UI: each is the same store call the headless command makes.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    Note {
        run_id: String,
        note: NewNote,
    },
    Star {
        run_id: String,
        user: String,
        on: bool,
    },
    Tags {
        run_ids: Vec<String>,
        set: Vec<(String, String)>,
        remove: Vec<String>,
        user: String,
    },
    Delete {
        run_ids: Vec<String>,
        deleted: bool,
        user: String,
    },
    /// Queue a job (the launch form), as `kiroku submit` does.
    SubmitJob {
        job: Box<NewJob>,
        context: Box<JobsContext>,
    },
    /// Cancel a job, as `kiroku jobs cancel` does.
    CancelJob {
        id: JobId,
        user: String,
    },
    /// Queue a job again (`retry_of` set), as `kiroku jobs retry` does.
    RetryJob {
        id: JobId,
        user: String,
        host: String,
        context: Box<JobsContext>,
    },
    /// A verdict on one check result, as `kiroku review RUN/RESULT` records it.
    Review(NewReview),
    /// Move an alias through its gate (`force`: past it, recorded), as `kiroku model alias`.
    Promote {
        model: String,
        alias: String,
        version: i64,
        force: bool,
        who: Box<ModelActor>,
    },
    /// Move an alias back, as `kiroku model rollback`.
    Rollback {
        model: String,
        alias: String,
        who: Box<ModelActor>,
    },
    /// A reviewer's verdict on a model version, as `kiroku model approve|reject`.
    Approval(crate::model::promotions::NewApproval),
}

/// Who moves an alias, from where, with which configuration (hooks submit jobs).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelActor {
    pub user: String,
    pub host: String,
    pub context: JobsContext,
}

/// The tag a job's run carries: the job's id (convention shared with `kiroku job-exec`).
pub const JOB_TAG: &str = "kiroku.job";
/// The tag a job's run carries: the target it ran on.
pub const TARGET_TAG: &str = "kiroku.target";
/// The tag a rerun's run carries: the run it runs again.
pub const RERUN_TAG: &str = "kiroku.rerun_of";

/// What queueing a job from the UI needs besides the store: the configuration (its targets)
/// and where the store is (for the scheduler `submit` may start).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobsContext {
    pub config: crate::config::Config,
    /// The store as `--store` names it (a `.kiroku` folder or a URL).
    pub store_location: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Experiments,
    /// `seq` lets the UI ignore answers to superseded queries.
    Runs {
        seq: u64,
        query: RunQuery,
        /// The exact number of matches when known: a window in the far half is then read
        /// from the end (see `runs_window`).
        total: Option<u64>,
    },
    /// Count the runs matching a query (after a page came back full).
    Count {
        seq: u64,
        query: RunQuery,
    },
    Run {
        id: String,
    },
    /// Several runs at once (compare).
    RunsById {
        ids: Vec<String>,
    },
    /// The runs table's sparklines: (run id, metric key) cells, each series reduced to
    /// `buckets` values (cells whose run lacks the metric are left out of the answer).
    Sparks {
        cells: Vec<(String, String)>,
        buckets: usize,
    },
    Series {
        run_id: String,
        key: String,
        query: SeriesQuery,
        chart: Chart,
    },
    /// The run's output from byte `from` on (0: all of it, up to `LOG_LIMIT`).
    Log {
        run_id: String,
        from: u64,
    },
    Events {
        limit: u64,
    },
    /// Highlight a text (the Source tab) as language `lang`.
    Highlight {
        run_id: String,
        key: String,
        text: String,
        lang: String,
        theme: Option<String>,
    },
    /// Read the start of a file and highlight it (the Artifacts preview).
    Preview {
        run_id: String,
        key: String,
        path: PathBuf,
        theme: Option<String>,
    },
    /// The job queue (lost jobs are looked for first).
    Jobs {
        query: JobQuery,
    },
    /// This box's GPUs (discovery), for the Jobs screen's GPU panel.
    Gpus,
    /// A job's run output from byte `from` on (as `Log`, for the Jobs screen's tail).
    JobLog {
        run_id: String,
        from: u64,
    },
    /// A run and, when a job started it, that job: what the launch form is filled from.
    RerunSource {
        run_id: String,
    },
    /// The newest check runs, and which of them wait for a review (the Checks screen).
    CheckRuns {
        limit: usize,
    },
    /// One check run with the reviews that bind to its results (the result view).
    CheckRun {
        id: CheckRunId,
    },
    /// A run's input dataset versions, each with where its latest check run stands.
    RunInputs {
        run_id: String,
    },
    /// The registered models (the Models screen's list).
    Models,
    /// One model with its versions, evaluations, gates, approvals, history, deliveries.
    Model {
        name: String,
        config: Box<crate::config::Config>,
    },
    /// The pipeline in `root` (its `dvc.yaml`), its graph and each stage's status (the
    /// Pipelines screen; files, not the store).
    PipelineStatus {
        root: std::path::PathBuf,
    },
    Write(Write),
}

/// Which chart a series is for: the run screen's (one run at a time) or compare's (one
/// series per run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chart {
    Run,
    Compare,
}

/// The kinds of request the UI waits on (for the spinner): a request and its answer have the
/// same kind, so what is outstanding is a set of these, never a set of names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RequestKind {
    Experiments,
    Runs,
    Count,
    Run,
    RunsById,
    Sparks,
    Series,
    Log,
    Events,
    Highlight,
    Jobs,
    Gpus,
    JobLog,
    RerunSource,
    CheckRuns,
    CheckRun,
    RunInputs,
    Models,
    Model,
    PipelineStatus,
    Write,
}

/// What makes two queries the same for coalescing: the newer one replaces the older.
#[derive(Debug, Clone, PartialEq)]
enum CoalesceKey<'a> {
    Kind(RequestKind),
    /// Each chart slot has its own newest request: a run chart per metric (a newer request
    /// for another run replaces it), a compare chart per run and metric.
    Series {
        chart: Chart,
        run_id: Option<&'a str>,
        key: &'a str,
    },
    /// Each highlighted text (`Highlight` and `Preview` share the keys).
    Highlight(&'a str),
}

impl Request {
    pub fn kind(&self) -> RequestKind {
        match self {
            Request::Experiments => RequestKind::Experiments,
            Request::Runs { .. } => RequestKind::Runs,
            Request::Count { .. } => RequestKind::Count,
            Request::Run { .. } => RequestKind::Run,
            Request::RunsById { .. } => RequestKind::RunsById,
            Request::Sparks { .. } => RequestKind::Sparks,
            Request::Series { .. } => RequestKind::Series,
            Request::Log { .. } => RequestKind::Log,
            Request::Events { .. } => RequestKind::Events,
            Request::Highlight { .. } | Request::Preview { .. } => RequestKind::Highlight,
            Request::Jobs { .. } => RequestKind::Jobs,
            Request::Gpus => RequestKind::Gpus,
            Request::JobLog { .. } => RequestKind::JobLog,
            Request::RerunSource { .. } => RequestKind::RerunSource,
            Request::CheckRuns { .. } => RequestKind::CheckRuns,
            Request::CheckRun { .. } => RequestKind::CheckRun,
            Request::RunInputs { .. } => RequestKind::RunInputs,
            Request::Models => RequestKind::Models,
            Request::Model { .. } => RequestKind::Model,
            Request::PipelineStatus { .. } => RequestKind::PipelineStatus,
            Request::Write(_) => RequestKind::Write,
        }
    }

    /// Queries of the same kind replace each other; `None` for writes (never dropped).
    fn coalesce_key(&self) -> Option<CoalesceKey<'_>> {
        Some(match self {
            Request::Series {
                run_id, key, chart, ..
            } => CoalesceKey::Series {
                chart: *chart,
                run_id: (*chart == Chart::Compare).then_some(run_id.as_str()),
                key,
            },
            Request::Highlight { key, .. } | Request::Preview { key, .. } => {
                CoalesceKey::Highlight(key)
            }
            Request::Write(_) => return None,
            other => CoalesceKey::Kind(other.kind()),
        })
    }
}

#[derive(Debug, Clone)]
pub enum Response {
    Experiments(Vec<Experiment>),
    /// A page (its `total` a lower bound when the page is full: see `Count`), with the query,
    /// so the rows land where they were asked for.
    Runs {
        seq: u64,
        query: RunQuery,
        page: RunPage,
    },
    /// The exact number of runs matching the query of page `seq`.
    Count {
        seq: u64,
        total: u64,
    },
    /// A run, with its artifacts looked up on disk (off the UI thread).
    Run(Box<RunDetail>, Vec<ArtifactEntry>),
    RunsById(Vec<RunDetail>),
    /// (run id, metric key, reduced series) for the runs table's sparklines.
    Sparks(Vec<(String, String, SampledSeries)>),
    Series {
        run_id: String,
        chart: Chart,
        series: SampledSeries,
    },
    /// Output text; `appended` when it continues what the UI holds, and `end`, the file
    /// offset it reaches (where the next read starts).
    Log {
        run_id: String,
        text: String,
        end: u64,
        appended: bool,
    },
    Events(Vec<Event>),
    Highlighted {
        run_id: String,
        key: String,
        content: Highlighted,
    },
    /// The job queue, newest first.
    Jobs(Vec<Job>),
    /// The GPUs found, and why there are none when discovery could not look.
    Gpus {
        gpus: Vec<GpuInfo>,
        note: Option<String>,
    },
    /// A job's run output, as `Log`, with the file to follow (a local store only).
    JobLog {
        run_id: String,
        text: String,
        end: u64,
        appended: bool,
        path: Option<String>,
    },
    /// The run to launch again, and the job that started it, if one did.
    RerunSource {
        detail: Box<RunDetail>,
        job: Option<Box<Job>>,
    },
    /// The newest check runs (newest first) and the ids of those waiting for a review.
    CheckRuns {
        runs: Vec<CheckRun>,
        awaiting: Vec<CheckRunId>,
    },
    /// One check run and the reviews that bind to its results.
    CheckRun {
        run: Box<CheckRun>,
        reviews: Vec<Review>,
    },
    /// A run's inputs with their check standing, in the order bound.
    RunInputs {
        run_id: String,
        inputs: Vec<InputCheck>,
    },
    /// The registered models, by name.
    Models(Vec<crate::model::registry::RegisteredModel>),
    /// One model as the Models screen shows it.
    Model(Box<crate::models::overview::ModelView>),
    /// The pipeline's stages and their status, or why it could not be read.
    /// The pipeline with its statuses, and what the store knows of its stages (runs, logs,
    /// cached outputs; empty when the store could not say).
    PipelineStatus(
        Box<
            Result<
                (
                    crate::pipelines::Snapshot,
                    crate::pipelines::overview::Overview,
                ),
                String,
            >,
        >,
    ),
    /// A write went through: the message to show.
    Written(String),
    /// Any failure, as words for the message line.
    Error(String),
}

impl Response {
    /// The kind of request this answers (`None`: a failure, which answers any).
    pub fn kind(&self) -> Option<RequestKind> {
        Some(match self {
            Response::Experiments(_) => RequestKind::Experiments,
            Response::Runs { .. } => RequestKind::Runs,
            Response::Count { .. } => RequestKind::Count,
            Response::Run(..) => RequestKind::Run,
            Response::RunsById(_) => RequestKind::RunsById,
            Response::Sparks(_) => RequestKind::Sparks,
            Response::Series { .. } => RequestKind::Series,
            Response::Log { .. } => RequestKind::Log,
            Response::Events(_) => RequestKind::Events,
            Response::Highlighted { .. } => RequestKind::Highlight,
            Response::Jobs(_) => RequestKind::Jobs,
            Response::Gpus { .. } => RequestKind::Gpus,
            Response::JobLog { .. } => RequestKind::JobLog,
            Response::RerunSource { .. } => RequestKind::RerunSource,
            Response::CheckRuns { .. } => RequestKind::CheckRuns,
            Response::CheckRun { .. } => RequestKind::CheckRun,
            Response::RunInputs { .. } => RequestKind::RunInputs,
            Response::Models(_) => RequestKind::Models,
            Response::Model(_) => RequestKind::Model,
            Response::PipelineStatus(_) => RequestKind::PipelineStatus,
            Response::Written(_) => RequestKind::Write,
            Response::Error(_) => return None,
        })
    }
}

/// One input of a run (the Inputs tab) with where its dataset version stands: its newest check
/// run and the results that block it (`store::checks_gate`, as `--require-checks` decides), or
/// why that could not be read.
#[derive(Debug, Clone, PartialEq)]
pub struct InputCheck {
    pub input: RunInput,
    pub gate: Result<Box<Gate>, String>,
}

/// An artifact as the Artifacts tab lists it, sorted by path; `local` is the copy in the
/// run's folder when there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct ArtifactEntry {
    pub path: String,
    pub size: Option<u64>,
    pub hash: Option<String>,
    pub local: Option<PathBuf>,
    /// Where a referenced artifact lives (a URI or path outside the store).
    pub location: Option<String>,
}

pub fn artifact_entries(d: &RunDetail) -> Vec<ArtifactEntry> {
    let run_dir = d.run_dir.as_ref().map(PathBuf::from);
    let base = run_dir.as_ref().map(|r| r.join("artifacts"));
    let mut out: Vec<ArtifactEntry> = d
        .artifacts
        .iter()
        .map(|a| ArtifactEntry {
            path: a.path.clone(),
            size: a.size,
            hash: a.hash.clone(),
            local: base
                .as_ref()
                .map(|b| b.join(&a.path))
                // Only files inside the run, never through a link planted there.
                .filter(|p| run_dir.as_ref().is_some_and(|r| open_in_run(r, p).is_ok())),
            location: a.location.clone(),
        })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Highlighted text, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum Highlighted {
    /// Asked for, not back yet.
    Pending,
    Text(Vec<ratatui::text::Line<'static>>),
    Binary,
    Unreadable(String),
}

/// How much of a file the preview reads.
pub const PREVIEW_BYTES: usize = 64 * 1024;

fn preview(
    store: &dyn Store,
    run_id: &str,
    path: &std::path::Path,
    theme: Option<&str>,
) -> Highlighted {
    use std::io::Read;
    let Some(run_dir) = store.run_dir(run_id) else {
        return Highlighted::Unreadable("this store keeps no files".into());
    };
    let mut buf = vec![0u8; PREVIEW_BYTES];
    let n = match open_in_run(&run_dir, path).and_then(|mut f| f.read(&mut buf)) {
        Ok(n) => n,
        Err(e) => return Highlighted::Unreadable(e.to_string()),
    };
    buf.truncate(n);
    if buf.contains(&0) {
        return Highlighted::Binary;
    }
    // A cut in the middle of a UTF-8 sequence at the end is not binary.
    let text = String::from_utf8_lossy(&buf);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    Highlighted::Text(super::widgets::highlight::highlight(&text, name, theme))
}

/// The largest log tail kept in memory; the start of longer logs is shown as cut.
pub const LOG_LIMIT: u64 = 8 * 1024 * 1024;

fn log_path(store: &dyn Store, run_id: &str) -> Option<PathBuf> {
    store.run_dir(run_id).map(|d| d.join("output.log"))
}

/// Reads a run's output from byte `from` (a growing log is read once, a piece at a time);
/// from the start (its last `LOG_LIMIT` bytes) when `from` is 0 or the file shrank. Stops
/// before a character cut in half, which the next read completes. Returns the text, the
/// offset reached and whether the text continues what was read before.
fn read_log(store: &dyn Store, run_id: &str, from: u64) -> (String, u64, bool) {
    use std::io::{Read, Seek, SeekFrom};
    let (Some(run_dir), Some(path)) = (store.run_dir(run_id), log_path(store, run_id)) else {
        return (String::new(), 0, false);
    };
    // A script under `kiroku run` may have replaced its log with a link: never follow it.
    let Ok(mut f) = open_in_run(&run_dir, &path) else {
        return (String::new(), 0, false);
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let appended = from > 0 && from <= len;
    let start = if appended {
        from
    } else {
        len.saturating_sub(LOG_LIMIT)
    };
    let mut buf = Vec::new();
    if f.seek(SeekFrom::Start(start)).is_err() || f.take(LOG_LIMIT).read_to_end(&mut buf).is_err() {
        return (String::new(), 0, false);
    }
    // Keep a multi-byte character split at the end for the next read.
    let keep = match std::str::from_utf8(&buf) {
        Ok(_) => buf.len(),
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        Err(_) => buf.len(),
    };
    buf.truncate(keep);
    let mut text = String::from_utf8_lossy(&buf).into_owned();
    if !appended && start > 0 {
        text = format!("[… first {start} bytes not shown]\n{text}");
    }
    (text, start + keep as u64, appended)
}

/// A page of `query` (uncounted). When `total`, the exact count, puts the window in the far
/// half of the result, it is read from the end instead (`RunQuery::reverse` with a small
/// offset) and turned round: SQLite then skips a few rows, not most of the store (`G` on
/// 100,000 runs). The rows are the same, since reversing the order is exact.
pub fn runs_window(
    store: &dyn Store,
    query: &RunQuery,
    total: Option<u64>,
) -> crate::error::Result<RunPage> {
    if let (Some(n), Some(limit), false) = (total, query.limit, query.reverse) {
        if query.offset >= n / 2 && query.offset < n {
            let end = query.offset.saturating_add(limit).min(n);
            let want = end - query.offset;
            let from_end = RunQuery {
                reverse: true,
                offset: n - end,
                limit: Some(want),
                ..query.clone()
            };
            let mut page = store.search_runs_uncounted(&from_end)?;
            if page.runs.len() as u64 == want {
                page.runs.reverse();
                page.total = n;
                return Ok(page);
            }
            // Fewer runs than counted (some went away meanwhile): read it forwards.
        }
    }
    store.search_runs_uncounted(query)
}

/// Runs one request against the store.
pub fn execute(store: &dyn Store, request: Request) -> Response {
    let result: crate::error::Result<Response> = (|| {
        Ok(match request {
            Request::Experiments => Response::Experiments(store.experiments(false)?),
            Request::Runs { seq, query, total } => Response::Runs {
                seq,
                page: runs_window(store, &query, total)?,
                query,
            },
            Request::Count { seq, query } => Response::Count {
                seq,
                total: store
                    .search_runs(&RunQuery {
                        limit: Some(1),
                        offset: 0,
                        ..query
                    })?
                    .total,
            },
            Request::Run { id } => {
                let detail = store.run(&id)?;
                let artifacts = artifact_entries(&detail);
                Response::Run(Box::new(detail), artifacts)
            }
            Request::RunsById { ids } => Response::RunsById(
                ids.iter()
                    .map(|id| store.run(id))
                    .collect::<crate::error::Result<Vec<_>>>()?,
            ),
            Request::Sparks { cells, buckets } => {
                let query = SeriesQuery {
                    buckets,
                    ..Default::default()
                };
                Response::Sparks(
                    cells
                        .into_iter()
                        .filter_map(|(run, key)| {
                            let series = store.metric_series_sampled(&run, &key, &query).ok()?;
                            Some((run, key, series))
                        })
                        .collect(),
                )
            }
            Request::Series {
                run_id,
                key,
                query,
                chart,
            } => Response::Series {
                series: store.metric_series_sampled(&run_id, &key, &query)?,
                run_id,
                chart,
            },
            Request::Log { run_id, from } => {
                let (text, end, appended) = read_log(store, &run_id, from);
                Response::Log {
                    run_id,
                    text,
                    end,
                    appended,
                }
            }
            Request::Events { limit } => Response::Events(store.events(&EventQuery {
                limit: Some(limit),
                ..Default::default()
            })?),
            Request::Highlight {
                run_id,
                key,
                text,
                lang,
                theme,
            } => Response::Highlighted {
                run_id,
                key,
                content: Highlighted::Text(super::widgets::highlight::highlight(
                    &text,
                    &lang,
                    theme.as_deref(),
                )),
            },
            Request::Preview {
                run_id,
                key,
                path,
                theme,
            } => Response::Highlighted {
                content: preview(store, &run_id, &path, theme.as_deref()),
                run_id,
                key,
            },
            Request::Jobs { query } => {
                // Whoever looks finds the jobs whose supervisor died (they then show `lost`);
                // a failed look is left for the next one, the list still comes.
                let _ = crate::jobs::lost::recover_lost_jobs(store);
                Response::Jobs(store.jobs(&query)?)
            }
            Request::Gpus => {
                let found = crate::jobs::gpus::discover_detailed();
                Response::Gpus {
                    gpus: found.gpus,
                    note: found.note,
                }
            }
            Request::JobLog { run_id, from } => {
                let (text, end, appended) = read_log(store, &run_id, from);
                Response::JobLog {
                    path: log_path(store, &run_id).map(|p| p.display().to_string()),
                    run_id,
                    text,
                    end,
                    appended,
                }
            }
            Request::RerunSource { run_id } => {
                let detail = store.run(&run_id)?;
                let job = match detail.run.tags.get(JOB_TAG) {
                    Some(id) => id.parse().ok().and_then(|id| store.job(id).ok()),
                    None => None,
                };
                Response::RerunSource {
                    detail: Box::new(detail),
                    job: job.map(Box::new),
                }
            }
            Request::CheckRuns { limit } => {
                let newest = |awaiting_review| CheckRunQuery {
                    awaiting_review,
                    limit: Some(limit),
                    ..Default::default()
                };
                Response::CheckRuns {
                    runs: store.check_runs(&newest(false))?,
                    awaiting: store
                        .check_runs(&newest(true))?
                        .into_iter()
                        .map(|r| r.id)
                        .collect(),
                }
            }
            Request::CheckRun { id } => Response::CheckRun {
                run: Box::new(store.check_run(id)?),
                reviews: store.reviews(id, None)?,
            },
            Request::RunInputs { run_id } => {
                let now = crate::model::now_ms();
                let inputs = store
                    .run_inputs(&run_id)?
                    .into_iter()
                    .map(|input| {
                        let gate = store
                            .dataset_version(&input.version_id)
                            .and_then(|v| crate::store::checks_gate::version_gate(store, v, now))
                            .map(Box::new)
                            .map_err(|e| e.to_string());
                        InputCheck { input, gate }
                    })
                    .collect();
                Response::RunInputs { run_id, inputs }
            }
            Request::Models => Response::Models(
                store
                    .search_registered_models(&crate::model::registry::RegistrySearch {
                        max_results: Some(1000),
                        ..Default::default()
                    })?
                    .models,
            ),
            Request::Model { name, config } => {
                let settings = crate::models::settings::model_settings(&config, None, &name)?;
                Response::Model(Box::new(crate::models::overview::model_view(
                    store,
                    &settings,
                    &name,
                    None,
                    crate::model::now_ms(),
                )?))
            }
            Request::PipelineStatus { root } => Response::PipelineStatus(Box::new(
                crate::pipelines::snapshot(&root)
                    .map(|snapshot| {
                        let overview =
                            crate::pipelines::overview::overview(store, &snapshot.pipeline)
                                .unwrap_or_default();
                        (snapshot, overview)
                    })
                    .map_err(|e| e.to_string()),
            )),
            Request::Write(w) => Response::Written(write(store, w)?),
        })
    })();
    result.unwrap_or_else(|e| Response::Error(e.to_string()))
}

fn write(store: &dyn Store, w: Write) -> crate::error::Result<String> {
    Ok(match w {
        Write::Note { run_id, note } => {
            let n = store.add_note(&run_id, &note)?;
            format!("note #{} saved on {}", n.id, crate::ids::short(&run_id))
        }
        Write::Star { run_id, user, on } => {
            store.set_star(&run_id, &user, on)?;
            format!(
                "{} {}",
                if on { "starred" } else { "unstarred" },
                crate::ids::short(&run_id)
            )
        }
        Write::Tags {
            run_ids,
            set,
            remove,
            user,
        } => {
            for run_id in &run_ids {
                if !set.is_empty() {
                    store.set_tags(run_id, &set, &user)?;
                }
                if !remove.is_empty() {
                    store.remove_tags(run_id, &remove, &user)?;
                }
            }
            let what: Vec<String> = set
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .chain(remove.iter().map(|k| format!("-{k}")))
                .collect();
            let ids: Vec<String> = run_ids
                .iter()
                .map(|id| crate::ids::short(id).to_string())
                .collect();
            format!(
                "tags {} on {}",
                what.join(" "),
                crate::present::runs_named(&ids)
            )
        }
        Write::Delete {
            run_ids,
            deleted,
            user,
        } => {
            for id in &run_ids {
                store.set_deleted(id, deleted, &user)?;
            }
            let ids: Vec<String> = run_ids
                .iter()
                .map(|id| crate::ids::short(id).to_string())
                .collect();
            format!(
                "{} {}",
                if deleted { "deleted" } else { "restored" },
                crate::present::runs_named(&ids)
            )
        }
        Write::SubmitJob { job, context } => {
            let job = submit_job(store, &context, *job)?;
            format!("queued job {} ({}) on {}", job.id, job.name, job.target)
        }
        Write::CancelJob { id, user } => {
            let job = crate::jobs::cancel::cancel_job(store, id, &user)?;
            match job.status {
                crate::model::JobStatus::Cancelled => format!("cancelled job {id}"),
                s if s.is_terminal() => format!("job {id} had already ended ({s})"),
                _ => format!("asked job {id} to stop"),
            }
        }
        Write::RetryJob {
            id,
            user,
            host,
            context,
        } => {
            let old = store.job(id)?;
            let job = submit_job(
                store,
                &context,
                crate::jobs::submit::retry_of(&old, &user, &host),
            )?;
            format!("queued job {}, a retry of job {id}", job.id)
        }
        Write::Review(review) => {
            let r = store.add_review(&review)?;
            format!(
                "{} {}/{} ({})",
                r.review.verdict, r.review.check_run, r.review.result_id, r.status_reviewed
            )
        }
        Write::Promote {
            model,
            alias,
            version,
            force,
            who,
        } => {
            let settings =
                crate::models::settings::model_settings(&who.context.config, None, &model)?;
            let submitter = model_submitter(store, &who);
            let done = crate::models::promote::promote(
                &submitter, &settings, &model, &alias, version, "", force,
            )?;
            match done.moved {
                Some(step) => format!(
                    "{model}@{alias} → {version}{}",
                    if step.forced { " (forced)" } else { "" }
                ),
                None => {
                    return Err(crate::error::KirokuError::Invalid(
                        done.verdict
                            .refusal(&model)
                            .unwrap_or_default()
                            .replace('\n', " "),
                    ))
                }
            }
        }
        Write::Rollback { model, alias, who } => {
            let settings =
                crate::models::settings::model_settings(&who.context.config, None, &model)?;
            let submitter = model_submitter(store, &who);
            let (step, _) =
                crate::models::promote::rollback(&submitter, &settings, &model, &alias, "")?;
            format!(
                "{model}@{alias} rolled back to {}",
                step.to_version.map_or("none".into(), |v| v.to_string())
            )
        }
        Write::Approval(approval) => {
            let a = store.add_approval(&approval)?;
            format!(
                "{} {}/{} by {}",
                a.approval.verdict, a.approval.model, a.approval.version, a.approval.reviewer
            )
        }
    })
}

/// What promoting or rolling back from the UI submits hook jobs as.
fn model_submitter<'a>(store: &'a dyn Store, who: &ModelActor) -> crate::models::Submitter<'a> {
    crate::models::Submitter {
        store,
        config: who.context.config.clone(),
        store_location: who.context.store_location.clone(),
        user: who.user.clone(),
        host: who.host.clone(),
        workdir: crate::models::workdir_for(&who.context.store_location),
        queue_directly: false,
        server_url: None,
        job_tokens: None,
    }
}

/// Queues `job` on its target (checked against the configuration first), as `kiroku submit`.
fn submit_job(
    store: &dyn Store,
    context: &JobsContext,
    mut job: NewJob,
) -> crate::error::Result<Job> {
    let target = crate::jobs::targets::resolve(&context.config, Some(&job.target))?;
    job.target = target.name;
    crate::jobs::submit::submit(|| Ok(store), &context.config, &context.store_location, &job)
}

/// Keeps the newest query per kind and every write, in arrival order.
pub fn coalesce(batch: Vec<Request>) -> Vec<Request> {
    let mut out: Vec<Request> = Vec::new();
    for r in batch {
        if let Some(key) = r.coalesce_key() {
            out.retain(|o| o.coalesce_key().as_ref() != Some(&key));
        }
        out.push(r);
    }
    out
}

/// Starts the worker thread. `on_result` is called with each response (it sends to the
/// event loop); `pending` counts requests not yet answered (for the spinner).
pub fn spawn(
    store: Arc<dyn Store>,
    requests: Receiver<Request>,
    on_result: impl Fn(Response) + Send + 'static,
) {
    std::thread::Builder::new()
        .name("kiroku-store".into())
        .spawn(move || {
            while let Ok(first) = requests.recv() {
                let mut batch = vec![first];
                batch.extend(requests.try_iter());
                for r in coalesce(batch) {
                    on_result(execute(store.as_ref(), r));
                }
            }
        })
        .expect("spawning the store thread");
}

/// What the watcher follows besides the store: a log file that grows while a run runs.
pub type WatchedFile = Arc<Mutex<Option<PathBuf>>>;

/// How often the version is polled when the store folder cannot be watched (a remote store,
/// or inotify unavailable), and the followed log file always.
pub const POLL: Duration = Duration::from_millis(400);
/// With file-system events for the store folder, polling is only a safety net.
pub const POLL_WITH_EVENTS: Duration = Duration::from_secs(3);

/// Watches for changes and calls `on_change(store_changed, file_changed)`; it stops when that
/// returns false. File-system events on `store_dir` (notify: inotify on Linux) wake it at once;
/// without them `store.version()` is polled. The version decides either way (one indexed
/// read), so our own reads never count as changes and an idle UI stays idle.
pub fn spawn_watcher(
    store: Arc<dyn Store>,
    store_dir: Option<PathBuf>,
    file: WatchedFile,
    on_change: impl Fn(bool, bool) -> bool + Send + 'static,
) {
    std::thread::Builder::new()
        .name("kiroku-watch".into())
        .spawn(move || {
            // A remote store has no folder to watch: its server pushes changes (long poll).
            let remote = store_dir.is_none();
            let (wake_tx, wake) = std::sync::mpsc::channel::<()>();
            // Kept alive for the thread's life; None when the folder cannot be watched.
            let _watcher = store_dir.and_then(|dir| {
                use notify::Watcher;
                let mut w =
                    notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
                        if ev.is_ok_and(|e| !e.kind.is_access()) {
                            let _ = wake_tx.send(());
                        }
                    })
                    .ok()?;
                w.watch(&dir, notify::RecursiveMode::NonRecursive).ok()?;
                Some(w)
            });
            let mut last_version = store.version().ok();
            let mut last_file: Option<(PathBuf, u64)> = None;
            let mut last_lost_check: Option<std::time::Instant> = None;
            loop {
                if last_lost_check.is_none_or(|t| t.elapsed() >= LOST_RUN_CHECK_EVERY) {
                    // A recovery changes the store's version, which the code below notices.
                    // Errors are left for the next look (nothing may print over the screen).
                    let _ = crate::supervise::recover_lost_runs(store.as_ref());
                    let _ = crate::jobs::lost::recover_lost_jobs(store.as_ref());
                    last_lost_check = Some(std::time::Instant::now());
                }
                let following = file.lock().ok().is_some_and(|g| g.is_some());
                let timeout = if _watcher.is_some() && !following {
                    POLL_WITH_EVENTS
                } else {
                    POLL
                };
                let version = match last_version {
                    // One request per change while no log file needs watching too.
                    Some(since) if remote && !following => {
                        store.watch(since, POLL_WITH_EVENTS).ok().or_else(|| {
                            // The server is unreachable: back off, then ask again.
                            std::thread::sleep(POLL);
                            None
                        })
                    }
                    _ => {
                        if let Ok(()) = wake.recv_timeout(timeout) {
                            // A write comes as a burst of events: let it settle, then look once.
                            std::thread::sleep(Duration::from_millis(30));
                            while wake.try_recv().is_ok() {}
                        }
                        store.version().ok()
                    }
                };
                let store_changed = version.is_some() && version != last_version;
                last_version = version;
                let watched = file.lock().ok().and_then(|g| g.clone());
                let file_state = watched.map(|p| {
                    // The log itself, never what a link planted in its place points at.
                    let len = std::fs::symlink_metadata(&p).map(|m| m.len()).unwrap_or(0);
                    (p, len)
                });
                let file_changed = file_state.is_some()
                    && last_file.is_some()
                    && file_state != last_file
                    && file_state.as_ref().map(|f| &f.0) == last_file.as_ref().map(|f| &f.0);
                last_file = file_state;
                if store_changed || file_changed {
                    if !on_change(store_changed, file_changed) {
                        return;
                    }
                    // A run logging every few milliseconds must not make the UI requery as
                    // often: at most four looks a second, still well within one second.
                    std::thread::sleep(MIN_GAP);
                }
            }
        })
        .expect("spawning the watch thread");
}

/// How often the watcher looks for runs whose supervisor died (it wakes at least every
/// `POLL_WITH_EVENTS`; one small query of the running supervised runs per look).
pub const LOST_RUN_CHECK_EVERY: Duration = Duration::from_secs(2);

/// The least time between two change notices.
pub const MIN_GAP: Duration = Duration::from_millis(250);

/// The output log of a run, when the store is local.
pub fn run_log_path(store: &dyn Store, run_id: &str) -> Option<PathBuf> {
    log_path(store, run_id)
}

/// Carries out `effects` in this thread, feeding each answer back through `update`, until
/// nothing is left (tests and benchmarks: the same path as the loop, without threads). UI
/// state is not saved and no file is watched.
pub fn settle(state: &mut super::app::State, store: &dyn Store, effects: Vec<super::app::Effect>) {
    use super::app::{update, Action, Effect};
    let mut queue: std::collections::VecDeque<Effect> = effects.into();
    while let Some(e) = queue.pop_front() {
        if let Effect::Request(r) = e {
            let resp = execute(store, r);
            queue.extend(update(state, Action::Store(resp)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::prelude::*;

    #[test]
    fn newest_query_wins_and_writes_stay() {
        let runs = |seq| Request::Runs {
            seq,
            query: RunQuery::default(),
            total: None,
        };
        let star = Request::Write(Write::Star {
            run_id: "a".into(),
            user: "u".into(),
            on: true,
        });
        let out = coalesce(vec![
            runs(1),
            star.clone(),
            runs(2),
            Request::Experiments,
            runs(3),
        ]);
        assert_eq!(out, vec![star, Request::Experiments, runs(3)]);
    }

    #[test]
    fn a_run_chart_keeps_one_series_per_metric_and_compare_one_per_run_and_metric() {
        let series = |run_id: &str, key: &str, chart| Request::Series {
            run_id: run_id.into(),
            key: key.into(),
            query: SeriesQuery {
                buckets: 10,
                x: crate::series::XAxis::Step,
                x_min: None,
                x_max: None,
            },
            chart,
        };
        let out = coalesce(vec![
            series("a", "loss", Chart::Run),
            series("b", "loss", Chart::Run),
            series("a", "acc", Chart::Run),
            series("a", "loss", Chart::Compare),
            series("b", "loss", Chart::Compare),
        ]);
        assert_eq!(
            out,
            vec![
                series("b", "loss", Chart::Run),
                series("a", "acc", Chart::Run),
                series("a", "loss", Chart::Compare),
                series("b", "loss", Chart::Compare),
            ]
        );
        assert_eq!(out[0].kind(), RequestKind::Series);
    }

    #[test]
    fn links_planted_in_a_run_folder_are_not_previewed_or_read_as_its_log() {
        use std::os::unix::fs::symlink;
        let tmp = tempfile::tempdir().unwrap();
        let store = crate::store::SqliteStore::open(&tmp.path().join(".kiroku"), false).unwrap();
        let run = store
            .create_run(&crate::model::NewRun {
                experiment: "e".into(),
                user: "u".into(),
                ..Default::default()
            })
            .unwrap();
        let secret = tmp.path().join("secret");
        std::fs::write(&secret, "top secret").unwrap();
        let run_dir = store.run_dir(&run.id).unwrap();
        std::fs::create_dir_all(run_dir.join("artifacts")).unwrap();
        symlink(&secret, run_dir.join("output.log")).unwrap();
        symlink(&secret, run_dir.join("artifacts/pw")).unwrap();
        std::fs::write(run_dir.join("artifacts/real.txt"), "mine").unwrap();
        for path in ["pw", "real.txt"] {
            let artifact = crate::model::Artifact {
                path: path.into(),
                size: None,
                hash: None,
                stored: "copied".into(),
                location: None,
            };
            store.add_artifact(&run.id, &artifact).unwrap();
        }
        assert_eq!(read_log(&store, &run.id, 0).0, "");
        let entries = artifact_entries(&store.run(&run.id).unwrap());
        let local: Vec<_> = entries
            .iter()
            .map(|e| (e.path.as_str(), e.local.is_some()))
            .collect();
        assert_eq!(local, [("pw", false), ("real.txt", true)]);
        let planted = run_dir.join("artifacts/pw");
        assert!(matches!(
            preview(&store, &run.id, &planted, None),
            Highlighted::Unreadable(_)
        ));
    }
}
