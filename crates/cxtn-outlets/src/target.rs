//! Destinations templated by event name, and URLs shown without their credentials.

/// A subject, routing key or stream name that may hold `{event}` (the event name) and `{subscription}`
/// (the subscription, or `unknown`), as in `cxtn.events.{event}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(String);

impl Template {
    /// A template from its text.
    #[must_use]
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The text as given.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The destination for a message: placeholders filled, each character outside `[A-Za-z0-9_-]` of the
    /// filled-in values replaced by `_`, so an event name can never add a subject token or a wildcard.
    #[must_use]
    pub fn render(&self, message: &crate::Message) -> String {
        let subscription = message.subscription.as_deref().unwrap_or("unknown");
        self.0
            .replace("{event}", &safe(&message.event))
            .replace("{subscription}", &safe(subscription))
    }
}

fn safe(value: &str) -> String {
    let cleaned: String = value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() { "_".to_owned() } else { cleaned }
}

/// A URL as it may be shown: any user name and password replaced by `***`, the query kept.
/// Text that is not a URL is shown as `<not a URL>`.
#[must_use]
pub fn redacted_url(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut url) => {
            if !url.username().is_empty() || url.password().is_some() {
                let _ = url.set_username("***");
                let _ = url.set_password(None);
            }
            url.to_string()
        }
        Err(_) => "<not a URL>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show() {
        assert_eq!(
            redacted_url("amqp://guest:s3cret@127.0.0.1:5672/%2f?exchange=cxtn"),
            "amqp://***@127.0.0.1:5672/%2f?exchange=cxtn"
        );
        assert_eq!(
            redacted_url("redis://:s3cret@127.0.0.1:6379/0"),
            "redis://***@127.0.0.1:6379/0"
        );
        assert_eq!(redacted_url("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        assert_eq!(redacted_url("s3cret"), "<not a URL>");
    }

    #[test]
    fn templates_fill_in_safe_names() {
        let notification = cxtn_events::parse(cxtn_events::samples::GUIDE[1].body.as_bytes()).unwrap();
        let mut message = crate::Message::of(&cxtn_receiver::Event::new(notification));
        assert_eq!(
            Template::new("cxtn.events.{event}").render(&message),
            "cxtn.events.payment_completed"
        );
        assert_eq!(Template::new("{subscription}").render(&message), "Payment");
        message.event = "a.b*>c".to_owned();
        assert_eq!(
            Template::new("cxtn.events.{event}").render(&message),
            "cxtn.events.a_b__c"
        );
    }
}
