//! Test your integration without CXTN and without a network (feature `test-util`).
//!
//! - Management: [`FakeCxtn`], a scripted, in-process CXTN account (webhooks enabled or not, the endpoint of
//!   each event type, refusals you script), answering with CXTN's envelope; build a [`Client`](crate::Client) on it
//!   with [`client`], and assert on the calls it received ([`FakeCxtn::assert_called`], [`FakeCxtn::calls`]).
//! - Handlers (with feature `receiver`): events from the guide's samples or any body ([`sample`], [`samples`],
//!   [`event`]), and [`run`] / [`Harness`], which take a body through a real receiver and its worker, in memory,
//!   and report the [`Outcome`] the worker recorded: processed, retried after a backoff, dead-lettered,
//!   quarantined or refused, and whether the handler returned an error, panicked or ran out of time ([`Cause`]);
//!   [`run_sqlite`] does the same for a transactional `SqliteHandler`, on an inbox file of the test's.
//!
//! The guide `docs/testing.md` walks through both.
//! For the whole loop over HTTP (registration, statuses, deliveries with retries and duplicates), use the local
//! simulator, [`sandbox`](crate#features) (feature `sandbox`).
//!
//! ```
//! use cxtn::testing::FakeCxtn;
//! use cxtn::webhooks::Operation;
//! use cxtn::WebhookEventType;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), cxtn::webhooks::Error> {
//! let fake = FakeCxtn::new().webhooks_enabled(false);
//! let client = cxtn::testing::client(&fake)?;
//! let ensured = client.webhooks().ensure(WebhookEventType::Payment, "https://example.com/cxtn/9f1c2e").await?;
//! assert!(ensured.enabled && ensured.created);
//! assert_eq!(fake.operations().first(), Some(&Operation::List));
//! # Ok(())
//! # }
//! ```

pub use cxtn_webhooks::testing::{Call, FakeCxtn, Refusal};

#[cfg(feature = "receiver")]
#[cfg_attr(docsrs, doc(cfg(feature = "receiver")))]
pub use cxtn_receiver::testing::{Cause, Harness, Outcome, event, run, run_sqlite, sample, samples};

/// A [`Client`](crate::Client) of the fake account: a test token, the default retries, the fake as its transport.
///
/// # Errors
///
/// None in practice: the settings are all valid; the builder's error is passed on.
pub fn client(fake: &FakeCxtn) -> Result<crate::Client, crate::webhooks::Error> {
    crate::Client::builder()
        .configure(|webhooks| webhooks.access_token("fake-cxtn-token").transport(fake.transport()))
        .build()
}
