//! The call core: every rule of one call, from "Join" to "Leave", as a plain struct without I/O.
//!
//! [`CallCore`] is the client's twin of the server's `Room`. It takes what happened ([`Input`]:
//! frames and connection events from the server, events of the links, results of local capture,
//! what the person asked for) and returns what to do ([`Command`]: send a frame, open or close a
//! link, show a remote track on a tile, change what the page shows, raise a notice). The IO layer
//! (`crate::io`) feeds it and executes its commands with web-sys and gloo-net; nothing here
//! touches the browser, so it is tested on the host (`cargo test -p treff-client`).
//!
//! How media travels is behind the [`transport::Transport`] seam: the full mesh ([`mesh::Mesh`])
//! or the media server ([`sfu::Sfu`]); [`paths::Paths`] switches between them as the room says,
//! make-before-break.
//!
//! Roles change what a call does. A viewer never asks for a camera or microphone and its links
//! only receive. A moderator's actions (lock, remove, ask to mute, lower a hand, end the room)
//! are plain frames; the room enforces who may send them, and keeps the raised hands.

pub mod budget;
pub mod mesh;
pub mod notice;
pub mod paths;
pub mod quality;
pub mod reactions;
pub mod recording;
pub mod sfu;
pub mod table;
pub mod transport;

#[cfg(test)]
mod tests;

use treff_shared::{
    ClientFrameType, ClientMessage, ErrorCode, LeaveReason, MediaKind, MediaMode, MediaState,
    PeerId, PeerStatus, Reaction, Role, RoomName, ServerMessage, SignalData, TileSize,
};

use self::notice::{LostReason, MediaProblem, Notice, Rejection};
use self::paths::Paths;
use self::quality::{LinkStats, Monitor, Sample};
use self::reactions::Reactions;
use self::recording::Recording;
use self::transport::{LinkCommand, LinkId, LinkIds, SignalSource, TrackKind};
use crate::state::{Action, Capture, Connection, Devices, LinkState};

/// `iceConnectionState` of a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IceState {
    /// New, checking, or any state that needs nothing from us.
    Checking,
    /// Connected or completed.
    Connected,
    /// Connectivity was lost; ICE may recover it by itself.
    Disconnected,
    /// ICE gave up: only a restart helps.
    Failed,
    /// The link was closed.
    Closed,
}

/// What happened on one link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkEvent {
    /// The link made a description or candidate for its remote side.
    Signal(SignalData),
    /// `connectionState` changed.
    State(LinkState),
    /// `iceConnectionState` changed.
    Ice(IceState),
    /// A watched track ([`Command::WatchFlow`]) shows frames (video) or sound (audio).
    Flowing {
        /// The track's id.
        track_id: String,
    },
    /// A remote track arrived on the line `mid`.
    Track {
        /// The transceiver's `mid`.
        mid: Option<String>,
        /// Audio or video.
        kind: TrackKind,
        /// The track's id in this browser.
        track_id: String,
    },
    /// The link could not be created; why, in the browser's words.
    Failed(String),
    /// Bytes the link received so far, sampled every 500 ms: a count that stops growing
    /// shows a lost path before ICE does.
    Received {
        /// All bytes received on the link's candidate pairs.
        bytes: u64,
    },
}

/// What the signaling connection reports.
#[derive(Clone, Debug, PartialEq)]
pub enum ServerEvent {
    /// Opening a connection; `attempt` is 0 for the first.
    Connecting {
        /// Number of the retry (0 for the first connection).
        attempt: u32,
    },
    /// A frame from the server.
    Message(ServerMessage),
    /// The connection ended and will be retried.
    Lost {
        /// Why.
        reason: LostReason,
        /// Number of the coming retry.
        attempt: u32,
        /// When it starts, in Unix milliseconds.
        retry_at_ms: u64,
    },
    /// The server refused the join; no retry.
    Rejected {
        /// The server's code.
        code: ErrorCode,
        /// The server's sentence.
        message: String,
    },
    /// Another connection resumed this membership (the call was opened in another tab).
    Replaced,
    /// A moderator removed this member or ended the room; no retry.
    Removed(LeaveReason),
}

/// What the browser does to the microphone's sound (`getUserMedia` constraints); all on by
/// default, as browsers have them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AudioProcessing {
    /// Remove the echo of the others' voices from the loudspeaker.
    pub echo_cancellation: bool,
    /// Filter out steady background noise.
    pub noise_suppression: bool,
    /// Even out how loud the voice is.
    pub auto_gain: bool,
}

impl Default for AudioProcessing {
    fn default() -> Self {
        AudioProcessing {
            echo_cancellation: true,
            noise_suppression: true,
            auto_gain: true,
        }
    }
}

/// What the person asked for during a call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Intent {
    /// Microphone on (true) or off.
    Microphone(bool),
    /// Camera on (true) or off.
    Camera(bool),
    /// Start or stop sharing the screen.
    ToggleScreen,
    /// Switch to this camera (device id).
    SelectCamera(String),
    /// Switch to this microphone (device id).
    SelectMicrophone(String),
    /// Open the microphone again with this processing.
    AudioProcessing(AudioProcessing),
    /// Send a chat message.
    SendChat(String),
    /// Moderators: lock (true) or unlock the room.
    Lock(bool),
    /// Moderators: remove someone.
    Remove(PeerId),
    /// Moderators: ask someone to turn the microphone off.
    AskToMute(PeerId),
    /// Moderators: end the room for everyone.
    EndRoom,
    /// Moderators: turn the waiting room on (true) or off.
    WaitingRoom(bool),
    /// Moderators: let someone in from the waiting room.
    Admit(PeerId),
    /// Moderators: turn someone in the waiting room away.
    Deny(PeerId),
    /// Start (true) or stop recording the call in this browser.
    Record(bool),
    /// Moderators: let everyone record (true) or moderators only.
    EveryoneMayRecord(bool),
    /// Raise (true) or lower our hand.
    RaiseHand(bool),
    /// Moderators: lower someone's hand.
    LowerHand(PeerId),
    /// Show a reaction on our tile for everyone.
    React(Reaction),
    /// Leave the call.
    Leave,
}

/// Everything that can happen to a call.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// The call begins. `viewer`: the invitation says we only watch, so nothing is captured.
    Start {
        /// The invitation's role is viewer.
        viewer: bool,
    },
    /// Camera and microphone as the browser gave them.
    Captured {
        /// A microphone track exists.
        audio: bool,
        /// A camera track exists.
        video: bool,
        /// Why we got less than both.
        problem: Option<MediaProblem>,
    },
    /// The capture devices and the ones in use.
    Devices(Devices),
    /// A device switch finished; the new track keeps the old one's on/off state (`enabled`).
    DeviceOpened {
        /// A camera rather than a microphone.
        video: bool,
        /// Its device id.
        device_id: String,
        /// Whether the new track is on.
        enabled: bool,
    },
    /// A device switch failed.
    DeviceFailed(MediaProblem),
    /// The screen share began.
    ScreenStarted,
    /// The screen share ended outside the app (the browser's own "Stop sharing").
    ScreenEnded,
    /// Sharing the screen failed; `None`: the person cancelled the picker.
    ScreenFailed(Option<MediaProblem>),
    /// The signaling connection.
    Server(ServerEvent),
    /// One of the links.
    Link(LinkId, LinkEvent),
    /// What the person asked for.
    Intent(Intent),
    /// A frame the person asked for could not be handed to the socket.
    NotSent(ClientFrameType),
    /// The clock, about every 250 ms, in Unix milliseconds.
    Tick(u64),
    /// How large the page shows each remote picture now.
    TileSizes(Vec<TileSize>),
    /// One read of a link's `getStats()`, every 500 ms.
    Stats(LinkId, LinkStats),
    /// The recorder could not start, or stopped by itself; why.
    RecorderFailed(String),
}

/// What the IO layer must do.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Ask the browser for camera and microphone; answer with [`Input::Captured`].
    Capture,
    /// Watch for devices being plugged in or out; answer with [`Input::Devices`].
    WatchDevices,
    /// Connect to the server and join with this media state.
    Connect(MediaState),
    /// Send a frame (dropped silently when the connection is down).
    Send(ClientMessage),
    /// Send a frame the person asked for; answer with [`Input::NotSent`] when it cannot go out.
    SendAsked(ClientMessage),
    /// Tell the room (and every later rejoin) what we send.
    PublishMedia(MediaState),
    /// Leave the room and stop reconnecting.
    Disconnect,
    /// Open, close or feed a link.
    Link(LinkCommand),
    /// Restart ICE on a link (the offer carries new credentials).
    RestartIce(LinkId),
    /// Send the link's unanswered offer again, if it has one: the signaling that carried it,
    /// ours or the peer's, was replaced and may have lost it. Perfect negotiation ignores a
    /// colliding offer on one side, so a lost offer there would leave both sides waiting.
    ResendOffer(LinkId),
    /// Start the link's video over with a keyframe (its path came back after a stall).
    RefreshVideo(LinkId),
    /// Limit what the link's camera sends: its share of the call's upload budget.
    CapVideo(LinkId, budget::VideoCap),
    /// Check the signaling connection now rather than at the next heartbeat; a dead one is
    /// reported as lost within a second or two.
    ProbeSignaling,
    /// Turn the camera (`video`) or microphone track on or off; the sender stays.
    EnableTrack {
        /// The camera rather than the microphone.
        video: bool,
        /// On or off.
        on: bool,
    },
    /// Open another camera (`video`) or microphone; answer with [`Input::DeviceOpened`].
    OpenDevice {
        /// A camera rather than a microphone.
        video: bool,
        /// Its device id (empty: the browser's default).
        device_id: String,
        /// How the microphone's sound is processed.
        processing: AudioProcessing,
    },
    /// Ask the person to pick a screen; answer with [`Input::ScreenStarted`].
    StartScreen,
    /// Stop sharing the screen.
    StopScreen,
    /// Stop every local track (the camera light goes off) and stop watching devices.
    StopCapture,
    /// Hand the local tracks to every link (`send: false`: receive only) and show the own
    /// tile.
    PublishLocal {
        /// Send the local tracks at all.
        send: bool,
    },
    /// Report [`LinkEvent::Flowing`] once this remote track shows frames or sound.
    WatchFlow {
        /// The link it arrived on.
        link: LinkId,
        /// The track's id.
        track_id: String,
    },
    /// Show a remote track on the tile of `peer`'s camera or screen.
    Attach {
        /// The link it arrived on.
        link: LinkId,
        /// The line it arrived on.
        mid: Option<String>,
        /// The track's id.
        track_id: String,
        /// Whose it is.
        peer: PeerId,
        /// What it is.
        kind: MediaKind,
    },
    /// Start recording the call (the composed grid and everyone's sound); answer with
    /// [`Input::RecorderFailed`] if it cannot.
    StartRecorder,
    /// Stop recording and save the file.
    StopRecorder,
    /// Change what the page shows.
    Ui(Action),
    /// Put `/room/<name>` in the address bar.
    ShowRoomInAddress(RoomName),
    /// Our peer id for the test hook (`None` once the call ended).
    SetPeerId(Option<PeerId>),
    /// A moment of the call for the test hook.
    Mark(&'static str),
    /// Something worth a line in the console, nothing the person can act on.
    Warn(String),
}

/// Our own media as the call knows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Local {
    /// What we tell the others we send.
    media: MediaState,
    /// What we could capture.
    capture: Capture,
    /// A microphone track exists.
    has_audio: bool,
    /// A camera track exists.
    has_video: bool,
    /// The available devices and the ones in use.
    devices: Devices,
}

/// The rules of one call.
pub struct CallCore {
    paths: Paths,
    ids: LinkIds,
    /// Our peer id since the last `welcome`.
    self_id: Option<PeerId>,
    /// We only watch: nothing is captured and nothing is sent.
    viewer: bool,
    /// The room is live (a `welcome` came and the connection has not been lost since).
    connected: bool,
    /// We asked the server to end the room, so its `removed` is our own doing.
    ending: bool,
    /// The call is over; every later input is ignored.
    ended: bool,
    /// The connection has been opened (it happens once, after capture).
    connecting: bool,
    local: Local,
    reactions: Reactions,
    /// The room's lock and waiting room as last heard, so a `room-state` notifies only what
    /// changed.
    room_state: (bool, bool),
    /// Our role, as the room last said.
    role: Role,
    recording: Recording,
    /// Everyone's connection quality, and who speaks in the mesh.
    monitor: Monitor,
}

impl Default for CallCore {
    fn default() -> Self {
        CallCore::new()
    }
}

impl CallCore {
    /// A call that has not begun.
    pub fn new() -> CallCore {
        CallCore {
            paths: Paths::default(),
            ids: LinkIds::default(),
            self_id: None,
            viewer: false,
            connected: false,
            ending: false,
            ended: false,
            connecting: false,
            local: Local::default(),
            reactions: Reactions::default(),
            room_state: (false, false),
            role: Role::Participant,
            recording: Recording::default(),
            monitor: Monitor::default(),
        }
    }

    /// Whether the call is over.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Handles one input; returns what to do, in order.
    pub fn handle(&mut self, input: Input) -> Vec<Command> {
        let mut out = Vec::new();
        if self.ended {
            // Late results of work begun before the end: release what they hold.
            if matches!(input, Input::Captured { .. } | Input::DeviceOpened { .. }) {
                out.push(Command::StopCapture);
            }
            if matches!(input, Input::ScreenStarted) {
                out.push(Command::StopScreen);
            }
            return out;
        }
        match input {
            Input::Start { viewer } => self.start(viewer, &mut out),
            Input::Captured {
                audio,
                video,
                problem,
            } => self.captured(audio, video, problem, &mut out),
            Input::Devices(devices) => {
                let processing = self.local.devices.processing;
                self.local.devices = Devices {
                    processing,
                    ..devices
                };
                out.push(Command::Ui(Action::Devices(self.local.devices.clone())));
            }
            Input::DeviceOpened {
                video,
                device_id,
                enabled,
            } => self.device_opened(video, device_id, enabled, &mut out),
            Input::DeviceFailed(problem) => notify(&mut out, Notice::DeviceFailed(problem)),
            Input::ScreenStarted => {
                self.local.media.screen = true;
                self.publish(&mut out);
            }
            Input::ScreenEnded => self.stop_screen(&mut out),
            Input::ScreenFailed(Some(problem)) => notify(&mut out, Notice::ScreenFailed(problem)),
            Input::ScreenFailed(None) => {}
            Input::Server(event) => self.server_event(event, &mut out),
            Input::Link(link, event) => self.link_event(link, event, &mut out),
            Input::Intent(intent) => self.intent(intent, &mut out),
            Input::RecorderFailed(reason) => {
                if let Some(frame) = self.recording.failed(&mut out) {
                    self.ask(frame, &mut out);
                }
                notify(&mut out, Notice::RecorderFailed(reason));
            }
            Input::NotSent(frame) => {
                if frame == ClientFrameType::EndRoom {
                    self.ending = false;
                }
                if frame == ClientFrameType::Recording {
                    self.recording.refused();
                }
                let notice = match frame {
                    ClientFrameType::Chat => Notice::ChatNotSent,
                    _ => Notice::NotDelivered,
                };
                notify(&mut out, notice);
            }
            Input::Tick(now_ms) => {
                self.reactions.tick(now_ms, &mut out);
                self.paths.tick(now_ms, self.connected, &mut out);
            }
            Input::TileSizes(tiles) => self.paths.tile_sizes(tiles, self.connected, &mut out),
            Input::Stats(link, stats) => self.stats(link, stats, &mut out),
        }
        self.paths.share_upload(&mut out);
        out
    }

    fn start(&mut self, viewer: bool, out: &mut Vec<Command>) {
        self.viewer = viewer;
        if viewer {
            self.paths.set_viewer();
            out.push(Command::Ui(Action::OwnRole(Role::Viewer)));
            self.local.capture = Capture::ReceiveOnly;
            self.publish_local(out);
            self.connect(out);
        } else {
            out.push(Command::Capture);
        }
    }

    fn connect(&mut self, out: &mut Vec<Command>) {
        if !self.connecting {
            self.connecting = true;
            out.push(Command::Connect(self.local.media));
        }
    }

    fn captured(
        &mut self,
        audio: bool,
        video: bool,
        problem: Option<MediaProblem>,
        out: &mut Vec<Command>,
    ) {
        self.local.has_audio = audio;
        self.local.has_video = video;
        self.local.media = MediaState {
            audio,
            video,
            screen: false,
        };
        self.local.capture = match (audio, video) {
            (_, true) => Capture::Full,
            (true, false) => Capture::AudioOnly,
            (false, false) => Capture::ReceiveOnly,
        };
        if let Some(problem) = problem {
            notify(
                out,
                Notice::Capture {
                    problem,
                    audio_only: audio,
                },
            );
        }
        self.publish_local(out);
        self.connect(out);
        out.push(Command::WatchDevices);
    }

    fn device_opened(
        &mut self,
        video: bool,
        device_id: String,
        enabled: bool,
        out: &mut Vec<Command>,
    ) {
        if video {
            self.local.has_video = true;
            self.local.media.video = enabled;
            self.local.devices.camera = Some(device_id);
            if self.local.capture != Capture::Full {
                self.local.capture = Capture::Full;
            }
        } else {
            self.local.has_audio = true;
            self.local.media.audio = enabled;
            self.local.devices.microphone = Some(device_id);
            if self.local.capture == Capture::ReceiveOnly {
                self.local.capture = Capture::AudioOnly;
            }
        }
        out.push(Command::Ui(Action::Devices(self.local.devices.clone())));
        self.publish(out);
    }

    /// Tells the room our media and hands the tracks to the links.
    fn publish(&mut self, out: &mut Vec<Command>) {
        out.push(Command::PublishMedia(self.local.media));
        self.publish_local(out);
    }

    fn publish_local(&self, out: &mut Vec<Command>) {
        out.push(Command::PublishLocal { send: !self.viewer });
        out.push(Command::Ui(Action::LocalMedia {
            media: self.local.media,
            capture: self.local.capture,
        }));
    }

    fn stop_screen(&mut self, out: &mut Vec<Command>) {
        if self.local.media.screen {
            self.local.media.screen = false;
            out.push(Command::StopScreen);
            self.publish(out);
        }
    }

    /// A viewer (as `welcome` says) that captured anyway because its token was unreadable:
    /// stops every track before any link sends.
    fn become_viewer(&mut self, out: &mut Vec<Command>) {
        if self.viewer {
            return;
        }
        self.viewer = true;
        self.paths.set_viewer();
        out.push(Command::StopCapture);
        self.local = Local {
            capture: Capture::ReceiveOnly,
            devices: std::mem::take(&mut self.local.devices),
            ..Local::default()
        };
        self.publish(out);
    }

    /// Closes everything; false when it was already closed.
    fn shutdown(&mut self, out: &mut Vec<Command>) -> bool {
        if self.ended {
            return false;
        }
        self.ended = true;
        self.connected = false;
        self.recording.end(out);
        out.push(Command::Disconnect);
        self.paths.close_all(out);
        out.push(Command::StopCapture);
        if self.local.media.screen {
            out.push(Command::StopScreen);
        }
        out.push(Command::SetPeerId(None));
        true
    }

    /// The call ended without the person leaving: back to the join page with the reason.
    fn end_with(&mut self, rejection: Rejection, out: &mut Vec<Command>) {
        self.shutdown(out);
        out.push(Command::Ui(Action::Rejected(rejection)));
    }

    fn intent(&mut self, intent: Intent, out: &mut Vec<Command>) {
        match intent {
            Intent::Microphone(on) => self.set_enabled(false, on, out),
            Intent::Camera(on) => self.set_enabled(true, on, out),
            Intent::ToggleScreen if self.viewer => {}
            Intent::ToggleScreen => {
                if self.local.media.screen {
                    self.stop_screen(out);
                } else {
                    out.push(Command::StartScreen);
                }
            }
            Intent::SelectCamera(_) | Intent::SelectMicrophone(_) | Intent::AudioProcessing(_)
                if self.viewer => {}
            Intent::SelectCamera(device_id) => out.push(Command::OpenDevice {
                video: true,
                device_id,
                processing: self.local.devices.processing,
            }),
            Intent::SelectMicrophone(device_id) => out.push(Command::OpenDevice {
                video: false,
                device_id,
                processing: self.local.devices.processing,
            }),
            Intent::AudioProcessing(processing) => {
                self.local.devices.processing = processing;
                out.push(Command::Ui(Action::Devices(self.local.devices.clone())));
                // The browser applies processing when it opens the device: open it again, in
                // place (the links keep sending, the call goes on).
                if self.local.has_audio {
                    out.push(Command::OpenDevice {
                        video: false,
                        device_id: self.local.devices.microphone.clone().unwrap_or_default(),
                        processing,
                    });
                }
            }
            Intent::SendChat(text) => {
                if self.connected {
                    out.push(Command::SendAsked(ClientMessage::Chat { text }));
                } else {
                    notify(out, Notice::ChatNotSent);
                }
            }
            Intent::Lock(locked) => {
                self.ask(ClientMessage::Lock { locked }, out);
            }
            Intent::Remove(peer_id) => {
                self.ask(ClientMessage::Kick { peer_id }, out);
            }
            Intent::AskToMute(peer_id) => {
                self.ask(ClientMessage::RequestMute { peer_id }, out);
            }
            Intent::EndRoom => {
                if self.ask(ClientMessage::EndRoom, out) {
                    self.ending = true;
                }
            }
            Intent::WaitingRoom(on) => {
                self.ask(ClientMessage::WaitingRoom { on }, out);
            }
            Intent::Admit(peer_id) => {
                self.ask(ClientMessage::Admit { peer_id }, out);
            }
            Intent::Deny(peer_id) => {
                self.ask(ClientMessage::Deny { peer_id }, out);
            }
            Intent::Record(on) => {
                if let Some(frame) = self.recording.intent(on, self.role, out) {
                    if !self.ask(frame, out) {
                        self.recording.refused();
                    }
                }
            }
            Intent::EveryoneMayRecord(everyone) => {
                self.ask(ClientMessage::RecordingPolicy { everyone }, out);
            }
            Intent::RaiseHand(raised) => {
                self.ask(ClientMessage::Hand { raised }, out);
            }
            Intent::LowerHand(peer_id) => {
                self.ask(ClientMessage::LowerHand { peer_id }, out);
            }
            Intent::React(reaction) => {
                self.ask(ClientMessage::React { reaction }, out);
            }
            Intent::Leave => {
                if self.shutdown(out) {
                    out.push(Command::Ui(Action::Left));
                }
            }
        }
    }

    /// Sends a frame the person asked for, or says at once that it cannot go out.
    fn ask(&mut self, msg: ClientMessage, out: &mut Vec<Command>) -> bool {
        if self.connected {
            out.push(Command::SendAsked(msg));
            true
        } else {
            notify(out, Notice::NotDelivered);
            false
        }
    }

    fn set_enabled(&mut self, video: bool, on: bool, out: &mut Vec<Command>) {
        if self.viewer {
            return;
        }
        let has = if video {
            self.local.has_video
        } else {
            self.local.has_audio
        };
        if !has {
            notify(out, Notice::NoDevice { video });
            return;
        }
        out.push(Command::EnableTrack { video, on });
        if video {
            self.local.media.video = on;
        } else {
            self.local.media.audio = on;
        }
        self.publish(out);
    }

    fn server_event(&mut self, event: ServerEvent, out: &mut Vec<Command>) {
        match event {
            ServerEvent::Connecting { attempt } => {
                self.connected = false;
                out.push(Command::Ui(Action::Connection(Connection::Connecting {
                    attempt,
                })));
            }
            ServerEvent::Lost {
                reason,
                attempt,
                retry_at_ms,
            } => {
                self.connected = false;
                out.push(Command::Ui(Action::Connection(Connection::Retrying {
                    attempt,
                    at_ms: retry_at_ms,
                    reason,
                })));
            }
            ServerEvent::Rejected { code, message } => {
                self.end_with(Rejection::Refused { code, message }, out);
            }
            ServerEvent::Replaced => self.end_with(Rejection::Replaced, out),
            ServerEvent::Removed(reason) => self.removed(reason, out),
            ServerEvent::Message(message) => self.server_message(message, out),
        }
    }

    fn removed(&mut self, reason: LeaveReason, out: &mut Vec<Command>) {
        let rejection = match reason {
            LeaveReason::RoomEnded => Rejection::Ended { by_us: self.ending },
            _ => Rejection::Removed,
        };
        self.end_with(rejection, out);
    }

    fn server_message(&mut self, message: ServerMessage, out: &mut Vec<Command>) {
        match message {
            ServerMessage::Welcome(welcome) => {
                let previous = self.self_id.replace(welcome.peer_id.clone());
                let keep = welcome.resumed && previous.as_ref() == Some(&welcome.peer_id);
                if previous.is_some() && !keep {
                    notify(out, Notice::Rejoined);
                }
                self.connected = true;
                out.push(Command::SetPeerId(Some(welcome.peer_id.clone())));
                out.push(Command::Mark("welcome"));
                out.push(Command::ShowRoomInAddress(welcome.room.clone()));
                if welcome.role == Role::Viewer {
                    self.become_viewer(out);
                }
                self.room_state = (welcome.locked, welcome.waiting_room);
                self.role = welcome.role;
                self.recording.room_said(
                    Some(&welcome.peer_id),
                    &welcome.recorders,
                    welcome.everyone_may_record,
                    out,
                );
                for peer in &welcome.peers {
                    self.monitor.camera(&peer.peer_id, peer.media.video);
                }
                self.paths.welcome(&welcome, keep, &mut self.ids, out);
                if keep {
                    // Links that went down while we were away need new ICE credentials.
                    for link in self.paths.links_to_restart() {
                        out.push(Command::RestartIce(link));
                    }
                    for link in self.paths.links_to_resend() {
                        out.push(Command::ResendOffer(link));
                    }
                }
                out.push(Command::Ui(Action::Welcome { welcome, keep }));
            }
            ServerMessage::PeerJoined { peer } => {
                self.monitor.camera(&peer.peer_id, peer.media.video);
                self.paths.peer_joined(&peer, &mut self.ids, out);
                out.push(Command::Ui(Action::PeerJoined(peer)));
            }
            ServerMessage::PeerLeft { peer_id, .. } => {
                self.monitor.forget(&peer_id);
                self.paths.peer_left(&peer_id, out);
                out.push(Command::Ui(Action::PeerLeft(peer_id)));
            }
            ServerMessage::PeerStatus { peer_id, status } => {
                if status == PeerStatus::Online && self.connected {
                    // What we sent it meanwhile may be lost: links to it that are down restart
                    // (or send their unanswered offer again).
                    for link in self.paths.links_to_restart_to(&peer_id) {
                        out.push(Command::RestartIce(link));
                    }
                    for link in self.paths.links_to_resend_to(&peer_id) {
                        out.push(Command::ResendOffer(link));
                    }
                }
                out.push(Command::Ui(Action::PeerStatus(peer_id, status)));
            }
            ServerMessage::Signal { from, data } => {
                if !self
                    .paths
                    .remote_signal(&SignalSource::Peer(from.clone()), data, out)
                {
                    out.push(Command::Warn(format!("signal from unknown peer {from}")));
                }
            }
            ServerMessage::MediaSignal { epoch, link, data } => {
                if !self
                    .paths
                    .remote_signal(&SignalSource::MediaServer { epoch, link }, data, out)
                {
                    out.push(Command::Warn(format!(
                        "media-server signal for epoch {epoch}, which is not ours"
                    )));
                }
            }
            ServerMessage::Mode { mode, epoch } => {
                let before = self.paths.mode();
                self.paths.switch(mode, epoch, &mut self.ids, out);
                if self.paths.mode() != before {
                    // The other judge of who speaks takes over, starting from nobody.
                    self.monitor.stop_speaking();
                    out.push(Command::Ui(Action::ActiveSpeaker(None)));
                }
            }
            ServerMessage::Hands { raised } => out.push(Command::Ui(Action::Hands(raised))),
            ServerMessage::Reaction { peer_id, reaction } => {
                self.reactions.arrived(peer_id, reaction, out);
            }
            ServerMessage::ActiveSpeaker { peer_id } => {
                out.push(Command::Ui(Action::ActiveSpeaker(peer_id)));
            }
            ServerMessage::Chat(message) => out.push(Command::Ui(Action::Chat(message))),
            ServerMessage::Media { peer_id, media } => {
                self.monitor.camera(&peer_id, media.video);
                out.push(Command::Ui(Action::PeerMedia(peer_id, media)));
            }
            ServerMessage::Pong => {}
            // Signaling turns `removed` into `ServerEvent::Removed`; this is only a fallback.
            ServerMessage::Removed { reason } => self.removed(reason, out),
            ServerMessage::MuteRequested { .. } => notify(
                out,
                Notice::MuteRequested {
                    on: self.local.media.audio,
                },
            ),
            ServerMessage::RoomState {
                locked,
                waiting_room,
            } => {
                let (was_locked, had_waiting_room) = self.room_state;
                self.room_state = (locked, waiting_room);
                out.push(Command::Ui(Action::RoomState {
                    locked,
                    waiting_room,
                }));
                if locked != was_locked {
                    notify(out, Notice::Locked(locked));
                }
                if waiting_room != had_waiting_room {
                    notify(out, Notice::WaitingRoom(waiting_room));
                }
            }
            ServerMessage::Waiting { room, .. } => {
                out.push(Command::Mark("waiting"));
                out.push(Command::ShowRoomInAddress(room));
                out.push(Command::Ui(Action::Waiting));
            }
            ServerMessage::Lobby { waiting } => out.push(Command::Ui(Action::Lobby(waiting))),
            ServerMessage::Recording {
                recorders,
                everyone,
            } => {
                self.recording
                    .room_said(self.self_id.as_ref(), &recorders, everyone, out);
                out.push(Command::Ui(Action::Recording {
                    recorders,
                    everyone,
                }));
            }
            ServerMessage::Role { peer_id, role } => {
                let me = self.self_id.as_ref() == Some(&peer_id);
                if me {
                    self.role = role;
                }
                out.push(Command::Ui(Action::Role(peer_id, role)));
                if me && role == Role::Moderator {
                    notify(out, Notice::NowModerator);
                }
            }
            ServerMessage::Error { code, message } => match code {
                // A signal raced with a departure: nothing the person can act on.
                ErrorCode::UnknownPeer | ErrorCode::SignalToSelf => {
                    out.push(Command::Warn(format!("{code}: {message}")));
                }
                _ => {
                    if code == ErrorCode::Forbidden {
                        self.recording.refused();
                    }
                    notify(out, Notice::Server { code, message })
                }
            },
        }
    }

    /// A read of a link's counters: its liveness, then the quality of each person it carries
    /// and, in the mesh, who speaks.
    fn stats(&mut self, link: LinkId, stats: LinkStats, out: &mut Vec<Command>) {
        self.link_event(link, LinkEvent::Received { bytes: stats.bytes }, out);
        let now = self.paths.now_ms();
        let mut samples: Vec<(PeerId, Sample)> = Vec::new();
        for stream in stats.streams {
            let Some((peer, kind)) =
                self.paths
                    .shown_source(link, stream.mid.as_deref(), stream.track_id.as_deref())
            else {
                continue;
            };
            let index = match samples.iter().position(|(p, _)| *p == peer) {
                Some(index) => index,
                None => {
                    samples.push((
                        peer,
                        Sample {
                            at_ms: now,
                            path: stats.path.clone(),
                            ..Sample::default()
                        },
                    ));
                    samples.len() - 1
                }
            };
            let sample = &mut samples[index].1;
            match kind {
                MediaKind::Camera => sample.video = Some(stream.counters),
                MediaKind::Audio => sample.audio = Some(stream.counters),
                MediaKind::Screen => {}
            }
        }
        let mesh = self.paths.mode() == MediaMode::Mesh;
        let changes = self.monitor.read(samples, mesh, now);
        for (peer, quality) in changes.quality {
            out.push(Command::Ui(Action::Quality(peer, quality)));
        }
        if let Some(speaker) = changes.speaker {
            out.push(Command::Ui(Action::ActiveSpeaker(speaker)));
        }
    }

    fn link_event(&mut self, link: LinkId, event: LinkEvent, out: &mut Vec<Command>) {
        self.paths.link_event(link, event, self.connected, out);
    }
}

fn notify(out: &mut Vec<Command>, notice: Notice) {
    out.push(Command::Ui(Action::Notify(notice)));
}
