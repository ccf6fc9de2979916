//! Lost runs: a `kiroku run` that died without ending its run (SIGKILL, a crash, a power cut)
//! is found when anyone looks, its metrics file is ingested from the last checkpoint, and the
//! run is marked `lost`, so nothing flushed to the file is lost and no run stays `running`
//! without a process.
//!
//! The wrapper records its `process::ProcessIdentity` with the run (`Store::create_supervised_run`)
//! and moves the checkpoint with every batch it writes. A look (`recover_lost_runs`) judges
//! each supervised run whose supervisor ran on this host and boot; runs supervised elsewhere
//! wait for a look from there. The store's `recover_lost_run` is a compare-and-swap on the
//! checkpoint, so two processes looking at once cannot both ingest the rest.
use crate::error::Result;
use crate::ingest::metrics_file::{drop_changed_params, read_rest};
use crate::model::{RunBatch, SupervisedRun, Supervisor};
use crate::process::{signal_exactly, Liveness, ProcessIdentity};
use crate::store::{run_files, Store};
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

/// The supervisor record of this process for a run whose metrics file is `metrics_file`.
pub fn supervisor_for(metrics_file: &Path) -> Option<Supervisor> {
    let me = ProcessIdentity::current()?;
    Some(Supervisor {
        host: me.host,
        boot_id: me.boot_id,
        pid_namespace: me.pid_namespace,
        pid: me.pid,
        start_ticks: me.start_ticks,
        metrics_file: metrics_file.display().to_string(),
        child: None,
    })
}

/// Finds the running runs whose supervisor has died (judged from this host and boot), ingests
/// the rest of each one's metrics file and marks it `lost`. Returns the ids it marked, or the
/// first error once every run was tried.
pub fn recover_lost_runs(store: &dyn Store) -> Result<Vec<String>> {
    let mut lost = Vec::new();
    let mut first_error = None;
    for run in store.supervised_runs()? {
        if run.supervisor.process().liveness() != Liveness::Dead || !command_ended(&run) {
            continue;
        }
        // One run that cannot be recovered must not keep the others running.
        match recover(store, &run) {
            Ok(true) => lost.push(run.run_id),
            Ok(false) => {}
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(lost),
    }
}

/// How long a look waits for the command of a dead supervisor to end once it was killed.
const COMMAND_END_WAIT: Duration = Duration::from_secs(2);

/// Whether the command a dead supervisor started has ended, so that nothing more can be
/// appended to its metrics file. The command was sent SIGTERM when its supervisor died
/// (`PR_SET_PDEATHSIG`); one still running is an orphan whose output nobody reads, and is killed
/// here (when this process may) and waited for a moment. A command not recorded (the
/// supervisor died before it started) counts as ended.
fn command_ended(run: &SupervisedRun) -> bool {
    let Some(child) = run.supervisor.child else {
        return true;
    };
    let identity = run.supervisor.child_process(child);
    if identity.liveness() != Liveness::Alive {
        return true;
    }
    signal_exactly(&identity, libc::SIGKILL);
    let deadline = std::time::Instant::now() + COMMAND_END_WAIT;
    while std::time::Instant::now() < deadline {
        if identity.liveness() != Liveness::Alive {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// `recover_lost_runs` for callers that look in passing (listing runs): a failure to recover
/// must not fail the listing, so it is only reported on stderr.
pub fn recover_lost_runs_quietly(store: &dyn Store) {
    if let Err(e) = recover_lost_runs(store) {
        eprintln!("kiroku: could not check for lost runs: {e}");
    }
}

/// Where a wrapper may keep a run's metrics file: its run folder in a local store, or a spool
/// folder `.../kiroku-spool/<run id>/` for a remote one. The path comes from the store (anyone
/// with a write token can create a supervised run), so nothing else is read, or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MetricsFilePlace {
    RunFolder,
    Spool,
    Elsewhere,
}

fn place_of(store: &dyn Store, run_id: &str, metrics_file: &Path) -> MetricsFilePlace {
    let folder = metrics_file.parent();
    let named_right = metrics_file.file_name() == Some("metrics.jsonl".as_ref())
        && folder.and_then(Path::file_name) == Some(run_id.as_ref());
    if !named_right || !metrics_file.is_absolute() {
        return MetricsFilePlace::Elsewhere;
    }
    let canonical = |p: &Path| p.canonicalize().ok();
    let run_folder = store.run_dir(run_id).and_then(|d| canonical(&d));
    if run_folder.is_some() && folder.and_then(canonical) == run_folder {
        MetricsFilePlace::RunFolder
    } else if folder.and_then(Path::parent).and_then(Path::file_name)
        == Some("kiroku-spool".as_ref())
    {
        MetricsFilePlace::Spool
    } else {
        MetricsFilePlace::Elsewhere
    }
}

fn recover(store: &dyn Store, run: &SupervisedRun) -> Result<bool> {
    let metrics_file = Path::new(&run.supervisor.metrics_file);
    let place = place_of(store, &run.run_id, metrics_file);
    // `read_rest` opens only a regular file, never through a link.
    let readable = place != MetricsFilePlace::Elsewhere;
    // A file that cannot (or may not) be read is not recovered; the run still ends.
    let (rest, end) = readable
        .then(|| read_rest(metrics_file, run.ingested_to).ok())
        .flatten()
        .unwrap_or_else(|| (Default::default(), run.ingested_to));
    let mut batch = RunBatch {
        params: rest.params,
        metrics: rest.points,
        tags: rest.tags,
        ingested_to: Some(end),
    };
    batch.drop_invalid_keys();
    let owner = store.run(&run.run_id)?.run.user;
    drop_changed_params(store, &run.run_id, &mut batch)?;
    let recovered = store.recover_lost_run(&run.run_id, run.ingested_to, &batch, &owner)?;
    if recovered && place == MetricsFilePlace::Spool {
        upload_spooled_log(store, &run.run_id, metrics_file);
    }
    Ok(recovered)
}

/// A remote store's run was spooled beside its metrics file: its output log goes up as the
/// wrapper would have sent it at the end, and the spool folder goes once that worked.
fn upload_spooled_log(store: &dyn Store, run_id: &str, metrics_file: &Path) {
    let Some(spool) = metrics_file.parent() else {
        return;
    };
    let log = run_files::output_log_path(spool);
    // Streamed, and only a regular file reached without links (as the wrapper uploads it).
    if let Ok(file) = run_files::open_in_run(spool, &log) {
        if store
            .upload_artifact(run_id, run_files::OUTPUT_LOG, Box::new(file), None)
            .is_ok()
        {
            let _ = std::fs::remove_dir_all(spool);
        }
    }
}

/// A background thread that looks for lost runs every `every` until dropped (`kiroku serve`).
pub struct LostRunWatch {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LostRunWatch {
    pub fn start(store: Arc<dyn Store>, every: Duration) -> Self {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || loop {
            recover_lost_runs_quietly(store.as_ref());
            match stopped.recv_timeout(every) {
                Err(RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
            }
        });
        LostRunWatch {
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for LostRunWatch {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
