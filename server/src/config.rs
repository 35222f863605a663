//! The server's configuration: one clap struct, every flag also an environment variable.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use std::sync::Arc;

use clap::Parser;
use treff_shared::{limits, Role};

use crate::auth::{TokenKeyError, TokenVerifier};
use crate::ice::IceConfig;
use crate::room::{RoomConfig, SfuPolicy};
use crate::turn_relay::TurnRelayConfig;

/// A combination of flags that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--turn` listens on all interfaces but nobody said which address browsers should use.
    #[error(
        "--turn needs --turn-public-ip (the address browsers reach this machine at) when \
         --turn-listen is 0.0.0.0 or [::]"
    )]
    TurnPublicIp,
    /// The token public key could not be loaded.
    #[error(transparent)]
    TokenKey(#[from] TokenKeyError),
}

/// treff: a self-hosted video conference. Serves the web app and relays WebRTC signaling
/// between browsers over a WebSocket; media flows peer to peer.
#[derive(Debug, Clone, Parser)]
#[command(name = "treff", version, about, long_about = None)]
pub struct Config {
    /// Address and port to listen on.
    #[arg(long, env = "TREFF_LISTEN", default_value = "0.0.0.0:8000")]
    pub listen: SocketAddr,

    /// Directory with the built web app (index.html and pkg/).
    #[arg(long, env = "TREFF_STATIC_DIR", default_value = "static")]
    pub static_dir: PathBuf,

    /// PEM certificate chain; with --tls-key, serves HTTPS and WSS (browsers only allow
    /// cameras on HTTPS pages, except on localhost).
    #[arg(long, env = "TREFF_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(long, env = "TREFF_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Extra origins (e.g. https://meet.example.org) allowed to open the WebSocket, besides
    /// the server's own. Comma-separated in the environment; "*" allows any.
    #[arg(
        long = "allowed-origin",
        env = "TREFF_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,

    /// STUN URLs handed to browsers as they are (e.g. stun:stun.example.org:3478). Without
    /// any ICE server, calls inside one network work with host candidates alone.
    #[arg(long = "ice-server", env = "TREFF_ICE_SERVERS", value_delimiter = ',')]
    pub ice_servers: Vec<String>,

    /// TURN URLs (e.g. turn:turn.example.org:3478?transport=udp) for which each participant gets
    /// short-lived credentials derived from --turn-secret. Comma-separated in the environment.
    #[arg(
        long = "turn-url",
        env = "TREFF_TURN_URLS",
        value_delimiter = ',',
        requires = "turn_secret"
    )]
    pub turn_urls: Vec<String>,

    /// Secret shared with the TURN server (coturn: use-auth-secret, static-auth-secret).
    #[arg(long, env = "TREFF_TURN_SECRET", hide_env_values = true)]
    pub turn_secret: Option<String>,

    /// Start the embedded TURN relay (UDP), for setups without coturn. Browsers get its URL
    /// and short-lived credentials automatically.
    #[arg(long, env = "TREFF_TURN")]
    pub turn: bool,

    /// UDP address of the embedded TURN relay.
    #[arg(long, env = "TREFF_TURN_LISTEN", default_value = "0.0.0.0:3478")]
    pub turn_listen: SocketAddr,

    /// The address browsers reach the embedded relay at (this machine's public or LAN IP).
    /// Needed when --turn-listen is 0.0.0.0 or [::].
    #[arg(long, env = "TREFF_TURN_PUBLIC_IP")]
    pub turn_public_ip: Option<IpAddr>,

    /// TURN realm of the embedded relay.
    #[arg(long, env = "TREFF_TURN_REALM", default_value = "treff")]
    pub turn_realm: String,

    /// Let the embedded relay reach private, loopback and link-local addresses (refused by
    /// default, so a public relay is no door into the host's own networks).
    #[arg(long, env = "TREFF_TURN_ALLOW_PRIVATE")]
    pub turn_allow_private: bool,

    /// Lifetime of issued TURN credentials; keep it longer than a call.
    #[arg(long, env = "TREFF_TURN_TTL", default_value = "6h", value_parser = humantime::parse_duration)]
    pub turn_ttl: Duration,

    /// Most participants in a peer-to-peer room (a mesh: everyone sends to everyone, so keep
    /// it small). Rooms on the media server have --sfu-capacity.
    #[arg(long, env = "TREFF_ROOM_CAPACITY", default_value_t = 8)]
    pub room_capacity: usize,

    /// The media server for larger rooms: "on" (rooms switch to it at --sfu-threshold members)
    /// or "off" (every room stays peer to peer, end-to-end encrypted).
    #[arg(long, env = "TREFF_SFU", default_value = "on", value_parser = ["on", "off"])]
    pub sfu: String,

    /// A room with this many participants switches to the media server; it switches back after
    /// 5 s at or below two fewer.
    #[arg(long, env = "TREFF_SFU_THRESHOLD", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(2..))]
    pub sfu_threshold: u16,

    /// Upload each browser may use for a peer-to-peer call, in kbit/s: with more people, each
    /// of its peer links gets a smaller share of video (bitrate and resolution), so the whole
    /// fits a home or mobile uplink. 0: no budget.
    #[arg(long, env = "TREFF_MESH_UPLOAD_KBPS", default_value_t = 4000)]
    pub mesh_upload_kbps: u32,

    /// Most participants in a room on the media server.
    #[arg(long, env = "TREFF_SFU_CAPACITY", default_value_t = 50)]
    pub sfu_capacity: usize,

    /// UDP address of the media server (every room's media on one port). Default: the address
    /// and port of --listen.
    #[arg(long, env = "TREFF_MEDIA_LISTEN")]
    pub media_listen: Option<SocketAddr>,

    /// The address browsers send media to (this machine's public or LAN IP). Default: the IP
    /// of --media-listen, or, when that is 0.0.0.0, this machine's address on its default
    /// route.
    #[arg(long, env = "TREFF_MEDIA_PUBLIC_IP")]
    pub media_public_ip: Option<IpAddr>,

    /// Most rooms at once.
    #[arg(long, env = "TREFF_MAX_ROOMS", default_value_t = 1000)]
    pub max_rooms: usize,

    /// Redis to share rooms with other treff nodes through, e.g. redis://10.0.0.5:6379/0.
    /// Without it this process is a cluster of one and needs no Redis.
    #[arg(long, env = "TREFF_REDIS_URL")]
    pub redis_url: Option<String>,

    /// This node's name in the cluster, its logs and metrics; default: host name and port.
    #[arg(long, env = "TREFF_NODE_ID")]
    pub node_id: Option<String>,

    /// Largest WebSocket text frame accepted, in bytes; larger ones get an error frame.
    #[arg(long, env = "TREFF_MAX_FRAME_BYTES", default_value_t = 64 * 1024)]
    pub max_frame_bytes: usize,

    /// Chat messages kept per room for people who join later.
    #[arg(long, env = "TREFF_CHAT_HISTORY", default_value_t = 50)]
    pub chat_history: usize,

    /// How long a new connection has to send its join frame.
    #[arg(long, env = "TREFF_JOIN_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub join_timeout: Duration,

    /// How often the server pings each connection (and asks clients to ping it).
    #[arg(long, env = "TREFF_HEARTBEAT_INTERVAL", default_value = "5s", value_parser = humantime::parse_duration)]
    pub heartbeat_interval: Duration,

    /// A connection that sent nothing, not even a pong, for this long is declared lost (checked
    /// every heartbeat interval, so within 15 s with the defaults).
    #[arg(long, env = "TREFF_CLIENT_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub client_timeout: Duration,

    /// How long a lost participant keeps its place (and peer id) for a reconnect.
    #[arg(long, env = "TREFF_RESUME_GRACE", default_value = "20s", value_parser = humantime::parse_duration)]
    pub resume_grace: Duration,

    /// Frames per second a session may send on average (beyond it: `rate-limited`).
    #[arg(long, env = "TREFF_FRAME_RATE", default_value_t = 50.0)]
    pub frame_rate: f32,

    /// Frames a session may send in a burst (an offer and its ICE candidates come at once).
    #[arg(long, env = "TREFF_FRAME_BURST", default_value_t = 200.0)]
    pub frame_burst: f32,

    /// Chat messages per second a session may send on average.
    #[arg(long, env = "TREFF_CHAT_RATE", default_value_t = 1.0)]
    pub chat_rate: f32,

    /// Chat messages a session may send in a burst.
    #[arg(long, env = "TREFF_CHAT_BURST", default_value_t = 10.0)]
    pub chat_burst: f32,

    /// Open WebSocket sessions allowed from one client address (a school behind one NAT
    /// address counts once per device).
    #[arg(long, env = "TREFF_MAX_SESSIONS_PER_IP", default_value_t = 100)]
    pub max_sessions_per_ip: usize,

    /// Longest chat message, in characters (at most 2000).
    #[arg(long, env = "TREFF_MAX_CHAT_CHARS", default_value_t = limits::MAX_CHAT_CHARS as u16,
          value_parser = clap::value_parser!(u16).range(1..=limits::MAX_CHAT_CHARS as i64))]
    pub max_chat_chars: u16,

    /// Longest display name, in characters (at most 40).
    #[arg(long, env = "TREFF_MAX_NAME_CHARS", default_value_t = limits::MAX_NAME_CHARS as u16,
          value_parser = clap::value_parser!(u16).range(1..=limits::MAX_NAME_CHARS as i64))]
    pub max_name_chars: u16,

    /// Longest room name, in characters (at most 64).
    #[arg(long, env = "TREFF_MAX_ROOM_CHARS", default_value_t = limits::MAX_ROOM_CHARS as u16,
          value_parser = clap::value_parser!(u16).range(1..=limits::MAX_ROOM_CHARS as i64))]
    pub max_room_chars: u16,

    /// Secret for join tokens signed with HS256. With it (or --token-public-key) every join
    /// needs a token naming the room, the display name and the role (see docs/SECURITY.md).
    #[arg(
        long,
        env = "TREFF_TOKEN_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub token_secret: Option<String>,

    /// PEM public key (RSA for RS256, EC P-256 for ES256) that join tokens are signed for.
    #[arg(long, env = "TREFF_TOKEN_PUBLIC_KEY", conflicts_with = "token_secret")]
    pub token_public_key: Option<PathBuf>,

    /// Clock difference tolerated when checking a token's expiry.
    #[arg(long, env = "TREFF_TOKEN_LEEWAY", default_value = "5s", value_parser = humantime::parse_duration)]
    pub token_leeway: Duration,

    /// Wrong room-password guesses allowed per client address and minute (after a burst of 5).
    #[arg(long, env = "TREFF_PASSWORD_GUESSES", default_value_t = 5.0)]
    pub password_guesses: f32,

    /// Log filter, in tracing's EnvFilter syntax (e.g. "info" or "treff_server=debug").
    #[arg(long, env = "TREFF_LOG", default_value = "info")]
    pub log: String,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "TREFF_WORKERS")]
    pub workers: Option<usize>,

    /// A command other than serving.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Commands of the `treff` binary besides serving.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Print a join token signed with --token-secret, for administrators and login systems.
    Token(TokenArgs),
}

/// Arguments of `treff token`.
#[derive(Debug, Clone, clap::Args)]
pub struct TokenArgs {
    /// The room the token admits to ("*" for any room).
    #[arg(long)]
    pub room: String,
    /// The display name the holder gets.
    #[arg(long)]
    pub name: String,
    /// The holder's role.
    #[arg(long, value_enum, default_value = "participant")]
    pub role: RoleArg,
    /// How long the token is valid.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub ttl: Duration,
    /// The holder enters at once even while the room's waiting room is on.
    #[arg(long)]
    pub skip_waiting_room: bool,
}

/// A role, as a command-line value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RoleArg {
    /// May lock the room, remove members, ask them to mute, end the room.
    Moderator,
    /// Sends and receives media and chat.
    Participant,
    /// Receives media only.
    Viewer,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Role {
        match role {
            RoleArg::Moderator => Role::Moderator,
            RoleArg::Participant => Role::Participant,
            RoleArg::Viewer => Role::Viewer,
        }
    }
}

impl Config {
    /// The configuration with every default, listening on `listen`; for tests and tools.
    pub fn with_defaults(listen: SocketAddr) -> Config {
        // unwrap: the defaults above all parse.
        let mut config = Config::try_parse_from(["treff"]).unwrap();
        config.listen = listen;
        config
    }

    /// The embedded TURN relay's settings, if `--turn` is on. Without `--turn-secret`, a
    /// random secret is made for this run.
    pub fn turn_relay(&self) -> Result<Option<TurnRelayConfig>, ConfigError> {
        if !self.turn {
            return Ok(None);
        }
        let public_ip = match (self.turn_public_ip, self.turn_listen.ip()) {
            (Some(ip), _) => ip,
            (None, ip) if !ip.is_unspecified() => ip,
            (None, _) => return Err(ConfigError::TurnPublicIp),
        };
        let secret = self.turn_secret.clone().unwrap_or_else(|| {
            let bytes: [u8; 24] = rand::random();
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        });
        Ok(Some(TurnRelayConfig {
            listen: self.turn_listen,
            public_ip,
            realm: self.turn_realm.clone(),
            secret,
            allow_private: self.turn_allow_private,
        }))
    }

    /// The token verifier, when tokens are configured.
    pub fn tokens(&self) -> Result<Option<TokenVerifier>, ConfigError> {
        if let Some(secret) = &self.token_secret {
            return Ok(Some(TokenVerifier::hs256(secret, self.token_leeway)));
        }
        match &self.token_public_key {
            Some(path) => Ok(Some(TokenVerifier::public_key(path, self.token_leeway)?)),
            None => Ok(None),
        }
    }

    /// The room rules derived from this configuration.
    pub fn room_config(&self) -> RoomConfig {
        RoomConfig {
            capacity: self.room_capacity,
            history_len: self.chat_history,
            resume_grace: self.resume_grace,
            ping_interval: self.heartbeat_interval,
            ice: Arc::new(self.ice_config()),
            max_chat_chars: usize::from(self.max_chat_chars),
            // With tokens, roles come from the login system only.
            promote_moderators: self.token_secret.is_none() && self.token_public_key.is_none(),
            sfu: SfuPolicy {
                enabled: self.sfu_enabled(),
                threshold: usize::from(self.sfu_threshold),
                capacity: self.sfu_capacity,
                ..SfuPolicy::default()
            },
            mesh_upload_kbps: self.mesh_upload_kbps,
            ..RoomConfig::default()
        }
    }

    /// This node's name: `--node-id`, or the host name and the HTTP port.
    pub fn node_id(&self) -> String {
        if let Some(id) = self
            .node_id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty())
        {
            return id.to_owned();
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "treff".to_owned());
        format!("{host}:{}", self.listen.port())
    }

    /// Whether rooms may use the media server.
    pub fn sfu_enabled(&self) -> bool {
        self.sfu == "on"
    }

    /// Where the media server listens, and the address it tells browsers.
    pub fn media_addresses(&self) -> (SocketAddr, SocketAddr) {
        let listen = self.media_listen.unwrap_or(self.listen);
        let ip = match (self.media_public_ip, listen.ip()) {
            (Some(ip), _) => ip,
            (None, ip) if !ip.is_unspecified() => ip,
            (None, _) => default_route_ip().unwrap_or(IpAddr::from([127, 0, 0, 1])),
        };
        (listen, SocketAddr::new(ip, listen.port()))
    }

    /// The ICE servers handed to browsers.
    pub fn ice_config(&self) -> IceConfig {
        let clean = |urls: &[String]| {
            urls.iter()
                .map(|u| u.trim().to_owned())
                .filter(|u| !u.is_empty())
                .collect()
        };
        IceConfig {
            plain_urls: clean(&self.ice_servers),
            turn_urls: clean(&self.turn_urls),
            turn_secret: self.turn_secret.clone(),
            turn_ttl: self.turn_ttl,
        }
    }
}

/// This machine's address on its default route: the source address the kernel picks for a
/// datagram to a documentation address. Nothing is sent (a UDP connect only sets the peer).
fn default_route_ip() -> Option<IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    Some(socket.local_addr().ok()?.ip()).filter(|ip| !ip.is_unspecified())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documentation() {
        let c = Config::with_defaults("127.0.0.1:0".parse().unwrap());
        assert_eq!(c.join_timeout, Duration::from_secs(10));
        assert_eq!(c.heartbeat_interval, Duration::from_secs(5));
        assert_eq!(c.client_timeout, Duration::from_secs(10));
        assert_eq!(c.resume_grace, Duration::from_secs(20));
        assert_eq!(c.room_capacity, 8);
        assert_eq!(c.max_frame_bytes, 65536);
    }

    #[test]
    fn a_node_is_named_by_its_flag_or_by_host_and_port() {
        let mut c = Config::with_defaults("127.0.0.1:8123".parse().unwrap());
        assert!(c.redis_url.is_none(), "a single process needs no Redis");
        assert!(c.node_id().ends_with(":8123"), "{}", c.node_id());
        c.node_id = Some(" school-1 ".into());
        assert_eq!(c.node_id(), "school-1");
        c.node_id = Some("  ".into());
        assert!(c.node_id().ends_with(":8123"));
    }

    #[test]
    fn flags_parse() {
        let c = Config::try_parse_from([
            "treff",
            "--listen",
            "127.0.0.1:9000",
            "--resume-grace",
            "500ms",
            "--allowed-origin",
            "https://a.example",
            "--ice-server",
            "stun:127.0.0.1:3478",
        ])
        .unwrap();
        assert_eq!(c.resume_grace, Duration::from_millis(500));
        assert_eq!(c.allowed_origins, vec!["https://a.example"]);
        assert_eq!(c.ice_config().plain_urls, vec!["stun:127.0.0.1:3478"]);
    }
}
