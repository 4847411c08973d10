//! `cxtn console` and `cxtn listen --console`: the inbox console served by the binary.

use std::sync::Arc;

use cxtn::receiver::{Inbox, NewEvent, SqliteInbox};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::{Background, TOKEN, run};

const ADMIN_TOKEN: &str = "cli-console-t0ken-0123456789abcdef";

const BODY: &str = r#"{"eventId":"wh_cli_console","event":"payment_completed","data":{"objectId":5,"userId":"C1","amount":1000.00,"currency":"GBP"}}"#;

/// GETs `url` (`http://ADDR/PATH`) with the extra header lines; the status and the body.
async fn get(url: &str, headers: &str) -> (u16, String) {
    let (addr, path) = url.strip_prefix("http://").unwrap().split_once('/').unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET /{path} HTTP/1.1\r\nhost: {addr}\r\n{headers}connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let status = answer.split(' ').nth(1).unwrap().parse().unwrap();
    let body = answer.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

/// A SQLite inbox file holding one event.
async fn inbox_file(dir: &tempfile::TempDir) -> String {
    let path = dir.path().join("inbox.sqlite");
    let inbox: Arc<dyn Inbox> = Arc::new(SqliteInbox::open(&path).unwrap());
    let event = NewEvent::new(
        "wh_cli_console",
        "payment_completed",
        Some("Payment".to_owned()),
        1_700_000_000_000,
        BODY.as_bytes().to_vec().into(),
    );
    inbox.store(event).await.unwrap();
    path.to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_serves_an_inbox_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = inbox_file(&dir).await;
    let mut console = Background::spawn(&["console", "--db", &db, "--addr", "127.0.0.1:0", "--json"], &[]);
    let first = console.json_line().await;
    assert_eq!(first["type"], json!("console"), "{first}");
    assert_eq!(first["adminToken"], json!(false));
    let url = first["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let (status, page) = get(&format!("{url}events/wh_cli_console"), "").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("data-page=\"event\""));
    assert!(
        page.contains("<dd id=\"amount\" class=\"money\">1000.00 GBP</dd>"),
        "{page}"
    );
    let (status, overview) = get(&url, "").await;
    assert_eq!(status, 200);
    assert!(
        overview.contains("<span id=\"count-pending\" class=\"number\">1</span>"),
        "{overview}"
    );
    let (code, rest) = console.interrupt().await;
    assert_eq!(code, 0, "{rest}");
    assert_eq!(rest, "{\"type\":\"stopped\"}\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_console_asks_for_its_token_and_refuses_other_addresses_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let db = inbox_file(&dir).await;
    let refused = run(&["console", "--db", &db, "--addr", "0.0.0.0:0"], &[]).await;
    refused.assert_code(2);
    assert!(refused.stderr.contains("not a loopback address"), "{}", refused.stderr);
    assert!(refused.stderr.contains("CXTN_ADMIN_TOKEN"), "{}", refused.stderr);

    let missing = run(
        &[
            "console",
            "--db",
            &dir.path().join("none.sqlite").to_string_lossy(),
            "--addr",
            "127.0.0.1:0",
        ],
        &[],
    )
    .await;
    missing.assert_code(1);
    assert!(missing.stderr.contains("there is no inbox"), "{}", missing.stderr);

    let mut console = Background::spawn(
        &["console", "--db", &db, "--addr", "127.0.0.1:0", "--json"],
        &[("CXTN_ADMIN_TOKEN", ADMIN_TOKEN)],
    );
    let first = console.json_line().await;
    assert_eq!(first["adminToken"], json!(true));
    assert!(!first.to_string().contains(ADMIN_TOKEN));
    let url = first["url"].as_str().unwrap().to_owned();
    let (status, _) = get(&format!("{url}events"), "").await;
    assert_eq!(status, 401);
    let (status, page) = get(
        &format!("{url}events"),
        &format!("authorization: Bearer {ADMIN_TOKEN}\r\n"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("data-event-id=\"wh_cli_console\""));
    let (code, _) = console.interrupt().await;
    assert_eq!(code, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn listen_serves_the_console_on_its_admin_address() {
    let dir = tempfile::tempdir().unwrap();
    let db = inbox_file(&dir).await;
    let token_file = dir.path().join("admin-token");
    std::fs::write(&token_file, format!("{ADMIN_TOKEN}\n")).unwrap();
    let mut listen = Background::spawn(
        &[
            "listen",
            "--addr",
            "127.0.0.1:0",
            "--db",
            &db,
            "--json",
            "--admin-addr",
            "127.0.0.1:0",
            "--admin-token-file",
            token_file.to_str().unwrap(),
            "--console",
        ],
        &[("CXTN_PATH_TOKEN", TOKEN)],
    );
    let first: Value = listen.json_line().await;
    assert_eq!(first["type"], json!("listening"), "{first}");
    let console = first["consoleUrl"].as_str().unwrap().to_owned();
    assert!(console.ends_with("/console/"), "{console}");
    let bearer = format!("authorization: Bearer {ADMIN_TOKEN}\r\n");
    let (status, _) = get(&console, "").await;
    assert_eq!(status, 401, "the admin token guards the console");
    let (status, page) = get(&console, &bearer).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("data-page=\"overview\""));
    assert!(page.contains("href=\"/console/events?status=dead\""));
    let (status, page) = get(&format!("{console}events/wh_cli_console"), &bearer).await;
    assert_eq!(status, 200);
    assert!(page.contains("1000.00 GBP"));
    // The admin endpoints are still there beside it.
    let admin = console.trim_end_matches("console/");
    let (status, _) = get(&format!("{admin}healthz"), "").await;
    assert_eq!(status, 200);
    let (code, _) = listen.interrupt().await;
    assert_eq!(code, 0);

    // Off loopback without a token, --console is refused.
    let refused = run(
        &[
            "listen",
            "--addr",
            "127.0.0.1:0",
            "--db",
            &db,
            "--admin-addr",
            "0.0.0.0:0",
            "--console",
        ],
        &[("CXTN_PATH_TOKEN", TOKEN)],
    )
    .await;
    refused.assert_code(2);
    assert!(refused.stderr.contains("needs an admin token"), "{}", refused.stderr);
}
