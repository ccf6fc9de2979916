//! What Slurm says about a job, read from its parsable outputs (`squeue -o '%i|%T|%r'`,
//! `scontrol show job -o`, `sacct -X -n -P`, a `jobcomp/filetxt` line) and mapped to a
//! `RemoteState` (pure functions; every state of `squeue(1)`'s JOB STATE CODES is placed).
use crate::jobs::backend::RemoteState;
use crate::model::JobStatus;

/// One job's state as a Slurm tool printed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlurmJobState {
    /// The long state name (`PENDING`, `COMPLETED`, …); sacct's `CANCELLED by 0` is cut to its
    /// first word.
    pub state: String,
    /// Slurm's reason (`Resources`, `NonZeroExitCode`, `TimeLimit`; `None` when it gives none).
    pub reason: String,
    /// `ExitCode=code:signal`, when the tool printed it.
    pub exit: Option<SlurmExit>,
}

/// Slurm's `code:signal` exit pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlurmExit {
    pub code: i32,
    pub signal: i32,
}

impl SlurmExit {
    /// `3:0` → code 3, signal 0.
    pub fn parse(text: &str) -> Option<SlurmExit> {
        let (code, signal) = text.trim().split_once(':')?;
        Some(SlurmExit {
            code: code.parse().ok()?,
            signal: signal.parse().ok()?,
        })
    }

    /// The exit code as a shell reports it: the code, or 128 + the signal that ended it.
    pub fn shell_code(self) -> i32 {
        if self.signal != 0 {
            128 + self.signal
        } else {
            self.code
        }
    }
}

/// A row of `squeue -h -t all -j ID -o '%i|%T|%r'` for job `id`; `None` when no row is about it.
pub fn parse_squeue(output: &str, id: &str) -> Option<SlurmJobState> {
    output.lines().find_map(|line| {
        let mut fields = line.trim().splitn(3, '|');
        (fields.next()? == id).then_some(())?;
        Some(SlurmJobState {
            state: fields.next()?.trim().to_string(),
            reason: fields.next().unwrap_or("").trim().to_string(),
            exit: None,
        })
    })
}

/// The value of `Key=` in a `Key=Value Key=Value …` line (`scontrol show job -o`, jobcomp);
/// values are read up to the next space, which is enough for the state, reason and exit code.
pub fn key_value<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split(' ')
        .find_map(|field| field.strip_prefix(key)?.strip_prefix('='))
}

/// The state in a `scontrol show job -o ID` line or a `jobcomp/filetxt` line (`JobState=`,
/// `Reason=` when present, `ExitCode=`).
pub fn parse_key_values(line: &str) -> Option<SlurmJobState> {
    Some(SlurmJobState {
        state: key_value(line, "JobState")?.to_string(),
        reason: key_value(line, "Reason").unwrap_or("None").to_string(),
        exit: key_value(line, "ExitCode").and_then(SlurmExit::parse),
    })
}

/// The last line of a `jobcomp/filetxt` file about job `id` (a requeued job has several).
pub fn parse_jobcomp(text: &str, id: &str) -> Option<SlurmJobState> {
    text.lines()
        .rfind(|line| key_value(line, "JobId") == Some(id))
        .and_then(parse_key_values)
}

/// A row of `sacct -X -n -P -j ID -o JobID,State,ExitCode,Reason` for job `id`.
pub fn parse_sacct(output: &str, id: &str) -> Option<SlurmJobState> {
    output.lines().find_map(|line| {
        let mut fields = line.trim().split('|');
        (fields.next()? == id).then_some(())?;
        let state = fields.next()?.split_whitespace().next()?.to_string();
        let exit = fields.next().and_then(SlurmExit::parse);
        let reason = fields.next().unwrap_or("None").trim().to_string();
        Some(SlurmJobState {
            state,
            reason,
            exit,
        })
    })
}

/// Whether Slurm is done with a job in this state (no more changes but a requeue, which kiroku
/// turns off with `--no-requeue`).
pub fn is_terminal(state: &str) -> bool {
    !matches!(
        map_state(&SlurmJobState {
            state: state.to_string(),
            reason: String::new(),
            exit: None,
        }),
        RemoteState::Pending { .. } | RemoteState::Running
    )
}

/// Where a job in Slurm's state stands for kiroku. Waiting states keep Slurm's reason; ended
/// ones keep it in the job's reason beside the exit code.
pub fn map_state(job: &SlurmJobState) -> RemoteState {
    let slurm_reason = (!job.reason.is_empty() && job.reason != "None").then_some(&job.reason);
    let ended = |status: JobStatus, words: String| RemoteState::Ended {
        status,
        exit_code: job.exit.map(SlurmExit::shell_code),
        reason: match slurm_reason {
            Some(r) if !words.contains(r.as_str()) => format!("{words} ({r})"),
            _ => words,
        },
    };
    let exit_words = || match job.exit {
        Some(SlurmExit { signal, .. }) if signal != 0 => format!("killed by signal {signal}"),
        Some(SlurmExit { code, .. }) => format!("exit code {code}"),
        None => "exit code unknown".to_string(),
    };
    match job.state.as_str() {
        // Waiting to start (or held, or waiting for a requeue): Slurm says why.
        "PENDING" | "REQUEUE_HOLD" | "REQUEUE_FED" | "RESV_DEL_HOLD" => RemoteState::Pending {
            reason: slurm_reason
                .cloned()
                .unwrap_or_else(|| "pending in Slurm".into()),
        },
        // Started and not done: stopped and resumed jobs, requeues (`--no-requeue` makes them
        // rare), the cleanup after the end (COMPLETING), staging and signalling.
        "RUNNING" | "COMPLETING" | "CONFIGURING" | "SUSPENDED" | "STOPPED" | "REQUEUED"
        | "RESIZING" | "SIGNALING" | "STAGE_OUT" => RemoteState::Running,
        "COMPLETED" => ended(JobStatus::Finished, "exit code 0".into()),
        "FAILED" => ended(JobStatus::Failed, exit_words()),
        "CANCELLED" => ended(JobStatus::Killed, "cancelled in Slurm".into()),
        "TIMEOUT" => ended(JobStatus::Timeout, "TimeLimit".into()),
        "DEADLINE" => ended(JobStatus::Timeout, "Deadline".into()),
        "NODE_FAIL" => ended(JobStatus::Failed, "NodeFail".into()),
        "OUT_OF_MEMORY" => ended(JobStatus::Failed, "OutOfMemory".into()),
        "BOOT_FAIL" => ended(JobStatus::Failed, "BootFail".into()),
        "PREEMPTED" => ended(JobStatus::Killed, "Preempted".into()),
        "REVOKED" => ended(JobStatus::Cancelled, "Revoked".into()),
        "SPECIAL_EXIT" => ended(JobStatus::Failed, format!("SpecialExit, {}", exit_words())),
        other => ended(JobStatus::Failed, format!("unknown Slurm state {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(state: &str, reason: &str, exit: Option<&str>) -> RemoteState {
        map_state(&SlurmJobState {
            state: state.into(),
            reason: reason.into(),
            exit: exit.and_then(SlurmExit::parse),
        })
    }

    fn ended(status: JobStatus, exit_code: Option<i32>, reason: &str) -> RemoteState {
        RemoteState::Ended {
            status,
            exit_code,
            reason: reason.into(),
        }
    }

    #[test]
    fn waiting_states_keep_slurms_reason() {
        for name in ["PENDING", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"] {
            assert_eq!(
                state(name, "Resources", None),
                RemoteState::Pending {
                    reason: "Resources".into()
                },
                "{name}"
            );
        }
        assert_eq!(
            state("PENDING", "None", None),
            RemoteState::Pending {
                reason: "pending in Slurm".into()
            }
        );
    }

    #[test]
    fn started_states_are_running() {
        for name in [
            "RUNNING",
            "COMPLETING",
            "CONFIGURING",
            "SUSPENDED",
            "STOPPED",
            "REQUEUED",
            "RESIZING",
            "SIGNALING",
            "STAGE_OUT",
        ] {
            assert_eq!(state(name, "None", None), RemoteState::Running, "{name}");
            assert!(!is_terminal(name), "{name}");
        }
    }

    #[test]
    fn ended_states_map_to_terminal_statuses_with_slurms_words() {
        let cases = [
            (
                "COMPLETED",
                "None",
                "0:0",
                JobStatus::Finished,
                Some(0),
                "exit code 0",
            ),
            (
                "FAILED",
                "NonZeroExitCode",
                "3:0",
                JobStatus::Failed,
                Some(3),
                "exit code 3 (NonZeroExitCode)",
            ),
            (
                "FAILED",
                "JobLaunchFailure",
                "0:9",
                JobStatus::Failed,
                Some(137),
                "killed by signal 9 (JobLaunchFailure)",
            ),
            (
                "CANCELLED",
                "None",
                "0:15",
                JobStatus::Killed,
                Some(143),
                "cancelled in Slurm",
            ),
            (
                "TIMEOUT",
                "TimeLimit",
                "0:15",
                JobStatus::Timeout,
                Some(143),
                "TimeLimit",
            ),
            (
                "DEADLINE",
                "None",
                "0:15",
                JobStatus::Timeout,
                Some(143),
                "Deadline",
            ),
            (
                "NODE_FAIL",
                "NodeDown",
                "0:0",
                JobStatus::Failed,
                Some(0),
                "NodeFail (NodeDown)",
            ),
            (
                "OUT_OF_MEMORY",
                "OutOfMemory",
                "0:125",
                JobStatus::Failed,
                Some(253),
                "OutOfMemory",
            ),
            (
                "BOOT_FAIL",
                "None",
                "0:0",
                JobStatus::Failed,
                Some(0),
                "BootFail",
            ),
            (
                "PREEMPTED",
                "None",
                "0:15",
                JobStatus::Killed,
                Some(143),
                "Preempted",
            ),
            (
                "REVOKED",
                "None",
                "0:0",
                JobStatus::Cancelled,
                Some(0),
                "Revoked",
            ),
            (
                "SPECIAL_EXIT",
                "None",
                "4:0",
                JobStatus::Failed,
                Some(4),
                "SpecialExit, exit code 4",
            ),
            (
                "WARPED",
                "None",
                "1:0",
                JobStatus::Failed,
                Some(1),
                "unknown Slurm state WARPED",
            ),
        ];
        for (name, reason, exit, status, code, words) in cases {
            assert_eq!(
                state(name, reason, Some(exit)),
                ended(status, code, words),
                "{name}"
            );
            assert!(is_terminal(name), "{name}");
        }
        assert_eq!(
            state("FAILED", "None", None),
            ended(JobStatus::Failed, None, "exit code unknown")
        );
    }

    #[test]
    fn squeue_rows_are_read_for_the_right_job() {
        let out = "12|PENDING|Resources\n13|FAILED|NonZeroExitCode\n";
        assert_eq!(
            parse_squeue(out, "13"),
            Some(SlurmJobState {
                state: "FAILED".into(),
                reason: "NonZeroExitCode".into(),
                exit: None
            })
        );
        assert_eq!(parse_squeue(out, "1"), None);
        assert_eq!(parse_squeue("", "1"), None);
        // A reason holding the separator stays whole.
        assert_eq!(parse_squeue("5|PENDING|a|b", "5").unwrap().reason, "a|b");
    }

    #[test]
    fn scontrol_and_jobcomp_lines_are_read() {
        let line = "JobId=1 JobName=t1 UserId=root(0) JobState=FAILED Reason=NonZeroExitCode \
                    Dependency=(null) ExitCode=3:0 RunTime=00:00:00 WorkDir=/tmp/a b";
        assert_eq!(
            parse_key_values(line),
            Some(SlurmJobState {
                state: "FAILED".into(),
                reason: "NonZeroExitCode".into(),
                exit: Some(SlurmExit { code: 3, signal: 0 })
            })
        );
        assert_eq!(parse_key_values("JobId=1 Name=x"), None);
        let comp = "JobId=2 UserId=root(0) Name=t JobState=NODE_FAIL ExitCode=0:0\n\
                    JobId=12 UserId=root(0) Name=t JobState=COMPLETED ExitCode=0:0\n\
                    JobId=2 UserId=root(0) Name=t JobState=CANCELLED DerivedExitCode=0:0 ExitCode=0:15\n";
        let last = parse_jobcomp(comp, "2").unwrap();
        assert_eq!(
            (last.state.as_str(), last.exit),
            ("CANCELLED", SlurmExit::parse("0:15"))
        );
        assert_eq!(parse_jobcomp(comp, "1"), None);
    }

    #[test]
    fn sacct_rows_cut_the_state_to_its_first_word() {
        let out = "7|CANCELLED by 0|0:15|None\n8|TIMEOUT|0:15|TimeLimit\n";
        assert_eq!(parse_sacct(out, "7").unwrap().state, "CANCELLED");
        let timeout = parse_sacct(out, "8").unwrap();
        assert_eq!(timeout.reason, "TimeLimit");
        assert_eq!(
            timeout.exit,
            Some(SlurmExit {
                code: 0,
                signal: 15
            })
        );
        assert_eq!(parse_sacct(out, "9"), None);
    }

    #[test]
    fn exit_pairs_parse_or_refuse() {
        assert_eq!(SlurmExit::parse("143:0").unwrap().shell_code(), 143);
        assert_eq!(SlurmExit::parse("0:9").unwrap().shell_code(), 137);
        assert_eq!(SlurmExit::parse("x:0"), None);
        assert_eq!(SlurmExit::parse("3"), None);
    }
}
