//! RabbitMQ on 127.0.0.1:5672 (guest/guest): bodies byte for byte, properties and headers, re-publishes counted,
//! unroutable messages refused, bad configurations.

use bytes::Bytes;
use cxtn_outlets::{ErrorKind, Publish};
use cxtn_receiver::{Event, Handler};
use lapin::options::{
    BasicGetOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, Connection, ConnectionProperties};

const BROKER: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

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

async fn channel() -> (Connection, Channel) {
    let connection = Connection::connect(BROKER, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    (connection, channel)
}

/// A server-named exclusive queue bound to `exchange` for `binding`.
async fn bound_queue(channel: &Channel, exchange: &str, binding: &str) -> ShortString {
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
        .unwrap();
    let name = queue.name().clone();
    channel
        .queue_bind(
            name.clone(),
            exchange.into(),
            binding.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    name
}

async fn remove(channel: &Channel, queue: Option<ShortString>, exchange: &str) {
    if let Some(queue) = queue {
        channel
            .queue_delete(queue, QueueDeleteOptions::default())
            .await
            .unwrap();
    }
    channel
        .exchange_delete(exchange.into(), ExchangeDeleteOptions::default())
        .await
        .unwrap();
}

fn header(properties: &lapin::BasicProperties, name: &str) -> Option<String> {
    let headers = properties.headers().as_ref()?;
    match headers.inner().get(name)? {
        AMQPValue::LongString(value) => Some(String::from_utf8(value.as_bytes().to_vec()).unwrap()),
        other => panic!("{name}: {other:?} is not a long string"),
    }
}

#[tokio::test]
async fn the_guide_samples_arrive_byte_for_byte_with_their_properties_and_re_publishes_are_counted() {
    let exchange = unique("cxtn-it-");
    let url = format!("{BROKER}?exchange={exchange}&routing_key=cxtn.{{event}}&declare=true&exchange_type=topic");
    let outlet = cxtn_outlets::connect(&url).await.unwrap();
    assert_eq!(outlet.name(), "rabbitmq");
    assert!(!format!("{outlet:?}").contains("guest:guest"), "{outlet:?}");
    let (_connection, channel) = channel().await;
    let queue = bound_queue(&channel, &exchange, "cxtn.*").await;
    let publish = Publish::to(vec![outlet]);

    let samples = cxtn_events::samples::GUIDE;
    for sample in &samples {
        publish.handle(&sample_event(sample.body)).await.unwrap();
    }
    // The same events again, as after a crash between publish and completion: RabbitMQ keeps both copies, and
    // a consumer tells them apart by `message_id` and `cxtn-attempt`.
    for sample in &samples {
        let mut again = sample_event(sample.body);
        again.attempt = 2;
        publish.handle(&again).await.unwrap();
    }

    for (index, attempt) in (0..samples.len() * 2).map(|i| (i % samples.len(), 1 + i / samples.len())) {
        let sample = &samples[index];
        let got = channel
            .basic_get(queue.clone(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{}: attempt {attempt} is missing", sample.name));
        let delivery = got.delivery;
        let notification = cxtn_events::parse(sample.body.as_bytes()).unwrap();
        assert_eq!(delivery.data, sample.body.as_bytes(), "{}: byte for byte", sample.name);
        assert_eq!(delivery.routing_key.as_str(), format!("cxtn.{}", sample.event));
        let properties = &delivery.properties;
        assert_eq!(
            properties.message_id().as_ref().map(ShortString::as_str),
            Some(notification.event_id().as_str())
        );
        assert_eq!(*properties.delivery_mode(), Some(2), "persistent");
        assert_eq!(
            properties.content_type().as_ref().map(ShortString::as_str),
            Some("application/json")
        );
        assert_eq!(
            header(properties, "cxtn-event-id").as_deref(),
            Some(notification.event_id().as_str())
        );
        assert_eq!(header(properties, "cxtn-event").as_deref(), Some(sample.event));
        assert_eq!(header(properties, "cxtn-attempt"), Some(attempt.to_string()));
        assert_eq!(header(properties, "cxtn-conflicts").as_deref(), Some("0"));
        assert!(header(properties, "cxtn-received-at-ms").is_some());
    }
    let rest = channel
        .basic_get(queue.clone(), BasicGetOptions { no_ack: true })
        .await
        .unwrap();
    assert!(rest.is_none(), "two copies of each event, no more");

    remove(&channel, Some(queue), &exchange).await;
}

#[tokio::test]
async fn an_unroutable_message_is_refused_and_the_outlet_goes_on() {
    let exchange = unique("cxtn-it-");
    let url = format!("{BROKER}?exchange={exchange}&routing_key={{event}}&declare=true&exchange_type=direct");
    let outlet = cxtn_outlets::connect(&url).await.unwrap();
    let sample = &cxtn_events::samples::GUIDE[1];
    let message = cxtn_outlets::Message::of(&sample_event(sample.body));

    let e = outlet.publish(&message).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Refused, "{e}");
    assert!(e.to_string().contains("no queue is bound"), "{e}");
    assert!(e.to_string().contains(sample.event), "{e}");

    // Once a queue is bound, the same outlet publishes.
    let (_connection, channel) = channel().await;
    let queue = bound_queue(&channel, &exchange, sample.event).await;
    outlet.publish(&message).await.unwrap();
    let got = channel
        .basic_get(queue.clone(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
        .expect("the message once a queue is bound");
    assert_eq!(got.delivery.data, sample.body.as_bytes());

    remove(&channel, Some(queue), &exchange).await;
}

#[tokio::test]
async fn bad_configurations_fail_at_connect_with_a_clear_error() {
    let no_exchange = cxtn_outlets::connect(&format!("{BROKER}?routing_key={{event}}"))
        .await
        .unwrap_err();
    assert_eq!(no_exchange.kind(), ErrorKind::Config, "{no_exchange}");
    assert!(no_exchange.to_string().contains("exchange=NAME"), "{no_exchange}");

    let bad_type = cxtn_outlets::connect(&format!("{BROKER}?exchange=x&declare=true&exchange_type=round"))
        .await
        .unwrap_err();
    assert_eq!(bad_type.kind(), ErrorKind::Config, "{bad_type}");
    assert!(bad_type.to_string().contains("exchange_type=round"), "{bad_type}");

    // An exchange that does not exist, without declare=true.
    let missing = unique("cxtn-it-missing-");
    let absent = cxtn_outlets::connect(&format!("{BROKER}?exchange={missing}"))
        .await
        .unwrap_err();
    assert_eq!(absent.kind(), ErrorKind::Config, "{absent}");
    assert!(absent.to_string().contains("declare=true"), "{absent}");

    // Refused credentials: the password never shows.
    let refused = cxtn_outlets::connect("amqp://guest:n0t-the-pa55word@127.0.0.1:5672/%2f?exchange=amq.topic")
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Unavailable, "{refused}");
    assert!(
        refused.to_string().contains("refused the user name and password"),
        "{refused}"
    );
    assert!(!refused.to_string().contains("n0t-the-pa55word"), "{refused}");
    assert!(!format!("{refused:?}").contains("n0t-the-pa55word"), "{refused:?}");

    // Nothing listens there.
    let unreachable = cxtn_outlets::connect("amqp://guest:guest@127.0.0.1:1/%2f?exchange=amq.topic")
        .await
        .unwrap_err();
    assert_eq!(unreachable.kind(), ErrorKind::Unavailable, "{unreachable}");
    assert!(
        unreachable.to_string().contains("check the host, the port"),
        "{unreachable}"
    );
    assert!(!unreachable.to_string().contains("guest:guest"), "{unreachable}");

    // An existing exchange without declare=true works.
    let outlet = cxtn_outlets::connect(&format!("{BROKER}?exchange=amq.topic"))
        .await
        .unwrap();
    assert_eq!(outlet.name(), "rabbitmq");
}

#[tokio::test]
async fn after_the_channel_fails_the_next_publish_opens_it_again() {
    let exchange = unique("cxtn-it-");
    let url = format!("{BROKER}?exchange={exchange}&routing_key={{event}}&declare=true&exchange_type=direct");
    let outlet = cxtn_outlets::connect(&url).await.unwrap();
    let sample = &cxtn_events::samples::GUIDE[1];
    let message = cxtn_outlets::Message::of(&sample_event(sample.body));

    // The exchange disappears under the outlet: the broker closes its channel and the publish fails.
    let (_connection, channel) = channel().await;
    channel
        .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
        .await
        .unwrap();
    let e = outlet.publish(&message).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(!e.to_string().contains("guest:guest"), "{e}");

    // The retry opens a new channel, which declares the exchange again, and the message arrives.
    let retried = outlet.publish(&message).await;
    assert_eq!(
        retried.unwrap_err().kind(),
        ErrorKind::Refused,
        "declared again, with no queue bound yet"
    );
    let queue = bound_queue(&channel, &exchange, sample.event).await;
    outlet.publish(&message).await.unwrap();
    let got = channel
        .basic_get(queue.clone(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
        .expect("the message after the channel was opened again");
    assert_eq!(got.delivery.data, sample.body.as_bytes());

    remove(&channel, Some(queue), &exchange).await;
}
