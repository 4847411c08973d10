//! One suite of cases every backend passes, run once per backend against loopback servers.

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cxtn_transport::{ErrorKind, Method, Request, RetryPolicy, StatusCode, Transport, with_retry};

use crate::server::{EchoServer, EndlessServer, SilentServer, refused_url};

/// Runs every case of the suite as its own test, on the transport `make()` returns.
macro_rules! conformance_suite {
    ($backend:ident, $builder:expr) => {
        mod $backend {
            use std::sync::Arc;

            use cxtn_transport::Transport;

            fn transport() -> Arc<dyn Transport> {
                Arc::new($builder.connect_timeout(std::time::Duration::from_secs(5)).build().unwrap())
            }

            /// A transport that reads response bodies up to `limit` bytes.
            fn capped(limit: usize) -> Arc<dyn Transport> {
                Arc::new(
                    $builder
                        .connect_timeout(std::time::Duration::from_secs(5))
                        .max_response_bytes(limit)
                        .build()
                        .unwrap(),
                )
            }

            #[tokio::test]
            async fn a_body_over_the_limit_is_too_large() {
                super::a_body_over_the_limit_is_too_large(capped).await;
            }

            conformance_suite!(@cases
                request_arrives_intact,
                every_method_arrives,
                response_comes_back,
                error_statuses_are_responses,
                head_has_no_body,
                empty_body_arrives_empty,
                large_body_round_trips,
                sequential_requests_share_the_transport,
                refused_port_is_connect,
                failed_tls_handshake_is_connect,
                silent_server_times_out,
                invalid_url_is_invalid_request,
                invalid_header_is_not_sent,
                retry_layer_retries_a_503,
                retry_layer_retries_a_post_to_a_refused_port,
                an_endless_body_stops_at_the_default_limit,
            );
        }
    };
    (@cases $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                super::$case(transport()).await;
            }
        )+
    };
}

#[cfg(feature = "reqwest")]
conformance_suite!(reqwest, cxtn_transport::ReqwestTransport::builder());

#[cfg(feature = "hyper")]
conformance_suite!(hyper, cxtn_transport::HyperTransport::builder());

/// Every byte value, then some text.
fn binary_body() -> Vec<u8> {
    let mut body: Vec<u8> = (0..=255).collect();
    body.extend_from_slice("{\"amount\":1000.00,\"note\":\"é\"}".as_bytes());
    body
}

async fn request_arrives_intact(transport: Arc<dyn Transport>) {
    let server = EchoServer::start().await;
    let request = Request::new(Method::POST, server.url("/v1/things/42?x=1&y=a%20b&z=%2F"))
        .header("content-type", "application/octet-stream")
        .header("authorization", "Bearer t0k3n")
        .header("x-custom", "abc")
        .body(binary_body());
    transport.send(request).await.unwrap();

    let received = server.received();
    assert_eq!(received.len(), 1);
    let received = &received[0];
    assert_eq!(received.method, Method::POST);
    assert_eq!(received.path_and_query, "/v1/things/42?x=1&y=a%20b&z=%2F");
    assert_eq!(received.headers["content-type"], "application/octet-stream");
    assert_eq!(received.headers["authorization"], "Bearer t0k3n");
    assert_eq!(received.headers["x-custom"], "abc");
    assert_eq!(received.body.as_ref(), binary_body().as_slice());
}

async fn every_method_arrives(transport: Arc<dyn Transport>) {
    let server = EchoServer::start().await;
    let methods = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
        Method::OPTIONS,
        Method::HEAD,
    ];
    for method in &methods {
        let response = transport
            .send(Request::new(method.clone(), server.url("/m")))
            .await
            .unwrap();
        assert_eq!(response.headers["x-method"], method.as_str());
    }
    let received: Vec<Method> = server.received().into_iter().map(|received| received.method).collect();
    assert_eq!(received, methods);
}

async fn response_comes_back(transport: Arc<dyn Transport>) {
    let server = EchoServer::start().await;
    let request = Request::new(Method::PUT, server.url("/v1/items/7"))
        .header("x-want-status", "201")
        .body("hello");
    let response = transport.send(request).await.unwrap();
    assert_eq!(response.status, StatusCode::CREATED);
    assert_eq!(response.headers["x-reply"], "from-server");
    assert_eq!(response.headers["content-length"], "11");
    assert_eq!(response.body.as_ref(), b"reply:hello");
}

async fn error_statuses_are_responses(transport: Arc<dyn Transport>) {
    let server = EchoServer::start().await;
    for status in [400, 401, 404, 429, 500, 503] {
        let request = Request::new(Method::GET, server.url("/status")).header("x-want-status", status.to_string());
        let response = transport.send(request).await.unwrap();
        assert_eq!(response.status.as_u16(), status);
        assert_eq!(response.body.as_ref(), b"reply:");
    }
}

async fn head_has_no_body(transport: Arc<dyn Transport>) {
    let server = EchoServer::start().await;
    let response = transport
        .send(Request::new(Method::HEAD, server.url("/head")))
        .await
        .unwrap();
    assert_eq!(response.status, StatusCode::OK);
    assert!(response.body.is_empty());
}

async fn empty_body_arrives_empty(transport: Arc<dyn Transport>) {
    let server = EchoServer::start().await;
    transport
        .send(Request::new(Method::GET, server.url("/empty")))
        .await
        .unwrap();
    transport
        .send(Request::new(Method::POST, server.url("/empty")))
        .await
        .unwrap();
    for received in server.received() {
        assert!(received.body.is_empty(), "{} had a body", received.method);
    }
}

async fn large_body_round_trips(transport: Arc<dyn Transport>) {
    let server = EchoServer::start().await;
    let mut rng = fastrand::Rng::with_seed(7);
    let body: Vec<u8> = (0..1024 * 1024).map(|_| rng.u8(..)).collect();
    let response = transport
        .send(Request::new(Method::PUT, server.url("/large")).body(body.clone()))
        .await
        .unwrap();
    assert_eq!(server.received()[0].body.as_ref(), body.as_slice());
    assert_eq!(&response.body[..6], b"reply:");
    assert_eq!(&response.body[6..], body.as_slice());
}

async fn sequential_requests_share_the_transport(transport: Arc<dyn Transport>) {
    let server = EchoServer::start().await;
    for n in 0..5 {
        let response = transport
            .send(Request::new(Method::POST, server.url(&format!("/seq/{n}"))).body(n.to_string()))
            .await
            .unwrap();
        assert_eq!(response.body, format!("reply:{n}"));
    }
    let paths: Vec<String> = server
        .received()
        .into_iter()
        .map(|received| received.path_and_query)
        .collect();
    assert_eq!(paths, ["/seq/0", "/seq/1", "/seq/2", "/seq/3", "/seq/4"]);
}

async fn refused_port_is_connect(transport: Arc<dyn Transport>) {
    let url = refused_url("/v1/x?token=q-secret").await;
    let port = url
        .trim_start_matches("http://127.0.0.1:")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let request = Request::new(Method::POST, url).header("authorization", "Bearer secret-token");
    let error = transport.send(request).await.unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Connect, "{error:?}");
    assert!(error.is_connect());
    assert!(error.source().is_some(), "the backend error is kept as the source");
    let shown = error.to_string();
    assert!(shown.contains(&format!("127.0.0.1:{port}")), "{shown}");
    assert!(shown.contains("check that the server"), "{shown}");
    let debug = format!("{error:?}");
    for secret in ["q-secret", "secret-token"] {
        assert!(
            !shown.contains(secret) && !debug.contains(secret),
            "{secret} in {debug}"
        );
    }
}

async fn failed_tls_handshake_is_connect(transport: Arc<dyn Transport>) {
    // The server speaks plain HTTP, so the TLS handshake fails and no HTTP request is ever made.
    let server = EchoServer::start().await;
    let url = server.url("/tls").replacen("http://", "https://", 1);
    let error = transport.send(Request::new(Method::POST, url)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Connect, "{error:?}");
    assert!(error.to_string().contains("TLS handshake"), "{error}");
    assert!(error.source().is_some());
    assert!(server.received().is_empty());
}

async fn silent_server_times_out(transport: Arc<dyn Transport>) {
    let server = SilentServer::start().await;
    let policy = RetryPolicy::builder()
        .max_attempts(1)
        .attempt_timeout(Duration::from_millis(200))
        .build();
    let transport = with_retry(transport, policy);
    let started = Instant::now();
    let error = transport
        .send(Request::new(Method::GET, server.url("/never")))
        .await
        .unwrap_err();

    assert_eq!(error.kind(), ErrorKind::Timeout, "{error:?}");
    assert!(error.is_timeout());
    assert_eq!(error.attempts(), 1);
    assert!(error.elapsed() >= Duration::from_millis(200), "{:?}", error.elapsed());
    // A bound that a hang would break, not a performance measure.
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

async fn invalid_url_is_invalid_request(transport: Arc<dyn Transport>) {
    for url in ["not a url", "ftp://127.0.0.1/file", "/relative", "http://"] {
        let error = transport.send(Request::new(Method::GET, url)).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidRequest, "{url}: {error:?}");
    }
}

async fn invalid_header_is_not_sent(transport: Arc<dyn Transport>) {
    let server = EchoServer::start().await;
    let request = Request::new(Method::GET, server.url("/bad-header")).header("authorization", "Bearer a\nb");
    let error = transport.send(request).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidRequest);
    assert!(error.to_string().contains("authorization"), "{error}");
    assert!(server.received().is_empty());
}

async fn retry_layer_retries_a_503(transport: Arc<dyn Transport>) {
    let server = EchoServer::start().await;
    let policy = RetryPolicy::builder()
        .max_attempts(2)
        .initial_backoff(Duration::from_millis(1))
        .build();
    let transport = with_retry(transport, policy);
    let request = Request::new(Method::GET, server.url("/busy")).header("x-want-status", "503");
    let response = transport.send(request).await.unwrap();
    assert_eq!(response.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(server.received().len(), 2);
}

async fn retry_layer_retries_a_post_to_a_refused_port(transport: Arc<dyn Transport>) {
    let policy = RetryPolicy::builder()
        .max_attempts(3)
        .initial_backoff(Duration::from_millis(1))
        .build();
    let transport = with_retry(transport, policy);
    let error = transport
        .send(Request::new(Method::POST, refused_url("/create").await).body("x"))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Connect);
    assert_eq!(error.attempts(), 3);
    assert!(error.to_string().contains("after 3 attempts"), "{error}");
}

async fn an_endless_body_stops_at_the_default_limit(transport: Arc<dyn Transport>) {
    let server = EndlessServer::start(false).await;
    let error = transport
        .send(Request::new(Method::GET, server.url("/stream")))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TooLarge, "{error}");
    assert_eq!(error.status(), Some(StatusCode::OK));
    assert!(error.to_string().contains("over 16777216 bytes"), "{error}");
    assert!(error.to_string().contains("max_response_bytes"), "{error}");
    // The connection is dropped at the limit: the server soon cannot write more.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopped_at = server.written();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.written(), stopped_at, "the body is still being read");
    assert!(stopped_at < 64 * 1024 * 1024, "{stopped_at} bytes were taken");
}

async fn a_body_over_the_limit_is_too_large(capped: fn(usize) -> Arc<dyn Transport>) {
    let transport = capped(1024);
    let echo = EchoServer::start().await;
    let small = transport
        .send(Request::new(Method::POST, echo.url("/small")).body(vec![b'a'; 1000]))
        .await
        .unwrap();
    assert_eq!(small.body.len(), 1006, "`reply:` and the body, under the limit");
    let large = transport
        .send(
            Request::new(Method::POST, echo.url("/large"))
                .header("x-want-status", "202")
                .body(vec![b'a'; 2000]),
        )
        .await
        .unwrap_err();
    assert_eq!(large.kind(), ErrorKind::TooLarge, "{large}");
    assert_eq!(large.status(), Some(StatusCode::ACCEPTED));
    assert!(large.to_string().contains("(HTTP 202)"), "{large}");

    let announced = EndlessServer::start(true).await;
    let error = transport
        .send(Request::new(Method::GET, announced.url("/announced")))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TooLarge, "{error}");
    assert_eq!(error.status(), Some(StatusCode::OK));

    // Not a failure to retry: the server answered, and would answer the same.
    let retried = with_retry(transport, RetryPolicy::builder().max_attempts(3).build());
    let error = retried
        .send(Request::new(Method::GET, announced.url("/again")))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TooLarge);
    assert_eq!(error.attempts(), 1);
}
