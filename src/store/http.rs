//! `HttpStore`: the `Store` trait over HTTP, talking to `kiroku serve` (`/api/v1`, see
//! `server::kiroku_api` for the other side; both use the types in `crate::api`).
//!
//! Blocking (reqwest's blocking client, one pooled keep-alive connection per thread): the
//! commands and the TUI's store worker call it from plain threads, never from inside a tokio
//! runtime. A token comes from `KIROKU_TOKEN` (or `MLFLOW_TRACKING_TOKEN`); acting users travel
//! in the bodies and are overridden by the server when the token names one. `KIROKU_CA_CERT`
//! names an extra CA certificate (PEM) to trust for `https://` servers.
use crate::api::*;
use crate::error::{KirokuError, Result};
use crate::model::*;
use crate::series::{SampledSeries, SeriesQuery};
use crate::store::Store;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::PathBuf;
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

    /// The MLflow artifact proxy's URL for a run's artifact, and the artifact's path. The
    /// proxy's first segment (the experiment) is not needed to find the run.
    fn proxy_url(&self, id: &str, path: &str) -> Result<(String, String)> {
        let rel = crate::fsutil::safe_relative(path)?;
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

    fn url(&self, path: &str) -> String {
        format!("{}{PREFIX}{path}", self.base)
    }

    fn send<T: DeserializeOwned>(&self, req: RequestBuilder) -> Result<T> {
        let req = match &self.token {
            Some(t) => req.bearer_auth(t),
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

    fn experiments(&self, include_deleted: bool) -> Result<Vec<Experiment>> {
        let flag = include_deleted.to_string();
        self.get("/experiments", &[("include_deleted", flag.as_str())])
    }

    fn experiment(&self, name_or_id: &str) -> Result<Experiment> {
        self.get("/experiments/lookup", &[("ref", name_or_id)])
    }

    fn create_experiment(&self, name: &str, user: &str) -> Result<Experiment> {
        let body = CreateExperiment {
            name: name.into(),
            user: user.into(),
        };
        self.post("/experiments", &body)
    }

    fn rename_experiment(&self, name_or_id: &str, new_name: &str, user: &str) -> Result<()> {
        let body = ExperimentChange {
            reference: name_or_id.into(),
            user: user.into(),
            new_name: Some(new_name.into()),
        };
        self.post_unit("/experiments/rename", &body)
    }

    fn delete_experiment(&self, name_or_id: &str, user: &str) -> Result<()> {
        let body = ExperimentChange {
            reference: name_or_id.into(),
            user: user.into(),
            new_name: None,
        };
        self.post_unit("/experiments/delete", &body)
    }

    fn restore_experiment(&self, name_or_id: &str, user: &str) -> Result<()> {
        let body = ExperimentChange {
            reference: name_or_id.into(),
            user: user.into(),
            new_name: None,
        };
        self.post_unit("/experiments/restore", &body)
    }

    fn set_experiment_tags(
        &self,
        name_or_id: &str,
        tags: &[(String, String)],
        user: &str,
    ) -> Result<()> {
        let body = ExperimentTags {
            reference: name_or_id.into(),
            user: user.into(),
            pairs: tags.to_vec(),
            keys: Vec::new(),
        };
        self.post_unit("/experiments/tags", &body)
    }

    fn remove_experiment_tags(&self, name_or_id: &str, keys: &[String], user: &str) -> Result<()> {
        let body = ExperimentTags {
            reference: name_or_id.into(),
            user: user.into(),
            pairs: Vec::new(),
            keys: keys.to_vec(),
        };
        self.post_unit("/experiments/tags/remove", &body)
    }

    fn create_run(&self, new: &NewRun) -> Result<Run> {
        self.post("/runs", new)
    }

    fn resolve_run(&self, reference: &str) -> Result<String> {
        let answer: IdAnswer = self.get("/runs/resolve", &[("ref", reference)])?;
        Ok(answer.id)
    }

    fn run(&self, id: &str) -> Result<RunDetail> {
        self.get(&Self::run_path(id, ""), &[])
    }

    fn search_runs(&self, query: &RunQuery) -> Result<RunPage> {
        self.post("/runs/search", query)
    }

    fn set_status_as(
        &self,
        id: &str,
        status: RunStatus,
        exit_code: Option<i32>,
        end_time: Option<Millis>,
        user: Option<&str>,
    ) -> Result<()> {
        let body = StatusChange {
            status,
            exit_code,
            end_time,
            user: user.map(str::to_string),
        };
        self.post_unit(&Self::run_path(id, "/status"), &body)
    }

    fn log_params(&self, id: &str, params: &[(String, String)]) -> Result<()> {
        let body = Pairs {
            pairs: params.to_vec(),
            user: String::new(),
        };
        self.post_unit(&Self::run_path(id, "/params"), &body)
    }

    fn set_tags(&self, id: &str, tags: &[(String, String)], user: &str) -> Result<()> {
        let body = Pairs {
            pairs: tags.to_vec(),
            user: user.into(),
        };
        self.post_unit(&Self::run_path(id, "/tags"), &body)
    }

    fn remove_tags(&self, id: &str, keys: &[String], user: &str) -> Result<()> {
        let body = Keys {
            keys: keys.to_vec(),
            user: user.into(),
        };
        self.post_unit(&Self::run_path(id, "/tags/remove"), &body)
    }

    fn log_metrics(&self, id: &str, points: &[KeyedPoint]) -> Result<()> {
        #[derive(Serialize)]
        struct PointsRef<'a> {
            points: &'a [KeyedPoint],
        }
        self.post_unit(&Self::run_path(id, "/metrics"), &PointsRef { points })
    }

    fn metric_series(&self, id: &str, key: &str) -> Result<Vec<MetricPoint>> {
        self.get(&Self::run_path(id, "/series"), &[("key", key)])
    }

    fn metric_series_sampled(
        &self,
        id: &str,
        key: &str,
        query: &SeriesQuery,
    ) -> Result<SampledSeries> {
        let body = SampledRequest {
            key: key.into(),
            query: query.clone(),
        };
        self.post(&Self::run_path(id, "/series/sampled"), &body)
    }

    fn add_note(&self, id: &str, note: &NewNote) -> Result<Note> {
        self.post(&Self::run_path(id, "/notes"), note)
    }

    fn notes(&self, id: &str) -> Result<Vec<Note>> {
        self.get(&Self::run_path(id, "/notes"), &[])
    }

    fn edit_note(&self, id: &str, note_id: i64, body: &str, user: &str) -> Result<Note> {
        let change = NoteChange {
            user: user.into(),
            body: Some(body.into()),
        };
        self.post(&Self::run_path(id, &format!("/notes/{note_id}")), &change)
    }

    fn delete_note(&self, id: &str, note_id: i64, user: &str) -> Result<()> {
        let change = NoteChange {
            user: user.into(),
            body: None,
        };
        self.post_unit(
            &Self::run_path(id, &format!("/notes/{note_id}/delete")),
            &change,
        )
    }

    fn set_star(&self, id: &str, user: &str, starred: bool) -> Result<bool> {
        let body = StarChange {
            user: user.into(),
            starred,
        };
        let answer: Changed = self.post(&Self::run_path(id, "/star"), &body)?;
        Ok(answer.changed)
    }

    fn set_deleted(&self, id: &str, deleted: bool, user: &str) -> Result<()> {
        let body = DeletedChange {
            deleted,
            user: user.into(),
        };
        self.post_unit(&Self::run_path(id, "/deleted"), &body)
    }

    fn rename_run(&self, id: &str, name: &str, user: &str) -> Result<()> {
        let body = NameChange {
            name: name.into(),
            user: user.into(),
        };
        self.post_unit(&Self::run_path(id, "/name"), &body)
    }

    fn set_source(&self, id: &str, source: &RunSource) -> Result<()> {
        self.post_unit(&Self::run_path(id, "/source"), source)
    }

    fn set_environment(&self, id: &str, env: &[(String, String)]) -> Result<()> {
        let body = Pairs {
            pairs: env.to_vec(),
            user: String::new(),
        };
        self.post_unit(&Self::run_path(id, "/environment"), &body)
    }

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
            hash: Some(crate::fsutil::hex(&sha2::Digest::finalize(hasher))),
            stored: "copied".into(),
            location: location.map(str::to_string),
        })
    }

    fn delete_artifact(&self, id: &str, path: &str) -> Result<()> {
        let (url, _) = self.proxy_url(id, path)?;
        let _: serde_json::Value = self.send(self.client.delete(url))?;
        Ok(())
    }

    fn add_input(&self, id: &str, input: &RunInput) -> Result<()> {
        self.post_unit(&Self::run_path(id, "/inputs"), input)
    }

    fn version(&self) -> Result<i64> {
        // A zero timeout answers at once with the current version.
        self.watch(i64::MIN, Duration::ZERO)
    }

    /// Long polling: the server answers as soon as the version moves (or at the timeout).
    fn watch(&self, since: i64, timeout: Duration) -> Result<i64> {
        let since = since.to_string();
        let ms = timeout.as_millis().to_string();
        let answer: VersionAnswer = self.send(
            self.client
                .get(self.url("/watch"))
                .query(&[("since", since.as_str()), ("timeout_ms", ms.as_str())])
                .timeout(timeout + Duration::from_secs(30)),
        )?;
        Ok(answer.version)
    }

    fn events(&self, query: &EventQuery) -> Result<Vec<Event>> {
        let since = query.since_id.map(|v| v.to_string());
        let limit = query.limit.map(|v| v.to_string());
        let mut q: Vec<(&str, &str)> = Vec::new();
        if let Some(s) = &since {
            q.push(("since_id", s));
        }
        if let Some(r) = &query.run_id {
            q.push(("run_id", r));
        }
        if let Some(l) = &limit {
            q.push(("limit", l));
        }
        self.get("/events", &q)
    }

    fn log_batch(&self, id: &str, batch: &RunBatch, user: &str) -> Result<()> {
        let body = BatchRequest {
            batch: batch.clone(),
            user: user.into(),
        };
        self.post_unit(&Self::run_path(id, "/batch"), &body)
    }

    fn create_supervised_run(&self, new: &NewRun, supervisor: &Supervisor) -> Result<Run> {
        let body = SupervisedRunRequest {
            run: new.clone(),
            supervisor: supervisor.clone(),
        };
        self.post("/runs/supervised", &body)
    }

    fn supervised_runs(&self) -> Result<Vec<SupervisedRun>> {
        self.get("/runs/supervised", &[])
    }

    fn recover_lost_run(
        &self,
        id: &str,
        expected_offset: u64,
        rest: &RunBatch,
        user: &str,
    ) -> Result<bool> {
        let body = LostRunRecovery {
            expected_offset,
            rest: rest.clone(),
            user: user.into(),
        };
        let answer: Changed = self.post(&Self::run_path(id, "/recover-lost"), &body)?;
        Ok(answer.changed)
    }
}
