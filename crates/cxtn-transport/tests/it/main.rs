//! The integration tests of `cxtn-transport`: one conformance suite run once per backend against a loopback server,
//! the retry layer over the scripted mock, redaction, tracing and the test doubles themselves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[cfg(any(feature = "reqwest", feature = "hyper"))]
mod conformance;
mod debug;
mod mock;
mod retry;
mod send_sync;
#[cfg(any(feature = "reqwest", feature = "hyper"))]
mod server;
mod trace;
