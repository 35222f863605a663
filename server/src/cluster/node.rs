//! The node actor: this process's seat in the cluster, the IO around [`Relay`].
//!
//! It answers the registry where a room lives ([`Place`]), renews the leases of the rooms this
//! node owns (and says every second that the node is alive), watches the owners of the rooms
//! its visitors are in and whether the nodes of its guests are alive, and carries messages
//! between nodes through Redis. What each event means for the members is decided by the
//! sans-IO [`Relay`]; this actor carries out its [`Effect`]s. A guest of a room here gets a
//! stand-in mailbox ([`GuestSession`]) that sends the room's frames back to its edge.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::{mpsc, oneshot};
use treff_shared::ErrorCode;

use super::relay::{Effect, Relay};
use super::store::{self, Store, Subscription, FENCE_AFTER, RENEW_EVERY};
use super::wire::{Body, Envelope, RemoteJoin};
use crate::messages::{
    Disowned, Fenced, FromSession, Join, JoinRefused, Membership, Owned, Place, Placement,
    Reseated, SaveState, Shutdown, ToSession, Visit,
};
use crate::room::{ConnId, Joined, RoomState};
use crate::stats::Stats;

/// How long an edge waits for the owner to answer a join.
const JOIN_ANSWER: Duration = Duration::from_secs(3);

/// How long a guest's join waits for a room this node is still starting.
const STARTING: Duration = Duration::from_secs(1);

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

/// How the node reaches a room it owns.
#[derive(Debug, Clone)]
pub struct RoomHandle {
    join: Recipient<Join>,
    input: Recipient<FromSession>,
    fence: Recipient<Fenced>,
    reseat: Recipient<Reseated>,
}

/// The node actor (see the module docs).
pub struct Node {
    id: String,
    run: u64,
    store: Store,
    outbox: mpsc::UnboundedSender<(String, String)>,
    relay: Relay<RoomHandle, Recipient<ToSession>>,
    health: Arc<Health>,
    stats: Arc<Stats>,
    /// Local joins waiting for a room's owner to answer, by request number.
    pending: HashMap<u64, oneshot::Sender<Result<Joined, JoinRefused>>>,
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
        // Nagle's algorithm would hold a small publish back while an earlier write (a renewal,
        // a saved state) waits for its acknowledgement: every relayed frame is small and urgent.
        let info = redis::IntoConnectionInfo::into_connection_info(redis_url)?
            .set_tcp_settings(redis::io::tcp::TcpSettings::default().set_nodelay(true));
        let client = redis::Client::open(info)?;
        let run = rand::random::<u64>() >> 12;
        let store = Store::new(client.clone(), id.clone(), run)?;
        let (outbox, queued) = mpsc::unbounded_channel();
        actix::spawn(store::publisher(store.clone(), queued));
        let (report, reports) = mpsc::unbounded_channel();
        actix::spawn(store::subscriber(client, store::channel(&id), report));
        let health = Arc::new(Health::new(id.clone()));
        stats.cluster_node(&id);
        let node = Node {
            relay: Relay::new(id.clone(), run),
            id,
            run,
            store,
            outbox,
            health: health.clone(),
            stats,
            pending: HashMap::new(),
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

    /// Carries out what the relay decided.
    fn apply(
        &mut self,
        effects: Vec<Effect<RoomHandle, Recipient<ToSession>>>,
        ctx: &mut Context<Self>,
    ) {
        for effect in effects {
            match effect {
                Effect::Publish { to, envelope } => {
                    self.stats.cluster_forwarded("out");
                    let _ = self.outbox.send((store::channel(&to), envelope.encode()));
                }
                Effect::Input { room, conn, input } => {
                    room.input.do_send(FromSession { conn, input })
                }
                Effect::Session { session, msg } => session.do_send(msg),
                Effect::Answer { req, answer } => {
                    if let Some(waiting) = self.pending.remove(&req) {
                        let _ = waiting.send(answer);
                    }
                }
                Effect::Admit {
                    room,
                    edge,
                    req,
                    join,
                } => self.admit(room, edge, req, join, ctx),
                Effect::WaitForRoom(room) => {
                    ctx.run_later(STARTING, move |act, ctx| {
                        let effects = act.relay.starting_over(room);
                        act.apply(effects, ctx);
                    });
                }
                Effect::Fence(room) => {
                    tracing::warn!(node = %self.id, "a room stopped: this node can no longer prove it owns it");
                    room.fence.do_send(Fenced);
                }
                Effect::Reseat { room, lease } => {
                    tracing::warn!(node = %self.id, lease, "Redis had lost a room's lease; took it back");
                    room.reseat.do_send(Reseated { lease });
                }
                Effect::Resynced {
                    connections,
                    reason,
                } => {
                    tracing::info!(node = %self.id, connections, reason, "members asked to resume");
                    self.stats.cluster_resync();
                }
            }
        }
        self.owned_changed();
    }

    /// Asks a room of this node to admit a guest from `edge`.
    fn admit(
        &mut self,
        room: RoomHandle,
        edge: String,
        req: u64,
        join: RemoteJoin,
        ctx: &mut Context<Self>,
    ) {
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
        room.join
            .send(join)
            .into_actor(self)
            .map(move |answer, act, ctx| {
                let answer = answer.unwrap_or_else(|_| Err(JoinRefused::unavailable()));
                let effects = act.relay.admitted(&edge, req, conn, answer);
                act.apply(effects, ctx);
            })
            .spawn(ctx);
    }

    /// Renews this node's leases and checks the owners of the rooms its visitors are in and
    /// the nodes its guests are on.
    fn tick(&mut self, ctx: &mut Context<Self>) {
        // Checked on every tick, also while a renewal hangs: the rooms stop before the lease
        // can lapse (at most a tick after FENCE_AFTER, well within LEASE).
        if self.relay.rooms_owned() > 0 && self.renewed_at.elapsed() >= FENCE_AFTER {
            tracing::warn!(node = %self.id, "cannot renew leases; stopping this node's rooms");
            let effects = self.relay.fence_all();
            self.apply(effects, ctx);
        }
        if self.renewing {
            return;
        }
        self.renewing = true;
        let sent = Instant::now();
        let leases = self.relay.leases();
        let visited = self.relay.visited_rooms();
        let edges = self.relay.edges();
        let store = self.store.clone();
        async move {
            let names: Vec<(String, String)> =
                leases.iter().map(|(r, v)| (r.to_string(), v.clone())).collect();
            let renewed = store.renew(&names).await;
            // Without Redis the rest would only time out too.
            let (owners, alive) = if renewed.is_ok() {
                let rooms: Vec<String> = visited.iter().map(|r| r.to_string()).collect();
                (store.owners(&rooms).await, store.alive(&edges).await)
            } else {
                (Ok(Vec::new()), Ok(Vec::new()))
            };
            (renewed, owners, alive, leases, visited, edges)
        }
        .into_actor(self)
        .map(move |(renewed, owners, alive, leases, visited, edges), act, ctx| {
            act.renewing = false;
            let mut effects = Vec::new();
            match renewed {
                Ok(renewed) => {
                    act.redis_up(true);
                    act.renewed_at = sent;
                    for _ in &renewed {
                        act.stats.cluster_lease_renewal();
                    }
                    let results = leases
                        .into_iter()
                        .zip(renewed)
                        .map(|((room, was), now)| (room, was, now))
                        .collect();
                    effects.extend(act.relay.renewed(results));
                }
                Err(err) => {
                    tracing::debug!(error = %err, "cannot renew leases");
                    act.redis_up(false);
                }
            }
            for (room, owner) in visited.iter().zip(owners.unwrap_or_default()) {
                effects.extend(act.relay.owner_seen(room, owner.as_deref()));
            }
            for (edge, alive) in edges.iter().zip(alive.unwrap_or_default()) {
                if !alive {
                    tracing::warn!(node = %edge, "a node stopped saying it is alive; its members are held for their resume grace");
                    effects.extend(act.relay.edge_gone(edge));
                }
            }
            act.apply(effects, ctx);
        })
        .spawn(ctx);
    }

    fn redis_up(&mut self, up: bool) {
        if self.health.redis_up.swap(up, Ordering::Relaxed) != up {
            tracing::info!(node = %self.id, up, "Redis");
        }
        self.stats.cluster_redis_up(self.health.up());
    }

    fn owned_changed(&mut self) {
        let owned = self.relay.rooms_owned();
        self.health
            .rooms_owned
            .store(owned as u64, Ordering::Relaxed);
        self.stats.cluster_rooms_owned(owned as i64);
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
                Some(envelope) => {
                    self.stats.cluster_forwarded("in");
                    let effects = self.relay.inbound(envelope);
                    self.apply(effects, ctx);
                }
                None => tracing::warn!(len = text.len(), "ignoring a message that is not treff's"),
            },
            Subscription::Up => {
                self.health.subscribed.store(true, Ordering::Relaxed);
                self.stats.cluster_redis_up(self.health.up());
                if self.was_subscribed {
                    tracing::warn!(node = %self.id, "resubscribed after a break; resynchronising");
                    let effects = self.relay.resubscribed();
                    self.apply(effects, ctx);
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
        let handle = RoomHandle {
            join: msg.join,
            input: msg.input,
            fence: msg.fence,
            reseat: msg.reseat,
        };
        let effects = self.relay.owned(msg.room, msg.lease, handle);
        self.apply(effects, ctx);
    }
}

impl Handler<Disowned> for Node {
    type Result = ();

    fn handle(&mut self, msg: Disowned, ctx: &mut Self::Context) {
        self.relay.disowned(&msg.room, &msg.lease);
        self.owned_changed();
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
        let owner = lease.node.clone();
        let remote = RemoteJoin::from(&join);
        let (req, effects) = self.relay.visit(room.clone(), lease, join.session, remote);
        let (answer_tx, answer_rx) = oneshot::channel();
        self.pending.insert(req, answer_tx);
        self.apply(effects, ctx);
        let me = ctx.address().recipient();
        Box::pin(
            async move { tokio::time::timeout(JOIN_ANSWER, answer_rx).await }
                .into_actor(self)
                .map(move |answer, act, ctx| match answer {
                    Ok(Ok(Ok(joined))) => Ok(Membership { room: me, joined }),
                    Ok(Ok(Err(refused))) => Err(refused),
                    _ => {
                        act.pending.remove(&req);
                        tracing::warn!(room = %room, owner = %owner, "the room's owner did not answer a join");
                        let effects = act.relay.visit_timed_out(req, conn);
                        act.apply(effects, ctx);
                        Err(JoinRefused {
                            code: ErrorCode::Unavailable,
                            message: "The room's server did not answer; try again.".into(),
                        })
                    }
                }),
        )
    }
}

impl Handler<FromSession> for Node {
    type Result = ();

    fn handle(&mut self, msg: FromSession, ctx: &mut Self::Context) {
        let effects = self.relay.from_visitor(msg.conn, msg.input);
        self.apply(effects, ctx);
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

    fn handle(&mut self, msg: ToEdge, ctx: &mut Self::Context) {
        let effects = self.relay.to_guest(&msg.edge, msg.body);
        self.apply(effects, ctx);
    }
}

impl Handler<Shutdown> for Node {
    type Result = ();

    fn handle(&mut self, _msg: Shutdown, ctx: &mut Self::Context) {
        // The rooms closed their members with 1012; give their leases up at once (keeping their
        // state), so the members find the rooms on another node without waiting for a lapse.
        self.shutting_down = true;
        let leases = self.relay.give_up_all();
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
