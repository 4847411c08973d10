//! `cargo xtask bench-receiver profile`: instructions per delivery, by stage, counted by callgrind.
//!
//! The receiver (`cxtn listen` with a SQLite inbox, or the bare ceiling with `--target bare`) runs under
//! `valgrind --tool=callgrind` twice, taking `deliveries / 4` deliveries and then `deliveries`, driven from this
//! process over `--connections` keep-alive connections. The difference between the two runs, divided by the
//! difference in deliveries, is the cost of one delivery without the start and the stop; the same difference of
//! each function's inclusive count gives the stages.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::Target;
use super::wrk::TOKEN;

/// The stages of a delivery, each the inclusive instructions of the functions named (summed when several
/// are named; a function is named in one stage only, and none calls another of the same list).
const STAGES: &[(&str, &[&str])] = &[
    (
        "HTTP/1: read and parse the request, write the answer (hyper)",
        &[
            "hyper::proto::h1::conn::Conn<I,B,T>::poll_read_head",
            "hyper::proto::h1::dispatch::Dispatcher<D,Bs,I,T>::poll_flush",
        ],
    ),
    ("authentication (path token)", &["cxtn_receiver::auth::Live::check"]),
    ("exact parse and envelope", &["cxtn_receiver::service::classify"]),
    (
        "row preparation: SHA-256 of the body",
        &["cxtn_receiver::inbox::BodyHash::of"],
    ),
    (
        "store hand-off: job to the writer thread and back",
        &["<cxtn_receiver::inbox::sqlite::SqliteInbox as cxtn_receiver::inbox::Inbox>::store"],
    ),
    ("SQLite statements: pruned check, insert, 7 indexes", &["sqlite3_step"]),
    (
        "SQLite commit: WAL frames and fsync call",
        &["rusqlite::Connection::execute_batch"],
    ),
    ("answer building", &["cxtn_receiver::service::answer"]),
    (
        "metrics",
        &[
            "cxtn_receiver::metrics::Metrics::delivery",
            "cxtn_receiver::metrics::Metrics::stored_in",
        ],
    ),
    ("arrival broadcast", &["cxtn_receiver::service::publish"]),
    ("stdout line (`cxtn listen`)", &["cxtn::ui::Ui::render"]),
    (
        "tracing",
        &["tracing_core::event::Event::dispatch", "tracing::span::Span::new"],
    ),
    (
        "allocation (malloc, free, realloc), across every stage",
        &["malloc", "free", "realloc", "calloc"],
    ),
];

/// Runs the profile as the command line says, and prints the breakdown.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let deliveries = crate::number_arg(args, "--deliveries", 4000)?.max(8);
    let connections = crate::number_arg(args, "--connections", 64)?.max(1);
    let target = crate::flag_value(args, "--target").unwrap_or("listen");
    let dir = match crate::flag_value(args, "--dir") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::temp_dir().join("cxtn-profile"),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let program = match (target, crate::flag_value(args, "--cxtn")) {
        ("bare", _) => std::env::current_exe().context("finding the xtask binary")?,
        ("listen", Some(path)) => PathBuf::from(path),
        ("listen", None) => super::sibling("cxtn")?,
        (other, _) => bail!("--target takes listen or bare, not {other}"),
    };
    // `--reuse` reads the callgrind files of an earlier run in the same folder again.
    let reuse = args.iter().any(|a| a == "--reuse");
    let small = deliveries / 4;
    let mut counts = Vec::new();
    for (step, n) in [small, deliveries].into_iter().enumerate() {
        let out = dir.join(format!("callgrind.{target}.{step}.out"));
        let db = dir.join(format!("profile-{step}.sqlite"));
        if reuse && out.is_file() {
            counts.push(inclusive(&out)?);
            continue;
        }
        for stale in [
            db.clone(),
            db.with_extension("sqlite-wal"),
            db.with_extension("sqlite-shm"),
        ] {
            let _ = std::fs::remove_file(stale);
        }
        let mut command = Command::new("valgrind");
        command
            .arg("--tool=callgrind")
            .arg(format!("--callgrind-out-file={}", out.display()))
            .arg(&program);
        if target == "bare" {
            command.args(["bench-receiver", "serve-bare"]);
        } else {
            command
                .args(["listen", "--path-token", TOKEN, "--db"])
                .arg(&db)
                .env("RUST_LOG", "warn");
        }
        let server = Target::start(
            "the profiled receiver",
            command,
            target == "listen",
            &dir.join(format!("{target}.{step}.log")),
        )?;
        let driven = drive(server.addr, n, connections).with_context(|| format!("driving {n} deliveries"))?;
        if driven != n {
            bail!(
                "only {driven} of {n} deliveries were answered with 2xx: see {}",
                dir.display()
            );
        }
        server.stop(Duration::from_secs(120))?;
        counts.push(inclusive(&out)?);
    }
    let [first, second] = &counts[..] else {
        bail!("two profiles expected")
    };
    let per = |name: &str| {
        let a = first.get(name).copied().unwrap_or(0);
        let b = second.get(name).copied().unwrap_or(0);
        b.saturating_sub(a) as f64 / (deliveries - small) as f64
    };
    let total = per("PROGRAM TOTALS");
    println!(
        "\n{target}: {deliveries} deliveries over {connections} connections, callgrind files in {}",
        dir.display()
    );
    println!("\n| stage | instructions per delivery | share |");
    println!("|---|---:|---:|");
    println!("| whole process | {total:.0} | 100% |");
    for (stage, names) in STAGES {
        let cost: f64 = names.iter().map(|name| per(name)).sum();
        if cost > 0.0 {
            println!("| {stage} | {cost:.0} | {:.1}% |", 100.0 * cost / total.max(1.0));
        }
    }
    println!("\nTop functions by inclusive instructions per delivery:");
    let mut all: Vec<(&String, f64)> = second.keys().map(|name| (name, per(name))).collect();
    all.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (name, cost) in all.iter().take(60) {
        println!("{cost:>10.0}  {name}");
    }
    Ok(())
}

/// Inclusive instruction counts by function name (file and object left out), from `callgrind_annotate`.
fn inclusive(out: &Path) -> Result<HashMap<String, u64>> {
    let output = Command::new("callgrind_annotate")
        .args(["--inclusive=yes", "--threshold=100", "--show-percs=no", "--auto=no"])
        .arg(out)
        .output()
        .context("running callgrind_annotate")?;
    if !output.status.success() {
        bail!("callgrind_annotate failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut counts = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        let Some((number, rest)) = line.split_once(' ') else {
            continue;
        };
        let Ok(count) = number.replace(',', "").parse::<u64>() else {
            continue;
        };
        let rest = rest.trim();
        let name = if rest.starts_with("PROGRAM TOTALS") {
            "PROGRAM TOTALS"
        } else {
            // `file:function [object]`: the file may be `???`; the function may hold `::`.
            let without_object = rest.rsplit_once(" [").map_or(rest, |(f, _)| f);
            without_object.split_once(':').map_or(without_object, |(_, f)| f)
        };
        // A function is listed once in its own file and once per file its inlined code comes from: the
        // largest of these is its inclusive count.
        let entry = counts.entry(name.to_owned()).or_insert(0);
        *entry = (*entry).max(count);
    }
    Ok(counts)
}

/// Posts `count` distinct notifications to `addr` over `connections` keep-alive connections; returns how many
/// were answered with 2xx.
fn drive(addr: SocketAddr, count: usize, connections: usize) -> Result<usize> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let mut tasks = Vec::new();
        for connection in 0..connections {
            let share = count / connections + usize::from(connection < count % connections);
            tasks.push(tokio::spawn(async move {
                let stream = TcpStream::connect(addr).await?;
                stream.set_nodelay(true)?;
                let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
                tokio::spawn(conn);
                let mut ok = 0usize;
                for n in 0..share {
                    let body = format!(
                        r#"{{"eventId":"wh_p_{connection}_{n}","event":"payment_completed","data":{{"objectId":{n},"userId":"C00081866","amount":10.00,"currency":"GBP"}}}}"#
                    );
                    let request = hyper::Request::post(format!("/cxtn/{TOKEN}"))
                        .header("content-type", "application/json")
                        .header("host", addr.to_string())
                        .body(Full::new(Bytes::from(body)))?;
                    let response = sender.send_request(request).await?;
                    let success = response.status().is_success();
                    let _ = response.into_body().collect().await;
                    ok += usize::from(success);
                }
                anyhow::Ok(ok)
            }));
        }
        let mut ok = 0;
        for task in tasks {
            ok += task.await.context("a driving task failed")??;
        }
        Ok(ok)
    })
}
