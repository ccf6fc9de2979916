//! `PipelineStore`: the pipelines' content cache and run-cache, shared by everyone on the
//! store. Objects are addressed by their DVC md5 (`model::pipeline::is_object_id`) and stream
//! both ways; a `.dir` object is a directory's JSON listing, whose files are objects too.
//! What goes in and how a tree is restored is `crate::pipelines::cache`'s.
use crate::error::Result;
use crate::model::pipeline::RunCacheEntry;
use std::io::Read;

pub trait PipelineStore {
    /// Which of `ids` the cache holds, in the same order. Refuses ids that name no object.
    fn has_objects(&self, ids: &[String]) -> Result<Vec<bool>>;
    /// Stores what `data` yields as object `id`, streaming; returns its size. The content's
    /// md5 must be `id`'s (`Invalid` otherwise, and nothing is stored). Storing an object the
    /// cache holds already changes nothing.
    fn put_object(&self, id: &str, data: Box<dyn Read + Send>) -> Result<u64>;
    /// Reads object `id`, streaming; `NotFound` when the cache lacks it.
    fn open_object(&self, id: &str) -> Result<Box<dyn Read + Send>>;
    /// The file holding object `id` when the store keeps its objects on this machine (what
    /// `kiroku serve` streams a download from); `NotFound` when the cache lacks it, None for a
    /// remote store.
    fn object_file(&self, id: &str) -> Result<Option<std::path::PathBuf>>;
    /// Records a run-cache entry (its `created_at` set now); a later entry under the same key
    /// replaces it. Every output's object should be stored first.
    fn record_run_cache(&self, entry: &RunCacheEntry) -> Result<()>;
    /// The entry under `key`, if any.
    fn run_cache_entry(&self, key: &str) -> Result<Option<RunCacheEntry>>;
    /// Every object the cache holds, with its size (for `kiroku gc`). A store that keeps its
    /// objects elsewhere says so.
    fn list_objects(&self) -> Result<Vec<(String, u64)>> {
        Err(crate::error::KirokuError::Invalid(
            "this store cannot list its cache: run kiroku gc on the machine that holds the store's folder".into(),
        ))
    }
    /// Deletes objects `ids` (those missing are skipped); returns the bytes freed.
    fn delete_objects(&self, ids: &[String]) -> Result<u64> {
        let _ = ids;
        Err(crate::error::KirokuError::Invalid(
            "this store cannot delete from its cache: run kiroku gc on the machine that holds the store's folder".into(),
        ))
    }
}
