//! The full mesh: one [`PeerLink`] per other participant, created and dropped as the room says,
//! and every signal routed to its link.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use treff_shared::{IceServer, Peer, PeerId, SignalData, Welcome};

use crate::js;
use crate::peer::{LocalTracks, PeerEvent, PeerLink};

/// What the mesh reports, tagged with the peer it concerns.
pub struct MeshEvent {
    /// The peer.
    pub peer: PeerId,
    /// What happened on its link.
    pub event: PeerEvent,
}

struct Inner {
    links: RefCell<BTreeMap<PeerId, PeerLink>>,
    ice_servers: RefCell<Vec<IceServer>>,
    local: RefCell<LocalTracks>,
    on_event: Rc<dyn Fn(MeshEvent)>,
}

/// The set of peer connections; cloning shares it.
#[derive(Clone)]
pub struct Mesh {
    inner: Rc<Inner>,
}

impl Mesh {
    /// An empty mesh that reports through `on_event`.
    pub fn new(on_event: impl Fn(MeshEvent) + 'static) -> Mesh {
        Mesh {
            inner: Rc::new(Inner {
                links: RefCell::new(BTreeMap::new()),
                ice_servers: RefCell::new(Vec::new()),
                local: RefCell::new(LocalTracks::default()),
                on_event: Rc::new(on_event),
            }),
        }
    }

    /// Applies a `welcome`. With `keep` (a resumed session with the same peer id), links to
    /// peers still present survive and get an ICE restart if they went down; otherwise every
    /// link is rebuilt.
    pub fn apply_welcome(&self, welcome: &Welcome, keep: bool) {
        *self.inner.ice_servers.borrow_mut() = welcome.ice_servers.clone();
        let stale: Vec<PeerId> = self
            .inner
            .links
            .borrow()
            .keys()
            .filter(|id| !keep || !welcome.peers.iter().any(|p| &p.peer_id == *id))
            .cloned()
            .collect();
        for id in stale {
            self.remove(&id);
        }
        for peer in &welcome.peers {
            let existing = self.inner.links.borrow().get(&peer.peer_id).cloned();
            match existing {
                Some(link) => link.recover(),
                None => self.add(peer),
            }
        }
    }

    /// Creates the link to a peer (replacing a stale one with the same id).
    pub fn add(&self, peer: &Peer) {
        self.remove(&peer.peer_id);
        let on_event = self.inner.on_event.clone();
        let id = peer.peer_id.clone();
        let result = PeerLink::new(
            &peer.peer_id,
            &self.inner.ice_servers.borrow(),
            peer.offer,
            peer.polite,
            self.inner.local.borrow().clone(),
            move |event| {
                on_event(MeshEvent {
                    peer: id.clone(),
                    event,
                })
            },
        );
        match result {
            Ok(link) => {
                self.inner
                    .links
                    .borrow_mut()
                    .insert(peer.peer_id.clone(), link);
            }
            Err(err) => js::warn(&format!("treff: {err}")),
        }
    }

    /// Closes the link to a peer that left.
    pub fn remove(&self, id: &PeerId) {
        let link = self.inner.links.borrow_mut().remove(id);
        if let Some(link) = link {
            link.close();
            crate::hook::unregister(id.as_str());
        }
    }

    /// Routes a signal to the link of its sender.
    pub fn on_signal(&self, from: &PeerId, data: SignalData) {
        let link = self.inner.links.borrow().get(from).cloned();
        match link {
            Some(link) => link.on_signal(data),
            None => js::warn(&format!("treff: signal from unknown peer {from}")),
        }
    }

    /// Changes what every link sends (device switch, screen share).
    pub fn set_local(&self, local: LocalTracks) {
        *self.inner.local.borrow_mut() = local.clone();
        let links: Vec<PeerLink> = self.inner.links.borrow().values().cloned().collect();
        for link in links {
            link.set_local(local.clone());
        }
    }

    /// Closes every link.
    pub fn close_all(&self) {
        let ids: Vec<PeerId> = self.inner.links.borrow().keys().cloned().collect();
        for id in ids {
            self.remove(&id);
        }
    }
}
