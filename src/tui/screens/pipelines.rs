//! The Pipelines screen (`P`, `:pipelines`): the stages of the `dvc.yaml` nearest the working
//! folder as an indented tree (upstream first, a stage reached twice shown once more as
//! `(above)`), each with its state — fresh, stale and the first reason why, frozen, running,
//! failed, restored from cache — and beside (or below) it the selected stage's command, paths,
//! params, kiroku settings and every reason, then its latest run from the store (id, status,
//! duration, metrics; restored from which run), its outputs as `dvc.lock` records them (size,
//! hash, whether the store's cache holds them) and the tail of its log. `r` runs the selected stage and `f` forces it: both start
//! `kiroku repro STAGE [-f]` in the background (its output discarded: the stage's run is in the
//! store) and the statuses are read again when it ends.
//!
//! The statuses are computed by the worker (`Request::PipelineStatus`: hashing may read files),
//! with the same rules as `kiroku status`; the runs and outputs are `pipelines::overview`'s.
use super::{block, fit, is_motion, move_cursor, Screen, ScreenBehaviour};
use crate::model::RunStatus;
use crate::pipelines::overview::{Overview, StageRun};
use crate::pipelines::{Snapshot, Stage, StageState, StageStatus};
use crate::present::pipelines::{reason_lines, state_word, tree_rows, TreeRow};
use crate::tui::app::{Effect, State};
use crate::tui::keymap::Cmd;
use crate::tui::worker::{Request, Response};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// From this width on, the tree sits beside the details.
const SIDE_BY_SIDE_W: u16 = 110;

/// A `kiroku repro` this screen started.
pub struct Started {
    pub stage: String,
    pub child: Child,
}

#[derive(Default)]
pub struct PipelinesView {
    /// The pipeline's folder; None: found from the working folder when the screen opens.
    pub root: Option<PathBuf>,
    /// The last answer: the pipeline with its statuses, or why it could not be read.
    pub snapshot: Option<Result<Snapshot, String>>,
    /// The selected line of the tree.
    pub cursor: usize,
    /// Stages being run from here.
    pub started: Vec<Started>,
    /// Stages whose last run from here failed (cleared when one succeeds).
    pub failed: Vec<String>,
    /// What the store knows of the stages: latest runs, logs, cached outputs.
    pub overview: Overview,
}

impl PipelinesView {
    /// The tree's lines (empty until read).
    pub fn rows(&self) -> Vec<TreeRow> {
        match &self.snapshot {
            Some(Ok(s)) => tree_rows(&s.dag, s.dag.order()),
            _ => Vec::new(),
        }
    }

    /// The selected stage with its status.
    pub fn selected(&self) -> Option<(&Stage, &StageStatus)> {
        let Some(Ok(s)) = &self.snapshot else {
            return None;
        };
        let row = self.rows().get(self.cursor)?.stage;
        Some((&s.pipeline.stages[row], &s.statuses[row]))
    }

    fn is_running(&self, stage: &str) -> bool {
        self.started.iter().any(|s| s.stage == stage)
    }

    /// The stage's latest run in the store.
    pub fn latest_run(&self, stage: &str) -> Option<&StageRun> {
        self.overview.runs.get(stage)
    }

    /// How a stage stands, in a word, and its role in the theme: running (from here or its
    /// latest run), failed (from here, or its latest run while it is stale), restored from
    /// cache (fresh, and its latest run was restored), else its status.
    pub fn label(&self, status: &StageStatus) -> (String, &'static str) {
        let latest = self.latest_run(&status.name);
        let latest_status = latest.map(|r| r.run.status);
        if self.is_running(&status.name) || latest_status == Some(RunStatus::Running) {
            return ("running".into(), "status.running");
        }
        let stale = matches!(status.state, StageState::Stale(_));
        if self.failed.contains(&status.name) || (stale && latest_status == Some(RunStatus::Failed))
        {
            return ("failed".into(), "status.failed");
        }
        if status.state == StageState::Fresh && latest.is_some_and(|r| r.restored) {
            return ("restored from cache".into(), "status.finished");
        }
        let role = match status.state {
            StageState::Fresh => "status.finished",
            StageState::Stale(_) => "status.killed",
            StageState::Frozen(_) => "status.lost",
        };
        let mut word = state_word(&status.state).to_string();
        if let Some(first) = reason_lines(&status.state).first() {
            word = format!("{word}: {first}");
        }
        (word, role)
    }
}

fn status_request(state: &mut State) -> Vec<Effect> {
    let root = match &state.pipelines.root {
        Some(root) => root.clone(),
        None => match std::env::current_dir()
            .map_err(|e| e.to_string())
            .and_then(|cwd| crate::pipelines::find_root(&cwd).map_err(|e| e.to_string()))
        {
            Ok(root) => {
                state.pipelines.root = Some(root.clone());
                root
            }
            Err(e) => {
                state.pipelines.snapshot = Some(Err(e));
                return vec![];
            }
        },
    };
    vec![state.request(Request::PipelineStatus { root })]
}

/// Opens the Pipelines screen.
pub fn open(state: &mut State) -> Vec<Effect> {
    state.go(Screen::Pipelines);
    status_request(state)
}

/// The kiroku binary to start `repro` with: this program, when it is kiroku (not a test).
fn kiroku_program() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let name = exe.file_name()?.to_str()?;
    (name == "kiroku").then_some(exe)
}

/// Starts `kiroku repro STAGE [-f]` in the pipeline's folder, in the background.
fn run_selected(state: &mut State, force: bool) -> Vec<Effect> {
    let Some((stage, _)) = state.pipelines.selected() else {
        state.info("no stage selected");
        return vec![];
    };
    let name = stage.name.clone();
    if state.pipelines.is_running(&name) {
        state.info(format!("{name} is already running"));
        return vec![];
    }
    let (Some(root), Some(program)) = (state.pipelines.root.clone(), kiroku_program()) else {
        state.error("cannot start kiroku repro from here");
        return vec![];
    };
    let mut cmd = Command::new(program);
    cmd.arg("repro").arg(&name);
    if force {
        cmd.arg("-f");
    }
    let started = cmd
        .current_dir(&root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match started {
        Ok(child) => {
            state.pipelines.failed.retain(|s| *s != name);
            state.pipelines.started.push(Started {
                stage: name.clone(),
                child,
            });
            let how = if force {
                "kiroku repro -f"
            } else {
                "kiroku repro"
            };
            state.info(format!("{how} {name} started"));
        }
        Err(e) => state.error(format!("starting kiroku repro {name}: {e}")),
    }
    vec![]
}

pub struct PipelinesScreen;

impl ScreenBehaviour for PipelinesScreen {
    fn section(&self) -> &'static str {
        "pipelines"
    }

    fn header(&self, state: &State) -> String {
        match &state.pipelines.snapshot {
            Some(Ok(s)) => {
                let stale = s.statuses.iter().filter(|s| s.is_stale()).count();
                format!("pipelines · {} stages · {stale} stale", s.statuses.len())
            }
            _ => "pipelines".into(),
        }
    }

    fn hints(&self) -> &'static [(Cmd, &'static str)] {
        &[
            (Cmd::RunStage, "run"),
            (Cmd::ForceStage, "force"),
            (Cmd::Refresh, "refresh"),
            (Cmd::Back, "back"),
            (Cmd::Palette, "command"),
            (Cmd::Quit, "quit"),
        ]
    }

    fn update(&self, state: &mut State, cmd: Cmd) -> Vec<Effect> {
        match cmd {
            c if is_motion(c) => {
                let len = state.pipelines.rows().len();
                state.pipelines.cursor = move_cursor(state.pipelines.cursor, len, c, 10);
                vec![]
            }
            Cmd::RunStage => run_selected(state, false),
            Cmd::ForceStage => run_selected(state, true),
            _ => vec![],
        }
    }

    fn on_response(&self, state: &mut State, resp: Response) -> Result<Vec<Effect>, Response> {
        match resp {
            Response::PipelineStatus(answer) => {
                let v = &mut state.pipelines;
                let (snapshot, overview) = match *answer {
                    Ok((snapshot, overview)) => (Ok(snapshot), overview),
                    Err(e) => (Err(e), Overview::default()),
                };
                v.snapshot = Some(snapshot);
                v.overview = overview;
                v.cursor = v.cursor.min(v.rows().len().saturating_sub(1));
                Ok(vec![])
            }
            other => Err(other),
        }
    }

    fn on_change(&self, state: &mut State, _store: bool, _file: bool) -> Vec<Effect> {
        if state.screen == Screen::Pipelines {
            status_request(state)
        } else {
            vec![]
        }
    }

    fn tick_every(&self, state: &State) -> Option<Duration> {
        (!state.pipelines.started.is_empty()).then_some(Duration::from_millis(500))
    }

    /// A started `repro` that ended: failed or not, then the statuses again.
    fn on_tick(&self, state: &mut State) -> Vec<Effect> {
        let mut ended = Vec::new();
        state
            .pipelines
            .started
            .retain_mut(|s| match s.child.try_wait() {
                Ok(Some(status)) => {
                    ended.push((s.stage.clone(), status.success()));
                    false
                }
                Ok(None) => true,
                Err(_) => {
                    ended.push((s.stage.clone(), false));
                    false
                }
            });
        if ended.is_empty() {
            return vec![];
        }
        for (stage, ok) in ended {
            if ok {
                state.info(format!("{stage} done"));
            } else {
                state.error(format!("{stage} failed (kiroku repro {stage})"));
                state.pipelines.failed.push(stage);
            }
        }
        status_request(state)
    }

    fn draw(&self, frame: &mut Frame, area: Rect, state: &mut State) {
        if area.width >= SIDE_BY_SIDE_W {
            let tree_w = (area.width * 11 / 20).clamp(50, 96);
            let [tree, details] =
                Layout::horizontal([Constraint::Length(tree_w), Constraint::Min(20)]).areas(area);
            draw_tree(frame, tree, state);
            draw_details(frame, details, state);
        } else {
            let details_h = (area.height / 2).max(6);
            let [tree, details] =
                Layout::vertical([Constraint::Min(4), Constraint::Length(details_h)]).areas(area);
            draw_tree(frame, tree, state);
            draw_details(frame, details, state);
        }
    }
}

fn draw_tree(frame: &mut Frame, area: Rect, state: &mut State) {
    let v = &state.pipelines;
    let b = block(
        state,
        Span::styled(" Stages ", state.theme.style("title")),
        true,
    );
    let inner = b.inner(area);
    frame.render_widget(b, area);
    let dim = state.theme.style("text.dim");
    let snapshot = match &v.snapshot {
        None => {
            frame.render_widget(
                Paragraph::new(Line::styled("reading dvc.yaml…", dim)),
                inner,
            );
            return;
        }
        Some(Err(e)) => {
            let text = vec![
                Line::styled(e.clone(), state.theme.style("status.failed")),
                Line::styled("a pipeline is a dvc.yaml: see kiroku status", dim),
            ];
            frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }), inner);
            return;
        }
        Some(Ok(s)) => s,
    };
    let rows = v.rows();
    let h = inner.height as usize;
    let first = v.cursor.saturating_sub(h.saturating_sub(1));
    let width = inner.width as usize;
    let mut lines = Vec::new();
    for (n, row) in rows.iter().enumerate().skip(first).take(h) {
        let stage = &snapshot.pipeline.stages[row.stage];
        let status = &snapshot.statuses[row.stage];
        let (word, role) = v.label(status);
        let name = if row.repeat {
            format!("{} (above)", stage.name)
        } else {
            stage.name.clone()
        };
        let left = format!("{}{name}", row.prefix);
        let left_w = crate::present::display_width(&left).min(width.saturating_sub(8));
        let left = fit(&left, left_w, false);
        let right = fit(&format!("  {word}"), width.saturating_sub(left_w), false);
        let mut line = Line::from(vec![
            Span::raw(left),
            Span::styled(right, state.theme.style(role)),
        ]);
        if n == v.cursor {
            line = line.style(state.theme.style("table.selected"));
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn draw_details(frame: &mut Frame, area: Rect, state: &mut State) {
    let v = &state.pipelines;
    let title = match v.selected() {
        Some((stage, _)) => format!(" {} ", stage.name),
        None => " Stage ".into(),
    };
    let b = block(
        state,
        Span::styled(title, state.theme.style("title")),
        false,
    );
    let inner = b.inner(area);
    frame.render_widget(b, area);
    let Some((stage, status)) = v.selected() else {
        return;
    };
    let dim = state.theme.style("text.dim");
    let field = |name: &str, value: String| {
        Line::from(vec![
            Span::styled(format!("{name:<8}"), dim),
            Span::raw(value),
        ])
    };
    let (word, role) = v.label(status);
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("{:<8}", "state"), dim),
        Span::styled(
            word.split(':').next().unwrap_or_default().to_string(),
            state.theme.style(role),
        ),
    ])];
    for reason in reason_lines(&status.state) {
        lines.push(Line::raw(format!("        {reason}")));
    }
    if let Some(desc) = &stage.desc {
        lines.push(field("desc", desc.clone()));
    }
    for (i, cmd) in stage.cmd.iter().enumerate() {
        lines.push(field(if i == 0 { "cmd" } else { "" }, cmd.clone()));
    }
    if !stage.wdir.is_empty() {
        lines.push(field("wdir", stage.wdir.clone()));
    }
    let list = |items: Vec<String>| items.join(", ");
    if !stage.deps.is_empty() {
        lines.push(field(
            "deps",
            list(stage.deps.iter().map(|d| d.path.clone()).collect()),
        ));
    }
    for p in &stage.params {
        let keys = match &p.keys {
            crate::pipelines::ParamKeys::All => "(all)".to_string(),
            crate::pipelines::ParamKeys::Keys(k) => k.join(", "),
        };
        lines.push(field("params", format!("{}: {keys}", p.file)));
    }
    if !stage.outs.is_empty() {
        let outs = stage
            .outs
            .iter()
            .map(|o| {
                let mut flags = Vec::new();
                if !o.cache {
                    flags.push("no cache");
                }
                if o.persist {
                    flags.push("persist");
                }
                if flags.is_empty() {
                    o.path.clone()
                } else {
                    format!("{} ({})", o.path, flags.join(", "))
                }
            })
            .collect();
        lines.push(field("outs", list(outs)));
    }
    let s = &stage.settings;
    let mut settings = Vec::new();
    if let Some(t) = &s.target {
        settings.push(format!("target {t}"));
    }
    if let Some(g) = s.gpus {
        settings.push(format!("{g} GPU{}", if g == 1 { "" } else { "s" }));
    }
    if !s.require_checks.is_empty() {
        settings.push(format!(
            "requires checks of {}",
            s.require_checks.join(", ")
        ));
    }
    if !settings.is_empty() {
        lines.push(field("kiroku", settings.join(" · ")));
    }
    lines.extend(store_lines(state, &stage.name));
    // The log's tail fills what is left, its last lines kept.
    let room = (inner.height as usize).saturating_sub(lines.len() + 1);
    if let Some(run) = v.latest_run(&stage.name) {
        let log: Vec<&str> = run.log_tail.lines().collect();
        if room > 0 && !log.is_empty() {
            lines.push(Line::styled("log", dim));
            let width = inner.width as usize;
            for line in &log[log.len().saturating_sub(room - 1)..] {
                lines.push(Line::raw(fit(&format!("  {line}"), width, false)));
            }
        }
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The stage's latest run (id, status, duration, metrics; where a restored one came from) and
/// its outputs (size, hash, cached or not).
fn store_lines(state: &State, stage: &str) -> Vec<Line<'static>> {
    let v = &state.pipelines;
    let dim = state.theme.style("text.dim");
    let field = |name: &str, value: String| {
        Line::from(vec![
            Span::styled(format!("{name:<8}"), dim),
            Span::raw(value),
        ])
    };
    let mut lines = Vec::new();
    match v.latest_run(stage) {
        None => lines.push(field("run", "none yet".into())),
        Some(latest) => {
            let run = &latest.run;
            let took = crate::present::time::format_run_duration(
                run.status,
                run.start_time,
                run.end_time,
                crate::model::now_ms(),
            );
            let status = if latest.restored {
                "restored from cache".to_string()
            } else {
                run.status.to_string()
            };
            let role = if latest.restored {
                "status.finished".to_string()
            } else {
                format!("status.{}", run.status)
            };
            lines.push(Line::from(vec![
                Span::styled(format!("{:<8}", "run"), dim),
                Span::raw(format!("{} ", crate::ids::short(&run.id))),
                Span::styled(status, state.theme.style(&role)),
                Span::raw(format!(" · {took}")),
            ]));
            if let Some(from) = &latest.restored_from {
                lines.push(field("", format!("from run {}", crate::ids::short(from))));
            }
            if !run.metrics.is_empty() {
                let metrics: Vec<String> = run
                    .metrics
                    .iter()
                    .map(|(k, m)| format!("{k} {}", crate::present::number::format_value(m.last)))
                    .collect();
                lines.push(field("metrics", metrics.join(" · ")));
            }
        }
    }
    if let Some(outs) = v.overview.outputs.get(stage) {
        for (i, out) in outs.iter().enumerate() {
            let size = out
                .size
                .map_or("?".to_string(), crate::present::datasets::format_bytes);
            let files = out.nfiles.map_or(String::new(), |n| format!(", {n} files"));
            let hash = out
                .md5
                .as_deref()
                .map_or("no hash".to_string(), |m| m.chars().take(8).collect());
            let cached = if out.cached { "cached" } else { "not cached" };
            lines.push(field(
                if i == 0 { "outputs" } else { "" },
                format!("{} · {size}{files} · {hash} · {cached}", out.path),
            ));
        }
    }
    lines
}
