//! `Capture`: what becomes of a running command's output and metrics file while it runs.
//!
//! Output bytes go to the run's `output.log` (and, when asked, through to this process's own
//! stdout or stderr); scalars in its lines (`loss: 0.3`) are parsed, and the metrics file
//! (`metrics.jsonl` in the run folder) is tailed. One ingest thread writes both in batches, each
//! in one transaction together with the metrics-file offset it reaches (the checkpoint a
//! recovery after a crash resumes from).
//!
//! The bytes come either from a local child's pipes (`pump`, one thread per stream: `kiroku
//! run`, a local job) or are pushed in by a caller that pulls them from elsewhere
//! (`push_output` and `append_metrics`: a job on an ssh or Slurm target, whose metrics bytes
//! are appended to the local `metrics.jsonl` that the tail reads).
use crate::config::Config;
use crate::error::{KirokuError, Result};
use crate::ingest::duplicates::{HeldScalars, MetricsFileKeys};
use crate::ingest::metrics_file::{Ingested, MetricsFileTail};
use crate::ingest::scalars::ScalarParser;
use crate::model::{now_ms, KeyedPoint, RunBatch};
use crate::store::{run_files, Store};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the ingest thread writes what it has gathered.
const FLUSH_EVERY: Duration = Duration::from_millis(200);
/// Points gathered before an early flush.
const FLUSH_POINTS: usize = 50_000;
/// The longest output line scanned for scalars (the log keeps it whole).
const MAX_SCANNED_LINE: usize = 64 * 1024;

/// Where captured output is also copied to as it arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    Nowhere,
    Stdout,
    Stderr,
}

/// What the capture wrote, once finished.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    /// Metric points written (output scalars and metrics-file points).
    pub points: u64,
    pub warnings: Vec<String>,
}

enum IngestMessage {
    Scalars(Vec<KeyedPoint>),
    CommandEnded,
}

/// The live capture of one run's output and metrics file.
pub struct Capture {
    log_path: PathBuf,
    metrics_path: PathBuf,
    log: Arc<Mutex<File>>,
    scalars: Option<Arc<Mutex<ScalarParser>>>,
    tx: mpsc::Sender<IngestMessage>,
    ingest: std::thread::JoinHandle<(u64, Vec<String>)>,
    pumps: Vec<std::thread::JoinHandle<()>>,
    /// Each pump thread says here when its stream has ended (so `finish` waits without polling).
    pump_done: (mpsc::Sender<()>, mpsc::Receiver<()>),
    /// Output pushed in by the caller (`push_output`).
    pushed: OutputSink,
    /// The metrics file, opened for appending once the caller first pushes metrics bytes.
    metrics_out: Option<File>,
}

impl Capture {
    /// Creates `output.log` in `run_dir` and starts ingesting into run `run_id` (as `user`)
    /// from `run_dir/metrics.jsonl` and from the output that reaches it.
    pub fn start(
        store: Arc<dyn Store>,
        run_id: &str,
        user: &str,
        run_dir: &Path,
        config: &Config,
    ) -> Result<Capture> {
        let scalars = config
            .scalars
            .enabled
            .unwrap_or(true)
            .then(|| ScalarParser::new(&config.scalars).map(|p| Arc::new(Mutex::new(p))))
            .transpose()?;
        let log_path = run_files::output_log_path(run_dir);
        let log = Arc::new(Mutex::new(File::create(&log_path).map_err(|e| {
            KirokuError::io(format!("creating {}", log_path.display()), e)
        })?));
        let metrics_path = metrics_file_path(run_dir);
        let (tx, rx) = mpsc::channel::<IngestMessage>();
        let ingest = {
            let run_id = run_id.to_string();
            let user = user.to_string();
            let metrics_path = metrics_path.clone();
            std::thread::spawn(move || {
                ingest_loop(store.as_ref(), &run_id, &user, &metrics_path, rx)
            })
        };
        let pushed = OutputSink {
            echo: Echo::Nowhere,
            log: Arc::clone(&log),
            scalars: scalars.clone(),
            tx: tx.clone(),
            line: Vec::new(),
        };
        Ok(Capture {
            log_path,
            metrics_path,
            log,
            scalars,
            tx,
            ingest,
            pumps: Vec::new(),
            pump_done: mpsc::channel(),
            pushed,
            metrics_out: None,
        })
    }

    /// The run's `output.log`.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The metrics file the command appends to (`KIROKU_METRICS_FILE`).
    pub fn metrics_path(&self) -> &Path {
        &self.metrics_path
    }

    /// Captures one output stream of a child on a thread of its own, until it ends.
    pub fn pump(&mut self, stream: impl Read + Send + 'static, echo: Echo) {
        let mut sink = OutputSink {
            echo,
            log: Arc::clone(&self.log),
            scalars: self.scalars.clone(),
            tx: self.tx.clone(),
            line: Vec::new(),
        };
        let done = self.pump_done.0.clone();
        self.pumps.push(std::thread::spawn(move || {
            let mut stream = stream;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match stream.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => sink.write(&buf[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
            }
            sink.finish();
            let _ = done.send(());
        }));
    }

    /// Captures output bytes pulled from elsewhere (stdout and stderr as the target kept them).
    pub fn push_output(&mut self, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.pushed.write(bytes);
        }
    }

    /// Appends metrics-file bytes pulled from elsewhere to the run's `metrics.jsonl`, where
    /// the ingest thread reads them (partial last lines wait for the rest, as with a local
    /// writer).
    pub fn append_metrics(&mut self, bytes: &[u8]) -> Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        let context = || format!("appending to {}", self.metrics_path.display());
        if self.metrics_out.is_none() {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.metrics_path)
                .map_err(|e| KirokuError::io(context(), e))?;
            self.metrics_out = Some(file);
        }
        let Some(file) = self.metrics_out.as_mut() else {
            return Ok(());
        };
        file.write_all(bytes)
            .map_err(|e| KirokuError::io(context(), e))
    }

    /// Ends the capture once the command has ended: waits for the output streams to close
    /// (at most `pump_wait`, when given: a process that escaped the command's group may hold
    /// them open forever), then reads the metrics file to its end and writes the rest.
    pub fn finish(mut self, pump_wait: Option<Duration>) -> Captured {
        self.pushed.finish();
        let mut warnings = Vec::new();
        match pump_wait {
            None => self.pumps.drain(..).for_each(|p| {
                let _ = p.join();
            }),
            Some(wait) => {
                let deadline = Instant::now() + wait;
                let mut ended = 0;
                while ended < self.pumps.len() {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match self.pump_done.1.recv_timeout(left) {
                        Ok(()) => ended += 1,
                        Err(_) => break,
                    }
                }
                if ended == self.pumps.len() {
                    self.pumps.drain(..).for_each(|p| {
                        let _ = p.join();
                    });
                } else {
                    report(
                        &mut warnings,
                        "a process outside the command's group still holds its output open; \
                         what it writes now is not captured"
                            .into(),
                    );
                }
            }
        }
        drop(self.metrics_out.take());
        let _ = self.tx.send(IngestMessage::CommandEnded);
        let (points, ingest_warnings) = self
            .ingest
            .join()
            .unwrap_or((0, vec!["the ingest thread panicked".into()]));
        warnings.splice(0..0, ingest_warnings);
        if let Ok(mut log) = self.log.lock() {
            let _ = log.flush();
        }
        Captured { points, warnings }
    }
}

/// The metrics file of the run whose folder is `run_dir`.
pub fn metrics_file_path(run_dir: &Path) -> PathBuf {
    run_dir.join("metrics.jsonl")
}

/// Where one stream of output goes: the log, the echo, and the scalar parser line by line.
struct OutputSink {
    echo: Echo,
    log: Arc<Mutex<File>>,
    scalars: Option<Arc<Mutex<ScalarParser>>>,
    tx: mpsc::Sender<IngestMessage>,
    /// The current line so far (for the scalar parser).
    line: Vec<u8>,
}

impl OutputSink {
    fn write(&mut self, chunk: &[u8]) {
        // A closed terminal must not stop the run: write errors are ignored.
        match self.echo {
            Echo::Nowhere => {}
            Echo::Stdout => {
                let mut o = std::io::stdout().lock();
                let _ = o.write_all(chunk).and_then(|_| o.flush());
            }
            Echo::Stderr => {
                let mut e = std::io::stderr().lock();
                let _ = e.write_all(chunk).and_then(|_| e.flush());
            }
        }
        if let Ok(mut f) = self.log.lock() {
            let _ = f.write_all(chunk);
        }
        let Some(parser) = &self.scalars else {
            return;
        };
        let mut points = Vec::new();
        for &b in chunk {
            if b == b'\n' || b == b'\r' {
                scan_line(&self.line, parser, &mut points);
                self.line.clear();
            } else if self.line.len() < MAX_SCANNED_LINE {
                self.line.push(b);
            }
        }
        if !points.is_empty() {
            let _ = self.tx.send(IngestMessage::Scalars(points));
        }
    }

    /// The stream ended: its last line counts even without a newline.
    fn finish(&mut self) {
        let Some(parser) = &self.scalars else {
            return;
        };
        let mut points = Vec::new();
        scan_line(&self.line, parser, &mut points);
        self.line.clear();
        if !points.is_empty() {
            let _ = self.tx.send(IngestMessage::Scalars(points));
        }
    }
}

fn scan_line(line: &[u8], parser: &Mutex<ScalarParser>, out: &mut Vec<KeyedPoint>) {
    if line.is_empty() {
        return;
    }
    let text = String::from_utf8_lossy(line);
    let Ok(mut parser) = parser.lock() else {
        return;
    };
    let now = now_ms();
    out.extend(
        parser
            .parse_line(&text)
            .into_iter()
            .map(|(key, step, value)| KeyedPoint {
                key,
                step,
                timestamp: now,
                value,
            }),
    );
}

/// Gathers scalars and metrics-file lines and writes them in batches until the command ends.
/// Output scalars that the metrics file duplicates are not logged (`ingest::duplicates`).
fn ingest_loop(
    store: &dyn Store,
    run_id: &str,
    user: &str,
    metrics_path: &Path,
    rx: mpsc::Receiver<IngestMessage>,
) -> (u64, Vec<String>) {
    let mut tail = MetricsFileTail::new(metrics_path);
    let mut checkpoint = 0u64;
    let mut pending = Ingested::default();
    let mut file_keys = MetricsFileKeys::default();
    let mut held = HeldScalars::default();
    let mut written = 0u64;
    let mut warnings = Vec::new();
    let mut last_flush = Instant::now();
    loop {
        let done = match rx.recv_timeout(FLUSH_EVERY) {
            Ok(IngestMessage::Scalars(points)) => {
                held.push(points);
                false
            }
            Ok(IngestMessage::CommandEnded) | Err(RecvTimeoutError::Disconnected) => true,
            Err(RecvTimeoutError::Timeout) => false,
        };
        // At the end, a file that grew faster than one poll reads takes several flushes.
        let mut flush_now = done
            || last_flush.elapsed() >= FLUSH_EVERY
            || pending.points.len() + held.len() >= FLUSH_POINTS;
        while flush_now {
            let polled = tail.poll(done);
            // A file that cannot be read now will not be read by trying again at once.
            let read_more = polled.is_ok() && !tail.caught_up();
            match polled {
                Ok(more) => {
                    more.points.iter().for_each(|p| file_keys.note(&p.key));
                    pending.points.extend(more.points);
                    pending.params.extend(more.params);
                    pending.tags.extend(more.tags);
                    for w in more.warnings {
                        report(&mut warnings, format!("metrics file {w}"));
                    }
                    declare_inputs(store, run_id, user, &more.inputs, &mut warnings);
                }
                Err(e) => report(
                    &mut warnings,
                    format!("reading {}: {e}", metrics_path.display()),
                ),
            }
            pending
                .points
                .extend(held.release(&file_keys, done && !read_more));
            let offset = tail.consumed_offset();
            if offset != checkpoint || !pending.is_empty() {
                let batch = Batch {
                    store,
                    run_id,
                    user,
                    offset,
                };
                if let Some(points) = batch.flush(&mut pending, &mut warnings) {
                    written += points;
                    checkpoint = offset;
                }
            }
            last_flush = Instant::now();
            flush_now = done && read_more;
        }
        if done {
            return (written, warnings);
        }
    }
}

/// Registers and binds the inputs a metrics-file line declared (paths relative to the working
/// directory the command shares with this process). Registering is idempotent, so a line read
/// again after a recovery changes nothing; an input that cannot be registered is a warning.
fn declare_inputs(
    store: &dyn Store,
    run_id: &str,
    user: &str,
    inputs: &[(String, String)],
    warnings: &mut Vec<String>,
) {
    if inputs.is_empty() {
        return;
    }
    let base = std::env::current_dir().unwrap_or_default();
    for (name, path) in inputs {
        let spec = [(name.clone(), std::path::PathBuf::from(path))];
        if let Err(e) = super::inputs::declare_inputs(store, run_id, &spec, &base, user) {
            report(warnings, format!("metrics file input {name}={path}: {e}"));
        }
    }
}

/// Prints a warning on stderr and keeps it for the outcome.
pub(crate) fn report(warnings: &mut Vec<String>, w: String) {
    eprintln!("kiroku: {w}");
    warnings.push(w);
}

/// One flush: what is pending, up to metrics-file byte `offset`, for the run.
struct Batch<'a> {
    store: &'a dyn Store,
    run_id: &'a str,
    user: &'a str,
    offset: u64,
}

impl Batch<'_> {
    /// Writes what is pending and the checkpoint in one transaction. Returns the number of
    /// points written, or None when the write failed for a passing reason (the data stays
    /// pending for the next flush and the checkpoint stays where it was).
    fn flush(&self, pending: &mut Ingested, warnings: &mut Vec<String>) -> Option<u64> {
        let mut batch = RunBatch {
            params: std::mem::take(&mut pending.params),
            metrics: std::mem::take(&mut pending.points),
            tags: std::mem::take(&mut pending.tags),
            ingested_to: Some(self.offset),
        };
        // The metrics file's lines are checked as they are read; scalars from the output are
        // checked here. Nothing that reaches the store can fail the batch for its key.
        for w in batch.drop_invalid_keys() {
            report(warnings, w);
        }
        let mut salvaged = false;
        loop {
            match self.store.log_batch(self.run_id, &batch, self.user) {
                Ok(()) => return Some(batch.metrics.len() as u64),
                // A param logged before (a flag on the command line) with another value.
                Err(KirokuError::Conflict(msg)) if !salvaged => {
                    salvaged = true;
                    match crate::ingest::metrics_file::drop_changed_params(
                        self.store,
                        self.run_id,
                        &mut batch,
                    ) {
                        Ok(dropped) if !dropped.is_empty() => {
                            dropped.into_iter().for_each(|w| report(warnings, w))
                        }
                        _ => {
                            report(warnings, msg);
                            batch.params.clear();
                        }
                    }
                }
                // The run cannot take this (deleted while it runs): nothing will change that.
                Err(
                    e @ (KirokuError::Invalid(_)
                    | KirokuError::NotFound(_)
                    | KirokuError::Conflict(_)
                    | KirokuError::Forbidden(_)),
                ) => {
                    report(warnings, e.to_string());
                    return Some(0);
                }
                Err(e) => {
                    report(warnings, format!("{e} (will retry)"));
                    pending.params = batch.params;
                    pending.points = batch.metrics;
                    pending.tags = batch.tags;
                    return None;
                }
            }
        }
    }
}
