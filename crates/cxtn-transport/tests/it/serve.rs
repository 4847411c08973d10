//! The shared accept loop: requests in flight at stop are answered; connections busy past the drain are dropped.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use cxtn_transport::server::Server;
use http_body_util::Full;
use hyper::service::service_fn;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};

/// Starts a server whose handler reports each request on `entered` and answers `done` once `release` turns true.
async fn start(
    server: Server,
) -> (
    std::net::SocketAddr,
    mpsc::Receiver<()>,
    watch::Sender<bool>,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (entered_tx, entered) = mpsc::channel(8);
    let (release, released) = watch::channel(false);
    let service = service_fn(move |_request| {
        let entered = entered_tx.clone();
        let mut released = released.clone();
        async move {
            let _ = entered.send(()).await;
            let _ = released.wait_for(|released| *released).await;
            Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(b"done"))))
        }
    });
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .serve(listener, service, async move {
                let _ = stopped.await;
            })
            .await;
    });
    (addr, entered, release, stop, task)
}

/// Sends one request and reads until the server closes the connection.
async fn request(addr: std::net::SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /slow HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_request_in_flight_at_stop_is_answered() {
    let (addr, mut entered, release, stop, server) = start(Server::new()).await;
    let client = tokio::spawn(request(addr));
    entered.recv().await.unwrap();

    stop.send(()).unwrap();
    // The listener closes: a new connection is refused once the loop has seen the stop.
    let mut refused = false;
    for _ in 0..100 {
        if TcpStream::connect(addr).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(refused, "the listener still accepts after the stop");
    assert!(!server.is_finished(), "the server returned with a request in flight");

    release.send(true).unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(10), client)
        .await
        .unwrap()
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.ends_with("done"), "{answer}");
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_connection_busy_past_the_drain_timeout_is_dropped() {
    let server = Server::new().drain_timeout(Duration::from_millis(100));
    let (addr, mut entered, _release, stop, server) = start(server).await;
    let client = tokio::spawn(request(addr));
    entered.recv().await.unwrap();

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(10), client)
        .await
        .unwrap()
        .unwrap();
    assert!(!answer.contains("200 OK"), "{answer}");
}

#[tokio::test]
async fn a_slow_request_head_times_out() {
    let server = Server::new().header_read_timeout(Duration::from_millis(100));
    let (addr, _entered, _release, stop, server) = start(server).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the connection stayed open past the header-read timeout");
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap();
}
