//! The tidy check: crates depend only downwards, and each crate keeps the workspace's conventions.

use std::collections::BTreeMap;
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
];

/// The workspace crates `name` may depend on (normal and build dependencies), or `None` for a crate
/// not placed in a layer yet. Arrows point down only; a new crate must be placed here before it can pass.
fn may_use(name: &str) -> Option<Vec<&'static str>> {
    Some(match name {
        "cxtn-model" | "cxtn-transport" => vec![],
        "cxtn-events" => vec!["cxtn-model"],
        "cxtn-receiver" => vec!["cxtn-model", "cxtn-events"],
        "cxtn-webhooks" => vec!["cxtn-model", "cxtn-transport"],
        "cxtn-sandbox" => vec!["cxtn-model", "cxtn-events", "cxtn-transport"],
        // The facade composes the libraries; the CLI and the chores compose everything.
        "cxtn" => LIBRARIES.to_vec(),
        "cxtn-cli" | "xtask" => LIBRARIES.iter().copied().chain(["cxtn"]).collect(),
        _ => return None,
    })
}

/// Outside crates a layer must not use: the model and the parser do no I/O, and the management
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

/// Every problem found, one line each; empty when the workspace is tidy.
pub(crate) fn check(root: &Path) -> Result<Vec<String>> {
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .output()
        .context("running cargo metadata")?;
    anyhow::ensure!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).context("reading cargo metadata")?;
    check_metadata(&metadata)
}

fn check_metadata(metadata: &Value) -> Result<Vec<String>> {
    let forbidden: BTreeMap<&str, &[&str]> = FORBIDDEN.iter().copied().collect();
    let packages = metadata["packages"]
        .as_array()
        .context("cargo metadata has no packages")?;
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
            if is_dev {
                continue;
            }
            if members.contains(&dep_name) && !allowed.contains(&dep_name) {
                problems.push(format!(
                    "{name} depends on {dep_name}, which points up or sideways; move the shared code down a layer"
                ));
            }
            if forbidden.get(name).is_some_and(|list| list.contains(&dep_name)) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_workspace_is_tidy() {
        let problems = check(&crate::root()).unwrap();
        assert!(problems.is_empty(), "tidy found problems:\n{}", problems.join("\n"));
    }

    #[test]
    fn an_upward_arrow_is_caught() {
        let metadata = serde_json::json!({"packages": [
            {"name": "cxtn-model", "manifest_path": "", "targets": [], "dependencies": [
                {"name": "cxtn-events", "kind": null},
                {"name": "tokio", "kind": null},
                {"name": "cxtn", "kind": "dev"}
            ]},
            {"name": "cxtn-events", "manifest_path": "", "targets": [], "dependencies": []},
            {"name": "mystery", "manifest_path": "", "targets": [], "dependencies": []}
        ]});
        let problems = check_metadata(&metadata).unwrap();
        assert_eq!(problems.len(), 3, "{problems:#?}");
        assert!(problems[0].starts_with("cxtn-model depends on cxtn-events, which points up"));
        assert!(problems[1].starts_with("cxtn-model must not depend on tokio"));
        assert!(problems[2].starts_with("mystery: not placed in the layer table"));
    }
}
