//! The main types can be shared across tasks and threads; this module fails to compile otherwise.

use std::sync::Arc;

use cxtn_transport::{
    Error, ErrorKind, MockTransport, PendingTransport, Request, Response, Retry, RetryPolicy, Transport,
};

fn assert_send_sync<T: Send + Sync>() {}

fn assert_send<T: Send>(_: &T) {}

#[test]
fn main_types_are_send_and_sync() {
    assert_send_sync::<Arc<dyn Transport>>();
    assert_send_sync::<Box<dyn Transport>>();
    assert_send_sync::<Request>();
    assert_send_sync::<Response>();
    assert_send_sync::<Error>();
    assert_send_sync::<ErrorKind>();
    assert_send_sync::<RetryPolicy>();
    assert_send_sync::<Retry<Arc<dyn Transport>>>();
    assert_send_sync::<MockTransport>();
    assert_send_sync::<PendingTransport>();
    #[cfg(feature = "reqwest")]
    assert_send_sync::<cxtn_transport::ReqwestTransport>();
    #[cfg(feature = "hyper")]
    assert_send_sync::<cxtn_transport::HyperTransport>();
}

#[test]
fn errors_box_into_std_errors() {
    let boxed: Box<dyn std::error::Error + Send + Sync + 'static> = Box::new(Error::new(ErrorKind::Other, "x"));
    assert_eq!(boxed.to_string(), "x");
}

#[test]
fn send_futures_are_send() {
    let transport: Arc<dyn Transport> = Arc::new(MockTransport::new());
    let future = transport.send(Request::new(cxtn_transport::Method::GET, "http://127.0.0.1/"));
    assert_send(&future);
}
