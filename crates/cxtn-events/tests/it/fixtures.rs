//! Every file under `tests/fixtures/valid` must parse and round-trip; every file under
//! `tests/fixtures/invalid` must fail with the error recorded in its snapshot.

use std::collections::BTreeMap;
use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use cxtn_events::{Error, Location, parse};
use cxtn_model::{DataEncoding, EventData, Notification, UnknownData, UnknownEvent};
use serde_json::value::RawValue;

/// The directory `tests/fixtures/<set>`.
pub(crate) fn dir(set: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(set)
}

/// The files of `tests/fixtures/<set>`, sorted by name.
pub(crate) fn files(set: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir(set))
        .unwrap_or_else(|e| panic!("cannot list fixtures/{set}: {e}"))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// Parses `tests/fixtures/valid/<name>`, which must be valid.
pub(crate) fn valid(name: &str) -> Notification {
    let path = dir("valid").join(name);
    let body = fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    parse(&body).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Runs [`check`] on every fixture of a set, and reports every fixture that fails, not only the first.
fn check_all(set: &str) {
    let files = files(set);
    assert!(!files.is_empty(), "no fixtures in fixtures/{set}");
    let failed: Vec<String> = files
        .iter()
        .filter(|path| panic::catch_unwind(AssertUnwindSafe(|| check(path))).is_err())
        .map(|path| path.display().to_string())
        .collect();
    assert!(failed.is_empty(), "failing fixtures:\n  {}", failed.join("\n  "));
}

#[test]
fn valid_fixtures() {
    check_all("valid");
}

#[test]
fn invalid_fixtures() {
    check_all("invalid");
}

/// Checks one fixture: what is asserted depends on whether it sits in `valid/` or `invalid/`.
///
/// The snapshot is named after the fixture (`valid__funds_in.object.snap`) and is taken before the
/// other assertions, so a failing assertion never hides what the parser produced.
fn check(path: &Path) {
    let set = path
        .parent()
        .and_then(Path::file_name)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let stem = path.file_stem().unwrap().to_str().unwrap().to_owned();
    let body = fs::read(path).unwrap();
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_input_file(path);
    let _guard = settings.bind_to_scope();
    let snapshot = format!("{set}/{stem}");

    match set.as_str() {
        "valid" => {
            let notification =
                parse(&body).unwrap_or_else(|e| panic!("{}: expected Ok, got {e} ({e:?})", path.display()));
            let canonical = notification.to_json().unwrap();
            insta::assert_snapshot!(snapshot, format!("{notification:#?}\n\ncanonical:\n{canonical}\n"));
            check_round_trip(&notification, &canonical);
            check_canonical_data(&notification, &canonical);
            check_digits_survive(&notification, &body, &canonical);
        }
        "invalid" => {
            let err = match parse(&body) {
                Ok(n) => panic!("{}: expected Err, got {n:#?}", path.display()),
                Err(e) => e,
            };
            insta::assert_snapshot!(snapshot, render_error(&err));
            check_error_form(&err);
        }
        other => panic!("fixtures/{other} is neither `valid` nor `invalid`"),
    }
}

fn render_error(err: &Error) -> String {
    format!(
        "kind: {}\nevent: {:?}\nfield: {:?}\nlocation: {:?}\nto_string: {}\n",
        err.kind(),
        err.event(),
        err.field(),
        err.location(),
        err
    )
}

/// The canonical form, and the form with `data` as a string, read back equal; the canonical form is a fixed point.
fn check_round_trip(notification: &Notification, canonical: &str) {
    let again =
        parse(canonical.as_bytes()).unwrap_or_else(|e| panic!("canonical form does not parse: {e}\n{canonical}"));
    assert_eq!(
        &again, notification,
        "canonical form reads back different:\n{canonical}"
    );
    assert_eq!(
        again.to_json().unwrap(),
        canonical,
        "canonical form is not a fixed point"
    );

    let as_string = notification.to_json_with(DataEncoding::String).unwrap();
    let again = parse(as_string.as_bytes()).unwrap_or_else(|e| panic!("string form does not parse: {e}\n{as_string}"));
    assert_eq!(&again, notification, "string form reads back different:\n{as_string}");
    assert_eq!(
        again.to_json().unwrap(),
        canonical,
        "string form has another canonical form"
    );
    let has_data = !matches!(
        notification.data(),
        EventData::Unknown(UnknownEvent {
            data: UnknownData::Absent,
            ..
        })
    );
    let expected = if has_data {
        DataEncoding::String
    } else {
        DataEncoding::Object
    };
    assert_eq!(again.data_encoding(), expected);
}

/// In the canonical form, `data` that held JSON is written as that JSON, never as a string holding it.
fn check_canonical_data(notification: &Notification, canonical: &str) {
    let envelope: BTreeMap<String, Box<RawValue>> = serde_json::from_str(canonical).unwrap();
    let data = envelope.get("data").map(|raw| raw.get());
    match notification.data() {
        EventData::Unknown(UnknownEvent { data: unknown, .. }) => match unknown {
            UnknownData::Json(raw) => assert_eq!(data, Some(raw.get())),
            UnknownData::Text(text) => {
                let written: String = serde_json::from_str(data.unwrap()).unwrap();
                assert_eq!(&written, text);
            }
            UnknownData::Absent => assert_eq!(data, None),
            other => panic!("unexpected unknown data {other:?}"),
        },
        _ => {
            let data = data.unwrap();
            assert!(data.starts_with('{'), "canonical `data` is not an object: {data}");
        }
    }
}

/// Every amount is written in the canonical form with the digits it arrived with.
fn check_digits_survive(notification: &Notification, body: &[u8], canonical: &str) {
    let body = std::str::from_utf8(body).unwrap();
    for amount in crate::amounts(notification.data()) {
        assert!(
            body.contains(amount.as_str()),
            "`{}` is not in the body",
            amount.as_str()
        );
        assert!(
            canonical.contains(amount.as_str()),
            "`{}` is not in the canonical form",
            amount.as_str()
        );
    }
}

/// What the error conventions require: lowercase, no trailing period, positions counted from 1.
fn check_error_form(err: &Error) {
    let message = err.to_string();
    assert!(!message.ends_with('.'), "message ends with a period: {message}");
    assert!(
        !message.starts_with(|c: char| c.is_uppercase()),
        "message starts with a capital: {message}"
    );
    if let Some(Location::Body { line, column } | Location::DataString { line, column }) = err.location() {
        assert!(
            line >= 1 && column >= 1,
            "position not counted from 1: {:?}",
            err.location()
        );
    }
}
