//! Several real treff nodes (the binary, as separate processes) sharing rooms through a real
//! `redis-server` on loopback: members on different nodes in one room, an owner or another
//! node killed with SIGKILL, Redis restarted mid-call, two nodes racing for one room.

mod common;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Client, Event};
use treff_shared::{
    close_code, ClientMessage, ErrorCode, PeerId, ServerMessage, SignalData, Welcome,
};

/// A `redis-server` of its own on a free loopback port, without persistence (a restart loses
/// everything, the hardest case).
struct Redis {
    port: u16,
    child: Child,
    /// Where a persistent Redis keeps its append-only file.
    dir: Option<PathBuf>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Redis {
    fn start() -> Redis {
        Redis::on_port(free_port(), None)
    }

    /// A Redis that keeps its data across restarts (an append-only file, synced on every write).
    fn start_persistent() -> Redis {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("treff-redis-{port}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Redis::on_port(port, Some(dir))
    }

    fn on_port(port: u16, dir: Option<PathBuf>) -> Redis {
        let mut args: Vec<String> = [
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        match &dir {
            Some(dir) => args.extend(
                [
                    "--appendonly",
                    "yes",
                    "--appendfsync",
                    "always",
                    "--dir",
                    dir.to_str().unwrap(),
                ]
                .map(String::from),
            ),
            None => args.extend(["--appendonly", "no"].map(String::from)),
        }
        let child = Command::new("redis-server")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (scripts/install-deps.sh installs it)");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server starts"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Redis { port, child, dir }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Kills Redis and starts a fresh, empty one on the same port after `down`.
    fn restart(&mut self, down: Duration) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(down);
        let (port, dir) = (self.port, self.dir.take());
        *self = Redis::on_port(port, dir);
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// One treff node: the real binary with `--redis-url`.
struct Node {
    addr: SocketAddr,
    child: Child,
}

impl Node {
    fn start(redis: &Redis, id: &str) -> Node {
        let url = redis.url();
        let args = [
            "--listen",
            "127.0.0.1:0",
            "--static-dir",
            "/nonexistent",
            "--redis-url",
            &url,
            "--node-id",
            id,
        ];
        let (child, addr) = common::spawn_treff(&args, id);
        let node = Node { addr, child };
        node.wait_until_healthy();
        node
    }

    fn healthz(&self) -> (u16, String) {
        let (status, _, body) = http_get(self.addr, "/healthz");
        (status, body)
    }

    fn wait_until_healthy(&self) {
        let started = Instant::now();
        loop {
            let (status, body) = self.healthz();
            if status == 200 {
                assert!(body.contains(r#""redis":"up""#), "{body}");
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the node joins the cluster: {status} {body}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn metrics(&self) -> String {
        http_get(self.addr, "/metrics").2
    }

    async fn client(&self) -> Client {
        connect(self.addr).await
    }

    /// SIGKILL: no goodbye, no close frames.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn connect(addr: SocketAddr) -> Client {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .expect("websocket connects");
    Client::from_stream(ws)
}

fn http_get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    let _ = stream.read_to_string(&mut raw);
    common::parse_http(&raw)
}

/// The sum of a metric's samples whose line starts with `name`.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The next frame that is not a ping answer or a status line of no interest here.
async fn next_frame(client: &mut Client, wait: Duration) -> Option<ServerMessage> {
    match client.next_event(wait).await {
        Some(Event::Frame(msg)) => Some(msg),
        _ => None,
    }
}

/// Waits for a frame `pick` accepts, skipping others; panics after `wait`.
async fn expect_frame<T>(
    client: &mut Client,
    what: &str,
    wait: Duration,
    mut pick: impl FnMut(&ServerMessage) -> Option<T>,
) -> T {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match client.next_event(left).await {
            Some(Event::Frame(msg)) => {
                if let Some(found) = pick(&msg) {
                    return found;
                }
            }
            Some(Event::Closed(code)) => panic!("closed ({code:?}) while waiting for {what}"),
            None => panic!("no {what} within {wait:?}"),
        }
    }
}

/// Joins (or resumes with `token`) on `node`, trying again while the cluster answers "try
/// again", as the web app does; returns the welcome and how long it took.
async fn join_until_welcome(
    node: SocketAddr,
    room: &str,
    name: &str,
    token: Option<String>,
    patience: Duration,
) -> (Client, Welcome, Duration) {
    let started = Instant::now();
    loop {
        let mut client = connect(node).await;
        client
            .send_join(room, name, token.clone(), None, None)
            .await;
        match next_frame(&mut client, Duration::from_secs(5)).await {
            Some(ServerMessage::Welcome(welcome)) => return (client, *welcome, started.elapsed()),
            Some(ServerMessage::Error { code, message }) => {
                assert_eq!(code, ErrorCode::Unavailable, "{message}");
                assert!(message.ends_with('.'), "a sentence: {message}");
            }
            other => panic!("expected a welcome or unavailable, got {other:?}"),
        }
        assert!(
            started.elapsed() < patience,
            "{name} got back into {room} within {patience:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn ids(welcome: &Welcome) -> Vec<PeerId> {
    welcome.peers.iter().map(|p| p.peer_id.clone()).collect()
}

async fn chat(client: &mut Client, text: &str) {
    client
        .send(&ClientMessage::Chat { text: text.into() })
        .await;
}

async fn expect_chat(client: &mut Client, text: &str) {
    let want = text.to_owned();
    expect_frame(
        client,
        &format!("chat {text:?}"),
        common::PATIENCE,
        |m| match m {
            ServerMessage::Chat(c) if c.text == want => Some(()),
            _ => None,
        },
    )
    .await;
}

/// Waits for the close of a connection whose node or room went away; a close code of 1012
/// tells the client to resume.
async fn expect_resume_request(client: &mut Client, wait: Duration) -> Duration {
    let started = Instant::now();
    let deadline = started + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match client.next_event(left).await {
            Some(Event::Closed(code)) => {
                // A killed node's connections just break; a live node asks with 1012.
                assert!(
                    code.is_none() || code == Some(close_code::SERVER_RESTART),
                    "closed with {code:?}"
                );
                return started.elapsed();
            }
            Some(Event::Frame(ServerMessage::PeerLeft { peer_id, .. })) => {
                panic!("nobody is told anyone left, but {peer_id} was")
            }
            Some(Event::Frame(_)) => continue,
            None => panic!("the connection was not closed within {wait:?}"),
        }
    }
}

#[tokio::test]
async fn members_on_two_nodes_share_a_room() {
    let redis = Redis::start();
    let a = Node::start(&redis, "node-a");
    let b = Node::start(&redis, "node-b");

    let mut ada = a.client().await;
    let ada_welcome = ada.join("team", "Ada").await;
    let mut bob = b.client().await;
    let bob_welcome = bob.join("team", "Bob").await;
    assert_eq!(
        ids(&bob_welcome),
        vec![ada_welcome.peer_id.clone()],
        "Bob's welcome lists Ada"
    );
    let bob_id = bob_welcome.peer_id.clone();
    let joined = expect_frame(&mut ada, "peer-joined", common::PATIENCE, |m| match m {
        ServerMessage::PeerJoined { peer } => Some(peer.peer_id.clone()),
        _ => None,
    })
    .await;
    assert_eq!(joined, bob_id);

    // A signal across nodes carries the sender the owner stamped.
    bob.send(&ClientMessage::Signal {
        to: ada_welcome.peer_id.clone(),
        data: SignalData::Candidate(None),
    })
    .await;
    let from = expect_frame(&mut ada, "Bob's signal", common::PATIENCE, |m| match m {
        ServerMessage::Signal { from, .. } => Some(from.clone()),
        _ => None,
    })
    .await;
    assert_eq!(from, bob_id);
    ada.send(&ClientMessage::Signal {
        to: bob_id.clone(),
        data: SignalData::Candidate(None),
    })
    .await;
    let from = expect_frame(&mut bob, "Ada's signal", common::PATIENCE, |m| match m {
        ServerMessage::Signal { from, .. } => Some(from.clone()),
        _ => None,
    })
    .await;
    assert_eq!(from, ada_welcome.peer_id);

    // Chat both ways, and the history for a late joiner on the other node.
    chat(&mut bob, "hallo from b").await;
    expect_chat(&mut ada, "hallo from b").await;
    expect_chat(&mut bob, "hallo from b").await;
    chat(&mut ada, "hallo from a").await;
    expect_chat(&mut bob, "hallo from a").await;
    let mut cem = b.client().await;
    let cem_welcome = cem.join("team", "Cem").await;
    let texts: Vec<&str> = cem_welcome
        .history
        .iter()
        .map(|c| c.text.as_str())
        .collect();
    assert_eq!(texts, ["hallo from b", "hallo from a"]);
    assert_eq!(
        ids(&cem_welcome),
        vec![ada_welcome.peer_id.clone(), bob_id.clone()]
    );

    // Exactly one node owns the room; the other forwarded.
    let (owned_a, owned_b) = (
        metric(&a.metrics(), "treff_cluster_rooms_owned"),
        metric(&b.metrics(), "treff_cluster_rooms_owned"),
    );
    assert_eq!((owned_a, owned_b), (1.0, 0.0));
    assert!(
        metric(
            &b.metrics(),
            "treff_cluster_frames_forwarded_total{direction=\"out\"}"
        ) >= 4.0
    );
    let (status, body) = b.healthz();
    assert_eq!(status, 200);
    assert!(body.contains(r#""node":"node-b""#), "{body}");

    // Bob leaves: Ada is told at once, across nodes.
    bob.close_normally().await;
    let left = expect_frame(&mut ada, "peer-left", common::PATIENCE, |m| match m {
        ServerMessage::PeerLeft { peer_id, .. } => Some(peer_id.clone()),
        _ => None,
    })
    .await;
    assert_eq!(left, bob_id);
}

#[tokio::test]
async fn the_owner_dies_and_everyone_resumes_on_another_node_with_their_peer_ids() {
    let redis = Redis::start();
    let mut a = Node::start(&redis, "node-a");
    let b = Node::start(&redis, "node-b");

    let mut ada = a.client().await;
    let ada_w = ada.join("class", "Ada").await;
    let mut bob = b.client().await;
    let bob_w = bob.join("class", "Bob").await;
    chat(&mut ada, "before the crash").await;
    expect_chat(&mut bob, "before the crash").await;

    a.kill();
    let killed = Instant::now();
    // Ada's own node is gone: her connection breaks and she reconnects, to node B.
    let (b_addr, ada_token) = (b.addr, ada_w.resume_token.clone());
    let ada_back = tokio::spawn(async move {
        let (client, welcome, _) = join_until_welcome(
            b_addr,
            "class",
            "Ada",
            Some(ada_token),
            Duration::from_secs(20),
        )
        .await;
        (client, welcome)
    });
    // Bob's node notices the lease lapse and asks him to resume.
    let asked = expect_resume_request(&mut bob, Duration::from_secs(15)).await;
    let (bob_client, bob_again, _) = join_until_welcome(
        b.addr,
        "class",
        "Bob",
        Some(bob_w.resume_token.clone()),
        Duration::from_secs(20),
    )
    .await;
    let (ada_client, ada_again) = ada_back.await.unwrap();
    let took = killed.elapsed();
    eprintln!("takeover: Bob asked to resume after {asked:?}; both members back after {took:?}");
    assert!(
        took < Duration::from_secs(15),
        "takeover within 15 s: {took:?}"
    );
    assert!(ada_again.resumed, "Ada resumed: {ada_again:?}");
    assert!(bob_again.resumed, "Bob resumed: {bob_again:?}");
    assert_eq!(ada_again.peer_id, ada_w.peer_id, "Ada keeps her peer id");
    assert_eq!(bob_again.peer_id, bob_w.peer_id, "Bob keeps his peer id");
    assert!(
        ids(&bob_again).contains(&ada_w.peer_id),
        "Bob still sees Ada"
    );
    assert!(
        ids(&ada_again).contains(&bob_w.peer_id),
        "Ada still sees Bob"
    );
    let texts: Vec<&str> = bob_again.history.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, ["before the crash"], "the chat history survived");
    assert_eq!(ada_again.role, ada_w.role, "Ada is still the moderator");
    assert!(metric(&b.metrics(), "treff_cluster_takeovers_total") >= 1.0);
    assert_eq!(metric(&b.metrics(), "treff_cluster_rooms_owned"), 1.0);
    drop((ada_client, bob_client));
}

#[tokio::test]
async fn a_node_that_only_forwards_dies_and_its_member_resumes_at_the_owner() {
    let redis = Redis::start();
    let a = Node::start(&redis, "node-a");
    let mut b = Node::start(&redis, "node-b");

    let mut ada = a.client().await;
    let ada_w = ada.join("club", "Ada").await;
    let mut bob = b.client().await;
    let bob_w = bob.join("club", "Bob").await;
    expect_frame(&mut ada, "peer-joined", common::PATIENCE, |m| {
        matches!(m, ServerMessage::PeerJoined { .. }).then_some(())
    })
    .await;

    b.kill();
    // The owner notices that B is gone and holds Bob for his resume grace: Ada sees him
    // reconnecting, not leaving.
    let status = expect_frame(
        &mut ada,
        "Bob reconnecting",
        Duration::from_secs(10),
        |m| match m {
            ServerMessage::PeerStatus { peer_id, status } if *peer_id == bob_w.peer_id => {
                Some(*status)
            }
            ServerMessage::PeerLeft { peer_id, .. } => panic!("{peer_id} was said to have left"),
            _ => None,
        },
    )
    .await;
    assert_eq!(status, treff_shared::PeerStatus::Reconnecting);
    let (_bob, again, _) = join_until_welcome(
        a.addr,
        "club",
        "Bob",
        Some(bob_w.resume_token.clone()),
        Duration::from_secs(10),
    )
    .await;
    assert!(again.resumed);
    assert_eq!(again.peer_id, bob_w.peer_id);
    assert_eq!(ids(&again), vec![ada_w.peer_id.clone()]);
}

#[tokio::test]
async fn redis_restarting_mid_call_loses_no_member() {
    let mut redis = Redis::start();
    let a = Node::start(&redis, "node-a");
    let b = Node::start(&redis, "node-b");

    let mut ada = a.client().await;
    let ada_w = ada.join("family", "Ada").await;
    let mut bob = b.client().await;
    let bob_w = bob.join("family", "Bob").await;

    // While Redis is down, a new room cannot be placed: a clear "try again", not a hang.
    redis.stop();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut cem = b.client().await;
    let asked = Instant::now();
    cem.send_join("elsewhere", "Cem", None, None, None).await;
    let message = common::expect_error(&mut cem, ErrorCode::Unavailable).await;
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "answered in {:?}",
        asked.elapsed()
    );
    assert!(message.contains("try again"), "{message}");
    let (status, body) = b.healthz();
    assert_eq!(status, 503, "{body}");
    assert!(body.contains(r#""redis":"down""#), "{body}");

    // Redis comes back empty. The owner takes its lease back; Bob, connected to the other
    // node, resumes there with his peer id; Ada never leaves.
    redis.restart(Duration::from_millis(500));
    a.wait_until_healthy();
    b.wait_until_healthy();
    let asked = expect_resume_request(&mut bob, Duration::from_secs(10)).await;
    let (mut bob, again, _) = join_until_welcome(
        b.addr,
        "family",
        "Bob",
        Some(bob_w.resume_token.clone()),
        Duration::from_secs(10),
    )
    .await;
    eprintln!("Redis restart: Bob asked to resume after {asked:?}");
    assert!(again.resumed);
    assert_eq!(again.peer_id, bob_w.peer_id);
    assert_eq!(ids(&again), vec![ada_w.peer_id.clone()]);
    chat(&mut bob, "still here").await;
    expect_chat(&mut ada, "still here").await;
    assert_eq!(
        metric(&a.metrics(), "treff_cluster_rooms_owned")
            + metric(&b.metrics(), "treff_cluster_rooms_owned"),
        1.0,
        "no room is owned twice"
    );
}

#[tokio::test]
async fn two_nodes_racing_to_create_a_room_make_one_room() {
    let redis = Redis::start();
    let nodes = [Node::start(&redis, "node-a"), Node::start(&redis, "node-b")];
    for round in 0..10 {
        let room = format!("race-{round}");
        let (mut ada, mut bob) = (nodes[0].client().await, nodes[1].client().await);
        let (ada_w, bob_w) = tokio::join!(ada.join(&room, "Ada"), bob.join(&room, "Bob"));
        // Whoever came second sees the first: one room, not two.
        let together = ids(&ada_w) == vec![bob_w.peer_id.clone()]
            || ids(&bob_w) == vec![ada_w.peer_id.clone()];
        assert!(
            together,
            "round {round}: {:?} / {:?}",
            ids(&ada_w),
            ids(&bob_w)
        );
        ada.close_normally().await;
        bob.close_normally().await;
    }
}

#[tokio::test]
async fn a_node_cut_off_from_redis_stops_its_rooms_and_everyone_resumes_when_it_is_back() {
    let mut redis = Redis::start_persistent();
    let a = Node::start(&redis, "node-a");
    let b = Node::start(&redis, "node-b");
    let mut ada = a.client().await;
    let ada_w = ada.join("school", "Ada").await;
    let mut bob = b.client().await;
    let bob_w = bob.join("school", "Bob").await;
    chat(&mut bob, "before").await;
    expect_chat(&mut ada, "before").await;
    // The room's state is written on its way to Ada; a change still on its way when Redis
    // dies is lost with it. Let this one arrive.
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Redis is gone for longer than a lease: the owner cannot prove it owns the room any more
    // and stops it (its own member is asked to resume) before the lease could lapse.
    let cut = Instant::now();
    redis.stop();
    let stopped = expect_resume_request(&mut ada, Duration::from_secs(8)).await;
    assert!(
        stopped < Duration::from_secs(5),
        "stopped before the lease lapsed: {stopped:?}"
    );
    assert_eq!(metric(&a.metrics(), "treff_cluster_rooms_owned"), 0.0);
    // Meanwhile nobody gets in: a clear "try again".
    let mut cem = a.client().await;
    cem.send_join("school", "Cem", None, None, None).await;
    common::expect_error(&mut cem, ErrorCode::Unavailable).await;

    redis.restart(Duration::from_millis(100));
    eprintln!("Redis away for {:?}", cut.elapsed());
    let (mut ada, ada_again, _) = join_until_welcome(
        a.addr,
        "school",
        "Ada",
        Some(ada_w.resume_token.clone()),
        Duration::from_secs(15),
    )
    .await;
    expect_resume_request(&mut bob, Duration::from_secs(10)).await;
    let (mut bob, bob_again, _) = join_until_welcome(
        b.addr,
        "school",
        "Bob",
        Some(bob_w.resume_token.clone()),
        Duration::from_secs(15),
    )
    .await;
    assert!(ada_again.resumed && bob_again.resumed);
    assert_eq!(
        (ada_again.peer_id, bob_again.peer_id),
        (ada_w.peer_id, bob_w.peer_id)
    );
    chat(&mut bob, "after").await;
    expect_chat(&mut ada, "after").await;
    let texts: Vec<&str> = bob_again.history.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, ["before"]);
}
