//! The report: every figure in JSON, and the targets beside the measured figures in Markdown.

use std::fmt::Write as _;

use serde::Serialize;

use crate::procfs::{CpuUse, Machine};
use crate::scenarios::{chat::Chat, idle::Idle, presence::Presence, relay::Relay};

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
    /// Targets beside the figures.
    pub targets: Vec<TargetRow>,
    /// Scenarios that failed, with the reason.
    pub errors: Vec<String>,
}

fn row(figure: &str, target: &str, measured: String, met: Option<bool>) -> TargetRow {
    TargetRow {
        figure: figure.into(),
        target: target.into(),
        measured,
        met,
    }
}

fn kib(bytes: f64) -> String {
    format!("{:.2} KiB ({bytes:.0} B)", bytes / 1024.0)
}

impl Report {
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
        self.targets = rows;
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
        if !self.errors.is_empty() {
            let _ = writeln!(md, "\n## Failed scenarios\n");
            for e in &self.errors {
                let _ = writeln!(md, "- {e}");
            }
        }
        md
    }
}
