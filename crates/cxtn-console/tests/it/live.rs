//! `/stream` sends each new arrival once, as a row the page can insert.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::{memory, now_ms, payment, serve, store};

/// Reads the stream until `count` arrivals came, and returns their `data` lines.
async fn arrivals(body: &mut hyper::body::Incoming, count: usize) -> Vec<String> {
    let mut text = String::new();
    let mut found = Vec::new();
    while found.len() < count {
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("an arrival within 10 s")
            .expect("the stream stays open")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            text.push_str(std::str::from_utf8(&data).unwrap());
        }
        while let Some(end) = text.find("\n\n") {
            let message: String = text.drain(..end + 2).collect();
            if message.contains("event: arrival\n") {
                let data = message
                    .lines()
                    .find_map(|line| line.strip_prefix("data: "))
                    .unwrap()
                    .to_owned();
                found.push(data);
            }
        }
    }
    found
}

#[tokio::test]
async fn a_new_arrival_is_streamed_once() {
    let inbox = memory();
    let now = now_ms();
    store(inbox.as_ref(), &payment("wh_before", "1.00", 1), now - 5_000).await;
    let served = serve(crate::console(inbox.clone())).await;
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let request = http::Request::get(served.url("stream")).body(Empty::new()).unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert!(response.headers().contains_key("content-security-policy"));
    let mut body = response.into_body();
    // Let the stream take its starting point, then store two new events, one received a little earlier than
    // the newest one already there (its store committed late).
    tokio::time::sleep(Duration::from_millis(200)).await;
    store(inbox.as_ref(), &payment("wh_new", "2.00", 2), now_ms()).await;
    store(inbox.as_ref(), &payment("wh_late", "3.00", 3), now - 6_000).await;
    let found = arrivals(&mut body, 2).await;
    let rows: Vec<serde_json::Value> = found.iter().map(|d| serde_json::from_str(d).unwrap()).collect();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"wh_new"), "{found:?}");
    assert!(ids.contains(&"wh_late"), "{found:?}");
    assert!(
        !ids.contains(&"wh_before"),
        "an event there before the stream opened is not news"
    );
    let new = rows.iter().find(|r| r["id"] == "wh_new").unwrap();
    assert_eq!(new["status"], "pending");
    assert_eq!(new["event"], "payment_completed");
    assert_eq!(new["href"], "wh_new");
    // Nothing is sent twice: the next arrival is the next event.
    store(inbox.as_ref(), &payment("wh_third", "4.00", 4), now_ms()).await;
    let next = arrivals(&mut body, 1).await;
    assert!(next[0].contains("\"wh_third\""), "{next:?}");
    drop(body);
    served.stop().await;
}

#[tokio::test]
async fn the_stream_resumes_after_the_last_event_id() {
    let inbox = memory();
    let now = now_ms();
    store(inbox.as_ref(), &payment("wh_a", "1.00", 1), now - 3_000).await;
    store(inbox.as_ref(), &payment("wh_b", "1.00", 2), now - 2_000).await;
    let first = inbox.event(&"wh_a".into()).await.unwrap().unwrap().cursor().to_token();
    let served = serve(crate::console(inbox)).await;
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let request = http::Request::get(served.url("stream"))
        .header("last-event-id", first)
        .body(Empty::new())
        .unwrap();
    let mut body = client.request(request).await.unwrap().into_body();
    let found = arrivals(&mut body, 1).await;
    assert!(found[0].contains("\"wh_b\""), "{found:?}");
}

#[tokio::test]
async fn a_filtered_stream_sends_only_the_arrivals_that_meet_its_filters() {
    let inbox = memory();
    let served = serve(crate::console(inbox.clone())).await;
    let page = crate::get(&served.url("events?event=trade_settled&q=wh_t")).await;
    assert!(
        crate::unescape(&page.body).contains("data-live=\"/stream?event=trade_settled&q=wh_t&since="),
        "{}",
        page.body
    );
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let request = http::Request::get(served.url("stream?event=trade_settled&q=wh_t"))
        .body(Empty::new())
        .unwrap();
    let mut body = client.request(request).await.unwrap().into_body();
    tokio::time::sleep(Duration::from_millis(200)).await;
    store(inbox.as_ref(), &payment("wh_t_payment", "1.00", 1), now_ms()).await;
    let trade = cxtn_events::samples::GUIDE
        .iter()
        .find(|sample| sample.event == "trade_settled")
        .unwrap()
        .body;
    let trade = trade.replacen("\"eventId\": \"", "\"eventId\": \"wh_t_", 1);
    assert!(trade.contains("wh_t_"), "{trade}");
    store(inbox.as_ref(), &trade, now_ms()).await;
    let found = arrivals(&mut body, 1).await;
    assert!(found[0].contains("\"event\":\"trade_settled\""), "{found:?}");
    assert!(!found[0].contains("wh_t_payment"));

    let bad = crate::get(&served.url("stream?status=exploded")).await;
    assert_eq!(bad.status, 400);
}

/// The stream URL a page gives its script (`data-live`), unescaped.
fn live_url(served: &crate::Served, page: &crate::Answer) -> String {
    let start = page.body.find("data-live=\"").expect("a live page") + "data-live=\"".len();
    let end = page.body[start..].find('"').unwrap() + start;
    let path = crate::unescape(&page.body[start..end]).replace("&amp;", "&");
    format!("http://{}{path}", served.addr)
}

#[tokio::test]
async fn an_event_stored_between_the_page_and_its_stream_is_still_news() {
    let inbox = memory();
    let now = now_ms();
    store(inbox.as_ref(), &payment("wh_shown", "1.00", 1), now - 5_000).await;
    let served = serve(crate::console(inbox.clone())).await;
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    for page in ["events", ""] {
        let rendered = crate::get(&served.url(page)).await;
        assert_eq!(rendered.status, 200);
        // The event lands after the page was rendered and before its script opens the stream.
        let late = format!("wh_between_{}", if page.is_empty() { "overview" } else { page });
        store(inbox.as_ref(), &payment(&late, "2.00", 2), now_ms()).await;
        let url = live_url(&served, &rendered);
        assert!(url.contains("since="), "{url}");
        let request = http::Request::get(url).body(Empty::new()).unwrap();
        let mut body = client.request(request).await.unwrap().into_body();
        let found = arrivals(&mut body, 1).await;
        assert!(found[0].contains(&format!("\"{late}\"")), "{found:?}");
        assert!(!found[0].contains("\"wh_shown\""), "the page showed it: {found:?}");
    }
    served.stop().await;
}

#[tokio::test]
async fn a_cursor_at_the_edge_of_time_still_streams_the_arrivals_after_it() {
    let inbox = memory();
    let served = serve(crate::console(inbox.clone())).await;
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let since = cxtn_receiver::inbox::EventCursor::new(i64::MIN, "x").to_token();
    let request = http::Request::get(served.url(&format!("stream?since={since}")))
        .body(Empty::new())
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    store(inbox.as_ref(), &payment("wh_after_the_edge", "1.00", 1), now_ms()).await;
    let found = arrivals(&mut body, 1).await;
    assert!(found[0].contains("\"wh_after_the_edge\""), "{found:?}");
}

#[tokio::test]
async fn arrivals_still_stream_after_a_burst_larger_than_one_poll_reads() {
    let inbox = memory();
    let now = now_ms();
    // More events within the lookback than one poll asks for.
    for i in 0..2_100_u64 {
        let at = now - 5_000 + i64::try_from(i).unwrap();
        store(inbox.as_ref(), &payment(&format!("wh_burst_{i:04}"), "1.00", i + 1), at).await;
    }
    let served = serve(crate::console(inbox.clone())).await;
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let request = http::Request::get(served.url("stream")).body(Empty::new()).unwrap();
    let mut body = client.request(request).await.unwrap().into_body();
    tokio::time::sleep(Duration::from_millis(200)).await;
    store(inbox.as_ref(), &payment("wh_after_the_burst", "2.00", 9_999), now_ms()).await;
    let found = arrivals(&mut body, 1).await;
    assert!(found[0].contains("\"wh_after_the_burst\""), "{found:?}");
    // An arrival that moves the lookback into the burst: the part of the burst left in it is not news either.
    store(inbox.as_ref(), &payment("wh_later", "3.00", 9_998), now + 7_050).await;
    let later = arrivals(&mut body, 1).await;
    assert!(later[0].contains("\"wh_later\""), "{later:?}");
    store(inbox.as_ref(), &payment("wh_third", "4.00", 9_997), now_ms()).await;
    let next = arrivals(&mut body, 1).await;
    assert!(next[0].contains("\"wh_third\""), "{next:?}");
}

#[tokio::test]
async fn cursors_of_an_event_with_a_long_id_are_accepted() {
    let inbox = memory();
    let now = now_ms();
    let long = format!("wh_{}", "x".repeat(197));
    store(inbox.as_ref(), &payment("wh_oldest", "1.00", 1), now - 100_000).await;
    store(inbox.as_ref(), &payment(&long, "1.00", 2), now - 60_000).await;
    for i in 0..49 {
        store(
            inbox.as_ref(),
            &payment(&format!("wh_{i:02}"), "1.00", 3),
            now - 50_000 + i,
        )
        .await;
    }
    let served = serve(crate::console(inbox.clone())).await;
    // The long id ends the first page: the next page continues after it.
    let first = crate::get(&served.url("events")).await;
    assert_eq!(first.event_rows().last(), Some(&long));
    let at = first.body.find("id=\"next-page\" href=\"").expect("a next page") + "id=\"next-page\" href=\"".len();
    let end = first.body[at..].find('"').unwrap() + at;
    let next = crate::get(&format!(
        "http://{}{}",
        served.addr,
        first.body[at..end].replace("&amp;", "&")
    ))
    .await;
    assert_eq!(next.status, 200, "{}", next.body);
    assert_eq!(next.event_rows(), vec!["wh_oldest".to_owned()]);
    // The newest event has the long id: the page's live stream starts after it.
    store(inbox.as_ref(), &payment(&format!("{long}y"), "1.00", 4), now - 1_000).await;
    let page = crate::get(&served.url("events")).await;
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let request = http::Request::get(live_url(&served, &page)).body(Empty::new()).unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    store(inbox.as_ref(), &payment("wh_after_the_long_one", "1.00", 5), now_ms()).await;
    let found = arrivals(&mut body, 1).await;
    assert!(found[0].contains("\"wh_after_the_long_one\""), "{found:?}");
}
