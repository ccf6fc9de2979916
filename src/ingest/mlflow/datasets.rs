//! MLflow's `log_input` datasets as kiroku dataset versions, for the importer (an `mlflow.db`'s
//! `datasets`/`inputs`/`input_tags` tables, an `mlruns` experiment's `datasets/<id>/meta.yaml`
//! with its runs' `inputs/<id>/meta.yaml`) and for the MLflow API's `runs/log-inputs`.
//!
//! An MLflow dataset has no file kiroku could hash (it names its source, often a DataFrame in
//! memory), so its version id is `mlflow:<digest>` (MLflow's own digest of the data), with
//! `source = "mlflow"`. The rest maps as far as MLflow knows it: the row count from its profile
//! (`num_rows`), the columns and their types from its `mlflow_colspec` schema (null counts
//! unknown, so 0), the path from its source's `uri` (else the source as MLflow wrote it), the
//! format `parquet` when that path ends in `.parquet` and `csv` otherwise, no files and no size.
//! A name kiroku would refuse (`@`, `:`, control characters) has those characters replaced by
//! `-`. The input's name in the run is its `mlflow.data.context` tag (`training`), else the
//! dataset's name. Each input is also recorded as the run's MLflow-style input, as `kiroku log
//! input` does, with the dataset and the input's tags exactly as MLflow logged them (MLflow's
//! API answers `runs/get` and `runs/search` with them).
use crate::error::{KirokuError, Result};
use crate::model::data::{DatasetVersion, RunInput};
use crate::model::{ColumnSchema, ColumnType, DataFormat};
use crate::store::Store;
use serde_json::Value;

pub use crate::model::MlflowDataset;

/// The tag naming how a run used a dataset.
pub const CONTEXT_TAG: &str = MlflowDataset::CONTEXT_TAG;

/// The name as a kiroku dataset name: `@`, `:` and control characters become `-`, surrounding
/// spaces go, an empty name is `dataset`.
fn dataset_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c == '@' || c == ':' || c.is_control() {
                '-'
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        "dataset".to_string()
    } else {
        cleaned
            .chars()
            .take(crate::limits::MAX_DATASET_NAME_LENGTH)
            .collect()
    }
}

/// MLflow's column types (`mlflow.types.DataType`) as kiroku's.
fn column_type(mlflow: &str) -> ColumnType {
    match mlflow {
        "integer" | "long" => ColumnType::Int,
        "float" | "double" => ColumnType::Float,
        "boolean" => ColumnType::Bool,
        "datetime" => ColumnType::Timestamp,
        _ => ColumnType::String,
    }
}

/// The columns of an `{"mlflow_colspec": [{"name": …, "type": …}]}` schema (none for a tensor
/// spec or anything else).
fn columns_of(schema: Option<&str>) -> Vec<ColumnSchema> {
    let Some(Ok(parsed)) = schema.map(serde_json::from_str::<Value>) else {
        return Vec::new();
    };
    parsed
        .get("mlflow_colspec")
        .and_then(Value::as_array)
        .map(|columns| {
            columns
                .iter()
                .enumerate()
                .map(|(index, c)| ColumnSchema {
                    name: c
                        .get("name")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .unwrap_or_else(|| index.to_string()),
                    column_type: column_type(c.get("type").and_then(Value::as_str).unwrap_or("")),
                    null_count: 0,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Where the data was: the source's `uri` (or `path`), else the source as written.
fn path_of(source: &str) -> String {
    serde_json::from_str::<Value>(source)
        .ok()
        .and_then(|v| {
            ["uri", "path"]
                .iter()
                .find_map(|k| v.get(*k).and_then(Value::as_str).map(str::to_string))
        })
        .unwrap_or_else(|| source.to_string())
}

/// The dataset version an MLflow dataset stands for, registered by `user`.
pub fn version_of(dataset: &MlflowDataset, user: &str) -> Result<DatasetVersion> {
    let digest = dataset.digest.trim();
    if digest.is_empty() {
        return Err(KirokuError::Invalid(format!(
            "MLflow dataset '{}' has no digest",
            dataset.name
        )));
    }
    let path = path_of(&dataset.source);
    let row_count = dataset
        .profile
        .as_deref()
        .and_then(|p| serde_json::from_str::<Value>(p).ok())
        .and_then(|p| p.get("num_rows").and_then(Value::as_u64))
        .unwrap_or(0);
    Ok(DatasetVersion {
        id: format!("mlflow:{digest}"),
        dataset: dataset_name(&dataset.name),
        number: 0,
        format: if path.to_ascii_lowercase().ends_with(".parquet") {
            DataFormat::Parquet
        } else {
            DataFormat::Csv
        },
        path,
        size_bytes: 0,
        row_count,
        columns: columns_of(dataset.schema.as_deref()),
        files: Vec::new(),
        created_at: 0,
        created_by: user.to_string(),
        source: Some("mlflow".into()),
    })
}

/// Registers each dataset as a version and binds it to run `run_id` (and records the run's
/// MLflow-style input); returns how many were bound.
pub fn record_inputs(
    store: &dyn Store,
    run_id: &str,
    datasets: &[MlflowDataset],
    user: &str,
) -> Result<usize> {
    let mut bound = Vec::new();
    for dataset in datasets {
        let version = store
            .add_dataset_version(&version_of(dataset, user)?)?
            .version;
        let name = dataset
            .context()
            .filter(|c| !c.trim().is_empty())
            .map_or_else(|| version.dataset.clone(), str::to_string);
        store.add_input(
            run_id,
            &crate::model::LoggedInput {
                dataset: crate::model::LoggedDataset {
                    name: version.dataset.clone(),
                    location: Some(version.path.clone()),
                    hash: dataset.digest.clone(),
                    size: None,
                    rows: dataset.profile.as_ref().map(|_| version.row_count),
                    schema: dataset
                        .schema
                        .as_deref()
                        .and_then(|s| serde_json::from_str(s).ok()),
                },
                context: dataset.context().unwrap_or_default().to_string(),
                mlflow: Some(dataset.clone()),
            },
        )?;
        bound.push(RunInput {
            run_id: run_id.to_string(),
            name,
            dataset: version.dataset.clone(),
            version_id: version.id.clone(),
            path: version.path.clone(),
        });
    }
    store.add_run_inputs(run_id, &bound)?;
    Ok(bound.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_mlflow_dataset_maps_its_digest_rows_columns_and_source() {
        let dataset = MlflowDataset {
            name: "iris@v2: train".into(),
            digest: "a6d8c71e".into(),
            source_type: "local".into(),
            source: r#"{"uri": "data/train.parquet"}"#.into(),
            schema: Some(
                r#"{"mlflow_colspec": [{"type": "long", "name": "a", "required": true}, {"type": "double", "name": "b"}, {"type": "string", "name": "c"}]}"#
                    .into(),
            ),
            profile: Some(r#"{"num_rows": 3, "num_elements": 9}"#.into()),
            tags: vec![(CONTEXT_TAG.into(), "training".into())],
        };
        let v = version_of(&dataset, "ana").unwrap();
        assert_eq!(v.id, "mlflow:a6d8c71e");
        assert_eq!(v.dataset, "iris-v2- train");
        assert_eq!((v.row_count, v.format), (3, DataFormat::Parquet));
        assert_eq!(v.path, "data/train.parquet");
        let types: Vec<_> = v
            .columns
            .iter()
            .map(|c| (c.name.as_str(), c.column_type))
            .collect();
        assert_eq!(
            types,
            vec![
                ("a", ColumnType::Int),
                ("b", ColumnType::Float),
                ("c", ColumnType::String)
            ]
        );
        assert_eq!(v.source.as_deref(), Some("mlflow"));
        let in_memory = MlflowDataset {
            name: "".into(),
            source: r#"{"tags": {"mlflow.user": "root"}}"#.into(),
            schema: None,
            profile: None,
            ..dataset.clone()
        };
        let v = version_of(&in_memory, "ana").unwrap();
        assert_eq!(
            (v.dataset.as_str(), v.row_count, v.format),
            ("dataset", 0, DataFormat::Csv)
        );
        assert!(v.columns.is_empty());
        let no_digest = MlflowDataset {
            digest: " ".into(),
            ..dataset
        };
        assert!(version_of(&no_digest, "ana").is_err());
    }
}
