//! `cxtn inbox prune`, `cxtn inbox vacuum` and `cxtn listen --retain-processed` over SQLite files.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cxtn::receiver::{Completion, EventId, Inbox, NewEvent, NewRejection, SqliteInbox};
use serde_json::json;

use crate::{Background, TOKEN, eventually, post_raw, receiver, run};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

fn body(id: &str) -> String {
    format!(
        r#"{{"eventId":"{id}","event":"account_credit","data":{{"objectId":1,"userId":"C1","amount":"10.00","currency":"GBP","accountId":"A1","transactionId":"T1","reference":"r"}}}}"#
    )
}

/// An inbox holding, 40 days old: two processed events, one dead letter, one quarantined event and one
/// rejection; and one processed event that arrived now.
struct Old {
    _dir: tempfile::TempDir,
    db: String,
}

async fn old_inbox() -> Old {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cxtn-inbox.sqlite").to_str().unwrap().to_owned();
    let inbox = SqliteInbox::open(&db).unwrap();
    let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap();
    let old = now - 40 * DAY_MS;
    for (id, at) in [("wh_old1", old), ("wh_old2", old), ("wh_dead", old), ("wh_new", now)] {
        let new = NewEvent::new(id, "account_credit", None, at, body(id).into());
        inbox.store(new).await.unwrap();
    }
    let odd = NewEvent::new("wh_odd", "account_credit", None, old, body("wh_odd").into());
    inbox.store(odd.quarantined("`data` does not fit")).await.unwrap();
    let rejection = NewRejection::new(old, b"{nope".as_slice().into(), "not JSON", "syntax");
    inbox.reject(rejection).await.unwrap();
    for claimed in inbox.claim(Duration::from_secs(60), 10, false).await.unwrap() {
        let completion = if claimed.event_id.as_str() == "wh_dead" {
            Completion::Dead {
                error: "refused".into(),
            }
        } else {
            Completion::Processed
        };
        assert!(
            inbox
                .complete(&claimed.event_id, claimed.token, completion)
                .await
                .unwrap()
        );
    }
    Old { _dir: dir, db }
}

async fn stats(db: &str) -> serde_json::Value {
    run(&["inbox", "--db", db, "stats", "--json"], &[])
        .await
        .assert_code(0)
        .json()
}

#[tokio::test]
async fn a_dry_run_counts_and_deletes_nothing() {
    let old = old_inbox().await;
    let dry = run(
        &[
            "inbox",
            "--db",
            &old.db,
            "prune",
            "--processed-older-than",
            "30d",
            "--dry-run",
            "--json",
        ],
        &[],
    )
    .await;
    let report = dry.assert_code(0).json();
    assert_eq!(
        (
            &report["operation"],
            &report["processed"],
            &report["dead"],
            &report["rejections"]
        ),
        (&json!("prune"), &json!(2), &json!(0), &json!(0)),
        "{report}"
    );
    assert_eq!((&report["dryRun"], &report["remembered"]), (&json!(true), &json!(2)));
    assert_eq!(stats(&old.db).await["processed"], json!(3), "nothing was deleted");

    let human = run(
        &[
            "inbox",
            "--db",
            &old.db,
            "prune",
            "--processed-older-than",
            "30d",
            "--dry-run",
        ],
        &[],
    )
    .await;
    let out = &human.assert_code(0).stdout;
    assert!(
        out.contains("Would delete 2 events (2 processed, 0 dead, 0 quarantined)"),
        "{out}"
    );
    assert!(out.contains("Nothing was deleted"), "{out}");
}

#[tokio::test]
async fn prune_keeps_dead_letters_quarantine_and_rejections_unless_asked() {
    let old = old_inbox().await;
    let pruned = run(
        &["inbox", "--db", &old.db, "prune", "--processed-older-than", "30d"],
        &[],
    )
    .await;
    let out = &pruned.assert_code(0).stdout;
    assert!(
        out.contains("Deleted 2 events (2 processed, 0 dead, 0 quarantined)"),
        "{out}"
    );
    assert!(out.contains("2 event ids remembered"), "{out}");
    let after = stats(&old.db).await;
    assert_eq!(
        (
            &after["processed"],
            &after["dead"],
            &after["quarantined"],
            &after["rejected"]
        ),
        (&json!(1), &json!(1), &json!(1), &json!(1)),
        "{after}"
    );

    let all = run(
        &[
            "inbox",
            "--db",
            &old.db,
            "prune",
            "--processed-older-than",
            "30d",
            "--dead-older-than",
            "30d",
            "--include-quarantined",
            "--include-rejections",
            "--json",
        ],
        &[],
    )
    .await;
    let report = all.assert_code(0).json();
    assert_eq!(
        (
            &report["processed"],
            &report["dead"],
            &report["quarantined"],
            &report["rejections"]
        ),
        (&json!(0), &json!(1), &json!(1), &json!(1)),
        "{report}"
    );
    let after = stats(&old.db).await;
    assert_eq!(
        (
            &after["processed"],
            &after["dead"],
            &after["quarantined"],
            &after["rejected"]
        ),
        (&json!(1), &json!(0), &json!(0), &json!(0)),
        "{after}"
    );
}

#[tokio::test]
async fn a_pruned_event_delivered_again_is_answered_and_not_stored() {
    let old = old_inbox().await;
    run(
        &["inbox", "--db", &old.db, "prune", "--processed-older-than", "30d"],
        &[],
    )
    .await
    .assert_code(0);
    let inbox: Arc<dyn Inbox> = Arc::new(SqliteInbox::open(&old.db).unwrap());
    let (running, url) = receiver(inbox.clone()).await;
    assert_eq!(
        post_raw(&url, &body("wh_old1")).await,
        200,
        "a redelivery is acknowledged"
    );
    running.shutdown().await;
    assert!(
        inbox.event(&EventId::new("wh_old1")).await.unwrap().is_none(),
        "and not stored again"
    );
    let after = stats(&old.db).await;
    assert_eq!(
        (&after["pending"], &after["processed"]),
        (&json!(0), &json!(1)),
        "{after}"
    );
}

#[tokio::test]
async fn prune_refuses_wrong_usage() {
    let old = old_inbox().await;
    let prune = |extra: &'static [&'static str]| {
        let db = old.db.clone();
        async move {
            let mut args = vec!["inbox", "--db", db.as_str(), "prune"];
            args.extend_from_slice(extra);
            run(&args, &[]).await
        }
    };
    prune(&[]).await.assert_error(2, "--processed-older-than");
    prune(&["--processed-older-than", "30x"]).await.assert_error(2, "30d");
    prune(&["--dead-older-than", "30d", "--include-quarantined"])
        .await
        .assert_error(2, "--processed-older-than");
    assert_eq!(stats(&old.db).await["processed"], json!(3));
}

#[tokio::test]
async fn vacuum_gives_free_space_back() {
    let old = old_inbox().await;
    run(
        &["inbox", "--db", &old.db, "prune", "--processed-older-than", "30d"],
        &[],
    )
    .await
    .assert_code(0);
    let vacuum = run(&["inbox", "--db", &old.db, "vacuum", "--json"], &[]).await;
    let report = vacuum.assert_code(0).json();
    assert_eq!(
        (&report["operation"], &report["switched"]),
        (&json!("vacuum"), &json!(false)),
        "a file made by this version uses incremental vacuum from the start: {report}"
    );
    assert!(report["bytesAfter"].as_u64().unwrap() <= report["bytesBefore"].as_u64().unwrap());
    let missing = run(&["inbox", "--db", "/nonexistent/inbox.sqlite", "vacuum"], &[]).await;
    missing.assert_error(1, "no inbox");
}

#[tokio::test(flavor = "multi_thread")]
async fn listen_prunes_processed_events_with_retain_processed() {
    let old = old_inbox().await;
    let args = [
        "listen",
        "--addr",
        "127.0.0.1:0",
        "--db",
        old.db.as_str(),
        "--json",
        "--retain-processed",
        "30d",
    ];
    let mut listen = Background::spawn(&args, &[("CXTN_PATH_TOKEN", TOKEN)]);
    let first = listen.json_line().await;
    assert_eq!(first["retainProcessedSeconds"], json!(30 * 24 * 3600), "{first}");
    let db = old.db.clone();
    eventually("the retention policy to prune the old processed events", || {
        let db = db.clone();
        async move { stats(&db).await["processed"] == json!(1) }
    })
    .await;
    let (code, rest) = listen.interrupt().await;
    assert_eq!(code, 0, "{rest}");
    let after = stats(&old.db).await;
    assert_eq!(
        (&after["dead"], &after["quarantined"]),
        (&json!(1), &json!(1)),
        "{after}"
    );
}
