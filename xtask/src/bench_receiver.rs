//! `cargo xtask bench-receiver`: durable deliveries per second of `cxtn listen` against the bare ceiling, load
//! driven from outside by `wrk`; the time from a delivery's commit to its handler's start; the resident memory
//! of `cxtn listen`; the bytes on disk per stored delivery.
//!
//! Every target runs in its own process: the ceiling is a bare hyper server (`xtask bench-receiver serve-bare`)
//! that reads the body and answers 200, and the receivers are the `cxtn` binary itself with a SQLite inbox on
//! disk and with a PostgreSQL inbox in a fresh database. `wrk` (one thread) runs against each in turn, round
//! after round (bare, sqlite, postgres, bare, ...), so that a busy machine weighs on all of them alike, and each
//! figure is given as a share of the ceiling measured in the same round.

mod latency;
mod profile;
mod syscalls;
mod wrk;

use std::convert::Infallible;
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use cxtn_receiver::{Inbox, PostgresInbox, SqliteInbox, rusqlite};
use cxtn_transport::server::Server;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use tokio::net::TcpListener;

use self::wrk::{Load, TOKEN};

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// What to measure, read from the command line.
#[derive(Debug)]
struct Selection {
    seconds: u64,
    rounds: usize,
    connections: Vec<usize>,
    targets: Vec<String>,
    cxtn: PathBuf,
    postgres: String,
    latency: bool,
    /// The worker's slots in the latency measurement (`WorkerPolicy::concurrency`, `cxtn listen --forward-concurrency`).
    worker_concurrency: usize,
}

impl Selection {
    fn wants(&self, target: &str) -> bool {
        self.targets.is_empty() || self.targets.iter().any(|t| t == target)
    }
}

/// `cargo xtask bench-receiver [serve-bare | profile | syscalls] ...`.
pub(crate) fn main(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("serve-bare") => serve_bare(crate::flag_value(args, "--addr").unwrap_or("127.0.0.1:0")),
        Some("profile") => profile::run(args.get(1..).unwrap_or_default()),
        Some("syscalls") => syscalls::run(args.get(1..).unwrap_or_default()),
        _ => run(&selection(args)?),
    }
}

fn selection(args: &[String]) -> Result<Selection> {
    let connections = crate::list_arg(args, "--connections")
        .iter()
        .map(|c| c.parse::<usize>().context("--connections takes numbers such as 64,1"))
        .collect::<Result<Vec<_>>>()?;
    let cxtn = match crate::flag_value(args, "--cxtn") {
        Some(path) => PathBuf::from(path),
        None => sibling("cxtn")?,
    };
    Ok(Selection {
        seconds: crate::seconds_arg(args, 5)?,
        rounds: crate::number_arg(args, "--rounds", 3)?.max(1),
        connections: if connections.is_empty() {
            vec![64, 1]
        } else {
            connections
        },
        targets: crate::list_arg(args, "--targets"),
        cxtn,
        postgres: std::env::var("CXTN_BENCH_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned()),
        latency: !args.iter().any(|a| a == "--no-latency"),
        worker_concurrency: crate::number_arg(args, "--worker-concurrency", 64)?.max(1),
    })
}

/// A binary built beside this one (`target/release/cxtn` for `target/release/xtask`).
pub(crate) fn sibling(name: &str) -> Result<PathBuf> {
    let me = std::env::current_exe().context("finding the xtask binary")?;
    let path = me.with_file_name(name);
    if !path.is_file() {
        bail!(
            "{} is missing: build it first (`cargo build --release -p xtask -p cxtn-cli`), or pass --cxtn PATH",
            path.display()
        );
    }
    Ok(path)
}

/// A target process, stopped (SIGINT, then killed) when dropped.
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) name: &'static str,
    pub(crate) addr: SocketAddr,
    child: Child,
    /// The `cxtn listen` processes: their memory is reported.
    pub(crate) listens: bool,
}

impl Target {
    pub(crate) fn start(name: &'static str, mut command: Command, listens: bool, log: &Path) -> Result<Self> {
        let addr = free_addr()?;
        let log = File::create(log).context("creating the target's log file")?;
        command
            .args(["--addr", &addr.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let child = command.spawn().with_context(|| format!("starting {name}"))?;
        let mut target = Self {
            name,
            addr,
            child,
            listens,
        };
        target.wait_ready(Duration::from_secs(120))?;
        Ok(target)
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!("{} stopped at start ({status}): see its log", self.name);
            }
            if std::net::TcpStream::connect(self.addr).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("{} did not listen on {} within {limit:?}", self.name, self.addr)
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Asks the process to stop (SIGINT, as Ctrl-C) and waits for it, killing it after `limit`.
    pub(crate) fn stop(mut self, limit: Duration) -> Result<()> {
        interrupt(self.child.id());
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        bail!("{} did not stop within {limit:?} of SIGINT", self.name)
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn interrupt(pid: u32) {
    let _ = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A loopback address free a moment ago.
fn free_addr() -> Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?)
}

/// `VmRSS` and `VmHWM` of a process, in KiB.
pub(crate) fn memory(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// One measured load.
#[derive(Debug)]
struct Figure {
    round: usize,
    connections: usize,
    target: &'static str,
    run: wrk::Run,
}

fn run(selection: &Selection) -> Result<()> {
    wrk::ensure_installed()?;
    let dir = tempfile::Builder::new()
        .prefix("cxtn-bench-receiver")
        .tempdir_in(std::env::temp_dir())
        .context("creating a temporary directory")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let me = std::env::current_exe().context("finding the xtask binary")?;
    let mut targets = Vec::new();
    if selection.wants("bare") {
        let mut command = Command::new(&me);
        command.args(["bench-receiver", "serve-bare"]);
        targets.push(Target::start(
            "bare hyper (ceiling)",
            command,
            false,
            &dir.path().join("bare.log"),
        )?);
    }
    let sqlite_path = dir.path().join("inbox.sqlite");
    if selection.wants("sqlite") {
        let mut command = listen_command(&selection.cxtn);
        command.arg("--db").arg(&sqlite_path);
        targets.push(Target::start(
            "cxtn listen, SQLite",
            command,
            true,
            &dir.path().join("sqlite.log"),
        )?);
    }
    let mut databases = Vec::new();
    if selection.wants("postgres") {
        let url = runtime.block_on(fresh_database(&selection.postgres, &mut databases))?;
        let mut command = listen_command(&selection.cxtn);
        command.arg("--db").arg(&url);
        targets.push(Target::start(
            "cxtn listen, PostgreSQL",
            command,
            true,
            &dir.path().join("postgres.log"),
        )?);
    }
    let outcome = measure(selection, dir.path(), &targets, &sqlite_path, &runtime, &mut databases);
    for target in targets {
        if let Err(e) = target.stop(Duration::from_secs(20)) {
            println!("{e:#}");
        }
    }
    if selection.wants("sqlite") {
        match storage(&sqlite_path) {
            Ok((bytes, events)) if events > 0 => println!(
                "\nSQLite inbox on disk after a checkpoint: {bytes} bytes for {events} deliveries, {:.0} bytes each",
                bytes as f64 / events as f64
            ),
            Ok(_) => {}
            Err(e) => println!("could not measure the SQLite inbox's size: {e:#}"),
        }
    }
    runtime.block_on(drop_databases(&selection.postgres, &databases));
    outcome
}

fn listen_command(cxtn: &Path) -> Command {
    let mut command = Command::new(cxtn);
    command.args(["listen", "--path-token", TOKEN]).env("RUST_LOG", "warn");
    command
}

fn measure(
    selection: &Selection,
    dir: &Path,
    targets: &[Target],
    sqlite_path: &Path,
    runtime: &tokio::runtime::Runtime,
    databases: &mut Vec<String>,
) -> Result<()> {
    let duration = Duration::from_secs(selection.seconds);
    std::thread::sleep(Duration::from_secs(1));
    let idle: Vec<_> = targets
        .iter()
        .filter(|t| t.listens)
        .map(|t| (t.name, memory(t.pid())))
        .collect();
    // A short warm-up of each: connections, caches, the inboxes' first pages.
    for target in targets {
        let load = Load {
            addr: target.addr,
            connections: 64,
            duration: Duration::from_secs(1),
            prefix: "warm",
            pause_ms: 0,
        };
        wrk::run(dir, &load).with_context(|| format!("warming up {}", target.name))?;
    }
    let busiest = selection.connections.iter().copied().max().unwrap_or(64);
    let mut figures = Vec::new();
    let mut loaded_memory = Vec::new();
    for round in 1..=selection.rounds {
        for &connections in &selection.connections {
            for target in targets {
                let prefix = format!("r{round}c{connections}");
                let load = Load {
                    addr: target.addr,
                    connections,
                    duration,
                    prefix: &prefix,
                    pause_ms: 0,
                };
                // The resident size of a receiver halfway through its busiest load.
                let sampler = (target.listens && connections == busiest).then(|| {
                    let pid = target.pid();
                    std::thread::spawn(move || {
                        std::thread::sleep(duration / 2);
                        memory(pid)
                    })
                });
                let run = wrk::run(dir, &load).with_context(|| format!("loading {}", target.name))?;
                if let Some(Ok(Some(sample))) = sampler.map(std::thread::JoinHandle::join) {
                    loaded_memory.push((target.name, sample));
                }
                println!(
                    "round {round}, {connections:>2} connections, {:<24} {:>8.0} deliveries/s, p50 {:.2} ms, p99 {:.2} ms{}",
                    target.name,
                    run.per_second(),
                    ms(run.p50),
                    ms(run.p99),
                    errors(&run)
                );
                figures.push(Figure {
                    round,
                    connections,
                    target: target.name,
                    run,
                });
            }
        }
    }
    print_shares(selection, targets, &figures);
    println!("\n| `cxtn listen` | idle VmRSS | VmRSS at {busiest} connections | VmHWM |");
    println!("|---|---:|---:|---:|");
    for target in targets.iter().filter(|t| t.listens) {
        let idle = idle.iter().find(|(n, _)| *n == target.name).and_then(|(_, m)| *m);
        let loaded = loaded_memory
            .iter()
            .filter(|(n, _)| *n == target.name)
            .map(|(_, (rss, _))| *rss)
            .max();
        let peak = memory(target.pid()).map(|(_, hwm)| hwm);
        let show = |kib: Option<u64>| kib.map_or_else(|| "?".to_owned(), |k| format!("{:.1} MiB", mib(k)));
        println!(
            "| {} | {} | {} | {} |",
            target.name,
            show(idle.map(|(rss, _)| rss)),
            show(loaded),
            show(peak)
        );
    }
    if selection.latency {
        let rate = |name: &str| mean_rate(&figures, name, busiest);
        let mut rows = Vec::new();
        if selection.wants("sqlite") {
            let path = sqlite_path.with_file_name("latency.sqlite");
            let inbox: Arc<dyn Inbox> = Arc::new(SqliteInbox::open(&path)?);
            rows.extend(latencies(
                "SQLite",
                inbox,
                rate("cxtn listen, SQLite"),
                selection,
                dir,
                runtime,
            )?);
        }
        if selection.wants("postgres") {
            let url = runtime.block_on(fresh_database(&selection.postgres, databases))?;
            let inbox: Arc<dyn Inbox> = Arc::new(runtime.block_on(PostgresInbox::builder(&url).connect())?);
            rows.extend(latencies(
                "PostgreSQL",
                inbox,
                rate("cxtn listen, PostgreSQL"),
                selection,
                dir,
                runtime,
            )?);
        }
        println!(
            "\nCommit to handler, worker concurrency {} (--worker-concurrency):",
            selection.worker_concurrency
        );
        println!("\n| inbox | load | deliveries/s | commit to handler p50 | p99 | events |");
        println!("|---|---|---:|---:|---:|---:|");
        for row in rows {
            println!("{row}");
        }
    }
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn errors(run: &wrk::Run) -> String {
    if run.bad_status + run.socket_errors == 0 {
        String::new()
    } else {
        format!(", {} bad answers, {} socket errors", run.bad_status, run.socket_errors)
    }
}

fn mean_rate(figures: &[Figure], target: &str, connections: usize) -> f64 {
    let rates: Vec<f64> = figures
        .iter()
        .filter(|f| f.target == target && f.connections == connections)
        .map(|f| f.run.per_second())
        .collect();
    if rates.is_empty() {
        0.0
    } else {
        rates.iter().sum::<f64>() / rates.len() as f64
    }
}

/// Each target's mean rate and its share of the ceiling, the share taken round by round.
fn print_shares(selection: &Selection, targets: &[Target], figures: &[Figure]) {
    println!(
        "\n| target | connections | deliveries/s (mean of {} rounds) | share of the ceiling (per round) |",
        selection.rounds
    );
    println!("|---|---:|---:|---|");
    for &connections in &selection.connections {
        for target in targets {
            let mut shares = Vec::new();
            for round in 1..=selection.rounds {
                let rate = |name: &str| {
                    figures
                        .iter()
                        .find(|f| f.round == round && f.connections == connections && f.target == name)
                        .map(|f| f.run.per_second())
                };
                if let (Some(ceiling), Some(rate)) = (rate("bare hyper (ceiling)"), rate(target.name))
                    && ceiling > 0.0
                {
                    shares.push(100.0 * rate / ceiling);
                }
            }
            let mean = if shares.is_empty() {
                "-".to_owned()
            } else {
                format!(
                    "{:.0}% ({})",
                    shares.iter().sum::<f64>() / shares.len() as f64,
                    shares.iter().map(|s| format!("{s:.0}%")).collect::<Vec<_>>().join(", ")
                )
            };
            println!(
                "| {} | {connections} | {:.0} | {mean} |",
                target.name,
                mean_rate(figures, target.name, connections)
            );
        }
    }
}

/// Commit-to-handler latency with `inbox`: idle (one delivery every 20 ms), then at half of `max_rate` over
/// 64 connections.
fn latencies(
    name: &str,
    inbox: Arc<dyn Inbox>,
    max_rate: f64,
    selection: &Selection,
    dir: &Path,
    runtime: &tokio::runtime::Runtime,
) -> Result<Vec<String>> {
    let (running, clock) = runtime.block_on(latency::serve(inbox, "127.0.0.1:0", selection.worker_concurrency))?;
    let addr = running.addr();
    let mut rows = Vec::new();
    let half = max_rate / 2.0;
    let paced = if half >= 1.0 {
        (64_000.0 / half).floor().max(1.0) as u64
    } else {
        0
    };
    let loads = [
        ("idle, 1 connection, 20 ms apart", 1, 20),
        ("half the maximum rate, 64 connections", 64, paced),
    ];
    for (label, connections, pause_ms) in loads {
        if pause_ms == 0 {
            continue;
        }
        let prefix = format!("lat{connections}");
        let load = Load {
            addr,
            connections,
            duration: Duration::from_secs(selection.seconds.max(3)),
            prefix: &prefix,
            pause_ms,
        };
        let run = wrk::run(dir, &load).with_context(|| format!("loading the {name} latency receiver"))?;
        // The last events' handlers start after wrk's last answer.
        std::thread::sleep(Duration::from_millis(500));
        let all = clock.take();
        rows.push(format!(
            "| {name} | {label} | {:.0} | {:.2} ms | {:.2} ms | {} |",
            run.per_second(),
            ms(percentile(&all, 0.50)),
            ms(percentile(&all, 0.99)),
            all.len()
        ));
    }
    runtime.block_on(running.shutdown());
    Ok(rows)
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(rank).copied().unwrap_or_default()
}

/// A new database on the server at `base`, named in `created`; its URL.
async fn fresh_database(base: &str, created: &mut Vec<String>) -> Result<String> {
    let name = format!(
        "cxtn_bench_{}",
        std::iter::repeat_with(fastrand::lowercase).take(8).collect::<String>()
    );
    let (client, connection) = tokio_postgres::connect(base, tokio_postgres::NoTls)
        .await
        .context("connecting to PostgreSQL; start it on 127.0.0.1:5432 or set CXTN_BENCH_POSTGRES_URL")?;
    tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE \"{name}\""))
        .await
        .context("creating the bench's database")?;
    created.push(name.clone());
    let (stem, _) = base.rsplit_once('/').context("the PostgreSQL URL names no database")?;
    Ok(format!("{stem}/{name}?sslmode=disable"))
}

async fn drop_databases(base: &str, names: &[String]) {
    if names.is_empty() {
        return;
    }
    if let Ok((client, connection)) = tokio_postgres::connect(base, tokio_postgres::NoTls).await {
        tokio::spawn(connection);
        for name in names {
            let _ = client
                .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
        }
    }
}

/// The SQLite inbox's size on disk once its log is checkpointed into it, and how many events it holds.
pub(crate) fn storage(path: &Path) -> Result<(u64, u64)> {
    let conn = rusqlite::Connection::open(path)?;
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    let events: i64 = conn.query_row("SELECT COUNT(*) FROM events", [], |row| row.get(0))?;
    drop(conn);
    let bytes = std::fs::metadata(path)?.len();
    Ok((bytes, u64::try_from(events).unwrap_or(0)))
}

/// The ceiling: a hyper server on the same accept loop as the receiver's, that reads the body and answers 200,
/// until the process is interrupted.
fn serve_bare(addr: &str) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {addr}"))?;
        let service = service_fn(|request: hyper::Request<hyper::body::Incoming>| async move {
            let _ = request.into_body().collect().await;
            Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                b"{\"status\":\"stored\"}",
            ))))
        });
        Server::new()
            .serve(listener, service, std::future::pending::<()>())
            .await;
        Ok(())
    })
}
