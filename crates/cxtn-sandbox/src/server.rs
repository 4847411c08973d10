//! The HTTP server: the management routes under `/api/` and the sandbox's own routes under `/sandbox/`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use cxtn_model::{ApiResponse, ApiStatus, AuthorisedClientModel, AuthorisedUserModel, EndpointsModel, StatusModel};
use cxtn_transport::server::Server;
use http::header::{ALLOW, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::api::{self, Refusal, Reply};
use crate::delivery::{DeliveryId, DeliveryView, SkipReason};
use crate::engine::{MAX_BATCH, Shared};
use crate::fields::Fields;
use crate::trigger::TriggerReport;
use crate::{ApiCode, FieldValue, Trigger};

/// The largest request body the server reads.
pub(crate) const MAX_BODY: usize = 1024 * 1024;

/// How much of a body above [`MAX_BODY`] the server reads and drops before it answers.
const MAX_DISCARD: usize = 16 * 1024 * 1024;

/// How long a client may take to send the request head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How long open connections get to finish their requests at shutdown.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

type Body = Full<Bytes>;

/// Serves until `stop` turns true or its sender goes away, then drains.
pub(crate) async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let service = service_fn(move |request: hyper::Request<Incoming>| {
        let shared = Arc::clone(&shared);
        async move { Ok::<_, Infallible>(handle(&shared, request).await) }
    });
    Server::new()
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .drain_timeout(DRAIN_TIMEOUT)
        .serve(listener, service, async move {
            let _ = stop.wait_for(|stop| *stop).await;
        })
        .await;
}

async fn handle(shared: &Arc<Shared>, request: hyper::Request<Incoming>) -> hyper::Response<Body> {
    let (parts, body) = request.into_parts();
    let segments: Vec<&str> = parts.uri.path().split('/').filter(|s| !s.is_empty()).collect();
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(refusal) => return refused(shared, &refusal, false),
    };
    match segments.split_first() {
        Some((&"api", rest)) => management(shared, &parts, rest, &body),
        Some((&"sandbox", rest)) => control(shared, &parts.method, rest, parts.uri.query(), &body),
        _ => refused(
            shared,
            &Refusal::new(
                ApiCode::RouteNotFound,
                "no route has this path; the management routes are under /api/ and the sandbox's own under /sandbox/",
            ),
            false,
        ),
    }
}

/// Reads the body, up to [`MAX_BODY`] bytes. A larger body is read on to its end (up to [`MAX_DISCARD`] bytes)
/// and dropped, so that the client, still sending, gets the refusal rather than a broken connection.
async fn read_body(mut body: Incoming) -> Result<Bytes, Refusal> {
    let mut kept = BytesMut::new();
    let mut seen: usize = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| Refusal::new(ApiCode::InvalidBody, "the body could not be read"))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen <= MAX_BODY {
            kept.extend_from_slice(&data);
        } else if seen > MAX_DISCARD {
            break;
        }
    }
    if seen > MAX_BODY {
        return Err(Refusal::new(
            ApiCode::BodyTooLarge,
            format!("the body is larger than {MAX_BODY} bytes"),
        ));
    }
    Ok(kept.freeze())
}

fn management(shared: &Arc<Shared>, parts: &http::request::Parts, rest: &[&str], body: &[u8]) -> hyper::Response<Body> {
    if !authorised(shared, parts) {
        let refusal = Refusal::new(
            ApiCode::Unauthorized,
            if shared.auth.open {
                "send a non-empty bearer token: `Authorization: Bearer <token>`"
            } else {
                "the bearer token is missing or is not the sandbox's token; send `Authorization: Bearer <token>`"
            },
        );
        return refused(shared, &refusal, false);
    }
    let outcome = api::route(&parts.method, rest).and_then(|operation| shared.api(operation, body));
    match outcome {
        Ok(Reply::Done) => json(
            StatusCode::OK,
            envelope(shared, StatusModel::new(ApiStatus::valid()), true),
        ),
        Ok(Reply::Endpoints(endpoints)) => json(StatusCode::OK, envelope(shared, EndpointsModel::new(endpoints), true)),
        Err(refusal) => refused(shared, &refusal, true),
    }
}

fn authorised(shared: &Shared, parts: &http::request::Parts) -> bool {
    parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .is_some_and(|token| shared.auth.accepts(token))
}

/// The routes under `/sandbox/`.
fn control(
    shared: &Arc<Shared>,
    method: &Method,
    rest: &[&str],
    query: Option<&str>,
    body: &[u8],
) -> hyper::Response<Body> {
    let (allow, answer) = match rest {
        ["health"] => ("GET", (*method == Method::GET).then(|| Ok(health(shared)))),
        ["deliveries"] => ("GET", (*method == Method::GET).then(|| deliveries(shared, query))),
        ["trigger"] => ("POST", (*method == Method::POST).then(|| trigger(shared, body))),
        _ => {
            let refusal = Refusal::new(
                ApiCode::RouteNotFound,
                "no sandbox route has this path; use /sandbox/health, /sandbox/deliveries or /sandbox/trigger",
            );
            return refused(shared, &refusal, false);
        }
    };
    let answer = answer.unwrap_or_else(|| {
        Err(Refusal {
            code: ApiCode::MethodNotAllowed,
            description: format!("this route accepts {allow}, not {method}"),
            allow: Some(allow),
        })
    });
    match answer {
        Ok(text) => json(StatusCode::OK, text),
        Err(refusal) => refused(shared, &refusal, false),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Health {
    status: &'static str,
    webhooks_enabled: bool,
    endpoints: usize,
    deliveries: usize,
    pending: usize,
}

fn health(shared: &Shared) -> String {
    let state = shared.state();
    to_json(&Health {
        status: "ok",
        webhooks_enabled: state.enabled,
        endpoints: state.endpoints.len(),
        deliveries: state.deliveries().count(),
        pending: state.pending(),
    })
}

/// The delivery log, oldest first; with `?from=ID`, only the entries from that number on, so a client that
/// follows its own deliveries does not read the whole log each time.
fn deliveries(shared: &Shared, query: Option<&str>) -> Result<String, Refusal> {
    let mut from = 0_u64;
    for pair in query.unwrap_or_default().split('&').filter(|pair| !pair.is_empty()) {
        match pair.split_once('=') {
            Some(("from", value)) => {
                from = value.parse().map_err(|_| {
                    Refusal::new(
                        ApiCode::InvalidBody,
                        format!("`from` must be a delivery number, such as from=1, not `{value}`"),
                    )
                })?;
            }
            _ => {
                return Err(Refusal::new(
                    ApiCode::InvalidBody,
                    "the delivery log takes one query parameter, `from`: the first delivery number to list",
                ));
            }
        }
    }
    let state = shared.state();
    let views: Vec<DeliveryView<'_>> = state
        .deliveries()
        .filter(|delivery| delivery.id.get() >= from)
        .map(DeliveryView::from)
        .collect();
    Ok(to_json(&views))
}

/// The body of `POST /sandbox/trigger`: one of these, or an array of them for a shuffled batch.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TriggerRequest {
    event: String,
    #[serde(default)]
    set: Option<Fields>,
    #[serde(default)]
    data: Option<Box<RawValue>>,
    #[serde(default)]
    data_as_string: bool,
    #[serde(default)]
    duplicate: bool,
    #[serde(default)]
    subscription: Option<Value>,
}

impl TriggerRequest {
    fn into_trigger(self) -> Trigger {
        let mut trigger = Trigger::new(self.event)
            .data_as_string(self.data_as_string)
            .duplicate(self.duplicate);
        if let Some(data) = self.data {
            trigger = trigger.data_json(data.get());
        }
        if let Some(set) = self.set {
            for (name, value) in set.iter() {
                trigger = trigger.set(name, FieldValue::from(value));
            }
        }
        if let Some(subscription) = self.subscription {
            trigger = trigger.subscription(cxtn_model::WebhookEventType::from_wire(&subscription));
        }
        trigger
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ReportView<'a> {
    event_id: &'a cxtn_model::EventId,
    event: &'a str,
    subscription: Option<&'a cxtn_model::WebhookEventType>,
    deliveries: &'a [DeliveryId],
    outcome: &'static str,
    reason: Option<&'static str>,
    encoding: &'static str,
    body: Option<&'a RawValue>,
}

impl<'a> From<&'a TriggerReport> for ReportView<'a> {
    fn from(report: &'a TriggerReport) -> Self {
        Self {
            event_id: &report.event_id,
            event: &report.event,
            subscription: report.subscription.as_ref(),
            deliveries: &report.deliveries,
            outcome: report.outcome.as_str(),
            reason: report.outcome.skip_reason().map(SkipReason::as_str),
            encoding: report.encoding.as_str(),
            body: serde_json::from_str(&report.body).ok(),
        }
    }
}

/// Reads the body of `POST /sandbox/trigger`: one trigger, or an array of them (a batch).
pub(crate) fn parse_triggers(body: &[u8]) -> Result<(Vec<Trigger>, bool), Refusal> {
    let invalid = |e: serde_json::Error| {
        Refusal::new(
            ApiCode::InvalidBody,
            format!("the trigger is not valid JSON of the documented shape ({e})"),
        )
    };
    let batch = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[');
    let requests: Vec<TriggerRequest> = if batch {
        serde_json::from_slice(body).map_err(invalid)?
    } else {
        vec![serde_json::from_slice(body).map_err(invalid)?]
    };
    if requests.is_empty() {
        return Err(Refusal::new(
            ApiCode::InvalidBody,
            "the batch is empty; give at least one trigger",
        ));
    }
    if requests.len() > MAX_BATCH {
        return Err(Refusal::new(
            ApiCode::InvalidBody,
            format!("a batch holds at most {MAX_BATCH} triggers"),
        ));
    }
    Ok((requests.into_iter().map(TriggerRequest::into_trigger).collect(), batch))
}

fn trigger(shared: &Arc<Shared>, body: &[u8]) -> Result<String, Refusal> {
    let (triggers, batch) = parse_triggers(body)?;
    let reports = shared.trigger(&triggers, batch).map_err(|e| {
        let description = match e.field() {
            Some(field) => format!("{e} (field `{field}`)"),
            None => e.to_string(),
        };
        Refusal::new(ApiCode::InvalidBody, description)
    })?;
    let views: Vec<ReportView<'_>> = reports.iter().map(ReportView::from).collect();
    Ok(if batch {
        to_json(&views)
    } else {
        to_json(&views.first())
    })
}

/// A refusal as the envelope, with its HTTP status (and `Allow` for 405).
fn refused(shared: &Shared, refusal: &Refusal, authorised: bool) -> hyper::Response<Body> {
    let status = StatusCode::from_u16(refusal.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let model = StatusModel::new(ApiStatus::new(
        refusal.code.code(),
        refusal.code.name(),
        refusal.description.clone(),
    ));
    let mut response = json(status, envelope(shared, model, authorised));
    if let Some(allow) = refusal.allow {
        response.headers_mut().insert(ALLOW, HeaderValue::from_static(allow));
    }
    response
}

/// CXTN's envelope around a model; the client and user parts only for an authorised caller.
fn envelope<M: Serialize>(shared: &Shared, model: M, authorised: bool) -> String {
    let mut response = ApiResponse::new(model);
    if authorised {
        let mut user = AuthorisedUserModel::default();
        user.user_id = Some("sandbox-user".to_owned());
        user.app_version = Some(crate::engine::USER_AGENT.to_owned());
        user.token_start_date = Some(shared.dates.start.clone());
        user.token_end_date = Some(shared.dates.end.clone());
        user.login_timestamp = Some(dotnet_now());
        user.api_login_type = Some(Value::from(1));
        user.status = ApiStatus::valid();
        response = response
            .with_client(AuthorisedClientModel::new("sandbox-client", "cxtn-sandbox"))
            .with_user(user);
    }
    to_json(&response)
}

/// Now, as CXTN writes timestamps: no offset, 7 fractional digits.
fn dotnet_now() -> String {
    let now = chrono::DateTime::<chrono::Utc>::from(SystemTime::now());
    format!(
        "{}.{:07}",
        now.format("%Y-%m-%dT%H:%M:%S"),
        now.timestamp_subsec_nanos() / 100
    )
}

fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| {
        tracing::error!(error = %e, "could not write a response as JSON");
        r#"{"Content":{"Model":{"ApiStatusCode":500,"ApiStatus":"InternalError","ApiStatusDescription":"the response could not be written"}}}"#.to_owned()
    })
}

fn json(status: StatusCode, text: String) -> hyper::Response<Body> {
    let mut response = hyper::Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests;
