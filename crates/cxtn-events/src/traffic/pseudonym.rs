//! Pseudonyms for `userId` and `objectId`, from a keyed hash, written into a body in place.

use std::borrow::Cow;
use std::fmt;

use sha2::{Digest as _, Sha256};

use super::Recorded;
use super::scan::{self, Kind};

/// The largest pseudonym of a numeric id: 2^53 - 1, so that every JSON reader keeps it exact.
const MAX_NUMBER: u64 = (1 << 53) - 1;

/// Replaces `userId` and `objectId` in notification bodies with pseudonyms, consistently: the same id gives the
/// same pseudonym under the same key, so the events of one user or one object stay together.
///
/// A pseudonym is an HMAC-SHA256 of the field's name and value under the key: without the key, it does not
/// lead back to the id.
/// A numeric id becomes a number from 1 to 2^53 - 1, and a text id becomes `P` and 16 hexadecimal digits
/// (`P3F9A0C1D2E4B5A67`); an id written as a string stays a string.
///
/// Only those values change: every other byte of the body stays as it was, amounts included.
/// A `data` that arrives as a string holding JSON is rewritten inside, and the string is then written back with
/// JSON's usual escapes (`\"`, `\\`, `\n`, `\uXXXX` for other control characters), which may spell it
/// differently from the original.
///
/// The key is a secret: it is not shown by `Debug`.
///
/// ```
/// use cxtn_events::traffic::Pseudonymiser;
///
/// let pseudonyms = Pseudonymiser::new(b"a key of your own");
/// let body = br#"{"eventId":"wh_1","event":"payment_completed","data":{"objectId":162953,"userId":"C00081866","amount":10.00,"currency":"GBP"}}"#;
/// let rewritten = pseudonyms.body(body);
/// let text = std::str::from_utf8(&rewritten).unwrap();
/// assert!(!text.contains("C00081866") && !text.contains("162953"));
/// assert!(text.contains(r#""amount":10.00"#));
/// assert_eq!(pseudonyms.body(body), rewritten, "the same key gives the same pseudonyms");
/// ```
#[derive(Clone)]
pub struct Pseudonymiser {
    /// The HMAC key, padded to SHA-256's block.
    block: [u8; 64],
}

impl fmt::Debug for Pseudonymiser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pseudonymiser { key: <redacted> }")
    }
}

impl Pseudonymiser {
    /// A pseudonymiser under `key`: keep the key to give the same pseudonyms in a later export, or use a
    /// fresh random key so that nobody can link them to the ids.
    #[must_use]
    pub fn new(key: impl AsRef<[u8]>) -> Self {
        let key = key.as_ref();
        let mut block = [0_u8; 64];
        if key.len() > block.len() {
            let digest: [u8; 32] = Sha256::digest(key).into();
            for (slot, byte) in block.iter_mut().zip(digest) {
                *slot = byte;
            }
        } else {
            for (slot, byte) in block.iter_mut().zip(key) {
                *slot = *byte;
            }
        }
        Self { block }
    }

    /// HMAC-SHA256 of `field`, a zero byte and `value`, under the key; its first 8 bytes.
    fn hash(&self, field: &str, value: &[u8]) -> u64 {
        let pad = |with: u8| -> Vec<u8> { self.block.iter().map(|b| b ^ with).collect() };
        let mut inner = Sha256::new();
        inner.update(pad(0x36));
        inner.update(field.as_bytes());
        inner.update([0]);
        inner.update(value);
        let inner: [u8; 32] = inner.finalize().into();
        let mut outer = Sha256::new();
        outer.update(pad(0x5c));
        outer.update(inner);
        let mac: [u8; 32] = outer.finalize().into();
        let mut first = [0_u8; 8];
        for (slot, byte) in first.iter_mut().zip(mac) {
            *slot = byte;
        }
        u64::from_be_bytes(first)
    }

    /// The pseudonym of a `userId` given as text.
    #[must_use]
    pub fn user_id(&self, user_id: &str) -> String {
        format!("P{:016X}", self.hash("userId", user_id.as_bytes()))
    }

    /// The pseudonym of an `objectId`, from its digits as written: a number from 1 to 2^53 - 1.
    #[must_use]
    pub fn object_id(&self, object_id: &str) -> u64 {
        self.number("objectId", object_id.as_bytes())
    }

    fn number(&self, field: &str, value: &[u8]) -> u64 {
        self.hash(field, value) % MAX_NUMBER + 1
    }

    /// `body` with each `userId` and `objectId` (at any depth, and inside a `data` string holding JSON)
    /// replaced by its pseudonym; unchanged when it is not JSON or holds neither.
    #[must_use]
    pub fn body<'a>(&self, body: &'a [u8]) -> Cow<'a, [u8]> {
        let (bom, json) = scan::split_bom(body);
        match self.rewrite(json, true) {
            Some(rewritten) => {
                let mut out = Vec::with_capacity(bom.len() + rewritten.len());
                out.extend_from_slice(bom);
                out.extend_from_slice(&rewritten);
                Cow::Owned(out)
            }
            None => Cow::Borrowed(body),
        }
    }

    /// A recorded delivery with its body pseudonymised; everything else is kept.
    #[must_use]
    pub fn recorded(&self, recorded: &Recorded) -> Recorded {
        let mut out = recorded.clone();
        if let Cow::Owned(body) = self.body(&recorded.body) {
            out.body = body;
        }
        out
    }

    /// The rewritten JSON text, or `None` when nothing changed.
    fn rewrite(&self, json: &[u8], into_data: bool) -> Option<Vec<u8>> {
        if !scan::is_json(json) {
            return None;
        }
        let mut replacements = Vec::new();
        for member in scan::members(json) {
            let text = json.get(member.start..member.end).unwrap_or_default();
            let replacement = match (member.key.as_str(), member.kind) {
                (field @ ("userId" | "objectId"), Kind::String) => {
                    // An id that does not decode (a lone surrogate escape, bytes that are not UTF-8) is hashed
                    // as written, quotes included: it is replaced all the same.
                    let decoded = scan::decode(text);
                    let value = decoded.as_ref().map_or(text, |value| value.as_bytes());
                    let pseudonym = if field == "userId" {
                        format!("P{:016X}", self.hash(field, value))
                    } else {
                        self.number(field, value).to_string()
                    };
                    serde_json::to_string(&pseudonym).ok()
                }
                (field @ ("userId" | "objectId"), Kind::Number) => Some(self.number(field, text).to_string()),
                ("data", Kind::String) if into_data && member.depth == 1 => scan::decode(text)
                    .and_then(|inner| self.rewrite(inner.as_bytes(), false))
                    .and_then(|inner| String::from_utf8(inner).ok())
                    .and_then(|inner| serde_json::to_string(&inner).ok()),
                _ => None,
            };
            if let Some(replacement) = replacement
                && replacement.as_bytes() != text
            {
                replacements.push((member.start, member.end, replacement.into_bytes()));
            }
        }
        (!replacements.is_empty()).then(|| scan::splice(json, &replacements))
    }
}
