//! How the others' media reach us, and the switch between the two ways: the full mesh and the
//! media server. Sans-IO; part of the call core.
//!
//! The room decides the mode ([`MediaMode`]) and announces every switch with a higher epoch.
//! A switch is make-before-break: the new transport's links come up while the old ones keep
//! carrying media; each tile keeps its old track until the new transport's track for it shows
//! frames ([`LinkEvent::Flowing`]), then it swaps. Once all of a member's tiles have swapped we
//! tell that member ([`SignalData::Swapped`]); what the old transport kept for a member closes
//! when both sides have swapped (our tiles of them and theirs of us), or at the latest after
//! [`SWITCH_DEADLINE_MS`] once the new transport is connected. Closing on our side alone would
//! stop the other side's picture of us while it still shows the old link.

use treff_shared::{
    IceServer, MediaKind, MediaMode, NoPathCause, Peer, PeerId, SignalData, TileSize, Welcome,
};

use super::budget::{self, VideoCap};
use super::mesh::Mesh;
use super::sfu::Sfu;
use super::table::Table;
#[cfg(test)]
use super::transport::TrackKind;
use super::transport::{LinkCommand, LinkId, LinkIds, SignalSource, Transport};
use super::{Command, IceState, LinkEvent};
use crate::state::{Action, LinkState};

/// Old links close at the latest this long after a switch, if the new transport is connected.
pub const SWITCH_DEADLINE_MS: u64 = 10_000;

/// A link whose ICE stays disconnected this long restarts ICE, without waiting for "failed"
/// (which Chromium reaches only after about 15 s): a network that changed under it (another
/// Wi-Fi, a phone hotspot) then has new candidates within seconds.
pub const RESTART_DISCONNECTED_MS: u64 = 2_000;

/// A link that carried traffic and then received nothing for this long may have lost its
/// path (audio alone brings 50 packets a second): the browser would notice a vanished
/// network only after about 6 s, when its checks go unanswered. The signaling is checked at
/// once; if our network changed, it is gone too, and the resumed connection restarts ICE on
/// the stalled link. If the signaling answers, our network is fine: the other side's changed
/// (it restarts) or its page was too busy to send (nothing to repair).
pub const STALL_MS: u64 = 1_000;

/// A stall at least this long has cost the other side's decoder its reference frames: once
/// traffic comes back, our video starts over with a keyframe.
const REFRESH_AFTER_MS: u64 = 2_000;
/// After a path came back, how long until the second keyframe.
const REFRESH_AGAIN_MS: u64 = 1_000;

/// Tile sizes are sent again, unchanged, this often.
const TILES_REFRESH_MS: u64 = 5_000;

/// Byte counts (one per sample, every 500 ms) that must grow in a row before a link counts
/// as carrying traffic, and its silence as a stall.
const BUSY_SAMPLES: u8 = 3;

/// What a link's received bytes told so far.
#[derive(Clone, Copy, Debug, Default)]
struct Liveness {
    bytes: u64,
    changed_ms: u64,
    busy: u8,
    stalled: bool,
    /// After a path came back: when to send a keyframe once more.
    refresh_again_ms: Option<u64>,
}

/// A remote track and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Track {
    link: LinkId,
    mid: Option<String>,
    track_id: String,
    /// It has shown frames (or, for audio, sound).
    flowing: bool,
    /// Its flow is being watched.
    watched: bool,
}

/// The tracks we have from one member and the ones on their tiles.
#[derive(Clone, Debug, Default)]
struct MemberTracks {
    tracks: Table<MediaKind, Vec<Track>>,
    shown: Table<MediaKind, (LinkId, String)>,
}

/// Which transport a link belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    Mesh,
    Sfu,
}

/// The media paths of a call.
#[derive(Debug, Default)]
pub struct Paths {
    mesh: Mesh,
    sfu: Option<Sfu>,
    mode: MediaMode,
    epoch: u32,
    /// The members in join order, with our role towards each (for mesh links).
    roster: Vec<Peer>,
    ice_servers: Vec<IceServer>,
    members: Table<PeerId, MemberTracks>,
    link_states: Table<LinkId, LinkState>,
    ice: Table<LinkId, IceState>,
    /// When the last switch began (the first tick after it), while old links remain.
    switch_started: Option<u64>,
    /// A switch happened and its start time is not known yet.
    switching: bool,
    now_ms: u64,
    /// The tile sizes last sent to the media server.
    sent_tiles: Vec<TileSize>,
    /// When they were last sent.
    tiles_sent_ms: u64,
    /// We only watch: no publish link to the media server.
    viewer: bool,
    /// The newest epoch each member said its tiles of us moved to.
    heard_swapped: Table<PeerId, u32>,
    /// The epoch we last told each member our tiles of them moved to.
    told_swapped: Table<PeerId, u32>,
    /// Links that gathered a relay candidate of ours.
    relayed: Table<LinkId, ()>,
    /// Links whose ICE failed without a relay to fall back on (reported to the server once).
    no_path: Table<LinkId, NoPathCause>,
    /// Links whose ICE went disconnected, and since when (`None`: seen, time not known yet;
    /// removed once restarted or back).
    disconnected: Table<LinkId, Option<u64>>,
    /// Whether each link still receives what it received.
    liveness: Table<LinkId, Liveness>,
    /// The upload all peer links may use together, in kbit/s (0: no budget).
    upload_kbps: u32,
    /// Each peer link's share of it, as last told to the link.
    caps: Table<LinkId, VideoCap>,
}

impl Paths {
    /// The current mode.
    pub fn mode(&self) -> MediaMode {
        self.mode
    }

    /// We only watch from now on: later links to the media server publish nothing.
    pub fn set_viewer(&mut self) {
        self.viewer = true;
    }

    fn owner(&self, link: LinkId) -> Option<Owner> {
        if self.mesh.links().contains(&link) {
            Some(Owner::Mesh)
        } else if self.sfu.as_ref().is_some_and(|s| s.links().contains(&link)) {
            Some(Owner::Sfu)
        } else {
            None
        }
    }

    fn active(&self) -> Owner {
        match self.mode {
            MediaMode::Mesh => Owner::Mesh,
            MediaMode::Sfu => Owner::Sfu,
        }
    }

    fn transport(&mut self, owner: Owner) -> Option<&mut dyn Transport> {
        match owner {
            Owner::Mesh => Some(&mut self.mesh),
            Owner::Sfu => self.sfu.as_mut().map(|s| s as &mut dyn Transport),
        }
    }

    /// Every open link.
    pub fn links(&self) -> Vec<LinkId> {
        let mut links = self.mesh.links();
        if let Some(sfu) = &self.sfu {
            links.extend(sfu.links());
        }
        links
    }

    fn emit(&mut self, commands: Vec<LinkCommand>, out: &mut Vec<Command>) {
        for command in commands {
            if let LinkCommand::Close(link) = &command {
                self.forget_link(*link, out);
            }
            out.push(Command::Link(command));
        }
    }

    /// A closed link's state and tracks are forgotten; tiles it fed fall back to what else
    /// there is.
    fn forget_link(&mut self, link: LinkId, out: &mut Vec<Command>) {
        self.ice.remove(&link);
        self.link_states.remove(&link);
        self.relayed.remove(&link);
        self.no_path.remove(&link);
        self.disconnected.remove(&link);
        self.liveness.remove(&link);
        let mut affected = Vec::new();
        for (peer, member) in self.members.iter_mut() {
            for tracks in member.tracks.values_mut() {
                tracks.retain(|t| t.link != link);
            }
            let before = member.shown.len();
            member.shown.retain(|_, (l, _)| *l != link);
            if member.shown.len() != before {
                affected.push(peer.clone());
            }
        }
        for peer in affected {
            for kind in [MediaKind::Audio, MediaKind::Camera, MediaKind::Screen] {
                self.decide(&peer, kind, out);
            }
        }
    }

    /// A `welcome`: the members now, and the mode the room is in.
    pub fn welcome(
        &mut self,
        welcome: &Welcome,
        keep: bool,
        ids: &mut LinkIds,
        out: &mut Vec<Command>,
    ) {
        self.roster = welcome.peers.clone();
        self.ice_servers = welcome.ice_servers.clone();
        self.upload_kbps = welcome.mesh_upload_kbps;
        let present: Vec<PeerId> = welcome.peers.iter().map(|p| p.peer_id.clone()).collect();
        if !keep {
            self.members.clear();
        }
        self.members.retain(|peer, _| present.contains(peer));
        let mut commands = Vec::new();
        let switched = keep && (welcome.mode != self.mode || welcome.mode_epoch != self.epoch);
        match welcome.mode {
            MediaMode::Mesh => {
                self.mesh.welcome(welcome, keep, ids, &mut commands);
                if let Some(sfu) = &mut self.sfu {
                    if keep {
                        sfu.welcome(welcome, keep, ids, &mut commands);
                    } else {
                        sfu.close_all(&mut commands);
                    }
                }
            }
            MediaMode::Sfu => {
                let same = keep
                    && self
                        .sfu
                        .as_ref()
                        .is_some_and(|s| s.epoch() == welcome.mode_epoch);
                if same {
                    if let Some(sfu) = &mut self.sfu {
                        sfu.welcome(welcome, keep, ids, &mut commands);
                    }
                } else {
                    if let Some(old) = &mut self.sfu {
                        old.close_all(&mut commands);
                    }
                    self.sfu = None;
                }
                if keep {
                    self.mesh.retain(&present, &mut commands);
                } else {
                    self.mesh.close_all(&mut commands);
                }
                if !same {
                    // Closed links are forgotten before the new ones exist.
                    self.emit(std::mem::take(&mut commands), out);
                    self.sfu = Some(Sfu::open(
                        welcome.mode_epoch,
                        &welcome.ice_servers,
                        present.clone(),
                        !self.viewer,
                        ids,
                        &mut commands,
                    ));
                }
            }
        }
        self.mode = welcome.mode;
        self.epoch = welcome.mode_epoch;
        if switched {
            self.begin_switch();
        }
        self.emit(commands, out);
        out.push(Command::Ui(Action::Mode(self.mode)));
    }

    fn begin_switch(&mut self) {
        self.switching = true;
        self.switch_started = None;
        self.sent_tiles.clear();
    }

    /// The room switched how its media travel.
    pub fn switch(
        &mut self,
        mode: MediaMode,
        epoch: u32,
        ids: &mut LinkIds,
        out: &mut Vec<Command>,
    ) {
        if epoch <= self.epoch {
            // An announcement older than what we know (a welcome already said more).
            return;
        }
        let mut commands = Vec::new();
        self.mode = mode;
        self.epoch = epoch;
        match mode {
            MediaMode::Sfu => {
                if let Some(old) = &mut self.sfu {
                    old.close_all(&mut commands);
                }
                self.sfu = None;
                self.emit(std::mem::take(&mut commands), out);
                let members = self.roster.iter().map(|p| p.peer_id.clone()).collect();
                self.sfu = Some(Sfu::open(
                    epoch,
                    &self.ice_servers,
                    members,
                    !self.viewer,
                    ids,
                    &mut commands,
                ));
            }
            MediaMode::Mesh => {
                let roster = self.roster.clone();
                self.mesh
                    .connect(&roster, &self.ice_servers, ids, &mut commands);
            }
        }
        self.begin_switch();
        self.emit(commands, out);
        out.push(Command::Ui(Action::Mode(mode)));
        // Tiles fed by the old transport stay until the new one shows frames.
        let peers: Vec<PeerId> = self.members.keys().cloned().collect();
        for peer in peers {
            for kind in [MediaKind::Audio, MediaKind::Camera, MediaKind::Screen] {
                self.decide(&peer, kind, out);
            }
        }
    }

    /// Someone entered the room.
    pub fn peer_joined(&mut self, peer: &Peer, ids: &mut LinkIds, out: &mut Vec<Command>) {
        self.roster.retain(|p| p.peer_id != peer.peer_id);
        self.roster.push(peer.clone());
        self.forget_member(&peer.peer_id);
        let mut commands = Vec::new();
        match self.mode {
            MediaMode::Mesh => self.mesh.peer_joined(peer, ids, &mut commands),
            MediaMode::Sfu => {
                // A rejoin under the same id: the old link to it is useless.
                self.mesh.close_peer(&peer.peer_id, &mut commands);
            }
        }
        if let Some(sfu) = &mut self.sfu {
            sfu.peer_joined(peer, ids, &mut commands);
        }
        self.emit(commands, out);
    }

    /// Someone left for good.
    pub fn peer_left(&mut self, peer: &PeerId, out: &mut Vec<Command>) {
        self.roster.retain(|p| &p.peer_id != peer);
        self.forget_member(peer);
        let mut commands = Vec::new();
        self.mesh.peer_left(peer, &mut commands);
        if let Some(sfu) = &mut self.sfu {
            sfu.peer_left(peer, &mut commands);
        }
        self.emit(commands, out);
    }

    fn forget_member(&mut self, peer: &PeerId) {
        self.members.remove(peer);
        self.heard_swapped.remove(peer);
        self.told_swapped.remove(peer);
    }

    /// A signal relayed by the server; false when no link (or member) takes it.
    pub fn remote_signal(
        &mut self,
        from: &SignalSource,
        data: SignalData,
        out: &mut Vec<Command>,
    ) -> bool {
        if let (SignalSource::Peer(peer), SignalData::Swapped { epoch }) = (from, &data) {
            if !self.roster.iter().any(|p| &p.peer_id == peer) {
                return false;
            }
            let heard = self.heard_swapped.entry_or_default(peer.clone());
            *heard = (*heard).max(*epoch);
            return true;
        }
        let mut commands = Vec::new();
        let taken = match from {
            SignalSource::Peer(_) => self.mesh.remote_signal(from, data, &mut commands),
            SignalSource::MediaServer { .. } => self
                .sfu
                .as_mut()
                .is_some_and(|sfu| sfu.remote_signal(from, data, &mut commands)),
        };
        self.emit(commands, out);
        taken
    }

    /// Closes everything.
    pub fn close_all(&mut self, out: &mut Vec<Command>) {
        let mut commands = Vec::new();
        self.mesh.close_all(&mut commands);
        if let Some(sfu) = &mut self.sfu {
            sfu.close_all(&mut commands);
        }
        self.sfu = None;
        self.emit(commands, out);
        self.members.clear();
    }

    /// The links whose ICE went down while we were away and need new credentials (only links
    /// we offer on can restart: the media server offers on the subscribe link).
    pub fn links_to_restart(&self) -> Vec<LinkId> {
        self.offering_links()
            .into_iter()
            .filter(|l| self.ice_down(*l))
            .collect()
    }

    /// The links we offer on whose ICE is up: an offer of theirs still unanswered may have
    /// been lost while we were away, and goes again.
    pub fn links_to_resend(&self) -> Vec<LinkId> {
        self.offering_links()
            .into_iter()
            .filter(|l| !self.ice_down(*l))
            .collect()
    }

    /// Every link we may offer on (the media server offers on the subscribe link).
    fn offering_links(&self) -> Vec<LinkId> {
        let mut links = self.mesh.links();
        if let Some(sfu) = &self.sfu {
            links.extend(
                sfu.links()
                    .into_iter()
                    .filter(|l| *l != sfu.subscribe_link()),
            );
        }
        links
    }

    /// Whether a link's ICE is failed or disconnected.
    fn ice_down(&self, link: LinkId) -> bool {
        matches!(
            self.ice.get(&link),
            Some(IceState::Failed | IceState::Disconnected)
        ) || self.liveness.get(&link).is_some_and(|l| l.stalled)
    }

    /// The peer links to `peer` whose ICE is down (failed, disconnected or stalled).
    pub fn links_to_restart_to(&self, peer: &PeerId) -> Vec<LinkId> {
        self.mesh
            .link_of(peer)
            .into_iter()
            .filter(|l| self.ice_down(*l))
            .collect()
    }

    /// The peer links to `peer` whose ICE is up (an unanswered offer on them goes again).
    pub fn links_to_resend_to(&self, peer: &PeerId) -> Vec<LinkId> {
        self.mesh
            .link_of(peer)
            .into_iter()
            .filter(|l| !self.ice_down(*l))
            .collect()
    }

    /// Something happened on a link; `connected`: the signaling is up.
    pub fn link_event(
        &mut self,
        link: LinkId,
        event: LinkEvent,
        connected: bool,
        out: &mut Vec<Command>,
    ) {
        let Some(owner) = self.owner(link) else {
            // A closed link's last words.
            return;
        };
        match event {
            LinkEvent::Signal(data) => {
                if let SignalData::Candidate(Some(candidate)) = &data {
                    if candidate.candidate.contains(" typ relay") {
                        self.relayed.insert(link, ());
                    }
                }
                let message = self
                    .transport(owner)
                    .and_then(|t| t.local_signal(link, data));
                if let Some(message) = message {
                    out.push(Command::Send(message));
                }
            }
            LinkEvent::State(state) => {
                self.link_states.insert(link, state);
                if state == LinkState::Connected {
                    self.no_path.remove(&link);
                }
                // Chromium may leave ICE "disconnected" and say "failed" only here.
                if state == LinkState::Failed && owner == Owner::Mesh {
                    self.no_path_check(link, connected, out);
                }
                // While only a relay could connect, the tile keeps saying so through restarts.
                let state = match self.no_path.get(&link) {
                    Some(cause) => LinkState::NoPath(*cause),
                    None => state,
                };
                let peers = self
                    .transport(owner)
                    .map(|t| t.peers_on(link))
                    .unwrap_or_default();
                for peer in peers {
                    if self.shows_link_state(&peer, link, owner) {
                        out.push(Command::Ui(Action::Link(peer, state)));
                    }
                }
            }
            LinkEvent::Received { bytes } => self.received(link, bytes, connected, out),
            LinkEvent::Ice(state) => {
                self.ice.insert(link, state);
                if state == IceState::Disconnected {
                    if self.disconnected.get(&link).is_none() {
                        self.disconnected.insert(link, None);
                        // The network may have changed under the signaling too; the restart
                        // that follows needs it.
                        if connected {
                            out.push(Command::ProbeSignaling);
                        }
                    }
                } else {
                    self.disconnected.remove(&link);
                }
                let found = (state == IceState::Failed && owner == Owner::Mesh)
                    .then(|| self.no_path_check(link, connected, out))
                    .flatten();
                if let Some(cause) = found {
                    for peer in self.mesh.peers_on(link) {
                        if self.shows_link_state(&peer, link, owner) {
                            out.push(Command::Ui(Action::Link(peer, LinkState::NoPath(cause))));
                        }
                    }
                }
                let restartable = self.sfu.as_ref().is_none_or(|s| s.subscribe_link() != link);
                // The signaling must be up to carry the restart's offer; a restart while it is
                // down happens when the resumed `welcome` comes.
                if state == IceState::Failed && connected && restartable {
                    out.push(Command::RestartIce(link));
                }
            }
            LinkEvent::Track {
                mid,
                kind,
                track_id,
            } => {
                let source = self
                    .transport(owner)
                    .and_then(|t| t.source(link, mid.as_deref(), kind));
                if let Some((peer, media)) = source {
                    let member = self.members.entry_or_default(peer.clone());
                    let tracks = member.tracks.entry_or_default(media);
                    tracks.retain(|t| t.track_id != track_id);
                    tracks.push(Track {
                        link,
                        mid,
                        track_id,
                        flowing: false,
                        watched: false,
                    });
                    self.decide(&peer, media, out);
                }
            }
            LinkEvent::Flowing { track_id } => {
                let found = self.members.iter_mut().find_map(|(peer, member)| {
                    member.tracks.iter_mut().find_map(|(kind, tracks)| {
                        tracks
                            .iter_mut()
                            .find(|t| t.link == link && t.track_id == track_id)
                            .map(|t| {
                                t.flowing = true;
                                (peer.clone(), *kind)
                            })
                    })
                });
                if let Some((peer, kind)) = found {
                    self.decide(&peer, kind, out);
                }
            }
            LinkEvent::Failed(reason) => out.push(Command::Warn(reason)),
        }
    }

    /// A peer link failed: without a relay candidate of ours, no restart will help until the
    /// network changes. The server hears of it once per link; the caller shows the tile's
    /// reason. The cause, when this failure is the one that found it.
    fn no_path_check(
        &mut self,
        link: LinkId,
        connected: bool,
        out: &mut Vec<Command>,
    ) -> Option<NoPathCause> {
        if self.relayed.get(&link).is_some() || self.no_path.get(&link).is_some() {
            return None;
        }
        let has_turn = self
            .ice_servers
            .iter()
            .flat_map(|s| &s.urls)
            .any(|u| u.starts_with("turn:") || u.starts_with("turns:"));
        let cause = if has_turn {
            NoPathCause::RelayUnreachable
        } else {
            NoPathCause::NoRelay
        };
        self.no_path.insert(link, cause);
        if connected {
            for peer in self.mesh.peers_on(link) {
                out.push(Command::Send(treff_shared::ClientMessage::NoPath {
                    peer_id: peer,
                    cause,
                }));
            }
        }
        Some(cause)
    }

    /// Whether a member's tiles show the state of `link`: the link that feeds them, or, while
    /// nothing does, a link of the active transport.
    fn shows_link_state(&self, peer: &PeerId, link: LinkId, owner: Owner) -> bool {
        match self.members.get(peer).and_then(|m| {
            m.shown
                .get(&MediaKind::Camera)
                .or(m.shown.get(&MediaKind::Audio))
        }) {
            Some((shown, _)) => *shown == link,
            None => owner == self.active(),
        }
    }

    /// Chooses what a member's tile of `kind` shows.
    fn decide(&mut self, peer: &PeerId, kind: MediaKind, out: &mut Vec<Command>) {
        let active = self.active();
        let owners: Table<LinkId, Owner> = self
            .links()
            .into_iter()
            .filter_map(|l| self.owner(l).map(|o| (l, o)))
            .collect();
        let Some(member) = self.members.get_mut(peer) else {
            return;
        };
        let tracks = member.tracks.get(&kind).cloned().unwrap_or_default();
        let shown = member.shown.get(&kind).cloned();
        let shown_owner = shown.as_ref().and_then(|(l, _)| owners.get(l).copied());
        // The newest track of the active transport, else the newest of any.
        let best_active = tracks
            .iter()
            .rev()
            .find(|t| owners.get(&t.link) == Some(&active));
        let choice = match (best_active, &shown) {
            (Some(best), Some((link, id))) if *link == best.link && *id == best.track_id => None,
            // A tile showing the old transport swaps once the new track shows frames.
            (Some(best), Some(_)) if shown_owner.is_some() && shown_owner != Some(active) => {
                if best.flowing {
                    Some(best.clone())
                } else {
                    if !best.watched {
                        let link = best.link;
                        let track_id = best.track_id.clone();
                        if let Some(t) = member.tracks.get_mut(&kind).and_then(|ts| {
                            ts.iter_mut()
                                .find(|t| t.link == link && t.track_id == track_id)
                        }) {
                            t.watched = true;
                        }
                        out.push(Command::WatchFlow { link, track_id });
                    }
                    None
                }
            }
            (Some(best), _) => Some(best.clone()),
            (None, None) => tracks.last().cloned(),
            (None, Some(_)) => None,
        };
        if let Some(track) = choice {
            member
                .shown
                .insert(kind, (track.link, track.track_id.clone()));
            out.push(Command::Attach {
                link: track.link,
                mid: track.mid.clone(),
                track_id: track.track_id.clone(),
                peer: peer.clone(),
                kind,
            });
            if kind != MediaKind::Screen {
                if let Some(state) = self.link_states.get(&track.link) {
                    out.push(Command::Ui(Action::Link(peer.clone(), *state)));
                }
            }
        }
    }

    /// The clock moved on (about every 250 ms): members whose tiles all swapped are told so;
    /// old links close where both sides swapped. `connected`: the signaling is up.
    pub fn tick(&mut self, now_ms: u64, connected: bool, out: &mut Vec<Command>) {
        self.now_ms = now_ms;
        self.restart_disconnected(now_ms, connected, out);
        if self.switching && self.switch_started.is_none() {
            self.switch_started = Some(now_ms);
        }
        let Some(started) = self.switch_started else {
            return;
        };
        let active = self.active();
        let owners: Table<LinkId, Owner> = self
            .links()
            .into_iter()
            .filter_map(|l| self.owner(l).map(|o| (l, o)))
            .collect();
        let active_connected = owners
            .iter()
            .any(|(l, o)| *o == active && self.link_states.get(l) == Some(&LinkState::Connected));
        let deadline = active_connected && now_ms >= started + SWITCH_DEADLINE_MS;
        // Members that both sides have swapped: our tiles of them show the active transport
        // (or nothing: then the old one shows nothing of them either), and they said the same
        // of theirs of us.
        let epoch = self.epoch;
        let mut done = Vec::new();
        for peer in self.roster.iter().map(|p| p.peer_id.clone()) {
            let ours = self.members.get(&peer).is_none_or(|m| {
                m.shown
                    .values()
                    .all(|(l, _)| owners.get(l) == Some(&active))
            });
            if ours && connected && self.told_swapped.get(&peer) != Some(&epoch) {
                self.told_swapped.insert(peer.clone(), epoch);
                out.push(Command::Send(treff_shared::ClientMessage::Signal {
                    to: peer.clone(),
                    data: SignalData::Swapped { epoch },
                }));
            }
            let theirs = self.heard_swapped.get(&peer).is_some_and(|e| *e >= epoch);
            if (ours && theirs) || deadline {
                done.push(peer);
            }
        }
        let mut commands = Vec::new();
        match active {
            Owner::Sfu => {
                for peer in &done {
                    self.mesh.close_peer(peer, &mut commands);
                }
                // Members that send nothing (viewers) have no tiles to wait for.
                if deadline {
                    self.mesh.close_all(&mut commands);
                }
            }
            Owner::Mesh => {
                let everyone = self.roster.iter().all(|p| done.contains(&p.peer_id));
                if everyone || deadline {
                    if let Some(sfu) = &mut self.sfu {
                        sfu.close_all(&mut commands);
                    }
                }
            }
        }
        self.emit(commands, out);
        let old_left = match active {
            Owner::Sfu => !self.mesh.links().is_empty(),
            Owner::Mesh => self.sfu.as_ref().is_some_and(|s| !s.links().is_empty()),
        };
        if !old_left {
            if active == Owner::Mesh {
                self.sfu = None;
            }
            self.switching = false;
            self.switch_started = None;
        }
    }

    /// Gives every peer link its share of the upload budget, when the number of links changed
    /// (a member came or went) or a link is new.
    pub fn share_upload(&mut self, out: &mut Vec<Command>) {
        let links = self.mesh.links();
        self.caps.retain(|l, _| links.contains(l));
        let Some(cap) = budget::share(self.upload_kbps, links.len()) else {
            return;
        };
        for link in links {
            if self.caps.get(&link) != Some(&cap) {
                self.caps.insert(link, cap);
                out.push(Command::CapVideo(link, cap));
            }
        }
    }

    /// A link's received byte count, sampled: a link that carried traffic and then went
    /// silent for [`STALL_MS`] counts as down, and the signaling is checked.
    fn received(&mut self, link: LinkId, bytes: u64, connected: bool, out: &mut Vec<Command>) {
        let now = self.now_ms;
        if !self.liveness.contains_key(&link) {
            let first = Liveness {
                bytes,
                changed_ms: now,
                ..Liveness::default()
            };
            self.liveness.insert(link, first);
        }
        let live = self.liveness.get_mut(&link).expect("inserted above");
        if bytes != live.bytes {
            let long_stall = live.stalled && now >= live.changed_ms + REFRESH_AFTER_MS;
            let again = if long_stall {
                Some(now + REFRESH_AGAIN_MS)
            } else {
                live.refresh_again_ms
            };
            *live = Liveness {
                bytes,
                changed_ms: now,
                busy: live.busy.saturating_add(1).min(BUSY_SAMPLES),
                stalled: false,
                refresh_again_ms: again,
            };
            if long_stall {
                // The path is back; the other side's decoder needs a keyframe to go on.
                out.push(Command::RefreshVideo(link));
            } else if again.is_some_and(|at| now >= at) {
                // The first keyframe can go out before the other side takes media on the new
                // path again; one more, once traffic has flowed for a while, settles it.
                live.refresh_again_ms = None;
                out.push(Command::RefreshVideo(link));
            }
            return;
        }
        if live.stalled || live.busy < BUSY_SAMPLES || now < live.changed_ms + STALL_MS {
            return;
        }
        live.stalled = true;
        live.busy = 0;
        if connected {
            out.push(Command::ProbeSignaling);
        }
    }

    /// Restarts ICE on links that stayed disconnected for [`RESTART_DISCONNECTED_MS`] (once per
    /// disconnection; a restart that fails goes on as any failure does).
    fn restart_disconnected(&mut self, now_ms: u64, connected: bool, out: &mut Vec<Command>) {
        let subscribe = self.sfu.as_ref().map(|s| s.subscribe_link());
        let mut due = Vec::new();
        for (link, since) in self.disconnected.iter_mut() {
            let since = *since.get_or_insert(now_ms);
            // The signaling must be up to carry the restart's offer; the media server offers
            // on the subscribe link itself.
            if connected && now_ms >= since + RESTART_DISCONNECTED_MS && Some(*link) != subscribe {
                due.push(*link);
            }
        }
        for link in due {
            self.disconnected.remove(&link);
            out.push(Command::RestartIce(link));
        }
    }

    /// How large the page shows each remote picture; sent to the media server when it changed.
    pub fn tile_sizes(&mut self, tiles: Vec<TileSize>, connected: bool, out: &mut Vec<Command>) {
        // Unchanged sizes go again now and then: they are soft state, which a new media
        // server epoch or a lost frame would otherwise leave wrong for good.
        let fresh = self.now_ms < self.tiles_sent_ms + TILES_REFRESH_MS;
        if self.mode != MediaMode::Sfu || !connected || (tiles == self.sent_tiles && fresh) {
            return;
        }
        self.sent_tiles = tiles.clone();
        self.tiles_sent_ms = self.now_ms;
        out.push(Command::Send(treff_shared::ClientMessage::Tiles { tiles }));
    }

    /// Whose tile a stream that `link` receives feeds, and as what: matched by its track id or,
    /// where the browser reports none, its line. Only streams on a tile count (a stream
    /// being switched away from says nothing about what the person sees).
    pub fn shown_source(
        &self,
        link: LinkId,
        mid: Option<&str>,
        track_id: Option<&str>,
    ) -> Option<(PeerId, MediaKind)> {
        self.members.iter().find_map(|(peer, member)| {
            member
                .shown
                .iter()
                .find_map(|(kind, (shown_link, shown_track))| {
                    if *shown_link != link {
                        return None;
                    }
                    let by_track = track_id == Some(shown_track.as_str());
                    let by_mid = track_id.is_none()
                        && mid.is_some()
                        && member.tracks.get(kind).is_some_and(|tracks| {
                            tracks.iter().any(|t| {
                                t.link == link
                                    && t.track_id == *shown_track
                                    && t.mid.as_deref() == mid
                            })
                        });
                    (by_track || by_mid).then(|| (peer.clone(), *kind))
                })
        })
    }

    /// The page's clock as of the last tick (ms).
    pub fn now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Whose tile of `kind` a link's track would feed (for tests and the test hook).
    #[cfg(test)]
    pub fn shown(&self, peer: &PeerId, kind: MediaKind) -> Option<LinkId> {
        self.members.get(peer)?.shown.get(&kind).map(|(l, _)| *l)
    }

    /// The track kind a line carries, for a track event of `kind`.
    #[cfg(test)]
    pub fn track_kind(kind: MediaKind) -> TrackKind {
        match kind {
            MediaKind::Audio => TrackKind::Audio,
            MediaKind::Camera | MediaKind::Screen => TrackKind::Video,
        }
    }
}
