//! Drawing of one run: its header, the tabs, and the Overview, Params (searchable), Metrics
//! (chart grid or sparkline list) and Logs (follows while running, searchable, ANSI kept or
//! stripped) tabs. Source (commit, command, coloured diff), Artifacts (a folder tree; preview
//! of text files, size and hash, or where a referenced one lives) and Notes are in
//! `draw_files`.
use super::draw_files::{draw_artifacts, draw_notes, draw_source};
use super::{RunTab, RunView};
use crate::present::{format_relative, format_run_duration, format_timestamp, format_value};
use crate::tui::app::{State, TextField};
use crate::tui::screens::{block, fit, kv, status_glyph};
use crate::tui::theme::run_color_index;
use crate::tui::widgets::chart::{self, ChartLine};
use crate::tui::widgets::text::{ansi_line, highlight};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// The run's box title: id, name, status glyph, then the facts that are known (status, user,
/// duration, host, commit) joined by `·`, so an empty one leaves no dangling separator.
pub fn run_title(d: &crate::model::RunDetail, state: &State) -> String {
    let r = &d.run;
    let (glyph, _) = status_glyph(r.status, state.theme.text_glyphs);
    let commit = d.source.git_commit.as_ref().map(|c| {
        let dirty = if d.source.git_dirty == Some(true) {
            " (dirty)"
        } else {
            ""
        };
        format!("commit {}{dirty}", &c[..9.min(c.len())])
    });
    let facts: Vec<String> = [
        Some(r.status.to_string()),
        Some(r.user.clone()),
        Some(format_run_duration(
            r.status,
            r.start_time,
            r.end_time,
            state.now,
        )),
        r.host.clone(),
        commit,
    ]
    .into_iter()
    .flatten()
    .filter(|fact| !fact.is_empty())
    .collect();
    format!(
        " {} {} {glyph} {} ",
        crate::ids::short(&r.id),
        r.name,
        facts.join(" · ")
    )
}

pub fn draw(frame: &mut Frame, area: Rect, state: &mut State) {
    let Some(rv) = state.run.as_ref() else { return };
    let title = match &rv.detail {
        Some(d) => run_title(d, state),
        None => format!(" {} (loading…) ", crate::ids::short(&rv.id)),
    };
    let b = block(state, Span::styled(title, state.theme.style("title")), true);
    let inner = b.inner(area);
    frame.render_widget(b, area);
    let [tabs, body] = Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(inner);
    draw_tabs(frame, tabs, state);
    let Some(rv) = state.run.as_ref() else { return };
    if rv.detail.is_none() {
        return;
    }
    match rv.tab {
        RunTab::Overview => draw_overview(frame, body, state),
        RunTab::Params => draw_params(frame, body, state),
        RunTab::Metrics => draw_metrics(frame, body, state),
        RunTab::Logs => draw_logs(frame, body, state),
        RunTab::Source => draw_source(frame, body, state),
        RunTab::Artifacts => draw_artifacts(frame, body, state),
        RunTab::Notes => draw_notes(frame, body, state),
        RunTab::Inputs => super::draw_inputs::draw_inputs(frame, body, state),
    }
}

fn draw_tabs(frame: &mut Frame, area: Rect, state: &mut State) {
    let Some(rv) = state.run.as_ref() else { return };
    let mut spans = Vec::new();
    let mut x = area.x;
    let mut hits = Vec::new();
    for tab in RunTab::ALL {
        let label = match tab {
            RunTab::Notes => format!(
                " Notes ({}) ",
                rv.detail.as_ref().map(|d| d.notes.len()).unwrap_or(0)
            ),
            RunTab::Metrics => format!(
                " Metrics ({}) ",
                rv.detail.as_ref().map(|d| d.run.metrics.len()).unwrap_or(0)
            ),
            RunTab::Inputs => match &rv.inputs {
                Some(inputs) => format!(" Inputs ({}) ", inputs.len()),
                None => " Inputs ".to_string(),
            },
            t => format!(" {} ", t.title()),
        };
        let w = label.chars().count() as u16;
        let style = state.theme.style(if tab == rv.tab {
            "tab.active"
        } else {
            "tab.inactive"
        });
        hits.push((
            Rect {
                x,
                y: area.y,
                width: w,
                height: 1,
            },
            tab,
        ));
        spans.push(Span::styled(label, style));
        spans.push(Span::styled("│", state.theme.style("border")));
        x += w + 1;
    }
    let rule = "─".repeat(area.width as usize);
    frame.render_widget(
        Paragraph::new(vec![
            Line::from(spans),
            Line::styled(rule, state.theme.style("border")),
        ]),
        area,
    );
    state.areas.tabs = hits;
}

pub(super) fn scrolled(
    lines: Vec<Line<'static>>,
    scroll: usize,
    height: usize,
) -> Vec<Line<'static>> {
    let max = lines.len().saturating_sub(height);
    lines
        .into_iter()
        .skip(scroll.min(max))
        .take(height)
        .collect()
}

fn draw_overview(frame: &mut Frame, area: Rect, state: &State) {
    let Some(rv) = &state.run else { return };
    let Some(d) = &rv.detail else { return };
    let r = &d.run;
    let w = 12;
    let (glyph, role) = status_glyph(r.status, state.theme.text_glyphs);
    let mut lines = vec![Line::from(vec![
        Span::styled(fit("status", w, false), state.theme.style("text.dim")),
        Span::styled(format!("{glyph} {}", r.status), state.theme.style(role)),
        Span::raw(
            r.exit_code
                .map(|c| format!(" (exit {c})"))
                .unwrap_or_default(),
        ),
    ])];
    // Why it failed: the exit code is above, the last error line of its output here.
    if r.status == crate::model::RunStatus::Failed {
        let why = match rv.log.as_deref() {
            Some(log) => crate::present::last_error_line(log)
                .unwrap_or("(the log is empty)")
                .to_string(),
            None => "reading the log…".into(),
        };
        lines.push(Line::from(vec![
            Span::styled(fit("error", w, false), state.theme.style("text.dim")),
            Span::styled(why, state.theme.style("status.failed")),
        ]));
    }
    lines.push(kv(state, "id", r.id.clone(), w));
    lines.push(kv(state, "experiment", r.experiment.clone(), w));
    lines.push(kv(
        state,
        "started",
        format!(
            "{} ({})",
            format_timestamp(r.start_time),
            format_relative(r.start_time, state.now)
        ),
        w,
    ));
    let took = format_run_duration(r.status, r.start_time, r.end_time, state.now);
    lines.push(kv(
        state,
        "ended",
        match r.end_time {
            Some(e) => format!("{} · took {took}", format_timestamp(e)),
            None if !r.status.is_terminal() => format!("running for {took}"),
            None => format!("{} (no end time recorded)", r.status),
        },
        w,
    ));
    lines.push(kv(state, "user", r.user.clone(), w));
    lines.push(kv(state, "host", r.host.clone().unwrap_or_default(), w));
    // A run a job started: which job, on which target (`J` lists the jobs).
    if let Some(job) = r.tags.get(crate::tui::worker::JOB_TAG) {
        let target = r
            .tags
            .get(crate::tui::worker::TARGET_TAG)
            .map(|t| format!(" on target {t}"))
            .unwrap_or_default();
        lines.push(kv(state, "job", format!("job {job}{target}"), w));
    }
    if let Some(of) = r.tags.get(crate::tui::worker::RERUN_TAG) {
        lines.push(kv(state, "rerun of", of.clone(), w));
    }
    lines.push(kv(state, "command", d.source.command.join(" "), w));
    if let Some(c) = &d.source.git_commit {
        let branch = d.source.git_branch.clone().unwrap_or_default();
        let dirty = if d.source.git_dirty == Some(true) {
            " (dirty)"
        } else {
            ""
        };
        lines.push(kv(state, "git", format!("{c} {branch}{dirty}"), w));
    }
    if let Some(p) = &r.parent_id {
        lines.push(kv(state, "parent", p.clone(), w));
    }
    if !d.children.is_empty() {
        lines.push(kv(state, "children", d.children.join(", "), w));
    }
    let tags: Vec<String> = r.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    lines.push(kv(state, "tags", tags.join("  "), w));
    lines.push(kv(
        state,
        "stars",
        if r.stars.is_empty() {
            String::new()
        } else {
            format!("★ {}", r.stars.join(", "))
        },
        w,
    ));
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "latest metrics",
        state.theme.style("table.header"),
    ));
    let kw = r
        .metrics
        .keys()
        .map(|k| k.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 30)
        + 2;
    for (k, m) in &r.metrics {
        lines.push(Line::from(vec![
            Span::styled(fit(k, kw, false), state.theme.style("text.dim")),
            Span::raw(fit(&format_value(m.last), 12, true)),
            Span::styled(
                format!(
                    "   min {}  max {}  step {}  ({})",
                    m.min.map(format_value).unwrap_or_default(),
                    m.max.map(format_value).unwrap_or_default(),
                    m.step,
                    crate::present::count_of(m.count, "point")
                ),
                state.theme.style("text.dim"),
            ),
        ]));
    }
    let lines = scrolled(lines, rv.scroll_of(RunTab::Overview), area.height as usize);
    frame.render_widget(Paragraph::new(lines), area);
}

/// The `/` search bar; `idle_hint`: say that esc clears a search in force (where there is room).
fn search_bar(
    state: &State,
    label: &str,
    text: &str,
    editing: bool,
    idle_hint: bool,
) -> Line<'static> {
    let mut spans = vec![Span::styled(
        format!("/ {label}: "),
        state
            .theme
            .style(if editing { "text.accent" } else { "text.dim" }),
    )];
    spans.push(Span::styled(text.to_string(), state.theme.style("input")));
    let hint = if editing {
        spans.push(Span::styled(" ", state.theme.style("input.cursor")));
        "   (enter: apply · esc: cancel)"
    } else if idle_hint && !text.is_empty() {
        "   (esc clears)"
    } else {
        ""
    };
    spans.push(Span::styled(hint, state.theme.style("text.dim")));
    Line::from(spans)
}

fn draw_params(frame: &mut Frame, area: Rect, state: &State) {
    let Some(rv) = &state.run else { return };
    let Some(d) = &rv.detail else { return };
    let [bar, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let needle = rv.param_search.text.to_lowercase();
    frame.render_widget(
        Paragraph::new(search_bar(
            state,
            "search",
            &rv.param_search.text,
            state.field == Some(TextField::ParamSearch),
            true,
        )),
        bar,
    );
    let kw = d
        .run
        .params
        .keys()
        .map(|k| k.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 40)
        + 2;
    let matched: Vec<Line<'static>> = d
        .run
        .params
        .iter()
        .filter(|(k, v)| {
            needle.is_empty()
                || k.to_lowercase().contains(&needle)
                || v.to_lowercase().contains(&needle)
        })
        .map(|(k, v)| {
            let line = Line::from(vec![
                Span::styled(fit(k, kw, false), state.theme.style("text.dim")),
                Span::raw(v.clone()),
            ]);
            highlight(line, &needle, state.theme.style("search.match"))
        })
        .collect();
    let lines = if matched.is_empty() {
        vec![Line::styled(
            if d.run.params.is_empty() {
                "no params"
            } else {
                "no params match"
            },
            state.theme.style("text.dim"),
        )]
    } else {
        scrolled(matched, rv.scroll_of(RunTab::Params), body.height as usize)
    };
    frame.render_widget(Paragraph::new(lines), body);
}

fn draw_metrics(frame: &mut Frame, area: Rect, state: &mut State) {
    let Some(rv) = &state.run else { return };
    let Some(d) = &rv.detail else { return };
    let keys = rv.metric_keys();
    let [body, status] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(area);
    if keys.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled(
                "no metrics logged",
                state.theme.style("text.dim"),
            )),
            body,
        );
        return;
    }
    let style = state.theme.series(run_color_index(&rv.id));
    let mut cursor_text = String::new();
    if rv.chart_list {
        let kw = keys
            .iter()
            .map(|k| k.chars().count())
            .max()
            .unwrap_or(4)
            .clamp(4, 30)
            + 2;
        let spark_w = (body.width as usize).saturating_sub(kw + 48).max(8);
        let mut lines = vec![Line::styled(
            format!(
                "{}{}{}{}{}  trend",
                fit(" metric", kw, false),
                fit("last", 12, true),
                fit("min", 12, true),
                fit("max", 12, true),
                fit("points", 9, true)
            ),
            state.theme.style("table.header"),
        )];
        for (i, k) in keys.iter().enumerate() {
            let m = &d.run.metrics[k];
            let spark = rv
                .series
                .get(k)
                .map(|s| chart::sparkline(s, spark_w))
                .unwrap_or_default();
            let marker = if i == rv.chart_selected { "▸" } else { " " };
            let mut line = Line::from(vec![
                Span::raw(fit(&format!("{marker}{k}"), kw, false)),
                Span::raw(fit(&format_value(m.last), 12, true)),
                Span::raw(fit(&m.min.map(format_value).unwrap_or_default(), 12, true)),
                Span::raw(fit(&m.max.map(format_value).unwrap_or_default(), 12, true)),
                Span::raw(fit(&m.count.to_string(), 9, true)),
                Span::raw("  "),
                Span::styled(spark, style),
            ]);
            if i == rv.chart_selected {
                line = line.style(state.theme.style("table.selected"));
            }
            lines.push(line);
        }
        let first = rv.chart_selected.saturating_sub(body.height as usize - 2);
        let mut shown = vec![lines[0].clone()];
        shown.extend(lines.into_iter().skip(1 + first));
        frame.render_widget(Paragraph::new(shown), body);
    } else {
        // A grid: two charts a row on wide terminals, one on narrow ones.
        let per_row = if body.width >= 100 { 2 } else { 1 };
        let chart_h: u16 = if body.height >= 24 {
            12
        } else {
            body.height.max(6)
        };
        let rows_fit = (body.height / chart_h).max(1) as usize;
        let sel_row = rv.chart_selected / per_row;
        let first_row = sel_row.saturating_sub(rows_fit - 1);
        let start = rv.run_start();
        for (slot, k) in keys.iter().enumerate().skip(first_row * per_row) {
            let row = slot / per_row - first_row;
            if row >= rows_fit {
                break;
            }
            let col = slot % per_row;
            let w = body.width / per_row as u16;
            let r = Rect {
                x: body.x + col as u16 * w,
                y: body.y + row as u16 * chart_h,
                width: w,
                height: chart_h,
            };
            let marker = if slot == rv.chart_selected {
                "▸ "
            } else {
                ""
            };
            let Some(series) = rv.series.get(k) else {
                let title = format!(" {marker}{k} ");
                frame.render_widget(block(state, title, slot == rv.chart_selected), r);
                continue;
            };
            let lines = [ChartLine {
                label: k.clone(),
                style,
                series,
                start_ms: start,
            }];
            let title = format!(
                "{marker}{k} · {}",
                crate::present::count_of(series.points, "point")
            );
            let cx = chart::draw_chart(
                frame,
                r,
                &state.theme,
                &title,
                &lines,
                &rv.charts,
                slot == rv.chart_selected,
            );
            if let (Some(x), true) = (cx, slot == rv.chart_selected) {
                cursor_text = chart::cursor_text(&lines, &rv.charts, x);
            }
        }
    }
    frame.render_widget(
        Paragraph::new(Line::styled(
            format!("{}{cursor_text}", chart::settings_line(&rv.charts)),
            state.theme.style("text.dim"),
        )),
        status,
    );
}

impl RunView {
    /// The run's start (ms), for relative time axes.
    pub fn run_start(&self) -> i64 {
        self.detail.as_ref().map(|d| d.run.start_time).unwrap_or(0)
    }
}

fn draw_logs(frame: &mut Frame, area: Rect, state: &mut State) {
    let editing = state.field == Some(TextField::LogSearch);
    let Some(rv) = state.run.as_mut() else { return };
    let [bar, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(area);
    let Some(log) = &rv.log else {
        frame.render_widget(Paragraph::new(Line::raw("loading the log…")), body);
        return;
    };
    let total = log.lines().count();
    let h = body.height as usize;
    let max_top = total.saturating_sub(h);
    let top = if rv.follow {
        max_top
    } else {
        rv.scroll_of(RunTab::Logs).min(max_top)
    };
    rv.scroll.insert(RunTab::Logs.title(), top);
    let follow = if rv.follow { "following" } else { "f follows" };
    let ansi = if rv.keep_ansi {
        "colours kept"
    } else {
        "colours stripped"
    };
    let Some(rv) = state.run.as_ref() else { return };
    let mut spans = search_bar(state, "search", &rv.log_search.text, editing, false).spans;
    let matches = if rv.log_search.text.is_empty() {
        ""
    } else {
        " · n/N match"
    };
    spans.push(Span::styled(
        format!(
            "   lines {}-{} of {total} · {follow} · {ansi}{matches}",
            top + 1,
            (top + h).min(total)
        ),
        state.theme.style("text.dim"),
    ));
    frame.render_widget(Paragraph::new(Line::from(spans)), bar);
    let needle = rv.log_search.text.clone();
    let lines: Vec<Line<'static>> = rv
        .log
        .as_deref()
        .unwrap_or("")
        .lines()
        .skip(top)
        .take(h)
        .map(|l| {
            highlight(
                ansi_line(l, rv.keep_ansi),
                &needle,
                state.theme.style("search.match"),
            )
        })
        .collect();
    if total == 0 {
        frame.render_widget(
            Paragraph::new(Line::styled(
                "no output recorded",
                state.theme.style("text.dim"),
            )),
            body,
        );
    } else {
        frame.render_widget(Paragraph::new(lines), body);
    }
}
