//! Relay: pairs bounce ~1 KB `signal` offers through the server. The caller stamps each offer
//! with its send time, the callee sends the same payload straight back as its own `signal`, and
//! the caller measures the round trip (caller → server → callee → server → caller). In a
//! cluster the callee connects to another node than the caller, whose node owns the room, so
//! each round trip crosses between the nodes twice.
//!
//! Sending is open-loop: each caller sends on a fixed schedule whatever the answers do, so a
//! server that falls behind shows as growing latency and loss rather than as a slower sender.
//! The ramp raises the rate step by step (several offers in flight per pair) until a step
//! misses p99 < 50 ms, loses a frame, or the generator cannot send at the asked rate.

use std::cell::Cell;
use std::time::Duration;

use anyhow::bail;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{FutureExt, SinkExt, StreamExt};
use serde::Serialize;
use tokio::sync::watch;
use tokio::time::{sleep_until, Instant};
use tokio_tungstenite::tungstenite::Message;
use treff_shared::{ClientMessage, PeerId, ServerMessage};

use super::Ctx;
use crate::client::{self, Ws};
use crate::procfs::{round, CpuUse};
use crate::stats::Latency;

/// Fewest time between two wake-ups of one caller; faster rates send several offers per wake-up.
const MIN_GAP: Duration = Duration::from_millis(4);
/// How long a step waits for the last answers after it stopped sending.
const DRAIN: Duration = Duration::from_secs(2);
/// A ramp step passes with a p99 round trip below this.
pub const RAMP_P99_MS: f64 = 50.0;

/// One run at a fixed rate.
#[derive(Debug, Clone, Serialize)]
pub struct RelayRun {
    /// Round trips per second asked for, all pairs together.
    pub target_rt_per_s: f64,
    /// Sending time, seconds.
    pub duration_s: f64,
    /// Offers sent.
    pub sent: u64,
    /// Offers that came back.
    pub received: u64,
    /// Offers that did not come back within 2 s after sending stopped.
    pub lost: u64,
    /// `error` frames or unexpected frames received.
    pub errors: u64,
    /// Answers to an earlier step that arrived during this one (counted lost there).
    pub late: u64,
    /// Completed round trips per second.
    pub achieved_rt_per_s: f64,
    /// Round-trip latency.
    pub round_trip: Latency,
    /// CPU during the run.
    pub cpu: CpuUse,
    /// Ramp steps: whether this one was sustained (p99 < 50 ms, nothing lost, rate reached).
    pub passed: Option<bool>,
}

/// What the relay scenario measured.
#[derive(Debug, Clone, Serialize)]
pub struct Relay {
    /// Pairs (one room each).
    pub pairs: usize,
    /// Bytes of one `signal` frame from the caller.
    pub frame_bytes_to_server: usize,
    /// Bytes of one relayed `signal` frame from the server.
    pub frame_bytes_from_server: usize,
    /// The fixed-rate run.
    pub steady: RelayRun,
    /// Every ramp step, in order.
    pub ramp: Vec<RelayRun>,
    /// The highest ramp step sustained.
    pub best: Option<RelayRun>,
    /// What ended the ramp.
    pub limited_by: String,
}

/// The settings of the relay scenario.
pub struct RelayPlan {
    /// Pairs.
    pub pairs: usize,
    /// Round trips per second per pair in the fixed-rate run.
    pub rate_per_pair: f64,
    /// Length of the fixed-rate run.
    pub steady: Duration,
    /// Total round trips per second of each ramp step.
    pub ramp: Vec<f64>,
    /// Length of each ramp step.
    pub ramp_step: Duration,
}

struct Caller {
    tx: SplitSink<Ws, Message>,
    rx: SplitStream<Ws>,
    callee: PeerId,
}

#[derive(Default)]
struct Outcome {
    sent: u64,
    samples: Vec<u64>,
    late: u64,
    errors: u64,
}

/// Runs the fixed-rate run, then the ramp.
pub async fn run(ctx: &Ctx, plan: &RelayPlan) -> anyhow::Result<Relay> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut setups = Vec::new();
    for i in 0..plan.pairs {
        let (url, second_url) = (ctx.url.clone(), ctx.second_url.clone());
        let stop = stop_rx.clone();
        let room = format!("{}relay-{i}", ctx.rooms);
        setups.push(tokio::task::spawn_local(async move {
            let (mut caller, _) = client::connect_and_join(&url, &room, "Caller").await?;
            let (callee, _) = client::connect_and_join(&second_url, &room, "Callee").await?;
            let callee_id = client::wait_peer_joined(&mut caller).await?;
            let echo = tokio::task::spawn_local(echo(callee, stop));
            let (tx, rx) = caller.split();
            anyhow::Ok((
                Caller {
                    tx,
                    rx,
                    callee: callee_id,
                },
                echo,
            ))
        }));
    }
    let mut callers = Vec::new();
    let mut echoes = Vec::new();
    for setup in setups {
        let (caller, echo) = setup.await??;
        callers.push(caller);
        echoes.push(echo);
    }
    let sample = client::offer(0, 1_000_000, ctx.now_ns());
    let frame_bytes_to_server = ClientMessage::Signal {
        to: callers[0].callee.clone(),
        data: sample.clone(),
    }
    .encode()
    .len();
    let frame_bytes_from_server = ServerMessage::Signal {
        from: callers[0].callee.clone(),
        data: sample,
    }
    .encode()
    .len();

    let steady_rate = plan.rate_per_pair * plan.pairs as f64;
    let (back, steady) = step(ctx, callers, 1, steady_rate, plan.steady).await?;
    callers = back;
    eprintln!(
        "relay: {steady_rate} rt/s: p99 {} ms, lost {}",
        steady.round_trip.p99_ms, steady.lost
    );

    let mut ramp = Vec::new();
    let mut best: Option<RelayRun> = None;
    let mut limited_by = "the last ramp step passed; the ramp goes no higher".to_owned();
    let mut step_id = 2;
    'ramp: for &rate in &plan.ramp {
        // A failing step gets one retry, so one disturbance on the machine does not end the ramp.
        for attempt in 0..2 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let (back, mut run) = step(ctx, callers, step_id, rate, plan.ramp_step).await?;
            callers = back;
            step_id += 1;
            let passed = run.lost == 0
                && run.errors == 0
                && run.round_trip.p99_ms < RAMP_P99_MS
                && run.sent as f64 >= 0.95 * rate * plan.ramp_step.as_secs_f64();
            run.passed = Some(passed);
            eprintln!(
                "relay ramp: {rate} rt/s: achieved {} rt/s, p99 {} ms, lost {}, server {:?} %, generator {:?} %, cores busy {:?} %{}",
                run.achieved_rt_per_s,
                run.round_trip.p99_ms,
                run.lost,
                run.cpu.server_pct,
                run.cpu.generator_pct,
                run.cpu.cores_busy_pct,
                if passed { "" } else { " (missed)" }
            );
            ramp.push(run.clone());
            if passed {
                best = Some(run);
                continue 'ramp;
            }
            if attempt == 1 {
                limited_by = limit_of(&run, rate, plan.ramp_step);
                break 'ramp;
            }
        }
    }

    let _ = stop_tx.send(true);
    for caller in callers {
        if let Ok(ws) = caller.tx.reunite(caller.rx) {
            client::close(ws).await;
        }
    }
    for echo in echoes {
        echo.await??;
    }
    Ok(Relay {
        pairs: plan.pairs,
        frame_bytes_to_server,
        frame_bytes_from_server,
        steady,
        ramp,
        best,
        limited_by,
    })
}

/// Says which side ran out at the first step that missed.
fn limit_of(run: &RelayRun, rate: f64, dur: Duration) -> String {
    let server = run.cpu.server_pct.unwrap_or(0.0);
    let generator = run.cpu.generator_pct.unwrap_or(0.0);
    let short = (run.sent as f64) < 0.95 * rate * dur.as_secs_f64();
    let what = if short {
        "the generator could not send at the asked rate".to_owned()
    } else if run.lost > 0 {
        format!("{} offers lost", run.lost)
    } else {
        format!("p99 {} ms", run.round_trip.p99_ms)
    };
    let busiest_core = run.cpu.cores_busy_pct.iter().copied().fold(0.0, f64::max);
    let side = if server >= 90.0 && server >= generator {
        "server core saturated"
    } else if generator >= 90.0 {
        "generator core saturated"
    } else if busiest_core >= 90.0 {
        "a core saturated together with other processes"
    } else {
        "neither core saturated"
    };
    format!("{rate} rt/s: {what}; server {server} % of its core, generator {generator} % of its core ({side})")
}

async fn step(
    ctx: &Ctx,
    callers: Vec<Caller>,
    step_id: u32,
    total_rate: f64,
    dur: Duration,
) -> anyhow::Result<(Vec<Caller>, RelayRun)> {
    let n = callers.len();
    let rate = total_rate / n as f64;
    let start = Instant::now() + Duration::from_millis(50);
    let base = ctx.base;
    let meter = ctx.cpu();
    let tasks: Vec<_> = callers
        .into_iter()
        .enumerate()
        .map(|(i, mut caller)| {
            // Spread the pairs' schedules over one sending period.
            let phase = Duration::from_secs_f64(i as f64 / n as f64 / rate);
            tokio::task::spawn_local(async move {
                let outcome = drive(&mut caller, step_id, rate, start + phase, dur, base).await;
                (caller, outcome)
            })
        })
        .collect();
    let mut back = Vec::with_capacity(n);
    let mut sent = 0;
    let mut errors = 0;
    let mut late = 0;
    let mut samples = Vec::new();
    for task in tasks {
        let (caller, outcome) = task.await?;
        let outcome = outcome?;
        sent += outcome.sent;
        errors += outcome.errors;
        late += outcome.late;
        samples.extend(outcome.samples);
        back.push(caller);
    }
    let cpu = meter.read();
    let received = samples.len() as u64;
    let run = RelayRun {
        target_rt_per_s: total_rate,
        duration_s: dur.as_secs_f64(),
        sent,
        received,
        lost: sent.saturating_sub(received),
        errors,
        late,
        achieved_rt_per_s: round(received as f64 / dur.as_secs_f64(), 0),
        round_trip: Latency::from_nanos(samples),
        cpu,
        passed: None,
    };
    Ok((back, run))
}

/// Sends on schedule and reads the answers concurrently, in one task.
async fn drive(
    caller: &mut Caller,
    step_id: u32,
    rate: f64,
    start: Instant,
    dur: Duration,
    base: std::time::Instant,
) -> anyhow::Result<Outcome> {
    let end = start + dur;
    let sent = Cell::new(0u64);
    let writing = Cell::new(true);
    let Caller { tx, rx, callee } = caller;
    let writer = async {
        sleep_until(start).await;
        let mut k = 0u64;
        let result = async {
            loop {
                let now = Instant::now();
                if now >= end {
                    break;
                }
                let due = ((now - start).as_secs_f64() * rate) as u64 + 1;
                while k < due {
                    let data = client::offer(step_id, k, base.elapsed().as_nanos() as u64);
                    let msg = ClientMessage::Signal {
                        to: callee.clone(),
                        data,
                    };
                    tx.feed(client::frame(&msg)).await?;
                    k += 1;
                }
                tx.flush().await?;
                sent.set(k);
                let next = start + Duration::from_secs_f64(k as f64 / rate);
                sleep_until(next.max(now + MIN_GAP)).await;
            }
            anyhow::Ok(())
        }
        .await;
        writing.set(false);
        result
    };
    let reader = async {
        let mut out = Outcome::default();
        let check = sleep_until(end + Duration::from_millis(5));
        tokio::pin!(check);
        let mut draining = false;
        loop {
            if !writing.get() && out.samples.len() as u64 >= sent.get() {
                break;
            }
            tokio::select! {
                biased;
                item = rx.next() => {
                    let msg = match item {
                        Some(Ok(msg)) => msg,
                        Some(Err(err)) => return Err(err.into()),
                        None => bail!("the server closed a relay connection"),
                    };
                    let now = base.elapsed().as_nanos() as u64;
                    match client::decode(&msg)? {
                        Some(ServerMessage::Signal { data, .. }) => match client::parse_offer(&data) {
                            Some((s, _, at)) if s == step_id => out.samples.push(now.saturating_sub(at)),
                            Some(_) => out.late += 1,
                            None => out.errors += 1,
                        },
                        Some(_) => out.errors += 1,
                        None => {}
                    }
                }
                _ = &mut check => {
                    if draining {
                        break;
                    }
                    draining = true;
                    check.as_mut().reset(end + DRAIN);
                }
            }
        }
        anyhow::Ok(out)
    };
    let (written, read) = tokio::join!(writer, reader);
    written?;
    let mut out = read?;
    out.sent = sent.get();
    Ok(out)
}

/// The callee: answers every offer with the same payload, batching whatever already arrived
/// into one write.
async fn echo(mut ws: Ws, mut stop: watch::Receiver<bool>) -> anyhow::Result<()> {
    loop {
        let item = tokio::select! {
            _ = stop.changed() => break,
            item = ws.next() => item,
        };
        let first = match item {
            Some(Ok(msg)) => msg,
            Some(Err(err)) => return Err(err.into()),
            None => bail!("the server closed a callee"),
        };
        let mut pending = Some(first);
        let mut answered = 0;
        while let Some(msg) = pending.take() {
            if let Some(ServerMessage::Signal { from, data }) = client::decode(&msg)? {
                let answer = ClientMessage::Signal { to: from, data };
                ws.feed(client::frame(&answer)).await?;
                answered += 1;
            }
            if answered >= 64 {
                break;
            }
            pending = match ws.next().now_or_never() {
                Some(Some(Ok(next))) => Some(next),
                Some(Some(Err(err))) => return Err(err.into()),
                Some(None) => bail!("the server closed a callee"),
                None => None,
            };
        }
        if answered > 0 {
            ws.flush().await?;
        }
    }
    client::close(ws).await;
    Ok(())
}
