//! Wire types of the CXTN API and of the webhook notifications it sends.
//!
//! This crate holds data and nothing else: no I/O, no async, no HTTP.
//! Most users want the facade crate `cxtn`, which re-exports this crate as `cxtn::model`;
//! depend on `cxtn-model` directly only to share these types without the rest.
//!
//! - Management: [`Environment`], [`WebhookEventType`], [`EndpointStatus`], the response envelope
//!   [`ApiResponse`] and the bodies of the webhook routes ([`EndpointRequest`], [`Endpoint`], ...).
//! - Notifications: [`Notification`] and its [`EventData`]; parse one with `cxtn-events`.
//! - Exact values: [`Amount`] (decimal money that never passes through a float),
//!   [`Timestamp`] (.NET-style, written back as received), [`ObjectId`] (a 64-bit integer),
//!   and newtypes for the string identifiers.
//! - Secrets: [`Secret`] (redacted in `Debug`, compared only in constant time) and [`Credentials`];
//!   [`EndpointUrl::parse_with`] is the one check of endpoint URLs, under a [`UrlPolicy`].
//!
//! Where CXTN publishes nothing, the choices this crate makes are named as assumptions in the item docs
//! (for example the wire names of [`EndpointStatus`]).
//!
//! This crate has no features.
#![deny(missing_docs)]

mod api;
mod environment;
pub mod fields;
mod ids;
mod kinds;
mod money;
mod notification;
mod secret;
mod timestamp;

pub use api::{
    ApiResponse, ApiStatus, ApiStatusCode, AuthorisedClientModel, AuthorisedUserModel, Content, Endpoint,
    EndpointRequest, EndpointStatusRequest, EndpointsModel, HasStatus, StatusModel,
};
pub use environment::{Environment, ParseEnvironmentError, join_url};
pub use fields::{EventFields, FieldIssue, FieldProblem, FieldTracker, RawJson, UnknownFields};
pub use ids::{CurrencyCode, EndpointUrl, EventId, ObjectId, UrlError, UrlErrorKind, UrlPolicy, UserId};
pub use kinds::{EndpointStatus, ParseKindError, Unknown, WebhookEventType};
pub use money::{Amount, AmountError};
pub use notification::{
    AccountTransaction, DataEncoding, EventData, EventKind, Notification, PaymentCompleted, TradeSettled,
    TransactionSource, UnknownData, UnknownEvent,
};
pub use rust_decimal::Decimal;
pub use secret::{Credentials, Secret};
pub use timestamp::{Timestamp, TimestampError};
