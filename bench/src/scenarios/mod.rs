//! The scenarios: four on one server, and the takeover of a cluster. Each is bounded in
//! connections and in time, and returns what it measured.

pub mod chat;
pub mod idle;
pub mod presence;
pub mod relay;
pub mod takeover;

use std::net::SocketAddr;
use std::time::Instant;

use crate::procfs::{self, CpuMeter};

/// What every scenario needs: where the server is and how to measure it.
pub struct Ctx {
    /// The server's address (loopback).
    pub addr: SocketAddr,
    /// `ws://<addr>/ws`.
    pub url: String,
    /// Where the second member of each pair in presence and relay connects: `url` on one
    /// server, another node's in a cluster (the first member's node owns the room).
    pub second_url: String,
    /// Prepended to room names, so runs sharing a cluster never meet in one room.
    pub rooms: String,
    /// The server's process id, for RSS and CPU; `None` leaves those figures out.
    pub server_pid: Option<u32>,
    /// Further processes that serve with it (the other nodes and Redis), counted in its CPU.
    pub also_pids: Vec<u32>,
    /// Clock ticks per second of `/proc/<pid>/stat`.
    pub ticks: f64,
    /// Origin of the send stamps written into frames.
    pub base: Instant,
}

impl Ctx {
    /// Starts measuring CPU use.
    pub fn cpu(&self) -> CpuMeter {
        let pids = self
            .server_pid
            .into_iter()
            .chain(self.also_pids.iter().copied());
        CpuMeter::start_all(pids.collect(), self.ticks)
    }

    /// Nanoseconds since [`Ctx::base`], the stamp written into frames.
    pub fn now_ns(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }

    /// The server's RSS in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        self.server_pid.and_then(procfs::rss_kib)
    }
}
