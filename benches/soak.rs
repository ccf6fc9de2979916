//! Soak: a real `kiroku serve` process (this build's binary) on 127.0.0.1, 32 clients logging
//! metrics through kiroku's `HttpStore` for a while, and beside them a flood of slow
//! connections (half trickle header bytes, half sit idle; each re-opened when the server closes
//! it). Reports throughput, request latency and the server's resident memory in the first and
//! the last window of the run, so that slowing down or growth would show, then checks every
//! acknowledged point is in the store.
//!
//! `cargo bench --bench soak`; sizes from the environment: KIROKU_SOAK_SECS (300),
//! KIROKU_SOAK_CLIENTS (32), KIROKU_SOAK_FLOOD (2000 connections), KIROKU_SOAK_BATCH (100
//! points a request), KIROKU_SOAK_SERVER_FILES (the server's open-file limit, 1024, so the
//! flood is larger than its connection cap). Loopback only; stops by itself.
mod common;
use common::env_u64;
use kiroku::model::{KeyedPoint, NewRun};
use kiroku::store::http::HttpStore;
use kiroku::store::prelude::*;
use kiroku::store::SqliteStore;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The server under test, stopped (SIGINT, then kill) when dropped.
struct ServeProcess {
    child: Child,
    url: String,
}

impl ServeProcess {
    fn start(store: &std::path::Path, files: u64) -> ServeProcess {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiroku"));
        cmd.args(["--store", store.to_str().unwrap()])
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env_remove("KIROKU_STORE")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // SAFETY: only setrlimit runs between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let lim = libc::rlimit {
                    rlim_cur: files,
                    rlim_max: files,
                };
                libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("starting kiroku serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let at = line.find("http://").expect("the server's address");
        let url = line[at..].split_whitespace().next().unwrap().to_string();
        ServeProcess { child, url }
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    /// SIGINT (graceful shutdown); returns how long the server took to exit.
    fn stop(&mut self) -> Duration {
        let started = Instant::now();
        // SAFETY: signals our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        while started.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return started.elapsed();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        started.elapsed()
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request's end (seconds since the start) and latency (milliseconds).
type Sample = (f32, f32);

struct ClientReport {
    samples: Vec<Sample>,
    acknowledged: u64,
    errors: u64,
}

fn client(url: String, run: String, batch: usize, start: Instant, until: Instant) -> ClientReport {
    let store = HttpStore::with_token(&url, None).unwrap();
    let mut report = ClientReport {
        samples: Vec::new(),
        acknowledged: 0,
        errors: 0,
    };
    let mut step = 0i64;
    while Instant::now() < until {
        let points: Vec<KeyedPoint> = (0..batch)
            .map(|i| KeyedPoint {
                key: "loss".into(),
                step: step + i as i64,
                timestamp: 1_700_000_000_000 + step + i as i64,
                value: 1.0 / (step + i as i64 + 1) as f64,
            })
            .collect();
        let sent = Instant::now();
        match store.log_metrics(&run, &points) {
            Ok(()) => {
                report.acknowledged += batch as u64;
                step += batch as i64;
            }
            Err(_) => report.errors += 1,
        }
        let done = Instant::now();
        report.samples.push((
            (done - start).as_secs_f32(),
            (done - sent).as_secs_f32() * 1000.0,
        ));
    }
    report
}

/// Holds `count` slow connections until `stop`: even slots trickle a header byte a second,
/// odd ones sit idle; a slot the server closed is re-opened. Returns how many were opened.
fn flood(addr: String, count: usize, stop: Arc<AtomicBool>, opened: Arc<AtomicU64>) {
    let header = b"POST /api/2.0/mlflow/runs/log-batch HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    let mut slots: Vec<Option<(TcpStream, usize)>> = (0..count).map(|_| None).collect();
    while !stop.load(Ordering::SeqCst) {
        let round = Instant::now();
        for (i, slot) in slots.iter_mut().enumerate() {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let alive = match slot {
                Some((s, sent)) => {
                    let mut probe = [0u8; 256];
                    let closed = !matches!(s.read(&mut probe), Err(ref e) if e.kind() == std::io::ErrorKind::WouldBlock);
                    let byte = header.get(*sent).copied().unwrap_or(b'a');
                    let wrote = closed || i % 2 == 1 || s.write_all(&[byte]).is_ok();
                    *sent += 1;
                    !closed && wrote
                }
                None => false,
            };
            if !alive {
                *slot = TcpStream::connect(&addr).ok().map(|s| {
                    s.set_nonblocking(true).unwrap();
                    opened.fetch_add(1, Ordering::Relaxed);
                    (s, 0)
                });
            }
        }
        if let Some(rest) = Duration::from_secs(1).checked_sub(round.elapsed()) {
            std::thread::sleep(rest);
        }
    }
}

fn raise_own_file_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: reads and writes only the struct passed.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
}

/// Points per second, request count and latency percentiles of the samples in [from, to).
fn window(samples: &[Sample], batch: usize, from: f32, to: f32) -> (f64, usize, f32, f32, f32) {
    let mut lat: Vec<f32> = samples
        .iter()
        .filter(|(t, _)| *t >= from && *t < to)
        .map(|(_, l)| *l)
        .collect();
    if lat.is_empty() {
        return (0.0, 0, 0.0, 0.0, 0.0);
    }
    lat.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f32| lat[((lat.len() - 1) as f32 * p) as usize];
    let rate = (lat.len() * batch) as f64 / f64::from(to - from);
    (rate, lat.len(), pct(0.5), pct(0.99), *lat.last().unwrap())
}

fn main() {
    let secs = env_u64("KIROKU_SOAK_SECS", 300);
    let clients = env_u64("KIROKU_SOAK_CLIENTS", 32) as usize;
    let flood_size = env_u64("KIROKU_SOAK_FLOOD", 2000) as usize;
    let batch = env_u64("KIROKU_SOAK_BATCH", 100) as usize;
    let server_files = env_u64("KIROKU_SOAK_SERVER_FILES", 1024);
    raise_own_file_limit();

    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join(".kiroku");
    let setup = SqliteStore::open(&store_dir, false).unwrap();
    let runs: Vec<String> = (0..clients)
        .map(|c| {
            setup
                .create_run(&NewRun {
                    experiment: "soak".into(),
                    name: Some(format!("c{c}")),
                    user: "bench".into(),
                    ..Default::default()
                })
                .unwrap()
                .id
        })
        .collect();
    drop(setup);
    let mut server = ServeProcess::start(&store_dir, server_files);
    let addr = server.url.trim_start_matches("http://").to_string();
    println!(
        "soak: {clients} clients x {batch}-point batches, {flood_size} slow connections, {secs} s, \
         server open-file limit {server_files} ({})",
        server.url
    );

    let start = Instant::now();
    let until = start + Duration::from_secs(secs);
    let stop_flood = Arc::new(AtomicBool::new(false));
    let opened = Arc::new(AtomicU64::new(0));
    let flooders: Vec<_> = (0..8)
        .map(|_| {
            let (a, s, o) = (addr.clone(), Arc::clone(&stop_flood), Arc::clone(&opened));
            let share = flood_size.div_ceil(8);
            std::thread::spawn(move || flood(a, share, s, o))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500)); // let the flood build up first
    let writers: Vec<_> = runs
        .iter()
        .map(|run| {
            let (url, run) = (server.url.clone(), run.clone());
            std::thread::spawn(move || client(url, run, batch, start, until))
        })
        .collect();
    let mut rss: Vec<(f32, u64)> = Vec::new();
    while Instant::now() < until {
        rss.push((start.elapsed().as_secs_f32(), server.rss_kib()));
        std::thread::sleep(Duration::from_millis(500));
    }
    let reports: Vec<ClientReport> = writers.into_iter().map(|t| t.join().unwrap()).collect();
    stop_flood.store(true, Ordering::SeqCst);
    for f in flooders {
        f.join().unwrap();
    }
    let shutdown = server.stop();

    let samples: Vec<Sample> = reports.iter().flat_map(|r| r.samples.clone()).collect();
    let acknowledged: u64 = reports.iter().map(|r| r.acknowledged).sum();
    let errors: u64 = reports.iter().map(|r| r.errors).sum();
    let store = SqliteStore::open(&store_dir, false).unwrap();
    let stored: u64 = runs
        .iter()
        .map(|r| store.metric_series(r, "loss").unwrap().len() as u64)
        .sum();

    let total = secs as f32;
    let span = (total / 5.0).clamp(1.0, 60.0);
    let peak = |from: f32, to: f32| {
        rss.iter()
            .filter(|(t, _)| *t >= from && *t < to)
            .map(|(_, k)| *k)
            .max()
            .unwrap_or(0) as f64
            / 1024.0
    };
    println!(
        "\n{:<18} {:>12} {:>10} {:>8} {:>8} {:>8} {:>14}",
        "window", "points/s", "requests", "p50 ms", "p99 ms", "max ms", "peak RSS MiB"
    );
    let rows = [
        (format!("first {span:.0} s"), 0.0, span),
        (format!("last {span:.0} s"), total - span, total),
        ("whole run".to_string(), 0.0, total),
    ];
    for (name, from, to) in &rows {
        let (rate, n, p50, p99, max) = window(&samples, batch, *from, *to);
        println!(
            "{name:<18} {rate:>12.0} {n:>10} {p50:>8.2} {p99:>8.2} {max:>8.1} {:>14.1}",
            peak(*from, *to)
        );
    }
    let (first, last) = (peak(0.0, span), peak(total - span, total));
    println!(
        "\nRSS growth, last window over first: {:+.1}%",
        (last / first.max(1.0) - 1.0) * 100.0
    );
    println!(
        "flood connections opened: {} (re-opened after the server closed or evicted them)",
        opened.load(Ordering::Relaxed)
    );
    println!(
        "failed requests: {errors}; points acknowledged {acknowledged}, in the store {stored}, lost {}",
        acknowledged.saturating_sub(stored)
    );
    println!("graceful shutdown took {:.2} s", shutdown.as_secs_f64());
    let ok = errors == 0 && stored >= acknowledged;
    println!("{}", if ok { "soak: ok" } else { "soak: FAILED" });
}
