//! Delivering the hook outbox, at least once. Whoever drains it (the command that moved the
//! alias, right away; the job scheduler's loop; `kiroku model hooks deliver`) claims due
//! deliveries in the store (so two drainers do not take one at once), makes one attempt at each
//! and records it: a webhook is POSTed signed (`webhook`); a command hook is submitted as a job
//! (delivered once the job is queued: what the job then does is the job's record). A failure
//! that may pass (no answer, 408, 429, 5xx, a job refused by a store that is busy) is tried
//! again after `backoff`; after `MAX_ATTEMPTS`, or on a failure that will not pass (another 4xx,
//! a missing secret), the delivery is `failed`.
use super::{hooks, webhook, Submitter};
use crate::error::Result;
use crate::model::promotions::*;
use crate::model::{now_ms, Millis};
use crate::store::Store;

/// How many attempts a delivery gets.
pub const MAX_ATTEMPTS: usize = 8;
/// The wait before the second attempt; each later one waits twice the one before.
pub const FIRST_RETRY_MS: i64 = 2_000;
/// The longest wait between attempts.
pub const MAX_RETRY_MS: i64 = 30 * 60 * 1000;
/// How long a claimed delivery is held from other drainers (longer than one attempt takes).
const CLAIM_HOLD_MS: i64 = 60_000;
/// The most deliveries one drain takes.
const DRAIN_LIMIT: u32 = 100;

/// The wait after `attempts` failed attempts: 2 s, 4 s, 8 s, … at most 30 minutes.
pub fn backoff(attempts: usize) -> i64 {
    let doublings = attempts.saturating_sub(1).min(20) as u32;
    FIRST_RETRY_MS
        .saturating_mul(1_i64 << doublings)
        .min(MAX_RETRY_MS)
}

/// What became of one attempt, before it is recorded.
struct Tried {
    attempt: DeliveryAttempt,
    /// Whether trying again may help.
    retryable: bool,
}

/// Makes one attempt at `delivery`.
fn attempt(
    submitter: &Submitter<'_>,
    client: &reqwest::blocking::Client,
    delivery: &HookDelivery,
    now: Millis,
) -> Tried {
    let d = &delivery.delivery;
    match &d.action {
        HookAction::Webhook { url, secret_env } => {
            let secret = match secret_env {
                None => None,
                Some(name) => match std::env::var(name) {
                    Ok(value) if !value.is_empty() => Some(value),
                    _ => {
                        return Tried {
                            attempt: DeliveryAttempt {
                                at: now,
                                status_code: None,
                                error: Some(format!(
                                "the signing secret's environment variable {name} is not set here"
                            )),
                                job_id: None,
                            },
                            retryable: true,
                        }
                    }
                },
            };
            let body = serde_json::to_vec(&d.payload).expect("a JSON value serialises");
            let outcome = webhook::post(
                client,
                url,
                &d.id,
                now / 1000,
                &body,
                secret.as_deref().map(str::as_bytes),
            );
            Tried {
                retryable: outcome.retryable(),
                attempt: DeliveryAttempt {
                    at: now,
                    status_code: outcome.status_code,
                    error: outcome.error,
                    job_id: None,
                },
            }
        }
        HookAction::Command { command, target } => {
            let env = hooks::command_env(&d.payload, &d.id);
            let target = (!target.is_empty()).then_some(target.as_str());
            let submitted = submitter
                .new_job(
                    &format!("hook {} {}", d.model, d.hook),
                    "model-hooks",
                    command,
                    target,
                    env,
                )
                .and_then(|job| submitter.submit(&job));
            match submitted {
                Ok(job) => Tried {
                    attempt: DeliveryAttempt {
                        at: now,
                        status_code: None,
                        error: None,
                        job_id: Some(job.id),
                    },
                    retryable: false,
                },
                Err(e) => Tried {
                    retryable: !matches!(
                        e,
                        crate::error::KirokuError::Invalid(_)
                            | crate::error::KirokuError::NotFound(_)
                    ),
                    attempt: DeliveryAttempt {
                        at: now,
                        status_code: None,
                        error: Some(format!("submitting the hook's job: {e}")),
                        job_id: None,
                    },
                },
            }
        }
    }
}

/// What to record after `tried`, the delivery having had `earlier` attempts before it.
fn outcome_of(tried: Tried, earlier: usize) -> AttemptOutcome {
    let attempts = earlier + 1;
    let at = tried.attempt.at;
    let (state, next_attempt_at) = if tried.attempt.error.is_none() {
        (DeliveryState::Delivered, None)
    } else if tried.retryable && attempts < MAX_ATTEMPTS {
        (DeliveryState::Pending, Some(at + backoff(attempts)))
    } else {
        (DeliveryState::Failed, None)
    };
    AttemptOutcome {
        attempt: tried.attempt,
        state,
        next_attempt_at,
    }
}

/// Which deliveries a drain takes.
#[derive(Debug, Clone, Default)]
pub enum Take {
    /// Those due now.
    #[default]
    Due,
    /// These, due or not (the ones a command just enqueued), and any others due now.
    These(Vec<String>),
}

/// Claims and attempts deliveries; returns them as recorded after the attempt.
pub fn drain(submitter: &Submitter<'_>, take: &Take) -> Result<Vec<HookDelivery>> {
    let store: &dyn Store = submitter.store;
    let now = now_ms();
    let ids = match take {
        Take::Due => None,
        Take::These(ids) => Some(ids.as_slice()),
    };
    let claimed = store.claim_deliveries(now, CLAIM_HOLD_MS, DRAIN_LIMIT, ids)?;
    if claimed.is_empty() {
        return Ok(Vec::new());
    }
    let client = reqwest::blocking::Client::builder()
        .timeout(webhook::POST_TIMEOUT)
        .build()
        .map_err(|e| {
            crate::error::KirokuError::Invalid(format!("building the HTTP client: {e}"))
        })?;
    let mut out = Vec::with_capacity(claimed.len());
    for delivery in claimed {
        let tried = attempt(submitter, &client, &delivery, now_ms());
        let outcome = outcome_of(tried, delivery.attempts.len());
        out.push(store.record_attempt(&delivery.delivery.id, &outcome)?);
    }
    Ok(out)
}

/// When the next pending delivery is due, if any is (for a drainer deciding how long to sleep).
pub fn next_due(store: &dyn Store) -> Result<Option<Millis>> {
    Ok(store
        .deliveries(None, 1000)?
        .iter()
        .filter(|d| d.state == DeliveryState::Pending)
        .map(|d| d.next_attempt_at)
        .min())
}

/// One turn of the job scheduler's loop (`jobs::scheduler::PassHook`): drains what is due and
/// answers how soon the next pending delivery is due. Errors are reported, never fatal.
pub fn scheduler_pass(submitter: &Submitter<'_>) -> Option<std::time::Duration> {
    if let Err(e) = drain(submitter, &Take::Due) {
        eprintln!("kiroku scheduler: delivering model hooks: {e}");
    }
    match next_due(submitter.store) {
        Ok(Some(due)) => Some(std::time::Duration::from_millis(
            due.saturating_sub(now_ms()).max(0) as u64,
        )),
        Ok(None) => None,
        Err(e) => {
            eprintln!("kiroku scheduler: reading the model hook outbox: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        assert_eq!(backoff(1), 2_000);
        assert_eq!(backoff(2), 4_000);
        assert_eq!(backoff(3), 8_000);
        assert_eq!(backoff(40), MAX_RETRY_MS);
    }

    fn tried(error: Option<&str>, retryable: bool) -> Tried {
        Tried {
            attempt: DeliveryAttempt {
                at: 100,
                status_code: None,
                error: error.map(str::to_string),
                job_id: None,
            },
            retryable,
        }
    }

    #[test]
    fn failures_retry_until_the_last_attempt_or_a_lasting_failure() {
        assert_eq!(
            outcome_of(tried(None, false), 3).state,
            DeliveryState::Delivered
        );
        let again = outcome_of(tried(Some("503"), true), 0);
        assert_eq!(again.state, DeliveryState::Pending);
        assert_eq!(again.next_attempt_at, Some(100 + FIRST_RETRY_MS));
        assert_eq!(
            outcome_of(tried(Some("503"), true), MAX_ATTEMPTS - 1).state,
            DeliveryState::Failed
        );
        assert_eq!(
            outcome_of(tried(Some("404"), false), 0).state,
            DeliveryState::Failed
        );
    }
}
