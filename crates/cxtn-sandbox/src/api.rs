//! The management routes under `/api/`: their rules, applied to the sandbox's state.

use cxtn_model::{
    Endpoint, EndpointRequest, EndpointStatus, EndpointStatusRequest, EndpointUrl, UrlPolicy, WebhookEventType,
};
use http::Method;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::ApiCode;
use crate::delivery::DeliveryId;
use crate::state::{EndpointEntry, State};

/// A management operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Enable,
    Create,
    Edit,
    SetStatus,
    Deactivate,
    List,
}

/// A refused request: the code and a description of the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) code: ApiCode,
    pub(crate) description: String,
    /// For [`ApiCode::MethodNotAllowed`]: the methods the route accepts.
    pub(crate) allow: Option<&'static str>,
}

impl Refusal {
    pub(crate) fn new(code: ApiCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            allow: None,
        }
    }
}

/// What an accepted operation answers.
#[derive(Debug)]
pub(crate) enum Reply {
    /// Only the status triple.
    Done,
    /// The list of endpoints.
    Endpoints(Vec<Endpoint>),
}

/// The operation for a method and the path segments after `api`.
pub(crate) fn route(method: &Method, segments: &[&str]) -> Result<Operation, Refusal> {
    let only = |wanted: Method, operation: Operation, allow: &'static str| {
        if *method == wanted { Ok(operation) } else { Err(allow) }
    };
    let found = match segments {
        ["webhooks", "enable"] => only(Method::POST, Operation::Enable, "POST"),
        ["webhooks", "endpoints"] => match *method {
            Method::POST => Ok(Operation::Create),
            Method::PUT => Ok(Operation::Edit),
            Method::GET => Ok(Operation::List),
            _ => Err("GET, POST, PUT"),
        },
        ["webhooks", "endpoints", "status"] => only(Method::PUT, Operation::SetStatus, "PUT"),
        ["webhooks", "deactivate"] => only(Method::PUT, Operation::Deactivate, "PUT"),
        _ => {
            return Err(Refusal::new(
                ApiCode::RouteNotFound,
                "no management route has this path; see the routes in the cxtn-sandbox docs",
            ));
        }
    };
    found.map_err(|allow| Refusal {
        code: ApiCode::MethodNotAllowed,
        description: format!("this route accepts {allow}, not {method}"),
        allow: Some(allow),
    })
}

/// Applies an operation to the state. On success, also returns the deliveries to send now, in order.
pub(crate) fn apply(state: &mut State, operation: Operation, body: &[u8]) -> Result<(Reply, Vec<DeliveryId>), Refusal> {
    match operation {
        Operation::Enable => {
            state.enabled = true;
            Ok((Reply::Done, Vec::new()))
        }
        Operation::Create => {
            let request: EndpointRequest = read_body(body)?;
            if !state.enabled {
                return Err(Refusal::new(
                    ApiCode::WebhooksNotEnabled,
                    "webhooks are not enabled on the account; call POST webhooks/enable first",
                ));
            }
            check_event_type(&request.event_type)?;
            check_url(&request.endpoint_url)?;
            if state.endpoint(&request.event_type).is_some() {
                return Err(Refusal::new(
                    ApiCode::EndpointExists,
                    format!(
                        "an endpoint already exists for {}; edit it with PUT webhooks/endpoints",
                        request.event_type
                    ),
                ));
            }
            state.endpoints.push(EndpointEntry {
                event_type: request.event_type,
                url: request.endpoint_url,
                status: EndpointStatus::Active,
            });
            Ok((Reply::Done, Vec::new()))
        }
        Operation::Edit => {
            let request: EndpointRequest = read_body(body)?;
            check_event_type(&request.event_type)?;
            check_url(&request.endpoint_url)?;
            let endpoint = find(state, &request.event_type)?;
            endpoint.url = request.endpoint_url;
            Ok((Reply::Done, Vec::new()))
        }
        Operation::SetStatus => {
            let request: EndpointStatusRequest = read_body(body)?;
            check_event_type(&request.event_type)?;
            if request.status.name().is_none() {
                return Err(Refusal::new(
                    ApiCode::InvalidStatus,
                    format!("`{}` is not a status; use Active, Inactive or Paused", request.status),
                ));
            }
            let endpoint = find(state, &request.event_type)?;
            endpoint.status = request.status;
            let released = match request.status {
                EndpointStatus::Active => state.release_held(&request.event_type),
                EndpointStatus::Paused => Vec::new(),
                _ => {
                    state.drop_held(&request.event_type);
                    Vec::new()
                }
            };
            Ok((Reply::Done, released))
        }
        Operation::Deactivate => {
            let types: Vec<WebhookEventType> = state.endpoints.iter().map(|e| e.event_type).collect();
            for event_type in &types {
                if let Some(endpoint) = state.endpoint_mut(event_type) {
                    endpoint.status = EndpointStatus::Inactive;
                }
                state.drop_held(event_type);
            }
            Ok((Reply::Done, Vec::new()))
        }
        Operation::List => Ok((
            Reply::Endpoints(state.endpoints.iter().map(EndpointEntry::to_model).collect()),
            Vec::new(),
        )),
    }
}

fn find<'a>(state: &'a mut State, event_type: &WebhookEventType) -> Result<&'a mut EndpointEntry, Refusal> {
    state.endpoint_mut(event_type).ok_or_else(|| {
        Refusal::new(
            ApiCode::EndpointNotFound,
            format!("no endpoint exists for {event_type}; create it with POST webhooks/endpoints"),
        )
    })
}

/// Reads a JSON object body into a model type, matching field names in any case.
fn read_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    let object: Map<String, Value> = serde_json::from_slice(body).map_err(|e| {
        Refusal::new(
            ApiCode::InvalidBody,
            if body.iter().all(u8::is_ascii_whitespace) {
                "the request has no body; send a JSON object".to_owned()
            } else {
                format!("the body is not a JSON object ({e})")
            },
        )
    })?;
    let object: Map<String, Value> = object
        .into_iter()
        .map(|(name, value)| (canonical(name), value))
        .collect();
    serde_json::from_value(Value::Object(object)).map_err(|e| {
        Refusal::new(
            ApiCode::InvalidBody,
            format!("the body does not have the expected fields ({e})"),
        )
    })
}

fn canonical(name: String) -> String {
    match name.to_ascii_lowercase().as_str() {
        "webhookeventtype" => "WebhookEventType".to_owned(),
        "endpointurl" => "EndpointUrl".to_owned(),
        "status" => "Status".to_owned(),
        _ => name,
    }
}

fn check_event_type(event_type: &WebhookEventType) -> Result<(), Refusal> {
    if event_type.name().is_none() {
        return Err(Refusal::new(
            ApiCode::InvalidEventType,
            format!(
                "`{event_type}` is not a webhook event type; use Trade, Payment, AccountTransaction, Wallet, Card, Quote or BulkPayments (or 0 to 6)"
            ),
        ));
    }
    Ok(())
}

/// Accepts absolute `http` and `https` URLs with a host, written as an HTTP request can carry them.
/// The refusal never repeats the URL's path.
pub(crate) fn check_url(url: &EndpointUrl) -> Result<(), Refusal> {
    url.check(UrlPolicy::new().allow_insecure_http(true).as_sent(true))
        .map_err(|e| {
            Refusal::new(
                ApiCode::InvalidUrl,
                format!(
                    "the endpoint URL `{}` is not an absolute http or https URL",
                    e.redacted()
                ),
            )
        })
}

#[cfg(test)]
mod tests;
