//! Records of kiroku's own side of the model registry (`store::PromotionStore`): reviewers'
//! approvals of a model version for an alias, evaluations of versions (the job that evaluates
//! one and the run it became), and the deploy-hook outbox (one delivery per hook and event, with
//! every attempt). Versions are named as MLflow names them: the model's name and the version as
//! a string (`"3"`).
use super::{JobId, Millis};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A reviewer's verdict on a model version for an alias.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalVerdict {
    Approved,
    Rejected,
}

impl ApprovalVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalVerdict::Approved => "approved",
            ApprovalVerdict::Rejected => "rejected",
        }
    }
}

impl fmt::Display for ApprovalVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `add_approval` is given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewApproval {
    pub model: String,
    pub version: String,
    /// The alias the verdict is for (`production`); None: any alias.
    #[serde(default)]
    pub alias: Option<String>,
    pub verdict: ApprovalVerdict,
    pub comment: String,
    pub reviewer: String,
}

/// An approval as recorded: numbered by the store, stamped with its time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    pub id: i64,
    #[serde(flatten)]
    pub approval: NewApproval,
    pub created_at: Millis,
}

/// Where an evaluation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EvaluationStatus {
    /// Its job is queued or running.
    Pending,
    /// Its job finished; its run's metrics are the version's evaluation metrics.
    Finished,
    /// Its job failed, was cancelled or lost.
    Failed,
}

impl EvaluationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EvaluationStatus::Pending => "pending",
            EvaluationStatus::Finished => "finished",
            EvaluationStatus::Failed => "failed",
        }
    }
}

impl fmt::Display for EvaluationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for EvaluationStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pending" => Ok(EvaluationStatus::Pending),
            "finished" => Ok(EvaluationStatus::Finished),
            "failed" => Ok(EvaluationStatus::Failed),
            other => Err(format!("unknown evaluation status '{other}'")),
        }
    }
}

/// One evaluation of a model version: the job submitted for it and, once it started, its run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub model: String,
    pub version: String,
    pub job_id: JobId,
    #[serde(default)]
    pub run_id: Option<String>,
    pub status: EvaluationStatus,
    pub created_at: Millis,
    #[serde(default)]
    pub updated_at: Millis,
}

/// What a hook does when it fires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum HookAction {
    /// A command submitted as a job on `target` (the event's fields in its environment).
    Command { command: String, target: String },
    /// A signed POST to `url`, keyed by the secret in environment variable `secret_env`.
    Webhook {
        url: String,
        #[serde(default)]
        secret_env: Option<String>,
    },
}

/// The hook templates of the alias removals a deletion (of a version, or of a whole model)
/// causes, one entry per alias it removes (an alias no hook fires on maps to no templates); each
/// removal is a move to no version, its templates completed by `NewDelivery::of_move`.
pub type RemovalHooks = std::collections::BTreeMap<String, Vec<NewDelivery>>;

/// What `enqueue_deliveries` is given: one hook's delivery of one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewDelivery {
    /// The idempotency key the receiver sees (`X-MLflow-Delivery-Id`); unique.
    pub id: String,
    pub model: String,
    /// The hook's name within the model's configuration (`hooks[0]`, or its `name`).
    pub hook: String,
    pub action: HookAction,
    /// The event: `{entity, action, timestamp, data: {...}}`, the webhook's body as sent.
    pub payload: serde_json::Value,
}

impl NewDelivery {
    /// The delivery of alias move `moved` that this template stands for. An alias move's hooks
    /// are decided before the move is made but written in its transaction
    /// (`ModelStore::set_alias`), where the move gets its id: a template's `id` is the hook's
    /// part (`0-webhook`), and the delivery is `move-<move id>-<that>`, its payload's
    /// `timestamp` and `data.{move_id, version, previous_version}` those of the move.
    pub fn of_move(&self, moved: &super::registry::AliasMove) -> NewDelivery {
        let mut payload = self.payload.clone();
        payload["timestamp"] = moved.time.into();
        let version = |v: Option<i64>| v.map_or(serde_json::Value::Null, |v| v.to_string().into());
        if let Some(data) = payload.get_mut("data").and_then(|d| d.as_object_mut()) {
            data.insert("move_id".into(), moved.id.into());
            data.insert("version".into(), version(moved.to_version));
            data.insert("previous_version".into(), version(moved.from_version));
        }
        NewDelivery {
            id: format!("move-{}-{}", moved.id, self.id),
            payload,
            ..self.clone()
        }
    }
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// Not delivered yet: tried again at `next_attempt_at`.
    Pending,
    Delivered,
    /// Given up on after the last allowed attempt.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }
}

impl fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DeliveryState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pending" => Ok(DeliveryState::Pending),
            "delivered" => Ok(DeliveryState::Delivered),
            "failed" => Ok(DeliveryState::Failed),
            other => Err(format!("unknown delivery state '{other}'")),
        }
    }
}

/// One try at a delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    pub at: Millis,
    /// The HTTP status the receiver answered (webhooks).
    #[serde(default)]
    pub status_code: Option<u16>,
    /// Why it failed; None when it succeeded.
    #[serde(default)]
    pub error: Option<String>,
    /// The job a command hook became.
    #[serde(default)]
    pub job_id: Option<JobId>,
}

/// What `record_attempt` is told: the attempt, and what becomes of the delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptOutcome {
    pub attempt: DeliveryAttempt,
    pub state: DeliveryState,
    /// When to try again (state pending).
    #[serde(default)]
    pub next_attempt_at: Option<Millis>,
}

/// A delivery as the outbox holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookDelivery {
    #[serde(flatten)]
    pub delivery: NewDelivery,
    pub state: DeliveryState,
    pub created_at: Millis,
    /// When it is due next (pending), or when it was settled.
    pub next_attempt_at: Millis,
    pub attempts: Vec<DeliveryAttempt>,
}
