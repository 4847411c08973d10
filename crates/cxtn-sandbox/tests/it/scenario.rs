//! The whole scenario against a loopback recorder, and its check.

use std::collections::HashMap;

use cxtn_events::samples;
use cxtn_model::{DataEncoding, EventId};
use cxtn_sandbox::{Arrivals, Progress, Recorded, RecordedEvent, Report, Role, Sandbox, Scenario};

use crate::receiver::{Received, Receiver};

/// What a deduplicating receiver would record of these requests: each event stored and handled once.
fn recorded(received: &[Received]) -> Recorded {
    let mut recorded = Recorded::default();
    for request in received {
        let Ok(notification) = cxtn_events::parse(request.body.as_bytes()) else {
            recorded.rejected += 1;
            recorded.arrivals.rejected += 1;
            continue;
        };
        let event = recorded
            .events
            .entry(notification.event_id().clone())
            .or_insert(RecordedEvent {
                deliveries: 0,
                status: "processed".to_owned(),
                handled: 1,
            });
        event.deliveries += 1;
        if event.deliveries > 1 {
            recorded.duplicates += 1;
            recorded.arrivals.duplicates += 1;
        } else {
            recorded.arrivals.stored += 1;
        }
    }
    recorded
}

async fn run(sandbox: &Sandbox, receiver: &Receiver) -> (Report, Vec<String>) {
    let mut steps = Vec::new();
    let report = Scenario::new(receiver.url("/cxtn/scenario-7d41c9"))
        .run(sandbox, sandbox, &mut |progress| {
            steps.push(match progress {
                Progress::Registered(types) => format!("registered {types:?}"),
                Progress::SamplesSent { samples, notifications } => {
                    format!("sent {samples} samples as {notifications}")
                }
                Progress::DuplicateSent(id) => format!("duplicate {id}"),
                Progress::Paused { held, .. } => format!("paused, held {held}"),
                Progress::Resumed { delivered, .. } => format!("resumed, delivered {delivered}"),
                Progress::Waiting => "waiting".to_owned(),
                Progress::Settled => "settled".to_owned(),
                other => format!("{other:?}"),
            });
        })
        .await
        .unwrap();
    (report, steps)
}

#[tokio::test]
async fn the_scenario_sends_every_sample_a_duplicate_and_a_held_event_and_the_check_passes() {
    let sandbox = crate::builder().start().await.unwrap();
    let receiver = Receiver::start().await;
    let (report, steps) = run(&sandbox, &receiver).await;
    let duplicate = report.sent.iter().find(|s| s.role == Role::Duplicate).unwrap();
    assert_eq!(
        steps,
        [
            "registered [Payment, AccountTransaction]".to_owned(),
            "sent 7 samples as 14".to_owned(),
            format!("duplicate {}", duplicate.event_id),
            "waiting".to_owned(),
            "settled".to_owned(),
            "waiting".to_owned(),
            "settled".to_owned(),
            "paused, held true".to_owned(),
            "waiting".to_owned(),
            "settled".to_owned(),
            "resumed, delivered true".to_owned(),
        ]
    );

    assert_eq!(report.sent.len(), 16);
    let order: Vec<(&str, DataEncoding)> = report.sent[..14].iter().map(|s| (s.sample, s.encoding)).collect();
    let guide: Vec<(&str, DataEncoding)> = samples::GUIDE
        .iter()
        .flat_map(|s| [(s.name, DataEncoding::Object), (s.name, DataEncoding::String)])
        .collect();
    assert_eq!(order, guide, "the samples in the guide's order, object then string");
    assert!(
        report.sent[..14]
            .iter()
            .all(|s| s.role == Role::Sample && s.copies == 1)
    );
    assert_eq!((duplicate.sample, duplicate.copies), ("payment_complete", 2));
    let held = report.sent.last().unwrap();
    assert_eq!(
        (held.role, held.sample, held.copies),
        (Role::HeldWhilePaused, "funds_in", 1)
    );
    assert_eq!(report.held.event_id, held.event_id);
    assert!(report.held.held_while_paused && report.held.delivered_after_resume);
    assert_eq!(report.redeliveries(), 1);

    let received = receiver.wait_for(17).await;
    assert_eq!(received.len(), 17, "16 events, one of them twice");
    assert!(received.iter().all(|r| r.path == "/cxtn/scenario-7d41c9"));
    let verdict = report.check(&sandbox, &recorded(&received));
    assert!(verdict.is_ok(), "{:?}", verdict.problems);
    assert_eq!(verdict.events.len(), 16);
    assert!(
        verdict
            .events
            .iter()
            .all(|e| e.is_ok() && e.deliveries == e.sent.copies)
    );
}

#[tokio::test]
async fn the_check_names_every_event_missing_repeated_or_unhandled() {
    let sandbox = crate::builder().start().await.unwrap();
    let receiver = Receiver::start().await;
    let (report, _) = run(&sandbox, &receiver).await;
    let received = receiver.wait_for(17).await;
    let mut recorded = recorded(&received);

    let lost: EventId = report.sent[0].event_id.clone();
    recorded.events.remove(&lost);
    let unhandled = &report.sent[1].event_id;
    recorded.events.get_mut(unhandled).unwrap().handled = 2;
    let pending = &report.sent[2].event_id;
    recorded.events.get_mut(pending).unwrap().status = "pending".to_owned();
    recorded.duplicates = 0;
    recorded.dead = 1;
    recorded.arrivals = Arrivals {
        stored: 16,
        duplicates: 1,
        rejected: 2,
    };
    let verdict = report.check(&sandbox, &recorded);
    assert!(!verdict.is_ok());
    let sample = report.sent[0].sample;
    assert_eq!(
        verdict.problems,
        [
            format!("{lost} ({sample}) never reached the inbox"),
            format!("the handler saw {unhandled} 2 times, not once"),
            format!("{pending} is pending, not processed"),
            "the inbox counted 0 duplicates, not the 1 sent".to_owned(),
            "the inbox holds 0 rejected and 1 dead-lettered deliveries; there should be none".to_owned(),
            "the receiver reported 16 stored, 1 duplicate and 2 rejected deliveries; expected 16, 1 and 0".to_owned(),
        ]
    );
    let missing = &verdict.events[0];
    assert_eq!((missing.status.as_str(), missing.deliveries), ("missing", 0));
    assert_eq!(verdict.events.iter().filter(|e| !e.is_ok()).count(), 3);

    let nothing = report.check(&sandbox, &Recorded::default());
    let never: HashMap<&str, usize> = nothing.problems.iter().fold(HashMap::new(), |mut counts, p| {
        *counts
            .entry(if p.contains("never reached") { "never" } else { "other" })
            .or_default() += 1;
        counts
    });
    assert_eq!(never.get("never"), Some(&16), "{:?}", nothing.problems);
}

#[tokio::test]
async fn the_scenario_stops_at_a_refused_management_call() {
    let sandbox = crate::builder().start().await.unwrap();
    let error = Scenario::new("ftp://not.http/hook")
        .run(&sandbox, &sandbox, &mut |_| {})
        .await
        .unwrap_err();
    assert_eq!(error.kind(), cxtn_sandbox::ErrorKind::Refused);
    assert_eq!(error.api_code(), Some(cxtn_sandbox::ApiCode::InvalidUrl));
    assert!(sandbox.is_enabled());
    assert!(sandbox.deliveries().is_empty(), "nothing was sent");
}
