//! ICE servers for browsers, with short-lived TURN credentials.
//!
//! With a TURN shared secret, each member gets its own credentials in the coturn REST form
//! ("TURN REST API", coturn's `use-auth-secret`): the user name is `<expiry unix time>:<peer id>`
//! and the password is `base64(HMAC-SHA1(secret, user name))`. The TURN server recomputes the
//! password from the shared secret and refuses the user name after its expiry, so no long-lived
//! TURN password ever reaches a browser.

use std::time::Duration;

use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use treff_shared::{IceServer, PeerId};

/// The ICE servers a server hands out.
#[derive(Debug, Clone, Default)]
pub struct IceConfig {
    /// STUN URLs (or TURN URLs that need no credentials), handed out as they are.
    pub plain_urls: Vec<String>,
    /// TURN URLs that get per-member credentials from `turn_secret`.
    pub turn_urls: Vec<String>,
    /// The secret shared with the TURN server.
    pub turn_secret: Option<String>,
    /// How long credentials stay valid; a call longer than this cannot refresh its relay.
    pub turn_ttl: Duration,
}

impl IceConfig {
    /// The servers for `peer`, with credentials valid from `now_unix` (seconds) for the TTL.
    pub fn servers_for(&self, peer: &PeerId, now_unix: u64) -> Vec<IceServer> {
        let mut servers = Vec::new();
        if !self.plain_urls.is_empty() {
            servers.push(IceServer {
                urls: self.plain_urls.clone(),
                username: None,
                credential: None,
            });
        }
        if let (false, Some(secret)) = (self.turn_urls.is_empty(), &self.turn_secret) {
            let username = format!("{}:{}", now_unix + self.turn_ttl.as_secs(), peer);
            let credential = turn_password(secret, &username);
            servers.push(IceServer {
                urls: self.turn_urls.clone(),
                username: Some(username),
                credential: Some(credential),
            });
        }
        servers
    }
}

/// `base64(HMAC-SHA1(secret, username))`, the coturn REST password.
pub fn turn_password(secret: &str, username: &str) -> String {
    // unwrap: HMAC keys of any length are valid and SHA-1 is always available in openssl.
    let key = PKey::hmac(secret.as_bytes()).unwrap();
    let mut signer = Signer::new(MessageDigest::sha1(), &key).unwrap();
    signer.update(username.as_bytes()).unwrap();
    openssl::base64::encode_block(&signer.sign_to_vec().unwrap())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vector computed independently with
    /// `echo -n 1700000000:peer1 | openssl dgst -sha1 -hmac north -binary | base64`.
    #[test]
    fn password_matches_a_known_vector() {
        assert_eq!(
            turn_password("north", "1700000000:peer1"),
            "K5uDot1F2Xe8vV/LSdlGIqxmSXk="
        );
    }

    #[test]
    fn credentials_expire_after_the_ttl_and_name_the_peer() {
        let ice = IceConfig {
            plain_urls: vec!["stun:127.0.0.1:3478".into()],
            turn_urls: vec!["turn:127.0.0.1:3478?transport=udp".into()],
            turn_secret: Some("north".into()),
            turn_ttl: Duration::from_secs(600),
        };
        let servers = ice.servers_for(&PeerId::new("peer1").unwrap(), 1_699_999_400);
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[0].username, None);
        assert_eq!(servers[1].username.as_deref(), Some("1700000000:peer1"));
        assert_eq!(
            servers[1].credential.as_deref(),
            Some("K5uDot1F2Xe8vV/LSdlGIqxmSXk=")
        );
    }

    #[test]
    fn nothing_configured_means_host_candidates_only() {
        assert!(IceConfig::default()
            .servers_for(&PeerId::new("p").unwrap(), 0)
            .is_empty());
    }
}
