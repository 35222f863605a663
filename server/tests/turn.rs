//! The embedded TURN relay, driven by a real TURN client (the `turn` crate's) with the
//! credentials treff hands out in `welcome`. Loopback only.

mod common;

use std::net::UdpSocket as StdUdp;
use std::sync::Arc;
use std::time::Duration;

use common::{Client, TestServer};
use tokio::net::UdpSocket;
use turn::client::{Client as TurnClient, ClientConfig};
use webrtc_util::Conn;

const SECRET: &str = "north";

fn free_udp_port() -> u16 {
    StdUdp::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn turn_server(allow_private: bool) -> (TestServer, u16) {
    let port = free_udp_port();
    let server = TestServer::start(|c| {
        c.turn = true;
        c.turn_secret = Some(SECRET.into());
        c.turn_listen = format!("127.0.0.1:{port}").parse().unwrap();
        c.turn_allow_private = allow_private;
    });
    (server, port)
}

/// The TURN user name and password from a fresh welcome.
async fn credentials(server: &TestServer, port: u16) -> (String, String) {
    let mut client = Client::connect(server).await;
    let welcome = client.join("turn", "Ada").await;
    let turn = welcome
        .ice_servers
        .iter()
        .find(|s| s.urls.iter().any(|u| u.starts_with("turn:")))
        .expect("the welcome lists the embedded relay");
    assert_eq!(
        turn.urls,
        vec![format!("turn:127.0.0.1:{port}?transport=udp")]
    );
    (
        turn.username.clone().unwrap(),
        turn.credential.clone().unwrap(),
    )
}

async fn turn_client(port: u16, username: String, password: String) -> TurnClient {
    let conn = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let client = TurnClient::new(ClientConfig {
        stun_serv_addr: format!("127.0.0.1:{port}"),
        turn_serv_addr: format!("127.0.0.1:{port}"),
        username,
        password,
        realm: "treff".into(),
        software: "treff-test".into(),
        rto_in_ms: 200,
        conn,
        vnet: None,
    })
    .await
    .unwrap();
    client.listen().await.unwrap();
    client
}

#[tokio::test]
async fn relays_with_the_credentials_from_welcome() {
    let (server, port) = turn_server(true);
    let (username, password) = credentials(&server, port).await;
    let client = turn_client(port, username, password).await;
    let relay = tokio::time::timeout(Duration::from_secs(5), client.allocate())
        .await
        .expect("allocation answers")
        .expect("allocation succeeds");

    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let peer_addr = peer.local_addr().unwrap();
    relay
        .send_to(b"hello through the relay", peer_addr)
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let (n, from) = tokio::time::timeout(Duration::from_secs(5), peer.recv_from(&mut buf))
        .await
        .expect("the peer receives the relayed packet")
        .unwrap();
    assert_eq!(&buf[..n], b"hello through the relay");
    assert_eq!(
        from,
        relay.local_addr().unwrap(),
        "it comes from the relay address"
    );

    peer.send_to(b"and back", from).await.unwrap();
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), relay.recv_from(&mut buf))
        .await
        .expect("the reply comes back through the relay")
        .unwrap();
    assert_eq!(&buf[..n], b"and back");

    let (_, _, metrics) = server.get("/metrics");
    let sample = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap()
    };
    assert_eq!(sample("treff_turn_allocations"), 1.0);
    assert!(sample("treff_turn_relayed_bytes_total") >= 31.0);
    client.close().await.unwrap();
}

#[tokio::test]
async fn expired_credentials_cannot_allocate() {
    let (_server, port) = turn_server(true);
    // The password is right for this user name; only its expiry (in 2001) is wrong.
    let username = "1000000000:ada".to_string();
    let password = treff_server::ice::turn_password(SECRET, &username);
    let client = turn_client(port, username, password).await;
    let result = tokio::time::timeout(Duration::from_secs(5), client.allocate()).await;
    assert!(matches!(result, Ok(Err(_))), "allocation must be refused");
    client.close().await.unwrap();
}

#[tokio::test]
async fn wrong_passwords_cannot_allocate() {
    let (server, port) = turn_server(true);
    let (username, _) = credentials(&server, port).await;
    let client = turn_client(port, username, "not-the-password".into()).await;
    let result = tokio::time::timeout(Duration::from_secs(5), client.allocate()).await;
    assert!(matches!(result, Ok(Err(_))), "allocation must be refused");
    client.close().await.unwrap();
}

#[tokio::test]
async fn loopback_peers_are_refused_unless_allowed() {
    let (server, port) = turn_server(false);
    let (username, password) = credentials(&server, port).await;
    let client = turn_client(port, username, password).await;
    let relay = client.allocate().await.expect("allocation itself is fine");
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let _ = relay
        .send_to(b"should not pass", peer.local_addr().unwrap())
        .await;
    let mut buf = [0u8; 64];
    let got = tokio::time::timeout(Duration::from_millis(700), peer.recv_from(&mut buf)).await;
    assert!(got.is_err(), "nothing may reach a loopback peer");
    client.close().await.unwrap();
}
