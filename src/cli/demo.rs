//! `kiroku demo [DIR]`: a small but real project. It trains logistic regressions on the
//! bundled dataset with different learning rates and seeds, each through `kiroku run`'s own
//! path (the binary runs itself as the user's command), then adds the notes, tags and stars a
//! team would, and prints how to look at the result.
use super::output::{output_error, print_text};
use super::{Cli, Context};
use crate::error::{KirokuError, Result};
use crate::ids;
use crate::model::{NewNote, RunQuery, RunStatus};
use crate::present::format_value;
use crate::store::discover::STORE_DIR;
use crate::store::{open_store, StoreLocation};
use crate::wrap::{run_wrapped, WrapOptions};
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Where to make the demo project (default: the store named by --store/KIROKU_STORE, else
    /// a new temporary directory).
    pub dir: Option<PathBuf>,
    /// Do not open the terminal UI afterwards.
    #[arg(long)]
    pub no_ui: bool,
    /// Epochs per training.
    #[arg(long, default_value_t = 30)]
    pub epochs: usize,
}

const EXPERIMENT: &str = "breast-cancer-logreg";

fn temp_project() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("kiroku-demo-{}", ids::short(&ids::new_run_id())));
    std::fs::create_dir_all(&dir)
        .map_err(|e| KirokuError::io(format!("creating {}", dir.display()), e))?;
    Ok(dir)
}

pub fn demo(cli: &Cli, args: &DemoArgs) -> Result<i32> {
    let mut ctx = Context::new(cli)?;
    if let Some(dir) = &args.dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| KirokuError::io(format!("creating {}", dir.display()), e))?;
        let dir = dir
            .canonicalize()
            .map_err(|e| KirokuError::io(format!("resolving {}", dir.display()), e))?;
        ctx.location = StoreLocation::Local(dir.join(STORE_DIR));
    } else if !ctx.explicit_store {
        ctx.location = StoreLocation::Local(temp_project()?.join(STORE_DIR));
    }
    let store = open_store(&ctx.location, true)?;
    let exe =
        std::env::current_exe().map_err(|e| KirokuError::io("finding the kiroku binary", e))?;
    let exe = exe.display().to_string();
    let trainings: &[(f64, u64, &str)] = &[
        (0.5, 1, "lr0.5-s1"),
        (0.5, 2, "lr0.5-s2"),
        (0.1, 1, "lr0.1-s1"),
        (0.1, 2, "lr0.1-s2"),
        (0.02, 1, "lr0.02-s1"),
        (0.005, 1, "lr0.005-s1"),
        (400.0, 1, "lr400-s1"),
    ];
    eprintln!("kiroku demo: store {}", store.describe());
    let mut outcomes = Vec::new();
    for (lr, seed, name) in trainings {
        let command = vec![
            exe.clone(),
            "dev".into(),
            "train".into(),
            "--lr".into(),
            lr.to_string(),
            "--seed".into(),
            seed.to_string(),
            "--epochs".into(),
            args.epochs.to_string(),
        ];
        let outcome = run_wrapped(
            store.clone(),
            WrapOptions {
                experiment: EXPERIMENT.into(),
                name: Some(name.to_string()),
                tags: vec![
                    ("team".into(), "vision".into()),
                    ("sweep".into(), "lr".into()),
                ],
                command,
                config: ctx.config.clone(),
                user: ctx.user.clone(),
                store_location: ctx.location_text(),
                echo: false,
                parent_id: None,
                mlflow: false,
                inputs: Vec::new(),
            },
        )?;
        eprintln!(
            "  trained {name:<12} {} · {}",
            outcome.status,
            crate::present::count_of(outcome.points, "point")
        );
        outcomes.push(outcome);
    }

    // What a team does next: star the best, note why, explain the failure.
    let page = store.search_runs(&RunQuery {
        experiments: vec![EXPERIMENT.into()],
        filter: Some("attributes.status = 'finished'".into()),
        sort: Some("metrics.val/acc desc, metrics.val/loss asc".into()),
        limit: Some(1),
        ..Default::default()
    })?;
    let mut lines = Vec::new();
    if let Some(best) = page.runs.first() {
        let acc = best
            .metrics
            .get("val/acc")
            .map(|m| format_value(m.last))
            .unwrap_or_default();
        store.set_star(&best.id, &ctx.user, true)?;
        store.set_tags(&best.id, &[("candidate".into(), "true".into())], &ctx.user)?;
        let note = store.add_note(
            &best.id,
            &NewNote {
                author: ctx.user.clone(),
                body: format!("Best validation accuracy of the sweep (**{acc}**).\n\nNext: try L2 regularisation before promoting it."),
                reply_to: None,
                anchor: None,
                created_ms: None,
            },
        )?;
        store.add_note(
            &best.id,
            &NewNote {
                author: "reviewer".into(),
                body: "Agreed; check seed variance first (compare with the s2 run).".into(),
                reply_to: Some(note.id),
                anchor: None,
                created_ms: None,
            },
        )?;
        lines.push(format!(
            "  best run      {} {} (val/acc {acc}, starred)",
            ids::short(&best.id),
            best.name
        ));
    }
    if let Some(failed) = outcomes.iter().find(|o| o.status == RunStatus::Failed) {
        store.add_note(
            &failed.run_id,
            &NewNote {
                author: ctx.user.clone(),
                body: "lr=400 diverges: the validation loss explodes after a few epochs.".into(),
                reply_to: None,
                anchor: None,
                created_ms: None,
            },
        )?;
        lines.push(format!(
            "  failed run    {} {} (diverged, on purpose)",
            ids::short(&failed.run_id),
            failed.run_name
        ));
    }
    let store_arg = match &ctx.location {
        StoreLocation::Local(p) => p.parent().unwrap_or(p).display().to_string(),
        StoreLocation::Remote(u) => u.clone(),
    };
    let best_ref = page
        .runs
        .first()
        .map(|r| r.name.clone())
        .unwrap_or_else(|| "RUN".into());
    let text = format!(
        "\nkiroku demo: {} trainings in experiment '{EXPERIMENT}' at {}\n{}\n\nLook at it:\n  \
         kiroku --store {store_arg} runs ls --sort 'metrics.val/acc desc'\n  \
         kiroku --store {store_arg} runs ls --filter \"metrics.val/acc > 0.95 and params.lr < 0.2\"\n  \
         kiroku --store {store_arg} show {best_ref}\n  \
         kiroku --store {store_arg} diff lr0.5-s1 lr0.1-s1 lr0.02-s1\n  \
         kiroku --store {store_arg} metrics {best_ref} val/acc\n  \
         kiroku --store {store_arg} events\n",
        outcomes.len(),
        store.describe(),
        lines.join("\n"),
    );
    print_text(&text).map_err(output_error)?;
    if !args.no_ui && super::ui_possible() {
        eprintln!("opening the terminal UI (q quits; --no-ui skips it)…");
        std::thread::sleep(std::time::Duration::from_millis(800));
        return super::open_ui(&mut ctx);
    }
    Ok(0)
}
