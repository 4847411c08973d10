//! The help of every command, as snapshots, and the usage errors clap answers with exit 2.

use crate::run;

const COMMANDS: &[&[&str]] = &[
    &[],
    &["webhooks"],
    &["webhooks", "enable"],
    &["webhooks", "create"],
    &["webhooks", "edit"],
    &["webhooks", "status"],
    &["webhooks", "deactivate"],
    &["webhooks", "list"],
    &["webhooks", "ensure"],
    &["webhooks", "plan"],
    &["webhooks", "apply"],
    &["webhooks", "rotate"],
    &["events"],
    &["events", "parse"],
    &["listen"],
    &["inbox"],
    &["inbox", "list"],
    &["inbox", "show"],
    &["inbox", "replay"],
    &["inbox", "stats"],
    &["inbox", "prune"],
    &["inbox", "vacuum"],
    &["inbox", "export"],
    &["trigger"],
    &["sandbox"],
    &["demo"],
    &["console"],
    &["replay"],
];

#[tokio::test(flavor = "multi_thread")]
async fn every_command_has_stable_help() {
    for command in COMMANDS {
        let mut args = command.to_vec();
        args.push("--help");
        let run = run(&args, &[]).await;
        run.assert_code(0);
        assert!(run.stderr.is_empty(), "{}", run.stderr);
        let name = if command.is_empty() {
            "cxtn".to_owned()
        } else {
            format!("cxtn_{}", command.join("_"))
        };
        insta::assert_snapshot!(name, run.stdout);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn help_never_shows_the_values_of_secret_variables() {
    let secrets = [
        ("CXTN_PATH_TOKEN", "path-token-secret-value"),
        ("CXTN_BASIC_AUTH", "user:basic-secret-value"),
        ("CXTN_SANDBOX_TOKEN", "sandbox-secret-value"),
        ("CXTN_INBOX", "postgres://u:inbox-secret-value@h/db"),
        ("CXTN_BASE_URL", "http://127.0.0.1:1/base-secret-value/"),
    ];
    for command in [&["listen"][..], &["sandbox"], &["inbox", "list"], &["webhooks", "list"]] {
        let mut args = command.to_vec();
        args.push("--help");
        let run = run(&args, &secrets).await;
        run.assert_code(0);
        for (_, value) in secrets {
            assert!(!run.stdout.contains("secret-value"), "{value} shown in {command:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_usage_exits_2() {
    let cases: &[(&[&str], &str)] = &[
        (&[], "Usage: cxtn"),
        (&["nothing"], "unrecognized subcommand"),
        (
            &["webhooks", "create", "--url", "https://example.com/x"],
            "--event-type",
        ),
        (
            &["webhooks", "status", "--event-type", "Payment", "--status", "stopped"],
            "stopped",
        ),
        (&["inbox", "show"], "EVENT_ID"),
        (
            &["inbox", "list", "--status", "dead", "--rejected"],
            "cannot be used with",
        ),
        (&["inbox", "list", "--limit", "0"], "--limit"),
        (
            &[
                "trigger",
                "account_credit",
                "--to",
                "http://127.0.0.1:1/x",
                "--set",
                "amount",
            ],
            "FIELD=VALUE",
        ),
        (
            &[
                "trigger",
                "account_credit",
                "--to",
                "http://127.0.0.1:1/x",
                "--count",
                "0",
            ],
            "--count",
        ),
        (&["listen", "--basic-auth", "nopassword"], "USER:PASS"),
        (&["sandbox", "--addr", "not-an-address"], "--addr"),
        (&["webhooks", "list", "--env", "moon"], "`moon` is not an environment"),
        (&["listen", "--env", "hosted-sandbox"], "unexpected argument '--env'"),
        (
            &["--base-url", "http://127.0.0.1:1/api/", "webhooks", "list"],
            "unexpected argument '--base-url'",
        ),
        (
            &["inbox", "list", "--token-file", "t"],
            "unexpected argument '--token-file'",
        ),
    ];
    for (args, mentions) in cases {
        let run = run(args, &[]).await;
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
        assert!(
            run.stderr.contains(mentions),
            "{args:?} should mention {mentions:?}: {}",
            run.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_options_are_only_on_the_commands_that_call_the_api() {
    let api_options = ["--env <ENV>", "--base-url <URL>", "--token-file <PATH>"];
    for command in COMMANDS {
        let mut args = command.to_vec();
        args.push("--help");
        let help = run(&args, &[]).await.stdout;
        let calls_the_api = command.first() == Some(&"webhooks");
        for option in api_options {
            // trigger takes the simulator's base URL, and nothing else of the API options.
            let expected = calls_the_api || (*command == ["trigger"] && option == "--base-url <URL>");
            assert_eq!(help.contains(option), expected, "{command:?} and {option}:\n{help}");
        }
        for option in ["--json", "--verbose", "--quiet", "--log-format <FORMAT>"] {
            assert!(help.contains(option), "{command:?} lacks {option}:\n{help}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_usage_under_json_is_a_json_error_on_stderr() {
    let cases: &[(&[&str], &str)] = &[
        (&["inbox", "list", "--json", "--limit", "0"], "--limit"),
        (&["--json", "nothing"], "unrecognized subcommand"),
        (
            &["trigger", "account_credit", "--json", "--set", "amount"],
            "FIELD=VALUE",
        ),
    ];
    for (args, mentions) in cases {
        let run = run(args, &[]).await;
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
        assert_eq!(run.stderr.lines().count(), 1, "{args:?}: {}", run.stderr);
        let error: serde_json::Value = serde_json::from_str(&run.stderr).unwrap();
        let error = &error["error"];
        assert_eq!(error["kind"], "usage", "{args:?}: {error}");
        assert_eq!(error["exitCode"], 2, "{args:?}: {error}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(mentions), "{args:?}: {message}");
        assert!(!message.starts_with("error:"), "{message}");
        assert!(error["hint"].is_string(), "{args:?}: {error}");
    }
    // Help is help, with or without --json.
    let run = run(&["trigger", "--help", "--json"], &[]).await;
    run.assert_code(0);
    assert!(run.stdout.starts_with("Send a sample notification"), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_under_json_carry_their_kind_and_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.sqlite");
    let missing = missing.to_str().unwrap();
    let cases: &[(&[&str], &str, i64)] = &[
        (&["inbox", "stats", "--db", missing, "--json"], "inbox", 1),
        (&["events", "parse", missing, "--json"], "io", 1),
        (&["webhooks", "list", "--json"], "usage", 2),
    ];
    for (args, kind, code) in cases {
        let run = run(args, &[]).await;
        assert_eq!(i64::from(run.code), *code, "{args:?}: {run:?}");
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
        let error: serde_json::Value = serde_json::from_str(&run.stderr).unwrap();
        assert_eq!(error["error"]["kind"], *kind, "{args:?}: {error}");
        assert_eq!(error["error"]["exitCode"], *code, "{args:?}: {error}");
        assert!(error["error"]["hint"].is_string(), "{args:?}: {error}");
        assert!(error["error"]["details"].is_array(), "{args:?}: {error}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_version_is_the_workspace_version() {
    let run = run(&["--version"], &[]).await;
    run.assert_code(0);
    assert_eq!(run.stdout.trim(), format!("cxtn {}", env!("CARGO_PKG_VERSION")));
}
