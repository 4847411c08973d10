//! Outlets against the real local brokers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[cfg(feature = "nats")]
mod nats;

#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "rabbitmq")]
mod rabbitmq;
