#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::error::Error as _;

use super::{Error, ErrorKind};
use crate::dns::ResolveError;

/// A connector's error around its cause, as hyper-util wraps a failed lookup.
#[derive(Debug, thiserror::Error)]
#[error("dns error")]
struct Connecting(#[source] Box<dyn std::error::Error + Send + Sync>);

fn lookup_failure() -> ResolveError {
    ResolveError(std::io::Error::other("failed to lookup address information"))
}

#[test]
fn a_failed_lookup_is_recognised_by_its_type_anywhere_in_the_chain() {
    let error = Error::connect("nowhere.example:443", Connecting(Box::new(lookup_failure())), false);
    assert_eq!(error.kind(), ErrorKind::Connect);
    assert_eq!(
        error.to_string(),
        "could not resolve the host of nowhere.example:443; check the host name in the URL"
    );
    assert!(error.source().is_some());
}

#[test]
fn text_alone_does_not_make_a_dns_error() {
    let error = Error::connect(
        "example.com:443",
        Connecting(Box::new(std::io::Error::other("dns error"))),
        false,
    );
    assert!(!error.to_string().contains("resolve"), "{error}");
}

#[test]
fn connect_causes_are_worded_from_the_chain() {
    let io = |kind| Connecting(Box::new(std::io::Error::from(kind)));
    let refused = Error::connect("h:1", io(std::io::ErrorKind::ConnectionRefused), false);
    assert!(
        refused.to_string().starts_with("connection refused by h:1"),
        "{refused}"
    );
    let timed_out = Error::connect("h:1", io(std::io::ErrorKind::TimedOut), false);
    assert!(
        timed_out.to_string().starts_with("timed out connecting to h:1"),
        "{timed_out}"
    );
    let told = Error::connect("h:1", io(std::io::ErrorKind::Other), true);
    assert!(told.to_string().starts_with("timed out connecting to h:1"), "{told}");
    let tls = Error::connect("h:1", io(std::io::ErrorKind::InvalidData), false);
    assert!(
        tls.to_string().starts_with("the TLS handshake with h:1 failed"),
        "{tls}"
    );
}

#[test]
fn display_adds_the_attempts_only_after_a_retry() {
    let error = Error::new(ErrorKind::Io, "broke");
    assert_eq!(error.to_string(), "broke");
    let retried = error
        .with_attempts(3)
        .with_elapsed(std::time::Duration::from_millis(1500));
    assert_eq!(retried.to_string(), "broke (after 3 attempts over 1.5s)");
}
