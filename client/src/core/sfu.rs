//! Through the media server: two links to treff's SFU carry everyone's media.
//!
//! On the *publish* link we send our microphone, camera (in simulcast layers) and screen; we
//! offer and the server answers, so it never offers there. On the *subscribe* link the server
//! sends the others' media; it offers and we answer, so we never offer there. With one offerer
//! per link, offers cannot collide. Each description the server sends names whose media each of
//! its lines carries ([`treff_shared::MediaLine::peer`]). Both links belong to one mode epoch;
//! signals of another epoch are not theirs.

use treff_shared::{
    ClientMessage, IceServer, MediaKind, MediaLink, Peer, PeerId, SignalData, Welcome,
};

use super::table::Table;
use super::transport::{
    LinkCommand, LinkId, LinkIds, LinkRole, LinkSpec, SignalSource, TrackKind, Transport,
};

/// The two links of one SFU epoch.
#[derive(Debug)]
pub struct Sfu {
    epoch: u32,
    publish: LinkId,
    subscribe: LinkId,
    /// The members in the room, so every subscribe-link state concerns them all.
    members: Vec<PeerId>,
    /// Whose media each line of the subscribe link carries, and what it is.
    lines: Table<String, (PeerId, MediaKind)>,
    open: bool,
    /// The publish link exists (not for viewers).
    publishes: bool,
}

impl Sfu {
    /// Opens the links of `epoch`: both, or only the subscribe link for a viewer, who
    /// publishes nothing.
    pub fn open(
        epoch: u32,
        ice_servers: &[IceServer],
        members: Vec<PeerId>,
        publishes: bool,
        ids: &mut LinkIds,
        out: &mut Vec<LinkCommand>,
    ) -> Sfu {
        let publish = ids.allocate();
        let subscribe = ids.allocate();
        if publishes {
            out.push(LinkCommand::Open(LinkSpec {
                id: publish,
                label: format!("sfu/{epoch}/publish"),
                ice_servers: ice_servers.to_vec(),
                offer: true,
                polite: true,
                role: LinkRole::Publish,
            }));
        }
        out.push(LinkCommand::Open(LinkSpec {
            id: subscribe,
            label: format!("sfu/{epoch}/subscribe"),
            ice_servers: ice_servers.to_vec(),
            offer: false,
            polite: true,
            role: LinkRole::Subscribe,
        }));
        Sfu {
            epoch,
            publish,
            subscribe,
            members,
            lines: Table::new(),
            open: true,
            publishes,
        }
    }

    /// The mode epoch of these links.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The link that carries the others' media.
    pub fn subscribe_link(&self) -> LinkId {
        self.subscribe
    }
}

impl Transport for Sfu {
    fn welcome(
        &mut self,
        welcome: &Welcome,
        _keep: bool,
        _ids: &mut LinkIds,
        _out: &mut Vec<LinkCommand>,
    ) {
        // The links stay: whoever is in the room reaches us through the server either way.
        self.members = welcome.peers.iter().map(|p| p.peer_id.clone()).collect();
    }

    fn peer_joined(&mut self, peer: &Peer, _ids: &mut LinkIds, _out: &mut Vec<LinkCommand>) {
        if !self.members.contains(&peer.peer_id) {
            self.members.push(peer.peer_id.clone());
        }
    }

    fn peer_left(&mut self, peer: &PeerId, _out: &mut Vec<LinkCommand>) {
        self.members.retain(|p| p != peer);
        self.lines.retain(|_, (owner, _)| owner != peer);
    }

    fn remote_signal(
        &mut self,
        from: &SignalSource,
        data: SignalData,
        out: &mut Vec<LinkCommand>,
    ) -> bool {
        let SignalSource::MediaServer { epoch, link } = from else {
            return false;
        };
        if *epoch != self.epoch || !self.open {
            return false;
        }
        let id = match link {
            MediaLink::Publish => self.publish,
            MediaLink::Subscribe => self.subscribe,
        };
        if let (MediaLink::Subscribe, SignalData::Description(description)) = (link, &data) {
            for line in &description.media {
                if let Some(peer) = &line.peer {
                    self.lines
                        .insert(line.mid.clone(), (peer.clone(), line.kind));
                }
            }
        }
        out.push(LinkCommand::Deliver(id, data));
        true
    }

    fn local_signal(&self, link: LinkId, data: SignalData) -> Option<ClientMessage> {
        let link = if link == self.publish {
            MediaLink::Publish
        } else if link == self.subscribe {
            MediaLink::Subscribe
        } else {
            return None;
        };
        Some(ClientMessage::MediaSignal {
            epoch: self.epoch,
            link,
            data,
        })
    }

    fn source(
        &self,
        link: LinkId,
        mid: Option<&str>,
        kind: TrackKind,
    ) -> Option<(PeerId, MediaKind)> {
        if link != self.subscribe {
            return None;
        }
        let (peer, media) = self.lines.get(mid?)?;
        match (media, kind) {
            (MediaKind::Audio, TrackKind::Audio)
            | (MediaKind::Camera | MediaKind::Screen, TrackKind::Video) => {
                Some((peer.clone(), *media))
            }
            _ => None,
        }
    }

    fn peers_on(&self, link: LinkId) -> Vec<PeerId> {
        if link == self.subscribe {
            self.members.clone()
        } else {
            Vec::new()
        }
    }

    fn links(&self) -> Vec<LinkId> {
        match (self.open, self.publishes) {
            (false, _) => Vec::new(),
            (true, true) => vec![self.publish, self.subscribe],
            (true, false) => vec![self.subscribe],
        }
    }

    fn close_peer(&mut self, _peer: &PeerId, _out: &mut Vec<LinkCommand>) {
        // Both links carry everyone: nothing belongs to one member alone.
    }

    fn close_all(&mut self, out: &mut Vec<LinkCommand>) {
        if std::mem::replace(&mut self.open, false) {
            if self.publishes {
                out.push(LinkCommand::Close(self.publish));
            }
            out.push(LinkCommand::Close(self.subscribe));
        }
        self.lines.clear();
    }
}
