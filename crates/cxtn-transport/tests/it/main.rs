//! The integration tests of `cxtn-transport`: one conformance suite run once per backend against a loopback server,
//! the retry layer over the scripted mock, redaction, tracing, the shared accept loop and the test doubles themselves.
//! The conformance suite's echo server runs on the crate's own accept loop, so the suite needs feature `server`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[cfg(all(feature = "server", any(feature = "reqwest", feature = "hyper")))]
mod conformance;
mod debug;
mod mock;
mod retry;
mod send_sync;
#[cfg(feature = "server")]
mod serve;
#[cfg(all(feature = "server", any(feature = "reqwest", feature = "hyper")))]
mod server;
mod trace;
