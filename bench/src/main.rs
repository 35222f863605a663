//! `treff-bench`: the signaling benchmark's load generator.
//!
//! It drives a running treff server (started separately, normally by `scripts/bench.sh`, which
//! pins server and generator to one core each) over real loopback WebSockets, speaking the
//! protocol through `treff_shared` as the web app does, and reads the server's memory and CPU
//! from `/proc/<pid>`. Scenarios, in the order they run:
//!
//! 1. idle: 10,000 joined connections held 30 s with heartbeats; memory per connection; then
//!    four open/close cycles of 2,000 as a leak check (first, so its memory figures start from
//!    a fresh server);
//! 2. presence: 200 pairs join at once; time to `peer-joined`;
//! 3. relay: 50 pairs exchange 1 KB offers at 1,000 round trips/s, then a ramp to the highest
//!    rate sustained with p99 under 50 ms and nothing lost;
//! 4. chat: 10 rooms of 10 members, each sending 2 messages/s; delivery latency.
//!
//! Every scenario is bounded in connections and in time. Only loopback addresses are accepted.
#![forbid(unsafe_code)]

mod report;
mod scenarios;

use treff_bench::{client, procfs, stats};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};

use report::{Report, ServerInfo};
use scenarios::{idle::IdlePlan, relay::RelayPlan, Ctx};

/// The scenarios, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Idle,
    Presence,
    Relay,
    Chat,
}

/// Load generator for treff's signaling server. Run it through scripts/bench.sh, which starts
/// the server and pins both processes.
#[derive(Debug, Parser)]
#[command(name = "treff-bench", version, about)]
struct Args {
    /// The server's address; only loopback addresses are accepted.
    #[arg(long)]
    addr: SocketAddr,
    /// The server's process id, for its RSS and CPU time.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Directory for signaling.json and signaling.md.
    #[arg(long, default_value = "bench-results")]
    out: PathBuf,
    /// Scenarios to run, in this order.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "idle,presence,relay,chat"
    )]
    scenarios: Vec<Scenario>,
    /// A server flag the wrapper changed from its default, with the reason (repeatable).
    #[arg(long = "raised")]
    raised: Vec<String>,
    /// How the wrapper scheduled server and generator, recorded in the report.
    #[arg(long, default_value = "as started (no priority given)")]
    scheduling: String,

    /// Idle: joined connections held open.
    #[arg(long, default_value_t = 10_000)]
    idle_connections: usize,
    /// Idle: members per room.
    #[arg(long, default_value_t = 2)]
    idle_room_size: usize,
    /// Idle: seconds to hold them.
    #[arg(long, default_value_t = 30)]
    idle_hold_secs: u64,
    /// Idle: open/close cycles of the leak check.
    #[arg(long, default_value_t = 4)]
    cycles: usize,
    /// Idle: connections per cycle.
    #[arg(long, default_value_t = 2_000)]
    cycle_connections: usize,

    /// Presence: pairs joining at once.
    #[arg(long, default_value_t = 200)]
    presence_pairs: usize,

    /// Relay: pairs.
    #[arg(long, default_value_t = 50)]
    relay_pairs: usize,
    /// Relay: round trips per second per pair in the fixed-rate run.
    #[arg(long, default_value_t = 20.0)]
    relay_rate: f64,
    /// Relay: seconds of the fixed-rate run.
    #[arg(long, default_value_t = 10)]
    relay_secs: u64,
    /// Relay: total round trips per second of each ramp step.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "2000,5000,10000,20000,30000,45000,60000,80000,100000,120000,140000,160000"
    )]
    ramp: Vec<f64>,
    /// Relay: seconds per ramp step.
    #[arg(long, default_value_t = 3)]
    ramp_step_secs: u64,

    /// Chat: rooms.
    #[arg(long, default_value_t = 10)]
    chat_rooms: usize,
    /// Chat: members per room.
    #[arg(long, default_value_t = 10)]
    chat_members: usize,
    /// Chat: messages per second per member.
    #[arg(long, default_value_t = 2.0)]
    chat_rate: f64,
    /// Chat: seconds of sending.
    #[arg(long, default_value_t = 10)]
    chat_secs: u64,
}

/// Upper bounds per scenario, beyond the bounds inside each.
const SCENARIO_LIMIT: Duration = Duration::from_secs(300);

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if !args.addr.ip().is_loopback() {
        bail!(
            "treff-bench only targets loopback addresses, not {}",
            args.addr
        );
    }
    if args.ramp.len() > 20 || args.ramp.iter().any(|&r| !(1.0..=500_000.0).contains(&r)) {
        bail!("--ramp takes at most 20 steps of 1 to 500,000 rt/s");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    let report = local.block_on(&runtime, run(&args))?;

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let json = serde_json::to_string_pretty(&report)?;
    let md = report.markdown();
    std::fs::write(args.out.join("signaling.json"), format!("{json}\n"))?;
    std::fs::write(args.out.join("signaling.md"), &md)?;
    println!("{json}\n\n{md}");
    if !report.errors.is_empty() {
        bail!("{} scenario(s) failed", report.errors.len());
    }
    Ok(())
}

async fn run(args: &Args) -> anyhow::Result<Report> {
    let ctx = Ctx {
        addr: args.addr,
        url: format!("ws://{}/ws", args.addr),
        server_pid: args.server_pid,
        ticks: procfs::clock_ticks(),
        base: Instant::now(),
    };
    procfs::wait_for_gauges(ctx.addr, 0, 0, Duration::from_secs(10))
        .await
        .context("the server is not up, or not idle")?;

    let mut report = Report {
        finished_unix_s: 0,
        machine: procfs::Machine::read(),
        server: ServerInfo {
            addr: args.addr.to_string(),
            pid: args.server_pid,
            cpus_allowed: args
                .server_pid
                .map_or("?".into(), |pid| procfs::cpus_allowed(Some(pid))),
            flags_raised: args.raised.clone(),
            scheduling: args.scheduling.clone(),
        },
        generator_cpus_allowed: procfs::cpus_allowed(None),
        presence: None,
        relay: None,
        chat: None,
        idle: None,
        targets: Vec::new(),
        errors: Vec::new(),
    };

    for &scenario in &args.scenarios {
        eprintln!("== {scenario:?}");
        let outcome = tokio::time::timeout(SCENARIO_LIMIT, one(&ctx, args, scenario, &mut report))
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("took longer than {SCENARIO_LIMIT:?}")));
        if let Err(err) = outcome {
            eprintln!("{scenario:?} failed: {err:#}");
            report.errors.push(format!("{scenario:?}: {err:#}"));
        }
        // Let the server close whatever the scenario left before the next one starts.
        if let Err(err) = procfs::wait_for_gauges(ctx.addr, 0, 0, Duration::from_secs(30)).await {
            report.errors.push(format!("after {scenario:?}: {err:#}"));
            break;
        }
    }
    report.finished_unix_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    report.compare();
    Ok(report)
}

async fn one(
    ctx: &Ctx,
    args: &Args,
    scenario: Scenario,
    report: &mut Report,
) -> anyhow::Result<()> {
    match scenario {
        Scenario::Presence => {
            report.presence = Some(scenarios::presence::run(ctx, args.presence_pairs).await?);
        }
        Scenario::Relay => {
            let plan = RelayPlan {
                pairs: args.relay_pairs,
                rate_per_pair: args.relay_rate,
                steady: Duration::from_secs(args.relay_secs),
                ramp: args.ramp.clone(),
                ramp_step: Duration::from_secs(args.ramp_step_secs),
            };
            report.relay = Some(scenarios::relay::run(ctx, &plan).await?);
        }
        Scenario::Chat => {
            report.chat = Some(
                scenarios::chat::run(
                    ctx,
                    args.chat_rooms,
                    args.chat_members,
                    args.chat_rate,
                    Duration::from_secs(args.chat_secs),
                )
                .await?,
            );
        }
        Scenario::Idle => {
            let plan = IdlePlan {
                connections: args.idle_connections,
                room_size: args.idle_room_size,
                hold: Duration::from_secs(args.idle_hold_secs),
                cycles: args.cycles,
                cycle_connections: args.cycle_connections,
            };
            report.idle = Some(scenarios::idle::run(ctx, &plan).await?);
        }
    }
    Ok(())
}
