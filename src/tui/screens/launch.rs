//! The launch form: queue a job from the UI, as `kiroku submit` does. Fields: target (a
//! choice: the configured targets and `local`), GPUs, experiment, name, command and params.
//! `n` on the Jobs screen (or `:launch`) opens it empty; `R` on the runs table or a run opens
//! it filled from that run (its command, experiment, name, and its job's target and GPUs when
//! a job started it) to run it again with edited params, linked to it (`rerun_of`).
//!
//! Params are `k=v` words (quoted like the command). In a rerun they set the command's `--k`
//! flags, appended when missing (`jobs::rerun::rewrite_flags`, as `kiroku rerun --set` does);
//! in a new job they are given to the run as params (as `kiroku submit --param`). Keys: tab / down next field, backtab / up previous,
//! left / right choose the target, enter queues, esc closes.
use super::overlays::{centered, Layer, Overlay};
use crate::model::{Job, NewJob, RunDetail};
use crate::present::{shell_words, split_shell_words};
use crate::tui::app::{Action, Effect, State};
use crate::tui::editor::{edit_key, EditKey, Editor};
use crate::tui::worker::{Request, Write, TARGET_TAG};
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

/// The form's fields, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Target,
    Gpus,
    Experiment,
    Name,
    Command,
    Params,
}

impl Field {
    pub const ALL: [Field; 6] = [
        Field::Target,
        Field::Gpus,
        Field::Experiment,
        Field::Name,
        Field::Command,
        Field::Params,
    ];

    fn label(self) -> &'static str {
        match self {
            Field::Target => "target",
            Field::Gpus => "GPUs",
            Field::Experiment => "experiment",
            Field::Name => "name",
            Field::Command => "command",
            Field::Params => "params",
        }
    }

    fn step(self, forward: bool) -> Field {
        let i = Field::ALL.iter().position(|f| *f == self).unwrap_or(0);
        let n = Field::ALL.len();
        Field::ALL[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LaunchForm {
    /// The targets to choose from, and the chosen one.
    pub targets: Vec<String>,
    pub target: usize,
    pub gpus: Editor,
    pub experiment: Editor,
    pub name: Editor,
    /// The command as a shell line (`present::shell_words`).
    pub command: Editor,
    /// `k=v` words.
    pub params: Editor,
    pub focus: Field,
    /// The run this launch runs again.
    pub rerun_of: Option<String>,
    /// Where the command runs (the original run's folder for a rerun; else the UI's).
    pub workdir: String,
}

impl LaunchForm {
    /// An empty form: the default target, the experiment shown in the runs table (else the
    /// configured one, else `Default`).
    pub fn empty(state: &State) -> LaunchForm {
        let targets = state.jobs.target_names();
        let config = &state.jobs.context.config;
        let default = config
            .default_target
            .clone()
            .unwrap_or_else(|| crate::jobs::targets::LOCAL.to_string());
        let experiment = state
            .runs
            .experiment
            .clone()
            .or_else(|| config.run.experiment.clone())
            .unwrap_or_else(|| "Default".to_string());
        LaunchForm {
            target: targets.iter().position(|t| *t == default).unwrap_or(0),
            targets,
            gpus: Editor::with_text("0"),
            experiment: Editor::with_text(&experiment),
            name: Editor::default(),
            command: Editor::default(),
            params: Editor::default(),
            focus: Field::Command,
            rerun_of: None,
            workdir: std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|_| ".".into()),
        }
    }

    /// A form to run `d` again: its command, experiment and name; the target and GPUs of the
    /// job that started it (else the default target, no GPUs); as params, the run's params that
    /// are flags of its command, to edit.
    pub fn rerun(state: &State, d: &RunDetail, job: Option<&Job>) -> LaunchForm {
        let mut form = LaunchForm::empty(state);
        let target = job
            .map(|j| j.target.clone())
            .or_else(|| d.run.tags.get(TARGET_TAG).cloned());
        if let Some(t) = target {
            if !form.targets.contains(&t) {
                form.targets.push(t.clone());
            }
            form.target = form.targets.iter().position(|n| *n == t).unwrap_or(0);
        }
        if let Some(j) = job {
            form.gpus = Editor::with_text(&j.gpus.to_string());
        }
        form.experiment = Editor::with_text(&d.run.experiment);
        form.name = Editor::with_text(&d.run.name);
        form.command = Editor::with_text(&shell_words(&d.source.command));
        let flags: Vec<String> = crate::wrap::source::flag_params(&d.source.command)
            .into_iter()
            .filter(|(k, _)| d.run.params.contains_key(k))
            .map(|(k, v)| shell_words(&[format!("{k}={v}")]))
            .collect();
        form.params = Editor::with_text(&flags.join(" "));
        form.focus = Field::Params;
        form.rerun_of = Some(d.run.id.clone());
        if let Some(cwd) = &d.source.cwd {
            form.workdir = cwd.clone();
        }
        form
    }

    fn editor(&mut self, field: Field) -> Option<&mut Editor> {
        match field {
            Field::Target => None,
            Field::Gpus => Some(&mut self.gpus),
            Field::Experiment => Some(&mut self.experiment),
            Field::Name => Some(&mut self.name),
            Field::Command => Some(&mut self.command),
            Field::Params => Some(&mut self.params),
        }
    }

    fn text(&self, field: Field) -> String {
        match field {
            Field::Target => self.targets.get(self.target).cloned().unwrap_or_default(),
            Field::Gpus => self.gpus.text.clone(),
            Field::Experiment => self.experiment.text.clone(),
            Field::Name => self.name.text.clone(),
            Field::Command => self.command.text.clone(),
            Field::Params => self.params.text.clone(),
        }
    }

    /// The job the form describes, for `user` on `host`; an error names the field at fault.
    pub fn to_job(&self, user: &str, host: &str) -> Result<NewJob, String> {
        let gpus: u32 = match self.gpus.text.trim() {
            "" => 0,
            t => t
                .parse()
                .map_err(|_| format!("GPUs: '{t}' is not a whole number"))?,
        };
        let command = split_shell_words(&self.command.text).map_err(|e| format!("command: {e}"))?;
        if command.is_empty() {
            return Err("command: give the command to run".into());
        }
        let words = split_shell_words(&self.params.text).map_err(|e| format!("params: {e}"))?;
        let pairs =
            crate::present::parse_pairs(&words, "param").map_err(|e| format!("params: {e}"))?;
        let (command, params) = if self.rerun_of.is_some() {
            let rewritten = crate::jobs::rerun::rewrite_flags(&command, &pairs);
            (rewritten.command, Vec::new())
        } else {
            (command, pairs)
        };
        let experiment = self.experiment.text.trim();
        if experiment.is_empty() {
            return Err("experiment: give an experiment".into());
        }
        let name = self.name.text.trim();
        Ok(NewJob {
            name: (!name.is_empty()).then(|| name.to_string()),
            experiment: experiment.to_string(),
            target: self.text(Field::Target),
            command,
            workdir: self.workdir.clone(),
            gpus,
            params,
            rerun_of: self.rerun_of.clone(),
            user: user.to_string(),
            host: host.to_string(),
            ..Default::default()
        })
    }
}

/// Opens an empty form (`n` on the Jobs screen, `:launch`).
pub fn open_empty(state: &mut State) {
    state.overlay = Some(Overlay::Launch(LaunchForm::empty(state)));
}

/// `R` (rerun): asks for the selected run and the job that started it; the form opens when
/// they come (`open_prefilled`).
pub fn open_rerun(state: &mut State) -> Vec<Effect> {
    match &state.targets()[..] {
        [run_id] => {
            let run_id = run_id.clone();
            vec![state.request(Request::RerunSource { run_id })]
        }
        [] => {
            state.info("no run selected to rerun");
            vec![]
        }
        many => {
            let n = many.len();
            state.error(format!("rerun takes one run ({n} marked; u unmarks)"));
            vec![]
        }
    }
}

/// The run to rerun came: the form opens filled from it.
pub fn open_prefilled(state: &mut State, detail: &RunDetail, job: Option<&Job>) {
    state.overlay = Some(Overlay::Launch(LaunchForm::rerun(state, detail, job)));
}

pub struct LaunchLayer;

impl Layer for LaunchLayer {
    fn handle_key(&self, _state: &State, key: KeyEvent) -> Option<Action> {
        match key.code {
            KeyCode::BackTab => Some(Action::Edit(EditKey::Up)),
            _ => edit_key(key, false).map(Action::Edit),
        }
    }

    fn update(&self, state: &mut State, action: &Action) -> Option<Vec<Effect>> {
        let Action::Edit(key) = action else {
            return None;
        };
        let Some(Overlay::Launch(mut form)) = state.overlay.take() else {
            return None;
        };
        match (*key, form.focus) {
            (EditKey::Cancel, _) => return Some(vec![]),
            (EditKey::Submit, _) => match form.to_job(&state.user, &state.host) {
                Ok(job) => {
                    let context = Box::new(state.jobs.context.clone());
                    return Some(vec![state.request(Request::Write(Write::SubmitJob {
                        job: Box::new(job),
                        context,
                    }))]);
                }
                Err(e) => state.error(e),
            },
            (EditKey::Complete | EditKey::Down, f) => form.focus = f.step(true),
            (EditKey::Up, f) => form.focus = f.step(false),
            (EditKey::Left | EditKey::Right, Field::Target) if !form.targets.is_empty() => {
                let n = form.targets.len();
                form.target = if *key == EditKey::Right {
                    (form.target + 1) % n
                } else {
                    (form.target + n - 1) % n
                };
            }
            (k, f) => {
                if let Some(e) = form.editor(f) {
                    e.apply(k);
                }
            }
        }
        state.overlay = Some(Overlay::Launch(form));
        Some(vec![])
    }

    fn draw(&self, frame: &mut Frame, area: Rect, state: &State) {
        let Some(Overlay::Launch(form)) = &state.overlay else {
            return;
        };
        let r = centered(area, 100, 12);
        frame.render_widget(Clear, r);
        let title = match &form.rerun_of {
            Some(id) => format!(" Rerun {} as a job ", crate::ids::short(id)),
            None => " Launch a job ".to_string(),
        };
        let b = super::block(state, Span::styled(title, state.theme.style("title")), true);
        let inner = b.inner(r);
        frame.render_widget(b, r);
        let label_w = 13;
        let field_w = (inner.width as usize).saturating_sub(label_w).max(1);
        let mut lines = Vec::new();
        for f in Field::ALL {
            let focused = f == form.focus;
            let label = Span::styled(
                super::fit(
                    &format!("{} {}", if focused { "▸" } else { " " }, f.label()),
                    label_w,
                    false,
                ),
                state
                    .theme
                    .style(if focused { "text.accent" } else { "text.dim" }),
            );
            let value: Vec<Span> = match f {
                Field::Target => {
                    let t = form.text(f);
                    vec![Span::styled(
                        format!("‹ {t} ›"),
                        state.theme.style(if focused { "input" } else { "text" }),
                    )]
                }
                _ => {
                    let editor = match f {
                        Field::Gpus => &form.gpus,
                        Field::Experiment => &form.experiment,
                        Field::Name => &form.name,
                        Field::Command => &form.command,
                        _ => &form.params,
                    };
                    editor_spans(state, editor, focused, field_w)
                }
            };
            let mut spans = vec![label];
            spans.extend(value);
            lines.push(Line::from(spans));
        }
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            if form.rerun_of.is_some() {
                "params: k=v sets the command's --k flag (appended when missing)"
            } else {
                "params: k=v gives the run a param (flags go in the command)"
            },
            state.theme.style("text.dim"),
        ));
        lines.push(Line::styled(
            format!("runs in {}", form.workdir),
            state.theme.style("text.dim"),
        ));
        lines.push(Line::styled(
            "tab/↑↓ field · ←→ target · enter queues · esc closes",
            state.theme.style("footer.key"),
        ));
        frame.render_widget(Paragraph::new(lines), inner);
    }
}

/// One line of an editor, scrolled so the cursor shows, with the cursor drawn when focused.
fn editor_spans(state: &State, e: &Editor, focused: bool, width: usize) -> Vec<Span<'static>> {
    let chars: Vec<char> = e.text.chars().collect();
    let style = state.theme.style(if focused { "input" } else { "text" });
    if !focused {
        return vec![Span::styled(
            crate::present::truncate(&e.text, width),
            style,
        )];
    }
    let skip = (e.cursor + 1).saturating_sub(width);
    let before: String = chars[skip..e.cursor.min(chars.len())].iter().collect();
    let under: String = chars.get(e.cursor).map_or(" ".into(), |c| c.to_string());
    let after: String = chars
        .iter()
        .skip(e.cursor + 1)
        .take(width.saturating_sub(e.cursor - skip + 1))
        .collect();
    vec![
        Span::styled(before, style),
        Span::styled(under, state.theme.style("input.cursor")),
        Span::styled(after, style),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RunSource;
    use crate::tui::screens::test_support::{detail, press, requests, state, typed};
    use crossterm::event::KeyCode;

    fn source_run() -> RunDetail {
        let mut d = detail("r7", &[]);
        d.run.name = "lr-sweep".into();
        d.run.params.insert("lr".into(), "0.1".into());
        d.source = RunSource {
            command: ["python", "train.py", "--lr", "0.1", "--note", "a b"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            cwd: Some("/work/proj".into()),
            ..Default::default()
        };
        d
    }

    #[test]
    fn a_rerun_form_is_filled_from_the_run_and_edited_params_set_its_flags() {
        let mut s = state();
        open_prefilled(&mut s, &source_run(), None);
        let Some(Overlay::Launch(form)) = &s.overlay else {
            panic!("no form")
        };
        assert_eq!(form.command.text, "python train.py --lr 0.1 --note 'a b'");
        assert_eq!(form.params.text, "lr=0.1", "only params that are flags");
        assert_eq!(
            (form.focus, form.text(Field::Target)),
            (Field::Params, "local".into())
        );
        press(&mut s, KeyCode::End);
        for _ in 0..3 {
            press(&mut s, KeyCode::Backspace);
        }
        typed(&mut s, "0.01 seed=3");
        let effects = press(&mut s, KeyCode::Enter);
        match requests(&effects)[..] {
            [Request::Write(Write::SubmitJob { job, .. })] => {
                assert_eq!(
                    job.command,
                    ["python", "train.py", "--lr", "0.01", "--note", "a b", "--seed", "3"]
                );
                assert!(job.params.is_empty());
                assert_eq!(job.rerun_of.as_deref(), Some("r7"));
                assert_eq!(
                    (job.workdir.as_str(), job.name.as_deref()),
                    ("/work/proj", Some("lr-sweep"))
                );
            }
            ref other => panic!("{other:?}"),
        }
        assert!(s.overlay.is_none());
    }

    #[test]
    fn a_bad_field_is_named_and_the_form_stays() {
        let mut s = state();
        open_empty(&mut s);
        let effects = press(&mut s, KeyCode::Enter);
        assert!(requests(&effects).is_empty());
        assert!(s.message.as_ref().unwrap().text.starts_with("command:"));
        typed(&mut s, "echo 'hi");
        press(&mut s, KeyCode::Enter);
        assert!(s.message.as_ref().unwrap().text.contains("single quote"));
        // Three up from the command: the GPUs.
        press(&mut s, KeyCode::Up);
        press(&mut s, KeyCode::BackTab);
        press(&mut s, KeyCode::Up);
        press(&mut s, KeyCode::Backspace);
        typed(&mut s, "two");
        press(&mut s, KeyCode::Enter);
        assert!(s.message.as_ref().unwrap().text.starts_with("GPUs:"));
        assert!(matches!(s.overlay, Some(Overlay::Launch(_))));
        press(&mut s, KeyCode::Esc);
        assert!(s.overlay.is_none());
    }
}
