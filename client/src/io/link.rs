//! One `RTCPeerConnection`, negotiated with the perfect-negotiation pattern.
//!
//! A link is opened as its [`LinkSpec`] says: the side that offers first adds its tracks at once
//! and answers `negotiationneeded` with an offer; the other side waits for that first offer and
//! only then attaches its tracks (they ride on the offered transceivers, so the answer already
//! sends them). Every later renegotiation (screen share on or off, ICE restart) may start on either
//! side. When two offers collide, one side rolls back its own offer and the other ignores the
//! incoming one: the side that yields is the one that sent the offer of the last completed
//! negotiation (see [`Inner::yields`]); [`LinkSpec::polite`] decides only before the first
//! negotiation completes.
//!
//! Every description the link sends says what it sends on each of its lines
//! ([`treff_shared::MediaLine`]: microphone, camera or screen by `mid`), so the other side files
//! each track under what it is, whatever the order of the lines. Remote tracks are reported with
//! their `mid` ([`LinkEvent::Track`]); which tile they belong to is the call core's business.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use js_sys::Reflect;
use treff_shared::{
    IceCandidate, IceServer, MediaKind, MediaLine, SdpType, SessionDescription, SignalData,
};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{
    MediaStream, MediaStreamTrack, RtcConfiguration, RtcIceCandidateInit, RtcIceConnectionState,
    RtcIceServer, RtcPeerConnection, RtcPeerConnectionIceEvent, RtcPeerConnectionState,
    RtcRtpEncodingParameters, RtcRtpSender, RtcRtpTransceiver, RtcRtpTransceiverDirection,
    RtcRtpTransceiverInit, RtcSdpType, RtcSessionDescriptionInit, RtcTrackEvent,
};

use super::{hook, js};
use crate::core::budget::VideoCap;
use crate::core::quality::{InboundStream, LinkStats, PathCounters, StreamCounters};
use crate::core::transport::{LinkRole, LinkSpec, TrackKind};
use crate::core::{IceState, LinkEvent};
use crate::state::LinkState;

/// Why a link could not be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// `new RTCPeerConnection()` threw (bad ICE server URL, browser without WebRTC).
    #[error("could not create a peer connection: {0}")]
    Create(String),
}

/// The local tracks a link should send.
#[derive(Clone, Default)]
pub struct LocalTracks {
    /// The camera-and-microphone stream the tracks belong to (their `msid`).
    pub stream: Option<MediaStream>,
    /// Microphone.
    pub audio: Option<MediaStreamTrack>,
    /// Camera.
    pub video: Option<MediaStreamTrack>,
    /// Screen share, with its own stream.
    pub screen: Option<(MediaStreamTrack, MediaStream)>,
}

/// Our senders on this link.
#[derive(Default)]
struct Senders {
    audio: Option<RtcRtpSender>,
    video: Option<RtcRtpSender>,
    screen: Option<RtcRtpSender>,
}

type Handlers = (
    Closure<dyn FnMut()>,
    Closure<dyn FnMut(RtcPeerConnectionIceEvent)>,
    Closure<dyn FnMut(RtcTrackEvent)>,
    Closure<dyn FnMut()>,
    Closure<dyn FnMut()>,
);

struct Inner {
    pc: RtcPeerConnection,
    /// Names this link in the test hook and its marks.
    label: String,
    /// Peer to peer, or one of the two links to the media server.
    role: LinkRole,
    /// The room's choice of who yields in a collision, used until a negotiation has completed.
    polite: bool,
    /// An offer of ours is being created and set.
    making_offer: Cell<bool>,
    /// The last incoming offer collided and we ignored it; its candidates may fail.
    ignore_offer: Cell<bool>,
    /// Tracks are attached and `negotiationneeded` is answered. The side that offers first starts
    /// at once, the other when the first offer arrives.
    started: Cell<bool>,
    /// What should be sent; applied at start and on every change.
    local: RefCell<LocalTracks>,
    senders: RefCell<Senders>,
    /// The camera's share of the upload budget, applied to its sender whenever there is one.
    video_cap: Cell<Option<VideoCap>>,
    /// The simulcast layers the media server asked us to send, by the line (`mid`) of the
    /// camera; a line not named sends all of its layers.
    layers: RefCell<HashMap<String, Vec<String>>>,
    /// Signals from the remote side not handled yet, oldest first.
    incoming: RefCell<VecDeque<SignalData>>,
    /// A task is working through `incoming`.
    draining: Cell<bool>,
    on_event: Box<dyn Fn(LinkEvent)>,
    closed: Cell<bool>,
    /// Keeps the event handlers alive as long as the connection.
    handlers: RefCell<Option<Handlers>>,
}

/// One connection; cloning shares it.
#[derive(Clone)]
pub struct Link {
    inner: Rc<Inner>,
}

fn rtc_configuration(ice_servers: &[IceServer]) -> RtcConfiguration {
    let servers = js_sys::Array::new();
    for server in ice_servers {
        let entry = RtcIceServer::new();
        let urls: js_sys::Array = server.urls.iter().map(|u| JsValue::from_str(u)).collect();
        entry.set_urls(&urls);
        if let Some(username) = &server.username {
            entry.set_username(username);
        }
        if let Some(credential) = &server.credential {
            entry.set_credential(credential);
        }
        servers.push(&entry);
    }
    let config = RtcConfiguration::new();
    config.set_ice_servers(&servers);
    config
}

fn ice_state(state: RtcIceConnectionState) -> (IceState, &'static str) {
    match state {
        RtcIceConnectionState::New => (IceState::Checking, "new"),
        RtcIceConnectionState::Checking => (IceState::Checking, "checking"),
        RtcIceConnectionState::Connected => (IceState::Connected, "connected"),
        RtcIceConnectionState::Completed => (IceState::Connected, "completed"),
        RtcIceConnectionState::Disconnected => (IceState::Disconnected, "disconnected"),
        RtcIceConnectionState::Failed => (IceState::Failed, "failed"),
        RtcIceConnectionState::Closed => (IceState::Closed, "closed"),
        _ => (IceState::Checking, "unknown"),
    }
}

fn connection_state(state: RtcPeerConnectionState) -> (LinkState, &'static str) {
    match state {
        RtcPeerConnectionState::New => (LinkState::Connecting, "new"),
        RtcPeerConnectionState::Connecting => (LinkState::Connecting, "connecting"),
        RtcPeerConnectionState::Connected => (LinkState::Connected, "connected"),
        RtcPeerConnectionState::Disconnected => (LinkState::Disconnected, "disconnected"),
        RtcPeerConnectionState::Failed => (LinkState::Failed, "failed"),
        RtcPeerConnectionState::Closed => (LinkState::Disconnected, "closed"),
        _ => (LinkState::Connecting, "unknown"),
    }
}

fn sdp_type(kind: SdpType) -> RtcSdpType {
    match kind {
        SdpType::Offer => RtcSdpType::Offer,
        SdpType::Answer => RtcSdpType::Answer,
        SdpType::Pranswer => RtcSdpType::Pranswer,
        SdpType::Rollback => RtcSdpType::Rollback,
    }
}

impl Link {
    /// Creates the link. With `spec.offer`, tracks are attached at once and the first offer
    /// goes out; otherwise it waits for the remote offer.
    pub fn new(
        spec: &LinkSpec,
        local: LocalTracks,
        on_event: impl Fn(LinkEvent) + 'static,
    ) -> Result<Link, LinkError> {
        let pc = RtcPeerConnection::new_with_configuration(&rtc_configuration(&spec.ice_servers))
            .map_err(|e| LinkError::Create(js::describe(&e)))?;
        let link = Link {
            inner: Rc::new(Inner {
                pc,
                label: spec.label.clone(),
                role: spec.role,
                polite: spec.polite,
                making_offer: Cell::new(false),
                ignore_offer: Cell::new(false),
                started: Cell::new(false),
                local: RefCell::new(local),
                senders: RefCell::new(Senders::default()),
                video_cap: Cell::new(None),
                layers: RefCell::new(HashMap::new()),
                incoming: RefCell::new(VecDeque::new()),
                draining: Cell::new(false),
                on_event: Box::new(on_event),
                closed: Cell::new(false),
                handlers: RefCell::new(None),
            }),
        };
        link.install_handlers();
        hook::register(&spec.label, &link.inner.pc);
        if spec.offer {
            link.start();
        }
        Ok(link)
    }

    /// The link's label (`mesh/<peer>`).
    pub fn label(&self) -> &str {
        &self.inner.label
    }

    fn install_handlers(&self) {
        let weak = Rc::downgrade(&self.inner);
        let negotiation = {
            let weak = weak.clone();
            Closure::<dyn FnMut()>::new(move || {
                if let Some(inner) = weak.upgrade() {
                    // On the subscribe link only the media server offers.
                    let may_offer = inner.role != LinkRole::Subscribe;
                    if inner.started.get() && !inner.closed.get() && may_offer {
                        spawn_local(make_offer(inner));
                    }
                }
            })
        };
        let candidate = {
            let weak = weak.clone();
            Closure::<dyn FnMut(RtcPeerConnectionIceEvent)>::new(
                move |event: RtcPeerConnectionIceEvent| {
                    let Some(inner) = weak.upgrade() else { return };
                    let data = match event.candidate() {
                        Some(c) => SignalData::Candidate(Some(IceCandidate {
                            candidate: c.candidate(),
                            sdp_mid: c.sdp_mid(),
                            sdp_m_line_index: c.sdp_m_line_index(),
                            // web-sys has no getter for it.
                            username_fragment: js::get_string(&c, "usernameFragment"),
                        })),
                        None => SignalData::Candidate(None),
                    };
                    (inner.on_event)(LinkEvent::Signal(data));
                },
            )
        };
        let track = {
            let weak = weak.clone();
            Closure::<dyn FnMut(RtcTrackEvent)>::new(move |event: RtcTrackEvent| {
                if let Some(inner) = weak.upgrade() {
                    inner.on_track(&event);
                }
            })
        };
        let ice = {
            let weak = weak.clone();
            Closure::<dyn FnMut()>::new(move || {
                let Some(inner) = weak.upgrade() else { return };
                let (state, name) = ice_state(inner.pc.ice_connection_state());
                inner.mark(&format!("ice-{name}"));
                (inner.on_event)(LinkEvent::Ice(state));
            })
        };
        let connection = Closure::<dyn FnMut()>::new(move || {
            let Some(inner) = weak.upgrade() else { return };
            let (state, name) = connection_state(inner.pc.connection_state());
            inner.mark(&format!("connection-{name}"));
            (inner.on_event)(LinkEvent::State(state));
        });
        let pc = &self.inner.pc;
        pc.set_onnegotiationneeded(Some(negotiation.as_ref().unchecked_ref()));
        pc.set_onicecandidate(Some(candidate.as_ref().unchecked_ref()));
        pc.set_ontrack(Some(track.as_ref().unchecked_ref()));
        pc.set_oniceconnectionstatechange(Some(ice.as_ref().unchecked_ref()));
        pc.set_onconnectionstatechange(Some(connection.as_ref().unchecked_ref()));
        *self.inner.handlers.borrow_mut() = Some((negotiation, candidate, track, ice, connection));
    }

    /// Attaches the local tracks (and placeholders to receive what we do not send); from here
    /// on `negotiationneeded` is answered with offers.
    fn start(&self) {
        let inner = &self.inner;
        if inner.started.replace(true) {
            return;
        }
        inner.sync_tracks();
        if inner.role != LinkRole::Mesh {
            // The media server's offer decides the lines of the subscribe link; the publish
            // link has a line for each track we send and nothing to receive.
            return;
        }
        // The first negotiation always has one audio and one video line, so the other side can
        // send both even when we have nothing to send.
        let senders = inner.senders.borrow();
        for (kind, sender) in [("audio", &senders.audio), ("video", &senders.video)] {
            if sender.is_none() && inner.first_transceiver(kind).is_none() {
                let init = RtcRtpTransceiverInit::new();
                init.set_direction(RtcRtpTransceiverDirection::Recvonly);
                inner.pc.add_transceiver_with_str_and_init(kind, &init);
            }
        }
    }

    /// Replaces what this link sends.
    pub fn set_local(&self, local: LocalTracks) {
        *self.inner.local.borrow_mut() = local;
        if self.inner.started.get() {
            self.inner.sync_tracks();
        }
    }

    /// Handles a signal from the remote side once the ones before it are done. One at a time,
    /// because an offer that arrives while the answer to our own offer is still being applied
    /// would look like a collision (the connection is not `stable` yet): both sides then ignored
    /// each other's offers and waited for answers forever.
    pub fn deliver(&self, data: SignalData) {
        self.inner.incoming.borrow_mut().push_back(data);
        if self.inner.draining.replace(true) {
            return;
        }
        let this = self.clone();
        spawn_local(async move {
            loop {
                let next = this.inner.incoming.borrow_mut().pop_front();
                let Some(data) = next else { break };
                let result = match data {
                    SignalData::Description(description) => this.on_description(description).await,
                    SignalData::Candidate(candidate) => this.inner.on_candidate(candidate).await,
                    // The call core keeps this one; it never reaches a link.
                    SignalData::Swapped { .. } => Ok(()),
                    SignalData::Layers { mid, active } => this.set_layers(mid, active).await,
                };
                if let Err(err) = result {
                    js::warn(&format!(
                        "treff: negotiation step failed on {}: {}",
                        this.inner.label,
                        js::describe(&err)
                    ));
                }
            }
            this.inner.draining.set(false);
        });
    }

    /// Sends only the `active` simulcast layers of the camera on line `mid` (the media server
    /// found nobody watching the others at a size that needs them); the browser then stops
    /// encoding the paused ones, which is most of a camera's encoding work.
    async fn set_layers(&self, mid: String, active: Vec<String>) -> Result<(), JsValue> {
        let Some(sender) = self
            .inner
            .transceivers()
            .into_iter()
            .find(|t| t.mid().as_deref() == Some(mid.as_str()))
            .map(|t| t.sender())
        else {
            return Err(JsValue::from_str(&format!(
                "no line {mid} to set layers on"
            )));
        };
        self.inner
            .mark(&format!("layers {mid} {}", active.join(",")));
        self.inner.layers.borrow_mut().insert(mid, active.clone());
        set_active_layers(&sender, Some(&active)).await
    }

    async fn on_description(&self, description: SessionDescription) -> Result<(), JsValue> {
        let inner = &self.inner;
        if inner.closed.get() {
            return Ok(());
        }
        let is_offer = description.kind == SdpType::Offer;
        let stable = inner.pc.signaling_state() == web_sys::RtcSignalingState::Stable;
        let collision = is_offer && (inner.making_offer.get() || !stable);
        inner.mark(&format!("{}-received", description.kind.as_str()));
        inner.ignore_offer.set(collision && !inner.yields());
        if inner.ignore_offer.get() {
            inner.mark("offer-ignored");
            return Ok(());
        }
        let init = RtcSessionDescriptionInit::new(sdp_type(description.kind));
        init.set_sdp(&description.sdp);
        if collision {
            // Polite side: roll back our own offer and take theirs. Both operations are queued on
            // the connection together, so no negotiation of ours can slip in between.
            inner.mark("rollback");
            let rollback = RtcSessionDescriptionInit::new(RtcSdpType::Rollback);
            let first = inner.pc.set_local_description(&rollback);
            let second = inner.pc.set_remote_description(&init);
            JsFuture::from(first).await?;
            JsFuture::from(second).await?;
        } else {
            JsFuture::from(inner.pc.set_remote_description(&init)).await?;
        }
        if is_offer {
            // The side that did not offer first attaches its tracks now: they take the offered
            // transceivers, so the answer sends them without another round.
            self.start();
            // setLocalDescription() without arguments creates the right answer; web-sys only
            // binds the form with a description.
            js::call_async(&inner.pc, "setLocalDescription", &[]).await?;
            inner.send_local_description();
        }
        // A negotiation completed: a camera sender it brought gets its cap now.
        inner.apply_video_cap();
        Ok(())
    }

    /// The remote track with this id, among what this link receives.
    pub fn remote_track(&self, id: &str) -> Option<MediaStreamTrack> {
        self.inner
            .transceivers()
            .into_iter()
            .map(|t| t.receiver().track())
            .find(|track| track.id() == id)
    }

    /// Whether the remote track `id` has shown a decoded frame (video) or sound (audio) yet,
    /// from its receiver's `getStats()`. `None` when this link has no such track (any more).
    pub async fn flowing(&self, id: &str) -> Option<bool> {
        let receiver = self
            .inner
            .transceivers()
            .into_iter()
            .map(|t| t.receiver())
            .find(|r| r.track().id() == id)?;
        let report = JsFuture::from(receiver.get_stats()).await.ok()?;
        let entries = js_sys::try_iter(&report).ok()??;
        for entry in entries.flatten() {
            let stats = Reflect::get(&entry, &JsValue::from(1)).ok()?;
            if js::get_string(&stats, "type").as_deref() != Some("inbound-rtp") {
                continue;
            }
            let count = |key: &str| {
                Reflect::get(&stats, &JsValue::from_str(key))
                    .ok()
                    .and_then(|v| v.as_f64())
                    .unwrap_or(0.0)
            };
            if count("framesDecoded") > 0.0
                || (count("packetsReceived") > 0.0
                    && js::get_string(&stats, "kind").as_deref() == Some("audio"))
            {
                return Some(true);
            }
        }
        Some(false)
    }

    /// One read of this link's `getStats()`: bytes received on all its candidate pairs, its
    /// selected path, and the counters of every stream it receives. `None` once the link is
    /// closed.
    pub async fn stats(&self) -> Option<LinkStats> {
        if self.inner.closed.get() {
            return None;
        }
        let report = JsFuture::from(self.inner.pc.get_stats()).await.ok()?;
        let entries = js_sys::try_iter(&report).ok()??;
        let number = |stats: &JsValue, key: &str| {
            Reflect::get(stats, &JsValue::from_str(key))
                .ok()
                .and_then(|v| v.as_f64())
        };
        let mut out = LinkStats::default();
        let mut bytes = 0.0;
        // The selected pair and its candidates' types, matched up after the walk.
        let mut selected: Option<(Option<f64>, Option<String>, Option<String>)> = None;
        let mut candidates = std::collections::HashMap::new();
        let mut remote_rtt: Option<f64> = None;
        for entry in entries.flatten() {
            let Ok(stats) = Reflect::get(&entry, &JsValue::from(1)) else {
                continue;
            };
            match js::get_string(&stats, "type").as_deref() {
                Some("candidate-pair") => {
                    bytes += number(&stats, "bytesReceived").unwrap_or(0.0);
                    let chosen = Reflect::get(&stats, &JsValue::from_str("selected"))
                        .ok()
                        .and_then(|v| v.as_bool())
                        .unwrap_or(false)
                        || (Reflect::get(&stats, &JsValue::from_str("nominated"))
                            .ok()
                            .and_then(|v| v.as_bool())
                            .unwrap_or(false)
                            && js::get_string(&stats, "state").as_deref() == Some("succeeded"));
                    if chosen {
                        selected = Some((
                            number(&stats, "currentRoundTripTime"),
                            js::get_string(&stats, "localCandidateId"),
                            js::get_string(&stats, "remoteCandidateId"),
                        ));
                    }
                }
                Some("local-candidate" | "remote-candidate") => {
                    if let (Some(id), Some(kind)) = (
                        js::get_string(&stats, "id"),
                        js::get_string(&stats, "candidateType"),
                    ) {
                        candidates.insert(id, kind);
                    }
                }
                Some("remote-inbound-rtp") => {
                    if let Some(rtt) = number(&stats, "roundTripTime") {
                        remote_rtt = Some(remote_rtt.map_or(rtt, |r: f64| r.max(rtt)));
                    }
                }
                Some("inbound-rtp") => {
                    let count = |key: &str| number(&stats, key).unwrap_or(0.0);
                    let audio = js::get_string(&stats, "kind").as_deref() == Some("audio");
                    let size = match (number(&stats, "frameWidth"), number(&stats, "frameHeight")) {
                        (Some(w), Some(h)) => Some((w as u32, h as u32)),
                        _ => None,
                    };
                    out.streams.push(InboundStream {
                        mid: js::get_string(&stats, "mid"),
                        track_id: js::get_string(&stats, "trackIdentifier"),
                        audio,
                        counters: StreamCounters {
                            packets_received: count("packetsReceived") as u64,
                            packets_lost: count("packetsLost") as i64,
                            bytes_received: count("bytesReceived") as u64,
                            frames_decoded: count("framesDecoded") as u64,
                            size,
                            freezes: count("freezeCount") as u64,
                            audio_level: number(&stats, "audioLevel"),
                            audio_energy: number(&stats, "totalAudioEnergy"),
                            samples_duration: number(&stats, "totalSamplesDuration"),
                        },
                    });
                }
                _ => {}
            }
        }
        out.bytes = bytes as u64;
        if let Some((rtt, local, remote)) = selected {
            let relay = |id: Option<String>| {
                id.and_then(|id| candidates.get(&id).cloned())
                    .map(|kind| kind == "relay")
            };
            out.path = PathCounters {
                rtt_ms: rtt.or(remote_rtt).map(|s| s * 1000.0),
                relayed: match (relay(local), relay(remote)) {
                    (None, None) => None,
                    (a, b) => Some(a.unwrap_or(false) || b.unwrap_or(false)),
                },
            };
        } else {
            out.path.rtt_ms = remote_rtt.map(|s| s * 1000.0);
        }
        Some(out)
    }

    /// Bytes received on all of this link's candidate pairs so far (`getStats()`); `None`
    /// once the link is closed.
    pub async fn bytes_received(&self) -> Option<u64> {
        if self.inner.closed.get() {
            return None;
        }
        let report = JsFuture::from(self.inner.pc.get_stats()).await.ok()?;
        let entries = js_sys::try_iter(&report).ok()??;
        let mut bytes = 0.0;
        for entry in entries.flatten() {
            let stats = Reflect::get(&entry, &JsValue::from(1)).ok()?;
            if js::get_string(&stats, "type").as_deref() == Some("candidate-pair") {
                bytes += Reflect::get(&stats, &JsValue::from_str("bytesReceived"))
                    .ok()
                    .and_then(|v| v.as_f64())
                    .unwrap_or(0.0);
            }
        }
        Some(bytes as u64)
    }

    /// Makes our video senders start over with keyframes ([`restart_encoder`]): after a path
    /// came back, the other side's decoder waits for one, and Chromium's receiver asks for it
    /// only after seconds.
    pub fn refresh_video(&self) {
        if self.inner.closed.get() {
            return;
        }
        let senders = {
            let senders = self.inner.senders.borrow();
            [senders.video.clone(), senders.screen.clone()]
        };
        self.inner.mark("video-refreshed");
        for sender in senders.into_iter().flatten() {
            let active = self
                .inner
                .transceivers()
                .into_iter()
                .find(|t| t.sender() == sender)
                .and_then(|t| t.mid())
                .and_then(|mid| self.inner.layers.borrow().get(&mid).cloned());
            spawn_local(async move {
                if let Err(err) = restart_encoder(&sender, active.as_deref()).await {
                    js::warn(&format!(
                        "treff: restarting the video encoder failed: {}",
                        js::describe(&err)
                    ));
                }
            });
        }
    }

    /// Limits what the camera sends on this link (its share of the upload budget), now if it
    /// has a sender and on the sender it gets otherwise.
    pub fn cap_video(&self, cap: VideoCap) {
        self.inner.video_cap.set(Some(cap));
        self.inner.apply_video_cap();
    }

    /// Sends our offer again if it is still unanswered (the signaling may have lost it).
    pub fn resend_offer(&self) {
        if !self.inner.closed.get()
            && self.inner.pc.signaling_state() == web_sys::RtcSignalingState::HaveLocalOffer
        {
            self.inner.mark("offer-resent");
            self.inner.send_local_description();
        }
    }

    /// Restarts ICE: `negotiationneeded` fires and the offer carries new credentials. While an
    /// offer of ours is still unanswered, it is sent again instead: the signaling connection it
    /// left on may have died with the network that changed (the restart is asked for when a
    /// resumed `welcome` comes), and a connection waiting for an answer never offers anew. The
    /// description carries every candidate gathered since, which the lost trickle did not
    /// deliver either.
    pub fn restart_ice(&self) {
        if self.inner.closed.get() {
            return;
        }
        if self.inner.pc.signaling_state() == web_sys::RtcSignalingState::HaveLocalOffer {
            self.inner.send_local_description();
            return;
        }
        // web-sys has no binding for restartIce().
        let _ = js::call(&self.inner.pc, "restartIce", &[]);
    }

    /// Closes the connection for good.
    pub fn close(&self) {
        let inner = &self.inner;
        if inner.closed.replace(true) {
            return;
        }
        inner.pc.set_onnegotiationneeded(None);
        inner.pc.set_onicecandidate(None);
        inner.pc.set_ontrack(None);
        inner.pc.set_oniceconnectionstatechange(None);
        inner.pc.set_onconnectionstatechange(None);
        inner.pc.close();
        inner.handlers.borrow_mut().take();
        hook::unregister(&inner.label);
    }
}

/// Makes a sender's encoder start over with keyframes: it pauses and resumes its encodings
/// and sends a picture a little smaller (a new size is always a keyframe), then, a second
/// later, the old size again, a second keyframe in case the first went out on a path the
/// other side no longer listens on. Layers not in `active` (when given) stay paused.
async fn restart_encoder(sender: &RtcRtpSender, active: Option<&[String]>) -> Result<(), JsValue> {
    let scales = encodings_of(&js::call(sender, "getParameters", &[])?)?
        .iter()
        .map(|e| {
            Reflect::get(&e, &JsValue::from_str("scaleResolutionDownBy"))
                .ok()
                .and_then(|v| v.as_f64())
                .unwrap_or(1.0)
        })
        .collect::<Vec<f64>>();
    set_encodings(sender, &[("active", JsValue::from_bool(false))]).await?;
    for (wait_ms, factor) in [(0, 1.02), (1_000, 1.0)] {
        if wait_ms > 0 {
            gloo_timers::future::TimeoutFuture::new(wait_ms).await;
        }
        let params = js::call(sender, "getParameters", &[])?;
        for (encoding, scale) in encodings_of(&params)?.iter().zip(&scales) {
            Reflect::set(
                &encoding,
                &JsValue::from_str("active"),
                &JsValue::from_bool(layer_active(&encoding, active)),
            )?;
            Reflect::set(
                &encoding,
                &JsValue::from_str("scaleResolutionDownBy"),
                &JsValue::from_f64(scale * factor),
            )?;
        }
        js::call_async(sender, "setParameters", &[params]).await?;
    }
    Ok(())
}

/// Whether `encoding` is among the `active` layers (by its `rid`); every encoding is when no
/// set is given, and an encoding without a `rid` (no simulcast) always is.
fn layer_active(encoding: &JsValue, active: Option<&[String]>) -> bool {
    let rid = Reflect::get(encoding, &JsValue::from_str("rid"))
        .ok()
        .and_then(|v| v.as_string());
    match (rid, active) {
        (Some(rid), Some(active)) => active.contains(&rid),
        _ => true,
    }
}

/// Pauses the simulcast layers of `sender` not in `active` and resumes those in it.
async fn set_active_layers(
    sender: &RtcRtpSender,
    active: Option<&[String]>,
) -> Result<(), JsValue> {
    let params = js::call(sender, "getParameters", &[])?;
    for encoding in encodings_of(&params)?.iter() {
        Reflect::set(
            &encoding,
            &JsValue::from_str("active"),
            &JsValue::from_bool(layer_active(&encoding, active)),
        )?;
    }
    js::call_async(sender, "setParameters", &[params]).await?;
    Ok(())
}

/// The `encodings` of a sender's parameters.
fn encodings_of(params: &JsValue) -> Result<js_sys::Array, JsValue> {
    Reflect::get(params, &JsValue::from_str("encodings"))?
        .dyn_into()
        .map_err(|_| JsValue::from_str("the sender has no encodings"))
}

/// Sets `fields` on every encoding of `sender` (`getParameters()`, then `setParameters()`).
async fn set_encodings(sender: &RtcRtpSender, fields: &[(&str, JsValue)]) -> Result<(), JsValue> {
    let params = js::call(sender, "getParameters", &[])?;
    for encoding in encodings_of(&params)?.iter() {
        for (key, value) in fields {
            Reflect::set(&encoding, &JsValue::from_str(key), value)?;
        }
    }
    js::call_async(sender, "setParameters", &[params]).await?;
    Ok(())
}

async fn make_offer(inner: Rc<Inner>) {
    inner.making_offer.set(true);
    // setLocalDescription() without arguments creates an offer (or the answer, if an offer came
    // in meanwhile), which is what makes this pattern glare-safe.
    let result = js::call_async(&inner.pc, "setLocalDescription", &[]).await;
    inner.making_offer.set(false);
    match result {
        Ok(_) => inner.send_local_description(),
        Err(err) => js::warn(&format!(
            "treff: creating an offer failed: {}",
            js::describe(&err)
        )),
    }
}

impl Inner {
    /// Whether we roll back our own offer when offers collide. Chromium loses the remote tracks
    /// for good (no more frames, no more sound) when a connection rolls back an offer while the
    /// last negotiation it completed was one it answered; after one it offered, rolling back is
    /// harmless. Both sides completed the same last negotiation, so "whoever offered it yields"
    /// is a rule they agree on without a word.
    fn yields(&self) -> bool {
        match self.pc.current_remote_description() {
            Some(description) => description.type_() == RtcSdpType::Answer,
            None => self.polite,
        }
    }

    fn mark(&self, name: &str) {
        hook::mark(name, Some(&self.label));
    }

    fn send_local_description(&self) {
        let Some(description) = self.pc.local_description() else {
            return;
        };
        let kind = match description.type_() {
            RtcSdpType::Offer => SdpType::Offer,
            RtcSdpType::Answer => SdpType::Answer,
            RtcSdpType::Pranswer => SdpType::Pranswer,
            _ => SdpType::Rollback,
        };
        self.mark(&format!("{}-sent", kind.as_str()));
        let description = SessionDescription {
            kind,
            sdp: without_session_direction(&description.sdp()),
            media: self.sending_lines(),
        };
        (self.on_event)(LinkEvent::Signal(SignalData::Description(description)));
    }

    /// What we send on which line, by `mid`.
    fn sending_lines(&self) -> Vec<MediaLine> {
        let senders = self.senders.borrow();
        let mut lines = Vec::new();
        for transceiver in self.transceivers() {
            let Some(mid) = transceiver.mid() else {
                continue;
            };
            let sender = transceiver.sender();
            let kind = [
                (&senders.audio, MediaKind::Audio),
                (&senders.video, MediaKind::Camera),
                (&senders.screen, MediaKind::Screen),
            ]
            .into_iter()
            .find(|(ours, _)| ours.as_ref() == Some(&sender))
            .map(|(_, kind)| kind);
            if let Some(kind) = kind {
                lines.push(MediaLine {
                    mid,
                    kind,
                    peer: None,
                });
            }
        }
        lines
    }

    async fn on_candidate(&self, candidate: Option<IceCandidate>) -> Result<(), JsValue> {
        if self.closed.get() {
            return Ok(());
        }
        let init = candidate.map(|c| {
            let init = RtcIceCandidateInit::new(&c.candidate);
            init.set_sdp_mid(c.sdp_mid.as_deref());
            init.set_sdp_m_line_index(c.sdp_m_line_index);
            if let Some(ufrag) = &c.username_fragment {
                // web-sys has no setter for it.
                let _ = Reflect::set(&init, &"usernameFragment".into(), &ufrag.into());
            }
            init
        });
        let promise = self
            .pc
            .add_ice_candidate_with_opt_rtc_ice_candidate_init(init.as_ref());
        match JsFuture::from(promise).await {
            // Candidates of an offer we ignored cannot be applied; that is expected.
            Err(_) if self.ignore_offer.get() => Ok(()),
            other => other.map(|_| ()),
        }
    }

    fn transceivers(&self) -> Vec<RtcRtpTransceiver> {
        self.pc
            .get_transceivers()
            .iter()
            .filter_map(|t| t.dyn_into::<RtcRtpTransceiver>().ok())
            .collect()
    }

    /// The first transceiver whose receiver is of `kind` (line order).
    fn first_transceiver(&self, kind: &str) -> Option<RtcRtpTransceiver> {
        self.transceivers()
            .into_iter()
            .find(|t| t.receiver().track().kind() == kind)
    }

    /// Sends `track` on a new line of its own: send-only to the media server, and a camera in
    /// three simulcast layers (quarter, half and full resolution; the browser drops those its
    /// camera is too small for), from which the server picks one per subscriber.
    fn publish_track(
        &self,
        track: &MediaStreamTrack,
        stream: &MediaStream,
        simulcast: bool,
    ) -> RtcRtpSender {
        let init = RtcRtpTransceiverInit::new();
        init.set_direction(RtcRtpTransceiverDirection::Sendonly);
        let streams: js_sys::Array = std::iter::once(JsValue::from(stream.clone())).collect();
        init.set_streams(&streams);
        if simulcast {
            let encodings = js_sys::Array::new();
            for (rid, scale, bitrate) in [
                ("q", 4.0, 150_000),
                ("h", 2.0, 500_000),
                ("f", 1.0, 1_500_000),
            ] {
                let encoding = RtcRtpEncodingParameters::new();
                encoding.set_rid(rid);
                encoding.set_scale_resolution_down_by(scale);
                encoding.set_max_bitrate(bitrate);
                encodings.push(&encoding);
            }
            init.set_send_encodings(&encodings);
        }
        self.pc
            .add_transceiver_with_media_stream_track_and_init(track, &init)
            .sender()
    }

    /// Applies the camera's cap to its sender, if both exist and no negotiation is under way
    /// (Chromium refuses parameters of a sender that is not negotiated yet; the end of each
    /// negotiation applies it). Not on the media server's publish link: its simulcast layers
    /// have their own rates.
    fn apply_video_cap(&self) {
        let (Some(cap), Some(sender)) = (self.video_cap.get(), self.senders.borrow().video.clone())
        else {
            return;
        };
        if self.role == LinkRole::Publish
            || self.pc.signaling_state() != web_sys::RtcSignalingState::Stable
            || self.pc.remote_description().is_none()
        {
            return;
        }
        spawn_local(async move {
            let fields = [
                (
                    "maxBitrate",
                    JsValue::from_f64(f64::from(cap.max_kbps) * 1000.0),
                ),
                ("scaleResolutionDownBy", JsValue::from_f64(cap.scale_down)),
            ];
            if let Err(err) = set_encodings(&sender, &fields).await {
                js::warn(&format!(
                    "treff: limiting the camera's bitrate failed: {}",
                    js::describe(&err)
                ));
            }
        });
    }

    /// Makes the senders match `self.local`.
    fn sync_tracks(&self) {
        if self.role == LinkRole::Subscribe {
            return;
        }
        let publish = self.role == LinkRole::Publish;
        let local = self.local.borrow().clone();
        let mut guard = self.senders.borrow_mut();
        let senders = &mut *guard;
        let stream = local.stream.clone().or_else(|| MediaStream::new().ok());
        for (track, slot) in [
            (&local.audio, &mut senders.audio),
            (&local.video, &mut senders.video),
        ] {
            match (slot.as_ref(), track) {
                (Some(sender), Some(track)) => {
                    if sender.track().map(|t| t.id()) != Some(track.id()) {
                        // Device switch: no renegotiation needed.
                        let _ = sender.replace_track(Some(track));
                    }
                }
                (None, Some(track)) => {
                    if let Some(stream) = &stream {
                        *slot = Some(if publish {
                            self.publish_track(track, stream, track.kind() == "video")
                        } else {
                            // `addTrack` reuses a transceiver of the same kind that the remote
                            // offer created and that never sent, so the answer carries it
                            // without a new line.
                            self.pc.add_track_0(track, stream)
                        });
                    }
                }
                (Some(sender), None) => {
                    let _ = sender.replace_track(None);
                }
                (None, None) => {}
            }
        }
        match (&senders.screen, &local.screen) {
            (None, Some((track, stream))) => {
                // Sharing again sends on the line of an earlier share: `addTrack` never reuses a
                // line that has sent, so every share would add a line until the offer outgrew
                // the server's frame limit and negotiation stopped for good.
                senders.screen = Some(match self.idle_screen_transceiver(&*senders) {
                    Some(transceiver) => {
                        let sender = transceiver.sender();
                        let _ = sender.replace_track(Some(track));
                        // The reverse of what `removeTrack` did to the direction.
                        transceiver.set_direction(match transceiver.direction() {
                            RtcRtpTransceiverDirection::Inactive => {
                                RtcRtpTransceiverDirection::Sendonly
                            }
                            _ => RtcRtpTransceiverDirection::Sendrecv,
                        });
                        sender
                    }
                    None if publish => self.publish_track(track, stream, false),
                    None => self.pc.add_track_0(track, stream),
                });
            }
            (Some(sender), Some((track, _))) => {
                if sender.track().map(|t| t.id()) != Some(track.id()) {
                    let _ = sender.replace_track(Some(track));
                }
            }
            (Some(sender), None) => {
                self.pc.remove_track(sender);
                senders.screen = None;
            }
            (None, None) => {}
        }
    }

    /// A video line we do not send our camera on and that sends nothing now: the line of an
    /// earlier share (or one only the other side shares on).
    fn idle_screen_transceiver(&self, senders: &Senders) -> Option<RtcRtpTransceiver> {
        let camera = match &senders.video {
            Some(sender) => self
                .transceivers()
                .into_iter()
                .find(|t| &t.sender() == sender),
            None => self.first_transceiver("video"),
        };
        self.transceivers().into_iter().find(|t| {
            t.receiver().track().kind() == "video"
                && Some(t) != camera.as_ref()
                && t.sender().track().is_none()
                && t.direction() != RtcRtpTransceiverDirection::Stopped
        })
    }

    fn on_track(&self, event: &RtcTrackEvent) {
        self.mark("track");
        let track = event.track();
        let kind = if track.kind() == "audio" {
            TrackKind::Audio
        } else {
            TrackKind::Video
        };
        (self.on_event)(LinkEvent::Track {
            mid: event.transceiver().mid(),
            kind,
            track_id: track.id(),
        });
    }
}

/// `sdp` without a direction attribute at session level (before the first `m=` line). Firefox
/// writes `a=sendrecv` there in every description, a default that each of its media sections
/// overrides with a direction of its own, so the description means the same without it; the
/// server reads any `a=sendrecv` as sending media and refuses such a description from a viewer.
fn without_session_direction(sdp: &str) -> String {
    let mut media = false;
    sdp.split_inclusive('\n')
        .filter(|line| {
            let line = line.trim_end();
            media |= line.starts_with("m=");
            media
                || !matches!(
                    line,
                    "a=sendrecv" | "a=sendonly" | "a=recvonly" | "a=inactive"
                )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::without_session_direction;

    #[test]
    fn only_the_session_level_direction_goes() {
        let firefox = "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=sendrecv\r\n\
            a=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 109\r\na=recvonly\r\na=mid:0\r\n";
        assert_eq!(
            without_session_direction(firefox),
            "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
            a=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 109\r\na=recvonly\r\na=mid:0\r\n"
        );
        let chromium = "v=0\r\ns=-\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=sendrecv\r\n";
        assert_eq!(without_session_direction(chromium), chromium);
    }
}
