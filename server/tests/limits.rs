//! Every abuse limit, allowed and refused, against the real server.

mod common;

use std::time::Duration;

use common::{expect_error, Client, TestServer};
use treff_shared::{close_code, ClientMessage, ErrorCode, ServerMessage};

#[tokio::test]
async fn frame_rate_is_limited_and_recovers() {
    let server = TestServer::start(|c| {
        c.frame_rate = 5.0;
        c.frame_burst = 5.0;
    });
    let mut c = Client::connect(&server).await;
    for _ in 0..8 {
        c.send(&ClientMessage::Ping).await;
    }
    let mut pongs = 0;
    let mut limited = 0;
    for _ in 0..8 {
        match c.recv().await {
            ServerMessage::Pong => pongs += 1,
            ServerMessage::Error {
                code: ErrorCode::RateLimited,
                ..
            } => limited += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((pongs, limited), (5, 3));
    tokio::time::sleep(Duration::from_millis(450)).await;
    c.send(&ClientMessage::Ping).await;
    assert_eq!(c.recv().await, ServerMessage::Pong, "the bucket refills");
}

#[tokio::test]
async fn chat_rate_is_limited_and_nothing_accepted_is_lost() {
    let server = TestServer::start(|c| {
        c.chat_rate = 1.0;
        c.chat_burst = 2.0;
    });
    let mut ada = Client::connect(&server).await;
    ada.join("r", "Ada").await;
    let mut bob = Client::connect(&server).await;
    bob.join("r", "Bob").await;
    ada.recv().await; // peer-joined
    for i in 0..3 {
        ada.send(&ClientMessage::Chat {
            text: format!("m{i}"),
        })
        .await;
    }
    let mut texts = Vec::new();
    for _ in 0..3 {
        match ada.recv().await {
            ServerMessage::Chat(chat) => texts.push(chat.text),
            ServerMessage::Error { code, .. } => assert_eq!(code, ErrorCode::RateLimited),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(texts, vec!["m0", "m1"]);
    for expected in ["m0", "m1"] {
        assert!(matches!(bob.recv().await, ServerMessage::Chat(c) if c.text == expected));
    }
    bob.expect_silence(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn whoever_keeps_exceeding_a_limit_is_disconnected() {
    let server = TestServer::start(|c| {
        c.chat_rate = 0.1;
        c.chat_burst = 1.0;
    });
    let mut ada = Client::connect(&server).await;
    ada.join("r", "Ada").await;
    let mut bob = Client::connect(&server).await;
    bob.join("r", "Bob").await;
    ada.recv().await;
    for _ in 0..40 {
        ada.send(&ClientMessage::Chat {
            text: "spam".into(),
        })
        .await;
    }
    ada.expect_close(close_code::TOO_MANY_ERRORS).await;
    // Bob got the one accepted message and nothing else is disturbed.
    assert!(matches!(bob.recv().await, ServerMessage::Chat(c) if c.text == "spam"));
    bob.send(&ClientMessage::Ping).await;
    let mut saw_pong = false;
    for _ in 0..3 {
        match bob.recv().await {
            ServerMessage::Pong => {
                saw_pong = true;
                break;
            }
            ServerMessage::PeerStatus { .. } | ServerMessage::PeerLeft { .. } => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(saw_pong);
}

#[tokio::test]
async fn sessions_per_address_are_limited() {
    let server = TestServer::start(|c| c.max_sessions_per_ip = 2);
    let a = Client::connect(&server).await;
    let mut b = Client::connect(&server).await;
    let mut c = Client::connect(&server).await;
    expect_error(&mut c, ErrorCode::TooManySessions).await;
    c.expect_close(close_code::TOO_MANY_SESSIONS).await;
    // Those already admitted work.
    b.send(&ClientMessage::Ping).await;
    assert_eq!(b.recv().await, ServerMessage::Pong);
    // A closed session frees its place.
    a.close_normally().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut d = Client::connect(&server).await;
    d.send(&ClientMessage::Ping).await;
    assert_eq!(d.recv().await, ServerMessage::Pong);
}

#[tokio::test]
async fn configured_lengths_are_enforced() {
    let server = TestServer::start(|c| {
        c.max_name_chars = 5;
        c.max_room_chars = 4;
        c.max_chat_chars = 10;
    });
    let mut c = Client::connect(&server).await;
    c.send_text(r#"{"type":"join","room":"r","name":"Abcdef"}"#)
        .await;
    expect_error(&mut c, ErrorCode::InvalidName).await;
    c.send_text(r#"{"type":"join","room":"abcde","name":"Ada"}"#)
        .await;
    expect_error(&mut c, ErrorCode::InvalidRoom).await;
    c.join("abcd", "Abcde").await;
    c.send(&ClientMessage::Chat {
        text: "x".repeat(11),
    })
    .await;
    expect_error(&mut c, ErrorCode::InvalidChat).await;
    c.send(&ClientMessage::Chat {
        text: "x".repeat(10),
    })
    .await;
    assert!(matches!(c.recv().await, ServerMessage::Chat(_)));
}

#[tokio::test]
async fn the_number_of_rooms_is_limited() {
    let server = TestServer::start(|c| c.max_rooms = 1);
    let mut a = Client::connect(&server).await;
    a.join("one", "A").await;
    let mut b = Client::connect(&server).await;
    b.send_text(r#"{"type":"join","room":"two","name":"B"}"#)
        .await;
    expect_error(&mut b, ErrorCode::TooManyRooms).await;
    // Joining the existing room is fine.
    assert_eq!(b.join("one", "B").await.peers.len(), 1);
}
