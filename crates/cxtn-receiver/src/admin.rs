//! The admin endpoints: liveness, readiness and metrics, apart from the delivery port.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use cxtn_model::Secret;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use serde_json::json;

use crate::inbox::Inbox;
use crate::metrics::Metrics;

/// How long the inbox's readiness check may take before `/readyz` answers 503.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// The admin endpoints of a receiver as a [`tower_service::Service`]: get one from
/// [`Receiver::admin`](crate::Receiver::admin) to mount on an address of your own, or let
/// [`ReceiverBuilder::admin_addr`](crate::ReceiverBuilder::admin_addr) serve it beside the receiver.
///
/// - `GET /healthz`: `200 {"status":"ok"}` while the process serves at all;
/// - `GET /readyz`: `200 {"status":"ready"}` when the inbox's [`check`](Inbox::check) passes and the receiver is
///   not shutting down, else `503 {"status":"unavailable","reason":".."}`;
/// - `GET /metrics`: every metric in the Prometheus text format (see [`Metrics`]).
///
/// With an [`admin_token`](crate::ReceiverBuilder::admin_token), `/readyz` and `/metrics` answer 401 unless the
/// request carries `Authorization: Bearer <token>`; `/healthz` tells nothing and stays open, for probes that
/// cannot send a header.
/// Keep the admin address off the public network in any case: it is not the endpoint CXTN delivers to.
#[derive(Clone)]
pub struct AdminService {
    shared: Arc<Shared>,
}

struct Shared {
    inbox: Arc<dyn Inbox>,
    metrics: Metrics,
    token: Option<Secret>,
    stopping: Arc<AtomicBool>,
}

impl std::fmt::Debug for AdminService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminService")
            .field("inbox", &self.shared.inbox)
            .field("token", &self.shared.token)
            .field("stopping", &self.shared.stopping.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl AdminService {
    pub(crate) fn new(
        inbox: Arc<dyn Inbox>,
        metrics: Metrics,
        token: Option<Secret>,
        stopping: Arc<AtomicBool>,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                inbox,
                metrics,
                token,
                stopping,
            }),
        }
    }
}

impl<B: Send + 'static> tower_service::Service<Request<B>> for AdminService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let shared = self.shared.clone();
        // Only these parts are read; the body is dropped unread.
        let asked = Asked {
            path: request.uri().path().to_owned(),
            method: request.method().clone(),
            authorization: request.headers().get(header::AUTHORIZATION).cloned(),
        };
        Box::pin(async move { Ok(handle(&shared, asked).await) })
    }
}

fn respond(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn json(status: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    respond(status, "application/json", body.to_string())
}

/// What an admin request asks for.
struct Asked {
    path: String,
    method: Method,
    authorization: Option<HeaderValue>,
}

async fn handle(shared: &Shared, asked: Asked) -> Response<Full<Bytes>> {
    let path = asked.path.as_str();
    if !matches!(path, "/healthz" | "/readyz" | "/metrics") {
        return json(
            StatusCode::NOT_FOUND,
            &json!({ "error": "not found: the admin listener serves /healthz, /readyz and /metrics" }),
        );
    }
    if !matches!(asked.method, Method::GET | Method::HEAD) {
        let mut response = json(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({ "error": "only GET is accepted" }),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    if path == "/healthz" {
        return json(StatusCode::OK, &json!({ "status": "ok" }));
    }
    if !authorized(shared.token.as_ref(), asked.authorization.as_ref()) {
        let mut response = json(
            StatusCode::UNAUTHORIZED,
            &json!({ "error": "unauthorized: send the admin token as `Authorization: Bearer <token>`" }),
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"cxtn-admin\""),
        );
        return response;
    }
    if path == "/metrics" {
        shared.metrics.refresh().await;
        return respond(StatusCode::OK, Metrics::CONTENT_TYPE, shared.metrics.render());
    }
    match readiness(shared).await {
        Ok(()) => json(StatusCode::OK, &json!({ "status": "ready" })),
        Err(reason) => {
            let mut response = json(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({ "status": "unavailable", "reason": reason }),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            response
        }
    }
}

/// Whether the request carries the admin token, when one is set; compared in constant time.
fn authorized(token: Option<&Secret>, authorization: Option<&HeaderValue>) -> bool {
    let Some(token) = token else { return true };
    let presented = authorization
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map_or("", |(_, presented)| presented.trim());
    bool::from(token.ct_eq(presented.as_bytes()))
}

/// Why the receiver should not be sent deliveries now, if it should not.
async fn readiness(shared: &Shared) -> Result<(), String> {
    if shared.stopping.load(Ordering::SeqCst) {
        return Err("the receiver is shutting down".to_owned());
    }
    match tokio::time::timeout(CHECK_TIMEOUT, shared.inbox.check()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "the inbox failed its readiness check");
            Err(format!("the inbox cannot take deliveries: {e}"))
        }
        Err(_) => {
            tracing::warn!("the inbox did not answer its readiness check within 5 s");
            Err("the inbox did not answer its readiness check within 5 s".to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(text: &str) -> HeaderValue {
        HeaderValue::from_str(text).unwrap()
    }

    #[test]
    fn the_admin_token_is_a_bearer_token() {
        let token = Secret::from("s3cret-admin");
        assert!(authorized(None, None));
        assert!(authorized(Some(&token), Some(&bearer("Bearer s3cret-admin"))));
        assert!(authorized(Some(&token), Some(&bearer("bearer  s3cret-admin "))));
        assert!(!authorized(Some(&token), None));
        assert!(!authorized(Some(&token), Some(&bearer("Bearer s3cret-admi"))));
        assert!(!authorized(Some(&token), Some(&bearer("Basic s3cret-admin"))));
        assert!(!authorized(Some(&token), Some(&bearer("s3cret-admin"))));
        assert!(!authorized(Some(&token), Some(&bearer("Bearer "))));
    }
}
