//! The tidy check: crates depend only downwards, dev-dependencies included; the crates without I/O build
//! their tests without I/O crates; every dependency is used; each crate keeps the workspace's conventions.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};
use serde_json::Value;

/// The library layers, bottom up.
const LIBRARIES: &[&str] = &[
    "cxtn-model",
    "cxtn-transport",
    "cxtn-events",
    "cxtn-webhooks",
    "cxtn-sandbox",
    "cxtn-receiver",
    "cxtn-outlets",
    "cxtn-console",
];

/// The workspace crates `name` may depend on, for normal, build and dev-dependencies alike, or `None` for a
/// crate not placed in a layer yet. Arrows point down only; a new crate must be placed here before it can pass.
fn may_use(name: &str) -> Option<Vec<&'static str>> {
    Some(match name {
        "cxtn-model" | "cxtn-transport" => vec![],
        "cxtn-events" => vec!["cxtn-model"],
        "cxtn-receiver" => vec!["cxtn-model", "cxtn-events", "cxtn-transport"],
        "cxtn-webhooks" => vec!["cxtn-model", "cxtn-transport"],
        "cxtn-sandbox" => vec!["cxtn-model", "cxtn-events", "cxtn-transport"],
        "cxtn-outlets" => vec!["cxtn-model", "cxtn-events", "cxtn-transport", "cxtn-receiver"],
        "cxtn-console" => vec!["cxtn-model", "cxtn-events", "cxtn-transport", "cxtn-receiver"],
        // The facade composes the libraries; the CLI, the cross-crate tests and the chores compose everything.
        "cxtn" => LIBRARIES.to_vec(),
        "cxtn-cli" | "cxtn-tests" | "xtask" => LIBRARIES.iter().copied().chain(["cxtn"]).collect(),
        _ => return None,
    })
}

/// Outside crates a layer must not depend on directly: the model and the parser do no I/O, and the management
/// client never picks an HTTP backend itself.
const FORBIDDEN: &[(&str, &[&str])] = &[
    (
        "cxtn-model",
        &["tokio", "hyper", "reqwest", "async-trait", "rusqlite", "http"],
    ),
    (
        "cxtn-events",
        &["tokio", "hyper", "reqwest", "async-trait", "rusqlite", "http"],
    ),
    ("cxtn-transport", &["cxtn-model", "serde"]),
    ("cxtn-webhooks", &["hyper", "reqwest", "hyper-util", "rusqlite"]),
];

/// Crates whose own tests, doctests and benchmarks must build without any of these, however deep:
/// `cargo test -p cxtn-model` compiles no HTTP, TLS or async runtime.
const NO_IO_EVEN_IN_TESTS: &[&str] = &["cxtn-model", "cxtn-events"];
const IO_CRATES: &[&str] = &[
    "tokio",
    "mio",
    "hyper",
    "hyper-util",
    "reqwest",
    "rustls",
    "http",
    "rusqlite",
    "tokio-postgres",
];

/// Every problem found, one line each; empty when the workspace is tidy.
pub(crate) fn check(root: &Path) -> Result<Vec<String>> {
    let members = metadata(root, &["--no-deps"])?;
    let mut problems = check_metadata(&members)?;
    problems.extend(check_unused(&members));
    problems.extend(check_io_free_tests(root)?);
    Ok(problems)
}

fn metadata(root: &Path, extra: &[&str]) -> Result<Value> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--offline"])
        .args(extra)
        .output()
        .context("running cargo metadata")?;
    anyhow::ensure!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).context("reading cargo metadata")
}

fn packages(metadata: &Value) -> Result<&Vec<Value>> {
    metadata["packages"]
        .as_array()
        .context("cargo metadata has no packages")
}

fn check_metadata(metadata: &Value) -> Result<Vec<String>> {
    let forbidden: BTreeMap<&str, &[&str]> = FORBIDDEN.iter().copied().collect();
    let packages = packages(metadata)?;
    let members: Vec<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut problems = Vec::new();
    for package in packages {
        let name = package["name"].as_str().unwrap_or_default();
        let Some(allowed) = may_use(name) else {
            problems.push(format!(
                "{name}: not placed in the layer table; add it to `may_use` in xtask/src/tidy.rs"
            ));
            continue;
        };
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            let dep_name = dep["name"].as_str().unwrap_or_default();
            let is_dev = dep["kind"].as_str() == Some("dev");
            if members.contains(&dep_name) && !allowed.contains(&dep_name) {
                let kind = if is_dev { "dev-depends" } else { "depends" };
                problems.push(format!(
                    "{name} {kind} on {dep_name}, which points up or sideways; move the shared code down a layer, \
                     or the test to crates/cxtn-tests"
                ));
            }
            if !is_dev && forbidden.get(name).is_some_and(|list| list.contains(&dep_name)) {
                problems.push(format!(
                    "{name} must not depend on {dep_name} (see docs/architecture.md invariants)"
                ));
            }
        }
        let manifest = package["manifest_path"].as_str().unwrap_or_default();
        if let Ok(text) = std::fs::read_to_string(manifest)
            && !text.contains("[lints]\nworkspace = true")
        {
            problems.push(format!("{name}: add `[lints]\\nworkspace = true` to {manifest}"));
        }
        for target in package["targets"].as_array().into_iter().flatten() {
            let is_lib = target["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "lib"));
            let src = target["src_path"].as_str().unwrap_or_default();
            if is_lib {
                let text = std::fs::read_to_string(src).unwrap_or_default();
                if !text.starts_with("//!") {
                    problems.push(format!("{name}: {src} must open with `//!` crate docs"));
                }
                if !text.contains("#![deny(missing_docs)]") {
                    problems.push(format!("{name}: {src} must say `#![deny(missing_docs)]`"));
                }
            }
        }
    }
    Ok(problems)
}

/// Dependencies that no source of their crate names: a normal dependency must appear as `name::`, `use name`
/// or `name!` in the crate's sources (`src/`, and `build.rs`), a dev-dependency in any of its targets.
///
/// A dependency kept only to turn on a feature of another is listed in the manifest under
/// `[package.metadata.tidy] feature-only = ["name"]`, which says so on purpose.
fn check_unused(metadata: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for package in packages(metadata).into_iter().flatten() {
        let name = package["name"].as_str().unwrap_or_default();
        let manifest = Path::new(package["manifest_path"].as_str().unwrap_or_default());
        let Some(dir) = manifest.parent() else { continue };
        let feature_only: BTreeSet<&str> = package
            .pointer("/metadata/tidy/feature-only")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let library = sources(&[dir.join("src"), dir.join("build.rs")]);
        let everything = sources(&[dir.to_path_buf()]);
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            let dep_name = dep["name"].as_str().unwrap_or_default();
            let ident = dep["rename"].as_str().unwrap_or(dep_name).replace('-', "_");
            if feature_only.contains(dep_name) {
                continue;
            }
            let is_dev = dep["kind"].as_str() == Some("dev");
            let text = if is_dev { &everything } else { &library };
            if !names_crate(text, &ident) {
                let kind = if is_dev { "dev-dependency" } else { "dependency" };
                problems.push(format!(
                    "{name}: the {kind} {dep_name} is not used; remove it from {}, or list it under \
                     `[package.metadata.tidy] feature-only` if it only turns on a feature",
                    manifest.display()
                ));
            }
        }
    }
    problems
}

/// The text of every `.rs` file under the given paths, concatenated; a missing path adds nothing.
fn sources(paths: &[std::path::PathBuf]) -> String {
    let mut text = String::new();
    let mut pending: Vec<std::path::PathBuf> = paths.to_vec();
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            if path.file_name().is_some_and(|name| name == "target" || name == "fuzz") {
                continue;
            }
            for entry in std::fs::read_dir(&path).into_iter().flatten().flatten() {
                pending.push(entry.path());
            }
        } else if path.extension().is_some_and(|ext| ext == "rs")
            && let Ok(content) = std::fs::read_to_string(&path)
        {
            text.push_str(&content);
            text.push('\n');
        }
    }
    text
}

/// Whether `text` names the crate `ident` as a path root (`ident::`), in a `use`, or as a macro (`ident!`).
fn names_crate(text: &str, ident: &str) -> bool {
    text.match_indices(ident).any(|(at, _)| {
        let before = text.get(..at).and_then(|head| head.chars().next_back());
        let after = text.get(at + ident.len()..).unwrap_or_default();
        let starts_word = before.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        let as_path = after.starts_with("::") || after.starts_with('!');
        let in_use = text
            .get(..at)
            .is_some_and(|head| head.ends_with("use ") || head.ends_with("crate "));
        starts_word && (as_path || (in_use && !after.starts_with(|c: char| c.is_alphanumeric() || c == '_')))
    })
}

/// The I/O crates that `cargo test -p <crate>` of a crate in [`NO_IO_EVEN_IN_TESTS`] would build.
fn check_io_free_tests(root: &Path) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    for &name in NO_IO_EVEN_IN_TESTS {
        let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(root)
            .args([
                "tree",
                "--offline",
                "-p",
                name,
                "-e",
                "normal,build,dev",
                "--prefix",
                "none",
            ])
            .args(["--format", "{p}"])
            .output()
            .context("running cargo tree")?;
        anyhow::ensure!(
            output.status.success(),
            "cargo tree failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        problems.extend(io_crates_in_tree(name, &String::from_utf8_lossy(&output.stdout)));
    }
    Ok(problems)
}

/// One problem per I/O crate named in the output of `cargo tree --prefix none` for `name`.
fn io_crates_in_tree(name: &str, tree: &str) -> Vec<String> {
    let reached: BTreeSet<&str> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|package| IO_CRATES.contains(package))
        .collect();
    reached
        .into_iter()
        .map(|io| {
            format!(
                "{name}: its tests build {io}; they must build without I/O crates \
                 (`cargo tree -p {name} -e normal,build,dev -i {io}` shows why)"
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workspace_is_tidy() {
        let problems = check(&crate::root()).unwrap();
        assert!(problems.is_empty(), "tidy found problems:\n{}", problems.join("\n"));
    }

    #[test]
    fn an_upward_arrow_is_caught_in_dev_dependencies_too() {
        let metadata = serde_json::json!({"packages": [
            {"name": "cxtn-model", "manifest_path": "", "targets": [], "dependencies": [
                {"name": "cxtn-events", "kind": null},
                {"name": "tokio", "kind": null},
                {"name": "cxtn", "kind": "dev"}
            ]},
            {"name": "cxtn-events", "manifest_path": "", "targets": [], "dependencies": []},
            {"name": "cxtn", "manifest_path": "", "targets": [], "dependencies": []},
            {"name": "mystery", "manifest_path": "", "targets": [], "dependencies": []}
        ]});
        let problems = check_metadata(&metadata).unwrap();
        assert_eq!(problems.len(), 4, "{problems:#?}");
        assert!(problems[0].starts_with("cxtn-model depends on cxtn-events, which points up"));
        assert!(problems[1].starts_with("cxtn-model must not depend on tokio"));
        assert!(problems[2].starts_with("cxtn-model dev-depends on cxtn, which points up"));
        assert!(problems[3].starts_with("mystery: not placed in the layer table"));
    }

    #[test]
    fn a_crate_is_named_as_a_path_a_use_or_a_macro() {
        assert!(names_crate("let x = serde_json::from_str(s);", "serde_json"));
        assert!(names_crate("use subtle;", "subtle"));
        assert!(names_crate("use subtle::ConstantTimeEq;", "subtle"));
        assert!(names_crate("anyhow!(\"no\")", "anyhow"));
        assert!(!names_crate("let url = \"http://example.com\";", "http"));
        assert!(!names_crate("hyper_util::rt::TokioIo", "hyper"));
        assert!(!names_crate("cxtn_model::Amount", "model"));
        assert!(!names_crate("use subtleties::X;", "subtle"));
    }

    #[test]
    fn an_io_crate_in_the_test_tree_is_caught() {
        let tree = "cxtn-model v0.1.0 (/work/crates/cxtn-model)\nproptest v1.5.0\ntokio v1.40.0\n\
                    tokio v1.40.0 (*)\nhyper-util v0.1.7\nhttparse v1.9.0\n";
        let problems = io_crates_in_tree("cxtn-model", tree);
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(problems[0].starts_with("cxtn-model: its tests build hyper-util;"));
        assert!(problems[1].starts_with("cxtn-model: its tests build tokio;"));
    }
}
