//! A scripted HTTP server on loopback: answers queued responses in order and records every request.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use cxtn_transport::server::Server;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use tokio::net::TcpListener;

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the server answers next.
#[derive(Debug, Clone)]
pub struct Scripted {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Never answer (the connection stays open).
    pub hang: bool,
}

impl Scripted {
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
            hang: false,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn hang() -> Self {
        Self {
            status: 0,
            headers: Vec::new(),
            body: String::new(),
            hang: true,
        }
    }
}

#[derive(Default)]
struct State {
    script: VecDeque<Scripted>,
    requests: Vec<Recorded>,
}

#[derive(Clone)]
pub struct ScriptedServer {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl ScriptedServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            let state = shared.clone();
            async move {
                let method = req.method().to_string();
                let path = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
                let headers = req
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
                    .collect();
                let body = req.into_body().collect().await.unwrap().to_bytes().to_vec();
                let next = {
                    let mut state = state.lock().unwrap();
                    state.requests.push(Recorded {
                        method,
                        path,
                        headers,
                        body,
                    });
                    state.script.pop_front()
                };
                let next = next.unwrap_or_else(|| Scripted::new(599, "no scripted response left"));
                if next.hang {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
                let mut response = hyper::Response::builder().status(next.status);
                for (k, v) in &next.headers {
                    response = response.header(k, v);
                }
                Ok::<_, Infallible>(response.body(Full::new(Bytes::from(next.body))).unwrap())
            }
        });
        // Serves until the test ends: the runtime drops it.
        tokio::spawn(Server::new().serve(listener, service, std::future::pending()));
        Self { addr, state }
    }

    pub fn push(&self, scripted: Scripted) {
        self.state.lock().unwrap().script.push_back(scripted);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }
}
