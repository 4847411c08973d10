//! `cxtn webhooks` against an in-process sandbox, through the real management client.

use cxtn::EndpointStatus;
use serde_json::json;

use crate::{TOKEN, run, sandbox, webhooks};

fn endpoint(port: u16) -> String {
    format!("http://127.0.0.1:{port}/cxtn/{TOKEN}")
}

fn columns(line: &str) -> Vec<&str> {
    line.split("  ").filter(|c| !c.is_empty()).map(str::trim).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_endpoint_lifecycle_in_words() {
    let sandbox = sandbox().await;
    let url = endpoint(8080);

    let run = webhooks(&sandbox, &["enable"]).await;
    run.assert_code(0);
    assert!(
        run.stdout.starts_with("Enabled webhooks on http://127.0.0.1:"),
        "{}",
        run.stdout
    );
    assert!(sandbox.is_enabled());

    let run = webhooks(&sandbox, &["list"]).await;
    run.assert_code(0);
    assert!(run.stdout.starts_with("No endpoints."), "{}", run.stdout);

    let run = webhooks(
        &sandbox,
        &["create", "--event-type", "AccountTransaction", "--url", &url],
    )
    .await;
    run.assert_code(0);
    assert_eq!(
        run.stdout,
        "Created the AccountTransaction endpoint: http://127.0.0.1:8080/<redacted> (Active).\n"
    );
    assert!(
        run.stderr.is_empty(),
        "no warning for a type CXTN sends: {}",
        run.stderr
    );

    let run = webhooks(&sandbox, &["create", "--event-type", "1", "--url", &url]).await;
    run.assert_code(0);
    assert!(
        run.stdout.contains("Created the Payment endpoint"),
        "numbers name types: {}",
        run.stdout
    );

    let edited = endpoint(9090);
    let run = webhooks(&sandbox, &["edit", "--event-type", "payment", "--url", &edited]).await;
    run.assert_code(0);
    assert_eq!(
        run.stdout,
        "The Payment endpoint now points at http://127.0.0.1:9090/<redacted>.\n"
    );

    let run = webhooks(
        &sandbox,
        &["status", "--event-type", "account_transaction", "--status", "paused"],
    )
    .await;
    run.assert_code(0);
    assert_eq!(run.stdout, "The AccountTransaction endpoint is now Paused.\n");

    let run = webhooks(&sandbox, &["list"]).await;
    run.assert_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    assert!(lines[0].starts_with("EVENT TYPE"), "{}", lines[0]);
    assert_eq!(
        columns(lines[1]),
        [
            "AccountTransaction",
            "2",
            "Paused",
            "http://127.0.0.1:8080/<redacted>",
            "account_credit, account_debit"
        ]
    );
    assert_eq!(
        columns(lines[2]),
        [
            "Payment",
            "1",
            "Active",
            "http://127.0.0.1:9090/<redacted>",
            "payment_completed, trade_settled"
        ]
    );
    assert_eq!(
        lines[0].find("STATUS"),
        lines[1].find("Paused"),
        "columns are aligned:\n{}",
        run.stdout
    );

    let run = webhooks(
        &sandbox,
        &["ensure", "--event-type", "AccountTransaction", "--url", &url],
    )
    .await;
    run.assert_code(0);
    assert_eq!(
        run.stdout,
        "The AccountTransaction endpoint points at http://127.0.0.1:8080/<redacted> and is Active (set it Active).\n"
    );
    let run = webhooks(
        &sandbox,
        &["ensure", "--event-type", "AccountTransaction", "--url", &url],
    )
    .await;
    assert!(run.stdout.ends_with("(nothing to change).\n"), "{}", run.stdout);

    let run = webhooks(&sandbox, &["deactivate", "--yes"]).await;
    run.assert_code(0);
    assert!(run.stdout.starts_with("Deactivated every endpoint"), "{}", run.stdout);
    assert!(
        sandbox.endpoints().iter().all(|e| e.status == EndpointStatus::Inactive),
        "{:?}",
        sandbox.endpoints()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_endpoint_lifecycle_in_json() {
    let sandbox = sandbox().await;
    let url = endpoint(8080);
    let run = webhooks(&sandbox, &["enable", "--json"]).await;
    assert_eq!(run.assert_code(0).json(), json!({"operation": "enable", "ok": true}));

    let run = webhooks(
        &sandbox,
        &["--json", "create", "--event-type", "Payment", "--url", &url],
    )
    .await;
    assert_eq!(
        run.assert_code(0).json(),
        json!({"operation": "create", "ok": true, "eventType": "Payment", "eventTypeValue": 1,
               "url": "http://127.0.0.1:8080/<redacted>", "sendsNotifications": true})
    );

    let run = webhooks(&sandbox, &["edit", "--event-type", "Payment", "--url", &url, "--json"]).await;
    assert_eq!(
        run.assert_code(0).json(),
        json!({"operation": "edit", "ok": true, "eventType": "Payment", "eventTypeValue": 1,
               "url": "http://127.0.0.1:8080/<redacted>"})
    );

    let run = webhooks(
        &sandbox,
        &["status", "--event-type", "Payment", "--status", "inactive", "--json"],
    )
    .await;
    assert_eq!(
        run.assert_code(0).json(),
        json!({"operation": "status", "ok": true, "eventType": "Payment", "eventTypeValue": 1, "status": "Inactive"})
    );

    let run = webhooks(
        &sandbox,
        &["ensure", "--event-type", "AccountTransaction", "--url", &url, "--json"],
    )
    .await;
    assert_eq!(
        run.assert_code(0).json(),
        json!({"operation": "ensure", "ok": true, "eventType": "AccountTransaction", "eventTypeValue": 2,
               "url": "http://127.0.0.1:8080/<redacted>", "sendsNotifications": true, "enabledWebhooks": false, "created": true,
               "urlChanged": false, "activated": true, "unchanged": false})
    );

    let run = webhooks(&sandbox, &["list", "--json", "--show-urls"]).await;
    assert_eq!(
        run.assert_code(0).json(),
        json!([
            {"eventType": "Payment", "eventTypeValue": 1, "status": "Inactive", "url": url,
             "sendsNotifications": true, "events": ["payment_completed", "trade_settled"]},
            {"eventType": "AccountTransaction", "eventTypeValue": 2, "status": "Active", "url": url,
             "sendsNotifications": true, "events": ["account_credit", "account_debit"]},
        ])
    );

    let run = webhooks(&sandbox, &["deactivate", "--yes", "--json"]).await;
    assert_eq!(
        run.assert_code(0).json(),
        json!({"operation": "deactivate", "ok": true})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn endpoint_urls_are_redacted_unless_asked() {
    let sandbox = sandbox().await;
    let url = endpoint(8080);
    webhooks(&sandbox, &["enable"]).await.assert_code(0);
    let run = webhooks(&sandbox, &["create", "--event-type", "Payment", "--url", &url, "-v"]).await;
    run.assert_code(0);
    let run_list = webhooks(&sandbox, &["list", "-v"]).await;
    for output in [&run.stdout, &run.stderr, &run_list.stdout, &run_list.stderr] {
        assert!(!output.contains(TOKEN), "the path token was printed: {output}");
    }
    let run = webhooks(&sandbox, &["list", "--show-urls"]).await;
    assert!(run.stdout.contains(&url), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn creating_twice_is_refused_by_the_api_with_exit_1() {
    let sandbox = sandbox().await;
    let url = endpoint(8080);
    webhooks(&sandbox, &["enable"]).await.assert_code(0);
    webhooks(&sandbox, &["create", "--event-type", "Payment", "--url", &url])
        .await
        .assert_code(0);
    let run = webhooks(&sandbox, &["create", "--event-type", "Payment", "--url", &url]).await;
    run.assert_error(
        1,
        "CXTN refused the operation (HTTP 400 Bad Request, ApiStatusCode 1002 EndpointExists)",
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "one sentence and the hint: {}", run.stderr);
    assert_eq!(
        lines[1],
        "The event type has an endpoint already: change its URL with `cxtn webhooks edit`, or run `cxtn webhooks ensure`, which creates or edits as needed."
    );

    let run = webhooks(&sandbox, &["create", "--event-type", "Payment", "--url", &url, "-v"]).await;
    run.assert_code(1);
    assert!(
        run.stderr.starts_with("calling custom (http://127.0.0.1:"),
        "-v says what is called: {}",
        run.stderr
    );
    assert!(run.stderr.contains("\nerror: create: CXTN refused"), "{}", run.stderr);
    assert!(
        run.stderr.contains("  HTTP status: 400 Bad Request"),
        "-v adds details: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("  ApiStatusCode: 1002 EndpointExists"),
        "{}",
        run.stderr
    );

    let run = webhooks(&sandbox, &["status", "--event-type", "Quote", "--status", "active"]).await;
    run.assert_error(1, "EndpointNotFound");
    assert!(
        run.stderr
            .contains("Create the endpoint first with `cxtn webhooks create`"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn creating_before_enabling_is_refused_with_exit_1() {
    let sandbox = sandbox().await;
    let run = webhooks(
        &sandbox,
        &["create", "--event-type", "Payment", "--url", &endpoint(8080)],
    )
    .await;
    run.assert_error(1, "WebhooksNotEnabled");
    assert!(
        run.stderr.contains("\nRun `cxtn webhooks enable` first"),
        "{}",
        run.stderr
    );

    let run = webhooks(
        &sandbox,
        &["create", "--event-type", "Payment", "--url", &endpoint(8080), "--json"],
    )
    .await;
    assert_eq!(run.code, 1);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let error: serde_json::Value = serde_json::from_str(run.stderr.trim()).unwrap();
    let error = &error["error"];
    assert_eq!(error["kind"], json!("api"), "{error}");
    assert_eq!(error["exitCode"], json!(1), "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("WebhooksNotEnabled"),
        "{error}"
    );
    assert!(
        error["hint"]
            .as_str()
            .unwrap()
            .starts_with("Run `cxtn webhooks enable` first"),
        "{error}"
    );
    assert!(
        error["details"]
            .as_array()
            .unwrap()
            .contains(&json!("ApiStatusCode: 1001 WebhooksNotEnabled")),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn create_warns_when_cxtn_sends_nothing_for_the_type() {
    let sandbox = sandbox().await;
    webhooks(&sandbox, &["enable"]).await.assert_code(0);
    let run = webhooks(
        &sandbox,
        &["create", "--event-type", "Wallets", "--url", &endpoint(8080)],
    )
    .await;
    run.assert_code(0);
    assert_eq!(
        run.stderr,
        "warning: CXTN sends no notifications for Wallet, so this endpoint will receive nothing; use Payment or AccountTransaction\n"
    );
    assert!(run.stdout.contains("Created the Wallet endpoint"), "{}", run.stdout);
    let run = webhooks(
        &sandbox,
        &["create", "--event-type", "Card", "--url", &endpoint(8080), "--json"],
    )
    .await;
    assert_eq!(run.assert_code(0).json()["sendsNotifications"], json!(false));
    assert!(run.stderr.starts_with("warning: "), "{}", run.stderr);
    let run = webhooks(&sandbox, &["list"]).await;
    assert!(
        run.stdout.contains("none (CXTN sends nothing for this type)"),
        "{}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deactivate_refuses_without_yes_when_stdin_is_not_a_terminal() {
    let sandbox = sandbox().await;
    webhooks(&sandbox, &["enable"]).await.assert_code(0);
    webhooks(
        &sandbox,
        &["create", "--event-type", "Payment", "--url", &endpoint(8080)],
    )
    .await
    .assert_code(0);
    let run = webhooks(&sandbox, &["deactivate"]).await;
    run.assert_error(2, "without confirmation");
    assert!(run.stderr.contains("Pass --yes to confirm."), "{}", run.stderr);
    assert_eq!(
        sandbox.endpoints()[0].status,
        EndpointStatus::Active,
        "nothing was deactivated"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_or_empty_token_is_wrong_usage() {
    let sandbox = sandbox().await;
    let base_url = sandbox.base_url();
    let run = run(&["webhooks", "list", "--base-url", &base_url], &[]).await;
    run.assert_error(2, "need an access token");
    assert!(
        run.stderr.contains("Set CXTN_ACCESS_TOKEN, or pass --token-file PATH"),
        "{}",
        run.stderr
    );

    let run = crate::run(
        &["webhooks", "list", "--base-url", &base_url],
        &[("CXTN_ACCESS_TOKEN", "  \n")],
    )
    .await;
    run.assert_error(2, "CXTN_ACCESS_TOKEN is empty");

    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n\n").unwrap();
    let run = crate::run(
        &[
            "webhooks",
            "list",
            "--base-url",
            &base_url,
            "--token-file",
            empty.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    run.assert_error(2, "is empty");

    let missing = dir.path().join("missing");
    let run = crate::run(
        &[
            "webhooks",
            "list",
            "--base-url",
            &base_url,
            "--token-file",
            missing.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    run.assert_error(2, "cannot read the token file");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_file_is_trimmed_and_the_variables_are_read() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, format!("  {}\n", sandbox.token().expose_secret())).unwrap();
    let run = run(
        &["webhooks", "enable", "--token-file", file.to_str().unwrap()],
        &[
            ("CXTN_BASE_URL", &sandbox.base_url()),
            ("CXTN_ACCESS_TOKEN", "not-this-one"),
        ],
    )
    .await;
    run.assert_code(0);
    assert!(sandbox.is_enabled(), "the file wins over the variable");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_token_fails_with_exit_1() {
    let sandbox = sandbox().await;
    let run = run(
        &["webhooks", "list", "--base-url", &sandbox.base_url()],
        &[("CXTN_ACCESS_TOKEN", "sbx_wrong-token-value")],
    )
    .await;
    run.assert_error(1, "CXTN refused the access token");
    assert!(!run.stderr.contains("sbx_wrong-token-value"));
    assert!(
        run.stderr.contains("the token `cxtn sandbox` printed"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_api_fails_with_exit_1_and_says_what_to_check() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let base_url = format!("http://127.0.0.1:{port}/api/");
    let run = run(
        &["webhooks", "list", "--base-url", &base_url],
        &[("CXTN_ACCESS_TOKEN", "t")],
    )
    .await;
    run.assert_error(1, "connection refused");
    assert!(run.stderr.contains("Check --base-url"), "{}", run.stderr);

    let run = crate::run(
        &["webhooks", "list", "--base-url", &base_url, "--json"],
        &[("CXTN_ACCESS_TOKEN", "t")],
    )
    .await;
    let error: serde_json::Value = serde_json::from_str(run.stderr.trim()).unwrap();
    assert_eq!(error["error"]["kind"], json!("network"), "{error}");
    assert_eq!(error["error"]["exitCode"], json!(1), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_api_is_called_until_one_is_named() {
    let run = run(&["webhooks", "list"], &[("CXTN_ACCESS_TOKEN", "sbx_secret-value")]).await;
    run.assert_error(2, "no API was named to call");
    assert!(
        run.stderr
            .contains("--base-url http://127.0.0.1:4010/api/ for the local simulator"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--env hosted-sandbox"), "{}", run.stderr);

    // The old spelling still names the hosted sandbox, with a warning; the token check fails before any call.
    let run = crate::run(&["webhooks", "list", "--env", "sandbox"], &[]).await;
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .starts_with("warning: --env sandbox means CXTN's hosted sandbox environment"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--env hosted-sandbox"), "{}", run.stderr);
    let run = crate::run(&["webhooks", "list", "--env", "hosted-sandbox"], &[]).await;
    run.assert_error(2, "need an access token");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_values_are_wrong_usage() {
    let sandbox = sandbox().await;
    let run = webhooks(
        &sandbox,
        &["create", "--event-type", "Loans", "--url", "https://example.com/x"],
    )
    .await;
    run.assert_error(2, "`Loans` is not a known webhook event type");
    let run = webhooks(
        &sandbox,
        &["create", "--event-type", "7", "--url", "https://example.com/x"],
    )
    .await;
    run.assert_code(2);
    let run = webhooks(
        &sandbox,
        &["create", "--event-type", "Payment", "--url", "http://example.com/hook"],
    )
    .await;
    run.assert_error(2, "uses plain http");
    assert!(
        run.stderr.contains("plain http is accepted only on a loopback address"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("allow_insecure_http"), "{}", run.stderr);
    let run = webhooks(&sandbox, &["edit", "--event-type", "Payment", "--url", "not a url"]).await;
    run.assert_error(2, "is not a valid URL");
    assert!(sandbox.endpoints().is_empty());
}

#[tokio::test]
async fn ensure_on_a_fresh_account_enables_webhooks_and_says_so() {
    let sandbox = sandbox().await;
    assert!(!sandbox.is_enabled());
    let url = endpoint(8080);
    let run = webhooks(
        &sandbox,
        &["ensure", "--event-type", "Payment", "--url", &url, "--json"],
    )
    .await;
    let answer = run.assert_code(0).json();
    assert_eq!(answer["enabledWebhooks"], true, "{answer}");
    assert_eq!(answer["created"], true, "{answer}");
    assert!(sandbox.is_enabled());
    let run = webhooks(
        &sandbox,
        &["ensure", "--event-type", "AccountTransaction", "--url", &url],
    )
    .await;
    run.assert_code(0);
    assert!(!run.stdout.contains("enabled webhooks"), "{}", run.stdout);
}
