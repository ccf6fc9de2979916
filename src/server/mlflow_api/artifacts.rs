//! MLflow's `artifacts/list` for a run.
//!
//! The listing itself (and the artifact proxy, `mlflow-artifacts/*`) is `server::artifacts`;
//! this file only finds the run and its `mlflow-artifacts:` root as MLflow names it.
use super::wire::{run_info, Input};
use super::{get_run, Answer, St};
use axum::extract::State;

pub(super) async fn list_artifacts(State(st): St, input: Input) -> Answer {
    let id = input.run_id()?;
    let run = get_run(&st, &id).await?;
    let root_uri = run_info(&run).artifact_uri;
    let path = input.text("path");
    crate::server::artifacts::list_run_artifacts(&st, &run.id, root_uri, path.as_deref()).await
}
