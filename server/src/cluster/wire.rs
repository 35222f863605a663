//! What nodes tell each other through Redis: one [`Envelope`] per message, JSON, published on
//! the addressee's channel.
//!
//! This is not the client protocol (that is `treff-shared`); it carries a room's inputs from the
//! node a member is connected to (its *edge*) to the node that owns the room, and the room's
//! frames back, already serialized for the client.

use std::borrow::Cow;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use treff_shared::{DisplayName, ErrorCode, MediaState, Role, RoomName};

use crate::messages::{Join, JoinRefused};
use crate::room::{ConnId, Input, Joined};

/// One message from one node to another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// The sending node.
    pub from: String,
    /// The sender's run: a restarted node numbers from 1 again.
    pub run: u64,
    /// 1, 2, 3, … per (sender run, addressee): a gap means a message was lost.
    pub seq: u64,
    /// What it says.
    pub body: Body,
}

impl Envelope {
    /// The JSON published on the addressee's channel.
    pub fn encode(&self) -> String {
        // unwrap: every field serializes (no maps with non-string keys, no non-finite floats).
        serde_json::to_string(self).unwrap()
    }

    /// Reads a published message; `None` for anything that is not one.
    pub fn decode(text: &str) -> Option<Envelope> {
        serde_json::from_str(text).ok()
    }
}

/// The messages between nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Body {
    /// Edge to owner: admit this connection into `room` (owned at `epoch`).
    Join {
        /// Answered by [`Body::Joined`] with the same number.
        req: u64,
        /// The room's name.
        room: RoomName,
        /// The owner's epoch as the edge found it in Redis.
        epoch: u64,
        /// The join.
        join: RemoteJoin,
    },
    /// Owner to edge: the room's answer to [`Body::Join`].
    Joined {
        /// The request's number.
        req: u64,
        /// The answer.
        answer: Result<Joined, Refusal>,
    },
    /// Edge to owner: a frame or connection event of a member connected to the edge.
    Input {
        /// The room's name.
        room: RoomName,
        /// The owner's epoch the member joined at.
        epoch: u64,
        /// The member's connection.
        conn: ConnId,
        /// What happened.
        input: Input,
    },
    /// Owner to edge: a frame for connections of the edge.
    Frame {
        /// The connections to write it to.
        conns: Vec<ConnId>,
        /// The serialized server frame.
        frame: String,
    },
    /// Owner to edge: close a connection; it is no longer a member.
    Close {
        /// The connection.
        conn: ConnId,
        /// WebSocket close code.
        code: u16,
        /// Close reason.
        reason: Cow<'static, str>,
    },
    /// Owner to edge: these connections belong to a room (or an epoch of it) the sender does
    /// not own: close them so their clients resume wherever the room is now.
    NotOwner {
        /// The connections.
        conns: Vec<ConnId>,
    },
    /// Edge to owner: these connections are not (or no longer) here; the room holds their
    /// members for the resume grace.
    Gone {
        /// The connections.
        conns: Vec<ConnId>,
    },
    /// "I missed messages from you": close every connection you joined to rooms I own, so their
    /// clients resume and get a fresh welcome.
    Resync,
}

/// A [`Join`] without the session's mailbox, which stays on the edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteJoin {
    /// The connection id (unique in the cluster: each node draws its own range).
    pub conn: ConnId,
    /// Display name.
    pub name: DisplayName,
    /// Initial media state.
    pub media: MediaState,
    /// Resume token.
    pub resume_token: Option<String>,
    /// Room password.
    pub password: Option<String>,
    /// The role a verified token grants.
    pub role: Option<Role>,
    /// The client's address.
    pub ip: IpAddr,
    /// A token lets the session past the waiting room.
    pub skip_waiting_room: bool,
}

impl From<&Join> for RemoteJoin {
    fn from(join: &Join) -> Self {
        RemoteJoin {
            conn: join.conn,
            name: join.name.clone(),
            media: join.media,
            resume_token: join.resume_token.clone(),
            password: join.password.clone(),
            role: join.role,
            ip: join.ip,
            skip_waiting_room: join.skip_waiting_room,
        }
    }
}

/// A [`JoinRefused`] on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refusal {
    /// The protocol error code.
    pub code: ErrorCode,
    /// The sentence for the client.
    pub message: String,
}

impl From<JoinRefused> for Refusal {
    fn from(refused: JoinRefused) -> Self {
        Refusal {
            code: refused.code,
            message: refused.message,
        }
    }
}

impl From<Refusal> for JoinRefused {
    fn from(refusal: Refusal) -> Self {
        JoinRefused {
            code: refusal.code,
            message: refusal.message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use treff_shared::{PeerId, SignalData};

    #[test]
    fn an_envelope_reads_back_as_written() {
        let envelopes = [
            Body::Input {
                room: RoomName::new("team").unwrap(),
                epoch: 3,
                conn: 7 << 40,
                input: Input::Signal {
                    to: PeerId::new("p-1").unwrap(),
                    data: SignalData::Swapped { epoch: 2 },
                },
            },
            Body::Joined {
                req: 9,
                answer: Err(Refusal {
                    code: ErrorCode::RoomFull,
                    message: "full".into(),
                }),
            },
            Body::Close {
                conn: 1,
                code: 1012,
                reason: "server restarting".into(),
            },
            Body::Resync,
        ];
        for body in envelopes {
            let envelope = Envelope {
                from: "node-a:8000".into(),
                run: 42,
                seq: 1,
                body,
            };
            assert_eq!(Envelope::decode(&envelope.encode()), Some(envelope));
        }
    }

    #[test]
    fn anything_else_on_the_channel_is_ignored() {
        assert_eq!(Envelope::decode("hello"), None);
        assert_eq!(
            Envelope::decode(r#"{"from":"a","run":1,"seq":1,"body":{"t":"nope"}}"#),
            None
        );
    }
}
