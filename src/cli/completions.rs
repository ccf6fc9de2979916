//! Shell completions and the manual page.
//!
//! - `kiroku completions bash|zsh|fish|elvish|powershell` prints the line the shell's start-up
//!   file sources. It registers kiroku itself as the completer (`KIROKU_COMPLETE=SHELL kiroku
//!   -- WORDS`, answered first thing in `main` by `complete_if_asked`), so completions always
//!   match the installed kiroku, and run arguments (`show`, `diff`, `tag`, `rm`, …) complete
//!   to the ids and names of the store's recent runs.
//! - `kiroku man` prints the manual page (roff) of kiroku; `--dir DIR` writes one page per
//!   command (`kiroku.1`, `kiroku-runs.1`, …) for `man -M`.
use super::Cli;
use crate::error::{KirokuError, Result};
use crate::model::RunQuery;
use crate::store::discover::{open_store, resolve_location};
use clap::{Args, CommandFactory};
use clap_complete::engine::CompletionCandidate;
use clap_complete::env::{CompleteEnv, Shells};
use std::ffi::OsStr;
use std::io::Write;
use std::path::PathBuf;

/// The variable the registration sets when the shell asks kiroku for completions.
const COMPLETE_VAR: &str = "KIROKU_COMPLETE";
/// How many of the newest runs are offered.
const RUN_CANDIDATES: u64 = 500;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    pub shell: String,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write one page per command into this folder instead of printing kiroku's own page.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Answers a shell's completion request and exits, when this process is one (the registration
/// sets `KIROKU_COMPLETE`); otherwise does nothing. Call it before anything is printed.
pub fn complete_if_asked() {
    if std::env::var_os(COMPLETE_VAR).is_some() {
        CompleteEnv::with_factory(Cli::command)
            .var(COMPLETE_VAR)
            .complete();
    }
}

/// `kiroku completions SHELL`.
pub fn completions(args: &CompletionsArgs) -> Result<i32> {
    let shells = Shells::builtins();
    let Some(shell) = shells.completer(&args.shell) else {
        let known: Vec<&str> = shells.names().collect();
        return Err(KirokuError::Invalid(format!(
            "no completions for shell '{}' (known: {})",
            args.shell,
            known.join(", ")
        )));
    };
    let mut script = Vec::new();
    shell
        .write_registration(COMPLETE_VAR, "kiroku", "kiroku", "kiroku", &mut script)
        .map_err(|e| KirokuError::io("writing the completion script", e))?;
    std::io::stdout()
        .write_all(&script)
        .map_err(|e| KirokuError::io("printing the completion script", e))?;
    Ok(0)
}

/// `kiroku man [--dir DIR]`.
pub fn man(args: &ManArgs) -> Result<i32> {
    let command = Cli::command();
    match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| KirokuError::io(format!("creating {}", dir.display()), e))?;
            clap_mangen::generate_to(command, dir).map_err(|e| {
                KirokuError::io(format!("writing manual pages into {}", dir.display()), e)
            })?;
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut page)
                .map_err(|e| KirokuError::io("rendering the manual page", e))?;
            std::io::stdout()
                .write_all(&page)
                .map_err(|e| KirokuError::io("printing the manual page", e))?;
        }
    }
    Ok(0)
}

/// Completes a run argument: the ids (as their 8-character prefixes, which kiroku accepts) and
/// names of the store's newest runs that start with what was typed. The store is the one
/// kiroku would use here (`KIROKU_STORE`, else the nearest `.kiroku`); none, nothing offered.
pub fn runs(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(typed) = current.to_str() else {
        return Vec::new();
    };
    let Ok(store) = resolve_location(None).and_then(|location| open_store(&location, false)) else {
        return Vec::new();
    };
    let query = RunQuery {
        sort: Some("start_time desc".into()),
        limit: Some(RUN_CANDIDATES),
        ..Default::default()
    };
    let Ok(page) = store.search_runs_uncounted(&query) else {
        return Vec::new();
    };
    run_candidates(
        page.runs.iter().map(|r| (r.id.as_str(), r.name.as_str())),
        typed,
    )
}

/// The candidates among `(id, name)` pairs for `typed`: a name when one starts with it, else
/// the id prefix, each with the other as its help.
fn run_candidates<'a>(
    runs: impl Iterator<Item = (&'a str, &'a str)>,
    typed: &str,
) -> Vec<CompletionCandidate> {
    let mut out = Vec::new();
    for (id, name) in runs {
        let short = &id[..id.len().min(8)];
        if !name.is_empty() && name.starts_with(typed) {
            out.push(CompletionCandidate::new(name).help(Some(short.to_string().into())));
        } else if id.starts_with(typed) {
            let shown = if typed.len() > short.len() { id } else { short };
            out.push(CompletionCandidate::new(shown).help(Some(name.to_string().into())));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(candidates: &[CompletionCandidate]) -> Vec<String> {
        candidates
            .iter()
            .map(|c| c.get_value().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn runs_complete_by_name_or_by_id_prefix() {
        let runs = [
            ("a1b2c3d4e5f60718293a4b5c6d7e8f90", "bert-base"),
            ("a1ffffffffffffffffffffffffffffff", "resnet"),
            ("0123456789abcdef0123456789abcdef", ""),
        ];
        let of = |typed: &str| values(&run_candidates(runs.iter().copied(), typed));
        assert_eq!(of("bert"), ["bert-base"]);
        assert_eq!(of("a1"), ["a1b2c3d4", "a1ffffff"]);
        assert_eq!(of("01234"), ["01234567"]);
        assert_eq!(
            of("0123456789a"),
            ["0123456789abcdef0123456789abcdef"],
            "past 8 characters the whole id"
        );
        assert!(of("zzz").is_empty());
    }

    #[test]
    fn every_shell_gets_a_registration_and_an_unknown_one_is_named() {
        for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
            let shells = Shells::builtins();
            let mut script = Vec::new();
            shells
                .completer(shell)
                .unwrap()
                .write_registration(COMPLETE_VAR, "kiroku", "kiroku", "kiroku", &mut script)
                .unwrap();
            let script = String::from_utf8(script).unwrap();
            assert!(script.contains(COMPLETE_VAR), "{shell}: {script}");
        }
        let err = completions(&CompletionsArgs {
            shell: "tcsh".into(),
        })
        .unwrap_err();
        assert!(err.to_string().contains("known: bash"), "{err}");
    }
}
