//! The media server of one room and mode epoch, as a plain struct without I/O (sans-IO).
//!
//! Every member has two str0m [`Rtc`]s, one per link: on *publish* the browser offers and sends
//! its microphone, its camera in simulcast layers and its screen; on *subscribe* the server
//! offers and sends the others' media. Both are ICE-lite on the shared media port: the browser
//! checks connectivity, the server answers. What arrives as frames (`MediaData`) on a publish
//! link is written to every other member's subscribe link; for cameras, each subscriber gets the
//! one layer that fits its downlink estimate (str0m's TWCC bandwidth estimation) and the size it
//! shows the picture at ([`super::choice`]). Layers switch on keyframes, with the RTP timestamps
//! rewritten so the subscriber sees one continuous stream; keyframes are requested from the
//! publisher (PLI), at most once per [`KEYFRAME_INTERVAL`] per layer. str0m repairs losses on
//! each link itself (NACK and RTX).
//!
//! str0m's contract is kept everywhere: each mutation of an `Rtc` (input, write, keyframe
//! request, negotiation) is followed by draining its output to the next timeout before anything
//! else touches it. What a drain reveals that concerns other members becomes an [`Action`],
//! handled afterwards one at a time, so no two `Rtc`s are ever mutated in a nested way.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::bwe::{Bitrate, BweKind};
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::config::{CryptoProvider, DtlsCert};
use str0m::media::{
    Direction, KeyframeRequestKind, MediaData, MediaKind as RtcKind, MediaTime, Mid, Rid,
};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, IceCreds, Input, Output, Rtc, RtcConfig};
use treff_shared::{
    MediaKind, MediaLine, MediaLink, PeerId, SdpType, SessionDescription, SignalData, TileSize,
};

use super::choice::{choose_layers, desired_bps, layers_needed, Speakers, Wanted};
use crate::limits::TokenBucket;

/// Keyframe requests per published layer are at most this frequent.
pub const KEYFRAME_INTERVAL: Duration = Duration::from_millis(500);

/// How often layers, bitrates and the speaker are reconsidered.
const REVIEW_INTERVAL: Duration = Duration::from_millis(300);

/// How long fewer simulcast layers must have been enough for every subscriber of a camera
/// before the publisher pauses the others (a layer someone needs resumes at once).
pub const LAYER_PAUSE_AFTER: Duration = Duration::from_secs(3);

/// How the media server of a room runs.
#[derive(Clone)]
pub struct EngineConfig {
    /// The address browsers reach the media port at (the host candidate offered).
    pub candidate: SocketAddr,
    /// The media socket's own address (where datagrams arrive).
    pub local: SocketAddr,
    /// A member whose links have not connected this long after joining is told so.
    pub connect_deadline: Duration,
    /// Datagrams per second a member may send on average, and the burst; beyond, they are
    /// dropped (a flooding publisher must not starve the room).
    pub datagram_rate: (f32, f32),
    /// The crypto for DTLS and SRTP.
    pub crypto: Arc<CryptoProvider>,
    /// One DTLS certificate for every link of the process (making one per link costs a key
    /// generation each).
    pub certificate: DtlsCert,
}

impl std::fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineConfig")
            .field("candidate", &self.candidate)
            .field("local", &self.local)
            .field("connect_deadline", &self.connect_deadline)
            .finish_non_exhaustive()
    }
}

/// What the engine asks its shell to do.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineOutput {
    /// Send a datagram from the media socket.
    Transmit {
        /// Where to.
        destination: SocketAddr,
        /// What.
        contents: Vec<u8>,
    },
    /// Send a signal to a member over its WebSocket.
    Signal {
        /// The member.
        peer: PeerId,
        /// For which of its links.
        link: MediaLink,
        /// The payload.
        data: SignalData,
    },
    /// Datagrams whose STUN USERNAME starts with `ufrag` belong to this member's link.
    Register {
        /// The link's local ICE ufrag.
        ufrag: String,
        /// The member.
        peer: PeerId,
        /// The link.
        link: MediaLink,
    },
    /// The link with this ufrag is gone.
    Unregister {
        /// The link's local ICE ufrag.
        ufrag: String,
    },
    /// Who speaks now.
    ActiveSpeaker(Option<PeerId>),
    /// A member's links did not connect in time.
    Failed {
        /// The member.
        peer: PeerId,
        /// What went wrong.
        reason: String,
    },
}

/// Counters of what the engine did, read by the shell for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineCounters {
    /// Datagrams handed to the engine.
    pub datagrams_in: u64,
    /// Bytes of those.
    pub bytes_in: u64,
    /// Datagrams the engine sent.
    pub datagrams_out: u64,
    /// Bytes of those.
    pub bytes_out: u64,
    /// Frames written to a subscriber.
    pub frames_forwarded: u64,
    /// Times a subscriber's camera layer changed.
    pub layer_switches: u64,
    /// Keyframe requests sent to publishers.
    pub keyframe_requests: u64,
    /// Times a publisher was told to pause or resume simulcast layers.
    pub layer_pauses: u64,
    /// Datagrams dropped by a member's rate limit.
    pub flood_drops: u64,
    /// Datagrams str0m refused (malformed or not for the link).
    pub rejected: u64,
    /// Members whose links did not connect in time.
    pub connect_failures: u64,
    /// Times the engine's timer fired.
    pub wakeups: u64,
    /// Link timeouts handled (str0m's pacer and feedback timers).
    pub link_timeouts: u64,
}

/// One link of a member: its `Rtc` and what the router knows it by.
struct Leg {
    rtc: Rtc,
    ufrag: String,
    /// ICE reported the path lost; cleared when it is back.
    ice_lost: bool,
    /// The offer out on this link restarts ICE.
    restarting: bool,
    /// Reviews left at which every picture sent on this link is asked for a keyframe again
    /// (after an ICE restart, whose new path may carry the first ones too early).
    rekeys: u8,
    /// Ufrags of the link before ICE restarts; the router keeps them until the link goes, so
    /// checks still under way on the old credentials find it.
    retired: Vec<String>,
    connected: bool,
    /// When the link's first offer was accepted or sent: ICE should follow within the deadline.
    negotiated_at: Option<Instant>,
    next_timeout: Instant,
}

impl Leg {
    /// The link's new local ufrag after an ICE restart (ours, or one the remote's offer
    /// brought), for the router to learn; `None` when it did not change.
    fn renewed_ufrag(&mut self) -> Option<String> {
        let current = self.rtc.direct_api().local_ice_credentials().ufrag;
        if current == self.ufrag {
            return None;
        }
        self.retired
            .push(std::mem::replace(&mut self.ufrag, current.clone()));
        Some(current)
    }
}

/// A track a member publishes.
#[derive(Debug)]
struct Inbound {
    kind: MediaKind,
    /// Simulcast layers, lowest first (empty without simulcast).
    rids: Vec<Rid>,
    /// Bytes received per layer since the last review, and the bitrate measured then.
    bytes: HashMap<Option<Rid>, (u64, u64)>,
    /// When a keyframe was last requested, per layer.
    asked: HashMap<Option<Rid>, Instant>,
    /// Fraction of packets lost, as str0m's receiver statistics last said.
    loss: f32,
    /// When each layer last brought a frame.
    last_frame: HashMap<Option<Rid>, Instant>,
    /// How many layers (lowest first) the publisher was told to send; all of them at first.
    sending: usize,
    /// Fewer layers have been enough since then: they pause once that has lasted
    /// [`LAYER_PAUSE_AFTER`].
    fewer_since: Option<Instant>,
}

impl Inbound {
    /// Whether `rid` brought a frame within the last second.
    fn flowing(&self, rid: Rid, now: Instant) -> bool {
        self.last_frame
            .get(&Some(rid))
            .is_some_and(|at| now.duration_since(*at) <= Duration::from_secs(1))
    }
}

/// The state of a subscribed track on a subscriber's subscribe link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutState {
    ToOpen,
    Negotiating(Mid),
    Open(Mid),
    ToStop(Mid),
    NegotiatingStop(Mid),
}

impl OutState {
    fn mid(self) -> Option<Mid> {
        match self {
            OutState::ToOpen => None,
            OutState::Negotiating(m)
            | OutState::Open(m)
            | OutState::ToStop(m)
            | OutState::NegotiatingStop(m) => Some(m),
        }
    }
}

/// A track a member receives from another.
#[derive(Debug)]
struct Outbound {
    source: PeerId,
    source_mid: Mid,
    kind: MediaKind,
    state: OutState,
    /// The layer forwarded now, and the one wanted.
    current: Option<Rid>,
    target: Option<Rid>,
    /// A frame has been written (the timestamp mapping exists).
    started: bool,
    /// Added to the publisher's RTP timestamps (90 kHz) so layer switches stay continuous.
    offset: i64,
    last_out: u64,
    last_written: Option<Instant>,
}

struct Member {
    publish: Option<Leg>,
    subscribe: Leg,
    /// What the member said it sends on each line of its publish link.
    announced: BTreeMap<String, MediaKind>,
    inbound: BTreeMap<Mid, Inbound>,
    outbound: Vec<Outbound>,
    /// Our offer on the subscribe link waiting for its answer.
    pending: Option<SdpPendingOffer>,
    /// How wide the member shows each picture.
    tiles: BTreeMap<(PeerId, MediaKind), u16>,
    estimate: Option<u64>,
    failed: bool,
    flood: TokenBucket,
    /// The ICE username fragment of the member's last publish offer.
    publish_ufrag: Option<String>,
    /// The member restarted ICE on its publish link (its network changed): the subscribe
    /// link, which the server offers, restarts with the next offer.
    restart_subscribe: bool,
}

impl Member {
    fn leg(&mut self, link: MediaLink) -> Option<&mut Leg> {
        match link {
            MediaLink::Publish => self.publish.as_mut(),
            MediaLink::Subscribe => Some(&mut self.subscribe),
        }
    }
}

/// Work found while draining one `Rtc` that concerns others.
#[derive(Debug)]
enum Action {
    /// A frame a member published: write it to its subscribers.
    Forward(PeerId, Box<MediaData>),
    /// Ask a publisher for a keyframe of one of its layers.
    Keyframe {
        publisher: PeerId,
        mid: Mid,
        rid: Option<Rid>,
    },
    /// A member's subscribe link may need a new offer.
    Negotiate(PeerId),
    /// Every picture a member receives starts over with a keyframe.
    Rekey(PeerId),
}

/// The media server of one room epoch.
pub struct Engine {
    config: EngineConfig,
    members: BTreeMap<PeerId, Member>,
    actions: VecDeque<Action>,
    out: Vec<EngineOutput>,
    speakers: Speakers<PeerId>,
    next_review: Instant,
    counters: EngineCounters,
}

fn rtc_kind(kind: MediaKind) -> RtcKind {
    match kind {
        MediaKind::Audio => RtcKind::Audio,
        MediaKind::Camera | MediaKind::Screen => RtcKind::Video,
    }
}

/// A random string of ICE's alphabet. The router must find a link by its ufrag, so the engine
/// chooses them rather than str0m.
fn random_ice_string(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

impl Outbound {
    fn new(source: PeerId, source_mid: Mid, kind: MediaKind) -> Outbound {
        Outbound {
            source,
            source_mid,
            kind,
            state: OutState::ToOpen,
            current: None,
            target: None,
            started: false,
            offset: 0,
            last_out: 0,
            last_written: None,
        }
    }

    /// The RTP time to write for a publisher's frame at `time`. After a layer switch the new
    /// layer's timestamps (its own random base) are moved to continue where the old ones ended.
    fn rewrite(&mut self, time: MediaTime, now: Instant, switched: bool) -> MediaTime {
        let input = time.numer() as i64;
        if !self.started {
            self.started = true;
            self.offset = 0;
        } else if switched {
            let elapsed = self
                .last_written
                .map_or(0.0, |t| now.saturating_duration_since(t).as_secs_f64());
            let step = ((elapsed * f64::from(time.denom())) as i64).max(1);
            self.offset = self.last_out as i64 + step - input;
        }
        let out = (input + self.offset).max(0) as u64;
        self.last_out = out;
        self.last_written = Some(now);
        MediaTime::new(out, time.frequency())
    }
}

impl Engine {
    /// An empty media server.
    pub fn new(config: EngineConfig, now: Instant) -> Engine {
        Engine {
            config,
            members: BTreeMap::new(),
            actions: VecDeque::new(),
            out: Vec::new(),
            speakers: Speakers::default(),
            next_review: now + REVIEW_INTERVAL,
            counters: EngineCounters::default(),
        }
    }

    /// What the engine did so far.
    pub fn counters(&self) -> EngineCounters {
        self.counters
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// True without members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Tracks forwarded right now (one per subscriber per subscribed track).
    pub fn forwarded_streams(&self) -> usize {
        self.members
            .values()
            .flat_map(|m| &m.outbound)
            .filter(|o| matches!(o.state, OutState::Open(_)))
            .count()
    }

    /// The packet loss of the worst published track, in thousandths.
    pub fn worst_loss_permille(&self) -> u32 {
        self.members
            .values()
            .flat_map(|m| m.inbound.values())
            .map(|i| (i.loss * 1000.0) as u32)
            .max()
            .unwrap_or(0)
    }

    /// Closes every link (the router forgets them all).
    pub fn close_all(&mut self, now: Instant) -> Vec<EngineOutput> {
        let peers: Vec<PeerId> = self.members.keys().cloned().collect();
        let mut out = Vec::new();
        for peer in peers {
            out.extend(self.remove(&peer, now));
        }
        out
    }

    fn new_leg(&self, now: Instant, estimate: bool) -> Leg {
        let ufrag = random_ice_string(8);
        let creds = IceCreds {
            ufrag: ufrag.clone(),
            pass: random_ice_string(24),
        };
        let mut config = RtcConfig::new()
            .set_ice_lite(true)
            .set_crypto_provider(self.config.crypto.clone())
            .set_dtls_cert(self.config.certificate.clone())
            .set_local_ice_credentials(creds)
            .clear_codecs()
            .enable_opus(true)
            .enable_vp8(true)
            .set_stats_interval(Some(Duration::from_secs(1)));
        if estimate {
            config = config.enable_bwe(Some(Bitrate::kbps(1_500)));
        }
        let mut rtc = config.build(now);
        // A bad candidate address only means the link cannot connect; the deadline says so.
        if let Ok(candidate) = Candidate::host(self.config.candidate, "udp") {
            rtc.add_local_candidate(candidate);
        }
        Leg {
            rtc,
            ufrag,
            retired: Vec::new(),
            ice_lost: false,
            rekeys: 0,
            restarting: false,
            connected: false,
            negotiated_at: None,
            next_timeout: now,
        }
    }

    /// A member takes part; a viewer publishes nothing.
    pub fn add(&mut self, peer: PeerId, viewer: bool, now: Instant) -> Vec<EngineOutput> {
        if self.members.contains_key(&peer) {
            return Vec::new();
        }
        let publish = (!viewer).then(|| self.new_leg(now, false));
        let subscribe = self.new_leg(now, true);
        if let Some(leg) = &publish {
            self.out.push(EngineOutput::Register {
                ufrag: leg.ufrag.clone(),
                peer: peer.clone(),
                link: MediaLink::Publish,
            });
        }
        self.out.push(EngineOutput::Register {
            ufrag: subscribe.ufrag.clone(),
            peer: peer.clone(),
            link: MediaLink::Subscribe,
        });
        // Everything the others publish already.
        let mut outbound = Vec::new();
        for (source, member) in &self.members {
            for (mid, inbound) in &member.inbound {
                outbound.push(Outbound::new(source.clone(), *mid, inbound.kind));
            }
        }
        let (rate, burst) = self.config.datagram_rate;
        self.members.insert(
            peer.clone(),
            Member {
                publish,
                subscribe,
                announced: BTreeMap::new(),
                inbound: BTreeMap::new(),
                outbound,
                pending: None,
                tiles: BTreeMap::new(),
                estimate: None,
                failed: false,
                flood: TokenBucket::new(rate, burst, now),
                publish_ufrag: None,
                restart_subscribe: false,
            },
        );
        self.actions.push_back(Action::Negotiate(peer));
        self.settle(now);
        std::mem::take(&mut self.out)
    }

    /// A member left: its links close and the others stop receiving it.
    pub fn remove(&mut self, peer: &PeerId, now: Instant) -> Vec<EngineOutput> {
        if let Some(mut member) = self.members.remove(peer) {
            for leg in member
                .publish
                .iter_mut()
                .chain(std::iter::once(&mut member.subscribe))
            {
                leg.rtc.disconnect();
                for ufrag in leg
                    .retired
                    .drain(..)
                    .chain(std::iter::once(leg.ufrag.clone()))
                {
                    self.out.push(EngineOutput::Unregister { ufrag });
                }
            }
            self.speakers.forget(peer);
        }
        let mut changed = Vec::new();
        for (other, member) in self.members.iter_mut() {
            let before = member.outbound.len();
            let mut stopping = false;
            member.outbound.retain_mut(|o| {
                if &o.source != peer {
                    return true;
                }
                match o.state {
                    // Never offered: nothing to take back.
                    OutState::ToOpen => false,
                    OutState::Open(mid) | OutState::Negotiating(mid) => {
                        o.state = OutState::ToStop(mid);
                        stopping = true;
                        true
                    }
                    OutState::ToStop(_) | OutState::NegotiatingStop(_) => true,
                }
            });
            if stopping || member.outbound.len() != before {
                changed.push(other.clone());
            }
        }
        self.actions
            .extend(changed.into_iter().map(Action::Negotiate));
        self.settle(now);
        std::mem::take(&mut self.out)
    }

    /// A signal from a member for one of its links.
    pub fn signal(
        &mut self,
        peer: &PeerId,
        link: MediaLink,
        data: SignalData,
        now: Instant,
    ) -> Vec<EngineOutput> {
        // ICE-lite: the browser's candidates are not needed; its checks tell us its address.
        if let SignalData::Description(description) = data {
            match (link, description.kind) {
                (MediaLink::Publish, SdpType::Offer) => self.publish_offer(peer, description, now),
                (MediaLink::Subscribe, SdpType::Answer) => {
                    self.subscribe_answer(peer, description, now)
                }
                (link, kind) => {
                    tracing::debug!(peer = %peer, ?link, ?kind, "unexpected description ignored");
                }
            }
        }
        self.settle(now);
        std::mem::take(&mut self.out)
    }

    fn publish_offer(&mut self, peer: &PeerId, description: SessionDescription, now: Instant) {
        let Some(member) = self.members.get_mut(peer) else {
            return;
        };
        let Some(leg) = member.publish.as_mut() else {
            return;
        };
        for line in &description.media {
            member.announced.insert(line.mid.clone(), line.kind);
        }
        // New credentials: the member restarted ICE, so its address changed and the subscribe
        // link, on which only we can offer, needs a restart as well.
        let ufrag = ice_ufrag(&description.sdp);
        if member.publish_ufrag.is_some() && ufrag.is_some() && member.publish_ufrag != ufrag {
            member.restart_subscribe = true;
            self.actions.push_back(Action::Negotiate(peer.clone()));
        }
        if ufrag.is_some() {
            member.publish_ufrag = ufrag;
        }
        let offer = match SdpOffer::from_sdp_string(&description.sdp) {
            Ok(offer) => offer,
            Err(err) => {
                tracing::info!(peer = %peer, error = %err, "unreadable publish offer");
                return;
            }
        };
        match leg.rtc.sdp_api().accept_offer(offer) {
            Ok(answer) => {
                leg.negotiated_at.get_or_insert(now);
                if let Some(ufrag) = leg.renewed_ufrag() {
                    self.out.push(EngineOutput::Register {
                        ufrag,
                        peer: peer.clone(),
                        link: MediaLink::Publish,
                    });
                }
                self.out.push(EngineOutput::Signal {
                    peer: peer.clone(),
                    link: MediaLink::Publish,
                    data: SignalData::Description(SessionDescription::new(
                        SdpType::Answer,
                        answer.to_sdp_string(),
                    )),
                });
            }
            Err(err) => tracing::info!(peer = %peer, error = %err, "publish offer refused"),
        }
        self.drain(peer, MediaLink::Publish, now);
    }

    fn subscribe_answer(&mut self, peer: &PeerId, description: SessionDescription, now: Instant) {
        let Some(member) = self.members.get_mut(peer) else {
            return;
        };
        let Some(pending) = member.pending.take() else {
            return;
        };
        let answer = match SdpAnswer::from_sdp_string(&description.sdp) {
            Ok(answer) => answer,
            Err(err) => {
                tracing::info!(peer = %peer, error = %err, "unreadable subscribe answer");
                return;
            }
        };
        if let Err(err) = member
            .subscribe
            .rtc
            .sdp_api()
            .accept_answer(pending, answer)
        {
            tracing::info!(peer = %peer, error = %err, "subscribe answer refused");
            // The offer's tracks go back to be offered again.
            for o in member.outbound.iter_mut() {
                o.state = match o.state {
                    OutState::Negotiating(_) => OutState::ToOpen,
                    OutState::NegotiatingStop(mid) => OutState::ToStop(mid),
                    other => other,
                };
            }
        } else {
            for o in member.outbound.iter_mut() {
                if let OutState::Negotiating(mid) = o.state {
                    o.state = OutState::Open(mid);
                    if o.kind != MediaKind::Audio {
                        self.actions.push_back(Action::Keyframe {
                            publisher: o.source.clone(),
                            mid: o.source_mid,
                            rid: o.target,
                        });
                    }
                }
            }
            if std::mem::take(&mut member.subscribe.restarting) {
                // The member's new path: its pictures start over, now and at the next two
                // reviews (the first keyframes may come before the path is up).
                member.subscribe.rekeys = 4;
                self.actions.push_back(Action::Rekey(peer.clone()));
            }
            member
                .outbound
                .retain(|o| !matches!(o.state, OutState::NegotiatingStop(_)));
        }
        self.drain(peer, MediaLink::Subscribe, now);
        self.choose(peer, now);
        // Changes that came while this offer was out.
        self.actions.push_back(Action::Negotiate(peer.clone()));
    }

    /// How large a member shows each picture.
    pub fn tiles(
        &mut self,
        peer: &PeerId,
        tiles: Vec<TileSize>,
        now: Instant,
    ) -> Vec<EngineOutput> {
        if let Some(member) = self.members.get_mut(peer) {
            member.tiles = tiles
                .into_iter()
                .map(|t| ((t.peer_id, t.kind), t.width))
                .collect();
            self.choose(peer, now);
        }
        self.settle(now);
        std::mem::take(&mut self.out)
    }

    /// A datagram for a member's link, from `source`.
    pub fn datagram(
        &mut self,
        peer: &PeerId,
        link: MediaLink,
        source: SocketAddr,
        contents: &[u8],
        now: Instant,
    ) -> Vec<EngineOutput> {
        let local = self.config.local;
        let Some(member) = self.members.get_mut(peer) else {
            return Vec::new();
        };
        if !member.flood.try_take(now) {
            self.counters.flood_drops += 1;
            return Vec::new();
        }
        self.counters.datagrams_in += 1;
        self.counters.bytes_in += contents.len() as u64;
        let Some(leg) = member.leg(link) else {
            return Vec::new();
        };
        let Ok(contents) = contents.try_into() else {
            self.counters.rejected += 1;
            return Vec::new();
        };
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source,
                destination: local,
                contents,
            },
        );
        if !leg.rtc.is_alive() || !leg.rtc.accepts(&input) {
            self.counters.rejected += 1;
            return Vec::new();
        }
        if let Err(err) = leg.rtc.handle_input(input) {
            self.counters.rejected += 1;
            tracing::debug!(peer = %peer, ?link, error = %err, "datagram refused");
        }
        self.drain(peer, link, now);
        self.settle(now);
        std::mem::take(&mut self.out)
    }

    /// When [`Engine::timeout`] must next be called.
    pub fn poll_timeout(&self) -> Instant {
        self.members
            .values()
            .flat_map(|m| m.publish.iter().chain(std::iter::once(&m.subscribe)))
            .map(|leg| leg.next_timeout)
            .chain(std::iter::once(self.next_review))
            .min()
            .unwrap_or(self.next_review)
    }

    /// Time passed: every link's timers, deadlines, and the periodic review of layers and the
    /// speaker.
    pub fn timeout(&mut self, now: Instant) -> Vec<EngineOutput> {
        self.counters.wakeups += 1;
        let mut due = Vec::new();
        for (peer, m) in &self.members {
            if m.publish.as_ref().is_some_and(|l| l.next_timeout <= now) {
                due.push((peer.clone(), MediaLink::Publish));
            }
            if m.subscribe.next_timeout <= now {
                due.push((peer.clone(), MediaLink::Subscribe));
            }
        }
        for (peer, link) in due {
            if let Some(leg) = self.members.get_mut(&peer).and_then(|m| m.leg(link)) {
                if leg.rtc.is_alive() {
                    self.counters.link_timeouts += 1;
                    let _ = leg.rtc.handle_input(Input::Timeout(now));
                } else {
                    // A dead link waits for its member to leave; no busy timer.
                    leg.next_timeout = now + Duration::from_secs(3600);
                    continue;
                }
            }
            self.drain(&peer, link, now);
        }
        if now >= self.next_review {
            self.next_review = now + REVIEW_INTERVAL;
            self.review(now);
        }
        self.settle(now);
        std::mem::take(&mut self.out)
    }

    /// Measures layer bitrates, re-chooses layers, moves the speaker highlight, and tells
    /// members whose links never connected.
    fn review(&mut self, now: Instant) {
        let rekey: Vec<PeerId> = self
            .members
            .iter_mut()
            .filter(|(_, m)| m.subscribe.rekeys > 0)
            .map(|(peer, m)| {
                m.subscribe.rekeys -= 1;
                peer.clone()
            })
            .collect();
        for peer in rekey {
            self.rekey(&peer);
        }
        let seconds = REVIEW_INTERVAL.as_secs_f64();
        for member in self.members.values_mut() {
            for inbound in member.inbound.values_mut() {
                for (bytes, bps) in inbound.bytes.values_mut() {
                    let measured = (*bytes as f64 * 8.0 / seconds) as u64;
                    // A short average: layers come and go as the publisher's uplink changes.
                    *bps = if *bps == 0 {
                        measured
                    } else {
                        (*bps * 2 + measured) / 3
                    };
                    *bytes = 0;
                }
            }
        }
        if let Some(change) = self.speakers.update(now) {
            self.out.push(EngineOutput::ActiveSpeaker(change));
        }
        let peers: Vec<PeerId> = self.members.keys().cloned().collect();
        for peer in &peers {
            self.choose(peer, now);
        }
        self.pause_layers(now);
        let deadline = self.config.connect_deadline;
        for (peer, member) in self.members.iter_mut() {
            let late = |leg: &Leg| {
                !leg.connected
                    && leg
                        .negotiated_at
                        .is_some_and(|at| now.duration_since(at) >= deadline)
            };
            let failed = member.publish.as_ref().is_some_and(late) || late(&member.subscribe);
            if failed && !member.failed {
                member.failed = true;
                self.counters.connect_failures += 1;
                tracing::info!(peer = %peer, "media links did not connect in time");
                self.out.push(EngineOutput::Failed {
                    peer: peer.clone(),
                    reason: format!(
                        "Your browser could not reach the media server within {} s; this network \
                         may block UDP. The server operator can configure a TURN relay.",
                        deadline.as_secs()
                    ),
                });
            }
        }
    }

    /// Re-chooses the layer of each camera a member receives, and tells its estimator how much
    /// the pictures could use.
    fn choose(&mut self, peer: &PeerId, now: Instant) {
        let speaker = self.speakers.current().cloned();
        let Some(member) = self.members.get(peer) else {
            return;
        };
        let mut cameras = Vec::new();
        let mut wanted = Vec::new();
        for (index, o) in member.outbound.iter().enumerate() {
            if o.kind != MediaKind::Camera || !matches!(o.state, OutState::Open(_)) {
                continue;
            }
            let Some(inbound) = self
                .members
                .get(&o.source)
                .and_then(|m| m.inbound.get(&o.source_mid))
            else {
                continue;
            };
            // Only the layers that arrive: a browser sends fewer than it announced when its
            // camera is small or its uplink is short.
            let rids: Vec<Rid> = inbound
                .rids
                .iter()
                .copied()
                .filter(|rid| inbound.flowing(*rid, now))
                .collect();
            if rids.len() < 2 {
                if o.target.is_some() && rids.len() == 1 && o.target != rids.first().copied() {
                    cameras.push((index, rids.clone()));
                    wanted.push(Wanted {
                        layers: vec![(rids[0].to_string(), 0)],
                        width: None,
                        speaking: false,
                    });
                }
                continue;
            }
            let layers = rids
                .iter()
                .map(|rid| {
                    let bps = inbound.bytes.get(&Some(*rid)).map_or(0, |(_, bps)| *bps);
                    (rid.to_string(), bps)
                })
                .collect();
            wanted.push(Wanted {
                layers,
                width: member
                    .tiles
                    .get(&(o.source.clone(), MediaKind::Camera))
                    .copied(),
                speaking: speaker.as_ref() == Some(&o.source),
            });
            cameras.push((index, rids));
        }
        let choice = choose_layers(&wanted, member.estimate);
        // Let the estimator probe up to what the pictures could use.
        let desired = desired_bps(&wanted);
        let member = self.members.get_mut(peer).expect("looked up above");
        for ((index, rids), layer) in cameras.into_iter().zip(choice) {
            let o = &mut member.outbound[index];
            let target = rids.get(layer).copied();
            if o.target != target {
                tracing::debug!(
                    target: "treff_server::sfu::layers",
                    peer = %peer,
                    publisher = %o.source,
                    from = ?o.target,
                    to = ?target,
                    estimate = ?member.estimate,
                    "layer chosen"
                );
                o.target = target;
                self.actions.push_back(Action::Keyframe {
                    publisher: o.source.clone(),
                    mid: o.source_mid,
                    rid: target,
                });
            }
        }
        if member.subscribe.rtc.is_alive() {
            member
                .subscribe
                .rtc
                .bwe()
                .set_desired_bitrate(Bitrate::bps(desired));
            self.drain(peer, MediaLink::Subscribe, now);
        }
    }

    /// Tells each publisher which layers of its cameras anyone watches at a size that needs
    /// them ([`layers_needed`]): the rest pause, so its browser does not encode pictures nobody
    /// receives. More layers resume at once; fewer only after [`LAYER_PAUSE_AFTER`].
    fn pause_layers(&mut self, now: Instant) {
        let mut needed = Vec::new();
        for (publisher, member) in &self.members {
            for (mid, inbound) in &member.inbound {
                if inbound.kind != MediaKind::Camera || inbound.rids.len() < 2 {
                    continue;
                }
                let widths = self
                    .members
                    .values()
                    .flat_map(|m| {
                        m.outbound
                            .iter()
                            .filter(|o| {
                                o.source == *publisher
                                    && o.source_mid == *mid
                                    && !matches!(
                                        o.state,
                                        OutState::ToStop(_) | OutState::NegotiatingStop(_)
                                    )
                            })
                            .map(|_| {
                                m.tiles
                                    .get(&(publisher.clone(), MediaKind::Camera))
                                    .copied()
                            })
                    })
                    .collect::<Vec<_>>();
                let count = layers_needed(widths, inbound.rids.len()) + 1;
                needed.push((publisher.clone(), *mid, count));
            }
        }
        for (publisher, mid, count) in needed {
            let Some(inbound) = self
                .members
                .get_mut(&publisher)
                .and_then(|m| m.inbound.get_mut(&mid))
            else {
                continue;
            };
            let change = if count > inbound.sending {
                inbound.fewer_since = None;
                true
            } else if count < inbound.sending {
                let since = *inbound.fewer_since.get_or_insert(now);
                now.duration_since(since) >= LAYER_PAUSE_AFTER
            } else {
                inbound.fewer_since = None;
                false
            };
            if !change {
                continue;
            }
            inbound.sending = count;
            inbound.fewer_since = None;
            let active: Vec<String> = inbound.rids[..count]
                .iter()
                .map(|r| r.to_string())
                .collect();
            tracing::debug!(
                target: "treff_server::sfu::layers",
                publisher = %publisher,
                %mid,
                ?active,
                "layers sent"
            );
            self.counters.layer_pauses += 1;
            self.out.push(EngineOutput::Signal {
                peer: publisher,
                link: MediaLink::Publish,
                data: SignalData::Layers {
                    mid: mid.to_string(),
                    active,
                },
            });
        }
    }

    /// Drains one link's output to its next timeout, handling each event as it comes. A
    /// timeout that is already due (str0m packetizes written frames on its next timeout) is
    /// handled on the spot, so written media leave at once rather than when the actor's timer
    /// fires.
    fn drain(&mut self, peer: &PeerId, link: MediaLink, now: Instant) {
        let mut rounds = 0;
        loop {
            let Some(leg) = self.members.get_mut(peer).and_then(|m| m.leg(link)) else {
                return;
            };
            let output = match leg.rtc.poll_output() {
                Ok(output) => output,
                Err(err) => {
                    tracing::info!(peer = %peer, ?link, error = %err, "media link failed");
                    leg.rtc.disconnect();
                    return;
                }
            };
            match output {
                Output::Timeout(at) if at <= now && rounds < 16 && leg.rtc.is_alive() => {
                    rounds += 1;
                    if leg.rtc.handle_input(Input::Timeout(now)).is_err() {
                        leg.rtc.disconnect();
                        return;
                    }
                }
                Output::Timeout(at) => {
                    leg.next_timeout = at;
                    return;
                }
                Output::Transmit(transmit) => {
                    self.counters.datagrams_out += 1;
                    self.counters.bytes_out += transmit.contents.len() as u64;
                    self.out.push(EngineOutput::Transmit {
                        destination: transmit.destination,
                        contents: transmit.contents.to_vec(),
                    });
                }
                Output::Event(event) => self.event(peer, link, event, now),
            }
        }
    }

    fn event(&mut self, peer: &PeerId, link: MediaLink, event: Event, now: Instant) {
        tracing::trace!(peer = %peer, ?link, ?event, "media event");
        let Some(member) = self.members.get_mut(peer) else {
            return;
        };
        match event {
            Event::Connected => {
                if let Some(leg) = member.leg(link) {
                    leg.connected = true;
                }
                tracing::debug!(peer = %peer, ?link, "media link connected");
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                if let Some(leg) = member.leg(link) {
                    leg.ice_lost = true;
                }
                tracing::debug!(peer = %peer, ?link, "media link disconnected");
            }
            Event::IceConnectionStateChange(
                IceConnectionState::Connected | IceConnectionState::Completed,
            ) if link == MediaLink::Subscribe && member.subscribe.ice_lost => {
                // Back after a lost path (an ICE restart from a new address): the member's
                // decoders lost their references, so every picture it gets starts over.
                member.subscribe.ice_lost = false;
                tracing::debug!(peer = %peer, "subscribe link back");
                self.rekey(peer);
            }
            Event::MediaAdded(added) if link == MediaLink::Publish => {
                let announced = member.announced.get(&added.mid.to_string()).copied();
                let kind = match (announced, added.kind) {
                    (Some(MediaKind::Audio), RtcKind::Audio) => MediaKind::Audio,
                    (Some(k @ (MediaKind::Camera | MediaKind::Screen)), RtcKind::Video) => k,
                    (_, RtcKind::Audio) => MediaKind::Audio,
                    (_, RtcKind::Video) => MediaKind::Camera,
                };
                let rids: Vec<Rid> = added
                    .simulcast
                    .map(|s| s.recv.iter().map(|l| l.rid).collect())
                    .unwrap_or_default();
                let rids = order_layers(rids);
                tracing::debug!(peer = %peer, mid = %added.mid, ?kind, layers = rids.len(), "published");
                member.inbound.insert(
                    added.mid,
                    Inbound {
                        kind,
                        sending: rids.len(),
                        rids,
                        bytes: HashMap::new(),
                        asked: HashMap::new(),
                        loss: 0.0,
                        last_frame: HashMap::new(),
                        fewer_since: None,
                    },
                );
                let mid = added.mid;
                let mut subscribers = Vec::new();
                for (other, m) in self.members.iter_mut() {
                    if other == peer {
                        continue;
                    }
                    m.outbound.push(Outbound::new(peer.clone(), mid, kind));
                    subscribers.push(other.clone());
                }
                self.actions
                    .extend(subscribers.into_iter().map(Action::Negotiate));
            }
            Event::MediaData(data) if link == MediaLink::Publish => {
                if let Some(inbound) = member.inbound.get_mut(&data.mid) {
                    inbound.bytes.entry(data.rid).or_default().0 += data.data.len() as u64;
                    inbound.last_frame.insert(data.rid, now);
                    if inbound.kind == MediaKind::Audio {
                        if let Some(level) = data.ext_vals.audio_level {
                            // RFC 6464 carries -dBov; str0m keeps its sign either way.
                            self.speakers
                                .heard(peer, -f32::from(level.unsigned_abs()), now);
                        }
                    } else if !data.contiguous {
                        self.actions.push_back(Action::Keyframe {
                            publisher: peer.clone(),
                            mid: data.mid,
                            rid: data.rid,
                        });
                    }
                }
                self.actions
                    .push_back(Action::Forward(peer.clone(), Box::new(data)));
            }
            Event::KeyframeRequest(request) if link == MediaLink::Subscribe => {
                if let Some(o) = member
                    .outbound
                    .iter()
                    .find(|o| o.state.mid() == Some(request.mid))
                {
                    self.actions.push_back(Action::Keyframe {
                        publisher: o.source.clone(),
                        mid: o.source_mid,
                        rid: o.current.or(o.target),
                    });
                }
            }
            Event::MediaIngressStats(stats) if link == MediaLink::Publish => {
                if let Some(inbound) = member.inbound.get_mut(&stats.mid) {
                    inbound.loss = stats.loss.unwrap_or(0.0);
                }
            }
            Event::EgressBitrateEstimate(BweKind::Twcc(bitrate))
                if link == MediaLink::Subscribe =>
            {
                member.estimate = Some(bitrate.as_u64());
            }
            _ => {}
        }
    }

    /// Works through what draining revealed, one mutation (and its drain) at a time.
    fn settle(&mut self, now: Instant) {
        // A bound on the work one input can cause: a frame fans out to every member, each
        // fan-out may ask for one keyframe.
        let mut budget = 64 + self.members.len() * self.members.len() * 8;
        while let Some(action) = self.actions.pop_front() {
            if budget == 0 {
                tracing::warn!(
                    left = self.actions.len(),
                    "media work left for the next input"
                );
                break;
            }
            budget -= 1;
            match action {
                Action::Forward(from, data) => self.forward(&from, &data, now),
                Action::Keyframe {
                    publisher,
                    mid,
                    rid,
                } => self.request_keyframe(&publisher, mid, rid, now),
                Action::Negotiate(peer) => self.negotiate(&peer, now),
                Action::Rekey(peer) => self.rekey(&peer),
            }
        }
    }

    fn forward(&mut self, from: &PeerId, data: &MediaData, now: Instant) {
        let keyframe = data.is_keyframe();
        let subscribers: Vec<PeerId> = self
            .members
            .keys()
            .filter(|p| *p != from)
            .cloned()
            .collect();
        for subscriber in subscribers {
            let Some(member) = self.members.get_mut(&subscriber) else {
                continue;
            };
            let Some(o) = member.outbound.iter_mut().find(|o| {
                &o.source == from
                    && o.source_mid == data.mid
                    && matches!(o.state, OutState::Open(_))
            }) else {
                continue;
            };
            let OutState::Open(out_mid) = o.state else {
                continue;
            };
            let mut switched = false;
            if data.rid.is_some() || o.target.is_some() {
                // Simulcast: only the chosen layer, and a new one only from a keyframe.
                let target = o.target.or(data.rid);
                if data.rid != o.current {
                    if data.rid != target {
                        continue;
                    }
                    if !keyframe {
                        // Nothing to decode until a keyframe of the new layer: ask for one
                        // (again, at most every KEYFRAME_INTERVAL: a browser ignores a request
                        // that comes soon after its last keyframe), and skip this frame.
                        self.actions.push_back(Action::Keyframe {
                            publisher: from.clone(),
                            mid: data.mid,
                            rid: data.rid,
                        });
                        continue;
                    }
                    switched = o.current.is_some();
                    tracing::debug!(
                        target: "treff_server::sfu::layers",
                        peer = %subscriber,
                        from = ?o.current,
                        to = ?data.rid,
                        "layer switched"
                    );
                    if switched {
                        self.counters.layer_switches += 1;
                    }
                    o.current = data.rid;
                }
            }
            let time = o.rewrite(data.time, now, switched);
            let Some(writer) = member.subscribe.rtc.writer(out_mid) else {
                continue;
            };
            let Some(pt) = writer.match_params(data.params) else {
                continue;
            };
            match writer.write(pt, data.network_time, time, data.data.clone()) {
                Ok(()) => self.counters.frames_forwarded += 1,
                Err(err) => {
                    tracing::debug!(peer = %subscriber, error = %err, "write failed");
                }
            }
            self.drain(&subscriber, MediaLink::Subscribe, now);
        }
    }

    /// Asks the publishers of every picture a member receives for a keyframe.
    fn rekey(&mut self, peer: &PeerId) {
        let Some(member) = self.members.get(peer) else {
            return;
        };
        let wanted: Vec<Action> = member
            .outbound
            .iter()
            .filter(|o| o.kind != MediaKind::Audio && matches!(o.state, OutState::Open(_)))
            .map(|o| Action::Keyframe {
                publisher: o.source.clone(),
                mid: o.source_mid,
                rid: o.current.or(o.target),
            })
            .collect();
        self.actions.extend(wanted);
    }

    fn request_keyframe(&mut self, publisher: &PeerId, mid: Mid, rid: Option<Rid>, now: Instant) {
        let Some(member) = self.members.get_mut(publisher) else {
            return;
        };
        let Some(inbound) = member.inbound.get_mut(&mid) else {
            return;
        };
        if inbound.kind == MediaKind::Audio {
            return;
        }
        if rid.is_none() && !inbound.rids.is_empty() {
            // A simulcast camera, asked for before a layer was chosen: every layer.
            let rids = inbound.rids.clone();
            for rid in rids {
                self.request_keyframe(publisher, mid, Some(rid), now);
            }
            return;
        }
        if inbound
            .asked
            .get(&rid)
            .is_some_and(|at| now.duration_since(*at) < KEYFRAME_INTERVAL)
        {
            return;
        }
        inbound.asked.insert(rid, now);
        let Some(leg) = member.publish.as_mut() else {
            return;
        };
        let Some(mut writer) = leg.rtc.writer(mid) else {
            return;
        };
        match writer.request_keyframe(rid, KeyframeRequestKind::Pli) {
            Ok(()) => self.counters.keyframe_requests += 1,
            Err(err) => tracing::debug!(
                target: "treff_server::sfu::layers",
                peer = %publisher,
                ?rid,
                error = %err,
                "keyframe request failed"
            ),
        }
        self.drain(publisher, MediaLink::Publish, now);
    }

    /// Offers a member's subscribe link what changed, unless an offer is still out.
    fn negotiate(&mut self, peer: &PeerId, now: Instant) {
        let Some(member) = self.members.get_mut(peer) else {
            return;
        };
        if member.pending.is_some() || !member.subscribe.rtc.is_alive() {
            return;
        }
        let mut change = member.subscribe.rtc.sdp_api();
        for o in member.outbound.iter_mut() {
            match o.state {
                OutState::ToOpen => {
                    // Audio and camera of one member share a stream, so the browser keeps them
                    // in sync; a screen is a stream of its own.
                    let stream = match o.kind {
                        MediaKind::Screen => format!("{}-screen", o.source),
                        _ => o.source.to_string(),
                    };
                    let mid = change.add_media(
                        rtc_kind(o.kind),
                        Direction::SendOnly,
                        Some(stream),
                        None,
                        None,
                    );
                    o.state = OutState::Negotiating(mid);
                }
                OutState::ToStop(mid) => {
                    change.stop_media(mid);
                    o.state = OutState::NegotiatingStop(mid);
                }
                _ => {}
            }
        }
        let restarted = member.restart_subscribe.then(|| change.ice_restart(true));
        if !change.has_changes() {
            return;
        }
        let Some((offer, pending)) = change.apply() else {
            return;
        };
        member.restart_subscribe = false;
        member.pending = Some(pending);
        // The offer carries new credentials, which str0m uses once it is answered; the router
        // learns them now, since the browser's checks may come before its answer.
        if let Some(creds) = restarted {
            let leg = &mut member.subscribe;
            leg.restarting = true;
            leg.retired
                .push(std::mem::replace(&mut leg.ufrag, creds.ufrag.clone()));
            self.out.push(EngineOutput::Register {
                ufrag: creds.ufrag,
                peer: peer.clone(),
                link: MediaLink::Subscribe,
            });
        }
        member.subscribe.negotiated_at.get_or_insert(now);
        let media = member
            .outbound
            .iter()
            .filter_map(|o| match o.state {
                OutState::Negotiating(mid) | OutState::Open(mid) => Some(MediaLine {
                    mid: mid.to_string(),
                    kind: o.kind,
                    peer: Some(o.source.clone()),
                }),
                _ => None,
            })
            .collect();
        self.out.push(EngineOutput::Signal {
            peer: peer.clone(),
            link: MediaLink::Subscribe,
            data: SignalData::Description(SessionDescription {
                kind: SdpType::Offer,
                sdp: offer.to_sdp_string(),
                media,
            }),
        });
        self.drain(peer, MediaLink::Subscribe, now);
    }
}

/// The first `a=ice-ufrag` of an SDP (a browser uses one for the whole bundle).
fn ice_ufrag(sdp: &str) -> Option<String> {
    sdp.lines()
        .find_map(|l| l.trim_end().strip_prefix("a=ice-ufrag:"))
        .map(str::to_owned)
}

/// Simulcast layers lowest first. The web app names them `q`, `h` and `f` (quarter, half, full
/// resolution); other names keep the order the publisher gave (browsers list highest first).
fn order_layers(mut rids: Vec<Rid>) -> Vec<Rid> {
    let rank = |rid: &Rid| match &**rid {
        "q" => Some(0),
        "h" => Some(1),
        "f" => Some(2),
        _ => None,
    };
    if rids.iter().all(|r| rank(r).is_some()) {
        rids.sort_by_key(|r| rank(r));
    } else {
        rids.reverse();
    }
    rids
}
