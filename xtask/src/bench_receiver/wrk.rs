//! The load generator: `wrk` in its own process, with a Lua script that posts distinct notifications.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// The path token every target is started with.
pub(crate) const TOKEN: &str = "benchbenchbenchbenchbenchbench00";

/// What one `wrk` run measured.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Run {
    /// Answers with a 2xx status.
    pub(crate) ok: u64,
    /// Answers with another status.
    pub(crate) bad_status: u64,
    /// Connect, read, write and timeout errors.
    pub(crate) socket_errors: u64,
    pub(crate) seconds: f64,
    pub(crate) p50: Duration,
    pub(crate) p99: Duration,
}

impl Run {
    pub(crate) fn per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.ok as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// One load: how many connections, for how long, and optionally a pause after each answer (pacing).
#[derive(Debug, Clone)]
pub(crate) struct Load<'a> {
    pub(crate) addr: SocketAddr,
    pub(crate) connections: usize,
    pub(crate) duration: Duration,
    /// Makes the event ids of this run distinct from every other run's.
    pub(crate) prefix: &'a str,
    /// Milliseconds each connection waits after an answer before its next request; 0 sends back to back.
    pub(crate) pause_ms: u64,
}

/// Checks that `wrk` runs, installing Debian's package when it is missing.
pub(crate) fn ensure_installed() -> Result<()> {
    ensure_tool("wrk", "--version", "macOS: `brew install wrk`")
}

/// Checks that `program` runs (with `probe` as its argument), installing Debian's package of the same name when
/// it is missing; `elsewhere` says how to install it on other systems.
pub(crate) fn ensure_tool(program: &str, probe: &str, elsewhere: &str) -> Result<()> {
    let runs = || {
        Command::new(program)
            .arg(probe)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    if runs() {
        return Ok(());
    }
    println!("{program} is missing: installing it with apt-get");
    let installed = Command::new("apt-get")
        .args(["install", "-y", program])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status();
    match installed {
        Ok(status) if status.success() && runs() => Ok(()),
        Ok(status) => bail!(
            "`apt-get install -y {program}` failed ({status}): install {program} yourself (Debian/Ubuntu: \
             `sudo apt-get install {program}`, {elsewhere}) and run the bench again"
        ),
        Err(e) => bail!(
            "{program} is missing and apt-get cannot run ({e}): install {program} yourself (Debian/Ubuntu: \
             `sudo apt-get install {program}`, {elsewhere}) and run the bench again"
        ),
    }
}

/// The Lua script: each request a distinct `payment_completed` notification (the thread's number and a counter
/// in the `eventId`), and a last line with the figures for [`parse`].
fn script(pause_ms: u64) -> String {
    let pause = if pause_ms > 0 {
        format!("function delay()\n  return {pause_ms}\nend\n")
    } else {
        String::new()
    };
    format!(
        r#"local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local counter = 0
local prefix = "run"
local path = "/"
function init(args)
  prefix = args[1] or prefix
  path = args[2] or path
end

function request()
  counter = counter + 1
  local body = string.format(
    '{{"eventId":"wh_%s_%d_%d","event":"payment_completed","data":{{"objectId":%d,"userId":"C00081866","amount":10.00,"currency":"GBP"}}}}',
    prefix, tid, counter, counter)
  return wrk.format("POST", path, {{["Content-Type"] = "application/json"}}, body)
end
{pause}
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("CXTN_WRK %d %d %d %d %d %d\n", summary.requests, e.status,
    e.connect + e.read + e.write + e.timeout, summary.duration,
    math.floor(latency:percentile(50)), math.floor(latency:percentile(99))))
end
"#
    )
}

/// Runs `wrk` with one thread against `load.addr`, posting to the receiver's path.
pub(crate) fn run(dir: &Path, load: &Load<'_>) -> Result<Run> {
    let script_path = dir.join(format!("post-{}.lua", load.pause_ms));
    if !script_path.exists() {
        std::fs::write(&script_path, script(load.pause_ms)).context("writing the wrk script")?;
    }
    let path = format!("/cxtn/{TOKEN}");
    let output = Command::new("wrk")
        .arg("-t1")
        .arg(format!("-c{}", load.connections))
        .arg(format!("-d{}s", load.duration.as_secs().max(1)))
        .arg("--timeout")
        .arg("10s")
        .arg("-s")
        .arg(&script_path)
        .arg(format!("http://{}{path}", load.addr))
        .arg("--")
        .arg(load.prefix)
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .context("running wrk")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "wrk failed ({}): {}{}",
            output.status,
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    parse(&stdout).with_context(|| format!("reading wrk's figures from:\n{stdout}"))
}

/// Reads the `CXTN_WRK` line the script's `done` writes.
fn parse(stdout: &str) -> Result<Run> {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("CXTN_WRK "))
        .context("wrk printed no CXTN_WRK line")?;
    let numbers = line
        .split_whitespace()
        .map(|n| n.parse::<u64>().context("a figure that is not a whole number"))
        .collect::<Result<Vec<_>>>()?;
    let [requests, bad_status, socket_errors, duration_us, p50_us, p99_us] = numbers[..] else {
        bail!("the CXTN_WRK line holds {} figures instead of 6", numbers.len());
    };
    Ok(Run {
        ok: requests.saturating_sub(bad_status),
        bad_status,
        socket_errors,
        seconds: duration_us as f64 / 1e6,
        p50: Duration::from_micros(p50_us),
        p99: Duration::from_micros(p99_us),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn figures_are_read_from_the_done_line() {
        let run = super::parse("Running 1s test\nCXTN_WRK 1000 10 2 2000000 450 1900\n").unwrap();
        assert_eq!((run.ok, run.bad_status, run.socket_errors), (990, 10, 2));
        assert!((run.per_second() - 495.0).abs() < 1e-9);
        assert_eq!(run.p99.as_micros(), 1900);
        assert!(super::parse("no line").is_err());
    }
}
