//! The node actor: this process's seat in the cluster.
//!
//! It answers the registry where a room lives ([`Place`]), holds and renews the leases of the
//! rooms this node owns, and relays between the two sides of every member whose connection and
//! room are on different nodes:
//!
//! - as the **edge** (the member's WebSocket is here, the room elsewhere) it forwards the
//!   member's join and inputs to the owner and writes the owner's frames to the session;
//! - as the **owner** it gives each such member a stand-in mailbox ([`GuestSession`]) that
//!   sends the room's frames back to the edge.
//!
//! Whenever this node cannot be sure it has every message (a gap in a sender's numbers, its
//! own subscription broke, a sender restarted, an owner's lease changed hands) it closes the
//! affected connections with 1012: the clients resume by their tokens and get a fresh
//! `welcome`, which is the resync. Peer-to-peer media never pass through the server, so a call
//! keeps flowing while its signaling reconnects.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use bytestring::ByteString;
use tokio::sync::{mpsc, oneshot};
use treff_shared::{close_code, ErrorCode, RoomName};

use super::link::{Arrival, Incoming, Outgoing};
use super::store::{self, Lease, Store, Subscription, FENCE_AFTER, RENEW_EVERY};
use super::wire::{Body, Envelope, RemoteJoin};
use crate::messages::{
    Disowned, Fenced, FromSession, Join, JoinRefused, Membership, Owned, Place, Placement,
    Reseated, SaveState, Shutdown, ToSession, Visit,
};
use crate::room::{ConnId, Input, Joined, RoomState};
use crate::stats::Stats;

/// How long an edge waits for the owner to answer a join.
const JOIN_ANSWER: Duration = Duration::from_secs(3);

/// What `/healthz` reads of the node, without asking the actor.
#[derive(Debug)]
pub struct Health {
    /// This node's id.
    pub node: String,
    redis_up: AtomicBool,
    subscribed: AtomicBool,
    rooms_owned: AtomicU64,
}

impl Health {
    fn new(node: String) -> Health {
        Health {
            node,
            redis_up: AtomicBool::new(false),
            subscribed: AtomicBool::new(false),
            rooms_owned: AtomicU64::new(0),
        }
    }

    /// Redis answers and this node's channel is subscribed: the node can take joins.
    pub fn up(&self) -> bool {
        self.redis_up.load(Ordering::Relaxed) && self.subscribed.load(Ordering::Relaxed)
    }

    /// Rooms whose lease this node holds.
    pub fn rooms_owned(&self) -> u64 {
        self.rooms_owned.load(Ordering::Relaxed)
    }
}

/// A room this node owns.
struct OwnedRoom {
    lease: Lease,
    join: Recipient<Join>,
    input: Recipient<FromSession>,
    fence: Recipient<Fenced>,
    reseat: Recipient<Reseated>,
}

/// A member of a room this node owns, connected to another node.
struct Guest {
    edge: String,
    input: Recipient<FromSession>,
}

/// A join from another node, as it arrived.
struct GuestJoin {
    edge: String,
    req: u64,
    epoch: u64,
    join: RemoteJoin,
}

/// How long a guest's join waits for a room this node is still starting.
const STARTING: Duration = Duration::from_secs(1);

/// A connection of this node joined to a room another node owns.
struct Visitor {
    room: RoomName,
    lease: Lease,
    session: Recipient<ToSession>,
}

/// The node actor (see the module docs).
pub struct Node {
    id: String,
    run: u64,
    store: Store,
    outbox: mpsc::UnboundedSender<(String, String)>,
    out: Outgoing,
    incoming: Incoming,
    health: Arc<Health>,
    stats: Arc<Stats>,
    owned: HashMap<RoomName, OwnedRoom>,
    guests: HashMap<ConnId, Guest>,
    visitors: HashMap<ConnId, Visitor>,
    pending: HashMap<u64, oneshot::Sender<Result<Joined, JoinRefused>>>,
    next_req: u64,
    /// Joins from other nodes for a room whose lease this node took a moment ago, while the
    /// registry is still starting it.
    deferred: HashMap<RoomName, Vec<GuestJoin>>,
    /// When the last renewal that succeeded was sent.
    renewed_at: Instant,
    renewing: bool,
    /// Subscribed before: the next `Up` follows a break.
    was_subscribed: bool,
    shutting_down: bool,
}

impl Node {
    /// Starts the node for `redis_url` as `id`: its publisher, its subscriber and its
    /// renewals. Fails only for a URL Redis cannot mean; Redis itself may still be down.
    pub fn start(
        redis_url: &str,
        id: String,
        stats: Arc<Stats>,
    ) -> redis::RedisResult<(Addr<Node>, Arc<Health>)> {
        let client = redis::Client::open(redis_url)?;
        let run = rand::random::<u64>() >> 12;
        let store = Store::new(client.clone(), id.clone(), run)?;
        let (outbox, queued) = mpsc::unbounded_channel();
        actix::spawn(store::publisher(store.clone(), queued));
        let (report, reports) = mpsc::unbounded_channel();
        actix::spawn(store::subscriber(client, store::channel(&id), report));
        let health = Arc::new(Health::new(id.clone()));
        stats.cluster_node(&id);
        let node = Node {
            id,
            run,
            store,
            outbox,
            out: Outgoing::default(),
            incoming: Incoming::default(),
            health: health.clone(),
            stats,
            owned: HashMap::new(),
            guests: HashMap::new(),
            visitors: HashMap::new(),
            pending: HashMap::new(),
            next_req: 1,
            deferred: HashMap::new(),
            renewed_at: Instant::now(),
            renewing: false,
            was_subscribed: false,
            shutting_down: false,
        };
        let addr = Node::create(|ctx| {
            ctx.add_stream(tokio_stream(reports));
            node
        });
        Ok((addr, health))
    }

    fn send(&mut self, to: &str, body: Body) {
        let envelope = Envelope {
            from: self.id.clone(),
            run: self.run,
            seq: self.out.stamp(to),
            body,
        };
        self.stats.cluster_forwarded("out");
        let _ = self.outbox.send((store::channel(to), envelope.encode()));
    }

    /// Closes this node's connections to rooms that `owner` owns (all when `None`), so their
    /// clients resume and get a fresh welcome.
    fn drop_visitors(&mut self, owner: Option<&str>, reason: &'static str) {
        let gone: Vec<ConnId> = self
            .visitors
            .iter()
            .filter(|(_, v)| owner.is_none_or(|o| v.lease.node == o))
            .map(|(conn, _)| *conn)
            .collect();
        if !gone.is_empty() {
            tracing::info!(
                owner = owner.unwrap_or("any"),
                connections = gone.len(),
                reason,
                "resynchronising members"
            );
            self.stats.cluster_resync();
        }
        for conn in gone {
            if let Some(visitor) = self.visitors.remove(&conn) {
                visitor.session.do_send(ToSession::Close {
                    code: close_code::SERVER_RESTART,
                    reason: reason.into(),
                });
            }
        }
    }

    /// Members on `edge` are gone (it restarted): the rooms hold them for their resume grace.
    fn drop_guests(&mut self, edge: &str) {
        let gone: Vec<ConnId> = self
            .guests
            .iter()
            .filter(|(_, g)| g.edge == edge)
            .map(|(conn, _)| *conn)
            .collect();
        for conn in gone {
            self.guest_lost(conn);
        }
    }

    fn guest_lost(&mut self, conn: ConnId) {
        if let Some(guest) = self.guests.remove(&conn) {
            guest.input.do_send(FromSession {
                conn,
                input: Input::Lost,
            });
        }
    }

    fn inbound(&mut self, envelope: Envelope, ctx: &mut Context<Self>) {
        self.stats.cluster_forwarded("in");
        let Envelope {
            from,
            run,
            seq,
            body,
        } = envelope;
        match self.incoming.arrive(&from, run, seq) {
            Arrival::InOrder => {}
            Arrival::Stale => return,
            Arrival::NewRun => {
                tracing::info!(node = %from, "node restarted");
                self.drop_visitors(Some(&from), "the room's server restarted");
                self.drop_guests(&from);
            }
            Arrival::Gap { missed } => {
                tracing::warn!(node = %from, missed, "messages from a node were lost");
                self.drop_visitors(Some(&from), "messages were lost between servers");
                self.send(&from, Body::Resync);
            }
        }
        match body {
            Body::Join {
                req,
                room,
                epoch,
                join,
            } => self.guest_joins(from, req, room, epoch, join, ctx),
            Body::Joined { req, answer } => {
                if let Some(waiting) = self.pending.remove(&req) {
                    let _ = waiting.send(answer.map_err(JoinRefused::from));
                }
            }
            Body::Input {
                room,
                epoch,
                conn,
                input,
            } => {
                let current = self
                    .owned
                    .get(&room)
                    .is_some_and(|o| o.lease.epoch == epoch);
                match self.guests.get(&conn) {
                    Some(guest) if current && guest.edge == from => {
                        let ends = matches!(input, Input::Leave | Input::Lost);
                        guest.input.do_send(FromSession { conn, input });
                        if ends {
                            self.guests.remove(&conn);
                        }
                    }
                    _ => self.send(&from, Body::NotOwner { conns: vec![conn] }),
                }
            }
            Body::Frame { conns, frame } => {
                let frame = ByteString::from(frame);
                let mut unknown = Vec::new();
                for conn in conns {
                    match self.visitors.get(&conn) {
                        Some(v) => v.session.do_send(ToSession::Frame(frame.clone())),
                        None => unknown.push(conn),
                    }
                }
                if !unknown.is_empty() {
                    self.send(&from, Body::Gone { conns: unknown });
                }
            }
            Body::Close { conn, code, reason } => {
                if let Some(v) = self.visitors.remove(&conn) {
                    v.session.do_send(ToSession::Close { code, reason });
                }
            }
            Body::NotOwner { conns } => {
                for conn in conns {
                    if let Some(v) = self.visitors.remove(&conn) {
                        v.session.do_send(ToSession::Close {
                            code: close_code::SERVER_RESTART,
                            reason: "the room moved to another server".into(),
                        });
                    }
                }
            }
            Body::Gone { conns } => {
                for conn in conns {
                    self.guest_lost(conn);
                }
            }
            Body::Resync => self.drop_visitors(Some(&from), "messages were lost between servers"),
        }
    }

    fn guest_joins(
        &mut self,
        edge: String,
        req: u64,
        room: RoomName,
        epoch: u64,
        join: RemoteJoin,
        ctx: &mut Context<Self>,
    ) {
        let Some(owned) = self.owned.get(&room).filter(|o| o.lease.epoch == epoch) else {
            if !self.owned.contains_key(&room) {
                // The edge found this node's lease in Redis: the room may be starting here.
                let waiting = self.deferred.entry(room.clone()).or_default();
                if waiting.is_empty() {
                    let later = room.clone();
                    ctx.run_later(STARTING, move |act, ctx| act.run_deferred(later, ctx));
                }
                waiting.push(GuestJoin {
                    edge,
                    req,
                    epoch,
                    join,
                });
                return;
            }
            let answer = Err(JoinRefused {
                code: ErrorCode::Unavailable,
                message: "The room just moved to another server; try again.".into(),
            }
            .into());
            self.send(&edge, Body::Joined { req, answer });
            return;
        };
        let (room_join, input) = (owned.join.clone(), owned.input.clone());
        let conn = join.conn;
        let stand_in = GuestSession {
            conn,
            edge: edge.clone(),
            node: ctx.address(),
        }
        .start();
        let join = Join {
            conn,
            session: stand_in.recipient(),
            name: join.name,
            media: join.media,
            resume_token: join.resume_token,
            password: join.password,
            role: join.role,
            ip: join.ip,
            skip_waiting_room: join.skip_waiting_room,
        };
        // The guest is known before the room answers: frames it sends right after its welcome
        // must not be refused.
        self.guests.insert(
            conn,
            Guest {
                edge: edge.clone(),
                input,
            },
        );
        room_join
            .send(join)
            .into_actor(self)
            .map(move |answer, act, _ctx| {
                let answer = answer.unwrap_or_else(|_| Err(JoinRefused::unavailable()));
                if answer.is_err() {
                    act.guests.remove(&conn);
                }
                act.send(
                    &edge,
                    Body::Joined {
                        req,
                        answer: answer.map_err(Into::into),
                    },
                );
            })
            .spawn(ctx);
    }

    /// Answers the joins that waited for `room` to start: admitted if it runs now, refused
    /// otherwise (the client tries again).
    fn run_deferred(&mut self, room: RoomName, ctx: &mut Context<Self>) {
        let Some(waiting) = self.deferred.remove(&room) else {
            return;
        };
        for GuestJoin {
            edge,
            req,
            epoch,
            join,
        } in waiting
        {
            if self.owned.contains_key(&room) {
                self.guest_joins(edge, req, room.clone(), epoch, join, ctx);
            } else {
                let answer = Err(JoinRefused {
                    code: ErrorCode::Unavailable,
                    message: "The room just moved to another server; try again.".into(),
                }
                .into());
                self.send(&edge, Body::Joined { req, answer });
            }
        }
    }

    /// Renews this node's leases and checks the owners of the rooms its visitors are in.
    fn tick(&mut self, ctx: &mut Context<Self>) {
        // Checked on every tick, also while a renewal hangs: the rooms stop before the lease
        // can lapse (at most a tick after FENCE_AFTER, well within LEASE).
        if !self.owned.is_empty() && self.renewed_at.elapsed() >= FENCE_AFTER {
            tracing::warn!(node = %self.id, "cannot renew leases; stopping this node's rooms");
            let leases: Vec<(String, String)> = self
                .owned
                .iter()
                .map(|(name, o)| (name.to_string(), o.lease.value.clone()))
                .collect();
            for (room, value) in &leases {
                self.fence(room, value, "lost contact with Redis");
            }
        }
        if self.renewing {
            return;
        }
        self.renewing = true;
        let sent = Instant::now();
        let leases: Vec<(String, String)> = self
            .owned
            .iter()
            .map(|(name, o)| (name.to_string(), o.lease.value.clone()))
            .collect();
        let visited: Vec<String> = self
            .visitors
            .values()
            .map(|v| v.room.to_string())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let edges: Vec<String> = self
            .guests
            .values()
            .map(|g| g.edge.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let store = self.store.clone();
        async move {
            let renewed = store.renew(&leases).await;
            // Without Redis the rest would only time out too.
            let (owners, alive) = if renewed.is_ok() {
                (store.owners(&visited).await, store.alive(&edges).await)
            } else {
                (Ok(Vec::new()), Ok(Vec::new()))
            };
            (renewed, owners, alive, leases, visited, edges)
        }
        .into_actor(self)
        .map(move |(renewed, owners, alive, leases, visited, edges), act, _ctx| {
            act.renewing = false;
            match renewed {
                Ok(renewed) => {
                    act.redis_up(true);
                    act.renewed_at = sent;
                    for ((room, value), now) in leases.iter().zip(renewed) {
                        act.stats.cluster_lease_renewal();
                        match now {
                            None => act.fence(room, value, "the room's lease passed to another node"),
                            Some(now) if &now != value => act.reseat(room, value, now),
                            Some(_) => {}
                        }
                    }
                }
                Err(err) => {
                    tracing::debug!(error = %err, "cannot renew leases");
                    act.redis_up(false);
                }
            }
            if let Ok(owners) = owners {
                for (room, owner) in visited.iter().zip(owners) {
                    act.check_owner(room, owner);
                }
            }
            if let Ok(alive) = alive {
                for (edge, alive) in edges.iter().zip(alive) {
                    if !alive {
                        tracing::warn!(node = %edge, "a node stopped saying it is alive; its members are held for their resume grace");
                        act.drop_guests(edge);
                    }
                }
            }
        })
        .spawn(ctx);
    }

    fn redis_up(&mut self, up: bool) {
        if self.health.redis_up.swap(up, Ordering::Relaxed) != up {
            tracing::info!(node = %self.id, up, "Redis");
        }
        self.stats.cluster_redis_up(self.health.up());
    }

    /// The owner of `room` is now `owner`: visitors who joined under another lease resume.
    fn check_owner(&mut self, room: &str, owner: Option<String>) {
        let moved: Vec<ConnId> = self
            .visitors
            .iter()
            .filter(|(_, v)| v.room.as_str() == room && owner.as_deref() != Some(&v.lease.value))
            .map(|(conn, _)| *conn)
            .collect();
        if moved.is_empty() {
            return;
        }
        tracing::info!(
            room,
            connections = moved.len(),
            "the room's owner changed; members resume"
        );
        for conn in moved {
            if let Some(v) = self.visitors.remove(&conn) {
                v.session.do_send(ToSession::Close {
                    code: close_code::SERVER_RESTART,
                    reason: "the room moved to another server".into(),
                });
            }
        }
    }

    fn fence(&mut self, room: &str, value: &str, why: &'static str) {
        let Some(name) = self
            .owned
            .iter()
            .find(|(name, o)| name.as_str() == room && o.lease.value == value)
            .map(|(name, _)| name.clone())
        else {
            return;
        };
        if let Some(owned) = self.owned.remove(&name) {
            tracing::warn!(room, why, "room stopped: this node no longer owns it");
            owned.fence.do_send(Fenced);
            self.owned_changed();
        }
    }

    /// Redis had lost the lease of `room` and this node took it back as `now`.
    fn reseat(&mut self, room: &str, was: &str, now: String) {
        let Some(lease) = Lease::parse(&now) else {
            return;
        };
        let Some(owned) = self
            .owned
            .iter_mut()
            .find(|(name, o)| name.as_str() == room && o.lease.value == was)
            .map(|(_, o)| o)
        else {
            return;
        };
        tracing::warn!(
            room,
            epoch = lease.epoch,
            "Redis had lost the room's lease; took it back"
        );
        owned.reseat.do_send(Reseated { lease: now });
        owned.lease = lease;
    }

    fn owned_changed(&mut self) {
        self.health
            .rooms_owned
            .store(self.owned.len() as u64, Ordering::Relaxed);
        self.stats.cluster_rooms_owned(self.owned.len() as i64);
    }
}

/// Adapts a tokio receiver to the `Stream` actix wants.
fn tokio_stream<T>(mut rx: mpsc::UnboundedReceiver<T>) -> impl futures_util::Stream<Item = T> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

impl Actor for Node {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        tracing::info!(node = %self.id, run = self.run, "cluster node started");
        ctx.run_interval(RENEW_EVERY, |act, ctx| act.tick(ctx));
        self.tick(ctx);
    }
}

impl StreamHandler<Subscription> for Node {
    fn handle(&mut self, item: Subscription, ctx: &mut Self::Context) {
        match item {
            Subscription::Message(text) => match Envelope::decode(&text) {
                Some(envelope) => self.inbound(envelope, ctx),
                None => tracing::warn!(len = text.len(), "ignoring a message that is not treff's"),
            },
            Subscription::Up => {
                self.health.subscribed.store(true, Ordering::Relaxed);
                self.stats.cluster_redis_up(self.health.up());
                if self.was_subscribed {
                    // Whatever was published to this node meanwhile is lost: resynchronise
                    // with every node it shares a room with.
                    tracing::warn!(node = %self.id, "resubscribed after a break; resynchronising");
                    self.incoming.forget_all();
                    self.drop_visitors(None, "messages were lost between servers");
                    let edges: HashSet<String> =
                        self.guests.values().map(|g| g.edge.clone()).collect();
                    for edge in edges {
                        self.send(&edge, Body::Resync);
                    }
                }
                self.was_subscribed = true;
            }
            Subscription::Down => {
                self.health.subscribed.store(false, Ordering::Relaxed);
                self.stats.cluster_redis_up(false);
            }
        }
    }

    fn finished(&mut self, _ctx: &mut Self::Context) {
        tracing::error!("the cluster subscriber stopped");
    }
}

impl Handler<Place> for Node {
    type Result = ResponseFuture<Result<Placement, JoinRefused>>;

    fn handle(&mut self, msg: Place, _ctx: &mut Self::Context) -> Self::Result {
        let store = self.store.clone();
        let (me, run, up, stopping) = (
            self.id.clone(),
            self.run,
            self.health.up(),
            self.shutting_down,
        );
        let stats = self.stats.clone();
        Box::pin(async move {
            if stopping {
                return Err(JoinRefused {
                    code: ErrorCode::Unavailable,
                    message: "The server is restarting; try again in a moment.".into(),
                });
            }
            if !up {
                return Err(redis_down());
            }
            let room = msg.room.as_str();
            let (mut took, mut lease) = store.acquire(room, None).await.map_err(|err| {
                tracing::warn!(error = %err, room, "cannot place a room");
                redis_down()
            })?;
            let mut carry_on = true;
            if !took && lease.node == me {
                // A lease of this node's previous run (that process is gone), or of a room of
                // this run that stopped a moment ago and is still giving its lease up: take it
                // with a new epoch. Only the previous run's room has state worth carrying on.
                carry_on = lease.run != run;
                (took, lease) = store
                    .acquire(room, Some(&lease.value))
                    .await
                    .map_err(|_| redis_down())?;
            }
            if lease.node != me {
                return Ok(Placement::Remote(lease));
            }
            let state = if took && carry_on {
                match store.load_state(room).await {
                    Ok(Some(json)) => match serde_json::from_str::<RoomState>(&json) {
                        Ok(state) => {
                            stats.cluster_takeover();
                            tracing::info!(
                                room,
                                epoch = lease.epoch,
                                members = state.members.len(),
                                "took the room over"
                            );
                            Some(state)
                        }
                        Err(err) => {
                            tracing::warn!(room, error = %err, "unreadable room state; starting afresh");
                            None
                        }
                    },
                    Ok(None) => None,
                    Err(_) => return Err(redis_down()),
                }
            } else {
                None
            };
            Ok(Placement::Local { lease, state })
        })
    }
}

fn redis_down() -> JoinRefused {
    JoinRefused {
        code: ErrorCode::Unavailable,
        message: "The server cannot reach its cluster right now; try again in a moment.".into(),
    }
}

impl Handler<Owned> for Node {
    type Result = ();

    fn handle(&mut self, msg: Owned, ctx: &mut Self::Context) {
        let room = msg.room.clone();
        self.owned.insert(
            msg.room,
            OwnedRoom {
                lease: msg.lease,
                join: msg.join,
                input: msg.input,
                fence: msg.fence,
                reseat: msg.reseat,
            },
        );
        self.owned_changed();
        self.run_deferred(room, ctx);
    }
}

impl Handler<Disowned> for Node {
    type Result = ();

    fn handle(&mut self, msg: Disowned, ctx: &mut Self::Context) {
        if self
            .owned
            .get(&msg.room)
            .is_some_and(|o| o.lease.value == msg.lease)
        {
            self.owned.remove(&msg.room);
            self.owned_changed();
        }
        let store = self.store.clone();
        async move {
            if let Err(err) = store.release(msg.room.as_str(), &msg.lease, msg.empty).await {
                tracing::warn!(room = %msg.room, error = %err, "cannot release a lease; it lapses by itself");
            }
        }
        .into_actor(self)
        .spawn(ctx);
    }
}

impl Handler<SaveState> for Node {
    type Result = ();

    fn handle(&mut self, msg: SaveState, ctx: &mut Self::Context) {
        let store = self.store.clone();
        async move {
            match store
                .save_state(msg.room.as_str(), &msg.lease, &msg.state)
                .await
            {
                Ok(true) => {
                    tracing::debug!(room = %msg.room, bytes = msg.state.len(), "state saved")
                }
                Ok(false) => {
                    tracing::debug!(room = %msg.room, "state not saved: the lease moved on")
                }
                Err(err) => {
                    tracing::warn!(room = %msg.room, error = %err, "cannot save a room's state")
                }
            }
        }
        .into_actor(self)
        .spawn(ctx);
    }
}

impl Handler<Visit> for Node {
    type Result = ResponseActFuture<Self, Result<Membership, JoinRefused>>;

    fn handle(&mut self, msg: Visit, ctx: &mut Self::Context) -> Self::Result {
        let Visit { room, lease, join } = msg;
        let conn = join.conn;
        let req = self.next_req;
        self.next_req += 1;
        let (answer_tx, answer_rx) = oneshot::channel();
        self.pending.insert(req, answer_tx);
        self.visitors.insert(
            conn,
            Visitor {
                room: room.clone(),
                lease: lease.clone(),
                session: join.session.clone(),
            },
        );
        self.send(
            &lease.node,
            Body::Join {
                req,
                room: room.clone(),
                epoch: lease.epoch,
                join: RemoteJoin::from(&join),
            },
        );
        let me = ctx.address().recipient();
        Box::pin(
            async move { tokio::time::timeout(JOIN_ANSWER, answer_rx).await }
                .into_actor(self)
                .map(move |answer, act, _ctx| {
                    act.pending.remove(&req);
                    let answer = match answer {
                        Ok(Ok(answer)) => answer,
                        _ => {
                            tracing::warn!(room = %room, owner = %lease.node, "the room's owner did not answer a join");
                            Err(JoinRefused {
                                code: ErrorCode::Unavailable,
                                message: "The room's server did not answer; try again.".into(),
                            })
                        }
                    };
                    match answer {
                        // Unless a resync closed the connection meanwhile.
                        Ok(joined) if act.visitors.contains_key(&conn) => {
                            Ok(Membership { room: me, joined })
                        }
                        Ok(_) => Err(JoinRefused::unavailable()),
                        Err(refused) => {
                            if let Some(v) = act.visitors.remove(&conn) {
                                // The owner may still have admitted it after all.
                                act.send(&v.lease.node, Body::Gone { conns: vec![conn] });
                            }
                            Err(refused)
                        }
                    }
                }),
        )
    }
}

impl Handler<FromSession> for Node {
    type Result = ();

    fn handle(&mut self, msg: FromSession, _ctx: &mut Self::Context) {
        let ends = matches!(msg.input, Input::Leave | Input::Lost);
        let Some(visitor) = self.visitors.get(&msg.conn) else {
            return;
        };
        let (owner, room, epoch) = (
            visitor.lease.node.clone(),
            visitor.room.clone(),
            visitor.lease.epoch,
        );
        if ends {
            self.visitors.remove(&msg.conn);
        }
        self.send(
            &owner,
            Body::Input {
                room,
                epoch,
                conn: msg.conn,
                input: msg.input,
            },
        );
    }
}

/// What a [`GuestSession`] relays to its edge.
#[derive(Debug, Message)]
#[rtype(result = "()")]
struct ToEdge {
    edge: String,
    body: Body,
}

impl Handler<ToEdge> for Node {
    type Result = ();

    fn handle(&mut self, msg: ToEdge, _ctx: &mut Self::Context) {
        if let Body::Close { conn, .. } = &msg.body {
            self.guests.remove(conn);
        }
        self.send(&msg.edge, msg.body);
    }
}

impl Handler<Shutdown> for Node {
    type Result = ();

    fn handle(&mut self, _msg: Shutdown, ctx: &mut Self::Context) {
        // The rooms closed their members with 1012; give their leases up at once (keeping their
        // state), so the members find the rooms on another node without waiting for a lapse.
        self.shutting_down = true;
        let leases: Vec<(RoomName, String)> = self
            .owned
            .drain()
            .map(|(name, o)| (name, o.lease.value))
            .collect();
        self.owned_changed();
        let store = self.store.clone();
        async move {
            for (room, lease) in leases {
                let _ = store.release(room.as_str(), &lease, false).await;
            }
        }
        .into_actor(self)
        .wait(ctx);
    }
}

/// The mailbox a room of this node sends a guest's frames to: it relays them to the guest's
/// edge. One per guest connection; it stops when the room closes the connection.
struct GuestSession {
    conn: ConnId,
    edge: String,
    node: Addr<Node>,
}

impl Actor for GuestSession {
    type Context = Context<Self>;
}

impl Handler<ToSession> for GuestSession {
    type Result = ();

    fn handle(&mut self, msg: ToSession, ctx: &mut Self::Context) {
        let body = match msg {
            ToSession::Frame(frame) => Body::Frame {
                conns: vec![self.conn],
                frame: frame.to_string(),
            },
            ToSession::Close { code, reason } => {
                ctx.stop();
                Body::Close {
                    conn: self.conn,
                    code,
                    reason,
                }
            }
        };
        self.node.do_send(ToEdge {
            edge: self.edge.clone(),
            body,
        });
    }
}
