//! A run's life over MLflow's REST API: `runs/create|get|update|delete|restore|search` and a
//! metric's history (`metrics/get-history`).
//!
//! Creating a run reads MLflow's special tags (name, user, parent, note) into the kiroku run;
//! searches run the query language in its MLflow dialect (`crate::query::dialect`).
use super::experiments::{experiment_by_id, experiment_names, DefaultUse};
use super::wire::{
    decode_token, encode_token, max_results, order_by, pairs_of, parse_status, run_info, run_out,
    text_of, view_type, HistoryPage, Input, MetricOut, OneRun, RunsPage,
};
use super::{ensure_active, get_run, ok, run_not_found, typed, Answer, St, Typed};
use crate::limits::MAX_TAG_VALUE_LENGTH;
use crate::mlflow_names::{NOTE_TAG, PARENT_RUN_TAG, RUN_NAME_TAG, USER_TAG};
use crate::model::{NewNote, NewRun, RunQuery, RunStatus};
use crate::server::auth::Caller;
use crate::server::errors::invalid;
use crate::server::AppState;
use axum::extract::State;
use axum::{Extension, Json};
use serde_json::json;
use std::sync::Arc;

pub(super) async fn create_run(
    State(st): St,
    Extension(c): Extension<Caller>,
    input: Input,
) -> Typed {
    let tags = input.list("tags");
    crate::limits::list_len("tags", tags.len(), crate::limits::MAX_PAIRS_PER_REQUEST)?;
    let tags = pairs_of(&tags, "tag", MAX_TAG_VALUE_LENGTH)?;
    let tag = |k: &str| {
        tags.iter()
            .rev()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let field_name = input.text("run_name").filter(|n| !n.is_empty());
    let name = match (field_name, tag(RUN_NAME_TAG)) {
        (Some(a), Some(b)) if a != b => {
            return Err(invalid(format!(
                "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='{a}', mlflow.runName='{b}')."
            )))
        }
        (Some(a), _) => Some(a),
        (None, b) => b,
    };
    let requested_user = input
        .text("user_id")
        .filter(|u| !u.is_empty())
        .or_else(|| tag(USER_TAG))
        .unwrap_or_default();
    let user = c.user_or(&requested_user);
    let experiment_id = input
        .text("experiment_id")
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| "0".into());
    let experiment = experiment_by_id(&st, &experiment_id, &user, DefaultUse::Create).await?;
    if experiment.deleted {
        return Err(invalid(format!(
            "The experiment {experiment_id} must be in the 'active' state. Current state is deleted."
        )));
    }
    let parent_id = match tag(PARENT_RUN_TAG) {
        Some(p) if crate::ids::is_full_run_id(&p) => {
            let q = p.clone();
            st.call(move |s| s.run(&q).map(|_| ()))
                .await
                .ok()
                .map(|_| p)
        }
        _ => None,
    };
    let note = tag(NOTE_TAG).filter(|n| !n.trim().is_empty());
    let id = crate::ids::new_run_id();
    let name = name.unwrap_or_else(|| crate::ids::friendly_name(&id));
    let mut all_tags = tags.clone();
    if tag(RUN_NAME_TAG).is_none() {
        all_tags.push((RUN_NAME_TAG.to_string(), name.clone()));
    }
    let new = NewRun {
        id: Some(id.clone()),
        experiment: experiment.name.clone(),
        name: Some(name),
        user: user.clone(),
        host: None,
        status: Some(RunStatus::Running),
        start_time: input.int("start_time")?,
        end_time: None,
        parent_id,
        tags: all_tags,
        params: Vec::new(),
        deleted: false,
    };
    let run = st
        .write(move |s| {
            let run = s.create_run(&new)?;
            if let Some(body) = note {
                let n = NewNote {
                    author: user,
                    body,
                    reply_to: None,
                    anchor: None,
                    created_ms: Some(run.start_time),
                };
                s.add_note(&run.id, &n)?;
            }
            Ok(run)
        })
        .await?;
    typed(&OneRun { run: run_out(&run) })
}

pub(super) async fn get_run_route(State(st): St, input: Input) -> Typed {
    let id = input.run_id()?;
    let owned = id.clone();
    let detail = st
        .call(move |s| s.run(&owned))
        .await
        .map_err(run_not_found(&id))?;
    typed(&OneRun {
        run: run_out(&detail.run).with_inputs(&detail.inputs),
    })
}

pub(super) async fn update_run(
    State(st): St,
    Extension(c): Extension<Caller>,
    input: Input,
) -> Answer {
    let id = input.run_id()?;
    let current = get_run(&st, &id).await?;
    ensure_active(&current)?;
    let status = match input.text("status").filter(|s| !s.is_empty()) {
        Some(s) => Some(parse_status(&s)?),
        None => None,
    };
    let end_time = input.int("end_time")?;
    let run_name = input.text("run_name").filter(|n| !n.is_empty());
    let user = c.user_or("");
    let run = st
        .write(move |s| {
            if let Some(name) = &run_name {
                s.rename_run(&id, name, &user)?;
                s.set_tags(&id, &[(RUN_NAME_TAG.to_string(), name.clone())], &user)?;
            }
            if status.is_some() || end_time.is_some() {
                let status = status.unwrap_or(current.status);
                s.set_status_as(&id, status, None, end_time, Some(&user))?;
            }
            s.run(&id).map(|d| d.run)
        })
        .await?;
    Ok(Json(json!({"run_info": run_info(&run)})))
}

pub(super) async fn delete_run(
    State(st): St,
    Extension(c): Extension<Caller>,
    input: Input,
) -> Answer {
    set_deleted(st, c, input, true).await
}

pub(super) async fn restore_run(
    State(st): St,
    Extension(c): Extension<Caller>,
    input: Input,
) -> Answer {
    set_deleted(st, c, input, false).await
}

async fn set_deleted(st: Arc<AppState>, c: Caller, input: Input, deleted: bool) -> Answer {
    let id = input.run_id()?;
    let user = c.user_or("");
    let q = id.clone();
    st.write(move |s| s.set_deleted(&q, deleted, &user))
        .await
        .map_err(run_not_found(&id))?;
    ok()
}

pub(super) async fn search_runs(State(st): St, input: Input) -> Typed {
    let (include_deleted, only_deleted) = view_type(&input, "run_view_type")?;
    let limit = max_results(&input)?;
    let offset = decode_token(&input)?;
    let ids: Vec<String> = input
        .list("experiment_ids")
        .iter()
        .filter_map(text_of)
        .collect();
    let asked_for_some = !ids.is_empty();
    let experiments = experiment_names(&st, ids).await?;
    if asked_for_some && experiments.is_empty() {
        // Every id named no experiment: MLflow answers an empty page (no names would mean
        // every experiment to the store).
        return typed(&RunsPage {
            runs: Vec::new(),
            next_page_token: None,
        });
    }
    let orders = order_by(&input)?;
    let query = RunQuery {
        experiments,
        filter: input.text("filter").filter(|f| !f.trim().is_empty()),
        sort: Some(if orders.is_empty() {
            "start_time desc, run_id".to_string()
        } else {
            orders.join(", ")
        }),
        limit: Some(limit),
        offset,
        include_deleted,
        only_deleted,
        reverse: false,
        dialect: crate::model::QueryDialect::Mlflow,
    };
    // MLflow answers with every run's dataset inputs.
    let (page, inputs) = st
        .call(move |s| {
            let page = s.search_runs(&query)?;
            let ids: Vec<String> = page.runs.iter().map(|r| r.id.clone()).collect();
            let inputs = s.logged_inputs(&ids)?;
            Ok((page, inputs))
        })
        .await?;
    let next = offset.saturating_add(limit);
    let next_page_token = (next < page.total).then(|| encode_token(next));
    typed(&RunsPage {
        runs: page
            .runs
            .iter()
            .zip(&inputs)
            .map(|(run, inputs)| run_out(run).with_inputs(inputs))
            .collect(),
        next_page_token,
    })
}

pub(super) async fn get_history(State(st): St, input: Input) -> Typed {
    let id = input.run_id()?;
    let key = input.required("metric_key")?;
    let max = input
        .int("max_results")?
        .map(|m| {
            crate::limits::page_size("max_results", m, crate::limits::METRIC_HISTORY_MAX_RESULTS)
        })
        .transpose()?;
    let offset = decode_token(&input)? as usize;
    let q = id.clone();
    let k = key.clone();
    let series = st
        .call(move |s| {
            s.run(&q)?;
            s.metric_series(&q, &k)
        })
        .await
        .map_err(run_not_found(&id))?;
    let take = max.map_or(usize::MAX, |m| m as usize);
    let page: Vec<MetricOut> = series
        .iter()
        .skip(offset)
        .take(take)
        .map(|p| MetricOut {
            key: &key,
            value: p.value,
            timestamp: p.timestamp,
            step: p.step,
        })
        .collect();
    let next = offset.saturating_add(take);
    let next_page_token = (max.is_some() && next < series.len()).then(|| encode_token(next as u64));
    typed(&HistoryPage {
        metrics: page,
        next_page_token,
    })
}
