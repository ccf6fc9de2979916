//! `kiroku run -- CMD ARGS...`: wrap a command as a run.
//!
//! The child's output passes through live and is saved to `output.log` in the run folder;
//! scalars in it (`loss: 0.3`) and lines of the metrics file (`KIROKU_METRICS_FILE`) are
//! ingested while it runs, in batches, by one ingest thread. Ctrl-C reaches the child (the
//! terminal sends it to the whole foreground group; a `kill -INT` sent to kiroku alone is
//! forwarded), and the run ends `finished`, `failed` (with the code) or `killed`.
//!
//! Durability: the run is created with this process as its supervisor (`crate::supervise`),
//! each batch is written in one transaction together with the metrics-file offset it reaches,
//! and the child gets SIGTERM when this process dies (`PR_SET_PDEATHSIG`), so a `kiroku run`
//! killed outright leaves no orphan behind and a run that anyone's next look marks `lost` after
//! ingesting the rest of its metrics file.
pub mod source;

use crate::config::Config;
use crate::error::{KirokuError, Result};
use crate::ingest::metrics_file::{Ingested, MetricsFileTail};
use crate::ingest::scalars::ScalarParser;
use crate::model::{now_ms, KeyedPoint, NewRun, RunBatch, RunStatus};
use crate::store::{run_files, Store};
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the ingest thread writes what it has gathered.
const FLUSH_EVERY: Duration = Duration::from_millis(200);
/// Points gathered before an early flush.
const FLUSH_POINTS: usize = 50_000;

pub struct WrapOptions {
    pub experiment: String,
    pub name: Option<String>,
    pub tags: Vec<(String, String)>,
    pub command: Vec<String>,
    pub config: Config,
    pub user: String,
    /// Passed to the child as `KIROKU_STORE` so `kiroku log` inside it finds this store.
    pub store_location: String,
    /// Copy the child's output to our stdout/stderr (off for quiet callers such as the demo).
    pub echo: bool,
    pub parent_id: Option<String>,
    /// Give the child an MLflow tracking endpoint bound to this run (`--mlflow`).
    pub mlflow: bool,
}

#[derive(Debug, Clone)]
pub struct WrapOutcome {
    pub run_id: String,
    pub run_name: String,
    pub status: RunStatus,
    /// The exit code `kiroku run` should exit with: the child's, or 128+signal.
    pub exit_code: i32,
    pub points: u64,
    pub warnings: Vec<String>,
}

static CHILD_PID: AtomicI32 = AtomicI32::new(0);
static GOT_SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    GOT_SIGNAL.store(sig, Ordering::SeqCst);
    // A Ctrl-C from the terminal (si_code > 0, sent by the kernel) already reached the child,
    // which shares our process group; a signal sent to us alone is passed on.
    // SAFETY: info is provided by the kernel for SA_SIGINFO handlers.
    let from_kernel = !info.is_null() && unsafe { (*info).si_code } > 0;
    let pid = CHILD_PID.load(Ordering::SeqCst);
    if pid > 0 && !(sig == libc::SIGINT && from_kernel) {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

fn install_signal_forwarding() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
        // SAFETY: a zeroed sigaction with a valid handler and SA_SIGINFO is well-formed.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}

enum IngestMessage {
    Scalars(Vec<KeyedPoint>),
    ChildExited,
}

/// Creates the run, runs the command, ingests its data and records how it ended.
pub fn run_wrapped(store: Arc<dyn Store>, opts: WrapOptions) -> Result<WrapOutcome> {
    if opts.command.is_empty() {
        return Err(KirokuError::Invalid(
            "no command given: use `kiroku run [OPTIONS] -- CMD ARGS...`".into(),
        ));
    }
    let cwd =
        std::env::current_dir().map_err(|e| KirokuError::io("reading the current directory", e))?;
    let params = if opts.config.run.flag_params.unwrap_or(true) {
        source::flag_params(&opts.command[1..])
    } else {
        Vec::new()
    };
    // The id is chosen here so the run's folder (or spool folder) and metrics file are known
    // before the run exists: the run is created with its supervisor record in one step.
    let run_id = crate::ids::new_run_id();
    // A remote store has no local run folder: the log and metrics file are spooled in a
    // temporary folder and the log is uploaded as the artifact `output.log` at the end (or by
    // the recovery of a lost run, which finds the folder through the supervisor record).
    let (run_dir, spooled) = match store.run_dir(&run_id) {
        Some(dir) => (dir, false),
        None => (
            std::env::temp_dir().join("kiroku-spool").join(&run_id),
            true,
        ),
    };
    std::fs::create_dir_all(&run_dir)
        .map_err(|e| KirokuError::io(format!("creating {}", run_dir.display()), e))?;
    // Recorded for whoever recovers the run, from whatever directory they look.
    let run_dir = run_dir.canonicalize().unwrap_or(run_dir);
    let metrics_path = run_dir.join("metrics.jsonl");
    let new_run = NewRun {
        id: Some(run_id),
        experiment: opts.experiment.clone(),
        name: opts.name.clone(),
        user: opts.user.clone(),
        host: source::host_name(),
        tags: opts.tags.clone(),
        params,
        parent_id: opts.parent_id.clone(),
        ..Default::default()
    };
    let run = match crate::supervise::supervisor_for(&metrics_path) {
        Some(supervisor) => store.create_supervised_run(&new_run, &supervisor)?,
        // No /proc (not Linux): nobody could judge this process later anyway.
        None => store.create_run(&new_run)?,
    };
    store.set_source(&run.id, &source::capture_source(&cwd, &opts.command))?;
    store.set_environment(&run.id, &source::capture_environment(&opts.config.run.env))?;

    let log_path = run_files::output_log_path(&run_dir);
    let log = Arc::new(Mutex::new(File::create(&log_path).map_err(|e| {
        KirokuError::io(format!("creating {}", log_path.display()), e)
    })?));

    let mlflow = if opts.mlflow {
        Some(MlflowEndpoint::start(&store, &opts.store_location)?)
    } else {
        None
    };
    install_signal_forwarding();
    let mut command = Command::new(&opts.command[0]);
    die_with_this_thread(&mut command);
    if let Some(endpoint) = &mlflow {
        command
            .env("MLFLOW_TRACKING_URI", endpoint.url())
            .env("MLFLOW_RUN_ID", &run.id)
            .env("MLFLOW_EXPERIMENT_ID", run.experiment_id.to_string());
        if let Some(token) = &endpoint.token {
            command.env("MLFLOW_TRACKING_TOKEN", token);
        }
        // A private CA for an https server: MLflow's client takes it from its own variable.
        if let Some(ca) = std::env::var_os("KIROKU_CA_CERT").filter(|c| !c.is_empty()) {
            if endpoint.remote.is_some() {
                command.env("MLFLOW_TRACKING_SERVER_CERT_PATH", ca);
            }
        }
    }
    let mut child = match command
        .args(&opts.command[1..])
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("KIROKU_RUN_ID", &run.id)
        .env("KIROKU_METRICS_FILE", &metrics_path)
        .env("KIROKU_STORE", &opts.store_location)
        .env("PYTHONUNBUFFERED", "1")
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            let code = if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            store.set_status(&run.id, RunStatus::Failed, Some(code), None)?;
            return Err(KirokuError::Invalid(format!(
                "cannot start '{}': {e} (run {} marked failed)",
                opts.command[0], run.id
            )));
        }
    };
    CHILD_PID.store(child.id() as i32, Ordering::SeqCst);
    // A recovery after this process dies waits for the command too: until it is gone, a line
    // it writes could land after the recovery read the file.
    if let Some(start_ticks) = crate::process::start_ticks(child.id()) {
        let child = crate::model::ChildProcess {
            pid: child.id(),
            start_ticks,
        };
        if let Err(e) = store.set_supervised_child(&run.id, child) {
            eprintln!("kiroku: could not record the command's process: {e}");
        }
    }

    let scalars = Arc::new(Mutex::new(ScalarParser::new(&opts.config.scalars)?));
    let scalars_enabled = opts.config.scalars.enabled.unwrap_or(true);
    let (tx, rx) = mpsc::channel::<IngestMessage>();
    let ingest = {
        let store = Arc::clone(&store);
        let run_id = run.id.clone();
        let user = opts.user.clone();
        std::thread::spawn(move || ingest_loop(store.as_ref(), &run_id, &user, &metrics_path, rx))
    };
    let mut pumps = Vec::new();
    if let Some(out) = child.stdout.take() {
        pumps.push(spawn_pump(
            out,
            false,
            opts.echo,
            Arc::clone(&log),
            scalars_enabled.then(|| Arc::clone(&scalars)),
            tx.clone(),
        ));
    }
    if let Some(err) = child.stderr.take() {
        pumps.push(spawn_pump(
            err,
            true,
            opts.echo,
            Arc::clone(&log),
            scalars_enabled.then(|| Arc::clone(&scalars)),
            tx.clone(),
        ));
    }
    let status = child
        .wait()
        .map_err(|e| KirokuError::io("waiting for the command", e))?;
    CHILD_PID.store(0, Ordering::SeqCst);
    for pump in pumps {
        let _ = pump.join();
    }
    let _ = tx.send(IngestMessage::ChildExited);
    let (points, warnings) = ingest
        .join()
        .unwrap_or((0, vec!["the ingest thread panicked".into()]));

    use std::os::unix::process::ExitStatusExt;
    let interrupted = GOT_SIGNAL.load(Ordering::SeqCst) != 0;
    let (run_status, exit_code, recorded_code) = match (status.code(), status.signal()) {
        (_, Some(sig)) => (RunStatus::Killed, 128 + sig, None),
        (Some(code), None) if interrupted => (RunStatus::Killed, code, Some(code)),
        (Some(0), None) => (RunStatus::Finished, 0, Some(0)),
        (Some(code), None) => (RunStatus::Failed, code, Some(code)),
        (None, None) => (RunStatus::Failed, 1, None),
    };
    let mut warnings = warnings;
    match store.set_status(&run.id, run_status, recorded_code, Some(now_ms())) {
        Ok(()) => {}
        // Deleted while it ran: it takes no writes, but the command's exit code still counts.
        Err(KirokuError::Invalid(msg)) => warnings.push(format!("could not record the end: {msg}")),
        Err(e) => return Err(e),
    }
    drop(mlflow);
    if spooled {
        drop(log);
        // Streamed, and only a regular file reached without links: the script could have
        // replaced its log with a link (or a FIFO).
        match run_files::open_in_run(&run_dir, &log_path) {
            Ok(file) => {
                if let Err(e) =
                    store.upload_artifact(&run.id, run_files::OUTPUT_LOG, Box::new(file), None)
                {
                    report(
                        &mut warnings,
                        format!(
                            "could not upload output.log: {e} (kept at {})",
                            log_path.display()
                        ),
                    );
                } else {
                    let _ = std::fs::remove_dir_all(&run_dir);
                }
            }
            Err(e) => report(
                &mut warnings,
                format!("could not read {}: {e}", log_path.display()),
            ),
        }
    }
    Ok(WrapOutcome {
        run_id: run.id,
        run_name: run.name,
        status: run_status,
        exit_code,
        points,
        warnings,
    })
}

/// Makes the child get SIGTERM when the thread that spawns it ends, which is when this process
/// dies (it waits for the child on that thread), so a `kiroku run` killed outright leaves no
/// orphan running unobserved. A child that ignores SIGTERM is on its own.
fn die_with_this_thread(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: getpid is always safe.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the closure only calls async-signal-safe functions (prctl, getppid, raise).
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Died between fork and prctl: the signal was never armed, so act on it now.
            if libc::getppid() != parent {
                libc::raise(libc::SIGTERM);
            }
            Ok(())
        });
    }
}

/// The MLflow tracking endpoint a wrapped command logs to: the server itself when the store
/// is remote, else a loopback server over the local store that lives as long as the run.
struct MlflowEndpoint {
    server: Option<crate::server::BackgroundServer>,
    remote: Option<String>,
    /// Passed on as `MLFLOW_TRACKING_TOKEN` for a remote store.
    token: Option<String>,
}

impl MlflowEndpoint {
    fn start(store: &Arc<dyn Store>, location: &str) -> Result<Self> {
        if location.starts_with("http://") || location.starts_with("https://") {
            return Ok(MlflowEndpoint {
                server: None,
                remote: Some(location.trim_end_matches('/').to_string()),
                token: std::env::var("KIROKU_TOKEN").ok().filter(|t| !t.is_empty()),
            });
        }
        let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        let server = crate::server::BackgroundServer::start(Arc::clone(store), None, loopback)?;
        Ok(MlflowEndpoint {
            server: Some(server),
            remote: None,
            token: None,
        })
    }

    fn url(&self) -> String {
        match (&self.server, &self.remote) {
            (Some(s), _) => s.url(),
            (None, Some(r)) => r.clone(),
            (None, None) => String::new(),
        }
    }
}

/// Copies one output stream through, into the log, and its lines into the scalar parser.
fn spawn_pump(
    mut stream: impl Read + Send + 'static,
    is_stderr: bool,
    echo: bool,
    log: Arc<Mutex<File>>,
    scalars: Option<Arc<Mutex<ScalarParser>>>,
    tx: mpsc::Sender<IngestMessage>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        let mut line = Vec::new();
        loop {
            let n = match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            let chunk = &buf[..n];
            if echo {
                // A closed terminal must not stop the run: write errors are ignored.
                if is_stderr {
                    let mut e = std::io::stderr().lock();
                    let _ = e.write_all(chunk).and_then(|_| e.flush());
                } else {
                    let mut o = std::io::stdout().lock();
                    let _ = o.write_all(chunk).and_then(|_| o.flush());
                }
            }
            if let Ok(mut f) = log.lock() {
                let _ = f.write_all(chunk);
            }
            let Some(parser) = &scalars else { continue };
            let mut points = Vec::new();
            for &b in chunk {
                if b == b'\n' || b == b'\r' {
                    scan_line(&line, parser, &mut points);
                    line.clear();
                } else if line.len() < 64 * 1024 {
                    line.push(b);
                }
            }
            if !points.is_empty() {
                let _ = tx.send(IngestMessage::Scalars(points));
            }
        }
        if let Some(parser) = &scalars {
            let mut points = Vec::new();
            scan_line(&line, parser, &mut points);
            if !points.is_empty() {
                let _ = tx.send(IngestMessage::Scalars(points));
            }
        }
    })
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

/// Gathers scalars and metrics-file lines and writes them in batches until the child exits.
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
    let mut written = 0u64;
    let mut warnings = Vec::new();
    let mut last_flush = Instant::now();
    loop {
        let done = match rx.recv_timeout(FLUSH_EVERY) {
            Ok(IngestMessage::Scalars(points)) => {
                pending.points.extend(points);
                false
            }
            Ok(IngestMessage::ChildExited) | Err(RecvTimeoutError::Disconnected) => true,
            Err(RecvTimeoutError::Timeout) => false,
        };
        // At the end, a file that grew faster than one poll reads takes several flushes.
        let mut flush_now =
            done || last_flush.elapsed() >= FLUSH_EVERY || pending.points.len() >= FLUSH_POINTS;
        while flush_now {
            let polled = tail.poll(done);
            // A file that cannot be read now will not be read by trying again at once.
            let read_more = polled.is_ok() && !tail.caught_up();
            match polled {
                Ok(more) => {
                    pending.points.extend(more.points);
                    pending.params.extend(more.params);
                    pending.tags.extend(more.tags);
                    for w in more.warnings {
                        report(&mut warnings, format!("metrics file {w}"));
                    }
                }
                Err(e) => report(
                    &mut warnings,
                    format!("reading {}: {e}", metrics_path.display()),
                ),
            }
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

fn report(warnings: &mut Vec<String>, w: String) {
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
