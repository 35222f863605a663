//! The one state the UI renders, and the [`Action`]s that change it.
//!
//! Everything here is plain data plus a reducer, so the rules (chat de-duplication, unread count,
//! what survives a resumed `welcome`) are unit-tested on the host. Handles to browser objects
//! ([`StreamHandle`]) compare by identity and revision, never by content. What a notice or a
//! refusal says is decided by the call core ([`crate::core::notice`]); the state only keeps them.
//! The helpers that put the state into words take the language's table ([`Strings`]).

use std::rc::Rc;

use treff_shared::{
    ChatMessage, MediaMode, MediaState, NoPathCause, Peer, PeerId, PeerStatus, Reaction, Role,
    Waiter, Welcome,
};

pub use crate::core::notice::{LostReason, Notice, NoticeAction, NoticeKind, Rejection};
use crate::core::quality::Quality;
use crate::core::AudioProcessing;
use crate::i18n::Strings;
use web_sys::MediaStream;
use yew::Reducible;

/// A media stream to show in a `<video>`; equal when it is the same stream at the same revision.
#[derive(Clone, Debug)]
pub struct StreamHandle {
    /// The stream itself (a JS object handle, cheap to clone).
    pub stream: MediaStream,
    /// Distinguishes handles to streams with the same id; bumped whenever the owner replaces it.
    pub revision: u32,
}

impl PartialEq for StreamHandle {
    fn eq(&self, other: &Self) -> bool {
        self.revision == other.revision && self.stream.id() == other.stream.id()
    }
}

/// Which page is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Screen {
    /// The join form.
    #[default]
    Join,
    /// In a room (connected or trying to be).
    Room,
}

/// The signaling connection as the person should understand it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Connection {
    /// Not connected and not trying (before joining, after leaving).
    #[default]
    Idle,
    /// Opening the WebSocket or waiting for `welcome`.
    Connecting {
        /// 0 for the first try, then the number of the retry.
        attempt: u32,
    },
    /// `welcome` received; the room is live.
    Connected,
    /// The connection broke; the next try starts after a delay.
    Retrying {
        /// The number of the next retry.
        attempt: u32,
        /// When it starts, in Unix milliseconds.
        at_ms: u64,
        /// Why the last connection ended.
        reason: LostReason,
    },
}

/// How a peer-to-peer connection to one participant is doing (`RTCPeerConnection.connectionState`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LinkState {
    /// Negotiating or checking connectivity.
    #[default]
    Connecting,
    /// Media can flow.
    Connected,
    /// Connectivity was lost; ICE may recover it.
    Disconnected,
    /// ICE failed; an ICE restart is under way.
    Failed,
    /// ICE failed with no relay to fall back on: on this network only a relay would connect.
    /// Restarts go on (the network may change).
    NoPath(NoPathCause),
}

/// Another participant as the UI shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct PeerView {
    /// Server-assigned id.
    pub id: PeerId,
    /// Display name.
    pub name: String,
    /// What they say they are sending.
    pub media: MediaState,
    /// Whether their signaling connection is up.
    pub status: PeerStatus,
    /// What they may do in the room (moderators get a badge).
    pub role: Role,
    /// Our peer-to-peer link to them.
    pub link: LinkState,
    /// Their camera and microphone.
    pub camera: Option<StreamHandle>,
    /// Their shared screen.
    pub screen: Option<StreamHandle>,
    /// How good the connection to them is, once measured.
    pub quality: Option<Quality>,
}

impl PeerView {
    fn from_peer(peer: &Peer) -> PeerView {
        PeerView {
            id: peer.peer_id.clone(),
            name: peer.name.to_string(),
            media: peer.media,
            status: peer.status,
            role: peer.role,
            link: LinkState::Connecting,
            camera: None,
            screen: None,
            quality: None,
        }
    }
}

/// Which local media the browser gave us.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Capture {
    /// Not asked yet.
    #[default]
    None,
    /// Camera and microphone.
    Full,
    /// Microphone only.
    AudioOnly,
    /// Nothing: others can still be seen and heard.
    ReceiveOnly,
}

/// This participant's own media.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct LocalView {
    /// Camera and microphone stream for the own tile.
    pub camera: Option<StreamHandle>,
    /// The own screen share.
    pub screen: Option<StreamHandle>,
    /// What we tell the others we send.
    pub media: MediaState,
    /// What we could capture.
    pub capture: Capture,
}

/// A capture device the person can pick.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// `MediaDeviceInfo.deviceId`.
    pub id: String,
    /// A human label; empty when the browser keeps it to itself (before permission was
    /// granted), and the picker shows a number instead.
    pub label: String,
}

/// The available devices and the ones in use.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Devices {
    /// Video inputs.
    pub cameras: Vec<Device>,
    /// Audio inputs.
    pub microphones: Vec<Device>,
    /// The camera in use.
    pub camera: Option<String>,
    /// The microphone in use.
    pub microphone: Option<String>,
    /// How the microphone's sound is processed.
    pub processing: AudioProcessing,
}

/// A notice shown in the page until dismissed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoticeEntry {
    /// Key for dismissal.
    pub id: u32,
    /// What it says.
    pub notice: Notice,
}

/// Which side panel is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Panel {
    /// None: the grid uses the whole width.
    #[default]
    Closed,
    /// The chat.
    Chat,
    /// The participant list.
    People,
}

/// A reaction on show on someone's tile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShownReaction {
    /// Tells it from the others (the call core takes it down by this id).
    pub id: u32,
    /// Who reacted (possibly we).
    pub peer: PeerId,
    /// Which reaction.
    pub reaction: Reaction,
}

/// A member as the UI names them: we ourselves, or another member by their name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Who {
    /// This participant.
    Me,
    /// Another member, by display name.
    Named(String),
}

/// What a screen reader is told about hands and reactions, as it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Announcement {
    /// Someone raised a hand.
    HandRaised(Who),
    /// Someone reacted.
    Reacted(Who, Reaction),
}

impl Announcement {
    /// The announcement in a sentence.
    pub fn text(&self, s: &Strings) -> String {
        let r = &s.room;
        match self {
            Announcement::HandRaised(Who::Me) => r.you_raised_hand.to_owned(),
            Announcement::HandRaised(Who::Named(name)) => (r.raised_hand)(name),
            Announcement::Reacted(Who::Me, reaction) => {
                (r.you_reacted)((s.tile.reaction)(*reaction))
            }
            Announcement::Reacted(Who::Named(name), reaction) => {
                (r.reacted)(name, (s.tile.reaction)(*reaction))
            }
        }
    }
}

/// Everything the UI renders.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct AppState {
    /// Which page is shown.
    pub screen: Screen,
    /// The room asked for (canonical after `welcome`).
    pub room: String,
    /// Our display name.
    pub name: String,
    /// The signaling connection.
    pub connection: Connection,
    /// Why the last call ended without the person leaving (room full, wrong password, removed),
    /// shown on the join page.
    pub join_error: Option<Rejection>,
    /// What we may do in the room: moderators get the moderator controls, viewers no capture
    /// controls.
    pub role: Role,
    /// Nobody new may join the room (a moderator locked it).
    pub locked: bool,
    /// Newcomers wait until a moderator lets them in.
    pub waiting_room: bool,
    /// We wait in the waiting room: not in the room yet.
    pub waiting: bool,
    /// For moderators: who waits to be let in, in the order they came.
    pub lobby: Vec<Waiter>,
    /// Who records the call now (we too, perhaps).
    pub recorders: Vec<PeerId>,
    /// Every member may record; otherwise moderators only.
    pub everyone_may_record: bool,
    /// Our own recorder runs.
    pub recording: bool,
    /// How the room's media travel: peer to peer (end-to-end encrypted) or through the server.
    pub mode: MediaMode,
    /// Who is speaking: from the audio levels in the mesh, as the media server hears it
    /// otherwise.
    pub speaker: Option<PeerId>,
    /// Our current peer id.
    pub self_id: Option<PeerId>,
    /// Every peer id we had in this call, so that own messages stay marked after a restart.
    pub own_ids: Vec<PeerId>,
    /// The other participants, in join order.
    pub peers: Vec<PeerView>,
    /// Chat messages, oldest first, unique by id.
    pub chat: Vec<ChatMessage>,
    /// Messages from others that arrived while the chat was not open.
    pub unread: usize,
    /// The open side panel.
    pub panel: Panel,
    /// Our own media.
    pub local: LocalView,
    /// Capture devices.
    pub devices: Devices,
    /// Visible notices, oldest first.
    pub notices: Vec<NoticeEntry>,
    /// The id of the next notice.
    pub next_notice: u32,
    /// Who has a raised hand (we too, perhaps), in the order they raised it.
    pub hands: Vec<PeerId>,
    /// Reactions on show, oldest first.
    pub reactions: Vec<ShownReaction>,
    /// The latest hand or reaction, for the screen reader's live region.
    pub announcement: Option<Announcement>,
}

/// Everything that changes [`AppState`].
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// The person pressed "Join".
    Joining {
        /// Canonical room name.
        room: String,
        /// Display name.
        name: String,
    },
    /// The signaling connection changed.
    Connection(Connection),
    /// The server accepted the join (first time or after a reconnect).
    Welcome {
        /// The `welcome`.
        welcome: Box<Welcome>,
        /// The same membership resumed: what we knew of the members still present stays
        /// (their links and streams survived).
        keep: bool,
    },
    /// The call ended without the person leaving; back to the join page with the reason.
    Rejected(Rejection),
    /// Our role as far as we know before `welcome` (a viewer's invitation).
    OwnRole(Role),
    /// Someone's role changed (ours included).
    Role(PeerId, Role),
    /// A moderator locked or unlocked the room, or turned the waiting room on or off.
    RoomState {
        /// Nobody new may join.
        locked: bool,
        /// Newcomers wait.
        waiting_room: bool,
    },
    /// We wait for a moderator to let us in.
    Waiting,
    /// Who records now, and whether everyone may.
    Recording {
        /// The members recording.
        recorders: Vec<PeerId>,
        /// Everyone may record.
        everyone: bool,
    },
    /// Our recorder started (true) or stopped.
    OwnRecording(bool),
    /// Who waits now (moderators).
    Lobby(Vec<Waiter>),
    /// The room's media travel this way now.
    Mode(MediaMode),
    /// Who speaks now (from the audio levels, or the media server).
    ActiveSpeaker(Option<PeerId>),
    /// How good the connection to someone is now.
    Quality(PeerId, Quality),
    /// Someone entered.
    PeerJoined(Peer),
    /// Someone left for good.
    PeerLeft(PeerId),
    /// Someone's signaling connection broke or came back.
    PeerStatus(PeerId, PeerStatus),
    /// Someone's media changed.
    PeerMedia(PeerId, MediaState),
    /// Our link to someone changed.
    Link(PeerId, LinkState),
    /// Someone's streams changed.
    RemoteStreams {
        /// Whose.
        peer: PeerId,
        /// Camera and microphone.
        camera: Option<StreamHandle>,
        /// Screen share.
        screen: Option<StreamHandle>,
    },
    /// A chat message arrived.
    Chat(ChatMessage),
    /// What we send and what we could capture.
    LocalMedia {
        /// What we tell the others we send.
        media: MediaState,
        /// What the browser gave us.
        capture: Capture,
    },
    /// Our camera and screen streams, for the own tiles.
    LocalStreams {
        /// Camera and microphone.
        camera: Option<StreamHandle>,
        /// Screen share.
        screen: Option<StreamHandle>,
    },
    /// The device lists or selection changed.
    Devices(Devices),
    /// Show a notice.
    Notify(Notice),
    /// Hide a notice.
    Dismiss(u32),
    /// Open or close a side panel (opening the open one closes it).
    TogglePanel(Panel),
    /// Who has a raised hand now, in order (from the room).
    Hands(Vec<PeerId>),
    /// Someone reacted: show it on its tile.
    Reacted {
        /// Which reaction on show this is.
        id: u32,
        /// Who.
        peer: PeerId,
        /// What.
        reaction: Reaction,
    },
    /// A reaction has been shown long enough.
    ReactionDone(u32),
    /// We left: back to the join page.
    Left,
}

impl AppState {
    /// The state at page load, with the join form prefilled.
    pub fn new(room: String, name: String, panel: Panel) -> AppState {
        AppState {
            room,
            name,
            panel,
            ..AppState::default()
        }
    }

    /// Whether a chat message was sent by this participant.
    pub fn is_own(&self, message: &ChatMessage) -> bool {
        self.own_ids.contains(&message.from)
    }

    fn add_chat(&mut self, message: ChatMessage, live: bool) {
        // Ids increase, so the common case is an append; history after a resume overlaps.
        match self.chat.binary_search_by_key(&message.id, |m| m.id) {
            Ok(_) => {}
            Err(pos) => {
                if live && self.panel != Panel::Chat && !self.is_own(&message) {
                    self.unread += 1;
                }
                self.chat.insert(pos, message);
            }
        }
    }

    fn notify(&mut self, notice: Notice) {
        // The same notice twice (a retry loop) is shown once.
        if self.notices.iter().any(|n| n.notice == notice) {
            return;
        }
        self.notices.push(NoticeEntry {
            id: self.next_notice,
            notice,
        });
        self.next_notice += 1;
        if self.notices.len() > 4 {
            self.notices.remove(0);
        }
    }

    /// Whether we may record under the room's rule.
    pub fn may_record(&self) -> bool {
        self.everyone_may_record || self.is_moderator()
    }

    /// The names of who records now ("you" for us), in order.
    pub fn recorder_names(&self, s: &Strings) -> Vec<String> {
        self.recorders
            .iter()
            .filter_map(|p| self.who(p))
            .map(|who| match who {
                Who::Me => s.room.you.to_owned(),
                Who::Named(name) => name,
            })
            .collect()
    }

    /// Whether our own hand is raised.
    pub fn hand_raised(&self) -> bool {
        self.self_id
            .as_ref()
            .is_some_and(|me| self.hands.contains(me))
    }

    /// Where `peer`'s hand is in the queue (1: raised first), if raised.
    pub fn hand_position(&self, peer: &PeerId) -> Option<usize> {
        self.hands.iter().position(|p| p == peer).map(|i| i + 1)
    }

    /// The latest reaction on show on `peer`'s tile.
    pub fn reaction_of(&self, peer: &PeerId) -> Option<Reaction> {
        self.reactions
            .iter()
            .rev()
            .find(|r| &r.peer == peer)
            .map(|r| r.reaction)
    }

    /// Who a member is to the UI: we, or another member by name.
    fn who(&self, peer: &PeerId) -> Option<Who> {
        if self.self_id.as_ref() == Some(peer) {
            return Some(Who::Me);
        }
        self.peers
            .iter()
            .find(|p| &p.id == peer)
            .map(|p| Who::Named(p.name.clone()))
    }

    fn peer_mut(&mut self, id: &PeerId) -> Option<&mut PeerView> {
        self.peers.iter_mut().find(|p| &p.id == id)
    }

    /// Whether the call ended because the room password was missing or wrong (the join page
    /// then puts the cursor in its field).
    pub fn password_refused(&self) -> bool {
        self.join_error.as_ref().is_some_and(Rejection::is_password)
    }

    /// Whether we may lock the room, remove people and end the room.
    pub fn is_moderator(&self) -> bool {
        self.role == Role::Moderator
    }

    /// Whether we only watch: no camera, no microphone, nothing sent.
    pub fn is_viewer(&self) -> bool {
        self.role == Role::Viewer
    }

    /// Back to the join page with the reason; the call is over.
    fn refused(&mut self, rejection: Rejection) {
        self.screen = Screen::Join;
        self.connection = Connection::Idle;
        self.join_error = Some(rejection);
        self.peers.clear();
        self.local = LocalView::default();
        self.role = Role::default();
        self.locked = false;
        self.waiting_room = false;
        self.waiting = false;
        self.lobby.clear();
        self.recorders.clear();
        self.everyone_may_record = false;
        self.recording = false;
        self.hands.clear();
        self.reactions.clear();
        self.announcement = None;
    }

    /// Applies one action.
    pub fn apply(&mut self, action: Action) {
        match action {
            Action::Joining { room, name } => {
                self.screen = Screen::Room;
                self.room = room;
                self.name = name;
                self.join_error = None;
                self.role = Role::default();
                self.locked = false;
                self.waiting_room = false;
                self.waiting = false;
                self.lobby.clear();
                self.connection = Connection::Connecting { attempt: 0 };
                self.peers.clear();
                self.chat.clear();
                self.own_ids.clear();
                self.self_id = None;
                self.unread = 0;
                self.notices.clear();
                self.hands.clear();
                self.reactions.clear();
                self.announcement = None;
            }
            Action::Connection(connection) => self.connection = connection,
            Action::Welcome { welcome, keep } => {
                let old = std::mem::take(&mut self.peers);
                self.peers = welcome
                    .peers
                    .iter()
                    .map(|peer| {
                        let mut view = PeerView::from_peer(peer);
                        if keep {
                            if let Some(prev) = old.iter().find(|p| p.id == peer.peer_id) {
                                view.link = prev.link;
                                view.camera = prev.camera.clone();
                                view.screen = prev.screen.clone();
                            }
                        }
                        view
                    })
                    .collect();
                if !self.own_ids.contains(&welcome.peer_id) {
                    self.own_ids.push(welcome.peer_id.clone());
                }
                self.self_id = Some(welcome.peer_id.clone());
                self.room = welcome.room.to_string();
                self.name = welcome.name.to_string();
                self.role = welcome.role;
                self.locked = welcome.locked;
                self.waiting_room = welcome.waiting_room;
                self.waiting = false;
                self.lobby = welcome.lobby.clone();
                self.recorders = welcome.recorders.clone();
                self.everyone_may_record = welcome.everyone_may_record;
                self.hands = welcome.hands.clone();
                self.mode = welcome.mode;
                self.connection = Connection::Connected;
                for message in welcome.history {
                    self.add_chat(message, false);
                }
            }
            Action::Rejected(rejection) => self.refused(rejection),
            Action::OwnRole(role) => self.role = role,
            Action::Role(id, role) => {
                if self.self_id.as_ref() == Some(&id) {
                    self.role = role;
                } else if let Some(peer) = self.peer_mut(&id) {
                    peer.role = role;
                }
            }
            Action::RoomState {
                locked,
                waiting_room,
            } => {
                self.locked = locked;
                self.waiting_room = waiting_room;
            }
            Action::Waiting => self.waiting = true,
            Action::Recording {
                recorders,
                everyone,
            } => {
                self.recorders = recorders;
                self.everyone_may_record = everyone;
            }
            Action::OwnRecording(on) => self.recording = on,
            Action::Lobby(waiting) => self.lobby = waiting,
            Action::Mode(mode) => {
                self.mode = mode;
                if mode == MediaMode::Mesh {
                    self.speaker = None;
                }
            }
            Action::ActiveSpeaker(peer) => self.speaker = peer,
            Action::PeerJoined(peer) => {
                let view = PeerView::from_peer(&peer);
                match self.peer_mut(&peer.peer_id) {
                    Some(existing) => *existing = view,
                    None => self.peers.push(view),
                }
            }
            Action::PeerLeft(id) => {
                self.recorders.retain(|p| p != &id);
                self.peers.retain(|p| p.id != id);
                self.hands.retain(|p| p != &id);
                self.reactions.retain(|r| r.peer != id);
            }
            Action::PeerStatus(id, status) => {
                if let Some(peer) = self.peer_mut(&id) {
                    peer.status = status;
                }
            }
            Action::Quality(id, quality) => {
                if let Some(peer) = self.peer_mut(&id) {
                    peer.quality = Some(quality);
                }
            }
            Action::PeerMedia(id, media) => {
                if let Some(peer) = self.peer_mut(&id) {
                    peer.media = media;
                }
            }
            Action::Link(id, link) => {
                if let Some(peer) = self.peer_mut(&id) {
                    peer.link = link;
                }
            }
            Action::RemoteStreams {
                peer,
                camera,
                screen,
            } => {
                if let Some(view) = self.peer_mut(&peer) {
                    view.camera = camera;
                    view.screen = screen;
                }
            }
            Action::Chat(message) => self.add_chat(message, true),
            Action::LocalMedia { media, capture } => {
                if !media.audio {
                    // Nothing left to ask once the microphone is off, however it was turned off.
                    self.notices
                        .retain(|n| n.notice.action() != Some(NoticeAction::MuteMicrophone));
                }
                self.local.media = media;
                self.local.capture = capture;
            }
            Action::LocalStreams { camera, screen } => {
                self.local.camera = camera;
                self.local.screen = screen;
            }
            Action::Devices(devices) => self.devices = devices,
            Action::Notify(notice) => self.notify(notice),
            Action::Dismiss(id) => self.notices.retain(|n| n.id != id),
            Action::TogglePanel(panel) => {
                self.panel = if self.panel == panel {
                    Panel::Closed
                } else {
                    panel
                };
                if self.panel == Panel::Chat {
                    self.unread = 0;
                }
            }
            Action::Hands(hands) => {
                let raised = hands.iter().find(|p| !self.hands.contains(p)).cloned();
                self.hands = hands;
                if let Some(who) = raised.and_then(|p| self.who(&p)) {
                    self.announcement = Some(Announcement::HandRaised(who));
                }
            }
            Action::Reacted { id, peer, reaction } => {
                if let Some(who) = self.who(&peer) {
                    self.announcement = Some(Announcement::Reacted(who, reaction));
                }
                self.reactions.push(ShownReaction { id, peer, reaction });
                // A flood cannot pile up: the room limits it, and the list is bounded anyway.
                if self.reactions.len() > 32 {
                    self.reactions.remove(0);
                }
            }
            Action::ReactionDone(id) => self.reactions.retain(|r| r.id != id),
            Action::Left => {
                let (room, name, panel) = (self.room.clone(), self.name.clone(), self.panel);
                *self = AppState::new(room, name, panel);
            }
        }
    }
}

impl Reducible for AppState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = (*self).clone();
        next.apply(action);
        Rc::new(next)
    }
}

#[cfg(test)]
mod tests {
    use treff_shared::{DisplayName, ErrorCode, Role, RoomName};

    use super::*;
    use crate::i18n::Lang;

    fn id(s: &str) -> PeerId {
        PeerId::new(s).expect("test id")
    }

    fn chat(n: u64, from: &str) -> ChatMessage {
        ChatMessage {
            id: n,
            from: id(from),
            name: DisplayName::new("Someone").expect("test name"),
            text: format!("message {n}"),
            ts: 0,
        }
    }

    fn peer(p: &str) -> Peer {
        Peer {
            peer_id: id(p),
            name: DisplayName::new(p).expect("test name"),
            media: MediaState::default(),
            status: PeerStatus::Online,
            role: Role::Participant,
            offer: true,
            polite: false,
        }
    }

    fn welcome(me: &str, peers: &[&str], history: Vec<ChatMessage>, resumed: bool) -> Action {
        Action::Welcome {
            keep: resumed,
            welcome: Box::new(Welcome {
                peer_id: id(me),
                name: DisplayName::new("Ada").expect("test name"),
                resume_token: "t".into(),
                room: RoomName::new("team").expect("test room"),
                peers: peers.iter().map(|p| peer(p)).collect(),
                ice_servers: vec![],
                history,
                resumed,
                role: Role::Moderator,
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
            }),
        }
    }

    fn joined() -> AppState {
        let mut state = AppState::default();
        state.apply(Action::Joining {
            room: "team".into(),
            name: "Ada".into(),
        });
        state
    }

    #[test]
    fn history_after_resume_is_not_duplicated() {
        let mut state = joined();
        state.apply(welcome("me", &[], vec![chat(1, "x"), chat(2, "x")], false));
        state.apply(Action::Chat(chat(3, "x")));
        state.apply(welcome(
            "me",
            &[],
            vec![chat(2, "x"), chat(3, "x"), chat(4, "x")],
            true,
        ));
        let ids: Vec<u64> = state.chat.iter().map(|m| m.id).collect();
        assert_eq!(ids, vec![1, 2, 3, 4]);
    }

    #[test]
    fn unread_counts_only_others_live_messages_while_chat_is_closed() {
        let mut state = joined();
        state.apply(welcome("me", &[], vec![chat(1, "x")], false));
        assert_eq!(state.unread, 0, "history is not unread");
        state.apply(Action::Chat(chat(2, "x")));
        state.apply(Action::Chat(chat(3, "me")));
        state.apply(Action::Chat(chat(2, "x")));
        assert_eq!(state.unread, 1);
        assert!(state.is_own(&state.chat[2]));
        state.apply(Action::TogglePanel(Panel::Chat));
        assert_eq!(state.unread, 0);
        state.apply(Action::Chat(chat(4, "x")));
        assert_eq!(state.unread, 0, "an open chat has nothing unread");
    }

    #[test]
    fn resumed_welcome_keeps_streams_of_peers_still_present_only() {
        let mut state = joined();
        state.apply(welcome("me", &["a", "b"], vec![], false));
        state.apply(Action::Link(id("a"), LinkState::Connected));
        state.apply(Action::Link(id("b"), LinkState::Connected));
        state.apply(welcome("me", &["a", "c"], vec![], true));
        let links: Vec<(&str, LinkState)> = state
            .peers
            .iter()
            .map(|p| (p.id.as_str(), p.link))
            .collect();
        assert_eq!(
            links,
            vec![("a", LinkState::Connected), ("c", LinkState::Connecting)]
        );
    }

    #[test]
    fn welcome_with_a_new_peer_id_starts_over_but_keeps_own_messages_marked() {
        let mut state = joined();
        state.apply(welcome("me", &["a"], vec![chat(1, "me")], false));
        state.apply(Action::Link(id("a"), LinkState::Connected));
        state.apply(welcome("me2", &["a"], vec![], false));
        assert_eq!(state.peers[0].link, LinkState::Connecting);
        assert!(state.is_own(&state.chat[0]));
        assert_eq!(state.self_id, Some(id("me2")));
    }

    #[test]
    fn rejection_returns_to_the_join_page_with_the_message() {
        let mut state = joined();
        let full = Rejection::Refused {
            code: ErrorCode::RoomFull,
            message: "The room is full.".into(),
        };
        state.apply(Action::Rejected(full.clone()));
        assert_eq!(state.screen, Screen::Join);
        assert_eq!(state.join_error, Some(full));
    }

    #[test]
    fn roles_come_from_welcome_joins_and_role_frames() {
        let mut state = joined();
        let mut ada = peer("ada");
        ada.role = Role::Moderator;
        state.apply(Action::Welcome {
            keep: false,
            welcome: Box::new(Welcome {
                peers: vec![ada],
                role: Role::Participant,
                locked: true,
                ..match welcome("me", &[], vec![], false) {
                    Action::Welcome { welcome, .. } => *welcome,
                    _ => unreachable!(),
                }
            }),
        });
        assert!(!state.is_moderator());
        assert!(state.locked);
        assert_eq!(state.peers[0].role, Role::Moderator);
        state.apply(Action::PeerJoined(peer("cy")));
        assert_eq!(state.peers[1].role, Role::Participant);

        // Ada leaves; the server makes us the moderator, and the controls follow at once.
        state.apply(Action::PeerLeft(id("ada")));
        state.apply(Action::Role(id("me"), Role::Moderator));
        assert!(state.is_moderator());
        state.apply(Action::Role(id("cy"), Role::Moderator));
        assert_eq!(state.peers[0].role, Role::Moderator);
        state.apply(Action::RoomState {
            locked: false,
            waiting_room: false,
        });
        assert!(!state.locked);
    }

    #[test]
    fn a_refusal_forgets_role_and_lock_and_says_whether_it_was_the_password() {
        let mut state = joined();
        state.apply(welcome("me", &["a"], vec![], false));
        state.apply(Action::RoomState {
            locked: true,
            waiting_room: false,
        });
        state.apply(Action::Rejected(Rejection::Refused {
            code: ErrorCode::WrongPassword,
            message: "The password is not right.".into(),
        }));
        assert_eq!(state.screen, Screen::Join);
        assert!(state.password_refused());
        assert_eq!(state.role, Role::Participant);
        assert!(!state.locked);
        state.apply(Action::Joining {
            room: "team".into(),
            name: "Ada".into(),
        });
        assert!(!state.password_refused());
        state.apply(Action::Rejected(Rejection::Refused {
            code: ErrorCode::RoomLocked,
            message: "The room is locked.".into(),
        }));
        assert!(!state.password_refused());
    }

    #[test]
    fn the_offer_to_mute_goes_away_once_the_microphone_is_off() {
        let mut state = joined();
        let on = MediaState {
            audio: true,
            ..MediaState::default()
        };
        state.apply(Action::LocalMedia {
            media: on,
            capture: Capture::Full,
        });
        state.apply(Action::Notify(Notice::MuteRequested { on: true }));
        assert_eq!(
            state.notices[0].notice.action(),
            Some(NoticeAction::MuteMicrophone),
            "the microphone is only turned off by the person"
        );
        assert!(state.local.media.audio);
        state.apply(Action::LocalMedia {
            media: MediaState::default(),
            capture: Capture::Full,
        });
        assert!(state.notices.is_empty());
    }

    #[test]
    fn repeated_notices_are_shown_once() {
        let mut state = joined();
        state.apply(Action::Notify(Notice::ChatNotSent));
        state.apply(Action::Notify(Notice::ChatNotSent));
        assert_eq!(state.notices.len(), 1);
    }

    #[test]
    fn hands_follow_the_room_and_go_with_whoever_leaves() {
        let mut state = joined();
        state.apply(welcome("me", &["bob", "cem"], vec![], false));
        assert!(!state.hand_raised());
        state.apply(Action::Hands(vec![id("cem")]));
        assert_eq!(
            state.announcement,
            Some(Announcement::HandRaised(Who::Named("cem".into())))
        );
        state.apply(Action::Hands(vec![id("cem"), id("me")]));
        assert!(state.hand_raised());
        assert_eq!(state.hand_position(&id("me")), Some(2));
        assert_eq!(state.announcement, Some(Announcement::HandRaised(Who::Me)));
        state.apply(Action::PeerLeft(id("cem")));
        assert_eq!(state.hand_position(&id("me")), Some(1));
        assert_eq!(state.hand_position(&id("cem")), None);
        // A late joiner's welcome brings the queue along.
        let mut late = joined();
        let mut w = welcome("dai", &["bob"], vec![], false);
        if let Action::Welcome { welcome, .. } = &mut w {
            welcome.hands = vec![id("bob")];
        }
        late.apply(w);
        assert_eq!(late.hand_position(&id("bob")), Some(1));
    }

    #[test]
    fn hands_reactions_and_recorders_are_said_in_the_pages_language() {
        let (en, de) = (Lang::En.strings(), Lang::De.strings());
        let mut state = joined();
        state.apply(welcome("me", &["bob"], vec![], false));
        state.apply(Action::Recording {
            recorders: vec![id("me"), id("bob")],
            everyone: true,
        });
        assert_eq!(state.recorder_names(en), ["you", "bob"]);
        assert_eq!(state.recorder_names(de), ["du", "bob"]);
        state.apply(Action::Hands(vec![id("me")]));
        let said = |state: &AppState, s| state.announcement.as_ref().map(|a| a.text(s));
        assert_eq!(said(&state, en).as_deref(), Some("You raised your hand."));
        assert_eq!(
            said(&state, de).as_deref(),
            Some("Du hast die Hand gehoben.")
        );
        state.apply(Action::Hands(vec![id("me"), id("bob")]));
        assert_eq!(
            said(&state, de).as_deref(),
            Some("bob hat die Hand gehoben.")
        );
        state.apply(Action::Reacted {
            id: 1,
            peer: id("bob"),
            reaction: Reaction::Heart,
        });
        assert_eq!(said(&state, en).as_deref(), Some("bob reacted: heart."));
        assert_eq!(said(&state, de).as_deref(), Some("bob hat reagiert: Herz."));
        state.apply(Action::Reacted {
            id: 2,
            peer: id("me"),
            reaction: Reaction::ThumbsUp,
        });
        assert_eq!(said(&state, en).as_deref(), Some("You reacted: thumbs up."));
        assert_eq!(
            said(&state, de).as_deref(),
            Some("Du hast reagiert: Daumen hoch.")
        );
    }

    #[test]
    fn a_reaction_shows_until_it_is_done_and_the_latest_wins() {
        let mut state = joined();
        state.apply(welcome("me", &["bob"], vec![], false));
        let react = |id_: u32, reaction| Action::Reacted {
            id: id_,
            peer: id("bob"),
            reaction,
        };
        state.apply(react(1, Reaction::Clap));
        state.apply(react(2, Reaction::Heart));
        assert_eq!(state.reaction_of(&id("bob")), Some(Reaction::Heart));
        assert_eq!(
            state.announcement,
            Some(Announcement::Reacted(
                Who::Named("bob".into()),
                Reaction::Heart
            ))
        );
        state.apply(Action::ReactionDone(2));
        assert_eq!(state.reaction_of(&id("bob")), Some(Reaction::Clap));
        state.apply(Action::ReactionDone(1));
        assert_eq!(state.reaction_of(&id("bob")), None);
        for n in 0..100 {
            state.apply(react(10 + n, Reaction::Party));
        }
        assert!(state.reactions.len() <= 32);
    }
}
