//! Submitting a job: check it against its target, queue it, make sure this host's scheduler
//! runs, and return at once. Also what a submission is made of elsewhere: a time limit as
//! people write it (`--time`), and a retry's copy of an ended job.
use super::scheduler;
use super::submit_channel;
use super::targets;
use crate::config::{Config, TargetKind};
use crate::error::{KirokuError, Result};
use crate::model::{Job, NewJob};
use crate::store::Store;
use std::borrow::Borrow;

/// Queues `new` (its `target` already resolved by `targets::resolve`) and makes sure a
/// scheduler acts on it; `store_location` is how a spawned scheduler finds the store.
///
/// Handed to this host's running scheduler when it takes submissions (`submit_channel`: the
/// cheap way, without opening the store here); else queued through the store, which
/// `open_store` opens only then, and a scheduler started when none runs.
///
/// Refused: an unknown target, a local job asking for more GPUs than the target has, an
/// `after` naming no job.
pub fn submit<'a, S: Borrow<dyn Store + 'a>>(
    open_store: impl FnOnce() -> Result<S>,
    config: &Config,
    store_location: &str,
    new: &NewJob,
) -> Result<Job> {
    if let Some(job) = submit_channel::submit_via_scheduler(store_location, new)? {
        return Ok(job);
    }
    let store = open_store()?;
    let job = queue(store.borrow(), config, new)?;
    scheduler::ensure_running(store.borrow(), store_location)?;
    Ok(job)
}

/// Checks `new` and queues it (what the scheduler does with a submission it is handed).
pub fn queue(store: &dyn Store, config: &Config, new: &NewJob) -> Result<Job> {
    validate(store, config, new)?;
    store.submit_job(new)
}

/// Refuses what cannot be queued (see `submit`).
pub fn validate(store: &dyn Store, config: &Config, new: &NewJob) -> Result<()> {
    if new.command.is_empty() {
        return Err(KirokuError::Invalid("a job needs a command".into()));
    }
    let target = targets::resolve(config, Some(&new.target))?;
    if target.config.kind == TargetKind::Local && new.gpus > 0 {
        let gpus = scheduler::local_gpu_slots(target.config.gpus.as_ref(), config, &[])?;
        if new.gpus as usize > gpus.len() {
            return Err(KirokuError::Invalid(format!(
                "the job asks for {} GPU{}, but target '{}' has {}",
                new.gpus,
                if new.gpus == 1 { "" } else { "s" },
                target.name,
                gpus.len()
            )));
        }
    }
    for &parent in &new.after {
        match store.job(parent) {
            Ok(_) => {}
            Err(KirokuError::NotFound(_)) => {
                return Err(KirokuError::NotFound(format!(
                    "--after {parent}: there is no job {parent}"
                )))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A new job like `job` (same command, target, resources, params, dependencies), linked to it
/// as its retry, by `user` from `host`.
pub fn retry_of(job: &Job, user: &str, host: &str) -> NewJob {
    NewJob {
        name: Some(job.name.clone()),
        experiment: job.experiment.clone(),
        target: job.target.clone(),
        command: job.command.clone(),
        workdir: job.workdir.clone(),
        env: job.env.clone(),
        gpus: job.gpus,
        gpu_memory_mb: job.gpu_memory_mb,
        after: job.after.clone(),
        params: job.params.clone(),
        tags: job.tags.clone(),
        rerun_of: job.rerun_of.clone(),
        retry_of: Some(job.id),
        time_limit_s: job.time_limit_s,
        user: user.into(),
        host: host.into(),
    }
}

/// A time limit in seconds from what people (and Slurm) write: `90` (minutes, as Slurm reads
/// a bare number), `30s`, `45m`, `2h`, `1d`, `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM`,
/// `D-HH:MM:SS`.
pub fn parse_time_limit(text: &str) -> Result<u64> {
    let bad = || {
        KirokuError::Invalid(format!(
            "--time '{text}': expected minutes (90), a unit (30s, 45m, 2h, 1d), \
             MM:SS, HH:MM:SS or D-HH:MM:SS"
        ))
    };
    let t = text.trim();
    let number = |s: &str| s.parse::<u64>().map_err(|_| bad());
    let seconds = if let Some((unit_at, unit)) = t
        .char_indices()
        .last()
        .filter(|(_, c)| c.is_ascii_alphabetic())
    {
        let n = number(&t[..unit_at])?;
        match unit {
            's' => n,
            'm' => n * 60,
            'h' => n * 3600,
            'd' => n * 86_400,
            _ => return Err(bad()),
        }
    } else {
        let (days, rest) = match t.split_once('-') {
            Some((d, rest)) => (Some(number(d)?), rest),
            None => (None, t),
        };
        let parts = rest.split(':').map(number).collect::<Result<Vec<u64>>>()?;
        match (days, parts.as_slice()) {
            (None, [m]) => m * 60,
            (None, [m, s]) => m * 60 + s,
            (None, [h, m, s]) => h * 3600 + m * 60 + s,
            (Some(d), [h]) => d * 86_400 + h * 3600,
            (Some(d), [h, m]) => d * 86_400 + h * 3600 + m * 60,
            (Some(d), [h, m, s]) => d * 86_400 + h * 3600 + m * 60 + s,
            _ => return Err(bad()),
        }
    };
    if seconds == 0 {
        return Err(KirokuError::Invalid(format!(
            "--time '{text}': must be more than 0"
        )));
    }
    Ok(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_limits_read_like_slurm_and_with_units() {
        for (text, seconds) in [
            ("90", 5400),
            ("30s", 30),
            ("45m", 2700),
            ("2h", 7200),
            ("1d", 86_400),
            ("5:30", 330),
            ("1:02:03", 3723),
            ("1-2", 93_600),
            ("1-02:30", 95_400),
            ("2-00:00:10", 172_810),
        ] {
            assert_eq!(parse_time_limit(text).unwrap(), seconds, "{text}");
        }
        for bad in ["", "x", "1:2:3:4", "5w", "-3", "0", "1-", "h"] {
            let e = parse_time_limit(bad).unwrap_err().to_string();
            assert!(e.contains("--time"), "{bad}: {e}");
        }
    }
}
