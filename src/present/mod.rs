//! Presentation shared by both front ends: how numbers, times, durations and text widths are
//! shown, the columns of a runs listing, and the `k=v` notation people type for tags.
//!
//! `cli` prints tables, JSON, CSV and Markdown with these helpers; `tui` draws screens with
//! them. Keeping them here (and not in either front end) means the two show a run the same
//! way and neither imports the other. Nothing here writes to a terminal or a file.
pub mod checks;
pub mod column_fit;
pub mod columns;
pub mod datasets;
pub mod format;
pub mod key_hints;
pub mod models;
pub mod number;
pub mod pairs;
pub mod pipelines;
pub mod plain;
pub mod progress;
pub mod shell;
pub mod threads;
pub mod time;
pub mod width;

pub use columns::{default_columns, Column};
pub use format::Format;
pub use number::{format_value, format_value_as};
pub use pairs::parse_pairs;
pub use plain::{count_of, event_detail, last_error_line, plain_one_line, runs_named};
pub use shell::{shell_words, split_shell_words};
pub use threads::thread_order;
pub use time::{
    format_duration, format_relative, format_run_duration, format_timestamp, format_timestamp_in,
};
pub use width::{display_width, truncate};
