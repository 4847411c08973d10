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
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use serde_json::json;

use crate::inbox::Inbox;
use crate::metrics::Metrics;

/// How long the inbox's readiness check may take before `/readyz` answers 503.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// The paths the admin listener answers itself.
const OWN_PATHS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body of the admin listener's responses, and of the requests a service
/// [mounted](crate::ReceiverBuilder::admin_mount) on it receives.
pub type AdminBody = UnsyncBoxBody<Bytes, BoxError>;

/// The future of a service mounted on the admin listener: boxed, as a `tower` service's often is.
pub type MountFuture<R> = Pin<Box<dyn Future<Output = Result<R, Infallible>> + Send>>;

type MountCall = dyn Fn(Request<AdminBody>) -> Pin<Box<dyn Future<Output = Response<AdminBody>> + Send>> + Send + Sync;

/// Waits until a service is ready to take a request.
struct Ready<'a, S>(&'a mut S);

impl<S: tower_service::Service<Request<AdminBody>>> Future for Ready<'_, S> {
    type Output = Result<(), S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.poll_ready(cx)
    }
}

/// A service served on the admin listener under a path prefix.
#[derive(Clone)]
pub(crate) struct Mount {
    prefix: String,
    call: Arc<MountCall>,
}

impl std::fmt::Debug for Mount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mount")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Mount {
    pub(crate) fn new<S, B>(prefix: String, service: S) -> Self
    where
        S: tower_service::Service<
                Request<AdminBody>,
                Response = Response<B>,
                Error = Infallible,
                Future = MountFuture<Response<B>>,
            > + Clone
            + Send
            + Sync
            + 'static,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let call = move |request: Request<AdminBody>| {
            let mut service = service.clone();
            let answer: Pin<Box<dyn Future<Output = Response<AdminBody>> + Send>> = Box::pin(async move {
                let ready = Ready(&mut service).await;
                let response = match ready {
                    Ok(()) => service.call(request).await,
                    Err(never) => match never {},
                };
                match response {
                    Ok(response) => response.map(|body| body.map_err(Into::into).boxed_unsync()),
                    Err(never) => match never {},
                }
            });
            answer
        };
        Self {
            prefix,
            call: Arc::new(call),
        }
    }

    /// Why the prefix cannot be mounted, if it cannot.
    pub(crate) fn problem(&self) -> Option<String> {
        let prefix = self.prefix.as_str();
        let bad = if !prefix.starts_with('/') || prefix == "/" {
            "does not start with `/` and a name"
        } else if prefix.ends_with('/') {
            "ends with `/`"
        } else if OWN_PATHS.iter().any(|own| self.covers(own)) {
            "covers /healthz, /readyz or /metrics"
        } else {
            return None;
        };
        Some(format!(
            "the admin mount prefix {prefix:?} {bad}: give one such as `/console`"
        ))
    }

    /// Whether a request path belongs to the mounted service.
    fn covers(&self, path: &str) -> bool {
        path.strip_prefix(self.prefix.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    }
}

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
/// Services [mounted](crate::ReceiverBuilder::admin_mount) under a path prefix (the inbox console under
/// `/console`) answer the requests under it themselves, with their own authentication.
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
    mounts: Vec<Mount>,
}

impl std::fmt::Debug for AdminService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminService")
            .field("inbox", &self.shared.inbox)
            .field("token", &self.shared.token)
            .field("stopping", &self.shared.stopping.load(Ordering::Relaxed))
            .field("mounts", &self.shared.mounts)
            .finish_non_exhaustive()
    }
}

impl AdminService {
    pub(crate) fn new(
        inbox: Arc<dyn Inbox>,
        metrics: Metrics,
        token: Option<Secret>,
        stopping: Arc<AtomicBool>,
        mounts: Vec<Mount>,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                inbox,
                metrics,
                token,
                stopping,
                mounts,
            }),
        }
    }
}

impl<B> tower_service::Service<Request<B>> for AdminService
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<AdminBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let shared = self.shared.clone();
        if let Some(mount) = shared.mounts.iter().find(|mount| mount.covers(request.uri().path())) {
            let answer = (mount.call)(request.map(|body| body.map_err(Into::into).boxed_unsync()));
            return Box::pin(async move { Ok(answer.await) });
        }
        // Only these parts are read; the body is dropped unread.
        let asked = Asked {
            path: request.uri().path().to_owned(),
            method: request.method().clone(),
            authorization: request.headers().get(header::AUTHORIZATION).cloned(),
        };
        Box::pin(async move {
            let response = handle(&shared, asked).await;
            Ok(response.map(|body| body.map_err(|never| match never {}).boxed_unsync()))
        })
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

    /// A mounted service that answers with the path it was asked.
    #[derive(Clone)]
    struct Echo;

    impl tower_service::Service<Request<AdminBody>> for Echo {
        type Response = Response<Full<Bytes>>;
        type Error = Infallible;
        type Future = MountFuture<Response<Full<Bytes>>>;

        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: Request<AdminBody>) -> Self::Future {
            let path = request.uri().path().to_owned();
            Box::pin(async move { Ok(Response::new(Full::new(Bytes::from(format!("echo {path}"))))) })
        }
    }

    #[test]
    fn mount_prefixes_are_checked() {
        let mount = |prefix: &str| Mount::new(prefix.to_owned(), Echo);
        assert_eq!(mount("/console").problem(), None);
        assert_eq!(mount("/a/b").problem(), None);
        for bad in ["", "/", "console", "/console/", "/healthz", "/metrics"] {
            assert!(mount(bad).problem().is_some(), "{bad}");
        }
        let console = mount("/console");
        assert!(console.covers("/console"));
        assert!(console.covers("/console/events/x"));
        assert!(!console.covers("/consoles"));
        assert!(!console.covers("/readyz"));
    }

    #[tokio::test]
    async fn a_mounted_service_answers_under_its_prefix_and_the_rest_stays_the_admin_listeners() {
        use tower_service::Service as _;
        let inbox: Arc<dyn Inbox> = Arc::new(crate::MemoryInbox::new());
        let mut admin = AdminService::new(
            inbox,
            Metrics::default(),
            Some(Secret::from("admin-token")),
            Arc::new(AtomicBool::new(false)),
            vec![Mount::new("/console".to_owned(), Echo)],
        );
        let ask = |path: &str| Request::get(path).body(Full::new(Bytes::new())).unwrap();
        let body = |response: Response<AdminBody>| async move {
            (
                response.status(),
                response.into_body().collect().await.unwrap().to_bytes(),
            )
        };
        let (status, text) = body(admin.call(ask("/console/events?x=1")).await.unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(text, "echo /console/events");
        let (status, _) = body(admin.call(ask("/metrics")).await.unwrap()).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "the admin token still guards the admin endpoints"
        );
        let (status, _) = body(admin.call(ask("/consoles")).await.unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
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
