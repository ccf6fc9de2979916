//! `kiroku repro [STAGE…]`: runs a `dvc.yaml` pipeline's stale stages (the work is
//! `crate::pipelines::repro`'s). Progress goes to stderr; the summary (which stages ran, were
//! restored from the run-cache, failed, were skipped) too, or the report as JSON on stdout
//! with `--format json`. Exit 0 when every stage that had to run succeeded, 1 otherwise, 130
//! after Ctrl-C.
use super::Context;
use crate::error::{KirokuError, Result};
use crate::pipelines::progress::Progress;
use crate::pipelines::repro::{repro, ReproEnv, ReproOptions, ReproReport};
use crate::pipelines::StatCache;
use crate::present::Format;
use clap::Args;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Args)]
pub struct ReproArgs {
    /// Stages to bring up to date (with the stages they depend on); all when none.
    pub stages: Vec<String>,
    /// Run the stages even when they are up to date.
    #[arg(short, long)]
    pub force: bool,
    /// Only the named stages, not the stages they depend on.
    #[arg(short = 's', long)]
    pub single_item: bool,
    /// The named stages and the stages that depend on them.
    #[arg(long)]
    pub downstream: bool,
    /// Print what would run and why; run nothing.
    #[arg(long)]
    pub dry: bool,
    /// Stages at once (default: the local target's max_parallel, else the number of CPUs,
    /// at least 4).
    #[arg(short = 'j', long = "jobs")]
    pub jobs: Option<usize>,
    /// The job target for stages whose `meta.kiroku.target` names none.
    #[arg(long)]
    pub target: Option<String>,
    /// Run every stale stage, never restoring outputs from the run-cache.
    #[arg(long)]
    pub no_run_cache: bool,
    /// The folder holding dvc.yaml (default: the current one).
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
}

/// Set by SIGINT while a repro runs.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

pub fn repro_command(ctx: &mut Context, args: &ReproArgs, explicit: Option<Format>) -> Result<i32> {
    if args.jobs == Some(0) {
        return Err(KirokuError::Invalid("-j must be at least 1".into()));
    }
    let json = explicit == Some(Format::Json);
    let store = ctx.store()?;
    let stat_cache = StatCache::for_store(Some(&ctx.location))?;
    // SAFETY: the handler only stores to an atomic.
    unsafe { libc::signal(libc::SIGINT, on_sigint as *const () as libc::sighandler_t) };
    let opts = ReproOptions {
        targets: args.stages.clone(),
        force: args.force,
        single_item: args.single_item,
        downstream: args.downstream,
        dry: args.dry,
        jobs: args.jobs,
        target: args.target.clone(),
        no_run_cache: args.no_run_cache,
    };
    let env = ReproEnv {
        store: store.as_ref(),
        config: &ctx.config,
        store_location: ctx.location_text(),
        stat_cache,
        experiment: ctx
            .config
            .run
            .experiment
            .clone()
            .unwrap_or_else(|| "Default".into()),
        user: ctx.user.clone(),
        host: crate::process::host_name().unwrap_or_else(|| "localhost".into()),
        interrupted: &INTERRUPTED,
        progress: Progress::for_stderr(json),
    };
    let report = repro(&args.dir, env, &opts)?;
    if json {
        super::output::print_json(&report).map_err(super::output::output_error)?;
    } else {
        print_summary(&report, args.dry);
    }
    Ok(if report.interrupted {
        130
    } else if report.failed() {
        1
    } else {
        0
    })
}

fn print_summary(report: &ReproReport, dry: bool) {
    if report.stages.is_empty() {
        eprintln!("Data and pipelines are up to date.");
    }
    for name in &report.frozen {
        eprintln!("{name}: frozen, not run");
    }
    if dry {
        for stage in &report.stages {
            eprintln!("would run {}: {}", stage.stage, stage.reasons.join("; "));
        }
        return;
    }
    let count = |word: &str| report.stages.iter().filter(|s| s.outcome == word).count();
    let names = |word: &str| {
        report
            .stages
            .iter()
            .filter(|s| s.outcome == word)
            .map(|s| s.stage.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if report.stages.is_empty() {
        return;
    }
    let mut parts = vec![format!("{} ran", count("ran"))];
    for word in ["restored", "failed", "killed", "skipped"] {
        if count(word) > 0 {
            parts.push(format!("{} {word} ({})", count(word), names(word)));
        }
    }
    let run = report.pipeline_run.as_deref().map_or(String::new(), |r| {
        format!(" · pipeline run {}", crate::ids::short(r))
    });
    eprintln!("{}{run}", parts.join(" · "));
    for stage in report.stages.iter().filter(|s| s.outcome == "restored") {
        let own = stage.run_id.as_deref().map_or(String::new(), |r| {
            format!(" as run {}", crate::ids::short(r))
        });
        let from = stage.restored_from.as_deref().map_or(String::new(), |r| {
            format!(" from run {}", crate::ids::short(r))
        });
        eprintln!("  restored {}{from}{own}", stage.stage);
    }
    if report.interrupted {
        eprintln!("interrupted: the running stages were killed, nothing of them recorded");
    }
}
