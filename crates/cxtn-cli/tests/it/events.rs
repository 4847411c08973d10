//! `cxtn events parse` over the parser's fixture corpus.

use std::path::{Path, PathBuf};

use crate::{run, run_with_input};

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../cxtn-events/tests/fixtures")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() > 20, "the corpus is there: {}", dir.display());
    files
}

fn fixture(kind: &str, name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../cxtn-events/tests/fixtures")
        .join(kind)
        .join(name)
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_valid_fixture_prints_its_exact_canonical_form() {
    for file in fixtures("valid") {
        let path = file.to_str().unwrap();
        let body = std::fs::read(&file).unwrap();
        let canonical = cxtn::events::parse(&body).unwrap().to_json().unwrap();
        let run = run(&["events", "parse", "--json", path], &[]).await;
        run.assert_code(0);
        assert_eq!(run.stdout, format!("{canonical}\n"), "{path}");
        assert!(run.stderr.is_empty(), "{path}: {}", run.stderr);

        let run = crate::run(&["events", "parse", path], &[]).await;
        run.assert_code(0);
        let event = cxtn::events::parse(&body).unwrap();
        assert!(
            run.stdout
                .starts_with(&format!("event          {}", event.event_name())),
            "{path}: {}",
            run.stdout
        );
        assert!(run.stdout.contains(event.event_id().as_str()), "{path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_invalid_fixture_fails_with_exit_1_and_the_reason() {
    for file in fixtures("invalid") {
        let path = file.to_str().unwrap();
        let body = std::fs::read(&file).unwrap();
        let reason = cxtn::events::parse(&body).unwrap_err().to_string();
        for json in [false, true] {
            let mut args = vec!["events", "parse", path];
            if json {
                args.push("--json");
            }
            let run = run(&args, &[]).await;
            assert!(run.stdout.is_empty(), "{path}: {}", run.stdout);
            if json {
                run.assert_code(1);
                let error: serde_json::Value = serde_json::from_str(run.stderr.trim()).unwrap();
                assert_eq!(error["error"]["kind"], "notification", "{error}");
                assert_eq!(error["error"]["exitCode"], 1, "{error}");
                let message = error["error"]["message"].as_str().unwrap();
                assert!(message.contains(&reason), "{message}");
                assert!(message.contains("is not a CXTN notification"), "{message}");
            } else {
                run.assert_error(1, &reason);
                assert!(run.stderr.contains("is not a CXTN notification"), "{}", run.stderr);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_json_keeps_every_digit() {
    let run = run(
        &[
            "events",
            "parse",
            "--json",
            &fixture("valid", "amount_28_decimals.json"),
        ],
        &[],
    )
    .await;
    run.assert_code(0);
    assert!(
        run.stdout.contains(r#""sellAmount":1.2345678901234567890123456789"#),
        "{}",
        run.stdout
    );
    let run = crate::run(
        &["events", "parse", "--json", &fixture("valid", "funds_in.string.json")],
        &[],
    )
    .await;
    assert!(run.stdout.contains(r#""amount":1000.00"#), "{}", run.stdout);
    assert!(
        run.stdout.contains(r#""data":{"#),
        "the canonical form has data as an object"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn standard_input_is_read_for_dash_or_no_file() {
    let body = std::fs::read(fixture("valid", "payment_complete.string.json")).unwrap();
    for args in [&["events", "parse", "-", "--json"][..], &["events", "parse", "--json"]] {
        let run = run_with_input(args, &[], Some(&body)).await;
        run.assert_code(0);
        assert!(run.stdout.contains(r#""amount":10.00"#), "{}", run.stdout);
    }
    let run = run_with_input(&["events", "parse"], &[], Some(b"{\"eventId\": 1}")).await;
    run.assert_error(1, "standard input is not a CXTN notification");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_file_fails_with_exit_1() {
    let run = run(&["events", "parse", "/nonexistent/notification.json"], &[]).await;
    run.assert_error(1, "cannot read /nonexistent/notification.json");
}

#[tokio::test(flavor = "multi_thread")]
async fn verbose_failures_name_the_kind_and_field() {
    let run = run(
        &["events", "parse", "-v", &fixture("invalid", "missing_amount.json")],
        &[],
    )
    .await;
    run.assert_error(1, "missing field `amount`");
    assert!(run.stderr.contains("  kind: missing_field"), "{}", run.stderr);
    assert!(run.stderr.contains("  field: amount"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn summaries_say_what_each_guide_sample_means() {
    let mut all = String::new();
    for name in [
        "funds_in.string.json",
        "payment_complete.string.json",
        "trade_settled.string.json",
        "account_debit.object.json",
        "pot_credit.object.json",
        "unknown_fields.json",
        "unknown_event_object.json",
    ] {
        let run = run(&["events", "parse", &fixture("valid", name)], &[]).await;
        run.assert_code(0);
        all.push_str(&format!("# {name}\n{}\n", run.stdout));
    }
    insta::assert_snapshot!("summaries", all);
}
