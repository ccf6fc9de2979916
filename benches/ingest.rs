//! Ingest benchmark: metric points through the metrics-file path (JSON lines parsed by
//! `MetricsFileTail`, written by `Store::log_metrics` in the ingest loop's batch size, chunks and
//! summaries included) against a bare rusqlite insert loop (one prepared INSERT per point, one
//! transaction, no index) into a plain points table with the same database settings. Both run
//! interleaved in the same process; the median of each is reported with the ratio.
//!
//! `cargo bench --bench ingest` (target: kiroku ≥ 0.5 × bare, and over 500,000 points/s).
use kiroku::ingest::metrics_file::MetricsFileTail;
use kiroku::model::{KeyedPoint, NewRun};
use kiroku::store::prelude::*;
use kiroku::store::SqliteStore;
use std::io::Write;
use std::time::Instant;

const LINES: usize = 100_000;
const REPS: usize = 5;
const BATCH: usize = 50_000;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn kiroku_path(metrics_file: &std::path::Path) -> (f64, usize) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join(".kiroku"), false).unwrap();
    let run = store
        .create_run(&NewRun {
            experiment: "bench".into(),
            user: "bench".into(),
            ..Default::default()
        })
        .unwrap();
    let started = Instant::now();
    let mut tail = MetricsFileTail::new(metrics_file);
    let ingested = tail.poll(true).unwrap();
    for chunk in ingested.points.chunks(BATCH) {
        store.log_metrics(&run.id, chunk).unwrap();
    }
    (started.elapsed().as_secs_f64(), ingested.points.len())
}

fn bare_rusqlite(points: &[KeyedPoint]) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = rusqlite::Connection::open(dir.path().join("bare.db")).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    conn.execute_batch(
        "CREATE TABLE points (run INTEGER, key TEXT, step INTEGER, timestamp INTEGER, value REAL)",
    )
    .unwrap();
    let started = Instant::now();
    let tx = conn.transaction().unwrap();
    {
        let mut stmt = tx
            .prepare(
                "INSERT INTO points (run, key, step, timestamp, value) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .unwrap();
        for p in points {
            stmt.execute(rusqlite::params![1, p.key, p.step, p.timestamp, p.value])
                .unwrap();
        }
    }
    tx.commit().unwrap();
    started.elapsed().as_secs_f64()
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for i in 0..LINES {
        let x = i as f64;
        writeln!(
            f,
            r#"{{"step": {i}, "timestamp": {}, "train/loss": {}, "val/acc": {}}}"#,
            1_700_000_000_000i64 + i as i64,
            1.0 / (1.0 + x),
            x / LINES as f64
        )
        .unwrap();
    }
    f.flush().unwrap();
    drop(f);
    let points = MetricsFileTail::new(&path).poll(true).unwrap().points;

    let mut ours = Vec::new();
    let mut bare = Vec::new();
    let mut n = 0;
    for _ in 0..REPS {
        let (t, count) = kiroku_path(&path);
        n = count;
        ours.push(count as f64 / t);
        bare.push(points.len() as f64 / bare_rusqlite(&points));
    }
    let (ours, bare) = (median(ours), median(bare));
    println!("ingest: {n} points per pass, median of {REPS} interleaved passes");
    println!("  bare rusqlite insert loop      {:>12.0} points/s", bare);
    println!("  kiroku metrics-file → store    {:>12.0} points/s", ours);
    println!("  ratio kiroku / bare            {:>12.2}  (target ≥ 0.50; absolute target > 500000 points/s)", ours / bare);
}
