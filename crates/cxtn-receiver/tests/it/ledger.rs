//! Effects exactly once: a worker in a child process applies money events to a ledger and is killed with
//! SIGKILL at random moments, then restarted, until every event is processed. Afterwards each event's effect is
//! in the ledger exactly once, and the balance is the exact decimal sum of the amounts.
//!
//! The ledger tables have no unique key on the event id: only the transaction that joins the ledger write to the
//! inbox's `processed` mark (or the idempotency helper's claim) keeps a second application out.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cxtn_model::Decimal;
use cxtn_receiver::inbox::NewEvent;
use cxtn_receiver::{Event, HandlerError, Inbox, Worker, WorkerPolicy};
use tokio::io::{AsyncBufReadExt, BufReader};

/// How many money events each run applies.
const EVENTS: usize = 2000;
/// Set in a child process: which worker to run (`sqlite`, `postgres`, `helper`) and where.
const CHILD_ENV: &str = "CXTN_LEDGER_CHILD";
const MARKER: &str = "CXTN-LEDGER-WORKING";

fn amount(i: usize) -> String {
    let sign = if i % 7 == 3 { "-" } else { "" };
    format!("{sign}{}.{:02}", (i * 7919) % 100_000, i % 100)
}

fn body(i: usize) -> String {
    format!(
        r#"{{"eventId": "wh_ledger_{i:05}", "event": "payment_completed", "data": {{"objectId": {i}, "userId": "C1", "amount": {}, "currency": "GBP"}}}}"#,
        amount(i)
    )
}

fn expected_balance() -> Decimal {
    (0..EVENTS).map(|i| amount(i).parse::<Decimal>().unwrap()).sum()
}

/// The event's amount, exactly as CXTN sent it.
fn amount_of(event: &Event) -> Result<String, HandlerError> {
    event
        .notification
        .amount()
        .map(|amount| amount.as_str().to_owned())
        .ok_or_else(|| HandlerError::from("a money event without an amount"))
}

fn policy() -> WorkerPolicy {
    WorkerPolicy::default()
        .concurrency(8)
        .lease(Duration::from_millis(800))
        .poll_interval(Duration::from_millis(20))
        .backoff(Duration::from_millis(5), Duration::from_millis(20))
        .max_attempts(1000)
}

/// Stores the events, many at a time so that group commit carries them.
async fn fill(inbox: Arc<dyn Inbox>) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..EVENTS {
        let inbox = inbox.clone();
        tasks.spawn(async move {
            let event = NewEvent::new(
                format!("wh_ledger_{i:05}"),
                "payment_completed",
                Some("Payment".to_owned()),
                1,
                Bytes::from(body(i)),
            );
            inbox.store(event).await.unwrap();
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
}

/// Starts the worker in a child process, lets it work for a random moment, and kills it with SIGKILL;
/// again and again until `processed` says every event is done. Returns how many times a child was killed
/// while events were still unprocessed.
async fn kill_until_done(
    child_spec: &str,
    processed: impl Fn() -> std::pin::Pin<Box<dyn Future<Output = u64>>>,
) -> u32 {
    let mut kills_mid_run = 0;
    for round in 0..400 {
        if processed().await == EVENTS as u64 {
            eprintln!("ledger {child_spec}: {round} workers started, {kills_mid_run} killed before the end");
            return kills_mid_run;
        }
        let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "ledger::child_worker_process",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, child_spec)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        loop {
            let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
                .await
                .expect("the child worker starts")
                .unwrap()
                .expect("the child says it is working");
            if line.contains(MARKER) {
                break;
            }
        }
        // Later rounds run longer, so that the run always ends even on a slow machine.
        let work = Duration::from_millis(fastrand::u64(30..250) + round * 20);
        tokio::time::sleep(work).await;
        child.start_kill().unwrap();
        let status = child.wait().await.unwrap();
        assert!(!status.success(), "the child was killed");
        if processed().await < EVENTS as u64 {
            kills_mid_run += 1;
        }
    }
    panic!("the ledger was not complete after 400 restarts");
}

/// In a child process (the environment variable set): run the worker named there until killed.
/// Otherwise: nothing to do; the tests below start it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_worker_process() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let worker = match spec.split_once(':') {
        Some(("sqlite", path)) => sqlite::worker(path),
        #[cfg(feature = "postgres")]
        Some(("postgres", schema)) => postgres::worker(schema).await,
        #[cfg(feature = "postgres")]
        Some(("helper", rest)) => postgres::helper_worker(rest).await,
        _ => panic!("unknown child spec {spec}"),
    };
    println!("{MARKER}");
    worker.run(std::future::pending()).await;
}

mod sqlite {
    use super::*;
    use cxtn_receiver::rusqlite::{self, params};
    use cxtn_receiver::{SqliteHandler, SqliteInbox};

    /// Applies each event to the `ledger` table of the inbox's own file, in the inbox's transaction.
    #[derive(Debug)]
    struct Ledger;

    impl SqliteHandler for Ledger {
        fn handle(&self, event: &Event, txn: &rusqlite::Transaction<'_>) -> Result<(), HandlerError> {
            txn.execute(
                "INSERT INTO ledger (event_id, amount) VALUES (?1, ?2)",
                params![event.notification.event_id().as_str(), amount_of(event)?],
            )
            .map_err(|e| HandlerError::from(e.to_string()))?;
            Ok(())
        }
    }

    pub(super) fn worker(path: &str) -> Worker {
        let inbox = SqliteInbox::open(path).unwrap();
        Worker::sqlite(inbox, Ledger, policy())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_effect_lands_once_through_sigkills() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inbox.sqlite");
        let inbox = SqliteInbox::open(&path).unwrap();
        let ledger = rusqlite::Connection::open(&path).unwrap();
        ledger
            .execute_batch("CREATE TABLE ledger (event_id TEXT NOT NULL, amount TEXT NOT NULL)")
            .unwrap();
        fill(Arc::new(inbox.clone())).await;

        let spec = format!("sqlite:{}", path.display());
        let counter = inbox.clone();
        let kills = kill_until_done(&spec, move || {
            let inbox = counter.clone();
            Box::pin(async move { inbox.stats().await.unwrap().processed })
        })
        .await;
        assert!(kills >= 3, "killed mid-run only {kills} times");

        let twice: i64 = ledger
            .query_row(
                "SELECT COUNT(*) FROM (SELECT event_id FROM ledger GROUP BY event_id HAVING COUNT(*) > 1)",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(twice, 0, "no event applied twice");
        let amounts: Vec<(String, String)> = ledger
            .prepare("SELECT event_id, amount FROM ledger")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(amounts.len(), EVENTS, "every event applied");
        let balance: Decimal = amounts.iter().map(|(_, a)| a.parse::<Decimal>().unwrap()).sum();
        assert_eq!(balance, expected_balance(), "the balance is exact");
        let stats = inbox.stats().await.unwrap();
        assert_eq!((stats.processed, stats.dead), (EVENTS as u64, 0), "{stats:?}");
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use std::str::FromStr;

    use super::*;
    use crate::postgres::{Schema, client, url};
    use cxtn_receiver::tokio_postgres;
    use cxtn_receiver::{Handler, PostgresHandler, PostgresInbox, idempotency};

    /// Applies each event to the `ledger` table of the inbox's schema, in the inbox's transaction.
    #[derive(Debug)]
    struct Ledger {
        table: String,
    }

    #[cxtn_receiver::async_trait]
    impl PostgresHandler for Ledger {
        async fn handle(&self, event: &Event, txn: &tokio_postgres::Transaction<'_>) -> Result<(), HandlerError> {
            txn.execute(
                &format!("INSERT INTO {} (event_id, amount) VALUES ($1, $2)", self.table),
                &[&event.notification.event_id().as_str(), &amount_of(event)?],
            )
            .await
            .map_err(|e| HandlerError::from(e.to_string()))?;
            Ok(())
        }
    }

    pub(super) async fn worker(schema: &str) -> Worker {
        let inbox = PostgresInbox::builder(url()).schema(schema).connect().await.unwrap();
        let ledger = Ledger {
            table: format!("\"{schema}\".ledger"),
        };
        Worker::postgres(inbox, ledger, policy())
    }

    /// Applies each event to a ledger in another database, once, through the idempotency helper:
    /// an ordinary at-least-once handler whose own transaction claims the event id first.
    #[derive(Debug)]
    struct ElsewhereLedger {
        database: String,
    }

    #[cxtn_receiver::async_trait]
    impl Handler for ElsewhereLedger {
        async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
            let mut ledger = connect_to(&self.database).await;
            let txn = ledger
                .transaction()
                .await
                .map_err(|e| HandlerError::from(e.to_string()))?;
            if idempotency::claim(&txn, event.notification.event_id())
                .await
                .map_err(|e| HandlerError::from(e.to_string()))?
            {
                txn.execute(
                    "INSERT INTO ledger (event_id, amount) VALUES ($1, $2)",
                    &[&event.notification.event_id().as_str(), &amount_of(event)?],
                )
                .await
                .map_err(|e| HandlerError::from(e.to_string()))?;
            }
            txn.commit().await.map_err(|e| HandlerError::from(e.to_string()))?;
            Ok(())
        }
    }

    pub(super) async fn helper_worker(rest: &str) -> Worker {
        let (schema, database) = rest.split_once(':').unwrap();
        let inbox = PostgresInbox::builder(url()).schema(schema).connect().await.unwrap();
        Worker::new(
            Arc::new(inbox),
            Arc::new(ElsewhereLedger {
                database: database.to_owned(),
            }),
            policy(),
        )
    }

    /// A client of another database on the test server.
    async fn connect_to(database: &str) -> tokio_postgres::Client {
        let mut config = tokio_postgres::Config::from_str(&url()).unwrap();
        config.dbname(database);
        let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }

    async fn check_ledger(ledger: &tokio_postgres::Client, table: &str) {
        let twice: i64 = ledger
            .query_one(
                &format!("SELECT COUNT(*) FROM (SELECT event_id FROM {table} GROUP BY event_id HAVING COUNT(*) > 1) t"),
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(twice, 0, "no event applied twice");
        let rows = ledger.query(&format!("SELECT amount FROM {table}"), &[]).await.unwrap();
        assert_eq!(rows.len(), EVENTS, "every event applied");
        let balance: Decimal = rows
            .iter()
            .map(|row| row.get::<_, String>(0).parse::<Decimal>().unwrap())
            .sum();
        assert_eq!(balance, expected_balance(), "the balance is exact");
    }

    async fn run(schema: &Schema, spec: String) -> u32 {
        let inbox = schema.inbox().await;
        fill(Arc::new(inbox.clone())).await;
        let counter = inbox.clone();
        let kills = kill_until_done(&spec, move || {
            let inbox = counter.clone();
            Box::pin(async move { inbox.stats().await.unwrap().processed })
        })
        .await;
        let stats = inbox.stats().await.unwrap();
        assert_eq!((stats.processed, stats.dead), (EVENTS as u64, 0), "{stats:?}");
        kills
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_effect_lands_once_through_sigkills() {
        let schema = Schema::fresh();
        schema.inbox().await;
        let table = format!("\"{}\".ledger", schema.name);
        let admin = client(&url()).await;
        admin
            .batch_execute(&format!(
                "CREATE TABLE {table} (event_id TEXT NOT NULL, amount TEXT NOT NULL)"
            ))
            .await
            .unwrap();
        let kills = run(&schema, format!("postgres:{}", schema.name)).await;
        assert!(kills >= 3, "killed mid-run only {kills} times");
        check_ledger(&admin, &table).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_idempotency_helper_keeps_a_ledger_in_another_database_exact() {
        let schema = Schema::fresh();
        schema.inbox().await;
        let suffix: String = std::iter::repeat_with(fastrand::lowercase).take(12).collect();
        let database = format!("cxtn_ledger_{suffix}");
        let admin = client(&url()).await;
        admin
            .batch_execute(&format!("CREATE DATABASE {database}"))
            .await
            .unwrap();
        let result = async {
            let ledger = connect_to(&database).await;
            idempotency::migrate(&ledger).await.unwrap();
            ledger
                .batch_execute("CREATE TABLE ledger (event_id TEXT NOT NULL, amount TEXT NOT NULL)")
                .await
                .unwrap();
            let kills = run(&schema, format!("helper:{}:{database}", schema.name)).await;
            assert!(kills >= 3, "killed mid-run only {kills} times");
            check_ledger(&ledger, "ledger").await;
        };
        // Catch the outcome so the database is dropped whatever happened, then report it.
        let outcome = futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(result)).await;
        let _ = admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
            .await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }
}
