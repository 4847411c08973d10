//! The sandbox over real loopback HTTP: deliveries into an in-process receiver, the sandbox's own routes,
//! and the whole scenario. The management routes through the `cxtn` client are tested in `cxtn-tests`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
#![allow(unreachable_pub, missing_debug_implementations)]

mod deliveries;
mod receiver;
mod routes;
mod scenario;

use std::sync::Arc;
use std::time::Duration;

use cxtn_sandbox::{Sandbox, SandboxBuilder};
use cxtn_transport::{Method, Request, Transport};
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

/// The hyper backend of `cxtn-transport`, to call the sandbox's routes.
pub fn transport() -> Arc<dyn Transport> {
    Arc::new(cxtn_transport::HyperTransport::new().unwrap())
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
