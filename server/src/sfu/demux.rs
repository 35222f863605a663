//! Which media connection a datagram on the shared media port belongs to (sans-IO).
//!
//! All media of all rooms arrive on one UDP port. A browser's first datagrams on a path are STUN
//! binding requests whose USERNAME is `<our ufrag>:<its ufrag>`; every connection has its own
//! ufrag, so the [`Router`] files the request under that connection and remembers the source
//! address for it. Everything else on the path (DTLS, SRTP, SRTCP, consent checks) then goes by
//! source address. Datagrams that are not STUN, DTLS or RTP (RFC 7983 first-byte ranges), STUN
//! without a known ufrag, and other datagrams from an address no connection has used are dropped
//! and counted. Nothing here can panic on any input; `server/tests/fuzz.rs` checks that.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::SocketAddr;

/// What a datagram is, by its first byte (RFC 7983).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// STUN (ICE connectivity checks and consent).
    Stun,
    /// DTLS (the handshake that keys SRTP).
    Dtls,
    /// RTP or RTCP (SRTP-protected media and feedback).
    Rtp,
    /// Anything else: not ours.
    Other,
}

/// Classifies a datagram.
pub fn kind(datagram: &[u8]) -> Kind {
    match datagram.first() {
        Some(0..=3) => Kind::Stun,
        Some(20..=63) => Kind::Dtls,
        Some(128..=191) => Kind::Rtp,
        _ => Kind::Other,
    }
}

const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];
const USERNAME: u16 = 0x0006;

/// The ufrag of the receiver of a STUN message (the part of USERNAME before the colon), if the
/// datagram is a well-formed STUN message with a USERNAME attribute.
pub fn stun_local_ufrag(datagram: &[u8]) -> Option<&str> {
    if datagram.len() < 20 || datagram[4..8] != MAGIC_COOKIE {
        return None;
    }
    let length = u16::from_be_bytes([datagram[2], datagram[3]]) as usize;
    let body = datagram.get(20..20 + length)?;
    let mut rest = body;
    while rest.len() >= 4 {
        let attr = u16::from_be_bytes([rest[0], rest[1]]);
        let len = u16::from_be_bytes([rest[2], rest[3]]) as usize;
        let value = rest.get(4..4 + len)?;
        if attr == USERNAME {
            let username = std::str::from_utf8(value).ok()?;
            return username.split(':').next().filter(|u| !u.is_empty());
        }
        // Attributes are padded to a multiple of four bytes.
        let padded = (len + 3) & !3;
        rest = rest.get(4 + padded..)?;
    }
    None
}

/// Why a datagram was not delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dropped {
    /// Not STUN, DTLS or RTP.
    Malformed,
    /// STUN for a ufrag no connection has (a stale or forged check).
    UnknownUfrag,
    /// Not STUN, from an address no connection has used.
    UnknownAddress,
}

/// Where datagrams go: by ufrag for STUN, by source address for the rest. `T` names a
/// connection (the room's media server and the member's link).
#[derive(Debug)]
pub struct Router<T> {
    by_ufrag: HashMap<String, T>,
    /// Where each known source address goes, and the ufrag it last checked with.
    by_addr: HashMap<SocketAddr, (String, T)>,
    /// The addresses each connection was seen at, to forget them with it.
    addrs_of: HashMap<String, Vec<SocketAddr>>,
    /// Most addresses remembered per connection (ICE may try several paths; a flood of forged
    /// sources with a stolen ufrag must not grow the table without bound).
    max_addrs: usize,
}

impl<T> Default for Router<T> {
    fn default() -> Self {
        Router {
            by_ufrag: HashMap::new(),
            by_addr: HashMap::new(),
            addrs_of: HashMap::new(),
            max_addrs: 8,
        }
    }
}

impl<T: Clone> Router<T> {
    /// A connection with this local ufrag now exists.
    pub fn register(&mut self, ufrag: String, target: T) {
        self.by_ufrag.insert(ufrag, target);
    }

    /// The connection with this ufrag is gone, and with it every address it used.
    pub fn unregister(&mut self, ufrag: &str) {
        self.by_ufrag.remove(ufrag);
        for addr in self.addrs_of.remove(ufrag).unwrap_or_default() {
            self.by_addr.remove(&addr);
        }
    }

    /// Number of connections known.
    pub fn len(&self) -> usize {
        self.by_ufrag.len()
    }

    /// True when no connection is known.
    pub fn is_empty(&self) -> bool {
        self.by_ufrag.is_empty()
    }

    /// Where a datagram from `source` goes.
    pub fn route(&mut self, source: SocketAddr, datagram: &[u8]) -> Result<T, Dropped> {
        match kind(datagram) {
            Kind::Other => Err(Dropped::Malformed),
            Kind::Stun => {
                // A STUN message without USERNAME (a binding response or indication) belongs to
                // whoever uses the address.
                let Some(ufrag) = stun_local_ufrag(datagram) else {
                    return self
                        .by_addr
                        .get(&source)
                        .map(|(_, t)| t.clone())
                        .ok_or(Dropped::UnknownAddress);
                };
                let target = self
                    .by_ufrag
                    .get(ufrag)
                    .cloned()
                    .ok_or(Dropped::UnknownUfrag)?;
                // An address moves to the connection that last checked from it.
                let before = self
                    .by_addr
                    .insert(source, (ufrag.to_owned(), target.clone()));
                if let Some((old, _)) = before.filter(|(old, _)| old != ufrag) {
                    if let Some(list) = self.addrs_of.get_mut(&old) {
                        list.retain(|a| *a != source);
                    }
                }
                let addrs = self.addrs_of.entry(ufrag.to_owned()).or_default();
                if !addrs.contains(&source) {
                    if addrs.len() >= self.max_addrs {
                        let oldest = addrs.remove(0);
                        self.by_addr.remove(&oldest);
                    }
                    addrs.push(source);
                }
                Ok(target)
            }
            Kind::Dtls | Kind::Rtp => self
                .by_addr
                .get(&source)
                .map(|(_, t)| t.clone())
                .ok_or(Dropped::UnknownAddress),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stun(username: &str) -> Vec<u8> {
        let mut attr = Vec::new();
        attr.extend_from_slice(&USERNAME.to_be_bytes());
        attr.extend_from_slice(&(username.len() as u16).to_be_bytes());
        attr.extend_from_slice(username.as_bytes());
        while attr.len() % 4 != 0 {
            attr.push(0);
        }
        // A PRIORITY attribute first, so the parser has to skip one.
        let mut body = vec![0x00, 0x24, 0x00, 0x04, 1, 2, 3, 4];
        body.extend_from_slice(&attr);
        let mut msg = vec![0x00, 0x01];
        msg.extend_from_slice(&(body.len() as u16).to_be_bytes());
        msg.extend_from_slice(&MAGIC_COOKIE);
        msg.extend_from_slice(&[7; 12]);
        msg.extend_from_slice(&body);
        msg
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn the_first_byte_tells_the_protocol() {
        assert_eq!(kind(&[0x00, 0x01]), Kind::Stun);
        assert_eq!(kind(&[22, 254, 253]), Kind::Dtls);
        assert_eq!(kind(&[0x80, 96]), Kind::Rtp);
        assert_eq!(kind(&[0x47]), Kind::Other);
        assert_eq!(kind(&[]), Kind::Other);
    }

    #[test]
    fn the_local_ufrag_is_read_from_username() {
        assert_eq!(stun_local_ufrag(&stun("srv1:brw9")), Some("srv1"));
        assert_eq!(stun_local_ufrag(&stun(":brw9")), None);
        let mut no_cookie = stun("srv1:brw9");
        no_cookie[4] = 0;
        assert_eq!(stun_local_ufrag(&no_cookie), None);
        let mut truncated = stun("srv1:brw9");
        truncated.truncate(30);
        assert_eq!(stun_local_ufrag(&truncated), None);
    }

    #[test]
    fn stun_files_the_address_and_the_rest_follows_it() {
        let mut router = Router::default();
        router.register("srv1".into(), "alice-publish");
        router.register("srv2".into(), "bob-subscribe");
        assert_eq!(
            router.route(addr(5000), &[0x80, 96, 0, 1]),
            Err(Dropped::UnknownAddress)
        );
        assert_eq!(
            router.route(addr(5000), &stun("srv1:x")),
            Ok("alice-publish")
        );
        assert_eq!(
            router.route(addr(5000), &[22, 254, 253]),
            Ok("alice-publish")
        );
        assert_eq!(
            router.route(addr(5001), &stun("srv2:y")),
            Ok("bob-subscribe")
        );
        assert_eq!(router.route(addr(5001), &[0x80, 96]), Ok("bob-subscribe"));
        assert_eq!(
            router.route(addr(5002), &stun("nope:z")),
            Err(Dropped::UnknownUfrag)
        );
        assert_eq!(router.route(addr(5000), &[0x47]), Err(Dropped::Malformed));
        router.unregister("srv1");
        assert_eq!(
            router.route(addr(5000), &[0x80, 96]),
            Err(Dropped::UnknownAddress)
        );
        assert_eq!(router.route(addr(5001), &[0x80, 96]), Ok("bob-subscribe"));
    }

    /// Regression (found by the fuzz test): a source that checked with one link, then another,
    /// then the first again, stayed with the second.
    #[test]
    fn an_address_follows_the_link_it_checked_with_last() {
        let mut router = Router::default();
        router.register("a".into(), 1u8);
        router.register("b".into(), 2u8);
        for (ufrag, want) in [("a:x", 1), ("b:x", 2), ("a:x", 1)] {
            router.route(addr(7000), &stun(ufrag)).unwrap();
            assert_eq!(router.route(addr(7000), &[0x80]), Ok(want));
        }
        router.unregister("b");
        assert_eq!(
            router.route(addr(7000), &[0x80]),
            Ok(1),
            "b's leaving does not take it"
        );
    }

    #[test]
    fn a_flood_of_sources_for_one_ufrag_stays_bounded() {
        let mut router = Router::default();
        router.register("srv1".into(), 1u8);
        for port in 1000..2000 {
            router.route(addr(port), &stun("srv1:x")).unwrap();
        }
        assert_eq!(router.by_addr.len(), router.max_addrs);
        assert_eq!(router.route(addr(1999), &[0x80]), Ok(1));
        assert_eq!(
            router.route(addr(1000), &[0x80]),
            Err(Dropped::UnknownAddress)
        );
    }
}
