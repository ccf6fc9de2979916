//! `ModelStore` over HTTP, and the server's side of it: every method is one `ModelCall` posted
//! to `/api/v1/models/query` (reads) or `/api/v1/models/change` (writes), and `serve` (which
//! `server::kiroku_api` calls) runs a call against the server's store. The two lists below are
//! mirrors; a method added to the trait adds a variant and a line to each.
use super::HttpStore;
use crate::api::models::ModelCall;
use crate::error::{KirokuError, Result};
use crate::model::promotions::{NewDelivery, RemovalHooks};
use crate::model::registry::*;
use crate::store::{ModelStore, Store};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;

impl HttpStore {
    fn model_call<T: DeserializeOwned>(&self, call: ModelCall) -> Result<T> {
        let path = if call.is_read() {
            "/models/query"
        } else {
            "/models/change"
        };
        self.post(path, &call)
    }

    fn model_change(&self, call: ModelCall) -> Result<()> {
        self.model_call::<Value>(call).map(|_| ())
    }
}

fn owned(map: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    map.clone()
}

impl ModelStore for HttpStore {
    fn create_logged_model(&self, new: &NewLoggedModel) -> Result<LoggedModel> {
        self.model_call(ModelCall::CreateLoggedModel { new: new.clone() })
    }
    fn logged_model(&self, model_id: &str, allow_deleted: bool) -> Result<LoggedModel> {
        self.model_call(ModelCall::LoggedModel {
            model_id: model_id.into(),
            allow_deleted,
        })
    }
    fn search_logged_models(&self, query: &LoggedModelQuery) -> Result<LoggedModelPage> {
        self.model_call(ModelCall::SearchLoggedModels {
            query: query.clone(),
        })
    }
    fn finalize_logged_model(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
    ) -> Result<LoggedModel> {
        self.model_call(ModelCall::FinalizeLoggedModel {
            model_id: model_id.into(),
            status,
        })
    }
    fn delete_logged_model(&self, model_id: &str) -> Result<()> {
        self.model_change(ModelCall::DeleteLoggedModel {
            model_id: model_id.into(),
        })
    }
    fn set_logged_model_tags(&self, model_id: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        self.model_change(ModelCall::SetLoggedModelTags {
            model_id: model_id.into(),
            tags: owned(tags),
        })
    }
    fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()> {
        self.model_change(ModelCall::DeleteLoggedModelTag {
            model_id: model_id.into(),
            key: key.into(),
        })
    }
    fn log_logged_model_params(
        &self,
        model_id: &str,
        params: &BTreeMap<String, String>,
    ) -> Result<()> {
        self.model_change(ModelCall::LogLoggedModelParams {
            model_id: model_id.into(),
            params: owned(params),
        })
    }
    fn log_logged_model_metrics(&self, metrics: &[LoggedModelMetric]) -> Result<()> {
        self.model_change(ModelCall::LogLoggedModelMetrics {
            metrics: metrics.to_vec(),
        })
    }
    fn logged_model_dir(&self, _model_id: &str) -> Option<PathBuf> {
        None
    }
    fn create_registered_model(&self, new: &NewRegisteredModel) -> Result<RegisteredModel> {
        self.model_call(ModelCall::CreateRegisteredModel { new: new.clone() })
    }
    fn registered_model(&self, name: &str) -> Result<RegisteredModel> {
        self.model_call(ModelCall::RegisteredModel { name: name.into() })
    }
    fn rename_registered_model(&self, name: &str, new_name: &str) -> Result<RegisteredModel> {
        self.model_call(ModelCall::RenameRegisteredModel {
            name: name.into(),
            new_name: new_name.into(),
        })
    }
    fn update_registered_model(&self, name: &str, description: &str) -> Result<RegisteredModel> {
        self.model_call(ModelCall::UpdateRegisteredModel {
            name: name.into(),
            description: description.into(),
        })
    }
    fn delete_registered_model(
        &self,
        name: &str,
        why: &AliasReason,
        hooks: &RemovalHooks,
    ) -> Result<Vec<AliasMove>> {
        self.model_call(ModelCall::DeleteRegisteredModel {
            name: name.into(),
            why: why.clone(),
            hooks: hooks.clone(),
        })
    }
    fn search_registered_models(&self, search: &RegistrySearch) -> Result<RegisteredModelPage> {
        self.model_call(ModelCall::SearchRegisteredModels {
            search: search.clone(),
        })
    }
    fn set_registered_model_tag(&self, name: &str, key: &str, value: &str) -> Result<()> {
        self.model_change(ModelCall::SetRegisteredModelTag {
            name: name.into(),
            key: key.into(),
            value: value.into(),
        })
    }
    fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()> {
        self.model_change(ModelCall::DeleteRegisteredModelTag {
            name: name.into(),
            key: key.into(),
        })
    }
    fn create_model_version(&self, new: &NewModelVersion) -> Result<ModelVersion> {
        self.model_call(ModelCall::CreateModelVersion { new: new.clone() })
    }
    fn model_version(&self, name: &str, version: i64) -> Result<ModelVersion> {
        self.model_call(ModelCall::ModelVersion {
            name: name.into(),
            version,
        })
    }
    fn model_versions(&self, name: &str) -> Result<Vec<ModelVersion>> {
        self.model_call(ModelCall::ModelVersions { name: name.into() })
    }
    fn update_model_version(
        &self,
        name: &str,
        version: i64,
        description: &str,
    ) -> Result<ModelVersion> {
        self.model_call(ModelCall::UpdateModelVersion {
            name: name.into(),
            version,
            description: description.into(),
        })
    }
    fn transition_model_version_stage(
        &self,
        name: &str,
        version: i64,
        stage: &str,
        archive_existing: bool,
    ) -> Result<ModelVersion> {
        self.model_call(ModelCall::TransitionModelVersionStage {
            name: name.into(),
            version,
            stage: stage.into(),
            archive_existing,
        })
    }
    fn delete_model_version(
        &self,
        name: &str,
        version: i64,
        why: &AliasReason,
        hooks: &RemovalHooks,
    ) -> Result<Vec<AliasMove>> {
        self.model_call(ModelCall::DeleteModelVersion {
            name: name.into(),
            version,
            why: why.clone(),
            hooks: hooks.clone(),
        })
    }
    fn search_model_versions(&self, search: &RegistrySearch) -> Result<ModelVersionPage> {
        self.model_call(ModelCall::SearchModelVersions {
            search: search.clone(),
        })
    }
    fn latest_model_versions(&self, name: &str, stages: &[String]) -> Result<Vec<ModelVersion>> {
        self.model_call(ModelCall::LatestModelVersions {
            name: name.into(),
            stages: stages.to_vec(),
        })
    }
    fn set_model_version_tag(
        &self,
        name: &str,
        version: i64,
        key: &str,
        value: &str,
    ) -> Result<()> {
        self.model_change(ModelCall::SetModelVersionTag {
            name: name.into(),
            version,
            key: key.into(),
            value: value.into(),
        })
    }
    fn delete_model_version_tag(&self, name: &str, version: i64, key: &str) -> Result<()> {
        self.model_change(ModelCall::DeleteModelVersionTag {
            name: name.into(),
            version,
            key: key.into(),
        })
    }
    fn set_alias(
        &self,
        name: &str,
        alias: &str,
        version: i64,
        why: &AliasReason,
        hooks: &[NewDelivery],
    ) -> Result<AliasMove> {
        self.model_call(ModelCall::SetAlias {
            name: name.into(),
            alias: alias.into(),
            version,
            why: why.clone(),
            hooks: hooks.to_vec(),
        })
    }
    fn delete_alias(
        &self,
        name: &str,
        alias: &str,
        why: &AliasReason,
        hooks: &[NewDelivery],
    ) -> Result<AliasMove> {
        self.model_call(ModelCall::DeleteAlias {
            name: name.into(),
            alias: alias.into(),
            why: why.clone(),
            hooks: hooks.to_vec(),
        })
    }
    fn version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion> {
        self.model_call(ModelCall::VersionByAlias {
            name: name.into(),
            alias: alias.into(),
        })
    }
    fn alias_history(&self, name: &str, alias: Option<&str>) -> Result<Vec<AliasMove>> {
        self.model_call(ModelCall::AliasHistory {
            name: name.into(),
            alias: alias.map(str::to_string),
        })
    }
    fn import_registered_model(
        &self,
        model: &RegisteredModel,
        versions: &[ModelVersion],
        next_version: i64,
        why: &AliasReason,
    ) -> Result<bool> {
        self.model_call(ModelCall::ImportRegisteredModel {
            model: model.clone(),
            versions: versions.to_vec(),
            next_version,
            why: why.clone(),
        })
    }
    fn import_logged_model(&self, model: &LoggedModel) -> Result<bool> {
        self.model_call(ModelCall::ImportLoggedModel {
            model: model.clone(),
        })
    }
}

fn json<T: serde::Serialize>(value: Result<T>) -> Result<Value> {
    value.map(|v| serde_json::to_value(v).expect("plain records serialise to JSON"))
}

/// The server's side: runs `call` against `store`, answering what the method returns (`{}` for
/// nothing) as JSON.
pub fn serve(store: &dyn Store, call: ModelCall) -> Result<Value> {
    use ModelCall as C;
    let unit = |r: Result<()>| r.map(|()| Value::Object(Default::default()));
    match call {
        C::CreateLoggedModel { new } => json(store.create_logged_model(&new)),
        C::LoggedModel {
            model_id,
            allow_deleted,
        } => json(store.logged_model(&model_id, allow_deleted)),
        C::SearchLoggedModels { query } => json(store.search_logged_models(&query)),
        C::FinalizeLoggedModel { model_id, status } => {
            json(store.finalize_logged_model(&model_id, status))
        }
        C::DeleteLoggedModel { model_id } => unit(store.delete_logged_model(&model_id)),
        C::SetLoggedModelTags { model_id, tags } => {
            unit(store.set_logged_model_tags(&model_id, &tags))
        }
        C::DeleteLoggedModelTag { model_id, key } => {
            unit(store.delete_logged_model_tag(&model_id, &key))
        }
        C::LogLoggedModelParams { model_id, params } => {
            unit(store.log_logged_model_params(&model_id, &params))
        }
        C::CreateRegisteredModel { new } => json(store.create_registered_model(&new)),
        C::RegisteredModel { name } => json(store.registered_model(&name)),
        C::RenameRegisteredModel { name, new_name } => {
            json(store.rename_registered_model(&name, &new_name))
        }
        C::UpdateRegisteredModel { name, description } => {
            json(store.update_registered_model(&name, &description))
        }
        C::DeleteRegisteredModel { name, why, hooks } => {
            json(store.delete_registered_model(&name, &why, &hooks))
        }
        C::SearchRegisteredModels { search } => json(store.search_registered_models(&search)),
        C::SetRegisteredModelTag { name, key, value } => {
            unit(store.set_registered_model_tag(&name, &key, &value))
        }
        C::DeleteRegisteredModelTag { name, key } => {
            unit(store.delete_registered_model_tag(&name, &key))
        }
        C::CreateModelVersion { new } => json(store.create_model_version(&new)),
        C::ModelVersion { name, version } => json(store.model_version(&name, version)),
        C::ModelVersions { name } => json(store.model_versions(&name)),
        C::UpdateModelVersion {
            name,
            version,
            description,
        } => json(store.update_model_version(&name, version, &description)),
        C::TransitionModelVersionStage {
            name,
            version,
            stage,
            archive_existing,
        } => json(store.transition_model_version_stage(&name, version, &stage, archive_existing)),
        C::DeleteModelVersion {
            name,
            version,
            why,
            hooks,
        } => json(store.delete_model_version(&name, version, &why, &hooks)),
        C::SearchModelVersions { search } => json(store.search_model_versions(&search)),
        C::LatestModelVersions { name, stages } => {
            json(store.latest_model_versions(&name, &stages))
        }
        C::SetModelVersionTag {
            name,
            version,
            key,
            value,
        } => unit(store.set_model_version_tag(&name, version, &key, &value)),
        C::DeleteModelVersionTag { name, version, key } => {
            unit(store.delete_model_version_tag(&name, version, &key))
        }
        C::SetAlias {
            name,
            alias,
            version,
            why,
            hooks,
        } => json(store.set_alias(&name, &alias, version, &why, &hooks)),
        C::DeleteAlias {
            name,
            alias,
            why,
            hooks,
        } => json(store.delete_alias(&name, &alias, &why, &hooks)),
        C::VersionByAlias { name, alias } => json(store.version_by_alias(&name, &alias)),
        C::AliasHistory { name, alias } => json(store.alias_history(&name, alias.as_deref())),
        C::ImportRegisteredModel {
            model,
            versions,
            next_version,
            why,
        } => json(store.import_registered_model(&model, &versions, next_version, &why)),
        C::LogLoggedModelMetrics { metrics } => unit(store.log_logged_model_metrics(&metrics)),
        C::ImportLoggedModel { model } => json(store.import_logged_model(&model)),
    }
}

/// A write sent to the read-only route.
pub fn not_a_read() -> KirokuError {
    KirokuError::Invalid("this call changes the store: send it to /api/v1/models/change".into())
}
