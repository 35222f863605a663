//! The container deployment, checked without a container engine: compose.yaml against the
//! Compose schema (docker-compose's `config`, which needs no engine), every variable it uses
//! documented in .env.example, every TREFF_* variable a real flag, and the Dockerfile's shape.
//! What only an engine can check (the image builds and starts) is listed in the README.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::repo_root;

fn read(path: &str) -> String {
    std::fs::read_to_string(repo_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Names of `${VAR}`, `${VAR:-x}`, `${VAR:?x}` references.
fn variables(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        rest = &rest[i + 2..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        out.insert(name);
    }
    out
}

fn documented(env_example: &str) -> BTreeSet<String> {
    env_example
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_owned()))
        .collect()
}

#[test]
fn compose_file_is_valid_against_the_compose_schema() {
    let root = repo_root();
    let out = Command::new("docker-compose")
        .current_dir(&root)
        .args(["-f", "compose.yaml", "--env-file", ".env.example", "config", "-q"])
        .output()
        .expect("docker-compose (Debian package docker-compose) is installed by scripts/install-deps.sh");
    assert!(
        out.status.success(),
        "compose.yaml is invalid: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_variable_used_is_documented_in_env_example() {
    let used = variables(&read("compose.yaml"));
    let documented = documented(&read(".env.example"));
    let missing: Vec<_> = used.difference(&documented).collect();
    assert!(missing.is_empty(), "not in .env.example: {missing:?}");
    assert!(!used.is_empty());
}

#[test]
fn every_treff_variable_is_a_flag_of_the_binary() {
    let help = Command::new(env!("CARGO_BIN_EXE_treff"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let compose = read("compose.yaml");
    let mut names: BTreeSet<String> = documented(&read(".env.example"))
        .into_iter()
        .filter(|v| v.starts_with("TREFF_") && v != "TREFF_PORT")
        .collect();
    for line in compose.lines() {
        let key = line.trim().split(':').next().unwrap_or("");
        if key.starts_with("TREFF_") {
            names.insert(key.to_owned());
        }
    }
    for line in read("Dockerfile").lines() {
        for word in line.split_whitespace() {
            if let Some((key, _)) = word.split_once('=') {
                if key.starts_with("TREFF_") {
                    names.insert(key.to_owned());
                }
            }
        }
    }
    assert!(names.len() > 5, "{names:?}");
    for name in names {
        // Secrets are listed as "[env: NAME]", without their value.
        assert!(
            help.contains(&format!("env: {name}=")) || help.contains(&format!("env: {name}]")),
            "{name} is not a treff flag"
        );
    }
}

#[test]
fn dockerfile_builds_in_stages_and_runs_as_a_non_root_user() {
    let dockerfile = read("Dockerfile");
    let stages = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .count();
    assert!(stages >= 2, "multi-stage build");
    let runtime = dockerfile.rsplit("\nFROM ").next().unwrap();
    let user = runtime
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("the runtime stage sets USER");
    assert_ne!(user.trim(), "root");
    assert!(
        !runtime.contains("cargo"),
        "no tool chain in the runtime image"
    );
    assert!(runtime.contains("EXPOSE 8000/tcp"));
    // Every file the build stage copies by name exists.
    for line in dockerfile
        .lines()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from"))
    {
        let parts: Vec<_> = line.split_whitespace().collect();
        for src in &parts[1..parts.len() - 1] {
            assert!(repo_root().join(src).exists(), "COPY source {src} missing");
        }
    }
    // The script line that reads the wasm-bindgen version from Cargo.lock finds the right one.
    let awk = dockerfile
        .split("awk '")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .expect("the Dockerfile reads the wasm-bindgen version with awk");
    let out = Command::new("awk")
        .arg(awk)
        .arg(repo_root().join("Cargo.lock"))
        .output()
        .unwrap();
    let version = String::from_utf8(out.stdout).unwrap();
    let lock = read("Cargo.lock");
    let expected = lock
        .split("[[package]]")
        .find(|p| p.contains("name = \"wasm-bindgen\"\n"))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
        .map(|v| v.trim_matches('"').to_owned());
    assert_eq!(Some(version.trim().to_owned()), expected);
}

#[test]
fn dockerignore_keeps_secrets_and_build_output_out_of_the_context() {
    let ignore = read(".dockerignore");
    for entry in ["target/", "certs/", ".env"] {
        assert!(ignore.lines().any(|l| l == entry), "{entry} not ignored");
    }
}
