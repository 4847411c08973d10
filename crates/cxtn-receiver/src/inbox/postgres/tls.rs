//! TLS to PostgreSQL: rustls on the ring provider, with libpq's `sslmode` and `sslrootcert`.
//!
//! tokio-postgres reads only `sslmode=disable|prefer|require` and no root certificate, so the connection string's
//! `sslmode` and `sslrootcert` are taken out of it here ([`TlsParams::split`]), and the verifier built from them
//! ([`connector`]) does what libpq does for each mode.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use percent_encoding::percent_decode_str;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode as PgSslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::InboxError;

/// libpq's `sslmode`, as far as the inbox honours it (`allow` is read as `prefer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SslMode {
    /// No TLS.
    Disable,
    /// TLS when the server offers it, plain otherwise; the certificate is not verified.
    Prefer,
    /// TLS or nothing; the certificate is verified only when root certificates are given (as `VerifyCa`).
    Require,
    /// TLS, with a certificate signed by a trusted root; any host name.
    VerifyCa,
    /// TLS, with a certificate signed by a trusted root and naming the host connected to.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "disable" => Self::Disable,
            "allow" | "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            _ => return None,
        })
    }

    /// What tokio-postgres is told: whether to ask for TLS, and whether to insist.
    pub(super) fn for_tokio_postgres(self) -> PgSslMode {
        match self {
            Self::Disable => PgSslMode::Disable,
            Self::Prefer => PgSslMode::Prefer,
            Self::Require | Self::VerifyCa | Self::VerifyFull => PgSslMode::Require,
        }
    }
}

/// Where the root certificates named by `sslrootcert` come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RootCert {
    /// A PEM file.
    File(PathBuf),
    /// `sslrootcert=system`: the Mozilla roots shipped with the crate (webpki-roots).
    System,
}

/// The TLS parameters of a connection string, and the string without them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct TlsParams {
    /// The connection string for tokio-postgres: `sslmode` and `sslrootcert` removed.
    pub(super) rest: String,
    /// The mode the string asks for; `None` when it names none (then `prefer`, as libpq).
    pub(super) mode: Option<SslMode>,
    pub(super) root_cert: Option<RootCert>,
}

impl TlsParams {
    /// Takes `sslmode` and `sslrootcert` out of a connection string, URL (`postgres://..?sslmode=..`) or
    /// `key=value` form. A string this cannot read is returned whole, for tokio-postgres to refuse.
    pub(super) fn split(url: &str) -> Result<Self, InboxError> {
        let (rest, pairs) = if let Some(query_at) = url_query_start(url) {
            split_url(url, query_at)
        } else {
            split_key_values(url).unwrap_or_else(|| (url.to_owned(), Vec::new()))
        };
        let mut params = Self {
            rest,
            mode: None,
            root_cert: None,
        };
        for (key, value) in pairs {
            if key == "sslmode" {
                params.mode = Some(SslMode::parse(&value).ok_or_else(|| {
                    InboxError::new(
                        format!(
                            "`sslmode={}` is not a mode the PostgreSQL inbox knows: use disable, prefer, require, \
                             verify-ca or verify-full",
                            value.escape_debug()
                        ),
                        None,
                    )
                })?);
            } else if value == "system" {
                params.root_cert = Some(RootCert::System);
            } else {
                params.root_cert = Some(RootCert::File(PathBuf::from(value)));
            }
        }
        Ok(params)
    }
}

/// Where the query of a `postgres://` URL starts (after its `?`), or `None` for a string that is not a URL;
/// `Some(len)` for a URL without a query.
fn url_query_start(url: &str) -> Option<usize> {
    let after_scheme = ["postgres://", "postgresql://"]
        .iter()
        .find_map(|prefix| url.strip_prefix(prefix).map(|_| prefix.len()))?;
    // tokio-postgres reads the user information up to the first `@`, then looks for the query.
    let from = url
        .get(after_scheme..)
        .and_then(|tail| tail.find('@'))
        .map_or(after_scheme, |at| after_scheme + at + 1);
    Some(
        url.get(from..)
            .and_then(|tail| tail.find('?'))
            .map_or(url.len(), |q| from + q + 1),
    )
}

/// A URL's query split into what tokio-postgres keeps and the TLS pairs (percent-decoded).
fn split_url(url: &str, query_at: usize) -> (String, Vec<(String, String)>) {
    let (Some(head), Some(query)) = (url.get(..query_at), url.get(query_at..)) else {
        return (url.to_owned(), Vec::new());
    };
    let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
    let mut kept = Vec::new();
    let mut tls = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode(key);
        if is_tls_key(&key) {
            tls.push((key, decode(value)));
        } else {
            kept.push(pair);
        }
    }
    let head = if kept.is_empty() {
        head.strip_suffix('?').unwrap_or(head)
    } else {
        head
    };
    (format!("{head}{}", kept.join("&")), tls)
}

fn is_tls_key(key: &str) -> bool {
    key == "sslmode" || key == "sslrootcert"
}

/// A `key=value` connection string split into what tokio-postgres keeps (each pair quoted again) and the TLS
/// pairs; `None` when it cannot be read.
fn split_key_values(s: &str) -> Option<(String, Vec<(String, String)>)> {
    let mut chars = s.chars().peekable();
    let mut kept = Vec::new();
    let mut tls = Vec::new();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != '=') {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        chars.next_if_eq(&'=')?;
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next()? {
                    '\'' => break,
                    '\\' => value.push(chars.next()?),
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.push(chars.next()?);
                } else {
                    value.push(c);
                }
            }
        }
        if key.is_empty() {
            return None;
        }
        if is_tls_key(&key) {
            tls.push((key, value));
        } else {
            let quoted = value.replace('\\', "\\\\").replace('\'', "\\'");
            kept.push(format!("{key}='{quoted}'"));
        }
    }
    Some((kept.join(" "), tls))
}

/// The connector for `mode`: `roots` are the PEM certificates given to the builder, added to those `root_cert`
/// names. Verification follows libpq: `verify-full` checks the chain and the host name, `verify-ca` the chain,
/// `require` the chain only when roots were given, `prefer` nothing.
pub(super) fn connector(
    mode: SslMode,
    root_cert: Option<&RootCert>,
    roots_pem: &[Vec<u8>],
) -> Result<MakeRustlsConnect, InboxError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let given = !roots_pem.is_empty() || root_cert.is_some();
    let verify = match mode {
        SslMode::Disable | SslMode::Prefer => Verify::Nothing,
        SslMode::Require if !given => Verify::Nothing,
        SslMode::Require | SslMode::VerifyCa => Verify::Chain,
        SslMode::VerifyFull => Verify::ChainAndName,
    };
    let roots = if verify == Verify::Nothing {
        RootCertStore::empty()
    } else {
        load_roots(root_cert, roots_pem)?
    };
    let verifier = Verifier {
        roots: Arc::new(roots),
        verify,
        algorithms: provider.signature_verification_algorithms,
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| InboxError::new("cannot set up TLS for PostgreSQL", Some(e.into())))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// The roots certificates must chain to: those given, or the Mozilla roots when none was.
fn load_roots(root_cert: Option<&RootCert>, roots_pem: &[Vec<u8>]) -> Result<RootCertStore, InboxError> {
    let mut roots = RootCertStore::empty();
    match root_cert {
        Some(RootCert::File(path)) => {
            let pem = std::fs::read(path).map_err(|e| {
                InboxError::new(
                    format!(
                        "cannot read the sslrootcert file {}: {e}; check the path in the connection string",
                        path.display()
                    ),
                    Some(e.into()),
                )
            })?;
            add_pem(&mut roots, &pem, &format!("the sslrootcert file {}", path.display()))?;
        }
        Some(RootCert::System) => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        None => {}
    }
    for pem in roots_pem {
        add_pem(&mut roots, pem, "a root certificate given to the PostgreSQL inbox")?;
    }
    if root_cert.is_none() && roots_pem.is_empty() {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    Ok(roots)
}

/// Adds every certificate of a PEM text to `roots`; `from` names the text in errors.
fn add_pem(roots: &mut RootCertStore, pem: &[u8], from: &str) -> Result<(), InboxError> {
    let not_pem = |e: Option<rustls::pki_types::pem::Error>| {
        InboxError::new(
            format!("{from} holds no PEM certificate: give the certificate authority of the PostgreSQL server as PEM"),
            e.map(Into::into),
        )
    };
    let mut any = false;
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| not_pem(Some(e)))?;
        roots.add(cert).map_err(|e| {
            InboxError::new(
                format!("{from} holds a certificate that cannot be a root: {e}"),
                Some(e.into()),
            )
        })?;
        any = true;
    }
    if any { Ok(()) } else { Err(not_pem(None)) }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verify {
    Nothing,
    Chain,
    ChainAndName,
}

/// Checks the server's certificate as the mode says; the handshake's signatures are always checked.
struct Verifier {
    roots: Arc<RootCertStore>,
    verify: Verify,
    algorithms: WebPkiSupportedAlgorithms,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("roots", &self.roots.len())
            .field("verify", &self.verify)
            .finish_non_exhaustive()
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.verify != Verify::Nothing {
            let cert = ParsedCertificate::try_from(end_entity)?;
            verify_server_cert_signed_by_trust_anchor(&cert, &self.roots, intermediates, now, self.algorithms.all)?;
            if self.verify == Verify::ChainAndName {
                verify_server_name(&cert, server_name)?;
            }
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Why a connection failed, when it was the TLS handshake: a sentence saying what to check.
pub(super) fn tls_failure(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    let rustls = std::iter::successors(Some(e), |e| e.source()).find_map(|cause| {
        cause.downcast_ref::<rustls::Error>().or_else(|| {
            cause
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        })
    });
    if let Some(rustls::Error::InvalidCertificate(reason)) = rustls {
        return Some(format!(
            "the server's certificate was refused ({reason}): give the certificate authority that signed it \
             (sslrootcert= in the connection string, or PostgresInboxBuilder::root_certificates), connect by a host \
             name the certificate names for verify-full, or use sslmode=require to encrypt without verifying"
        ));
    }
    if let Some(other) = rustls {
        return Some(format!(
            "the TLS handshake failed ({other}): check the server's TLS settings"
        ));
    }
    let text = e.to_string();
    (text.contains("server does not support TLS")).then(|| {
        "the server does not accept TLS: turn `ssl` on in its postgresql.conf, or connect with sslmode=prefer or \
         disable over a private network"
            .to_owned()
    })
}

#[cfg(test)]
mod tests;
