//! The retry layer over the scripted mock, in Tokio's paused time.

use std::sync::Arc;
use std::time::Duration;

use cxtn_transport::{
    ErrorKind, HeaderName, HeaderValue, Method, MockTransport, PendingTransport, Request, Response, Retry, RetryPolicy,
    StatusCode, Transport, with_retry,
};
use tokio::time::Instant;

const URL: &str = "http://127.0.0.1:4010/v1/items/7?expand=all";

fn status(code: u16) -> Response {
    Response::new(StatusCode::from_u16(code).unwrap())
}

fn retry_after(code: u16, value: &'static str) -> Response {
    status(code).header(HeaderName::from_static("retry-after"), HeaderValue::from_static(value))
}

fn retrying(mock: &MockTransport) -> Arc<dyn Transport> {
    with_retry(Arc::new(mock.clone()), RetryPolicy::default())
}

#[tokio::test(start_paused = true)]
async fn idempotent_requests_succeed_on_the_third_attempt_after_500_and_503() {
    for method in [Method::PUT, Method::GET, Method::DELETE] {
        let mock = MockTransport::new();
        mock.push_response(status(500))
            .push_response(status(503))
            .push_response(status(200).json("{}"));
        let response = retrying(&mock)
            .send(Request::new(method.clone(), URL).body("x"))
            .await
            .unwrap();
        assert_eq!(response.status, StatusCode::OK, "{method}");
        mock.assert_request_count(3);
        assert!(
            mock.requests()
                .iter()
                .all(|request| request.method == method && request.body == "x")
        );
    }
}

#[tokio::test(start_paused = true)]
async fn post_is_not_retried_after_500() {
    let mock = MockTransport::new();
    mock.push_response(status(500)).push_response(status(200));
    let response = retrying(&mock).send(Request::new(Method::POST, URL)).await.unwrap();
    assert_eq!(response.status, StatusCode::INTERNAL_SERVER_ERROR);
    mock.assert_request_count(1);
}

#[tokio::test(start_paused = true)]
async fn patch_is_not_retried_after_503_or_429() {
    for code in [503, 429] {
        let mock = MockTransport::new();
        mock.push_response(status(code)).push_response(status(200));
        let response = retrying(&mock).send(Request::new(Method::PATCH, URL)).await.unwrap();
        assert_eq!(response.status.as_u16(), code);
        mock.assert_request_count(1);
    }
}

#[tokio::test(start_paused = true)]
async fn post_is_retried_after_a_connect_error() {
    let mock = MockTransport::new();
    mock.push_error(ErrorKind::Connect).push_response(status(201));
    let response = retrying(&mock)
        .send(Request::new(Method::POST, URL).body("{}"))
        .await
        .unwrap();
    assert_eq!(response.status, StatusCode::CREATED);
    mock.assert_request_count(2);
}

#[tokio::test(start_paused = true)]
async fn post_is_not_retried_after_a_timeout_or_an_io_error() {
    for kind in [ErrorKind::Timeout, ErrorKind::Io] {
        let mock = MockTransport::new();
        mock.push_error(kind).push_response(status(201));
        let error = retrying(&mock).send(Request::new(Method::POST, URL)).await.unwrap_err();
        assert_eq!(error.kind(), kind);
        assert_eq!(error.attempts(), 1);
        mock.assert_request_count(1);
    }
}

#[tokio::test(start_paused = true)]
async fn get_is_retried_after_a_timeout_and_an_io_error() {
    let mock = MockTransport::new();
    mock.push_error(ErrorKind::Timeout)
        .push_error(ErrorKind::Io)
        .push_response(status(200));
    let response = retrying(&mock).send(Request::new(Method::GET, URL)).await.unwrap();
    assert_eq!(response.status, StatusCode::OK);
    mock.assert_request_count(3);
}

#[tokio::test(start_paused = true)]
async fn invalid_requests_and_other_errors_are_not_retried() {
    let mock = MockTransport::new();
    mock.push_error(ErrorKind::Other).push_response(status(200));
    let error = retrying(&mock).send(Request::new(Method::GET, URL)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Other);
    mock.assert_request_count(1);

    let error = retrying(&mock)
        .send(Request::new(Method::GET, URL).header("x-bad", "a\nb"))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidRequest);
    assert_eq!(error.attempts(), 1);
    mock.assert_request_count(1);
}

#[tokio::test(start_paused = true)]
async fn statuses_that_are_not_transient_are_not_retried() {
    for code in [400, 401, 404, 409, 501] {
        let mock = MockTransport::new();
        mock.push_response(status(code)).push_response(status(200));
        let response = retrying(&mock).send(Request::new(Method::GET, URL)).await.unwrap();
        assert_eq!(response.status.as_u16(), code);
        mock.assert_request_count(1);
    }
}

#[tokio::test(start_paused = true)]
async fn post_marked_idempotent_is_retried_after_500() {
    let mock = MockTransport::new();
    mock.push_response(status(500)).push_response(status(200));
    let request = Request::new(Method::POST, URL).idempotent(true);
    let response = retrying(&mock).send(request).await.unwrap();
    assert_eq!(response.status, StatusCode::OK);
    mock.assert_request_count(2);
}

#[tokio::test(start_paused = true)]
async fn retry_after_in_seconds_is_waited_for() {
    let mock = MockTransport::new();
    mock.push_response(retry_after(429, "1")).push_response(status(200));
    let started = Instant::now();
    let response = retrying(&mock).send(Request::new(Method::GET, URL)).await.unwrap();
    let waited = started.elapsed();
    assert_eq!(response.status, StatusCode::OK);
    mock.assert_request_count(2);
    assert!(waited >= Duration::from_secs(1), "{waited:?}");
    assert!(waited < Duration::from_millis(1_100), "{waited:?}");
}

#[tokio::test(start_paused = true)]
async fn retry_after_beyond_the_deadline_returns_the_response() {
    let mock = MockTransport::new();
    mock.push_response(retry_after(503, "120")).push_response(status(200));
    let started = Instant::now();
    let response = retrying(&mock).send(Request::new(Method::GET, URL)).await.unwrap();
    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers["retry-after"], "120");
    mock.assert_request_count(1);
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn retry_after_may_exceed_max_backoff_within_the_deadline() {
    let mock = MockTransport::new();
    mock.push_response(retry_after(503, "10")).push_response(status(200));
    let started = Instant::now();
    let response = retrying(&mock).send(Request::new(Method::GET, URL)).await.unwrap();
    assert_eq!(response.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn max_attempts_is_respected_and_the_last_response_returned() {
    let mock = MockTransport::new();
    for code in [503, 502, 504, 500, 503] {
        mock.push_response(status(code));
    }
    let policy = RetryPolicy::builder().max_attempts(4).build();
    let response = with_retry(Arc::new(mock.clone()), policy)
        .send(Request::new(Method::GET, URL))
        .await
        .unwrap();
    assert_eq!(response.status, StatusCode::INTERNAL_SERVER_ERROR);
    mock.assert_request_count(4);
    assert_eq!(mock.remaining(), 1);
}

#[tokio::test(start_paused = true)]
async fn exhausted_errors_carry_attempts_and_elapsed() {
    let mock = MockTransport::new();
    for _ in 0..3 {
        mock.push_error(ErrorKind::Connect);
    }
    let started = Instant::now();
    let error = retrying(&mock).send(Request::new(Method::POST, URL)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Connect);
    assert_eq!(error.attempts(), 3);
    assert_eq!(error.elapsed(), started.elapsed());
    // Full jitter: each wait is at most its cap, 200 ms then 400 ms.
    assert!(error.elapsed() <= Duration::from_millis(600), "{:?}", error.elapsed());
    assert!(error.to_string().contains("after 3 attempts"), "{error}");
    mock.assert_request_count(3);
}

#[tokio::test(start_paused = true)]
async fn backoff_waits_stay_within_their_caps() {
    let mock = MockTransport::new();
    for _ in 0..3 {
        mock.push_response(status(500));
    }
    mock.push_response(status(200));
    let policy = RetryPolicy::builder().max_attempts(4).build();
    let started = Instant::now();
    let response = with_retry(Arc::new(mock.clone()), policy)
        .send(Request::new(Method::GET, URL))
        .await
        .unwrap();
    assert_eq!(response.status, StatusCode::OK);
    assert!(started.elapsed() <= Duration::from_millis(200 + 400 + 800));
}

#[tokio::test(start_paused = true)]
async fn a_get_that_never_answers_times_out_on_every_attempt() {
    let pending = PendingTransport::new();
    let policy = RetryPolicy::builder()
        .max_attempts(3)
        .attempt_timeout(Duration::from_secs(1))
        .build();
    let started = Instant::now();
    let error = Retry::new(pending.clone(), policy)
        .send(Request::new(Method::GET, URL))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout);
    assert!(error.is_timeout());
    assert_eq!(error.attempts(), 3);
    assert_eq!(pending.request_count(), 3);
    assert!(started.elapsed() >= Duration::from_secs(3));
    assert!(error.to_string().contains("127.0.0.1:4010"), "{error}");
    assert!(error.to_string().contains("attempt timeout"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn a_post_that_never_answers_times_out_once() {
    let pending = PendingTransport::new();
    let policy = RetryPolicy::builder().attempt_timeout(Duration::from_secs(1)).build();
    let error = Retry::new(pending.clone(), policy)
        .send(Request::new(Method::POST, URL))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout);
    assert_eq!(error.attempts(), 1);
    assert_eq!(pending.request_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_deadline_bounds_the_whole_request() {
    let pending = PendingTransport::new();
    let policy = RetryPolicy::builder()
        .max_attempts(5)
        .attempt_timeout(Duration::from_secs(30))
        .deadline(Duration::from_secs(2))
        .build();
    let started = Instant::now();
    let error = Retry::new(pending.clone(), policy)
        .send(Request::new(Method::GET, URL))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout);
    assert_eq!(error.attempts(), 1);
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    assert!(error.to_string().contains("deadline"), "{error}");
}

#[tokio::test(start_paused = true)]
async fn none_makes_a_single_attempt() {
    let mock = MockTransport::new();
    mock.push_response(status(503)).push_response(status(200));
    let response = with_retry(Arc::new(mock.clone()), RetryPolicy::none())
        .send(Request::new(Method::GET, URL))
        .await
        .unwrap();
    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);
    mock.assert_request_count(1);

    let mock = MockTransport::new();
    mock.push_error(ErrorKind::Connect);
    let error = with_retry(Arc::new(mock.clone()), RetryPolicy::none())
        .send(Request::new(Method::GET, URL))
        .await
        .unwrap_err();
    assert_eq!(error.attempts(), 1);
}

#[tokio::test(start_paused = true)]
async fn retry_layers_nest_over_any_transport() {
    let mock = MockTransport::new();
    mock.push_response(status(503)).push_response(status(200));
    let inner = Retry::new(mock.clone(), RetryPolicy::none());
    let outer = Retry::new(inner, RetryPolicy::default());
    assert_eq!(outer.policy(), &RetryPolicy::default());
    assert_eq!(outer.inner().policy(), &RetryPolicy::none());
    let response = outer.send(Request::new(Method::GET, URL)).await.unwrap();
    assert_eq!(response.status, StatusCode::OK);
}
