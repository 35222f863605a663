//! The rules of one room, as a plain struct without I/O (sans-IO).
//!
//! [`Room`] keeps the members in join order, elects the offerer and the polite side of every
//! pair, keeps the bounded chat history, enforces capacity and holds members whose connection
//! broke for a grace period. Each method takes what happened and returns [`Output`]s: which
//! frame goes to which connection, and which connection to close. The room actor
//! (`room_actor.rs`) only feeds events in and delivers the outputs; everything here is
//! unit-tested without actix.
//!
//! The room reads neither a clock nor the OS's randomness: the time comes with every call (a
//! [`Clock`]) and peer ids and resume tokens come from the random source given to
//! [`Room::new`], so the same seed and the same calls give the same frames.
//!
//! # The offerer election
//!
//! Members are ordered by the time they joined. For the pair (earlier, later), **the later
//! member sends the first offer** and **the earlier member is the polite peer** of the
//! perfect-negotiation pattern. A newcomer therefore offers to everyone already present, and
//! nobody present has to react to `peer-joined` other than by waiting for an offer. The rule
//! depends only on join order, so it is the same for both sides of every pair, whatever the ids.
//!
//! # Roles
//!
//! The member who creates a room is its moderator (unless a token assigns roles). Moderators may
//! lock the room, remove members, ask them to mute and end the room: every such action is one
//! [`ModeratorAction`] inside [`Input::Moderate`], refused from anyone else as a whole. When the last moderator
//! leaves, the earliest remaining participant takes over, so a room never loses its controls.
//! Viewers receive only: the room refuses their media announcements and any session description
//! of theirs that would send media. A password, set by the creator, is checked by the shell
//! (hashing is slow and belongs off this struct); the room only records that it was verified.
//!
//! # Mesh or media server
//!
//! A small room is a full mesh: media go browser to browser and the server never sees them. A
//! room that reaches [`SfuPolicy::threshold`] members switches to the media server in treff (an
//! SFU): every member sends once, the server forwards. It switches back once it has stayed at or
//! below `threshold - 2` members for [`SfuPolicy::down_after`]; the gap keeps a room that hovers
//! around the threshold from switching back and forth. Every switch raises the mode epoch and is
//! announced to every member (`mode`); a newcomer learns the mode from its `welcome`. The media
//! server itself lives beside the room: the room only tells its shell what to start, stop and
//! forward ([`Output::Media`]) and relays what comes back ([`Room::from_media`]).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::Rng;
use treff_shared::{
    close_code, ChatMessage, DisplayName, ErrorCode, LeaveReason, MediaLink, MediaMode, MediaState,
    NoPathCause, Peer, PeerId, PeerStatus, Reaction, Role, RoomName, ServerMessage, SignalData,
    TileSize, Waiter, Welcome, MAX_CHAT_CHARS,
};

use crate::ice::IceConfig;
use crate::limits::TokenBucket;

/// Reactions a member may send per second, and in one burst.
pub const REACTION_RATE: (f32, f32) = (1.0, 4.0);

/// Identifies one WebSocket connection (not a member: a member keeps its peer id across
/// connections when it resumes).
pub type ConnId = u64;

/// The limits and timings of a room.
#[derive(Debug, Clone)]
pub struct RoomConfig {
    /// Most members at once, including those being resumed.
    pub capacity: usize,
    /// Chat messages kept for late joiners.
    pub history_len: usize,
    /// How long a member whose connection broke keeps its place.
    pub resume_grace: Duration,
    /// Frames kept for a member while it reconnects; older ones are dropped beyond this.
    pub outbox_len: usize,
    /// `ping_interval_ms` told to clients in `welcome`.
    pub ping_interval: Duration,
    /// ICE servers (and TURN credentials) told to each member in its `welcome`.
    pub ice: Arc<IceConfig>,
    /// Longest chat message accepted, in characters.
    pub max_chat_chars: usize,
    /// Promote a participant when the last moderator leaves (off when tokens assign roles).
    pub promote_moderators: bool,
    /// When the room uses the media server.
    pub sfu: SfuPolicy,
    /// `mesh_upload_kbps` told to clients in `welcome` (0: none).
    pub mesh_upload_kbps: u32,
}

/// When a room's media go through the media server rather than peer to peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SfuPolicy {
    /// Off: every room stays a mesh (`--sfu off`).
    pub enabled: bool,
    /// A room with this many members switches to the media server.
    pub threshold: usize,
    /// A room on the media server switches back after this long at or below `threshold - 2`.
    pub down_after: Duration,
    /// Most members of a room on the media server (`capacity` bounds mesh rooms).
    pub capacity: usize,
}

impl Default for SfuPolicy {
    fn default() -> Self {
        SfuPolicy {
            enabled: true,
            threshold: 4,
            down_after: Duration::from_secs(5),
            capacity: 50,
        }
    }
}

impl Default for RoomConfig {
    fn default() -> Self {
        RoomConfig {
            capacity: 8,
            history_len: 50,
            resume_grace: Duration::from_secs(20),
            outbox_len: 256,
            ping_interval: Duration::from_secs(5),
            ice: Arc::new(IceConfig::default()),
            max_chat_chars: MAX_CHAT_CHARS,
            promote_moderators: true,
            sfu: SfuPolicy::default(),
            mesh_upload_kbps: 4000,
        }
    }
}

/// What the room asks its shell to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send one frame to each of these connections (serialized once by the shell).
    Send {
        /// The recipients.
        to: Vec<ConnId>,
        /// The frame.
        msg: ServerMessage,
    },
    /// Close a connection that is no longer the member's (a newer one resumed it).
    Close {
        /// The connection to close.
        conn: ConnId,
        /// The WebSocket close code.
        code: u16,
        /// Close reason for the peer.
        reason: &'static str,
    },
    /// Something for the room's media server.
    Media(MediaCommand),
    /// Two members could not connect and had no relay: for the log and the metrics.
    NoPath {
        /// Who reported it.
        from: PeerId,
        /// The member it could not reach.
        to: PeerId,
        /// Why no relay was possible.
        cause: NoPathCause,
    },
}

/// What the room tells its media server (in the shell) to do.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaCommand {
    /// The room switched to the media server with this epoch: start forwarding for it.
    Start {
        /// The new mode epoch.
        epoch: u32,
    },
    /// The room switched back to the mesh; the media server of `epoch` may stop once the
    /// members have moved over (make-before-break on their side).
    Stop {
        /// The epoch that ended.
        epoch: u32,
    },
    /// A member takes part in the media server of the current epoch.
    Join {
        /// The member.
        peer: PeerId,
        /// A viewer publishes nothing.
        viewer: bool,
    },
    /// A member left the room.
    Leave {
        /// The member.
        peer: PeerId,
    },
    /// A signal from a member for one of its two links.
    Signal {
        /// The member.
        peer: PeerId,
        /// Which link.
        link: MediaLink,
        /// The payload.
        data: SignalData,
    },
    /// How large a member shows each picture.
    Tiles {
        /// The member.
        peer: PeerId,
        /// The sizes.
        tiles: Vec<TileSize>,
    },
}

/// What the room's media server reports back.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaEvent {
    /// A signal for one of a member's links.
    Signal {
        /// The epoch of the media server that sends it.
        epoch: u32,
        /// The member.
        peer: PeerId,
        /// Which link.
        link: MediaLink,
        /// The payload.
        data: SignalData,
    },
    /// Who speaks now.
    ActiveSpeaker {
        /// The epoch of the media server that heard it.
        epoch: u32,
        /// The loudest member, if anyone speaks.
        peer: Option<PeerId>,
    },
    /// A member's links did not connect in time.
    Failed {
        /// The epoch of the media server.
        epoch: u32,
        /// The member.
        peer: PeerId,
        /// What went wrong, for the member.
        reason: String,
    },
}

impl Output {
    fn one(conn: ConnId, msg: ServerMessage) -> Output {
        Output::Send {
            to: vec![conn],
            msg,
        }
    }
}

/// What a session reports after it joined.
///
/// Serializable: a node that does not own the room forwards it to the owner.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Input {
    /// `signal` to another member.
    Signal {
        /// The addressee.
        to: PeerId,
        /// The payload.
        data: SignalData,
    },
    /// `chat` to everyone; the room stamps it with the time of the call, so a client cannot
    /// backdate its messages.
    Chat {
        /// The text as sent.
        text: String,
    },
    /// The member's media changed.
    Media(MediaState),
    /// `leave`, or a normal WebSocket close: gone at once.
    Leave,
    /// The connection broke or went silent: hold the member for the grace period.
    Lost,
    /// A moderator's action. The room refuses it from anyone who is not a moderator before it
    /// looks at the action, so a new action is never open to everyone by mistake.
    Moderate(ModeratorAction),
    /// A signal for one of the member's links to the media server.
    MediaSignal {
        /// The mode epoch the link belongs to.
        epoch: u32,
        /// Which link.
        link: MediaLink,
        /// The payload.
        data: SignalData,
    },
    /// How large the member shows each picture.
    Tiles(Vec<TileSize>),
    /// The member's connection to `peer_id` failed with no relay to fall back on.
    NoPath {
        /// The other member.
        peer_id: PeerId,
        /// Why no relay was possible.
        cause: NoPathCause,
    },
    /// The member starts (`true`) or stops recording.
    Recording(bool),
    /// The member raises (`true`) or lowers its own hand.
    Hand(bool),
    /// The member reacts (rate-limited by the room).
    React(Reaction),
}

/// What only a moderator may do.
///
/// Serializable: a node that does not own the room forwards it to the owner.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum ModeratorAction {
    /// Lock (`true`) or unlock the room; a locked room admits resumes only.
    Lock(bool),
    /// Remove a member (not oneself: that is `leave`).
    Kick(PeerId),
    /// Ask a member to mute; only the member learns of it.
    RequestMute(PeerId),
    /// End the room for everyone.
    EndRoom,
    /// Lower a member's raised hand.
    LowerHand(PeerId),
    /// Turn the waiting room on (`true`) or off (everyone waiting is let in, as far as the room
    /// has space).
    WaitingRoom(bool),
    /// Let someone in from the waiting room.
    Admit(PeerId),
    /// Turn someone in the waiting room away.
    Deny(PeerId),
    /// Let every member record (`true`) or moderators only.
    RecordingPolicy(bool),
}

/// Why a join was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// The room already has `capacity` members.
    #[error("The room is full ({0} participants); try again later or use another room.")]
    Full(usize),
    /// A moderator locked the room.
    #[error("The room is locked: a moderator must unlock it before anyone new can join.")]
    Locked,
    /// The room has a password and the join did not prove it.
    #[error("This room has a password; enter it to join.")]
    PasswordRequired,
    /// The password was checked and does not match.
    #[error("The password is not right.")]
    WrongPassword,
}

impl JoinError {
    /// The protocol error code for this refusal.
    pub fn code(&self) -> ErrorCode {
        match self {
            JoinError::Full(_) => ErrorCode::RoomFull,
            JoinError::Locked => ErrorCode::RoomLocked,
            JoinError::PasswordRequired => ErrorCode::PasswordRequired,
            JoinError::WrongPassword => ErrorCode::WrongPassword,
        }
    }
}

/// The result of a successful join.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Joined {
    /// The member's peer id (the old one when resumed).
    pub peer_id: PeerId,
    /// True when the join took an existing member back.
    pub resumed: bool,
    /// True when the connection waits in the waiting room: not a member yet.
    pub waiting: bool,
}

/// A join request as the room sees it.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    /// The new connection.
    pub conn: ConnId,
    /// Display name.
    pub name: DisplayName,
    /// Initial media state.
    pub media: MediaState,
    /// Token from an earlier welcome, if reconnecting.
    pub resume_token: Option<String>,
    /// The role a token assigned; `None` lets the room decide (creator: moderator).
    pub role: Option<Role>,
    /// What the shell established about the room password.
    pub password: Password,
    /// A token lets the joiner past the waiting room.
    pub skip_waiting_room: bool,
}

/// When something happens, as the shell read its clocks: the room reads no clock itself, so
/// its tests choose the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// Monotonic time, for the resume grace period.
    pub now: Instant,
    /// Wall-clock time in Unix milliseconds, for chat timestamps and the expiry of TURN
    /// credentials.
    pub unix_ms: u64,
}

impl Clock {
    fn unix_secs(self) -> u64 {
        self.unix_ms / 1000
    }
}

/// What the shell established about the room password for one join.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Password {
    /// No password was given (or none was needed).
    #[default]
    None,
    /// The given password matched the room's hash.
    Verified,
    /// The hash of a password for a room this join creates.
    Set(String),
}

/// What a join needs before [`Room::join`] can decide, as seen by the shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// The join resumes a member: no checks.
    Resume,
    /// The room is empty: this join creates it (and may set its password).
    Create,
    /// The room has a password: verify the given one against this hash first.
    Password(String),
    /// Nothing to verify.
    Open,
}

/// A room's lasting state, as kept for another node to carry it on ([`Room::state`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RoomState {
    /// Members in join order.
    pub members: Vec<MemberState>,
    /// Chat history, oldest first.
    pub history: Vec<ChatMessage>,
    /// The id the next chat message gets.
    pub next_chat_id: u64,
    /// PHC string of the room's password.
    pub password_hash: Option<String>,
    /// The room admits resumes only.
    pub locked: bool,
    /// Raised hands in the order they were raised.
    pub hands: Vec<PeerId>,
    /// Newcomers wait for a moderator.
    pub waiting_room: bool,
    /// Every member may record.
    pub everyone_may_record: bool,
    /// How the media travelled.
    pub mode: MediaMode,
    /// The epoch of that mode.
    pub mode_epoch: u32,
}

/// One member in a [`RoomState`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MemberState {
    /// The member's peer id, kept across nodes.
    pub peer_id: PeerId,
    /// Display name.
    pub name: DisplayName,
    /// The token its client resumes with.
    pub resume_token: String,
    /// Media state.
    pub media: MediaState,
    /// Role.
    pub role: Role,
}

/// Someone in the waiting room: what a member needs, without being one yet.
#[derive(Debug)]
struct Waiting {
    peer_id: PeerId,
    conn: ConnId,
    name: DisplayName,
    media: MediaState,
    role: Role,
}

#[derive(Debug)]
struct Member {
    peer_id: PeerId,
    name: DisplayName,
    resume_token: String,
    media: MediaState,
    role: Role,
    /// The live connection, or `None` while the member is being resumed.
    conn: Option<ConnId>,
    /// When the connection broke; the member is dropped at `lost_at + grace`.
    lost_at: Option<Instant>,
    /// Frames addressed to the member while it had no connection, delivered on resume.
    outbox: VecDeque<ServerMessage>,
    /// Bounds the member's reactions (see [`REACTION_RATE`]).
    reactions: TokenBucket,
}

impl Member {
    fn status(&self) -> PeerStatus {
        if self.conn.is_some() {
            PeerStatus::Online
        } else {
            PeerStatus::Reconnecting
        }
    }
}

/// One room's state and rules.
#[derive(Debug)]
pub struct Room {
    name: RoomName,
    config: RoomConfig,
    /// Members in join order: the order decides the offerer of every pair.
    members: Vec<Member>,
    history: VecDeque<ChatMessage>,
    next_chat_id: u64,
    /// PHC string of the room's password, set by its creator.
    password_hash: Option<String>,
    /// A locked room admits resumes only.
    locked: bool,
    /// Members with a raised hand, in the order they raised it.
    hands: Vec<PeerId>,
    /// Newcomers wait until a moderator admits them.
    waiting_room: bool,
    /// Who waits, in the order they came.
    waiters: Vec<Waiting>,
    /// Members recording the call, in the order they started.
    recorders: Vec<PeerId>,
    /// Every member may record; otherwise moderators only.
    everyone_may_record: bool,
    /// How the media travel now.
    mode: MediaMode,
    /// Raised with every switch of `mode`.
    mode_epoch: u32,
    /// On the media server: since when the room has had few enough members to switch back.
    below_since: Option<Instant>,
    /// Source of peer ids and resume tokens; the shell seeds it from the OS, tests from a
    /// number, so a test run is repeatable.
    rng: StdRng,
}

impl Room {
    /// An empty room drawing its peer ids and resume tokens from `rng`.
    pub fn new(name: RoomName, config: RoomConfig, rng: StdRng) -> Room {
        Room {
            name,
            config,
            members: Vec::new(),
            history: VecDeque::new(),
            next_chat_id: 1,
            password_hash: None,
            locked: false,
            hands: Vec::new(),
            waiting_room: false,
            waiters: Vec::new(),
            recorders: Vec::new(),
            everyone_may_record: false,
            mode: MediaMode::Mesh,
            mode_epoch: 0,
            below_since: None,
            rng,
        }
    }

    /// What another node needs to carry the room on: members with their resume tokens, chat
    /// history and settings. Connections, outboxes, waiting joiners (their connection is on the
    /// node that dies with the room) and recordings in progress are not part of it.
    pub fn state(&self) -> RoomState {
        RoomState {
            members: self
                .members
                .iter()
                .map(|m| MemberState {
                    peer_id: m.peer_id.clone(),
                    name: m.name.clone(),
                    resume_token: m.resume_token.clone(),
                    media: m.media,
                    role: m.role,
                })
                .collect(),
            history: self.history.iter().cloned().collect(),
            next_chat_id: self.next_chat_id,
            password_hash: self.password_hash.clone(),
            locked: self.locked,
            hands: self.hands.clone(),
            waiting_room: self.waiting_room,
            everyone_may_record: self.everyone_may_record,
            mode: self.mode,
            mode_epoch: self.mode_epoch,
        }
    }

    /// The room carried on from `state` (another node's [`Room::state`]): every member waits to
    /// resume, with the full grace period from `now`, and keeps its peer id, role and place in
    /// the join order. A room that used the media server starts a new one at once (a new mode
    /// epoch), so members resuming find it ready. Returns the outputs for the shell.
    pub fn restore(
        name: RoomName,
        config: RoomConfig,
        rng: StdRng,
        state: RoomState,
        now: Instant,
    ) -> (Room, Vec<Output>) {
        let mut room = Room::new(name, config, rng);
        let capacity = room.config.history_len;
        room.members = state
            .members
            .into_iter()
            .map(|m| Member {
                peer_id: m.peer_id,
                name: m.name,
                resume_token: m.resume_token,
                media: m.media,
                role: m.role,
                conn: None,
                lost_at: Some(now),
                outbox: VecDeque::new(),
                reactions: TokenBucket::new(REACTION_RATE.0, REACTION_RATE.1, now),
            })
            .collect();
        let skip = state.history.len().saturating_sub(capacity);
        room.history = state.history.into_iter().skip(skip).collect();
        room.next_chat_id = state.next_chat_id;
        room.password_hash = state.password_hash;
        room.locked = state.locked;
        let present = |p: &PeerId| room.members.iter().any(|m| &m.peer_id == p);
        room.hands = state.hands.into_iter().filter(|p| present(p)).collect();
        room.waiting_room = state.waiting_room;
        room.everyone_may_record = state.everyone_may_record;
        room.mode_epoch = state.mode_epoch;
        let mut out = Vec::new();
        if state.mode == MediaMode::Sfu && room.config.sfu.enabled {
            room.switch(MediaMode::Sfu, None, &mut out);
        } else if state.mode == MediaMode::Sfu {
            // Carried on by a node without a media server: the members learn it on resume.
            room.mode_epoch += 1;
        }
        (room, out)
    }

    /// How the room's media travel now, and the epoch of that mode.
    pub fn mode(&self) -> (MediaMode, u32) {
        (self.mode, self.mode_epoch)
    }

    /// The room's name.
    pub fn name(&self) -> &RoomName {
        &self.name
    }

    /// True when nobody is in the room, not even a member being resumed.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Number of members, including those being resumed.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Peer ids in join order.
    pub fn member_ids(&self) -> Vec<PeerId> {
        self.members.iter().map(|m| m.peer_id.clone()).collect()
    }

    /// The peer id bound to a connection, if that connection is a member's current one.
    pub fn peer_of(&self, conn: ConnId) -> Option<&PeerId> {
        self.index_of_conn(conn).map(|i| &self.members[i].peer_id)
    }

    /// What the shell must establish before calling [`Room::join`] for this resume token.
    pub fn admission(&self, resume_token: Option<&str>) -> Admission {
        if resume_token.is_some_and(|t| self.members.iter().any(|m| m.resume_token == t)) {
            Admission::Resume
        } else if self.members.is_empty() {
            Admission::Create
        } else if let Some(hash) = &self.password_hash {
            Admission::Password(hash.clone())
        } else {
            Admission::Open
        }
    }

    /// Admits a connection: either a new member or, with a valid resume token, an existing one.
    pub fn join(
        &mut self,
        req: JoinRequest,
        clock: Clock,
    ) -> Result<(Joined, Vec<Output>), JoinError> {
        let resumed = req
            .resume_token
            .as_deref()
            .and_then(|token| self.members.iter().position(|m| m.resume_token == token));
        match resumed {
            Some(index) => Ok(self.resume(index, req, clock)),
            None => self.admit(req, clock),
        }
    }

    fn admit(
        &mut self,
        req: JoinRequest,
        clock: Clock,
    ) -> Result<(Joined, Vec<Output>), JoinError> {
        let creating = self.members.is_empty();
        if !creating {
            if self.locked {
                return Err(JoinError::Locked);
            }
            if self.password_hash.is_some() && req.password != Password::Verified {
                return Err(JoinError::PasswordRequired);
            }
        }
        let capacity = self.capacity_for(self.members.len() + 1);
        if self.members.len() >= capacity {
            return Err(JoinError::Full(capacity));
        }
        if creating {
            // A new room starts unlocked, without a waiting room, with the creator's password
            // if any.
            self.locked = false;
            self.waiting_room = false;
            self.everyone_may_record = false;
            self.password_hash = match req.password {
                Password::Set(hash) => Some(hash),
                _ => None,
            };
        }
        let role = req.role.unwrap_or(if creating {
            Role::Moderator
        } else {
            Role::Participant
        });
        let peer_id = self.fresh_peer_id();
        let mut out = Vec::new();
        if self.waiting_room && !req.skip_waiting_room && role != Role::Moderator {
            out.push(Output::one(
                req.conn,
                ServerMessage::Waiting {
                    peer_id: peer_id.clone(),
                    room: self.name.clone(),
                },
            ));
            self.waiters.push(Waiting {
                peer_id: peer_id.clone(),
                conn: req.conn,
                name: req.name,
                media: req.media,
                role,
            });
            self.lobby_changed(&mut out);
            return Ok((
                Joined {
                    peer_id,
                    resumed: false,
                    waiting: true,
                },
                out,
            ));
        }
        self.add_member(
            Waiting {
                peer_id: peer_id.clone(),
                conn: req.conn,
                name: req.name,
                media: req.media,
                role,
            },
            clock,
            &mut out,
        );
        Ok((
            Joined {
                peer_id,
                resumed: false,
                waiting: false,
            },
            out,
        ))
    }

    /// Makes someone admitted (at once or from the waiting room) a member and tells everyone.
    fn add_member(&mut self, joiner: Waiting, clock: Clock, out: &mut Vec<Output>) {
        let Waiting {
            peer_id,
            conn,
            name,
            media,
            role,
        } = joiner;
        let media = if role == Role::Viewer {
            MediaState::default()
        } else {
            media
        };
        self.members.push(Member {
            peer_id: peer_id.clone(),
            name,
            resume_token: random_token(&mut self.rng),
            media,
            role,
            conn: Some(conn),
            lost_at: None,
            outbox: VecDeque::new(),
            reactions: TokenBucket::new(REACTION_RATE.0, REACTION_RATE.1, clock.now),
        });
        let me = self.members.len() - 1;
        // The others learn of a switch before they learn of the newcomer, so they never open a
        // peer link to it; the newcomer learns the mode from its welcome.
        let was_sfu = self.mode == MediaMode::Sfu;
        self.after_count_changed(clock.now, Some(me), out);
        out.push(Output::one(conn, self.welcome(me, false, clock)));
        if was_sfu {
            out.push(Output::Media(MediaCommand::Join {
                peer: peer_id,
                viewer: role == Role::Viewer,
            }));
        }
        for other in 0..me {
            let peer = self.peer_view(me, other);
            self.deliver(other, ServerMessage::PeerJoined { peer }, out);
        }
    }

    /// Tells every moderator who waits now.
    fn lobby_changed(&mut self, out: &mut Vec<Output>) {
        let to: Vec<ConnId> = self
            .members
            .iter()
            .filter(|m| m.role == Role::Moderator)
            .filter_map(|m| m.conn)
            .collect();
        if !to.is_empty() {
            out.push(Output::Send {
                to,
                msg: ServerMessage::Lobby {
                    waiting: self.lobby(),
                },
            });
        }
    }

    fn lobby(&self) -> Vec<Waiter> {
        self.waiters
            .iter()
            .map(|w| Waiter {
                peer_id: w.peer_id.clone(),
                name: w.name.clone(),
            })
            .collect()
    }

    /// Turns the waiter at `index` away with `message` and closes its connection.
    fn deny(&mut self, index: usize, message: &str, out: &mut Vec<Output>) {
        let waiter = self.waiters.remove(index);
        out.push(Output::one(
            waiter.conn,
            ServerMessage::error(ErrorCode::Denied, message),
        ));
        out.push(Output::Close {
            conn: waiter.conn,
            code: close_code::DENIED,
            reason: "not admitted",
        });
    }

    /// What a connection in the waiting room may do: wait, or go.
    fn waiter_input(&mut self, conn: ConnId, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        let Some(index) = self.waiters.iter().position(|w| w.conn == conn) else {
            return out;
        };
        match input {
            Input::Leave | Input::Lost => {
                self.waiters.remove(index);
                self.lobby_changed(&mut out);
            }
            _ => out.push(Output::one(
                conn,
                ServerMessage::error(
                    ErrorCode::NotJoined,
                    "You are in the waiting room: nothing reaches the room until a moderator lets you in.",
                ),
            )),
        }
        out
    }

    fn resume(&mut self, index: usize, req: JoinRequest, clock: Clock) -> (Joined, Vec<Output>) {
        let mut out = Vec::new();
        let member = &mut self.members[index];
        let replaced = member.conn.replace(req.conn);
        if let Some(old) = replaced {
            out.push(Output::Close {
                conn: old,
                code: close_code::REPLACED,
                reason: "resumed by a newer connection",
            });
        }
        // A connection replaced before anyone noticed it was gone (a network that changed
        // under it) may have swallowed frames addressed to the member too: the others hear it
        // came back either way, and re-send what may be unanswered.
        let was_lost = member.lost_at.take().is_some() || replaced.is_some();
        let media = if member.role == Role::Viewer {
            MediaState::default()
        } else {
            req.media
        };
        let media_changed = member.media != media;
        member.media = media;
        member.name = req.name;
        let pending: Vec<ServerMessage> = member.outbox.drain(..).collect();
        let peer_id = member.peer_id.clone();

        out.push(Output::one(req.conn, self.welcome(index, true, clock)));
        for msg in pending {
            out.push(Output::one(req.conn, msg));
        }
        if was_lost {
            self.broadcast_except(
                index,
                ServerMessage::PeerStatus {
                    peer_id: peer_id.clone(),
                    status: PeerStatus::Online,
                },
                &mut out,
            );
        }
        if media_changed {
            self.broadcast_except(
                index,
                ServerMessage::Media {
                    peer_id: peer_id.clone(),
                    media,
                },
                &mut out,
            );
        }
        (
            Joined {
                peer_id,
                resumed: true,
                waiting: false,
            },
            out,
        )
    }

    /// Most members allowed once the room has `members` members: a mesh room is bounded by
    /// `capacity`, a room on the media server (or one this join moves there) by the SFU's.
    fn capacity_for(&self, members: usize) -> usize {
        let sfu = &self.config.sfu;
        if sfu.enabled && (self.mode == MediaMode::Sfu || members >= sfu.threshold) {
            sfu.capacity.max(self.config.capacity)
        } else {
            self.config.capacity
        }
    }

    /// Applies the mode rule after members came or went. `newcomer` (who learns the mode from
    /// its welcome) is not sent the announcement.
    fn after_count_changed(
        &mut self,
        now: Instant,
        newcomer: Option<usize>,
        out: &mut Vec<Output>,
    ) {
        let sfu = &self.config.sfu;
        if !sfu.enabled {
            return;
        }
        let count = self.members.len();
        match self.mode {
            MediaMode::Mesh if count >= sfu.threshold => {
                self.switch(MediaMode::Sfu, newcomer, out);
            }
            MediaMode::Sfu if count + 2 <= sfu.threshold => {
                self.below_since.get_or_insert(now);
            }
            MediaMode::Sfu => self.below_since = None,
            MediaMode::Mesh => {}
        }
    }

    fn switch(&mut self, mode: MediaMode, except: Option<usize>, out: &mut Vec<Output>) {
        if self.mode == mode {
            return;
        }
        let ended = self.mode_epoch;
        self.mode = mode;
        self.mode_epoch += 1;
        self.below_since = None;
        let epoch = self.mode_epoch;
        tracing::info!(room = %self.name, ?mode, epoch, members = self.members.len(), "media mode");
        match mode {
            MediaMode::Sfu => {
                out.push(Output::Media(MediaCommand::Start { epoch }));
                for member in &self.members {
                    out.push(Output::Media(MediaCommand::Join {
                        peer: member.peer_id.clone(),
                        viewer: member.role == Role::Viewer,
                    }));
                }
            }
            MediaMode::Mesh => out.push(Output::Media(MediaCommand::Stop { epoch: ended })),
        }
        let except = except.unwrap_or(usize::MAX);
        self.broadcast_except(except, ServerMessage::Mode { mode, epoch }, out);
    }

    /// What the media server reports, relayed to the members it concerns. Anything from a
    /// media server of another epoch, or about someone who left, is dropped.
    pub fn from_media(&mut self, event: MediaEvent) -> Vec<Output> {
        let mut out = Vec::new();
        let current = |epoch: u32| self.mode == MediaMode::Sfu && epoch == self.mode_epoch;
        match event {
            MediaEvent::Signal {
                epoch,
                peer,
                link,
                data,
            } if current(epoch) => {
                if let Some(index) = self.index_of_peer(&peer) {
                    let msg = ServerMessage::MediaSignal { epoch, link, data };
                    self.deliver(index, msg, &mut out);
                }
            }
            MediaEvent::ActiveSpeaker { epoch, peer } if current(epoch) => {
                let to = self.members.iter().filter_map(|m| m.conn).collect();
                out.push(Output::Send {
                    to,
                    msg: ServerMessage::ActiveSpeaker { peer_id: peer },
                });
            }
            MediaEvent::Failed {
                epoch,
                peer,
                reason,
            } if current(epoch) => {
                if let Some(index) = self.index_of_peer(&peer) {
                    let msg = ServerMessage::error(ErrorCode::MediaFailed, reason);
                    self.deliver(index, msg, &mut out);
                }
            }
            _ => {}
        }
        out
    }

    fn media_input(&mut self, from: usize, conn: ConnId, input: Input, out: &mut Vec<Output>) {
        let peer = self.members[from].peer_id.clone();
        match input {
            Input::MediaSignal { epoch, .. }
                if self.mode != MediaMode::Sfu || epoch != self.mode_epoch =>
            {
                // A signal that crossed a switch: the link it belongs to is gone.
                out.push(Output::one(
                    conn,
                    ServerMessage::error(
                        ErrorCode::InvalidMedia,
                        format!(
                            "Media-server epoch {epoch} is not the room's current one ({}, {}).",
                            self.mode_epoch,
                            match self.mode {
                                MediaMode::Mesh => "peer to peer",
                                MediaMode::Sfu => "media server",
                            }
                        ),
                    ),
                ));
            }
            Input::MediaSignal {
                link: MediaLink::Publish,
                data,
                ..
            } if self.members[from].role == Role::Viewer && sends_media(&data) => {
                out.push(forbidden(
                    conn,
                    "Viewers receive only; they cannot publish media.",
                ));
            }
            Input::MediaSignal {
                data: data @ (SignalData::Swapped { .. } | SignalData::Layers { .. }),
                ..
            } => {
                let message = match data {
                    SignalData::Swapped { .. } => {
                        "`swapped` is a word between two members (a `signal`), not for the media server."
                    }
                    _ => "`layers` is the media server's word to a publisher, not a member's.",
                };
                out.push(Output::one(
                    conn,
                    ServerMessage::error(ErrorCode::InvalidMedia, message),
                ));
            }
            Input::MediaSignal { link, data, .. } => {
                out.push(Output::Media(MediaCommand::Signal { peer, link, data }));
            }
            Input::Tiles(tiles) if self.mode == MediaMode::Sfu => {
                out.push(Output::Media(MediaCommand::Tiles { peer, tiles }));
            }
            // Tile sizes only matter to the media server; a mesh room has none to tell.
            _ => {}
        }
    }

    /// Handles a frame or event from a joined connection. A connection that is no longer a
    /// member's (replaced by a resume, or already gone) is ignored.
    pub fn handle(&mut self, conn: ConnId, input: Input, clock: Clock) -> Vec<Output> {
        let mut out = Vec::new();
        let Some(from) = self.index_of_conn(conn) else {
            return self.waiter_input(conn, input);
        };
        match input {
            Input::Signal { to, data } => self.signal(from, conn, to, data, &mut out),
            Input::Chat { text } => self.chat(from, conn, text, clock.unix_ms, &mut out),
            Input::Media(media)
                if self.members[from].role == Role::Viewer && media != MediaState::default() =>
            {
                out.push(forbidden(
                    conn,
                    "Viewers receive only; they cannot send media.",
                ));
            }
            Input::Media(media) => {
                self.members[from].media = media;
                let peer_id = self.members[from].peer_id.clone();
                self.broadcast_except(from, ServerMessage::Media { peer_id, media }, &mut out);
            }
            Input::Leave => self.remove(from, LeaveReason::Left, clock.now, &mut out),
            Input::NoPath { peer_id, cause } => match self.index_of_peer(&peer_id) {
                Some(to) if to != from => out.push(Output::NoPath {
                    from: self.members[from].peer_id.clone(),
                    to: peer_id,
                    cause,
                }),
                _ => out.push(Output::one(
                    conn,
                    ServerMessage::error(
                        ErrorCode::UnknownPeer,
                        format!("Peer {peer_id} is not another member of this room."),
                    ),
                )),
            },
            Input::Hand(raised) => {
                let peer_id = self.members[from].peer_id.clone();
                self.set_hand(&peer_id, raised, &mut out);
            }
            Input::Recording(true)
                if !self.everyone_may_record && self.members[from].role != Role::Moderator =>
            {
                out.push(forbidden(conn, "Only moderators may record in this room."));
            }
            Input::Recording(on) => {
                let peer_id = self.members[from].peer_id.clone();
                let at = self.recorders.iter().position(|p| p == &peer_id);
                match (on, at) {
                    (true, None) => self.recorders.push(peer_id),
                    (false, Some(at)) => {
                        self.recorders.remove(at);
                    }
                    _ => return out,
                }
                self.recording_changed(&mut out);
            }
            Input::React(_) if !self.members[from].reactions.try_take(clock.now) => {
                out.push(Output::one(
                    conn,
                    ServerMessage::error(
                        ErrorCode::RateLimited,
                        format!(
                            "Too many reactions: {} in a row, then one a second; this one \
                             was not shown.",
                            REACTION_RATE.1
                        ),
                    ),
                ));
            }
            Input::React(reaction) => {
                let peer_id = self.members[from].peer_id.clone();
                out.push(self.to_everyone(ServerMessage::Reaction { peer_id, reaction }));
            }
            input @ (Input::MediaSignal { .. } | Input::Tiles(_)) => {
                self.media_input(from, conn, input, &mut out)
            }
            Input::Moderate(_) if self.members[from].role != Role::Moderator => {
                out.push(forbidden(conn, "Only a moderator may do this."));
            }
            Input::Moderate(action) => self.moderate(from, conn, action, clock, &mut out),
            Input::Lost => {
                let member = &mut self.members[from];
                member.conn = None;
                member.lost_at = Some(clock.now);
                let peer_id = member.peer_id.clone();
                self.broadcast_except(
                    from,
                    ServerMessage::PeerStatus {
                        peer_id,
                        status: PeerStatus::Reconnecting,
                    },
                    &mut out,
                );
            }
        }
        out
    }

    /// When [`Room::handle_timeout`] must next be called: the end of a member's resume grace,
    /// or the moment a small room on the media server switches back.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let resume = self
            .members
            .iter()
            .filter_map(|m| m.lost_at)
            .min()
            .map(|lost| lost + self.config.resume_grace);
        let back = self.below_since.map(|t| t + self.config.sfu.down_after);
        match (resume, back) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Drops every member whose grace period ended at or before `now`, and switches a room
    /// that stayed small long enough back to the mesh.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Output> {
        let mut out = Vec::new();
        while let Some(index) = self.members.iter().position(|m| {
            m.lost_at
                .is_some_and(|lost| lost + self.config.resume_grace <= now)
        }) {
            self.remove(index, LeaveReason::Timeout, now, &mut out);
        }
        if self
            .below_since
            .is_some_and(|since| since + self.config.sfu.down_after <= now)
            && !self.members.is_empty()
        {
            self.switch(MediaMode::Mesh, None, &mut out);
        }
        out
    }

    /// Carries out a moderator's action; `from` is known to be a moderator.
    fn moderate(
        &mut self,
        from: usize,
        conn: ConnId,
        action: ModeratorAction,
        clock: Clock,
        out: &mut Vec<Output>,
    ) {
        match action {
            ModeratorAction::Lock(locked) => {
                self.locked = locked;
                self.room_state_changed(out);
            }
            ModeratorAction::WaitingRoom(on) => {
                self.waiting_room = on;
                self.room_state_changed(out);
                if !on {
                    // Nobody is left waiting behind a waiting room that is off.
                    while !self.waiters.is_empty() {
                        if self.is_full() {
                            let message = "The room is full, so you could not be let in.";
                            self.deny(0, message, out);
                        } else {
                            let waiter = self.waiters.remove(0);
                            self.add_member(waiter, clock, out);
                        }
                    }
                    self.lobby_changed(out);
                }
            }
            ModeratorAction::RecordingPolicy(everyone) => {
                self.everyone_may_record = everyone;
                if !everyone {
                    // Who lost the right stops: its client sees itself gone from the list.
                    let members = &self.members;
                    self.recorders.retain(|p| {
                        members
                            .iter()
                            .any(|m| &m.peer_id == p && m.role == Role::Moderator)
                    });
                }
                self.recording_changed(out);
            }
            ModeratorAction::Admit(target) => match self.waiter_index(conn, &target, out) {
                None => {}
                Some(_) if self.is_full() => {
                    let capacity = self.capacity_for(self.members.len() + 1);
                    out.push(Output::one(
                            conn,
                            ServerMessage::error(
                                ErrorCode::RoomFull,
                                format!("The room is full ({capacity} participants): nobody more can be let in."),
                            ),
                        ));
                }
                Some(index) => {
                    let waiter = self.waiters.remove(index);
                    self.add_member(waiter, clock, out);
                    self.lobby_changed(out);
                }
            },
            ModeratorAction::Deny(target) => {
                if let Some(index) = self.waiter_index(conn, &target, out) {
                    self.deny(index, "A moderator did not let you in.", out);
                    self.lobby_changed(out);
                }
            }
            ModeratorAction::Kick(target) => match self.index_of_peer(&target) {
                None => out.push(Output::one(
                    conn,
                    ServerMessage::error(
                        ErrorCode::UnknownPeer,
                        format!("Peer {target} is not in this room."),
                    ),
                )),
                Some(index) if index == from => {
                    out.push(forbidden(conn, "Use leave to leave the room yourself."));
                }
                Some(index) => {
                    self.eject(index, LeaveReason::Kicked, close_code::KICKED, out);
                    self.remove(index, LeaveReason::Kicked, clock.now, out);
                }
            },
            ModeratorAction::RequestMute(target) => match self.index_of_peer(&target) {
                Some(index) if index != from => {
                    let by = self.members[from].peer_id.clone();
                    self.deliver(index, ServerMessage::MuteRequested { by }, out);
                }
                _ => out.push(Output::one(
                    conn,
                    ServerMessage::error(
                        ErrorCode::UnknownPeer,
                        format!("Peer {target} is not another member of this room."),
                    ),
                )),
            },
            ModeratorAction::LowerHand(target) => match self.index_of_peer(&target) {
                Some(_) => self.set_hand(&target, false, out),
                None => out.push(Output::one(
                    conn,
                    ServerMessage::error(
                        ErrorCode::UnknownPeer,
                        format!("Peer {target} is not in this room."),
                    ),
                )),
            },
            ModeratorAction::EndRoom => {
                for index in 0..self.members.len() {
                    self.eject(index, LeaveReason::RoomEnded, close_code::ROOM_ENDED, out);
                }
                self.members.clear();
                self.history.clear();
                self.hands.clear();
                self.recorders.clear();
                while !self.waiters.is_empty() {
                    self.deny(0, "The room ended before you were let in.", out);
                }
                if self.mode == MediaMode::Sfu {
                    out.push(Output::Media(MediaCommand::Stop {
                        epoch: self.mode_epoch,
                    }));
                }
            }
        }
    }

    /// Where `target` is in the waiting room; tells `conn` when nobody of that id waits.
    fn waiter_index(&self, conn: ConnId, target: &PeerId, out: &mut Vec<Output>) -> Option<usize> {
        let index = self.waiters.iter().position(|w| &w.peer_id == target);
        if index.is_none() {
            out.push(Output::one(
                conn,
                ServerMessage::error(
                    ErrorCode::UnknownPeer,
                    format!("Nobody with id {target} is waiting."),
                ),
            ));
        }
        index
    }

    /// Whether one more member would exceed the room's capacity.
    fn is_full(&self) -> bool {
        self.members.len() >= self.capacity_for(self.members.len() + 1)
    }

    /// Tells every member who records and who may.
    fn recording_changed(&mut self, out: &mut Vec<Output>) {
        out.push(self.to_everyone(ServerMessage::Recording {
            recorders: self.recorders.clone(),
            everyone: self.everyone_may_record,
        }));
    }

    /// `msg` for every member with a live connection (those being resumed learn the state from
    /// their next welcome).
    fn to_everyone(&self, msg: ServerMessage) -> Output {
        Output::Send {
            to: self.members.iter().filter_map(|m| m.conn).collect(),
            msg,
        }
    }

    /// Tells every member the room's lock and waiting room.
    fn room_state_changed(&mut self, out: &mut Vec<Output>) {
        out.push(self.to_everyone(ServerMessage::RoomState {
            locked: self.locked,
            waiting_room: self.waiting_room,
        }));
    }

    /// Raises or lowers `peer`'s hand and tells everyone the new order; nothing when the hand
    /// already is where it should be. Members being resumed learn it from their welcome.
    fn set_hand(&mut self, peer: &PeerId, raised: bool, out: &mut Vec<Output>) {
        let at = self.hands.iter().position(|p| p == peer);
        match (raised, at) {
            (true, None) => self.hands.push(peer.clone()),
            (false, Some(at)) => {
                self.hands.remove(at);
            }
            _ => return,
        }
        out.push(self.to_everyone(ServerMessage::Hands {
            raised: self.hands.clone(),
        }));
    }

    fn signal(
        &mut self,
        from: usize,
        conn: ConnId,
        to: PeerId,
        data: SignalData,
        out: &mut Vec<Output>,
    ) {
        let Some(target) = self.index_of_peer(&to) else {
            out.push(Output::one(
                conn,
                ServerMessage::error(
                    ErrorCode::UnknownPeer,
                    format!("Peer {to} is not in this room."),
                ),
            ));
            return;
        };
        if target == from {
            out.push(Output::one(
                conn,
                ServerMessage::error(
                    ErrorCode::SignalToSelf,
                    "A signal cannot be addressed to its own sender.",
                ),
            ));
            return;
        }
        if self.members[from].role == Role::Viewer && sends_media(&data) {
            out.push(forbidden(
                conn,
                "Viewers receive only; a session description of theirs must not send media.",
            ));
            return;
        }
        if matches!(data, SignalData::Layers { .. }) {
            out.push(Output::one(
                conn,
                ServerMessage::error(
                    ErrorCode::InvalidMedia,
                    "`layers` is the media server's word to a publisher; members do not send it.",
                ),
            ));
            return;
        }
        let msg = ServerMessage::Signal {
            from: self.members[from].peer_id.clone(),
            data,
        };
        self.deliver(target, msg, out);
    }

    fn chat(&mut self, from: usize, conn: ConnId, text: String, ts: u64, out: &mut Vec<Output>) {
        let chars = text.chars().count();
        let max = self.config.max_chat_chars;
        if text.trim().is_empty() || chars > max {
            out.push(Output::one(
                conn,
                ServerMessage::error(
                    ErrorCode::InvalidChat,
                    format!("A chat message must have 1 to {max} characters and not be blank."),
                ),
            ));
            return;
        }
        let member = &self.members[from];
        let chat = ChatMessage {
            id: self.next_chat_id,
            from: member.peer_id.clone(),
            name: member.name.clone(),
            text,
            ts,
        };
        self.next_chat_id += 1;
        if self.config.history_len > 0 {
            if self.history.len() == self.config.history_len {
                self.history.pop_front();
            }
            self.history.push_back(chat.clone());
        }
        // Members being resumed get the chat from the history in their next welcome.
        let to = self.members.iter().filter_map(|m| m.conn).collect();
        out.push(Output::Send {
            to,
            msg: ServerMessage::Chat(chat),
        });
    }

    /// Tells a member it was removed and closes its connection (it gets no `peer-left`).
    fn eject(&mut self, index: usize, reason: LeaveReason, code: u16, out: &mut Vec<Output>) {
        if let Some(conn) = self.members[index].conn.take() {
            out.push(Output::one(conn, ServerMessage::Removed { reason }));
            out.push(Output::Close {
                conn,
                code,
                reason: match reason {
                    LeaveReason::Kicked => "removed by a moderator",
                    _ => "the room ended",
                },
            });
        }
    }

    /// Removes a member; its hand goes down with it (`peer-left` says so, no `hands` follows).
    fn remove(&mut self, index: usize, reason: LeaveReason, now: Instant, out: &mut Vec<Output>) {
        let gone = self.members.remove(index);
        self.hands.retain(|p| p != &gone.peer_id);
        if let Some(at) = self.recorders.iter().position(|p| p == &gone.peer_id) {
            // Whether someone records concerns everyone: said at once, not left to peer-left.
            self.recorders.remove(at);
            self.recording_changed(out);
        }
        if self.mode == MediaMode::Sfu {
            out.push(Output::Media(MediaCommand::Leave {
                peer: gone.peer_id.clone(),
            }));
        }
        let to: Vec<ConnId> = self.members.iter().filter_map(|m| m.conn).collect();
        if !to.is_empty() {
            out.push(Output::Send {
                to,
                msg: ServerMessage::PeerLeft {
                    peer_id: gone.peer_id.clone(),
                    reason,
                },
            });
        }
        // Members being resumed must learn it too, or they would wait for a ghost.
        for member in self.members.iter_mut().filter(|m| m.conn.is_none()) {
            push_bounded(
                &mut member.outbox,
                ServerMessage::PeerLeft {
                    peer_id: gone.peer_id.clone(),
                    reason,
                },
                self.config.outbox_len,
            );
        }
        self.promote_if_needed(out);
        if self.members.is_empty() {
            // Nobody is left who could let them in.
            while !self.waiters.is_empty() {
                self.deny(0, "Everyone left the room before you were let in.", out);
            }
        }
        if self.members.is_empty() && self.mode == MediaMode::Sfu {
            out.push(Output::Media(MediaCommand::Stop {
                epoch: self.mode_epoch,
            }));
        } else {
            self.after_count_changed(now, None, out);
        }
    }

    /// Without any moderator left, the earliest participant becomes one (unless tokens decide).
    fn promote_if_needed(&mut self, out: &mut Vec<Output>) {
        if !self.config.promote_moderators || self.members.iter().any(|m| m.role == Role::Moderator)
        {
            return;
        }
        let Some(index) = self
            .members
            .iter()
            .position(|m| m.role == Role::Participant)
        else {
            return;
        };
        self.members[index].role = Role::Moderator;
        let msg = ServerMessage::Role {
            peer_id: self.members[index].peer_id.clone(),
            role: Role::Moderator,
        };
        self.broadcast_except(usize::MAX, msg, out);
        // The new moderator takes over the waiting room too.
        if !self.waiters.is_empty() {
            let waiting = self.lobby();
            self.deliver(index, ServerMessage::Lobby { waiting }, out);
        }
    }

    /// Sends to one member now, or keeps the frame for it while it is being resumed.
    fn deliver(&mut self, index: usize, msg: ServerMessage, out: &mut Vec<Output>) {
        let limit = self.config.outbox_len;
        let member = &mut self.members[index];
        match member.conn {
            Some(conn) => out.push(Output::one(conn, msg)),
            None => push_bounded(&mut member.outbox, msg, limit),
        }
    }

    fn broadcast_except(&mut self, except: usize, msg: ServerMessage, out: &mut Vec<Output>) {
        let mut to = Vec::with_capacity(self.members.len());
        let limit = self.config.outbox_len;
        for (i, member) in self.members.iter_mut().enumerate() {
            if i == except {
                continue;
            }
            match member.conn {
                Some(conn) => to.push(conn),
                None => push_bounded(&mut member.outbox, msg.clone(), limit),
            }
        }
        if !to.is_empty() {
            out.push(Output::Send { to, msg });
        }
    }

    fn welcome(&self, me: usize, resumed: bool, clock: Clock) -> ServerMessage {
        let member = &self.members[me];
        ServerMessage::Welcome(Box::new(Welcome {
            peer_id: member.peer_id.clone(),
            name: member.name.clone(),
            resume_token: member.resume_token.clone(),
            room: self.name.clone(),
            peers: (0..self.members.len())
                .filter(|&i| i != me)
                .map(|i| self.peer_view(i, me))
                .collect(),
            ice_servers: self
                .config
                .ice
                .servers_for(&member.peer_id, clock.unix_secs()),
            history: self.history.iter().cloned().collect(),
            resumed,
            role: member.role,
            locked: self.locked,
            ping_interval_ms: self.config.ping_interval.as_millis() as u64,
            mode: self.mode,
            mode_epoch: self.mode_epoch,
            mesh_upload_kbps: self.config.mesh_upload_kbps,
            hands: self.hands.clone(),
            waiting_room: self.waiting_room,
            lobby: if member.role == Role::Moderator {
                self.lobby()
            } else {
                Vec::new()
            },
            recorders: self.recorders.clone(),
            everyone_may_record: self.everyone_may_record,
        }))
    }

    /// Member `subject` as seen by member `viewer`, with the viewer's role in their pair.
    fn peer_view(&self, subject: usize, viewer: usize) -> Peer {
        let m = &self.members[subject];
        Peer {
            peer_id: m.peer_id.clone(),
            name: m.name.clone(),
            media: m.media,
            status: m.status(),
            role: m.role,
            offer: viewer > subject,
            polite: viewer < subject,
        }
    }

    fn index_of_conn(&self, conn: ConnId) -> Option<usize> {
        self.members.iter().position(|m| m.conn == Some(conn))
    }

    fn index_of_peer(&self, peer: &PeerId) -> Option<usize> {
        self.members.iter().position(|m| &m.peer_id == peer)
    }

    fn fresh_peer_id(&mut self) -> PeerId {
        loop {
            let raw: String = (0..10)
                .map(|_| ID_ALPHABET[self.rng.random_range(0..ID_ALPHABET.len())] as char)
                .collect();
            // unwrap: the alphabet only has characters a peer id allows.
            let id = PeerId::new(&raw).unwrap();
            if self.index_of_peer(&id).is_none() {
                return id;
            }
        }
    }
}

const ID_ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";

fn random_token(rng: &mut StdRng) -> String {
    let bytes: [u8; 16] = rng.random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn forbidden(conn: ConnId, message: &str) -> Output {
    Output::one(conn, ServerMessage::error(ErrorCode::Forbidden, message))
}

/// True when a session description would send media (any m-line that is sendrecv or sendonly).
fn sends_media(data: &SignalData) -> bool {
    match data {
        SignalData::Description(desc) => desc
            .sdp
            .lines()
            .any(|line| matches!(line.trim_end(), "a=sendrecv" | "a=sendonly")),
        SignalData::Candidate(_) | SignalData::Swapped { .. } | SignalData::Layers { .. } => false,
    }
}

fn push_bounded(queue: &mut VecDeque<ServerMessage>, msg: ServerMessage, limit: usize) {
    if queue.len() >= limit {
        queue.pop_front();
    }
    queue.push_back(msg);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use treff_shared::SessionDescription;

    /// Wall-clock time of every test call, in Unix milliseconds (14 Nov 2023).
    const UNIX_MS: u64 = 1_700_000_000_000;

    /// Every room in these tests draws from the same seed, so runs repeat exactly.
    const SEED: u64 = 7;

    fn room(capacity: usize, history_len: usize) -> Room {
        room_with(RoomConfig {
            capacity,
            history_len,
            ..RoomConfig::default()
        })
    }

    fn room_with(config: RoomConfig) -> Room {
        Room::new(
            RoomName::new("team").unwrap(),
            config,
            StdRng::seed_from_u64(SEED),
        )
    }

    /// The time of a call made now.
    fn clock() -> Clock {
        at(Instant::now())
    }

    /// The time of a call made at `now`.
    fn at(now: Instant) -> Clock {
        Clock {
            now,
            unix_ms: UNIX_MS,
        }
    }

    /// A join of a new member on `conn`, with nothing but a name.
    fn request(conn: ConnId, name: &str) -> JoinRequest {
        JoinRequest {
            conn,
            name: DisplayName::new(name).unwrap(),
            media: MediaState::default(),
            resume_token: None,
            role: None,
            password: Password::None,
            skip_waiting_room: false,
        }
    }

    fn join(room: &mut Room, conn: ConnId, name: &str) -> (Joined, Vec<Output>) {
        room.join(request(conn, name), clock()).unwrap()
    }

    /// Joins with the role a token would assign.
    fn join_as(room: &mut Room, conn: ConnId, name: &str, role: Role) -> (Joined, Vec<Output>) {
        let req = JoinRequest {
            role: Some(role),
            ..request(conn, name)
        };
        room.join(req, clock()).unwrap()
    }

    /// The frames sent to `conn`, in order.
    fn frames_to(out: &[Output], conn: ConnId) -> Vec<ServerMessage> {
        out.iter()
            .filter_map(|o| match o {
                Output::Send { to, msg } if to.contains(&conn) => Some(msg.clone()),
                _ => None,
            })
            .collect()
    }

    fn welcome_of(out: &[Output], conn: ConnId) -> Welcome {
        match frames_to(out, conn).into_iter().next() {
            Some(ServerMessage::Welcome(w)) => *w,
            other => panic!("expected welcome, got {other:?}"),
        }
    }

    fn offer() -> SignalData {
        SignalData::Description(SessionDescription::new(treff_shared::SdpType::Offer, "v=0"))
    }

    #[test]
    fn joins_are_announced_in_order() {
        let mut r = room(8, 10);
        let (a, out) = join(&mut r, 1, "Ada");
        let w = welcome_of(&out, 1);
        assert_eq!(w.peer_id, a.peer_id);
        assert!(w.peers.is_empty());
        assert!(!w.resumed);

        let (b, out) = join(&mut r, 2, "Bob");
        let w = welcome_of(&out, 2);
        assert_eq!(w.peers.len(), 1);
        assert_eq!(w.peers[0].peer_id, a.peer_id);
        assert_eq!(w.peers[0].name.as_str(), "Ada");
        match &frames_to(&out, 1)[..] {
            [ServerMessage::PeerJoined { peer }] => assert_eq!(peer.peer_id, b.peer_id),
            other => panic!("unexpected {other:?}"),
        }
        let (c, out) = join(&mut r, 3, "Cy");
        let w = welcome_of(&out, 3);
        let ids: Vec<_> = w.peers.iter().map(|p| p.peer_id.clone()).collect();
        assert_eq!(ids, vec![a.peer_id.clone(), b.peer_id.clone()]);
        assert_eq!(r.member_ids(), vec![a.peer_id, b.peer_id, c.peer_id]);
    }

    #[test]
    fn leave_removes_at_once_and_keeps_order() {
        let mut r = room(8, 10);
        let (a, _) = join(&mut r, 1, "Ada");
        let (b, _) = join(&mut r, 2, "Bob");
        let (c, _) = join(&mut r, 3, "Cy");
        let out = r.handle(2, Input::Leave, clock());
        for conn in [1, 3] {
            assert_eq!(
                frames_to(&out, conn),
                vec![ServerMessage::PeerLeft {
                    peer_id: b.peer_id.clone(),
                    reason: LeaveReason::Left
                }]
            );
        }
        assert!(frames_to(&out, 2).is_empty());
        assert_eq!(r.member_ids(), vec![a.peer_id, c.peer_id]);
        r.handle(1, Input::Leave, clock());
        r.handle(3, Input::Leave, clock());
        assert!(r.is_empty());
    }

    /// Every pair has exactly one offerer and exactly one polite side, and both sides agree,
    /// whatever the order of joins and leaves.
    #[test]
    fn election_gives_exactly_one_offerer_per_pair_for_any_order() {
        for seed in 0..200u64 {
            let mut r = room(8, 0);
            let mut views: std::collections::HashMap<(PeerId, PeerId), (bool, bool)> =
                Default::default();
            let mut live: Vec<(ConnId, PeerId)> = Vec::new();
            let mut next_conn = 1;
            let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            for _ in 0..12 {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let leave = (state >> 33) % 3 == 0 && !live.is_empty();
                if leave {
                    let (conn, peer) = live.remove(((state >> 40) as usize) % live.len());
                    r.handle(conn, Input::Leave, clock());
                    views.retain(|(x, y), _| *x != peer && *y != peer);
                } else if live.len() < 8 {
                    let conn = next_conn;
                    next_conn += 1;
                    let (joined, out) = join(&mut r, conn, "P");
                    for p in welcome_of(&out, conn).peers {
                        views.insert((joined.peer_id.clone(), p.peer_id), (p.offer, p.polite));
                    }
                    for (other_conn, other) in &live {
                        for msg in frames_to(&out, *other_conn) {
                            if let ServerMessage::PeerJoined { peer } = msg {
                                views.insert(
                                    (other.clone(), peer.peer_id),
                                    (peer.offer, peer.polite),
                                );
                            }
                        }
                    }
                    live.push((conn, joined.peer_id));
                }
                for (i, (_, x)) in live.iter().enumerate() {
                    for (_, y) in &live[i + 1..] {
                        let (x_offers, x_polite) = views[&(x.clone(), y.clone())];
                        let (y_offers, y_polite) = views[&(y.clone(), x.clone())];
                        assert!(x_offers ^ y_offers, "seed {seed}: exactly one offerer");
                        assert!(x_polite ^ y_polite, "seed {seed}: exactly one polite side");
                        // The later joiner offers; the earlier one is polite.
                        assert!(y_offers && x_polite, "seed {seed}: later joiner offers");
                    }
                }
            }
        }
    }

    #[test]
    fn a_connection_without_a_path_is_reported_for_another_member_only() {
        let mut r = room(8, 10);
        let (a, _) = join(&mut r, 1, "Ada");
        let (b, _) = join(&mut r, 2, "Bob");
        let report = |peer_id: &PeerId| Input::NoPath {
            peer_id: peer_id.clone(),
            cause: NoPathCause::RelayUnreachable,
        };
        assert_eq!(
            r.handle(2, report(&a.peer_id), clock()),
            vec![Output::NoPath {
                from: b.peer_id.clone(),
                to: a.peer_id.clone(),
                cause: NoPathCause::RelayUnreachable,
            }]
        );
        for bad in [b.peer_id.clone(), PeerId::new("nobody").unwrap()] {
            let out = r.handle(2, report(&bad), clock());
            assert!(
                matches!(
                    &out[..],
                    [Output::Send {
                        msg: ServerMessage::Error {
                            code: ErrorCode::UnknownPeer,
                            ..
                        },
                        ..
                    }]
                ),
                "{out:?}"
            );
        }
    }

    #[test]
    fn signal_reaches_only_its_addressee_with_the_sender_stamped() {
        let mut r = room(8, 10);
        let (a, _) = join(&mut r, 1, "Ada");
        let (b, _) = join(&mut r, 2, "Bob");
        join(&mut r, 3, "Cy");
        let out = r.handle(
            2,
            Input::Signal {
                to: a.peer_id.clone(),
                data: offer(),
            },
            clock(),
        );
        assert_eq!(
            out,
            vec![Output::Send {
                to: vec![1],
                msg: ServerMessage::Signal {
                    from: b.peer_id.clone(),
                    data: offer()
                }
            }]
        );
    }

    #[test]
    fn signal_to_unknown_peer_or_self_is_an_error_to_the_sender() {
        let mut r = room(8, 10);
        let (a, _) = join(&mut r, 1, "Ada");
        let code = |out: Vec<Output>| match &frames_to(&out, 1)[..] {
            [ServerMessage::Error { code, .. }] => *code,
            other => panic!("unexpected {other:?}"),
        };
        let out = r.handle(
            1,
            Input::Signal {
                to: PeerId::new("nobody").unwrap(),
                data: offer(),
            },
            clock(),
        );
        assert_eq!(code(out), ErrorCode::UnknownPeer);
        let out = r.handle(
            1,
            Input::Signal {
                to: a.peer_id,
                data: offer(),
            },
            clock(),
        );
        assert_eq!(code(out), ErrorCode::SignalToSelf);
        // Which layers to send is the media server's word, not another member's.
        let (b, _) = join(&mut r, 2, "Bob");
        let out = r.handle(
            1,
            Input::Signal {
                to: b.peer_id,
                data: SignalData::Layers {
                    mid: "1".into(),
                    active: Vec::new(),
                },
            },
            clock(),
        );
        assert!(frames_to(&out, 2).is_empty());
        assert_eq!(code(out), ErrorCode::InvalidMedia);
    }

    #[test]
    fn chat_reaches_everyone_and_history_is_bounded() {
        let mut r = room(8, 3);
        join(&mut r, 1, "Ada");
        join(&mut r, 2, "Bob");
        for i in 0..5 {
            let sent = Clock {
                unix_ms: UNIX_MS + i,
                ..clock()
            };
            let out = r.handle(
                1,
                Input::Chat {
                    text: format!("m{i}"),
                },
                sent,
            );
            assert_eq!(frames_to(&out, 1), frames_to(&out, 2));
        }
        let (_, out) = join(&mut r, 3, "Cy");
        let history = welcome_of(&out, 3).history;
        let texts: Vec<_> = history.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, vec!["m2", "m3", "m4"]);
        // Stamped by the room with the time of the call.
        let stamps: Vec<_> = history.iter().map(|c| c.ts).collect();
        assert_eq!(stamps, vec![UNIX_MS + 2, UNIX_MS + 3, UNIX_MS + 4]);
        assert_eq!(history[0].name.as_str(), "Ada");
        assert!(history.windows(2).all(|w| w[0].id < w[1].id));
    }

    #[test]
    fn blank_or_long_chat_is_refused() {
        let mut r = room(8, 3);
        join(&mut r, 1, "Ada");
        for text in ["   ".to_string(), "x".repeat(MAX_CHAT_CHARS + 1)] {
            let out = r.handle(1, Input::Chat { text }, clock());
            assert!(matches!(
                &frames_to(&out, 1)[..],
                [ServerMessage::Error {
                    code: ErrorCode::InvalidChat,
                    ..
                }]
            ));
        }
        let (_, out) = join(&mut r, 2, "Bob");
        assert!(welcome_of(&out, 2).history.is_empty());
    }

    #[test]
    fn capacity_is_enforced_and_frees_up_on_leave() {
        let mut r = room(2, 3);
        join(&mut r, 1, "Ada");
        join(&mut r, 2, "Bob");
        let refused = r.join(
            JoinRequest {
                conn: 3,
                name: DisplayName::new("Cy").unwrap(),
                media: MediaState::default(),
                resume_token: None,
                role: None,
                password: Password::None,
                skip_waiting_room: false,
            },
            clock(),
        );
        assert_eq!(refused.unwrap_err(), JoinError::Full(2));
        assert_eq!(r.len(), 2);
        r.handle(2, Input::Leave, clock());
        join(&mut r, 3, "Cy");
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn a_room_carried_on_from_its_state_keeps_members_history_and_settings() {
        let mut r = room(8, 10);
        let (a, out) = join(&mut r, 1, "Ada");
        let ada_token = welcome_of(&out, 1).resume_token;
        let (b, out) = join(&mut r, 2, "Bob");
        let bob_token = welcome_of(&out, 2).resume_token;
        r.handle(
            2,
            Input::Chat {
                text: "hallo".into(),
            },
            clock(),
        );
        r.handle(2, Input::Hand(true), clock());
        r.handle(1, Input::Moderate(ModeratorAction::Lock(true)), clock());
        let state = r.state();
        // Through JSON, as it is kept in Redis.
        let state: RoomState =
            serde_json::from_str(&serde_json::to_string(&state).unwrap()).unwrap();

        let t0 = Instant::now();
        let (mut carried, out) = Room::restore(
            RoomName::new("team").unwrap(),
            r.config.clone(),
            StdRng::seed_from_u64(SEED + 1),
            state,
            t0,
        );
        assert!(out.is_empty(), "a mesh room starts nothing: {out:?}");
        assert_eq!(
            carried.member_ids(),
            vec![a.peer_id.clone(), b.peer_id.clone()]
        );
        // Everyone waits to resume, with the full grace from the takeover.
        assert_eq!(carried.poll_timeout(), Some(t0 + r.config.resume_grace));
        // A locked room still takes its members back; they keep ids, role and join order.
        let (joined, out) = carried
            .join(
                JoinRequest {
                    resume_token: Some(bob_token),
                    ..request(12, "Bob")
                },
                at(t0),
            )
            .unwrap();
        assert!(joined.resumed);
        assert_eq!(joined.peer_id, b.peer_id);
        let welcome = welcome_of(&out, 12);
        assert!(welcome.locked);
        assert_eq!(welcome.history.len(), 1);
        assert_eq!(welcome.history[0].text, "hallo");
        assert_eq!(welcome.peers[0].peer_id, a.peer_id);
        assert_eq!(welcome.peers[0].status, PeerStatus::Reconnecting);
        assert!(
            welcome.peers[0].offer,
            "Bob joined later: he still offers to Ada"
        );
        let (joined, out) = carried
            .join(
                JoinRequest {
                    resume_token: Some(ada_token),
                    ..request(11, "Ada")
                },
                at(t0),
            )
            .unwrap();
        assert!(joined.resumed);
        assert_eq!(welcome_of(&out, 11).role, Role::Moderator);
        // A newcomer is still kept out by the lock.
        assert!(carried.join(request(13, "Cem"), at(t0)).is_err());
    }

    #[test]
    fn a_room_carried_on_from_the_media_server_starts_a_new_one() {
        let mut r = room_with(RoomConfig {
            sfu: SfuPolicy {
                enabled: true,
                threshold: 2,
                ..SfuPolicy::default()
            },
            ..RoomConfig::default()
        });
        join(&mut r, 1, "Ada");
        join(&mut r, 2, "Bob");
        assert_eq!(r.mode(), (MediaMode::Sfu, 1));
        let (carried, out) = Room::restore(
            RoomName::new("team").unwrap(),
            r.config.clone(),
            StdRng::seed_from_u64(SEED),
            r.state(),
            Instant::now(),
        );
        assert_eq!(carried.mode(), (MediaMode::Sfu, 2));
        assert!(
            matches!(out[0], Output::Media(MediaCommand::Start { epoch: 2 })),
            "{out:?}"
        );
        assert_eq!(
            out.iter()
                .filter(|o| matches!(o, Output::Media(MediaCommand::Join { .. })))
                .count(),
            2
        );
    }

    #[test]
    fn resume_within_grace_keeps_the_peer_id_and_tells_nobody_it_left() {
        let mut r = room(8, 10);
        let t0 = Instant::now();
        let (a, out) = join(&mut r, 1, "Ada");
        let token = welcome_of(&out, 1).resume_token;
        let (b, _) = join(&mut r, 2, "Bob");

        let out = r.handle(1, Input::Lost, at(t0));
        assert_eq!(
            frames_to(&out, 2),
            vec![ServerMessage::PeerStatus {
                peer_id: a.peer_id.clone(),
                status: PeerStatus::Reconnecting
            }]
        );
        assert_eq!(r.poll_timeout(), Some(t0 + Duration::from_secs(20)));
        // Frames for the absent member are kept for it.
        r.handle(
            2,
            Input::Signal {
                to: a.peer_id.clone(),
                data: offer(),
            },
            at(t0),
        );
        assert!(r.handle_timeout(t0 + Duration::from_secs(19)).is_empty());

        let (joined, out) = r
            .join(
                JoinRequest {
                    conn: 7,
                    name: DisplayName::new("Ada").unwrap(),
                    media: MediaState::default(),
                    resume_token: Some(token),
                    role: None,
                    password: Password::None,
                    skip_waiting_room: false,
                },
                clock(),
            )
            .unwrap();
        assert_eq!(joined.peer_id, a.peer_id);
        assert!(joined.resumed);
        let to_new = frames_to(&out, 7);
        match &to_new[0] {
            ServerMessage::Welcome(w) => {
                assert!(w.resumed);
                assert_eq!(w.peer_id, a.peer_id);
                assert_eq!(w.peers[0].peer_id, b.peer_id);
                assert!(
                    w.peers[0].polite,
                    "Ada joined first, so she is polite towards Bob"
                );
            }
            other => panic!("expected welcome, got {other:?}"),
        }
        assert_eq!(
            to_new[1],
            ServerMessage::Signal {
                from: b.peer_id.clone(),
                data: offer()
            }
        );
        assert_eq!(
            frames_to(&out, 2),
            vec![ServerMessage::PeerStatus {
                peer_id: a.peer_id.clone(),
                status: PeerStatus::Online
            }]
        );
        assert_eq!(r.poll_timeout(), None);
        assert!(r.handle_timeout(t0 + Duration::from_secs(60)).is_empty());
        assert_eq!(r.member_ids(), vec![a.peer_id, b.peer_id]);
    }

    #[test]
    fn after_the_grace_period_the_member_is_gone() {
        let mut r = room(8, 10);
        let t0 = Instant::now();
        let (a, out) = join(&mut r, 1, "Ada");
        let token = welcome_of(&out, 1).resume_token;
        let (b, _) = join(&mut r, 2, "Bob");
        r.handle(1, Input::Lost, at(t0));
        let out = r.handle_timeout(t0 + Duration::from_secs(20));
        assert_eq!(
            frames_to(&out, 2),
            vec![
                ServerMessage::PeerLeft {
                    peer_id: a.peer_id.clone(),
                    reason: LeaveReason::Timeout
                },
                // Ada created the room; without her, Bob takes over the controls.
                ServerMessage::Role {
                    peer_id: b.peer_id,
                    role: Role::Moderator
                }
            ]
        );
        // The old token now makes a new member.
        let (joined, _) = r
            .join(
                JoinRequest {
                    conn: 9,
                    name: DisplayName::new("Ada").unwrap(),
                    media: MediaState::default(),
                    resume_token: Some(token),
                    role: None,
                    password: Password::None,
                    skip_waiting_room: false,
                },
                clock(),
            )
            .unwrap();
        assert!(!joined.resumed);
        assert_ne!(joined.peer_id, a.peer_id);
    }

    #[test]
    fn a_second_connection_with_the_token_replaces_the_first() {
        let mut r = room(8, 10);
        let (a, out) = join(&mut r, 1, "Ada");
        let token = welcome_of(&out, 1).resume_token;
        join(&mut r, 3, "Bob");
        let (_, out) = r
            .join(
                JoinRequest {
                    conn: 2,
                    name: DisplayName::new("Ada").unwrap(),
                    media: MediaState::default(),
                    resume_token: Some(token),
                    role: None,
                    password: Password::None,
                    skip_waiting_room: false,
                },
                clock(),
            )
            .unwrap();
        assert!(out.contains(&Output::Close {
            conn: 1,
            code: close_code::REPLACED,
            reason: "resumed by a newer connection"
        }));
        // The old connection may have swallowed frames unnoticed (its network changed): the
        // others hear Ada is back, so they re-send what she may have missed.
        assert_eq!(
            frames_to(&out, 3),
            vec![ServerMessage::PeerStatus {
                peer_id: a.peer_id.clone(),
                status: PeerStatus::Online
            }]
        );
        // The replaced connection can no longer act for the member.
        assert!(r.handle(1, Input::Leave, clock()).is_empty());
        assert_eq!(r.peer_of(2), Some(&a.peer_id));
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn media_changes_are_announced_to_the_others() {
        let mut r = room(8, 10);
        let (a, _) = join(&mut r, 1, "Ada");
        join(&mut r, 2, "Bob");
        let media = MediaState {
            audio: false,
            video: true,
            screen: true,
        };
        let out = r.handle(1, Input::Media(media), clock());
        assert_eq!(
            out,
            vec![Output::Send {
                to: vec![2],
                msg: ServerMessage::Media {
                    peer_id: a.peer_id,
                    media
                }
            }]
        );
        let (_, out) = join(&mut r, 3, "Cy");
        assert_eq!(welcome_of(&out, 3).peers[0].media, media);
    }

    /// Each moderator action once, aimed at `target`, written as a chain through an exhaustive
    /// `match` without a wildcard: a new action does not compile until it has a place here.
    fn every_moderator_action(target: &PeerId) -> Vec<ModeratorAction> {
        let next = |action: Option<&ModeratorAction>| match action {
            None => Some(ModeratorAction::Lock(true)),
            Some(ModeratorAction::Lock(_)) => Some(ModeratorAction::Kick(target.clone())),
            Some(ModeratorAction::Kick(_)) => Some(ModeratorAction::RequestMute(target.clone())),
            Some(ModeratorAction::RequestMute(_)) => {
                Some(ModeratorAction::LowerHand(target.clone()))
            }
            Some(ModeratorAction::LowerHand(_)) => Some(ModeratorAction::WaitingRoom(true)),
            Some(ModeratorAction::WaitingRoom(_)) => Some(ModeratorAction::Admit(target.clone())),
            Some(ModeratorAction::Admit(_)) => Some(ModeratorAction::Deny(target.clone())),
            Some(ModeratorAction::Deny(_)) => Some(ModeratorAction::RecordingPolicy(true)),
            Some(ModeratorAction::RecordingPolicy(_)) => Some(ModeratorAction::EndRoom),
            Some(ModeratorAction::EndRoom) => None,
        };
        let mut all: Vec<ModeratorAction> = Vec::new();
        while let Some(action) = next(all.last()) {
            all.push(action);
        }
        all
    }

    /// A room with a moderator (conn 1), a participant (conn 2) and a viewer (conn 3).
    fn moderated_room() -> (Room, [PeerId; 3]) {
        let mut r = room(8, 10);
        let (ada, _) = join(&mut r, 1, "Ada");
        let (bob, _) = join(&mut r, 2, "Bob");
        let (vera, _) = join_as(&mut r, 3, "Vera", Role::Viewer);
        (r, [ada.peer_id, bob.peer_id, vera.peer_id])
    }

    #[test]
    fn only_moderators_may_moderate_whatever_the_action() {
        let (mut r, [ada, ..]) = moderated_room();
        let actions = every_moderator_action(&ada);
        assert_eq!(actions.len(), 9);
        r.handle(1, Input::Hand(true), clock());
        for conn in [2, 3] {
            for action in &actions {
                let before = format!("{r:?}");
                let out = r.handle(conn, Input::Moderate(action.clone()), clock());
                assert_eq!(
                    out,
                    vec![forbidden(conn, "Only a moderator may do this.")],
                    "{action:?} from conn {conn}"
                );
                assert_eq!(format!("{r:?}"), before, "{action:?} changed nothing");
            }
        }
        // From the moderator the same actions are carried out, not refused.
        for i in 0..actions.len() {
            let (mut r, [_, bob, _]) = moderated_room();
            r.handle(2, Input::Hand(true), clock());
            // Admit and deny are about someone in the waiting room.
            r.handle(
                1,
                Input::Moderate(ModeratorAction::WaitingRoom(true)),
                clock(),
            );
            let (waiter, _) = join(&mut r, 9, "Wes");
            let action = match every_moderator_action(&bob).swap_remove(i) {
                ModeratorAction::Admit(_) => ModeratorAction::Admit(waiter.peer_id),
                ModeratorAction::Deny(_) => ModeratorAction::Deny(waiter.peer_id),
                action => action,
            };
            let out = r.handle(1, Input::Moderate(action.clone()), clock());
            assert!(
                !out.is_empty()
                    && !frames_to(&out, 1)
                        .iter()
                        .any(|m| matches!(m, ServerMessage::Error { .. })),
                "{action:?} from the moderator: {out:?}"
            );
        }
    }

    fn hands_to(out: &[Output], conn: ConnId) -> Vec<Vec<PeerId>> {
        frames_to(out, conn)
            .into_iter()
            .filter_map(|msg| match msg {
                ServerMessage::Hands { raised } => Some(raised),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn raised_hands_keep_their_order_for_everyone_and_a_late_joiner() {
        let mut r = room(8, 10);
        let (a, _) = join(&mut r, 1, "Ada");
        let (b, _) = join(&mut r, 2, "Bob");
        let (c, _) = join(&mut r, 3, "Cem");
        let out = r.handle(3, Input::Hand(true), clock());
        for conn in [1, 2, 3] {
            assert_eq!(hands_to(&out, conn), vec![vec![c.peer_id.clone()]]);
        }
        let out = r.handle(1, Input::Hand(true), clock());
        assert_eq!(
            hands_to(&out, 2),
            vec![vec![c.peer_id.clone(), a.peer_id.clone()]]
        );
        // Raising a raised hand changes nothing and tells nobody.
        assert!(r.handle(1, Input::Hand(true), clock()).is_empty());
        assert!(r.handle(2, Input::Hand(false), clock()).is_empty());
        let (_, out) = join(&mut r, 4, "Dai");
        assert_eq!(
            welcome_of(&out, 4).hands,
            vec![c.peer_id.clone(), a.peer_id.clone()]
        );
        // Lowered, the hand leaves the queue; raised again, it goes to the end.
        r.handle(3, Input::Hand(false), clock());
        let out = r.handle(3, Input::Hand(true), clock());
        assert_eq!(
            hands_to(&out, 4),
            vec![vec![a.peer_id.clone(), c.peer_id.clone()]]
        );
        // A member who leaves takes its hand along (the others learn it from peer-left).
        r.handle(1, Input::Leave, clock());
        let (_, out) = join(&mut r, 5, "Eva");
        assert_eq!(welcome_of(&out, 5).hands, vec![c.peer_id.clone()]);
        assert!(!welcome_of(&out, 5).hands.contains(&b.peer_id));
    }

    #[test]
    fn only_a_moderator_lowers_someone_elses_hand() {
        let (mut r, [moderator, participant, viewer]) = moderated_room();
        // Viewers may raise their hand: asking is not sending media.
        let out = r.handle(3, Input::Hand(true), clock());
        assert_eq!(hands_to(&out, 1), vec![vec![viewer.clone()]]);
        let lower = |p: &PeerId| Input::Moderate(ModeratorAction::LowerHand(p.clone()));
        let out = r.handle(2, lower(&viewer), clock());
        assert!(
            matches!(
                &out[..],
                [Output::Send {
                    msg: ServerMessage::Error {
                        code: ErrorCode::Forbidden,
                        ..
                    },
                    ..
                }]
            ),
            "{out:?}"
        );
        let out = r.handle(1, lower(&viewer), clock());
        for conn in [1, 2, 3] {
            assert_eq!(hands_to(&out, conn), vec![Vec::<PeerId>::new()]);
        }
        // Lowering a hand that is down is no news; an unknown member is an error.
        assert!(r.handle(1, lower(&participant), clock()).is_empty());
        let out = r.handle(1, lower(&PeerId::new("nobody").unwrap()), clock());
        assert!(matches!(
            &out[..],
            [Output::Send {
                msg: ServerMessage::Error {
                    code: ErrorCode::UnknownPeer,
                    ..
                },
                ..
            }]
        ));
        let _ = moderator;
    }

    #[test]
    fn reactions_reach_everyone_and_a_flood_does_not() {
        let mut r = room(8, 10);
        let (a, _) = join(&mut r, 1, "Ada");
        join(&mut r, 2, "Bob");
        let t0 = Instant::now();
        let react = Input::React(Reaction::Clap);
        let mut shown = 0;
        let mut refused = 0;
        for i in 0..50 {
            let out = r.handle(1, react.clone(), at(t0 + Duration::from_millis(i)));
            match &out[..] {
                [Output::Send {
                    to,
                    msg: ServerMessage::Reaction { peer_id, reaction },
                }] => {
                    assert_eq!((peer_id, *reaction), (&a.peer_id, Reaction::Clap));
                    assert_eq!(to.len(), 2, "the sender sees its own reaction too");
                    shown += 1;
                }
                [Output::Send {
                    to,
                    msg:
                        ServerMessage::Error {
                            code: ErrorCode::RateLimited,
                            ..
                        },
                }] => {
                    assert_eq!(to, &vec![1]);
                    refused += 1;
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!((shown, refused), (REACTION_RATE.1 as usize, 50 - 4));
        // A second later there is room for one more.
        let out = r.handle(1, react, at(t0 + Duration::from_millis(1100)));
        assert!(matches!(
            &out[..],
            [Output::Send {
                msg: ServerMessage::Reaction { .. },
                ..
            }]
        ));
    }

    fn lobby_to(out: &[Output], conn: ConnId) -> Vec<Vec<String>> {
        frames_to(out, conn)
            .into_iter()
            .filter_map(|msg| match msg {
                ServerMessage::Lobby { waiting } => {
                    Some(waiting.iter().map(|w| w.name.to_string()).collect())
                }
                _ => None,
            })
            .collect()
    }

    fn error_code(out: &[Output], conn: ConnId) -> Option<ErrorCode> {
        frames_to(out, conn).into_iter().find_map(|msg| match msg {
            ServerMessage::Error { code, .. } => Some(code),
            _ => None,
        })
    }

    /// Ada (moderator, conn 1) and Bob (conn 2) in a room whose waiting room is on.
    fn room_with_waiting_room() -> (Room, PeerId, PeerId) {
        let mut r = room(8, 10);
        let (a, _) = join(&mut r, 1, "Ada");
        let (b, _) = join(&mut r, 2, "Bob");
        let out = r.handle(
            1,
            Input::Moderate(ModeratorAction::WaitingRoom(true)),
            clock(),
        );
        for conn in [1, 2] {
            assert_eq!(
                frames_to(&out, conn),
                vec![ServerMessage::RoomState {
                    locked: false,
                    waiting_room: true
                }]
            );
        }
        (r, a.peer_id, b.peer_id)
    }

    #[test]
    fn a_newcomer_waits_outside_receives_nothing_and_enters_when_a_moderator_admits() {
        let (mut r, _ada, _bob) = room_with_waiting_room();
        let (cem, out) = join(&mut r, 3, "Cem");
        assert!(cem.waiting && !cem.resumed);
        assert_eq!(
            frames_to(&out, 3),
            vec![ServerMessage::Waiting {
                peer_id: cem.peer_id.clone(),
                room: RoomName::new("team").unwrap(),
            }]
        );
        assert_eq!(lobby_to(&out, 1), vec![vec!["Cem".to_owned()]]);
        assert!(
            frames_to(&out, 2).is_empty(),
            "only moderators see the lobby"
        );
        assert_eq!(r.len(), 2, "a waiting person is not a member");

        // Nothing of the room reaches the waiting person, and nothing of it reaches the room.
        let out = r.handle(1, Input::Chat { text: "hi".into() }, clock());
        assert!(frames_to(&out, 3).is_empty());
        let out = r.handle(
            3,
            Input::Chat {
                text: "let me in".into(),
            },
            clock(),
        );
        assert_eq!(error_code(&out, 3), Some(ErrorCode::NotJoined));
        assert!(frames_to(&out, 1).is_empty() && frames_to(&out, 2).is_empty());
        let to_cem = Input::Signal {
            to: cem.peer_id.clone(),
            data: offer(),
        };
        let out = r.handle(1, to_cem, clock());
        assert_eq!(error_code(&out, 1), Some(ErrorCode::UnknownPeer));

        // A participant may not admit.
        let admit = Input::Moderate(ModeratorAction::Admit(cem.peer_id.clone()));
        let out = r.handle(2, admit.clone(), clock());
        assert_eq!(error_code(&out, 2), Some(ErrorCode::Forbidden));
        // The moderator does: Cem gets the welcome with the history, the others meet Cem.
        let out = r.handle(1, admit, clock());
        let welcome = welcome_of(&out, 3);
        assert_eq!(welcome.peer_id, cem.peer_id);
        assert_eq!(welcome.history.len(), 1);
        assert!(welcome.waiting_room && welcome.lobby.is_empty());
        for conn in [1, 2] {
            assert!(frames_to(&out, conn).iter().any(
                |m| matches!(m, ServerMessage::PeerJoined { peer } if peer.peer_id == cem.peer_id)
            ));
        }
        assert_eq!(lobby_to(&out, 1), vec![Vec::<String>::new()]);
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn a_denied_newcomer_is_told_and_closed_and_one_who_goes_leaves_the_lobby() {
        let (mut r, _, _) = room_with_waiting_room();
        let (dai, _) = join(&mut r, 4, "Dai");
        let (_eve, out) = join(&mut r, 5, "Eve");
        assert_eq!(
            lobby_to(&out, 1),
            vec![vec!["Dai".to_owned(), "Eve".to_owned()]]
        );
        let out = r.handle(
            1,
            Input::Moderate(ModeratorAction::Deny(dai.peer_id)),
            clock(),
        );
        assert_eq!(error_code(&out, 4), Some(ErrorCode::Denied));
        assert!(out.contains(&Output::Close {
            conn: 4,
            code: close_code::DENIED,
            reason: "not admitted"
        }));
        assert_eq!(lobby_to(&out, 1), vec![vec!["Eve".to_owned()]]);
        // Eve closes her tab.
        let out = r.handle(5, Input::Lost, clock());
        assert_eq!(lobby_to(&out, 1), vec![Vec::<String>::new()]);
        let out = r.handle(
            1,
            Input::Moderate(ModeratorAction::Admit(PeerId::new("gone").unwrap())),
            clock(),
        );
        assert_eq!(error_code(&out, 1), Some(ErrorCode::UnknownPeer));
    }

    #[test]
    fn the_next_moderator_gets_the_lobby_and_an_empty_room_turns_waiters_away() {
        let (mut r, _, bob) = room_with_waiting_room();
        join(&mut r, 6, "Fay");
        let out = r.handle(1, Input::Leave, clock());
        assert!(frames_to(&out, 2).contains(&ServerMessage::Role {
            peer_id: bob,
            role: Role::Moderator
        }));
        assert_eq!(lobby_to(&out, 2), vec![vec!["Fay".to_owned()]]);
        assert!(frames_to(&out, 6).is_empty(), "Fay still waits");
        // Bob leaves too: nobody is left to let Fay in.
        let out = r.handle(2, Input::Leave, clock());
        assert_eq!(error_code(&out, 6), Some(ErrorCode::Denied));
        assert!(r.is_empty());
    }

    #[test]
    fn moderators_and_holders_of_a_skipping_token_enter_at_once() {
        let (mut r, _, _) = room_with_waiting_room();
        let (host, _) = join_as(&mut r, 7, "Hana", Role::Moderator);
        assert!(!host.waiting);
        let (vip, out) = r
            .join(
                JoinRequest {
                    skip_waiting_room: true,
                    ..request(8, "Ivo")
                },
                clock(),
            )
            .unwrap();
        assert!(!vip.waiting);
        assert_eq!(welcome_of(&out, 8).peer_id, vip.peer_id);
        // Hana, a moderator, finds the (empty) lobby in her welcome; a late moderator would
        // find the waiting people there.
        let (_, out) = join(&mut r, 9, "Jan");
        let (_, out2) = join_as(&mut r, 10, "Kai", Role::Moderator);
        assert_eq!(lobby_to(&out, 7), vec![vec!["Jan".to_owned()]]);
        let lobby = welcome_of(&out2, 10).lobby;
        assert_eq!(lobby.len(), 1);
        assert_eq!(lobby[0].name.as_str(), "Jan");
    }

    #[test]
    fn turning_the_waiting_room_off_lets_everyone_waiting_in_as_far_as_there_is_room() {
        // A mesh-only room of 3 (on the media server the room would grow to its capacity).
        let mut r = room_with(RoomConfig {
            capacity: 3,
            sfu: SfuPolicy {
                enabled: false,
                ..SfuPolicy::default()
            },
            ..RoomConfig::default()
        });
        let moderate = |action| Input::Moderate(action);
        join(&mut r, 1, "Ada");
        r.handle(1, moderate(ModeratorAction::WaitingRoom(true)), clock());
        let (bob, _) = join(&mut r, 2, "Bob");
        let (cem, _) = join(&mut r, 3, "Cem");
        let (dai, _) = join(&mut r, 4, "Dai");
        r.handle(1, moderate(ModeratorAction::Admit(bob.peer_id)), clock());
        r.handle(1, moderate(ModeratorAction::Admit(cem.peer_id)), clock());
        // While the room is full, nobody can be admitted; the person keeps waiting.
        let out = r.handle(1, moderate(ModeratorAction::Admit(dai.peer_id)), clock());
        assert_eq!(error_code(&out, 1), Some(ErrorCode::RoomFull));
        assert!(frames_to(&out, 4).is_empty());
        // Off: whoever waits is let in, or told that the room is full.
        r.handle(3, Input::Leave, clock());
        join(&mut r, 5, "Eve");
        let out = r.handle(1, moderate(ModeratorAction::WaitingRoom(false)), clock());
        assert_eq!(welcome_of(&out, 4).peers.len(), 2);
        assert_eq!(
            error_code(&out, 5),
            Some(ErrorCode::Denied),
            "the room holds 3"
        );
        assert_eq!(r.len(), 3);
        assert_eq!(lobby_to(&out, 1), vec![Vec::<String>::new()]);
    }

    fn recording_to(out: &[Output], conn: ConnId) -> Vec<(Vec<PeerId>, bool)> {
        frames_to(out, conn)
            .into_iter()
            .filter_map(|msg| match msg {
                ServerMessage::Recording {
                    recorders,
                    everyone,
                } => Some((recorders, everyone)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn only_those_with_the_right_record_and_everyone_a_late_joiner_too_is_told() {
        let (mut r, [ada, bob, _viewer]) = moderated_room();
        // Moderators only, by default: Bob is refused and nobody hears of it.
        let out = r.handle(2, Input::Recording(true), clock());
        assert_eq!(error_code(&out, 2), Some(ErrorCode::Forbidden));
        assert!(recording_to(&out, 1).is_empty());
        let out = r.handle(1, Input::Recording(true), clock());
        for conn in [1, 2, 3] {
            assert_eq!(recording_to(&out, conn), vec![(vec![ada.clone()], false)]);
        }
        let (_, out) = join(&mut r, 4, "Dai");
        let welcome = welcome_of(&out, 4);
        assert_eq!(
            (welcome.recorders, welcome.everyone_may_record),
            (vec![ada.clone()], false)
        );
        // The moderator lets everyone record: Bob may now.
        let policy = |everyone| Input::Moderate(ModeratorAction::RecordingPolicy(everyone));
        assert_eq!(
            recording_to(&r.handle(1, policy(true), clock()), 2),
            vec![(vec![ada.clone()], true)]
        );
        let out = r.handle(2, Input::Recording(true), clock());
        assert_eq!(
            recording_to(&out, 4),
            vec![(vec![ada.clone(), bob.clone()], true)]
        );
        // Back to moderators only: Bob loses the right and is off the list; Ada records on.
        let out = r.handle(1, policy(false), clock());
        assert_eq!(recording_to(&out, 2), vec![(vec![ada.clone()], false)]);
        // A participant cannot change who may record.
        let out = r.handle(2, policy(true), clock());
        assert_eq!(error_code(&out, 2), Some(ErrorCode::Forbidden));
        // Whoever records and leaves is off the list at once, for everyone.
        let out = r.handle(1, Input::Leave, clock());
        assert_eq!(recording_to(&out, 2), vec![(vec![], false)]);
        // Stopping twice is no news.
        assert!(recording_to(&r.handle(2, Input::Recording(false), clock()), 2).is_empty());
    }

    #[test]
    fn the_same_seed_gives_the_same_peer_ids_and_tokens() {
        let run = |seed: u64| {
            let mut r = Room::new(
                RoomName::new("team").unwrap(),
                RoomConfig::default(),
                StdRng::seed_from_u64(seed),
            );
            (1..=3)
                .map(|conn| {
                    let (joined, out) = join(&mut r, conn, "P");
                    (joined.peer_id, welcome_of(&out, conn).resume_token)
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(SEED), run(SEED));
        assert_ne!(run(SEED), run(SEED + 1));
    }

    fn sdp(direction: &str) -> SignalData {
        SignalData::Description(SessionDescription::new(
            treff_shared::SdpType::Answer,
            format!("v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na={direction}\r\n"),
        ))
    }

    #[test]
    fn the_creator_is_moderator_and_later_joiners_are_participants() {
        let mut r = room(8, 10);
        let (_, out) = join(&mut r, 1, "Ada");
        assert_eq!(welcome_of(&out, 1).role, Role::Moderator);
        let (_, out) = join(&mut r, 2, "Bob");
        let w = welcome_of(&out, 2);
        assert_eq!(w.role, Role::Participant);
        assert_eq!(w.peers[0].role, Role::Moderator);
        match &frames_to(&out, 1)[..] {
            [ServerMessage::PeerJoined { peer }] => assert_eq!(peer.role, Role::Participant),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn when_the_last_moderator_leaves_the_earliest_participant_takes_over() {
        let mut r = room(8, 10);
        let (ada, _) = join(&mut r, 1, "Ada");
        let (vera, _) = join_as(&mut r, 2, "Vera", Role::Viewer);
        let (bob, _) = join(&mut r, 3, "Bob");
        let (_cy, _) = join(&mut r, 4, "Cy");
        let out = r.handle(1, Input::Leave, clock());
        // A viewer is skipped: Bob is the earliest participant.
        let promoted = ServerMessage::Role {
            peer_id: bob.peer_id.clone(),
            role: Role::Moderator,
        };
        for conn in [2, 3, 4] {
            assert_eq!(
                frames_to(&out, conn),
                vec![
                    ServerMessage::PeerLeft {
                        peer_id: ada.peer_id.clone(),
                        reason: LeaveReason::Left
                    },
                    promoted.clone()
                ],
                "conn {conn}"
            );
        }
        // Bob now has the controls.
        let out = r.handle(
            3,
            Input::Moderate(ModeratorAction::Kick(vera.peer_id)),
            clock(),
        );
        assert!(
            out.contains(&Output::Close {
                conn: 2,
                code: close_code::KICKED,
                reason: "removed by a moderator"
            }),
            "{out:?}"
        );
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn nobody_is_promoted_when_tokens_assign_the_roles() {
        let mut r = room_with(RoomConfig {
            promote_moderators: false,
            ..RoomConfig::default()
        });
        let (ada, _) = join_as(&mut r, 1, "Ada", Role::Moderator);
        join_as(&mut r, 2, "Bob", Role::Participant);
        let out = r.handle(1, Input::Leave, clock());
        assert_eq!(
            frames_to(&out, 2),
            vec![ServerMessage::PeerLeft {
                peer_id: ada.peer_id,
                reason: LeaveReason::Left
            }]
        );
        let out = r.handle(2, Input::Moderate(ModeratorAction::Lock(true)), clock());
        assert_eq!(out, vec![forbidden(2, "Only a moderator may do this.")]);
    }

    #[test]
    fn a_locked_room_refuses_new_members_but_takes_resumes() {
        let mut r = room(8, 10);
        join(&mut r, 1, "Ada");
        let (bob, out) = join(&mut r, 2, "Bob");
        let token = welcome_of(&out, 2).resume_token;
        let out = r.handle(1, Input::Moderate(ModeratorAction::Lock(true)), clock());
        assert_eq!(
            out,
            vec![Output::Send {
                to: vec![1, 2],
                msg: ServerMessage::RoomState {
                    locked: true,
                    waiting_room: false
                }
            }]
        );
        r.handle(2, Input::Lost, clock());

        let refused = r.join(request(3, "Cy"), clock()).unwrap_err();
        assert_eq!(refused, JoinError::Locked);
        assert_eq!(refused.code(), ErrorCode::RoomLocked);
        assert_eq!(r.len(), 2);

        let resume = JoinRequest {
            resume_token: Some(token),
            ..request(4, "Bob")
        };
        let (joined, out) = r.join(resume, clock()).unwrap();
        assert!(joined.resumed);
        assert_eq!(joined.peer_id, bob.peer_id);
        assert!(welcome_of(&out, 4).locked);

        // Unlocked, the room admits again.
        r.handle(1, Input::Moderate(ModeratorAction::Lock(false)), clock());
        assert!(r.join(request(5, "Cy"), clock()).is_ok());
    }

    #[test]
    fn a_kicked_member_is_removed_and_closed_and_the_others_are_told() {
        let mut r = room(8, 10);
        join(&mut r, 1, "Ada");
        let (bob, _) = join(&mut r, 2, "Bob");
        let (cy, _) = join(&mut r, 3, "Cy");
        let out = r.handle(
            1,
            Input::Moderate(ModeratorAction::Kick(bob.peer_id.clone())),
            clock(),
        );
        assert_eq!(
            out,
            vec![
                Output::one(
                    2,
                    ServerMessage::Removed {
                        reason: LeaveReason::Kicked
                    }
                ),
                Output::Close {
                    conn: 2,
                    code: close_code::KICKED,
                    reason: "removed by a moderator"
                },
                Output::Send {
                    to: vec![1, 3],
                    msg: ServerMessage::PeerLeft {
                        peer_id: bob.peer_id.clone(),
                        reason: LeaveReason::Kicked
                    }
                },
            ]
        );
        assert_eq!(r.len(), 2);
        assert!(r.peer_of(2).is_none());
        assert_eq!(r.peer_of(3), Some(&cy.peer_id));
    }

    #[test]
    fn a_moderator_cannot_kick_itself() {
        let mut r = room(8, 10);
        let (ada, _) = join(&mut r, 1, "Ada");
        join(&mut r, 2, "Bob");
        let before = format!("{r:?}");
        let out = r.handle(
            1,
            Input::Moderate(ModeratorAction::Kick(ada.peer_id)),
            clock(),
        );
        assert_eq!(
            out,
            vec![forbidden(1, "Use leave to leave the room yourself.")]
        );
        assert_eq!(format!("{r:?}"), before);
    }

    #[test]
    fn a_mute_request_reaches_only_its_target_and_names_the_moderator() {
        let mut r = room(8, 10);
        let (ada, _) = join(&mut r, 1, "Ada");
        let (bob, _) = join(&mut r, 2, "Bob");
        join(&mut r, 3, "Cy");
        let out = r.handle(
            1,
            Input::Moderate(ModeratorAction::RequestMute(bob.peer_id)),
            clock(),
        );
        assert_eq!(
            out,
            vec![Output::one(
                2,
                ServerMessage::MuteRequested { by: ada.peer_id }
            )]
        );
    }

    #[test]
    fn ending_the_room_ejects_everyone_and_empties_it() {
        let mut r = room(8, 10);
        join(&mut r, 1, "Ada");
        join(&mut r, 2, "Bob");
        join(&mut r, 3, "Cy");
        r.handle(1, Input::Chat { text: "bye".into() }, clock());
        // Cy is being resumed: she has no connection to close, but goes too.
        r.handle(3, Input::Lost, clock());
        let out = r.handle(1, Input::Moderate(ModeratorAction::EndRoom), clock());
        let mut expected = Vec::new();
        for conn in [1, 2] {
            expected.push(Output::one(
                conn,
                ServerMessage::Removed {
                    reason: LeaveReason::RoomEnded,
                },
            ));
            expected.push(Output::Close {
                conn,
                code: close_code::ROOM_ENDED,
                reason: "the room ended",
            });
        }
        assert_eq!(out, expected);
        assert!(r.is_empty());
        assert_eq!(r.poll_timeout(), None);
        // Whoever comes next finds a new room: no history, and is its moderator.
        let (_, out) = join(&mut r, 4, "Dan");
        let w = welcome_of(&out, 4);
        assert!(w.history.is_empty());
        assert_eq!(w.role, Role::Moderator);
    }

    #[test]
    fn viewers_may_receive_but_not_send() {
        let mut r = room(8, 10);
        let (ada, _) = join(&mut r, 1, "Ada");
        let (vera, _) = join_as(&mut r, 2, "Vera", Role::Viewer);
        let camera = MediaState {
            audio: false,
            video: true,
            screen: false,
        };
        let out = r.handle(2, Input::Media(camera), clock());
        assert_eq!(
            out,
            vec![forbidden(
                2,
                "Viewers receive only; they cannot send media."
            )]
        );
        for direction in ["sendrecv", "sendonly"] {
            let out = r.handle(
                2,
                Input::Signal {
                    to: ada.peer_id.clone(),
                    data: sdp(direction),
                },
                clock(),
            );
            assert_eq!(
                out,
                vec![forbidden(
                    2,
                    "Viewers receive only; a session description of theirs must not send media."
                )],
                "{direction}"
            );
        }
        let out = r.handle(
            2,
            Input::Signal {
                to: ada.peer_id.clone(),
                data: sdp("recvonly"),
            },
            clock(),
        );
        assert_eq!(
            out,
            vec![Output::one(
                1,
                ServerMessage::Signal {
                    from: vera.peer_id,
                    data: sdp("recvonly")
                }
            )]
        );
        // A participant's sending description is fine.
        let out = r.handle(
            1,
            Input::Signal {
                to: r.member_ids()[1].clone(),
                data: sdp("sendrecv"),
            },
            clock(),
        );
        assert!(frames_to(&out, 1).is_empty());
        assert_eq!(frames_to(&out, 2).len(), 1);
    }
}

#[cfg(test)]
mod mode_tests {
    use super::*;
    use rand::SeedableRng;

    const UNIX_MS: u64 = 1_700_000_000_000;

    fn room(sfu: SfuPolicy) -> Room {
        Room::new(
            RoomName::new("class").unwrap(),
            RoomConfig {
                sfu,
                ..RoomConfig::default()
            },
            StdRng::seed_from_u64(3),
        )
    }

    fn at(now: Instant) -> Clock {
        Clock {
            now,
            unix_ms: UNIX_MS,
        }
    }

    fn join(room: &mut Room, conn: ConnId, now: Instant) -> (Joined, Vec<Output>) {
        room.join(
            JoinRequest {
                conn,
                name: DisplayName::new(&format!("P{conn}")).unwrap(),
                media: MediaState::default(),
                resume_token: None,
                role: None,
                password: Password::None,
                skip_waiting_room: false,
            },
            at(now),
        )
        .unwrap()
    }

    fn modes(out: &[Output]) -> Vec<(MediaMode, u32)> {
        let mut seen = Vec::new();
        for o in out {
            if let Output::Send {
                msg: ServerMessage::Mode { mode, epoch },
                ..
            } = o
            {
                seen.push((*mode, *epoch));
            }
        }
        seen
    }

    fn media(out: &[Output]) -> Vec<MediaCommand> {
        out.iter()
            .filter_map(|o| match o {
                Output::Media(m) => Some(m.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_fourth_member_moves_the_room_to_the_media_server_before_anyone_opens_a_link_to_it() {
        let t0 = Instant::now();
        let mut r = room(SfuPolicy::default());
        for conn in 1..=3 {
            let (_, out) = join(&mut r, conn, t0);
            assert!(modes(&out).is_empty());
            assert!(media(&out).is_empty());
        }
        let (fourth, out) = join(&mut r, 4, t0);
        assert_eq!(modes(&out), vec![(MediaMode::Sfu, 1)]);
        // The others hear of the switch before they hear of the newcomer.
        let mode_at = out
            .iter()
            .position(|o| {
                matches!(
                    o,
                    Output::Send {
                        msg: ServerMessage::Mode { .. },
                        ..
                    }
                )
            })
            .unwrap();
        let joined_at = out
            .iter()
            .position(|o| {
                matches!(
                    o,
                    Output::Send {
                        msg: ServerMessage::PeerJoined { .. },
                        ..
                    }
                )
            })
            .unwrap();
        assert!(mode_at < joined_at);
        let welcome = out
            .iter()
            .find_map(|o| match o {
                Output::Send {
                    to,
                    msg: ServerMessage::Welcome(w),
                } if to == &vec![4] => Some(w.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!((welcome.mode, welcome.mode_epoch), (MediaMode::Sfu, 1));
        let commands = media(&out);
        assert_eq!(commands[0], MediaCommand::Start { epoch: 1 });
        let joins: Vec<&PeerId> = commands
            .iter()
            .filter_map(|c| match c {
                MediaCommand::Join { peer, .. } => Some(peer),
                _ => None,
            })
            .collect();
        assert_eq!(joins.len(), 4, "every member takes part: {commands:?}");
        assert!(joins.contains(&&fourth.peer_id));
        assert_eq!(r.mode(), (MediaMode::Sfu, 1));
    }

    #[test]
    fn back_to_the_mesh_only_after_five_seconds_at_two_below_the_threshold() {
        let t0 = Instant::now();
        let mut r = room(SfuPolicy::default());
        for conn in 1..=5 {
            join(&mut r, conn, t0);
        }
        assert_eq!(r.mode(), (MediaMode::Sfu, 1));
        // 5 -> 3: still above threshold - 2.
        r.handle(5, Input::Leave, at(t0));
        r.handle(4, Input::Leave, at(t0));
        assert_eq!(r.poll_timeout(), None);
        // 3 -> 2: the hysteresis clock starts.
        let t1 = t0 + Duration::from_secs(1);
        let out = r.handle(3, Input::Leave, at(t1));
        assert!(modes(&out).is_empty());
        assert_eq!(r.poll_timeout(), Some(t1 + Duration::from_secs(5)));
        assert!(modes(&r.handle_timeout(t1 + Duration::from_secs(4))).is_empty());
        // Someone comes back within the 5 s: the clock stops.
        join(&mut r, 6, t1 + Duration::from_secs(4));
        assert_eq!(r.poll_timeout(), None);
        let t2 = t1 + Duration::from_secs(6);
        r.handle(6, Input::Leave, at(t2));
        let out = r.handle_timeout(t2 + Duration::from_secs(5));
        assert_eq!(modes(&out), vec![(MediaMode::Mesh, 2)]);
        assert_eq!(media(&out), vec![MediaCommand::Stop { epoch: 1 }]);
        assert_eq!(r.mode(), (MediaMode::Mesh, 2));
        // And up again with a new epoch.
        join(&mut r, 7, t2);
        let (_, out) = join(&mut r, 8, t2);
        assert_eq!(modes(&out), vec![(MediaMode::Sfu, 3)]);
    }

    #[test]
    fn capacity_is_the_meshs_until_the_room_moves_and_the_media_servers_after() {
        let t0 = Instant::now();
        let mut r = Room::new(
            RoomName::new("big").unwrap(),
            RoomConfig {
                capacity: 3,
                sfu: SfuPolicy {
                    capacity: 5,
                    ..SfuPolicy::default()
                },
                ..RoomConfig::default()
            },
            StdRng::seed_from_u64(1),
        );
        for conn in 1..=5 {
            join(&mut r, conn, t0);
        }
        let refused = r.join(
            JoinRequest {
                conn: 6,
                name: DisplayName::new("Late").unwrap(),
                media: MediaState::default(),
                resume_token: None,
                role: None,
                password: Password::None,
                skip_waiting_room: false,
            },
            at(t0),
        );
        assert_eq!(refused.unwrap_err(), JoinError::Full(5));
    }

    #[test]
    fn with_the_media_server_off_a_room_stays_a_mesh_and_its_capacity() {
        let t0 = Instant::now();
        let mut r = room(SfuPolicy {
            enabled: false,
            ..SfuPolicy::default()
        });
        for conn in 1..=8 {
            let (_, out) = join(&mut r, conn, t0);
            assert!(modes(&out).is_empty() && media(&out).is_empty());
        }
        assert_eq!(r.mode(), (MediaMode::Mesh, 0));
        assert!(r
            .join(
                JoinRequest {
                    conn: 9,
                    name: DisplayName::new("Ninth").unwrap(),
                    media: MediaState::default(),
                    resume_token: None,
                    role: None,
                    password: Password::None,
                    skip_waiting_room: false,
                },
                at(t0),
            )
            .is_err());
    }

    #[test]
    fn media_frames_of_another_epoch_are_refused_and_current_ones_reach_the_media_server() {
        let t0 = Instant::now();
        let mut r = room(SfuPolicy::default());
        let (ada, _) = join(&mut r, 1, t0);
        let data = SignalData::Candidate(None);
        let out = r.handle(
            1,
            Input::MediaSignal {
                epoch: 1,
                link: MediaLink::Publish,
                data: data.clone(),
            },
            at(t0),
        );
        assert!(matches!(
            &out[..],
            [Output::Send {
                msg: ServerMessage::Error {
                    code: ErrorCode::InvalidMedia,
                    ..
                },
                ..
            }]
        ));
        for conn in 2..=4 {
            join(&mut r, conn, t0);
        }
        let out = r.handle(
            1,
            Input::MediaSignal {
                epoch: 1,
                link: MediaLink::Publish,
                data: data.clone(),
            },
            at(t0),
        );
        assert_eq!(
            media(&out),
            vec![MediaCommand::Signal {
                peer: ada.peer_id.clone(),
                link: MediaLink::Publish,
                data: data.clone()
            }]
        );
        // The word that ends a switch is for members, not for the media server.
        let out = r.handle(
            1,
            Input::MediaSignal {
                epoch: 1,
                link: MediaLink::Publish,
                data: SignalData::Swapped { epoch: 1 },
            },
            at(t0),
        );
        assert!(media(&out).is_empty());
        assert!(matches!(
            &out[..],
            [Output::Send {
                msg: ServerMessage::Error {
                    code: ErrorCode::InvalidMedia,
                    ..
                },
                ..
            }]
        ));
        // Nor does a member speak for the media server.
        let layers = SignalData::Layers {
            mid: "1".into(),
            active: vec!["q".into()],
        };
        let out = r.handle(
            1,
            Input::MediaSignal {
                epoch: 1,
                link: MediaLink::Publish,
                data: layers.clone(),
            },
            at(t0),
        );
        assert!(media(&out).is_empty());
        assert!(matches!(
            &out[..],
            [Output::Send {
                msg: ServerMessage::Error {
                    code: ErrorCode::InvalidMedia,
                    ..
                },
                ..
            }]
        ));
        // What the media server says reaches the member, unless it is of another epoch.
        let event = |epoch| MediaEvent::Signal {
            epoch,
            peer: ada.peer_id.clone(),
            link: MediaLink::Subscribe,
            data: data.clone(),
        };
        let out = r.from_media(event(1));
        assert!(matches!(
            &out[..],
            [Output::Send { to, msg: ServerMessage::MediaSignal { epoch: 1, .. } }] if to == &vec![1]
        ));
        assert!(r.from_media(event(0)).is_empty());
        // A member who leaves leaves the media server too.
        let out = r.handle(1, Input::Leave, at(t0));
        assert!(media(&out).contains(&MediaCommand::Leave {
            peer: ada.peer_id.clone()
        }));
    }

    #[test]
    fn a_viewer_cannot_publish_through_the_media_server() {
        let t0 = Instant::now();
        let mut r = room(SfuPolicy::default());
        for conn in 1..=3 {
            join(&mut r, conn, t0);
        }
        r.join(
            JoinRequest {
                conn: 4,
                name: DisplayName::new("Vera").unwrap(),
                media: MediaState::default(),
                resume_token: None,
                role: Some(Role::Viewer),
                password: Password::None,
                skip_waiting_room: false,
            },
            at(t0),
        )
        .unwrap();
        let sending = SignalData::Description(treff_shared::SessionDescription::new(
            treff_shared::SdpType::Offer,
            "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=sendonly\r\n",
        ));
        let out = r.handle(
            4,
            Input::MediaSignal {
                epoch: 1,
                link: MediaLink::Publish,
                data: sending,
            },
            at(t0),
        );
        assert!(matches!(
            &out[..],
            [Output::Send {
                msg: ServerMessage::Error {
                    code: ErrorCode::Forbidden,
                    ..
                },
                ..
            }]
        ));
    }
}
