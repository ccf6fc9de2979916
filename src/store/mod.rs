//! The project store: the `Store` trait that the rest of kiroku talks to, and where a store is.
//!
//! `SqliteStore` implements it over an embedded database; `HttpStore` talks to `kiroku serve`.
//! The trait therefore speaks only in `model` types: no SQLite (or HTTP) types cross it, and
//! every method is a whole operation (no transactions held open by callers).
//!
//! `Store` combines one trait per domain (`domains`: experiments, runs, metrics, notes,
//! artifacts, supervision, events, jobs); each domain's SQLite and HTTP implementations sit side by
//! side in `sqlite/<domain>.rs` and `http/<domain>.rs`.
pub mod checks_gate;
pub mod discover;
pub mod domains;
pub mod http;
pub mod model_gate;
pub mod origin;
pub mod run_files;
pub mod sqlite;
pub mod synthetic;

use std::path::PathBuf;

pub use discover::{open_store, resolve_location, StoreLocation};
pub use domains::ModelStore;
pub use domains::PipelineStore;
pub use domains::PromotionStore;
pub use domains::{
    ArtifactStore, DataStore, EventStore, ExperimentStore, JobStore, MetricStore, NoteStore,
    RunStore, SupervisionStore,
};
pub use sqlite::SqliteStore;

/// `Store` and every domain trait, for code that calls store methods on a concrete
/// `SqliteStore` or `HttpStore` (a `dyn Store` needs only `Store`): `use crate::store::prelude::*`.
pub mod prelude {
    pub use super::domains::*;
    pub use super::Store;
}

/// Environment variable names that look like secrets are never stored.
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL"]
        .iter()
        .any(|word| upper.contains(word))
}

/// The whole store: every domain (see `domains`), plus where the store is. Callers take
/// `&dyn Store` or `Arc<dyn Store>` and call any domain's methods on it.
pub trait Store:
    ExperimentStore
    + RunStore
    + MetricStore
    + NoteStore
    + ArtifactStore
    + SupervisionStore
    + JobStore
    + DataStore
    + ModelStore
    + EventStore
    + PipelineStore
    + PromotionStore
    + Send
    + Sync
{
    /// Where the store is, for messages (`/proj/.kiroku`, later `http://host:port`).
    fn describe(&self) -> String;
    /// The folder holding a run's logs and copied artifacts, when the store is local.
    fn run_dir(&self, run_id: &str) -> Option<PathBuf>;
    /// Runs `f`, whose writes through this store from this thread land together: for a local
    /// store in one transaction (all of them or, when `f` fails, none; one commit instead of one
    /// per write, while other threads' reads and writes wait), for a remote one each as it is
    /// made. See `together` for a closure that returns a value.
    fn together_dyn(
        &self,
        f: &mut dyn FnMut() -> crate::error::Result<()>,
    ) -> crate::error::Result<()> {
        f()
    }
}

/// `Store::together_dyn` for a closure that returns a value: `f`'s writes to `store` land
/// together (one transaction on a local store).
pub fn together<T>(
    store: &dyn Store,
    f: impl FnOnce() -> crate::error::Result<T>,
) -> crate::error::Result<T> {
    let mut f = Some(f);
    let mut out = None;
    store.together_dyn(&mut || {
        let f = f.take().expect("together runs its closure once");
        out = Some(f()?);
        Ok(())
    })?;
    Ok(out.expect("the closure ran"))
}
