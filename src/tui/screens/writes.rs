//! Star, tag, note and delete: run-level commands that the runs table (marked or selected
//! runs), the run screen and the activity log share; each screen says which runs they apply
//! to (`ScreenBehaviour::targets`).
use super::confirm::Confirm;
use super::input::InputKind;
use super::overlays::Overlay;
use crate::tui::app::{Effect, State};
use crate::tui::editor::Editor;
use crate::tui::keymap::Cmd;
use crate::tui::worker::{Request, Write};

/// Star, tag, note and delete: the same on the runs table (marked or selected) and a run.
pub(crate) fn run_write_cmd(state: &mut State, cmd: Cmd) -> Vec<Effect> {
    let targets = state.targets();
    if targets.is_empty() {
        return vec![];
    }
    let user = state.user.clone();
    match cmd {
        Cmd::Star => {
            let starred_by_me = |id: &String| -> bool {
                let in_table = state
                    .runs
                    .rows
                    .iter()
                    .find(|r| &r.id == id)
                    .map(|r| r.stars.contains(&state.user));
                let in_run = state
                    .run
                    .as_ref()
                    .and_then(|r| r.detail.as_ref())
                    .filter(|d| &d.run.id == id)
                    .map(|d| d.run.stars.contains(&state.user));
                in_run.or(in_table).unwrap_or(false)
            };
            let writes: Vec<Write> = targets
                .iter()
                .map(|id| Write::Star {
                    run_id: id.clone(),
                    user: user.clone(),
                    on: !starred_by_me(id),
                })
                .collect();
            writes
                .into_iter()
                .map(|w| state.request(Request::Write(w)))
                .collect()
        }
        Cmd::Tag => {
            state.overlay = Some(Overlay::Input {
                kind: InputKind::Tag { run_ids: targets },
                editor: Editor::default(),
            });
            vec![]
        }
        Cmd::Note => {
            state.overlay = Some(Overlay::Input {
                kind: InputKind::Note {
                    run_id: targets[0].clone(),
                    reply_to: None,
                },
                editor: Editor::default(),
            });
            vec![]
        }
        Cmd::Delete => {
            let deleted = !state
                .runs
                .rows
                .iter()
                .find(|r| r.id == targets[0])
                .is_some_and(|r| r.deleted);
            state.overlay = Some(Overlay::Confirm(Confirm::Delete {
                run_ids: targets,
                deleted,
            }));
            vec![]
        }
        _ => vec![],
    }
}

/// Runs as a message names them: `lr0.1-s1 (3f2a91c0)` where the name is known (the runs
/// table, the open run), else the short id.
pub(crate) fn run_labels(state: &State, ids: &[String]) -> Vec<String> {
    ids.iter()
        .map(|id| {
            let in_run = state
                .run
                .as_ref()
                .and_then(|r| r.detail.as_ref())
                .filter(|d| &d.run.id == id)
                .map(|d| &d.run);
            let name = in_run
                .or_else(|| state.runs.rows.iter().find(|r| &r.id == id))
                .map(|r| r.name.as_str())
                .filter(|n| !n.is_empty());
            let short = crate::ids::short(id);
            match name {
                Some(n) => format!("{n} ({short})"),
                None => short.to_string(),
            }
        })
        .collect()
}
