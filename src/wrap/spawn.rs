//! Starting a job's command the way `posix_spawn` does, plus the one thing `posix_spawn`
//! cannot do: arm the parent-death signal (`super::die_with_this_thread`'s guarantee).
//!
//! `std::process::Command` with a `pre_exec` closure (which the parent-death signal needs)
//! forks: the kernel copies the page tables of the whole supervisor (a fork of the scheduler,
//! tens of megabytes mapped), the child takes copy-on-write faults until it execs, and the exec
//! then tears that copy down, all before the command's first instruction. Here the child is a
//! `clone(CLONE_VM | CLONE_VFORK)`: it borrows this process's memory, on a stack of its own,
//! until its `execve`, and the calling thread waits meanwhile, as glibc's `posix_spawn` does.
//!
//! The child runs only plain system calls on data prepared before the clone (no allocation,
//! no lock): it sets every handled signal back to its default (a handler of this process must
//! not run in it), SIGPIPE too (as `std` does), empties the signal mask, leads a new process
//! group, arms SIGTERM as its parent-death signal, takes its standard streams, changes to its
//! folder and execs the program (looked for in `PATH` as `execvp` does). A failure before the
//! exec is passed back through the shared memory, and the child exits 127.
use std::ffi::{CString, OsStr, OsString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

/// The child's stack: what the calls it makes need, with room to spare.
const CHILD_STACK: usize = 64 * 1024;

/// What to start.
pub struct SpawnRequest<'a> {
    pub program: &'a OsStr,
    /// The arguments after the program.
    pub args: &'a [String],
    /// Variables added to (or replacing those of) this process's environment.
    pub env: Vec<(&'a str, OsString)>,
    /// The folder it starts in.
    pub cwd: &'a Path,
}

/// The started command's first process (it leads its own process group), not yet reaped, and
/// the read ends of its output pipes.
pub struct Spawned {
    pub pid: u32,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// Everything the child reads, made before the clone.
struct ChildPlan {
    /// The paths to try, in order (one for a program with a `/`, else one per `PATH` entry).
    candidates: Vec<CString>,
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
    cwd: CString,
    stdin: libc::c_int,
    stdout: libc::c_int,
    stderr: libc::c_int,
    parent: libc::pid_t,
    /// The errno of the step that failed, written by the child (0: it exec'd).
    failure: AtomicI32,
}

/// Starts `request` with stdin from `/dev/null` and stdout and stderr piped.
pub fn spawn(request: &SpawnRequest) -> std::io::Result<Spawned> {
    let nul = |bytes: &[u8]| {
        CString::new(bytes).map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "a NUL byte in the command, its folder or its environment",
            )
        })
    };
    let arg_strings: Vec<CString> = std::iter::once(nul(request.program.as_bytes()))
        .chain(request.args.iter().map(|a| nul(a.as_bytes())))
        .collect::<std::io::Result<_>>()?;
    let env_strings = environment(&request.env, nul)?;
    let path_var = request
        .env
        .iter()
        .rev()
        .find(|(k, _)| *k == "PATH")
        .map(|(_, v)| v.clone())
        .or_else(|| std::env::var_os("PATH"));
    let candidates = candidates(request.program, path_var.as_deref(), nul)?;
    let stdin = open_dev_null()?;
    let (stdout_read, stdout_write) = pipe()?;
    let (stderr_read, stderr_write) = pipe()?;
    let plan = ChildPlan {
        candidates,
        argv: pointers(&arg_strings),
        envp: pointers(&env_strings),
        cwd: nul(request.cwd.as_os_str().as_bytes())?,
        stdin: stdin.as_raw_fd(),
        stdout: stdout_write.as_raw_fd(),
        stderr: stderr_write.as_raw_fd(),
        // SAFETY: getpid is always safe.
        parent: unsafe { libc::getpid() },
        failure: AtomicI32::new(0),
    };
    let mut stack = vec![0u8; CHILD_STACK];
    // SAFETY: the stack grows down from its end (16-byte aligned below); `plan` and `stack`
    // outlive the child's use of them, since CLONE_VFORK suspends this thread until the child
    // has exec'd or exited; the child runs `child_main` alone, which makes only system calls.
    // Every signal is blocked around the clone, so no handler of this process runs on the
    // child's stack before the child resets them.
    let pid = unsafe {
        let top = stack.as_mut_ptr().add(CHILD_STACK);
        let top = top.sub(top as usize % 16);
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let pid = libc::clone(
            child_main,
            top.cast(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            (&plan as *const ChildPlan).cast_mut().cast(),
        );
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        pid
    };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let failure = plan.failure.load(Ordering::SeqCst);
    if failure != 0 {
        // SAFETY: reaping the child that just exited (its pid is ours until reaped).
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        return Err(std::io::Error::from_raw_os_error(failure));
    }
    Ok(Spawned {
        pid: pid as u32,
        stdout: stdout_read,
        stderr: stderr_read,
    })
}

/// This process's environment with `added` applied, as `NAME=VALUE` strings.
fn environment(
    added: &[(&str, OsString)],
    nul: impl Fn(&[u8]) -> std::io::Result<CString>,
) -> std::io::Result<Vec<CString>> {
    let mut vars: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    for (name, value) in added {
        vars.retain(|(k, _)| k != OsStr::new(name));
        vars.push((OsString::from(name), value.clone()));
    }
    vars.iter()
        .map(|(k, v)| {
            let mut line = k.as_bytes().to_vec();
            line.push(b'=');
            line.extend_from_slice(v.as_bytes());
            nul(&line)
        })
        .collect()
}

/// Where `execvp` would look for `program`: itself when it names a path, else each `PATH`
/// entry (an empty one is the current folder).
fn candidates(
    program: &OsStr,
    path_var: Option<&OsStr>,
    nul: impl Fn(&[u8]) -> std::io::Result<CString>,
) -> std::io::Result<Vec<CString>> {
    let bytes = program.as_bytes();
    if bytes.is_empty() {
        return Err(std::io::Error::from_raw_os_error(libc::ENOENT));
    }
    if bytes.contains(&b'/') {
        return Ok(vec![nul(bytes)?]);
    }
    let path = path_var.map_or(&b"/usr/local/bin:/usr/bin:/bin"[..], |p| p.as_bytes());
    path.split(|&b| b == b':')
        .map(|dir| {
            let mut full = if dir.is_empty() {
                b".".to_vec()
            } else {
                dir.to_vec()
            };
            full.push(b'/');
            full.extend_from_slice(bytes);
            nul(&full)
        })
        .collect()
}

fn pointers(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into a valid array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just made and are owned by nothing else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn open_dev_null() -> std::io::Result<OwnedFd> {
    // SAFETY: open with a NUL-terminated literal path.
    let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the descriptor was just opened and is owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The child, between the clone and its exec. Only system calls on the plan.
extern "C" fn child_main(plan: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `plan` points to the parent's ChildPlan, alive while the parent is suspended.
    let plan = unsafe { &*(plan as *const ChildPlan) };
    // SAFETY: only async-signal-safe system calls on valid arguments.
    unsafe {
        let fail = |plan: &ChildPlan| -> libc::c_int {
            plan.failure.store(
                std::io::Error::last_os_error()
                    .raw_os_error()
                    .unwrap_or(libc::EIO)
                    .max(1),
                Ordering::SeqCst,
            );
            libc::_exit(127)
        };
        for signal in 1..libc::SIGRTMAX() {
            if signal == libc::SIGKILL || signal == libc::SIGSTOP {
                continue;
            }
            let mut action: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, std::ptr::null(), &mut action) != 0 {
                continue;
            }
            let handled =
                action.sa_sigaction != libc::SIG_DFL && action.sa_sigaction != libc::SIG_IGN;
            if handled || signal == libc::SIGPIPE {
                action.sa_sigaction = libc::SIG_DFL;
                action.sa_flags = 0;
                libc::sigaction(signal, &action, std::ptr::null_mut());
            }
        }
        if libc::setpgid(0, 0) != 0 {
            return fail(plan);
        }
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
            return fail(plan);
        }
        for (fd, target) in [(plan.stdin, 0), (plan.stdout, 1), (plan.stderr, 2)] {
            let moved = if fd == target {
                libc::fcntl(fd, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, target)
            };
            if moved < 0 {
                return fail(plan);
            }
        }
        if libc::chdir(plan.cwd.as_ptr()) != 0 {
            return fail(plan);
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        // The parent died before the signal was armed: act on it now.
        if libc::getppid() != plan.parent {
            libc::raise(libc::SIGTERM);
        }
        // As execvp: go on past a missing or inaccessible candidate; report EACCES if one
        // was seen and nothing ran.
        let mut denied = false;
        for path in &plan.candidates {
            libc::execve(path.as_ptr(), plan.argv.as_ptr(), plan.envp.as_ptr());
            match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::EACCES) => denied = true,
                Some(libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ENODEV) => {}
                _ => return fail(plan),
            }
        }
        if denied {
            *libc::__errno_location() = libc::EACCES;
        }
        fail(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn run(request: &SpawnRequest) -> (i32, String, String) {
        let spawned = spawn(request).unwrap();
        let mut out = String::new();
        let mut err = String::new();
        std::fs::File::from(spawned.stdout)
            .read_to_string(&mut out)
            .unwrap();
        std::fs::File::from(spawned.stderr)
            .read_to_string(&mut err)
            .unwrap();
        let mut status = 0;
        // SAFETY: reaping our own child.
        unsafe { libc::waitpid(spawned.pid as i32, &mut status, 0) };
        (libc::WEXITSTATUS(status), out, err)
    }

    #[test]
    fn a_command_runs_in_its_folder_with_its_environment_and_its_own_group() {
        let dir = tempfile::tempdir().unwrap();
        let args = vec![
            "-c".to_string(),
            "pwd; echo \"$KIROKU_SPAWN_TEST\"; cut -d' ' -f5 /proc/$$/stat; echo $$; \
             read line || echo eof; echo err >&2; exit 3"
                .to_string(),
        ];
        let request = SpawnRequest {
            program: OsStr::new("sh"),
            args: &args,
            env: vec![("KIROKU_SPAWN_TEST", OsString::from("a b $c"))],
            cwd: dir.path(),
        };
        let (code, out, err) = run(&request);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(code, 3);
        assert_eq!(
            Path::new(lines[0]).canonicalize().unwrap(),
            dir.path().canonicalize().unwrap()
        );
        assert_eq!(lines[1], "a b $c");
        assert_eq!(
            lines[2], lines[3],
            "the command leads its own process group"
        );
        assert_eq!(lines[4], "eof", "stdin is /dev/null");
        assert_eq!(err, "err\n");
    }

    #[test]
    fn the_command_starts_with_no_signal_blocked_and_gets_sigterm_when_its_thread_ends() {
        let dir = tempfile::tempdir().unwrap();
        let args = vec![
            "-c".to_string(),
            "grep SigBlk /proc/self/status; exec sleep 30".to_string(),
        ];
        // The spawning thread blocks signals (as a job's supervisor does), reads the command's
        // first line, and ends.
        let (pid, first_line) = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    // SAFETY: blocking signals in this thread only.
                    unsafe {
                        let mut set: libc::sigset_t = std::mem::zeroed();
                        libc::sigemptyset(&mut set);
                        libc::sigaddset(&mut set, libc::SIGTERM);
                        libc::sigaddset(&mut set, libc::SIGCHLD);
                        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
                    }
                    let spawned = spawn(&SpawnRequest {
                        program: OsStr::new("sh"),
                        args: &args,
                        env: Vec::new(),
                        cwd: dir.path(),
                    })
                    .unwrap();
                    let mut line = String::new();
                    std::io::BufRead::read_line(
                        &mut std::io::BufReader::new(std::fs::File::from(spawned.stdout)),
                        &mut line,
                    )
                    .unwrap();
                    (spawned.pid, line)
                })
                .join()
                .unwrap()
        });
        assert_eq!(
            first_line.split_whitespace().nth(1),
            Some("0000000000000000"),
            "{first_line}"
        );
        let mut status = 0;
        // SAFETY: reaping our own child.
        unsafe { libc::waitpid(pid as i32, &mut status, 0) };
        assert!(
            libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGTERM,
            "the spawning thread ended: its command got SIGTERM (status {status:#x})"
        );
    }

    #[test]
    fn a_missing_program_is_not_found_and_a_folder_is_denied() {
        let dir = tempfile::tempdir().unwrap();
        let missing = SpawnRequest {
            program: OsStr::new("kiroku-no-such-program"),
            args: &[],
            env: Vec::new(),
            cwd: dir.path(),
        };
        let e = spawn(&missing).err().unwrap();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
        let folder = SpawnRequest {
            program: dir.path().as_os_str(),
            args: &[],
            env: Vec::new(),
            cwd: dir.path(),
        };
        let e = spawn(&folder).err().unwrap();
        assert_eq!(e.raw_os_error(), Some(libc::EACCES));
        let no_folder = SpawnRequest {
            program: OsStr::new("true"),
            args: &[],
            env: Vec::new(),
            cwd: &dir.path().join("gone"),
        };
        assert_eq!(
            spawn(&no_folder).err().unwrap().kind(),
            std::io::ErrorKind::NotFound
        );
    }

    #[test]
    fn the_path_given_in_the_environment_is_searched() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("kiroku-spawn-probe");
        std::fs::write(&script, "#!/bin/sh\necho found\n").unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let request = SpawnRequest {
            program: OsStr::new("kiroku-spawn-probe"),
            args: &[],
            env: vec![(
                "PATH",
                OsString::from(format!("/nonexistent::{}", dir.path().display())),
            )],
            cwd: Path::new("/"),
        };
        assert_eq!(run(&request), (0, "found\n".to_string(), String::new()));
    }
}
