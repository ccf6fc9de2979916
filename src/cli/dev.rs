//! Developer tools (hidden from `--help`): the demo's trainer, a store generator for
//! benchmarks, and a batch writer that reports each commit (used by the crash-safety test).
use super::output::print_text;
use super::Context;
use crate::demo_model::{train, TrainConfig};
use crate::error::{KirokuError, Result};
use crate::model::{now_ms, KeyedPoint, NewRun, RunStatus};
use clap::Subcommand;
use std::io::Write;
use std::time::Instant;

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
        DevCommand::Train {
            lr,
            seed,
            epochs,
            batch_size,
            l2,
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

/// Deterministic pseudo-random numbers for generated stores.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn unit(seed: u64) -> f64 {
    (mix(seed) % 1_000_000) as f64 / 1_000_000.0
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
    let per_run = (points / runs.max(1) / 2).max(1);
    let lrs = ["0.1", "0.03", "0.01", "0.003", "0.001", "0.0003"];
    let optimizers = ["adam", "sgd", "adamw"];
    let base_time = now_ms() - (runs as i64) * 60_000;
    let mut written = 0u64;
    for i in 0..runs {
        let run = store.create_run(&NewRun {
            experiment: experiment.to_string(),
            name: Some(format!("gen-{i}")),
            user: ["alice", "bob", "carol"][(i % 3) as usize].into(),
            status: Some(RunStatus::Finished),
            start_time: Some(base_time + i as i64 * 60_000),
            end_time: Some(base_time + i as i64 * 60_000 + 30_000),
            params: vec![
                (
                    "lr".into(),
                    lrs[(mix(i) % lrs.len() as u64) as usize].into(),
                ),
                (
                    "optimizer".into(),
                    optimizers[(mix(i + 7) % 3) as usize].into(),
                ),
                ("seed".into(), (i % 5).to_string()),
                (
                    "batch_size".into(),
                    ["32", "64", "128"][(i % 3) as usize].into(),
                ),
            ],
            tags: vec![("team".into(), ["vision", "nlp"][(i % 2) as usize].into())],
            ..Default::default()
        })?;
        let ceiling = 0.5 + 0.5 * unit(i);
        let batch: Vec<KeyedPoint> = (0..per_run)
            .flat_map(|s| {
                let progress = (s + 1) as f64 / per_run as f64;
                let t = base_time + s as i64;
                [
                    KeyedPoint {
                        key: "acc".into(),
                        step: s as i64,
                        timestamp: t,
                        value: ceiling * progress,
                    },
                    KeyedPoint {
                        key: "loss".into(),
                        step: s as i64,
                        timestamp: t,
                        value: 1.0 / (1.0 + s as f64) + 0.01 * unit(i * 31 + s),
                    },
                ]
            })
            .collect();
        written += batch.len() as u64;
        store.log_metrics(&run.id, &batch)?;
    }
    let mut big_id = None;
    if big_series > 0 {
        let run = store.create_run(&NewRun {
            experiment: experiment.to_string(),
            name: Some("big-series".into()),
            user: "alice".into(),
            status: Some(RunStatus::Finished),
            ..Default::default()
        })?;
        let mut s = 0u64;
        while s < big_series {
            let n = (big_series - s).min(100_000);
            let batch: Vec<KeyedPoint> = (s..s + n)
                .map(|k| KeyedPoint {
                    key: "big".into(),
                    step: k as i64,
                    timestamp: base_time + k as i64,
                    value: (k as f64).sin(),
                })
                .collect();
            store.log_metrics(&run.id, &batch)?;
            s += n;
        }
        written += big_series;
        big_id = Some(run.id);
    }
    let text = format!(
        "generated {runs} runs and {written} points in {:.1}s{}\n",
        started.elapsed().as_secs_f64(),
        big_id
            .map(|id| format!(" (big series: run {id}, key big)"))
            .unwrap_or_default()
    );
    print_text(&text).map_err(|e| KirokuError::io("writing output", e))?;
    Ok(0)
}
