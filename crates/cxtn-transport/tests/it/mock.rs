//! The test doubles themselves.

use std::sync::Arc;
use std::time::Duration;

use cxtn_transport::{ErrorKind, Method, MockTransport, PendingTransport, Request, Response, StatusCode, Transport};

#[tokio::test]
async fn answers_in_order_and_records_requests() {
    let mock = MockTransport::new();
    mock.push_response(Response::new(StatusCode::CREATED))
        .push_error(ErrorKind::Io)
        .push_response(Response::new(StatusCode::OK).json(r#"{"a":1}"#));
    assert_eq!(mock.remaining(), 3);

    let transport: Arc<dyn Transport> = Arc::new(mock.clone());
    let first = Request::new(Method::POST, "http://127.0.0.1/v1/a?x=1")
        .header("x-n", "1")
        .body("one");
    assert_eq!(transport.send(first).await.unwrap().status, StatusCode::CREATED);
    let error = transport
        .send(Request::new(Method::GET, "http://127.0.0.1/v1/b"))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Io);
    assert!(error.to_string().contains("GET /v1/b"), "{error}");
    let third = transport
        .send(Request::new(Method::DELETE, "http://127.0.0.1/v1/c"))
        .await
        .unwrap();
    assert_eq!(third.text(), Some(r#"{"a":1}"#));

    assert_eq!(mock.request_count(), 3);
    assert_eq!(mock.remaining(), 0);
    let requests = mock.requests();
    assert_eq!(requests[0].headers["x-n"], "1");
    assert_eq!(requests[0].body, "one");
    assert_eq!(requests[0].uri(), "http://127.0.0.1/v1/a?x=1");
    assert_eq!(mock.last_request().unwrap().method, Method::DELETE);
    mock.assert_requested(Method::POST, "/v1/a");
    mock.assert_requested(Method::POST, "/a?x=1");
    mock.assert_requested(Method::GET, "/b");
    mock.assert_request_count(3);
}

#[tokio::test]
async fn an_empty_script_answers_a_clear_error() {
    let mock = MockTransport::new();
    let error = mock
        .send(Request::new(Method::GET, "http://127.0.0.1/v1/things?token=secret"))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Other);
    assert!(
        error
            .to_string()
            .contains("mock transport has no scripted response left for GET /v1/things"),
        "{error}"
    );
    assert!(!error.to_string().contains("secret"), "{error}");
    assert_eq!(mock.request_count(), 1);
}

#[tokio::test]
async fn clones_share_the_script_and_the_record() {
    let mock = MockTransport::new();
    let handle = mock.clone();
    handle.push_response(Response::new(StatusCode::OK));
    mock.send(Request::new(Method::GET, "http://127.0.0.1/")).await.unwrap();
    assert_eq!(handle.request_count(), 1);
    assert_eq!(handle.remaining(), 0);
}

#[tokio::test]
async fn invalid_requests_are_refused_and_not_recorded() {
    let mock = MockTransport::new();
    mock.push_response(Response::new(StatusCode::OK));
    let error = mock.send(Request::new(Method::GET, "relative/path")).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidRequest);
    assert_eq!(mock.request_count(), 0);
    assert_eq!(mock.remaining(), 1);
    assert!(mock.last_request().is_none());
}

#[tokio::test]
async fn assert_requested_reports_what_was_received() {
    let mock = MockTransport::new();
    mock.push_response(Response::new(StatusCode::OK));
    mock.send(Request::new(Method::GET, "http://127.0.0.1/v1/seen"))
        .await
        .unwrap();
    let check = mock.clone();
    let failure = std::thread::spawn(move || check.assert_requested(Method::POST, "/v1/missing"))
        .join()
        .unwrap_err();
    let message = failure.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("no POST request"), "{message}");
    assert!(message.contains("GET /v1/seen"), "{message}");
}

#[tokio::test(start_paused = true)]
async fn pending_never_answers() {
    let pending = PendingTransport::new();
    let outcome = tokio::time::timeout(
        Duration::from_secs(3600),
        pending.send(Request::new(Method::GET, "http://127.0.0.1/")),
    )
    .await;
    assert!(outcome.is_err());
    assert_eq!(pending.clone().request_count(), 1);
}
