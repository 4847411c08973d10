//! Mounts the receiver inside an axum application, beside your own routes.
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

    // The worker runs beside the application; the service answers CXTN's deliveries.
    if let Some(worker) = receiver.worker() {
        tokio::spawn(async move { worker.run(std::future::pending()).await });
    }
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route_service("/cxtn/{token}", receiver.service());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    println!("listening on http://{}/cxtn/<token>", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
