//! What the benchmark reads about processes and the machine: RSS and CPU time from `/proc`,
//! and the server's own gauges from `/healthz`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Resident set size of `pid` in KiB (`VmRSS` of `/proc/<pid>/status`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    status_field(&format!("/proc/{pid}/status"), "VmRSS:")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The CPUs a process may run on (`Cpus_allowed_list`), to show the pinning took effect.
pub fn cpus_allowed(pid: Option<u32>) -> String {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".to_owned(),
    };
    status_field(&path, "Cpus_allowed_list:").unwrap_or_else(|| "?".into())
}

fn status_field(path: &str, key: &str) -> Option<String> {
    let status = std::fs::read_to_string(path).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(key))
        .map(|v| v.trim().to_owned())
}

/// CPU time of `pid` (or of this process) in seconds, all threads: the sum of the on-CPU
/// nanoseconds in `/proc/<pid>/task/*/schedstat`, which resolves the short presence scenario;
/// `/proc/<pid>/stat` (utime + stime, in 10 ms ticks) when schedstat is missing.
fn cpu_seconds(pid: Option<u32>, ticks_per_s: f64) -> Option<f64> {
    let proc_dir = match pid {
        Some(pid) => format!("/proc/{pid}"),
        None => "/proc/self".to_owned(),
    };
    let from_schedstat = std::fs::read_dir(format!("{proc_dir}/task"))
        .ok()
        .and_then(|tasks| {
            let mut nanos = 0u64;
            for task in tasks.flatten() {
                let stat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
                nanos += stat.split_whitespace().next()?.parse::<u64>().ok()?;
            }
            Some(nanos as f64 / 1e9)
        });
    from_schedstat.or_else(|| stat_cpu_seconds(&proc_dir, ticks_per_s))
}

/// utime + stime of `/proc/<pid>/stat`, in seconds.
fn stat_cpu_seconds(proc_dir: &str, ticks_per_s: f64) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("{proc_dir}/stat")).ok()?;
    // The command name may contain spaces; the fields after it are fixed. utime and stime are
    // fields 14 and 15 of stat(5), the 12th and 13th after the closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / ticks_per_s)
}

/// Clock ticks per second for `/proc/<pid>/stat` (`getconf CLK_TCK`, 100 on Linux).
pub fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// CPU use of the server and of the generator over one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct CpuUse {
    /// Wall time measured, seconds.
    pub wall_s: f64,
    /// Server CPU time, seconds (schedstat).
    pub server_cpu_s: Option<f64>,
    /// Server CPU time from utime + stime of `/proc/<pid>/stat` (10 ms resolution), seconds.
    pub server_cpu_s_stat: Option<f64>,
    /// Server CPU as a percentage of one core.
    pub server_pct: Option<f64>,
    /// Generator CPU as a percentage of one core.
    pub generator_pct: Option<f64>,
    /// How busy each core was, all processes together, in percent (from `/proc/stat`): the
    /// part not explained by server and generator is other load that disturbed the figures.
    pub cores_busy_pct: Vec<f64>,
    /// A server of several processes: each one's id and CPU as a percentage of one core.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub per_process_pct: Vec<(u32, f64)>,
}

/// Takes CPU readings at the start of a scenario.
pub struct CpuMeter {
    pids: Vec<u32>,
    ticks: f64,
    server0: Option<f64>,
    each0: Vec<Option<f64>>,
    server0_stat: Option<f64>,
    self0: Option<f64>,
    cores0: Vec<(u64, u64)>,
    t0: Instant,
}

/// Busy and total jiffies of every core, from `/proc/stat`.
fn core_times() -> Vec<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    stat.lines()
        .filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit))
        .map(|l| {
            let v: Vec<u64> = l
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            let total: u64 = v.iter().take(8).sum();
            // idle and iowait are the 4th and 5th columns.
            let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
            (total - idle, total)
        })
        .collect()
}

/// The sum of `read` over `pids`; `None` without pids or when one cannot be read.
fn sum_over(pids: &[u32], read: impl Fn(u32) -> Option<f64>) -> Option<f64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|&p| read(p)).sum()
}

impl CpuMeter {
    /// Starts measuring the server `pid` (if known) and this process.
    pub fn start(pid: Option<u32>, ticks: f64) -> CpuMeter {
        CpuMeter::start_all(pid.into_iter().collect(), ticks)
    }

    /// Starts measuring this process and a server made of several processes (the nodes of a
    /// cluster and its Redis), whose CPU times are added up.
    pub fn start_all(pids: Vec<u32>, ticks: f64) -> CpuMeter {
        CpuMeter {
            server0: sum_over(&pids, |p| cpu_seconds(Some(p), ticks)),
            each0: if pids.len() > 1 {
                pids.iter().map(|&p| cpu_seconds(Some(p), ticks)).collect()
            } else {
                Vec::new()
            },
            server0_stat: sum_over(&pids, |p| stat_cpu_seconds(&format!("/proc/{p}"), ticks)),
            pids,
            ticks,
            self0: cpu_seconds(None, ticks),
            cores0: core_times(),
            t0: Instant::now(),
        }
    }

    /// CPU use since [`CpuMeter::start`].
    pub fn read(&self) -> CpuUse {
        let wall_s = self.t0.elapsed().as_secs_f64();
        let server = sum_over(&self.pids, |p| cpu_seconds(Some(p), self.ticks))
            .zip(self.server0)
            .map(|(now, before)| now - before);
        let server_stat = sum_over(&self.pids, |p| {
            stat_cpu_seconds(&format!("/proc/{p}"), self.ticks)
        })
        .zip(self.server0_stat)
        .map(|(now, before)| now - before);
        let generator = cpu_seconds(None, self.ticks)
            .zip(self.self0)
            .map(|(now, before)| now - before);
        let pct = |cpu: f64| round(100.0 * cpu / wall_s.max(1e-9), 1);
        let cores_busy_pct = core_times()
            .iter()
            .zip(&self.cores0)
            .map(|(&(busy, total), &(busy0, total0))| {
                round(
                    100.0 * (busy - busy0) as f64 / (total - total0).max(1) as f64,
                    1,
                )
            })
            .collect();
        let per_process_pct = self
            .pids
            .iter()
            .zip(&self.each0)
            .filter_map(|(&p, &before)| {
                let now = cpu_seconds(Some(p), self.ticks)?;
                Some((p, pct(now - before?)))
            })
            .collect();
        CpuUse {
            wall_s: round(wall_s, 3),
            server_cpu_s: server.map(|s| round(s, 3)),
            server_cpu_s_stat: server_stat.map(|s| round(s, 2)),
            server_pct: server.map(pct),
            generator_pct: generator.map(pct),
            cores_busy_pct,
            per_process_pct,
        }
    }
}

/// Rounds to `digits` decimals, for readable JSON.
pub fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// The HTTP status and JSON body of the server's `/healthz`.
pub async fn healthz_json(addr: SocketAddr) -> anyhow::Result<(u16, serde_json::Value)> {
    let fetch = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.take(64 * 1024).read_to_end(&mut raw).await?;
        anyhow::Ok(raw)
    };
    let raw = tokio::time::timeout(Duration::from_secs(5), fetch)
        .await
        .context("/healthz timed out")??;
    let raw = String::from_utf8_lossy(&raw);
    let (head, body) = raw.split_once("\r\n\r\n").context("no HTTP body")?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no HTTP status")?;
    let value = serde_json::from_str(body.trim()).context("healthz body")?;
    Ok((status, value))
}

/// The server's open sessions and rooms, from `/healthz`.
pub async fn healthz(addr: SocketAddr) -> anyhow::Result<(i64, i64)> {
    let (_, value) = healthz_json(addr).await?;
    let get = |key: &str| value.get(key).and_then(serde_json::Value::as_i64);
    match (get("sessions"), get("rooms")) {
        (Some(sessions), Some(rooms)) => Ok((sessions, rooms)),
        _ => bail!("healthz without sessions and rooms: {value}"),
    }
}

/// Waits (at most `wait`) until the server reports this many sessions and rooms.
pub async fn wait_for_gauges(
    addr: SocketAddr,
    sessions: i64,
    rooms: i64,
    wait: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + wait;
    loop {
        let got = healthz(addr).await?;
        if got == (sessions, rooms) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("server reports {got:?} sessions/rooms, expected ({sessions}, {rooms})");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The machine the figures were taken on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Online CPUs.
    pub nproc: usize,
    /// `model name` of the first CPU in `/proc/cpuinfo`.
    pub cpu: String,
    /// Kernel release.
    pub kernel: String,
    /// Installed memory, MiB.
    pub mem_mib: u64,
    /// `net.ipv4.ip_local_port_range`: the client ports available.
    pub ephemeral_ports: String,
}

impl Machine {
    /// Reads the machine's description.
    pub fn read() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let nproc = cpuinfo
            .lines()
            .filter(|l| l.starts_with("processor"))
            .count();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
            .unwrap_or_else(|| "?".into());
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
                .unwrap_or_else(|_| "?".into())
        };
        let mem_mib = status_field("/proc/meminfo", "MemTotal:")
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .map(|kib| kib / 1024)
            .unwrap_or(0);
        Machine {
            nproc,
            cpu,
            kernel: read("/proc/sys/kernel/osrelease"),
            mem_mib,
            ephemeral_ports: read("/proc/sys/net/ipv4/ip_local_port_range"),
        }
    }
}
