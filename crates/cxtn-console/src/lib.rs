//! The inbox console: a web page to see what a CXTN inbox holds, what failed and why, and to replay it.
//!
//! Most users run it with `cxtn console --db PATH` or `cxtn listen --admin-addr ADDR --console`; this crate is
//! for serving it from a program of your own, or mounting it in another server.
//!
//! It reads and works through the [`Inbox`] trait only, so a SQLite inbox and a PostgreSQL inbox look the same.
//! Pages are rendered on the server from compile-time checked templates (askama, escaping everything), with a
//! little plain JavaScript for the copy button and the live arrivals; no Node build step is involved.
//!
//! - `/`: counts by status, arrivals per minute over the last six hours, the oldest pending event's age,
//!   and links to the dead letters, quarantined events, conflicts and rejections.
//! - `/events`: newest first, filtered by status, event name, subscription, time range and `eventId` or `objectId`,
//!   paged by a cursor so that it stays fast on a million rows; `/events/{eventId}`: one event with its typed
//!   fields, money exactly as sent, the body pretty-printed, attempts, deliveries, conflicting versions, and Replay.
//! - `/rejections` and `/rejections/{id}`: deliveries that did not parse, with their reason, and Re-parse.
//! - `/stream`: new arrivals as server-sent events; the pages insert them without a reload.
//!
//! Safety: loopback only unless an admin token is set ([`ConsoleBuilder::admin_token`]), the token compared in
//! constant time, a session cookie that is `HttpOnly` and `SameSite=Strict`, a CSRF token in every form and an
//! `Origin` check on every POST, and a strict Content-Security-Policy (no inline script or style) on every response.
//! An endpoint URL's secret path and the admin token are never shown.
//!
//! ```no_run
//! use std::sync::Arc;
//! use cxtn_console::Console;
//! use cxtn_receiver::SqliteInbox;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let inbox = Arc::new(SqliteInbox::open("cxtn-inbox.sqlite")?);
//! let console = Console::builder(inbox).build()?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8090").await?;
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! # drop(stop);
//! console.serve(listener, async move { let _ = stopped.await; }).await?;
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod assets;
mod auth;
mod body;
mod chart;
mod error;
mod pages;
mod query;
mod routes;
mod stream;
mod text;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use cxtn_model::Secret;
use cxtn_receiver::Inbox;
use cxtn_transport::server::Server;
use http::{Request, Response};
use hyper_util::service::TowerToHyperService;
use tokio::sync::watch;

pub use body::Body;
pub use error::{Error, ErrorKind};

/// The default interval at which `/stream` looks for new arrivals.
pub const DEFAULT_LIVE_POLL_INTERVAL: Duration = Duration::from_millis(500);

/// The console over one inbox: serve it on a listener of its own with [`Console::serve`], or mount it as a
/// [`tower_service::Service`] in another server (every path it answers starts with its
/// [base path](ConsoleBuilder::base_path)).
///
/// Mounted on a receiver's admin listener, beside `/healthz`, `/readyz` and `/metrics`:
///
/// ```no_run
/// use std::sync::Arc;
/// use cxtn_console::Console;
/// use cxtn_receiver::{Inbox, Receiver, SqliteInbox};
///
/// # fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let inbox: Arc<dyn Inbox> = Arc::new(SqliteInbox::open("cxtn-inbox.sqlite")?);
/// let admin_token = std::env::var("CXTN_ADMIN_TOKEN")?;
/// let console = Console::builder(inbox.clone())
///     .base_path("/console")
///     .admin_token(admin_token.as_str())
///     .build()?;
/// let receiver = Receiver::builder(inbox)
///     .path_token(std::env::var("CXTN_PATH_TOKEN")?)
///     .admin_addr("127.0.0.1:9090".parse()?)
///     .admin_token(admin_token.as_str())
///     .admin_mount("/console", console)
///     .build()?;
/// # let _ = receiver;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Console {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pub(crate) inbox: Arc<dyn Inbox>,
    pub(crate) token: Option<Secret>,
    /// The base path without a trailing slash: empty for `/`.
    pub(crate) base: String,
    pub(crate) poll: Duration,
    pub(crate) keys: auth::Keys,
    /// Raised when [`Console::serve`] is told to stop, so that live streams end and the server can drain.
    pub(crate) stopping: watch::Sender<bool>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("inbox", &self.shared.inbox)
            .field("admin_token", &self.shared.token)
            .field("base_path", &self.base_path())
            .field("live_poll_interval", &self.shared.poll)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Console`]; problems surface at [`ConsoleBuilder::build`].
#[derive(Debug)]
#[must_use]
pub struct ConsoleBuilder {
    inbox: Arc<dyn Inbox>,
    token: Option<Secret>,
    base_path: String,
    poll: Duration,
}

impl Console {
    /// A builder for the console over `inbox`.
    pub fn builder(inbox: Arc<dyn Inbox>) -> ConsoleBuilder {
        ConsoleBuilder {
            inbox,
            token: None,
            base_path: "/".to_owned(),
            poll: DEFAULT_LIVE_POLL_INTERVAL,
        }
    }

    /// The path every page lives under, with a trailing slash (`/`, `/console/`).
    #[must_use]
    pub fn base_path(&self) -> String {
        format!("{}/", self.shared.base)
    }

    /// Whether requests need the admin token.
    #[must_use]
    pub fn has_admin_token(&self) -> bool {
        self.shared.token.is_some()
    }

    /// Serves the console on `listener` until `stop` completes, through the SDK's one accept loop; live streams
    /// end at `stop` and the requests in flight are answered.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NeedsToken`] when the listener's address is not a loopback address and no admin token is
    /// set (anyone who can reach it could replay events); [`ErrorKind::Io`] when its address cannot be read.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        stop: impl Future<Output = ()> + Send,
    ) -> Result<(), Error> {
        let addr = listener
            .local_addr()
            .map_err(|e| Error::new(ErrorKind::Io, "cannot read the console's listening address").with_source(e))?;
        if self.shared.token.is_none() && !addr.ip().is_loopback() {
            return Err(Error::new(
                ErrorKind::NeedsToken,
                format!(
                    "the console would listen on {addr}, which is not a loopback address, without an admin token: \
                     set an admin token, or listen on 127.0.0.1"
                ),
            ));
        }
        self.shared.stopping.send_replace(false);
        let stopping = self.shared.stopping.clone();
        Server::new()
            .header_read_timeout(Duration::from_secs(30))
            .drain_timeout(Duration::from_secs(2))
            .serve(listener, TowerToHyperService::new(self.clone()), async move {
                stop.await;
                stopping.send_replace(true);
            })
            .await;
        Ok(())
    }
}

impl ConsoleBuilder {
    /// The admin token: every page then needs `Authorization: Bearer <token>` or the session cookie that signing
    /// in at `/login` with it sets. Optional on a loopback address, required on any other.
    /// An empty token is refused by [`build`](Self::build).
    pub fn admin_token(mut self, token: impl Into<Secret>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The path the console lives under (default `/`), such as `/console`; every link and form is relative to it.
    pub fn base_path(mut self, path: impl Into<String>) -> Self {
        self.base_path = path.into();
        self
    }

    /// How often `/stream` asks the inbox for new arrivals (default 500 ms).
    pub fn live_poll_interval(mut self, interval: Duration) -> Self {
        self.poll = interval;
        self
    }

    /// The console.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] for an empty admin token, a base path that does not start with `/` or holds
    /// characters other than letters, digits, `-`, `_`, `.`, `~` and `/`, or a zero poll interval;
    /// [`ErrorKind::Io`] when the system's random number generator fails.
    pub fn build(self) -> Result<Console, Error> {
        if self.token.as_ref().is_some_and(Secret::is_empty) {
            return Err(Error::new(
                ErrorKind::Config,
                "the admin token is empty: give a long random one, or none on a loopback address",
            ));
        }
        let base = normalize_base(&self.base_path)?;
        if self.poll.is_zero() {
            return Err(Error::new(
                ErrorKind::Config,
                "the live poll interval is zero: give one of at least a few milliseconds, such as 500 ms",
            ));
        }
        let (stopping, _) = watch::channel(false);
        Ok(Console {
            shared: Arc::new(Shared {
                inbox: self.inbox,
                token: self.token,
                base,
                poll: self.poll,
                keys: auth::Keys::random()?,
                stopping,
            }),
        })
    }
}

/// The base path without its trailing slash (empty for `/`), or why it cannot be one.
fn normalize_base(path: &str) -> Result<String, Error> {
    let bad = |why: &str| {
        Error::new(
            ErrorKind::Config,
            format!("the base path {path:?} {why}: give one such as `/` or `/console`"),
        )
    };
    if !path.starts_with('/') {
        return Err(bad("does not start with `/`"));
    }
    if !path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '/'))
    {
        return Err(bad(
            "holds characters other than letters, digits, `-`, `_`, `.`, `~` and `/`",
        ));
    }
    if path.split('/').any(|segment| segment == "." || segment == "..") || path.contains("//") {
        return Err(bad("holds an empty, `.` or `..` segment"));
    }
    Ok(path.trim_end_matches('/').to_owned())
}

impl<B> tower_service::Service<Request<B>> for Console
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let shared = self.shared.clone();
        Box::pin(async move { Ok(routes::handle(&shared, request).await) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_paths_are_checked_and_normalized() {
        assert_eq!(normalize_base("/").unwrap(), "");
        assert_eq!(normalize_base("/console").unwrap(), "/console");
        assert_eq!(normalize_base("/console/").unwrap(), "/console");
        assert_eq!(normalize_base("/a/b-c_d").unwrap(), "/a/b-c_d");
        for bad in ["", "console", "/con sole", "/a/../b", "//x", "/a?b", "/<x>"] {
            assert_eq!(normalize_base(bad).unwrap_err().kind(), ErrorKind::Config, "{bad}");
        }
    }

    const _: () = {
        const fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Console>();
        assert_send_sync::<ConsoleBuilder>();
        assert_send_sync::<Error>();
        assert_send_sync::<Body>();
    };
}
