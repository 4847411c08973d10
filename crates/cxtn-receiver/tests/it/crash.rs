//! Crash safety: a receiver in a child process is killed with SIGKILL in the middle of thousands of
//! concurrent deliveries; every delivery it answered 2xx is in the inbox afterwards, and processing resumes.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use cxtn_receiver::{Inbox, Receiver, SqliteInbox};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::Semaphore;

use crate::{Recorder, SharedHandler, TOKEN, eventually, fast_policy, post};

const CHILD_ENV: &str = "CXTN_RECEIVER_CRASH_CHILD_DB";
const MARKER: &str = "CXTN-RECEIVER-LISTENING";

async fn start_child_receiver(db: &Path) -> cxtn_receiver::Running {
    let inbox = Arc::new(SqliteInbox::open(db).unwrap());
    Receiver::builder(inbox)
        .path_token(TOKEN)
        .build()
        .unwrap()
        .bind("127.0.0.1:0")
        .await
        .unwrap()
}

/// In a child process (the environment variable set): serve the inbox until killed.
/// Otherwise: the same receiver, in process, stores a delivery durably.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_receiver_process() {
    if let Ok(db) = std::env::var(CHILD_ENV) {
        let running = start_child_receiver(Path::new(&db)).await;
        println!("{MARKER} {}", running.addr());
        tokio::time::sleep(Duration::from_secs(600)).await;
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let running = start_child_receiver(&db).await;
    assert_eq!(post(running.addr(), cxtn_events::samples::GUIDE[0].body).await.0, 200);
    running.shutdown().await;
    let reopened = SqliteInbox::open(&db).unwrap();
    assert!(
        reopened
            .event(&"wh_f79f07d55bcd4cb893c41575b7c1b8f6".into())
            .await
            .unwrap()
            .is_some()
    );
}

fn body(i: usize) -> String {
    format!(
        r#"{{"eventId": "wh_crash_{i:05}", "event": "payment_completed", "data": {{"objectId": {i}, "userId": "C1", "amount": 10.00, "currency": "GBP"}}}}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_deliveries_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "crash::child_receiver_process",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &db)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the child receiver starts")
            .unwrap()
            .expect("the child prints its address");
        // libtest may print the test's name on the same line first.
        if let Some((_, addr)) = line.split_once(MARKER) {
            break addr.trim().parse::<std::net::SocketAddr>().unwrap();
        }
    };

    const TOTAL: usize = 4000;
    let limit = Arc::new(Semaphore::new(128));
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..TOTAL {
        let limit = limit.clone();
        let acknowledged = acknowledged.clone();
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire().await.unwrap();
            let request = hyper::Request::post(format!("http://{addr}/cxtn/{TOKEN}"))
                .header("content-type", "application/json")
                .body(http_body_util::Full::new(bytes::Bytes::from(body(i))))
                .unwrap();
            if let Ok(response) = crate::http_client().request(request).await
                && response.status() == 200
            {
                acknowledged.lock().unwrap().push(i);
            }
        }));
    }
    // Kill the receiver mid-stream, once a good share has been acknowledged.
    let counter = acknowledged.clone();
    eventually("a thousand acknowledgements", || counter.lock().unwrap().len() >= 1000).await;
    child.start_kill().unwrap();
    let status = child.wait().await.unwrap();
    assert!(!status.success(), "the child was killed");
    for task in tasks {
        task.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 1000 && acknowledged.len() < TOTAL,
        "killed mid-stream: {}",
        acknowledged.len()
    );

    // Restart on the same file: every acknowledged delivery is there.
    let inbox: Arc<dyn Inbox> = Arc::new(SqliteInbox::open(&db).unwrap());
    for i in &acknowledged {
        let id = cxtn_receiver::EventId::new(format!("wh_crash_{i:05}"));
        assert!(
            inbox.event(&id).await.unwrap().is_some(),
            "{id} was acknowledged but is not in the inbox"
        );
    }
    let stats = inbox.stats().await.unwrap();
    let stored = stats.pending + stats.processing + stats.processed;
    assert!(stored >= acknowledged.len() as u64, "{stats:?}");

    // Processing resumes: a receiver with a handler works through everything stored.
    let recorder = Arc::new(Recorder::default());
    let receiver = Receiver::builder(inbox.clone())
        .path_token(TOKEN)
        .handler(SharedHandler(recorder.clone()))
        .worker_policy(fast_policy().concurrency(32))
        .build()
        .unwrap();
    let running = receiver.bind("127.0.0.1:0").await.unwrap();
    let expected = usize::try_from(stored).unwrap();
    for _ in 0..1000 {
        if recorder.ids().len() >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        recorder.ids().len(),
        expected,
        "every stored event reached the handler once"
    );
    running.shutdown().await;
}
