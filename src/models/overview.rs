//! One model as `kiroku model show` and the TUI's Models screen show it: the registered model,
//! each version with its run, its evaluation (status, run, metrics), the gate's verdict for
//! each configured alias and its approvals; the alias history; the hook deliveries.
use super::policy::{metric_values, Verdict};
use super::{evaluation, promote};
use crate::config::models::ModelConfig;
use crate::error::Result;
use crate::model::promotions::{Approval, Evaluation, HookDelivery};
use crate::model::registry::{AliasMove, ModelVersion, RegisteredModel};
use crate::model::Millis;
use crate::store::Store;
use serde::Serialize;
use std::collections::BTreeMap;

/// One version and what kiroku knows of it.
#[derive(Debug, Clone, Serialize)]
pub struct VersionView {
    #[serde(flatten)]
    pub version: ModelVersion,
    pub evaluation: Option<Evaluation>,
    /// The evaluation run's metrics (latest values).
    pub evaluation_metrics: BTreeMap<String, f64>,
    /// The gate of each configured alias, for moving it to this version.
    pub gates: Vec<Verdict>,
    pub approvals: Vec<Approval>,
}

/// One model and what kiroku knows of it.
#[derive(Debug, Clone, Serialize)]
pub struct ModelView {
    pub model: RegisteredModel,
    /// Newest first.
    pub versions: Vec<VersionView>,
    /// Every alias move, oldest first.
    pub history: Vec<AliasMove>,
    /// Newest first.
    pub deliveries: Vec<HookDelivery>,
}

/// How many deliveries a view lists.
const DELIVERIES_SHOWN: u32 = 50;

fn evaluation_metrics(store: &dyn Store, evaluation: Option<&Evaluation>) -> BTreeMap<String, f64> {
    evaluation
        .and_then(|e| e.run_id.as_deref())
        .and_then(|run| store.run(run).ok())
        .map(|detail| metric_values(&detail.run.metrics))
        .unwrap_or_default()
}

/// The view of model `name` (versions `only` alone when given).
pub fn model_view(
    store: &dyn Store,
    settings: &ModelConfig,
    name: &str,
    only: Option<i64>,
    now: Millis,
) -> Result<ModelView> {
    let model = store.registered_model(name)?;
    let evaluations = evaluation::refresh(store, Some(name))?;
    let mut versions = Vec::new();
    let all = match only {
        Some(v) => vec![store.model_version(name, v)?],
        None => store.model_versions(name)?,
    };
    for version in all.into_iter().rev() {
        let key = version.version.to_string();
        let evaluation = evaluation::latest(&evaluations, name, &key).cloned();
        let mut gates = Vec::new();
        for alias in settings.aliases.keys() {
            gates.push(promote::verdict(
                store, settings, name, alias, &version, now,
            )?);
        }
        versions.push(VersionView {
            evaluation_metrics: evaluation_metrics(store, evaluation.as_ref()),
            evaluation,
            gates,
            approvals: store.approvals(name, Some(&key))?,
            version,
        });
    }
    Ok(ModelView {
        history: store.alias_history(name, None)?,
        deliveries: store.deliveries(Some(name), DELIVERIES_SHOWN)?,
        model,
        versions,
    })
}

/// Every registered model, read page by page (`kiroku model ls`, MCP's `list_models`).
pub fn all_models(store: &dyn Store) -> Result<Vec<crate::model::registry::RegisteredModel>> {
    let mut models = Vec::new();
    let mut token = None;
    loop {
        let page = store.search_registered_models(&crate::model::registry::RegistrySearch {
            max_results: Some(1000),
            page_token: token.take(),
            ..Default::default()
        })?;
        models.extend(page.models);
        match page.next_page_token {
            Some(next) => token = Some(next),
            None => return Ok(models),
        }
    }
}
