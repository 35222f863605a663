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
use treff_shared::{ClientFrameType, ErrorCode};

type Labels = Vec<(&'static str, &'static str)>;

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
        Stats {
            registry,
            sessions,
            rooms,
            participants,
            frames,
            errors,
            turn_allocations,
            turn_relayed_bytes,
        }
    }
}

impl Stats {
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
