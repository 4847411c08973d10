//! The admin token: required off loopback, asked for by every page but the login page and the assets.

use std::time::Duration;

use cxtn_console::{Console, ErrorKind};

use crate::{TOKEN, get, get_with, memory, now_ms, payment, request, serve, store};

fn with_token() -> Console {
    Console::builder(memory()).admin_token(TOKEN).build().unwrap()
}

#[tokio::test]
async fn a_non_loopback_listener_is_refused_without_a_token() {
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let console = Console::builder(memory()).build().unwrap();
    let error = console.serve(listener, std::future::pending()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::NeedsToken);
    assert!(error.to_string().contains("admin token"), "{error}");

    // With a token it serves; stop it at once.
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let served = tokio::time::timeout(Duration::from_secs(10), with_token().serve(listener, async {}))
        .await
        .unwrap();
    assert!(served.is_ok());
}

#[test]
fn an_empty_token_or_a_bad_base_path_is_refused() {
    let empty = Console::builder(memory()).admin_token("").build().unwrap_err();
    assert_eq!(empty.kind(), ErrorKind::Config);
    let base = Console::builder(memory()).base_path("console").build().unwrap_err();
    assert_eq!(base.kind(), ErrorKind::Config);
    assert!(base.to_string().contains("`/console`"), "{base}");
    let debug = format!("{:?}", Console::builder(memory()).admin_token(TOKEN).build().unwrap());
    assert!(!debug.contains(TOKEN), "{debug}");
}

#[tokio::test]
async fn every_page_needs_the_token() {
    let served = serve(with_token()).await;
    // A browser is sent to the login page; any other client gets 401.
    let browser = get(&served.url("events")).await;
    assert_eq!(browser.status, 303);
    assert_eq!(browser.header("location"), "/login");
    for path in ["", "events", "events/x", "rejections", "rejections/1", "stream"] {
        let answer = get_with(&served.url(path), &[]).await;
        assert_eq!(answer.status, 401, "{path}");
        assert!(answer.header("www-authenticate").starts_with("Bearer"));
        assert!(!answer.body.contains(TOKEN));
    }
    let wrong = get_with(&served.url(""), &[("authorization", "Bearer not-the-token")]).await;
    assert_eq!(wrong.status, 401);
    let replay = request("POST", &served.url("events/x/replay"), &[], Some("csrf=x")).await;
    assert_eq!(replay.status, 401);
    // The login page and the assets are open.
    assert_eq!(get(&served.url("login")).await.status, 200);
    assert_eq!(get_with(&served.url("assets/console.js"), &[]).await.status, 200);
}

#[tokio::test]
async fn a_bearer_token_or_a_signed_in_session_is_accepted() {
    let inbox = memory();
    store(inbox.as_ref(), &payment("wh_tok", "1.00", 1), now_ms()).await;
    let served = serve(Console::builder(inbox).admin_token(TOKEN).build().unwrap()).await;
    let bearer = format!("Bearer {TOKEN}");
    let page = get_with(&served.url("events/wh_tok"), &[("authorization", &bearer)]).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.text_of("event-id"), "wh_tok");
    assert!(page.cookie().is_none(), "a bearer client gets no cookie");
    // A bearer client's form posts with the token of no session.
    let replayed = request(
        "POST",
        &served.url("events/wh_tok/replay"),
        &[("authorization", &bearer)],
        Some(&format!("csrf={}", page.csrf())),
    )
    .await;
    assert_eq!(replayed.status, 303, "{}", replayed.body);

    // Signing in: a wrong token is refused with a message, the right one sets the session cookie.
    let login = get(&served.url("login")).await;
    let csrf = login.csrf();
    let origin = format!("http://{}", served.addr);
    let wrong = request(
        "POST",
        &served.url("login"),
        &[("origin", &origin)],
        Some(&format!("csrf={csrf}&token=guess")),
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("id=\"login-error\""));
    assert!(wrong.cookie().is_none());
    let no_csrf = request(
        "POST",
        &served.url("login"),
        &[("origin", &origin)],
        Some(&format!("token={TOKEN}")),
    )
    .await;
    assert_eq!(no_csrf.status, 403);
    let right = request(
        "POST",
        &served.url("login"),
        &[("origin", &origin)],
        Some(&format!("csrf={csrf}&token={TOKEN}")),
    )
    .await;
    assert_eq!(right.status, 303, "{}", right.body);
    assert_eq!(right.header("location"), "/");
    let set_cookie = right.header("set-cookie");
    assert!(set_cookie.contains("HttpOnly"));
    assert!(set_cookie.contains("SameSite=Strict"));
    assert!(set_cookie.contains("Path=/"));
    assert!(!set_cookie.contains(TOKEN), "the cookie is not the token");
    assert!(!set_cookie.contains("Secure"), "plain HTTP on loopback");
    let proxied = request(
        "POST",
        &served.url("login"),
        &[("origin", &origin), ("x-forwarded-proto", "https")],
        Some(&format!("csrf={csrf}&token={TOKEN}")),
    )
    .await;
    assert!(proxied.header("set-cookie").contains("; Secure"), "behind a TLS proxy");
    let cookie = right.cookie().unwrap();
    let overview = get_with(&served.url(""), &[("cookie", &cookie)]).await;
    assert_eq!(overview.status, 200);
    assert!(overview.body.contains("data-page=\"overview\""));
    // A forged or altered cookie is not a session.
    let forged = get_with(&served.url(""), &[("cookie", &format!("{cookie}0"))]).await;
    assert_eq!(forged.status, 401);
    // The session's forms carry its token.
    let page = get_with(&served.url("events/wh_tok"), &[("cookie", &cookie)]).await;
    let replayed = request(
        "POST",
        &served.url("events/wh_tok/replay"),
        &[("cookie", &cookie), ("origin", &origin)],
        Some(&format!("csrf={}", page.csrf())),
    )
    .await;
    assert_eq!(replayed.status, 303, "{}", replayed.body);

    // Signing out clears the cookie in the browser; a bearer client's page offers no sign-out.
    assert!(page.body.contains("<form id=\"logout\""));
    let bearer_page = get_with(&served.url(""), &[("authorization", &bearer)]).await;
    assert!(!bearer_page.body.contains("id=\"logout\""));
    let out = request(
        "POST",
        &served.url("logout"),
        &[("cookie", &cookie), ("origin", &origin)],
        Some(&format!("csrf={}", page.csrf())),
    )
    .await;
    assert_eq!(out.status, 303, "{}", out.body);
    assert_eq!(out.header("location"), "/login");
    assert!(out.header("set-cookie").contains("Max-Age=0"));
    // A copy of the cookie kept after signing out is refused: the console revoked the session.
    let after = get_with(&served.url(""), &[("cookie", &cookie)]).await;
    assert_eq!(after.status, 401, "{}", after.body);
    assert!(!after.body.contains("data-page=\"overview\""));
}

#[tokio::test]
async fn without_a_token_only_requests_addressed_to_loopback_are_answered() {
    let inbox = memory();
    store(inbox.as_ref(), &payment("wh_rebound", "1.00", 1), now_ms()).await;
    let served = serve(crate::console(inbox.clone())).await;
    let port = served.addr.port();
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("LOCALHOST.:{port}"),
        format!("[::1]:{port}"),
        "127.1.2.3".to_owned(),
    ] {
        let answer = get_with(&served.url("events/wh_rebound"), &[("host", &host)]).await;
        assert_eq!(answer.status, 200, "{host}: {}", answer.body);
    }
    // A page of another site whose name now resolves to 127.0.0.1 (DNS rebinding) reads nothing ...
    let attacker = format!("attacker.example:{port}");
    for path in ["", "events/wh_rebound", "login", "stream"] {
        let answer = get_with(&served.url(path), &[("host", &attacker), ("accept", "text/html")]).await;
        assert_eq!(answer.status, 403, "{path}: {}", answer.body);
        assert!(!answer.body.contains("wh_rebound"), "{path}");
        assert!(answer.body.contains("localhost"), "{}", answer.body);
    }
    for host in ["127.0.0.1.attacker.example", "[::2]:80", "localhost:x", ""] {
        let answer = get_with(&served.url(""), &[("host", host)]).await;
        assert_eq!(answer.status, 403, "{host:?}: {}", answer.body);
    }
    // ... and posts nothing, even as a same-origin page with the form's token.
    let page = get(&served.url("events/wh_rebound")).await;
    let replay = request(
        "POST",
        &served.url("events/wh_rebound/replay"),
        &[
            ("host", &attacker),
            ("cookie", &page.cookie().unwrap()),
            ("origin", &format!("http://{attacker}")),
            ("sec-fetch-site", "same-origin"),
        ],
        Some(&format!("csrf={}", page.csrf())),
    )
    .await;
    assert_eq!(replay.status, 403, "{}", replay.body);

    // With an admin token, the console answers by any name (behind a proxy, say).
    let with_token = serve(with_token()).await;
    let answer = get_with(
        &with_token.url(""),
        &[
            ("host", "console.example.com"),
            ("authorization", &format!("Bearer {TOKEN}")),
        ],
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

#[tokio::test]
async fn a_signed_in_session_behind_a_proxy_with_basic_sign_in_is_accepted() {
    let served = serve(with_token()).await;
    let login = get(&served.url("login")).await;
    let signed_in = request(
        "POST",
        &served.url("login"),
        &[("origin", &format!("http://{}", served.addr))],
        Some(&format!("csrf={}&token={TOKEN}", login.csrf())),
    )
    .await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let cookie = signed_in.cookie().unwrap();
    // The browser also sends the credentials of the proxy's own Basic sign-in.
    let basic = "Basic dXNlcjpwcm94eS1wYXNzd29yZA==";
    let page = get_with(&served.url(""), &[("cookie", &cookie), ("authorization", basic)]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("data-page=\"overview\""));
    // Without the session, Basic credentials are not the admin token.
    let alone = get_with(&served.url(""), &[("authorization", basic)]).await;
    assert_eq!(alone.status, 401);
    // A wrong bearer token is refused even with the session.
    let wrong = get_with(
        &served.url(""),
        &[("cookie", &cookie), ("authorization", "Bearer not-the-token")],
    )
    .await;
    assert_eq!(wrong.status, 401);
}
