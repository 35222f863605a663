//! The treff wire protocol: every frame that crosses the signaling WebSocket.
//!
//! Frames are JSON text messages, internally tagged by `"type"` in kebab-case, so a frame reads
//! `{"type":"peer-joined",...}` in the browser's devtools. [`ClientMessage`] travels from the
//! browser to the server, [`ServerMessage`] from the server to the browser. This crate is the only
//! place that serializes or parses the wire format: use [`ClientMessage::decode`] /
//! [`ClientMessage::encode`] and [`ServerMessage::decode`] / [`ServerMessage::encode`].
//!
//! # Message sequence
//!
//! 1. The browser opens `/ws` and sends [`ClientMessage::Join`] first (with `resume_token` when
//!    it reconnects after a network blip).
//! 2. The server answers [`ServerMessage::Welcome`] with the joiner's server-assigned peer id,
//!    the current members, the ICE servers and the recent chat history. Every other member gets
//!    [`ServerMessage::PeerJoined`].
//! 3. For every pair of members the room elects exactly one offerer: **the member who joined
//!    later sends the offer**, and **the member who joined earlier is the polite peer** of the
//!    perfect-negotiation pattern. Each [`Peer`] entry carries both decisions from the point of
//!    view of the receiver (`offer`, `polite`), so a client never compares ids itself.
//! 4. Offers, answers and ICE candidates travel as [`ClientMessage::Signal`] addressed `to` one
//!    peer and arrive as [`ServerMessage::Signal`] with `from` stamped by the server.
//! 5. [`ClientMessage::Leave`] or a normal WebSocket close leaves at once ([`ServerMessage::PeerLeft`]
//!    to the others). A connection that breaks is held for a grace period, announced as
//!    [`PeerStatus::Reconnecting`], and can be resumed with the resume token.
//!
//! `docs/PROTOCOL.md` describes the same sequence with examples and every error code.
#![forbid(unsafe_code)]

use std::fmt;

use serde::{Deserialize, Serialize};

mod ids;
pub mod limits;
mod signal;
mod token;

pub use ids::{DisplayName, InvalidId, PeerId, RoomName};
pub use limits::MAX_CHAT_CHARS;
pub use signal::{IceCandidate, MediaKind, MediaLine, SdpType, SessionDescription, SignalData};
pub use token::JoinClaims;

/// A browser-to-server frame.
///
/// [`ClientFrameType`] is derived from this enum: one variant per frame type, in declaration
/// order, with its wire name. Counters and the list of known types use it, so a new frame type
/// cannot be left out of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::EnumDiscriminants)]
#[serde(tag = "type", rename_all = "kebab-case")]
#[strum_discriminants(
    name(ClientFrameType),
    derive(Hash, strum::VariantArray, strum::IntoStaticStr),
    strum(serialize_all = "kebab-case"),
    doc = "The `type` of a [`ClientMessage`], without its fields (derived from the enum)."
)]
pub enum ClientMessage {
    /// Enter a room. Must be the first frame on a connection.
    Join {
        /// The room to enter; created when the first member joins.
        room: RoomName,
        /// How the other members will see this participant.
        name: DisplayName,
        /// Token from an earlier `welcome` in this room: takes the same peer id back.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume_token: Option<String>,
        /// Microphone, camera and screen state at the moment of joining.
        #[serde(default)]
        media: MediaState,
        /// The room's password: sets it when this join creates the room, and must match it
        /// when the room has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<String>,
        /// A signed token (JWT) naming the room, the display name and the role; required when
        /// the server is configured for tokens.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
    },
    /// Leave the room at once; the others get `peer-left` immediately.
    Leave,
    /// An offer, answer or ICE candidate for one other member of the same room.
    Signal {
        /// The addressee; must be a member of the sender's room.
        to: PeerId,
        /// The WebRTC payload, relayed unchanged.
        data: SignalData,
    },
    /// A chat message for every member of the room (including the sender).
    Chat {
        /// The message text, 1 to [`MAX_CHAT_CHARS`] characters.
        text: String,
    },
    /// The sender's microphone, camera or screen share changed.
    Media(MediaState),
    /// Application-level heartbeat; the server answers `pong`.
    Ping,
    /// Moderators only: lock the room (nobody new may join) or unlock it.
    Lock {
        /// True to lock.
        locked: bool,
    },
    /// Moderators only: remove a member from the room.
    Kick {
        /// The member to remove.
        peer_id: PeerId,
    },
    /// Moderators only: ask a member to turn its microphone off.
    RequestMute {
        /// The member asked.
        peer_id: PeerId,
    },
    /// Moderators only: end the room for everyone.
    EndRoom,
    /// Moderators only: turn the waiting room on (`true`: newcomers wait until a moderator
    /// admits them) or off (everyone waiting is let in).
    WaitingRoom {
        /// True to turn it on.
        on: bool,
    },
    /// Moderators only: let someone who waits in.
    Admit {
        /// The person waiting (from `lobby`).
        peer_id: PeerId,
    },
    /// Moderators only: turn someone who waits away.
    Deny {
        /// The person waiting (from `lobby`).
        peer_id: PeerId,
    },
    /// Announce that this member starts (`true`) or stops recording the call. The room refuses
    /// a start from someone without the right (`forbidden`); a client starts its recorder only
    /// once `recording` lists it, so everyone is told before anything is recorded.
    Recording {
        /// True when starting.
        on: bool,
    },
    /// Moderators only: whether every member may record (`true`) or only moderators (the
    /// default). Members who lose the right stop.
    RecordingPolicy {
        /// True: everyone may record.
        everyone: bool,
    },
    /// Raise (`true`) or lower this member's own hand. The room keeps the raised hands in the
    /// order they were raised and tells everyone (`hands`).
    Hand {
        /// True to raise.
        raised: bool,
    },
    /// Moderators only: lower another member's hand.
    LowerHand {
        /// The member whose hand goes down.
        peer_id: PeerId,
    },
    /// Show a reaction on this member's tile for everyone, for a few seconds. At most one a
    /// second (a burst of 4): more are refused with `rate-limited`.
    React {
        /// Which one.
        reaction: Reaction,
    },
    /// An offer, answer or ICE candidate for one of this member's connections to the media
    /// server (rooms in [`MediaMode::Sfu`] only).
    MediaSignal {
        /// The mode epoch the connection belongs to (from `mode` or `welcome`); signals of an
        /// older epoch are dropped.
        epoch: u32,
        /// Which of the two connections.
        link: MediaLink,
        /// The WebRTC payload.
        data: SignalData,
    },
    /// How large this member shows each remote picture, so that the media server never sends a
    /// thumbnail the top simulcast layer (rooms in [`MediaMode::Sfu`]).
    Tiles {
        /// One entry per picture shown; pictures not listed are not shown.
        tiles: Vec<TileSize>,
    },
    /// The sender's connection to member `peer_id` failed with no relay to fall back on: the
    /// server counts and logs it (operators learn that their TURN is missing or unreachable).
    NoPath {
        /// The member the connection was to.
        peer_id: PeerId,
        /// Why no relay was possible.
        cause: NoPathCause,
    },
}

/// Why a connection that failed had no relay to fall back on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoPathCause {
    /// The server hands out no TURN server.
    NoRelay,
    /// A TURN server was handed out, but it gave this browser no relay address.
    RelayUnreachable,
}

impl NoPathCause {
    /// The cause as it appears on the wire and in metrics, e.g. `"no-relay"`.
    pub fn as_str(self) -> &'static str {
        match self {
            NoPathCause::NoRelay => "no-relay",
            NoPathCause::RelayUnreachable => "relay-unreachable",
        }
    }
}

/// A server-to-browser frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum ServerMessage {
    /// The answer to `join`: who you are and who is here.
    Welcome(Box<Welcome>),
    /// Someone entered the room.
    PeerJoined {
        /// The newcomer, with this receiver's role towards it.
        peer: Peer,
    },
    /// Someone left the room for good (left, closed the tab, or did not come back in time).
    PeerLeft {
        /// The member that is gone.
        peer_id: PeerId,
        /// Why the member is gone.
        reason: LeaveReason,
    },
    /// A member's connection broke (it is held for a grace period) or came back.
    PeerStatus {
        /// The member whose connection changed.
        peer_id: PeerId,
        /// Its new state.
        status: PeerStatus,
    },
    /// A WebRTC payload from another member, stamped with its sender by the server.
    Signal {
        /// The sender, as the server knows it.
        from: PeerId,
        /// The payload, as the sender wrote it.
        data: SignalData,
    },
    /// A chat message (live, or part of the history in `welcome`).
    Chat(ChatMessage),
    /// A member's microphone, camera or screen share changed.
    Media {
        /// The member whose media changed.
        peer_id: PeerId,
        /// Its new media state.
        #[serde(flatten)]
        media: MediaState,
    },
    /// The answer to `ping`.
    Pong,
    /// A moderator locked or unlocked the room, or turned its waiting room on or off.
    RoomState {
        /// True when nobody new may join.
        locked: bool,
        /// True when newcomers wait until a moderator admits them.
        #[serde(default)]
        waiting_room: bool,
    },
    /// The answer to `join` while the room's waiting room is on: the sender waits until a
    /// moderator admits it (`welcome` follows) or denies it (`error` `denied`, then the close).
    /// It is not a member meanwhile: it gets no room traffic, chat or media.
    Waiting {
        /// The id the sender will have in the room (moderators admit it by this id).
        peer_id: PeerId,
        /// The room's canonical name.
        room: RoomName,
    },
    /// To moderators: who waits to be admitted, in the order they came. Sent whenever it
    /// changes, and to a member who becomes moderator.
    Lobby {
        /// The people waiting.
        waiting: Vec<Waiter>,
    },
    /// A member's role changed (e.g. the moderator left and another member took over).
    Role {
        /// The member whose role changed.
        peer_id: PeerId,
        /// Its new role.
        role: Role,
    },
    /// A moderator asks the receiver to turn its microphone off.
    MuteRequested {
        /// The moderator who asked.
        by: PeerId,
    },
    /// The receiver was removed from the room (kicked, or the room ended); the server closes
    /// the connection right after. Do not reconnect.
    Removed {
        /// Why.
        reason: LeaveReason,
    },
    /// How the room's media travel from now on. Sent to every member whenever the room
    /// switches; each switch has a higher `epoch`.
    Mode {
        /// Peer to peer, or through the media server.
        mode: MediaMode,
        /// Increases with every switch.
        epoch: u32,
    },
    /// An offer, answer or ICE candidate from the media server for one of the receiver's
    /// connections to it.
    MediaSignal {
        /// The mode epoch the connection belongs to.
        epoch: u32,
        /// Which of the two connections.
        link: MediaLink,
        /// The WebRTC payload; a description's `media` lines name whose media each line carries.
        data: SignalData,
    },
    /// Who has a raised hand, in the order they raised it (the earliest first). Sent to every
    /// member whenever the list changes; a newcomer finds it in `welcome`.
    Hands {
        /// The members with a raised hand.
        raised: Vec<PeerId>,
    },
    /// Who records the call now, and who may. Sent to every member whenever either changes; a
    /// newcomer finds both in `welcome`.
    Recording {
        /// The members recording, in the order they started.
        recorders: Vec<PeerId>,
        /// True when every member may record; false: moderators only.
        everyone: bool,
    },
    /// A member reacted: show `reaction` on its tile for a few seconds.
    Reaction {
        /// Who reacted.
        peer_id: PeerId,
        /// Which reaction.
        reaction: Reaction,
    },
    /// Who is speaking now, as the media server hears it (rooms in [`MediaMode::Sfu`]); `None`
    /// when nobody is.
    ActiveSpeaker {
        /// The loudest member, if anyone speaks.
        peer_id: Option<PeerId>,
    },
    /// A frame was rejected; the connection stays usable unless a close follows.
    Error {
        /// Machine-readable reason.
        code: ErrorCode,
        /// A sentence a person can read.
        message: String,
    },
}

/// The contents of `welcome`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    /// The id the server assigned to this member.
    pub peer_id: PeerId,
    /// The member's display name as the others see it (trimmed; from the token when the
    /// server uses tokens).
    pub name: DisplayName,
    /// Present it in a later `join` to take this peer id back after a network blip.
    pub resume_token: String,
    /// The room's canonical name.
    pub room: RoomName,
    /// Every other member, in join order, with this member's role towards each.
    pub peers: Vec<Peer>,
    /// ICE servers for `RTCPeerConnection`.
    pub ice_servers: Vec<IceServer>,
    /// The most recent chat messages, oldest first.
    pub history: Vec<ChatMessage>,
    /// True when this join took back an existing peer id (existing calls may continue).
    pub resumed: bool,
    /// The receiver's role in the room.
    pub role: Role,
    /// True when the room is locked (nobody new may join).
    pub locked: bool,
    /// How often the client should send `ping`, in milliseconds.
    pub ping_interval_ms: u64,
    /// How the room's media travel now.
    #[serde(default)]
    pub mode: MediaMode,
    /// The epoch of `mode` (see [`ServerMessage::Mode`]).
    #[serde(default)]
    pub mode_epoch: u32,
    /// The upload a member may use for its peer links together, in kbit/s: with N other
    /// members each link's video gets a share, smaller in bitrate and resolution. 0: no
    /// budget.
    #[serde(default)]
    pub mesh_upload_kbps: u32,
    /// Who has a raised hand, in the order they raised it (see [`ServerMessage::Hands`]).
    #[serde(default)]
    pub hands: Vec<PeerId>,
    /// True when newcomers wait until a moderator admits them.
    #[serde(default)]
    pub waiting_room: bool,
    /// For moderators: who waits to be admitted (see [`ServerMessage::Lobby`]); empty for
    /// everyone else.
    #[serde(default)]
    pub lobby: Vec<Waiter>,
    /// Who records the call now (see [`ServerMessage::Recording`]).
    #[serde(default)]
    pub recorders: Vec<PeerId>,
    /// True when every member may record; false: moderators only.
    #[serde(default)]
    pub everyone_may_record: bool,
}

/// Someone waiting to be admitted to a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiter {
    /// The id they will have in the room.
    pub peer_id: PeerId,
    /// Their display name.
    pub name: DisplayName,
}

/// A reaction a member can show on its tile. A closed set, so that a reaction never carries
/// text of the sender's choosing.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::VariantArray,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Reaction {
    /// 👍
    ThumbsUp,
    /// 👏
    Clap,
    /// 😂
    Laugh,
    /// ❤️
    Heart,
    /// 😮
    Surprised,
    /// 🎉
    Party,
}

impl Reaction {
    /// Every reaction, in the order a picker shows them.
    pub const ALL: &'static [Reaction] = <Reaction as strum::VariantArray>::VARIANTS;

    /// The reaction as it appears on the wire, e.g. `"thumbs-up"`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The emoji shown for it.
    pub fn emoji(self) -> &'static str {
        match self {
            Reaction::ThumbsUp => "👍",
            Reaction::Clap => "👏",
            Reaction::Laugh => "😂",
            Reaction::Heart => "❤️",
            Reaction::Surprised => "😮",
            Reaction::Party => "🎉",
        }
    }
}

/// How a room's media travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MediaMode {
    /// Every member sends to every other directly (end-to-end encrypted; the server never sees
    /// media).
    #[default]
    Mesh,
    /// Every member sends once to the media server in treff, which forwards to the others.
    Sfu,
}

/// One of a member's two connections to the media server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MediaLink {
    /// The member sends its microphone, camera and screen on it; the member offers.
    Publish,
    /// The server sends the others' media on it; the server offers.
    Subscribe,
}

/// How large a member shows one remote picture, in CSS pixels.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TileSize {
    /// Whose picture.
    pub peer_id: PeerId,
    /// Their camera or their screen.
    pub kind: MediaKind,
    /// Width shown.
    pub width: u16,
    /// Height shown.
    pub height: u16,
}

/// Another member of the room, as seen by the receiver of the frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Peer {
    /// The member's server-assigned id.
    pub peer_id: PeerId,
    /// The member's display name.
    pub name: DisplayName,
    /// Its microphone, camera and screen state.
    pub media: MediaState,
    /// Whether its signaling connection is up or being resumed.
    pub status: PeerStatus,
    /// Its role in the room.
    pub role: Role,
    /// True when the receiver must send the first offer to this member.
    pub offer: bool,
    /// True when the receiver is the polite side of this pair (it rolls back on glare).
    pub polite: bool,
}

/// Microphone, camera and screen-share state of one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MediaState {
    /// Microphone sending.
    #[serde(default)]
    pub audio: bool,
    /// Camera sending.
    #[serde(default)]
    pub video: bool,
    /// Screen share sending.
    #[serde(default)]
    pub screen: bool,
}

/// What a member may do in its room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// May lock the room, remove members, ask them to mute, and end the room. The member who
    /// creates a room is its moderator, unless tokens assign roles.
    Moderator,
    /// Sends and receives media and chat.
    #[default]
    Participant,
    /// Receives media only (may still chat).
    Viewer,
}

/// Whether a member's signaling connection is currently up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PeerStatus {
    /// Connected.
    Online,
    /// The connection broke; the member may come back within the grace period.
    Reconnecting,
}

/// Why a member left the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LeaveReason {
    /// It sent `leave` or closed its connection normally.
    Left,
    /// Its connection broke and it did not resume within the grace period.
    Timeout,
    /// A moderator removed it.
    Kicked,
    /// A moderator ended the room for everyone.
    RoomEnded,
}

/// One chat message as delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Sequence number within the room, increasing; lets a client drop duplicates after resume.
    pub id: u64,
    /// The sender's peer id.
    pub from: PeerId,
    /// The sender's display name at the time of sending.
    pub name: DisplayName,
    /// The text, to be rendered as text, never as HTML.
    pub text: String,
    /// Server time of acceptance, Unix milliseconds.
    pub ts: u64,
}

/// One entry of `RTCConfiguration.iceServers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// `stun:` or `turn:` URLs.
    pub urls: Vec<String>,
    /// TURN user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// Machine-readable reason of an `error` frame. `docs/PROTOCOL.md` lists when each is sent.
///
/// The list of every code ([`strum::VariantArray::VARIANTS`]) and the wire names
/// ([`ErrorCode::as_str`]) are derived from the enum, so a new code cannot be missing from them.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::VariantArray,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum ErrorCode {
    /// The frame is not valid JSON, or not a JSON object with a string `type`.
    BadJson,
    /// The `type` is not one this server knows.
    UnknownType,
    /// The type is known but a field is missing or has the wrong shape.
    InvalidFrame,
    /// The frame is larger than the server's maximum frame size.
    FrameTooLarge,
    /// Binary frames are not part of the protocol.
    BinaryFrame,
    /// A frame other than `join` or `ping` arrived before `join`.
    NotJoined,
    /// A second `join` on a connection that already joined.
    AlreadyJoined,
    /// The room name is empty, too long or has characters that are not allowed.
    InvalidRoom,
    /// The display name is empty, too long or has control characters.
    InvalidName,
    /// A signal was addressed to a peer that is not in the sender's room.
    UnknownPeer,
    /// A signal was addressed to its own sender.
    SignalToSelf,
    /// The chat text is empty or too long.
    InvalidChat,
    /// The room has as many members as it allows.
    RoomFull,
    /// The server holds as many rooms as it allows.
    TooManyRooms,
    /// No `join` arrived within the join deadline; the connection closes.
    JoinTimeout,
    /// The server is busy or shutting down; try again.
    Unavailable,
    /// Frames (or chat messages) arrive faster than the server's rate limit; the frame was
    /// dropped.
    RateLimited,
    /// This client address already has as many open sessions as the server allows.
    TooManySessions,
    /// The room has a password and the join frame has none.
    PasswordRequired,
    /// The password does not match the room's.
    WrongPassword,
    /// The server requires a signed token and the join has none.
    TokenRequired,
    /// The token is malformed, badly signed, expired, or for another room.
    InvalidToken,
    /// The sender's role does not allow this frame (moderator actions, media as a viewer).
    Forbidden,
    /// The room is locked: nobody new may join.
    RoomLocked,
    /// A media-server frame the room cannot use now: the room is peer to peer, the epoch is not
    /// the current one, or the description cannot be applied.
    InvalidMedia,
    /// The media server could not connect this member (ICE or DTLS did not complete in time).
    MediaFailed,
    /// A moderator did not let the sender in from the waiting room (or nobody was left to).
    Denied,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: &'static [ErrorCode] = <ErrorCode as strum::VariantArray>::VARIANTS;

    /// The code as it appears on the wire, e.g. `"bad-json"`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Position of the code in [`ErrorCode::ALL`] (for per-code counters).
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// WebSocket close codes the server uses (private range 4000–4999, plus standard ones).
pub mod close_code {
    /// No `join` within the join deadline.
    pub const JOIN_TIMEOUT: u16 = 4001;
    /// Too many rejected frames in a short time.
    pub const TOO_MANY_ERRORS: u16 = 4002;
    /// A newer connection resumed this member; this one is no longer used.
    pub const REPLACED: u16 = 4003;
    /// The heartbeat went silent for longer than the client timeout.
    pub const HEARTBEAT_TIMEOUT: u16 = 4004;
    /// A moderator removed this member; do not reconnect.
    pub const KICKED: u16 = 4005;
    /// A moderator ended the room; do not reconnect.
    pub const ROOM_ENDED: u16 = 4006;
    /// The client address has too many open sessions.
    pub const TOO_MANY_SESSIONS: u16 = 4007;
    /// A moderator turned the sender away from the waiting room; do not reconnect.
    pub const DENIED: u16 = 4008;
    /// The server is shutting down or restarting: reconnect with backoff and resume.
    pub const SERVER_RESTART: u16 = 1012;
}

/// A frame that could not be decoded, with the error code the server answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DecodeError {
    /// The code for the `error` frame.
    pub code: ErrorCode,
    /// A sentence saying what is wrong.
    pub message: String,
}

impl DecodeError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        DecodeError {
            code,
            message: message.into(),
        }
    }
}

impl ClientFrameType {
    /// Every frame type, in declaration order.
    pub const ALL: &'static [ClientFrameType] = <ClientFrameType as strum::VariantArray>::VARIANTS;

    /// The type as it appears on the wire, e.g. `"request-mute"`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Position of the type in [`ClientFrameType::ALL`] (for per-type counters).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The frame type with this wire name.
    pub fn from_wire(name: &str) -> Option<ClientFrameType> {
        Self::ALL.iter().copied().find(|t| t.as_str() == name)
    }
}

impl ClientMessage {
    /// The frame's type (its `type` on the wire, without the fields).
    pub fn frame_type(&self) -> ClientFrameType {
        self.into()
    }

    /// The frame's `type` as it appears on the wire, e.g. `"signal"`.
    pub fn type_name(&self) -> &'static str {
        self.frame_type().as_str()
    }

    /// Parses one text frame.
    ///
    /// The fast path is a single serde pass; only a frame that fails it is parsed a second time
    /// to find out which error code fits.
    pub fn decode(text: &str) -> Result<ClientMessage, DecodeError> {
        match serde_json::from_str(text) {
            Ok(msg) => Ok(msg),
            Err(err) => Err(classify_client_error(text, err)),
        }
    }

    /// Serializes this frame to JSON text.
    pub fn encode(&self) -> String {
        // unwrap: every field serializes to JSON (string keys, no non-finite floats).
        serde_json::to_string(self).unwrap()
    }
}

impl ServerMessage {
    /// Parses one text frame sent by a server.
    pub fn decode(text: &str) -> Result<ServerMessage, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Serializes this frame to JSON text.
    pub fn encode(&self) -> String {
        // unwrap: every field serializes to JSON (string keys, no non-finite floats).
        serde_json::to_string(self).unwrap()
    }

    /// Shorthand for an `error` frame.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> ServerMessage {
        ServerMessage::Error {
            code,
            message: message.into(),
        }
    }
}

impl From<DecodeError> for ServerMessage {
    fn from(err: DecodeError) -> Self {
        ServerMessage::Error {
            code: err.code,
            message: err.message,
        }
    }
}

fn classify_client_error(text: &str, err: serde_json::Error) -> DecodeError {
    use serde_json::Value;
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(_) => {
            return DecodeError::new(
                ErrorCode::BadJson,
                format!("The frame is not valid JSON: {err}."),
            )
        }
    };
    let Some(object) = value.as_object() else {
        return DecodeError::new(ErrorCode::BadJson, "The frame must be a JSON object.");
    };
    let Some(kind) = object.get("type").and_then(Value::as_str) else {
        return DecodeError::new(
            ErrorCode::BadJson,
            "The frame has no string field \"type\".",
        );
    };
    if ClientFrameType::from_wire(kind).is_none() {
        let known: Vec<&str> = ClientFrameType::ALL.iter().map(|t| t.as_str()).collect();
        return DecodeError::new(
            ErrorCode::UnknownType,
            format!(
                "Unknown frame type {:?}; expected one of: {}.",
                truncate(kind, 40),
                known.join(", ")
            ),
        );
    }
    if kind == "join" {
        if let Some(room) = object.get("room").and_then(Value::as_str) {
            if let Err(e) = RoomName::new(room) {
                return DecodeError::new(ErrorCode::InvalidRoom, e.to_string());
            }
        }
        if let Some(name) = object.get("name").and_then(Value::as_str) {
            if let Err(e) = DisplayName::new(name) {
                return DecodeError::new(ErrorCode::InvalidName, e.to_string());
            }
        }
    }
    DecodeError::new(
        ErrorCode::InvalidFrame,
        format!("Invalid \"{kind}\" frame: {err}."),
    )
}

fn truncate(s: &str, max_chars: usize) -> &str {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_matches_the_fixed_contract() {
        let msg = ClientMessage::decode(r#"{"type":"join","room":"team","name":"Ada"}"#).unwrap();
        assert_eq!(
            msg,
            ClientMessage::Join {
                room: RoomName::new("team").unwrap(),
                name: DisplayName::new("Ada").unwrap(),
                resume_token: None,
                media: MediaState::default(),
                password: None,
                token: None,
            }
        );
        let resumed = ClientMessage::decode(
            r#"{"type":"join","room":"team","name":"Ada","resume_token":"abc"}"#,
        )
        .unwrap();
        assert!(matches!(resumed, ClientMessage::Join { resume_token: Some(t), .. } if t == "abc"));
    }

    #[test]
    fn server_frames_use_kebab_case_tags() {
        let left = ServerMessage::PeerLeft {
            peer_id: PeerId::new("p1").unwrap(),
            reason: LeaveReason::Left,
        };
        assert_eq!(
            left.encode(),
            r#"{"type":"peer-left","peer_id":"p1","reason":"left"}"#
        );
        let err = ServerMessage::error(ErrorCode::UnknownPeer, "No such peer.");
        assert_eq!(
            err.encode(),
            r#"{"type":"error","code":"unknown-peer","message":"No such peer."}"#
        );
        let media = ServerMessage::Media {
            peer_id: PeerId::new("p1").unwrap(),
            media: MediaState {
                audio: true,
                video: false,
                screen: false,
            },
        };
        assert_eq!(
            media.encode(),
            r#"{"type":"media","peer_id":"p1","audio":true,"video":false,"screen":false}"#
        );
    }

    #[test]
    fn every_server_frame_round_trips() {
        let p = PeerId::new("p1").unwrap();
        let chat = ChatMessage {
            id: 3,
            from: p.clone(),
            name: DisplayName::new("Ada").unwrap(),
            text: "<b>hi</b>".into(),
            ts: 1_700_000_000_000,
        };
        let frames = vec![
            ServerMessage::Welcome(Box::new(Welcome {
                peer_id: p.clone(),
                name: DisplayName::new("Ada").unwrap(),
                resume_token: "t".into(),
                room: RoomName::new("r").unwrap(),
                peers: vec![Peer {
                    peer_id: PeerId::new("p2").unwrap(),
                    name: DisplayName::new("Bob").unwrap(),
                    media: MediaState::default(),
                    status: PeerStatus::Online,
                    role: Role::Moderator,
                    offer: true,
                    polite: false,
                }],
                ice_servers: vec![IceServer {
                    urls: vec!["stun:127.0.0.1:3478".into()],
                    username: None,
                    credential: None,
                }],
                history: vec![chat.clone()],
                resumed: false,
                role: Role::Participant,
                locked: false,
                ping_interval_ms: 5000,
                mode: MediaMode::Sfu,
                mode_epoch: 2,
                mesh_upload_kbps: 3000,
                hands: vec![p.clone()],
                waiting_room: true,
                lobby: vec![Waiter {
                    peer_id: p.clone(),
                    name: DisplayName::new("Bob").unwrap(),
                }],
                recorders: vec![p.clone()],
                everyone_may_record: true,
            })),
            ServerMessage::Mode {
                mode: MediaMode::Mesh,
                epoch: 3,
            },
            ServerMessage::MediaSignal {
                epoch: 3,
                link: MediaLink::Subscribe,
                data: SignalData::Description(SessionDescription {
                    kind: SdpType::Offer,
                    sdp: "v=0".into(),
                    media: vec![MediaLine {
                        mid: "1".into(),
                        kind: MediaKind::Camera,
                        peer: Some(p.clone()),
                    }],
                }),
            },
            ServerMessage::ActiveSpeaker {
                peer_id: Some(p.clone()),
            },
            ServerMessage::ActiveSpeaker { peer_id: None },
            ServerMessage::PeerStatus {
                peer_id: p.clone(),
                status: PeerStatus::Reconnecting,
            },
            ServerMessage::Signal {
                from: p.clone(),
                data: SignalData::Candidate(None),
            },
            ServerMessage::Chat(chat),
            ServerMessage::Pong,
            ServerMessage::RoomState {
                locked: true,
                waiting_room: true,
            },
            ServerMessage::Waiting {
                peer_id: p.clone(),
                room: RoomName::new("team").unwrap(),
            },
            ServerMessage::Lobby { waiting: vec![] },
            ServerMessage::Recording {
                recorders: vec![p.clone()],
                everyone: false,
            },
            ServerMessage::Role {
                peer_id: p.clone(),
                role: Role::Viewer,
            },
            ServerMessage::MuteRequested { by: p.clone() },
            ServerMessage::Hands {
                raised: vec![p.clone()],
            },
            ServerMessage::Reaction {
                peer_id: p.clone(),
                reaction: Reaction::Heart,
            },
            ServerMessage::Removed {
                reason: LeaveReason::Kicked,
            },
        ];
        for frame in frames {
            assert_eq!(ServerMessage::decode(&frame.encode()).unwrap(), frame);
        }
    }

    #[test]
    fn every_client_frame_round_trips() {
        let frames = vec![
            ClientMessage::Leave,
            ClientMessage::Ping,
            ClientMessage::Chat { text: "hi".into() },
            ClientMessage::Media(MediaState {
                audio: false,
                video: true,
                screen: true,
            }),
            ClientMessage::Lock { locked: true },
            ClientMessage::Kick {
                peer_id: PeerId::new("p2").unwrap(),
            },
            ClientMessage::RequestMute {
                peer_id: PeerId::new("p2").unwrap(),
            },
            ClientMessage::EndRoom,
            ClientMessage::Join {
                room: RoomName::new("r").unwrap(),
                name: DisplayName::new("Ada").unwrap(),
                resume_token: None,
                media: MediaState::default(),
                password: Some("pw".into()),
                token: Some("a.b.c".into()),
            },
            ClientMessage::Signal {
                to: PeerId::new("p9").unwrap(),
                data: SignalData::Description(SessionDescription::new(SdpType::Offer, "v=0\r\n")),
            },
        ];
        for frame in frames {
            assert_eq!(ClientMessage::decode(&frame.encode()).unwrap(), frame);
        }
    }

    #[test]
    fn decode_errors_have_precise_codes() {
        let code = |s: &str| ClientMessage::decode(s).unwrap_err().code;
        assert_eq!(code("{not json"), ErrorCode::BadJson);
        assert_eq!(code("[1,2]"), ErrorCode::BadJson);
        assert_eq!(code(r#"{"room":"x"}"#), ErrorCode::BadJson);
        assert_eq!(code(r#"{"type":"dance"}"#), ErrorCode::UnknownType);
        assert_eq!(
            code(r#"{"type":"signal","to":"p1"}"#),
            ErrorCode::InvalidFrame
        );
        assert_eq!(
            code(r#"{"type":"signal","to":"p1","data":{"description":{"type":"bogus","sdp":""}}}"#),
            ErrorCode::InvalidFrame
        );
        assert_eq!(
            code(r#"{"type":"join","room":"a b/c","name":"Ada"}"#),
            ErrorCode::InvalidRoom
        );
        assert_eq!(
            code(r#"{"type":"join","room":"ok","name":"   "}"#),
            ErrorCode::InvalidName
        );
        assert_eq!(
            code(r#"{"type":"join","room":"ok","name":"a\u0007b"}"#),
            ErrorCode::InvalidName
        );
    }

    #[test]
    fn error_code_names_match_serde() {
        assert!(!ErrorCode::ALL.is_empty());
        for (i, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(code.index(), i);
            assert_eq!(
                serde_json::to_string(code).unwrap(),
                format!("\"{}\"", code.as_str())
            );
        }
    }

    /// One frame of each type. The match has no wildcard: a new frame type does not compile
    /// until it has a sample here, and then the test below checks its wire name.
    fn sample(kind: ClientFrameType) -> ClientMessage {
        let peer = || PeerId::new("p2").unwrap();
        match kind {
            ClientFrameType::Join => ClientMessage::Join {
                room: RoomName::new("r").unwrap(),
                name: DisplayName::new("Ada").unwrap(),
                resume_token: None,
                media: MediaState::default(),
                password: None,
                token: None,
            },
            ClientFrameType::Leave => ClientMessage::Leave,
            ClientFrameType::Signal => ClientMessage::Signal {
                to: peer(),
                data: SignalData::Candidate(None),
            },
            ClientFrameType::Chat => ClientMessage::Chat { text: "x".into() },
            ClientFrameType::Media => ClientMessage::Media(MediaState::default()),
            ClientFrameType::Ping => ClientMessage::Ping,
            ClientFrameType::Lock => ClientMessage::Lock { locked: false },
            ClientFrameType::Kick => ClientMessage::Kick { peer_id: peer() },
            ClientFrameType::RequestMute => ClientMessage::RequestMute { peer_id: peer() },
            ClientFrameType::EndRoom => ClientMessage::EndRoom,
            ClientFrameType::WaitingRoom => ClientMessage::WaitingRoom { on: true },
            ClientFrameType::Admit => ClientMessage::Admit { peer_id: peer() },
            ClientFrameType::Deny => ClientMessage::Deny { peer_id: peer() },
            ClientFrameType::Recording => ClientMessage::Recording { on: true },
            ClientFrameType::RecordingPolicy => ClientMessage::RecordingPolicy { everyone: true },
            ClientFrameType::Hand => ClientMessage::Hand { raised: true },
            ClientFrameType::LowerHand => ClientMessage::LowerHand { peer_id: peer() },
            ClientFrameType::React => ClientMessage::React {
                reaction: Reaction::Clap,
            },
            ClientFrameType::MediaSignal => ClientMessage::MediaSignal {
                epoch: 1,
                link: MediaLink::Publish,
                data: SignalData::Candidate(None),
            },
            ClientFrameType::Tiles => ClientMessage::Tiles {
                tiles: vec![TileSize {
                    peer_id: peer(),
                    kind: MediaKind::Camera,
                    width: 320,
                    height: 180,
                }],
            },
            ClientFrameType::NoPath => ClientMessage::NoPath {
                peer_id: peer(),
                cause: NoPathCause::RelayUnreachable,
            },
        }
    }

    #[test]
    fn reactions_are_a_closed_set_named_on_the_wire() {
        let msg = ClientMessage::React {
            reaction: Reaction::ThumbsUp,
        };
        assert_eq!(msg.encode(), r#"{"type":"react","reaction":"thumbs-up"}"#);
        for &reaction in Reaction::ALL {
            let json = serde_json::to_string(&reaction).unwrap();
            assert_eq!(json, format!("\"{}\"", reaction.as_str()));
            assert!(!reaction.emoji().is_empty());
        }
        let bad = ClientMessage::decode(r#"{"type":"react","reaction":"<b>hi</b>"}"#);
        assert!(bad.is_err());
    }

    #[test]
    fn a_failed_connection_without_relay_is_reported_by_cause() {
        let msg = ClientMessage::NoPath {
            peer_id: PeerId::new("abc").unwrap(),
            cause: NoPathCause::NoRelay,
        };
        assert_eq!(
            msg.encode(),
            r#"{"type":"no-path","peer_id":"abc","cause":"no-relay"}"#
        );
        for cause in [NoPathCause::NoRelay, NoPathCause::RelayUnreachable] {
            let json = serde_json::to_string(&cause).unwrap();
            assert_eq!(json, format!("\"{}\"", cause.as_str()));
        }
        let bad = ClientMessage::decode(r#"{"type":"no-path","peer_id":"abc","cause":"bogus"}"#);
        assert!(bad.is_err());
    }

    #[test]
    fn type_names_match_the_wire_for_every_frame_type() {
        for (i, &kind) in ClientFrameType::ALL.iter().enumerate() {
            let msg = sample(kind);
            assert_eq!(msg.frame_type(), kind);
            assert_eq!(kind.index(), i);
            let json: serde_json::Value = serde_json::from_str(&msg.encode()).unwrap();
            assert_eq!(json["type"], kind.as_str());
            assert_eq!(ClientFrameType::from_wire(kind.as_str()), Some(kind));
            assert_eq!(ClientMessage::decode(&msg.encode()).unwrap(), msg);
        }
    }

    #[test]
    fn unknown_type_message_is_bounded() {
        let long = "x".repeat(10_000);
        let err = ClientMessage::decode(&format!(r#"{{"type":"{long}"}}"#)).unwrap_err();
        assert_eq!(err.code, ErrorCode::UnknownType);
        // The echo of the type is cut; the rest is the list of known types.
        assert!(!err.message.contains(&"x".repeat(41)));
        assert!(err.message.len() < 300, "{}", err.message.len());
    }
}
