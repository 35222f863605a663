//! One running call: feeds the [`CallCore`] with what the browser reports and carries out its
//! [`Command`]s with the real objects: the signaling WebSocket, the `RTCPeerConnection`s of the
//! links, the local camera, microphone and screen, and the remote tracks on the tiles.
//!
//! Nothing here decides anything the core could decide; what remains is bookkeeping of browser
//! objects the core cannot hold (streams, tracks, connections) and the asynchronous steps
//! (`getUserMedia`, `getDisplayMedia`) whose results go back to the core as inputs.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::{Rc, Weak};

use treff_shared::{DisplayName, MediaKind, PeerId, RoomName, TileSize};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::{MediaStream, MediaStreamTrack};

use super::hook::{self, StreamEntry};
use super::js;
use super::link::{Link, LocalTracks};
use super::media::{self, MediaError};
use super::signaling::{Credentials, Signaling};
use crate::core::table::Table;
use crate::core::transport::{LinkCommand, LinkId};
use crate::core::{AudioProcessing, CallCore, Command, Input, Intent, LinkEvent};
use crate::i18n::Lang;
use crate::state::{Action, Devices, StreamHandle};
use crate::token;

/// How often a track being switched to is checked for frames.
const FLOW_POLL_MS: u32 = 150;

/// How often the core's clock ticks (tile sizes are measured every fourth tick).
const TICK_MS: u32 = 250;

/// How large the page shows each remote picture: every `<video>` that names a member
/// (`data-peer`) and is visible, rounded to 16 px so that small layout jitter sends nothing.
fn measure_tiles() -> Vec<TileSize> {
    let Some(document) = web_sys::window().and_then(|w| w.document()) else {
        return Vec::new();
    };
    let Ok(videos) = document.query_selector_all("video[data-peer]") else {
        return Vec::new();
    };
    let mut tiles = Vec::new();
    for index in 0..videos.length() {
        let Some(video) = videos
            .item(index)
            .and_then(|n| n.dyn_into::<web_sys::HtmlElement>().ok())
        else {
            continue;
        };
        let (width, height) = (video.offset_width(), video.offset_height());
        let peer = video
            .get_attribute("data-peer")
            .and_then(|p| PeerId::new(&p).ok());
        let kind = match video.get_attribute("data-kind").as_deref() {
            Some("screen") => MediaKind::Screen,
            _ => MediaKind::Camera,
        };
        if let (Some(peer_id), true) = (peer, width > 0 && height > 0) {
            let round = |v: i32| (((v + 8) / 16) * 16).clamp(0, i32::from(u16::MAX)) as u16;
            tiles.push(TileSize {
                peer_id,
                kind,
                width: round(width),
                height: round(height),
            });
        }
    }
    tiles.sort_by(|a, b| (a.peer_id.as_str(), a.kind).cmp(&(b.peer_id.as_str(), b.kind)));
    tiles
}

/// Our own streams.
#[derive(Default)]
struct Local {
    camera: Option<MediaStream>,
    screen: Option<MediaStream>,
    /// Bumped whenever a stream's tracks change, so the own tiles pick them up.
    revision: u32,
    /// Send the local tracks on the links at all (not as a viewer).
    send: bool,
}

/// The remote tracks on one member's tiles.
#[derive(Default)]
struct Tiles {
    /// Microphone and camera, at most one of each kind, with the link each came on.
    camera: Vec<(LinkId, MediaStreamTrack)>,
    /// The shared screen.
    screen: Option<(LinkId, MediaStreamTrack)>,
}

struct Inner {
    core: RefCell<CallCore>,
    /// Inputs that arrived while commands were being carried out; handled in order afterwards.
    pending: RefCell<VecDeque<Input>>,
    busy: Cell<bool>,
    dispatch: Box<dyn Fn(Action)>,
    room: RoomName,
    name: DisplayName,
    credentials: Credentials,
    signaling: RefCell<Option<Signaling>>,
    links: RefCell<Table<LinkId, Link>>,
    local: RefCell<Local>,
    tiles: RefCell<Table<PeerId, Tiles>>,
    /// Bumped for every new remote stream object.
    remote_revision: Cell<u32>,
    /// Keeps the `devicechange` listener alive.
    device_listener: RefCell<Option<Closure<dyn FnMut()>>>,
    /// Keeps the screen track's `ended` listener alive.
    screen_listener: RefCell<Option<Closure<dyn FnMut()>>>,
    /// The clock the core's switches run on, and the tile measurements.
    ticker: RefCell<Option<gloo_timers::callback::Interval>>,
    /// The recording of the call, while it runs.
    recorder: RefCell<Option<super::recorder::Recorder>>,
}

/// A running call; cloning shares it.
#[derive(Clone)]
pub struct Call {
    inner: Rc<Inner>,
}

impl Call {
    /// Captures camera and microphone (unless the invitation makes us a viewer), then connects
    /// and joins `room` as `name` with the password and token in `credentials`.
    pub fn join(
        room: RoomName,
        name: DisplayName,
        credentials: Credentials,
        dispatch: impl Fn(Action) + 'static,
    ) -> Call {
        let viewer = credentials
            .token
            .as_deref()
            .and_then(token::peek)
            .is_some_and(|claims| claims.role == treff_shared::Role::Viewer);
        let call = Call {
            inner: Rc::new(Inner {
                core: RefCell::new(CallCore::default()),
                pending: RefCell::new(VecDeque::new()),
                busy: Cell::new(false),
                dispatch: Box::new(dispatch),
                room,
                name,
                credentials,
                signaling: RefCell::new(None),
                links: RefCell::new(Table::new()),
                local: RefCell::new(Local::default()),
                tiles: RefCell::new(Table::new()),
                remote_revision: Cell::new(0),
                device_listener: RefCell::new(None),
                screen_listener: RefCell::new(None),
                ticker: RefCell::new(None),
                recorder: RefCell::new(None),
            }),
        };
        call.inner.input(Input::Start { viewer });
        let feed = call.inner.feed();
        let mut ticks = 0u32;
        let ticker = gloo_timers::callback::Interval::new(TICK_MS, move || {
            feed.input(Input::Tick(js::now_ms() as u64));
            ticks += 1;
            if ticks % 4 == 0 {
                feed.input(Input::TileSizes(measure_tiles()));
            }
            if ticks % 2 == 0 {
                feed.sample_links();
            }
        });
        *call.inner.ticker.borrow_mut() = Some(ticker);
        call
    }

    /// What the person asked for.
    pub fn intent(&self, intent: Intent) {
        self.inner.input(Input::Intent(intent));
    }

    /// Leaves the call (closing the tab, pressing Leave).
    pub fn leave(&self) {
        self.intent(Intent::Leave);
    }
}

/// A handle that feeds inputs to the call as long as it runs.
#[derive(Clone)]
struct Feed(Weak<Inner>);

impl Feed {
    fn input(&self, input: Input) {
        if let Some(inner) = self.0.upgrade() {
            inner.input(input);
        }
    }

    /// Tells the core what each link's `getStats()` counts ([`Input::Stats`]).
    fn sample_links(&self) {
        let Some(inner) = self.0.upgrade() else {
            return;
        };
        let links: Vec<(LinkId, Link)> = inner
            .links
            .borrow()
            .iter()
            .map(|(id, link)| (*id, link.clone()))
            .collect();
        let feed = Feed(self.0.clone());
        spawn_local(async move {
            for (id, link) in links {
                if let Some(stats) = link.stats().await {
                    feed.input(Input::Stats(id, stats));
                }
            }
        });
    }
}

impl Inner {
    fn feed(self: &Rc<Self>) -> Feed {
        Feed(Rc::downgrade(self))
    }

    /// Hands an input to the core and carries out what it says. Inputs that arrive while that
    /// happens (an event fired synchronously by a command) wait their turn, so the core sees
    /// every input whole and in order.
    fn input(self: &Rc<Self>, input: Input) {
        self.pending.borrow_mut().push_back(input);
        if self.busy.replace(true) {
            return;
        }
        loop {
            let next = self.pending.borrow_mut().pop_front();
            let Some(input) = next else { break };
            let commands = self.core.borrow_mut().handle(input);
            for command in commands {
                self.execute(command);
            }
        }
        self.busy.set(false);
    }

    fn execute(self: &Rc<Self>, command: Command) {
        match command {
            Command::Capture => self.capture(),
            Command::WatchDevices => self.watch_devices(),
            Command::Connect(media) => {
                let feed = self.feed();
                let signaling = Signaling::start(
                    Signaling::default_url(),
                    self.room.clone(),
                    self.name.clone(),
                    media,
                    self.credentials.clone(),
                    move |event| feed.input(Input::Server(event)),
                );
                *self.signaling.borrow_mut() = Some(signaling);
            }
            Command::Send(message) => {
                if let Some(signaling) = self.signaling.borrow().as_ref() {
                    signaling.send(&message);
                }
            }
            Command::SendAsked(message) => {
                let sent = self
                    .signaling
                    .borrow()
                    .as_ref()
                    .is_some_and(|s| s.send(&message));
                if !sent {
                    self.pending
                        .borrow_mut()
                        .push_back(Input::NotSent(message.frame_type()));
                }
            }
            Command::PublishMedia(media) => {
                if let Some(signaling) = self.signaling.borrow().as_ref() {
                    signaling.set_media(media);
                }
            }
            Command::Disconnect => {
                self.ticker.borrow_mut().take();
                if let Some(signaling) = self.signaling.borrow_mut().take() {
                    signaling.leave();
                }
            }
            Command::Link(command) => self.link_command(command),
            Command::ProbeSignaling => {
                if let Some(signaling) = self.signaling.borrow().as_ref() {
                    signaling.probe();
                }
            }
            Command::RestartIce(id) => {
                if let Some(link) = self.links.borrow().get(&id) {
                    link.restart_ice();
                }
            }
            Command::CapVideo(id, cap) => {
                if let Some(link) = self.links.borrow().get(&id) {
                    link.cap_video(cap);
                }
            }
            Command::RefreshVideo(id) => {
                if let Some(link) = self.links.borrow().get(&id) {
                    link.refresh_video();
                }
            }
            Command::ResendOffer(id) => {
                if let Some(link) = self.links.borrow().get(&id) {
                    link.resend_offer();
                }
            }
            Command::EnableTrack { video, on } => {
                let local = self.local.borrow();
                if let Some(track) = local
                    .camera
                    .as_ref()
                    .and_then(|s| media::first_track(s, video))
                {
                    track.set_enabled(on);
                }
            }
            Command::OpenDevice {
                video,
                device_id,
                processing,
            } => self.open_device(video, device_id, processing),
            Command::StartScreen => self.start_screen(),
            Command::StopScreen => {
                self.screen_listener.borrow_mut().take();
                let mut local = self.local.borrow_mut();
                if let Some(stream) = local.screen.take() {
                    media::stop_all(&stream);
                    local.revision += 1;
                }
            }
            Command::StopCapture => {
                let mut local = self.local.borrow_mut();
                for stream in [local.camera.take(), local.screen.take()]
                    .into_iter()
                    .flatten()
                {
                    media::stop_all(&stream);
                }
                local.revision += 1;
                if let Some(devices) =
                    web_sys::window().and_then(|w| w.navigator().media_devices().ok())
                {
                    devices.set_ondevicechange(None);
                }
                self.device_listener.borrow_mut().take();
            }
            Command::PublishLocal { send } => self.publish_local(send),
            Command::WatchFlow { link, track_id } => self.watch_flow(link, track_id),
            Command::Attach {
                link,
                mid,
                track_id,
                peer,
                kind,
            } => self.attach(link, mid, &track_id, peer, kind),
            Command::StartRecorder => match super::recorder::Recorder::start(self.room.as_str()) {
                Ok(recorder) => {
                    hook::mark("recording-started", None);
                    *self.recorder.borrow_mut() = Some(recorder);
                }
                Err(reason) => self
                    .pending
                    .borrow_mut()
                    .push_back(Input::RecorderFailed(reason)),
            },
            Command::StopRecorder => {
                if let Some(recorder) = self.recorder.borrow_mut().take() {
                    hook::mark("recording-stopped", None);
                    recorder.stop();
                }
            }
            Command::Ui(action) => (self.dispatch)(action),
            Command::ShowRoomInAddress(room) => crate::route::push_room(room.as_str()),
            Command::SetPeerId(id) => hook::set_peer_id(id.as_ref().map(PeerId::as_str)),
            Command::Mark(name) => hook::mark(name, None),
            Command::Warn(message) => js::warn(&format!("treff: {message}")),
        }
    }

    fn link_command(self: &Rc<Self>, command: LinkCommand) {
        match command {
            LinkCommand::Open(spec) => {
                let feed = self.feed();
                let id = spec.id;
                let tracks = self.local_tracks();
                match Link::new(&spec, tracks, move |event| {
                    feed.input(Input::Link(id, event))
                }) {
                    Ok(link) => {
                        self.links.borrow_mut().insert(id, link);
                    }
                    Err(err) => self
                        .pending
                        .borrow_mut()
                        .push_back(Input::Link(id, LinkEvent::Failed(err.to_string()))),
                }
            }
            LinkCommand::Close(id) => {
                let link = self.links.borrow_mut().remove(&id);
                if let Some(link) = link {
                    hook::mark("closed", Some(link.label()));
                    link.close();
                }
                self.forget_tracks_of(id);
            }
            LinkCommand::Deliver(id, data) => {
                let link = self.links.borrow().get(&id).cloned();
                if let Some(link) = link {
                    link.deliver(data);
                }
            }
        }
    }

    /// What the links should send now.
    fn local_tracks(&self) -> LocalTracks {
        let local = self.local.borrow();
        if !local.send {
            // Only receive; the room refuses any description of ours that would send.
            return LocalTracks::default();
        }
        let camera = local.camera.clone();
        LocalTracks {
            audio: camera.as_ref().and_then(|s| media::first_track(s, false)),
            video: camera.as_ref().and_then(|s| media::first_track(s, true)),
            stream: camera,
            screen: local
                .screen
                .as_ref()
                .and_then(|s| media::first_track(s, true).map(|t| (t, s.clone()))),
        }
    }

    fn publish_local(&self, send: bool) {
        self.local.borrow_mut().send = send;
        let tracks = self.local_tracks();
        let links: Vec<Link> = self.links.borrow().values().cloned().collect();
        for link in links {
            link.set_local(tracks.clone());
        }
        let local = self.local.borrow();
        let handle = |stream: &Option<MediaStream>| {
            stream.as_ref().map(|stream| StreamHandle {
                stream: stream.clone(),
                revision: local.revision,
            })
        };
        (self.dispatch)(Action::LocalStreams {
            camera: handle(&local.camera),
            screen: handle(&local.screen),
        });
    }

    fn capture(self: &Rc<Self>) {
        let this = self.clone();
        spawn_local(async move {
            let captured = media::capture().await;
            let audio = media::first_track(&captured.stream, false).is_some();
            let video = media::first_track(&captured.stream, true).is_some();
            {
                let mut local = this.local.borrow_mut();
                local.camera = Some(captured.stream);
                local.revision += 1;
            }
            this.input(Input::Captured {
                audio,
                video,
                problem: captured.problem,
            });
        });
    }

    fn refresh_devices(self: &Rc<Self>) {
        let this = self.clone();
        spawn_local(async move {
            match media::list_devices().await {
                Ok((cameras, microphones)) => {
                    let current = |video: bool| {
                        this.local
                            .borrow()
                            .camera
                            .as_ref()
                            .and_then(|s| media::first_track(s, video))
                            .and_then(|t| media::track_device_id(&t))
                    };
                    let devices = Devices {
                        camera: current(true),
                        microphone: current(false),
                        cameras,
                        microphones,
                        // The core keeps its own.
                        processing: AudioProcessing::default(),
                    };
                    this.input(Input::Devices(devices));
                }
                Err(problem) => js::warn(&format!(
                    "treff: cannot list devices: {}",
                    problem.text(Lang::En.strings())
                )),
            }
        });
    }

    fn watch_devices(self: &Rc<Self>) {
        self.refresh_devices();
        let Some(devices) = web_sys::window().and_then(|w| w.navigator().media_devices().ok())
        else {
            return;
        };
        let weak = Rc::downgrade(self);
        let listener = Closure::<dyn FnMut()>::new(move || {
            if let Some(inner) = weak.upgrade() {
                inner.refresh_devices();
            }
        });
        devices.set_ondevicechange(Some(listener.as_ref().unchecked_ref()));
        *self.device_listener.borrow_mut() = Some(listener);
    }

    fn open_device(self: &Rc<Self>, video: bool, device_id: String, processing: AudioProcessing) {
        let this = self.clone();
        if !video {
            // A browser shares one capture per microphone, so new processing settings (and on
            // some systems a new device) apply only once the old track has stopped.
            let local = self.local.borrow();
            if let Some(old) = local
                .camera
                .as_ref()
                .and_then(|s| media::first_track(s, false))
            {
                old.stop();
            }
        }
        spawn_local(async move {
            let track = match media::open_device(video, &device_id, processing).await {
                Ok(track) => track,
                Err(problem) => {
                    this.input(Input::DeviceFailed(problem));
                    return;
                }
            };
            let enabled = {
                let mut local = this.local.borrow_mut();
                let stream = local.camera.get_or_insert_with(media::empty_stream);
                let old = media::first_track(stream, video);
                let enabled = old.as_ref().is_none_or(MediaStreamTrack::enabled);
                if let Some(old) = old {
                    stream.remove_track(&old);
                    old.stop();
                }
                track.set_enabled(enabled);
                stream.add_track(&track);
                local.revision += 1;
                enabled
            };
            // The default device (asked for by an empty id) names itself once open.
            let device_id = media::track_device_id(&track).unwrap_or(device_id);
            this.input(Input::DeviceOpened {
                video,
                device_id,
                enabled,
            });
        });
    }

    fn start_screen(self: &Rc<Self>) {
        let this = self.clone();
        spawn_local(async move {
            let stream = match media::capture_screen().await {
                Ok(stream) => stream,
                Err(MediaError::Cancelled) => {
                    this.input(Input::ScreenFailed(None));
                    return;
                }
                Err(MediaError::Problem(problem)) => {
                    this.input(Input::ScreenFailed(Some(problem)));
                    return;
                }
            };
            if let Some(track) = media::first_track(&stream, true) {
                // The browser's own "Stop sharing" button ends the track.
                let feed = this.feed();
                let ended = Closure::<dyn FnMut()>::new(move || feed.input(Input::ScreenEnded));
                track.set_onended(Some(ended.as_ref().unchecked_ref()));
                *this.screen_listener.borrow_mut() = Some(ended);
            }
            {
                let mut local = this.local.borrow_mut();
                if let Some(old) = local.screen.replace(stream) {
                    media::stop_all(&old);
                }
                local.revision += 1;
            }
            this.input(Input::ScreenStarted);
        });
    }

    /// Polls a remote track's receiver until it shows frames or sound, then tells the core.
    fn watch_flow(self: &Rc<Self>, link: LinkId, track_id: String) {
        let this = self.clone();
        spawn_local(async move {
            // A track that shows nothing in 20 s never will; the switch deadline decides then.
            for _ in 0..100 {
                gloo_timers::future::TimeoutFuture::new(FLOW_POLL_MS).await;
                let found = this.links.borrow().get(&link).cloned();
                let Some(found) = found else { return };
                match found.flowing(&track_id).await {
                    None => return,
                    Some(true) => {
                        this.input(Input::Link(link, LinkEvent::Flowing { track_id }));
                        return;
                    }
                    Some(false) => {}
                }
            }
        });
    }

    fn attach(
        &self,
        link: LinkId,
        mid: Option<String>,
        track_id: &str,
        peer: PeerId,
        kind: MediaKind,
    ) {
        let (track, label) = {
            let links = self.links.borrow();
            let Some(found) = links.get(&link) else {
                return;
            };
            (found.remote_track(track_id), found.label().to_owned())
        };
        let Some(track) = track else {
            js::warn(&format!("treff: no track {track_id} on {label}"));
            return;
        };
        {
            let mut tiles = self.tiles.borrow_mut();
            let tiles = tiles.entry_or_default(peer.clone());
            match kind {
                MediaKind::Screen => tiles.screen = Some((link, track)),
                MediaKind::Audio | MediaKind::Camera => {
                    let kind = track.kind();
                    tiles.camera.retain(|(_, t)| t.kind() != kind);
                    tiles.camera.push((link, track));
                }
            }
        }
        hook::mark(
            match kind {
                MediaKind::Audio => "shown-audio",
                MediaKind::Camera => "shown-camera",
                MediaKind::Screen => "shown-screen",
            },
            Some(&label),
        );
        hook::add_stream(StreamEntry {
            connection: label,
            mid,
            track_id: track_id.to_owned(),
            peer: peer.to_string(),
            kind: match kind {
                MediaKind::Audio => "audio",
                MediaKind::Camera => "camera",
                MediaKind::Screen => "screen",
            },
        });
        self.show_tiles(&peer);
    }

    /// A closed link's tracks leave the tiles (they would only show a frozen frame).
    fn forget_tracks_of(&self, link: LinkId) {
        let affected: Vec<PeerId> = {
            let mut tiles = self.tiles.borrow_mut();
            let mut affected = Vec::new();
            for (peer, tiles) in tiles.iter_mut() {
                let before = tiles.camera.len() + usize::from(tiles.screen.is_some());
                tiles.camera.retain(|(l, _)| *l != link);
                if tiles.screen.as_ref().is_some_and(|(l, _)| *l == link) {
                    tiles.screen = None;
                }
                if tiles.camera.len() + usize::from(tiles.screen.is_some()) != before {
                    affected.push(peer.clone());
                }
            }
            tiles.retain(|_, t| !t.camera.is_empty() || t.screen.is_some());
            affected
        };
        for peer in affected {
            self.show_tiles(&peer);
        }
    }

    /// Tells the page a member's current streams: a fresh stream object per change, so the
    /// `<video>` picks up every track.
    fn show_tiles(&self, peer: &PeerId) {
        let (camera, screen) = {
            let tiles = self.tiles.borrow();
            let Some(tiles) = tiles.get(peer) else {
                (self.dispatch)(Action::RemoteStreams {
                    peer: peer.clone(),
                    camera: None,
                    screen: None,
                });
                return;
            };
            let camera: Vec<MediaStreamTrack> =
                tiles.camera.iter().map(|(_, t)| t.clone()).collect();
            let screen: Vec<MediaStreamTrack> =
                tiles.screen.iter().map(|(_, t)| t.clone()).collect();
            (camera, screen)
        };
        let handle = |tracks: &[MediaStreamTrack]| {
            if tracks.is_empty() {
                return None;
            }
            let array: js_sys::Array = tracks.iter().cloned().collect();
            let revision = self.remote_revision.get() + 1;
            self.remote_revision.set(revision);
            MediaStream::new_with_tracks(&array)
                .ok()
                .map(|stream| StreamHandle { stream, revision })
        };
        (self.dispatch)(Action::RemoteStreams {
            peer: peer.clone(),
            camera: handle(&camera),
            screen: handle(&screen),
        });
    }
}
