//! Who may join and who may do what: room passwords, signed tokens, roles and every
//! moderator permission, allowed and refused, against the real server.

mod common;

use std::time::Duration;

use common::{expect_error, Client, TestServer};
use treff_server::auth::mint_token;
use treff_shared::{
    close_code, ClientMessage, ErrorCode, LeaveReason, MediaState, Role, ServerMessage,
    SessionDescription, SignalData,
};

#[tokio::test]
async fn the_creator_sets_a_password_that_later_joiners_need() {
    let server = TestServer::start(|_| {});
    let mut ada = Client::connect(&server).await;
    ada.send_join("secret", "Ada", None, Some("north star"), None)
        .await;
    let w = ada.expect_welcome().await;
    assert_eq!(w.role, Role::Moderator);

    let mut bob = Client::connect(&server).await;
    bob.send_join("secret", "Bob", None, None, None).await;
    expect_error(&mut bob, ErrorCode::PasswordRequired).await;
    bob.send_join("secret", "Bob", None, Some("south star"), None)
        .await;
    expect_error(&mut bob, ErrorCode::WrongPassword).await;
    bob.send_join("secret", "Bob", None, Some("north star"), None)
        .await;
    let w = bob.expect_welcome().await;
    assert_eq!(w.role, Role::Participant);
    assert_eq!(w.peers[0].role, Role::Moderator);

    // A resume needs no password: the token proves membership.
    bob.break_connection();
    let mut bob = Client::connect(&server).await;
    let again = bob.join_with("secret", "Bob", Some(w.resume_token)).await;
    assert!(again.resumed);
}

#[tokio::test]
async fn wrong_password_guesses_are_limited_per_address() {
    let server = TestServer::start(|c| c.password_guesses = 1.0);
    let mut ada = Client::connect(&server).await;
    ada.send_join("vault", "Ada", None, Some("right"), None)
        .await;
    ada.expect_welcome().await;
    let mut eve = Client::connect(&server).await;
    for _ in 0..5 {
        eve.send_join("vault", "Eve", None, Some("wrong"), None)
            .await;
        expect_error(&mut eve, ErrorCode::WrongPassword).await;
    }
    eve.send_join("vault", "Eve", None, Some("right"), None)
        .await;
    let message = expect_error(&mut eve, ErrorCode::RateLimited).await;
    assert!(message.contains("wrong passwords"), "{message}");
}

#[tokio::test]
async fn tokens_are_required_checked_and_grant_name_and_role() {
    let secret = "integration-secret";
    let server = TestServer::start(|c| c.token_secret = Some(secret.into()));
    let mut c = Client::connect(&server).await;
    c.join_frame_without_token().await;
    expect_error(&mut c, ErrorCode::TokenRequired).await;

    let forged = mint_token(
        "not-the-secret",
        "team",
        "Eve",
        Role::Moderator,
        Duration::from_secs(60),
    );
    c.send_join("team", "Eve", None, None, Some(&forged)).await;
    expect_error(&mut c, ErrorCode::InvalidToken).await;

    let expired = mint_token(secret, "team", "Ada", Role::Moderator, Duration::ZERO);
    tokio::time::sleep(Duration::from_millis(10)).await;
    // Expired by less than the leeway still works...
    c.send_join("team", "Whatever", None, None, Some(&expired))
        .await;
    let w = c.expect_welcome().await;
    assert_eq!(w.role, Role::Moderator);

    let other_room = mint_token(
        secret,
        "elsewhere",
        "Bob",
        Role::Participant,
        Duration::from_secs(60),
    );
    let mut bob = Client::connect(&server).await;
    bob.send_join("team", "Bob", None, None, Some(&other_room))
        .await;
    expect_error(&mut bob, ErrorCode::InvalidToken).await;

    // The token's name wins over the frame's, and its role is granted.
    let viewer = mint_token(
        secret,
        "team",
        "Vera",
        Role::Viewer,
        Duration::from_secs(60),
    );
    bob.send_join("team", "Mallory", None, None, Some(&viewer))
        .await;
    let w = bob.expect_welcome().await;
    assert_eq!(w.role, Role::Viewer);
    assert_eq!(
        w.name.as_str(),
        "Vera",
        "the welcome tells the name the others see"
    );
    match c.recv().await {
        ServerMessage::PeerJoined { peer } => {
            assert_eq!(peer.name.as_str(), "Vera");
            assert_eq!(peer.role, Role::Viewer);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn a_token_in_the_url_is_accepted() {
    let secret = "url-secret";
    let server = TestServer::start(|c| c.token_secret = Some(secret.into()));
    let token = mint_token(
        secret,
        "*",
        "Ada",
        Role::Participant,
        Duration::from_secs(60),
    );
    let url = format!("{}?token={token}", server.ws_url());
    let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut c = Client::from_stream(ws);
    let w = c.join("any-room", "ignored").await;
    assert_eq!(w.role, Role::Participant);
}

#[tokio::test]
async fn long_expired_tokens_are_refused() {
    let secret = "s";
    let server = TestServer::start(|c| {
        c.token_secret = Some(secret.into());
        c.token_leeway = Duration::from_secs(0);
    });
    let token = mint_token(secret, "team", "Ada", Role::Participant, Duration::ZERO);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut c = Client::connect(&server).await;
    c.send_join("team", "Ada", None, None, Some(&token)).await;
    let message = expect_error(&mut c, ErrorCode::InvalidToken).await;
    assert!(message.to_lowercase().contains("expired"), "{message}");
}

/// Three members: Ada (moderator, creator), Bob and Cy (participants).
async fn room_of_three(server: &TestServer) -> (Client, Client, Client, [treff_shared::PeerId; 3]) {
    let mut ada = Client::connect(server).await;
    let a = ada.join("mod", "Ada").await;
    assert_eq!(a.role, Role::Moderator);
    let mut bob = Client::connect(server).await;
    let b = bob.join("mod", "Bob").await.peer_id;
    let mut cy = Client::connect(server).await;
    let c = cy.join("mod", "Cy").await.peer_id;
    ada.recv().await;
    ada.recv().await;
    bob.recv().await;
    (ada, bob, cy, [a.peer_id, b, c])
}

#[tokio::test]
async fn participants_may_not_moderate() {
    let server = TestServer::start(|_| {});
    let (_ada, mut bob, _cy, [a, _, c]) = room_of_three(&server).await;
    for frame in [
        ClientMessage::Lock { locked: true },
        ClientMessage::Kick { peer_id: a.clone() },
        ClientMessage::RequestMute { peer_id: c.clone() },
        ClientMessage::EndRoom,
    ] {
        bob.send(&frame).await;
        expect_error(&mut bob, ErrorCode::Forbidden).await;
    }
}

#[tokio::test]
async fn a_moderator_locks_and_unlocks_the_room() {
    let server = TestServer::start(|_| {});
    let (mut ada, mut bob, _cy, _) = room_of_three(&server).await;
    ada.send(&ClientMessage::Lock { locked: true }).await;
    assert_eq!(
        ada.recv().await,
        ServerMessage::RoomState {
            locked: true,
            waiting_room: false
        }
    );
    assert_eq!(
        bob.recv().await,
        ServerMessage::RoomState {
            locked: true,
            waiting_room: false
        }
    );
    let mut dan = Client::connect(&server).await;
    dan.send_join("mod", "Dan", None, None, None).await;
    expect_error(&mut dan, ErrorCode::RoomLocked).await;
    ada.send(&ClientMessage::Lock { locked: false }).await;
    assert_eq!(
        ada.recv().await,
        ServerMessage::RoomState {
            locked: false,
            waiting_room: false
        }
    );
    let w = dan.join("mod", "Dan").await;
    assert!(!w.locked);
}

#[tokio::test]
async fn a_moderator_removes_a_member() {
    let server = TestServer::start(|_| {});
    let (mut ada, mut bob, mut cy, [_, b, _]) = room_of_three(&server).await;
    ada.send(&ClientMessage::Kick { peer_id: b.clone() }).await;
    assert_eq!(
        bob.recv().await,
        ServerMessage::Removed {
            reason: LeaveReason::Kicked
        }
    );
    bob.expect_close(close_code::KICKED).await;
    for client in [&mut ada, &mut cy] {
        assert_eq!(
            client.recv().await,
            ServerMessage::PeerLeft {
                peer_id: b.clone(),
                reason: LeaveReason::Kicked
            }
        );
    }
}

#[tokio::test]
async fn a_moderator_asks_a_member_to_mute() {
    let server = TestServer::start(|_| {});
    let (mut ada, mut bob, mut cy, [a, b, _]) = room_of_three(&server).await;
    ada.send(&ClientMessage::RequestMute { peer_id: b }).await;
    assert_eq!(bob.recv().await, ServerMessage::MuteRequested { by: a });
    cy.expect_silence(Duration::from_millis(200)).await;
    ada.expect_silence(Duration::from_millis(10)).await;
}

#[tokio::test]
async fn a_moderator_ends_the_room_for_everyone() {
    let server = TestServer::start(|_| {});
    let (mut ada, mut bob, mut cy, _) = room_of_three(&server).await;
    ada.send(&ClientMessage::Chat { text: "bye".into() }).await;
    ada.send(&ClientMessage::EndRoom).await;
    for client in [&mut ada, &mut bob, &mut cy] {
        loop {
            match client.recv().await {
                ServerMessage::Chat(_) => continue,
                msg => {
                    assert_eq!(
                        msg,
                        ServerMessage::Removed {
                            reason: LeaveReason::RoomEnded
                        }
                    );
                    break;
                }
            }
        }
        client.expect_close(close_code::ROOM_ENDED).await;
    }
    // The room is gone: a new join creates it afresh, without the old history.
    let mut dan = Client::connect(&server).await;
    let w = dan.join("mod", "Dan").await;
    assert!(w.peers.is_empty() && w.history.is_empty());
    assert_eq!(w.role, Role::Moderator);
}

#[tokio::test]
async fn when_the_moderator_leaves_the_next_member_takes_over() {
    let server = TestServer::start(|_| {});
    let (ada, mut bob, mut cy, [a, b, _]) = room_of_three(&server).await;
    ada.close_normally().await;
    for client in [&mut bob, &mut cy] {
        assert!(
            matches!(client.recv().await, ServerMessage::PeerLeft { peer_id, .. } if peer_id == a)
        );
        assert_eq!(
            client.recv().await,
            ServerMessage::Role {
                peer_id: b.clone(),
                role: Role::Moderator
            }
        );
    }
    bob.send(&ClientMessage::Lock { locked: true }).await;
    assert_eq!(
        bob.recv().await,
        ServerMessage::RoomState {
            locked: true,
            waiting_room: false
        }
    );
}

#[tokio::test]
async fn viewers_receive_only() {
    let secret = "v";
    let server = TestServer::start(|c| c.token_secret = Some(secret.into()));
    let token = |name: &str, role| mint_token(secret, "show", name, role, Duration::from_secs(60));
    let mut host = Client::connect(&server).await;
    host.send_join(
        "show",
        "x",
        None,
        None,
        Some(&token("Host", Role::Moderator)),
    )
    .await;
    let h = host.expect_welcome().await.peer_id;
    let mut vera = Client::connect(&server).await;
    vera.send_join("show", "x", None, None, Some(&token("Vera", Role::Viewer)))
        .await;
    vera.expect_welcome().await;
    host.recv().await;

    vera.send(&ClientMessage::Media(MediaState {
        audio: true,
        video: false,
        screen: false,
    }))
    .await;
    expect_error(&mut vera, ErrorCode::Forbidden).await;
    let sending = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=sendrecv\r\n";
    let receiving = "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=recvonly\r\n";
    let offer = |sdp: &str| ClientMessage::Signal {
        to: h.clone(),
        data: SignalData::Description(SessionDescription::new(treff_shared::SdpType::Offer, sdp)),
    };
    vera.send(&offer(sending)).await;
    expect_error(&mut vera, ErrorCode::Forbidden).await;
    vera.send(&offer(receiving)).await;
    assert!(matches!(host.recv().await, ServerMessage::Signal { .. }));
    // Viewers may chat.
    vera.send(&ClientMessage::Chat {
        text: "hello".into(),
    })
    .await;
    assert!(matches!(host.recv().await, ServerMessage::Chat(_)));
}

#[tokio::test]
async fn right_passwords_do_not_use_up_the_guess_allowance() {
    let server = TestServer::start(|c| c.password_guesses = 1.0);
    let mut ada = Client::connect(&server).await;
    ada.send_join("class", "Ada", None, Some("chalk"), None)
        .await;
    ada.expect_welcome().await;
    // A whole class behind one address joins with the right password.
    let mut pupils = Vec::new();
    // More than the burst of five allowed wrong guesses; the room holds eight.
    for i in 0..7 {
        let mut pupil = Client::connect(&server).await;
        pupil
            .send_join("class", &format!("Pupil {i}"), None, Some("chalk"), None)
            .await;
        pupil.expect_welcome().await;
        pupils.push(pupil);
    }
    assert_eq!(pupils.len(), 7);
}

#[tokio::test]
async fn the_waiting_room_holds_newcomers_until_a_moderator_admits_or_denies_them() {
    let secret = "lobby-secret";
    let server = TestServer::start(|c| c.token_secret = Some(secret.into()));
    let token = |name: &str, role, skip| {
        treff_server::auth::mint_token_with(
            secret,
            "class",
            name,
            role,
            Duration::from_secs(60),
            skip,
        )
    };
    let mut ada = Client::connect(&server).await;
    ada.send_join(
        "class",
        "x",
        None,
        None,
        Some(&token("Ada", Role::Moderator, false)),
    )
    .await;
    ada.expect_welcome().await;
    ada.send(&ClientMessage::WaitingRoom { on: true }).await;
    assert_eq!(
        ada.recv().await,
        ServerMessage::RoomState {
            locked: false,
            waiting_room: true
        }
    );

    // Bob waits: he is told so, Ada sees him in the lobby, and he gets nothing of the room.
    let mut bob = Client::connect(&server).await;
    bob.send_join(
        "class",
        "x",
        None,
        None,
        Some(&token("Bob", Role::Participant, false)),
    )
    .await;
    let bob_id = match bob.recv().await {
        ServerMessage::Waiting { peer_id, room } => {
            assert_eq!(room.as_str(), "class");
            peer_id
        }
        other => panic!("expected waiting, got {other:?}"),
    };
    match ada.recv().await {
        ServerMessage::Lobby { waiting } => {
            assert_eq!(waiting.len(), 1);
            assert_eq!(
                (&waiting[0].peer_id, waiting[0].name.as_str()),
                (&bob_id, "Bob")
            );
        }
        other => panic!("expected lobby, got {other:?}"),
    }
    ada.send(&ClientMessage::Chat {
        text: "before Bob".into(),
    })
    .await;
    assert!(matches!(ada.recv().await, ServerMessage::Chat(_)));
    bob.send(&ClientMessage::Chat {
        text: "let me in".into(),
    })
    .await;
    expect_error(&mut bob, ErrorCode::NotJoined).await;
    bob.expect_silence(Duration::from_millis(300)).await;

    // A token with the right to skip enters at once, and may not admit anyone.
    let mut vip = Client::connect(&server).await;
    vip.send_join(
        "class",
        "x",
        None,
        None,
        Some(&token("Vera", Role::Participant, true)),
    )
    .await;
    let w = vip.expect_welcome().await;
    assert_eq!(w.peers.len(), 1);
    assert!(
        w.waiting_room && w.lobby.is_empty(),
        "only moderators see the lobby"
    );
    assert!(matches!(ada.recv().await, ServerMessage::PeerJoined { .. }));
    vip.send(&ClientMessage::Admit {
        peer_id: bob_id.clone(),
    })
    .await;
    expect_error(&mut vip, ErrorCode::Forbidden).await;

    // Admitted: Bob's welcome carries the chat he missed.
    ada.send(&ClientMessage::Admit {
        peer_id: bob_id.clone(),
    })
    .await;
    let welcome = bob.expect_welcome().await;
    assert_eq!(welcome.peer_id, bob_id);
    assert_eq!(welcome.history.len(), 1);

    // Cem is turned away: a clear error, then the close that says not to come back.
    let mut cem = Client::connect(&server).await;
    cem.send_join(
        "class",
        "x",
        None,
        None,
        Some(&token("Cem", Role::Participant, false)),
    )
    .await;
    let cem_id = match cem.recv().await {
        ServerMessage::Waiting { peer_id, .. } => peer_id,
        other => panic!("expected waiting, got {other:?}"),
    };
    ada.send(&ClientMessage::Deny { peer_id: cem_id }).await;
    let message = expect_error(&mut cem, ErrorCode::Denied).await;
    assert!(message.contains("did not let you in"), "{message}");
    cem.expect_close(close_code::DENIED).await;

    // Dai closes the tab while waiting: gone from the lobby.
    let mut dai = Client::connect(&server).await;
    dai.send_join(
        "class",
        "x",
        None,
        None,
        Some(&token("Dai", Role::Participant, false)),
    )
    .await;
    assert!(matches!(dai.recv().await, ServerMessage::Waiting { .. }));
    dai.close_normally().await;
    let mut lobbies = Vec::new();
    while let Some(common::Event::Frame(msg)) = ada.next_event(Duration::from_millis(500)).await {
        if let ServerMessage::Lobby { waiting } = msg {
            lobbies.push(waiting.len());
        }
    }
    assert_eq!(lobbies.last(), Some(&0), "lobby sizes Ada saw: {lobbies:?}");
}
