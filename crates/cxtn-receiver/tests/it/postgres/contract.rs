//! The PostgreSQL inbox's own side of the contract: conflicting bodies stored by many handles at once,
//! rejections kept once per body, fencing across handles, the database's clock, transactional handlers and
//! the idempotency helper.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use cxtn_receiver::inbox::postgres::PostgresHandler;
use cxtn_receiver::inbox::{NewEvent, NewRejection};
use cxtn_receiver::{
    BodyHash, ClaimToken, Completion, Event, EventFilter, EventId, EventStatus, HandlerError, Inbox, InboxErrorKind,
    PostgresInbox, Stored, Transacted, idempotency,
};

use super::{Schema, body};

fn id(text: &str) -> EventId {
    EventId::new(text)
}

/// `id`'s delivery with an amount of its own: bodies with different amounts are different bodies.
fn version(id: &str, amount: u32) -> NewEvent {
    let body = format!(
        r#"{{"eventId": "{id}", "event": "payment_completed", "data": {{"objectId": 7, "userId": "C1", "amount": {amount}.00, "currency": "GBP"}}}}"#
    );
    NewEvent::new(
        id,
        "payment_completed",
        Some("Payment".into()),
        i64::from(amount),
        Bytes::from(body),
    )
}

/// The database's clock, in milliseconds since the Unix epoch.
async fn database_now_ms(schema: &Schema) -> i64 {
    schema
        .numbers("SELECT (extract(epoch FROM clock_timestamp()) * 1000)::int8")
        .await[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_with_changed_bodies_at_many_handles_keep_each_version_once() {
    let schema = Schema::fresh();
    let handles = [
        Arc::new(schema.inbox().await),
        Arc::new(schema.inbox().await),
        Arc::new(schema.builder().max_batch(1).connect().await.unwrap()),
    ];
    // 5 event ids; each gets 4 copies of 3 bodies from 3 handles at once, in groups and one by one.
    let mut tasks = Vec::new();
    for event in 0..5 {
        for copy in 0..4 {
            for amount in [10, 20, 30] {
                let inbox = handles[(copy + amount as usize) % handles.len()].clone();
                let new = version(&format!("e{event}"), amount);
                tasks.push(tokio::spawn(async move {
                    (new.event_id.clone(), new.body_hash, inbox.store(new).await.unwrap())
                }));
            }
        }
    }
    let mut answers: HashMap<EventId, Vec<(BodyHash, Stored)>> = HashMap::new();
    for task in tasks {
        let (event_id, hash, stored) = task.await.unwrap();
        answers.entry(event_id).or_default().push((hash, stored));
    }
    let inbox = &handles[0];
    for (event_id, answers) in &answers {
        let record = inbox.event(event_id).await.unwrap().unwrap();
        let versions = inbox.conflicts(event_id).await.unwrap();
        // Exactly one copy is new; the body it carried is the one stored and processed.
        let new: Vec<BodyHash> = answers
            .iter()
            .filter(|(_, s)| *s == Stored::New)
            .map(|(h, _)| *h)
            .collect();
        assert_eq!(new, [record.body_hash], "{event_id}");
        assert_eq!(record.body_hash, BodyHash::of(&record.body));
        // Copies of the stored body are duplicates; copies of the two others are conflicts, kept once each.
        for (hash, stored) in answers {
            let expected = if *hash == record.body_hash {
                [Stored::New, Stored::Duplicate].as_slice()
            } else {
                [Stored::Conflict].as_slice()
            };
            assert!(expected.contains(stored), "{event_id}: {stored:?}");
        }
        assert_eq!(
            (record.deliveries, record.conflicts, versions.len()),
            (4, 2, 2),
            "{event_id}"
        );
        for conflict in &versions {
            assert_eq!(conflict.deliveries, 4);
            assert_ne!(conflict.body_hash, record.body_hash);
            assert_eq!(conflict.body_hash, BodyHash::of(&conflict.body));
            assert_eq!(&conflict.event_id, event_id);
        }
    }
    let stats = inbox.stats().await.unwrap();
    assert_eq!(
        (stats.pending, stats.duplicates, stats.conflicts),
        (5, 15, 10),
        "{stats:?}"
    );
    assert_eq!(schema.numbers("SELECT COUNT(*) FROM {schema}.conflicts").await, [10]);
    let listed = inbox.events(EventFilter::all().with_conflicts()).await.unwrap();
    assert_eq!(listed.len(), 5);
}

#[tokio::test]
async fn a_stored_body_behind_a_conflicting_one_in_a_group_counts_as_a_redelivery() {
    let schema = Schema::fresh();
    let inbox = schema.inbox().await;
    assert_eq!(inbox.store(version("e", 10)).await.unwrap(), Stored::New);
    // Whatever groups they land in, the changed body is a conflict and the stored one a duplicate.
    let (changed, same) = tokio::join!(inbox.store(version("e", 20)), inbox.store(version("e", 10)));
    assert_eq!((changed.unwrap(), same.unwrap()), (Stored::Conflict, Stored::Duplicate));
    let record = inbox.event(&id("e")).await.unwrap().unwrap();
    assert_eq!((record.deliveries, record.conflicts), (2, 1));
    assert_eq!(record.body, version("e", 10).body, "the first body stays");
    let versions = inbox.conflicts(&id("e")).await.unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(
        (
            versions[0].body.clone(),
            versions[0].deliveries,
            versions[0].received_at_ms
        ),
        (version("e", 20).body, 1, 20)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_bad_body_sent_again_and_again_is_one_rejection() {
    let schema = Schema::fresh();
    let (a, b) = (Arc::new(schema.inbox().await), Arc::new(schema.inbox().await));
    let mut tasks = Vec::new();
    for i in 0..20 {
        let inbox = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            inbox
                .reject(NewRejection::new(
                    i,
                    Bytes::from_static(b"{not json"),
                    "not JSON: \0",
                    "syntax",
                ))
                .await
                .unwrap()
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every copy answered with the one rejection's id: {ids:?}");
    let other = a
        .reject(NewRejection::new(
            99,
            Bytes::from_static(b"[]"),
            "not an object",
            "shape",
        ))
        .await
        .unwrap();
    assert_ne!(other, ids[0]);
    let kept = a.rejection(ids[0]).await.unwrap().unwrap();
    assert_eq!((kept.deliveries, kept.body_hash), (20, BodyHash::of(b"{not json")));
    assert_eq!(
        kept.reason, "not JSON: \u{fffd}",
        "a NUL in a reason is replaced, not refused"
    );
    assert_eq!(a.stats().await.unwrap().rejected, 2);
    assert_eq!(schema.numbers("SELECT COUNT(*) FROM {schema}.rejections").await, [2]);
}

#[tokio::test]
async fn a_lost_lease_changes_nothing_from_any_handle() {
    let schema = Schema::fresh();
    let (a, b) = (schema.inbox().await, schema.inbox().await);
    a.store(version("e", 10)).await.unwrap();
    let old = a.claim(Duration::from_millis(100), 10, false).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let new = b.claim(Duration::from_secs(60), 10, false).await.unwrap();
    assert_eq!(new.len(), 1);
    let row = "SELECT claim_token FROM {schema}.events WHERE event_id = 'e'";
    assert_eq!(schema.numbers(row).await, [new[0].token.as_i64()]);
    let until = "SELECT claimed_until_ms FROM {schema}.events WHERE event_id = 'e'";
    let held_until = schema.numbers(until).await;

    for handle in [&a, &b] {
        let token = old[0].token;
        assert!(!handle.renew(&id("e"), token, Duration::from_secs(3600)).await.unwrap());
        assert!(!handle.release(&id("e"), token).await.unwrap());
        assert!(!handle.complete(&id("e"), token, Completion::Processed).await.unwrap());
        assert!(
            !handle
                .complete(&id("e"), ClaimToken::random(), Completion::Dead { error: "no".into() })
                .await
                .unwrap()
        );
    }
    let record = a.event(&id("e")).await.unwrap().unwrap();
    assert_eq!(
        (record.status, record.attempts, record.last_error),
        (EventStatus::Processing, 2, None)
    );
    assert_eq!(
        schema.numbers(row).await,
        [new[0].token.as_i64()],
        "the newer claim's token stays"
    );
    assert_eq!(schema.numbers(until).await, held_until, "the newer claim's lease stays");
    // The newer claim's own token still works, from the other handle too.
    assert!(a.renew(&id("e"), new[0].token, Duration::from_secs(60)).await.unwrap());
    assert!(a.complete(&id("e"), new[0].token, Completion::Processed).await.unwrap());
    assert_eq!(
        schema
            .numbers("SELECT COUNT(*) FROM {schema}.events WHERE claim_token IS NULL")
            .await,
        [1],
        "a completion clears the token"
    );
}

#[tokio::test]
async fn leases_and_due_times_are_on_the_database_clock() {
    let schema = Schema::fresh();
    let inbox = schema.inbox().await;
    // The receiver's times say when an event arrived, never when it is due: a receiver whose clock runs a
    // day ahead or behind the database's does not delay its events.
    let day = 24 * 3600 * 1000;
    let now = database_now_ms(&schema).await;
    let ahead = NewEvent::new("ahead", "ping", None, now + day, Bytes::from(body("ahead")));
    let behind = NewEvent::new("behind", "ping", None, now - day, Bytes::from(body("behind")));
    inbox.store(ahead).await.unwrap();
    inbox.store(behind).await.unwrap();
    let lease = Duration::from_secs(30);
    let before = database_now_ms(&schema).await;
    let claimed = inbox.claim(lease, 10, false).await.unwrap();
    let after = database_now_ms(&schema).await;
    assert_eq!(
        claimed.iter().map(|c| c.event_id.as_str()).collect::<Vec<_>>(),
        ["behind", "ahead"],
        "both due at once, oldest first"
    );
    for until in schema
        .numbers("SELECT claimed_until_ms FROM {schema}.events ORDER BY received_at_ms")
        .await
    {
        assert!(
            (before + 30_000..=after + 30_000).contains(&until),
            "{before} {until} {after}"
        );
    }
    // A retry's wait starts from the database's now.
    let hour = Duration::from_secs(3600);
    let retry = Completion::Retry {
        error: "later".into(),
        after: hour,
    };
    let before = database_now_ms(&schema).await;
    assert!(inbox.complete(&id("ahead"), claimed[1].token, retry).await.unwrap());
    let after = database_now_ms(&schema).await;
    let next = inbox.event(&id("ahead")).await.unwrap().unwrap().next_attempt_at_ms;
    assert!(
        (before + 3_600_000..=after + 3_600_000).contains(&next),
        "{before} {next} {after}"
    );
    assert!(inbox.claim(lease, 10, false).await.unwrap().is_empty());
    // Moving the due time to the database's past makes it due; to its near future, not.
    let set = |offset_ms: i64| {
        format!(
            "UPDATE {{schema}}.events SET next_attempt_at_ms = (extract(epoch FROM clock_timestamp()) * 1000)::int8 + {offset_ms}
             WHERE event_id = 'ahead' RETURNING 1::int8"
        )
    };
    schema.numbers(&set(60_000)).await;
    assert!(inbox.claim(lease, 10, false).await.unwrap().is_empty());
    schema.numbers(&set(-1)).await;
    assert_eq!(inbox.claim(lease, 10, false).await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_event_id_postgres_cannot_hold_is_refused_for_the_receiver_to_reject() {
    let schema = Schema::fresh();
    let inbox = schema.inbox().await;
    for (event_id, name, subscription, what) in [
        ("wh_\0", "payment_completed", None, "id"),
        ("wh_1", "payment\0completed", None, "name"),
        (
            "wh_2",
            "payment_completed",
            Some("Pay\0ment".to_owned()),
            "subscription",
        ),
    ] {
        let e = inbox
            .store(NewEvent::new(
                event_id,
                name,
                subscription,
                1,
                Bytes::from_static(b"{}"),
            ))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), InboxErrorKind::Refused, "{e}");
        assert!(e.to_string().contains(&format!("{what} holds a NUL character")), "{e}");
    }
    assert_eq!(schema.numbers("SELECT COUNT(*) FROM {schema}.events").await, [0]);
    // Reading such an id finds nothing rather than failing.
    assert!(inbox.event(&id("wh_\0")).await.unwrap().is_none());
    assert!(inbox.conflicts(&id("wh_\0")).await.unwrap().is_empty());
    assert!(!inbox.replay_event(&id("wh_\0")).await.unwrap());
}

/// A transactional handler that adds the event's amount to a ledger table, and can fail in several ways.
#[derive(Debug)]
struct Ledger {
    table: String,
    calls: AtomicUsize,
    outcome: Outcome,
    /// Waits this long after its write, before returning.
    linger: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    Succeed,
    Fail,
    Panic,
    /// Runs a statement that fails, ignores the error and returns `Ok`.
    SwallowError,
}

impl Ledger {
    fn new(schema: &Schema, outcome: Outcome) -> Self {
        Self {
            table: format!("\"{}\".ledger", schema.name),
            calls: AtomicUsize::new(0),
            outcome,
            linger: Duration::ZERO,
        }
    }
}

#[cxtn_receiver::async_trait]
impl PostgresHandler for Ledger {
    async fn handle(&self, event: &Event, txn: &tokio_postgres::Transaction<'_>) -> Result<(), HandlerError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let amount = event
            .notification
            .amount()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default();
        txn.execute(
            &format!(
                "INSERT INTO {} (event_id, amount) VALUES ($1, $2::text::numeric)",
                self.table
            ),
            &[&event.notification.event_id().as_str(), &amount],
        )
        .await?;
        tokio::time::sleep(self.linger).await;
        match self.outcome {
            Outcome::Succeed => Ok(()),
            Outcome::Fail => Err("the ledger said no".into()),
            Outcome::Panic => panic!("the ledger fell over"),
            Outcome::SwallowError => {
                let _ = txn.execute("SELECT 1 / 0", &[]).await;
                Ok(())
            }
        }
    }
}

/// An inbox with a ledger table beside it, and `id` stored and claimed.
async fn claimed_with_ledger(schema: &Schema, event_id: &str, lease: Duration) -> (PostgresInbox, Event, ClaimToken) {
    let inbox = schema.inbox().await;
    schema
        .client()
        .await
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS \"{}\".ledger (event_id TEXT NOT NULL, amount NUMERIC NOT NULL)",
            schema.name
        ))
        .await
        .unwrap();
    inbox
        .store(NewEvent::new(
            event_id,
            "payment_completed",
            None,
            1,
            Bytes::from(body(event_id)),
        ))
        .await
        .unwrap();
    let claimed = inbox.claim(lease, 1, false).await.unwrap();
    let event = Event::new(cxtn_events::parse(&claimed[0].body).unwrap());
    (inbox, event, claimed[0].token)
}

async fn ledger_rows(schema: &Schema) -> i64 {
    schema.numbers("SELECT COUNT(*) FROM {schema}.ledger").await[0]
}

#[tokio::test]
async fn a_transactional_handler_commits_its_writes_with_the_processed_mark() {
    let schema = Schema::fresh();
    let (inbox, event, token) = claimed_with_ledger(&schema, "wh_t1", Duration::from_secs(60)).await;
    let ledger = Arc::new(Ledger::new(&schema, Outcome::Succeed));
    let outcome = inbox
        .process_in_transaction(event.clone(), token, ledger.clone())
        .await
        .unwrap();
    assert_eq!(outcome, Transacted::Processed);
    assert_eq!(ledger_rows(&schema).await, 1);
    let record = inbox.event(&id("wh_t1")).await.unwrap().unwrap();
    assert_eq!((record.status, record.last_error), (EventStatus::Processed, None));
    assert_eq!(
        schema.numbers("SELECT SUM(amount)::int8 FROM {schema}.ledger").await,
        [10]
    );
    // The same claim again: the event is processed, so nothing is applied twice.
    let again = inbox
        .process_in_transaction(event, token, ledger.clone())
        .await
        .unwrap();
    assert_eq!(again, Transacted::LeaseLost);
    assert_eq!(
        (ledger_rows(&schema).await, ledger.calls.load(Ordering::SeqCst)),
        (1, 1)
    );
}

#[tokio::test]
async fn a_failing_handler_rolls_its_writes_back_and_leaves_the_claim_to_complete() {
    for outcome in [Outcome::Fail, Outcome::Panic, Outcome::SwallowError] {
        let schema = Schema::fresh();
        let (inbox, event, token) = claimed_with_ledger(&schema, "wh_t2", Duration::from_secs(60)).await;
        let ledger = Arc::new(Ledger::new(&schema, outcome));
        let transacted = inbox.process_in_transaction(event, token, ledger).await.unwrap();
        let Transacted::Failed { error } = transacted else {
            panic!("{outcome:?}: {transacted:?}")
        };
        match outcome {
            Outcome::Fail => assert_eq!(error, "the ledger said no"),
            Outcome::Panic => assert!(error.contains("panicked"), "{error}"),
            _ => assert!(error.contains("aborted"), "{error}"),
        }
        assert_eq!(ledger_rows(&schema).await, 0, "{outcome:?}: rolled back");
        let record = inbox.event(&id("wh_t2")).await.unwrap().unwrap();
        assert_eq!(record.status, EventStatus::Processing, "{outcome:?}");
        // The worker still holds the lease, and records the failure as usual.
        let retry = Completion::Retry {
            error,
            after: Duration::ZERO,
        };
        assert!(inbox.complete(&id("wh_t2"), token, retry).await.unwrap(), "{outcome:?}");
        assert_eq!(
            inbox.event(&id("wh_t2")).await.unwrap().unwrap().status,
            EventStatus::Pending
        );
    }
}

#[tokio::test]
async fn a_worker_that_lost_its_lease_commits_nothing() {
    let schema = Schema::fresh();
    let lease = Duration::from_millis(100);
    let (inbox, event, token) = claimed_with_ledger(&schema, "wh_t3", lease).await;
    let other = schema.inbox().await;

    // Lost before it starts: the handler is not called.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let taken = other.claim(lease, 1, false).await.unwrap();
    assert_eq!(taken.len(), 1);
    let ledger = Arc::new(Ledger::new(&schema, Outcome::Succeed));
    let late = inbox
        .process_in_transaction(event.clone(), token, ledger.clone())
        .await
        .unwrap();
    assert_eq!((late, ledger.calls.load(Ordering::SeqCst)), (Transacted::LeaseLost, 0));

    // Lost while the handler runs: its write is rolled back, and the newer claim commits its own.
    let mut slow = Ledger::new(&schema, Outcome::Succeed);
    slow.linger = Duration::from_millis(400);
    let slow = Arc::new(slow);
    let running = tokio::spawn({
        let (other, event, slow) = (other.clone(), event.clone(), slow.clone());
        let token = taken[0].token;
        async move { other.process_in_transaction(event, token, slow).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let third = inbox.claim(Duration::from_secs(60), 1, false).await.unwrap();
    assert_eq!(
        (third.len(), third[0].attempt),
        (1, 3),
        "the lease ran out under the slow handler"
    );
    assert_eq!(running.await.unwrap().unwrap(), Transacted::LeaseLost);
    assert_eq!((slow.calls.load(Ordering::SeqCst), ledger_rows(&schema).await), (1, 0));
    let won = inbox
        .process_in_transaction(event, third[0].token, ledger)
        .await
        .unwrap();
    assert_eq!(won, Transacted::Processed);
    assert_eq!(ledger_rows(&schema).await, 1, "applied once");
    let record = inbox.event(&id("wh_t3")).await.unwrap().unwrap();
    assert_eq!((record.status, record.attempts), (EventStatus::Processed, 3));
}

/// A connection whose `search_path` is the schema's: the helper's table lands there.
async fn ledger_client(schema: &Schema) -> tokio_postgres::Client {
    let client = schema.client().await;
    client
        .batch_execute(&format!(
            "CREATE SCHEMA IF NOT EXISTS \"{0}\"; SET search_path TO \"{0}\"",
            schema.name
        ))
        .await
        .unwrap();
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_idempotency_helper_claims_an_event_once() {
    let schema = Schema::fresh();
    let mut client = ledger_client(&schema).await;
    idempotency::migrate(&client).await.unwrap();
    idempotency::migrate(&client).await.unwrap();
    let event_id = id("wh_once");

    // Claimed in a transaction that rolls back: not recorded.
    let txn = client.transaction().await.unwrap();
    assert!(idempotency::claim(&txn, &event_id).await.unwrap());
    txn.rollback().await.unwrap();
    // The first commit records it; any later transaction sees it applied.
    let txn = client.transaction().await.unwrap();
    assert!(idempotency::claim(&txn, &event_id).await.unwrap(), "first time: apply");
    txn.commit().await.unwrap();
    let txn = client.transaction().await.unwrap();
    assert!(
        !idempotency::claim(&txn, &event_id).await.unwrap(),
        "already applied: skip"
    );
    txn.commit().await.unwrap();
    assert_eq!(
        schema
            .numbers("SELECT COUNT(*) FROM {schema}.cxtn_processed_events")
            .await,
        [1]
    );

    // Two workers at once: the second waits for the first's outcome and then skips.
    let mut other = ledger_client(&schema).await;
    let racing = id("wh_race");
    let first = client.transaction().await.unwrap();
    assert!(idempotency::claim(&first, &racing).await.unwrap());
    let second = tokio::spawn(async move {
        let txn = other.transaction().await.unwrap();
        let claimed = idempotency::claim(&txn, &racing).await.unwrap();
        txn.commit().await.unwrap();
        claimed
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !second.is_finished(),
        "the second claim waits for the first transaction"
    );
    first.commit().await.unwrap();
    assert!(!second.await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_whose_id_postgres_cannot_hold_is_answered_as_a_rejection() {
    let schema = Schema::fresh();
    let inbox = Arc::new(schema.inbox().await);
    let running = cxtn_receiver::Receiver::builder(inbox.clone())
        .path_token(crate::TOKEN)
        .build()
        .unwrap()
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let nul = body("wh_nul\\u0000inside");
    for _ in 0..3 {
        let (status, answer) = crate::post(running.addr(), nul.clone()).await;
        assert_eq!(status, 400, "not 503, which the sender would retry forever: {answer}");
    }
    let rejections = inbox.rejections(10).await.unwrap();
    assert_eq!(rejections.len(), 1, "kept once");
    assert_eq!(
        (rejections[0].body.clone(), rejections[0].deliveries),
        (Bytes::from(nul), 3)
    );
    assert!(rejections[0].reason.contains("NUL"), "{}", rejections[0].reason);
    assert_eq!(super::count_rows(&*inbox).await, 0);
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivery_racing_the_prune_of_its_own_event_is_never_stored_again() {
    let schema = Schema::fresh();
    let inbox = schema.inbox().await;
    assert_eq!(inbox.store(version("e", 10)).await.unwrap(), Stored::New);
    // A prune of `e` holds its transaction open, its id remembered and its row deleted but not yet committed.
    let mut pruner = schema.client().await;
    let txn = pruner.transaction().await.unwrap();
    let quoted = format!("\"{}\"", schema.name);
    txn.batch_execute(&format!(
        "INSERT INTO {quoted}.pruned (event_id, received_at_ms, pruned_at_ms) VALUES ('e', 10, 10);
         DELETE FROM {quoted}.events WHERE event_id = 'e';"
    ))
    .await
    .unwrap();
    // The redelivery's statement starts now: it cannot see the uncommitted id, and waits for the deleted row.
    let racing = {
        let inbox = inbox.clone();
        tokio::spawn(async move { inbox.store(version("e", 10)).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    txn.commit().await.unwrap();
    let outcome = racing.await.unwrap();
    assert!(
        !matches!(outcome, Ok(Stored::New)),
        "the redelivery must not be stored as new: {outcome:?}"
    );
    if let Err(e) = &outcome {
        assert_eq!(e.kind(), InboxErrorKind::Refused, "{e}");
    }
    assert!(inbox.event(&id("e")).await.unwrap().is_none());
    assert_eq!(
        inbox.store(version("e", 10)).await.unwrap(),
        Stored::Duplicate,
        "and the next redelivery is a plain duplicate"
    );
}
