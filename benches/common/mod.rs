//! What the benchmarks share: reading sizes from the environment, medians, and the large
//! bench store (100,000 runs, 10,000,000 points and one 1,000,000-point series), generated
//! once under `target/bench-stores/` and reused.
#![allow(dead_code)]
use kiroku::store::synthetic::{generate, SyntheticSpec};
use kiroku::store::SqliteStore;
use std::path::PathBuf;
use std::time::Instant;

pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// The length of the big series.
pub const BIG: u64 = 1_000_000;

/// The bench store's `.kiroku` folder and the big run's id (sizes from KIROKU_BENCH_RUNS and
/// KIROKU_BENCH_POINTS).
pub fn bench_store() -> (PathBuf, String) {
    let runs = env_u64("KIROKU_BENCH_RUNS", 100_000);
    let points = env_u64("KIROKU_BENCH_POINTS", 10_000_000);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/bench-stores")
        .join(format!("runs{runs}-points{points}"));
    let store_dir = root.join(".kiroku");
    let ready = root.join("READY");
    if !ready.is_file() {
        let _ = std::fs::remove_dir_all(&root);
        println!(
            "generating {runs} runs, {points} points and a {BIG}-point series in {} (once)…",
            root.display()
        );
        let started = Instant::now();
        let store = SqliteStore::open(&store_dir, false).unwrap();
        let report = generate(
            &store,
            &SyntheticSpec {
                runs,
                points,
                big_series: BIG,
                experiment: "bench".into(),
            },
        )
        .unwrap();
        std::fs::write(&ready, report.big_run.unwrap()).unwrap();
        println!("generated in {:.1}s", started.elapsed().as_secs_f64());
    }
    (store_dir, std::fs::read_to_string(&ready).unwrap())
}
