//! `cargo xtask bench-receiver syscalls`: the system calls of a delivery, which callgrind does not see.
//!
//! Each target (the bare ceiling, then `cxtn listen` with a SQLite inbox) runs in its own process under `wrk`, as
//! in the main bench, with `strace -c -f` attached for the length of the load. Each system call's count is
//! divided by the deliveries `wrk` saw answered. strace slows every call down, so the rates it shows are not the
//! receiver's: the counts are the figure, and they do not depend on the slowdown.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};

use super::wrk::{self, Load};
use super::{Target, interrupt, listen_command};

/// Runs the count as the command line says, and prints the calls per delivery of each target.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let seconds = crate::seconds_arg(args, 5)?;
    let connections = crate::number_arg(args, "--connections", 64)?.max(1);
    let cxtn = match crate::flag_value(args, "--cxtn") {
        Some(path) => std::path::PathBuf::from(path),
        None => super::sibling("cxtn")?,
    };
    wrk::ensure_installed()?;
    wrk::ensure_tool("strace", "-V", "strace runs on Linux only")?;
    let dir = tempfile::Builder::new()
        .prefix("cxtn-bench-syscalls")
        .tempdir_in(std::env::temp_dir())
        .context("creating a temporary directory")?;
    let me = std::env::current_exe().context("finding the xtask binary")?;

    let mut bare = Command::new(&me);
    bare.args(["bench-receiver", "serve-bare"]);
    let mut listen = listen_command(&cxtn);
    listen.arg("--db").arg(dir.path().join("inbox.sqlite"));
    let mut counted = Vec::new();
    for (name, command, key) in [
        ("bare hyper (ceiling)", bare, "bare"),
        ("cxtn listen, SQLite", listen, "sqlite"),
    ] {
        let target = Target::start(name, command, false, &dir.path().join(format!("{key}.log")))?;
        let outcome = count(&target, dir.path(), key, seconds, connections);
        target.stop(Duration::from_secs(20))?;
        let (deliveries, calls) = outcome?;
        println!("{name}: {deliveries} deliveries answered under strace, {connections} connections, {seconds} s");
        counted.push((name, deliveries, calls));
    }
    print_table(&counted);
    Ok(())
}

/// Attaches strace to `target`, loads it with `wrk`, and returns the deliveries answered and each call's count.
fn count(
    target: &Target,
    dir: &Path,
    key: &str,
    seconds: u64,
    connections: usize,
) -> Result<(u64, BTreeMap<String, u64>)> {
    let out = dir.join(format!("strace-{key}.txt"));
    let strace = Command::new("strace")
        .args(["-c", "-f", "-o"])
        .arg(&out)
        .args(["-p", &target.pid().to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting strace")?;
    let strace = Attached(strace);
    // strace attaches to each thread in turn; give it a moment before the load starts.
    std::thread::sleep(Duration::from_secs(1));
    let load = Load {
        addr: target.addr,
        connections,
        duration: Duration::from_secs(seconds),
        prefix: key,
        pause_ms: 0,
    };
    let run = wrk::run(dir, &load)?;
    strace.finish()?;
    let text = std::fs::read_to_string(&out).with_context(|| format!("reading {}", out.display()))?;
    Ok((run.ok, parse(&text)))
}

/// strace, stopped with SIGINT (so that it writes its summary) when finished or dropped.
struct Attached(Child);

impl Attached {
    fn finish(mut self) -> Result<()> {
        // Interrupted, strace writes its summary and ends; a failure to attach shows as an empty summary.
        interrupt(self.0.id());
        self.0.wait().context("waiting for strace")?;
        Ok(())
    }
}

impl Drop for Attached {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            interrupt(self.0.id());
            let _ = self.0.wait();
        }
    }
}

/// Each call's count from strace's `-c` summary: the rows between the two rules, whose fourth column is the count
/// and whose last is the call (an errors column may come between).
fn parse(summary: &str) -> BTreeMap<String, u64> {
    let mut calls = BTreeMap::new();
    for line in summary.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(count), Some(name)) = (fields.get(3), fields.last()) else {
            continue;
        };
        if *name == "total" || fields.len() < 5 {
            continue;
        }
        if let Ok(count) = count.parse::<u64>() {
            *calls.entry((*name).to_owned()).or_insert(0) += count;
        }
    }
    calls
}

/// One row per call that either target makes at least once every hundred deliveries, most frequent first.
fn print_table(counted: &[(&str, u64, BTreeMap<String, u64>)]) {
    let per = |deliveries: u64, calls: Option<&u64>| {
        if deliveries == 0 {
            0.0
        } else {
            calls.copied().unwrap_or(0) as f64 / deliveries as f64
        }
    };
    let mut names: Vec<&String> = counted.iter().flat_map(|(_, _, calls)| calls.keys()).collect();
    names.sort();
    names.dedup();
    let mut rows: Vec<(&String, Vec<f64>)> = names
        .into_iter()
        .map(|name| {
            let figures = counted
                .iter()
                .map(|(_, deliveries, calls)| per(*deliveries, calls.get(name)))
                .collect();
            (name, figures)
        })
        .filter(|(_, figures): &(&String, Vec<f64>)| figures.iter().any(|f| *f >= 0.01))
        .collect();
    rows.sort_by(|a, b| b.1.iter().sum::<f64>().total_cmp(&a.1.iter().sum::<f64>()));
    let header: Vec<&str> = counted.iter().map(|(name, _, _)| *name).collect();
    println!("\n| system call (per delivery) | {} |", header.join(" | "));
    println!("|---|{}", "---:|".repeat(counted.len()));
    for (name, figures) in &rows {
        let cells: Vec<String> = figures.iter().map(|f| format!("{f:.2}")).collect();
        println!("| `{name}` | {} |", cells.join(" | "));
    }
    let totals: Vec<String> = counted
        .iter()
        .map(|(_, deliveries, calls)| format!("{:.2}", per(*deliveries, Some(&calls.values().sum()))))
        .collect();
    println!("| all | {} |", totals.join(" | "));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_s_rows_are_read_with_or_without_errors() {
        let summary = "\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 56.41    2.623833         132     19814      2862 futex
 10.52    0.489387          40     11942           writev
  0.00    0.000031          31         1           read
------ ----------- ----------- --------- --------- ----------------
100.00    4.651162          48     31757      2862 total
";
        let calls = parse(summary);
        assert_eq!(calls.get("futex"), Some(&19814));
        assert_eq!(calls.get("writev"), Some(&11942));
        assert_eq!(calls.get("read"), Some(&1));
        assert_eq!(calls.len(), 3, "{calls:?}");
    }
}
