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
pub mod capture;
pub mod inputs;
pub mod job;
pub mod source;
pub mod spawn;
pub mod supervised_run;

use crate::config::Config;
use crate::error::{KirokuError, Result};
use crate::model::{now_ms, ChildProcess, RunStatus};
use crate::store::Store;
use capture::{Capture, Captured, Echo};
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use supervised_run::{start_supervised_run, RunOrigin, RunSpec};

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
    /// Datasets registered for the run (`--input NAME=PATH`), bound to it once it exists.
    pub inputs: Vec<inputs::PreparedInput>,
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
    let spec = RunSpec {
        experiment: opts.experiment.clone(),
        name: opts.name.clone(),
        user: opts.user.clone(),
        tags: opts.tags.clone(),
        params,
        parent_id: opts.parent_id.clone(),
        cwd: &cwd,
        command: &opts.command,
        environment: source::capture_environment(&opts.config.run.env),
    };
    let started = start_supervised_run(store.as_ref(), &spec)?;
    let run = &started.run;
    RunOrigin::of(&spec).record(store.as_ref(), &run.id)?;
    if let Err(e) = inputs::bind_inputs(store.as_ref(), &run.id, &opts.inputs) {
        store.set_status(&run.id, RunStatus::Failed, None, None)?;
        return Err(e);
    }
    let mut capture = match Capture::start(
        Arc::clone(&store),
        &run.id,
        &opts.user,
        &started.run_dir,
        &opts.config,
    ) {
        Ok(capture) => capture,
        Err(e) => {
            store.set_status(&run.id, RunStatus::Failed, None, None)?;
            return Err(e);
        }
    };

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
        .envs(run_environment(
            &run.id,
            capture.metrics_path(),
            &opts.store_location,
        ))
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            drop(capture.finish(None));
            store.set_status(
                &run.id,
                RunStatus::Failed,
                Some(spawn_failure_code(&e)),
                None,
            )?;
            return Err(KirokuError::Invalid(format!(
                "cannot start '{}': {e} (run {} marked failed)",
                opts.command[0], run.id
            )));
        }
    };
    CHILD_PID.store(child.id() as i32, Ordering::SeqCst);
    record_child(store.as_ref(), &run.id, child.id());

    let echo = |on: Echo| if opts.echo { on } else { Echo::Nowhere };
    if let Some(out) = child.stdout.take() {
        capture.pump(out, echo(Echo::Stdout));
    }
    if let Some(err) = child.stderr.take() {
        capture.pump(err, echo(Echo::Stderr));
    }
    let status = child
        .wait()
        .map_err(|e| KirokuError::io("waiting for the command", e))?;
    CHILD_PID.store(0, Ordering::SeqCst);
    let Captured {
        points,
        mut warnings,
    } = capture.finish(None);

    use std::os::unix::process::ExitStatusExt;
    let interrupted = GOT_SIGNAL.load(Ordering::SeqCst) != 0;
    let (run_status, exit_code, recorded_code) = match (status.code(), status.signal()) {
        (_, Some(sig)) => (RunStatus::Killed, 128 + sig, None),
        (Some(code), None) if interrupted => (RunStatus::Killed, code, Some(code)),
        (Some(0), None) => (RunStatus::Finished, 0, Some(0)),
        (Some(code), None) => (RunStatus::Failed, code, Some(code)),
        (None, None) => (RunStatus::Failed, 1, None),
    };
    match store.set_status(&run.id, run_status, recorded_code, Some(now_ms())) {
        Ok(()) => {}
        // Deleted while it ran: it takes no writes, but the command's exit code still counts.
        Err(KirokuError::Invalid(msg)) => warnings.push(format!("could not record the end: {msg}")),
        Err(e) => return Err(e),
    }
    drop(mlflow);
    started.upload_spooled_log(store.as_ref(), &mut warnings);
    let points = started.points_logged(store.as_ref(), points);
    Ok(WrapOutcome {
        run_id: run.id.clone(),
        run_name: run.name.clone(),
        status: run_status,
        exit_code,
        points,
        warnings,
    })
}

/// The variables a supervised command gets for its run: its id, its metrics file, the store
/// (so `kiroku log` inside it finds the run), and unbuffered Python output (so output and
/// scalars arrive as they are printed).
pub fn run_environment(
    run_id: &str,
    metrics_path: &Path,
    store_location: &str,
) -> Vec<(&'static str, OsString)> {
    vec![
        ("KIROKU_RUN_ID", run_id.into()),
        ("KIROKU_METRICS_FILE", metrics_path.into()),
        ("KIROKU_STORE", store_location.into()),
        ("PYTHONUNBUFFERED", "1".into()),
    ]
}

/// The exit code a shell gives a command it could not start: 127 when it does not exist,
/// 126 when it cannot be run.
pub fn spawn_failure_code(e: &std::io::Error) -> i32 {
    if e.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    }
}

/// Records the command a supervisor started on its run: a recovery after the supervisor dies
/// waits for the command too, since until it is gone a line it writes could land after the
/// recovery read the metrics file.
pub fn record_child(store: &dyn Store, run_id: &str, pid: u32) -> Option<ChildProcess> {
    let child = ChildProcess {
        pid,
        start_ticks: crate::process::start_ticks(pid)?,
    };
    if let Err(e) = store.set_supervised_child(run_id, child) {
        eprintln!("kiroku: could not record the command's process: {e}");
    }
    Some(child)
}

/// Makes the child get SIGTERM when the thread that spawns it ends, which is when this process
/// dies (it waits for the child on that thread), so a `kiroku run` killed outright leaves no
/// orphan running unobserved. A child that ignores SIGTERM is on its own.
///
/// The child starts with no signal blocked: a job's supervisor blocks the signals it waits
/// for (`job::wakeup`), a mask survives `exec`, and a command started with SIGTERM and SIGINT
/// blocked would see neither (a cancel would reach it only as SIGKILL after the grace).
pub(crate) fn die_with_this_thread(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: getpid is always safe.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the closure only calls async-signal-safe functions (sigemptyset, sigprocmask,
    // prctl, getppid, raise).
    unsafe {
        command.pre_exec(move || {
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            if libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
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
