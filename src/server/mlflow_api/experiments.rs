//! MLflow's `experiments/*` endpoints: create, get (by id or name), search with MLflow's
//! experiment filter grammar, rename, delete, restore and experiment tags.
//!
//! MLflow ids are kiroku's integer ids as strings; `"0"` is the `Default` experiment, made by
//! the first write that needs it and only shown (never made) by reads. Experiment filters are
//! MLflow's small grammar (`name LIKE 'x%' AND tags.team = 'nlp'`), read by the query
//! language's lexer in MLflow's dialect (`crate::query::parse_experiment_filter`).
use super::wire::{
    decode_token, encode_token, experiment_json, max_results, order_by, text_of,
    validate_mlflow_key, view_type, Input,
};
use super::{ok, Answer, St};
use crate::api::ApiError;
use crate::error::KirokuError;
use crate::limits::MAX_EXPERIMENT_TAG_VALUE_LENGTH;
use crate::mlflow_names::DEFAULT_EXPERIMENT;
use crate::model::Experiment;
use crate::query::{ExperimentCondition, ExperimentField, ExperimentTest, ExperimentValue};
use crate::server::auth::Caller;
use crate::server::errors::{invalid, not_found};
use crate::server::AppState;
use axum::extract::State;
use axum::{Extension, Json};
use serde_json::{json, Value};
use std::sync::Arc;

/// What a request does with the `Default` experiment (`"0"`) when it does not exist yet.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum DefaultUse {
    /// A write: make it, as MLflow's server always has it.
    Create,
    /// A read: show it as it will be made, and write nothing (reads never write).
    Show,
}

/// The `Default` experiment as a read shows it before anything made it: empty, id 0.
fn unmade_default() -> Experiment {
    Experiment {
        id: 0,
        name: DEFAULT_EXPERIMENT.to_string(),
        description: None,
        deleted: false,
        created_ms: 0,
        updated_ms: 0,
        run_count: 0,
        tags: Default::default(),
    }
}

/// The experiment an MLflow id names, among `all`; `"0"` is the `Default` experiment (kiroku
/// makes it with id 0; a store made before that has it under another id, found by name).
fn find_experiment(all: &[Experiment], id: &str) -> Result<Option<Experiment>, ApiError> {
    let n: i64 = id
        .trim()
        .parse()
        .map_err(|_| invalid(format!("Invalid experiment id '{id}': must be an integer")))?;
    Ok(all
        .iter()
        .find(|e| e.id == n)
        .or_else(|| all.iter().find(|e| n == 0 && e.name == DEFAULT_EXPERIMENT))
        .cloned())
}

/// The experiment an MLflow id names; `"0"` is the `Default` experiment, made on first write
/// (`DefaultUse::Create`) and only shown by reads.
pub(super) async fn experiment_by_id(
    st: &Arc<AppState>,
    id: &str,
    user: &str,
    default: DefaultUse,
) -> Result<Experiment, ApiError> {
    let all = st.call(|s| s.experiments(true)).await?;
    if let Some(e) = find_experiment(&all, id)? {
        return Ok(e);
    }
    if id.trim().parse::<i64>() != Ok(0) {
        return Err(not_found(format!("No Experiment with id={id} exists")));
    }
    match default {
        DefaultUse::Show => Ok(unmade_default()),
        DefaultUse::Create => {
            let user = user.to_string();
            st.write(move |s| match s.experiment(DEFAULT_EXPERIMENT) {
                Err(KirokuError::NotFound(_)) => s.create_experiment(DEFAULT_EXPERIMENT, &user),
                other => other,
            })
            .await
        }
    }
}

/// The names of the experiments a search names by MLflow id: repeats count once, at most
/// `MAX_EXPERIMENTS_PER_SEARCH`, all looked up in one listing (an unmade `Default` is kept
/// by name: it matches no run). As MLflow does, an id naming no experiment is skipped (a
/// malformed id is still a 400).
pub(super) async fn experiment_names(
    st: &Arc<AppState>,
    ids: Vec<String>,
) -> Result<Vec<String>, ApiError> {
    let ids = crate::limits::experiment_refs(ids)?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let all = st.call(|s| s.experiments(true)).await?;
    let mut names = Vec::with_capacity(ids.len());
    for id in &ids {
        match find_experiment(&all, id)? {
            Some(e) => names.push(e.name),
            None if id.trim().parse::<i64>() == Ok(0) => names.push(DEFAULT_EXPERIMENT.to_string()),
            None => {}
        }
    }
    Ok(names)
}

pub(super) async fn create_experiment(
    State(st): St,
    Extension(c): Extension<Caller>,
    input: Input,
) -> Answer {
    let name = input.required("name")?;
    crate::limits::experiment_name(&name)?;
    let tags = input.list("tags");
    crate::limits::list_len("tags", tags.len(), crate::limits::MAX_PAIRS_PER_REQUEST)?;
    let tags = experiment_tags_of(&tags)?;
    let user = c.user_or("");
    let created = st
        .write(move |s| {
            let e = s.create_experiment(&name, &user)?;
            if !tags.is_empty() {
                s.set_experiment_tags(&e.id.to_string(), &tags, &user)?;
            }
            Ok(e)
        })
        .await
        .map_err(|e| match e.kind.as_deref() {
            Some("conflict") => ApiError::new("RESOURCE_ALREADY_EXISTS", e.message),
            _ => e,
        })?;
    Ok(Json(json!({"experiment_id": created.id.to_string()})))
}

/// MLflow's `_validate_experiment_tag`: a run-tag key rule, values up to 20,000 characters
/// (refused past that, not truncated).
fn experiment_tags_of(items: &[Value]) -> Result<Vec<(String, String)>, ApiError> {
    items
        .iter()
        .map(|item| {
            let key = item.get("key").and_then(text_of).unwrap_or_default();
            validate_mlflow_key(&key, "tag")?;
            let value = item.get("value").and_then(text_of).unwrap_or_default();
            if value.chars().count() > MAX_EXPERIMENT_TAG_VALUE_LENGTH {
                return Err(invalid(format!(
                    "'value' exceeds the maximum length of {MAX_EXPERIMENT_TAG_VALUE_LENGTH} characters"
                )));
            }
            Ok((key, value))
        })
        .collect()
}

pub(super) async fn set_experiment_tag(
    State(st): St,
    Extension(c): Extension<Caller>,
    input: Input,
) -> Answer {
    let id = input.required("experiment_id")?;
    let tags = experiment_tags_of(&[Value::Object(input.0.clone())])?;
    let user = c.user_or("");
    let e = experiment_by_id(&st, &id, &user, DefaultUse::Create).await?;
    st.write(move |s| s.set_experiment_tags(&e.id.to_string(), &tags, &user))
        .await?;
    ok()
}

pub(super) async fn delete_experiment_tag(
    State(st): St,
    Extension(c): Extension<Caller>,
    input: Input,
) -> Answer {
    let id = input.required("experiment_id")?;
    let key = input.required("key")?;
    let user = c.user_or("");
    let e = experiment_by_id(&st, &id, &user, DefaultUse::Show).await?;
    st.write(move |s| s.remove_experiment_tags(&e.id.to_string(), &[key], &user))
        .await?;
    ok()
}

pub(super) async fn get_experiment(
    State(st): St,
    Extension(c): Extension<Caller>,
    input: Input,
) -> Answer {
    let id = input.required("experiment_id")?;
    let e = experiment_by_id(&st, &id, &c.user_or(""), DefaultUse::Show).await?;
    Ok(Json(json!({"experiment": experiment_json(&e)})))
}

pub(super) async fn get_experiment_by_name(State(st): St, input: Input) -> Answer {
    let name = input.required("experiment_name")?;
    let all = st.call(|s| s.experiments(true)).await?;
    let mut matching: Vec<&Experiment> = all.iter().filter(|e| e.name == name).collect();
    matching.sort_by_key(|e| e.deleted);
    match matching.first() {
        Some(e) => Ok(Json(json!({"experiment": experiment_json(e)}))),
        None => Err(not_found(format!(
            "Could not find experiment with name '{name}'"
        ))),
    }
}

/// SQL `LIKE` (`%`, `_`) as a regex, case-sensitive unless `ci`; built once per clause, not
/// once per experiment.
/// A `LIKE` pattern as a regular expression over the whole text (`%` any run, `_` one
/// character). `ILIKE` compares ASCII-lowercased text, as SQLite's `lower()` does for MLflow.
fn like_regex(pattern: &str) -> Result<regex::Regex, ApiError> {
    let mut re = String::from("(?s)^");
    for c in pattern.chars() {
        match c {
            '%' => re.push_str(".*"),
            '_' => re.push('.'),
            other => re.push_str(&regex::escape(&other.to_string())),
        }
    }
    re.push('$');
    regex::Regex::new(&re).map_err(|_| invalid("Invalid LIKE pattern: too large or malformed"))
}

/// A parsed condition, its `LIKE` pattern compiled.
struct Clause {
    condition: ExperimentCondition,
    like: Option<(regex::Regex, bool)>,
}

/// Reads a filter with the query language's experiment grammar in MLflow's dialect.
fn parse_filter(filter: &str) -> Result<Vec<Clause>, ApiError> {
    let conditions = crate::query::parse_experiment_filter(filter, crate::query::Dialect::Mlflow)
        .map_err(|e| invalid(format!("Invalid experiment filter '{filter}': {e}")))?;
    conditions
        .into_iter()
        .map(|condition| {
            let like = match &condition.test {
                ExperimentTest::Like {
                    pattern,
                    case_insensitive,
                } => {
                    let pattern = if *case_insensitive {
                        pattern.to_ascii_lowercase()
                    } else {
                        pattern.clone()
                    };
                    Some((like_regex(&pattern)?, *case_insensitive))
                }
                _ => None,
            };
            Ok(Clause { condition, like })
        })
        .collect()
}

/// Whether `e` satisfies every clause, with the semantics of MLflow's SQL store: an
/// experiment without the tag matches no tag comparison.
fn experiment_matches(e: &Experiment, clauses: &[Clause]) -> bool {
    clauses.iter().all(|c| {
        let id = e.id.to_string();
        let text: Option<&str> = match &c.condition.field {
            ExperimentField::Name => Some(&e.name),
            ExperimentField::ExperimentId => Some(&id),
            ExperimentField::Tag(k) => e.tags.get(k).map(String::as_str),
            ExperimentField::CreationTime | ExperimentField::LastUpdateTime => None,
        };
        let number = match c.condition.field {
            ExperimentField::CreationTime => Some(e.created_ms),
            ExperimentField::LastUpdateTime => Some(e.updated_ms),
            _ => None,
        };
        match &c.condition.test {
            ExperimentTest::IsNull { negated } => text.is_some() == *negated,
            ExperimentTest::Like { .. } => match (text, &c.like) {
                (Some(t), Some((re, true))) => re.is_match(&t.to_ascii_lowercase()),
                (Some(t), Some((re, false))) => re.is_match(t),
                _ => false,
            },
            ExperimentTest::In { values, negated } => {
                text.is_some_and(|t| values.iter().any(|v| v == t) != *negated)
            }
            ExperimentTest::Compare { op, value } => match (value, text, number) {
                (ExperimentValue::Text(v), Some(t), _) => op.holds(t, v.as_str()),
                (ExperimentValue::Number(v), _, Some(n)) => op.holds(&n, v),
                _ => false,
            },
        }
    })
}

pub(super) async fn search_experiments(State(st): St, input: Input) -> Answer {
    let (include_deleted, only_deleted) = view_type(&input, "view_type")?;
    let limit = max_results(&input)? as usize;
    let offset = decode_token(&input)? as usize;
    let clauses = parse_filter(&input.text("filter").unwrap_or_default())?;
    let mut all: Vec<Experiment> = st
        .call(move |s| s.experiments(include_deleted))
        .await?
        .into_iter()
        .filter(|e| !only_deleted || e.deleted)
        .collect();
    let mut keep: Vec<Experiment> = all
        .drain(..)
        .filter(|e| experiment_matches(e, &clauses))
        .collect();
    let orders = order_by(&input)?;
    // MLflow's order: the keys asked for (else newest first), then the id.
    if orders.is_empty() {
        keep.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then(a.id.cmp(&b.id)));
    } else {
        keep.sort_by_key(|e| e.id);
    }
    for order in orders.iter().rev() {
        let mut words = order.split_whitespace();
        let field = words
            .next()
            .unwrap_or("")
            .trim_start_matches("attributes.")
            .trim_start_matches("attribute.")
            .to_ascii_lowercase();
        let desc = words.next().is_some_and(|w| w.eq_ignore_ascii_case("desc"));
        let key = |e: &Experiment| -> (i64, String) {
            match field.as_str() {
                "name" => (0, e.name.clone()),
                "creation_time" => (e.created_ms, String::new()),
                "last_update_time" => (e.updated_ms, String::new()),
                _ => (e.id, String::new()),
            }
        };
        if !matches!(
            field.as_str(),
            "name" | "creation_time" | "last_update_time" | "experiment_id"
        ) {
            return Err(invalid(format!("Invalid order_by clause '{order}'")));
        }
        keep.sort_by(|a, b| {
            let o = key(a).cmp(&key(b));
            if desc {
                o.reverse()
            } else {
                o
            }
        });
    }
    let page: Vec<Value> = keep
        .iter()
        .skip(offset)
        .take(limit)
        .map(experiment_json)
        .collect();
    let mut out = json!({"experiments": page});
    let next = offset.saturating_add(limit);
    if next < keep.len() {
        out["next_page_token"] = json!(encode_token(next as u64));
    }
    Ok(Json(out))
}

pub(super) async fn update_experiment(
    State(st): St,
    Extension(c): Extension<Caller>,
    input: Input,
) -> Answer {
    let id = input.required("experiment_id")?;
    let new_name = input.required("new_name")?;
    crate::limits::experiment_name(&new_name)?;
    let user = c.user_or("");
    let e = experiment_by_id(&st, &id, &user, DefaultUse::Create).await?;
    st.write(move |s| s.rename_experiment(&e.name, &new_name, &user))
        .await
        .map_err(|e| match e.kind.as_deref() {
            Some("conflict") => ApiError::new("RESOURCE_ALREADY_EXISTS", e.message),
            _ => e,
        })?;
    ok()
}

pub(super) async fn delete_experiment(
    State(st): St,
    Extension(c): Extension<Caller>,
    input: Input,
) -> Answer {
    let id = input.required("experiment_id")?;
    let user = c.user_or("");
    let e = experiment_by_id(&st, &id, &user, DefaultUse::Show).await?;
    if id.trim() == "0" || e.name == DEFAULT_EXPERIMENT {
        return Err(invalid(
            "Cannot delete the default experiment '0'. This is an internally reserved experiment.",
        ));
    }
    st.write(move |s| s.delete_experiment(&e.name, &user))
        .await?;
    ok()
}

pub(super) async fn restore_experiment(
    State(st): St,
    Extension(c): Extension<Caller>,
    input: Input,
) -> Answer {
    let id = input.required("experiment_id")?;
    let user = c.user_or("");
    let e = experiment_by_id(&st, &id, &user, DefaultUse::Show).await?;
    st.write(move |s| s.restore_experiment(&e.name, &user))
        .await?;
    ok()
}
