//! `cxtn inbox export` and `cxtn replay`: traffic captured by one receiver, exported byte for byte, and replayed
//! with chaos into a second receiver, which ends up holding exactly the distinct events.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use cxtn::events::samples::GUIDE;
use cxtn::events::traffic::{self, Recording};
use cxtn::receiver::{EventFilter, EventRecord, Inbox, SqliteInbox};
use serde_json::Value;

use crate::{TOKEN, post_raw, receiver, run};

/// A payment body of our own; `user` repeats across events so that pseudonyms can be checked for consistency.
fn payment(n: u32, amount: &str) -> String {
    format!(
        r#"{{"eventId":"wh_{n:032x}","event":"payment_completed","data":{{"objectId":{},"userId":"C{:08}","amount":{amount},"currency":"GBP","note":"caf\u00e9 ☕"}}}}"#,
        700_000 + n,
        n % 4
    )
}

/// An inbox file that received the guide's seven samples and 23 payments, one of them twice, and one of them
/// again with another amount (a conflict); the bodies posted, in order.
struct Captured {
    dir: tempfile::TempDir,
    db: String,
    bodies: Vec<String>,
}

const EVENTS: usize = 30;

async fn captured() -> Captured {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.sqlite").to_str().unwrap().to_owned();
    let inbox: Arc<dyn Inbox> = Arc::new(SqliteInbox::open(&db).unwrap());
    let bodies = deliver(inbox).await;
    Captured { dir, db, bodies }
}

/// Posts the captured traffic to a receiver over `inbox`; the bodies, in order, the conflict last.
async fn deliver(inbox: Arc<dyn Inbox>) -> Vec<String> {
    let (running, url) = receiver(inbox.clone()).await;
    let mut bodies: Vec<String> = GUIDE.iter().map(|s| s.body.to_owned()).collect();
    bodies.extend((1..=23).map(|n| payment(n, &format!("{n}.10"))));
    // A pause between posts gives every delivery its own arrival millisecond, so the order of arrival is the
    // order of posting (the inbox orders deliveries of one millisecond by `eventId`).
    let pause = || tokio::time::sleep(std::time::Duration::from_millis(3));
    for body in &bodies {
        assert_eq!(post_raw(&url, body).await, 200, "{body}");
        pause().await;
    }
    assert_eq!(post_raw(&url, &bodies[10]).await, 200, "a duplicate is answered 200");
    pause().await;
    let conflict = payment(5, "99999999999999999999.99");
    assert_eq!(post_raw(&url, &conflict).await, 200, "a conflict is answered 200");
    bodies.push(conflict);
    let stats = inbox.stats().await.unwrap();
    assert_eq!((stats.duplicates, stats.conflicts), (1, 1));
    running.shutdown().await;
    bodies
}

async fn export(captured: &Captured, args: &[&str]) -> crate::Run {
    let mut all = vec!["inbox", "--db", captured.db.as_str(), "export"];
    all.extend_from_slice(args);
    run(&all, &[]).await
}

/// Every event of an inbox, with its conflicting versions.
async fn everything(inbox: &Arc<dyn Inbox>) -> Vec<(EventRecord, Vec<cxtn::receiver::ConflictRecord>)> {
    let events = inbox.events(EventFilter::all().limit(10_000)).await.unwrap();
    let mut out = Vec::new();
    for event in events {
        let conflicts = inbox.conflicts(&event.event_id).await.unwrap();
        out.push((event, conflicts));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn export_writes_every_body_as_received_oldest_first() {
    let captured = captured().await;
    let run = export(&captured, &[]).await;
    run.assert_code(0);
    assert!(
        run.stderr.contains("Exported 30 events and 1 conflicting version."),
        "{}",
        run.stderr
    );
    let recording = traffic::read_jsonl(run.stdout.as_bytes()).unwrap();
    assert_eq!(recording.len(), EVENTS + 1);
    assert_eq!(recording.events(), EVENTS);
    // Byte for byte, in the order they arrived, the conflict right after its event.
    let exported: Vec<&[u8]> = recording.bodies().collect();
    assert_eq!(exported, expected_order(&captured.bodies));
    let deliveries = recording.deliveries();
    let firsts: Vec<i64> = deliveries
        .iter()
        .filter(|r| !r.conflict)
        .map(|r| r.received_at_ms)
        .collect();
    assert!(firsts.is_sorted(), "oldest first: {firsts:?}");
    assert!(
        deliveries[12].received_at_ms > deliveries[29].received_at_ms,
        "the conflict arrived last"
    );
    assert_eq!(deliveries[10].deliveries, 2, "the duplicate is counted");
    assert!(deliveries[12].conflict && deliveries[12].event_id == deliveries[11].event_id);
    let line: Value = serde_json::from_str(run.stdout.lines().next().unwrap()).unwrap();
    let keys: Vec<&str> = line.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["body", "deliveries", "event", "eventId", "receivedAt"]);
    assert!(line["receivedAt"].as_str().unwrap().ends_with('Z'));
    // The fixture parses as the handler would see it.
    assert!(recording.notifications().all(|n| n.is_ok()));
}

#[tokio::test(flavor = "multi_thread")]
async fn export_filters_by_event_and_time() {
    let captured = captured().await;
    let run = export(&captured, &["--event", "account_credit"]).await;
    let recording = traffic::read_jsonl(run.assert_code(0).stdout.as_bytes()).unwrap();
    assert_eq!(recording.len(), 3);
    assert!(recording.deliveries().iter().all(|r| r.event == "account_credit"));

    let run = export(&captured, &["--since", "1h", "--event", "payment_completed"]).await;
    assert_eq!(
        run.assert_code(0).stdout.lines().count(),
        25,
        "23 payments, the guide's one, and a conflict"
    );
    let run = export(&captured, &["--until", "1h"]).await;
    assert_eq!(run.assert_code(0).stdout, "");
    assert!(run.stderr.contains("Exported 0 events."));
    let run = export(&captured, &["--since", "2099-01-01T00:00:00Z"]).await;
    assert_eq!(run.assert_code(0).stdout, "");
    export(&captured, &["--since", "1h", "--until", "2h"])
        .await
        .assert_error(2, "--since is not before --until");
    export(&captured, &["--since", "yesterday"])
        .await
        .assert_error(2, "RFC 3339");
}

#[tokio::test(flavor = "multi_thread")]
async fn pseudonymised_exports_keep_money_and_map_each_id_the_same_way() {
    let captured = captured().await;
    let key = [("CXTN_PSEUDONYM_KEY", "k3y")];
    let args = ["inbox", "--db", captured.db.as_str(), "export", "--pseudonymise"];
    let first = run(&args, &key).await;
    let second = run(&args, &key).await;
    first.assert_code(0);
    assert_eq!(first.stdout, second.stdout, "the same key gives the same pseudonyms");
    assert!(first.stderr.contains("pseudonymised"));
    assert!(!first.stderr.contains("warning"), "{}", first.stderr);
    let flagged = export(&captured, &["--pseudonymise", "--pseudonym-key", "k3y"]).await;
    assert_eq!(
        flagged.assert_code(0).stdout,
        first.stdout,
        "the flag and the variable are the same key"
    );
    assert!(
        flagged.stderr.contains("warning: --pseudonym-key holds a secret"),
        "{}",
        flagged.stderr
    );
    let random = export(&captured, &["--pseudonymise"]).await;
    assert_ne!(random.assert_code(0).stdout, first.stdout, "a random key gives others");
    // The variable set in the shell does not turn a plain export into a pseudonymised one, nor refuse it.
    let plain = run(&["inbox", "--db", captured.db.as_str(), "export"], &key).await;
    assert_eq!(
        plain.assert_code(0).stdout,
        export(&captured, &[]).await.stdout,
        "without --pseudonymise the ids stay"
    );
    export(&captured, &["--pseudonym-key", "k3y"])
        .await
        .assert_error(2, "--pseudonym-key is given without --pseudonymise");

    let original = traffic::read_jsonl(export(&captured, &[]).await.stdout.as_bytes()).unwrap();
    let pseudonymised = traffic::read_jsonl(first.stdout.as_bytes()).unwrap();
    let mut users: HashMap<String, String> = HashMap::new();
    let mut objects: HashMap<u64, u64> = HashMap::new();
    for (a, b) in original.deliveries().iter().zip(pseudonymised.deliveries()) {
        assert_eq!((&a.event_id, a.received_at_ms), (&b.event_id, b.received_at_ms));
        let (a, b) = (a.notification().unwrap(), b.notification().unwrap());
        assert_eq!(
            a.amount().map(|x| x.as_str().to_owned()),
            b.amount().map(|x| x.as_str().to_owned()),
            "money untouched"
        );
        let (user, pseudonym) = (a.user_id().unwrap().as_str(), b.user_id().unwrap().as_str());
        assert_ne!(user, pseudonym);
        assert_eq!(
            users.entry(user.to_owned()).or_insert_with(|| pseudonym.to_owned()),
            pseudonym
        );
        let (object, pseudonym) = (a.object_id().unwrap().get(), b.object_id().unwrap().get());
        assert_ne!(object, pseudonym);
        assert_eq!(*objects.entry(object).or_insert(pseudonym), pseudonym);
    }
    assert!(!first.stdout.contains("C00081866") && !first.stdout.contains("700005"));
    assert!(first.stdout.contains("99999999999999999999.99"));
    // Distinct ids stay distinct.
    assert_eq!(users.values().collect::<HashSet<_>>().len(), users.len());
    assert_eq!(objects.values().collect::<HashSet<_>>().len(), objects.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_with_chaos_leaves_exactly_the_distinct_events_and_the_reported_duplicates() {
    let captured = captured().await;
    let file = captured.dir.path().join("traffic.jsonl");
    std::fs::write(&file, export(&captured, &[]).await.assert_code(0).stdout.as_bytes()).unwrap();
    let recording: Recording = traffic::read_jsonl(&std::fs::read(&file).unwrap()).unwrap();

    let db_b = captured.dir.path().join("b.sqlite");
    let inbox_b: Arc<dyn Inbox> = Arc::new(SqliteInbox::open(&db_b).unwrap());
    let (running, url) = receiver(inbox_b.clone()).await;
    let run = run(
        &[
            "replay",
            file.to_str().unwrap(),
            "--to",
            &url,
            "--chaos",
            "duplicates=0.2,reorder=10,burst=5",
            "--speed",
            "max",
            "--seed",
            "42",
            "--json",
        ],
        &[],
    )
    .await;
    let report = run.assert_code(0).json();
    running.shutdown().await;
    assert!(!run.stdout.contains(TOKEN), "the path token is never printed");

    let lines = EVENTS + 1;
    let duplicates = 6; // round(0.2 × 31)
    assert_eq!(report["operation"], "replay");
    assert_eq!(report["ok"], true);
    assert_eq!(report["recorded"], lines);
    assert_eq!(report["events"], EVENTS);
    assert_eq!(report["sent"], lines + duplicates);
    assert_eq!(report["duplicates"], duplicates);
    assert_eq!(report["accepted"], lines + duplicates);
    assert_eq!(report["failed"], 0);
    assert_eq!(report["statuses"], serde_json::json!({ "200": lines + duplicates }));
    assert_eq!(report["seed"], 42);
    assert_eq!(report["speed"], "max");
    assert_eq!(
        report["chaos"],
        serde_json::json!({"duplicates": 0.2, "reorder": 10, "burst": 5})
    );
    let deliveries = report["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), lines + duplicates);
    let reported_duplicates = deliveries.iter().filter(|d| d["duplicate"] == true).count();
    assert_eq!(reported_duplicates, duplicates);
    let bursts: HashSet<u64> = deliveries.iter().map(|d| d["burst"].as_u64().unwrap()).collect();
    assert_eq!(bursts.len(), (lines + duplicates).div_ceil(5));

    // B holds exactly the distinct events, under fresh ids, with the recorded bodies but for the eventId.
    let stored = everything(&inbox_b).await;
    assert_eq!(stored.len(), EVENTS);
    let fresh: HashMap<String, String> = deliveries
        .iter()
        .map(|d| {
            let fresh = d["eventId"].as_str().unwrap().to_owned();
            (fresh, d["recordedEventId"].as_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(
        fresh.len(),
        EVENTS,
        "one fresh id per recorded event, shared by its copies and versions"
    );
    for (event, _) in &stored {
        let recorded_id = &fresh[event.event_id.as_str()];
        assert_ne!(event.event_id.as_str(), recorded_id.as_str());
        let recorded = recording
            .deliveries()
            .iter()
            .find(|r| r.event_id.as_str() == recorded_id && is_sent_as(r, &event.body, &event.event_id))
            .unwrap_or_else(|| panic!("no recorded body for {}", event.event_id));
        assert_eq!(recorded.event_id.as_str(), recorded_id);
    }
    // B's duplicates: the redeliveries of each body it stored, the conflicting versions' included.
    let redeliveries: u32 = stored
        .iter()
        .map(|(event, versions)| event.deliveries - 1 + versions.iter().map(|v| v.deliveries - 1).sum::<u32>())
        .sum();
    assert_eq!(redeliveries as usize, duplicates);
    let conflicts: usize = stored.iter().map(|(_, versions)| versions.len()).sum();
    assert_eq!(conflicts, 1, "the conflict arrives as a conflict again");

    // The same seed replays the same way.
    let again = crate::run(
        &[
            "replay",
            file.to_str().unwrap(),
            "--to",
            &url,
            "--chaos",
            "duplicates=0.2,reorder=10,burst=5",
            "--speed",
            "max",
            "--seed",
            "42",
            "--json",
        ],
        &[],
    )
    .await;
    assert_eq!(again.code, 1, "nothing listens any more: every delivery failed");
    let again: Value = serde_json::from_str(again.stdout.lines().next().unwrap()).unwrap();
    let order = |report: &Value| -> Vec<(String, bool)> {
        report["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (d["eventId"].as_str().unwrap().to_owned(), d["duplicate"] == true))
            .collect()
    };
    assert_eq!(order(&again), order(&report));
    assert_eq!(again["failed"], lines + duplicates);
    assert_eq!(again["statuses"], serde_json::json!({ "none": lines + duplicates }));
}

/// Whether `stored` is the recorded body with its eventId replaced by `fresh_id`, every other byte kept.
fn is_sent_as(recorded: &traffic::Recorded, stored: &[u8], fresh_id: &cxtn::EventId) -> bool {
    recorded
        .with_event_id(fresh_id)
        .is_some_and(|body| body.as_ref() == stored)
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_keeps_ids_when_asked_and_reports_refusals() {
    let captured = captured().await;
    let file = captured.dir.path().join("traffic.jsonl");
    std::fs::write(&file, export(&captured, &[]).await.stdout.as_bytes()).unwrap();
    let inbox: Arc<dyn Inbox> = Arc::new(SqliteInbox::open(&captured.db).unwrap());
    let (running, url) = receiver(inbox.clone()).await;
    let (base, _) = url.rsplit_once('/').unwrap();
    let before = inbox.stats().await.unwrap();

    // Into the inbox they came from, under their own ids, with the token given apart: all duplicates.
    let run = run(
        &[
            "replay",
            file.to_str().unwrap(),
            "--to",
            base,
            "--keep-ids",
            "--speed",
            "max",
        ],
        &[("CXTN_PATH_TOKEN", TOKEN)],
    )
    .await;
    run.assert_code(0);
    assert!(
        run.stdout.contains("Sent 31 deliveries (31 recorded, 0 duplicates)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("200 ×31") && run.stdout.contains("All 31 accepted."),
        "{}",
        run.stdout
    );
    let after = inbox.stats().await.unwrap();
    assert_eq!(after.duplicates, before.duplicates + 30);

    // A wrong token: every delivery refused, exit 1, each refusal listed.
    let refused = crate::run(
        &[
            "replay",
            file.to_str().unwrap(),
            "--to",
            base,
            "--path-token",
            "not-the-token-at-all-not-the-token",
            "--speed",
            "100x",
            "--chaos",
            "burst=8",
        ],
        &[],
    )
    .await;
    refused.assert_code(1);
    assert!(
        refused.stderr.contains("error: 31 of 31 deliveries were not accepted"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.starts_with("warning: --path-token holds a secret")
            && refused.stderr.contains("use CXTN_PATH_TOKEN instead"),
        "{}",
        refused.stderr
    );
    assert!(
        !run.stderr.contains("warning"),
        "a token from the variable is no warning: {}",
        run.stderr
    );
    assert!(
        refused.stdout.contains("... and 11 more not accepted."),
        "{}",
        refused.stdout
    );
    running.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_says_what_is_wrong_with_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.jsonl");
    let good = r#"{"receivedAt":"2026-11-30T10:00:00.000Z","eventId":"wh_1","event":"e","body":"{}"}"#;
    std::fs::write(&file, format!("{good}\n{{\"receivedAt\":\"soon\"}}\n")).unwrap();
    let path = file.to_str().unwrap();
    run(&["replay", path, "--to", "http://127.0.0.1:9/x"], &[])
        .await
        .assert_error(2, "line 2:");
    run(
        &["replay", "/nonexistent/traffic.jsonl", "--to", "http://127.0.0.1:9/x"],
        &[],
    )
    .await
    .assert_error(1, "cannot read");
    run(
        &["replay", path, "--to", "http://127.0.0.1:9/x", "--chaos", "loss=0.5"],
        &[],
    )
    .await
    .assert_error(2, "not a kind of chaos");
    run(
        &["replay", path, "--to", "http://127.0.0.1:9/x", "--speed", "fast"],
        &[],
    )
    .await
    .assert_error(2, "not a speed");
    run(&["replay", path, "--to", "not a url"], &[])
        .await
        .assert_error(2, "--to");
}

/// What the tests expect an export to hold: the bodies in order of arrival, the conflict after its event.
fn expected_order(bodies: &[String]) -> Vec<&[u8]> {
    let mut expected: Vec<&[u8]> = bodies[..EVENTS].iter().map(|b| b.as_bytes()).collect();
    expected.insert(12, bodies[EVENTS].as_bytes());
    expected
}

/// Replays `file` with chaos into `inbox` and checks it holds exactly the distinct events, and as many
/// redeliveries as the report says duplicates were sent.
async fn replay_into(inbox: Arc<dyn Inbox>, file: &std::path::Path) {
    let (running, url) = receiver(inbox.clone()).await;
    let args = [
        "replay",
        file.to_str().unwrap(),
        "--to",
        &url,
        "--chaos",
        "duplicates=0.5,reorder=10,burst=5",
        "--speed",
        "max",
        "--json",
    ];
    let report = run(&args, &[]).await.assert_code(0).json();
    running.shutdown().await;
    let stored = everything(&inbox).await;
    assert_eq!(stored.len(), EVENTS);
    let redeliveries: u32 = stored
        .iter()
        .map(|(event, versions)| event.deliveries - 1 + versions.iter().map(|v| v.deliveries - 1).sum::<u32>())
        .sum();
    assert_eq!(u64::from(redeliveries), report["duplicates"].as_u64().unwrap());
    assert_eq!(report["duplicates"], 16, "round(0.5 × 31)");
}

/// The PostgreSQL server the tests use: `CXTN_TEST_POSTGRES_URL`, or the local server.
fn postgres_url() -> String {
    std::env::var("CXTN_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

async fn postgres_inbox(url: &str, schema: &str) -> Arc<dyn Inbox> {
    let inbox = cxtn::receiver::PostgresInbox::builder(url)
        .schema(schema)
        .connect()
        .await
        .expect("a PostgreSQL server on 127.0.0.1:5432, or CXTN_TEST_POSTGRES_URL naming one");
    Arc::new(inbox)
}

async fn drop_schemas(url: &str, schemas: &[&str]) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    for schema in schemas {
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_postgres_inbox_exports_and_takes_a_replay_the_same_way() {
    let url = postgres_url();
    let suffix: String = std::iter::repeat_with(fastrand::lowercase).take(10).collect();
    let (schema_a, schema_b) = (format!("cxtn_export_{suffix}"), format!("cxtn_replay_{suffix}"));
    let bodies = deliver(postgres_inbox(&url, &schema_a).await).await;

    let exported = run(&["inbox", "--db", &url, "--schema", &schema_a, "export"], &[]).await;
    let recording = traffic::read_jsonl(exported.assert_code(0).stdout.as_bytes()).unwrap();
    assert_eq!(recording.bodies().collect::<Vec<_>>(), expected_order(&bodies));
    assert_eq!(recording.deliveries()[10].deliveries, 2);
    assert!(recording.deliveries()[12].conflict);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("traffic.jsonl");
    std::fs::write(&file, exported.stdout.as_bytes()).unwrap();
    replay_into(postgres_inbox(&url, &schema_b).await, &file).await;
    drop_schemas(&url, &[&schema_a, &schema_b]).await;
}
