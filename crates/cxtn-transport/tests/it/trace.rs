//! The spans the retry layer records, and what they never record.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use cxtn_transport::{ErrorKind, Method, MockTransport, Request, Response, RetryPolicy, StatusCode, with_retry};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// A span or event as recorded: its name and the text of each field.
#[derive(Debug, Clone)]
struct Recorded {
    name: &'static str,
    fields: BTreeMap<&'static str, String>,
}

/// A subscriber that keeps every span and event with its fields.
#[derive(Debug, Clone, Default)]
struct Recorder {
    spans: Arc<Mutex<BTreeMap<u64, Recorded>>>,
    events: Arc<Mutex<Vec<Recorded>>>,
    next_id: Arc<AtomicU64>,
}

struct Fields<'a>(&'a mut BTreeMap<&'static str, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name(), format!("{value:?}"));
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attributes: &Attributes<'_>) -> Id {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst) + 1;
        let mut fields = BTreeMap::new();
        attributes.record(&mut Fields(&mut fields));
        let name = attributes.metadata().name();
        self.spans.lock().unwrap().insert(id, Recorded { name, fields });
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        if let Some(recorded) = self.spans.lock().unwrap().get_mut(&span.into_u64()) {
            values.record(&mut Fields(&mut recorded.fields));
        }
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let name = event.metadata().name();
        self.events.lock().unwrap().push(Recorded { name, fields });
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

impl Recorder {
    fn spans_named(&self, name: &str) -> Vec<Recorded> {
        self.spans
            .lock()
            .unwrap()
            .values()
            .filter(|span| span.name == name)
            .cloned()
            .collect()
    }

    fn everything(&self) -> String {
        format!("{:?} {:?}", self.spans.lock().unwrap(), self.events.lock().unwrap())
    }
}

#[tokio::test(start_paused = true)]
async fn a_request_span_holds_one_span_per_attempt() {
    let recorder = Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());

    let mock = MockTransport::new();
    mock.push_response(Response::new(StatusCode::INTERNAL_SERVER_ERROR))
        .push_error(ErrorKind::Io)
        .push_response(Response::new(StatusCode::OK).json(r#"{"reply":"r-secret"}"#));
    let transport = with_retry(Arc::new(mock), RetryPolicy::default());
    let request = Request::new(Method::PUT, "http://127.0.0.1:4010/v1/items/7?token=q-secret")
        .header("authorization", "Bearer secret-token")
        .body("b-secret");
    transport.send(request).await.unwrap();

    let requests = recorder.spans_named("cxtn.http.request");
    assert_eq!(requests.len(), 1);
    let fields = &requests[0].fields;
    assert_eq!(fields["method"], "PUT");
    assert_eq!(fields["path"], "/v1/items/7");
    assert_eq!(fields["status"], "200");
    assert_eq!(fields["attempts"], "3");

    let attempts = recorder.spans_named("cxtn.http.attempt");
    assert_eq!(attempts.len(), 3);
    let numbers: Vec<&str> = attempts.iter().map(|span| span.fields["attempt"].as_str()).collect();
    assert_eq!(numbers, ["1", "2", "3"]);
    assert_eq!(attempts[0].fields["status"], "500");
    assert_eq!(attempts[1].fields["error"], "io");
    assert!(!attempts[1].fields.contains_key("status"));
    assert_eq!(attempts[2].fields["status"], "200");
    assert!(attempts.iter().all(|span| span.fields.contains_key("latency_ms")));

    let everything = recorder.everything();
    for secret in ["q-secret", "secret-token", "b-secret", "r-secret", "token="] {
        assert!(!everything.contains(secret), "{secret} in {everything}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_request_records_its_error_kind() {
    let recorder = Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());

    let mock = MockTransport::new();
    mock.push_error(ErrorKind::Connect);
    let transport = with_retry(Arc::new(mock), RetryPolicy::none());
    let error = transport
        .send(Request::new(Method::POST, "http://127.0.0.1:4010/v1/items"))
        .await
        .unwrap_err();
    assert!(error.is_connect());

    let requests = recorder.spans_named("cxtn.http.request");
    assert_eq!(requests[0].fields["error"], "connect");
    assert_eq!(requests[0].fields["attempts"], "1");
    assert!(!requests[0].fields.contains_key("status"));
}
