//! Chores of the cxtn-rs workspace, run as `cargo xtask <command>`.
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{Context, Result, bail};

mod bench_console;
mod bench_outlets;
mod bench_prune;
mod bench_receiver;
mod release;
mod tidy;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci                       run the whole gate: fmt, clippy, tests, docs (what .ci/run runs)
  snapshots [--accept]     run the tests and list changed insta snapshots; --accept writes them
  fuzz [--target T] [--seconds N]
                           run a fuzz target (parse, envelope, values, traffic, desired; default parse) for N seconds
                           (default 60); needs cargo-fuzz
  release VERSION [--dry-run]
                           bump the version, check CHANGELOG.md, run the gate, then `cargo publish --dry-run`
                           of every crate (without --dry-run: stop before publishing, print the commands)
  tidy                     check that crates depend only downwards (also run by `cargo test`)
  bench-receiver [--seconds N] [--rounds N] [--connections 64,1] [--targets bare,sqlite,postgres]
                 [--cxtn PATH] [--no-latency] [--worker-concurrency N]
                           wrk against the bare ceiling and `cxtn listen` (SQLite, PostgreSQL), alternately,
                           N s each (default 5) for N rounds (default 3): deliveries/s, shares of the ceiling,
                           commit-to-handler p50/p99 (worker concurrency N, default 64), resident memory,
                           bytes per stored delivery
  bench-receiver profile [--deliveries N] [--connections N] [--target listen|bare]
                           instructions per delivery by stage under callgrind (default 4000 over 64)
  bench-receiver syscalls [--seconds N] [--connections N]
                           system calls per delivery of the ceiling and `cxtn listen` (SQLite) under wrk,
                           counted by strace -c (default 5 s, 64 connections)
  bench-prune [--rows N] [--writers N] [--seconds N] [--targets sqlite,postgres]
                           prune N old processed events (default 1000000) while W tasks store (default 16),
                           and the stores' p50/p99 then against N s without a prune (default 5)
  bench-console [--events N] [--runs N] [--db PATH]
                           p50/p99 of the console's queries on a SQLite inbox of N events (default 1000000),
                           each run N times (default 50); --db keeps the inbox there and reuses it when full
  bench-outlets [--events N] [--paced N] [--targets nats,rabbitmq,redis]
                           events/s from a SQLite inbox of N events (default 20000) through a worker to each
                           local broker, and store-to-ack p50/p99 of N events stored every 2 ms (default 2000)
";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> Result<()> {
    let mut args = args.into_iter();
    match args.next().as_deref() {
        Some("ci") => ci(),
        Some("snapshots") => snapshots(args.any(|a| a == "--accept")),
        Some("fuzz") => {
            let rest: Vec<String> = args.collect();
            let target = flag_value(&rest, "--target").unwrap_or("parse");
            fuzz(target, seconds_arg(&rest, 60)?)
        }
        Some("bench-receiver") => bench_receiver::main(&args.collect::<Vec<_>>()),
        Some("bench-prune") => {
            let rest: Vec<String> = args.collect();
            bench_prune::run(&bench_prune::Selection {
                rows: number_arg(&rest, "--rows", 1_000_000)?,
                writers: number_arg(&rest, "--writers", 16)?,
                seconds: seconds_arg(&rest, 5)?,
                targets: list_arg(&rest, "--targets"),
            })
        }
        Some("bench-console") => {
            let rest: Vec<String> = args.collect();
            bench_console::run(&bench_console::Selection {
                events: number_arg(&rest, "--events", 1_000_000)?,
                runs: number_arg(&rest, "--runs", 50)?,
                db: flag_value(&rest, "--db").map(PathBuf::from),
            })
        }
        Some("bench-outlets") => {
            let rest: Vec<String> = args.collect();
            bench_outlets::run(&bench_outlets::Selection {
                events: number_arg(&rest, "--events", 20_000)?,
                paced: number_arg(&rest, "--paced", 2_000)?,
                targets: list_arg(&rest, "--targets"),
            })
        }
        Some("release") => {
            let rest: Vec<String> = args.collect();
            let version = rest
                .iter()
                .find(|a| !a.starts_with("--"))
                .context("give the version to release: cargo xtask release 0.2.0 --dry-run")?;
            release::run(&root(), version, rest.iter().any(|a| a == "--dry-run"))
        }
        Some("tidy") => {
            let problems = tidy::check(&root())?;
            if problems.is_empty() {
                println!("tidy: every crate depends only downwards");
                Ok(())
            } else {
                bail!("tidy found problems:\n{}", problems.join("\n"))
            }
        }
        Some("help" | "--help" | "-h") | None => {
            print!("{USAGE}");
            Ok(())
        }
        Some(other) => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}

/// The value of `--seconds N`, or `default`.
/// The value after `flag`, when the flag is given.
fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let at = args.iter().position(|a| a == flag)?;
    args.get(at + 1).map(String::as_str)
}

/// The comma-separated values after `flag`; empty when the flag is not given.
fn list_arg(args: &[String], flag: &str) -> Vec<String> {
    flag_value(args, flag)
        .map(|v| v.split(',').map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The whole number after `flag` (`_` allowed as a separator), or `default` when the flag is not given.
fn number_arg(args: &[String], flag: &str, default: usize) -> Result<usize> {
    if !args.iter().any(|a| a == flag) {
        return Ok(default);
    }
    flag_value(args, flag)
        .with_context(|| format!("{flag} needs a number"))?
        .replace('_', "")
        .parse::<usize>()
        .with_context(|| format!("{flag} needs a whole number"))
}

fn seconds_arg(args: &[String], default: u64) -> Result<u64> {
    if !args.iter().any(|a| a == "--seconds") {
        return Ok(default);
    }
    flag_value(args, "--seconds")
        .context("--seconds needs a number")?
        .parse::<u64>()
        .context("--seconds needs a whole number of seconds")
}

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

pub(crate) fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

pub(crate) fn step(name: &str, mut cmd: Command) -> Result<()> {
    println!("==> {name}");
    let started = Instant::now();
    let status = cmd.status().with_context(|| format!("could not start `{name}`"))?;
    if !status.success() {
        bail!("`{name}` failed ({status})");
    }
    println!("    ok in {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}

/// The gate: the same steps, in the same order, as `.ci/run`.
pub(crate) fn ci() -> Result<()> {
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--check"]);
    step("cargo fmt --all --check", fmt)?;

    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ]);
    step(
        "cargo clippy --workspace --all-targets --all-features -- -D warnings",
        clippy,
    )?;

    let mut test = cargo();
    test.args(["test", "--workspace", "--all-features"]);
    step("cargo test --workspace --all-features", test)?;

    let mut doc = cargo();
    doc.args(["doc", "--workspace", "--no-deps", "--all-features"])
        .env("RUSTDOCFLAGS", "-D warnings");
    step(
        "cargo doc --workspace --no-deps --all-features (RUSTDOCFLAGS=-D warnings)",
        doc,
    )
}

/// Runs the tests so insta writes `.snap.new` files beside changed snapshots, then lists them;
/// with `accept`, writes the new snapshots in place instead.
fn snapshots(accept: bool) -> Result<()> {
    let mut test = cargo();
    test.args(["test", "--workspace", "--all-features"])
        .env("INSTA_UPDATE", if accept { "always" } else { "new" })
        .env("INSTA_FORCE_PASS", "1")
        .env_remove("CI");
    step("cargo test (collecting snapshots)", test)?;
    let pending = pending_snapshots(&root().join("crates"))?;
    if pending.is_empty() {
        println!("snapshots: none changed");
        return Ok(());
    }
    println!(
        "snapshots: {} changed; review each against the committed one:",
        pending.len()
    );
    for path in &pending {
        let committed = path.with_extension("");
        println!("  diff {} {}", committed.display(), path.display());
    }
    println!("accept them all with `cargo xtask snapshots --accept`, or delete the .snap.new files to reject");
    Ok(())
}

fn pending_snapshots(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(".snap.new") {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The fuzz targets under `fuzz/fuzz_targets`.
const FUZZ_TARGETS: [&str; 5] = ["parse", "envelope", "values", "traffic", "desired"];

/// Runs a fuzz target, its corpus seeded with the parser's fixtures.
fn fuzz(target: &str, seconds: u64) -> Result<()> {
    if !FUZZ_TARGETS.contains(&target) {
        bail!(
            "unknown fuzz target `{target}`; use one of: {}",
            FUZZ_TARGETS.join(", ")
        );
    }
    let root = root();
    let probe = Command::new("cargo").args(["fuzz", "--version"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        bail!("cargo-fuzz is not installed; install it with `cargo install cargo-fuzz` and run again");
    }
    let corpus = root.join("fuzz/corpus").join(target);
    std::fs::create_dir_all(&corpus).with_context(|| format!("creating {}", corpus.display()))?;
    let mut seeded = 0;
    // The parser's fixtures, and the target's own seeds where it has some (`fuzz/seeds/<target>`).
    let mut stack = vec![
        root.join("crates/cxtn-events/tests/fixtures"),
        root.join("fuzz/seeds").join(target),
    ];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Some(name) = path.file_name() {
                std::fs::copy(&path, corpus.join(name)).with_context(|| format!("seeding {}", path.display()))?;
                seeded += 1;
            }
        }
    }
    println!("fuzz: seeded the {target} corpus with {seeded} fixtures; running for {seconds}s");
    let mut cmd = Command::new("cargo");
    cmd.current_dir(root.join("fuzz"))
        // cargo-fuzz passes unstable flags; this lets the one stable toolchain accept them.
        .env("RUSTC_BOOTSTRAP", "1")
        .args(["fuzz", "run", "--sanitizer", "none", target])
        .arg(format!("corpus/{target}"))
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg("-max_len=1048576")
        .arg("-timeout=10");
    step(&format!("cargo fuzz run {target}"), cmd)
}
