//! `PipelineStore` over HTTP: `/api/v1/pipelines/...` (see `server::pipeline_cache`). Objects
//! stream both ways (chunked upload, download read as it arrives); the server checks each
//! upload's md5.
use super::{segment, HttpStore};
use crate::api::*;
use crate::error::{KirokuError, Result};
use crate::model::pipeline::RunCacheEntry;
use crate::store::PipelineStore;
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

/// How long one object may take to move (large outputs over slow links).
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(3600);

impl HttpStore {
    fn object_url(&self, id: &str) -> String {
        self.url(&format!("/pipelines/objects/{}", segment(id)))
    }
}

impl PipelineStore for HttpStore {
    fn has_objects(&self, ids: &[String]) -> Result<Vec<bool>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let answer: ObjectsPresent = self.post(
            "/pipelines/objects/present",
            &ObjectsPresentQuery { ids: ids.to_vec() },
        )?;
        Ok(answer.present)
    }

    fn put_object(&self, id: &str, data: Box<dyn Read + Send>) -> Result<u64> {
        let req = self
            .client
            .put(self.object_url(id))
            .timeout(TRANSFER_TIMEOUT)
            .body(reqwest::blocking::Body::new(data));
        let stored: ObjectStored = self.send(req)?;
        Ok(stored.size)
    }

    fn open_object(&self, id: &str) -> Result<Box<dyn Read + Send>> {
        let mut req = self
            .client
            .get(self.object_url(id))
            .timeout(TRANSFER_TIMEOUT);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req
            .send()
            .map_err(|e| KirokuError::NoStore(format!("{}: {e}", self.base)))?;
        if resp.status().is_success() {
            return Ok(Box::new(resp));
        }
        // An error answer is JSON: read it as every other call does.
        Err(self.answer::<Empty>(resp).err().unwrap_or_else(|| {
            KirokuError::Database(format!("{}: object {id}: unexpected answer", self.base))
        }))
    }

    fn object_file(&self, id: &str) -> Result<Option<PathBuf>> {
        crate::store::sqlite::check_object_id(id)?;
        Ok(None)
    }

    fn record_run_cache(&self, entry: &RunCacheEntry) -> Result<()> {
        self.post_unit("/pipelines/run-cache", entry)
    }

    fn run_cache_entry(&self, key: &str) -> Result<Option<RunCacheEntry>> {
        self.get("/pipelines/run-cache", &[("key", key)])
    }
}
