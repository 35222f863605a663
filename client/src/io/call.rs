//! One call from "Join" to "Leave": glues the signaling connection, the mesh and local media
//! together and reports everything the UI shows as [`Action`]s.
//!
//! Roles change what a call does. A viewer never asks for a camera or microphone and its
//! connections only receive: with no local tracks a link offers `recvonly` transceivers and
//! answers without adding any, so the room never sees it try to send. A moderator's actions
//! (lock, remove, ask to mute, end the room) are plain frames; the room enforces who may send
//! them.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use treff_shared::{
    ClientMessage, DisplayName, ErrorCode, LeaveReason, MediaState, PeerId, Role, RoomName,
    ServerMessage,
};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::{MediaStream, MediaStreamTrack};

use crate::mesh::{Mesh, MeshEvent};
use crate::peer::{LocalTracks, PeerEvent};
use crate::signaling::{Credentials, Signaling, SignalingEvent};
use crate::state::{Action, Capture, Connection, Devices, LocalView, NoticeKind, StreamHandle};
use crate::{hook, js, media, route, token};

/// Our own media as the call holds it.
#[derive(Default)]
struct Local {
    camera: Option<MediaStream>,
    screen: Option<MediaStream>,
    media: MediaState,
    capture: Capture,
    revision: u32,
    devices: Devices,
}

struct Inner {
    dispatch: Box<dyn Fn(Action)>,
    signaling: RefCell<Option<Signaling>>,
    mesh: Mesh,
    local: RefCell<Local>,
    self_id: RefCell<Option<PeerId>>,
    /// We only watch: nothing is captured and nothing is sent.
    viewer: Cell<bool>,
    /// We asked the server to end the room, so its `removed` is our own doing.
    ending: Cell<bool>,
    ended: Cell<bool>,
    /// Keeps the `devicechange` listener alive.
    device_listener: RefCell<Option<Closure<dyn FnMut()>>>,
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
            .map(|claims| claims.role)
            == Some(Role::Viewer);
        let inner = Rc::new_cyclic(|weak: &Weak<Inner>| {
            let weak = weak.clone();
            Inner {
                dispatch: Box::new(dispatch),
                signaling: RefCell::new(None),
                mesh: Mesh::new(move |event| {
                    if let Some(inner) = weak.upgrade() {
                        inner.on_mesh_event(event);
                    }
                }),
                local: RefCell::new(Local::default()),
                self_id: RefCell::new(None),
                viewer: Cell::new(viewer),
                ending: Cell::new(false),
                ended: Cell::new(false),
                device_listener: RefCell::new(None),
            }
        });
        let call = Call { inner };
        if viewer {
            (call.inner.dispatch)(Action::OwnRole(Role::Viewer));
        }
        let this = call.clone();
        spawn_local(async move {
            if viewer {
                this.inner.local.borrow_mut().capture = Capture::ReceiveOnly;
                this.inner.publish_local();
            } else {
                this.capture().await;
            }
            if this.inner.ended.get() {
                return;
            }
            let weak = Rc::downgrade(&this.inner);
            let media = this.inner.local.borrow().media;
            let signaling = Signaling::start(
                Signaling::default_url(),
                room,
                name,
                media,
                credentials,
                move |event| {
                    if let Some(inner) = weak.upgrade() {
                        inner.on_signaling_event(event);
                    }
                },
            );
            *this.inner.signaling.borrow_mut() = Some(signaling);
            if !viewer {
                this.refresh_devices().await;
                this.watch_devices();
            }
        });
        call
    }

    async fn capture(&self) {
        let captured = media::capture().await;
        if self.inner.ended.get() {
            media::stop_all(&captured.stream);
            return;
        }
        let has_audio = media::first_track(&captured.stream, false).is_some();
        let has_video = media::first_track(&captured.stream, true).is_some();
        {
            let mut local = self.inner.local.borrow_mut();
            local.media = MediaState {
                audio: has_audio,
                video: has_video,
                screen: false,
            };
            local.capture = captured.capture;
            local.camera = Some(captured.stream);
        }
        if let Some(problem) = captured.problem {
            let consequence = match captured.capture {
                Capture::AudioOnly => "You joined with your microphone only.",
                _ => "You can see and hear the others, but they cannot see or hear you.",
            };
            (self.inner.dispatch)(Action::Notify(
                NoticeKind::Warning,
                format!("{problem} {consequence}"),
            ));
        }
        self.inner.publish_local();
    }

    async fn refresh_devices(&self) {
        match media::list_devices().await {
            Ok((cameras, microphones)) => {
                let devices = {
                    let mut local = self.inner.local.borrow_mut();
                    let camera_stream = local.camera.clone();
                    let current = |video: bool| {
                        camera_stream
                            .as_ref()
                            .and_then(|s| media::first_track(s, video))
                            .and_then(|t| media::track_device_id(&t))
                    };
                    local.devices = Devices {
                        camera: current(true),
                        microphone: current(false),
                        cameras,
                        microphones,
                    };
                    local.devices.clone()
                };
                (self.inner.dispatch)(Action::Devices(devices));
            }
            Err(err) => js::warn(&format!("treff: cannot list devices: {err}")),
        }
    }

    fn watch_devices(&self) {
        let Some(devices) = web_sys::window().and_then(|w| w.navigator().media_devices().ok())
        else {
            return;
        };
        let weak = Rc::downgrade(&self.inner);
        let listener = Closure::<dyn FnMut()>::new(move || {
            if let Some(inner) = weak.upgrade() {
                let call = Call { inner };
                spawn_local(async move { call.refresh_devices().await });
            }
        });
        devices.set_ondevicechange(Some(listener.as_ref().unchecked_ref()));
        *self.inner.device_listener.borrow_mut() = Some(listener);
    }

    /// Turns the microphone on or off (the sender stays; it sends silence).
    pub fn set_microphone(&self, on: bool) {
        self.set_enabled(false, on);
    }

    /// Turns the camera on or off (the sender stays; it sends black frames).
    pub fn set_camera(&self, on: bool) {
        self.set_enabled(true, on);
    }

    fn set_enabled(&self, video: bool, on: bool) {
        if self.inner.viewer.get() {
            return;
        }
        let track = {
            let local = self.inner.local.borrow();
            local
                .camera
                .as_ref()
                .and_then(|s| media::first_track(s, video))
        };
        let Some(track) = track else {
            let what = if video { "camera" } else { "microphone" };
            (self.inner.dispatch)(Action::Notify(
                NoticeKind::Warning,
                format!("There is no {what} to turn on."),
            ));
            return;
        };
        track.set_enabled(on);
        {
            let mut local = self.inner.local.borrow_mut();
            if video {
                local.media.video = on;
            } else {
                local.media.audio = on;
            }
        }
        self.inner.publish_media();
        self.inner.publish_local();
    }

    /// Switches to another camera (`video`) or microphone, keeping its on/off state.
    pub fn select_device(&self, video: bool, device_id: String) {
        if self.inner.viewer.get() {
            return;
        }
        let this = self.clone();
        spawn_local(async move {
            let track = match media::open_device(video, &device_id).await {
                Ok(track) => track,
                Err(err) => {
                    (this.inner.dispatch)(Action::Notify(NoticeKind::Error, err.to_string()));
                    return;
                }
            };
            if this.inner.ended.get() {
                track.stop();
                return;
            }
            {
                let mut local = this.inner.local.borrow_mut();
                let stream = local.camera.get_or_insert_with(|| {
                    MediaStream::new().unwrap_or_else(|_| unreachable_stream())
                });
                let old = media::first_track(stream, video);
                let enabled = old.as_ref().is_none_or(MediaStreamTrack::enabled);
                if let Some(old) = old {
                    stream.remove_track(&old);
                    old.stop();
                }
                track.set_enabled(enabled);
                stream.add_track(&track);
                if video {
                    local.devices.camera = Some(device_id);
                    local.media.video = enabled;
                } else {
                    local.devices.microphone = Some(device_id);
                    local.media.audio = enabled;
                }
                local.revision += 1;
                let devices = local.devices.clone();
                drop(local);
                (this.inner.dispatch)(Action::Devices(devices));
            }
            this.inner.publish_media();
            this.inner.publish_local();
        });
    }

    /// Starts or stops sharing the screen.
    pub fn toggle_screen(&self) {
        if self.inner.viewer.get() {
            return;
        }
        if self.inner.local.borrow().screen.is_some() {
            self.inner.stop_screen();
            return;
        }
        let this = self.clone();
        spawn_local(async move {
            let stream = match media::capture_screen().await {
                Ok(stream) => stream,
                Err(media::MediaError::Cancelled) => return,
                Err(err) => {
                    (this.inner.dispatch)(Action::Notify(NoticeKind::Error, err.to_string()));
                    return;
                }
            };
            if this.inner.ended.get() {
                media::stop_all(&stream);
                return;
            }
            if let Some(track) = media::first_track(&stream, true) {
                // The browser's own "Stop sharing" button ends the track.
                let weak = Rc::downgrade(&this.inner);
                let ended = Closure::<dyn FnMut()>::new(move || {
                    if let Some(inner) = weak.upgrade() {
                        inner.stop_screen();
                    }
                });
                track.set_onended(Some(ended.as_ref().unchecked_ref()));
                ended.forget();
            }
            {
                let mut local = this.inner.local.borrow_mut();
                local.screen = Some(stream);
                local.media.screen = true;
                local.revision += 1;
            }
            this.inner.publish_media();
            this.inner.publish_local();
        });
    }

    /// Sends a chat message; false when not connected.
    pub fn send_chat(&self, text: String) -> bool {
        let sent = self
            .inner
            .signaling
            .borrow()
            .as_ref()
            .is_some_and(|s| s.send(&ClientMessage::Chat { text }));
        if !sent {
            (self.inner.dispatch)(Action::Notify(
                NoticeKind::Error,
                "The message was not sent: the connection to the server is down.".into(),
            ));
        }
        sent
    }

    /// Moderators: locks the room (nobody new may join) or unlocks it. The lock indicator
    /// follows the room's answer, not the click.
    pub fn set_locked(&self, locked: bool) {
        self.inner.send_or_tell(&ClientMessage::Lock { locked });
    }

    /// Moderators: removes a participant from the room.
    pub fn remove(&self, peer: PeerId) {
        self.inner
            .send_or_tell(&ClientMessage::Kick { peer_id: peer });
    }

    /// Moderators: asks a participant to turn the microphone off (it is their choice).
    pub fn ask_to_mute(&self, peer: PeerId) {
        self.inner
            .send_or_tell(&ClientMessage::RequestMute { peer_id: peer });
    }

    /// Moderators: ends the room for everyone (us included).
    pub fn end_room(&self) {
        if self.inner.send_or_tell(&ClientMessage::EndRoom) {
            self.inner.ending.set(true);
        }
    }

    /// Leaves: tells the room, closes every connection and stops every track. A call that
    /// already ended (refused, removed) is only cleaned up: the page already shows why.
    pub fn leave(&self) {
        if self.inner.shutdown() {
            (self.inner.dispatch)(Action::Left);
        }
    }
}

/// Only reached if the browser cannot construct an empty `MediaStream`, which every browser with
/// WebRTC can; a `null` stands in so that nothing panics.
fn unreachable_stream() -> MediaStream {
    wasm_bindgen::JsValue::NULL.unchecked_into()
}

impl Inner {
    fn send(&self, message: &ClientMessage) {
        if let Some(signaling) = self.signaling.borrow().as_ref() {
            signaling.send(message);
        }
    }

    /// Sends a frame the person asked for; says so when it cannot go out.
    fn send_or_tell(&self, message: &ClientMessage) -> bool {
        let sent = self
            .signaling
            .borrow()
            .as_ref()
            .is_some_and(|s| s.send(message));
        if !sent {
            (self.dispatch)(Action::Notify(
                NoticeKind::Error,
                "That did not reach the room: the connection to the server is down.".into(),
            ));
        }
        sent
    }

    fn publish_media(&self) {
        let media = self.local.borrow().media;
        if let Some(signaling) = self.signaling.borrow().as_ref() {
            signaling.set_media(media);
        }
    }

    /// Hands the current local tracks to the mesh and the own tile to the UI.
    fn publish_local(&self) {
        let (tracks, view) = {
            let local = self.local.borrow();
            let camera = local.camera.clone();
            let screen = local
                .screen
                .as_ref()
                .and_then(|s| media::first_track(s, true).map(|t| (t, s.clone())));
            let tracks = if self.viewer.get() {
                // Only receive; the room refuses any description of ours that would send.
                LocalTracks::default()
            } else {
                LocalTracks {
                    audio: camera.as_ref().and_then(|s| media::first_track(s, false)),
                    video: camera.as_ref().and_then(|s| media::first_track(s, true)),
                    stream: camera.clone(),
                    screen,
                }
            };
            let handle = |stream: &Option<MediaStream>| {
                stream.as_ref().map(|stream| StreamHandle {
                    stream: stream.clone(),
                    revision: local.revision,
                })
            };
            let view = LocalView {
                camera: handle(&local.camera),
                screen: handle(&local.screen),
                media: local.media,
                capture: local.capture,
            };
            (tracks, view)
        };
        self.mesh.set_local(tracks);
        (self.dispatch)(Action::Local(view));
    }

    fn stop_screen(&self) {
        let stream = {
            let mut local = self.local.borrow_mut();
            local.media.screen = false;
            local.revision += 1;
            local.screen.take()
        };
        if let Some(stream) = stream {
            media::stop_all(&stream);
            self.publish_media();
            self.publish_local();
        }
    }

    /// A viewer (as `welcome` says) that captured anyway because its token was unreadable:
    /// stops every track before any link sends.
    fn become_viewer(&self) {
        if self.viewer.replace(true) {
            return;
        }
        {
            let mut local = self.local.borrow_mut();
            for stream in [local.camera.take(), local.screen.take()]
                .into_iter()
                .flatten()
            {
                media::stop_all(&stream);
            }
            local.media = MediaState::default();
            local.capture = Capture::ReceiveOnly;
            local.revision += 1;
        }
        self.publish_media();
        self.publish_local();
    }

    /// Closes everything; returns false when it was already closed.
    fn shutdown(&self) -> bool {
        if self.ended.replace(true) {
            return false;
        }
        if let Some(signaling) = self.signaling.borrow_mut().take() {
            signaling.leave();
        }
        self.mesh.close_all();
        let mut local = self.local.borrow_mut();
        for stream in [local.camera.take(), local.screen.take()]
            .into_iter()
            .flatten()
        {
            media::stop_all(&stream);
        }
        if let Some(devices) = web_sys::window().and_then(|w| w.navigator().media_devices().ok()) {
            devices.set_ondevicechange(None);
        }
        self.device_listener.borrow_mut().take();
        hook::set_peer_id(None);
        true
    }

    /// A moderator removed us or ended the room: the call is over, back to the join page.
    fn removed(&self, reason: LeaveReason) {
        let ours = self.ending.get();
        self.shutdown();
        let message = match reason {
            LeaveReason::RoomEnded if ours => "You ended the room for everyone.",
            LeaveReason::RoomEnded => "A moderator ended the room for everyone.",
            _ => "A moderator removed you from the room.",
        };
        (self.dispatch)(Action::Rejected(message.into()));
    }

    fn on_mesh_event(&self, MeshEvent { peer, event }: MeshEvent) {
        match event {
            PeerEvent::Signal(data) => self.send(&ClientMessage::Signal { to: peer, data }),
            PeerEvent::Link(link) => (self.dispatch)(Action::Link(peer, link)),
            PeerEvent::Streams { camera, screen } => (self.dispatch)(Action::RemoteStreams {
                peer,
                camera,
                screen,
            }),
        }
    }

    fn on_signaling_event(&self, event: SignalingEvent) {
        if self.ended.get() {
            return;
        }
        match event {
            SignalingEvent::Connecting { attempt } => {
                (self.dispatch)(Action::Connection(Connection::Connecting { attempt }));
            }
            SignalingEvent::Lost {
                reason,
                attempt,
                delay_ms,
            } => {
                (self.dispatch)(Action::Connection(Connection::Retrying {
                    attempt,
                    at_ms: (js::now_ms() + f64::from(delay_ms)) as u64,
                    reason,
                }));
            }
            SignalingEvent::Rejected { code, message } => {
                self.shutdown();
                let action = match code {
                    ErrorCode::PasswordRequired | ErrorCode::WrongPassword => {
                        Action::PasswordRefused(message)
                    }
                    _ => Action::Rejected(message),
                };
                (self.dispatch)(action);
            }
            SignalingEvent::Removed { reason } => self.removed(reason),
            SignalingEvent::Replaced => {
                self.shutdown();
                (self.dispatch)(Action::Rejected(
                    "This call was taken over by another tab or window.".into(),
                ));
            }
            SignalingEvent::Message(message) => self.on_server_message(message),
        }
    }

    fn on_server_message(&self, message: ServerMessage) {
        match message {
            ServerMessage::Welcome(welcome) => {
                let previous = self.self_id.borrow_mut().replace(welcome.peer_id.clone());
                let keep = welcome.resumed && previous.as_ref() == Some(&welcome.peer_id);
                if previous.is_some() && !keep {
                    (self.dispatch)(Action::Notify(
                        NoticeKind::Info,
                        "The server was restarted; you rejoined the room.".into(),
                    ));
                }
                hook::set_peer_id(Some(welcome.peer_id.as_str()));
                hook::mark("welcome", None);
                route::push_room(welcome.room.as_str());
                if welcome.role == Role::Viewer {
                    self.become_viewer();
                }
                self.mesh.apply_welcome(&welcome, keep);
                (self.dispatch)(Action::Welcome(Box::new(welcome)));
            }
            ServerMessage::PeerJoined { peer } => {
                self.mesh.add(&peer);
                (self.dispatch)(Action::PeerJoined(peer));
            }
            ServerMessage::PeerLeft { peer_id, .. } => {
                self.mesh.remove(&peer_id);
                (self.dispatch)(Action::PeerLeft(peer_id));
            }
            ServerMessage::PeerStatus { peer_id, status } => {
                (self.dispatch)(Action::PeerStatus(peer_id, status));
            }
            ServerMessage::Signal { from, data } => self.mesh.on_signal(&from, data),
            ServerMessage::Chat(message) => (self.dispatch)(Action::Chat(message)),
            ServerMessage::Media { peer_id, media } => {
                (self.dispatch)(Action::PeerMedia(peer_id, media));
            }
            ServerMessage::Pong => {}
            // Signaling turns `removed` into `SignalingEvent::Removed`; this is only a fallback.
            ServerMessage::Removed { reason } => self.removed(reason),
            ServerMessage::MuteRequested { .. } => (self.dispatch)(Action::MuteRequested),
            ServerMessage::RoomState { locked } => {
                (self.dispatch)(Action::Locked(locked));
                let message = if locked {
                    "The room is locked: nobody new can join."
                } else {
                    "The room is unlocked: others can join again."
                };
                (self.dispatch)(Action::Notify(NoticeKind::Info, message.into()));
            }
            ServerMessage::Role { peer_id, role } => {
                let me = self.self_id.borrow().as_ref() == Some(&peer_id);
                (self.dispatch)(Action::Role(peer_id, role));
                if me && role == Role::Moderator {
                    (self.dispatch)(Action::Notify(
                        NoticeKind::Info,
                        "You are now a moderator of this room.".into(),
                    ));
                }
            }
            ServerMessage::Error { code, message } => match code {
                // A signal raced with a departure: nothing the person can act on.
                ErrorCode::UnknownPeer | ErrorCode::SignalToSelf => {
                    js::warn(&format!("treff: {code}: {message}"));
                }
                _ => (self.dispatch)(Action::Notify(NoticeKind::Error, message)),
            },
        }
    }
}
