//! The server's own capacity with a fast client (kiroku's `HttpStore`, Rust, keep-alive):
//! 1,000-point batches on loopback from one client and from several, then 32 clients logging
//! at once, each into its own run and all into one shared run, with every point counted back.
//! The server is the real `kiroku serve` code (`BackgroundServer`) over a `SqliteStore`.
//!
//! `cargo bench --bench server_capacity` (target: >= 500,000 points/s through 1,000-point
//! batches; 32 concurrent clients with no errors and no lost points).
use kiroku::model::{KeyedPoint, NewRun};
use kiroku::server::BackgroundServer;
use kiroku::store::http::HttpStore;
use kiroku::store::prelude::*;
use kiroku::store::SqliteStore;
use std::sync::Arc;
use std::time::Instant;

const BATCH: usize = 1000;

fn batch(key: &str, start: usize) -> Vec<KeyedPoint> {
    (start..start + BATCH)
        .map(|i| KeyedPoint {
            key: key.into(),
            step: i as i64,
            timestamp: 1_700_000_000_000 + i as i64,
            value: i as f64 * 0.001,
        })
        .collect()
}

fn new_run(store: &dyn Store, name: &str) -> String {
    store
        .create_run(&NewRun {
            experiment: "capacity".into(),
            name: Some(name.into()),
            user: "bench".into(),
            ..Default::default()
        })
        .unwrap()
        .id
}

/// `clients` threads each send `batches` batches into their own run (or into `shared`).
fn ingest(url: &str, clients: usize, batches: usize, shared: Option<&str>) -> (f64, Vec<String>) {
    let setup = HttpStore::with_token(url, None).unwrap();
    let runs: Vec<String> = (0..clients)
        .map(|c| match shared {
            Some(id) => id.to_string(),
            None => new_run(&setup, &format!("c{c}")),
        })
        .collect();
    let started = Instant::now();
    let threads: Vec<_> = runs
        .iter()
        .enumerate()
        .map(|(c, run)| {
            let (url, run) = (url.to_string(), run.clone());
            std::thread::spawn(move || {
                let client = HttpStore::with_token(&url, None).unwrap();
                let key = format!("k{c}");
                let mut errors = 0;
                for b in 0..batches {
                    if client.log_metrics(&run, &batch(&key, b * BATCH)).is_err() {
                        errors += 1;
                    }
                }
                errors
            })
        })
        .collect();
    let errors: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(errors, 0, "failed batches");
    let rate = (clients * batches * BATCH) as f64 / secs;
    (rate, runs)
}

fn count(store: &dyn Store, run: &str, key: &str) -> usize {
    store.metric_series(run, key).unwrap().len()
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Arc::new(SqliteStore::open(&dir.path().join(".kiroku"), false).unwrap());
    let server = BackgroundServer::start(
        sqlite.clone() as Arc<dyn Store>,
        None,
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap();
    let url = server.url();
    println!("server capacity, 1,000-point batches over loopback HTTP ({url})");

    let (one, _) = ingest(&url, 1, 300, None);
    println!("  1 client:              {one:>12.0} points/s");
    let (four, _) = ingest(&url, 4, 150, None);
    println!("  4 clients:             {four:>12.0} points/s");

    let (rate, runs) = ingest(&url, 32, 40, None);
    let lost: usize = runs
        .iter()
        .enumerate()
        .map(|(c, r)| 40 * BATCH - count(sqlite.as_ref(), r, &format!("k{c}")))
        .sum();
    println!("  32 clients, own runs:  {rate:>12.0} points/s, lost points: {lost}");

    let shared = new_run(sqlite.as_ref(), "shared");
    let (rate_shared, _) = ingest(&url, 32, 20, Some(&shared));
    let lost_shared: usize = (0..32)
        .map(|c| 20 * BATCH - count(sqlite.as_ref(), &shared, &format!("k{c}")))
        .sum();
    println!("  32 clients, one run:   {rate_shared:>12.0} points/s, lost points: {lost_shared}");

    // Single-point writes, one call each: the store alone, then through HTTP.
    let run = new_run(sqlite.as_ref(), "single");
    let http = HttpStore::with_token(&url, None).unwrap();
    let one_point = |i: usize| {
        vec![KeyedPoint {
            key: "s".into(),
            step: i as i64,
            timestamp: i as i64,
            value: 1.0,
        }]
    };
    let started = Instant::now();
    for i in 0..2000 {
        sqlite.log_metrics(&run, &one_point(i)).unwrap();
    }
    let store_us = started.elapsed().as_secs_f64() / 2000.0 * 1e6;
    let started = Instant::now();
    for i in 2000..4000 {
        http.log_metrics(&run, &one_point(i)).unwrap();
    }
    let http_us = started.elapsed().as_secs_f64() / 2000.0 * 1e6;
    println!("  single-point write:    {store_us:>9.0} us in the store, {http_us:.0} us over HTTP");

    let best = one.max(four);
    let ok = best >= 500_000.0 && lost == 0 && lost_shared == 0;
    println!(
        "target >= 500,000 points/s and no lost points: {}",
        if ok { "ok" } else { "MISSED" }
    );
}
