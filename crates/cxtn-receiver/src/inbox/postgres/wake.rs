//! Wake-ups across processes: `pg_notify` after each group of stores, `LISTEN` on a connection of its own.

use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::pool::Inner;

/// The channel every PostgreSQL inbox announces its stores on; the payload names the schema.
const WAKE_CHANNEL: &str = "cxtn_inbox_stored";

impl Inner {
    /// Tells the workers of every receiver on this schema that events were stored. Best effort: a worker
    /// that misses it finds the events at its next poll.
    pub(super) async fn announce(&self) {
        let Ok(client) = self.client().await else { return };
        let sent = self
            .timed(client.execute("SELECT pg_notify($1, $2)", &[&WAKE_CHANNEL, &self.schema]))
            .await;
        if !matches!(sent, Ok(Ok(_))) {
            tracing::debug!("could not announce stored events; workers will find them at their next poll");
        }
    }
}

/// Listens for the stores other receivers announce on this schema and raises `wake` for each,
/// reconnecting after a failure, until every handle on `wake` is gone.
pub(super) async fn listen(
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    schema: String,
    wake: std::sync::Weak<Notify>,
) {
    const CHECK: Duration = Duration::from_secs(5);
    while wake.strong_count() > 0 {
        let Ok((client, mut connection)) = config.connect(tls.clone()).await else {
            tokio::time::sleep(CHECK).await;
            continue;
        };
        let (heard, mut notifications) = mpsc::unbounded_channel::<String>();
        let driver = tokio::spawn(async move {
            while let Some(Ok(message)) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                if let tokio_postgres::AsyncMessage::Notification(note) = message
                    && heard.send(note.payload().to_owned()).is_err()
                {
                    return;
                }
            }
        });
        if client.batch_execute(&format!("LISTEN {WAKE_CHANNEL}")).await.is_ok() {
            loop {
                tokio::select! {
                    note = notifications.recv() => match (note, wake.upgrade()) {
                        (Some(payload), Some(wake)) => {
                            if payload == schema {
                                wake.notify_one();
                            }
                        }
                        _ => break,
                    },
                    () = tokio::time::sleep(CHECK) => {
                        if wake.strong_count() == 0 {
                            break;
                        }
                    }
                }
            }
        }
        driver.abort();
        if wake.strong_count() > 0 {
            tokio::time::sleep(CHECK).await;
        }
    }
}
