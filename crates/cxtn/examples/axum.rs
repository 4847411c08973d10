//! Mounts the receiver in an axum application beside your own routes, makes sure the endpoint is registered at
//! start, and shuts the server and the worker down together on Ctrl-C or SIGTERM.
//!
//! ```text
//! CXTN_PATH_TOKEN=$(openssl rand -hex 24) cargo run -p cxtn --features receiver --example axum
//! ```
//!
//! With `CXTN_ACCESS_TOKEN` and `CXTN_PUBLIC_URL` (the URL CXTN reaches this service at, such as
//! `https://hooks.example.com`) set, it also registers `<CXTN_PUBLIC_URL>/cxtn/<token>` for payments at start
//! (add `CXTN_BASE_URL=http://127.0.0.1:4010/api/` to register with a local `cxtn sandbox`).
//!
//! The shutdown, in order:
//! 1. the signal stops the server from accepting; the requests in flight finish, so every delivery CXTN sent
//!    before the signal is stored and answered;
//! 2. the worker then stops claiming, lets the handlers in progress finish for up to
//!    `WorkerPolicy::shutdown_deadline`, and gives back the events still in hand;
//! 3. whatever is left in the inbox is handled at the next start: nothing stored is lost.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use cxtn::receiver::{Event, HandlerError, Receiver, SqliteInbox, WorkerPolicy, handler_fn};
use tokio::sync::watch;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let token = std::env::var("CXTN_PATH_TOKEN").map_err(|_| "set CXTN_PATH_TOKEN to a long random string")?;
    let inbox = Arc::new(SqliteInbox::open("cxtn-inbox.sqlite")?);
    let receiver = Receiver::builder(inbox)
        .path_token(token.as_str())
        .handler(handler_fn(|event: Event| async move {
            println!("{} {}", event.notification.event_name(), event.notification.event_id());
            Ok::<(), HandlerError>(())
        }))
        .worker_policy(WorkerPolicy::default().shutdown_deadline(Duration::from_secs(20)))
        .build()?;

    // One stop signal for both: the server's graceful shutdown raises it, the worker waits on it.
    let (stop, stopped) = watch::channel(false);
    let worker = receiver.worker().map(|worker| {
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            worker
                .run(async move { drop(stopped.wait_for(|stop| *stop).await) })
                .await;
        })
    });

    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route_service("/cxtn/{token}", receiver.service());
    // Listening before registering, so that a delivery sent right after registration finds the service.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
    println!("listening on http://{}/cxtn/<token>", listener.local_addr()?);
    register(&token).await?;
    axum::serve(listener, app).with_graceful_shutdown(signal()).await?;

    // The server has stopped and answered every request in flight; now stop the worker and wait for it.
    stop.send_replace(true);
    if let Some(worker) = worker {
        worker.await?;
    }
    println!("stopped");
    Ok(())
}

/// Registers the endpoint for payments when the management settings are given; `ensure` is safe at every start.
async fn register(path_token: &str) -> Result<(), Box<dyn std::error::Error>> {
    let (Ok(access_token), Ok(public_url)) = (std::env::var("CXTN_ACCESS_TOKEN"), std::env::var("CXTN_PUBLIC_URL"))
    else {
        return Ok(());
    };
    let base_url = std::env::var("CXTN_BASE_URL").ok();
    let client = cxtn::Client::builder()
        .configure(|webhooks| {
            let webhooks = webhooks.access_token(access_token);
            match base_url {
                Some(url) => webhooks.base_url(url),
                None => webhooks,
            }
        })
        .build()?;
    let url = format!("{}/cxtn/{path_token}", public_url.trim_end_matches('/'));
    let ensured = client.webhooks().ensure(cxtn::WebhookEventType::Payment, &url).await?;
    println!(
        "payments endpoint ready (enabled webhooks: {}, created: {}, moved: {}, activated: {})",
        ensured.enabled, ensured.created, ensured.url_changed, ensured.activated
    );
    Ok(())
}

/// Resolves on Ctrl-C, or SIGTERM on Unix (what `docker stop` and Kubernetes send).
async fn signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => drop(term.recv().await),
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    println!("stopping: no new connections; finishing the requests in flight");
}
