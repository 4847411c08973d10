//! Replay and Re-parse change the inbox; a POST without the form's CSRF token, or from another origin, does not.

use std::time::Duration;

use cxtn_receiver::inbox::{ClaimToken, Completion};
use cxtn_receiver::{EventId, EventStatus, Inbox};

use crate::{get, memory, now_ms, payment, post_form, reject, request, serve, store};

/// Claims the event and records it dead, as a worker does after its last attempt.
async fn kill(inbox: &dyn Inbox, event_id: &str) {
    let claimed = inbox.claim(Duration::from_secs(30), 10, false).await.unwrap();
    let claim = claimed.iter().find(|c| c.event_id.as_str() == event_id).unwrap();
    let token: ClaimToken = claim.token;
    assert!(
        inbox
            .complete(
                &claim.event_id,
                token,
                Completion::Dead {
                    error: "handler: ledger down".to_owned()
                }
            )
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn replay_makes_a_dead_letter_pending_again() {
    let inbox = memory();
    store(inbox.as_ref(), &payment("wh_dead", "12.50", 9), now_ms()).await;
    kill(inbox.as_ref(), "wh_dead").await;
    let served = serve(crate::console(inbox.clone())).await;
    let before = get(&served.url("events/wh_dead")).await;
    assert_eq!(before.text_of("status"), "dead");
    assert_eq!(before.text_of("last-error"), "handler: ledger down");
    assert_eq!(
        get(&served.url("events?status=dead")).await.event_rows(),
        vec!["wh_dead".to_owned()]
    );

    let replayed = post_form(&served, "events/wh_dead", "events/wh_dead/replay").await;
    assert_eq!(replayed.status, 303, "{}", replayed.body);
    assert_eq!(replayed.header("location"), "/events/wh_dead?done=replayed");
    let after = get(&served.url("events/wh_dead?done=replayed")).await;
    assert_eq!(after.text_of("status"), "pending");
    assert!(after.text_of("flash").starts_with("Replayed"));
    let record = inbox.event(&EventId::new("wh_dead")).await.unwrap().unwrap();
    assert_eq!(record.status, EventStatus::Pending);
    assert_eq!(record.attempts, 0);

    let missing = post_form(&served, "events/wh_dead", "events/wh_nothing/replay").await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn reparse_stores_a_rejection_that_parses_now_and_says_why_not_otherwise() {
    let inbox = memory();
    let now = now_ms();
    // A body the receiver rejected that parses (stored as a rejection by an older version, say).
    let fixed = reject(inbox.as_ref(), &payment("wh_late", "3.00", 3), now).await;
    let broken = reject(inbox.as_ref(), "{\"eventId\": \"wh_x\", \"event\": ", now).await;
    let served = serve(crate::console(inbox.clone())).await;
    let list = get(&served.url("rejections")).await;
    assert!(list.body.contains(&format!("<tr data-rejection-id=\"{fixed}\">")));
    assert!(list.body.contains(&format!("<tr data-rejection-id=\"{broken}\">")));

    let page = get(&served.url(&format!("rejections/{broken}"))).await;
    assert!(!page.text_of("reason").is_empty());
    let still = post_form(
        &served,
        &format!("rejections/{broken}"),
        &format!("rejections/{broken}/reparse"),
    )
    .await;
    assert_eq!(still.status, 422, "{}", still.body);
    assert!(
        still.text_of("flash").contains("still does not parse"),
        "{}",
        still.body
    );

    let stored = post_form(
        &served,
        &format!("rejections/{fixed}"),
        &format!("rejections/{fixed}/reparse"),
    )
    .await;
    assert_eq!(stored.status, 303, "{}", stored.body);
    let after = get(&served.url(&format!("rejections/{fixed}?done=reparsed"))).await;
    assert!(after.text_of("flash").starts_with("Parsed and stored"));
    assert!(after.body.contains("href=\"/events/wh_late\""));
    assert_eq!(
        inbox.event(&EventId::new("wh_late")).await.unwrap().unwrap().status,
        EventStatus::Pending
    );
}

/// A case: its name, the request's headers and its form.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, String);

#[tokio::test]
async fn posts_without_the_csrf_token_or_from_elsewhere_are_refused() {
    let inbox = memory();
    store(inbox.as_ref(), &payment("wh_safe", "1.00", 1), now_ms()).await;
    kill(inbox.as_ref(), "wh_safe").await;
    let served = serve(crate::console(inbox.clone())).await;
    let page = get(&served.url("events/wh_safe")).await;
    let cookie = page.cookie().unwrap();
    let csrf = page.csrf();
    let origin = format!("http://{}", served.addr);
    let action = served.url("events/wh_safe/replay");
    let cases: [Case<'_>; 6] = [
        (
            "no token",
            vec![("cookie", &cookie), ("origin", &origin)],
            String::new(),
        ),
        (
            "a wrong token",
            vec![("cookie", &cookie), ("origin", &origin)],
            "csrf=0123abcd".to_owned(),
        ),
        (
            "another session's token",
            vec![("origin", &origin)],
            format!("csrf={csrf}"),
        ),
        (
            "another origin",
            vec![("cookie", &cookie), ("origin", "http://evil.example")],
            format!("csrf={csrf}"),
        ),
        (
            "a cross-site fetch",
            vec![("cookie", &cookie), ("sec-fetch-site", "cross-site")],
            format!("csrf={csrf}"),
        ),
        (
            "a null origin",
            vec![("cookie", &cookie), ("origin", "null")],
            format!("csrf={csrf}"),
        ),
    ];
    for (case, headers, form) in cases {
        let answer = request("POST", &action, &headers, Some(&form)).await;
        assert_eq!(answer.status, 403, "{case}: {}", answer.body);
        assert!(answer.body.contains("data-page=\"error\""), "{case}");
    }
    assert_eq!(
        inbox.event(&EventId::new("wh_safe")).await.unwrap().unwrap().status,
        EventStatus::Dead,
        "nothing was replayed"
    );
    // The same form from the console's own page goes through.
    let ok = request(
        "POST",
        &action,
        &[("cookie", &cookie), ("origin", &origin)],
        Some(&format!("csrf={csrf}")),
    )
    .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
}
