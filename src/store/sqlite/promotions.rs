//! `PromotionStore` in SQLite: `model_approvals`, `model_evaluations` and `hook_deliveries`
//! (schema v9). Approvals and evaluation submissions record an activity event in the same
//! transaction. Claiming deliveries moves their due time forward in one write transaction, so
//! two drainers (the scheduler and `kiroku model hooks deliver`) do not take the same one at
//! once; a drainer that dies holding one leaves it due again when the hold runs out.
use super::events::record_event;
use super::jobs::{conversion_failure, json_column, to_json};
use super::SqliteStore;
use crate::error::{KirokuError, Result};
use crate::limits;
use crate::model::promotions::*;
use crate::model::{now_ms, JobId, Millis};
use crate::store::PromotionStore;
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Row};

/// The longest model name, version or alias the outbox and approvals accept.
const MAX_NAME_CHARS: usize = 256;

fn check_name(what: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() || value.chars().count() > MAX_NAME_CHARS {
        return Err(KirokuError::Invalid(format!(
            "a {what} is 1 to {MAX_NAME_CHARS} characters, not '{}'",
            crate::model::excerpt(value, 40)
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(KirokuError::Invalid(format!(
            "a {what} has no control characters"
        )));
    }
    Ok(())
}

fn text_enum<T: std::str::FromStr<Err = String>>(r: &Row, column: usize) -> rusqlite::Result<T> {
    let text: String = r.get(column)?;
    text.parse()
        .map_err(|e: String| conversion_failure(column, e))
}

fn verdict_of(text: &str) -> std::result::Result<ApprovalVerdict, String> {
    match text {
        "approved" => Ok(ApprovalVerdict::Approved),
        "rejected" => Ok(ApprovalVerdict::Rejected),
        other => Err(format!("unknown verdict '{other}'")),
    }
}

fn approval_of(r: &Row) -> rusqlite::Result<Approval> {
    let verdict: String = r.get(4)?;
    Ok(Approval {
        id: r.get(0)?,
        approval: NewApproval {
            model: r.get(1)?,
            version: r.get(2)?,
            alias: r.get(3)?,
            verdict: verdict_of(&verdict).map_err(|e| conversion_failure(4, e))?,
            comment: r.get(5)?,
            reviewer: r.get(6)?,
        },
        created_at: r.get(7)?,
    })
}

const APPROVAL_COLUMNS: &str = "id, model, version, alias, verdict, comment, reviewer, created_ms";

fn evaluation_of(r: &Row) -> rusqlite::Result<Evaluation> {
    Ok(Evaluation {
        model: r.get(0)?,
        version: r.get(1)?,
        job_id: r.get(2)?,
        run_id: r.get(3)?,
        status: text_enum(r, 4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

const EVALUATION_COLUMNS: &str = "model, version, job_id, run_id, status, created_ms, updated_ms";

fn delivery_of(r: &Row) -> rusqlite::Result<HookDelivery> {
    Ok(HookDelivery {
        delivery: NewDelivery {
            id: r.get(0)?,
            model: r.get(1)?,
            hook: r.get(2)?,
            action: json_column(r, 3)?,
            payload: json_column(r, 4)?,
        },
        state: text_enum(r, 5)?,
        created_at: r.get(6)?,
        next_attempt_at: r.get(7)?,
        attempts: json_column(r, 8)?,
    })
}

const DELIVERY_COLUMNS: &str =
    "id, model, hook, action, payload, state, created_ms, next_ms, attempts";

fn select_deliveries(conn: &Connection, tail: &str, args: &[Value]) -> Result<Vec<HookDelivery>> {
    let sql = format!("SELECT {DELIVERY_COLUMNS} FROM hook_deliveries {tail}");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(args.iter()), delivery_of)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn read_delivery(conn: &Connection, id: &str) -> Result<HookDelivery> {
    select_deliveries(conn, "WHERE id = ?1", &[Value::Text(id.into())])?
        .into_iter()
        .next()
        .ok_or_else(|| KirokuError::NotFound(format!("no hook delivery {id}")))
}

fn read_evaluation_of_job(conn: &Connection, job_id: JobId) -> Result<Evaluation> {
    conn.query_row(
        &format!("SELECT {EVALUATION_COLUMNS} FROM model_evaluations WHERE job_id = ?1 ORDER BY id DESC LIMIT 1"),
        params![job_id],
        evaluation_of,
    )
    .optional()?
    .ok_or_else(|| KirokuError::NotFound(format!("no model evaluation is job {job_id}")))
}

impl PromotionStore for SqliteStore {
    fn add_approval(&self, approval: &NewApproval) -> Result<Approval> {
        check_name("model name", &approval.model)?;
        check_name("model version", &approval.version)?;
        if let Some(alias) = &approval.alias {
            check_name("alias", alias)?;
        }
        limits::user_name(&approval.reviewer)?;
        limits::note_body(&approval.comment)?;
        if approval.verdict == ApprovalVerdict::Rejected && approval.comment.trim().is_empty() {
            return Err(KirokuError::Invalid(
                "a rejection needs a comment saying why (-m TEXT)".into(),
            ));
        }
        self.write(|tx| {
            let now = now_ms();
            tx.prepare_cached(
                "INSERT INTO model_approvals (model, version, alias, verdict, comment, reviewer, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![
                approval.model,
                approval.version,
                approval.alias,
                approval.verdict.as_str(),
                approval.comment,
                approval.reviewer,
                now
            ])?;
            let id = tx.last_insert_rowid();
            record_event(
                tx,
                &format!("model.{}", approval.verdict),
                &approval.reviewer,
                None,
                None,
                Some(serde_json::json!({
                    "approval": id,
                    "model": approval.model,
                    "version": approval.version,
                    "alias": approval.alias,
                    "comment": approval.comment,
                })),
            )?;
            Ok(Approval {
                id,
                approval: approval.clone(),
                created_at: now,
            })
        })
    }

    fn approvals(&self, model: &str, version: Option<&str>) -> Result<Vec<Approval>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {APPROVAL_COLUMNS} FROM model_approvals
                 WHERE model = ?1 AND (?2 IS NULL OR version = ?2) ORDER BY id"
            ))?;
            let rows = stmt.query_map(params![model, version], approval_of)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn add_evaluation(
        &self,
        model: &str,
        version: &str,
        job_id: JobId,
        user: &str,
    ) -> Result<Evaluation> {
        check_name("model name", model)?;
        limits::user_name(user)?;
        check_name("model version", version)?;
        self.write(|tx| {
            let now = now_ms();
            tx.prepare_cached(
                "INSERT INTO model_evaluations (model, version, job_id, run_id, status, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, NULL, 'pending', ?4, ?4)",
            )?
            .execute(params![model, version, job_id, now])?;
            record_event(
                tx,
                "model.evaluation_submitted",
                user,
                None,
                None,
                Some(serde_json::json!({"model": model, "version": version, "job": job_id})),
            )?;
            read_evaluation_of_job(tx, job_id)
        })
    }

    fn update_evaluation(
        &self,
        job_id: JobId,
        run_id: Option<&str>,
        status: EvaluationStatus,
    ) -> Result<Evaluation> {
        self.write(|tx| {
            let changed = tx
                .prepare_cached(
                    "UPDATE model_evaluations SET run_id = COALESCE(?2, run_id), status = ?3, updated_ms = ?4
                     WHERE id = (SELECT max(id) FROM model_evaluations WHERE job_id = ?1)",
                )?
                .execute(params![job_id, run_id, status.as_str(), now_ms()])?;
            if changed == 0 {
                return Err(KirokuError::NotFound(format!(
                    "no model evaluation is job {job_id}"
                )));
            }
            read_evaluation_of_job(tx, job_id)
        })
    }

    fn evaluations(&self, model: Option<&str>) -> Result<Vec<Evaluation>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {EVALUATION_COLUMNS} FROM model_evaluations
                 WHERE ?1 IS NULL OR model = ?1 ORDER BY id"
            ))?;
            let rows = stmt.query_map(params![model], evaluation_of)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn enqueue_deliveries(&self, deliveries: &[NewDelivery]) -> Result<Vec<HookDelivery>> {
        check_deliveries(deliveries)?;
        self.write(|tx| enqueue(tx, deliveries))
    }

    fn claim_deliveries(
        &self,
        now: Millis,
        hold_ms: i64,
        limit: u32,
        ids: Option<&[String]>,
    ) -> Result<Vec<HookDelivery>> {
        let mut args = vec![Value::Integer(now), Value::Integer(limit as i64)];
        let named = match ids {
            Some(ids) if !ids.is_empty() => {
                let marks: Vec<String> = (0..ids.len()).map(|i| format!("?{}", i + 3)).collect();
                args.extend(ids.iter().map(|id| Value::Text(id.clone())));
                format!(" OR id IN ({})", marks.join(", "))
            }
            _ => String::new(),
        };
        let tail =
            format!("WHERE state = 'pending' AND (next_ms <= ?1{named}) ORDER BY seq LIMIT ?2");
        // Looked for first without the write lock: a drainer with nothing to do (the
        // scheduler, every wake) writes nothing and wakes no watcher.
        if self
            .read(|c| select_deliveries(c, &tail, &args))?
            .is_empty()
        {
            return Ok(Vec::new());
        }
        self.write(|tx| {
            let claimed = select_deliveries(tx, &tail, &args)?;
            let until = now.saturating_add(hold_ms);
            for d in &claimed {
                tx.prepare_cached("UPDATE hook_deliveries SET next_ms = ?2 WHERE id = ?1")?
                    .execute(params![d.delivery.id, until])?;
            }
            Ok(claimed)
        })
    }

    fn record_attempt(&self, id: &str, outcome: &AttemptOutcome) -> Result<HookDelivery> {
        self.write(|tx| {
            let mut delivery = read_delivery(tx, id)?;
            delivery.attempts.push(outcome.attempt.clone());
            let next = outcome.next_attempt_at.unwrap_or(outcome.attempt.at);
            tx.prepare_cached(
                "UPDATE hook_deliveries SET attempts = ?2, state = ?3, next_ms = ?4 WHERE id = ?1",
            )?
            .execute(params![
                id,
                to_json(&delivery.attempts),
                outcome.state.as_str(),
                next
            ])?;
            read_delivery(tx, id)
        })
    }

    fn deliveries(&self, model: Option<&str>, limit: u32) -> Result<Vec<HookDelivery>> {
        self.read(|c| {
            let args = [
                model.map_or(Value::Null, |m| Value::Text(m.into())),
                Value::Integer(limit as i64),
            ];
            select_deliveries(
                c,
                "WHERE ?1 IS NULL OR model = ?1 ORDER BY seq DESC LIMIT ?2",
                &args,
            )
        })
    }
}

/// Refuses deliveries with a bad id, model or hook name (before any write).
pub(super) fn check_deliveries(deliveries: &[NewDelivery]) -> Result<()> {
    for d in deliveries {
        check_name("delivery id", &d.id)?;
        check_name("model name", &d.model)?;
        check_name("hook name", &d.hook)?;
    }
    Ok(())
}

/// Puts `deliveries` in the outbox within the caller's transaction (an alias move's, so the
/// move and its hooks are written together or not at all); ids already there are left alone.
pub(super) fn enqueue(tx: &Connection, deliveries: &[NewDelivery]) -> Result<Vec<HookDelivery>> {
    let now = now_ms();
    let mut out = Vec::with_capacity(deliveries.len());
    for d in deliveries {
        tx.prepare_cached(
            "INSERT INTO hook_deliveries (id, model, hook, action, payload, state, created_ms, next_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6) ON CONFLICT (id) DO NOTHING",
        )?
        .execute(params![
            d.id,
            d.model,
            d.hook,
            to_json(&d.action),
            to_json(&d.payload),
            now
        ])?;
        out.push(read_delivery(tx, &d.id)?);
    }
    Ok(out)
}
