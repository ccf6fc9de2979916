//! The Jobs screen (`J`): the job queue per target (running, queued, ended), this box's GPUs
//! with the job booked on each, and a live tail of the selected job's output. `enter` opens a
//! job's run, `x`/`d` cancels and `R` retries (both ask first, naming the job), `n` opens the
//! launch form (`launch`), `t` shows one target at a time.
//!
//! Live like the runs table: a store change (the watcher's version check) asks for the jobs
//! again, and asking looks for lost jobs first (`worker`, `jobs::lost`). The GPUs are looked
//! up every few seconds, and only while this screen is shown (`on_tick`). Drawing is in
//! `draw`.
mod draw;

use super::confirm::Confirm;
use super::overlays::Overlay;
use super::{is_motion, move_cursor, Screen, ScreenBehaviour};
use crate::jobs::gpu_holders;
use crate::jobs::gpus::GpuInfo;
use crate::model::{Job, JobId, JobQuery, JobStatus, Millis};
use crate::tui::app::{contains, Effect, State};
use crate::tui::keymap::Cmd;
use crate::tui::worker::{JobsContext, Request, Response};
use ratatui::layout::Rect;
use ratatui::Frame;
use std::time::Duration;

/// How often the GPU panel is refreshed while the screen is shown (ms).
pub const GPU_REFRESH_MS: Millis = 3000;
/// The most jobs listed (newest first).
pub const JOB_LIMIT: usize = 500;

/// What the Jobs screen keeps between visits.
#[derive(Debug, Clone, Default)]
pub struct JobsView {
    /// The queue as the store answered it (newest first; every target).
    pub jobs: Vec<Job>,
    /// The selected job (kept across refreshes, whatever its row becomes).
    pub selected: Option<JobId>,
    /// Only this target's jobs (None: all).
    pub target: Option<String>,
    pub loaded: bool,
    /// The GPUs as last discovered (None: not looked yet).
    pub gpus: Option<GpuPanel>,
    /// When the GPUs were last asked for.
    pub gpus_asked_at: Option<Millis>,
    /// The selected job's output.
    pub log: Option<JobLog>,
    /// Targets and the store's location, for the launch form and submitting.
    pub context: JobsContext,
}

/// The GPU panel's content.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GpuPanel {
    pub gpus: Vec<GpuInfo>,
    /// Why there are none, when discovery said.
    pub note: Option<String>,
}

/// The tail of a job's run output.
#[derive(Debug, Clone, PartialEq)]
pub struct JobLog {
    pub run_id: String,
    /// None until the first answer.
    pub text: Option<String>,
    /// The file offset read up to.
    pub end: u64,
}

/// The three groups the queue is shown in, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum JobGroup {
    Running,
    Queued,
    Ended,
}

impl JobGroup {
    pub fn of(status: JobStatus) -> JobGroup {
        match status {
            JobStatus::Starting | JobStatus::Running => JobGroup::Running,
            JobStatus::Queued => JobGroup::Queued,
            _ => JobGroup::Ended,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            JobGroup::Running => "running",
            JobGroup::Queued => "queued",
            JobGroup::Ended => "ended",
        }
    }
}

impl JobsView {
    /// The jobs shown, in display order: running, then queued (next to start first), then
    /// ended (newest first); only the chosen target's.
    pub fn rows(&self) -> Vec<&Job> {
        let mut rows: Vec<&Job> = self
            .jobs
            .iter()
            .filter(|j| self.target.as_ref().is_none_or(|t| &j.target == t))
            .collect();
        rows.sort_by(|a, b| {
            let (ga, gb) = (JobGroup::of(a.status), JobGroup::of(b.status));
            ga.cmp(&gb).then(match ga {
                JobGroup::Queued => a.id.cmp(&b.id),
                _ => b.id.cmp(&a.id),
            })
        });
        rows
    }

    /// The selected row's index (the first row when the selected job is not shown).
    pub fn cursor(&self) -> usize {
        let rows = self.rows();
        self.selected
            .and_then(|id| rows.iter().position(|j| j.id == id))
            .unwrap_or(0)
    }

    /// The selected job, if any is shown.
    pub fn selected_job(&self) -> Option<&Job> {
        self.rows().get(self.cursor()).copied()
    }

    /// The targets to cycle through: the configured ones, `local`, and any a job names.
    pub fn target_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.context.config.targets.keys().cloned().collect();
        names.push(crate::jobs::targets::LOCAL.to_string());
        names.extend(self.jobs.iter().map(|j| j.target.clone()));
        names.sort();
        names.dedup();
        names
    }

    /// The kiroku job booked on GPU `index` of this box (`host`).
    pub fn holder(&self, index: u32, host: &str) -> Option<&Job> {
        gpu_holders::jobs_on(&self.jobs, &self.context.config, host, index)
            .into_iter()
            .next()
    }

    /// GPU indexes local targets list (`gpus = [0, 1]`) that discovery did not find: the
    /// panel shows them too, with the job booked on each.
    pub fn listed_not_found(&self) -> Vec<u32> {
        let found = self.gpus.as_ref().map_or(&[][..], |p| p.gpus.as_slice());
        gpu_holders::listed_not_found(&self.context.config, found)
    }

    pub fn count(&self, group: JobGroup) -> usize {
        self.rows()
            .iter()
            .filter(|j| JobGroup::of(j.status) == group)
            .count()
    }
}

/// A status as a glyph (or text for mono themes) with its role, coloured like run statuses.
pub fn job_status_glyph(status: JobStatus, text: bool) -> (&'static str, &'static str) {
    let role = match status {
        JobStatus::Queued => "status.queued",
        JobStatus::Starting | JobStatus::Running => "status.running",
        JobStatus::Finished => "status.finished",
        JobStatus::Failed | JobStatus::Timeout => "status.failed",
        JobStatus::Killed | JobStatus::Cancelled => "status.killed",
        JobStatus::Lost => "status.lost",
    };
    let glyph = match (status, text) {
        (JobStatus::Queued, false) => "◌",
        (JobStatus::Starting, false) => "◐",
        (JobStatus::Running, false) => "●",
        (JobStatus::Finished, false) => "✔",
        (JobStatus::Failed, false) => "✘",
        (JobStatus::Timeout, false) => "✘",
        (JobStatus::Killed | JobStatus::Cancelled, false) => "⊘",
        (JobStatus::Lost, false) => "?",
        (JobStatus::Queued, true) => "wait",
        (JobStatus::Starting, true) => "strt",
        (JobStatus::Running, true) => "run",
        (JobStatus::Finished, true) => "ok",
        (JobStatus::Failed, true) => "FAIL",
        (JobStatus::Timeout, true) => "TIME",
        (JobStatus::Killed, true) => "kill",
        (JobStatus::Cancelled, true) => "cncl",
        (JobStatus::Lost, true) => "lost",
    };
    (glyph, role)
}

/// How long the job has waited (queued), run so far (running, live) or ran (ended).
pub fn elapsed(job: &Job, now: Millis) -> Millis {
    match (job.started_at, job.ended_at) {
        (Some(s), Some(e)) => e - s,
        (Some(s), None) => now - s,
        (None, Some(e)) => e - job.queued_at,
        (None, None) => now - job.queued_at,
    }
}

/// Opens the Jobs screen: the queue, the GPUs, the selected job's log.
pub fn open(state: &mut State) -> Vec<Effect> {
    state.go(Screen::Jobs);
    let mut out = vec![state.request(jobs_request())];
    out.extend(ask_gpus(state));
    out.extend(sync_log(state));
    out
}

pub(crate) fn jobs_request() -> Request {
    Request::Jobs {
        query: JobQuery {
            limit: Some(JOB_LIMIT),
            ..Default::default()
        },
    }
}

/// Asks for the GPUs (quietly: no spinner every few seconds).
fn ask_gpus(state: &mut State) -> Vec<Effect> {
    state.jobs.gpus_asked_at = Some(state.now);
    vec![Effect::Request(Request::Gpus)]
}

/// Follows the selected job's output: asks for it when the selection (or its run) changed,
/// and stops following when there is nothing to follow.
fn sync_log(state: &mut State) -> Vec<Effect> {
    let want = state.jobs.selected_job().and_then(|j| j.run_id.clone());
    let have = state.jobs.log.as_ref().map(|l| l.run_id.clone());
    if want == have {
        return vec![];
    }
    match want {
        Some(run_id) => {
            state.jobs.log = Some(JobLog {
                run_id: run_id.clone(),
                text: None,
                end: 0,
            });
            vec![Effect::Request(Request::JobLog { run_id, from: 0 })]
        }
        None => {
            state.jobs.log = None;
            vec![Effect::WatchFile(None)]
        }
    }
}

/// The selected job, or a message saying there is none.
fn selected_or_say(state: &mut State) -> Option<Job> {
    let job = state.jobs.selected_job().cloned();
    if job.is_none() {
        state.info("no job selected");
    }
    job
}

pub struct JobsScreen;

impl ScreenBehaviour for JobsScreen {
    fn section(&self) -> &'static str {
        "jobs"
    }

    fn header(&self, state: &State) -> String {
        let v = &state.jobs;
        format!(
            "jobs · {} · {} running · {} queued",
            match &v.target {
                Some(t) => format!("target {t}"),
                None => "all targets".into(),
            },
            v.count(JobGroup::Running),
            v.count(JobGroup::Queued)
        )
    }

    fn hints(&self) -> &'static [(Cmd, &'static str)] {
        &[
            (Cmd::Open, "open run"),
            (Cmd::Launch, "launch"),
            (Cmd::CancelJob, "cancel"),
            (Cmd::RetryJob, "retry"),
            (Cmd::NextTarget, "target"),
            (Cmd::Back, "back"),
            (Cmd::Palette, "command"),
            (Cmd::Quit, "quit"),
        ]
    }

    fn update(&self, state: &mut State, cmd: Cmd) -> Vec<Effect> {
        match cmd {
            c if is_motion(c) => {
                let rows: Vec<JobId> = state.jobs.rows().iter().map(|j| j.id).collect();
                let at = move_cursor(state.jobs.cursor(), rows.len(), c, 10);
                state.jobs.selected = rows.get(at).copied();
                sync_log(state)
            }
            Cmd::Open => match selected_or_say(state) {
                Some(Job {
                    run_id: Some(run), ..
                }) => state.open_run(run),
                Some(job) => {
                    state.info(format!("job {} has no run yet ({})", job.id, job.status));
                    vec![]
                }
                None => vec![],
            },
            Cmd::CancelJob => {
                if let Some(job) = selected_or_say(state) {
                    if job.status.is_terminal() {
                        state.info(format!("job {} has ended ({})", job.id, job.status));
                    } else {
                        state.overlay = Some(Overlay::Confirm(Confirm::CancelJob {
                            id: job.id,
                            name: job.name,
                        }));
                    }
                }
                vec![]
            }
            Cmd::RetryJob => {
                if let Some(job) = selected_or_say(state) {
                    state.overlay = Some(Overlay::Confirm(Confirm::RetryJob {
                        id: job.id,
                        name: job.name,
                    }));
                }
                vec![]
            }
            Cmd::NextTarget => {
                let names = state.jobs.target_names();
                state.jobs.target = match &state.jobs.target {
                    None => names.first().cloned(),
                    Some(t) => names
                        .iter()
                        .position(|n| n == t)
                        .and_then(|i| names.get(i + 1))
                        .cloned(),
                };
                state.jobs.selected = state.jobs.rows().first().map(|j| j.id);
                sync_log(state)
            }
            Cmd::Launch => {
                super::launch::open_empty(state);
                vec![]
            }
            _ => vec![],
        }
    }

    /// A job row selects it; a second click opens its run.
    fn on_click(&self, state: &mut State, x: u16, y: u16) -> Vec<Effect> {
        let Some((r, _)) = state.areas.list else {
            return vec![];
        };
        if !contains(r, x, y) {
            return vec![];
        }
        let Some(id) = state
            .areas
            .job_lines
            .get((y - r.y) as usize)
            .copied()
            .flatten()
        else {
            return vec![];
        };
        if state.jobs.selected == Some(id) {
            return self.update(state, Cmd::Open);
        }
        state.jobs.selected = Some(id);
        sync_log(state)
    }

    fn on_response(&self, state: &mut State, resp: Response) -> Result<Vec<Effect>, Response> {
        match resp {
            Response::Jobs(jobs) => {
                state.jobs.jobs = jobs;
                state.jobs.loaded = true;
                if state.jobs.selected_job().map(|j| j.id) != state.jobs.selected {
                    state.jobs.selected = state.jobs.rows().first().map(|j| j.id);
                }
                if state.screen == Screen::Jobs {
                    return Ok(sync_log(state));
                }
            }
            Response::Gpus { gpus, note } => state.jobs.gpus = Some(GpuPanel { gpus, note }),
            // The run `R` asked for (from any screen): the launch form opens filled from it.
            Response::RerunSource { detail, job } => {
                super::launch::open_prefilled(state, &detail, job.as_deref());
            }
            Response::JobLog {
                run_id,
                text,
                end,
                appended,
                path,
            } => {
                let active = state
                    .jobs
                    .selected_job()
                    .is_some_and(|j| !j.status.is_terminal());
                let Some(log) = state.jobs.log.as_mut().filter(|l| l.run_id == run_id) else {
                    return Ok(vec![]);
                };
                super::run::log::merge_log(&mut log.text, text, appended);
                log.end = end;
                if state.screen == Screen::Jobs {
                    return Ok(vec![Effect::WatchFile(path.filter(|_| active))]);
                }
            }
            other => return Err(other),
        }
        Ok(vec![])
    }

    fn on_change(&self, state: &mut State, store: bool, file: bool) -> Vec<Effect> {
        let shown = state.screen == Screen::Jobs;
        let mut out = Vec::new();
        // Always: the runs sidebar counts what runs and waits.
        if store {
            out.push(Effect::Request(jobs_request()));
        }
        if shown && (store || file) {
            if let Some(log) = &state.jobs.log {
                // Only what was written since the last read.
                out.push(Effect::Request(Request::JobLog {
                    run_id: log.run_id.clone(),
                    from: log.end,
                }));
            }
        }
        out
    }

    /// Back on the Jobs screen: the selected job's log is followed again.
    fn on_return(&self, state: &mut State) -> Vec<Effect> {
        state.jobs.log = None;
        let mut out = sync_log(state);
        out.extend(ask_gpus(state));
        out
    }

    /// Each second while shown: the elapsed times move; every few seconds the GPUs are asked
    /// for again.
    fn tick_every(&self, _state: &State) -> Option<Duration> {
        Some(Duration::from_secs(1))
    }

    fn on_tick(&self, state: &mut State) -> Vec<Effect> {
        match state.jobs.gpus_asked_at {
            Some(t) if state.now - t < GPU_REFRESH_MS => vec![],
            _ => ask_gpus(state),
        }
    }

    /// Run-level commands (star, tag, note) act on the selected job's run.
    fn targets(&self, state: &State) -> Vec<String> {
        state
            .jobs
            .selected_job()
            .and_then(|j| j.run_id.clone())
            .into_iter()
            .collect()
    }

    fn draw(&self, frame: &mut Frame, area: Rect, state: &mut State) {
        draw::draw(frame, area, state);
    }
}

#[cfg(test)]
mod tests;
