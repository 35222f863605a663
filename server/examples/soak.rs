//! Soak test: thousands of sessions against the real `treff` binary on loopback.
//!
//! Rooms of four well-behaved clients join, chat, signal each other and leave (by `leave`, by a
//! normal close, or abruptly by dropping the connection), while misbehaving clients send
//! garbage, oversized frames and floods. At the end it checks that every well-behaved client
//! got every message addressed to it, that no room and no session is left behind, and reports
//! the server's memory before and after. Run it with `scripts/soak.sh`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{Barrier, Semaphore};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use treff_shared::{
    ClientMessage, DisplayName, MediaState, PeerId, RoomName, ServerMessage, SignalData,
};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const MEMBERS: usize = 4;
const CHATS_EACH: usize = 5;
const PATIENCE: Duration = Duration::from_secs(20);

#[derive(Default)]
struct Counters {
    sessions: AtomicU64,
    frames_sent: AtomicU64,
    frames_received: AtomicU64,
    errors_received: AtomicU64,
    missing: AtomicU64,
    failed_rooms: AtomicU64,
}

struct Args {
    server: String,
    rooms: usize,
    concurrency: usize,
    abusers: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        server: "target/release/treff".into(),
        rooms: 750,
        concurrency: 100,
        abusers: 300,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let value = pair.get(1).cloned().unwrap_or_default();
        match pair[0].as_str() {
            "--server" => args.server = value,
            "--rooms" => args.rooms = value.parse().expect("--rooms N"),
            "--concurrency" => args.concurrency = value.parse().expect("--concurrency N"),
            "--abusers" => args.abusers = value.parse().expect("--abusers N"),
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn start_server(binary: &str) -> (Child, SocketAddr, Vec<String>) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // Every soak client comes from 127.0.0.1, so the per-address session limit is raised; the
    // resume grace is shortened so abruptly dropped members are gone within the run.
    let raised = vec![
        "--max-sessions-per-ip".to_string(),
        "100000".into(),
        "--max-rooms".into(),
        "100000".into(),
        "--resume-grace".into(),
        "2s".into(),
    ];
    let child = Command::new(binary)
        .args([
            "--listen",
            &addr.to_string(),
            "--static-dir",
            "/nonexistent",
            "--log",
            "warn",
        ])
        .args(&raised)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
    (child, addr, raised)
}

async fn healthz(addr: SocketAddr) -> Option<serde_json::Value> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    stream
        .write_all(
            format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .ok()?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.ok()?;
    serde_json::from_str(raw.split("\r\n\r\n").nth(1)?).ok()
}

async fn connect(addr: SocketAddr, counters: &Counters) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .expect("websocket connects");
    counters.sessions.fetch_add(1, Ordering::Relaxed);
    ws
}

async fn send(ws: &mut Ws, msg: &ClientMessage, counters: &Counters) {
    counters.frames_sent.fetch_add(1, Ordering::Relaxed);
    let _ = ws.send(Message::text(msg.encode())).await;
}

async fn recv(ws: &mut Ws, counters: &Counters) -> Option<ServerMessage> {
    loop {
        let item = tokio::time::timeout(PATIENCE, ws.next()).await.ok()??;
        match item.ok()? {
            Message::Text(text) => {
                counters.frames_received.fetch_add(1, Ordering::Relaxed);
                let msg = ServerMessage::decode(&text).ok()?;
                if matches!(msg, ServerMessage::Error { .. }) {
                    counters.errors_received.fetch_add(1, Ordering::Relaxed);
                }
                return Some(msg);
            }
            Message::Close(_) => return None,
            _ => continue,
        }
    }
}

/// One well-behaved member. Returns how many expected messages it did not get.
async fn member(
    addr: SocketAddr,
    room: usize,
    index: usize,
    all_joined: Arc<Barrier>,
    all_done: Arc<Barrier>,
    counters: Arc<Counters>,
) -> u64 {
    let expected = (MEMBERS * CHATS_EACH + MEMBERS - 1) as u64;
    let mut ws = connect(addr, &counters).await;
    let join = ClientMessage::Join {
        room: RoomName::new(&format!("soak-{room}")).unwrap(),
        name: DisplayName::new(&format!("member {index}")).unwrap(),
        resume_token: None,
        media: MediaState::default(),
        password: None,
        token: None,
    };
    send(&mut ws, &join, &counters).await;
    let (me, mut peers) = match recv(&mut ws, &counters).await {
        Some(ServerMessage::Welcome(w)) => (
            w.peer_id,
            w.peers
                .into_iter()
                .map(|p| p.peer_id)
                .collect::<Vec<PeerId>>(),
        ),
        other => {
            eprintln!("soak: room {room}: expected welcome, got {other:?}");
            all_joined.wait().await;
            all_done.wait().await;
            return expected;
        }
    };
    // Chats sent before everyone joined would reach late joiners as history, not live: start
    // only when all four are in.
    all_joined.wait().await;
    let mut chats: BTreeMap<PeerId, usize> = BTreeMap::new();
    let mut signals: BTreeMap<PeerId, usize> = BTreeMap::new();
    let handle = |msg: ServerMessage,
                  peers: &mut Vec<PeerId>,
                  chats: &mut BTreeMap<PeerId, usize>,
                  signals: &mut BTreeMap<PeerId, usize>| match msg {
        ServerMessage::PeerJoined { peer } => peers.push(peer.peer_id),
        ServerMessage::Chat(chat) => *chats.entry(chat.from).or_default() += 1,
        ServerMessage::Signal { from, .. } => *signals.entry(from).or_default() += 1,
        _ => {}
    };
    let deadline = Instant::now() + PATIENCE;
    while peers.len() < MEMBERS - 1 && Instant::now() < deadline {
        match recv(&mut ws, &counters).await {
            Some(msg) => handle(msg, &mut peers, &mut chats, &mut signals),
            None => break,
        }
    }
    for i in 0..CHATS_EACH {
        let text = format!("{me} says {i}");
        send(&mut ws, &ClientMessage::Chat { text }, &counters).await;
    }
    for peer in &peers {
        let signal = ClientMessage::Signal {
            to: peer.clone(),
            data: SignalData::Candidate(None),
        };
        send(&mut ws, &signal, &counters).await;
    }
    let total = |chats: &BTreeMap<PeerId, usize>, signals: &BTreeMap<PeerId, usize>| {
        (chats.values().sum::<usize>() + signals.values().sum::<usize>()) as u64
    };
    while total(&chats, &signals) < expected && Instant::now() < deadline {
        match recv(&mut ws, &counters).await {
            Some(msg) => handle(msg, &mut peers, &mut chats, &mut signals),
            None => break,
        }
    }
    // Exactly CHATS_EACH chats from every member and one signal from every other member.
    let mut missing = 0;
    for peer in peers.iter().chain(std::iter::once(&me)) {
        missing += CHATS_EACH.saturating_sub(chats.get(peer).copied().unwrap_or(0));
        if peer != &me {
            missing += 1usize.saturating_sub(signals.get(peer).copied().unwrap_or(0));
        }
    }
    missing += (MEMBERS - 1).saturating_sub(peers.len()) * (CHATS_EACH + 1);
    // Nobody leaves before everyone got everything.
    all_done.wait().await;
    match (room + index) % 4 {
        0 | 1 => {
            send(&mut ws, &ClientMessage::Leave, &counters).await;
            let _ = ws.close(None).await;
        }
        2 => {
            let close = CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            };
            let _ = ws.send(Message::Close(Some(close))).await;
            while let Ok(Some(Ok(_))) =
                tokio::time::timeout(Duration::from_secs(2), ws.next()).await
            {}
        }
        _ => drop(ws), // abrupt: the server holds the member for the grace period
    }
    missing as u64
}

/// Four members joining in order, talking, and leaving.
async fn room_run(addr: SocketAddr, room: usize, counters: Arc<Counters>) {
    let joined = Arc::new(Barrier::new(MEMBERS));
    let done = Arc::new(Barrier::new(MEMBERS));
    let mut handles = Vec::new();
    for index in 0..MEMBERS {
        let (joined, done, counters) = (joined.clone(), done.clone(), counters.clone());
        handles.push(tokio::spawn(member(
            addr, room, index, joined, done, counters,
        )));
    }
    let mut missing = 0;
    for handle in handles {
        missing += handle.await.unwrap_or(1);
    }
    if missing > 0 {
        counters.failed_rooms.fetch_add(1, Ordering::Relaxed);
    }
    counters.missing.fetch_add(missing, Ordering::Relaxed);
}

async fn abuser(addr: SocketAddr, n: usize, counters: Arc<Counters>) {
    let mut ws = connect(addr, &counters).await;
    let payloads: Vec<Message> = match n % 4 {
        0 => (0..10)
            .map(|i| Message::text(format!("{{garbage {i}")))
            .collect(),
        1 => vec![Message::text(format!(
            "{{\"type\":\"chat\",\"text\":\"{}\"}}",
            "x".repeat(70_000)
        ))],
        2 => vec![Message::binary(vec![0u8; 100])],
        _ => (0..40)
            .map(|_| Message::text("{\"type\":\"dance\"}"))
            .collect(),
    };
    for p in payloads {
        counters.frames_sent.fetch_add(1, Ordering::Relaxed);
        if ws.send(p).await.is_err() {
            break;
        }
    }
    // Read what comes back for a moment, then vanish without a close.
    let _ = tokio::time::timeout(Duration::from_millis(300), async {
        while let Some(Ok(Message::Text(_))) = ws.next().await {
            counters.errors_received.fetch_add(1, Ordering::Relaxed);
        }
    })
    .await;
}

#[tokio::main]
async fn main() {
    let args = parse_args();
    let (mut child, addr, raised) = start_server(&args.server);
    let pid = child.id();
    let started = Instant::now();
    while healthz(addr).await.is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rss_start = rss_kib(pid);
    // A first, unmeasured round of the same size lets the allocator grow its arenas to what
    // this load needs; memory that is not back after the measured round is then a leak.
    let warm_up = Arc::new(Counters::default());
    round(addr, &args, 1_000_000, warm_up).await;
    settle(addr).await;
    let rss_before = rss_kib(pid);

    let counters = Arc::new(Counters::default());
    let run_started = Instant::now();
    round(addr, &args, 0, counters.clone()).await;
    let run_time = run_started.elapsed();
    let peak = rss_kib(pid);
    let health = settle(addr).await;
    let rss_after = rss_kib(pid);
    let _ = child.kill();
    let _ = child.wait();

    let c = &counters;
    let sessions = c.sessions.load(Ordering::Relaxed);
    let missing = c.missing.load(Ordering::Relaxed);
    let report = serde_json::json!({
        "server_flags_raised": raised,
        "rooms": args.rooms,
        "members_per_room": MEMBERS,
        "abusive_sessions": args.abusers,
        "sessions": sessions,
        "frames_sent": c.frames_sent.load(Ordering::Relaxed),
        "frames_received": c.frames_received.load(Ordering::Relaxed),
        "error_frames_received": c.errors_received.load(Ordering::Relaxed),
        "messages_missing": missing,
        "rooms_with_missing_messages": c.failed_rooms.load(Ordering::Relaxed),
        "run_seconds": run_time.as_secs_f64(),
        "rss_kib_at_start": rss_start,
        "rss_kib_before": rss_before,
        "rss_kib_peak": peak,
        "rss_kib_after": rss_after,
        "rooms_left": health["rooms"],
        "sessions_left": health["sessions"],
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
    let memory_back = rss_after <= rss_before + rss_before / 5 + 2048;
    let ok = missing == 0 && health["rooms"] == 0 && health["sessions"] == 0 && memory_back;
    println!(
        "soak: {} sessions, {} messages missing, rooms left {}, memory {} KiB before, {} KiB at peak, {} KiB after: {}",
        sessions,
        missing,
        health["rooms"],
        rss_before,
        peak,
        rss_after,
        if ok { "PASS" } else { "FAIL" }
    );
    std::process::exit(if ok { 0 } else { 1 });
}

/// Waits until the server holds no room and no session (abruptly dropped members are held for
/// the 2 s grace), then a moment more; returns the last /healthz.
async fn settle(addr: SocketAddr) -> serde_json::Value {
    let started = Instant::now();
    let mut health = serde_json::Value::Null;
    while started.elapsed() < Duration::from_secs(15) {
        health = healthz(addr).await.unwrap_or_default();
        if health["rooms"] == 0 && health["sessions"] == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    health
}

/// One round: `args.rooms` rooms (numbered from `first_room`) and the abusers among them.
async fn round(addr: SocketAddr, args: &Args, first_room: usize, counters: Arc<Counters>) {
    let gate = Arc::new(Semaphore::new(args.concurrency));
    let mut tasks = Vec::new();
    for room in first_room..first_room + args.rooms {
        let permit = gate.clone().acquire_owned().await.unwrap();
        let room_counters = counters.clone();
        tasks.push(tokio::spawn(async move {
            room_run(addr, room, room_counters).await;
            drop(permit);
        }));
        // Abusers are spread over the run, between the well-behaved rooms.
        let i = room - first_room;
        if i * args.abusers / args.rooms.max(1) != (i + 1) * args.abusers / args.rooms.max(1) {
            tasks.push(tokio::spawn(abuser(addr, room, counters.clone())));
        }
    }
    for task in tasks {
        let _ = task.await;
    }
}
