//! Mounts the receiver inside an axum application, beside your own routes, and stops server and worker together.
//! The facade's `crates/cxtn/examples/axum.rs` is the same with `cxtn::` paths, registration at start and SIGTERM.
//!
//! ```text
//! CXTN_PATH_TOKEN=$(openssl rand -hex 24) cargo run -p cxtn-receiver --example axum
//! ```
#![allow(clippy::print_stdout)]

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use cxtn_receiver::{Event, HandlerError, Receiver, SqliteInbox, handler_fn};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let token = std::env::var("CXTN_PATH_TOKEN").map_err(|_| "set CXTN_PATH_TOKEN to a long random string")?;
    let inbox = Arc::new(SqliteInbox::open("cxtn-inbox.sqlite")?);
    let receiver = Receiver::builder(inbox)
        .path_token(token)
        .handler(handler_fn(|event: Event| async move {
            println!("{} {}", event.notification.event_name(), event.notification.event_id());
            Ok::<(), HandlerError>(())
        }))
        .build()?;

    // The worker runs beside the application, until the server has stopped; the service answers CXTN's deliveries.
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let worker = receiver.worker().map(|worker| {
        tokio::spawn(async move {
            worker
                .run(async move { drop(stopped.wait_for(|stop| *stop).await) })
                .await
        })
    });
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route_service("/cxtn/{token}", receiver.service());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    println!("listening on http://{}/cxtn/<token>", listener.local_addr()?);
    // On Ctrl-C: stop accepting, finish the requests in flight, then stop the worker and wait for it.
    axum::serve(listener, app)
        .with_graceful_shutdown(async { drop(tokio::signal::ctrl_c().await) })
        .await?;
    stop.send_replace(true);
    if let Some(worker) = worker {
        worker.await?;
    }
    Ok(())
}
