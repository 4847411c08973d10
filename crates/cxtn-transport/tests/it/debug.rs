//! Secrets never show in `Debug` or error output.

use cxtn_transport::{
    ErrorKind, HeaderName, HeaderValue, Method, MockTransport, Request, Response, StatusCode, Transport,
};

#[test]
fn request_debug_hides_the_bearer_token() {
    let request =
        Request::new(Method::GET, "https://api.example.com/v1/webhooks").header("authorization", "Bearer secret-token");
    let shown = format!("{request:?}");
    assert!(!shown.contains("secret-token"), "{shown}");
    assert!(shown.contains("authorization"), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
    let pretty = format!("{request:#?}");
    assert!(!pretty.contains("secret-token"), "{pretty}");
}

#[test]
fn request_debug_shows_only_the_length_of_the_body() {
    let request = Request::new(Method::POST, "https://api.example.com/v1/webhooks").json(r#"{"password":"hunter2"}"#);
    let shown = format!("{request:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("<22 bytes>"), "{shown}");
}

#[test]
fn response_debug_hides_cookies_and_the_body() {
    let response = Response::new(StatusCode::OK)
        .header(
            HeaderName::from_static("set-cookie"),
            HeaderValue::from_static("session=s3cr3t"),
        )
        .json(r#"{"token":"t0k3n"}"#);
    let shown = format!("{response:?}");
    assert!(!shown.contains("s3cr3t"), "{shown}");
    assert!(!shown.contains("t0k3n"), "{shown}");
    assert!(shown.contains("application/json"), "{shown}");
}

#[tokio::test]
async fn errors_hold_no_header_value_query_or_body() {
    let mock = MockTransport::new();
    mock.push_error(ErrorKind::Connect);
    let request = Request::new(Method::POST, "http://127.0.0.1:1/v1/x?token=q-secret")
        .header("authorization", "Bearer secret-token")
        .body("b-secret");
    let error = mock.send(request).await.unwrap_err();
    let shown = format!("{error} {error:?}");
    for secret in ["q-secret", "secret-token", "b-secret"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}
