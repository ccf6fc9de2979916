//! `JobStore` in SQLite: the `jobs` and `job_leases` tables (schema v6).
//!
//! Every change is one write transaction. `update_job` reads the job and applies the change
//! only while its status is one of `from`: the write lock (`BEGIN IMMEDIATE`) makes the read and
//! the update one compare-and-swap across processes. Submissions, endings and cancel requests
//! record activity events (`job.submitted`, `job.<terminal status>` such as `job.finished` or
//! `job.cancelled`, `job.cancel_requested`) and move the change counter, so watchers see every
//! job change. Leases are taken the same way but leave the counter alone: a scheduler renewing
//! its lease changes nothing anyone watches, and must not wake the watchers (itself included).
//! A listing is one query over the row, whose lists are JSON text read with it.
use super::events::record_event;
use super::SqliteStore;
use crate::error::{KirokuError, Result};
use crate::limits;
use crate::model::*;
use crate::store::JobStore;
use rusqlite::types::{Type, Value};
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;

/// The columns `job_of` reads, in its order.
const JOB_COLUMNS: &str =
    "id, name, experiment, target, command, workdir, env, gpus, gpu_memory_mb,
    after, params, tags, rerun_of, retry_of, time_limit_s, user, host, status, reason,
    assigned_gpus, run_id, queued_ms, started_ms, ended_ms, exit_code, supervisor, handle,
    cancel_requested";

pub(super) fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("plain records serialise to JSON")
}

pub(super) fn conversion_failure(
    column: usize,
    e: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, Type::Text, e.into())
}

/// A JSON text column.
pub(super) fn json_column<T: DeserializeOwned>(row: &Row, column: usize) -> rusqlite::Result<T> {
    let text: String = row.get(column)?;
    serde_json::from_str(&text).map_err(|e| conversion_failure(column, e))
}

fn job_of(r: &Row) -> rusqlite::Result<Job> {
    let status: String = r.get(17)?;
    let supervisor: Option<String> = r.get(25)?;
    Ok(Job {
        id: r.get(0)?,
        name: r.get(1)?,
        experiment: r.get(2)?,
        target: r.get(3)?,
        command: json_column(r, 4)?,
        workdir: r.get(5)?,
        env: json_column(r, 6)?,
        gpus: r.get(7)?,
        gpu_memory_mb: r.get::<_, Option<i64>>(8)?.map(|m| m as u64),
        after: json_column(r, 9)?,
        params: json_column(r, 10)?,
        tags: json_column(r, 11)?,
        rerun_of: r.get(12)?,
        retry_of: r.get(13)?,
        time_limit_s: r.get::<_, Option<i64>>(14)?.map(|s| s as u64),
        user: r.get(15)?,
        host: r.get(16)?,
        status: status
            .parse()
            .map_err(|e: String| conversion_failure(17, e))?,
        reason: r.get(18)?,
        assigned_gpus: json_column(r, 19)?,
        run_id: r.get(20)?,
        queued_at: r.get(21)?,
        started_at: r.get(22)?,
        ended_at: r.get(23)?,
        exit_code: r.get(24)?,
        supervisor: supervisor
            .map(|s| serde_json::from_str(&s).map_err(|e| conversion_failure(25, e)))
            .transpose()?,
        handle: r.get(26)?,
        cancel_requested: r.get(27)?,
    })
}

fn read_job(conn: &Connection, id: JobId) -> Result<Job> {
    conn.prepare_cached(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"))?
        .query_row([id], job_of)
        .optional()?
        .ok_or_else(|| KirokuError::NotFound(format!("no job with id {id}")))
}

/// The jobs matching `q`, newest first, in one query.
fn read_jobs(conn: &Connection, q: &JobQuery) -> Result<Vec<Job>> {
    let mut conditions = vec!["1".to_string()];
    let mut args: Vec<Value> = Vec::new();
    if !q.statuses.is_empty() {
        let marks = vec!["?"; q.statuses.len()].join(", ");
        conditions.push(format!("status IN ({marks})"));
        args.extend(q.statuses.iter().map(|s| Value::Text(s.as_str().into())));
    }
    if let Some(target) = &q.target {
        conditions.push("target = ?".into());
        args.push(Value::Text(target.clone()));
    }
    if let Some(host) = &q.host {
        conditions.push("host = ?".into());
        args.push(Value::Text(host.clone()));
    }
    args.push(Value::Integer(
        q.limit
            .map(|l| l.min(i64::MAX as usize) as i64)
            .unwrap_or(-1),
    ));
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE {} ORDER BY id DESC LIMIT ?",
        conditions.join(" AND ")
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args), job_of)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The name a job is listed under: the one asked for, else its program's file name
/// (`python` for `/usr/bin/python train.py`).
fn job_name(new: &NewJob) -> Result<String> {
    if let Some(name) = new.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        limits::run_name(name)?;
        return Ok(name.to_string());
    }
    let program = new
        .command
        .first()
        .ok_or_else(|| KirokuError::Invalid("a job needs a command to run".into()))?;
    Ok(Path::new(program)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| program.clone()))
}

fn check_new_job(new: &NewJob) -> Result<()> {
    if new.command.first().is_none_or(|p| p.is_empty()) {
        return Err(KirokuError::Invalid(
            "a job needs a command to run (its program is empty)".into(),
        ));
    }
    if new.target.trim().is_empty() {
        return Err(KirokuError::Invalid("a job needs a target".into()));
    }
    limits::user_name(&new.user)
}

/// Fails with `NotFound` naming every job of `after` that does not exist.
fn check_after_jobs_exist(conn: &Connection, after: &[JobId]) -> Result<()> {
    let mut stmt = conn.prepare_cached("SELECT 1 FROM jobs WHERE id = ?1")?;
    let mut missing = Vec::new();
    for &id in after {
        if !stmt.exists([id])? {
            missing.push(id.to_string());
        }
    }
    match missing.len() {
        0 => Ok(()),
        1 => Err(KirokuError::NotFound(format!(
            "no job with id {} (to run after)",
            missing[0]
        ))),
        _ => Err(KirokuError::NotFound(format!(
            "no jobs with ids {} (to run after)",
            missing.join(", ")
        ))),
    }
}

fn insert_job(conn: &Connection, new: &NewJob, name: &str) -> Result<JobId> {
    conn.prepare_cached(
        "INSERT INTO jobs (name, experiment, target, command, workdir, env, gpus, gpu_memory_mb,
            after, params, tags, rerun_of, retry_of, time_limit_s, user, host, status, reason,
            queued_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
            'queued', 'queued', ?17)",
    )?
    .execute(params![
        name,
        new.experiment,
        new.target,
        to_json(&new.command),
        new.workdir,
        to_json(&new.env),
        new.gpus,
        new.gpu_memory_mb.map(|m| m.min(i64::MAX as u64) as i64),
        to_json(&new.after),
        to_json(&new.params),
        to_json(&new.tags),
        new.rerun_of,
        new.retry_of,
        new.time_limit_s.map(|s| s.min(i64::MAX as u64) as i64),
        new.user,
        new.host,
        now_ms(),
    ])?;
    Ok(conn.last_insert_rowid())
}

/// Records `kind` for `job` in the activity log, linked to its run and experiment when they
/// exist.
fn record_job_event(conn: &Connection, kind: &str, user: &str, job: &Job) -> Result<()> {
    let rid: Option<i64> = match &job.run_id {
        Some(run) => conn
            .prepare_cached("SELECT rid FROM runs WHERE id = ?1")?
            .query_row([run], |r| r.get(0))
            .optional()?,
        None => None,
    };
    let experiment_id: Option<i64> = conn
        .prepare_cached("SELECT id FROM experiments WHERE name = ?1")?
        .query_row([&job.experiment], |r| r.get(0))
        .optional()?;
    let detail = serde_json::json!({
        "job": job.id,
        "name": job.name,
        "target": job.target,
        "status": job.status,
        "reason": job.reason,
    });
    record_event(conn, kind, user, rid, experiment_id, Some(detail))
}

/// Applies the fields `update` sets to job `id` (its status already checked).
fn apply_update(conn: &Connection, id: JobId, update: &JobUpdate) -> Result<()> {
    let mut sets: Vec<&str> = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    let mut set = |column: &'static str, value: Value| {
        sets.push(column);
        args.push(value);
    };
    if let Some(status) = update.status {
        set("status", Value::Text(status.as_str().into()));
    }
    if let Some(reason) = &update.reason {
        set("reason", Value::Text(reason.clone()));
    }
    if let Some(gpus) = &update.assigned_gpus {
        set("assigned_gpus", Value::Text(to_json(gpus)));
    }
    if let Some(run_id) = &update.run_id {
        set("run_id", Value::Text(run_id.clone()));
    }
    if let Some(at) = update.started_at {
        set("started_ms", Value::Integer(at));
    }
    if let Some(at) = update.ended_at {
        set("ended_ms", Value::Integer(at));
    }
    if let Some(code) = update.exit_code {
        set("exit_code", Value::Integer(code.into()));
    }
    if let Some(supervisor) = &update.supervisor {
        set("supervisor", Value::Text(to_json(supervisor)));
    }
    if let Some(handle) = &update.handle {
        set("handle", Value::Text(handle.clone()));
    }
    if sets.is_empty() {
        return Ok(());
    }
    let assignments: Vec<String> = sets.iter().map(|c| format!("{c} = ?")).collect();
    args.push(Value::Integer(id));
    conn.prepare_cached(&format!(
        "UPDATE jobs SET {} WHERE id = ?",
        assignments.join(", ")
    ))?
    .execute(params_from_iter(args))?;
    Ok(())
}

/// Whether two records name the same process (host, boot, pid namespace, pid, start time).
fn same_process(a: &Supervisor, b: &Supervisor) -> bool {
    a.host == b.host
        && a.boot_id == b.boot_id
        && a.pid_namespace == b.pid_namespace
        && a.pid == b.pid
        && a.start_ticks == b.start_ticks
}

fn read_lease(conn: &Connection, name: &str) -> Result<Option<Lease>> {
    let row: Option<(String, Millis)> = conn
        .prepare_cached("SELECT holder, expires_ms FROM job_leases WHERE name = ?1")?
        .query_row([name], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    row.map(|(holder, expires_at)| {
        let holder = serde_json::from_str(&holder).map_err(|e| {
            KirokuError::Database(format!("the holder of lease {name} is unreadable: {e}"))
        })?;
        Ok(Lease {
            name: name.to_string(),
            holder,
            expires_at,
        })
    })
    .transpose()
}

fn check_lease_name(name: &str) -> Result<()> {
    if name.trim().is_empty() {
        return Err(KirokuError::Invalid("a lease needs a name".into()));
    }
    Ok(())
}

impl JobStore for SqliteStore {
    fn submit_job(&self, new: &NewJob) -> Result<Job> {
        check_new_job(new)?;
        let name = job_name(new)?;
        self.write(|tx| {
            check_after_jobs_exist(tx, &new.after)?;
            let id = insert_job(tx, new, &name)?;
            let job = read_job(tx, id)?;
            record_job_event(tx, "job.submitted", &new.user, &job)?;
            Ok(job)
        })
    }

    fn job(&self, id: JobId) -> Result<Job> {
        self.read(|c| read_job(c, id))
    }

    fn jobs(&self, query: &JobQuery) -> Result<Vec<Job>> {
        self.read(|c| read_jobs(c, query))
    }

    fn update_job(&self, id: JobId, update: &JobUpdate) -> Result<Option<Job>> {
        self.write(|tx| {
            let before = read_job(tx, id)?;
            if !update.from.is_empty() && !update.from.contains(&before.status) {
                return Ok(None);
            }
            apply_update(tx, id, update)?;
            let after = read_job(tx, id)?;
            if after.status.is_terminal() && after.status != before.status {
                let kind = format!("job.{}", after.status);
                record_job_event(tx, &kind, &after.user, &after)?;
            }
            Ok(Some(after))
        })
    }

    fn request_cancel(&self, id: JobId, user: &str) -> Result<Job> {
        limits::user_name(user)?;
        let reason = match user.trim() {
            "" => "cancelled".to_string(),
            name => format!("cancelled by {name}"),
        };
        self.write(|tx| {
            let job = read_job(tx, id)?;
            match job.status {
                JobStatus::Queued => {
                    tx.prepare_cached(
                        "UPDATE jobs SET status = 'cancelled', reason = ?1, ended_ms = ?2,
                            cancel_requested = 1 WHERE id = ?3",
                    )?
                    .execute(params![reason, now_ms(), id])?;
                    let cancelled = read_job(tx, id)?;
                    record_job_event(tx, "job.cancelled", user, &cancelled)?;
                    Ok(cancelled)
                }
                JobStatus::Starting | JobStatus::Running if !job.cancel_requested => {
                    tx.prepare_cached(
                        "UPDATE jobs SET cancel_requested = 1, reason = ?1 WHERE id = ?2",
                    )?
                    .execute(params![reason, id])?;
                    let asked = read_job(tx, id)?;
                    record_job_event(tx, "job.cancel_requested", user, &asked)?;
                    Ok(asked)
                }
                _ => Ok(job),
            }
        })
    }

    fn acquire_lease(
        &self,
        name: &str,
        holder: &Supervisor,
        now: Millis,
        expires_at: Millis,
        replacing: Option<&Supervisor>,
    ) -> Result<bool> {
        check_lease_name(name)?;
        self.write_unwatched(|tx| {
            let takeable = match read_lease(tx, name)? {
                None => true,
                Some(lease) => {
                    lease.expires_at < now
                        || same_process(&lease.holder, holder)
                        || replacing.is_some_and(|dead| same_process(&lease.holder, dead))
                }
            };
            if takeable {
                tx.prepare_cached(
                    "INSERT INTO job_leases (name, holder, expires_ms) VALUES (?1, ?2, ?3)
                     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder,
                        expires_ms = excluded.expires_ms",
                )?
                .execute(params![name, to_json(holder), expires_at])?;
            }
            Ok(takeable)
        })
    }

    fn release_lease(&self, name: &str, holder: &Supervisor) -> Result<()> {
        self.write_unwatched(|tx| {
            if let Some(lease) = read_lease(tx, name)? {
                if same_process(&lease.holder, holder) {
                    tx.prepare_cached("DELETE FROM job_leases WHERE name = ?1")?
                        .execute([name])?;
                }
            }
            Ok(())
        })
    }

    fn lease(&self, name: &str) -> Result<Option<Lease>> {
        self.read(|c| read_lease(c, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::EventStore;

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join(".kiroku"), false).unwrap();
        (dir, store)
    }

    fn new_job(command: &[&str]) -> NewJob {
        NewJob {
            experiment: "exp".into(),
            target: "local".into(),
            command: command.iter().map(|s| s.to_string()).collect(),
            workdir: "/tmp".into(),
            user: "ana".into(),
            host: "box".into(),
            ..Default::default()
        }
    }

    fn process(pid: u32) -> Supervisor {
        Supervisor {
            host: "box".into(),
            boot_id: "boot".into(),
            pid_namespace: "pid:[1]".into(),
            pid,
            start_ticks: 100 + pid as u64,
            metrics_file: String::new(),
            child: None,
        }
    }

    #[test]
    fn every_field_survives_the_round_trip() {
        let (_dir, s) = store();
        let parent = s.submit_job(&new_job(&["true"])).unwrap();
        let new = NewJob {
            name: Some("train big".into()),
            env: vec![("A".into(), "x y".into())],
            gpus: 2,
            gpu_memory_mb: Some(4096),
            after: vec![parent.id],
            params: vec![("lr".into(), "0.1".into())],
            tags: vec![("team".into(), "nlp".into())],
            rerun_of: Some("abc".into()),
            retry_of: Some(parent.id),
            time_limit_s: Some(60),
            ..new_job(&["python", "train.py", "--lr", "0.1 ; `x`\n$y"])
        };
        let job = s.submit_job(&new).unwrap();
        assert_eq!(job.id, parent.id + 1);
        assert_eq!(
            (job.name.as_str(), job.status, job.reason.as_str()),
            ("train big", JobStatus::Queued, "queued")
        );
        assert_eq!(job.command, new.command);
        assert_eq!(
            (job.env.clone(), job.after.clone(), job.params.clone()),
            (new.env.clone(), new.after.clone(), new.params.clone())
        );
        assert_eq!(
            (job.gpus, job.gpu_memory_mb, job.time_limit_s, job.retry_of),
            (2, Some(4096), Some(60), Some(parent.id))
        );
        let mut update = JobUpdate::from(&[JobStatus::Queued]);
        update.status = Some(JobStatus::Running);
        update.assigned_gpus = Some(vec![1, 3]);
        update.supervisor = Some(Supervisor {
            child: Some(ChildProcess {
                pid: 9,
                start_ticks: 10,
            }),
            ..process(7)
        });
        update.handle = Some("123@box".into());
        let running = s.update_job(job.id, &update).unwrap().unwrap();
        assert_eq!(running.assigned_gpus, vec![1, 3]);
        assert_eq!(running.supervisor, update.supervisor);
        assert_eq!(s.job(job.id).unwrap(), running);
    }

    #[test]
    fn the_name_defaults_to_the_program_file_name() {
        let (_dir, s) = store();
        let job = s
            .submit_job(&new_job(&["/usr/bin/python3", "train.py"]))
            .unwrap();
        assert_eq!(job.name, "python3");
        let blank = NewJob {
            name: Some("  ".into()),
            ..new_job(&["./run.sh"])
        };
        assert_eq!(s.submit_job(&blank).unwrap().name, "run.sh");
        let err = s.submit_job(&new_job(&[])).unwrap_err();
        assert!(err.to_string().contains("command"), "{err}");
    }

    #[test]
    fn unknown_parents_are_named_and_nothing_is_queued() {
        let (_dir, s) = store();
        let parent = s.submit_job(&new_job(&["true"])).unwrap();
        let orphan = NewJob {
            after: vec![parent.id, 41, 43],
            ..new_job(&["true"])
        };
        let err = s.submit_job(&orphan).unwrap_err();
        assert!(matches!(err, KirokuError::NotFound(_)), "{err}");
        assert!(err.to_string().contains("41, 43"), "{err}");
        assert_eq!(s.jobs(&JobQuery::default()).unwrap().len(), 1);
    }

    #[test]
    fn ids_are_never_reused() {
        let (_dir, s) = store();
        let first = s.submit_job(&new_job(&["true"])).unwrap();
        let second = s.submit_job(&new_job(&["true"])).unwrap();
        s.write(|tx| Ok(tx.execute("DELETE FROM jobs WHERE id = ?1", [second.id])?))
            .unwrap();
        let third = s.submit_job(&new_job(&["true"])).unwrap();
        assert_eq!(
            (first.id, second.id, third.id),
            (first.id, first.id + 1, first.id + 2)
        );
    }

    #[test]
    fn a_terminal_move_records_one_event_under_the_owner() {
        let (_dir, s) = store();
        let job = s.submit_job(&new_job(&["true"])).unwrap();
        let mut end = JobUpdate::from(&[JobStatus::Queued]);
        end.status = Some(JobStatus::Failed);
        end.reason = Some("exit code 3".into());
        end.exit_code = Some(3);
        s.update_job(job.id, &end).unwrap().unwrap();
        // Same status again (from empty: any status): no second ending.
        let mut again = JobUpdate::from(&[]);
        again.status = Some(JobStatus::Failed);
        s.update_job(job.id, &again).unwrap().unwrap();
        let kinds: Vec<_> = s
            .events(&EventQuery::default())
            .unwrap()
            .into_iter()
            .map(|e| (e.kind, e.user, e.experiment))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("job.failed".to_string(), "ana".to_string(), None),
                ("job.submitted".to_string(), "ana".to_string(), None)
            ]
        );
    }

    #[test]
    fn lease_changes_do_not_wake_watchers() {
        let (_dir, s) = store();
        let before = s.version().unwrap();
        assert!(s
            .acquire_lease("scheduler@box", &process(1), 1_000, 2_000, None)
            .unwrap());
        assert!(s
            .acquire_lease("scheduler@box", &process(1), 1_500, 2_500, None)
            .unwrap());
        s.release_lease("scheduler@box", &process(1)).unwrap();
        assert_eq!(s.version().unwrap(), before);
        assert_eq!(s.lease("scheduler@box").unwrap(), None);
        s.submit_job(&new_job(&["true"])).unwrap();
        assert_ne!(s.version().unwrap(), before);
    }

    #[test]
    fn a_lease_holder_is_the_process_not_its_metrics_file() {
        let (_dir, s) = store();
        assert!(s.acquire_lease("l", &process(1), 0, 10, None).unwrap());
        let same = Supervisor {
            metrics_file: "/other".into(),
            ..process(1)
        };
        assert!(s.acquire_lease("l", &same, 5, 20, None).unwrap());
        let reused_pid = Supervisor {
            start_ticks: 999,
            ..process(1)
        };
        assert!(!s.acquire_lease("l", &reused_pid, 5, 20, None).unwrap());
        assert_eq!(s.lease("l").unwrap().unwrap().holder, same);
    }
}
