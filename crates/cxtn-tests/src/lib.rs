//! Tests that span several cxtn-rs crates; the library itself is empty.
//!
//! Each crate of the workspace tests itself with its own paths and depends only downwards, dev-dependencies included.
//! What needs several layers at once (the sandbox delivering into a receiver, the facade's default client
//! managing endpoints on the sandbox) lives here, in `tests/it`, as one integration-test binary.
//! This crate is never published.
#![deny(missing_docs)]

// The guides' Rust blocks, compiled (and run, unless marked `no_run`) by `cargo test -p cxtn-tests --doc`, so that
// what a reader copies compiles against the facade as written. The receiving guide mounts the receiver with
// `axum::serve` and stops on `tokio::signal::ctrl_c`: both are dev-dependencies for these blocks.

#[doc = include_str!("../../../README.md")]
mod readme {}

#[doc = include_str!("../../../docs/receiving.md")]
mod receiving_guide {}

#[doc = include_str!("../../../docs/sandbox.md")]
mod sandbox_guide {}

#[doc = include_str!("../../../docs/outlets.md")]
mod outlets_guide {}

#[doc = include_str!("../../../docs/operations.md")]
mod operations_guide {}

#[doc = include_str!("../../../docs/testing.md")]
mod testing_guide {}
