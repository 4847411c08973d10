//! Outlets: hand stored CXTN notifications to the message brokers a business already runs.
//!
//! Most users want the facade crate `cxtn`, which re-exports it as `cxtn::outlets` (feature `outlets`), or
//! `cxtn listen --publish URL`.
//!
//! An [`Outlet`] publishes one stored event to a broker and returns only when the broker has confirmed it.
//! [`Publish`] turns outlets into a receiver [`Handler`](cxtn_receiver::Handler): the worker marks the event
//! processed only after every outlet confirmed it, retries a failure with backoff, and dead-letters it like any
//! handler failure; replay works as for any event. Combine it with a handler of your own with [`Publish::then`].
//!
//! - The message body is the delivery exactly as received, byte for byte ([`Message::body`]).
//! - Metadata travels as broker headers or properties ([`Message::headers`]): `eventId`, `event`, the
//!   subscription, the received time, the delivery attempt, and whether the event has conflicting versions or was
//!   quarantined.
//! - [`connect`] opens an outlet from a URL (`nats://`, `amqp://`, `redis://`), checks the broker at once, and
//!   never shows credentials in `Debug`, errors or logs.
//!
//! # Features
//!
//! Each broker sits behind its own feature, so nobody compiles the brokers they do not use.
//!
//! - `nats`: NATS JetStream (async-nats), `Nats-Msg-Id` set to the event id, each publish waiting for the
//!   stream's ack: `nats://[USER:PASSWORD@]HOST:PORT?subject=cxtn.events.{event}[&stream=NAME]`.
//!   A stream must hold the subject; `&create_stream=true` (with `stream`) creates a missing one, for the subjects
//!   the template can produce (each token holding a placeholder becomes `*`), with a deduplication window of
//!   `duplicate_window` seconds, 120 by default: a re-publish of an event within it is dropped.
//! - `rabbitmq`: RabbitMQ (lapin) with publisher confirms and mandatory routing, `message_id` set to the event id.
//! - `redis`: Redis Streams (redis): `redis://[:PASSWORD@]HOST:PORT/DB?stream=cxtn:events[&maxlen=N][&dedupe_ttl=7d]`.
//!   One atomic script per event appends the entry (capped with `MAXLEN ~ N` when `maxlen` is given) and records
//!   the event id for `dedupe_ttl` (7 days by default): a re-publish of the id within it appends nothing.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod error;
mod message;
#[cfg(feature = "nats")]
mod nats;
mod publish;
#[cfg(feature = "rabbitmq")]
mod rabbitmq;
#[cfg(feature = "redis")]
mod redis;
mod target;

pub use error::{Error, ErrorKind};
pub use message::Message;
pub use publish::{Outlet, Publish};
pub use target::{Template, redacted_url};

/// Opens the outlet a URL names, and checks that its broker answers and the destination exists (or was declared),
/// so that a bad configuration fails at start, not as a silent stall.
///
/// # Errors
///
/// [`ErrorKind::Config`] for an unknown scheme, a missing or bad parameter, or a scheme whose feature is off;
/// [`ErrorKind::Unavailable`] when the broker cannot be reached or refuses the credentials.
pub async fn connect(url: &str) -> Result<Box<dyn Outlet>, Error> {
    let parsed = url::Url::parse(url).map_err(|e| {
        Error::new(
            ErrorKind::Config,
            format!(
                "the outlet URL {} is not a URL ({e}); use nats://, amqp:// or redis://",
                redacted_url(url)
            ),
        )
    })?;
    let scheme = parsed.scheme();
    // Each broker's feature adds its scheme here:
    // `#[cfg(feature = "...")] if scheme == "..." { return ...::connect(&parsed).await; }`
    #[cfg(feature = "nats")]
    if scheme == "nats" {
        return Ok(Box::new(nats::connect(&parsed).await?));
    }
    #[cfg(feature = "rabbitmq")]
    if scheme == "amqp" {
        return Ok(Box::new(rabbitmq::connect(&parsed).await?));
    }
    #[cfg(feature = "redis")]
    if scheme == "redis" {
        return crate::redis::connect(&parsed).await;
    }
    Err(Error::new(
        ErrorKind::Config,
        format!(
            "the outlet URL {} has the scheme `{scheme}`, which this build does not publish to; \
             use nats://, amqp:// or redis:// (each needs its feature: nats, rabbitmq, redis)",
            redacted_url(url)
        ),
    ))
}
