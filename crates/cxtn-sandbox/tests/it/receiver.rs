//! A webhook receiver for tests: records every request as it arrives and answers from a script.

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
use tokio::sync::watch;

/// How the receiver answers one request.
#[derive(Debug, Clone, Copy)]
pub enum Reply {
    Status(u16),
    /// Never answer.
    Hang,
}

/// A request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub content_type: Option<String>,
    pub body: String,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }

    pub fn event_id(&self) -> String {
        self.json()["eventId"].as_str().unwrap().to_owned()
    }
}

struct State {
    script: VecDeque<Reply>,
    otherwise: Reply,
    received: Vec<Received>,
}

#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    count: watch::Sender<usize>,
}

impl Receiver {
    /// A receiver answering 200 to everything.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let receiver = Self {
            addr,
            state: Arc::new(Mutex::new(State {
                script: VecDeque::new(),
                otherwise: Reply::Status(200),
                received: Vec::new(),
            })),
            count: watch::Sender::new(0),
        };
        let shared = receiver.clone();
        let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let receiver = shared.clone();
            async move { Ok::<_, Infallible>(receiver.answer(request).await) }
        });
        // Serves until the test ends: the runtime drops it.
        tokio::spawn(Server::new().serve(listener, service, std::future::pending()));
        receiver
    }

    async fn answer(&self, request: hyper::Request<hyper::body::Incoming>) -> hyper::Response<Full<Bytes>> {
        let method = request.method().to_string();
        let path = request.uri().path().to_owned();
        let content_type = request
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = request.into_body().collect().await.unwrap().to_bytes();
        let reply = {
            let mut state = self.state.lock().unwrap();
            state.received.push(Received {
                method,
                path,
                content_type,
                body: String::from_utf8(body.to_vec()).unwrap(),
            });
            self.count.send_replace(state.received.len());
            state.script.pop_front().unwrap_or(state.otherwise)
        };
        let status = match reply {
            Reply::Status(status) => status,
            Reply::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                200
            }
        };
        hyper::Response::builder()
            .status(status)
            .body(Full::new(Bytes::from_static(b"{}")))
            .unwrap()
    }

    /// The URL of a path on this receiver.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers these first, in order.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.lock().unwrap().script.extend(replies);
    }

    /// Answers this once the script is used up.
    pub fn otherwise(&self, reply: Reply) {
        self.state.lock().unwrap().otherwise = reply;
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Waits (up to 10 s) until at least `n` requests arrived, and returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let mut count = self.count.subscribe();
        tokio::time::timeout(Duration::from_secs(10), count.wait_for(|c| *c >= n))
            .await
            .unwrap_or_else(|_| panic!("{n} requests did not arrive; got {:?}", self.received()))
            .unwrap();
        self.received()
    }
}
