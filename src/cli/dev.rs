//! Developer tools (hidden from `--help`): the demo's trainer, a store generator for
//! benchmarks, and a batch writer that reports each commit (used by the crash-safety test).
use super::output::{output_error, print_text};
use super::Context;
use crate::demo_model::{train, TrainConfig};
use crate::error::{KirokuError, Result};
use crate::model::{now_ms, KeyedPoint};
use crate::store::synthetic::{self, SyntheticSpec};
use clap::Subcommand;
use std::io::Write;
use std::time::Instant;

/// The demo trainer's pause per epoch: 30 epochs last about three seconds, like a small real
/// training (the demo runs its trainings side by side).
const DEMO_EPOCH_PAUSE_MS: u64 = 100;

#[derive(Debug, Subcommand)]
pub enum DevCommand {
    /// Train the demo model (logistic regression on the bundled dataset).
    Train {
        #[arg(long, default_value_t = 0.1)]
        lr: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 30)]
        epochs: usize,
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
        #[arg(long, default_value_t = 0.0)]
        l2: f64,
        /// Save `model.json` and `confusion_matrix.txt` here at the end.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Fill the store with synthetic runs and points (for benchmarks).
    GenStore {
        #[arg(long, default_value_t = 1000)]
        runs: u64,
        /// Total metric points, spread over the runs (two keys each: acc and loss).
        #[arg(long, default_value_t = 100_000)]
        points: u64,
        /// Also one run with a single series of this many points (key `big`).
        #[arg(long, default_value_t = 0)]
        big_series: u64,
        #[arg(long, default_value = "bench")]
        experiment: String,
    },
    /// A do-nothing MLflow server (the MLflow client's ceiling, for the server benchmark).
    NullMlflow {
        #[arg(long, default_value = "127.0.0.1:0")]
        bind: std::net::SocketAddr,
        /// Answer with the recorded answers of this file (JSON lines `{method, uri, body,
        /// answer}`) instead: the client's floor for exactly those answers.
        #[arg(long)]
        replay: Option<std::path::PathBuf>,
    },
    /// Write `batches` batches of `batch_size` points into a run, printing `committed N` after
    /// each commit.
    WritePoints {
        #[arg(long)]
        run: String,
        #[arg(long, default_value_t = 100)]
        batches: u64,
        #[arg(long, default_value_t = 1000)]
        batch_size: u64,
        #[arg(long, default_value = "x")]
        key: String,
    },
}

pub fn dev(ctx: &mut Context, cmd: &DevCommand) -> Result<i32> {
    match cmd {
        DevCommand::NullMlflow { bind, replay } => {
            if !crate::server::is_loopback(bind) {
                return Err(KirokuError::Invalid(
                    "the null server binds loopback only".into(),
                ));
            }
            crate::server::null_mlflow::serve_blocking(*bind, replay.as_deref())
                .map_err(|e| KirokuError::io("null MLflow server", e))?;
            Ok(0)
        }
        DevCommand::Train {
            lr,
            seed,
            epochs,
            batch_size,
            l2,
            out,
        } => {
            if *batch_size == 0 || *epochs == 0 {
                return Err(KirokuError::Invalid(
                    "--batch-size and --epochs must be positive".into(),
                ));
            }
            Ok(train(&TrainConfig {
                lr: *lr,
                seed: *seed,
                epochs: *epochs,
                batch_size: *batch_size,
                l2: *l2,
                epoch_pause_ms: DEMO_EPOCH_PAUSE_MS,
                out: out.clone(),
            }))
        }
        DevCommand::GenStore {
            runs,
            points,
            big_series,
            experiment,
        } => gen_store(ctx, *runs, *points, *big_series, experiment),
        DevCommand::WritePoints {
            run,
            batches,
            batch_size,
            key,
        } => {
            let store = ctx.store()?;
            let id = store.resolve_run(run)?;
            let mut out = std::io::stdout().lock();
            let mut step = 0i64;
            for _ in 0..*batches {
                let batch: Vec<KeyedPoint> = (0..*batch_size)
                    .map(|_| {
                        step += 1;
                        KeyedPoint {
                            key: key.clone(),
                            step,
                            timestamp: now_ms(),
                            value: step as f64,
                        }
                    })
                    .collect();
                store.log_metrics(&id, &batch)?;
                let _ = writeln!(out, "committed {step}");
                let _ = out.flush();
            }
            Ok(0)
        }
    }
}

fn gen_store(
    ctx: &mut Context,
    runs: u64,
    points: u64,
    big_series: u64,
    experiment: &str,
) -> Result<i32> {
    let store = ctx.store()?;
    let started = Instant::now();
    let report = synthetic::generate(
        store.as_ref(),
        &SyntheticSpec {
            runs,
            points,
            big_series,
            experiment: experiment.to_string(),
        },
    )?;
    let text = format!(
        "generated {runs} runs and {} points in {:.1}s{}\n",
        report.points,
        started.elapsed().as_secs_f64(),
        report
            .big_run
            .map(|id| format!(" (big series: run {id}, key big)"))
            .unwrap_or_default()
    );
    print_text(&text).map_err(output_error)?;
    Ok(0)
}
