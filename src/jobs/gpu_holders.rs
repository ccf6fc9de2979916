//! Who holds each GPU of this box, as the Jobs screen's GPU panel and `kiroku jobs gpus` show
//! it: the kiroku jobs booked on it (active jobs of this host on a local target whose
//! `assigned_gpus` name it), else "other process" when discovery saw compute processes on it,
//! else free. And the GPUs a local target lists (`gpus = [0, 1]`) that discovery did not find,
//! which are shown too: a fake or hidden inventory is still booked.
use super::gpus::GpuInfo;
use crate::config::{Config, GpuSpec, TargetKind};
use crate::model::Job;

/// Whether jobs on `target` run on this box: a local target of `config`, or the built-in
/// `local` one.
pub fn is_local_target(config: &Config, target: &str) -> bool {
    super::targets::kind_of(config, target) == Some(TargetKind::Local)
}

/// The active kiroku jobs of `host` booked on its GPU `index`, in the order of `jobs` (more
/// than one only when they share it within declared memory budgets).
pub fn jobs_on<'a>(jobs: &'a [Job], config: &Config, host: &str, index: u32) -> Vec<&'a Job> {
    jobs.iter()
        .filter(|j| {
            j.status.is_active()
                && j.host == host
                && is_local_target(config, &j.target)
                && j.assigned_gpus.contains(&index)
        })
        .collect()
}

/// Who holds a GPU, in a word or two.
#[derive(Debug, Clone)]
pub enum Holder<'a> {
    /// Booked by these kiroku jobs.
    Jobs(Vec<&'a Job>),
    /// No kiroku job, but the driver reports compute processes on it.
    OtherProcess,
    Free,
}

impl Holder<'_> {
    /// `job 3 alice` (the first job), `other process`, `free`.
    pub fn label(&self) -> String {
        match self {
            Holder::Jobs(jobs) => match jobs.as_slice() {
                [job] => format!("job {} {}", job.id, job.user),
                [job, rest @ ..] => format!("job {} {} +{}", job.id, job.user, rest.len()),
                [] => "free".into(),
            },
            Holder::OtherProcess => "other process".into(),
            Holder::Free => "free".into(),
        }
    }
}

/// Who holds GPU `index` of `host`, as discovery found it (`gpu`, None for a listed GPU it did
/// not find).
pub fn holder<'a>(
    jobs: &'a [Job],
    config: &Config,
    host: &str,
    index: u32,
    gpu: Option<&GpuInfo>,
) -> Holder<'a> {
    let booked = jobs_on(jobs, config, host, index);
    if !booked.is_empty() {
        Holder::Jobs(booked)
    } else if gpu.is_some_and(|g| !g.processes.is_empty()) {
        Holder::OtherProcess
    } else {
        Holder::Free
    }
}

/// GPU indexes local targets list (`gpus = [0, 1]`) that discovery did not find (`found`),
/// ascending.
pub fn listed_not_found(config: &Config, found: &[GpuInfo]) -> Vec<u32> {
    let mut listed: Vec<u32> = config
        .targets
        .values()
        .filter(|t| t.kind == TargetKind::Local)
        .filter_map(|t| match &t.gpus {
            Some(GpuSpec::List(indexes)) => Some(indexes.clone()),
            _ => None,
        })
        .flatten()
        .filter(|i| !found.iter().any(|g| g.index == *i))
        .collect();
    listed.sort_unstable();
    listed.dedup();
    listed
}
