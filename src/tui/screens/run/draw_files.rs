//! Drawing of the run screen's Source (commit, command, coloured diff), Artifacts (a folder
//! tree beside a preview of the selected file) and Notes (the thread) tabs.
use super::draw::scrolled;
use super::RunTab;
use super::RunView;
use crate::present::format_relative;
use crate::tui::app::State;
use crate::tui::artifact_tree::TreeRow;
use crate::tui::screens::{fit, kv};
use crate::tui::widgets::text::{diff_line, markdown};
use crate::tui::worker::Highlighted;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

/// `command  …`, highlighted as shell when that is done.
fn command_line(state: &State, rv: &RunView, command: &str, w: usize) -> Line<'static> {
    match rv.highlighted.get("source:command") {
        Some(Highlighted::Text(hl)) if hl.len() == 1 => {
            let mut spans = vec![Span::styled(
                fit("command", w, false),
                state.theme.style("text.dim"),
            )];
            spans.extend(hl[0].spans.iter().cloned());
            Line::from(spans)
        }
        _ => kv(state, "command", command.to_string(), w),
    }
}

pub(super) fn draw_source(frame: &mut Frame, area: Rect, state: &State) {
    let Some(rv) = &state.run else { return };
    let Some(d) = &rv.detail else { return };
    let s = &d.source;
    let w = 10;
    let mut lines = vec![
        kv(
            state,
            "commit",
            s.git_commit
                .clone()
                .unwrap_or_else(|| "— (not a git checkout)".into()),
            w,
        ),
        kv(state, "branch", s.git_branch.clone().unwrap_or_default(), w),
        kv(
            state,
            "dirty",
            match s.git_dirty {
                Some(true) => "yes (diff below)",
                Some(false) => "no",
                None => "—",
            },
            w,
        ),
        command_line(state, rv, &s.command.join(" "), w),
        kv(state, "cwd", s.cwd.clone().unwrap_or_default(), w),
        Line::raw(""),
    ];
    match &s.git_diff {
        Some(diff) if !diff.is_empty() => match rv.highlighted.get("source:diff") {
            Some(Highlighted::Text(hl)) => lines.extend(hl.iter().cloned()),
            // Until syntect is done (or with no syntax theme), the diff in role colours.
            _ => lines.extend(diff.lines().map(|l| diff_line(l, &state.theme))),
        },
        _ => lines.push(Line::styled(
            "no uncommitted changes recorded",
            state.theme.style("text.dim"),
        )),
    }
    let lines = scrolled(lines, rv.scroll_of(RunTab::Source), area.height as usize);
    frame.render_widget(Paragraph::new(lines), area);
}

fn human_size(n: u64) -> String {
    match n {
        0..=1023 => format!("{n} B"),
        1024..=1_048_575 => format!("{:.1} KiB", n as f64 / 1024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}

pub(super) fn draw_artifacts(frame: &mut Frame, area: Rect, state: &mut State) {
    let Some(rv) = &state.run else { return };
    let rows = rv.artifact_rows();
    if rows.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled(
                "no artifacts (kiroku log artifact FILE records one)",
                state.theme.style("text.dim"),
            )),
            area,
        );
        return;
    }
    let [list, rule, view] = Layout::horizontal([
        Constraint::Percentage(35),
        Constraint::Length(2),
        Constraint::Min(10),
    ])
    .areas(area);
    let rule_lines: Vec<Line> = (0..rule.height)
        .map(|_| Line::styled("│", state.theme.style("border")))
        .collect();
    frame.render_widget(Paragraph::new(rule_lines), rule);
    let cursor = rv.artifact_cursor.min(rows.len() - 1);
    let height = (list.height as usize).max(1);
    let top = cursor.saturating_sub(height - 1);
    let dim = state.theme.style("text.dim");
    let w = list.width as usize;
    let lines: Vec<Line> = rows
        .iter()
        .enumerate()
        .skip(top)
        .take(height)
        .map(|(i, row)| {
            // Indent, a fold marker for folders, the name, the size right-aligned.
            let indent = "  ".repeat(row.depth());
            let (marker, name, size, name_style) = match row {
                TreeRow::Folder {
                    name, open, size, ..
                } => (
                    if *open { "▾ " } else { "▸ " },
                    format!("{name}/"),
                    human_size(*size),
                    state.theme.style("text.accent"),
                ),
                TreeRow::File { index, name, .. } => {
                    let e = &rv.artifacts[*index];
                    let referenced = e.local.is_none() && e.location.is_some();
                    (
                        if referenced { "→ " } else { "  " },
                        name.clone(),
                        e.size.map(human_size).unwrap_or_default(),
                        Style::default(),
                    )
                }
            };
            let size_w = size.chars().count() + 1;
            let lead = format!("{indent}{marker}");
            let lead_w = crate::present::display_width(&lead).min(w.saturating_sub(size_w));
            let name_w = w.saturating_sub(size_w + lead_w);
            let mut l = Line::from(vec![
                Span::styled(fit(&lead, lead_w, false), dim),
                Span::styled(fit(&name, name_w, false), name_style),
                Span::styled(fit(&size, size_w, true), dim),
            ]);
            if i == cursor {
                l = l.style(state.theme.style("table.selected"));
            }
            l
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), list);
    state.areas.list = Some((list, top));
    let Some(rv) = &state.run else { return };
    let mut out = Vec::new();
    match &rows[cursor] {
        TreeRow::Folder {
            path,
            files,
            size,
            open,
            ..
        } => {
            out.push(Line::styled(format!("{path}/"), state.theme.style("title")));
            out.push(Line::styled(
                format!(
                    "{files} file{} · {}",
                    if *files == 1 { "" } else { "s" },
                    human_size(*size)
                ),
                dim,
            ));
            out.push(Line::raw(""));
            let key = state
                .keymap
                .key_for("run", crate::tui::keymap::Cmd::Open)
                .unwrap_or_default();
            out.push(Line::styled(
                format!("{key} {}", if *open { "closes it" } else { "opens it" }),
                dim,
            ));
        }
        TreeRow::File { index, .. } => {
            let e = &rv.artifacts[*index];
            out.push(Line::styled(e.path.clone(), state.theme.style("title")));
            out.push(Line::styled(
                format!(
                    "{} · sha256 {}",
                    e.size.map(human_size).unwrap_or("size unknown".into()),
                    e.hash.clone().unwrap_or("—".into())
                ),
                dim,
            ));
            out.push(Line::raw(""));
            match (
                e.local.is_some(),
                rv.highlighted.get(&format!("artifact:{}", e.path)),
            ) {
                (false, _) => {
                    out.push(Line::styled("(referenced, not copied into the store)", dim));
                    if let Some(loc) = &e.location {
                        out.push(Line::from(vec![
                            Span::styled("location ", dim),
                            Span::raw(loc.clone()),
                        ]));
                    }
                }
                (true, Some(Highlighted::Text(lines))) => {
                    out.extend(lines.iter().take(view.height as usize).cloned())
                }
                (true, Some(Highlighted::Binary)) => {
                    out.push(Line::styled("(binary file: no preview)", dim))
                }
                (true, Some(Highlighted::Unreadable(err))) => {
                    out.push(Line::styled(format!("(cannot read it: {err})"), dim))
                }
                (true, _) => out.push(Line::styled("reading…", dim)),
            }
        }
    }
    frame.render_widget(Paragraph::new(out), view);
}

pub(super) fn draw_notes(frame: &mut Frame, area: Rect, state: &mut State) {
    let Some(rv) = &state.run else { return };
    let Some(d) = &rv.detail else { return };
    if d.notes.is_empty() {
        let key = state
            .keymap
            .key_for("run", crate::tui::keymap::Cmd::Note)
            .unwrap_or_default();
        frame.render_widget(
            Paragraph::new(Line::styled(
                format!("no notes yet: {key} writes one"),
                state.theme.style("text.dim"),
            )),
            area,
        );
        return;
    }
    // Oldest first (newest last), replies under what they answer.
    let mut lines: Vec<Line> = Vec::new();
    let mut selected_line = 0;
    for (i, (at, depth)) in crate::present::thread_order(&d.notes)
        .into_iter()
        .enumerate()
    {
        let n = &d.notes[at];
        let indent = "    ".repeat(depth.min(4));
        if i == rv.notes_cursor {
            selected_line = lines.len();
        }
        let reply = n
            .reply_to
            .map(|r| format!(" ↳ reply to #{r}"))
            .unwrap_or_default();
        let mut head = Line::from(vec![
            Span::raw(indent.to_string()),
            Span::styled(
                format!("#{} {}", n.id, n.author),
                state.theme.style("text.accent"),
            ),
            Span::styled(
                format!(" · {}{reply}", format_relative(n.created_ms, state.now)),
                state.theme.style("text.dim"),
            ),
        ]);
        if i == rv.notes_cursor {
            head = head.style(state.theme.style("table.selected"));
        }
        lines.push(head);
        lines.extend(markdown(&n.body, &state.theme, &format!("{indent}  ")));
        lines.push(Line::raw(""));
    }
    let h = area.height as usize;
    let top = selected_line.saturating_sub(h / 3);
    frame.render_widget(
        Paragraph::new(scrolled(lines, top, h)).wrap(Wrap { trim: false }),
        area,
    );
}
