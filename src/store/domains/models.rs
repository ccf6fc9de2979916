//! `ModelStore`: MLflow 3 logged models (with their params and tags), the registry (registered
//! models, numbered versions, tags, aliases) and the append-only history of alias moves.
//! Records are `model::registry`'s.
//!
//! Names: a missing model, version or alias is `NotFound` in MLflow's words (`Registered Model
//! with name=x not found`, `Model Version (name=x, version=3) not found`); a name taken is
//! `Conflict` (the MLflow API answers it as `RESOURCE_ALREADY_EXISTS`); a reserved or malformed
//! alias is `Invalid` (`model::alias_name_problem`). Writes that register (a new model, a new
//! version) or move an alias record an activity event in the same transaction
//! (`model.registered`, `model.version_created`, `model.alias_set`, `model.alias_deleted`, …).
use crate::error::Result;
use crate::model::promotions::{NewDelivery, RemovalHooks};
use crate::model::registry::*;
use std::collections::BTreeMap;
use std::path::PathBuf;

pub trait ModelStore {
    // ---- logged models (MLflow 3) ----
    /// Creates a `Pending` logged model with a fresh `m-<hex>` id (and a generated name when
    /// none is given) in an existing experiment; the source run, when named, must exist.
    fn create_logged_model(&self, new: &NewLoggedModel) -> Result<LoggedModel>;
    /// One logged model; a deleted one only with `allow_deleted`.
    fn logged_model(&self, model_id: &str, allow_deleted: bool) -> Result<LoggedModel>;
    /// Logged models matching the query (deleted ones never), newest first unless ordered.
    fn search_logged_models(&self, query: &LoggedModelQuery) -> Result<LoggedModelPage>;
    /// Sets a logged model's status (`Ready` once its files are up, or `UploadFailed`).
    fn finalize_logged_model(
        &self,
        model_id: &str,
        status: LoggedModelStatus,
    ) -> Result<LoggedModel>;
    /// Marks a logged model deleted (its files stay until the store is cleaned).
    fn delete_logged_model(&self, model_id: &str) -> Result<()>;
    /// Sets (or replaces) tags on a logged model.
    fn set_logged_model_tags(&self, model_id: &str, tags: &BTreeMap<String, String>) -> Result<()>;
    /// Removes one tag; `NotFound` when the model has no such tag.
    fn delete_logged_model_tag(&self, model_id: &str, key: &str) -> Result<()>;
    /// Adds params to a logged model (a param, once set, keeps its value: another value is
    /// `Conflict`; the same value again changes nothing).
    fn log_logged_model_params(
        &self,
        model_id: &str,
        params: &BTreeMap<String, String>,
    ) -> Result<()>;
    /// Appends metric values to logged models (each named by its `model_id`, which must exist
    /// and not be deleted: else `NotFound`, nothing written), in one transaction.
    fn log_logged_model_metrics(&self, metrics: &[LoggedModelMetric]) -> Result<()>;
    /// The folder holding a logged model's files (`models/<id>/` in a local store), for the
    /// artifact proxy; `None` for stores that keep no files here (HTTP).
    fn logged_model_dir(&self, model_id: &str) -> Option<PathBuf>;

    // ---- registered models ----
    fn create_registered_model(&self, new: &NewRegisteredModel) -> Result<RegisteredModel>;
    /// One registered model with its tags, aliases and latest version per stage.
    fn registered_model(&self, name: &str) -> Result<RegisteredModel>;
    /// Renames a model; its versions, aliases and alias history follow.
    fn rename_registered_model(&self, name: &str, new_name: &str) -> Result<RegisteredModel>;
    /// Sets a model's description.
    fn update_registered_model(&self, name: &str, description: &str) -> Result<RegisteredModel>;
    /// Deletes a model with its versions, tags and aliases (the alias history stays): each
    /// alias removed is a move to nothing by `why`, with its `hooks` queued in the same
    /// transaction, as `delete_alias` does. `hooks` must name every alias removed (`Conflict`
    /// when one was set since the caller read them). Returns the moves.
    fn delete_registered_model(
        &self,
        name: &str,
        why: &AliasReason,
        hooks: &RemovalHooks,
    ) -> Result<Vec<AliasMove>>;
    /// Registered models matching MLflow's filter (`name`, `tags.<key>` with `=`, `!=`, `LIKE`,
    /// `ILIKE`), ordered (`name`, `creation_timestamp`, `last_updated_timestamp`; by name by
    /// default), a page at a time.
    fn search_registered_models(&self, search: &RegistrySearch) -> Result<RegisteredModelPage>;
    fn set_registered_model_tag(&self, name: &str, key: &str, value: &str) -> Result<()>;
    fn delete_registered_model_tag(&self, name: &str, key: &str) -> Result<()>;

    // ---- versions ----
    /// Registers the next version (never a number used before) of an existing model.
    fn create_model_version(&self, new: &NewModelVersion) -> Result<ModelVersion>;
    fn model_version(&self, name: &str, version: i64) -> Result<ModelVersion>;
    /// Every version of a model (with run id, source, model id, aliases), oldest first;
    /// `NotFound` for an unknown model.
    fn model_versions(&self, name: &str) -> Result<Vec<ModelVersion>>;
    /// Sets a version's description.
    fn update_model_version(
        &self,
        name: &str,
        version: i64,
        description: &str,
    ) -> Result<ModelVersion>;
    /// MLflow's deprecated stages: moves a version to `stage` (`canonical_stage`), and with
    /// `archive_existing` moves the model's other versions in that stage to `Archived`.
    fn transition_model_version_stage(
        &self,
        name: &str,
        version: i64,
        stage: &str,
        archive_existing: bool,
    ) -> Result<ModelVersion>;
    /// Deletes a version; the aliases on it go too, each a move to nothing with its hooks, as
    /// by `delete_registered_model`. Returns the moves.
    fn delete_model_version(
        &self,
        name: &str,
        version: i64,
        why: &AliasReason,
        hooks: &RemovalHooks,
    ) -> Result<Vec<AliasMove>>;
    /// Versions matching MLflow's filter (`name`, `version_number`, `run_id` (also `IN (…)`),
    /// `source_path`, `tags.<key>`), ordered (`version_number`, `name`, `creation_timestamp`,
    /// `last_updated_timestamp`; newest version first by default), a page at a time. Each
    /// carries its run id, source and aliases.
    fn search_model_versions(&self, search: &RegistrySearch) -> Result<ModelVersionPage>;
    /// The newest version of the model in each of `stages` (every stage when empty).
    fn latest_model_versions(&self, name: &str, stages: &[String]) -> Result<Vec<ModelVersion>>;
    fn set_model_version_tag(&self, name: &str, version: i64, key: &str, value: &str)
        -> Result<()>;
    fn delete_model_version_tag(&self, name: &str, version: i64, key: &str) -> Result<()>;

    // ---- aliases ----
    /// Points `alias` of model `name` at `version` (which must exist), appending the move (from
    /// the version it held, if any) to the alias history with `why`, and putting the move's
    /// hook deliveries (`hooks`: templates, `NewDelivery::of_move`) in the outbox, all in one
    /// transaction: a move is never kept without its deliveries. Setting an alias to the
    /// version it already holds is still recorded. Gates are `store::model_gate`'s, the one path
    /// every alias move takes.
    fn set_alias(
        &self,
        name: &str,
        alias: &str,
        version: i64,
        why: &AliasReason,
        hooks: &[NewDelivery],
    ) -> Result<AliasMove>;
    /// Deletes an alias (recorded as a move to `None`, its `hooks` queued with it as by
    /// `set_alias`); `NotFound` when it is not set.
    fn delete_alias(
        &self,
        name: &str,
        alias: &str,
        why: &AliasReason,
        hooks: &[NewDelivery],
    ) -> Result<AliasMove>;
    /// The version an alias points at.
    fn version_by_alias(&self, name: &str, alias: &str) -> Result<ModelVersion>;
    /// The moves of one alias of a model (of all its aliases when `None`), oldest first.
    fn alias_history(&self, name: &str, alias: Option<&str>) -> Result<Vec<AliasMove>>;

    // ---- import ----
    /// Writes a registered model as another registry holds it (`kiroku import mlflow`): its
    /// versions keep their numbers, stages, statuses, users and times; tags and aliases come
    /// along (each alias recorded as a move by `why`); the next new version follows the highest
    /// of `next_version` and the numbers given. Returns `false`, writing nothing, when a model of
    /// that name exists.
    fn import_registered_model(
        &self,
        model: &RegisteredModel,
        versions: &[ModelVersion],
        next_version: i64,
        why: &AliasReason,
    ) -> Result<bool>;
    /// Writes a logged model as another store holds it, keeping its id, status and times (its
    /// experiment must exist); `false`, writing nothing, when the id is taken.
    fn import_logged_model(&self, model: &LoggedModel) -> Result<bool>;
}
