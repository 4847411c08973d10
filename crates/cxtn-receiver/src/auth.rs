//! Authenticating the sender by what the endpoint URL carries.

use base64::Engine as _;
use cxtn_model::Secret;

/// How the receiver tells CXTN from anyone else: CXTN signs nothing, so the endpoint URL
/// carries the secret: an unguessable path token, HTTP Basic credentials, or both.
#[derive(Debug, Clone, Default)]
pub(crate) struct Auth {
    path_token: Option<Secret>,
    /// The user, and `user:password` as the Basic header carries it once decoded.
    basic: Option<(String, Secret)>,
    unauthenticated: bool,
    /// What was wrong with a secret given, reported by the builder's `build()`.
    refused: Option<&'static str>,
}

impl Auth {
    pub(crate) fn set_path_token(&mut self, token: Secret) {
        if token.expose_secret().trim().is_empty() {
            self.refused = Some(
                "the path token is empty: give path_token(..) an unguessable value of 32 or more random characters",
            );
        }
        self.path_token = Some(token);
    }

    pub(crate) fn set_basic(&mut self, user: String, password: &Secret) {
        if user.is_empty() || password.is_empty() {
            self.refused =
                Some("the Basic credentials are empty: give basic_auth(..) a user and a password, both non-empty");
        }
        let expected = Secret::new(format!("{user}:{}", password.expose_secret()));
        self.basic = Some((user, expected));
    }

    pub(crate) fn set_unauthenticated(&mut self, allow: bool) {
        self.unauthenticated = allow;
    }

    /// Why a secret given cannot authenticate anyone, if one cannot.
    pub(crate) fn refused(&self) -> Option<&'static str> {
        self.refused
    }

    /// Whether anything authenticates the sender.
    pub(crate) fn is_configured(&self) -> bool {
        self.path_token.is_some() || self.basic.is_some()
    }

    /// Whether the receiver may run without authentication.
    pub(crate) fn allows_unauthenticated(&self) -> bool {
        self.unauthenticated
    }

    /// Whether a request is from the configured sender. Every configured check runs, in constant time
    /// over the secret, whatever fails first, so neither timing nor the answer tells which part was wrong.
    pub(crate) fn check(&self, path: &str, authorization: Option<&[u8]>) -> bool {
        let mut ok = subtle::Choice::from(1u8);
        if let Some(token) = &self.path_token {
            let last = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
            ok &= token.ct_eq(last.as_bytes());
        }
        if let Some((_, expected)) = &self.basic {
            let given = authorization.and_then(decode_basic).unwrap_or_default();
            ok &= expected.ct_eq(&given);
        }
        bool::from(ok)
    }

    /// Whether Basic credentials are expected (to send a `WWW-Authenticate` challenge).
    pub(crate) fn wants_basic(&self) -> bool {
        self.basic.is_some()
    }
}

fn decode_basic(header: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(header).ok()?.trim();
    let (scheme, encoded) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, pass: &str) -> Vec<u8> {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        )
        .into_bytes()
    }

    #[test]
    fn path_token_is_the_last_segment() {
        let mut auth = Auth::default();
        auth.set_path_token("t0k3n".into());
        assert!(auth.check("/cxtn/t0k3n", None));
        assert!(auth.check("/t0k3n/", None));
        assert!(!auth.check("/cxtn/t0k3", None));
        assert!(!auth.check("/cxtn/t0k3nn", None));
        assert!(!auth.check("/t0k3n/other", None));
        assert!(!auth.check("/", None));
    }

    #[test]
    fn both_parts_must_match() {
        let mut auth = Auth::default();
        auth.set_path_token("tok".into());
        auth.set_basic("cxtn".into(), &"pw".into());
        assert!(auth.check("/tok", Some(&basic("cxtn", "pw"))));
        assert!(!auth.check("/tok", Some(&basic("cxtn", "px"))));
        assert!(!auth.check("/bad", Some(&basic("cxtn", "pw"))));
        assert!(!auth.check("/tok", None));
        assert!(!auth.check("/tok", Some(b"Bearer abc")));
        assert!(!auth.check("/tok", Some(b"Basic !!!")));
    }

    #[test]
    fn debug_hides_secrets() {
        let mut auth = Auth::default();
        auth.set_path_token("secret-token".into());
        auth.set_basic("cxtn".into(), &"secret-pass".into());
        let text = format!("{auth:?}");
        assert!(
            !text.contains("secret-token") && !text.contains("secret-pass"),
            "{text}"
        );
    }
}
