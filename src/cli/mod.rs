//! The command line: clap definitions and dispatch. One module per command group; each turns
//! arguments into calls on the `Store` (or ingest/wrap) and results into output.
pub mod annotate;
pub mod check;
pub mod check_import;
pub mod completions;
pub mod data;
pub mod demo;
pub mod dev;
pub mod experiments;
pub mod gc;
pub mod job_exec;
pub mod jobs;
pub mod log;
pub mod mcp;
pub mod model;
pub mod output;
pub mod pipelines;
pub mod quick_parse;
pub mod repro;
pub mod review;
pub mod runs;
pub mod serve;
pub mod token;

use crate::config::Config;
use crate::error::{KirokuError, Result};
use crate::present::Format;
use crate::store::{open_store, resolve_location, Store, StoreLocation};
use clap::{Args, Parser, Subcommand};
use std::sync::Arc;

#[derive(Debug, Parser)]
#[command(
    name = "kiroku",
    version,
    about = "A terminal workbench for machine-learning teams: track, browse, compare and annotate runs."
)]
pub struct Cli {
    /// The store: a `.kiroku` folder, the project folder holding one, or an http(s) URL.
    /// Default: $KIROKU_STORE, then the nearest .kiroku above the current directory, then a
    /// per-user store.
    #[arg(long, global = true, value_name = "PATH")]
    pub store: Option<String>,
    /// Output format of listings (default: table on a terminal, json otherwise).
    #[arg(long, global = true, value_enum)]
    pub format: Option<Format>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a store (.kiroku/) in the current directory.
    Init {
        /// Make it group-writable so several users of this box can share it.
        #[arg(long)]
        shared: bool,
    },
    /// Run a command as a tracked run: `kiroku run [--exp E] [--name N] -- CMD ARGS...`.
    Run(runs::RunArgs),
    /// Log a metric, param, tag, artifact or input into a run (from $KIROKU_RUN_ID or --run).
    #[command(subcommand)]
    Log(log::LogCommand),
    /// Import runs from another tool.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Experiments: ls, create, rename, rm.
    #[command(subcommand)]
    Exp(experiments::ExpCommand),
    /// Runs: ls.
    #[command(subcommand)]
    Runs(runs::RunsCommand),
    /// Show one run: status, source, params, metrics, tags, notes, inputs, artifacts.
    Show {
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(completions::runs))]
        run: String,
    },
    /// Compare runs: params side by side, metric summaries with deltas against the first.
    Diff {
        #[arg(required = true, num_args = 2.., add = clap_complete::engine::ArgValueCompleter::new(completions::runs))]
        runs: Vec<String>,
        /// Show every param, not only those that differ.
        #[arg(long)]
        all: bool,
    },
    /// A run's metrics (summary), or one metric's full series.
    Metrics {
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(completions::runs))]
        run: String,
        key: Option<String>,
        /// Reduce the series to N columns (count, first, last, min, max each), as charts do.
        #[arg(long)]
        buckets: Option<usize>,
    },
    /// Notes on runs.
    #[command(subcommand)]
    Note(annotate::NoteCommand),
    /// Set tags on a run: `kiroku tag RUN k=v...`.
    Tag {
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(completions::runs))]
        run: String,
        #[arg(required = true)]
        tags: Vec<String>,
    },
    /// Remove tags from a run.
    Untag {
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(completions::runs))]
        run: String,
        #[arg(required = true)]
        keys: Vec<String>,
    },
    /// Star a run (for you).
    Star {
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(completions::runs))]
        run: String,
    },
    /// Remove your star from a run.
    Unstar {
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(completions::runs))]
        run: String,
    },
    /// Delete a run (soft: `kiroku restore` brings it back).
    Rm {
        #[arg(required = true, add = clap_complete::engine::ArgValueCompleter::new(completions::runs))]
        runs: Vec<String>,
    },
    /// Restore deleted runs.
    Restore {
        #[arg(required = true, add = clap_complete::engine::ArgValueCompleter::new(completions::runs))]
        runs: Vec<String>,
    },
    /// The activity log, newest first.
    Events(annotate::EventsArgs),
    /// Serve this store over HTTP: kiroku's API and MLflow's tracking API.
    Serve(serve::ServeArgs),
    /// API tokens for `kiroku serve`: create, ls, revoke.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Make a small real project (trainings on a bundled dataset) and show how to look at it.
    Demo(demo::DemoArgs),
    /// Open the terminal UI (also what a bare `kiroku` does on a terminal).
    Ui,
    /// Developer tools: store generators and helpers used by tests and benchmarks.
    #[command(subcommand, hide = true)]
    Dev(dev::DevCommand),
    /// Queue a command as a job: `kiroku submit [--target T] [--gpus N] -- CMD ARGS...`;
    /// prints the job id and returns at once.
    Submit(jobs::SubmitArgs),
    /// Queue a run's command again with changed params: `kiroku rerun RUN --set lr=0.1`.
    Rerun(jobs::RerunArgs),
    /// Jobs: ls, show, logs, cancel, retry.
    #[command(subcommand)]
    Jobs(jobs::JobsCommand),
    /// This host's job scheduler for the store (started by `submit`; exits when idle).
    #[command(hide = true)]
    Scheduler,
    /// The supervisor of one started job (started by the scheduler, detached): `kiroku job-exec ID`.
    #[command(name = "job-exec", hide = true)]
    JobExec { id: crate::model::JobId },
    /// Print the shell's completion registration: `source <(kiroku completions bash)`.
    Completions(completions::CompletionsArgs),
    /// Print kiroku's manual page (roff), or write one per command with `--dir DIR`.
    Man(completions::ManArgs),
    /// Check datasets against a suite: `kiroku check SUITE --data NAME=PATH`; exit 0 pass or
    /// warn, 1 fail, 2 broken suite or unreadable data. `kiroku check import gx|soda FILE`.
    Check(check::CheckArgs),
    /// Dataset versions: add, ls, show, diff.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Approve, waive or reject a check run's failed or warned results.
    Review(review::ReviewArgs),
    /// Which stages of the pipeline (`dvc.yaml`) would rerun, and why.
    Status(pipelines::StatusArgs),
    /// The pipeline's stage graph: an indented tree, `--json` or `--dot`.
    Dag(pipelines::DagArgs),
    /// Run a dvc.yaml pipeline's stale stages as jobs and runs: `kiroku repro [STAGE…] [-f] [-j N]`.
    Repro(repro::ReproArgs),
    /// Free the pipelines' content cache of what the current dvc.lock and recent pipeline runs do not use.
    Gc(gc::GcArgs),
    /// The model registry: versions, gated aliases, history, rollback, approvals, deploy hooks.
    #[command(subcommand)]
    Model(model::ModelCommand),
    /// Serve this store to an agent over the Model Context Protocol on stdin/stdout.
    Mcp(mcp::McpArgs),
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import an MLflow `mlruns/` folder or `mlflow.db` (idempotent).
    Mlflow { path: std::path::PathBuf },
}

#[derive(Debug, Args)]
pub struct NoArgs {}

/// What every command gets: the store, the output format, who is acting.
pub struct Context {
    pub location: StoreLocation,
    pub format: Format,
    pub user: String,
    pub config: Config,
    /// Whether the store was named (`--store` or `KIROKU_STORE`) rather than discovered.
    pub explicit_store: bool,
    store: Option<Arc<dyn Store>>,
}

impl Context {
    pub fn new(cli: &Cli) -> Result<Self> {
        let location = resolve_location(cli.store.as_deref())?;
        let explicit_store =
            cli.store.is_some() || std::env::var("KIROKU_STORE").is_ok_and(|v| !v.is_empty());
        let mut ctx = Context::for_location(location, explicit_store)?;
        ctx.format = Format::resolve(cli.format);
        Ok(ctx)
    }

    /// A context for a store already located, with the configuration read afresh (the output
    /// format is the default one).
    pub fn for_location(location: StoreLocation, explicit_store: bool) -> Result<Self> {
        let config = Config::load(location.project_dir().as_deref())?;
        let user = match std::env::var("KIROKU_USER") {
            Ok(u) if !u.is_empty() => u,
            _ => config
                .user
                .clone()
                .unwrap_or_else(crate::wrap::source::user_name),
        };
        Ok(Context {
            location,
            format: Format::resolve(None),
            user,
            config,
            explicit_store,
            store: None,
        })
    }

    pub fn store(&mut self) -> Result<Arc<dyn Store>> {
        if let Some(s) = &self.store {
            return Ok(Arc::clone(s));
        }
        // A first open after an upgrade migrates the store, which takes seconds on a big one.
        let opening = crate::present::progress::slow_work("opening the store");
        let s = open_store(&self.location, false);
        drop(opening);
        let s = s?;
        self.store = Some(Arc::clone(&s));
        Ok(s)
    }

    /// Uses `store`, opened already for this context's location, rather than opening it.
    pub fn use_store(&mut self, store: Arc<dyn Store>) {
        self.store = Some(store);
    }

    /// How to name this store to a child process (`KIROKU_STORE`).
    pub fn location_text(&self) -> String {
        match &self.location {
            StoreLocation::Local(p) => p.display().to_string(),
            StoreLocation::Remote(u) => u.clone(),
        }
    }
}

/// Runs the parsed command line; returns the process exit code.
pub fn dispatch(cli: Cli) -> Result<i32> {
    let Some(command) = cli.command.as_ref() else {
        let mut ctx = Context::new(&cli)?;
        if ui_possible() {
            return open_ui(&mut ctx);
        }
        return runs::overview(&mut ctx);
    };
    if let Command::Demo(args) = command {
        return demo::demo(&cli, args);
    }
    // Neither needs a store or a configuration.
    match command {
        Command::Completions(args) => return completions::completions(args),
        Command::Man(args) => return completions::man(args),
        Command::Dag(args) => return pipelines::dag(args, cli.format),
        Command::Status(args) => {
            // Only the stat cache's place is needed, not the store or the configuration.
            let location = resolve_location(cli.store.as_deref()).ok();
            return pipelines::status(location.as_ref(), args, cli.format);
        }
        _ => {}
    }
    let mut ctx = Context::new(&cli)?;
    match command {
        Command::Init { shared } => experiments::init(&ctx, *shared),
        Command::Run(args) => runs::run(&mut ctx, args),
        Command::Log(cmd) => log::log(&mut ctx, cmd),
        Command::Import(ImportCommand::Mlflow { path }) => runs::import_mlflow(&mut ctx, path),
        Command::Exp(cmd) => experiments::exp(&mut ctx, cmd),
        Command::Runs(cmd) => runs::runs(&mut ctx, cmd),
        Command::Show { run } => runs::show(&mut ctx, run),
        Command::Diff { runs: refs, all } => runs::diff(&mut ctx, refs, *all),
        Command::Metrics { run, key, buckets } => {
            runs::metrics(&mut ctx, run, key.as_deref(), *buckets)
        }
        Command::Note(cmd) => annotate::note(&mut ctx, cmd),
        Command::Tag { run, tags } => annotate::tag(&mut ctx, run, tags),
        Command::Untag { run, keys } => annotate::untag(&mut ctx, run, keys),
        Command::Star { run } => annotate::star(&mut ctx, run, true),
        Command::Unstar { run } => annotate::star(&mut ctx, run, false),
        Command::Rm { runs: refs } => annotate::delete(&mut ctx, refs, true),
        Command::Restore { runs: refs } => annotate::delete(&mut ctx, refs, false),
        Command::Events(args) => annotate::events(&mut ctx, args),
        Command::Ui => open_ui(&mut ctx),
        Command::Dev(cmd) => dev::dev(&mut ctx, cmd),
        Command::Serve(args) => serve::serve(&mut ctx, args),
        Command::Token(cmd) => token::token(&mut ctx, cmd),
        Command::JobExec { id } => job_exec::job_exec_command(&mut ctx, *id),
        Command::Demo(_)
        | Command::Completions(_)
        | Command::Man(_)
        | Command::Dag(_)
        | Command::Status(_) => {
            unreachable!("handled above")
        }
        Command::Submit(args) => jobs::submit(&mut ctx, args, cli.format),
        Command::Rerun(args) => jobs::rerun_run(&mut ctx, args, cli.format),
        Command::Jobs(cmd) => jobs::jobs(&mut ctx, cmd, cli.format),
        Command::Scheduler => jobs::run_scheduler(&mut ctx),
        Command::Check(args) => check::check(&mut ctx, args, cli.format),
        Command::Data(cmd) => data::data(&mut ctx, cmd),
        Command::Review(args) => review::review(&mut ctx, args),
        Command::Repro(args) => repro::repro_command(&mut ctx, args, cli.format),
        Command::Gc(args) => gc::gc_command(&mut ctx, args, cli.format),
        Command::Model(cmd) => model::model(&mut ctx, cmd),
        Command::Mcp(args) => mcp::mcp(&mut ctx, args),
    }
}

/// Whether stdin and stdout are a terminal, so the UI can run.
pub fn ui_possible() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

/// Opens the terminal UI over the context's store.
pub fn open_ui(ctx: &mut Context) -> Result<i32> {
    if !ui_possible() {
        return Err(KirokuError::Invalid(
            "the UI needs a terminal; use `kiroku runs ls` and friends in scripts".into(),
        ));
    }
    let store = ctx.store()?;
    // A local store's folder is watched for changes; a remote one is polled.
    let dir = match &ctx.location {
        StoreLocation::Local(p) => Some(p.clone()),
        StoreLocation::Remote(_) => None,
    };
    let jobs = crate::tui::worker::JobsContext {
        config: ctx.config.clone(),
        store_location: match &ctx.location {
            StoreLocation::Local(p) => p.display().to_string(),
            StoreLocation::Remote(url) => url.clone(),
        },
    };
    crate::tui::open(store, dir, &ctx.user, jobs)
        .map_err(|e| KirokuError::io("running the terminal UI", e))?;
    Ok(0)
}
