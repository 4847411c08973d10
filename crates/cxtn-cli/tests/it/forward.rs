//! The limits of `cxtn listen --forward-to`: a configurable time limit and number of attempts, and a target
//! whose answer never ends costs no memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cxtn::receiver::{EventFilter, EventStatus, Inbox, SqliteInbox};
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::listen::{hanging_target, listen};
use crate::run;

/// A target that answers `200 OK` with a chunked body that never ends; the bytes it managed to write.
async fn endless_target() -> (String, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let written = Arc::new(AtomicU64::new(0));
    let count = written.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let count = count.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0_u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let data = vec![b'x'; 64 * 1024];
                let chunk = [format!("{:x}\r\n", data.len()).into_bytes(), data, b"\r\n".to_vec()].concat();
                while stream.write_all(&chunk).await.is_ok() {
                    count.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                }
            });
        }
    });
    (url, written)
}

/// The resident memory of a process, in bytes, where the system tells it.
fn resident_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_target_streaming_an_endless_body_is_judged_by_its_status() {
    let (target, written) = endless_target().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let db = db.to_str().unwrap();
    let (mut listen, url, _) = listen(db, &["--forward-to", &target]).await;
    for _ in 0..3 {
        run(&["trigger", "payment_completed", "--to", &url], &[])
            .await
            .assert_code(0);
    }
    let mut forwards = Vec::new();
    while forwards.len() < 3 {
        let line = listen.json_line().await;
        if line["type"] == json!("forward") {
            forwards.push(line);
        }
    }
    for forward in &forwards {
        assert_eq!(forward["ok"], json!(true), "{forward}");
        assert_eq!(forward["status"], json!(200), "{forward}");
    }
    // The answers were left unread past a few kilobytes: the target soon cannot write more, and the
    // receiver's memory stays small.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stopped_at = written.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        written.load(Ordering::Relaxed),
        stopped_at,
        "an answer is still being read"
    );
    assert!(stopped_at < 32 * 1024 * 1024, "{stopped_at} bytes were taken");
    if let Some(rss) = resident_bytes(listen.child.id().unwrap()) {
        assert!(rss < 256 * 1024 * 1024, "the receiver holds {rss} bytes");
    }
    let (code, _) = listen.interrupt().await;
    assert_eq!(code, 0);
    let stats = SqliteInbox::open_read_only(db).unwrap().stats().await.unwrap();
    assert_eq!(stats.processed, 3, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn forward_timeout_and_attempts_are_the_ones_given() {
    let (target, target_url) = hanging_target().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let db = db.to_str().unwrap();
    let (mut listen, url, _) = listen(
        db,
        &[
            "--forward-to",
            &target_url,
            "--forward-timeout",
            "300ms",
            "--forward-attempts",
            "2",
        ],
    )
    .await;
    let begun = std::time::Instant::now();
    run(&["trigger", "payment_completed", "--to", &url], &[])
        .await
        .assert_code(0);
    let mut forwards = Vec::new();
    while forwards.len() < 2 {
        let line = listen.json_line().await;
        if line["type"] == json!("forward") {
            forwards.push(line);
        }
    }
    for (attempt, forward) in (1..).zip(&forwards) {
        assert_eq!(forward["attempt"], json!(attempt), "{forward}");
        assert_eq!(forward["ok"], json!(false), "{forward}");
        assert!(forward["error"].as_str().unwrap().contains("no response"), "{forward}");
    }
    assert!(begun.elapsed() < Duration::from_secs(9), "{:?}", begun.elapsed());
    let inbox = SqliteInbox::open_read_only(db).unwrap();
    crate::eventually("the event to be dead-lettered", || {
        let inbox = inbox.clone();
        async move { inbox.stats().await.unwrap().dead == 1 }
    })
    .await;
    let event = &inbox.events(EventFilter::all()).await.unwrap()[0];
    assert_eq!((event.status, event.attempts), (EventStatus::Dead, 2));
    let (code, _) = listen.interrupt().await;
    assert_eq!(code, 0);
    target.abort();

    let zero = run(
        &[
            "listen",
            "--db",
            db,
            "--forward-to",
            &target_url,
            "--forward-timeout",
            "0s",
        ],
        &[("CXTN_PATH_TOKEN", crate::TOKEN)],
    )
    .await;
    zero.assert_error(2, "--forward-timeout must be above zero");
    let none = run(&["listen", "--forward-attempts", "0"], &[]).await;
    assert_eq!(none.code, 2, "{}", none.stderr);
    assert!(none.stderr.contains("--forward-attempts"), "{}", none.stderr);
    let idle = run(&["listen", "--forward-concurrency", "0"], &[]).await;
    assert_eq!(idle.code, 2, "{}", idle.stderr);
    assert!(idle.stderr.contains("--forward-concurrency"), "{}", idle.stderr);
}
