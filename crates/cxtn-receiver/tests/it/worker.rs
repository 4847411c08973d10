//! The worker: retries with backoff, dead letters, panics, replays; claims sized to free slots, renewed leases,
//! time limits, outcomes recorded through failures, shutdown deadlines; quarantine, conflicts and empty ids
//! end to end; a transactional worker beside a receiver.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use cxtn_receiver::inbox::{Intercept, Intercepted, NewEvent};
use cxtn_receiver::{
    ArrivalOutcome, ClaimToken, Claimed, Completion, Event, EventId, EventStatus, Handler, HandlerError, Inbox,
    InboxError, InboxErrorKind, MemoryInbox, QuarantinedEvent, Receiver, ReplayTarget, SqliteHandler, SqliteInbox,
    Stored, Worker, WorkerPolicy, handler_fn,
};

use crate::{Kind, Recorder, TOKEN, eventually, fast_policy, inbox, post, start};

#[tokio::test]
async fn a_failing_handler_is_retried_until_it_succeeds() {
    let store = inbox(&Kind::Sqlite);
    let started = start(
        store.inbox.clone(),
        Recorder {
            failures: 2,
            ..Recorder::default()
        },
    )
    .await;
    let body = cxtn_events::samples::GUIDE[2].body;
    assert_eq!(post(started.addr(), body).await.0, 200);
    let recorder = started.recorder.clone();
    eventually("three attempts", || recorder.seen.lock().unwrap().len() >= 3).await;
    let inbox = started.inbox.clone();
    let id = &EventId::from("wh_b5bc5ac1b6734f18b9701db5cd153a4e");
    for _ in 0..1000 {
        if inbox.event(id).await.unwrap().unwrap().status == EventStatus::Processed {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let record = inbox.event(id).await.unwrap().unwrap();
    assert_eq!((record.status, record.attempts), (EventStatus::Processed, 3));
    let attempts: Vec<u32> = recorder.seen.lock().unwrap().iter().map(|(_, a)| *a).collect();
    assert_eq!(attempts, [1, 2, 3]);
    started.running.shutdown().await;
}

#[tokio::test]
async fn an_always_failing_handler_dead_letters_and_a_replay_runs_it_again() {
    let store = inbox(&Kind::Sqlite);
    let started = start(
        store.inbox.clone(),
        Recorder {
            failures: u32::MAX,
            ..Recorder::default()
        },
    )
    .await;
    let id = &EventId::from("wh_4d9373d27e4e4c24bbb39c00b6dcd3e7");
    assert_eq!(post(started.addr(), cxtn_events::samples::GUIDE[1].body).await.0, 200);
    let inbox = started.inbox.clone();
    let mut record = None;
    for _ in 0..1000 {
        let current = inbox.event(id).await.unwrap().unwrap();
        if current.status == EventStatus::Dead {
            record = Some(current);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let record = record.expect("dead-lettered");
    assert_eq!(record.attempts, 3, "max_attempts in these tests");
    assert_eq!(record.last_error.as_deref(), Some("attempt 3 failed"));
    assert_eq!(inbox.stats().await.unwrap().dead, 1);

    cxtn_receiver::replay(&*inbox, ReplayTarget::Event(id.clone()))
        .await
        .unwrap();
    let recorder = started.recorder.clone();
    eventually("the replay reaches the handler", || {
        recorder.seen.lock().unwrap().len() >= 4
    })
    .await;
    assert_eq!(
        recorder.seen.lock().unwrap()[3].1,
        1,
        "a replay starts again from attempt 1"
    );
    started.running.shutdown().await;
}

#[tokio::test]
async fn a_panicking_handler_counts_as_a_failed_attempt() {
    let store = inbox(&Kind::Memory);
    let started = start(
        store.inbox.clone(),
        Recorder {
            panic: true,
            ..Recorder::default()
        },
    )
    .await;
    assert_eq!(post(started.addr(), cxtn_events::samples::GUIDE[0].body).await.0, 200);
    let recorder = started.recorder.clone();
    eventually("the second attempt", || recorder.seen.lock().unwrap().len() >= 2).await;
    let inbox = started.inbox.clone();
    for _ in 0..1000 {
        if inbox.stats().await.unwrap().processed == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let record = inbox
        .event(&"wh_f79f07d55bcd4cb893c41575b7c1b8f6".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((record.status, record.attempts), (EventStatus::Processed, 2));
    started.running.shutdown().await;
}

/// In front of a memory inbox: fails `complete` for chosen events a set number of times, and watches claims.
#[derive(Debug, Default)]
struct Watched {
    /// How many more times `complete` fails, per event id.
    failing: Mutex<HashMap<String, u32>>,
    /// The `limit` of every claim.
    limits: Mutex<Vec<usize>>,
    /// The most events `processing` at once, seen after each claim.
    most_processing: AtomicU64,
}

impl Watched {
    fn inbox(watched: Self) -> Arc<Intercepted<Self>> {
        Arc::new(Intercepted::new(Arc::new(MemoryInbox::new()), watched))
    }

    fn failing(ids: &[(&str, u32)]) -> Self {
        Self {
            failing: Mutex::new(ids.iter().map(|(id, n)| ((*id).to_owned(), *n)).collect()),
            ..Self::default()
        }
    }
}

#[cxtn_receiver::async_trait]
impl Intercept for Watched {
    async fn claim(
        &self,
        inner: &dyn Inbox,
        lease: Duration,
        limit: usize,
        quarantined: bool,
    ) -> Result<Vec<Claimed>, InboxError> {
        self.limits.lock().unwrap().push(limit);
        let claimed = inner.claim(lease, limit, quarantined).await?;
        let processing = inner.stats().await?.processing;
        self.most_processing.fetch_max(processing, Ordering::SeqCst);
        Ok(claimed)
    }

    async fn complete(
        &self,
        inner: &dyn Inbox,
        event_id: &EventId,
        token: ClaimToken,
        completion: Completion,
    ) -> Result<bool, InboxError> {
        if let Some(left) = self.failing.lock().unwrap().get_mut(event_id.as_str())
            && *left > 0
        {
            *left -= 1;
            return Err(InboxError::of_kind(
                InboxErrorKind::Unavailable,
                "the store is busy",
                None,
            ));
        }
        inner.complete(event_id, token, completion).await
    }
}

fn payment(id: &str) -> String {
    format!(
        r#"{{"eventId": "{id}", "event": "payment_completed", "data": {{"objectId": 1, "userId": "C1", "amount": 10.00, "currency": "GBP"}}}}"#
    )
}

async fn store_payments(inbox: &dyn Inbox, ids: &[String]) {
    for id in ids {
        let new = NewEvent::new(id.as_str(), "payment_completed", None, 1, Bytes::from(payment(id)));
        assert_eq!(inbox.store(new).await.unwrap(), Stored::New);
    }
}

fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("wh_{prefix}_{i:02}")).collect()
}

/// Who handled what: (event id, attempt).
type Seen = Arc<Mutex<Vec<(String, u32)>>>;

fn recording(seen: &Seen, wait: Duration) -> Arc<dyn Handler> {
    let seen = seen.clone();
    Arc::new(handler_fn(move |event: Event| {
        let seen = seen.clone();
        async move {
            seen.lock()
                .unwrap()
                .push((event.notification.event_id().to_string(), event.attempt));
            tokio::time::sleep(wait).await;
            Ok::<(), HandlerError>(())
        }
    }))
}

async fn status_of(inbox: &dyn Inbox, id: &str) -> (EventStatus, u32) {
    let record = inbox.event(&id.into()).await.unwrap().unwrap();
    (record.status, record.attempts)
}

#[tokio::test]
async fn a_worker_claims_only_what_it_can_start_and_no_lease_runs_out_in_a_queue() {
    let inbox = Watched::inbox(Watched::default());
    let events = ids("queue", 12);
    store_payments(inbox.as_ref(), &events).await;
    let seen = Seen::default();
    // Handlers take longer than a lease: only renewal holds it, and nothing claimed waits in a queue.
    let policy = fast_policy()
        .concurrency(3)
        .lease(Duration::from_millis(150))
        .max_attempts(1);
    let worker = Worker::new(inbox.clone(), recording(&seen, Duration::from_millis(200)), policy);
    assert_eq!(worker.run_once().await.unwrap(), 12);

    assert!(
        inbox.intercept().limits.lock().unwrap().iter().all(|limit| *limit <= 3),
        "{:?}",
        inbox.intercept().limits.lock().unwrap()
    );
    assert!(inbox.intercept().most_processing.load(Ordering::SeqCst) <= 3);
    let mut handled: Vec<String> = seen.lock().unwrap().iter().map(|(id, _)| id.clone()).collect();
    handled.sort();
    assert_eq!(handled, events, "each event handled once");
    assert!(seen.lock().unwrap().iter().all(|(_, attempt)| *attempt == 1));
    assert_eq!(inbox.stats().await.unwrap().processed, 12);
}

#[tokio::test]
async fn a_renewed_lease_keeps_a_slow_handler_s_event_from_a_second_worker() {
    let inbox: Arc<dyn Inbox> = Arc::new(MemoryInbox::new());
    store_payments(inbox.as_ref(), &["wh_slow".to_owned()]).await;
    let seen = Seen::default();
    let policy = fast_policy().concurrency(1).lease(Duration::from_millis(120));
    let workers: Vec<Worker> = (0..2)
        .map(|_| {
            Worker::new(
                inbox.clone(),
                recording(&seen, Duration::from_millis(700)),
                policy.clone(),
            )
        })
        .collect();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running: Vec<_> = workers
        .into_iter()
        .map(|worker| {
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                worker
                    .run(async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    })
                    .await;
            })
        })
        .collect();
    let probe = inbox.clone();
    for _ in 0..500 {
        if status_of(probe.as_ref(), "wh_slow").await.0 == EventStatus::Processed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(true).unwrap();
    for run in running {
        run.await.unwrap();
    }
    assert_eq!(status_of(inbox.as_ref(), "wh_slow").await, (EventStatus::Processed, 1));
    assert_eq!(
        *seen.lock().unwrap(),
        [("wh_slow".to_owned(), 1)],
        "handled once, by one worker, though it ran almost six leases"
    );
}

#[tokio::test]
async fn a_handler_past_its_time_limit_fails_the_attempt() {
    let inbox: Arc<dyn Inbox> = Arc::new(MemoryInbox::new());
    store_payments(inbox.as_ref(), &["wh_stuck".to_owned()]).await;
    let handler = handler_fn(|_event: Event| async move {
        std::future::pending::<()>().await;
        Ok::<(), HandlerError>(())
    });
    let policy = fast_policy()
        .max_attempts(1)
        .handler_timeout(Duration::from_millis(100));
    let worker = Worker::new(inbox.clone(), Arc::new(handler), policy);
    let started = std::time::Instant::now();
    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert!(started.elapsed() < Duration::from_secs(5));
    let record = inbox.event(&"wh_stuck".into()).await.unwrap().unwrap();
    assert_eq!((record.status, record.attempts), (EventStatus::Dead, 1));
    assert_eq!(
        record.last_error.as_deref(),
        Some("the handler did not finish within its time limit of 100 ms")
    );

    // Without renewal, the limit is the lease even when the timeout is longer.
    let policy = WorkerPolicy::default()
        .renew_leases(false)
        .lease(Duration::from_millis(80))
        .handler_timeout(Duration::from_secs(600));
    assert_eq!(policy.handler_timeout, Duration::from_secs(600));
    store_payments(inbox.as_ref(), &["wh_stuck_too".to_owned()]).await;
    let worker = Worker::new(
        inbox.clone(),
        Arc::new(handler_fn(|_event: Event| async move {
            std::future::pending::<()>().await;
            Ok::<(), HandlerError>(())
        })),
        policy.max_attempts(1),
    );
    assert_eq!(worker.run_once().await.unwrap(), 1);
    let record = inbox.event(&"wh_stuck_too".into()).await.unwrap().unwrap();
    assert_eq!(
        record.last_error.as_deref(),
        Some("the handler did not finish within its time limit of 80 ms")
    );
}

#[tokio::test]
async fn an_outcome_the_inbox_refused_for_a_while_is_recorded_and_siblings_carry_on() {
    // `wh_busy_00` cannot be recorded the first four times; another event's handler panics.
    let inbox = Watched::inbox(Watched::failing(&[("wh_busy_00", 4)]));
    let events = ids("busy", 6);
    store_payments(inbox.as_ref(), &events).await;
    let seen = Seen::default();
    let recorded = seen.clone();
    let handler = handler_fn(move |event: Event| {
        let seen = recorded.clone();
        async move {
            let id = event.notification.event_id().to_string();
            seen.lock().unwrap().push((id.clone(), event.attempt));
            if id == "wh_busy_01" && event.attempt == 1 {
                panic!("the handler fell over");
            }
            Ok::<(), HandlerError>(())
        }
    });
    let worker = Worker::new(inbox.clone(), Arc::new(handler), fast_policy().concurrency(6));
    worker.run_once().await.unwrap();
    // The others were recorded while the busy one was still being retried.
    for id in &events[2..] {
        assert_eq!(status_of(inbox.as_ref(), id).await, (EventStatus::Processed, 1), "{id}");
    }
    assert_eq!(
        status_of(inbox.as_ref(), "wh_busy_00").await,
        (EventStatus::Processed, 1)
    );
    assert_eq!(
        inbox.intercept().failing.lock().unwrap()["wh_busy_00"],
        0,
        "every failure was tried past"
    );
    assert_eq!(
        seen.lock().unwrap().iter().filter(|(id, _)| id == "wh_busy_00").count(),
        1,
        "a failed record does not run the handler again"
    );
    // The panicked attempt is retried after its backoff.
    for _ in 0..500 {
        if worker.run_once().await.unwrap() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        status_of(inbox.as_ref(), "wh_busy_01").await,
        (EventStatus::Processed, 2)
    );
}

#[tokio::test]
async fn shutdown_is_checked_before_each_claim_and_its_deadline_gives_claims_back() {
    let inbox: Arc<dyn Inbox> = Arc::new(MemoryInbox::new());
    let events = ids("stop", 20);
    store_payments(inbox.as_ref(), &events).await;
    let started = Arc::new(AtomicUsize::new(0));
    let counter = started.clone();
    // Every handler hangs: only the deadline ends the run.
    let handler = handler_fn(move |_event: Event| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            std::future::pending::<()>().await;
            Ok::<(), HandlerError>(())
        }
    });
    let policy = fast_policy()
        .concurrency(4)
        .shutdown_deadline(Duration::from_millis(300));
    let worker = Worker::new(inbox.clone(), Arc::new(handler), policy);
    let probe = started.clone();
    let begun = std::time::Instant::now();
    worker
        .run(async move {
            while probe.load(Ordering::SeqCst) < 4 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await;
    let took = begun.elapsed();
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(started.load(Ordering::SeqCst), 4, "nothing claimed after the stop");
    let stats = inbox.stats().await.unwrap();
    assert_eq!((stats.pending, stats.processing), (20, 0), "{stats:?}");
    for id in &events {
        assert_eq!(status_of(inbox.as_ref(), id).await, (EventStatus::Pending, 0), "{id}");
    }
}

#[tokio::test]
async fn running_shutdown_honours_the_worker_s_deadline() {
    let inbox: Arc<dyn Inbox> = Arc::new(MemoryInbox::new());
    let handler = handler_fn(|_event: Event| async move {
        std::future::pending::<()>().await;
        Ok::<(), HandlerError>(())
    });
    let receiver = Receiver::builder(inbox.clone())
        .path_token(TOKEN)
        .handler(handler)
        .worker_policy(fast_policy().shutdown_deadline(Duration::from_millis(200)))
        .build()
        .unwrap();
    let running = receiver.bind("127.0.0.1:0").await.unwrap();
    assert_eq!(post(running.addr(), payment("wh_hung")).await.0, 200);
    for _ in 0..500 {
        if inbox.stats().await.unwrap().processing == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let begun = std::time::Instant::now();
    running.shutdown().await;
    assert!(begun.elapsed() < Duration::from_secs(5), "{:?}", begun.elapsed());
    assert_eq!(status_of(inbox.as_ref(), "wh_hung").await, (EventStatus::Pending, 0));
}

/// A handler that takes quarantined events and records what it was given.
#[derive(Debug, Default)]
struct Lenient {
    typed: Mutex<Vec<(String, u32)>>,
    quarantined: Mutex<Vec<(String, String, String)>>,
}

#[cxtn_receiver::async_trait]
impl Handler for Lenient {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        self.typed
            .lock()
            .unwrap()
            .push((event.notification.event_id().to_string(), event.conflicts));
        Ok(())
    }

    async fn handle_quarantined(&self, event: &QuarantinedEvent) -> Result<(), HandlerError> {
        self.quarantined
            .lock()
            .unwrap()
            .push((event.event_id.to_string(), event.event.clone(), event.reason.clone()));
        Ok(())
    }
}

const MISFIT: &str = r#"{"eventId": "wh_misfit", "event": "account_credit", "data": {"objectId": 1, "amount": 10}}"#;

#[tokio::test]
async fn quarantine_conflicts_and_empty_ids_are_answered_and_kept() {
    let inbox: Arc<dyn Inbox> = Arc::new(MemoryInbox::new());
    let receiver = Receiver::builder(inbox.clone()).path_token(TOKEN).build().unwrap();
    let mut arrivals = receiver.subscribe();
    let running = receiver.bind("127.0.0.1:0").await.unwrap();
    let addr = running.addr();

    // A usable envelope whose data does not fit: quarantined, and deduplicated like any event.
    assert_eq!(
        post(addr, MISFIT).await,
        (200, r#"{"status":"quarantined","eventId":"wh_misfit"}"#.to_owned())
    );
    assert_eq!(
        post(addr, MISFIT).await,
        (200, r#"{"status":"duplicate","eventId":"wh_misfit"}"#.to_owned())
    );
    let arrival = arrivals.recv().await.unwrap();
    assert_eq!(arrival.event_id, Some("wh_misfit".into()));
    assert!(
        matches!(arrival.outcome, ArrivalOutcome::Quarantined { .. }),
        "{arrival:?}"
    );

    // The same id with another body: kept beside the first, answered 2xx.
    let first = payment("wh_changed");
    let second = first.replace("10.00", "99999.00");
    assert_eq!(post(addr, first.clone()).await.0, 200);
    assert_eq!(
        post(addr, second.clone()).await,
        (200, r#"{"status":"conflict","eventId":"wh_changed"}"#.to_owned())
    );
    assert_eq!(
        post(addr, second.clone()).await,
        (200, r#"{"status":"conflict","eventId":"wh_changed"}"#.to_owned())
    );
    let record = inbox.event(&"wh_changed".into()).await.unwrap().unwrap();
    assert_eq!((record.body.as_ref(), record.conflicts), (first.as_bytes(), 1));
    let versions = inbox.conflicts(&"wh_changed".into()).await.unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(
        (versions[0].body.as_ref(), versions[0].deliveries),
        (second.as_bytes(), 2)
    );

    // An empty or blank id is no id: rejected, and the same body again is kept once.
    let blank = payment(" ");
    for _ in 0..2 {
        let (status, answer) = post(addr, blank.clone()).await;
        assert_eq!(status, 400);
        assert!(answer.contains("`eventId` is empty"), "{answer}");
    }
    let (status, _) = post(addr, r#"{"eventId": "", "event": "x", "data": {"a": "#).await;
    assert_eq!(status, 400);
    let rejections = inbox.rejections(10).await.unwrap();
    assert_eq!(rejections.len(), 2, "{rejections:?}");
    assert_eq!(rejections[1].kind, "empty_event_id");
    assert_eq!(rejections[1].deliveries, 2);

    let stats = inbox.stats().await.unwrap();
    assert_eq!(
        (stats.quarantined, stats.conflicts, stats.rejected, stats.pending),
        (1, 1, 2, 1),
        "{stats:?}"
    );
    running.shutdown().await;

    // The typed handler hears of the conflict and never of the quarantined event, unless it opts in.
    let lenient = Arc::new(Lenient::default());
    let worker = Worker::new(inbox.clone(), lenient.clone(), fast_policy());
    assert_eq!(worker.run_once().await.unwrap(), 1);
    assert_eq!(*lenient.typed.lock().unwrap(), [("wh_changed".to_owned(), 1)]);
    assert!(lenient.quarantined.lock().unwrap().is_empty());
    assert_eq!(status_of(inbox.as_ref(), "wh_misfit").await.0, EventStatus::Quarantined);

    // A replay of a quarantined event that still does not parse leaves it quarantined and says why.
    let e = cxtn_receiver::replay(inbox.as_ref(), ReplayTarget::Event("wh_misfit".into()))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), cxtn_receiver::ErrorKind::StillInvalid);
    assert!(e.to_string().contains("stays quarantined"), "{e}");
    assert_eq!(status_of(inbox.as_ref(), "wh_misfit").await.0, EventStatus::Quarantined);

    let worker = Worker::new(inbox.clone(), lenient.clone(), fast_policy().quarantined(true));
    assert_eq!(worker.run_once().await.unwrap(), 1);
    let taken = lenient.quarantined.lock().unwrap().clone();
    assert_eq!(taken.len(), 1);
    assert_eq!(
        (taken[0].0.as_str(), taken[0].1.as_str()),
        ("wh_misfit", "account_credit")
    );
    assert!(taken[0].2.contains("missing field"), "{}", taken[0].2);
    assert_eq!(
        status_of(inbox.as_ref(), "wh_misfit").await,
        (EventStatus::Processed, 1)
    );
}

#[tokio::test]
async fn a_handler_that_does_not_take_quarantined_events_never_marks_one_processed() {
    let inbox: Arc<dyn Inbox> = Arc::new(MemoryInbox::new());
    let new = NewEvent::new("wh_misfit", "account_credit", None, 1, Bytes::from(MISFIT)).quarantined("does not fit");
    inbox.store(new).await.unwrap();
    let seen = Seen::default();
    let policy = fast_policy().quarantined(true).max_attempts(1);
    let worker = Worker::new(inbox.clone(), recording(&seen, Duration::ZERO), policy);
    assert_eq!(worker.run_once().await.unwrap(), 1);
    let record = inbox.event(&"wh_misfit".into()).await.unwrap().unwrap();
    assert_eq!(record.status, EventStatus::Dead);
    assert!(
        record
            .last_error
            .as_deref()
            .is_some_and(|error| error.contains("implement Handler::handle_quarantined")),
        "{record:?}"
    );
    assert!(seen.lock().unwrap().is_empty());
}

#[derive(Debug)]
struct SqliteLedger;

impl SqliteHandler for SqliteLedger {
    fn handle(&self, event: &Event, txn: &cxtn_receiver::rusqlite::Transaction<'_>) -> Result<(), HandlerError> {
        let amount = event.notification.amount().map(|amount| amount.as_str().to_owned());
        txn.execute(
            "INSERT INTO ledger (event_id, amount) VALUES (?1, ?2)",
            cxtn_receiver::rusqlite::params![event.notification.event_id().as_str(), amount],
        )?;
        Ok(())
    }
}

#[tokio::test]
async fn a_receiver_runs_a_transactional_worker() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite");
    let inbox = SqliteInbox::open(&path).unwrap();
    let ledger = cxtn_receiver::rusqlite::Connection::open(&path).unwrap();
    ledger
        .execute_batch("CREATE TABLE ledger (event_id TEXT NOT NULL, amount TEXT)")
        .unwrap();
    assert!(
        Receiver::builder(Arc::new(inbox.clone()))
            .path_token(TOKEN)
            .handler(Lenient::default())
            .worker(Worker::sqlite(inbox.clone(), SqliteLedger, fast_policy()))
            .build()
            .is_err(),
        "a handler and a worker both"
    );
    let receiver = Receiver::builder(Arc::new(inbox.clone()))
        .path_token(TOKEN)
        .worker(Worker::sqlite(inbox.clone(), SqliteLedger, fast_policy()))
        .build()
        .unwrap();
    let running = receiver.bind("127.0.0.1:0").await.unwrap();
    for id in ["wh_tx_1", "wh_tx_2", "wh_tx_1"] {
        assert_eq!(post(running.addr(), payment(id)).await.0, 200);
    }
    for _ in 0..1000 {
        if inbox.stats().await.unwrap().processed == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    running.shutdown().await;
    let rows: Vec<(String, String)> = ledger
        .prepare("SELECT event_id, amount FROM ledger ORDER BY event_id")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        rows,
        [
            ("wh_tx_1".to_owned(), "10.00".to_owned()),
            ("wh_tx_2".to_owned(), "10.00".to_owned())
        ]
    );
}
