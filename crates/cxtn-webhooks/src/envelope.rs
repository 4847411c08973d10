//! Reading CXTN's answers: the envelope, its status triple, and what each failure becomes.

use std::sync::PoisonError;

use cxtn_model::{ApiResponse, ApiStatus, HasStatus, Timestamp};
use cxtn_transport::{Response, StatusCode};
use serde::de::DeserializeOwned;

use crate::{Client, Error, ErrorKind};

impl Client {
    /// The model of a successful answer (HTTP 2xx with `ApiStatusCode` 100), or the failure it describes.
    /// Records the token's end date whenever the envelope carries one.
    pub(crate) fn read<M: DeserializeOwned + HasStatus>(&self, response: Response) -> Result<M, Error> {
        let status = response.status;
        let envelope = serde_json::from_slice::<ApiResponse<M>>(&response.body);
        if let Ok(envelope) = &envelope
            && let Some(end) = envelope.token_end_date()
        {
            *self.inner.token_end_date.lock().unwrap_or_else(PoisonError::into_inner) = Some(end);
        }
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            let mut e = Error::new(ErrorKind::Unauthorized, self.unauthorized_message(status)).with_http_status(status);
            if let Ok(envelope) = envelope {
                e = e.with_api_status(envelope.content.model.status().clone());
            }
            return Err(e);
        }
        match envelope {
            Ok(envelope) => {
                let api_status = envelope.content.model.status().clone();
                if status.is_success() && api_status.is_valid() {
                    return Ok(envelope.content.model);
                }
                if api_status.code.is_none() {
                    return Err(Error::new(
                        ErrorKind::Decode,
                        format!("HTTP {status}: the response has no ApiStatusCode in Content.Model"),
                    )
                    .with_http_status(status)
                    .with_body(&response.body));
                }
                Err(api_error(status, api_status))
            }
            Err(e) if status.is_success() => Err(Error::new(
                ErrorKind::Decode,
                format!("HTTP {status}: the response is not a CXTN envelope ({e})"),
            )
            .with_http_status(status)
            .with_body(&response.body)
            .with_source(e)),
            Err(_) => Err(Error::new(
                ErrorKind::Http,
                format!(
                    "HTTP {status} without a CXTN envelope{}",
                    if response.body.is_empty() { " (empty body)" } else { "" }
                ),
            )
            .with_http_status(status)
            .with_body(&response.body)),
        }
    }

    fn unauthorized_message(&self, status: StatusCode) -> String {
        let expired = self
            .token_expires_at()
            .filter(has_passed)
            .map(|end| format!(" (it expired at {end})"));
        match expired {
            Some(when) => format!("HTTP {status}: CXTN refused the access token{when}; get a new token"),
            None => format!(
                "HTTP {status}: CXTN refused the access token; it is wrong or expired, or the client lacks access to webhooks. Get a new token, or ask CXTN to enable webhooks"
            ),
        }
    }
}

/// Whether a token end date CXTN sent has passed; dates without an offset are read as UTC.
fn has_passed(end: &Timestamp) -> bool {
    let utc = chrono::Offset::fix(&chrono::Utc);
    let now = chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now());
    end.assume_offset(utc) <= now
}

fn api_error(status: StatusCode, api_status: ApiStatus) -> Error {
    let code = api_status.code.map_or_else(|| "no code".to_owned(), |c| c.to_string());
    let name = api_status.status.clone().unwrap_or_default();
    let description = api_status.description.clone().unwrap_or_default();
    Error::new(
        ErrorKind::Api,
        format!("CXTN refused the operation (HTTP {status}, ApiStatusCode {code} {name}): {description}"),
    )
    .with_http_status(status)
    .with_api_status(api_status)
}

impl From<cxtn_transport::Error> for Error {
    /// A transport failure: [`ErrorKind::Timeout`] for a timeout, [`ErrorKind::Transport`] otherwise.
    fn from(e: cxtn_transport::Error) -> Self {
        let kind = if e.is_timeout() {
            ErrorKind::Timeout
        } else {
            ErrorKind::Transport
        };
        let attempts = e.attempts();
        let elapsed = e.elapsed();
        let message = format!(
            "{} (after {attempts} attempt{} in {:.1}s)",
            e.message(),
            if attempts == 1 { "" } else { "s" },
            elapsed.as_secs_f64()
        );
        Self::new(kind, message).with_attempts(attempts, elapsed).with_source(e)
    }
}
