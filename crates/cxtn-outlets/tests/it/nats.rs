//! NATS JetStream on 127.0.0.1:4222: bodies byte for byte, headers, deduplication by event id, bad configurations.

use bytes::Bytes;
use cxtn_outlets::{ErrorKind, Publish};
use cxtn_receiver::{Event, Handler};

/// A name no other test uses.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{}x{nanos}", std::process::id())
}

fn sample_event(body: &'static str) -> Event {
    let mut event = Event::new(cxtn_events::parse(body.as_bytes()).unwrap());
    event.body = Bytes::from_static(body.as_bytes());
    event
}

async fn jetstream() -> async_nats::jetstream::Context {
    async_nats::jetstream::new(async_nats::connect("127.0.0.1:4222").await.unwrap())
}

#[tokio::test]
async fn the_guide_samples_arrive_byte_for_byte_with_their_headers_and_once_each() {
    let stream = unique("CXTN_IT_");
    let prefix = unique("cxtnit");
    let url = format!("nats://127.0.0.1:4222?subject={prefix}.{{event}}&stream={stream}&create_stream=true");
    let outlet = cxtn_outlets::connect(&url).await.unwrap();
    assert_eq!(outlet.name(), "nats");
    let publish = Publish::to(vec![outlet]);

    let samples = cxtn_events::samples::GUIDE;
    for sample in &samples {
        publish.handle(&sample_event(sample.body)).await.unwrap();
    }
    // The same events again, as after a crash between publish and completion: JetStream drops them.
    for sample in &samples {
        let mut again = sample_event(sample.body);
        again.attempt = 2;
        publish.handle(&again).await.unwrap();
    }

    let js = jetstream().await;
    let handle = js.get_stream(&stream).await.unwrap();
    let info = handle.get_info().await.unwrap();
    assert_eq!(info.state.messages, samples.len() as u64, "one message per event id");
    assert_eq!(info.config.duplicate_window, std::time::Duration::from_secs(120));
    for (sample, sequence) in samples.iter().zip(1u64..) {
        let stored = handle.get_raw_message(sequence).await.unwrap();
        let notification = cxtn_events::parse(sample.body.as_bytes()).unwrap();
        assert_eq!(
            stored.payload.as_ref(),
            sample.body.as_bytes(),
            "{}: byte for byte",
            sample.name
        );
        assert_eq!(stored.subject.as_str(), format!("{prefix}.{}", sample.event));
        let header = |name: &str| stored.headers.get(name).map(|v| v.as_str().to_owned());
        assert_eq!(header("Nats-Msg-Id").as_deref(), Some(notification.event_id().as_str()));
        assert_eq!(
            header("cxtn-event-id").as_deref(),
            Some(notification.event_id().as_str())
        );
        assert_eq!(header("cxtn-event").as_deref(), Some(sample.event));
        assert_eq!(
            header("cxtn-attempt").as_deref(),
            Some("1"),
            "the first publish is kept"
        );
        assert_eq!(header("cxtn-conflicts").as_deref(), Some("0"));
        assert!(header("cxtn-received-at-ms").is_some());
    }

    // Connecting again to the existing stream, without creating it, works too.
    cxtn_outlets::connect(&format!(
        "nats://127.0.0.1:4222?subject={prefix}.{{event}}&stream={stream}"
    ))
    .await
    .unwrap();
    js.delete_stream(&stream).await.unwrap();
}

/// A `nats-server` of this test's own, stopped when dropped (also when the test fails).
struct Server(std::process::Child);

impl Server {
    fn start(args: &[&str]) -> Self {
        Self(
            std::process::Command::new("nats-server")
                .args(args)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("nats-server is installed (.ci/run installs it)"),
        )
    }

    /// A JetStream server on `port`, storing in `store`.
    fn jetstream(port: u16, store: &std::path::Path) -> Self {
        Self::start(&[
            "-js",
            "-a",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-sd",
            store.to_str().unwrap(),
        ])
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn a_publish_fails_while_the_server_is_down_and_succeeds_once_it_is_back() {
    let port = free_port();
    let store = std::env::temp_dir().join(unique("cxtn-nats-it-"));
    let server = Server::jetstream(port, &store);
    let url = format!("nats://127.0.0.1:{port}?subject=cxtn.events.{{event}}&stream=CXTN_EVENTS&create_stream=true");
    let mut outlet = None;
    for _ in 0..50 {
        match cxtn_outlets::connect(&url).await {
            Ok(connected) => {
                outlet = Some(connected);
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    let publish = Publish::to(vec![outlet.expect("the server started")]);
    let samples = cxtn_events::samples::GUIDE;
    publish.handle(&sample_event(samples[0].body)).await.unwrap();

    drop(server);
    let down = publish.handle(&sample_event(samples[1].body)).await.unwrap_err();
    assert!(down.to_string().starts_with("nats: "), "{down}");

    let server = Server::jetstream(port, &store);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        match publish.handle(&sample_event(samples[1].body)).await {
            Ok(()) => break,
            Err(e) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "still failing once the server is back: {e}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    }
    let js = async_nats::jetstream::new(async_nats::connect(format!("127.0.0.1:{port}")).await.unwrap());
    let info = js.get_stream("CXTN_EVENTS").await.unwrap().get_info().await.unwrap();
    assert_eq!(info.state.messages, 2, "both events, each once");
    drop(server);
    std::fs::remove_dir_all(&store).unwrap();
}

#[tokio::test]
async fn a_bad_configuration_fails_at_connect_with_a_clear_error() {
    let subject = unique("cxtnit");
    let missing = cxtn_outlets::connect(&format!("nats://127.0.0.1:4222?subject={subject}.{{event}}"))
        .await
        .unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::Config);
    assert!(missing.to_string().contains("no JetStream stream holds"), "{missing}");

    let no_subject = cxtn_outlets::connect("nats://127.0.0.1:4222").await.unwrap_err();
    assert_eq!(no_subject.kind(), ErrorKind::Config);
    assert!(no_subject.to_string().contains("has no subject"), "{no_subject}");

    // A server of its own that asks for a user and password, for the refused credentials.
    let port = free_port();
    let server = Server::start(&[
        "-a",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "--user",
        "cxtn",
        "--pass",
        "right",
    ]);
    let mut refused = None;
    for _ in 0..50 {
        match cxtn_outlets::connect(&format!("nats://cxtn:s3cret@127.0.0.1:{port}?subject={subject}")).await {
            Err(e) if e.to_string().contains("could not be reached") => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            other => {
                refused = Some(other);
                break;
            }
        }
    }
    drop(server);
    let refused = refused.expect("the server started").unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Unavailable);
    assert!(refused.to_string().contains("refused the credentials"), "{refused}");
    assert!(!refused.to_string().contains("s3cret"), "{refused}");
    assert!(!format!("{refused:?}").contains("s3cret"), "{refused:?}");

    let unreachable = cxtn_outlets::connect(&format!("nats://u:s3cret@127.0.0.1:1?subject={subject}"))
        .await
        .unwrap_err();
    assert_eq!(unreachable.kind(), ErrorKind::Unavailable);
    assert!(
        unreachable.to_string().contains("could not be reached"),
        "{unreachable}"
    );
    assert!(!unreachable.to_string().contains("s3cret"), "{unreachable}");

    let unknown = cxtn_outlets::connect("nats+x://127.0.0.1:4222?subject=a")
        .await
        .unwrap_err();
    assert_eq!(unknown.kind(), ErrorKind::Config);
}
