#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::PathBuf;
use std::str::FromStr;

use super::{RootCert, SslMode, TlsParams, connector};

fn split(url: &str) -> TlsParams {
    TlsParams::split(url).unwrap()
}

#[test]
fn a_url_keeps_everything_but_its_tls_parameters() {
    let params = split(
        "postgres://u:p@db.example:5432/app?application_name=x&sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&connect_timeout=3",
    );
    assert_eq!(
        params.rest,
        "postgres://u:p@db.example:5432/app?application_name=x&connect_timeout=3"
    );
    assert_eq!(params.mode, Some(SslMode::VerifyFull));
    assert_eq!(params.root_cert, Some(RootCert::File(PathBuf::from("/etc/ca.pem"))));
    tokio_postgres::Config::from_str(&params.rest).unwrap();

    let params = split("postgresql://u@h/app?sslmode=verify-ca");
    assert_eq!(params.rest, "postgresql://u@h/app");
    assert_eq!(params.mode, Some(SslMode::VerifyCa));
    assert_eq!(params.root_cert, None);

    let params = split("postgres://u@h/app?sslrootcert=system");
    assert_eq!(params.rest, "postgres://u@h/app");
    assert_eq!((params.mode, params.root_cert), (None, Some(RootCert::System)));

    let params = split("postgres://u@h/app");
    assert_eq!(params.rest, "postgres://u@h/app");
    assert_eq!((params.mode, params.root_cert), (None, None));
}

#[test]
fn a_question_mark_in_a_password_is_not_the_query() {
    let params = split("postgres://u:a?b@h/app?sslmode=require");
    assert_eq!(params.rest, "postgres://u:a?b@h/app");
    assert_eq!(params.mode, Some(SslMode::Require));
}

#[test]
fn a_key_value_string_keeps_everything_but_its_tls_parameters() {
    let params = split(
        "host=db.example  user=cxtn password='it\\'s x' sslmode = verify-full sslrootcert='/etc/my ca.pem' dbname=app",
    );
    assert_eq!(params.mode, Some(SslMode::VerifyFull));
    assert_eq!(params.root_cert, Some(RootCert::File(PathBuf::from("/etc/my ca.pem"))));
    let config = tokio_postgres::Config::from_str(&params.rest).unwrap();
    assert_eq!(config.get_user(), Some("cxtn"));
    assert_eq!(config.get_dbname(), Some("app"));
    assert_eq!(config.get_password(), Some(&b"it's x"[..]));
}

#[test]
fn every_libpq_mode_is_read_and_an_unknown_one_is_refused() {
    for (value, mode) in [
        ("disable", SslMode::Disable),
        ("allow", SslMode::Prefer),
        ("prefer", SslMode::Prefer),
        ("require", SslMode::Require),
        ("verify-ca", SslMode::VerifyCa),
        ("verify-full", SslMode::VerifyFull),
    ] {
        assert_eq!(split(&format!("postgres://u@h/db?sslmode={value}")).mode, Some(mode));
        assert_eq!(split(&format!("host=h sslmode={value}")).mode, Some(mode));
    }
    let error = TlsParams::split("postgres://u@h/db?sslmode=strict").unwrap_err();
    assert!(error.to_string().contains("verify-full"), "{error}");
}

#[test]
fn a_string_that_cannot_be_read_is_left_for_tokio_postgres_to_refuse() {
    let params = split("host='unterminated");
    assert_eq!(params.rest, "host='unterminated");
    assert!(tokio_postgres::Config::from_str(&params.rest).is_err());
}

#[test]
fn root_certificates_that_are_not_pem_are_refused() {
    let error = connector(SslMode::VerifyFull, None, &[b"not a certificate".to_vec()])
        .err()
        .unwrap();
    assert!(error.to_string().contains("no PEM certificate"), "{error}");
    let error = connector(
        SslMode::VerifyCa,
        Some(&RootCert::File(PathBuf::from("/nonexistent/ca.pem"))),
        &[],
    )
    .err()
    .unwrap();
    assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
    // Modes that verify nothing read no roots.
    assert!(
        connector(
            SslMode::Prefer,
            Some(&RootCert::File(PathBuf::from("/nonexistent/ca.pem"))),
            &[]
        )
        .is_ok()
    );
    assert!(connector(SslMode::VerifyFull, Some(&RootCert::System), &[]).is_ok());
}
