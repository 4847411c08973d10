//! One HTTP/1 accept loop for every server of the SDK: the receiver, the sandbox, test and load servers.
//!
//! Available with feature `server`.

use std::error::Error as StdError;
use std::future::Future;
use std::io;
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::service::Service;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// How long to wait after a failed `accept` (out of file descriptors, for example) before accepting again.
const ACCEPT_RETRY_DELAY: Duration = Duration::from_millis(50);

/// Serves a [`hyper`] service over HTTP/1 on a [`TcpListener`] until a stop signal, then drains.
///
/// - Each accepted connection gets `TCP_NODELAY` and its own task; the client has
///   [`header_read_timeout`](Self::header_read_timeout) to send each request head.
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
/// let server = tokio::spawn(Server::new().serve(listener, service, async move {
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
}

impl Default for Server {
    fn default() -> Self {
        Self::new()
    }
}

impl Server {
    /// A server with the defaults: 30 s to read a request head, 5 s to drain at shutdown.
    pub fn new() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(5),
        }
    }

    /// How long a client may take to send a request head before its connection is closed (default 30 s).
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
        let graceful = GracefulShutdown::new();
        let mut connections = JoinSet::new();
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_read_timeout);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => break,
                accepted = listener.accept() => match accepted {
                    Ok(stream) => {
                        let _ = stream.set_nodelay(true);
                        let connection = builder.serve_connection(TokioIo::new(stream), service.clone());
                        let connection = graceful.watch(connection);
                        connections.spawn(async move {
                            let _ = connection.await;
                        });
                    }
                    Err(error) => {
                        tracing::warn!(%error, "could not accept a connection; retrying shortly");
                        tokio::time::sleep(ACCEPT_RETRY_DELAY).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        drop(listener);
        if tokio::time::timeout(self.drain_timeout, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::debug!(
                open = connections.len(),
                "connections still open after the drain timeout are dropped"
            );
        }
        connections.abort_all();
        while connections.join_next().await.is_some() {}
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
