//! Every page answers with what it should show, escaped, with the security headers.

use cxtn_console::Console;
use cxtn_receiver::{EventId, EventStatus};

use crate::{get, get_with, memory, now_ms, payment, reject, request, serve, store};

const HOSTILE_ID: &str = "<script>alert(1)</script>";

/// A hostile body: markup in its eventId and fields, an escape character, and a string that closes a `pre`.
fn hostile() -> String {
    format!(
        r#"{{"eventId":"{HOSTILE_ID}","event":"payment_completed","data":{{"objectId":7,"userId":"</pre><img src=x onerror=alert(2)>\u001b[31m","amount":1000.00,"currency":"GBP"}}}}"#
    )
}

#[tokio::test]
async fn every_page_answers_with_the_security_headers() {
    let inbox = memory();
    let now = now_ms();
    store(inbox.as_ref(), &payment("wh_one", "1000.00", 654_254), now - 60_000).await;
    let rejection = reject(inbox.as_ref(), "{\"eventId\": ", now - 30_000).await;
    let served = serve(crate::console(inbox)).await;
    for (path, page) in [
        ("", "overview"),
        ("events", "events"),
        ("events/wh_one", "event"),
        ("rejections", "rejections"),
        (&format!("rejections/{rejection}") as &str, "rejection"),
        ("login", "login"),
    ] {
        let answer = get(&served.url(path)).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        assert!(
            answer
                .body
                .contains(&format!("<main id=\"page\" data-page=\"{page}\">")),
            "{path}: {}",
            answer.body
        );
        assert_eq!(
            answer.header("content-security-policy"),
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        );
        assert_eq!(answer.header("x-content-type-options"), "nosniff");
        assert_eq!(answer.header("referrer-policy"), "no-referrer");
        assert_eq!(answer.header("x-frame-options"), "DENY");
        assert_eq!(answer.header("cache-control"), "no-store");
        assert!(answer.header("content-type").starts_with("text/html"));
        // No inline script or style for the CSP to refuse.
        assert!(!answer.body.contains("<script>"), "{path}");
        assert!(!answer.body.contains("style="), "{path}");
        assert!(!answer.body.contains("<style"), "{path}");
    }
    for (path, kind) in [
        ("assets/console.js", "text/javascript"),
        ("assets/console.css", "text/css"),
    ] {
        let answer = get(&served.url(path)).await;
        assert_eq!(answer.status, 200);
        assert!(answer.header("content-type").starts_with(kind));
        assert!(!answer.header("content-security-policy").is_empty());
        assert!(answer.body.len() > 500);
    }
    let missing = get(&served.url("nothing/here")).await;
    assert_eq!(missing.status, 404);
    assert_eq!(get(&served.url("events/wh_unknown")).await.status, 404);
    assert_eq!(get(&served.url("rejections/999999")).await.status, 404);
    served.stop().await;
}

#[tokio::test]
async fn the_overview_counts_and_links() {
    let inbox = memory();
    let now = now_ms();
    for i in 0..5 {
        store(
            inbox.as_ref(),
            &payment(&format!("wh_{i}"), "10.00", i),
            now - 120_000 + i as i64,
        )
        .await;
    }
    // A redelivery and a conflicting version of wh_0.
    store(inbox.as_ref(), &payment("wh_0", "10.00", 0), now - 1000).await;
    store(inbox.as_ref(), &payment("wh_0", "99.99", 0), now - 500).await;
    reject(inbox.as_ref(), "not json", now).await;
    let served = serve(crate::console(inbox)).await;
    let overview = get(&served.url("")).await;
    assert_eq!(overview.text_of("count-pending"), "5");
    assert_eq!(overview.text_of("count-processed"), "0");
    assert_eq!(overview.text_of("count-dead"), "0");
    assert_eq!(overview.text_of("count-rejected"), "1");
    assert_eq!(overview.text_of("count-conflicts"), "1");
    assert_eq!(overview.text_of("count-duplicates"), "1");
    assert!(
        overview.text_of("oldest-pending").ends_with(" ago"),
        "{}",
        overview.body
    );
    assert!(overview.body.contains("<svg id=\"arrivals\""));
    assert!(
        overview.body.contains("<rect class=\"bar\""),
        "a bar for the arrivals: {}",
        overview.body
    );
    for link in ["link-dead", "link-quarantined", "link-conflicts", "link-rejections"] {
        assert!(overview.body.contains(&format!("id=\"{link}\"")), "{link}");
    }
    assert!(overview.body.contains("href=\"/events?status=dead\""));
    assert!(overview.body.contains("href=\"/events?conflicts=1\""));
    // The overview's recent list, newest first, with the live stream named.
    assert_eq!(overview.event_rows()[0], "wh_4");
    assert!(overview.body.contains("data-live=\"/stream?since="));

    let empty = serve(crate::console(memory())).await;
    let overview = get(&empty.url("")).await;
    assert_eq!(overview.text_of("oldest-pending"), "none");
    assert!(overview.body.contains("id=\"no-events\""));
}

#[tokio::test]
async fn an_event_shows_its_typed_fields_and_money_exactly_as_sent() {
    let inbox = memory();
    let now = now_ms();
    for sample in cxtn_events::samples::GUIDE {
        store(inbox.as_ref(), sample.body, now).await;
    }
    store(inbox.as_ref(), &payment("wh_exact", "1000.10", 42), now).await;
    let served = serve(crate::console(inbox)).await;
    let page = get(&served.url("events/wh_exact")).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.text_of("event-id"), "wh_exact");
    assert_eq!(page.text_of("event-name"), "payment_completed");
    assert_eq!(page.text_of("status"), "pending");
    assert_eq!(page.text_of("amount"), "1000.10 GBP");
    assert_eq!(page.text_of("attempts"), "0");
    assert_eq!(page.text_of("last-error"), "none");
    assert_eq!(page.text_of("deliveries"), "1");
    assert!(page.body.contains("<dt>objectId</dt><dd>42</dd>"), "{}", page.body);
    assert!(page.body.contains("<dt>subscription</dt><dd>Payment</dd>"));
    // The body pretty-printed with every digit kept, and the copy button.
    assert!(
        page.body.contains("  &#34;amount&#34;: 1000.10,") || page.body.contains("  &quot;amount&quot;: 1000.10,"),
        "{}",
        page.body
    );
    assert!(page.body.contains("id=\"copy-body\""));
    assert!(
        page.body
            .contains("<form id=\"replay\" method=\"post\" action=\"/events/wh_exact/replay\">")
    );
    assert!(!page.body.contains("id=\"conflicts\""));

    // The guide's funds-in sample: the amount exactly as its string-encoded data carries it.
    let funds_in = get(&served.url("events/wh_f79f07d55bcd4cb893c41575b7c1b8f6")).await;
    assert_eq!(funds_in.text_of("amount"), "1000.00 GBP");
    assert!(funds_in.body.contains("<dt>source</dt><dd>deposit</dd>"));
    assert!(
        funds_in.body.contains("<dt>data sent as</dt><dd>string</dd>"),
        "{}",
        funds_in.body
    );
}

#[tokio::test]
async fn hostile_text_is_escaped_everywhere() {
    let inbox = memory();
    let now = now_ms();
    store(inbox.as_ref(), &hostile(), now).await;
    reject(inbox.as_ref(), "<script>alert(3)</script>\u{1b}[2J", now).await;
    let served = serve(crate::console(inbox)).await;
    let encoded = "%3Cscript%3Ealert%281%29%3C%2Fscript%3E";
    for path in ["", "events", &format!("events/{encoded}"), "rejections", "rejections/1"] {
        let page = get(&served.url(path)).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert!(!page.body.contains("<script>"), "{path}: {}", page.body);
        assert!(!page.body.contains("<img"), "{path}: {}", page.body);
        assert!(!page.body.contains("</pre><"), "{path}");
        assert!(
            !page.body.contains('\u{1b}'),
            "{path}: the escape character is shown, not sent"
        );
    }
    let event = get(&served.url(&format!("events/{encoded}"))).await;
    assert_eq!(event.text_of("event-id"), HOSTILE_ID);
    assert!(event.body.contains('\u{241b}'), "ESC is shown as its control picture");
    let list = get(&served.url("events")).await;
    assert_eq!(list.event_rows(), vec![HOSTILE_ID.to_owned()]);
    assert!(list.body.contains(&format!("href=\"/events/{encoded}\"")));
}

#[tokio::test]
async fn conflicting_versions_are_shown_side_by_side() {
    let inbox = memory();
    let now = now_ms();
    store(inbox.as_ref(), &payment("wh_twice", "10.00", 1), now - 2000).await;
    store(inbox.as_ref(), &payment("wh_twice", "20.00", 1), now - 1000).await;
    let served = serve(crate::console(inbox)).await;
    let page = get(&served.url("events/wh_twice")).await;
    assert!(page.body.contains("<section id=\"conflicts\">"));
    assert_eq!(page.body.matches("class=\"conflict-body\"").count(), 2);
    assert!(page.body.contains("20.00"));
    assert_eq!(
        page.text_of("amount"),
        "10.00 GBP",
        "the first body is the one processed"
    );
}

#[tokio::test]
async fn filters_narrow_the_list_and_pages_follow_the_cursor() {
    let inbox = memory();
    let base = now_ms() - 3_600_000;
    for i in 0..120 {
        store(
            inbox.as_ref(),
            &payment(&format!("wh_{i:03}"), "1.00", 1000 + i),
            base + i as i64 * 1000,
        )
        .await;
    }
    for sample in cxtn_events::samples::GUIDE {
        store(inbox.as_ref(), sample.body, base - 60_000).await;
    }
    inbox.replay_event(&EventId::new("wh_005")).await.unwrap();
    let served = serve(crate::console(inbox.clone())).await;

    // Newest first, 50 a page, each event once over the pages.
    let mut seen = Vec::new();
    let mut url = served.url("events");
    loop {
        let page = get(&url).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let rows = page.event_rows();
        assert!(rows.len() <= 50);
        seen.extend(rows);
        match page.body.find("id=\"next-page\" href=\"") {
            Some(at) => {
                let start = at + "id=\"next-page\" href=\"".len();
                let end = page.body[start..].find('"').unwrap() + start;
                url = format!("http://{}{}", served.addr, page.body[start..end].replace("&amp;", "&"));
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 127);
    assert_eq!(seen[0], "wh_119");
    assert_eq!(seen[119], "wh_000");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 127);

    let by_event = get(&served.url("events?event=account_credit")).await;
    let rows = by_event.event_rows();
    assert!(!rows.is_empty());
    assert!(by_event.body.matches("<td class=\"event\">account_credit</td>").count() == rows.len());

    let by_subscription = get(&served.url("events?subscription=AccountTransaction")).await;
    assert!(by_subscription.body.contains("<td class=\"event\">account_debit</td>"));
    assert!(
        !by_subscription
            .body
            .contains("<td class=\"event\">payment_completed</td>")
    );

    let by_id = get(&served.url("events?q=wh_01")).await;
    assert_eq!(by_id.event_rows().len(), 10, "eventId prefix");
    let by_object = get(&served.url("events?q=1007")).await;
    assert_eq!(by_object.event_rows(), vec!["wh_007".to_owned()], "objectId");

    let from = chrono_minute(base + 60_000);
    let until = chrono_minute(base + 120_000);
    let ranged = get(&served.url(&format!("events?from={from}&until={until}"))).await;
    assert_eq!(ranged.event_rows().len(), 50, "{}", ranged.body);
    assert!(ranged.body.contains("id=\"next-page\""));
    let narrower = get(&served.url(&format!("events?from={from}&until={until}&q=wh_1"))).await;
    assert!(narrower.event_rows().iter().all(|id| id.starts_with("wh_1")));
    assert!(!narrower.body.contains("id=\"next-page\""));

    // wh_005 was replayed; everything is pending, so a dead filter is empty.
    let dead = get(&served.url("events?status=dead")).await;
    assert!(dead.body.contains("id=\"no-events\""));
    let pending = get(&served.url("events?status=pending&event=payment_completed&q=wh_005")).await;
    assert_eq!(pending.event_rows(), vec!["wh_005".to_owned()]);
    assert!(pending.body.contains("<option value=\"pending\" selected>"));
    assert!(pending.body.contains("value=\"wh_005\""));
    assert_eq!(
        inbox.event(&EventId::new("wh_005")).await.unwrap().unwrap().status,
        EventStatus::Pending
    );
}

/// A `datetime-local` value of a time in milliseconds (UTC).
fn chrono_minute(ms: i64) -> String {
    let secs = ms / 1000;
    let days = secs.div_euclid(86_400);
    let rest = secs.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}", rest / 3600, rest % 3600 / 60)
}

/// Year, month and day of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[tokio::test]
async fn bad_parameters_get_a_clear_400_page() {
    let served = serve(crate::console(memory())).await;
    for (path, says) in [
        ("events?status=exploded", "not a status"),
        ("events?from=yesterday", "not a time"),
        ("events?until=2026-13-45T99:00", "not a time"),
        ("events?after=not-a-cursor!", "cursor"),
        ("events?from=2026-12-02T00:00&until=2026-12-01T00:00", "not before"),
        ("rejections?before=ten", "not a rejection id"),
        ("rejections/abc", "not a rejection id"),
        ("events/%FF%FE", "percent-encoded"),
    ] {
        let answer = get(&served.url(path)).await;
        assert_eq!(answer.status, 400, "{path}: {}", answer.body);
        assert!(answer.body.contains(says), "{path}: {}", answer.body);
        assert!(answer.body.contains("data-page=\"error\""));
    }
    let wrong_method = request("DELETE", &served.url("events"), &[], None).await;
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.header("allow"), "GET");
}

#[tokio::test]
async fn a_base_path_prefixes_every_link_and_form() {
    let inbox = memory();
    store(inbox.as_ref(), &payment("wh_base", "5.00", 5), now_ms()).await;
    let console = Console::builder(inbox).base_path("/console").build().unwrap();
    assert_eq!(console.base_path(), "/console/");
    let served = serve(console).await;
    let overview = get(&served.url("")).await;
    assert_eq!(overview.status, 200);
    assert!(overview.body.contains("href=\"/console/assets/console.css\""));
    assert!(overview.body.contains("href=\"/console/events?status=dead\""));
    assert!(overview.body.contains("href=\"/console/events/wh_base\""));
    let event = get(&served.url("events/wh_base")).await;
    assert!(event.body.contains("action=\"/console/events/wh_base/replay\""));
    assert!(event.cookie().is_some());
    assert!(event.header("set-cookie").contains("Path=/console/"));
    let bare = get_with(&format!("http://{}/console", served.addr), &[]).await;
    assert_eq!(bare.status, 303);
    assert_eq!(bare.header("location"), "/console/");
    assert_eq!(get(&format!("http://{}/events", served.addr)).await.status, 404);
}

#[tokio::test]
async fn control_characters_in_typed_fields_and_their_names_are_shown_visibly() {
    let inbox = memory();
    // A bidirectional override in the currency and in the name of an unknown field.
    let body = r#"{"eventId":"wh_bidi","event":"payment_completed","data":{"objectId":7,"userId":"C1","amount":1.00,"currency":"G\u202eBP","no\u202ete":1}}"#;
    store(inbox.as_ref(), body, now_ms()).await;
    let served = serve(crate::console(inbox)).await;
    let page = get(&served.url("events/wh_bidi")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.text_of("amount"), "1.00 G\\u{202e}BP");
    assert!(page.body.contains("no\\u{202e}te (unknown field)"), "{}", page.body);
    assert!(!page.body.contains('\u{202e}'), "{}", page.body);
}

#[tokio::test]
async fn a_bad_parameter_is_echoed_with_its_control_characters_visible() {
    let served = serve(crate::console(memory())).await;
    for path in [
        "events?status=de%E2%80%AEad",
        "events?from=%1B%5B2J",
        &format!("events?e%E2%80%AEvent={}", "x".repeat(201)),
    ] {
        let answer = get(&served.url(path)).await;
        assert_eq!(answer.status, 400, "{path}: {}", answer.body);
        assert!(!answer.body.contains(['\u{202e}', '\u{1b}']), "{path}: {}", answer.body);
        assert!(
            answer.body.contains("\\u{202e}") || answer.body.contains('\u{241b}'),
            "{path}: {}",
            answer.body
        );
    }
}
