//! Several path tokens and Basic credentials at once, and keys replaced while the receiver serves.

use std::sync::Arc;

use base64::Engine as _;
use cxtn_receiver::{ErrorKind, Keys, MemoryInbox, Receiver};

use crate::send;

const OLD: &str = "oldTokenOldTokenOldTokenOldToken";
const NEW: &str = "aNewTokenThatIsLongerThanTheOldOne_0123456789";
/// The old token with its last character changed: as near to a valid token as a guess gets.
const NEAR: &str = "oldTokenOldTokenOldTokenOldTokeN";
const FAR: &str = "x";

const BODY: &str = r#"{"eventId":"wh_keys_1","event":"payment_completed","subscription":"Payment","data":{"objectId":1,"userId":"C1","amount":10.00,"currency":"GBP"}}"#;

async fn post_to(addr: std::net::SocketAddr, token: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    let (status, body) = send(addr, "POST", &format!("/cxtn/{token}"), &all, BODY).await;
    (status, body)
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

#[tokio::test]
async fn two_tokens_are_accepted_and_a_third_is_refused_in_the_same_words_near_or_far() {
    let inbox = Arc::new(MemoryInbox::new());
    let receiver = Receiver::builder(inbox.clone())
        .path_token(OLD)
        .path_tokens([NEW])
        .build()
        .unwrap();
    let running = receiver.bind("127.0.0.1:0").await.unwrap();
    let addr = running.addr();

    let (status, answer) = post_to(addr, OLD, &[]).await;
    assert_eq!((status, answer.contains("\"stored\"")), (200, true), "{answer}");
    let (status, answer) = post_to(addr, NEW, &[]).await;
    assert_eq!((status, answer.contains("\"duplicate\"")), (200, true), "{answer}");

    for token in [NEAR, FAR, "oldTokenOldTokenOldTokenOldToken0", "aNewToken", ""] {
        let (status, answer) = post_to(addr, token, &[]).await;
        assert_eq!(
            (status, answer.as_str()),
            (401, r#"{"error":"unauthorized"}"#),
            "{token}"
        );
    }
    // A GET with a valid token is told the method is wrong, not refused: that is how a token is probed.
    let (status, _) = send(addr, "GET", &format!("/cxtn/{NEW}"), &[], "").await;
    assert_eq!(status, 405);
    let (status, _) = send(addr, "GET", &format!("/cxtn/{NEAR}"), &[], "").await;
    assert_eq!(status, 401);
    let stats = cxtn_receiver::Inbox::stats(inbox.as_ref()).await.unwrap();
    assert_eq!((stats.pending, stats.duplicates), (1, 1), "nothing else was stored");
    running.shutdown().await;
}

#[tokio::test]
async fn several_basic_credentials_are_accepted_beside_a_token() {
    let receiver = Receiver::builder(Arc::new(MemoryInbox::new()))
        .path_token(OLD)
        .basic_auth("cxtn", "old-password")
        .basic_auth("cxtn", "new-password")
        .build()
        .unwrap();
    let running = receiver.bind("127.0.0.1:0").await.unwrap();
    let addr = running.addr();
    for password in ["old-password", "new-password"] {
        let auth = basic("cxtn", password);
        let (status, answer) = post_to(addr, OLD, &[("authorization", &auth)]).await;
        assert_eq!(status, 200, "{answer}");
    }
    let near = basic("cxtn", "new-passworD");
    let (status, answer) = post_to(addr, OLD, &[("authorization", &near)]).await;
    assert_eq!((status, answer.as_str()), (401, r#"{"error":"unauthorized"}"#));
    let right = basic("cxtn", "new-password");
    let (status, answer) = post_to(addr, NEAR, &[("authorization", &right)]).await;
    assert_eq!((status, answer.as_str()), (401, r#"{"error":"unauthorized"}"#));
    running.shutdown().await;
}

#[tokio::test]
async fn keys_replaced_through_the_handle_apply_to_the_next_request() {
    let receiver = Receiver::builder(Arc::new(MemoryInbox::new()))
        .path_token(OLD)
        .build()
        .unwrap();
    let keys = receiver.keys();
    let running = receiver.bind("127.0.0.1:0").await.unwrap();
    let addr = running.addr();
    assert_eq!(post_to(addr, NEW, &[]).await.0, 401);

    keys.replace(Keys::new().path_tokens([OLD, NEW])).unwrap();
    assert_eq!(post_to(addr, OLD, &[]).await.0, 200);
    assert_eq!(post_to(addr, NEW, &[]).await.0, 200);

    keys.replace(Keys::new().path_token(NEW)).unwrap();
    assert_eq!(post_to(addr, OLD, &[]).await.0, 401);
    assert_eq!(post_to(addr, NEW, &[]).await.0, 200);

    // Nothing at all, or an empty token, is refused, and the keys in use stay.
    for bad in [Keys::new(), Keys::new().path_token(NEW).path_token("")] {
        let error = keys.replace(bad).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Config);
        assert!(!error.to_string().contains(NEW), "{error}");
    }
    assert_eq!(post_to(addr, NEW, &[]).await.0, 200);
    assert_eq!(keys.current().path_token_count(), 1);

    // Basic credentials may come in by a replacement too, and then a challenge is sent.
    keys.replace(Keys::new().path_token(NEW).basic_auth("cxtn", "pw"))
        .unwrap();
    assert_eq!(post_to(addr, NEW, &[]).await.0, 401);
    let auth = basic("cxtn", "pw");
    assert_eq!(post_to(addr, NEW, &[("authorization", &auth)]).await.0, 200);
    running.shutdown().await;
}

#[test]
fn an_empty_token_among_several_is_refused_at_build() {
    let error = Receiver::builder(Arc::new(MemoryInbox::new()))
        .path_tokens([OLD, "  "])
        .build()
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(error.to_string().contains("path token is empty"), "{error}");
}

/// A token from `openssl rand -base64 32` often holds a `/`: the URL's last segment is then only part of it,
/// so no delivery could ever carry it. Refused at build and by a replacement, with no part of it in the error.
#[tokio::test]
async fn a_token_holding_a_slash_is_refused_at_build_and_by_a_replacement() {
    const SLASHED: &str = "kQ3v/9Zl+Xo2bN7c/Wq1Re8tYp4sHm6uJd0fGa5iLk=";
    let error = Receiver::builder(Arc::new(MemoryInbox::new()))
        .path_token(SLASHED)
        .build()
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert!(!error.to_string().contains("9Zl"), "{error}");

    let receiver = Receiver::builder(Arc::new(MemoryInbox::new()))
        .path_token(OLD)
        .build()
        .unwrap();
    let keys = receiver.keys();
    let running = receiver.bind("127.0.0.1:0").await.unwrap();
    let addr = running.addr();
    let error = keys.replace(Keys::new().path_token(SLASHED)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Config);
    assert_eq!(post_to(addr, SLASHED, &[]).await.0, 401);
    assert_eq!(post_to(addr, OLD, &[]).await.0, 200, "the keys in use stay");
    running.shutdown().await;
}
