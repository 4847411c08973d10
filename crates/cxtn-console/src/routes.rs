//! Routing, authentication, CSRF checks and the pages' handlers.

use askama::Template;
use bytes::Bytes;
use cxtn_receiver::inbox::{EventFilter, EventId, EventRecord, InboxError};
use cxtn_receiver::{ErrorKind as ReceiverErrorKind, ReplayTarget};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Limited};

use crate::auth::{self, Session};
use crate::body::Body;
use crate::pages::{self, Common, Flash, Row, StatusOption};
use crate::query::{self, EventsQuery, PAGE_SIZE};
use crate::{Shared, assets, chart, stream, text};

/// The Content-Security-Policy of every response: nothing inline, nothing from elsewhere.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                              connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The largest form body read.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// The rejections listed per page.
const REJECTIONS_PAGE: usize = 100;

/// Who is asking, once authenticated.
struct Caller {
    /// The valid session cookie the request carried, if any.
    session: Option<Session>,
    /// A session cookie to set with the response (an anonymous one, for a console without a token).
    new_cookie: Option<String>,
}

impl Caller {
    /// The cookie value the page's CSRF token is bound to.
    fn bound(&self) -> Option<&str> {
        self.new_cookie
            .as_deref()
            .or(self.session.as_ref().map(|s| s.cookie.as_str()))
    }
}

/// A response being built: status, page, and headers added at the end.
pub(crate) struct Reply {
    status: StatusCode,
    content_type: &'static str,
    body: Body,
    headers: Vec<(header::HeaderName, HeaderValue)>,
    /// Pages and streams are `no-store`; assets may be revalidated.
    no_store: bool,
}

impl Reply {
    fn html(status: StatusCode, html: String) -> Self {
        Self {
            status,
            content_type: "text/html; charset=utf-8",
            body: Body::whole(html),
            headers: Vec::new(),
            no_store: true,
        }
    }

    fn redirect(location: &str) -> Self {
        let mut reply = Self {
            status: StatusCode::SEE_OTHER,
            content_type: "text/plain; charset=utf-8",
            body: Body::empty(),
            headers: Vec::new(),
            no_store: true,
        };
        if let Ok(value) = HeaderValue::from_str(location) {
            reply.headers.push((header::LOCATION, value));
        }
        reply
    }

    pub(crate) fn stream(body: Body) -> Self {
        Self {
            status: StatusCode::OK,
            content_type: "text/event-stream",
            body,
            headers: Vec::new(),
            no_store: true,
        }
    }

    pub(crate) fn asset(content_type: &'static str, bytes: &'static [u8]) -> Self {
        Self {
            status: StatusCode::OK,
            content_type,
            body: Body::whole(Bytes::from_static(bytes)),
            headers: Vec::new(),
            no_store: false,
        }
    }

    pub(crate) fn header(mut self, name: header::HeaderName, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.push((name, value));
        }
        self
    }

    fn into_response(self) -> Response<Body> {
        let mut response = Response::new(self.body);
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
        headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        );
        headers.insert(
            header::HeaderName::from_static("cross-origin-resource-policy"),
            HeaderValue::from_static("same-origin"),
        );
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(if self.no_store { "no-store" } else { "no-cache" }),
        );
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        response
    }
}

/// What a request asks, read before its body.
struct Asked {
    method: Method,
    /// The path relative to the base path, starting with `/`.
    path: String,
    query: Option<String>,
    headers: HeaderMap,
}

pub(crate) async fn handle<B>(shared: &Shared, request: Request<B>) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (parts, body) = request.into_parts();
    let full_path = parts.uri.path();
    let base = shared.base.as_str();
    if full_path == base && !base.is_empty() {
        return Reply::redirect(&format!("{base}/")).into_response();
    }
    let Some(path) = full_path.strip_prefix(base).filter(|rest| rest.starts_with('/')) else {
        return error_page(
            shared,
            None,
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such page.",
        )
        .into_response();
    };
    if shared.token.is_none() && !addressed_to_loopback(&parts.headers, &parts.uri) {
        return error_page(
            shared,
            None,
            StatusCode::FORBIDDEN,
            "Refused",
            "this console has no admin token, so it answers only requests addressed to localhost, 127.0.0.1 or \
             [::1]: open it by one of those names, or set an admin token to reach it by another",
        )
        .into_response();
    }
    let asked = Asked {
        method: parts.method,
        path: path.to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
    };
    route(shared, asked, body).await.into_response()
}

async fn route<B>(shared: &Shared, asked: Asked, body: B) -> Reply
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let method = asked.method.clone();
    let path = asked.path.clone();
    if let Some(reply) = assets::serve(&method, &path) {
        return reply;
    }
    if path == "/login" {
        return match method {
            Method::GET | Method::HEAD => login_page(shared, &asked, None, StatusCode::OK),
            Method::POST => login(shared, &asked, body).await,
            _ => not_allowed(shared, "GET, POST"),
        };
    }
    let caller = match authenticate(shared, &asked) {
        Ok(caller) => caller,
        Err(reply) => return reply,
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let reply = match (&method, segments.as_slice()) {
        (&Method::GET | &Method::HEAD, [""]) => overview(shared, &caller, &asked).await,
        (&Method::GET | &Method::HEAD, ["events"]) => events(shared, &caller, &asked).await,
        (&Method::GET | &Method::HEAD, ["events", id]) => match decode(id) {
            Some(id) => event(shared, &caller, &asked, &id, None, StatusCode::OK).await,
            None => bad_segment(shared, &caller),
        },
        (&Method::POST, ["events", id, "replay"]) => match decode(id) {
            Some(id) => match check_post(shared, &caller, &asked, body).await {
                Ok(_) => replay(shared, &caller, &asked, &id).await,
                Err(reply) => reply,
            },
            None => bad_segment(shared, &caller),
        },
        (&Method::POST, ["logout"]) => match check_post(shared, &caller, &asked, body).await {
            Ok(_) => {
                if let Some(session) = &caller.session {
                    shared.keys.revoke(session);
                }
                Reply::redirect(&format!("{}/login", shared.base)).header(
                    header::SET_COOKIE,
                    &format!(
                        "{}=; Path={}/; HttpOnly; SameSite=Strict; Max-Age=0",
                        auth::COOKIE,
                        shared.base
                    ),
                )
            }
            Err(reply) => reply,
        },
        (&Method::GET | &Method::HEAD, ["rejections"]) => rejections(shared, &caller, &asked).await,
        (&Method::GET | &Method::HEAD, ["rejections", id]) => match id.parse::<i64>() {
            Ok(id) => rejection(shared, &caller, &asked, id, None, StatusCode::OK).await,
            Err(_) => bad_rejection_id(shared, &caller, id),
        },
        (&Method::POST, ["rejections", id, "reparse"]) => match id.parse::<i64>() {
            Ok(id) => match check_post(shared, &caller, &asked, body).await {
                Ok(_) => reparse(shared, &caller, &asked, id).await,
                Err(reply) => reply,
            },
            Err(_) => bad_rejection_id(shared, &caller, id),
        },
        (&Method::GET, ["stream"]) => match EventsQuery::parse(asked.query.as_deref()) {
            Ok(query) => stream::open(shared, &asked.headers, query),
            Err(message) => error_page(shared, caller.bound(), StatusCode::BAD_REQUEST, "Bad request", &message),
        },
        (_, [""] | ["events"] | ["events", _] | ["rejections"] | ["rejections", _] | ["stream"]) => {
            not_allowed(shared, "GET")
        }
        (_, ["events", _, "replay"] | ["rejections", _, "reparse"] | ["logout"]) => not_allowed(shared, "POST"),
        _ => error_page(
            shared,
            caller.bound(),
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such page.",
        ),
    };
    match caller.new_cookie {
        Some(cookie) => reply.header(header::SET_COOKIE, &session_cookie(shared, &asked.headers, &cookie)),
        None => reply,
    }
}

/// The `Set-Cookie` value of a session.
fn session_cookie(shared: &Shared, headers: &HeaderMap, value: &str) -> String {
    // Behind a reverse proxy that speaks TLS to the browser, the cookie is never sent over plain HTTP.
    let secure = headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
    format!(
        "{}={value}; Path={}/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        auth::COOKIE,
        shared.base,
        auth::SESSION_SECS,
        if secure { "; Secure" } else { "" }
    )
}

/// Whether a request is addressed (`Host`, or the URI's authority) to a loopback name or address.
///
/// Without an admin token this is what keeps the console to this machine's own browser: a page of another site
/// whose name was made to resolve to 127.0.0.1 (DNS rebinding) reaches the console with its own name as the host,
/// and could otherwise read every page and post forms as a same-origin page. A request without a host at all
/// (HTTP/1.0) is not a browser's.
fn addressed_to_loopback(headers: &HeaderMap, uri: &http::Uri) -> bool {
    let host = match headers.get(header::HOST) {
        Some(value) => match value.to_str() {
            Ok(host) => host,
            Err(_) => return false,
        },
        None => match uri.authority() {
            Some(authority) => authority.host(),
            None => return true,
        },
    };
    let host = host.trim();
    let name = match host.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((address, port)) if port.is_empty() || is_port(port.strip_prefix(':')) => address,
            _ => return false,
        },
        None => match host.rsplit_once(':') {
            Some((name, port)) if is_port(Some(port)) => name,
            Some(_) => return false,
            None => host,
        },
    };
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    match name.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(std::net::IpAddr::V6(v6)) => v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        Err(_) => false,
    }
}

fn is_port(text: Option<&str>) -> bool {
    text.is_some_and(|port| port.bytes().all(|b| b.is_ascii_digit()))
}

/// Who is asking: with an admin token, a bearer token or a signed-in session, else a 303 to `/login` for a
/// browser page and a 401 otherwise; without one, anyone (on loopback), with an anonymous session for CSRF.
fn authenticate(shared: &Shared, asked: &Asked) -> Result<Caller, Reply> {
    let session = asked
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| auth::cookie(value, auth::COOKIE))
        .and_then(|value| shared.keys.session(value));
    let Some(token) = &shared.token else {
        let new_cookie = match session {
            Some(_) => None,
            None => shared.keys.new_session(false),
        };
        return Ok(Caller { session, new_cookie });
    };
    // Only a bearer token is the console's: another scheme (the Basic sign-in of a reverse proxy in front) is
    // the proxy's business, and the session cookie still decides.
    let authorization = asked
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .filter(|text| {
            text.trim()
                .split_once(' ')
                .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        });
    if authorization.is_some() {
        if auth::bearer_matches(token, authorization) {
            return Ok(Caller {
                session: session.filter(|s| s.signed_in),
                new_cookie: None,
            });
        }
        return Err(unauthorized(
            shared,
            "the admin token in the Authorization header is not this console's",
        ));
    }
    if let Some(session) = session.filter(|s| s.signed_in) {
        return Ok(Caller {
            session: Some(session),
            new_cookie: None,
        });
    }
    let wants_page = asked.method == Method::GET
        && asked.path != "/stream"
        && asked
            .headers
            .get(header::ACCEPT)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"));
    if wants_page {
        return Err(Reply::redirect(&format!("{}/login", shared.base)));
    }
    Err(unauthorized(
        shared,
        "this console needs its admin token: sign in at /login, or send `Authorization: Bearer <token>`",
    ))
}

fn unauthorized(shared: &Shared, message: &str) -> Reply {
    error_page(shared, None, StatusCode::UNAUTHORIZED, "Sign in needed", message)
        .header(header::WWW_AUTHENTICATE, "Bearer realm=\"cxtn-console\"")
}

/// The login page.
fn login_page(shared: &Shared, asked: &Asked, error: Option<String>, status: StatusCode) -> Reply {
    let _ = asked;
    let page = pages::Login {
        common: common(shared, None, "Sign in", None, None),
        error: error.or_else(|| {
            shared
                .token
                .is_none()
                .then(|| "This console has no admin token: every page is open on its loopback address.".to_owned())
        }),
    };
    render(shared, status, &page)
}

/// `POST /login`: the form's token checked in constant time; a session cookie on success.
async fn login<B>(shared: &Shared, asked: &Asked, body: B) -> Reply
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let form = match check_origin(asked) {
        Ok(()) => match read_form(body).await {
            Ok(form) => form,
            Err(message) => return error_page(shared, None, StatusCode::BAD_REQUEST, "Bad request", &message),
        },
        Err(message) => return error_page(shared, None, StatusCode::FORBIDDEN, "Refused", &message),
    };
    if !shared.keys.csrf_matches(None, field(&form, "csrf")) {
        return error_page(
            shared,
            None,
            StatusCode::FORBIDDEN,
            "Refused",
            "the form's CSRF token is missing or stale: load the sign-in page again and retry",
        );
    }
    let Some(token) = &shared.token else {
        return Reply::redirect(&format!("{}/", shared.base));
    };
    if !bool::from(token.ct_eq(field(&form, "token").as_bytes())) {
        return login_page(
            shared,
            asked,
            Some("That is not this console's admin token.".to_owned()),
            StatusCode::UNAUTHORIZED,
        );
    }
    match shared.keys.new_session(true) {
        Some(cookie) => Reply::redirect(&format!("{}/", shared.base))
            .header(header::SET_COOKIE, &session_cookie(shared, &asked.headers, &cookie)),
        None => error_page(
            shared,
            None,
            StatusCode::INTERNAL_SERVER_ERROR,
            "Cannot sign in",
            "the system's random number generator failed: try again",
        ),
    }
}

/// Checks a POST: its origin, then its form's CSRF token, bound to the caller's session.
async fn check_post<B>(shared: &Shared, caller: &Caller, asked: &Asked, body: B) -> Result<Vec<(String, String)>, Reply>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let refused = |message: &str| error_page(shared, caller.bound(), StatusCode::FORBIDDEN, "Refused", message);
    check_origin(asked).map_err(|message| refused(&message))?;
    let form = read_form(body)
        .await
        .map_err(|message| error_page(shared, caller.bound(), StatusCode::BAD_REQUEST, "Bad request", &message))?;
    // A bearer-token client without a cookie has no session: its forms carry the token of no session.
    let session = caller.session.as_ref().map(|s| s.cookie.as_str());
    if !shared.keys.csrf_matches(session, field(&form, "csrf")) {
        return Err(refused(
            "the form's CSRF token is missing or does not belong to this session: reload the page and retry",
        ));
    }
    Ok(form)
}

/// The `Sec-Fetch-Site` and `Origin` of a POST must say it comes from the console's own pages.
///
/// A browser that sends `Sec-Fetch-Site` says where the request came from: only `same-origin` (or `none`, typed
/// by the user) passes, and then its `Origin` may read `null`, as browsers send it under `Referrer-Policy:
/// no-referrer`. Without `Sec-Fetch-Site`, an `Origin` must name the host the request was sent to; a `null` one
/// is refused. A client that sends neither (not a browser) still needs the form's CSRF token.
fn check_origin(asked: &Asked) -> Result<(), String> {
    let header_text = |name: &str| asked.headers.get(name).and_then(|value| value.to_str().ok());
    let fetch_site = header_text("sec-fetch-site");
    if let Some(site) = fetch_site {
        if matches!(site, "same-origin" | "none") {
            if header_text("origin").is_none_or(|origin| origin == "null") {
                return Ok(());
            }
        } else {
            return Err(format!(
                "this request came from another site (Sec-Fetch-Site: {}): use the console's own pages",
                text::visible_str(site, false)
            ));
        }
    }
    if let Some(origin) = header_text("origin") {
        let host = header_text("host").unwrap_or("");
        let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
        if origin_host.is_empty() || !origin_host.eq_ignore_ascii_case(host) {
            return Err(format!(
                "this request came from {}, not from the console's own pages: use the console itself (behind a \
                 proxy, keep the Host header as the browser sent it)",
                text::visible_str(origin, false)
            ));
        }
    }
    Ok(())
}

async fn read_form<B>(body: B) -> Result<Vec<(String, String)>, String>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let bytes = Limited::new(body, MAX_FORM_BYTES)
        .collect()
        .await
        .map_err(|_| format!("the form could not be read or is larger than {MAX_FORM_BYTES} bytes"))?
        .to_bytes();
    Ok(url::form_urlencoded::parse(&bytes)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect())
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    form.iter()
        .find(|(key, _)| key == name)
        .map_or("", |(_, value)| value.as_str())
}

fn common(shared: &Shared, bound: Option<&str>, title: &str, flash: Option<Flash>, live: Option<String>) -> Common {
    Common {
        base: format!("{}/", shared.base),
        title: title.to_owned(),
        csrf: shared.keys.csrf(bound),
        flash,
        live,
        // With a token, only a signed-in session has a cookie to bind forms to.
        sign_out: shared.token.is_some() && bound.is_some(),
    }
}

fn render(shared: &Shared, status: StatusCode, page: &impl Template) -> Reply {
    match page.render() {
        Ok(html) => Reply::html(status, html),
        Err(e) => {
            tracing::error!(error = %e, "a console page failed to render");
            let fallback = pages::ErrorPage {
                common: common(shared, None, "Error", None, None),
                heading: "Error".to_owned(),
                message: "this page failed to render: see the server's log".to_owned(),
            };
            Reply::html(
                StatusCode::INTERNAL_SERVER_ERROR,
                fallback
                    .render()
                    .unwrap_or_else(|_| "this page failed to render".to_owned()),
            )
        }
    }
}

fn error_page(shared: &Shared, bound: Option<&str>, status: StatusCode, heading: &str, message: &str) -> Reply {
    let page = pages::ErrorPage {
        common: common(shared, bound, heading, None, None),
        heading: heading.to_owned(),
        message: message.to_owned(),
    };
    render(shared, status, &page)
}

fn not_allowed(shared: &Shared, allow: &str) -> Reply {
    error_page(
        shared,
        None,
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed",
        &format!("this page accepts {allow} only"),
    )
    .header(header::ALLOW, allow)
}

fn inbox_failed(shared: &Shared, caller: &Caller, e: &InboxError) -> Reply {
    tracing::warn!(error = %e, "the console could not read the inbox");
    error_page(
        shared,
        caller.bound(),
        StatusCode::SERVICE_UNAVAILABLE,
        "The inbox failed",
        &format!("the inbox did not answer: {e}; try again in a moment"),
    )
    .header(header::RETRY_AFTER, "5")
}

fn bad_segment(shared: &Shared, caller: &Caller) -> Reply {
    error_page(
        shared,
        caller.bound(),
        StatusCode::BAD_REQUEST,
        "Bad request",
        "the event id in the path is not valid percent-encoded UTF-8: follow a link from the events page",
    )
}

fn bad_rejection_id(shared: &Shared, caller: &Caller, id: &str) -> Reply {
    error_page(
        shared,
        caller.bound(),
        StatusCode::BAD_REQUEST,
        "Bad request",
        &format!(
            "`{}` is not a rejection id: rejection ids are whole numbers, as listed on the rejections page",
            text::visible_str(id, false)
        ),
    )
}

fn decode(segment: &str) -> Option<EventId> {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .ok()
        .filter(|id| !id.is_empty())
        .map(|id| EventId::new(id.into_owned()))
}

/// The flash a redirect asked for, by a fixed code (never text from the URL).
fn flash_of(query: Option<&str>) -> Option<Flash> {
    query::pairs(query)
        .into_iter()
        .find(|(key, _)| key == "done")
        .and_then(|(_, value)| match value.as_str() {
            "replayed" => Some(Flash::good("Replayed: the event is pending again, due now.")),
            "reparsed" => Some(Flash::good("Parsed and stored as an event.")),
            _ => None,
        })
}

async fn overview(shared: &Shared, caller: &Caller, asked: &Asked) -> Reply {
    let now = text::now_ms();
    let stats = match shared.inbox.stats().await {
        Ok(stats) => stats,
        Err(e) => return inbox_failed(shared, caller, &e),
    };
    let buckets = match shared.inbox.arrivals(now - chart::WINDOW_MS, chart::BUCKET_MS).await {
        Ok(buckets) => buckets,
        Err(e) => return inbox_failed(shared, caller, &e),
    };
    let recent = match shared.inbox.events(EventFilter::all().limit(10)).await {
        Ok(recent) => recent,
        Err(e) => return inbox_failed(shared, caller, &e),
    };
    let buckets: Vec<(i64, u64)> = buckets.iter().map(|b| (b.start_ms, b.events)).collect();
    let page = pages::Overview {
        common: common(
            shared,
            caller.bound(),
            "Overview",
            flash_of(asked.query.as_deref()),
            Some(EventsQuery::default().live(recent.first().map(EventRecord::cursor).as_ref(), now)),
        ),
        oldest_pending: stats
            .oldest_pending_at_ms
            .map_or_else(|| "none".to_owned(), |at| format!("{} ago", text::age(now - at))),
        stats,
        chart: chart::chart(&buckets, now),
        rows: recent.iter().map(Row::new).collect(),
        filtered: false,
    };
    render(shared, StatusCode::OK, &page)
}

async fn events(shared: &Shared, caller: &Caller, asked: &Asked) -> Reply {
    let query = match EventsQuery::parse(asked.query.as_deref()) {
        Ok(query) => query,
        Err(message) => {
            return error_page(shared, caller.bound(), StatusCode::BAD_REQUEST, "Bad request", &message);
        }
    };
    let mut records = match shared.inbox.events(query.filter(PAGE_SIZE + 1)).await {
        Ok(records) => records,
        Err(e) => return inbox_failed(shared, caller, &e),
    };
    let next_page = if records.len() > PAGE_SIZE {
        records.truncate(PAGE_SIZE);
        records.last().map(|last| query.next_page(&last.cursor()))
    } else {
        None
    };
    let first_page = {
        let mut first = query.clone();
        first.after = None;
        let text = first.next_page_without_cursor();
        if text.is_empty() {
            String::new()
        } else {
            format!("?{text}")
        }
    };
    let filtered = query.is_filtered();
    let page = pages::Events {
        // New arrivals join the first page, with the same filters.
        common: common(
            shared,
            caller.bound(),
            "Events",
            None,
            query
                .after
                .is_none()
                .then(|| query.live(records.first().map(EventRecord::cursor).as_ref(), text::now_ms())),
        ),
        statuses: pages::STATUSES
            .iter()
            .map(|status| StatusOption {
                name: status.as_str(),
                selected: query.status == Some(*status),
            })
            .collect(),
        rows: records.iter().map(Row::new).collect(),
        filtered,
        next_page,
        first_page,
        query,
    };
    render(shared, StatusCode::OK, &page)
}

async fn event(
    shared: &Shared,
    caller: &Caller,
    asked: &Asked,
    id: &EventId,
    flash: Option<Flash>,
    status: StatusCode,
) -> Reply {
    let record = match shared.inbox.event(id).await {
        Ok(Some(record)) => record,
        Ok(None) => {
            return error_page(
                shared,
                caller.bound(),
                StatusCode::NOT_FOUND,
                "No such event",
                &format!(
                    "no stored event has the id `{}`: find it on the events page",
                    text::visible_str(id.as_str(), false)
                ),
            );
        }
        Err(e) => return inbox_failed(shared, caller, &e),
    };
    let conflicts = if record.conflicts > 0 {
        match shared.inbox.conflicts(id).await {
            Ok(conflicts) => conflicts,
            Err(e) => return inbox_failed(shared, caller, &e),
        }
    } else {
        Vec::new()
    };
    let flash = flash.or_else(|| flash_of(asked.query.as_deref()));
    let title = format!("Event {}", text::visible_str(id.as_str(), false));
    let page = pages::Event::new(common(shared, caller.bound(), &title, flash, None), &record, &conflicts);
    render(shared, status, &page)
}

async fn replay(shared: &Shared, caller: &Caller, asked: &Asked, id: &EventId) -> Reply {
    match cxtn_receiver::replay(shared.inbox.as_ref(), ReplayTarget::Event(id.clone())).await {
        Ok(_) => Reply::redirect(&format!(
            "{}/events/{}?done=replayed",
            shared.base,
            pages::segment(id.as_str())
        )),
        Err(e) if e.kind() == ReceiverErrorKind::NotFound => error_page(
            shared,
            caller.bound(),
            StatusCode::NOT_FOUND,
            "No such event",
            &text::visible_str(&e.to_string(), false),
        ),
        Err(e) if e.kind() == ReceiverErrorKind::Inbox => error_page(
            shared,
            caller.bound(),
            StatusCode::SERVICE_UNAVAILABLE,
            "The inbox failed",
            &format!("the replay did not happen: {e}; try again in a moment"),
        ),
        Err(e) => {
            let flash = Flash::bad(format!("Not replayed: {}", text::visible_str(&e.to_string(), false)));
            event(shared, caller, asked, id, Some(flash), StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

async fn rejections(shared: &Shared, caller: &Caller, asked: &Asked) -> Reply {
    let mut before = None;
    for (key, value) in query::pairs(asked.query.as_deref()) {
        if key == "before" && !value.is_empty() {
            match value.parse::<i64>() {
                Ok(id) => before = Some(id),
                Err(_) => {
                    return error_page(
                        shared,
                        caller.bound(),
                        StatusCode::BAD_REQUEST,
                        "Bad request",
                        &format!(
                            "`{}` in `before` is not a rejection id: follow the Older link of the rejections page",
                            text::visible_str(&value, false)
                        ),
                    );
                }
            }
        }
    }
    let mut rows = match shared.inbox.rejections_page(REJECTIONS_PAGE + 1, before).await {
        Ok(rows) => rows,
        Err(e) => return inbox_failed(shared, caller, &e),
    };
    let next_page = if rows.len() > REJECTIONS_PAGE {
        rows.truncate(REJECTIONS_PAGE);
        rows.last().map(|last| last.id)
    } else {
        None
    };
    let page = pages::Rejections {
        common: common(shared, caller.bound(), "Rejections", None, None),
        rows: rows.iter().map(pages::RejectionRow::new).collect(),
        next_page,
    };
    render(shared, StatusCode::OK, &page)
}

async fn rejection(
    shared: &Shared,
    caller: &Caller,
    asked: &Asked,
    id: i64,
    flash: Option<Flash>,
    status: StatusCode,
) -> Reply {
    let rejection = match shared.inbox.rejection(id).await {
        Ok(Some(rejection)) => rejection,
        Ok(None) => {
            return error_page(
                shared,
                caller.bound(),
                StatusCode::NOT_FOUND,
                "No such rejection",
                &format!("no stored rejection has the id {id}: find it on the rejections page"),
            );
        }
        Err(e) => return inbox_failed(shared, caller, &e),
    };
    let flash = flash.or_else(|| {
        // The event it was stored as comes from the inbox, never from the URL.
        flash_of(asked.query.as_deref()).map(|flash| match &rejection.replayed_as {
            Some(event_id) if flash.class == "good" => Flash::good(format!(
                "Parsed and stored as event {}.",
                text::visible_str(event_id.as_str(), false)
            )),
            _ => flash,
        })
    });
    let page = pages::Rejection {
        common: common(shared, caller.bound(), &format!("Rejection {id}"), flash, None),
        row: pages::RejectionRow::new(&rejection),
        body: text::show_body(&rejection.body),
    };
    render(shared, status, &page)
}

/// Re-parse: what `cxtn inbox replay --rejection ID` does, through the receiver's [`cxtn_receiver::replay`].
async fn reparse(shared: &Shared, caller: &Caller, asked: &Asked, id: i64) -> Reply {
    match cxtn_receiver::replay(shared.inbox.as_ref(), ReplayTarget::Rejection(id)).await {
        Ok(_) => Reply::redirect(&format!("{}/rejections/{id}?done=reparsed", shared.base)),
        Err(e) if e.kind() == ReceiverErrorKind::NotFound => error_page(
            shared,
            caller.bound(),
            StatusCode::NOT_FOUND,
            "No such rejection",
            &text::visible_str(&e.to_string(), false),
        ),
        Err(e) if e.kind() == ReceiverErrorKind::Inbox => error_page(
            shared,
            caller.bound(),
            StatusCode::SERVICE_UNAVAILABLE,
            "The inbox failed",
            &format!("the re-parse did not happen: {e}; try again in a moment"),
        ),
        Err(e) => {
            let flash = Flash::bad(format!("Not stored: {}", text::visible_str(&e.to_string(), false)));
            rejection(shared, caller, asked, id, Some(flash), StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}
