//! One suite, every inbox: the guarantees the `Inbox` trait promises.

use std::time::Duration;

use bytes::Bytes;
use cxtn_receiver::inbox::{NewEvent, NewRejection};
use cxtn_receiver::{Completion, EventFilter, EventStatus, ReplayTarget, Stored};

use crate::{Kind, open};

fn event(id: &str, at: i64) -> NewEvent {
    let body = format!(r#"{{"eventId": "{id}", "event": "ping", "data": {{"n": 1.10}}}}"#);
    NewEvent::new(id, "ping", None, at, Bytes::from(body))
}

async fn stores_once_per_event_id(kind: Kind) {
    let t = open(&kind).await;
    assert_eq!(t.inbox.store(event("a", 1)).await.unwrap(), Stored::New);
    assert_eq!(t.inbox.store(event("a", 2)).await.unwrap(), Stored::Duplicate);
    assert_eq!(t.inbox.store(event("b", 3)).await.unwrap(), Stored::New);
    let a = t.inbox.event("a").await.unwrap().unwrap();
    assert_eq!(a.deliveries, 2);
    assert_eq!(a.received_at_ms, 1, "the first arrival is kept");
    assert_eq!(a.body, event("a", 1).body, "the body exactly as received");
    assert_eq!(a.status, EventStatus::Pending);
    let stats = t.inbox.stats().await.unwrap();
    assert_eq!((stats.pending, stats.duplicates), (2, 1));
    let listed: Vec<String> = t
        .inbox
        .events(EventFilter::all())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_id)
        .collect();
    assert_eq!(listed, ["b", "a"], "newest first");
    assert!(t.inbox.event("zzz").await.unwrap().is_none());
}

async fn claims_lease_and_complete(kind: Kind) {
    let t = open(&kind).await;
    t.inbox.store(event("a", 10)).await.unwrap();
    t.inbox.store(event("b", 20)).await.unwrap();
    let lease = Duration::from_millis(1000);
    let claimed = t.inbox.claim(100, lease, 10).await.unwrap();
    assert_eq!(
        claimed.iter().map(|c| c.event_id.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(claimed[0].attempt, 1);
    assert!(
        t.inbox.claim(200, lease, 10).await.unwrap().is_empty(),
        "claimed events are not handed out twice"
    );
    // a succeeds; b's worker dies: after the lease, b is claimed again.
    t.inbox.complete("a", Completion::Processed).await.unwrap();
    let again = t.inbox.claim(1200, lease, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].event_id.as_str(), again[0].attempt), ("b", 2));
    // b fails, retried later, then dead.
    t.inbox
        .complete(
            "b",
            Completion::Retry {
                error: "boom".into(),
                at_ms: 5000,
            },
        )
        .await
        .unwrap();
    assert!(t.inbox.claim(4999, lease, 10).await.unwrap().is_empty(), "not due yet");
    assert_eq!(t.inbox.claim(5000, lease, 10).await.unwrap().len(), 1);
    t.inbox
        .complete(
            "b",
            Completion::Dead {
                error: "boom again".into(),
            },
        )
        .await
        .unwrap();
    let b = t.inbox.event("b").await.unwrap().unwrap();
    assert_eq!(
        (b.status, b.attempts, b.last_error.as_deref()),
        (EventStatus::Dead, 3, Some("boom again"))
    );
    let dead = t
        .inbox
        .events(EventFilter::all().status(EventStatus::Dead))
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    let stats = t.inbox.stats().await.unwrap();
    assert_eq!((stats.processed, stats.dead), (1, 1));
    // Replaying the dead letter makes it pending, attempts reset.
    assert_eq!(
        cxtn_receiver::replay(&*t.inbox, ReplayTarget::Event("b".into()))
            .await
            .unwrap(),
        "b"
    );
    let b = t.inbox.event("b").await.unwrap().unwrap();
    assert_eq!((b.status, b.attempts), (EventStatus::Pending, 0));
    // So can a processed event.
    cxtn_receiver::replay(&*t.inbox, ReplayTarget::Event("a".into()))
        .await
        .unwrap();
    assert_eq!(t.inbox.event("a").await.unwrap().unwrap().status, EventStatus::Pending);
    let missing = cxtn_receiver::replay(&*t.inbox, ReplayTarget::Event("nope".into()))
        .await
        .unwrap_err();
    assert_eq!(missing.kind(), cxtn_receiver::ErrorKind::NotFound);
}

async fn rejections_are_kept_and_replayable(kind: Kind) {
    let t = open(&kind).await;
    let bad = NewRejection::new(7, Bytes::from_static(b"{broken"), "not JSON", "syntax");
    let id = t.inbox.reject(bad).await.unwrap();
    let stored = t.inbox.rejection(id).await.unwrap().unwrap();
    assert_eq!(
        (stored.body.as_ref(), stored.reason.as_str()),
        (&b"{broken"[..], "not JSON")
    );
    let still = cxtn_receiver::replay(&*t.inbox, ReplayTarget::Rejection(id))
        .await
        .unwrap_err();
    assert_eq!(still.kind(), cxtn_receiver::ErrorKind::StillInvalid);

    // A body that parses now (say, after an upgrade) is stored as an event when replayed.
    let good = Bytes::from(cxtn_events::samples::GUIDE[3].body);
    let id = t
        .inbox
        .reject(NewRejection::new(8, good, "older parser", "missing_field"))
        .await
        .unwrap();
    let event_id = cxtn_receiver::replay(&*t.inbox, ReplayTarget::Rejection(id))
        .await
        .unwrap();
    assert_eq!(event_id, "wh_c3f042548b624eb1a0ba9a57be8290f4");
    let record = t.inbox.event(&event_id).await.unwrap().unwrap();
    assert_eq!((record.status, record.received_at_ms), (EventStatus::Pending, 8));
    assert_eq!(record.subscription.as_deref(), Some("AccountTransaction"));
    let rejection = t.inbox.rejection(id).await.unwrap().unwrap();
    assert_eq!(rejection.replayed_as.as_deref(), Some(event_id.as_str()));
    assert_eq!(t.inbox.rejections(10).await.unwrap().len(), 2);
    assert_eq!(t.inbox.stats().await.unwrap().rejected, 2);
}

macro_rules! every_inbox {
    ($($case:ident),*) => {
        mod memory {
            $( #[tokio::test] async fn $case() { super::$case(crate::Kind::Memory).await; } )*
        }
        mod sqlite {
            $( #[tokio::test] async fn $case() { super::$case(crate::Kind::Sqlite).await; } )*
        }
        #[cfg(feature = "postgres")]
        mod postgres {
            $( #[tokio::test] async fn $case() { super::$case(crate::Kind::Postgres).await; } )*
        }
    };
}

every_inbox!(
    stores_once_per_event_id,
    claims_lease_and_complete,
    rejections_are_kept_and_replayable
);

#[tokio::test]
async fn sqlite_survives_reopening_and_shares_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.sqlite");
    {
        let inbox = cxtn_receiver::SqliteInbox::open(&path).unwrap();
        inbox.store_for_tests(event("kept", 1)).await;
    }
    let first = cxtn_receiver::SqliteInbox::open(&path).unwrap();
    let second = cxtn_receiver::SqliteInbox::open(&path).unwrap();
    use cxtn_receiver::Inbox as _;
    assert!(first.event("kept").await.unwrap().is_some());
    assert_eq!(
        second.store(event("kept", 2)).await.unwrap(),
        Stored::Duplicate,
        "one row per id across handles"
    );
    assert_eq!(first.event("kept").await.unwrap().unwrap().deliveries, 2);
}

#[tokio::test]
async fn sqlite_refuses_a_file_that_is_not_an_inbox() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-an-inbox");
    std::fs::write(
        &path,
        b"this is not a database, just some text that is long enough to look like a header",
    )
    .unwrap();
    let e = cxtn_receiver::SqliteInbox::open(&path).unwrap_err();
    assert!(e.to_string().contains("not-an-inbox"), "{e}");
}

trait StoreForTests {
    async fn store_for_tests(&self, event: NewEvent);
}

impl StoreForTests for cxtn_receiver::SqliteInbox {
    async fn store_for_tests(&self, event: NewEvent) {
        use cxtn_receiver::Inbox as _;
        assert_eq!(self.store(event).await.unwrap(), Stored::New);
    }
}
