//! What treff's benchmarks share: a protocol client over WebSockets ([`client`]), readings of
//! `/proc` (CPU, memory, the machine; [`procfs`]) and latency percentiles ([`stats`]). The
//! binaries are `treff-bench` (signaling) and `treff-forward` (the media server's forwarding).
#![forbid(unsafe_code)]

pub mod client;
pub mod procfs;
pub mod stats;
