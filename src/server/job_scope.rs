//! What a job's own token may write (`models::job_tokens`): only its job's run.
//!
//! A token the server minted for a job it submitted (an evaluation: user `job:eval NAME/VERSION`)
//! reads like any token, but a write must land in the job's run, the one its supervisor
//! created and recorded on the job (`Job::run_id`) before the command started: logging metrics,
//! params, tags, inputs and outputs to it, updating or ending it (MLflow's `runs/*` calls with
//! that `run_id`, kiroku's `/api/v1/runs/{id}/*`), its artifacts, and logged models whose source
//! run it is (created with it as `source_run_id`, then finalized, tagged, given params or files).
//! A metric it logs against a logged model (`model_id` with its run's id, as an evaluation
//! records its scores on the model it evaluated) is its run's write and goes through.
//! Anything else is MLflow's `PERMISSION_DENIED` (403): another run, a new run or experiment,
//! the registry, tokens, jobs. A body that names two runs (`run_id` and `run_uuid`
//! differing) is refused, whichever the handler would take. A job token whose job is not known to this server (a token
//! someone named `job:…`, or minted by an earlier server) may write nothing.
use super::access::{ARTIFACT_PREFIXES, MLFLOW_PREFIXES};
use super::artifacts::{parse_target, Owner};
use super::AppState;
use crate::api::ApiError;
use crate::store::sqlite::tokens::TokenInfo;
use axum::body::Body;
use axum::extract::{FromRequestParts, RawPathParams, Request};
use serde_json::Value;
use std::sync::Arc;

/// MLflow routes whose JSON body names the run they write (`run_id`, or the older `run_uuid`).
const RUN_IN_BODY: &[&str] = &[
    "/runs/update",
    "/runs/log-metric",
    "/runs/log-parameter",
    "/runs/set-tag",
    "/runs/delete-tag",
    "/runs/log-batch",
    "/runs/log-inputs",
    "/runs/outputs",
];

/// kiroku's run routes that write the run named in their path (`/api/v1/runs/{id}/…`): what it
/// logs, then what it says about itself.
const KIROKU_RUN_WRITES: &[&str] = &[
    "metrics",
    "batch",
    "params",
    "tags",
    "tags/remove",
    "artifacts",
    "inputs",
    "status",
    "name",
    "source",
    "environment",
];

/// What a write request writes into.
#[derive(Debug, PartialEq)]
enum Writes {
    /// A run, by id.
    Run(String),
    /// A logged model, by id: allowed when its source run is the job's.
    LoggedModel(String),
    /// A logged model about to be created from this source run (None: from none).
    NewLoggedModel(Option<String>),
    /// Something that is no run's.
    Elsewhere,
}

fn denied(token: &TokenInfo, why: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        "PERMISSION_DENIED",
        format!(
            "the token of '{}' may write only into its job's run: {why}",
            token.user
        ),
    )
}

/// Lets a job token's write through when it writes into its job's run (the request is given
/// back, its body read and put back where it had to be looked into), or refuses it.
pub async fn admit(
    state: &Arc<AppState>,
    token: &TokenInfo,
    template: Option<&str>,
    req: Request,
) -> Result<Request, ApiError> {
    let job = state
        .registry
        .job_of_token
        .as_ref()
        .and_then(|job_of| job_of(token.id))
        .ok_or_else(|| denied(token, "this server knows no job of this token"))?;
    let job = state.call(move |s| s.job(job)).await?;
    let Some(run) = job.run_id else {
        return Err(denied(token, format!("job {} has no run yet", job.id)));
    };
    let (req, writes) = what_it_writes(state, template, req).await?;
    let source_of = |model: &str| {
        let model = model.to_string();
        let state = Arc::clone(state);
        async move {
            state
                .call(move |s| s.logged_model(&model, false))
                .await
                .map(|m| m.source_run_id)
        }
    };
    let target = match &writes {
        Writes::Run(id) => Some(id.clone()),
        Writes::NewLoggedModel(source) => source.clone(),
        Writes::LoggedModel(model) => source_of(model).await?,
        Writes::Elsewhere => None,
    };
    match target {
        Some(id) if id.eq_ignore_ascii_case(&run) => Ok(req),
        Some(id) => Err(denied(token, format!("{id} is not run {run}"))),
        None => Err(denied(token, format!("this is not run {run}"))),
    }
}

/// Where a write request writes, from its route, path and (for MLflow's run calls and logged
/// model creation) its JSON body, which is read and put back.
async fn what_it_writes(
    state: &Arc<AppState>,
    template: Option<&str>,
    req: Request,
) -> Result<(Request, Writes), ApiError> {
    let Some(template) = template else {
        return Ok((req, Writes::Elsewhere));
    };
    // The route's parameters (percent-decoded): `{id}`, `{model_id}`.
    let (mut parts, body) = req.into_parts();
    let params = RawPathParams::from_request_parts(&mut parts, state)
        .await
        .ok();
    let req = Request::from_parts(parts, body);
    let param = |name: &str| {
        params
            .iter()
            .flat_map(|p| p.iter())
            .find(|(key, _)| *key == name)
            .map_or_else(String::new, |(_, value)| value.to_string())
    };
    // The artifact proxy first: MLflow's prefix is a prefix of its prefix.
    if strip_any(template, &ARTIFACT_PREFIXES) == Some("/artifacts/{*path}") {
        // From the path as sent (the nested proxy's wildcard is not among the parameters
        // here): the owner's segments (an experiment, a hex run or model id) need no decoding,
        // and the proxy itself reads the decoded path to the same owner.
        let proxied = strip_any(req.uri().path(), &ARTIFACT_PREFIXES)
            .and_then(|p| p.strip_prefix("/artifacts/"))
            .unwrap_or_default();
        let writes = match parse_target(proxied).map(|t| t.owner) {
            Ok(Owner::Run(run)) => Writes::Run(run),
            Ok(Owner::Model(model)) => Writes::LoggedModel(model),
            Err(_) => Writes::Elsewhere,
        };
        return Ok((req, writes));
    }
    if let Some(route) = strip_any(template, &MLFLOW_PREFIXES) {
        if RUN_IN_BODY.contains(&route) || route == "/logged-models" {
            let (req, body) = json_body(state, req).await?;
            let writes = match route {
                "/logged-models" => named_run(&body, &["source_run_id"])
                    .map_or(Writes::Elsewhere, Writes::NewLoggedModel),
                _ => match named_run(&body, &["run_id", "run_uuid"]) {
                    Some(Some(run)) => Writes::Run(run),
                    _ => Writes::Elsewhere,
                },
            };
            return Ok((req, writes));
        }
        if route.starts_with("/logged-models/{model_id}") {
            return Ok((req, Writes::LoggedModel(param("model_id"))));
        }
        return Ok((req, Writes::Elsewhere));
    }
    if let Some(rest) = template.strip_prefix("/api/v1/runs/{id}/") {
        if KIROKU_RUN_WRITES.contains(&rest) {
            return Ok((req, Writes::Run(param("id"))));
        }
    }
    Ok((req, Writes::Elsewhere))
}

/// The one run a body's `keys` name (an empty one names none, as the handlers read them:
/// `run_id`, else `run_uuid`): None when they name different runs or are not text, which
/// reads as a write elsewhere.
fn named_run(body: &Value, keys: &[&str]) -> Option<Option<String>> {
    let mut named: Option<String> = None;
    for value in keys.iter().filter_map(|k| body.get(k)) {
        let run = match value {
            Value::Null => continue,
            Value::String(run) if run.is_empty() => continue,
            Value::String(run) => run,
            _ => return None,
        };
        match &named {
            Some(seen) if !seen.eq_ignore_ascii_case(run) => return None,
            _ => named = Some(run.clone()),
        }
    }
    Some(named)
}

/// `text` without whichever of `prefixes` it starts with.
fn strip_any<'a>(text: &'a str, prefixes: &[&str]) -> Option<&'a str> {
    prefixes.iter().find_map(|p| text.strip_prefix(p))
}

/// The request's JSON body (read within the server's body limit), and the request with it put
/// back. A body that is not a JSON object reads as an empty one (it names no run).
async fn json_body(state: &Arc<AppState>, req: Request) -> Result<(Request, Value), ApiError> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, state.limits.max_body)
        .await
        .map_err(|e| ApiError::new("INVALID_PARAMETER_VALUE", format!("reading the body: {e}")))?;
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok((Request::from_parts(parts, Body::from(bytes)), value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_body_names_one_run_or_reads_as_elsewhere() {
        let own = "0123456789abcdef0123456789abcdef";
        let other = "fedcba9876543210fedcba9876543210";
        let keys = ["run_id", "run_uuid"];
        assert_eq!(
            named_run(&json!({"run_id": own, "run_uuid": own}), &keys),
            Some(Some(own.to_string()))
        );
        // The handlers take `run_uuid` when `run_id` is empty.
        assert_eq!(
            named_run(&json!({"run_id": "", "run_uuid": other}), &keys),
            Some(Some(other.to_string()))
        );
        // Two runs, or a run that is not text: no way to tell which the handler writes.
        assert_eq!(
            named_run(&json!({"run_id": own, "run_uuid": other}), &keys),
            None
        );
        assert_eq!(named_run(&json!({"run_id": 12}), &keys), None);
        assert_eq!(named_run(&json!({}), &keys), Some(None));
        assert_eq!(named_run(&Value::Null, &keys), Some(None));
    }

    #[test]
    fn every_route_it_lets_write_is_a_write_route_the_server_has() {
        use super::super::access::{table, Access};
        let writes: Vec<String> = table()
            .into_iter()
            .filter(|r| r.access == Access::Write)
            .map(|r| r.template)
            .collect();
        let named = RUN_IN_BODY
            .iter()
            .chain(&["/logged-models"])
            .flat_map(|route| MLFLOW_PREFIXES.map(|prefix| format!("{prefix}{route}")))
            .chain(
                KIROKU_RUN_WRITES
                    .iter()
                    .map(|rest| format!("/api/v1/runs/{{id}}/{rest}")),
            );
        for template in named {
            assert!(writes.contains(&template), "{template}");
        }
    }
}
