//! The deployment files at the root of the repository: the `Dockerfile` and the systemd unit example run
//! `cxtn listen` with flags it has, as a user without privileges, with a health check, secrets kept off the
//! command line, and a stop timeout longer than the receiver's own.

use std::collections::BTreeSet;

use crate::run;

fn read(path: &str) -> String {
    let path = format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// The lines that are not comments, with `\` continuations joined.
fn instructions(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        match line.strip_suffix('\\') {
            Some(head) => current.push_str(head),
            None => {
                current.push_str(line);
                lines.push(std::mem::take(&mut current));
            }
        }
    }
    lines
}

/// The `--flags` in `args`.
fn flags(args: &str) -> BTreeSet<String> {
    args.split(|c: char| c.is_whitespace() || c == '"' || c == ',' || c == '[' || c == ']')
        .filter(|word| word.starts_with("--"))
        .map(|word| word.split('=').next().unwrap().to_owned())
        .collect()
}

/// Every flag is one `cxtn listen` has.
async fn assert_listen_has(used: &BTreeSet<String>, file: &str) {
    let help = run(&["listen", "--help"], &[]).await;
    help.assert_code(0);
    for flag in used {
        assert!(
            help.stdout.contains(&format!("{flag} ")),
            "{file} uses {flag}, which `cxtn listen` does not have"
        );
    }
}

#[tokio::test]
async fn the_dockerfile_builds_apart_and_runs_unprivileged_with_a_health_check() {
    let dockerfile = read("Dockerfile");
    let lines = instructions(&dockerfile);
    let starts = |keyword: &str| -> Vec<&String> { lines.iter().filter(|l| l.starts_with(keyword)).collect() };

    let stages = starts("FROM ");
    assert!(stages.len() >= 2, "a multi-stage build: {stages:?}");
    assert!(stages[0].ends_with(" AS build"), "{stages:?}");
    assert!(
        dockerfile.contains("cargo build --profile dist --locked"),
        "the build uses the distribution profile and the lock file"
    );
    assert!(
        dockerfile.contains("target/dist/cxtn"),
        "the image takes the binary the dist profile built"
    );
    let runtime_at = lines.iter().rposition(|l| l.starts_with("FROM ")).unwrap();
    let runtime = &lines[runtime_at..];
    assert!(
        runtime
            .iter()
            .any(|l| l.starts_with("COPY --from=build ") && l.ends_with("/usr/local/bin/cxtn")),
        "the runtime stage takes only the binary from the build: {runtime:?}"
    );
    assert!(
        !runtime.iter().any(|l| l.contains("cargo ")),
        "no toolchain in the runtime stage"
    );

    let user = runtime
        .iter()
        .find(|l| l.starts_with("USER "))
        .expect("a USER in the runtime stage");
    let who = user.trim_start_matches("USER ").split(':').next().unwrap();
    assert!(who != "root" && who != "0", "{user}");
    let user_at = runtime.iter().position(|l| l.starts_with("USER ")).unwrap();
    assert!(
        !runtime[user_at..].iter().any(|l| l.starts_with("RUN ")),
        "nothing runs after USER but the receiver"
    );

    let healthcheck = runtime
        .iter()
        .find(|l| l.starts_with("HEALTHCHECK "))
        .expect("a HEALTHCHECK");
    assert!(healthcheck.contains("/healthz"), "{healthcheck}");
    let entrypoint = runtime
        .iter()
        .find(|l| l.starts_with("ENTRYPOINT "))
        .expect("an ENTRYPOINT");
    assert!(entrypoint.contains("/usr/local/bin/cxtn"), "{entrypoint}");
    let cmd = runtime.iter().find(|l| l.starts_with("CMD ")).expect("a CMD");
    assert!(cmd.contains("\"listen\""), "{cmd}");
    let admin = cmd
        .split("\"--admin-addr\", \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the CMD serves the admin listener");
    let port = admin.rsplit(':').next().unwrap();
    assert!(
        healthcheck.contains(&format!("127.0.0.1:{port}/healthz")),
        "{healthcheck} checks another port than {admin}"
    );
    assert!(
        runtime.iter().any(|l| l.starts_with("EXPOSE ") && l.contains(port)),
        "the admin port is exposed"
    );
    assert!(
        runtime.iter().any(|l| l.starts_with("VOLUME ")),
        "the inbox lives on a volume"
    );
    assert!(
        !dockerfile.contains("CXTN_PATH_TOKEN=") && !dockerfile.contains("--path-token "),
        "no secret is baked into the image"
    );
    assert_listen_has(&flags(cmd), "the Dockerfile").await;

    let ignored = read(".dockerignore");
    assert!(
        ignored.lines().any(|l| l == "/target"),
        "the build context leaves out target/"
    );
}

#[tokio::test]
async fn the_systemd_unit_keeps_secrets_in_a_file_restarts_and_is_hardened() {
    let unit = read("deploy/cxtn-listen.service");
    let lines = instructions(&unit);
    let value = |key: &str| -> Vec<String> {
        lines
            .iter()
            .filter_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(str::to_owned)
            .collect()
    };
    let one = |key: &str| -> String {
        let values = value(key);
        assert_eq!(values.len(), 1, "one {key}= line: {values:?}");
        values.into_iter().next().unwrap()
    };

    for section in ["[Unit]", "[Service]", "[Install]"] {
        assert!(lines.iter().any(|l| l == section), "{section}");
    }
    let exec = one("ExecStart");
    assert!(exec.starts_with("/usr/local/bin/cxtn listen "), "{exec}");
    assert!(
        exec.contains("--admin-addr 127.0.0.1:"),
        "the admin listener stays on loopback: {exec}"
    );
    for secret in ["--path-token ", "--basic-auth ", "postgres://"] {
        assert!(!exec.contains(secret), "a secret on the command line: {exec}");
    }
    assert_listen_has(&flags(&exec), "the unit").await;

    let environment_file = one("EnvironmentFile");
    assert!(environment_file.starts_with('/'), "{environment_file}");
    assert!(
        unit.contains("CXTN_PATH_TOKEN="),
        "the unit says which secrets the file holds"
    );
    assert_eq!(one("Restart"), "on-failure");
    let stop: u64 = one("TimeoutStopSec").trim_end_matches('s').parse().unwrap();
    assert!(stop > 30, "longer than the default --shutdown-timeout of 30 s: {stop}");
    let files: u64 = one("LimitNOFILE").parse().unwrap();
    assert!(files > 512 * 2, "room for the default --max-connections: {files}");

    for (key, expected) in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("DynamicUser", "yes"),
        ("StateDirectory", "cxtn"),
        ("CapabilityBoundingSet", ""),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("MemoryDenyWriteExecute", "yes"),
    ] {
        assert_eq!(one(key), expected, "{key}");
    }
    assert!(value("SystemCallFilter").contains(&"@system-service".to_owned()));
    assert_eq!(one("WantedBy"), "multi-user.target");
}
