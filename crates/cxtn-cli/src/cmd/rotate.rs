//! `cxtn webhooks rotate`: a new path token for an endpoint, without refusing a single delivery.
//!
//! The receiver accepts the new token beside the old one before the endpoint changes, so every delivery,
//! retries to the old URL included, finds a token the receiver accepts.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use cxtn::model::{EndpointUrl, Secret, UrlPolicy};
use cxtn_transport::{HyperTransport, Method, Request, RetryPolicy, Transport, with_retry};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::listen::token_lines;
use crate::cli::RotateArgs;
use crate::error::CliError;
use crate::ui::{BOLD, DIM, GOOD, Render, Ui, clean};

/// The `User-Agent` of the probes.
const USER_AGENT: &str = concat!("cxtn-cli/", env!("CARGO_PKG_VERSION"));

/// Where the token goes in `--url-template` and `--receiver-url`.
const PLACEHOLDER: &str = "{token}";

/// How often the receiver is asked whether it accepts the new token.
const PROBE_EVERY: Duration = Duration::from_millis(200);

/// How long one probe may take, connecting included.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Random bytes in a new token: 256 bits.
const TOKEN_BYTES: usize = 32;

pub(crate) async fn run(client: &cxtn::Client, args: RotateArgs, show_urls: bool, ui: &Ui) -> Result<(), CliError> {
    // Moved into the edit at step 4; read by reference until then.
    let event_type = args.event_type;
    let (event_name, event_value) = (event_type.to_string(), event_type.value());
    if args.timeout.is_zero() {
        return Err(CliError::usage("--timeout must be above zero").hint("Give a duration such as 60s or 2m."));
    }
    check_template(&args.url_template)?;
    let probe_template = match &args.receiver_url {
        Some(url) => probe_template(url)?,
        None => args.url_template.clone(),
    };
    let file = read_token_file(&args.path_token_file)?;

    // The endpoint as it is, to learn the old token, and which other endpoints share it.
    let endpoints = {
        let _spinner = ui.spinner("reading the endpoints");
        client.webhooks().list().await?
    };
    let Some(current) = endpoints.iter().find(|e| e.event_type == event_type) else {
        return Err(CliError::failed(format!(
            "the {event_type} endpoint does not exist, so there is nothing to rotate"
        ))
        .hint("Create it first with `cxtn webhooks create --event-type TYPE --url URL`."));
    };
    let old_token = last_segment(&current.endpoint_url);
    let old_used_by: Vec<String> = endpoints
        .iter()
        .filter(|e| e.event_type != event_type && old_token.is_some() && last_segment(&e.endpoint_url) == old_token)
        .map(|e| e.event_type.to_string())
        .collect();
    let old_in_file = old_token
        .as_deref()
        .is_some_and(|old| token_lines(&file).any(|(_, token)| Secret::new(token).matches(old)));

    // 1. A strong token.
    let token = generate()?;
    let new_fingerprint = fingerprint(token.expose_secret());
    let new_url = args.url_template.replace(PLACEHOLDER, token.expose_secret());
    let probe_url = probe_template.replace(PLACEHOLDER, token.expose_secret());
    let probe = Probe::new(&probe_url)?;

    // 2. Into the receiver's file, beside the old ones, and the receiver told to read it again.
    let comment = format!(
        "# {new_fingerprint} added by cxtn webhooks rotate for {event_type} at {}",
        now().format("%Y-%m-%dT%H:%M:%SZ")
    );
    append_token(&args.path_token_file, &comment, token.expose_secret()).map_err(|e| {
        CliError::failed(format!(
            "cannot write the new token to {}: {e}",
            args.path_token_file.display()
        ))
        .hint("Check that this user may write the file and create files in its directory; nothing was changed.")
    })?;
    ui.note(format!(
        "Added a new path token ({new_fingerprint}) to {}.",
        args.path_token_file.display()
    ));
    match args.reload_pid {
        Some(pid) => {
            signal_reload(pid)?;
            ui.note(format!("Sent SIGHUP to process {pid}."));
        }
        None => ui.note(format!(
            "Send SIGHUP to the receiver so that it reads the file again (kill -HUP <pid of cxtn listen>); waiting up to {} s for it to accept the new token.",
            args.timeout.as_secs()
        )),
    }

    // 3. Until the receiver accepts it.
    let started = Instant::now();
    {
        let _spinner = ui.spinner("waiting for the receiver to accept the new token");
        probe.wait_accepted(args.timeout).await.map_err(|last| {
            not_accepted(
                &args.path_token_file,
                args.reload_pid,
                args.timeout,
                &new_fingerprint,
                &probe,
                &last,
            )
        })?;
    }
    let accepted_after = started.elapsed();

    // 4. The endpoint moves to the new URL.
    {
        let _spinner = ui.spinner("waiting for the CXTN API");
        client
            .webhooks()
            .edit(event_type, &new_url)
            .await
            .map_err(|e| {
                CliError::from(e).detail(format!(
                    "the receiver accepts both the old token and the new one ({new_fingerprint}), so nothing is refused; run the command again, or `cxtn webhooks edit` with the new URL"
                ))
            })?;
    }

    // 5. When the old token can go.
    let remove_after =
        now() + chrono::Duration::from_std(args.retire_after).unwrap_or_else(|_| chrono::Duration::days(3));
    let url = if show_urls {
        new_url.clone()
    } else {
        EndpointUrl::new(new_url.as_str()).redacted()
    };
    ui.render(&Rotated {
        operation: "rotate",
        ok: true,
        event_type: event_name,
        event_type_value: event_value,
        url,
        token_file: args.path_token_file.display().to_string(),
        new_token: new_fingerprint,
        old_token: old_token.as_deref().map(fingerprint),
        old_token_in_file: old_in_file,
        old_token_used_by: old_used_by,
        sighup_sent_to: args.reload_pid,
        accepted_after_ms: u64::try_from(accepted_after.as_millis()).unwrap_or(u64::MAX),
        remove_old_after: remove_after.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        retire_after_seconds: args.retire_after.as_secs(),
    })
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now())
}

/// The URL template holds `{token}` as a whole path segment, and makes an endpoint URL CXTN accepts.
fn check_template(template: &str) -> Result<(), CliError> {
    let hint = "Give the endpoint URL with {token} as its last path segment, such as 'https://hooks.example.com/cxtn/{token}' (quoted for the shell).";
    if template.matches(PLACEHOLDER).count() != 1 {
        return Err(CliError::usage("--url-template must hold {token} exactly once").hint(hint));
    }
    let sample = template.replace(PLACEHOLDER, "token");
    let url = EndpointUrl::parse_with(&sample, UrlPolicy::new())
        .map_err(|e| CliError::usage(format!("--url-template does not make an endpoint URL: {e}")).hint(hint))?;
    if last_segment(&url).as_deref() != Some("token") {
        return Err(CliError::usage(
            "--url-template must end its path with {token}, which the receiver reads as the last path segment",
        )
        .hint(hint));
    }
    Ok(())
}

/// `--receiver-url` as a template: as given when it holds `{token}`, else with the token appended to its path.
fn probe_template(url: &str) -> Result<String, CliError> {
    let url = url.trim();
    let template = if url.contains(PLACEHOLDER) {
        url.to_owned()
    } else {
        let (base, rest) = url.find(['?', '#']).map_or((url, ""), |at| url.split_at(at));
        format!("{}/{PLACEHOLDER}{rest}", base.trim_end_matches('/'))
    };
    if template.matches(PLACEHOLDER).count() != 1 {
        return Err(CliError::usage("--receiver-url must hold {token} at most once")
            .hint("Give the receiver's URL as this machine reaches it, such as http://127.0.0.1:8080/cxtn/{token}."));
    }
    EndpointUrl::parse_with(
        &template.replace(PLACEHOLDER, "token"),
        UrlPolicy::new().allow_insecure_http(true),
    )
    .map_err(|e| {
        CliError::usage(format!("--receiver-url is not an http or https URL: {e}"))
            .hint("Give the receiver's URL as this machine reaches it, such as http://127.0.0.1:8080/cxtn/{token}.")
    })?;
    Ok(template)
}

/// The last path segment of an endpoint URL: its path token, when it has one.
fn last_segment(url: &EndpointUrl) -> Option<String> {
    let (bare, _) = url.split_credentials()?;
    let rest = bare.split_once("://").map_or(bare.as_str(), |(_, rest)| rest);
    let path = rest.find('/').map_or("", |at| rest.get(at..).unwrap_or_default());
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let last = path.trim_end_matches('/').rsplit('/').next().unwrap_or_default();
    (!last.is_empty()).then(|| last.to_owned())
}

/// The token file's text; it must exist: it is the file the receiver reads.
fn read_token_file(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| {
        CliError::usage(format!(
            "cannot read the file {} given to --path-token-file: {e}",
            path.display()
        ))
        .hint("Give the file the receiver reads its path tokens from (cxtn listen --path-token-file PATH).")
    })
}

/// 32 random bytes from the operating system, URL-safe base64 without padding: 43 characters.
fn generate() -> Result<Secret, CliError> {
    let mut bytes = [0_u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes)
        .map_err(|e| CliError::failed(format!("cannot get random bytes from the operating system: {e}")))?;
    Ok(Secret::new(URL_SAFE_NO_PAD.encode(bytes)))
}

/// A name for a token that gives nothing of it away: `sha256:` and the first 8 hex digits of its SHA-256.
fn fingerprint(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Writes the file again with its lines as they are now, then `comment` and `token`: to a new file in the same
/// directory, mode 0600, flushed to disk, then renamed over the old one, so the receiver never reads half a file.
/// The file is read again here, not at the start, so a line written meanwhile (another rotation) is kept.
fn append_token(path: &Path, comment: &str, token: &str) -> std::io::Result<()> {
    // Through a symbolic link, the file it points at is written, and the link stays.
    let path = &std::fs::canonicalize(path)?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let old = std::fs::read_to_string(path)?;
    let mut file = tempfile::Builder::new()
        .prefix(".cxtn-path-tokens-")
        .tempfile_in(&dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
        file.as_file().set_permissions(std::fs::Permissions::from_mode(0o600))?;
        // The receiver reads the file as its own user: the new file keeps the old one's owner and group, so a
        // rotation run as root leaves it readable to the receiver, now and at its next start.
        let (was, is) = (std::fs::metadata(path)?, file.as_file().metadata()?);
        if (was.uid(), was.gid()) != (is.uid(), is.gid()) {
            std::os::unix::fs::fchown(file.as_file(), Some(was.uid()), Some(was.gid()))?;
        }
    }
    file.write_all(old.as_bytes())?;
    if !old.is_empty() && !old.ends_with('\n') {
        file.write_all(b"\n")?;
    }
    writeln!(file, "{comment}")?;
    writeln!(file, "{token}")?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    #[cfg(unix)]
    if let Ok(dir) = std::fs::File::open(&dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Sends SIGHUP to the receiver, so that it reads its token file again.
fn signal_reload(pid: i32) -> Result<(), CliError> {
    let failed = |reason: String| {
        CliError::failed(format!("cannot send SIGHUP to process {pid}: {reason}")).hint(
            "Check --reload-pid (the pid of cxtn listen, as this user); the new token is in the file: send SIGHUP yourself and run the command again.",
        )
    };
    #[cfg(unix)]
    {
        let process = rustix::process::Pid::from_raw(pid).ok_or_else(|| failed("not a process id".to_owned()))?;
        rustix::process::kill_process(process, rustix::process::Signal::HUP).map_err(|e| failed(e.to_string()))
    }
    #[cfg(not(unix))]
    Err(failed("signals exist only on Unix".to_owned()))
}

/// Asks the receiver whether it accepts a token, storing nothing: a `GET` on the URL with the token.
/// A receiver answers a `GET` it authenticates with 405 (only `POST` is accepted), and one it does not with 401.
struct Probe {
    transport: Arc<dyn Transport>,
    url: String,
    authorization: Option<Secret>,
    redacted: String,
}

/// What the last probe got.
#[derive(Debug)]
enum Answer {
    Status(u16),
    Unreachable(String),
    Nothing,
}

impl Probe {
    fn new(url: &str) -> Result<Self, CliError> {
        let url = EndpointUrl::new(url);
        let redacted = url.redacted();
        let (bare, credentials) = url
            .split_credentials()
            .ok_or_else(|| CliError::usage(format!("`{redacted}` is not a URL to probe")))?;
        let authorization = credentials.map(|c| {
            let pair = format!("{}:{}", c.user, c.password.expose_secret());
            Secret::new(format!("Basic {}", STANDARD.encode(pair)))
        });
        let backend = HyperTransport::builder()
            .connect_timeout(PROBE_TIMEOUT)
            .max_response_bytes(8 * 1024)
            .build()
            .map_err(|e| CliError::failed(format!("cannot set up the HTTP client: {e}")))?;
        let policy = RetryPolicy::builder()
            .max_attempts(1)
            .attempt_timeout(PROBE_TIMEOUT)
            .deadline(PROBE_TIMEOUT)
            .build();
        Ok(Self {
            transport: with_retry(Arc::new(backend), policy),
            url: bare,
            authorization,
            redacted,
        })
    }

    async fn ask(&self) -> Answer {
        let mut request = Request::new(Method::GET, self.url.clone()).header("user-agent", USER_AGENT);
        if let Some(authorization) = &self.authorization {
            request = request.header("authorization", authorization.expose_secret());
        }
        match self.transport.send(request).await {
            Ok(response) => Answer::Status(response.status.as_u16()),
            Err(e) => match e.status() {
                Some(status) => Answer::Status(status.as_u16()),
                None => Answer::Unreachable(e.to_string()),
            },
        }
    }

    /// Asks until the receiver accepts the token, up to `timeout`; the last answer when it never did.
    /// Any answer but 401, 403, 404 or a 5xx means the token got past authentication.
    async fn wait_accepted(&self, timeout: Duration) -> Result<(), Answer> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut last = Answer::Nothing;
        loop {
            let answer = tokio::time::timeout_at(deadline, self.ask()).await;
            match answer {
                Ok(Answer::Status(status)) if accepted(status) => return Ok(()),
                Ok(answer) => last = answer,
                Err(_) => return Err(last),
            }
            if tokio::time::Instant::now() + PROBE_EVERY >= deadline {
                return Err(last);
            }
            tokio::time::sleep(PROBE_EVERY).await;
        }
    }
}

fn accepted(status: u16) -> bool {
    !matches!(status, 401 | 403 | 404) && status < 500
}

fn not_accepted(
    file: &Path,
    reload_pid: Option<i32>,
    timeout: Duration,
    fingerprint: &str,
    probe: &Probe,
    last: &Answer,
) -> CliError {
    let last = match last {
        Answer::Status(status) => format!("HTTP {status}"),
        Answer::Unreachable(error) => error.clone(),
        Answer::Nothing => "no answer".to_owned(),
    };
    let reload = match reload_pid {
        Some(pid) => format!("and that process {pid} is the cxtn listen that reads it"),
        None => "and that it was sent SIGHUP (or pass --reload-pid)".to_owned(),
    };
    CliError::failed(format!(
        "the receiver did not accept the new token ({fingerprint}) within {} s; the last answer from {} was {}",
        timeout.as_secs_f64(),
        probe.redacted,
        clean(&last)
    ))
    .hint(format!(
        "The endpoint was not changed, so nothing is refused. Check that the receiver reads {} {reload}, and that --receiver-url reaches it; the new token stays in the file, harmless: run the command again once the receiver reads it.",
        file.display()
    ))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rotated {
    operation: &'static str,
    ok: bool,
    event_type: String,
    event_type_value: Option<u8>,
    /// The new endpoint URL, redacted unless `--show-urls`.
    url: String,
    token_file: String,
    new_token: String,
    old_token: Option<String>,
    old_token_in_file: bool,
    old_token_used_by: Vec<String>,
    sighup_sent_to: Option<i32>,
    accepted_after_ms: u64,
    remove_old_after: String,
    retire_after_seconds: u64,
}

impl Render for Rotated {
    fn human(&self, ui: &Ui) {
        let event_type = clean(&self.event_type);
        ui.out(format!(
            "Rotated the {event_type} endpoint: it now points at {} with the new token {}.",
            ui.paint(DIM, &self.url),
            ui.paint(GOOD, &self.new_token)
        ));
        ui.out(format!(
            "The receiver accepted the new token after {:.1} s.",
            Duration::from_millis(self.accepted_after_ms).as_secs_f64()
        ));
        let file = clean(&self.token_file);
        let days = retire_words(self.retire_after_seconds);
        let old = self.old_token.as_deref().unwrap_or("the old token");
        let line = if self.old_token.is_none() {
            "The old URL had no path token, so there is no old token to remove.".to_owned()
        } else if !self.old_token_used_by.is_empty() {
            format!(
                "Keep the old token {old}: the {} endpoint still uses it; rotate that one too.",
                self.old_token_used_by.join(" and ")
            )
        } else if self.old_token_in_file {
            format!(
                "Remove the old token {old} from {file} after {} ({days} from now), then send SIGHUP to the receiver: CXTN publishes no retry schedule, so this leaves its retries to the old URL {days} to arrive.",
                ui.paint(BOLD, &self.remove_old_after)
            )
        } else {
            format!(
                "The old token {old} is not in {file}: the receiver takes it from elsewhere (--path-token or CXTN_PATH_TOKEN); stop giving it after {} ({days} from now).",
                ui.paint(BOLD, &self.remove_old_after)
            )
        };
        ui.out(line);
    }
}

/// An age in words: `3 days`, `12 hours`, `90 minutes`, `45 seconds`.
fn retire_words(seconds: u64) -> String {
    let (n, unit) = match seconds {
        s if s >= 86_400 && s % 86_400 == 0 => (s / 86_400, "day"),
        s if s >= 3600 && s % 3600 == 0 => (s / 3600, "hour"),
        s if s >= 60 && s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_token_is_43_url_safe_characters_and_never_the_same() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        assert_eq!(a.expose_secret().len(), 43);
        assert!(
            a.expose_secret()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(a.expose_secret(), b.expose_secret());
    }

    #[test]
    fn a_fingerprint_is_short_and_stable() {
        assert_eq!(fingerprint("abc"), "sha256:ba7816bf");
        assert!(!fingerprint("secret-token").contains("secret"));
    }

    #[test]
    fn the_template_needs_the_token_as_its_last_segment() {
        assert!(check_template("https://hooks.example.com/cxtn/{token}").is_ok());
        assert!(check_template("http://127.0.0.1:8080/cxtn/{token}/").is_ok());
        for bad in [
            "https://hooks.example.com/cxtn",
            "https://hooks.example.com/{token}/cxtn",
            "https://hooks.example.com/{token}/{token}",
            "http://hooks.example.com/cxtn/{token}",
            "not a url/{token}",
        ] {
            assert!(check_template(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_receiver_url_takes_the_token_as_its_last_segment() {
        assert_eq!(
            probe_template("http://127.0.0.1:8080/cxtn").unwrap(),
            "http://127.0.0.1:8080/cxtn/{token}"
        );
        assert_eq!(
            probe_template("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080/{token}"
        );
        assert_eq!(
            probe_template("http://u:p@10.0.0.5:8080/x/{token}").unwrap(),
            "http://u:p@10.0.0.5:8080/x/{token}"
        );
        assert!(probe_template("ftp://host/x").is_err());
    }

    #[test]
    fn the_old_token_is_the_last_path_segment() {
        let last = |url: &str| last_segment(&EndpointUrl::new(url));
        assert_eq!(last("https://h.example/cxtn/abc").as_deref(), Some("abc"));
        assert_eq!(last("https://u:p@h.example/cxtn/abc/?x=1").as_deref(), Some("abc"));
        assert_eq!(last("https://h.example/"), None);
    }

    #[test]
    fn the_token_is_appended_and_the_old_lines_kept_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        let old = "# the first\nold-token-old-token-old-token";
        std::fs::write(&path, old).unwrap();
        append_token(&path, "# new", "new-token").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "# the first\nold-token-old-token-old-token\n# new\nnew-token\n"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind");
    }

    #[cfg(unix)]
    #[test]
    fn the_new_file_keeps_the_owner_and_group_of_the_old() {
        use std::os::unix::fs::MetadataExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens");
        std::fs::write(&path, "old-token-old-token-old-token\n").unwrap();
        // The receiver's user owns the file and rotate runs as root; run as another user, the file stays its own.
        let _ = std::os::unix::fs::chown(&path, Some(65_534), Some(65_534));
        let before = std::fs::metadata(&path).unwrap();
        append_token(&path, "# new", "new-token").unwrap();
        let after = std::fs::metadata(&path).unwrap();
        assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
        assert_eq!(after.mode() & 0o777, 0o600);
    }

    #[cfg(unix)]
    #[test]
    fn through_a_symbolic_link_the_file_it_points_at_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let (secrets, etc) = (dir.path().join("secrets"), dir.path().join("etc"));
        std::fs::create_dir_all(&secrets).unwrap();
        std::fs::create_dir_all(&etc).unwrap();
        let target = secrets.join("path-tokens");
        std::fs::write(&target, "old-token-old-token-old-token\n").unwrap();
        let link = etc.join("path-tokens");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        append_token(&link, "# new", "new-token").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            "old-token-old-token-old-token\n# new\nnew-token\n"
        );
    }

    #[test]
    fn ages_read_as_words() {
        assert_eq!(retire_words(3 * 86_400), "3 days");
        assert_eq!(retire_words(3600), "1 hour");
        assert_eq!(retire_words(90), "90 seconds");
    }
}
