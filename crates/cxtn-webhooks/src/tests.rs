use super::client::check_endpoint_url;
use super::*;

#[test]
fn endpoint_urls_must_be_https_except_on_loopback() {
    for ok in [
        "https://hooks.example.com/cxtn/abc",
        "http://127.0.0.1:8080/cxtn",
        "http://localhost/x",
        "http://[::1]:9/x",
    ] {
        assert!(check_endpoint_url(ok, false).is_ok(), "{ok}");
    }
    for (bad, says) in [
        ("http://hooks.example.com/secret-path-token", "uses plain http"),
        ("ftp://hooks.example.com/x", "uses `ftp`"),
        ("hooks.example.com/x", "is not a valid URL"),
        ("", "is not a valid URL"),
    ] {
        let e = check_endpoint_url(bad, false).unwrap_err();
        assert_eq!((e.kind(), e.field()), (ErrorKind::InvalidInput, Some("endpoint_url")));
        assert!(e.to_string().contains(says), "{e}");
        assert!(
            !e.to_string().contains("secret-path-token"),
            "the path is never repeated: {e}"
        );
    }
    assert!(check_endpoint_url("http://hooks.internal/x", true).is_ok());
}

#[test]
fn tokens_are_redacted() {
    let token = AccessToken::new("tok-123-secret");
    assert!(!format!("{token:?}").contains("tok-123"));
    let builder = Client::builder().access_token("tok-123-secret");
    assert!(!format!("{builder:?}").contains("tok-123"));
}

#[test]
fn building_needs_a_token_and_a_transport() {
    let e = Client::builder().build().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("no access token"), "{e}");
    let e = Client::builder().access_token("t").build().unwrap_err();
    assert!(e.to_string().contains("no HTTP transport"), "{e}");
}

#[test]
fn display_names_the_operation_and_source_is_the_cause() {
    let e = Error::config("no transport").for_operation(Operation::List);
    assert_eq!(e.to_string(), "list: no transport");
    assert!(std::error::Error::source(&e).is_none());
    let cause = serde_json::from_str::<u8>("no").unwrap_err();
    let e = Error::new(ErrorKind::Decode, "not JSON").with_source(cause);
    assert_eq!(e.to_string(), "not JSON");
    assert!(std::error::Error::source(&e).unwrap().is::<serde_json::Error>());
}

#[test]
fn only_create_is_not_idempotent() {
    let not: Vec<_> = Operation::ALL.into_iter().filter(|o| !o.is_idempotent()).collect();
    assert_eq!(not, [Operation::Create]);
}

const fn assert_send_sync<T: Send + Sync>() {}
const _: () = {
    assert_send_sync::<Client>();
    assert_send_sync::<Error>();
    assert_send_sync::<ClientBuilder>();
    assert_send_sync::<Created>();
    assert_send_sync::<Ensured>();
};
