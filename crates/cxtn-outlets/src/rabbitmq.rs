//! RabbitMQ: persistent messages to an exchange, with publisher confirms and mandatory routing.
//!
//! URL: `amqp://USER:PASS@HOST:PORT/VHOST?exchange=NAME&routing_key=TEMPLATE[&declare=true&exchange_type=topic]`.
//! The routing key defaults to `{event}`; `exchange_type` (`direct`, `fanout`, `topic`, `headers`, default `topic`)
//! applies when `declare=true` declares the exchange as durable.
//! Without `declare=true` the exchange must already exist.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Confirmation, Connection, ConnectionProperties, ExchangeKind};
use tokio::sync::Mutex;

use crate::{Error, ErrorKind, Message, Outlet, Template, redacted_url};

/// How long opening the connection and checking the exchange may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the broker may take to confirm one message.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);
/// `delivery_mode` of a message the broker writes to disk.
const PERSISTENT: u8 = 2;

/// A RabbitMQ outlet: one connection and one confirming channel, opened again after a failure.
pub(crate) struct RabbitMq {
    /// The AMQP URI with credentials: never shown.
    uri: String,
    /// The URL as it may be shown.
    shown: String,
    exchange: ShortString,
    routing_key: Template,
    declare: Option<ExchangeKind>,
    link: Mutex<Option<Link>>,
}

struct Link {
    connection: Connection,
    channel: Channel,
}

impl fmt::Debug for RabbitMq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RabbitMq")
            .field("url", &self.shown)
            .field("exchange", &self.exchange)
            .field("routing_key", &self.routing_key)
            .finish_non_exhaustive()
    }
}

/// Opens the outlet an `amqp://` URL names, and checks that the exchange exists (or declares it).
pub(crate) async fn connect(url: &url::Url) -> Result<RabbitMq, Error> {
    let shown = redacted_url(url.as_str());
    let mut exchange = None;
    let mut routing_key = None;
    let mut declare = false;
    let mut exchange_type = None;
    let mut rest = url.clone();
    rest.set_query(None);
    {
        let mut kept = rest.query_pairs_mut();
        for (name, value) in url.query_pairs() {
            match name.as_ref() {
                "exchange" => exchange = Some(value.into_owned()),
                "routing_key" => routing_key = Some(value.into_owned()),
                "declare" => declare = parse_bool(&shown, &value)?,
                "exchange_type" => exchange_type = Some(parse_kind(&shown, &value)?),
                _ => {
                    kept.append_pair(&name, &value);
                }
            }
        }
    }
    if rest.query() == Some("") {
        rest.set_query(None);
    }
    let exchange = exchange.filter(|name| !name.is_empty()).ok_or_else(|| {
        Error::new(
            ErrorKind::Config,
            format!("the outlet URL {shown} names no exchange; add ?exchange=NAME (and declare=true to create it)"),
        )
    })?;
    let exchange = ShortString::try_new(exchange).map_err(|_| {
        Error::new(
            ErrorKind::Config,
            format!("the outlet URL {shown} names an exchange longer than 255 bytes; use a shorter name"),
        )
    })?;
    let outlet = RabbitMq {
        uri: rest.to_string(),
        shown,
        exchange,
        routing_key: Template::new(routing_key.unwrap_or_else(|| "{event}".to_owned())),
        declare: declare.then(|| exchange_type.unwrap_or(ExchangeKind::Topic)),
        link: Mutex::new(None),
    };
    let link = outlet.open().await?;
    *outlet.link.lock().await = Some(link);
    Ok(outlet)
}

fn parse_bool(shown: &str, value: &str) -> Result<bool, Error> {
    match value {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(Error::new(
            ErrorKind::Config,
            format!("the outlet URL {shown} has declare={value}; use declare=true or declare=false"),
        )),
    }
}

fn parse_kind(shown: &str, value: &str) -> Result<ExchangeKind, Error> {
    match value {
        "direct" => Ok(ExchangeKind::Direct),
        "fanout" => Ok(ExchangeKind::Fanout),
        "topic" => Ok(ExchangeKind::Topic),
        "headers" => Ok(ExchangeKind::Headers),
        _ => Err(Error::new(
            ErrorKind::Config,
            format!("the outlet URL {shown} has exchange_type={value}; use direct, fanout, topic or headers"),
        )),
    }
}

impl RabbitMq {
    /// Connects, turns on publisher confirms, and declares or checks the exchange, within [`CONNECT_TIMEOUT`].
    async fn open(&self) -> Result<Link, Error> {
        match tokio::time::timeout(CONNECT_TIMEOUT, self.open_now()).await {
            Ok(result) => result,
            Err(_) => Err(Error::new(
                ErrorKind::Unavailable,
                format!(
                    "rabbitmq at {} did not answer within {} s; check the host, the port and that the broker runs",
                    self.shown,
                    CONNECT_TIMEOUT.as_secs()
                ),
            )),
        }
    }

    async fn open_now(&self) -> Result<Link, Error> {
        let connection = Connection::connect(&self.uri, ConnectionProperties::default())
            .await
            .map_err(|e| {
                let advice = if refused_access(&e) {
                    "rabbitmq refused the user name and password or the virtual host; check them and the user's \
                     permissions"
                } else {
                    "check the host, the port, the virtual host and that the broker runs"
                };
                Error::new(
                    ErrorKind::Unavailable,
                    format!("cannot connect to rabbitmq at {} ({e}); {advice}", self.shown),
                )
            })?;
        let channel = connection.create_channel().await.map_err(|e| self.unavailable(&e))?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| self.unavailable(&e))?;
        let (kind, options) = match &self.declare {
            Some(kind) => (
                kind.clone(),
                ExchangeDeclareOptions {
                    durable: true,
                    ..ExchangeDeclareOptions::default()
                },
            ),
            None => (
                ExchangeKind::Direct,
                ExchangeDeclareOptions {
                    passive: true,
                    ..ExchangeDeclareOptions::default()
                },
            ),
        };
        channel
            .exchange_declare(self.exchange.clone(), kind, options, FieldTable::default())
            .await
            .map_err(|e| {
                let advice = if self.declare.is_some() {
                    "check that the user may configure it and that an existing exchange has the same type"
                } else {
                    "create it, or add declare=true to the outlet URL"
                };
                Error::new(
                    ErrorKind::Config,
                    format!(
                        "rabbitmq at {} has no usable exchange `{}` ({e}); {advice}",
                        self.shown, self.exchange
                    ),
                )
            })?;
        Ok(Link { connection, channel })
    }

    fn unavailable(&self, e: &lapin::Error) -> Error {
        Error::new(
            ErrorKind::Unavailable,
            format!(
                "rabbitmq at {} failed ({e}); check that the broker runs, the event is retried",
                self.shown
            ),
        )
    }

    /// The open channel, or a new one when the last failed.
    async fn channel(&self) -> Result<Channel, Error> {
        let mut link = self.link.lock().await;
        if let Some(open) = link.as_ref()
            && open.connection.status().connected()
            && open.channel.status().connected()
        {
            return Ok(open.channel.clone());
        }
        *link = None;
        let open = self.open().await?;
        let channel = open.channel.clone();
        *link = Some(open);
        Ok(channel)
    }

    /// Drops the channel after a failure, so the next publish opens a new one.
    async fn reset(&self) {
        *self.link.lock().await = None;
    }
}

/// Whether the broker refused the credentials or the virtual host.
fn refused_access(e: &lapin::Error) -> bool {
    use lapin::protocol::{AMQPErrorKind, AMQPHardError, AMQPSoftError};
    match e.kind() {
        lapin::ErrorKind::ProtocolError(error) => matches!(
            error.kind(),
            AMQPErrorKind::Soft(AMQPSoftError::ACCESSREFUSED) | AMQPErrorKind::Hard(AMQPHardError::NOTALLOWED)
        ),
        _ => false,
    }
}

/// `value` as an AMQP short string, or a refusal naming `what` when it is longer than 255 bytes.
fn short(message: &Message, what: &str, value: &str) -> Result<ShortString, Error> {
    ShortString::try_new(value).map_err(|_| {
        Error::new(
            ErrorKind::Refused,
            format!(
                "the {what} of event {} is longer than the 255 bytes rabbitmq takes; use a shorter routing key \
                 template, or leave the event dead-lettered",
                message.event_id
            ),
        )
    })
}

/// The message's properties: persistent, JSON, `message_id` set to the event id, the metadata as headers.
fn properties(message: &Message) -> Result<BasicProperties, Error> {
    let mut headers = FieldTable::default();
    for (name, value) in message.headers() {
        headers.insert(name.into(), AMQPValue::LongString(value.into()));
    }
    let mut properties = BasicProperties::default()
        .with_delivery_mode(PERSISTENT)
        .with_content_type("application/json".into())
        .with_message_id(short(message, "event id", message.event_id.as_str())?)
        .with_type(short(message, "event name", &message.event)?)
        .with_headers(headers);
    if let Ok(seconds) = u64::try_from(message.received_at_ms / 1000) {
        properties = properties.with_timestamp(seconds);
    }
    Ok(properties)
}

#[async_trait]
impl Outlet for RabbitMq {
    fn name(&self) -> &str {
        "rabbitmq"
    }

    async fn publish(&self, message: &Message) -> Result<(), Error> {
        let routing_key = self.routing_key.render(message);
        let key = short(message, "routing key", &routing_key)?;
        let properties = properties(message)?;
        let channel = self.channel().await?;
        let options = BasicPublishOptions {
            mandatory: true,
            ..BasicPublishOptions::default()
        };
        let sent = channel
            .basic_publish(self.exchange.clone(), key, options, &message.body, properties)
            .await;
        let confirm = match sent {
            Ok(confirm) => confirm,
            Err(e) => {
                self.reset().await;
                return Err(self.unavailable(&e));
            }
        };
        let confirmation = match tokio::time::timeout(CONFIRM_TIMEOUT, confirm).await {
            Ok(Ok(confirmation)) => confirmation,
            Ok(Err(e)) => {
                self.reset().await;
                return Err(self.unavailable(&e));
            }
            Err(_) => {
                self.reset().await;
                return Err(Error::new(
                    ErrorKind::Unavailable,
                    format!(
                        "rabbitmq at {} did not confirm event {} within {} s; the event is retried",
                        self.shown,
                        message.event_id,
                        CONFIRM_TIMEOUT.as_secs()
                    ),
                ));
            }
        };
        match confirmation {
            Confirmation::Ack(None) => Ok(()),
            Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)) => Err(Error::new(
                ErrorKind::Refused,
                format!(
                    "rabbitmq returned event {} ({} {}): no queue is bound to exchange `{}` for routing key \
                     `{routing_key}`; bind a queue for it, the event is retried",
                    message.event_id, returned.reply_code, returned.reply_text, self.exchange
                ),
            )),
            Confirmation::Nack(None) => Err(Error::new(
                ErrorKind::Refused,
                format!(
                    "rabbitmq refused event {} on exchange `{}`; check the broker's logs, the event is retried",
                    message.event_id, self.exchange
                ),
            )),
            Confirmation::NotRequested => {
                self.reset().await;
                Err(Error::new(
                    ErrorKind::Unavailable,
                    format!(
                        "rabbitmq at {} did not confirm event {}; the channel is opened again and the event retried",
                        self.shown, message.event_id
                    ),
                ))
            }
        }
    }
}
