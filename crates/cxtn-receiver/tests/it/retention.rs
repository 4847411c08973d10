//! Retention, for every inbox (run through `every_inbox!` in `inbox.rs`): what a prune deletes, what it keeps,
//! and that a pruned event's redelivery is still a duplicate.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use cxtn_receiver::inbox::{NewEvent, NewRejection};
use cxtn_receiver::{Completion, EventId, EventStatus, Inbox, PrunePolicy, Stored};
use futures_util::future::join_all;

use crate::{Kind, open};

const DAY: Duration = Duration::from_secs(24 * 60 * 60);
const DAY_MS: i64 = 24 * 60 * 60 * 1000;
const LONG: Duration = Duration::from_secs(600);

fn now_ms() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

fn event(id: &str, at: i64) -> NewEvent {
    let body = format!(r#"{{"eventId": "{id}", "event": "ping", "data": {{"n": 1}}}}"#);
    NewEvent::new(id, "ping", None, at, Bytes::from(body))
}

fn id(text: &str) -> EventId {
    EventId::new(text)
}

/// Claims every due event (quarantined ones too) and completes each as `complete` says; `None` leaves it
/// pending again.
async fn handle(inbox: &dyn Inbox, complete: impl Fn(&str) -> Option<Completion>) {
    let claimed = inbox.claim(LONG, 4096, true).await.unwrap();
    let done = claimed.iter().map(|c| {
        let outcome = complete(c.event_id.as_str());
        async move {
            match outcome {
                Some(completion) => assert!(inbox.complete(&c.event_id, c.token, completion).await.unwrap()),
                None => assert!(inbox.release(&c.event_id, c.token).await.unwrap()),
            }
        }
    });
    join_all(done).await;
}

pub async fn prune_deletes_only_what_it_is_asked_to(kind: Kind) {
    let t = open(&kind).await;
    let inbox = &*t.inbox;
    let (now, old) = (now_ms(), now_ms() - 40 * DAY_MS);
    for (name, at) in [
        ("old-done", old),
        ("new-done", now),
        ("old-dead", old),
        ("old-waiting", old),
        ("old-conflicted", old),
    ] {
        assert_eq!(inbox.store(event(name, at)).await.unwrap(), Stored::New);
    }
    let quarantined = event("old-odd", old).quarantined("`data` does not fit");
    assert_eq!(inbox.store(quarantined).await.unwrap(), Stored::New);
    let changed = NewEvent::new("old-conflicted", "ping", None, old, Bytes::from_static(b"{}"));
    assert_eq!(inbox.store(changed).await.unwrap(), Stored::Conflict);
    let rejection = NewRejection::new(old, Bytes::from_static(b"{nope"), "not JSON", "syntax");
    inbox.reject(rejection).await.unwrap();
    handle(inbox, |name| match name {
        "old-dead" => Some(Completion::Dead { error: "boom".into() }),
        "old-waiting" | "old-odd" => None,
        _ => Some(Completion::Processed),
    })
    .await;

    let month = PrunePolicy::default().processed_older_than(30 * DAY);
    let dry = inbox.prune(&month.clone().dry_run(true)).await.unwrap();
    assert_eq!(
        (dry.processed, dry.events(), dry.remembered, dry.dry_run),
        (1, 1, 1, true),
        "{dry:?}"
    );
    assert!(
        inbox.event(&id("old-done")).await.unwrap().is_some(),
        "a dry run deletes nothing"
    );

    let pruned = inbox.prune(&month).await.unwrap();
    assert_eq!(
        (pruned.events(), pruned.remembered, pruned.dry_run),
        (1, 1, false),
        "{pruned:?}"
    );
    assert!(inbox.event(&id("old-done")).await.unwrap().is_none());
    for kept in ["new-done", "old-dead", "old-waiting", "old-conflicted", "old-odd"] {
        assert!(inbox.event(&id(kept)).await.unwrap().is_some(), "{kept} is kept");
    }
    assert_eq!(
        inbox.rejections(10).await.unwrap().len(),
        1,
        "rejections are kept unless asked"
    );
    assert_eq!(
        inbox.store(event("old-done", now)).await.unwrap(),
        Stored::Duplicate,
        "a pruned event's redelivery is a duplicate"
    );
    let changed = NewEvent::new("old-done", "ping", None, now, Bytes::from_static(b"{}"));
    assert_eq!(
        inbox.store(changed).await.unwrap(),
        Stored::Duplicate,
        "whatever its body"
    );
    assert!(
        inbox.event(&id("old-done")).await.unwrap().is_none(),
        "and is not stored again"
    );
    assert!(
        inbox
            .claim(LONG, 10, false)
            .await
            .unwrap()
            .iter()
            .all(|c| c.event_id.as_str() == "old-waiting")
    );

    let everything = PrunePolicy::default()
        .processed_older_than(30 * DAY)
        .dead_older_than(30 * DAY)
        .quarantined_older_than(30 * DAY)
        .rejections_older_than(30 * DAY)
        .conflicts(true);
    let pruned = inbox.prune(&everything).await.unwrap();
    assert_eq!(
        (
            pruned.processed,
            pruned.dead,
            pruned.quarantined,
            pruned.conflicts,
            pruned.rejections
        ),
        (1, 1, 1, 1, 1),
        "{pruned:?}"
    );
    let stats = inbox.stats().await.unwrap();
    assert_eq!(
        (
            stats.processed,
            stats.dead,
            stats.quarantined,
            stats.conflicts,
            stats.rejected
        ),
        (1, 0, 0, 0, 0),
        "{stats:?}"
    );
    assert!(
        inbox.event(&id("old-waiting")).await.unwrap().is_some(),
        "a claimed or pending event is never pruned"
    );
    assert!(inbox.conflicts(&id("old-conflicted")).await.unwrap().is_empty());
    let again = inbox.prune(&everything).await.unwrap();
    assert_eq!(again.rows(), 0, "{again:?}");
}

pub async fn pruned_ids_are_remembered_for_the_dedupe_window(kind: Kind) {
    let t = open(&kind).await;
    let inbox = &*t.inbox;
    let now = now_ms();
    inbox.store(event("recent", now - 40 * DAY_MS)).await.unwrap();
    inbox.store(event("ancient", now - 100 * DAY_MS)).await.unwrap();
    handle(inbox, |_| Some(Completion::Processed)).await;

    let policy = PrunePolicy::default().processed_older_than(30 * DAY);
    let pruned = inbox.prune(&policy).await.unwrap();
    assert_eq!(
        (pruned.processed, pruned.remembered),
        (2, 1),
        "an event that arrived before the 90-day window is not remembered: {pruned:?}"
    );
    assert_eq!(inbox.store(event("ancient", now)).await.unwrap(), Stored::New);
    assert_eq!(inbox.store(event("recent", now)).await.unwrap(), Stored::Duplicate);

    let shorter = policy.dedupe_window(35 * DAY);
    let dry = inbox.prune(&shorter.clone().dry_run(true)).await.unwrap();
    assert_eq!(dry.forgotten, 1, "{dry:?}");
    assert_eq!(inbox.store(event("recent", now)).await.unwrap(), Stored::Duplicate);
    let forgot = inbox.prune(&shorter).await.unwrap();
    assert_eq!((forgot.forgotten, forgot.events()), (1, 0), "{forgot:?}");
    assert_eq!(
        inbox.store(event("recent", now)).await.unwrap(),
        Stored::New,
        "past the window, the id is new again"
    );
}

pub async fn stores_go_on_while_a_prune_deletes_in_batches(kind: Kind) {
    const OLD: usize = 3000;
    const NEW: usize = 300;
    let t = open(&kind).await;
    let inbox = &*t.inbox;
    let old = now_ms() - 40 * DAY_MS;
    let stored = join_all((0..OLD).map(|i| inbox.store(event(&format!("old-{i}"), old + i as i64)))).await;
    assert!(stored.into_iter().all(|s| s.unwrap() == Stored::New));
    handle(inbox, |_| Some(Completion::Processed)).await;
    assert_eq!(inbox.stats().await.unwrap().processed, OLD as u64);

    let policy = PrunePolicy::default().processed_older_than(30 * DAY).batch(250);
    let new = async {
        let mut answers = Vec::new();
        for i in 0..NEW {
            answers.push(inbox.store(event(&format!("new-{i}"), now_ms())).await.unwrap());
        }
        answers
    };
    let (pruned, answers) = tokio::join!(inbox.prune(&policy), new);
    let pruned = pruned.unwrap();
    assert_eq!(
        (pruned.processed, pruned.remembered),
        (OLD as u64, OLD as u64),
        "{pruned:?}"
    );
    assert!(answers.iter().all(|a| *a == Stored::New));
    let stats = inbox.stats().await.unwrap();
    assert_eq!((stats.processed, stats.pending), (0, NEW as u64), "{stats:?}");
    let redelivered = join_all(
        (0..OLD)
            .step_by(97)
            .map(|i| inbox.store(event(&format!("old-{i}"), now_ms()))),
    )
    .await;
    assert!(redelivered.into_iter().all(|s| s.unwrap() == Stored::Duplicate));
    assert_eq!(
        EventStatus::Pending,
        inbox.event(&id("new-0")).await.unwrap().unwrap().status
    );
}

#[tokio::test]
async fn a_receiver_with_a_retention_policy_prunes_while_it_serves() {
    let t = open(&Kind::Sqlite).await;
    let inbox = t.inbox.clone();
    inbox.store(event("old", now_ms() - 40 * DAY_MS)).await.unwrap();
    inbox.store(event("fresh", now_ms())).await.unwrap();
    handle(&*inbox, |_| Some(Completion::Processed)).await;
    let receiver = cxtn_receiver::Receiver::builder(inbox.clone())
        .path_token(crate::TOKEN)
        .retention(
            PrunePolicy::default().processed_older_than(30 * DAY),
            Duration::from_secs(3600),
        )
        .build()
        .unwrap();
    let running = receiver.bind("127.0.0.1:0").await.unwrap();
    let mut waited = Duration::ZERO;
    while !receiver.metrics().render().contains("cxtn_inbox_pruned_rows_total 1") {
        assert!(
            waited < Duration::from_secs(10),
            "the policy runs when the receiver starts: {}",
            receiver.metrics().render()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += Duration::from_millis(20);
    }
    assert!(inbox.event(&id("old")).await.unwrap().is_none());
    assert!(inbox.event(&id("fresh")).await.unwrap().is_some());
    running.shutdown().await;
    assert_eq!(inbox.store(event("old", now_ms())).await.unwrap(), Stored::Duplicate);
}
