//! What wakes a job's supervisor between its looks: SIGTERM (a cancel from this host, or
//! anyone stopping the supervisor), SIGINT, SIGHUP, and SIGCHLD (a process of the command
//! ended). They are blocked and taken with `sigtimedwait`, so no handler runs at an odd moment
//! and a signal that arrives while the supervisor is busy waits for its next look.
use std::time::Duration;

/// The signals that end a supervisor's wait.
const SIGNALS: [libc::c_int; 4] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGCHLD];

/// The blocked signals of this thread, to wait for.
pub struct Wakeup {
    set: libc::sigset_t,
}

impl Wakeup {
    /// Blocks the signals for the calling thread and the threads it starts afterwards. Call it
    /// before any other thread is started: a thread that does not block SIGTERM would take
    /// the signal's default action (the end of the process) instead. Commands started later
    /// get an empty mask (the standard library resets it in the child).
    pub fn block() -> Wakeup {
        // SAFETY: a zeroed sigset_t is initialised by sigemptyset before use; the calls take
        // valid pointers to it.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for sig in SIGNALS {
                libc::sigaddset(&mut set, sig);
            }
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            Wakeup { set }
        }
    }

    /// Waits up to `timeout` for one of the signals; returns it, or None when the time passed.
    pub fn wait(&self, timeout: Duration) -> Option<libc::c_int> {
        let ts = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: the set was initialised in `block`; no siginfo is asked for.
        let sig = unsafe { libc::sigtimedwait(&self.set, std::ptr::null_mut(), &ts) };
        (sig > 0).then_some(sig)
    }
}

/// A short name for a signal in reasons (`SIGTERM`, else its number).
pub fn signal_name(sig: libc::c_int) -> String {
    match sig {
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGINT => "SIGINT".into(),
        libc::SIGHUP => "SIGHUP".into(),
        libc::SIGKILL => "SIGKILL".into(),
        n => format!("signal {n}"),
    }
}
