//! The Redis Streams outlet against the local Redis on 127.0.0.1:6379.

use std::collections::HashMap;

use bytes::Bytes;
use cxtn_model::EventId;
use cxtn_outlets::{ErrorKind, Message, Outlet, Publish};
use cxtn_receiver::{Event, Handler};
use redis::AsyncCommands;
use redis::streams::StreamRangeReply;

const SERVER: &str = "redis://127.0.0.1:6379/0";

/// A stream name no other test uses, and a connection that removes the stream and its records at the end.
struct Scratch {
    stream: String,
    connection: redis::aio::MultiplexedConnection,
}

impl Scratch {
    async fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let stream = format!("cxtn:test:{}:{nanos}", std::process::id());
        let client = redis::Client::open(SERVER).unwrap();
        let connection = client.get_multiplexed_async_connection().await.unwrap();
        Self { stream, connection }
    }

    async fn entries(&mut self) -> Vec<(Bytes, HashMap<String, String>)> {
        let reply: StreamRangeReply = self.connection.xrange_all(&self.stream).await.unwrap();
        reply
            .ids
            .into_iter()
            .map(|entry| {
                let mut fields = HashMap::new();
                let mut body = Bytes::new();
                for (name, value) in entry.map {
                    let bytes: Vec<u8> = redis::from_redis_value(value).unwrap();
                    if name == "body" {
                        body = Bytes::from(bytes);
                    } else {
                        fields.insert(name, String::from_utf8(bytes).unwrap());
                    }
                }
                (body, fields)
            })
            .collect()
    }

    async fn remove(mut self) {
        let mut keys: Vec<String> = self.connection.keys(format!("{}*", self.stream)).await.unwrap();
        keys.push(self.stream.clone());
        let _: () = self.connection.del(keys).await.unwrap();
    }
}

fn events() -> Vec<Event> {
    cxtn_events::samples::GUIDE
        .iter()
        .map(|sample| {
            let mut event = Event::new(cxtn_events::parse(sample.body.as_bytes()).unwrap());
            event.body = Bytes::from_static(sample.body.as_bytes());
            event
        })
        .collect()
}

#[tokio::test]
async fn the_guide_samples_arrive_once_byte_for_byte_with_their_metadata() {
    let mut scratch = Scratch::new().await;
    let outlet = cxtn_outlets::connect(&format!("{SERVER}?stream={}&dedupe_ttl=1h", scratch.stream))
        .await
        .unwrap();
    assert_eq!(outlet.name(), "redis");
    let publish = Publish::to(vec![outlet]);
    let events = events();
    for event in &events {
        publish.handle(event).await.unwrap();
    }

    let entries = scratch.entries().await;
    assert_eq!(entries.len(), events.len(), "one entry per event");
    for (event, (body, fields)) in events.iter().zip(&entries) {
        assert_eq!(body, &event.body, "byte for byte");
        let message = Message::of(event);
        for (name, value) in message.headers() {
            assert_eq!(fields.get(name), Some(&value), "{name}");
        }
        assert_eq!(fields.len(), message.headers().len(), "no other fields");
    }

    // Published again (a retry after a crash): the records drop every one of them.
    for event in &events {
        publish.handle(event).await.unwrap();
    }
    assert_eq!(
        scratch.entries().await.len(),
        events.len(),
        "a re-publish appends nothing"
    );

    let record = format!("{}:seen:{}", scratch.stream, events[0].notification.event_id());
    let ttl: i64 = scratch.connection.ttl(&record).await.unwrap();
    assert!(
        (3500..=3600).contains(&ttl),
        "the record expires after dedupe_ttl: {ttl}"
    );
    scratch.remove().await;
}

#[tokio::test]
async fn maxlen_caps_the_stream() {
    let mut scratch = Scratch::new().await;
    let outlet = cxtn_outlets::connect(&format!("{SERVER}?stream={}&maxlen=10", scratch.stream))
        .await
        .unwrap();
    let mut message = Message::of(&events()[1]);
    for n in 0..500 {
        message.event_id = EventId::new(format!("wh_maxlen_{n}"));
        outlet.publish(&message).await.unwrap();
    }
    let length: usize = scratch.connection.xlen(&scratch.stream).await.unwrap();
    // `MAXLEN ~` trims whole nodes of up to 100 entries (stream-node-max-entries), never below the cap.
    assert!((10..=110).contains(&length), "the stream holds {length} of 500 entries");
    scratch.remove().await;
}

#[tokio::test]
async fn a_bad_configuration_fails_at_connect_with_a_clear_error() {
    let cases = [
        ("redis://127.0.0.1:6379/0", ErrorKind::Config, "add ?stream=NAME"),
        (
            "redis://127.0.0.1:6379/0?stream=",
            ErrorKind::Config,
            "add ?stream=NAME",
        ),
        (
            "redis://127.0.0.1:6379/0?stream=s&maxlen=0",
            ErrorKind::Config,
            "maxlen=0",
        ),
        (
            "redis://127.0.0.1:6379/0?stream=s&dedupe_ttl=7w",
            ErrorKind::Config,
            "dedupe_ttl=7w",
        ),
        (
            "redis://127.0.0.1:6379/0?stream=s&subject=x",
            ErrorKind::Config,
            "`subject`",
        ),
        (
            "redis://127.0.0.1:1/0?stream=s",
            ErrorKind::Unavailable,
            "could not be reached",
        ),
        (
            "redis://:s3cret-pw@127.0.0.1:6379/0?stream=s",
            ErrorKind::Unavailable,
            "refused the credentials",
        ),
        (
            "redis://127.0.0.1:6379/99999?stream=s",
            ErrorKind::Unavailable,
            "could not be reached",
        ),
    ];
    for (url, kind, says) in cases {
        let e = cxtn_outlets::connect(url).await.unwrap_err();
        assert_eq!(e.kind(), kind, "{url}: {e}");
        assert!(e.to_string().contains(says), "{url}: {e}");
        assert!(!format!("{e} {e:?}").contains("s3cret"), "{e:?}");
    }

    let mut scratch = Scratch::new().await;
    let _: () = scratch.connection.set(&scratch.stream, "a string").await.unwrap();
    let e = cxtn_outlets::connect(&format!("{SERVER}?stream={}", scratch.stream))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert!(e.to_string().contains("not a stream"), "{e}");
    scratch.remove().await;
}

#[tokio::test]
async fn the_password_never_shows_in_debug() {
    let scratch = Scratch::new().await;
    // The local Redis has no password for `default`, so `AUTH default <anything>` is refused; a user name with an
    // empty password is not sent, so this connects and shows only the redacted URL.
    let outlet = cxtn_outlets::connect(&format!(
        "redis://s3cret-user@127.0.0.1:6379/0?stream={}",
        scratch.stream
    ))
    .await
    .unwrap();
    let shown = format!("{outlet:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("***@127.0.0.1:6379"), "{shown}");
    scratch.remove().await;
}
