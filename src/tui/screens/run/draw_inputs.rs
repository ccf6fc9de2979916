//! The run screen's Inputs tab: each dataset version the run read, with its newest check run's
//! status and whether it is cleared for use (passed, or every warned/failed result reviewed),
//! as `--require-checks` would decide (`store::checks_gate`).
use crate::store::checks_gate::{Gate, Standing};
use crate::tui::app::State;
use crate::tui::screens::checks::check_glyph;
use crate::tui::screens::fit;
use crate::tui::worker::InputCheck;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// What the REVIEW column says of a gate, and its role.
pub fn review_state(gate: &Gate) -> (String, &'static str) {
    let Some(run) = &gate.check_run else {
        return ("not checked".into(), "text.dim");
    };
    if gate.blockers.is_empty() {
        let reviewed = run.run.results.iter().any(|r| r.status.needs_review());
        return if reviewed {
            ("reviewed · cleared".into(), "status.finished")
        } else {
            ("cleared".into(), "status.finished")
        };
    }
    let named = |pick: fn(&Standing) -> bool| -> Vec<&str> {
        gate.blockers
            .iter()
            .filter(|b| pick(&b.standing))
            .map(|b| b.result.id.as_str())
            .collect()
    };
    let rejected = named(|s| matches!(s, Standing::Rejected(_)));
    let awaiting = named(|s| matches!(s, Standing::Awaiting { .. }));
    let mut parts = Vec::new();
    if !rejected.is_empty() {
        parts.push(format!("rejected: {}", rejected.join(", ")));
    }
    if !awaiting.is_empty() {
        parts.push(format!("awaiting review: {}", awaiting.join(", ")));
    }
    (parts.join(" · "), "status.failed")
}

fn input_line(state: &State, input: &InputCheck, widths: &[usize; 4]) -> Line<'static> {
    let i = &input.input;
    let cell = |text: &str, w: usize, role: &str| {
        Span::styled(fit(text, w, false) + " ", state.theme.style(role))
    };
    let mut spans = vec![cell(&i.name, widths[0], "text.accent")];
    match &input.gate {
        Err(e) => {
            spans.push(cell(&i.dataset, widths[1], "text"));
            spans.push(Span::styled(e.clone(), state.theme.style("message.error")));
        }
        Ok(gate) => {
            let hex = gate
                .version
                .id
                .strip_prefix("sha256:")
                .unwrap_or(&gate.version.id);
            let version = format!(
                "{}@{} ({})",
                gate.version.dataset,
                gate.version.number,
                &hex[..hex.len().min(8)]
            );
            spans.push(cell(&version, widths[1], "text"));
            let (check, role) = match &gate.check_run {
                Some(run) => {
                    let (glyph, role) = check_glyph(run.run.status, state.theme.text_glyphs);
                    (
                        format!("{glyph} {} · #{} {}", run.run.status, run.id, run.run.suite),
                        role,
                    )
                }
                None => ("—".to_string(), "text.dim"),
            };
            spans.push(cell(&check, widths[2], role));
            let (review, role) = review_state(gate);
            spans.push(Span::styled(
                fit(&review, widths[3], false),
                state.theme.style(role),
            ));
        }
    }
    Line::from(spans)
}

pub fn draw_inputs(frame: &mut Frame, area: Rect, state: &mut State) {
    let Some(rv) = state.run.as_ref() else { return };
    let dim = state.theme.style("text.dim");
    let lines: Vec<Line> = match &rv.inputs {
        None => vec![Line::styled("reading the run's inputs…", dim)],
        Some(inputs) if inputs.is_empty() => vec![
            Line::styled("no inputs recorded for this run", dim),
            Line::styled(
                "declare them with kiroku run --input NAME=PATH, or kiroku log input NAME=PATH",
                dim,
            ),
        ],
        Some(inputs) => {
            let w = area.width as usize;
            let name_w = inputs
                .iter()
                .map(|i| crate::present::display_width(&i.input.name))
                .max()
                .unwrap_or(5)
                .clamp(5, 16);
            let version_w = (w / 4).clamp(12, 36);
            let check_w = (w / 4).clamp(10, 36);
            let review_w = w.saturating_sub(name_w + version_w + check_w + 3);
            let widths = [name_w, version_w, check_w, review_w];
            let header = ["INPUT", "DATASET VERSION", "LATEST CHECK", "REVIEW"];
            let mut lines = vec![Line::from(
                header
                    .iter()
                    .zip(widths)
                    .map(|(t, w)| {
                        Span::styled(fit(t, w, false) + " ", state.theme.style("table.header"))
                    })
                    .collect::<Vec<_>>(),
            )];
            lines.extend(inputs.iter().map(|i| input_line(state, i, &widths)));
            let waiting = inputs
                .iter()
                .filter_map(|i| i.gate.as_ref().ok())
                .filter(|g| !g.passes())
                .count();
            lines.push(Line::raw(""));
            lines.push(Line::styled(
                if waiting == 0 {
                    "every input is checked and cleared".to_string()
                } else {
                    format!(
                        "{waiting} input{} not cleared · C opens the Checks screen",
                        if waiting == 1 { "" } else { "s" }
                    )
                },
                dim,
            ));
            lines
        }
    };
    frame.render_widget(Paragraph::new(lines), area);
}
