//! TLS to the test server, which must have `ssl = on` (`.ci/run` turns it on): `sslmode` as libpq reads it,
//! root certificates from `sslrootcert` or the builder, and clear errors for a certificate that is refused.

use std::path::{Path, PathBuf};
use std::time::Duration;

use cxtn_receiver::{Inbox, InboxError, PostgresInbox};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};

use super::{Schema, body, client, server, url};

/// A root certificate that signed nothing the server presents.
const UNRELATED_CA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/unrelated-ca.pem");

/// The test URL with `params` added to its query.
fn with_params(params: &str) -> String {
    let url = url();
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{params}")
}

/// A connection string in `key=value` form that connects to the test server's address but names `host`,
/// the name TLS checks the certificate against.
fn naming(host: &str, params: &str) -> String {
    let (addr, login) = server();
    format!(
        "host={host} hostaddr={} port={} {login} {params}",
        addr.ip(),
        addr.port()
    )
}

/// A unique application name, to find the inbox's own sessions in `pg_stat_ssl`.
fn application_name(schema: &Schema) -> String {
    format!("cxtn_tls_{}", schema.name)
}

async fn connect(schema: &Schema, connection_string: &str) -> Result<PostgresInbox, InboxError> {
    PostgresInbox::builder(connection_string)
        .schema(&schema.name)
        .pool_size(2)
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
}

/// Whether the server has TLS on; the tests need it.
async fn require_tls_on() {
    let ssl: String = client(&url()).await.query_one("SHOW ssl", &[]).await.unwrap().get(0);
    assert_eq!(
        ssl, "on",
        "the test PostgreSQL has ssl off: turn `ssl = on` in its postgresql.conf and reload it (.ci/run does)"
    );
}

/// The server's own certificate, as a file the test can read.
async fn server_certificate() -> (PathBuf, Vec<u8>) {
    let client = client(&url()).await;
    let file: String = client.query_one("SHOW ssl_cert_file", &[]).await.unwrap().get(0);
    let path = if Path::new(&file).is_absolute() {
        PathBuf::from(file)
    } else {
        let data: String = client.query_one("SHOW data_directory", &[]).await.unwrap().get(0);
        Path::new(&data).join(file)
    };
    let pem = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read the server's certificate {} ({e}): run the tests as a user that can read it",
            path.display()
        )
    });
    (path, pem)
}

/// A host name the server's certificate carries, among the names this machine is known by.
fn name_in(certificate: &[u8]) -> String {
    let der = CertificateDer::pem_slice_iter(certificate).next().unwrap().unwrap();
    let parsed = rustls::server::ParsedCertificate::try_from(&der).unwrap();
    let mut candidates = vec!["localhost".to_owned()];
    for file in ["/etc/hostname", "/proc/sys/kernel/hostname"] {
        if let Ok(name) = std::fs::read_to_string(file) {
            candidates.push(name.trim().to_owned());
        }
    }
    if let Ok(output) = std::process::Command::new("hostname").arg("-f").output() {
        candidates.push(String::from_utf8_lossy(&output.stdout).trim().to_owned());
    }
    candidates
        .into_iter()
        .filter(|name| !name.is_empty())
        .find(|name| {
            ServerName::try_from(name.clone())
                .is_ok_and(|name| rustls::client::verify_server_name(&parsed, &name).is_ok())
        })
        .unwrap_or_else(|| panic!("the server's certificate names none of this machine's names"))
}

/// Whether every session of `application` is encrypted, and there is at least one.
async fn sessions_are_encrypted(application: &str) -> bool {
    let rows = client(&url())
        .await
        .query(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = $1",
            &[&application],
        )
        .await
        .unwrap();
    !rows.is_empty() && rows.iter().all(|row| row.get::<_, bool>(0))
}

async fn stores(inbox: &PostgresInbox) {
    let event = cxtn_receiver::NewEvent::new("wh_tls", "payment_completed", None, 1, body("wh_tls").into());
    inbox.store(event).await.unwrap();
    inbox.check().await.unwrap();
}

#[tokio::test]
async fn sslmode_require_connects_over_tls_and_listens_over_tls() {
    require_tls_on().await;
    let schema = Schema::fresh();
    let application = application_name(&schema);
    let inbox = connect(
        &schema,
        &with_params(&format!("sslmode=require&application_name={application}")),
    )
    .await
    .unwrap();
    stores(&inbox).await;

    // A second receiver on the schema hears the first's stores on its own encrypted LISTEN connection.
    let other = connect(
        &schema,
        &with_params(&format!("sslmode=require&application_name={application}")),
    )
    .await
    .unwrap();
    let wake = other.wake_signal().unwrap();
    let mut heard = false;
    for i in 0..50 {
        let event = cxtn_receiver::NewEvent::new(
            format!("wh_tls_{i}"),
            "payment_completed",
            None,
            1,
            body("wh_tls").into(),
        );
        inbox.store(event).await.unwrap();
        if tokio::time::timeout(Duration::from_millis(200), wake.notified())
            .await
            .is_ok()
        {
            heard = true;
            break;
        }
    }
    assert!(heard, "the listening connection never heard a store");
    assert!(
        sessions_are_encrypted(&application).await,
        "a session of the inbox is not encrypted"
    );
}

#[tokio::test]
async fn verify_full_refuses_a_certificate_no_trusted_root_signed() {
    require_tls_on().await;
    let schema = Schema::fresh();
    let (_, certificate) = server_certificate().await;
    let name = name_in(&certificate);
    for connection_string in [
        naming(&name, &format!("sslmode=verify-full sslrootcert={UNRELATED_CA}")),
        // Without roots, the Mozilla roots: they did not sign a self-signed certificate either.
        naming(&name, "sslmode=verify-full"),
    ] {
        let error = connect(&schema, &connection_string).await.unwrap_err();
        let message = error.to_string();
        assert!(message.contains("certificate was refused"), "{message}");
        assert!(message.contains("sslrootcert"), "{message}");
    }
    let error = PostgresInbox::builder(naming(&name, "sslmode=verify-ca"))
        .schema(&schema.name)
        .root_certificates(std::fs::read(UNRELATED_CA).unwrap())
        .connect()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("UnknownIssuer"), "{error}");
    // With a root given, `require` verifies the chain too.
    let error = PostgresInbox::builder(with_params("sslmode=require"))
        .schema(&schema.name)
        .root_certificates(std::fs::read(UNRELATED_CA).unwrap())
        .connect()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("certificate was refused"), "{error}");
}

#[tokio::test]
async fn verify_full_with_the_servers_certificate_as_root_connects_by_the_name_it_carries() {
    require_tls_on().await;
    let schema = Schema::fresh();
    let application = application_name(&schema);
    let (path, certificate) = server_certificate().await;
    let name = name_in(&certificate);

    let inbox = connect(
        &schema,
        &naming(
            &name,
            &format!(
                "sslmode=verify-full sslrootcert='{}' application_name={application}",
                path.display()
            ),
        ),
    )
    .await
    .unwrap();
    stores(&inbox).await;
    assert!(sessions_are_encrypted(&application).await);

    // The same root given to the builder.
    let inbox = PostgresInbox::builder(naming(&name, "sslmode=verify-full"))
        .schema(&schema.name)
        .root_certificates(certificate.clone())
        .connect()
        .await
        .unwrap();
    stores(&inbox).await;

    // By an IP address the certificate does not name, verify-full refuses and verify-ca connects.
    let (addr, _) = server();
    let by_ip = naming(&addr.ip().to_string(), "");
    let error = PostgresInbox::builder(format!("{by_ip} sslmode=verify-full"))
        .schema(&schema.name)
        .root_certificates(certificate.clone())
        .connect()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("not valid for name"), "{error}");
    let inbox = PostgresInbox::builder(format!("{by_ip} sslmode=verify-ca"))
        .schema(&schema.name)
        .root_certificates(certificate)
        .connect()
        .await
        .unwrap();
    stores(&inbox).await;
}
