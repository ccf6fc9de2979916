//! Reusable drawing pieces: braille charts and sparklines, styled text (ANSI, markdown,
//! diffs, search highlights).
pub mod chart;
pub mod text;
