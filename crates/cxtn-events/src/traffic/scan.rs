//! Where the members of a JSON text are, so that one value can be replaced and every other byte kept.

/// What kind of scalar a member's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A string, quotes included in the span.
    String,
    /// A number, as written.
    Number,
    /// `true`, `false` or `null`.
    Literal,
}

/// An object member whose value is a scalar.
#[derive(Debug, Clone)]
pub(super) struct Member {
    /// How many objects and arrays enclose the value: 1 for a member of the outermost object.
    pub(super) depth: usize,
    /// The member's key, decoded.
    pub(super) key: String,
    /// Where the value's text starts, in bytes.
    pub(super) start: usize,
    /// Where the value's text ends (exclusive), in bytes.
    pub(super) end: usize,
    /// What the value is.
    pub(super) kind: Kind,
}

enum Frame {
    /// An object; `key` is the key read whose value comes next, `None` while a key is expected.
    Object {
        key: Option<String>,
    },
    Array,
}

/// The members with a scalar value of `text`, in the order they appear.
///
/// `text` must be valid JSON (the caller checks it first): this walk does not validate, it only finds spans.
/// It keeps its own stack, so no nesting makes it recurse.
pub(super) fn members(text: &[u8]) -> Vec<Member> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(&byte) = text.get(i) {
        match byte {
            b' ' | b'\t' | b'\n' | b'\r' | b',' | b':' => i += 1,
            b'{' | b'[' => {
                if let Some(Frame::Object { key }) = stack.last_mut() {
                    *key = None;
                }
                stack.push(if byte == b'{' {
                    Frame::Object { key: None }
                } else {
                    Frame::Array
                });
                i += 1;
            }
            b'}' | b']' => {
                stack.pop();
                i += 1;
            }
            b'"' => {
                let end = string_end(text, i);
                let depth = stack.len();
                if let Some(Frame::Object { key }) = stack.last_mut() {
                    match key.take() {
                        None => *key = Some(decode(text.get(i..end).unwrap_or_default()).unwrap_or_default()),
                        Some(name) => found.push(Member {
                            depth,
                            key: name,
                            start: i,
                            end,
                            kind: Kind::String,
                        }),
                    }
                }
                i = end;
            }
            _ => {
                let end = scalar_end(text, i);
                let depth = stack.len();
                if let Some(Frame::Object { key }) = stack.last_mut()
                    && let Some(name) = key.take()
                {
                    let kind = if byte == b'-' || byte.is_ascii_digit() {
                        Kind::Number
                    } else {
                        Kind::Literal
                    };
                    found.push(Member {
                        depth,
                        key: name,
                        start: i,
                        end,
                        kind,
                    });
                }
                i = end.max(i + 1);
            }
        }
    }
    found
}

/// The end (exclusive) of the string whose opening quote is at `start`.
fn string_end(text: &[u8], start: usize) -> usize {
    let mut j = start + 1;
    loop {
        match text.get(j) {
            Some(b'\\') => j += 2,
            Some(b'"') => return j + 1,
            Some(_) => j += 1,
            None => return text.len(),
        }
    }
}

/// The end (exclusive) of the number or literal starting at `start`.
fn scalar_end(text: &[u8], start: usize) -> usize {
    let mut j = start;
    while let Some(byte) = text.get(j) {
        if matches!(byte, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
            break;
        }
        j += 1;
    }
    j
}

/// A JSON string literal (quotes included), decoded.
pub(super) fn decode(literal: &[u8]) -> Option<String> {
    serde_json::from_slice(literal).ok()
}

/// Whether `text` is one valid JSON value.
pub(super) fn is_json(text: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(text).is_ok()
}

/// `text` with each `(start, end, replacement)` span replaced; the spans are in order and do not overlap.
pub(super) fn splice(text: &[u8], replacements: &[(usize, usize, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 64);
    let mut at = 0;
    for (start, end, replacement) in replacements {
        out.extend_from_slice(text.get(at..*start).unwrap_or_default());
        out.extend_from_slice(replacement);
        at = *end;
    }
    out.extend_from_slice(text.get(at..).unwrap_or_default());
    out
}

/// The byte-order mark a body may open with; the JSON starts after it.
pub(super) const BOM: &[u8] = b"\xEF\xBB\xBF";

/// `body` split into its byte-order mark (or nothing) and the text after it.
pub(super) fn split_bom(body: &[u8]) -> (&[u8], &[u8]) {
    match body.strip_prefix(BOM) {
        Some(rest) => (BOM, rest),
        None => (&[], body),
    }
}
