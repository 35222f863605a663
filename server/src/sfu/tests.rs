//! The media server driven by real WebRTC peers (str0m playing the browsers), all in memory:
//! datagrams go between the peers' `Rtc`s and the [`Engine`] by hand, with a simulated clock, so
//! the tests are fast and repeatable.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer};
use str0m::format::Codec;
use str0m::media::{
    Direction, MediaKind as RtcKind, MediaTime, Mid, Rid, Simulcast, SimulcastLayer,
};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use treff_shared::{
    MediaKind, MediaLine, MediaLink, PeerId, SdpType, SessionDescription, SignalData, TileSize,
};

use super::engine::{Engine, EngineConfig, EngineOutput};

const SERVER: ([u8; 4], u16) = ([127, 0, 0, 1], 40_000);

fn server_addr() -> SocketAddr {
    SocketAddr::from(SERVER)
}

fn config() -> EngineConfig {
    let crypto = Arc::new(str0m::crypto::from_feature_flags());
    let certificate = crypto
        .dtls_provider
        .generate_certificate()
        .expect("a certificate");
    EngineConfig {
        candidate: server_addr(),
        local: server_addr(),
        connect_deadline: Duration::from_secs(10),
        datagram_rate: (10_000.0, 20_000.0),
        crypto,
        certificate,
    }
}

/// One browser link, played by str0m.
struct Browser {
    rtc: Rtc,
    addr: SocketAddr,
    peer: PeerId,
    link: MediaLink,
    events: Vec<Event>,
}

impl Browser {
    fn new(peer: &PeerId, link: MediaLink, port: u16, now: Instant) -> Browser {
        let mut rtc = Rtc::builder()
            .clear_codecs()
            .enable_opus(true)
            .enable_vp8(true)
            .build(now);
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
        rtc.add_remote_candidate(Candidate::host(server_addr(), "udp").unwrap());
        Browser {
            rtc,
            addr,
            peer: peer.clone(),
            link,
            events: Vec::new(),
        }
    }

    fn media_data(&self, mid: Mid) -> Vec<&str0m::media::MediaData> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::MediaData(d) if d.mid == mid => Some(d),
                _ => None,
            })
            .collect()
    }
}

/// The engine and the browsers, and the simulated clock.
struct World {
    engine: Engine,
    browsers: Vec<Browser>,
    now: Instant,
    /// Signals from the engine not handled by the test yet, per member and link.
    signals: BTreeMap<(PeerId, MediaLink), Vec<SignalData>>,
    speakers: Vec<Option<PeerId>>,
    /// Datagrams from browsers for the engine, not delivered yet.
    to_engine: Vec<(PeerId, MediaLink, SocketAddr, Vec<u8>)>,
}

impl World {
    fn new() -> World {
        let now = Instant::now();
        World {
            engine: Engine::new(config(), now),
            browsers: Vec::new(),
            now,
            signals: BTreeMap::new(),
            speakers: Vec::new(),
            to_engine: Vec::new(),
        }
    }

    fn take(&mut self, outputs: Vec<EngineOutput>) {
        for output in outputs {
            match output {
                EngineOutput::Transmit {
                    destination,
                    contents,
                } => {
                    if let Some(b) = self.browsers.iter_mut().find(|b| b.addr == destination) {
                        let input = Input::Receive(
                            self.now,
                            Receive {
                                proto: Protocol::Udp,
                                source: server_addr(),
                                destination,
                                contents: contents.as_slice().try_into().unwrap(),
                            },
                        );
                        let _ = b.rtc.handle_input(input);
                        let mut transmits = Vec::new();
                        drain_browser(b, &mut transmits);
                        for contents in transmits {
                            self.to_engine
                                .push((b.peer.clone(), b.link, b.addr, contents));
                        }
                    }
                }
                EngineOutput::Signal { peer, link, data } => {
                    self.signals.entry((peer, link)).or_default().push(data);
                }
                EngineOutput::ActiveSpeaker(s) => self.speakers.push(s),
                _ => {}
            }
        }
    }

    /// Runs the clock for `ms` milliseconds, moving datagrams both ways.
    fn run(&mut self, ms: u64) {
        for _ in 0..ms {
            self.now += Duration::from_millis(1);
            let now = self.now;
            for b in self.browsers.iter_mut() {
                let _ = b.rtc.handle_input(Input::Timeout(now));
                let mut transmits = Vec::new();
                drain_browser(b, &mut transmits);
                for contents in transmits {
                    self.to_engine
                        .push((b.peer.clone(), b.link, b.addr, contents));
                }
            }
            while !self.to_engine.is_empty() {
                for (peer, link, addr, contents) in std::mem::take(&mut self.to_engine) {
                    let out = self.engine.datagram(&peer, link, addr, &contents, now);
                    self.take(out);
                }
            }
            if self.engine.poll_timeout() <= now {
                let out = self.engine.timeout(now);
                self.take(out);
            }
        }
    }

    fn browser(&mut self, peer: &PeerId, link: MediaLink) -> &mut Browser {
        self.browsers
            .iter_mut()
            .find(|b| &b.peer == peer && b.link == link)
            .expect("browser")
    }

    fn signals(&mut self, peer: &PeerId, link: MediaLink) -> Vec<SignalData> {
        self.signals
            .remove(&(peer.clone(), link))
            .unwrap_or_default()
    }
}

fn flush(world: &mut World, peer: &PeerId, link: MediaLink) {
    let b = world.browser(peer, link);
    let mut transmits = Vec::new();
    drain_browser(b, &mut transmits);
    let (peer, link, addr) = (b.peer.clone(), b.link, b.addr);
    for contents in transmits {
        world.to_engine.push((peer.clone(), link, addr, contents));
    }
}

fn drain_browser(b: &mut Browser, transmits: &mut Vec<Vec<u8>>) {
    loop {
        match b.rtc.poll_output() {
            Ok(Output::Timeout(_)) | Err(_) => return,
            Ok(Output::Transmit(t)) => transmits.push(t.contents.to_vec()),
            Ok(Output::Event(e)) => b.events.push(e),
        }
    }
}

fn description(data: &SignalData) -> &SessionDescription {
    match data {
        SignalData::Description(d) => d,
        other => panic!("expected a description, got {other:?}"),
    }
}

/// A member that publishes microphone and camera (in two simulcast layers, `q` and `f`), and
/// subscribes. Returns the mids of its audio and video on the publish link.
fn publisher(world: &mut World, name: &str, port: u16) -> (PeerId, Mid, Mid) {
    let peer = PeerId::new(name).unwrap();
    let now = world.now;
    let out = world.engine.add(peer.clone(), false, now);
    world.take(out);
    let mut publish = Browser::new(&peer, MediaLink::Publish, port, now);
    let mut change = publish.rtc.sdp_api();
    let audio = change.add_media(
        RtcKind::Audio,
        Direction::SendOnly,
        Some(name.into()),
        None,
        None,
    );
    let mut simulcast = Simulcast::new();
    for rid in ["q", "f"] {
        simulcast.add_send_layer(SimulcastLayer {
            rid: Rid::from(rid),
            attributes: None,
        });
    }
    let video = change.add_media(
        RtcKind::Video,
        Direction::SendOnly,
        Some(name.into()),
        None,
        Some(simulcast),
    );
    let (offer, pending) = change.apply().unwrap();
    let mut description = SessionDescription::new(SdpType::Offer, offer.to_sdp_string());
    description.media = vec![
        MediaLine {
            mid: audio.to_string(),
            kind: MediaKind::Audio,
            peer: None,
        },
        MediaLine {
            mid: video.to_string(),
            kind: MediaKind::Camera,
            peer: None,
        },
    ];
    let out = world.engine.signal(
        &peer,
        MediaLink::Publish,
        SignalData::Description(description),
        now,
    );
    world.take(out);
    let answers = world.signals(&peer, MediaLink::Publish);
    let answer = description_of(&answers);
    assert_eq!(answer.kind, SdpType::Answer);
    publish
        .rtc
        .sdp_api()
        .accept_answer(pending, SdpAnswer::from_sdp_string(&answer.sdp).unwrap())
        .unwrap();
    world.browsers.push(publish);
    let subscribe = Browser::new(&peer, MediaLink::Subscribe, port + 1, now);
    world.browsers.push(subscribe);
    (peer, audio, video)
}

/// How large a subscriber shows `peer`'s camera: `width` px wide, at 4:3.
fn camera_tile(peer: &PeerId, width: u16) -> TileSize {
    TileSize {
        peer_id: peer.clone(),
        kind: MediaKind::Camera,
        width,
        height: width * 3 / 4,
    }
}

fn description_of(signals: &[SignalData]) -> SessionDescription {
    description(signals.last().expect("a description")).clone()
}

/// Answers every offer the engine made on a member's subscribe link.
fn answer_offers(world: &mut World, peer: &PeerId) -> Vec<MediaLine> {
    let mut lines = Vec::new();
    for signal in world.signals(peer, MediaLink::Subscribe) {
        let offer = description(&signal).clone();
        assert_eq!(offer.kind, SdpType::Offer);
        lines.extend(offer.media.clone());
        let browser = world.browser(peer, MediaLink::Subscribe);
        let answer = browser
            .rtc
            .sdp_api()
            .accept_offer(SdpOffer::from_sdp_string(&offer.sdp).unwrap())
            .unwrap();
        let now = world.now;
        let out = world.engine.signal(
            peer,
            MediaLink::Subscribe,
            SignalData::Description(SessionDescription::new(
                SdpType::Answer,
                answer.to_sdp_string(),
            )),
            now,
        );
        world.take(out);
    }
    lines
}

/// A VP8 frame the depacketizer takes: keyframe when the P bit is clear. The byte after the
/// frame tag says which layer it was written on.
fn vp8(keyframe: bool, layer: u8) -> Vec<u8> {
    let mut frame = vec![
        if keyframe { 0x10 } else { 0x11 },
        0x02,
        0x00,
        0x9d,
        0x01,
        0x2a,
    ];
    frame.extend_from_slice(&[layer; 200]);
    frame
}

/// Writes one frame of each layer and 20 ms of audio from a publisher.
fn publish_frame(world: &mut World, peer: &PeerId, audio: Mid, video: Mid, n: u64, key: bool) {
    let now = world.now;
    for (rid, layer) in [("q", 1u8), ("f", 3u8)] {
        let b = world.browser(peer, MediaLink::Publish);
        let vp8_pt = b
            .rtc
            .writer(video)
            .unwrap()
            .payload_params()
            .find(|p| p.spec().codec == Codec::Vp8)
            .unwrap()
            .pt();
        let writer = b.rtc.writer(video).unwrap().rid(Rid::from(rid));
        writer
            .write(
                vp8_pt,
                now,
                MediaTime::from_90khz(n * 3000),
                vp8(key, layer),
            )
            .unwrap();
        flush(world, peer, MediaLink::Publish);
    }
    let b = world.browser(peer, MediaLink::Publish);
    let opus_pt = b
        .rtc
        .writer(audio)
        .unwrap()
        .payload_params()
        .find(|p| p.spec().codec == Codec::Opus)
        .unwrap()
        .pt();
    b.rtc
        .writer(audio)
        .unwrap()
        .audio_level(-10, true)
        .write(
            opus_pt,
            now,
            MediaTime::new(n * 960, str0m::media::Frequency::FORTY_EIGHT_KHZ),
            vec![7u8; 60],
        )
        .unwrap();
    flush(world, peer, MediaLink::Publish);
}

fn connected(world: &World) -> bool {
    world.browsers.iter().all(|b| b.rtc.is_connected())
}

/// Runs until every publish link is connected (the server learns of published tracks then),
/// then answers the offers that follow, until every link is connected. Returns the lines each
/// member was offered.
/// The line a subscriber receives a camera on.
fn camera_line(lines: &[MediaLine]) -> Mid {
    lines
        .iter()
        .find(|l| l.kind == MediaKind::Camera)
        .unwrap()
        .mid
        .as_str()
        .into()
}

fn connect_all(world: &mut World) -> BTreeMap<PeerId, Vec<MediaLine>> {
    for _ in 0..300 {
        world.run(10);
        if world
            .browsers
            .iter()
            .filter(|b| b.link == MediaLink::Publish)
            .all(|b| b.rtc.is_connected())
        {
            break;
        }
    }
    let peers: Vec<PeerId> = world.browsers.iter().map(|b| b.peer.clone()).collect();
    let mut lines: BTreeMap<PeerId, Vec<MediaLine>> = BTreeMap::new();
    for _ in 0..300 {
        for peer in &peers {
            let offered = answer_offers(world, peer);
            lines.entry(peer.clone()).or_default().extend(offered);
        }
        world.run(10);
        if connected(world) {
            break;
        }
    }
    assert!(
        connected(world),
        "every link connects through ICE-lite and DTLS"
    );
    lines
}

#[test]
fn a_publishers_camera_and_microphone_reach_a_subscriber_with_the_sender_named() {
    let mut world = World::new();
    let (alice, a_audio, a_video) = publisher(&mut world, "alice", 50_000);
    let (bob, _, _) = publisher(&mut world, "bob", 50_010);
    let offered = connect_all(&mut world);
    // Bob's subscribe link is offered Alice's two tracks, named as hers.
    let lines = offered[&bob].clone();
    let mut kinds: Vec<(MediaKind, Option<PeerId>)> =
        lines.iter().map(|l| (l.kind, l.peer.clone())).collect();
    kinds.sort_by_key(|(k, _)| *k);
    assert_eq!(
        kinds,
        vec![
            (MediaKind::Audio, Some(alice.clone())),
            (MediaKind::Camera, Some(alice.clone()))
        ]
    );
    for n in 0..60 {
        publish_frame(&mut world, &alice, a_audio, a_video, n, n % 30 == 0);
        world.run(33);
        answer_offers(&mut world, &bob);
        answer_offers(&mut world, &alice);
    }
    let camera = lines
        .iter()
        .find(|l| l.kind == MediaKind::Camera)
        .unwrap()
        .mid
        .as_str()
        .into();
    let audio = lines
        .iter()
        .find(|l| l.kind == MediaKind::Audio)
        .unwrap()
        .mid
        .as_str()
        .into();
    let sub = world.browser(&bob, MediaLink::Subscribe);
    let frames = sub.media_data(camera);
    assert!(
        frames.len() > 30,
        "Bob decodes Alice's camera: {} frames",
        frames.len()
    );
    assert!(!sub.media_data(audio).is_empty(), "Bob hears Alice");
    // One layer at a time: once settled, every frame Bob gets is of the same layer.
    let layers: std::collections::BTreeSet<u8> =
        frames.iter().rev().take(20).map(|f| f.data[6]).collect();
    assert_eq!(layers.len(), 1, "{layers:?}");
    // Alice is the only one speaking.
    assert_eq!(world.speakers.first(), Some(&Some(alice.clone())));
    assert!(world.engine.forwarded_streams() >= 2);
    let counters = world.engine.counters();
    assert!(counters.frames_forwarded > 30);
    assert_eq!(counters.flood_drops, 0);
}

#[test]
fn a_publisher_that_restarts_ice_gets_its_subscribe_link_restarted_too() {
    let mut world = World::new();
    let (alice, a_audio, a_video) = publisher(&mut world, "alice", 51_500);
    let (bob, _, _) = publisher(&mut world, "bob", 51_510);
    connect_all(&mut world);
    // Alice's camera reaches Bob.
    for n in 0..30 {
        publish_frame(&mut world, &alice, a_audio, a_video, n, n % 30 == 0);
        world.run(33);
        answer_offers(&mut world, &bob);
        answer_offers(&mut world, &alice);
    }
    let ufrag = |sdp: &str| {
        sdp.lines()
            .find_map(|l| l.strip_prefix("a=ice-ufrag:"))
            .map(str::to_owned)
    };
    // Bob's network changed: his browser restarts ICE on the link it offers on.
    let now = world.now;
    let browser = world.browser(&bob, MediaLink::Publish);
    let old = Some(
        browser
            .rtc
            .direct_api()
            .local_ice_credentials()
            .ufrag
            .clone(),
    );
    let mut change = browser.rtc.sdp_api();
    change.ice_restart(true);
    let (offer, _pending) = change.apply().expect("an offer");
    let sdp = offer.to_sdp_string();
    assert_ne!(ufrag(&sdp), old);
    let out = world.engine.signal(
        &bob,
        MediaLink::Publish,
        SignalData::Description(SessionDescription::new(SdpType::Offer, sdp)),
        now,
    );
    // Both links have new local credentials, and the router learns them (the browser's
    // checks from its new address carry them).
    let registered: Vec<MediaLink> = out
        .iter()
        .filter_map(|o| match o {
            EngineOutput::Register { peer, link, .. } if peer == &bob => Some(*link),
            _ => None,
        })
        .collect();
    assert_eq!(registered, vec![MediaLink::Publish, MediaLink::Subscribe]);
    world.take(out);
    let answer = description_of(&world.signals(&bob, MediaLink::Publish));
    assert_eq!(answer.kind, SdpType::Answer);
    // The server offers the subscribe link again, and the offer restarts ICE: the browser
    // that answers it takes new credentials too.
    let credentials = |world: &mut World| {
        world
            .browser(&bob, MediaLink::Subscribe)
            .rtc
            .direct_api()
            .local_ice_credentials()
            .ufrag
            .clone()
    };
    let before = credentials(&mut world);
    let asked = world.engine.counters().keyframe_requests;
    let lines = answer_offers(&mut world, &bob);
    assert!(!lines.is_empty(), "a subscribe offer came");
    assert_ne!(
        credentials(&mut world),
        before,
        "the subscribe offer restarts ICE"
    );
    // Bob's decoders lost their references: Alice is asked for a keyframe, more than once
    // (the first may travel before Bob's new path is up).
    world.run(1_500);
    let now_asked = world.engine.counters().keyframe_requests;
    assert!(
        now_asked >= asked + 2,
        "keyframe requests {asked} -> {now_asked}"
    );
    // Alice, whose network did not change, is not offered anything.
    assert!(world.signals(&alice, MediaLink::Subscribe).is_empty());
}

#[test]
fn a_thumbnail_gets_the_low_layer_and_a_large_tile_the_high_one() {
    let mut world = World::new();
    let (alice, a_audio, a_video) = publisher(&mut world, "alice", 51_000);
    let (bob, _, _) = publisher(&mut world, "bob", 51_010);
    let camera = camera_line(&connect_all(&mut world)[&bob]);
    let last_layer = |world: &mut World| {
        let sub = world.browser(&bob, MediaLink::Subscribe);
        sub.media_data(camera).last().map(|f| f.data[6])
    };
    let tile = |width| camera_tile(&alice, width);
    let mut n = 0;
    for (width, layer) in [(160, 1u8), (1280, 3u8), (160, 1u8)] {
        let now = world.now;
        let out = world.engine.tiles(&bob, vec![tile(width)], now);
        world.take(out);
        for _ in 0..40 {
            // A keyframe every 10 frames, as a publisher answering requests would.
            publish_frame(&mut world, &alice, a_audio, a_video, n, n % 10 == 0);
            world.run(33);
            n += 1;
        }
        assert_eq!(last_layer(&mut world), Some(layer), "tile {width} px wide");
    }
    assert!(world.engine.counters().layer_switches >= 2);
    // The timestamps Bob sees never go back, across the switches.
    let sub = world.browser(&bob, MediaLink::Subscribe);
    let times: Vec<u64> = sub
        .media_data(camera)
        .iter()
        .map(|f| f.time.numer())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}

#[test]
fn a_layer_nobody_needs_pauses_after_a_while_and_resumes_at_once() {
    let mut world = World::new();
    let (alice, a_audio, a_video) = publisher(&mut world, "alice", 51_000);
    let (bob, _, _) = publisher(&mut world, "bob", 51_020);
    connect_all(&mut world);
    let layers_told = |world: &mut World| -> Vec<Vec<String>> {
        world
            .signals(&alice, MediaLink::Publish)
            .into_iter()
            .filter_map(|data| match data {
                SignalData::Layers { mid, active } => {
                    assert_eq!(mid, a_video.to_string());
                    Some(active)
                }
                _ => None,
            })
            .collect()
    };
    let tile = |width| camera_tile(&alice, width);
    let mut n = 0;
    let mut publish_for = |world: &mut World, ms: u64| {
        for _ in 0..ms / 33 {
            publish_frame(world, &alice, a_audio, a_video, n, n % 10 == 0);
            world.run(33);
            n += 1;
        }
    };
    // A subscriber that has not said how large it shows Alice may need the top layer.
    publish_for(&mut world, 4_000);
    assert_eq!(layers_told(&mut world), Vec::<Vec<String>>::new());
    // Bob shows her as a thumbnail: her top layer pauses, but only once that has lasted.
    let now = world.now;
    let out = world.engine.tiles(&bob, vec![tile(160)], now);
    world.take(out);
    publish_for(&mut world, 2_000);
    assert_eq!(layers_told(&mut world), Vec::<Vec<String>>::new());
    publish_for(&mut world, 1_700);
    assert_eq!(layers_told(&mut world), vec![vec!["q".to_string()]]);
    // Bob enlarges her: the top layer resumes within one review.
    let now = world.now;
    let out = world.engine.tiles(&bob, vec![tile(1280)], now);
    world.take(out);
    publish_for(&mut world, 400);
    assert_eq!(
        layers_told(&mut world),
        vec![vec!["q".to_string(), "f".to_string()]]
    );
    assert_eq!(world.engine.counters().layer_pauses, 2);
    // A short dip to a thumbnail and back pauses nothing.
    for width in [160, 1280] {
        let now = world.now;
        let out = world.engine.tiles(&bob, vec![tile(width)], now);
        world.take(out);
        publish_for(&mut world, 1_000);
    }
    assert_eq!(layers_told(&mut world), Vec::<Vec<String>>::new());
}

#[test]
fn a_keyframe_request_the_publisher_ignores_is_asked_again() {
    let mut world = World::new();
    let (alice, a_audio, a_video) = publisher(&mut world, "alice", 51_000);
    let (bob, _, _) = publisher(&mut world, "bob", 51_010);
    let camera = camera_line(&connect_all(&mut world)[&bob]);
    let last_layer = |world: &mut World| {
        let sub = world.browser(&bob, MediaLink::Subscribe);
        sub.media_data(camera).last().map(|f| f.data[6])
    };
    let requests = |world: &mut World| {
        let b = world.browser(&alice, MediaLink::Publish);
        b.events
            .iter()
            .filter(|e| matches!(e, Event::KeyframeRequest(_)))
            .count()
    };
    let tile = |width| camera_tile(&alice, width);
    let now = world.now;
    let out = world.engine.tiles(&bob, vec![tile(160)], now);
    world.take(out);
    let mut n = 0;
    for _ in 0..20 {
        publish_frame(&mut world, &alice, a_audio, a_video, n, n % 10 == 0);
        world.run(33);
        n += 1;
    }
    assert_eq!(last_layer(&mut world), Some(1));
    // The tile grows. Alice, like a browser asked again soon after its last keyframe, ignores
    // the first request and answers only the next one, once.
    let before = requests(&mut world);
    let now = world.now;
    let out = world.engine.tiles(&bob, vec![tile(1280)], now);
    world.take(out);
    let mut answered = false;
    for _ in 0..45 {
        let key = !answered && requests(&mut world) >= before + 2;
        answered |= key;
        publish_frame(&mut world, &alice, a_audio, a_video, n, key);
        world.run(33);
        n += 1;
    }
    assert!(
        answered,
        "asked again: {} requests",
        requests(&mut world) - before
    );
    assert_eq!(
        last_layer(&mut world),
        Some(3),
        "the large tile gets the high layer"
    );
}

#[test]
fn a_member_who_leaves_is_taken_off_the_others_subscriptions() {
    let mut world = World::new();
    let (alice, _, _) = publisher(&mut world, "alice", 52_000);
    let (bob, _, _) = publisher(&mut world, "bob", 52_010);
    connect_all(&mut world);
    let now = world.now;
    let out = world.engine.remove(&alice, now);
    assert!(out
        .iter()
        .any(|o| matches!(o, EngineOutput::Unregister { .. })));
    world.take(out);
    world.run(10);
    // Bob is offered the removal of Alice's lines.
    let offers = world.signals(&bob, MediaLink::Subscribe);
    assert!(!offers.is_empty(), "a new offer without Alice");
    assert!(description_of(&offers)
        .media
        .iter()
        .all(|l| l.peer.as_ref() != Some(&alice)));
    assert_eq!(world.engine.len(), 1);
}

#[test]
fn garbage_on_a_link_is_refused_and_counted_without_harm() {
    let mut world = World::new();
    let (alice, _, _) = publisher(&mut world, "alice", 53_000);
    let now = world.now;
    for junk in [
        &[][..],
        &[0x80][..],
        &[22, 254, 253, 0, 0][..],
        &[0u8; 40][..],
    ] {
        let out = world.engine.datagram(
            &alice,
            MediaLink::Publish,
            SocketAddr::from(([127, 0, 0, 1], 9)),
            junk,
            now,
        );
        assert!(out
            .iter()
            .all(|o| !matches!(o, EngineOutput::Signal { .. })));
    }
    assert!(world.engine.counters().rejected >= 3);
}

#[test]
fn a_flooding_publisher_is_cut_to_its_rate() {
    let mut world = World::new();
    let (alice, _, _) = publisher(&mut world, "alice", 54_000);
    let now = world.now;
    for _ in 0..30_000 {
        let _ = world.engine.datagram(
            &alice,
            MediaLink::Publish,
            SocketAddr::from(([127, 0, 0, 1], 54_000)),
            &[0x80, 0x60, 0, 1],
            now,
        );
    }
    assert!(
        world.engine.counters().flood_drops >= 9_000,
        "{:?}",
        world.engine.counters()
    );
}

/// Not a check: a room of two publishers and eight viewers forwarding 300 frames, to profile
/// the engine (`valgrind --tool=callgrind <test binary> fan_out_profile --ignored`).
#[test]
#[ignore]
fn fan_out_profile() {
    let mut world = World::new();
    let (alice, a_audio, a_video) = publisher(&mut world, "alice", 55_000);
    let (bob, _, _) = publisher(&mut world, "bob", 55_010);
    for i in 0..8u16 {
        let peer = PeerId::new(&format!("viewer{i}")).unwrap();
        let now = world.now;
        let out = world.engine.add(peer.clone(), true, now);
        world.take(out);
        world
            .browsers
            .push(Browser::new(&peer, MediaLink::Subscribe, 56_000 + i, now));
    }
    connect_all(&mut world);
    for n in 0..300 {
        publish_frame(&mut world, &alice, a_audio, a_video, n, n % 30 == 0);
        world.run(33);
    }
    let _ = bob;
    assert!(world.engine.counters().frames_forwarded > 1000);
}
