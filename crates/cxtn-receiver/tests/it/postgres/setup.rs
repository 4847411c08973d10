//! Connecting, migrating, secrets, and the rules several inbox handles share one database by.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cxtn_receiver::inbox::NewEvent;
use cxtn_receiver::{Completion, EventId, EventStatus, Inbox, InboxErrorKind, PostgresInbox, Stored};

use super::{Schema, url};

fn event(id: &str) -> NewEvent {
    NewEvent::new(id, "ping", None, 1, Bytes::from(super::body(id)))
}

fn id(text: &str) -> EventId {
    EventId::new(text)
}

/// Everything an error shows: its message, its `Debug`, and every cause's.
fn shown(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = format!("{e} {e:?}");
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(&format!(" {cause} {cause:?}"));
        source = cause.source();
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receivers_starting_together_migrate_once() {
    let schema = Schema::fresh();
    let mut connects = Vec::new();
    for _ in 0..6 {
        let builder = schema.builder().pool_size(1);
        connects.push(tokio::spawn(async move { builder.connect().await }));
    }
    for connect in connects {
        connect.await.unwrap().unwrap();
    }
    assert_eq!(
        schema
            .numbers("SELECT version::int8 FROM {schema}.cxtn_inbox_migrations ORDER BY version")
            .await,
        [1, 2, 3, 4]
    );
    // Connecting again changes nothing.
    let inbox = schema.inbox().await;
    assert_eq!(inbox.schema(), schema.name);
    assert_eq!(
        schema
            .numbers("SELECT COUNT(*) FROM {schema}.cxtn_inbox_migrations")
            .await,
        [4]
    );
    assert_eq!(inbox.store(event("a")).await.unwrap(), Stored::New);
}

#[tokio::test]
async fn a_schema_from_a_newer_version_is_refused() {
    let schema = Schema::fresh();
    schema.inbox().await;
    schema
        .client()
        .await
        .batch_execute(&format!(
            "INSERT INTO \"{}\".cxtn_inbox_migrations (version) VALUES (99)",
            schema.name
        ))
        .await
        .unwrap();
    let e = schema.builder().connect().await.unwrap_err();
    assert_eq!(e.kind(), InboxErrorKind::NotAnInbox);
    assert!(e.to_string().contains("newer than this cxtn-receiver knows"), "{e}");
    assert!(e.to_string().contains("upgrade cxtn-receiver"), "{e}");
}

#[tokio::test]
async fn options_are_checked_at_connect() {
    for bad in ["", "9lives", "has-dash", "quote\"d", "pg_catalog"] {
        let e = PostgresInbox::builder(url()).schema(bad).connect().await.unwrap_err();
        assert!(e.to_string().contains("cannot be the inbox's schema"), "{bad}: {e}");
    }
    let e = Schema::fresh().builder().pool_size(0).connect().await.unwrap_err();
    assert!(e.to_string().contains("above zero"), "{e}");
    let e = PostgresInbox::connect("postgres://me@host:notaport/db")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("connection string is not valid"), "{e}");
    // TLS is spoken (see the `tls` tests); a mode libpq does not know is refused before connecting.
    let e = PostgresInbox::connect("postgres://postgres@127.0.0.1:1/db?sslmode=verify-everything")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not a mode the PostgreSQL inbox knows"), "{e}");
}

#[tokio::test]
async fn the_password_is_never_shown() {
    const SECRET: &str = "Hunter2-very-secret";
    // Debug of a builder and of a connected inbox (the test server trusts loopback, so any password works).
    let (addr, _) = super::server();
    let schema = Schema::fresh();
    let with_password = format!("postgres://postgres:{SECRET}@{addr}/{}", super::dbname());
    let builder = PostgresInbox::builder(&with_password).schema(&schema.name);
    assert!(!format!("{builder:?}").contains(SECRET));
    let inbox = builder.connect().await.unwrap();
    let debug = format!("{inbox:?}");
    assert!(!debug.contains(SECRET), "{debug}");
    assert!(debug.contains(&schema.name), "{debug}");

    // Errors: nothing listens, the connection string does not parse.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    for url in [
        format!("postgres://postgres:{SECRET}@{closed}/db"),
        format!(
            "host=127.0.0.1 port={} user=postgres password={SECRET} dbname=db",
            closed.port()
        ),
        format!("postgres://postgres:{SECRET}@127.0.0.1:notaport/db"),
        format!("host=127.0.0.1 password='{SECRET}"),
    ] {
        let e = PostgresInbox::builder(&url)
            .connect_timeout(Duration::from_secs(2))
            .connect()
            .await
            .unwrap_err();
        let text = shown(&e);
        assert!(!text.contains(SECRET), "{text}");
        assert!(!text.contains("Hunter2"), "{text}");
        assert!(
            e.to_string().contains("is the database up?") || e.to_string().contains("not valid"),
            "{e}"
        );
        assert!(!format!("{:?}", PostgresInbox::builder(&url)).contains(SECRET));
    }
    let _ = inbox.store(event("still-works")).await.unwrap();
}

async fn copies_at_many_handles_are_stored_once(max_batch: usize) {
    let schema = Schema::fresh();
    let mut handles = Vec::new();
    for _ in 0..4 {
        handles.push(Arc::new(schema.builder().max_batch(max_batch).connect().await.unwrap()));
    }
    let mut tasks = Vec::new();
    for copy in 0..4 {
        for i in 0..50 {
            let inbox = handles[(i + copy) % handles.len()].clone();
            tasks.push(tokio::spawn(async move {
                inbox.store(event(&format!("e{i}"))).await.unwrap()
            }));
        }
    }
    let mut new = 0;
    for task in tasks {
        if task.await.unwrap() == Stored::New {
            new += 1;
        }
    }
    assert_eq!(new, 50, "one copy of each event is new, the others duplicates");
    assert_eq!(schema.numbers("SELECT COUNT(*) FROM {schema}.events").await, [50]);
    assert_eq!(
        schema
            .numbers("SELECT COUNT(*) FROM {schema}.events WHERE deliveries <> 4")
            .await,
        [0]
    );
    let stats = handles[0].stats().await.unwrap();
    assert_eq!((stats.pending, stats.duplicates), (50, 150));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_at_many_handles_are_stored_once_in_groups() {
    copies_at_many_handles_are_stored_once(256).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_at_many_handles_are_stored_once_one_by_one() {
    copies_at_many_handles_are_stored_once(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_postgres_cannot_store_fails_alone() {
    let schema = Schema::fresh();
    let inbox = Arc::new(schema.inbox().await);
    let mut tasks = Vec::new();
    for id in ["ok-1", "nul\0inside", "ok-2", "ok-3"] {
        let inbox = inbox.clone();
        tasks.push(tokio::spawn(async move { (id, inbox.store(event(id)).await) }));
    }
    for task in tasks {
        let (id, stored) = task.await.unwrap();
        if id.contains('\0') {
            let e = stored.unwrap_err();
            assert!(e.to_string().contains("NUL"), "{e}");
            assert_eq!(e.kind(), InboxErrorKind::Refused, "{e}");
        } else {
            assert_eq!(stored.unwrap(), Stored::New, "{id}");
        }
    }
    assert_eq!(super::count_rows(&*inbox).await, 3);
    assert!(inbox.event(&id("nul\0inside")).await.unwrap().is_none());
    // Handler errors and rejection reasons are stored with the NUL replaced.
    let claimed = inbox.claim(Duration::from_secs(1), 1, false).await.unwrap();
    let id = &claimed[0].event_id;
    assert!(
        inbox
            .complete(
                id,
                claimed[0].token,
                Completion::Retry {
                    error: "bad\0byte".into(),
                    after: Duration::from_millis(20),
                },
            )
            .await
            .unwrap()
    );
    let record = inbox.event(id).await.unwrap().unwrap();
    assert_eq!(record.last_error.as_deref(), Some("bad\u{fffd}byte"));
}

#[tokio::test]
async fn a_stale_completion_never_overrides_a_newer_claim() {
    let schema = Schema::fresh();
    let (a, b) = (schema.inbox().await, schema.inbox().await);
    a.store(event("e")).await.unwrap();
    let lease = Duration::from_millis(100);
    let e = id("e");

    let first = a.claim(lease, 10, false).await.unwrap();
    assert_eq!(first[0].attempt, 1);
    // A's lease runs out; B takes the event.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let second = b.claim(lease, 10, false).await.unwrap();
    assert_eq!((second.len(), second[0].attempt), (1, 2));
    // A finishes late: ignored, the event stays B's.
    assert!(!a.complete(&e, first[0].token, Completion::Processed).await.unwrap());
    let record = a.event(&e).await.unwrap().unwrap();
    assert_eq!(record.status, EventStatus::Processing);
    // B's outcome applies.
    assert!(
        b.complete(
            &e,
            second[0].token,
            Completion::Retry {
                error: "b failed".into(),
                after: Duration::ZERO,
            },
        )
        .await
        .unwrap()
    );
    let record = b.event(&e).await.unwrap().unwrap();
    assert_eq!(
        (record.status, record.last_error.as_deref()),
        (EventStatus::Pending, Some("b failed"))
    );
    // A completion arriving for a pending event does nothing.
    assert!(
        !a.complete(&e, first[0].token, Completion::Dead { error: "late".into() })
            .await
            .unwrap()
    );
    assert_eq!(a.event(&e).await.unwrap().unwrap().status, EventStatus::Pending);

    // Once processed, no late completion brings the event back, from any handle.
    let third = b.claim(lease, 10, false).await.unwrap();
    assert_eq!(third[0].attempt, 3);
    assert!(b.complete(&e, third[0].token, Completion::Processed).await.unwrap());
    for (handle, token) in [(&a, first[0].token), (&b, second[0].token), (&b, third[0].token)] {
        assert!(
            !handle
                .complete(
                    &e,
                    token,
                    Completion::Retry {
                        error: "late".into(),
                        after: Duration::ZERO,
                    },
                )
                .await
                .unwrap()
        );
    }
    let fresh = schema.inbox().await;
    assert!(
        !fresh
            .complete(&e, third[0].token, Completion::Dead { error: "late".into() })
            .await
            .unwrap()
    );
    let record = fresh.event(&e).await.unwrap().unwrap();
    assert_eq!((record.status, record.attempts), (EventStatus::Processed, 3));
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(b.claim(lease, 10, false).await.unwrap().is_empty());

    // A replay wins over the claim in flight: that claim's completion is ignored.
    fresh.store(event("r")).await.unwrap();
    let r = b.claim(Duration::from_secs(60), 10, false).await.unwrap();
    assert!(
        cxtn_receiver::replay(&fresh, cxtn_receiver::ReplayTarget::Event(id("r")))
            .await
            .is_ok()
    );
    assert!(!b.complete(&id("r"), r[0].token, Completion::Processed).await.unwrap());
    assert_eq!(b.event(&id("r")).await.unwrap().unwrap().status, EventStatus::Pending);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_from_many_handles_never_overlap() {
    let schema = Schema::fresh();
    let seed = schema.inbox().await;
    for i in 0..300 {
        seed.store(NewEvent::new(
            format!("e{i:03}"),
            "ping",
            None,
            i,
            Bytes::from(super::body("x")),
        ))
        .await
        .unwrap();
    }
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let inbox = schema.inbox().await;
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let claimed = inbox.claim(Duration::from_secs(60), 7, false).await.unwrap();
                if claimed.is_empty() {
                    return mine;
                }
                let mut previous = i64::MIN;
                for c in claimed {
                    assert!(c.received_at_ms >= previous, "oldest first");
                    previous = c.received_at_ms;
                    assert_eq!(c.attempt, 1);
                    mine.push(c.event_id.into_string());
                }
            }
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!((all.len(), unique.len()), (300, 300), "each event claimed once");
    let stats = seed.stats().await.unwrap();
    assert_eq!((stats.pending, stats.processing), (0, 300));
}

#[tokio::test]
async fn listing_filters_and_orders() {
    let schema = Schema::fresh();
    let inbox = schema.inbox().await;
    for (i, id) in ["old", "mid", "new"].into_iter().enumerate() {
        inbox
            .store(NewEvent::new(
                id,
                "ping",
                Some("Payment".into()),
                i64::try_from(i).unwrap(),
                Bytes::from(super::body(id)),
            ))
            .await
            .unwrap();
    }
    let claimed = inbox.claim(Duration::from_secs(1), 1, false).await.unwrap();
    assert_eq!(claimed[0].event_id, "old");
    assert!(
        inbox
            .complete(&claimed[0].event_id, claimed[0].token, Completion::Processed)
            .await
            .unwrap()
    );
    let ids = |records: Vec<cxtn_receiver::EventRecord>| {
        records
            .into_iter()
            .map(|r| r.event_id.into_string())
            .collect::<Vec<_>>()
    };
    use cxtn_receiver::EventFilter;
    assert_eq!(
        ids(inbox.events(EventFilter::all()).await.unwrap()),
        ["new", "mid", "old"]
    );
    assert_eq!(ids(inbox.events(EventFilter::all().limit(1)).await.unwrap()), ["new"]);
    assert_eq!(
        ids(inbox
            .events(EventFilter::all().status(EventStatus::Processed))
            .await
            .unwrap()),
        ["old"]
    );
    let record = inbox.event(&id("mid")).await.unwrap().unwrap();
    assert_eq!(record.subscription.as_deref(), Some("Payment"));
    assert_eq!(record.body, super::body("mid").as_bytes());
}
