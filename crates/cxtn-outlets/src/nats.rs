//! NATS JetStream: `nats://[USER:PASSWORD@]HOST:PORT?subject=cxtn.events.{event}[&stream=NAME&create_stream=true]`.
//!
//! - `subject` (required): the subject each event is published to, a [`Template`].
//! - `stream`: the JetStream stream that must hold the subject; without it, any stream holding it will do.
//! - `create_stream=true`: create the stream (`stream` is then required) when it is missing, with the subjects
//!   the template can produce (each token holding a placeholder becomes `*`) and a deduplication window of
//!   `duplicate_window` seconds (120 by default). An existing stream is used as it is.
//!
//! Every message carries `Nats-Msg-Id` set to the event id, so the stream's deduplication window drops a
//! re-publish of the same event; the publish returns once the JetStream ack arrived.

use std::fmt;
use std::time::Duration;

use async_nats::jetstream::{self, context::PublishErrorKind};
use async_trait::async_trait;

use crate::{Error, ErrorKind, Message, Outlet, Template, redacted_url};

/// How long connecting and each JetStream request (a publish ack included) may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The deduplication window of a stream created by the outlet, unless `duplicate_window` says otherwise.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// Publishes to a JetStream subject and waits for the stream's ack.
pub(crate) struct Nats {
    url: String,
    subject: Template,
    jetstream: jetstream::Context,
}

impl fmt::Debug for Nats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Nats")
            .field("url", &self.url)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// What a `nats://` URL asks for.
#[derive(Debug)]
struct Settings {
    subject: Template,
    stream: Option<String>,
    create_stream: bool,
    duplicate_window: Duration,
}

fn config(url: &str, what: impl fmt::Display) -> Error {
    Error::new(ErrorKind::Config, format!("the outlet URL {url} {what}"))
}

fn settings(parsed: &url::Url, shown: &str) -> Result<Settings, Error> {
    let mut subject = None;
    let mut stream = None;
    let mut create_stream = false;
    let mut duplicate_window = DUPLICATE_WINDOW;
    for (name, value) in parsed.query_pairs() {
        match name.as_ref() {
            "subject" => subject = Some(value.into_owned()),
            "stream" => stream = Some(value.into_owned()),
            "create_stream" => {
                create_stream = match value.as_ref() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(config(
                            shown,
                            "has create_stream set to neither true nor false; use one of them",
                        ));
                    }
                }
            }
            "duplicate_window" => {
                duplicate_window = match value.parse::<u64>() {
                    Ok(seconds) if seconds > 0 => Duration::from_secs(seconds),
                    _ => {
                        return Err(config(
                            shown,
                            "has a duplicate_window that is not a positive number of seconds; use for example 120",
                        ));
                    }
                }
            }
            other => {
                return Err(config(
                    shown,
                    format_args!(
                        "has the unknown parameter `{other}`; use subject, stream, create_stream or duplicate_window"
                    ),
                ));
            }
        }
    }
    let Some(subject) = subject else {
        return Err(config(
            shown,
            "has no subject; add ?subject=cxtn.events.{event} (or another subject)",
        ));
    };
    if !subject.split('.').all(|token| {
        !token.is_empty() && token != "*" && token != ">" && !token.chars().any(|c| c.is_whitespace() || c.is_control())
    }) {
        return Err(config(
            shown,
            "has a subject that is not a plain NATS subject; use dot-separated tokens without spaces or wildcards, \
             such as cxtn.events.{event}",
        ));
    }
    if stream.as_deref().is_some_and(|name| {
        name.is_empty()
            || name
                .chars()
                .any(|c| matches!(c, '.' | '*' | '>') || c.is_whitespace() || c.is_control())
    }) {
        return Err(config(
            shown,
            "has a stream name with a dot, a wildcard or a space; use a name such as CXTN_EVENTS",
        ));
    }
    if create_stream && stream.is_none() {
        return Err(config(
            shown,
            "has create_stream=true but no stream; add &stream=NAME (for example CXTN_EVENTS)",
        ));
    }
    Ok(Settings {
        subject: Template::new(subject),
        stream,
        create_stream,
        duplicate_window,
    })
}

/// The subjects a template can produce: each token holding a placeholder becomes `*`.
fn subjects_of(template: &Template) -> String {
    template
        .as_str()
        .split('.')
        .map(|token| {
            if token.contains("{event}") || token.contains("{subscription}") {
                "*"
            } else {
                token
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Connects, checks that JetStream answers and that a stream holds the subject (creating it when asked).
pub(crate) async fn connect(parsed: &url::Url) -> Result<Nats, Error> {
    let shown = redacted_url(parsed.as_str());
    let settings = settings(parsed, &shown)?;
    let Some(host) = parsed.host_str() else {
        return Err(config(&shown, "has no host; use nats://HOST:PORT?subject=..."));
    };
    let address = format!("nats://{host}:{}", parsed.port().unwrap_or(4222));
    let mut options = async_nats::ConnectOptions::new()
        .connection_timeout(TIMEOUT)
        .name("cxtn-outlets");
    if !parsed.username().is_empty() || parsed.password().is_some() {
        let decode = |text: &str| percent_decode(text);
        options = options.user_and_password(decode(parsed.username()), decode(parsed.password().unwrap_or_default()));
    }
    let client = async_nats::connect_with_options(address, options).await.map_err(|e| {
        use async_nats::ConnectErrorKind as Kind;
        let what = match e.kind() {
            Kind::Authentication | Kind::AuthorizationViolation => {
                "refused the credentials; check the user and password in the URL"
            }
            Kind::ServerParse => "does not name a server; use nats://HOST:PORT",
            _ => "could not be reached; check that NATS runs there and the host and port are right",
        };
        let kind = if e.kind() == Kind::ServerParse {
            ErrorKind::Config
        } else {
            ErrorKind::Unavailable
        };
        Error::new(kind, format!("the NATS server at {shown} {what} ({e})")).with_source(e)
    })?;
    let mut jetstream = jetstream::new(client);
    jetstream.set_timeout(TIMEOUT);

    let unavailable = |what: &str, e: &dyn fmt::Display| {
        Error::new(
            ErrorKind::Unavailable,
            format!("the NATS server at {shown} {what} ({e}); check that JetStream is enabled (nats-server -js)"),
        )
    };
    let filter = subjects_of(&settings.subject);
    if let (true, Some(name)) = (settings.create_stream, &settings.stream) {
        jetstream
            .get_or_create_stream(jetstream::stream::Config {
                name: name.clone(),
                subjects: vec![filter.clone()],
                duplicate_window: settings.duplicate_window,
                ..Default::default()
            })
            .await
            .map_err(|e| unavailable(&format!("could not create the stream {name}"), &e))?;
    }
    match jetstream.stream_by_subject(filter.clone()).await {
        Ok(found) => {
            if let Some(name) = settings.stream.as_ref().filter(|name| **name != found) {
                return Err(config(
                    &shown,
                    format_args!(
                        "names the stream {name}, but the subjects {filter} belong to the stream {found}; \
                         fix stream= or the subject"
                    ),
                ));
            }
        }
        Err(e) if e.kind() == jetstream::context::GetStreamByNameErrorKind::NotFound => {
            return Err(config(
                &shown,
                format_args!(
                    "has the subject {filter}, which no JetStream stream holds; create the stream or add \
                     &stream=NAME&create_stream=true"
                ),
            ));
        }
        Err(e) => return Err(unavailable("did not list its JetStream streams", &e)),
    }
    Ok(Nats {
        url: shown,
        subject: settings.subject,
        jetstream,
    })
}

/// Percent-decoding of a URL's user name or password.
fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

#[async_trait]
impl Outlet for Nats {
    fn name(&self) -> &str {
        "nats"
    }

    async fn publish(&self, message: &Message) -> Result<(), Error> {
        let subject = self.subject.render(message);
        let mut headers = async_nats::HeaderMap::new();
        for (name, value) in message.headers() {
            headers.insert(name, value);
        }
        headers.insert(async_nats::header::NATS_MESSAGE_ID, message.event_id.to_string());
        let failed = |e: jetstream::context::PublishError| {
            let kind = match e.kind() {
                PublishErrorKind::StreamNotFound
                | PublishErrorKind::WrongLastMessageId
                | PublishErrorKind::WrongLastSequence
                | PublishErrorKind::MaxPayloadExceeded => ErrorKind::Refused,
                _ => ErrorKind::Unavailable,
            };
            Error::new(
                kind,
                format!(
                    "NATS at {} did not take the event on {subject} ({e}); the event will be retried",
                    self.url
                ),
            )
            .with_source(e)
        };
        let ack = self
            .jetstream
            .publish_with_headers(subject.clone(), headers, message.body.clone())
            .await
            .map_err(failed)?
            .await
            .map_err(failed)?;
        if ack.duplicate {
            tracing::debug!(event_id = %message.event_id, stream = %ack.stream, "the stream already held this event");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<Settings, Error> {
        settings(&url::Url::parse(url).unwrap(), &redacted_url(url))
    }

    #[test]
    fn urls_are_checked_before_connecting() {
        let ok = parse("nats://u:p@127.0.0.1:4222?subject=cxtn.events.{event}&stream=S&create_stream=true").unwrap();
        assert_eq!(ok.subject.as_str(), "cxtn.events.{event}");
        assert_eq!(ok.duplicate_window, DUPLICATE_WINDOW);
        assert_eq!(subjects_of(&ok.subject), "cxtn.events.*");
        assert_eq!(subjects_of(&Template::new("a.x-{event}.{subscription}.b")), "a.*.*.b");
        for (url, says) in [
            ("nats://127.0.0.1:4222", "has no subject"),
            ("nats://127.0.0.1:4222?subject=a.>", "not a plain NATS subject"),
            ("nats://127.0.0.1:4222?subject=a..b", "not a plain NATS subject"),
            ("nats://127.0.0.1:4222?subject=a&create_stream=true", "no stream"),
            (
                "nats://127.0.0.1:4222?subject=a&create_stream=yes",
                "neither true nor false",
            ),
            ("nats://127.0.0.1:4222?subject=a&stream=a.b", "stream name"),
            ("nats://127.0.0.1:4222?subject=a&duplicate_window=0", "duplicate_window"),
            (
                "nats://u:s3cret@127.0.0.1:4222?subject=a&subjet=b",
                "unknown parameter `subjet`",
            ),
        ] {
            let e = parse(url).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{url}");
            assert!(e.to_string().contains(says), "{url}: {e}");
            assert!(!e.to_string().contains("s3cret"), "{e}");
        }
    }

    #[test]
    fn credentials_are_percent_decoded() {
        assert_eq!(percent_decode("p%40ss+w"), "p@ss+w");
    }
}
