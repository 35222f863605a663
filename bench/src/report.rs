//! The report: every figure in JSON, and the targets beside the measured figures in Markdown;
//! in a cluster run also the figures across nodes beside those of a single node, and the
//! takeover.

use std::fmt::Write as _;

use serde::Serialize;

use crate::cluster::ProcessInfo;
use crate::procfs::{CpuUse, Machine};
use crate::scenarios::{
    chat::Chat, idle::Idle, presence::Presence, relay::Relay, takeover::Takeover,
};
use crate::stats::Latency;

/// Presence: p99 from the second member's connect to the first member's `peer-joined`.
pub const PRESENCE_P99_MS: f64 = 15.0;
/// Relay at 1,000 round trips/s: p99 round trip.
pub const RELAY_P99_MS: f64 = 1.0;
/// Highest sustained relay rate (unless the generator runs out first).
pub const RELAY_MAX_RT_PER_S: f64 = 45_000.0;
/// Chat at 1,800 deliveries/s: p99 delivery latency.
pub const CHAT_P99_MS: f64 = 1.0;
/// Server memory per idle joined connection (8 KiB).
pub const BYTES_PER_CONNECTION: f64 = 8.0 * 1024.0;
/// Server memory growth per connection per open/close cycle (1 KiB).
pub const GROWTH_PER_CYCLE: f64 = 1024.0;
/// Across nodes, presence and relay p99 at most this many times a single node's.
pub const ACROSS_NODES_FACTOR: f64 = 2.0;

/// Where the server ran and what the wrapper changed from its defaults.
#[derive(Debug, Clone, Serialize)]
pub struct ServerInfo {
    /// Address it listened on.
    pub addr: String,
    /// Process id, if given.
    pub pid: Option<u32>,
    /// CPUs it may run on.
    pub cpus_allowed: String,
    /// Flags changed from the defaults, and why.
    pub flags_raised: Vec<String>,
    /// How server and generator were scheduled (real-time, niced or normal).
    pub scheduling: String,
}

/// One target beside its measured figure.
#[derive(Debug, Clone, Serialize)]
pub struct TargetRow {
    /// What is measured.
    pub figure: String,
    /// The target.
    pub target: String,
    /// The measured figure.
    pub measured: String,
    /// Whether it meets the target (`None` when not measured).
    pub met: Option<bool>,
}

/// Everything one benchmark run produced.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// When the run ended, Unix seconds.
    pub finished_unix_s: u64,
    /// The machine.
    pub machine: Machine,
    /// The server process.
    pub server: ServerInfo,
    /// CPUs the generator may run on.
    pub generator_cpus_allowed: String,
    /// Scenario 1.
    pub presence: Option<Presence>,
    /// Scenario 2.
    pub relay: Option<Relay>,
    /// Scenario 3.
    pub chat: Option<Chat>,
    /// Scenario 4.
    pub idle: Option<Idle>,
    /// A cluster run: the same scenarios on two nodes, and the takeover.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterReport>,
    /// Targets beside the figures.
    pub targets: Vec<TargetRow>,
    /// Scenarios that failed, with the reason.
    pub errors: Vec<String>,
}

/// Presence and relay in one placement of a cluster's members.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Placed {
    /// Presence.
    pub presence: Option<Presence>,
    /// Relay.
    pub relay: Option<Relay>,
}

/// One round of a cluster run: presence and relay in each placement, one after the other, so
/// that other load on the machine falls on all three alike.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Round {
    /// The single node, without Redis.
    pub single: Placed,
    /// Both members of each pair on node A, which owns the room.
    pub one_node: Placed,
    /// The first member of each pair on node A (the owner), the second on node B.
    pub across: Placed,
}

/// What a cluster run measured beyond the single node (whose first round's figures are also
/// the report's own).
#[derive(Debug, Clone, Serialize)]
pub struct ClusterReport {
    /// The processes the benchmark started.
    pub processes: Vec<ProcessInfo>,
    /// Flags every node and the single node it started ran with.
    pub node_flags: Vec<String>,
    /// Whether the single node was started by the benchmark (else the one at `--addr`).
    pub single_node_started: bool,
    /// The rounds; the relay ramp runs in the first only.
    pub rounds: Vec<Round>,
    /// The owner killed, everyone resumed on node B.
    pub takeover: Option<Takeover>,
}

/// The three placements of a round, in the order of the tables.
fn placements(r: &Round) -> [&Placed; 3] {
    [&r.single, &r.one_node, &r.across]
}

/// One figure of every round in placement `at` (0 single, 1 one node, 2 across).
fn over_rounds(c: &ClusterReport, at: usize, pick: Pick) -> Vec<f64> {
    c.rounds
        .iter()
        .filter_map(|r| {
            let p = placements(r)[at];
            pick(p.presence.as_ref(), p.relay.as_ref())
        })
        .collect()
}

/// The median (the mean of the middle two of an even count).
fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        crate::procfs::round((v[n / 2 - 1] + v[n / 2]) / 2.0, 3)
    })
}

/// The median with the smallest and largest figure: `5.1 (4.7–13.1)`.
fn spread(v: &[f64]) -> String {
    let Some(mid) = median(v.to_vec()) else {
        return "–".into();
    };
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if lo == hi {
        return format!("{mid}");
    }
    format!("{mid} ({lo}–{hi})")
}

fn list(v: &[f64]) -> String {
    let each: Vec<String> = v.iter().map(|x| format!("{x}")).collect();
    each.join(", ")
}

/// Picks one figure out of a placement's presence and relay results.
type Pick<'a> = &'a dyn Fn(Option<&Presence>, Option<&Relay>) -> Option<f64>;

fn row(figure: &str, target: &str, measured: String, met: Option<bool>) -> TargetRow {
    TargetRow {
        figure: figure.into(),
        target: target.into(),
        measured,
        met,
    }
}

/// `x / of`, to two decimals.
fn ratio(x: f64, of: f64) -> String {
    if of > 0.0 {
        format!("{:.2}", x / of)
    } else {
        "–".into()
    }
}

/// Milliseconds as seconds, to two decimals.
fn secs(ms: f64) -> String {
    format!("{:.2}", ms / 1e3)
}

fn count(n: Option<i64>) -> String {
    n.map_or("?".into(), |n| n.to_string())
}

fn lat(l: &Latency) -> String {
    if l.count == 0 {
        return "–".into();
    }
    format!("{} / {} / {}", l.p50_ms, l.p99_ms, l.max_ms)
}

fn kib(bytes: f64) -> String {
    format!("{:.2} KiB ({bytes:.0} B)", bytes / 1024.0)
}

impl Report {
    /// A report of this machine for `server`, with no figures yet.
    pub fn new(server: ServerInfo) -> Report {
        Report {
            finished_unix_s: 0,
            machine: Machine::read(),
            server,
            generator_cpus_allowed: crate::procfs::cpus_allowed(None),
            presence: None,
            relay: None,
            chat: None,
            idle: None,
            cluster: None,
            targets: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Fills in [`Report::targets`] from the scenario results.
    pub fn compare(&mut self) {
        let mut rows = Vec::new();
        match &self.presence {
            Some(p) => rows.push(row(
                "presence: connect to `peer-joined`, p99",
                "≤ 15 ms",
                format!(
                    "{} ms (p50 {} ms, max {} ms; {} pairs at once, all {} joins in {} ms)",
                    p.peer_joined.p99_ms,
                    p.peer_joined.p50_ms,
                    p.peer_joined.max_ms,
                    p.pairs,
                    p.joins,
                    p.total_ms
                ),
                Some(p.failed == 0 && p.peer_joined.p99_ms <= PRESENCE_P99_MS),
            )),
            None => rows.push(row("presence p99", "≤ 15 ms", "not run".into(), None)),
        }
        match &self.relay {
            Some(r) => {
                let s = &r.steady;
                rows.push(row(
                    "relay: 1 KB round trip p99 at 1,000 rt/s",
                    "≤ 1 ms",
                    format!(
                        "{} ms (p50 {} ms, p95 {} ms; {} lost)",
                        s.round_trip.p99_ms, s.round_trip.p50_ms, s.round_trip.p95_ms, s.lost
                    ),
                    Some(s.lost == 0 && s.round_trip.p99_ms <= RELAY_P99_MS),
                ));
                let best = r.best.as_ref().map_or(0.0, |b| b.achieved_rt_per_s);
                let generator_bound = r.limited_by.contains("generator core saturated")
                    || r.limited_by.contains("generator could not send");
                rows.push(row(
                    "relay: highest rate with p99 < 50 ms, nothing lost",
                    "≥ 45,000 rt/s or the generator's limit",
                    format!("{best:.0} rt/s; stopped at {}", r.limited_by),
                    Some(best >= RELAY_MAX_RT_PER_S || generator_bound),
                ));
            }
            None => rows.push(row("relay", "", "not run".into(), None)),
        }
        match &self.chat {
            Some(c) => rows.push(row(
                "chat fan-out: delivery p99 to other members",
                "≤ 1 ms at 1,800 deliveries/s",
                format!(
                    "{} ms (p50 {} ms) at {} deliveries/s to others ({} with the sender's echo); {} lost",
                    c.latency_to_others.p99_ms,
                    c.latency_to_others.p50_ms,
                    c.deliveries_to_others_per_s,
                    c.deliveries_total_per_s,
                    c.lost
                ),
                Some(c.lost == 0 && c.latency_to_others.p99_ms <= CHAT_P99_MS),
            )),
            None => rows.push(row("chat fan-out", "", "not run".into(), None)),
        }
        match &self.idle {
            Some(i) => {
                rows.push(row(
                    "memory per idle joined connection",
                    "≤ 8 KiB",
                    i.bytes_per_connection.map_or("no server pid".into(), kib),
                    i.bytes_per_connection.map(|b| b <= BYTES_PER_CONNECTION),
                ));
                rows.push(row(
                    "idle connections all held",
                    "10,000 for 30 s",
                    format!(
                        "{} of {} open after {} s (server: {} sessions); {} server pings and {} app pings answered",
                        i.open_at_end,
                        i.connections,
                        i.hold_s,
                        i.server_sessions_at_end,
                        i.server_pings,
                        i.app_pongs
                    ),
                    Some(
                        i.connections >= 10_000
                            && i.hold_s >= 30.0
                            && i.open_at_end == i.connections
                            && i.server_sessions_at_end == i.connections as i64,
                    ),
                ));
                rows.push(row(
                    "growth per connection per open/close cycle (cycles 2 to last)",
                    "≤ 1 KiB",
                    i.growth_bytes_per_connection_per_cycle
                        .map_or("not measured".into(), |g| {
                            format!(
                                "{g} B ({} B counting the first cycle after the big close)",
                                i.growth_including_first_cycle.unwrap_or(f64::NAN)
                            )
                        }),
                    i.growth_bytes_per_connection_per_cycle
                        .map(|g| g <= GROWTH_PER_CYCLE),
                ));
            }
            None => rows.push(row("idle", "", "not run".into(), None)),
        }
        if let Some(c) = &self.cluster {
            self.cluster_rows(c, &mut rows);
        }
        self.targets = rows;
    }

    fn cluster_rows(&self, c: &ClusterReport, rows: &mut Vec<TargetRow>) {
        let n = c.rounds.len();
        let compare = |rows: &mut Vec<TargetRow>, figure: &str, pick: Pick, failed: Pick| {
            let (single, across) = (over_rounds(c, 0, pick), over_rounds(c, 2, pick));
            let failed: f64 = over_rounds(c, 2, failed).iter().sum();
            match (median(single.clone()), median(across.clone())) {
                (Some(one), Some(x)) => rows.push(row(
                    figure,
                    &format!(
                        "≤ {ACROSS_NODES_FACTOR}× single node (median {one} ms over {n} rounds: {})",
                        list(&single)
                    ),
                    format!(
                        "median {x} ms, {}× single node (rounds: {}; {failed} failed or lost)",
                        ratio(x, one),
                        list(&across)
                    ),
                    Some(failed == 0.0 && x <= ACROSS_NODES_FACTOR * one),
                )),
                _ => rows.push(row(figure, "", "not run".into(), None)),
            }
        };
        compare(
            rows,
            "presence across nodes (first member on node A, second on B), p99",
            &|p, _| p.map(|p| p.peer_joined.p99_ms),
            &|p, _| p.map(|p| p.failed as f64),
        );
        let rate = self
            .relay
            .as_ref()
            .map_or(0.0, |r| r.steady.target_rt_per_s);
        compare(
            rows,
            &format!("relay across nodes: 1 KB round trip p99 at {rate} rt/s"),
            &|_, r| r.map(|r| r.steady.round_trip.p99_ms),
            &|_, r| r.map(|r| r.steady.lost as f64),
        );
        match &c.takeover {
            Some(t) => rows.push(row(
                "takeover: owner killed (SIGKILL), every member resumed on node B",
                &format!("all back with their peer ids within {} s", t.patience_s),
                format!(
                    "{}; {} of {} members back with their peer ids; {} failure(s)",
                    if t.resume.count == 0 {
                        "no member back".to_owned()
                    } else {
                        format!(
                            "last back {} s after the kill, median {} s",
                            secs(t.resume.max_ms),
                            secs(t.resume.p50_ms)
                        )
                    },
                    t.resumed,
                    t.members,
                    t.failures.len()
                ),
                Some(t.failures.is_empty() && t.resumed == t.members),
            )),
            None => rows.push(row("takeover", "", "not run".into(), None)),
        }
    }

    /// The report as Markdown tables.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let m = &self.machine;
        let _ = writeln!(md, "# treff signaling benchmark\n");
        let _ = writeln!(
            md,
            "{} × {}, {} MiB, Linux {}; server on CPU {}, generator on CPU {}; ephemeral ports {}.\n",
            m.nproc,
            m.cpu,
            m.mem_mib,
            m.kernel,
            self.server.cpus_allowed,
            self.generator_cpus_allowed,
            m.ephemeral_ports
        );
        let _ = writeln!(md, "Scheduling: {}.\n", self.server.scheduling);
        if self.server.flags_raised.is_empty() {
            let _ = writeln!(md, "Server flags: all defaults.\n");
        } else {
            let _ = writeln!(
                md,
                "Server flags raised from the defaults: {}.\n",
                self.server.flags_raised.join("; ")
            );
        }
        let _ = writeln!(
            md,
            "| figure | target | measured | met |\n|---|---|---|---|"
        );
        for r in &self.targets {
            let met = match r.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "–",
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} | {met} |",
                r.figure, r.target, r.measured
            );
        }

        let _ = writeln!(md, "\n## Server CPU per scenario\n");
        let _ = writeln!(
            md,
            "| scenario | wall s | server CPU s | server % of a core | generator % of a core | cores busy % (all processes) |\n|---|---|---|---|---|---|"
        );
        let mut cpu_row = |name: &str, c: &CpuUse| {
            let opt = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v}"));
            let cores: Vec<String> = c.cores_busy_pct.iter().map(|p| p.to_string()).collect();
            let _ = writeln!(
                md,
                "| {name} | {} | {} | {} | {} | {} |",
                c.wall_s,
                opt(c.server_cpu_s),
                opt(c.server_pct),
                opt(c.generator_pct),
                cores.join(" / ")
            );
        };
        if let Some(p) = &self.presence {
            cpu_row(&format!("presence ({} joins)", p.joins), &p.cpu);
        }
        if let Some(r) = &self.relay {
            cpu_row(
                &format!("relay at {} rt/s", r.steady.target_rt_per_s),
                &r.steady.cpu,
            );
            if let Some(b) = &r.best {
                cpu_row(
                    &format!("relay at {} rt/s (highest sustained)", b.target_rt_per_s),
                    &b.cpu,
                );
            }
        }
        if let Some(c) = &self.chat {
            cpu_row(
                &format!("chat ({} deliveries/s)", c.deliveries_total_per_s),
                &c.cpu,
            );
        }
        if let Some(i) = &self.idle {
            cpu_row(&format!("idle: opening {}", i.connections), &i.cpu_open);
            cpu_row(&format!("idle: holding {}", i.connections), &i.cpu_hold);
            cpu_row(&format!("idle: closing {}", i.connections), &i.cpu_close);
        }

        if let Some(r) = &self.relay {
            let _ = writeln!(
                md,
                "\n## Relay ramp\n\n{} pairs; {} B per offer to the server, {} B relayed.\n",
                r.pairs, r.frame_bytes_to_server, r.frame_bytes_from_server
            );
            let _ = writeln!(
                md,
                "| asked rt/s | achieved rt/s | p50 ms | p95 ms | p99 ms | max ms | lost | server % | generator % | cores busy % | sustained |\n|---|---|---|---|---|---|---|---|---|---|---|"
            );
            for run in std::iter::once(&r.steady).chain(&r.ramp) {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    run.target_rt_per_s,
                    run.achieved_rt_per_s,
                    run.round_trip.p50_ms,
                    run.round_trip.p95_ms,
                    run.round_trip.p99_ms,
                    run.round_trip.max_ms,
                    run.lost,
                    run.cpu.server_pct.unwrap_or(f64::NAN),
                    run.cpu.generator_pct.unwrap_or(f64::NAN),
                    run.cpu
                        .cores_busy_pct
                        .iter()
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>()
                        .join(" / "),
                    match run.passed {
                        Some(true) => "yes",
                        Some(false) => "no",
                        None => "(fixed rate)",
                    }
                );
            }
            let _ = writeln!(md, "\nRamp ended: {}.", r.limited_by);
        }

        if let Some(i) = &self.idle {
            let opt = |v: Option<u64>| v.map_or("–".into(), |v| format!("{v}"));
            let _ = writeln!(
                md,
                "\n## Idle connections and leak check\n\n{} connections in {} rooms of {}, opened in {} s, held {} s.\n",
                i.connections, i.rooms, i.room_size, i.open_s, i.hold_s
            );
            let _ = writeln!(md, "| moment | server RSS KiB |\n|---|---|");
            let _ = writeln!(md, "| before opening | {} |", opt(i.rss_before_kib));
            let _ = writeln!(md, "| all open | {} |", opt(i.rss_open_kib));
            let _ = writeln!(md, "| end of hold | {} |", opt(i.rss_end_of_hold_kib));
            let _ = writeln!(md, "| all closed | {} |", opt(i.rss_after_close_kib));
            for (n, c) in i.cycles.iter().enumerate() {
                let _ = writeln!(
                    md,
                    "| cycle {} of {}: open / closed | {} / {} |",
                    n + 1,
                    c.connections,
                    opt(c.rss_open_kib),
                    opt(c.rss_after_kib)
                );
            }
        }
        if let Some(c) = &self.cluster {
            self.cluster_markdown(c, &mut md);
        }
        if !self.errors.is_empty() {
            let _ = writeln!(md, "\n## Failed scenarios\n");
            for e in &self.errors {
                let _ = writeln!(md, "- {e}");
            }
        }
        md
    }

    fn cluster_markdown(&self, c: &ClusterReport, md: &mut String) {
        let _ = writeln!(md, "\n## Several nodes\n");
        let procs: Vec<String> = c
            .processes
            .iter()
            .map(|p| {
                format!(
                    "{} (pid {}, {}, CPU {})",
                    p.name, p.pid, p.addr, p.cpus_allowed
                )
            })
            .collect();
        let _ = writeln!(
            md,
            "Started by the benchmark: {}. Node flags: {}.\n",
            procs.join("; "),
            c.node_flags.join(" ")
        );
        let _ = writeln!(
            md,
            "Single node: {}. One cluster node: both members of each pair on node A, which owns the room. Across nodes: the first member on node A (the owner), the second on node B. Cluster CPU is nodes and Redis together.\n",
            if c.single_node_started {
                "a treff without Redis started by the benchmark"
            } else {
                "the server at --addr, without Redis"
            }
        );
        let n = c.rounds.len();
        let _ = writeln!(
            md,
            "Figures: the median over {n} rounds, with the smallest and largest in brackets; the relay ramp ran in the first round only.\n"
        );
        let _ = writeln!(
            md,
            "| figure | single node | one cluster node | across nodes | across ÷ single (medians) |\n|---|---|---|---|---|"
        );
        let mut line = |name: &str, get: Pick| {
            let v: Vec<Vec<f64>> = (0..3).map(|at| over_rounds(c, at, get)).collect();
            let r = match (median(v[2].clone()), median(v[0].clone())) {
                (Some(x), Some(one)) => ratio(x, one),
                _ => "–".into(),
            };
            let _ = writeln!(
                md,
                "| {name} | {} | {} | {} | {r} |",
                spread(&v[0]),
                spread(&v[1]),
                spread(&v[2])
            );
        };
        line("presence p50 ms", &|p, _| p.map(|p| p.peer_joined.p50_ms));
        line("presence p99 ms", &|p, _| p.map(|p| p.peer_joined.p99_ms));
        line("presence: all joins, ms", &|p, _| p.map(|p| p.total_ms));
        line("presence: pairs failed", &|p, _| p.map(|p| p.failed as f64));
        line("presence: server CPU ms", &|p, _| {
            p.and_then(|p| p.cpu.server_cpu_s).map(|s| s * 1e3)
        });
        line("relay at the fixed rate: p50 ms", &|_, r| {
            r.map(|r| r.steady.round_trip.p50_ms)
        });
        line("relay at the fixed rate: p99 ms", &|_, r| {
            r.map(|r| r.steady.round_trip.p99_ms)
        });
        line("relay at the fixed rate: lost", &|_, r| {
            r.map(|r| r.steady.lost as f64)
        });
        line("relay at the fixed rate: server % of a core", &|_, r| {
            r.and_then(|r| r.steady.cpu.server_pct)
        });
        line(
            "relay at the fixed rate: cores busy % (busier core)",
            &|_, r| {
                r.map(|r| {
                    r.steady
                        .cpu
                        .cores_busy_pct
                        .iter()
                        .copied()
                        .fold(0.0, f64::max)
                })
            },
        );
        line("relay: highest sustained rt/s (first round)", &|_, r| {
            r.filter(|r| !r.ramp.is_empty())
                .map(|r| r.best.as_ref().map_or(0.0, |b| b.achieved_rt_per_s))
        });

        let _ = writeln!(
            md,
            "\n| round | presence p99 ms: single / one node / across | relay p99 ms: single / one node / across |\n|---|---|---|"
        );
        for (k, r) in c.rounds.iter().enumerate() {
            let fig = |f: &dyn Fn(&Placed) -> Option<f64>| {
                let each: Vec<String> = placements(r)
                    .iter()
                    .map(|p| f(p).map_or("–".into(), |x| format!("{x}")))
                    .collect();
                each.join(" / ")
            };
            let _ = writeln!(
                md,
                "| {} | {} | {} |",
                k + 1,
                fig(&|p| p.presence.as_ref().map(|p| p.peer_joined.p99_ms)),
                fig(&|p| p.relay.as_ref().map(|r| r.steady.round_trip.p99_ms))
            );
        }

        let by_process = |cpu: &CpuUse| {
            let each: Vec<String> = cpu
                .per_process_pct
                .iter()
                .map(|&(pid, pct)| {
                    let name = c.processes.iter().find(|p| p.pid == pid);
                    format!("{} {pct} %", name.map_or("?", |p| p.name.as_str()))
                })
                .collect();
            each.join(", ")
        };
        let first = c.rounds.first().cloned().unwrap_or_default();
        for (name, p) in [
            ("one cluster node", &first.one_node),
            ("across nodes", &first.across),
        ] {
            if let Some(pr) = &p.presence {
                let _ = writeln!(
                    md,
                    "\nPresence, {name}, round 1, CPU by process (% of a core): {}.",
                    by_process(&pr.cpu)
                );
            }
            if let Some(r) = &p.relay {
                let _ = writeln!(
                    md,
                    "\nRelay at {} rt/s, {name}, round 1, CPU by process (% of a core): {}. The ramp ended at {}.",
                    r.steady.target_rt_per_s,
                    by_process(&r.steady.cpu),
                    r.limited_by
                );
            }
        }

        if let Some(t) = &c.takeover {
            let _ = writeln!(
                md,
                "\n### Takeover\n\n{} rooms, owned by node A ({} by its count before the kill, {} by node B's after), {} members, one of each pair on each node, {} rt/s of relay running; node A killed with SIGKILL; every member re-joins on node B with its resume token.\n",
                t.pairs,
                count(t.rooms_owned_by_a),
                count(t.rooms_owned_by_b_after),
                t.members,
                t.target_rt_per_s
            );
            let _ = writeln!(
                md,
                "| from the kill to | count | p50 / p99 / max ms |\n|---|---|---|"
            );
            let rows = [
                ("callers' connections to node A ended", &t.broken_at_a),
                (
                    "node B closed the callees' connections (1012)",
                    &t.closed_by_b,
                ),
                ("member resumed with its peer id (all)", &t.resume),
                ("caller resumed (was on node A)", &t.resume_callers),
                ("callee resumed (was on node B)", &t.resume_callees),
                ("first round trip in the room", &t.first_round_trip_after),
            ];
            for (what, l) in rows {
                let _ = writeln!(md, "| {what} | {} | {} |", l.count, lat(l));
            }
            let _ = writeln!(
                md,
                "\nJoins on the way back: {} ({} answered `unavailable`); members asked to resume again after they were back: {}. Round trips before the kill p50 / p99 / max {} ms ({} lost); once both members were back {} ms ({} of {} lost); offers lost while the room had no owner: {}.",
                t.join_attempts,
                t.unavailable,
                t.asked_again,
                lat(&t.round_trip_before),
                t.lost_before,
                lat(&t.round_trip_after),
                t.lost_after,
                t.sent_after,
                t.lost_during
            );
            if !t.failures.is_empty() {
                let _ = writeln!(md, "\n**Takeover failures:**\n");
                for f in &t.failures {
                    let _ = writeln!(md, "- {f}");
                }
            }
        }
    }
}
