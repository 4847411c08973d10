//! The listings the console and the export read, the same on every inbox: filters alone and together,
//! keyset pages in both orders, search, arrivals per interval, rejections by page.

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use cxtn_receiver::inbox::{ArrivalBucket, EventCursor, NewEvent, NewRejection};
use cxtn_receiver::{Completion, EventFilter, EventId, EventRecord, EventStatus, Inbox, InboxErrorKind, Stored};

use crate::{Kind, open};

const LONG: Duration = Duration::from_secs(600);

/// One event of the filter suite, and what it should end up as.
#[derive(Debug, Clone)]
struct Spec {
    id: String,
    event: &'static str,
    subscription: Option<&'static str>,
    at: i64,
    object_id: String,
    status: EventStatus,
    conflicted: bool,
}

const NAMES: [(&str, Option<&str>); 4] = [
    ("payment_completed", Some("Payment")),
    ("account_credit", Some("AccountTransaction")),
    ("trade_settled", Some("Payment")),
    ("mystery_event", None),
];

/// 24 events: 4 names (one without a subscription), arrivals in pairs sharing a millisecond, ids whose order
/// differs from their arrival order, every status, two with conflicting versions.
fn specs() -> Vec<Spec> {
    (0..24)
        .map(|i: usize| {
            let (event, subscription) = NAMES[i % 4];
            let status = match i % 6 {
                0 | 3 => EventStatus::Processed,
                1 => EventStatus::Dead,
                2 => EventStatus::Pending,
                4 => EventStatus::Quarantined,
                _ => EventStatus::Processing,
            };
            Spec {
                // `wh_a..`/`wh_b..` alternate, so that ids sort apart from arrival times.
                id: format!("wh_{}{:02}", if i.is_multiple_of(2) { 'b' } else { 'a' }, 23 - i),
                event,
                subscription,
                at: 10_000 + (i as i64 / 2) * 1_000,
                object_id: format!("{}", 700_000 + i),
                status,
                conflicted: i == 7 || i == 16,
            }
        })
        .collect()
}

fn body_of(spec: &Spec, user: &str) -> Bytes {
    // Payments carry their `data` as a JSON string, as CXTN sends some of them.
    let data = format!(r#"{{"objectId":{},"userId":"{user}","amount":10.00}}"#, spec.object_id);
    let data = if spec.event == "payment_completed" {
        serde_json::to_string(&data).unwrap()
    } else {
        data
    };
    Bytes::from(format!(
        r#"{{"eventId":"{}","event":"{}","data":{data}}}"#,
        spec.id, spec.event
    ))
}

/// Stores the suite's events and brings each to its status through the inbox's own operations.
async fn fill(inbox: &dyn Inbox) -> Vec<Spec> {
    let specs = specs();
    for spec in &specs {
        let mut event = NewEvent::new(
            spec.id.as_str(),
            spec.event,
            spec.subscription.map(str::to_owned),
            spec.at,
            body_of(spec, "C1"),
        );
        if spec.status == EventStatus::Quarantined {
            event = event.quarantined("`data.amount` is not a decimal number");
        }
        assert_eq!(inbox.store(event).await.unwrap(), Stored::New);
        if spec.conflicted {
            let other = NewEvent::new(
                spec.id.as_str(),
                spec.event,
                spec.subscription.map(str::to_owned),
                spec.at + 5,
                body_of(spec, "C2"),
            );
            assert_eq!(inbox.store(other).await.unwrap(), Stored::Conflict);
        }
    }
    let claimed = inbox.claim(LONG, 100, false).await.unwrap();
    assert_eq!(claimed.len(), 20, "every event but the quarantined ones is claimed");
    for claim in claimed {
        let spec = specs.iter().find(|s| s.id == claim.event_id.as_str()).unwrap();
        let id = &claim.event_id;
        match spec.status {
            EventStatus::Processed => {
                assert!(inbox.complete(id, claim.token, Completion::Processed).await.unwrap());
            }
            EventStatus::Dead => {
                let dead = Completion::Dead { error: "boom".into() };
                assert!(inbox.complete(id, claim.token, dead).await.unwrap());
            }
            EventStatus::Pending => assert!(inbox.release(id, claim.token).await.unwrap()),
            _ => {}
        }
    }
    specs
}

/// The ids `filter` should list, in order, from the specs.
fn expected(specs: &[Spec], filter: &EventFilter) -> Vec<String> {
    let search = filter.search.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let mut hits: Vec<&Spec> = specs
        .iter()
        .filter(|s| filter.status.is_none_or(|status| s.status == status))
        .filter(|s| !filter.conflicts_only || s.conflicted)
        .filter(|s| filter.event.as_deref().is_none_or(|e| s.event == e))
        .filter(|s| {
            filter
                .subscription
                .as_deref()
                .is_none_or(|wanted| s.subscription == Some(wanted))
        })
        .filter(|s| filter.received_from_ms.is_none_or(|from| s.at >= from))
        .filter(|s| filter.received_until_ms.is_none_or(|until| s.at < until))
        .filter(|s| search.is_none_or(|text| s.id.starts_with(text) || s.object_id == text))
        .filter(|s| {
            filter.after.as_ref().is_none_or(|after| {
                let key = (s.at, s.id.as_str());
                let cursor = (after.received_at_ms, after.event_id.as_str());
                if filter.oldest_first {
                    key > cursor
                } else {
                    key < cursor
                }
            })
        })
        .collect();
    hits.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    if !filter.oldest_first {
        hits.reverse();
    }
    hits.into_iter()
        .take(filter.limit.unwrap_or(100))
        .map(|s| s.id.clone())
        .collect()
}

fn ids(records: &[EventRecord]) -> Vec<String> {
    records.iter().map(|r| r.event_id.to_string()).collect()
}

async fn every_filter_alone_and_combined_lists_what_it_names(kind: Kind) {
    let t = open(&kind).await;
    let specs = fill(t.inbox.as_ref()).await;
    let cursor = EventCursor::new(17_000, "wh_a09");
    let filters: Vec<(&str, EventFilter)> = vec![
        ("everything", EventFilter::all()),
        ("a limit", EventFilter::all().limit(5)),
        ("dead", EventFilter::all().status(EventStatus::Dead)),
        ("quarantined", EventFilter::all().status(EventStatus::Quarantined)),
        ("processing", EventFilter::all().status(EventStatus::Processing)),
        ("conflicts", EventFilter::all().with_conflicts()),
        ("an event name", EventFilter::all().event("trade_settled")),
        ("an unknown name", EventFilter::all().event("nothing_like_it")),
        ("a subscription", EventFilter::all().subscription("Payment")),
        ("from", EventFilter::all().received_from(18_000)),
        ("until", EventFilter::all().received_until(13_000)),
        (
            "a time range",
            EventFilter::all().received_from(12_000).received_until(15_000),
        ),
        ("a full event id", EventFilter::all().search("wh_b12")),
        ("an event id prefix", EventFilter::all().search("wh_a1")),
        ("an object id", EventFilter::all().search(" 700013 ")),
        ("an object id prefix is no match", EventFilter::all().search("70001")),
        ("an empty search", EventFilter::all().search("  ")),
        ("after a cursor", EventFilter::all().after(cursor.clone())),
        (
            "after a cursor, oldest first",
            EventFilter::all().after(cursor.clone()).oldest_first(),
        ),
        ("oldest first", EventFilter::all().oldest_first().limit(7)),
        (
            "status and name",
            EventFilter::all()
                .status(EventStatus::Processed)
                .event("account_credit"),
        ),
        (
            "subscription, time range and status",
            EventFilter::all()
                .subscription("AccountTransaction")
                .received_from(11_000)
                .received_until(20_000)
                .status(EventStatus::Processed),
        ),
        (
            "search and status",
            EventFilter::all().search("wh_b").status(EventStatus::Dead),
        ),
        (
            "everything at once",
            EventFilter::all()
                .status(EventStatus::Processed)
                .event("account_credit")
                .subscription("AccountTransaction")
                .received_from(10_000)
                .received_until(30_000)
                .search("wh_a")
                .after(EventCursor::new(21_000, "wh_a01"))
                .limit(2),
        ),
        (
            "conflicts, oldest first, after",
            EventFilter::all()
                .with_conflicts()
                .oldest_first()
                .after(EventCursor::new(13_500, "wh_a16")),
        ),
    ];
    for (what, filter) in filters {
        let listed = t.inbox.events(filter.clone()).await.unwrap();
        assert_eq!(ids(&listed), expected(&specs, &filter), "{what}: {filter:?}");
        for record in &listed {
            assert!(filter.matches(record), "{what}: {} is listed", record.event_id);
        }
    }
    // Every record carries its objectId, from a `data` object or a `data` string alike.
    let all = t.inbox.events(EventFilter::all()).await.unwrap();
    assert_eq!(all.len(), 24);
    for record in &all {
        let spec = specs.iter().find(|s| s.id == record.event_id.as_str()).unwrap();
        assert_eq!(record.object_id.as_deref(), Some(spec.object_id.as_str()));
        assert_eq!((record.status, record.event.as_str()), (spec.status, spec.event));
    }
    let one = t.inbox.event(&EventId::new("wh_a22")).await.unwrap().unwrap();
    assert_eq!(one.object_id.as_deref(), Some("700001"));
}

/// 250 events, three to a millisecond, ids in an order unrelated to their arrival.
async fn store_250(inbox: &dyn Inbox) -> Vec<(i64, String)> {
    let mut all = Vec::new();
    for i in 0..250_i64 {
        let id = format!("p{:04}", (i * 7_919) % 1_000);
        let at = 1_000 + i / 3;
        let body = Bytes::from(format!(
            r#"{{"eventId":"{id}","event":"ping","data":{{"objectId":{i}}}}}"#
        ));
        assert_eq!(
            inbox
                .store(NewEvent::new(id.as_str(), "ping", None, at, body))
                .await
                .unwrap(),
            Stored::New
        );
        all.push((at, id));
    }
    all.sort();
    all
}

async fn pages_of_50_list_each_event_once_in_order(kind: Kind) {
    let t = open(&kind).await;
    let all = store_250(t.inbox.as_ref()).await;
    for oldest_first in [false, true] {
        let mut seen: Vec<(i64, String)> = Vec::new();
        let mut after: Option<EventCursor> = None;
        let mut pages = 0;
        loop {
            let mut filter = EventFilter::all().limit(50);
            if oldest_first {
                filter = filter.oldest_first();
            }
            if let Some(cursor) = after.take() {
                // The cursor travels as a token, as it does in a page's link.
                filter = filter.after(EventCursor::from_token(&cursor.to_token()).unwrap());
            }
            let page = t.inbox.events(filter).await.unwrap();
            let Some(last) = page.last() else { break };
            after = Some(last.cursor());
            pages += 1;
            assert!(page.len() <= 50);
            seen.extend(page.iter().map(|r| (r.received_at_ms, r.event_id.to_string())));
        }
        assert_eq!(pages, 5, "oldest first: {oldest_first}");
        let mut wanted = all.clone();
        if !oldest_first {
            wanted.reverse();
        }
        assert_eq!(
            seen, wanted,
            "every event once, in order (oldest first: {oldest_first})"
        );
        let distinct: HashSet<&String> = seen.iter().map(|(_, id)| id).collect();
        assert_eq!(distinct.len(), 250);
    }
}

async fn ties_in_a_millisecond_are_ordered_by_event_id(kind: Kind) {
    let t = open(&kind).await;
    for id in ["b", "c", "a", "B", "a0"] {
        let body = Bytes::from(format!(r#"{{"eventId":"{id}"}}"#));
        t.inbox.store(NewEvent::new(id, "ping", None, 5, body)).await.unwrap();
    }
    let newest = t.inbox.events(EventFilter::all()).await.unwrap();
    assert_eq!(ids(&newest), ["c", "b", "a0", "a", "B"], "byte order, newest first");
    let oldest = t.inbox.events(EventFilter::all().oldest_first()).await.unwrap();
    assert_eq!(ids(&oldest), ["B", "a", "a0", "b", "c"]);
    let after = t
        .inbox
        .events(EventFilter::all().after(EventCursor::new(5, "a0")))
        .await
        .unwrap();
    assert_eq!(ids(&after), ["a", "B"], "strictly after the cursor");
}

async fn search_finds_event_ids_by_prefix_and_object_ids_exactly(kind: Kind) {
    let t = open(&kind).await;
    let stored = [
        ("wh_4d9373", r#"{"data": "{\"objectId\":162953}"}"#),
        ("wh_4d93ff", r#"{"data": {"objectId": 654254}}"#),
        ("wh_5a", r#"{"data": {"objectId": "wh_4d9"}}"#),
        ("xyz\u{10ffff}", "not json at all"),
        ("wh_4d", r#"{"data": {"objectId": 1}}"#),
    ];
    for (i, (id, body)) in stored.iter().enumerate() {
        let new = NewEvent::new(*id, "ping", None, i as i64, Bytes::from(*body));
        t.inbox.store(new).await.unwrap();
    }
    let search = |text: &str| {
        let inbox = t.inbox.clone();
        let filter = EventFilter::all().search(text);
        async move { ids(&inbox.events(filter).await.unwrap()) }
    };
    assert_eq!(search("wh_4d93").await, ["wh_4d93ff", "wh_4d9373"]);
    assert_eq!(
        search("wh_4d9").await,
        ["wh_5a", "wh_4d93ff", "wh_4d9373"],
        "an objectId equal to the text"
    );
    assert_eq!(search("wh_4d9373").await, ["wh_4d9373"]);
    assert_eq!(search("162953").await, ["wh_4d9373"], "from a `data` string");
    assert_eq!(search("654254").await, ["wh_4d93ff"]);
    assert_eq!(search("65425").await, Vec::<String>::new(), "objectIds match whole");
    assert_eq!(search("xyz\u{10ffff}").await, ["xyz\u{10ffff}"]);
    assert_eq!(search("wh_4d").await, ["wh_4d", "wh_4d93ff", "wh_4d9373"]);
    assert_eq!(search("nothing").await, Vec::<String>::new());
    let odd = t.inbox.event(&EventId::new("xyz\u{10ffff}")).await.unwrap().unwrap();
    assert_eq!(odd.object_id, None, "a body that is not JSON has no objectId");
    let set = NewEvent::new("set", "ping", None, 9, Bytes::from_static(b"{}")).object_id("given");
    t.inbox.store(set).await.unwrap();
    assert_eq!(
        search("given").await,
        ["set"],
        "an objectId given by the caller is kept"
    );
}

/// A prefix most ids share (`wh_`) lists as a narrow one does: the newest matches, in order, with the
/// other conditions applied (a store may read such a prefix in the listing's order instead of looking it up).
async fn a_prefix_most_ids_share_lists_in_order(kind: Kind) {
    let t = open(&kind).await;
    let stores = (0..1_200_i64).map(|i| {
        let inbox = t.inbox.clone();
        async move {
            let id = if i % 100 == 0 {
                format!("xx_{i:04}")
            } else {
                format!("wh_{:04}", (i * 7_919) % 10_000)
            };
            let body = Bytes::from(format!(r#"{{"eventId":"{id}","data":{{"objectId":{i}}}}}"#));
            let event = NewEvent::new(id, if i % 3 == 0 { "rare" } else { "ping" }, None, 1_000 + i / 2, body);
            assert_eq!(inbox.store(event).await.unwrap(), Stored::New);
        }
    });
    futures_util::future::join_all(stores).await;
    let all = t.inbox.events(EventFilter::all().limit(2_000)).await.unwrap();
    assert_eq!(all.len(), 1_200);
    for filter in [
        EventFilter::all().search("wh_").limit(50),
        EventFilter::all().search("wh_").oldest_first().limit(50),
        EventFilter::all().search("wh_").event("rare").limit(50),
        EventFilter::all().search("wh_").after(all[500].cursor()).limit(50),
        EventFilter::all().search("w").received_until(1_300),
        // `1100` is an objectId, and the prefix of no id.
        EventFilter::all().search("1100"),
    ] {
        let listed = t.inbox.events(filter.clone()).await.unwrap();
        let mut wanted: Vec<&EventRecord> = all.iter().filter(|r| filter.matches(r)).collect();
        if filter.oldest_first {
            wanted.reverse();
        }
        wanted.truncate(filter.effective_limit());
        let wanted: Vec<String> = wanted.iter().map(|r| r.event_id.to_string()).collect();
        assert_eq!(ids(&listed), wanted, "{filter:?}");
        assert!(!listed.is_empty(), "{filter:?}");
    }
}

async fn arrivals_are_counted_per_interval(kind: Kind) {
    let t = open(&kind).await;
    for (i, at) in [50_i64, 999, 1_000, 1_500, 1_999, 4_000, 4_001, 10_500]
        .into_iter()
        .enumerate()
    {
        let id = format!("e{i}");
        let body = Bytes::from(format!(r#"{{"eventId":"{id}"}}"#));
        t.inbox.store(NewEvent::new(id, "ping", None, at, body)).await.unwrap();
    }
    // A redelivery and a conflicting version count no new arrival.
    t.inbox
        .store(NewEvent::new(
            "e1",
            "ping",
            None,
            4_500,
            Bytes::from(r#"{"eventId":"e1"}"#),
        ))
        .await
        .unwrap();
    t.inbox
        .store(NewEvent::new("e1", "ping", None, 4_600, Bytes::from("changed")))
        .await
        .unwrap();
    let buckets = t.inbox.arrivals(900, 1_000).await.unwrap();
    assert_eq!(
        buckets,
        [
            ArrivalBucket::new(0, 1),
            ArrivalBucket::new(1_000, 3),
            ArrivalBucket::new(4_000, 2),
            ArrivalBucket::new(10_000, 1),
        ],
        "intervals at multiples of their length, only those with arrivals, oldest first"
    );
    assert_eq!(t.inbox.arrivals(20_000, 1_000).await.unwrap(), []);
    assert_eq!(t.inbox.arrivals(0, 100_000).await.unwrap(), [ArrivalBucket::new(0, 8)]);
    let e = t.inbox.arrivals(0, 0).await.unwrap_err();
    assert_eq!(e.kind(), InboxErrorKind::Refused);
    assert!(e.to_string().contains("above zero"), "{e}");
}

async fn rejections_come_by_page_newest_first(kind: Kind) {
    let t = open(&kind).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let body = Bytes::from(format!("not json {i}"));
        ids.push(
            t.inbox
                .reject(NewRejection::new(i, body, "bad", "syntax"))
                .await
                .unwrap(),
        );
    }
    ids.reverse();
    let first = t.inbox.rejections_page(2, None).await.unwrap();
    let page_ids = |page: &[cxtn_receiver::RejectionRecord]| page.iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(page_ids(&first), ids[..2]);
    let second = t.inbox.rejections_page(2, Some(first[1].id)).await.unwrap();
    assert_eq!(page_ids(&second), ids[2..4]);
    let third = t.inbox.rejections_page(2, Some(second[1].id)).await.unwrap();
    assert_eq!(page_ids(&third), ids[4..]);
    assert_eq!(
        page_ids(&t.inbox.rejections(10).await.unwrap()),
        ids,
        "rejections(limit) still lists"
    );
}

every_inbox!(
    every_filter_alone_and_combined_lists_what_it_names,
    pages_of_50_list_each_event_once_in_order,
    ties_in_a_millisecond_are_ordered_by_event_id,
    search_finds_event_ids_by_prefix_and_object_ids_exactly,
    a_prefix_most_ids_share_lists_in_order,
    arrivals_are_counted_per_interval,
    rejections_come_by_page_newest_first
);

#[test]
fn cursor_tokens_round_trip_and_garbage_is_none() {
    let cursor = EventCursor::new(1_764_547_200_000, "wh_4d9373d27e4e4c24bbb39c00b6dcd3e7");
    let token = cursor.to_token();
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{token}"
    );
    assert_eq!(EventCursor::from_token(&token), Some(cursor));
    for garbage in ["", "%%%", "bm90IGEgY3Vyc29y", "YWJjOmlk", "wh_4d9373"] {
        assert_eq!(EventCursor::from_token(garbage), None, "{garbage} is not a cursor");
    }
    // `12:` is a cursor with an empty event id, which CXTN may send.
    assert_eq!(EventCursor::from_token("MTI6"), Some(EventCursor::new(12, "")));
}
