#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::{HashMap, HashSet};

use cxtn_model::{EventData, EventId};
use proptest::prelude::*;

use super::*;
use crate::samples::GUIDE;

fn guide() -> Recording {
    GUIDE
        .iter()
        .enumerate()
        .map(|(i, sample)| {
            let envelope = crate::parse_envelope(sample.body.as_bytes()).unwrap();
            Recorded::new(
                envelope.event_id,
                envelope.event,
                1_764_496_800_000 + 1_000 * i as i64,
                sample.body,
            )
        })
        .collect()
}

#[test]
fn lines_give_every_body_back_byte_for_byte() {
    let mut deliveries = guide().into_deliveries();
    let conflict_body = GUIDE[1].body.replace("10.00", "99999.00");
    deliveries.push(
        Recorded::new(
            deliveries[1].event_id.clone(),
            "payment_completed",
            1_764_496_900_000,
            conflict_body,
        )
        .conflict(true)
        .deliveries(3),
    );
    // Not UTF-8, a byte-order mark, control characters, escapes written oddly, and text beyond the BMP.
    deliveries.push(Recorded::new("wh_bin", "x", 0, vec![0xff, 0xfe, b'{', 0x00, 0x80]));
    deliveries.push(Recorded::new("wh_bom", "x", 1, "\u{feff}{\"eventId\":\"wh_bom\"}"));
    deliveries.push(Recorded::new(
        "wh_odd",
        "x",
        2,
        "{\"a\":\"\\u0041\\/\",\n\t\"b\":\"\u{1F600}\u{2028}\r\"}  ",
    ));
    deliveries.push(Recorded::new("wh_empty", "x", 3, Vec::new()));
    let recording: Recording = deliveries.into_iter().collect();
    let text = recording.to_jsonl().unwrap();
    assert_eq!(text.lines().count(), recording.len());
    let back = read_jsonl(text.as_bytes()).unwrap();
    assert_eq!(back, recording);
    for (a, b) in back.bodies().zip(recording.bodies()) {
        assert_eq!(a, b);
    }
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[7].contains(r#""conflict":true"#) && lines[7].contains(r#""deliveries":3"#));
    assert!(!lines[0].contains("conflict"));
    assert!(lines[8].contains(r#""bodyBase64":"//57AIA=""#) && !lines[8].contains(r#""body""#));
    assert!(lines[0].starts_with(r#"{"receivedAt":"2025-11-30T10:00:00.000Z","eventId":"wh_f79f07d55bcd4cb893c41575b7c1b8f6","event":"account_credit","deliveries":1,"body":"{\"eventId\": "#));
}

#[test]
fn the_fixture_offers_bodies_and_notifications() {
    let recording = read_jsonl(guide().to_jsonl().unwrap().as_bytes()).unwrap();
    assert_eq!(recording.events(), GUIDE.len());
    let notifications: Vec<_> = recording.notifications().map(Result::unwrap).collect();
    assert_eq!(notifications.len(), GUIDE.len());
    assert_eq!(notifications[1].amount().unwrap().as_str(), "10.00");
    assert_eq!(recording.deliveries()[1].body_text(), Some(GUIDE[1].body));
}

#[test]
fn lines_take_optional_fields_and_other_offsets() {
    let line = r#"{"receivedAt":"2026-11-30T11:00:00.5+01:00","eventId":"wh_1","event":"e","body":"{}","later":1}"#;
    let recorded = read_line(line).unwrap();
    assert_eq!(
        recorded.received_at_ms,
        read_line(&write_line(&recorded).unwrap()).unwrap().received_at_ms
    );
    assert_eq!(
        write_line(&recorded).unwrap()[..40],
        *r#"{"receivedAt":"2026-11-30T10:00:00.500Z""#
    );
    assert_eq!((recorded.deliveries, recorded.conflict), (1, false));
}

#[test]
fn bad_lines_say_what_is_wrong_and_where() {
    let ok = r#"{"receivedAt":"2026-11-30T10:00:00.000Z","eventId":"wh_1","event":"e","body":"{}"}"#;
    let cases = [
        ("not json", ErrorKind::Syntax, "each line is a JSON object"),
        (
            r#"{"eventId":"wh_1","event":"e","body":"{}"}"#,
            ErrorKind::Syntax,
            "receivedAt",
        ),
        (
            r#"{"receivedAt":"yesterday","eventId":"wh_1","event":"e","body":"{}"}"#,
            ErrorKind::Time,
            "RFC 3339",
        ),
        (
            r#"{"receivedAt":"2026-11-30T10:00:00Z","eventId":"wh_1","event":"e"}"#,
            ErrorKind::Body,
            "no body",
        ),
        (
            r#"{"receivedAt":"2026-11-30T10:00:00Z","eventId":"wh_1","event":"e","body":"","bodyBase64":""}"#,
            ErrorKind::Body,
            "both",
        ),
        (
            r#"{"receivedAt":"2026-11-30T10:00:00Z","eventId":"wh_1","event":"e","bodyBase64":"***"}"#,
            ErrorKind::Body,
            "base64",
        ),
    ];
    for (bad, kind, mentions) in cases {
        let text = format!("{ok}\n\n{bad}\n{ok}\n");
        let error = read_jsonl(text.as_bytes()).unwrap_err();
        assert_eq!(error.kind(), kind, "{bad}");
        assert_eq!(error.line(), Some(3), "{bad}");
        let message = error.to_string();
        assert!(
            message.starts_with("line 3: ") && message.contains(mentions),
            "{message}"
        );
    }
    assert_eq!(read_jsonl(b"\xff\n").unwrap_err().kind(), ErrorKind::Syntax);
    assert!(read_jsonl(b"").unwrap().is_empty());
    let far = Recorded::new("wh_1", "e", i64::MAX, "{}");
    assert_eq!(write_line(&far).unwrap_err().kind(), ErrorKind::Time);
}

proptest! {
    #[test]
    fn any_body_round_trips(body in proptest::collection::vec(any::<u8>(), 0..300), text in ".{0,100}", ms in 0_i64..253_402_300_799_000) {
        for body in [body, text.into_bytes()] {
            let recorded = Recorded::new("wh_p", "e", ms, body);
            let back = read_line(&write_line(&recorded).unwrap()).unwrap();
            prop_assert_eq!(back, recorded);
        }
    }
}

#[test]
fn pseudonyms_are_consistent_and_leave_money_and_every_other_byte_alone() {
    let pseudonyms = Pseudonymiser::new("k1");
    let mut seen_users: HashMap<String, String> = HashMap::new();
    for sample in GUIDE {
        let body = sample.body.as_bytes();
        let rewritten = pseudonyms.body(body);
        let before = crate::parse(body).unwrap();
        let after = crate::parse(&rewritten).unwrap();
        let (user, object) = (before.user_id().unwrap(), before.object_id().unwrap());
        let (new_user, new_object) = (after.user_id().unwrap(), after.object_id().unwrap());
        assert_ne!(user, new_user);
        assert_ne!(object, new_object);
        assert_eq!(new_user.as_str(), pseudonyms.user_id(user.as_str()));
        assert_eq!(new_object.get(), pseudonyms.object_id(&object.to_string()));
        assert!(new_object.get() >= 1 && new_object.get() < 1 << 53);
        // The same user gets the same pseudonym in every body.
        let earlier = seen_users.insert(user.as_str().to_owned(), new_user.as_str().to_owned());
        assert!(earlier.is_none_or(|e| e == new_user.as_str()));
        // Money and everything else the same, to the digit.
        assert_eq!(
            before.amount().map(|a| a.as_str().to_owned()),
            after.amount().map(|a| a.as_str().to_owned())
        );
        assert_eq!(before.event_id(), after.event_id());
        assert_eq!(before.data_encoding, after.data_encoding);
        if let (EventData::TradeSettled(a), EventData::TradeSettled(b)) = (before.data(), after.data()) {
            assert_eq!(a.sell_amount.as_str(), b.sell_amount.as_str());
            assert_eq!(a.buy_amount.as_str(), b.buy_amount.as_str());
        }
        // Put the ids back, and the body is the original byte for byte.
        let text = std::str::from_utf8(&rewritten).unwrap();
        let restored = text
            .replace(new_user.as_str(), user.as_str())
            .replace(&new_object.to_string(), &object.to_string());
        assert_eq!(restored.as_bytes(), body, "{text}");
    }
    // Three guide samples share user C00081866.
    assert_eq!(seen_users.len(), 3);
    // Another key, other pseudonyms; the same key, the same ones.
    let other = Pseudonymiser::new("k2");
    assert_ne!(other.user_id("C00081866"), pseudonyms.user_id("C00081866"));
    assert_eq!(
        Pseudonymiser::new("k1").user_id("C00081866"),
        pseudonyms.user_id("C00081866")
    );
    assert!(!format!("{pseudonyms:?}").contains("k1"));
}

#[test]
fn pseudonyms_reach_ids_as_strings_nested_and_behind_a_bom() {
    let pseudonyms = Pseudonymiser::new([7_u8; 100]);
    let body = "\u{feff}{\"eventId\":\"wh_1\",\"event\":\"x\",\"data\":{\"objectId\":\"42\",\"items\":[{\"userId\":\"U1\",\"amount\":0.1000000000000000055511151231257827}]}}";
    let rewritten = pseudonyms.body(body.as_bytes());
    let text = std::str::from_utf8(&rewritten).unwrap();
    let expected = body
        .replace("\"42\"", &format!("\"{}\"", pseudonyms.object_id("42")))
        .replace("\"U1\"", &format!("\"{}\"", pseudonyms.user_id("U1")));
    assert_eq!(text, expected);
    // A body that is not JSON, or holds no ids, comes back as it was.
    for same in [&b"not json"[..], b"{\"eventId\":\"wh_1\"}", b"\xff"] {
        assert!(matches!(pseudonyms.body(same), Cow::Borrowed(b) if b == same));
    }
    let recorded = pseudonyms.recorded(&Recorded::new("wh_1", "x", 5, body));
    assert_eq!(
        (recorded.body.as_slice(), recorded.received_at_ms),
        (rewritten.as_ref(), 5)
    );
}

#[test]
fn a_new_event_id_replaces_only_the_event_id() {
    let recorded = guide().into_deliveries().remove(3);
    let id = EventId::new("wh_00000000000000000000000000000001");
    let body = recorded.with_event_id(&id).unwrap();
    let expected = GUIDE[3]
        .body
        .replace("wh_c3f042548b624eb1a0ba9a57be8290f4", id.as_str());
    assert_eq!(body.as_ref(), expected.as_bytes());
    assert!(matches!(
        recorded.with_event_id(&recorded.event_id),
        Some(Cow::Borrowed(_))
    ));
    assert!(
        Recorded::new("wh_1", "x", 0, "{\"data\":{\"eventId\":\"wh_1\"}}")
            .with_event_id(&id)
            .is_none()
    );
    assert!(Recorded::new("wh_1", "x", 0, "nope").with_event_id(&id).is_none());
}

/// 100 deliveries, one every second; every tenth one is a conflicting version of the one before.
fn hundred() -> Recording {
    (0..100)
        .map(|i| {
            let id = if i % 10 == 9 { i - 1 } else { i };
            Recorded::new(
                format!("wh_{id}"),
                "payment_completed",
                1_000 * i64::from(i),
                format!("{{\"eventId\":\"wh_{id}\",\"n\":{i}}}"),
            )
            .conflict(i % 10 == 9)
        })
        .collect()
}

#[test]
fn a_plan_without_chaos_keeps_the_recorded_order_and_times() {
    let recording = hundred();
    let plan = plan(&recording, &Options::new().seed(1));
    let indexes: Vec<usize> = plan.sends().iter().map(|s| s.index).collect();
    assert_eq!(indexes, (0..100).collect::<Vec<_>>());
    assert_eq!(plan.duplicates(), 0);
    assert_eq!(plan.bursts().count(), 100);
    assert_eq!(plan.sends()[42].at_ms, 42_000);
    let ten = super::plan(&recording, &Options::new().speed(Speed::Times(10.0)));
    assert_eq!(ten.sends()[42].at_ms, 4_200);
    let max = super::plan(&recording, &Options::new().speed(Speed::Max));
    assert!(max.sends().iter().all(|s| s.at_ms == 0));
    // Fresh ids: one per recorded event, shared by its versions, none the recorded one.
    let ids: HashSet<&EventId> = plan.sends().iter().map(|s| &s.event_id).collect();
    assert_eq!(ids.len(), recording.events());
    assert_eq!(plan.sends()[8].event_id, plan.sends()[9].event_id);
    assert!(plan.sends().iter().all(|s| s.event_id.is_conventional()));
    assert!(
        plan.sends()
            .iter()
            .all(|s| s.event_id != recording.deliveries()[s.index].event_id)
    );
    let kept = super::plan(&recording, &Options::new().keep_ids(true));
    assert!(
        kept.sends()
            .iter()
            .all(|s| s.event_id == recording.deliveries()[s.index].event_id)
    );
}

#[test]
fn a_plan_sorts_by_arrival() {
    let recording: Recording = [3, 1, 2]
        .into_iter()
        .map(|t| Recorded::new(format!("wh_{t}"), "e", 1_000 * t, "{}"))
        .collect();
    let plan = plan(&recording, &Options::new());
    let order: Vec<(usize, u64)> = plan.sends().iter().map(|s| (s.index, s.at_ms)).collect();
    assert_eq!(order, [(1, 0), (2, 1_000), (0, 2_000)]);
}

#[test]
fn chaos_counts_hold_for_every_seed() {
    let recording = hundred();
    let chaos: Chaos = "duplicates=0.2,reorder=10,burst=5".parse().unwrap();
    for seed in 0..50 {
        let options = Options::new().chaos(chaos).seed(seed);
        let plan = plan(&recording, &options);
        assert_eq!(plan.sends().len(), 120);
        assert_eq!(plan.duplicates(), 20);
        // Each recorded delivery once, plus its copy when it has one, under the same id.
        let mut copies: HashMap<usize, Vec<&Planned>> = HashMap::new();
        for send in plan.sends() {
            copies.entry(send.index).or_default().push(send);
        }
        assert_eq!(copies.len(), 100);
        for sends in copies.values() {
            assert_eq!(sends.iter().filter(|s| !s.duplicate).count(), 1);
            assert!(sends.len() <= 2);
            assert!(sends.iter().all(|s| s.event_id == sends[0].event_id));
        }
        // Shuffled only within windows of 10 of the unshuffled sequence.
        let unshuffled = super::plan(&recording, &options.chaos(chaos.reorder(1)));
        for (a, b) in plan.sends().chunks(10).zip(unshuffled.sends().chunks(10)) {
            let key = |s: &Planned| (s.index, s.duplicate);
            let mut a: Vec<_> = a.iter().map(key).collect();
            let mut b: Vec<_> = b.iter().map(key).collect();
            a.sort_unstable();
            b.sort_unstable();
            assert_eq!(a, b);
        }
        // Bursts of 5, each at one time, in time order.
        let bursts: Vec<&[Planned]> = plan.bursts().collect();
        assert_eq!(bursts.len(), 24);
        assert!(
            bursts
                .iter()
                .all(|b| b.len() == 5 && b.iter().all(|s| s.at_ms == b[0].at_ms))
        );
        assert!(bursts.windows(2).all(|w| w[0][0].at_ms <= w[1][0].at_ms));
        // The same seed, the same plan.
        assert_eq!(super::plan(&recording, &options), plan);
    }
    let a = plan(&recording, &Options::new().chaos(chaos).seed(1));
    let b = plan(&recording, &Options::new().chaos(chaos).seed(2));
    assert_ne!(a, b, "another seed, another plan");
}

#[test]
fn duplicate_counts_round_to_the_nearest() {
    assert_eq!(duplicates_of(0.2, 7), 1);
    assert_eq!(duplicates_of(0.25, 10), 3);
    assert_eq!(duplicates_of(1.0, 10), 10);
    assert_eq!(duplicates_of(0.0, 10), 0);
    assert_eq!(duplicates_of(f64::NAN, 10), 0);
    let all = plan(&hundred(), &Options::new().chaos(Chaos::none().duplicates(1.0)));
    assert_eq!(all.duplicates(), 100);
    assert!(
        plan(
            &Recording::default(),
            &Options::new().chaos(Chaos::none().duplicates(1.0))
        )
        .sends()
        .is_empty()
    );
}

#[test]
fn chaos_and_speed_settings_say_what_is_wrong() {
    let chaos: Chaos = " burst=3 , duplicates=0.5 ".parse().unwrap();
    assert_eq!(chaos, Chaos::none().burst(3).duplicates(0.5));
    assert_eq!(chaos.to_string().parse::<Chaos>().unwrap(), chaos);
    for (bad, mentions) in [
        ("duplicates", "NAME=VALUE"),
        ("duplicates=1.5", "from 0 to 1"),
        ("duplicates=-0.1", "from 0 to 1"),
        ("reorder=0", "from 1"),
        ("burst=x", "from 1"),
        ("loss=0.1", "not a kind of chaos"),
        ("burst=2,burst=3", "twice"),
    ] {
        let error = bad.parse::<Chaos>().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidChaos);
        assert!(error.to_string().contains(mentions), "{bad}: {error}");
    }
    assert_eq!("1x".parse::<Speed>().unwrap(), Speed::Times(1.0));
    assert_eq!("0.5".parse::<Speed>().unwrap(), Speed::Times(0.5));
    assert_eq!("MAX".parse::<Speed>().unwrap(), Speed::Max);
    for bad in ["", "x", "-1x", "0", "inf", "fast"] {
        assert_eq!(
            bad.parse::<Speed>().unwrap_err().kind(),
            ErrorKind::InvalidSpeed,
            "{bad}"
        );
    }
}

fn json_value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        "-?[1-9][0-9]{0,29}\\.[0-9]{1,30}",
        ".{0,12}".prop_map(|s| serde_json::to_string(&s).unwrap()),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        let key = prop_oneof![
            Just("userId".to_owned()),
            Just("objectId".to_owned()),
            Just("eventId".to_owned()),
            Just("data".to_owned()),
            Just("amount".to_owned()),
            ".{0,6}",
        ];
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(|items| format!("[{}]", items.join(" , "))),
            proptest::collection::vec((key, inner), 0..6).prop_map(|members| {
                let members: Vec<String> = members
                    .into_iter()
                    .map(|(k, v)| format!("{}:\n{v}", serde_json::to_string(&k).unwrap()))
                    .collect();
                format!("{{ {} }}", members.join(","))
            }),
        ]
    })
}

proptest! {
    #[test]
    fn no_input_makes_reading_or_rewriting_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = read_jsonl(&bytes);
        let pseudonyms = Pseudonymiser::new("k");
        let _ = pseudonyms.body(&bytes);
        let _ = Recorded::new("wh_1", "e", 0, bytes).with_event_id(&EventId::new("wh_2"));
    }

    #[test]
    fn rewritten_json_stays_json_and_keeps_what_is_not_an_id(json in json_value()) {
        let pseudonyms = Pseudonymiser::new("k");
        let rewritten = pseudonyms.body(json.as_bytes());
        let value: serde_json::Value = serde_json::from_slice(&rewritten).unwrap();
        let original: serde_json::Value = serde_json::from_str(&json).unwrap();
        // Same shape: the same keys everywhere, and every value not under an id key the same.
        fn same_outside_ids(a: &serde_json::Value, b: &serde_json::Value) -> bool {
            use serde_json::Value::{Array, Object};
            match (a, b) {
                (Object(a), Object(b)) => a.len() == b.len() && a.iter().all(|(k, v)| {
                    b.get(k).is_some_and(|w| {
                        matches!(k.as_str(), "userId" | "objectId" | "data") || same_outside_ids(v, w)
                    })
                }),
                (Array(a), Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(v, w)| same_outside_ids(v, w)),
                (a, b) => a == b,
            }
        }
        prop_assert!(same_outside_ids(&original, &value), "{json}\n{}", String::from_utf8_lossy(&rewritten));
        let recorded = Recorded::new("wh_1", "e", 0, json.clone());
        if let Some(body) = recorded.with_event_id(&EventId::new("wh_2")) {
            prop_assert!(serde_json::from_slice::<serde_json::Value>(&body).is_ok());
        }
    }
}

#[test]
fn deep_nesting_neither_panics_nor_overflows() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(matches!(
        Pseudonymiser::new("k").body(deep.as_bytes()),
        Cow::Borrowed(_)
    ));
    let deep = format!(
        "{{\"userId\":\"U\",\"x\":{}{}}}",
        "{\"a\":".repeat(50_000),
        "1".to_owned() + &"}".repeat(50_000)
    );
    let rewritten = Pseudonymiser::new("k").body(deep.as_bytes());
    assert_eq!(rewritten.len(), deep.len() - 1 + 17, "only the userId changed");
}

#[test]
fn a_time_rfc_3339_cannot_write_is_refused_not_written_unreadable() {
    // The last millisecond of 9999 and the first of year 0 are written, and read back.
    for ms in [253_402_300_799_999, -62_167_219_200_000] {
        let recorded = Recorded::new("wh_1", "e", ms, "{}");
        let back = read_line(&write_line(&recorded).unwrap()).unwrap();
        assert_eq!(back.received_at_ms, ms);
    }
    // A millisecond later or earlier has a five-digit or a negative year, which no reader takes.
    for ms in [253_402_300_800_000, -62_167_219_200_001] {
        let error = write_line(&Recorded::new("wh_1", "e", ms, "{}")).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Time, "{ms}");
    }
    // A time whose offset puts it outside those years in UTC is not read, so what reads writes back.
    for time in ["0000-01-01T00:00:00+01:00", "9999-12-31T23:00:00-01:00"] {
        let line = format!(r#"{{"receivedAt":"{time}","eventId":"wh_1","event":"e","body":"{{}}"}}"#);
        assert_eq!(read_line(&line).unwrap_err().kind(), ErrorKind::Time, "{time}");
    }
    let line = r#"{"receivedAt":"9999-12-31T23:59:59.999+00:00","eventId":"wh_1","event":"e","body":"{}"}"#;
    assert_eq!(read_line(line).unwrap().received_at_ms, 253_402_300_799_999);
}

#[test]
fn ids_that_do_not_decode_are_replaced_too() {
    let pseudonyms = Pseudonymiser::new("k");
    // A lone surrogate escape, and bytes that are not UTF-8: the id is still in the body, so it must go.
    let cases: [&[u8]; 3] = [
        br#"{"data":{"userId":"\ud800C00081866","objectId":"162953\udc00","amount":10.00}}"#,
        b"{\"data\":{\"userId\":\"C00081866\xff\",\"amount\":10.00}}",
        b"{\"data\":{\"objectId\":\"162953\xfe\",\"amount\":10.00}}",
    ];
    let mut seen = HashSet::new();
    for body in cases {
        let rewritten = pseudonyms.body(body);
        let text = String::from_utf8_lossy(&rewritten);
        assert!(!text.contains("C00081866") && !text.contains("162953"), "{text}");
        assert!(text.ends_with(r#","amount":10.00}}"#), "{text}");
        assert_eq!(pseudonyms.body(body), rewritten, "the same id, the same pseudonym");
        assert!(seen.insert(rewritten.into_owned()));
    }
}
