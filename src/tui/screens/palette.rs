//! The command palette (`:`): `:runs`, `:exp NAME`, `:activity`, `:jobs`, `:checks`, `:models`, `:launch`,
//! `:theme NAME`, `:columns`, `:compare`, `:help`, `:quit`, with completion (tab) of commands,
//! experiments and themes.
use super::overlays::{Layer, Overlay};
use super::{run, runs, Screen};
use crate::tui::app::{on_cmd, Action, Effect, State};
use crate::tui::editor::{edit_key, EditKey, Editor};
use crate::tui::keymap::Cmd;
use crate::tui::theme::Theme;
use crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

/// Palette commands with their argument completions.
pub const PALETTE: &[(&str, &str)] = &[
    ("runs", "the runs table"),
    ("exp", "switch experiment: :exp NAME (or :exp * for all)"),
    ("activity", "the activity log"),
    ("jobs", "the jobs queue, GPUs and job logs"),
    (
        "checks",
        "check runs waiting for review, history per dataset",
    ),
    (
        "models",
        "registered models: versions, gates, approvals, history, hooks",
    ),
    ("launch", "launch a job (the form)"),
    ("theme", "switch theme: :theme NAME"),
    ("columns", "choose the table's columns"),
    ("compare", "compare the marked runs"),
    ("help", "key bindings"),
    ("quit", "quit"),
];

/// Completions for the palette's current input (whole command lines).
pub fn palette_completions(state: &State, input: &str) -> Vec<String> {
    let input = input.trim_start();
    if let Some((cmd, arg)) = input.split_once(' ') {
        let options: Vec<String> = match cmd {
            "exp" => std::iter::once("*".to_string())
                .chain(state.experiments.iter().map(|e| e.name.clone()))
                .collect(),
            "theme" => crate::tui::theme::names(),
            _ => vec![],
        };
        return options
            .into_iter()
            .filter(|o| o.starts_with(arg.trim()))
            .map(|o| format!("{cmd} {o}"))
            .collect();
    }
    PALETTE
        .iter()
        .filter(|(c, _)| c.starts_with(input))
        .map(|(c, _)| c.to_string())
        .collect()
}

/// Opens the palette (`:`).
pub fn open(state: &mut State) {
    state.overlay = Some(Overlay::Palette {
        input: Editor::default(),
        selected: 0,
    });
}

pub struct PaletteLayer;

impl Layer for PaletteLayer {
    fn handle_key(&self, _state: &State, key: KeyEvent) -> Option<Action> {
        edit_key(key, false).map(Action::Edit)
    }

    /// Typing edits, tab completes, up and down pick a completion, enter runs, esc closes.
    fn update(&self, state: &mut State, action: &Action) -> Option<Vec<Effect>> {
        let Action::Edit(key) = action else {
            return None;
        };
        let Some(Overlay::Palette {
            mut input,
            mut selected,
        }) = state.overlay.take()
        else {
            return None;
        };
        let completions = palette_completions(state, &input.text);
        match *key {
            EditKey::Cancel => return Some(vec![]),
            EditKey::Submit => {
                let line = if input.text.contains(' ') || completions.is_empty() {
                    input.text.clone()
                } else {
                    completions
                        .get(selected)
                        .cloned()
                        .unwrap_or(input.text.clone())
                };
                return Some(run_palette(state, line.trim()));
            }
            EditKey::Complete => {
                if let Some(c) = completions.get(selected) {
                    input = Editor::with_text(c);
                    if PALETTE.iter().any(|(n, _)| *n == c.as_str())
                        && matches!(c.as_str(), "exp" | "theme")
                    {
                        input.apply(EditKey::Char(' '));
                    }
                    selected = 0;
                }
            }
            EditKey::Down => selected = (selected + 1).min(completions.len().saturating_sub(1)),
            EditKey::Up => selected = selected.saturating_sub(1),
            k => {
                if input.apply(k) {
                    selected = 0;
                }
            }
        }
        state.overlay = Some(Overlay::Palette { input, selected });
        Some(vec![])
    }

    fn draw(&self, frame: &mut Frame, area: Rect, state: &State) {
        if let Some(Overlay::Palette { input, selected }) = &state.overlay {
            draw(frame, area, state, input, *selected);
        }
    }
}

/// Runs a command line (without the `:`).
fn run_palette(state: &mut State, line: &str) -> Vec<Effect> {
    let (cmd, arg) = line.split_once(' ').unwrap_or((line, ""));
    let arg = arg.trim();
    match cmd {
        "runs" => {
            state.history.clear();
            state.screen = Screen::Runs;
            vec![]
        }
        "exp" => {
            if arg.is_empty() || arg == "*" {
                runs::select_experiment(state, None)
            } else if let Some(e) = state.experiments.iter().find(|e| e.name == arg) {
                let name = e.name.clone();
                runs::select_experiment(state, Some(name))
            } else {
                state.error(format!("no experiment '{arg}'"));
                vec![]
            }
        }
        "activity" => on_cmd(state, Cmd::Activity),
        "jobs" => on_cmd(state, Cmd::Jobs),
        "checks" => on_cmd(state, Cmd::Checks),
        "models" => on_cmd(state, Cmd::Models),
        "launch" => {
            super::launch::open_empty(state);
            vec![]
        }
        "theme" => match Theme::load(arg) {
            Ok(t) => {
                state.theme = t;
                state.ui.theme = Some(arg.to_string());
                state.info(format!("theme {arg}"));
                if let Some(rv) = state.run.as_mut() {
                    rv.highlighted.clear();
                }
                let mut out = vec![Effect::SaveUiState];
                out.extend(run::highlight_requests(state));
                out
            }
            Err(e) => {
                state.error(e);
                vec![]
            }
        },
        "columns" => {
            super::runs::columns::open(state);
            vec![]
        }
        "compare" => on_cmd(state, Cmd::Compare),
        "help" => on_cmd(state, Cmd::Help),
        "quit" | "q" => on_cmd(state, Cmd::Quit),
        "" => vec![],
        other => {
            state.error(format!("unknown command ':{other}' (try :help)"));
            vec![]
        }
    }
}

fn draw(frame: &mut Frame, area: Rect, state: &State, input: &Editor, selected: usize) {
    let completions = palette_completions(state, &input.text);
    let h = (completions.len() as u16 + 3)
        .min(area.height.saturating_sub(2))
        .max(3);
    let w = area.width.saturating_sub(4).min(70);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + 2,
        width: w,
        height: h,
    };
    frame.render_widget(Clear, r);
    let b = super::block(
        state,
        Span::styled(
            " : command · tab completes · enter runs ",
            state.theme.style("title"),
        ),
        true,
    );
    let inner = b.inner(r);
    frame.render_widget(b, r);
    let mut lines = vec![Line::from(vec![
        Span::styled(":", state.theme.style("text.accent")),
        Span::styled(input.text.clone(), state.theme.style("input")),
        Span::styled(" ", state.theme.style("input.cursor")),
    ])];
    for (i, c) in completions.iter().enumerate() {
        let desc = PALETTE
            .iter()
            .find(|(n, _)| *n == c.as_str())
            .map(|(_, d)| *d)
            .unwrap_or("");
        let mut line = Line::from(vec![
            Span::raw(format!(" {}", super::fit(c, 24, false))),
            Span::styled(desc.to_string(), state.theme.style("text.dim")),
        ]);
        if i == selected {
            line = line.style(state.theme.style("table.selected"));
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::screens::test_support::{press, state, typed};
    use crossterm::event::KeyCode;

    #[test]
    fn commands_and_experiments_complete() {
        let s = state();
        assert_eq!(palette_completions(&s, "co"), ["columns", "compare"]);
        assert_eq!(palette_completions(&s, "exp "), ["exp *"]);
        assert!(palette_completions(&s, "theme ").len() > 1);
    }

    #[test]
    fn tab_completes_enter_runs_and_unknown_commands_say_so() {
        let mut s = state();
        typed(&mut s, ":act");
        press(&mut s, KeyCode::Tab);
        assert!(
            matches!(&s.overlay, Some(Overlay::Palette { input, .. }) if input.text == "activity")
        );
        press(&mut s, KeyCode::Enter);
        assert_eq!(s.screen, Screen::Activity);
        typed(&mut s, ":nope");
        press(&mut s, KeyCode::Enter);
        assert!(s.overlay.is_none());
        assert!(s.message.as_ref().unwrap().error);
    }
}
