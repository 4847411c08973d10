#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::convert::Infallible;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use tokio::net::TcpStream;

use super::{Accept, Server};

/// A listener whose every `accept` fails at once, counting the attempts.
struct Failing(Arc<AtomicUsize>);

impl Accept for Failing {
    async fn accept(&self) -> io::Result<TcpStream> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Err(io::Error::other("too many open files"))
    }
}

#[tokio::test(start_paused = true)]
async fn accept_errors_are_retried_after_a_pause_not_in_a_busy_loop() {
    let attempts = Arc::new(AtomicUsize::new(0));
    let service = service_fn(|_request| async { Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::new()))) });
    Server::new()
        .run(
            Failing(Arc::clone(&attempts)),
            service,
            // Stop between two retries (not on one), so the count does not hang on which timer fires first.
            tokio::time::sleep(Duration::from_millis(1_025)),
        )
        .await;
    let attempts = attempts.load(Ordering::SeqCst);
    // One attempt, then one every 50 ms: about 20 in a second; a busy loop would never let the stop signal fire.
    assert!((2..=21).contains(&attempts), "{attempts} accept attempts in one second");
}
