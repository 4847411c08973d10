//! `cxtn listen` under a flood of connections that never send a request, with few file descriptors:
//! every real delivery is still answered.

use std::process::Stdio;

use serde_json::json;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::process::Command;

use crate::{BIN, Background, TOKEN, post_raw};

/// `cxtn listen --json` with its limit of open files set to `files`.
fn listen_with_file_limit(files: u32, db: &str, extra: &[&str]) -> Background {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("ulimit -n {files} && exec \"$0\" \"$@\""))
        .arg(BIN)
        .args(["listen", "--addr", "127.0.0.1:0", "--db", db, "--json"])
        .args(extra)
        .env("CXTN_PATH_TOKEN", TOKEN)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("the binary starts");
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    Background { child, lines }
}

#[tokio::test(flavor = "multi_thread")]
async fn deliveries_are_answered_while_idle_connections_outnumber_the_file_limit() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let mut listen = listen_with_file_limit(128, db.to_str().unwrap(), &["--max-connections", "32"]);
    let first = listen.json_line().await;
    assert_eq!(first["type"], json!("listening"), "{first}");
    let addr = first["addr"].as_str().unwrap().to_owned();
    let url = format!("http://{addr}/cxtn/{TOKEN}");

    // Three times more silent connections than the process may open files, held for the whole test.
    let mut flood = Vec::new();
    for _ in 0..384 {
        flood.push(TcpStream::connect(&addr).await.unwrap());
    }

    for i in 0..15 {
        let body = format!(
            r#"{{"eventId": "wh_flood_{i:02}", "event": "payment_completed", "data": {{"objectId": {i}, "userId": "C1", "amount": 10.00, "currency": "GBP"}}}}"#
        );
        let status = tokio::time::timeout(std::time::Duration::from_secs(20), post_raw(&url, &body))
            .await
            .unwrap_or_else(|_| panic!("delivery {i} was not answered during the flood"));
        assert_eq!(status, 200, "delivery {i}");
        let line = listen.json_line().await;
        assert_eq!(line["outcome"], json!("stored"), "{line}");
    }
    drop(flood);
    let (code, _) = listen.interrupt().await;
    assert_eq!(code, 0);
}
