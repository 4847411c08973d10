//! Manage CXTN webhook endpoints: enable webhooks, create and edit the endpoint of each event type,
//! set it Active, Inactive or Paused, deactivate them all, and list them.
//!
//! [`Client`] speaks CXTN's envelope and error rules over any [`Transport`](cxtn_transport::Transport);
//! it never picks an HTTP backend itself. Most users want the facade crate `cxtn`, whose
//! `cxtn::Client::builder()` picks one and which re-exports this crate as `cxtn::webhooks`; depend on
//! `cxtn-webhooks` directly to bring your own transport.
//!
//! - A call succeeds only on HTTP 2xx with `ApiStatusCode` 100; every other outcome is an [`Error`] with a [`kind`](Error::kind).
//! - Retries with backoff and timeouts come from the transport's retry layer, on by default;
//!   a create is retried only when it provably never reached CXTN.
//! - The access token never appears in `Debug`, errors or logs; endpoint URLs are logged with their path redacted.
//! - CXTN publishes only some routes: the others are assumptions listed on [`Routes`], each overridable.
//! - Endpoints as code: [`Desired`] (a `cxtn-webhooks.toml` file, or code) and [`Plan`], in the [`plan`] module.
//!
//! # Features
//!
//! - `test-util`: [`testing::FakeCxtn`], a scripted, in-process fake of CXTN's management API to build a
//!   [`Client`] on, with the calls it received to assert on.
#![deny(missing_docs)]

mod builder;
mod client;
mod envelope;
mod error;
pub mod plan;
mod routes;
#[cfg(feature = "test-util")]
pub mod testing;
mod token;

pub use async_trait::async_trait;
pub use builder::{ClientBuilder, USER_AGENT};
pub use client::{Client, Created, Ensured};
pub use error::{Error, ErrorKind};
pub use plan::{Desired, Plan};
pub use routes::{Operation, Route, Routes};
pub use token::{AccessToken, TokenError, TokenSource};

#[cfg(test)]
mod tests;
