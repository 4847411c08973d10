//! The sandbox over real loopback HTTP: the management routes through the `cxtn` client (once per
//! HTTP backend), deliveries into an in-process receiver, and the sandbox's own routes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(unreachable_pub, missing_debug_implementations)]

mod api;
mod deliveries;
mod receiver;
mod routes;

use std::sync::Arc;
use std::time::Duration;

use cxtn::transport::{Method, Request, RetryPolicy, Transport};
use cxtn_sandbox::{Sandbox, SandboxBuilder};
use serde_json::Value;

/// The token the suites start the sandbox with.
pub const TOKEN: &str = "sandbox-test-token-s3cr3t";

/// A sandbox builder for tests: the test token, retries after 10 ms and 20 ms (three attempts), 2 s per attempt.
pub fn builder() -> SandboxBuilder {
    Sandbox::builder()
        .token(TOKEN)
        .retry_schedule([Duration::from_millis(10), Duration::from_millis(20)])
        .delivery_timeout(Duration::from_secs(2))
}

/// An HTTP backend of `cxtn-transport`, by name.
pub fn backend(name: &str) -> Arc<dyn Transport> {
    match name {
        "reqwest" => Arc::new(cxtn::transport::ReqwestTransport::new().unwrap()),
        _ => Arc::new(cxtn::transport::HyperTransport::new().unwrap()),
    }
}

/// A sandbox, and the backend the management calls go through.
pub struct Harness {
    pub sandbox: Sandbox,
    pub transport: Arc<dyn Transport>,
    pub backend: &'static str,
}

/// A raw answer of the sandbox.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub json: Value,
    pub allow: Option<String>,
    pub content_type: Option<String>,
}

impl Answer {
    /// `Content.Model.ApiStatusCode`.
    pub fn code(&self) -> i64 {
        self.json["Content"]["Model"]["ApiStatusCode"].as_i64().unwrap()
    }
}

impl Harness {
    pub async fn start(backend_name: &'static str) -> Self {
        Self::with(builder(), backend_name).await
    }

    pub async fn with(builder: SandboxBuilder, backend_name: &'static str) -> Self {
        Self {
            sandbox: builder.start().await.unwrap(),
            transport: backend(backend_name),
            backend: backend_name,
        }
    }

    /// A management client with `token`, without retries.
    pub fn client_with_token(&self, token: &str) -> cxtn::Client {
        cxtn::Client::builder()
            .base_url(self.sandbox.base_url())
            .access_token(token)
            .transport(self.transport.clone())
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap()
    }

    /// A management client with the sandbox's token.
    pub fn client(&self) -> cxtn::Client {
        self.client_with_token(self.sandbox.token().expose_secret())
    }

    /// Sends a request to `path` (from the root, `/api/...`) through the harness's backend.
    pub async fn raw(&self, method: Method, path: &str, token: Option<&str>, body: Option<&str>) -> Answer {
        send(
            &*self.transport,
            &format!("http://{}{path}", self.sandbox.addr()),
            method,
            token,
            body,
        )
        .await
    }
}

/// Sends a request and reads the JSON answer.
pub async fn send(
    transport: &dyn Transport,
    url: &str,
    method: Method,
    token: Option<&str>,
    body: Option<&str>,
) -> Answer {
    let mut request = Request::new(method, url);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if let Some(body) = body {
        request = request.json(body.to_owned());
    }
    let response = transport.send(request).await.unwrap();
    let header = |name: &str| response.headers.get(name).map(|v| v.to_str().unwrap().to_owned());
    Answer {
        status: response.status.as_u16(),
        allow: header("allow"),
        content_type: header("content-type"),
        json: serde_json::from_slice(&response.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&response.body))),
    }
}

#[test]
fn main_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Sandbox>();
    check::<SandboxBuilder>();
    check::<cxtn_sandbox::Error>();
    check::<cxtn_sandbox::Trigger>();
    check::<cxtn_sandbox::TriggerReport>();
    check::<cxtn_sandbox::Delivery>();
}
