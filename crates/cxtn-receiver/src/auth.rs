//! Authenticating the sender by what the endpoint URL carries, with keys that can be replaced while serving.

use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;
use base64::Engine as _;
use cxtn_model::Secret;

use crate::{Error, ErrorKind};

/// The secrets a receiver accepts: any of several path tokens, and any of several HTTP Basic credentials.
///
/// A receiver with path tokens requires one of them as the last path segment; a receiver with Basic
/// credentials requires one of them in the `Authorization` header; with both, it requires one of each.
/// Several of a kind are there for rotation: the old and the new token are accepted side by side until the
/// old one is retired.
/// `Debug` shows how many there are, never what they are.
///
/// ```
/// use cxtn_receiver::Keys;
///
/// let keys = Keys::new()
///     .path_token("the-old-token-of-32-or-more-characters")
///     .path_token("the-new-token-of-32-or-more-characters");
/// assert_eq!(keys.path_token_count(), 2);
/// assert_eq!(format!("{keys:?}"), "Keys { path_tokens: 2, basic_auth: 0 }");
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct Keys {
    path_tokens: Vec<Secret>,
    /// The user, and `user:password` as the Basic header carries it once decoded.
    basic: Vec<(String, Secret)>,
    /// What was wrong with a secret given, reported when the keys are used.
    refused: Option<&'static str>,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("path_tokens", &self.path_tokens.len())
            .field("basic_auth", &self.basic.len())
            .finish()
    }
}

impl Keys {
    /// No keys at all.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a path token: the secret last segment of the endpoint URL (`https://you.example/cxtn/<token>`).
    /// An empty one, or one that no request path can carry as its last segment (it holds a `/`, `?`, `#`,
    /// space, `<`, `>`, `` ` `` or control character), is refused where the keys are used.
    pub fn path_token(mut self, token: impl Into<Secret>) -> Self {
        let token = token.into();
        if token.expose_secret().trim().is_empty() {
            self.refused = Some(
                "a path token is empty: give each path token an unguessable value of 32 or more random characters",
            );
        } else if token
            .expose_secret()
            .chars()
            .any(|c| c.is_ascii_control() || matches!(c, ' ' | '/' | '?' | '#' | '<' | '>' | '`'))
        {
            self.refused = Some(
                "a path token holds a character no request path carries in its last segment (such as / ? # or a space), so it would never be accepted: use letters, digits and - . _ ~",
            );
        }
        self.path_tokens.push(token);
        self
    }

    /// Adds each of `tokens` as a path token ([`path_token`](Self::path_token)).
    pub fn path_tokens<T: Into<Secret>>(self, tokens: impl IntoIterator<Item = T>) -> Self {
        tokens.into_iter().fold(self, Self::path_token)
    }

    /// Adds HTTP Basic credentials the endpoint URL carries (`https://user:pass@you.example/cxtn`).
    /// An empty user or password is refused where the keys are used.
    pub fn basic_auth(mut self, user: impl Into<String>, password: impl Into<Secret>) -> Self {
        let user = user.into();
        let password = password.into();
        if user.is_empty() || password.is_empty() {
            self.refused = Some("Basic credentials are empty: give each user and each password a non-empty value");
        }
        let expected = Secret::new(format!("{user}:{}", password.expose_secret()));
        self.basic.push((user, expected));
        self
    }

    /// How many path tokens are accepted.
    #[must_use]
    pub fn path_token_count(&self) -> usize {
        self.path_tokens.len()
    }

    /// How many Basic credentials are accepted.
    #[must_use]
    pub fn basic_auth_count(&self) -> usize {
        self.basic.len()
    }

    /// Whether there is no key at all: such keys authenticate nobody's requests but let everyone's through.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.path_tokens.is_empty() && self.basic.is_empty()
    }

    /// Whether a request carries the keys. Every configured key is compared, in constant time over the secret,
    /// whichever matches and whatever fails first, so neither timing nor the answer tells which key was near.
    fn check(&self, path: &str, authorization: Option<&[u8]>) -> bool {
        let mut ok = subtle::Choice::from(1u8);
        if !self.path_tokens.is_empty() {
            let last = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
            let mut any = subtle::Choice::from(0u8);
            for token in &self.path_tokens {
                any |= token.ct_eq(last.as_bytes());
            }
            ok &= any;
        }
        if !self.basic.is_empty() {
            let given = authorization.and_then(decode_basic).unwrap_or_default();
            let mut any = subtle::Choice::from(0u8);
            for (_, expected) in &self.basic {
                any |= expected.ct_eq(&given);
            }
            ok &= any;
        }
        bool::from(ok)
    }
}

/// Replaces the keys of a running receiver: get one from [`Receiver::keys`](crate::Receiver::keys).
///
/// A replacement takes effect for the next request; requests already authenticated are not affected.
/// Reading the keys on each request is a lock-free load, so replacing them never slows deliveries down.
///
/// ```
/// use std::sync::Arc;
/// use cxtn_receiver::{Keys, MemoryInbox, Receiver};
///
/// # fn main() -> Result<(), cxtn_receiver::Error> {
/// let receiver = Receiver::builder(Arc::new(MemoryInbox::new()))
///     .path_token("the-old-token-of-32-or-more-characters")
///     .build()?;
/// // Accept the new token beside the old one, then, once nothing uses the old one, the new one alone.
/// receiver.keys().replace(
///     Keys::new()
///         .path_token("the-old-token-of-32-or-more-characters")
///         .path_token("the-new-token-of-32-or-more-characters"),
/// )?;
/// receiver.keys().replace(Keys::new().path_token("the-new-token-of-32-or-more-characters"))?;
/// assert_eq!(receiver.keys().current().path_token_count(), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct KeysHandle {
    keys: Arc<ArcSwap<Keys>>,
    unauthenticated: bool,
}

impl fmt::Debug for KeysHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeysHandle")
            .field("keys", &**self.keys.load())
            .finish_non_exhaustive()
    }
}

impl KeysHandle {
    /// Makes `keys` the ones accepted, from the next request on.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Config`] when a path token, user or password is empty, or when `keys` holds no key at all
    /// and the receiver was not built with
    /// [`allow_unauthenticated(true)`](crate::ReceiverBuilder::allow_unauthenticated): an empty set would let
    /// anyone in. The keys in use stay as they were.
    pub fn replace(&self, keys: Keys) -> Result<(), Error> {
        check(&keys, self.unauthenticated)?;
        self.keys.store(Arc::new(keys));
        Ok(())
    }

    /// The keys accepted now.
    pub fn current(&self) -> Keys {
        Keys::clone(&self.keys.load())
    }
}

/// Whether `keys` can authenticate a receiver that allows (or not) running without authentication.
fn check(keys: &Keys, unauthenticated: bool) -> Result<(), Error> {
    if let Some(refused) = keys.refused {
        return Err(Error::new(ErrorKind::Config, refused));
    }
    if keys.is_empty() && !unauthenticated {
        return Err(Error::new(
            ErrorKind::Config,
            "the receiver has no authentication: set path_token(..) and/or basic_auth(..), or allow_unauthenticated(true) for a private network",
        ));
    }
    Ok(())
}

/// How the receiver tells CXTN from anyone else: CXTN signs nothing, so the endpoint URL
/// carries the secret: an unguessable path token, HTTP Basic credentials, or both.
#[derive(Debug, Clone, Default)]
pub(crate) struct Auth {
    keys: Keys,
    unauthenticated: bool,
}

impl Auth {
    pub(crate) fn add_path_token(&mut self, token: Secret) {
        self.keys = std::mem::take(&mut self.keys).path_token(token);
    }

    pub(crate) fn add_basic(&mut self, user: String, password: Secret) {
        self.keys = std::mem::take(&mut self.keys).basic_auth(user, password);
    }

    pub(crate) fn add_keys(&mut self, keys: Keys) {
        self.keys.path_tokens.extend(keys.path_tokens);
        self.keys.basic.extend(keys.basic);
        self.keys.refused = self.keys.refused.or(keys.refused);
    }

    pub(crate) fn set_unauthenticated(&mut self, allow: bool) {
        self.unauthenticated = allow;
    }

    /// The keys given, ready to serve with; an error when they cannot authenticate anyone.
    pub(crate) fn build(self) -> Result<Live, Error> {
        check(&self.keys, self.unauthenticated)?;
        Ok(Live {
            handle: KeysHandle {
                keys: Arc::new(ArcSwap::from_pointee(self.keys)),
                unauthenticated: self.unauthenticated,
            },
        })
    }
}

/// The keys a serving receiver checks each request against.
#[derive(Debug, Clone)]
pub(crate) struct Live {
    handle: KeysHandle,
}

impl Live {
    /// Whether a request is from the configured sender. Every configured check runs, in constant time
    /// over the secrets, whatever fails first, so neither timing nor the answer tells which part was wrong.
    pub(crate) fn check(&self, path: &str, authorization: Option<&[u8]>) -> bool {
        self.handle.keys.load().check(path, authorization)
    }

    /// Whether Basic credentials are expected (to send a `WWW-Authenticate` challenge).
    pub(crate) fn wants_basic(&self) -> bool {
        !self.handle.keys.load().basic.is_empty()
    }

    /// The handle that replaces the keys.
    pub(crate) fn handle(&self) -> KeysHandle {
        self.handle.clone()
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

    fn live(keys: Keys) -> Live {
        Auth {
            keys,
            unauthenticated: false,
        }
        .build()
        .unwrap()
    }

    #[test]
    fn path_token_is_the_last_segment() {
        let auth = live(Keys::new().path_token("t0k3n"));
        assert!(auth.check("/cxtn/t0k3n", None));
        assert!(auth.check("/t0k3n/", None));
        assert!(!auth.check("/cxtn/t0k3", None));
        assert!(!auth.check("/cxtn/t0k3nn", None));
        assert!(!auth.check("/t0k3n/other", None));
        assert!(!auth.check("/", None));
    }

    #[test]
    fn any_of_several_tokens_of_any_length_is_accepted() {
        let auth = live(Keys::new().path_tokens(["short", "a-much-longer-token-than-the-first"]));
        assert!(auth.check("/cxtn/short", None));
        assert!(auth.check("/cxtn/a-much-longer-token-than-the-first", None));
        assert!(auth.check("/a-much-longer-token-than-the-first/", None));
        assert!(!auth.check("/cxtn/shor", None));
        assert!(!auth.check("/cxtn/a-much-longer-token-than-the-firs", None));
        assert!(!auth.check("/short/a-much-longer-token-than-the-first/x", None));
        assert!(!auth.check("/cxtn/", None));
    }

    #[test]
    fn both_parts_must_match() {
        let auth = live(Keys::new().path_token("tok").basic_auth("cxtn", "pw"));
        assert!(auth.check("/tok", Some(&basic("cxtn", "pw"))));
        assert!(!auth.check("/tok", Some(&basic("cxtn", "px"))));
        assert!(!auth.check("/bad", Some(&basic("cxtn", "pw"))));
        assert!(!auth.check("/tok", None));
        assert!(!auth.check("/tok", Some(b"Bearer abc")));
        assert!(!auth.check("/tok", Some(b"Basic !!!")));
    }

    #[test]
    fn any_of_several_credentials_is_accepted() {
        let auth = live(Keys::new().basic_auth("cxtn", "old").basic_auth("cxtn", "new"));
        assert!(auth.check("/", Some(&basic("cxtn", "old"))));
        assert!(auth.check("/", Some(&basic("cxtn", "new"))));
        assert!(!auth.check("/", Some(&basic("cxtn", "other"))));
        assert!(!auth.check("/", Some(&basic("other", "new"))));
        assert!(!auth.check("/", None));
        assert!(auth.wants_basic());
    }

    #[test]
    fn a_replacement_takes_effect_at_once_and_a_bad_one_changes_nothing() {
        let auth = live(Keys::new().path_token("old"));
        let handle = auth.handle();
        handle.replace(Keys::new().path_tokens(["old", "new"])).unwrap();
        assert!(auth.check("/old", None) && auth.check("/new", None));
        handle.replace(Keys::new().path_token("new")).unwrap();
        assert!(!auth.check("/old", None) && auth.check("/new", None));
        for bad in [
            Keys::new(),
            Keys::new().path_token(" "),
            Keys::new().path_token("new").basic_auth("", "pw"),
        ] {
            let error = handle.replace(bad).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::Config);
        }
        assert!(auth.check("/new", None), "the keys in use stay");
        assert_eq!(handle.current().path_token_count(), 1);
    }

    #[test]
    fn a_token_no_request_path_can_end_with_is_refused() {
        for token in [
            "abc/def",
            "/cxtn/abc",
            "abc?def",
            "abc#def",
            "abc def",
            "abc\tdef",
            " abc",
            "a<b",
            "a>b",
            "a`b",
        ] {
            let auth = Auth {
                keys: Keys::new().path_token(token),
                unauthenticated: false,
            };
            let error = auth.build().unwrap_err();
            assert_eq!(error.kind(), ErrorKind::Config, "{token:?}");
            assert!(error.to_string().contains("never be accepted"), "{token:?}: {error}");
            assert!(!error.to_string().contains(token), "{error}");
        }
        let auth = live(Keys::new().path_token("Ab0-._~!$&'()*+,;=:@%41"));
        assert!(auth.check("/cxtn/Ab0-._~!$&'()*+,;=:@%41", None));
    }

    #[test]
    fn debug_hides_secrets() {
        let auth = live(Keys::new().path_token("secret-token").basic_auth("cxtn", "secret-pass"));
        for text in [
            format!("{auth:?}"),
            format!("{:?}", auth.handle()),
            format!("{:?}", auth.handle().current()),
        ] {
            assert!(
                !text.contains("secret-token") && !text.contains("secret-pass"),
                "{text}"
            );
        }
    }
}
