//! The `JobStore` part of the store contract. The job queue: submitting and listing (filters,
//! newest first, limits, a thousand jobs), compare-and-swap updates, cancelling queued, running
//! and ended jobs, the schedulers' leases, and the events and change counter every job write
//! moves.
use super::*;
use kiroku::store::JobStore;

contract!(
    jobs_are_listed_newest_first_filtered_and_limited,
    unknown_jobs_are_not_found,
    an_update_applies_only_from_the_statuses_it_names,
    cancel_ends_a_queued_job_and_asks_a_running_one,
    a_lease_is_held_by_one_holder_at_a_time,
    job_writes_record_events_and_move_the_version,
    a_thousand_jobs_are_listed,
);

fn new_job(target: &str, host: &str, command: &[&str]) -> NewJob {
    NewJob {
        experiment: "exp".into(),
        target: target.into(),
        command: command.iter().map(|s| s.to_string()).collect(),
        workdir: "/work".into(),
        user: "alice".into(),
        host: host.into(),
        ..Default::default()
    }
}

fn submit(store: &dyn Store, target: &str, host: &str) -> Job {
    store
        .submit_job(&new_job(target, host, &["python", "train.py"]))
        .unwrap()
}

fn process(pid: u32, start_ticks: u64) -> Supervisor {
    Supervisor {
        host: "box".into(),
        boot_id: "boot-1".into(),
        pid_namespace: "pid:[4026531836]".into(),
        pid,
        start_ticks,
        metrics_file: String::new(),
        child: None,
    }
}

fn ids(jobs: &[Job]) -> Vec<JobId> {
    jobs.iter().map(|j| j.id).collect()
}

fn query(statuses: &[JobStatus]) -> JobQuery {
    JobQuery {
        statuses: statuses.to_vec(),
        ..Default::default()
    }
}

fn moved(store: &dyn Store, id: JobId, from: &[JobStatus], to: JobStatus) -> Option<Job> {
    let mut update = JobUpdate::from(from);
    update.status = Some(to);
    store.update_job(id, &update).unwrap()
}

fn jobs_are_listed_newest_first_filtered_and_limited(store: &dyn Store) {
    assert!(store.jobs(&JobQuery::default()).unwrap().is_empty());
    let a = submit(store, "local", "box-a");
    let b = submit(store, "cluster", "box-a");
    let c = submit(store, "local", "box-b");
    assert!(a.id < b.id && b.id < c.id, "ids are sequential");
    assert_eq!(
        (
            a.name.as_str(),
            a.status,
            a.reason.as_str(),
            a.user.as_str()
        ),
        ("python", JobStatus::Queued, "queued", "alice")
    );
    assert!(a.queued_at > 0);
    assert_eq!(
        (a.started_at, a.ended_at, a.run_id.clone(), a.exit_code),
        (None, None, None, None)
    );
    assert_eq!(store.job(b.id).unwrap(), b);

    let all = store.jobs(&JobQuery::default()).unwrap();
    assert_eq!(ids(&all), vec![c.id, b.id, a.id]);
    assert_eq!(all[2], a);
    let local = JobQuery {
        target: Some("local".into()),
        ..Default::default()
    };
    assert_eq!(ids(&store.jobs(&local).unwrap()), vec![c.id, a.id]);
    let on_a = JobQuery {
        host: Some("box-a".into()),
        ..Default::default()
    };
    assert_eq!(ids(&store.jobs(&on_a).unwrap()), vec![b.id, a.id]);
    let local_on_a = JobQuery {
        target: Some("local".into()),
        host: Some("box-a".into()),
        ..Default::default()
    };
    assert_eq!(ids(&store.jobs(&local_on_a).unwrap()), vec![a.id]);
    let newest_two = JobQuery {
        limit: Some(2),
        ..Default::default()
    };
    assert_eq!(ids(&store.jobs(&newest_two).unwrap()), vec![c.id, b.id]);

    moved(store, b.id, &[JobStatus::Queued], JobStatus::Starting).unwrap();
    moved(store, c.id, &[JobStatus::Queued], JobStatus::Finished).unwrap();
    let active = query(&[JobStatus::Starting, JobStatus::Running]);
    assert_eq!(ids(&store.jobs(&active).unwrap()), vec![b.id]);
    let waiting_or_done = query(&[JobStatus::Queued, JobStatus::Finished]);
    assert_eq!(
        ids(&store.jobs(&waiting_or_done).unwrap()),
        vec![c.id, a.id]
    );
    assert!(store.jobs(&query(&[JobStatus::Lost])).unwrap().is_empty());
}

fn unknown_jobs_are_not_found(store: &dyn Store) {
    let parent = submit(store, "local", "box");
    let missing = parent.id + 100;
    let not_found = |e: KirokuError, what: &str| {
        assert!(matches!(e, KirokuError::NotFound(_)), "{what}: {e}");
        assert!(e.to_string().contains(&missing.to_string()), "{what}: {e}");
    };
    not_found(store.job(missing).unwrap_err(), "job");
    not_found(
        store
            .update_job(missing, &JobUpdate::from(&[]))
            .unwrap_err(),
        "update",
    );
    not_found(
        store.request_cancel(missing, "alice").unwrap_err(),
        "cancel",
    );
    let orphan = NewJob {
        after: vec![parent.id, missing],
        ..new_job("local", "box", &["true"])
    };
    not_found(store.submit_job(&orphan).unwrap_err(), "after");
    assert_eq!(
        ids(&store.jobs(&JobQuery::default()).unwrap()),
        vec![parent.id]
    );
    // A job that runs after an existing one is queued with its parents.
    let child = NewJob {
        after: vec![parent.id],
        ..new_job("local", "box", &["true"])
    };
    assert_eq!(store.submit_job(&child).unwrap().after, vec![parent.id]);
}

fn an_update_applies_only_from_the_statuses_it_names(store: &dyn Store) {
    let job = submit(store, "local", "box");
    let mut book = JobUpdate::from(&[JobStatus::Queued]);
    book.status = Some(JobStatus::Starting);
    book.assigned_gpus = Some(vec![0, 1]);
    book.reason = Some("starting".into());
    let starting = store.update_job(job.id, &book).unwrap().unwrap();
    assert_eq!(starting.status, JobStatus::Starting);
    assert_eq!(starting.assigned_gpus, vec![0, 1]);
    // A second scheduler booking the same job from `queued` loses, and changes nothing.
    let mut rival = book.clone();
    rival.assigned_gpus = Some(vec![2]);
    assert_eq!(store.update_job(job.id, &rival).unwrap(), None);
    assert_eq!(store.job(job.id).unwrap(), starting);

    let supervisor = Supervisor {
        metrics_file: "/runs/r1/metrics.jsonl".into(),
        child: Some(ChildProcess {
            pid: 4242,
            start_ticks: 99,
        }),
        ..process(4241, 98)
    };
    let mut run = JobUpdate::from(&[JobStatus::Starting]);
    run.status = Some(JobStatus::Running);
    run.run_id = Some("r1".into());
    run.started_at = Some(1_000);
    run.supervisor = Some(supervisor.clone());
    run.handle = Some("4241@box".into());
    let running = store.update_job(job.id, &run).unwrap().unwrap();
    assert_eq!(
        (
            running.status,
            running.run_id.as_deref(),
            running.started_at
        ),
        (JobStatus::Running, Some("r1"), Some(1_000))
    );
    assert_eq!(running.supervisor, Some(supervisor));
    assert_eq!(running.handle.as_deref(), Some("4241@box"));
    assert_eq!(running.assigned_gpus, vec![0, 1], "unset fields are kept");

    // An empty `from` applies whatever the status.
    let mut note = JobUpdate::from(&[]);
    note.reason = Some("epoch 3".into());
    assert_eq!(
        store.update_job(job.id, &note).unwrap().unwrap().reason,
        "epoch 3"
    );

    let mut end = JobUpdate::from(&[JobStatus::Starting, JobStatus::Running]);
    end.status = Some(JobStatus::Failed);
    end.reason = Some("exit code 3".into());
    end.exit_code = Some(3);
    end.ended_at = Some(2_000);
    let failed = store.update_job(job.id, &end).unwrap().unwrap();
    assert_eq!(
        (failed.status, failed.exit_code, failed.ended_at),
        (JobStatus::Failed, Some(3), Some(2_000))
    );
    assert_eq!(failed.reason, "exit code 3");
    // Once ended, the supervisor's own move from `running` finds nothing to move.
    assert_eq!(
        moved(store, job.id, &[JobStatus::Running], JobStatus::Lost),
        None
    );
    assert_eq!(store.job(job.id).unwrap(), failed);
}

fn cancel_ends_a_queued_job_and_asks_a_running_one(store: &dyn Store) {
    let queued = submit(store, "local", "box");
    let cancelled = store.request_cancel(queued.id, "bob").unwrap();
    assert_eq!(cancelled.status, JobStatus::Cancelled);
    assert_eq!(cancelled.reason, "cancelled by bob");
    assert!(cancelled.ended_at.is_some());
    assert_eq!(store.job(queued.id).unwrap(), cancelled);

    let running = submit(store, "local", "box");
    moved(store, running.id, &[JobStatus::Queued], JobStatus::Running).unwrap();
    let asked = store.request_cancel(running.id, "bob").unwrap();
    assert_eq!(
        asked.status,
        JobStatus::Running,
        "its supervisor acts on it"
    );
    assert!(asked.cancel_requested);
    assert_eq!(asked.reason, "cancelled by bob", "kept for its supervisor");
    assert_eq!(asked.ended_at, None);
    assert!(store.job(running.id).unwrap().cancel_requested);
    // Asking again changes nothing.
    assert_eq!(store.request_cancel(running.id, "carol").unwrap(), asked);

    let starting = submit(store, "local", "box");
    moved(
        store,
        starting.id,
        &[JobStatus::Queued],
        JobStatus::Starting,
    )
    .unwrap();
    assert!(
        store
            .request_cancel(starting.id, "bob")
            .unwrap()
            .cancel_requested
    );

    let ended = submit(store, "local", "box");
    let finished = moved(store, ended.id, &[JobStatus::Queued], JobStatus::Finished).unwrap();
    assert_eq!(store.request_cancel(ended.id, "bob").unwrap(), finished);
    assert!(!store.job(ended.id).unwrap().cancel_requested);
}

fn a_lease_is_held_by_one_holder_at_a_time(store: &dyn Store) {
    let name = "scheduler/box@store";
    let first = process(100, 5);
    let second = process(200, 6);
    assert_eq!(store.lease(name).unwrap(), None);
    assert!(store
        .acquire_lease(name, &first, 1_000, 2_000, None)
        .unwrap());
    assert_eq!(
        store.lease(name).unwrap(),
        Some(Lease {
            name: name.into(),
            holder: first.clone(),
            expires_at: 2_000,
        })
    );
    // Renewed by its holder; refused to another while it holds it.
    assert!(store
        .acquire_lease(name, &first, 1_500, 3_000, None)
        .unwrap());
    assert!(!store
        .acquire_lease(name, &second, 1_600, 4_000, None)
        .unwrap());
    assert_eq!(store.lease(name).unwrap().unwrap().expires_at, 3_000);
    // Taken over once it expired.
    assert!(store
        .acquire_lease(name, &second, 3_001, 5_000, None)
        .unwrap());
    assert_eq!(store.lease(name).unwrap().unwrap().holder, second);
    // Taken over from a holder seen dead, but only from that one: a caller that saw another
    // (or the same pid started at another time) dead loses.
    let third = process(300, 7);
    let not_second = process(200, 999);
    assert!(!store
        .acquire_lease(name, &third, 4_000, 6_000, Some(&not_second))
        .unwrap());
    assert!(!store
        .acquire_lease(name, &third, 4_000, 6_000, Some(&first))
        .unwrap());
    assert!(store
        .acquire_lease(name, &third, 4_000, 6_000, Some(&second))
        .unwrap());
    assert!(!store
        .acquire_lease(name, &first, 4_001, 6_000, Some(&second))
        .unwrap());
    assert_eq!(store.lease(name).unwrap().unwrap().holder, third);
    // Only its holder gives it up.
    store.release_lease(name, &second).unwrap();
    assert_eq!(store.lease(name).unwrap().unwrap().holder, third);
    store.release_lease(name, &third).unwrap();
    assert_eq!(store.lease(name).unwrap(), None);
    assert!(store
        .acquire_lease(name, &first, 4_002, 5_000, None)
        .unwrap());
    // Leases are independent of each other.
    assert!(store
        .acquire_lease("scheduler/other", &second, 4_002, 5_000, None)
        .unwrap());
}

fn job_writes_record_events_and_move_the_version(store: &dyn Store) {
    let v0 = store.version().unwrap();
    let job = submit(store, "local", "box");
    let v1 = store.version().unwrap();
    assert!(v1 > v0, "submit");
    moved(store, job.id, &[JobStatus::Queued], JobStatus::Running).unwrap();
    let v2 = store.version().unwrap();
    assert!(v2 > v1, "update");
    store.request_cancel(job.id, "bob").unwrap();
    let v3 = store.version().unwrap();
    assert!(v3 > v2, "cancel request");
    let mut end = JobUpdate::from(&[JobStatus::Running]);
    end.status = Some(JobStatus::Killed);
    end.reason = Some("cancelled by bob".into());
    store.update_job(job.id, &end).unwrap().unwrap();
    assert!(store.version().unwrap() > v3, "end");

    let queued = submit(store, "local", "box");
    store.request_cancel(queued.id, "carol").unwrap();

    let events = store.events(&EventQuery::default()).unwrap();
    let seen: Vec<(String, String, i64)> = events
        .iter()
        .map(|e| {
            let id = e.detail.as_ref().and_then(|d| d["job"].as_i64()).unwrap();
            (e.kind.clone(), e.user.clone(), id)
        })
        .collect();
    let expected = [
        ("job.cancelled", "carol", queued.id),
        ("job.submitted", "alice", queued.id),
        ("job.killed", "alice", job.id),
        ("job.cancel_requested", "bob", job.id),
        ("job.submitted", "alice", job.id),
    ];
    let expected: Vec<(String, String, i64)> = expected
        .iter()
        .map(|(k, u, id)| (k.to_string(), u.to_string(), *id))
        .collect();
    assert_eq!(seen, expected);
}

fn a_thousand_jobs_are_listed(store: &dyn Store) {
    for i in 0..1_000 {
        let target = if i % 2 == 0 { "local" } else { "cluster" };
        submit(store, target, "box");
    }
    let all = store.jobs(&JobQuery::default()).unwrap();
    assert_eq!(all.len(), 1_000);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    let queued_local = JobQuery {
        statuses: vec![JobStatus::Queued],
        target: Some("local".into()),
        host: Some("box".into()),
        limit: None,
    };
    assert_eq!(store.jobs(&queued_local).unwrap().len(), 500);
    let newest = JobQuery {
        limit: Some(10),
        ..Default::default()
    };
    assert_eq!(store.jobs(&newest).unwrap(), all[..10].to_vec());
}

#[test]
fn over_http_the_token_user_submits_and_cancels() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Arc::new(SqliteStore::open(&dir.path().join(".kiroku"), false).unwrap());
    let (_, token) = sqlite.create_token("ana", false).unwrap();
    let server = BackgroundServer::start(
        sqlite.clone() as Arc<dyn Store>,
        Some(sqlite),
        "127.0.0.1:0".parse().unwrap(),
    )
    .unwrap();
    let store = HttpStore::with_token(&server.url(), Some(token)).unwrap();
    let claimed = NewJob {
        user: "mallory".into(),
        ..new_job("local", "box", &["true"])
    };
    let job = store.submit_job(&claimed).unwrap();
    assert_eq!(job.user, "ana");
    let cancelled = store.request_cancel(job.id, "mallory").unwrap();
    assert_eq!(cancelled.reason, "cancelled by ana");
}
