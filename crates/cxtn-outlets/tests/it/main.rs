//! Outlets against the real local brokers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

#[cfg(any(feature = "nats", feature = "rabbitmq", feature = "redis"))]
mod crash;

#[cfg(feature = "nats")]
mod nats;

#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "rabbitmq")]
mod rabbitmq;

#[cfg(any(feature = "redis", feature = "rabbitmq"))]
mod outage;
