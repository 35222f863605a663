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
//! With `--nodes 2` it measures a cluster instead: it starts a `redis-server` of its own and
//! two treff nodes sharing rooms through it (and, without `--addr`, a single treff without
//! Redis for comparison), and runs presence and relay in rounds (3 by default), each round on
//! the single node, with both members of each pair on node A, and with the first member on
//! node A and the second on node B, so other load on the machine falls on all three alike; the
//! comparison takes the medians over the rounds. Then:
//!
//! 5. takeover: 50 rooms owned by node A, one member on each node, relay load running; node A
//!    is killed with SIGKILL and everyone re-joins on node B with their resume tokens; the time
//!    to the last member back, and whether all kept their peer ids.
//!
//! Every scenario is bounded in connections and in time. Only loopback addresses are accepted.
#![forbid(unsafe_code)]

mod cluster;
mod report;
mod scenarios;

use treff_bench::{client, procfs, stats};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};

use cluster::{Launch, Process};
use report::{ClusterReport, Report, Round, ServerInfo};
use scenarios::takeover::TakeoverPlan;
use scenarios::{idle::IdlePlan, relay::RelayPlan, Ctx};

/// The scenarios, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Idle,
    Presence,
    Relay,
    Chat,
    Takeover,
}

/// Load generator for treff's signaling server. Run it through scripts/bench.sh, which starts
/// the server and pins both processes.
#[derive(Debug, Parser)]
#[command(name = "treff-bench", version, about)]
struct Args {
    /// The server's address; only loopback addresses are accepted. Needed on one node; with
    /// --nodes 2 it is the single node the cluster is compared with (else one is started).
    #[arg(long)]
    addr: Option<SocketAddr>,
    /// The server's process id, for its RSS and CPU time.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Directory for signaling.json and signaling.md.
    #[arg(long, default_value = "bench-results")]
    out: PathBuf,
    /// Scenarios to run, in this order [default: idle,presence,relay,chat; with --nodes 2:
    /// presence,relay,takeover, takeover always last].
    #[arg(long, value_delimiter = ',')]
    scenarios: Option<Vec<Scenario>>,
    /// 1: the server at --addr. 2: a cluster of two nodes and a Redis the benchmark starts.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    nodes: u8,
    /// Cluster: the treff binary [default: `treff` beside this one].
    #[arg(long)]
    treff_bin: Option<PathBuf>,
    /// Cluster: the redis-server binary.
    #[arg(long, default_value = "redis-server")]
    redis_server: PathBuf,
    /// Cluster: CPUs (a taskset list) for the processes the benchmark starts [default: those
    /// of --server-pid, else unpinned].
    #[arg(long)]
    cluster_cpus: Option<String>,
    /// Cluster: rounds of presence and relay, each running every placement in turn (the
    /// comparison takes the median over the rounds; the relay ramp runs in the first only).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    rounds: u32,
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

    /// Takeover: pairs (rooms), all owned by node A.
    #[arg(long, default_value_t = 50)]
    takeover_pairs: usize,
    /// Takeover: round trips per second per pair.
    #[arg(long, default_value_t = 20.0)]
    takeover_rate: f64,
    /// Takeover: seconds of load before the kill.
    #[arg(long, default_value_t = 5)]
    takeover_before_secs: u64,
    /// Takeover: seconds of load after the last member is back.
    #[arg(long, default_value_t = 3)]
    takeover_after_secs: u64,
    /// Takeover: seconds from the kill within which every member must be back.
    #[arg(long, default_value_t = 30)]
    takeover_patience_secs: u64,
}

/// Flags of the nodes the benchmark starts, with the reason (those of scripts/bench.sh).
const NODE_FLAGS: [(&str, &str); 5] = [
    (
        "--max-sessions-per-ip 20000",
        "every client is 127.0.0.1; default 100 per address",
    ),
    ("--max-rooms 5000", "as scripts/bench.sh; default 1,000"),
    ("--room-capacity 10", "as scripts/bench.sh; default 8"),
    (
        "--frame-rate 100000 --frame-burst 100000",
        "relay ramp: thousands of offers/s per connection; default 50/s, burst 200",
    ),
    ("--chat-rate 10", "as scripts/bench.sh; default 1/s"),
];

/// Upper bounds per scenario, beyond the bounds inside each.
const SCENARIO_LIMIT: Duration = Duration::from_secs(300);

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(addr) = args.addr.filter(|a| !a.ip().is_loopback()) {
        bail!("treff-bench only targets loopback addresses, not {addr}");
    }
    if args.ramp.len() > 20 || args.ramp.iter().any(|&r| !(1.0..=500_000.0).contains(&r)) {
        bail!("--ramp takes at most 20 steps of 1 to 500,000 rt/s");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    let report = if args.nodes == 2 {
        let scenarios = cluster_scenarios(&args)?;
        local.block_on(&runtime, async {
            // Ended by a signal, the run still drops (and so kills) the processes it started.
            tokio::select! {
                report = run_cluster(&args, &scenarios) => report,
                signal = terminated() => Err(anyhow::anyhow!("stopped by {signal}")),
            }
        })?
    } else {
        let Some(addr) = args.addr else {
            bail!("--addr is needed (or --nodes 2, which starts its own servers)");
        };
        let scenarios = args.scenarios.clone().unwrap_or_else(|| {
            vec![
                Scenario::Idle,
                Scenario::Presence,
                Scenario::Relay,
                Scenario::Chat,
            ]
        });
        if scenarios.contains(&Scenario::Takeover) {
            bail!("the takeover scenario needs a cluster: --nodes 2");
        }
        local.block_on(&runtime, run(&args, addr, &scenarios))?
    };

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

async fn run(args: &Args, addr: SocketAddr, scenarios: &[Scenario]) -> anyhow::Result<Report> {
    let url = format!("ws://{addr}/ws");
    let ctx = Ctx {
        addr,
        url: url.clone(),
        second_url: url,
        rooms: String::new(),
        server_pid: args.server_pid,
        also_pids: Vec::new(),
        ticks: procfs::clock_ticks(),
        base: Instant::now(),
    };
    procfs::wait_for_gauges(ctx.addr, 0, 0, Duration::from_secs(10))
        .await
        .context("the server is not up, or not idle")?;

    let mut report = Report::new(ServerInfo {
        addr: addr.to_string(),
        pid: args.server_pid,
        cpus_allowed: args
            .server_pid
            .map_or("?".into(), |pid| procfs::cpus_allowed(Some(pid))),
        flags_raised: args.raised.clone(),
        scheduling: args.scheduling.clone(),
    });

    for &scenario in scenarios {
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
            report.relay = Some(scenarios::relay::run(ctx, &relay_plan(args)).await?);
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
        Scenario::Takeover => bail!("the takeover scenario needs a cluster: --nodes 2"),
    }
    Ok(())
}

/// The scenarios of a cluster run, takeover last (it kills node A).
fn cluster_scenarios(args: &Args) -> anyhow::Result<Vec<Scenario>> {
    let mut scenarios = args
        .scenarios
        .clone()
        .unwrap_or_else(|| vec![Scenario::Presence, Scenario::Relay, Scenario::Takeover]);
    if let Some(s) = scenarios
        .iter()
        .find(|s| matches!(s, Scenario::Idle | Scenario::Chat))
    {
        bail!("{s:?} runs on one server only; leave out --nodes 2 for it");
    }
    scenarios.sort_by_key(|&s| s == Scenario::Takeover);
    scenarios.dedup();
    Ok(scenarios)
}

/// The relay plan of the command line.
fn relay_plan(args: &Args) -> RelayPlan {
    RelayPlan {
        pairs: args.relay_pairs,
        rate_per_pair: args.relay_rate,
        steady: Duration::from_secs(args.relay_secs),
        ramp: args.ramp.clone(),
        ramp_step: Duration::from_secs(args.ramp_step_secs),
    }
}

/// Where the members of a pair connect in a cluster run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// The single node, without Redis.
    Single,
    /// Both on node A.
    OneNode,
    /// The first on node A, the second on node B.
    Across,
}

/// Waits until every node in `addrs` has no sessions and no rooms left.
async fn settle(addrs: &[SocketAddr], wait: Duration) -> anyhow::Result<()> {
    for &addr in addrs {
        procfs::wait_for_gauges(addr, 0, 0, wait)
            .await
            .with_context(|| format!("the node at {addr}"))?;
    }
    Ok(())
}

/// A cluster run: starts Redis and two nodes (and a single node without `--addr`), runs
/// presence and relay on the single node, on node A alone and across the nodes, then the
/// takeover. The processes are killed when this returns or is dropped.
async fn run_cluster(args: &Args, scenarios: &[Scenario]) -> anyhow::Result<Report> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let treff = match &args.treff_bin {
        Some(path) => path.clone(),
        None => std::env::current_exe()?.with_file_name("treff"),
    };
    let cpus = args.cluster_cpus.clone().or_else(|| {
        args.server_pid
            .map(|pid| procfs::cpus_allowed(Some(pid)))
            .filter(|c| c != "?")
    });
    let launch = Launch {
        treff,
        redis_server: args.redis_server.clone(),
        cpus,
        flags: NODE_FLAGS
            .iter()
            .flat_map(|(flags, _)| flags.split_whitespace())
            .map(String::from)
            .collect(),
        logs: args.out.clone(),
    };
    let mut started: Vec<Process> = Vec::new();
    let (single_addr, single_pid) = match args.addr {
        Some(addr) => (addr, args.server_pid),
        None => {
            let single = launch.node("single", None).await?;
            let at = (single.addr, Some(single.pid));
            started.push(single);
            at
        }
    };
    let redis = launch.redis().await?;
    let mut a = launch.node("node-a", Some(&redis)).await?;
    let b = launch.node("node-b", Some(&redis)).await?;
    eprintln!(
        "cluster: redis pid {} on {}, node-a pid {} on {}, node-b pid {} on {}; single node {single_addr}",
        redis.pid, redis.addr, a.pid, a.addr, b.pid, b.addr
    );
    let processes = started
        .iter()
        .chain([&redis, &a, &b])
        .map(Process::info)
        .collect();
    let ticks = procfs::clock_ticks();
    let base = Instant::now();
    let single_url = format!("ws://{single_addr}/ws");
    let (a_addr, a_url, a_pid, b_url) = (a.addr, a.url(), a.pid, b.url());
    let ctx = |placement| match placement {
        Placement::Single => Ctx {
            addr: single_addr,
            url: single_url.clone(),
            second_url: single_url.clone(),
            rooms: String::new(),
            server_pid: single_pid,
            also_pids: Vec::new(),
            ticks,
            base,
        },
        Placement::OneNode | Placement::Across => Ctx {
            addr: a_addr,
            url: a_url.clone(),
            second_url: if placement == Placement::Across {
                b_url.clone()
            } else {
                a_url.clone()
            },
            rooms: if placement == Placement::Across {
                "across-".into()
            } else {
                "one-".into()
            },
            server_pid: Some(a_pid),
            also_pids: vec![b.pid, redis.pid],
            ticks,
            base,
        },
    };
    procfs::wait_for_gauges(single_addr, 0, 0, Duration::from_secs(10))
        .await
        .context("the single node is not up, or not idle")?;

    let mut report = Report::new(ServerInfo {
        addr: single_addr.to_string(),
        pid: single_pid,
        cpus_allowed: single_pid.map_or("?".into(), |pid| procfs::cpus_allowed(Some(pid))),
        flags_raised: if args.addr.is_some() {
            args.raised.clone()
        } else {
            NODE_FLAGS
                .iter()
                .map(|(flags, why)| format!("{flags} ({why})"))
                .collect()
        },
        scheduling: args.scheduling.clone(),
    });
    let mut cluster = ClusterReport {
        processes,
        node_flags: launch.flags.clone(),
        single_node_started: args.addr.is_none(),
        rounds: Vec::new(),
        takeover: None,
    };

    let placements = [Placement::Single, Placement::OneNode, Placement::Across];
    let measured: Vec<Scenario> = scenarios
        .iter()
        .copied()
        .filter(|&s| s != Scenario::Takeover)
        .collect();
    let mut settled = true;
    'rounds: for round in 1..=args.rounds {
        let mut this = Round::default();
        for &scenario in &measured {
            for placement in placements {
                eprintln!("== {scenario:?} ({placement:?}), round {round}");
                let ctx = ctx(placement);
                let mut plan = relay_plan(args);
                if round > 1 {
                    plan.ramp.clear();
                }
                let into = match placement {
                    Placement::Single => &mut this.single,
                    Placement::OneNode => &mut this.one_node,
                    Placement::Across => &mut this.across,
                };
                let outcome = tokio::time::timeout(SCENARIO_LIMIT, async {
                    match scenario {
                        Scenario::Presence => {
                            into.presence =
                                Some(scenarios::presence::run(&ctx, args.presence_pairs).await?);
                        }
                        Scenario::Relay => {
                            into.relay = Some(scenarios::relay::run(&ctx, &plan).await?);
                        }
                        Scenario::Idle | Scenario::Chat | Scenario::Takeover => {}
                    }
                    anyhow::Ok(())
                })
                .await
                .unwrap_or_else(|_| Err(anyhow::anyhow!("took longer than {SCENARIO_LIMIT:?}")));
                let what = format!("{scenario:?} ({placement:?}, round {round})");
                if let Err(err) = outcome {
                    eprintln!("{what} failed: {err:#}");
                    report.errors.push(format!("{what}: {err:#}"));
                }
                let nodes = if placement == Placement::Single {
                    vec![single_addr]
                } else {
                    vec![a_addr, b.addr]
                };
                if let Err(err) = settle(&nodes, Duration::from_secs(30)).await {
                    report.errors.push(format!("after {what}: {err:#}"));
                    cluster.rounds.push(this);
                    settled = false;
                    break 'rounds;
                }
            }
        }
        cluster.rounds.push(this);
    }
    if let Some(first) = cluster.rounds.first() {
        report.presence = first.single.presence.clone();
        report.relay = first.single.relay.clone();
    }

    if settled && scenarios.contains(&Scenario::Takeover) {
        eprintln!("== Takeover");
        let plan = TakeoverPlan {
            pairs: args.takeover_pairs,
            rate_per_pair: args.takeover_rate,
            before: Duration::from_secs(args.takeover_before_secs),
            after: Duration::from_secs(args.takeover_after_secs),
            patience: Duration::from_secs(args.takeover_patience_secs),
        };
        let mut on_b = ctx(Placement::Across);
        on_b.rooms = String::new();
        on_b.server_pid = Some(b.pid);
        on_b.also_pids = vec![redis.pid];
        let outcome = tokio::time::timeout(
            SCENARIO_LIMIT,
            scenarios::takeover::run(&on_b, &plan, b.addr, || a.kill()),
        )
        .await
        .unwrap_or_else(|_| Err(anyhow::anyhow!("took longer than {SCENARIO_LIMIT:?}")));
        match outcome {
            Ok(t) => {
                for failure in &t.failures {
                    eprintln!("Takeover failed: {failure}");
                    report.errors.push(format!("Takeover: {failure}"));
                }
                cluster.takeover = Some(t);
            }
            Err(err) => {
                eprintln!("Takeover failed: {err:#}");
                report.errors.push(format!("Takeover: {err:#}"));
            }
        }
        if let Err(err) = settle(&[b.addr], Duration::from_secs(30)).await {
            report.errors.push(format!("after Takeover: {err:#}"));
        }
    }
    report.cluster = Some(cluster);
    report.finished_unix_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    report.compare();
    Ok(report)
}

/// Resolves on SIGINT or SIGTERM, with its name.
async fn terminated() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => "SIGINT",
        _ = term.recv() => "SIGTERM",
    }
}
