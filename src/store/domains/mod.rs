//! The store's domains, one trait each, which `store::Store` combines.
//!
//! Each domain (experiments, runs, metrics, notes, artifacts, supervision, events, jobs, data,
//! pipelines) is a trait
//! of its own here, implemented side by side in `store/sqlite/<domain>.rs` and
//! `store/http/<domain>.rs`, and tested by its module of `tests/store_contract/`. A new
//! domain (jobs, datasets, checks, pipelines, models) adds one trait file here, its two
//! implementations, and one supertrait on `Store`, instead of growing one long list.
//!
//! Code holding a `&dyn Store` (or `S: Store`) calls every domain's methods without naming
//! the domain traits: methods of supertraits resolve through the trait object. Code holding a
//! concrete `SqliteStore` or `HttpStore` needs the domain traits in scope, which
//! `use crate::store::prelude::*` brings.
mod artifacts;
mod data;
mod events;
mod experiments;
mod jobs;
mod metrics;
mod models;
mod notes;
mod pipelines;
mod promotions;
mod runs;
mod supervision;

pub use artifacts::ArtifactStore;
pub use data::DataStore;
pub use events::EventStore;
pub use experiments::ExperimentStore;
pub use jobs::JobStore;
pub use metrics::MetricStore;
pub use models::ModelStore;
pub use notes::NoteStore;
pub use pipelines::PipelineStore;
pub use promotions::PromotionStore;
pub use runs::RunStore;
pub use supervision::SupervisionStore;
