//! Parsing the command line without building all of it when a short, frequent command is
//! named first: clap builds the arguments of every subcommand before parsing any, which is
//! most of what a `kiroku submit` (queued in a loop, one process per job) spends before it does
//! anything. `kiroku submit …` is parsed against a root that knows only `submit` (the same
//! `SubmitArgs`, and the same global options); anything that does not parse there (help, a
//! mistake, options before the subcommand) is parsed again against the whole command line,
//! so what is printed is as before. `tests` checks that both parse the same command lines to
//! the same result.
use super::jobs::SubmitArgs;
use super::{Cli, Command};
use crate::present::Format;
use clap::{Parser, Subcommand};
use std::ffi::OsString;

/// The root with `submit` alone; its global options as `Cli`'s.
#[derive(Debug, Parser)]
#[command(name = "kiroku")]
struct SubmitOnly {
    #[arg(long, global = true, value_name = "PATH")]
    store: Option<String>,
    #[arg(long, global = true, value_enum)]
    format: Option<Format>,
    #[command(subcommand)]
    command: SubmitCommand,
}

#[derive(Debug, Subcommand)]
enum SubmitCommand {
    Submit(SubmitArgs),
}

/// `Cli::try_parse_from(args)`, cheaper for `kiroku submit …`.
pub fn parse_from(args: Vec<OsString>) -> Result<Cli, clap::Error> {
    if args.get(1).is_some_and(|a| a == "submit") {
        if let Ok(only) = SubmitOnly::try_parse_from(&args) {
            let SubmitCommand::Submit(submit) = only.command;
            return Ok(Cli {
                store: only.store,
                format: only.format,
                command: Some(Command::Submit(submit)),
            });
        }
    }
    Cli::try_parse_from(args)
}

/// `Cli::try_parse()`, cheaper for `kiroku submit …`.
pub fn parse() -> Result<Cli, clap::Error> {
    parse_from(std::env::args_os().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &[&str]) -> Vec<OsString> {
        std::iter::once("kiroku")
            .chain(line.iter().copied())
            .map(OsString::from)
            .collect()
    }

    /// What a parse gave, comparable: the command line's Debug form, or the error's kind and
    /// text.
    fn outcome(parsed: Result<Cli, clap::Error>) -> String {
        match parsed {
            Ok(cli) => format!("{cli:?}"),
            Err(e) => format!("{:?}: {}", e.kind(), e.render()),
        }
    }

    #[test]
    fn submit_command_lines_parse_as_the_whole_command_line_parses_them() {
        let lines: &[&[&str]] = &[
            &["submit", "--", "true"],
            &["submit", "--", "sh", "-c", "echo 'a b' $X; --x"],
            &[
                "submit", "--store", "/s", "--format", "json", "--", "python", "t.py", "--lr", "1",
            ],
            &[
                "submit",
                "-T",
                "gpu",
                "--gpus",
                "2",
                "--gpu-memory",
                "4000",
                "--",
                "x",
            ],
            &[
                "submit", "-n", "nm", "-e", "exp", "--after", "3", "--after", "4", "--", "x",
            ],
            &[
                "submit", "-p", "a=1", "--param", "b=2", "--time", "2h", "--", "x",
            ],
            &["submit", "--require-checks", "d1", "--", "x"],
            &["submit", "--format=table", "--store=/x", "--", "x"],
            &["submit", "--", "--", "x"],
            &["submit"],
            &["submit", "x"],
            &["submit", "--gpus", "two", "--", "x"],
            &["submit", "--format", "yaml", "--", "x"],
            &["submit", "--nope", "--", "x"],
            &["submit", "--help"],
            &["submit", "-h"],
            &["submit", "--version"],
            &["--store", "/s", "submit", "--", "x"],
            &["submitt", "--", "x"],
            &["jobs", "ls"],
        ];
        for line in lines {
            assert_eq!(
                outcome(parse_from(args(line))),
                outcome(Cli::try_parse_from(args(line))),
                "{line:?}"
            );
        }
    }
}
