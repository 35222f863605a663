//! Bounded property tests ("fuzzing") of frame decoding and of the room state machine.
//!
//! The suite runs a modest number of cases; `scripts/fuzz.sh` runs many more for a bounded
//! time (`PROPTEST_CASES`). Invariants checked after every step of the room model:
//! - no connection is a member of two rooms, peer ids and connections are unique in a room;
//! - every frame goes to a connection that is currently a member of that room;
//! - every online member's view of the room (built only from the frames it received) equals
//!   the room's real membership;
//! - in every pair exactly one side offers and exactly one side is polite;
//! - nothing panics.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use treff_server::room::{
    Clock, ConnId, Input, JoinRequest, ModeratorAction, Output, Password, Room, RoomConfig,
};
use treff_shared::{
    ClientMessage, DisplayName, MediaState, PeerId, RoomName, ServerMessage, SignalData,
};

/// Text that is often almost a valid frame.
fn frame_text() -> impl Strategy<Value = String> {
    let types = prop::sample::select(vec![
        "join", "leave", "signal", "chat", "media", "ping", "welcome", "", "JOIN",
    ]);
    let value = prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        "[a-z\u{e9}\u{1F600}\\\\\"/ ]{0,12}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        Just(r#"{"candidate":null}"#.to_string()),
        Just(r#"{"description":{"type":"offer","sdp":"v=0"}}"#.to_string()),
    ];
    let field = (
        prop::sample::select(vec![
            "room",
            "name",
            "to",
            "data",
            "text",
            "audio",
            "resume_token",
            "from",
            "type",
        ]),
        value,
    )
        .prop_map(|(k, v)| format!("\"{k}\":{v}"));
    prop_oneof![
        any::<String>(),
        (types, prop::collection::vec(field, 0..5)).prop_map(|(t, fields)| {
            let mut parts = vec![format!("\"type\":\"{t}\"")];
            parts.extend(fields);
            format!("{{{}}}", parts.join(","))
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256)
    ))]

    #[test]
    fn decoding_never_panics_and_accepted_frames_round_trip(text in frame_text()) {
        match ClientMessage::decode(&text) {
            Ok(msg) => prop_assert_eq!(ClientMessage::decode(&msg.encode()).unwrap(), msg),
            Err(err) => {
                prop_assert!(!err.message.is_empty());
                prop_assert!(err.message.len() < 600, "bounded message: {}", err.message);
            }
        }
    }

    #[test]
    fn room_invariants_hold_for_any_sequence(ops in prop::collection::vec(op(), 1..80)) {
        let mut model = Model::default();
        for op in ops {
            model.apply(op);
            model.check();
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Join { conn: u8, room: u8, resume: bool },
    Leave { conn: u8 },
    Lost { conn: u8 },
    Signal { conn: u8, to: u8 },
    Chat { conn: u8, blank: bool },
    Media { conn: u8, audio: bool },
    Wait { secs: u8 },
    Moderate { conn: u8, action: u8, target: u8 },
}

fn op() -> impl Strategy<Value = Op> {
    let conn = 0u8..12;
    prop_oneof![
        4 => (conn.clone(), 0u8..3, any::<bool>()).prop_map(|(conn, room, resume)| Op::Join { conn, room, resume }),
        1 => conn.clone().prop_map(|conn| Op::Leave { conn }),
        2 => conn.clone().prop_map(|conn| Op::Lost { conn }),
        3 => (conn.clone(), 0u8..12).prop_map(|(conn, to)| Op::Signal { conn, to }),
        1 => (conn.clone(), any::<bool>()).prop_map(|(conn, blank)| Op::Chat { conn, blank }),
        1 => (conn.clone(), any::<bool>()).prop_map(|(conn, audio)| Op::Media { conn, audio }),
        1 => (0u8..30).prop_map(|secs| Op::Wait { secs }),
        2 => (conn.clone(), 0u8..8, 0u8..12).prop_map(|(conn, action, target)| Op::Moderate { conn, action, target }),
    ]
}

/// What one client believes: its peer id and the peers it was told about.
#[derive(Debug, Default, Clone)]
struct View {
    me: Option<PeerId>,
    peers: BTreeMap<PeerId, (bool, bool)>,
}

#[derive(Default)]
struct Model {
    rooms: HashMap<u8, Room>,
    /// Which room each connection joined (as far as the sessions know).
    joined: HashMap<ConnId, u8>,
    /// Resume tokens a client could present, per logical client (by conn slot).
    tokens: HashMap<u8, (u8, String)>,
    /// Connection ids are never reused, like the server's.
    current_conn: HashMap<u8, ConnId>,
    next_conn: ConnId,
    views: HashMap<ConnId, View>,
    clock: Option<Instant>,
    elapsed: Duration,
    /// Rooms made so far; each one gets its own seed, so a recreated room does not hand out
    /// the tokens of its predecessor.
    rooms_made: u64,
}

impl Model {
    fn now(&mut self) -> Instant {
        *self.clock.get_or_insert_with(Instant::now) + self.elapsed
    }

    fn conn_of(&mut self, slot: u8) -> ConnId {
        if let Some(c) = self.current_conn.get(&slot) {
            return *c;
        }
        self.next_conn += 1;
        self.current_conn.insert(slot, self.next_conn);
        self.next_conn
    }

    fn apply(&mut self, op: Op) {
        let now = self.now();
        let clock = Clock { now, unix_ms: 0 };
        match op {
            Op::Join { conn, room, resume } => {
                let c = self.conn_of(conn);
                if self.joined.contains_key(&c) {
                    return; // the session refuses a second join (already-joined)
                }
                let token = match self.tokens.get(&conn) {
                    Some((r, t)) if resume && *r == room => Some(t.clone()),
                    _ => None,
                };
                let name = RoomName::new(&format!("room{room}")).unwrap();
                let seed = &mut self.rooms_made;
                let r = self.rooms.entry(room).or_insert_with(|| {
                    *seed += 1;
                    Room::new(
                        name,
                        RoomConfig {
                            capacity: 4,
                            history_len: 3,
                            resume_grace: Duration::from_secs(20),
                            ..RoomConfig::default()
                        },
                        StdRng::seed_from_u64(*seed),
                    )
                });
                let result = r.join(
                    JoinRequest {
                        conn: c,
                        name: DisplayName::new("P").unwrap(),
                        media: MediaState::default(),
                        resume_token: token,
                        role: None,
                        password: Password::None,
                        skip_waiting_room: false,
                    },
                    clock,
                );
                if let Ok((joined, out)) = result {
                    for o in &out {
                        if let Output::Send {
                            to,
                            msg: ServerMessage::Welcome(w),
                        } = o
                        {
                            if to.contains(&c) {
                                self.tokens.insert(conn, (room, w.resume_token.clone()));
                            }
                        }
                    }
                    self.joined.insert(c, room);
                    self.views.insert(c, View::default());
                    self.deliver(room, out);
                    let view = &self.views[&c];
                    assert_eq!(view.me.as_ref(), Some(&joined.peer_id));
                }
            }
            Op::Leave { conn } | Op::Lost { conn } => {
                let c = self.conn_of(conn);
                let Some(room) = self.joined.remove(&c) else {
                    return;
                };
                let input = if matches!(op, Op::Leave { .. }) {
                    Input::Leave
                } else {
                    Input::Lost
                };
                let out = self.rooms.get_mut(&room).unwrap().handle(c, input, clock);
                self.views.remove(&c);
                // A lost client comes back on a new connection.
                self.current_conn.remove(&conn);
                self.deliver(room, out);
            }
            Op::Signal { conn, to } => {
                let c = self.conn_of(conn);
                let Some(&room) = self.joined.get(&c) else {
                    return;
                };
                let r = &self.rooms[&room];
                let ids = r.member_ids();
                let to = ids
                    .get(to as usize % ids.len().max(1))
                    .cloned()
                    .unwrap_or_else(|| PeerId::new("ghost").unwrap());
                let out = self.rooms.get_mut(&room).unwrap().handle(
                    c,
                    Input::Signal {
                        to,
                        data: SignalData::Candidate(None),
                    },
                    clock,
                );
                self.deliver(room, out);
            }
            Op::Chat { conn, blank } => {
                let c = self.conn_of(conn);
                let Some(&room) = self.joined.get(&c) else {
                    return;
                };
                let text = if blank { " ".into() } else { "hi".into() };
                let out = self
                    .rooms
                    .get_mut(&room)
                    .unwrap()
                    .handle(c, Input::Chat { text }, clock);
                self.deliver(room, out);
            }
            Op::Media { conn, audio } => {
                let c = self.conn_of(conn);
                let Some(&room) = self.joined.get(&c) else {
                    return;
                };
                let media = MediaState {
                    audio,
                    ..MediaState::default()
                };
                let out = self
                    .rooms
                    .get_mut(&room)
                    .unwrap()
                    .handle(c, Input::Media(media), clock);
                self.deliver(room, out);
            }
            Op::Moderate {
                conn,
                action,
                target,
            } => {
                let c = self.conn_of(conn);
                let Some(&room) = self.joined.get(&c) else {
                    return;
                };
                let ids = self.rooms[&room].member_ids();
                let target = ids[target as usize % ids.len()].clone();
                let input = Input::Moderate(match action {
                    0 | 1 => ModeratorAction::Kick(target),
                    2 => ModeratorAction::Lock(true),
                    3 | 4 => ModeratorAction::Lock(false),
                    5 | 6 => ModeratorAction::RequestMute(target),
                    _ => ModeratorAction::EndRoom,
                });
                let out = self.rooms.get_mut(&room).unwrap().handle(c, input, clock);
                self.deliver(room, out);
            }
            Op::Wait { secs } => {
                self.elapsed += Duration::from_secs(u64::from(secs));
                let now = self.now();
                let rooms: Vec<u8> = self.rooms.keys().copied().collect();
                for room in rooms {
                    let out = self.rooms.get_mut(&room).unwrap().handle_timeout(now);
                    self.deliver(room, out);
                }
            }
        }
        self.rooms.retain(|_, r| !r.is_empty());
    }

    /// Applies outputs to the clients' views, checking each recipient is in that room.
    fn deliver(&mut self, room: u8, out: Vec<Output>) {
        for output in out {
            match output {
                Output::Send { to, msg } => {
                    for conn in to {
                        assert_eq!(
                            self.joined.get(&conn),
                            Some(&room),
                            "frame to a non-member: {msg:?}"
                        );
                        let view = self.views.get_mut(&conn).unwrap();
                        apply_frame(view, &msg);
                    }
                }
                Output::Close { conn, .. } => {
                    // The replaced connection's session stops without reporting a loss.
                    self.joined.remove(&conn);
                    self.views.remove(&conn);
                    self.current_conn.retain(|_, c| *c != conn);
                }
                // The media server and the log are the shell's business; the room's own view
                // is checked.
                Output::Media(_) | Output::NoPath { .. } => {}
            }
        }
    }

    fn check(&self) {
        let mut seen = BTreeSet::new();
        for (room_key, room) in &self.rooms {
            let ids = room.member_ids();
            let unique: BTreeSet<_> = ids.iter().collect();
            assert_eq!(unique.len(), ids.len(), "peer ids unique in a room");
            for (conn, r) in &self.joined {
                if r != room_key {
                    continue;
                }
                assert!(seen.insert(*conn), "connection in two rooms");
                let me = room
                    .peer_of(*conn)
                    .expect("a joined connection is a member");
                let view = &self.views[conn];
                assert_eq!(view.me.as_ref(), Some(me));
                let expected: BTreeSet<_> = ids.iter().filter(|p| *p != me).cloned().collect();
                let believed: BTreeSet<_> = view.peers.keys().cloned().collect();
                assert_eq!(
                    believed, expected,
                    "an online member's view matches the room"
                );
            }
            // Roles agree across every pair of online members.
            let online: Vec<_> = self
                .joined
                .iter()
                .filter(|(_, r)| *r == room_key)
                .map(|(c, _)| &self.views[c])
                .collect();
            for a in &online {
                for b in &online {
                    let (Some(ida), Some(idb)) = (&a.me, &b.me) else {
                        continue;
                    };
                    if ida == idb {
                        continue;
                    }
                    let (a_offers, a_polite) = a.peers[idb];
                    let (b_offers, b_polite) = b.peers[ida];
                    assert!(a_offers ^ b_offers, "exactly one offerer");
                    assert!(a_polite ^ b_polite, "exactly one polite side");
                }
            }
        }
    }
}

fn apply_frame(view: &mut View, msg: &ServerMessage) {
    match msg {
        ServerMessage::Welcome(w) => {
            view.me = Some(w.peer_id.clone());
            view.peers = w
                .peers
                .iter()
                .map(|p| (p.peer_id.clone(), (p.offer, p.polite)))
                .collect();
        }
        ServerMessage::PeerJoined { peer } => {
            view.peers
                .insert(peer.peer_id.clone(), (peer.offer, peer.polite));
        }
        ServerMessage::PeerLeft { peer_id, .. } => {
            view.peers.remove(peer_id);
        }
        _ => {}
    }
}

/// A datagram as the media port might receive it: garbage, or STUN-shaped with a USERNAME.
fn datagram() -> impl Strategy<Value = Vec<u8>> {
    let stun = (
        prop::sample::select(vec!["ufrag1", "ufrag2", "nobody", "", ":"]),
        prop::collection::vec(any::<u8>(), 0..8),
        any::<bool>(),
    )
        .prop_map(|(ufrag, tail, truncate)| {
            let user = format!("{ufrag}:remote");
            let mut attr = vec![0x00, 0x06];
            attr.extend_from_slice(&(user.len() as u16).to_be_bytes());
            attr.extend_from_slice(user.as_bytes());
            while attr.len() % 4 != 0 {
                attr.push(0);
            }
            attr.extend_from_slice(&tail);
            let mut msg = vec![0x00, 0x01];
            msg.extend_from_slice(&(attr.len() as u16).to_be_bytes());
            msg.extend_from_slice(&[0x21, 0x12, 0xa4, 0x42]);
            msg.extend_from_slice(&[1; 12]);
            msg.extend_from_slice(&attr);
            if truncate {
                msg.truncate(msg.len() / 2);
            }
            msg
        });
    prop_oneof![prop::collection::vec(any::<u8>(), 0..64), stun]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(256)
    ))]

    /// The media port's router never panics, only hands a datagram to a registered link, and
    /// sends a source's non-STUN datagrams to the link whose ufrag that source last checked.
    #[test]
    fn the_media_router_routes_only_to_known_links(
        traffic in prop::collection::vec((0u16..6, datagram()), 1..60),
    ) {
        use treff_server::sfu::demux::{kind, stun_local_ufrag, Kind, Router};
        let mut router = Router::default();
        router.register("ufrag1".to_owned(), 1u8);
        router.register("ufrag2".to_owned(), 2u8);
        let mut last: HashMap<u16, u8> = HashMap::new();
        for (port, bytes) in traffic {
            let source = std::net::SocketAddr::from(([127, 0, 0, 1], 40_000 + port));
            let routed = router.route(source, &bytes);
            if let Ok(target) = routed {
                prop_assert!(target == 1 || target == 2);
            }
            match (kind(&bytes), stun_local_ufrag(&bytes)) {
                (Kind::Stun, Some("ufrag1")) => { last.insert(port, 1); }
                (Kind::Stun, Some("ufrag2")) => { last.insert(port, 2); }
                (Kind::Dtls | Kind::Rtp, _) => {
                    prop_assert_eq!(routed.ok(), last.get(&port).copied());
                }
                _ => {}
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(64)
    ))]

    /// Whatever arrives for a member's links, the media server does not panic and answers
    /// nothing but datagrams on the port.
    #[test]
    fn the_media_server_survives_any_datagram(
        traffic in prop::collection::vec((any::<bool>(), datagram()), 1..40),
    ) {
        use std::sync::Arc;
        use treff_server::sfu::engine::{Engine, EngineConfig, EngineOutput};
        use treff_shared::MediaLink;
        let crypto = Arc::new(str0m::crypto::from_feature_flags());
        let certificate = crypto.dtls_provider.generate_certificate().unwrap();
        let local = std::net::SocketAddr::from(([127, 0, 0, 1], 40_000));
        let config = EngineConfig {
            candidate: local,
            local,
            connect_deadline: Duration::from_secs(10),
            datagram_rate: (1000.0, 1000.0),
            crypto,
            certificate,
        };
        let now = Instant::now();
        let mut engine = Engine::new(config, now);
        let peer = PeerId::new("p1").unwrap();
        engine.add(peer.clone(), false, now);
        let source = std::net::SocketAddr::from(([127, 0, 0, 1], 50_000));
        for (publish, bytes) in traffic {
            let link = if publish { MediaLink::Publish } else { MediaLink::Subscribe };
            for output in engine.datagram(&peer, link, source, &bytes, now) {
                prop_assert!(
                    matches!(output, EngineOutput::Transmit { .. }),
                    "unexpected {:?}",
                    output
                );
            }
        }
        let _ = engine.timeout(now + Duration::from_secs(1));
    }
}
