//! One suite, every inbox: the guarantees the `Inbox` trait promises.

use std::time::Duration;

use bytes::Bytes;
use cxtn_receiver::inbox::{NewEvent, NewRejection};
use cxtn_receiver::{BodyHash, Completion, EventFilter, EventId, EventStatus, ReplayTarget, Stored};

use crate::retention::{
    prune_deletes_only_what_it_is_asked_to, pruned_ids_are_remembered_for_the_dedupe_window,
    stores_go_on_while_a_prune_deletes_in_batches,
};
use crate::{Kind, open};

fn event(id: &str, at: i64) -> NewEvent {
    let body = format!(r#"{{"eventId": "{id}", "event": "ping", "data": {{"n": 1.10}}}}"#);
    NewEvent::new(id, "ping", None, at, Bytes::from(body))
}

fn id(text: &str) -> EventId {
    EventId::new(text)
}

/// A lease long enough that it never runs out during a test.
const LONG: Duration = Duration::from_secs(600);

async fn stores_once_per_event_id(kind: Kind) {
    let t = open(&kind).await;
    assert_eq!(t.inbox.store(event("a", 1)).await.unwrap(), Stored::New);
    assert_eq!(t.inbox.store(event("a", 2)).await.unwrap(), Stored::Duplicate);
    assert_eq!(t.inbox.store(event("b", 3)).await.unwrap(), Stored::New);
    let a = t.inbox.event(&id("a")).await.unwrap().unwrap();
    assert_eq!(a.deliveries, 2);
    assert_eq!(a.received_at_ms, 1, "the first arrival is kept");
    assert_eq!(a.body, event("a", 1).body, "the body exactly as received");
    assert_eq!(a.body_hash, BodyHash::of(&a.body));
    assert_eq!(a.status, EventStatus::Pending);
    assert_eq!(a.conflicts, 0);
    let stats = t.inbox.stats().await.unwrap();
    assert_eq!((stats.pending, stats.duplicates, stats.conflicts), (2, 1, 0));
    let listed: Vec<String> = t
        .inbox
        .events(EventFilter::all())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_id.to_string())
        .collect();
    assert_eq!(listed, ["b", "a"], "newest first");
    assert!(t.inbox.event(&id("zzz")).await.unwrap().is_none());
}

async fn a_changed_body_is_kept_as_a_conflict(kind: Kind) {
    let t = open(&kind).await;
    let first = NewEvent::new("c", "ping", None, 1, Bytes::from_static(br#"{"amount": 10.00}"#));
    let changed = NewEvent::new("c", "ping", None, 2, Bytes::from_static(br#"{"amount": 99999.00}"#));
    let other = NewEvent::new("c", "ping", None, 3, Bytes::from_static(br#"{"amount": 5.00}"#));
    assert_eq!(t.inbox.store(first.clone()).await.unwrap(), Stored::New);
    assert_eq!(t.inbox.store(changed.clone()).await.unwrap(), Stored::Conflict);
    assert_eq!(
        t.inbox.store(changed.clone()).await.unwrap(),
        Stored::Conflict,
        "the same conflicting body again is still a conflict, kept once"
    );
    assert_eq!(t.inbox.store(other.clone()).await.unwrap(), Stored::Conflict);
    assert_eq!(t.inbox.store(first.clone()).await.unwrap(), Stored::Duplicate);

    let record = t.inbox.event(&id("c")).await.unwrap().unwrap();
    assert_eq!(record.body, first.body, "the first body stays the one processed");
    assert_eq!((record.conflicts, record.deliveries), (2, 2));
    let versions = t.inbox.conflicts(&id("c")).await.unwrap();
    assert_eq!(versions.len(), 2, "{versions:?}");
    assert_eq!(
        (versions[0].body.clone(), versions[0].deliveries),
        (changed.body.clone(), 2)
    );
    assert_eq!(versions[0].body_hash, BodyHash::of(&changed.body));
    assert_eq!(versions[0].received_at_ms, 2);
    assert_eq!(
        (versions[1].body.clone(), versions[1].deliveries),
        (other.body.clone(), 1)
    );
    assert!(t.inbox.conflicts(&id("nope")).await.unwrap().is_empty());

    t.inbox.store(event("quiet", 4)).await.unwrap();
    let with_conflicts = t.inbox.events(EventFilter::all().with_conflicts()).await.unwrap();
    assert_eq!(
        with_conflicts.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(),
        ["c"]
    );
    let stats = t.inbox.stats().await.unwrap();
    assert_eq!(
        (stats.conflicts, stats.duplicates, stats.pending),
        (2, 1, 2),
        "{stats:?}"
    );

    let claimed = t.inbox.claim(LONG, 10, false).await.unwrap();
    let c = claimed.iter().find(|c| c.event_id.as_str() == "c").unwrap();
    assert_eq!((c.body.clone(), c.conflicts), (first.body, 2));
}

async fn quarantined_events_wait_for_an_opt_in_or_a_replay(kind: Kind) {
    let t = open(&kind).await;
    let odd = event("q", 1).quarantined("`data.amount` is not a number");
    assert_eq!(t.inbox.store(odd.clone()).await.unwrap(), Stored::New);
    assert_eq!(
        t.inbox.store(odd).await.unwrap(),
        Stored::Duplicate,
        "deduplicated like any event"
    );
    t.inbox.store(event("p", 2)).await.unwrap();
    let record = t.inbox.event(&id("q")).await.unwrap().unwrap();
    assert_eq!(record.status, EventStatus::Quarantined);
    assert_eq!(
        record.quarantine_reason.as_deref(),
        Some("`data.amount` is not a number")
    );
    let stats = t.inbox.stats().await.unwrap();
    assert_eq!((stats.quarantined, stats.pending), (1, 1), "{stats:?}");
    let quarantined = t
        .inbox
        .events(EventFilter::all().status(EventStatus::Quarantined))
        .await
        .unwrap();
    assert_eq!(quarantined.len(), 1);

    let typed = t.inbox.claim(LONG, 10, false).await.unwrap();
    assert_eq!(
        typed.iter().map(|c| c.event_id.as_str()).collect::<Vec<_>>(),
        ["p"],
        "the typed worker never gets a quarantined event"
    );
    let opted_in = t.inbox.claim(LONG, 10, true).await.unwrap();
    assert_eq!(opted_in.len(), 1);
    assert_eq!(opted_in[0].event_id.as_str(), "q");
    assert_eq!(
        opted_in[0].quarantine_reason.as_deref(),
        Some("`data.amount` is not a number")
    );
    assert!(t.inbox.release(&id("q"), opted_in[0].token).await.unwrap());
    let back = t.inbox.event(&id("q")).await.unwrap().unwrap();
    assert_eq!(
        (back.status, back.attempts),
        (EventStatus::Quarantined, 0),
        "released as it was"
    );

    assert!(t.inbox.replay_event(&id("q")).await.unwrap());
    let replayed = t.inbox.event(&id("q")).await.unwrap().unwrap();
    assert_eq!(replayed.status, EventStatus::Pending);
    assert_eq!(
        replayed.quarantine_reason.as_deref(),
        Some("`data.amount` is not a number"),
        "the reason stays as history"
    );
}

async fn claims_lease_and_complete(kind: Kind) {
    let t = open(&kind).await;
    t.inbox.store(event("a", 10)).await.unwrap();
    t.inbox.store(event("b", 20)).await.unwrap();
    let lease = Duration::from_millis(300);
    let claimed = t.inbox.claim(lease, 10, false).await.unwrap();
    assert_eq!(
        claimed.iter().map(|c| c.event_id.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(claimed[0].attempt, 1);
    assert_ne!(claimed[0].token, claimed[1].token, "every claim has its own token");
    assert!(
        t.inbox.claim(lease, 10, false).await.unwrap().is_empty(),
        "claimed events are not handed out twice"
    );
    // a succeeds; b's worker dies: after the lease, b is claimed again.
    assert!(
        t.inbox
            .complete(&id("a"), claimed[0].token, Completion::Processed)
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let again = t.inbox.claim(LONG, 10, false).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].event_id.as_str(), again[0].attempt), ("b", 2));
    // The first worker wakes up late: its token is stale, so it changes nothing.
    let stale = claimed[1].token;
    assert!(!t.inbox.complete(&id("b"), stale, Completion::Processed).await.unwrap());
    assert!(!t.inbox.renew(&id("b"), stale, LONG).await.unwrap());
    assert!(!t.inbox.release(&id("b"), stale).await.unwrap());
    assert_eq!(
        t.inbox.event(&id("b")).await.unwrap().unwrap().status,
        EventStatus::Processing
    );
    // b fails, retried after a wait on the store's clock, then dead.
    let retry = Completion::Retry {
        error: "boom".into(),
        after: Duration::from_secs(3600),
    };
    assert!(t.inbox.complete(&id("b"), again[0].token, retry).await.unwrap());
    assert!(t.inbox.claim(LONG, 10, false).await.unwrap().is_empty(), "not due yet");
    assert_eq!(
        t.inbox.event(&id("b")).await.unwrap().unwrap().last_error.as_deref(),
        Some("boom")
    );
    assert!(t.inbox.replay_event(&id("b")).await.unwrap());
    let third = t.inbox.claim(LONG, 10, false).await.unwrap();
    assert_eq!((third.len(), third[0].attempt), (1, 1), "a replay resets the attempts");
    let soon = Completion::Retry {
        error: "boom".into(),
        after: Duration::ZERO,
    };
    assert!(t.inbox.complete(&id("b"), third[0].token, soon).await.unwrap());
    let fourth = t.inbox.claim(LONG, 10, false).await.unwrap();
    assert_eq!((fourth.len(), fourth[0].attempt), (1, 2), "due at once");
    let dead = Completion::Dead {
        error: "boom again".into(),
    };
    assert!(t.inbox.complete(&id("b"), fourth[0].token, dead).await.unwrap());
    let b = t.inbox.event(&id("b")).await.unwrap().unwrap();
    assert_eq!(
        (b.status, b.attempts, b.last_error.as_deref()),
        (EventStatus::Dead, 2, Some("boom again"))
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
            .unwrap()
            .to_string(),
        "b"
    );
    let b = t.inbox.event(&id("b")).await.unwrap().unwrap();
    assert_eq!((b.status, b.attempts), (EventStatus::Pending, 0));
    // So can a processed event.
    cxtn_receiver::replay(&*t.inbox, ReplayTarget::Event("a".into()))
        .await
        .unwrap();
    assert_eq!(
        t.inbox.event(&id("a")).await.unwrap().unwrap().status,
        EventStatus::Pending
    );
    let missing = cxtn_receiver::replay(&*t.inbox, ReplayTarget::Event("nope".into()))
        .await
        .unwrap_err();
    assert_eq!(missing.kind(), cxtn_receiver::ErrorKind::NotFound);
}

async fn a_renewed_lease_holds_and_a_released_event_is_due_again(kind: Kind) {
    let t = open(&kind).await;
    t.inbox.store(event("r", 1)).await.unwrap();
    let lease = Duration::from_millis(300);
    let claimed = t.inbox.claim(lease, 10, false).await.unwrap();
    assert_eq!(claimed.len(), 1);
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(t.inbox.renew(&id("r"), claimed[0].token, lease).await.unwrap());
    }
    assert!(
        t.inbox.claim(LONG, 10, false).await.unwrap().is_empty(),
        "a renewed lease is not taken over, 600 ms after a 300 ms lease began"
    );
    assert!(t.inbox.release(&id("r"), claimed[0].token).await.unwrap());
    let record = t.inbox.event(&id("r")).await.unwrap().unwrap();
    assert_eq!(
        (record.status, record.attempts),
        (EventStatus::Pending, 0),
        "the attempt is not counted"
    );
    let again = t.inbox.claim(LONG, 10, false).await.unwrap();
    assert_eq!((again.len(), again[0].attempt), (1, 1), "due at once");
    assert!(
        !t.inbox
            .complete(&id("r"), claimed[0].token, Completion::Processed)
            .await
            .unwrap(),
        "the released token is spent"
    );
    assert!(
        t.inbox
            .complete(&id("r"), again[0].token, Completion::Processed)
            .await
            .unwrap()
    );
}

async fn rejections_are_kept_once_and_replayable(kind: Kind) {
    let t = open(&kind).await;
    let bad = NewRejection::new(7, Bytes::from_static(b"{broken"), "not JSON", "syntax");
    let id_bad = t.inbox.reject(bad.clone()).await.unwrap();
    assert_eq!(
        t.inbox
            .reject(NewRejection::new(9, bad.body.clone(), "not JSON", "syntax"))
            .await
            .unwrap(),
        id_bad,
        "the same body again is the same rejection"
    );
    let stored = t.inbox.rejection(id_bad).await.unwrap().unwrap();
    assert_eq!(
        (
            stored.body.as_ref(),
            stored.reason.as_str(),
            stored.deliveries,
            stored.received_at_ms
        ),
        (&b"{broken"[..], "not JSON", 2, 7)
    );
    assert_eq!(stored.body_hash, BodyHash::of(b"{broken"));
    let still = cxtn_receiver::replay(&*t.inbox, ReplayTarget::Rejection(id_bad))
        .await
        .unwrap_err();
    assert_eq!(still.kind(), cxtn_receiver::ErrorKind::StillInvalid);

    // A body that parses now (say, after an upgrade) is stored as an event when replayed.
    let good = Bytes::from(cxtn_events::samples::GUIDE[3].body);
    let id_good = t
        .inbox
        .reject(NewRejection::new(8, good, "older parser", "missing_field"))
        .await
        .unwrap();
    let event_id = cxtn_receiver::replay(&*t.inbox, ReplayTarget::Rejection(id_good))
        .await
        .unwrap()
        .to_string();
    assert_eq!(event_id, "wh_c3f042548b624eb1a0ba9a57be8290f4");
    let record = t.inbox.event(&id(&event_id)).await.unwrap().unwrap();
    assert_eq!((record.status, record.received_at_ms), (EventStatus::Pending, 8));
    assert_eq!(record.subscription.as_deref(), Some("AccountTransaction"));
    let rejection = t.inbox.rejection(id_good).await.unwrap().unwrap();
    assert_eq!(
        rejection.replayed_as.as_ref().map(EventId::as_str),
        Some(event_id.as_str())
    );
    assert_eq!(t.inbox.rejections(10).await.unwrap().len(), 2);
    assert_eq!(t.inbox.stats().await.unwrap().rejected, 2);
}

every_inbox!(
    stores_once_per_event_id,
    a_changed_body_is_kept_as_a_conflict,
    quarantined_events_wait_for_an_opt_in_or_a_replay,
    claims_lease_and_complete,
    a_renewed_lease_holds_and_a_released_event_is_due_again,
    rejections_are_kept_once_and_replayable,
    prune_deletes_only_what_it_is_asked_to,
    pruned_ids_are_remembered_for_the_dedupe_window,
    stores_go_on_while_a_prune_deletes_in_batches
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
    assert!(first.event(&id("kept")).await.unwrap().is_some());
    assert_eq!(
        second.store(event("kept", 2)).await.unwrap(),
        Stored::Duplicate,
        "one row per id across handles"
    );
    assert_eq!(first.event(&id("kept")).await.unwrap().unwrap().deliveries, 2);
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
