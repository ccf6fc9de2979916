//! The model registry as `kiroku serve` runs it: the `[models]` settings it judges MLflow-API
//! alias moves by (read from the project's `kiroku.toml` beside the served store, over the
//! user's file, and read again when they change: `live_settings`), what follows a version registered through MLflow's API (its evaluation job,
//! submitted at once, and its `version_created` hooks), and an outbox drainer thread that
//! delivers hook deliveries as moves queue them (woken by each), and retries when they are due;
//! the same thread revokes the tokens of the server's jobs that ended (`job_tokens`).
use super::job_tokens::JobTokens;
use super::live_settings::LiveModels;
use super::{outbox, promote, Submitter};
use crate::config::Config;
use crate::error::Result;
use crate::model::registry::ModelVersion;
use crate::server::RegistrySettings;
use crate::store::Store;
use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

/// The longest the drainer sleeps without being woken (a delivery queued by another process,
/// `kiroku model alias` against this store, is noticed within it).
const DRAIN_AT_LEAST_EVERY: Duration = Duration::from_secs(5);

/// Who and where jobs submitted on the registry's behalf (evaluations, command hooks) come
/// from.
#[derive(Clone)]
pub struct ServedStore {
    pub store: Arc<dyn Store>,
    pub config: Config,
    /// How a spawned scheduler finds the store (the store folder).
    pub location: String,
    pub user: String,
    pub host: String,
    /// Where jobs run (the project folder).
    pub workdir: String,
    /// The server's own URL (`http://127.0.0.1:PORT` when it listens on every address): the
    /// `MLFLOW_TRACKING_URI` of the evaluations it submits.
    pub url: String,
    /// The tokens of the jobs it submits (None: a server that takes no tokens at all).
    pub job_tokens: Option<Arc<JobTokens>>,
}

impl ServedStore {
    fn submitter(&self) -> Submitter<'_> {
        Submitter {
            store: self.store.as_ref(),
            config: self.config.clone(),
            store_location: self.location.clone(),
            user: self.user.clone(),
            host: self.host.clone(),
            workdir: self.workdir.clone(),
            queue_directly: false,
            server_url: Some(self.url.clone()),
            job_tokens: self.job_tokens.as_deref(),
        }
    }
}

/// The registry settings of a server of `served` (its `[models]` conditions checked first: a
/// bad one is an error naming the file, line and key; later edits are picked up, and a broken
/// one refuses the writes that need it, naming the same), with the outbox drainer started.
pub fn start(served: ServedStore, project_dir: Option<&Path>) -> Result<RegistrySettings> {
    let live = Arc::new(LiveModels::new(&served.config, project_dir)?);
    let (wake, woken) = mpsc::channel::<()>();
    let drainer = served.clone();
    std::thread::Builder::new()
        .name("kiroku-hooks".into())
        .spawn(move || drain_forever(&drainer, &woken))
        .map_err(|e| crate::error::KirokuError::io("starting the hook drainer", e))?;
    let job_of_token = served.job_tokens.clone().map(|tokens| {
        Box::new(move |id: i64| tokens.job_of(id)) as Box<dyn Fn(i64) -> _ + Send + Sync>
    });
    let wake_after_registration = wake.clone();
    let live_for_registration = Arc::clone(&live);
    let version_created = move |version: &ModelVersion| {
        let settings = match live_for_registration.models() {
            Ok(models) => match models.get(&version.name) {
                Some(settings) => settings.clone(),
                None => return,
            },
            Err(e) => {
                eprintln!(
                    "kiroku serve: after registering {} version {}: {e}",
                    version.name, version.version
                );
                return;
            }
        };
        match promote::after_registration(&served.submitter(), &settings, version) {
            Ok(made) if !made.deliveries.is_empty() => {
                let _ = wake_after_registration.send(());
            }
            Ok(_) => {}
            Err(e) => eprintln!(
                "kiroku serve: after registering {} version {}: {e}",
                version.name, version.version
            ),
        }
    };
    Ok(RegistrySettings {
        models: Some(Box::new(move |name: &str| live.model(name))),
        version_created: Some(Box::new(version_created)),
        hooks_queued: Some(Box::new(move || {
            let _ = wake.send(());
        })),
        job_of_token,
    })
}

/// Delivers what is due, then sleeps until woken, the next delivery is due, or
/// `DRAIN_AT_LEAST_EVERY`; ends when the server drops its settings.
fn drain_forever(served: &ServedStore, woken: &mpsc::Receiver<()>) {
    loop {
        let next = outbox::scheduler_pass(&served.submitter());
        if let Some(tokens) = &served.job_tokens {
            if let Err(e) = tokens.revoke_ended(served.store.as_ref()) {
                eprintln!("kiroku serve: revoking the tokens of ended jobs: {e}");
            }
        }
        let wait = next.map_or(DRAIN_AT_LEAST_EVERY, |d| d.min(DRAIN_AT_LEAST_EVERY));
        match woken.recv_timeout(wait) {
            Ok(()) => while woken.try_recv().is_ok() {},
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}
