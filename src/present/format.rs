//! The output format a listing is shown in (`--format table|json|csv|md`). It lives with the
//! presentation because a cell's text depends on it: tables are for people (short ids,
//! relative times, rounded numbers), the others for programs (whole ids, exact values).
use clap::ValueEnum;
use std::io::IsTerminal;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
    Md,
}

impl Format {
    /// The explicit choice, else a table on a terminal and JSON otherwise.
    pub fn resolve(choice: Option<Format>) -> Format {
        choice.unwrap_or(if std::io::stdout().is_terminal() {
            Format::Table
        } else {
            Format::Json
        })
    }
}
