//! kiroku: a terminal workbench for machine-learning teams.
//!
//! Layers (arrows point down only): `cli` → `wrap`/`supervise` → `ingest`/`query` → `store` → `model`.
pub mod api;
pub mod cli;
pub mod compare;
pub mod config;
pub mod demo_model;
pub mod error;
pub mod ids;
pub mod ingest;
pub mod limits;
pub mod mlflow_names;
pub mod model;
pub mod query;
pub mod series;
pub mod server;
pub mod store;
pub mod supervise;
pub mod tui;
pub mod wrap;
