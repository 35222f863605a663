//! Every actix message the server's actors exchange, in one place, so that no actor module has
//! to import another to talk to it.
//!
//! | message | from | to | why |
//! |---|---|---|---|
//! | [`JoinRoom`] | session | registry | join the room of this name; answered with [`Membership`] |
//! | [`Join`] | registry, on the session's behalf | room | admit a connection |
//! | [`FromSession`] | session | room | a frame or event of a joined connection |
//! | [`ToSession`] | room | session | a frame to write, or close the connection |
//! | [`RoomStopped`] | room | registry | an empty room stopped; forget it |
//! | [`Shutdown`] | the shutdown task in `run`; the registry | the registry; every room; the node | the server stops: close every member with 1012 |
//! | [`Place`] | registry | node | in a cluster: who owns this room (taking it if nobody does) |
//! | [`Owned`] | registry | node | this node now runs a room it took |
//! | [`Visit`] | registry | node | join a room another node owns; answered with [`Membership`] |
//! | [`SaveState`] | room | node | store the room's state for the next owner |
//! | [`Disowned`] | room | node | the room stopped: give up its lease |
//! | [`Fenced`] | node | room | the lease is lost: close every member with 1012 and stop |
//! | [`Reseated`] | node | room | Redis had lost the lease and the node took it back: a new value |
//!
//! The actors hold [`Recipient`]s of these messages rather than addresses of each other, so a
//! room does not depend on the session type and the session does not depend on the room actor.

use std::borrow::Cow;
use std::net::IpAddr;

use actix::prelude::*;
use bytestring::ByteString;
use treff_shared::{DisplayName, ErrorCode, MediaState, Role, RoomName};

use crate::cluster::store::Lease;
use crate::room::{ConnId, Input, JoinError, Joined, RoomState};

/// What a room (or the server) tells one session.
#[derive(Debug, Clone, PartialEq, Message)]
#[rtype(result = "()")]
pub enum ToSession {
    /// A serialized frame to write to the WebSocket.
    Frame(ByteString),
    /// Close the WebSocket with this code; the session is no longer a member.
    Close {
        /// WebSocket close code.
        code: u16,
        /// Close reason.
        reason: Cow<'static, str>,
    },
}

/// Join the room named `room`, creating it if needed. The registry forwards `join` to the room
/// and answers with the room's reply, so a session never deals with a room that is stopping.
#[derive(Debug, Message)]
#[rtype(result = "Result<Membership, JoinRefused>")]
pub struct JoinRoom {
    /// The room's name.
    pub room: RoomName,
    /// What the room needs to admit the session.
    pub join: Join,
}

/// A session's place in a room, as the registry reports it after the room admitted the join.
#[derive(Debug)]
pub struct Membership {
    /// Where the session sends its frames and connection events from now on.
    pub room: Recipient<FromSession>,
    /// What the room said about the join.
    pub joined: Joined,
}

/// Admit a session into the room.
#[derive(Debug, Clone, Message)]
#[rtype(result = "Result<Joined, JoinRefused>")]
pub struct Join {
    /// The session's connection id.
    pub conn: ConnId,
    /// Where the room sends the session's frames.
    pub session: Recipient<ToSession>,
    /// Display name from the join frame.
    pub name: DisplayName,
    /// Initial media state from the join frame.
    pub media: MediaState,
    /// Resume token from the join frame.
    pub resume_token: Option<String>,
    /// Password from the join frame.
    pub password: Option<String>,
    /// The role a verified token grants.
    pub role: Option<Role>,
    /// The client's address (wrong password guesses are limited per address).
    pub ip: IpAddr,
    /// A token lets the session past the waiting room.
    pub skip_waiting_room: bool,
}

/// A frame or connection event from a joined session.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct FromSession {
    /// The session's connection id.
    pub conn: ConnId,
    /// What happened.
    pub input: Input,
}

/// A room actor has stopped (it was empty).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct RoomStopped {
    /// The room's name.
    pub name: RoomName,
    /// Which instance stopped; a newer room of the same name is left alone.
    pub instance: u64,
}

/// The server is shutting down: tell every member to reconnect later, admit nobody new.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Shutdown;

/// Why a join was refused, as the session reports it to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct JoinRefused {
    /// The protocol error code.
    pub code: ErrorCode,
    /// The sentence for the client.
    pub message: String,
}

impl JoinRefused {
    /// The server cannot take the join right now.
    pub fn unavailable() -> JoinRefused {
        JoinRefused {
            code: ErrorCode::Unavailable,
            message: "The server could not open the room right now; try again.".into(),
        }
    }
}

impl From<JoinError> for JoinRefused {
    fn from(err: JoinError) -> Self {
        JoinRefused {
            code: err.code(),
            message: err.to_string(),
        }
    }
}

/// In a cluster: where a room lives. The node answers from Redis, taking the room's lease if
/// nobody holds it.
#[derive(Debug, Message)]
#[rtype(result = "Result<Placement, JoinRefused>")]
pub struct Place {
    /// The room's name.
    pub room: RoomName,
}

/// Where a room lives, as [`Place`] found it.
#[derive(Debug)]
pub enum Placement {
    /// This node holds the lease: run the room here, carrying on `state` if another owner
    /// left one.
    Local {
        /// The lease this node holds.
        lease: Lease,
        /// The previous owner's state of the room.
        state: Option<RoomState>,
    },
    /// Another node owns the room.
    Remote(Lease),
}

/// The registry started the room of a lease this node took.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Owned {
    /// The room's name.
    pub room: RoomName,
    /// The lease the room runs under.
    pub lease: Lease,
    /// Where joins of members on other nodes go.
    pub join: Recipient<Join>,
    /// Where their frames go.
    pub input: Recipient<FromSession>,
    /// Where the node says the lease is lost.
    pub fence: Recipient<Fenced>,
    /// Where the node says the lease was taken back under a new value.
    pub reseat: Recipient<Reseated>,
}

/// Join a room another node owns, on the session's behalf.
#[derive(Debug, Message)]
#[rtype(result = "Result<Membership, JoinRefused>")]
pub struct Visit {
    /// The room's name.
    pub room: RoomName,
    /// The owner's lease.
    pub lease: Lease,
    /// The join.
    pub join: Join,
}

/// Store a room's state for whoever owns it next.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SaveState {
    /// The room's name.
    pub room: RoomName,
    /// The lease value the room runs under.
    pub lease: String,
    /// [`RoomState`] as JSON.
    pub state: String,
}

/// A room of this node stopped.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Disowned {
    /// The room's name.
    pub room: RoomName,
    /// The lease value it ran under.
    pub lease: String,
    /// It stopped because it was empty: forget its state too.
    pub empty: bool,
}

/// The node can no longer prove it owns the room: close every member with 1012 (they resume
/// wherever the room is next) and stop.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Fenced;

/// Redis had lost the room's lease (it restarted without its data) and the node took it back
/// with a new epoch: the room saves its state under the new value from now on.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Reseated {
    /// The new lease value.
    pub lease: String,
}
