//! Evaluation on registration: each new version of a model whose `[models.NAME]` names an
//! `evaluate` command gets a job running it, with the version in its environment
//! (`KIROKU_MODEL_NAME`, `KIROKU_MODEL_VERSION`, `KIROKU_MODEL_SOURCE`, `KIROKU_MODEL_RUN_ID`,
//! and, when there is a server to log to (`kiroku serve` submitting, or a store that is a
//! server), `MLFLOW_TRACKING_URI` with `MLFLOW_RUN_ID` the job's own run, so that an
//! evaluation script using mlflow logs into it unchanged; a token-protected server gives the job
//! a token of its own for that, `job_tokens`). The job's run is the evaluation run:
//! the metrics it logs (printed `key: value` lines, `KIROKU_METRICS_FILE`, or MLflow) are the
//! version's evaluation metrics, laid over its training run's in gates and listings.
//!
//! Following an evaluation to its job (`refresh`) is `store::model_gate::evaluations`' (the
//! gate needs it, and the server judges gates too). Versions registered through the MLflow API
//! are evaluated as `kiroku serve` registers them (`cli::serve`); those that still have none
//! (registered before `evaluate` was configured) are picked up by `missing`: every `kiroku model`
//! command that lists versions submits their evaluations (see `cli::model`).
use super::{job_tokens, Submitter};
use crate::config::models::EvaluateConfig;
use crate::error::Result;
use crate::model::promotions::Evaluation;
pub use crate::store::model_gate::evaluations::{latest, missing, refresh, VersionToEvaluate};

/// The experiment evaluation runs go to unless `evaluate.experiment` says otherwise.
pub const DEFAULT_EXPERIMENT: &str = "model-eval";

/// What an evaluation's command starts with when it has a server to log to: MLflow's run is the
/// job's own.
const MLFLOW_RUN_OF_JOB: &str = "export MLFLOW_RUN_ID=\"$KIROKU_RUN_ID\"; ";

/// Submits the evaluation job of `version` and records it.
pub fn submit(
    submitter: &Submitter<'_>,
    evaluate: &EvaluateConfig,
    version: &VersionToEvaluate,
) -> Result<Evaluation> {
    let mut env = vec![
        ("KIROKU_MODEL_NAME".to_string(), version.model.clone()),
        ("KIROKU_MODEL_VERSION".to_string(), version.version.clone()),
        ("KIROKU_MODEL_SOURCE".to_string(), version.source.clone()),
        (
            "KIROKU_MODEL_RUN_ID".to_string(),
            version.run_id.clone().unwrap_or_default(),
        ),
    ];
    let name = format!("eval {}/{}", version.model, version.version);
    let mut command = evaluate.command.clone();
    let mut token = None;
    if let Some(uri) = submitter.tracking_uri() {
        env.push(("MLFLOW_TRACKING_URI".to_string(), uri));
        // The job's run exists only once it starts: its id comes from the job's environment.
        command = format!("{MLFLOW_RUN_OF_JOB}{command}");
        // A token-protected server: the job logs back with a token of its own.
        token = match submitter.job_tokens {
            Some(tokens) => tokens.issue(&name)?,
            None => None,
        };
        if let Some(token) = &token {
            env.push((
                job_tokens::TOKEN_FILE_VARIABLE.to_string(),
                token.file.display().to_string(),
            ));
            command = format!("{}{command}", job_tokens::EXPORT_TOKEN);
        }
    }
    let submitted = submitter
        .new_job(
            &name,
            evaluate.experiment.as_deref().unwrap_or(DEFAULT_EXPERIMENT),
            &command,
            evaluate.target.as_deref(),
            env,
        )
        .and_then(|job| submitter.submit(&job));
    if let (Some(token), Some(tokens)) = (&token, submitter.job_tokens) {
        tokens.bind(token.id, submitted.as_ref().ok().map(|job| job.id))?;
    }
    let job = submitted?;
    submitter
        .store
        .add_evaluation(&version.model, &version.version, job.id, &submitter.user)
}
