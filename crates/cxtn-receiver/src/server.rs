//! The hyper server around the receiver service.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
    retention: Option<JoinHandle<()>>,
    admin: Option<Admin>,
    stopping: Arc<AtomicBool>,
}

/// The admin listener: its address, and how to stop it once everything else has.
#[derive(Debug)]
struct Admin {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    server: JoinHandle<()>,
}

impl Running {
    /// The address it listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address the admin endpoints listen on, when
    /// [`admin_addr`](crate::ReceiverBuilder::admin_addr) was set.
    #[must_use]
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().map(|admin| admin.addr)
    }

    /// Stops accepting, finishes the requests in flight (each answered after its store commits),
    /// lets the worker finish the events in hand within its
    /// [`shutdown_deadline`](crate::WorkerPolicy::shutdown_deadline), gives back to the inbox those still in
    /// hand then, and returns.
    /// The admin endpoints answer until then, `/readyz` with 503 from the start of the shutdown.
    pub async fn shutdown(self) {
        self.stopping.store(true, Ordering::SeqCst);
        let _ = self.stop.send(true);
        let _ = self.server.await;
        if let Some(worker) = self.worker {
            let _ = worker.await;
        }
        if let Some(retention) = self.retention {
            let _ = retention.await;
        }
        if let Some(admin) = self.admin {
            let _ = admin.stop.send(true);
            let _ = admin.server.await;
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
    let admin = receiver
        .admin_addr
        .map(|addr| serve_admin(&receiver, addr))
        .transpose()?;
    let (stop, stopped) = watch::channel(false);
    let service = receiver.service();
    let mut accept_stop = stopped.clone();
    // Requests in flight at shutdown are answered, however long their store takes: no drain timeout.
    let server = Server::new()
        .count_connections(receiver.metrics().connections())
        .header_read_timeout(header_timeout)
        .max_connections(receiver.max_connections)
        .drain_timeout(Duration::MAX)
        .serve(listener, TowerToHyperService::new(service), async move {
            let _ = accept_stop.changed().await;
        });
    let server = tokio::spawn(server);
    let retention = receiver
        .retention
        .clone()
        .map(|retention| crate::retain::spawn(receiver.inbox(), retention, &receiver.metrics(), stopped.clone()));
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
        retention,
        admin,
        stopping: receiver.stopping,
    })
}

/// Binds the admin address and serves the admin endpoints on it until told to stop.
fn serve_admin(receiver: &Receiver, addr: SocketAddr) -> Result<Admin, Error> {
    let cannot = |e: std::io::Error| {
        Error::new(
            ErrorKind::Io,
            format!("cannot listen on the admin address {addr}: {e}; is the port free?"),
        )
        .with_source(e)
    };
    let listener = std::net::TcpListener::bind(addr).map_err(cannot)?;
    listener.set_nonblocking(true).map_err(cannot)?;
    let listener = tokio::net::TcpListener::from_std(listener).map_err(cannot)?;
    let addr = listener.local_addr().map_err(cannot)?;
    let (stop, mut stopped) = watch::channel(false);
    let server = Server::new()
        .header_read_timeout(Duration::from_secs(10))
        .drain_timeout(Duration::from_secs(1))
        .serve(listener, TowerToHyperService::new(receiver.admin()), async move {
            let _ = stopped.changed().await;
        });
    Ok(Admin {
        addr,
        stop,
        server: tokio::spawn(server),
    })
}
