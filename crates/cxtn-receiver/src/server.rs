//! The hyper server around the receiver service.

use std::net::SocketAddr;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
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
    /// lets the worker finish the events in hand, then returns.
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
    let server = tokio::spawn(async move {
        let graceful = GracefulShutdown::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((stream, _)) = accepted else { continue };
                    let _ = stream.set_nodelay(true);
                    let mut builder = http1::Builder::new();
                    builder.timer(TokioTimer::new()).header_read_timeout(header_timeout);
                    let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service.clone()));
                    let connection = graceful.watch(connection);
                    tokio::spawn(async move {
                        let _ = connection.await;
                    });
                }
                _ = accept_stop.changed() => break,
            }
        }
        drop(listener);
        graceful.shutdown().await;
    });
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
