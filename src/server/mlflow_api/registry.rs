//! MLflow's model registry (`registered-models/*`, `model-versions/*`), over `ModelStore`.
//!
//! Versions are numbers in the store and strings on the wire. Errors are MLflow's: an unknown
//! model or version is `RESOURCE_DOES_NOT_EXIST` with MLflow's message, a name taken is
//! `RESOURCE_ALREADY_EXISTS`, a reserved alias (`latest`, `v<N>`) `INVALID_PARAMETER_VALUE`.
//! Aliases are filled in every answer that carries versions, searches included (MLflow's own
//! server leaves them out of `model-versions/search`, mlflow#9783).
//!
//! An alias moved through this API takes the one path every move takes
//! (`store::model_gate::alias_move`) with the settings `kiroku serve` read (`[models]` of the
//! project's `kiroku.toml` beside the store): the alias's gate is judged, a refusal is
//! `INVALID_STATE` (400) listing every failing condition, and an allowed move (or a deletion) is
//! recorded in the alias history with the reason `via MLflow API` and its hook deliveries queued
//! in the same transaction (the server's drainer delivers them). A version created here gets its
//! evaluation and `version_created` hooks from `RegistrySettings::version_created`.
use super::wire::{int_of, text_of, Input};
use super::{ok, typed, Answer, St, Typed};
use crate::api::ApiError;
use crate::model::registry::*;
use crate::server::auth::Caller;
use crate::server::errors::invalid;
use crate::store::model_gate::alias_move;
use axum::extract::State;
use axum::{Extension, Json};
use serde::Serialize;
use serde_json::json;
use std::collections::BTreeMap;

/// The reason recorded for alias moves made through MLflow's API.
pub const MLFLOW_ALIAS_REASON: &str = "via MLflow API";

/// A name taken (the store's `Conflict`) as MLflow answers it.
fn already_exists(e: ApiError) -> ApiError {
    if e.kind.as_deref() == Some("conflict") {
        ApiError::new("RESOURCE_ALREADY_EXISTS", e.message)
    } else {
        e
    }
}

/// `[{key, value}]`, as MLflow lists tags.
#[derive(Serialize)]
struct TagOut<'a> {
    key: &'a str,
    value: &'a str,
}

fn tags_out(tags: &BTreeMap<String, String>) -> Vec<TagOut<'_>> {
    tags.iter()
        .map(|(key, value)| TagOut { key, value })
        .collect()
}

/// A version as MLflow's `ModelVersion` message, the fields MLflow's server fills (empty
/// optional ones left out), serialised straight from the record (no JSON tree is built: a
/// search answers 10,000 of them).
#[derive(Serialize)]
pub(super) struct VersionOut<'a> {
    name: &'a str,
    version: String,
    creation_timestamp: i64,
    last_updated_timestamp: i64,
    #[serde(skip_serializing_if = "str::is_empty")]
    user_id: &'a str,
    current_stage: &'a str,
    description: &'a str,
    source: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    run_id: Option<&'a str>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_message: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<TagOut<'a>>,
    /// Left out when empty (MLflow's server writes `""`): the client reads a missing `run_link`
    /// as `""` all the same, and parses one field less per version of a 10,000-version page.
    #[serde(skip_serializing_if = "str::is_empty")]
    run_link: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    aliases: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    model_id: Option<&'a str>,
}

pub(super) fn version_out(v: &ModelVersion) -> VersionOut<'_> {
    VersionOut {
        name: &v.name,
        version: v.version.to_string(),
        creation_timestamp: v.created_at,
        last_updated_timestamp: v.updated_at,
        user_id: &v.user,
        current_stage: &v.stage,
        description: &v.description,
        source: &v.source,
        run_id: v.run_id.as_deref(),
        status: v.status.mlflow_name(),
        status_message: v.status_message.as_deref(),
        tags: tags_out(&v.tags),
        run_link: &v.run_link,
        aliases: &v.aliases,
        model_id: v.model_id.as_deref(),
    }
}

/// `{alias, version}`, as a registered model lists its aliases.
#[derive(Serialize)]
struct AliasOut<'a> {
    alias: &'a str,
    version: String,
}

/// A registered model as MLflow's `RegisteredModel` message.
#[derive(Serialize)]
struct ModelOut<'a> {
    name: &'a str,
    creation_timestamp: i64,
    last_updated_timestamp: i64,
    #[serde(skip_serializing_if = "str::is_empty")]
    user_id: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    latest_versions: Vec<VersionOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<TagOut<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    aliases: Vec<AliasOut<'a>>,
}

fn model_out(m: &RegisteredModel) -> ModelOut<'_> {
    ModelOut {
        name: &m.name,
        creation_timestamp: m.created_at,
        last_updated_timestamp: m.updated_at,
        user_id: &m.user,
        description: &m.description,
        latest_versions: m.latest_versions.iter().map(version_out).collect(),
        tags: tags_out(&m.tags),
        aliases: m
            .aliases
            .iter()
            .map(|(alias, v)| AliasOut {
                alias,
                version: v.to_string(),
            })
            .collect(),
    }
}

#[derive(Serialize)]
struct OneModel<'a> {
    registered_model: ModelOut<'a>,
}

#[derive(Serialize)]
struct OneVersion<'a> {
    model_version: VersionOut<'a>,
}

/// A page of a registry search: `{field: items}` plus `next_page_token` when there is one.
#[derive(Serialize)]
struct Page<T> {
    #[serde(flatten)]
    items: BTreeMap<&'static str, Vec<T>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

fn search_page<T: Serialize>(
    field: &'static str,
    items: Vec<T>,
    next_page_token: Option<String>,
) -> Typed {
    typed(&Page {
        items: BTreeMap::from([(field, items)]),
        next_page_token,
    })
}

fn model_answer(m: &RegisteredModel) -> Typed {
    typed(&OneModel {
        registered_model: model_out(m),
    })
}

fn version_answer(v: &ModelVersion) -> Typed {
    typed(&OneVersion {
        model_version: version_out(v),
    })
}

/// The version number a request names (MLflow sends a string).
fn version_of(input: &Input) -> Result<i64, ApiError> {
    let text = input.required("version")?;
    text.trim().parse::<i64>().map_err(|_| {
        invalid(format!(
            "Parameter 'version' must be an integer, got '{text}'."
        ))
    })
}

fn tags_of(input: &Input) -> Result<BTreeMap<String, String>, ApiError> {
    let mut out = BTreeMap::new();
    for item in input.list("tags").iter() {
        let key = item.get("key").and_then(text_of).unwrap_or_default();
        if key.is_empty() {
            return Err(invalid("Missing value for required parameter 'tags.key'."));
        }
        out.insert(key, item.get("value").and_then(text_of).unwrap_or_default());
    }
    Ok(out)
}

/// `filter`, `order_by` (repeated), `max_results`, `page_token` of a registry search.
fn search_of(input: &Input) -> Result<RegistrySearch, ApiError> {
    let max_results = match input.0.get("max_results") {
        Some(v) => match int_of(v, "max_results")? {
            Some(n) if n < 1 => {
                return Err(invalid(format!(
                    "Invalid value {n} for parameter 'max_results' supplied. It must be a positive integer"
                )))
            }
            other => other.map(|n| n.min(u32::MAX as i64) as u32),
        },
        None => None,
    };
    Ok(RegistrySearch {
        filter: input.text("filter").filter(|f| !f.trim().is_empty()),
        order_by: input.list("order_by").iter().filter_map(text_of).collect(),
        max_results,
        page_token: input.text("page_token").filter(|t| !t.is_empty()),
    })
}

fn asked(c: &Caller) -> alias_move::Asked {
    alias_move::Asked {
        user: c.user_or(""),
        reason: MLFLOW_ALIAS_REASON.into(),
    }
}

// ---- registered models ----

pub(super) async fn create_model(
    State(st): St,
    Extension(c): Extension<Caller>,
    input: Input,
) -> Typed {
    let new = NewRegisteredModel {
        name: input.required("name")?,
        description: input.text("description").unwrap_or_default(),
        tags: tags_of(&input)?,
        user: c.user_or(""),
    };
    let model = st
        .write(move |s| s.create_registered_model(&new))
        .await
        .map_err(already_exists)?;
    model_answer(&model)
}

pub(super) async fn get_model(State(st): St, input: Input) -> Typed {
    let name = input.required("name")?;
    model_answer(&st.call(move |s| s.registered_model(&name)).await?)
}

pub(super) async fn rename_model(State(st): St, input: Input) -> Typed {
    let name = input.required("name")?;
    let new_name = input.required("new_name")?;
    let model = st
        .write(move |s| s.rename_registered_model(&name, &new_name))
        .await
        .map_err(already_exists)?;
    model_answer(&model)
}

pub(super) async fn update_model(State(st): St, input: Input) -> Typed {
    let name = input.required("name")?;
    let description = input.text("description").unwrap_or_default();
    model_answer(
        &st.write(move |s| s.update_registered_model(&name, &description))
            .await?,
    )
}

pub(super) async fn delete_model(
    State(st): St,
    Extension(c): Extension<Caller>,
    input: Input,
) -> Answer {
    let name = input.required("name")?;
    let settings = st.registry.model(&name)?;
    let asked = asked(&c);
    let removed = st
        .write(move |s| alias_move::delete_model(s, &settings, &name, &asked))
        .await?;
    hooks_queued(&st, &removed.delivery_ids);
    ok()
}

pub(super) async fn search_models(State(st): St, input: Input) -> Typed {
    let search = search_of(&input)?;
    let page = st
        .call(move |s| s.search_registered_models(&search))
        .await?;
    let models = page.models.iter().map(model_out).collect();
    search_page("registered_models", models, page.next_page_token)
}

pub(super) async fn latest_versions(State(st): St, input: Input) -> Typed {
    let name = input.required("name")?;
    let stages: Vec<String> = input.list("stages").iter().filter_map(text_of).collect();
    let versions = st
        .call(move |s| s.latest_model_versions(&name, &stages))
        .await?;
    search_page(
        "model_versions",
        versions.iter().map(version_out).collect(),
        None,
    )
}

pub(super) async fn set_model_tag(State(st): St, input: Input) -> Answer {
    let name = input.required("name")?;
    let key = input.required("key")?;
    let value = input.text("value").unwrap_or_default();
    st.write(move |s| s.set_registered_model_tag(&name, &key, &value))
        .await?;
    ok()
}

pub(super) async fn delete_model_tag(State(st): St, input: Input) -> Answer {
    let name = input.required("name")?;
    let key = input.required("key")?;
    st.write(move |s| s.delete_registered_model_tag(&name, &key))
        .await?;
    ok()
}

// ---- aliases ----

pub(super) async fn set_alias(
    State(st): St,
    Extension(c): Extension<Caller>,
    input: Input,
) -> Answer {
    let name = input.required("name")?;
    let alias = input.required("alias")?;
    let version = version_of(&input)?;
    let settings = st.registry.model(&name)?;
    let asked = asked(&c);
    let model = name.clone();
    let made = st
        .write(move |s| alias_move::promote(s, &settings, &name, &alias, version, &asked, false))
        .await?;
    if let Some(refusal) = made.verdict.refusal(&model) {
        return Err(ApiError::new("INVALID_STATE", refusal));
    }
    hooks_queued(&st, &made.delivery_ids);
    ok()
}

pub(super) async fn delete_alias(
    State(st): St,
    Extension(c): Extension<Caller>,
    input: Input,
) -> Answer {
    let name = input.required("name")?;
    let alias = input.required("alias")?;
    let settings = st.registry.model(&name)?;
    let asked = asked(&c);
    let (_, ids) = st
        .write(move |s| alias_move::delete(s, &settings, &name, &alias, &asked))
        .await?;
    hooks_queued(&st, &ids);
    ok()
}

/// Wakes the outbox drainer when a move queued deliveries.
fn hooks_queued(st: &crate::server::AppState, ids: &[String]) {
    if let (false, Some(wake)) = (ids.is_empty(), &st.registry.hooks_queued) {
        wake();
    }
}

pub(super) async fn get_by_alias(State(st): St, input: Input) -> Typed {
    let name = input.required("name")?;
    let alias = input.required("alias")?;
    // MLflow answers an alias that is not set with INVALID_PARAMETER_VALUE (an unknown model
    // stays RESOURCE_DOES_NOT_EXIST).
    let found = st
        .call(move |s| s.version_by_alias(&name, &alias))
        .await
        .map_err(|e| {
            if e.status() == 404 && e.message.starts_with("Registered model alias") {
                invalid(e.message)
            } else {
                e
            }
        })?;
    version_answer(&found)
}

// ---- versions ----

pub(super) async fn create_version(
    State(st): St,
    Extension(c): Extension<Caller>,
    input: Input,
) -> Typed {
    let new = NewModelVersion {
        name: input.required("name")?,
        source: input.required("source")?,
        run_id: input.text("run_id").filter(|r| !r.is_empty()),
        model_id: input.text("model_id").filter(|m| !m.is_empty()),
        tags: tags_of(&input)?,
        run_link: input.text("run_link").unwrap_or_default(),
        description: input.text("description").unwrap_or_default(),
        user: c.user_or(""),
    };
    let created = st.write(move |s| s.create_model_version(&new)).await?;
    if let Some(registered) = &st.registry.version_created {
        // It may submit a job: off the reactor, as store calls are.
        tokio::task::block_in_place(|| registered(&created));
    }
    version_answer(&created)
}

pub(super) async fn get_version(State(st): St, input: Input) -> Typed {
    let name = input.required("name")?;
    let version = version_of(&input)?;
    version_answer(&st.call(move |s| s.model_version(&name, version)).await?)
}

pub(super) async fn update_version(State(st): St, input: Input) -> Typed {
    let name = input.required("name")?;
    let version = version_of(&input)?;
    let description = input.text("description").unwrap_or_default();
    version_answer(
        &st.write(move |s| s.update_model_version(&name, version, &description))
            .await?,
    )
}

pub(super) async fn transition_stage(State(st): St, input: Input) -> Typed {
    let name = input.required("name")?;
    let version = version_of(&input)?;
    let stage = input.required("stage")?;
    let archive = input.text("archive_existing_versions").as_deref() == Some("true");
    version_answer(
        &st.write(move |s| s.transition_model_version_stage(&name, version, &stage, archive))
            .await?,
    )
}

pub(super) async fn delete_version(
    State(st): St,
    Extension(c): Extension<Caller>,
    input: Input,
) -> Answer {
    let name = input.required("name")?;
    let version = version_of(&input)?;
    let settings = st.registry.model(&name)?;
    let asked = asked(&c);
    let removed = st
        .write(move |s| alias_move::delete_version(s, &settings, &name, version, &asked))
        .await?;
    hooks_queued(&st, &removed.delivery_ids);
    ok()
}

pub(super) async fn search_versions(State(st): St, input: Input) -> Typed {
    let search = search_of(&input)?;
    let page = st.call(move |s| s.search_model_versions(&search)).await?;
    let versions = page.versions.iter().map(version_out).collect();
    search_page("model_versions", versions, page.next_page_token)
}

pub(super) async fn set_version_tag(State(st): St, input: Input) -> Answer {
    let name = input.required("name")?;
    let version = version_of(&input)?;
    let key = input.required("key")?;
    let value = input.text("value").unwrap_or_default();
    st.write(move |s| s.set_model_version_tag(&name, version, &key, &value))
        .await?;
    ok()
}

pub(super) async fn delete_version_tag(State(st): St, input: Input) -> Answer {
    let name = input.required("name")?;
    let version = version_of(&input)?;
    let key = input.required("key")?;
    st.write(move |s| s.delete_model_version_tag(&name, version, &key))
        .await?;
    ok()
}

/// Where a version's files are, as a URI the client's artifact repositories read:
/// `models:/<model id>` becomes the logged model's `mlflow-artifacts:` location,
/// `runs:/<run>/<path>` the run's; anything else is the source itself.
pub(super) async fn download_uri(State(st): St, input: Input) -> Answer {
    let name = input.required("name")?;
    let version = version_of(&input)?;
    let found = st.call(move |s| s.model_version(&name, version)).await?;
    let uri = resolve_source(&st, &found).await?;
    Ok(Json(json!({"artifact_uri": uri})))
}

async fn resolve_source(
    st: &std::sync::Arc<crate::server::AppState>,
    v: &ModelVersion,
) -> Result<String, ApiError> {
    if let Some(model_id) = v
        .source
        .strip_prefix("models:/")
        .filter(|id| id.starts_with("m-") && !id.contains('/'))
    {
        let id = model_id.to_string();
        let model = st.call(move |s| s.logged_model(&id, true)).await?;
        return Ok(model.artifact_location);
    }
    if let Some(rest) = v.source.strip_prefix("runs:/") {
        let (run_id, path) = rest.split_once('/').unwrap_or((rest, ""));
        let run = super::get_run(st, run_id).await?;
        let root = super::wire::run_info(&run).artifact_uri;
        return Ok(if path.is_empty() {
            root
        } else {
            format!("{root}/{path}")
        });
    }
    Ok(v.source.clone())
}
