//! Parses the guide's samples with `cxtn_events::parse` and with a generic `serde_json::Value` parse,
//! `data` as an object and as a string, and prints how the two compare.
#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use cxtn_model::DataEncoding;

fn corpus(encoding: DataEncoding) -> Vec<Vec<u8>> {
    cxtn_events::samples::GUIDE
        .iter()
        .map(|s| {
            let n = cxtn_events::parse(s.body.as_bytes()).expect("the samples parse");
            n.to_json_with(encoding).expect("the samples write").into_bytes()
        })
        .collect()
}

fn parse_all(corpus: &[Vec<u8>]) {
    for body in corpus {
        black_box(cxtn_events::parse(black_box(body)).expect("parses"));
    }
}

fn value_all(corpus: &[Vec<u8>]) {
    for body in corpus {
        black_box(serde_json::from_slice::<serde_json::Value>(black_box(body)).expect("parses"));
    }
}

/// The best of several timed runs of `f` over `iterations`, for the printed ratio.
fn best_of(f: impl Fn(), iterations: u32) -> Duration {
    (0..7)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iterations {
                f();
            }
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    for encoding in [DataEncoding::Object, DataEncoding::String] {
        let corpus = corpus(encoding);
        let bytes: usize = corpus.iter().map(Vec::len).sum();
        let mut group = criterion.benchmark_group(format!("guide samples, data as {encoding}"));
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function("cxtn_events::parse", |b| b.iter(|| parse_all(&corpus)));
        group.bench_function("serde_json::Value", |b| b.iter(|| value_all(&corpus)));
        group.finish();
    }
    criterion.final_summary();

    println!();
    println!("ratio of cxtn_events::parse to serde_json::from_slice::<Value> (below 1 is faster):");
    for encoding in [DataEncoding::Object, DataEncoding::String] {
        let corpus = corpus(encoding);
        let ours = best_of(|| parse_all(&corpus), 20_000);
        let generic = best_of(|| value_all(&corpus), 20_000);
        let per_body = |d: Duration| d.as_secs_f64() * 1e9 / (20_000.0 * corpus.len() as f64);
        println!(
            "  data as {encoding:<6}  parse {:>7.0} ns/body  Value {:>7.0} ns/body  ratio {:.2}",
            per_body(ours),
            per_body(generic),
            ours.as_secs_f64() / generic.as_secs_f64()
        );
    }
}
