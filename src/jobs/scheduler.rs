//! The scheduler: one process per store and host (the hidden `kiroku scheduler`) that starts
//! this host's queued jobs when `placement` says they may.
//!
//! - **One at a time.** It holds the store lease `scheduler@HOST` (`JobStore::acquire_lease`),
//!   renewed while it lives. A holder seen dead from here (`process::ProcessIdentity`: pid and
//!   start time, same host and boot) is replaced at once; one in another pid namespace only
//!   when its lease expires.
//! - **Booked before launch.** A job starts by the compare-and-swap `queued` → `starting` with
//!   its GPUs in `assigned_gpus`, so the booking is in the store before anything runs; then its
//!   supervisor is forked by the launcher (`launcher`, forked from this process before the store
//!   was opened; without it, `kiroku --store LOC job-exec ID` is started), detached: own
//!   session, output to `scheduler/job-ID.log` beside the store. A supervisor that cannot be
//!   started, or that exits while its job is still `starting`, fails the job with the reason.
//! - **Takes submissions.** A `submit` on this host hands its job over a socket of its own
//!   (`submit_channel`) and the scheduler queues it and places it at once.
//! - **Wakes on change, never polls.** It sleeps in `poll(2)` on its wake socket (`wake`:
//!   `submit`, `jobs cancel` and supervisors poke it), its submission socket, and a pidfd per
//!   supervisor it started (their exit frees resources), with a timeout only for renewing the lease (and, while a job
//!   waits for GPUs held by processes kiroku did not start, a slower look at them, since
//!   nothing tells when those end). On an HTTP store a thread long-polls `store.watch` and pokes
//!   the socket on every change.
//! - **Gone when idle.** When nothing is queued, starting or running for this host it lingers a
//!   moment, gives the lease up and exits: an idle queue costs no process and no CPU. `submit`
//!   starts it again (`ensure_running`).
use super::detach::{spawn_detached, spawn_orphan};
use super::launcher::{Launcher, UNINHERITED_VARIABLES};
use super::placement::{place, Capacity, Decision, GpuSlot, Queue};
use super::submit_channel::SubmitSocket;
use super::targets::{self, Target};
use super::wake::{self, WakeSocket};
use crate::config::{Config, ConfigStamp, GpuSpec, TargetKind};
use crate::error::{KirokuError, Result};
use crate::model::{now_ms, Job, JobId, JobQuery, JobStatus, JobUpdate, Supervisor};
use crate::process::{Liveness, ProcessIdentity};
use crate::store::discover::{location_from_arg, StoreLocation};
use crate::store::Store;
use crate::user_dirs::UserDir;
use std::collections::{BTreeMap, HashMap};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a lease lasts without renewal (what a holder that cannot be judged from here, in
/// another pid namespace, keeps it after dying).
const LEASE_TTL: Duration = Duration::from_secs(60);
/// How often the holder renews its lease.
const RENEW_EVERY: Duration = Duration::from_secs(20);
/// How long an idle scheduler waits for more work before exiting.
const LINGER: Duration = Duration::from_secs(3);
/// How often a job waiting on GPUs that processes outside kiroku hold is looked at again.
const OUTSIDE_GPU_RECHECK: Duration = Duration::from_secs(5);

/// The lease name of this host's scheduler.
pub fn lease_name() -> String {
    format!(
        "scheduler@{}",
        crate::process::host_name().unwrap_or_else(|| "localhost".into())
    )
}

fn identity_of(s: &Supervisor) -> ProcessIdentity {
    ProcessIdentity {
        host: s.host.clone(),
        boot_id: s.boot_id.clone(),
        pid_namespace: s.pid_namespace.clone(),
        pid: s.pid,
        start_ticks: s.start_ticks,
    }
}

fn me() -> Result<Supervisor> {
    let me = ProcessIdentity::current().ok_or_else(|| {
        KirokuError::Invalid("cannot tell this process's identity (no /proc?)".into())
    })?;
    Ok(Supervisor {
        host: me.host,
        boot_id: me.boot_id,
        pid_namespace: me.pid_namespace,
        pid: me.pid,
        start_ticks: me.start_ticks,
        metrics_file: String::new(),
        child: None,
    })
}

/// Whether a scheduler holds this host's lease and lives (or cannot be judged from here and
/// its lease has not expired).
pub fn is_running(store: &dyn Store) -> Result<bool> {
    Ok(match store.lease(&lease_name())? {
        None => false,
        Some(lease) => match identity_of(&lease.holder).liveness() {
            Liveness::Alive => true,
            Liveness::Dead => false,
            Liveness::Elsewhere => lease.expires_at > now_ms(),
        },
    })
}

/// Takes (or renews) this host's lease for `holder`, replacing a holder seen dead.
fn take_lease(store: &dyn Store, holder: &Supervisor) -> Result<bool> {
    let name = lease_name();
    let now = now_ms();
    let expires = now + LEASE_TTL.as_millis() as i64;
    let dead_holder = store
        .lease(&name)?
        .map(|l| l.holder)
        .filter(|h| h != holder && identity_of(h).liveness() == Liveness::Dead);
    store.acquire_lease(&name, holder, now, expires, dead_holder.as_ref())
}

/// Where the scheduler and the supervisors it starts write their own output: `scheduler/`
/// in a local store's folder, else kiroku's per-user state folder.
pub fn log_dir(store_location: &str) -> PathBuf {
    match location_from_arg(store_location) {
        StoreLocation::Local(dir) => dir.join("scheduler"),
        StoreLocation::Remote(_) => UserDir::State
            .path()
            .unwrap_or_else(std::env::temp_dir)
            .join("scheduler"),
    }
}

/// The kiroku executable to start helpers with. A kiroku upgraded (replaced) while this
/// scheduler runs is named `PATH (deleted)` by Linux; the new file at `PATH` is the one to start.
fn kiroku_exe() -> Result<PathBuf> {
    let exe =
        std::env::current_exe().map_err(|e| KirokuError::io("finding the kiroku executable", e))?;
    Ok(replaced_exe_path(exe))
}

fn replaced_exe_path(exe: PathBuf) -> PathBuf {
    match exe.to_str().and_then(|p| p.strip_suffix(" (deleted)")) {
        Some(original) if !exe.exists() => PathBuf::from(original),
        _ => exe,
    }
}

/// A `kiroku --store LOC ARGS…` command, in a neutral folder and without the variables of a
/// run it may have been started from.
fn kiroku_command(store_location: &str, args: &[&str]) -> Result<Command> {
    let mut command = Command::new(kiroku_exe()?);
    command
        .arg("--store")
        .arg(store_location)
        .args(args)
        .current_dir("/");
    for name in UNINHERITED_VARIABLES {
        command.env_remove(name);
    }
    Ok(command)
}

/// Makes sure this host's scheduler runs for the store (starting one detached when none lives)
/// and tells it to look at the queue.
pub fn ensure_running(store: &dyn Store, store_location: &str) -> Result<()> {
    // The poke goes first, so a running scheduler starts looking while this checks on it (a
    // poke nobody hears is harmless).
    wake::poke(store);
    if is_running(store)? {
        return Ok(());
    }
    let log = scheduler_log(store_location);
    spawn_orphan(kiroku_command(store_location, &["scheduler"])?, &log).map_err(|e| {
        KirokuError::io(format!("starting the scheduler (log {})", log.display()), e)
    })?;
    Ok(())
}

/// The GPUs of a local target as placement sees them (`gpus::local_inventory`): an explicit
/// list as given, or the discovered ones; a GPU running processes kiroku did not start (not in
/// the sessions of `active` jobs' supervisors and commands) is unavailable unless its free memory
/// reaches `[jobs] gpu_free_memory_mb`.
pub fn local_gpu_slots(
    spec: Option<&GpuSpec>,
    config: &Config,
    active: &[Job],
) -> Result<Vec<GpuSlot>> {
    let spec = spec
        .cloned()
        .unwrap_or_else(|| GpuSpec::Auto("auto".into()));
    let sessions = super::gpus::job_sessions(active);
    Ok(
        super::gpus::local_inventory(&spec, &config.jobs, &sessions)?
            .into_iter()
            .map(|gpu| GpuSlot {
                index: gpu.index,
                memory_mb: gpu.memory_total_mb,
                available: !gpu.busy_elsewhere,
            })
            .collect(),
    )
}

/// What a target can hold at once (see `placement`).
pub fn capacity_of(target: &Target, config: &Config, active: &[Job]) -> Result<Capacity> {
    Ok(match target.config.kind {
        TargetKind::Local => {
            let gpus = local_gpu_slots(target.config.gpus.as_ref(), config, active)?;
            let max_parallel = target
                .config
                .max_parallel
                .unwrap_or_else(|| (gpus.len() as u32).max(1));
            Capacity::Local { max_parallel, gpus }
        }
        TargetKind::Ssh => Capacity::Slots {
            max_parallel: target.config.max_parallel.unwrap_or(1),
        },
        TargetKind::Slurm => Capacity::Unlimited,
    })
}

/// A supervisor this scheduler started, until it exits.
struct Started {
    job: JobId,
    process: SupervisorProcess,
    /// Readable when the supervisor exits.
    pidfd: Option<OwnedFd>,
}

/// How a supervisor was started.
enum SupervisorProcess {
    /// Forked by the launcher (`launcher`), the launcher's child: seen ending through its pidfd.
    Launched,
    /// A `kiroku job-exec` process of our own (no launcher), waited for here.
    Spawned(Child),
}

impl Started {
    /// Whether the supervisor has exited, with its exit status when known.
    fn exited(&mut self) -> Option<String> {
        match &mut self.process {
            SupervisorProcess::Spawned(child) => match child.try_wait() {
                Ok(Some(status)) => Some(status.to_string()),
                Ok(None) => None,
                Err(e) => Some(e.to_string()),
            },
            SupervisorProcess::Launched => {
                let fd = self.pidfd.as_ref()?;
                let mut pollfd = libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd, no waiting.
                let ready = unsafe { libc::poll(&mut pollfd, 1, 0) };
                (ready > 0).then(|| "it exited".to_string())
            }
        }
    }
}

fn pidfd_of(pid: libc::pid_t) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // SAFETY: a non-negative result is a descriptor we now own.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// What one pass over the queue found.
#[derive(Debug, Default)]
struct PassOutcome {
    /// Jobs of this host are queued, starting or running.
    busy: bool,
    /// A job waits for GPUs that processes outside kiroku hold.
    waits_on_outside_gpus: bool,
}

/// The scheduler of one store on this host.
pub struct Scheduler {
    store: Arc<dyn Store>,
    store_location: String,
    project_dir: Option<PathBuf>,
    config: Config,
    host: String,
    me: Supervisor,
    started: Vec<Started>,
    /// Where supervisors are forked from (None: each is a `kiroku job-exec` process).
    launcher: Option<Launcher>,
    /// The configuration files as last read.
    config_stamp: ConfigStamp,
    /// Work of a higher layer done once per wake (the model hook outbox); see `PassHook`.
    pass_hook: Option<PassHook>,
}

/// Work a higher layer has the scheduler's loop do once per wake (draining the model hook
/// outbox: `models::outbox`), given the configuration in force; it answers how soon it wants
/// to run again, which shortens the wait (it does not keep an idle scheduler alive).
pub type PassHook = Box<dyn FnMut(&Config) -> Option<Duration> + Send>;

impl Scheduler {
    pub fn new(
        store: Arc<dyn Store>,
        store_location: &str,
        project_dir: Option<PathBuf>,
        config: Config,
    ) -> Result<Scheduler> {
        let me = me()?;
        let project_dir_for_stamp = project_dir.clone();
        Ok(Scheduler {
            store,
            store_location: store_location.into(),
            project_dir,
            config,
            host: me.host.clone(),
            me,
            started: Vec::new(),
            launcher: None,
            config_stamp: ConfigStamp::of(project_dir_for_stamp.as_deref()),
            pass_hook: None,
        })
    }

    /// Starts supervisors from `launcher` (forked before the store was opened) rather than as
    /// `kiroku job-exec` processes.
    pub fn with_launcher(mut self, launcher: Launcher) -> Scheduler {
        self.launcher = Some(launcher);
        self
    }

    /// Has the loop run `hook` once per wake (see `PassHook`).
    pub fn with_pass_hook(mut self, hook: PassHook) -> Scheduler {
        self.pass_hook = Some(hook);
        self
    }

    /// Runs until this host has nothing queued, starting or running (then lingers a moment and
    /// exits), or until another live scheduler holds the lease.
    pub fn run(mut self) -> Result<()> {
        if matches!(
            location_from_arg(&self.store_location),
            StoreLocation::Remote(_)
        ) {
            watch_remote_store(Arc::clone(&self.store));
        }
        loop {
            if !take_lease(self.store.as_ref(), &self.me)? {
                return Ok(()); // another scheduler acts for this host
            }
            let Some(socket) = bind_wake_socket(self.store.as_ref())
                .map_err(|e| KirokuError::io("binding the scheduler's wake socket", e))?
            else {
                self.store.release_lease(&lease_name(), &self.me)?;
                return Ok(());
            };
            // Submissions handed over directly (a scheduler without one still works: its
            // users submit through the store and poke).
            let submissions = match SubmitSocket::bind(&self.store_location) {
                Ok(submissions) => submissions,
                Err(e) => {
                    eprintln!("kiroku scheduler: no submission socket ({e})");
                    None
                }
            };
            let lease_kept = self.serve(&socket, submissions.as_ref())?;
            drop(submissions);
            if !lease_kept {
                return Ok(());
            }
            // The socket goes before the lease: whoever takes the lease next can bind it.
            drop(socket);
            self.store.release_lease(&lease_name(), &self.me)?;
            // A job submitted while we were giving up saw the lease held and only poked: look
            // once more now that it is free, and carry on if there is work.
            if !self.host_has_queued_jobs()? {
                return Ok(());
            }
        }
    }

    /// The loop while holding the lease; returns false when the lease was lost to another.
    fn serve(&mut self, socket: &WakeSocket, submissions: Option<&SubmitSocket>) -> Result<bool> {
        let mut renewed = Instant::now();
        let mut idle_since: Option<Instant> = None;
        loop {
            socket.drain();
            // Once per wake, for the submissions and the pass alike.
            self.reload_config_if_changed();
            if let Some(submissions) = submissions {
                self.take_submissions(submissions);
            }
            self.reap();
            if renewed.elapsed() >= RENEW_EVERY {
                if !take_lease(self.store.as_ref(), &self.me)? {
                    return Ok(false);
                }
                renewed = Instant::now();
            }
            let outcome = match self.pass() {
                Ok(outcome) => outcome,
                Err(e) => {
                    eprintln!("kiroku scheduler: {e}");
                    PassOutcome {
                        busy: true,
                        waits_on_outside_gpus: true,
                    }
                }
            };
            let mut timeout = RENEW_EVERY.saturating_sub(renewed.elapsed());
            if outcome.busy || !self.started.is_empty() {
                idle_since = None;
            } else {
                let since = *idle_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= LINGER {
                    return Ok(true);
                }
                timeout = timeout.min(LINGER - since.elapsed());
            }
            if outcome.waits_on_outside_gpus {
                timeout = timeout.min(OUTSIDE_GPU_RECHECK);
            }
            if let Some(hook) = self.pass_hook.as_mut() {
                if let Some(again) = hook(&self.config) {
                    timeout = timeout.min(again);
                }
            }
            self.wait(socket, submissions, timeout);
        }
    }

    /// Queues the jobs handed over on the submission socket (with the configuration as it is
    /// now, which the submitter read too).
    fn take_submissions(&mut self, submissions: &SubmitSocket) {
        let (store, config) = (Arc::clone(&self.store), &self.config);
        submissions.serve_waiting(|new| super::submit::queue(store.as_ref(), config, new));
    }

    /// Sleeps until poked or handed a job, until a supervisor it started exits, or until
    /// `timeout`.
    fn wait(&self, socket: &WakeSocket, submissions: Option<&SubmitSocket>, timeout: Duration) {
        let mut fds = vec![libc::pollfd {
            fd: socket.fd(),
            events: libc::POLLIN,
            revents: 0,
        }];
        fds.extend(submissions.map(|s| libc::pollfd {
            fd: s.fd(),
            events: libc::POLLIN,
            revents: 0,
        }));
        fds.extend(self.started.iter().filter_map(|s| {
            s.pidfd.as_ref().map(|fd| libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
        }));
        let millis = timeout.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
        // SAFETY: fds is a valid array of pollfd for its length during the call.
        unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, millis) };
    }

    /// Waits for the supervisors that exited; a job still `starting` when its supervisor
    /// exited never started, and fails.
    fn reap(&mut self) {
        let mut ended = Vec::new();
        self.started.retain_mut(|s| match s.exited() {
            Some(status) => {
                ended.push((s.job, status));
                false
            }
            None => true,
        });
        for (job, status) in ended {
            let update = JobUpdate {
                status: Some(JobStatus::Failed),
                reason: Some(format!(
                    "its supervisor exited before starting it ({status}; see {})",
                    self.job_log(job).display()
                )),
                ended_at: Some(now_ms()),
                ..JobUpdate::from(&[JobStatus::Starting])
            };
            if let Err(e) = self.store.update_job(job, &update) {
                eprintln!("kiroku scheduler: job {job}: {e}");
            }
        }
    }

    fn job_log(&self, job: JobId) -> PathBuf {
        log_dir(&self.store_location).join(format!("job-{job}.log"))
    }

    fn host_has_queued_jobs(&self) -> Result<bool> {
        Ok(!self
            .store
            .jobs(&JobQuery {
                statuses: vec![JobStatus::Queued],
                host: Some(self.host.clone()),
                limit: Some(1),
                ..Default::default()
            })?
            .is_empty())
    }

    /// Looks at the queue and acts on placement's decisions; again while cancelling a job
    /// cancels others (jobs that run after it).
    fn pass(&mut self) -> Result<PassOutcome> {
        let outcome = self.place_until_settled()?;
        // Lost jobs are looked for after the starts (a start is not delayed by the look); a
        // lost one frees what it held, so the queue is placed again.
        match super::lost::recover_lost_jobs(self.store.as_ref()) {
            Ok(lost) if !lost.is_empty() => self.place_until_settled(),
            Ok(_) => Ok(outcome),
            Err(e) => {
                eprintln!("kiroku scheduler: looking for lost jobs: {e}");
                Ok(outcome)
            }
        }
    }

    /// Reads the configuration files again when they changed since last read.
    fn reload_config_if_changed(&mut self) {
        let stamp = ConfigStamp::of(self.project_dir.as_deref());
        if stamp != self.config_stamp {
            match Config::load(self.project_dir.as_deref()) {
                Ok(config) => self.config = config,
                Err(e) => {
                    eprintln!("kiroku scheduler: kiroku.toml: {e} (keeping the last good one)")
                }
            }
            self.config_stamp = stamp;
        }
    }

    /// Places the queue, again while cancelling a job cancelled others' parents.
    fn place_until_settled(&mut self) -> Result<PassOutcome> {
        loop {
            let (outcome, cancelled) = self.pass_once()?;
            if !cancelled {
                return Ok(outcome);
            }
        }
    }

    fn pass_once(&mut self) -> Result<(PassOutcome, bool)> {
        let jobs = self.store.jobs(&JobQuery {
            statuses: vec![JobStatus::Queued, JobStatus::Starting, JobStatus::Running],
            ..Default::default()
        })?;
        let mut outcome = PassOutcome {
            busy: jobs.iter().any(|j| j.host == self.host),
            waits_on_outside_gpus: false,
        };
        let queued: Vec<&Job> = jobs
            .iter()
            .filter(|j| j.status == JobStatus::Queued && j.host == self.host)
            .collect();
        if queued.is_empty() {
            return Ok((outcome, false));
        }
        let mut capacities = BTreeMap::new();
        let mut kinds = HashMap::new();
        // Sessions of this box's running jobs: their processes on a GPU are kiroku's own.
        let running_here: Vec<Job> = jobs
            .iter()
            .filter(|j| j.status.is_active() && j.host == self.host)
            .cloned()
            .collect();
        for job in &queued {
            if capacities.contains_key(&job.target) {
                continue;
            }
            if let Ok(target) = targets::resolve(&self.config, Some(&job.target)) {
                kinds.insert(job.target.clone(), target.config.kind);
                capacities.insert(
                    job.target.clone(),
                    capacity_of(&target, &self.config, &running_here)?,
                );
            }
        }
        let active: Vec<&Job> = jobs
            .iter()
            .filter(|j| j.status.is_active())
            .filter(|j| match kinds.get(&j.target) {
                Some(TargetKind::Local) => j.host == self.host,
                Some(_) => true,
                None => false,
            })
            .collect();
        let mut parents = HashMap::new();
        for &parent in queued.iter().flat_map(|j| &j.after) {
            if parents.contains_key(&parent) {
                continue;
            }
            let status = match jobs.iter().find(|j| j.id == parent) {
                Some(j) => Some(j.status),
                None => match self.store.job(parent) {
                    Ok(j) => Some(j.status),
                    Err(KirokuError::NotFound(_)) => None,
                    Err(e) => return Err(e),
                },
            };
            if let Some(status) = status {
                parents.insert(parent, status);
            }
        }
        let decisions = place(
            &Queue {
                queued: queued.clone(),
                active,
                parents,
            },
            &capacities,
        );
        let mut cancelled = false;
        for decision in decisions {
            let job = queued
                .iter()
                .find(|j| j.id == decision.job())
                .expect("a decision for a queued job");
            match decision {
                Decision::Start { gpus, .. } => self.start(job, gpus)?,
                Decision::Wait { reason, .. } => {
                    if let Some(Capacity::Local { gpus, .. }) = capacities.get(&job.target) {
                        if job.gpus > 0 && gpus.iter().any(|g| !g.available) {
                            outcome.waits_on_outside_gpus = true;
                        }
                    }
                    if job.reason != reason {
                        let update = JobUpdate {
                            reason: Some(reason),
                            ..JobUpdate::from(&[JobStatus::Queued])
                        };
                        self.store.update_job(job.id, &update)?;
                    }
                }
                Decision::Cancel { reason, .. } => {
                    let update = JobUpdate {
                        status: Some(JobStatus::Cancelled),
                        reason: Some(reason),
                        ended_at: Some(now_ms()),
                        ..JobUpdate::from(&[JobStatus::Queued])
                    };
                    cancelled |= self.store.update_job(job.id, &update)?.is_some();
                }
            }
        }
        Ok((outcome, cancelled))
    }

    /// Books `job` on `gpus` (`queued` → `starting`) and starts its supervisor.
    fn start(&mut self, job: &Job, gpus: Vec<u32>) -> Result<()> {
        let booking = JobUpdate {
            status: Some(JobStatus::Starting),
            reason: Some("starting".into()),
            assigned_gpus: Some(gpus),
            // Lost-job recovery counts a supervisor's grace to record itself from here.
            started_at: Some(now_ms()),
            ..JobUpdate::from(&[JobStatus::Queued])
        };
        if self.store.update_job(job.id, &booking)?.is_none() {
            return Ok(()); // cancelled meanwhile
        }
        match self.start_supervisor(job.id) {
            Ok(started) => self.started.push(started),
            Err(e) => {
                let failed = JobUpdate {
                    status: Some(JobStatus::Failed),
                    reason: Some(format!("could not start: {e}")),
                    ended_at: Some(now_ms()),
                    ..JobUpdate::from(&[JobStatus::Starting])
                };
                self.store.update_job(job.id, &failed)?;
            }
        }
        Ok(())
    }
}

impl Scheduler {
    /// Starts job `id`'s supervisor: forked by the launcher, or (without one, or when it
    /// failed) as a `kiroku job-exec` process.
    fn start_supervisor(&mut self, id: JobId) -> Result<Started> {
        let log = self.job_log(id);
        if let Some(launcher) = &self.launcher {
            match launcher.launch(id, &log) {
                Ok(pid) => {
                    return Ok(Started {
                        job: id,
                        process: SupervisorProcess::Launched,
                        pidfd: pidfd_of(pid),
                    })
                }
                Err(e) => {
                    eprintln!(
                        "kiroku scheduler: the launcher failed ({e}); starting supervisors as processes"
                    );
                    self.launcher = None;
                }
            }
        }
        let child = kiroku_command(&self.store_location, &["job-exec", &id.to_string()]).and_then(
            |command| {
                spawn_detached(command, &log)
                    .map_err(|e| KirokuError::io("starting its supervisor", e))
            },
        )?;
        Ok(Started {
            job: id,
            pidfd: pidfd_of(child.id() as libc::pid_t),
            process: SupervisorProcess::Spawned(child),
        })
    }
}

/// How long a new lease holder waits for the wake socket that a scheduler still exiting (one
/// that lost the lease to it) holds.
const SOCKET_HANDOVER: Duration = Duration::from_secs(1);

/// Binds the store's wake socket for the lease holder; `Ok(None)` when another process keeps
/// it beyond `SOCKET_HANDOVER`. A scheduler gives its socket up before its lease, but one that
/// lost its lease while serving still holds the socket for a moment: giving up at once then
/// would leave the queue to a scheduler on its way out.
fn bind_wake_socket(store: &dyn Store) -> std::io::Result<Option<WakeSocket>> {
    let deadline = Instant::now() + SOCKET_HANDOVER;
    loop {
        match WakeSocket::bind(store)? {
            Some(socket) => return Ok(Some(socket)),
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            None => return Ok(None),
        }
    }
}

/// For an HTTP store: a thread that long-polls the store for changes and pokes this host's
/// scheduler (this process) on each.
fn watch_remote_store(store: Arc<dyn Store>) {
    std::thread::spawn(move || {
        let mut seen = store.version().unwrap_or(0);
        loop {
            match store.watch(seen, Duration::from_secs(60)) {
                Ok(version) if version != seen => {
                    seen = version;
                    wake::poke(store.as_ref());
                }
                Ok(_) => {}
                Err(_) => std::thread::sleep(Duration::from_secs(5)),
            }
        }
    });
}

/// The scheduler's log for a store (for messages).
pub fn scheduler_log(store_location: &str) -> PathBuf {
    let host = crate::process::host_name().unwrap_or_else(|| "localhost".into());
    log_dir(store_location).join(format!("scheduler-{host}.log"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_executable_is_started_from_its_path() {
        assert_eq!(
            replaced_exe_path(PathBuf::from("/nowhere/bin/kiroku (deleted)")),
            PathBuf::from("/nowhere/bin/kiroku")
        );
        let here = std::env::current_exe().unwrap();
        assert_eq!(replaced_exe_path(here.clone()), here);
    }
}
