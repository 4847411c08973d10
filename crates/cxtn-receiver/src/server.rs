//! The hyper server around the receiver service.

use std::net::SocketAddr;
use std::time::Duration;

use cxtn_transport::server::Server;
use hyper_util::service::TowerToHyperService;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{Error, ErrorKind, Receiver};

/// A receiver serving on a socket. Stop it with [`Running::shutdown`].
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    server: JoinHandle<()>,
    worker: Option<JoinHandle<()>>,
}

impl Running {
    /// The address it listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, finishes the requests in flight (each answered after its store commits),
    /// lets the worker finish the events in hand within its
    /// [`shutdown_deadline`](crate::WorkerPolicy::shutdown_deadline), gives back to the inbox those still in
    /// hand then, and returns.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.server.await;
        if let Some(worker) = self.worker {
            let _ = worker.await;
        }
    }
}

pub(crate) fn serve(
    receiver: Receiver,
    listener: tokio::net::TcpListener,
    header_timeout: Duration,
) -> Result<Running, Error> {
    let addr = listener
        .local_addr()
        .map_err(|e| Error::new(ErrorKind::Io, "cannot read the listening address").with_source(e))?;
    let (stop, stopped) = watch::channel(false);
    let service = receiver.service();
    let mut accept_stop = stopped.clone();
    // Requests in flight at shutdown are answered, however long their store takes: no drain timeout.
    let server = Server::new()
        .header_read_timeout(header_timeout)
        .drain_timeout(Duration::MAX)
        .serve(listener, TowerToHyperService::new(service), async move {
            let _ = accept_stop.changed().await;
        });
    let server = tokio::spawn(server);
    let worker = receiver.worker().map(|worker| {
        let mut stopped = stopped;
        tokio::spawn(async move {
            worker
                .run(async move {
                    let _ = stopped.changed().await;
                })
                .await;
        })
    });
    Ok(Running {
        addr,
        stop,
        server,
        worker,
    })
}
