//! The processes of a job on its host: its supervisor (`kiroku job-exec`), and its command's
//! process group, which the command's first process leads (the group id is that process's
//! pid). Both are named by identity (`crate::process`), so a pid or group id reused by an
//! unrelated process is never judged alive or signalled.
use crate::process::{self, Liveness, ProcStat, ProcessIdentity};
use std::time::{Duration, Instant};

/// A command's process group, known by the identity of the process that leads it.
#[derive(Debug, Clone)]
pub struct ProcessGroup {
    leader: ProcessIdentity,
}

impl ProcessGroup {
    /// The group `leader` created (`setpgid(0, 0)`).
    pub fn led_by(leader: ProcessIdentity) -> ProcessGroup {
        ProcessGroup { leader }
    }

    /// The group id (the leader's pid).
    pub fn id(&self) -> u32 {
        self.leader.pid
    }

    /// The group's processes that have not exited, with the leader if it still runs. Empty
    /// when the group cannot be judged from here (another host, boot or pid namespace) or
    /// when its id now names another group (a process other than the leader leads it).
    pub fn members(&self) -> Vec<ProcStat> {
        if !self.judged_here() {
            return Vec::new();
        }
        let all: Vec<ProcStat> = process::all_processes()
            .into_iter()
            .filter(|p| p.process_group == self.leader.pid)
            .collect();
        let led_by_another = all
            .iter()
            .any(|p| p.pid == self.leader.pid && p.start_ticks != self.leader.start_ticks);
        if led_by_another {
            return Vec::new();
        }
        // Every member joined after the leader started; one older than it is not of this group.
        all.into_iter()
            .filter(|p| !p.exited() && p.start_ticks >= self.leader.start_ticks)
            .collect()
    }

    /// Whether no process of the group is left running.
    pub fn is_empty(&self) -> bool {
        self.members().is_empty()
    }

    /// Sends `signal` to the group: at once to the whole group (`kill(-pgid)`, which also
    /// reaches processes forked a moment ago) while its leader runs, since then the id is
    /// surely this group's; after the leader is gone, to each member found, each by its own
    /// identity.
    pub fn signal(&self, signal: libc::c_int) {
        if self.leader.liveness() == Liveness::Alive {
            // SAFETY: kill with a negative pid signals a process group; no memory is involved.
            unsafe { libc::kill(-(self.leader.pid as libc::pid_t), signal) };
            return;
        }
        for member in self.members() {
            let identity = ProcessIdentity {
                pid: member.pid,
                start_ticks: member.start_ticks,
                ..self.leader.clone()
            };
            process::signal_exactly(&identity, signal);
        }
    }

    /// SIGKILLs the group until none of it is left, for at most `wait`; returns whether it is
    /// gone. (Exited members still count until their parent reaps them only while their parent
    /// lives; orphans are reaped by init or the nearest subreaper.)
    pub fn kill(&self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            if self.is_empty() {
                return true;
            }
            self.signal(libc::SIGKILL);
            if Instant::now() >= deadline {
                return self.is_empty();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether processes of this group would be visible here: the same host, boot and pid
    /// namespace as the leader's.
    fn judged_here(&self) -> bool {
        self.leader.liveness() != Liveness::Elsewhere
            && process::boot_id().as_deref() == Some(self.leader.boot_id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    fn group_of(child: &std::process::Child) -> ProcessGroup {
        let pid = child.id();
        ProcessGroup::led_by(ProcessIdentity {
            pid,
            start_ticks: process::start_ticks(pid).unwrap(),
            ..ProcessIdentity::current().unwrap()
        })
    }

    #[test]
    fn a_group_whose_leader_exited_is_killed_member_by_member() {
        // The leader starts a member that ignores SIGTERM, then exits.
        let mut leader = std::process::Command::new("sh")
            .args(["-c", "trap '' TERM; sleep 300 >/dev/null & echo $!"])
            .stdout(std::process::Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let group = group_of(&leader);
        let mut out = String::new();
        use std::io::Read;
        leader
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        leader.wait().unwrap();
        let member: u32 = out.trim().parse().unwrap();
        let members: Vec<u32> = group.members().iter().map(|p| p.pid).collect();
        assert_eq!(
            members,
            vec![member],
            "the leader is gone, its member is left"
        );
        assert!(group.kill(Duration::from_secs(10)), "the member is killed");
        assert!(process::stat(member).is_none_or(|s| s.exited() || s.process_group != group.id()));
    }

    #[test]
    fn a_group_id_now_led_by_another_process_has_no_members() {
        let mut child = std::process::Command::new("sleep")
            .arg("300")
            .process_group(0)
            .spawn()
            .unwrap();
        let group = group_of(&child);
        assert_eq!(group.members().len(), 1);
        let reused = ProcessGroup::led_by(ProcessIdentity {
            start_ticks: group.leader.start_ticks + 1,
            ..group.leader.clone()
        });
        assert!(
            reused.members().is_empty(),
            "another leader: not this group"
        );
        reused.signal(libc::SIGKILL);
        assert_eq!(group.members().len(), 1, "nothing was signalled");
        group.signal(libc::SIGKILL);
        child.wait().unwrap();
        assert!(group.is_empty());
    }
}
