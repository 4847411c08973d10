//! `cargo xtask release VERSION [--dry-run]`: bump the one workspace version, check the changelog,
//! run the gate, then a publish dry run of every crate in dependency order.

use std::path::Path;

use anyhow::{Context, Result, bail, ensure};

/// Whether `version` looks like `MAJOR.MINOR.PATCH` with an optional `-pre` part.
fn is_version(version: &str) -> bool {
    let core = version
        .split_once('-')
        .map_or(version, |(core, pre)| if pre.is_empty() { "" } else { core });
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The manifest with the workspace version, and every internal dependency's version, set to `version`.
fn bump_manifest(manifest: &str, version: &str) -> Result<String> {
    let mut out = String::with_capacity(manifest.len());
    let mut section = String::new();
    let mut bumped_package = false;
    for line in manifest.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            section = trimmed.to_owned();
        }
        if section == "[workspace.package]" && trimmed.starts_with("version") && trimmed.contains('=') {
            out.push_str(&format!("version = \"{version}\""));
            bumped_package = true;
        } else if section == "[workspace.dependencies]" && trimmed.starts_with("cxtn") && trimmed.contains("path =") {
            out.push_str(&replace_version(line, version));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    ensure!(
        bumped_package,
        "the root Cargo.toml has no `version` in [workspace.package]"
    );
    Ok(out)
}

fn replace_version(line: &str, version: &str) -> String {
    match line.find("version = \"") {
        Some(start) => {
            let value_start = start + "version = \"".len();
            let rest = line.get(value_start..).unwrap_or("");
            let end = rest.find('"').map_or(line.len(), |i| value_start + i);
            format!(
                "{}{version}{}",
                line.get(..value_start).unwrap_or(""),
                line.get(end..).unwrap_or("")
            )
        }
        None => line.to_owned(),
    }
}

/// Whether the changelog has a `## [VERSION]` heading.
fn changelog_has(changelog: &str, version: &str) -> bool {
    changelog
        .lines()
        .any(|line| line.trim_start().starts_with(&format!("## [{version}]")))
}

pub(crate) fn run(root: &Path, version: &str, dry_run: bool) -> Result<()> {
    ensure!(
        is_version(version),
        "`{version}` is not a version; give MAJOR.MINOR.PATCH such as 0.2.0"
    );
    let changelog_path = root.join("CHANGELOG.md");
    let changelog = std::fs::read_to_string(&changelog_path).context("reading CHANGELOG.md")?;
    if !changelog_has(&changelog, version) {
        bail!(
            "CHANGELOG.md has no entry for {version}; add a `## [{version}]` section with what changed, then run again"
        );
    }
    let manifest_path = root.join("Cargo.toml");
    let manifest = std::fs::read_to_string(&manifest_path).context("reading Cargo.toml")?;
    let bumped = bump_manifest(&manifest, version)?;
    std::fs::write(&manifest_path, bumped).context("writing Cargo.toml")?;
    println!("release: the workspace version is now {version}");

    crate::ci()?;

    if dry_run {
        let mut publish = crate::cargo();
        publish.args(["publish", "--workspace", "--dry-run", "--allow-dirty"]);
        crate::step("cargo publish --workspace --dry-run", publish)?;
        println!("release: dry run of {version} passed; nothing was published");
    } else {
        println!("release: {version} is ready. Review, commit and tag, then publish:");
        println!("  git commit -am \"Release {version}\" && git tag v{version}");
        println!("  cargo publish --workspace");
        println!("  git push && git push --tags");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_checked() {
        for ok in ["0.1.0", "1.22.333", "0.2.0-rc.1"] {
            assert!(is_version(ok), "{ok}");
        }
        for bad in ["", "1", "1.2", "1.2.x", "v1.2.3", "1.2.3-", "1..3"] {
            assert!(!is_version(bad), "{bad}");
        }
    }

    #[test]
    fn the_bump_touches_the_workspace_and_internal_versions_only() {
        let manifest = "[workspace.package]\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace.dependencies]\ncxtn-model = { path = \"crates/cxtn-model\", version = \"0.1.0\" }\nserde = { version = \"1.0.200\" }\n";
        let bumped = bump_manifest(manifest, "0.2.0").unwrap();
        assert_eq!(
            bumped,
            "[workspace.package]\nversion = \"0.2.0\"\nedition = \"2024\"\n\n[workspace.dependencies]\ncxtn-model = { path = \"crates/cxtn-model\", version = \"0.2.0\" }\nserde = { version = \"1.0.200\" }\n"
        );
        assert!(bump_manifest("[package]\nname = \"x\"\n", "0.2.0").is_err());
    }

    #[test]
    fn the_changelog_needs_an_entry() {
        let changelog = "# Changelog\n\n## [Unreleased]\n\n## [0.1.0] - 2026-11-26\n";
        assert!(changelog_has(changelog, "0.1.0"));
        assert!(!changelog_has(changelog, "0.2.0"));
    }
}
