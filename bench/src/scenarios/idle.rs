//! Idle: many joined connections held open while they do what an idle web app does: answer
//! the server's WebSocket pings and send the app's own `ping` every `ping_interval_ms`. Measures
//! the server's memory per connection, that every connection survives, the memory after all
//! close, and whether repeated open/close cycles grow it (a leak).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use anyhow::{bail, Context};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, Instant};
use tokio_tungstenite::tungstenite::Message;
use treff_shared::{ClientMessage, ServerMessage};

use super::Ctx;
use crate::client;
use crate::procfs::{round, wait_for_gauges, CpuUse};

/// Connections opening at once.
const OPENING_AT_ONCE: usize = 256;
/// Longest time to open (or close) one group of connections.
const GROUP_PATIENCE: Duration = Duration::from_secs(120);
/// Pause before reading RSS, so the server has finished what the last frames started.
const SETTLE: Duration = Duration::from_secs(1);

/// The settings of the idle scenario.
pub struct IdlePlan {
    /// Connections held open.
    pub connections: usize,
    /// Members per room.
    pub room_size: usize,
    /// How long they are held.
    pub hold: Duration,
    /// Open/close cycles after the hold.
    pub cycles: usize,
    /// Connections per cycle.
    pub cycle_connections: usize,
}

/// One open/close cycle.
#[derive(Debug, Clone, Serialize)]
pub struct Cycle {
    /// Connections opened, joined and closed.
    pub connections: usize,
    /// Server RSS with all of them open, KiB.
    pub rss_open_kib: Option<u64>,
    /// Server RSS after all closed, KiB.
    pub rss_after_kib: Option<u64>,
}

/// What the idle scenario measured.
#[derive(Debug, Clone, Serialize)]
pub struct Idle {
    /// Joined connections held.
    pub connections: usize,
    /// Members per room.
    pub room_size: usize,
    /// Rooms.
    pub rooms: usize,
    /// Time to connect and join all of them, seconds.
    pub open_s: f64,
    /// How long they were held, seconds.
    pub hold_s: f64,
    /// Server RSS before opening, KiB.
    pub rss_before_kib: Option<u64>,
    /// Server RSS with all open, KiB.
    pub rss_open_kib: Option<u64>,
    /// Server RSS at the end of the hold, KiB.
    pub rss_end_of_hold_kib: Option<u64>,
    /// Server RSS after all closed, KiB.
    pub rss_after_close_kib: Option<u64>,
    /// (RSS at the end of the hold − RSS before) / connections, bytes.
    pub bytes_per_connection: Option<f64>,
    /// Connections still open at the end of the hold (by the clients' count).
    pub open_at_end: usize,
    /// Sessions the server reported at the end of the hold.
    pub server_sessions_at_end: i64,
    /// Connections the server closed or lost during the hold.
    pub unexpected_closes: usize,
    /// WebSocket pings the server sent (all answered by the clients).
    pub server_pings: u64,
    /// The app's `ping` frames sent.
    pub app_pings: u64,
    /// `pong` frames received.
    pub app_pongs: u64,
    /// CPU while opening.
    pub cpu_open: CpuUse,
    /// CPU during the hold.
    pub cpu_hold: CpuUse,
    /// CPU while closing.
    pub cpu_close: CpuUse,
    /// The open/close cycles.
    pub cycles: Vec<Cycle>,
    /// The leak check: (RSS after the last cycle − RSS after the first) / ((cycles − 1) ×
    /// connections), bytes. A leak grows RSS by the same amount every cycle; glibc's one-time
    /// growth in the first cycle after the big close (it does not hand the freed memory of
    /// 10,000 connections straight back out) is left out here and reported below.
    pub growth_bytes_per_connection_per_cycle: Option<f64>,
    /// (RSS after the last cycle − RSS after the big close) / (cycles × connections), bytes:
    /// the same including the first cycle.
    pub growth_including_first_cycle: Option<f64>,
}

#[derive(Default)]
struct Counters {
    joined: Cell<usize>,
    failed: Cell<usize>,
    open: Cell<usize>,
    unexpected_closes: Cell<usize>,
    server_pings: Cell<u64>,
    app_pings: Cell<u64>,
    app_pongs: Cell<u64>,
    first_error: RefCell<Option<String>>,
}

struct Group {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    counters: Rc<Counters>,
}

/// Runs the hold, then the cycles.
pub async fn run(ctx: &Ctx, plan: &IdlePlan) -> anyhow::Result<Idle> {
    let rss_before_kib = ctx.rss_kib();
    let meter = ctx.cpu();
    let opened = Instant::now();
    let group = open(ctx, "idle", plan.connections, plan.room_size).await?;
    let open_s = round(opened.elapsed().as_secs_f64(), 2);
    let cpu_open = meter.read();
    eprintln!("idle: {} joined in {open_s} s", plan.connections);
    tokio::time::sleep(SETTLE).await;
    let rss_open_kib = ctx.rss_kib();

    let meter = ctx.cpu();
    tokio::time::sleep(plan.hold).await;
    let cpu_hold = meter.read();
    let rss_end_of_hold_kib = ctx.rss_kib();
    let (server_sessions_at_end, _) = crate::procfs::healthz(ctx.addr).await?;
    let counters = group.counters.clone();
    let open_at_end = counters.open.get();

    let meter = ctx.cpu();
    close(ctx, group).await?;
    let cpu_close = meter.read();
    tokio::time::sleep(SETTLE).await;
    let rss_after_close_kib = ctx.rss_kib();
    eprintln!(
        "idle: held {} s, {open_at_end} open at the end",
        plan.hold.as_secs()
    );

    let mut cycles = Vec::with_capacity(plan.cycles);
    for c in 0..plan.cycles {
        let group = open(
            ctx,
            &format!("cycle{c}"),
            plan.cycle_connections,
            plan.room_size,
        )
        .await?;
        tokio::time::sleep(SETTLE).await;
        let rss_open_kib = ctx.rss_kib();
        close(ctx, group).await?;
        tokio::time::sleep(SETTLE).await;
        cycles.push(Cycle {
            connections: plan.cycle_connections,
            rss_open_kib,
            rss_after_kib: ctx.rss_kib(),
        });
    }

    let per = |after: Option<u64>, before: Option<u64>, n: usize| {
        after
            .zip(before)
            .map(|(a, b)| round((a as f64 - b as f64) * 1024.0 / n.max(1) as f64, 1))
    };
    let last = cycles.last().and_then(|c| c.rss_after_kib);
    let growth = if plan.cycles >= 2 {
        per(
            last,
            cycles[0].rss_after_kib,
            (plan.cycles - 1) * plan.cycle_connections,
        )
    } else {
        None
    };
    let growth_including_first_cycle = per(
        last,
        rss_after_close_kib,
        plan.cycles * plan.cycle_connections,
    );
    Ok(Idle {
        connections: plan.connections,
        room_size: plan.room_size,
        rooms: plan.connections.div_ceil(plan.room_size),
        open_s,
        hold_s: plan.hold.as_secs_f64(),
        rss_before_kib,
        rss_open_kib,
        rss_end_of_hold_kib,
        rss_after_close_kib,
        bytes_per_connection: per(
            rss_end_of_hold_kib.max(rss_open_kib),
            rss_before_kib,
            plan.connections,
        ),
        open_at_end,
        server_sessions_at_end,
        unexpected_closes: counters.unexpected_closes.get(),
        server_pings: counters.server_pings.get(),
        app_pings: counters.app_pings.get(),
        app_pongs: counters.app_pongs.get(),
        cpu_open,
        cpu_hold,
        cpu_close,
        cycles,
        growth_bytes_per_connection_per_cycle: growth,
        growth_including_first_cycle,
    })
}

/// Opens `n` joined connections in rooms of `room_size` and waits until all have joined.
async fn open(ctx: &Ctx, prefix: &str, n: usize, room_size: usize) -> anyhow::Result<Group> {
    let (stop, stop_rx) = watch::channel(false);
    let counters = Rc::new(Counters::default());
    let gate = Rc::new(Semaphore::new(OPENING_AT_ONCE));
    let tasks = (0..n)
        .map(|i| {
            let room = format!("{prefix}-{}", i / room_size);
            tokio::task::spawn_local(hold(
                ctx.url.clone(),
                room,
                gate.clone(),
                stop_rx.clone(),
                counters.clone(),
            ))
        })
        .collect();
    let group = Group {
        stop,
        tasks,
        counters,
    };
    let deadline = Instant::now() + GROUP_PATIENCE;
    loop {
        let c = &group.counters;
        if c.failed.get() > 0 {
            let err = c.first_error.borrow().clone().unwrap_or_default();
            bail!(
                "{} of {n} connections failed to join; first: {err}",
                c.failed.get()
            );
        }
        if c.joined.get() == n {
            break;
        }
        if Instant::now() >= deadline {
            bail!("only {} of {n} connections joined in time", c.joined.get());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_for_gauges(
        ctx.addr,
        n as i64,
        n.div_ceil(room_size) as i64,
        GROUP_PATIENCE,
    )
    .await
    .context("after opening")?;
    Ok(group)
}

/// Closes every connection of a group normally and waits until the server holds nothing.
async fn close(ctx: &Ctx, group: Group) -> anyhow::Result<()> {
    let _ = group.stop.send(true);
    tokio::time::timeout(GROUP_PATIENCE, async {
        for task in group.tasks {
            let _ = task.await;
        }
    })
    .await
    .context("closing took too long")?;
    wait_for_gauges(ctx.addr, 0, 0, GROUP_PATIENCE)
        .await
        .context("after closing")
}

/// One idle member: joins, then answers pings and sends the app's heartbeat until stopped.
async fn hold(
    url: String,
    room: String,
    gate: Rc<Semaphore>,
    mut stop: watch::Receiver<bool>,
    counters: Rc<Counters>,
) {
    let joined = async {
        let _permit = gate.acquire().await?;
        client::connect_and_join(&url, &room, "Idle").await
    }
    .await;
    let (mut ws, welcome) = match joined {
        Ok(joined) => joined,
        Err(err) => {
            counters.failed.set(counters.failed.get() + 1);
            counters
                .first_error
                .borrow_mut()
                .get_or_insert_with(|| format!("{err:#}"));
            return;
        }
    };
    counters.joined.set(counters.joined.get() + 1);
    counters.open.set(counters.open.get() + 1);
    let every = Duration::from_millis(welcome.ping_interval_ms.max(100));
    let ping = sleep_until(Instant::now() + every);
    tokio::pin!(ping);
    let ping_frame = client::frame(&ClientMessage::Ping);
    loop {
        tokio::select! {
            _ = stop.changed() => {
                client::close(ws).await;
                counters.open.set(counters.open.get() - 1);
                return;
            }
            _ = &mut ping => {
                if ws.send(ping_frame.clone()).await.is_err() {
                    break;
                }
                counters.app_pings.set(counters.app_pings.get() + 1);
                ping.as_mut().reset(Instant::now() + every);
            }
            item = ws.next() => match item {
                // tungstenite answers the ping itself on the next read.
                Some(Ok(Message::Ping(_))) => counters.server_pings.set(counters.server_pings.get() + 1),
                Some(Ok(msg @ Message::Text(_))) => {
                    if let Ok(Some(ServerMessage::Pong)) = client::decode(&msg) {
                        counters.app_pongs.set(counters.app_pongs.get() + 1);
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            }
        }
    }
    counters.open.set(counters.open.get() - 1);
    counters
        .unexpected_closes
        .set(counters.unexpected_closes.get() + 1);
}
