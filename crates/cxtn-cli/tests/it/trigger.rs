//! `cxtn trigger` into receivers started in the test.

use std::sync::Arc;

use cxtn::model::DataEncoding;
use cxtn::receiver::{EventFilter, Inbox, MemoryInbox, Receiver};
use serde_json::json;

use crate::{TOKEN, memory_receiver, run};

#[tokio::test(flavor = "multi_thread")]
async fn sends_fresh_ids_exact_values_and_duplicates() {
    let (inbox, _running, url) = memory_receiver().await;
    let run = run(
        &[
            "trigger",
            "account_credit",
            "--to",
            &url,
            "--set",
            "amount=1000.00",
            "--set",
            "userId=C42",
            "--set",
            "objectId=7",
            "--count",
            "2",
            "--duplicate",
            "--json",
        ],
        &[],
    )
    .await;
    run.assert_code(0);
    let lines = run.json_lines();
    assert_eq!(lines.len(), 4, "{}", run.stdout);
    for line in &lines {
        assert_eq!(line["status"], json!(200), "{line}");
        assert_eq!(line["ok"], json!(true));
        assert_eq!(line["event"], json!("account_credit"));
        assert_eq!(line["encoding"], json!("object"));
        assert_eq!(line["error"], json!(null));
    }
    assert_eq!(lines[0]["eventId"], lines[1]["eventId"], "a duplicate repeats the id");
    assert_eq!(
        (lines[0]["duplicate"].clone(), lines[1]["duplicate"].clone()),
        (json!(false), json!(true))
    );
    assert_ne!(
        lines[0]["eventId"], lines[2]["eventId"],
        "each notification has a fresh id"
    );

    let events = inbox.events(EventFilter::all()).await.unwrap();
    assert_eq!(events.len(), 2);
    for event in &events {
        assert_eq!(event.deliveries, 2, "stored once, delivered twice");
        let body = std::str::from_utf8(&event.body).unwrap();
        assert!(body.contains(r#""amount":1000.00"#), "the number text is kept: {body}");
        assert!(
            body.contains(r#""userId":"C42""#),
            "non-JSON values go as strings: {body}"
        );
        assert!(body.contains(r#""objectId":7"#), "{body}");
        let notification = cxtn::events::parse(&event.body).unwrap();
        assert!(notification.event_id().is_conventional(), "{}", notification.event_id());
        assert_eq!(notification.data_encoding(), DataEncoding::Object);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sends_a_guide_sample_with_data_as_a_string() {
    let (inbox, _running, url) = memory_receiver().await;
    let run = run(&["trigger", "pot_credit", "--to", &url, "--data-as-string"], &[]).await;
    run.assert_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", run.stdout);
    assert!(lines[0].starts_with("200  wh_"), "{}", lines[0]);
    assert!(lines[0].ends_with("  account_credit"), "{}", lines[0]);
    assert!(lines[1].starts_with("Sent 1 of 1 to http://127.0.0.1:"), "{}", lines[1]);
    assert!(!run.stdout.contains(TOKEN), "the receiver URL is redacted");
    let event = &inbox.events(EventFilter::all()).await.unwrap()[0];
    let notification = cxtn::events::parse(&event.body).unwrap();
    assert_eq!(notification.data_encoding(), DataEncoding::String);
    assert_eq!(
        notification.currency().unwrap().as_str(),
        "CC-GBP",
        "the pot sample's data"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_in_the_url_are_sent_as_basic_auth() {
    let inbox: Arc<dyn Inbox> = Arc::new(MemoryInbox::new());
    let receiver = Receiver::builder(inbox.clone())
        .basic_auth("cxtn", "b4sic-p@ss")
        .build()
        .unwrap();
    let running = receiver.bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://cxtn:b4sic-p%40ss@{}/hooks", running.addr());
    let run = run(&["trigger", "payment_completed", "--to", &url], &[]).await;
    run.assert_code(0);
    assert!(!run.stdout.contains("b4sic"), "{}", run.stdout);
    assert_eq!(inbox.stats().await.unwrap().pending, 1);

    let wrong = format!("http://cxtn:wrong@{}/hooks", running.addr());
    let run = crate::run(&["trigger", "payment_completed", "--to", &wrong], &[]).await;
    run.assert_error(1, "1 of 1 deliveries were not accepted");
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_deliveries_exit_1_with_their_status() {
    let (inbox, running, _url) = memory_receiver().await;
    let wrong = format!("http://{}/cxtn/not-the-token", running.addr());
    let run = run(
        &["trigger", "trade_settled", "--to", &wrong, "--count", "2", "--json"],
        &[],
    )
    .await;
    run.assert_error(1, "2 of 2 deliveries were not accepted");
    let lines = run.json_lines();
    assert_eq!(lines.len(), 2);
    assert!(
        lines
            .iter()
            .all(|l| l["status"] == json!(401) && l["ok"] == json!(false))
    );
    assert_eq!(inbox.stats().await.unwrap().pending, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_notification_is_sent_with_a_warning_and_quarantined() {
    let (inbox, _running, url) = memory_receiver().await;
    let run = run(&["trigger", "account_debit", "--to", &url, "--set", "amount=ten"], &[]).await;
    // Its envelope is usable, so the receiver keeps it under its eventId instead of rejecting it.
    run.assert_code(0);
    assert!(
        run.stderr.starts_with("warning: with these --set values"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.starts_with("200  wh_"), "{}", run.stdout);
    let stats = inbox.stats().await.unwrap();
    assert_eq!((stats.quarantined, stats.rejected), (1, 0), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn nobody_listening_exits_1_and_stops() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/cxtn/x", listener.local_addr().unwrap());
    drop(listener);
    let run = run(&["trigger", "account_credit", "--to", &url, "--count", "5"], &[]).await;
    run.assert_error(1, "stopped at a delivery that got no answer; 0 of 5 were accepted");
    assert!(
        run.stderr.contains("Check that a receiver is running"),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stdout.lines().filter(|l| l.starts_with("---")).count(),
        1,
        "{}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_events_and_bad_urls_are_wrong_usage() {
    let run = run(&["trigger", "loan_approved", "--to", "http://127.0.0.1:1/x"], &[]).await;
    run.assert_error(2, "`loan_approved` is not an event or a sample");
    assert!(
        run.stderr.contains("pot_credit"),
        "the choices are listed: {}",
        run.stderr
    );
    let run = crate::run(&["trigger", "account_credit", "--to", "127.0.0.1:8080/x"], &[]).await;
    run.assert_error(2, "--to");
    let run = crate::run(&["trigger", "account_credit", "--to", "ftp://127.0.0.1/x"], &[]).await;
    run.assert_error(2, "is not an http or https URL");
}
