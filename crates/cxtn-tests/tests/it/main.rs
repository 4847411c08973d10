//! Tests across crates, through the facade `cxtn`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod facade;
mod new_user;
mod plan;
mod rotation;
mod sandbox_api;
mod whole_loop;
