//! Which process is which, across pid reuse and reboots: a pid plus the process's start time
//! (`/proc/PID/stat` field 22, clock ticks after boot), qualified by the host name, the boot
//! id (`/proc/sys/kernel/random/boot_id`) and the pid namespace (containers). A supervisor records its own identity; anyone on the
//! same host and boot can later tell whether that very process still lives. Used for `kiroku
//! run` (lost runs) and job supervisors (lost jobs), and for signalling exactly that process.
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::OnceLock;

/// One process, named so that no other process (now or after a reboot) can pass for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessIdentity {
    pub host: String,
    pub boot_id: String,
    pub pid_namespace: String,
    pub pid: u32,
    pub start_ticks: u64,
}

/// What can be said about a recorded process from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// The same process is running (or stopped, but not yet reaped as dead).
    Alive,
    /// It has exited (gone, a zombie, or its pid now names another process).
    Dead,
    /// It runs or ran on another host, or in another pid namespace (container) of this one,
    /// which cannot be judged from here.
    Elsewhere,
}

impl ProcessIdentity {
    /// This process.
    pub fn current() -> Option<Self> {
        let pid = std::process::id();
        Some(ProcessIdentity {
            host: host_name()?,
            boot_id: boot_id()?,
            // Unreadable in some sandboxes: then every process here shares the empty name.
            pid_namespace: pid_namespace().unwrap_or_default(),
            pid,
            start_ticks: own_start_ticks(pid)?,
        })
    }

    /// Whether this process still runs, judged from the current host and boot.
    pub fn liveness(&self) -> Liveness {
        if host_name().as_deref() != Some(self.host.as_str()) {
            return Liveness::Elsewhere;
        }
        if boot_id().as_deref() != Some(self.boot_id.as_str()) {
            // Same host, another boot: every process of that boot has ended.
            return Liveness::Dead;
        }
        if pid_namespace().unwrap_or_default() != self.pid_namespace {
            return Liveness::Elsewhere;
        }
        match process_state(self.pid) {
            Some((state, ticks)) if ticks == self.start_ticks && !matches!(state, 'Z' | 'X') => {
                Liveness::Alive
            }
            _ => Liveness::Dead,
        }
    }
}

/// This machine's host name.
pub fn host_name() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    Some(String::from_utf8_lossy(&buf[..end]).into_owned())
}

/// The id of the current boot (changes at every reboot), read once per process: it cannot
/// change while the process lives.
pub fn boot_id() -> Option<String> {
    static BOOT_ID: OnceLock<Option<String>> = OnceLock::new();
    let read = || {
        let text = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
        Some(text.trim().to_string()).filter(|s| !s.is_empty())
    };
    BOOT_ID.get_or_init(read).clone()
}

/// The pid namespace of this process (`pid:[INODE]`), read once per process: a process never
/// changes its own pid namespace (a forked child shares its parent's).
pub fn pid_namespace() -> Option<String> {
    static PID_NAMESPACE: OnceLock<Option<String>> = OnceLock::new();
    let read = || {
        Some(
            std::fs::read_link("/proc/self/ns/pid")
                .ok()?
                .display()
                .to_string(),
        )
    };
    PID_NAMESPACE.get_or_init(read).clone()
}

/// The start time of this process (`pid`, its own pid), read once: a forked child, whose pid
/// differs from the one the value was read for, reads its own.
fn own_start_ticks(pid: u32) -> Option<u64> {
    // Written ticks first, then the pid they belong to; within one process every writer writes
    // the same pair.
    static FOR_PID: AtomicU32 = AtomicU32::new(0);
    static TICKS: AtomicU64 = AtomicU64::new(0);
    if FOR_PID.load(Ordering::Acquire) == pid {
        return Some(TICKS.load(Ordering::Relaxed));
    }
    let ticks = start_ticks(pid)?;
    TICKS.store(ticks, Ordering::Relaxed);
    FOR_PID.store(pid, Ordering::Release);
    Some(ticks)
}

/// A process's start time in clock ticks after boot, if it exists.
pub fn start_ticks(pid: u32) -> Option<u64> {
    process_state(pid).map(|(_, ticks)| ticks)
}

/// The state letter (field 3) and start time (field 22) of `/proc/PID/stat`.
fn process_state(pid: u32) -> Option<(char, u64)> {
    stat(pid).map(|s| (s.state, s.start_ticks))
}

/// What `/proc/PID/stat` says of a process that matters for telling it apart and for its
/// process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: u32,
    /// `R`, `S`, `D`, `T`, `Z` (exited, not yet reaped), `X` ...
    pub state: char,
    pub parent: u32,
    pub process_group: u32,
    pub start_ticks: u64,
}

impl ProcStat {
    /// Whether it has exited (a zombie waiting to be reaped counts as exited).
    pub fn exited(&self) -> bool {
        matches!(self.state, 'Z' | 'X')
    }
}

/// `/proc/PID/stat` of a process, if it exists.
pub fn stat(pid: u32) -> Option<ProcStat> {
    let stat =
        std::fs::read_to_string(Path::new("/proc").join(pid.to_string()).join("stat")).ok()?;
    parse_stat(pid, &stat)
}

/// Rewrites this process's command line as `ps`, `pgrep -f` and `/proc/self/cmdline` show it
/// (a forked process shows its parent's otherwise), in the memory that held the original
/// arguments: the new one must fit there. Returns whether it did.
pub fn set_command_line(args: &[&str]) -> bool {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return false;
    };
    let Some(after_name) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return false;
    };
    // Fields 48 and 49 (arg_start, arg_end); fields[0] is field 3.
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let (Some(start), Some(end)) = (
        fields.get(45).and_then(|f| f.parse::<usize>().ok()),
        fields.get(46).and_then(|f| f.parse::<usize>().ok()),
    ) else {
        return false;
    };
    let mut line: Vec<u8> = Vec::new();
    for arg in args {
        line.extend_from_slice(arg.as_bytes());
        line.push(0);
    }
    if start == 0 || end <= start || line.len() > end - start {
        return false;
    }
    line.resize(end - start, 0);
    // SAFETY: [arg_start, arg_end) is this process's own argument area, mapped writable (the
    // start of the main thread's stack); nothing reads it but the kernel (and the standard
    // library, which copied the arguments at start-up).
    unsafe { std::ptr::copy_nonoverlapping(line.as_ptr(), start as *mut u8, line.len()) };
    true
}

/// Every process visible in this pid namespace (`/proc`), as it was when read.
pub fn all_processes() -> Vec<ProcStat> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(stat)
        .collect()
}

/// Parses a `/proc/PID/stat` line. The command name (field 2) is in parentheses and may hold
/// spaces and parentheses itself, so fields are counted after its last `)`.
fn parse_stat(pid: u32, stat: &str) -> Option<ProcStat> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // fields[0] is field 3 (state), then ppid (4) and pgrp (5); field 22 is fields[19].
    Some(ProcStat {
        pid,
        state: fields.first()?.chars().next()?,
        parent: fields.get(1)?.parse().ok()?,
        process_group: fields.get(2)?.parse().ok()?,
        start_ticks: fields.get(19)?.parse().ok()?,
    })
}

/// Sends `signal` to the process `identity` names, and to no other: through a pidfd opened
/// before its identity is checked again, so a pid reused in between is never signalled.
pub fn signal_exactly(identity: &ProcessIdentity, signal: libc::c_int) {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, identity.pid as libc::pid_t, 0) };
    if fd < 0 {
        return;
    }
    let fd = fd as libc::c_int;
    if identity.liveness() == Liveness::Alive {
        // SAFETY: fd is the pidfd opened above; no siginfo, no flags.
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                fd,
                signal,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
    }
    // SAFETY: fd is ours and closed once.
    unsafe { libc::close(fd) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_process_is_alive_and_a_reused_pid_is_not_it() {
        let me = ProcessIdentity::current().expect("a Linux /proc");
        assert_eq!(me.liveness(), Liveness::Alive);
        let reused = ProcessIdentity {
            start_ticks: me.start_ticks + 1,
            ..me.clone()
        };
        assert_eq!(reused.liveness(), Liveness::Dead);
        let other_boot = ProcessIdentity {
            boot_id: "another-boot".into(),
            ..me.clone()
        };
        assert_eq!(other_boot.liveness(), Liveness::Dead);
        let other_container = ProcessIdentity {
            pid_namespace: "pid:[1]".into(),
            ..me.clone()
        };
        assert_eq!(other_container.liveness(), Liveness::Elsewhere);
        let other_host = ProcessIdentity {
            host: format!("{}-elsewhere", me.host),
            ..me
        };
        assert_eq!(other_host.liveness(), Liveness::Elsewhere);
    }

    #[test]
    fn an_exited_child_is_dead_even_before_it_is_reaped() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let identity = ProcessIdentity {
            start_ticks: start_ticks(pid).unwrap(),
            pid,
            ..ProcessIdentity::current().unwrap()
        };
        // Not waited for yet: a zombie until reaped.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while identity.liveness() == Liveness::Alive && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(identity.liveness(), Liveness::Dead);
        child.wait().unwrap();
        assert_eq!(identity.liveness(), Liveness::Dead);
    }

    #[test]
    fn stat_lines_with_odd_command_names_parse() {
        let line = "42 (a) b (c) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        let parsed = parse_stat(42, line).unwrap();
        assert_eq!(
            (parsed.state, parsed.parent, parsed.process_group),
            ('S', 1, 42)
        );
        assert_eq!(parsed.start_ticks, 987654);
        assert_eq!(parse_stat(42, "garbage"), None);
    }
}
