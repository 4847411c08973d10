//! The CXTN API's response envelope and the bodies of the webhook management routes.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{EndpointStatus, EndpointUrl, Timestamp, WebhookEventType};

/// The code CXTN puts in every status triple; `100` (`IsValid`) is the only documented success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApiStatusCode(pub i64);

impl ApiStatusCode {
    /// `100`: the operation was valid.
    pub const VALID: Self = Self(100);

    /// Whether this is the success code `100`.
    #[must_use]
    pub fn is_valid(self) -> bool {
        self == Self::VALID
    }
}

impl fmt::Display for ApiStatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The status triple every object of the envelope carries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ApiStatus {
    /// `ApiStatusCode`: `100` on success.
    #[serde(rename = "ApiStatusCode", default, skip_serializing_if = "Option::is_none")]
    pub code: Option<ApiStatusCode>,
    /// `ApiStatus`: `IsValid` on success.
    #[serde(rename = "ApiStatus", default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// `ApiStatusDescription`: `Valid Operation` on success.
    #[serde(rename = "ApiStatusDescription", default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl ApiStatus {
    /// The success triple: `100`, `IsValid`, `Valid Operation`.
    #[must_use]
    pub fn valid() -> Self {
        Self::new(ApiStatusCode::VALID, "IsValid", "Valid Operation")
    }

    /// A triple with the given code, status name and description.
    #[must_use]
    pub fn new(code: ApiStatusCode, status: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            code: Some(code),
            status: Some(status.into()),
            description: Some(description.into()),
        }
    }

    /// Whether the code is `100`.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.code.is_some_and(ApiStatusCode::is_valid)
    }
}

/// Every CXTN response: `{"Content": {"Model": ..., "ExpectedResponses": [...]}, "AuthorisedClientModel": ..., "AuthorisedUserModel": ...}`.
///
/// Generic over the operation's model `M`. Fields this version does not know are kept in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ApiResponse<M> {
    /// `Content`: the operation's result.
    #[serde(rename = "Content")]
    pub content: Content<M>,
    /// `AuthorisedClientModel`: the calling client.
    #[serde(rename = "AuthorisedClientModel", default, skip_serializing_if = "Option::is_none")]
    pub authorised_client: Option<AuthorisedClientModel>,
    /// `AuthorisedUserModel`: the calling user and the token's validity.
    #[serde(rename = "AuthorisedUserModel", default, skip_serializing_if = "Option::is_none")]
    pub authorised_user: Option<AuthorisedUserModel>,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl<M> ApiResponse<M> {
    /// A response carrying `model`, with no client or user part.
    #[must_use]
    pub fn new(model: M) -> Self {
        Self {
            content: Content {
                model,
                expected_responses: vec!["IsValid".to_owned()],
                extra: Map::new(),
            },
            authorised_client: None,
            authorised_user: None,
            extra: Map::new(),
        }
    }

    /// Adds the client part.
    #[must_use]
    pub fn with_client(mut self, client: AuthorisedClientModel) -> Self {
        self.authorised_client = Some(client);
        self
    }

    /// Adds the user part.
    #[must_use]
    pub fn with_user(mut self, user: AuthorisedUserModel) -> Self {
        self.authorised_user = Some(user);
        self
    }

    /// When the access token expires, if the response says so and the date parses.
    #[must_use]
    pub fn token_end_date(&self) -> Option<Timestamp> {
        self.authorised_user
            .as_ref()
            .and_then(AuthorisedUserModel::token_end_date)
    }
}

/// `Content`: the operation's model and the responses the API expected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Content<M> {
    /// `Model`: the operation's fields and status triple.
    #[serde(rename = "Model")]
    pub model: M,
    /// `ExpectedResponses`.
    #[serde(rename = "ExpectedResponses", default)]
    pub expected_responses: Vec<String>,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `AuthorisedClientModel`: the client the token belongs to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuthorisedClientModel {
    /// `ClientId`.
    #[serde(rename = "ClientId", default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// `ClientRef`.
    #[serde(rename = "ClientRef", default, skip_serializing_if = "Option::is_none")]
    pub client_ref: Option<String>,
    /// The status triple.
    #[serde(flatten)]
    pub status: ApiStatus,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl AuthorisedClientModel {
    /// A client part with the given id and reference and a valid status.
    #[must_use]
    pub fn new(client_id: impl Into<String>, client_ref: impl Into<String>) -> Self {
        Self {
            client_id: Some(client_id.into()),
            client_ref: Some(client_ref.into()),
            status: ApiStatus::valid(),
            extra: Map::new(),
        }
    }
}

/// `AuthorisedUserModel`: the user, the app version and the token's validity.
///
/// Dates are kept as the strings CXTN sent; the accessors parse them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuthorisedUserModel {
    /// `UserId`.
    #[serde(rename = "UserId", default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// `AppVersion`.
    #[serde(rename = "AppVersion", default, skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    /// `TokenStartDate`, as sent.
    #[serde(rename = "TokenStartDate", default, skip_serializing_if = "Option::is_none")]
    pub token_start_date: Option<String>,
    /// `TokenEndDate`, as sent.
    #[serde(rename = "TokenEndDate", default, skip_serializing_if = "Option::is_none")]
    pub token_end_date: Option<String>,
    /// `LoginTimestamp`, as sent.
    #[serde(rename = "LoginTimestamp", default, skip_serializing_if = "Option::is_none")]
    pub login_timestamp: Option<String>,
    /// `ApiLoginType`.
    #[serde(rename = "ApiLoginType", default, skip_serializing_if = "Option::is_none")]
    pub api_login_type: Option<Value>,
    /// The status triple.
    #[serde(flatten)]
    pub status: ApiStatus,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl AuthorisedUserModel {
    /// A user part with the given id and token validity, and a valid status.
    #[must_use]
    pub fn new(user_id: impl Into<String>, token_start: &Timestamp, token_end: &Timestamp) -> Self {
        Self {
            user_id: Some(user_id.into()),
            token_start_date: Some(token_start.as_str().to_owned()),
            token_end_date: Some(token_end.as_str().to_owned()),
            status: ApiStatus::valid(),
            ..Self::default()
        }
    }

    /// When the token became valid, if the date parses.
    #[must_use]
    pub fn token_start_date(&self) -> Option<Timestamp> {
        self.token_start_date.as_deref().and_then(|s| Timestamp::parse(s).ok())
    }

    /// When the token expires, if the date parses.
    #[must_use]
    pub fn token_end_date(&self) -> Option<Timestamp> {
        self.token_end_date.as_deref().and_then(|s| Timestamp::parse(s).ok())
    }
}

/// The model of operations that return only a status triple (enable, create, edit, status, deactivate).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StatusModel {
    /// The status triple.
    #[serde(flatten)]
    pub status: ApiStatus,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl StatusModel {
    /// A model carrying `status`.
    #[must_use]
    pub fn new(status: ApiStatus) -> Self {
        Self {
            status,
            extra: Map::new(),
        }
    }
}

/// The body of create and edit: `{"WebhookEventType": "Payment", "EndpointUrl": "https://..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EndpointRequest {
    /// `WebhookEventType`.
    #[serde(rename = "WebhookEventType")]
    pub event_type: WebhookEventType,
    /// `EndpointUrl`.
    #[serde(rename = "EndpointUrl")]
    pub endpoint_url: EndpointUrl,
}

impl EndpointRequest {
    /// A create or edit body.
    #[must_use]
    pub fn new(event_type: WebhookEventType, endpoint_url: impl Into<EndpointUrl>) -> Self {
        Self {
            event_type,
            endpoint_url: endpoint_url.into(),
        }
    }
}

/// The body of the status update: `{"WebhookEventType": "Payment", "Status": "Paused"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EndpointStatusRequest {
    /// `WebhookEventType`.
    #[serde(rename = "WebhookEventType")]
    pub event_type: WebhookEventType,
    /// `Status`.
    #[serde(rename = "Status")]
    pub status: EndpointStatus,
}

impl EndpointStatusRequest {
    /// A status update body.
    #[must_use]
    pub fn new(event_type: WebhookEventType, status: EndpointStatus) -> Self {
        Self { event_type, status }
    }
}

/// One webhook endpoint, as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Endpoint {
    /// `WebhookEventType`: an endpoint is identified by its event type.
    #[serde(rename = "WebhookEventType")]
    pub event_type: WebhookEventType,
    /// `EndpointUrl`.
    #[serde(rename = "EndpointUrl", default)]
    pub endpoint_url: EndpointUrl,
    /// `Status`.
    #[serde(rename = "Status", default = "unknown_status")]
    pub status: EndpointStatus,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn unknown_status() -> EndpointStatus {
    EndpointStatus::from_wire(&Value::Null)
}

impl Endpoint {
    /// An endpoint as the list route shows it.
    #[must_use]
    pub fn new(event_type: WebhookEventType, endpoint_url: impl Into<EndpointUrl>, status: EndpointStatus) -> Self {
        Self {
            event_type,
            endpoint_url: endpoint_url.into(),
            status,
            extra: Map::new(),
        }
    }
}

/// The model of the list route: `Endpoints` beside the status triple.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EndpointsModel {
    /// `Endpoints`.
    #[serde(rename = "Endpoints", default)]
    pub endpoints: Vec<Endpoint>,
    /// The status triple.
    #[serde(flatten)]
    pub status: ApiStatus,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl EndpointsModel {
    /// A list model with a valid status.
    #[must_use]
    pub fn new(endpoints: Vec<Endpoint>) -> Self {
        Self {
            endpoints,
            status: ApiStatus::valid(),
            extra: Map::new(),
        }
    }
}

/// A model that carries a status triple, so a client can check it whatever the operation.
pub trait HasStatus {
    /// The model's status triple.
    fn status(&self) -> &ApiStatus;
}

impl HasStatus for StatusModel {
    fn status(&self) -> &ApiStatus {
        &self.status
    }
}

impl HasStatus for EndpointsModel {
    fn status(&self) -> &ApiStatus {
        &self.status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUIDE_RESPONSE: &str = r#"{
        "Content": {
            "Model": {"ApiStatusCode": 100, "ApiStatus": "IsValid", "ApiStatusDescription": "Valid Operation"},
            "ExpectedResponses": ["IsValid"]
        },
        "AuthorisedClientModel": {"ClientId": "<clientid>", "ClientRef": "<clientref>", "ApiStatusCode": 100, "ApiStatus": "IsValid", "ApiStatusDescription": "Valid Operation"},
        "AuthorisedUserModel": {"UserId": "<userid>", "AppVersion": "20231117.1", "TokenStartDate": "2023-11-21T00:00:00", "TokenEndDate": "2023-12-21T00:00:00", "LoginTimestamp": "2023-12-01T20:43:29.7267638", "ApiLoginType": 1, "ApiStatusCode": 100, "ApiStatus": "IsValid", "ApiStatusDescription": "Valid Operation"}
    }"#;

    #[test]
    fn reads_the_guides_response() {
        let response: ApiResponse<StatusModel> = serde_json::from_str(GUIDE_RESPONSE).unwrap();
        assert!(response.content.model.status.is_valid());
        assert!(
            response.content.model.extra.is_empty(),
            "the status triple is not also kept as extra"
        );
        assert_eq!(response.content.expected_responses, ["IsValid"]);
        let client = response.authorised_client.as_ref().unwrap();
        assert_eq!(client.client_ref.as_deref(), Some("<clientref>"));
        assert!(client.extra.is_empty());
        assert_eq!(response.token_end_date().unwrap().as_str(), "2023-12-21T00:00:00");
        let user = response.authorised_user.as_ref().unwrap();
        assert_eq!(user.login_timestamp.as_deref(), Some("2023-12-01T20:43:29.7267638"));
    }

    #[test]
    fn reads_a_list_leniently_and_keeps_unknown_fields() {
        let body = r#"{"Content": {"Model": {"Endpoints": [
            {"WebhookEventType": 1, "EndpointUrl": "https://a.example/x", "Status": "Active", "CreatedAt": "2024"},
            {"WebhookEventType": "AccountTransaction", "EndpointUrl": "https://b.example/y", "Status": 7}
        ], "ApiStatusCode": 100, "ApiStatus": "IsValid", "ApiStatusDescription": "Valid Operation", "Paging": null}}}"#;
        let response: ApiResponse<EndpointsModel> = serde_json::from_str(body).unwrap();
        let model = response.content.model;
        assert!(model.status.is_valid());
        assert!(model.extra.contains_key("Paging"));
        assert_eq!(model.endpoints.len(), 2);
        assert_eq!(model.endpoints[0].event_type, WebhookEventType::Payment);
        assert_eq!(model.endpoints[0].extra["CreatedAt"], "2024");
        assert!(matches!(model.endpoints[1].status, EndpointStatus::Unknown(_)));
    }

    #[test]
    fn request_bodies_use_the_table_names() {
        let body =
            serde_json::to_string(&EndpointRequest::new(WebhookEventType::Payment, "https://e.example/h")).unwrap();
        assert_eq!(
            body,
            r#"{"WebhookEventType":"Payment","EndpointUrl":"https://e.example/h"}"#
        );
        let body = serde_json::to_string(&EndpointStatusRequest::new(
            WebhookEventType::AccountTransaction,
            EndpointStatus::Paused,
        ))
        .unwrap();
        assert_eq!(body, r#"{"WebhookEventType":"AccountTransaction","Status":"Paused"}"#);
    }

    #[test]
    fn an_error_envelope_keeps_its_triple() {
        let body = r#"{"Content": {"Model": {"ApiStatusCode": 402, "ApiStatus": "EndpointExists", "ApiStatusDescription": "An endpoint exists"}}}"#;
        let response: ApiResponse<StatusModel> = serde_json::from_str(body).unwrap();
        let status = &response.content.model.status;
        assert!(!status.is_valid());
        assert_eq!(status.code, Some(ApiStatusCode(402)));
        assert_eq!(status.status.as_deref(), Some("EndpointExists"));
    }
}
