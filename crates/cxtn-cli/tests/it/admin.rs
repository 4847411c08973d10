//! `cxtn listen --admin-addr`: health, readiness and metrics beside the receiver.

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::{Background, TOKEN, memory_receiver, run};

const ADMIN_TOKEN: &str = "cli-adm1n-t0ken-0123456789abcdef";

/// GETs `path` on `addr`, with `authorization` when given; the status and the body.
async fn get(addr: &str, path: &str, authorization: Option<&str>) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let authorization = authorization.map_or_else(String::new, |value| format!("authorization: {value}\r\n"));
    let request = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\n{authorization}connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let status = answer.split(' ').nth(1).unwrap().parse().unwrap();
    let body = answer.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

/// Starts `cxtn listen --json` with `extra`; the process and its first line.
async fn listen(db: &str, extra: &[&str], envs: &[(&str, &str)]) -> (Background, Value) {
    let mut args = vec!["listen", "--addr", "127.0.0.1:0", "--db", db, "--json"];
    args.extend_from_slice(extra);
    let mut envs = envs.to_vec();
    envs.push(("CXTN_PATH_TOKEN", TOKEN));
    let mut listen = Background::spawn(&args, &envs);
    let first = listen.json_line().await;
    assert_eq!(first["type"], json!("listening"), "{first}");
    (listen, first)
}

/// The value of the sample written `series` in a metrics text.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter_map(|line| line.rsplit_once(' '))
        .find(|(name, _)| *name == series)
        .map(|(_, value)| value.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_listener_serves_health_readiness_and_metrics() {
    let (_app_inbox, _app, app_url) = memory_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let db = db.to_str().unwrap();
    let token_file = dir.path().join("admin-token");
    std::fs::write(&token_file, format!("{ADMIN_TOKEN}\n")).unwrap();
    let (mut listen, first) = listen(
        db,
        &[
            "--admin-addr",
            "127.0.0.1:0",
            "--admin-token-file",
            token_file.to_str().unwrap(),
            "--forward-to",
            &app_url,
        ],
        &[],
    )
    .await;
    let admin = first["adminAddr"].as_str().unwrap().to_owned();
    assert_ne!(admin, first["addr"].as_str().unwrap());
    let bearer = format!("Bearer {ADMIN_TOKEN}");

    assert_eq!(
        get(&admin, "/healthz", None).await,
        (200, r#"{"status":"ok"}"#.to_owned())
    );
    assert_eq!(get(&admin, "/readyz", None).await.0, 401, "the token is required");
    assert_eq!(
        get(&admin, "/readyz", Some(&bearer)).await,
        (200, r#"{"status":"ready"}"#.to_owned())
    );
    assert_eq!(get(&admin, "/metrics", None).await.0, 401);

    let url = format!("http://{}/cxtn/{TOKEN}", first["addr"].as_str().unwrap());
    run(&["trigger", "funds_in", "--to", &url], &[]).await.assert_code(0);
    let mut types = Vec::new();
    for _ in 0..2 {
        types.push(listen.json_line().await["type"].as_str().unwrap().to_owned());
    }
    types.sort();
    assert_eq!(types, ["arrival", "forward"]);

    // The forward's line is printed before its outcome is recorded.
    let processed = r#"cxtn_receiver_handler_outcomes_total{outcome="processed"}"#;
    let (mut status, mut text) = get(&admin, "/metrics", Some(&bearer)).await;
    for _ in 0..500 {
        if sample(&text, processed) == Some(1.0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        (status, text) = get(&admin, "/metrics", Some(&bearer)).await;
    }
    assert_eq!(status, 200, "{text}");
    assert_eq!(
        sample(&text, r#"cxtn_receiver_deliveries_total{outcome="stored"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(sample(&text, "cxtn_forward_attempts_total"), Some(1.0), "{text}");
    assert_eq!(sample(&text, "cxtn_forward_failures_total"), Some(0.0), "{text}");
    assert_eq!(sample(&text, processed), Some(1.0), "{text}");
    assert!(!text.contains(ADMIN_TOKEN) && !text.contains(TOKEN));

    let (code, _) = listen.interrupt().await;
    assert_eq!(code, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_listener_is_off_unless_asked_and_takes_its_token_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let db = db.to_str().unwrap();
    let (listen_plain, first) = listen(db, &[], &[]).await;
    assert_eq!(first.get("adminAddr"), None, "no admin listener by default: {first}");
    let (code, _) = listen_plain.interrupt().await;
    assert_eq!(code, 0);

    let (listen_env, first) = listen(
        db,
        &["--admin-addr", "127.0.0.1:0"],
        &[("CXTN_ADMIN_TOKEN", ADMIN_TOKEN)],
    )
    .await;
    let admin = first["adminAddr"].as_str().unwrap().to_owned();
    assert_eq!(get(&admin, "/metrics", None).await.0, 401);
    let (status, text) = get(&admin, "/metrics", Some(&format!("Bearer {ADMIN_TOKEN}"))).await;
    assert_eq!(status, 200);
    assert!(text.contains("# TYPE cxtn_receiver_deliveries_total counter"), "{text}");
    let (code, _) = listen_env.interrupt().await;
    assert_eq!(code, 0);

    run(
        &["listen", "--db", db, "--admin-token-file", "/nonexistent"],
        &[("CXTN_PATH_TOKEN", TOKEN)],
    )
    .await
    .assert_error(2, "--admin-addr");
}
