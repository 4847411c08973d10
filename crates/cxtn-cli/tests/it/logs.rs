//! The logs of `cxtn listen` on stderr: what the receiver says when the inbox fails, as text or JSON lines.

use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::Background;
use crate::listen::{listen, payment};

/// Reads the whole stderr of `process` in the background, so it never fills.
pub(crate) fn stderr_of(process: &mut Background) -> JoinHandle<String> {
    let mut stderr = process.child.stderr.take().unwrap();
    tokio::spawn(async move {
        let mut text = String::new();
        let _ = tokio::io::AsyncReadExt::read_to_string(&mut stderr, &mut text).await;
        text
    })
}

/// Makes every store into the SQLite inbox at `db` fail, as a full disk would: each insert of an event runs
/// a trigger that writes to a table that does not exist.
fn refuse_stores(db: &str) {
    let connection = cxtn::receiver::rusqlite::Connection::open(db).unwrap();
    connection
        .execute_batch(
            "CREATE TRIGGER refuse_stores BEFORE INSERT ON events BEGIN INSERT INTO unwritable VALUES (1); END;",
        )
        .unwrap();
}

/// Starts `listen` with `extra` flags, fails a delivery's store, stops, and returns the exit code and stderr.
async fn failed_store(extra: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let db = db.to_str().unwrap();
    let (mut listen, url, _) = listen(db, extra).await;
    let stderr = stderr_of(&mut listen);
    refuse_stores(db);
    assert_eq!(crate::post_raw(&url, &payment("wh_refused")).await, 503);
    let (code, _) = listen.interrupt().await;
    (code, stderr.await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_store_is_logged_as_an_error() {
    let (code, stderr) = failed_store(&[]).await;
    assert_eq!(code, 0, "{stderr}");
    let line = stderr
        .lines()
        .find(|line| line.contains("could not store a delivery"))
        .unwrap_or_else(|| panic!("no log of the failed store: {stderr}"));
    assert!(line.contains("ERROR"), "{line}");
    assert!(line.contains("answering 503"), "{line}");
    assert!(line.contains("wh_refused"), "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn logs_are_json_lines_with_log_format_json() {
    let (_, stderr) = failed_store(&["--log-format", "json"]).await;
    let logs: Vec<Value> = stderr
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let failed = logs
        .iter()
        .find(|log| {
            log["message"]
                .as_str()
                .is_some_and(|m| m.contains("could not store a delivery"))
        })
        .unwrap_or_else(|| panic!("no JSON log of the failed store: {stderr}"));
    assert_eq!(failed["level"], json!("ERROR"), "{failed}");
    assert_eq!(failed["event_id"], json!("wh_refused"), "{failed}");
    assert!(failed["timestamp"].is_string(), "{failed}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_log_decides_what_is_logged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let db = db.to_str().unwrap();
    let mut args = vec!["listen", "--addr", "127.0.0.1:0", "--db", db, "--json"];
    args.push("-q");
    let mut quiet = Background::spawn(&args, &[("CXTN_PATH_TOKEN", crate::TOKEN), ("RUST_LOG", "off")]);
    let first = quiet.json_line().await;
    let url = format!("http://{}/cxtn/{}", first["addr"].as_str().unwrap(), crate::TOKEN);
    let stderr = stderr_of(&mut quiet);
    refuse_stores(db);
    assert_eq!(crate::post_raw(&url, &payment("wh_unlogged")).await, 503);
    let (code, _) = quiet.interrupt().await;
    assert_eq!(code, 0);
    let stderr = stderr.await.unwrap();
    assert!(
        !stderr.contains("could not store"),
        "RUST_LOG=off logs nothing: {stderr}"
    );
    assert!(!stderr.contains("Stopping"), "-q prints no notes: {stderr}");
}
