//! The console's pages over loopback HTTP: each case asks the console for a page, as a browser would, and reads
//! the whole answer, so its time is the query beneath it plus rendering, escaping and the HTTP exchange.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use cxtn_receiver::Inbox;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{Case, DAY_MS, Known};

/// The console serving the inbox on a loopback port until dropped, and a client that keeps its connection.
pub(crate) struct Pages {
    base: String,
    client: Client<HttpConnector, Empty<Bytes>>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl Drop for Pages {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
    }
}

/// Serves the console over `inbox` on 127.0.0.1:0.
pub(crate) async fn serve(inbox: Arc<dyn Inbox>) -> Result<Pages> {
    let console = cxtn_console::Console::builder(inbox).build()?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
    let base = format!("http://{}/", listener.local_addr()?);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let stopped = async move {
            let _ = stopped.await;
        };
        if let Err(e) = console.serve(listener, stopped).await {
            eprintln!("the console stopped serving: {e}");
        }
    });
    Ok(Pages {
        base,
        client: Client::builder(TokioExecutor::new()).build_http(),
        stop: Some(stop),
        task,
    })
}

/// A case that gets `path` (relative to the console's base) and counts the `marker`s of the answer.
fn page(name: &'static str, pages: &Pages, path: String, marker: &'static [u8]) -> Case {
    let client = pages.client.clone();
    let url = format!("{}{path}", pages.base);
    Case {
        name,
        query: Box::new(move || {
            let client = client.clone();
            let url = url.clone();
            Box::pin(async move {
                let request = hyper::Request::get(&url)
                    .header("accept", "text/html")
                    .body(Empty::<Bytes>::new())?;
                let response = client.request(request).await.with_context(|| format!("GET {url}"))?;
                let status = response.status();
                let body = response.into_body().collect().await?.to_bytes();
                if !status.is_success() {
                    bail!("GET {url} answered {status}: {}", String::from_utf8_lossy(&body));
                }
                Ok(count(&body, marker))
            })
        }),
    }
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    haystack.windows(needle.len()).filter(|w| *w == needle).count()
}

/// A time as the filters' `datetime-local` inputs send it: `YYYY-MM-DDTHH:MM`, UTC.
fn minute(ms: i64) -> Result<String> {
    let at = chrono::DateTime::from_timestamp_millis(ms).context("a time out of range")?;
    Ok(at.format("%Y-%m-%dT%H:%M").to_string())
}

/// The events page with each filter the console offers, one event's page and the overview.
pub(crate) fn cases(pages: &Pages, known: &Known) -> Result<Vec<Case>> {
    const ROW: &[u8] = b"<tr data-event-id=";
    const EVENT: &[u8] = b"id=\"event-id\"";
    let day_ago = known.now_ms - DAY_MS;
    let (from, until) = (minute(day_ago - DAY_MS)?, minute(day_ago)?);
    let three_days = minute(known.now_ms - 3 * DAY_MS)?;
    let cases = [
        ("GET /events", "events".to_owned(), ROW),
        ("GET /events?status=dead", "events?status=dead".to_owned(), ROW),
        (
            "GET /events?event=trade_settled",
            "events?event=trade_settled".to_owned(),
            ROW,
        ),
        (
            "GET /events?subscription=Payment",
            "events?subscription=Payment".to_owned(),
            ROW,
        ),
        (
            "GET /events?from=..&until=.. (one day, a day ago)",
            format!("events?from={from}&until={until}"),
            ROW,
        ),
        (
            "GET /events?status=dead&event=payment_completed&from=.. (3 days)",
            format!("events?status=dead&event=payment_completed&from={three_days}"),
            ROW,
        ),
        ("GET /events?q=<eventId>", format!("events?q={}", known.event_id), ROW),
        ("GET /events?q=<objectId>", format!("events?q={}", known.object_id), ROW),
        (
            "GET /events?after=<cursor> (page 100)",
            format!("events?after={}", known.page_99_end.to_token()),
            ROW,
        ),
        ("GET /events/<eventId>", format!("events/{}", known.event_id), EVENT),
        ("GET / (overview)", String::new(), ROW),
    ];
    Ok(cases
        .into_iter()
        .map(|(name, path, marker)| page(name, pages, path, marker))
        .collect())
}
