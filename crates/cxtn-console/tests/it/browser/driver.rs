//! Chromedriver on a free loopback port and one headless Chromium session, both killed when dropped.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use fantoccini::wd::{Capabilities, TimeoutConfiguration};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long a page, a script or a condition may take before the case fails.
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);

/// A headless Chromium driven through chromedriver.
///
/// Dropping it kills chromedriver's process group, the browser it started included, whether the test passed or not.
#[derive(Debug)]
pub(crate) struct Browser {
    client: Client,
    driver: Driver,
}

impl Browser {
    /// Starts chromedriver on a free loopback port and opens a session in a fresh profile.
    ///
    /// Fails, saying what to install, when Chromium or chromedriver is missing.
    pub(crate) async fn start() -> anyhow::Result<Self> {
        for binary in [CHROMIUM, CHROMEDRIVER] {
            if !Path::new(binary).exists() {
                bail!(
                    "{binary} is missing: the console's browser tests drive headless Chromium; install Debian's \
                     packages with `apt-get install chromium chromium-driver` (.ci/run installs them)"
                );
            }
        }
        let driver = Driver::start().await?;
        let profile = driver.profile.path().display().to_string();
        let mut capabilities = Capabilities::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    format!("--user-data-dir={profile}"),
                    "--window-size=1280,900",
                ],
            }),
        );
        let url = format!("http://127.0.0.1:{}", driver.port);
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&url)
            .await
            .with_context(|| format!("chromedriver did not open a Chromium session{}", driver.log_tail()))?;
        client
            .update_timeouts(TimeoutConfiguration::new(
                Some(PATIENCE),
                Some(PATIENCE),
                Some(Duration::ZERO),
            ))
            .await
            .context("could not set the browser's timeouts")?;
        Ok(Self { client, driver })
    }

    /// The WebDriver session.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// Ends the session (the browser quits); the driver is killed on drop.
    pub(crate) async fn close(self) -> anyhow::Result<()> {
        let Self { client, driver } = self;
        client.close().await.context("could not end the browser session")?;
        drop(driver);
        Ok(())
    }
}

/// A chromedriver process in a process group of its own, with its log and the browser's profile.
#[derive(Debug)]
struct Driver {
    child: Child,
    port: u16,
    log: PathBuf,
    profile: tempfile::TempDir,
    _logs: tempfile::TempDir,
}

impl Driver {
    /// Starts chromedriver on a free loopback port and waits until it accepts connections.
    async fn start() -> anyhow::Result<Self> {
        // The port is free when picked; should another process take it first, chromedriver exits and another is tried.
        for _ in 0..3 {
            let profile = tempfile::tempdir().context("could not make the browser's profile directory")?;
            let logs = tempfile::tempdir().context("could not make a directory for chromedriver's log")?;
            let log = logs.path().join("chromedriver.log");
            let port = free_port()?;
            let child = Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .arg(format!("--log-path={}", log.display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .with_context(|| format!("could not start {CHROMEDRIVER}"))?;
            let mut driver = Self {
                child,
                port,
                log,
                profile,
                _logs: logs,
            };
            let deadline = Instant::now() + PATIENCE;
            loop {
                if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
                    return Ok(driver);
                }
                if driver.child.try_wait()?.is_some() || Instant::now() > deadline {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
        bail!("chromedriver did not start on a loopback port after 3 tries")
    }

    /// The end of chromedriver's log, to explain a failure.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines
            .get(lines.len().saturating_sub(20)..)
            .unwrap_or_default()
            .join("\n");
        if tail.is_empty() {
            String::new()
        } else {
            format!("; chromedriver's log ends with:\n{tail}")
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // chromedriver leads its own process group, and the browser it starts stays in it: kill them all.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port free at the time of asking.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).context("no free loopback port")?;
    Ok(listener.local_addr()?.port())
}

/// Polls `probe` every 50 ms until it gives a value, for at most [`PATIENCE`]; an error counts as not yet
/// (an element replaced by a navigation, a page still loading) and is shown if time runs out.
pub(crate) async fn wait_for<T, F, Fut>(what: &str, mut probe: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + PATIENCE;
    let mut last = String::from("the condition never held");
    loop {
        match probe().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => {}
            Err(e) => last = format!("{e:#}"),
        }
        if Instant::now() > deadline {
            bail!("timed out after {PATIENCE:?} waiting for {what} ({last})");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The text of the element `css` selects, trimmed.
pub(crate) async fn text(client: &Client, css: &str) -> anyhow::Result<String> {
    let element = client
        .find(Locator::Css(css))
        .await
        .with_context(|| format!("no element matches `{css}`"))?;
    Ok(element
        .text()
        .await
        .with_context(|| format!("could not read the text of `{css}`"))?
        .trim()
        .to_owned())
}

/// The value of `attribute` on the element `css` selects.
pub(crate) async fn attr(client: &Client, css: &str, attribute: &str) -> anyhow::Result<Option<String>> {
    let element = client
        .find(Locator::Css(css))
        .await
        .with_context(|| format!("no element matches `{css}`"))?;
    element
        .attr(attribute)
        .await
        .with_context(|| format!("could not read `{attribute}` of `{css}`"))
}
