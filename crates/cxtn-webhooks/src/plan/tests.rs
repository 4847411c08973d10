use cxtn_model::{Endpoint, EndpointStatus, EndpointUrl, WebhookEventType};

use super::*;

const TOKEN: &str = "p4th-t0ken-s3cret";

fn env(name: &str) -> Option<String> {
    match name {
        "CXTN_PATH_TOKEN" => Some(TOKEN.to_owned()),
        "EMPTY" => Some(String::new()),
        "HOST" => Some("hooks.example.com".to_owned()),
        _ => None,
    }
}

fn desired(text: &str) -> Desired {
    Desired::from_toml_str(text, env).unwrap()
}

fn refused(text: &str) -> DesiredError {
    Desired::from_toml_str(text, env).unwrap_err()
}

fn url(path: &str) -> String {
    format!("https://hooks.example.com/cxtn/{path}")
}

fn endpoint(event_type: WebhookEventType, path: &str, status: EndpointStatus) -> Endpoint {
    Endpoint::new(event_type, url(path), status)
}

/// The plan as text, one change per line.
fn plan(desired: &Desired, current: &[Endpoint]) -> Vec<String> {
    Plan::compute(desired, current)
        .changes()
        .iter()
        .map(ToString::to_string)
        .collect()
}

const FILE: &str = r#"
# the endpoints of the shop
unlisted = "inactive"
absent = ["Wallet"]

[endpoints.payment]
url = "https://hooks.example.com/cxtn/${CXTN_PATH_TOKEN}"

[endpoints.account_transaction]
url = "https://hooks.example.com/cxtn/${CXTN_PATH_TOKEN}"
status = "paused"
"#;

#[test]
fn the_file_reads_into_endpoints_in_table_order() {
    let desired = desired(FILE);
    assert_eq!(desired.unlisted(), Unlisted::Inactive);
    assert_eq!(desired.absent(), [WebhookEventType::Wallet]);
    let endpoints: Vec<_> = desired
        .endpoints()
        .iter()
        .map(|e| {
            (
                e.event_type.to_string(),
                e.url.as_str().to_owned(),
                e.status.to_string(),
            )
        })
        .collect();
    assert_eq!(
        endpoints,
        [
            ("Payment".to_owned(), url(TOKEN), "Active".to_owned()),
            ("AccountTransaction".to_owned(), url(TOKEN), "Paused".to_owned()),
        ]
    );
    assert!(matches!(desired.want(&WebhookEventType::Payment), Want::Endpoint(_)));
    assert_eq!(desired.want(&WebhookEventType::Wallet), Want::Inactive);
    assert_eq!(desired.want(&WebhookEventType::Trade), Want::Inactive);
    let debug = format!("{desired:?}");
    assert!(!debug.contains(TOKEN), "Debug shows no path: {debug}");
}

#[test]
fn an_empty_file_ignores_everything() {
    let desired = desired("");
    assert_eq!(desired.unlisted(), Unlisted::Ignore);
    assert_eq!(desired.want(&WebhookEventType::Payment), Want::Ignored);
    let current = [endpoint(WebhookEventType::Payment, "x", EndpointStatus::Paused)];
    assert!(Plan::compute(&desired, &current).is_in_sync());
}

#[test]
fn names_are_read_in_any_case_and_snake_case() {
    let text = "[endpoints.AccountTransaction]\nurl = \"https://a.example/x\"\n[endpoints.BULK_PAYMENTS]\nurl = \"https://a.example/y\"\nstatus = \"Inactive\"\n";
    let desired = desired(text);
    let types: Vec<_> = desired.endpoints().iter().map(|e| e.event_type.to_string()).collect();
    assert_eq!(types, ["AccountTransaction", "BulkPayments"]);
    assert_eq!(desired.endpoints()[1].status, EndpointStatus::Inactive);
    assert_eq!(self::desired("unlisted = \"IGNORE\"").unlisted(), Unlisted::Ignore);
}

#[test]
fn variables_are_replaced_and_dollars_escaped() {
    let desired = desired("[endpoints.payment]\nurl = \"https://${HOST}/a$$b/${CXTN_PATH_TOKEN}?x=$1\"\n");
    assert_eq!(
        desired.endpoints()[0].url.as_str(),
        format!("https://hooks.example.com/a$b/{TOKEN}?x=$1")
    );
}

#[test]
fn bad_files_say_what_and_where() {
    let cases: [(&str, DesiredErrorKind, (usize, usize), &str); 13] = [
        (
            "[endpoints.payment]\nurll = \"https://a.example/x\"\n",
            DesiredErrorKind::Format,
            (2, 1),
            "unknown field `urll`",
        ),
        (
            "colour = \"blue\"\n",
            DesiredErrorKind::Format,
            (1, 1),
            "unknown field `colour`",
        ),
        (
            "[endpoints.payment]\nstatus = \"active\"\n",
            DesiredErrorKind::Format,
            (1, 1),
            "missing field `url`",
        ),
        ("unlisted = \n", DesiredErrorKind::Format, (1, 12), ""),
        (
            "unlisted = \"delete\"\n",
            DesiredErrorKind::Format,
            (1, 12),
            "use \"ignore\" or \"inactive\"",
        ),
        (
            "\n[endpoints.loans]\nurl = \"https://a.example/x\"\n",
            DesiredErrorKind::EventType,
            (2, 12),
            "`loans` is not a webhook event type",
        ),
        (
            "[endpoints.1]\nurl = \"https://a.example/x\"\n",
            DesiredErrorKind::EventType,
            (1, 12),
            "`1` is not a webhook event type",
        ),
        (
            "[endpoints.payment]\nurl = \"https://a.example/x\"\nstatus = \"on\"\n",
            DesiredErrorKind::Status,
            (3, 10),
            "`on` is not an endpoint status",
        ),
        (
            "[endpoints.payment]\nurl = \"http://hooks.example.com/p4th-t0ken-s3cret\"\n",
            DesiredErrorKind::Url,
            (2, 7),
            "the Payment endpoint: the endpoint URL `http://hooks.example.com/<redacted>` uses plain http",
        ),
        (
            "[endpoints.payment]\nurl = \"https://a.example/${EMPTY}\"\n",
            DesiredErrorKind::Variable,
            (2, 7),
            "the environment variable EMPTY, which a URL names, is empty",
        ),
        (
            "[endpoints.payment]\nurl = \"https://a.example/${not-a-name}\"\n",
            DesiredErrorKind::Variable,
            (2, 7),
            "`${not-a-name}` does not name a variable",
        ),
        (
            "[endpoints.payment]\nurl = \"https://a.example/x\"\n[endpoints.Payment]\nurl = \"https://a.example/y\"\n",
            DesiredErrorKind::Duplicate,
            (3, 12),
            "Payment is given twice (first at line 1)",
        ),
        (
            "absent = [\"payment\"]\n[endpoints.payment]\nurl = \"https://a.example/x\"\n",
            DesiredErrorKind::Conflict,
            (1, 11),
            "Payment is named absent but also given an endpoint at line 2",
        ),
    ];
    for (text, kind, (line, column), says) in cases {
        let e = refused(text);
        assert_eq!(e.kind(), kind, "{text}: {e}");
        assert_eq!((e.line(), e.column()), (Some(line), Some(column)), "{text}: {e}");
        assert!(e.message().contains(says), "{text}: {e}");
        assert!(
            e.to_string().starts_with(&format!("line {line}, column {column}: ")),
            "{e}"
        );
        assert!(!e.to_string().contains(TOKEN), "{e}");
    }
}

#[test]
fn a_missing_variable_is_named_and_no_value_is_shown() {
    let e = Desired::from_toml_str(FILE, |name| (name != "CXTN_PATH_TOKEN").then(|| TOKEN.to_owned())).unwrap_err();
    assert_eq!(e.kind(), DesiredErrorKind::Variable);
    assert_eq!(e.variable(), Some("CXTN_PATH_TOKEN"));
    assert_eq!((e.line(), e.column()), (Some(7), Some(7)));
    assert_eq!(
        e.to_string(),
        "line 7, column 7: the environment variable CXTN_PATH_TOKEN, which a URL names, is not set; set it, then run again"
    );
    let e = refused("[endpoints.payment]\nurl = \"https://a.example/${CXTN_PATH_TOKEN\"\n");
    assert!(e.message().contains("without closing it"), "{e}");
}

#[test]
fn the_builder_runs_the_same_checks() {
    let e = Desired::builder()
        .endpoint(WebhookEventType::Payment, "https://a.example/x")
        .endpoint(WebhookEventType::Payment, "https://a.example/y")
        .build()
        .unwrap_err();
    assert_eq!((e.kind(), e.line()), (DesiredErrorKind::Duplicate, None));
    assert_eq!(e.to_string(), "Payment is given twice; give each event type once");
    let e = Desired::builder()
        .endpoint(WebhookEventType::Payment, "https://a.example/x ")
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), DesiredErrorKind::Url, "URLs are taken as sent: {e}");
    let unknown: WebhookEventType = serde_json::from_value(serde_json::json!("Loans")).unwrap();
    let e = Desired::builder().absent(unknown).build().unwrap_err();
    assert_eq!(e.kind(), DesiredErrorKind::EventType);
    let builder = Desired::builder().endpoint(WebhookEventType::Payment, url(TOKEN));
    assert!(!format!("{builder:?}").contains(TOKEN));
}

#[test]
fn an_empty_account_gets_creates_then_statuses() {
    let desired = desired(FILE);
    assert_eq!(
        plan(&desired, &[]),
        [
            "create Payment at https://hooks.example.com/<redacted>",
            "create AccountTransaction at https://hooks.example.com/<redacted>",
            "status Payment: Active (new endpoint)",
            "status AccountTransaction: Paused (new endpoint)",
        ]
    );
}

#[test]
fn a_matching_account_is_in_sync() {
    let desired = desired(FILE);
    let current = [
        endpoint(WebhookEventType::AccountTransaction, TOKEN, EndpointStatus::Paused),
        endpoint(WebhookEventType::Payment, TOKEN, EndpointStatus::Active),
        endpoint(WebhookEventType::Wallet, "old", EndpointStatus::Inactive),
        endpoint(WebhookEventType::Card, "old", EndpointStatus::Inactive),
    ];
    let plan = Plan::compute(&desired, &current);
    assert!(plan.is_in_sync(), "{plan}");
    assert_eq!(plan.to_string(), "");
}

#[test]
fn drift_is_undone_edits_before_statuses() {
    let desired = desired(FILE);
    let current = [
        endpoint(WebhookEventType::Payment, "old-host-token", EndpointStatus::Paused),
        Endpoint::new(
            WebhookEventType::AccountTransaction,
            format!("https://old.example.com/cxtn/{TOKEN}"),
            EndpointStatus::Inactive,
        ),
        endpoint(WebhookEventType::Wallet, "w", EndpointStatus::Active),
        endpoint(WebhookEventType::Quote, "q", EndpointStatus::Paused),
        endpoint(WebhookEventType::Card, "c", EndpointStatus::Inactive),
    ];
    assert_eq!(
        plan(&desired, &current),
        [
            "edit Payment: https://hooks.example.com/<redacted> (the redacted part of the URL differs)",
            "edit AccountTransaction: https://old.example.com/<redacted> -> https://hooks.example.com/<redacted>",
            "status Payment: Paused -> Active",
            "status AccountTransaction: Inactive -> Paused",
            "status Wallet: Active -> Inactive",
            "status Quote: Paused -> Inactive",
        ]
    );
    let text = format!("{:?}", Plan::compute(&desired, &current));
    assert!(!text.contains(TOKEN) && !text.contains("old-host-token"), "{text}");
}

#[test]
fn urls_are_compared_as_urls() {
    let same = |a: &str, b: &str| same_url(&EndpointUrl::new(a), &EndpointUrl::new(b));
    assert!(same(
        "https://hooks.example.com/cxtn/x",
        "https://hooks.example.com/cxtn/x"
    ));
    assert!(same(
        "HTTPS://Hooks.Example.com:443/cxtn/x",
        "https://hooks.example.com/cxtn/x"
    ));
    assert!(same(
        "https://u:p%40ss@hooks.example.com/x",
        "https://u:p@ss@hooks.example.com/x"
    ));
    assert!(!same(
        "https://hooks.example.com/cxtn/x",
        "https://hooks.example.com/cxtn/X"
    ));
    assert!(!same(
        "https://u:one@hooks.example.com/x",
        "https://u:two@hooks.example.com/x"
    ));
    assert!(!same(
        "https://u:one@hooks.example.com/x",
        "https://hooks.example.com/x"
    ));
    assert!(!same("not a url", "not a url "));
    let desired = desired("[endpoints.payment]\nurl = \"https://hooks.example.com/cxtn/x\"\n");
    let current = [Endpoint::new(
        WebhookEventType::Payment,
        "https://HOOKS.example.com:443/cxtn/x",
        EndpointStatus::Active,
    )];
    assert!(Plan::compute(&desired, &current).is_in_sync());
}

#[test]
fn unlisted_ignore_leaves_others_alone_but_absent_is_enforced() {
    let desired = desired("absent = [\"Card\"]\n[endpoints.payment]\nurl = \"https://hooks.example.com/cxtn/x\"\n");
    let current = [
        endpoint(WebhookEventType::Payment, "x", EndpointStatus::Active),
        endpoint(WebhookEventType::Card, "c", EndpointStatus::Active),
        endpoint(WebhookEventType::Quote, "q", EndpointStatus::Active),
    ];
    assert_eq!(plan(&desired, &current), ["status Card: Active -> Inactive"]);
}

#[test]
fn unknown_statuses_and_types_from_the_list() {
    let desired = desired(FILE);
    let unknown_status: EndpointStatus = serde_json::from_value(serde_json::json!("Suspended")).unwrap();
    let unknown_type: WebhookEventType = serde_json::from_value(serde_json::json!(42)).unwrap();
    let current = [
        endpoint(WebhookEventType::Payment, TOKEN, unknown_status),
        endpoint(WebhookEventType::AccountTransaction, TOKEN, EndpointStatus::Paused),
        endpoint(unknown_type, "u", EndpointStatus::Active),
    ];
    let plan = Plan::compute(&desired, &current);
    assert_eq!(
        plan.changes().iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["status Payment: Suspended -> Active"]
    );
    assert_eq!(plan.ignored().len(), 1);
    assert_eq!(plan.changes()[0].operation(), Operation::SetStatus);
    assert_eq!(plan.changes()[0].event_type(), &WebhookEventType::Payment);
}

#[test]
fn reports_say_what_was_and_was_not_applied() {
    let desired = desired(FILE);
    let plan = Plan::compute(&desired, &[]);
    let mut report = ApplyReport {
        enabled: true,
        applied: plan.changes()[..1].to_vec(),
        failed: Some(plan.changes()[1].clone()),
        not_attempted: plan.changes()[2..].to_vec(),
    };
    assert!(!report.is_complete());
    assert_eq!(report.not_applied().count(), 3);
    assert_eq!(
        report.to_string(),
        "enabled webhooks\ncreate Payment at https://hooks.example.com/<redacted>\n\
         failed: create AccountTransaction at https://hooks.example.com/<redacted>\n\
         not attempted: status Payment: Active (new endpoint)\n\
         not attempted: status AccountTransaction: Paused (new endpoint)"
    );
    let error = ApplyError {
        report: report.clone(),
        error: Error::new(ErrorKind::Api, "create: endpoint exists"),
    };
    assert_eq!(
        error.to_string(),
        "apply stopped at `create AccountTransaction at https://hooks.example.com/<redacted>`: create: endpoint exists; \
         applied 1 of 4 changes (enabled webhooks; create Payment at https://hooks.example.com/<redacted>); \
         not applied: create AccountTransaction at https://hooks.example.com/<redacted>; \
         status Payment: Active (new endpoint); status AccountTransaction: Paused (new endpoint)"
    );
    assert!(std::error::Error::source(&error).unwrap().is::<Error>());
    assert!(!format!("{error:?}").contains(TOKEN));
    report = ApplyReport::default();
    assert!(report.is_unchanged() && report.is_complete());
}

#[test]
fn not_enabled_is_read_from_the_api_status() {
    let e = Error::new(ErrorKind::Api, "refused").with_api_status(
        serde_json::from_value(serde_json::json!({"ApiStatusCode": 1001, "ApiStatus": "WebhooksNotEnabled"})).unwrap(),
    );
    assert!(e.is_webhooks_not_enabled());
    let e = Error::new(ErrorKind::Api, "refused").with_api_status(
        serde_json::from_value(serde_json::json!({"ApiStatusCode": 1002, "ApiStatus": "EndpointExists"})).unwrap(),
    );
    assert!(!e.is_webhooks_not_enabled());
    assert!(!Error::new(ErrorKind::Transport, "WebhooksNotEnabled").is_webhooks_not_enabled());
}

proptest::proptest! {
    #[test]
    fn any_text_reads_or_says_where_it_is_wrong(text in "(?s).{0,200}") {
        if let Err(e) = Desired::from_toml_str(&text, env)
            && let (Some(line), Some(column)) = (e.line(), e.column())
        {
            proptest::prop_assert!(line >= 1 && line <= text.lines().count().max(1) + 1, "{e}");
            proptest::prop_assert!(column >= 1, "{e}");
        }
    }

    #[test]
    fn file_shaped_text_never_panics(
        key in "[a-zA-Z_ ]{0,20}",
        url in "[ -~]{0,60}",
        status in "[a-z]{0,9}",
    ) {
        let text = format!("[endpoints.\"{key}\"]\nurl = \"{}\"\nstatus = \"{status}\"\n", url.replace(['\\', '"'], ""));
        let _ = Desired::from_toml_str(&text, env);
    }

    #[test]
    fn doubled_dollars_read_back_as_written(text in "[ -~]{0,60}") {
        let escaped = text.replace('$', "$$");
        let read = desired::substitute_for_tests(&escaped, &env);
        proptest::prop_assert_eq!(read.as_deref(), Ok(text.as_str()));
    }
}

const fn assert_send_sync<T: Send + Sync>() {}
const _: () = {
    assert_send_sync::<Desired>();
    assert_send_sync::<Plan>();
    assert_send_sync::<ApplyReport>();
    assert_send_sync::<ApplyError>();
    assert_send_sync::<DesiredError>();
};

#[test]
fn a_url_error_shows_no_part_of_a_variable_or_of_a_url_it_cannot_read() {
    let lookup = |name: &str| match name {
        "PASSWORD" => Some("Xy3q/9Zk+pw==".to_owned()),
        "TOKEN" => Some("t0k3n\\s3cret".to_owned()),
        _ => None,
    };
    for (text, secrets) in [
        ("https://cxtn:${PASSWORD}@hooks.example.com/cxtn", ["Xy3q", "cxtn:"]),
        ("https://cxtn:Xy3q/9Zk+pw==@hooks.example.com/cxtn", ["Xy3q", "cxtn:"]),
        ("https://hooks.example.com\\\\cxtn\\\\${TOKEN}", ["t0k3n", "s3cret"]),
    ] {
        let file = format!("[endpoints.payment]\nurl = \"{text}\"\n");
        let e = Desired::from_toml_str(&file, lookup).unwrap_err();
        assert_eq!(e.kind(), DesiredErrorKind::Url, "{e}");
        assert_eq!((e.line(), e.column()), (Some(2), Some(7)), "{e}");
        for secret in secrets {
            assert!(!e.to_string().contains(secret), "{secret} in {e}");
            assert!(!format!("{e:?}").contains(secret), "{secret} in {e:?}");
        }
    }
}

#[test]
fn an_endpoint_that_moves_and_stops_delivering_stops_before_it_moves() {
    let desired = desired(
        "[endpoints.payment]\nurl = \"https://new.example.com/cxtn/p\"\nstatus = \"paused\"\n\
         [endpoints.account_transaction]\nurl = \"https://new.example.com/cxtn/a\"\nstatus = \"inactive\"\n\
         [endpoints.card]\nurl = \"https://new.example.com/cxtn/c\"\n",
    );
    let current = [
        Endpoint::new(
            WebhookEventType::Payment,
            "https://old.example.com/cxtn/p",
            EndpointStatus::Active,
        ),
        Endpoint::new(
            WebhookEventType::AccountTransaction,
            "https://old.example.com/cxtn/a",
            EndpointStatus::Active,
        ),
        Endpoint::new(
            WebhookEventType::Card,
            "https://old.example.com/cxtn/c",
            EndpointStatus::Paused,
        ),
    ];
    assert_eq!(
        plan(&desired, &current),
        [
            "status Payment: Active -> Paused",
            "status AccountTransaction: Active -> Inactive",
            "edit Payment: https://old.example.com/<redacted> -> https://new.example.com/<redacted>",
            "edit AccountTransaction: https://old.example.com/<redacted> -> https://new.example.com/<redacted>",
            "edit Card: https://old.example.com/<redacted> -> https://new.example.com/<redacted>",
            "status Card: Paused -> Active",
        ]
    );
}

#[test]
fn a_report_that_enabled_webhooks_then_failed_has_no_blank_line() {
    let plan = Plan::compute(&desired(FILE), &[]);
    let report = ApplyReport {
        enabled: true,
        applied: Vec::new(),
        failed: Some(plan.changes()[0].clone()),
        not_attempted: plan.changes()[1..2].to_vec(),
    };
    assert_eq!(
        report.to_string(),
        "enabled webhooks\n\
         failed: create Payment at https://hooks.example.com/<redacted>\n\
         not attempted: create AccountTransaction at https://hooks.example.com/<redacted>"
    );
}

#[test]
fn a_url_written_where_it_does_not_belong_is_shown_redacted() {
    let url = "https://hooks.example.com/cxtn/l1teral-s3cret";
    for (text, kind) in [
        (format!("[endpoints]\nPayment = \"{url}\"\n"), DesiredErrorKind::Format),
        (format!("endpoints = \"{url}\"\n"), DesiredErrorKind::Format),
        (format!("unlisted = \"{url}\"\n"), DesiredErrorKind::Format),
        (format!("absent = [\"{url}\"]\n"), DesiredErrorKind::EventType),
        (
            format!("[endpoints.\"{url}\"]\nurl = \"{url}\"\n"),
            DesiredErrorKind::EventType,
        ),
        (
            format!("[endpoints.Payment]\nurl = \"{url}\"\nstatus = \"{url}\"\n"),
            DesiredErrorKind::Status,
        ),
    ] {
        let e = refused(&text);
        assert_eq!(e.kind(), kind, "{e}");
        assert!(!e.to_string().contains("s3cret"), "{e}");
        assert!(e.to_string().contains("https://hooks.example.com/<redacted>"), "{e}");
    }
}

#[test]
fn a_url_cxtn_lists_is_shown_with_no_part_of_its_path_or_credentials() {
    let desired = desired(
        "[endpoints.payment]\nurl = \"https://hooks.example.com/cxtn/new\"\n\
         [endpoints.account_transaction]\nurl = \"https://hooks.example.com/cxtn/new\"\n",
    );
    let current = [
        // Written with backslashes, which a URL reads as slashes, or with a password holding a `/`.
        Endpoint::new(
            WebhookEventType::Payment,
            "https://hooks.example.com\\cxtn\\l1sted-s3cret",
            EndpointStatus::Active,
        ),
        Endpoint::new(
            WebhookEventType::AccountTransaction,
            "https://cxtn:l1sted/s3cret@hooks.example.com/cxtn/x",
            EndpointStatus::Active,
        ),
    ];
    let plan = Plan::compute(&desired, &current);
    let shown = format!("{plan}\n{plan:?}");
    assert!(!shown.contains("s3cret") && !shown.contains("l1sted"), "{shown}");
    assert_eq!(
        plan.to_string(),
        "edit Payment: https://hooks.example.com/<redacted> (the redacted part of the URL differs)\n\
         edit AccountTransaction: https://<redacted> -> https://hooks.example.com/<redacted>"
    );
}
