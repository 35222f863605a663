//! treff's signaling server as a library: [`run`] starts it on a listener, so tests start the
//! real server on `127.0.0.1:0` and the binary (`main.rs`) only parses flags and sets up logging.
//! What stops it gracefully is an argument too: the binary passes [`signals`], tests a future
//! they complete themselves.
//!
//! | concern | module |
//! |---|---|
//! | flags and defaults | [`config`] |
//! | passwords, wrong-guess limit, join tokens | [`auth`] |
//! | which join frames reach a room: token, name and password lengths (sans-IO) | [`admission`] |
//! | the rules of a room: membership, roles, moderator actions (sans-IO, seeded, clock as input) | [`room`] |
//! | the room actor delivering those rules' output | [`room_actor`] |
//! | finding or creating rooms by name, forwarding joins to them | [`registry`] |
//! | every message between the actors, and who sends it to whom | [`messages`] |
//! | one WebSocket connection | [`session`] |
//! | rate limits and per-address limits | [`limits`] |
//! | live counters for `/healthz` and `/metrics` | [`stats`] |
//! | HTTP routes, origin check, the served web app | [`http`] |
//! | ICE servers and TURN credentials | [`ice`] |
//! | the embedded TURN relay | [`turn_relay`] |
//! | TLS | [`tls`] |
//! | graceful shutdown: what stops the server, what it does then | [`run`], [`signals`] |
#![forbid(unsafe_code)]

pub mod admission;
pub mod auth;
pub mod cluster;
pub mod config;
pub mod http;
pub mod ice;
pub mod limits;
pub mod messages;
pub mod registry;
pub mod room;
pub mod room_actor;
pub mod session;
pub mod sfu;
pub mod stats;
pub mod tls;
pub mod turn_relay;

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use actix::Actor;
use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};

pub use config::Config;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The certificate or key could not be loaded.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The listener could not be used.
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
    /// The flags do not fit together.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The embedded TURN relay could not start.
    #[error(transparent)]
    Turn(#[from] turn_relay::TurnRelayError),
    /// The media server's UDP port could not start.
    #[error(transparent)]
    Media(#[from] sfu::media::MediaPortError),
    /// `--redis-url` is not a Redis URL.
    #[error("--redis-url: {0}")]
    Redis(String),
}

/// Starts the server on `listener`. Must be called inside an actix system; the returned
/// [`Server`] runs until it is awaited to completion or stopped through its handle.
///
/// When `shutdown` completes, the server shuts down gracefully: every member's WebSocket is
/// closed with 1012 (server restarting), so clients reconnect with backoff and resume, and the
/// server then stops within its shutdown timeout. The binary passes [`signals`].
pub fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + 'static,
) -> Result<Server, ServerError> {
    let stats = Arc::new(stats::Stats::default());
    let mut room_config = config.room_config();
    if let Some(relay) = config.turn_relay()? {
        let mut ice = config.ice_config();
        ice.turn_urls.push(relay.url());
        ice.turn_secret = Some(relay.secret.clone());
        room_config.ice = Arc::new(ice);
        let socket = std::net::UdpSocket::bind(relay.listen).map_err(|source| {
            turn_relay::TurnRelayError::Bind {
                addr: relay.listen,
                source,
            }
        })?;
        let stats = stats.clone();
        actix_web::rt::spawn(async move {
            match turn_relay::start(relay, socket, stats).await {
                // The relay runs as long as the process; keep its handle alive.
                Ok(server) => {
                    std::future::pending::<()>().await;
                    drop(server);
                }
                Err(err) => tracing::error!(error = %err, "embedded TURN relay failed"),
            }
        });
    }
    let guesses = Arc::new(auth::GuessLimiter::new(config.password_guesses, 5.0));
    let media = if config.sfu_enabled() {
        let (listen, candidate) = config.media_addresses();
        Some(sfu::media::MediaPort::start(
            listen,
            candidate,
            stats.clone(),
        )?)
    } else {
        None
    };
    let (cluster, cluster_health) = match &config.redis_url {
        Some(url) => {
            let (node, health) = cluster::node::Node::start(url, config.node_id(), stats.clone())
                .map_err(|err| ServerError::Redis(err.to_string()))?;
            (Some(node), Some(health))
        }
        None => (None, None),
    };
    let registry = registry::Registry::new(
        room_config,
        media,
        config.max_rooms,
        stats.clone(),
        guesses,
        cluster,
    )
    .start();
    let tokens = config.tokens()?.map(Arc::new);
    let state = web::Data::new(http::AppState {
        registry: registry.clone(),
        session_config: Arc::new(session::SessionConfig {
            max_frame_bytes: config.max_frame_bytes,
            join_timeout: config.join_timeout,
            heartbeat_interval: config.heartbeat_interval,
            client_timeout: config.client_timeout,
            frame_rate: (config.frame_rate, config.frame_burst),
            chat_rate: (config.chat_rate, config.chat_burst),
            join_policy: admission::JoinPolicy {
                max_name_chars: usize::from(config.max_name_chars),
                max_room_chars: usize::from(config.max_room_chars),
                tokens,
            },
        }),
        stats,
        allowed_origins: config.allowed_origins.clone(),
        // Connection ids are unique in a cluster: each process starts at a random point of a
        // 2^63 range, so two nodes' ids do not meet in any realistic lifetime.
        next_conn: AtomicU64::new(if cluster_health.is_some() {
            (rand::random::<u64>() >> 1).max(1)
        } else {
            1
        }),
        cluster: cluster_health,
        addresses: limits::AddressLimiter::new(config.max_sessions_per_ip),
    });
    let routes = http::configure(config.static_dir.clone());
    let mut server = HttpServer::new(move || {
        App::new()
            .wrap(http::security_headers())
            .app_data(state.clone())
            .configure(routes.clone())
    })
    // Stopping is up to the caller's `shutdown` future (SIGTERM and Ctrl-C for the binary),
    // which first tells clients to reconnect.
    .disable_signals()
    .shutdown_timeout(5)
    // Without it a second small frame (an ICE candidate right after an offer) waits for the
    // peer's delayed ACK, about 40 ms.
    .tcp_nodelay(true)
    // A WebSocket upgrade is one small request; keep slow or idle HTTP clients short.
    .client_request_timeout(Duration::from_secs(10));
    if let Some(workers) = config.workers {
        server = server.workers(workers);
    }
    let server = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => server.listen_openssl(listener, tls::acceptor(cert, key)?)?,
        _ => server.listen(listener)?,
    };
    let server = server.run();
    actix_web::rt::spawn(shut_down_after(shutdown, registry, server.handle()));
    Ok(server)
}

/// Once `shutdown` completes: close every member's WebSocket with 1012, then stop gracefully.
async fn shut_down_after(
    shutdown: impl Future<Output = ()>,
    registry: actix::Addr<registry::Registry>,
    server: actix_web::dev::ServerHandle,
) {
    shutdown.await;
    tracing::info!("shutting down: closing sessions, then stopping");
    let _ = registry.send(messages::Shutdown).await;
    // Give the sessions a moment to write their close frames.
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    server.stop(true).await;
}

/// Completes on SIGTERM or SIGINT (Ctrl-C): the binary's shutdown signal for [`run`]. Must be
/// polled inside the actix system; it watches the signals from its first poll. Where signals
/// cannot be watched it says so and never completes.
pub async fn signals() {
    use actix_web::rt::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::warn!("cannot listen for signals; stop the server with SIGKILL");
        return std::future::pending().await;
    };
    tokio_select(term.recv(), int.recv()).await;
    tracing::info!("signal received");
}

/// Waits for whichever of two futures finishes first.
async fn tokio_select<A: std::future::Future, B: std::future::Future>(a: A, b: B) {
    futures_util::future::select(Box::pin(a), Box::pin(b)).await;
}

/// A listener on `addr` with a deep accept backlog, so a burst of joins is not dropped.
pub fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(4096)?;
    Ok(socket.into())
}
