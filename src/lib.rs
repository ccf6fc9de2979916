//! kiroku: a terminal workbench for machine-learning teams.
//!
//! Layers (arrows point down only): `cli` → `ingest`/`query` → `store` → `model`.
pub mod query;
pub mod store;
