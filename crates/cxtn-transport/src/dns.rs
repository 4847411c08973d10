//! Host name resolution shared by the HTTP backends, so that a failed lookup is recognised by its type.

use std::net::SocketAddr;

/// A host name that did not resolve; the lookup's own error is the source.
#[derive(Debug, thiserror::Error)]
#[error("the host name did not resolve")]
pub(crate) struct ResolveError(#[source] pub(crate) std::io::Error);

/// The addresses of `host`, with port 0 for the connector to fill in, looked up by the system resolver
/// on Tokio's blocking pool.
pub(crate) async fn resolve(host: String) -> Result<std::vec::IntoIter<SocketAddr>, ResolveError> {
    let addrs = tokio::net::lookup_host((host.as_str(), 0))
        .await
        .map_err(ResolveError)?;
    Ok(addrs.collect::<Vec<_>>().into_iter())
}
