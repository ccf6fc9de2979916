//! A small text editor for the filter bar, searches, the palette and the multi-line note
//! editor: a string and a cursor (in characters), edited by `EditKey`s. No terminal here.

/// One editing keystroke, already separated from commands by `app::handle_key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditKey {
    Char(char),
    Backspace,
    Delete,
    Left,
    Right,
    Home,
    End,
    /// Enter in a multi-line editor.
    Newline,
    /// Enter (single line) or ctrl-s (multi-line).
    Submit,
    Cancel,
    /// Tab: complete (palette).
    Complete,
    Up,
    Down,
    /// ctrl-u: clear the line.
    Clear,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Editor {
    pub text: String,
    /// Cursor position in characters.
    pub cursor: usize,
}

impl Editor {
    pub fn with_text(text: &str) -> Editor {
        Editor {
            text: text.to_string(),
            cursor: text.chars().count(),
        }
    }

    fn byte_at(&self, char_index: usize) -> usize {
        self.text
            .char_indices()
            .nth(char_index)
            .map(|(b, _)| b)
            .unwrap_or(self.text.len())
    }

    /// Applies an edit; returns whether the text changed.
    pub fn apply(&mut self, key: EditKey) -> bool {
        let len = self.text.chars().count();
        match key {
            EditKey::Char(c) => {
                let b = self.byte_at(self.cursor);
                self.text.insert(b, c);
                self.cursor += 1;
                true
            }
            EditKey::Newline => self.apply(EditKey::Char('\n')),
            EditKey::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                let b = self.byte_at(self.cursor);
                self.text.remove(b);
                true
            }
            EditKey::Delete if self.cursor < len => {
                let b = self.byte_at(self.cursor);
                self.text.remove(b);
                true
            }
            EditKey::Left => {
                self.cursor = self.cursor.saturating_sub(1);
                false
            }
            EditKey::Right => {
                self.cursor = (self.cursor + 1).min(len);
                false
            }
            EditKey::Home => {
                self.cursor = 0;
                false
            }
            EditKey::End => {
                self.cursor = len;
                false
            }
            EditKey::Clear => {
                let changed = !self.text.is_empty();
                self.text.clear();
                self.cursor = 0;
                changed
            }
            _ => false,
        }
    }

    /// (line, column) of the cursor, both 0-based, for drawing.
    pub fn cursor_line_col(&self) -> (usize, usize) {
        let before: String = self.text.chars().take(self.cursor).collect();
        let line = before.matches('\n').count();
        let col = before
            .rsplit('\n')
            .next()
            .map(|l| l.chars().count())
            .unwrap_or(0);
        (line, col)
    }
}

/// A key as an edit of a text field or editor (`multiline`: enter breaks the line and ctrl-s
/// submits); `None` for keys an editor ignores.
pub fn edit_key(key: crossterm::event::KeyEvent, multiline: bool) -> Option<EditKey> {
    use crossterm::event::{KeyCode, KeyModifiers};
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    Some(match key.code {
        KeyCode::Char('s') if ctrl && multiline => EditKey::Submit,
        KeyCode::Char('u') if ctrl => EditKey::Clear,
        KeyCode::Char('c') if ctrl => EditKey::Cancel,
        KeyCode::Char(c) if !ctrl => EditKey::Char(c),
        KeyCode::Enter if multiline && !key.modifiers.contains(KeyModifiers::ALT) => {
            EditKey::Newline
        }
        KeyCode::Enter => EditKey::Submit,
        KeyCode::Esc => EditKey::Cancel,
        KeyCode::Backspace => EditKey::Backspace,
        KeyCode::Delete => EditKey::Delete,
        KeyCode::Left => EditKey::Left,
        KeyCode::Right => EditKey::Right,
        KeyCode::Home => EditKey::Home,
        KeyCode::End => EditKey::End,
        KeyCode::Tab => EditKey::Complete,
        KeyCode::Up => EditKey::Up,
        KeyCode::Down => EditKey::Down,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_work_on_characters_not_bytes() {
        let mut e = Editor::default();
        for c in "lé x".chars() {
            e.apply(EditKey::Char(c));
        }
        e.apply(EditKey::Left);
        e.apply(EditKey::Backspace);
        assert_eq!(e.text, "léx");
        e.apply(EditKey::Home);
        e.apply(EditKey::Delete);
        assert_eq!(e.text, "éx");
        e.apply(EditKey::End);
        e.apply(EditKey::Newline);
        e.apply(EditKey::Char('y'));
        assert_eq!(e.cursor_line_col(), (1, 1));
    }
}
