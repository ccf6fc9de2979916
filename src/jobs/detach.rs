//! Starting kiroku's own background processes (the scheduler, a job's supervisor) detached from
//! any terminal: a session of their own (`setsid`, so a terminal closing or an SSH session
//! dropping sends them nothing), stdin from `/dev/null` and stdout/stderr appended to a log
//! file, so no terminal is ever theirs. Where the caller will not wait for the process (a
//! `submit` starting the scheduler, or a TUI), it is started through a short-lived middle
//! process and so becomes a child of init: it never lingers as the caller's zombie
//! (`spawn_orphan`).
use std::fs::OpenOptions;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Starts `command` in a session of its own with its output appended to `log`, as a child of
/// the caller, which must wait for it.
pub fn spawn_detached(command: Command, log: &Path) -> std::io::Result<Child> {
    spawn(command, log, false)
}

/// As `spawn_detached`, through a middle process that ends at once: the process is orphaned
/// and init reaps it, so a caller that never waits (a `submit`, a TUI) leaves no zombie.
pub fn spawn_orphan(command: Command, log: &Path) -> std::io::Result<()> {
    let mut middle = spawn(command, log, true)?;
    middle.wait()?;
    Ok(())
}

fn spawn(mut command: Command, log: &Path, orphan: bool) -> std::io::Result<Child> {
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let out = OpenOptions::new().create(true).append(true).open(log)?;
    let err = out.try_clone()?;
    command
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    // SAFETY: between fork and exec the closure only makes async-signal-safe calls (setsid,
    // fork, _exit) and touches no memory shared with other threads.
    unsafe {
        command.pre_exec(move || {
            if orphan {
                match libc::fork() {
                    -1 => return Err(std::io::Error::last_os_error()),
                    0 => {}              // the grandchild goes on to exec
                    _ => libc::_exit(0), // the middle process ends at once
                }
            }
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.spawn()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_detached_process_has_its_own_session_and_writes_to_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("logs/out.log");
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "echo sid=$(ps -o sid= -p $$ | tr -d ' ') pid=$$; [ -t 0 ] || echo notty",
        ]);
        let mut child = spawn_detached(cmd, &log).unwrap();
        child.wait().unwrap();
        let text = std::fs::read_to_string(&log).unwrap();
        let pid = child.id();
        assert!(text.contains(&format!("sid={pid} pid={pid}")), "{text}");
        assert!(text.contains("notty"), "{text}");
    }

    #[test]
    fn an_orphaned_process_still_runs_after_the_middle_one_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("out.log");
        let flag = dir.path().join("done");
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(format!(
            "sleep 0.2; echo $PPID > {0}.tmp && mv {0}.tmp {0}",
            flag.display()
        ));
        spawn_orphan(cmd, &log).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !flag.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let parent = std::fs::read_to_string(&flag).unwrap();
        assert_ne!(parent.trim(), std::process::id().to_string());
    }
}
