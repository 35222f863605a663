//! The call core's rules, driven on the host with plain inputs: no browser, no server.

use treff_shared::{
    ChatMessage, ClientFrameType, ClientMessage, DisplayName, ErrorCode, IceServer, LeaveReason,
    MediaKind, MediaLine, MediaMode, MediaState, NoPathCause, Peer, PeerId, PeerStatus, Reaction,
    Role, RoomName, SdpType, ServerMessage, SessionDescription, SignalData, TileSize, Welcome,
};

use super::notice::{LostReason, MediaProblem, Notice, Rejection};
use super::transport::{self, LinkCommand, LinkId, LinkSpec, TrackKind};
use super::*;
use crate::state::{Action, Capture, Connection, LinkState};

fn id(s: &str) -> PeerId {
    PeerId::new(s).expect("test id")
}

fn peer(p: &str, offer: bool) -> Peer {
    Peer {
        peer_id: id(p),
        name: DisplayName::new(p).expect("test name"),
        media: MediaState::default(),
        status: PeerStatus::Online,
        role: Role::Participant,
        offer,
        polite: !offer,
    }
}

fn welcome(me: &str, peers: Vec<Peer>, resumed: bool) -> ServerMessage {
    ServerMessage::Welcome(Box::new(Welcome {
        peer_id: id(me),
        name: DisplayName::new("Ada").expect("test name"),
        resume_token: "t".into(),
        room: RoomName::new("team").expect("test room"),
        peers,
        ice_servers: vec![IceServer {
            urls: vec!["stun:127.0.0.1:3478".into()],
            username: None,
            credential: None,
        }],
        history: vec![],
        resumed,
        role: Role::Participant,
        locked: false,
        ping_interval_ms: 1000,
        mode: MediaMode::Mesh,
        mode_epoch: 0,
        mesh_upload_kbps: 0,
        hands: vec![],
        waiting_room: false,
        lobby: vec![],
        recorders: vec![],
        everyone_may_record: false,
    }))
}

fn server(core: &mut CallCore, msg: ServerMessage) -> Vec<Command> {
    core.handle(Input::Server(ServerEvent::Message(msg)))
}

/// A call that captured camera and microphone and waits for its first `welcome`.
fn captured() -> CallCore {
    let mut core = CallCore::default();
    core.handle(Input::Start { viewer: false });
    core.handle(Input::Captured {
        audio: true,
        video: true,
        problem: None,
    });
    core
}

/// A call that captured camera and microphone and got its first `welcome` with `peers`.
fn joined(peers: Vec<Peer>) -> (CallCore, Vec<Command>) {
    let mut core = captured();
    let out = server(&mut core, welcome("me", peers, false));
    (core, out)
}

fn opened(out: &[Command]) -> Vec<LinkSpec> {
    out.iter()
        .filter_map(|c| match c {
            Command::Link(LinkCommand::Open(spec)) => Some(spec.clone()),
            _ => None,
        })
        .collect()
}

fn closed(out: &[Command]) -> Vec<LinkId> {
    out.iter()
        .filter_map(|c| match c {
            Command::Link(LinkCommand::Close(id)) => Some(*id),
            _ => None,
        })
        .collect()
}

fn sent(out: &[Command]) -> Vec<ClientMessage> {
    out.iter()
        .filter_map(|c| match c {
            Command::Send(m) | Command::SendAsked(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

fn notices(out: &[Command]) -> Vec<Notice> {
    out.iter()
        .filter_map(|c| match c {
            Command::Ui(Action::Notify(n)) => Some(n.clone()),
            _ => None,
        })
        .collect()
}

fn rejection(out: &[Command]) -> Option<Rejection> {
    out.iter().find_map(|c| match c {
        Command::Ui(Action::Rejected(r)) => Some(r.clone()),
        _ => None,
    })
}

#[test]
fn a_call_captures_first_then_connects_with_what_it_got() {
    let mut core = CallCore::default();
    assert_eq!(
        core.handle(Input::Start { viewer: false }),
        vec![Command::Capture]
    );
    let out = core.handle(Input::Captured {
        audio: true,
        video: false,
        problem: Some(MediaProblem::NotFound),
    });
    assert_eq!(
        notices(&out),
        vec![Notice::Capture {
            problem: MediaProblem::NotFound,
            audio_only: true
        }]
    );
    let media = MediaState {
        audio: true,
        video: false,
        screen: false,
    };
    assert!(out.contains(&Command::Connect(media)));
    assert!(out.contains(&Command::PublishLocal { send: true }));
    assert!(out.contains(&Command::Ui(Action::LocalMedia {
        media,
        capture: Capture::AudioOnly
    })));
    assert!(out.contains(&Command::WatchDevices));
}

#[test]
fn a_viewer_captures_nothing_and_sends_nothing() {
    let mut core = CallCore::default();
    let out = core.handle(Input::Start { viewer: true });
    assert!(!out.contains(&Command::Capture));
    assert!(out.contains(&Command::Ui(Action::OwnRole(Role::Viewer))));
    assert!(out.contains(&Command::PublishLocal { send: false }));
    assert!(out.contains(&Command::Connect(MediaState::default())));
    // Buttons a viewer does not have do nothing, even if pressed somehow.
    for intent in [
        Intent::Camera(true),
        Intent::Microphone(true),
        Intent::ToggleScreen,
        Intent::SelectCamera("c".into()),
    ] {
        assert!(core.handle(Input::Intent(intent)).is_empty());
    }
}

#[test]
fn welcome_says_viewer_after_capture_the_tracks_stop_before_any_link_sends() {
    let mut core = captured();
    let ServerMessage::Welcome(mut w) = welcome("me", vec![peer("a", true)], false) else {
        unreachable!()
    };
    w.role = Role::Viewer;
    let out = server(&mut core, ServerMessage::Welcome(w));
    let stop = out.iter().position(|c| c == &Command::StopCapture).unwrap();
    let publish = out
        .iter()
        .position(|c| c == &Command::PublishLocal { send: false })
        .unwrap();
    let open = out
        .iter()
        .position(|c| matches!(c, Command::Link(LinkCommand::Open(_))))
        .unwrap();
    assert!(stop < open && publish < open, "{out:?}");
    assert!(out.contains(&Command::PublishMedia(MediaState::default())));
}

#[test]
fn welcome_opens_one_link_per_member_with_the_rooms_roles() {
    let (_, out) = joined(vec![peer("a", true), peer("b", false)]);
    let links = opened(&out);
    assert_eq!(links.len(), 2);
    assert_eq!(links[0].label, "mesh/a");
    assert!(links[0].offer && !links[0].polite);
    assert_eq!(links[1].label, "mesh/b");
    assert!(!links[1].offer && links[1].polite);
    assert_eq!(links[0].ice_servers[0].urls, vec!["stun:127.0.0.1:3478"]);
    assert_ne!(links[0].id, links[1].id);
    assert!(out.contains(&Command::SetPeerId(Some(id("me")))));
    assert!(out.contains(&Command::ShowRoomInAddress(RoomName::new("team").unwrap())));
    assert!(matches!(
        out.last(),
        Some(Command::Ui(Action::Welcome { keep: false, .. }))
    ));
    assert!(notices(&out).is_empty(), "a first welcome is no news");
}

#[test]
fn peers_joining_and_leaving_open_and_close_their_links() {
    let (mut core, _) = joined(vec![]);
    let out = server(
        &mut core,
        ServerMessage::PeerJoined {
            peer: peer("b", false),
        },
    );
    let link = opened(&out)[0].id;
    assert!(out.contains(&Command::Ui(Action::PeerJoined(peer("b", false)))));
    let out = server(
        &mut core,
        ServerMessage::PeerLeft {
            peer_id: id("b"),
            reason: LeaveReason::Left,
        },
    );
    assert_eq!(closed(&out), vec![link]);
    assert!(out.contains(&Command::Ui(Action::PeerLeft(id("b")))));
    // What the closed link still reports is ignored.
    assert!(core
        .handle(Input::Link(link, LinkEvent::State(LinkState::Connected)))
        .is_empty());
}

#[test]
fn signals_travel_between_the_server_and_the_link_of_their_peer() {
    let (mut core, out) = joined(vec![peer("a", true)]);
    let link = opened(&out)[0].id;
    let offer = SignalData::Description(SessionDescription::new(SdpType::Offer, "v=0"));
    let out = core.handle(Input::Link(link, LinkEvent::Signal(offer.clone())));
    assert_eq!(
        sent(&out),
        vec![ClientMessage::Signal {
            to: id("a"),
            data: offer.clone()
        }]
    );
    let out = server(
        &mut core,
        ServerMessage::Signal {
            from: id("a"),
            data: offer.clone(),
        },
    );
    assert_eq!(
        out,
        vec![Command::Link(LinkCommand::Deliver(link, offer.clone()))]
    );
    // From someone without a link: a console line, nothing else.
    let out = server(
        &mut core,
        ServerMessage::Signal {
            from: id("zz"),
            data: offer,
        },
    );
    assert!(matches!(&out[..], [Command::Warn(_)]));
}

#[test]
fn remote_tracks_go_to_the_tile_their_sender_announced_whatever_the_line_order() {
    let (mut core, out) = joined(vec![peer("a", true)]);
    let link = opened(&out)[0].id;
    let mut description = SessionDescription::new(SdpType::Offer, "v=0");
    // The screen on the first video line, the camera after it.
    description.media = vec![
        MediaLine {
            mid: "0".into(),
            kind: MediaKind::Audio,
            peer: None,
        },
        MediaLine {
            mid: "1".into(),
            kind: MediaKind::Screen,
            peer: None,
        },
        MediaLine {
            mid: "2".into(),
            kind: MediaKind::Camera,
            peer: None,
        },
    ];
    server(
        &mut core,
        ServerMessage::Signal {
            from: id("a"),
            data: SignalData::Description(description),
        },
    );
    let track = |core: &mut CallCore, mid: &str, kind| {
        core.handle(Input::Link(
            link,
            LinkEvent::Track {
                mid: Some(mid.into()),
                kind,
                track_id: format!("t{mid}"),
            },
        ))
    };
    let attached = |out: Vec<Command>| match &out[..] {
        [Command::Attach { peer, kind, .. }] => (peer.clone(), *kind),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        attached(track(&mut core, "1", TrackKind::Video)),
        (id("a"), MediaKind::Screen)
    );
    assert_eq!(
        attached(track(&mut core, "2", TrackKind::Video)),
        (id("a"), MediaKind::Camera)
    );
    assert_eq!(
        attached(track(&mut core, "0", TrackKind::Audio)),
        (id("a"), MediaKind::Audio)
    );
    // A line nobody announced: the microphone and camera, never a screen.
    assert_eq!(
        attached(track(&mut core, "7", TrackKind::Video)),
        (id("a"), MediaKind::Camera)
    );
}

#[test]
fn a_resumed_welcome_keeps_links_and_restarts_only_those_that_went_down() {
    let (mut core, out) = joined(vec![peer("a", true), peer("b", true), peer("c", true)]);
    let links: Vec<LinkId> = opened(&out).iter().map(|s| s.id).collect();
    core.handle(Input::Link(links[0], LinkEvent::Ice(IceState::Connected)));
    core.handle(Input::Link(links[1], LinkEvent::Ice(IceState::Failed)));
    core.handle(Input::Server(ServerEvent::Lost {
        reason: LostReason::StoppedAnswering,
        attempt: 1,
        retry_at_ms: 500,
    }));
    // Link b's ICE failed while the signaling was down: nothing can carry a restart yet.
    assert!(core
        .handle(Input::Link(links[1], LinkEvent::Ice(IceState::Failed)))
        .is_empty());
    // c left while we were away; a and b are still there.
    let out = server(
        &mut core,
        welcome("me", vec![peer("a", true), peer("b", true)], true),
    );
    assert!(opened(&out).is_empty(), "{out:?}");
    assert_eq!(closed(&out), vec![links[2]]);
    let restarts: Vec<LinkId> = out
        .iter()
        .filter_map(|c| match c {
            Command::RestartIce(l) => Some(*l),
            _ => None,
        })
        .collect();
    assert_eq!(restarts, vec![links[1]]);
    assert!(out.contains(&Command::Ui(Action::Welcome {
        welcome: Box::new(
            match welcome("me", vec![peer("a", true), peer("b", true)], true) {
                ServerMessage::Welcome(w) => *w,
                _ => unreachable!(),
            }
        ),
        keep: true,
    })));
    assert!(notices(&out).is_empty());
    // Back online, a failure restarts at once.
    assert!(core
        .handle(Input::Link(links[0], LinkEvent::Ice(IceState::Failed)))
        .contains(&Command::RestartIce(links[0])));
}

#[test]
fn a_welcome_with_a_new_peer_id_after_a_server_restart_rebuilds_every_link() {
    let (mut core, out) = joined(vec![peer("a", true)]);
    let old = opened(&out)[0].id;
    core.handle(Input::Server(ServerEvent::Connecting { attempt: 1 }));
    let ServerMessage::Welcome(mut w) = welcome("me2", vec![peer("a", false)], false) else {
        unreachable!()
    };
    w.resumed = false;
    let out = server(&mut core, ServerMessage::Welcome(w));
    assert_eq!(closed(&out), vec![old]);
    let new = opened(&out);
    assert_eq!(new.len(), 1);
    assert_ne!(new[0].id, old);
    assert_eq!(notices(&out), vec![Notice::Rejoined]);
    assert!(matches!(
        out.last(),
        Some(Command::Ui(Action::Welcome { keep: false, .. }))
    ));
}

#[test]
fn connection_changes_reach_the_page() {
    let mut core = CallCore::default();
    assert_eq!(
        core.handle(Input::Server(ServerEvent::Lost {
            reason: LostReason::Closed,
            attempt: 2,
            retry_at_ms: 1234,
        })),
        vec![Command::Ui(Action::Connection(Connection::Retrying {
            attempt: 2,
            at_ms: 1234,
            reason: LostReason::Closed
        }))]
    );
}

#[test]
fn a_refusal_ends_the_call_with_the_servers_reason() {
    let (mut core, out) = joined(vec![peer("a", true)]);
    let link = opened(&out)[0].id;
    let out = core.handle(Input::Server(ServerEvent::Rejected {
        code: ErrorCode::RoomFull,
        message: "The room is full.".into(),
    }));
    assert!(out.contains(&Command::Disconnect));
    assert!(out.contains(&Command::StopCapture));
    assert_eq!(closed(&out), vec![link]);
    assert_eq!(
        rejection(&out),
        Some(Rejection::Refused {
            code: ErrorCode::RoomFull,
            message: "The room is full.".into()
        })
    );
    assert!(core.is_ended());
    // Nothing happens any more; a capture that finishes late is released at once.
    assert!(server(&mut core, welcome("me", vec![], false)).is_empty());
    assert_eq!(
        core.handle(Input::Captured {
            audio: true,
            video: true,
            problem: None
        }),
        vec![Command::StopCapture]
    );
}

#[test]
fn removal_and_the_end_of_the_room_say_who_did_it() {
    let (mut core, _) = joined(vec![]);
    let out = core.handle(Input::Server(ServerEvent::Removed(LeaveReason::Kicked)));
    assert_eq!(rejection(&out), Some(Rejection::Removed));

    let (mut core, _) = joined(vec![]);
    let out = core.handle(Input::Server(ServerEvent::Removed(LeaveReason::RoomEnded)));
    assert_eq!(rejection(&out), Some(Rejection::Ended { by_us: false }));

    let (mut core, _) = joined(vec![]);
    let out = core.handle(Input::Intent(Intent::EndRoom));
    assert_eq!(sent(&out), vec![ClientMessage::EndRoom]);
    let out = core.handle(Input::Server(ServerEvent::Removed(LeaveReason::RoomEnded)));
    assert_eq!(rejection(&out), Some(Rejection::Ended { by_us: true }));

    let (mut core, _) = joined(vec![]);
    let out = core.handle(Input::Server(ServerEvent::Replaced));
    assert_eq!(rejection(&out), Some(Rejection::Replaced));
}

#[test]
fn leaving_closes_everything_once() {
    let (mut core, out) = joined(vec![peer("a", true)]);
    let link = opened(&out)[0].id;
    let out = core.handle(Input::Intent(Intent::Leave));
    assert_eq!(closed(&out), vec![link]);
    assert!(out.contains(&Command::Disconnect));
    assert!(out.contains(&Command::SetPeerId(None)));
    assert_eq!(out.last(), Some(&Command::Ui(Action::Left)));
    assert!(core.handle(Input::Intent(Intent::Leave)).is_empty());
}

#[test]
fn roles_and_room_state_raise_the_right_notices() {
    let (mut core, _) = joined(vec![peer("a", true)]);
    let out = server(
        &mut core,
        ServerMessage::Role {
            peer_id: id("me"),
            role: Role::Moderator,
        },
    );
    assert!(out.contains(&Command::Ui(Action::Role(id("me"), Role::Moderator))));
    assert_eq!(notices(&out), vec![Notice::NowModerator]);
    let out = server(
        &mut core,
        ServerMessage::Role {
            peer_id: id("a"),
            role: Role::Moderator,
        },
    );
    assert!(
        notices(&out).is_empty(),
        "someone else's promotion is shown, not announced"
    );
    let state = |locked, waiting_room| ServerMessage::RoomState {
        locked,
        waiting_room,
    };
    let out = server(&mut core, state(true, false));
    assert!(out.contains(&Command::Ui(Action::RoomState {
        locked: true,
        waiting_room: false
    })));
    assert_eq!(notices(&out), vec![Notice::Locked(true)]);
    // Only what changed is announced.
    let out = server(&mut core, state(true, true));
    assert_eq!(notices(&out), vec![Notice::WaitingRoom(true)]);
    let out = server(&mut core, state(false, true));
    assert_eq!(notices(&out), vec![Notice::Locked(false)]);
    // A mute request offers the button only while the microphone is on.
    let out = server(&mut core, ServerMessage::MuteRequested { by: id("a") });
    assert_eq!(notices(&out), vec![Notice::MuteRequested { on: true }]);
    core.handle(Input::Intent(Intent::Microphone(false)));
    let out = server(&mut core, ServerMessage::MuteRequested { by: id("a") });
    assert_eq!(notices(&out), vec![Notice::MuteRequested { on: false }]);
}

#[test]
fn server_errors_are_shown_except_races_nobody_can_act_on() {
    let (mut core, _) = joined(vec![]);
    let out = server(
        &mut core,
        ServerMessage::error(ErrorCode::Forbidden, "Only a moderator may do this."),
    );
    assert_eq!(
        notices(&out),
        vec![Notice::Server {
            code: ErrorCode::Forbidden,
            message: "Only a moderator may do this.".into()
        }]
    );
    let out = server(
        &mut core,
        ServerMessage::error(ErrorCode::UnknownPeer, "Peer x is not in this room."),
    );
    assert!(notices(&out).is_empty());
}

#[test]
fn what_the_person_asks_for_while_the_connection_is_down_is_refused_with_a_notice() {
    let (mut core, _) = joined(vec![]);
    core.handle(Input::Server(ServerEvent::Connecting { attempt: 1 }));
    let out = core.handle(Input::Intent(Intent::SendChat("hi".into())));
    assert_eq!(notices(&out), vec![Notice::ChatNotSent]);
    assert!(sent(&out).is_empty());
    let out = core.handle(Input::Intent(Intent::Lock(true)));
    assert_eq!(notices(&out), vec![Notice::NotDelivered]);
    let out = core.handle(Input::Intent(Intent::EndRoom));
    assert_eq!(notices(&out), vec![Notice::NotDelivered]);
    // Ending did not start, so a later `removed` is someone else's doing.
    server(&mut core, welcome("me", vec![], true));
    let out = core.handle(Input::Server(ServerEvent::Removed(LeaveReason::RoomEnded)));
    assert_eq!(rejection(&out), Some(Rejection::Ended { by_us: false }));
}

#[test]
fn a_frame_the_socket_refused_says_so() {
    let (mut core, _) = joined(vec![]);
    let out = core.handle(Input::Intent(Intent::SendChat("hi".into())));
    assert_eq!(sent(&out), vec![ClientMessage::Chat { text: "hi".into() }]);
    assert_eq!(
        notices(&core.handle(Input::NotSent(ClientFrameType::Chat))),
        vec![Notice::ChatNotSent]
    );
    assert_eq!(
        notices(&core.handle(Input::NotSent(ClientFrameType::Kick))),
        vec![Notice::NotDelivered]
    );
}

#[test]
fn microphone_camera_and_screen_follow_the_buttons_and_tell_the_room() {
    let mut core = CallCore::default();
    core.handle(Input::Start { viewer: false });
    core.handle(Input::Captured {
        audio: true,
        video: false,
        problem: Some(MediaProblem::NotFound),
    });
    let out = core.handle(Input::Intent(Intent::Camera(true)));
    assert_eq!(notices(&out), vec![Notice::NoDevice { video: true }]);
    let out = core.handle(Input::Intent(Intent::Microphone(false)));
    let off = MediaState::default();
    assert_eq!(
        out[..2],
        [
            Command::EnableTrack {
                video: false,
                on: false
            },
            Command::PublishMedia(off)
        ]
    );
    // Screen: the picker first, the announcement once it is shared.
    assert_eq!(
        core.handle(Input::Intent(Intent::ToggleScreen)),
        vec![Command::StartScreen]
    );
    assert!(core.handle(Input::ScreenFailed(None)).is_empty());
    core.handle(Input::ScreenStarted);
    let out = core.handle(Input::Intent(Intent::ToggleScreen));
    assert_eq!(out[0], Command::StopScreen);
    assert!(out.contains(&Command::PublishMedia(off)));
    // The browser's own stop button after the share already ended: nothing to do.
    assert!(core.handle(Input::ScreenEnded).is_empty());
    // A camera plugged in later and picked: the call has one now.
    let out = core.handle(Input::DeviceOpened {
        video: true,
        device_id: "cam2".into(),
        enabled: true,
    });
    let with_camera = MediaState {
        audio: false,
        video: true,
        screen: false,
    };
    assert!(out.contains(&Command::PublishMedia(with_camera)));
    assert!(out.contains(&Command::Ui(Action::LocalMedia {
        media: with_camera,
        capture: Capture::Full
    })));
}

#[test]
fn link_states_are_shown_on_the_tiles_of_the_members_they_carry() {
    let (mut core, out) = joined(vec![peer("a", true)]);
    let link = opened(&out)[0].id;
    assert_eq!(
        core.handle(Input::Link(link, LinkEvent::State(LinkState::Connected))),
        vec![Command::Ui(Action::Link(id("a"), LinkState::Connected))]
    );
}

#[test]
fn chat_and_presence_pass_through_to_the_page() {
    let (mut core, _) = joined(vec![peer("a", true)]);
    let chat = ChatMessage {
        id: 1,
        from: id("a"),
        name: DisplayName::new("a").unwrap(),
        text: "hi".into(),
        ts: 5,
    };
    assert_eq!(
        server(&mut core, ServerMessage::Chat(chat.clone())),
        vec![Command::Ui(Action::Chat(chat))]
    );
    assert_eq!(
        server(
            &mut core,
            ServerMessage::PeerStatus {
                peer_id: id("a"),
                status: PeerStatus::Reconnecting
            }
        ),
        vec![Command::Ui(Action::PeerStatus(
            id("a"),
            PeerStatus::Reconnecting
        ))]
    );
}

fn sfu_offer(lines: &[(&str, MediaKind, &str)]) -> SignalData {
    let mut description = SessionDescription::new(SdpType::Offer, "v=0");
    description.media = lines
        .iter()
        .map(|(mid, kind, peer)| MediaLine {
            mid: (*mid).into(),
            kind: *kind,
            peer: Some(id(peer)),
        })
        .collect();
    SignalData::Description(description)
}

#[test]
fn link_counters_give_each_person_a_quality_and_the_loudest_voice_the_highlight_in_the_mesh() {
    use super::quality::{InboundStream, Level, LinkStats, PathCounters, StreamCounters};
    let (mut core, out) = joined(vec![peer("a", true)]);
    let link = opened(&out)[0].id;
    track(&mut core, link, "0", TrackKind::Audio, "mic");
    track(&mut core, link, "1", TrackKind::Video, "cam");
    let read = |at: u64, frames: u64, energy: f64| LinkStats {
        bytes: frames * 5000,
        path: PathCounters {
            rtt_ms: Some(30.0),
            relayed: Some(true),
        },
        streams: vec![
            InboundStream {
                mid: Some("1".into()),
                track_id: Some("cam".into()),
                audio: false,
                counters: StreamCounters {
                    frames_decoded: frames,
                    packets_received: frames * 4,
                    bytes_received: frames * 4000,
                    size: Some((640, 480)),
                    ..StreamCounters::default()
                },
            },
            InboundStream {
                mid: Some("0".into()),
                track_id: Some("mic".into()),
                audio: true,
                counters: StreamCounters {
                    packets_received: at / 20,
                    bytes_received: at * 4,
                    audio_energy: Some(energy),
                    samples_duration: Some(at as f64 / 1000.0),
                    ..StreamCounters::default()
                },
            },
            // A stream on no tile (say, one being switched away from) counts for nobody.
            InboundStream {
                mid: Some("9".into()),
                track_id: Some("old".into()),
                ..InboundStream::default()
            },
        ],
    };
    core.handle(Input::Tick(1000));
    assert!(core
        .handle(Input::Stats(link, read(1000, 0, 0.0)))
        .iter()
        .all(|c| !matches!(c, Command::Ui(_))));
    core.handle(Input::Tick(2000));
    let out = core.handle(Input::Stats(link, read(2000, 20, 0.09)));
    let quality = out
        .iter()
        .find_map(|c| match c {
            Command::Ui(Action::Quality(peer, q)) if *peer == id("a") => Some(q.clone()),
            _ => None,
        })
        .expect("a quality for a");
    assert_eq!(quality.level, Level::Good);
    assert_eq!(quality.fps, Some(20.0));
    assert_eq!(quality.relayed, Some(true));
    assert!(
        out.contains(&Command::Ui(Action::ActiveSpeaker(Some(id("a"))))),
        "{out:?}"
    );
}

#[test]
fn switching_sound_processing_reopens_the_microphone_in_place_and_is_kept() {
    use super::AudioProcessing;
    let (mut core, _) = joined(vec![peer("a", true)]);
    core.handle(Input::Devices(Devices {
        microphone: Some("mic-1".into()),
        ..Devices::default()
    }));
    let off = AudioProcessing {
        noise_suppression: false,
        ..AudioProcessing::default()
    };
    let out = core.handle(Input::Intent(Intent::AudioProcessing(off)));
    assert!(out.contains(&Command::OpenDevice {
        video: false,
        device_id: "mic-1".into(),
        processing: off,
    }));
    assert!(closed(&out).is_empty(), "the call goes on");
    // A later device list (a headset plugged in) keeps the choice, and so does a new microphone.
    let out = core.handle(Input::Devices(Devices::default()));
    assert!(out
        .iter()
        .any(|c| matches!(c, Command::Ui(Action::Devices(d)) if d.processing == off)));
    let out = core.handle(Input::Intent(Intent::SelectMicrophone("mic-2".into())));
    assert!(out.contains(&Command::OpenDevice {
        video: false,
        device_id: "mic-2".into(),
        processing: off,
    }));
}

#[test]
fn a_viewer_has_no_microphone_to_process() {
    let mut core = CallCore::default();
    core.handle(Input::Start { viewer: true });
    let out = core.handle(Input::Intent(Intent::AudioProcessing(
        super::AudioProcessing::default(),
    )));
    assert!(out.iter().all(|c| !matches!(c, Command::OpenDevice { .. })));
}

fn track(core: &mut CallCore, link: LinkId, mid: &str, kind: TrackKind, id: &str) -> Vec<Command> {
    core.handle(Input::Link(
        link,
        LinkEvent::Track {
            mid: Some(mid.into()),
            kind,
            track_id: id.into(),
        },
    ))
}

fn attached(out: &[Command]) -> Vec<(PeerId, MediaKind, String)> {
    out.iter()
        .filter_map(|c| match c {
            Command::Attach {
                peer,
                kind,
                track_id,
                ..
            } => Some((peer.clone(), *kind, track_id.clone())),
            _ => None,
        })
        .collect()
}

/// A mesh call with Bob whose camera and microphone show, then the room switches to the SFU.
fn switched_to_sfu() -> (CallCore, LinkId, LinkSpec, LinkSpec) {
    let (mut core, out) = joined(vec![peer("bob", true)]);
    let mesh = opened(&out)[0].id;
    track(&mut core, mesh, "0", TrackKind::Audio, "mesh-audio");
    track(&mut core, mesh, "1", TrackKind::Video, "mesh-video");
    core.handle(Input::Link(mesh, LinkEvent::State(LinkState::Connected)));
    let out = server(
        &mut core,
        ServerMessage::Mode {
            mode: MediaMode::Sfu,
            epoch: 1,
        },
    );
    let links = opened(&out);
    assert_eq!(links.len(), 2, "{out:?}");
    assert!(closed(&out).is_empty(), "make before break: {out:?}");
    assert!(out.contains(&Command::Ui(Action::Mode(MediaMode::Sfu))));
    (core, mesh, links[0].clone(), links[1].clone())
}

#[test]
fn a_switch_to_the_media_server_opens_a_publish_and_a_subscribe_link() {
    let (_, _, publish, subscribe) = switched_to_sfu();
    assert_eq!(publish.role, transport::LinkRole::Publish);
    assert!(publish.offer, "we offer on the publish link");
    assert_eq!(publish.label, "sfu/1/publish");
    assert_eq!(subscribe.role, transport::LinkRole::Subscribe);
    assert!(!subscribe.offer, "the server offers on the subscribe link");
}

#[test]
fn media_server_signals_travel_with_their_epoch_and_link() {
    let (mut core, _, publish, subscribe) = switched_to_sfu();
    let offer = SignalData::Description(SessionDescription::new(SdpType::Offer, "v=0"));
    assert_eq!(
        sent(&core.handle(Input::Link(publish.id, LinkEvent::Signal(offer.clone())))),
        vec![ClientMessage::MediaSignal {
            epoch: 1,
            link: treff_shared::MediaLink::Publish,
            data: offer.clone()
        }]
    );
    let out = server(
        &mut core,
        ServerMessage::MediaSignal {
            epoch: 1,
            link: treff_shared::MediaLink::Subscribe,
            data: offer.clone(),
        },
    );
    assert_eq!(
        out,
        vec![Command::Link(LinkCommand::Deliver(
            subscribe.id,
            offer.clone()
        ))]
    );
    // A signal of another epoch belongs to links that are gone.
    let out = server(
        &mut core,
        ServerMessage::MediaSignal {
            epoch: 7,
            link: treff_shared::MediaLink::Subscribe,
            data: offer,
        },
    );
    assert!(matches!(&out[..], [Command::Warn(_)]), "{out:?}");
}

#[test]
fn tiles_swap_to_the_media_server_only_once_its_tracks_show_frames_then_the_mesh_link_closes() {
    let (mut core, mesh, _, subscribe) = switched_to_sfu();
    server(
        &mut core,
        ServerMessage::MediaSignal {
            epoch: 1,
            link: treff_shared::MediaLink::Subscribe,
            data: sfu_offer(&[
                ("3", MediaKind::Audio, "bob"),
                ("4", MediaKind::Camera, "bob"),
            ]),
        },
    );
    let out = track(&mut core, subscribe.id, "4", TrackKind::Video, "sfu-video");
    assert!(attached(&out).is_empty(), "the mesh picture stays: {out:?}");
    assert!(out.contains(&Command::WatchFlow {
        link: subscribe.id,
        track_id: "sfu-video".into()
    }));
    let out = track(&mut core, subscribe.id, "3", TrackKind::Audio, "sfu-audio");
    assert!(attached(&out).is_empty());
    let out = core.handle(Input::Link(
        subscribe.id,
        LinkEvent::Flowing {
            track_id: "sfu-video".into(),
        },
    ));
    assert_eq!(
        attached(&out),
        vec![(id("bob"), MediaKind::Camera, "sfu-video".into())]
    );
    // The microphone still comes over the mesh: the link stays, and Bob hears nothing yet.
    let out = core.handle(Input::Tick(1_000));
    assert!(closed(&out).is_empty() && sent(&out).is_empty(), "{out:?}");
    core.handle(Input::Link(
        subscribe.id,
        LinkEvent::Flowing {
            track_id: "sfu-audio".into(),
        },
    ));
    // All of Bob's tiles swapped: we tell him, once, and keep the link while his tiles of us
    // may still show it.
    let out = core.handle(Input::Tick(1_250));
    assert_eq!(sent(&out), vec![swapped_to("bob", 1)]);
    assert!(closed(&out).is_empty(), "{out:?}");
    let out = core.handle(Input::Tick(5_000));
    assert!(closed(&out).is_empty() && sent(&out).is_empty(), "{out:?}");
    // Bob swapped too: the mesh link closes on the next tick.
    assert!(server(&mut core, swapped_from("bob", 1)).is_empty());
    let out = core.handle(Input::Tick(5_250));
    assert_eq!(closed(&out), vec![mesh]);
}

/// What we send a member when our tiles of them all moved to the transport of `epoch`.
fn swapped_to(peer: &str, epoch: u32) -> ClientMessage {
    ClientMessage::Signal {
        to: id(peer),
        data: SignalData::Swapped { epoch },
    }
}

/// A member saying its tiles of us all moved to the transport of `epoch`.
fn swapped_from(peer: &str, epoch: u32) -> ServerMessage {
    ServerMessage::Signal {
        from: id(peer),
        data: SignalData::Swapped { epoch },
    }
}

/// The media server offers Bob's microphone and camera, and both show sound and frames.
fn bob_shows_through_the_media_server(core: &mut CallCore, subscribe: LinkId) {
    server(
        core,
        ServerMessage::MediaSignal {
            epoch: 1,
            link: treff_shared::MediaLink::Subscribe,
            data: sfu_offer(&[
                ("3", MediaKind::Audio, "bob"),
                ("4", MediaKind::Camera, "bob"),
            ]),
        },
    );
    for (mid, kind, track_id) in [("3", TrackKind::Audio, "a"), ("4", TrackKind::Video, "v")] {
        track(core, subscribe, mid, kind, track_id);
        core.handle(Input::Link(
            subscribe,
            LinkEvent::Flowing {
                track_id: track_id.into(),
            },
        ));
    }
}

#[test]
fn a_member_who_swapped_first_keeps_the_old_link_until_we_swapped_too() {
    let (mut core, mesh, _, subscribe) = switched_to_sfu();
    core.handle(Input::Tick(0));
    // Bob's tiles of us moved already; ours of him still show the mesh.
    server(&mut core, swapped_from("bob", 1));
    let out = core.handle(Input::Tick(250));
    assert!(closed(&out).is_empty() && sent(&out).is_empty(), "{out:?}");
    // A word about an older switch, or from a stranger, changes nothing.
    server(&mut core, swapped_from("bob", 0));
    let out = server(&mut core, swapped_from("zed", 1));
    assert!(matches!(&out[..], [Command::Warn(_)]), "{out:?}");
    bob_shows_through_the_media_server(&mut core, subscribe.id);
    let out = core.handle(Input::Tick(500));
    assert_eq!(sent(&out), vec![swapped_to("bob", 1)]);
    assert_eq!(closed(&out), vec![mesh]);
}

#[test]
fn the_swapped_word_waits_for_the_signaling() {
    let (mut core, _, _, subscribe) = switched_to_sfu();
    bob_shows_through_the_media_server(&mut core, subscribe.id);
    core.handle(Input::Server(ServerEvent::Lost {
        reason: LostReason::Closed,
        attempt: 1,
        retry_at_ms: 0,
    }));
    let out = core.handle(Input::Tick(250));
    assert!(sent(&out).is_empty(), "{out:?}");
}

#[test]
fn a_switch_that_never_shows_frames_keeps_the_old_links_until_the_new_one_connects() {
    let (mut core, mesh, _, subscribe) = switched_to_sfu();
    core.handle(Input::Tick(1_000));
    assert!(closed(&core.handle(Input::Tick(1_000 + paths::SWITCH_DEADLINE_MS + 1))).is_empty());
    core.handle(Input::Link(
        subscribe.id,
        LinkEvent::State(LinkState::Connected),
    ));
    let out = core.handle(Input::Tick(1_000 + paths::SWITCH_DEADLINE_MS + 2));
    assert_eq!(closed(&out), vec![mesh]);
}

#[test]
fn back_to_the_mesh_reopens_peer_links_and_closes_the_media_server_links_after_the_swap() {
    let (mut core, mesh, publish, subscribe) = switched_to_sfu();
    server(
        &mut core,
        ServerMessage::MediaSignal {
            epoch: 1,
            link: treff_shared::MediaLink::Subscribe,
            data: sfu_offer(&[("4", MediaKind::Camera, "bob")]),
        },
    );
    track(&mut core, subscribe.id, "4", TrackKind::Video, "sfu-video");
    core.handle(Input::Link(
        subscribe.id,
        LinkEvent::Flowing {
            track_id: "sfu-video".into(),
        },
    ));
    core.handle(Input::Tick(0));
    server(&mut core, swapped_from("bob", 1));
    core.handle(Input::Tick(250));
    // The mesh link closes once both tiles came from the server... audio is still on it.
    let out = server(
        &mut core,
        ServerMessage::Mode {
            mode: MediaMode::Mesh,
            epoch: 2,
        },
    );
    let reopened = opened(&out);
    // The old mesh link still exists (audio never swapped), so no new one is needed.
    assert!(reopened.is_empty(), "{out:?}");
    assert!(closed(&out).is_empty());
    let out = track(&mut core, mesh, "1", TrackKind::Video, "mesh-video-2");
    assert!(out.contains(&Command::WatchFlow {
        link: mesh,
        track_id: "mesh-video-2".into()
    }));
    core.handle(Input::Link(
        mesh,
        LinkEvent::Flowing {
            track_id: "mesh-video-2".into(),
        },
    ));
    // Our tiles of Bob are on the mesh again; the media server's links stay until Bob's of us
    // are too (he still receives our camera through it).
    let out = core.handle(Input::Tick(100_000));
    assert_eq!(sent(&out), vec![swapped_to("bob", 2)]);
    assert!(closed(&out).is_empty(), "{out:?}");
    server(&mut core, swapped_from("bob", 2));
    let out = core.handle(Input::Tick(100_500));
    let mut gone = closed(&out);
    gone.sort();
    assert_eq!(gone, vec![publish.id, subscribe.id]);
}

#[test]
fn a_welcome_into_a_room_on_the_media_server_opens_no_peer_links() {
    let mut core = captured();
    let ServerMessage::Welcome(mut w) =
        welcome("me", vec![peer("a", true), peer("b", true)], false)
    else {
        unreachable!()
    };
    w.mode = MediaMode::Sfu;
    w.mode_epoch = 3;
    let out = server(&mut core, ServerMessage::Welcome(w));
    let labels: Vec<String> = opened(&out).into_iter().map(|s| s.label).collect();
    assert_eq!(labels, vec!["sfu/3/publish", "sfu/3/subscribe"]);
    // Newcomers travel through the server too.
    let out = server(
        &mut core,
        ServerMessage::PeerJoined {
            peer: peer("c", false),
        },
    );
    assert!(opened(&out).is_empty());
    // Tile sizes go to the server, once per change, and unchanged again after a while (a new
    // media server epoch, or a lost frame, would otherwise keep a wrong layer).
    core.handle(Input::Tick(10_000));
    let tiles = vec![TileSize {
        peer_id: id("a"),
        kind: MediaKind::Camera,
        width: 320,
        height: 180,
    }];
    let out = core.handle(Input::TileSizes(tiles.clone()));
    assert_eq!(
        sent(&out),
        vec![ClientMessage::Tiles {
            tiles: tiles.clone()
        }]
    );
    assert!(core.handle(Input::TileSizes(tiles.clone())).is_empty());
    core.handle(Input::Tick(14_999));
    assert!(core.handle(Input::TileSizes(tiles.clone())).is_empty());
    core.handle(Input::Tick(15_000));
    assert_eq!(
        sent(&core.handle(Input::TileSizes(tiles.clone()))),
        vec![ClientMessage::Tiles { tiles }]
    );
}

#[test]
fn an_old_mode_announcement_changes_nothing() {
    let (mut core, _, _, _) = switched_to_sfu();
    let out = server(
        &mut core,
        ServerMessage::Mode {
            mode: MediaMode::Mesh,
            epoch: 1,
        },
    );
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn a_peer_link_that_fails_without_a_relay_says_why_and_tells_the_server_once() {
    let (mut core, out) = joined(vec![peer("bob", true)]);
    let link = opened(&out)[0].id;
    let host = SignalData::Candidate(Some(treff_shared::IceCandidate {
        candidate: "candidate:1 1 udp 2122260223 100.64.1.2 51000 typ host".into(),
        sdp_mid: Some("0".into()),
        sdp_m_line_index: Some(0),
        username_fragment: None,
    }));
    core.handle(Input::Link(link, LinkEvent::Signal(host)));
    let out = core.handle(Input::Link(link, LinkEvent::Ice(IceState::Failed)));
    // The welcome handed out only a STUN server: nobody configured a relay.
    let cause = NoPathCause::NoRelay;
    assert!(out.contains(&Command::Ui(Action::Link(
        id("bob"),
        LinkState::NoPath(cause)
    ))));
    assert_eq!(
        sent(&out),
        vec![ClientMessage::NoPath {
            peer_id: id("bob"),
            cause
        }]
    );
    assert!(
        out.contains(&Command::RestartIce(link)),
        "restarts go on: {out:?}"
    );
    // The restart's states keep the explanation; a second failure is not reported again.
    let out = core.handle(Input::Link(link, LinkEvent::State(LinkState::Connecting)));
    assert_eq!(
        out,
        vec![Command::Ui(Action::Link(
            id("bob"),
            LinkState::NoPath(cause)
        ))]
    );
    let out = core.handle(Input::Link(link, LinkEvent::Ice(IceState::Failed)));
    assert!(sent(&out).is_empty(), "{out:?}");
    // The network changed and the link came up: the explanation goes.
    let out = core.handle(Input::Link(link, LinkEvent::State(LinkState::Connected)));
    assert_eq!(
        out,
        vec![Command::Ui(Action::Link(id("bob"), LinkState::Connected))]
    );
}

#[test]
fn a_peer_link_that_had_a_relay_candidate_fails_as_usual() {
    let (mut core, out) = joined(vec![peer("bob", true)]);
    let link = opened(&out)[0].id;
    let relay = SignalData::Candidate(Some(treff_shared::IceCandidate {
        candidate: "candidate:2 1 udp 41885439 203.0.113.1 50000 typ relay raddr 0.0.0.0 rport 0"
            .into(),
        sdp_mid: Some("0".into()),
        sdp_m_line_index: Some(0),
        username_fragment: None,
    }));
    core.handle(Input::Link(link, LinkEvent::Signal(relay)));
    let out = core.handle(Input::Link(link, LinkEvent::Ice(IceState::Failed)));
    assert!(sent(&out).is_empty(), "{out:?}");
    assert_eq!(out, vec![Command::RestartIce(link)]);
}

#[test]
fn a_peer_link_whose_connection_fails_while_ice_says_disconnected_says_why_too() {
    let (mut core, out) = joined(vec![peer("bob", true)]);
    let link = opened(&out)[0].id;
    core.handle(Input::Link(link, LinkEvent::Ice(IceState::Disconnected)));
    let out = core.handle(Input::Link(link, LinkEvent::State(LinkState::Failed)));
    let cause = NoPathCause::NoRelay;
    assert_eq!(
        out,
        vec![
            Command::Send(ClientMessage::NoPath {
                peer_id: id("bob"),
                cause
            }),
            Command::Ui(Action::Link(id("bob"), LinkState::NoPath(cause))),
        ]
    );
}

#[test]
fn a_link_that_stays_disconnected_restarts_ice_without_waiting_for_failure() {
    let (mut core, out) = joined(vec![peer("a", true), peer("b", true)]);
    let links: Vec<LinkId> = opened(&out).iter().map(|s| s.id).collect();
    for link in &links {
        core.handle(Input::Link(*link, LinkEvent::Ice(IceState::Connected)));
        let out = core.handle(Input::Link(*link, LinkEvent::Ice(IceState::Disconnected)));
        // The network may have changed under the signaling too: check it now.
        assert_eq!(out, vec![Command::ProbeSignaling]);
    }
    core.handle(Input::Tick(1_000));
    // a's link recovers by itself; b's stays down.
    core.handle(Input::Link(links[0], LinkEvent::Ice(IceState::Connected)));
    let restarts = |out: &[Command]| -> Vec<LinkId> {
        out.iter()
            .filter_map(|c| match c {
                Command::RestartIce(l) => Some(*l),
                _ => None,
            })
            .collect()
    };
    assert!(restarts(&core.handle(Input::Tick(2_999))).is_empty());
    assert_eq!(restarts(&core.handle(Input::Tick(3_000))), vec![links[1]]);
    // Once per disconnection.
    assert!(restarts(&core.handle(Input::Tick(10_000))).is_empty());
}

#[test]
fn a_link_that_stops_receiving_checks_the_signaling_and_restarts_once_it_is_back() {
    let (mut core, out) = joined(vec![peer("a", true), peer("b", true)]);
    let links: Vec<LinkId> = opened(&out).iter().map(|s| s.id).collect();
    let (busy, quiet) = (links[0], links[1]);
    let sample = |core: &mut CallCore, at: u64, link: LinkId, bytes: u64| {
        core.handle(Input::Tick(at));
        core.handle(Input::Link(link, LinkEvent::Received { bytes }))
    };
    for link in [busy, quiet] {
        core.handle(Input::Link(link, LinkEvent::Ice(IceState::Connected)));
    }
    // One link carries media; the other only ever got its first bytes (everything muted).
    for (i, at) in [0, 500, 1_000, 1_500].into_iter().enumerate() {
        assert!(sample(&mut core, at, busy, 1_000 * (i as u64 + 1)).is_empty());
        assert!(sample(&mut core, at, quiet, 100).is_empty());
    }
    // Silence shorter than the stall: nothing yet. Then the signaling is checked, and nothing
    // restarts while it may be fine.
    assert!(sample(&mut core, 2_000, busy, 4_000).is_empty());
    assert_eq!(
        sample(&mut core, 2_500, busy, 4_000),
        vec![Command::ProbeSignaling]
    );
    // Once per stall, and a link that never carried traffic is not taken for a stalled one.
    assert!(sample(&mut core, 3_000, busy, 4_000).is_empty());
    assert!(sample(&mut core, 3_000, quiet, 100).is_empty());
    // The probe found the signaling gone (our network changed): the resumed connection
    // restarts ICE on the stalled link only.
    core.handle(Input::Server(ServerEvent::Lost {
        reason: LostReason::Quiet,
        attempt: 1,
        retry_at_ms: 3_000,
    }));
    let out = server(
        &mut core,
        welcome("me", vec![peer("a", true), peer("b", true)], true),
    );
    assert!(out.contains(&Command::RestartIce(busy)), "{out:?}");
    assert!(!out.contains(&Command::RestartIce(quiet)), "{out:?}");
    // Traffic again after a long stall: our video starts over with a keyframe.
    assert_eq!(
        sample(&mut core, 4_500, busy, 5_000),
        vec![Command::RefreshVideo(busy)]
    );
    assert!(core.paths.links_to_restart().is_empty());
    // Once more a second later, while traffic flows, in case the first went out too early.
    assert!(sample(&mut core, 5_000, busy, 5_001).is_empty());
    assert_eq!(
        sample(&mut core, 5_500, busy, 5_002),
        vec![Command::RefreshVideo(busy)]
    );
    assert!(sample(&mut core, 6_000, busy, 5_003).is_empty());
    // A short stall (a busy page) ends without a keyframe.
    assert_eq!(
        sample(&mut core, 7_000, busy, 5_003),
        vec![Command::ProbeSignaling]
    );
    assert!(sample(&mut core, 7_500, busy, 5_004).is_empty());
}

#[test]
fn a_peer_back_online_gets_a_restart_on_links_that_are_down_and_our_unanswered_offer_on_others() {
    let (mut core, out) = joined(vec![peer("a", true), peer("b", true)]);
    let links: Vec<LinkId> = opened(&out).iter().map(|s| s.id).collect();
    core.handle(Input::Link(
        links[0],
        LinkEvent::Ice(IceState::Disconnected),
    ));
    core.handle(Input::Link(links[1], LinkEvent::Ice(IceState::Connected)));
    for (peer, link) in [("a", links[0]), ("b", links[1])] {
        let out = server(
            &mut core,
            ServerMessage::PeerStatus {
                peer_id: id(peer),
                status: PeerStatus::Online,
            },
        );
        let restarted = out.contains(&Command::RestartIce(link));
        assert_eq!(restarted, peer == "a", "{peer}: {out:?}");
        // A link that is up may still wait for an answer to an offer the peer never got.
        let resent = out.contains(&Command::ResendOffer(link));
        assert_eq!(resent, peer == "b", "{peer}: {out:?}");
    }
}

#[test]
fn every_peer_link_gets_its_share_of_the_upload_budget_as_members_come_and_go() {
    use super::budget::share;
    let mut core = captured();
    let mut first = welcome(
        "me",
        vec![peer("a", true), peer("b", true), peer("c", true)],
        false,
    );
    if let ServerMessage::Welcome(w) = &mut first {
        w.mesh_upload_kbps = 3_000;
    }
    let out = server(&mut core, first);
    let caps = |out: &[Command]| -> Vec<(LinkId, super::budget::VideoCap)> {
        out.iter()
            .filter_map(|c| match c {
                Command::CapVideo(l, cap) => Some((*l, *cap)),
                _ => None,
            })
            .collect()
    };
    // Three peers: each link gets a third, after the link is opened.
    let links: Vec<LinkId> = opened(&out).iter().map(|s| s.id).collect();
    let three = share(3_000, 3).unwrap();
    assert_eq!(
        caps(&out),
        links.iter().map(|l| (*l, three)).collect::<Vec<_>>()
    );
    let open_at = out
        .iter()
        .position(|c| matches!(c, Command::Link(LinkCommand::Open(_))))
        .unwrap();
    let cap_at = out
        .iter()
        .position(|c| matches!(c, Command::CapVideo(..)))
        .unwrap();
    assert!(
        open_at < cap_at,
        "a cap comes after its link exists: {out:?}"
    );
    // Nothing changed: nothing told again.
    assert!(caps(&core.handle(Input::Tick(500))).is_empty());
    // One leaves: the two others get half each.
    let out = server(
        &mut core,
        ServerMessage::PeerLeft {
            peer_id: id("c"),
            reason: LeaveReason::Left,
        },
    );
    let two = share(3_000, 2).unwrap();
    assert!(two.max_kbps > three.max_kbps);
    let mut got = caps(&out);
    got.sort_by_key(|(l, _)| *l);
    let mut left: Vec<(LinkId, _)> = links[..2].iter().map(|l| (*l, two)).collect();
    left.sort_by_key(|(l, _)| *l);
    assert_eq!(got, left);
}

#[test]
fn hands_and_reactions_are_frames_and_a_reaction_comes_down_after_a_while() {
    let (mut core, _) = joined(vec![peer("bob", true)]);
    for (intent, frame) in [
        (
            Intent::RaiseHand(true),
            ClientMessage::Hand { raised: true },
        ),
        (
            Intent::LowerHand(id("bob")),
            ClientMessage::LowerHand { peer_id: id("bob") },
        ),
        (
            Intent::React(Reaction::Clap),
            ClientMessage::React {
                reaction: Reaction::Clap,
            },
        ),
    ] {
        let out = core.handle(Input::Intent(intent));
        assert_eq!(out, vec![Command::SendAsked(frame)]);
    }
    let out = server(
        &mut core,
        ServerMessage::Hands {
            raised: vec![id("bob")],
        },
    );
    assert_eq!(out, vec![Command::Ui(Action::Hands(vec![id("bob")]))]);
    core.handle(Input::Tick(10_000));
    let out = server(
        &mut core,
        ServerMessage::Reaction {
            peer_id: id("bob"),
            reaction: Reaction::Heart,
        },
    );
    let shown = out
        .iter()
        .find_map(|c| match c {
            Command::Ui(Action::Reacted { id, reaction, .. }) => Some((*id, *reaction)),
            _ => None,
        })
        .expect("the reaction is shown");
    assert_eq!(shown.1, Reaction::Heart);
    let done = |out: &[Command]| out.contains(&Command::Ui(Action::ReactionDone(shown.0)));
    assert!(!done(&core.handle(Input::Tick(12_000))));
    assert!(done(&core.handle(Input::Tick(10_000 + reactions::SHOW_MS))));
    assert!(!done(&core.handle(Input::Tick(20_000))), "taken down once");
}

#[test]
fn waiting_for_a_moderator_shows_the_waiting_page_and_a_denial_ends_the_call() {
    let mut core = captured();
    let room = RoomName::new("team").expect("test room");
    let out = server(
        &mut core,
        ServerMessage::Waiting {
            peer_id: id("me"),
            room: room.clone(),
        },
    );
    assert!(out.contains(&Command::Ui(Action::Waiting)));
    assert!(out.contains(&Command::ShowRoomInAddress(room)));
    // Nothing is opened or sent while waiting; a moderator action cannot go out.
    assert!(opened(&out).is_empty() && sent(&out).is_empty());
    let out = core.handle(Input::Intent(Intent::SendChat("hello?".into())));
    assert_eq!(notices(&out), vec![Notice::ChatNotSent]);
    // Admitted: the welcome makes us a member like any join.
    let out = server(&mut core, welcome("me", vec![peer("ada", true)], false));
    assert_eq!(opened(&out).len(), 1);
    // A moderator's intents for the waiting room are plain frames.
    for (intent, frame) in [
        (
            Intent::WaitingRoom(true),
            ClientMessage::WaitingRoom { on: true },
        ),
        (
            Intent::Admit(id("bob")),
            ClientMessage::Admit { peer_id: id("bob") },
        ),
        (
            Intent::Deny(id("bob")),
            ClientMessage::Deny { peer_id: id("bob") },
        ),
    ] {
        assert_eq!(sent(&core.handle(Input::Intent(intent))), vec![frame]);
    }
    let out = server(
        &mut core,
        ServerMessage::Lobby {
            waiting: vec![treff_shared::Waiter {
                peer_id: id("bob"),
                name: DisplayName::new("Bob").expect("test name"),
            }],
        },
    );
    assert!(matches!(&out[..], [Command::Ui(Action::Lobby(w))] if w.len() == 1));
}
