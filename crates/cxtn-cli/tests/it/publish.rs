//! `cxtn listen --publish URL`: a bad outlet stops it at start, and the guide's samples reach a JetStream stream,
//! a RabbitMQ queue and a Redis stream exactly as received, before any --forward-to target gets them.

use cxtn::events::samples;
use serde_json::json;

use crate::listen::listen;
use crate::{TOKEN, eventually, memory_receiver, post_raw, run};

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_scheme_stops_listen_at_start_without_showing_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let out = run(
        &[
            "listen",
            "--addr",
            "127.0.0.1:0",
            "--db",
            db.to_str().unwrap(),
            "--publish",
            "bogus://me:s3cr3t-pass@127.0.0.1/x",
        ],
        &[("CXTN_PATH_TOKEN", TOKEN)],
    )
    .await;
    out.assert_code(1);
    assert!(out.stderr.contains("the outlet URL bogus://"), "{}", out.stderr);
    assert!(out.stderr.contains("`bogus`"), "{}", out.stderr);
    assert!(!out.stderr.contains("s3cr3t-pass"), "{}", out.stderr);
    assert!(!out.stdout.contains("s3cr3t-pass"), "{}", out.stdout);
    assert!(out.stdout.is_empty(), "it never listened: {}", out.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_broker_stops_listen_at_start_without_showing_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let out = run(
        &[
            "listen",
            "--addr",
            "127.0.0.1:0",
            "--db",
            db.to_str().unwrap(),
            "--publish",
            "redis://:s3cr3t-pass@127.0.0.1:1/0?stream=cxtn:unreachable",
        ],
        &[("CXTN_PATH_TOKEN", TOKEN)],
    )
    .await;
    out.assert_code(1);
    assert!(out.stderr.contains("redis://***@127.0.0.1:1/"), "{}", out.stderr);
    assert!(!out.stderr.contains("s3cr3t-pass"), "{}", out.stderr);
    assert!(out.stdout.is_empty(), "it never listened: {}", out.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_guide_samples_reach_a_redis_stream_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let stream = format!("cxtn:cli-test:{:016x}", fastrand::u64(..));
    let outlet = format!("redis://127.0.0.1:6379/0?stream={stream}");
    let (listen, url, first) = listen(db.to_str().unwrap(), &["--publish", &outlet]).await;
    assert_eq!(first["publish"], json!([outlet]), "{first}");

    for sample in &samples::GUIDE {
        assert_eq!(post_raw(&url, sample.body).await, 200, "{}", sample.name);
    }
    // A redelivery is stored once, so it is published once.
    let again = samples::GUIDE.first().unwrap();
    assert_eq!(post_raw(&url, again.body).await, 200);

    let client = redis::Client::open("redis://127.0.0.1:6379/0").unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    eventually("every sample on the stream", || {
        let mut redis = redis.clone();
        let stream = stream.clone();
        async move {
            let len: usize = redis::cmd("XLEN").arg(&stream).query_async(&mut redis).await.unwrap();
            len >= samples::GUIDE.len()
        }
    })
    .await;
    let (code, _) = listen.interrupt().await;
    assert_eq!(code, 0);

    let entries: Vec<(String, Vec<Vec<u8>>)> = redis::cmd("XRANGE")
        .arg(&stream)
        .arg("-")
        .arg("+")
        .query_async(&mut redis)
        .await
        .unwrap();
    let field = |fields: &[Vec<u8>], name: &str| -> Vec<u8> {
        let at = fields
            .chunks(2)
            .position(|pair| pair[0] == name.as_bytes())
            .unwrap_or_else(|| panic!("no field {name}"));
        fields[at * 2 + 1].clone()
    };
    // The worker may publish in any order: each sample is found by its event id, exactly once.
    assert_eq!(entries.len(), samples::GUIDE.len());
    for sample in &samples::GUIDE {
        let id = cxtn::events::parse(sample.body.as_bytes())
            .unwrap()
            .event_id()
            .to_string();
        let found: Vec<_> = entries
            .iter()
            .filter(|(_, fields)| field(fields, "cxtn-event-id") == id.as_bytes())
            .collect();
        assert_eq!(found.len(), 1, "{}", sample.name);
        let (_, fields) = found[0];
        assert_eq!(field(fields, "body"), sample.body.as_bytes(), "{}", sample.name);
        assert_eq!(field(fields, "cxtn-event"), sample.event.as_bytes(), "{}", sample.name);
        let _: () = redis::cmd("DEL")
            .arg(format!("{stream}:seen:{id}"))
            .query_async(&mut redis)
            .await
            .unwrap();
    }
    let _: () = redis::cmd("DEL").arg(&stream).query_async(&mut redis).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn with_forward_to_the_broker_confirms_first_then_the_app_gets_the_body() {
    let (app_inbox, _app, app_url) = memory_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let stream = format!("cxtn:cli-test:{:016x}", fastrand::u64(..));
    let outlet = format!("redis://127.0.0.1:6379/0?stream={stream}");
    let (mut listen, url, _) = listen(db.to_str().unwrap(), &["--publish", &outlet, "--forward-to", &app_url]).await;

    let sample = samples::GUIDE.first().unwrap();
    let id = cxtn::events::parse(sample.body.as_bytes()).unwrap().event_id().clone();
    assert_eq!(post_raw(&url, sample.body).await, 200);
    let arrival = listen.json_line().await;
    assert_eq!(arrival["outcome"], json!("stored"), "{arrival}");
    let forward = listen.json_line().await;
    assert_eq!(forward["type"], json!("forward"), "{forward}");
    assert_eq!(forward["ok"], json!(true), "{forward}");

    // By the time the app has it, the stream holds it already.
    let client = redis::Client::open("redis://127.0.0.1:6379/0").unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    let len: usize = redis::cmd("XLEN").arg(&stream).query_async(&mut redis).await.unwrap();
    assert_eq!(len, 1);
    let stored = app_inbox.event(&id).await.unwrap().expect("the app got the event");
    assert_eq!(stored.body.as_ref(), sample.body.as_bytes());
    let (code, _) = listen.interrupt().await;
    assert_eq!(code, 0);

    let _: () = redis::cmd("DEL")
        .arg(&stream)
        .arg(format!("{stream}:seen:{id}"))
        .query_async(&mut redis)
        .await
        .unwrap();
}

/// The event id of a guide sample.
fn event_id(body: &str) -> String {
    cxtn::events::parse(body.as_bytes()).unwrap().event_id().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_guide_samples_reach_a_jetstream_stream_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let suffix = format!("{:016x}", fastrand::u64(..));
    let stream = format!("CXTN_CLI_TEST_{suffix}");
    let outlet = format!("nats://127.0.0.1:4222?subject=cxtncli{suffix}.{{event}}&stream={stream}&create_stream=true");
    let (listen, url, first) = listen(db.to_str().unwrap(), &["--publish", &outlet]).await;
    assert_eq!(first["publish"], json!([outlet]), "{first}");

    for sample in &samples::GUIDE {
        assert_eq!(post_raw(&url, sample.body).await, 200, "{}", sample.name);
    }
    // A redelivery is stored once, so it is published once.
    let again = samples::GUIDE.first().unwrap();
    assert_eq!(post_raw(&url, again.body).await, 200);

    let js = async_nats::jetstream::new(async_nats::connect("127.0.0.1:4222").await.unwrap());
    let handle = js.get_stream(&stream).await.unwrap();
    eventually("every sample in the stream", || {
        let handle = handle.clone();
        async move { handle.get_info().await.unwrap().state.messages >= samples::GUIDE.len() as u64 }
    })
    .await;
    let (code, _) = listen.interrupt().await;
    assert_eq!(code, 0);

    let messages = handle.get_info().await.unwrap().state.messages;
    assert_eq!(messages, samples::GUIDE.len() as u64);
    let mut stored = Vec::new();
    for sequence in 1..=messages {
        stored.push(handle.get_raw_message(sequence).await.unwrap());
    }
    // The worker may publish in any order: each sample is found by its event id, exactly once.
    for sample in &samples::GUIDE {
        let id = event_id(sample.body);
        let found: Vec<_> = stored
            .iter()
            .filter(|message| message.headers.get("Nats-Msg-Id").map(|v| v.as_str()) == Some(id.as_str()))
            .collect();
        assert_eq!(found.len(), 1, "{}", sample.name);
        let message = found[0];
        assert_eq!(message.payload.as_ref(), sample.body.as_bytes(), "{}", sample.name);
        assert_eq!(message.subject.as_str(), format!("cxtncli{suffix}.{}", sample.event));
        assert_eq!(
            message.headers.get("cxtn-event").map(|v| v.as_str()),
            Some(sample.event),
            "{}",
            sample.name
        );
    }
    js.delete_stream(&stream).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_guide_samples_reach_a_rabbitmq_queue_byte_for_byte() {
    use lapin::options::{
        BasicGetOptions, ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    };
    use lapin::types::FieldTable;
    use lapin::{Connection, ConnectionProperties, ExchangeKind};

    const BROKER: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let exchange = format!("cxtn-cli-test-{:016x}", fastrand::u64(..));
    let connection = Connection::connect(BROKER, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .exchange_declare(
            exchange.as_str().into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    // A server-named queue of this connection, removed when the connection closes.
    let queue = channel
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap()
        .name()
        .clone();
    channel
        .queue_bind(
            queue.clone(),
            exchange.as_str().into(),
            "cxtn.*".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();

    let outlet = format!("{BROKER}?exchange={exchange}&routing_key=cxtn.{{event}}");
    let (listen, url, first) = listen(db.to_str().unwrap(), &["--publish", &outlet]).await;
    let shown = first["publish"][0].as_str().unwrap();
    assert!(!shown.contains("guest:guest"), "{first}");
    assert!(shown.contains(&exchange), "{first}");

    for sample in &samples::GUIDE {
        assert_eq!(post_raw(&url, sample.body).await, 200, "{}", sample.name);
    }
    // A redelivery is stored once, so it is published once.
    let again = samples::GUIDE.first().unwrap();
    assert_eq!(post_raw(&url, again.body).await, 200);

    let mut received = Vec::new();
    for _ in 0..500 {
        if received.len() >= samples::GUIDE.len() {
            break;
        }
        match channel
            .basic_get(queue.clone(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
        {
            Some(message) => received.push(message),
            None => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    }
    let (code, _) = listen.interrupt().await;
    assert_eq!(code, 0);
    let extra = channel
        .basic_get(queue.clone(), BasicGetOptions { no_ack: true })
        .await
        .unwrap();
    assert!(extra.is_none(), "no message beyond the samples");

    assert_eq!(received.len(), samples::GUIDE.len());
    // The worker may publish in any order: each sample is found by its event id, exactly once.
    for sample in &samples::GUIDE {
        let id = event_id(sample.body);
        let found: Vec<_> = received
            .iter()
            .filter(|message| message.properties.message_id().as_ref().map(|v| v.as_str()) == Some(id.as_str()))
            .collect();
        assert_eq!(found.len(), 1, "{}", sample.name);
        let message = found[0];
        assert_eq!(message.data.as_slice(), sample.body.as_bytes(), "{}", sample.name);
        assert_eq!(
            message.routing_key.as_str(),
            format!("cxtn.{}", sample.event),
            "{}",
            sample.name
        );
    }
    channel
        .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
        .await
        .unwrap();
}
