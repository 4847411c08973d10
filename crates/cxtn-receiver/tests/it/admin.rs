//! The admin listener: `/healthz`, `/readyz` and `/metrics` on their own address, over loopback.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cxtn_receiver::inbox::{Intercept, Intercepted};
use cxtn_receiver::{
    ErrorKind, Event, EventId, Handler, HandlerError, Inbox, InboxError, InboxErrorKind, MemoryInbox, NewEvent,
    Receiver, SqliteInbox,
};
use tokio::sync::Notify;

use crate::{TOKEN, fast_policy, post, send};

const ADMIN_TOKEN: &str = "adm1n-T0ken-9f8e7d6c5b4a3210";

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    send(addr, "GET", path, headers, "").await
}

/// The samples of a metrics text, by name and labels as written (`name{label="value"}`).
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap();
            (series.to_owned(), value.parse::<f64>().unwrap())
        })
        .collect()
}

fn sample(samples: &HashMap<String, f64>, series: &str) -> f64 {
    *samples
        .get(series)
        .unwrap_or_else(|| panic!("no sample `{series}` in {samples:#?}"))
}

/// Fails every attempt of an event whose id ends in `_dead`; handles the others.
#[derive(Debug)]
struct FailsSome;

#[cxtn_receiver::async_trait]
impl Handler for FailsSome {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        if event.notification.event_id().as_str().ends_with("_dead") {
            return Err("this one always fails".into());
        }
        Ok(())
    }
}

fn body_with_id(index: usize, id: &str) -> String {
    let mut notification = cxtn_events::parse(cxtn_events::samples::GUIDE[index].body.as_bytes()).unwrap();
    notification.event_id = EventId::new(id);
    notification.to_json_with(cxtn_model::DataEncoding::Object).unwrap()
}

#[tokio::test]
async fn the_admin_listener_is_off_by_default() {
    let receiver = Receiver::builder(Arc::new(MemoryInbox::new()))
        .path_token(TOKEN)
        .build()
        .unwrap();
    let running = receiver.bind("127.0.0.1:0").await.unwrap();
    assert_eq!(running.admin_addr(), None, "no admin address unless one is set");
    // The delivery port authenticates before it routes: it serves no admin path.
    for path in ["/healthz", "/readyz", "/metrics"] {
        let (status, _) = get(running.addr(), path, &[]).await;
        assert_eq!(status, 401, "{path} on the delivery port");
    }
    running.shutdown().await;
}

#[tokio::test]
async fn health_readiness_and_metrics_after_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let inbox: Arc<dyn Inbox> = Arc::new(SqliteInbox::open(dir.path().join("inbox.sqlite")).unwrap());
    let receiver = Receiver::builder(inbox.clone())
        .path_token(TOKEN)
        .handler(FailsSome)
        .worker_policy(fast_policy().max_attempts(2))
        .admin_addr(loopback())
        .build()
        .unwrap();
    let running = receiver.bind("127.0.0.1:0").await.unwrap();
    let admin = running.admin_addr().unwrap();
    assert_ne!(admin, running.addr(), "its own address");

    let (status, body) = get(admin, "/healthz", &[]).await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    let (status, body) = get(admin, "/readyz", &[]).await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ready"}"#));

    let kept = body_with_id(0, "evt_kept");
    assert_eq!(post(running.addr(), kept.clone()).await.0, 200);
    assert_eq!(post(running.addr(), kept).await.0, 200, "a duplicate");
    assert_eq!(post(running.addr(), body_with_id(1, "evt_dead")).await.0, 200);
    assert_eq!(post(running.addr(), "{\"not\":\"a notification\"}").await.0, 400);
    let (status, _) = send(
        running.addr(),
        "POST",
        "/cxtn/wrong-token",
        &[("content-type", "application/json")],
        "{}",
    )
    .await;
    assert_eq!(status, 401);

    // The worker handles one and dead-letters the other after two attempts.
    for _ in 0..2000 {
        let stats = inbox.stats().await.unwrap();
        let recorded = receiver
            .metrics()
            .render()
            .contains("cxtn_receiver_dead_letters_total 1");
        if stats.processed == 1 && stats.dead == 1 && recorded {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let (status, text) = get(admin, "/metrics", &[]).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("# TYPE cxtn_receiver_deliveries_total counter"), "{text}");
    let metrics = samples(&text);
    for (outcome, count) in [
        ("stored", 2.0),
        ("duplicate", 1.0),
        ("rejected", 1.0),
        ("unauthorized", 1.0),
        ("conflict", 0.0),
        ("quarantined", 0.0),
        ("too_large", 0.0),
        ("unavailable", 0.0),
    ] {
        assert_eq!(
            sample(
                &metrics,
                &format!(r#"cxtn_receiver_deliveries_total{{outcome="{outcome}"}}"#)
            ),
            count,
            "{outcome}"
        );
    }
    assert_eq!(
        sample(
            &metrics,
            r#"cxtn_receiver_store_duration_seconds_count{operation="store"}"#
        ),
        3.0
    );
    assert_eq!(
        sample(
            &metrics,
            r#"cxtn_receiver_store_duration_seconds_count{operation="reject"}"#
        ),
        1.0
    );
    assert_eq!(
        sample(
            &metrics,
            r#"cxtn_receiver_store_duration_seconds_bucket{operation="store",le="+Inf"}"#
        ),
        3.0
    );
    assert!(sample(&metrics, "cxtn_receiver_group_commit_size_count") >= 1.0);
    assert!(
        sample(&metrics, "cxtn_receiver_group_commit_size_sum") >= 4.0,
        "three stores and a rejection at least"
    );
    assert!(sample(&metrics, "cxtn_receiver_open_connections") >= 0.0);
    assert_eq!(
        sample(&metrics, r#"cxtn_receiver_inbox_events{status="processed"}"#),
        1.0
    );
    assert_eq!(sample(&metrics, r#"cxtn_receiver_inbox_events{status="dead"}"#), 1.0);
    assert_eq!(sample(&metrics, r#"cxtn_receiver_inbox_events{status="pending"}"#), 0.0);
    assert_eq!(
        sample(&metrics, r#"cxtn_receiver_inbox_events{status="quarantined"}"#),
        0.0
    );
    assert_eq!(sample(&metrics, "cxtn_receiver_inbox_rejections"), 1.0);
    assert_eq!(sample(&metrics, "cxtn_receiver_inbox_duplicates"), 1.0);
    assert_eq!(sample(&metrics, "cxtn_receiver_inbox_conflicts"), 0.0);
    assert_eq!(sample(&metrics, "cxtn_receiver_oldest_pending_event_age_seconds"), 0.0);
    assert_eq!(
        sample(&metrics, r#"cxtn_receiver_handler_outcomes_total{outcome="processed"}"#),
        1.0
    );
    assert_eq!(
        sample(&metrics, r#"cxtn_receiver_handler_outcomes_total{outcome="retry"}"#),
        1.0
    );
    assert_eq!(
        sample(&metrics, r#"cxtn_receiver_handler_outcomes_total{outcome="dead"}"#),
        1.0
    );
    assert_eq!(sample(&metrics, "cxtn_receiver_handler_duration_seconds_count"), 3.0);
    assert_eq!(sample(&metrics, "cxtn_receiver_dead_letters_total"), 1.0);

    // A counter registered by other code shows beside the receiver's own.
    receiver
        .metrics()
        .counter("cxtn_forward_attempts", "Forwards tried.")
        .inc_by(2);
    let (_, text) = get(admin, "/metrics", &[]).await;
    assert_eq!(sample(&samples(&text), "cxtn_forward_attempts_total"), 2.0);

    let (status, _) = get(admin, "/nothing", &[]).await;
    assert_eq!(status, 404);
    let (status, _) = send(admin, "POST", "/metrics", &[], "").await;
    assert_eq!(status, 405);

    running.shutdown().await;
}

#[tokio::test]
async fn the_oldest_pending_event_has_an_age() {
    let inbox = Arc::new(MemoryInbox::new());
    let receiver = Receiver::builder(inbox.clone())
        .path_token(TOKEN)
        .admin_addr(loopback())
        .build()
        .unwrap();
    let running = receiver.bind("127.0.0.1:0").await.unwrap();
    let an_hour_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        - 3_600_000;
    let body = body_with_id(0, "evt_old");
    inbox
        .store(NewEvent::new(
            "evt_old",
            "PaymentCompleted",
            None,
            an_hour_ago,
            body.into(),
        ))
        .await
        .unwrap();
    let (_, text) = get(running.admin_addr().unwrap(), "/metrics", &[]).await;
    let metrics = samples(&text);
    let age = sample(&metrics, "cxtn_receiver_oldest_pending_event_age_seconds");
    assert!((3600.0..3700.0).contains(&age), "{age}");
    assert_eq!(sample(&metrics, r#"cxtn_receiver_inbox_events{status="pending"}"#), 1.0);
    running.shutdown().await;
}

/// In front of a memory inbox: its readiness check fails while `failing` is set.
#[derive(Debug, Default)]
struct Flaky {
    failing: AtomicBool,
}

#[cxtn_receiver::async_trait]
impl Intercept for Flaky {
    async fn check(&self, inner: &dyn Inbox) -> Result<(), InboxError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(InboxError::of_kind(
                InboxErrorKind::Unavailable,
                "the disk is full: free some space",
                None,
            ));
        }
        inner.check().await
    }
}

#[tokio::test]
async fn readyz_answers_503_while_the_inbox_check_fails() {
    let inbox = Arc::new(Intercepted::new(Arc::new(MemoryInbox::new()), Flaky::default()));
    let receiver = Receiver::builder(inbox.clone())
        .path_token(TOKEN)
        .admin_addr(loopback())
        .build()
        .unwrap();
    let running = receiver.bind("127.0.0.1:0").await.unwrap();
    let admin = running.admin_addr().unwrap();
    assert_eq!(get(admin, "/readyz", &[]).await.0, 200);

    inbox.intercept().failing.store(true, Ordering::SeqCst);
    let (status, body) = get(admin, "/readyz", &[]).await;
    assert_eq!(status, 503, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["status"], "unavailable");
    assert!(
        answer["reason"].as_str().unwrap().contains("the disk is full"),
        "{body}"
    );
    assert_eq!(get(admin, "/healthz", &[]).await.0, 200, "alive all the same");

    inbox.intercept().failing.store(false, Ordering::SeqCst);
    assert_eq!(get(admin, "/readyz", &[]).await.0, 200, "ready again");
    running.shutdown().await;
}

#[tokio::test]
async fn the_sqlite_inbox_check_passes_and_a_read_only_one_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.sqlite");
    let inbox = SqliteInbox::open(&path).unwrap();
    inbox.check().await.unwrap();
    let before = inbox.write_stats().transactions;
    inbox.check().await.unwrap();
    assert_eq!(
        inbox.write_stats().transactions,
        before + 1,
        "the check goes through the writer"
    );
    SqliteInbox::open_read_only(&path).unwrap().check().await.unwrap();
    MemoryInbox::new().check().await.unwrap();
}

/// A handler that waits until it is released.
#[derive(Debug)]
struct Held {
    started: Arc<Notify>,
    release: Arc<Notify>,
}

#[cxtn_receiver::async_trait]
impl Handler for Held {
    async fn handle(&self, _event: &Event) -> Result<(), HandlerError> {
        self.started.notify_one();
        self.release.notified().await;
        Ok(())
    }
}

#[tokio::test]
async fn readyz_answers_503_during_shutdown() {
    let started = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let receiver = Receiver::builder(Arc::new(MemoryInbox::new()))
        .path_token(TOKEN)
        .handler(Held {
            started: started.clone(),
            release: release.clone(),
        })
        .worker_policy(fast_policy().shutdown_deadline(Duration::from_secs(30)))
        .admin_addr(loopback())
        .build()
        .unwrap();
    let running = receiver.bind("127.0.0.1:0").await.unwrap();
    let admin = running.admin_addr().unwrap();
    assert_eq!(post(running.addr(), body_with_id(0, "evt_held")).await.0, 200);
    started.notified().await;
    assert_eq!(get(admin, "/readyz", &[]).await.0, 200);

    // The worker holds the shutdown open while its handler runs.
    let stopping = tokio::spawn(running.shutdown());
    let mut last = (0, String::new());
    for _ in 0..500 {
        last = get(admin, "/readyz", &[]).await;
        if last.0 == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(last.0, 503, "{}", last.1);
    assert!(last.1.contains("shutting down"), "{}", last.1);
    assert_eq!(get(admin, "/healthz", &[]).await.0, 200, "alive while it stops");

    release.notify_one();
    tokio::time::timeout(Duration::from_secs(20), stopping)
        .await
        .unwrap()
        .unwrap();
    let refused = tokio::net::TcpStream::connect(admin).await;
    assert!(refused.is_err(), "the admin listener closes once the receiver stopped");
}

#[tokio::test]
async fn the_admin_token_guards_readiness_and_metrics() {
    let receiver = Receiver::builder(Arc::new(MemoryInbox::new()))
        .path_token(TOKEN)
        .admin_addr(loopback())
        .admin_token(ADMIN_TOKEN)
        .build()
        .unwrap();
    let running = receiver.bind("127.0.0.1:0").await.unwrap();
    let admin = running.admin_addr().unwrap();
    let right = format!("Bearer {ADMIN_TOKEN}");
    let wrong = format!("Bearer {ADMIN_TOKEN}x");
    for path in ["/readyz", "/metrics"] {
        let (status, body) = get(admin, path, &[]).await;
        assert_eq!(status, 401, "{path} without the token");
        assert!(!body.contains(ADMIN_TOKEN));
        assert_eq!(get(admin, path, &[("authorization", &wrong)]).await.0, 401, "{path}");
        assert_eq!(get(admin, path, &[("authorization", TOKEN)]).await.0, 401, "{path}");
        assert_eq!(get(admin, path, &[("authorization", &right)]).await.0, 200, "{path}");
    }
    assert_eq!(get(admin, "/healthz", &[]).await.0, 200, "liveness needs no token");
    running.shutdown().await;

    let refused = Receiver::builder(Arc::new(MemoryInbox::new()))
        .path_token(TOKEN)
        .admin_token("")
        .build()
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Config);
    let debug = format!(
        "{:?}",
        Receiver::builder(Arc::new(MemoryInbox::new()))
            .path_token(TOKEN)
            .admin_token(ADMIN_TOKEN)
            .build()
            .unwrap()
    );
    assert!(!debug.contains(ADMIN_TOKEN), "{debug}");
}

#[tokio::test]
async fn a_busy_admin_address_is_an_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let receiver = Receiver::builder(Arc::new(MemoryInbox::new()))
        .path_token(TOKEN)
        .admin_addr(taken.local_addr().unwrap())
        .build()
        .unwrap();
    let error = receiver.bind("127.0.0.1:0").await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Io);
    assert!(error.to_string().contains("admin address"), "{error}");
}

#[tokio::test]
async fn open_connections_are_counted() {
    let receiver = Receiver::builder(Arc::new(MemoryInbox::new()))
        .path_token(TOKEN)
        .admin_addr(loopback())
        .build()
        .unwrap();
    let running = receiver.bind("127.0.0.1:0").await.unwrap();
    let open_now = || async {
        let (_, text) = get(running.admin_addr().unwrap(), "/metrics", &[]).await;
        sample(&samples(&text), "cxtn_receiver_open_connections")
    };
    let mut connections = Vec::new();
    for _ in 0..3 {
        connections.push(tokio::net::TcpStream::connect(running.addr()).await.unwrap());
    }
    let mut open = 0.0;
    for _ in 0..500 {
        open = open_now().await;
        if open == 3.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(open, 3.0, "three connections open on the delivery port");
    drop(connections);
    for _ in 0..500 {
        open = open_now().await;
        if open == 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(open, 0.0, "none once they closed");
    running.shutdown().await;
}
