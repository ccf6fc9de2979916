//! Placement: which queued jobs start now, on which GPUs, and why the others wait. Pure: it
//! reads the jobs and the targets' capacities and returns decisions; the scheduler
//! (`super::scheduler`) carries them out against the store.
//!
//! # The rules
//!
//! - **Dependencies first.** A job runs `after` others only once every one of them `finished`.
//!   One that ended any other way (failed, killed, cancelled, timed out, lost) cancels it, with
//!   the first such parent as the reason (`job 41 failed`); while a parent has not ended, it
//!   waits (`after job 41`). Parents may be on any target.
//! - **Capacity per target.** `local`: at most `max_parallel` jobs at once and GPUs booked from
//!   the target's inventory; `ssh`: `max_parallel` slots (the remote box's GPUs are its own
//!   business); `slurm`: no limit here (Slurm queues; its GPUs are Slurm's business).
//! - **GPUs are exclusive** unless a job declares a memory budget (`gpu_memory_mb`): such jobs
//!   may share a GPU with other budgeted jobs as long as the budgets add up to no more than the
//!   GPU's memory (known from discovery; a GPU of unknown memory is never shared). A GPU seen
//!   busy with processes kiroku did not start is not available. Hence never more GPU jobs than
//!   GPUs, and never one GPU to two jobs unless all of them declared budgets that fit.
//!
//! # Fairness: FIFO with reservations (backfill that cannot starve)
//!
//! Jobs are taken in submit order. A job that is ready (its parents finished) but cannot start
//! for lack of resources **holds what it could use of what is free** (a free slot, free GPUs
//! it fits on) for the rest of the pass, and waits. Later jobs start only with what is left:
//! they may backfill resources no earlier job can use (a CPU-only job on a free slot while a
//! 2-GPU job waits for its second GPU still starts only if a slot remains after the hold), but
//! they never take a resource an earlier waiting job needs. The pass is recomputed from scratch
//! on every change, so whatever frees up goes to the earliest job that can use it: a job can
//! only move forward, and waits at most until the jobs before it (and the running ones) end.
//! A job that could never fit the target (more GPUs than it has, a budget larger than any GPU)
//! holds nothing and says so, so it does not block the queue behind it.
use crate::model::{Job, JobId, JobStatus};
use std::collections::{BTreeMap, HashMap};

/// One GPU of a local target as placement sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuSlot {
    /// The PCI-bus-order index (`CUDA_VISIBLE_DEVICES`).
    pub index: u32,
    /// Its memory in MiB, when known (needed for sharing).
    pub memory_mb: Option<u64>,
    /// False when processes kiroku did not start keep it busy (`gpus`' `busy_elsewhere`).
    pub available: bool,
}

/// What a target can hold at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capacity {
    /// A box whose GPUs kiroku books: `max_parallel` jobs, these GPUs.
    Local {
        max_parallel: u32,
        gpus: Vec<GpuSlot>,
    },
    /// A box over SSH: `max_parallel` jobs; its GPUs are not booked here.
    Slots { max_parallel: u32 },
    /// No limit here (Slurm queues the jobs itself).
    Unlimited,
}

/// What to do with one queued job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Start it on these GPUs (indexes; empty for none).
    Start { job: JobId, gpus: Vec<u32> },
    /// Leave it queued; `reason` says why.
    Wait { job: JobId, reason: String },
    /// Cancel it: a job it runs after did not succeed.
    Cancel { job: JobId, reason: String },
}

impl Decision {
    pub fn job(&self) -> JobId {
        match self {
            Decision::Start { job, .. }
            | Decision::Wait { job, .. }
            | Decision::Cancel { job, .. } => *job,
        }
    }
}

/// The jobs placement looks at.
#[derive(Debug, Clone, Default)]
pub struct Queue<'a> {
    /// Queued jobs, in submit order (ascending id; `place` sorts them anyway).
    pub queued: Vec<&'a Job>,
    /// Jobs holding resources (`starting`, `running`) on the targets of `capacities`: for a
    /// local target those of this host only (its GPUs are this box's); for ssh targets those
    /// of every host (the remote box's slots are shared by all who send jobs there).
    pub active: Vec<&'a Job>,
    /// The status of every job named in a queued job's `after` (missing: no such job).
    pub parents: HashMap<JobId, JobStatus>,
}

/// Decides, for every queued job in order, whether it starts (and on which GPUs), waits (and
/// why) or is cancelled (a parent did not succeed). See the module doc for the rules.
pub fn place(queue: &Queue, capacities: &BTreeMap<String, Capacity>) -> Vec<Decision> {
    let mut pools: BTreeMap<&str, Pool> = capacities
        .iter()
        .map(|(name, capacity)| (name.as_str(), Pool::new(capacity)))
        .collect();
    for job in &queue.active {
        if let Some(pool) = pools.get_mut(job.target.as_str()) {
            pool.book_active(job);
        }
    }
    let mut queued = queue.queued.clone();
    queued.sort_by_key(|j| j.id);
    queued
        .into_iter()
        .map(|job| decide(job, &queue.parents, &mut pools))
        .collect()
}

fn decide(
    job: &Job,
    parents: &HashMap<JobId, JobStatus>,
    pools: &mut BTreeMap<&str, Pool>,
) -> Decision {
    let waiting = |reason: String| Decision::Wait {
        job: job.id,
        reason,
    };
    match dependencies(job, parents) {
        Dependencies::Met => {}
        Dependencies::Pending(parent) => return waiting(format!("after job {parent}")),
        Dependencies::Broken(reason) => {
            return Decision::Cancel {
                job: job.id,
                reason,
            }
        }
    }
    let Some(pool) = pools.get_mut(job.target.as_str()) else {
        return waiting(format!("no target '{}' in kiroku.toml", job.target));
    };
    match pool.try_start(job) {
        Ok(gpus) => Decision::Start { job: job.id, gpus },
        Err(reason) => waiting(reason),
    }
}

enum Dependencies {
    Met,
    /// The first parent that has not ended yet.
    Pending(JobId),
    /// Why the job can never run: the first parent that ended other than `finished`.
    Broken(String),
}

fn dependencies(job: &Job, parents: &HashMap<JobId, JobStatus>) -> Dependencies {
    let mut pending = None;
    for &parent in &job.after {
        match parents.get(&parent) {
            None => return Dependencies::Broken(format!("job {parent} does not exist")),
            Some(JobStatus::Finished) => {}
            Some(status) if !status.is_terminal() => {
                pending.get_or_insert(parent);
            }
            Some(status) => {
                return Dependencies::Broken(format!("job {parent} {}", ended_how(*status)))
            }
        }
    }
    pending.map_or(Dependencies::Met, Dependencies::Pending)
}

/// How a job that did not succeed ended, as the end of `job 41 …`.
fn ended_how(status: JobStatus) -> &'static str {
    match status {
        JobStatus::Failed => "failed",
        JobStatus::Killed => "was killed",
        JobStatus::Cancelled => "was cancelled",
        JobStatus::Timeout => "timed out",
        JobStatus::Lost => "was lost",
        _ => "did not finish",
    }
}

/// How one GPU is used during a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GpuUse {
    Free,
    /// Held for one job alone.
    Exclusive,
    /// Shared by budgeted jobs using this many MiB together.
    Shared(u64),
    /// Held for an earlier waiting job during this pass.
    Held,
    /// Busy with processes kiroku did not start.
    Unavailable,
}

struct PoolGpu {
    index: u32,
    memory_mb: Option<u64>,
    state: GpuUse,
}

/// A target's resources during one pass.
struct Pool {
    /// None: no limit.
    max_parallel: Option<u32>,
    running: u32,
    /// Slots held for earlier waiting jobs.
    held_slots: u32,
    gpus: Vec<PoolGpu>,
    books_gpus: bool,
    /// The first waiting job holding resources here (for `behind job N`).
    first_holder: Option<JobId>,
}

impl Pool {
    fn new(capacity: &Capacity) -> Pool {
        let (max_parallel, gpus, books_gpus) = match capacity {
            Capacity::Local { max_parallel, gpus } => (Some(*max_parallel), gpus.as_slice(), true),
            Capacity::Slots { max_parallel } => (Some(*max_parallel), &[][..], false),
            Capacity::Unlimited => (None, &[][..], false),
        };
        let mut gpus: Vec<PoolGpu> = gpus
            .iter()
            .map(|g| PoolGpu {
                index: g.index,
                memory_mb: g.memory_mb,
                state: if g.available {
                    GpuUse::Free
                } else {
                    GpuUse::Unavailable
                },
            })
            .collect();
        gpus.sort_by_key(|g| g.index);
        gpus.dedup_by_key(|g| g.index);
        Pool {
            max_parallel,
            running: 0,
            held_slots: 0,
            gpus,
            books_gpus,
            first_holder: None,
        }
    }

    /// Counts a starting or running job and its booked GPUs.
    fn book_active(&mut self, job: &Job) {
        self.running += 1;
        if !self.books_gpus {
            return;
        }
        for &index in &job.assigned_gpus {
            let Some(gpu) = self.gpus.iter_mut().find(|g| g.index == index) else {
                continue; // a GPU no longer in the inventory holds nothing here
            };
            gpu.state = match (gpu.state, job.gpu_memory_mb) {
                (GpuUse::Free | GpuUse::Unavailable, Some(budget)) => GpuUse::Shared(budget),
                (GpuUse::Shared(used), Some(budget)) => GpuUse::Shared(used + budget),
                _ => GpuUse::Exclusive,
            };
        }
    }

    fn free_slots(&self) -> Option<u32> {
        self.max_parallel
            .map(|max| max.saturating_sub(self.running + self.held_slots))
    }

    /// Starts `job` here (booking its slot and GPUs), or says why it waits and holds what it
    /// could use of what is free.
    fn try_start(&mut self, job: &Job) -> Result<Vec<u32>, String> {
        let needs_gpus = if self.books_gpus { job.gpus } else { 0 };
        if let Some(reason) = self.never_fits(job, needs_gpus) {
            return Err(reason);
        }
        let slot_free = self.free_slots().is_none_or(|n| n > 0);
        let fitting = self.fitting_gpus(job);
        if slot_free && fitting.len() >= needs_gpus as usize {
            let chosen: Vec<u32> = fitting[..needs_gpus as usize].to_vec();
            self.running += 1;
            for &index in &chosen {
                let gpu = self
                    .gpus
                    .iter_mut()
                    .find(|g| g.index == index)
                    .expect("a fitting GPU");
                gpu.state = match (gpu.state, job.gpu_memory_mb) {
                    (GpuUse::Shared(used), Some(budget)) => GpuUse::Shared(used + budget),
                    (GpuUse::Free, Some(budget)) => GpuUse::Shared(budget),
                    _ => GpuUse::Exclusive,
                };
            }
            return Ok(chosen);
        }
        let reason = self.wait_reason(job, needs_gpus, fitting.len() as u32, slot_free);
        self.hold(job, needs_gpus, slot_free);
        Err(reason)
    }

    /// Why `job` can never start here, however much frees up.
    fn never_fits(&self, job: &Job, needs_gpus: u32) -> Option<String> {
        if needs_gpus == 0 {
            return None;
        }
        if self.max_parallel == Some(0) {
            return Some("the target allows no jobs (max_parallel = 0)".into());
        }
        let total = self.gpus.len() as u32;
        if needs_gpus > total {
            return Some(format!(
                "needs {}, the target has {total}",
                gpus_text(needs_gpus)
            ));
        }
        if let Some(budget) = job.gpu_memory_mb {
            let big_enough = self
                .gpus
                .iter()
                .filter(|g| g.memory_mb.is_none_or(|m| budget <= m))
                .count() as u32;
            if needs_gpus > big_enough {
                return Some(format!(
                    "needs {} with {budget} MB each, the target has {big_enough} that large",
                    gpus_text(needs_gpus)
                ));
            }
        }
        None
    }

    /// The GPUs `job` could be put on now, best first: for a budgeted job the shared GPUs it
    /// fits on (fullest first, so free GPUs stay free), then free ones; else free ones.
    fn fitting_gpus(&self, job: &Job) -> Vec<u32> {
        if !self.books_gpus {
            return Vec::new();
        }
        let mut shared: Vec<(u64, u32)> = Vec::new();
        let mut free = Vec::new();
        for gpu in &self.gpus {
            match (gpu.state, job.gpu_memory_mb) {
                (GpuUse::Free, None) => free.push(gpu.index),
                (GpuUse::Free, Some(budget)) if gpu.memory_mb.is_none_or(|m| budget <= m) => {
                    free.push(gpu.index)
                }
                (GpuUse::Shared(used), Some(budget))
                    if gpu.memory_mb.is_some_and(|m| used + budget <= m) =>
                {
                    shared.push((used, gpu.index))
                }
                _ => {}
            }
        }
        shared.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        shared.into_iter().map(|(_, i)| i).chain(free).collect()
    }

    fn wait_reason(&self, job: &Job, needs_gpus: u32, fitting: u32, slot_free: bool) -> String {
        let behind = |pool: &Pool| pool.first_holder.map(|id| format!("behind job {id}"));
        if fitting < needs_gpus {
            let held = self.gpus.iter().filter(|g| g.state == GpuUse::Held).count() as u32;
            if fitting + held >= needs_gpus {
                if let Some(text) = behind(self) {
                    return text;
                }
            }
            return match job.gpu_memory_mb {
                None => format!("waiting for {}, {fitting} free", gpus_text(needs_gpus)),
                Some(budget) => format!(
                    "waiting for {} with {budget} MB free, {fitting} such",
                    gpus_text(needs_gpus)
                ),
            };
        }
        debug_assert!(!slot_free);
        let max = self.max_parallel.unwrap_or(0);
        if self.running < max {
            if let Some(text) = behind(self) {
                return text;
            }
        }
        format!("waiting for a slot ({} of {max} running)", self.running)
    }

    /// Holds for a waiting job what it could use of what is free: one slot, and free GPUs
    /// (up to its need) it fits on.
    fn hold(&mut self, job: &Job, needs_gpus: u32, slot_free: bool) {
        if slot_free && self.max_parallel.is_some() {
            self.held_slots += 1;
        }
        let mut to_hold = needs_gpus;
        for gpu in &mut self.gpus {
            if to_hold == 0 {
                break;
            }
            let fits = job
                .gpu_memory_mb
                .is_none_or(|budget| gpu.memory_mb.is_none_or(|m| budget <= m));
            if gpu.state == GpuUse::Free && fits {
                gpu.state = GpuUse::Held;
                to_hold -= 1;
            }
        }
        self.first_holder.get_or_insert(job.id);
    }
}

/// `1 GPU`, `2 GPUs`.
fn gpus_text(n: u32) -> String {
    if n == 1 {
        "1 GPU".into()
    } else {
        format!("{n} GPUs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn job(id: JobId, target: &str, gpus: u32) -> Job {
        Job {
            id,
            name: format!("j{id}"),
            experiment: "Default".into(),
            target: target.into(),
            command: vec!["true".into()],
            workdir: "/".into(),
            env: Vec::new(),
            gpus,
            gpu_memory_mb: None,
            after: Vec::new(),
            params: Vec::new(),
            tags: Vec::new(),
            rerun_of: None,
            retry_of: None,
            time_limit_s: None,
            user: "ana".into(),
            host: "box".into(),
            status: JobStatus::Queued,
            reason: "queued".into(),
            assigned_gpus: Vec::new(),
            run_id: None,
            queued_at: id,
            started_at: None,
            ended_at: None,
            exit_code: None,
            supervisor: None,
            handle: None,
            cancel_requested: false,
        }
    }

    fn running(mut j: Job, gpus: &[u32]) -> Job {
        j.status = JobStatus::Running;
        j.assigned_gpus = gpus.to_vec();
        j
    }

    fn shared(mut j: Job, mb: u64) -> Job {
        j.gpu_memory_mb = Some(mb);
        j
    }

    fn local(max_parallel: u32, gpus: &[u32]) -> Capacity {
        Capacity::Local {
            max_parallel,
            gpus: gpus
                .iter()
                .map(|&index| GpuSlot {
                    index,
                    memory_mb: Some(24_000),
                    available: true,
                })
                .collect(),
        }
    }

    fn targets(list: Vec<(&str, Capacity)>) -> BTreeMap<String, Capacity> {
        list.into_iter().map(|(n, c)| (n.to_string(), c)).collect()
    }

    fn place_jobs(
        queued: &[Job],
        active: &[Job],
        caps: &BTreeMap<String, Capacity>,
    ) -> Vec<Decision> {
        let parents = queued
            .iter()
            .chain(active)
            .map(|j| (j.id, j.status))
            .collect();
        place(
            &Queue {
                queued: queued.iter().collect(),
                active: active.iter().collect(),
                parents,
            },
            caps,
        )
    }

    fn start(job: JobId, gpus: &[u32]) -> Decision {
        Decision::Start {
            job,
            gpus: gpus.to_vec(),
        }
    }

    fn wait(job: JobId, reason: &str) -> Decision {
        Decision::Wait {
            job,
            reason: reason.into(),
        }
    }

    #[test]
    fn jobs_start_on_free_gpus_in_submit_order_and_the_rest_say_why_they_wait() {
        let caps = targets(vec![("local", local(2, &[0, 1]))]);
        let queued: Vec<Job> = (1..=4).map(|id| job(id, "local", 1)).collect();
        assert_eq!(
            place_jobs(&queued, &[], &caps),
            vec![
                start(1, &[0]),
                start(2, &[1]),
                wait(3, "waiting for 1 GPU, 0 free"),
                wait(4, "waiting for 1 GPU, 0 free"),
            ]
        );
    }

    #[test]
    fn booked_gpus_of_active_jobs_are_taken() {
        let caps = targets(vec![("local", local(4, &[0, 1, 2]))]);
        let active = [running(job(1, "local", 2), &[0, 2])];
        let queued = [job(2, "local", 2), job(3, "local", 1)];
        assert_eq!(
            place_jobs(&queued, &active, &caps),
            vec![
                wait(2, "waiting for 2 GPUs, 1 free"),
                wait(3, "behind job 2")
            ]
        );
    }

    #[test]
    fn a_slot_limit_holds_jobs_without_gpus() {
        let caps = targets(vec![
            ("local", local(2, &[0, 1])),
            ("box", Capacity::Slots { max_parallel: 1 }),
        ]);
        let active = [
            running(job(1, "local", 1), &[0]),
            running(job(2, "local", 0), &[]),
        ];
        let queued = [job(3, "local", 0), job(4, "box", 0), job(5, "box", 0)];
        assert_eq!(
            place_jobs(&queued, &active, &caps),
            vec![
                wait(3, "waiting for a slot (2 of 2 running)"),
                start(4, &[]),
                wait(5, "waiting for a slot (1 of 1 running)"),
            ]
        );
    }

    #[test]
    fn slurm_targets_take_everything_and_book_no_gpus() {
        let caps = targets(vec![("cluster", Capacity::Unlimited)]);
        let queued: Vec<Job> = (1..=5).map(|id| job(id, "cluster", 8)).collect();
        let decisions = place_jobs(&queued, &[], &caps);
        assert!(decisions
            .iter()
            .all(|d| matches!(d, Decision::Start { gpus, .. } if gpus.is_empty())));
    }

    #[test]
    fn ssh_targets_do_not_book_gpus() {
        let caps = targets(vec![("box", Capacity::Slots { max_parallel: 2 })]);
        let queued = [job(1, "box", 4), job(2, "box", 4), job(3, "box", 4)];
        assert_eq!(
            place_jobs(&queued, &[], &caps),
            vec![
                start(1, &[]),
                start(2, &[]),
                wait(3, "waiting for a slot (2 of 2 running)")
            ]
        );
    }

    #[test]
    fn an_earlier_waiting_job_holds_the_free_gpu_a_later_smaller_one_wants() {
        let caps = targets(vec![("local", local(4, &[0, 1]))]);
        let active = [running(job(1, "local", 1), &[1])];
        let queued = [job(2, "local", 2), job(3, "local", 1), job(4, "local", 0)];
        assert_eq!(
            place_jobs(&queued, &active, &caps),
            vec![
                wait(2, "waiting for 2 GPUs, 1 free"),
                wait(3, "behind job 2"),
                // A CPU-only job backfills a slot the waiting one does not need.
                start(4, &[]),
            ]
        );
    }

    #[test]
    fn backfill_never_takes_the_slot_an_earlier_job_holds() {
        let caps = targets(vec![("local", local(2, &[0, 1]))]);
        let active = [running(job(1, "local", 1), &[1])];
        let queued = [job(2, "local", 2), job(3, "local", 0)];
        assert_eq!(
            place_jobs(&queued, &active, &caps),
            vec![
                wait(2, "waiting for 2 GPUs, 1 free"),
                wait(3, "behind job 2")
            ]
        );
    }

    #[test]
    fn a_job_that_can_never_fit_does_not_block_the_queue() {
        let caps = targets(vec![("local", local(2, &[0, 1]))]);
        let queued = [
            job(1, "local", 3),
            job(2, "local", 1),
            shared(job(3, "local", 1), 50_000),
        ];
        assert_eq!(
            place_jobs(&queued, &[], &caps),
            vec![
                wait(1, "needs 3 GPUs, the target has 2"),
                start(2, &[0]),
                wait(
                    3,
                    "needs 1 GPU with 50000 MB each, the target has 0 that large"
                ),
            ]
        );
    }

    #[test]
    fn gpus_busy_elsewhere_are_not_used() {
        let caps = targets(vec![(
            "local",
            Capacity::Local {
                max_parallel: 2,
                gpus: vec![
                    GpuSlot {
                        index: 0,
                        memory_mb: None,
                        available: false,
                    },
                    GpuSlot {
                        index: 1,
                        memory_mb: None,
                        available: true,
                    },
                ],
            },
        )]);
        let queued = [job(1, "local", 1), job(2, "local", 1)];
        assert_eq!(
            place_jobs(&queued, &[], &caps),
            vec![start(1, &[1]), wait(2, "waiting for 1 GPU, 0 free")]
        );
    }

    #[test]
    fn budgeted_jobs_share_a_gpu_while_the_budgets_fit() {
        let caps = targets(vec![("local", local(8, &[0, 1]))]);
        let active = [running(shared(job(1, "local", 1), 10_000), &[0])];
        let queued = [
            shared(job(2, "local", 1), 10_000),
            shared(job(3, "local", 1), 10_000),
            job(4, "local", 1),
            shared(job(5, "local", 1), 20_000),
        ];
        assert_eq!(
            place_jobs(&queued, &active, &caps),
            vec![
                start(2, &[0]),
                // GPU 0 holds 20000 of 24000 MB: the next budget goes to GPU 1.
                start(3, &[1]),
                // No GPU is free of budgeted jobs for an exclusive one.
                wait(4, "waiting for 1 GPU, 0 free"),
                wait(5, "waiting for 1 GPU with 20000 MB free, 0 such"),
            ]
        );
    }

    #[test]
    fn an_exclusive_job_never_shares_and_a_gpu_of_unknown_memory_is_never_shared() {
        let caps = targets(vec![(
            "local",
            Capacity::Local {
                max_parallel: 8,
                gpus: vec![GpuSlot {
                    index: 0,
                    memory_mb: None,
                    available: true,
                }],
            },
        )]);
        let queued = [
            shared(job(1, "local", 1), 100),
            shared(job(2, "local", 1), 100),
        ];
        assert_eq!(
            place_jobs(&queued, &[], &caps),
            vec![
                start(1, &[0]),
                wait(2, "waiting for 1 GPU with 100 MB free, 0 such")
            ]
        );
        let active = [running(job(1, "local", 1), &[0])];
        let queued = [shared(job(2, "local", 1), 100)];
        assert_eq!(
            place_jobs(&queued, &active, &caps),
            vec![wait(2, "waiting for 1 GPU with 100 MB free, 0 such")]
        );
    }

    #[test]
    fn dependencies_wait_start_or_cancel_across_targets() {
        let caps = targets(vec![
            ("local", local(4, &[0, 1])),
            ("cluster", Capacity::Unlimited),
        ]);
        let mut parents = HashMap::new();
        parents.insert(40, JobStatus::Finished);
        parents.insert(41, JobStatus::Failed);
        parents.insert(42, JobStatus::Running);
        parents.insert(43, JobStatus::Timeout);
        let with_after = |id, target, after: &[JobId]| {
            let mut j = job(id, target, 0);
            j.after = after.to_vec();
            j
        };
        let queued = [
            with_after(50, "local", &[40]),
            with_after(51, "cluster", &[40, 42]),
            with_after(52, "local", &[42, 41]),
            with_after(53, "cluster", &[43]),
            with_after(54, "local", &[99]),
        ];
        let decisions = place(
            &Queue {
                queued: queued.iter().collect(),
                active: Vec::new(),
                parents,
            },
            &caps,
        );
        assert_eq!(
            decisions,
            vec![
                start(50, &[]),
                wait(51, "after job 42"),
                Decision::Cancel {
                    job: 52,
                    reason: "job 41 failed".into()
                },
                Decision::Cancel {
                    job: 53,
                    reason: "job 43 timed out".into()
                },
                Decision::Cancel {
                    job: 54,
                    reason: "job 99 does not exist".into()
                },
            ]
        );
    }

    #[test]
    fn a_job_on_an_unknown_target_waits_and_says_so() {
        let decisions = place_jobs(&[job(1, "gone", 0)], &[], &BTreeMap::new());
        assert_eq!(decisions, vec![wait(1, "no target 'gone' in kiroku.toml")]);
    }

    /// A random local target, active jobs on it, and queued jobs.
    fn scenario() -> impl Strategy<Value = (Vec<GpuSlot>, u32, Vec<Job>)> {
        let gpus = prop::collection::vec(
            (prop::option::of(1_000u64..4_000), prop::bool::weighted(0.8)),
            0..5,
        )
        .prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (memory_mb, available))| GpuSlot {
                    index: i as u32,
                    memory_mb,
                    available,
                })
                .collect::<Vec<_>>()
        });
        let jobs = prop::collection::vec((0u32..4, prop::option::of(500u64..2_500)), 0..12)
            .prop_map(|v| {
                v.into_iter()
                    .enumerate()
                    .map(|(i, (gpus, budget))| {
                        let mut j = job(i as JobId + 1, "local", gpus);
                        j.gpu_memory_mb = budget;
                        j
                    })
                    .collect::<Vec<_>>()
            });
        (gpus, 1u32..5, jobs)
    }

    /// Checks the invariants of a set of jobs holding GPUs on one target.
    fn check_bookings(
        holding: &[(Job, Vec<u32>)],
        gpus: &[GpuSlot],
        max_parallel: u32,
    ) -> Result<(), TestCaseError> {
        prop_assert!(holding.len() as u32 <= max_parallel, "more jobs than slots");
        for gpu in gpus {
            let on_it: Vec<&Job> = holding
                .iter()
                .filter(|(_, g)| g.contains(&gpu.index))
                .map(|(j, _)| j)
                .collect();
            if on_it.len() > 1 {
                prop_assert!(
                    on_it.iter().all(|j| j.gpu_memory_mb.is_some()),
                    "an exclusive job shares GPU {}",
                    gpu.index
                );
                let total: u64 = on_it.iter().map(|j| j.gpu_memory_mb.unwrap()).sum();
                prop_assert!(
                    gpu.memory_mb.is_some_and(|m| total <= m),
                    "budgets overflow GPU {}",
                    gpu.index
                );
            }
        }
        for (j, g) in holding {
            prop_assert_eq!(
                g.len() as u32,
                j.gpus,
                "job {} got the wrong number of GPUs",
                j.id
            );
            let mut distinct = g.clone();
            distinct.dedup();
            prop_assert_eq!(distinct.len(), g.len());
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Every queued job gets one decision; starts respect slots, GPU availability,
        /// exclusivity and budgets, together with what already runs.
        #[test]
        fn placements_never_overbook((gpus, max_parallel, jobs) in scenario(), active_count in 0usize..4) {
            let caps = targets(vec![("local", Capacity::Local { max_parallel, gpus: gpus.clone() })]);
            // Make some jobs active by placing them first.
            let (first, rest) = jobs.split_at(active_count.min(jobs.len()));
            let first_decisions = place_jobs(first, &[], &caps);
            let active: Vec<Job> = first_decisions.iter().filter_map(|d| match d {
                Decision::Start { job, gpus } => Some(running(first.iter().find(|j| j.id == *job).unwrap().clone(), gpus)),
                _ => None,
            }).collect();
            let decisions = place_jobs(rest, &active, &caps);
            prop_assert_eq!(decisions.len(), rest.len());
            let mut holding: Vec<(Job, Vec<u32>)> = active.iter().map(|j| (j.clone(), j.assigned_gpus.clone())).collect();
            for d in &decisions {
                if let Decision::Start { job, gpus: chosen } = d {
                    let j = rest.iter().find(|j| j.id == *job).unwrap();
                    for index in chosen {
                        let slot = gpus.iter().find(|g| g.index == *index);
                        prop_assert!(slot.is_some_and(|s| s.available), "GPU {} is not available", index);
                    }
                    holding.push((j.clone(), chosen.clone()));
                }
            }
            check_bookings(&holding, &gpus, max_parallel)?;
        }

        /// Run the queue to the end, ending the oldest running job each step: every job that
        /// can fit the target starts (no starvation, no deadlock), and jobs needing the same
        /// kind of resources start in submit order.
        #[test]
        fn the_queue_drains_and_nothing_starves((gpus, max_parallel, jobs) in scenario()) {
            let gpus: Vec<GpuSlot> = gpus.into_iter().map(|g| GpuSlot { available: true, ..g }).collect();
            let caps = targets(vec![("local", Capacity::Local { max_parallel, gpus: gpus.clone() })]);
            let mut queued = jobs.clone();
            let mut active: Vec<Job> = Vec::new();
            let mut start_order = Vec::new();
            for _ in 0..(jobs.len() * 2 + 2) {
                let decisions = place_jobs(&queued, &active, &caps);
                for d in decisions {
                    if let Decision::Start { job, gpus } = d {
                        let j = queued.iter().find(|j| j.id == job).unwrap().clone();
                        queued.retain(|q| q.id != job);
                        start_order.push(job);
                        active.push(running(j, &gpus));
                    }
                }
                let holding: Vec<(Job, Vec<u32>)> = active.iter().map(|j| (j.clone(), j.assigned_gpus.clone())).collect();
                check_bookings(&holding, &gpus, max_parallel)?;
                if !active.is_empty() {
                    active.remove(0);
                }
            }
            for j in &queued {
                let decision = place_jobs(std::slice::from_ref(j), &[], &caps);
                prop_assert!(
                    matches!(&decision[0], Decision::Wait { reason, .. } if reason.starts_with("needs")),
                    "job {} never started although it fits an empty target: {:?}", j.id, decision
                );
            }
            // Exclusive jobs of the same GPU count never overtake one another.
            for n in 0..4 {
                let order: Vec<JobId> = start_order.iter().copied().filter(|id| {
                    let j = jobs.iter().find(|j| j.id == *id).unwrap();
                    j.gpus == n && j.gpu_memory_mb.is_none()
                }).collect();
                let mut sorted = order.clone();
                sorted.sort();
                prop_assert_eq!(order, sorted);
            }
        }
    }
}
