//! Bad input: each gets its status, and nothing acknowledged is lost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use cxtn_receiver::{MemoryInbox, Receiver};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{Kind, Recorder, TOKEN, inbox, post, send, start};

const SAMPLE: &str = r#"{"eventId": "wh_1", "event": "payment_completed", "data": {"objectId": 1, "userId": "u", "amount": 1.00, "currency": "GBP"}}"#;

#[tokio::test]
async fn each_bad_request_gets_its_status() {
    let store = inbox(&Kind::Sqlite);
    let started = start(store.inbox.clone(), Recorder::default()).await;
    let addr = started.addr();
    let path = format!("/cxtn/{TOKEN}");
    let json = [("content-type", "application/json")];

    let (status, body) = send(addr, "GET", &path, &json, "").await;
    assert_eq!((status, body.as_str()), (405, r#"{"error":"only POST is accepted"}"#));

    let (status, _) = send(addr, "POST", &path, &[("content-type", "text/plain")], SAMPLE).await;
    assert_eq!(status, 415);
    for ok_type in ["application/json; charset=utf-8", "text/json", "Application/JSON"] {
        let body = SAMPLE.replace("wh_1", &format!("wh_{ok_type}"));
        let (status, _) = send(addr, "POST", &path, &[("content-type", ok_type)], body).await;
        assert_eq!(status, 200, "{ok_type}");
    }
    let (status, _) = send(addr, "POST", &path, &[], SAMPLE.replace("wh_1", "wh_no_type")).await;
    assert_eq!(status, 200, "no content type is accepted");

    let oversize = format!(
        r#"{{"eventId": "wh_big", "event": "x", "data": "{}"}}"#,
        "a".repeat(1024 * 1024)
    );
    let (status, _) = post(addr, oversize).await;
    assert_eq!(status, 413);

    // A usable envelope whose data does not fit: kept under its id, quarantined, acknowledged.
    let (status, body) = post(
        addr,
        r#"{"eventId": "wh_2", "event": "payment_completed", "data": {"objectId": 1}}"#,
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"status":"quarantined","eventId":"wh_2"}"#)
    );
    let quarantined = started.inbox.event(&"wh_2".into()).await.unwrap().unwrap();
    assert!(
        quarantined
            .quarantine_reason
            .as_deref()
            .is_some_and(|reason| reason.contains("missing field `userId`")),
        "{quarantined:?}"
    );
    // No usable envelope: rejected.
    let (status, body) = post(addr, r#"{"event": "payment_completed", "data": {"objectId": 1}}"#).await;
    assert_eq!(status, 400);
    assert!(body.contains("missing field `eventId`"), "{body}");
    let (status, _) = post(addr, "{not json").await;
    assert_eq!(status, 400);

    let stats = started.inbox.stats().await.unwrap();
    assert_eq!(stats.rejected, 2, "malformed bodies are kept: {stats:?}");
    assert_eq!(stats.quarantined, 1, "{stats:?}");
    let rejected = started.inbox.rejections(10).await.unwrap();
    assert_eq!(rejected[0].body, "{not json".as_bytes(), "stored raw");
    assert_eq!(rejected[0].kind, "syntax");
    assert_eq!(rejected[1].kind, "missing_field");
    assert_eq!(
        stats.pending + stats.processing + stats.processed,
        4,
        "the four good deliveries: {stats:?}"
    );
    started.running.shutdown().await;
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

#[tokio::test]
async fn wrong_credentials_look_the_same_whatever_part_is_wrong() {
    let receiver = Receiver::builder(Arc::new(MemoryInbox::new()))
        .path_token(TOKEN)
        .basic_auth("cxtn", "correct horse")
        .build()
        .unwrap();
    let inbox = receiver.inbox();
    let running = receiver.bind("127.0.0.1:0").await.unwrap();
    let addr = running.addr();
    let good_path = format!("/cxtn/{TOKEN}");
    let good_auth = basic("cxtn", "correct horse");
    let cases = [
        ("/cxtn/wrong-token", good_auth.clone()),
        (good_path.as_str(), basic("cxtn", "wrong")),
        (good_path.as_str(), basic("other", "correct horse")),
        (good_path.as_str(), String::new()),
        ("/cxtn/", good_auth.clone()),
    ];
    let mut answers = Vec::new();
    for (path, auth) in &cases {
        let mut headers = vec![("content-type", "application/json")];
        if !auth.is_empty() {
            headers.push(("authorization", auth.as_str()));
        }
        answers.push(send(addr, "POST", path, &headers, SAMPLE).await);
    }
    for answer in &answers {
        assert_eq!(answer, &answers[0], "every refusal is worded the same");
    }
    assert_eq!(answers[0], (401, r#"{"error":"unauthorized"}"#.to_owned()));
    assert_eq!(
        inbox.stats().await.unwrap().rejected,
        0,
        "unauthenticated bodies are not stored"
    );

    let (status, _) = send(
        addr,
        "POST",
        &good_path,
        &[
            ("content-type", "application/json"),
            ("authorization", good_auth.as_str()),
        ],
        SAMPLE,
    )
    .await;
    assert_eq!(status, 200);
    running.shutdown().await;
}

#[tokio::test]
async fn a_slow_body_times_out_and_a_slow_header_is_closed() {
    let store = inbox(&Kind::Memory);
    let started =
        crate::start_with_timeouts(store.inbox.clone(), Recorder::default(), Duration::from_millis(500)).await;
    let addr = started.addr();

    // Headers promise a body that never comes: 408 after the body timeout (500 ms in these tests).
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /cxtn/{TOKEN} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"eventId\""
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started_at = Instant::now();
    let mut answer = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut answer)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(started_at.elapsed() < Duration::from_secs(3));

    // Headers that never finish: the connection is closed after the header timeout.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"POST /cxtn/ HTTP/1.1\r\nhost: x\r\n").await.unwrap();
    let started_at = Instant::now();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the connection was closed");
    assert!(started_at.elapsed() < Duration::from_secs(3));

    // Nothing was stored, and the receiver still works.
    assert_eq!(started.inbox.stats().await.unwrap(), Default::default());
    assert_eq!(post(addr, SAMPLE).await.0, 200);
    started.running.shutdown().await;
}

#[tokio::test]
async fn too_many_concurrent_requests_get_503() {
    let receiver = Receiver::builder(Arc::new(MemoryInbox::new()))
        .path_token(TOKEN)
        .max_concurrent_requests(1)
        .body_read_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let running = receiver.bind("127.0.0.1:0").await.unwrap();
    let addr = running.addr();
    // Hold the only permit with a body that is slow to arrive.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    let head = format!("POST /cxtn/{TOKEN} HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\n");
    slow.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, body) = post(addr, SAMPLE).await;
    assert_eq!(status, 503, "{body}");
    drop(slow);
    running.shutdown().await;
}
