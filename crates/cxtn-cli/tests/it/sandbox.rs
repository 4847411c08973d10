//! `cxtn sandbox` as a child process, driven by the other commands.

use serde_json::json;

use crate::{Background, run};

#[tokio::test(flavor = "multi_thread")]
async fn serves_the_management_api_until_ctrl_c() {
    let mut sandbox = Background::spawn(&["sandbox", "--addr", "127.0.0.1:0", "--json"], &[]);
    let started = sandbox.json_line().await;
    assert_eq!(started["type"], json!("started"));
    let addr = started["addr"].as_str().unwrap();
    let base_url = started["baseUrl"].as_str().unwrap();
    let token = started["token"].as_str().unwrap();
    assert_eq!(base_url, format!("http://{addr}/api/"));
    assert!(token.starts_with("sbx_"), "{token}");
    assert_eq!(
        started["routes"],
        json!({"health": format!("http://{addr}/sandbox/health"),
               "trigger": format!("http://{addr}/sandbox/trigger"),
               "deliveries": format!("http://{addr}/sandbox/deliveries")})
    );

    let env = [("CXTN_BASE_URL", base_url), ("CXTN_ACCESS_TOKEN", token)];
    run(&["webhooks", "enable"], &env).await.assert_code(0);
    run(
        &[
            "webhooks",
            "create",
            "--event-type",
            "Payment",
            "--url",
            "https://example.com/h",
        ],
        &env,
    )
    .await
    .assert_code(0);
    let listed = run(&["webhooks", "list", "--json"], &env).await;
    assert_eq!(listed.assert_code(0).json()[0]["eventType"], json!("Payment"));

    let (code, rest) = sandbox.interrupt().await;
    assert_eq!(code, 0, "{rest}");
    assert_eq!(rest, "{\"type\":\"stopped\"}\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn prints_its_url_token_and_routes_for_people() {
    let mut sandbox = Background::spawn(
        &["sandbox", "--addr", "127.0.0.1:0", "--retry-ms", "10,20"],
        &[("CXTN_SANDBOX_TOKEN", "sbx_given")],
    );
    let first = sandbox.line().await;
    assert!(
        first.starts_with("LOCAL SIMULATOR of CXTN running on 127.0.0.1:"),
        "{first}"
    );
    assert!(
        first.ends_with("(not CXTN's hosted sandbox: nothing here reaches CXTN)"),
        "{first}"
    );
    let mut lines = Vec::new();
    for _ in 0..5 {
        lines.push(sandbox.line().await);
    }
    assert!(lines[0].starts_with("base URL    http://127.0.0.1:"), "{lines:?}");
    assert_eq!(lines[1], "token       sbx_given");
    assert!(lines[2].starts_with("health      GET  http://"), "{lines:?}");
    assert!(lines[3].starts_with("trigger     POST http://"), "{lines:?}");
    assert!(lines[4].starts_with("deliveries  GET  http://"), "{lines:?}");
    let (code, rest) = sandbox.interrupt().await;
    assert_eq!(code, 0);
    assert!(rest.ends_with("Stopped.\n"), "{rest}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_taken_port_fails_with_exit_1() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let run = run(&["sandbox", "--addr", &addr], &[]).await;
    run.assert_error(1, "could not listen on");

    let run = crate::run(&["sandbox", "--addr", "127.0.0.1:0"], &[("CXTN_SANDBOX_TOKEN", " ")]).await;
    run.assert_error(2, "the simulator's token (--token or CXTN_SANDBOX_TOKEN) is empty");
    assert!(!run.stderr.contains("open()"), "{}", run.stderr);
}

/// The README's tour, command for command, on free ports: `cxtn sandbox`, `cxtn listen`, `cxtn webhooks ensure`,
/// `cxtn trigger` through the simulator, `cxtn inbox list`.
#[tokio::test(flavor = "multi_thread")]
async fn the_tour_runs_as_the_readme_writes_it() {
    let mut sandbox = Background::spawn(&["sandbox", "--addr", "127.0.0.1:0", "--json"], &[]);
    let started = sandbox.json_line().await;
    let base_url = started["baseUrl"].as_str().unwrap().to_owned();
    let access_token = started["token"].as_str().unwrap().to_owned();

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cxtn-inbox.sqlite");
    let db = db.to_str().unwrap();
    // Every command of the tour runs with the variables the tour exports.
    let env = [
        ("CXTN_BASE_URL", base_url.as_str()),
        ("CXTN_ACCESS_TOKEN", access_token.as_str()),
        ("CXTN_PATH_TOKEN", crate::TOKEN),
        ("CXTN_INBOX", db),
    ];
    let mut listen = Background::spawn(&["listen", "--addr", "127.0.0.1:0", "--json"], &env);
    let listening = listen.json_line().await;
    assert_eq!(listening["type"], json!("listening"), "{listening}");
    let endpoint = format!("http://{}/cxtn/{}", listening["addr"].as_str().unwrap(), crate::TOKEN);

    run(
        &[
            "webhooks",
            "ensure",
            "--event-type",
            "AccountTransaction",
            "--url",
            &endpoint,
        ],
        &env,
    )
    .await
    .assert_code(0);
    let triggered = run(
        &["trigger", "account_credit", "--set", "amount=1000.00", "--duplicate"],
        &env,
    )
    .await;
    triggered.assert_code(0);
    let lines: Vec<&str> = triggered.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", triggered.stdout);
    assert!(
        lines[0].contains("sending to the AccountTransaction endpoint (deliveries 1, 2)"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with("200  wh_") && lines[1].contains("delivered to"),
        "{}",
        lines[1]
    );
    assert!(lines[2].ends_with("(duplicate)"), "{}", lines[2]);
    assert_eq!(
        lines[3],
        "The simulator delivered 2 of 2: 0 held, 0 failed, 0 still being retried, 0 not sent."
    );
    assert_eq!(listen.json_line().await["outcome"], json!("stored"));
    assert_eq!(listen.json_line().await["outcome"], json!("duplicate"));

    let listed = run(&["inbox", "list", "--json"], &env).await;
    let events = listed.assert_code(0).json();
    assert_eq!(events.as_array().unwrap().len(), 1, "{events}");
    assert_eq!(events[0]["deliveries"], json!(2), "{events}");

    let (code, _) = listen.interrupt().await;
    assert_eq!(code, 0);
    let (code, _) = sandbox.interrupt().await;
    assert_eq!(code, 0);
}
