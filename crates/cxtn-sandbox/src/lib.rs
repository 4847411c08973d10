//! A local stand-in for the CXTN API that also delivers webhook notifications,
//! so the whole webhook loop runs without access to CXTN: register endpoints with the real client,
//! trigger notifications, and watch them arrive at your receiver.
//!
//! Most users reach it through `cxtn-cli` (`cxtn sandbox --addr 127.0.0.1:4010`) or start it in their own tests
//! through the facade crate `cxtn`, as `cxtn::sandbox` (feature `sandbox`);
//! it runs in-process on a loopback port, or as a long-running server.
//!
//! - The management API: CXTN's webhook routes under `/api/` (enable, create, edit, set status, deactivate, list)
//!   with CXTN's response envelope, a bearer token, and the rules of a real account
//!   (webhooks enabled first, one endpoint per event type, ...), refused with the sandbox's own codes ([`ApiCode`]).
//! - Deliveries: [`Sandbox::trigger`] (or `POST /sandbox/trigger`) sends a notification built from the guide's samples,
//!   with any field overridden exactly and `data` as an object or a string, to the endpoint of its event type.
//!   Paused endpoints hold notifications until they are Active again; failures are retried on a schedule.
//! - Faults for testing receivers: duplicates ([`Trigger::duplicate`]) and shuffled batches ([`Sandbox::trigger_batch`]).
//! - A delivery log ([`Sandbox::deliveries`], `GET /sandbox/deliveries`) with endpoint URLs redacted,
//!   and [`Sandbox::wait_until_settled`] for tests.
//! - The whole webhook loop as one script ([`Scenario`]): every guide sample in both encodings, a duplicate,
//!   a pause and a resume, and a check of what your receiver recorded.
//!
//! The sandbox's codes, routes and delivery schedule are its own: CXTN publishes none of them.
//! Nothing here talks to CXTN.
//!
//! # Features
//!
//! - `hyper` (default): deliver through cxtn-transport's hyper backend; without it, give
//!   [`SandboxBuilder::transport`] a transport.
//!
//! # Example
//!
//! In an integration test of your own receiver:
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use cxtn_model::WebhookEventType;
//! use cxtn_sandbox::{Outcome, Sandbox, Trigger};
//!
//! #[tokio::test]
//! async fn my_receiver_stores_credits() -> Result<(), Box<dyn std::error::Error>> {
//!     let receiver_url = "http://127.0.0.1:8080/cxtn/9f1c2e"; // your receiver, started by the test
//!     let sandbox = Sandbox::builder()
//!         .retry_schedule([Duration::from_millis(20), Duration::from_millis(40)])
//!         .start()
//!         .await?;
//!     // In-process; or with the management client (`cxtn::Client`) pointed at `sandbox.base_url()`.
//!     sandbox.enable_webhooks()?;
//!     sandbox.create_endpoint(WebhookEventType::AccountTransaction, receiver_url)?;
//!
//!     let report = sandbox
//!         .trigger(Trigger::new("account_credit").set_json("amount", "1000.00").duplicate(true))
//!         .await?;
//!     sandbox.wait_until_settled(Duration::from_secs(5)).await?;
//!     for id in &report.deliveries {
//!         assert_eq!(sandbox.delivery(*id).map(|d| d.outcome), Some(Outcome::Delivered));
//!     }
//!     // ... then assert that the receiver stored the credit once.
//!     Ok(())
//! }
//! # fn main() {}
//! ```
#![deny(missing_docs)]

mod api;
mod code;
mod delivery;
mod engine;
mod error;
mod fields;
mod sandbox;
mod scenario;
mod server;
mod state;
mod token;
mod trigger;

pub use code::ApiCode;
pub use delivery::{Delivery, DeliveryId, Outcome, SkipReason};
pub use error::{Error, ErrorKind};
pub use sandbox::{DEFAULT_DELIVERY_TIMEOUT, DEFAULT_RETRY_SCHEDULE, Sandbox, SandboxBuilder};
pub use scenario::{
    Arrivals, Checked, Held, Management, Progress, Recorded, RecordedEvent, Report, Role, Scenario, Sent, Verdict,
};
pub use token::Token;
pub use trigger::{FieldValue, Prepared, Trigger, TriggerReport};
