//! `cxtn webhooks plan` and `apply` against an in-process sandbox, with drift made behind their back,
//! and against a scripted API that refuses a call halfway.

use std::path::Path;

use cxtn::sandbox::Sandbox;
use cxtn::{EndpointStatus, WebhookEventType};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;

use crate::{Run, TOKEN, run, sandbox};

const FILE: &str = r#"
unlisted = "inactive"

[endpoints.Payment]
url = "http://127.0.0.1:8080/cxtn/${CXTN_PATH_TOKEN}"

[endpoints.AccountTransaction]
url = "http://127.0.0.1:8080/cxtn/${CXTN_PATH_TOKEN}"
status = "paused"
"#;

fn url() -> String {
    format!("http://127.0.0.1:8080/cxtn/{TOKEN}")
}

fn write(dir: &Path, text: &str) -> String {
    let path = dir.join("cxtn-webhooks.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Runs `cxtn webhooks --base-url URL ARGS` with the path token in the environment, and checks that neither the
/// access token nor the path token is printed.
async fn cxtn(base_url: &str, access_token: &str, args: &[&str]) -> Run {
    let mut all = vec!["webhooks", "--base-url", base_url];
    all.extend_from_slice(args);
    let run = run(&all, &[("CXTN_ACCESS_TOKEN", access_token), ("CXTN_PATH_TOKEN", TOKEN)]).await;
    for secret in [access_token, TOKEN] {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "a secret was printed: {run:?}"
        );
    }
    run
}

async fn on(sandbox: &Sandbox, args: &[&str]) -> Run {
    let token = sandbox.token().expose_secret().to_owned();
    cxtn(&sandbox.base_url(), &token, args).await
}

/// The sandbox's endpoints as `(type, url, status)`, in the order of CXTN's table.
fn endpoints(sandbox: &Sandbox) -> Vec<(String, String, String)> {
    let mut all: Vec<_> = sandbox
        .endpoints()
        .into_iter()
        .map(|e| {
            (
                e.event_type.value(),
                (
                    e.event_type.to_string(),
                    e.endpoint_url.as_str().to_owned(),
                    e.status.to_string(),
                ),
            )
        })
        .collect();
    all.sort_by_key(|(value, _)| *value);
    all.into_iter().map(|(_, e)| e).collect()
}

fn wanted() -> Vec<(String, String, String)> {
    vec![
        ("Payment".to_owned(), url(), "Active".to_owned()),
        ("AccountTransaction".to_owned(), url(), "Paused".to_owned()),
    ]
}

/// `action eventType from->to` for each change of a JSON plan or report list.
fn summary(changes: &Value) -> Vec<String> {
    changes
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let what = match c["action"].as_str().unwrap() {
                "create" => c["url"].as_str().unwrap().to_owned(),
                _ => format!(
                    "{}->{}",
                    c["from"].as_str().unwrap_or("null"),
                    c["to"].as_str().unwrap()
                ),
            };
            format!(
                "{} {} {what}",
                c["action"].as_str().unwrap(),
                c["eventType"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_converges_a_fresh_account_then_changes_nothing() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), FILE);

    let plan = on(&sandbox, &["plan", "-f", &file, "--json"]).await;
    plan.assert_code(3);
    let plan = plan.json();
    assert_eq!(
        (plan["operation"].clone(), plan["inSync"].clone()),
        (json!("plan"), json!(false))
    );
    assert_eq!(
        summary(&plan["changes"]),
        [
            "create Payment http://127.0.0.1:8080/<redacted>",
            "create AccountTransaction http://127.0.0.1:8080/<redacted>",
            "status Payment null->Active",
            "status AccountTransaction null->Paused",
        ]
    );
    assert_eq!(plan["changes"][0]["eventTypeValue"], 1);
    assert!(!sandbox.is_enabled(), "plan changes nothing");

    let apply = on(&sandbox, &["apply", "-f", &file, "--json"]).await;
    apply.assert_code(0);
    let report = apply.json();
    assert_eq!(report["ok"], true);
    assert_eq!(report["changed"], true);
    assert_eq!(
        report["enabledWebhooks"], true,
        "the sandbox refused the first create: {report}"
    );
    assert_eq!(summary(&report["applied"]), summary(&plan["changes"]));
    assert_eq!(report["failed"], Value::Null);
    assert_eq!(report["notApplied"], json!([]));
    assert_eq!(report["error"], Value::Null);
    assert!(sandbox.is_enabled());
    assert_eq!(endpoints(&sandbox), wanted());

    let again = on(&sandbox, &["apply", "-f", &file]).await;
    again.assert_code(0);
    assert_eq!(
        again.stdout,
        format!(
            "Nothing to change: the endpoints on {} match {file}.\n",
            sandbox.base_url()
        )
    );
    let again = on(&sandbox, &["apply", "-f", &file, "--json"]).await;
    again.assert_code(0);
    assert_eq!(
        again.json(),
        json!({"operation": "apply", "ok": true, "changed": false, "enabledWebhooks": false, "applied": [],
               "failed": null, "notApplied": [], "error": null})
    );

    let in_sync = on(&sandbox, &["plan", "-f", &file]).await;
    in_sync.assert_code(0);
    assert_eq!(
        in_sync.stdout,
        format!("In sync: the endpoints on {} match {file}.\n", sandbox.base_url())
    );
    let in_sync = on(&sandbox, &["plan", "-f", &file, "--json"]).await;
    in_sync.assert_code(0);
    assert_eq!(
        in_sync.json(),
        json!({"operation": "plan", "inSync": true, "changes": []})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn drift_made_behind_its_back_is_shown_then_undone() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), FILE);
    on(&sandbox, &["apply", "-f", &file]).await.assert_code(0);

    // Someone pauses one endpoint, points the other at an old host, and adds one the file does not list.
    sandbox
        .set_endpoint_status(WebhookEventType::Payment, EndpointStatus::Paused)
        .unwrap();
    sandbox
        .edit_endpoint(
            WebhookEventType::AccountTransaction,
            &format!("https://old.example.com/cxtn/{TOKEN}"),
        )
        .unwrap();
    sandbox
        .create_endpoint(WebhookEventType::Wallet, "https://old.example.com/w")
        .unwrap();

    let plan = on(&sandbox, &["plan", "-f", &file]).await;
    plan.assert_code(3);
    assert_eq!(
        plan.stdout,
        format!(
            "Drift: 3 changes to make the endpoints on {} match {file}:\n  \
             ~ edit AccountTransaction: https://old.example.com/<redacted> -> http://127.0.0.1:8080/<redacted>\n  \
             ~ status Payment: Paused -> Active\n  \
             ~ status Wallet: Active -> Inactive\n\
             Run `cxtn webhooks apply -f {file}` to make them.\n",
            sandbox.base_url()
        )
    );
    let access_token = sandbox.token().expose_secret().to_owned();
    let base_url = sandbox.base_url();
    let shown = run(
        &[
            "webhooks",
            "--base-url",
            &base_url,
            "plan",
            "-f",
            &file,
            "--json",
            "--show-urls",
        ],
        &[("CXTN_ACCESS_TOKEN", access_token.as_str()), ("CXTN_PATH_TOKEN", TOKEN)],
    )
    .await;
    shown.assert_code(3);
    assert_eq!(shown.json()["changes"][0]["to"], url(), "--show-urls prints URLs whole");

    let apply = on(&sandbox, &["apply", "-f", &file]).await;
    apply.assert_code(0);
    assert!(
        apply.stdout.starts_with(&format!(
            "Applied 3 changes on {}; the endpoints match {file}:\n  ~ edit AccountTransaction",
            sandbox.base_url()
        )),
        "{}",
        apply.stdout
    );
    let mut expected = wanted();
    expected.push((
        "Wallet".to_owned(),
        "https://old.example.com/w".to_owned(),
        "Inactive".to_owned(),
    ));
    assert_eq!(endpoints(&sandbox), expected);
    let again = on(&sandbox, &["apply", "-f", &file, "--json"]).await;
    again.assert_code(0);
    assert_eq!(again.json()["changed"], false);

    // Someone deactivates every endpoint.
    sandbox.deactivate_endpoints().unwrap();
    let plan = on(&sandbox, &["plan", "-f", &file, "--json"]).await;
    plan.assert_code(3);
    assert_eq!(
        summary(&plan.json()["changes"]),
        [
            "status Payment Inactive->Active",
            "status AccountTransaction Inactive->Paused",
        ]
    );
    let apply = on(&sandbox, &["apply", "-f", &file, "--json"]).await;
    apply.assert_code(0);
    assert_eq!(apply.json()["applied"].as_array().unwrap().len(), 2);
    assert_eq!(endpoints(&sandbox), expected);
    on(&sandbox, &["plan", "-f", &file]).await.assert_code(0);
    let again = on(&sandbox, &["apply", "-f", &file, "--json"]).await;
    assert_eq!(again.json()["changed"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_variable_is_named_and_nothing_is_called() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), &FILE.replace("CXTN_PATH_TOKEN", "CXTN_SHOP_TOKEN"));
    for command in ["plan", "apply"] {
        let run = on(&sandbox, &[command, "-f", &file]).await;
        run.assert_error(
            2,
            &format!(
                "{file}: line 5, column 7: the environment variable CXTN_SHOP_TOKEN, which a URL names, is not set"
            ),
        );
        assert!(run.stdout.is_empty(), "{}", run.stdout);
        assert!(run.stderr.contains("its value is never printed"), "{}", run.stderr);
    }
    assert!(sandbox.endpoints().is_empty() && !sandbox.is_enabled());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_files_are_wrong_usage_with_their_line_and_column() {
    let sandbox = sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[endpoints.Payment]\nurl = \"https://hooks.example.com/x\"\nstauts = \"paused\"\n",
            "line 3, column 1: unknown field `stauts`, expected `url` or `status`",
        ),
        (
            "[endpoints.Loans]\nurl = \"https://hooks.example.com/x\"\n",
            "line 1, column 12: `Loans` is not a webhook event type",
        ),
        (
            "[endpoints.Payment]\nurl = \"http://hooks.example.com/x\"\n",
            "line 2, column 7: the Payment endpoint: the endpoint URL `http://hooks.example.com/<redacted>` uses plain http",
        ),
        ("[endpoints.Payment\n", "line 1, column"),
    ];
    for (text, says) in cases {
        let file = write(dir.path(), text);
        let run = on(&sandbox, &["plan", "-f", &file]).await;
        run.assert_error(2, &format!("{file}: {says}"));
    }
    let missing = dir.path().join("nowhere.toml");
    let run = on(&sandbox, &["apply", "-f", missing.to_str().unwrap()]).await;
    run.assert_error(2, "cannot read");
    assert!(run.stderr.contains("-f PATH"), "{}", run.stderr);
    assert!(sandbox.endpoints().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_file_can_come_from_standard_input() {
    let sandbox = sandbox().await;
    let token = sandbox.token().expose_secret().to_owned();
    let base_url = sandbox.base_url();
    let text = format!("[endpoints.Payment]\nurl = \"{}\"\n", url());
    let run = crate::run_with_input(
        &["webhooks", "--base-url", &base_url, "apply", "-f", "-", "--json"],
        &[("CXTN_ACCESS_TOKEN", token.as_str())],
        Some(text.as_bytes()),
    )
    .await;
    run.assert_code(0);
    assert_eq!(run.json()["applied"].as_array().unwrap().len(), 2);
    assert_eq!(
        endpoints(&sandbox),
        [("Payment".to_owned(), url(), "Active".to_owned())]
    );
}

/// An API on 127.0.0.1:0 that answers each request with the next scripted `(status, body)` (status 0: it closes
/// the connection without an answer), and records each request's first line.
async fn scripted(answers: Vec<(u16, Value)>) -> (String, tokio::task::JoinHandle<Vec<String>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}/api/", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut seen = Vec::new();
        for (status, body) in answers {
            let (mut stream, _) = listener.accept().await.unwrap();
            let request = crate::read_request(&mut stream)
                .await
                .expect("the client closed the connection early");
            seen.push(request.lines().next().unwrap_or_default().to_owned());
            if status == 0 {
                // No answer: the connection closes.
                drop(stream);
                continue;
            }
            let body = body.to_string();
            let answer = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(answer.as_bytes()).await.unwrap();
            stream.shutdown().await.unwrap();
        }
        seen
    });
    (base_url, task)
}

fn model(fields: Value) -> Value {
    json!({"Content": {"Model": fields}})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refusal_halfway_exits_1_with_what_was_and_was_not_applied() {
    let valid = json!({"ApiStatusCode": 100, "ApiStatus": "IsValid", "ApiStatusDescription": "Valid Operation"});
    let mut listed = valid.clone();
    listed["Endpoints"] = json!([
        {"WebhookEventType": "AccountTransaction", "EndpointUrl": "https://old.example.com/cxtn/x", "Status": "Paused"}
    ]);
    let answers = vec![
        (200, model(listed)),
        (200, model(valid)),
        (
            400,
            model(
                json!({"ApiStatusCode": 1003, "ApiStatus": "EndpointNotFound", "ApiStatusDescription": "no endpoint exists for AccountTransaction"}),
            ),
        ),
    ];
    for json_flag in [false, true] {
        let (base_url, task) = scripted(answers.clone()).await;
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), FILE);
        let mut args = vec!["apply", "-f", file.as_str()];
        if json_flag {
            args.push("--json");
        }
        let run = cxtn(&base_url, "scripted-access-token", &args).await;
        run.assert_code(1);
        assert!(
            run.stderr.contains("no endpoint exists for AccountTransaction"),
            "{}",
            run.stderr
        );
        assert_eq!(
            task.await.unwrap(),
            [
                "GET /api/webhooks/endpoints HTTP/1.1",
                "POST /api/webhooks/endpoints HTTP/1.1",
                "PUT /api/webhooks/endpoints HTTP/1.1",
            ]
        );
        if json_flag {
            let report = run.json();
            assert_eq!(report["ok"], false);
            assert_eq!(
                summary(&report["applied"]),
                ["create Payment http://127.0.0.1:8080/<redacted>"]
            );
            assert_eq!(report["failed"]["action"], "edit");
            assert_eq!(
                summary(&report["notApplied"]),
                [
                    "edit AccountTransaction https://old.example.com/<redacted>->http://127.0.0.1:8080/<redacted>",
                    "status Payment null->Active",
                ]
            );
            assert!(
                report["error"].as_str().unwrap().contains("EndpointNotFound"),
                "{report}"
            );
        } else {
            assert_eq!(
                run.stdout,
                format!(
                    "Applied 1 of 3 changes on {base_url}, then a call failed:\n  \
                     + create Payment at http://127.0.0.1:8080/<redacted>\n  \
                     failed: ~ edit AccountTransaction: https://old.example.com/<redacted> -> http://127.0.0.1:8080/<redacted>\n  \
                     not attempted: ~ status Payment: Active (new endpoint)\n"
                )
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_create_without_an_answer_says_it_may_have_been_made() {
    let valid = json!({"ApiStatusCode": 100, "ApiStatus": "IsValid", "ApiStatusDescription": "Valid Operation"});
    let mut listed = valid.clone();
    listed["Endpoints"] = json!([]);
    let (base_url, task) = scripted(vec![(200, model(listed)), (0, Value::Null)]).await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), FILE);
    let run = cxtn(&base_url, "scripted-access-token", &["apply", "-f", &file, "--json"]).await;
    run.assert_code(1);
    assert_eq!(
        task.await.unwrap().len(),
        2,
        "a create is not sent again after it may have arrived"
    );
    let report = run.json();
    assert_eq!(report["failed"]["action"], "create");
    assert_eq!(report["applied"], json!([]));
    assert_eq!(report["notApplied"].as_array().unwrap().len(), 4);
    assert!(
        run.stderr.contains("CXTN may have made it; `cxtn webhooks plan -f "),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_url_cxtn_lists_is_printed_with_no_part_of_its_path() {
    let valid = json!({"ApiStatusCode": 100, "ApiStatus": "IsValid", "ApiStatusDescription": "Valid Operation"});
    let mut listed = valid.clone();
    // Backslashes, which a URL reads as slashes: the path token is after the first one.
    listed["Endpoints"] = json!([
        {"WebhookEventType": "Payment", "EndpointUrl": "https://hooks.example.com\\cxtn\\l1sted-s3cret", "Status": "Active"}
    ]);
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "[endpoints.Payment]\nurl = \"https://hooks.example.com/cxtn/new\"\n",
    );
    for json_flag in [false, true] {
        let (base_url, task) = scripted(vec![(200, model(listed.clone()))]).await;
        let mut args = vec!["plan", "-f", file.as_str()];
        if json_flag {
            args.push("--json");
        }
        let run = cxtn(&base_url, "scripted-access-token", &args).await;
        run.assert_code(3);
        task.await.unwrap();
        assert!(
            !run.stdout.contains("s3cret") && !run.stderr.contains("s3cret"),
            "{run:?}"
        );
        assert!(
            run.stdout.contains("https://hooks.example.com/<redacted>"),
            "{}",
            run.stdout
        );
    }
}
