//! Text from the network made fit to show, bodies pretty-printed without touching a digit, and times.

use std::fmt::Write;

use chrono::{DateTime, NaiveDateTime, Utc};

/// Bytes as text: invalid UTF-8 becomes U+FFFD, and every control character (but the newlines and tabs a
/// pretty-printed body is laid out with, when `keep_layout`) becomes visible: C0 controls as their control
/// picture (`␛` for ESC), the rest (DEL, C1 controls, bidirectional overrides and marks, zero-width and other
/// invisible characters such as the soft hyphen and the tag characters) as `\u{..}`.
pub(crate) fn visible(bytes: &[u8], keep_layout: bool) -> String {
    visible_str(&String::from_utf8_lossy(bytes), keep_layout)
}

/// [`visible`] for text already decoded.
pub(crate) fn visible_str(text: &str, keep_layout: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\t' if keep_layout => out.push(c),
            '\u{0}'..='\u{1f}' => out.push(char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}')),
            '\u{7f}'..='\u{9f}'
            | '\u{ad}'
            | '\u{61c}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{e0000}'..='\u{e007f}' => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            _ => out.push(c),
        }
    }
    out
}

/// A JSON body laid out with two-space indents, every token kept exactly as sent (numbers keep every digit,
/// strings every escape); `None` when the body is not JSON.
pub(crate) fn pretty_json(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    serde_json::from_str::<serde::de::IgnoredAny>(text).ok()?;
    let mut out = String::with_capacity(text.len() + text.len() / 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = text.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                while chars.peek().is_some_and(|c| c.is_ascii_whitespace()) {
                    chars.next();
                }
                if matches!(chars.peek(), Some('}' | ']')) {
                    if let Some(close) = chars.next() {
                        out.push(close);
                    }
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_ascii_whitespace() => {}
            c => out.push(c),
        }
    }
    Some(out)
}

/// A body to show: pretty-printed when it is JSON, with control characters made visible either way.
pub(crate) fn show_body(bytes: &[u8]) -> String {
    match pretty_json(bytes) {
        Some(pretty) => visible_str(&pretty, true),
        None => visible(bytes, true),
    }
}

/// Milliseconds since the epoch as `2026-12-01 07:12:29.123 UTC`.
pub(crate) fn time_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms).map_or_else(
        || format!("{ms} ms"),
        |time| time.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string(),
    )
}

/// A time from a query: a `datetime-local` value (`2026-12-01T07:12`, seconds optional), read as UTC, or RFC 3339.
pub(crate) fn parse_time(text: &str) -> Option<i64> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.timestamp_millis());
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
        .map(|time| time.and_utc().timestamp_millis())
}

/// A duration in milliseconds as a short age: `42 s`, `5 min`, `3 h 12 min`, `2 d 4 h`.
pub(crate) fn age(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86_400 => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
        _ => format!("{} d {} h", secs / 86_400, secs % 86_400 / 3600),
    }
}

/// Now, in milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_visible() {
        assert_eq!(visible(b"a\x1b[31mb\x00", false), "a\u{241b}[31mb\u{2400}");
        assert_eq!(visible(b"a\nb", false), "a\u{240a}b");
        assert_eq!(visible(b"a\nb", true), "a\nb");
        assert_eq!(visible(b"\xff", false), "\u{fffd}");
        assert_eq!(visible_str("x\u{202e}y\u{7f}", false), "x\\u{202e}y\\u{7f}");
        // Invisible characters that would make two different ids look the same.
        assert_eq!(
            visible_str("wh\u{ad}1\u{61c}\u{206a}\u{e0041}", false),
            "wh\\u{ad}1\\u{61c}\\u{206a}\\u{e0041}"
        );
    }

    #[test]
    fn pretty_printing_keeps_every_digit_and_escape() {
        let body = br#"{"eventId":"e1","amount":1000.00,"n":[1e2, 0.10],"s":"a\"b,{c}","o":{},"l":[ ]}"#;
        let pretty = pretty_json(body).unwrap();
        assert_eq!(
            pretty,
            "{\n  \"eventId\": \"e1\",\n  \"amount\": 1000.00,\n  \"n\": [\n    1e2,\n    0.10\n  ],\n  \"s\": \"a\\\"b,{c}\",\n  \"o\": {},\n  \"l\": []\n}"
        );
        assert_eq!(pretty_json(b"not json"), None);
        assert_eq!(pretty_json(b"{\"a\":"), None);
    }

    #[test]
    fn times_are_read_as_utc() {
        assert_eq!(parse_time("1970-01-01T00:01"), Some(60_000));
        assert_eq!(parse_time("1970-01-01T00:01:02"), Some(62_000));
        assert_eq!(parse_time("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(time_ms(1_500), "1970-01-01 00:00:01.500 UTC");
        assert_eq!(age(3_725_000), "1 h 2 min");
    }
}
