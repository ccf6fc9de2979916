//! Reusable drawing pieces: braille charts and sparklines, styled text (ANSI, markdown,
//! diffs, search highlights), syntax highlighting.
pub mod chart;
pub mod highlight;
pub mod text;
