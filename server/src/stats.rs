//! Live counters shared by every actor, read cheaply by `/healthz`.

use std::sync::atomic::{AtomicI64, Ordering};

/// Gauges of what the server holds right now.
#[derive(Debug, Default)]
pub struct Stats {
    sessions: AtomicI64,
    rooms: AtomicI64,
}

impl Stats {
    /// Adds `delta` to the number of open WebSocket sessions.
    pub fn sessions_open(&self, delta: i64) {
        self.sessions.fetch_add(delta, Ordering::Relaxed);
    }

    /// Adds `delta` to the number of open rooms.
    pub fn rooms_open(&self, delta: i64) {
        self.rooms.fetch_add(delta, Ordering::Relaxed);
    }

    /// Open WebSocket sessions.
    pub fn sessions(&self) -> i64 {
        self.sessions.load(Ordering::Relaxed)
    }

    /// Open rooms.
    pub fn rooms(&self) -> i64 {
        self.rooms.load(Ordering::Relaxed)
    }
}
