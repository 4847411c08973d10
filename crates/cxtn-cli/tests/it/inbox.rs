//! `cxtn inbox` over a SQLite file filled by a receiver: handled, dead-lettered, duplicated and rejected deliveries.

use std::sync::Arc;
use std::time::Duration;

use cxtn::receiver::{Event, HandlerError, Inbox, Receiver, SqliteInbox, WorkerPolicy, handler_fn};
use serde_json::json;

use crate::{TOKEN, eventually, post_raw, run};

/// An inbox file holding one processed event (delivered twice), one dead letter, and one rejection.
struct Filled {
    _dir: tempfile::TempDir,
    db: String,
    processed: String,
    dead: String,
}

async fn filled() -> Filled {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cxtn-inbox.sqlite").to_str().unwrap().to_owned();
    let inbox: Arc<dyn Inbox> = Arc::new(SqliteInbox::open(&db).unwrap());
    let receiver = Receiver::builder(inbox.clone())
        .path_token(TOKEN)
        .handler(handler_fn(|event: Event| async move {
            if event.notification.amount().map(|a| a.as_str().to_owned()).as_deref() == Some("13") {
                return Err::<(), HandlerError>("the ledger refused amount 13".into());
            }
            Ok(())
        }))
        .worker_policy(
            WorkerPolicy::default()
                .max_attempts(1)
                .poll_interval(Duration::from_millis(20)),
        )
        .build()
        .unwrap();
    let running = receiver.bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cxtn/{TOKEN}", running.addr());
    let sent = |args: &[&str]| {
        let mut all = vec!["trigger", "--to", url.as_str(), "--json"];
        all.extend_from_slice(args);
        all.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let processed = run(&to_refs(&sent(&["account_credit", "--duplicate"])), &[]).await;
    let processed = processed.assert_code(0).json_lines()[0]["eventId"]
        .as_str()
        .unwrap()
        .to_owned();
    let dead = run(&to_refs(&sent(&["account_debit", "--set", "amount=13"])), &[]).await;
    let dead = dead.assert_code(0).json()["eventId"].as_str().unwrap().to_owned();
    // No usable envelope (an empty eventId) and data that does not fit: rejected.
    let rejected = r#"{"eventId":"","event":"payment_completed","data":{"objectId":1,"userId":"C1","amount":"ten","currency":"GBP"}}"#;
    assert_eq!(post_raw(&url, rejected).await, 400);
    eventually("the worker to handle both events", || {
        let inbox = inbox.clone();
        async move {
            let stats = inbox.stats().await.unwrap();
            stats.processed == 1 && stats.dead == 1
        }
    })
    .await;
    running.shutdown().await;
    Filled {
        _dir: dir,
        db,
        processed,
        dead,
    }
}

fn to_refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

async fn inbox(filled: &Filled, args: &[&str]) -> crate::Run {
    let mut all = vec!["inbox", "--db", filled.db.as_str()];
    all.extend_from_slice(args);
    run(&all, &[]).await
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_events_newest_first_with_their_status() {
    let filled = filled().await;
    let run = inbox(&filled, &["list"]).await;
    run.assert_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    assert!(lines[0].starts_with("EVENT ID"), "{}", lines[0]);
    assert!(lines[1].starts_with(&filled.dead), "newest first: {}", run.stdout);
    assert!(
        lines[1].contains(" dead ") && lines[1].ends_with("the ledger refused amount 13"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with(&filled.processed) && lines[2].contains(" processed "),
        "{}",
        lines[2]
    );

    let run = inbox(&filled, &["list", "--json"]).await;
    let list = run.assert_code(0).json();
    assert_eq!(list.as_array().unwrap().len(), 2);
    let processed = &list[1];
    assert_eq!(processed["eventId"], json!(filled.processed));
    assert_eq!(processed["event"], json!("account_credit"));
    assert_eq!(processed["subscription"], json!("AccountTransaction"));
    assert_eq!(processed["status"], json!("processed"));
    assert_eq!(processed["attempts"], json!(1));
    assert_eq!(processed["deliveries"], json!(2));
    assert_eq!(processed["lastError"], json!(null));
    assert!(processed["receivedAt"].as_str().unwrap().ends_with('Z'));
    assert!(processed["receivedAtMs"].is_i64() && processed["nextAttemptAtMs"].is_i64());
    assert_eq!(list[0]["lastError"], json!("the ledger refused amount 13"));

    let run = inbox(&filled, &["list", "--status", "dead", "--json"]).await;
    let dead = run.assert_code(0).json();
    assert_eq!(dead.as_array().unwrap().len(), 1);
    assert_eq!(dead[0]["eventId"], json!(filled.dead));
    let run = inbox(&filled, &["list", "--status", "pending"]).await;
    assert_eq!(run.assert_code(0).stdout, "No pending events.\n");
    let run = inbox(&filled, &["list", "--limit", "1", "--json"]).await;
    assert_eq!(run.assert_code(0).json().as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_and_shows_rejected_deliveries() {
    let filled = filled().await;
    let run = inbox(&filled, &["list", "--rejected", "--json"]).await;
    let rejected = run.assert_code(0).json();
    assert_eq!(rejected.as_array().unwrap().len(), 1);
    let rejection = &rejected[0];
    assert_eq!(rejection["kind"], json!("invalid_field"));
    assert!(
        rejection["reason"].as_str().unwrap().contains("`amount`"),
        "{rejection}"
    );
    assert_eq!(rejection["replayedAs"], json!(null));
    let id = rejection["id"].as_i64().unwrap();

    let run = inbox(&filled, &["list", "--rejected"]).await;
    run.assert_code(0);
    assert!(run.stdout.starts_with("ID  RECEIVED"), "{}", run.stdout);
    assert!(run.stdout.contains("invalid_field"), "{}", run.stdout);

    let run = inbox(&filled, &["show", "--rejection", &id.to_string(), "--json"]).await;
    let shown = run.assert_code(0).json();
    assert_eq!(shown["id"], json!(id));
    assert!(shown["body"].as_str().unwrap().contains(r#""amount":"ten""#), "{shown}");

    let run = inbox(&filled, &["show", "--rejection", &id.to_string()]).await;
    run.assert_code(0);
    assert!(
        run.stdout.contains("body, as received:\n{\"eventId\""),
        "{}",
        run.stdout
    );

    let run = inbox(&filled, &["replay", "--rejection", &id.to_string()]).await;
    run.assert_error(1, &format!("rejection {id} still does not parse"));
    let run = inbox(&filled, &["show", "--rejection", "999"]).await;
    run.assert_error(1, "no rejected delivery has the id 999");
}

#[tokio::test(flavor = "multi_thread")]
async fn shows_an_event_with_its_body_as_received() {
    let filled = filled().await;
    let run = inbox(&filled, &["show", &filled.processed]).await;
    run.assert_code(0);
    assert!(
        run.stdout.starts_with(&format!("event id      {}", filled.processed)),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("\nstatus        processed\n"), "{}", run.stdout);
    assert!(
        run.stdout.contains("\namount         1000.00 GBP\n"),
        "the summary: {}",
        run.stdout
    );
    assert!(
        run.stdout.contains("body, as received:\n{\"eventId\":"),
        "{}",
        run.stdout
    );

    let run = inbox(&filled, &["show", &filled.processed, "--json"]).await;
    let shown = run.assert_code(0).json();
    let body = shown["body"].as_str().unwrap();
    assert!(body.contains(r#""amount":1000.00"#), "{body}");
    let canonical = cxtn::events::parse(body.as_bytes()).unwrap().to_json().unwrap();
    assert!(
        run.stdout.contains(&format!(r#""notification":{canonical}"#)),
        "the canonical form, digits kept"
    );
    assert_eq!(shown["deliveries"], json!(2));

    let run = inbox(&filled, &["show", "wh_00000000000000000000000000000000"]).await;
    run.assert_error(1, "no stored event has the id");
}

#[tokio::test(flavor = "multi_thread")]
async fn replays_a_dead_letter_and_counts_everything() {
    let filled = filled().await;
    let run = inbox(&filled, &["stats", "--json"]).await;
    assert_eq!(
        run.assert_code(0).json(),
        json!({"pending": 0, "processing": 0, "processed": 1, "dead": 1, "quarantined": 0, "rejected": 1,
               "duplicates": 1, "conflicts": 0})
    );
    let run = inbox(&filled, &["stats"]).await;
    run.assert_code(0);
    assert_eq!(
        run.stdout,
        "pending      0\nprocessing   0\nprocessed    1\ndead         1\nquarantined  0\nrejected     1\nduplicates   1\nconflicts    0\n"
    );

    let run = inbox(&filled, &["replay", &filled.dead, "--json"]).await;
    assert_eq!(
        run.assert_code(0).json(),
        json!({"operation": "replay", "ok": true, "eventId": filled.dead, "rejection": null})
    );
    let run = inbox(&filled, &["show", &filled.dead, "--json"]).await;
    let shown = run.assert_code(0).json();
    assert_eq!(shown["status"], json!("pending"));
    assert_eq!(shown["attempts"], json!(0));

    let run = inbox(&filled, &["replay", &filled.processed]).await;
    run.assert_code(0);
    assert!(run.stdout.contains("is pending again"), "{}", run.stdout);
    let run = inbox(&filled, &["replay", "wh_nothing"]).await;
    run.assert_error(1, "no stored event has the id `wh_nothing`");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_inbox_is_reported_and_never_created() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nothing.sqlite");
    for args in [&["list"][..], &["stats"], &["show", "wh_x"], &["replay", "wh_x"]] {
        let mut all = vec!["inbox", "--db", db.to_str().unwrap()];
        all.extend_from_slice(args);
        let run = run(&all, &[]).await;
        run.assert_error(1, "there is no inbox at");
        assert!(!db.exists(), "{args:?} created the inbox");
    }
    let run = run(&["inbox", "stats"], &[("CXTN_INBOX", db.to_str().unwrap())]).await;
    run.assert_error(1, "there is no inbox at");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_postgres_inbox_fails_clearly() {
    let run = run(
        &["inbox", "--db", "postgresql://cxtn:pw-secret@127.0.0.1:1/cxtn", "stats"],
        &[],
    )
    .await;
    run.assert_error(1, "cannot open the PostgreSQL inbox");
    assert!(!run.stderr.contains("pw-secret"), "{}", run.stderr);
}

/// The PostgreSQL server the tests use: `CXTN_TEST_POSTGRES_URL`, or the local server.
fn postgres_url() -> String {
    std::env::var("CXTN_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

async fn drop_schema(url: &str, schema: &str) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_inbox_commands_work_on_a_postgres_inbox() {
    let url = postgres_url();
    let schema = format!(
        "cxtn_cli_{}",
        std::iter::repeat_with(fastrand::lowercase).take(10).collect::<String>()
    );
    let inbox = cxtn::receiver::PostgresInbox::builder(url.as_str())
        .schema(&schema)
        .connect()
        .await
        .expect("a PostgreSQL server on 127.0.0.1:5432, or CXTN_TEST_POSTGRES_URL naming one");
    let inbox: std::sync::Arc<dyn cxtn::receiver::Inbox> = std::sync::Arc::new(inbox);
    let receiver = cxtn::receiver::Receiver::builder(inbox.clone())
        .path_token("pg-cli-token")
        .build()
        .unwrap();
    let running = receiver.bind("127.0.0.1:0").await.unwrap();
    let to = format!("http://{}/cxtn/pg-cli-token", running.addr());
    let sent = run(
        &["trigger", "payment_completed", "--to", &to, "--duplicate", "--json"],
        &[],
    )
    .await;
    assert_eq!(sent.code, 0, "{}", sent.stderr);
    running.shutdown().await;

    let db = ["--db", url.as_str(), "--schema", schema.as_str()];
    let stats = run(&[&["inbox"][..], &db, &["stats", "--json"]].concat(), &[]).await;
    assert_eq!(stats.code, 0, "{}", stats.stderr);
    let stats: serde_json::Value = serde_json::from_str(stats.stdout.trim()).unwrap();
    assert_eq!(stats["pending"], 1, "{stats}");
    assert_eq!(stats["duplicates"], 1, "{stats}");
    let listed = run(&[&["inbox"][..], &db, &["list", "--json"]].concat(), &[]).await;
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    assert!(listed.stdout.contains("payment_completed"), "{}", listed.stdout);
    drop_schema(&url, &schema).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_and_shows_quarantined_and_conflicting_events() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cxtn-inbox.sqlite").to_str().unwrap().to_owned();
    let store: Arc<dyn Inbox> = Arc::new(SqliteInbox::open(&db).unwrap());
    let (running, url) = crate::receiver(store).await;
    let first = r#"{"eventId":"wh_changed","event":"payment_completed","data":{"objectId":1,"userId":"C1","amount":10.00,"currency":"GBP"}}"#;
    let second = first.replace("10.00", "99999.00");
    let misfit = r#"{"eventId":"wh_misfit","event":"account_credit","data":{"amount":"ten"}}"#;
    for body in [first, second.as_str(), second.as_str(), misfit] {
        assert_eq!(post_raw(&url, body).await, 200, "{body}");
    }
    running.shutdown().await;
    let filled = Filled {
        _dir: dir,
        db,
        processed: String::new(),
        dead: String::new(),
    };

    let stats = inbox(&filled, &["stats", "--json"]).await;
    let stats = stats.assert_code(0).json();
    assert_eq!(
        (stats["quarantined"].clone(), stats["conflicts"].clone()),
        (json!(1), json!(1))
    );

    for args in [
        &["list", "--quarantined", "--json"][..],
        &["list", "--status", "quarantined", "--json"],
    ] {
        let listed = inbox(&filled, args).await;
        let listed = listed.assert_code(0).json();
        assert_eq!(listed.as_array().unwrap().len(), 1, "{args:?}: {listed}");
        assert_eq!(listed[0]["eventId"], json!("wh_misfit"));
        assert_eq!(listed[0]["status"], json!("quarantined"));
        assert!(
            listed[0]["quarantineReason"].as_str().unwrap().contains("amount"),
            "{listed}"
        );
    }
    let listed = inbox(&filled, &["list", "--conflicts", "--json"]).await;
    let listed = listed.assert_code(0).json();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["eventId"], json!("wh_changed"));
    assert_eq!(listed[0]["conflicts"], json!(1));
    let listed = inbox(&filled, &["list", "--conflicts"]).await;
    assert!(listed.assert_code(0).stdout.contains("CONFLICTS"), "{}", listed.stdout);

    let shown = inbox(&filled, &["show", "wh_changed", "--json"]).await;
    let shown = shown.assert_code(0).json();
    assert!(
        shown["body"].as_str().unwrap().contains("10.00"),
        "the first body is the one kept: {shown}"
    );
    let versions = shown["conflictingVersions"].as_array().unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0]["deliveries"], json!(2));
    assert_eq!(versions[0]["bodyHash"].as_str().unwrap().len(), 64);
    assert!(versions[0]["receivedAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(versions[0].get("body"), None, "bodies only with --body");
    let shown = inbox(&filled, &["show", "wh_changed", "--body", "--json"]).await;
    let shown = shown.assert_code(0).json();
    assert_eq!(shown["conflictingVersions"][0]["body"], json!(second));

    let shown = inbox(&filled, &["show", "wh_changed", "--body"]).await;
    shown.assert_code(0);
    assert!(
        shown.stdout.contains("conflicting versions, oldest first:"),
        "{}",
        shown.stdout
    );
    assert!(shown.stdout.contains(&second), "{}", shown.stdout);
    let shown = inbox(&filled, &["show", "wh_misfit"]).await;
    shown.assert_code(0);
    assert!(shown.stdout.contains("\nquarantined "), "{}", shown.stdout);

    let replayed = inbox(&filled, &["replay", "wh_misfit"]).await;
    replayed.assert_error(1, "stays quarantined");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reading_commands_leave_a_file_as_it_is_and_refuse_one_that_is_not_an_inbox() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.sqlite");
    {
        let app = cxtn::receiver::rusqlite::Connection::open(&path).unwrap();
        app.execute_batch("CREATE TABLE orders (id INTEGER PRIMARY KEY); INSERT INTO orders VALUES (1);")
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    for args in [&["stats"][..], &["list"], &["show", "wh_x"], &["list", "--rejected"]] {
        let mut all = vec!["inbox", "--db", path.to_str().unwrap()];
        all.extend_from_slice(args);
        let run = run(&all, &[]).await;
        run.assert_error(1, "");
        assert!(run.stderr.contains("is not an inbox"), "{args:?}: {}", run.stderr);
        assert_eq!(std::fs::read(&path).unwrap(), before, "{args:?} changed the file");
        assert!(
            !dir.path().join("app.sqlite-wal").exists(),
            "{args:?} converted the file to WAL"
        );
    }
}
