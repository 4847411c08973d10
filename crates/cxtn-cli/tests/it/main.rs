//! Integration tests of the `cxtn` binary: each runs the built binary against servers started
//! in the test on 127.0.0.1:0 (the sandbox, receivers), and checks its output and exit code.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    unreachable_pub,
    missing_debug_implementations
)]

mod admin;
mod console;
mod demo;
mod deploy;
mod escaping;
mod events;
mod flood;
mod forward;
mod help;
mod inbox;
mod listen;
mod logs;
mod plan;
mod prune;
mod publish;
mod replay;
mod rotate;
mod sandbox;
mod secrets;
mod trigger;
mod webhooks;

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use cxtn::receiver::{Inbox, MemoryInbox, Receiver, Running};
use cxtn::sandbox::Sandbox;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_cxtn");

/// The path token of the receivers the tests start.
pub const TOKEN: &str = "t0k3nT0K3Nt0k3nT0K3Nt0k3nT0K3N42";

/// What one run of the binary gave.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The stdout lines parsed as JSON, one value per line.
    pub fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
            .collect()
    }

    /// The stdout as one JSON value.
    pub fn json(&self) -> Value {
        let lines = self.json_lines();
        assert_eq!(lines.len(), 1, "one JSON value expected: {}", self.stdout);
        lines.into_iter().next().unwrap()
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Exit 1 or 2 with a sentence on stderr saying what is wrong.
    #[track_caller]
    pub fn assert_error(&self, code: i32, mentions: &str) -> &Self {
        self.assert_code(code);
        assert!(
            self.stderr.starts_with("error: "),
            "stderr should open with `error: `: {}",
            self.stderr
        );
        assert!(
            self.stderr.contains(mentions),
            "stderr should mention {mentions:?}: {}",
            self.stderr
        );
        self
    }
}

/// The binary with no `CXTN_` variables from the outside, no colour, and no stdin.
pub fn cxtn() -> Command {
    let mut command = Command::new(BIN);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("CXTN_") {
            command.env_remove(name);
        }
    }
    command
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Runs the binary to the end.
pub async fn run(args: &[&str], envs: &[(&str, &str)]) -> Run {
    run_with_input(args, envs, None).await
}

/// Runs the binary to the end with `input` on stdin.
pub async fn run_with_input(args: &[&str], envs: &[(&str, &str)], input: Option<&[u8]>) -> Run {
    let mut command = cxtn();
    command.args(args).envs(envs.iter().copied());
    if input.is_some() {
        command.stdin(Stdio::piped());
    }
    let mut child = command.spawn().expect("the binary starts");
    if let Some(input) = input {
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input).await.unwrap();
        drop(stdin);
    }
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the binary finishes within a minute")
        .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// A sandbox with delivery retries in milliseconds.
pub async fn sandbox() -> Sandbox {
    Sandbox::builder()
        .retry_schedule([Duration::from_millis(20), Duration::from_millis(40)])
        .start()
        .await
        .unwrap()
}

/// Runs a `webhooks` command against the sandbox, and checks the token never shows.
pub async fn webhooks(sandbox: &Sandbox, args: &[&str]) -> Run {
    let base_url = sandbox.base_url();
    let token = sandbox.token().expose_secret().to_owned();
    let mut all = vec!["webhooks", "--base-url", base_url.as_str()];
    all.extend_from_slice(args);
    let run = run(&all, &[("CXTN_ACCESS_TOKEN", token.as_str())]).await;
    assert!(
        !run.stdout.contains(&token) && !run.stderr.contains(&token),
        "the access token was printed: {run:?}"
    );
    run
}

/// A receiver on 127.0.0.1:0 with the path token [`TOKEN`]; its endpoint URL.
pub async fn receiver(inbox: Arc<dyn Inbox>) -> (Running, String) {
    let receiver = Receiver::builder(inbox).path_token(TOKEN).build().unwrap();
    let running = receiver.bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cxtn/{TOKEN}", running.addr());
    (running, url)
}

/// POSTs `body` exactly as given to a receiver's endpoint URL (`http://ADDR/PATH`); returns the status code.
pub async fn post_raw(url: &str, body: &str) -> u16 {
    use tokio::io::AsyncReadExt as _;
    let (addr, path) = url.strip_prefix("http://").unwrap().split_once('/').unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /{path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer.split(' ').nth(1).unwrap().parse().unwrap()
}

/// A receiver over a memory inbox.
pub async fn memory_receiver() -> (Arc<dyn Inbox>, Running, String) {
    let inbox: Arc<dyn Inbox> = Arc::new(MemoryInbox::new());
    let (running, url) = receiver(inbox.clone()).await;
    (inbox, running, url)
}

/// A long-running command (`listen`, `sandbox`) whose stdout is read line by line.
pub struct Background {
    pub child: Child,
    pub lines: Lines<BufReader<ChildStdout>>,
}

impl Background {
    pub fn spawn(args: &[&str], envs: &[(&str, &str)]) -> Self {
        let mut command = cxtn();
        command.args(args).envs(envs.iter().copied());
        let mut child = command.spawn().expect("the binary starts");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self { child, lines }
    }

    /// The next stdout line, within 10 seconds.
    pub async fn line(&mut self) -> String {
        match tokio::time::timeout(Duration::from_secs(10), self.lines.next_line()).await {
            Ok(Ok(Some(line))) => line,
            other => {
                let _ = self.child.start_kill();
                let output = self.child.stderr.take();
                let mut stderr = String::new();
                if let Some(mut output) = output {
                    let _ = tokio::io::AsyncReadExt::read_to_string(&mut output, &mut stderr).await;
                }
                panic!("no stdout line came ({other:?}); stderr: {stderr}")
            }
        }
    }

    /// The next stdout line as JSON.
    pub async fn json_line(&mut self) -> Value {
        let line = self.line().await;
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// Sends a signal (`INT`, as Ctrl-C does, or `TERM`).
    pub fn signal(&self, name: &str) {
        let pid = self.child.id().expect("still running");
        let status = std::process::Command::new("kill")
            .args([format!("-{name}"), pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Sends SIGINT, as Ctrl-C does, and returns the exit code and the rest of stdout.
    pub async fn interrupt(mut self) -> (i32, String) {
        self.signal("INT");
        let mut rest = String::new();
        while let Ok(Ok(Some(line))) = tokio::time::timeout(Duration::from_secs(10), self.lines.next_line()).await {
            rest.push_str(&line);
            rest.push('\n');
        }
        let status = tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .expect("it stops within 10 seconds")
            .unwrap();
        (status.code().unwrap_or(-1), rest)
    }
}

/// Polls `check` until it holds, for up to 10 seconds.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..500 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Reads one HTTP/1 request from `stream`, for a test's stand-in server: the head, then as many body bytes as its
/// `content-length` says. The request as text, or `None` when the client closes the connection first.
pub async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<String> {
    use tokio::io::AsyncReadExt as _;
    let mut request = Vec::new();
    let mut buffer = [0_u8; 4096];
    loop {
        let read = stream.read(&mut buffer).await.ok()?;
        if read == 0 {
            return None;
        }
        request.extend_from_slice(&buffer[..read]);
        let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
        let length = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if request.len() >= end + 4 + length {
            return Some(String::from_utf8_lossy(&request).into_owned());
        }
    }
}
