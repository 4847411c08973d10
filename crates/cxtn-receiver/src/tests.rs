use std::sync::Arc;

use super::*;

#[test]
fn refuses_to_start_without_authentication() {
    let e = Receiver::builder(Arc::new(MemoryInbox::new())).build().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.to_string().contains("no authentication"), "{e}");
    assert!(
        Receiver::builder(Arc::new(MemoryInbox::new()))
            .allow_unauthenticated(true)
            .build()
            .is_ok()
    );
    assert!(
        Receiver::builder(Arc::new(MemoryInbox::new()))
            .path_token("t")
            .build()
            .is_ok()
    );
}

#[test]
fn backoff_grows_and_is_capped() {
    let policy =
        WorkerPolicy::default().backoff(std::time::Duration::from_millis(100), std::time::Duration::from_secs(1));
    for _ in 0..50 {
        let first = policy.clone().backoff_after_for_tests(1);
        assert!((50..=100).contains(&first.as_millis()), "{first:?}");
        let late = policy.clone().backoff_after_for_tests(20);
        assert!((500..=1000).contains(&late.as_millis()), "{late:?}");
    }
}

const fn assert_send_sync<T: Send + Sync>() {}
const _: () = {
    assert_send_sync::<Receiver>();
    assert_send_sync::<Error>();
    assert_send_sync::<ReceiverService>();
    assert_send_sync::<Worker>();
    #[cfg(feature = "sqlite")]
    assert_send_sync::<SqliteInbox>();
};
