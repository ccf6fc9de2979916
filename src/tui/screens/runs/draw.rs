//! The runs screen: experiments on the left, the filter bar, and the runs table. Only the
//! visible rows are drawn, from the fetched window; columns that do not fit are dropped as
//! `present::column_fit` ranks them (the id, the name and what the filter and sort name stay;
//! constant params go first; then the columns farthest from the column cursor), and the header
//! says how many are out of view on each side (`← 2+`, `+3 →`): `h`/`l` walk onto them.
use super::super::{block, fit, status_glyph};
use super::{MetricStat, RunsFocus};
use crate::model::Run;
use crate::present::{column_fit, format_value, Column, Format};
use crate::tui::app::{State, TextField};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

fn max_width(c: &Column) -> usize {
    match c {
        Column::Id => 8,
        Column::Name => 28,
        Column::Started => 9,
        Column::Duration => 7,
        Column::User => 10,
        Column::Metric(_) => 12,
        _ => 14,
    }
}

/// A cell as shown in the table (metrics by the chosen statistic).
pub fn cell(c: &Column, run: &Run, stat: MetricStat, now: i64) -> String {
    match c {
        Column::Metric(k) => run
            .metrics
            .get(k)
            .and_then(|m| match stat {
                MetricStat::Last => Some(m.last),
                MetricStat::Min => m.min,
                MetricStat::Max => m.max,
            })
            .map(format_value)
            .unwrap_or_default(),
        other => other.cell(run, Format::Table, now),
    }
}

/// A column's header among `cols` (a param and a metric of one key told apart), with the
/// statistic the metric cells show.
fn header(c: &Column, cols: &[Column], stat: MetricStat) -> String {
    let h = column_fit::distinct_header(c, cols);
    match (c, stat) {
        (Column::Metric(_), MetricStat::Min) => format!("{h} min"),
        (Column::Metric(_), MetricStat::Max) => format!("{h} max"),
        _ => h,
    }
}

/// What the table shows of its columns: indices and widths, and how many columns are out of
/// view left and right of the column cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fitted {
    pub shown: Vec<(usize, usize)>,
    pub hidden_left: usize,
    pub hidden_right: usize,
}

/// The cells `+N →` takes at the right end of the header when columns are out of view.
const MORE_W: usize = 6;

/// What the table fits its columns to: the column under the cursor, the `queried` ones (what
/// the filter and sort name, kept in view) and the `sorted` one (its header has an arrow).
pub struct FitFor<'a> {
    pub cursor: usize,
    /// Cells a metric column adds for its sparkline (0: none).
    pub spark_w: usize,
    pub queried: &'a [Column],
    pub sorted: Option<&'a Column>,
}

/// Column indices and widths that fit `width` cells (2-cell gaps).
pub fn fit_columns(
    cols: &[Column],
    rows: &[&Run],
    stat: MetricStat,
    now: i64,
    width: usize,
    fit_for: FitFor,
) -> Fitted {
    let FitFor {
        cursor,
        spark_w,
        queried,
        sorted,
    } = fit_for;
    let mut widths: Vec<usize> = cols
        .iter()
        .map(|c| {
            let arrow = if sorted == Some(c) { 2 } else { 0 };
            let spark = if matches!(c, Column::Metric(_)) && spark_w > 0 {
                spark_w + 1
            } else {
                0
            };
            let mut w = crate::present::display_width(&header(c, cols, stat)) + 1 + arrow;
            for r in rows {
                w = w.max(crate::present::display_width(&cell(c, r, stat, now)));
            }
            w.min(max_width(c).max(6)) + spark
        })
        .collect();
    let ranks: Vec<u8> = cols
        .iter()
        .map(|c| column_fit::keep_rank(c, rows, queried))
        .collect();
    let focus = Some(cursor).filter(|c| *c < cols.len());
    let mut shown = column_fit::fit_by_rank(&widths, &ranks, 2, width, focus);
    if shown.len() < cols.len() {
        // Leave room for the `+N →` that says so.
        shown = column_fit::fit_by_rank(&widths, &ranks, 2, width.saturating_sub(MORE_W), focus);
    }
    let total =
        |shown: &[usize], widths: &[usize]| -> usize { shown.iter().map(|i| widths[*i] + 2).sum() };
    // Still too wide (only names left): shrink the name.
    let over = total(&shown, &widths).saturating_sub(width);
    if over > 0 {
        if let Some(i) = shown.iter().find(|i| cols[**i] == Column::Name) {
            widths[*i] = widths[*i].saturating_sub(over).max(4);
        }
    }
    let hidden = |keep: &dyn Fn(usize) -> bool| {
        (0..cols.len())
            .filter(|i| keep(*i) && !shown.contains(i))
            .count()
    };
    let edge = focus.unwrap_or(0);
    Fitted {
        hidden_left: hidden(&|i| i < edge),
        hidden_right: hidden(&|i| i > edge),
        shown: shown.into_iter().map(|i| (i, widths[i])).collect(),
    }
}

pub fn draw(frame: &mut Frame, area: Rect, state: &mut State) {
    let show_sidebar = area.width >= 100 || state.runs.focus == RunsFocus::Sidebar;
    let (side, main) = if show_sidebar {
        let [s, m] = Layout::horizontal([Constraint::Length(26), Constraint::Min(20)]).areas(area);
        (Some(s), m)
    } else {
        (None, area)
    };
    if let Some(s) = side {
        draw_sidebar(frame, s, state);
    }
    draw_table(frame, main, state);
}

fn draw_sidebar(frame: &mut Frame, area: Rect, state: &mut State) {
    let focused = state.runs.focus == RunsFocus::Sidebar;
    let b = block(state, " Experiments ", focused);
    let inner = b.inner(area);
    frame.render_widget(b, area);
    state.areas.sidebar = Some(area);
    let mut lines = Vec::new();
    let total: u64 = state.experiments.iter().map(|e| e.run_count).sum();
    let mut entries = vec![("all".to_string(), total, state.runs.experiment.is_none())];
    for e in &state.experiments {
        entries.push((
            e.name.clone(),
            e.run_count,
            state.runs.experiment.as_deref() == Some(&e.name),
        ));
    }
    let w = inner.width as usize;
    for (i, (name, count, current)) in entries.iter().enumerate() {
        let count = count.to_string();
        let marker = if *current { "▸ " } else { "  " };
        let name_w = w.saturating_sub(count.len() + 3);
        let text = format!("{marker}{} {count}", fit(name, name_w, false));
        let mut style = state
            .theme
            .style(if *current { "text.accent" } else { "text" });
        if focused && i == state.runs.sidebar_cursor {
            style = style.patch(state.theme.style("table.selected"));
        }
        lines.push(Line::styled(text, style));
    }
    let new = state
        .activity
        .events
        .iter()
        .filter(|e| e.id > state.activity.seen_before && state.activity.loaded)
        .count();
    if inner.height as usize > lines.len() + 6 {
        while lines.len() + 5 < inner.height as usize {
            lines.push(Line::raw(""));
        }
        lines.pop();
        lines.push(jobs_line(state));
        lines.push(checks_line(state));
        lines.push(screen_line(
            state,
            "Pipelines",
            crate::tui::keymap::Cmd::Pipelines,
        ));
        lines.push(screen_line(
            state,
            "Models",
            crate::tui::keymap::Cmd::Models,
        ));
        let key = state
            .keymap
            .key_for("runs", crate::tui::keymap::Cmd::Activity)
            .unwrap_or_default();
        lines.push(Line::from(vec![
            Span::styled(format!(" Activity ({key}) "), state.theme.style("text.dim")),
            Span::styled(
                if new > 0 {
                    format!("{new} new")
                } else {
                    String::new()
                },
                state.theme.style("event.new"),
            ),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The sidebar's way to the Jobs screen, with what runs and waits there.
fn jobs_line(state: &State) -> Line<'static> {
    use crate::tui::screens::jobs::JobGroup;
    let key = state
        .keymap
        .key_for("runs", crate::tui::keymap::Cmd::Jobs)
        .unwrap_or_default();
    let (running, queued) = (
        state.jobs.count(JobGroup::Running),
        state.jobs.count(JobGroup::Queued),
    );
    let (what, role) = match (running, queued) {
        (0, 0) => (String::new(), "text.dim"),
        (0, q) => (format!("{q} queued"), "status.queued"),
        (r, _) => (format!("{r} running"), "status.running"),
    };
    Line::from(vec![
        Span::styled(format!(" Jobs ({key}) "), state.theme.style("text.dim")),
        Span::styled(what, state.theme.style(role)),
    ])
}

/// The sidebar's way to a screen that has no count to show: its name and key.
fn screen_line(state: &State, name: &str, cmd: crate::tui::keymap::Cmd) -> Line<'static> {
    let key = state.keymap.key_for("runs", cmd).unwrap_or_default();
    Line::styled(format!(" {name} ({key}) "), state.theme.style("text.dim"))
}

/// The sidebar's way to the Checks screen, with how many check runs wait for a review.
fn checks_line(state: &State) -> Line<'static> {
    let key = state
        .keymap
        .key_for("runs", crate::tui::keymap::Cmd::Checks)
        .unwrap_or_default();
    let waiting = state.checks.waiting();
    Line::from(vec![
        Span::styled(format!(" Checks ({key}) "), state.theme.style("text.dim")),
        Span::styled(
            if waiting > 0 {
                format!("{waiting} to review")
            } else {
                String::new()
            },
            state.theme.style("status.failed"),
        ),
    ])
}

fn draw_table(frame: &mut Frame, area: Rect, state: &mut State) {
    let focused = state.runs.focus == RunsFocus::Table;
    let cols = state.columns();
    let sort_text = state
        .runs
        .sort
        .as_ref()
        .map(|(c, d)| {
            format!(
                " · {} {}",
                header(c, &cols, state.runs.metric_stat),
                if *d { "↓" } else { "↑" }
            )
        })
        .unwrap_or_default();
    let plus = if state.runs.total_known() { "" } else { "+" };
    let count = if state.runs.applied_filter.trim().is_empty() {
        format!("{}{plus} runs", state.runs.total)
    } else {
        format!("{}{plus} matching", state.runs.total)
    };
    let marked = if state.runs.marked.is_empty() {
        String::new()
    } else {
        format!(" · {} marked", state.runs.marked.len())
    };
    let deleted = if state.runs.show_deleted {
        " · with deleted"
    } else {
        ""
    };
    let title = format!(" Runs · {count}{sort_text}{marked}{deleted} ");
    let b = block(
        state,
        Span::styled(title, state.theme.style("title")),
        focused,
    );
    let inner = b.inner(area);
    frame.render_widget(b, area);

    // Filter bar (and the error line under it).
    let editing = state.field == Some(TextField::Filter);
    let has_error = state.runs.filter_error.is_some();
    let bar_h = if has_error { 2 } else { 1 };
    let [bar, table] =
        Layout::vertical([Constraint::Length(bar_h), Constraint::Min(1)]).areas(inner);
    draw_filter_bar(frame, bar, state, editing);

    if table.height < 2 {
        return;
    }
    let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(1)]).areas(table);
    state.runs.visible_rows = body.height as u64;
    // Keep the cursor on screen after a resize.
    if state.runs.cursor >= state.runs.scroll + state.runs.visible_rows {
        state.runs.scroll = state.runs.cursor + 1 - state.runs.visible_rows;
    }
    let now = state.now;
    let stat = state.runs.metric_stat;
    let first = state.runs.scroll;
    let last = (first + body.height as u64).min(state.runs.total);
    let visible: Vec<&Run> = (first..last).filter_map(|i| state.runs.row(i)).collect();
    let gutter = 5usize; // mark/star (2) + status glyph (2) + space
    let glyph_w = if state.theme.text_glyphs { 5 } else { 2 };
    let avail = (body.width as usize).saturating_sub(gutter + glyph_w - 2);
    let spark_w = if state.size.0 >= super::SPARK_MIN_WIDTH {
        super::SPARK_W
    } else {
        0
    };
    let queried = column_fit::queried_columns(
        Some(state.runs.applied_filter.as_str()),
        state.run_query(0, 0).sort.as_deref(),
    );
    let Fitted {
        shown: fitted,
        hidden_left,
        hidden_right,
    } = fit_columns(
        &cols,
        &visible,
        stat,
        now,
        avail,
        FitFor {
            cursor: state.runs.col_cursor,
            spark_w,
            queried: &queried,
            sorted: state.runs.sort.as_ref().map(|(c, _)| c),
        },
    );

    // The gap after each column: a rule between the params and the metrics, as in the sketch.
    let gaps: Vec<&str> = (0..fitted.len())
        .map(|k| {
            let next_is_first_metric = fitted.get(k + 1).is_some_and(|(ci, _)| {
                matches!(cols[*ci], Column::Metric(_))
                    && !matches!(cols[fitted[k].0], Column::Metric(_))
            });
            if next_is_first_metric {
                " │"
            } else {
                "  "
            }
        })
        .collect();

    // Header.
    let mut x = head.x + (gutter + glyph_w - 2) as u16;
    // Columns out of view to the left take the place of `ST`: `← 2+`.
    let mut spans = vec![if hidden_left > 0 {
        Span::styled(
            fit(&format!("← {hidden_left}+"), gutter + glyph_w - 2, false),
            state.theme.style("text.accent"),
        )
    } else {
        Span::styled(
            fit("ST", gutter + glyph_w - 2, false),
            state.theme.style("table.header"),
        )
    }];
    let mut header_cells = Vec::new();
    for (k, (ci, w)) in fitted.iter().enumerate() {
        let c = &cols[*ci];
        let sorted = state.runs.sort.as_ref().filter(|(s, _)| s == c);
        // Over a metric's value, not its sparkline.
        let spark = if matches!(c, Column::Metric(_)) && spark_w > 0 {
            spark_w + 1
        } else {
            0
        };
        let h = sorted_header(
            &header(c, &cols, stat),
            sorted.map(|(_, d)| *d),
            w.saturating_sub(spark),
        ) + &" ".repeat(spark);
        let mut style = state.theme.style(if sorted.is_some() {
            "table.header.sorted"
        } else {
            "table.header"
        });
        if *ci == state.runs.col_cursor && focused {
            style = style.add_modifier(Modifier::REVERSED);
        }
        spans.push(Span::styled(fit(&h, *w, c.is_numeric()), style));
        spans.push(Span::styled(gaps[k], state.theme.style("border")));
        header_cells.push((
            Rect {
                x,
                y: head.y,
                width: *w as u16,
                height: 1,
            },
            *ci,
        ));
        x += *w as u16 + 2;
    }
    if hidden_right > 0 {
        // Right-aligned at the table's edge.
        let used: usize = spans.iter().map(|s| s.width()).sum();
        let more = format!("+{hidden_right} →");
        let pad = (head.width as usize).saturating_sub(used + crate::present::display_width(&more));
        spans.push(Span::raw(" ".repeat(pad)));
        spans.push(Span::styled(more, state.theme.style("text.accent")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), head);
    state.areas.header_cells = header_cells;
    state.areas.table_body = Some((body, first));

    // Rows.
    let mut lines = Vec::with_capacity(body.height as usize);
    for i in first..last {
        let Some(run) = state.runs.row(i) else {
            lines.push(Line::styled("  …", state.theme.style("text.dim")));
            continue;
        };
        let marked = state.runs.marked.contains(&run.id);
        let starred = !run.stars.is_empty();
        let mut spans = vec![
            Span::styled(
                if marked { "▌" } else { " " },
                state.theme.style("table.marked"),
            ),
            Span::styled(
                if starred { "★" } else { " " },
                state.theme.style("table.star"),
            ),
            Span::raw(" "),
        ];
        let (glyph, role) = status_glyph(run.status, state.theme.text_glyphs);
        spans.push(Span::styled(
            fit(glyph, glyph_w, false),
            state.theme.style(role),
        ));
        for (k, (ci, w)) in fitted.iter().enumerate() {
            let c = &cols[*ci];
            let mut text = cell(c, run, stat, now);
            if run.deleted && *c == Column::Name {
                text = format!("(deleted) {text}");
            }
            if let (Column::Metric(k), true) = (c, spark_w > 0) {
                // The value, then its history (blank until read, so columns do not jump).
                let spark = state
                    .runs
                    .sparks
                    .get(&(run.id.clone(), k.clone()))
                    .map(|(_, s)| crate::tui::widgets::chart::sparkline(s, spark_w))
                    .unwrap_or_default();
                text = format!("{text} {}", fit(&spark, spark_w, false));
            }
            let style = if run.deleted {
                state.theme.style("text.dim")
            } else if marked {
                state.theme.style("table.marked")
            } else {
                state.theme.style("text")
            };
            spans.push(Span::styled(fit(&text, *w, c.is_numeric()), style));
            spans.push(Span::styled(gaps[k], state.theme.style("border")));
        }
        let mut line = Line::from(spans);
        if i == state.runs.cursor && focused {
            line = line.style(state.theme.style("table.selected"));
        }
        lines.push(line);
    }
    if state.runs.total == 0 && !state.runs.loading() {
        let msg = if state.runs.applied_filter.trim().is_empty() {
            "no runs yet: `kiroku run -- python train.py` records one, `kiroku demo` makes a few"
                .to_string()
        } else {
            let fields = crate::query::parse_filter(&state.runs.applied_filter)
                .ok()
                .flatten()
                .map(|e| e.fields().into_iter().cloned().collect::<Vec<_>>())
                .unwrap_or_default();
            let hints =
                crate::present::key_hints::unknown_key_hints(&fields, &state.runs.known_keys);
            if hints.is_empty() {
                "no runs match the filter".to_string()
            } else {
                format!("no runs match the filter: {}", hints.join("; "))
            }
        };
        lines.push(Line::styled(
            format!("  {msg}"),
            state.theme.style("text.dim"),
        ));
    }
    frame.render_widget(Paragraph::new(lines), body);
}

/// A header cut to `w` cells; a sorted column keeps its arrow (the name is cut instead).
fn sorted_header(name: &str, desc: Option<bool>, w: usize) -> String {
    match desc {
        None => name.to_string(),
        Some(desc) => {
            let arrow = if desc { " ▼" } else { " ▲" };
            format!(
                "{}{arrow}",
                crate::present::truncate(name, w.saturating_sub(2))
            )
        }
    }
}

fn draw_filter_bar(frame: &mut Frame, area: Rect, state: &State, editing: bool) {
    let label = Span::styled(
        "/ filter: ",
        state
            .theme
            .style(if editing { "text.accent" } else { "text.dim" }),
    );
    let text = &state.runs.filter.text;
    let mut spans = vec![label];
    if editing {
        let cur = state.runs.filter.cursor;
        let before: String = text.chars().take(cur).collect();
        let at: String = text.chars().skip(cur).take(1).collect();
        let after: String = text.chars().skip(cur + 1).collect();
        spans.push(Span::styled(before, state.theme.style("input")));
        spans.push(Span::styled(
            if at.is_empty() { " ".to_string() } else { at },
            state.theme.style("input.cursor"),
        ));
        spans.push(Span::styled(after, state.theme.style("input")));
    } else if text.is_empty() {
        spans.push(Span::styled(
            "(none: / then e.g. metrics.acc > 0.9 and params.lr < 0.01)",
            state.theme.style("text.dim"),
        ));
    } else {
        spans.push(Span::styled(text.clone(), state.theme.style("input")));
    }
    if editing {
        spans.push(Span::styled(
            "   (enter: apply · esc: cancel)",
            state.theme.style("text.dim"),
        ));
    } else if !text.is_empty() {
        spans.push(Span::styled(
            "   (esc clears)",
            state.theme.style("text.dim"),
        ));
    }
    if state.runs.filter_deferred {
        spans.push(Span::styled(
            "   (enter searches this)",
            state.theme.style("text.dim"),
        ));
    }
    let mut lines = vec![Line::from(spans)];
    if let Some(e) = &state.runs.filter_error {
        // The caret sits under the offending column of the text above.
        let pad = "/ filter: ".len() + e.column.saturating_sub(1);
        lines.push(Line::from(vec![
            Span::raw(" ".repeat(pad)),
            Span::styled(format!("^ {}", e.message), state.theme.style("error.caret")),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_cut_header_keeps_its_sort_arrow() {
        let h = super::sorted_header("val/accuracy", Some(true), 8);
        assert!(
            h.ends_with(" ▼") && crate::present::display_width(&h) <= 8,
            "{h}"
        );
        assert_eq!(super::sorted_header("lr", Some(false), 8), "lr ▲");
        assert_eq!(
            super::sorted_header("val/accuracy", None, 8),
            "val/accuracy"
        );
    }
}
