//! What the accept loop knows of each open connection: whether a request is in progress, since when it is idle,
//! and whether it was asked to close to make room.

use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::Service;
use tokio::sync::Notify;
use tokio::time::Instant;

/// What every connection of one accept loop shares: the loop's clock and its wake-up.
#[derive(Debug)]
pub(super) struct Pool {
    epoch: Instant,
    /// Raised when a connection becomes idle or refuses to close, so that a full loop looks again.
    pub(super) changed: Notify,
}

impl Pool {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            epoch: Instant::now(),
            changed: Notify::new(),
        })
    }

    pub(super) fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// One open connection, as its task and the accept loop both see it.
///
/// The accept loop holds one handle and the connection's task another: once the task ends, the loop's handle is
/// the only one left, and the connection is no longer counted.
#[derive(Debug)]
pub(super) struct Activity {
    pool: Arc<Pool>,
    /// Requests in progress: from the call of the service until the response body is dropped (fully written).
    in_flight: AtomicUsize,
    /// Whether a request ever started on the connection.
    served: AtomicBool,
    /// When the connection last became idle (accepted, or its last request ended), on the pool's clock.
    idle_since_ms: AtomicU64,
    /// Asked to close to make room, and not (yet) refused.
    closing: AtomicBool,
    evict: Notify,
}

impl Activity {
    pub(super) fn new(pool: &Arc<Pool>) -> Arc<Self> {
        Arc::new(Self {
            pool: Arc::clone(pool),
            in_flight: AtomicUsize::new(0),
            served: AtomicBool::new(false),
            idle_since_ms: AtomicU64::new(pool.now_ms()),
            closing: AtomicBool::new(false),
            evict: Notify::new(),
        })
    }

    /// Whether the connection's task still runs.
    pub(super) fn is_open(self: &Arc<Self>) -> bool {
        Arc::strong_count(self) > 1
    }

    pub(super) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Acquire)
    }

    fn is_busy(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) > 0
    }

    /// Since when the connection is idle, or `None` while a request is in progress or it is closing already.
    pub(super) fn idle_since(&self) -> Option<u64> {
        (!self.is_busy() && !self.is_closing()).then(|| self.idle_since_ms.load(Ordering::Acquire))
    }

    /// From when, on the pool's clock, the connection may be closed to make room: at once when it has served a
    /// request, [`FIRST_REQUEST_GRACE_MS`] after it opened when it has not (a client that has just connected is
    /// about to send its first request); `None` while a request is in progress or it is closing already.
    pub(super) fn evictable_from(&self) -> Option<u64> {
        let since = self.idle_since()?;
        if self.served.load(Ordering::Acquire) {
            Some(since)
        } else {
            Some(since.saturating_add(FIRST_REQUEST_GRACE_MS))
        }
    }

    /// Asks the connection to close to make room; it refuses when a request has started meanwhile.
    pub(super) fn evict(&self) {
        self.closing.store(true, Ordering::Release);
        self.evict.notify_one();
    }

    fn start(self: &Arc<Self>) -> Busy {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.served.store(true, Ordering::Release);
        Busy(Arc::clone(self))
    }
}

/// A request in progress; dropped once its response body is written (or the request is abandoned).
#[derive(Debug)]
struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        let activity = &self.0;
        activity.idle_since_ms.store(activity.pool.now_ms(), Ordering::Release);
        if activity.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            activity.pool.changed.notify_one();
        }
    }
}

/// How long an evicted connection that has served requests gets to finish writing before it is dropped.
const EVICTION_GRACE: Duration = Duration::from_millis(100);

/// How long, in milliseconds, a new connection that has not sent a request yet is safe from being closed to make
/// room. Without it, a burst of real clients above the cap resets connections accepted a moment before their first
/// request arrived.
const FIRST_REQUEST_GRACE_MS: u64 = 250;

/// A connection the accept loop serves: hyper's HTTP/1 connection, whatever its service.
pub(super) trait Connection: Future + Send {
    fn graceful_shutdown(self: Pin<&mut Self>);
}

impl<I, S, B> Connection for hyper::server::conn::http1::Connection<I, S>
where
    S: hyper::service::HttpService<Incoming, ResBody = B> + Send,
    S::Future: Send,
    S::Error: Into<Box<dyn StdError + Send + Sync>>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn StdError + Send + Sync>>,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        hyper::server::conn::http1::Connection::graceful_shutdown(self);
    }
}

/// Runs one connection until it ends, the server stops (then it finishes the request in progress and closes),
/// or it is evicted: a connection that never started a request is dropped at once; one that did is shut down
/// gracefully (an idle keep-alive connection closes at once) and dropped after a short grace unless a request is
/// in progress by then. An eviction that finds a request in progress is refused.
pub(super) async fn run<C: Connection>(
    connection: C,
    activity: Arc<Activity>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) {
    tokio::pin!(connection);
    loop {
        tokio::select! {
            biased;
            _ = connection.as_mut() => return,
            () = async { drop(stopping.wait_for(|stopping| *stopping).await) } => {
                connection.as_mut().graceful_shutdown();
                let _ = connection.await;
                return;
            }
            () = activity.evict.notified() => {
                if activity.is_busy() {
                    activity.closing.store(false, Ordering::Release);
                    activity.pool.changed.notify_one();
                    continue;
                }
                if !activity.served.load(Ordering::Acquire) {
                    tracing::debug!("closed a connection that sent no request, to make room for a new one");
                    return;
                }
                tracing::debug!("closing the connection idle longest, to make room for a new one");
                connection.as_mut().graceful_shutdown();
                let grace = tokio::time::sleep(EVICTION_GRACE);
                tokio::pin!(grace);
                tokio::select! {
                    _ = connection.as_mut() => return,
                    () = &mut grace => {}
                }
                if !activity.is_busy() {
                    return;
                }
                let _ = connection.await;
                return;
            }
        }
    }
}

/// The service, wrapped to mark each request in progress on its connection until its response body is written.
#[derive(Debug)]
pub(super) struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Tracked<S> {
    pub(super) fn new(inner: S, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<S, B> Service<hyper::Request<Incoming>> for Tracked<S>
where
    S: Service<hyper::Request<Incoming>, Response = hyper::Response<B>>,
    S::Future: Send + 'static,
    B: Body + Send + 'static,
{
    type Response = hyper::Response<TrackedBody<B>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        let busy = self.activity.start();
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| TrackedBody {
                body: Box::pin(body),
                _busy: busy,
            }))
        })
    }
}

/// A response body that keeps its request in progress until it is dropped.
#[derive(Debug)]
pub(super) struct TrackedBody<B> {
    body: Pin<Box<B>>,
    _busy: Busy,
}

impl<B: Body> Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        self.get_mut().body.as_mut().poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
