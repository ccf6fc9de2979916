//! A run's declared inputs: registering a CSV or Parquet file (or a folder of them) as a dataset
//! version, and binding versions to runs. `kiroku data add`, `kiroku run --input NAME=PATH`,
//! `kiroku log input NAME=PATH` and the metrics file's `{"inputs": {"NAME": "PATH"}}` lines all
//! come through here, so they register the same version for the same bytes.
//!
//! An input is recorded twice: in the data domain (`DataStore::add_run_inputs`, the version
//! with its checks) and as the run's MLflow-style input (`ingest::files::log_input`), which
//! MLflow clients read on the run and the query language filters on (`datasets.name`).
use crate::checks::profile::{profile_path, DatasetProfile};
use crate::error::{KirokuError, Result};
use crate::limits;
use crate::model::data::{DatasetVersion, RunInput};
use crate::model::AddedVersion;
use crate::store::Store;
use std::path::{Path, PathBuf};

/// The version a profile describes, as dataset `dataset`, registered by `user` (the store
/// numbers and stamps it).
pub fn version_of_profile(profile: DatasetProfile, dataset: &str, user: &str) -> DatasetVersion {
    DatasetVersion {
        id: profile.id,
        dataset: dataset.to_string(),
        number: 0,
        path: profile.path,
        format: profile.format,
        size_bytes: profile.size_bytes,
        row_count: profile.row_count,
        columns: profile.columns,
        files: profile.files,
        created_at: 0,
        created_by: user.to_string(),
        source: None,
    }
}

/// Reads `path` and registers it as a version of `dataset` (the existing version when the same
/// bytes are already one).
pub fn register_path(
    store: &dyn Store,
    dataset: &str,
    path: &Path,
    user: &str,
) -> Result<AddedVersion> {
    limits::dataset_name(dataset)?;
    let profile = profile_path(path)?;
    store.add_dataset_version(&version_of_profile(profile, dataset, user))
}

/// `NAME=PATH` (what `--input` and `kiroku log input` take), split; `what` names the flag for
/// messages.
pub fn parse_input_spec(spec: &str, what: &str) -> Result<(String, PathBuf)> {
    match spec.split_once('=') {
        Some((name, path)) if !name.trim().is_empty() && !path.is_empty() => {
            let name = name.trim().to_string();
            limits::dataset_name(&name)
                .map_err(|e| KirokuError::Invalid(format!("{what} '{spec}': {e}")))?;
            Ok((name, PathBuf::from(path)))
        }
        _ => Err(KirokuError::Invalid(format!(
            "{what} '{spec}' is not NAME=PATH (a dataset name and a CSV or Parquet file or folder)"
        ))),
    }
}

/// A dataset registered for a run, not yet bound (the run may not exist yet).
#[derive(Debug, Clone)]
pub struct PreparedInput {
    pub name: String,
    /// The path as the user wrote it.
    pub path: String,
    pub version: DatasetVersion,
}

/// Registers each `NAME=PATH` as a version of dataset NAME, before a run starts.
pub fn prepare_inputs(
    store: &dyn Store,
    specs: &[(String, PathBuf)],
    user: &str,
) -> Result<Vec<PreparedInput>> {
    specs
        .iter()
        .map(|(name, path)| {
            let added = register_path(store, name, path, user)
                .map_err(|e| with_input_context(e, name, path))?;
            Ok(PreparedInput {
                name: name.clone(),
                path: path.display().to_string(),
                version: added.version,
            })
        })
        .collect()
}

/// Names the input in an error about it.
fn with_input_context(e: KirokuError, name: &str, path: &Path) -> KirokuError {
    match e {
        KirokuError::Invalid(m) => {
            KirokuError::Invalid(format!("input {name}={}: {m}", path.display()))
        }
        KirokuError::NotFound(m) => {
            KirokuError::NotFound(format!("input {name}={}: {m}", path.display()))
        }
        other => other,
    }
}

/// Binds prepared inputs to run `run_id`, in both records (see the module doc).
pub fn bind_inputs(store: &dyn Store, run_id: &str, inputs: &[PreparedInput]) -> Result<()> {
    let bound: Vec<RunInput> = inputs
        .iter()
        .map(|input| RunInput {
            run_id: run_id.to_string(),
            name: input.name.clone(),
            dataset: input.version.dataset.clone(),
            version_id: input.version.id.clone(),
            path: input.path.clone(),
        })
        .collect();
    store.add_run_inputs(run_id, &bound)?;
    for input in inputs {
        store.add_input(run_id, &mlflow_style_input(input))?;
    }
    Ok(())
}

/// The run's MLflow-style record of an input: the dataset's name, its content hash (the hex
/// digits of the version id), size, rows and columns, and the input's name as its context.
fn mlflow_style_input(input: &PreparedInput) -> crate::model::LoggedInput {
    let version = &input.version;
    let columns: Vec<&str> = version.columns.iter().map(|c| c.name.as_str()).collect();
    crate::model::LoggedInput {
        dataset: crate::model::LoggedDataset {
            name: version.dataset.clone(),
            location: Some(version.path.clone()),
            hash: version
                .id
                .split_once(':')
                .map_or(version.id.as_str(), |(_, hex)| hex)
                .to_string(),
            size: Some(version.size_bytes),
            rows: Some(version.row_count),
            schema: Some(serde_json::json!({ "columns": columns })),
        },
        context: if input.name == version.dataset {
            String::new()
        } else {
            input.name.clone()
        },
        mlflow: None,
    }
}

/// Registers and binds `NAME=PATH` inputs to an existing run (`kiroku log input`, the metrics
/// file); relative paths are taken from `base`.
pub fn declare_inputs(
    store: &dyn Store,
    run_id: &str,
    specs: &[(String, PathBuf)],
    base: &Path,
    user: &str,
) -> Result<Vec<PreparedInput>> {
    let absolute: Vec<(String, PathBuf)> = specs
        .iter()
        .map(|(name, path)| (name.clone(), base.join(path)))
        .collect();
    let mut prepared = prepare_inputs(store, &absolute, user)?;
    for (input, (_, given)) in prepared.iter_mut().zip(specs) {
        input.path = given.display().to_string();
    }
    bind_inputs(store, run_id, &prepared)?;
    Ok(prepared)
}
