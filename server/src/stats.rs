//! Live counters shared by every actor: read cheaply by `/healthz`, exported by `/metrics` in
//! the Prometheus text format.
//!
//! Every labelled series is created up front and kept as a handle, so counting a frame on the
//! hot path is one atomic increment, with no lock and no hashing.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use treff_shared::{ClientFrameType, ErrorCode, NoPathCause};

type Labels = Vec<(&'static str, &'static str)>;
/// Labels naming a room (its name is not static).
type RoomLabels = Vec<(&'static str, String)>;

/// The media server's series, one family each, labelled by room.
#[derive(Default)]
struct SfuFamilies {
    streams: Family<RoomLabels, Gauge>,
    bytes_in: Family<RoomLabels, Counter>,
    bytes_out: Family<RoomLabels, Counter>,
    frames: Family<RoomLabels, Counter>,
    layer_switches: Family<RoomLabels, Counter>,
    keyframe_requests: Family<RoomLabels, Counter>,
    layer_pauses: Family<RoomLabels, Counter>,
    loss_permille: Family<RoomLabels, Gauge>,
    dropped: Family<RoomLabels, Counter>,
    connect_failures: Family<RoomLabels, Counter>,
}

/// One room's media-server series, held by its media actor.
#[derive(Clone)]
pub struct SfuRoomStats {
    labels: RoomLabels,
    /// Tracks forwarded now.
    pub streams: Gauge,
    /// Bytes received on the media port for the room.
    pub bytes_in: Counter,
    /// Bytes sent for the room.
    pub bytes_out: Counter,
    /// Frames written to subscribers.
    pub frames: Counter,
    /// Camera layer changes.
    pub layer_switches: Counter,
    /// Keyframe requests sent to publishers.
    pub keyframe_requests: Counter,
    /// Times a publisher was told to pause or resume simulcast layers nobody watches.
    pub layer_pauses: Counter,
    /// Packet loss of what publishers send, in thousandths (the worst track).
    pub loss_permille: Gauge,
    /// Datagrams dropped by a member's rate limit or refused as malformed.
    pub dropped: Counter,
    /// Members whose media links did not connect in time.
    pub connect_failures: Counter,
}

/// The server's gauges and counters.
pub struct Stats {
    registry: Registry,
    sessions: Gauge,
    rooms: Gauge,
    participants: Gauge,
    /// Accepted client frames, indexed like [`ClientFrameType::ALL`].
    frames: Vec<Counter>,
    /// Refused frames, indexed like [`ErrorCode::ALL`].
    errors: Vec<Counter>,
    turn_allocations: Gauge,
    turn_relayed_bytes: Counter<u64, AtomicU64>,
    sfu: SfuFamilies,
    sfu_rooms: Gauge,
    /// Datagrams on the media port that belong to no link, by reason.
    media_unrouted: Family<Labels, Counter>,
    /// Connections between members that failed with no relay, by cause.
    no_path: Family<Labels, Counter>,
    cluster: ClusterMetrics,
}

/// The node's part in a cluster (all zero without `--redis-url`).
#[derive(Default)]
struct ClusterMetrics {
    node: Family<Vec<(&'static str, String)>, Gauge>,
    redis_up: Gauge,
    rooms_owned: Gauge,
    forwarded: Family<Labels, Counter>,
    lease_renewals: Counter,
    takeovers: Counter,
    resyncs: Counter,
}

impl std::fmt::Debug for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stats")
            .field("sessions", &self.sessions.get())
            .field("rooms", &self.rooms.get())
            .finish_non_exhaustive()
    }
}

impl Default for Stats {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("treff");
        let sessions = Gauge::default();
        registry.register("sessions", "Open WebSocket sessions", sessions.clone());
        let rooms = Gauge::default();
        registry.register("rooms", "Open rooms", rooms.clone());
        let participants = Gauge::default();
        registry.register(
            "participants",
            "Room members, including those being resumed",
            participants.clone(),
        );
        let frames_family = Family::<Labels, Counter>::default();
        registry.register(
            "frames",
            "Client frames accepted, by type",
            frames_family.clone(),
        );
        let frames = ClientFrameType::ALL
            .iter()
            .map(|t| {
                frames_family
                    .get_or_create(&vec![("type", t.as_str())])
                    .clone()
            })
            .collect();
        let errors_family = Family::<Labels, Counter>::default();
        registry.register(
            "errors",
            "Error frames sent, by code",
            errors_family.clone(),
        );
        let errors = ErrorCode::ALL
            .iter()
            .map(|c| {
                errors_family
                    .get_or_create(&vec![("code", c.as_str())])
                    .clone()
            })
            .collect();
        let turn_allocations = Gauge::default();
        registry.register(
            "turn_allocations",
            "Active allocations on the embedded TURN relay",
            turn_allocations.clone(),
        );
        let turn_relayed_bytes = Counter::default();
        registry.register(
            "turn_relayed_bytes",
            "Bytes relayed by the embedded TURN relay",
            turn_relayed_bytes.clone(),
        );
        let sfu = SfuFamilies::default();
        registry.register(
            "sfu_streams",
            "Tracks the media server forwards now, by room",
            sfu.streams.clone(),
        );
        registry.register(
            "sfu_bytes_in",
            "Bytes the media server received, by room",
            sfu.bytes_in.clone(),
        );
        registry.register(
            "sfu_bytes_out",
            "Bytes the media server sent, by room",
            sfu.bytes_out.clone(),
        );
        registry.register(
            "sfu_frames_forwarded",
            "Frames written to subscribers, by room",
            sfu.frames.clone(),
        );
        registry.register(
            "sfu_layer_switches",
            "Simulcast layer changes of subscribers, by room",
            sfu.layer_switches.clone(),
        );
        registry.register(
            "sfu_keyframe_requests",
            "Keyframe requests sent to publishers, by room",
            sfu.keyframe_requests.clone(),
        );
        registry.register(
            "sfu_publisher_layer_changes",
            "Times a publisher was told to pause or resume simulcast layers nobody watches, by room",
            sfu.layer_pauses.clone(),
        );
        registry.register(
            "sfu_loss_permille",
            "Packet loss of the worst published track, in thousandths, by room",
            sfu.loss_permille.clone(),
        );
        registry.register(
            "sfu_dropped",
            "Datagrams dropped by a member's rate limit or refused, by room",
            sfu.dropped.clone(),
        );
        registry.register(
            "sfu_connect_failures",
            "Members whose media links did not connect in time, by room",
            sfu.connect_failures.clone(),
        );
        let sfu_rooms = Gauge::default();
        registry.register(
            "sfu_rooms",
            "Rooms whose media go through the media server",
            sfu_rooms.clone(),
        );
        let media_unrouted = Family::<Labels, Counter>::default();
        registry.register(
            "media_unrouted",
            "Datagrams on the media port that belong to no link, by reason",
            media_unrouted.clone(),
        );
        let no_path = Family::<Labels, Counter>::default();
        registry.register(
            "no_path",
            "Connections between members that failed with no relay to fall back on, by cause \
             (no-relay: no TURN configured; relay-unreachable: TURN gave no relay address)",
            no_path.clone(),
        );
        let cluster = ClusterMetrics::default();
        registry.register(
            "cluster_node",
            "This node's id in the cluster (1 while it runs with --redis-url)",
            cluster.node.clone(),
        );
        registry.register(
            "cluster_redis_up",
            "1 while Redis answers and this node's channel is subscribed",
            cluster.redis_up.clone(),
        );
        registry.register(
            "cluster_rooms_owned",
            "Rooms whose lease this node holds",
            cluster.rooms_owned.clone(),
        );
        registry.register(
            "cluster_frames_forwarded",
            "Messages to (out) and from (in) other nodes",
            cluster.forwarded.clone(),
        );
        registry.register(
            "cluster_lease_renewals",
            "Room leases renewed",
            cluster.lease_renewals.clone(),
        );
        registry.register(
            "cluster_takeovers",
            "Rooms this node carried on from the state another owner left",
            cluster.takeovers.clone(),
        );
        registry.register(
            "cluster_resyncs",
            "Times members were asked to resume because messages between nodes were lost",
            cluster.resyncs.clone(),
        );
        Stats {
            cluster,
            registry,
            sessions,
            rooms,
            participants,
            frames,
            errors,
            turn_allocations,
            turn_relayed_bytes,
            sfu,
            sfu_rooms,
            media_unrouted,
            no_path,
        }
    }
}

impl Stats {
    /// The media-server series of `room`, created on first use.
    pub fn sfu_room(&self, room: &str) -> SfuRoomStats {
        let labels: RoomLabels = vec![("room", room.to_owned())];
        let f = &self.sfu;
        SfuRoomStats {
            streams: f.streams.get_or_create(&labels).clone(),
            bytes_in: f.bytes_in.get_or_create(&labels).clone(),
            bytes_out: f.bytes_out.get_or_create(&labels).clone(),
            frames: f.frames.get_or_create(&labels).clone(),
            layer_switches: f.layer_switches.get_or_create(&labels).clone(),
            keyframe_requests: f.keyframe_requests.get_or_create(&labels).clone(),
            layer_pauses: f.layer_pauses.get_or_create(&labels).clone(),
            loss_permille: f.loss_permille.get_or_create(&labels).clone(),
            dropped: f.dropped.get_or_create(&labels).clone(),
            connect_failures: f.connect_failures.get_or_create(&labels).clone(),
            labels,
        }
    }

    /// A room's media server stopped: its series go (room names come and go; the exporter
    /// must not keep every name ever used).
    pub fn sfu_room_closed(&self, room: &SfuRoomStats) {
        let f = &self.sfu;
        f.streams.remove(&room.labels);
        f.bytes_in.remove(&room.labels);
        f.bytes_out.remove(&room.labels);
        f.frames.remove(&room.labels);
        f.layer_switches.remove(&room.labels);
        f.keyframe_requests.remove(&room.labels);
        f.layer_pauses.remove(&room.labels);
        f.loss_permille.remove(&room.labels);
        f.dropped.remove(&room.labels);
        f.connect_failures.remove(&room.labels);
    }

    /// Adds `delta` to the rooms on the media server.
    pub fn sfu_rooms(&self, delta: i64) {
        self.sfu_rooms.inc_by(delta);
    }

    /// Counts a datagram on the media port that no link takes.
    pub fn media_unrouted(&self, reason: &'static str) {
        self.media_unrouted
            .get_or_create(&vec![("reason", reason)])
            .inc();
    }

    /// Counts a connection between members that failed with no relay.
    pub fn no_path(&self, cause: NoPathCause) {
        self.no_path
            .get_or_create(&vec![("cause", cause.as_str())])
            .inc();
    }

    /// Names this node in the metrics.
    pub fn cluster_node(&self, id: &str) {
        self.cluster
            .node
            .get_or_create(&vec![("node", id.to_owned())])
            .set(1);
    }

    /// Whether the node is connected to the cluster.
    pub fn cluster_redis_up(&self, up: bool) {
        self.cluster.redis_up.set(i64::from(up));
    }

    /// How many rooms this node owns.
    pub fn cluster_rooms_owned(&self, rooms: i64) {
        self.cluster.rooms_owned.set(rooms);
    }

    /// Counts a message to (`"out"`) or from (`"in"`) another node.
    pub fn cluster_forwarded(&self, direction: &'static str) {
        self.cluster
            .forwarded
            .get_or_create(&vec![("direction", direction)])
            .inc();
    }

    /// Counts a renewed lease.
    pub fn cluster_lease_renewal(&self) {
        self.cluster.lease_renewals.inc();
    }

    /// Counts a room taken over from another owner's state.
    pub fn cluster_takeover(&self) {
        self.cluster.takeovers.inc();
    }

    /// Counts a resync.
    pub fn cluster_resync(&self) {
        self.cluster.resyncs.inc();
    }

    /// Adds `delta` to the number of open WebSocket sessions.
    pub fn sessions_open(&self, delta: i64) {
        self.sessions.inc_by(delta);
    }

    /// Adds `delta` to the number of open rooms.
    pub fn rooms_open(&self, delta: i64) {
        self.rooms.inc_by(delta);
    }

    /// Adds `delta` to the number of room members.
    pub fn participants(&self, delta: i64) {
        self.participants.inc_by(delta);
    }

    /// Counts an accepted client frame. The counters are made from [`ClientFrameType::ALL`],
    /// so every type has one.
    pub fn frame(&self, frame_type: ClientFrameType) {
        self.frames[frame_type.index()].inc();
    }

    /// Counts an error frame. The counters are made from [`ErrorCode::ALL`], so every code has
    /// one.
    pub fn error(&self, code: ErrorCode) {
        self.errors[code.index()].inc();
    }

    /// Adds `delta` to the embedded TURN relay's active allocations.
    pub fn turn_allocations(&self, delta: i64) {
        self.turn_allocations.inc_by(delta);
    }

    /// Counts bytes relayed by the embedded TURN relay.
    pub fn turn_relayed(&self, bytes: u64) {
        self.turn_relayed_bytes.inc_by(bytes);
    }

    /// Open WebSocket sessions.
    pub fn sessions(&self) -> i64 {
        self.sessions.get()
    }

    /// Open rooms.
    pub fn rooms(&self) -> i64 {
        self.rooms.get()
    }

    /// Everything in the Prometheus / OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // unwrap: writing to a String cannot fail.
        encode(&mut out, &self.registry).unwrap();
        out
    }
}
