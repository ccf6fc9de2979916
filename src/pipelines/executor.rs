//! Runs a set of stage tasks in dependency order, independent ones at the same time (up to a
//! number of slots), and decides what a failure means for the rest: the tasks that need a
//! failed (or killed) one, directly or not, are skipped; every other task still runs.
//!
//! What running one task means (the run-cache, the job and run records, the process) is the
//! caller's `TaskRunner`; this file only schedules. Each task runs on a thread of its own; the
//! calling thread waits for them, calls `on_tick` about ten times a second (progress, and the
//! interrupt check: `TaskRunner::interrupt` stops what runs and nothing new is started).
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// One unit of work and the tasks (indices) that must succeed before it.
#[derive(Debug, Clone)]
pub struct Task {
    pub name: String,
    pub needs: Vec<usize>,
    /// The capacity pool it counts against (an index into `execute`'s `pool_limits`: a target
    /// that holds only so many jobs at once), besides the global slots.
    pub pool: Option<usize>,
}

/// How a task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It ran and succeeded.
    Ran,
    /// Its outputs came from the run-cache instead of running.
    Restored,
    /// Nothing to do after all: it was to run only because a stage it depends on did, and that
    /// stage's outputs came out as they were.
    UpToDate,
    /// It ran and failed (why).
    Failed(String),
    /// It was stopped by an interrupt.
    Killed,
    /// It never started: a task it needs failed or was killed (that task's name), or the run
    /// was interrupted first.
    Skipped(String),
}

impl Outcome {
    pub fn succeeded(&self) -> bool {
        matches!(self, Outcome::Ran | Outcome::Restored | Outcome::UpToDate)
    }
}

/// What happens while tasks run, for progress.
#[derive(Debug, Clone)]
pub enum Event {
    Started {
        task: usize,
    },
    Ended {
        task: usize,
        outcome: Outcome,
        elapsed: Duration,
    },
}

/// Runs one task; called from several threads at once.
pub trait TaskRunner: Sync {
    /// Runs task `index` to its end. `stop` is set once an interrupt arrived: a runner that
    /// has not started its process yet should not start it.
    fn run(&self, index: usize, stop: &AtomicBool) -> Outcome;
    /// Stops everything running now (called once, from the waiting thread, on an interrupt).
    fn interrupt(&self);
}

/// Runs every task in `tasks` (whose `needs` point at lower or higher indices alike, but
/// must not form a circle) on up to `slots` threads, and at most `pool_limits[p]` tasks of
/// pool `p` at once. `interrupted` is polled about ten times
/// a second; once it answers true, running tasks are interrupted and no new one starts.
/// `on_event` sees each start and end; `on_tick` runs between. Returns each task's outcome.
pub fn execute(
    tasks: &[Task],
    slots: usize,
    pool_limits: &[usize],
    runner: &dyn TaskRunner,
    interrupted: &dyn Fn() -> bool,
    on_event: &mut dyn FnMut(&Event),
    on_tick: &mut dyn FnMut(),
) -> Vec<Outcome> {
    let slots = slots.max(1);
    let mut outcomes: Vec<Option<Outcome>> = vec![None; tasks.len()];
    let mut waiting: BTreeSet<usize> = (0..tasks.len()).collect();
    let mut running = 0usize;
    let mut in_pool = vec![0usize; pool_limits.len()];
    let pool_free = |in_pool: &[usize], task: &Task| {
        task.pool
            .is_none_or(|p| in_pool[p] < pool_limits.get(p).copied().unwrap_or(usize::MAX).max(1))
    };
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<(usize, Outcome, Duration)>();
    std::thread::scope(|scope| loop {
        // Skip what can no longer run, start what can, in index (dependency) order.
        let mut changed = true;
        while changed {
            changed = false;
            for index in waiting.clone() {
                let blocked_by = tasks[index].needs.iter().find_map(|&n| match &outcomes[n] {
                    Some(Outcome::Skipped(_)) => Some(tasks[n].name.clone()),
                    Some(o) if !o.succeeded() => Some(tasks[n].name.clone()),
                    _ => None,
                });
                if let Some(culprit) = blocked_by {
                    waiting.remove(&index);
                    let outcome = Outcome::Skipped(culprit);
                    on_event(&Event::Ended {
                        task: index,
                        outcome: outcome.clone(),
                        elapsed: Duration::ZERO,
                    });
                    outcomes[index] = Some(outcome);
                    changed = true;
                    continue;
                }
                let ready = tasks[index]
                    .needs
                    .iter()
                    .all(|&n| outcomes[n].as_ref().is_some_and(Outcome::succeeded));
                if ready
                    && running < slots
                    && pool_free(&in_pool, &tasks[index])
                    && !stop.load(Ordering::SeqCst)
                {
                    waiting.remove(&index);
                    running += 1;
                    if let Some(p) = tasks[index].pool {
                        in_pool[p] += 1;
                    }
                    on_event(&Event::Started { task: index });
                    let tx = tx.clone();
                    let stop = &stop;
                    scope.spawn(move || {
                        let started = Instant::now();
                        let outcome = runner.run(index, stop);
                        let _ = tx.send((index, outcome, started.elapsed()));
                    });
                    changed = true;
                }
            }
        }
        if running == 0 {
            // Nothing runs: whatever still waits can never start (interrupted, or a circle).
            for index in std::mem::take(&mut waiting) {
                let outcome = Outcome::Skipped(if stop.load(Ordering::SeqCst) {
                    "the interrupt".into()
                } else {
                    "a dependency circle".into()
                });
                on_event(&Event::Ended {
                    task: index,
                    outcome: outcome.clone(),
                    elapsed: Duration::ZERO,
                });
                outcomes[index] = Some(outcome);
            }
            break;
        }
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok((index, outcome, elapsed)) => {
                running -= 1;
                if let Some(p) = tasks[index].pool {
                    in_pool[p] -= 1;
                }
                on_event(&Event::Ended {
                    task: index,
                    outcome: outcome.clone(),
                    elapsed,
                });
                outcomes[index] = Some(outcome);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if !stop.load(Ordering::SeqCst) && interrupted() {
            stop.store(true, Ordering::SeqCst);
            runner.interrupt();
        }
        on_tick();
    });
    outcomes
        .into_iter()
        .map(|o| o.unwrap_or(Outcome::Skipped("the interrupt".into())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Records the order tasks start in; fails the named ones.
    struct Script {
        failing: Vec<&'static str>,
        tasks: Vec<Task>,
        started: Mutex<Vec<String>>,
    }

    impl TaskRunner for Script {
        fn run(&self, index: usize, _stop: &AtomicBool) -> Outcome {
            let name = self.tasks[index].name.clone();
            self.started.lock().unwrap().push(name.clone());
            if self.failing.contains(&name.as_str()) {
                Outcome::Failed("exit code 1".into())
            } else {
                Outcome::Ran
            }
        }
        fn interrupt(&self) {}
    }

    fn task(name: &str, needs: &[usize]) -> Task {
        Task {
            name: name.into(),
            needs: needs.to_vec(),
            pool: None,
        }
    }

    /// Counts how many tasks of pool 0 run at once.
    struct Counting {
        tasks: Vec<Task>,
        now: std::sync::atomic::AtomicUsize,
        most: std::sync::atomic::AtomicUsize,
    }

    impl TaskRunner for Counting {
        fn run(&self, index: usize, _stop: &AtomicBool) -> Outcome {
            let pooled = self.tasks[index].pool.is_some();
            if pooled {
                let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
                self.most.fetch_max(now, Ordering::SeqCst);
            }
            std::thread::sleep(Duration::from_millis(20));
            if pooled {
                self.now.fetch_sub(1, Ordering::SeqCst);
            }
            Outcome::Ran
        }
        fn interrupt(&self) {}
    }

    #[test]
    fn a_pool_holds_no_more_tasks_at_once_than_its_limit() {
        for limit in [1, 2] {
            let mut tasks: Vec<Task> = (0..6).map(|i| task(&format!("t{i}"), &[])).collect();
            for t in tasks.iter_mut().take(5) {
                t.pool = Some(0);
            }
            let runner = Counting {
                tasks: tasks.clone(),
                now: Default::default(),
                most: Default::default(),
            };
            let outcomes = execute(
                &tasks,
                8,
                &[limit],
                &runner,
                &|| false,
                &mut |_| {},
                &mut || {},
            );
            assert!(outcomes.iter().all(|o| *o == Outcome::Ran));
            assert!(runner.most.load(Ordering::SeqCst) <= limit);
        }
    }

    #[test]
    fn a_failure_skips_its_dependents_and_the_rest_still_run() {
        // a → b → c, d independent, e needs a and d.
        let tasks = vec![
            task("a", &[]),
            task("b", &[0]),
            task("c", &[1]),
            task("d", &[]),
            task("e", &[0, 3]),
        ];
        let script = Script {
            failing: vec!["b"],
            tasks: tasks.clone(),
            started: Mutex::new(Vec::new()),
        };
        let outcomes = execute(&tasks, 2, &[], &script, &|| false, &mut |_| {}, &mut || {});
        assert_eq!(
            outcomes,
            vec![
                Outcome::Ran,
                Outcome::Failed("exit code 1".into()),
                Outcome::Skipped("b".into()),
                Outcome::Ran,
                Outcome::Ran,
            ]
        );
        let started = script.started.lock().unwrap().clone();
        assert!(!started.contains(&"c".to_string()));
        let pos = |n: &str| started.iter().position(|s| s == n).unwrap();
        assert!(pos("a") < pos("b") && pos("a") < pos("e") && pos("d") < pos("e"));
    }

    #[test]
    fn a_circle_is_skipped_not_hung() {
        let tasks = vec![task("a", &[1]), task("b", &[0]), task("c", &[])];
        let script = Script {
            failing: vec![],
            tasks: tasks.clone(),
            started: Mutex::new(Vec::new()),
        };
        let outcomes = execute(&tasks, 4, &[], &script, &|| false, &mut |_| {}, &mut || {});
        assert_eq!(outcomes[2], Outcome::Ran);
        assert!(matches!(outcomes[0], Outcome::Skipped(_)));
    }
}
