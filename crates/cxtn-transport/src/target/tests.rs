#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::UrlParts;

#[test]
fn splits_a_full_url() {
    let parts = UrlParts::new("https://user:pw@api.example.com:8443/v1/things/42?token=abc#frag");
    assert_eq!(parts.scheme, Some("https"));
    assert!(parts.has_userinfo);
    assert_eq!(parts.host, "api.example.com:8443");
    assert_eq!(parts.path, "/v1/things/42");
    assert!(parts.has_query);
    assert_eq!(parts.host_port(), "api.example.com:8443");
    assert_eq!(
        parts.redacted(),
        "https://<redacted>@api.example.com:8443/v1/things/42?<redacted>"
    );
}

#[test]
fn fills_in_default_ports() {
    assert_eq!(UrlParts::new("http://example.com/x").host_port(), "example.com:80");
    assert_eq!(UrlParts::new("HTTPS://example.com").host_port(), "example.com:443");
    assert_eq!(UrlParts::new("http://[::1]/").host_port(), "[::1]:80");
    assert_eq!(UrlParts::new("http://[::1]:9000/").host_port(), "[::1]:9000");
}

#[test]
fn a_url_without_a_path_has_the_root_path() {
    let parts = UrlParts::new("http://127.0.0.1:1?x=1");
    assert_eq!(parts.path, "/");
    assert_eq!(parts.host, "127.0.0.1:1");
    assert_eq!(parts.redacted(), "http://127.0.0.1:1/?<redacted>");
}

#[test]
fn text_that_is_not_a_url_never_panics() {
    for text in [
        "",
        "not a url",
        "://",
        "?",
        "#",
        "@",
        "http://",
        "http://@/",
        "/just/a/path?q",
        "é://é/é?é",
    ] {
        let parts = UrlParts::new(text);
        let _ = parts.host_port();
        let _ = parts.redacted();
    }
    assert_eq!(UrlParts::new("").host_port(), "the server");
    assert_eq!(UrlParts::new("/just/a/path?q").path, "/just/a/path");
}
