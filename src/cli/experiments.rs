//! `kiroku init` and `kiroku exp ls|create|rename|rm|restore`.
use super::output::{output_error, print_json, print_text, Table};
use super::Context;
use crate::error::{KirokuError, Result};
use crate::model::now_ms;
use crate::present::{format_relative, Format};
use crate::store::{SqliteStore, StoreLocation};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ExpCommand {
    /// List experiments.
    Ls {
        /// Include deleted experiments.
        #[arg(long)]
        all: bool,
    },
    /// Create an experiment.
    Create { name: String },
    /// Rename an experiment.
    Rename { name: String, new_name: String },
    /// Delete an experiment and its runs (soft: `kiroku exp restore` brings them back). Asks
    /// first on a terminal.
    Rm {
        name: String,
        /// Do not ask (scripts; required when stdin is not a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Restore a deleted experiment with the runs deleted together with it.
    Restore { name: String },
}

pub fn init(ctx: &Context, shared: bool) -> Result<i32> {
    // `init` creates where it is asked: --store/KIROKU_STORE, else the current directory.
    let dir = match &ctx.location {
        StoreLocation::Local(p) if ctx.explicit_store => p.clone(),
        StoreLocation::Remote(u) => {
            return Err(KirokuError::Invalid(format!(
                "cannot init a remote store ({u})"
            )))
        }
        StoreLocation::Local(_) => std::env::current_dir()
            .map_err(|e| KirokuError::io("reading the current directory", e))?
            .join(crate::store::discover::STORE_DIR),
    };
    let existed = dir.join("kiroku.db").is_file();
    SqliteStore::open(&dir, shared)?;
    let how = if shared {
        " (shared: group-writable)"
    } else {
        ""
    };
    if existed {
        print_text(&format!("kiroku store already at {}{how}\n", dir.display()))
    } else {
        print_text(&format!("created kiroku store at {}{how}\n", dir.display()))
    }
    .map_err(output_error)?;
    Ok(0)
}

pub fn exp(ctx: &mut Context, cmd: &ExpCommand) -> Result<i32> {
    let store = ctx.store()?;
    match cmd {
        ExpCommand::Ls { all } => {
            let exps = store.experiments(*all)?;
            if ctx.format == Format::Json {
                print_json(
                    &serde_json::json!({"schema": "kiroku.experiments/v1", "experiments": exps}),
                )
                .map_err(output_error)?;
            } else {
                let mut t = Table::new(vec![
                    "ID".into(),
                    "NAME".into(),
                    "RUNS".into(),
                    "CREATED".into(),
                    "STATE".into(),
                ]);
                t.numeric = vec![true, false, true, false, false];
                let now = now_ms();
                for e in exps {
                    t.push(vec![
                        e.id.to_string(),
                        e.name,
                        e.run_count.to_string(),
                        format_relative(e.created_ms, now),
                        if e.deleted {
                            "deleted".into()
                        } else {
                            "active".into()
                        },
                    ]);
                }
                print_text(&t.render(ctx.format)).map_err(output_error)?;
            }
        }
        ExpCommand::Create { name } => {
            let e = store.create_experiment(name, &ctx.user)?;
            print_text(&format!("created experiment '{}' (id {})\n", e.name, e.id))
                .map_err(output_error)?;
        }
        ExpCommand::Rename { name, new_name } => {
            store.rename_experiment(name, new_name, &ctx.user)?;
            print_text(&format!("renamed experiment '{name}' to '{new_name}'\n"))
                .map_err(output_error)?;
        }
        ExpCommand::Rm { name, yes } => {
            let experiment = store.experiment(name)?;
            if experiment.deleted {
                return Err(KirokuError::Invalid(format!(
                    "experiment '{}' is already deleted (`kiroku exp restore {}` brings it back)",
                    experiment.name, experiment.name
                )));
            }
            let what = format!(
                "experiment '{}' and its {}",
                experiment.name,
                crate::present::count_of(experiment.run_count, "run")
            );
            if !yes && !confirmed(&format!("Delete {what}?"))? {
                print_text("nothing deleted\n").map_err(output_error)?;
                return Ok(1);
            }
            store.delete_experiment(name, &ctx.user)?;
            print_text(&format!(
                "deleted {what} (`kiroku exp restore {}` brings them back)\n",
                experiment.name
            ))
            .map_err(output_error)?;
        }
        ExpCommand::Restore { name } => {
            store.restore_experiment(name, &ctx.user)?;
            let experiment = store.experiment(name)?;
            print_text(&format!(
                "restored experiment '{}' ({})\n",
                experiment.name,
                crate::present::count_of(experiment.run_count, "run")
            ))
            .map_err(output_error)?;
        }
    }
    Ok(0)
}

/// Asks `question` on the terminal; true for `y`/`yes`. Without a terminal on stdin nobody can
/// answer: an error that names `--yes`.
fn confirmed(question: &str) -> Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return Err(KirokuError::Invalid(format!(
            "{question} Not asked: stdin is not a terminal; pass --yes to confirm"
        )));
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| KirokuError::io("reading the answer", e))?;
    Ok(matches!(answer.trim().to_lowercase().as_str(), "y" | "yes"))
}
