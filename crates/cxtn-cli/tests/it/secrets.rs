//! Secrets of `cxtn listen`: never printed, refused when too short, read from files or the environment,
//! and a warning when a flag puts one in the process list.

use serde_json::json;

use crate::logs::stderr_of;
use crate::{Background, TOKEN, run};

/// The PostgreSQL server the tests use, with a password in its URL (the local server trusts loopback, so any
/// password connects); the URL and the password.
fn postgres_url_with_password() -> (String, String) {
    let url = std::env::var("CXTN_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let (scheme, rest) = url.split_once("://").unwrap();
    let (userinfo, host) = rest.split_once('@').unwrap();
    match userinfo.split_once(':') {
        Some((_, password)) => (url.clone(), password.to_owned()),
        None => {
            let password = "Pa55-never-printed".to_owned();
            (format!("{scheme}://{userinfo}:{password}@{host}"), password)
        }
    }
}

fn schema() -> String {
    format!(
        "cxtn_cli_{}",
        std::iter::repeat_with(fastrand::lowercase).take(10).collect::<String>()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_password_is_never_printed() {
    let (url, password) = postgres_url_with_password();
    let schema = schema();
    for json in [true, false] {
        let mut args = vec!["listen", "--addr", "127.0.0.1:0", "--db", &url, "--schema", &schema];
        if json {
            args.push("--json");
        }
        let mut listen = Background::spawn(&args, &[("CXTN_PATH_TOKEN", TOKEN)]);
        let stderr = stderr_of(&mut listen);
        let first = listen.line().await;
        let mut stdout = first.clone();
        if json {
            let first: serde_json::Value = serde_json::from_str(&first).unwrap();
            let inbox = first["inbox"].as_str().unwrap();
            assert!(inbox.starts_with("postgres"), "{inbox}");
            assert!(inbox.contains(":<redacted>@"), "{inbox}");
        } else {
            for _ in 0..3 {
                stdout.push_str(&listen.line().await);
            }
            assert!(stdout.contains(":<redacted>@"), "{stdout}");
        }
        let (code, rest) = listen.interrupt().await;
        assert_eq!(code, 0, "{rest}");
        stdout.push_str(&rest);
        if !json {
            assert!(
                rest.starts_with("Stopped. Everything received is in postgres"),
                "{rest}"
            );
            assert!(rest.contains(":<redacted>@"), "{rest}");
        }
        let stderr = stderr.await.unwrap();
        assert!(
            stderr.contains("--db holds a secret") && stderr.contains("(ps)"),
            "a password on the command line is warned about: {stderr}"
        );
        for output in [&stdout, &stderr] {
            assert!(!output.contains(&password), "the password was printed: {output}");
        }
    }
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_short_path_token_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let db = db.to_str().unwrap();
    let refused = run(
        &["listen", "--addr", "127.0.0.1:0", "--db", db],
        &[("CXTN_PATH_TOKEN", "short-token")],
    )
    .await;
    refused.assert_error(2, "the path token is too short (11 characters)");
    assert!(
        refused.stderr.contains("--allow-short-path-token"),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains("short-token"), "{}", refused.stderr);
    assert!(!std::path::Path::new(db).exists(), "no inbox is created");

    let mut allowed = Background::spawn(
        &[
            "listen",
            "--addr",
            "127.0.0.1:0",
            "--db",
            db,
            "--json",
            "--allow-short-path-token",
        ],
        &[("CXTN_PATH_TOKEN", "short-token")],
    );
    let stderr = stderr_of(&mut allowed);
    assert_eq!(allowed.json_line().await["auth"], json!(["path_token"]));
    let (code, _) = allowed.interrupt().await;
    assert_eq!(code, 0);
    assert!(
        stderr
            .await
            .unwrap()
            .contains("the path token is short (11 characters)")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_come_from_files_or_the_environment_and_flags_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let db = db.to_str().unwrap();
    let token_file = dir.path().join("path-token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let basic_file = dir.path().join("basic");
    std::fs::write(&basic_file, "cxtn:b4sic-s3cret\n").unwrap();
    let token_file = token_file.to_str().unwrap();
    let basic_file = basic_file.to_str().unwrap();

    let from_files = ["--path-token-file", token_file, "--basic-auth-file", basic_file];
    let from_variables = [
        ("CXTN_PATH_TOKEN_FILE", token_file),
        ("CXTN_BASIC_AUTH", "cxtn:b4sic-s3cret"),
    ];
    let flags = ["--path-token", TOKEN, "--basic-auth", "cxtn:b4sic-s3cret"];
    for (extra, envs, warned) in [
        (&from_files[..], &[][..], false),
        (&[][..], &from_variables[..], false),
        (&flags[..], &[][..], true),
    ] {
        let mut args = vec!["listen", "--addr", "127.0.0.1:0", "--db", db, "--json"];
        args.extend_from_slice(extra);
        let mut listen = Background::spawn(&args, envs);
        let stderr = stderr_of(&mut listen);
        let first = listen.json_line().await;
        assert_eq!(first["auth"], json!(["path_token", "basic"]), "{extra:?}");
        let addr = first["addr"].as_str().unwrap();
        let url = format!("http://cxtn:b4sic-s3cret@{addr}/cxtn/{TOKEN}");
        run(&["trigger", "account_credit", "--to", &url], &[])
            .await
            .assert_code(0);
        assert_eq!(listen.json_line().await["outcome"], json!("stored"), "{extra:?}");
        let wrong = format!("http://cxtn:wrong@{addr}/cxtn/{TOKEN}");
        let refused = run(&["trigger", "account_credit", "--to", &wrong, "--json"], &[]).await;
        assert_eq!(refused.json()["status"], json!(401), "{extra:?}");
        let (code, rest) = listen.interrupt().await;
        assert_eq!(code, 0);
        let stderr = stderr.await.unwrap();
        assert_eq!(
            stderr.contains("--path-token holds a secret") && stderr.contains("--basic-auth holds a secret"),
            warned,
            "{extra:?} {envs:?}: {stderr}"
        );
        for output in [&stderr, &rest, &first.to_string()] {
            assert!(!output.contains(TOKEN) && !output.contains("b4sic-s3cret"), "{output}");
        }
    }

    let empty = dir.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let failed = run(
        &["listen", "--db", db, "--path-token-file", empty.to_str().unwrap()],
        &[],
    )
    .await;
    failed.assert_error(2, "is empty");
    let failed = run(&["listen", "--db", db, "--path-token-file", "/nonexistent/token"], &[]).await;
    failed.assert_error(2, "cannot read the file /nonexistent/token given to --path-token-file");
    let failed = run(
        &[
            "listen",
            "--db",
            db,
            "--path-token",
            TOKEN,
            "--basic-auth-file",
            token_file,
        ],
        &[],
    )
    .await;
    failed.assert_error(2, "is not USER:PASS");
    assert!(!failed.stderr.contains(TOKEN), "{}", failed.stderr);
    let both = run(
        &[
            "listen",
            "--db",
            db,
            "--path-token",
            TOKEN,
            "--path-token-file",
            token_file,
        ],
        &[],
    )
    .await;
    assert_eq!(both.code, 2, "{}", both.stderr);
    assert!(both.stderr.contains("cannot be used with"), "{}", both.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn key_files_saved_with_a_byte_order_mark_and_crlf_line_ends_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let token_file = dir.path().join("path-token");
    std::fs::write(&token_file, format!("\u{feff}{TOKEN}\r\n\r\n# a comment\r\n")).unwrap();
    let basic_file = dir.path().join("basic");
    std::fs::write(&basic_file, "\u{feff}cxtn:b4sic-s3cret  \r\n").unwrap();
    let mut listen = Background::spawn(
        &[
            "listen",
            "--addr",
            "127.0.0.1:0",
            "--db",
            db.to_str().unwrap(),
            "--json",
            "--path-token-file",
            token_file.to_str().unwrap(),
            "--basic-auth-file",
            basic_file.to_str().unwrap(),
        ],
        &[],
    );
    let first = listen.json_line().await;
    assert_eq!(first["auth"], json!(["path_token", "basic"]), "{first}");
    let addr = first["addr"].as_str().unwrap();
    assert_eq!(
        first["url"],
        json!(format!("http://cxtn:<password>@{addr}/cxtn/<token>"))
    );
    let url = format!("http://cxtn:b4sic-s3cret@{addr}/cxtn/{TOKEN}");
    run(&["trigger", "account_credit", "--to", &url], &[])
        .await
        .assert_code(0);
    assert_eq!(listen.json_line().await["outcome"], json!("stored"));
    let (code, _) = listen.interrupt().await;
    assert_eq!(code, 0);
}
