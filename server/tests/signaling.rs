//! The signaling protocol against the real server over real WebSockets.

mod common;

use std::time::Duration;

use common::{expect_error, Client, Event, TestServer, PATIENCE};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use treff_shared::{
    ClientMessage, ErrorCode, LeaveReason, MediaState, PeerStatus, ServerMessage,
    SessionDescription, SignalData,
};

fn offer(sdp: &str) -> SignalData {
    SignalData::Description(SessionDescription::new(treff_shared::SdpType::Offer, sdp))
}

#[tokio::test]
async fn join_gets_welcome_and_others_get_peer_joined() {
    let server = TestServer::start(|_| {});
    let mut ada = Client::connect(&server).await;
    let w1 = ada.join("team", "Ada").await;
    assert!(w1.peers.is_empty());
    assert!(!w1.resumed);
    assert_eq!(w1.room.as_str(), "team");
    assert_eq!(w1.name.as_str(), "Ada");
    assert_eq!(w1.ping_interval_ms, 5000);

    let mut bob = Client::connect(&server).await;
    let w2 = bob.join("Team", "Bob").await;
    assert_ne!(w2.peer_id, w1.peer_id);
    assert_eq!(w2.peers.len(), 1);
    let ada_seen_by_bob = &w2.peers[0];
    assert_eq!(ada_seen_by_bob.peer_id, w1.peer_id);
    assert_eq!(ada_seen_by_bob.name.as_str(), "Ada");
    assert!(ada_seen_by_bob.offer, "the later joiner sends the offer");
    assert!(!ada_seen_by_bob.polite);

    match ada.recv().await {
        ServerMessage::PeerJoined { peer } => {
            assert_eq!(peer.peer_id, w2.peer_id);
            assert_eq!(peer.name.as_str(), "Bob");
            assert!(!peer.offer);
            assert!(peer.polite, "the earlier member is polite");
        }
        other => panic!("expected peer-joined, got {other:?}"),
    }

    // Another room is separate.
    let mut cy = Client::connect(&server).await;
    assert!(cy.join("other", "Cy").await.peers.is_empty());
    ada.expect_silence(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn signal_reaches_only_its_addressee_with_the_sender_stamped() {
    let server = TestServer::start(|_| {});
    let mut ada = Client::connect(&server).await;
    let a = ada.join("r", "Ada").await.peer_id;
    let mut bob = Client::connect(&server).await;
    let b = bob.join("r", "Bob").await.peer_id;
    let mut cy = Client::connect(&server).await;
    cy.join("r", "Cy").await;
    ada.recv().await; // peer-joined Bob
    ada.recv().await; // peer-joined Cy
    bob.recv().await; // peer-joined Cy

    // A forged "from" is ignored: the server stamps the real sender.
    bob.send_text(&format!(
        r#"{{"type":"signal","to":"{a}","from":"forged","data":{{"description":{{"type":"offer","sdp":"v=0"}}}}}}"#
    ))
    .await;
    match ada.recv().await {
        ServerMessage::Signal { from, data } => {
            assert_eq!(from, b);
            assert_eq!(data, offer("v=0"));
        }
        other => panic!("expected signal, got {other:?}"),
    }
    cy.expect_silence(Duration::from_millis(200)).await;
    bob.expect_silence(Duration::from_millis(10)).await;
}

#[tokio::test]
async fn chat_fans_out_and_a_late_joiner_gets_the_history() {
    let server = TestServer::start(|_| {});
    let mut ada = Client::connect(&server).await;
    let a = ada.join("r", "Ada").await.peer_id;
    let mut bob = Client::connect(&server).await;
    bob.join("r", "Bob").await;
    ada.recv().await; // peer-joined

    ada.send(&ClientMessage::Chat {
        text: "<b>hello</b>".into(),
    })
    .await;
    for client in [&mut ada, &mut bob] {
        match client.recv().await {
            ServerMessage::Chat(chat) => {
                assert_eq!(chat.from, a);
                assert_eq!(chat.name.as_str(), "Ada");
                assert_eq!(chat.text, "<b>hello</b>");
                assert!(chat.ts > 1_600_000_000_000, "ts is unix ms");
            }
            other => panic!("expected chat, got {other:?}"),
        }
    }
    let mut cy = Client::connect(&server).await;
    let w = cy.join("r", "Cy").await;
    assert_eq!(w.history.len(), 1);
    assert_eq!(w.history[0].text, "<b>hello</b>");
}

#[tokio::test]
async fn media_state_is_announced() {
    let server = TestServer::start(|_| {});
    let mut ada = Client::connect(&server).await;
    let a = ada.join("r", "Ada").await.peer_id;
    let mut bob = Client::connect(&server).await;
    bob.join("r", "Bob").await;
    let media = MediaState {
        audio: false,
        video: true,
        screen: true,
    };
    ada.recv().await;
    ada.send(&ClientMessage::Media(media)).await;
    assert_eq!(bob.recv().await, ServerMessage::Media { peer_id: a, media });
}

#[tokio::test]
async fn leave_and_normal_close_announce_peer_left_at_once() {
    let server = TestServer::start(|_| {});
    let mut ada = Client::connect(&server).await;
    ada.join("r", "Ada").await;
    let mut bob = Client::connect(&server).await;
    let b = bob.join("r", "Bob").await.peer_id;
    let mut cy = Client::connect(&server).await;
    let c = cy.join("r", "Cy").await.peer_id;
    ada.recv().await;
    ada.recv().await;
    bob.recv().await; // peer-joined Cy

    let start = std::time::Instant::now();
    bob.send(&ClientMessage::Leave).await;
    assert_eq!(
        ada.recv().await,
        ServerMessage::PeerLeft {
            peer_id: b,
            reason: LeaveReason::Left
        }
    );
    // The connection stays usable after leave.
    bob.send(&ClientMessage::Ping).await;
    assert_eq!(bob.recv().await, ServerMessage::Pong);

    cy.close_normally().await;
    assert_eq!(
        ada.recv().await,
        ServerMessage::PeerLeft {
            peer_id: c,
            reason: LeaveReason::Left
        }
    );
    assert!(start.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn a_broken_connection_is_held_for_the_grace_period_then_announced() {
    let server = TestServer::start(|c| c.resume_grace = Duration::from_millis(600));
    let mut ada = Client::connect(&server).await;
    ada.join("r", "Ada").await;
    let mut bob = Client::connect(&server).await;
    let b = bob.join("r", "Bob").await.peer_id;
    ada.recv().await;

    let start = std::time::Instant::now();
    bob.break_connection();
    assert_eq!(
        ada.recv().await,
        ServerMessage::PeerStatus {
            peer_id: b.clone(),
            status: PeerStatus::Reconnecting
        }
    );
    assert_eq!(
        ada.recv().await,
        ServerMessage::PeerLeft {
            peer_id: b,
            reason: LeaveReason::Timeout
        }
    );
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(550), "left after {took:?}");
}

#[tokio::test]
async fn a_close_with_an_abnormal_code_keeps_the_place_for_a_resume() {
    let server = TestServer::start(|c| c.resume_grace = Duration::from_secs(5));
    let mut ada = Client::connect(&server).await;
    ada.join("r", "Ada").await;
    let mut bob = Client::connect(&server).await;
    let b = bob.join("r", "Bob").await.peer_id;
    ada.recv().await;
    bob.send_raw(Message::Close(Some(CloseFrame {
        code: CloseCode::Library(4000),
        reason: "reconnecting".into(),
    })))
    .await;
    assert_eq!(
        ada.recv().await,
        ServerMessage::PeerStatus {
            peer_id: b,
            status: PeerStatus::Reconnecting
        }
    );
}

#[tokio::test]
async fn a_silent_connection_is_declared_lost_by_the_heartbeat() {
    let server = TestServer::start(|c| {
        c.heartbeat_interval = Duration::from_millis(100);
        c.client_timeout = Duration::from_millis(300);
        c.resume_grace = Duration::from_secs(30);
    });
    let mut ada = Client::connect(&server).await;
    ada.join("r", "Ada").await;
    let mut bob = Client::connect(&server).await;
    let b = bob.join("r", "Bob").await.peer_id;
    ada.recv().await;
    // Ada keeps reading (and so answers pings); Bob stops reading, so he sends no pongs.
    let start = std::time::Instant::now();
    let mut seen = None;
    while start.elapsed() < PATIENCE {
        if let Some(Event::Frame(msg)) = ada.next_event(Duration::from_millis(100)).await {
            seen = Some(msg);
            break;
        }
    }
    assert_eq!(
        seen,
        Some(ServerMessage::PeerStatus {
            peer_id: b,
            status: PeerStatus::Reconnecting
        })
    );
    let took = start.elapsed();
    assert!(took <= Duration::from_millis(900), "lost after {took:?}");
    drop(bob);
}

#[tokio::test]
async fn resume_within_grace_keeps_the_peer_id_and_sends_no_peer_left() {
    let server = TestServer::start(|c| c.resume_grace = Duration::from_secs(2));
    let mut ada = Client::connect(&server).await;
    let a = ada.join("r", "Ada").await;
    let mut bob = Client::connect(&server).await;
    let b = bob.join("r", "Bob").await.peer_id;
    ada.recv().await;

    ada.break_connection();
    assert_eq!(
        bob.recv().await,
        ServerMessage::PeerStatus {
            peer_id: a.peer_id.clone(),
            status: PeerStatus::Reconnecting
        }
    );
    // A signal sent while Ada is away is kept for her.
    bob.send(&ClientMessage::Signal {
        to: a.peer_id.clone(),
        data: offer("kept"),
    })
    .await;

    let mut ada = Client::connect(&server).await;
    let w = ada
        .join_with("r", "Ada", Some(a.resume_token.clone()))
        .await;
    assert!(w.resumed);
    assert_eq!(w.peer_id, a.peer_id);
    assert_eq!(w.peers[0].peer_id, b);
    assert_eq!(
        ada.recv().await,
        ServerMessage::Signal {
            from: b.clone(),
            data: offer("kept")
        }
    );
    assert_eq!(
        bob.recv().await,
        ServerMessage::PeerStatus {
            peer_id: a.peer_id.clone(),
            status: PeerStatus::Online
        }
    );
    // Well past the grace period nobody is told Ada left.
    bob.expect_silence(Duration::from_millis(2500)).await;
}

#[tokio::test]
async fn a_newer_connection_with_the_token_replaces_the_old_one() {
    let server = TestServer::start(|_| {});
    let mut old = Client::connect(&server).await;
    let a = old.join("r", "Ada").await;
    let mut new = Client::connect(&server).await;
    let w = new.join_with("r", "Ada", Some(a.resume_token)).await;
    assert_eq!(w.peer_id, a.peer_id);
    old.expect_close(treff_shared::close_code::REPLACED).await;
}

/// Each bad input gets its documented error, and the connection keeps working.
#[tokio::test]
async fn bad_input_gets_an_error_frame_and_the_connection_stays_usable() {
    let server = TestServer::start(|c| c.max_frame_bytes = 4096);
    let mut c = Client::connect(&server).await;

    c.send_text("{not json").await;
    expect_error(&mut c, ErrorCode::BadJson).await;
    c.send_text(r#"{"type":"dance"}"#).await;
    expect_error(&mut c, ErrorCode::UnknownType).await;
    c.send_text(r#"{"type":"chat","text":"too early"}"#).await;
    expect_error(&mut c, ErrorCode::NotJoined).await;
    c.send_text(r#"{"type":"join","room":"a/b","name":"Ada"}"#)
        .await;
    expect_error(&mut c, ErrorCode::InvalidRoom).await;
    c.send_text(r#"{"type":"join","room":"ok","name":""}"#)
        .await;
    expect_error(&mut c, ErrorCode::InvalidName).await;
    c.send_text(&format!(r#"{{"type":"dance","x":"{}"}}"#, "x".repeat(5000)))
        .await;
    expect_error(&mut c, ErrorCode::FrameTooLarge).await;
    c.send_raw(Message::binary(vec![1, 2, 3])).await;
    expect_error(&mut c, ErrorCode::BinaryFrame).await;

    // Still usable: join works.
    let w = c.join("ok", "Ada").await;
    c.send_text(r#"{"type":"join","room":"ok","name":"Ada"}"#)
        .await;
    expect_error(&mut c, ErrorCode::AlreadyJoined).await;
    c.send_text(r#"{"type":"signal","to":"nobody","data":{"candidate":null}}"#)
        .await;
    expect_error(&mut c, ErrorCode::UnknownPeer).await;
    c.send(&ClientMessage::Signal {
        to: w.peer_id.clone(),
        data: SignalData::Candidate(None),
    })
    .await;
    expect_error(&mut c, ErrorCode::SignalToSelf).await;
    c.send_text(r#"{"type":"signal","to":"x"}"#).await;
    expect_error(&mut c, ErrorCode::InvalidFrame).await;
    c.send_text(r#"{"type":"chat","text":"   "}"#).await;
    expect_error(&mut c, ErrorCode::InvalidChat).await;
    c.send(&ClientMessage::Chat {
        text: "fine".into(),
    })
    .await;
    assert!(matches!(c.recv().await, ServerMessage::Chat(chat) if chat.text == "fine"));
}

#[tokio::test]
async fn repeated_abuse_closes_the_connection() {
    let server = TestServer::start(|_| {});
    let mut c = Client::connect(&server).await;
    for _ in 0..=treff_server::session::ERROR_LIMIT {
        c.send_text("garbage").await;
    }
    c.expect_close(treff_shared::close_code::TOO_MANY_ERRORS)
        .await;
}

#[tokio::test]
async fn join_must_come_within_the_deadline() {
    let server = TestServer::start(|c| c.join_timeout = Duration::from_millis(200));
    let mut c = Client::connect(&server).await;
    c.send(&ClientMessage::Ping).await;
    assert_eq!(c.recv().await, ServerMessage::Pong);
    expect_error(&mut c, ErrorCode::JoinTimeout).await;
    c.expect_close(treff_shared::close_code::JOIN_TIMEOUT).await;
}

#[tokio::test]
async fn a_full_room_refuses_with_room_full() {
    let server = TestServer::start(|c| c.room_capacity = 2);
    let mut a = Client::connect(&server).await;
    a.join("r", "A").await;
    let mut b = Client::connect(&server).await;
    b.join("r", "B").await;
    let mut c = Client::connect(&server).await;
    c.send_text(r#"{"type":"join","room":"r","name":"C"}"#)
        .await;
    expect_error(&mut c, ErrorCode::RoomFull).await;
    // The refused connection can join another room.
    assert!(c.join("s", "C").await.peers.is_empty());
}

#[tokio::test]
async fn an_emptied_room_is_recreated_fresh() {
    let server = TestServer::start(|_| {});
    for round in 0..20 {
        let mut a = Client::connect(&server).await;
        let w = a.join("again", "A").await;
        assert!(
            w.peers.is_empty(),
            "round {round}: the old room was stopped"
        );
        assert!(w.history.is_empty());
        a.send(&ClientMessage::Chat { text: "x".into() }).await;
        a.recv().await;
        a.close_normally().await;
    }
}

/// Regression: a join that reached a room just as its last member left got a mailbox error
/// from the stopping room; every such join must still be welcomed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_joins_and_leaves_on_one_room_are_all_welcomed() {
    const CLIENTS: usize = 8;
    const ROUNDS: usize = 40;
    let server = TestServer::start(|_| {});
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let mut client = Client::connect(&server).await;
        tasks.push(tokio::spawn(async move {
            let mut welcomed = 0;
            for round in 0..ROUNDS {
                client
                    .send_join("churn", &format!("P{i}"), None, None, None)
                    .await;
                // Frames about others that were sent before the last leave may still arrive.
                loop {
                    match client.recv().await {
                        ServerMessage::Welcome(_) => break,
                        ServerMessage::Error { code, message } => {
                            panic!("client {i}, round {round}: join refused: {code}: {message}")
                        }
                        _ => continue,
                    }
                }
                welcomed += 1;
                client.send(&ClientMessage::Leave).await;
            }
            welcomed
        }));
    }
    let mut welcomed = 0;
    for task in tasks {
        welcomed += task.await.expect("client task");
    }
    assert_eq!(welcomed, CLIENTS * ROUNDS);
}

#[tokio::test]
async fn welcome_carries_ice_servers_with_per_member_turn_credentials() {
    let server = TestServer::start(|c| {
        c.ice_servers = vec!["stun:127.0.0.1:3478".into()];
        c.turn_urls = vec!["turn:127.0.0.1:3478?transport=udp".into()];
        c.turn_secret = Some("north".into());
        c.turn_ttl = Duration::from_secs(600);
    });
    let mut ada = Client::connect(&server).await;
    let w = ada.join("r", "Ada").await;
    assert_eq!(w.ice_servers[0].urls, vec!["stun:127.0.0.1:3478"]);
    assert_eq!(w.ice_servers[0].credential, None);
    let turn = &w.ice_servers[1];
    let username = turn.username.as_deref().unwrap();
    let (expiry, peer) = username.split_once(':').unwrap();
    assert_eq!(peer, w.peer_id.as_str());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let expiry: u64 = expiry.parse().unwrap();
    assert!(
        (now + 590..=now + 610).contains(&expiry),
        "expires in the TTL"
    );
    assert_eq!(
        turn.credential.as_deref(),
        Some(treff_server::ice::turn_password("north", username).as_str())
    );
}

/// What SIGTERM does for the binary, through the shutdown future `run` takes.
#[tokio::test]
async fn shutting_down_tells_every_member_to_reconnect_and_stops() {
    let mut server = TestServer::start(|_| {});
    let mut ada = Client::connect(&server).await;
    ada.join("r", "Ada").await;
    let mut bob = Client::connect(&server).await;
    bob.join("r", "Bob").await;

    server.shut_down();
    ada.expect_close(treff_shared::close_code::SERVER_RESTART)
        .await;
    bob.expect_close(treff_shared::close_code::SERVER_RESTART)
        .await;
    assert!(
        server.stopped_within(Duration::from_secs(5)).await,
        "the server stops within 5 s"
    );
}

#[tokio::test]
async fn raised_hands_reach_everyone_in_order_and_a_late_joiner_and_only_moderators_lower_others() {
    let server = TestServer::start(|_| {});
    let mut ada = Client::connect(&server).await;
    ada.join("class", "Ada").await;
    let mut bob = Client::connect(&server).await;
    let bob_id = bob.join("class", "Bob").await.peer_id;
    let mut cem = Client::connect(&server).await;
    let cem_id = cem.join("class", "Cem").await.peer_id;
    // Ada learns of both joins; Bob of Cem's.
    ada.recv().await;
    ada.recv().await;
    bob.recv().await;

    let hands = |raised: Vec<_>| ServerMessage::Hands { raised };
    bob.send(&ClientMessage::Hand { raised: true }).await;
    for client in [&mut ada, &mut bob, &mut cem] {
        assert_eq!(client.recv().await, hands(vec![bob_id.clone()]));
    }
    cem.send(&ClientMessage::Hand { raised: true }).await;
    for client in [&mut ada, &mut bob, &mut cem] {
        assert_eq!(
            client.recv().await,
            hands(vec![bob_id.clone(), cem_id.clone()])
        );
    }

    let mut dai = Client::connect(&server).await;
    assert_eq!(
        dai.join("class", "Dai").await.hands,
        vec![bob_id.clone(), cem_id.clone()]
    );
    // The fourth member moves the room to the media server (`mode` first), then arrives.
    for client in [&mut ada, &mut bob, &mut cem] {
        while !matches!(client.recv().await, ServerMessage::PeerJoined { .. }) {}
    }

    // A participant may not lower someone else's hand; the moderator (Ada, the creator) may.
    bob.send(&ClientMessage::LowerHand {
        peer_id: cem_id.clone(),
    })
    .await;
    expect_error(&mut bob, ErrorCode::Forbidden).await;
    ada.send(&ClientMessage::LowerHand {
        peer_id: bob_id.clone(),
    })
    .await;
    for client in [&mut ada, &mut bob, &mut cem, &mut dai] {
        assert_eq!(client.recv().await, hands(vec![cem_id.clone()]));
    }
}

#[tokio::test]
async fn a_flood_of_reactions_is_cut_to_the_burst_and_the_sender_told() {
    let server = TestServer::start(|_| {});
    let mut ada = Client::connect(&server).await;
    ada.join("party", "Ada").await;
    let mut bob = Client::connect(&server).await;
    let bob_id = bob.join("party", "Bob").await.peer_id;
    ada.recv().await;

    for _ in 0..12 {
        bob.send(&ClientMessage::React {
            reaction: treff_shared::Reaction::Party,
        })
        .await;
    }
    let mut reactions = 0;
    while let Some(Event::Frame(msg)) = ada.next_event(Duration::from_millis(500)).await {
        match msg {
            ServerMessage::Reaction { peer_id, reaction } => {
                assert_eq!(
                    (peer_id, reaction),
                    (bob_id.clone(), treff_shared::Reaction::Party)
                );
                reactions += 1;
            }
            other => panic!("Ada got {other:?}"),
        }
    }
    assert_eq!(
        reactions, 4,
        "a burst of 4 reaches the room, the rest does not"
    );
    let (mut echoed, mut refused) = (0, 0);
    while let Some(Event::Frame(msg)) = bob.next_event(Duration::from_millis(300)).await {
        match msg {
            ServerMessage::Reaction { .. } => echoed += 1,
            ServerMessage::Error {
                code: ErrorCode::RateLimited,
                message,
            } => {
                assert!(message.contains("reactions"), "{message}");
                refused += 1;
            }
            other => panic!("Bob got {other:?}"),
        }
    }
    assert_eq!((echoed, refused), (4, 8));
    // An unknown reaction is refused by type, with a sentence.
    bob.send_text(r#"{"type":"react","reaction":"<script>"}"#)
        .await;
    let message = expect_error(&mut bob, ErrorCode::InvalidFrame).await;
    assert!(!message.is_empty());
}
