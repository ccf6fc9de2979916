//! The ssh backend: a job's command runs on another box (`kind = "ssh"`: `host`, `workdir`,
//! optional `setup` and `ssh_options`), reached with the system `ssh` (`super::remote_shell`).
//! kiroku need not be installed there: only `sh`, coreutils, `setsid` and `/proc` (Linux).
//!
//! Each job gets a folder `<workdir>/.kiroku/jobs/<run_id>/` on the host holding
//! - `run.sh`: the runner, started detached (`setsid -f`, every descriptor redirected, so `ssh`
//!   returns at once and the job outlives the connection). It records `pid` (its pid, which is
//!   also the process group, its start time in clock ticks from `/proc/PID/stat` field 22, and
//!   the boot id), goes to `workdir`, exports the job's environment, runs `setup`, then the
//!   command (quoted once, so it gets its arguments exactly as given), and records `exit_code`
//!   (written to a temporary file and renamed, so it is whole when it is there);
//! - `output.log`: the command's stdout and stderr;
//! - `metrics.jsonl`: the command's metrics file (`KIROKU_METRICS_FILE` points there);
//! - `token`: when the job was given a token to log back with (`KIROKU_JOB_TOKEN_FILE`, a file on
//!   this box: `models::job_tokens`), its secret, written mode 0600 by the launch script, which
//!   reaches the host on ssh's standard input (never a command line); the command's
//!   `KIROKU_JOB_TOKEN_FILE` points there, and the runner removes it as the command ends.
//!
//! `poll` is one `ssh` call: the state (runner alive → running; `exit_code` there → ended with
//! it; neither → lost) and the bytes of both files past what was pulled, each framed by its
//! length so any bytes can pass. `cancel` sends SIGTERM to the process group, and leaves a small
//! detached watcher on the host that sends SIGKILL after the grace period; neither signals when
//! the recorded pid now names another process (start time or boot differ).
use super::backend::{Backend, LaunchSpec, Pulled, RemoteState};
use super::remote_shell::{join, quote, quote_path, Ssh};
use super::targets::Target;
use crate::config::TargetKind;
use crate::error::{KirokuError, Result};
use crate::jobs::job_token::{self, TOKEN_FILE_VARIABLE};
use crate::model::JobStatus;
use std::time::Duration;

/// At most this many bytes of each file come back from one poll (the rest on the next).
const POLL_CHUNK: u64 = 4 << 20;

/// The exit code the cancel watcher records for a job it had to SIGKILL (as a shell would).
const KILLED_EXIT: i32 = 137;

/// The exit code of our own scripts' failures on the host (never one of ssh's, 255).
const SCRIPT_FAILED: i32 = 3;

/// POSIX shell functions the host-side scripts share. They judge the runner from its `pid`
/// file's fields, read into `kiroku_pid`, `kiroku_ticks` and `kiroku_boot`.
const PROCESS_FUNCTIONS: &str = r#"
kiroku_stat() {
  kiroku_s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  kiroku_r=${kiroku_s##*\)}
  set -- $kiroku_r
  echo "$1 ${20}"
}
kiroku_same_boot() {
  [ "$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)" = "$kiroku_boot" ]
}
kiroku_alive() {
  kiroku_same_boot || return 1
  kiroku_st=$(kiroku_stat "$kiroku_pid") || return 1
  case "$kiroku_st" in "Z "*|"X "*) return 1;; esac
  [ "${kiroku_st#* }" = "$kiroku_ticks" ]
}
kiroku_not_reused() {
  kiroku_same_boot || return 1
  kiroku_st=$(kiroku_stat "$kiroku_pid") || return 0
  [ "${kiroku_st#* }" = "$kiroku_ticks" ]
}
kiroku_read_pid() {
  read kiroku_pid kiroku_ticks kiroku_boot < pid || { echo "kiroku: no pid recorded in $PWD" >&2; exit 3; }
}
"#;

/// A launched job: where it is and what was pulled of it.
#[derive(Debug, Clone)]
struct Launched {
    /// `<workdir>/.kiroku/jobs/<run_id>` as the host's shell reads it.
    job_dir: String,
    pid: u32,
    output_offset: u64,
    metrics_offset: u64,
    cancelled: bool,
    /// When a cancelled job's runner was first seen gone without an `exit_code`: the watcher
    /// that killed it writes 137 a moment later, which is waited for (`CANCEL_CODE_WAIT`).
    gone_since: Option<std::time::Instant>,
}

/// How long a cancelled job whose runner is gone waits for the watcher's exit code.
const CANCEL_CODE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A target's workdir as a shell word: `~/…` is the remote home; a relative one is under the
/// remote home (where `ssh` starts), written `./…` so it never reads as an option.
pub fn workdir_word(workdir: &str) -> Result<String> {
    if workdir.starts_with('/') || workdir == "~" || workdir.starts_with("~/") {
        quote_path(workdir)
    } else {
        quote(&format!("./{workdir}"))
    }
}

/// Runs jobs of one ssh target.
pub struct SshBackend {
    target: String,
    ssh: Ssh,
    workdir: String,
    setup: Option<String>,
    launched: Option<Launched>,
}

impl SshBackend {
    /// The backend for an ssh `target`; errors naming the target when `host` or `workdir` is
    /// missing or unusable.
    pub fn new(target: &Target) -> Result<SshBackend> {
        let config = &target.config;
        if config.kind != TargetKind::Ssh {
            return Err(KirokuError::Invalid(format!(
                "target '{}' is not an ssh target",
                target.name
            )));
        }
        let missing = |key: &str| {
            KirokuError::Invalid(format!(
                "target '{}': ssh targets need `{key}` in [targets.{}]",
                target.name, target.name
            ))
        };
        let host = config.host.as_deref().ok_or_else(|| missing("host"))?;
        let workdir = config
            .workdir
            .clone()
            .filter(|w| !w.is_empty())
            .ok_or_else(|| missing("workdir"))?;
        let ssh = Ssh::new(host, &config.ssh_options)
            .map_err(|e| KirokuError::Invalid(format!("target '{}': {e}", target.name)))?;
        Ok(SshBackend {
            target: target.name.clone(),
            ssh,
            workdir,
            setup: config.setup.clone().filter(|s| !s.trim().is_empty()),
            launched: None,
        })
    }

    fn workdir_word(&self) -> Result<String> {
        workdir_word(&self.workdir)
    }

    fn launched(&self) -> Result<&Launched> {
        self.launched.as_ref().ok_or_else(|| {
            KirokuError::Invalid(format!(
                "target '{}': the job was not launched yet",
                self.target
            ))
        })
    }

    /// Runs a host-side script; an error (naming the target, the host and the script's own
    /// message) when it fails.
    fn run_script(&self, what: &str, script: &str) -> Result<Vec<u8>> {
        let out = self
            .ssh
            .run(script)
            .map_err(|e| KirokuError::Invalid(format!("target '{}': {e}", self.target)))?;
        if !out.success() {
            return Err(KirokuError::Invalid(format!(
                "target '{}': {what} on '{}' failed (exit {}): {}",
                self.target,
                self.ssh.host(),
                out.code.map_or("?".into(), |c| c.to_string()),
                out.stderr_line()
            )));
        }
        Ok(out.stdout)
    }

    /// The script that sets up the job folder and starts the runner detached; it prints
    /// `KIROKU-LAUNCHED PID TICKS BOOT` once the runner recorded itself.
    fn launch_script(&self, job_dir: &str, runner: &str, token: Option<&str>) -> Result<String> {
        let workdir = self.workdir_word()?;
        // The secret in a here-document of the script ssh feeds to `sh -s` on its standard
        // input: on no command line, here or there.
        let token = match token {
            Some(secret) => format!(
                "(umask 077 && cat > token <<'KIROKU_JOB_TOKEN_END'\n{secret}\nKIROKU_JOB_TOKEN_END\n) || exit {SCRIPT_FAILED}\n"
            ),
            None => String::new(),
        };
        Ok(format!(
            r#"set -f
kiroku_workdir={workdir}
[ -d "$kiroku_workdir" ] || {{ echo "kiroku: the workdir $kiroku_workdir does not exist" >&2; exit {SCRIPT_FAILED}; }}
d={job_dir}
mkdir -p "$d" && cd "$d" || exit {SCRIPT_FAILED}
if [ -e pid ] || [ -e run.sh ]; then echo "kiroku: the job folder $PWD is in use already" >&2; exit {SCRIPT_FAILED}; fi
{token}printf '%s' {runner} > run.sh || exit {SCRIPT_FAILED}
if command -v bash >/dev/null 2>&1; then kiroku_sh=bash; else kiroku_sh=sh; fi
kiroku_syntax=$("$kiroku_sh" -n run.sh 2>&1) || {{ echo "kiroku: the target's setup line does not parse: $kiroku_syntax" >&2; exit {SCRIPT_FAILED}; }}
command -v setsid >/dev/null 2>&1 || {{ echo "kiroku: setsid (util-linux) is not installed on this host" >&2; exit {SCRIPT_FAILED}; }}
setsid -f "$kiroku_sh" run.sh > output.log 2>&1 < /dev/null || exit {SCRIPT_FAILED}
i=0
while [ ! -s pid ]; do
  i=$((i + 1))
  if [ $i -gt 300 ]; then
    echo "kiroku: the job did not start within 15 s: $(tail -c 500 output.log | tr '\n' ' ')" >&2
    exit {SCRIPT_FAILED}
  fi
  sleep 0.05
done
printf 'KIROKU-LAUNCHED %s\n' "$(cat pid)"
"#,
        ))
    }

    /// The runner: records itself, runs setup and the command in `workdir` with `env`, records
    /// the exit code. A TERM (cancel) is caught by the runner only, so it outlives the command
    /// to record its code.
    fn runner(
        &self,
        env: &[(String, String)],
        command: &[String],
        has_token: bool,
    ) -> Result<String> {
        let workdir = self.workdir_word()?;
        let mut exports = String::new();
        for (name, value) in env {
            if !is_variable_name(name) {
                return Err(KirokuError::Invalid(format!(
                    "environment variable name {name:?} is not a shell variable name"
                )));
            }
            exports.push_str(&format!(
                "export {name}={}\n",
                quote(value).map_err(|e| KirokuError::Invalid(format!(
                    "environment variable {name}: {e}"
                )),)?
            ));
        }
        let setup = match &self.setup {
            Some(setup) => format!(
                "{{ {setup}\n}} || {{ kiroku_rc=$?; echo \"kiroku: the target's setup failed (exit $kiroku_rc)\" >&2; kiroku_done $kiroku_rc; }}\n"
            ),
            None => String::new(),
        };
        if command.is_empty() {
            return Err(KirokuError::Invalid("the job has no command".into()));
        }
        let command = join(command)?;
        let (token, forget_token) = if has_token {
            (
                format!("export {TOKEN_FILE_VARIABLE}=\"$kiroku_dir/token\"\n"),
                "rm -f \"$kiroku_dir/token\"; ",
            )
        } else {
            (String::new(), "")
        };
        Ok(format!(
            r#"trap 'kiroku_term=1' TERM INT HUP
kiroku_s=$(cat /proc/$$/stat)
kiroku_r=${{kiroku_s##*\)}}
set -- $kiroku_r
printf '%s %s %s\n' "$$" "${{20}}" "$(cat /proc/sys/kernel/random/boot_id)" > pid.tmp && mv pid.tmp pid
set --
kiroku_done() {{ {forget_token}printf '%s\n' "$1" > "$kiroku_dir/exit_code.tmp" && mv "$kiroku_dir/exit_code.tmp" "$kiroku_dir/exit_code"; exit "$1"; }}
kiroku_dir=$(pwd)
cd {workdir} || kiroku_done 126
export KIROKU_METRICS_FILE="$kiroku_dir/metrics.jsonl"
{token}{exports}{setup}{command}
kiroku_done $?
"#
        ))
    }
}

/// Whether `name` can be exported by a POSIX shell.
fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The command's environment on the host: the supervisor's, less what names this box
/// (`KIROKU_METRICS_FILE` and a job token's file, which the runner points at the job folder; a
/// store path, which
/// means nothing there: a `http(s)://` store is kept), plus the booked GPUs when the
/// supervisor did not set them.
fn remote_env(spec: &LaunchSpec) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = spec
        .env
        .iter()
        .filter(|(name, value)| match name.as_str() {
            "KIROKU_METRICS_FILE" | TOKEN_FILE_VARIABLE => false,
            "KIROKU_STORE" => value.starts_with("http://") || value.starts_with("https://"),
            _ => true,
        })
        .cloned()
        .collect();
    let has = |env: &[(String, String)], name: &str| env.iter().any(|(n, _)| n == name);
    if !has(&env, "KIROKU_RUN_ID") {
        env.push(("KIROKU_RUN_ID".into(), spec.run_id.into()));
    }
    if !has(&env, "CUDA_VISIBLE_DEVICES") && spec.job.gpus > 0 {
        let gpus: Vec<String> = spec.job.assigned_gpus.iter().map(u32::to_string).collect();
        env.push(("CUDA_VISIBLE_DEVICES".into(), gpus.join(",")));
        env.push(("CUDA_DEVICE_ORDER".into(), "PCI_BUS_ID".into()));
    }
    env
}

/// A run id as a folder name: letters, digits, `-`, `_` and `.` (not `..`).
fn check_run_id(run_id: &str) -> Result<()> {
    let ok = !run_id.is_empty()
        && run_id != "."
        && run_id != ".."
        && run_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(KirokuError::Invalid(format!(
            "run id {run_id:?} cannot name a job folder"
        )))
    }
}

impl Backend for SshBackend {
    fn launch(&mut self, spec: &LaunchSpec) -> Result<String> {
        if self.launched.is_some() {
            return Err(KirokuError::Invalid(format!(
                "target '{}': this backend already launched a job",
                self.target
            )));
        }
        check_run_id(spec.run_id)?;
        let job_dir = format!(
            "{}/.kiroku/jobs/{}",
            self.workdir_word()?,
            quote(spec.run_id)?
        );
        let token = job_token::secret_of_job(&spec.env)?;
        let runner = self
            .runner(&remote_env(spec), &spec.job.command, token.is_some())
            .map_err(|e| KirokuError::Invalid(format!("job {}: {e}", spec.job.id)))?;
        let script = self.launch_script(&job_dir, &quote(&runner)?, token.as_deref())?;
        let stdout = self.run_script("starting the job", &script)?;
        let (pid, _ticks) = parse_launched(&stdout).ok_or_else(|| {
            KirokuError::Invalid(format!(
                "target '{}': starting the job on '{}' gave no pid: {:?}",
                self.target,
                self.ssh.host(),
                String::from_utf8_lossy(&stdout)
            ))
        })?;
        self.launched = Some(Launched {
            job_dir,
            pid,
            output_offset: 0,
            metrics_offset: 0,
            cancelled: false,
            gone_since: None,
        });
        Ok(format!("{pid}@{}", self.ssh.host()))
    }

    fn poll(&mut self) -> Result<Pulled> {
        let launched = self.launched()?;
        let script = format!(
            r#"set -f
{PROCESS_FUNCTIONS}
d={dir}
cd "$d" 2>/dev/null || {{ echo "kiroku: the job folder $d is gone" >&2; exit {SCRIPT_FAILED}; }}
kiroku_read_pid
if kiroku_alive; then kiroku_state=running
elif [ -f exit_code ]; then kiroku_state="ended $(cat exit_code)"
else kiroku_state=lost; fi
kiroku_section() {{
  kiroku_size=0
  [ -f "$2" ] && kiroku_size=$(wc -c < "$2")
  kiroku_size=$((kiroku_size))
  kiroku_n=$((kiroku_size - $3))
  [ $kiroku_n -lt 0 ] && kiroku_n=0
  [ $kiroku_n -gt {POLL_CHUNK} ] && kiroku_n={POLL_CHUNK}
  echo "$1 $kiroku_size $kiroku_n"
  [ $kiroku_n -gt 0 ] && tail -c +$(($3 + 1)) "$2" | head -c $kiroku_n
  echo
}}
echo "KIROKU-POLL 1"
echo "state $kiroku_state"
kiroku_section output output.log {output_offset}
kiroku_section metrics metrics.jsonl {metrics_offset}
echo KIROKU-END
"#,
            dir = launched.job_dir,
            output_offset = launched.output_offset,
            metrics_offset = launched.metrics_offset,
        );
        let stdout = self.run_script("checking the job", &script)?;
        let reply = parse_poll(&stdout).map_err(|why| {
            KirokuError::Invalid(format!(
                "target '{}': the reply from '{}' does not read: {why}",
                self.target,
                self.ssh.host()
            ))
        })?;
        let launched = self.launched.as_mut().expect("checked above");
        launched.output_offset += reply.output.bytes.len() as u64;
        launched.metrics_offset += reply.metrics.bytes.len() as u64;
        let drained = launched.output_offset >= reply.output.size
            && launched.metrics_offset >= reply.metrics.size;
        let state = match reply.state {
            // Everything the command wrote comes back before its end is told.
            HostState::Ended(_) | HostState::Lost if !drained => RemoteState::Running,
            HostState::Running => RemoteState::Running,
            HostState::Ended(code) => ended(code, launched.cancelled),
            HostState::Lost
                if launched.cancelled
                    && launched
                        .gone_since
                        .get_or_insert_with(std::time::Instant::now)
                        .elapsed()
                        < CANCEL_CODE_WAIT =>
            {
                RemoteState::Running
            }
            HostState::Lost if launched.cancelled => RemoteState::Ended {
                status: JobStatus::Killed,
                exit_code: None,
                reason: "killed".into(),
            },
            HostState::Lost => RemoteState::Ended {
                status: JobStatus::Lost,
                exit_code: None,
                reason: format!(
                    "its process (pid {}) on {} ended without an exit code",
                    launched.pid,
                    self.ssh.host()
                ),
            },
        };
        Ok(Pulled {
            output: reply.output.bytes,
            metrics: reply.metrics.bytes,
            state,
        })
    }

    fn cancel(&mut self, grace: Duration) -> Result<()> {
        let launched = self.launched()?;
        let watcher = format!(
            r#"set -f
{PROCESS_FUNCTIONS}
kiroku_pid=$1 kiroku_ticks=$2 kiroku_boot=$3
kiroku_end=$(($(date +%s) + $4))
while kiroku_not_reused && kill -0 "-$kiroku_pid" 2>/dev/null; do
  if [ "$(date +%s)" -ge $kiroku_end ]; then kill -KILL "-$kiroku_pid" 2>/dev/null; break; fi
  sleep 0.2
done
i=0
while kiroku_alive && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -f exit_code ] || {{ printf '{KILLED_EXIT}\n' > exit_code.tmp && mv exit_code.tmp exit_code; }}
"#
        );
        let script = format!(
            r#"set -f
{PROCESS_FUNCTIONS}
d={dir}
cd "$d" || exit {SCRIPT_FAILED}
kiroku_read_pid
if [ -f exit_code ]; then echo KIROKU-ENDED-ALREADY; exit 0; fi
kiroku_not_reused && kill -TERM "-$kiroku_pid" 2>/dev/null
setsid -f sh -c {watcher} kiroku-cancel "$kiroku_pid" "$kiroku_ticks" "$kiroku_boot" {grace} > /dev/null 2>&1 < /dev/null
exit 0
"#,
            dir = launched.job_dir,
            watcher = quote(&watcher)?,
            grace = grace.as_secs_f64().ceil() as u64,
        );
        let stdout = self.run_script("cancelling the job", &script)?;
        // A command that had ended by itself is not told as killed.
        let ended_already = find_line(&stdout, b"KIROKU-ENDED-ALREADY\n").is_some();
        if let Some(launched) = self.launched.as_mut() {
            launched.cancelled |= !ended_already;
        }
        Ok(())
    }

    fn poll_interval(&self) -> Duration {
        Duration::from_secs(1)
    }
}

/// How a job that ended with `code` is told: killed when it was cancelled, else finished on 0
/// and failed otherwise.
fn ended(code: Option<i32>, cancelled: bool) -> RemoteState {
    let reason = code.map_or("no readable exit code".into(), |c| format!("exit code {c}"));
    let status = match code {
        _ if cancelled => JobStatus::Killed,
        Some(0) => JobStatus::Finished,
        _ => JobStatus::Failed,
    };
    RemoteState::Ended {
        status,
        exit_code: code,
        reason,
    }
}

/// `KIROKU-LAUNCHED PID TICKS BOOT` from the launch script's output.
fn parse_launched(stdout: &[u8]) -> Option<(u32, u64)> {
    let text = String::from_utf8_lossy(stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("KIROKU-LAUNCHED "))?;
    let mut fields = line.split_whitespace();
    let pid = fields.next()?.parse().ok()?;
    let ticks = fields.next()?.parse().ok()?;
    Some((pid, ticks))
}

/// The state the host reported.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostState {
    Running,
    /// `exit_code` was there (`None`: it did not read as a number).
    Ended(Option<i32>),
    /// The runner is gone and left no `exit_code`.
    Lost,
}

/// One file's new bytes, and the file's whole size then.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Section {
    size: u64,
    bytes: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct PollReply {
    state: HostState,
    output: Section,
    metrics: Section,
}

const POLL_MARK: &[u8] = b"KIROKU-POLL 1\n";

/// Reads the poll script's reply: after the `KIROKU-POLL 1` line (anything a login script
/// printed before it is skipped), `state …`, then per file `NAME SIZE COUNT`, COUNT raw bytes
/// and a newline, then `KIROKU-END`.
fn parse_poll(stdout: &[u8]) -> std::result::Result<PollReply, String> {
    let start = find_line(stdout, POLL_MARK).ok_or("no KIROKU-POLL line")?;
    let mut rest = &stdout[start + POLL_MARK.len()..];
    let state_line = take_line(&mut rest)?;
    let state = match state_line.strip_prefix("state ") {
        Some("running") => HostState::Running,
        Some("lost") => HostState::Lost,
        Some(s) if s.starts_with("ended") => {
            HostState::Ended(s["ended".len()..].trim().parse().ok())
        }
        _ => return Err(format!("unexpected state line {state_line:?}")),
    };
    let output = take_section(&mut rest, "output")?;
    let metrics = take_section(&mut rest, "metrics")?;
    let end = take_line(&mut rest)?;
    if end != "KIROKU-END" {
        return Err(format!("expected KIROKU-END, found {end:?}"));
    }
    Ok(PollReply {
        state,
        output,
        metrics,
    })
}

/// Where `mark` starts a line of `bytes`.
fn find_line(bytes: &[u8], mark: &[u8]) -> Option<usize> {
    (0..bytes.len().saturating_sub(mark.len() - 1))
        .find(|&i| bytes[i..].starts_with(mark) && (i == 0 || bytes[i - 1] == b'\n'))
}

fn take_line(rest: &mut &[u8]) -> std::result::Result<String, String> {
    let end = rest
        .iter()
        .position(|b| *b == b'\n')
        .ok_or("the reply ends early")?;
    let line = String::from_utf8_lossy(&rest[..end]).into_owned();
    *rest = &rest[end + 1..];
    Ok(line)
}

fn take_section(rest: &mut &[u8], name: &str) -> std::result::Result<Section, String> {
    let header = take_line(rest)?;
    let fields: Vec<&str> = header.split(' ').collect();
    let (size, count) = match fields.as_slice() {
        [n, size, count] if *n == name => (
            size.parse::<u64>()
                .map_err(|_| format!("bad size in {header:?}"))?,
            count
                .parse::<usize>()
                .map_err(|_| format!("bad count in {header:?}"))?,
        ),
        _ => return Err(format!("expected the {name} section, found {header:?}")),
    };
    if rest.len() < count + 1 || rest[count] != b'\n' {
        return Err(format!(
            "the {name} section is shorter than its {count} bytes"
        ));
    }
    let bytes = rest[..count].to_vec();
    *rest = &rest[count + 1..];
    Ok(Section { size, bytes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poll_reply_with_any_bytes_reads_back() {
        let nasty = b"KIROKU-END\nstate lost\n\0\xff\nmetrics 1 1\n";
        let mut reply = b"motd noise\nKIROKU-POLL 1\nstate ended 3\n".to_vec();
        reply.extend(format!("output 100 {}\n", nasty.len()).as_bytes());
        reply.extend(nasty);
        reply.extend(b"\nmetrics 7 0\n\nKIROKU-END\n");
        let parsed = parse_poll(&reply).unwrap();
        assert_eq!(parsed.state, HostState::Ended(Some(3)));
        assert_eq!(parsed.output.bytes, nasty);
        assert_eq!(parsed.output.size, 100);
        assert_eq!(parsed.metrics.bytes, b"");
        assert_eq!(parsed.metrics.size, 7);
    }

    #[test]
    fn a_cut_reply_is_an_error_not_a_guess() {
        let reply = b"KIROKU-POLL 1\nstate running\noutput 10 10\nabc";
        let err = parse_poll(reply).unwrap_err();
        assert!(err.contains("shorter"), "{err}");
        assert!(parse_poll(b"nothing here").is_err());
    }

    #[test]
    fn endings_map_to_statuses() {
        let status = |s: RemoteState| match s {
            RemoteState::Ended { status, .. } => status,
            other => panic!("{other:?}"),
        };
        assert_eq!(status(ended(Some(0), false)), JobStatus::Finished);
        assert_eq!(status(ended(Some(2), false)), JobStatus::Failed);
        assert_eq!(status(ended(Some(143), true)), JobStatus::Killed);
    }

    #[test]
    fn variable_names_are_checked() {
        assert!(is_variable_name("CUDA_VISIBLE_DEVICES"));
        assert!(is_variable_name("_x1"));
        assert!(!is_variable_name("1x"));
        assert!(!is_variable_name("A-B"));
        assert!(!is_variable_name("A;rm"));
        assert!(check_run_id("../x").is_err());
        assert!(check_run_id("r-12ab").is_ok());
    }
}
