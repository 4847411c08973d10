//! Deliveries into an in-process receiver.

use std::time::Duration;

use cxtn_model::{DataEncoding, EndpointStatus, EventData, WebhookEventType};
use cxtn_sandbox::{ErrorKind, Outcome, Sandbox, SkipReason, Trigger};

use crate::receiver::{Receiver, Reply};

const SETTLE: Duration = Duration::from_secs(10);

/// The path of the receiver's URL: a secret token, as a real endpoint URL carries.
const SECRET_PATH: &str = "/cxtn/hook-7f3a9c2e51d04b8e";

struct Setup {
    sandbox: Sandbox,
    receiver: Receiver,
}

impl Setup {
    /// A sandbox with webhooks enabled and both notifying event types registered at one receiver.
    async fn new() -> Self {
        Self::with(crate::builder()).await
    }

    async fn with(builder: cxtn_sandbox::SandboxBuilder) -> Self {
        let sandbox = builder.start().await.unwrap();
        let receiver = Receiver::start().await;
        sandbox.enable_webhooks().unwrap();
        for kind in [WebhookEventType::Payment, WebhookEventType::AccountTransaction] {
            sandbox.create_endpoint(kind, &receiver.url(SECRET_PATH)).unwrap();
        }
        Self { sandbox, receiver }
    }

    fn set_status(&self, kind: WebhookEventType, status: EndpointStatus) {
        self.sandbox.set_endpoint_status(kind, status).unwrap();
    }

    async fn settle(&self) {
        self.sandbox.wait_until_settled(SETTLE).await.unwrap();
    }

    fn outcomes(&self) -> Vec<Outcome> {
        self.sandbox.deliveries().into_iter().map(|d| d.outcome).collect()
    }
}

#[tokio::test]
async fn both_encodings_of_data_parse_and_keep_every_digit() {
    let s = Setup::new().await;
    let as_object = s.sandbox.trigger(Trigger::new("account_credit")).await.unwrap();
    let as_string = s
        .sandbox
        .trigger(Trigger::new("account_credit").data_as_string(true))
        .await
        .unwrap();
    s.settle().await;
    let received = s.receiver.wait_for(2).await;
    assert_eq!(received.len(), 2);
    for (report, encoding) in [(&as_object, DataEncoding::Object), (&as_string, DataEncoding::String)] {
        let request = received
            .iter()
            .find(|r| r.event_id() == report.event_id.as_str())
            .unwrap();
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, SECRET_PATH);
        assert_eq!(request.content_type.as_deref(), Some("application/json"));
        assert_eq!(request.body, report.body, "the report holds the body as sent");
        let notification = cxtn_events::parse(request.body.as_bytes()).unwrap();
        assert_eq!(notification.data_encoding(), encoding);
        assert!(
            notification.event_id().is_conventional(),
            "{:?}",
            notification.event_id()
        );
        assert_eq!(notification.event_name(), "account_credit");
        assert_eq!(
            notification.amount().unwrap().as_str(),
            "1000.00",
            "the guide's funds-in amount"
        );
        let EventData::AccountCredit(credit) = notification.data() else {
            panic!("{:?}", notification.data());
        };
        assert_eq!(credit.transaction_date_time.as_str(), "2023-12-18T16:28:28.3027309");
    }
    assert!(received[0].body.contains("\"amount\":1000.00"));
    assert_ne!(
        as_object.event_id, as_string.event_id,
        "every trigger gets a fresh eventId"
    );
    let log = s.sandbox.deliveries();
    assert_eq!(log.len(), 2);
    for delivery in &log {
        assert_eq!(delivery.outcome, Outcome::Delivered);
        assert_eq!((delivery.attempts, delivery.last_status), (1, Some(200)));
        assert_eq!(delivery.event_type, Some(WebhookEventType::AccountTransaction));
    }
    assert_eq!(log[1].encoding, DataEncoding::String);
}

#[tokio::test]
async fn overrides_are_delivered_exactly_and_each_event_finds_its_endpoint() {
    let s = Setup::new().await;
    let amount: cxtn_model::Amount = "-0.10".parse().unwrap();
    s.sandbox
        .trigger(
            Trigger::new("account_debit")
                .set("amount", amount)
                .set("userId", "C00000042")
                .set("objectId", 18_446_744_073_709_551_615_u64)
                .set_json("ccyCode", r#""CC-EUR""#)
                .set_json("note", r#"{"nested": [1.50, true]}"#),
        )
        .await
        .unwrap();
    s.sandbox
        .trigger(
            Trigger::new("trade_settled")
                .set_json("sellAmount", "218.70")
                .set_json("balanceDue", "5.000"),
        )
        .await
        .unwrap();
    s.sandbox
        .trigger(Trigger::new("payment_completed").data_as_string(true))
        .await
        .unwrap();
    s.settle().await;
    let received = s.receiver.wait_for(3).await;
    let by_event = |name: &str| {
        received
            .iter()
            .map(|r| cxtn_events::parse(r.body.as_bytes()).unwrap())
            .find(|n| n.event_name() == name)
            .unwrap()
    };
    let debit = by_event("account_debit");
    assert_eq!(debit.amount().unwrap().as_str(), "-0.10");
    assert_eq!(debit.user_id().unwrap().as_str(), "C00000042");
    assert_eq!(debit.object_id().unwrap().get(), u64::MAX);
    assert!(debit.currency().unwrap().is_pot());
    let debit_body = &received.iter().find(|r| r.body.contains("account_debit")).unwrap().body;
    assert!(
        debit_body.contains(r#""note":{"nested": [1.50, true]}"#),
        "{debit_body}"
    );
    assert!(
        debit_body.contains(r#""source":"account_to_account_transfer""#),
        "defaults are kept"
    );
    let EventData::TradeSettled(trade) = by_event("trade_settled").data().clone() else {
        panic!("not a trade");
    };
    assert_eq!(trade.sell_amount.as_str(), "218.70");
    assert_eq!(trade.buy_amount.as_str(), "1000.00");
    assert_eq!(trade.balance_due.unwrap().as_str(), "5.000");
    let payment = by_event("payment_completed");
    assert_eq!(payment.amount().unwrap().as_str(), "10.00");
    assert_eq!(payment.data_encoding(), DataEncoding::String);
    let types: Vec<_> = s
        .sandbox
        .deliveries()
        .into_iter()
        .map(|d| d.event_type.unwrap())
        .collect();
    assert_eq!(
        types,
        [
            WebhookEventType::AccountTransaction,
            WebhookEventType::Payment,
            WebhookEventType::Payment
        ]
    );
}

#[tokio::test]
async fn a_paused_endpoint_holds_notifications_and_delivers_them_in_order_when_active() {
    let s = Setup::new().await;
    s.set_status(WebhookEventType::AccountTransaction, EndpointStatus::Paused);
    let mut held = Vec::new();
    for i in 0..5_u64 {
        let report = s
            .sandbox
            .trigger(Trigger::new("account_credit").set("objectId", 1000 + i))
            .await
            .unwrap();
        assert_eq!(report.outcome, Outcome::Held);
        held.push(report.event_id.as_str().to_owned());
    }
    let payment = s.sandbox.trigger(Trigger::new("payment_completed")).await.unwrap();
    s.settle().await;
    let received = s.receiver.wait_for(1).await;
    assert_eq!(received.len(), 1, "only the payment went out while paused");
    assert_eq!(received[0].event_id(), payment.event_id.as_str());
    assert_eq!(s.outcomes().iter().filter(|o| **o == Outcome::Held).count(), 5);

    s.set_status(WebhookEventType::AccountTransaction, EndpointStatus::Active);
    s.settle().await;
    let received = s.receiver.wait_for(6).await;
    let released: Vec<String> = received[1..].iter().map(|r| r.event_id()).collect();
    assert_eq!(
        released, held,
        "held notifications arrive in the order they were triggered"
    );
    assert!(s.outcomes().iter().all(Outcome::is_delivered), "{:?}", s.outcomes());
}

#[tokio::test]
async fn held_notifications_are_skipped_when_the_endpoint_is_made_inactive() {
    let s = Setup::new().await;
    s.set_status(WebhookEventType::Payment, EndpointStatus::Paused);
    s.sandbox.trigger(Trigger::new("trade_settled")).await.unwrap();
    s.set_status(WebhookEventType::Payment, EndpointStatus::Inactive);
    s.set_status(WebhookEventType::Payment, EndpointStatus::Active);
    s.settle().await;
    assert_eq!(
        s.outcomes(),
        [Outcome::Skipped {
            reason: SkipReason::EndpointInactive
        }]
    );
    assert!(s.receiver.received().is_empty());
}

#[tokio::test]
async fn a_receiver_failing_twice_gets_the_event_on_the_third_attempt() {
    let s = Setup::new().await;
    s.receiver.script([Reply::Status(500), Reply::Status(503)]);
    let report = s.sandbox.trigger(Trigger::new("payment_completed")).await.unwrap();
    s.settle().await;
    let delivery = s.sandbox.delivery(report.deliveries[0]).unwrap();
    assert_eq!(delivery.outcome, Outcome::Delivered);
    assert_eq!(delivery.attempts, 3);
    assert_eq!(delivery.last_status, Some(200));
    assert_eq!(delivery.last_error, None);
    let received = s.receiver.received();
    assert_eq!(received.len(), 3);
    assert!(
        received.iter().all(|r| r.body == report.body),
        "every attempt sends the same body"
    );
}

#[tokio::test]
async fn a_receiver_always_failing_ends_failed_after_the_schedule() {
    let s = Setup::with(crate::builder().retry_schedule([Duration::from_millis(5); 3])).await;
    s.receiver.otherwise(Reply::Status(500));
    let report = s.sandbox.trigger(Trigger::new("account_debit")).await.unwrap();
    s.settle().await;
    let delivery = s.sandbox.delivery(report.deliveries[0]).unwrap();
    assert_eq!(delivery.outcome, Outcome::Failed);
    assert_eq!(delivery.attempts, 4, "one attempt, then one per wait of the schedule");
    assert_eq!(delivery.last_status, Some(500));
    assert_eq!(s.receiver.received().len(), 4);
}

#[tokio::test]
async fn timeouts_and_refused_connections_are_retried() {
    let s = Setup::with(crate::builder().delivery_timeout(Duration::from_secs(1))).await;
    s.receiver.script([Reply::Hang]);
    let report = s.sandbox.trigger(Trigger::new("account_credit")).await.unwrap();
    s.settle().await;
    let delivery = s.sandbox.delivery(report.deliveries[0]).unwrap();
    assert_eq!((delivery.outcome, delivery.attempts), (Outcome::Delivered, 2));
    assert_eq!(s.receiver.received().len(), 2);

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let nowhere = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    s.sandbox.edit_endpoint(WebhookEventType::Payment, &nowhere).unwrap();
    let report = s.sandbox.trigger(Trigger::new("payment_completed")).await.unwrap();
    s.settle().await;
    let delivery = s.sandbox.delivery(report.deliveries[0]).unwrap();
    assert_eq!(
        (delivery.outcome.clone(), delivery.attempts, delivery.last_status),
        (Outcome::Failed, 3, None)
    );
    assert!(
        delivery.last_error.as_deref().unwrap().contains("refused"),
        "{delivery:?}"
    );
}

#[tokio::test]
async fn a_duplicate_arrives_twice_with_the_same_event_id_and_body() {
    let s = Setup::new().await;
    let report = s
        .sandbox
        .trigger(Trigger::new("account_credit").duplicate(true))
        .await
        .unwrap();
    assert_eq!(report.deliveries.len(), 2);
    s.settle().await;
    let received = s.receiver.wait_for(2).await;
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].body, received[1].body);
    assert_eq!(received[0].event_id(), report.event_id.as_str());
    let log = s.sandbox.deliveries();
    assert_eq!(log[1].duplicate_of, Some(log[0].id));
    assert_eq!(log[0].event_id, log[1].event_id);
    assert!(log.iter().all(|d| d.outcome == Outcome::Delivered));
}

#[tokio::test]
async fn undeliverable_notifications_are_skipped_with_their_reason() {
    let sandbox = crate::builder().start().await.unwrap();
    let receiver = Receiver::start().await;
    let skipped = |reason| Outcome::Skipped { reason };

    let report = sandbox.trigger(Trigger::new("account_credit")).await.unwrap();
    assert_eq!(report.outcome, skipped(SkipReason::WebhooksNotEnabled));
    sandbox.enable_webhooks().unwrap();
    let report = sandbox.trigger(Trigger::new("account_credit")).await.unwrap();
    assert_eq!(report.outcome, skipped(SkipReason::NoEndpoint));
    sandbox
        .create_endpoint(WebhookEventType::AccountTransaction, &receiver.url("/a"))
        .unwrap();
    sandbox
        .set_endpoint_status(WebhookEventType::AccountTransaction, EndpointStatus::Inactive)
        .unwrap();
    let report = sandbox.trigger(Trigger::new("account_debit")).await.unwrap();
    assert_eq!(report.outcome, skipped(SkipReason::EndpointInactive));
    sandbox
        .create_endpoint(WebhookEventType::Card, &receiver.url("/c"))
        .unwrap();
    sandbox.deactivate_endpoints().unwrap();
    let report = sandbox
        .trigger(Trigger::new("card_authorised").subscription(WebhookEventType::Card))
        .await
        .unwrap();
    assert_eq!(report.outcome, skipped(SkipReason::EndpointInactive), "deactivated");
    let report = sandbox.trigger(Trigger::new("loan_approved")).await.unwrap();
    assert_eq!(report.outcome, skipped(SkipReason::NoSubscription));
    assert_eq!(report.subscription, None);

    sandbox.wait_until_settled(SETTLE).await.unwrap();
    let log = sandbox.deliveries();
    assert_eq!(log.len(), 5);
    assert!(log.iter().all(|d| d.attempts == 0 && d.outcome.skip_reason().is_some()));
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn an_undocumented_event_goes_to_the_subscription_the_trigger_names() {
    let s = Setup::new().await;
    s.sandbox
        .create_endpoint(WebhookEventType::Card, &s.receiver.url("/cards"))
        .unwrap();
    let report = s
        .sandbox
        .trigger(
            Trigger::new("card_authorised")
                .subscription(WebhookEventType::Card)
                .data_json(r#"{"cardId": 7, "amount": 12.30}"#)
                .set("merchant", "Café"),
        )
        .await
        .unwrap();
    s.settle().await;
    let received = s.receiver.wait_for(1).await;
    assert_eq!(received[0].path, "/cards");
    assert!(
        received[0]
            .body
            .ends_with(r#""data":{"cardId":7,"amount":12.30,"merchant":"Café"}}"#)
    );
    let notification = cxtn_events::parse(received[0].body.as_bytes()).unwrap();
    assert_eq!(notification.event_name(), "card_authorised");
    assert_eq!(report.subscription, Some(WebhookEventType::Card));
}

#[tokio::test]
async fn a_batch_arrives_complete() {
    let s = Setup::new().await;
    let triggers: Vec<Trigger> = (0..12_u64)
        .map(|i| {
            let event = ["account_credit", "account_debit", "payment_completed", "trade_settled"][(i % 4) as usize];
            Trigger::new(event).set("objectId", i)
        })
        .collect();
    let reports = s.sandbox.trigger_batch(triggers).await.unwrap();
    assert_eq!(reports.len(), 12);
    s.settle().await;
    let received = s.receiver.wait_for(12).await;
    let mut sent: Vec<String> = reports.iter().map(|r| r.event_id.as_str().to_owned()).collect();
    let mut arrived: Vec<String> = received.iter().map(|r| r.event_id()).collect();
    sent.sort();
    arrived.sort();
    assert_eq!(arrived, sent, "every notification of the batch arrived, once");
    let mut object_ids: Vec<u64> = received
        .iter()
        .map(|r| {
            cxtn_events::parse(r.body.as_bytes())
                .unwrap()
                .object_id()
                .unwrap()
                .get()
        })
        .collect();
    object_ids.sort_unstable();
    assert_eq!(object_ids, (0..12).collect::<Vec<_>>());
    assert!(s.outcomes().iter().all(Outcome::is_delivered));

    let error = s
        .sandbox
        .trigger_batch([Trigger::new("account_credit"), Trigger::new("")])
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidTrigger);
    assert_eq!(s.sandbox.deliveries().len(), 12, "an invalid batch sends nothing");
}

#[tokio::test]
async fn deliveries_to_different_endpoints_run_concurrently() {
    let s = Setup::with(crate::builder().delivery_timeout(Duration::from_secs(60))).await;
    let stuck = Receiver::start().await;
    stuck.otherwise(Reply::Hang);
    s.sandbox
        .edit_endpoint(WebhookEventType::Payment, &stuck.url("/p"))
        .unwrap();
    let payment = s.sandbox.trigger(Trigger::new("payment_completed")).await.unwrap();
    stuck.wait_for(1).await;
    s.sandbox.trigger(Trigger::new("account_credit")).await.unwrap();
    let received = s.receiver.wait_for(1).await;
    assert_eq!(
        received.len(),
        1,
        "the credit arrived while the payment was still unanswered"
    );
    let payment = s.sandbox.delivery(payment.deliveries[0]).unwrap();
    assert_eq!(payment.outcome, Outcome::Pending);

    let error = s
        .sandbox
        .wait_until_settled(Duration::from_millis(50))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout);
    assert!(error.to_string().contains("1 deliveries still pending"), "{error}");
    s.sandbox.shutdown().await;
}

#[tokio::test]
async fn the_log_redacts_endpoint_urls_and_debug_output_hides_the_token() {
    let s = Setup::new().await;
    s.sandbox.trigger(Trigger::new("account_credit")).await.unwrap();
    s.settle().await;
    let log = s.sandbox.deliveries();
    let url = log[0].url.as_deref().unwrap();
    assert_eq!(url, format!("http://{}/<redacted>", s.receiver.addr));
    let secret = &SECRET_PATH[1..];
    assert!(!format!("{log:?}").contains(secret));
    assert!(!format!("{:?}", s.sandbox.endpoints()).contains(secret));
    let shown = format!("{:?}", s.sandbox);
    assert!(!shown.contains(crate::TOKEN), "{shown}");
    assert!(shown.contains("<redacted>"));
    assert!(!format!("{:?}", crate::builder()).contains(crate::TOKEN));
}

#[tokio::test]
async fn an_edited_url_receives_the_next_notification() {
    let s = Setup::new().await;
    s.sandbox
        .edit_endpoint(WebhookEventType::Payment, &s.receiver.url("/moved"))
        .unwrap();
    s.sandbox.trigger(Trigger::new("trade_settled")).await.unwrap();
    s.settle().await;
    assert_eq!(s.receiver.wait_for(1).await[0].path, "/moved");
}
