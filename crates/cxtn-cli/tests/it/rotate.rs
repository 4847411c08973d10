//! Rotating the path token without downtime: `cxtn listen` reads its token file again on SIGHUP, and
//! `cxtn webhooks rotate` moves an endpoint to a new token while the sandbox delivers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cxtn::WebhookEventType;
use cxtn::receiver::{EventFilter, Inbox, SqliteInbox};
use cxtn::sandbox::Trigger;
use serde_json::json;
use tokio::io::AsyncReadExt as _;

use crate::{Background, eventually, post_raw, sandbox, webhooks};

const OLD: &str = "oldTokenOldTokenOldTokenOldToken";
const NEW: &str = "newTokenNewTokenNewTokenNewToken_and_longer";
const OTHER: &str = "otherTokenOtherTokenOtherToken00";

const BODY: &str = r#"{"eventId":"wh_rotate_1","event":"payment_completed","subscription":"Payment","data":{"objectId":1,"userId":"C1","amount":10.00,"currency":"GBP"}}"#;

/// Starts `cxtn listen -v --json --path-token-file FILE` on a free port; the process, its address, and its stderr.
async fn listen_with_file(db: &str, file: &str) -> (Background, String, tokio::task::JoinHandle<String>) {
    let mut listen = Background::spawn(
        &[
            "listen",
            "--addr",
            "127.0.0.1:0",
            "--db",
            db,
            "--json",
            "-v",
            "--path-token-file",
            file,
        ],
        &[],
    );
    let mut stderr = listen.child.stderr.take().unwrap();
    let stderr = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let first = listen.json_line().await;
    assert_eq!(first["type"], json!("listening"), "{first}");
    assert_eq!(first["auth"], json!(["path_token"]));
    (listen, first["addr"].as_str().unwrap().to_owned(), stderr)
}

/// The status a POST with `token` gets.
async fn status(addr: &str, token: &str) -> u16 {
    post_raw(&format!("http://{addr}/cxtn/{token}"), BODY).await
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_reads_the_token_file_again_and_a_bad_file_keeps_the_tokens_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let file = dir.path().join("path-tokens");
    std::fs::write(&file, format!("# the receiver's tokens\n{OLD}\n")).unwrap();
    let (listen, addr, stderr) = listen_with_file(db.to_str().unwrap(), file.to_str().unwrap()).await;
    assert_eq!(status(&addr, OLD).await, 200);
    assert_eq!(status(&addr, NEW).await, 401);

    // Both tokens, with a blank line and a comment: both accepted once the receiver has read the file.
    std::fs::write(
        &file,
        format!("# the receiver's tokens\n\n{OLD}\n  # the new one\n{NEW}\n"),
    )
    .unwrap();
    listen.signal("HUP");
    let a = addr.clone();
    eventually("the new token accepted", || {
        let a = a.clone();
        async move { status(&a, NEW).await == 200 }
    })
    .await;
    assert_eq!(status(&addr, OLD).await, 200);
    assert_eq!(status(&addr, OTHER).await, 401);

    // A file that became empty, holds a bad or short token, or is gone keeps the tokens in use.
    for bad in [
        Some("# nothing but a comment\n\n".to_owned()),
        Some(format!("{NEW}\nhas/slash-has/slash-has/slash-has\n")),
        Some(format!("{NEW}\nshort\n")),
        None,
    ] {
        match &bad {
            Some(text) => std::fs::write(&file, text).unwrap(),
            None => std::fs::remove_file(&file).unwrap(),
        }
        listen.signal("HUP");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(status(&addr, OLD).await, 200, "{bad:?}");
        assert_eq!(status(&addr, NEW).await, 200, "{bad:?}");
    }

    // The old token leaves the file: refused from then on.
    std::fs::write(&file, format!("{NEW}\n")).unwrap();
    listen.signal("HUP");
    let a = addr.clone();
    eventually("the old token refused", || {
        let a = a.clone();
        async move { status(&a, OLD).await == 401 }
    })
    .await;
    assert_eq!(status(&addr, NEW).await, 200);

    let (code, _) = listen.interrupt().await;
    assert_eq!(code, 0);
    let stderr = stderr.await.unwrap();
    assert!(
        stderr.contains("2 path tokens and 0 Basic credentials are accepted"),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 path tokens and 0 Basic credentials are accepted"),
        "{stderr}"
    );
    assert!(stderr.contains("is empty"), "{stderr}");
    assert!(stderr.contains("on line 2"), "{stderr}");
    assert!(stderr.contains("is too short"), "{stderr}");
    assert!(stderr.contains("cannot read the file"), "{stderr}");
    assert!(
        stderr.contains("the 2 path tokens and 0 Basic credentials in use stay"),
        "{stderr}"
    );
    for secret in [OLD, NEW, "has/slash", "short\n"] {
        assert!(!stderr.contains(secret), "{secret} in {stderr}");
    }
}

/// The last token line of a token file.
fn last_token(file: &std::path::Path) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    text.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn rotate_moves_the_endpoint_to_a_new_token_while_deliveries_flow_and_none_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let file = dir.path().join("path-tokens");
    std::fs::write(&file, format!("{OLD}\n")).unwrap();
    let (listen, addr, stderr) = listen_with_file(db.to_str().unwrap(), file.to_str().unwrap()).await;
    let pid = listen.child.id().unwrap().to_string();

    let sandbox = Arc::new(sandbox().await);
    sandbox.enable_webhooks().unwrap();
    let old_url = format!("http://{addr}/cxtn/{OLD}");
    sandbox.create_endpoint(WebhookEventType::Payment, &old_url).unwrap();
    sandbox
        .create_endpoint(WebhookEventType::AccountTransaction, &old_url)
        .unwrap();

    // Deliveries flow the whole time: a payment every 10 ms, and an account credit beside it.
    let stop = Arc::new(AtomicBool::new(false));
    let triggering = {
        let (sandbox, stop) = (sandbox.clone(), stop.clone());
        tokio::spawn(async move {
            let mut sent = 0_usize;
            while !stop.load(Ordering::SeqCst) {
                sandbox.trigger(Trigger::new("payment_completed")).await.unwrap();
                sandbox.trigger(Trigger::new("account_credit")).await.unwrap();
                sent += 2;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            sent
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    let template = format!("http://{addr}/cxtn/{{token}}");
    let run = webhooks(
        &sandbox,
        &[
            "rotate",
            "--event-type",
            "Payment",
            "--url-template",
            &template,
            "--path-token-file",
            file.to_str().unwrap(),
            "--reload-pid",
            &pid,
            "--timeout",
            "20s",
            "--json",
        ],
    )
    .await;
    run.assert_code(0);
    let rotated = run.json();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let sent = triggering.await.unwrap();

    let new = last_token(&file);
    assert_ne!(new, OLD);
    assert_eq!(new.len(), 43, "32 random bytes in URL-safe base64");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with(&format!("{OLD}\n# sha256:")),
        "the old line is kept: {text}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let fingerprint = rotated["newToken"].as_str().unwrap().to_owned();
    assert!(
        text.contains(&format!("# {fingerprint} added by cxtn webhooks rotate for Payment")),
        "{text}"
    );
    assert_eq!(rotated["operation"], json!("rotate"));
    assert_eq!(rotated["eventType"], json!("Payment"));
    assert_eq!(rotated["url"], json!(format!("http://{addr}/<redacted>")));
    assert_eq!(rotated["oldTokenInFile"], json!(true));
    assert_eq!(rotated["oldTokenUsedBy"], json!(["AccountTransaction"]));
    assert_eq!(rotated["sighupSentTo"], json!(listen.child.id().unwrap()));
    assert_eq!(rotated["retireAfterSeconds"], json!(3 * 24 * 3600));
    let old_fingerprint = rotated["oldToken"].as_str().unwrap();
    assert!(
        old_fingerprint.starts_with("sha256:") && old_fingerprint.len() == 15,
        "{rotated}"
    );
    assert_ne!(old_fingerprint, fingerprint);
    assert!(rotated["removeOldAfter"].as_str().unwrap().ends_with('Z'), "{rotated}");

    // The endpoint now uses the new token; the other one still the old.
    let endpoints = sandbox.endpoints();
    let url_of = |kind: WebhookEventType| {
        endpoints
            .iter()
            .find(|e| e.event_type == kind)
            .unwrap()
            .endpoint_url
            .as_str()
            .to_owned()
    };
    assert_eq!(url_of(WebhookEventType::Payment), format!("http://{addr}/cxtn/{new}"));
    assert_eq!(url_of(WebhookEventType::AccountTransaction), old_url);

    // Every delivery was accepted at its first attempt: nothing was refused at any moment.
    sandbox.wait_until_settled(Duration::from_secs(20)).await.unwrap();
    let deliveries = sandbox.deliveries();
    assert_eq!(deliveries.len(), sent, "one delivery per notification");
    assert!(sent >= 20, "deliveries flowed during the rotation: {sent}");
    for delivery in &deliveries {
        assert!(
            delivery.outcome.is_delivered() && delivery.attempts == 1 && delivery.last_status == Some(200),
            "{delivery:?}"
        );
    }
    let (code, _) = listen.interrupt().await;
    assert_eq!(code, 0);
    let inbox = SqliteInbox::open(&db).unwrap();
    let stored = inbox.events(EventFilter::all().limit(10_000)).await.unwrap();
    assert_eq!(stored.len(), sent, "every notification is in the inbox");

    let stderr = stderr.await.unwrap();
    for output in [&run.stdout, &run.stderr, &stderr] {
        assert!(
            !output.contains(&new) && !output.contains(OLD),
            "a token was printed: {output}"
        );
    }
    assert!(run.stderr.contains("Sent SIGHUP to process"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn rotate_changes_nothing_when_the_receiver_never_accepts_the_new_token() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let file = dir.path().join("path-tokens");
    std::fs::write(&file, format!("{OLD}\n")).unwrap();
    let (listen, addr, _stderr) = listen_with_file(db.to_str().unwrap(), file.to_str().unwrap()).await;
    let sandbox = sandbox().await;
    sandbox.enable_webhooks().unwrap();
    let old_url = format!("http://{addr}/cxtn/{OLD}");
    sandbox.create_endpoint(WebhookEventType::Payment, &old_url).unwrap();

    let template = format!("http://{addr}/cxtn/{{token}}");
    let file_arg = file.to_str().unwrap();
    let args = [
        "rotate",
        "--event-type",
        "Payment",
        "--url-template",
        &template,
        "--path-token-file",
        file_arg,
        "--timeout",
        "1s",
    ];
    let run = webhooks(&sandbox, &args).await;
    run.assert_code(1);
    assert!(
        run.stderr.contains("error: the receiver did not accept the new token"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("Send SIGHUP to the receiver"), "{}", run.stderr);
    assert!(run.stderr.contains("HTTP 401"), "{}", run.stderr);
    assert!(run.stderr.contains("The endpoint was not changed"), "{}", run.stderr);
    assert_eq!(sandbox.endpoints()[0].endpoint_url.as_str(), old_url);
    let new = last_token(&file);
    assert_ne!(new, OLD, "the new token stays in the file");
    assert!(!run.stderr.contains(&new));

    // Wrong usage: exit 2, the file untouched.
    let before = std::fs::read_to_string(&file).unwrap();
    for (bad, mentions) in [
        (
            [
                "--url-template",
                "http://127.0.0.1:1/cxtn/static",
                "--path-token-file",
                file_arg,
            ],
            "{token} exactly once",
        ),
        (
            [
                "--url-template",
                "https://hooks.example.com/{token}/x",
                "--path-token-file",
                file_arg,
            ],
            "must end its path with {token}",
        ),
        (
            ["--url-template", &template, "--path-token-file", "/nonexistent/tokens"],
            "cannot read the file /nonexistent/tokens",
        ),
    ] {
        let mut args = vec!["rotate", "--event-type", "Payment"];
        args.extend_from_slice(&bad);
        webhooks(&sandbox, &args).await.assert_error(2, mentions);
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);

    // No endpoint to rotate: exit 1, the file untouched.
    let run = webhooks(
        &sandbox,
        &[
            "rotate",
            "--event-type",
            "AccountTransaction",
            "--url-template",
            &template,
            "--path-token-file",
            file_arg,
        ],
    )
    .await;
    run.assert_error(1, "the AccountTransaction endpoint does not exist");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
    let (code, _) = listen.interrupt().await;
    assert_eq!(code, 0);
}

/// An API on 127.0.0.1:0 that answers each request with the next scripted body, after calling `before` with the
/// request's first line; and a receiver that answers every request 405, as one that accepts any token does.
async fn scripted_api_and_receiver(
    answers: Vec<serde_json::Value>,
    before: impl Fn(&str) + Send + 'static,
) -> (String, String, tokio::task::JoinHandle<Vec<String>>) {
    use tokio::io::AsyncWriteExt as _;

    async fn read_request(stream: &mut tokio::net::TcpStream) -> String {
        let request = crate::read_request(stream)
            .await
            .expect("the client closed the connection early");
        request.lines().next().unwrap_or_default().to_owned()
    }

    let api = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}/api/", api.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut seen = Vec::new();
        for body in answers {
            let (mut stream, _) = api.accept().await.unwrap();
            let line = read_request(&mut stream).await;
            before(&line);
            seen.push(line);
            let body = body.to_string();
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(answer.as_bytes()).await.unwrap();
            stream.shutdown().await.unwrap();
        }
        seen
    });
    let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver_url = format!("http://{}/cxtn", receiver.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = receiver.accept().await.unwrap();
            read_request(&mut stream).await;
            let _ = stream
                .write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
        }
    });
    (base_url, receiver_url, task)
}

/// Runs `cxtn webhooks rotate` for the Payment endpoint, listed at `listed_url`, with `template` and `extra` flags,
/// against a scripted API (the list, then the edit) and a receiver that accepts any token; `before` runs on each
/// request line the API reads. Returns the run and the API's request lines.
async fn rotate_scripted(
    file: &std::path::Path,
    listed_url: &str,
    template: &str,
    extra: &[&str],
    before: impl Fn(&str) + Send + 'static,
) -> (crate::Run, Vec<String>) {
    let valid = json!({"ApiStatusCode": 100, "ApiStatus": "IsValid", "ApiStatusDescription": "Valid Operation"});
    let mut listed = valid.clone();
    listed["Endpoints"] = json!([{"WebhookEventType": "Payment", "EndpointUrl": listed_url, "Status": "Active"}]);
    let (base_url, receiver_url, task) = scripted_api_and_receiver(
        vec![
            json!({"Content": {"Model": listed}}),
            json!({"Content": {"Model": valid}}),
        ],
        before,
    )
    .await;
    let mut args = vec![
        "webhooks",
        "--base-url",
        &base_url,
        "rotate",
        "--event-type",
        "Payment",
        "--url-template",
        template,
        "--path-token-file",
        file.to_str().unwrap(),
        "--receiver-url",
        &receiver_url,
    ];
    args.extend_from_slice(extra);
    let run = crate::run(&args, &[("CXTN_ACCESS_TOKEN", "scripted-access-token")]).await;
    (run, task.await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_written_to_the_file_while_rotate_runs_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("path-tokens");
    std::fs::write(&file, format!("{OLD}\n")).unwrap();
    // While rotate reads the endpoints, another rotation (or a person) adds a token to the file.
    let written = file.clone();
    let (run, requests) = rotate_scripted(
        &file,
        &format!("http://127.0.0.1:9/cxtn/{OLD}"),
        "http://127.0.0.1:9/cxtn/{token}",
        &["--timeout", "10s"],
        move |line| {
            if line.starts_with("GET ") {
                std::fs::write(&written, format!("{OLD}\n# added meanwhile\n{OTHER}\n")).unwrap();
            }
        },
    )
    .await;
    run.assert_code(0);
    assert_eq!(
        requests,
        [
            "GET /api/webhooks/endpoints HTTP/1.1",
            "PUT /api/webhooks/endpoints HTTP/1.1"
        ]
    );
    let text = std::fs::read_to_string(&file).unwrap();
    let new = last_token(&file);
    assert!(
        text.starts_with(&format!("{OLD}\n# added meanwhile\n{OTHER}\n# sha256:")),
        "every token in the file is kept: {text}"
    );
    assert!(text.ends_with(&format!("{new}\n")), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endpoint_without_a_path_token_has_no_old_token_to_remove() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("path-tokens");
    std::fs::write(&file, format!("{OLD}\n")).unwrap();
    let (run, requests) = rotate_scripted(
        &file,
        "http://127.0.0.1:9/",
        "http://127.0.0.1:9/cxtn/{token}",
        &[],
        |_| {},
    )
    .await;
    run.assert_code(0);
    assert_eq!(requests.len(), 2);
    let last = run.stdout.lines().last().unwrap();
    assert_eq!(
        last, "The old URL had no path token, so there is no old token to remove.",
        "{}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_template_with_backslashes_prints_no_token() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("path-tokens");
    std::fs::write(&file, format!("{OLD}\n")).unwrap();
    // A URL reads a `\` as a `/`, so the token is the last path segment, but no `/` comes before it.
    let (run, requests) = rotate_scripted(
        &file,
        &format!("http://127.0.0.1:9/cxtn/{OLD}"),
        "http://127.0.0.1:9\\cxtn\\{token}",
        &["--json"],
        |_| {},
    )
    .await;
    run.assert_code(0);
    assert_eq!(requests.len(), 2);
    let new = last_token(&file);
    assert!(
        !run.stdout.contains(&new) && !run.stderr.contains(&new),
        "the new token was printed: {run:?}"
    );
    assert_eq!(run.json()["url"], json!("http://127.0.0.1:9/<redacted>"));
}
