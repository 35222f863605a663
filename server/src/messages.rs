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
//! | [`Shutdown`] | the shutdown task in `run`; the registry | the registry; every room | the server stops: close every member with 1012 |
//!
//! The actors hold [`Recipient`]s of these messages rather than addresses of each other, so a
//! room does not depend on the session type and the session does not depend on the room actor.

use std::net::IpAddr;

use actix::prelude::*;
use bytestring::ByteString;
use treff_shared::{DisplayName, ErrorCode, MediaState, Role, RoomName};

use crate::room::{ConnId, Input, JoinError, Joined};

/// What a room (or the server) tells one session.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub enum ToSession {
    /// A serialized frame to write to the WebSocket.
    Frame(ByteString),
    /// Close the WebSocket with this code; the session is no longer a member.
    Close {
        /// WebSocket close code.
        code: u16,
        /// Close reason.
        reason: &'static str,
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
