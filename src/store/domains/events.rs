//! `EventStore`: the activity log and the store-wide change counter that watchers poll.
use crate::error::Result;
use crate::model::{Event, EventQuery};

pub trait EventStore {
    /// A number that changes whenever anything in the store changes (any write by anyone),
    /// so watchers can tell cheaply whether to look again.
    fn version(&self) -> Result<i64>;

    /// Waits until `version()` differs from `since`, or `timeout` passes; returns the version
    /// then. Live views call this in a loop. The default re-reads the local counter a few times
    /// a second; the HTTP store long-polls the server instead (one request per change).
    fn watch(&self, since: i64, timeout: std::time::Duration) -> Result<i64> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let version = self.version()?;
            let now = std::time::Instant::now();
            if version != since || now >= deadline {
                return Ok(version);
            }
            std::thread::sleep((deadline - now).min(std::time::Duration::from_millis(200)));
        }
    }

    /// The activity log, newest first.
    fn events(&self, query: &EventQuery) -> Result<Vec<Event>>;
}
