//! A new user's first tests, written as the testing guide shows: only the facade and `cxtn::testing`.

use std::sync::{Arc, Mutex};

use cxtn::receiver::{Event, Handler, HandlerError, async_trait};
use cxtn::testing::{self, FakeCxtn, Outcome};
use cxtn::webhooks::Operation;
use cxtn::{EventData, WebhookEventType};

/// The user's handler: records each payment's amount, exactly, and refuses an event it cannot place.
#[derive(Debug, Default)]
struct Payments(Mutex<Vec<String>>);

#[async_trait]
impl Handler for Payments {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        match event.notification.data() {
            EventData::PaymentCompleted(payment) => self.0.lock().unwrap().push(payment.amount.to_string()),
            EventData::TradeSettled(_) => return Err("trades are not booked yet".into()),
            _ => {}
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_new_user_tests_a_handler() {
    let payments = Arc::new(Payments::default());
    let harness = testing::Harness::shared(payments.clone());
    let paid = testing::sample(cxtn::model::EventKind::PaymentCompleted);
    assert_eq!(harness.run(paid.body).await.unwrap(), Outcome::Processed);
    assert_eq!(*payments.0.lock().unwrap(), ["10.00"]);

    let trade = testing::sample(cxtn::model::EventKind::TradeSettled);
    let outcome = harness.run(trade.body).await.unwrap();
    assert!(matches!(outcome, Outcome::Retry { .. }), "{outcome:?}");
    assert_eq!(outcome.error(), Some("trades are not booked yet"));
}

/// The user's start-up: make sure CXTN sends payments to this service.
async fn start(client: &cxtn::Client, url: &str) -> Result<(), cxtn::webhooks::Error> {
    client.webhooks().ensure(WebhookEventType::Payment, url).await.map(drop)
}

#[tokio::test]
async fn a_new_user_tests_ensure_at_startup() {
    let url = "https://hooks.example.com/cxtn/k4Jx9sQ2pLm7Vw3Zt8Yb1Nc6";
    let fresh = FakeCxtn::new().webhooks_enabled(false);
    start(&testing::client(&fresh).unwrap(), url).await.unwrap();
    assert!(fresh.is_enabled());
    assert_eq!(
        fresh.endpoint(WebhookEventType::Payment).unwrap().endpoint_url.as_str(),
        url
    );

    // The second start changes nothing: one list.
    fresh.clear_calls();
    start(&testing::client(&fresh).unwrap(), url).await.unwrap();
    fresh.assert_called(&[Operation::List]);
}
