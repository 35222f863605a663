//! The embedded TURN relay (`--turn`): a TURN server inside the treff process, for small setups
//! that want one binary. Bigger setups point treff at coturn instead (`--turn-url`).
//!
//! It uses the `turn` crate with the same short-lived credentials treff hands to browsers
//! (see [`crate::ice`]), and wraps every relay socket so that it
//! - refuses to relay to or from private, loopback and link-local addresses unless
//!   `--turn-allow-private` is given (a public relay must not become a door into the host's own
//!   networks), and
//! - counts relayed bytes and active allocations for `/metrics`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use turn::auth::{generate_auth_key, AuthHandler};
use turn::relay::RelayAddressGenerator;
use turn::server::config::{ConnConfig, ServerConfig};
use turn::server::Server;
use webrtc_util::vnet::net::Net;
use webrtc_util::Conn;

use crate::ice::turn_password;
use crate::stats::Stats;

/// How the embedded relay runs.
#[derive(Debug, Clone)]
pub struct TurnRelayConfig {
    /// UDP address to listen on.
    pub listen: SocketAddr,
    /// The address browsers reach this machine at; advertised for every relayed port.
    pub public_ip: IpAddr,
    /// TURN realm.
    pub realm: String,
    /// Secret that credentials are derived from.
    pub secret: String,
    /// Relay to and from private, loopback and link-local peers too.
    pub allow_private: bool,
}

impl TurnRelayConfig {
    /// The `turn:` URL browsers use for this relay.
    pub fn url(&self) -> String {
        let host = match self.public_ip {
            IpAddr::V6(v6) => format!("[{v6}]"),
            IpAddr::V4(v4) => v4.to_string(),
        };
        format!("turn:{host}:{}?transport=udp", self.listen.port())
    }
}

/// Why the relay could not start.
#[derive(Debug, thiserror::Error)]
pub enum TurnRelayError {
    /// The UDP port could not be bound.
    #[error("cannot listen for TURN on {addr}: {source}")]
    Bind {
        /// The address of --turn-listen.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The `turn` crate refused the configuration.
    #[error("cannot start the TURN relay: {0}")]
    Turn(#[from] turn::Error),
}

/// Starts the relay on `socket` (bound by the caller, so a busy port fails at startup) on the
/// current tokio runtime; it runs until the returned server is closed or the runtime ends.
pub async fn start(
    config: TurnRelayConfig,
    socket: std::net::UdpSocket,
    stats: Arc<Stats>,
) -> Result<Server, TurnRelayError> {
    let bind_error = |source| TurnRelayError::Bind {
        addr: config.listen,
        source,
    };
    socket.set_nonblocking(true).map_err(bind_error)?;
    let socket = tokio::net::UdpSocket::from_std(socket).map_err(bind_error)?;
    let (closed_tx, mut closed_rx) = tokio::sync::mpsc::channel(64);
    let server = Server::new(ServerConfig {
        conn_configs: vec![ConnConfig {
            conn: Arc::new(socket),
            relay_addr_generator: Box::new(GuardedRelays {
                public_ip: config.public_ip,
                bind_ip: config.listen.ip(),
                allow_private: config.allow_private,
                stats: stats.clone(),
                net: Arc::new(Net::new(None)),
            }),
        }],
        realm: config.realm.clone(),
        auth_handler: Arc::new(ExpiringSecretAuth {
            secret: config.secret.clone(),
        }),
        channel_bind_timeout: std::time::Duration::from_secs(600),
        alloc_close_notify: Some(closed_tx),
    })
    .await?;
    tokio::spawn(async move {
        while closed_rx.recv().await.is_some() {
            stats.turn_allocations(-1);
        }
    });
    tracing::info!(listen = %config.listen, url = %config.url(), allow_private = config.allow_private, "embedded TURN relay started");
    Ok(server)
}

/// Checks `<expiry>:<peer>` user names against the shared secret, as coturn does with
/// `use-auth-secret`.
struct ExpiringSecretAuth {
    secret: String,
}

impl AuthHandler for ExpiringSecretAuth {
    fn auth_handle(
        &self,
        username: &str,
        realm: &str,
        src_addr: SocketAddr,
    ) -> Result<Vec<u8>, turn::Error> {
        let expiry: u64 = username
            .split(':')
            .next()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| turn::Error::Other("user name is not <expiry>:<peer>".into()))?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(u64::MAX);
        if expiry < now {
            tracing::info!(%src_addr, username, "TURN credentials expired");
            return Err(turn::Error::Other("expired credentials".into()));
        }
        Ok(generate_auth_key(
            username,
            realm,
            &turn_password(&self.secret, username),
        ))
    }
}

/// Allocates relay sockets on the listen address and wraps each in a [`GuardedConn`].
struct GuardedRelays {
    public_ip: IpAddr,
    bind_ip: IpAddr,
    allow_private: bool,
    stats: Arc<Stats>,
    net: Arc<Net>,
}

#[async_trait]
impl RelayAddressGenerator for GuardedRelays {
    fn validate(&self) -> Result<(), turn::Error> {
        Ok(())
    }

    async fn allocate_conn(
        &self,
        _use_ipv4: bool,
        requested_port: u16,
    ) -> Result<(Arc<dyn Conn + Send + Sync>, SocketAddr), turn::Error> {
        let conn = self
            .net
            .bind(SocketAddr::new(self.bind_ip, requested_port))
            .await?;
        let mut relay_addr = conn.local_addr()?;
        relay_addr.set_ip(self.public_ip);
        self.stats.turn_allocations(1);
        let guarded = GuardedConn {
            inner: conn,
            allow_private: self.allow_private,
            stats: self.stats.clone(),
        };
        Ok((Arc::new(guarded), relay_addr))
    }
}

/// A relay socket that refuses private peers (unless allowed) and counts relayed bytes.
struct GuardedConn {
    inner: Arc<dyn Conn + Send + Sync>,
    allow_private: bool,
    stats: Arc<Stats>,
}

impl GuardedConn {
    fn allowed(&self, peer: &SocketAddr) -> bool {
        self.allow_private || is_public(peer.ip())
    }
}

#[async_trait]
impl Conn for GuardedConn {
    async fn connect(&self, addr: SocketAddr) -> webrtc_util::Result<()> {
        self.inner.connect(addr).await
    }

    async fn recv(&self, buf: &mut [u8]) -> webrtc_util::Result<usize> {
        self.inner.recv(buf).await
    }

    async fn recv_from(&self, buf: &mut [u8]) -> webrtc_util::Result<(usize, SocketAddr)> {
        loop {
            let (n, from) = self.inner.recv_from(buf).await?;
            if self.allowed(&from) {
                self.stats.turn_relayed(n as u64);
                return Ok((n, from));
            }
            tracing::debug!(%from, "TURN: dropped a packet from a private address");
        }
    }

    async fn send(&self, buf: &[u8]) -> webrtc_util::Result<usize> {
        self.inner.send(buf).await
    }

    async fn send_to(&self, buf: &[u8], target: SocketAddr) -> webrtc_util::Result<usize> {
        if !self.allowed(&target) {
            tracing::debug!(%target, "TURN: refused to relay to a private address");
            return Err(webrtc_util::Error::Other(format!(
                "relaying to {target} is not allowed"
            )));
        }
        let n = self.inner.send_to(buf, target).await?;
        self.stats.turn_relayed(n as u64);
        Ok(n)
    }

    fn local_addr(&self) -> webrtc_util::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn remote_addr(&self) -> Option<SocketAddr> {
        self.inner.remote_addr()
    }

    async fn close(&self) -> webrtc_util::Result<()> {
        self.inner.close().await
    }

    fn as_any(&self) -> &(dyn std::any::Any + Send + Sync) {
        self
    }
}

/// True for addresses on the public internet: not loopback, private, link-local, unspecified,
/// multicast, CGNAT or unique-local.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1])))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_loopback_ranges_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:192.168.1.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["198.51.100.7", "2001:db8::1", "8.8.8.8"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn the_url_names_the_public_address() {
        let config = TurnRelayConfig {
            listen: "0.0.0.0:3478".parse().unwrap(),
            public_ip: "203.0.113.5".parse().unwrap(),
            realm: "treff".into(),
            secret: "s".into(),
            allow_private: false,
        };
        assert_eq!(config.url(), "turn:203.0.113.5:3478?transport=udp");
    }
}
