//! The Redis Streams outlet: `redis://[:PASSWORD@]HOST:PORT/DB?stream=NAME[&maxlen=N][&dedupe_ttl=7d]`.
//!
//! Each event is appended by one Lua script, which Redis runs atomically: if the record `<stream>:seen:<eventId>`
//! is absent, the script appends the entry with `XADD <stream> [MAXLEN ~ N] * body <bytes> cxtn-event-id ...`
//! and then sets the record (holding the entry id) with an expiry of `dedupe_ttl`.
//! The record and the entry are written together or not at all, so a crash can neither lose the append nor
//! leave a record without its entry.
//! A second publish of the same event id while its record lives appends nothing; once the record has expired
//! (7 days by default), a publish of that id appends again.
//! The script's answer, after Redis ran it, is the confirmation.

use std::fmt;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{RedisError, Script};
use async_trait::async_trait;

use crate::{Error, ErrorKind, Message, Outlet, Template, redacted_url};

/// How long connecting may take before the broker counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one script may take to answer.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the record of a published event id lives by default: 7 days.
const DEFAULT_DEDUPE_TTL: u64 = 7 * 24 * 60 * 60;

/// KEYS[1] the stream, KEYS[2] the record of the event id; ARGV[1] the record's expiry in seconds,
/// ARGV[2] the `MAXLEN ~` cap or an empty string, ARGV[3..] the entry's field and value pairs.
/// Answers the new entry's id, or nil when the event id was already appended.
const APPEND: &str = r"
if redis.call('EXISTS', KEYS[2]) == 1 then
  return false
end
local args = {'XADD', KEYS[1]}
if ARGV[2] ~= '' then
  args[#args + 1] = 'MAXLEN'
  args[#args + 1] = '~'
  args[#args + 1] = ARGV[2]
end
args[#args + 1] = '*'
for i = 3, #ARGV do
  args[#args + 1] = ARGV[i]
end
local id = redis.call(unpack(args))
redis.call('SET', KEYS[2], id, 'EX', ARGV[1])
return id
";

/// Appends events to a Redis stream, once per event id.
pub(crate) struct Redis {
    connection: ConnectionManager,
    script: Script,
    stream: Template,
    maxlen: Option<u64>,
    dedupe_ttl: u64,
    shown: String,
}

impl fmt::Debug for Redis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redis")
            .field("url", &self.shown)
            .field("stream", &self.stream)
            .field("maxlen", &self.maxlen)
            .field("dedupe_ttl", &self.dedupe_ttl)
            .finish_non_exhaustive()
    }
}

/// Opens the outlet a `redis://` URL names, connects, authenticates and loads the script.
pub(crate) async fn connect(url: &url::Url) -> Result<Box<dyn Outlet>, Error> {
    let shown = redacted_url(url.as_str());
    let config_error = |what: String| Error::new(ErrorKind::Config, format!("the outlet URL {shown} {what}"));
    let mut stream = None;
    let mut maxlen = None;
    let mut dedupe_ttl = DEFAULT_DEDUPE_TTL;
    for (name, value) in url.query_pairs() {
        match name.as_ref() {
            "stream" => stream = (!value.is_empty()).then(|| Template::new(value.as_ref())),
            "maxlen" => match value.parse::<u64>() {
                Ok(n) if n > 0 => maxlen = Some(n),
                _ => return Err(config_error(format!("has maxlen={value}; give a whole number above 0"))),
            },
            "dedupe_ttl" => {
                dedupe_ttl = parse_ttl(&value).ok_or_else(|| {
                    config_error(format!(
                        "has dedupe_ttl={value}; give a duration above 0 such as 3600s, 90m, 24h or 7d"
                    ))
                })?;
            }
            other => {
                return Err(config_error(format!(
                    "has the parameter `{other}`, which a redis outlet does not take; use stream, maxlen and dedupe_ttl"
                )));
            }
        }
    }
    let Some(stream) = stream else {
        return Err(config_error(
            "names no stream; add ?stream=NAME, for example ?stream=cxtn:events".to_owned(),
        ));
    };

    let mut server = url.clone();
    server.set_query(None);
    server.set_fragment(None);
    let client = ::redis::Client::open(server.as_str())
        .map_err(|_| config_error("is not a valid redis URL; use redis://[:PASSWORD@]HOST:PORT/DB".to_owned()))?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_number_of_retries(1);
    let unavailable = |e: RedisError| {
        let what = if e.kind() == ::redis::ErrorKind::AuthenticationFailed {
            "refused the credentials; check the password in the URL"
        } else {
            "could not be reached; check that Redis runs there and the database number exists"
        };
        Error::new(ErrorKind::Unavailable, format!("redis at {shown} {what} ({e})")).with_source(e)
    };
    let mut connection = tokio::time::timeout(
        CONNECT_TIMEOUT + RESPONSE_TIMEOUT,
        ConnectionManager::new_with_config(client, config),
    )
    .await
    .map_err(|_| {
        Error::new(
            ErrorKind::Unavailable,
            format!("redis at {shown} did not answer in time; check the host and port"),
        )
    })?
    .map_err(unavailable)?;
    let script = Script::new(APPEND);
    script.load_async(&mut connection).await.map_err(unavailable)?;
    if !stream.as_str().contains('{') {
        let kind: String = ::redis::cmd("TYPE")
            .arg(stream.as_str())
            .query_async(&mut connection)
            .await
            .map_err(unavailable)?;
        if kind != "none" && kind != "stream" {
            return Err(config_error(format!(
                "names the key `{}`, which holds a {kind}, not a stream; choose another stream name",
                stream.as_str()
            )));
        }
    }
    Ok(Box::new(Redis {
        connection,
        script,
        stream,
        maxlen,
        dedupe_ttl,
        shown,
    }))
}

/// Seconds in `3600`, `3600s`, `90m`, `24h` or `7d`; `None` for anything else or zero.
fn parse_ttl(text: &str) -> Option<u64> {
    let (number, unit) = match text.char_indices().last() {
        Some((at, 's')) => (text.get(..at)?, 1),
        Some((at, 'm')) => (text.get(..at)?, 60),
        Some((at, 'h')) => (text.get(..at)?, 60 * 60),
        Some((at, 'd')) => (text.get(..at)?, 24 * 60 * 60),
        _ => (text, 1),
    };
    let seconds = number.parse::<u64>().ok()?.checked_mul(unit)?;
    (seconds > 0).then_some(seconds)
}

#[async_trait]
impl Outlet for Redis {
    fn name(&self) -> &str {
        "redis"
    }

    async fn publish(&self, message: &Message) -> Result<(), Error> {
        let stream = self.stream.render(message);
        let seen = format!("{stream}:seen:{}", message.event_id);
        let mut invocation = self.script.key(&stream);
        invocation
            .key(&seen)
            .arg(self.dedupe_ttl)
            .arg(self.maxlen.map(|n| n.to_string()).unwrap_or_default())
            .arg("body")
            .arg(message.body.as_ref());
        for (name, value) in message.headers() {
            invocation.arg(name).arg(value);
        }
        let mut connection = self.connection.clone();
        let appended: Option<String> = invocation.invoke_async(&mut connection).await.map_err(|e| {
            let kind = if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() {
                ErrorKind::Unavailable
            } else {
                ErrorKind::Refused
            };
            Error::new(
                kind,
                format!("redis at {} did not append to the stream {stream} ({e})", self.shown),
            )
            .with_source(e)
        })?;
        match appended {
            Some(entry) => tracing::debug!(stream, entry, event_id = %message.event_id, "appended to the stream"),
            None => tracing::debug!(stream, event_id = %message.event_id, "already in the stream; nothing appended"),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::parse_ttl;

    #[test]
    fn ttls_read_in_seconds_minutes_hours_and_days() {
        assert_eq!(parse_ttl("3600"), Some(3600));
        assert_eq!(parse_ttl("45s"), Some(45));
        assert_eq!(parse_ttl("90m"), Some(5400));
        assert_eq!(parse_ttl("24h"), Some(86_400));
        assert_eq!(parse_ttl("7d"), Some(604_800));
        for bad in ["", "0", "0d", "d", "-1h", "7w", "1.5h", "99999999999999999999d"] {
            assert_eq!(parse_ttl(bad), None, "{bad}");
        }
    }
}
