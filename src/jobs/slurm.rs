//! Slurm targets (`kind = "slurm"`): a job becomes one Slurm batch job.
//!
//! `launch` writes a batch script into the job's folder (`script`) and submits it with
//! `sbatch --parsable`; the handle is the Slurm job id. `poll` reads the new bytes of the job's
//! output file and asks Slurm for its state: `squeue -t all` in a pipe-separated format (the
//! same on every version), then `scontrol show job -o` for the exit code once it ended. A job
//! Slurm no longer lists (finished longer than `MinJobAge` ago) is looked up in `sacct` (where
//! accounting exists), the `jobcomp/filetxt` log, then the exit status the script left in the
//! job's folder; the mapping of states is `state`. `cancel` runs `scancel` and checks the job is
//! known (`scancel` exits 0 for ids it does not know); Slurm sends SIGTERM, then SIGKILL after
//! its own `KillWait`.
//!
//! With `ssh_host`, the commands run on that login node through `ssh` (`runner`), the job's
//! files live in `~/.kiroku/slurm/RUN_ID` there, and its output and metrics file are pulled
//! back through ssh; `workdir` must exist on the cluster (a shared home, as clusters have).
//! Without it, the Slurm tools run here and the job writes its output and metrics straight into
//! the run's folder (a filesystem this box shares with the compute nodes). A job given a token
//! to log back with (`models::job_tokens`) finds it in `token` (mode 0600) among those files,
//! written there before `sbatch` (through ssh's standard input for a login node) and removed
//! by the batch script as the command returns; the script only names the file.
mod runner;
pub mod script;
pub mod state;

use crate::error::{KirokuError, Result};
use crate::jobs::backend::{Backend, LaunchSpec, Pulled, RemoteState};
use crate::jobs::job_token::{self, TOKEN_FILE_VARIABLE};
use crate::jobs::remote_shell::Ssh;
use crate::jobs::targets::Target;
use crate::model::JobStatus;
use runner::Runner;
use script::{BatchOptions, JobFiles};
use state::SlurmJobState;
use std::time::{Duration, Instant};

/// The most bytes of output (or metrics) one `poll` pulls while the job runs; the rest comes
/// with the next polls (all of it once the job ended).
const PULL_CHUNK: u64 = 4 << 20;

/// A Slurm target's settings, checked, and the job it launched.
pub struct SlurmBackend {
    target: String,
    partition: Option<String>,
    account: Option<String>,
    qos: Option<String>,
    time: Option<String>,
    runner: Runner,
    launched: Option<Launched>,
}

/// The Slurm job this backend submitted.
struct Launched {
    id: String,
    files: JobFiles,
    output_offset: u64,
    metrics_offset: u64,
    at: Instant,
}

impl SlurmBackend {
    /// The backend for a `kind = "slurm"` target; values an `#SBATCH` line cannot hold are
    /// errors naming the target and key.
    pub fn new(target: &Target) -> Result<SlurmBackend> {
        let config = &target.config;
        let checked = |key: &str, value: &Option<String>| -> Result<Option<String>> {
            if let Some(v) = value {
                if v.is_empty() || v.contains(|c: char| c.is_whitespace() || c.is_control()) {
                    return Err(KirokuError::Invalid(format!(
                        "target '{}': {key} = '{}' is not a Slurm {key} (empty, or holds spaces or control characters)",
                        target.name,
                        v.escape_debug()
                    )));
                }
            }
            Ok(value.clone())
        };
        Ok(SlurmBackend {
            target: target.name.clone(),
            partition: checked("partition", &config.partition)?,
            account: checked("account", &config.account)?,
            qos: checked("qos", &config.qos)?,
            time: checked("time", &config.time)?,
            runner: match &config.ssh_host {
                Some(host) => {
                    Runner::Ssh(Ssh::new(host, &config.ssh_options).map_err(|e| {
                        KirokuError::Invalid(format!("target '{}': {e}", target.name))
                    })?)
                }
                None => Runner::Local,
            },
            launched: None,
        })
    }

    fn launched(&self) -> Result<&Launched> {
        self.launched.as_ref().ok_or_else(|| {
            KirokuError::Invalid(format!(
                "target '{}': no Slurm job launched yet",
                self.target
            ))
        })
    }

    /// Where the job's files go: the run's folder here, or `~/.kiroku/slurm/RUN_ID` on the
    /// login node.
    fn job_files(&self, spec: &LaunchSpec) -> Result<JobFiles> {
        let dir = match &self.runner {
            Runner::Local => {
                let dir = std::fs::canonicalize(spec.run_dir).map_err(|e| {
                    KirokuError::io(format!("run folder {}", spec.run_dir.display()), e)
                })?;
                dir.to_str()
                    .ok_or_else(|| {
                        KirokuError::Invalid(format!(
                            "run folder {} is not UTF-8, which #SBATCH lines need",
                            dir.display()
                        ))
                    })?
                    .to_string()
            }
            Runner::Ssh(_) => {
                let made =
                    "d=\"$HOME/.kiroku/slurm/$1\" && mkdir -p -- \"$d\" && cd -- \"$d\" && pwd -P";
                let out = self
                    .runner
                    .run_ok(&["sh", "-c", made, "sh", spec.run_id], None)?;
                out.trim_end_matches('\n').to_string()
            }
        };
        Ok(JobFiles::in_dir(&dir))
    }

    /// The job's state from Slurm, or from what it left behind when Slurm forgot it.
    fn query_state(&self, job: &Launched) -> Result<RemoteState> {
        let id = job.id.as_str();
        let squeue = ["squeue", "-h", "-t", "all", "-j", id, "-o", "%i|%T|%r"];
        let out = self.runner.run(&squeue, None)?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        let listed = if out.success {
            state::parse_squeue(&String::from_utf8_lossy(&out.stdout), id)
        } else if stderr.contains("Invalid job id") {
            None
        } else {
            return Err(KirokuError::Invalid(format!(
                "{} failed ({}): {}",
                self.runner.describe(&squeue),
                out.status,
                stderr.trim()
            )));
        };
        let found = match listed {
            Some(row) if !state::is_terminal(&row.state) => row,
            // Ended: scontrol has the exit code (and the same reason).
            Some(row) => self.scontrol(id).unwrap_or(row),
            None => match self.forgotten(job)? {
                Some(found) => found,
                None => {
                    return Ok(RemoteState::Ended {
                        status: JobStatus::Lost,
                        exit_code: None,
                        reason: format!(
                            "Slurm no longer knows job {id} (not in squeue, sacct or the job completion log) and it left no exit status"
                        ),
                    })
                }
            },
        };
        Ok(state::map_state(&found))
    }

    fn scontrol(&self, id: &str) -> Option<SlurmJobState> {
        let out = self
            .runner
            .run_ok(&["scontrol", "show", "job", "-o", id], None)
            .ok()?;
        out.lines().find_map(state::parse_key_values)
    }

    /// A job `squeue` no longer lists: accounting, the completion log, the exit status file.
    fn forgotten(&self, job: &Launched) -> Result<Option<SlurmJobState>> {
        let id = job.id.as_str();
        if let Some(found) = self.scontrol(id) {
            return Ok(Some(found));
        }
        let sacct = [
            "sacct",
            "-X",
            "-n",
            "-P",
            "-j",
            id,
            "-o",
            "JobID,State,ExitCode",
            "-S",
            "now-60days",
        ];
        if let Ok(out) = self.runner.run_ok(&sacct, None) {
            if let Some(found) = state::parse_sacct(&out, id) {
                return Ok(Some(found));
            }
        }
        if let Some(found) = self.jobcomp(id) {
            return Ok(Some(found));
        }
        let status = self.runner.read_from(&job.files.exit_status, 0, 64)?;
        Ok(String::from_utf8_lossy(&status)
            .trim()
            .parse::<i32>()
            .ok()
            .map(|code| SlurmJobState {
                state: if code == 0 { "COMPLETED" } else { "FAILED" }.into(),
                reason: "None".into(),
                exit: Some(state::SlurmExit { code, signal: 0 }),
            }))
    }

    /// The job's line in a `jobcomp/filetxt` log, when the cluster keeps one readable here.
    fn jobcomp(&self, id: &str) -> Option<SlurmJobState> {
        let config = self
            .runner
            .run_ok(&["scontrol", "show", "config"], None)
            .ok()?;
        let setting = |key: &str| {
            config.lines().find_map(|line| {
                let (k, v) = line.split_once('=')?;
                (k.trim() == key).then(|| v.trim().to_string())
            })
        };
        if setting("JobCompType")? != "jobcomp/filetxt" {
            return None;
        }
        let log = setting("JobCompLoc")?;
        let pattern = format!("^JobId={id} ");
        let lines = self
            .runner
            .run_ok(&["grep", "-a", "--", &pattern, &log], None)
            .ok()?;
        state::parse_jobcomp(&lines, id)
    }

    /// New bytes of `path` from `offset` on: one chunk while the job runs, all once it ended.
    fn pull(&self, path: &str, offset: &mut u64, all: bool) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        loop {
            let chunk = self.runner.read_from(path, *offset, PULL_CHUNK)?;
            *offset += chunk.len() as u64;
            let more = chunk.len() as u64 == PULL_CHUNK;
            bytes.extend(chunk);
            if !(all && more) {
                return Ok(bytes);
            }
        }
    }
}

impl Backend for SlurmBackend {
    fn launch(&mut self, spec: &LaunchSpec) -> Result<String> {
        let files = self.job_files(spec)?;
        let job = spec.job;
        let options = BatchOptions {
            job_name: job.name.clone(),
            workdir: job.workdir.clone(),
            gpus: job.gpus,
            time: job
                .time_limit_s
                .map(script::slurm_duration)
                .or_else(|| self.time.clone()),
            partition: self.partition.clone(),
            account: self.account.clone(),
            qos: self.qos.clone(),
        };
        // Slurm gives the job its GPUs in CUDA_VISIBLE_DEVICES; the metrics file is the job's.
        // A job's token, from its file here to a private one beside the job's other files.
        let token = job_token::secret_of_job(&spec.env)?;
        let mut env: Vec<(String, String)> = spec
            .env
            .iter()
            .filter(|(name, _)| {
                ![
                    "CUDA_VISIBLE_DEVICES",
                    "KIROKU_METRICS_FILE",
                    TOKEN_FILE_VARIABLE,
                ]
                .contains(&name.as_str())
            })
            .cloned()
            .collect();
        env.push(("KIROKU_METRICS_FILE".into(), files.metrics.clone()));
        if let Some(secret) = &token {
            self.runner
                .write_private_file(&files.dir, &files.token, secret.as_bytes())?;
            env.push((TOKEN_FILE_VARIABLE.into(), files.token.clone()));
        }
        let text = script::batch_script(&options, &files, &env, &job.command)
            .map_err(|e| KirokuError::Invalid(format!("target '{}': {e}", self.target)))?;
        self.runner
            .write_file(&files.dir, &files.script, text.as_bytes())?;
        let submitted = self
            .runner
            .run_ok(&["sbatch", "--parsable", &files.script], None)?;
        // `ID` or `ID;cluster`.
        let id = submitted.trim().split(';').next().unwrap_or("").to_string();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(KirokuError::Invalid(format!(
                "sbatch --parsable printed '{}', not a job id",
                submitted.trim().escape_debug()
            )));
        }
        self.launched = Some(Launched {
            id: id.clone(),
            files,
            output_offset: 0,
            metrics_offset: 0,
            at: Instant::now(),
        });
        Ok(id)
    }

    fn poll(&mut self) -> Result<Pulled> {
        let job = self.launched()?;
        // The state first: once it says ended, the files are complete.
        // A controller that does not answer (restarting, a login node's link down) is an
        // error; the supervisor keeps polling and decides how long that may last.
        let state = self.query_state(job)?;
        let ended = matches!(state, RemoteState::Ended { .. });
        let (mut output_offset, mut metrics_offset) = (job.output_offset, job.metrics_offset);
        let output = self.pull(&job.files.output, &mut output_offset, ended)?;
        // A job on this box's filesystem writes the run's metrics file itself.
        let metrics = if self.runner.is_local() {
            Vec::new()
        } else {
            self.pull(&job.files.metrics, &mut metrics_offset, ended)?
        };
        let job = self.launched.as_mut().expect("checked above");
        job.output_offset = output_offset;
        job.metrics_offset = metrics_offset;
        Ok(Pulled {
            output,
            metrics,
            state,
        })
    }

    fn cancel(&mut self, _grace: Duration) -> Result<()> {
        let job = self.launched()?;
        // Slurm sends SIGTERM, then SIGKILL after the cluster's KillWait.
        self.runner.run_ok(&["scancel", &job.id], None)?;
        match self.query_state(job)? {
            RemoteState::Ended {
                status: JobStatus::Lost,
                reason,
                ..
            } => Err(KirokuError::NotFound(format!(
                "scancel {}: {reason}",
                job.id
            ))),
            _ => Ok(()),
        }
    }

    fn poll_interval(&self) -> Duration {
        // Quick while a job starts, then gentler on the controller (and the ssh link).
        let young = self
            .launched
            .as_ref()
            .is_some_and(|job| job.at.elapsed() < Duration::from_secs(60));
        match (&self.runner, young) {
            (Runner::Local, true) => Duration::from_secs(1),
            (Runner::Local, false) => Duration::from_secs(3),
            (Runner::Ssh(_), true) => Duration::from_secs(2),
            (Runner::Ssh(_), false) => Duration::from_secs(5),
        }
    }
}
