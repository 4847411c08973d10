#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio_postgres::NoTls;

use super::group::{PendingStore, gather};
use super::pool::kind_of;
use super::schema::MIGRATIONS;
use super::*;

/// The test database: `CXTN_TEST_POSTGRES_URL`, or the local server's `postgres` database.
fn url() -> String {
    match std::env::var("CXTN_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => "postgres://postgres@127.0.0.1:5432/postgres".to_owned(),
    }
}

/// A fresh schema name, and a direct connection that drops it when the test is done.
struct Scratch {
    name: String,
    client: tokio_postgres::Client,
}

impl Scratch {
    async fn new() -> Self {
        let suffix: String = std::iter::repeat_with(fastrand::lowercase).take(12).collect();
        let (client, connection) = tokio_postgres::connect(&url(), NoTls)
            .await
            .expect("the test PostgreSQL answers: start it on 127.0.0.1:5432 or set CXTN_TEST_POSTGRES_URL");
        tokio::spawn(connection);
        Self {
            name: format!("cxtn_u_{suffix}"),
            client,
        }
    }

    fn builder(&self) -> PostgresInboxBuilder {
        PostgresInbox::builder(url()).schema(&self.name).pool_size(2)
    }

    async fn drop_schema(self) {
        self.client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name))
            .await
            .unwrap();
    }
}

fn pending(id: &str, body: &'static [u8]) -> PendingStore {
    let (reply, _) = oneshot::channel();
    PendingStore {
        event: NewEvent::new(id, "ping", None, 1, Bytes::from_static(body)),
        reply,
    }
}

#[test]
fn a_group_is_gathered_by_id_then_by_body_in_arrival_order() {
    let batch = [
        pending("b", b"b1"),
        pending("a", b"a1"),
        pending("b", b"b2"),
        pending("b", b"b1"),
        pending("a", b"a1"),
        pending("b", b"b3"),
        pending("b", b"b2"),
    ];
    let gathered = gather(&batch);
    type Bodies<'a> = Vec<(&'a [u8], i64)>;
    let shape: Vec<(&str, Bodies<'_>)> = gathered
        .iter()
        .map(|(id, copies)| {
            let bodies = copies.bodies.iter().map(|b| (&b.event.body[..], b.count)).collect();
            (*id, bodies)
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("b", vec![(&b"b1"[..], 2), (&b"b2"[..], 2), (&b"b3"[..], 1)]),
            ("a", vec![(&b"a1"[..], 2)]),
        ],
        "the first body of an id leads: it is the one stored when the id is new"
    );
}

#[test]
fn text_postgres_cannot_hold_is_refused_and_says_where() {
    let event = |id: &str, name: &str, subscription: Option<&str>| {
        NewEvent::new(id, name, subscription.map(str::to_owned), 1, Bytes::new())
    };
    assert!(refuse_nul(&event("wh_1", "ping", Some("Payment"))).is_ok());
    for (bad, what) in [
        (event("wh_\0", "ping", None), "id"),
        (event("wh_1", "pi\0ng", None), "name"),
        (event("wh_1", "ping", Some("\0")), "subscription"),
    ] {
        let e = refuse_nul(&bad).unwrap_err();
        assert_eq!(e.kind(), InboxErrorKind::Refused);
        assert!(e.to_string().contains(&format!("{what} holds a NUL character")), "{e}");
    }
    // Text the inbox writes itself (reasons, errors) is kept with the NUL replaced.
    assert_eq!(sql::storable("a\0b"), "a\u{fffd}b");
}

#[tokio::test]
async fn an_inbox_of_the_first_version_is_upgraded_with_its_data() {
    let scratch = Scratch::new().await;
    let quoted = format!("\"{}\"", scratch.name);
    let Some(first) = MIGRATIONS.first() else {
        panic!("no migrations")
    };
    scratch
        .client
        .batch_execute(&format!(
            "CREATE SCHEMA {quoted};
             CREATE TABLE {quoted}.cxtn_inbox_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now());
             INSERT INTO {quoted}.cxtn_inbox_migrations (version) VALUES (1);
             {}
             INSERT INTO {quoted}.events (event_id, event, received_at_ms, body, status, attempts, deliveries,
                 next_attempt_at_ms, claimed_until_ms, claim_token)
             VALUES ('kept', 'ping', 1, 'one body', 'pending', 0, 3, 1, NULL, NULL),
                    ('held', 'ping', 2, 'other body', 'processing', 1, 1, 2, 9000000000000, 42);
             INSERT INTO {quoted}.rejections (received_at_ms, body, reason, kind, replayed_as)
             VALUES (1, 'bad', 'not JSON', 'syntax', NULL),
                    (2, 'bad', 'not JSON', 'syntax', 'kept'),
                    (3, 'bad', 'not JSON', 'syntax', NULL),
                    (4, 'worse', 'not JSON', 'syntax', NULL);",
            first.replace("{schema}", &quoted)
        ))
        .await
        .unwrap();

    let inbox = scratch.builder().connect().await.unwrap();
    let kept = inbox.event(&EventId::new("kept")).await.unwrap().unwrap();
    assert_eq!(
        kept.body_hash,
        BodyHash::of(b"one body"),
        "digests computed for stored bodies"
    );
    assert_eq!((kept.deliveries, kept.conflicts, kept.quarantine_reason), (3, 0, None));
    // The same body again is a duplicate of it; another a conflict.
    let again = NewEvent::new("kept", "ping", None, 5, Bytes::from_static(b"one body"));
    assert_eq!(inbox.store(again).await.unwrap(), Stored::Duplicate);
    let changed = NewEvent::new("kept", "ping", None, 6, Bytes::from_static(b"changed"));
    assert_eq!(inbox.store(changed).await.unwrap(), Stored::Conflict);
    // A claim made before the upgrade is still fenced by its token.
    let held = EventId::new("held");
    assert!(
        !inbox
            .complete(&held, ClaimToken::from_i64(7), Completion::Processed)
            .await
            .unwrap()
    );
    assert!(
        inbox
            .complete(&held, ClaimToken::from_i64(42), Completion::Processed)
            .await
            .unwrap()
    );
    // Copies of one rejected body merge into its first row, their count and replay kept.
    let rejections = inbox.rejections(10).await.unwrap();
    let merged: Vec<(i64, &[u8], u32, Option<&str>)> = rejections
        .iter()
        .map(|r| {
            (
                r.received_at_ms,
                &r.body[..],
                r.deliveries,
                r.replayed_as.as_ref().map(EventId::as_str),
            )
        })
        .collect();
    assert_eq!(merged, [(4, &b"worse"[..], 1, None), (1, &b"bad"[..], 3, Some("kept"))]);
    let again = NewRejection::new(9, Bytes::from_static(b"bad"), "not JSON", "syntax");
    assert_eq!(inbox.reject(again).await.unwrap(), rejections[1].id);
    // Quarantined events fit the upgraded status check.
    let odd = NewEvent::new("odd", "ping", None, 7, Bytes::from_static(b"odd")).quarantined("no amount");
    assert_eq!(inbox.store(odd).await.unwrap(), Stored::New);
    let stats = inbox.stats().await.unwrap();
    assert_eq!(
        (
            stats.pending,
            stats.processed,
            stats.quarantined,
            stats.rejected,
            stats.conflicts,
            stats.duplicates
        ),
        (1, 1, 1, 2, 1, 3)
    );
    scratch.drop_schema().await;
}

#[tokio::test]
async fn an_inbox_of_the_third_version_gets_object_ids_and_the_listing_indexes() {
    let scratch = Scratch::new().await;
    let quoted = format!("\"{}\"", scratch.name);
    let earlier: Vec<String> = MIGRATIONS
        .iter()
        .take(3)
        .map(|sql| sql.replace("{schema}", &quoted))
        .collect();
    scratch
        .client
        .batch_execute(&format!(
            "CREATE SCHEMA {quoted};
             CREATE TABLE {quoted}.cxtn_inbox_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now());
             INSERT INTO {quoted}.cxtn_inbox_migrations (version) VALUES (1), (2), (3);
             {}",
            earlier.join(";\n")
        ))
        .await
        .unwrap();
    let rows: [(&str, i64, &[u8]); 6] = [
        ("obj", 1, br#"{"eventId":"obj","data":{"objectId":654254}}"#),
        ("str", 2, br#"{"eventId":"str","data":"{\"objectId\":162953}"}"#),
        ("none", 3, br#"{"eventId":"none","data":{"userId":"C1"}}"#),
        ("text", 4, b"not json"),
        ("bytes", 5, &[0xff, 0xfe, 0x00, 0x7b]),
        ("nul", 6, br#"{"data":{"objectId":"a\u0000b"}}"#),
    ];
    for (id, at, body) in rows {
        scratch
            .client
            .execute(
                &format!(
                    "INSERT INTO {quoted}.events (event_id, event, received_at_ms, body, body_hash, next_attempt_at_ms)
                     VALUES ($1, 'ping', $2, $3, sha256($3), $2)"
                ),
                &[&id, &at, &body],
            )
            .await
            .unwrap();
    }

    let inbox = scratch.builder().connect().await.unwrap();
    let listed: Vec<(String, Option<String>)> = inbox
        .events(EventFilter::all())
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.event_id.to_string(), r.object_id))
        .collect();
    let some = |id: &str, object: Option<&str>| (id.to_owned(), object.map(str::to_owned));
    assert_eq!(
        listed,
        [
            some("nul", None),
            some("bytes", None),
            some("text", None),
            some("none", None),
            some("str", Some("162953")),
            some("obj", Some("654254")),
        ],
        "objectIds filled in; bodies without one, or not JSON, or not text PostgreSQL holds, left empty"
    );
    let found = inbox.events(EventFilter::all().search("162953")).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].event_id.as_str(), "str");
    let indexes: Vec<String> = scratch
        .client
        .query(
            "SELECT indexname::text FROM pg_indexes WHERE schemaname = $1 AND tablename = 'events' ORDER BY 1",
            &[&scratch.name],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    for index in [
        "events_conflicting",
        "events_id_prefix",
        "events_name",
        "events_object",
        "events_received",
        "events_status",
        "events_subscription",
    ] {
        assert!(indexes.iter().any(|i| i == index), "{index} in {indexes:?}");
    }
    let helper: bool = scratch
        .client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = $1 AND p.proname = 'object_id_of')",
            &[&scratch.name],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!helper, "the migration's helper is dropped");
    drop(inbox);
    scratch.drop_schema().await;
}

#[tokio::test]
async fn failures_say_their_kind() {
    let scratch = Scratch::new().await;
    // A value the database refuses, and a statement stopped by the server's timeout.
    let refused = scratch.client.execute("SELECT 1 / 0", &[]).await.unwrap_err();
    assert_eq!(kind_of(&refused), InboxErrorKind::Refused);
    let bad_text = scratch
        .client
        .execute("SELECT 'a\\0'::text::int", &[])
        .await
        .unwrap_err();
    assert_eq!(kind_of(&bad_text), InboxErrorKind::Refused);
    let slow = scratch
        .client
        .batch_execute("SET statement_timeout = '20ms'; SELECT pg_sleep(1)")
        .await
        .unwrap_err();
    assert_eq!(kind_of(&slow), InboxErrorKind::Unavailable);
    scratch.client.batch_execute("RESET statement_timeout").await.unwrap();
    let syntax = scratch.client.execute("SELEKT", &[]).await.unwrap_err();
    assert_eq!(kind_of(&syntax), InboxErrorKind::Other);

    // Nothing listens: the inbox cannot connect.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let e = PostgresInbox::builder(format!("postgres://postgres@{closed}/db"))
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), InboxErrorKind::Unavailable, "{e}");

    // A statement that outlasts the operation timeout: the events table is locked by another transaction.
    let inbox = scratch
        .builder()
        .operation_timeout(Duration::from_millis(200))
        .connect()
        .await
        .unwrap();
    scratch
        .client
        .batch_execute(&format!(
            "BEGIN; LOCK TABLE \"{}\".events IN ACCESS EXCLUSIVE MODE",
            scratch.name
        ))
        .await
        .unwrap();
    let e = inbox.stats().await.unwrap_err();
    assert_eq!(e.kind(), InboxErrorKind::Unavailable, "{e}");
    assert!(e.to_string().contains("did not answer within"), "{e}");
    scratch.client.batch_execute("ROLLBACK").await.unwrap();
    // Newer schemas are not an inbox this version can use.
    scratch
        .client
        .batch_execute(&format!(
            "INSERT INTO \"{}\".cxtn_inbox_migrations (version) VALUES (99)",
            scratch.name
        ))
        .await
        .unwrap();
    let e = scratch.builder().connect().await.unwrap_err();
    assert_eq!(e.kind(), InboxErrorKind::NotAnInbox, "{e}");
    drop(inbox);
    scratch.drop_schema().await;
}
