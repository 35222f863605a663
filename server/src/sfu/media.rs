//! The media server's I/O: one UDP port for every room, and one actor per room epoch around
//! its [`Engine`].
//!
//! A single task reads the port and asks the [`Router`] where each datagram goes: the media
//! actor of the room whose link the datagram belongs to. The actors write straight to the
//! same socket (non-blocking; a datagram that does not fit the socket's buffer is dropped, as
//! the network would). Media actors run on a small pool of arbiters, one per core, so rooms'
//! media spread over the cores while a room's own media stay on one thread (str0m's `Rtc` is
//! driven from one place, without locks).

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::mpsc;
use treff_shared::{MediaLink, PeerId};

use super::demux::{Dropped, Router};
use super::engine::{Engine, EngineConfig, EngineCounters, EngineOutput};
use crate::room::{MediaCommand, MediaEvent};
use crate::stats::{SfuRoomStats, Stats};

/// How long a room's media server keeps forwarding after the room switched back to the mesh,
/// so members can move over make-before-break (their switch takes at most about 10 s).
pub const DRAIN: Duration = Duration::from_secs(15);

/// A datagram for one link, from the port's reader.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Datagram {
    /// The member.
    pub peer: PeerId,
    /// Its link.
    pub link: MediaLink,
    /// Where it came from.
    pub source: SocketAddr,
    /// What it carries.
    pub contents: Vec<u8>,
    /// When the port read it: the arrival time congestion control measures, however long the
    /// actor's mailbox held it.
    pub received: Instant,
}

/// What a room actor tells its media actor.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Control(pub MediaCommand);

/// What a media actor reports to its room actor.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct FromMedia(pub MediaEvent);

/// Where the reader delivers a link's datagrams.
#[derive(Clone)]
struct Target {
    actor: Recipient<Datagram>,
    peer: PeerId,
    link: MediaLink,
}

/// A change of the routing table, from a media actor.
enum RouteChange {
    Register { ufrag: String, target: Target },
    Unregister { ufrag: String },
}

/// The shared media port and what every room's media server needs.
#[derive(Clone)]
pub struct MediaPort {
    socket: Arc<UdpSocket>,
    routes: mpsc::UnboundedSender<RouteChange>,
    config: EngineConfig,
    stats: Arc<Stats>,
    arbiters: Arc<Vec<ArbiterHandle>>,
    next_arbiter: Arc<AtomicUsize>,
}

impl std::fmt::Debug for MediaPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaPort")
            .field("candidate", &self.config.candidate)
            .finish_non_exhaustive()
    }
}

/// Why the media port could not start.
#[derive(Debug, thiserror::Error)]
pub enum MediaPortError {
    /// The UDP port could not be bound.
    #[error("cannot listen for media on UDP {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The crypto provider could not make a DTLS certificate.
    #[error("cannot make the media server's DTLS certificate: {0}")]
    Certificate(String),
}

impl MediaPort {
    /// Binds `listen` and starts the reader. `candidate` is the address browsers are told to
    /// send media to. Must run inside an actix system.
    pub fn start(
        listen: SocketAddr,
        candidate: SocketAddr,
        stats: Arc<Stats>,
    ) -> Result<MediaPort, MediaPortError> {
        let bind = |source| MediaPortError::Bind {
            addr: listen,
            source,
        };
        let socket = UdpSocket::bind(listen).map_err(bind)?;
        socket.set_nonblocking(true).map_err(bind)?;
        let local = socket.local_addr().map_err(bind)?;
        let candidate = if candidate.port() == 0 {
            SocketAddr::new(candidate.ip(), local.port())
        } else {
            candidate
        };
        let reader =
            tokio::net::UdpSocket::from_std(socket.try_clone().map_err(bind)?).map_err(bind)?;
        let crypto = Arc::new(str0m::crypto::from_feature_flags());
        let certificate = crypto
            .dtls_provider
            .generate_certificate()
            .ok_or_else(|| MediaPortError::Certificate("no certificate".into()))?;
        let (routes, changes) = mpsc::unbounded_channel();
        actix::spawn(read(reader, changes, stats.clone()));
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let arbiters = (0..cores).map(|_| Arbiter::new().handle()).collect();
        tracing::info!(%local, %candidate, "media server listening");
        Ok(MediaPort {
            socket: Arc::new(socket),
            routes,
            config: EngineConfig {
                candidate,
                local,
                connect_deadline: Duration::from_secs(10),
                datagram_rate: (3000.0, 6000.0),
                crypto,
                certificate,
            },
            stats,
            arbiters: Arc::new(arbiters),
            next_arbiter: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// The address browsers send media to.
    pub fn candidate(&self) -> SocketAddr {
        self.config.candidate
    }

    /// Starts the media server of `room`'s `epoch`, reporting to `room_actor`.
    pub fn start_room(
        &self,
        room: &str,
        epoch: u32,
        room_actor: Recipient<FromMedia>,
    ) -> Addr<MediaActor> {
        let index = self.next_arbiter.fetch_add(1, Ordering::Relaxed) % self.arbiters.len();
        let port = self.clone();
        let stats = self.stats.sfu_room(room);
        let name = room.to_owned();
        MediaActor::start_in_arbiter(&self.arbiters[index], move |_| MediaActor {
            engine: Engine::new(port.config.clone(), Instant::now()),
            port,
            room: name,
            epoch,
            room_actor,
            timer: None,
            reported: EngineCounters::default(),
            stats,
            stopping: false,
        })
    }
}

/// Reads the media port and hands each datagram to the actor of its link.
async fn read(
    socket: tokio::net::UdpSocket,
    mut changes: mpsc::UnboundedReceiver<RouteChange>,
    stats: Arc<Stats>,
) {
    let mut router: Router<Target> = Router::default();
    let mut buf = vec![0u8; 2048];
    loop {
        tokio::select! {
            change = changes.recv() => match change {
                Some(RouteChange::Register { ufrag, target }) => router.register(ufrag, target),
                Some(RouteChange::Unregister { ufrag }) => router.unregister(&ufrag),
                None => return,
            },
            received = socket.recv_from(&mut buf) => {
                let (len, source) = match received {
                    Ok(received) => received,
                    Err(err) => {
                        // ICMP errors of earlier sends surface here on Linux; keep reading.
                        tracing::debug!(error = %err, "media port read");
                        continue;
                    }
                };
                let datagram = &buf[..len];
                match router.route(source, datagram) {
                    Ok(target) => target.actor.do_send(Datagram {
                        peer: target.peer,
                        link: target.link,
                        source,
                        contents: datagram.to_vec(),
                        received: Instant::now(),
                    }),
                    Err(reason) => stats.media_unrouted(match reason {
                        Dropped::Malformed => "malformed",
                        Dropped::UnknownUfrag => "unknown-ufrag",
                        Dropped::UnknownAddress => "unknown-address",
                    }),
                }
            }
        }
    }
}

/// The media server of one room epoch.
pub struct MediaActor {
    engine: Engine,
    port: MediaPort,
    room: String,
    epoch: u32,
    room_actor: Recipient<FromMedia>,
    timer: Option<SpawnHandle>,
    /// The counters as last added to the room's series.
    reported: EngineCounters,
    stats: SfuRoomStats,
    /// The room went back to the mesh: forwarding continues until the drain ends.
    stopping: bool,
}

impl Actor for MediaActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.port.stats.sfu_rooms(1);
        tracing::info!(room = %self.room, epoch = self.epoch, "media server started");
        // The metrics follow the engine every second.
        ctx.run_interval(Duration::from_secs(1), |act, _| act.report());
        self.rearm(ctx);
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        self.report();
        self.port.stats.sfu_room_closed(&self.stats);
        self.port.stats.sfu_rooms(-1);
        tracing::info!(room = %self.room, epoch = self.epoch, "media server stopped");
    }
}

impl MediaActor {
    fn apply(&mut self, outputs: Vec<EngineOutput>, ctx: &mut Context<Self>) {
        for output in outputs {
            match output {
                EngineOutput::Transmit {
                    destination,
                    contents,
                } => {
                    if let Err(err) = self.port.socket.send_to(&contents, destination) {
                        // WouldBlock: the socket buffer is full; the datagram is lost like on
                        // a congested link, and congestion control will slow down.
                        tracing::trace!(error = %err, %destination, "media send dropped");
                    }
                }
                EngineOutput::Signal { peer, link, data } => {
                    self.room_actor.do_send(FromMedia(MediaEvent::Signal {
                        epoch: self.epoch,
                        peer,
                        link,
                        data,
                    }));
                }
                EngineOutput::Register { ufrag, peer, link } => {
                    let target = Target {
                        actor: ctx.address().recipient(),
                        peer,
                        link,
                    };
                    let _ = self
                        .port
                        .routes
                        .send(RouteChange::Register { ufrag, target });
                }
                EngineOutput::Unregister { ufrag } => {
                    let _ = self.port.routes.send(RouteChange::Unregister { ufrag });
                }
                EngineOutput::ActiveSpeaker(peer) => {
                    self.room_actor
                        .do_send(FromMedia(MediaEvent::ActiveSpeaker {
                            epoch: self.epoch,
                            peer,
                        }));
                }
                EngineOutput::Failed { peer, reason } => {
                    self.room_actor.do_send(FromMedia(MediaEvent::Failed {
                        epoch: self.epoch,
                        peer,
                        reason,
                    }));
                }
            }
        }
    }

    /// One timer, for the engine's next deadline.
    fn rearm(&mut self, ctx: &mut Context<Self>) {
        if let Some(timer) = self.timer.take() {
            ctx.cancel_future(timer);
        }
        let delay = self
            .engine
            .poll_timeout()
            .saturating_duration_since(Instant::now());
        self.timer = Some(ctx.run_later(delay, |act, ctx| {
            act.timer = None;
            let outputs = act.engine.timeout(Instant::now());
            act.apply(outputs, ctx);
            act.rearm(ctx);
        }));
    }

    fn report(&mut self) {
        let now = self.engine.counters();
        let was = self.reported;
        let s = &self.stats;
        s.bytes_in.inc_by(now.bytes_in - was.bytes_in);
        s.bytes_out.inc_by(now.bytes_out - was.bytes_out);
        s.frames.inc_by(now.frames_forwarded - was.frames_forwarded);
        s.layer_switches
            .inc_by(now.layer_switches - was.layer_switches);
        s.keyframe_requests
            .inc_by(now.keyframe_requests - was.keyframe_requests);
        s.layer_pauses.inc_by(now.layer_pauses - was.layer_pauses);
        s.dropped.inc_by(
            (now.flood_drops + now.rejected).saturating_sub(was.flood_drops + was.rejected),
        );
        s.connect_failures
            .inc_by(now.connect_failures - was.connect_failures);
        s.streams.set(self.engine.forwarded_streams() as i64);
        s.loss_permille
            .set(self.engine.worst_loss_permille() as i64);
        self.reported = now;
    }

    /// Closes every link (the router forgets them) and stops.
    fn finish(&mut self, ctx: &mut Context<Self>) {
        let outputs = self.engine.close_all(Instant::now());
        self.apply(outputs, ctx);
        ctx.stop();
    }
}

impl Handler<Datagram> for MediaActor {
    type Result = ();

    fn handle(&mut self, msg: Datagram, ctx: &mut Self::Context) {
        let outputs = self.engine.datagram(
            &msg.peer,
            msg.link,
            msg.source,
            &msg.contents,
            Instant::now(),
        );
        self.apply(outputs, ctx);
        self.rearm(ctx);
    }
}

impl Handler<Control> for MediaActor {
    type Result = ();

    fn handle(&mut self, Control(command): Control, ctx: &mut Self::Context) {
        let now = Instant::now();
        let outputs = match command {
            MediaCommand::Join { peer, viewer } => self.engine.add(peer, viewer, now),
            MediaCommand::Leave { peer } => self.engine.remove(&peer, now),
            MediaCommand::Signal { peer, link, data } => self.engine.signal(&peer, link, data, now),
            MediaCommand::Tiles { peer, tiles } => self.engine.tiles(&peer, tiles, now),
            MediaCommand::Stop { .. } => {
                if !self.stopping {
                    self.stopping = true;
                    ctx.run_later(DRAIN, |act, ctx| act.finish(ctx));
                }
                Vec::new()
            }
            MediaCommand::Start { .. } => Vec::new(),
        };
        self.apply(outputs, ctx);
        self.rearm(ctx);
    }
}
