//! `PromotionStore` over HTTP: `/api/v1/promotions/...` (approvals, evaluations, the hook
//! outbox; see `server::kiroku_api`). Names travel in queries and bodies, so any model name does.
use super::HttpStore;
use crate::api::*;
use crate::error::Result;
use crate::model::promotions::*;
use crate::model::{JobId, Millis};
use crate::store::PromotionStore;

impl PromotionStore for HttpStore {
    fn add_approval(&self, approval: &NewApproval) -> Result<Approval> {
        self.post("/promotions/approvals", approval)
    }

    fn approvals(&self, model: &str, version: Option<&str>) -> Result<Vec<Approval>> {
        let mut pairs = vec![("model", model)];
        if let Some(version) = version {
            pairs.push(("version", version));
        }
        self.get("/promotions/approvals", &pairs)
    }

    fn add_evaluation(
        &self,
        model: &str,
        version: &str,
        job_id: JobId,
        user: &str,
    ) -> Result<Evaluation> {
        let body = EvaluationRequest {
            model: model.into(),
            version: version.into(),
            job_id,
            user: user.into(),
        };
        self.post("/promotions/evaluations", &body)
    }

    fn update_evaluation(
        &self,
        job_id: JobId,
        run_id: Option<&str>,
        status: EvaluationStatus,
    ) -> Result<Evaluation> {
        let body = EvaluationUpdateRequest {
            job_id,
            run_id: run_id.map(str::to_string),
            status,
        };
        self.post("/promotions/evaluations/update", &body)
    }

    fn evaluations(&self, model: Option<&str>) -> Result<Vec<Evaluation>> {
        let pairs: Vec<(&str, &str)> = model.map(|m| ("model", m)).into_iter().collect();
        self.get("/promotions/evaluations", &pairs)
    }

    fn enqueue_deliveries(&self, deliveries: &[NewDelivery]) -> Result<Vec<HookDelivery>> {
        self.post("/promotions/deliveries", deliveries)
    }

    fn claim_deliveries(
        &self,
        now: Millis,
        hold_ms: i64,
        limit: u32,
        ids: Option<&[String]>,
    ) -> Result<Vec<HookDelivery>> {
        let body = ClaimRequest {
            now,
            hold_ms,
            limit,
            ids: ids.map(<[String]>::to_vec),
        };
        self.post("/promotions/deliveries/claim", &body)
    }

    fn record_attempt(&self, id: &str, outcome: &AttemptOutcome) -> Result<HookDelivery> {
        let body = AttemptRequest {
            id: id.into(),
            outcome: outcome.clone(),
        };
        self.post("/promotions/deliveries/attempt", &body)
    }

    fn deliveries(&self, model: Option<&str>, limit: u32) -> Result<Vec<HookDelivery>> {
        let limit = limit.to_string();
        let mut pairs = vec![("limit", limit.as_str())];
        if let Some(model) = model {
            pairs.push(("model", model));
        }
        self.get("/promotions/deliveries", &pairs)
    }
}
