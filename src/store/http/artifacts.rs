//! `ArtifactStore` over HTTP. Records go to `/api/v1/runs/<id>/artifacts`; files stream to
//! and from the server's MLflow artifact proxy (`/api/2.0/mlflow-artifacts/...`), hashed on the
//! way out.
use super::{segment, HttpStore};
use crate::error::Result;
use crate::model::*;
use crate::store::ArtifactStore;
use std::time::Duration;

/// How long one artifact upload may take (large files over slow links).
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(3600);

/// A reader that hashes (SHA-256) and counts what passes through it, for a body that is
/// streamed away.
struct HashingReader {
    inner: Box<dyn std::io::Read + Send>,
    state: std::sync::Arc<std::sync::Mutex<(sha2::Sha256, u64)>>,
}

impl std::io::Read for HashingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        sha2::Digest::update(&mut state.0, &buf[..n]);
        state.1 += n as u64;
        Ok(n)
    }
}

impl HttpStore {
    /// The MLflow artifact proxy's URL for a run's artifact, and the artifact's path. The
    /// proxy's first segment (the experiment) is not needed to find the run.
    fn proxy_url(&self, id: &str, path: &str) -> Result<(String, String)> {
        let rel = crate::ingest::files::safe_relative(path)?;
        let encoded: Vec<String> = rel
            .components()
            .map(|c| segment(&c.as_os_str().to_string_lossy()))
            .collect();
        let url = format!(
            "{}/api/2.0/mlflow-artifacts/artifacts/0/{}/artifacts/{}",
            self.base,
            segment(id),
            encoded.join("/")
        );
        Ok((url, rel.to_string_lossy().replace('\\', "/")))
    }
}

impl ArtifactStore for HttpStore {
    fn add_artifact(&self, id: &str, artifact: &Artifact) -> Result<()> {
        self.post_unit(&Self::run_path(id, "/artifacts"), artifact)
    }

    fn upload_artifact(
        &self,
        id: &str,
        path: &str,
        data: Box<dyn std::io::Read + Send>,
        location: Option<&str>,
    ) -> Result<Artifact> {
        let (url, rel_text) = self.proxy_url(id, path)?;
        // Streamed (chunked), hashed on the way out; the server hashes what it receives too.
        let hashed = HashingReader {
            inner: data,
            state: Default::default(),
        };
        let state = std::sync::Arc::clone(&hashed.state);
        let mut req = self
            .client
            .put(url)
            .timeout(UPLOAD_TIMEOUT)
            .body(reqwest::blocking::Body::new(hashed));
        if let Some(location) = location {
            req = req.query(&[("location", location)]);
        }
        let _: serde_json::Value = self.send(req)?;
        let (hasher, size) = std::mem::take(&mut *state.lock().unwrap_or_else(|p| p.into_inner()));
        Ok(Artifact {
            path: rel_text,
            size: Some(size),
            hash: Some(crate::ingest::files::hex(&sha2::Digest::finalize(hasher))),
            stored: "copied".into(),
            location: location.map(str::to_string),
        })
    }

    fn delete_artifact(&self, id: &str, path: &str) -> Result<()> {
        let (url, _) = self.proxy_url(id, path)?;
        let _: serde_json::Value = self.send(self.client.delete(url))?;
        Ok(())
    }
}
