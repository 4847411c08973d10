//! The Rust SDK for CXTN (Caxton) webhooks.
//!
//! `cxtn` is the crate most users want: it composes the layered crates of cxtn-rs and picks the defaults.
//!
//! - [`events`]: parse the notifications CXTN POSTs to your endpoints, exactly (`cxtn-events`).
//! - [`model`]: the wire types: notifications, exact money, timestamps, the API envelope (`cxtn-model`).
//!
//! ```
//! let body = br#"{"eventId": "wh_4d9373d27e4e4c24bbb39c00b6dcd3e7", "event": "payment_completed",
//!     "data": {"objectId": 162953, "userId": "C00081866", "amount": 10.00, "currency": "GBP"}}"#;
//! let notification = cxtn::events::parse(body)?;
//! assert_eq!(notification.event_id().as_str(), "wh_4d9373d27e4e4c24bbb39c00b6dcd3e7");
//! assert_eq!(notification.amount().map(ToString::to_string).as_deref(), Some("10.00"));
//! # Ok::<(), cxtn::events::Error>(())
//! ```
//!
//! This crate has no features yet.
#![deny(missing_docs)]

pub use cxtn_events as events;
pub use cxtn_model as model;

pub use cxtn_model::{Amount, EndpointStatus, Environment, EventData, EventId, Notification, WebhookEventType};
