//! The media server end to end: the real server on loopback, members joining over real
//! WebSockets, and real WebRTC clients (str0m) publishing and subscribing over real UDP on the
//! media port.

mod common;

use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::{Client, Event as WsEvent, TestServer};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{
    Direction, Frequency, MediaKind as RtcKind, MediaTime, Mid, Rid, Simulcast, SimulcastLayer,
};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use treff_shared::{
    ClientMessage, MediaKind, MediaLine, MediaLink, MediaMode, PeerId, SdpType, ServerMessage,
    SessionDescription, SignalData,
};

/// One link: str0m playing the browser, on its own UDP socket.
struct Link {
    rtc: Rtc,
    socket: UdpSocket,
}

impl Link {
    fn new(server: SocketAddr) -> Link {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_nonblocking(true).unwrap();
        let mut rtc = Rtc::builder()
            .clear_codecs()
            .enable_opus(true)
            .enable_vp8(true)
            .build(Instant::now());
        rtc.add_local_candidate(Candidate::host(socket.local_addr().unwrap(), "udp").unwrap());
        rtc.add_remote_candidate(Candidate::host(server, "udp").unwrap());
        Link { rtc, socket }
    }

    /// Feeds what arrived and the time, sends what is due; returns the media received.
    fn pump(&mut self) -> Vec<(Mid, Vec<u8>)> {
        let mut media = Vec::new();
        let mut buf = [0u8; 2000];
        while let Ok((n, source)) = self.socket.recv_from(&mut buf) {
            let input = Input::Receive(
                Instant::now(),
                Receive {
                    proto: Protocol::Udp,
                    source,
                    destination: self.socket.local_addr().unwrap(),
                    contents: buf[..n].try_into().unwrap(),
                },
            );
            let _ = self.rtc.handle_input(input);
            self.drain(&mut media);
        }
        let _ = self.rtc.handle_input(Input::Timeout(Instant::now()));
        self.drain(&mut media);
        media
    }

    fn drain(&mut self, media: &mut Vec<(Mid, Vec<u8>)>) {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(_)) | Err(_) => return,
                Ok(Output::Transmit(t)) => {
                    let _ = self.socket.send_to(&t.contents, t.destination);
                }
                Ok(Output::Event(Event::MediaData(d))) => media.push((d.mid, d.data.to_vec())),
                Ok(Output::Event(_)) => {}
            }
        }
    }
}

struct Member {
    ws: Client,
    id: PeerId,
    epoch: Option<u32>,
    publish: Link,
    subscribe: Link,
    pending: Option<SdpPendingOffer>,
    /// Our audio and camera lines on the publish link, once offered.
    sending: Option<(Mid, Mid)>,
    /// What the server said each line of the subscribe link carries.
    lines: BTreeMap<String, MediaLine>,
    /// Frames received on each subscribe line.
    received: BTreeMap<String, usize>,
    frame: u64,
}

impl Member {
    async fn join(server: &TestServer, room: &str, name: &str) -> Member {
        let mut ws = Client::connect(server).await;
        let welcome = ws.join(room, name).await;
        let epoch = (welcome.mode == MediaMode::Sfu).then_some(welcome.mode_epoch);
        Member {
            ws,
            id: welcome.peer_id,
            epoch,
            // The media port is the HTTP port's number, on UDP.
            publish: Link::new(server.addr),
            subscribe: Link::new(server.addr),
            pending: None,
            sending: None,
            lines: BTreeMap::new(),
            received: BTreeMap::new(),
            frame: 0,
        }
    }

    async fn signal(&mut self, link: MediaLink, kind: SdpType, sdp: String, media: Vec<MediaLine>) {
        let epoch = self.epoch.expect("in a media-server room");
        self.ws
            .send(&ClientMessage::MediaSignal {
                epoch,
                link,
                data: SignalData::Description(SessionDescription { kind, sdp, media }),
            })
            .await;
    }

    /// Offers microphone and camera (two simulcast layers) on the publish link.
    async fn offer(&mut self) {
        let mut change = self.publish.rtc.sdp_api();
        let audio = change.add_media(RtcKind::Audio, Direction::SendOnly, None, None, None);
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
            None,
            None,
            Some(simulcast),
        );
        let (offer, pending) = change.apply().unwrap();
        self.pending = Some(pending);
        self.sending = Some((audio, video));
        let lines = vec![
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
        self.signal(
            MediaLink::Publish,
            SdpType::Offer,
            offer.to_sdp_string(),
            lines,
        )
        .await;
    }

    async fn on_frame(&mut self, msg: ServerMessage) {
        match msg {
            ServerMessage::Mode { mode, epoch } => {
                assert_eq!(mode, MediaMode::Sfu);
                self.epoch = Some(epoch);
            }
            ServerMessage::MediaSignal {
                link: MediaLink::Publish,
                data: SignalData::Description(answer),
                ..
            } => {
                assert_eq!(answer.kind, SdpType::Answer);
                let pending = self.pending.take().expect("an offer out");
                self.publish
                    .rtc
                    .sdp_api()
                    .accept_answer(pending, SdpAnswer::from_sdp_string(&answer.sdp).unwrap())
                    .unwrap();
            }
            ServerMessage::MediaSignal {
                link: MediaLink::Subscribe,
                data: SignalData::Description(offer),
                ..
            } => {
                assert_eq!(offer.kind, SdpType::Offer);
                for line in offer.media {
                    self.lines.insert(line.mid.clone(), line);
                }
                let answer = self
                    .subscribe
                    .rtc
                    .sdp_api()
                    .accept_offer(SdpOffer::from_sdp_string(&offer.sdp).unwrap())
                    .unwrap();
                self.signal(
                    MediaLink::Subscribe,
                    SdpType::Answer,
                    answer.to_sdp_string(),
                    vec![],
                )
                .await;
            }
            _ => {}
        }
    }

    /// Sends one camera frame on each layer and 20 ms of audio.
    fn send_media(&mut self) {
        let Some((audio, video)) = self.sending else {
            return;
        };
        if !self.publish.rtc.is_connected() {
            return;
        }
        let n = self.frame;
        self.frame += 1;
        let rtc = &mut self.publish.rtc;
        let pt = |rtc: &mut Rtc, mid, codec| {
            rtc.writer(mid)
                .unwrap()
                .payload_params()
                .find(|p| p.spec().codec == codec)
                .unwrap()
                .pt()
        };
        let vp8 = pt(rtc, video, Codec::Vp8);
        for rid in ["q", "f"] {
            // A VP8 frame whose P bit marks every 15th a keyframe.
            let mut frame = vec![if n % 15 == 0 { 0x10 } else { 0x11 }, 0x02, 0x00];
            frame.extend_from_slice(&[0x5a; 400]);
            let rtc = &mut self.publish.rtc;
            let _ = rtc.writer(video).unwrap().rid(Rid::from(rid)).write(
                vp8,
                Instant::now(),
                MediaTime::from_90khz(n * 3000),
                frame,
            );
            self.publish.drain(&mut Vec::new());
        }
        let rtc = &mut self.publish.rtc;
        let opus = pt(rtc, audio, Codec::Opus);
        let _ = rtc.writer(audio).unwrap().audio_level(-20, true).write(
            opus,
            Instant::now(),
            MediaTime::new(n * 960, Frequency::FORTY_EIGHT_KHZ),
            vec![9u8; 80],
        );
        self.publish.drain(&mut Vec::new());
    }

    async fn step(&mut self) {
        while let Some(WsEvent::Frame(msg)) = self.ws.next_event(Duration::from_millis(1)).await {
            self.on_frame(msg).await;
        }
        if self.sending.is_none() && self.epoch.is_some() {
            self.offer().await;
        }
        self.publish.pump();
        for (mid, _) in self.subscribe.pump() {
            *self.received.entry(mid.to_string()).or_default() += 1;
        }
    }

    /// Frames received of `owner`'s `kind`.
    fn received_of(&self, owner: &PeerId, kind: MediaKind) -> usize {
        self.lines
            .values()
            .filter(|l| l.peer.as_ref() == Some(owner) && l.kind == kind)
            .map(|l| self.received.get(&l.mid).copied().unwrap_or(0))
            .sum()
    }
}

/// Runs every member for `duration`, sending media every 33 ms.
async fn run(members: &mut [Member], duration: Duration) {
    let end = Instant::now() + duration;
    let mut next_frame = Instant::now();
    while Instant::now() < end {
        for m in members.iter_mut() {
            m.step().await;
        }
        if Instant::now() >= next_frame {
            next_frame += Duration::from_millis(33);
            for m in members.iter_mut() {
                m.send_media();
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

fn media_server(threshold: u16) -> TestServer {
    if let Ok(filter) = std::env::var("TREFF_TEST_LOG") {
        let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
    }
    TestServer::start(move |c| c.sfu_threshold = threshold)
}

#[tokio::test]
async fn members_publish_and_receive_each_other_through_the_media_server_over_udp() {
    let server = media_server(2);
    let mut members = vec![
        Member::join(&server, "udp", "Ada").await,
        Member::join(&server, "udp", "Bob").await,
    ];
    run(&mut members, Duration::from_secs(6)).await;
    let (ada, bob) = (members[0].id.clone(), members[1].id.clone());
    for (me, other) in [(&members[0], &bob), (&members[1], &ada)] {
        assert!(me.publish.rtc.is_connected(), "{} publishes", me.id);
        assert!(me.subscribe.rtc.is_connected(), "{} subscribes", me.id);
        let video = me.received_of(other, MediaKind::Camera);
        let audio = me.received_of(other, MediaKind::Audio);
        // Six seconds at 30 frames per second, less the time to connect.
        assert!(
            video > 60,
            "{} got {video} camera frames from {other}",
            me.id
        );
        assert!(
            audio > 60,
            "{} got {audio} audio frames from {other}",
            me.id
        );
        assert!(
            me.lines.values().all(|l| l.peer.as_ref() == Some(other)),
            "every line names its owner: {:?}",
            me.lines
        );
    }
    let (status, _, metrics) = server.get("/metrics");
    assert_eq!(status, 200);
    let streams: u64 = metrics
        .lines()
        .find(|l| l.starts_with("treff_sfu_streams{room=\"udp\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no stream gauge:\n{metrics}"));
    assert_eq!(streams, 4, "two tracks to each of two members");
    assert!(metrics.contains("treff_sfu_rooms 1"), "{metrics}");
}

#[tokio::test]
async fn a_third_member_joins_a_room_on_the_media_server_and_sees_both() {
    let server = media_server(2);
    let mut members = vec![
        Member::join(&server, "three", "Ada").await,
        Member::join(&server, "three", "Bob").await,
    ];
    run(&mut members, Duration::from_secs(2)).await;
    members.push(Member::join(&server, "three", "Cy").await);
    run(&mut members, Duration::from_secs(5)).await;
    let cy = &members[2];
    for other in [&members[0].id, &members[1].id] {
        assert!(
            cy.received_of(other, MediaKind::Camera) > 30,
            "the newcomer sees {other}: {:?} {:?}",
            cy.lines,
            cy.received
        );
    }
    assert!(
        members[0].received_of(&cy.id, MediaKind::Camera) > 30,
        "and is seen"
    );
}

#[tokio::test]
async fn garbage_and_strangers_on_the_media_port_are_counted_and_change_nothing() {
    let server = media_server(2);
    let mut members = vec![
        Member::join(&server, "junk", "Ada").await,
        Member::join(&server, "junk", "Bob").await,
    ];
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    for junk in [
        &b"hello"[..],
        &[0x80, 0x60, 0, 1, 0, 0, 0, 0][..],
        &[0x00, 0x01, 0, 0][..],
    ] {
        for _ in 0..50 {
            stranger.send_to(junk, server.addr).unwrap();
        }
    }
    run(&mut members, Duration::from_secs(4)).await;
    assert!(members[1].received_of(&members[0].id, MediaKind::Camera) > 30);
    let (_, _, metrics) = server.get("/metrics");
    for reason in ["malformed", "unknown-address"] {
        assert!(
            metrics.contains(&format!(
                "treff_media_unrouted_total{{reason=\"{reason}\"}}"
            )),
            "{reason}:\n{metrics}"
        );
    }
}

#[tokio::test]
async fn with_the_media_server_off_a_large_room_stays_peer_to_peer() {
    let server = TestServer::start(|c| c.sfu = "off".into());
    let mut clients = Vec::new();
    for name in ["A", "B", "C", "D", "E"] {
        let mut c = Client::connect(&server).await;
        let welcome = c.join("mesh", name).await;
        assert_eq!(welcome.mode, MediaMode::Mesh);
        clients.push(c);
    }
    for c in &mut clients {
        while let Some(WsEvent::Frame(msg)) = c.next_event(Duration::from_millis(50)).await {
            assert!(
                !matches!(msg, ServerMessage::Mode { .. }),
                "no switch: {msg:?}"
            );
        }
    }
}
