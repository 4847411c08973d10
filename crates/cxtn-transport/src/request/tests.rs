#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use http::Method;

use super::Request;
use crate::ErrorKind;

#[test]
fn idempotency_follows_the_method_unless_overridden() {
    let url = "http://127.0.0.1/";
    for method in [Method::GET, Method::HEAD, Method::PUT, Method::DELETE, Method::OPTIONS] {
        assert!(Request::new(method.clone(), url).is_idempotent(), "{method}");
    }
    for method in [Method::POST, Method::PATCH] {
        assert!(!Request::new(method.clone(), url).is_idempotent(), "{method}");
    }
    assert!(Request::new(Method::POST, url).idempotent(true).is_idempotent());
    assert!(!Request::new(Method::GET, url).idempotent(false).is_idempotent());
}

#[test]
fn an_invalid_header_value_is_reported_without_the_value() {
    let request = Request::new(Method::GET, "http://127.0.0.1/").header("authorization", "Bearer secret\ninjected");
    let error = request.validate().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidRequest);
    assert!(error.to_string().contains("authorization"), "{error}");
    assert!(!error.to_string().contains("secret"), "{error}");
    assert!(!format!("{error:?}").contains("secret"), "{error:?}");
}

#[test]
fn an_invalid_header_name_is_reported() {
    let request = Request::new(Method::GET, "http://127.0.0.1/").header("bad name", "x");
    assert_eq!(request.validate().unwrap_err().kind(), ErrorKind::InvalidRequest);
}

#[test]
fn the_first_problem_is_the_one_reported() {
    let request = Request::new(Method::GET, "http://127.0.0.1/")
        .header("x-first", "a\rb")
        .header("bad name", "x");
    assert!(request.validate().unwrap_err().to_string().contains("x-first"));
}

#[test]
fn urls_must_be_absolute_http() {
    for url in [
        "",
        "not a url",
        "/relative/path",
        "ftp://example.com/file",
        "http:///nohost",
        "mailto:a@b.c",
    ] {
        let error = Request::new(Method::GET, url).validate().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidRequest, "{url}");
    }
    for url in ["http://127.0.0.1:8080/a?b=c", "HTTPS://example.com", "http://[::1]/x"] {
        assert!(Request::new(Method::GET, url).validate().is_ok(), "{url}");
    }
}

#[test]
fn debug_redacts_credentials_query_and_body() {
    let mut request = Request::new(Method::POST, "https://user:pass@example.com/v1/x?token=q-secret")
        .header("authorization", "Bearer secret-token")
        .header("proxy-authorization", "Basic p-secret")
        .header("cookie", "session=c-secret")
        .header("x-visible", "shown")
        .body("b-secret body");
    let mut marked = http::HeaderValue::from_static("m-secret");
    marked.set_sensitive(true);
    request.headers.insert("x-custom-token", marked);
    request.headers.insert(
        http::header::AUTHORIZATION,
        http::HeaderValue::from_static("Bearer direct-secret"),
    );

    let shown = format!("{request:?}");
    for secret in [
        "secret-token",
        "p-secret",
        "c-secret",
        "q-secret",
        "pass",
        "b-secret",
        "m-secret",
        "direct-secret",
    ] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(shown.contains("shown"), "{shown}");
    assert!(shown.contains("<13 bytes>"), "{shown}");
    assert!(shown.contains("/v1/x"), "{shown}");
}

#[test]
fn path_drops_the_query() {
    assert_eq!(Request::new(Method::GET, "http://h/a/b?c=d#e").path(), "/a/b");
    assert_eq!(Request::new(Method::GET, "http://h").path(), "/");
}

#[test]
fn splits_a_full_url() {
    let request = Request::new(
        Method::GET,
        "https://user:pw@api.example.com:8443/v1/things/42?token=abc#frag",
    );
    assert_eq!(request.uri().scheme_str(), Some("https"));
    assert_eq!(request.uri().host(), Some("api.example.com"));
    assert_eq!(request.path(), "/v1/things/42");
    assert_eq!(request.uri().query(), Some("token=abc"));
    assert_eq!(request.target(), "api.example.com:8443");
    assert_eq!(
        request.redacted_url(),
        "https://<redacted>@api.example.com:8443/v1/things/42?<redacted>"
    );
}

#[test]
fn fills_in_default_ports() {
    let target = |url| Request::new(Method::GET, url).target();
    assert_eq!(target("http://example.com/x"), "example.com:80");
    assert_eq!(target("HTTPS://example.com"), "example.com:443");
    assert_eq!(target("http://[::1]/"), "[::1]:80");
    assert_eq!(target("http://[::1]:9000/"), "[::1]:9000");
}

#[test]
fn a_url_without_a_path_has_the_root_path() {
    let request = Request::new(Method::GET, "http://127.0.0.1:1?x=1");
    assert_eq!(request.path(), "/");
    assert_eq!(request.target(), "127.0.0.1:1");
    assert_eq!(request.redacted_url(), "http://127.0.0.1:1/?<redacted>");
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
        let request = Request::new(Method::GET, text);
        let _ = request.target();
        let _ = format!("{request:?}");
        assert_eq!(
            request.validate().unwrap_err().kind(),
            ErrorKind::InvalidRequest,
            "{text}"
        );
    }
    assert_eq!(Request::new(Method::GET, "").target(), "the server");
    assert_eq!(Request::new(Method::GET, "/just/a/path?q").path(), "/just/a/path");
}
