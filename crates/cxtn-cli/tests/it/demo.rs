//! `cxtn demo` end to end.

use cxtn::events::samples;
use serde_json::json;

use crate::run;

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_shows_every_event_arriving_once() {
    let dir = tempfile::tempdir().unwrap();
    let demo_dir = dir.path().join("demo");
    let run = run(&["demo", "--dir", demo_dir.to_str().unwrap()], &[]).await;
    run.assert_code(0);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let out = &run.stdout;
    for sample in &samples::GUIDE {
        assert!(out.contains(sample.name), "{} missing:\n{out}", sample.name);
    }
    for event in ["account_credit", "account_debit", "payment_completed", "trade_settled"] {
        assert!(out.contains(event), "{event} missing:\n{out}");
    }
    assert_eq!(out.matches("✓").count(), 7, "every step passed:\n{out}");
    assert_eq!(out.matches(" processed").count(), 16, "16 events handled:\n{out}");
    assert!(out.contains("sent twice"), "{out}");
    assert!(out.contains("held while paused"), "{out}");
    assert!(
        out.contains("16 events arrived; each was stored and handled exactly once.\n"),
        "{out}"
    );
    assert_eq!(out.matches("Deduplicated: wh_").count(), 1, "{out}");
    assert!(out.contains(" arrived twice and was stored and handled once."), "{out}");
    let db = demo_dir.join("cxtn-inbox.sqlite");
    assert!(out.contains(&format!("The inbox is kept at {}", db.display())), "{out}");

    let stats = crate::run(&["inbox", "--db", db.to_str().unwrap(), "stats", "--json"], &[]).await;
    assert_eq!(
        stats.assert_code(0).json(),
        json!({"pending": 0, "processing": 0, "processed": 16, "dead": 0, "quarantined": 0, "rejected": 0,
               "duplicates": 1, "conflicts": 0})
    );

    let again = crate::run(&["demo", "--dir", demo_dir.to_str().unwrap()], &[]).await;
    again.assert_error(2, "already holds an inbox from an earlier run");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_reports_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let run = run(&["demo", "--json", "--dir", dir.path().to_str().unwrap()], &[]).await;
    let report = run.assert_code(0).json();
    assert_eq!(report["ok"], json!(true));
    assert_eq!(report["problems"], json!([]));
    assert_eq!(report["duplicates"], json!(1));
    assert_eq!(report["rejected"], json!(0));
    assert_eq!(
        report["arrivals"],
        json!({"stored": 16, "duplicates": 1, "rejected": 0})
    );
    assert_eq!(report["held"]["heldWhilePaused"], json!(true));
    assert_eq!(report["held"]["deliveredAfterResume"], json!(true));
    assert_eq!(report["dir"], json!(dir.path().to_str().unwrap()));
    let events = report["events"].as_array().unwrap();
    assert_eq!(events.len(), 16);
    for sample in &samples::GUIDE {
        for encoding in ["object", "string"] {
            assert!(
                events
                    .iter()
                    .any(|e| e["sample"] == json!(sample.name) && e["encoding"] == json!(encoding)),
                "{} as {encoding}",
                sample.name
            );
        }
    }
    for event in events {
        assert_eq!(event["handled"], json!(1), "{event}");
        assert_eq!(event["status"], json!("processed"), "{event}");
        let expected = if event["note"] == json!("sent twice") { 2 } else { 1 };
        assert_eq!(event["deliveries"], json!(expected), "{event}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_dir_the_demo_keeps_a_new_temporary_directory() {
    let run = run(&["demo", "--json"], &[]).await;
    let report = run.assert_code(0).json();
    let dir = std::path::PathBuf::from(report["dir"].as_str().unwrap());
    let kept = dir.join("cxtn-inbox.sqlite").exists();
    let named = dir.file_name().unwrap().to_str().unwrap().starts_with("cxtn-demo-");
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(kept, "the inbox is kept in {}", dir.display());
    assert!(named, "{}", dir.display());
    assert_eq!(report["inbox"], json!(dir.join("cxtn-inbox.sqlite").to_str().unwrap()));
}
