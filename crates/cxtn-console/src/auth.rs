//! Sessions, CSRF tokens and the admin token check.
//!
//! A session is a cookie the console signs with a key drawn at start (so a restart signs everyone out):
//! `<kind>.<issued seconds>.<nonce>.<mac>`, where the kind is `u` for a session signed in with the admin token and
//! `a` for an anonymous one (a console without a token). The CSRF token of a form is a MAC of the session cookie,
//! so a page of another site can neither read nor forge it.
//!
//! Signing out revokes the session: the console keeps the MACs of the sessions signed out until they would have
//! expired, so a copy of the cookie is refused too (until a restart, which signs everyone out anyway).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use cxtn_model::Secret;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, ErrorKind};

/// The session cookie's name.
pub(crate) const COOKIE: &str = "cxtn_console";

/// How long a session lasts.
pub(crate) const SESSION_SECS: u64 = 12 * 60 * 60;

/// The keys of one console.
pub(crate) struct Keys {
    mac: [u8; 32],
    /// The sessions signed out before they expired: each one's MAC, with the time it was issued.
    revoked: Mutex<HashMap<String, u64>>,
}

/// A session read from a valid cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Session {
    /// The cookie's value.
    pub(crate) cookie: String,
    /// Signed in with the admin token (not anonymous).
    pub(crate) signed_in: bool,
}

impl Keys {
    pub(crate) fn random() -> Result<Self, Error> {
        Ok(Self {
            mac: random_bytes()?,
            revoked: Mutex::new(HashMap::new()),
        })
    }

    /// A new session cookie value.
    pub(crate) fn new_session(&self, signed_in: bool) -> Option<String> {
        let nonce = random_bytes().ok()?;
        let kind = if signed_in { "u" } else { "a" };
        let payload = format!("{kind}.{}.{}", now_secs(), hex(&nonce[..16]));
        let mac = hex(&self.hmac(&[b"session:", payload.as_bytes()]));
        Some(format!("{payload}.{mac}"))
    }

    /// The session a cookie value holds, when it is one this console signed and it has not expired.
    pub(crate) fn session(&self, cookie: &str) -> Option<Session> {
        let (payload, mac) = cookie.rsplit_once('.')?;
        let expected = hex(&self.hmac(&[b"session:", payload.as_bytes()]));
        if !eq(expected.as_bytes(), mac.as_bytes()) {
            return None;
        }
        let mut parts = payload.split('.');
        let kind = parts.next()?;
        let issued: u64 = parts.next()?.parse().ok()?;
        let now = now_secs();
        if issued > now.saturating_add(60) || now.saturating_sub(issued) > SESSION_SECS {
            return None;
        }
        if self
            .revoked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(mac)
        {
            return None;
        }
        Some(Session {
            cookie: cookie.to_owned(),
            signed_in: kind == "u",
        })
    }

    /// Signs a session out: its cookie, and every copy of it, is refused from now on. Sessions that have expired
    /// anyway are forgotten, so the list holds only the ones that could still be presented.
    pub(crate) fn revoke(&self, session: &Session) {
        let Some((payload, mac)) = session.cookie.rsplit_once('.') else {
            return;
        };
        let issued = payload
            .split('.')
            .nth(1)
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or(0);
        let now = now_secs();
        let mut revoked = self.revoked.lock().unwrap_or_else(PoisonError::into_inner);
        revoked.retain(|_, at| now.saturating_sub(*at) <= SESSION_SECS);
        revoked.insert(mac.to_owned(), issued);
    }

    /// The CSRF token of the forms shown to a session (or to a request without one: a bearer-token client, or the
    /// login page).
    pub(crate) fn csrf(&self, session: Option<&str>) -> String {
        hex(&self.hmac(&[b"csrf:", session.unwrap_or("").as_bytes()]))
    }

    /// Whether `presented` is the CSRF token of `session`, compared in constant time.
    pub(crate) fn csrf_matches(&self, session: Option<&str>, presented: &str) -> bool {
        eq(self.csrf(session).as_bytes(), presented.as_bytes())
    }

    /// HMAC-SHA-256 of the concatenated parts.
    fn hmac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut inner_key = [0x36u8; 64];
        let mut outer_key = [0x5cu8; 64];
        for (i, byte) in self.mac.iter().enumerate() {
            if let (Some(inner), Some(outer)) = (inner_key.get_mut(i), outer_key.get_mut(i)) {
                *inner ^= byte;
                *outer ^= byte;
            }
        }
        let mut inner = Sha256::new();
        inner.update(inner_key);
        for part in parts {
            inner.update(part);
        }
        let mut outer = Sha256::new();
        outer.update(outer_key);
        outer.update(inner.finalize());
        outer.finalize().into()
    }
}

/// Whether an `Authorization` header carries the admin token as a bearer token, compared in constant time.
pub(crate) fn bearer_matches(token: &Secret, authorization: Option<&str>) -> bool {
    let presented = authorization
        .and_then(|text| text.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map_or("", |(_, presented)| presented.trim());
    bool::from(token.ct_eq(presented.as_bytes()))
}

/// The value of the cookie `name` in a `Cookie` header.
pub(crate) fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key.trim() == name).then(|| value.trim())
    })
}

fn random_bytes() -> Result<[u8; 32], Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!("the system's random number generator failed: {e}"),
        )
    })?;
    Ok(bytes)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}

/// Constant-time equality of two byte strings (a length difference is not hidden; every value compared here
/// has a fixed length for a given console).
fn eq(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_signed_and_csrf_tokens_bound_to_them() {
        let keys = Keys::random().unwrap();
        let cookie = keys.new_session(true).unwrap();
        let session = keys.session(&cookie).unwrap();
        assert!(session.signed_in);
        assert!(!keys.session(&keys.new_session(false).unwrap()).unwrap().signed_in);
        // Another console's cookie, a changed kind, a truncated MAC: refused.
        assert_eq!(Keys::random().unwrap().session(&cookie), None);
        assert_eq!(keys.session(&cookie.replacen('u', "a", 1)), None);
        assert_eq!(keys.session(&cookie[..cookie.len() - 1]), None);
        assert_eq!(keys.session("garbage"), None);
        let csrf = keys.csrf(Some(&cookie));
        assert!(keys.csrf_matches(Some(&cookie), &csrf));
        assert!(!keys.csrf_matches(None, &csrf));
        assert!(!keys.csrf_matches(Some(&cookie), ""));
    }

    #[test]
    fn a_session_signed_out_is_refused_and_others_are_not() {
        let keys = Keys::random().unwrap();
        let gone = keys.new_session(true).unwrap();
        let kept = keys.new_session(true).unwrap();
        keys.revoke(&keys.session(&gone).unwrap());
        assert_eq!(keys.session(&gone), None);
        assert!(keys.session(&kept).is_some());
    }

    #[test]
    fn the_admin_token_is_a_bearer_token() {
        let token = Secret::from("s3cret-admin");
        assert!(bearer_matches(&token, Some("Bearer s3cret-admin")));
        assert!(bearer_matches(&token, Some("bearer  s3cret-admin ")));
        assert!(!bearer_matches(&token, None));
        assert!(!bearer_matches(&token, Some("Bearer s3cret-admi")));
        assert!(!bearer_matches(&token, Some("Basic s3cret-admin")));
    }

    #[test]
    fn cookies_are_found_by_name() {
        assert_eq!(cookie("a=1; cxtn_console=x.y; b=2", COOKIE), Some("x.y"));
        assert_eq!(cookie("a=1", COOKIE), None);
    }
}
