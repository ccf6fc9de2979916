//! What a submission would do, without queueing it: the target it goes to, whether it would
//! start at once and on which GPUs, or why it would wait (busy GPUs, a full target, a job it
//! runs after). The scheduler's own placement (`placement::place`) over the queue as it is now,
//! with the new job last in line. For an agent's "preview" before it submits (MCP).
use super::placement::{place, Decision, Queue};
use super::scheduler::capacity_of;
use super::{submit, targets};
use crate::config::{Config, TargetKind};
use crate::error::Result;
use crate::model::{Job, JobQuery, JobStatus, NewJob};
use crate::store::Store;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// The outcome of a preview.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubmitPreview {
    pub target: String,
    /// `local`, `ssh` or `slurm`.
    pub kind: String,
    /// Would start at once (when the scheduler next looks).
    pub starts_now: bool,
    /// The GPUs it would get, when it starts now on a local target.
    pub gpus: Vec<u32>,
    /// Why it would wait, or be cancelled.
    pub reason: Option<String>,
    /// Jobs queued before it on this host.
    pub queued_ahead: usize,
}

/// The job `new` would be while queued, with an id after every other.
fn as_queued(new: &NewJob, id: i64) -> Job {
    Job {
        id,
        name: new.name.clone().unwrap_or_default(),
        experiment: new.experiment.clone(),
        target: new.target.clone(),
        command: new.command.clone(),
        workdir: new.workdir.clone(),
        env: new.env.clone(),
        gpus: new.gpus,
        gpu_memory_mb: new.gpu_memory_mb,
        after: new.after.clone(),
        params: new.params.clone(),
        tags: new.tags.clone(),
        rerun_of: new.rerun_of.clone(),
        retry_of: new.retry_of,
        time_limit_s: new.time_limit_s,
        user: new.user.clone(),
        host: new.host.clone(),
        status: JobStatus::Queued,
        reason: String::new(),
        assigned_gpus: Vec::new(),
        run_id: None,
        queued_at: crate::model::now_ms(),
        started_at: None,
        ended_at: None,
        exit_code: None,
        supervisor: None,
        handle: None,
        cancel_requested: false,
    }
}

/// Checks `new` as `submit` would (refusing what `submit` refuses) and places it.
pub fn preview(store: &dyn Store, config: &Config, new: &NewJob) -> Result<SubmitPreview> {
    submit::validate(store, config, new)?;
    let target = targets::resolve(config, Some(&new.target))?;
    let jobs = store.jobs(&JobQuery {
        statuses: vec![JobStatus::Queued, JobStatus::Starting, JobStatus::Running],
        ..Default::default()
    })?;
    let running_here: Vec<Job> = jobs
        .iter()
        .filter(|j| j.status.is_active() && j.host == new.host)
        .cloned()
        .collect();
    let candidate = as_queued(new, jobs.iter().map(|j| j.id).max().unwrap_or(0) + 1);
    let mut queued: Vec<&Job> = jobs
        .iter()
        .filter(|j| j.status == JobStatus::Queued && j.host == new.host)
        .collect();
    let queued_ahead = queued.len();
    queued.push(&candidate);
    let mut capacities = BTreeMap::new();
    let mut kinds = HashMap::new();
    for job in &queued {
        if capacities.contains_key(&job.target) {
            continue;
        }
        if let Ok(t) = targets::resolve(config, Some(&job.target)) {
            kinds.insert(job.target.clone(), t.config.kind);
            capacities.insert(job.target.clone(), capacity_of(&t, config, &running_here)?);
        }
    }
    let active: Vec<&Job> = jobs
        .iter()
        .filter(|j| j.status.is_active())
        .filter(|j| match kinds.get(&j.target) {
            Some(TargetKind::Local) => j.host == new.host,
            Some(_) => true,
            None => false,
        })
        .collect();
    let mut parents = HashMap::new();
    for &parent in queued.iter().flat_map(|j| &j.after) {
        if let Ok(job) = store.job(parent) {
            parents.insert(parent, job.status);
        }
    }
    let decision = place(
        &Queue {
            queued,
            active,
            parents,
        },
        &capacities,
    )
    .into_iter()
    .find(|d| d.job() == candidate.id);
    let (starts_now, gpus, reason) = match decision {
        Some(Decision::Start { gpus, .. }) => (true, gpus, None),
        Some(Decision::Wait { reason, .. }) => (false, Vec::new(), Some(reason)),
        Some(Decision::Cancel { reason, .. }) => (false, Vec::new(), Some(reason)),
        None => (false, Vec::new(), Some("not placed".into())),
    };
    Ok(SubmitPreview {
        target: target.name,
        kind: format!("{:?}", target.config.kind).to_lowercase(),
        starts_now,
        gpus,
        reason,
        queued_ahead,
    })
}
