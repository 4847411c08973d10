//! Connection loss, without stopping the shared server: a TCP proxy stands between a receiver's inbox and
//! PostgreSQL. "The database goes away": the proxy drops every connection and refuses new ones;
//! "it comes back": the proxy accepts again.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use cxtn_receiver::{Inbox, PostgresInbox, Receiver};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use super::{Schema, body};
use crate::TOKEN;

struct Proxy {
    addr: SocketAddr,
    links: Arc<Mutex<Links>>,
    accept: JoinHandle<()>,
}

struct Links {
    up: bool,
    open: Vec<JoinHandle<()>>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let links = Arc::new(Mutex::new(Links {
            up: true,
            open: Vec::new(),
        }));
        let accept = tokio::spawn({
            let links = links.clone();
            async move {
                loop {
                    let Ok((mut inbound, _)) = listener.accept().await else {
                        continue;
                    };
                    let mut links = links.lock().unwrap();
                    if !links.up {
                        drop(inbound);
                        continue;
                    }
                    links.open.retain(|link| !link.is_finished());
                    links.open.push(tokio::spawn(async move {
                        let Ok(mut outbound) = TcpStream::connect(target).await else {
                            return;
                        };
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }));
                }
            }
        });
        Self { addr, links, accept }
    }

    /// Drops every connection, and refuses new ones until [`Proxy::up`].
    async fn down(&self) {
        let open = {
            let mut links = self.links.lock().unwrap();
            links.up = false;
            std::mem::take(&mut links.open)
        };
        for link in open {
            link.abort();
            let _ = link.await;
        }
    }

    fn up(&self) {
        self.links.lock().unwrap().up = true;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        for link in self.links.lock().unwrap().open.drain(..) {
            link.abort();
        }
    }
}

/// Posts `id`'s delivery; returns the status, the `Retry-After` header and the answer.
async fn deliver(
    client: &Client<HttpConnector, Full<Bytes>>,
    addr: SocketAddr,
    id: &str,
) -> (u16, Option<String>, String) {
    let request = hyper::Request::post(format!("http://{addr}/cxtn/{TOKEN}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body(id))))
        .unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().unwrap().to_owned());
    let answer = response.into_body().collect().await.unwrap().to_bytes();
    (status, retry_after, String::from_utf8_lossy(&answer).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_database_is_away_deliveries_get_503_and_the_receiver_recovers_by_itself() {
    let schema = Schema::fresh();
    let (server, login) = super::server();
    let proxy = Proxy::start(server).await;
    let proxied = format!("host=127.0.0.1 port={} {login}", proxy.addr.port());
    let builder = || {
        PostgresInbox::builder(&proxied)
            .schema(&schema.name)
            .pool_size(4)
            .connect_timeout(Duration::from_secs(2))
            .operation_timeout(Duration::from_secs(3))
    };
    let inbox = Arc::new(builder().connect().await.unwrap());
    let running = Receiver::builder(inbox)
        .path_token(TOKEN)
        .build()
        .unwrap()
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let addr = running.addr();
    let client = crate::http_client();

    // Steady traffic all along from four senders; every 2xx is remembered.
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let refused = Arc::new(AtomicUsize::new(0));
    let mut senders = Vec::new();
    for sender in 0..4 {
        let (client, stop, acknowledged, refused) =
            (client.clone(), stop.clone(), acknowledged.clone(), refused.clone());
        senders.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let id = format!("wh_load_{sender}_{n}");
                n += 1;
                match deliver(&client, addr, &id).await {
                    (200, _, _) => acknowledged.lock().unwrap().push(id),
                    (503, Some(_), _) => {
                        refused.fetch_add(1, Ordering::SeqCst);
                    }
                    other => panic!("unexpected answer {other:?}"),
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }

    let mut expected = Vec::new();
    for i in 0..10 {
        let id = format!("wh_before_{i}");
        assert_eq!(deliver(&client, addr, &id).await.0, 200);
        expected.push(id);
    }

    // Away: every delivery is answered 503 with Retry-After, without hanging.
    proxy.down().await;
    for i in 0..5 {
        let (status, retry_after, answer) =
            tokio::time::timeout(Duration::from_secs(15), deliver(&client, addr, &format!("wh_down_{i}")))
                .await
                .expect("answered while the database is away");
        assert_eq!((status, retry_after.as_deref()), (503, Some("5")), "{answer}");
        assert!(answer.contains("could not be stored"), "{answer}");
    }
    let e = tokio::time::timeout(Duration::from_secs(15), builder().connect())
        .await
        .expect("connect gives up while the database is away")
        .unwrap_err();
    assert!(e.to_string().contains("is the database up?"), "{e}");
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Back: deliveries succeed again, with the same receiver and pool.
    proxy.up();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        match deliver(&client, addr, "wh_after_0").await {
            (200, _, _) => break,
            (503, _, _) => assert!(tokio::time::Instant::now() < deadline, "the receiver did not recover"),
            other => panic!("unexpected answer {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    expected.push("wh_after_0".to_owned());
    for i in 1..10 {
        let id = format!("wh_after_{i}");
        assert_eq!(deliver(&client, addr, &id).await.0, 200);
        expected.push(id);
    }
    stop.store(true, Ordering::SeqCst);
    for sender in senders {
        sender.await.unwrap();
    }
    assert!(refused.load(Ordering::SeqCst) > 0, "the senders saw the outage");
    running.shutdown().await;

    // Nothing acknowledged is lost.
    expected.extend(acknowledged.lock().unwrap().iter().cloned());
    let direct = schema.inbox().await;
    for id in &expected {
        assert!(
            direct.event(&id.as_str().into()).await.unwrap().is_some(),
            "{id} was acknowledged but is not stored"
        );
    }
    assert!(super::count_rows(&direct).await >= expected.len() as u64);
}
