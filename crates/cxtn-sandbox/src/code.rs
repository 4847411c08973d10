//! The sandbox's own refusal codes.

use std::fmt;

use cxtn_model::ApiStatusCode;

/// The codes the sandbox puts in `ApiStatusCode` when it refuses a request.
///
/// These codes are the sandbox's own: CXTN publishes no error codes, only the success code `100` (`IsValid`).
/// The sandbox answers a refusal with its HTTP status and the envelope, whose `Content.Model` carries
/// the code, the name below as `ApiStatus`, and a description of the problem as `ApiStatusDescription`.
///
/// | code | `ApiStatus` | HTTP | when |
/// |---|---|---|---|
/// | 1001 | `WebhooksNotEnabled` | 400 | an endpoint is created before `POST webhooks/enable` |
/// | 1002 | `EndpointExists` | 400 | an endpoint already exists for the event type (one per type) |
/// | 1003 | `EndpointNotFound` | 400 | editing or changing the status of an endpoint that does not exist |
/// | 1004 | `InvalidUrl` | 400 | the endpoint URL is not an absolute `http` or `https` URL |
/// | 1005 | `InvalidEventType` | 400 | the `WebhookEventType` is not one of CXTN's table |
/// | 1006 | `InvalidStatus` | 400 | the `Status` is not `Active`, `Inactive` or `Paused` |
/// | 1007 | `InvalidBody` | 400 | the body is not JSON of the expected shape (or a trigger is invalid) |
/// | 1008 | `Unauthorized` | 401 | no bearer token, or not the sandbox's token |
/// | 1009 | `RouteNotFound` | 404 | no route has this path |
/// | 1010 | `MethodNotAllowed` | 405 | the route exists but not with this method |
/// | 1011 | `BodyTooLarge` | 413 | the body is larger than 1 MiB |
///
/// ```
/// use cxtn_sandbox::ApiCode;
///
/// assert_eq!(ApiCode::EndpointExists.value(), 1002);
/// assert_eq!(ApiCode::EndpointExists.name(), "EndpointExists");
/// assert_eq!(ApiCode::EndpointExists.http_status(), 400);
/// assert_eq!(ApiCode::from_value(1008), Some(ApiCode::Unauthorized));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ApiCode {
    /// 1001: webhooks are not enabled on the account.
    WebhooksNotEnabled,
    /// 1002: an endpoint already exists for the event type.
    EndpointExists,
    /// 1003: no endpoint exists for the event type.
    EndpointNotFound,
    /// 1004: the endpoint URL is not an absolute `http` or `https` URL.
    InvalidUrl,
    /// 1005: the event type is not one of CXTN's table.
    InvalidEventType,
    /// 1006: the status is not `Active`, `Inactive` or `Paused`.
    InvalidStatus,
    /// 1007: the body is not JSON of the expected shape.
    InvalidBody,
    /// 1008: no bearer token, or the wrong one (HTTP 401).
    Unauthorized,
    /// 1009: no route has this path (HTTP 404).
    RouteNotFound,
    /// 1010: the route exists but not with this method (HTTP 405).
    MethodNotAllowed,
    /// 1011: the body is too large (HTTP 413).
    BodyTooLarge,
}

impl ApiCode {
    /// Every code, in numeric order.
    pub const ALL: [Self; 11] = [
        Self::WebhooksNotEnabled,
        Self::EndpointExists,
        Self::EndpointNotFound,
        Self::InvalidUrl,
        Self::InvalidEventType,
        Self::InvalidStatus,
        Self::InvalidBody,
        Self::Unauthorized,
        Self::RouteNotFound,
        Self::MethodNotAllowed,
        Self::BodyTooLarge,
    ];

    /// The number sent as `ApiStatusCode`.
    #[must_use]
    pub fn value(self) -> i64 {
        match self {
            Self::WebhooksNotEnabled => 1001,
            Self::EndpointExists => 1002,
            Self::EndpointNotFound => 1003,
            Self::InvalidUrl => 1004,
            Self::InvalidEventType => 1005,
            Self::InvalidStatus => 1006,
            Self::InvalidBody => 1007,
            Self::Unauthorized => 1008,
            Self::RouteNotFound => 1009,
            Self::MethodNotAllowed => 1010,
            Self::BodyTooLarge => 1011,
        }
    }

    /// The code as the model's [`ApiStatusCode`].
    #[must_use]
    pub fn code(self) -> ApiStatusCode {
        ApiStatusCode(self.value())
    }

    /// The code for a number, if the sandbox defines it.
    #[must_use]
    pub fn from_value(value: i64) -> Option<Self> {
        Self::ALL.into_iter().find(|code| code.value() == value)
    }

    /// The name sent as `ApiStatus`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::WebhooksNotEnabled => "WebhooksNotEnabled",
            Self::EndpointExists => "EndpointExists",
            Self::EndpointNotFound => "EndpointNotFound",
            Self::InvalidUrl => "InvalidUrl",
            Self::InvalidEventType => "InvalidEventType",
            Self::InvalidStatus => "InvalidStatus",
            Self::InvalidBody => "InvalidBody",
            Self::Unauthorized => "Unauthorized",
            Self::RouteNotFound => "RouteNotFound",
            Self::MethodNotAllowed => "MethodNotAllowed",
            Self::BodyTooLarge => "BodyTooLarge",
        }
    }

    /// The HTTP status the sandbox answers with.
    #[must_use]
    pub fn http_status(self) -> u16 {
        match self {
            Self::Unauthorized => 401,
            Self::RouteNotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::BodyTooLarge => 413,
            _ => 400,
        }
    }
}

impl fmt::Display for ApiCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.value(), self.name())
    }
}
