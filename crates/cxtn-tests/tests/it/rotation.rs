//! Rotating a path token without downtime, through the library: the receiver's keys handle, the real client,
//! and the sandbox delivering the whole time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cxtn::WebhookEventType;
use cxtn::receiver::{EventFilter, Inbox, Keys, MemoryInbox, Receiver};
use cxtn::sandbox::{Sandbox, Trigger};

const OLD: &str = "oldTokenOldTokenOldTokenOldToken";
const NEW: &str = "aNewTokenOfAnotherLength_0123456789abcdef";

/// The status a `GET` with `token` gets: 405 once the token is accepted (only POST is), 401 before.
async fn probe(addr: std::net::SocketAddr, token: &str) -> u16 {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("GET /cxtn/{token} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer.split(' ').nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_rotated_through_the_keys_handle_refuses_no_delivery() {
    let inbox = Arc::new(MemoryInbox::new());
    let receiver = Receiver::builder(inbox.clone()).path_token(OLD).build().unwrap();
    let keys = receiver.keys();
    let running = receiver.bind("127.0.0.1:0").await.unwrap();
    let addr = running.addr();

    let sandbox = Arc::new(
        Sandbox::builder()
            .token("rotation-token")
            .retry_schedule([Duration::from_millis(20), Duration::from_millis(40)])
            .start()
            .await
            .unwrap(),
    );
    let client = cxtn::Client::builder()
        .configure(|webhooks| webhooks.base_url(sandbox.base_url()).access_token("rotation-token"))
        .build()
        .unwrap();
    client.webhooks().enable().await.unwrap();
    client
        .webhooks()
        .create(WebhookEventType::Payment, format!("http://{addr}/cxtn/{OLD}"))
        .await
        .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let triggering = {
        let (sandbox, stop) = (sandbox.clone(), stop.clone());
        tokio::spawn(async move {
            let mut sent = 0_usize;
            while !stop.load(Ordering::SeqCst) {
                sandbox.trigger(Trigger::new("payment_completed")).await.unwrap();
                sent += 1;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            sent
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;

    // The new token beside the old one; the receiver accepts it before the endpoint changes.
    assert_eq!(probe(addr, NEW).await, 401);
    keys.replace(Keys::new().path_tokens([OLD, NEW])).unwrap();
    assert_eq!(probe(addr, NEW).await, 405);
    client
        .webhooks()
        .edit(WebhookEventType::Payment, format!("http://{addr}/cxtn/{NEW}"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Once nothing is in flight to the old URL, the old token goes.
    stop.store(true, Ordering::SeqCst);
    let before = triggering.await.unwrap();
    sandbox.wait_until_settled(Duration::from_secs(20)).await.unwrap();
    keys.replace(Keys::new().path_token(NEW)).unwrap();
    assert_eq!(probe(addr, OLD).await, 401);
    for _ in 0..5 {
        sandbox.trigger(Trigger::new("payment_completed")).await.unwrap();
    }
    sandbox.wait_until_settled(Duration::from_secs(20)).await.unwrap();
    let sent = before + 5;

    let endpoint = sandbox.endpoints().into_iter().next().unwrap();
    assert_eq!(endpoint.endpoint_url.as_str(), format!("http://{addr}/cxtn/{NEW}"));
    let deliveries = sandbox.deliveries();
    assert_eq!(deliveries.len(), sent);
    assert!(before >= 20, "deliveries flowed during the rotation: {before}");
    for delivery in &deliveries {
        assert!(
            delivery.outcome.is_delivered() && delivery.attempts == 1 && delivery.last_status == Some(200),
            "every delivery was accepted at its first attempt: {delivery:?}"
        );
    }
    let stored = inbox.events(EventFilter::all().limit(10_000)).await.unwrap();
    assert_eq!(stored.len(), sent);
    running.shutdown().await;
}
