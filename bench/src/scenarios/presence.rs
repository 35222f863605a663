//! Presence: pairs join at once, each pair its own room. Measures the time from the second
//! member's connect start to the first member's `peer-joined`, which is what a person waiting
//! alone in a room sees. In a cluster the second member connects to another node than the
//! first, whose node owns the room.

use std::time::Instant;

use serde::Serialize;

use super::Ctx;
use crate::client;
use crate::procfs::{round, CpuUse};
use crate::stats::Latency;

/// What the presence scenario measured.
#[derive(Debug, Clone, Serialize)]
pub struct Presence {
    /// Pairs started at once.
    pub pairs: usize,
    /// Joins that got their welcome (two per pair).
    pub joins: usize,
    /// Pairs that failed (connect, join or `peer-joined` missing within 10 s).
    pub failed: usize,
    /// Second member's connect start to first member's `peer-joined`.
    pub peer_joined: Latency,
    /// From the start until every pair's second welcome and `peer-joined` arrived, ms.
    pub total_ms: f64,
    /// CPU over the joins (closing excluded).
    pub cpu: CpuUse,
}

/// Runs `pairs` pairs at once.
pub async fn run(ctx: &Ctx, pairs: usize) -> anyhow::Result<Presence> {
    let meter = ctx.cpu();
    let t0 = Instant::now();
    let tasks: Vec<_> = (0..pairs)
        .map(|i| {
            let (url, second_url) = (ctx.url.clone(), ctx.second_url.clone());
            let room = format!("{}presence-{i}", ctx.rooms);
            tokio::task::spawn_local(async move {
                let (mut first, _) = client::connect_and_join(&url, &room, "First").await?;
                let second_start = Instant::now();
                let second = client::connect_and_join(&second_url, &room, "Second");
                let seen = async {
                    client::wait_peer_joined(&mut first).await?;
                    anyhow::Ok(Instant::now())
                };
                let (second, seen) = tokio::join!(second, seen);
                let (second, _) = second?;
                let seen = seen?;
                let done = Instant::now();
                anyhow::Ok((first, second, seen - second_start, done))
            })
        })
        .collect();
    let mut samples = Vec::with_capacity(pairs);
    let mut sockets = Vec::with_capacity(2 * pairs);
    let mut last_done = t0;
    let mut failed = 0;
    for task in tasks {
        match task.await? {
            Ok((first, second, latency, done)) => {
                samples.push(latency.as_nanos() as u64);
                sockets.push(first);
                sockets.push(second);
                last_done = last_done.max(done);
            }
            Err(err) => {
                failed += 1;
                eprintln!("presence: a pair failed: {err:#}");
            }
        }
    }
    let cpu = meter.read();
    let joins = sockets.len();
    let closing: Vec<_> = sockets
        .into_iter()
        .map(|ws| tokio::task::spawn_local(client::close(ws)))
        .collect();
    for task in closing {
        task.await?;
    }
    Ok(Presence {
        pairs,
        joins,
        failed,
        peer_joined: Latency::from_nanos(samples),
        total_ms: round((last_done - t0).as_secs_f64() * 1e3, 1),
        cpu,
    })
}
