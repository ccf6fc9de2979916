//! Re-running a run's command with changed params (`kiroku rerun RUN --set k=v`, the TUI's
//! launch form): the `--k v` / `--k=v` flags of the recorded command are rewritten in place,
//! every other argument kept byte for byte; a param with no flag is appended as `--k v`.
//! Flags are read as `wrap::source::flag_params` reads them into params: up to a bare `--`,
//! a flag followed by another flag (or nothing) being a switch.

use crate::config::Config;
use crate::error::{KirokuError, Result};
use crate::model::{Job, JobId, NewJob};
use crate::store::Store;

/// What to rerun and how (`kiroku rerun`, MCP's `rerun_run`).
#[derive(Debug, Clone, Default)]
pub struct RerunRequest {
    /// The run's id (already resolved).
    pub run_id: String,
    pub sets: Vec<(String, String)>,
    /// The target (default: the original job's, else as `submit`).
    pub target: Option<String>,
    /// GPUs (default: the original job's, else none).
    pub gpus: Option<u32>,
    pub user: String,
    pub host: String,
    /// The folder to run in when the run recorded none and came from no job.
    pub fallback_workdir: String,
}

/// The job that reruns a run's recorded command with `sets` applied, and the keys that had no
/// flag and were appended. Refused for a run with no recorded command.
pub fn rerun_job(
    store: &dyn Store,
    config: &Config,
    request: &RerunRequest,
) -> Result<(NewJob, Vec<String>)> {
    let run_id = &request.run_id;
    let detail = store.run(run_id)?;
    if detail.source.command.is_empty() {
        return Err(KirokuError::Invalid(format!(
            "run {run_id} has no recorded command (only runs of `kiroku run` and of jobs can be rerun)"
        )));
    }
    let rewritten = rewrite_flags(&detail.source.command, &request.sets);
    // A run that came from a job reruns with that job's resources unless told otherwise.
    let origin: Option<Job> = detail
        .run
        .tags
        .get("kiroku.job")
        .and_then(|id| id.parse::<JobId>().ok())
        .and_then(|id| store.job(id).ok());
    let target_name = request
        .target
        .clone()
        .or_else(|| origin.as_ref().map(|j| j.target.clone()));
    let target = super::targets::resolve(config, target_name.as_deref())?;
    let workdir = match (&detail.source.cwd, &origin) {
        (Some(cwd), _) => cwd.clone(),
        (None, Some(job)) => job.workdir.clone(),
        (None, None) => request.fallback_workdir.clone(),
    };
    let new = NewJob {
        name: Some(detail.run.name.clone()),
        experiment: detail.run.experiment.clone(),
        target: target.name,
        command: rewritten.command,
        workdir,
        env: origin.as_ref().map(|j| j.env.clone()).unwrap_or_default(),
        gpus: request
            .gpus
            .or_else(|| origin.as_ref().map(|j| j.gpus))
            .unwrap_or(0),
        gpu_memory_mb: origin.as_ref().and_then(|j| j.gpu_memory_mb),
        after: Vec::new(),
        params: Vec::new(),
        tags: vec![("kiroku.rerun_of".into(), run_id.clone())],
        rerun_of: Some(run_id.clone()),
        retry_of: None,
        time_limit_s: origin.as_ref().and_then(|j| j.time_limit_s),
        user: request.user.clone(),
        host: request.host.clone(),
    };
    Ok((new, rewritten.appended))
}

/// A rewritten command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    pub command: Vec<String>,
    /// The keys that had no flag in the command and were appended as `--k v`.
    pub appended: Vec<String>,
}

/// Sets each `(key, value)` of `sets` in `command`'s flags (every occurrence of the flag).
pub fn rewrite_flags(command: &[String], sets: &[(String, String)]) -> Rewritten {
    let mut out = command.to_vec();
    let mut appended = Vec::new();
    for (key, value) in sets {
        let flag = format!("--{key}");
        let inline = format!("--{key}=");
        let mut found = false;
        let mut i = 0;
        // Flags end at a bare `--` (what follows is the program's positional arguments).
        let mut end = out.iter().position(|a| a == "--").unwrap_or(out.len());
        while i < end {
            if out[i].starts_with(&inline) {
                out[i] = format!("{inline}{value}");
                found = true;
            } else if out[i] == flag {
                found = true;
                match out.get(i + 1) {
                    Some(next) if i + 1 < end && !next.starts_with("--") => {
                        out[i + 1] = value.clone();
                    }
                    _ => {
                        // A switch: give it the value.
                        out.insert(i + 1, value.clone());
                        end += 1;
                    }
                }
                i += 1;
            }
            i += 1;
        }
        if !found {
            out.splice(end..end, [flag, value.clone()]);
            appended.push(key.clone());
        }
    }
    Rewritten {
        command: out,
        appended,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn set(k: &str, v: &str) -> (String, String) {
        (k.into(), v.into())
    }

    #[test]
    fn flags_are_rewritten_in_place_and_the_rest_kept_byte_for_byte() {
        let cmd = s(&[
            "python",
            "train.py",
            "--lr",
            "0.01",
            "--epochs=3",
            "a b 'c' $HOME",
            "--amp",
            "--seed",
            "-1",
        ]);
        let r = rewrite_flags(
            &cmd,
            &[
                set("lr", "0.1"),
                set("epochs", "10"),
                set("seed", "7"),
                set("amp", "false"),
            ],
        );
        assert_eq!(
            r.command,
            s(&[
                "python",
                "train.py",
                "--lr",
                "0.1",
                "--epochs=10",
                "a b 'c' $HOME",
                "--amp",
                "false",
                "--seed",
                "7"
            ])
        );
        assert!(r.appended.is_empty());
    }

    #[test]
    fn a_param_without_a_flag_is_appended_before_a_bare_double_dash() {
        let r = rewrite_flags(
            &s(&["run", "--lr", "1", "--", "--batch", "x"]),
            &[set("batch", "64"), set("lr", "2")],
        );
        assert_eq!(
            r.command,
            s(&["run", "--lr", "2", "--batch", "64", "--", "--batch", "x"])
        );
        assert_eq!(r.appended, vec!["batch".to_string()]);
        let r = rewrite_flags(&s(&["run"]), &[set("a", "")]);
        assert_eq!(r.command, s(&["run", "--a", ""]));
    }

    #[test]
    fn every_occurrence_and_prefix_lookalikes() {
        let r = rewrite_flags(
            &s(&["x", "--lr", "1", "--lr-decay", "0.5", "--lr=3"]),
            &[set("lr", "9")],
        );
        assert_eq!(
            r.command,
            s(&["x", "--lr", "9", "--lr-decay", "0.5", "--lr=9"])
        );
    }
}
