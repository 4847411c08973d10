//! `cxtn trigger` through a simulator started in the test, and straight into receivers started in the test.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use cxtn::model::DataEncoding;
use cxtn::receiver::{EventFilter, Inbox, MemoryInbox, Receiver};
use cxtn::{EndpointStatus, WebhookEventType};
use serde_json::json;
use tokio::io::AsyncWriteExt;

use crate::{TOKEN, eventually, memory_receiver, run, sandbox};

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
    assert!(run.stderr.contains("path token and its credentials"), "{}", run.stderr);
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
    assert_eq!(run.code, 1);
    let error: serde_json::Value = serde_json::from_str(run.stderr.trim()).unwrap();
    assert_eq!(error["error"]["kind"], json!("delivery"), "{error}");
    assert_eq!(error["error"]["exitCode"], json!(1), "{error}");
    assert_eq!(
        error["error"]["message"],
        json!("2 of 2 deliveries were not accepted (no 2xx answer)")
    );
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
        run.stderr
            .contains("Check that a receiver (such as `cxtn listen`) is running"),
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

/// A receiver stand-in on 127.0.0.1:0 that answers the statuses given, in order, then the last one again;
/// its URL and the number of requests it got.
async fn scripted(statuses: &[u16]) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/{TOKEN}", listener.local_addr().unwrap());
    let seen = Arc::new(AtomicUsize::new(0));
    let (statuses, counter) = (statuses.to_vec(), seen.clone());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let status = statuses[n.min(statuses.len() - 1)];
            tokio::spawn(async move {
                if crate::read_request(&mut stream).await.is_none() {
                    return;
                }
                let answer = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    (url, seen)
}

/// The environment that points the commands at `sandbox`.
fn at(sandbox: &cxtn::sandbox::Sandbox) -> [(&'static str, String); 2] {
    [
        ("CXTN_BASE_URL", sandbox.base_url()),
        ("CXTN_ACCESS_TOKEN", sandbox.token().expose_secret().to_owned()),
    ]
}

async fn trigger_at(sandbox: &cxtn::sandbox::Sandbox, args: &[&str]) -> crate::Run {
    let env = at(sandbox);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut all = vec!["trigger"];
    all.extend_from_slice(args);
    run(&all, &env).await
}

#[tokio::test(flavor = "multi_thread")]
async fn through_the_simulator_to_the_registered_endpoint_with_a_duplicate() {
    let sandbox = sandbox().await;
    let (inbox, _running, url) = memory_receiver().await;
    let env = at(&sandbox);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    run(&["webhooks", "enable"], &env).await.assert_code(0);
    run(
        &[
            "webhooks",
            "ensure",
            "--event-type",
            "AccountTransaction",
            "--url",
            &url,
        ],
        &env,
    )
    .await
    .assert_code(0);

    let run = trigger_at(
        &sandbox,
        &["account_credit", "--set", "amount=1000.00", "--duplicate", "--json"],
    )
    .await;
    run.assert_code(0);
    let lines = run.json_lines();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    let triggered = &lines[0];
    assert_eq!(triggered["type"], json!("triggered"));
    assert_eq!(triggered["event"], json!("account_credit"));
    assert_eq!(triggered["subscription"], json!("AccountTransaction"));
    assert_eq!(triggered["outcome"], json!("pending"));
    assert_eq!(triggered["reason"], json!(null));
    let ids = triggered["deliveries"].as_array().unwrap().clone();
    assert_eq!(ids.len(), 2, "a duplicate is a second delivery");
    for line in &lines[1..] {
        assert_eq!(line["type"], json!("delivery"), "{line}");
        assert_eq!(line["outcome"], json!("delivered"), "{line}");
        assert_eq!(line["status"], json!(200), "{line}");
        assert_eq!(line["eventId"], triggered["eventId"]);
        assert_eq!(line["eventType"], json!("AccountTransaction"));
        assert!(
            !line["url"].as_str().unwrap().contains(TOKEN),
            "the URL is redacted: {line}"
        );
    }
    let duplicates: Vec<_> = lines[1..].iter().filter(|l| !l["duplicateOf"].is_null()).collect();
    assert_eq!(duplicates.len(), 1, "{}", run.stdout);

    let events = inbox.events(EventFilter::all()).await.unwrap();
    assert_eq!(events.len(), 1, "stored once");
    assert_eq!(events[0].deliveries, 2, "delivered twice");
    let body = std::str::from_utf8(&events[0].body).unwrap();
    assert!(body.contains(r#""amount":1000.00"#), "the number text is kept: {body}");
    assert_eq!(json!(events[0].event_id.as_str()), triggered["eventId"]);
    let log = sandbox.deliveries();
    assert_eq!(log.len(), 2, "the simulator sent it, not the command line");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guide_sample_goes_through_the_simulator_in_its_encoding_for_people() {
    let sandbox = sandbox().await;
    let (inbox, _running, url) = memory_receiver().await;
    sandbox.enable_webhooks().unwrap();
    sandbox
        .create_endpoint(WebhookEventType::AccountTransaction, &url)
        .unwrap();
    let run = trigger_at(&sandbox, &["pot_credit", "--data-as-string"]).await;
    run.assert_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    assert!(lines[0].starts_with("wh_"), "{}", lines[0]);
    assert!(
        lines[0].contains("  account_credit  sending to the AccountTransaction endpoint (delivery 1)"),
        "{}",
        lines[0]
    );
    assert!(lines[1].starts_with("200  wh_"), "{}", lines[1]);
    assert!(lines[1].contains("delivered to http://127.0.0.1:"), "{}", lines[1]);
    assert!(lines[1].contains("(1 attempt)"), "{}", lines[1]);
    assert_eq!(
        lines[2],
        "The simulator delivered 1 of 1: 0 held, 0 failed, 0 still being retried, 0 not sent."
    );
    assert!(!run.stdout.contains(TOKEN), "{}", run.stdout);
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
async fn a_paused_endpoint_holds_the_notification_and_says_how_to_send_it() {
    let sandbox = sandbox().await;
    let (inbox, _running, url) = memory_receiver().await;
    sandbox.enable_webhooks().unwrap();
    sandbox.create_endpoint(WebhookEventType::Payment, &url).unwrap();
    sandbox
        .set_endpoint_status(WebhookEventType::Payment, EndpointStatus::Paused)
        .unwrap();

    let json_run = trigger_at(&sandbox, &["payment_completed", "--json"]).await;
    json_run.assert_code(0);
    let lines = json_run.json_lines();
    assert_eq!(lines.len(), 2, "{}", json_run.stdout);
    assert_eq!(lines[0]["outcome"], json!("held"));
    assert_eq!(lines[1]["outcome"], json!("held"));
    assert_eq!(lines[1]["attempts"], json!(0));

    let people = trigger_at(&sandbox, &["payment_completed"]).await;
    people.assert_code(0);
    assert!(
        people.stdout.contains("held: the Payment endpoint is Paused"),
        "{}",
        people.stdout
    );
    assert!(
        people
            .stderr
            .contains("`cxtn webhooks status --event-type Payment --status active`"),
        "{}",
        people.stderr
    );
    assert_eq!(inbox.stats().await.unwrap().pending, 0, "nothing arrived while paused");

    sandbox
        .set_endpoint_status(WebhookEventType::Payment, EndpointStatus::Active)
        .unwrap();
    eventually("the held notifications to arrive", || {
        let inbox = inbox.clone();
        async move { inbox.stats().await.unwrap().pending == 2 }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_are_shown_as_they_happen() {
    // Waits long enough between attempts for the command to see each failed one.
    let sandbox = cxtn::sandbox::Sandbox::builder()
        .retry_schedule([
            std::time::Duration::from_millis(400),
            std::time::Duration::from_millis(400),
        ])
        .start()
        .await
        .unwrap();
    let (url, seen) = scripted(&[500, 503, 200]).await;
    sandbox.enable_webhooks().unwrap();
    sandbox
        .create_endpoint(WebhookEventType::AccountTransaction, &url)
        .unwrap();
    let run = trigger_at(&sandbox, &["account_debit", "--json"]).await;
    run.assert_code(0);
    let lines = run.json_lines();
    let attempts: Vec<_> = lines.iter().filter(|l| l["type"] == json!("attempt")).collect();
    assert_eq!(attempts.len(), 2, "{}", run.stdout);
    assert_eq!(
        (attempts[0]["attempt"].clone(), attempts[1]["attempt"].clone()),
        (json!(1), json!(2))
    );
    assert!(
        attempts.iter().all(|a| a["status"].as_u64().unwrap() >= 500),
        "{}",
        run.stdout
    );
    let last = lines.last().unwrap();
    assert_eq!(last["type"], json!("delivery"));
    assert_eq!(
        (last["outcome"].clone(), last["attempts"].clone()),
        (json!("delivered"), json!(3))
    );
    assert_eq!(seen.load(Ordering::SeqCst), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_body_fails_after_the_retries_and_blames_the_values() {
    let sandbox = sandbox().await;
    let (url, _seen) = scripted(&[400]).await;
    sandbox.enable_webhooks().unwrap();
    sandbox
        .create_endpoint(WebhookEventType::AccountTransaction, &url)
        .unwrap();
    let run = trigger_at(&sandbox, &["account_credit", "--set", "amount=abc"]).await;
    run.assert_code(1);
    assert!(
        run.stderr.starts_with("warning: with these --set values"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("\nerror: 1 of 1 deliveries failed on every attempt"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("check the values, or leave --set out"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("path token"), "{}", run.stderr);
    assert!(run.stdout.contains("failed at http://127.0.0.1:"), "{}", run.stdout);
    assert!(run.stdout.contains("after 3 attempts"), "{}", run.stdout);

    let (direct, _) = scripted(&[400]).await;
    let run = crate::run(
        &["trigger", "account_credit", "--to", &direct, "--set", "amount=abc"],
        &[],
    )
    .await;
    run.assert_code(1);
    assert!(
        run.stderr.contains("\nerror: 1 of 1 deliveries were not accepted"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("The receiver refused the body (400)"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("path token"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn what_the_simulator_skips_names_the_command_that_fixes_it() {
    let sandbox = sandbox().await;
    let run = trigger_at(&sandbox, &["account_credit"]).await;
    run.assert_error(1, "the simulator sent nothing: webhooks are not enabled");
    assert!(run.stderr.contains("Run `cxtn webhooks enable`"), "{}", run.stderr);

    sandbox.enable_webhooks().unwrap();
    let run = trigger_at(&sandbox, &["account_credit", "--json"]).await;
    assert_eq!(run.code, 1);
    assert_eq!(run.json_lines()[0]["reason"], json!("no_endpoint"));
    let error: serde_json::Value = serde_json::from_str(run.stderr.trim()).unwrap();
    assert_eq!(error["error"]["kind"], json!("delivery"));
    assert!(
        error["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("`cxtn webhooks ensure --event-type AccountTransaction --url URL`"),
        "{error}"
    );

    sandbox
        .create_endpoint(WebhookEventType::AccountTransaction, "http://127.0.0.1:1/x")
        .unwrap();
    sandbox
        .set_endpoint_status(WebhookEventType::AccountTransaction, EndpointStatus::Inactive)
        .unwrap();
    let run = trigger_at(&sandbox, &["account_credit"]).await;
    run.assert_error(1, "the AccountTransaction endpoint is Inactive");
    assert!(
        run.stderr
            .contains("`cxtn webhooks status --event-type AccountTransaction --status active`"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_simulator_or_a_receiver_it_says_which_to_give() {
    let run = run(&["trigger", "account_credit"], &[]).await;
    run.assert_error(2, "neither --base-url nor --to was given");
    assert!(run.stderr.contains("Start `cxtn sandbox`"), "{}", run.stderr);

    let (_inbox, running, _url) = memory_receiver().await;
    let not_a_simulator = format!("http://{}/api/", running.addr());
    let run = crate::run(
        &["trigger", "account_credit"],
        &[("CXTN_BASE_URL", not_a_simulator.as_str())],
    )
    .await;
    run.assert_error(1, "is not a local simulator (it answered 401)");
    let run = crate::run(
        &["trigger", "account_credit"],
        &[("CXTN_BASE_URL", "http://user:secret-pass@127.0.0.1:1/api/")],
    )
    .await;
    run.assert_error(2, "--base-url holds credentials");
    assert!(!run.stderr.contains("secret-pass"), "{}", run.stderr);

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = format!("http://{}/api/", listener.local_addr().unwrap());
    drop(listener);
    let run = crate::run(
        &["trigger", "account_credit", "--json"],
        &[("CXTN_BASE_URL", closed.as_str())],
    )
    .await;
    assert_eq!(run.code, 1);
    let error: serde_json::Value = serde_json::from_str(run.stderr.trim()).unwrap();
    assert_eq!(error["error"]["kind"], json!("network"), "{error}");
    assert!(
        error["error"]["hint"].as_str().unwrap().contains("cxtn sandbox"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn wait_0s_returns_once_the_simulator_took_it() {
    let sandbox = sandbox().await;
    let (inbox, _running, url) = memory_receiver().await;
    sandbox.enable_webhooks().unwrap();
    sandbox.create_endpoint(WebhookEventType::Payment, &url).unwrap();
    let run = trigger_at(&sandbox, &["trade_settled", "--count", "2", "--wait", "0s"]).await;
    run.assert_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    assert!(lines[0].contains("sending to the Payment endpoint"), "{}", lines[0]);
    assert_eq!(
        lines[2],
        "The simulator took 2 notification(s); their deliveries are not followed (--wait 0s)."
    );
    eventually("both to arrive", || {
        let inbox = inbox.clone();
        async move { inbox.stats().await.unwrap().pending == 2 }
    })
    .await;
}

/// A simulator stand-in on 127.0.0.1:0: it takes a trigger (one delivery, number 1), gives its delivery log
/// `answered_logs` times with the delivery still being retried, then never answers for the log again.
async fn stalling_simulator(answered_logs: usize) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}/api/", listener.local_addr().unwrap());
    let logs = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let logs = logs.clone();
            tokio::spawn(async move {
                let Some(head) = crate::read_request(&mut stream).await else {
                    return;
                };
                let body = if head.starts_with("POST /sandbox/trigger") {
                    json!({"eventId": "wh_stall", "event": "account_credit", "subscription": "AccountTransaction",
                        "deliveries": [1], "outcome": "pending", "reason": null})
                } else if logs.fetch_add(1, Ordering::SeqCst) < answered_logs {
                    json!([{"id": 1, "eventId": "wh_stall", "event": "account_credit",
                        "eventType": "AccountTransaction", "url": "http://127.0.0.1:9/<redacted>", "attempts": 1,
                        "lastStatus": 503, "lastError": null, "outcome": "pending", "reason": null,
                        "duplicateOf": null}])
                } else {
                    tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                    return;
                };
                let body = body.to_string();
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    base_url
}

#[tokio::test(flavor = "multi_thread")]
async fn a_simulator_slow_to_give_its_log_ends_the_following_at_the_end_of_wait() {
    // The log came once: the delivery is reported as still being retried when --wait ends.
    let base_url = stalling_simulator(1).await;
    let run = run(
        &[
            "trigger",
            "account_credit",
            "--base-url",
            &base_url,
            "--wait",
            "1s",
            "--json",
        ],
        &[],
    )
    .await;
    run.assert_code(1);
    let last = run.json_lines().pop().unwrap();
    assert_eq!(
        (last["type"].clone(), last["outcome"].clone()),
        (json!("delivery"), json!("pending")),
        "{}",
        run.stdout
    );
    let error: serde_json::Value = serde_json::from_str(run.stderr.trim()).unwrap();
    assert_eq!(error["error"]["kind"], json!("delivery"), "{}", run.stderr);
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("still being retried after 1s"),
        "{}",
        run.stderr
    );

    // The log never came: the delivery was not followed, which is not a success.
    let base_url = stalling_simulator(0).await;
    let run = crate::run(
        &["trigger", "account_credit", "--base-url", &base_url, "--wait", "1s"],
        &[],
    )
    .await;
    run.assert_error(1, "did not show 1 of 1 deliveries within 1s");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_event_under_json_names_what_is_missing() {
    let run = run(&["trigger", "--json"], &[]).await;
    run.assert_code(2);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    let error: serde_json::Value = serde_json::from_str(&run.stderr).unwrap();
    assert_eq!(
        error["error"]["message"],
        json!("the following required arguments were not provided: <EVENT>"),
        "{}",
        run.stderr
    );
    assert_eq!(error["error"]["exitCode"], json!(2));
}
