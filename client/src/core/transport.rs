//! The transport seam: how media travels between the participants of a call.
//!
//! The call core ([`super::CallCore`]) knows who is in the room and what the person wants; a
//! [`Transport`] knows which connections (links) that takes and how signals reach them. There
//! are two: the full mesh ([`super::mesh::Mesh`]), one peer-to-peer link per other member, and
//! the media server ([`super::sfu::Sfu`]), two links that carry everyone's media, whose
//! descriptions name the owner of each remote line. The core switches between them as the room
//! says, keeping the old one until the new one shows pictures.
//!
//! Everything here is plain data: a transport returns [`LinkCommand`]s that the IO layer
//! (`crate::io`) executes with real `RTCPeerConnection`s.

use treff_shared::{
    ClientMessage, IceServer, MediaKind, MediaLink, Peer, PeerId, SignalData, Welcome,
};

/// Names one connection of the call. Assigned by the core, never reused within a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkId(pub u32);

/// Hands out [`LinkId`]s; shared by every transport of a call, so two never collide.
#[derive(Debug, Default)]
pub struct LinkIds(u32);

impl LinkIds {
    /// The next unused id.
    pub fn allocate(&mut self) -> LinkId {
        self.0 += 1;
        LinkId(self.0)
    }
}

/// What the IO layer needs to open a link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkSpec {
    /// The link's id.
    pub id: LinkId,
    /// Names the link in the test hook (`window.__treff.connections()`) and in the console, e.g.
    /// `mesh/p3kx9`.
    pub label: String,
    /// STUN and TURN servers for `RTCPeerConnection`.
    pub ice_servers: Vec<IceServer>,
    /// Attach the local tracks and send the first offer at once; otherwise wait for the remote
    /// offer.
    pub offer: bool,
    /// Roll back our own offer in a collision, until a first negotiation has completed.
    pub polite: bool,
    /// What the link sends and how.
    pub role: LinkRole,
}

/// What a link sends and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkRole {
    /// Peer to peer: our microphone, camera and screen one way, theirs the other.
    Mesh,
    /// To the media server: our microphone, camera (in simulcast layers) and screen; nothing
    /// comes back on it.
    Publish,
    /// From the media server: everyone else's media; we send nothing on it and never offer.
    Subscribe,
}

/// Where a relayed signal comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignalSource {
    /// Another member (peer-to-peer links).
    Peer(PeerId),
    /// The media server, for one of our two links of a mode epoch.
    MediaServer {
        /// The mode epoch.
        epoch: u32,
        /// Which link.
        link: MediaLink,
    },
}

/// What a transport asks the IO layer to do with links.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkCommand {
    /// Create a link.
    Open(LinkSpec),
    /// Close a link for good.
    Close(LinkId),
    /// Apply a description or candidate that arrived from the link's remote side.
    Deliver(LinkId, SignalData),
}

/// The kind of a track as the browser reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrackKind {
    /// An audio track.
    Audio,
    /// A video track.
    Video,
}

/// How media travels: which links a room needs and how signals map to them.
pub trait Transport {
    /// A `welcome`. With `keep` (the same membership resumed), links to members still present
    /// stay; every other link is closed, and links to the members listed are opened.
    fn welcome(
        &mut self,
        welcome: &Welcome,
        keep: bool,
        ids: &mut LinkIds,
        out: &mut Vec<LinkCommand>,
    );

    /// Someone entered the room.
    fn peer_joined(&mut self, peer: &Peer, ids: &mut LinkIds, out: &mut Vec<LinkCommand>);

    /// Someone left the room for good.
    fn peer_left(&mut self, peer: &PeerId, out: &mut Vec<LinkCommand>);

    /// A signal the server relayed from `from`. False when no link takes it (a late signal
    /// from someone who already left, or of another epoch).
    fn remote_signal(
        &mut self,
        from: &SignalSource,
        data: SignalData,
        out: &mut Vec<LinkCommand>,
    ) -> bool;

    /// The frame that carries a signal a link produced to its remote side.
    fn local_signal(&self, link: LinkId, data: SignalData) -> Option<ClientMessage>;

    /// Whose media a remote line of `link` carries, and what it is: from what the sender
    /// announced for the line's `mid`.
    fn source(
        &self,
        link: LinkId,
        mid: Option<&str>,
        kind: TrackKind,
    ) -> Option<(PeerId, MediaKind)>;

    /// The members whose media travel on `link` (their tiles show its state).
    fn peers_on(&self, link: LinkId) -> Vec<PeerId>;

    /// Every open link.
    fn links(&self) -> Vec<LinkId>;

    /// Closes what carries nobody's media but `peer`'s (the other transport shows them now).
    fn close_peer(&mut self, peer: &PeerId, out: &mut Vec<LinkCommand>);

    /// Closes every link.
    fn close_all(&mut self, out: &mut Vec<LinkCommand>);
}
