//! One WebSocket connection, as an actor: decoding, the join handshake, heartbeat and limits.
//!
//! The session owns everything about the connection and nothing about the room: it turns
//! frames into [`Input`]s for the room actor and writes whatever the room sends back. Bad
//! frames get an `error` frame and the connection stays usable; a connection that keeps
//! sending bad frames is closed with [`close_code::TOO_MANY_ERRORS`].
//!
//! # Timing
//!
//! - A `join` must arrive within `join_timeout` (default 10 s), else `join-timeout` and close
//!   [`close_code::JOIN_TIMEOUT`].
//! - Every `heartbeat_interval` (default 5 s) the server sends a WebSocket ping and checks when
//!   it last heard anything (any frame, a pong, or the client's `ping`). A connection silent for
//!   longer than `client_timeout` (default 10 s) is declared lost, so a dead connection is
//!   noticed within `client_timeout + heartbeat_interval` = 15 s.
//! - A lost member keeps its place for the room's resume grace period.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_web_actors::ws;
use treff_shared::{close_code, ClientMessage, ErrorCode, RoomName, ServerMessage};

use crate::admission::{JoinFields, JoinPolicy};
use crate::limits::{AddressGuard, TokenBucket};
use crate::messages::{FromSession, Join, JoinRefused, JoinRoom, ToSession};
use crate::registry::Registry;
use crate::room::{ConnId, Input, ModeratorAction};
use crate::stats::Stats;

/// Rejected frames tolerated within [`ERROR_WINDOW`] before the connection is closed.
pub const ERROR_LIMIT: u32 = 20;
/// The window over which rejected frames are counted.
pub const ERROR_WINDOW: Duration = Duration::from_secs(10);

/// The per-connection limits and timings, shared by every session.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Largest text frame accepted; larger ones get `frame-too-large`.
    pub max_frame_bytes: usize,
    /// Time allowed between connecting and sending `join`.
    pub join_timeout: Duration,
    /// Interval of server pings and liveness checks.
    pub heartbeat_interval: Duration,
    /// Silence after which the connection is declared lost.
    pub client_timeout: Duration,
    /// Average frames per second allowed, and the burst.
    pub frame_rate: (f32, f32),
    /// Average chat messages per second allowed, and the burst.
    pub chat_rate: (f32, f32),
    /// Which join frames are passed on to a room, with which name and role.
    pub join_policy: JoinPolicy,
}

/// Where a session is in its life.
#[derive(Debug)]
enum State {
    /// Connected, no join yet (or left the room and may join again).
    Idle,
    /// A join is in flight.
    Joining,
    /// A member of `room`.
    Joined { room: Recipient<FromSession> },
    /// The room closed this connection (it was replaced) or it is shutting down.
    Closed,
}

/// The actor for one WebSocket connection.
pub struct WsSession {
    conn: ConnId,
    config: Arc<SessionConfig>,
    registry: Addr<Registry>,
    stats: Arc<Stats>,
    state: State,
    /// Last time anything arrived from the client.
    last_seen: Instant,
    /// Rejected frames in the current error window, and when that window started.
    errors: (u32, Instant),
    /// Set on the first successful join: the join deadline no longer applies after a leave.
    ever_joined: bool,
    /// Rate limit of all frames.
    frames: TokenBucket,
    /// Rate limit of chat messages.
    chats: TokenBucket,
    /// This session's place in the per-address limit; `None` when the address was over it.
    address: Option<AddressGuard>,
    /// The client's address.
    ip: IpAddr,
    /// A token given in the upgrade URL (`/ws?token=...`), for clients that cannot put it in
    /// the join frame.
    query_token: Option<String>,
}

impl WsSession {
    /// A session for connection `conn`; `address` is `None` when the client's address already
    /// has too many sessions, and the session then only says so and closes.
    pub fn new(
        conn: ConnId,
        config: Arc<SessionConfig>,
        registry: Addr<Registry>,
        stats: Arc<Stats>,
        client: (IpAddr, Option<AddressGuard>),
        query_token: Option<String>,
    ) -> WsSession {
        let now = Instant::now();
        let (ip, address) = client;
        WsSession {
            ip,
            query_token,
            frames: TokenBucket::new(config.frame_rate.0, config.frame_rate.1, now),
            chats: TokenBucket::new(config.chat_rate.0, config.chat_rate.1, now),
            address,
            conn,
            config,
            registry,
            stats,
            state: State::Idle,
            last_seen: now,
            errors: (0, now),
            ever_joined: false,
        }
    }

    fn send(&self, ctx: &mut ws::WebsocketContext<Self>, msg: &ServerMessage) {
        ctx.text(msg.encode());
    }

    /// Answers a rejected frame, and closes the connection if it keeps happening.
    fn reject(&mut self, ctx: &mut ws::WebsocketContext<Self>, code: ErrorCode, message: String) {
        tracing::debug!(conn = self.conn, %code, "frame rejected");
        self.stats.error(code);
        self.send(ctx, &ServerMessage::Error { code, message });
        let now = Instant::now();
        if now.duration_since(self.errors.1) > ERROR_WINDOW {
            self.errors = (0, now);
        }
        self.errors.0 += 1;
        if self.errors.0 > ERROR_LIMIT {
            tracing::info!(conn = self.conn, "closing after too many rejected frames");
            self.close(ctx, close_code::TOO_MANY_ERRORS, "too many rejected frames");
        }
    }

    fn close(&mut self, ctx: &mut ws::WebsocketContext<Self>, code: u16, reason: &str) {
        ctx.close(Some(ws::CloseReason {
            code: ws::CloseCode::from(code),
            description: Some(reason.to_owned()),
        }));
        ctx.stop();
    }

    fn on_text(&mut self, text: &str, ctx: &mut ws::WebsocketContext<Self>) {
        if text.len() > self.config.max_frame_bytes {
            let message = format!(
                "The frame has {} bytes; the limit is {}.",
                text.len(),
                self.config.max_frame_bytes
            );
            return self.reject(ctx, ErrorCode::FrameTooLarge, message);
        }
        if !self.frames.try_take(Instant::now()) {
            let message = format!(
                "More than {} frames per second; this frame was dropped, slow down.",
                self.config.frame_rate.0
            );
            return self.reject(ctx, ErrorCode::RateLimited, message);
        }
        let msg = match ClientMessage::decode(text) {
            Ok(msg) => msg,
            Err(err) => return self.reject(ctx, err.code, err.message),
        };
        self.stats.frame(msg.frame_type());
        let input = match (msg, &self.state) {
            (ClientMessage::Ping, _) => return self.send(ctx, &ServerMessage::Pong),
            (
                ClientMessage::Join {
                    room,
                    name,
                    resume_token,
                    media,
                    password,
                    token,
                },
                State::Idle,
            ) => {
                let fields = JoinFields {
                    room,
                    name,
                    resume_token,
                    media,
                    password,
                    token,
                };
                let admitted = match self
                    .config
                    .join_policy
                    .admit(fields, self.query_token.as_deref())
                {
                    Ok(admitted) => admitted,
                    Err(refusal) => return self.reject(ctx, refusal.code(), refusal.to_string()),
                };
                let join = Join {
                    conn: self.conn,
                    session: ctx.address().recipient(),
                    name: admitted.name,
                    media: admitted.media,
                    resume_token: admitted.resume_token,
                    password: admitted.password,
                    role: admitted.role,
                    ip: self.ip,
                    skip_waiting_room: admitted.skip_waiting_room,
                };
                return self.join(admitted.room, join, ctx);
            }
            (ClientMessage::Join { .. }, _) => {
                let message = "This connection already joined a room; send leave first.".into();
                return self.reject(ctx, ErrorCode::AlreadyJoined, message);
            }
            (_, State::Idle | State::Joining | State::Closed) => {
                let message = "Send a join frame before anything else.".into();
                return self.reject(ctx, ErrorCode::NotJoined, message);
            }
            (ClientMessage::Leave, State::Joined { .. }) => Input::Leave,
            (ClientMessage::Signal { to, data }, _) => Input::Signal { to, data },
            // The room stamps the time, so a client cannot backdate its messages.
            (ClientMessage::Chat { text }, _) => {
                if !self.chats.try_take(Instant::now()) {
                    let message = format!(
                        "More than {} chat messages per second; this one was not sent.",
                        self.config.chat_rate.0
                    );
                    return self.reject(ctx, ErrorCode::RateLimited, message);
                }
                Input::Chat { text }
            }
            (ClientMessage::Media(media), _) => Input::Media(media),
            (ClientMessage::Lock { locked }, _) => Input::Moderate(ModeratorAction::Lock(locked)),
            (ClientMessage::Kick { peer_id }, _) => Input::Moderate(ModeratorAction::Kick(peer_id)),
            (ClientMessage::RequestMute { peer_id }, _) => {
                Input::Moderate(ModeratorAction::RequestMute(peer_id))
            }
            (ClientMessage::EndRoom, _) => Input::Moderate(ModeratorAction::EndRoom),
            (ClientMessage::WaitingRoom { on }, _) => {
                Input::Moderate(ModeratorAction::WaitingRoom(on))
            }
            (ClientMessage::Admit { peer_id }, _) => {
                Input::Moderate(ModeratorAction::Admit(peer_id))
            }
            (ClientMessage::Deny { peer_id }, _) => Input::Moderate(ModeratorAction::Deny(peer_id)),
            (ClientMessage::Recording { on }, _) => Input::Recording(on),
            (ClientMessage::RecordingPolicy { everyone }, _) => {
                Input::Moderate(ModeratorAction::RecordingPolicy(everyone))
            }
            (ClientMessage::Hand { raised }, _) => Input::Hand(raised),
            (ClientMessage::LowerHand { peer_id }, _) => {
                Input::Moderate(ModeratorAction::LowerHand(peer_id))
            }
            (ClientMessage::React { reaction }, _) => Input::React(reaction),
            (ClientMessage::MediaSignal { epoch, link, data }, _) => {
                Input::MediaSignal { epoch, link, data }
            }
            (ClientMessage::Tiles { tiles }, _) => Input::Tiles(tiles),
            (ClientMessage::NoPath { peer_id, cause }, _) => Input::NoPath { peer_id, cause },
        };
        if let State::Joined { room } = &self.state {
            let leaving = input == Input::Leave;
            room.do_send(FromSession {
                conn: self.conn,
                input,
            });
            if leaving {
                self.state = State::Idle;
            }
        }
    }

    fn join(&mut self, room: RoomName, join: Join, ctx: &mut ws::WebsocketContext<Self>) {
        self.state = State::Joining;
        // The registry forwards the join to the room and answers with the room's reply.
        let request = self.registry.send(JoinRoom { room, join });
        // `wait` holds back every other frame until the join is settled, so nothing the client
        // sends right after its welcome is mistaken for a frame before join.
        ctx.wait(request.into_actor(self).map(|answer, act, ctx| {
            match answer.unwrap_or_else(|_registry_gone| Err(JoinRefused::unavailable())) {
                Ok(membership) => {
                    tracing::debug!(conn = act.conn, peer = %membership.joined.peer_id, "joined");
                    act.state = State::Joined {
                        room: membership.room,
                    };
                    act.ever_joined = true;
                }
                Err(refused) => {
                    act.state = State::Idle;
                    act.reject(ctx, refused.code, refused.message);
                }
            }
        }));
    }

    fn end_membership(&mut self, input: Input) {
        if let State::Joined { room } = std::mem::replace(&mut self.state, State::Closed) {
            room.do_send(FromSession {
                conn: self.conn,
                input,
            });
        }
    }
}

impl Actor for WsSession {
    type Context = ws::WebsocketContext<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.stats.sessions_open(1);
        if self.address.is_none() {
            let message =
                "Too many open connections from your address; close another tab or device first."
                    .to_owned();
            self.stats.error(ErrorCode::TooManySessions);
            self.send(
                ctx,
                &ServerMessage::error(ErrorCode::TooManySessions, message),
            );
            self.close(ctx, close_code::TOO_MANY_SESSIONS, "too many sessions");
            return;
        }
        ctx.run_later(self.config.join_timeout, |act, ctx| {
            if matches!(act.state, State::Idle) && !act.ever_joined {
                let message = format!(
                    "No join frame within {} s.",
                    act.config.join_timeout.as_secs_f32()
                );
                act.send(ctx, &ServerMessage::error(ErrorCode::JoinTimeout, message));
                act.close(ctx, close_code::JOIN_TIMEOUT, "no join in time");
            }
        });
        ctx.run_interval(self.config.heartbeat_interval, |act, ctx| {
            if act.last_seen.elapsed() > act.config.client_timeout {
                tracing::info!(conn = act.conn, "heartbeat lost");
                act.end_membership(Input::Lost);
                act.close(ctx, close_code::HEARTBEAT_TIMEOUT, "heartbeat timeout");
            } else {
                ctx.ping(b"");
            }
        });
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        self.stats.sessions_open(-1);
        // Without a normal close the member keeps its place for a resume.
        self.end_membership(Input::Lost);
    }
}

impl StreamHandler<Result<ws::Message, ws::ProtocolError>> for WsSession {
    fn handle(&mut self, item: Result<ws::Message, ws::ProtocolError>, ctx: &mut Self::Context) {
        let msg = match item {
            Ok(msg) => msg,
            Err(err) => {
                tracing::debug!(conn = self.conn, error = %err, "websocket protocol error");
                ctx.stop();
                return;
            }
        };
        self.last_seen = Instant::now();
        match msg {
            ws::Message::Text(text) => self.on_text(&text, ctx),
            ws::Message::Ping(bytes) => ctx.pong(&bytes),
            ws::Message::Pong(_) | ws::Message::Nop => {}
            ws::Message::Binary(_) => self.reject(
                ctx,
                ErrorCode::BinaryFrame,
                "Binary frames are not part of the protocol; send JSON text.".into(),
            ),
            ws::Message::Continuation(_) => self.reject(
                ctx,
                ErrorCode::InvalidFrame,
                "Fragmented frames are not supported; send each frame whole.".into(),
            ),
            ws::Message::Close(reason) => {
                // 1000 (normal), 1001 (going away: tab closed) and no code leave at once; any
                // other code keeps the place for a resume.
                let deliberate = reason
                    .as_ref()
                    .is_none_or(|r| matches!(r.code, ws::CloseCode::Normal | ws::CloseCode::Away));
                self.end_membership(if deliberate {
                    Input::Leave
                } else {
                    Input::Lost
                });
                ctx.close(reason);
                ctx.stop();
            }
        }
    }
}

impl Handler<ToSession> for WsSession {
    type Result = ();

    fn handle(&mut self, msg: ToSession, ctx: &mut Self::Context) {
        match msg {
            ToSession::Frame(frame) => ctx.text(frame),
            ToSession::Close { code, reason } => {
                // The room already dropped this connection: do not report it lost.
                self.state = State::Closed;
                self.close(ctx, code, &reason);
            }
        }
    }
}
