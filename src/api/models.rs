//! The models domain on kiroku's own API: one request type, `ModelCall`, a variant per
//! `ModelStore` method, sent as JSON (`{"op": "set_alias", …}`) to `POST /api/v1/models/query`
//! (reads, any token) or `POST /api/v1/models/change` (writes). One enum rather than thirty
//! routes keeps the client (`store::http::models`) and the server's dispatch (beside it) two short
//! mirrors of one list; `is_read` is what the server checks the route against.
use crate::model::promotions::{NewDelivery, RemovalHooks};
use crate::model::registry::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ModelCall {
    CreateLoggedModel {
        new: NewLoggedModel,
    },
    LoggedModel {
        model_id: String,
        allow_deleted: bool,
    },
    SearchLoggedModels {
        query: LoggedModelQuery,
    },
    FinalizeLoggedModel {
        model_id: String,
        status: LoggedModelStatus,
    },
    DeleteLoggedModel {
        model_id: String,
    },
    SetLoggedModelTags {
        model_id: String,
        tags: BTreeMap<String, String>,
    },
    DeleteLoggedModelTag {
        model_id: String,
        key: String,
    },
    LogLoggedModelParams {
        model_id: String,
        params: BTreeMap<String, String>,
    },
    CreateRegisteredModel {
        new: NewRegisteredModel,
    },
    RegisteredModel {
        name: String,
    },
    RenameRegisteredModel {
        name: String,
        new_name: String,
    },
    UpdateRegisteredModel {
        name: String,
        description: String,
    },
    DeleteRegisteredModel {
        name: String,
        why: AliasReason,
        hooks: RemovalHooks,
    },
    SearchRegisteredModels {
        search: RegistrySearch,
    },
    SetRegisteredModelTag {
        name: String,
        key: String,
        value: String,
    },
    DeleteRegisteredModelTag {
        name: String,
        key: String,
    },
    CreateModelVersion {
        new: NewModelVersion,
    },
    ModelVersion {
        name: String,
        version: i64,
    },
    ModelVersions {
        name: String,
    },
    UpdateModelVersion {
        name: String,
        version: i64,
        description: String,
    },
    TransitionModelVersionStage {
        name: String,
        version: i64,
        stage: String,
        archive_existing: bool,
    },
    DeleteModelVersion {
        name: String,
        version: i64,
        why: AliasReason,
        hooks: RemovalHooks,
    },
    SearchModelVersions {
        search: RegistrySearch,
    },
    LatestModelVersions {
        name: String,
        stages: Vec<String>,
    },
    SetModelVersionTag {
        name: String,
        version: i64,
        key: String,
        value: String,
    },
    DeleteModelVersionTag {
        name: String,
        version: i64,
        key: String,
    },
    SetAlias {
        name: String,
        alias: String,
        version: i64,
        why: AliasReason,
        /// The move's hook deliveries, queued in its transaction.
        #[serde(default)]
        hooks: Vec<NewDelivery>,
    },
    DeleteAlias {
        name: String,
        alias: String,
        why: AliasReason,
        #[serde(default)]
        hooks: Vec<NewDelivery>,
    },
    VersionByAlias {
        name: String,
        alias: String,
    },
    AliasHistory {
        name: String,
        alias: Option<String>,
    },
    ImportRegisteredModel {
        model: RegisteredModel,
        versions: Vec<ModelVersion>,
        next_version: i64,
        why: AliasReason,
    },
    LogLoggedModelMetrics {
        metrics: Vec<LoggedModelMetric>,
    },
    ImportLoggedModel {
        model: LoggedModel,
    },
}

impl ModelCall {
    /// Whether the call only reads (allowed on `/api/v1/models/query`).
    pub fn is_read(&self) -> bool {
        matches!(
            self,
            ModelCall::LoggedModel { .. }
                | ModelCall::SearchLoggedModels { .. }
                | ModelCall::RegisteredModel { .. }
                | ModelCall::SearchRegisteredModels { .. }
                | ModelCall::ModelVersion { .. }
                | ModelCall::ModelVersions { .. }
                | ModelCall::SearchModelVersions { .. }
                | ModelCall::LatestModelVersions { .. }
                | ModelCall::VersionByAlias { .. }
                | ModelCall::AliasHistory { .. }
        )
    }

    /// The acting user a call records, for the server to replace with the token's.
    pub fn user_mut(&mut self) -> Option<&mut String> {
        match self {
            ModelCall::CreateLoggedModel { new } => Some(&mut new.user),
            ModelCall::CreateRegisteredModel { new } => Some(&mut new.user),
            ModelCall::CreateModelVersion { new } => Some(&mut new.user),
            ModelCall::SetAlias { why, .. }
            | ModelCall::DeleteAlias { why, .. }
            | ModelCall::DeleteRegisteredModel { why, .. }
            | ModelCall::DeleteModelVersion { why, .. } => Some(&mut why.user),
            _ => None,
        }
    }
}
