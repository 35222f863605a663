//! The room actor: a thin shell around [`Room`] that delivers its outputs to sessions.
//!
//! One actor per room, started by the registry on the first join and stopped when the last
//! member (including one being resumed) is gone and no join waits for its password. Joins come
//! from the registry, everything else straight from the member's session. It serializes each
//! outgoing frame once and hands the same bytes to every recipient, and it keeps one timer for
//! the room's next deadline (a resume grace ending, a switch back to the mesh). When the room
//! switches to the media server it starts a media actor for that epoch
//! ([`crate::sfu::media`]) and relays between it and the room.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use actix::prelude::*;
use actix_web::web;
use bytestring::ByteString;
use rand::rngs::StdRng;
use rand::SeedableRng;
use treff_shared::{close_code, ErrorCode, RoomName, ServerMessage};

use crate::auth::{self, GuessLimiter};
use crate::messages::{
    Disowned, Fenced, FromSession, Join, JoinRefused, Reseated, RoomStopped, SaveState, Shutdown,
    ToSession,
};
use crate::room::{
    Admission, Clock, ConnId, Input, JoinError, JoinRequest, Joined, MediaCommand, ModeratorAction,
    Output, Password, Room, RoomConfig, RoomState,
};
use crate::sfu::media::{Control, FromMedia, MediaActor, MediaPort};
use crate::stats::Stats;

/// The actor owning one [`Room`].
pub struct RoomActor {
    room: Room,
    /// Instance number, so the registry never removes a newer room of the same name.
    instance: u64,
    sessions: HashMap<ConnId, Recipient<ToSession>>,
    registry: Recipient<RoomStopped>,
    timer: Option<SpawnHandle>,
    stats: Arc<Stats>,
    guesses: Arc<GuessLimiter>,
    /// Joins waiting for their password to be hashed or checked; the room does not stop while
    /// there are any, or it would drop their answer.
    joins_in_flight: usize,
    /// The media port, when the room may use the media server.
    media: Option<MediaPort>,
    /// The media server of the current epoch, while the room uses it.
    sfu: Option<Addr<MediaActor>>,
    /// This actor, for the media server to report to.
    me: Option<Addr<RoomActor>>,
    /// In a cluster: the lease the room runs under, and where its state goes.
    seat: Option<Seat>,
    /// What restoring the room asked the shell to do, done once the actor runs.
    restored: Vec<Output>,
    /// The lasting state changed since it was last saved.
    dirty: bool,
    /// The lease is lost: the room stops although it has members.
    fenced: bool,
}

/// A room's place in a cluster.
#[derive(Debug, Clone)]
pub struct Seat {
    /// The lease value the room runs under.
    pub lease: String,
    /// Where the room's state is saved.
    pub save: Recipient<SaveState>,
    /// Told when the room stops.
    pub disowned: Recipient<Disowned>,
}

impl RoomActor {
    /// A new room: empty, or carried on from `state` another node left (in a cluster, `seat`).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        name: RoomName,
        config: RoomConfig,
        instance: u64,
        registry: Recipient<RoomStopped>,
        stats: Arc<Stats>,
        guesses: Arc<GuessLimiter>,
        media: Option<MediaPort>,
        seat: Option<Seat>,
        state: Option<RoomState>,
    ) -> RoomActor {
        let rng = StdRng::from_os_rng();
        let (room, restored) = match state {
            Some(state) => Room::restore(name, config, rng, state, Instant::now()),
            None => (Room::new(name, config, rng), Vec::new()),
        };
        RoomActor {
            room,
            seat,
            restored,
            dirty: false,
            fenced: false,
            instance,
            sessions: HashMap::new(),
            registry,
            timer: None,
            stats,
            guesses,
            joins_in_flight: 0,
            media,
            sfu: None,
            me: None,
        }
    }

    /// Hands a command to the room's media server, starting or stopping it as asked.
    fn media(&mut self, command: MediaCommand) {
        match command {
            MediaCommand::Start { epoch } => {
                let (Some(port), Some(me)) = (&self.media, &self.me) else {
                    tracing::error!(room = %self.room.name(), "media server asked for but not running");
                    return;
                };
                if let Some(old) = self.sfu.take() {
                    old.do_send(Control(MediaCommand::Stop { epoch }));
                }
                self.sfu =
                    Some(port.start_room(self.room.name().as_str(), epoch, me.clone().recipient()));
            }
            MediaCommand::Stop { epoch } => {
                if let Some(sfu) = self.sfu.take() {
                    sfu.do_send(Control(MediaCommand::Stop { epoch }));
                }
            }
            other => {
                if let Some(sfu) = &self.sfu {
                    sfu.do_send(Control(other));
                }
            }
        }
    }

    fn deliver(&mut self, outputs: Vec<Output>) {
        for output in outputs {
            match output {
                Output::Send { to, msg } => {
                    if let ServerMessage::Error { code, .. } = &msg {
                        self.stats.error(*code);
                    }
                    let frame = ByteString::from(msg.encode());
                    for conn in to {
                        if let Some(session) = self.sessions.get(&conn) {
                            session.do_send(ToSession::Frame(frame.clone()));
                        }
                    }
                }
                Output::Close { conn, code, reason } => {
                    if let Some(session) = self.sessions.remove(&conn) {
                        session.do_send(ToSession::Close {
                            code,
                            reason: reason.into(),
                        });
                    }
                }
                Output::Media(command) => self.media(command),
                Output::NoPath { from, to, cause } => {
                    tracing::warn!(
                        room = %self.room.name(),
                        from = %from,
                        to = %to,
                        cause = cause.as_str(),
                        "two members cannot connect: no direct path and no relay"
                    );
                    self.stats.no_path(cause);
                }
            }
        }
    }

    /// In a cluster: the room's lasting state may have changed; save it now, so a node that
    /// dies a moment later loses at most what was still on its way to Redis.
    fn changed(&mut self, _ctx: &mut Context<Self>) {
        if self.seat.is_none() || self.fenced {
            return;
        }
        self.dirty = true;
        self.save();
    }

    fn save(&mut self) {
        let Some(seat) = &self.seat else { return };
        if !self.dirty || self.fenced || self.room.is_empty() {
            return;
        }
        self.dirty = false;
        // unwrap: the state is strings, numbers and enums.
        let state = serde_json::to_string(&self.room.state()).unwrap();
        seat.save.do_send(SaveState {
            room: self.room.name().clone(),
            lease: seat.lease.clone(),
            state,
        });
    }

    /// Re-arms the single timer for the earliest resume deadline, and stops an empty room
    /// (`stopping` keeps it while a join is still being decided).
    fn after_change(&mut self, ctx: &mut Context<Self>) {
        self.changed(ctx);
        if let Some(handle) = self.timer.take() {
            ctx.cancel_future(handle);
        }
        if self.room.is_empty() {
            ctx.stop();
            return;
        }
        if let Some(deadline) = self.room.poll_timeout() {
            let delay = deadline.saturating_duration_since(Instant::now());
            self.timer = Some(ctx.run_later(delay, |act, ctx| {
                act.timer = None;
                let before = act.room.len();
                let outputs = act.room.handle_timeout(Instant::now());
                act.stats.participants(act.room.len() as i64 - before as i64);
                act.deliver(outputs);
                tracing::debug!(room = %act.room.name(), dropped = before - act.room.len(), "resume grace ended");
                act.after_change(ctx);
            }));
        }
    }
}

impl Actor for RoomActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.me = Some(ctx.address());
        self.stats.rooms_open(1);
        if self.room.is_empty() {
            tracing::info!(room = %self.room.name(), "room opened");
        } else {
            tracing::info!(room = %self.room.name(), members = self.room.len(), "room carried on from another node");
            self.stats.participants(self.room.len() as i64);
            let restored = std::mem::take(&mut self.restored);
            self.deliver(restored);
            self.after_change(ctx);
        }
    }

    fn stopping(&mut self, _ctx: &mut Self::Context) -> Running {
        // A join may have been accepted after the room asked to stop, or may still wait for its
        // password: then the room lives on, and the registry's address of it stays good.
        if self.fenced || (self.room.is_empty() && self.joins_in_flight == 0) {
            Running::Stop
        } else {
            Running::Continue
        }
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        if let Some(sfu) = self.sfu.take() {
            sfu.do_send(Control(MediaCommand::Stop {
                epoch: self.room.mode().1,
            }));
        }
        self.stats.rooms_open(-1);
        if self.fenced {
            self.stats.participants(-(self.room.len() as i64));
        }
        if !self.fenced {
            self.save();
        }
        if let Some(seat) = &self.seat {
            seat.disowned.do_send(Disowned {
                room: self.room.name().clone(),
                lease: seat.lease.clone(),
                empty: self.room.is_empty(),
            });
        }
        tracing::info!(room = %self.room.name(), "room closed");
        self.registry.do_send(RoomStopped {
            name: self.room.name().clone(),
            instance: self.instance,
        });
    }
}

impl RoomActor {
    /// Runs the join through the room's rules once the password question is settled.
    fn admit(&mut self, msg: Join, password: Password) -> Result<Joined, JoinRefused> {
        let conn = msg.conn;
        let (joined, outputs) = self.room.join(
            JoinRequest {
                conn,
                name: msg.name,
                media: msg.media,
                resume_token: msg.resume_token,
                role: msg.role,
                password,
                skip_waiting_room: msg.skip_waiting_room,
            },
            clock(),
        )?;
        self.sessions.insert(conn, msg.session);
        if !joined.resumed && !joined.waiting {
            self.stats.participants(1);
        }
        tracing::info!(
            room = %self.room.name(),
            peer = %joined.peer_id,
            resumed = joined.resumed,
            waiting = joined.waiting,
            members = self.room.len(),
            "joined"
        );
        self.deliver(outputs);
        Ok(joined)
    }

    /// A join that waited for a password to be hashed or checked is decided: the room may stop
    /// again, and does if nobody is in it (the join was refused).
    fn join_settled(&mut self, ctx: &mut Context<Self>) {
        self.joins_in_flight -= 1;
        self.after_change(ctx);
    }
}

impl Handler<Join> for RoomActor {
    type Result = ResponseActFuture<Self, Result<Joined, JoinRefused>>;

    fn handle(&mut self, msg: Join, ctx: &mut Self::Context) -> Self::Result {
        let given = msg.password.clone().filter(|p| !p.is_empty());
        match (self.room.admission(msg.resume_token.as_deref()), given) {
            (Admission::Resume | Admission::Open, _) | (Admission::Create, None) => {
                let result = self.admit(msg, Password::None);
                self.after_change(ctx);
                Box::pin(fut::ready(result))
            }
            (Admission::Create, Some(password)) => {
                // Hashing is slow on purpose: off the room's thread.
                let hashing = web::block(move || auth::hash_password(&password));
                self.joins_in_flight += 1;
                Box::pin(hashing.into_actor(self).map(move |hash, act, ctx| {
                    let result = match hash {
                        Ok(hash) => act.admit(msg, Password::Set(hash)),
                        Err(_) => Err(JoinRefused::unavailable()),
                    };
                    act.join_settled(ctx);
                    result
                }))
            }
            (Admission::Password(_), None) => {
                Box::pin(fut::ready(Err(JoinError::PasswordRequired.into())))
            }
            (Admission::Password(hash), Some(password)) => {
                if !self.guesses.may_guess(msg.ip, Instant::now()) {
                    return Box::pin(fut::ready(Err(JoinRefused {
                        code: ErrorCode::RateLimited,
                        message: "Too many wrong passwords from your address; wait a minute."
                            .into(),
                    })));
                }
                let checking = web::block(move || auth::verify_password(&password, &hash));
                self.joins_in_flight += 1;
                Box::pin(checking.into_actor(self).map(move |ok, act, ctx| {
                    let result = match ok {
                        Ok(true) => act.admit(msg, Password::Verified),
                        Ok(false) => {
                            act.guesses.wrong_guess(msg.ip, Instant::now());
                            tracing::info!(room = %act.room.name(), ip = %msg.ip, "wrong room password");
                            Err(JoinError::WrongPassword.into())
                        }
                        Err(_) => Err(JoinRefused::unavailable()),
                    };
                    act.join_settled(ctx);
                    result
                }))
            }
        }
    }
}

impl Handler<FromSession> for RoomActor {
    type Result = ();

    fn handle(&mut self, msg: FromSession, ctx: &mut Self::Context) {
        let ends_connection = matches!(msg.input, Input::Leave | Input::Lost);
        let may_empty = ends_connection
            || matches!(
                msg.input,
                Input::Moderate(ModeratorAction::Kick(_) | ModeratorAction::EndRoom)
            );
        if ends_connection {
            if let Some(peer) = self.room.peer_of(msg.conn) {
                tracing::info!(room = %self.room.name(), peer = %peer, event = ?msg.input, "connection ended");
            }
        }
        let lasting = !matches!(
            msg.input,
            Input::Signal { .. } | Input::MediaSignal { .. } | Input::Tiles(_) | Input::React(_)
        );
        let before = self.room.len();
        let outputs = self.room.handle(msg.conn, msg.input, clock());
        self.stats
            .participants(self.room.len() as i64 - before as i64);
        if ends_connection {
            self.sessions.remove(&msg.conn);
        }
        self.deliver(outputs);
        if may_empty {
            self.after_change(ctx);
        } else if lasting {
            self.changed(ctx);
        }
    }
}

impl Handler<FromMedia> for RoomActor {
    type Result = ();

    fn handle(&mut self, FromMedia(event): FromMedia, _ctx: &mut Self::Context) {
        let outputs = self.room.from_media(event);
        self.deliver(outputs);
    }
}

impl Handler<Shutdown> for RoomActor {
    type Result = ();

    fn handle(&mut self, _msg: Shutdown, _ctx: &mut Self::Context) {
        for (_, session) in self.sessions.drain() {
            session.do_send(ToSession::Close {
                code: close_code::SERVER_RESTART,
                reason: "server restarting".into(),
            });
        }
    }
}

impl Handler<Fenced> for RoomActor {
    type Result = ();

    fn handle(&mut self, _msg: Fenced, ctx: &mut Self::Context) {
        self.fenced = true;
        for (_, session) in self.sessions.drain() {
            session.do_send(ToSession::Close {
                code: close_code::SERVER_RESTART,
                reason: "the room moved to another server".into(),
            });
        }
        ctx.stop();
    }
}

impl Handler<Reseated> for RoomActor {
    type Result = ();

    fn handle(&mut self, msg: Reseated, ctx: &mut Self::Context) {
        if let Some(seat) = &mut self.seat {
            seat.lease = msg.lease;
            // Redis lost the state with the lease: store it again at once.
            self.dirty = true;
            self.save();
            let _ = ctx;
        }
    }
}

/// The time now, for the room: it reads no clock itself.
fn clock() -> Clock {
    Clock {
        now: Instant::now(),
        unix_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
    }
}
