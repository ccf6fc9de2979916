//! `EventStore` over HTTP: `/api/v1/events`, and `/api/v1/watch`, which long-polls the
//! server's change counter instead of re-reading it.
use super::HttpStore;
use crate::api::*;
use crate::error::Result;
use crate::model::*;
use crate::store::EventStore;
use std::time::Duration;

impl EventStore for HttpStore {
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
}
