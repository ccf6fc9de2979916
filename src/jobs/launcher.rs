//! The launcher: a fork server the scheduler starts job supervisors from, so a job's start costs
//! a `fork` rather than a new `kiroku` process (exec, dynamic loading, start-up, configuration).
//!
//! The scheduler forks the launcher first thing, while it is one thread and holds no store
//! connection: SQLite must never be used across a fork, and a forked thread's locks would be
//! held forever. The launcher then waits on a socket pair for `launch` requests and, for each,
//! forks a supervisor that starts from the same clean memory: its own session (`setsid`), stdin
//! from `/dev/null`, stdout and stderr appended to the job's log, in `/`, without the variables
//! of a run the scheduler may have been started from, SIGCHLD at its default and SIGPIPE
//! ignored (as `kiroku job-exec` has them), and calls the supervising function with the job id.
//! The supervisor exits with what that returns.
//!
//! **A spare ready before the job.** The launcher keeps one supervisor forked ahead of need
//! (`Spare`): it has set itself up as above (bar its log) and run the preparing half of the
//! supervising function (opening the store), and waits on a socket pair of its own. A `launch`
//! hands it the job id and the log's descriptor (`SCM_RIGHTS`) and answers with its pid; the next
//! spare is forked once that one has started its job's command (`command_started`: it closes
//! its end of its socket) and the command has had `SETTLE_MS` to itself, so the spare's
//! preparation (about a millisecond of a core) does not slow the command's own start-up down on
//! a small box; or at a request that comes first. A spare that died meanwhile refuses the
//! hand-over (its end is closed) and the job's supervisor is forked afresh. A spare names
//! itself `kiroku-spare` (`kiroku … supervisor-spare` in `ps`) until it takes a job; it records
//! itself on the job as any supervisor does, so lost-job detection is unchanged.
//!
//! The scheduler opens a pidfd on each supervisor from its pid: a supervisor is the launcher's
//! child, and the launcher reaps its exited children only when the next request comes (by then
//! the scheduler holds a pidfd on every earlier one), so a pid is never reused under it. An
//! exited, unreaped supervisor is a zombie, which `process::Liveness` counts as dead. The
//! launcher exits when the scheduler closes its end (or dies); supervisors still running are
//! then reaped by init.
//!
//! A launcher runs the code of the `kiroku` that started the scheduler: a kiroku upgraded
//! meanwhile is used from the scheduler's next start.
use crate::model::JobId;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

/// Variables a supervisor must not inherit from the scheduler: a scheduler started from inside
/// a run (a `submit` in a training script) would hand them down to every job.
pub const UNINHERITED_VARIABLES: [&str; 3] =
    ["KIROKU_RUN_ID", "KIROKU_METRICS_FILE", "KIROKU_STORE"];

/// The largest request: a job id and a log path.
const MAX_REQUEST: usize = 8 + 4096;

/// What a supervisor runs, in two halves: the outer call prepares (in a spare, before any job
/// is handed to it; it must start no thread), and what it returns supervises the job: the
/// job id in, its exit code out.
pub type Supervise = Box<dyn Fn() -> Box<dyn FnOnce(JobId) -> i32>>;

/// The scheduler's handle on its launcher.
pub struct Launcher {
    socket: OwnedFd,
    pid: libc::pid_t,
}

fn last_error() -> std::io::Error {
    std::io::Error::last_os_error()
}

impl Launcher {
    /// Forks the launcher. Call it while this process has one thread and no store connection.
    pub fn start(supervise: Supervise) -> std::io::Result<Launcher> {
        let (ours, theirs) = socket_pair()?;
        // SAFETY: the caller promises one thread, so the child's memory is consistent.
        match unsafe { libc::fork() } {
            -1 => Err(last_error()),
            0 => {
                drop(ours);
                serve(theirs, supervise)
            }
            pid => {
                drop(theirs);
                Ok(Launcher { socket: ours, pid })
            }
        }
    }

    /// Forks a supervisor for `job` with its output appended to `log`; returns its pid.
    pub fn launch(&self, job: JobId, log: &Path) -> std::io::Result<libc::pid_t> {
        let path = log.as_os_str().as_bytes();
        if path.len() > MAX_REQUEST - 8 {
            return Err(std::io::Error::other("the job's log path is too long"));
        }
        let mut request = job.to_le_bytes().to_vec();
        request.extend_from_slice(path);
        // SAFETY: the buffer is valid for its length.
        let sent = unsafe {
            libc::send(
                self.socket.as_raw_fd(),
                request.as_ptr().cast(),
                request.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if sent != request.len() as isize {
            return Err(if sent < 0 {
                last_error()
            } else {
                std::io::Error::other("the launcher took part of a request")
            });
        }
        let mut reply = [0u8; 4];
        // SAFETY: the buffer is valid for its length.
        let got = unsafe { libc::recv(self.socket.as_raw_fd(), reply.as_mut_ptr().cast(), 4, 0) };
        match got {
            4 => match i32::from_le_bytes(reply) {
                pid if pid > 0 => Ok(pid),
                errno => Err(std::io::Error::from_raw_os_error(-errno)),
            },
            0 => Err(std::io::Error::other("the launcher has exited")),
            n if n < 0 => Err(last_error()),
            _ => Err(std::io::Error::other("a short reply from the launcher")),
        }
    }
}

impl Drop for Launcher {
    /// Closing our end ends the launcher; it is reaped here.
    fn drop(&mut self) {
        // SAFETY: shutting down our own socket; waiting for our own child.
        unsafe {
            libc::shutdown(self.socket.as_raw_fd(), libc::SHUT_RDWR);
            libc::waitpid(self.pid, std::ptr::null_mut(), 0);
        }
    }
}

/// The launcher's loop: one supervisor per request, until the scheduler's end closes.
fn serve(socket: OwnedFd, supervise: Supervise) -> ! {
    // SAFETY: naming this thread (`ps -o comm`, `top`); the name is a NUL-terminated literal.
    unsafe { libc::prctl(libc::PR_SET_NAME, c"kiroku-launcher".as_ptr()) };
    let command_line = command_line_prefix();
    let mut spare = Spare::start(&socket, &supervise, &command_line);
    // Our end of the socket of the spare last handed a job, until its command has started.
    let mut handed: Option<OwnedFd> = None;
    let mut request = vec![0u8; MAX_REQUEST];
    loop {
        if spare.is_none() {
            // The next spare prepares once the last one's command has started and settled (its
            // preparation would slow that start down), unless a request comes first.
            let request_first = handed
                .take()
                .is_some_and(|handed| request_before_settled(&socket, &handed));
            if !request_first {
                spare = Spare::start(&socket, &supervise, &command_line);
            }
        }
        // SAFETY: the buffer is valid for its length.
        let got = unsafe {
            libc::recv(
                socket.as_raw_fd(),
                request.as_mut_ptr().cast(),
                request.len(),
                0,
            )
        };
        if got < 0 && last_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        if got < 8 {
            // The scheduler closed its end or died (the spare sees its own end close).
            // SAFETY: ending this process without running the scheduler's exit handlers twice.
            unsafe { libc::_exit(0) };
        }
        reap_exited_children();
        let job = JobId::from_le_bytes(request[..8].try_into().expect("8 bytes"));
        let log = std::ffi::OsStr::from_bytes(&request[8..got as usize]);
        let reply = match open_log(Path::new(log)) {
            Err(e) => -e.raw_os_error().unwrap_or(libc::EIO),
            Ok(log) => match spare.take().and_then(|s| s.hand(job, &log)) {
                Some((pid, spare_socket)) => {
                    handed = Some(spare_socket);
                    pid
                }
                // SAFETY: this process has one thread (it was forked from one that had).
                None => match unsafe { libc::fork() } {
                    -1 => -last_error().raw_os_error().unwrap_or(libc::EAGAIN),
                    0 => become_supervisor(&socket, log, job, &supervise, &command_line),
                    pid => pid,
                },
            },
        };
        let reply = reply.to_le_bytes();
        // SAFETY: the buffer is valid for its length.
        unsafe {
            libc::send(
                socket.as_raw_fd(),
                reply.as_ptr().cast(),
                reply.len(),
                libc::MSG_NOSIGNAL,
            )
        };
    }
}

/// How long the launcher waits for a handed spare's command to start before preparing the
/// next spare anyway.
const START_WAIT_MS: libc::c_int = 250;
/// How long a started command has the box to itself before the next spare prepares.
const SETTLE_MS: libc::c_int = 20;

/// Waits until the spare at the other end of `handed` has started its job's command (it closes
/// its end: `command_started`, or its exit; at most `START_WAIT_MS`), then `SETTLE_MS` more;
/// true when a request came on `socket` first.
fn request_before_settled(socket: &OwnedFd, handed: &OwnedFd) -> bool {
    let request = |fd: &OwnedFd| libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let mut both = [request(socket), request(handed)];
    if poll_ready(&mut both, START_WAIT_MS) && both[0].revents != 0 {
        return true;
    }
    poll_ready(&mut [request(socket)], SETTLE_MS)
}

/// `poll`, again when interrupted; whether any descriptor is ready.
fn poll_ready(fds: &mut [libc::pollfd], timeout_ms: libc::c_int) -> bool {
    loop {
        // SAFETY: a valid array of pollfd for the call.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
        if ready < 0 && last_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        return ready > 0;
    }
}

/// In a supervisor a spare became, its end of the spare's socket until its job's command has
/// started (-1: none, or not a spare).
static UNTIL_COMMAND_STARTED: AtomicI32 = AtomicI32::new(-1);

/// Says that this supervisor's job has started its command (or will not start it): the
/// launcher prepares its next spare then, off the way of this start. Does nothing in a process
/// that is not a supervisor taken from a spare, or when said already.
pub fn command_started() {
    let fd = UNTIL_COMMAND_STARTED.swap(-1, Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: the descriptor was handed over to this static, which alone closes it.
        unsafe { libc::close(fd) };
    }
}

/// A supervisor forked ahead of its job, prepared, waiting on its socket for the job.
struct Spare {
    pid: libc::pid_t,
    /// The launcher's end.
    socket: OwnedFd,
}

impl Spare {
    /// Forks a spare (None when that fails: jobs' supervisors are then forked afresh).
    fn start(
        launcher_socket: &OwnedFd,
        supervise: &Supervise,
        command_line: &[String],
    ) -> Option<Spare> {
        let (ours, theirs) = socket_pair().ok()?;
        // SAFETY: this process has one thread (it was forked from one that had).
        match unsafe { libc::fork() } {
            -1 => None,
            0 => {
                // SAFETY: closing descriptors of the launcher this process does not use.
                unsafe { libc::close(launcher_socket.as_raw_fd()) };
                drop(ours);
                become_spare(theirs, supervise, command_line)
            }
            pid => Some(Spare { pid, socket: ours }),
        }
    }

    /// Hands `job` and its log to the spare; its pid and our end of its socket (which it
    /// closes once its command has started), or None when it is gone.
    fn hand(self, job: JobId, log: &OwnedFd) -> Option<(libc::pid_t, OwnedFd)> {
        send_with_fd(&self.socket, &job.to_le_bytes(), log.as_raw_fd())
            .ok()
            .map(|()| (self.pid, self.socket))
    }
}

fn socket_pair() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: socketpair fills the two-element array on success.
    if unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    } != 0
    {
        return Err(last_error());
    }
    // SAFETY: both descriptors were just created and are owned here.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The space a control message carrying one descriptor takes.
fn fd_message_space() -> usize {
    // SAFETY: CMSG_SPACE only computes a size.
    unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as usize }
}

/// A message of the one buffer `iov` with the control buffer `control`.
fn message_of(iov: &mut libc::iovec, control: &mut [u8]) -> libc::msghdr {
    // SAFETY: a zeroed msghdr is a valid empty message.
    let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
    message.msg_iov = iov;
    message.msg_iovlen = 1;
    message.msg_control = control.as_mut_ptr().cast();
    message.msg_controllen = control.len() as _;
    message
}

/// Sends `body` with a copy of the descriptor `fd` attached.
fn send_with_fd(socket: &OwnedFd, body: &[u8], fd: RawFd) -> std::io::Result<()> {
    let mut control = vec![0u8; fd_message_space()];
    let mut iov = libc::iovec {
        iov_base: body.as_ptr() as *mut libc::c_void,
        iov_len: body.len(),
    };
    let message = message_of(&mut iov, &mut control);
    // SAFETY: the message's buffers outlive the call, and the control buffer has room for one
    // header and one descriptor.
    unsafe {
        let header = libc::CMSG_FIRSTHDR(&message);
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(header).cast::<RawFd>(), fd);
        if libc::sendmsg(socket.as_raw_fd(), &message, libc::MSG_NOSIGNAL) != body.len() as isize {
            return Err(last_error());
        }
    }
    Ok(())
}

/// Receives a job id with the descriptor attached (`send_with_fd`); None when the other end
/// closed.
fn receive_job(socket: &OwnedFd) -> Option<(JobId, OwnedFd)> {
    let mut body = [0u8; 8];
    let mut control = vec![0u8; fd_message_space()];
    loop {
        let mut iov = libc::iovec {
            iov_base: body.as_mut_ptr().cast(),
            iov_len: body.len(),
        };
        let mut message = message_of(&mut iov, &mut control);
        // SAFETY: as in `send_with_fd`; a descriptor received is owned from here on.
        unsafe {
            let got = libc::recvmsg(socket.as_raw_fd(), &mut message, libc::MSG_CMSG_CLOEXEC);
            if got < 0 && last_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            let header = libc::CMSG_FIRSTHDR(&message);
            if got != 8
                || header.is_null()
                || (*header).cmsg_level != libc::SOL_SOCKET
                || (*header).cmsg_type != libc::SCM_RIGHTS
            {
                return None;
            }
            let fd = std::ptr::read_unaligned(libc::CMSG_DATA(header).cast::<RawFd>());
            return Some((JobId::from_le_bytes(body), OwnedFd::from_raw_fd(fd)));
        }
    }
}

/// Reaps supervisors that have exited (the scheduler holds pidfds on all of them by now).
fn reap_exited_children() {
    // SAFETY: waiting for our own children without blocking.
    while unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) } > 0 {}
}

fn open_log(log: &Path) -> std::io::Result<OwnedFd> {
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    Ok(file.into())
}

/// In a forked child: detach from the scheduler's session and folder, stdin from `/dev/null`,
/// the signal dispositions and variables of a supervisor (see the module's notes).
fn detach_as_supervisor() {
    let devnull = CString::new("/dev/null").expect("no NUL");
    let root = CString::new("/").expect("no NUL");
    // SAFETY: plain system calls on descriptors this process owns; one thread.
    unsafe {
        libc::setsid();
        let null = libc::open(devnull.as_ptr(), libc::O_RDONLY);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::close(null);
        }
        libc::chdir(root.as_ptr());
        libc::signal(libc::SIGCHLD, libc::SIG_DFL);
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    for name in UNINHERITED_VARIABLES {
        // The process has one thread: nothing reads the environment concurrently.
        std::env::remove_var(name);
    }
}

/// Sends stdout and stderr to the job's log and names the process after its job.
fn take_job(log: OwnedFd, job: JobId, command_line: &[String]) {
    // SAFETY: plain system calls on descriptors this process owns.
    unsafe {
        // Named apart from the scheduler it was forked from, in `ps` and `top`.
        libc::prctl(libc::PR_SET_NAME, c"kiroku-job".as_ptr());
        libc::dup2(log.as_raw_fd(), 1);
        libc::dup2(log.as_raw_fd(), 2);
    }
    drop(log);
    let id = job.to_string();
    name_command_line(command_line, &["job-exec", &id]);
}

/// In the forked child: detach, set up the standard streams, run the supervisor, exit.
fn become_supervisor(
    socket: &OwnedFd,
    log: OwnedFd,
    job: JobId,
    supervise: &Supervise,
    command_line: &[String],
) -> ! {
    // SAFETY: closing the launcher's socket, which this process does not use.
    unsafe { libc::close(socket.as_raw_fd()) };
    detach_as_supervisor();
    take_job(log, job, command_line);
    let code = supervise()(job);
    std::process::exit(code)
}

/// In a forked spare: set up and prepare, wait for the job, supervise it, exit. Exits quietly
/// when the launcher goes away first.
fn become_spare(socket: OwnedFd, supervise: &Supervise, command_line: &[String]) -> ! {
    // SAFETY: naming this thread; the name is a NUL-terminated literal.
    unsafe { libc::prctl(libc::PR_SET_NAME, c"kiroku-spare".as_ptr()) };
    detach_as_supervisor();
    name_command_line(command_line, &["supervisor-spare"]);
    let run = supervise();
    let Some((job, log)) = receive_job(&socket) else {
        // SAFETY: leaving without the scheduler's exit handlers (this is a fork of it).
        unsafe { libc::_exit(0) }
    };
    UNTIL_COMMAND_STARTED.store(socket.into_raw_fd(), Ordering::SeqCst);
    take_job(log, job, command_line);
    std::process::exit(run(job))
}

/// The scheduler's command line up to `scheduler` with `kiroku` for the executable's path
/// (`kiroku --store LOC`), which its supervisors' command lines start with.
fn command_line_prefix() -> Vec<String> {
    let current = std::fs::read("/proc/self/cmdline").unwrap_or_default();
    let current: Vec<String> = current
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    std::iter::once("kiroku".to_string())
        .chain(current.into_iter().skip(1).take_while(|a| a != "scheduler"))
        .collect()
}

/// Shows this process as `PREFIX… REST…` (a supervisor as `kiroku --store LOC job-exec ID`, as
/// the process it replaces, rather than as the scheduler it was forked from); without the
/// prefix's options when even that does not fit.
fn name_command_line(prefix: &[String], rest: &[&str]) {
    let mut args: Vec<&str> = prefix.iter().map(String::as_str).collect();
    args.extend(rest);
    if !crate::process::set_command_line(&args) {
        let mut short = vec!["kiroku"];
        short.extend(rest);
        crate::process::set_command_line(&short);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// Runs in a forked child of the test binary (whose other test threads would make a fork
    /// of it unsafe), so the launcher is started from a process with one thread.
    #[test]
    fn a_launched_supervisor_runs_detached_with_its_output_in_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("logs/job-7.log");
        let report = dir.path().join("report");
        let script = "echo job=$JOB sid=$(ps -o sid= -p $$ | tr -d ' ') pid=$$ cwd=$(pwd) \
             run=${KIROKU_RUN_ID:-none} comm=$(cat /proc/$PPID/comm) \
             line=$(tr '\\0' ' ' < /proc/$PPID/cmdline); [ -t 0 ] || echo notty"
            .to_string();
        let (log_c, report_c) = (log.clone(), report.clone());
        let outcome = in_single_threaded_child(move || {
            std::env::set_var("KIROKU_RUN_ID", "inherited");
            let script = script.clone();
            let launcher = Launcher::start(Box::new(move || {
                let script = script.clone();
                Box::new(move |job| {
                    let status = std::process::Command::new("sh")
                        .args(["-c", &script])
                        .env("JOB", job.to_string())
                        .status()
                        .unwrap();
                    status.code().unwrap_or(1)
                })
            }))
            .unwrap();
            let pid = launcher.launch(7, &log_c).unwrap();
            std::fs::write(&report_c, pid.to_string()).unwrap();
        });
        assert!(outcome, "the child that started the launcher failed");
        let pid: i32 = std::fs::read_to_string(&report).unwrap().parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut text = String::new();
        while !text.contains("notty") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            text = std::fs::read_to_string(&log).unwrap_or_default();
        }
        assert!(
            text.contains(&format!("job=7 sid={pid} ")),
            "own session: {text}"
        );
        assert!(text.contains("cwd=/ "), "{text}");
        assert!(text.contains("run=none"), "{text}");
        assert!(text.contains("comm=kiroku-job "), "{text}");
        assert!(
            text.contains("job-exec 7"),
            "its command line names the job: {text}"
        );
        assert!(text.contains("notty"), "{text}");
    }

    #[test]
    fn a_log_that_cannot_be_opened_is_an_error_and_the_launcher_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        let good = dir.path().join("good.log");
        let good_c = good.clone();
        let ok = in_single_threaded_child(move || {
            let launcher = Launcher::start(Box::new(|| Box::new(|_| 0))).unwrap();
            assert!(launcher
                .launch(1, &blocker.join("under-a-file.log"))
                .is_err());
            assert!(launcher.launch(2, &good_c).unwrap() > 0);
        });
        assert!(ok);
        assert!(good.exists());
    }

    /// Each job goes to a spare that prepared before the job was launched (its preparation
    /// is done by the time the launch asks), and a new spare replaces the one taken.
    #[test]
    fn jobs_go_to_spares_prepared_before_their_launch() {
        let dir = tempfile::tempdir().unwrap();
        let (root, root_c) = (dir.path().to_path_buf(), dir.path().to_path_buf());
        let ok = in_single_threaded_child(move || {
            let prepared = root_c.clone();
            let launcher = Launcher::start(Box::new(move || {
                // SAFETY: getpid cannot fail.
                let me = unsafe { libc::getpid() };
                std::fs::write(prepared.join(format!("prepared-{me}")), "").unwrap();
                let ran = prepared.clone();
                Box::new(move |job| {
                    // SAFETY: getpid cannot fail.
                    let me = unsafe { libc::getpid() };
                    std::fs::write(ran.join(format!("ran-{job}")), me.to_string()).unwrap();
                    0
                })
            }))
            .unwrap();
            for job in [1, 2] {
                let deadline = Instant::now() + Duration::from_secs(10);
                let spare_ready = || {
                    std::fs::read_dir(&root_c)
                        .unwrap()
                        .flatten()
                        .filter(|e| e.file_name().to_string_lossy().starts_with("prepared-"))
                        .count()
                        >= job as usize
                };
                while !spare_ready() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(10));
                }
                let pid = launcher.launch(job, &root_c.join("job.log")).unwrap();
                assert!(
                    root_c.join(format!("prepared-{pid}")).exists(),
                    "job {job} went to a prepared spare"
                );
                std::fs::write(root_c.join(format!("launched-{job}")), pid.to_string()).unwrap();
            }
        });
        assert!(ok, "the child that started the launcher failed");
        for job in [1, 2] {
            let launched = std::fs::read_to_string(root.join(format!("launched-{job}"))).unwrap();
            let path = root.join(format!("ran-{job}"));
            let deadline = Instant::now() + Duration::from_secs(10);
            while !path.exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let ran = std::fs::read_to_string(&path).unwrap_or_default();
            assert_eq!(ran, launched, "job {job} ran in the spare launched for it");
        }
    }

    /// Runs `body` in a forked child that execs nothing: the child has only the forking
    /// thread. True when `body` returned without panicking.
    fn in_single_threaded_child(body: impl FnOnce()) -> bool {
        // SAFETY: the child only runs `body` and exits; it never returns into the test harness.
        match unsafe { libc::fork() } {
            0 => {
                let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).is_ok();
                // SAFETY: leaving the forked child without running the harness's exit code.
                unsafe { libc::_exit(if ok { 0 } else { 1 }) }
            }
            pid => {
                let mut status = 0;
                // SAFETY: waiting for our own child.
                unsafe { libc::waitpid(pid, &mut status, 0) };
                libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
            }
        }
    }
}
