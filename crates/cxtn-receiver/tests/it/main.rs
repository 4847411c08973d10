//! Integration tests of the receiver: every server runs on 127.0.0.1:0, in the test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::print_stdout
)]
#![allow(unreachable_pub, missing_debug_implementations)]

/// Runs each named `async fn case(kind: Kind)` of the module as a test on every inbox: memory, SQLite and, with
/// the `postgres` feature, PostgreSQL.
macro_rules! every_inbox {
    ($($case:ident),*) => {
        mod memory {
            $( #[tokio::test] async fn $case() { super::$case(crate::Kind::Memory).await; } )*
        }
        mod sqlite {
            $( #[tokio::test] async fn $case() { super::$case(crate::Kind::Sqlite).await; } )*
        }
        #[cfg(feature = "postgres")]
        mod postgres {
            $( #[tokio::test] async fn $case() { super::$case(crate::Kind::Postgres).await; } )*
        }
    };
}

mod admin;
mod bad_input;
mod crash;
mod delivery;
mod inbox;
mod keys;
mod ledger;
mod platform;
#[cfg(feature = "postgres")]
mod postgres;
mod query;
mod retention;
#[cfg(feature = "test-util")]
mod testing;
mod worker;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use cxtn_receiver::{Event, Handler, HandlerError, Inbox, MemoryInbox, Receiver, Running, SqliteInbox, WorkerPolicy};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

pub const TOKEN: &str = "k4Jx9sQ2pLm7Vw3Zt8Yb1Nc6Rf0Hd5Ga";

/// The inboxes every inbox-level test runs against.
pub enum Kind {
    Memory,
    Sqlite,
    /// A fresh schema in the database at `CXTN_TEST_POSTGRES_URL`; open it with [`open`].
    #[cfg(feature = "postgres")]
    Postgres,
}

pub struct TestInbox {
    pub inbox: Arc<dyn Inbox>,
    pub _dir: Option<tempfile::TempDir>,
    /// What to clean up after the inbox (a PostgreSQL schema).
    pub _guard: Option<Box<dyn std::any::Any + Send>>,
}

pub fn inbox(kind: &Kind) -> TestInbox {
    match kind {
        Kind::Memory => TestInbox {
            inbox: Arc::new(MemoryInbox::new()),
            _dir: None,
            _guard: None,
        },
        Kind::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let inbox = SqliteInbox::open(dir.path().join("inbox.sqlite")).unwrap();
            TestInbox {
                inbox: Arc::new(inbox),
                _dir: Some(dir),
                _guard: None,
            }
        }
        #[cfg(feature = "postgres")]
        Kind::Postgres => panic!("the PostgreSQL inbox connects asynchronously: use open(&Kind::Postgres).await"),
    }
}

/// Any inbox, including those that connect asynchronously.
pub async fn open(kind: &Kind) -> TestInbox {
    match kind {
        #[cfg(feature = "postgres")]
        Kind::Postgres => {
            let schema = postgres::Schema::fresh();
            let inbox = schema.inbox().await;
            TestInbox {
                inbox: Arc::new(inbox),
                _dir: None,
                _guard: Some(Box::new(schema)),
            }
        }
        other => inbox(other),
    }
}

/// A handler that records what it was given and fails the first `failures` attempts of each event.
#[derive(Debug, Default)]
pub struct Recorder {
    pub seen: Mutex<Vec<(String, u32)>>,
    pub failures: u32,
    pub panic: bool,
}

#[cxtn_receiver::async_trait]
impl Handler for Recorder {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        self.seen
            .lock()
            .unwrap()
            .push((event.notification.event_id().to_string(), event.attempt));
        if self.panic && event.attempt == 1 {
            panic!("the handler fell over");
        }
        if event.attempt <= self.failures {
            return Err(format!("attempt {} failed", event.attempt).into());
        }
        Ok(())
    }
}

impl Recorder {
    pub fn ids(&self) -> Vec<String> {
        self.seen.lock().unwrap().iter().map(|(id, _)| id.clone()).collect()
    }
}

pub fn fast_policy() -> WorkerPolicy {
    WorkerPolicy::default()
        .backoff(Duration::from_millis(10), Duration::from_millis(40))
        .poll_interval(Duration::from_millis(20))
        .max_attempts(3)
}

pub struct Started {
    pub running: Running,
    pub recorder: Arc<Recorder>,
    pub inbox: Arc<dyn Inbox>,
}

impl Started {
    pub fn addr(&self) -> SocketAddr {
        self.running.addr()
    }
}

/// A receiver with a recorder, with read timeouts generous enough for a loaded machine.
pub async fn start(inbox: Arc<dyn Inbox>, recorder: Recorder) -> Started {
    start_with_timeouts(inbox, recorder, Duration::from_secs(10)).await
}

/// A receiver with a recorder, whose header and body reads time out after `timeout`.
pub async fn start_with_timeouts(inbox: Arc<dyn Inbox>, recorder: Recorder, timeout: Duration) -> Started {
    let recorder = Arc::new(recorder);
    let receiver = Receiver::builder(inbox.clone())
        .path_token(TOKEN)
        .handler(SharedHandler(recorder.clone()))
        .worker_policy(fast_policy())
        .body_read_timeout(timeout)
        .header_read_timeout(timeout)
        .build()
        .unwrap();
    let running = receiver.bind("127.0.0.1:0").await.unwrap();
    Started {
        running,
        recorder,
        inbox,
    }
}

#[derive(Debug)]
pub struct SharedHandler(pub Arc<Recorder>);

#[cxtn_receiver::async_trait]
impl Handler for SharedHandler {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        self.0.handle(event).await
    }
}

pub fn http_client() -> Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// POSTs (or sends `method`) to the receiver; returns the status and the body.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> (u16, String) {
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = http_client()
        .request(request.body(Full::new(body.into())).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

pub async fn post(addr: SocketAddr, body: impl Into<Bytes>) -> (u16, String) {
    send(
        addr,
        "POST",
        &format!("/cxtn/{TOKEN}"),
        &[("content-type", "application/json")],
        body,
    )
    .await
}

/// Waits until `check` holds, up to 20 seconds.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..2000 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}
