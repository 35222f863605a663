//! The registry: finds the room actor for a name, creating it on first use.
//!
//! Rooms stop themselves when empty and report it with [`RoomStopped`]; a session that raced
//! with a stopping room gets a mailbox error from it and simply asks the registry again.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use treff_shared::{ErrorCode, RoomName};

use crate::auth::GuessLimiter;
use crate::messages::{JoinRefused, RoomStopped, Shutdown};
use crate::room::RoomConfig;
use crate::room_actor::RoomActor;
use crate::stats::Stats;

/// Find or create the room with this name.
#[derive(Debug, Message)]
#[rtype(result = "Result<Addr<RoomActor>, JoinRefused>")]
pub struct FindRoom {
    /// The room's name.
    pub name: RoomName,
}

/// Owns the map from room names to room actors.
pub struct Registry {
    rooms: HashMap<RoomName, (u64, Addr<RoomActor>)>,
    next_instance: u64,
    room_config: RoomConfig,
    max_rooms: usize,
    stats: Arc<Stats>,
    guesses: Arc<GuessLimiter>,
    shutting_down: bool,
}

impl Registry {
    /// An empty registry creating rooms with `room_config`, at most `max_rooms` at once.
    pub fn new(
        room_config: RoomConfig,
        max_rooms: usize,
        stats: Arc<Stats>,
        guesses: Arc<GuessLimiter>,
    ) -> Registry {
        Registry {
            rooms: HashMap::new(),
            next_instance: 1,
            room_config,
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

impl Handler<FindRoom> for Registry {
    type Result = Result<Addr<RoomActor>, JoinRefused>;

    fn handle(&mut self, msg: FindRoom, ctx: &mut Self::Context) -> Self::Result {
        if self.shutting_down {
            return Err(JoinRefused {
                code: ErrorCode::Unavailable,
                message: "The server is restarting; try again in a moment.".into(),
            });
        }
        if let Some((_, addr)) = self.rooms.get(&msg.name) {
            if addr.connected() {
                return Ok(addr.clone());
            }
            self.rooms.remove(&msg.name);
        }
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
        let addr = RoomActor::new(
            msg.name.clone(),
            self.room_config.clone(),
            instance,
            ctx.address().recipient(),
            self.stats.clone(),
            self.guesses.clone(),
        )
        .start();
        self.rooms.insert(msg.name, (instance, addr.clone()));
        Ok(addr)
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
    }
}
