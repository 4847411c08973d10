//! The console over HTTP: every server runs on 127.0.0.1:0, in the test, against memory, SQLite and PostgreSQL
//! inboxes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::print_stdout
)]
#![allow(unreachable_pub, missing_debug_implementations)]

mod actions;
mod auth;
mod browser;
mod live;
mod pages;
mod stores;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cxtn_console::Console;
use cxtn_receiver::inbox::NewEvent;
use cxtn_receiver::{Inbox, MemoryInbox, NewRejection, SqliteInbox};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The admin token of the tests that set one.
pub const TOKEN: &str = "console-admin-7Qv2Lr9Xw4Tz1Nb8Kc3Hd6";

/// A console serving on 127.0.0.1:0 until dropped.
pub struct Served {
    pub addr: SocketAddr,
    pub base: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), cxtn_console::Error>>>,
}

impl Served {
    /// The URL of `path` (relative to the base path, without its leading slash).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}{}", self.addr, self.base, path)
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serves `console` on 127.0.0.1:0.
pub async fn serve(console: Console) -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = console.base_path();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        console
            .serve(listener, async move {
                let _ = stopped.await;
            })
            .await
    });
    Served {
        addr,
        base,
        stop: Some(stop),
        task: Some(task),
    }
}

/// The console over `inbox` with the test settings, without a token.
pub fn console(inbox: Arc<dyn Inbox>) -> Console {
    Console::builder(inbox)
        .live_poll_interval(Duration::from_millis(50))
        .build()
        .unwrap()
}

/// An HTTP answer, its body read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// The `name=value` of the cookie the answer sets.
    pub fn cookie(&self) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.split(';').next().map(str::to_owned))
    }

    /// The value of the hidden `csrf` input of the page.
    pub fn csrf(&self) -> String {
        let start = self.body.find("name=\"csrf\" value=\"").expect("a csrf input") + 19;
        let end = self.body[start..].find('"').unwrap() + start;
        self.body[start..end].to_owned()
    }

    /// The text of the element with `id`, up to its first `<`.
    pub fn text_of(&self, id: &str) -> String {
        let marker = format!("id=\"{id}\"");
        let at = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no #{id} in:\n{}", self.body));
        let start = self.body[at..].find('>').unwrap() + at + 1;
        let end = self.body[start..].find('<').unwrap() + start;
        unescape(&self.body[start..end])
    }

    /// The `data-event-id` of each row of `table#events`, in order.
    pub fn event_rows(&self) -> Vec<String> {
        self.body
            .split("<tr data-event-id=\"")
            .skip(1)
            .map(|rest| unescape(&rest[..rest.find('"').unwrap()]))
            .collect()
    }
}

/// HTML text back to the text it shows (the entities the templates write).
pub fn unescape(html: &str) -> String {
    html.replace("&#60;", "<")
        .replace("&lt;", "<")
        .replace("&#62;", ">")
        .replace("&gt;", ">")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
        .replace("&#38;", "&")
}

pub async fn request(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> Answer {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut builder = http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    if body.is_some() {
        builder = builder.header("content-type", "application/x-www-form-urlencoded");
    }
    let request = builder
        .body(Full::new(Bytes::from(body.unwrap_or("").to_owned())))
        .unwrap();
    let response = tokio::time::timeout(Duration::from_secs(20), client.request(request))
        .await
        .expect("an answer within 20 s")
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

pub async fn get(url: &str) -> Answer {
    request("GET", url, &[("accept", "text/html")], None).await
}

pub async fn get_with(url: &str, headers: &[(&str, &str)]) -> Answer {
    request("GET", url, headers, None).await
}

/// Loads the page at `page` for its session cookie and CSRF token, then posts its form to `action` as a browser
/// of the console's own origin does.
pub async fn post_form(served: &Served, page: &str, action: &str) -> Answer {
    let shown = get(&served.url(page)).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    let cookie = shown.cookie().expect("an anonymous session cookie");
    let origin = format!("http://{}", served.addr);
    let form = format!("csrf={}", shown.csrf());
    request(
        "POST",
        &served.url(action),
        &[
            ("cookie", &cookie),
            ("origin", &origin),
            ("sec-fetch-site", "same-origin"),
        ],
        Some(&form),
    )
    .await
}

/// A `payment_completed` body with this id and amount.
pub fn payment(event_id: &str, amount: &str, object_id: u64) -> String {
    format!(
        r#"{{"eventId":"{event_id}","event":"payment_completed","data":{{"objectId":{object_id},"userId":"C00081866","amount":{amount},"currency":"GBP"}}}}"#
    )
}

/// Stores a parsed delivery as the receiver does.
pub async fn store(inbox: &dyn Inbox, body: &str, received_at_ms: i64) {
    let notification = cxtn_events::parse(body.as_bytes()).unwrap();
    let event = NewEvent::new(
        notification.event_id().clone(),
        notification.event_name(),
        notification.subscription().map(|s| s.to_string()),
        received_at_ms,
        Bytes::from(body.to_owned()),
    );
    inbox.store(event).await.unwrap();
}

/// Stores a body that does not parse, as the receiver does.
pub async fn reject(inbox: &dyn Inbox, body: &str, received_at_ms: i64) -> i64 {
    let reason = match cxtn_events::parse(body.as_bytes()) {
        Err(e) => e.to_string(),
        Ok(_) => "rejected by the test".to_owned(),
    };
    inbox
        .reject(NewRejection::new(
            received_at_ms,
            Bytes::from(body.to_owned()),
            reason,
            "syntax",
        ))
        .await
        .unwrap()
}

/// Now, in milliseconds since the epoch.
pub fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

pub fn memory() -> Arc<dyn Inbox> {
    Arc::new(MemoryInbox::new())
}

pub fn sqlite(dir: &tempfile::TempDir) -> Arc<dyn Inbox> {
    Arc::new(SqliteInbox::open(dir.path().join("inbox.sqlite")).unwrap())
}
