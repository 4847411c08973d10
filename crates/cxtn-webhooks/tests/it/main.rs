//! The conformance suite of the management client: every case runs once against the mock transport
//! and once per HTTP backend against a scripted loopback server.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::print_stdout
)]
#![allow(unreachable_pub, missing_debug_implementations)]

#[cfg(feature = "test-util")]
mod fake;
mod plan;
mod server;
mod suite;

use std::sync::Arc;
use std::time::Duration;

use cxtn_transport::{
    Bytes, HeaderName, HeaderValue, MockTransport, PendingTransport, Response, RetryPolicy, StatusCode, Transport,
};
use cxtn_webhooks::Client;
use server::{Recorded, Scripted, ScriptedServer};

/// A fast retry policy: short backoff, so retry cases take milliseconds.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy::builder()
        .max_attempts(3)
        .initial_backoff(Duration::from_millis(5))
        .max_backoff(Duration::from_millis(20))
        .attempt_timeout(Duration::from_secs(5))
        .deadline(Duration::from_secs(20))
        .build()
}

/// Where the suite's requests go and how it scripts answers.
pub enum Harness {
    Mock(MockTransport),
    Http {
        server: ScriptedServer,
        transport: Arc<dyn Transport>,
        backend: &'static str,
    },
}

impl Harness {
    pub fn mock() -> Self {
        Self::Mock(MockTransport::new())
    }

    pub async fn http(backend: &'static str) -> Self {
        let transport: Arc<dyn Transport> = match backend {
            "reqwest" => Arc::new(cxtn_transport::ReqwestTransport::new().unwrap()),
            _ => Arc::new(cxtn_transport::HyperTransport::new().unwrap()),
        };
        Self::Http {
            server: ScriptedServer::start().await,
            transport,
            backend,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Mock(_) => "mock",
            Self::Http { backend, .. } => backend,
        }
    }

    /// The base URL, with or without a trailing slash.
    pub fn base_url(&self, trailing_slash: bool) -> String {
        let base = match self {
            Self::Mock(_) => "http://mock.invalid/api".to_owned(),
            Self::Http { server, .. } => format!("http://{}/api", server.addr),
        };
        if trailing_slash { format!("{base}/") } else { base }
    }

    pub fn client_with(&self, trailing_slash: bool, retry: RetryPolicy) -> Client {
        let transport: Arc<dyn Transport> = match self {
            Self::Mock(mock) => Arc::new(mock.clone()),
            Self::Http { transport, .. } => transport.clone(),
        };
        Client::builder()
            .base_url(self.base_url(trailing_slash))
            .access_token("test-token-s3cr3t")
            .transport(transport)
            .retry_policy(retry)
            .build()
            .unwrap()
    }

    pub fn client(&self) -> Client {
        self.client_with(true, fast_retry())
    }

    pub fn push(&self, scripted: Scripted) {
        match self {
            Self::Mock(mock) => {
                let mut response =
                    Response::new(StatusCode::from_u16(scripted.status).unwrap()).body(Bytes::from(scripted.body));
                for (k, v) in &scripted.headers {
                    response = response.header(
                        HeaderName::from_bytes(k.as_bytes()).unwrap(),
                        HeaderValue::from_str(v).unwrap(),
                    );
                }
                mock.push_response(response);
            }
            Self::Http { server, .. } => server.push(scripted),
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        match self {
            Self::Mock(mock) => mock
                .requests()
                .into_iter()
                .map(|r| {
                    let path = r.uri().path_and_query().map_or("/", |p| p.as_str()).to_owned();
                    Recorded {
                        method: r.method.to_string(),
                        path,
                        headers: r
                            .headers
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
                            .collect(),
                        body: r.body.to_vec(),
                    }
                })
                .collect(),
            Self::Http { server, .. } => server.requests(),
        }
    }

    /// A client whose requests never get an answer.
    pub fn hanging_client(&self, retry: RetryPolicy) -> Client {
        match self {
            Self::Mock(_) => Client::builder()
                .base_url(self.base_url(true))
                .access_token("t")
                .transport(Arc::new(PendingTransport::new()))
                .retry_policy(retry)
                .build()
                .unwrap(),
            Self::Http { server, .. } => {
                for _ in 0..8 {
                    server.push(Scripted::hang());
                }
                self.client_with(true, retry)
            }
        }
    }
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod mock {
            $(
                #[tokio::test]
                async fn $case() {
                    crate::suite::$case(crate::Harness::mock()).await;
                }
            )*
        }
        mod reqwest {
            $(
                #[tokio::test]
                async fn $case() {
                    crate::suite::$case(crate::Harness::http("reqwest").await).await;
                }
            )*
        }
        mod hyper {
            $(
                #[tokio::test]
                async fn $case() {
                    crate::suite::$case(crate::Harness::http("hyper").await).await;
                }
            )*
        }
    };
}

conformance!(
    every_operation_sends_its_route_headers_and_body,
    no_double_slash_whatever_the_base_url,
    list_reads_endpoints,
    a_non_100_code_is_an_api_error,
    an_envelope_on_500_keeps_its_triple,
    unauthorized_says_what_to_do,
    non_json_and_empty_bodies_are_typed,
    retries_then_succeeds_on_the_third_attempt,
    create_is_not_retried_after_a_500,
    retry_after_is_honoured,
    a_timeout_ends_within_its_bound,
    ensure_creates_edits_and_activates,
    invalid_input_sends_nothing,
    token_expiry_is_exposed,
);
