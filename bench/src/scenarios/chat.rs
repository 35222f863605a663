//! Chat fan-out: rooms full of members who all chat at a steady rate. Each text carries its
//! send time, so every receiver measures the delivery latency.
//!
//! The server sends every chat message to all members of the room, the sender included (that
//! echo is how the web app knows its message was accepted). Deliveries to the other members
//! and echoes to the sender are counted apart: 10 rooms × 10 senders × 2/s reach 9 others each,
//! 1,800 deliveries/s, plus 200 echoes/s.

use std::time::Duration;

use anyhow::bail;
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::time::{sleep_until, Instant};
use treff_shared::{ClientMessage, PeerId, ServerMessage};

use super::Ctx;
use crate::client::{self, Ws};
use crate::procfs::{round, CpuUse};
use crate::stats::Latency;

/// How long members wait for the last messages after they stopped sending.
const DRAIN: Duration = Duration::from_secs(2);

/// What the chat scenario measured.
#[derive(Debug, Clone, Serialize)]
pub struct Chat {
    /// Rooms.
    pub rooms: usize,
    /// Members per room.
    pub members: usize,
    /// Chat messages per second per member.
    pub rate_per_member: f64,
    /// Sending time, seconds.
    pub duration_s: f64,
    /// Chat messages sent.
    pub sent: u64,
    /// Deliveries to other members expected: sent × (members − 1).
    pub expected_to_others: u64,
    /// Deliveries to other members that arrived.
    pub delivered_to_others: u64,
    /// Echoes to the sender that arrived.
    pub delivered_to_sender: u64,
    /// Deliveries (to others or echoes) that did not arrive.
    pub lost: u64,
    /// Deliveries to other members per second.
    pub deliveries_to_others_per_s: f64,
    /// All deliveries, echoes included, per second.
    pub deliveries_total_per_s: f64,
    /// Send to arrival at another member.
    pub latency_to_others: Latency,
    /// Send to the sender's own echo.
    pub latency_to_sender: Latency,
    /// CPU during the run.
    pub cpu: CpuUse,
}

/// Runs `rooms` rooms of `members`, each member sending `rate` messages per second for `dur`.
pub async fn run(
    ctx: &Ctx,
    rooms: usize,
    members: usize,
    rate: f64,
    dur: Duration,
) -> anyhow::Result<Chat> {
    let setups: Vec<_> = (0..rooms)
        .map(|r| {
            let url = ctx.url.clone();
            tokio::task::spawn_local(async move {
                let mut joined = Vec::with_capacity(members);
                for m in 0..members {
                    let room = format!("chat-{r}");
                    let (ws, welcome) =
                        client::connect_and_join(&url, &room, &format!("Member {m}")).await?;
                    joined.push((ws, welcome.peer_id));
                }
                anyhow::Ok(joined)
            })
        })
        .collect();
    let mut everyone = Vec::with_capacity(rooms * members);
    for setup in setups {
        everyone.extend(setup.await??);
    }

    let total = everyone.len();
    let per_member = (rate * dur.as_secs_f64()).round() as u64;
    let period = Duration::from_secs_f64(1.0 / rate);
    let start = Instant::now() + Duration::from_millis(100);
    let end = start + dur;
    let base = ctx.base;
    let meter = ctx.cpu();
    let tasks: Vec<_> = everyone
        .into_iter()
        .enumerate()
        .map(|(j, (ws, me))| {
            // Spread the senders over one period, as people do not all type at once.
            let phase = period.mul_f64(j as f64 / total as f64);
            let expect_others = (members as u64 - 1) * per_member;
            tokio::task::spawn_local(member(
                ws,
                me,
                start + phase,
                period,
                per_member,
                expect_others,
                end + DRAIN,
                base,
            ))
        })
        .collect();
    let mut others = Vec::new();
    let mut echoes = Vec::new();
    let mut sockets = Vec::new();
    let mut sent = 0;
    for task in tasks {
        let (ws, outcome) = task.await??;
        sent += outcome.sent;
        others.extend(outcome.others);
        echoes.extend(outcome.echoes);
        sockets.push(ws);
    }
    let cpu = meter.read();
    for ws in sockets {
        client::close(ws).await;
    }
    let expected_to_others = sent * (members as u64 - 1);
    let delivered_to_others = others.len() as u64;
    let delivered_to_sender = echoes.len() as u64;
    let secs = dur.as_secs_f64();
    Ok(Chat {
        rooms,
        members,
        rate_per_member: rate,
        duration_s: secs,
        sent,
        expected_to_others,
        delivered_to_others,
        delivered_to_sender,
        lost: (expected_to_others + sent).saturating_sub(delivered_to_others + delivered_to_sender),
        deliveries_to_others_per_s: round(delivered_to_others as f64 / secs, 1),
        deliveries_total_per_s: round((delivered_to_others + delivered_to_sender) as f64 / secs, 1),
        latency_to_others: Latency::from_nanos(others),
        latency_to_sender: Latency::from_nanos(echoes),
        cpu,
    })
}

struct Outcome {
    sent: u64,
    others: Vec<u64>,
    echoes: Vec<u64>,
}

#[allow(clippy::too_many_arguments)]
async fn member(
    mut ws: Ws,
    me: PeerId,
    first: Instant,
    period: Duration,
    count: u64,
    expect_others: u64,
    deadline: Instant,
    base: std::time::Instant,
) -> anyhow::Result<(Ws, Outcome)> {
    let mut out = Outcome {
        sent: 0,
        others: Vec::with_capacity(expect_others as usize),
        echoes: Vec::with_capacity(count as usize),
    };
    let next = sleep_until(first);
    tokio::pin!(next);
    let stop = sleep_until(deadline);
    tokio::pin!(stop);
    loop {
        if out.sent == count
            && out.echoes.len() as u64 == count
            && out.others.len() as u64 == expect_others
        {
            break;
        }
        tokio::select! {
            biased;
            item = ws.next() => {
                let msg = match item {
                    Some(Ok(msg)) => msg,
                    Some(Err(err)) => return Err(err.into()),
                    None => bail!("the server closed a chat member"),
                };
                let now = base.elapsed().as_nanos() as u64;
                if let Some(ServerMessage::Chat(chat)) = client::decode(&msg)? {
                    let stamp = chat.text.split_whitespace().nth(1).and_then(|t| t.parse::<u64>().ok());
                    let Some(at) = stamp else { continue };
                    if chat.from == me {
                        out.echoes.push(now.saturating_sub(at));
                    } else {
                        out.others.push(now.saturating_sub(at));
                    }
                }
            }
            _ = &mut next, if out.sent < count => {
                let text = format!("bench {} from {me} message {}", base.elapsed().as_nanos(), out.sent);
                ws.send(client::frame(&ClientMessage::Chat { text })).await?;
                out.sent += 1;
                next.as_mut().reset(first + period.mul_f64(out.sent as f64));
            }
            _ = &mut stop => break,
        }
    }
    Ok((ws, out))
}
