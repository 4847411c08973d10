//! The shared accept loop: requests in flight at stop are answered; connections busy past the drain are dropped;
//! at the connection cap, idle connections make room for new ones.

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

    stop_and_drain(stop, server).await;
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
    stop_and_drain(stop, server).await;
}

/// Sends one request asking the server to close the connection after answering, and reads the answer.
async fn request_once(addr: std::net::SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// Starts a server with `server`'s settings whose handler answers `ok` at once.
async fn start_answering(server: Server) -> (std::net::SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = service_fn(|_request| async {
        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(b"ok"))))
    });
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .serve(listener, service, async move {
                let _ = stopped.await;
            })
            .await;
    });
    (addr, stop, task)
}

/// Opens `n` connections that never send a byte, and waits until the server has seen them.
async fn idle_connections(addr: std::net::SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut idle = Vec::new();
    for _ in 0..n {
        idle.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    idle
}

/// Whether the server closed `stream`: a read sees the end of the stream (or a reset) rather than nothing.
async fn is_closed(stream: &mut TcpStream) -> bool {
    let mut byte = [0_u8; 1];
    matches!(
        tokio::time::timeout(Duration::from_millis(20), stream.read(&mut byte)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test]
async fn requests_are_answered_during_a_flood_of_idle_connections() {
    // Four times more connections that never send a request than the cap, then real requests, each on a
    // connection of its own: every one is answered.
    let (addr, stop, server) = start_answering(Server::new().max_connections(8)).await;
    let mut idle = idle_connections(addr, 32).await;
    for i in 0..20 {
        let answer = tokio::time::timeout(Duration::from_secs(10), request_once(addr))
            .await
            .unwrap_or_else(|_| panic!("request {i} was not answered during the flood"));
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "request {i}: {answer}");
    }
    // The idle connections were closed to make room, oldest first.
    let mut closed = 0;
    for stream in &mut idle {
        if is_closed(stream).await {
            closed += 1;
        }
    }
    assert!(closed >= 24, "only {closed} of 32 idle connections were closed");
    assert!(
        is_closed(idle.first_mut().unwrap()).await,
        "the oldest idle connection is still open"
    );
    stop_and_drain(stop, server).await;
}

#[tokio::test]
async fn at_the_cap_with_every_request_in_progress_a_new_connection_waits_for_one_to_end() {
    let (addr, mut entered, release, stop, server) = start(Server::new().max_connections(2)).await;
    let first = tokio::spawn(request_once(addr));
    let second = tokio::spawn(request_once(addr));
    entered.recv().await.unwrap();
    entered.recv().await.unwrap();

    // Both connections have a request in progress: neither is closed for the third, which waits.
    let third = tokio::spawn(request_once(addr));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        entered.try_recv().is_err(),
        "a third connection was served beyond the cap"
    );
    assert!(!first.is_finished() && !second.is_finished());

    release.send(true).unwrap();
    for client in [first, second, third] {
        let answer = tokio::time::timeout(Duration::from_secs(10), client)
            .await
            .unwrap()
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    }
    stop_and_drain(stop, server).await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_to_admit_a_new_one() {
    let (addr, stop, server) = start_answering(Server::new().max_connections(1)).await;
    // One request on a keep-alive connection, which then stays open and idle.
    let mut kept = TcpStream::connect(addr).await.unwrap();
    kept.write_all(b"GET / HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0_u8; 64];
    let read = kept.read(&mut head).await.unwrap();
    assert!(head[..read].starts_with(b"HTTP/1.1 200 OK"));

    let answer = tokio::time::timeout(Duration::from_secs(10), request_once(addr))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), kept.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the idle keep-alive connection was not closed");
    stop_and_drain(stop, server).await;
}

#[tokio::test]
async fn a_connection_that_has_just_opened_is_not_closed_before_its_first_request() {
    // At the cap, a client connects and sends its first request a moment later, while another client arrives:
    // the first is answered (not reset to make room), and the second is admitted once the first is done.
    let (addr, stop, server) = start_answering(Server::new().max_connections(1)).await;
    let mut first = TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let second = tokio::spawn(request_once(addr));
    tokio::time::sleep(Duration::from_millis(50)).await;
    first
        .write_all(b"GET / HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), first.read_to_end(&mut answer))
        .await
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 200 OK"),
        "the first connection: {answer:?}"
    );
    let answer = tokio::time::timeout(Duration::from_secs(10), second)
        .await
        .unwrap()
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "the second connection: {answer}");
    stop_and_drain(stop, server).await;
}

#[tokio::test]
async fn a_connection_silent_past_its_grace_is_closed_to_admit_a_new_one() {
    let (addr, stop, server) = start_answering(Server::new().max_connections(1)).await;
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let started = std::time::Instant::now();
    let answer = tokio::time::timeout(Duration::from_secs(10), request_once(addr))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(is_closed(&mut silent).await, "the silent connection is still open");
    // Admitted once the silent connection's grace ran out, not before.
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "{:?}",
        started.elapsed()
    );
    stop_and_drain(stop, server).await;
}

/// Sends the stop signal and waits, at most 10 s, for the server to drain and return.
async fn stop_and_drain(stop: oneshot::Sender<()>, server: tokio::task::JoinHandle<()>) {
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap();
}
