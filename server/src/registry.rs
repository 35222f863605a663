//! The registry: owns the map from room names to room actors and forwards every join to its
//! room, creating the room on first use.
//!
//! Rooms stop themselves when empty and report it with [`RoomStopped`]. A join can still be
//! sent to a room that stopped a moment earlier: its mailbox is closed and the send fails. The
//! registry is the one place that handles this race. It replaces the stopped room with a fresh
//! one and forwards the join there; a fresh room has had no member that could leave and it does
//! not stop while a join is in flight, so one replacement is always enough.
//!
//! Map updates happen only in the registry's own context (also after an awaited reply), so two
//! joins for one name never create two rooms.
//!
//! In a cluster (`--redis-url`) a room this node does not run is first placed by the node actor
//! ([`crate::cluster::node`]): either this node takes its lease and runs it here (carrying on
//! the state a previous owner left), or the join is forwarded to the owner.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use treff_shared::{ErrorCode, RoomName};

use crate::auth::GuessLimiter;
use crate::cluster::node::Node;
use crate::cluster::store::Lease;
use crate::messages::{
    Join, JoinRefused, JoinRoom, Membership, Owned, Place, Placement, RoomStopped, Shutdown, Visit,
};
use crate::room::{Joined, RoomConfig, RoomState};
use crate::room_actor::{RoomActor, Seat};
use crate::sfu::media::MediaPort;
use crate::stats::Stats;

/// Owns the map from room names to room actors.
pub struct Registry {
    rooms: HashMap<RoomName, (u64, Addr<RoomActor>)>,
    next_instance: u64,
    room_config: RoomConfig,
    /// The media port, when rooms may use the media server.
    media: Option<MediaPort>,
    max_rooms: usize,
    stats: Arc<Stats>,
    guesses: Arc<GuessLimiter>,
    shutting_down: bool,
    /// This node's seat in a cluster, if there is one.
    cluster: Option<Addr<Node>>,
}

impl Registry {
    /// An empty registry creating rooms with `room_config`, at most `max_rooms` at once.
    pub fn new(
        room_config: RoomConfig,
        media: Option<MediaPort>,
        max_rooms: usize,
        stats: Arc<Stats>,
        guesses: Arc<GuessLimiter>,
        cluster: Option<Addr<Node>>,
    ) -> Registry {
        Registry {
            cluster,
            rooms: HashMap::new(),
            next_instance: 1,
            room_config,
            media,
            max_rooms,
            stats,
            guesses,
            shutting_down: false,
        }
    }
}

impl Actor for Registry {
    type Context = Context<Self>;
}

impl Registry {
    /// The room a join for `name` goes to: the live one of that name, or a new one. `stale` is
    /// an instance whose mailbox was found closed; it is replaced even while the map still
    /// holds it (its [`RoomStopped`] may not have arrived yet).
    fn room_for(
        &mut self,
        name: &RoomName,
        stale: Option<u64>,
        ctx: &mut Context<Self>,
    ) -> Result<(u64, Addr<RoomActor>), JoinRefused> {
        if let Some(found) = self.live_room(name, stale)? {
            return Ok(found);
        }
        self.start_room(name, None, ctx)
    }

    /// The running room of this name, unless it is `stale`.
    fn live_room(
        &mut self,
        name: &RoomName,
        stale: Option<u64>,
    ) -> Result<Option<(u64, Addr<RoomActor>)>, JoinRefused> {
        if self.shutting_down {
            return Err(JoinRefused {
                code: ErrorCode::Unavailable,
                message: "The server is restarting; try again in a moment.".into(),
            });
        }
        if let Some((instance, addr)) = self.rooms.get(name) {
            if addr.connected() && stale != Some(*instance) {
                return Ok(Some((*instance, addr.clone())));
            }
            self.rooms.remove(name);
        }
        Ok(None)
    }

    /// Starts the room `name`; in a cluster under `lease`, carrying on `state`.
    fn start_room(
        &mut self,
        name: &RoomName,
        placed: Option<(Lease, Option<RoomState>)>,
        ctx: &mut Context<Self>,
    ) -> Result<(u64, Addr<RoomActor>), JoinRefused> {
        if self.rooms.len() >= self.max_rooms {
            return Err(JoinRefused {
                code: ErrorCode::TooManyRooms,
                message: format!(
                    "This server already hosts {} rooms, its limit; join an existing room or try later.",
                    self.max_rooms
                ),
            });
        }
        let instance = self.next_instance;
        self.next_instance += 1;
        let (lease, state) = placed.unzip();
        let seat = match (&self.cluster, &lease) {
            (Some(node), Some(lease)) => Some(Seat {
                lease: lease.value.clone(),
                save: node.clone().recipient(),
                disowned: node.clone().recipient(),
            }),
            _ => None,
        };
        let addr = RoomActor::new(
            name.clone(),
            self.room_config.clone(),
            instance,
            ctx.address().recipient(),
            self.stats.clone(),
            self.guesses.clone(),
            self.media.clone(),
            seat,
            state.flatten(),
        )
        .start();
        if let (Some(node), Some(lease)) = (&self.cluster, lease) {
            node.do_send(Owned {
                room: name.clone(),
                lease,
                join: addr.clone().recipient(),
                input: addr.clone().recipient(),
                fence: addr.clone().recipient(),
                reseat: addr.clone().recipient(),
            });
        }
        self.rooms.insert(name.clone(), (instance, addr.clone()));
        Ok((instance, addr))
    }
}

/// The session's membership once `room` answered its join.
fn membership(
    room: Addr<RoomActor>,
    answer: Result<Joined, JoinRefused>,
) -> Result<Membership, JoinRefused> {
    answer.map(|joined| Membership {
        room: room.recipient(),
        joined,
    })
}

impl Handler<JoinRoom> for Registry {
    type Result = ResponseActFuture<Self, Result<Membership, JoinRefused>>;

    fn handle(&mut self, msg: JoinRoom, ctx: &mut Self::Context) -> Self::Result {
        let JoinRoom { room: name, join } = msg;
        if let Some(node) = self.cluster.clone() {
            match self.live_room(&name, None) {
                Ok(Some((instance, room))) => return self.join_local(name, instance, room, join),
                Ok(None) => return self.join_placed(node, name, join),
                Err(refused) => return Box::pin(fut::ready(Err(refused))),
            }
        }
        let (instance, room) = match self.room_for(&name, None, ctx) {
            Ok(found) => found,
            Err(refused) => return Box::pin(fut::ready(Err(refused))),
        };
        self.join_local(name, instance, room, join)
    }
}

impl Registry {
    /// In a cluster: asks the node where the room lives, then joins it here or there.
    fn join_placed(
        &mut self,
        node: Addr<Node>,
        name: RoomName,
        join: Join,
    ) -> ResponseActFuture<Self, Result<Membership, JoinRefused>> {
        let place = node.send(Place { room: name.clone() });
        Box::pin(place.into_actor(self).then(
            move |placed, act, ctx| -> ResponseActFuture<Self, _> {
                let placement = match placed {
                    Ok(Ok(placement)) => placement,
                    Ok(Err(refused)) => return Box::pin(fut::ready(Err(refused))),
                    Err(_) => return Box::pin(fut::ready(Err(JoinRefused::unavailable()))),
                };
                match placement {
                    Placement::Remote(lease) => Box::pin(
                        node.send(Visit {
                            room: name,
                            lease,
                            join,
                        })
                        .into_actor(act)
                        .map(|answer, _act, _ctx| {
                            answer.unwrap_or_else(|_| Err(JoinRefused::unavailable()))
                        }),
                    ),
                    Placement::Local { lease, state } => {
                        // Another join may have started the room while this one was placed.
                        let found = match act.live_room(&name, None) {
                            Ok(Some(found)) => Ok(found),
                            Ok(None) => act.start_room(&name, Some((lease, state)), ctx),
                            Err(refused) => Err(refused),
                        };
                        match found {
                            Ok((instance, room)) => act.join_local(name, instance, room, join),
                            Err(refused) => Box::pin(fut::ready(Err(refused))),
                        }
                    }
                }
            },
        ))
    }

    /// Forwards `join` to the room running here, replacing it once if it just stopped.
    fn join_local(
        &mut self,
        name: RoomName,
        instance: u64,
        room: Addr<RoomActor>,
        join: Join,
    ) -> ResponseActFuture<Self, Result<Membership, JoinRefused>> {
        // Kept for the one forward to a replacement room; a join is a few small fields.
        let again: Join = join.clone();
        // Not atomic: the registry keeps serving other joins while this room decides (a room
        // password takes a while to hash).
        Box::pin(room.send(join).into_actor(self).then(
            move |delivered, act, ctx| -> ResponseActFuture<Self, _> {
                let closed = match delivered {
                    Ok(answer) => return Box::pin(fut::ready(membership(room, answer))),
                    Err(closed) => closed,
                };
                tracing::debug!(room = %name, instance, error = %closed, "room stopped before the join arrived; replacing it");
                if let Some(node) = act.cluster.clone() {
                    if act.rooms.get(&name).is_some_and(|(i, _)| *i == instance) {
                        act.rooms.remove(&name);
                    }
                    return act.join_placed(node, name, again);
                }
                let fresh = match act.room_for(&name, Some(instance), ctx) {
                    Ok((_, fresh)) => fresh,
                    Err(refused) => return Box::pin(fut::ready(Err(refused))),
                };
                Box::pin(fresh.send(again).into_actor(act).map(
                    move |delivered, _act, _ctx| match delivered {
                        Ok(answer) => membership(fresh, answer),
                        // A fresh room does not stop before answering its first join; should
                        // it anyway, the client may simply try again.
                        Err(_) => Err(JoinRefused::unavailable()),
                    },
                ))
            },
        ))
    }
}

impl Handler<RoomStopped> for Registry {
    type Result = ();

    fn handle(&mut self, msg: RoomStopped, _ctx: &mut Self::Context) {
        if self
            .rooms
            .get(&msg.name)
            .is_some_and(|(instance, _)| *instance == msg.instance)
        {
            self.rooms.remove(&msg.name);
        }
    }
}

impl Handler<Shutdown> for Registry {
    type Result = ();

    fn handle(&mut self, _msg: Shutdown, _ctx: &mut Self::Context) {
        self.shutting_down = true;
        tracing::info!(
            rooms = self.rooms.len(),
            "shutting down: asking every member to reconnect"
        );
        for (_, room) in self.rooms.values() {
            room.do_send(Shutdown);
        }
        if let Some(node) = &self.cluster {
            node.do_send(Shutdown);
        }
    }
}
