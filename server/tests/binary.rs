//! The `treff` binary itself: flags, startup log, and graceful shutdown on SIGTERM.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::Client;
use treff_shared::close_code;

#[test]
fn help_explains_every_flag() {
    let out = Command::new(env!("CARGO_BIN_EXE_treff"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--listen",
        "--static-dir",
        "--tls-cert",
        "--tls-key",
        "--allowed-origin",
        "--room-capacity",
        "--max-frame-bytes",
        "--chat-history",
        "--join-timeout",
        "--resume-grace",
        "--log",
        "--redis-url",
        "--node-id",
        "TREFF_LISTEN",
        "TREFF_REDIS_URL",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
    assert!(help.contains("0.0.0.0:8000"));
}

#[tokio::test]
async fn sigterm_tells_members_to_reconnect_and_exits() {
    // The startup log names the bound address.
    let (mut child, addr) = common::spawn_treff(
        &["--listen", "127.0.0.1:0", "--static-dir", "/nonexistent"],
        "treff",
    );

    let url = format!("ws://{addr}/ws");
    let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut client = Client::from_stream(ws);
    client.join("r", "Ada").await;

    let started = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    client.expect_close(close_code::SERVER_RESTART).await;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "clean exit: {status}");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "drains within the shutdown timeout"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn treff_token_mints_a_token_the_server_accepts() {
    for args in [
        vec![
            "token",
            "--token-secret",
            "abc",
            "--room",
            "team",
            "--name",
            "Ada",
            "--role",
            "moderator",
        ],
        vec![
            "--token-secret",
            "abc",
            "token",
            "--room",
            "team",
            "--name",
            "Ada",
            "--role",
            "moderator",
        ],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_treff"))
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let token = String::from_utf8(out.stdout).unwrap();
        let verifier = treff_server::auth::TokenVerifier::hs256("abc", Duration::from_secs(5));
        let room = treff_shared::RoomName::new("team").unwrap();
        let (name, role) = verifier.verify(token.trim(), &room).unwrap();
        assert_eq!(name.as_str(), "Ada");
        assert_eq!(role, treff_shared::Role::Moderator);
    }
    let out = Command::new(env!("CARGO_BIN_EXE_treff"))
        .args(["token", "--room", "team", "--name", "Ada"])
        .env_remove("TREFF_TOKEN_SECRET")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--token-secret"));
}
