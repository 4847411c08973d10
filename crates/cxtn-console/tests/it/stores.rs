//! The same console over each inbox: memory, SQLite and PostgreSQL (at `CXTN_TEST_POSTGRES_URL`, or the local
//! server), through the `Inbox` trait only.

use std::sync::Arc;
use std::time::Duration;

use cxtn_receiver::{EventId, EventStatus, Inbox, PostgresInbox};

use crate::{get, now_ms, payment, post_form, reject, serve, store};

/// What every inbox must show alike.
async fn check(inbox: Arc<dyn Inbox>) {
    let now = now_ms();
    for (i, sample) in cxtn_events::samples::GUIDE.iter().enumerate() {
        store(inbox.as_ref(), sample.body, now - 60_000 + i as i64).await;
    }
    store(inbox.as_ref(), &payment("wh_store", "1000.00", 777_001), now - 1000).await;
    let claimed = inbox.claim(Duration::from_secs(30), 100, false).await.unwrap();
    let claim = claimed.iter().find(|c| c.event_id.as_str() == "wh_store").unwrap();
    inbox
        .complete(
            &claim.event_id,
            claim.token,
            cxtn_receiver::Completion::Dead {
                error: "gave up".to_owned(),
            },
        )
        .await
        .unwrap();
    for other in claimed.iter().filter(|c| c.event_id.as_str() != "wh_store") {
        inbox.release(&other.event_id, other.token).await.unwrap();
    }
    let rejection = reject(inbox.as_ref(), &payment("wh_reparsed", "5.00", 5), now).await;

    let served = serve(crate::console(inbox.clone())).await;
    let overview = get(&served.url("")).await;
    assert_eq!(overview.status, 200, "{}", overview.body);
    assert_eq!(overview.text_of("count-dead"), "1");
    assert_eq!(overview.text_of("count-rejected"), "1");
    assert_eq!(overview.text_of("count-pending"), "7");
    assert!(overview.body.contains("<rect class=\"bar\""));

    let dead = get(&served.url("events?status=dead")).await;
    assert_eq!(dead.event_rows(), vec!["wh_store".to_owned()]);
    let by_object = get(&served.url("events?q=777001")).await;
    assert_eq!(by_object.event_rows(), vec!["wh_store".to_owned()]);
    let by_event = get(&served.url("events?event=trade_settled")).await;
    assert_eq!(by_event.event_rows().len(), 1);
    let page = get(&served.url("events/wh_store")).await;
    assert_eq!(page.text_of("amount"), "1000.00 GBP");
    assert_eq!(page.text_of("last-error"), "gave up");

    let replayed = post_form(&served, "events/wh_store", "events/wh_store/replay").await;
    assert_eq!(replayed.status, 303, "{}", replayed.body);
    assert_eq!(get(&served.url("events/wh_store")).await.text_of("status"), "pending");

    let path = format!("rejections/{rejection}");
    let reparsed = post_form(&served, &path, &format!("{path}/reparse")).await;
    assert_eq!(reparsed.status, 303, "{}", reparsed.body);
    let record = inbox.event(&EventId::new("wh_reparsed")).await.unwrap().unwrap();
    assert_eq!(record.status, EventStatus::Pending);
    served.stop().await;
}

#[tokio::test]
async fn over_a_memory_inbox() {
    check(crate::memory()).await;
}

#[tokio::test]
async fn over_a_sqlite_inbox() {
    let dir = tempfile::tempdir().unwrap();
    check(crate::sqlite(&dir)).await;
}

#[tokio::test]
async fn over_a_postgres_inbox() {
    let url = match std::env::var("CXTN_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => "postgres://postgres@127.0.0.1:5432/postgres".to_owned(),
    };
    let schema = format!(
        "cxtn_console_{}_{}",
        std::process::id(),
        now_ms().rem_euclid(1_000_000_000)
    );
    let inbox = match PostgresInbox::builder(&url)
        .schema(&schema)
        .pool_size(4)
        .connect()
        .await
    {
        Ok(inbox) => inbox,
        Err(e) => panic!(
            "cannot reach the test PostgreSQL: {e}; start PostgreSQL on 127.0.0.1:5432, run .ci/run (it starts one), \
             or set CXTN_TEST_POSTGRES_URL to an empty database"
        ),
    };
    check(Arc::new(inbox)).await;
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .await
        .unwrap();
}
