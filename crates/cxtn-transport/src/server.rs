//! One HTTP/1 accept loop for every server of the SDK: the receiver, the sandbox, test and load servers.
//!
//! Available with feature `server`.

use std::error::Error as StdError;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::Service;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use self::connection::{Activity, Pool, Tracked};

mod connection;

/// How long to wait after a failed `accept` (out of file descriptors, for example) before accepting again.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(50);

/// The most connections open at once unless [`Server::max_connections`] says otherwise.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

/// How often, at most, the loop warns that it is full.
const FULL_WARNING_INTERVAL: Duration = Duration::from_secs(60);

/// Serves a [`hyper`] service over HTTP/1 on a [`TcpListener`] until a stop signal, then drains.
///
/// - Each accepted connection gets `TCP_NODELAY` and its own task; the client has
///   [`header_read_timeout`](Self::header_read_timeout) to send each request head, the first one included, so a
///   connection that sends nothing is closed after it.
/// - At most [`max_connections`](Self::max_connections) connections are open at once (default 512).
///   When a new connection arrives at the cap, the connection idle longest (no request in progress) is closed
///   to make room: one that never sent a request at once, once it has been open 250 ms (a client that has
///   just connected is about to send one), a keep-alive one after at most 100 ms to finish writing. When every connection has a request in progress, new connections wait in the listen backlog
///   until one closes. So a flood of connections that send nothing cannot keep real requests out.
/// - A failed `accept` is logged with [`tracing::warn!`] and retried after 50 ms, never in a busy loop.
/// - When the stop signal completes, the listener closes, open connections finish the requests in flight
///   (answering them) and close; connections still open after [`drain_timeout`](Self::drain_timeout) are dropped.
///
/// Wrap a `tower::Service` in `hyper_util::service::TowerToHyperService` to serve it.
///
/// ```
/// use std::convert::Infallible;
///
/// use cxtn_transport::server::Server;
/// use http_body_util::Full;
/// use hyper::service::service_fn;
///
/// # async fn run() -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let service = service_fn(|_request| async { Ok::<_, Infallible>(hyper::Response::new(Full::new(&b"ok"[..]))) });
/// let server = tokio::spawn(Server::new().max_connections(256).serve(listener, service, async move {
///     let _ = stopped.await;
/// }));
/// let _ = stop.send(());
/// server.await?;
/// # Ok(())
/// # }
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(run()).unwrap();
/// ```
#[derive(Debug, Clone)]
#[must_use]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub struct Server {
    header_read_timeout: Duration,
    drain_timeout: Duration,
    max_connections: usize,
    open_connections: Option<Arc<AtomicUsize>>,
}

impl Default for Server {
    fn default() -> Self {
        Self::new()
    }
}

impl Server {
    /// A server with the defaults: 30 s to read a request head, 5 s to drain at shutdown,
    /// [`DEFAULT_MAX_CONNECTIONS`] (512) connections open at once.
    pub fn new() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(5),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            open_connections: None,
        }
    }

    /// How long a client may take to send a request head before its connection is closed (default 30 s).
    /// It runs from the moment the connection opens, and again from the end of each response, so it is also
    /// how long a connection may stay idle.
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// How long open connections get to finish their requests once the stop signal completes (default 5 s);
    /// [`Duration::MAX`] waits for every one.
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// The most connections open at once (default [`DEFAULT_MAX_CONNECTIONS`], 512; at least 1).
    ///
    /// Keep it well below the process's limit of open files (`ulimit -n`, often 1024), which also counts the
    /// files and outgoing connections the service uses. At the cap, the connection idle longest is closed to
    /// admit a new one; see [`Server`].
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// Keeps the number of connections open at each moment in `count` (for a metric), from when the server
    /// starts until it has drained.
    pub fn count_connections(mut self, count: Arc<AtomicUsize>) -> Self {
        self.open_connections = Some(count);
        self
    }

    /// Accepts connections on `listener` and serves `service` (cloned for each connection) on them,
    /// until `stop` completes; then drains, and returns when the connections are closed.
    pub async fn serve<S, B>(self, listener: TcpListener, service: S, stop: impl Future<Output = ()> + Send)
    where
        S: Service<hyper::Request<Incoming>, Response = hyper::Response<B>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<Box<dyn StdError + Send + Sync>>,
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
    {
        self.run(listener, service, stop).await;
    }

    async fn run<S, B>(&self, listener: impl Accept, service: S, stop: impl Future<Output = ()> + Send)
    where
        S: Service<hyper::Request<Incoming>, Response = hyper::Response<B>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<Box<dyn StdError + Send + Sync>>,
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
    {
        let pool = Pool::new();
        let (stopping, stopping_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let mut open: Vec<Arc<Activity>> = Vec::new();
        // A connection accepted at the cap, admitted once another closes.
        let mut waiting: Option<TcpStream> = None;
        let mut warned: Option<Instant> = None;
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout);
        tokio::pin!(stop);
        loop {
            self.count(tasks.len());
            open.retain(Activity::is_open);
            if waiting.is_some() && open.len() < self.max_connections {
                if let Some(stream) = waiting.take() {
                    let activity = Activity::new(&pool);
                    let connection = builder.serve_connection(
                        TokioIo::new(stream),
                        Tracked::new(service.clone(), Arc::clone(&activity)),
                    );
                    tasks.spawn(connection::run(connection, Arc::clone(&activity), stopping_rx.clone()));
                    open.push(activity);
                }
                continue;
            }
            // When a full loop should look for an idle connection to close again, without any other wake-up.
            let mut recheck: Option<Instant> = None;
            if waiting.is_some() && !open.iter().any(|c| c.is_closing()) {
                if warned.is_none_or(|at| at.elapsed() >= FULL_WARNING_INTERVAL) {
                    tracing::warn!(
                        max_connections = self.max_connections,
                        "the server is at its connection cap; closing idle connections to admit new ones"
                    );
                    warned = Some(Instant::now());
                }
                let now = pool.now_ms();
                let candidates = open.iter().filter_map(|c| c.evictable_from().map(|from| (from, c)));
                if let Some((_, victim)) = candidates
                    .clone()
                    .filter(|(from, _)| *from <= now)
                    .min_by_key(|(from, _)| *from)
                {
                    victim.evict();
                } else {
                    // Only connections still in their first-request grace are idle: look again when the first
                    // of them comes out of it (or sooner, when one closes or a request ends).
                    recheck = candidates
                        .map(|(from, _)| from)
                        .min()
                        .map(|from| Instant::now() + Duration::from_millis(from.saturating_sub(now)));
                }
            }
            tokio::select! {
                // A stop wins over a waiting connection or a retry that is due at the same moment.
                biased;
                () = &mut stop => break,
                accepted = listener.accept(), if waiting.is_none() => match accepted {
                    Ok(stream) => {
                        let _ = stream.set_nodelay(true);
                        waiting = Some(stream);
                    }
                    Err(error) => {
                        tracing::warn!(%error, "could not accept a connection; retrying shortly");
                        tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
                    }
                },
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                () = pool.changed.notified(), if waiting.is_some() => {}
                () = sleep_until(recheck), if waiting.is_some() && recheck.is_some() => {}
            }
        }
        drop(listener);
        drop(waiting);
        let _ = stopping.send(true);
        let drained = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(self.drain_timeout, drained).await.is_err() {
            tracing::debug!(
                open = tasks.len(),
                "connections still open after the drain timeout are dropped"
            );
        }
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        self.count(0);
    }

    fn count(&self, open: usize) {
        if let Some(count) = &self.open_connections {
            count.store(open, Ordering::Relaxed);
        }
    }
}

/// Sleeps until `at`, or forever without one.
async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Where connections come from: a [`TcpListener`], or a stand-in in tests.
trait Accept: Send {
    fn accept(&self) -> impl Future<Output = io::Result<TcpStream>> + Send;
}

impl Accept for TcpListener {
    async fn accept(&self) -> io::Result<TcpStream> {
        TcpListener::accept(self).await.map(|(stream, _)| stream)
    }
}

#[cfg(test)]
mod tests;
