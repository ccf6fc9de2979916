//! The Models screen (`M`, `:models`): the registered models with their aliases beside the
//! selected model's versions, each with its run, its evaluation (status and metrics), the gate
//! of each configured alias and its approvals; below, the selected version's gates condition by
//! condition, the alias history and the hook deliveries with their status.
//!
//! `p` promotes the selected version: it asks for the alias, then shows the gate's verdict
//! before confirming (a refusing gate is passed only by saying yes to forcing it, recorded as
//! forced); `a` and `r` approve or reject it with a comment; `B` moves the alias the selected
//! version holds back to the version it held before (a rollback). Each goes through the same
//! calls `kiroku model` makes (`models::promote`), and the model is read again afterwards.
mod draw;
#[cfg(test)]
mod tests;

use super::confirm::Confirm;
use super::input::InputKind;
use super::overlays::Overlay;
use super::{is_motion, move_cursor, Screen, ScreenBehaviour};
use crate::model::promotions::{ApprovalVerdict, NewApproval};
use crate::model::registry::RegisteredModel;
use crate::models::overview::{ModelView, VersionView};
use crate::models::policy::Verdict;
use crate::tui::app::{Action, Effect, State};
use crate::tui::editor::Editor;
use crate::tui::keymap::Cmd;
use crate::tui::worker::{ModelActor, Request, Response, Write};
use crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::Frame;

/// Which pane has the keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ModelsFocus {
    #[default]
    List,
    Versions,
}

#[derive(Debug, Clone, Default)]
pub struct ModelsView {
    pub models: Vec<RegisteredModel>,
    pub loaded: bool,
    /// The selected model's name.
    pub selected: Option<String>,
    pub focus: ModelsFocus,
    /// The selected model as last read.
    pub detail: Option<ModelView>,
    /// The selected version's number.
    pub version: Option<i64>,
}

impl ModelsView {
    pub fn cursor(&self) -> usize {
        self.selected
            .as_ref()
            .and_then(|name| self.models.iter().position(|m| &m.name == name))
            .unwrap_or(0)
    }

    /// The selected model's view, once read.
    pub fn model(&self) -> Option<&ModelView> {
        let name = self.models.get(self.cursor())?.name.as_str();
        self.detail.as_ref().filter(|d| d.model.name == name)
    }

    pub fn version_cursor(&self) -> usize {
        self.model()
            .and_then(|m| {
                m.versions
                    .iter()
                    .position(|v| Some(v.version.version) == self.version)
            })
            .unwrap_or(0)
    }

    pub fn selected_version(&self) -> Option<&VersionView> {
        self.model()?.versions.get(self.version_cursor())
    }
}

/// What a promotion asks to confirm: the gate's verdict as last read (an alias with no policy
/// has none: anything may take it).
#[derive(Debug, Clone, PartialEq)]
pub struct PromotionAsk {
    pub model: String,
    pub alias: String,
    pub version: i64,
    pub verdict: Option<Verdict>,
}

impl PromotionAsk {
    /// Whether saying yes forces a refusing gate.
    pub fn forces(&self) -> bool {
        self.verdict.as_ref().is_some_and(|v| !v.passes())
    }

    /// The confirmation's text: the gate, condition by condition, and what yes does.
    pub fn text(&self) -> String {
        let mut out = format!(
            "Move {}@{} to version {}?\n",
            self.model, self.alias, self.version
        );
        match &self.verdict {
            None => out.push_str("(no gate configured for this alias)\n"),
            Some(v) => {
                out.push_str(&crate::present::models::verdict_lines(v, " "));
                if !v.passes() {
                    out.push_str("The gate refuses: yes FORCES it (recorded as forced).\n");
                }
            }
        }
        out
    }
}

fn model_request(state: &State, name: &str) -> Request {
    Request::Model {
        name: name.to_string(),
        config: Box::new(state.jobs.context.config.clone()),
    }
}

/// Opens the Models screen.
pub fn open(state: &mut State) -> Vec<Effect> {
    state.go(Screen::Models);
    let mut out = vec![state.request(Request::Models)];
    out.extend(sync_detail(state, true));
    out
}

fn sync_detail(state: &mut State, again: bool) -> Vec<Effect> {
    let Some(name) = state
        .models
        .models
        .get(state.models.cursor())
        .map(|m| m.name.clone())
    else {
        return vec![];
    };
    let have = state.models.detail.as_ref().map(|d| d.model.name.clone());
    if have.as_deref() == Some(name.as_str()) && !again {
        return vec![];
    }
    let request = model_request(state, &name);
    vec![state.request(request)]
}

fn actor(state: &State) -> Box<ModelActor> {
    Box::new(ModelActor {
        user: state.user.clone(),
        host: state.host.clone(),
        context: state.jobs.context.clone(),
    })
}

fn selected(state: &mut State) -> Option<(String, i64)> {
    let v = &state.models;
    match (v.model(), v.selected_version()) {
        (Some(m), Some(version)) => Some((m.model.name.clone(), version.version.version)),
        _ => {
            state.info("no model version selected");
            None
        }
    }
}

/// `p`: asks for the alias (the first configured one, else the first the model has, filled in).
fn start_promote(state: &mut State) -> Vec<Effect> {
    let Some((model, version)) = selected(state) else {
        return vec![];
    };
    let configured = state
        .jobs
        .context
        .config
        .models
        .get(&model)
        .and_then(|m| m.aliases.keys().next().cloned());
    let existing = state
        .models
        .model()
        .and_then(|m| m.model.aliases.keys().next().cloned());
    let editor = Editor::with_text(&configured.or(existing).unwrap_or_default());
    state.overlay = Some(Overlay::Input {
        kind: InputKind::ModelAlias { model, version },
        editor,
    });
    vec![]
}

/// The alias was typed: shows the gate's verdict for confirming.
pub(crate) fn submit_alias(
    state: &mut State,
    model: String,
    version: i64,
    alias: String,
) -> Vec<Effect> {
    let alias = alias.trim().to_string();
    if !crate::config::models::alias_name_ok(&alias) {
        state.error(format!(
            "'{alias}' is not an alias (letters, digits, _ and -; not latest or vN)"
        ));
        return vec![];
    }
    let verdict = state
        .models
        .model()
        .and_then(|m| m.versions.iter().find(|v| v.version.version == version))
        .and_then(|v| v.gates.iter().find(|g| g.alias == alias))
        .cloned();
    state.overlay = Some(Overlay::Confirm(Confirm::Promote(PromotionAsk {
        model,
        alias,
        version,
        verdict,
    })));
    vec![]
}

/// Yes to a promotion.
pub(crate) fn promote(state: &mut State, ask: PromotionAsk) -> Vec<Effect> {
    let force = ask.forces();
    let who = actor(state);
    vec![state.request(Request::Write(Write::Promote {
        model: ask.model,
        alias: ask.alias,
        version: ask.version,
        force,
        who,
    }))]
}

/// Yes to a rollback.
pub(crate) fn rollback(state: &mut State, model: String, alias: String) -> Vec<Effect> {
    let who = actor(state);
    vec![state.request(Request::Write(Write::Rollback { model, alias, who }))]
}

fn start_approval(state: &mut State, verdict: ApprovalVerdict) -> Vec<Effect> {
    let Some((model, version)) = selected(state) else {
        return vec![];
    };
    state.overlay = Some(Overlay::Input {
        kind: InputKind::ModelApproval {
            model,
            version,
            verdict,
        },
        editor: Editor::default(),
    });
    vec![]
}

/// The comment was typed: a rejection needs one; then confirm.
pub(crate) fn submit_approval(
    state: &mut State,
    model: String,
    version: i64,
    verdict: ApprovalVerdict,
    editor: Editor,
) -> Vec<Effect> {
    let comment = editor.text.trim().to_string();
    if verdict == ApprovalVerdict::Rejected && comment.is_empty() {
        state.error("a rejection needs a reason");
        state.overlay = Some(Overlay::Input {
            kind: InputKind::ModelApproval {
                model,
                version,
                verdict,
            },
            editor,
        });
        return vec![];
    }
    state.overlay = Some(Overlay::Confirm(Confirm::ModelApproval(NewApproval {
        model,
        version: version.to_string(),
        alias: None,
        verdict,
        comment,
        reviewer: state.user.clone(),
    })));
    vec![]
}

fn start_rollback(state: &mut State) -> Vec<Effect> {
    let Some((model, version)) = selected(state) else {
        return vec![];
    };
    let alias = state
        .models
        .selected_version()
        .and_then(|v| v.version.aliases.first().cloned());
    let Some(alias) = alias else {
        state.info(format!(
            "{model}/{version} holds no alias: select the version an alias points at"
        ));
        return vec![];
    };
    let previous = state.models.model().and_then(|m| {
        m.history
            .iter()
            .rev()
            .find(|step| step.alias == alias)
            .and_then(|step| step.from_version)
    });
    let Some(previous) = previous else {
        state.info(format!(
            "{model}@{alias} held no version before: nothing to roll back to"
        ));
        return vec![];
    };
    state.overlay = Some(Overlay::Confirm(Confirm::Rollback {
        model,
        alias,
        from: version,
        to: previous,
    }));
    vec![]
}

pub struct ModelsScreen;

impl ScreenBehaviour for ModelsScreen {
    fn section(&self) -> &'static str {
        "models"
    }

    fn header(&self, state: &State) -> String {
        let v = &state.models;
        match v.model() {
            Some(m) => format!(
                "models · {} · {} versions · {} models",
                m.model.name,
                m.versions.len(),
                v.models.len()
            ),
            None => format!("models · {} models", v.models.len()),
        }
    }

    fn hints(&self) -> &'static [(Cmd, &'static str)] {
        &[
            (Cmd::Open, "versions"),
            (Cmd::Promote, "promote"),
            (Cmd::Approve, "approve"),
            (Cmd::Reject, "reject"),
            (Cmd::Rollback, "rollback"),
            (Cmd::Back, "back"),
            (Cmd::Quit, "quit"),
        ]
    }

    fn handle_key(&self, state: &State, key: KeyEvent) -> Option<Action> {
        let cmd = state.keymap.lookup(self.section(), &key)?;
        if cmd == Cmd::Back && state.models.focus == ModelsFocus::Versions {
            return Some(Action::Cmd(Cmd::PrevTab));
        }
        Some(Action::Cmd(cmd))
    }

    fn update(&self, state: &mut State, cmd: Cmd) -> Vec<Effect> {
        match cmd {
            c if is_motion(c) => match state.models.focus {
                ModelsFocus::List => {
                    let names: Vec<String> =
                        state.models.models.iter().map(|m| m.name.clone()).collect();
                    let at = move_cursor(state.models.cursor(), names.len(), c, 10);
                    state.models.selected = names.get(at).cloned();
                    state.models.version = None;
                    sync_detail(state, false)
                }
                ModelsFocus::Versions => {
                    let v = &state.models;
                    let numbers: Vec<i64> = v
                        .model()
                        .map(|m| m.versions.iter().map(|x| x.version.version).collect())
                        .unwrap_or_default();
                    let at = move_cursor(v.version_cursor(), numbers.len(), c, 10);
                    state.models.version = numbers.get(at).copied();
                    vec![]
                }
            },
            Cmd::Open | Cmd::Right | Cmd::NextTab if state.models.focus == ModelsFocus::List => {
                if state.models.model().is_some() {
                    state.models.focus = ModelsFocus::Versions;
                }
                vec![]
            }
            Cmd::Left | Cmd::PrevTab | Cmd::NextTab => {
                state.models.focus = ModelsFocus::List;
                vec![]
            }
            Cmd::Promote => start_promote(state),
            Cmd::Approve => start_approval(state, ApprovalVerdict::Approved),
            Cmd::Reject => start_approval(state, ApprovalVerdict::Rejected),
            Cmd::Rollback => start_rollback(state),
            _ => vec![],
        }
    }

    fn on_response(&self, state: &mut State, resp: Response) -> Result<Vec<Effect>, Response> {
        match resp {
            Response::Models(models) => {
                let v = &mut state.models;
                v.models = models;
                v.loaded = true;
                if !v
                    .models
                    .iter()
                    .any(|m| Some(&m.name) == v.selected.as_ref())
                {
                    v.selected = v.models.first().map(|m| m.name.clone());
                    v.version = None;
                }
                if state.screen == Screen::Models {
                    return Ok(sync_detail(state, false));
                }
                Ok(vec![])
            }
            Response::Model(view) => {
                if state.models.selected.as_deref() == Some(view.model.name.as_str()) {
                    state.models.detail = Some(*view);
                }
                Ok(vec![])
            }
            other => Err(other),
        }
    }

    fn on_change(&self, state: &mut State, store: bool, _file: bool) -> Vec<Effect> {
        if !store || state.screen != Screen::Models {
            return vec![];
        }
        let mut out = vec![Effect::Request(Request::Models)];
        if let Some(name) = state.models.selected.clone() {
            out.push(Effect::Request(model_request(state, &name)));
        }
        out
    }

    fn draw(&self, frame: &mut Frame, area: Rect, state: &mut State) {
        draw::draw(frame, area, state);
    }
}
