//! One management call (`list`) through the mock transport and through each HTTP backend on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use criterion::Criterion;
use cxtn_transport::server::Server;
use cxtn_transport::{MockTransport, Response, RetryPolicy, StatusCode, Transport};
use cxtn_webhooks::Client;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;

const LIST: &str = r#"{"Content": {"Model": {"Endpoints": [{"WebhookEventType": "Payment", "EndpointUrl": "https://e.example/p", "Status": "Active"}], "ApiStatusCode": 100, "ApiStatus": "IsValid", "ApiStatusDescription": "Valid Operation"}, "ExpectedResponses": ["IsValid"]}}"#;

fn client(base_url: &str, transport: Arc<dyn Transport>) -> Client {
    Client::builder()
        .base_url(base_url)
        .access_token("bench-token")
        .transport(transport)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap()
}

async fn loopback_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = service_fn(|request: hyper::Request<hyper::body::Incoming>| async move {
        let _ = request.into_body().collect().await;
        let response = hyper::Response::builder()
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(LIST.as_bytes())))
            .unwrap();
        Ok::<_, Infallible>(response)
    });
    tokio::spawn(Server::new().serve(listener, service, std::future::pending()));
    addr
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut criterion = Criterion::default().configure_from_args();
    let mut group = criterion.benchmark_group("webhooks list");

    let mock = MockTransport::new();
    let through_mock = client("http://mock.invalid/api/", Arc::new(mock.clone()));
    group.bench_function("mock transport", |b| {
        b.to_async(&runtime).iter(|| {
            mock.push_response(Response::new(StatusCode::OK).json(LIST));
            let client = through_mock.clone();
            async move { client.list().await.unwrap() }
        });
    });

    let addr = runtime.block_on(loopback_server());
    let base = format!("http://{addr}/api/");
    let backends: [(&str, Arc<dyn Transport>); 2] = [
        (
            "reqwest on loopback",
            Arc::new(cxtn_transport::ReqwestTransport::new().unwrap()),
        ),
        (
            "hyper on loopback",
            Arc::new(cxtn_transport::HyperTransport::new().unwrap()),
        ),
    ];
    for (name, transport) in backends {
        let client = client(&base, transport);
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| {
                let client = client.clone();
                async move { client.list().await.unwrap() }
            });
        });
    }
    group.finish();
    criterion.final_summary();
}
