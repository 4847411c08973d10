//! Text from the network never reaches a terminal raw: control characters in event ids, reasons and bodies
//! are shown as escapes by `listen`, `inbox list`, `inbox show` and errors.

use crate::listen::payment;
use crate::{Background, TOKEN, post_raw, run};

/// An event id that would clear the screen, and then write a line of its own.
const HOSTILE: &str = "wh_\u{1b}[2J\u{1b}]0;owned\u{7}\nstored         wh_fake  payment_completed\r";

/// The same id as JSON writes it, for a body.
fn hostile_json() -> String {
    serde_json::to_string(HOSTILE).unwrap()
}

#[track_caller]
fn assert_no_raw_controls(output: &str, what: &str) {
    assert!(
        !output.chars().any(|c| c.is_control() && c != '\n'),
        "{what} holds a raw control character: {output:?}"
    );
    assert!(
        !output.lines().any(|line| line.starts_with("stored         wh_fake")),
        "{what} printed a fake line: {output}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn control_characters_from_the_network_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let db = db.to_str().unwrap();
    let mut listen = Background::spawn(
        &["listen", "--addr", "127.0.0.1:0", "--db", db],
        &[("CXTN_PATH_TOKEN", TOKEN)],
    );
    let first = listen.line().await;
    let addr = first
        .trim_start_matches("Listening on http://")
        .trim_end_matches("/cxtn/<token>")
        .to_owned();
    for _ in 0..3 {
        listen.line().await;
    }
    let url = format!("http://{addr}/cxtn/{TOKEN}");
    let body = payment("ID").replace("\"ID\"", &hostile_json());
    assert_eq!(post_raw(&url, &body).await, 200);
    let line = listen.line().await;
    assert_no_raw_controls(&line, "the arrival line");
    assert!(line.contains(r"wh_\u{1b}[2J\u{1b}]0;owned\u{7}\nstored"), "{line}");
    let (code, rest) = listen.interrupt().await;
    assert_eq!(code, 0);
    assert_no_raw_controls(&rest, "listen");

    let listed = run(&["inbox", "--db", db, "list"], &[]).await;
    listed.assert_code(0);
    assert_no_raw_controls(&listed.stdout, "inbox list");
    assert!(listed.stdout.contains(r"wh_\u{1b}[2J"), "{}", listed.stdout);
    let listed = run(&["inbox", "--db", db, "list", "--json"], &[]).await;
    assert_eq!(
        listed.assert_code(0).json()[0]["eventId"],
        serde_json::json!(HOSTILE),
        "JSON keeps the id exact"
    );

    let shown = run(&["inbox", "--db", db, "show", HOSTILE], &[]).await;
    shown.assert_code(0);
    assert_no_raw_controls(&shown.stdout, "inbox show");
    assert!(shown.stdout.contains(r"\u{1b}]0;owned\u{7}"), "{}", shown.stdout);

    let missing = format!("{HOSTILE}-missing");
    let failed = run(&["inbox", "--db", db, "show", &missing], &[]).await;
    failed.assert_error(1, "no stored event has the id");
    assert_no_raw_controls(&failed.stderr, "the error");
}

#[tokio::test(flavor = "multi_thread")]
async fn control_characters_in_a_rejection_and_a_body_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let db = db.to_str().unwrap();
    let store: std::sync::Arc<dyn cxtn::receiver::Inbox> =
        std::sync::Arc::new(cxtn::receiver::SqliteInbox::open(db).unwrap());
    let (running, url) = crate::receiver(store).await;
    // Raw control characters inside a body that is not JSON: a rejection whose body is shown as received.
    let rejected = "\u{1b}[2Jnot json\r\nrejected  forged line";
    assert_eq!(post_raw(&url, rejected).await, 400);
    running.shutdown().await;

    let listed = run(&["inbox", "--db", db, "list", "--rejected"], &[]).await;
    listed.assert_code(0);
    assert_no_raw_controls(&listed.stdout, "inbox list --rejected");
    let id = run(&["inbox", "--db", db, "list", "--rejected", "--json"], &[])
        .await
        .json()[0]["id"]
        .to_string();
    let shown = run(&["inbox", "--db", db, "show", "--rejection", &id], &[]).await;
    shown.assert_code(0);
    assert_no_raw_controls(&shown.stdout, "inbox show --rejection");
    assert!(shown.stdout.contains(r"\u{1b}[2Jnot json\r"), "{}", shown.stdout);
    assert!(
        shown.stdout.lines().any(|line| line == "rejected  forged line"),
        "a body keeps its own line breaks: {}",
        shown.stdout
    );
}
