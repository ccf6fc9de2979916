//! `HttpStore`: the `Store` trait over HTTP, talking to `kiroku serve` (`/api/v1`, see
//! `server::kiroku_api` for the other side; both use the types in `crate::api`).
//!
//! Blocking (reqwest's blocking client, one pooled keep-alive connection per thread): the
//! commands and the TUI's store worker call it from plain threads, never from inside a tokio
//! runtime. A token comes from `KIROKU_TOKEN` (or `MLFLOW_TRACKING_TOKEN`); acting users travel
//! in the bodies and are overridden by the server when the token names one. `KIROKU_CA_CERT`
//! names an extra CA certificate (PEM) to trust for `https://` servers.
//!
//! This file holds the client and its request helpers (URLs, the token, error answers); each
//! domain of the `Store` trait is implemented in a file of its own beside it, next to the
//! SQLite implementation of the same domain in `store/sqlite/`.
mod artifacts;
mod data;
mod events;
mod experiments;
mod jobs;
mod metrics;
pub mod models;
mod notes;
mod pipelines;
mod promotions;
mod runs;
mod supervision;

use crate::api::*;
use crate::error::{KirokuError, Result};
use crate::store::Store;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

pub struct HttpStore {
    base: String,
    client: Client,
    token: Option<String>,
}

/// Path segments are run ids (hex) in practice; anything else is percent-encoded.
fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl HttpStore {
    /// A client for the server at `base` (`http(s)://host:port`); checks nothing yet.
    pub fn new(base: &str) -> Result<Self> {
        let token = ["KIROKU_TOKEN", "MLFLOW_TRACKING_TOKEN"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|t| !t.is_empty()));
        Self::with_token(base, token)
    }

    pub fn with_token(base: &str, token: Option<String>) -> Result<Self> {
        let mut builder = Client::builder()
            .timeout(Duration::from_secs(120))
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(4);
        // A server with a private CA (or a self-signed certificate's CA): trust it too.
        if let Some(path) = std::env::var_os("KIROKU_CA_CERT").filter(|p| !p.is_empty()) {
            let pem = std::fs::read(&path).map_err(|e| {
                KirokuError::io(
                    format!("reading KIROKU_CA_CERT {}", path.to_string_lossy()),
                    e,
                )
            })?;
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| {
                KirokuError::Invalid(format!("KIROKU_CA_CERT {}: {e}", path.to_string_lossy()))
            })?;
            builder = builder.add_root_certificate(cert);
        }
        let client = builder
            .build()
            .map_err(|e| KirokuError::NoStore(format!("{base}: {e}")))?;
        Ok(HttpStore {
            base: base.trim_end_matches('/').to_string(),
            client,
            token,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{PREFIX}{path}", self.base)
    }

    fn send<T: DeserializeOwned>(&self, req: RequestBuilder) -> Result<T> {
        let req = match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        // Writes made through MCP here are marked so by the server too.
        let req = match crate::store::origin::current() {
            Some(via) => req.header(crate::api::VIA_HEADER, via),
            None => req,
        };
        let resp = req
            .send()
            .map_err(|e| KirokuError::NoStore(format!("{}: {e}", self.base)))?;
        self.answer(resp)
    }

    fn answer<T: DeserializeOwned>(&self, resp: Response) -> Result<T> {
        let status = resp.status();
        let bytes = resp.bytes().map_err(|e| {
            KirokuError::Database(format!("{}: reading the answer: {e}", self.base))
        })?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| {
                KirokuError::Database(format!("{}: unexpected answer: {e}", self.base))
            });
        }
        match serde_json::from_slice::<ApiError>(&bytes) {
            Ok(err) => Err(err.into_kiroku()),
            Err(_) => Err(KirokuError::Database(format!(
                "{}: HTTP {status}: {}",
                self.base,
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            ))),
        }
    }

    fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, &str)]) -> Result<T> {
        self.send(self.client.get(self.url(path)).query(query))
    }

    fn post<B: Serialize + ?Sized, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        self.send(self.client.post(self.url(path)).json(body))
    }

    fn post_unit<B: Serialize + ?Sized>(&self, path: &str, body: &B) -> Result<()> {
        self.post::<B, Empty>(path, body).map(|_| ())
    }

    fn run_path(id: &str, rest: &str) -> String {
        format!("/runs/{}{rest}", segment(id))
    }

    /// What the server says about itself (and who this client is to it).
    pub fn info(&self) -> Result<ServerInfo> {
        self.get("/info", &[])
    }
}

impl Store for HttpStore {
    fn describe(&self) -> String {
        self.base.clone()
    }

    fn run_dir(&self, _run_id: &str) -> Option<PathBuf> {
        None
    }
}
