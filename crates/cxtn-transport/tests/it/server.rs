//! Loopback servers for the conformance suite: an echo server on the crate's own accept loop, and a silent one.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use cxtn_transport::server::Server;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A request as the server received it.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) method: Method,
    pub(crate) path_and_query: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// An HTTP/1.1 server on 127.0.0.1 that records every request and answers:
/// - with the status named by the request header `x-want-status` (200 when absent);
/// - with the headers `x-reply: from-server` and `x-method: <method>`;
/// - with the body `reply:` followed by the request body.
#[derive(Debug)]
pub(crate) struct EchoServer {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    task: JoinHandle<()>,
}

impl EchoServer {
    pub(crate) async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&received);
        let service = service_fn(move |request| answer(request, Arc::clone(&record)));
        let task = tokio::spawn(async move { Server::new().serve(listener, service, std::future::pending()).await });
        Self { addr, received, task }
    }

    /// `http://127.0.0.1:<port>` followed by `path_and_query`.
    pub(crate) fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{path_and_query}", self.addr)
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(
    request: hyper::Request<Incoming>,
    record: Arc<Mutex<Vec<Received>>>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|body| body.to_bytes()).unwrap_or_default();
    let status = parts
        .headers
        .get("x-want-status")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u16>().ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or(StatusCode::OK);
    let mut reply = b"reply:".to_vec();
    reply.extend_from_slice(&body);
    record.lock().unwrap().push(Received {
        method: parts.method.clone(),
        path_and_query: parts.uri.path_and_query().map(ToString::to_string).unwrap_or_default(),
        headers: parts.headers,
        body,
    });
    let mut response = hyper::Response::new(Full::new(Bytes::from(reply)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("x-reply", HeaderValue::from_static("from-server"));
    response
        .headers_mut()
        .insert("x-method", HeaderValue::from_str(parts.method.as_str()).unwrap());
    Ok(response)
}

/// A server on 127.0.0.1 that accepts connections and never answers on them.
#[derive(Debug)]
pub(crate) struct SilentServer {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl SilentServer {
    pub(crate) async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                open.push(stream);
            }
        });
        Self { addr, task }
    }

    pub(crate) fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{path_and_query}", self.addr)
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A URL on 127.0.0.1 whose port nothing listens on: bound, then released.
pub(crate) async fn refused_url(path_and_query: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}{path_and_query}")
}

/// A server on 127.0.0.1 that answers every request `200 OK` with a body that never ends: chunked, or under
/// an announced `content-length` of 1 GiB when `announce` is set. It counts the bytes it managed to write.
#[derive(Debug)]
pub(crate) struct EndlessServer {
    addr: SocketAddr,
    written: Arc<std::sync::atomic::AtomicU64>,
    task: JoinHandle<()>,
}

impl EndlessServer {
    pub(crate) async fn start(announce: bool) -> Self {
        use std::sync::atomic::Ordering;

        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let written = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let count = Arc::clone(&written);
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let count = Arc::clone(&count);
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buffer = [0_u8; 4096];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buffer[..n]),
                        }
                    }
                    let head = if announce {
                        "HTTP/1.1 200 OK\r\ncontent-length: 1073741824\r\n\r\n"
                    } else {
                        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                    };
                    if stream.write_all(head.as_bytes()).await.is_err() {
                        return;
                    }
                    let data = vec![b'x'; 64 * 1024];
                    let chunk = if announce {
                        data
                    } else {
                        [format!("{:x}\r\n", data.len()).into_bytes(), data, b"\r\n".to_vec()].concat()
                    };
                    while stream.write_all(&chunk).await.is_ok() {
                        count.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    }
                });
            }
        });
        Self { addr, written, task }
    }

    pub(crate) fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{path_and_query}", self.addr)
    }

    /// The bytes of body written so far.
    pub(crate) fn written(&self) -> u64 {
        self.written.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for EndlessServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
