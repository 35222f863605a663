//! HTTP routes, the origin check, and TLS with a certificate from scripts/gen-certs.sh.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;

use common::{repo_root, Client, TestServer, PATIENCE};
use tokio_tungstenite::Connector;

fn static_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("treff-static-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("pkg")).unwrap();
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><title>treff</title>",
    )
    .unwrap();
    std::fs::write(dir.join("pkg/app.js"), "export default 1;").unwrap();
    dir
}

#[test]
fn the_web_app_is_served_with_a_fallback_for_deep_links() {
    let dir = static_dir();
    let server = TestServer::start(|c| c.static_dir = dir.clone());
    let (status, head, body) = server.get("/");
    assert_eq!(status, 200, "{head}");
    assert!(body.contains("<title>treff</title>"));

    let (status, _, body) = server.get("/room/team");
    assert_eq!(status, 200);
    assert!(
        body.contains("<title>treff</title>"),
        "deep links serve index.html"
    );

    let (status, head, _) = server.get("/pkg/app.js");
    assert_eq!(status, 200);
    assert!(head.to_ascii_lowercase().contains("javascript"), "{head}");

    let (status, _, body) = server.get("/pkg/missing.wasm");
    assert_eq!(status, 404, "a missing asset is not index.html");
    assert!(body.contains("Not found"));
}

#[test]
fn an_unbuilt_web_app_says_how_to_build_it() {
    let server = TestServer::start(|_| {});
    let (status, _, body) = server.get("/");
    assert_eq!(status, 503);
    assert!(body.contains("scripts/build-web.sh"));
}

#[test]
fn healthz_reports_ok() {
    let server = TestServer::start(|_| {});
    let (status, _, body) = server.get("/healthz");
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"], "ok");
}

#[tokio::test]
async fn websocket_upgrades_from_foreign_origins_are_refused() {
    let server = TestServer::start(|c| c.allowed_origins = vec!["https://app.example".into()]);
    let own = format!("http://{}", server.addr);
    assert!(Client::connect_with_origin(&server, &own).await.is_ok());
    assert!(Client::connect_with_origin(&server, "https://app.example")
        .await
        .is_ok());
    assert_eq!(
        Client::connect_with_origin(&server, "https://evil.example")
            .await
            .err(),
        Some(403)
    );
    // The refused origin learns why in the body.
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        stream,
        "GET /ws HTTP/1.1\r\nHost: {}\r\nOrigin: https://evil.example\r\nConnection: Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        server.addr
    )
    .unwrap();
    let mut buf = vec![0; 4096];
    let n = stream.read(&mut buf).unwrap();
    let (status, _, body) = common::parse_http(&String::from_utf8_lossy(&buf[..n]));
    assert_eq!(status, 403);
    assert!(body.contains("--allowed-origin"), "{body}");
}

/// Runs scripts/gen-certs.sh into a fresh directory and returns (cert, key).
fn generated_certificate() -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("treff-certs-{}", std::process::id()));
    let status = Command::new("bash")
        .arg(repo_root().join("scripts/gen-certs.sh"))
        .arg(&dir)
        .status()
        .expect("gen-certs.sh runs");
    assert!(status.success());
    (dir.join("cert.pem"), dir.join("key.pem"))
}

#[tokio::test]
async fn wss_works_with_a_certificate_from_gen_certs() {
    let (cert, key) = generated_certificate();
    let server = TestServer::start(|c| {
        c.tls_cert = Some(cert.clone());
        c.tls_key = Some(key.clone());
    });
    // Trust exactly the generated certificate, and check its name (127.0.0.1 is in its SANs).
    let pem = std::fs::read(&cert).unwrap();
    let connector = native_tls::TlsConnector::builder()
        .add_root_certificate(native_tls::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let (ws, _) = tokio_tungstenite::connect_async_tls_with_config(
        server.ws_url(),
        None,
        true,
        Some(Connector::NativeTls(connector.clone())),
    )
    .await
    .expect("wss connects and the certificate verifies");
    let mut client = Client::from_stream(ws);
    let welcome = client.join("secure", "Ada").await;
    assert!(welcome.peers.is_empty());

    // Plain HTTP on the TLS port does not serve anything.
    let mut plain = TcpStream::connect(server.addr).unwrap();
    plain.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(plain, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = [0u8; 64];
    let n = plain.read(&mut buf).unwrap_or(0);
    assert!(!String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));

    // HTTPS serves the health check.
    let tcp = TcpStream::connect(server.addr).unwrap();
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut tls = connector.connect("127.0.0.1", tcp).unwrap();
    write!(
        tls,
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    tls.read_to_string(&mut raw).unwrap();
    assert_eq!(common::parse_http(&raw).0, 200);
}

/// Reads one sample, e.g. `treff_frames_total{type="signal"}`, from a /metrics scrape.
fn sample(scrape: &str, series: &str) -> f64 {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{series} not in:\n{scrape}"))
}

#[tokio::test]
async fn metrics_move_when_frames_are_relayed() {
    let server = TestServer::start(|_| {});
    let (status, head, before) = server.get("/metrics");
    assert_eq!(status, 200);
    assert!(head.contains("openmetrics-text"), "{head}");
    assert_eq!(sample(&before, "treff_frames_total{type=\"signal\"}"), 0.0);
    assert_eq!(sample(&before, "treff_sessions"), 0.0);

    let mut ada = Client::connect(&server).await;
    let a = ada.join("m", "Ada").await.peer_id;
    let mut bob = Client::connect(&server).await;
    bob.join("m", "Bob").await;
    for _ in 0..3 {
        bob.send(&treff_shared::ClientMessage::Signal {
            to: a.clone(),
            data: treff_shared::SignalData::Candidate(None),
        })
        .await;
    }
    bob.send_text("{oops").await;
    bob.send_text(r#"{"type":"signal","to":"ghost","data":{"candidate":null}}"#)
        .await;
    ada.recv().await; // peer-joined
    for _ in 0..3 {
        ada.recv().await;
    }
    bob.recv().await;
    bob.recv().await;

    let (_, _, after) = server.get("/metrics");
    assert_eq!(sample(&after, "treff_frames_total{type=\"signal\"}"), 4.0);
    assert_eq!(sample(&after, "treff_frames_total{type=\"join\"}"), 2.0);
    assert_eq!(sample(&after, "treff_errors_total{code=\"bad-json\"}"), 1.0);
    assert_eq!(
        sample(&after, "treff_errors_total{code=\"unknown-peer\"}"),
        1.0
    );
    assert_eq!(sample(&after, "treff_sessions"), 2.0);
    assert_eq!(sample(&after, "treff_rooms"), 1.0);
    assert_eq!(sample(&after, "treff_participants"), 2.0);
}

#[test]
fn the_web_app_is_served_with_security_headers() {
    let dir = static_dir();
    let server = TestServer::start(|c| c.static_dir = dir.clone());
    for path in ["/", "/room/team", "/pkg/app.js", "/healthz"] {
        let (_, head, _) = server.get(path);
        let head = head.to_ascii_lowercase();
        assert!(
            head.contains("x-content-type-options: nosniff"),
            "{path}: {head}"
        );
        assert!(head.contains("frame-ancestors 'none'"), "{path}: {head}");
        assert!(
            head.contains("script-src 'self' 'wasm-unsafe-eval'"),
            "{path}: {head}"
        );
        let script_src = head
            .split("script-src")
            .nth(1)
            .and_then(|rest| rest.split(';').next())
            .unwrap_or("");
        assert!(
            !script_src.contains("unsafe-inline"),
            "no inline scripts: {script_src}"
        );
    }
}
