//! The `testing` module reports what a receiver and its worker do with a body, handler outcome by handler outcome.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cxtn_model::EventKind;
use cxtn_receiver::testing::{self, Cause, Harness, Outcome};
use cxtn_receiver::{Event, Handler, HandlerError, QuarantinedEvent, WorkerPolicy, async_trait, handler_fn};

const PAYMENT: &str = cxtn_events::samples::GUIDE[1].body;

fn failing(message: &'static str) -> impl Handler {
    handler_fn(move |_: Event| async move { Err::<(), HandlerError>(message.into()) })
}

#[tokio::test]
async fn a_handler_that_succeeds_is_processed_and_sees_the_body_as_sent() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let handler = handler_fn(move |event: Event| {
        let log = log.clone();
        async move {
            log.lock().unwrap().push((event.attempt, event.body.clone()));
            Ok::<(), HandlerError>(())
        }
    });
    assert_eq!(testing::run(handler, PAYMENT).await.unwrap(), Outcome::Processed);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, 1);
    assert_eq!(seen[0].1, PAYMENT.as_bytes());
}

#[tokio::test]
async fn an_error_is_retried_with_backoff_then_dead_lettered_on_the_last_attempt() {
    let policy = WorkerPolicy::default()
        .max_attempts(4)
        .backoff(Duration::from_secs(10), Duration::from_secs(60));
    let harness = Harness::new(failing("the ledger is down")).policy(policy);
    let first = harness.run(PAYMENT).await.unwrap();
    let Outcome::Retry { error, cause, after } = &first else {
        panic!("expected a retry: {first:?}")
    };
    assert_eq!(error, "the ledger is down");
    assert_eq!(cause, &Cause::Returned);
    assert!(
        (Duration::from_secs(5)..=Duration::from_secs(10)).contains(after),
        "{after:?}"
    );

    let third = harness.clone().attempt(3).run(PAYMENT).await.unwrap();
    let Outcome::Retry { after, .. } = third else {
        panic!("expected a retry: {third:?}")
    };
    assert!(
        (Duration::from_secs(20)..=Duration::from_secs(40)).contains(&after),
        "{after:?}"
    );

    let last = harness.attempt(4).run(PAYMENT).await.unwrap();
    assert_eq!(
        last,
        Outcome::Dead {
            error: "the ledger is down".to_owned(),
            cause: Cause::Returned
        }
    );
}

#[tokio::test]
async fn a_panic_is_a_failed_attempt_with_its_message() {
    let handler = handler_fn(|event: Event| async move {
        if event.notification.amount().is_some() {
            panic!("amounts are not handled yet");
        }
        Ok::<(), HandlerError>(())
    });
    let outcome = testing::run(handler, PAYMENT).await.unwrap();
    assert_eq!(outcome.error(), Some("the handler panicked"));
    assert_eq!(
        outcome.cause(),
        Some(&Cause::Panicked("amounts are not handled yet".to_owned()))
    );
    assert!(matches!(outcome, Outcome::Retry { .. }));
}

#[tokio::test]
async fn a_handler_past_its_time_limit_has_timed_out() {
    let handler = handler_fn(|_: Event| async {
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok::<(), HandlerError>(())
    });
    let policy = WorkerPolicy::default().handler_timeout(Duration::from_millis(50));
    let outcome = Harness::new(handler).policy(policy).run(PAYMENT).await.unwrap();
    assert_eq!(outcome.cause(), Some(&Cause::TimedOut));
    assert_eq!(
        outcome.error(),
        Some("the handler did not finish within its time limit of 50 ms")
    );
}

#[tokio::test]
async fn a_body_without_an_envelope_is_refused_and_the_handler_never_runs() {
    let outcome = testing::run(failing("never called"), "not json").await.unwrap();
    let Outcome::Refused { status, message } = outcome else {
        panic!("expected a refusal: {outcome:?}")
    };
    assert_eq!(status, 400);
    assert!(!message.is_empty());

    let huge = format!(
        r#"{{"eventId": "wh_1", "event": "x", "data": "{}"}}"#,
        "a".repeat(2 * 1024 * 1024)
    );
    let outcome = testing::run(failing("never called"), huge).await.unwrap();
    assert!(matches!(outcome, Outcome::Refused { status: 413, .. }), "{outcome:?}");
}

#[derive(Debug)]
struct TakesQuarantined;

#[async_trait]
impl Handler for TakesQuarantined {
    async fn handle(&self, _: &Event) -> Result<(), HandlerError> {
        Err("not expected".into())
    }

    async fn handle_quarantined(&self, event: &QuarantinedEvent) -> Result<(), HandlerError> {
        assert_eq!(event.event, "payment_completed");
        Ok(())
    }
}

#[tokio::test]
async fn data_that_does_not_fit_is_quarantined_unless_the_policy_hands_it_over() {
    let body = r#"{"eventId": "wh_q", "event": "payment_completed", "data": {"objectId": "not a number"}}"#;
    let outcome = testing::run(TakesQuarantined, body).await.unwrap();
    let Outcome::Quarantined { reason } = outcome else {
        panic!("expected quarantine: {outcome:?}")
    };
    assert!(reason.contains("objectId"), "{reason}");

    let harness = Harness::new(TakesQuarantined).policy(WorkerPolicy::default().quarantined(true));
    assert_eq!(harness.run(body).await.unwrap(), Outcome::Processed);
}

#[tokio::test]
async fn a_shared_handler_can_be_inspected_after_the_run() {
    #[derive(Debug, Default)]
    struct Count(Mutex<u32>);

    #[async_trait]
    impl Handler for Count {
        async fn handle(&self, _: &Event) -> Result<(), HandlerError> {
            *self.0.lock().unwrap() += 1;
            Ok(())
        }
    }

    let count = Arc::new(Count::default());
    let harness = Harness::shared(count.clone());
    for event in testing::samples() {
        assert!(harness.run(event.body).await.unwrap().is_processed());
    }
    assert_eq!(*count.0.lock().unwrap(), 7);
}

#[test]
fn fixtures_come_from_the_guide_or_any_body() {
    let event = testing::sample(EventKind::AccountDebit);
    assert_eq!(event.notification.event_name(), "account_debit");
    assert_eq!((event.attempt, event.conflicts), (1, 0));
    assert_eq!(event.body, cxtn_events::samples::GUIDE[4].body.as_bytes());

    let err = testing::event("{").unwrap_err();
    assert!(!err.to_string().is_empty());
}

#[test]
fn the_testing_types_are_send_and_sync() {
    fn assert<T: Send + Sync>() {}
    assert::<Harness>();
    assert::<Outcome>();
    assert::<Cause>();
}

#[derive(Debug)]
struct SqliteLedger {
    fail: bool,
}

impl cxtn_receiver::SqliteHandler for SqliteLedger {
    fn handle(&self, event: &Event, txn: &cxtn_receiver::rusqlite::Transaction<'_>) -> Result<(), HandlerError> {
        txn.execute(
            "INSERT INTO ledger (event_id) VALUES (?1)",
            [event.notification.event_id().as_str()],
        )?;
        if self.fail {
            return Err("the ledger refused the row".into());
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_transactional_handler_commits_with_the_event_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inbox.sqlite");
    let inbox = cxtn_receiver::SqliteInbox::open(&path).unwrap();
    let db = cxtn_receiver::rusqlite::Connection::open(&path).unwrap();
    db.execute_batch("CREATE TABLE ledger (event_id TEXT PRIMARY KEY)")
        .unwrap();
    let rows = || -> i64 { db.query_row("SELECT count(*) FROM ledger", [], |r| r.get(0)).unwrap() };

    let failing = testing::run_sqlite(&inbox, SqliteLedger { fail: true }, PAYMENT)
        .await
        .unwrap();
    let Outcome::Retry { error, cause, after } = failing else {
        panic!("expected a retry: {failing:?}")
    };
    assert_eq!((error.as_str(), cause), ("the ledger refused the row", Cause::Returned));
    assert!(after <= Duration::from_secs(2), "{after:?}");
    assert_eq!(rows(), 0, "the failed attempt's row was rolled back");

    let other = cxtn_events::samples::GUIDE[0].body;
    let outcome = testing::run_sqlite(&inbox, SqliteLedger { fail: false }, other)
        .await
        .unwrap();
    assert_eq!(outcome, Outcome::Processed);
    assert_eq!(rows(), 1);
    assert_eq!(
        testing::run_sqlite(&inbox, SqliteLedger { fail: false }, other)
            .await
            .unwrap(),
        Outcome::Duplicate
    );
    assert_eq!(rows(), 1);
}
