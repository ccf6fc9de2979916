//! Getting data into runs: output scalars, the metrics-file protocol, and MLflow import.
pub mod duplicates;
pub mod files;
pub mod metrics_file;
pub mod mlflow;
pub mod scalars;
