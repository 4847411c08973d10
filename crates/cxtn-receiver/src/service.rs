//! The HTTP handling of a delivery, as a `tower::Service`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body::Body;
use http_body_util::{BodyExt, Full, Limited};
use serde::Serialize;
use tokio::sync::{Notify, Semaphore, broadcast};

use crate::auth::Live;
use crate::inbox::{EventId, Inbox, InboxErrorKind, NewEvent, NewRejection, Stored};
use crate::metrics::Metrics;
use crate::now_ms;

/// What a delivery became, published as it happens to the subscribers of
/// [`Receiver::subscribe`](crate::Receiver::subscribe).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Arrival {
    /// `eventId`, when the envelope was usable.
    pub event_id: Option<EventId>,
    /// `event`, when the envelope was usable.
    pub event: Option<String>,
    /// What the receiver did with it.
    pub outcome: ArrivalOutcome,
    /// When it arrived (milliseconds since the Unix epoch).
    pub received_at_ms: i64,
}

/// What the receiver did with a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[non_exhaustive]
pub enum ArrivalOutcome {
    /// Stored, new.
    Stored,
    /// Already stored with this very body; counted and acknowledged.
    Duplicate,
    /// Already stored with a different body: this one is kept beside it as a conflicting version, logged and
    /// counted, and the first body stays the one processed.
    Conflict,
    /// Its envelope is usable but its `data` does not fit the typed model: stored as quarantined.
    Quarantined {
        /// The parser's reason.
        reason: String,
    },
    /// No usable envelope (or one the inbox refused); stored as a rejection, once per body.
    Rejected {
        /// The parser's reason.
        reason: String,
    },
}

/// Limits that keep a slow or hostile client from holding the receiver.
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub(crate) max_body: usize,
    pub(crate) body_timeout: Duration,
}

pub(crate) struct Shared {
    pub(crate) inbox: Arc<dyn Inbox>,
    pub(crate) auth: Live,
    pub(crate) limits: Limits,
    pub(crate) permits: Arc<Semaphore>,
    pub(crate) stored: Arc<Notify>,
    pub(crate) arrivals: broadcast::Sender<Arrival>,
    pub(crate) metrics: Metrics,
}

/// The receiver's request handling as a [`tower_service::Service`], to mount in an existing
/// axum or hyper application. Get one from [`Receiver::service`](crate::Receiver::service).
///
/// Every request: authentication, `POST` only, JSON content types, the body size and read-time limits,
/// then the parse and the durable store, and only then the answer.
#[derive(Clone)]
pub struct ReceiverService {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for ReceiverService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiverService")
            .field("inbox", &self.shared.inbox)
            .field("auth", &self.shared.auth)
            .field("limits", &self.shared.limits)
            .finish_non_exhaustive()
    }
}

impl<B> tower_service::Service<Request<B>> for ReceiverService
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let shared = self.shared.clone();
        Box::pin(async move { Ok(handle(&shared, request).await) })
    }
}

fn answer(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    answer(status, format!(r#"{{"error":{}}}"#, json_string(message)))
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
}

fn unavailable(message: &str) -> Response<Full<Bytes>> {
    let mut response = error(StatusCode::SERVICE_UNAVAILABLE, message);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}

fn is_json_content_type(value: Option<&HeaderValue>) -> bool {
    let Some(value) = value else { return true };
    let Ok(text) = value.to_str() else { return false };
    let essence = text.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json") || essence.eq_ignore_ascii_case("text/json")
}

async fn handle<B>(shared: &Shared, request: Request<B>) -> Response<Full<Bytes>>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let Ok(_permit) = shared.permits.clone().try_acquire_owned() else {
        shared.metrics.delivery("busy");
        return unavailable("the receiver is at its limit of concurrent requests; retry shortly");
    };
    let authorization = request.headers().get(header::AUTHORIZATION).map(HeaderValue::as_bytes);
    if !shared.auth.check(request.uri().path(), authorization) {
        shared.metrics.delivery("unauthorized");
        let mut response = error(StatusCode::UNAUTHORIZED, "unauthorized");
        if shared.auth.wants_basic() {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"cxtn\""),
            );
        }
        return response;
    }
    if request.method() != Method::POST {
        shared.metrics.delivery("method_not_allowed");
        let mut response = error(StatusCode::METHOD_NOT_ALLOWED, "only POST is accepted");
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    if !is_json_content_type(request.headers().get(header::CONTENT_TYPE)) {
        shared.metrics.delivery("unsupported_media_type");
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the content type must be application/json or text/json",
        );
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > shared.limits.max_body as u64) {
        return too_large(shared, shared.limits.max_body);
    }
    let body = Limited::new(request.into_body(), shared.limits.max_body);
    let body = match tokio::time::timeout(shared.limits.body_timeout, body.collect()).await {
        Err(_) => {
            shared.metrics.delivery("timeout");
            return error(StatusCode::REQUEST_TIMEOUT, "the body took too long to arrive");
        }
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => return too_large(shared, shared.limits.max_body),
        Ok(Err(_)) => {
            shared.metrics.delivery("unreadable");
            return error(StatusCode::BAD_REQUEST, "the body could not be read");
        }
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    let received_at_ms = now_ms();
    match classify(&body) {
        Classified::Event {
            envelope,
            quarantine,
            object_id,
        } => store(shared, envelope, quarantine, object_id, received_at_ms, body).await,
        Classified::Rejected { reason, kind } => reject(shared, reason, kind, received_at_ms, body).await,
    }
}

/// Whether an event id is empty or only whitespace: no id at all.
pub(crate) fn is_blank(event_id: &EventId) -> bool {
    event_id.as_str().trim().is_empty()
}

/// What a body is worth storing as: an event when it parses, quarantined when only its envelope is usable
/// (a JSON object with non-empty `eventId` and `event` strings), else a rejection: of kind `empty_event_id`
/// for a body that parses but has an empty or blank `eventId`, of the parser's kind otherwise.
pub(crate) enum Classified {
    /// An event: one that parsed, or one whose envelope is usable, quarantined with the reason.
    Event {
        envelope: cxtn_events::Envelope,
        quarantine: Option<String>,
        /// The `objectId` the exact parse read, for a known event; `None` leaves it to be read from the body.
        object_id: Option<String>,
    },
    /// A body without a usable envelope.
    Rejected { reason: String, kind: &'static str },
}

const EMPTY_EVENT_ID: &str = "empty_event_id";

fn empty_event_id() -> Classified {
    Classified::Rejected {
        reason: "`eventId` is empty: every notification needs its own id".to_owned(),
        kind: EMPTY_EVENT_ID,
    }
}

pub(crate) fn classify(body: &[u8]) -> Classified {
    let parse_error = match cxtn_events::parse(body) {
        Ok(notification) if is_blank(notification.event_id()) => return empty_event_id(),
        Ok(notification) => {
            let envelope = cxtn_events::Envelope::from(&notification);
            return Classified::Event {
                envelope,
                quarantine: None,
                object_id: notification.object_id().map(|id| id.to_string()),
            };
        }
        Err(e) => e,
    };
    match cxtn_events::parse_envelope(body) {
        // Both problems: the parser's kind, and a reason that names both.
        Ok(envelope) if is_blank(&envelope.event_id) => Classified::Rejected {
            reason: format!("`eventId` is empty, and {parse_error}"),
            kind: parse_error.kind().as_str(),
        },
        Ok(envelope) if !envelope.event.trim().is_empty() => Classified::Event {
            envelope,
            quarantine: Some(parse_error.to_string()),
            object_id: None,
        },
        _ => Classified::Rejected {
            reason: parse_error.to_string(),
            kind: parse_error.kind().as_str(),
        },
    }
}

async fn store(
    shared: &Shared,
    envelope: cxtn_events::Envelope,
    quarantine: Option<String>,
    object_id: Option<String>,
    received_at_ms: i64,
    body: Bytes,
) -> Response<Full<Bytes>> {
    let cxtn_events::Envelope {
        event_id,
        event,
        subscription,
        ..
    } = envelope;
    let mut new = NewEvent::with_parsed_object_id(
        event_id.clone(),
        event.clone(),
        subscription.map(|s| s.to_string()),
        received_at_ms,
        body.clone(),
        object_id,
    );
    if let Some(reason) = &quarantine {
        new = new.quarantined(reason.clone());
    }
    let body_hash = new.body_hash;
    let started = std::time::Instant::now();
    let stored = shared.inbox.store(new).await;
    shared.metrics.stored_in("store", started.elapsed());
    let stored = match stored {
        Ok(stored) => stored,
        Err(e) if e.kind() == InboxErrorKind::Refused => {
            // The inbox cannot hold this event (a byte its database refuses in the id): answering 503 would
            // have the sender retry forever, so it is kept as a rejection instead.
            tracing::warn!(error = %e, "the inbox refused a delivery; storing it as a rejection");
            let reason = format!("the inbox refused the event: {e}");
            return reject(shared, reason, "refused", received_at_ms, body).await;
        }
        Err(e) => {
            tracing::error!(error = %e, event_id = %event_id, "could not store a delivery; answering 503 so it is sent again");
            shared.metrics.delivery("unavailable");
            return unavailable("the delivery could not be stored; send it again later");
        }
    };
    let (status, outcome) = match (stored, quarantine) {
        (Stored::Duplicate, _) => ("duplicate", ArrivalOutcome::Duplicate),
        (Stored::Conflict, _) => {
            tracing::warn!(
                event_id = %event_id,
                body_hash = %body_hash,
                "a delivery changed the body of a stored event: kept beside it as a conflicting version; the first body stays the one processed"
            );
            ("conflict", ArrivalOutcome::Conflict)
        }
        (_, Some(reason)) => {
            shared.stored.notify_one();
            ("quarantined", ArrivalOutcome::Quarantined { reason })
        }
        (_, None) => {
            shared.stored.notify_one();
            ("stored", ArrivalOutcome::Stored)
        }
    };
    shared.metrics.delivery(status);
    let answer_body = format!(
        r#"{{"status":"{status}","eventId":{}}}"#,
        json_string(event_id.as_str())
    );
    publish(shared, Some(event_id), Some(event), outcome, received_at_ms);
    answer(StatusCode::OK, answer_body)
}

async fn reject(
    shared: &Shared,
    reason: String,
    kind: &str,
    received_at_ms: i64,
    body: Bytes,
) -> Response<Full<Bytes>> {
    let rejection = NewRejection::new(received_at_ms, body, reason.clone(), kind);
    let started = std::time::Instant::now();
    let rejected = shared.inbox.reject(rejection).await;
    shared.metrics.stored_in("reject", started.elapsed());
    match rejected {
        Ok(_) => {
            shared.metrics.delivery("rejected");
            let response = error(StatusCode::BAD_REQUEST, &short(&reason));
            publish(shared, None, None, ArrivalOutcome::Rejected { reason }, received_at_ms);
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "could not store a rejected delivery; answering 503 so it is sent again");
            shared.metrics.delivery("unavailable");
            unavailable("the delivery could not be stored; send it again later")
        }
    }
}

fn publish(
    shared: &Shared,
    event_id: Option<EventId>,
    event: Option<String>,
    outcome: ArrivalOutcome,
    received_at_ms: i64,
) {
    if shared.arrivals.receiver_count() > 0 {
        let _ = shared.arrivals.send(Arrival {
            event_id,
            event,
            outcome,
            received_at_ms,
        });
    }
}

fn too_large(shared: &Shared, limit: usize) -> Response<Full<Bytes>> {
    shared.metrics.delivery("too_large");
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("the body is larger than the receiver's limit of {limit} bytes"),
    )
}

/// A reason short enough for a response: the first 200 characters.
fn short(reason: &str) -> String {
    let mut out: String = reason.chars().take(200).collect();
    if out.len() < reason.len() {
        out.push('…');
    }
    out
}
