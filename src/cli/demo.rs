//! `kiroku demo [DIR]`: a small but real project. It makes a git repository with a training
//! script (committed, plus an uncommitted change, so runs carry a code version), trains logistic
//! regressions on the bundled dataset with different learning rates and seeds, side by side, each
//! through `kiroku run`'s own path (the script runs the kiroku binary's trainer and logs its model
//! and confusion matrix as artifacts), then adds the notes, tags and stars a team of two would,
//! and prints how to look at the result.
use super::output::{output_error, print_text};
use super::{Cli, Context};
use crate::error::{KirokuError, Result};
use crate::ids;
use crate::model::{NewNote, RunQuery, RunStatus};
use crate::present::format_value;
use crate::present::progress::{progress_bar, progress_line};
use crate::store::discover::STORE_DIR;
use crate::store::prelude::*;
use crate::store::{open_store, StoreLocation};
use crate::wrap::{run_wrapped, WrapOptions, WrapOutcome};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to make the demo project (default: the store named by --store/KIROKU_STORE, else
    /// a new temporary directory).
    pub dir: Option<PathBuf>,
    /// Do not open the terminal UI afterwards.
    #[arg(long)]
    pub no_ui: bool,
    /// Epochs per training (30 take about three seconds).
    #[arg(long, default_value_t = 30)]
    pub epochs: usize,
}

const EXPERIMENT: &str = "breast-cancer-logreg";
/// The teammate who ran part of the sweep and reviews the best run.
const TEAMMATE: &str = "mika";
/// Weight decay of every training (with lr=400 it makes each step triple the weights).
const WEIGHT_DECAY: &str = "0.01";

/// One training of the sweep: learning rate, seed, and whether the teammate ran it.
struct Training {
    lr: &'static str,
    seed: u64,
    by_teammate: bool,
}

/// The sweep: seeds chosen so that no two runs tie on val/acc, and one learning rate far too
/// large, which diverges.
const SWEEP: &[Training] = &[
    Training {
        lr: "0.5",
        seed: 2,
        by_teammate: false,
    },
    Training {
        lr: "0.5",
        seed: 3,
        by_teammate: false,
    },
    Training {
        lr: "0.1",
        seed: 3,
        by_teammate: false,
    },
    Training {
        lr: "0.1",
        seed: 4,
        by_teammate: true,
    },
    Training {
        lr: "0.02",
        seed: 4,
        by_teammate: true,
    },
    Training {
        lr: "0.005",
        seed: 1,
        by_teammate: true,
    },
    Training {
        lr: "400",
        seed: 1,
        by_teammate: false,
    },
];

impl Training {
    fn name(&self) -> String {
        format!("lr{}-s{}", self.lr, self.seed)
    }
}

/// The training script the runs execute (the trainer itself is built into kiroku).
const TRAIN_SH: &str = r#"#!/bin/sh
# Trains one logistic regression of the learning-rate sweep, then keeps its model and its
# validation confusion matrix with the run. The trainer is built into kiroku (`kiroku dev train`).
set -e
exec 2>&1  # one stream, so the log keeps the trainer's lines in the order they were written
out="outputs/${KIROKU_RUN_ID:-local}"
"$KIROKU_BIN" dev train --out "$out" "$@"
"$KIROKU_BIN" log artifact "$out/model.json"
"$KIROKU_BIN" log artifact "$out/confusion_matrix.txt"
"#;

/// The uncommitted change every run records as its dirty diff.
const TRAIN_SH_EDIT: &str =
    "# TODO(mika): stop early when val/loss has not improved for 5 epochs\n";

const README: &str = "# breast-cancer-logreg\n\nA learning-rate sweep of logistic regression on \
the Breast Cancer Wisconsin dataset, tracked with kiroku (`kiroku demo` made it).\n\n\
    kiroku run --exp breast-cancer-logreg -- sh train.sh --lr 0.1 --seed 3 --epochs 30 --l2 0.01\n";

fn temp_project() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("kiroku-demo-{}", ids::short(&ids::new_run_id())));
    std::fs::create_dir_all(&dir)
        .map_err(|e| KirokuError::io(format!("creating {}", dir.display()), e))?;
    Ok(dir)
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text)
        .map_err(|e| KirokuError::io(format!("writing {}", path.display()), e))
}

/// Writes a project file unless the folder already has one: a user's own `README.md` or
/// `.gitignore` is left as it is, and a `train.sh` that is not the demo's stops the demo
/// (its runs would execute it).
fn write_new(path: &Path, text: &str) -> Result<()> {
    match std::fs::read_to_string(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => write(path, text),
        Ok(existing) if !path.ends_with("train.sh") || existing.starts_with(TRAIN_SH) => Ok(()),
        _ => Err(KirokuError::Invalid(format!(
            "{} exists and is not the demo's training script; run the demo in an empty folder",
            path.display()
        ))),
    }
}

/// Runs git in `dir` as the demo's author; None when git is missing or fails.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=kiroku demo",
            "-c",
            "user.email=demo@kiroku.invalid",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Writes the project's files and, where git is installed and `dir` is not already inside a
/// repository, commits them and leaves one uncommitted change. Returns what the runs' code
/// version will be, for the summary.
fn make_project(dir: &Path) -> Result<String> {
    write_new(&dir.join("train.sh"), TRAIN_SH)?;
    write_new(&dir.join("README.md"), README)?;
    write_new(
        &dir.join(".gitignore"),
        &format!("{STORE_DIR}/\noutputs/\n"),
    )?;
    if git(dir, &["rev-parse", "--git-dir"]).is_some() {
        return Ok("from the git repository already there".into());
    }
    let committed = git(dir, &["init", "-q"]).is_some()
        && git(dir, &["add", "train.sh", "README.md", ".gitignore"]).is_some()
        && git(
            dir,
            &[
                "commit",
                "-q",
                "-m",
                "Logistic regression sweep on breast cancer",
            ],
        )
        .is_some();
    if !committed {
        return Ok("none (git is not installed)".into());
    }
    let mut script = TRAIN_SH.to_string();
    script.push_str(TRAIN_SH_EDIT);
    write(&dir.join("train.sh"), &script)?;
    let commit = git(dir, &["rev-parse", "--short", "HEAD"]).unwrap_or_default();
    Ok(format!(
        "git commit {commit} + an uncommitted change to train.sh"
    ))
}

pub fn demo(cli: &Cli, args: &DemoArgs) -> Result<i32> {
    let mut ctx = Context::new(cli)?;
    let project = match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| KirokuError::io(format!("creating {}", dir.display()), e))?;
            let dir = dir
                .canonicalize()
                .map_err(|e| KirokuError::io(format!("resolving {}", dir.display()), e))?;
            ctx.location = StoreLocation::Local(dir.join(STORE_DIR));
            dir
        }
        None => {
            let dir = temp_project()?;
            if !ctx.explicit_store {
                ctx.location = StoreLocation::Local(dir.join(STORE_DIR));
            }
            dir
        }
    };
    let version = make_project(&project)?;
    let store = open_store(&ctx.location, true)?;
    let exe =
        std::env::current_exe().map_err(|e| KirokuError::io("finding the kiroku binary", e))?;
    eprintln!("kiroku demo: project {}", project.display());
    eprintln!("kiroku demo: store {}", store.describe());
    eprintln!("kiroku demo: code version {version}");
    // The runs execute the project's script from the project, as a user's would.
    std::env::set_current_dir(&project)
        .map_err(|e| KirokuError::io(format!("entering {}", project.display()), e))?;
    std::env::set_var("KIROKU_BIN", &exe);

    let outcomes = train_sweep(&store, &ctx, args.epochs)?;
    let lines = annotate(store.as_ref(), &ctx.user, &outcomes)?;
    let best_ref = lines.best.clone().unwrap_or_else(|| "RUN".into());
    let store_arg = match &ctx.location {
        StoreLocation::Local(p) => p.parent().unwrap_or(p).display().to_string(),
        StoreLocation::Remote(u) => u.clone(),
    };
    let text = format!(
        "\nkiroku demo: {} trainings in experiment '{EXPERIMENT}' at {}\n{}\n\nLook at it:\n  \
         kiroku --store {store_arg} runs ls --sort 'metrics.val/acc desc'\n  \
         kiroku --store {store_arg} runs ls --filter \"metrics.val/acc > 0.97 and params.lr < 1\"\n  \
         kiroku --store {store_arg} show {best_ref}\n  \
         kiroku --store {store_arg} diff lr0.1-s3 lr0.1-s4 lr0.5-s3\n  \
         kiroku --store {store_arg} metrics {best_ref} val/acc\n  \
         kiroku --store {store_arg} events\n",
        outcomes.len(),
        store.describe(),
        lines.text.join("\n"),
    );
    print_text(&text).map_err(output_error)?;
    if !args.no_ui && super::ui_possible() {
        eprintln!("opening the terminal UI (q quits; --no-ui skips it)…");
        std::thread::sleep(std::time::Duration::from_millis(800));
        return super::open_ui(&mut ctx);
    }
    Ok(0)
}

/// Runs every training of the sweep at once (each `kiroku run`'s own path), in the sweep's
/// order of outcomes, with a progress bar on a terminal.
fn train_sweep(store: &Arc<dyn Store>, ctx: &Context, epochs: usize) -> Result<Vec<WrapOutcome>> {
    let bar = progress_bar(SWEEP.len() as u64, "training");
    let results: Vec<Result<WrapOutcome>> = std::thread::scope(|scope| {
        let handles: Vec<_> = SWEEP
            .iter()
            .map(|t| {
                let bar = bar.clone();
                scope.spawn(move || {
                    let user = if t.by_teammate {
                        TEAMMATE.to_string()
                    } else {
                        ctx.user.clone()
                    };
                    let command = [
                        "sh",
                        "train.sh",
                        "--lr",
                        t.lr,
                        "--seed",
                        &t.seed.to_string(),
                        "--epochs",
                        &epochs.to_string(),
                        "--l2",
                        WEIGHT_DECAY,
                    ]
                    .map(String::from)
                    .to_vec();
                    let outcome = run_wrapped(
                        Arc::clone(store),
                        WrapOptions {
                            experiment: EXPERIMENT.into(),
                            name: Some(t.name()),
                            tags: vec![
                                ("team".into(), "vision".into()),
                                ("sweep".into(), "lr".into()),
                            ],
                            command,
                            config: ctx.config.clone(),
                            user,
                            store_location: ctx.location_text(),
                            echo: false,
                            parent_id: None,
                            mlflow: false,
                            inputs: Vec::new(),
                        },
                    );
                    if let Ok(o) = &outcome {
                        progress_line(
                            &bar,
                            &format!(
                                "  trained {:<12} {} · {}",
                                o.run_name,
                                o.status,
                                crate::present::count_of(o.points, "point")
                            ),
                        );
                    }
                    bar.inc(1);
                    outcome
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(KirokuError::Invalid("a training thread panicked".into()))
                })
            })
            .collect()
    });
    bar.finish_and_clear();
    results.into_iter().collect()
}

/// What `annotate` reports: summary lines, and the best run's name.
struct Annotated {
    text: Vec<String>,
    best: Option<String>,
}

/// What a team does next: star the best, note why (and a teammate answers), explain the
/// failure from what its metrics show.
fn annotate(store: &dyn Store, user: &str, outcomes: &[WrapOutcome]) -> Result<Annotated> {
    let page = store.search_runs(&RunQuery {
        experiments: vec![EXPERIMENT.into()],
        filter: Some("attributes.status = 'finished'".into()),
        sort: Some("metrics.val/acc desc, metrics.val/loss asc".into()),
        ..Default::default()
    })?;
    let mut text = Vec::new();
    let acc_of = |run: &crate::model::Run| {
        run.metrics
            .get("val/acc")
            .map(|m| format_value(m.last))
            .unwrap_or_default()
    };
    let best = page.runs.first();
    if let Some(best) = best {
        let acc = acc_of(best);
        store.set_star(&best.id, user, true)?;
        store.set_tags(&best.id, &[("candidate".into(), "true".into())], user)?;
        let note = store.add_note(
            &best.id,
            &NewNote {
                author: user.to_string(),
                body: format!(
                    "Best validation accuracy of the sweep (**{acc}**).\n\nNext: a third seed \
                     before promoting it."
                ),
                reply_to: None,
                anchor: None,
                created_ms: None,
            },
        )?;
        // The same learning rate with another seed: how much of the lead is luck.
        let sibling = page.runs.iter().skip(1).find(|r| {
            r.params.get("lr") == best.params.get("lr")
                && r.params.get("seed") != best.params.get("seed")
        });
        let reply = match sibling {
            Some(s) => format!(
                "Seed variance is real: {} (same lr, seed {}) reaches {}. Agreed on a third seed.",
                s.name,
                s.params.get("seed").map(String::as_str).unwrap_or("?"),
                acc_of(s)
            ),
            None => "Agreed; check seed variance first.".into(),
        };
        store.add_note(
            &best.id,
            &NewNote {
                author: TEAMMATE.into(),
                body: reply,
                reply_to: Some(note.id),
                anchor: None,
                created_ms: None,
            },
        )?;
        text.push(format!(
            "  best run      {} {} (val/acc {acc}, starred)",
            ids::short(&best.id),
            best.name
        ));
    }
    if let Some(failed) = outcomes.iter().find(|o| o.status == RunStatus::Failed) {
        store.add_note(
            &failed.run_id,
            &NewNote {
                author: user.to_string(),
                body: divergence_note(store, &failed.run_id)?,
                reply_to: None,
                anchor: None,
                created_ms: None,
            },
        )?;
        text.push(format!(
            "  failed run    {} {} (diverged: the learning rate is far too large)",
            ids::short(&failed.run_id),
            failed.run_name
        ));
    }
    Ok(Annotated {
        text,
        best: best.map(|b| b.name.clone()),
    })
}

/// The failed run's note, written from its train/loss curve: how the loss climbed and where it
/// stopped, as the log shows it.
fn divergence_note(store: &dyn Store, run_id: &str) -> Result<String> {
    let series = store.metric_series(run_id, "train/loss")?;
    let climb: Vec<String> = series.iter().map(|p| format_value(p.value)).collect();
    let end = series.last();
    Ok(match end {
        Some(last) if !last.value.is_finite() => format!(
            "Diverged: train/loss went {} and training stopped at step {} (the error is the \
             log's last line). lr=400 with weight decay 0.01 triples the weights every step; \
             the sweep stays at lr 0.5 and below.",
            climb.join(" → "),
            last.step
        ),
        _ => "Failed before its loss diverged: see the log's last lines.".into(),
    })
}
