//! Connections: the one accept loop behind `kiroku serve` (plain and TLS), `BackgroundServer`
//! and `kiroku dev null-mlflow`, built so that a flood of idle or slow connections cannot take
//! the server down.
//!
//! - Time: a connection gets `header_timeout` to finish its TLS handshake, and then the same to
//!   send each request's headers, counted from when the server starts waiting for them. The
//!   wait between two requests on a kept-alive connection is such a wait, so idle connections
//!   close after it too.
//! - Number: at most `max_connections` at once, below the open-file limit. At the cap a new
//!   connection evicts one that has no request in flight (first those that never completed a
//!   request, such as slow-header ones, then the longest idle), so real clients keep being
//!   served while the server is flooded; only when every connection is busy is a new one
//!   closed at once.
//! - Bodies: an answer sent before the request body was read to its end (a 401 or 403, a 413)
//!   says `Connection: close`, since the connection cannot be reused after it.
//! - Shutdown: idle connections close at once, busy ones after their answer.
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderValue, Request, Response};
use axum::Router;
use hyper::body::{Body as _, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tokio_rustls::TlsAcceptor;

/// Open files kept free for the store, artifacts and logs when connections are capped.
const RESERVED_FILES: u64 = 256;
/// The most connections held at once, whatever the open-file limit.
const MAX_CONNECTIONS_CEILING: u64 = 8192;

/// Bounds on connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Connections held at once; more evict idle ones.
    pub max_connections: usize,
    /// Time for a TLS handshake, and for each request's headers (idle keep-alive included).
    pub header_timeout: Duration,
}

impl Default for ConnectionLimits {
    /// A cap below the process's current open-file limit and a 10 s header timeout.
    fn default() -> Self {
        ConnectionLimits {
            max_connections: connection_cap(open_file_limit()),
            header_timeout: Duration::from_secs(10),
        }
    }
}

/// How many connections fit under `open_files`, leaving room for everything else.
pub fn connection_cap(open_files: u64) -> usize {
    let room = open_files
        .saturating_sub(RESERVED_FILES)
        .min(open_files / 4 * 3);
    room.clamp(16, MAX_CONNECTIONS_CEILING) as usize
}

/// The soft open-file limit (RLIMIT_NOFILE) of this process.
pub fn open_file_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass and nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 1024;
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
    let soft = lim.rlim_cur as u64;
    soft
}

/// Raises the soft open-file limit to the hard limit (where allowed) and returns the soft
/// limit in force afterwards.
pub fn raise_open_file_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write only the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            libc::setrlimit(libc::RLIMIT_NOFILE, &raised);
        }
    }
    open_file_limit()
}

/// One live connection, as the accept loop sees it.
struct Conn {
    /// Requests being answered (from headers read to answer body dropped).
    in_flight: AtomicUsize,
    /// Whether it has completed a request (slow-header and idle floods have not).
    served: AtomicBool,
    /// Milliseconds since the registry's epoch of the last request's end (or the accept).
    last_active_ms: AtomicU64,
    /// Set once chosen for eviction.
    evicting: AtomicBool,
    /// Wakes the connection's task to close (evicted) or drain (shutdown).
    wake: Notify,
}

/// Every live connection.
struct Registry {
    epoch: Instant,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    next_id: AtomicU64,
    /// Woken whenever a connection ends (for shutdown to wait until none is left).
    ended: Notify,
}

impl Registry {
    fn new() -> Arc<Self> {
        Arc::new(Registry {
            epoch: Instant::now(),
            conns: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            ended: Notify::new(),
        })
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        self.conns.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes room for one more connection under `max`; false when every connection is busy.
    fn admit(&self, max: usize) -> bool {
        let conns = self.lock();
        if conns.len() < max {
            return true;
        }
        let held = conns
            .values()
            .filter(|c| !c.evicting.load(Ordering::SeqCst))
            .count();
        if held < max {
            return true;
        }
        let victim = conns
            .values()
            .filter(|c| {
                !c.evicting.load(Ordering::SeqCst) && c.in_flight.load(Ordering::SeqCst) == 0
            })
            .min_by_key(|c| {
                (
                    c.served.load(Ordering::SeqCst),
                    c.last_active_ms.load(Ordering::SeqCst),
                )
            });
        match victim {
            Some(c) => {
                c.evicting.store(true, Ordering::SeqCst);
                c.wake.notify_one();
                true
            }
            None => false,
        }
    }

    /// Evicts one idle connection, if any (the process ran out of files).
    fn evict_one(&self) {
        let _ = self.admit(0);
    }

    fn register(self: &Arc<Self>) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let conn = Arc::new(Conn {
            in_flight: AtomicUsize::new(0),
            served: AtomicBool::new(false),
            last_active_ms: AtomicU64::new(self.now_ms()),
            evicting: AtomicBool::new(false),
            wake: Notify::new(),
        });
        self.lock().insert(id, Arc::clone(&conn));
        Registration {
            registry: Arc::clone(self),
            id,
            conn,
        }
    }

    fn wake_all(&self) {
        for c in self.lock().values() {
            c.wake.notify_one();
        }
    }

    fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

/// A connection's place in the registry, given up when its task ends.
struct Registration {
    registry: Arc<Registry>,
    id: u64,
    conn: Arc<Conn>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.registry.lock().remove(&self.id);
        self.registry.ended.notify_waiters();
    }
}

/// Marks a request in flight on its connection until dropped (with the answer's body).
struct InFlight {
    registry: Arc<Registry>,
    conn: Arc<Conn>,
}

impl InFlight {
    fn start(registration: &Registration) -> Self {
        registration.conn.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight {
            registry: Arc::clone(&registration.registry),
            conn: Arc::clone(&registration.conn),
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.conn
            .last_active_ms
            .store(self.registry.now_ms(), Ordering::SeqCst);
        self.conn.served.store(true, Ordering::SeqCst);
        self.conn.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A request body that records whether it was read to its end.
struct EndTracked {
    inner: Incoming,
    ended: Arc<AtomicBool>,
}

impl hyper::body::Body for EndTracked {
    type Data = hyper::body::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.ended.store(true, Ordering::SeqCst);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// An answer body that keeps its request marked in flight until it is sent or dropped.
struct Guarded {
    inner: Body,
    _in_flight: InFlight,
}

impl hyper::body::Body for Guarded {
    type Data = hyper::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Serves `app` on `listener` (TLS when `tls` is given) until `shutdown` completes, then lets
/// the answers in flight finish.
pub async fn serve_connections(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let registry = Registry::new();
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    if matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE)) {
                        registry.evict_one();
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        if !registry.admit(limits.max_connections) {
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let registration = registry.register();
        let (tls, app, stop) = (tls.clone(), app.clone(), stop_rx.clone());
        tokio::spawn(run_connection(
            stream,
            peer,
            tls,
            app,
            limits,
            registration,
            stop,
        ));
    }
    drop(listener);
    let _ = stop_tx.send(true);
    loop {
        let ended = registry.ended.notified();
        registry.wake_all();
        if registry.is_empty() {
            return Ok(());
        }
        let _ = tokio::time::timeout(Duration::from_millis(200), ended).await;
    }
}

async fn run_connection(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    app: Router,
    limits: ConnectionLimits,
    registration: Registration,
    stop: watch::Receiver<bool>,
) {
    match tls {
        None => serve_http(TokioIo::new(stream), peer, app, limits, registration, stop).await,
        Some(acceptor) => {
            let handshake = tokio::time::timeout(limits.header_timeout, acceptor.accept(stream));
            let tls = tokio::select! {
                done = handshake => match done {
                    Ok(Ok(tls)) => tls,
                    _ => return,
                },
                _ = registration.conn.wake.notified() => return,
            };
            serve_http(TokioIo::new(tls), peer, app, limits, registration, stop).await
        }
    }
}

/// Whether the task should end now (evicted or shutting down) rather than serve on.
fn told_to_leave(registration: &Registration, stop: &watch::Receiver<bool>) -> bool {
    registration.conn.evicting.load(Ordering::SeqCst) || *stop.borrow()
}

async fn serve_http<I>(
    io: TokioIo<I>,
    peer: SocketAddr,
    app: Router,
    limits: ConnectionLimits,
    registration: Registration,
    stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let registration = Arc::new(registration);
    let app = TowerToHyperService::new(app);
    let for_requests = Arc::clone(&registration);
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let in_flight = InFlight::start(&for_requests);
        let ended = Arc::new(AtomicBool::new(req.body().is_end_stream()));
        let (mut parts, body) = req.into_parts();
        parts.extensions.insert(ConnectInfo(peer));
        let body = Body::new(EndTracked {
            inner: body,
            ended: Arc::clone(&ended),
        });
        let answer = hyper::service::Service::call(&app, Request::from_parts(parts, body));
        async move {
            let mut response: Response<Body> = answer.await?;
            if !ended.load(Ordering::SeqCst) {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Ok::<_, std::convert::Infallible>(response.map(|inner| Guarded {
                inner,
                _in_flight: in_flight,
            }))
        }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true)
        .serve_connection(io, service);
    tokio::pin!(connection);
    let mut stop = stop;
    let mut draining = false;
    loop {
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = registration.conn.wake.notified(), if !draining => {}
            changed = stop.changed(), if !draining => {
                if changed.is_err() {
                    return; // the accept loop is gone without a shutdown
                }
            }
        }
        if told_to_leave(&registration, &stop) {
            if registration.conn.in_flight.load(Ordering::SeqCst) == 0 {
                return;
            }
            connection.as_mut().graceful_shutdown();
            draining = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_files_for_the_store_and_stays_bounded() {
        assert_eq!(connection_cap(1024), 768);
        assert_eq!(connection_cap(4096), 3072);
        assert_eq!(connection_cap(65_536), 8192);
        assert_eq!(connection_cap(64), 16);
    }

    #[test]
    fn at_the_cap_the_longest_idle_connection_that_never_finished_a_request_goes_first() {
        let registry = Registry::new();
        let served = registry.register();
        served.conn.served.store(true, Ordering::SeqCst);
        let slow = registry.register();
        let busy = registry.register();
        busy.conn.in_flight.store(1, Ordering::SeqCst);
        assert!(registry.admit(3));
        assert!(slow.conn.evicting.load(Ordering::SeqCst));
        assert!(!served.conn.evicting.load(Ordering::SeqCst));
        assert!(registry.admit(2));
        assert!(served.conn.evicting.load(Ordering::SeqCst));
        assert!(!busy.conn.evicting.load(Ordering::SeqCst));
        assert!(!registry.admit(1), "every remaining connection is busy");
    }
}
