//! `PromotionStore`: kiroku's own side of the model registry: reviewers' approvals of a model
//! version for an alias, evaluations of versions (the job that evaluates one and the run it
//! became), and the deploy-hook outbox with every delivery attempt. Records are
//! `model::promotions`'s; what a gate makes of them is `models::policy`'s to say, and how a
//! delivery is made is `models::outbox`'s.
use crate::error::Result;
use crate::model::promotions::*;
use crate::model::{JobId, Millis};

pub trait PromotionStore {
    /// Records a verdict on `model`/`version` (for one alias, or any) and a
    /// `model.approved|rejected` event in the activity log. Refuses an empty comment on a
    /// rejection and a bad name or reviewer (`Invalid`).
    fn add_approval(&self, approval: &NewApproval) -> Result<Approval>;
    /// The verdicts on `model` (on `version` alone when given), oldest first.
    fn approvals(&self, model: &str, version: Option<&str>) -> Result<Vec<Approval>>;
    /// Records that job `job_id`, submitted by `user`, evaluates `model`/`version` (status
    /// pending) and a `model.evaluation_submitted` event.
    fn add_evaluation(
        &self,
        model: &str,
        version: &str,
        job_id: JobId,
        user: &str,
    ) -> Result<Evaluation>;
    /// Sets the run and status of the evaluation of job `job_id`; `NotFound` when no
    /// evaluation has that job.
    fn update_evaluation(
        &self,
        job_id: JobId,
        run_id: Option<&str>,
        status: EvaluationStatus,
    ) -> Result<Evaluation>;
    /// Evaluations of `model` (of every model when None), oldest first.
    fn evaluations(&self, model: Option<&str>) -> Result<Vec<Evaluation>>;
    /// Puts deliveries in the outbox, due now (state pending, no attempts). A delivery whose
    /// `id` is already there is left as it is (enqueueing is idempotent on the id).
    fn enqueue_deliveries(&self, deliveries: &[NewDelivery]) -> Result<Vec<HookDelivery>>;
    /// Takes up to `limit` pending deliveries due at `now` (and those named in `ids` even when
    /// not yet due, when given), oldest first, moving each one's due time to `now + hold_ms`
    /// so that another drainer does not take it meanwhile. What the drainer then does is
    /// `record_attempt`.
    fn claim_deliveries(
        &self,
        now: Millis,
        hold_ms: i64,
        limit: u32,
        ids: Option<&[String]>,
    ) -> Result<Vec<HookDelivery>>;
    /// Appends an attempt to delivery `id` and sets its state and next due time.
    fn record_attempt(&self, id: &str, outcome: &AttemptOutcome) -> Result<HookDelivery>;
    /// Deliveries of `model` (of every model when None), newest first, at most `limit`.
    fn deliveries(&self, model: Option<&str>, limit: u32) -> Result<Vec<HookDelivery>>;
}
