//! Overlays: popups over the screen that take the whole keyboard while open (help, palette,
//! confirmations, the tag and note editors, the launch form, the column chooser), drawn last. Like screens,
//! each is a module with a unit struct implementing [`Layer`] (after helix's compositor
//! layers), and the registry below is the one place the shell learns of them: a new overlay
//! is its module and one line (its variant with its fields, and its layer).
use crate::tui::app::{Action, Effect, State};
use crate::tui::editor::Editor;
use crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::Frame;

use super::confirm::Confirm;
use super::input::InputKind;

/// What every overlay implements.
pub trait Layer: Sync {
    /// Keys → action while the overlay is open.
    fn handle_key(&self, state: &State, key: KeyEvent) -> Option<Action>;
    /// An action while the overlay is open; `None` leaves it to the shell (global commands,
    /// then the screen beneath: the mouse wheel still scrolls it).
    fn update(&self, state: &mut State, action: &Action) -> Option<Vec<Effect>>;
    /// Draws over the whole frame (`area`).
    fn draw(&self, frame: &mut Frame, area: Rect, state: &State);
}

/// Declares `Overlay`, one variant per registered overlay (its fields are its state), and its
/// dispatch to the overlay's `Layer`.
macro_rules! overlays {
    ($($(#[$doc:meta])* $variant:ident $fields:tt => $layer:path,)*) => {
        #[derive(Debug, Clone, PartialEq)]
        pub enum Overlay {
            $($(#[$doc])* $variant $fields,)*
        }

        impl Overlay {
            pub fn layer(&self) -> &'static dyn Layer {
                match self {
                    $(Overlay::$variant { .. } => &$layer,)*
                }
            }
        }
    };
}

// The registry: one line per overlay.
overlays! {
    /// The key bindings, searchable.
    Help { search: Editor, scroll: usize } => super::help::HelpLayer,
    /// The command palette (`:`).
    Palette { input: Editor, selected: usize } => super::palette::PaletteLayer,
    /// A yes/no question.
    Confirm(Confirm) => super::confirm::ConfirmLayer,
    /// The tag or note editor.
    Input { kind: InputKind, editor: Editor } => super::input::InputLayer,
    /// The launch form (a job from scratch, or a run again).
    Launch(super::launch::LaunchForm) => super::launch::LaunchLayer,
    /// The column chooser (`:columns`).
    Columns { cursor: usize } => super::runs::columns::ColumnsLayer,
}

/// A `w`×`h` box in the middle of `area`.
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

pub fn draw(frame: &mut Frame, area: Rect, state: &State) {
    if let Some(overlay) = &state.overlay {
        overlay.layer().draw(frame, area, state);
    }
}
