//! Query benchmark over a large store: 100,000 runs and 10,000,000 points plus one
//! 1,000,000-point series (generated once into `target/bench-stores/`, reused afterwards).
//! Measures the wall time of the real binary for
//! `kiroku runs ls --filter 'metrics.acc > 0.5 and params.lr < 0.01' --sort 'metrics.acc desc' --limit 50`
//! (target < 150 ms) and the in-process read of the 1,000,000-point series (target < 200 ms).
//!
//! `cargo bench --bench query` (set KIROKU_BENCH_RUNS / KIROKU_BENCH_POINTS for a smaller store).
mod common;

use common::{bench_store, env_u64, median, BIG};
use kiroku::model::RunQuery;
use kiroku::store::prelude::*;
use kiroku::store::SqliteStore;
use std::process::Command;
use std::time::Instant;

fn main() {
    let runs = env_u64("KIROKU_BENCH_RUNS", 100_000);
    let points = env_u64("KIROKU_BENCH_POINTS", 10_000_000);
    let big = BIG;
    let (store_dir, big_run) = bench_store();
    let store = SqliteStore::open(&store_dir, false).unwrap();

    let args = [
        "--store",
        store_dir.to_str().unwrap(),
        "runs",
        "ls",
        "--filter",
        "metrics.acc > 0.5 and params.lr < 0.01",
        "--sort",
        "metrics.acc desc",
        "--limit",
        "50",
        "--format",
        "json",
    ];
    let mut walls = Vec::new();
    let mut returned = 0;
    for _ in 0..9 {
        let started = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_kiroku"))
            .args(args)
            .output()
            .unwrap();
        walls.push(started.elapsed().as_secs_f64() * 1000.0);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        returned = v["runs"].as_array().unwrap().len();
    }
    let in_process: Vec<f64> = (0..9)
        .map(|_| {
            let started = Instant::now();
            let page = store
                .search_runs(&RunQuery {
                    filter: Some("metrics.acc > 0.5 and params.lr < 0.01".into()),
                    sort: Some("metrics.acc desc".into()),
                    limit: Some(50),
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(page.runs.len(), returned);
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    let reads: Vec<f64> = (0..9)
        .map(|_| {
            let started = Instant::now();
            let series = store.metric_series(&big_run, "big").unwrap();
            assert_eq!(series.len(), big as usize);
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    println!("store: {runs} runs, {points} points + one {big}-point series");
    println!("  runs ls (filter, sort, limit 50), wall of the binary  {:>8.1} ms  (target < 150 ms; {returned} runs returned)", median(walls));
    println!(
        "  same query in process (search_runs)                 {:>8.1} ms",
        median(in_process)
    );
    println!(
        "  read the {big}-point series (metric_series)        {:>8.1} ms  (target < 200 ms)",
        median(reads)
    );
}
