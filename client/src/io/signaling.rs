//! The signaling WebSocket: joins the room, keeps the connection alive and comes back after a
//! network blip.
//!
//! One task owns the socket. It sends `join` (with the resume token of the last `welcome`, so the
//! server gives the same peer id back), pings every `ping_interval_ms`, and treats three intervals
//! of silence as a dead connection. A lost connection is retried with exponential backoff and
//! jitter; only a refusal by the server (room full, wrong password, invalid token, ...), a
//! removal by a moderator, a takeover by another tab or [`Signaling::leave`] stop it. Every join
//! carries the room password and the invitation token, so a rejoin after a server restart is
//! admitted like the first one. Everything that happens is reported to the call core as a
//! [`ServerEvent`].

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures::channel::mpsc;
use futures::{pin_mut, select, FutureExt, SinkExt, StreamExt};
use gloo_net::websocket::futures::WebSocket;
use gloo_net::websocket::{Message, State, WebSocketError};
use gloo_timers::future::TimeoutFuture;
use treff_shared::{
    close_code, ClientMessage, DisplayName, ErrorCode, LeaveReason, MediaState, RoomName,
    ServerMessage,
};

use super::js;
use crate::core::notice::LostReason;
use crate::core::ServerEvent;

/// First retry delay; doubled per failed attempt.
const BACKOFF_BASE_MS: f64 = 500.0;
/// Longest retry delay.
const BACKOFF_MAX_MS: f64 = 15_000.0;
/// Ping interval until a `welcome` says otherwise.
const DEFAULT_PING_MS: u64 = 10_000;
/// Silence, in ping intervals, after which the connection counts as dead.
const SILENT_INTERVALS: u64 = 3;

/// Why one connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ended {
    /// The socket could not be opened, closed, or went silent: retry.
    Lost(LostReason),
    /// A probe went unanswered: the network changed under the socket while the server is
    /// most likely fine, so the first retry goes at once.
    Stale,
    /// The server refused the join: do not retry.
    Rejected {
        /// The server's code.
        code: ErrorCode,
        /// The server's sentence (empty: the web app words the code itself).
        message: String,
    },
    /// Closed with [`close_code::REPLACED`]: do not retry.
    Replaced,
    /// `removed` arrived, or the close said so ([`close_code::KICKED`],
    /// [`close_code::ROOM_ENDED`]): do not retry.
    Removed(LeaveReason),
    /// [`Signaling::leave`] was called.
    Left,
}

/// Instructions from the handle to the connection task.
enum Command {
    /// Send a frame.
    Send(String),
    /// Send `leave` and close.
    Leave,
    /// Ping now, and count the connection as lost unless something comes back within
    /// [`PROBE_MS`].
    Probe,
}

/// How long a probe waits for the server to be heard from.
const PROBE_MS: f64 = 1000.0;

/// What a join proves besides the name. Deliberately without `Debug`: neither secret belongs in
/// a log.
#[derive(Clone, Default)]
pub struct Credentials {
    /// The room password: sets it when this join creates the room, opens a room that has one.
    pub password: Option<String>,
    /// The invitation token (JWT), required by servers that run with tokens.
    pub token: Option<String>,
}

/// What `join` carries; the media part is kept current for rejoins.
struct JoinParams {
    room: RoomName,
    name: DisplayName,
    media: MediaState,
    credentials: Credentials,
}

struct Inner {
    url: String,
    join: RefCell<JoinParams>,
    resume_token: RefCell<Option<String>>,
    /// The current connection's command channel, present while a socket is open.
    commands: RefCell<Option<mpsc::UnboundedSender<Command>>>,
    /// The current connection got its `welcome`: frames other than `join` may be sent.
    joined: Cell<bool>,
    /// Set by `leave`, checked between connections.
    stopped: Cell<bool>,
    on_event: Box<dyn Fn(ServerEvent)>,
}

/// Handle to the signaling connection; cloning shares it.
#[derive(Clone)]
pub struct Signaling {
    inner: Rc<Inner>,
}

impl Signaling {
    /// Starts connecting to `url` and joining `room` as `name`.
    pub fn start(
        url: String,
        room: RoomName,
        name: DisplayName,
        media: MediaState,
        credentials: Credentials,
        on_event: impl Fn(ServerEvent) + 'static,
    ) -> Signaling {
        let inner = Rc::new(Inner {
            url,
            join: RefCell::new(JoinParams {
                room,
                name,
                media,
                credentials,
            }),
            resume_token: RefCell::new(None),
            commands: RefCell::new(None),
            joined: Cell::new(false),
            stopped: Cell::new(false),
            on_event: Box::new(on_event),
        });
        wasm_bindgen_futures::spawn_local(run(inner.clone()));
        Signaling { inner }
    }

    /// The WebSocket URL of the page's own server.
    pub fn default_url() -> String {
        let location = web_sys::window().map(|w| w.location());
        let (protocol, host) = match location {
            Some(l) => (
                l.protocol().unwrap_or_default(),
                l.host().unwrap_or_default(),
            ),
            None => (String::new(), String::new()),
        };
        let scheme = if protocol == "https:" { "wss" } else { "ws" };
        format!("{scheme}://{host}/ws")
    }

    /// Sends a frame if the room is joined; returns whether it was handed to the socket.
    pub fn send(&self, message: &ClientMessage) -> bool {
        if !self.inner.joined.get() {
            return false;
        }
        match self.inner.commands.borrow().as_ref() {
            Some(tx) => tx.unbounded_send(Command::Send(message.encode())).is_ok(),
            None => false,
        }
    }

    /// Records the media state for later rejoins and tells the room.
    pub fn set_media(&self, media: MediaState) {
        self.inner.join.borrow_mut().media = media;
        self.send(&ClientMessage::Media(media));
    }

    /// Checks the connection now (a peer link went down: the network may have changed under
    /// the WebSocket too, which the heartbeat would notice only after seconds of silence).
    pub fn probe(&self) {
        if let Some(tx) = self.inner.commands.borrow().as_ref() {
            let _ = tx.unbounded_send(Command::Probe);
        }
    }

    /// Leaves the room and stops reconnecting.
    pub fn leave(&self) {
        self.inner.stopped.set(true);
        if let Some(tx) = self.inner.commands.borrow_mut().take() {
            let _ = tx.unbounded_send(Command::Leave);
        }
    }
}

async fn run(inner: Rc<Inner>) {
    let mut attempt: u32 = 0;
    loop {
        if inner.stopped.get() {
            return;
        }
        (inner.on_event)(ServerEvent::Connecting { attempt });
        let (ended, welcomed) = connect_once(&inner).await;
        inner.joined.set(false);
        inner.commands.borrow_mut().take();
        match ended {
            Ended::Left => return,
            Ended::Replaced => {
                (inner.on_event)(ServerEvent::Replaced);
                return;
            }
            Ended::Removed(reason) => {
                (inner.on_event)(ServerEvent::Removed(reason));
                return;
            }
            Ended::Rejected { code, message } => {
                (inner.on_event)(ServerEvent::Rejected { code, message });
                return;
            }
            Ended::Lost(_) | Ended::Stale => {
                super::hook::mark("signaling-lost", None);
                if inner.stopped.get() {
                    return;
                }
                if welcomed {
                    attempt = 0;
                }
                attempt += 1;
                let (stale, reason) = match ended {
                    Ended::Lost(reason) => (false, reason),
                    _ => (true, LostReason::Quiet),
                };
                let delay_ms = if stale && attempt == 1 {
                    0
                } else {
                    backoff_ms(attempt, js_sys::Math::random())
                };
                (inner.on_event)(ServerEvent::Lost {
                    reason,
                    attempt,
                    retry_at_ms: (js::now_ms() + f64::from(delay_ms)) as u64,
                });
                TimeoutFuture::new(delay_ms).await;
            }
        }
    }
}

/// Retry delay for the `attempt`-th retry (1-based): doubling from 0.5 s up to 15 s, with ±20 %
/// jitter (`random` in 0..1) so that a restarted server is not hit by every client at once.
fn backoff_ms(attempt: u32, random: f64) -> u32 {
    let exp = attempt.saturating_sub(1).min(16) as i32;
    let base = (BACKOFF_BASE_MS * 2f64.powi(exp)).min(BACKOFF_MAX_MS);
    (base * (0.8 + 0.4 * random)).round() as u32
}

/// Whether an `error` answering `join` means "do not try again": trying again would be refused
/// the same way until the person changes something (or, for `rate-limited`, waits; retrying by
/// itself would only use up the wrong-password allowance).
///
/// No wildcard: a new code does not compile until it is decided here.
fn is_refusal(code: ErrorCode) -> bool {
    match code {
        ErrorCode::RoomFull
        | ErrorCode::TooManyRooms
        | ErrorCode::InvalidRoom
        | ErrorCode::InvalidName
        | ErrorCode::PasswordRequired
        | ErrorCode::WrongPassword
        | ErrorCode::RoomLocked
        | ErrorCode::TokenRequired
        | ErrorCode::InvalidToken
        | ErrorCode::TooManySessions
        | ErrorCode::Denied
        | ErrorCode::RateLimited => true,
        // Passing troubles (a server restarting, a deadline missed) and frame errors: retry.
        ErrorCode::BadJson
        | ErrorCode::UnknownType
        | ErrorCode::InvalidFrame
        | ErrorCode::FrameTooLarge
        | ErrorCode::BinaryFrame
        | ErrorCode::NotJoined
        | ErrorCode::AlreadyJoined
        | ErrorCode::UnknownPeer
        | ErrorCode::SignalToSelf
        | ErrorCode::InvalidChat
        | ErrorCode::JoinTimeout
        | ErrorCode::Unavailable
        | ErrorCode::Forbidden
        | ErrorCode::InvalidMedia
        | ErrorCode::MediaFailed => false,
    }
}

/// What a close code the server sent means for reconnecting; `None`: reconnect.
fn final_close(code: u16) -> Option<Ended> {
    match code {
        close_code::REPLACED => Some(Ended::Replaced),
        close_code::KICKED => Some(Ended::Removed(LeaveReason::Kicked)),
        close_code::ROOM_ENDED => Some(Ended::Removed(LeaveReason::RoomEnded)),
        // Normally the `too-many-sessions` error arrives first and is the message shown; here
        // the web app words the code.
        close_code::TOO_MANY_SESSIONS => Some(Ended::Rejected {
            code: ErrorCode::TooManySessions,
            message: String::new(),
        }),
        // Normally the `denied` error arrives first and is the message shown.
        close_code::DENIED => Some(Ended::Rejected {
            code: ErrorCode::Denied,
            message: String::new(),
        }),
        _ => None,
    }
}

/// What happened in one iteration of the connection loop.
enum Event {
    Incoming(Option<Result<Message, WebSocketError>>),
    Command(Option<Command>),
    Tick,
}

/// Runs one WebSocket connection until it ends; returns why, and whether it was welcomed.
async fn connect_once(inner: &Rc<Inner>) -> (Ended, bool) {
    let mut ws = match WebSocket::open(&inner.url) {
        Ok(ws) => ws,
        Err(err) => return (Ended::Lost(LostReason::CannotOpen(err.to_string())), false),
    };
    let join = {
        let params = inner.join.borrow();
        ClientMessage::Join {
            room: params.room.clone(),
            name: params.name.clone(),
            resume_token: inner.resume_token.borrow().clone(),
            media: params.media,
            password: params.credentials.password.clone(),
            token: params.credentials.token.clone(),
        }
    };
    // Wait until the socket is open or has failed to open: sending on a failed socket only
    // earns a console warning.
    let ready = futures::future::poll_fn(|cx| ws.poll_ready_unpin(cx)).await;
    if ready.is_err()
        || !matches!(ws.state(), State::Open)
        || ws.send(Message::Text(join.encode())).await.is_err()
    {
        return (Ended::Lost(LostReason::Unreachable), false);
    }
    let (tx, mut rx) = mpsc::unbounded::<Command>();
    // From here on `leave` reaches this connection, welcomed or not.
    *inner.commands.borrow_mut() = Some(tx);
    if inner.stopped.get() {
        // `leave` came while the socket was opening.
        let _ = ws.close(Some(1000), Some("leave"));
        return (Ended::Left, false);
    }
    let mut welcomed = false;
    let mut interval = DEFAULT_PING_MS as f64;
    let mut last_heard = js::now_ms();
    let mut next_ping = last_heard + interval;
    let mut probe_deadline: Option<f64> = None;

    loop {
        let now = js::now_ms();
        let silent = last_heard + interval * SILENT_INTERVALS as f64;
        let deadline = probe_deadline.map_or(silent, |p| p.min(silent));
        if now >= deadline {
            if probe_deadline.is_some_and(|p| p < silent) {
                return (Ended::Stale, welcomed);
            }
            return (Ended::Lost(LostReason::StoppedAnswering), welcomed);
        }
        let wait = (next_ping.min(deadline) - now).max(0.0) as u32;
        let event = {
            let incoming = ws.next().fuse();
            let command = rx.next().fuse();
            let tick = TimeoutFuture::new(wait).fuse();
            pin_mut!(incoming, command, tick);
            select! {
                m = incoming => Event::Incoming(m),
                c = command => Event::Command(c),
                () = tick => Event::Tick,
            }
        };
        match event {
            Event::Tick => {
                if js::now_ms() >= next_ping {
                    next_ping = js::now_ms() + interval;
                    let _ = ws.send(Message::Text(ClientMessage::Ping.encode())).await;
                }
            }
            Event::Command(Some(Command::Send(text))) => {
                if ws.send(Message::Text(text)).await.is_err() {
                    return (Ended::Lost(LostReason::SendingFailed), welcomed);
                }
            }
            Event::Command(Some(Command::Probe)) => {
                if probe_deadline.is_none() {
                    super::hook::mark("signaling-probe", None);
                    probe_deadline = Some(js::now_ms() + PROBE_MS);
                    if ws
                        .send(Message::Text(ClientMessage::Ping.encode()))
                        .await
                        .is_err()
                    {
                        return (Ended::Lost(LostReason::SendingFailed), welcomed);
                    }
                }
            }
            Event::Command(Some(Command::Leave)) | Event::Command(None) => {
                let _ = ws.send(Message::Text(ClientMessage::Leave.encode())).await;
                let _ = ws.close(Some(1000), Some("leave"));
                return (Ended::Left, welcomed);
            }
            Event::Incoming(None) => {
                return (Ended::Lost(LostReason::Closed), welcomed);
            }
            Event::Incoming(Some(Err(WebSocketError::ConnectionClose(close)))) => {
                if inner.stopped.get() {
                    return (Ended::Left, welcomed);
                }
                if let Some(ended) = final_close(close.code) {
                    return (ended, welcomed);
                }
                return match close.code {
                    close_code::SERVER_RESTART => (Ended::Lost(LostReason::Restarting), welcomed),
                    1006 if !welcomed => (Ended::Lost(LostReason::Unreachable), welcomed),
                    code => (Ended::Lost(LostReason::ClosedWithCode(code)), welcomed),
                };
            }
            // An `error` event is followed by a `close` event that carries the details.
            Event::Incoming(Some(Err(_))) => {}
            Event::Incoming(Some(Ok(Message::Bytes(_)))) => {}
            Event::Incoming(Some(Ok(Message::Text(text)))) => {
                last_heard = js::now_ms();
                probe_deadline = None;
                let message = match ServerMessage::decode(&text) {
                    Ok(message) => message,
                    Err(err) => {
                        js::warn(&format!("treff: ignoring an unreadable frame: {err}"));
                        continue;
                    }
                };
                match &message {
                    ServerMessage::Welcome(welcome) => {
                        welcomed = true;
                        interval = welcome.ping_interval_ms.max(100) as f64;
                        next_ping = last_heard + interval;
                        *inner.resume_token.borrow_mut() = Some(welcome.resume_token.clone());
                        inner.joined.set(true);
                    }
                    // The server closes right after; that close must not look like a blip.
                    ServerMessage::Removed { reason } => {
                        return (Ended::Removed(*reason), welcomed);
                    }
                    ServerMessage::Error { code, message } if !welcomed => {
                        if is_refusal(*code) {
                            return (
                                Ended::Rejected {
                                    code: *code,
                                    message: message.clone(),
                                },
                                welcomed,
                            );
                        }
                        // The resume token may have expired with the server: join afresh. Not
                        // when the server only cannot take the join right now (a cluster node
                        // waiting for a dead owner's lease to lapse): the member is still held
                        // for its resume grace, and only the token gets its peer id back.
                        if *code != ErrorCode::Unavailable {
                            inner.resume_token.borrow_mut().take();
                        }
                        return (
                            Ended::Lost(LostReason::Server {
                                code: *code,
                                message: message.clone(),
                            }),
                            welcomed,
                        );
                    }
                    _ => {}
                }
                (inner.on_event)(ServerEvent::Message(message));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_bounded_jitter() {
        assert_eq!(backoff_ms(1, 0.5), 500);
        assert_eq!(backoff_ms(2, 0.5), 1000);
        assert_eq!(backoff_ms(4, 0.5), 4000);
        assert_eq!(backoff_ms(30, 0.5), 15_000);
        assert_eq!(backoff_ms(1, 0.0), 400);
        assert_eq!(backoff_ms(1, 1.0), 600);
    }

    #[test]
    fn only_refusals_stop_reconnecting() {
        for code in [
            ErrorCode::RoomFull,
            ErrorCode::InvalidName,
            ErrorCode::PasswordRequired,
            ErrorCode::WrongPassword,
            ErrorCode::RoomLocked,
            ErrorCode::TokenRequired,
            ErrorCode::InvalidToken,
            ErrorCode::TooManySessions,
            ErrorCode::RateLimited,
        ] {
            assert!(is_refusal(code), "{code}");
        }
        assert!(!is_refusal(ErrorCode::Unavailable));
        assert!(!is_refusal(ErrorCode::JoinTimeout));
    }

    #[test]
    fn removal_and_takeover_closes_are_final_and_blips_are_not() {
        assert_eq!(
            final_close(close_code::KICKED),
            Some(Ended::Removed(LeaveReason::Kicked))
        );
        assert_eq!(
            final_close(close_code::ROOM_ENDED),
            Some(Ended::Removed(LeaveReason::RoomEnded))
        );
        assert_eq!(final_close(close_code::REPLACED), Some(Ended::Replaced));
        assert!(matches!(
            final_close(close_code::TOO_MANY_SESSIONS),
            Some(Ended::Rejected {
                code: ErrorCode::TooManySessions,
                ..
            })
        ));
        for code in [
            1006,
            close_code::SERVER_RESTART,
            close_code::HEARTBEAT_TIMEOUT,
        ] {
            assert_eq!(final_close(code), None, "{code}");
        }
    }
}
