//! Tests that span several cxtn-rs crates; the library itself is empty.
//!
//! Each crate of the workspace tests itself with its own paths and depends only downwards, dev-dependencies included.
//! What needs several layers at once (the sandbox delivering into a receiver, the facade's default client
//! managing endpoints on the sandbox) lives here, in `tests/it`, as one integration-test binary.
//! This crate is never published.
#![deny(missing_docs)]
