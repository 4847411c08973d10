//! HTTP transport for the CXTN SDK: HTTP that knows nothing of CXTN.
//!
//! Most users want the facade crate `cxtn`, which picks a backend and a retry policy for them and re-exports this
//! crate as `cxtn::transport`;
//! depend on `cxtn-transport` directly to plug in your own HTTP stack, tune retries, or script a mock in tests.
//!
//! - [`Request`] and [`Response`]: a small HTTP model built on the `http` crate types and [`bytes::Bytes`].
//!   A request's `Debug` output redacts credentials and shows only the length of the body.
//! - [`Transport`]: the object-safe trait every backend implements, used as `Arc<dyn Transport>`.
//!   It is open: implement it to send requests through any HTTP client.
//! - [`Error`] and [`ErrorKind`]: what went wrong, whether the request could have reached the server,
//!   and how many attempts were made. Backend errors are reachable only through [`std::error::Error::source`].
//! - [`Retry`], [`with_retry`] and [`RetryPolicy`]: retries with capped exponential backoff and full jitter,
//!   per-attempt timeouts, an overall deadline and `Retry-After`, over any transport.
//!   Requests that are not idempotent are retried only when they provably never reached the server.
//!
//! Every request sent through [`Retry`] is traced with [`tracing`]: a `cxtn.http.request` span
//! (method, URL path, final status, attempts) holding one `cxtn.http.attempt` span per attempt
//! (attempt number, status, latency in milliseconds).
//! Header values, the query string and the body are never recorded.
//!
//! # Features
//!
//! None is on by default.
//!
//! - `reqwest`: `ReqwestTransport`, a backend on [reqwest](https://docs.rs/reqwest) with rustls (ring provider)
//!   and the webpki root certificates.
//! - `hyper`: `HyperTransport`, a backend on hyper 1 with hyper-util's pooled client and hyper-rustls
//!   (ring provider, webpki root certificates), for `http` and `https` URLs.
//! - `server`: `server::Server`, the one HTTP/1 accept loop the SDK's servers share:
//!   `TCP_NODELAY`, a cap on open connections that closes the idle longest to admit new ones, a header-read timeout,
//!   graceful shutdown with a drain timeout, and a pause after a failed `accept`.
//! - `test-util`: test doubles for your own tests: `MockTransport` answers from a script and records every request,
//!   `PendingTransport` never answers.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//!
//! use cxtn_transport::{Method, Request, RetryPolicy, Transport, with_retry};
//!
//! # #[derive(Debug)]
//! # struct Backend;
//! # #[cxtn_transport::async_trait]
//! # impl Transport for Backend {
//! #     async fn send(&self, _request: Request) -> Result<cxtn_transport::Response, cxtn_transport::Error> {
//! #         Ok(cxtn_transport::Response::new(cxtn_transport::StatusCode::OK))
//! #     }
//! # }
//! # fn backend() -> Arc<dyn Transport> { Arc::new(Backend) }
//! # async fn run() -> Result<(), cxtn_transport::Error> {
//! let transport: Arc<dyn Transport> = with_retry(backend(), RetryPolicy::default());
//! let request = Request::new(Method::GET, "https://api.example.com/v1/things?page=2")
//!     .header("accept", "application/json");
//! let response = transport.send(request).await?;
//! assert!(response.is_success());
//! # Ok(())
//! # }
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(run()).unwrap();
//! ```
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(any(feature = "reqwest", feature = "hyper"))]
mod backend;
#[cfg(any(feature = "reqwest", feature = "hyper"))]
mod dns;
mod error;
mod request;
mod response;
mod retry;
mod transport;

#[cfg(feature = "hyper")]
mod hyper_backend;
#[cfg(feature = "test-util")]
mod mock;
#[cfg(feature = "reqwest")]
mod reqwest_backend;
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub mod server;

pub use async_trait::async_trait;
#[cfg(any(feature = "reqwest", feature = "hyper"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "reqwest", feature = "hyper"))))]
pub use backend::BackendBuilder;
pub use bytes::Bytes;
pub use error::{Error, ErrorKind};
pub use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub use hyper_backend::{HyperTransport, HyperTransportBuilder};
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub use mock::{MockTransport, PendingTransport};
pub use request::Request;
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use reqwest_backend::{ReqwestTransport, ReqwestTransportBuilder};
pub use response::Response;
pub use retry::{Retry, RetryPolicy, RetryPolicyBuilder, with_retry};
pub use transport::Transport;
