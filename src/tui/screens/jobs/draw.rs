//! Drawing the Jobs screen: the GPU panel and the job list side by side on a wide terminal
//! (stacked on a narrow one), the selected job's log below.
use super::{elapsed, job_status_glyph, JobGroup, JobsView};
use crate::jobs::gpu_holders::{self, Holder};
use crate::jobs::gpus::GpuInfo;
use crate::model::Job;
use crate::present::format_duration;
use crate::tui::app::State;
use crate::tui::screens::{block, fit, grouped_lines};
use crate::tui::widgets::text::ansi_line;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

/// The GPU panel's width beside the list (wide terminals).
const GPU_PANEL_W: u16 = 64;
/// From this width on, the GPU panel sits beside the list.
const SIDE_BY_SIDE_W: u16 = 150;

pub fn draw(frame: &mut Frame, area: Rect, state: &mut State) {
    let log_h = (area.height / 3).max(5);
    let [top, log] = Layout::vertical([Constraint::Min(3), Constraint::Length(log_h)]).areas(area);
    let side_by_side = area.width >= SIDE_BY_SIDE_W;
    let gpu_inner_w = if side_by_side {
        GPU_PANEL_W - 2
    } else {
        area.width.saturating_sub(2)
    };
    let gpu_lines = gpu_panel_lines(state, gpu_inner_w as usize) as u16;
    if side_by_side {
        let [gpus, list] =
            Layout::horizontal([Constraint::Length(GPU_PANEL_W), Constraint::Min(20)]).areas(top);
        let [gpus, _] =
            Layout::vertical([Constraint::Length(gpu_lines + 2), Constraint::Min(0)]).areas(gpus);
        draw_gpus(frame, gpus, state);
        draw_list(frame, list, state);
    } else {
        let gpu_h = (gpu_lines + 2).min(top.height / 2).max(3);
        let [gpus, list] =
            Layout::vertical([Constraint::Length(gpu_h), Constraint::Min(3)]).areas(top);
        draw_gpus(frame, gpus, state);
        draw_list(frame, list, state);
    }
    draw_log(frame, log, state);
}

/// The GPU panel's lines inside a `width`-wide box: one per GPU (or `no GPUs`), and the
/// discovery note, wrapped to at most `NOTE_LINES`.
fn gpu_panel_lines(state: &State, width: usize) -> usize {
    state.jobs.gpus.as_ref().map_or(1, |p| {
        let note = p.note.as_ref().map_or(0, |n| {
            crate::present::display_width(n)
                .div_ceil(width.max(1))
                .min(NOTE_LINES)
        });
        (p.gpus.len() + state.jobs.listed_not_found().len()).max(1) + note
    })
}

/// The most lines the discovery note takes.
const NOTE_LINES: usize = 3;

/// `████░░░░` for `part` of `whole`, `w` cells wide.
fn bar(part: f64, whole: f64, w: usize) -> (String, String) {
    let filled = if whole > 0.0 {
        ((part / whole).clamp(0.0, 1.0) * w as f64).round() as usize
    } else {
        0
    };
    ("█".repeat(filled), "░".repeat(w - filled))
}

/// Memory in GB with one decimal (`31.2`).
fn gb(mb: u64) -> String {
    format!("{:.1}", mb as f64 / 1024.0)
}

/// One GPU of the panel: `index` as discovery found it (`g`), or only listed in a local
/// target's `gpus` (a fake or hidden inventory: no figures, only who holds it).
fn gpu_line(state: &State, index: u32, g: Option<&GpuInfo>, width: usize) -> Line<'static> {
    let dim = state.theme.style("text.dim");
    let util = g
        .and_then(|g| g.utilization_pct)
        .map_or("  —".to_string(), |u| format!("{u:>3}%"));
    let memory = g.and_then(|g| g.memory_used_mb.zip(g.memory_total_mb));
    let (used, free) = match memory {
        Some((u, t)) => bar(u as f64, t as f64, 8),
        None => (String::new(), "░".repeat(8)),
    };
    let mem = memory.map_or("—".to_string(), |(u, t)| {
        format!("{}/{} GB", gb(u), gb(t))
    });
    let holder = gpu_holders::holder(
        &state.jobs.jobs,
        &state.jobs.context.config,
        &state.host,
        index,
        g,
    );
    let role = match holder {
        Holder::Jobs(_) => "status.running",
        Holder::OtherProcess => "status.killed",
        Holder::Free => "status.finished",
    };
    let holder = holder.label();
    // index, name, utilisation, memory bar, memory, holder; the name takes what is left.
    let fixed = 3 + 1 + 4 + 1 + 8 + 1 + 12 + 1 + 13;
    let name_w = width.saturating_sub(fixed).max(4);
    let name = g.map_or("listed, not found", |g| {
        g.name.strip_prefix("NVIDIA ").unwrap_or(&g.name)
    });
    Line::from(vec![
        Span::styled(format!("{index:>2} "), state.theme.style("text.accent")),
        Span::styled(
            fit(name, name_w, false),
            state
                .theme
                .style(if g.is_some() { "text" } else { "text.dim" }),
        ),
        Span::raw(format!(" {util} ")),
        Span::styled(used, state.theme.style("status.running")),
        Span::styled(free, dim),
        Span::raw(format!(" {} ", fit(&mem, 12, true))),
        Span::styled(fit(&holder, 13, false), state.theme.style(role)),
    ])
}

fn draw_gpus(frame: &mut Frame, area: Rect, state: &State) {
    let listed = state.jobs.listed_not_found();
    let title = match &state.jobs.gpus {
        Some(p) if !p.gpus.is_empty() => format!(" GPUs · {} on {} ", p.gpus.len(), state.host),
        _ => format!(" GPUs · {} ", state.host),
    };
    let b = block(
        state,
        Span::styled(title, state.theme.style("title")),
        false,
    );
    let inner = b.inner(area);
    frame.render_widget(b, area);
    let dim = state.theme.style("text.dim");
    let mut lines: Vec<Line> = Vec::new();
    match &state.jobs.gpus {
        None => lines.push(Line::styled("looking for GPUs…", dim)),
        Some(p) => {
            if p.gpus.is_empty() && listed.is_empty() {
                lines.push(Line::styled("no GPUs", dim));
            }
            let width = inner.width as usize;
            for g in &p.gpus {
                lines.push(gpu_line(state, g.index, Some(g), width));
            }
            for index in listed {
                lines.push(gpu_line(state, index, None, width));
            }
            if let Some(note) = &p.note {
                // Wrapped by hand (to the panel's width), so its height is known beforehand.
                let chars: Vec<char> = note.chars().collect();
                let width = (inner.width as usize).max(1);
                for (i, chunk) in chars.chunks(width).take(NOTE_LINES).enumerate() {
                    let mut text: String = chunk.iter().collect();
                    if i + 1 == NOTE_LINES && chars.len() > width * NOTE_LINES {
                        text = crate::present::truncate(&(text + "…"), width);
                    }
                    lines.push(Line::styled(text, dim));
                }
            }
        }
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// A column of the list: its title, width and whether it is right-aligned.
struct Col {
    title: &'static str,
    width: usize,
    right: bool,
}

fn columns(width: usize) -> Vec<Col> {
    let col = |title, width, right| Col {
        title,
        width,
        right,
    };
    let wide = width >= 90;
    // The fixed columns' widths plus one space after every column.
    let fixed: usize = if wide {
        5 + 2 + 10 + 10 + 6 + 8 + 8 + 9
    } else {
        4 + 2 + 8 + 5 + 7 + 8 + 8
    };
    let flex = width.saturating_sub(fixed);
    let name_w = (flex * 2 / 5).max(6);
    let reason_w = flex.saturating_sub(name_w).max(6);
    if wide {
        vec![
            col("ID", 5, true),
            col("", 2, false),
            col("NAME", name_w, false),
            col("TARGET", 10, false),
            col("STATUS", 10, false),
            col("REASON", reason_w, false),
            col("GPUS", 6, false),
            col("ELAPSED", 8, true),
            col("RUN", 8, false),
        ]
    } else {
        vec![
            col("ID", 4, true),
            col("", 2, false),
            col("NAME", name_w, false),
            col("TARGET", 8, false),
            col("REASON", reason_w, false),
            col("GPUS", 5, false),
            col("ELAPSED", 7, true),
            col("RUN", 8, false),
        ]
    }
}

fn job_cells(state: &State, j: &Job, cols: &[Col]) -> Vec<Span<'static>> {
    let (glyph, role) = job_status_glyph(j.status, state.theme.text_glyphs);
    // Booked indexes (`#0,#1`); before booking, how many it asks for (`×2`).
    let gpus = if j.assigned_gpus.is_empty() {
        if j.gpus == 0 {
            "—".to_string()
        } else {
            format!("×{}", j.gpus)
        }
    } else {
        j.assigned_gpus
            .iter()
            .map(|i| format!("#{i}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let running = j.status.is_active() || j.status == crate::model::JobStatus::Queued;
    let time = format_duration(elapsed(j, state.now)) + if running { "…" } else { "" };
    let run = j
        .run_id
        .as_deref()
        .map_or("—".to_string(), |r| crate::ids::short(r).to_string());
    let mut spans = Vec::new();
    for c in cols {
        let (text, style) = match c.title {
            "ID" => (j.id.to_string(), state.theme.style("text.accent")),
            "" => (glyph.to_string(), state.theme.style(role)),
            "NAME" => (j.name.clone(), state.theme.style("text")),
            "TARGET" => (j.target.clone(), state.theme.style("text")),
            "STATUS" => (j.status.to_string(), state.theme.style(role)),
            "REASON" => (j.reason.clone(), state.theme.style("text.dim")),
            "GPUS" => (gpus.clone(), state.theme.style("text")),
            "ELAPSED" => (time.clone(), state.theme.style("text")),
            _ => (run.clone(), state.theme.style("text.accent")),
        };
        spans.push(Span::styled(fit(&text, c.width, c.right) + " ", style));
    }
    spans
}

fn draw_list(frame: &mut Frame, area: Rect, state: &mut State) {
    let v: &JobsView = &state.jobs;
    let title = format!(
        " Jobs · {} · {} shown ",
        v.target
            .as_ref()
            .map_or("all targets".to_string(), |t| format!("target {t}")),
        v.rows().len()
    );
    let b = block(state, Span::styled(title, state.theme.style("title")), true);
    let inner = b.inner(area);
    frame.render_widget(b, area);
    let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(inner);
    let cols = columns(inner.width as usize);
    let header: Vec<Span> = cols
        .iter()
        .map(|c| {
            Span::styled(
                fit(c.title, c.width, c.right) + " ",
                state.theme.style("table.header"),
            )
        })
        .collect();
    frame.render_widget(Paragraph::new(Line::from(header)), head);

    // Every line of the list: a group title (None) or a job.
    let rows = v.rows();
    let cursor = v.cursor();
    let groups: Vec<JobGroup> = rows.iter().map(|j| JobGroup::of(j.status)).collect();
    let h = body.height as usize;
    let (items, first) = grouped_lines(&groups, cursor, h);
    let mut lines = Vec::new();
    let mut job_lines = Vec::new();
    for (k, item) in items.iter().enumerate().skip(first).take(h) {
        match item {
            None => {
                // The group of the job on the next line.
                let g = items[k + 1..]
                    .iter()
                    .flatten()
                    .next()
                    .map(|i| JobGroup::of(rows[*i].status))
                    .unwrap_or(JobGroup::Ended);
                let n = rows.iter().filter(|j| JobGroup::of(j.status) == g).count();
                lines.push(Line::styled(
                    format!("─ {} ({n}) ", g.title()),
                    state.theme.style("text.dim"),
                ));
                job_lines.push(None);
            }
            Some(i) => {
                let mut line = Line::from(job_cells(state, rows[*i], &cols));
                if *i == cursor {
                    line = line.style(state.theme.style("table.selected"));
                }
                lines.push(line);
                job_lines.push(Some(rows[*i].id));
            }
        }
    }
    if rows.is_empty() {
        lines.push(Line::styled(
            if v.loaded {
                "no jobs yet · n launches one (or `kiroku submit -- CMD`)"
            } else {
                "loading jobs…"
            },
            state.theme.style("text.dim"),
        ));
    }
    frame.render_widget(Paragraph::new(lines), body);
    state.areas.list = Some((body, first));
    state.areas.job_lines = job_lines;
}

fn draw_log(frame: &mut Frame, area: Rect, state: &State) {
    let v = &state.jobs;
    let job = v.selected_job();
    let title = match (job, &v.log) {
        (Some(j), Some(l)) => format!(
            " Log · job {} {} · run {}{} ",
            j.id,
            j.name,
            crate::ids::short(&l.run_id),
            if j.status.is_terminal() {
                ""
            } else {
                " (following)"
            }
        ),
        (Some(j), None) => format!(" Log · job {} {} ", j.id, j.name),
        _ => " Log ".to_string(),
    };
    let b = block(
        state,
        Span::styled(title, state.theme.style("title")),
        false,
    );
    let inner = b.inner(area);
    frame.render_widget(b, area);
    let dim = state.theme.style("text.dim");
    let lines: Vec<Line> = match (job, &v.log) {
        (None, _) => vec![Line::styled("no job selected", dim)],
        (Some(j), None) => {
            let text = if j.status.is_terminal() {
                format!(
                    "no output: job {} ended {} before it ran ({})",
                    j.id, j.status, j.reason
                )
            } else {
                format!("no output yet: job {} is {} ({})", j.id, j.status, j.reason)
            };
            let p = Paragraph::new(Line::styled(text, dim)).wrap(Wrap { trim: false });
            frame.render_widget(p, inner);
            return;
        }
        (Some(_), Some(l)) => match &l.text {
            None => vec![Line::styled("loading the log…", dim)],
            Some(t) if t.is_empty() => vec![Line::styled("no output yet", dim)],
            Some(t) => {
                let all: Vec<&str> = t.lines().collect();
                let h = inner.height as usize;
                all[all.len().saturating_sub(h)..]
                    .iter()
                    .map(|l| ansi_line(l, true))
                    .collect()
            }
        },
    };
    frame.render_widget(Paragraph::new(lines), inner);
}
