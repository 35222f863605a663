//! The full mesh: one peer-to-peer link per other member of the room, end-to-end encrypted.
//!
//! Links are opened as the room says (`welcome`, `peer-joined`) with the roles the room elected
//! for each pair (who offers first, who is polite), and closed when a member leaves. Signals
//! travel as `signal` frames addressed to the one peer of a link. Each description a peer sends
//! says what it sends on each of its lines ([`treff_shared::MediaLine`]); the mesh keeps that per
//! link, so a remote track is filed under the peer and the kind its sender announced.

use treff_shared::{ClientMessage, IceServer, MediaKind, Peer, PeerId, SignalData, Welcome};

use super::table::Table;
use super::transport::{
    LinkCommand, LinkId, LinkIds, LinkRole, LinkSpec, SignalSource, TrackKind, Transport,
};

/// One link per other member.
#[derive(Debug, Default)]
pub struct Mesh {
    ice_servers: Vec<IceServer>,
    by_peer: Table<PeerId, LinkId>,
    by_link: Table<LinkId, PeerId>,
    /// What the remote side of each link announced it sends on each `mid`.
    lines: Table<LinkId, Table<String, MediaKind>>,
}

impl Mesh {
    /// An empty mesh.
    pub fn new() -> Mesh {
        Mesh::default()
    }

    /// The link to `peer`, if there is one.
    pub fn link_of(&self, peer: &PeerId) -> Option<LinkId> {
        self.by_peer.get(peer).copied()
    }

    /// Closes the links to everyone not in `present` and opens none (a resumed membership in a
    /// room that no longer uses the mesh).
    pub fn retain(&mut self, present: &[PeerId], out: &mut Vec<LinkCommand>) {
        let gone: Vec<PeerId> = self
            .by_peer
            .keys()
            .filter(|p| !present.contains(p))
            .cloned()
            .collect();
        for peer in gone {
            self.close(&peer, out);
        }
    }

    /// Opens a link to each of `peers` that has none (the room switched to the mesh).
    pub fn connect(
        &mut self,
        peers: &[Peer],
        ice_servers: &[IceServer],
        ids: &mut LinkIds,
        out: &mut Vec<LinkCommand>,
    ) {
        self.ice_servers = ice_servers.to_vec();
        for peer in peers {
            if !self.by_peer.contains_key(&peer.peer_id) {
                self.open(peer, ids, out);
            }
        }
    }

    fn open(&mut self, peer: &Peer, ids: &mut LinkIds, out: &mut Vec<LinkCommand>) {
        self.close(&peer.peer_id, out);
        let id = ids.allocate();
        self.by_peer.insert(peer.peer_id.clone(), id);
        self.by_link.insert(id, peer.peer_id.clone());
        out.push(LinkCommand::Open(LinkSpec {
            id,
            label: format!("mesh/{}", peer.peer_id),
            ice_servers: self.ice_servers.clone(),
            offer: peer.offer,
            polite: peer.polite,
            role: LinkRole::Mesh,
        }));
    }

    fn close(&mut self, peer: &PeerId, out: &mut Vec<LinkCommand>) {
        if let Some(id) = self.by_peer.remove(peer) {
            self.by_link.remove(&id);
            self.lines.remove(&id);
            out.push(LinkCommand::Close(id));
        }
    }
}

impl Transport for Mesh {
    fn welcome(
        &mut self,
        welcome: &Welcome,
        keep: bool,
        ids: &mut LinkIds,
        out: &mut Vec<LinkCommand>,
    ) {
        self.ice_servers = welcome.ice_servers.clone();
        let stale: Vec<PeerId> = self
            .by_peer
            .keys()
            .filter(|id| !keep || !welcome.peers.iter().any(|p| &p.peer_id == *id))
            .cloned()
            .collect();
        for peer in stale {
            self.close(&peer, out);
        }
        for peer in &welcome.peers {
            if !self.by_peer.contains_key(&peer.peer_id) {
                self.open(peer, ids, out);
            }
        }
    }

    fn peer_joined(&mut self, peer: &Peer, ids: &mut LinkIds, out: &mut Vec<LinkCommand>) {
        // A member that rejoined under the same id starts over with a new link.
        self.open(peer, ids, out);
    }

    fn peer_left(&mut self, peer: &PeerId, out: &mut Vec<LinkCommand>) {
        self.close(peer, out);
    }

    fn remote_signal(
        &mut self,
        from: &SignalSource,
        data: SignalData,
        out: &mut Vec<LinkCommand>,
    ) -> bool {
        let SignalSource::Peer(from) = from else {
            return false;
        };
        let Some(&link) = self.by_peer.get(from) else {
            return false;
        };
        if let SignalData::Description(description) = &data {
            let lines = self.lines.entry_or_default(link);
            for line in &description.media {
                lines.insert(line.mid.clone(), line.kind);
            }
        }
        out.push(LinkCommand::Deliver(link, data));
        true
    }

    fn local_signal(&self, link: LinkId, data: SignalData) -> Option<ClientMessage> {
        let to = self.by_link.get(&link)?.clone();
        Some(ClientMessage::Signal { to, data })
    }

    fn source(
        &self,
        link: LinkId,
        mid: Option<&str>,
        kind: TrackKind,
    ) -> Option<(PeerId, MediaKind)> {
        let peer = self.by_link.get(&link)?.clone();
        let announced = mid.and_then(|mid| self.lines.get(&link)?.get(mid).copied());
        let media = match (announced, kind) {
            // The sender's word, where it fits the track.
            (Some(MediaKind::Audio), TrackKind::Audio) => MediaKind::Audio,
            (Some(video @ (MediaKind::Camera | MediaKind::Screen)), TrackKind::Video) => video,
            // A sender that announced nothing for this line: microphone and camera.
            (_, TrackKind::Audio) => MediaKind::Audio,
            (_, TrackKind::Video) => MediaKind::Camera,
        };
        Some((peer, media))
    }

    fn peers_on(&self, link: LinkId) -> Vec<PeerId> {
        self.by_link.get(&link).cloned().into_iter().collect()
    }

    fn links(&self) -> Vec<LinkId> {
        self.by_link.keys().copied().collect()
    }

    fn close_peer(&mut self, peer: &PeerId, out: &mut Vec<LinkCommand>) {
        self.close(peer, out);
    }

    fn close_all(&mut self, out: &mut Vec<LinkCommand>) {
        let peers: Vec<PeerId> = self.by_peer.keys().cloned().collect();
        for peer in peers {
            self.close(&peer, out);
        }
    }
}
