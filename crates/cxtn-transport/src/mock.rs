//! Test doubles: a scripted transport and one that never answers.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use http::Method;

use crate::error::{Error, ErrorKind};
use crate::request::Request;
use crate::response::Response;
use crate::transport::Transport;

/// What a [`MockTransport`] answers next.
#[derive(Debug)]
enum Scripted {
    Response(Response),
    Error(ErrorKind),
}

#[derive(Debug, Default)]
struct State {
    script: VecDeque<Scripted>,
    requests: Vec<Request>,
}

/// A [`Transport`] that answers from a script and records every request. Available with feature `test-util`.
///
/// Answers are queued with [`push_response`](Self::push_response) and [`push_error`](Self::push_error)
/// and given out first in, first out; when none is left, [`send`](Transport::send) fails with
/// [`ErrorKind::Other`] naming the request.
/// A request that fails [`Request::validate`] gets [`ErrorKind::InvalidRequest`], is not recorded
/// and uses up no answer, as no real transport would send it.
///
/// Clones share the script and the record: keep one in the test, give another to the code under test.
///
/// ```
/// use std::sync::Arc;
///
/// use cxtn_transport::{ErrorKind, Method, MockTransport, Request, Response, StatusCode, Transport};
///
/// # async fn run() -> Result<(), cxtn_transport::Error> {
/// let mock = MockTransport::new();
/// mock.push_error(ErrorKind::Connect)
///     .push_response(Response::new(StatusCode::OK).json(r#"{"ok":true}"#));
/// let transport: Arc<dyn Transport> = Arc::new(mock.clone());
///
/// let request = Request::new(Method::GET, "http://127.0.0.1:4010/api/webhooks?page=1");
/// assert!(transport.send(request.clone()).await.unwrap_err().is_connect());
/// assert_eq!(transport.send(request).await?.status, StatusCode::OK);
///
/// assert_eq!(mock.request_count(), 2);
/// mock.assert_requested(Method::GET, "/api/webhooks");
/// # Ok(())
/// # }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(run()).unwrap();
/// ```
#[derive(Debug, Clone, Default)]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub struct MockTransport {
    state: Arc<Mutex<State>>,
}

impl MockTransport {
    /// A mock with an empty script.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues a response.
    pub fn push_response(&self, response: Response) -> &Self {
        self.lock().script.push_back(Scripted::Response(response));
        self
    }

    /// Queues a failure of a kind, such as [`ErrorKind::Connect`] for a refused connection.
    pub fn push_error(&self, kind: ErrorKind) -> &Self {
        self.lock().script.push_back(Scripted::Error(kind));
        self
    }

    /// Every request received so far, oldest first.
    #[must_use]
    pub fn requests(&self) -> Vec<Request> {
        self.lock().requests.clone()
    }

    /// How many requests were received.
    #[must_use]
    pub fn request_count(&self) -> usize {
        self.lock().requests.len()
    }

    /// The most recent request.
    #[must_use]
    pub fn last_request(&self) -> Option<Request> {
        self.lock().requests.last().cloned()
    }

    /// How many scripted answers are left.
    #[must_use]
    pub fn remaining(&self) -> usize {
        self.lock().script.len()
    }

    /// Asserts that some request had `method` and a URL path (or path and query) ending with `path_suffix`.
    ///
    /// # Panics
    ///
    /// When no request matches; the message lists the requests received, by method and path.
    #[track_caller]
    pub fn assert_requested(&self, method: Method, path_suffix: &str) {
        let state = self.lock();
        let matched = state.requests.iter().any(|request| {
            request.method == method
                && (request.path().ends_with(path_suffix)
                    || request
                        .uri()
                        .path_and_query()
                        .is_some_and(|path_and_query| path_and_query.as_str().ends_with(path_suffix)))
        });
        assert!(
            matched,
            "no {method} request to a path ending with `{path_suffix}`; received: [{}]",
            summary(&state.requests)
        );
    }

    /// Asserts that exactly `count` requests were received.
    ///
    /// # Panics
    ///
    /// When the count differs; the message lists the requests received, by method and path.
    #[track_caller]
    pub fn assert_request_count(&self, count: usize) {
        let state = self.lock();
        assert!(
            state.requests.len() == count,
            "expected {count} requests, received {}: [{}]",
            state.requests.len(),
            summary(&state.requests)
        );
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock leaves the state usable for the next assertion.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl Transport for MockTransport {
    async fn send(&self, request: Request) -> Result<Response, Error> {
        request.validate()?;
        let mut state = self.lock();
        let line = format!("{} {}", request.method, request.path());
        state.requests.push(request);
        match state.script.pop_front() {
            Some(Scripted::Response(response)) => Ok(response),
            Some(Scripted::Error(kind)) => Err(Error::new(kind, format!("scripted {kind} error for {line}"))),
            None => Err(Error::new(
                ErrorKind::Other,
                format!("mock transport has no scripted response left for {line}; queue one with push_response"),
            )),
        }
    }
}

/// A [`Transport`] that never answers: every [`send`](Transport::send) waits forever. Available with feature
/// `test-util`.
///
/// Use it to test timeouts. Clones share the count of requests received.
///
/// ```
/// use std::time::Duration;
///
/// use cxtn_transport::{Method, PendingTransport, Request, Retry, RetryPolicy, Transport};
///
/// # async fn run() {
/// let pending = PendingTransport::new();
/// let policy = RetryPolicy::builder().max_attempts(2).attempt_timeout(Duration::from_millis(50)).build();
/// let transport = Retry::new(pending.clone(), policy);
/// let error = transport.send(Request::new(Method::GET, "http://127.0.0.1:9/")).await.unwrap_err();
/// assert!(error.is_timeout());
/// assert_eq!(error.attempts(), 2);
/// assert_eq!(pending.request_count(), 2);
/// # }
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(run());
/// ```
#[derive(Debug, Clone, Default)]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub struct PendingTransport {
    received: Arc<AtomicUsize>,
}

impl PendingTransport {
    /// A transport that never answers.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// How many requests were received (and never answered).
    #[must_use]
    pub fn request_count(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Transport for PendingTransport {
    async fn send(&self, _request: Request) -> Result<Response, Error> {
        self.received.fetch_add(1, Ordering::SeqCst);
        std::future::pending().await
    }
}

fn summary(requests: &[Request]) -> String {
    requests
        .iter()
        .map(|request| format!("{} {}", request.method, request.path()))
        .collect::<Vec<_>>()
        .join(", ")
}
