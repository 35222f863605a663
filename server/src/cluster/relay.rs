//! The rules of relaying between nodes (sans-IO): which rooms this node owns, which of its
//! connections are in rooms elsewhere, and what every message between nodes means for them.
//!
//! A member whose WebSocket is on one node (its *edge*) and whose room is on another (the
//! *owner*) is a **visitor** on the edge and a **guest** on the owner. [`Relay`] keeps both
//! tables and answers every event with [`Effect`]s for the node actor to carry out; it holds
//! the actor's handles of rooms (`R`) and sessions (`S`) without looking into them, so the
//! tests below use plain numbers.
//!
//! Whenever a node cannot be sure it has every message (a gap in a sender's numbers, its own
//! subscription broke, a sender restarted, an owner's lease changed hands), the connections
//! concerned are closed with 1012: their clients resume by their tokens and get a fresh
//! `welcome`, which is the resync.

use std::collections::{HashMap, HashSet};

use treff_shared::{close_code, ErrorCode, RoomName};

use super::link::{Arrival, Incoming, Outgoing};
use super::store::Lease;
use super::wire::{Body, Envelope, RemoteJoin};
use crate::messages::{JoinRefused, ToSession};
use crate::room::{ConnId, Input, Joined};

/// What the node actor does for the relay.
#[derive(Debug, PartialEq)]
pub enum Effect<R, S> {
    /// Publish `envelope` on node `to`'s channel.
    Publish {
        /// The addressee.
        to: String,
        /// The numbered message.
        envelope: Envelope,
    },
    /// Hand a guest's frame or connection event to its room.
    Input {
        /// The room.
        room: R,
        /// The guest's connection.
        conn: ConnId,
        /// What happened.
        input: Input,
    },
    /// Write to, or close, a local session.
    Session {
        /// The session.
        session: S,
        /// What to do.
        msg: ToSession,
    },
    /// Answer the local join waiting as `req` (a visitor's).
    Answer {
        /// The request's number.
        req: u64,
        /// The owner's answer.
        answer: Result<Joined, JoinRefused>,
    },
    /// Ask `room` to admit a guest, then report with [`Relay::admitted`].
    Admit {
        /// The room.
        room: R,
        /// The guest's edge.
        edge: String,
        /// The edge's request number.
        req: u64,
        /// The join.
        join: RemoteJoin,
    },
    /// Call [`Relay::starting_over`] for `room` a moment from now: a guest's join waits for
    /// the room this node is still starting.
    WaitForRoom(RoomName),
    /// This node no longer owns the room: it must close its members and stop.
    Fence(R),
    /// Redis had lost the room's lease and this node took it back as `lease`.
    Reseat {
        /// The room.
        room: R,
        /// The new lease value.
        lease: String,
    },
    /// `connections` members were asked to resume, for `reason`.
    Resynced {
        /// How many.
        connections: usize,
        /// Why.
        reason: &'static str,
    },
}

struct Guest<R> {
    edge: String,
    room: RoomName,
    handle: R,
}

struct Visitor<S> {
    room: RoomName,
    lease: Lease,
    session: S,
    /// The local join still waiting for the owner's answer.
    req: Option<u64>,
}

/// The routing tables of one node (see the module docs).
pub struct Relay<R, S> {
    me: String,
    run: u64,
    out: Outgoing,
    incoming: Incoming,
    owned: HashMap<RoomName, (Lease, R)>,
    guests: HashMap<ConnId, Guest<R>>,
    visitors: HashMap<ConnId, Visitor<S>>,
    deferred: HashMap<RoomName, Vec<(String, u64, u64, RemoteJoin)>>,
    next_req: u64,
}

/// The refusal of a join for a room that is not (or no longer) where it was looked up.
fn moved() -> JoinRefused {
    JoinRefused {
        code: ErrorCode::Unavailable,
        message: "The room just moved to another server; try again.".into(),
    }
}

fn resume(reason: &'static str) -> ToSession {
    ToSession::Close {
        code: close_code::SERVER_RESTART,
        reason: reason.into(),
    }
}

impl<R: Clone, S: Clone> Relay<R, S> {
    /// The tables of node `me` in its run `run`.
    pub fn new(me: String, run: u64) -> Relay<R, S> {
        Relay {
            me,
            run,
            out: Outgoing::default(),
            incoming: Incoming::default(),
            owned: HashMap::new(),
            guests: HashMap::new(),
            visitors: HashMap::new(),
            deferred: HashMap::new(),
            next_req: 1,
        }
    }

    fn send(&mut self, to: &str, body: Body, out: &mut Vec<Effect<R, S>>) {
        let envelope = Envelope {
            from: self.me.clone(),
            run: self.run,
            seq: self.out.stamp(to),
            body,
        };
        out.push(Effect::Publish {
            to: to.to_owned(),
            envelope,
        });
    }

    /// The rooms this node owns, with their lease values.
    pub fn leases(&self) -> Vec<(RoomName, String)> {
        self.owned
            .iter()
            .map(|(name, (lease, _))| (name.clone(), lease.value.clone()))
            .collect()
    }

    /// How many rooms this node owns.
    pub fn rooms_owned(&self) -> usize {
        self.owned.len()
    }

    /// The rooms this node's visitors are in.
    pub fn visited_rooms(&self) -> Vec<RoomName> {
        let rooms: HashSet<&RoomName> = self.visitors.values().map(|v| &v.room).collect();
        rooms.into_iter().cloned().collect()
    }

    /// The nodes this node's guests are connected to.
    pub fn edges(&self) -> Vec<String> {
        let edges: HashSet<&String> = self.guests.values().map(|g| &g.edge).collect();
        edges.into_iter().cloned().collect()
    }

    // ---- as the owner ----

    /// The registry started `room` under `lease`; `handle` reaches it.
    pub fn owned(&mut self, room: RoomName, lease: Lease, handle: R) -> Vec<Effect<R, S>> {
        self.owned.insert(room.clone(), (lease, handle));
        self.starting_over(room)
    }

    /// `room` stopped under `lease`.
    pub fn disowned(&mut self, room: &RoomName, lease: &str) {
        if self.owned.get(room).is_some_and(|(l, _)| l.value == lease) {
            self.owned.remove(room);
        }
    }

    /// Every lease, given up at once (the node shuts down).
    pub fn give_up_all(&mut self) -> Vec<(RoomName, String)> {
        self.owned
            .drain()
            .map(|(name, (lease, _))| (name, lease.value))
            .collect()
    }

    /// The joins that waited for `room` to start: admitted if it runs now, refused otherwise
    /// (the client tries again).
    pub fn starting_over(&mut self, room: RoomName) -> Vec<Effect<R, S>> {
        let mut out = Vec::new();
        for (edge, req, epoch, join) in self.deferred.remove(&room).unwrap_or_default() {
            if self.owned.contains_key(&room) {
                out.extend(self.guest_joins(edge, req, room.clone(), epoch, join));
            } else {
                let answer = Err(moved().into());
                self.send(&edge, Body::Joined { req, answer }, &mut out);
            }
        }
        out
    }

    fn guest_joins(
        &mut self,
        edge: String,
        req: u64,
        room: RoomName,
        epoch: u64,
        join: RemoteJoin,
    ) -> Vec<Effect<R, S>> {
        let mut out = Vec::new();
        match self.owned.get(&room) {
            Some((lease, handle)) if lease.epoch == epoch => {
                // The guest is known before the room answers: frames it sends right after its
                // welcome must not be refused.
                let handle = handle.clone();
                self.guests.insert(
                    join.conn,
                    Guest {
                        edge: edge.clone(),
                        room,
                        handle: handle.clone(),
                    },
                );
                out.push(Effect::Admit {
                    room: handle,
                    edge,
                    req,
                    join,
                });
            }
            Some(_) => {
                let answer = Err(moved().into());
                self.send(&edge, Body::Joined { req, answer }, &mut out);
            }
            None => {
                // The edge found this node's lease in Redis: the room may be starting here.
                let waiting = self.deferred.entry(room.clone()).or_default();
                if waiting.is_empty() {
                    out.push(Effect::WaitForRoom(room));
                }
                waiting.push((edge, req, epoch, join));
            }
        }
        out
    }

    /// The room answered a guest's join.
    pub fn admitted(
        &mut self,
        edge: &str,
        req: u64,
        conn: ConnId,
        answer: Result<Joined, JoinRefused>,
    ) -> Vec<Effect<R, S>> {
        if answer.is_err() {
            self.guests.remove(&conn);
        }
        let mut out = Vec::new();
        let answer = answer.map_err(Into::into);
        self.send(edge, Body::Joined { req, answer }, &mut out);
        out
    }

    /// A room of this node sends `body` (a frame or a close) to a guest on `edge`.
    pub fn to_guest(&mut self, edge: &str, body: Body) -> Vec<Effect<R, S>> {
        if let Body::Close { conn, .. } = &body {
            self.guests.remove(conn);
        }
        let mut out = Vec::new();
        self.send(edge, body, &mut out);
        out
    }

    fn guest_lost(&mut self, conn: ConnId, out: &mut Vec<Effect<R, S>>) {
        if let Some(guest) = self.guests.remove(&conn) {
            out.push(Effect::Input {
                room: guest.handle,
                conn,
                input: Input::Lost,
            });
        }
    }

    /// Guests connected to `edge` are gone (it restarted or stopped saying it is alive): their
    /// rooms hold them for their resume grace.
    pub fn edge_gone(&mut self, edge: &str) -> Vec<Effect<R, S>> {
        let gone: Vec<ConnId> = self
            .guests
            .iter()
            .filter(|(_, g)| g.edge == edge)
            .map(|(conn, _)| *conn)
            .collect();
        let mut out = Vec::new();
        for conn in gone {
            self.guest_lost(conn, &mut out);
        }
        out
    }

    /// What the lease renewals found: for each (room, lease value renewed) the value now, or
    /// `None` where another node holds it.
    pub fn renewed(
        &mut self,
        results: Vec<(RoomName, String, Option<String>)>,
    ) -> Vec<Effect<R, S>> {
        let mut out = Vec::new();
        for (room, was, now) in results {
            let Some((lease, handle)) = self.owned.get_mut(&room) else {
                continue;
            };
            if lease.value != was {
                continue;
            }
            match now.as_deref().map(|v| (v, Lease::parse(v))) {
                None => {
                    let (_, handle) = self.owned.remove(&room).expect("looked up above");
                    out.push(Effect::Fence(handle));
                }
                Some((v, Some(new))) if v != was => {
                    *lease = new;
                    out.push(Effect::Reseat {
                        room: handle.clone(),
                        lease: v.to_owned(),
                    });
                }
                Some(_) => {}
            }
        }
        out
    }

    /// This node cannot prove it owns any room: stop them all.
    pub fn fence_all(&mut self) -> Vec<Effect<R, S>> {
        self.owned
            .drain()
            .map(|(_, (_, handle))| Effect::Fence(handle))
            .collect()
    }

    // ---- as the edge ----

    /// A local connection joins `room`, which `lease` says another node owns. Returns the
    /// request number the answer will come as.
    pub fn visit(
        &mut self,
        room: RoomName,
        lease: Lease,
        session: S,
        join: RemoteJoin,
    ) -> (u64, Vec<Effect<R, S>>) {
        let req = self.next_req;
        self.next_req += 1;
        let owner = lease.node.clone();
        let epoch = lease.epoch;
        self.visitors.insert(
            join.conn,
            Visitor {
                room: room.clone(),
                lease,
                session,
                req: Some(req),
            },
        );
        let mut out = Vec::new();
        self.send(
            &owner,
            Body::Join {
                req,
                room,
                epoch,
                join,
            },
            &mut out,
        );
        (req, out)
    }

    /// The owner did not answer the visit `req` of `conn` in time: the client tries again.
    pub fn visit_timed_out(&mut self, req: u64, conn: ConnId) -> Vec<Effect<R, S>> {
        let mut out = Vec::new();
        if self.visitors.get(&conn).is_some_and(|v| v.req == Some(req)) {
            let visitor = self.visitors.remove(&conn).expect("looked up above");
            // The owner may still admit it after all: it is not here.
            self.send(
                &visitor.lease.node,
                Body::Gone { conns: vec![conn] },
                &mut out,
            );
        }
        out
    }

    /// A visitor's frame or connection event, for its room's owner.
    pub fn from_visitor(&mut self, conn: ConnId, input: Input) -> Vec<Effect<R, S>> {
        let mut out = Vec::new();
        let Some(visitor) = self.visitors.get(&conn) else {
            return out;
        };
        let (owner, room, epoch) = (
            visitor.lease.node.clone(),
            visitor.room.clone(),
            visitor.lease.epoch,
        );
        if matches!(input, Input::Leave | Input::Lost) {
            self.visitors.remove(&conn);
        }
        self.send(
            &owner,
            Body::Input {
                room,
                epoch,
                conn,
                input,
            },
            &mut out,
        );
        out
    }

    /// Asks the visitors of rooms `owner` owns (every visitor when `None`) to resume.
    fn drop_visitors(
        &mut self,
        owner: Option<&str>,
        reason: &'static str,
        out: &mut Vec<Effect<R, S>>,
    ) {
        let gone: Vec<ConnId> = self
            .visitors
            .iter()
            .filter(|(_, v)| owner.is_none_or(|o| v.lease.node == o))
            .map(|(conn, _)| *conn)
            .collect();
        self.close_visitors(gone, reason, out);
    }

    fn close_visitors(
        &mut self,
        conns: Vec<ConnId>,
        reason: &'static str,
        out: &mut Vec<Effect<R, S>>,
    ) {
        let mut closed = 0;
        for conn in conns {
            if let Some(visitor) = self.visitors.remove(&conn) {
                closed += 1;
                if let Some(req) = visitor.req {
                    // Still joining: the join is refused, and the client tries again.
                    out.push(Effect::Answer {
                        req,
                        answer: Err(moved()),
                    });
                } else {
                    out.push(Effect::Session {
                        session: visitor.session,
                        msg: resume(reason),
                    });
                }
            }
        }
        if closed > 0 {
            out.push(Effect::Resynced {
                connections: closed,
                reason,
            });
        }
    }

    /// Redis says `room` is owned as `owner` now: visitors who joined under another lease
    /// resume.
    pub fn owner_seen(&mut self, room: &RoomName, owner: Option<&str>) -> Vec<Effect<R, S>> {
        let moved: Vec<ConnId> = self
            .visitors
            .iter()
            .filter(|(_, v)| &v.room == room && owner != Some(v.lease.value.as_str()))
            .map(|(conn, _)| *conn)
            .collect();
        let mut out = Vec::new();
        self.close_visitors(moved, "the room moved to another server", &mut out);
        out
    }

    /// This node's subscription broke and is back: whatever was published to it meanwhile is
    /// lost. Its visitors resume, and every node with guests here is told to resume its own.
    pub fn resubscribed(&mut self) -> Vec<Effect<R, S>> {
        self.incoming.forget_all();
        let mut out = Vec::new();
        self.drop_visitors(None, "messages were lost between servers", &mut out);
        for edge in self.edges() {
            self.send(&edge, Body::Resync, &mut out);
        }
        out
    }

    // ---- messages from other nodes ----

    /// A message from another node.
    pub fn inbound(&mut self, envelope: Envelope) -> Vec<Effect<R, S>> {
        let mut out = Vec::new();
        let Envelope {
            from,
            run,
            seq,
            body,
        } = envelope;
        match self.incoming.arrive(&from, run, seq) {
            Arrival::InOrder => {}
            Arrival::Stale => return out,
            Arrival::NewRun => {
                self.drop_visitors(Some(&from), "the room's server restarted", &mut out);
                out.extend(self.edge_gone(&from));
            }
            Arrival::Gap { .. } => {
                self.drop_visitors(Some(&from), "messages were lost between servers", &mut out);
                self.send(&from, Body::Resync, &mut out);
            }
        }
        match body {
            Body::Join {
                req,
                room,
                epoch,
                join,
            } => out.extend(self.guest_joins(from, req, room, epoch, join)),
            Body::Joined { req, answer } => {
                let conn = self
                    .visitors
                    .iter()
                    .find(|(_, v)| v.req == Some(req) && v.lease.node == from)
                    .map(|(conn, _)| *conn);
                if let Some(conn) = conn {
                    let answer = answer.map_err(JoinRefused::from);
                    let visitor = self.visitors.get_mut(&conn).expect("found above");
                    visitor.req = None;
                    if answer.is_err() {
                        self.visitors.remove(&conn);
                    }
                    out.push(Effect::Answer { req, answer });
                }
            }
            Body::Input {
                room,
                epoch,
                conn,
                input,
            } => {
                let current = self.owned.get(&room).is_some_and(|(l, _)| l.epoch == epoch);
                match self.guests.get(&conn) {
                    Some(guest) if current && guest.edge == from && guest.room == room => {
                        let ends = matches!(input, Input::Leave | Input::Lost);
                        out.push(Effect::Input {
                            room: guest.handle.clone(),
                            conn,
                            input,
                        });
                        if ends {
                            self.guests.remove(&conn);
                        }
                    }
                    _ => self.send(&from, Body::NotOwner { conns: vec![conn] }, &mut out),
                }
            }
            Body::Frame { conns, frame } => {
                let frame = bytestring::ByteString::from(frame);
                let mut unknown = Vec::new();
                for conn in conns {
                    match self.visitors.get(&conn) {
                        Some(v) if v.lease.node == from => out.push(Effect::Session {
                            session: v.session.clone(),
                            msg: ToSession::Frame(frame.clone()),
                        }),
                        _ => unknown.push(conn),
                    }
                }
                if !unknown.is_empty() {
                    self.send(&from, Body::Gone { conns: unknown }, &mut out);
                }
            }
            Body::Close { conn, code, reason } => {
                if self
                    .visitors
                    .get(&conn)
                    .is_some_and(|v| v.lease.node == from)
                {
                    let visitor = self.visitors.remove(&conn).expect("looked up above");
                    out.push(Effect::Session {
                        session: visitor.session,
                        msg: ToSession::Close { code, reason },
                    });
                }
            }
            Body::NotOwner { conns } => {
                let ours = conns
                    .into_iter()
                    .filter(|c| self.visitors.get(c).is_some_and(|v| v.lease.node == from))
                    .collect();
                self.close_visitors(ours, "the room moved to another server", &mut out);
            }
            Body::Gone { conns } => {
                for conn in conns {
                    if self.guests.get(&conn).is_some_and(|g| g.edge == from) {
                        self.guest_lost(conn, &mut out);
                    }
                }
            }
            Body::Resync => {
                self.drop_visitors(Some(&from), "messages were lost between servers", &mut out)
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use treff_shared::{DisplayName, MediaState, PeerId};

    type TestRelay = Relay<&'static str, u32>;
    type Effects = Vec<Effect<&'static str, u32>>;

    fn room(name: &str) -> RoomName {
        RoomName::new(name).unwrap()
    }

    fn lease(epoch: u64, node: &str) -> Lease {
        Lease::parse(&format!("{epoch} 1 {node}")).unwrap()
    }

    fn join(conn: ConnId) -> RemoteJoin {
        RemoteJoin {
            conn,
            name: DisplayName::new("Bob").unwrap(),
            media: MediaState::default(),
            resume_token: None,
            password: None,
            role: None,
            ip: [127, 0, 0, 1].into(),
            skip_waiting_room: false,
        }
    }

    fn joined() -> Joined {
        Joined {
            peer_id: PeerId::new("bob").unwrap(),
            resumed: false,
            waiting: false,
        }
    }

    /// The bodies published, with their addressees.
    fn published(out: &Effects) -> Vec<(String, Body)> {
        out.iter()
            .filter_map(|e| match e {
                Effect::Publish { to, envelope } => Some((to.clone(), envelope.body.clone())),
                _ => None,
            })
            .collect()
    }

    /// The envelope `from` would send with its next number.
    fn from(node: &str, seq: u64, body: Body) -> Envelope {
        Envelope {
            from: node.into(),
            run: 9,
            seq,
            body,
        }
    }

    fn closes(out: &Effects) -> Vec<u32> {
        out.iter()
            .filter_map(|e| match e {
                Effect::Session {
                    session,
                    msg: ToSession::Close { code, .. },
                } if *code == close_code::SERVER_RESTART => Some(*session),
                _ => None,
            })
            .collect()
    }

    /// Owner "a" with room "team" at epoch 3 and guest 7 from edge "b".
    fn owner_with_guest() -> TestRelay {
        let mut a = TestRelay::new("a".into(), 1);
        a.owned(room("team"), lease(3, "a"), "team-room");
        let out = a.inbound(from(
            "b",
            1,
            Body::Join {
                req: 1,
                room: room("team"),
                epoch: 3,
                join: join(7),
            },
        ));
        assert!(
            matches!(
                out[0],
                Effect::Admit {
                    room: "team-room",
                    req: 1,
                    ..
                }
            ),
            "{out:?}"
        );
        a.admitted("b", 1, 7, Ok(joined()));
        a
    }

    #[test]
    fn a_guest_is_admitted_and_its_frames_reach_its_room() {
        let mut a = owner_with_guest();
        let out = a.inbound(from(
            "b",
            2,
            Body::Input {
                room: room("team"),
                epoch: 3,
                conn: 7,
                input: Input::Chat { text: "hi".into() },
            },
        ));
        assert_eq!(
            out,
            vec![Effect::Input {
                room: "team-room",
                conn: 7,
                input: Input::Chat { text: "hi".into() }
            }]
        );
        assert_eq!(a.edges(), vec!["b".to_owned()]);
    }

    #[test]
    fn a_frame_of_an_older_epoch_is_refused() {
        let mut a = owner_with_guest();
        let out = a.inbound(from(
            "b",
            2,
            Body::Input {
                room: room("team"),
                epoch: 2,
                conn: 7,
                input: Input::Leave,
            },
        ));
        assert_eq!(
            published(&out),
            vec![("b".into(), Body::NotOwner { conns: vec![7] })]
        );
        // Nor from a node the guest is not on.
        let out = a.inbound(from(
            "c",
            1,
            Body::Input {
                room: room("team"),
                epoch: 3,
                conn: 7,
                input: Input::Leave,
            },
        ));
        assert_eq!(
            published(&out),
            vec![("c".into(), Body::NotOwner { conns: vec![7] })]
        );
    }

    #[test]
    fn a_join_for_a_room_still_starting_waits_for_it() {
        let mut a = TestRelay::new("a".into(), 1);
        let out = a.inbound(from(
            "b",
            1,
            Body::Join {
                req: 4,
                room: room("team"),
                epoch: 1,
                join: join(7),
            },
        ));
        assert_eq!(out, vec![Effect::WaitForRoom(room("team"))]);
        let out = a.owned(room("team"), lease(1, "a"), "team-room");
        assert!(matches!(out[0], Effect::Admit { req: 4, .. }), "{out:?}");
        // One that waited in vain is refused: the client tries again.
        let out = a.inbound(from(
            "b",
            2,
            Body::Join {
                req: 5,
                room: room("other"),
                epoch: 1,
                join: join(8),
            },
        ));
        assert_eq!(out, vec![Effect::WaitForRoom(room("other"))]);
        let out = a.starting_over(room("other"));
        match &published(&out)[..] {
            [(
                to,
                Body::Joined {
                    req: 5,
                    answer: Err(refusal),
                },
            )] => {
                assert_eq!(to, "b");
                assert_eq!(refusal.code, ErrorCode::Unavailable);
            }
            other => panic!("{other:?}"),
        }
    }

    /// Edge "b" with visitor 7 (session 70) in "team", owned by "a" at epoch 3.
    fn edge_with_visitor() -> TestRelay {
        let mut b = TestRelay::new("b".into(), 1);
        let (req, out) = b.visit(room("team"), lease(3, "a"), 70, join(7));
        assert!(matches!(&published(&out)[..], [(to, Body::Join { epoch: 3, .. })] if to == "a"));
        let out = b.inbound(from(
            "a",
            1,
            Body::Joined {
                req,
                answer: Ok(joined()),
            },
        ));
        assert_eq!(
            out,
            vec![Effect::Answer {
                req,
                answer: Ok(joined())
            }]
        );
        b
    }

    #[test]
    fn the_owners_frames_reach_the_visitor_and_its_frames_the_owner() {
        let mut b = edge_with_visitor();
        let out = b.inbound(from(
            "a",
            2,
            Body::Frame {
                conns: vec![7, 8],
                frame: "{}".into(),
            },
        ));
        assert_eq!(
            out[0],
            Effect::Session {
                session: 70,
                msg: ToSession::Frame("{}".into())
            }
        );
        // 8 is not here: the owner hears so, and holds that member for its grace.
        assert_eq!(
            published(&out),
            vec![("a".into(), Body::Gone { conns: vec![8] })]
        );
        let out = b.from_visitor(7, Input::Leave);
        assert!(
            matches!(&published(&out)[..], [(to, Body::Input { epoch: 3, input: Input::Leave, .. })] if to == "a")
        );
        assert!(
            b.from_visitor(7, Input::Leave).is_empty(),
            "gone after leaving"
        );
    }

    #[test]
    fn a_gap_in_the_owners_numbers_makes_its_visitors_resume_and_both_sides_resync() {
        let mut b = edge_with_visitor();
        let out = b.inbound(from(
            "a",
            5,
            Body::Frame {
                conns: vec![],
                frame: "{}".into(),
            },
        ));
        assert_eq!(closes(&out), vec![70]);
        assert!(published(&out).contains(&("a".into(), Body::Resync)));
        assert!(b.visited_rooms().is_empty());
    }

    #[test]
    fn a_restarted_node_drops_what_was_held_for_its_previous_run() {
        let mut a = owner_with_guest();
        let out = a.inbound(Envelope {
            from: "b".into(),
            run: 10,
            seq: 1,
            body: Body::Resync,
        });
        assert!(out.contains(&Effect::Input {
            room: "team-room",
            conn: 7,
            input: Input::Lost
        }));
        assert!(a.edges().is_empty());
    }

    #[test]
    fn visitors_resume_when_the_owner_changes_or_the_subscription_broke() {
        let mut b = edge_with_visitor();
        assert!(b.owner_seen(&room("team"), Some("3 1 a")).is_empty());
        assert_eq!(closes(&b.owner_seen(&room("team"), None)), vec![70]);
        let mut b = edge_with_visitor();
        assert_eq!(
            closes(&b.owner_seen(&room("team"), Some("4 1 c"))),
            vec![70]
        );
        let mut b = edge_with_visitor();
        let out = b.resubscribed();
        assert_eq!(closes(&out), vec![70]);
        let mut a = owner_with_guest();
        assert_eq!(
            published(&a.resubscribed()),
            vec![("b".into(), Body::Resync)]
        );
    }

    #[test]
    fn a_lease_another_node_holds_fences_the_room_and_one_redis_lost_reseats_it() {
        let mut a = TestRelay::new("a".into(), 1);
        a.owned(room("team"), lease(3, "a"), "team-room");
        a.owned(room("club"), lease(1, "a"), "club-room");
        let out = a.renewed(vec![
            (room("team"), "3 1 a".into(), None),
            (room("club"), "1 1 a".into(), Some("1 1 a".into())),
        ]);
        assert_eq!(out, vec![Effect::Fence("team-room")]);
        let out = a.renewed(vec![(room("club"), "1 1 a".into(), Some("2 1 a".into()))]);
        assert_eq!(
            out,
            vec![Effect::Reseat {
                room: "club-room",
                lease: "2 1 a".into()
            }]
        );
        assert_eq!(a.leases(), vec![(room("club"), "2 1 a".to_owned())]);
        assert_eq!(a.fence_all(), vec![Effect::Fence("club-room")]);
        assert_eq!(a.rooms_owned(), 0);
    }

    #[test]
    fn a_visit_the_owner_never_answered_is_withdrawn() {
        let mut b = TestRelay::new("b".into(), 1);
        let (req, _) = b.visit(room("team"), lease(3, "a"), 70, join(7));
        let out = b.visit_timed_out(req, 7);
        assert_eq!(
            published(&out),
            vec![("a".into(), Body::Gone { conns: vec![7] })]
        );
        // A late answer finds nobody waiting.
        let out = b.inbound(from(
            "a",
            1,
            Body::Joined {
                req,
                answer: Ok(joined()),
            },
        ));
        assert!(out.is_empty(), "{out:?}");
    }
}
