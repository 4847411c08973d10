//! `cxtn listen` as a child process, fed by `cxtn trigger`.

use cxtn::receiver::{EventFilter, EventStatus, Inbox, SqliteInbox};
use serde_json::{Value, json};

use crate::{Background, TOKEN, memory_receiver, post_raw, run};

/// Starts `cxtn listen --json` on a free port; the process and the URL to send to.
pub(crate) async fn listen(db: &str, extra: &[&str]) -> (Background, String, Value) {
    let mut args = vec!["listen", "--addr", "127.0.0.1:0", "--db", db, "--json"];
    args.extend_from_slice(extra);
    let mut listen = Background::spawn(&args, &[("CXTN_PATH_TOKEN", TOKEN)]);
    let first = listen.json_line().await;
    assert_eq!(first["type"], json!("listening"), "{first}");
    let addr = first["addr"].as_str().unwrap().to_owned();
    (listen, format!("http://{addr}/cxtn/{TOKEN}"), first)
}

#[tokio::test(flavor = "multi_thread")]
async fn prints_one_line_per_delivery_and_stops_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let db = db.to_str().unwrap();
    let (mut listen, url, first) = listen(db, &[]).await;
    let addr = first["addr"].as_str().unwrap();
    assert_eq!(
        first,
        json!({"type": "listening", "addr": addr, "url": format!("http://{addr}/cxtn/<token>"),
               "inbox": db, "auth": ["path_token"], "forwardTo": null})
    );

    run(&["trigger", "account_credit", "--to", &url, "--duplicate"], &[])
        .await
        .assert_code(0);
    let stored = listen.json_line().await;
    let duplicate = listen.json_line().await;
    assert_eq!(stored["outcome"], json!("stored"), "{stored}");
    assert_eq!(duplicate["outcome"], json!("duplicate"), "{duplicate}");
    assert_eq!(stored["eventId"], duplicate["eventId"]);
    assert_eq!(stored["event"], json!("account_credit"));
    assert_eq!(stored["type"], json!("arrival"));
    assert!(stored["receivedAtMs"].as_i64().unwrap() > 0);
    assert!(stored["receivedAt"].as_str().unwrap().ends_with('Z'));

    run(&["trigger", "account_debit", "--to", &url, "--set", "amount=ten"], &[])
        .await
        .assert_code(0);
    let quarantined = listen.json_line().await;
    assert_eq!(quarantined["outcome"], json!("quarantined"), "{quarantined}");
    assert!(
        quarantined["eventId"].as_str().unwrap().starts_with("wh_"),
        "{quarantined}"
    );
    assert!(
        quarantined["reason"].as_str().unwrap().contains("amount"),
        "{quarantined}"
    );

    let body = r#"{"eventId": "", "event": "account_debit", "data": {"amount": "ten"}}"#;
    assert_eq!(post_raw(&url, body).await, 400);
    let rejected = listen.json_line().await;
    assert_eq!(rejected["outcome"], json!("rejected"), "{rejected}");
    assert_eq!(rejected["eventId"], json!(null));
    assert!(rejected["reason"].as_str().unwrap().contains("amount"), "{rejected}");

    let (code, rest) = listen.interrupt().await;
    assert_eq!(code, 0, "Ctrl-C is a clean stop: {rest}");
    assert_eq!(rest, "{\"type\":\"stopped\"}\n");

    let inbox = SqliteInbox::open(db).unwrap();
    let stats = inbox.stats().await.unwrap();
    assert_eq!((stats.pending, stats.duplicates, stats.rejected), (1, 1, 1));
    assert_eq!(stats.quarantined, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn prints_readable_lines_and_never_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let mut listen = Background::spawn(
        &[
            "listen",
            "--addr",
            "127.0.0.1:0",
            "--db",
            db.to_str().unwrap(),
            "--path-token",
            TOKEN,
        ],
        &[],
    );
    let first = listen.line().await;
    assert!(first.starts_with("Listening on http://127.0.0.1:"), "{first}");
    assert!(first.ends_with("/cxtn/<token>"), "{first}");
    let addr = first
        .trim_start_matches("Listening on http://")
        .trim_end_matches("/cxtn/<token>")
        .to_owned();
    let mut header = Vec::new();
    for _ in 0..3 {
        header.push(listen.line().await);
    }
    assert!(header[0].starts_with("inbox"), "{header:?}");
    assert!(
        header[1].starts_with("auth") && header[1].ends_with("path token"),
        "{header:?}"
    );
    run(
        &[
            "trigger",
            "payment_completed",
            "--to",
            &format!("http://{addr}/cxtn/{TOKEN}"),
        ],
        &[],
    )
    .await
    .assert_code(0);
    let line = listen.line().await;
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words.len(), 4, "{line}");
    assert_eq!(words[1], "stored");
    assert!(words[2].starts_with("wh_"));
    assert_eq!(words[3], "payment_completed");
    let (code, rest) = listen.interrupt().await;
    assert_eq!(code, 0);
    assert!(rest.starts_with("Stopped. Everything received is in"), "{rest}");
    for output in [&first, &line, &rest] {
        assert!(!output.contains(TOKEN));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn forwards_each_stored_body_exactly_as_received() {
    let (app_inbox, _app, app_url) = memory_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let db = db.to_str().unwrap();
    let (mut listen, url, first) = listen(db, &["--forward-to", &app_url]).await;
    assert_eq!(
        first["forwardTo"],
        json!(format!("http://{}/<redacted>", app_url.split('/').nth(2).unwrap()))
    );

    run(
        &[
            "trigger",
            "funds_in",
            "--to",
            &url,
            "--set",
            "amount=1000.00",
            "--data-as-string",
        ],
        &[],
    )
    .await
    .assert_code(0);
    let mut lines = [listen.json_line().await, listen.json_line().await];
    lines.sort_by_key(|l| l["type"].as_str().unwrap().to_owned());
    assert_eq!(lines[0]["type"], json!("arrival"));
    assert_eq!(
        lines[1],
        json!({"type": "forward", "eventId": lines[0]["eventId"], "attempt": 1, "status": 200, "ok": true, "error": null})
    );
    let (code, _) = listen.interrupt().await;
    assert_eq!(code, 0);

    let forwarded = app_inbox.events(EventFilter::all()).await.unwrap();
    let inbox = SqliteInbox::open(db).unwrap();
    let stored = inbox.events(EventFilter::all()).await.unwrap();
    assert_eq!(forwarded.len(), 1);
    assert_eq!(forwarded[0].body, stored[0].body, "the body is forwarded byte for byte");
    assert!(
        std::str::from_utf8(&forwarded[0].body)
            .unwrap()
            .contains(r#"\"amount\":1000.00"#)
    );
    assert_eq!(stored[0].status, EventStatus::Processed);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_forward_is_a_failed_attempt_to_retry() {
    let (app_inbox, app, _app_url) = memory_receiver().await;
    let wrong = format!("http://{}/app/not-the-token", app.addr());
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let db = db.to_str().unwrap();
    let (mut listen, url, _) = listen(db, &["--forward-to", &wrong]).await;
    run(&["trigger", "account_debit", "--to", &url], &[])
        .await
        .assert_code(0);
    let mut forward = listen.json_line().await;
    if forward["type"] == json!("arrival") {
        forward = listen.json_line().await;
    }
    assert_eq!(forward["status"], json!(401), "{forward}");
    assert_eq!(forward["ok"], json!(false));
    let (code, _) = listen.interrupt().await;
    assert_eq!(code, 0);
    let inbox = SqliteInbox::open(db).unwrap();
    let stored = &inbox.events(EventFilter::all()).await.unwrap()[0];
    assert_eq!(stored.status, EventStatus::Pending, "to be retried");
    assert!(stored.attempts >= 1, "{}", stored.attempts);
    assert!(
        stored.last_error.as_deref().unwrap().contains("answered HTTP 401"),
        "{:?}",
        stored.last_error
    );
    assert!(
        !stored.last_error.as_deref().unwrap().contains("not-the-token"),
        "URLs are redacted"
    );
    assert_eq!(app_inbox.stats().await.unwrap().pending, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_to_start_without_authentication_or_with_a_postgres_url() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let db = db.to_str().unwrap();
    let run = run(&["listen", "--addr", "127.0.0.1:0", "--db", db], &[]).await;
    run.assert_error(2, "refusing to listen without authentication");
    assert!(run.stderr.contains("--insecure-no-auth"), "{}", run.stderr);
    assert!(!std::path::Path::new(db).exists(), "no inbox is created");

    let run = crate::run(
        &[
            "listen",
            "--db",
            "postgres://cxtn:pw@127.0.0.1:1/cxtn",
            "--path-token",
            TOKEN,
        ],
        &[],
    )
    .await;
    run.assert_error(1, "cannot open the PostgreSQL inbox");
    assert!(!run.stderr.contains("pw@"), "{}", run.stderr);

    let run = crate::run(&["listen", "--db", db, "--path-token", "has/slash"], &[]).await;
    run.assert_error(2, "the path token may hold only");

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let run = crate::run(&["listen", "--db", db, "--path-token", TOKEN, "--addr", &addr], &[]).await;
    run.assert_error(1, "cannot listen");
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_without_authentication_only_when_told() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let mut listen = Background::spawn(
        &[
            "listen",
            "--addr",
            "127.0.0.1:0",
            "--db",
            db.to_str().unwrap(),
            "--insecure-no-auth",
            "--json",
        ],
        &[],
    );
    let first = listen.json_line().await;
    assert_eq!(first["auth"], json!([]));
    let url = format!("http://{}/anything", first["addr"].as_str().unwrap());
    run(&["trigger", "trade_settled", "--to", &url], &[])
        .await
        .assert_code(0);
    assert_eq!(listen.json_line().await["outcome"], json!("stored"));
    let (code, _) = listen.interrupt().await;
    assert_eq!(code, 0);
}

/// A target that accepts connections and never answers: every forward hangs.
pub(crate) async fn hanging_target() -> (tokio::task::JoinHandle<()>, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    (task, url)
}

/// Starts `listen` forwarding to a target that hangs, and waits until a forward is in progress.
async fn forwarding_into_a_hang(db: &str, extra: &[&str]) -> (Background, tokio::task::JoinHandle<()>) {
    let (target, target_url) = hanging_target().await;
    let mut args = vec!["--forward-to", target_url.as_str()];
    args.extend_from_slice(extra);
    let (mut listen, url, _) = listen(db, &args).await;
    run(&["trigger", "payment_completed", "--to", &url], &[])
        .await
        .assert_code(0);
    assert_eq!(listen.json_line().await["outcome"], json!("stored"));
    let inbox = SqliteInbox::open_read_only(db).unwrap();
    for _ in 0..500 {
        if inbox.stats().await.unwrap().processing == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(inbox.stats().await.unwrap().processing, 1, "a forward in progress");
    (listen, target)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stop_waits_for_forwards_up_to_the_shutdown_timeout_then_gives_them_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let db = db.to_str().unwrap();
    let (listen, target) = forwarding_into_a_hang(db, &["--shutdown-timeout", "500ms"]).await;
    let begun = std::time::Instant::now();
    let (code, rest) = listen.interrupt().await;
    assert_eq!(code, 0, "{rest}");
    assert_eq!(rest, "{\"type\":\"stopped\"}\n");
    assert!(
        begun.elapsed() < std::time::Duration::from_secs(8),
        "{:?}",
        begun.elapsed()
    );
    let stats = SqliteInbox::open_read_only(db).unwrap().stats().await.unwrap();
    assert_eq!(
        (stats.pending, stats.processing),
        (1, 0),
        "given back to the inbox: {stats:?}"
    );
    target.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_signal_stops_at_once() {
    for (signal, expected) in [("INT", 130), ("TERM", 143)] {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("inbox.sqlite");
        let db = db.to_str().unwrap();
        let (mut listen, target) = forwarding_into_a_hang(db, &["--shutdown-timeout", "10m"]).await;
        listen.signal(signal);
        // The first signal starts a stop that would wait ten minutes for the forward; the second ends it.
        let mut stderr = listen.child.stderr.take().unwrap();
        let mut said = Vec::new();
        let mut chunk = [0_u8; 512];
        while !String::from_utf8_lossy(&said).contains("Ctrl-C again") {
            let read = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                tokio::io::AsyncReadExt::read(&mut stderr, &mut chunk),
            )
            .await
            .expect("the stop is announced on stderr")
            .unwrap();
            assert!(read > 0, "stderr ended: {}", String::from_utf8_lossy(&said));
            said.extend_from_slice(&chunk[..read]);
        }
        listen.signal(signal);
        let status = tokio::time::timeout(std::time::Duration::from_secs(5), listen.child.wait())
            .await
            .expect("it stops at once")
            .unwrap();
        assert_eq!(status.code(), Some(expected), "{signal}");
        target.abort();
    }
}

/// A notification body of its own event id.
pub(crate) fn payment(event_id: &str) -> String {
    format!(
        r#"{{"eventId":"{event_id}","event":"payment_completed","data":{{"objectId":1,"userId":"C1","amount":10.00,"currency":"GBP"}}}}"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn keeps_answering_while_nobody_reads_stdout() {
    let (app_inbox, _app, app_url) = memory_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let db = db.to_str().unwrap();
    // The first line gives the address; after it, nothing reads stdout, and the pipe fills.
    let (listen, url, _) = listen(db, &["--forward-to", &app_url]).await;
    const DELIVERIES: usize = 1500;
    for i in 0..DELIVERIES {
        let body = payment(&format!("wh_stalled_{i:05}"));
        let status = tokio::time::timeout(std::time::Duration::from_secs(5), post_raw(&url, &body))
            .await
            .unwrap_or_else(|_| panic!("delivery {i} got no answer while stdout was not read"));
        assert_eq!(status, 200, "delivery {i}");
    }
    crate::eventually("every event forwarded", || {
        let app_inbox = app_inbox.clone();
        async move { app_inbox.stats().await.unwrap().pending == DELIVERIES as u64 }
    })
    .await;
    // The lines stdout could not take were dropped, counted, and said so on stderr.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let mut listen = listen;
    listen.child.start_kill().unwrap();
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut listen.child.stderr.take().unwrap(), &mut stderr)
        .await
        .unwrap();
    assert!(stderr.contains("stdout is not being read"), "{stderr}");
    assert!(stderr.contains("dropped_lines="), "{stderr}");
}
