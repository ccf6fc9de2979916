//! Drawing the Checks screen: the check runs (waiting for review, then per dataset) beside the
//! selected run's results on a wide terminal (the focused pane alone on a narrow one); below the
//! results, the selected result: observed vs expected, what was unexpected, the review, and its
//! failing rows as a table or, for drift, the reference and current distributions side by side.
use super::{counts, datasets_label, ordered_results, ChecksFocus, ListGroup};
use crate::model::data::{CheckResult, CheckRun, CheckStatus, Review};
use crate::present::checks::{expected_text, json_text, samples_table, summary_line};
use crate::present::{display_width, format_relative, truncate};
use crate::store::checks_gate::Standing;
use crate::tui::app::State;
use crate::tui::screens::{block, fit, grouped_lines};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use serde_json::Value as Json;

/// From this width on, the list sits beside the results.
const SIDE_BY_SIDE_W: u16 = 110;
/// Failing rows shown for the selected result.
const SAMPLE_ROWS: usize = 20;

/// A check status as a glyph (or text for mono themes) with its role.
pub fn check_glyph(status: CheckStatus, text: bool) -> (&'static str, &'static str) {
    let role = match status {
        CheckStatus::Pass => "status.finished",
        CheckStatus::Unsupported => "status.lost",
        CheckStatus::Warn => "status.killed",
        CheckStatus::Fail | CheckStatus::Error => "status.failed",
    };
    let glyph = match (status, text) {
        (CheckStatus::Pass, false) => "✔",
        (CheckStatus::Unsupported, false) => "?",
        (CheckStatus::Warn, false) => "!",
        (CheckStatus::Fail, false) => "✘",
        (CheckStatus::Error, false) => "⚠",
        (CheckStatus::Pass, true) => "ok",
        (CheckStatus::Unsupported, true) => "unsp",
        (CheckStatus::Warn, true) => "WARN",
        (CheckStatus::Fail, true) => "FAIL",
        (CheckStatus::Error, true) => "ERR",
    };
    (glyph, role)
}

pub fn draw(frame: &mut Frame, area: Rect, state: &mut State) {
    if area.width >= SIDE_BY_SIDE_W {
        let list_w = (area.width * 2 / 5).clamp(44, 72);
        let [list, results] =
            Layout::horizontal([Constraint::Length(list_w), Constraint::Min(20)]).areas(area);
        draw_list(frame, list, state);
        draw_results(frame, results, state);
    } else if state.checks.focus == ChecksFocus::List {
        draw_list(frame, area, state);
    } else {
        draw_results(frame, area, state);
    }
}

/// `3✔ 1! 2✘` (text glyphs: `3 ok 1 warn 2 fail`).
fn counts_text(run: &CheckRun, text: bool) -> String {
    let (pass, warn, fail) = counts(run);
    if text {
        format!("{pass} ok {warn} warn {fail} fail")
    } else {
        format!("{pass}✔ {warn}! {fail}✘")
    }
}

fn run_line(state: &State, run: &CheckRun, width: usize, selected: bool) -> Line<'static> {
    let (glyph, role) = check_glyph(run.run.status, state.theme.text_glyphs);
    let counts = counts_text(run, state.theme.text_glyphs);
    let when = format_relative(run.run.ended_at, state.now);
    let wide = width >= 56;
    // glyph, id, then datasets and suite share what the fixed columns leave.
    let fixed = 2 + 5 + 10 + if wide { 9 + 10 } else { 0 } + display_width(&counts) + 1;
    let flex = width.saturating_sub(fixed).max(8);
    let (data_w, suite_w) = if wide {
        (flex * 3 / 5, flex - flex * 3 / 5)
    } else {
        (flex, 0)
    };
    let mut spans = vec![
        Span::styled(fit(glyph, 1, false) + " ", state.theme.style(role)),
        Span::styled(
            fit(&run.id.to_string(), 4, false) + " ",
            state.theme.style("text.accent"),
        ),
        Span::styled(
            fit(&datasets_label(run), data_w, false) + " ",
            state.theme.style("text"),
        ),
    ];
    if wide {
        spans.push(Span::styled(
            fit(&run.run.suite, suite_w.saturating_sub(1), false) + " ",
            state.theme.style("text"),
        ));
    }
    spans.push(Span::styled(
        fit(&when, 9, false) + " ",
        state.theme.style("text.dim"),
    ));
    if wide {
        spans.push(Span::styled(
            fit(&run.run.user, 9, false) + " ",
            state.theme.style("text.dim"),
        ));
    }
    spans.push(Span::styled(counts, state.theme.style("text")));
    let line = Line::from(spans);
    if selected {
        line.style(state.theme.style("table.selected"))
    } else {
        line
    }
}

fn draw_list(frame: &mut Frame, area: Rect, state: &mut State) {
    let v = &state.checks;
    let title = format!(
        " Check runs · {} waiting for review · {} shown ",
        v.waiting(),
        v.runs.len()
    );
    let b = block(
        state,
        Span::styled(title, state.theme.style("title")),
        v.focus == ChecksFocus::List,
    );
    let inner = b.inner(area);
    frame.render_widget(b, area);
    let dim = state.theme.style("text.dim");
    let rows = v.rows();
    if rows.is_empty() {
        let text = if v.loaded {
            vec![
                Line::styled("no check runs yet", dim),
                Line::styled("check data with: kiroku check SUITE --data NAME=PATH", dim),
            ]
        } else {
            vec![Line::styled("loading check runs…", dim)]
        };
        frame.render_widget(
            Paragraph::new(text).wrap(ratatui::widgets::Wrap { trim: false }),
            inner,
        );
        state.areas.list = Some((inner, 0));
        state.areas.check_lines = Vec::new();
        return;
    }
    // Every line: a group title (None) or a run (its index in `rows`).
    let cursor = v.cursor();
    let groups: Vec<&ListGroup> = rows.iter().map(|(g, _)| g).collect();
    let h = inner.height as usize;
    let (items, first) = grouped_lines(&groups, cursor, h);
    let width = inner.width as usize;
    let mut lines = Vec::new();
    let mut check_lines = Vec::new();
    for (k, item) in items.iter().enumerate().skip(first).take(h) {
        match item {
            None => {
                let g = items[k + 1..]
                    .iter()
                    .flatten()
                    .next()
                    .map(|i| rows[*i].0.clone())
                    .unwrap_or(ListGroup::Waiting);
                let n = rows.iter().filter(|(gr, _)| *gr == g).count();
                let role = if g == ListGroup::Waiting {
                    "status.failed"
                } else {
                    "text.dim"
                };
                lines.push(Line::styled(
                    truncate(&format!("─ {} ({n}) ", g.title()), width),
                    state.theme.style(role),
                ));
                check_lines.push(None);
            }
            Some(i) => {
                let run = rows[*i].1;
                lines.push(run_line(state, run, width, *i == cursor));
                check_lines.push(Some(run.id));
            }
        }
    }
    frame.render_widget(Paragraph::new(lines), inner);
    state.areas.list = Some((inner, first));
    state.areas.check_lines = check_lines;
}

/// What the REVIEW column says of a result's standing.
fn standing_text(standing: Option<&Standing>) -> (String, &'static str) {
    match standing {
        None => ("…".into(), "text.dim"),
        Some(Standing::Clear) => ("—".into(), "text.dim"),
        Some(Standing::Accepted(r)) => (
            format!("{} · {}", r.review.verdict, r.review.reviewer),
            "status.finished",
        ),
        Some(Standing::Rejected(r)) => {
            (format!("rejected · {}", r.review.reviewer), "status.failed")
        }
        Some(Standing::Awaiting { .. }) => ("awaiting review".into(), "status.failed"),
    }
}

fn run_title(run: &CheckRun) -> String {
    let (_, warn, fail) = counts(run);
    format!(
        " #{} {} · suite {} · {} ({} of {} failed, {} warned) · {} ",
        run.id,
        datasets_label(run),
        run.run.suite,
        run.run.status,
        fail,
        run.run.results.len(),
        warn,
        run.run.user
    )
}

fn draw_results(frame: &mut Frame, area: Rect, state: &mut State) {
    let v = &state.checks;
    let focused = v.focus == ChecksFocus::Results;
    let Some(run) = v.selected_run() else {
        let b = block(
            state,
            Span::styled(" Results ", state.theme.style("title")),
            focused,
        );
        let inner = b.inner(area);
        frame.render_widget(b, area);
        let text = if v.loaded {
            "no check run selected"
        } else {
            "loading…"
        };
        frame.render_widget(
            Paragraph::new(Line::styled(text, state.theme.style("text.dim"))),
            inner,
        );
        return;
    };
    let b = block(
        state,
        Span::styled(run_title(run), state.theme.style("title")),
        focused,
    );
    let inner = b.inner(area);
    frame.render_widget(b, area);
    let results = ordered_results(run);
    let table_h = ((results.len() + 1) as u16).min(inner.height / 2).max(2);
    let [table, detail] =
        Layout::vertical([Constraint::Length(table_h), Constraint::Min(0)]).areas(inner);
    let cursor = v.result_cursor();
    let width = table.width as usize;
    // ST, CHECK, OBSERVED, EXPECTED, REVIEW.
    let flex = width.saturating_sub(5);
    let check_w = (flex / 4).max(8);
    let review_w = (flex / 5).max(8);
    let rest = flex.saturating_sub(check_w + review_w + 3);
    let observed_w = rest / 2;
    let expected_w = rest - observed_w;
    let cols = [
        ("ST", 4),
        ("CHECK", check_w),
        ("OBSERVED", observed_w),
        ("EXPECTED", expected_w),
        ("REVIEW", review_w),
    ];
    let mut lines = vec![Line::from(
        cols.iter()
            .map(|(t, w)| Span::styled(fit(t, *w, false) + " ", state.theme.style("table.header")))
            .collect::<Vec<_>>(),
    )];
    let body_h = (table_h as usize).saturating_sub(1);
    let first = (cursor + 1).saturating_sub(body_h);
    for (i, r) in results.iter().enumerate().skip(first).take(body_h) {
        let (glyph, role) = check_glyph(r.status, state.theme.text_glyphs);
        let standing = v.standing(r, state.now);
        let (review, review_role) = standing_text(standing.as_ref());
        let cells = [
            (glyph.to_string(), role),
            (r.id.clone(), "text"),
            (summary_line(r), "text"),
            (expected_text(&r.expected), "text.dim"),
            (review, review_role),
        ];
        let spans: Vec<Span> = cells
            .iter()
            .zip(cols.iter())
            .map(|((text, role), (_, w))| {
                Span::styled(fit(text, *w, false) + " ", state.theme.style(role))
            })
            .collect();
        let mut line = Line::from(spans);
        if i == cursor && focused {
            line = line.style(state.theme.style("table.selected"));
        } else if i == cursor {
            line = line.style(state.theme.style("text.accent"));
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), table);
    let areas_list = (
        Rect {
            y: table.y + 1,
            height: table.height.saturating_sub(1),
            ..table
        },
        first,
    );
    if focused || area.width < SIDE_BY_SIDE_W {
        state.areas.list = Some(areas_list);
    }
    let v = &state.checks;
    if let Some(result) = v.selected_result() {
        let standing = v.standing(result, state.now);
        let lines = result_lines(state, result, standing.as_ref(), detail.width as usize);
        frame.render_widget(Paragraph::new(lines), detail);
    }
}

/// A rule with a title across `width`.
fn rule(state: &State, title: &str, width: usize) -> Line<'static> {
    let head = format!("─ {title} ");
    let fill = width.saturating_sub(display_width(&head));
    Line::styled(
        truncate(&format!("{head}{}", "─".repeat(fill)), width),
        state.theme.style("text.dim"),
    )
}

fn kv_line(state: &State, key: &str, value: String, width: usize, style: Style) -> Line<'static> {
    Line::from(vec![
        Span::styled(fit(key, 11, false), state.theme.style("text.dim")),
        Span::styled(truncate(&value, width.saturating_sub(11)), style),
    ])
}

fn review_text(standing: Option<&Standing>, now: crate::model::Millis) -> (String, &'static str) {
    let said = |r: &Review| {
        let comment = if r.review.comment.is_empty() {
            String::new()
        } else {
            format!(": \"{}\"", r.review.comment)
        };
        format!(
            "{} by {} {}{}{comment}",
            r.review.verdict,
            r.review.reviewer,
            format_relative(r.created_at, now),
            crate::present::time::until_text(r.review.expires_at)
        )
    };
    match standing {
        None => ("reading reviews…".into(), "text.dim"),
        Some(Standing::Clear) => ("nothing to review".into(), "text.dim"),
        Some(Standing::Accepted(r)) => (said(r), "status.finished"),
        Some(Standing::Rejected(r)) => (said(r), "status.failed"),
        Some(Standing::Awaiting { why, .. }) => (
            format!("awaiting review ({why}) · a approve  w waive  r reject"),
            "status.failed",
        ),
    }
}

/// The selected result's detail lines.
fn result_lines(
    state: &State,
    r: &CheckResult,
    standing: Option<&Standing>,
    width: usize,
) -> Vec<Line<'static>> {
    let text = state.theme.style("text");
    let mut on = match (&r.column, r.columns.is_empty()) {
        (Some(c), _) => format!(" on {c}"),
        (None, false) => format!(" on {}", r.columns.join(", ")),
        (None, true) => String::new(),
    };
    if let Some(d) = &r.dataset {
        on.push_str(&format!(" · dataset {d}"));
    }
    let mut lines = vec![
        rule(state, &format!("{} ({}{on})", r.id, r.check_type), width),
        kv_line(state, "observed", json_text(&r.observed), width, text),
        kv_line(state, "expected", expected_text(&r.expected), width, text),
    ];
    if r.unexpected_count.is_some() {
        lines.push(kv_line(state, "unexpected", summary_line(r), width, text));
    }
    if let Some(m) = &r.message {
        lines.push(kv_line(state, "message", m.clone(), width, text));
    }
    if !r.top_unexpected.is_empty() {
        let values = r
            .top_unexpected
            .iter()
            .map(|v| format!("{} ({})", json_text(&v.value), v.count))
            .collect::<Vec<_>>()
            .join(" · ");
        lines.push(kv_line(state, "outside", values, width, text));
    }
    let (review, role) = review_text(standing, state.now);
    lines.push(kv_line(
        state,
        "review",
        review,
        width,
        state.theme.style(role),
    ));
    if let Some(bins) = r.details.get("bins").and_then(Json::as_array) {
        lines.extend(drift_lines(state, &r.details, bins, width));
    } else if !r.samples.is_empty() {
        let shown = r.samples.len().min(SAMPLE_ROWS);
        let of = r
            .unexpected_count
            .map(|n| format!(" of {n}"))
            .unwrap_or_default();
        lines.push(rule(
            state,
            &format!("failing rows (first {shown}{of})"),
            width,
        ));
        let table = samples_table(&r.samples, SAMPLE_ROWS, "");
        for (i, l) in table.lines().enumerate() {
            let style = if i == 0 {
                state.theme.style("table.header")
            } else {
                text
            };
            lines.push(Line::styled(truncate(l, width), style));
        }
    }
    lines
}

/// A share as a bar `w` cells wide and a percentage.
fn share_cell(share: f64, w: usize) -> (String, String) {
    let filled = (share.clamp(0.0, 1.0) * w as f64).round() as usize;
    (
        format!("{}{}", "█".repeat(filled), "░".repeat(w - filled)),
        format!("{:>6.1}%", share * 100.0),
    )
}

/// The reference and current distributions side by side, one line per bin or category.
fn drift_lines(state: &State, details: &Json, bins: &[Json], width: usize) -> Vec<Line<'static>> {
    let method = details
        .get("method")
        .and_then(Json::as_str)
        .unwrap_or("drift");
    let mut title = format!("distributions ({method}");
    if let Some(p) = details.get("p_value").and_then(Json::as_f64) {
        title.push_str(&format!(", p {}", crate::present::format_value(p)));
    }
    title.push(')');
    let label_w = bins
        .iter()
        .filter_map(|b| b.get("bin"))
        .map(|b| display_width(&json_text(b)))
        .max()
        .unwrap_or(3)
        .clamp(3, 24);
    // label, then two sides of bar + percentage.
    let bar_w = (width.saturating_sub(label_w + 2 + 2 * 9) / 2).clamp(4, 30);
    let side_w = bar_w + 8;
    let mut lines = vec![
        rule(state, &title, width),
        Line::styled(
            format!(
                "{} {} {}",
                fit("BIN", label_w, false),
                fit("REFERENCE", side_w, false),
                fit("CURRENT", side_w, false)
            ),
            state.theme.style("table.header"),
        ),
    ];
    for b in bins {
        let label = b.get("bin").map(json_text).unwrap_or_default();
        let share = |k: &str| b.get(k).and_then(Json::as_f64).unwrap_or(0.0);
        let (rb, rp) = share_cell(share("reference"), bar_w);
        let (cb, cp) = share_cell(share("current"), bar_w);
        lines.push(Line::from(vec![
            Span::styled(fit(&label, label_w, false) + " ", state.theme.style("text")),
            Span::styled(rb, state.theme.style("text.dim")),
            Span::raw(rp + " "),
            Span::styled(cb, state.theme.style("status.running")),
            Span::raw(cp),
        ]));
    }
    lines
}
